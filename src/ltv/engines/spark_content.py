"""ml_item_content_similarities on Spark: content_similarity.content_similarities distributed, with no
table that grows with the catalogue collected to the driver (only the item count reaches it).

The rows are the DuckDB build's to the bit. content_top_k.py proves that each item's top K is among
  * the heads: for every non-empty subset G of the one-hot groups (category, brand, price band) with a
    positive weight, the first K + 1 items, by (norm, item_id), of each cell of items sharing all of
    G's values, paired with every other member of that cell;
  * the pairs sharing a word, of those only the ones that could reach content_top_k's lower bound L_i
    (K items score at least L_i with i) even with a text cosine of 1: that cut, made on the rows of
    the self-join on the word before they are grouped into pairs, keeps 15M of the 49M pairs of a
    generated 20,000-item catalogue (content_top_k's word suffixes, which cut further, are not done).
Both are found here by joins, and every candidate is scored exactly as content_top_k.pair_scores
scores it, by the same IEEE operations in the same order:
  * the TF-IDF rows are sklearn's: the words come from the vectorizer's own analyzer in the
    executors, the per-item weighting (`term_weights`) runs sklearn's and ltv's code on a small CSR
    matrix per batch of items whose entries are stored in the order TfidfVectorizer stores them (by
    the word's first appearance in the catalogue), so the row norms are summed in the same order;
  * the text cosine is a left fold over the shared words in vocabulary (string) order, the order the
    sparse product and text_cosines add them (Spark's sum adds in the order tasks finish);
  * logarithms are numpy's, in the executors' Python workers; the rounding is numpy's rint(x * 1e12)
    / 1e12 (spark_recommendations._rounded) and ties go to the smaller item_id.
The items are the catalogue's rows with an item_id, one per id (the model's input, stg_shop__items,
has unique ids; should an id repeat, the smallest row by its columns is kept, where the DuckDB code
keeps whichever row comes first).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd

from ltv.content_similarity import ONE_HOT_GROUPS, content_group_weights, content_text_vectorizer
from ltv.content_top_k import SLACK
from ltv.engines.spark_recommendations import _ordered_sum, _rounded, _top_per_group
from ltv.similarity import SIMILARITY_DECIMALS, _normalise_columns

TEXT_COLUMNS = ("title", "description")
# Items per call of the TF-IDF weighting (each is a pandas frame of their words).
ITEMS_PER_WEIGHTING_GROUP = 5000
ENTRY_COLUMNS = ["item_id", "term", "count", "idf", "first_item", "first_position"]


def item_tokens(batches):
    """[item_id, text] batches -> [item_id, term, count, position]: the words the content
    vectorizer's analyzer finds in each text, with their count and the place of their first occurrence
    (the order TfidfVectorizer numbers new words in)."""
    analyze = content_text_vectorizer(1).build_analyzer()  # the analyzer does not depend on the count
    for batch in batches:
        ids, terms, counts, positions = [], [], [], []
        for item_id, text in zip(batch["item_id"], batch["text"], strict=True):
            first_seen: dict[str, list[int]] = {}
            for position, term in enumerate(analyze(text)):
                seen = first_seen.setdefault(term, [0, position])
                seen[0] += 1
            for term, (count, position) in first_seen.items():
                ids.append(item_id), terms.append(term), counts.append(count), positions.append(position)
        if ids:  # (an empty frame's columns have no type Arrow could convert)
            yield pd.DataFrame({"item_id": ids, "term": terms, "count": np.asarray(counts, np.int64),
                                "position": np.asarray(positions, np.int64)})


def term_weights(entries: pd.DataFrame) -> pd.DataFrame:
    """The TF-IDF rows of content_similarity._text_matrix for some items, from all their entries
    [item_id, term, count, idf, first_item, first_position] (words the max_df cut kept; first_item
    and first_position: where the word first occurs in the catalogue sorted by item_id) ->
    [item_id, term, weight].

    TfidfTransformer.transform with sublinear_tf, then ltv's column normalisation of the transpose,
    on a CSR matrix of these items whose columns are their words in vocabulary (string) order. Every
    operation is per entry or per row, so the other items and words change nothing; a row's entries
    are stored as TfidfVectorizer stores them (by first occurrence: its matrix is sorted on the word
    numbers of first occurrence before they are renumbered in string order), the order in which
    sklearn's normalize sums their squares."""
    import scipy.sparse as sparse
    from sklearn.preprocessing import normalize

    entries = entries.sort_values(["item_id", "first_item", "first_position"], kind="stable")
    item_codes, item_ids = pd.factorize(entries["item_id"])
    term_codes, terms = pd.factorize(entries["term"], sort=True)
    data = entries["count"].to_numpy(np.float64, copy=True)
    np.log(data, data)  # TfidfTransformer.transform's sublinear tf, in its order
    data += 1.0
    data *= entries["idf"].to_numpy(np.float64)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(item_codes, minlength=len(item_ids)))))
    tfidf = sparse.csr_matrix((data, term_codes.astype(np.int32), indptr), shape=(len(item_ids), len(terms)))
    tfidf = normalize(tfidf, norm="l2", copy=False)
    text = _normalise_columns(sparse.csr_matrix(tfidf, dtype=np.float64).T.tocsr()).T.tocoo()
    return pd.DataFrame({"item_id": item_ids.take(text.row), "term": terms.take(text.col), "weight": text.data})


def _numpy_idf(n_items: int):
    """TfidfTransformer.fit's smooth idf of a document-frequency column: log((n + 1) / (df + 1)) + 1,
    by numpy in the executors (the JVM's log may differ in the last bit)."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def idf(document_frequency: pd.Series) -> pd.Series:
        values = np.full(len(document_frequency), n_items + 1, dtype=np.float64)
        values /= document_frequency.to_numpy(np.float64) + 1.0
        np.log(values, out=values)
        values += 1.0
        return pd.Series(values, index=document_frequency.index)

    return idf


def _catalogue(items):
    """One row per non-null item_id: item_id, the attribute columns it has (price as a double, NaN
    as null) and `text` (title and description joined as content_similarity._item_text joins them)."""
    from pyspark.sql import functions as F

    attributes = [column for column in ("category", "brand", "price", *TEXT_COLUMNS) if column in items.columns]
    rows = items.where(F.col("item_id").isNotNull())
    if attributes:
        rows = (rows.groupBy("item_id").agg(F.min(F.struct(*attributes)).alias("row"))
                .select("item_id", *(F.col(f"row.{column}").alias(column) for column in attributes)))
    else:
        rows = rows.select("item_id").distinct()
    if "price" in attributes:
        price = F.col("price").cast("double")
        rows = rows.withColumn("price", F.when(F.isnan(price), F.lit(None)).otherwise(price))
    texts = [F.coalesce(F.col(column).cast("string"), F.lit("")) for column in TEXT_COLUMNS if column in attributes]
    if texts:
        rows = rows.withColumn("text", F.concat_ws(" ", *texts))
    return rows


def _price_band_key(catalogue, price_bands: int):
    """content_parts' price band key: price_bands_within_category's band (null without a price),
    prefixed by the category ('' for none) so that bands of different categories differ."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    has_category = "category" in catalogue.columns
    group = F.coalesce(F.col("category"), F.lit("\0missing")) if has_category else F.lit(0)
    within = Window.partitionBy(group)
    cheaper = F.rank().over(within.orderBy(F.col("price").asc_nulls_last())) - 1
    priced = F.count("price").over(within)
    band = F.least(F.floor(F.lit(float(price_bands)) * cheaper.cast("double") / priced.cast("double")),
                   F.lit(price_bands - 1))
    category = F.coalesce(F.col("category").cast("string"), F.lit("")) if has_category else F.lit("")
    return F.when(F.col("price").isNotNull(), F.concat(category, F.lit("\0"), band.cast("bigint").cast("string")))


def _group_columns(catalogue, price_bands: int) -> list[str]:
    """The one-hot groups the catalogue has columns for, in content_parts' order."""
    present = {"category": "category" in catalogue.columns, "brand": "brand" in catalogue.columns,
               "price_band": "price" in catalogue.columns and price_bands > 0}
    return [group for group in ONE_HOT_GROUPS if present[group]]


def _text_weights(catalogue, n_items: int):
    """[item_id, term, weight]: each item's TF-IDF row (content_similarity._text_matrix), one row per word."""
    from pyspark.sql import functions as F

    id_type = catalogue.schema["item_id"].dataType.simpleString()
    tokens = catalogue.select("item_id", "text").mapInPandas(
        item_tokens, f"item_id {id_type}, term string, count bigint, position bigint")
    max_df = content_text_vectorizer(n_items).max_df
    first = F.min(F.struct(F.col("item_id").alias("first_item"), F.col("position").alias("first_position")))
    vocabulary = (tokens.groupBy("term").agg(F.count("*").alias("df"), first.alias("first"))
                  .where(F.col("df") <= max_df)  # sklearn drops the words in more than max_df items
                  .select("term", _numpy_idf(n_items)(F.col("df")).alias("idf"), "first.first_item",
                          "first.first_position"))
    entries = tokens.join(vocabulary, "term").select(*ENTRY_COLUMNS)
    groups = max(1, -(-n_items // ITEMS_PER_WEIGHTING_GROUP))
    return (entries.groupBy(F.pmod(F.hash("item_id"), F.lit(groups)).alias("weighting_group"))
            .applyInPandas(lambda frame: term_weights(frame[ENTRY_COLUMNS]),
                           f"item_id {id_type}, term string, weight double"))


def _keyed_items(catalogue, groups: list[str], price_bands: int, text, weights: dict):
    """[item_id, key_<group> for each group, norm]: content_parts' one-hot values (null where the item
    has none) and content_top_k.item_norms' n_i = sqrt(summed weights of the groups the item has)."""
    from pyspark.sql import functions as F

    values = {"category": F.col("category"), "brand": F.col("brand"),
              "price_band": _price_band_key(catalogue, price_bands) if "price_band" in groups else None}
    items = catalogue.select("item_id", *(values[group].alias(f"key_{group}") for group in groups))
    # Added group by group from 0 as the matrix product adds them (absent groups add 0.0: no change).
    squared = F.lit(0.0)
    for group in groups:
        squared = squared + F.when(F.col(f"key_{group}").isNotNull(), F.lit(float(weights[group]))).otherwise(0.0)
    if text is not None:
        with_text = text.select("item_id").distinct().withColumn("has_text", F.lit(1.0))
        items = items.join(with_text, "item_id", "left")
        squared = squared + F.lit(float(weights["text"])) * F.coalesce(F.col("has_text"), F.lit(0.0))
    return items.select("item_id", *(f"key_{group}" for group in groups), F.sqrt(squared).alias("norm"))


def _cells(items, groups: list[str], weights: dict):
    """[item_id, norm, subset, shared, key_<group>...]: each item's cell of each non-empty subset G of
    the groups with a positive weight (the items with all of G's values; the other groups' keys null
    here), shared = S_G, the summed weights of G. None without such a group."""
    from pyspark.sql import functions as F

    weighted = [group for group in groups if weights[group] > 0]
    keys = [f"key_{group}" for group in groups]
    cells = []
    for size in range(1, len(weighted) + 1):
        for subset in combinations(weighted, size):
            in_cell = F.col("norm") > 0
            for group in subset:
                in_cell = in_cell & F.col(f"key_{group}").isNotNull()
            values = [F.col(key) if group in subset else F.lit(None).cast(items.schema[key].dataType)
                      for group, key in zip(groups, keys, strict=True)]
            cells.append(F.when(in_cell, F.struct(
                F.lit(",".join(subset)).alias("subset"), F.lit(sum(weights[group] for group in subset)).alias("shared"),
                *(value.alias(key) for value, key in zip(values, keys, strict=True)))))
    if not cells:
        return None
    return (items.select("item_id", "norm", F.explode(F.array(*cells)).alias("cell"))
            .where(F.col("cell").isNotNull()).select("item_id", "norm", "cell.*"))


def _placed(cells, top_k: int):
    """The cells' rows with `place`, 1.. in each cell by (norm, item_id), and the norms of the cell's
    K-th and K + 1st members (null where the cell is smaller)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cell = Window.partitionBy("subset", *(column for column in cells.columns if column.startswith("key_")))
    placed = cells.withColumn("place", F.row_number().over(cell.orderBy("norm", "item_id")))
    return (placed.withColumn("kth_norm", F.max(F.when(F.col("place") == top_k, F.col("norm"))).over(cell))
            .withColumn("next_norm", F.max(F.when(F.col("place") == top_k + 1, F.col("norm"))).over(cell)))


def _head_pairs(placed, top_k: int):
    """[item_id, similar_item_id] of content_top_k's heads: each cell's first K + 1 members, paired
    with every other member of the cell."""
    from pyspark.sql import functions as F

    keys = [column for column in placed.columns if column.startswith("key_")]
    heads = placed.where(F.col("place") <= top_k + 1)
    same_cell = [F.col("member.subset") == F.col("head.subset"),
                 *(F.col(f"member.{key}").eqNullSafe(F.col(f"head.{key}")) for key in keys)]
    return (placed.alias("member").join(heads.alias("head"), same_cell)
            .where(F.col("member.item_id") != F.col("head.item_id"))
            .select(F.col("member.item_id").alias("item_id"), F.col("head.item_id").alias("similar_item_id")))


def _lower_bounds(placed, top_k: int):
    """[item_id, bound]: content_top_k's L_i less SLACK, the largest over i's cells of S_G / (n_i * n of
    the K-th other member): K items score at least that with i, so no pair scoring less can be in its
    top K (items without a cell of more than K members have none: no row)."""
    from pyspark.sql import functions as F

    kth_other = F.when(F.col("place") <= top_k, F.col("next_norm")).otherwise(F.col("kth_norm"))
    return (placed.where(kth_other.isNotNull() & (F.lit(top_k) > 0))
            .groupBy("item_id").agg(F.max(F.col("shared") / (F.col("norm") * kth_other)).alias("bound"))
            .select("item_id", (F.col("bound") - F.lit(SLACK)).alias("bound")))


def _text_pairs(text, keyed, bounds, groups: list[str], weights: dict):
    """[item_id, similar_item_id, text_cosine] of every pair sharing a word that could reach i's lower
    bound (with t = 1): the sum of the products of their shared words' weights, added in vocabulary
    order from 0 (content_top_k.text_cosines)."""
    from pyspark.sql import functions as F

    sides = text.join(keyed, "item_id")
    left = sides.join(bounds, "item_id", "left") if bounds is not None else sides.withColumn("bound", F.lit(None))
    reachable = (_shared_weight(groups, weights, "left", "right") + F.lit(float(weights["text"]))) / (
        F.col("left.norm") * F.col("right.norm")) >= F.coalesce(F.col("left.bound"), F.lit(0.0))
    products = (left.alias("left").join(sides.alias("right"), "term")
                .where((F.col("left.item_id") != F.col("right.item_id")) & reachable)
                .select("term", F.col("left.item_id").alias("item_id"), F.col("right.item_id").alias("similar_item_id"),
                        (F.col("left.weight") * F.col("right.weight")).alias("product")))
    return products.groupBy("item_id", "similar_item_id").agg(_ordered_sum("term", "product").alias("text_cosine"))


def _shared_weight(groups: list[str], weights: dict, left: str, right: str):
    """content_top_k.shared_weight: S(i, j) summed over the groups in order from 0, of the columns
    key_<group> of the frames aliased `left` and `right`."""
    from pyspark.sql import functions as F

    shared = F.lit(0.0)
    for group in groups:
        if weights[group] > 0:
            same = F.col(f"{left}.key_{group}") == F.col(f"{right}.key_{group}")  # null where either lacks it
            shared = shared + F.when(same, F.lit(float(weights[group]))).otherwise(F.lit(0.0))
    return shared


def _scored(candidates, items, groups: list[str], weights: dict):
    """content_top_k.pair_scores of each candidate [item_id, similar_item_id, text_cosine]: rounded
    (S + w_text * t) / (n_i * n_j), at most 1."""
    from pyspark.sql import functions as F

    pairs = (candidates.join(items.alias("i"), "item_id")
             .join(items.alias("j"), F.col("similar_item_id") == F.col("j.item_id")))
    cosine = (_shared_weight(groups, weights, "i", "j") + F.lit(float(weights["text"])) * F.col("text_cosine")) / (
        F.col("i.norm") * F.col("j.norm"))
    return pairs.select(F.col("i.item_id").alias("item_id"), "similar_item_id",
                        F.least(_rounded(cosine, SIMILARITY_DECIMALS), F.lit(1.0)).alias("similarity"))


def content_similarities(items, top_k: int = 50, price_bands: int = 5, group_weights: dict | None = None):
    """content_similarity.content_similarities on a Spark DataFrame of the catalogue [item_id and any
    of category, brand, price, title, description]: a Spark DataFrame [item_id, similar_item_id,
    similarity, rank] with the same rows."""
    from pyspark.sql import functions as F

    weights = content_group_weights(group_weights)
    # The catalogue, the TF-IDF rows, the keyed items and their cells are computed once and kept in the
    # executors: the plans below read each several times. (A checkpoint's blocks are freed once its frame is no
    # longer referenced, where a cache would stay until unpersisted.)
    catalogue = _catalogue(items).localCheckpoint(eager=True)
    n_items = catalogue.count()  # the one number the driver needs: TF-IDF's document count
    text = _text_weights(catalogue, n_items).localCheckpoint(eager=True) if "text" in catalogue.columns else None
    groups = _group_columns(catalogue, price_bands)
    keyed = _keyed_items(catalogue, groups, price_bands, text, weights).localCheckpoint(eager=True)
    cells = _cells(keyed, groups, weights)
    placed = _placed(cells, top_k).localCheckpoint(eager=True) if cells is not None else None
    parts = [] if placed is None else [_head_pairs(placed, top_k).withColumn("text_cosine", F.lit(0.0))]
    if text is not None and weights["text"] > 0:
        bounds = _lower_bounds(placed, top_k) if placed is not None else None
        parts.append(_text_pairs(text, keyed, bounds, groups, weights))
    if not parts:
        return keyed.where(F.lit(False)).select(
            "item_id", F.col("item_id").alias("similar_item_id"), F.lit(0.0).alias("similarity"),
            F.lit(0).cast("bigint").alias("rank"))
    candidates = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    # A head sharing words is also a text pair: its exact cosine is the larger (the head's is 0).
    candidates = candidates.groupBy("item_id", "similar_item_id").agg(F.max("text_cosine").alias("text_cosine"))
    kept = _scored(candidates, keyed, groups, weights).where(F.col("similarity") > 0)
    return _top_per_group(kept, "item_id", "similarity", "similar_item_id", top_k).select(
        "item_id", "similar_item_id", "similarity", "rank")
