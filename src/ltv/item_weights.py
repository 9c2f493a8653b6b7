"""Item-to-item weights of similarity v3: tuned item-kNN, EASE and RP3beta.

Every family ends as the same thing: for each item i, its top-K items j with a positive weight
w(i, j), so that a user's score is score(u, j) = sum over i of r(u, i) * w(i, j) and the item that
contributes most explains the recommendation (because_item_id), as in v1 and v2.

* knn:     cosine of BM25-weighted, log-damped item vectors (v2's vectors, see similarity.item_vectors)
           with shrinkage h: w = <v_i, v_j> / (|v_i| |v_j| + h), which pulls down pairs resting on
           few shared users.
* ease:    EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): the ridge
           regression of each item's column of X on all the other columns, in closed form:
           P = (X'X + l2 I)^-1,  B = I - P diag(1 / diag(P)),  i.e. B[i, j] = -P[i, j] / P[j, j],
           diagonal 0. Dense items x items, so only for catalogues up to EASE_MAX_ITEMS.
* rp3beta: RP3beta (Paudel, Christoffel, Newell, Bernstein, "Updatable, accurate, diverse, and
           scalable recommendations for interactive applications", TiiS 2016): the two-step random
           walk item -> user -> item, W = P_iu^alpha @ P_ui^alpha with rows of X (users) and of X'
           (items) normalised to sum 1 and raised elementwise to alpha, then column j divided by its
           degree^beta to push down what is popular anyway.

Input everywhere: a users x items CSR matrix of interaction strengths (already weighted and
log-damped by the caller, see recommendation_tuning.interaction_strengths); rows or columns of zeros
are fine. Output: (item_codes, similar_item_codes, weights) ordered by item, weight descending,
similar item ascending (ties go to the smaller code), at most top_k per item, weights > 0, no self pairs.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sparse

from ltv.similarity import (
    BLOCK_THREADS,
    SIMILARITY_DECIMALS,
    bm25_weight,
    top_k_per_row,
)

FAMILIES = ("knn", "ease", "rp3beta")
# The largest catalogue EASE is fitted on. Measured on this 2-core, 24 GB machine while shared
# (load average ~10), one fit (Gram matrix, Cholesky solve, top-100 lists), peak resident memory of
# the process: 2,000 items 3.6 s / 0.7 GB; 3,000 items ~6 s / 1.5 GB; 5,000 items 17 s / 4.0 GB;
# 8,000 items 104 s / 9.9 GB (cubic time, quadratic memory with several dense copies). When EASE
# wins the first round, tuning solves it for 4 values of l2 and up to 3 weightings (a change of top_k
# reuses the solve: see ease_cache), so 3,000 items keeps that near 40 s on a loaded machine; above
# it RP3beta and item-kNN compete.
EASE_MAX_ITEMS = 3_000
# EASE solves a tuning keeps (3,000 items: 72 MB each).
EASE_CACHE_SOLVES = 5
# Rows of a dense weight matrix turned into top-k lists at once (5,000 x 1,000 doubles = 40 MB).
DENSE_ROWS_PER_BLOCK = 1_000

Triplets = tuple[np.ndarray, np.ndarray, np.ndarray]


def _empty() -> Triplets:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)


def _concatenate(parts: list[Triplets]) -> Triplets:
    if not parts:
        return _empty()
    return tuple(np.concatenate([part[index] for part in parts]) for index in range(3))


def _top_k_of_block(block: sparse.csr_matrix, start: int, values: np.ndarray, top_k: int) -> Triplets:
    """Rows start.. of an items x items block: drop self pairs and weights <= 0, keep the top_k."""
    entry_item = np.repeat(np.arange(start, start + block.shape[0]), np.diff(block.indptr))
    values = np.round(values, SIMILARITY_DECIMALS)
    keep = (block.indices != entry_item) & (values > 0)
    kept_per_row = np.bincount(entry_item[keep] - start, minlength=block.shape[0])
    row_starts = np.concatenate(([0], np.cumsum(kept_per_row)))
    columns, values = block.indices[keep].astype(np.int64), values[keep]
    chosen, rows = top_k_per_row(row_starts, columns, values, top_k)
    return rows + start, columns[chosen], values[chosen]


def _product_top_k(left: sparse.csr_matrix, right: sparse.csr_matrix, top_k: int, **reweighting) -> Triplets:
    """Top-k per row of left @ right, reweighted (product_top_k.py: one compiled pass, rows never
    held whole)."""
    # Imported here: numba's import and the compiled functions are only needed when fitting.
    from ltv.product_top_k import product_top_k

    if top_k <= 0 or left.nnz == 0 or right.nnz == 0:
        return _empty()
    return product_top_k(left, right, top_k, SIMILARITY_DECIMALS, BLOCK_THREADS, **reweighting)


def knn_weights(strengths: sparse.csr_matrix, top_k: int, bm25_k1: float, bm25_b: float, shrink: float) -> Triplets:
    """Item-kNN on BM25-weighted vectors (implicit's weighting, items as documents) with shrinkage."""
    vectors = bm25_weight(strengths.T, k1=bm25_k1, b=bm25_b).tocsr()  # items x users
    vectors.data = np.maximum(vectors.data, 0.0)  # an item bought by every user has idf < 0: no signal
    vectors.eliminate_zeros()
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    return _product_top_k(vectors, vectors.T.tocsr(), top_k, mode="shrunk_cosine", row_factors=norms,
                          column_factors=norms, shrink=shrink)


def rp3beta_weights(strengths: sparse.csr_matrix, top_k: int, alpha: float, beta: float) -> Triplets:
    """RP3beta item-item transition weights (see the module docstring)."""
    matrix = sparse.csr_matrix(strengths, dtype=np.float64)
    matrix.data = np.maximum(matrix.data, 0.0)
    matrix.eliminate_zeros()

    def row_stochastic(m: sparse.csr_matrix) -> sparse.csr_matrix:
        sums = np.asarray(m.sum(axis=1)).ravel()
        scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
        out = sparse.csr_matrix(sparse.diags(scale) @ m)
        out.data = out.data**alpha
        return out

    user_to_item = row_stochastic(matrix)  # P_ui
    item_to_user = row_stochastic(matrix.T.tocsr())  # P_iu
    degree = np.diff(matrix.tocsc().indptr).astype(np.float64)
    popularity_penalty = np.divide(1.0, degree**beta, out=np.zeros_like(degree), where=degree > 0)
    return _product_top_k(item_to_user, user_to_item, top_k, mode="column_scaled", column_factors=popularity_penalty)


def ease_matrix(strengths: sparse.csr_matrix, l2: float) -> np.ndarray:
    """EASE's dense items x items B (zero diagonal). X'X + l2 I is symmetric positive definite for
    l2 > 0, so a Cholesky solve gives P = (X'X + l2 I)^-1 at a third of the cost of a general inverse."""
    if l2 <= 0:
        raise ValueError("EASE needs l2 > 0")
    n_items = strengths.shape[1]
    if n_items > EASE_MAX_ITEMS:
        raise ValueError(f"EASE is limited to {EASE_MAX_ITEMS} items (dense solve); this catalogue has {n_items}")
    gram = np.asarray((strengths.T @ strengths).todense(), dtype=np.float64)
    gram[np.diag_indices(n_items)] += l2
    factor = scipy.linalg.cho_factor(gram, overwrite_a=True, check_finite=False)
    precision = scipy.linalg.cho_solve(factor, np.eye(n_items), overwrite_b=True, check_finite=False)
    weights = precision / (-np.diag(precision))[np.newaxis, :]
    weights[np.diag_indices(n_items)] = 0.0
    return weights


def dense_top_k(weights: np.ndarray, top_k: int) -> Triplets:
    """Top-k positive entries per row of a dense square matrix (self pairs excluded)."""
    parts = []
    for start in range(0, weights.shape[0], DENSE_ROWS_PER_BLOCK):
        block = sparse.csr_matrix(weights[start : start + DENSE_ROWS_PER_BLOCK])  # keeps nonzeros only
        block.sort_indices()
        parts.append(_top_k_of_block(block, start, block.data, top_k))
    return _concatenate(parts)


def ease_weights(strengths: sparse.csr_matrix, top_k: int, l2: float) -> Triplets:
    return dense_top_k(ease_matrix(strengths, l2), top_k)


def fit_item_weights(strengths: sparse.csr_matrix, family: str, parameters: dict,
                     ease_cache: dict | None = None) -> Triplets:
    """One family's top-K item weights: the single entry point tuning, evaluation and production use.

    Items nobody interacted with can have no weight in any family, so the fit runs on the columns
    with interactions only (for EASE that is what decides the dense size) and maps codes back.
    ease_cache: a dict kept across calls (tuning) so that EASE on the same matrix and l2 is solved
    once whatever top_k is tried."""
    strengths = sparse.csr_matrix(strengths, dtype=np.float64)
    active = np.flatnonzero(np.diff(strengths.tocsc().indptr))
    if active.size < 2:
        return _empty()
    items, similar, weights = _fit_active(strengths[:, active].tocsr(), family, parameters, ease_cache)
    return active[items], active[similar], weights


def _fit_active(strengths: sparse.csr_matrix, family: str, parameters: dict, ease_cache: dict | None) -> Triplets:
    top_k = int(parameters["top_k"])
    if family == "knn":
        return knn_weights(strengths, top_k, float(parameters["bm25_k1"]), float(parameters["bm25_b"]),
                           float(parameters["shrink"]))
    if family == "ease":
        if ease_cache is None:
            return ease_weights(strengths, top_k, float(parameters["l2"]))
        key = (float(parameters["l2"]), strengths.shape, strengths.nnz, strengths.indices.tobytes(),
               strengths.data.tobytes())
        if key not in ease_cache:
            while len(ease_cache) >= EASE_CACHE_SOLVES:  # dense matrices are large: keep the latest few
                ease_cache.pop(next(iter(ease_cache)))
            ease_cache[key] = ease_matrix(strengths, float(parameters["l2"]))
        return dense_top_k(ease_cache[key], top_k)
    if family == "rp3beta":
        return rp3beta_weights(strengths, top_k, float(parameters["alpha"]), float(parameters["beta"]))
    raise ValueError(f"unknown item-weight family {family!r}; expected one of {FAMILIES}")
