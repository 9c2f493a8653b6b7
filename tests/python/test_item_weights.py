"""Similarity v3's item weights against independent computations: EASE against one ridge regression
per item, RP3beta and shrunk item-kNN against hand-computed values on tiny matrices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sparse

from ltv.item_weights import (
    EASE_MAX_ITEMS,
    dense_top_k,
    ease_matrix,
    fit_item_weights,
    knn_weights,
    rp3beta_weights,
)


def as_dict(triplets) -> dict:
    items, similar, weights = triplets
    return {(int(i), int(j)): float(w) for i, j, w in zip(items, similar, weights, strict=True)}


def test_ease_equals_a_ridge_regression_of_each_item_on_the_others():
    rng = np.random.default_rng(5)
    dense = (rng.random((40, 7)) < 0.35) * rng.integers(1, 4, (40, 7))
    l2 = 3.0
    weights = ease_matrix(sparse.csr_matrix(dense, dtype=float), l2)
    for j in range(dense.shape[1]):
        others = [i for i in range(dense.shape[1]) if i != j]
        x = dense[:, others].astype(float)
        # argmin_b |x_j - X_-j b|^2 + l2 |b|^2, solved directly for this column
        direct = np.linalg.solve(x.T @ x + l2 * np.eye(len(others)), x.T @ dense[:, j])
        np.testing.assert_allclose(weights[others, j], direct, rtol=1e-9, atol=1e-12)
        assert weights[j, j] == 0.0


def test_ease_refuses_a_catalogue_over_its_dense_limit():
    with pytest.raises(ValueError, match="EASE is limited"):
        ease_matrix(sparse.csr_matrix((2, EASE_MAX_ITEMS + 1)), 1.0)


def test_dense_top_k_keeps_the_largest_positive_weights_per_row_ties_to_the_smaller_column():
    weights = np.array([[0.0, 0.5, 0.5, -1.0], [0.2, 0.0, 0.9, 0.1], [-0.3, -0.1, 0.0, 0.0], [0.0, 0.0, 0.4, 0.0]])
    assert as_dict(dense_top_k(weights, 2)) == {(0, 1): 0.5, (0, 2): 0.5, (1, 2): 0.9, (1, 0): 0.2, (3, 2): 0.4}


def test_rp3beta_by_hand():
    # users x items; u0: a, b   u1: a, c   u2: b
    matrix = sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    alpha, beta = 1.0, 0.5
    result = as_dict(rp3beta_weights(matrix, top_k=5, alpha=alpha, beta=beta))
    # item a -> users u0, u1 (1/2 each); u0 -> a, b (1/2 each), u1 -> a, c (1/2 each).
    # a -> b: 1/2 * 1/2 = 1/4, divided by degree(b)^beta = 2^0.5; a -> c: 1/4 / 1^0.5.
    assert result[(0, 1)] == pytest.approx(0.25 / math.sqrt(2))
    assert result[(0, 2)] == pytest.approx(0.25)
    # b -> users u0, u2 (1/2 each); u0 -> a (1/2); u2 -> b only. b -> a: 1/4 / sqrt(2)
    assert result[(1, 0)] == pytest.approx(0.25 / math.sqrt(2))
    # c -> u1 (1); u1 -> a (1/2): 1/2 / sqrt(2)
    assert result[(2, 0)] == pytest.approx(0.5 / math.sqrt(2))
    assert (1, 2) not in result and (2, 1) not in result and all(i != j for i, j in result)


def test_rp3beta_alpha_raises_the_transition_probabilities():
    matrix = sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    result = as_dict(rp3beta_weights(matrix, top_k=5, alpha=2.0, beta=0.0))
    # a -> c: (1/2)^2 * (1/2)^2
    assert result[(0, 2)] == pytest.approx(1 / 16)


def test_knn_shrinkage_divides_the_dot_product_by_the_norms_plus_the_shrink():
    from ltv.similarity import bm25_weight

    matrix = sparse.csr_matrix(np.array([[1.0, 2.0, 0.0], [1.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 1.0]]))
    vectors = bm25_weight(matrix.T, k1=1.2, b=0.75).toarray()
    vectors = np.maximum(vectors, 0.0)
    shrink = 2.0
    result = as_dict(knn_weights(matrix, top_k=5, bm25_k1=1.2, bm25_b=0.75, shrink=shrink))
    for i in range(3):
        for j in range(3):
            if i == j:
                continue
            expected = vectors[i] @ vectors[j] / (np.linalg.norm(vectors[i]) * np.linalg.norm(vectors[j]) + shrink)
            assert result.get((i, j), 0.0) == pytest.approx(max(expected, 0.0), abs=1e-12)


def test_fit_maps_codes_back_past_items_without_interactions():
    matrix = sparse.csr_matrix(np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]))
    ease = as_dict(fit_item_weights(matrix, "ease", {"top_k": 3, "l2": 1.0}))
    assert ease and all(1 not in pair for pair in ease)
    reference = ease_matrix(sparse.csr_matrix(matrix.toarray()[:, [0, 2, 3]]), 1.0)
    codes = [0, 2, 3]
    for (i, j), weight in ease.items():
        assert weight == pytest.approx(reference[codes.index(i), codes.index(j)])
