"""ml_user_value vN on either engine: value_models.user_value on DuckDB, unchanged, or its Spark
counterpart in ltv.engines.spark_user_value (a fit on the driver from a bounded sample of the users,
scoring and explanations in the executors). value_models itself is not edited for Spark: its source is
part of v3's output fingerprint, so touching it would make a DuckDB warehouse score v4 again."""

from __future__ import annotations

from ltv.dbt_entrypoints import value_models
from ltv.dbt_entrypoints.common import sample_bound
from ltv.engines.frames import frames_for


def user_value(session, features_at_cutoff, features_latest, settings_frame, version: int,
               features_at_validation_cutoff=None, this: str | None = None, v3_table: str | None = None,
               fit_sample_users=None):
    """ml_user_value vN. settings_frame: int_model_settings, a relation or its pandas frame.
    fit_sample_users (var ltv_spark_fit_sample_users, Spark only): at most this many labelled users
    are collected to the driver for a fit; DuckDB fits on every user in its one process."""
    frames = frames_for(session)
    if frames.distributed:
        from ltv.engines import spark_user_value

        return spark_user_value.user_value(
            frames, features_at_cutoff, features_latest, frames.settings(settings_frame), version,
            features_at_validation_cutoff,
            sample_bound(fit_sample_users, "ltv_spark_fit_sample_users", spark_user_value.DEFAULT_FIT_SAMPLE_USERS))
    return value_models.user_value(session, features_at_cutoff, features_latest,
                                   frames.settings_frame(settings_frame), version,
                                   features_at_validation_cutoff, this, v3_table)
