"""Content similarity's pruned top-K against a dense brute force built independently: every pair's
cosine of the attribute vectors written out with numpy and sklearn's TfidfVectorizer, then sorted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from test_similarity import assert_same_lists, brute_force_top_k

from ltv.content_similarity import content_parts, content_similarities
from ltv.content_top_k import ContentTopK

WORDS = ["red", "blue", "shoe", "boot", "tent", "foam", "roller", "glass", "wood", "steel", "soft", "light",
         "warm", "the", "and"]


def random_catalogue(seed: int, n_items: int) -> pd.DataFrame:
    """Items in few categories, brands and prices (so cells hold many items and the bounds prune),
    short texts from a small vocabulary (shared words, identical texts, stop words only), and
    missing values in every column."""
    rng = np.random.default_rng(seed)

    def text():
        length = int(rng.integers(0, 5))
        return " ".join(rng.choice(WORDS, length)) if length else (None if rng.random() < 0.5 else "")

    return pd.DataFrame({
        "item_id": [f"i{number}" for number in rng.permutation(n_items)],  # string order != number order
        "category": [str(rng.choice(["a", "b", "c"][: 1 + seed % 3])) if rng.random() > 0.1 else None
                     for _ in range(n_items)],
        "brand": [str(rng.choice(["x", "y", "z"])) if rng.random() > 0.2 else None for _ in range(n_items)],
        "price": [float(rng.integers(1, 4)) if rng.random() > 0.15 else np.nan for _ in range(n_items)],
        "title": [text() for _ in range(n_items)],
        "description": [text() for _ in range(n_items)],
    })


def brute_force(items: pd.DataFrame, top_k: int, price_bands: int = 5) -> pd.DataFrame:
    """Dense vectors: one-hot category, brand and (category, price band) — the band of a price is
    floor(bands * (cheaper items in its category) / (priced items in its category)) — and TF-IDF,
    each row unit length and scaled by sqrt(0.25); every pair's cosine; sorted (-similarity, id)."""
    items = items.drop_duplicates("item_id").sort_values("item_id").reset_index(drop=True)
    blocks = []
    for column in ("category", "brand"):
        if column in items:
            blocks.append(pd.get_dummies(items[column]).to_numpy(float))
    if "price" in items:
        category = items["category"] if "category" in items else pd.Series("", index=items.index)
        bands = []
        for category_value, price in zip(category, items["price"], strict=True):
            prices = items["price"][(category.isna() & pd.isna(category_value)) | (category == category_value)].dropna()
            band = None if np.isnan(price) else min(price_bands - 1, int(price_bands * (prices < price).sum() / len(prices)))
            bands.append(None if band is None else f"{category_value}|{band}")
        blocks.append(pd.get_dummies(pd.Series(bands)).to_numpy(float))
    text_columns = [column for column in ("title", "description") if column in items]
    if text_columns:
        text = items[text_columns].fillna("").astype(str).apply(" ".join, axis=1)
        try:
            blocks.append(TfidfVectorizer(stop_words="english", sublinear_tf=True, max_df=100)
                          .fit_transform(text).toarray())
        except ValueError:  # only stop words anywhere
            pass
    scaled = []
    for block in blocks:
        norms = np.sqrt((block**2).sum(axis=1, keepdims=True))
        scaled.append(0.5 * block / np.where(norms > 0, norms, 1.0))
    vectors = np.hstack(scaled).T if scaled else np.zeros((0, len(items)))
    return brute_force_top_k(vectors, items["item_id"].tolist(), top_k)


@pytest.mark.parametrize("seed", range(12))
def test_pruned_top_k_matches_brute_force(seed):
    rng = np.random.default_rng(1000 + seed)
    items = random_catalogue(seed, n_items=int(rng.integers(40, 160)))
    items = items.drop(columns=[[], ["brand"], ["description"], ["category"], ["price"]][seed % 5])
    top_k = int(rng.integers(1, 8))
    expected = brute_force(items, top_k)
    assert_same_lists(content_similarities(items, top_k=top_k, chunk_items=int(rng.integers(1, 50))), expected)


def test_identical_items_fill_the_list_and_ties_go_to_the_smaller_id():
    # Twenty identical items: every pair scores 1, so each item's top 3 are the three smallest other ids.
    items = pd.DataFrame({"item_id": [f"i{number:02d}" for number in range(20)], "category": "c",
                          "brand": "x", "price": 1.0, "title": "red shoe", "description": "soft"})
    result = content_similarities(items, top_k=3)
    assert result["similarity"].tolist() == pytest.approx([1.0] * 60, abs=1e-12)
    assert result.loc[result["item_id"] == "i00", "similar_item_id"].tolist() == ["i01", "i02", "i03"]
    assert result.loc[result["item_id"] == "i05", "similar_item_id"].tolist() == ["i00", "i01", "i02"]


def test_lower_bound_by_hand():
    # a, b, c share category, brand and band (0.75 of a cosine whose norms are 1); d shares only the
    # category with them. With K = 2, a's second-best is at least 0.75: b and c both score that.
    items = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "category": ["s", "s", "s", "s"],
                          "brand": ["x", "x", "x", "y"], "price": [1.0, 1.0, 1.0, 1.0],
                          "title": ["red", "blue", "green", "red"], "description": None})
    finder = ContentTopK(content_parts(items), top_k=2)
    # Three items of one cell give each of them two others at 0.75; d's cells hold at most 1 other.
    np.testing.assert_allclose(finder.bound[:3], 0.75 - 1e-9, rtol=0, atol=1e-12)
    # d shares the category with 3 items and the band with 3 (the band is within the category):
    # its second-best is at least 0.5 (category and band).
    assert finder.bound[3] == pytest.approx(0.5 - 1e-9, abs=1e-12)
    result = content_similarities(items, top_k=2)
    # d's best is a (the same word 'red': 0.5 + 0.25), then b (0.5, ties to the smaller id).
    assert result.loc[result["item_id"] == "d", ["similar_item_id", "similarity"]].values.tolist() == [
        ["a", pytest.approx(0.75)], ["b", pytest.approx(0.5)]]
