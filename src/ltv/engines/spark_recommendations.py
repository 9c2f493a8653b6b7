"""Behaviour similarity (ml_item_similarities v1, v2) and user recommendations (ml_user_recommendations
v1, v2, v3) on Spark, with no table that grows with the shop collected to the driver. (v3's item
weights are fitted on the driver from a bounded sample: ltv.engines.spark_offline.)

Item similarity is a sparse self-join of the weighted interactions on the user, summed per item pair,
with each item's top K kept by a window; recommendations join each user's history with those top-K
lists, sum per (user, item), keep each user's top N by a window, and give the users left without a
list the most popular items they do not own.

The rows are the DuckDB build's (ltv.similarity, ltv.recommend, recommendation_tuning's
config_recommendations), to the bit on the demo, because every number is computed by the same IEEE
operations in the same order:
- a sum over users (or over a user's items) is a left fold in id order over the sorted terms
  (`_ordered_sum`), which is the order the compiled passes add them (ids are coded in id order there);
  Spark's own `sum` adds partial sums in whatever order the tasks finish;
- logarithms are numpy's, in the executors' Python workers (`_numpy_log1p`); the JVM's log1p may
  differ from it in the last bit;
- rounding to SIMILARITY_DECIMALS / SCORE_DECIMALS is numpy's: rint(x * 10**d) / 10**d, and rint
  is round-half-even on both sides;
- ties in a top-K or top-N list go to the smaller id, as on the codes.
The one catalogue-sized vector of v2 (each item's summed weight, for BM25's mean item length) is
averaged by numpy in one executor task, so its pairwise sum is numpy's too; only the mean reaches
the driver.
"""

from __future__ import annotations

import numpy as np

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd

from ltv.recommend import SCORE_DECIMALS
from ltv.similarity import SIMILARITY_DECIMALS

INTERACTION_TRANSFORMS = {1: "binary", 2: "log1p"}
SIMILARITY_METHODS = {1: "cosine", 2: "bm25"}


def _numpy_log1p(column):
    """numpy's log1p of a double column, in the executors' Python workers."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def log1p(values: pd.Series) -> pd.Series:
        return pd.Series(np.log1p(values.to_numpy(np.float64)), index=values.index)

    return log1p(column)


def _numpy_mean(column):
    """numpy's mean of an array<double> column (pairwise summation, as ndarray.mean)."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def mean(arrays: pd.Series) -> pd.Series:
        return pd.Series([np.asarray(values, np.float64).mean() if len(values) else np.nan for values in arrays],
                         index=arrays.index)

    return mean(column)


def _ordered_sum(order_column: str, value_column: str, start: float = 0.0):
    """An aggregate: the left fold start + v1 + v2 + ... of value_column over the group's rows sorted
    by order_column (unique within a group), i.e. numpy's / the compiled passes' order of addition."""
    from pyspark.sql import functions as F

    terms = F.sort_array(F.collect_list(F.struct(F.col(order_column).alias("key"), F.col(value_column).alias("v"))))
    return F.aggregate(terms, F.lit(float(start)), lambda total, term: total + term["v"])


def _rounded(column, decimals: int):
    """numpy's np.rint(x * 10**decimals) / 10**decimals."""
    from pyspark.sql import functions as F

    scale = F.lit(10.0 ** decimals)
    return F.rint(column * scale) / scale


def _top_per_group(frame, group: str, value: str, tie: str, limit: int, rank: str = "rank"):
    """frame's rows ranked 1.. within each group by value descending, tie ascending; the first `limit`."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(group).orderBy(F.col(value).desc(), F.col(tie).asc())
    return frame.withColumn(rank, F.row_number().over(order).cast("bigint")).where(F.col(rank) <= limit)


def _bm25_entries(entries, catalogue, k1: float, b: float):
    """similarity.bm25_weight(log1p(user_items).T).T on the entries [user_id, item_id, weight]:
    items are the documents (catalogue_size of them, those without entries of length 0), users the
    terms. The same operations in the same order as there, entry by entry."""
    from pyspark.sql import functions as F

    catalogue_size = catalogue.count()
    damped = entries.withColumn("weight", _numpy_log1p(F.col("weight")))
    # idf[user] = log(N) - log1p(items of the user); log(N) once, by numpy, as bm25_weight has it.
    idf = damped.groupBy("user_id").agg(F.count("*").cast("double").alias("items")).select(
        "user_id", (F.lit(float(np.log(float(catalogue_size)))) - _numpy_log1p(F.col("items"))).alias("idf"))
    lengths = damped.groupBy("item_id").agg(_ordered_sum("user_id", "weight").alias("length"))
    average_length = _average_length(lengths, catalogue) if catalogue_size else 0.0
    length_norm = (F.lit(1.0 - b) + F.lit(b) * F.col("length") / F.lit(average_length)
                   if average_length > 0 else F.lit(1.0))
    weighted = (damped.join(lengths, "item_id").join(idf, "user_id")
                .select("user_id", "item_id",
                        (F.col("weight") * F.lit(k1 + 1.0) / (F.lit(k1) * length_norm + F.col("weight"))
                         * F.col("idf")).alias("weight")))
    return weighted.where(F.col("weight") != 0.0)  # bm25_weight's eliminate_zeros


def _average_length(lengths, catalogue) -> float:
    """The mean item length over the catalogue, numpy's pairwise sum in item order with the items
    that have no entries as 0: in one executor task, one number back."""
    from pyspark.sql import functions as F

    ordered = (catalogue.join(lengths, "item_id", "left")
               .agg(F.sort_array(F.collect_list(F.struct("item_id", F.coalesce("length", F.lit(0.0)).alias("v"))))
                    .alias("terms"))
               .select(_numpy_mean(F.col("terms")["v"]).alias("mean")))
    return float(ordered.first()["mean"])


def _unit_columns(entries):
    """similarity._normalise_columns: every item's vector over the users scaled to unit length."""
    from pyspark.sql import functions as F

    squares = entries.withColumn("square", F.col("weight") * F.col("weight"))
    norms = squares.groupBy("item_id").agg(F.sqrt(_ordered_sum("user_id", "square")).alias("norm"))
    scale = F.when(F.col("norm") > 0, F.lit(1.0) / F.col("norm")).otherwise(F.lit(0.0))
    return entries.join(norms, "item_id").select("user_id", "item_id", (F.col("weight") * scale).alias("weight"))


def item_similarities(interactions, items, version: int, top_k: int, bm25_k1: float, bm25_b: float):
    """ml_item_similarities v1 (cosine) or v2 (bm25) as a Spark DataFrame: similarity.item_similarities
    over the catalogue `items` [item_id] from the interactions [user_id, item_id, interaction_weight]."""
    from pyspark.sql import functions as F

    catalogue = items.select("item_id").where("item_id is not null").distinct()
    # user_item_matrix: the positive weights of catalogue items, summed per pair (one row each here).
    entries = (interactions.where("interaction_weight > 0 and user_id is not null")
               .join(catalogue, "item_id")
               .groupBy("user_id", "item_id").agg(F.sum("interaction_weight").alias("weight"))
               .where("weight > 0"))
    if SIMILARITY_METHODS[version] == "cosine":
        entries = entries.withColumn("weight", F.lit(1.0))
    else:
        entries = _bm25_entries(entries, catalogue, bm25_k1, bm25_b)
    unit = _unit_columns(entries)
    pairs = (unit.alias("left").join(unit.alias("right"), "user_id")
             .where(F.col("left.item_id") != F.col("right.item_id"))
             .select("user_id", F.col("left.item_id").alias("item_id"),
                     F.col("right.item_id").alias("similar_item_id"),
                     (F.col("left.weight") * F.col("right.weight")).alias("term")))
    summed = pairs.groupBy("item_id", "similar_item_id").agg(_ordered_sum("user_id", "term").alias("cosine"))
    similarity = _rounded(F.col("cosine"), SIMILARITY_DECIMALS)
    kept = (summed.select("item_id", "similar_item_id", F.least(similarity, F.lit(1.0)).alias("similarity"))
            .where("similarity > 0"))
    return (_top_per_group(kept, "item_id", "similarity", "similar_item_id", top_k)
            .select("item_id", "similar_item_id", "similarity", "rank", F.lit("behaviour").alias("source"),
                    F.lit(version).cast("bigint").alias("model_version")))


def _scored(strengths, similarities, owned, top_n: int):
    """recommend_scoring.top_n_per_user on DataFrames: each user's top_n items j by the rounded
    score(u, j) = sum over the user's items i of r(u, i) * sim(i, j) (> 0, not owned), ties to the
    smaller item, with because_item_id the i of the largest term (the smaller i on ties)."""
    from pyspark.sql import functions as F

    terms = (strengths.join(similarities, "item_id")
             .select("user_id", F.col("item_id").alias("because_item_id"), F.col("similar_item_id").alias("item_id"),
                     (F.col("strength") * F.col("similarity")).alias("term")))
    ordered = F.sort_array(F.collect_list(F.struct(F.col("because_item_id").alias("key"), F.col("term").alias("v"))))
    # One fold gives the sum and the first largest term: terms are positive, so the start (-1) never wins.
    start = F.struct(F.lit(0.0).alias("total"), F.lit(-1.0).alias("best"), F.lit(None).cast("string").alias("item"))
    folded = F.aggregate(ordered, start, lambda acc, term: F.struct(
        (acc["total"] + term["v"]).alias("total"),
        F.when(term["v"] > acc["best"], term["v"]).otherwise(acc["best"]).alias("best"),
        F.when(term["v"] > acc["best"], term["key"]).otherwise(acc["item"]).alias("item")))
    summed = (terms.groupBy("user_id", "item_id").agg(folded.alias("fold"))
              .select("user_id", "item_id", _rounded(F.col("fold.total"), SCORE_DECIMALS).alias("score"),
                      F.col("fold.item").alias("because_item_id"))
              .where("score > 0")
              .join(owned, ["user_id", "item_id"], "left_anti"))
    return _top_per_group(summed, "user_id", "score", "item_id", top_n)


def _fallback(users, served, owned, popularity, top_n: int):
    """recommend._popularity_recommendations: each user without a scored row gets the top_n most popular
    items (popularity > 0, by popularity descending, item ascending) that they do not own. A user
    owning o items needs only the first top_n + o of that order: each gets that many places, joined
    with the items at those places (no action runs here, so the scoring is not computed twice)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    owned_counts = owned.groupBy("user_id").agg(F.count("*").alias("owned"))
    places = (users.join(served, "user_id", "left_anti").join(owned_counts, "user_id", "left")
              .select("user_id", (F.coalesce("owned", F.lit(0)) + F.lit(top_n)).alias("places"))
              .where("places >= 1")
              .select("user_id", F.explode(F.sequence(F.lit(1), F.col("places"))).alias("popularity_rank")))
    order = Window.orderBy(F.col("popularity_score").desc(), F.col("item_id").asc())
    popular = popularity.where("popularity_score > 0").withColumn("popularity_rank", F.row_number().over(order))
    candidates = places.join(popular, "popularity_rank").join(owned, ["user_id", "item_id"], "left_anti")
    return (_top_per_group(candidates, "user_id", "popularity_score", "item_id", top_n)
            .select("user_id", "rank", "item_id", F.col("popularity_score").alias("score"),
                    F.lit(None).cast("string").alias("because_item_id"), F.lit(True).alias("is_fallback")))


def _served(strengths, lists, owned, popularity, everyone, top_n: int):
    """recommend.recommend_items on DataFrames: the scored rows, then the fallback of the users
    (`everyone`) left without one."""
    from pyspark.sql import functions as F

    scored = _scored(strengths, lists, owned, top_n).select(
        "user_id", "rank", "item_id", "score", "because_item_id", F.lit(False).alias("is_fallback"))
    return scored.unionByName(_fallback(everyone, scored.select("user_id").distinct(), owned, popularity, top_n))


def _buyers(rows, purchases: str):
    """Distinct buyers per item (rows are one per pair): the fallback's popularity."""
    from pyspark.sql import functions as F

    return rows.where(f"{purchases} > 0").groupBy("item_id").agg(F.count("*").cast("double").alias("popularity_score"))


def user_recommendations(interactions, similarities, users, version: int, top_n: int):
    """ml_user_recommendations v1 or v2 as a Spark DataFrame: recommend.recommend_items over every
    customer (`users` [user_id]) and every user of the interactions [user_id, item_id,
    interaction_weight, purchases_total, returned_total, cancelled_total], from the similarity lists
    [item_id, similar_item_id, similarity] of the same version."""
    from pyspark.sql import functions as F

    kept = interactions.where("user_id is not null and item_id is not null").where(
        "interaction_weight > 0 or purchases_total > 0 or returned_total > 0 or cancelled_total > 0")
    weights = (kept.where("interaction_weight > 0").groupBy("user_id", "item_id")
               .agg(F.sum("interaction_weight").alias("weight")).where("weight > 0"))
    strength = F.lit(1.0) if INTERACTION_TRANSFORMS[version] == "binary" else _numpy_log1p(F.col("weight"))
    strengths = weights.select("user_id", "item_id", strength.alias("strength"))
    # similarity_matrix: no self-pairs, positive similarities only.
    lists = (similarities.where("similarity > 0 and item_id != similar_item_id")
             .select("item_id", "similar_item_id", "similarity"))
    owned = (kept.where("purchases_total > 0 or returned_total > 0 or cancelled_total > 0")
             .select("user_id", "item_id").distinct())
    everyone = users.select("user_id").unionByName(kept.select("user_id")).where("user_id is not null").distinct()
    result = _served(strengths, lists, owned, _buyers(kept, "purchases_total"), everyone, top_n)
    return result.withColumn("similarity_version", F.lit(version).cast("bigint"))


def _v3_weights(active, config: dict):
    """recommendation_tuning.interaction_weights on the period's rows [user_id, item_id, purchases,
    returned, cancelled, rating]: weight(u, i) by the configuration, the positive ones."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from ltv.recommendation_tuning import POSITIVE_RATING, RATING_MODES

    mode = config.get("rating_mode", "ignore")
    if mode not in RATING_MODES:
        raise ValueError(f"unknown rating_mode {mode!r}; expected one of {RATING_MODES}")
    weight = F.col("purchases").cast("double") + F.lit(float(config.get("cancelled_weight", 0.0))) * F.col(
        "cancelled").cast("double")
    weight = F.when(F.col("returned") <= 0, weight).otherwise(F.lit(0.0))
    rated = F.col("rating").isNotNull()
    if mode != "ignore":
        weight = F.when(rated & (F.col("returned") <= 0), F.greatest(weight, F.lit(1.0))).otherwise(weight)
    if mode == "positive_only":
        weight = F.when(F.col("rating") < POSITIVE_RATING, F.lit(0.0)).otherwise(weight)
    elif mode == "centered":
        # The user's mean rating: Spark's average, which may differ from pandas' in the last bit.
        mean = F.avg("rating").over(Window.partitionBy("user_id"))
        weight = F.when(rated, weight * F.greatest(F.col("rating") - mean + F.lit(1.0), F.lit(0.0))).otherwise(weight)
    return active.select("user_id", "item_id", weight.alias("weight")).where("weight > 0")


def _blended(similarities, sources, popularity, popularity_weight: float):
    """recommendation_tuning.blended_weights: w(i, j) plus the popularity blend towards the
    POPULAR_ITEMS most bought items j, for the source items i; summed per pair and rounded."""
    from pyspark.sql import functions as F

    from ltv.recommendation_tuning import POPULAR_ITEMS

    weights = similarities.select("item_id", "similar_item_id", "similarity")
    top = popularity.orderBy(F.col("popularity_score").desc(), F.col("item_id").asc()).limit(POPULAR_ITEMS).collect()
    if popularity_weight <= 0 or not top:
        return weights
    largest = max(float(row["popularity_score"]) for row in top)
    spark = similarities.sparkSession
    popular = spark.createDataFrame([(row["item_id"], popularity_weight * (float(row["popularity_score"]) / largest))
                                     for row in top], "similar_item_id string, similarity double")
    blend = (sources.select("item_id").distinct().crossJoin(F.broadcast(popular))
             .where(F.col("item_id") != F.col("similar_item_id")))
    # The list's weight first, then the blend's: blended_weights' order of addition (from 0).
    parts = weights.withColumn("part", F.lit(0)).unionByName(blend.withColumn("part", F.lit(1)))
    return (parts.groupBy("item_id", "similar_item_id").agg(_ordered_sum("part", "similarity").alias("summed"))
            .select("item_id", "similar_item_id", _rounded(F.col("summed"), SIMILARITY_DECIMALS).alias("similarity")))


def user_recommendations_v3(interactions, similarities, users, config: dict, top_n: int):
    """ml_user_recommendations v3 as a Spark DataFrame: recommendation_tuning.config_recommendations
    over every customer and every user of the interactions (the "all" period of
    int_user_item_interactions_aggregated), from v3's similarity lists and the chosen config."""
    from pyspark.sql import functions as F

    kept = interactions.where("user_id is not null and item_id is not null").where(
        "interaction_weight > 0 or purchases_total > 0 or returned_total > 0 or cancelled_total > 0 "
        "or rating_latest is not null")
    active = kept.select("user_id", "item_id", *(F.coalesce(F.col(f"{name}_total"), F.lit(0)).alias(name)
                                                  for name in ("purchases", "returned", "cancelled")),
                         F.col("rating_latest").cast("double").alias("rating")).where(
        "purchases + returned + cancelled > 0 or rating is not null")
    weighted = _v3_weights(active, config)
    strengths = weighted.select("user_id", "item_id", _numpy_log1p(F.col("weight")).alias("strength"))
    popularity = _buyers(active, "purchases")
    lists = (_blended(similarities, weighted, popularity, float(config.get("popularity_weight", 0.0)))
             .where("similarity > 0 and item_id != similar_item_id"))
    owned = active.where("purchases > 0 or returned > 0 or cancelled > 0 or rating is not null").select(
        "user_id", "item_id")
    everyone = users.select("user_id").unionByName(kept.select("user_id")).where("user_id is not null").distinct()
    return (_served(strengths, lists, owned, popularity, everyone, top_n)
            .withColumn("similarity_version", F.lit(3).cast("bigint")))
