"""Item similarities against dense brute force computed independently with numpy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from ltv.content_similarity import content_similarities, price_bands_within_category
from ltv.similarity import (
    SIMILARITY_COLUMNS,
    bm25_weight,
    item_similarities,
    top_k_per_row,
)


def random_interactions(
    seed: int, n_users: int = 40, n_items: int = 25, density: float = 0.15
) -> pd.DataFrame:
    """Random purchases with repeated (user, item) rows, a zero-weight item and string ids whose
    string order differs from numeric order (i10 < i9)."""
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{user}" for user in users],
            "item_id": [f"i{item}" for item in items],
            "weight": rng.integers(1, 4, users.size).astype(float),
        }
    )
    repeats = frame.sample(frac=0.3, random_state=seed)
    only_zero = pd.DataFrame({"user_id": ["u0", "u1"], "item_id": ["i_zero", "i_zero"], "weight": [0.0, 0.0]})
    return pd.concat([frame, repeats, only_zero], ignore_index=True)


def dense_user_items(interactions: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Summed weights as a dense users x items array; columns = items with a positive sum, sorted."""
    summed = interactions.groupby(["user_id", "item_id"])["weight"].sum()
    summed = summed[summed > 0].unstack(fill_value=0.0)
    summed = summed.reindex(sorted(summed.columns), axis=1)
    return summed.to_numpy(float), list(summed.columns)


def brute_force_top_k(vectors: np.ndarray, item_ids: list[str], top_k: int) -> pd.DataFrame:
    """Cosine between the columns of a dense matrix, every pair, then sort (-similarity, id)."""
    norms = np.sqrt((vectors**2).sum(axis=0))
    normalised = vectors / np.where(norms > 0, norms, 1.0)
    cosines = np.round(normalised.T @ normalised, 12)
    rows = []
    for source, item in enumerate(item_ids):
        candidates = [
            (cosines[source, other], item_ids[other])
            for other in range(len(item_ids))
            if other != source and cosines[source, other] > 0
        ]
        candidates.sort(key=lambda pair: (-pair[0], pair[1]))
        for rank, (value, other_item) in enumerate(candidates[:top_k], start=1):
            rows.append((item, other_item, min(value, 1.0), rank))
    return pd.DataFrame(rows, columns=SIMILARITY_COLUMNS)


def hand_bm25(counts: np.ndarray, k1: float, b: float) -> np.ndarray:
    """implicit's bm25_weight written out entry by entry on a dense rows x columns array."""
    n_rows = counts.shape[0]
    row_sums = counts.sum(axis=1)
    average_length = row_sums.mean()
    weighted = np.zeros_like(counts)
    for row in range(counts.shape[0]):
        for column in range(counts.shape[1]):
            value = counts[row, column]
            if value == 0:
                continue
            idf = math.log(n_rows) - math.log(1 + np.count_nonzero(counts[:, column]))
            length_norm = (1 - b) + b * row_sums[row] / average_length
            weighted[row, column] = value * (k1 + 1) / (k1 * length_norm + value) * idf
    return weighted


def assert_same_lists(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.columns) == SIMILARITY_COLUMNS
    assert (
        actual[["item_id", "similar_item_id", "rank"]].astype(str).values.tolist()
        == expected[["item_id", "similar_item_id", "rank"]].astype(str).values.tolist()
    )
    np.testing.assert_allclose(
        actual["similarity"].to_numpy(), expected["similarity"].to_numpy(), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("top_k", "chunk_items"), [(1, 3), (4, 1), (5, 7), (100, 2048)])
def test_cosine_matches_brute_force(seed, top_k, chunk_items):
    interactions = random_interactions(seed)
    dense, item_ids = dense_user_items(interactions)
    expected = brute_force_top_k((dense > 0).astype(float), item_ids, top_k)
    actual = item_similarities(interactions, method="cosine", top_k=top_k, chunk_items=chunk_items)
    assert_same_lists(actual, expected)
    assert "i_zero" not in set(actual["item_id"]) | set(actual["similar_item_id"])


def test_slot_budget_blocks_do_not_change_result(monkeypatch):
    import ltv.product_top_k as product_top_k_module

    interactions = random_interactions(3)
    expected = item_similarities(interactions, top_k=6)
    block_starts = []
    original = product_top_k_module._top_k_block

    def counting_block(start, *arguments):
        block_starts.append(start)
        return original(start, *arguments)

    monkeypatch.setattr(product_top_k_module, "MAX_SLOTS_PER_BLOCK", 12)
    monkeypatch.setattr(product_top_k_module, "_top_k_block", counting_block)
    assert_same_lists(item_similarities(interactions, top_k=6), expected)
    assert len(block_starts) > 10  # the slot budget (2 rows of 6), not chunk_items, cut the blocks


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (100.0, 0.8)])
def test_bm25_matches_brute_force(k1, b):
    interactions = random_interactions(4)
    dense, item_ids = dense_user_items(interactions)
    # As implicit's BM25Recommender: items are documents (rows), users are terms.
    vectors = hand_bm25(np.log1p(dense).T, k1, b).T
    expected = brute_force_top_k(vectors, item_ids, 5)
    actual = item_similarities(interactions, method="bm25", top_k=5, bm25_k1=k1, bm25_b=b, chunk_items=4)
    assert_same_lists(actual, expected)


def test_bm25_weight_equals_hand_formula():
    counts = np.array([[3.0, 0.0, 1.0, 0.0], [0.0, 2.0, 5.0, 0.0], [1.0, 1.0, 1.0, 4.0]])
    expected = hand_bm25(counts, 1.2, 0.75)
    actual = bm25_weight(counts, k1=1.2, b=0.75).toarray()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)
    # Entries by hand: row 0 has length 4, the mean row length is (4 + 7 + 7) / 3 = 6;
    # column 0 is in 2 of 3 rows (idf = log 3 - log 3 = 0), column 2 in all 3 (idf < 0).
    length_norm = 0.25 + 0.75 * 4 / 6
    assert actual[0, 0] == pytest.approx(
        3 * 2.2 / (1.2 * length_norm + 3) * (math.log(3) - math.log(3)), abs=1e-12
    )
    assert actual[0, 2] == pytest.approx(
        1 * 2.2 / (1.2 * length_norm + 1) * (math.log(3) - math.log(4)), abs=1e-12
    )


def test_item_universe_sets_bm25_statistics():
    interactions = random_interactions(5)
    dense, item_ids = dense_user_items(interactions)
    catalogue = item_ids + ["unsold_1", "unsold_2"]
    padded = np.hstack([np.log1p(dense), np.zeros((dense.shape[0], 2))])
    vectors = hand_bm25(padded.T, 1.2, 0.75).T[:, : len(item_ids)]
    expected = brute_force_top_k(vectors, item_ids, 3)
    assert_same_lists(item_similarities(interactions, method="bm25", top_k=3, item_ids=catalogue), expected)


def test_ties_go_to_the_smaller_item_id_and_repeats_are_summed():
    interactions = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "a", "b", "b", "c"],
            "item_id": ["x", "z", "y", "x", "x", "w", "w"],
            "weight": [1.0, 1.0, 1.0, 5.0, 1.0, 2.0, -2.0],
        }
    )
    # c's w nets to 0 (dropped); x: {a, b}, y: {a}, z: {a}, w: {b}.
    actual = item_similarities(interactions, top_k=3)
    x_row = actual[actual["item_id"] == "x"]
    assert x_row["similar_item_id"].tolist() == ["w", "y", "z"]
    assert x_row["similarity"].tolist() == pytest.approx([1 / math.sqrt(2)] * 3, abs=1e-12)
    assert actual[actual["item_id"] == "y"]["similar_item_id"].tolist() == ["z", "x"]
    assert actual[actual["item_id"] == "y"]["similarity"].tolist() == pytest.approx([1.0, 1 / math.sqrt(2)])


def test_single_item_and_empty_input_give_no_rows():
    one_item = pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "x"], "weight": [1.0, 2.0]})
    assert item_similarities(one_item).empty
    assert list(item_similarities(one_item).columns) == SIMILARITY_COLUMNS
    assert item_similarities(one_item.iloc[:0]).empty


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown similarity method"):
        item_similarities(random_interactions(0), method="jaccard")


def test_top_k_per_row_orders_by_value_then_column():
    row_starts = np.array([0, 5, 5, 7, 13])
    columns = np.array([4, 1, 3, 2, 0, 9, 8, 5, 4, 3, 2, 1, 0])
    values = np.array([0.5, 0.9, 0.5, 0.5, 0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])
    positions, rows = top_k_per_row(row_starts, columns, values, 3)
    assert columns[positions].tolist() == [1, 2, 3, 8, 9, 0, 1, 2]
    assert rows.tolist() == [0, 0, 0, 2, 2, 3, 3, 3]
    # One k per row; k = 0 selects nothing.
    positions, rows = top_k_per_row(row_starts, columns, values, np.array([1, 3, 0, 4]))
    assert columns[positions].tolist() == [1, 0, 1, 2, 3]


@pytest.mark.parametrize("seed", range(5))
def test_top_k_per_row_matches_full_sort(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 60, 40)
    row_starts = np.concatenate(([0], np.cumsum(lengths)))
    values = rng.integers(0, 8, row_starts[-1]) / 8.0  # many ties
    columns = np.concatenate([rng.permutation(100)[:length] for length in lengths]).astype(np.int64)
    k = rng.integers(0, 12, lengths.size)
    positions, _ = top_k_per_row(row_starts, columns, values, k)
    expected = []
    for row in range(lengths.size):
        entries = sorted(range(row_starts[row], row_starts[row + 1]), key=lambda p: (-values[p], columns[p]))
        expected.extend(entries[: k[row]])
    assert positions.tolist() == expected


def _brute_force_top_k(row_starts, columns, values, k) -> list[int]:
    expected = []
    for row in range(row_starts.size - 1):
        entries = sorted(range(row_starts[row], row_starts[row + 1]), key=lambda p: (-values[p], columns[p]))
        expected.extend(entries[: max(int(k[row]), 0)])
    return expected


@pytest.mark.parametrize("seed", range(6))
def test_top_k_per_row_matches_full_sort_on_skewed_and_clustered_values(seed):
    """The bucket pre-selection must keep every entry reaching the k-th value: long-tailed values
    (like recommendation scores), rows of values that differ only in the last digits far from 0
    (bucketing there must not cancel large terms), negative values, rows of one repeated value,
    and k of 0, of the row's length and beyond it."""
    rng = np.random.default_rng(100 + seed)
    lengths = rng.integers(0, 400, 60)
    row_starts = np.concatenate(([0], np.cumsum(lengths)))
    kinds = rng.integers(0, 4, lengths.size)
    parts = []
    for length, kind in zip(lengths, kinds, strict=True):
        if kind == 0:
            part = np.round(rng.pareto(1.5, length), 3)  # long tail, some ties
        elif kind == 1:
            part = 1000.0 + rng.integers(0, 5, length) * 1e-12  # clustered far from zero
        elif kind == 2:
            part = rng.normal(0.0, 1.0, length)  # negative values
        else:
            part = np.full(length, 0.25)  # one value
        parts.append(part)
    values = np.concatenate(parts)
    columns = np.concatenate([rng.permutation(1000)[:length] for length in lengths]).astype(np.int64)
    k = rng.integers(0, 30, lengths.size)
    k[::7] = lengths[::7]
    k[::11] = lengths[::11] + 5
    positions, rows = top_k_per_row(row_starts, columns, values, k)
    expected = _brute_force_top_k(row_starts, columns, values, k)
    assert positions.tolist() == expected
    assert rows.tolist() == (np.searchsorted(row_starts, expected, side="right") - 1).tolist()
    positions, _ = top_k_per_row(row_starts, columns, values, 10)
    assert positions.tolist() == _brute_force_top_k(row_starts, columns, values, np.full(lengths.size, 10))


# --- content -------------------------------------------------------------------------------------


def catalogue() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["p1", "p2", "p3", "p4", "p5", "p6", "p7"],
            "category": ["shoes", "shoes", "shoes", "shoes", "books", "books", None],
            "brand": ["acme", "acme", "zeta", "acme", "acme", None, "zeta"],
            "price": [10.0, 20.0, 30.0, 40.0, 5.0, 5.0, np.nan],
            "title": [
                "red running shoe",
                "blue running shoe",
                "leather boot",
                "red trail shoe",
                "cook book",
                "garden book",
                "the and of",
            ],
            "description": ["light", "light", "warm winter", None, "recipes", "plants", ""],
        }
    )


def test_price_bands_within_category():
    bands = price_bands_within_category(catalogue(), 2)
    # shoes 10, 20 | 30, 40; books share price 5 -> same band; missing price -> no band.
    assert bands.tolist()[:6] == [0, 0, 1, 1, 0, 0]
    assert math.isnan(bands.iloc[6])


def test_content_matches_brute_force():
    items = catalogue()
    top_k = 3
    price_key = items["category"].fillna("") + "|" + price_bands_within_category(items, 2).astype(str)
    price_key[items["price"].isna()] = None
    blocks = []
    for column in (items["category"], items["brand"], price_key):
        values = sorted(column.dropna().unique())
        blocks.append(np.array([[1.0 if value == level else 0.0 for level in values] for value in column]))
    text = (items["title"].fillna("") + " " + items["description"].fillna("")).tolist()
    blocks.append(TfidfVectorizer(stop_words="english", sublinear_tf=True, max_df=100).fit_transform(text).toarray())
    scaled = []
    for block in blocks:
        norms = np.sqrt((block**2).sum(axis=1, keepdims=True))
        scaled.append(0.5 * block / np.where(norms > 0, norms, 1.0))  # 0.5 = sqrt(0.25)
    vectors = np.hstack(scaled).T  # features x items
    expected = brute_force_top_k(vectors, items["item_id"].tolist(), top_k)
    actual = content_similarities(
        items.sample(frac=1.0, random_state=0), top_k=top_k, price_bands=2, chunk_items=2
    )
    assert_same_lists(actual, expected)


def test_content_weighted_mean_of_group_cosines():
    items = pd.DataFrame(
        {
            "item_id": ["a", "b"],
            "category": ["c", "c"],
            "brand": ["x", "x"],
            "price": [1.0, 1.0],
            "title": ["alpha", "beta"],
            "description": ["", ""],
        }
    )
    # Same category, brand, band; no shared word: 0.25 * (1 + 1 + 1 + 0).
    result = content_similarities(items, top_k=5)
    assert result["similarity"].tolist() == pytest.approx([0.75, 0.75], abs=1e-12)
    assert result["rank"].tolist() == [1, 1]


def test_bm25_on_no_interactions_gives_no_rows():
    empty = pd.DataFrame({"user_id": ["a"], "item_id": ["x"], "weight": [0.0]})
    assert item_similarities(empty, method="bm25").empty


def test_content_group_weights_are_checked():
    with pytest.raises(ValueError, match="group_weights"):
        content_similarities(catalogue(), group_weights={"colour": 1.0})
    only_text = content_similarities(
        catalogue(), top_k=1, group_weights={"category": 0, "brand": 0, "price_band": 0, "text": 1}
    )
    # With text alone, p1 (red running shoe) is closest to p2 (blue running shoe, same description).
    assert only_text.set_index("item_id").loc["p1", "similar_item_id"] == "p2"
