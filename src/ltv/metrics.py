"""Metrics for models that predict a customer's future value.

Two kinds of question matter for customer value: "how far off is the predicted amount?" (RMSE, MAE,
totals) and "does the model put the valuable customers first?" (Spearman, normalized Gini, top-20 %
capture). Marketing acts on the ranking, finance on the totals, so every model report carries both.

All functions take plain sequences or numpy arrays and return plain Python floats, so that the result
can go straight into JSON. A metric that is undefined for the data (a ranking metric when every actual
value is the same, say) is None, never 0.0: 0.0 is a real score ("no better than chance") and must not
stand in for "cannot be measured here".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

ArrayLike = Sequence[float] | np.ndarray

# Share of customers, ranked by predicted value, whose actual value top20_capture sums up.
TOP_SHARE = 0.2

# The smallest evaluation set whose metrics a model run reports, for every model family (user value:
# holdout users; recommendations: users with a test purchase). Below it the metrics of a run are None
# and its metric_status is "too_few_users": on a handful of users a precision or an RMSE is mostly
# noise, and a perfect-looking score on two users flatters a model that was never really tested.
MIN_EVALUATED_USERS = 50

# The fewest holdout spenders (users with a positive actual value) on which a value model's ranking
# metrics (Spearman, normalized Gini, top-20% capture) are reported. Ranking spend is about where the
# spenders land: over k spenders a chance ranking's normalized Gini has a standard deviation of about
# 1/sqrt(3k) (the spread of an AUC over k positives; checked by simulation): 0.58 for one spender,
# 0.41 for two, 0.18 for ten. Below ten a single split cannot tell a useful ranking (Gini 0.5-0.8 on
# the generated shops) from chance, and one spender's rank reads as a score of 1.0 or 0.25.
MIN_RANKED_SPENDERS = 10


def _as_finite_vector(values: ArrayLike, name: str) -> np.ndarray:
    vector = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(vector)):
        raise ValueError(f"{name} contains missing or infinite values; drop or fill them before scoring")
    return vector


def _order_by_prediction(predicted: np.ndarray) -> np.ndarray:
    """Indices from highest to lowest predicted value. The sort is stable, so tied predictions keep
    their input order: the same input always gives the same ranking."""
    return np.argsort(-predicted, kind="stable")


def _gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Unnormalized Gini as defined for Kaggle's insurance competitions: walk customers from highest
    to lowest predicted value and compare the cumulative share of actual value with a random order."""
    ordered_actual = actual[_order_by_prediction(predicted)]
    total = ordered_actual.sum()
    count = len(ordered_actual)
    cumulative_share_sum = np.cumsum(ordered_actual).sum() / total
    return float((cumulative_share_sum - (count + 1) / 2.0) / count)


def normalized_gini(actual: ArrayLike, predicted: ArrayLike) -> float | None:
    """Gini of the actual values ordered by prediction, divided by the Gini of the best possible order.

    1.0 means the predictions rank customers exactly as their actual value does, 0.0 is no better than
    chance and -1.0 is the reverse order. Ties in the prediction are broken by input order (stable
    sort), so the result is deterministic. None where it is undefined: no rows, actual values summing
    to zero (the shares divide by the total) or all actual values equal (there is no ranking to get
    right, so the best order's Gini is zero).
    """
    actual_vector = _as_finite_vector(actual, "actual")
    predicted_vector = _as_finite_vector(predicted, "predicted")
    _check_same_length(actual_vector, predicted_vector)
    if len(actual_vector) == 0 or actual_vector.sum() == 0 or np.ptp(actual_vector) == 0:
        return None
    best_gini = _gini(actual_vector, actual_vector)
    if best_gini == 0:
        return None
    return float(_gini(actual_vector, predicted_vector) / best_gini)


def top_share_capture(actual: ArrayLike, predicted: ArrayLike, share: float = TOP_SHARE) -> float | None:
    """Share of the total actual value earned by the ceil(share * n) customers with the highest
    predicted value (ties by input order). None when there are no rows or the actual total is zero,
    where a share of the total is undefined."""
    actual_vector = _as_finite_vector(actual, "actual")
    predicted_vector = _as_finite_vector(predicted, "predicted")
    _check_same_length(actual_vector, predicted_vector)
    total = actual_vector.sum()
    if len(actual_vector) == 0 or total == 0:
        return None
    # Round the product first so that 0.2 * 15 = 3.0000000000000004 counts as 3, not 4.
    top_count = math.ceil(round(share * len(actual_vector), 9))
    top_indices = _order_by_prediction(predicted_vector)[:top_count]
    return float(actual_vector[top_indices].sum() / total)


def spearman(actual: ArrayLike, predicted: ArrayLike) -> float | None:
    """Spearman rank correlation with tied values given their average rank. None when there are
    fewer than two rows or either side is constant, where the correlation is undefined."""
    actual_vector = _as_finite_vector(actual, "actual")
    predicted_vector = _as_finite_vector(predicted, "predicted")
    _check_same_length(actual_vector, predicted_vector)
    if len(actual_vector) < 2 or np.ptp(actual_vector) == 0 or np.ptp(predicted_vector) == 0:
        return None
    return float(stats.spearmanr(actual_vector, predicted_vector).statistic)


def _check_same_length(actual: np.ndarray, predicted: np.ndarray) -> None:
    if len(actual) != len(predicted):
        raise ValueError(f"actual has {len(actual)} values but predicted has {len(predicted)}")


def value_metrics(actual: ArrayLike, predicted: ArrayLike) -> dict:
    """All customer-value metrics for one set of predictions, as a JSON-ready dict.

    Keys: rmse, mae, spearman, normalized_gini, top20_capture, predicted_total, actual_total, rows.
    With zero rows, rmse, mae, spearman, normalized_gini and top20_capture are None (JSON null) and
    the totals are 0.0, so a skipped model still reports every key. Otherwise spearman,
    normalized_gini and top20_capture are None wherever `spearman`, `normalized_gini` and
    `top_share_capture` say they are undefined (all actual values equal, say); rmse and mae are
    always defined. Whether there are enough rows for the numbers to mean anything is the caller's
    judgement (see MIN_EVALUATED_USERS).
    """
    actual_vector = _as_finite_vector(actual, "actual")
    predicted_vector = _as_finite_vector(predicted, "predicted")
    _check_same_length(actual_vector, predicted_vector)
    rows = len(actual_vector)
    if rows == 0:
        return {
            "rmse": None,
            "mae": None,
            "spearman": None,
            "normalized_gini": None,
            "top20_capture": None,
            "predicted_total": 0.0,
            "actual_total": 0.0,
            "rows": 0,
        }
    error = predicted_vector - actual_vector
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "spearman": spearman(actual_vector, predicted_vector),
        "normalized_gini": normalized_gini(actual_vector, predicted_vector),
        "top20_capture": top_share_capture(actual_vector, predicted_vector),
        "predicted_total": float(predicted_vector.sum()),
        "actual_total": float(actual_vector.sum()),
        "rows": int(rows),
    }
