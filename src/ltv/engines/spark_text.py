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
