"""The text models on Spark: masking and v1 sentiment run batch by batch in the executors' Python
workers (mapInPandas / mapInArrow), the grouping and hashing in Spark, so no table that grows with the
shop reaches the driver. Each calls the very functions the DuckDB build calls
(ltv.dbt_entrypoints.text_models), so the rows are the DuckDB build's.

What Spark does not get here: reuse of unchanged work. int_texts_masked is masked in full and
ml_text_sentiment is rebuilt as a table (an incremental model is a full table on Spark:
macros/spark/spark_materializations.sql); Parquet tables have no DELETE to replace changed rows with.
"""

from __future__ import annotations

from functools import partial

import numpy as np

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd
import pyarrow as pa

from ltv.dbt_entrypoints import text_models

MASKED_TEXTS_SCHEMA = ("text_source string, source_id string, user_id string, written_at timestamp, rating bigint, "
                       "is_truncated boolean, masked_text string, source_hash string")
MASKED_TEXTS_COLUMNS = ["text_source", "source_id", "user_id", "written_at", "rating", "is_truncated",
                        "masked_text", "text_hash", "source_hash"]
SENTIMENT_SCHEMA = ("text_source string, text_hash string, model_version bigint, polarity double, "
                    "subjectivity double, language string, not_scored_reason string, model_fingerprint string")

# The source row as text_models hashes it: the same columns and DuckDB types, so that DuckDB's text
# of the struct, and with it source_hash, is the DuckDB build's.
_SOURCE_ROW = pa.schema([("text_source", pa.string()), ("source_id", pa.string()), ("user_id", pa.string()),
                         ("written_at", pa.timestamp("us")), ("rating", pa.int64()), ("original_text", pa.string())])


def masking_fingerprint(max_characters: int, phone_region: str) -> str:
    """text_models.texts_masked's `masking`: what source_hash adds to the row (settings and code)."""
    from ltv import build_cache, sentiment, text_privacy

    return build_cache.combine("texts_masked", max_characters, phone_region, text_privacy.DETECTOR_LIBRARIES,
                               build_cache.code_fingerprint(text_privacy, sentiment, text_models))


def source_hashes(batch: pd.DataFrame, masking: str) -> pd.Series:
    """source_hash of each row of `batch`, computed by DuckDB exactly as text_models does: the md5 of
    DuckDB's text of the row's struct (its own quoting of strings, timestamps and NULLs), then the
    masking fingerprint. DuckDB runs in the worker on the batch alone."""
    import duckdb

    rows = pa.Table.from_pandas(batch[_SOURCE_ROW.names], schema=_SOURCE_ROW, preserve_index=False)
    rows = rows.append_column("position", pa.array(np.arange(len(batch), dtype=np.int64)))
    with duckdb.connect() as connection:
        connection.register("source_rows", rows)
        hashes = connection.execute(
            "select md5(cast(struct_pack(text_source, source_id, user_id, written_at, rating, original_text) "
            "as varchar) || ?) from source_rows order by position", [masking]).fetchnumpy()
    return pd.Series(next(iter(hashes.values())), index=batch.index, dtype=object)


def _mask_batches(batches, max_characters: int, phone_region: str, masking: str):
    for batch in batches:
        # Spark hands a nullable BIGINT over as float64 with NaN; text_models gets Int64 from DuckDB.
        batch = batch.assign(rating=pd.to_numeric(batch["rating"]).astype("Int64"))
        batch["source_hash"] = source_hashes(batch, masking)
        yield text_models._mask_texts(batch, max_characters, phone_region)[
            [column for column in MASKED_TEXTS_COLUMNS if column != "text_hash"]]


def texts_masked(frames, reviews, conversations, settings: dict):
    """int_texts_masked on Spark: text_models.texts_masked's rows, masked in full (no reuse)."""
    from pyspark.sql import functions as F

    from ltv import text_privacy

    max_characters = int(settings.get("max_text_characters", 5000))
    phone_region = str(settings.get("phone_default_region") or text_privacy.DEFAULT_REGION)
    current = reviews.selectExpr(
        "'review' as text_source", "cast(review_id as string) as source_id", "cast(user_id as string) as user_id",
        "cast(created_at as timestamp) as written_at", "cast(rating as bigint) as rating",
        "cast(comment as string) as original_text",
    ).unionByName(conversations.selectExpr(
        "'support_message' as text_source", "cast(conversation_id as string) as source_id",
        "cast(user_id as string) as user_id", "cast(opened_at as timestamp) as written_at",
        "cast(null as bigint) as rating", "cast(message as string) as original_text"))
    masked = frames.map_batches(current, partial(_mask_batches, max_characters=max_characters,
                                                 phone_region=phone_region,
                                                 masking=masking_fingerprint(max_characters, phone_region)),
                                MASKED_TEXTS_SCHEMA)
    # sha2 is DuckDB's sha256: the hex digest of the text's UTF-8 bytes, null for a null text.
    return masked.withColumn("text_hash", F.sha2("masked_text", 256)).select(*MASKED_TEXTS_COLUMNS)


def _v1_batches(batches, fingerprint: str):
    """text_models._v1_scores on each batch, with TextBlob in this worker (Spark runs one per core):
    a text in both sources, or twice in a batch, is still scored once per batch."""
    from ltv.sentiment.language import V1_LANGUAGES
    from ltv.sentiment.textblob_v1 import LANGUAGE_CODES, score_distinct_texts

    english = [LANGUAGE_CODES.index(name) for name in V1_LANGUAGES]
    for batch in batches:
        to_score = pa.Table.from_batches([batch])
        first, numbers = text_models._distinct_rows(to_score["text_hash"])
        texts = to_score["text"].take(pa.array(first)).to_pylist()
        polarity, subjectivity, codes = (
            values[numbers] for values in score_distinct_texts(texts, workers=1, english_only=True))
        undetected = np.isnan(codes)
        code = np.where(undetected, 0, codes).astype(np.int32)
        language = pa.DictionaryArray.from_arrays(pa.array(code, mask=undetected), pa.array(list(LANGUAGE_CODES)))
        not_english = ~undetected & ~np.isin(code, english)
        yield from text_models._sentiment_table(to_score, 1, polarity, subjectivity, language.cast(pa.string()),
                                                not_english, fingerprint).to_batches()


def text_sentiment_v1(frames, texts):
    """ml_text_sentiment v1 on Spark: every distinct (source, text) scored by TextBlob, English only."""
    from pyspark.sql import functions as F

    from ltv import build_cache
    from ltv.sentiment import language, textblob_v1

    fingerprint = build_cache.combine(text_models.TEXTBLOB_FINGERPRINT,
                                      build_cache.code_fingerprint(language, textblob_v1))
    # One text per hash: equal hashes are equal texts, so any value of the group is the text.
    to_score = (texts.where("text_hash is not null and text_source in ('review', 'support_message')")
                .groupBy("text_source", "text_hash").agg(F.any_value("masked_text").alias("text")))
    return frames.map_batches(to_score, partial(_v1_batches, fingerprint=fingerprint), SENTIMENT_SCHEMA, arrow=True)


def _average_ranks(frame, column: str, weight: str = "rows"):
    """[column, rank]: the 1-based rank of each distinct value of `column` over the rows of `frame`,
    ties sharing their average rank (scipy's rankdata 'average'). The window runs over the distinct
    values only, not the rows."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counted = frame.groupBy(column).agg(F.count("*").alias(weight))
    through = F.sum(weight).over(Window.orderBy(column).rowsBetween(Window.unboundedPreceding, 0))
    return counted.select(column, weight, (through - (F.col(weight) - 1) / 2.0).alias(f"{column}_rank"))


def _auc(polar) -> float | None:
    """ROC AUC of score for rating >= 4 against rating <= 2: the Mann-Whitney U of the positives'
    average ranks, which is roc_auc_score's value with ties counted half."""
    from pyspark.sql import functions as F

    ranked = _average_ranks(polar, "score").join(
        polar.groupBy("score").agg(F.sum((F.col("rating") >= 4).cast("long")).alias("positives")), "score")
    positives, rows, positive_rank_sum = ranked.agg(
        F.sum("positives"), F.sum("rows"), F.sum(F.col("positives") * F.col("score_rank"))).first()
    if not rows or not positives or positives == rows:
        return None
    negatives = rows - positives
    return float((positive_rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def _spearman(rated, rows: int) -> float | None:
    """Pearson correlation of the average ranks of score and rating (scipy's spearmanr), from the
    counts of each (score, rating) pair; ranks are centred on their known mean (rows + 1) / 2."""
    from pyspark.sql import functions as F

    pairs = rated.groupBy("score", "rating").agg(F.count("*").alias("pairs"))
    pairs = (pairs.join(F.broadcast(_average_ranks(rated, "rating").drop("rows")), "rating")
             .join(_average_ranks(rated, "score").drop("rows"), "score"))
    middle = (rows + 1) / 2.0
    x, y = F.col("score_rank") - middle, F.col("rating_rank") - middle
    covariance, x_spread, y_spread = pairs.agg(
        F.sum(F.col("pairs") * x * y), F.sum(F.col("pairs") * x * x), F.sum(F.col("pairs") * y * y)).first()
    if not x_spread or not y_spread:  # constant scores or ratings
        return None
    return float(covariance / np.sqrt(x_spread * y_spread))


def rating_agreement(rated) -> dict:
    """ltv.sentiment.sentiment_evaluation on a Spark DataFrame [score, rating], without collecting it."""
    rated = rated.where("score is not null and rating is not null and not isnan(score)")
    rows = rated.count()
    return {"auc_positive_vs_negative": _auc(rated.where("rating != 3")),
            "spearman_with_rating": _spearman(rated, rows) if rows >= 2 else None, "rows": rows}


def sentiment_evaluation_runs(frames, texts, scores_v1, settings_frame: pd.DataFrame, conversations=None):
    """ml_sentiment_evaluation on Spark: text_models.sentiment_evaluation_runs's rows and registry runs,
    each metric an aggregate over the texts in Spark (rating_agreement)."""
    from pyspark.sql import functions as F

    from ltv.dbt_entrypoints.common import _as_date, _metric_value, model_settings

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    joined = texts.alias("texts").join(
        scores_v1.alias("scores"), ["text_source", "text_hash"], "inner")
    rating = F.col("texts.rating")
    if conversations is not None:
        joined = joined.join(conversations.alias("conversations"), (F.col("text_source") == "support_message")
                             & (F.col("texts.source_id") == F.col("conversations.conversation_id")), "left")
        rating = F.coalesce(rating, F.col("conversations.satisfaction_rating"))
    joined = joined.select("text_source", F.col("scores.polarity").alias("score"),
                           F.col("scores.not_scored_reason").alias("not_scored_reason"), rating.alias("rating"))
    rows = []
    for source, model_name in (("review", "text_sentiment"), ("support_message", "support_sentiment")):
        part = joined.where(F.col("text_source") == source)
        texts_count, english, rated = part.agg(
            F.count("*"), F.sum(F.col("not_scored_reason").isNull().cast("long")),
            F.sum(F.col("rating").isNotNull().cast("long"))).first()
        metrics = rating_agreement(part)
        metrics.update({"english_text_share": english / texts_count if texts_count else None, "texts": texts_count,
                        "metric_status": "ok" if metrics["rows"] else "not_english" if rated else "no_rated_texts"})
        if source == "support_message" and not texts_count:
            continue
        run = {"model_name": model_name, "model_version": 1, "method": "textblob", "status": "fitted",
               "message": f"not fitted: evaluated against the {'stars' if source == 'review' else 'satisfaction'} "
                          f"of every rated {source.replace('_', ' ')} TextBlob could read (English)",
               "train_rows": 0, "holdout_rows": metrics["rows"],
               "parameters": {"analyzer": text_models.TEXTBLOB_FINGERPRINT}, "metrics": metrics}
        if len(settings_frame):
            frames.record_run(run, cutoff_date=_as_date(settings.get("cutoff_date")),
                              horizon_days=settings.get("horizon_days"))
        rows.append({"text_source": source, "model_version": 1, "metric_status": metrics.pop("metric_status"),
                     **{key: _metric_value(value) for key, value in metrics.items()}})
    return pd.DataFrame(rows)
