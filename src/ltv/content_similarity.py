"""Content similarity: cosine between item attribute vectors, for new items and 'similar items'.

An item's vector is its attribute groups side by side, each unit length and scaled by the square
root of its weight: one-hot category, one-hot brand, one-hot (category, price band) and the TF-IDF
of title + description. The cosine of two items is therefore

    sim(i, j) = (S(i, j) + w_text * t(i, j)) / (n_i * n_j)

with S(i, j) the summed weights of the one-hot groups the two items share, t(i, j) the cosine of
their TF-IDF rows and n_i = sqrt(summed weights of the groups item i has). content_top_k.py finds
each item's top-K under that formula without the items x items product (see there); the output is
the one item_similarities has (similarity.py's module docstring: ranks, ties, rounding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sparse

from ltv.content_top_k import ContentParts, content_top_k
from ltv.similarity import _normalise_columns, _similarity_frame

# Equal weights: each attribute group can move the content cosine by the same amount.
DEFAULT_CONTENT_GROUP_WEIGHTS = {"category": 0.25, "brand": 0.25, "price_band": 0.25, "text": 0.25}
CONTENT_BOILERPLATE_SHARE = 0.05
CONTENT_BOILERPLATE_MIN_ITEMS = 100
ONE_HOT_GROUPS = ("category", "brand", "price_band")


def price_bands_within_category(items: pd.DataFrame, price_bands: int) -> pd.Series:
    """Price band 0..price_bands-1 of each item: its price's quantile within its category.

    Within the category because "cheap" means different things for socks and sofas; the band is
    floor(price_bands * (items in the category cheaper than it) / (priced items in the category)),
    so equal prices share a band. Without a category column the whole catalogue is one category.
    Missing prices get no band (NaN).
    """
    price = pd.to_numeric(items["price"], errors="coerce")
    group = items["category"].fillna("\0missing") if "category" in items else pd.Series(0, index=items.index)
    cheaper = price.groupby(group).rank(method="min") - 1
    priced = price.groupby(group).transform("count")
    band = np.floor(price_bands * cheaper / priced).clip(upper=price_bands - 1)
    return band.where(price.notna())


def content_text_vectorizer(n_items: int):
    """TF-IDF for titles and descriptions. Words in more than 5% of the catalogue (and in more
    than 100 items) are dropped: they are boilerplate ("recyclable packaging", "designed"), which
    IDF already weighs near zero but which would make almost every pair of items a candidate and
    the sparse product nearly dense (38,000 of 50,000 items per row on the generated catalogue)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(stop_words="english", sublinear_tf=True,
                           max_df=max(CONTENT_BOILERPLATE_MIN_ITEMS, int(CONTENT_BOILERPLATE_SHARE * n_items)))


def _item_text(items: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Title and description joined by a space, a missing one as empty text. Concatenated column by
    column: joining row by row (DataFrame.agg) took 4 of the 6 seconds of 50,000 items' TF-IDF."""
    text = items[columns[0]].fillna("").astype(str)
    for column in columns[1:]:
        text = text + " " + items[column].fillna("").astype(str)
    return text


def _text_matrix(items: pd.DataFrame) -> sparse.csr_matrix | None:
    text_columns = [column for column in ("title", "description") if column in items]
    if not text_columns:
        return None
    try:
        tfidf = content_text_vectorizer(len(items)).fit_transform(_item_text(items, text_columns))
    except ValueError:  # empty vocabulary: no usable words anywhere, so no text group
        return None
    # Rows exactly unit length (or empty), as the group vectors are scaled before the cosine.
    return _normalise_columns(sparse.csr_matrix(tfidf, dtype=np.float64).T.tocsr()).T.tocsr()


def content_group_weights(group_weights: dict | None = None) -> dict:
    """DEFAULT_CONTENT_GROUP_WEIGHTS with the overrides in group_weights; refuses unknown groups and
    negative weights (shared by the DuckDB and the Spark code)."""
    weights = {**DEFAULT_CONTENT_GROUP_WEIGHTS, **(group_weights or {})}
    if set(weights) != set(DEFAULT_CONTENT_GROUP_WEIGHTS) or min(weights.values()) < 0:
        raise ValueError(f"group_weights: non-negative weights for {sorted(DEFAULT_CONTENT_GROUP_WEIGHTS)}")
    return weights


def content_parts(items: pd.DataFrame, price_bands: int = 5, group_weights: dict | None = None) -> ContentParts:
    """The attribute groups of `items` (one row per item, in the order given); each group is used
    only if its columns exist. group_weights: overrides of DEFAULT_CONTENT_GROUP_WEIGHTS."""
    weights = content_group_weights(group_weights)
    codes = np.full((len(items), len(ONE_HOT_GROUPS)), -1, dtype=np.int64)
    for position, column in enumerate(("category", "brand")):
        if column in items:
            codes[:, position] = pd.factorize(items[column], sort=True)[0]
    if "price" in items and price_bands > 0:
        band = price_bands_within_category(items, price_bands)
        category = (
            items["category"].astype("string") if "category" in items else pd.Series("", index=items.index)
        )
        key = (category.fillna("") + "\0" + band.astype("Int64").astype("string")).where(band.notna())
        codes[:, 2] = pd.factorize(key, sort=True)[0]
    return ContentParts(codes, np.array([float(weights[group]) for group in ONE_HOT_GROUPS]),
                        _text_matrix(items), float(weights["text"]))


def content_item_vectors(
    items: pd.DataFrame, price_bands: int = 5, group_weights: dict | None = None
) -> sparse.csr_matrix:
    """items x features matrix: the weighted, individually unit-length attribute groups side by side.

    Each group is scaled by sqrt(weight), so the dot product of two items is sum over groups of
    weight * (group cosine) and, when both items have every group and the weights sum to 1, their
    cosine is the weighted mean of the group cosines: with the default equal weights, same
    category, same brand, same price band and identical text each add 0.25. content_similarities
    does not build it (content_top_k works on the parts); it is the plain definition, kept for
    comparisons."""
    parts = content_parts(items, price_bands, group_weights)
    n_items = len(items)
    blocks = []
    for position, weight in enumerate(parts.group_weights):
        codes = parts.codes[:, position]
        present = codes >= 0
        if present.any():
            one_hot = sparse.csr_matrix((np.ones(int(present.sum())), (np.flatnonzero(present), codes[present])),
                                        shape=(n_items, int(codes.max()) + 1))
            blocks.append(one_hot * np.sqrt(weight))
    if parts.text is not None:
        blocks.append(parts.text * np.sqrt(parts.text_weight))
    if not blocks:
        return sparse.csr_matrix((n_items, 0))
    return sparse.hstack(blocks, format="csr")


def content_similarities(
    items: pd.DataFrame,
    top_k: int = 50,
    price_bands: int = 5,
    chunk_items: int = 2048,
    group_weights: dict | None = None,
) -> pd.DataFrame:
    """Content similarity: each item's top_k items by the cosine of their attribute vectors.

    items: DataFrame[item_id, and any of category, brand, price, title, description]; one row per
        item (later duplicates of an item_id are ignored). Missing values just leave that group out.
    group_weights: overrides of DEFAULT_CONTENT_GROUP_WEIGHTS (category, brand, price_band, text).
    chunk_items: the most items per block; only memory and speed depend on it, never the result.
    Returns DataFrame[item_id, similar_item_id, similarity, rank] with the same tie rules as
    item_similarities.
    """
    items = items.dropna(subset=["item_id"]).drop_duplicates("item_id").sort_values("item_id", kind="stable")
    items = items.reset_index(drop=True)
    parts = content_parts(items, price_bands, group_weights)
    return _similarity_frame(pd.Index(items["item_id"]), *content_top_k(parts, top_k, chunk_items))
