"""The texts of an Arrow string column as a sequence that forked scoring workers read themselves.

v2 scores about a million texts that arrive from DuckDB as Arrow. Turning them all into Python
strings in the parent (to hand the list to the workers) cost the parent ~1 s and ~400 MB, and each
worker then wrote to the pages of its half of those strings (reference counts), copying them. Here
the parent only takes numpy views of the column's offsets and bytes; a worker decodes the slice it
scores, batch by batch, with numpy and str alone (no Arrow call runs in a forked child: see
ltv.sentiment.workers).
"""

from __future__ import annotations

import numpy as np

_OFFSET_TYPES = {"string": np.int32, "large_string": np.int64}


def arrow_texts(column):
    """An ArrowTexts over `column` (a pyarrow string Array or ChunkedArray without nulls), or None
    if its type is not one this reads (the caller then converts it as before)."""
    chunks = column.chunks if hasattr(column, "chunks") else [column]
    if str(column.type) not in _OFFSET_TYPES or column.null_count:
        return None
    return ArrowTexts([_views(chunk) for chunk in chunks if len(chunk)])


def _views(chunk) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of one chunk, as numpy views of its buffers (a sliced chunk included)."""
    offset_type = _OFFSET_TYPES[str(chunk.type)]
    _, offsets, data = chunk.buffers()
    item = np.dtype(offset_type).itemsize
    offsets = np.frombuffer(offsets, dtype=offset_type, count=len(chunk) + 1, offset=chunk.offset * item)
    return offsets, np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, dtype=np.uint8)


class ArrowTexts:
    """len() and [start:stop] (a list of str) over the texts of Arrow chunks, in order."""

    def __init__(self, parts: list[tuple[np.ndarray, np.ndarray]]):
        self._parts = parts
        self._firsts = np.cumsum([0] + [len(offsets) - 1 for offsets, _ in parts])

    def __len__(self) -> int:
        return int(self._firsts[-1])

    def __getitem__(self, index: slice) -> list[str]:
        start, stop, step = index.indices(len(self))
        if step != 1:
            raise ValueError("ArrowTexts slices with step 1 only")
        texts: list[str] = []
        for first, (offsets, data) in zip(self._firsts[:-1].tolist(), self._parts, strict=True):
            low, high = max(start - first, 0), min(stop - first, len(offsets) - 1)
            if low < high:
                texts += _decoded(offsets[low : high + 1], data)
        return texts


def _decoded(offsets: np.ndarray, data: np.ndarray) -> list[str]:
    """The texts between consecutive offsets: one decode for the whole run when it is ASCII (byte
    and character positions then agree), else one per text."""
    base = int(offsets[0])
    raw = data[base : int(offsets[-1])].tobytes()
    bounds = (offsets - base).tolist()
    whole = raw.decode("utf-8")
    if len(whole) == len(raw):
        return [whole[left:right] for left, right in zip(bounds[:-1], bounds[1:], strict=True)]
    return [raw[left:right].decode("utf-8") for left, right in zip(bounds[:-1], bounds[1:], strict=True)]
