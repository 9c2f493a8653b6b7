"""ml_text_sentiment v2 on Spark: text_models.text_sentiment's v2 rows and runs.

Each model is fitted on the driver from its bounded training sample (at most MAX_TRAINING_ROWS rows,
the first by text hash: Spark sorts and cuts, the driver loads only those), by the same training
functions, so the fits are the DuckDB build's to the bit. Fits are reused as on DuckDB: stored in
registry.fitted_models under the fingerprint of their training rows (spark_registry, the same
fingerprint DuckDB computes). Every text is then scored in the executors' Python workers
(mapInArrow), with the fitted models shipped to them in the task (PySpark broadcasts a large one).
The whole table is scored each build: it is a table on Spark (spark_text's docstring).

The support model's training excludes the conversations ml_conversation_experience v2 holds out:
the same split, taken without collecting the conversations (spark_experience.holdout_ids).
"""

from __future__ import annotations

from functools import partial

import numpy as np

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd  # noqa: F401
import pyarrow as pa

from ltv.dbt_entrypoints import text_models
from ltv.engines.spark_registry import SparkFittedModelStore, relation_fingerprint
from ltv.engines.spark_text import SENTIMENT_SCHEMA

# The DuckDB types of the columns text_models fingerprints (int_texts_masked's rating is BIGINT,
# the conversations' satisfaction_rating INTEGER): DuckDB's hash of a value depends on its type.
_REVIEW_TRAINING_TYPES = {"text_hash": "varchar", "rating": "bigint"}
_SUPPORT_TRAINING_TYPES = {"text_hash": "varchar", "rating": "integer", "response_hours": "double"}


def _record(frames, settings: dict, run: dict) -> None:
    from ltv.dbt_entrypoints.common import _as_date

    frames.record_run(run, cutoff_date=_as_date(settings.get("cutoff_date")), horizon_days=settings.get("horizon_days"))


def _review_model(frames, texts, settings: dict, version: int):
    """text_models._review_model on Spark: (model, fingerprint), or (None, None) with too few reviews."""
    from ltv import build_cache, sentiment
    from ltv.sentiment.trained_v2 import MAX_TRAINING_ROWS, TRAINING_SAMPLE_ORDER

    training = text_models._training_texts(texts, settings, "review")
    training_fingerprint, training_rows = relation_fingerprint(frames, training, _REVIEW_TRAINING_TYPES)
    if training_rows < text_models.MIN_SENTIMENT_TRAINING_REVIEWS:
        _record(frames, settings, text_models.review_model_run(version, training_rows))
        return None, None
    fingerprint = build_cache.combine(sentiment.MODEL_SPEC, training_fingerprint, build_cache.code_fingerprint(sentiment))
    fitted_models = SparkFittedModelStore(frames.session, "text_sentiment", version)
    model = fitted_models.load(fingerprint)
    if model is None:
        # The bounded sample only: the driver never holds more than MAX_TRAINING_ROWS texts.
        frame = (training.orderBy(*TRAINING_SAMPLE_ORDER).limit(MAX_TRAINING_ROWS)
                 .select("masked_text", "rating").toPandas())
        model, cross_validation = sentiment.train_sentiment_model(
            frame["masked_text"].tolist(), frame["rating"].astype(int).to_numpy(),
            seed=int(settings.get("random_seed", 42)))
        fitted_models.store(fingerprint, model)
        _record(frames, settings, text_models.review_model_run(version, training_rows, fingerprint, cross_validation))
    return model, fingerprint


def _support_training(texts, conversations, held_out, settings: dict):
    """The rated support messages text_models._support_model trains on: up to the cut-off, not in the
    experience model's holdout (`held_out`)."""
    from pyspark.sql import functions as F

    messages = texts.where("text_source = 'support_message'").select(
        "text_source", "text_hash", "masked_text", "written_at", F.col("source_id").alias("conversation_id"))
    training = (messages.join(conversations.where("satisfaction_rating is not null"), "conversation_id")
                .join(held_out, "conversation_id", "left_anti")
                .select("text_source", "text_hash", "masked_text", "written_at",
                        F.col("satisfaction_rating").alias("rating"), "response_hours"))
    return text_models._training_texts(training, settings, "support_message")


def _support_model(frames, texts, conversations, settings: dict, version: int, review_model, review_fingerprint):
    """text_models._support_model on Spark: (model for support messages, fingerprint)."""
    from ltv.engines.spark_experience import holdout_ids

    rated = conversations.where("satisfaction_rating is not null and response_hours is not null")
    held_out = holdout_ids(rated.select("conversation_id"), int(settings.get("random_seed", 42)))
    try:
        return _fitted_support_model(frames, _support_training(texts, conversations, held_out, settings), settings,
                                     version, review_model, review_fingerprint)
    finally:
        held_out.unpersist()


def _fitted_support_model(frames, training, settings: dict, version: int, review_model, review_fingerprint):
    from pyspark.sql import functions as F

    from ltv import build_cache, sentiment
    from ltv.sentiment.trained_v2 import MAX_TRAINING_ROWS

    training_fingerprint, training_rows = relation_fingerprint(frames, training, _SUPPORT_TRAINING_TYPES)
    fingerprint = build_cache.combine(review_fingerprint, training_fingerprint)
    fitted_models = SparkFittedModelStore(frames.session, "support_sentiment", version)
    stored = fitted_models.load(fingerprint)
    if stored is not None:
        return stored, fingerprint
    # choose_support_model keeps the first MAX_TRAINING_ROWS rows by (text hash, rating); DuckDB's
    # order (nulls last) breaks ties by hours, so these are the very rows it keeps of DuckDB's frame.
    frame = (training.orderBy("text_hash", "rating", F.col("response_hours").asc_nulls_last())
             .limit(MAX_TRAINING_ROWS).select("masked_text", "rating", "response_hours").toPandas())
    model, decision = sentiment.choose_support_model(
        review_model, frame["masked_text"].tolist(), frame["rating"].astype(float).to_numpy(),
        frame["response_hours"].astype(float).to_numpy(), seed=int(settings.get("random_seed", 42)))
    fitted_models.store(fingerprint, model)
    _record(frames, settings, text_models.support_model_run(version, training_rows, fingerprint, decision))
    return model, fingerprint


def _v2_batches(batches, models: dict, version: int):
    """text_models._v2_scores on each batch, each source by its model, in this worker alone."""
    import pyarrow.compute as pc

    from ltv.sentiment.trained_v2 import score_sentiment_model

    for batch in batches:
        to_score = pa.Table.from_batches([batch])
        for source, (model, fingerprint) in models.items():
            part = to_score.filter(pc.equal(to_score["text_source"], source))
            if not part.num_rows:
                continue
            polarity = score_sentiment_model(model, part["text"], workers_count=1).to_numpy()
            yield from text_models._sentiment_table(part, version, polarity, np.full(part.num_rows, np.nan),
                                                    pa.nulls(part.num_rows, pa.string()), None,
                                                    fingerprint).to_batches()


def text_sentiment_v2(frames, texts, conversations, settings: dict, version: int):
    """ml_text_sentiment v2 on Spark: reviews by the review model, support messages by the model
    _support_model chose; empty (with a skipped run) when there are too few rated reviews."""
    from pyspark.sql import functions as F

    review_model, review_fingerprint = _review_model(frames, texts, settings, version)
    if review_model is None:
        return frames.session.createDataFrame([], SENTIMENT_SCHEMA)
    models = {"review": (review_model, review_fingerprint)}
    has_messages = texts.where("text_source = 'support_message' and text_hash is not null").limit(1).count()
    if conversations is not None and has_messages:
        models["support_message"] = _support_model(frames, texts, conversations, settings, version,
                                                   review_model, review_fingerprint)
    to_score = (texts.where(F.col("text_hash").isNotNull() & F.col("text_source").isin(*models))
                .groupBy("text_source", "text_hash").agg(F.any_value("masked_text").alias("text")))
    return frames.map_batches(to_score, partial(_v2_batches, models=models, version=version), SENTIMENT_SCHEMA,
                              arrow=True)
