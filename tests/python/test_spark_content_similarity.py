"""ml_item_content_similarities on Spark (ltv.engines.spark_content) against the DuckDB build's code,
content_similarity.content_similarities, called directly on the same catalogue: the same rows to the
bit (ids, ranks and every float), on the demo catalogue (in the shared Spark and DuckDB builds) and on hand-made shapes (exact ties, a word
pruned as boilerplate, missing columns, missing values, one item, no usable words, K above the
catalogue). Then, without Spark, the per-item TF-IDF weighting against sklearn's own rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import local_spark_session, requires_spark

requires_spark()

from ltv.content_similarity import (  # noqa: E402
    _item_text,
    _text_matrix,
    content_similarities,
    content_text_vectorizer,
)
from ltv.engines.spark_content import item_tokens, term_weights  # noqa: E402

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
COLUMN_TYPES = {"item_id": "string", "title": "string", "category": "string", "brand": "string",
                "price": "double", "description": "string"}
WORDS = ("linen cotton wool denim leather canvas bamboo steel copper oak walnut ceramic glass marble velvet "
         "silk cedar birch maple slate").split()


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    session = local_spark_session(tmp_path_factory, "ltv-test-content-similarity", partitions=3)
    yield session
    session.stop()


def _spark_rows(spark, items: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """spark_content.content_similarities of `items` (a Spark frame of the same columns), as pandas."""
    from ltv.engines.spark_content import content_similarities as spark_content_similarities

    schema = ", ".join(f"{column} {COLUMN_TYPES[column]}" for column in items.columns)
    rows = items.astype(object).where(items.notna(), None)
    frame = spark.createDataFrame(rows.to_dict("records") if len(rows) else [], schema)
    result = spark_content_similarities(frame, top_k=top_k).toPandas()
    return result.sort_values(["item_id", "rank"]).reset_index(drop=True)


def assert_spark_equals_duckdb_code(spark, items: pd.DataFrame, top_k: int, min_rows: int = 1) -> pd.DataFrame:
    expected = content_similarities(items, top_k=top_k)
    got = _spark_rows(spark, items, top_k)
    assert len(expected) >= min_rows
    if len(expected) == 0:
        assert len(got) == 0
        return expected
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=True)
    return expected


def _catalogue(seed: int, n_items: int, boilerplate_share: float = 0.0) -> pd.DataFrame:
    """Items with few categories and brands, prices with repeats and texts drawn from a small
    vocabulary (many shared words, repeated words), `boilerplate_share` of them with one common phrase."""
    rng = np.random.default_rng(seed)
    words = np.array(WORDS)

    def text(low: int, high: int) -> list[str]:
        return [" ".join(rng.choice(words, rng.integers(low, high), p=None)) for _ in range(n_items)]

    description = text(3, 12)
    marked = rng.random(n_items) < boilerplate_share
    description = [f"{body} recyclable packaging" if mark else body for body, mark in zip(description, marked,
                                                                                           strict=True)]
    return pd.DataFrame({
        "item_id": [f"I{number:04d}" for number in rng.permutation(n_items)],
        "title": text(1, 4),
        "category": rng.choice(["Home", "Garden", "Sports", "Kitchen"], n_items),
        "brand": rng.choice(["Acme", "Birch & Co", "Corvid", "Dune", "Ember"], n_items),
        "price": np.round(rng.choice([4.99, 9.99, 12.5, 20.0, 35.0, 80.0], n_items) + rng.integers(0, 3, n_items), 2),
        "description": description,
    })


@pytest.mark.parametrize("columns", [list(COLUMN_TYPES), ["item_id", "category", "brand"]])
def test_identical_items_tie_everywhere(spark, columns):
    """Blocks of identical items: every similarity ties, so ranks and the cut follow the ids alone.
    Without text only the heads find the neighbours: the first item of a block needs its K + 1st."""
    base = _catalogue(3, 6)[columns]
    items = pd.concat([base.assign(item_id=[f"{item}-{copy}" for item in base["item_id"]]) for copy in range(9)],
                      ignore_index=True)
    expected = assert_spark_equals_duckdb_code(spark, items, top_k=5, min_rows=50)
    assert (expected["similarity"] == 1.0).sum() > 50


def test_boilerplate_words_are_pruned_as_sklearn_prunes_them(spark):
    """'recyclable' and 'packaging' in more than 100 items and 5% of the catalogue: sklearn drops them."""
    items = _catalogue(5, 300, boilerplate_share=0.45)
    assert items["description"].str.contains("recyclable packaging").sum() > 100
    vectorizer = content_text_vectorizer(len(items)).fit(_item_text(items, ["title", "description"]))
    assert not {"recyclable", "packaging"} & set(vectorizer.vocabulary_)
    assert_spark_equals_duckdb_code(spark, items, top_k=20, min_rows=5000)


@pytest.mark.parametrize("dropped", [["brand"], ["title", "description"], ["price"], ["category"],
                                     ["title"], ["category", "brand", "price"]])
def test_without_columns(spark, dropped):
    items = _catalogue(7, 80, boilerplate_share=0.2).drop(columns=dropped)
    assert_spark_equals_duckdb_code(spark, items, top_k=10, min_rows=100)


def test_missing_values_in_every_column(spark):
    """Nulls in each column (an item with nothing at all among them), null ids, an empty category,
    repeated rows."""
    items = _catalogue(11, 90, boilerplate_share=0.3)
    rng = np.random.default_rng(12)
    for column in ("title", "category", "brand", "price", "description"):
        items.loc[rng.random(len(items)) < 0.25, column] = None
    items.loc[3, ["title", "category", "brand", "price", "description"]] = None
    items.loc[5:8, "category"] = ""
    items.loc[10:12, "item_id"] = None
    items = pd.concat([items, items.iloc[[20, 40]]], ignore_index=True)  # repeated rows: one item each
    assert_spark_equals_duckdb_code(spark, items, top_k=8, min_rows=200)


def test_tiny_catalogues_and_k_above_the_catalogue(spark):
    """One item, no items, items with nothing but an id: no rows; 12 items with K = 40: all pairs."""
    for items in (_catalogue(13, 1), _catalogue(13, 0), _catalogue(13, 5)[["item_id"]]):
        assert len(assert_spark_equals_duckdb_code(spark, items, top_k=5, min_rows=0)) == 0
    assert_spark_equals_duckdb_code(spark, _catalogue(14, 12), top_k=40, min_rows=60)


def test_no_usable_words(spark):
    """Titles of stop words and one-letter words: sklearn finds an empty vocabulary, so no text group."""
    items = _catalogue(15, 40).drop(columns=["description"])
    items["title"] = np.random.default_rng(16).choice(["the and of", "a b c", "x", "it is what it is"], len(items))
    with pytest.raises(ValueError, match="empty vocabulary"):
        content_text_vectorizer(len(items)).fit(items["title"])
    assert_spark_equals_duckdb_code(spark, items, top_k=6, min_rows=100)


# --- The TF-IDF rows, without Spark -----------------------------------------------------------------------


def _entries(items: pd.DataFrame) -> pd.DataFrame:
    """What spark_content._text_weights hands term_weights, computed here with pandas: each item's words
    (item_tokens, in two batches), those in at most max_df items, their idf and first occurrence."""
    texts = pd.DataFrame({"item_id": items["item_id"], "text": _item_text(items, ["title", "description"])})
    tokens = pd.concat(item_tokens(iter([texts.iloc[::2], texts.iloc[1::2]])), ignore_index=True)
    n_items = len(items)
    frequency = tokens.groupby("term").size()
    frequency = frequency[frequency <= content_text_vectorizer(n_items).max_df]
    first = tokens.sort_values(["item_id", "position"]).drop_duplicates("term").set_index("term")
    entries = tokens[tokens["term"].isin(frequency.index)].copy()
    entries["idf"] = entries["term"].map(np.log((n_items + 1) / (frequency.astype(float) + 1.0)) + 1.0)
    entries["first_item"] = entries["term"].map(first["item_id"])
    entries["first_position"] = entries["term"].map(first["position"])
    return entries


def _weights_by_batch(entries: pd.DataFrame, batches: int, seed: int) -> pd.DataFrame:
    batch_of_item = pd.Series(np.random.default_rng(seed).integers(0, batches, entries["item_id"].nunique()),
                              index=entries["item_id"].unique())
    parts = [term_weights(part) for _, part in entries.groupby(entries["item_id"].map(batch_of_item))]
    return pd.concat(parts, ignore_index=True)


def test_term_weights_are_sklearns_rows_to_the_bit():
    """term_weights over random batches of items equals content_similarity._text_matrix (TfidfVectorizer
    and ltv's normalisation) entry by entry; with the entries in string order instead of sklearn's
    storage order, some row norms are summed differently and weights differ in the last bit."""
    items = pd.concat([pd.read_csv(SEEDS / "items.csv", dtype={"item_id": str}).head(150),
                       _catalogue(17, 250, boilerplate_share=0.5)], ignore_index=True)
    items = items.sort_values("item_id").reset_index(drop=True)
    matrix = _text_matrix(items).tocoo()
    vocabulary = content_text_vectorizer(len(items)).fit(_item_text(items, ["title", "description"]))
    expected = pd.DataFrame({"item_id": items["item_id"].to_numpy()[matrix.row],
                             "term": vocabulary.get_feature_names_out()[matrix.col], "weight": matrix.data})
    entries = _entries(items)
    for batches in (1, 7):
        got = _weights_by_batch(entries, batches, seed=batches)
        both = expected.merge(got, on=["item_id", "term"], how="outer", suffixes=("", "_got"), indicator=True)
        assert (both["_merge"] == "both").all() and len(both) == matrix.nnz
        assert (both["weight"].to_numpy() == both["weight_got"].to_numpy()).all()
    in_string_order = _weights_by_batch(entries.assign(first_item="", first_position=0), 1, seed=0)
    both = expected.merge(in_string_order, on=["item_id", "term"], suffixes=("", "_got"))
    assert (both["weight"].to_numpy() != both["weight_got"].to_numpy()).sum() > 100


# Last in the file: it waits for the shared Spark build, which the hand-made shapes above do not need.
def test_the_demo_builds_content_similarities_equal_to_the_bit(demo_warehouse, spark_demo):
    """The demo catalogue, as both builds that every test file shares computed it (the Spark build's
    table read from its Parquet files): the same rows, every float bit for bit."""
    import duckdb
    from conftest import spark_parquet

    columns = "item_id, similar_item_id, similarity, rank, source"
    with duckdb.connect(str(demo_warehouse), read_only=True) as connection:
        expected = connection.sql(f"select {columns} from ml.ml_item_content_similarities order by item_id, rank").df()
        got = connection.sql(f"select {columns} from {spark_parquet(spark_demo / 'warehouse', 'ml.db/ml_item_content_similarities')} "
                             "order by item_id, rank").df()
    assert len(expected) >= 20_000
    assert expected.duplicated(["item_id", "similarity"]).sum() > 1000  # ties at and inside the cut
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)
