"""ml_conversation_experience on Spark (ltv.experience.fit_experience's rows and runs), and the holdout
split it shares with the v2 support sentiment model, without collecting the conversations.

The split is experience.holdout_split's exactly: the rated conversation ids in sorted order, shuffled
by numpy's Generator(seed).permutation, the last 20 % held out. That shuffle depends only on how many
ids there are, so the driver draws it from the count alone and hands the workers one bit per sorted
position (held out or not); each worker keeps the ids whose bit is set. The driver holds the
permutation (8 bytes a rated conversation: numpy's shuffle cannot be drawn in parts), never the ids.
The positions are numbered as RDD.zipWithIndex numbers them, with DataFrame calls only (Spark
Connect has no RDDs): the sorted ids' partition and row within it, one count per partition
collected, each partition's first position summed on the driver.

The scores are column expressions in Spark, in fit_experience's order of operations (v1's are the
same bits); v2's least squares is solved on the driver from Spark's sums over the training rows
(centred cross-products, a 3x3 system), so its weights, and the scores and metrics after them, match
scikit-learn's to rounding (weights within 1e-14, scores within 6e-15 on the demo), not to the bit.
"""

from __future__ import annotations

from functools import partial

import numpy as np

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd
import pyarrow as pa

from ltv import experience

EXPERIENCE_SCHEMA = ("conversation_id string, user_id string, response_hours double, sentiment double, "
                     "satisfaction_rating int, model_version bigint, experience_score double, "
                     "predicted_satisfaction double, normalized_response_time double")


# monotonically_increasing_id() puts the partition in the upper 31 bits, the row within it in the lower 33.
_ROW_IN_PARTITION = (1 << 33) - 1


def _held_out_rows(batches, held_bits: np.ndarray, count: int, first_positions: np.ndarray):
    held = np.unpackbits(held_bits, count=count).astype(bool)
    for batch in batches:
        partition = batch.column("partition").to_numpy(zero_copy_only=False)
        row = batch.column("row_id").to_numpy(zero_copy_only=False) & _ROW_IN_PARTITION
        keep = held[first_positions[partition] + row]
        yield pa.RecordBatch.from_arrays([batch.column("conversation_id").filter(pa.array(keep))],
                                         names=["conversation_id"])


def _numbered(conversation_ids, count: int):
    """(the ids in sorted order with their partition and row_id, persisted: numbered once, so that the
    counts and the positions read the same partitions; each partition's first position)."""
    from pyspark.sql import functions as F

    # Sorted as np.sort sorts Python strings (by code point), which is Spark's order of UTF-8 bytes.
    # A sort's partitions are ranges in order (AQE merges only neighbours), so partition p's rows
    # follow those of every partition before it.
    numbered = conversation_ids.orderBy("conversation_id").select(
        "conversation_id", F.spark_partition_id().alias("partition"),
        F.monotonically_increasing_id().alias("row_id")).persist()
    sizes = dict(numbered.groupBy("partition").count().collect())  # one row per non-empty partition
    if sum(sizes.values()) != count:
        numbered.unpersist()
        raise ValueError(f"{sum(sizes.values())} conversation ids to number, {count} counted before")
    first_positions = np.zeros(max(sizes) + 1, dtype=np.int64)
    first_positions[sorted(sizes)] = np.cumsum([0] + [sizes[partition] for partition in sorted(sizes)])[:-1]
    return numbered, first_positions


def holdout_ids(frames, conversation_ids, seed: int, count: int | None = None):
    """DataFrame[conversation_id]: the ids experience.holdout_split holds out of `conversation_ids`
    (a one-column DataFrame of `count` rows), the same ones. Persisted: each use would otherwise
    number the ids again; the caller unpersists it."""
    count = conversation_ids.count() if count is None else count
    if not count:
        return conversation_ids.limit(0)
    order = np.random.default_rng(seed).permutation(count)
    held = np.zeros(count, dtype=bool)
    held[order[-max(1, int(round(count * experience.HOLDOUT_SHARE))):]] = True
    numbered, first_positions = _numbered(conversation_ids, count)
    try:
        held_out = frames.map_batches(numbered, partial(_held_out_rows, held_bits=np.packbits(held), count=count,
                                                        first_positions=first_positions),
                                      "conversation_id string", arrow=True).persist()
        # Computed now, while the numbering it reads is still cached; the count checks it too.
        if held_out.count() != held.sum():
            held_out.unpersist()
            raise ValueError(f"the holdout of {count} conversation ids is not {held.sum()} ids")
        return held_out
    finally:
        numbered.unpersist()


def _conversations_with_sentiment(conversations, texts, scores):
    """Each conversation with its message's sentiment, as text_models.conversation_experience joins them."""
    from pyspark.sql import functions as F

    messages = texts.where("text_source = 'support_message'").select(
        F.col("source_id").alias("conversation_id"), "text_hash")
    sentiment = scores.where("text_source = 'support_message'").select("text_hash", F.col("polarity").alias("sentiment"))
    return (conversations.join(messages, "conversation_id", "left").join(sentiment, "text_hash", "left")
            .select("conversation_id", "user_id", "response_hours", "sentiment", "satisfaction_rating"))


def _with_features(frame):
    """fit_experience's features: a missing sentiment counts as 0; response time capped at 72 hours."""
    from pyspark.sql import functions as F

    hours, sentiment = F.col("response_hours"), F.col("sentiment")
    known = hours.isNotNull() & ~F.isnan(hours)
    cap = F.lit(experience.CAP_HOURS)
    return frame.select(
        "*", F.when(sentiment.isNull() | F.isnan(sentiment), F.lit(0.0)).otherwise(sentiment).alias("x_sentiment"),
        F.when(known, F.lit(1.0) - F.least(F.greatest(hours, F.lit(0.0)), cap) / cap).alias("x_response"),
        F.when(known, F.log1p(F.greatest(hours, F.lit(0.0)))).alias("x_log_hours"))


def _holdout_figures(scored) -> tuple[int, dict]:
    """(holdout rows, experience._regression_metrics) as Spark aggregates: the mean first, then the
    spread around it."""
    from pyspark.sql import functions as F

    holdout = scored.where("held_out")
    errors = F.col("predicted_satisfaction") - F.col("rating")
    rows, mean, squared, absolute = holdout.agg(
        F.count("*"), F.avg("rating"), F.sum(errors * errors), F.sum(F.abs(errors))).first()
    total = holdout.agg(F.sum((F.col("rating") - F.lit(mean)) ** 2)).first()[0]
    return rows, {"mse": squared / rows, "mae": absolute / rows, "r2": 1.0 - squared / total if total > 0 else None}


def _least_squares(train) -> tuple[int, float, np.ndarray]:
    """(training rows, intercept, weights) of ordinary least squares of the rating on V2_FEATURES, as
    LinearRegression fits them (centred; lstsq's minimum-norm answer if a feature is constant)."""
    from pyspark.sql import functions as F

    names = ["x_sentiment", "x_response", "x_log_hours"]
    rows, *means = train.agg(F.count("*"), *(F.avg(name) for name in [*names, "rating"])).first()
    centred = [F.col(name) - F.lit(mean) for name, mean in zip([*names, "rating"], means, strict=True)]
    sums = train.agg(*(F.sum(centred[i] * centred[j]) for i in range(len(names)) for j in range(len(names) + 1))).first()
    products = np.array(sums, dtype=float).reshape(len(names), len(names) + 1)
    weights = np.linalg.lstsq(products[:, :-1], products[:, -1], rcond=None)[0]
    return rows, float(means[-1] - np.dot(np.array(means[:-1], dtype=float), weights)), weights


def _v1_scores(frame):
    from pyspark.sql import functions as F

    low, high = experience.V1_SCORE_RANGE
    rating_low, rating_high = experience.RATING_RANGE
    score = (F.lit(experience.V1_SENTIMENT_WEIGHT) * F.col("x_sentiment")
             + F.lit(experience.V1_RESPONSE_WEIGHT) * F.col("x_response"))
    predicted = F.lit(rating_low) + (score - F.lit(low)) * F.lit(rating_high - rating_low) / F.lit(high - low)
    return frame.withColumn("experience_score", score).withColumn("predicted_satisfaction", predicted)


def _v2_scores(frame, intercept: float, weights: np.ndarray):
    from pyspark.sql import functions as F

    raw = (F.col("x_sentiment") * F.lit(float(weights[0])) + F.col("x_response") * F.lit(float(weights[1]))
           + F.col("x_log_hours") * F.lit(float(weights[2]))) + F.lit(intercept)
    clipped = F.least(F.greatest(raw, F.lit(experience.RATING_RANGE[0])), F.lit(experience.RATING_RANGE[1]))
    score = F.least(F.greatest((raw - F.lit(3.0)) / F.lit(2.0), F.lit(-1.0)), F.lit(1.0))
    has_response = F.col("x_response").isNotNull()
    return (frame.withColumn("experience_score", F.when(has_response, score))
            .withColumn("predicted_satisfaction", F.when(has_response, clipped)))


def _fitted_run(frame, rated, rated_count: int, version: int, seed: int):
    """(frame with the version's scores, its run) on enough rated conversations (`rated`: with
    held_out and rating)."""
    if version == 1:
        return _v1_scores(frame), experience.v1_run(rated_count, *_holdout_figures(_v1_scores(rated)))
    train_rows, intercept, weights = _least_squares(rated.where("held_out is null"))
    holdout_rows, metrics = _holdout_figures(_v2_scores(rated, intercept, weights))
    return _v2_scores(frame, intercept, weights), experience.v2_run(train_rows, holdout_rows, intercept, weights,
                                                                    seed, metrics)


def _scored(frames, frame, version: int, seed: int):
    """fit_experience on Spark: (frame with experience_score and predicted_satisfaction, run), the
    frame None when the version scores nothing."""
    from pyspark.sql import functions as F

    is_rated = F.col("satisfaction_rating").isNotNull() & F.col("x_response").isNotNull()
    rows, distinct, rated_count = frame.agg(F.count("*"), F.count_distinct("conversation_id"),
                                            F.sum(is_rated.cast("long"))).first()
    if rows != distinct:
        raise ValueError("conversation_id must be unique: one row per conversation")
    if not rows:
        return None, experience._run(f"v{version}", "skipped", "no conversations to score")
    if rated_count < experience.MIN_RATED_CONVERSATIONS:
        if version == 1:
            return _v1_scores(frame), experience.v1_run(rated_count)
        return None, experience.v2_skipped_run(rated_count)
    rated = frame.where(is_rated)
    held = holdout_ids(frames, rated.select("conversation_id"), seed, rated_count)
    try:
        rated = (rated.join(held.withColumn("held_out", F.lit(True)), "conversation_id", "left")
                 .withColumn("rating", F.col("satisfaction_rating").cast("double")))
        return _fitted_run(frame, rated, rated_count, version, seed)
    finally:
        held.unpersist()


def conversation_experience(frames, conversations, texts, scores, settings_frame: pd.DataFrame, version: int):
    """ml_conversation_experience vN on Spark: text_models.conversation_experience's rows and run."""
    from pyspark.sql import functions as F

    from ltv.dbt_entrypoints.common import _as_date, model_settings

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    frame, run = _scored(frames, _with_features(_conversations_with_sentiment(conversations, texts, scores)),
                         version, int(settings.get("random_seed", 42)))
    if len(settings_frame):
        frames.record_run(run, cutoff_date=_as_date(settings.get("cutoff_date")),
                          horizon_days=settings.get("horizon_days"))
    if frame is None:
        return frames.session.createDataFrame([], EXPERIENCE_SCHEMA)
    return frame.select("conversation_id", "user_id", "response_hours", "sentiment",
                        F.col("satisfaction_rating").cast("int").alias("satisfaction_rating"),
                        F.lit(version).cast("bigint").alias("model_version"), "experience_score",
                        "predicted_satisfaction", F.col("x_response").alias("normalized_response_time"))
