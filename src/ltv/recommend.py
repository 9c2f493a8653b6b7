"""Item-based recommendations from top-K similarity lists, with a popularity fallback.

For a user u with interaction strengths r(u, i) and the similarity lists as a sparse items x items
matrix S (row i holds i's top-K neighbours j with sim(i, j)):

    score(u, j) = sum over i of r(u, i) * sim(i, j)        (the sparse product R @ S)

computed for chunks of users at a time, so memory depends on the chunk, not on the user count.
Scores are rounded to SCORE_DECIMALS decimals for the same reason similarities are: equal scores
summed in a different order must compare equal so the item-id tie-break decides between them.

Output: DataFrame[user_id, rank, item_id, score, because_item_id, is_fallback], sorted by
user_id, rank.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import scipy.sparse as sparse

from ltv.similarity import (
    BLOCK_THREADS,
    item_similarities,
    positions_in,
    product_row_bounds,
    row_blocks,
    top_k_per_row,
    user_item_matrix,
)

RECOMMENDATION_COLUMNS = ["user_id", "rank", "item_id", "score", "because_item_id", "is_fallback"]
SCORE_DECIMALS = 12
INTERACTION_TRANSFORMS = ("binary", "log1p")

# Upper bound on the candidate (user, item) scores one chunk of users may produce. Each costs
# ~12 bytes in the product and ~30 more during the top-n selection, so 12M keeps a chunk near
# 0.5 GB even when it holds the heaviest users (measured peak at 1M users: ~2.1 GB in all).
MAX_CANDIDATES_PER_CHUNK = 12_000_000
# Similarity look-ups per batch of because items (see _because_batches).
BECAUSE_LOOKUPS_PER_BATCH = 4_000_000


def interaction_strengths(user_items: sparse.csr_matrix, interaction_transform: str) -> sparse.csr_matrix:
    """r(u, i) from summed interaction weights: 1 ("binary", pairs with cosine similarities) or
    log1p(weight) ("log1p", pairs with bm25 similarities, which were built from log1p weights)."""
    if interaction_transform not in INTERACTION_TRANSFORMS:
        raise ValueError(
            f"unknown interaction_transform {interaction_transform!r}; expected one of {INTERACTION_TRANSFORMS}"
        )
    strengths = user_items.copy()
    strengths.data = (
        np.ones_like(strengths.data) if interaction_transform == "binary" else np.log1p(strengths.data)
    )
    return strengths


def similarity_matrix(similarities: pd.DataFrame, item_index: pd.Index) -> sparse.csr_array:
    """The similarity lists as a sparse items x items matrix (row = item, column = similar item).

    Self-pairs, non-positive similarities and items outside item_index are dropped; a repeated
    (item, similar item) pair keeps its first row.
    """
    rows = positions_in(item_index, similarities["item_id"])
    columns = positions_in(item_index, similarities["similar_item_id"])
    values = pd.to_numeric(similarities["similarity"], errors="coerce").fillna(0.0).to_numpy(np.float64)
    known = (rows >= 0) & (columns >= 0)
    shape = (len(item_index), len(item_index))
    # Building the matrix sums repeated pairs: when none was summed (similarity lists never repeat
    # one) the dropped entries are zeroed in place, with no search for repeats (hashing ten million
    # pairs took seconds). Otherwise each pair keeps its first row, found on one integer per pair.
    matrix = sparse.csr_array((values[known], (rows[known], columns[known])), shape=shape)
    if matrix.nnz == int(known.sum()):
        entry_rows = np.repeat(np.arange(shape[0]), np.diff(matrix.indptr))
        matrix.data[(matrix.indices == entry_rows) | ~(matrix.data > 0)] = 0.0
        matrix.eliminate_zeros()
    else:
        first = ~pd.Series(rows * (len(item_index) + 1) + columns).duplicated().to_numpy()
        keep = first & known & (rows != columns) & (values > 0)
        matrix = sparse.csr_array((values[keep], (rows[keep], columns[keep])), shape=shape)
    matrix.sort_indices()
    return matrix


def _lookup(matrix: sparse.csr_array, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """matrix[rows[n], columns[n]] for every n (0 where absent): a binary search in each sorted row."""
    if rows.size == 0:  # scipy answers an empty lookup with a sparse array, not an empty one
        return np.zeros(0)
    return np.asarray(matrix[rows, columns], dtype=np.float64).reshape(-1)


def _owned_matrix(
    owned: pd.DataFrame | None, user_items: sparse.csr_matrix, user_index: pd.Index, item_index: pd.Index
) -> sparse.csr_array:
    """users x items indicator of owned items; defaults to the interacted items."""
    if owned is None:
        pattern = sparse.csr_array(user_items, copy=True)
        pattern.data = np.ones_like(pattern.data)
        return pattern
    users = positions_in(user_index, owned["user_id"])
    items = positions_in(item_index, owned["item_id"])
    # Owned rows for unknown users (not ours to recommend for) or unknown items (never recommended
    # anyway) do not matter.
    known = (users >= 0) & (items >= 0)
    matrix = sparse.csr_array(
        (np.ones(int(known.sum())), (users[known], items[known])), shape=(len(user_index), len(item_index))
    )
    matrix.sum_duplicates()
    matrix.data = np.ones_like(matrix.data)
    matrix.sort_indices()
    return matrix


def _because_items(
    strengths_chunk: sparse.csr_matrix,
    similarity: sparse.csr_array,
    pair_users: np.ndarray,
    pair_items: np.ndarray,
) -> np.ndarray:
    """For each recommended (user, item j): the user's item i with the largest r(u, i) * sim(i, j).

    Each pair is expanded to one row per item of its user (users have few items and pairs are only
    the final top-n, so this stays small), sim(i, j) is looked up by binary search in the sorted
    similarity rows, and the first maximum per pair wins: users' items are in ascending code order,
    so ties go to the smaller item id.
    """
    items_per_pair = np.diff(strengths_chunk.indptr)[pair_users]
    pair_of_entry = np.repeat(np.arange(pair_users.size), items_per_pair)
    offset_in_pair = np.arange(pair_of_entry.size) - np.repeat(
        np.cumsum(items_per_pair) - items_per_pair, items_per_pair
    )
    entry_positions = np.repeat(strengths_chunk.indptr[pair_users], items_per_pair) + offset_in_pair
    source_items = strengths_chunk.indices[entry_positions].astype(np.int64)
    if pair_users.size == 0:
        return np.zeros(0, np.int64)
    contribution = strengths_chunk.data[entry_positions] * _lookup(
        similarity, source_items, np.repeat(pair_items, items_per_pair)
    )
    pair_starts = np.cumsum(items_per_pair) - items_per_pair
    best = np.maximum.reduceat(contribution, pair_starts)
    at_best = np.flatnonzero(contribution == np.repeat(best, items_per_pair))
    first_at_best = at_best[np.concatenate(([True], np.diff(pair_of_entry[at_best]) != 0))]
    return source_items[first_at_best]


def _similarity_recommendations(
    strengths: sparse.csr_matrix,
    similarity: sparse.csr_array,
    owned: sparse.csr_array,
    top_n: int,
    chunk_users: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user codes, item codes, scores, because codes) of the top_n by score, per user in code order."""
    similarity_csr = sparse.csr_matrix(similarity)
    owned_counts = np.diff(owned.indptr).astype(np.int64)
    bounds = product_row_bounds(strengths, similarity_csr)

    def recommend_block(block: tuple[int, int]):
        start, end = block
        scores = strengths[start:end] @ similarity_csr
        score = np.round(scores.data, SCORE_DECIMALS)
        # Owned items are removed after selection rather than masked out of the whole product:
        # a user owning o items has the top_n non-owned items within the top top_n + o of all.
        chosen, users = top_k_per_row(scores.indptr, scores.indices, score, top_n + owned_counts[start:end])
        items = scores.indices[chosen].astype(np.int64)
        score = score[chosen]
        owned_flag = _lookup(owned, users + start, items)
        keep = (score > 0) & (owned_flag == 0)
        users, items, score = users[keep], items[keep], score[keep]
        per_user = np.bincount(users, minlength=end - start)
        rank_in_user = np.arange(users.size) - np.repeat(np.cumsum(per_user) - per_user, per_user)
        keep = rank_in_user < top_n
        return users[keep] + start, items[keep], score[keep]

    blocks = list(row_blocks(bounds, chunk_users, MAX_CANDIDATES_PER_CHUNK))
    # Blocks are independent and scipy's sparse products and numpy's sorts release the GIL, so two
    # threads use both cores; map keeps block order, so the result does not depend on timing.
    with ThreadPoolExecutor(max_workers=BLOCK_THREADS) as pool:
        parts = list(pool.map(recommend_block, blocks))
        if not parts:
            empty_int = np.zeros(0, np.int64)
            return empty_int, empty_int, np.zeros(0), empty_int
        users, items, scores = (np.concatenate(column) for column in zip(*parts, strict=True))
        batches = _because_batches(np.diff(strengths.indptr)[users], similarity.nnz)
        because = list(pool.map(lambda batch: _because_items(strengths, similarity, users[batch[0]:batch[1]],
                                                             items[batch[0]:batch[1]]), batches))
    return users, items, scores, np.concatenate(because) if because else np.zeros(0, np.int64)


def _because_batches(lookups_per_pair: np.ndarray, similarity_entries: int) -> list[tuple[int, int]]:
    """Consecutive (start, end) ranges of the recommended pairs, each needing about
    BECAUSE_LOOKUPS_PER_BATCH similarity look-ups (at least one pair per range).

    Not one range per scoring block: scipy looks a batch of n entries up by binary search only when
    n exceeds a tenth of the matrix's entries, and scans each row from its start otherwise; v3's
    blocks (200 neighbours per item) asked for fewer, which made the because items cost 2.7 times
    as much. A batch also stays far below the memory of a scoring block (~50 bytes a look-up).
    """
    per_batch = max(BECAUSE_LOOKUPS_PER_BATCH, similarity_entries // 8)
    cumulative = np.cumsum(lookups_per_pair, dtype=np.int64)
    total = int(cumulative[-1]) if cumulative.size else 0
    batches, start, done = [], 0, 0
    while start < lookups_per_pair.size:
        # The range ends at the pair that reaches per_batch look-ups; the rest joins it when that
        # is under half a batch.
        end = int(np.searchsorted(cumulative, done + per_batch)) + 1
        if end >= lookups_per_pair.size or total - int(cumulative[end - 1]) < per_batch // 2:
            end = lookups_per_pair.size
        batches.append((start, end))
        start, done = end, int(cumulative[end - 1])
    return batches


def _popularity_scores(
    popularity: pd.DataFrame | None, user_items: sparse.csr_matrix, item_index: pd.Index
) -> np.ndarray:
    """popularity_score per item code (0 = not popular at all). Default: distinct interacting users."""
    if popularity is None:
        return np.bincount(user_items.indices, minlength=len(item_index)).astype(np.float64)
    frame = popularity.drop_duplicates("item_id")
    codes = positions_in(item_index, frame["item_id"])
    values = pd.to_numeric(frame["popularity_score"], errors="coerce").fillna(0.0).to_numpy(np.float64)
    scores = np.zeros(len(item_index))
    scores[codes[codes >= 0]] = values[codes >= 0]
    return scores


def _popularity_recommendations(
    users: np.ndarray, popularity_scores: np.ndarray, owned: sparse.csr_array, top_n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user codes, item codes, scores): each user's top_n most popular items that they do not own.

    Only items with a positive popularity_score are candidates. A user owning o items needs at most
    the first top_n + o of the popularity order, so those are expanded for all users at once and the
    owned ones looked up and removed.
    """
    candidates = np.flatnonzero(popularity_scores > 0)
    popular_order = candidates[np.lexsort((candidates, -popularity_scores[candidates]))]
    if users.size == 0 or popular_order.size == 0 or top_n <= 0:
        empty_int = np.zeros(0, np.int64)
        return empty_int, empty_int, np.zeros(0)
    owned_counts = np.diff(owned.indptr)[users]
    needed = np.minimum(top_n + owned_counts, popular_order.size)
    user_of_entry = np.repeat(users, needed)
    position = np.arange(user_of_entry.size) - np.repeat(np.cumsum(needed) - needed, needed)
    items = popular_order[position]
    not_owned = _lookup(owned, user_of_entry, items) == 0
    user_of_entry, items = user_of_entry[not_owned], items[not_owned]
    per_user = np.bincount(np.searchsorted(users, user_of_entry), minlength=users.size)
    rank_in_user = np.arange(items.size) - np.repeat(np.cumsum(per_user) - per_user, per_user)
    keep = rank_in_user < top_n
    return user_of_entry[keep], items[keep], popularity_scores[items[keep]]


def _take_ids(index: pd.Index, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """index values at codes, -1 giving a null; integer ids become nullable Int64 (whether or not
    there is a null, so the column type does not depend on the data)."""
    missing = codes < 0
    values = index.take(np.where(missing, 0, codes)) if len(index) else index[:0]
    if pd.api.types.is_integer_dtype(index.dtype):
        return pd.arrays.IntegerArray(values.to_numpy(np.int64), missing)
    return pd.Series(values).mask(missing).array


def recommend_items(
    interactions: pd.DataFrame,
    similarities: pd.DataFrame,
    top_n: int = 10,
    owned: pd.DataFrame | None = None,
    popularity: pd.DataFrame | None = None,
    all_user_ids: Iterable | None = None,
    chunk_users: int = 50_000,
    interaction_transform: str = "binary",
) -> pd.DataFrame:
    """Top-n item recommendations per user from similarity lists, with a popularity fallback.

    interactions: DataFrame[user_id, item_id, weight], summed per (user, item); r(u, i) is 1
        ("binary") or log1p(summed weight) ("log1p") — use the transform that matches how the
        similarities were built (cosine -> binary, bm25 -> log1p).
    similarities: DataFrame[item_id, similar_item_id, similarity] (e.g. item_similarities output).
    owned: DataFrame[user_id, item_id] never recommended to that user; default: the interacted items.
    popularity: DataFrame[item_id, popularity_score]; default: number of distinct interacting users.
        Only items with a positive score are ever used as fallback.
    all_user_ids: further users to recommend for (e.g. every customer); users are the union of these
        and the interacting users.
    chunk_users: the most users per chunk (chunks are also cut to stay under
        MAX_CANDIDATES_PER_CHUNK candidate scores); changes memory and speed, never the result.

    Per user, rows ranked 1..N with score non-increasing, ties by smaller item_id:
      * similarity rows (is_fallback False) for every item j with score(u, j) > 0 that u does not
        own, because_item_id = u's interacted item with the largest r(u, i) * sim(i, j) (ties:
        smaller item_id). A user with fewer than top_n positive scores keeps the fewer: padding
        with popular items would mix two scales of score in one ranked list.
      * a user with no positive score at all (no interactions, or only items without neighbours)
        gets the top_n most popular items they do not own instead: is_fallback True, score =
        popularity_score, because_item_id null.
    A user who owns every candidate item gets no rows.
    """
    if all_user_ids is not None and not isinstance(
        all_user_ids, pd.Series | pd.Index | np.ndarray | list | tuple
    ):
        all_user_ids = list(all_user_ids)  # sets, generators, dict keys
    extra_users = None if all_user_ids is None else pd.Series(all_user_ids)
    popularity_items = None if popularity is None else popularity["item_id"]
    user_items, user_index, item_index = user_item_matrix(
        interactions,
        extra_item_ids=(similarities["item_id"], similarities["similar_item_id"], popularity_items),
        extra_user_ids=(extra_users,),
    )
    strengths = interaction_strengths(user_items, interaction_transform)
    similarity = similarity_matrix(similarities, item_index)
    owned_matrix = _owned_matrix(owned, user_items, user_index, item_index)

    users, items, scores, because = _similarity_recommendations(
        strengths, similarity, owned_matrix, top_n, chunk_users
    )
    served = np.zeros(len(user_index), dtype=bool)
    served[users] = True
    fallback_users = np.flatnonzero(~served)
    popularity_scores = _popularity_scores(popularity, user_items, item_index)
    fallback_user_codes, fallback_items, fallback_scores = _popularity_recommendations(
        fallback_users, popularity_scores, owned_matrix, top_n
    )

    user_codes = np.concatenate((users, fallback_user_codes))
    # Both parts are already in user order, each user in only one: a stable sort is one merge.
    order = np.argsort(user_codes, kind="stable")
    user_codes = user_codes[order]
    item_codes = np.concatenate((items, fallback_items))[order]
    because_codes = np.concatenate((because, np.full(fallback_items.size, -1, np.int64)))[order]
    is_fallback = np.concatenate((np.zeros(items.size, bool), np.ones(fallback_items.size, bool)))[order]
    per_user = (
        np.bincount(user_codes, minlength=len(user_index)) if user_codes.size else np.zeros(0, np.int64)
    )
    rank = np.arange(user_codes.size) - np.repeat(np.cumsum(per_user) - per_user, per_user) + 1
    return pd.DataFrame(
        {
            "user_id": user_index.take(user_codes),
            "rank": rank.astype(np.int64),
            "item_id": item_index.take(item_codes),
            "score": np.concatenate((scores, fallback_scores))[order].astype(np.float64),
            "because_item_id": _take_ids(item_index, because_codes),
            "is_fallback": is_fallback,
        },
        copy=False,  # the arrays are ours: no second copy of ten million rows
    )


# ---------------------------------------------------------------------------------------------
# Benchmark on synthetic power-law data
# ---------------------------------------------------------------------------------------------


def synthetic_interactions(
    n_users: int,
    n_items: int,
    n_interactions: int,
    seed: int = 0,
    n_themes: int | None = None,
    theme_share: float = 0.7,
) -> pd.DataFrame:
    """Synthetic shop behaviour with power-law activity and co-purchase structure.

    User activity is log-normal (a few heavy buyers); each user has a theme (a block of items) and
    a theme_share of their interactions fall in it, Zipf-like within the theme; the rest follow a
    global Zipf-like popularity. Rows may repeat a (user, item); weight is a purchase count >= 1.
    Item ids are 0..n_items-1 and theme t holds items t*per_theme .. (t+1)*per_theme - 1.
    """
    rng = np.random.default_rng(seed)
    n_themes = n_themes or max(1, n_items // 100)
    per_theme = max(1, n_items // n_themes)
    activity = rng.lognormal(0.0, 1.0, n_users)
    users = rng.choice(n_users, size=n_interactions, p=activity / activity.sum())
    user_theme = rng.integers(0, n_themes, n_users)
    global_popularity = 1.0 / (np.arange(n_items) + 10.0)
    global_items = rng.permutation(n_items)[
        rng.choice(n_items, size=n_interactions, p=global_popularity / global_popularity.sum())
    ]
    theme_popularity = 1.0 / (np.arange(per_theme) + 2.0)
    theme_items = user_theme[users] * per_theme + rng.choice(
        per_theme, size=n_interactions, p=theme_popularity / theme_popularity.sum()
    )
    items = np.where(rng.random(n_interactions) < theme_share, theme_items, global_items)
    weight = rng.geometric(0.7, n_interactions).astype(np.float64)
    return pd.DataFrame({"user_id": users, "item_id": items, "weight": weight})


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark for this process (Linux); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    """Peak resident set size since the last reset (VmHWM), else since process start."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def benchmark_recommendations(
    n_users: int = 1_000_000,
    n_items: int = 50_000,
    n_interactions: int = 10_000_000,
    seed: int = 0,
    top_k: int = 50,
    top_n: int = 10,
    method: str = "cosine",
    string_ids: bool = False,
) -> dict:
    """Time item_similarities + recommend_items on synthetic_interactions data.

    string_ids: use text ids ("u0000042", "i00042") instead of integers, as a warehouse with text
    keys would; factorising and emitting text costs a few seconds more.
    peak_rss_mb is the process's peak resident memory during the two steps, including the input
    frame they read (the peak mark is reset after the data is generated, where Linux allows it).
    """
    interactions = synthetic_interactions(n_users, n_items, n_interactions, seed)
    if string_ids:
        user_names = pd.Series(np.arange(n_users)).map("u{:07d}".format).astype("str").to_numpy()
        item_names = pd.Series(np.arange(n_items)).map("i{:05d}".format).astype("str").to_numpy()
        interactions = interactions.assign(
            user_id=pd.array(user_names[interactions["user_id"].to_numpy()], dtype="str"),
            item_id=pd.array(item_names[interactions["item_id"].to_numpy()], dtype="str"),
        )
    _reset_peak_rss()
    started = time.perf_counter()
    similarities = item_similarities(interactions, method=method, top_k=top_k)
    similarity_done = time.perf_counter()
    transform = "binary" if method == "cosine" else "log1p"
    recommendations = recommend_items(
        interactions, similarities, top_n=top_n, interaction_transform=transform
    )
    finished = time.perf_counter()
    return {
        "seconds_similarity": round(similarity_done - started, 2),
        "seconds_recommend": round(finished - similarity_done, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "similarity_rows": len(similarities),
        "recommendation_rows": len(recommendations),
    }
