"""The plain gradient-boosting baseline: scikit-learn's HistGradientBoostingRegressor with its default
hyperparameters on recency, frequency, monetary value and tenure, the model a data scientist would
try first. v4 must rank customers better than it; it is recorded in the registry beside the
versions (model_version BASELINE_MODEL_VERSION, method BASELINE_METHOD) and is never served."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ltv.user_value.constants import BASELINE_FEATURES, LABEL_COLUMN
from ltv.user_value.forest import boosting_threads
from ltv.user_value.inputs import _numeric, informative_columns


def _baseline_matrix(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack([_numeric(frame, column) for column in BASELINE_FEATURES])


def fit_baseline(train: pd.DataFrame) -> dict:
    from sklearn.ensemble import HistGradientBoostingRegressor

    features = _baseline_matrix(train)
    kept = informative_columns(features)
    if not kept.any():
        raise ValueError("every RFM feature is empty or constant over the training users")
    # Defaults, except a fixed random_state: the default early stopping (on above 10,000 users)
    # holds out a random 10%, which must be the same on every build.
    model = HistGradientBoostingRegressor(random_state=0)
    with boosting_threads(len(features)):
        model.fit(features[:, kept], _numeric(train, LABEL_COLUMN))
    return {"model": model, "kept_columns": kept}


def predict_baseline(state: dict, frame: pd.DataFrame) -> np.ndarray:
    with boosting_threads(len(frame)):
        return state["model"].predict(_baseline_matrix(frame)[:, state["kept_columns"]])


def baseline_parameters(state: dict) -> dict:
    kept = state["kept_columns"]
    return {
        "hyperparameters": "scikit-learn defaults (HistGradientBoostingRegressor, random_state=0)",
        "features": [name for name, keep in zip(BASELINE_FEATURES, kept, strict=True) if keep],
        "trees": int(state["model"].n_iter_),
        "served": False,
    }
