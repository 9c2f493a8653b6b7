"""ml_conversation_experience on Spark (ltv.experience.fit_experience's rows and runs), and the holdout
split it shares with the v2 support sentiment model, without collecting the conversations.

The split is experience.holdout_split's exactly: a conversation is held out when the first 32 bits of
md5("<seed>:<id>") are below experience.HOLDOUT_BUCKET_LIMIT (Spark's md5 reads the same UTF-8
bytes), or, when none is, the one with the smallest number; a column expression and a filter, so the
conversations never leave the workers.

The scores are column expressions in Spark, in fit_experience's order of operations (v1's are the
same bits); v2's least squares is solved on the driver from Spark's sums over the training rows
(centred cross-products, a 3x3 system), so its weights, and the scores and metrics after them, match
scikit-learn's to rounding (weights within 1e-14, scores within 6e-15 on the demo), not to the bit.
"""

from __future__ import annotations

import numpy as np

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd

from ltv import experience

EXPERIENCE_SCHEMA = ("conversation_id string, user_id string, response_hours double, sentiment double, "
                     "satisfaction_rating int, model_version bigint, experience_score double, "
                     "predicted_satisfaction double, normalized_response_time double")


def holdout_ids(conversation_ids, seed: int):
    """DataFrame[conversation_id]: the ids experience.holdout_split holds out of `conversation_ids`
    (a one-column DataFrame), the same ones. Persisted (it is read twice: checked, then joined); the
    caller unpersists it."""
    from pyspark.sql import functions as F

    bucket = F.conv(F.substring(F.md5(F.concat(F.lit(f"{seed}:"), F.col("conversation_id"))), 1, 8), 16, 10)
    numbered = conversation_ids.select("conversation_id", bucket.cast("long").alias("bucket"))
    held = numbered.where(F.col("bucket") < experience.HOLDOUT_BUCKET_LIMIT).select("conversation_id").persist()
    if held.isEmpty():
        held.unpersist()
        held = numbered.orderBy("bucket", "conversation_id").limit(1).select("conversation_id").persist()
    return held


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


def _scored(frame, version: int, seed: int):
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
    held = holdout_ids(rated.select("conversation_id"), seed)
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
    frame, run = _scored(_with_features(_conversations_with_sentiment(conversations, texts, scores)),
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
