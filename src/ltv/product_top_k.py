"""Each row's top-k of a sparse product left @ right, reweighted, in one compiled pass.

similarity.top_k_column_cosines and item_weights.blocked_top_k_products used to compute blocks of
the items x items product with scipy, write every entry out (77M at 1M users, 50k items), round,
mask and bucket them, and sort the candidates. Here each row of the product lives only in a dense
per-thread accumulator over the columns and goes straight into a top-k list, as recommend_scoring
does for users (the offline evaluation's three fits at 1M users, each with its user-item matrix
and weighting: 29 -> 17 CPU-s on the loaded 2-core machine). What is left waits on memory: each
of the 5.2M (item, user) entries fetches that user's row from a random place (a packed row layout
and a heap for the top-k lists measured no faster).

The result is the one the blocked scipy product gave, to the bit: each entry sums
left[i, u] * right[u, j] in scipy's order (row i's entries in stored order, each right row in
stored order, starting from 0); the reweighting is the same IEEE operations on the same values;
rounding is numpy's (multiply by 10**decimals, rint, divide); ties go to the smaller column.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ltv.compiled import compiled
from ltv.recommend_scoring import _accumulate, _csr_parts, _insert

# How the product's entry v = (left @ right)[i, j] becomes the value ranked (before rounding).
RAW, SHRUNK_COSINE, COLUMN_SCALED = 0, 1, 2
MODES = {
    "raw": RAW,  # v
    "shrunk_cosine": SHRUNK_COSINE,  # v / (row_factors[i] * column_factors[j] + shrink), 0 where that is not > 0
    "column_scaled": COLUMN_SCALED,  # v * column_factors[j]
}
# Output slots (rows x top_k) per block: about 16 bytes a slot.
MAX_SLOTS_PER_BLOCK = 1_000_000
MAX_ROWS_PER_BLOCK = 2048


@compiled
def _reweighted(mode, value, row_factor, column_factor, shrink):
    if mode == SHRUNK_COSINE:
        denominator = row_factor * column_factor + shrink
        return value / denominator if denominator > 0 else 0.0
    if mode == COLUMN_SCALED:
        return value * column_factor
    return value


@compiled
def _top_k_block(start, end, l_indptr, l_indices, l_data, r_indptr, r_indices, r_data, n_columns, mode,
                 row_factors, column_factors, shrink, clip_at_one, top_k, scale, out_columns, out_values, out_counts):
    """Rows start..end-1: their top_k columns j != i with a rounded value > 0 into the out arrays
    at top_k slots per row, how many each got into out_counts."""
    sums = np.zeros(n_columns)
    seen = np.zeros(n_columns, np.bool_)
    touched = np.empty(n_columns, np.int64)
    for row in range(start, end):
        # The row of the product, accumulated as the recommendations' scores are (scipy's order).
        count = _accumulate(row, l_indptr, l_indices, l_data, r_indptr, r_indices, r_data, sums, seen, touched)
        base = (row - start) * top_k
        columns, values = out_columns[base:base + top_k], out_values[base:base + top_k]
        kept = 0
        for t in range(count):
            j = touched[t]
            seen[j] = False
            if j == row:
                continue
            value = np.rint(_reweighted(mode, sums[j], row_factors[row], column_factors[j], shrink) * scale) / scale
            if not value > 0:
                continue
            if clip_at_one and value > 1.0:
                value = 1.0
            if kept == top_k and (value < values[kept - 1] or (value == values[kept - 1] and j > columns[kept - 1])):
                continue
            kept = _insert(columns, values, kept, top_k, j, value)
        out_counts[row - start] = kept


def product_top_k(left, right, top_k: int, decimals: int, threads: int, mode: str = "raw",
                  row_factors: np.ndarray | None = None, column_factors: np.ndarray | None = None,
                  shrink: float = 0.0, clip_at_one: bool = False, max_rows: int = MAX_ROWS_PER_BLOCK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns, values): for every row i of left @ right (square: row i is column i), its
    top_k columns j != i by value descending, column ascending, where value = round(the mode's
    reweighting (MODES) of the product's entry, decimals), capped at 1.0 when clip_at_one (after rounding),
    and only values > 0. Ordered by row, then rank. Blocks of at most max_rows rows run on
    `threads` threads; neither changes the result."""
    n_rows = left.shape[0]
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))
    if top_k <= 0 or n_rows == 0:
        return empty
    l_parts = _csr_parts(left, sorted_rows=False)
    r_parts = _csr_parts(right, sorted_rows=False)
    if l_parts[1].size == 0 or r_parts[1].size == 0:
        return empty
    n_columns = right.shape[1]
    row_factors = np.zeros(n_rows) if row_factors is None else np.asarray(row_factors, np.float64)
    column_factors = np.zeros(n_columns) if column_factors is None else np.asarray(column_factors, np.float64)
    scale = 10.0 ** decimals
    rows_per_block = max(1, min(max_rows, MAX_SLOTS_PER_BLOCK // top_k))

    def block(start: int):
        end = min(start + rows_per_block, n_rows)
        columns, values = np.empty((end - start) * top_k, np.int64), np.empty((end - start) * top_k)
        counts = np.empty(end - start, np.int64)
        _top_k_block(start, end, *l_parts, *r_parts, n_columns, MODES[mode], row_factors, column_factors, float(shrink),
                     bool(clip_at_one), top_k, scale, columns, values, counts)
        filled = (np.arange(top_k) < counts[:, None]).reshape(-1)
        return np.repeat(np.arange(start, end, dtype=np.int64), counts), columns[filled], values[filled]

    # The compiled pass releases the GIL, so threads use the cores; map keeps block order.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(pool.map(block, range(0, n_rows, rows_per_block)))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))
