"""The compiled top-n scoring pass against a dense brute force, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sparse

import ltv.recommend_scoring as scoring
from ltv.recommend_scoring import top_n_per_user

DECIMALS = 12


def random_case(seed: int, n_users: int = 40, n_items: int = 25):
    """Strengths, similarities and owned items built for ties: similarities from a few values whose
    sums differ only in the last bits (0.1 + 0.2 against 0.3) until rounded, some users with no
    history, one owning every item, items without neighbours, owned items outside the history."""
    rng = np.random.default_rng(seed)
    history = rng.random((n_users, n_items)) < 0.2
    history[1:3] = False  # empty histories
    strengths = np.where(history, rng.choice([1.0, 2.0, np.log1p(2.0)], (n_users, n_items)), 0.0)
    neighbours = rng.random((n_items, n_items)) < 0.3
    np.fill_diagonal(neighbours, False)
    neighbours[-2:] = False  # items without a list
    similarity = np.where(neighbours, rng.choice([0.1, 0.2, 0.3, 0.5], (n_items, n_items)), 0.0)
    owned = history | (rng.random((n_users, n_items)) < 0.05)
    owned[3] = True  # a user owning every item
    return sparse.csr_array(strengths), sparse.csr_array(similarity), sparse.csr_array(owned.astype(float))


def brute_force(strengths, similarity, owned, top_n):
    """Dense scores, owned removed, by (-score, item); because = first argmax of r(u, i) * sim(i, j).

    Each user's row is added up item by item in ascending order, the order in which a sparse
    product adds it (adding the absent pairs' zeros changes no sum), so scores compare exactly."""
    dense_r, dense_s, dense_owned = strengths.toarray(), similarity.toarray(), owned.toarray() > 0
    rows = []
    for user in range(dense_r.shape[0]):
        sums = np.zeros(dense_s.shape[1])
        for item in range(dense_r.shape[1]):
            if dense_r[user, item] != 0:
                sums = sums + dense_r[user, item] * dense_s[item]
        scores = np.round(sums, DECIMALS)
        candidates = np.flatnonzero((scores > 0) & ~dense_owned[user])
        chosen = candidates[np.lexsort((candidates, -scores[candidates]))][:top_n]
        rows.extend((user, j, scores[j], int(np.argmax(dense_r[user] * dense_s[:, j]))) for j in chosen)
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    return tuple(np.array(column, dtype=dtype) for column, dtype in
                 zip(columns, (np.int64, np.int64, np.float64, np.int64), strict=True))


def assert_identical(actual, expected):
    for got, want in zip(actual, expected, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got.view(np.int64), want.view(np.int64))  # bitwise, scores included


@pytest.mark.parametrize(("seed", "top_n", "chunk_users", "threads"),
                         [(0, 5, 50_000, 2), (1, 1, 1, 2), (2, 3, 7, 1), (3, 30, 4, 2), (4, 10, 13, 2)])
def test_matches_dense_brute_force_bit_for_bit(seed, top_n, chunk_users, threads):
    strengths, similarity, owned = random_case(seed)
    actual = top_n_per_user(strengths, similarity, owned, top_n, chunk_users, DECIMALS, threads)
    expected = brute_force(strengths, similarity, owned, top_n)
    assert_identical(actual, expected)
    users = actual[0]
    assert not set(users) & {1, 2, 3}  # no history; owns everything
    if top_n > 1:  # the cases do have ties after rounding, decided by the smaller item
        _, items, scores, _ = actual
        tied = (users[1:] == users[:-1]) & (scores[1:] == scores[:-1])
        assert tied.any() and (items[1:][tied] > items[:-1][tied]).all()


def test_sums_equal_once_rounded_tie_on_the_item_and_because_ties_on_the_source():
    """Items 0, 1 in the history; 2 gets 0.1 + 0.2 (0.30000000000000004), 3 gets 0.3 from item 0
    alone, 4 gets 0.25 from each. Rounded, 2 and 3 tie and the smaller code comes first; 4's
    because is the smaller of two equal contributions."""
    similarity = np.zeros((5, 5))
    similarity[0, [2, 3, 4]] = [0.1, 0.3, 0.25]
    similarity[1, [2, 4]] = [0.2, 0.25]
    strengths = sparse.csr_array(np.array([[1.0, 1.0, 0, 0, 0]]))
    owned = sparse.csr_array((1, 5))
    users, items, scores, because = top_n_per_user(strengths, sparse.csr_array(similarity), owned, 3, 10,
                                                   DECIMALS, 1)
    assert 0.1 + 0.2 != 0.3 and items.tolist() == [4, 2, 3] and scores.tolist() == [0.5, 0.3, 0.3]
    assert because.tolist() == [0, 1, 0] and users.tolist() == [0, 0, 0]


def test_scores_are_the_rounded_sparse_product():
    strengths, similarity, owned = random_case(5, n_users=200, n_items=60)
    users, items, scores, _ = top_n_per_user(strengths, similarity, owned, 60, 50_000, DECIMALS, 2)
    product = sparse.csr_matrix(strengths) @ sparse.csr_matrix(similarity)
    assert np.array_equal(scores, np.round(np.asarray(product[users, items]).reshape(-1), DECIMALS))
    # 0.1 + 0.2 is not 0.3 until rounded: the scoring sees the rounded sums.
    assert np.array_equal(scores, np.round(scores, DECIMALS))


def test_small_blocks_and_unsorted_input_do_not_change_the_result(monkeypatch):
    strengths, similarity, owned = random_case(6)
    expected = top_n_per_user(strengths, similarity, owned, 4, 50_000, DECIMALS, 2)
    monkeypatch.setattr(scoring, "MAX_SLOTS_PER_BLOCK", 9)
    shuffled_similarity = similarity.copy()
    for row in range(shuffled_similarity.shape[0]):  # rows stored out of order
        start, end = shuffled_similarity.indptr[row:row + 2]
        shuffled_similarity.indices[start:end] = shuffled_similarity.indices[start:end][::-1]
        shuffled_similarity.data[start:end] = shuffled_similarity.data[start:end][::-1]
    shuffled_similarity.has_sorted_indices = False
    assert_identical(top_n_per_user(strengths, shuffled_similarity, owned, 4, 50_000, DECIMALS, 2), expected)


@pytest.mark.parametrize("top_n", [0, -1])
def test_no_list_when_top_n_is_not_positive(top_n):
    strengths, similarity, owned = random_case(7)
    assert all(part.size == 0 for part in top_n_per_user(strengths, similarity, owned, top_n, 10, DECIMALS, 2))


def test_no_users():
    strengths, similarity, owned = random_case(8)
    result = top_n_per_user(strengths[:0], similarity, owned[:0], 5, 10, DECIMALS, 2)
    assert all(part.size == 0 for part in result)
