"""The recommendation models' entry points on either engine. Each reads its inputs through
ltv.engines.frames and runs recommendation_models and recommendation_offline unchanged on DuckDB,
or their Spark counterparts in ltv.engines.spark_recommendations. recommendation_models itself is not
edited for Spark: its source is part of the content similarity's, the tuning's and the evaluation's
fingerprints, so touching it would rebuild them on a DuckDB warehouse that could have reused them."""

from __future__ import annotations

from ltv.dbt_entrypoints import recommendation_models, recommendation_offline
from ltv.dbt_entrypoints.common import sample_bound
from ltv.engines.frames import frames_for

INTERACTION_COLUMNS = "user_id, item_id, interaction_weight, purchases_total, returned_total, cancelled_total"
TUNING_COLUMNS = ("user_id, item_id, purchases_before_cutoff, returned_before_cutoff, cancelled_before_cutoff, "
                  "rating_before_cutoff, purchases_before_validation_cutoff, returned_before_validation_cutoff, "
                  "cancelled_before_validation_cutoff, rating_before_validation_cutoff")
EVALUATION_COLUMNS = ("user_id, item_id, interaction_weight_before_cutoff, purchases_before_cutoff, "
                      "purchases_after_cutoff, returned_before_cutoff, cancelled_before_cutoff, rating_before_cutoff")


def item_similarity(session, interactions, items, settings_frame, version: int):
    """ml_item_similarities v1, v2 (recommendation_models.item_similarity); `settings_frame` is
    int_model_settings, a relation or its pandas frame."""
    frames = frames_for(session)
    interactions = frames.columns(interactions, "user_id, item_id, interaction_weight")
    items = frames.columns(items, "item_id")
    if frames.distributed:
        from ltv.engines import spark_recommendations

        settings = frames.settings(settings_frame)
        return spark_recommendations.item_similarities(
            interactions, items, version, top_k=int(settings.get("similarity_top_k", 50)),
            bm25_k1=float(settings.get("bm25_k1", 1.2)), bm25_b=float(settings.get("bm25_b", 0.75)))
    return recommendation_models.item_similarity(session, interactions, items, frames.settings_frame(settings_frame),
                                                 version)


def user_recommendations(session, interactions, similarities, users, settings_frame, tuning=None):
    """ml_user_recommendations vN (recommendation_models.user_recommendations); v3 passes tuning."""
    frames = frames_for(session)
    interactions = frames.columns(interactions, INTERACTION_COLUMNS + (", rating_latest" if tuning is not None else ""))
    similarities = frames.columns(similarities, "item_id, similar_item_id, similarity, model_version")
    users = frames.columns(users, "user_id")
    if frames.distributed:
        from ltv.engines import spark_recommendations

        settings = frames.settings(settings_frame)
        top_n = int(settings.get("recommendations_top_n", 10))
        if tuning is not None:
            config = recommendation_models.chosen_config(tuning.toPandas())  # one row per grid point
            return spark_recommendations.user_recommendations_v3(interactions, similarities, users, config, top_n)
        versions = similarities.select("model_version").limit(1).collect()
        return spark_recommendations.user_recommendations(
            interactions, similarities, users, int(versions[0][0]) if versions else 2, top_n=top_n)
    return recommendation_models.user_recommendations(session, interactions, similarities, users,
                                                      frames.settings_frame(settings_frame), tuning)


def _recommendation_sample_bound(value) -> int:
    from ltv.engines.spark_offline import DEFAULT_SAMPLE_USERS

    return sample_bound(value, "ltv_spark_recommendation_sample_users", DEFAULT_SAMPLE_USERS)


def recommendation_tuning(session, interactions, settings_frame, this: str | None = None):
    """ml_recommendation_tuning (recommendation_offline.recommendation_tuning); on Spark on the driver,
    from a bounded sample of users (ltv.engines.spark_offline), and never reused."""
    frames = frames_for(session)
    interactions = frames.columns(interactions, TUNING_COLUMNS)
    if frames.distributed:
        from ltv.engines import spark_offline

        return spark_offline.recommendation_tuning(frames, interactions, frames.settings_frame(settings_frame))
    return recommendation_offline.recommendation_tuning(session, interactions, frames.settings_frame(settings_frame),
                                                        this)


def recommendation_evaluation(session, interactions, items, settings_frame, content_similarities=None, tuning=None,
                              this: str | None = None, sample_users=None):
    """ml_recommendation_evaluation (recommendation_offline.recommendation_evaluation); on Spark on the
    driver, from at most sample_users users (var ltv_spark_recommendation_sample_users;
    ltv.engines.spark_offline), and never reused."""
    frames = frames_for(session)
    interactions = frames.columns(interactions, EVALUATION_COLUMNS)
    if content_similarities is not None:
        content_similarities = frames.columns(content_similarities, "item_id, similar_item_id, similarity")
    if frames.distributed:
        from ltv.engines import spark_offline

        return spark_offline.recommendation_evaluation(frames, interactions, items, content_similarities, tuning,
                                                       frames.settings_frame(settings_frame),
                                                       _recommendation_sample_bound(sample_users))
    return recommendation_offline.recommendation_evaluation(
        session, interactions, items, frames.settings_frame(settings_frame), content_similarities=content_similarities,
        tuning=tuning, this=this)


def content_similarity(session, items, settings_frame, this: str | None = None):
    """ml_item_content_similarities (recommendation_models.content_similarity); on Spark distributed
    (ltv.engines.spark_content, the same rows), and never reused."""
    frames = frames_for(session)
    if frames.distributed:
        from pyspark.sql import functions as F

        from ltv.engines import spark_content

        settings = frames.settings(settings_frame)
        similarities = spark_content.content_similarities(items, top_k=int(settings.get("similarity_top_k", 50)))
        return similarities.withColumn("source", F.lit("content"))
    return recommendation_models.content_similarity(session, items, frames.settings_frame(settings_frame), this)


def item_similarity_v3(session, interactions, items, tuning, settings_frame, sample_users=None):
    """ml_item_similarities v3 (recommendation_models.item_similarity_v3); on Spark fitted on the
    driver from at most sample_users users (var ltv_spark_recommendation_sample_users;
    ltv.engines.spark_offline)."""
    frames = frames_for(session)
    interactions = frames.columns(interactions, "user_id, item_id, purchases_total, returned_total, cancelled_total, "
                                                "rating_latest")
    items = frames.columns(items, "item_id")
    if frames.distributed:
        from ltv.engines import spark_offline

        return spark_offline.item_similarity_v3(frames, interactions, items, tuning,
                                                frames.settings_frame(settings_frame),
                                                _recommendation_sample_bound(sample_users))
    return recommendation_models.item_similarity_v3(session, interactions, items, tuning,
                                                    frames.settings_frame(settings_frame))
