"""Item-based recommendations from top-K similarity lists, with a popularity fallback.

For a user u with interaction strengths r(u, i) and the similarity lists as a sparse items x items
matrix S (row i holds i's top-K neighbours j with sim(i, j)):

    score(u, j) = sum over i of r(u, i) * sim(i, j)        (a row of the sparse product R @ S)

computed user by user in compiled code (recommend_scoring.py) that keeps only each user's top n,
so memory depends on the output, not on the product's size.
Scores are rounded to SCORE_DECIMALS decimals for the same reason similarities are: equal scores
summed in a different order must compare equal so the item-id tie-break decides between them.

Output: DataFrame[user_id, rank, item_id, score, because_item_id, is_fallback], sorted by
user_id, rank.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sparse

from ltv.similarity import (
    BLOCK_THREADS,
    item_similarities,
    positions_in,
    user_item_matrix,
)

RECOMMENDATION_COLUMNS = ["user_id", "rank", "item_id", "score", "because_item_id", "is_fallback"]
SCORE_DECIMALS = 12
INTERACTION_TRANSFORMS = ("binary", "log1p")



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


def _similarity_recommendations(
    strengths: sparse.csr_matrix,
    similarity: sparse.csr_array,
    owned: sparse.csr_array,
    top_n: int,
    chunk_users: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user codes, item codes, scores, because codes) of the top_n by score, per user in code order."""
    # Imported here: numba's import and the compiled functions are only needed when scoring.
    from ltv.recommend_scoring import top_n_per_user

    return top_n_per_user(strengths, similarity, owned, top_n, chunk_users, SCORE_DECIMALS, BLOCK_THREADS)


def buyers_per_item(interactions: pd.DataFrame, bought_column: str) -> pd.DataFrame:
    """DataFrame[item_id, popularity_score]: how many rows with a positive `bought_column` each item
    has, items in id order; with one row per (user, item) pair, its distinct buyers. The same as
    interactions.loc[interactions[bought_column] > 0].groupby("item_id").size(): the fallback list.

    The warehouse models' ids are integer codes: counted with np.bincount on the two columns, not by
    copying every column of the selected rows and hashing them (~1 CPU-s per model at 8.4M rows)."""
    bought = (interactions[bought_column] > 0).to_numpy(dtype=bool)
    item_ids = interactions["item_id"].to_numpy()
    if item_ids.dtype.kind in "iu" and (item_ids.size == 0 or item_ids.min() >= 0):
        counts = np.bincount(item_ids[bought], minlength=0)
        items = np.flatnonzero(counts)
        return pd.DataFrame({"item_id": items.astype(item_ids.dtype), "popularity_score": counts[items].astype(np.int64)})
    buyers = interactions.loc[bought, ["item_id"]]
    return buyers.groupby("item_id").size().rename("popularity_score").reset_index()


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
    chunk_users: the most users per block of the scoring pass (blocks are also cut to stay under
        recommend_scoring.MAX_SLOTS_PER_BLOCK output slots); changes speed, never the result.

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
    popularity_scores = _popularity_scores(popularity, user_items, item_index)
    owned_matrix = _owned_matrix(owned, user_items, user_index, item_index)
    strengths = interaction_strengths(user_items, interaction_transform)
    del user_items  # each matrix goes as soon as it is used: the output is assembled on top of the rest
    scored = _similarity_recommendations(
        strengths, similarity_matrix(similarities, item_index), owned_matrix, top_n, chunk_users
    )
    del strengths
    served = np.zeros(len(user_index), dtype=bool)
    served[scored[0]] = True
    fallback = _popularity_recommendations(np.flatnonzero(~served), popularity_scores, owned_matrix, top_n)
    del owned_matrix
    user_codes, rank, item_codes, scores, because_codes, is_fallback = _merged_by_user(
        len(user_index), scored, fallback
    )
    del scored, fallback
    return pd.DataFrame(
        {
            "user_id": user_index.take(user_codes),
            "rank": rank,
            "item_id": item_index.take(item_codes),
            "score": scores,
            "because_item_id": _take_ids(item_index, because_codes),
            "is_fallback": is_fallback,
        },
        copy=False,  # the arrays are ours: no second copy of ten million rows
    )


def _merged_by_user(n_users: int, scored: tuple, fallback: tuple) -> tuple[np.ndarray, ...]:
    """(user codes, rank, item codes, scores, because codes, is_fallback) of the similarity rows
    (users, items, scores, because) and the fallback rows (users, items, scores), in user order,
    ranked from 1 per user.

    Each part is in user order and each user is in one part only, so a row's place is where its
    user starts plus its place within its user: written straight there, nothing is sorted or
    gathered (a stable argsort and six gathers of ten million rows held ~0.5 GB more at the peak).
    """
    users, fallback_users = scored[0], fallback[0]
    counts = np.bincount(users, minlength=n_users) + np.bincount(fallback_users, minlength=n_users)
    user_start = np.cumsum(counts) - counts
    size = users.size + fallback_users.size
    merged = (np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.int64),
              np.empty(size, np.float64), np.empty(size, np.int64), np.empty(size, bool))
    no_because = np.full(fallback_users.size, -1, np.int64)
    for part_users, items, scores, because, is_fallback in ((*scored, False), (*fallback, no_because, True)):
        # Within a part a user's rows are consecutive: the first is at the user's first row there.
        part_counts = np.bincount(part_users, minlength=n_users)
        within_user = np.arange(part_users.size) - (np.cumsum(part_counts) - part_counts)[part_users]
        places = user_start[part_users] + within_user
        for column, values in zip(merged, (part_users, within_user + 1, items, scores, because, is_fallback),
                                  strict=True):
            column[places] = values
    return merged


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
