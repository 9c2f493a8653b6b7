"""What the dbt Python models call: one function per model family.

Each function takes the frames the model read with dbt.ref() (already pandas), reads its settings
from the one-row int_model_settings frame, calls the plain functions that hold the logic, records
the fit in the run registry and returns the table dbt writes. Keeping this glue here, and not in
the model files, is what lets the model files stay three lines long and the logic be unit-tested.
"""

from __future__ import annotations

import os

import pandas as pd

from ltv.registry import record_run


def _limit_native_threads() -> None:
    # On a contended 2-core machine, BLAS/OpenMP pools fighting dbt's own threads made
    # scikit-learn 10-15x slower; one native thread per model is faster overall.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


def model_settings(settings_frame: pd.DataFrame) -> dict:
    """The single row of int_model_settings as a dict of plain Python values."""
    if len(settings_frame) != 1:
        raise ValueError(f"int_model_settings must have exactly one row, found {len(settings_frame)}")
    row = settings_frame.iloc[0].to_dict()
    return {key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}


def _as_date(value):
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def user_value(connection, features_at_cutoff: pd.DataFrame, features_latest: pd.DataFrame,
               settings_frame: pd.DataFrame, version: int) -> pd.DataFrame:
    """ml_user_value vN: fit on the cut-off features, record the holdout metrics, score everyone."""
    from ltv.user_value import predict_user_value

    _limit_native_threads()
    settings = model_settings(settings_frame) if len(settings_frame) else {}
    predictions, run = predict_user_value(
        features_at_cutoff,
        features_latest,
        version=version,
        horizon_days=int(settings.get("horizon_days", 180)),
        holdout_share=float(settings.get("holdout_share", 0.2)),
        seed=int(settings.get("random_seed", 42)),
        min_labelled_users=int(settings.get("min_labelled_users", 50)),
    )
    if len(settings_frame):
        record_run(connection, run, cutoff_date=_as_date(settings["cutoff_date"]),
                   horizon_days=settings["horizon_days"])
    # scored_at is the date the features describe, not the wall clock, so two builds on the
    # same data give identical tables.
    scoring_date = settings.get("scoring_date")
    predictions["scored_at"] = pd.Timestamp(scoring_date) if scoring_date is not None else pd.NaT
    predictions["scored_at"] = predictions["scored_at"].astype("datetime64[us]")
    return predictions
