"""The text models' entry points on either engine. Each reads its inputs through ltv.engines.frames
and runs the DuckDB functions of text_models unchanged, or their Spark counterparts in
ltv.engines.spark_text. text_models itself is not edited for Spark: its source is part of the masking
fingerprint (source_hash), so touching it would re-mask every text of a DuckDB warehouse."""

from __future__ import annotations

from ltv.dbt_entrypoints import text_models
from ltv.engines.frames import frames_for


def texts_masked(session, reviews, conversations, settings_frame, this: str | None = None):
    """int_texts_masked (text_models.texts_masked); `settings_frame` is int_model_settings, a relation
    or its pandas frame."""
    frames = frames_for(session)
    if frames.distributed:
        from ltv.engines import spark_text

        return spark_text.texts_masked(frames, reviews, conversations, frames.settings(settings_frame))
    return text_models.texts_masked(session, reviews, conversations, frames.settings_frame(settings_frame), this)


def text_sentiment(session, texts, settings_frame, version: int, previous_relation: str | None = None,
                   conversations=None):
    """ml_text_sentiment vN (text_models.text_sentiment). On Spark every text is scored each build:
    the model is a table there, and previous_relation is not read (v2's fits are still reused)."""
    frames = frames_for(session)
    if conversations is not None:
        conversations = frames.columns(conversations, "conversation_id, satisfaction_rating, response_hours")
    if frames.distributed:
        from ltv.engines import spark_sentiment_v2, spark_text

        if version == 1:
            return spark_text.text_sentiment_v1(frames, texts)
        return spark_sentiment_v2.text_sentiment_v2(frames, texts, conversations, frames.settings(settings_frame),
                                                    version)
    return text_models.text_sentiment(session, texts, frames.settings_frame(settings_frame), version,
                                      previous_relation, conversations)


def sentiment_evaluation_runs(session, texts, scores_v1, settings_frame, conversations=None):
    """ml_sentiment_evaluation (text_models.sentiment_evaluation_runs)."""
    frames = frames_for(session)
    if frames.distributed:
        from ltv.engines import spark_text

        return spark_text.sentiment_evaluation_runs(
            frames, texts, scores_v1, frames.settings_frame(settings_frame),
            None if conversations is None else frames.columns(conversations, "conversation_id, satisfaction_rating"))
    return text_models.sentiment_evaluation_runs(
        session, frames.columns(texts, "text_source, source_id, text_hash, rating"),
        frames.columns(scores_v1, "text_source, text_hash, polarity, not_scored_reason"),
        frames.settings_frame(settings_frame),
        None if conversations is None else frames.columns(conversations, "conversation_id, satisfaction_rating"))


def conversation_experience(session, conversations, texts, sentiment_scores, settings_frame, version: int):
    """ml_conversation_experience vN (text_models.conversation_experience)."""
    frames = frames_for(session)
    columns = (frames.columns(conversations, "conversation_id, user_id, response_hours, satisfaction_rating"),
               frames.columns(texts, "text_source, source_id, text_hash"),
               frames.columns(sentiment_scores, "text_source, text_hash, polarity"))
    if frames.distributed:
        from ltv.engines import spark_experience

        return spark_experience.conversation_experience(frames, *columns, frames.settings_frame(settings_frame),
                                                        version)
    return text_models.conversation_experience(session, *columns, frames.settings_frame(settings_frame), version)
