"""Scoring on all cores: forked worker processes, with a fallback to this process.

Shared by v1 (TextBlob) and v2 (the trained model). A task scores items[start:end] of something
the caller holds in memory; `run_sliced` runs it on contiguous slices in forked children, which
inherit that memory instead of receiving pickled copies, and returns each slice's bytes.

Forking a process that has other threads (dbt runs Python models as threads of one process, and
DuckDB has its own) is only safe for work that takes no lock another thread may hold at the fork:
so the tasks run numpy, scipy and pure Python only (no BLAS, no OpenMP, no DuckDB, no imports:
callers warm their code paths up in the parent first), and each child reports progress. A child
that dies, stalls or cannot be started makes the whole batch fall back to the parent, with a
warning in the log, so the result never depends on whether the fork worked. Children leave with
os._exit (multiprocessing's default for forked children), so no finalizer of the parent's objects
(a DuckDB connection) runs in them.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import multiprocessing.connection
from collections.abc import Callable
from typing import Any

import numpy as np

from ltv.cores import available_cores  # noqa: F401 - callers use workers.available_cores

logger = logging.getLogger(__name__)

# A worker that has not reported progress for this long is taken to be stuck (e.g. a lock held by
# another thread of the parent at fork time); the parent then kills it and scores in-process.
WORKER_STALL_SECONDS = 120.0

# task(start, end, heartbeat) -> bytes; heartbeat() is a no-op in the parent.
Task = Callable[[int, int, Callable[[], None]], bytes]


def _glibc_mallopt():
    """glibc's mallopt, looked up here in the parent (a child must not import or load anything),
    or None off glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


_MALLOPT = _glibc_mallopt()
_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
# Free memory a child keeps instead of handing back to the kernel: scoring allocates and frees
# arrays of tens of MB per batch, and glibc returned the top of the heap after each, so every batch
# faulted its pages in again (~1 page fault a text: 30% of a worker's CPU time was the kernel's).
_CHILD_TRIM_THRESHOLD = 1 << 30


def _settle_child() -> None:
    """Make a fresh child cheap to run: it keeps its freed memory (above), and its garbage collector
    leaves the objects inherited from the parent alone (a full collection would walk all of them and
    so copy every page they are on: the parent is dbt, with its whole manifest in memory)."""
    gc.freeze()
    if _MALLOPT is not None:
        _MALLOPT(_M_TRIM_THRESHOLD, _CHILD_TRIM_THRESHOLD)


def _child(task: Task, start: int, end: int, connection: multiprocessing.connection.Connection) -> None:
    """Run the task in a forked child; send b"P" heartbeats, then b"R" + its bytes."""
    try:
        _settle_child()
        connection.send_bytes(b"R" + task(start, end, lambda: connection.send_bytes(b"P")))
    finally:
        connection.close()


def _run_in_children(task: Task, count: int, workers: int) -> list[bytes]:
    """task on `workers` contiguous slices of range(count), one forked child each; raises on any
    failure (a child that dies, stalls or cannot be started)."""
    context = multiprocessing.get_context("fork")
    bounds = np.linspace(0, count, workers + 1).astype(int)
    processes: list[tuple[Any, multiprocessing.connection.Connection]] = []
    try:
        for start, end in zip(bounds[:-1], bounds[1:], strict=True):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(task, int(start), int(end), sender), daemon=True)
            process.start()
            # Close our copy of the sending end: a child that dies then shows up as EOF on `receiver`,
            # and the next child does not inherit this pipe's sending end.
            sender.close()
            processes.append((process, receiver))
        results: dict[int, bytes] = {}
        pending = {receiver: slot for slot, (_, receiver) in enumerate(processes)}
        while pending:
            ready = multiprocessing.connection.wait(list(pending), timeout=WORKER_STALL_SECONDS)
            if not ready:
                raise TimeoutError(f"a scoring worker sent nothing for {WORKER_STALL_SECONDS:.0f} s")
            for receiver in ready:
                message = receiver.recv_bytes()  # EOFError if the child died
                if message[:1] == b"R":
                    results[pending.pop(receiver)] = message[1:]
        return [results[slot] for slot in range(len(processes))]
    finally:
        for process, receiver in processes:
            receiver.close()
            if process.is_alive():
                process.kill()
            process.join()


def run_sliced(task: Task, count: int, workers: int, parallel_threshold: int, what: str) -> list[bytes]:
    """The bytes of task over range(count), one part per slice, in order: in `workers` forked
    children when there are at least `parallel_threshold` items and more than one worker, else
    (or if that fails for any reason, logged as a warning) in this process as one slice."""
    if workers > 1 and count >= parallel_threshold:
        try:
            return _run_in_children(task, count, workers)
        except Exception as error:  # noqa: BLE001 - any failure means: do it here instead
            logger.warning("parallel %s failed (%r); scoring in one process", what, error)
    return [task(0, count, lambda: None)]
