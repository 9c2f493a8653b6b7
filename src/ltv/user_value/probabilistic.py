"""v2: BG/NBD for the number of purchase days plus Gamma-Gamma for the spend per day, in weeks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ltv.user_value.btyd import (
    bgnbd_conditional_expected_purchases,
    bgnbd_probability_alive,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
)
from ltv.user_value.constants import DAYS_PER_WEEK, MIN_GAMMA_GAMMA_USERS
from ltv.user_value.inputs import _numeric


def _purchase_history_in_weeks(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD inputs in weeks plus the buyer mask. Guards keep slightly inconsistent SQL (t_x beyond T,
    a span without repeat days) inside the model's domain instead of failing the whole run."""
    has_purchase = np.nan_to_num(_numeric(frame, "has_purchase"), nan=0.0) > 0
    repeat_days = np.maximum(np.nan_to_num(_numeric(frame, "repeat_purchase_days"), nan=0.0), 0.0)
    observation = (
        np.maximum(np.nan_to_num(_numeric(frame, "customer_age_days"), nan=0.0), 0.0) / DAYS_PER_WEEK
    )
    last_repeat = (
        np.maximum(np.nan_to_num(_numeric(frame, "purchase_span_days"), nan=0.0), 0.0) / DAYS_PER_WEEK
    )
    last_repeat = np.where(repeat_days > 0, np.minimum(last_repeat, observation), 0.0)
    return has_purchase, repeat_days, last_repeat, observation


def _fit_v2(train: pd.DataFrame) -> dict:
    has_purchase, repeat_days, last_repeat, observation = _purchase_history_in_weeks(train)
    if has_purchase.sum() < 2:
        raise ValueError(f"BG/NBD needs buyers to learn from; the training set has {int(has_purchase.sum())}")
    purchase_model = fit_bgnbd(
        repeat_days[has_purchase], last_repeat[has_purchase], observation[has_purchase]
    )
    monetary = np.nan_to_num(_numeric(train, "average_repeat_order_value"), nan=0.0)
    spend_sample = has_purchase & (repeat_days >= 1) & (monetary > 0)
    if spend_sample.sum() < MIN_GAMMA_GAMMA_USERS:
        raise ValueError(
            f"Gamma-Gamma needs at least {MIN_GAMMA_GAMMA_USERS} training users with a repeat purchase and "
            f"positive repeat spend; there are {int(spend_sample.sum())}"
        )
    spend_model = fit_gamma_gamma(repeat_days[spend_sample], monetary[spend_sample])
    return {
        "purchase_model": purchase_model,
        "spend_model": spend_model,
        "spend_users": int(spend_sample.sum()),
    }


def _predict_v2(state: dict, frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Users who have never bought are outside BG/NBD, which starts at a customer's first purchase:
    they get 0 predicted purchases and spend, a null probability_alive, and the population mean as
    predicted_average_order_value. Buyers without repeat spend also get the population mean."""
    has_purchase, repeat_days, last_repeat, observation = _purchase_history_in_weeks(frame)
    purchase_model, spend_model = state["purchase_model"], state["spend_model"]
    monetary = np.nan_to_num(_numeric(frame, "average_repeat_order_value"), nan=0.0)
    expected_purchases = bgnbd_conditional_expected_purchases(
        purchase_model, horizon_days / DAYS_PER_WEEK, repeat_days, last_repeat, observation
    )
    alive = bgnbd_probability_alive(purchase_model, repeat_days, last_repeat, observation)
    order_value = gamma_gamma_expected_spend(spend_model, repeat_days, monetary)
    predicted = pd.DataFrame(index=frame.index)
    predicted["predicted_purchases"] = np.where(has_purchase, expected_purchases, 0.0)
    predicted["probability_alive"] = np.where(has_purchase, alive, np.nan)
    predicted["predicted_average_order_value"] = order_value
    predicted.insert(
        0, "predicted_spend", predicted["predicted_purchases"] * predicted["predicted_average_order_value"]
    )
    return predicted


def _parameters_v2(state: dict) -> dict:
    purchase = state["purchase_model"]
    spend = state["spend_model"]
    return {
        "time_unit": "weeks",
        "r": purchase.r,
        "alpha": purchase.alpha,
        "a": purchase.a,
        "b": purchase.b,
        "bgnbd_log_likelihood": purchase.log_likelihood,
        "bgnbd_converged": purchase.converged,
        "bgnbd_optimizer_message": purchase.optimizer_message,
        "p": spend.p,
        "q": spend.q,
        "gamma": spend.gamma,
        "gamma_gamma_log_likelihood": spend.log_likelihood,
        "gamma_gamma_converged": spend.converged,
        "gamma_gamma_optimizer_message": spend.optimizer_message,
        "gamma_gamma_users": state["spend_users"],
        "population_mean_order_value": spend.population_mean_spend,
    }
