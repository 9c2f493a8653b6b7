"""ml_user_value vN: fit (or reuse the fit of unchanged training data), record, score."""

from __future__ import annotations

import pandas as pd

from ltv.build_cache import FittedModelStore
from ltv.dbt_entrypoints.common import _as_date, model_settings, reuse_allowed
from ltv.registry import record_run


def _fit_arguments(settings: dict, version: int) -> dict:
    return {
        "version": version,
        "horizon_days": int(settings.get("horizon_days", 180)),
        "holdout_share": float(settings.get("holdout_share", 0.2)),
        "seed": int(settings.get("random_seed", 42)),
        "min_labelled_users": int(settings.get("min_labelled_users", 50)),
    }


def _training_columns(version: int) -> list[str]:
    from ltv.user_value import LABEL_COLUMN, REQUIRED_COLUMNS

    return list(dict.fromkeys((*REQUIRED_COLUMNS[version], LABEL_COLUMN)))


def _training_fingerprint(fit_arguments: dict, features_at_cutoff, features_at_validation_cutoff=None) -> str:
    """What a version's fit depends on: its settings, the columns it reads of the training (and, v4,
    validation) features, and the code. Whether the data changed is decided in DuckDB, so a reused
    fit never loads the features."""
    from ltv import build_cache
    from ltv import user_value as user_value_module

    columns = _training_columns(fit_arguments["version"])
    validation_fingerprint = (None if features_at_validation_cutoff is None
                              else build_cache.relation_fingerprint(features_at_validation_cutoff, columns))
    # ltv.user_value is a package: code_fingerprint covers every module in it.
    return build_cache.combine(
        sorted(fit_arguments.items()), build_cache.relation_fingerprint(features_at_cutoff, columns),
        validation_fingerprint, build_cache.code_fingerprint(user_value_module))


def _v2_fit_for_v3(connection, settings: dict, fit_arguments: dict, features_at_cutoff):
    """v2's fit of the same training users, which v3 builds on instead of fitting BG/NBD and
    Gamma-Gamma again (10 s of a million-user build). ml_user_value_v3 refs v2, so v2 has stored its
    fit, new or reused, by the time v3 runs. Only with reuse on: with it off nothing is taken from
    the registry, and v3 fits v2 itself."""
    if fit_arguments["version"] != 3 or not reuse_allowed(settings):
        return None
    v2_arguments = {**fit_arguments, "version": 2}
    return FittedModelStore(connection, "user_value", 2).load(_training_fingerprint(v2_arguments, features_at_cutoff))


def user_value(connection, features_at_cutoff, features_latest, settings_frame: pd.DataFrame,
               version: int, features_at_validation_cutoff=None) -> pd.DataFrame:
    """ml_user_value vN: fit on the cut-off features (or reuse the fit of the same training data),
    record the holdout metrics of a new fit, score everyone from the latest features.

    The features come as relations: whether the training data changed is decided in DuckDB from a
    fingerprint of exactly the columns the version reads, so a reused fit never loads them.
    features_at_validation_cutoff (v4): the validation split v4 tunes on; it is part of the
    fingerprint, so the tuning choice is reused only while it is unchanged too. v4 also records the
    plain boosting baseline's run. v3 takes v2's BG/NBD + Gamma-Gamma from v2's stored fit."""
    from ltv.user_value import REQUIRED_COLUMNS, fit_user_value, score_user_value

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    fit_arguments = _fit_arguments(settings, version)
    training_columns = ", ".join(_training_columns(version))
    fingerprint = _training_fingerprint(fit_arguments, features_at_cutoff, features_at_validation_cutoff)
    fitted_models = FittedModelStore(connection, "user_value", version)
    fit = fitted_models.load(fingerprint) if reuse_allowed(settings) else None
    reused = fit is not None
    if fit is None:
        validation = (None if features_at_validation_cutoff is None
                      else features_at_validation_cutoff.project(training_columns).df())
        fit = fit_user_value(features_at_cutoff.project(training_columns).df(),
                             features_at_validation_cutoff=validation,
                             v2_fit=_v2_fit_for_v3(connection, settings, fit_arguments, features_at_cutoff),
                             **fit_arguments)
        if fit.state is not None:
            fitted_models.store(fingerprint, fit)
    # Only the columns the version reads: v1 needs four of the thirty-odd feature columns.
    predictions, run = score_user_value(fit, features_latest.project(", ".join(REQUIRED_COLUMNS[version])).df())
    # The registry logs fits: a reused fit was recorded by the build that made it.
    if len(settings_frame) and not reused:
        for recorded in (run, fit.baseline_run):
            if recorded is not None:
                record_run(connection, recorded, cutoff_date=_as_date(settings["cutoff_date"]),
                           horizon_days=settings["horizon_days"])
    # The date the features describe, not the wall clock, so two builds on the same data give
    # identical tables.
    scoring_date = settings.get("scoring_date")
    predictions["features_as_of_date"] = pd.Timestamp(scoring_date) if scoring_date is not None else pd.NaT
    predictions["features_as_of_date"] = predictions["features_as_of_date"].astype("datetime64[us]")
    return predictions
