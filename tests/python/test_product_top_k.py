"""product_top_k against scipy's sparse product, reweighted, rounded and sorted with numpy: the
same pairs in the same order and the same values to the bit; and similarity.factorized against
pd.factorize."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sparse

from ltv.product_top_k import product_top_k
from ltv.similarity import factorized


def random_operands(seed: int, n_items: int = 30, n_users: int = 50) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """(items x users, users x items) with values from a few levels (so sums tie) and rows whose
    entries are stored out of column order (scipy multiplies in stored order, and so must we)."""
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n_users, n_items)) < 0.25, rng.choice([0.5, 1.0, 2.0, 3.0], (n_users, n_items)), 0.0)
    right = sparse.csr_matrix(dense)
    left = sparse.csr_matrix(dense.T * rng.choice([1.0, 0.25], (n_items, 1)))
    for matrix in (left, right):
        for row in range(matrix.shape[0]):
            start, end = matrix.indptr[row], matrix.indptr[row + 1]
            order = start + rng.permutation(end - start)
            matrix.indices[start:end], matrix.data[start:end] = matrix.indices[order], matrix.data[order]
    left.has_sorted_indices = right.has_sorted_indices = False
    return left, right


def expected_top_k(left, right, top_k, values_of, clip_at_one=False):
    """Every row of scipy's product, reweighted by values_of(rows, columns, products), rounded to 12
    decimals as np.round does, self pairs and values <= 0 dropped, sorted by (-value, column)."""
    product = (left @ right).tocoo()
    rows, columns = product.row.astype(np.int64), product.col.astype(np.int64)
    values = np.round(values_of(rows, columns, product.data), 12)
    keep = (rows != columns) & (values > 0)
    rows, columns, values = rows[keep], columns[keep], values[keep]
    if clip_at_one:
        values = np.minimum(values, 1.0)
    order = np.lexsort((columns, -values, rows))
    rows, columns, values = rows[order], columns[order], values[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, rows)
    keep = rank < top_k
    return rows[keep], columns[keep], values[keep]


def assert_identical(actual, expected):
    for got, wanted in zip(actual, expected, strict=True):
        np.testing.assert_array_equal(got, wanted)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("top_k", "max_rows", "threads"), [(1, 2048, 1), (3, 1, 2), (5, 7, 2), (100, 4, 1)])
def test_raw_product_matches_scipy_to_the_bit(seed, top_k, max_rows, threads):
    left, right = random_operands(seed)
    actual = product_top_k(left, right, top_k, 12, threads, max_rows=max_rows)
    expected = expected_top_k(left, right, top_k, lambda rows, columns, values: values)
    assert expected[0].size > 3 * left.shape[0] or top_k < 4
    assert_identical(actual, expected)


@pytest.mark.parametrize("seed", [3, 4])
def test_cosines_are_capped_at_one_after_rounding(seed):
    left, right = random_operands(seed)
    actual = product_top_k(left, right, 6, 12, 2, clip_at_one=True)
    assert_identical(actual, expected_top_k(left, right, 6, lambda rows, columns, values: values, clip_at_one=True))
    assert actual[2].max() == 1.0  # the raw products are over 1


@pytest.mark.parametrize("shrink", [0.0, 2.5])
def test_shrunk_cosine_divides_by_the_factors_plus_the_shrink(shrink):
    left, right = random_operands(5)
    norms = np.linspace(0.0, 3.0, left.shape[0])  # a zero norm: division by the shrink alone, or 0
    actual = product_top_k(left, right, 4, 12, 2, mode="shrunk_cosine", row_factors=norms, column_factors=norms,
                           shrink=shrink)

    def shrunk(rows, columns, values):
        denominator = norms[rows] * norms[columns] + shrink
        return np.divide(values, denominator, out=np.zeros_like(values), where=denominator > 0)

    assert_identical(actual, expected_top_k(left, right, 4, shrunk))


def test_column_scaled_values():
    left, right = random_operands(6)
    penalty = np.random.default_rng(6).random(right.shape[1])
    actual = product_top_k(left, right, 5, 12, 1, mode="column_scaled", column_factors=penalty)
    assert_identical(actual, expected_top_k(left, right, 5, lambda rows, columns, values: values * penalty[columns]))


def test_nothing_to_rank_gives_empty_arrays():
    left, right = random_operands(7)
    for arguments in ((left, right, 0), (sparse.csr_matrix((0, 50)), right, 3),
                      (sparse.csr_matrix(left.shape), right, 3)):
        rows, columns, values = product_top_k(*arguments, 12, 2)
        assert rows.size == columns.size == values.size == 0


@pytest.mark.parametrize("values", [
    np.array([5, 3, 5, 0, 9, 3]),  # dense integer codes: numbered directly
    np.array([5, 3, -1, 3]),  # a negative id: hashed
    np.array([10**12, 3, 10**12]),  # ids far larger than their count: hashed
    np.array(["b", "a", "b"], dtype=object),
    pd.array([2, None, 2], dtype="Int64"),
])
def test_factorized_numbers_the_values_like_pd_factorize(values):
    codes, uniques = factorized(values)
    expected_codes, expected_uniques = pd.factorize(pd.Series(values))
    assert len(uniques) == len(expected_uniques) and set(np.asarray(uniques).tolist()) == set(
        np.asarray(expected_uniques).tolist())
    np.testing.assert_array_equal(codes < 0, expected_codes < 0)
    assert [np.asarray(uniques)[code] for code in codes[codes >= 0]] == list(pd.Series(values).dropna())
