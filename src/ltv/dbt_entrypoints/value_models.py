"""ml_user_value vN: fit (or reuse the fit of unchanged training data), record, score."""

from __future__ import annotations

import numpy as np
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


def _borrowed_fit(connection, settings: dict, fit_arguments: dict, features_at_cutoff):
    """The fit of the version below (v2 for v3, v3 for v4) of the same training users, which v3 and
    v4 build on instead of fitting it again (v2's BG/NBD and Gamma-Gamma are 10 s of a million-user
    build, v3's trees 20 s). ml_user_value_v3 refs v2 and v4 refs v3, so the version below has
    stored its fit, new or reused, by the time they run. Only with reuse on: with it off nothing is
    taken from the registry, and v3 and v4 fit what they need themselves."""
    version = fit_arguments["version"]
    if version not in (3, 4) or not reuse_allowed(settings):
        return None
    below = {**fit_arguments, "version": version - 1}
    return FittedModelStore(connection, "user_value", version - 1).load(_training_fingerprint(below, features_at_cutoff))


def _v3_rows_fingerprint(fit_arguments: dict, settings: dict, features_at_cutoff, features_latest) -> str:
    """What v3's table is a function of: v3's fit (its training fingerprint), the latest features it
    scores, the scoring date and this module."""
    import sys

    from ltv import build_cache
    from ltv.user_value import REQUIRED_COLUMNS

    v3_arguments = {**fit_arguments, "version": 3}
    return build_cache.combine(
        "user_value v3 rows", _training_fingerprint(v3_arguments, features_at_cutoff),
        build_cache.relation_fingerprint(features_latest, REQUIRED_COLUMNS[3]), settings.get("scoring_date"),
        build_cache.code_fingerprint(sys.modules[__name__]))


def _v3_rows_for_v4(connection, fit, settings: dict, fit_arguments: dict, features_at_cutoff, features_latest,
                    v3_table: str | None) -> pd.DataFrame | None:
    """v3's table as v4's rows when v4's fit is v3 itself (tuned._fit_v4: v3's model and blend), so
    that v4 neither predicts nor explains the same million users again. Only when v3's table is
    confirmed to have been written from exactly these inputs (build_cache.reusable_output) and reuse
    is on; None otherwise, and v4 scores on its own."""
    from ltv.build_cache import reusable_output

    if fit.state is None or not fit.state.get("serves_v3") or v3_table is None or not reuse_allowed(settings):
        return None
    rows = reusable_output(connection, v3_table, _v3_rows_fingerprint(fit_arguments, settings, features_at_cutoff,
                                                                      features_latest))
    if rows is None:
        return None
    predictions = rows.df()
    predictions["model_version"] = np.full(len(predictions), 4, dtype="int64")
    return predictions


def _fit_or_reuse(connection, settings: dict, fit_arguments: dict, features_at_cutoff,
                  features_at_validation_cutoff) -> tuple:
    """(the version's fit, whether it was reused from an earlier build with the same training data)."""
    from ltv.user_value import fit_user_value

    version = fit_arguments["version"]
    training_columns = ", ".join(_training_columns(version))
    fingerprint = _training_fingerprint(fit_arguments, features_at_cutoff, features_at_validation_cutoff)
    fitted_models = FittedModelStore(connection, "user_value", version)
    fit = fitted_models.load(fingerprint) if reuse_allowed(settings) else None
    if fit is not None:
        return fit, True
    validation = (None if features_at_validation_cutoff is None
                  else features_at_validation_cutoff.project(training_columns).df())
    below = _borrowed_fit(connection, settings, fit_arguments, features_at_cutoff)
    fit = fit_user_value(features_at_cutoff.project(training_columns).df(), features_at_validation_cutoff=validation,
                         v2_fit=below if version == 3 else None, v3_fit=below if version == 4 else None,
                         **fit_arguments)
    if fit.state is not None:
        fitted_models.store(fingerprint, fit)
    return fit, False


def user_value(connection, features_at_cutoff, features_latest, settings_frame: pd.DataFrame,
               version: int, features_at_validation_cutoff=None, this: str | None = None,
               v3_table: str | None = None) -> pd.DataFrame:
    """ml_user_value vN: fit on the cut-off features (or reuse the fit of the same training data),
    record the holdout metrics of a new fit, score everyone from the latest features.

    The features come as relations: whether the training data changed is decided in DuckDB from a
    fingerprint of exactly the columns the version reads, so a reused fit never loads them.
    features_at_validation_cutoff (v4): the validation split v4 tunes on; it is part of the
    fingerprint, so the tuning choice is reused only while it is unchanged too. v4 also records the
    plain boosting baseline's run. v3 takes v2's BG/NBD + Gamma-Gamma from v2's stored fit, v4 v3's
    fit when its final choice is v3 itself, and then v3's table (v3_table, this build's, noted by v3
    under the fingerprint of what it was computed from: `this`) instead of scoring again."""
    from ltv.build_cache import remember_output
    from ltv.user_value import REQUIRED_COLUMNS, score_user_value

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    fit_arguments = _fit_arguments(settings, version)
    if version == 3 and this is not None:
        # Noted even with reuse off: the table is about to change, so the old fingerprint must go.
        remember_output(connection, this, _v3_rows_fingerprint(fit_arguments, settings, features_at_cutoff,
                                                               features_latest))
    fit, reused = _fit_or_reuse(connection, settings, fit_arguments, features_at_cutoff, features_at_validation_cutoff)
    predictions = _v3_rows_for_v4(connection, fit, settings, fit_arguments, features_at_cutoff, features_latest,
                                  v3_table) if version == 4 else None
    if predictions is not None:
        run = {**fit.run, "message": (f"{fit.run['message']}, scored {len(predictions)} users for a "
                                      f"{fit.horizon_days}-day horizon: v3's rows, v4's final choice being v3 itself")}
    else:
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
