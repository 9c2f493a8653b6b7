"""What the registry records of a user-value fit: the run record and the holdout verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ltv.metrics import MIN_EVALUATED_USERS, MIN_RANKED_SPENDERS, value_metrics
from ltv.user_value.constants import (
    BASELINE_METHOD,
    BASELINE_MODEL_VERSION,
    EXPLANATION_COLUMNS,
    MODEL_NAME,
    VERSION_METHODS,
    output_columns,
)


def _empty_predictions(version: int) -> pd.DataFrame:
    dtypes = {
        "user_id": "str",
        "model_version": "int64",
        "value_decile": "int64",
        "split": "str",
        # The driver names; their contributions are float like the other columns.
        **{column: "str" for column in EXPLANATION_COLUMNS if not column.endswith("_contribution")},
    }
    return pd.DataFrame(
        {column: pd.Series([], dtype=dtypes.get(column, "float64")) for column in output_columns(version)}
    )


def _json_ready(value):
    """Plain Python values only, and None instead of NaN/inf, so json.dumps(allow_nan=False) works."""
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def _run_record(
    version: int | str,
    status: str,
    message: str,
    train_rows: int,
    holdout_rows: int,
    parameters: dict,
    metrics: dict,
) -> dict:
    return _json_ready(
        {
            "model_name": MODEL_NAME,
            "model_version": version if isinstance(version, str) else int(version),
            "method": BASELINE_METHOD if version == BASELINE_MODEL_VERSION else VERSION_METHODS[int(version)],
            "status": status,
            "message": message,
            "train_rows": train_rows,
            "holdout_rows": holdout_rows,
            "parameters": parameters,
            "metrics": metrics,
        }
    )


# Metrics that rank customers: undefined when every holdout user has the same actual value.
RANKING_METRICS = ("spearman", "normalized_gini", "top20_capture")
# Metrics that only mean something on enough holdout users (everything estimated from the holdout;
# rows and the totals are plain counts and sums, so they stay).
HOLDOUT_ESTIMATES = ("rmse", "mae", *RANKING_METRICS, "baseline_rmse")


def holdout_verdict(metrics: dict, holdout_actual: np.ndarray) -> tuple[dict, str | None]:
    """The holdout metrics as the registry records them, plus a caveat for the run's message.

    Adds metric_status and beats_baseline to a copy of `metrics` (value_metrics plus baseline_rmse):
    * "too_few_users": fewer than MIN_EVALUATED_USERS holdout users; rmse, mae, the ranking metrics
      and baseline_rmse are None (a score on a handful of users says little and flatters easily);
    * "degenerate_labels": every holdout actual value is the same (all 0, say): there is no ranking
      to get right, so spearman, normalized_gini and top20_capture are None; rmse and mae stay;
    * "too_few_spenders": fewer than MIN_RANKED_SPENDERS holdout users spent anything (actual > 0):
      the ranking metrics are None, as a ranking judged on a handful of spenders is chance (see
      MIN_RANKED_SPENDERS); rmse and mae stay, being averages over every holdout user;
    * "ok" otherwise.
    beats_baseline is rmse < baseline_rmse (predicting the train mean), None when either is None.
    """
    metrics = dict(metrics)
    holdout_users = len(holdout_actual)
    caveat = None
    if holdout_users < MIN_EVALUATED_USERS:
        status = "too_few_users"
        metrics.update(dict.fromkeys(HOLDOUT_ESTIMATES))
        caveat = f"holdout of {holdout_users} users is below {MIN_EVALUATED_USERS}: metrics undefined"
    elif np.ptp(holdout_actual) == 0:
        status = "degenerate_labels"
        metrics.update(dict.fromkeys(RANKING_METRICS))
        caveat = (f"every holdout user has the same actual value ({float(holdout_actual[0]):g}): "
                  "ranking metrics undefined")
    elif (spenders := int(np.sum(holdout_actual > 0))) < MIN_RANKED_SPENDERS:
        status = "too_few_spenders"
        metrics.update(dict.fromkeys(RANKING_METRICS))
        caveat = (f"{spenders} of {holdout_users} holdout users spent anything, below {MIN_RANKED_SPENDERS}: "
                  "ranking metrics undefined")
    else:
        status = "ok"
    metrics["metric_status"] = status
    rmse, baseline_rmse = metrics.get("rmse"), metrics.get("baseline_rmse")
    metrics["beats_baseline"] = None if rmse is None or baseline_rmse is None else bool(rmse < baseline_rmse)
    return metrics, caveat


def _skipped(
    version: int, message: str, train_rows: int = 0, holdout_rows: int = 0
) -> tuple[pd.DataFrame, dict]:
    metrics = value_metrics([], [])
    # Nothing was evaluated: no status to report, and no verdict against the baseline.
    metrics.update(baseline_rmse=None, metric_status=None, beats_baseline=None)
    return _empty_predictions(version), _run_record(
        version, "skipped", message, train_rows, holdout_rows, {}, metrics
    )
