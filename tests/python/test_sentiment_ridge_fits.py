"""v2's ridge fits in lockstep (ridge_fit.fit_ridges) equal fit_ridge and scikit-learn's Ridge on
each subset, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import Ridge
from test_sentiment_fast_v2 import VARIED, _random_texts

from ltv.sentiment import ridge_fit, trained_v2
from ltv.sentiment.ridge_fit import fit_ridge, fit_ridges


def _part(matrix, targets, rows):
    return (matrix, targets) if rows is None else (matrix[rows], targets[rows])


def _assert_each_fit_is_ridges(matrix, targets, subsets, alpha):
    """fit_ridges' fits against fit_ridge and Ridge(alpha).fit of each subset alone."""
    fits = fit_ridges(matrix, targets, subsets, alpha)
    assert len(fits) == len(subsets)
    for rows, fitted in zip(subsets, fits, strict=True):
        part, target = _part(matrix, targets, rows)
        for expected in (fit_ridge(part, target, alpha), Ridge(alpha=alpha).fit(part, target)):
            assert np.array_equal(fitted.coef_, expected.coef_)
            assert fitted.intercept_ == expected.intercept_
            assert type(fitted.intercept_) is type(expected.intercept_)
            assert (fitted.n_features_in_, fitted.solver_, fitted.n_iter_) == (
                expected.n_features_in_, expected.solver_, expected.n_iter_)
            assert set(vars(fitted)) == set(vars(expected))


@pytest.fixture(scope="module")
def training():
    """A TF-IDF matrix as v2 trains on (generated and varied texts, an empty one, duplicates) and star
    ratings."""
    texts = _random_texts(2_500, seed=31) + VARIED + ["", "good good", "good good"]
    matrix = trained_v2._vectorize(np.array(texts, dtype=object))[1]
    ratings = np.random.default_rng(7).integers(1, 6, len(texts)).astype(float)
    assert matrix.has_sorted_indices  # the row products go through the CSC copy (one test shuffles them)
    return matrix, ratings


def _cg_iterations(monkeypatch, matrix, targets, subsets, alpha) -> list[int]:
    """How many conjugate-gradient steps fit_ridge (scipy's cg) takes for each subset."""
    counts, real_cg = [], ridge_fit.cg

    def counting_cg(*args, **kwargs):
        counts.append(0)
        return real_cg(*args, callback=lambda x: counts.__setitem__(-1, counts[-1] + 1), **kwargs)

    monkeypatch.setattr(ridge_fit, "cg", counting_cg)
    for rows in subsets:
        fit_ridge(*_part(matrix, targets, rows), alpha)
    monkeypatch.undo()
    return counts


@pytest.mark.parametrize("seed, with_final", [(42, True), (3, True), (42, False)])
def test_the_cross_validation_fits_are_ridges(training, seed, with_final):
    matrix, ratings = training
    subsets = [None] * with_final + [train for train, _ in trained_v2._folds(ratings, seed)]
    _assert_each_fit_is_ridges(matrix, trained_v2._rating_target(ratings), subsets, 1.0)


def test_subsets_that_converge_at_different_iterations(training, monkeypatch):
    """Small and large subsets, one whose target is constant (cg returns at once), fractional targets
    and another alpha: the systems leave the lockstep at different iterations."""
    matrix, ratings = training
    rng = np.random.default_rng(11)
    targets = rng.normal(3.2, 1.0, len(ratings))
    targets[ratings == 2.0] = 0.25
    subsets = [np.sort(rng.choice(len(ratings), size, replace=False)) for size in (60, 400, 2_000)]
    subsets += [np.flatnonzero(ratings == 2.0), None, np.arange(0, len(ratings), 2)]
    iterations = _cg_iterations(monkeypatch, matrix, targets, subsets, 3.0)
    assert iterations[3] == 0 and len(set(iterations)) >= 4, iterations
    _assert_each_fit_is_ridges(matrix, targets, subsets, 3.0)


def test_all_rows_as_one_subset(training):
    matrix, ratings = training
    targets = trained_v2._rating_target(ratings)
    _assert_each_fit_is_ridges(matrix, targets, [None], 1.0)
    _assert_each_fit_is_ridges(matrix, targets, [np.arange(matrix.shape[0])], 1.0)


def test_rows_with_their_entries_out_of_column_order(training):
    """The row products then run on the CSR matrix itself (the CSC copy would add in another order)."""
    matrix, ratings = training
    shuffled = matrix.copy()
    rng = np.random.default_rng(2)
    for row in range(shuffled.shape[0]):
        start, end = shuffled.indptr[row], shuffled.indptr[row + 1]
        order = start + rng.permutation(end - start)
        shuffled.indices[start:end], shuffled.data[start:end] = shuffled.indices[order], shuffled.data[order]
    shuffled = sp.csr_matrix((shuffled.data, shuffled.indices, shuffled.indptr), shape=shuffled.shape)
    assert not shuffled.has_sorted_indices
    subsets = [None] + [train for train, _ in trained_v2._folds(ratings, 42)]
    _assert_each_fit_is_ridges(shuffled, trained_v2._rating_target(ratings), subsets, 1.0)


def test_subsets_fit_ridge_leaves_to_scikit_learn_or_takes_alone(training):
    """On 600 hashed columns, a subset of 1,000 rows has more rows than columns (scikit-learn's own
    solver), and one of 400 does not; unordered rows, repeated rows and a boolean mask are fitted
    alone; the others still go in lockstep."""
    matrix, ratings = training
    texts = _random_texts(1_200, seed=32)
    counts = HashingVectorizer(n_features=600, alternate_sign=False, norm=None).transform(texts)
    narrow = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    targets = trained_v2._rating_target(np.random.default_rng(9).integers(1, 6, 1_200).astype(float))
    rng = np.random.default_rng(5)
    subsets = [np.sort(rng.choice(1_200, 1_000, replace=False)), np.sort(rng.choice(1_200, 400, replace=False)),
               rng.permutation(1_200)[:300], np.repeat(np.arange(0, 300, 3), 2), np.arange(1_200) % 4 == 0,
               np.arange(100, 550)]
    assert not ridge_fit._applies(narrow[subsets[0]], Ridge()) and ridge_fit._applies(narrow[subsets[1]], Ridge())
    _assert_each_fit_is_ridges(narrow, targets, subsets, 1.0)
    _assert_each_fit_is_ridges(matrix.tocsc(), trained_v2._rating_target(ratings), [None, np.arange(50, 900)], 1.0)


def test_the_cross_validated_fit_uses_the_lockstep_fits(training):
    """Out-of-fold scores and the final model as fitting each subset by Ridge alone gives them."""
    matrix, ratings = training
    scores, final = trained_v2._cross_validated_fit(matrix, ratings, seed=42)
    targets = trained_v2._rating_target(ratings)
    expected = np.empty(matrix.shape[0])
    for train, test in trained_v2._folds(ratings, 42):
        expected[test] = np.clip(Ridge().fit(matrix[train], targets[train]).predict(matrix[test]), -1.0, 1.0)
    assert np.array_equal(scores, expected)
    assert np.array_equal(final.coef_, Ridge().fit(matrix, targets).coef_)
