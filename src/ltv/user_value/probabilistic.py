"""v2: BG/NBD for the number of purchase days plus Gamma-Gamma for the spend per day, in weeks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ltv.user_value.btyd import (
    bgnbd_expected_purchases_and_alive,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
)
from ltv.user_value.constants import DAYS_PER_WEEK, MIN_GAMMA_GAMMA_USERS
from ltv.user_value.inputs import _numeric


def v2_history(column: Callable[[str], np.ndarray]) -> dict[str, np.ndarray]:
    """BG/NBD and Gamma-Gamma inputs in weeks plus the buyer mask, from column(name), which gives a
    feature column as float (NaN for missing). Guards keep slightly inconsistent SQL (t_x beyond T,
    a span without repeat days) inside the model's domain instead of failing the whole run."""
    has_purchase = np.nan_to_num(column("has_purchase"), nan=0.0) > 0
    repeat_days = np.maximum(np.nan_to_num(column("repeat_purchase_days"), nan=0.0), 0.0)
    observation = np.maximum(np.nan_to_num(column("customer_age_days"), nan=0.0), 0.0) / DAYS_PER_WEEK
    last_repeat = np.maximum(np.nan_to_num(column("purchase_span_days"), nan=0.0), 0.0) / DAYS_PER_WEEK
    last_repeat = np.where(repeat_days > 0, np.minimum(last_repeat, observation), 0.0)
    monetary = np.nan_to_num(column("average_repeat_order_value"), nan=0.0)
    return {"has_purchase": has_purchase, "repeat_days": repeat_days, "last_repeat": last_repeat,
            "observation": observation, "monetary": monetary}


def _purchase_history_in_weeks(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    history = v2_history(lambda name: _numeric(frame, name))
    return history["has_purchase"], history["repeat_days"], history["last_repeat"], history["observation"]


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
    history = v2_history(lambda name: _numeric(frame, name))
    return v2_outputs(history, v2_parts(state, history, horizon_days), frame.index)


# What each part of v2's prediction reads of v2_history (has_purchase only masks the parts).
_BGNBD_INPUTS = ("repeat_days", "last_repeat", "observation")
_SPEND_INPUTS = ("repeat_days", "monetary")


def v2_parts(state: dict, history: dict[str, np.ndarray], horizon_days: int,
             known: tuple[dict, dict] | None = None) -> dict[str, np.ndarray]:
    """BG/NBD's expected purchases and P(alive) and Gamma-Gamma's expected order value, unmasked.
    known: (an earlier history of the same users, its parts): a part whose inputs are all equal to
    the earlier ones is taken from there rather than computed again (each is computed user by user,
    so it would come out the same): the explanations occlude one input at a time."""
    def unchanged(inputs) -> bool:
        return known is not None and all(np.array_equal(history[name], known[0][name]) for name in inputs)

    purchase_model, spend_model = state["purchase_model"], state["spend_model"]
    if unchanged(_BGNBD_INPUTS):
        expected, alive = known[1]["expected_purchases"], known[1]["alive"]
    else:
        expected, alive = bgnbd_expected_purchases_and_alive(
            purchase_model, horizon_days / DAYS_PER_WEEK, history["repeat_days"], history["last_repeat"],
            history["observation"])
    order_value = (known[1]["order_value"] if unchanged(_SPEND_INPUTS)
                   else gamma_gamma_expected_spend(spend_model, history["repeat_days"], history["monetary"]))
    return {"expected_purchases": expected, "alive": alive, "order_value": order_value}


def v2_outputs(history: dict[str, np.ndarray], parts: dict[str, np.ndarray], index=None) -> pd.DataFrame:
    """v2's output columns from its parts: BG/NBD's only for users who have bought."""
    has_purchase = history["has_purchase"]
    purchases = np.where(has_purchase, parts["expected_purchases"], 0.0)
    order_value = parts["order_value"]
    return pd.DataFrame({"predicted_spend": purchases * order_value, "predicted_purchases": purchases,
                         "probability_alive": np.where(has_purchase, parts["alive"], np.nan),
                         "predicted_average_order_value": order_value}, index=index)


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
