"""Item-to-item similarity lists for recommendations from behaviour (who bought what); content
similarity (content_similarity.py) shares the output format and the top-k machinery.

Every function here takes and returns plain pandas DataFrames so that the dbt Python models stay
one line long. The work is sparse and done in blocks of items, so the items x items similarity
matrix is never held in memory, dense or sparse: each block's rows are cut to their top_k
neighbours before the next block is computed.

Output of every public similarity function: DataFrame[item_id, similar_item_id, similarity, rank],
sorted by item_id, rank. For each item, rank 1..k goes to the most similar other items; ties are
broken by the smaller similar_item_id (ordinary sort order of the ids, which is string order for
text ids), so the lists are reproducible run to run. Self-pairs and zero similarities never appear,
and an item without any interactions (or attributes) has no rows.

Similarities are rounded to SIMILARITY_DECIMALS decimal places. The rounding is far below any
meaningful difference, but it makes two mathematically equal cosines that were summed in a
different floating-point order compare equal, so the id tie-break applies to them as intended.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sparse

SIMILARITY_COLUMNS = ["item_id", "similar_item_id", "similarity", "rank"]
SIMILARITY_DECIMALS = 12
METHODS = ("cosine", "bm25")

# Upper bound on the number of item pairs one block's sparse product may produce. A product entry
# costs about 12 bytes and the top-k selection a few times that again, so 8M keeps one block well
# under 0.5 GB however dense the co-occurrence of popular items is.
MAX_PAIRS_PER_BLOCK = 8_000_000
# Blocks computed at once (each holds up to MAX_PAIRS_PER_BLOCK pairs).
BLOCK_THREADS = 2


# ---------------------------------------------------------------------------------------------
# Encoding interactions as a sparse users x items matrix
# ---------------------------------------------------------------------------------------------


def _remap(codes: np.ndarray, new_codes_of_uniques: np.ndarray) -> np.ndarray:
    """Replace factorize codes (-1 = null) by the codes their unique values have elsewhere."""
    if new_codes_of_uniques.size == 0:
        return np.full(codes.size, -1, dtype=np.int64)
    return np.where(codes >= 0, new_codes_of_uniques[codes], -1).astype(np.int64, copy=False)


# The largest id factorized() numbers through an array indexed by the id (one byte and one code a
# slot) rather than by hashing: the codes the warehouse models pass are dense, 0..n-1.
_DIRECT_CODES_MIN_SLOTS = 1 << 22


def factorized(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray | pd.Index]:
    """pd.factorize(values) up to the order of the uniques: (codes, uniques), -1 for a null.

    Non-negative integer ids no larger than a few times their count are numbered through an array
    indexed by the id, in id order: hashing ten million integer codes took over a second, this a
    tenth of that. Anything else is hashed by pd.factorize."""
    array = values.to_numpy() if isinstance(values, pd.Series | pd.Index) else np.asarray(values)
    if array.dtype.kind in "iu" and array.size:
        low, high = int(array.min()), int(array.max())
        if low >= 0 and high < max(4 * array.size, _DIRECT_CODES_MIN_SLOTS):
            present = np.zeros(high + 1, dtype=bool)
            present[array] = True
            code_of_id = np.cumsum(present, dtype=np.int64) - 1
            return code_of_id[array], np.flatnonzero(present).astype(array.dtype, copy=False)
    return pd.factorize(pd.Series(values))


def positions_in(index: pd.Index, values: pd.Series | np.ndarray) -> np.ndarray:
    """Position of each value in a sorted index (-1 where absent or null), as int64.

    Every index here is sorted, so the smaller position is the smaller id and every id tie-break
    is a comparison of integers. Values are factorised first and only the distinct ones looked up:
    on ten million text ids that is about twice as fast as index.get_indexer on all of them.
    """
    codes, uniques = factorized(values)
    return _remap(codes, index.get_indexer(uniques))


def sorted_unique_index(*columns: Iterable | None) -> pd.Index:
    """The sorted distinct non-null values of several id columns, as one index."""
    parts = [pd.Series(pd.unique(pd.Series(column))) for column in columns if column is not None]
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.Index([])
    combined = pd.concat(parts, ignore_index=True).dropna()
    return pd.Index(pd.unique(combined)).sort_values()


def encode_ids(values: pd.Series, *other_columns: Iterable | None) -> tuple[np.ndarray, pd.Index]:
    """Codes of `values` in the sorted index of the distinct ids of `values` and `other_columns`.

    The big column is numbered once (factorized); only its distinct values meet the other columns.
    """
    codes, uniques = factorized(values)
    index = sorted_unique_index(uniques, *other_columns)
    return _remap(codes, index.get_indexer(uniques)), index


def user_item_matrix(
    interactions: pd.DataFrame,
    item_index: pd.Index | None = None,
    extra_item_ids: tuple = (),
    extra_user_ids: tuple = (),
) -> tuple[sparse.csr_matrix, pd.Index, pd.Index]:
    """Sum the weight of each (user, item) and return the users x items CSR matrix of the sums.

    item_index: a fixed sorted item universe (interactions on other items are dropped); otherwise
    the items of the interactions plus those in the extra_item_ids columns. Users: those of the
    interactions plus the extra_user_ids columns. Pairs whose summed weight is not positive are
    dropped (a missing weight counts as 0). Returns (matrix, user_index, item_index); rows and
    columns follow the sorted order of the indexes, and each row's columns are sorted.
    """
    weights = pd.to_numeric(interactions["weight"], errors="coerce").fillna(0.0).to_numpy(np.float64)
    if item_index is None:
        item_codes, item_index = encode_ids(interactions["item_id"], *extra_item_ids)
    else:
        item_codes = positions_in(item_index, interactions["item_id"])
    user_codes, user_index = encode_ids(interactions["user_id"], *extra_user_ids)
    known = (item_codes >= 0) & (user_codes >= 0)
    if not known.all():
        item_codes, user_codes, weights = item_codes[known], user_codes[known], weights[known]
    matrix = sparse.csr_matrix(
        (weights, (user_codes, item_codes)), shape=(len(user_index), len(item_index)), dtype=np.float64
    )
    matrix.sum_duplicates()  # repeated (user, item) rows are summed here
    matrix.data[matrix.data < 0] = 0.0
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix, user_index, item_index


def bm25_weight(matrix: sparse.spmatrix, k1: float = 1.2, b: float = 0.75) -> sparse.csr_matrix:
    """BM25-weight a sparse matrix whose rows are "documents" and columns are "terms".

    This is exactly `implicit.nearest_neighbours.bm25_weight` (benfred/implicit, file
    implicit/nearest_neighbours.py), re-implemented so the project does not depend on implicit:

        N           = number of rows
        idf[col]    = log(N) - log1p(number of stored entries in that column)
        row_sums    = sum of each row;  average_length = mean of row_sums over all N rows
        length_norm = (1 - b) + b * row_sums / average_length
        weighted    = x * (k1 + 1) / (k1 * length_norm[row] + x) * idf[col]

    Note that idf is negative for a column present in every row (log(N) < log(N + 1)); implicit
    keeps such weights and so do we. Entries that become exactly 0 are dropped.
    """
    matrix = sparse.coo_matrix(matrix, dtype=np.float64)
    if matrix.nnz == 0:  # nothing to weight (and log(0 rows) is undefined)
        return sparse.csr_matrix(matrix)
    n_rows = float(matrix.shape[0])
    idf = np.log(n_rows) - np.log1p(np.bincount(matrix.col, minlength=matrix.shape[1]))
    row_sums = np.bincount(matrix.row, weights=matrix.data, minlength=matrix.shape[0])
    average_length = row_sums.mean() if row_sums.size else 0.0
    length_norm = (1.0 - b) + b * row_sums / average_length if average_length > 0 else np.ones_like(row_sums)
    data = matrix.data * (k1 + 1.0) / (k1 * length_norm[matrix.row] + matrix.data) * idf[matrix.col]
    weighted = sparse.csr_matrix((data, (matrix.row, matrix.col)), shape=matrix.shape)
    weighted.eliminate_zeros()
    return weighted


def item_vectors(
    user_items: sparse.csr_matrix, method: str, bm25_k1: float, bm25_b: float
) -> sparse.csr_matrix:
    """The users x items matrix whose columns are compared by cosine for `method`.

    cosine: binary incidence (bought or not), so a heavy buyer of one item counts once.
    bm25:   log1p of the summed weight (so 20 repeat purchases count ~3x one, not 20x), then BM25
            weighted the way implicit's BM25Recommender.fit does it, `bm25_weight(user_items.T).T`:
            items are the documents and users the terms. idf therefore down-weights users who
            bought many items (inverse user frequency) and the length norm is per item.
    """
    if method == "cosine":
        vectors = user_items.copy()
        vectors.data = np.ones_like(vectors.data)
        return vectors
    if method == "bm25":
        damped = user_items.copy()
        damped.data = np.log1p(damped.data)
        return bm25_weight(damped.T, k1=bm25_k1, b=bm25_b).T.tocsr()
    raise ValueError(f"unknown similarity method {method!r}; expected one of {METHODS}")


# ---------------------------------------------------------------------------------------------
# Top-k selection per row of a sparse block, fully vectorised
# ---------------------------------------------------------------------------------------------


# Buckets per row in top_k_per_row's pre-selection, and the most counts (rows x buckets) one call
# may hold: 4M counts are 32 MB, and 256 buckets per row keep few ties with the k-th bucket.
_MAX_BUCKETS = 256
_MAX_BUCKET_COUNTS = 4_000_000


def top_k_per_row(
    row_starts: np.ndarray, column_codes: np.ndarray, values: np.ndarray, k: int | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k largest entries: (positions, rows), ordered by row, value descending, column ascending.

    The entries are given CSR-style: row r owns positions row_starts[r]:row_starts[r + 1]; k is one
    number or one per row. Ties on value go to the smaller column code, also at the k-th place.

    An exact three-key sort of every entry (np.lexsort) is slow on tens of millions of entries, and
    so was even one SIMD sort of them all (half the time of a recommendation chunk), so each row's
    cut-off is found without sorting: its values are cut into equal buckets between the row's least
    and largest value, one bincount counts the entries per (row, bucket), and the k-th largest entry
    lies in the highest bucket at or above which the row has k entries. Bucketing is monotone, so
    every entry reaching the row's exact k-th value is in or above that bucket; only those few
    candidates (k per row plus the rest of that bucket) go through the exact sort.
    """
    lengths = np.diff(row_starts).astype(np.int64)
    n_rows = lengths.size
    k_per_row = np.broadcast_to(np.asarray(k, dtype=np.int64), (n_rows,))
    if values.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    entry_row = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
    candidates = _candidates(row_starts, lengths, values, k_per_row, entry_row)
    candidate_rows = entry_row[candidates]
    del entry_row
    order = _exact_order(candidate_rows, values[candidates], column_codes[candidates].astype(np.int64), n_rows)
    positions, candidate_rows = candidates[order], candidate_rows[order]
    per_row = np.bincount(candidate_rows, minlength=n_rows)
    rank_in_row = np.arange(positions.size) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    keep = rank_in_row < k_per_row[candidate_rows]
    return positions[keep], candidate_rows[keep]


def _candidates(row_starts: np.ndarray, lengths: np.ndarray, values: np.ndarray, k_per_row: np.ndarray,
                entry_row: np.ndarray) -> np.ndarray:
    """Positions of every entry whose value reaches its row's k-th largest (and of a few more)."""
    n_rows = lengths.size
    buckets = int(min(_MAX_BUCKETS, max(2, _MAX_BUCKET_COUNTS // max(n_rows, 1))))
    # The lowest bucket a row keeps: 0 keeps it all (k >= its length), `buckets` keeps nothing (k <= 0).
    cut = np.where(k_per_row > 0, 0, buckets).astype(np.int64)
    long_rows = np.flatnonzero(lengths > np.maximum(k_per_row, 0))
    if long_rows.size == 0:
        return np.flatnonzero(cut[entry_row] == 0)
    filled = np.flatnonzero(lengths)
    lowest, spread = np.zeros(n_rows), np.zeros(n_rows)
    lowest[filled] = np.minimum.reduceat(values, row_starts[filled])
    spread[filled] = np.maximum.reduceat(values, row_starts[filled]) - lowest[filled]
    # bucket = floor((value - least) * scale + offset), scale = (buckets - 1) / spread: the row's
    # values fill [offset, offset + buckets - 1] with row r's offset r * buckets + 0.5, the half
    # bucket of margin keeping rounding from carrying a value into another row's buckets (values
    # less the row's least first, so no large terms cancel). A row of equal values has one bucket.
    # Built in place: these arrays have one number per entry.
    scale = np.divide(buckets - 1, spread, out=np.zeros(n_rows), where=spread > 0)
    scaled = values - lowest[entry_row]
    scaled *= scale[entry_row]
    scaled += (np.arange(n_rows) * float(buckets) + 0.5)[entry_row]
    bucket = scaled.astype(np.int64)
    del scaled
    counts = np.bincount(bucket, minlength=n_rows * buckets).reshape(n_rows, buckets)[long_rows]
    at_or_above = np.cumsum(counts[:, ::-1], axis=1) >= k_per_row[long_rows, None]
    cut[long_rows] = buckets - 1 - np.argmax(at_or_above, axis=1)
    cut += np.arange(n_rows, dtype=np.int64) * buckets
    return np.flatnonzero(bucket >= cut[entry_row])


def _exact_order(rows: np.ndarray, values: np.ndarray, columns: np.ndarray, n_rows: int) -> np.ndarray:
    """The permutation sorting entries by row, value descending, column ascending.

    Same result as np.lexsort((columns, -values, rows)), several times faster: values are replaced
    by their exact rank among the distinct values, and (row, inverted rank, column) packed into one
    int64 when the three fit in 63 bits. The packed keys are unique (a row has a column once), so
    an unstable sort is enough.
    """
    distinct_values, value_rank = np.unique(values, return_inverse=True)
    column_bits = max(int(columns.max(initial=0)).bit_length(), 1)
    rank_bits = max(int(distinct_values.size).bit_length(), 1)
    row_bits = max(int(n_rows).bit_length(), 1)
    if column_bits + rank_bits + row_bits > 63:
        return np.lexsort((columns, -values, rows))
    inverted_rank = distinct_values.size - 1 - value_rank.astype(np.int64)
    return np.argsort((rows << (rank_bits + column_bits)) | (inverted_rank << column_bits) | columns)


# ---------------------------------------------------------------------------------------------
# Blocked cosine top-k between the columns of a sparse matrix
# ---------------------------------------------------------------------------------------------


def _normalise_columns(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Scale every column to unit length (columns of zeros stay zero)."""
    squared_norms = np.bincount(matrix.indices, weights=matrix.data**2, minlength=matrix.shape[1])
    norms = np.sqrt(squared_norms)
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    normalised = matrix.copy()
    normalised.data = normalised.data * scale[normalised.indices]
    return normalised


def row_blocks(entry_bounds: np.ndarray, max_rows: int, max_entries: int) -> list[tuple[int, int]]:
    """Cut rows 0..n-1 into consecutive (start, end) blocks of at most max_rows rows whose summed
    `entry_bounds` (an upper bound on each row's entries in a sparse product) stays within
    max_entries. A single row over the budget still gets a block of its own."""
    n_rows = entry_bounds.size
    cumulative = np.cumsum(entry_bounds, dtype=np.float64)
    blocks = []
    start = 0
    while start < n_rows:
        already = cumulative[start - 1] if start else 0.0
        end = int(np.searchsorted(cumulative, already + max_entries, side="right"))
        end = min(max(end, start + 1), start + max(1, max_rows), n_rows)
        blocks.append((start, end))
        start = end
    return blocks


def product_row_bounds(left: sparse.csr_matrix, right: sparse.csr_matrix) -> np.ndarray:
    """Upper bound on the entries of each row of left @ right: one per multiply, at most one per column."""
    pattern = left.copy()
    pattern.data = np.ones_like(pattern.data)
    return np.minimum(pattern @ np.diff(right.indptr).astype(np.float64), right.shape[1])


def top_k_column_cosines(
    vectors: sparse.csr_matrix, top_k: int, chunk_items: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column's top_k most cosine-similar other columns of a sparse (rows x items) matrix.

    Returns (item_codes, similar_item_codes, similarities) ordered by item code then rank. Computed
    in float64 (the results match a dense brute force to ~1e-15): row i of vectors.T @ vectors, on
    unit columns, holds i's cosine with every item sharing at least one row with it; each row goes
    straight into its top_k list (product_top_k.py), chunk_items rows per block of work.
    """
    # Imported here: numba's import and the compiled functions are only needed when fitting.
    from ltv.product_top_k import product_top_k

    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))
    if top_k <= 0 or vectors.nnz == 0:
        return empty
    normalised = _normalise_columns(vectors.tocsr())
    return product_top_k(normalised.T.tocsr(), normalised, top_k, SIMILARITY_DECIMALS, BLOCK_THREADS,
                         clip_at_one=True, max_rows=chunk_items)


def _similarity_frame(
    item_index: pd.Index, item_codes: np.ndarray, similar_codes: np.ndarray, similarity: np.ndarray
) -> pd.DataFrame:
    """Assemble the output frame; codes arrive ordered by item then rank."""
    per_item = (
        np.bincount(item_codes, minlength=len(item_index))
        if item_codes.size
        else np.zeros(len(item_index), np.int64)
    )
    rank = np.arange(item_codes.size) - np.repeat(np.cumsum(per_item) - per_item, per_item) + 1
    return pd.DataFrame(
        {
            "item_id": item_index.take(item_codes),
            "similar_item_id": item_index.take(similar_codes),
            "similarity": similarity.astype(np.float64),
            "rank": rank.astype(np.int64),
        },
        # The arrays are fresh: without copy=False pandas copies them into one block per dtype,
        # which took 4 s for ten million rows.
        copy=False,
    )


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def item_similarities(
    interactions: pd.DataFrame,
    method: str = "cosine",
    top_k: int = 50,
    bm25_k1: float = 1.2,
    bm25_b: float = 0.75,
    item_ids: Iterable | None = None,
    chunk_items: int = 2048,
) -> pd.DataFrame:
    """Behaviour similarity: each item's top_k most similar items by the users who interacted with both.

    interactions: DataFrame[user_id, item_id, weight]; repeated (user, item) rows are summed and
        pairs with a non-positive total are ignored.
    method: "cosine" (v1) compares binary user-item incidence; "bm25" (v2) compares log1p-damped,
        BM25-weighted vectors (see item_vectors and bm25_weight, exactly implicit's definition).
        Both end with a cosine, so similarity is in [0, 1] (implicit's BM25Recommender itself
        ranks by the raw dot product; the cosine keeps the two methods on one scale).
    item_ids: the item universe (e.g. the catalogue). Interactions on other items are dropped, and
        the BM25 statistics (the row count N and the mean item length) are taken over this universe,
        as implicit does over the rows of a catalogue-shaped matrix. Default: the items with a positive
        summed weight for at least one user.
    chunk_items: the most items per block (blocks are also cut so one block's product stays under
        MAX_PAIRS_PER_BLOCK pairs); only memory and speed depend on it, never the result.

    Returns DataFrame[item_id, similar_item_id, similarity, rank] (see the module docstring).
    """
    if method not in METHODS:
        raise ValueError(f"unknown similarity method {method!r}; expected one of {METHODS}")
    item_index = sorted_unique_index(item_ids) if item_ids is not None else None
    user_items, _, item_index = user_item_matrix(interactions, item_index=item_index)
    if item_ids is None:
        # The default universe is the items with a positive total somewhere; an item seen only with
        # zero weights must not count as a BM25 document.
        interacted = np.flatnonzero(np.bincount(user_items.indices, minlength=user_items.shape[1]))
        user_items, item_index = user_items[:, interacted], item_index[interacted]
    vectors = item_vectors(user_items, method, bm25_k1, bm25_b)
    codes = top_k_column_cosines(vectors, top_k, chunk_items)
    return _similarity_frame(item_index, *codes)
