"""Run a command so that it, and every process it starts, dies with the process that ran it.

`run_guarded` does not start the command itself: it starts this module as a small guard process,
which leads a new session (so a new process group) and gets a parent-death signal, and the guard
starts the command in its group. How each way the caller can end is covered:

- the command finishes: the caller waits a moment for the rest of the group (multiprocessing's
  resource tracker leaves when dbt does) and then kills what is left;
- an exception in the caller (KeyboardInterrupt, or SIGTERM turned into one by `ltv.cli`): the
  caller kills the whole group before the exception goes on;
- SIGKILL of the caller, which no code of it sees: the kernel sends the guard SIGTERM (the
  parent-death signal) and the guard kills its whole group, itself included.

The parent-death signal alone would not do: the kernel sends it only to the direct child and clears
it in whatever that child forks, so dbt's own children (the resource tracker, forked scoring
workers) would outlive it. A process group holds all of them, unless one starts a session of its
own, which none of dbt's do.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# How long the rest of the group gets to leave by itself after the command finished normally.
STRAGGLER_GRACE_SECONDS = 3.0


def run_guarded(command: Sequence[str], cwd: Path, env: dict, keep_fds: Sequence[int] = (),
                grace_seconds: float = STRAGGLER_GRACE_SECONDS) -> int:
    """Run `command` under a guard; return its exit code. Nothing it started outlives this call.

    `keep_fds` stay open in the guard and the command (the publish lock, so that the lock is free
    only when no process of a publish is left to write its building file).
    """
    guard = subprocess.Popen([sys.executable, "-m", "ltv.process_guard", *command], cwd=cwd, env=env,
                             pass_fds=tuple(keep_fds), start_new_session=True,
                             preexec_fn=_parent_death_signal(signal.SIGTERM))
    group = guard.pid  # start_new_session: the guard leads a group whose id is its pid
    try:
        exit_code = guard.wait()
    except BaseException:
        # Kill before reaping the guard: while it is an unreaped zombie its pid, and so the group id,
        # cannot be given to another process.
        _kill_group(group)
        guard.wait()
        raise
    _wait_for_group_to_leave(group, grace_seconds)
    return exit_code


def _parent_death_signal(signum: int):
    """A preexec_fn that has the kernel send `signum` to the child when this process dies."""
    if not sys.platform.startswith("linux"):
        return None
    # Looked up before fork: the preexec_fn runs in the forked child and should only make the call.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent_pid = os.getpid()

    def set_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the signal was set up
            os._exit(1)

    return set_signal


def _kill_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group has already gone


def _wait_for_group_to_leave(group: int, grace_seconds: float) -> None:
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    _kill_group(group)


def _kill_own_group(signum, frame) -> None:
    os.killpg(0, signal.SIGKILL)


def main(command: list[str]) -> int:
    """The guard: run `command` in this process group; on SIGTERM/SIGINT/SIGHUP kill the group."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _kill_own_group)
    # close_fds=False: the command inherits exactly what the guard inherited (the standard streams
    # and `keep_fds`); the guard itself opens nothing inheritable.
    exit_code = subprocess.Popen(command, close_fds=False).wait()
    return exit_code if exit_code >= 0 else 128 - exit_code  # killed by signal N: 128 + N, as a shell says


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
