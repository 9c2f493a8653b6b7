"""v1: the published linear regression of future spend on activity, frequency and amount."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ltv.user_value.constants import LABEL_COLUMN, V1_FEATURES
from ltv.user_value.inputs import _numeric


def _fit_v1(train: pd.DataFrame) -> dict:
    from sklearn.linear_model import LinearRegression

    features = np.column_stack([_numeric(train, column) for column in V1_FEATURES])
    if not np.all(np.isfinite(features)):
        raise ValueError("v1 features (activity, frequency, amount) have missing values")
    model = LinearRegression().fit(features, _numeric(train, LABEL_COLUMN))
    return {"model": model}


def _predict_v1(state: dict, frame: pd.DataFrame) -> pd.DataFrame:
    model = state["model"]
    features = np.column_stack([_numeric(frame, column) for column in V1_FEATURES])
    predicted = pd.DataFrame(index=frame.index)
    for position, column in enumerate(V1_FEATURES):
        predicted[f"contribution_{column}"] = model.coef_[position] * features[:, position]
    predicted["intercept"] = float(model.intercept_)
    # Summing the parts (rather than calling model.predict) guarantees they add up to the prediction.
    predicted.insert(
        0,
        "predicted_spend",
        predicted[[f"contribution_{column}" for column in V1_FEATURES]].sum(axis=1) + predicted["intercept"],
    )
    return predicted


def _parameters_v1(state: dict) -> dict:
    model = state["model"]
    parameters = {
        f"coefficient_{column}": float(model.coef_[position]) for position, column in enumerate(V1_FEATURES)
    }
    parameters["intercept"] = float(model.intercept_)
    return parameters
