"""Customer-value models: how much will each customer spend over the next `horizon_days`?

The dbt Python models call `predict_user_value` with two feature tables built in SQL, one row per user:
`features_at_cutoff` (features as of a past cut-off date plus the label `future_net_spend`, the net
spend in the horizon after the cut-off) and `features_latest` (the same features as of the latest data
date, label null). A model is fitted on a deterministic 80 % of the labelled users, judged on the other
20 %, and then scores every user of `features_latest`.

Three versions, kept side by side so their reports can be compared:

* v1 — the published method, unchanged: a linear regression of future spend on recency (`activity`),
  `frequency` and `amount`. Its predictions can be negative; they are deliberately not clipped, so the
  published numbers can be reproduced. Each prediction is broken down into per-feature contributions.
* v2 — BG/NBD (Fader, Hardie & Lee 2005) for the number of repeat purchase days plus Gamma-Gamma
  (Fader, Hardie & Lee 2005b) for the spend per purchase day, both fitted by maximum likelihood.
* v3 — gradient-boosted trees (Poisson loss) on the rich behavioural features plus v2's outputs,
  averaged with v2's own prediction (an equal-weight ensemble).

The lower-level BG/NBD and Gamma-Gamma functions are public and unit-free: they work in whatever time
unit the caller uses, as long as it is the same for x, t_x, T and the horizon. `predict_user_value`
works in weeks, the unit of the papers, because it keeps the fitted parameters in a comfortable range.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special

from ltv.metrics import MIN_EVALUATED_USERS, value_metrics

MODEL_NAME = "user_value"
SUPPORTED_VERSIONS = (1, 2, 3)
LABEL_COLUMN = "future_net_spend"
DAYS_PER_WEEK = 7.0

V1_FEATURES = ("activity", "frequency", "amount")

# Behavioural features v3 learns from. Booleans become 0/1; missing values (average_rating of a user
# who never reviewed, say) stay NaN, which gradient-boosted trees route to the better side on their own.
V3_BASE_FEATURES = (
    "days_since_signup",
    "days_since_last_activity",
    "activity",
    "has_purchase",
    "days_since_first_purchase",
    "days_since_last_purchase",
    "completed_orders",
    "distinct_purchase_days",
    "repeat_purchase_days",
    "purchase_span_days",
    "customer_age_days",
    "frequency",
    "amount",
    "net_spend",
    "average_order_value",
    "average_repeat_order_value",
    "return_share",
    "cancelled_orders",
    "events_last_90_days",
    "views_last_90_days",
    "add_to_cart_last_90_days",
    "reviews_written",
    "average_rating",
    "support_contacts",
    "average_support_satisfaction",
)
V2_OUTPUT_COLUMNS = ("predicted_purchases", "probability_alive", "predicted_average_order_value")
V3_FEATURES = V3_BASE_FEATURES + V2_OUTPUT_COLUMNS + ("v2_predicted_spend",)

REQUIRED_COLUMNS = {
    1: ("user_id",) + V1_FEATURES,
    2: (
        "user_id",
        "has_purchase",
        "repeat_purchase_days",
        "purchase_span_days",
        "customer_age_days",
        "average_repeat_order_value",
    ),
    3: ("user_id",) + V3_BASE_FEATURES,
}

# Per labelled user at the cut-off: the holdout pair (held-out users only) and the cut-off pair for
# every labelled user, train and holdout alike, so an analyst can back-test each version in BI.
SPLIT_VALUE_COLUMNS = ("holdout_predicted_spend", "holdout_actual_spend", "cutoff_predicted_spend", "cutoff_actual_spend")
COMMON_OUTPUT_COLUMNS = ("user_id", "model_version", "predicted_spend", "value_decile", "split", *SPLIT_VALUE_COLUMNS)
VERSION_OUTPUT_COLUMNS = {
    1: ("contribution_activity", "contribution_frequency", "contribution_amount", "intercept"),
    2: V2_OUTPUT_COLUMNS,
    3: (),
}

# v3's hyperparameters. Chosen for a few thousand to a few million users: shallow trees and a modest
# learning rate resist over-fitting the heavy right tail of spend; no early stopping, because its
# internal validation split would make the number of trees depend on the data order.
V3_HYPERPARAMETERS = {
    "loss": "poisson",
    "learning_rate": 0.05,
    "max_iter": 200,
    "max_leaf_nodes": 7,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}

# v3's prediction = this weight × the trees + the rest × v2's expected spend (when v2 could be fitted).
V3_TREE_WEIGHT = 0.5

# Gamma-Gamma needs a handful of repeat buyers to say anything about the spread of spend.
MIN_GAMMA_GAMMA_USERS = 10


def output_columns(version: int) -> list[str]:
    """The columns `predict_user_value` returns for a model version, in order."""
    _check_version(version)
    return list(COMMON_OUTPUT_COLUMNS) + list(VERSION_OUTPUT_COLUMNS[version])


# --------------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------------


def _plain_dict(parameters) -> dict:
    """A parameters dataclass as JSON-ready plain Python values (numpy floats become floats)."""
    return {
        key: (float(value) if isinstance(value, float | np.floating) else value)
        for key, value in asdict(parameters).items()
    }


@dataclass(frozen=True)
class BGNBDParameters:
    """BG/NBD parameters: purchase rates λ ~ Gamma(shape r, rate alpha); dropout probabilities
    p ~ Beta(a, b). The fit diagnostics are filled in by `fit_bgnbd` and None otherwise."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float | None = None
    converged: bool | None = None
    optimizer_message: str | None = None

    def as_dict(self) -> dict:
        return _plain_dict(self)


def _as_vector(values, name: str) -> np.ndarray:
    vector = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(vector)):
        raise ValueError(f"{name} contains missing or infinite values")
    return vector


def _check_purchase_history(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T):
        raise ValueError("purchase histories need x >= 0 and 0 <= t_x <= T")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("a customer without repeat purchases must have t_x = 0")


def bgnbd_log_likelihood(params: BGNBDParameters, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood of a purchase history under BG/NBD (Fader, Hardie & Lee 2005, eq. 6).

    x: number of repeat purchases in (0, T]; t_x: time of the last repeat purchase (0 if x = 0);
    T: time from the first purchase to the end of observation. The likelihood is the sum of "still
    alive at T" and (for x > 0) "dropped out right after the x-th repeat purchase"; it is computed in
    log space with logaddexp so that long histories do not overflow.
    """
    x, t_x, T = (_as_vector(values, name) for values, name in ((x, "x"), (t_x, "t_x"), (T, "T")))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    shared = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
    )
    alive_term = -(r + x) * np.log(alpha + T)
    # B(a+1, b+x-1) / B(a, b+x) = a / (b+x-1), so the dropout term shares the alive term's beta part.
    with np.errstate(divide="ignore", invalid="ignore"):
        dropout_term = np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x)
    combined = np.where(x > 0, np.logaddexp(alive_term, np.where(x > 0, dropout_term, -np.inf)), alive_term)
    return shared + combined


def _aggregate_histories(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows and their counts. Purchase histories measured in whole days repeat a lot, so the
    likelihood is evaluated once per distinct history; this keeps large fits fast."""
    stacked = np.column_stack(columns)
    unique_rows, counts = np.unique(stacked, axis=0, return_counts=True)
    return unique_rows, counts.astype(float)


def _minimise_from_starts(objective, starts: list[np.ndarray], bounds: list[tuple[float, float]]):
    """Run L-BFGS-B from each start and keep the best finite result; fall back to Nelder-Mead if
    L-BFGS-B never reaches a finite value (it can stall where finite differences overflow)."""
    best = None
    for start in starts:
        for method in ("L-BFGS-B", "Nelder-Mead"):
            options = (
                {"maxiter": 2000}
                if method == "L-BFGS-B"
                else {"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-10}
            )
            result = optimize.minimize(objective, start, method=method, bounds=bounds, options=options)
            if np.isfinite(result.fun):
                break
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise RuntimeError("the likelihood was not finite from any starting point")
    return best


def fit_bgnbd(x, t_x, T) -> BGNBDParameters:
    """Maximum-likelihood BG/NBD parameters for customers with repeat purchases x, last repeat purchase
    at t_x and observation length T (all measured from each customer's first purchase, in one time unit).

    The parameters are optimised on the log scale (so they stay positive) from several starting points;
    the best finite optimum wins. `converged` reports whether the optimizer said it converged.
    """
    x, t_x, T = (_as_vector(values, name) for values, name in ((x, "x"), (t_x, "t_x"), (T, "T")))
    _check_purchase_history(x, t_x, T)
    if len(x) == 0:
        raise ValueError("fit_bgnbd needs at least one customer")
    histories, counts = _aggregate_histories(x, t_x, T)
    unique_x, unique_t_x, unique_T = histories.T
    total = counts.sum()

    def negative_mean_log_likelihood(log_parameters: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_parameters)
        values = bgnbd_log_likelihood(BGNBDParameters(r, alpha, a, b), unique_x, unique_t_x, unique_T)
        value = -float(np.dot(counts, values) / total)
        return value if np.isfinite(value) else np.inf

    # Starting points: a neutral one, and one whose mean purchase rate r/alpha matches the data.
    observed_rate = max(float(np.dot(counts, unique_x) / max(np.dot(counts, unique_T), 1e-9)), 1e-6)
    starts = [
        np.log([1.0, 1.0, 1.0, 1.0]),
        np.log([0.5, 0.5 / observed_rate, 0.8, 2.5]),
        np.log([2.0, 2.0 / observed_rate, 0.5, 5.0]),
    ]
    bounds = [(-12.0, 12.0)] * 4
    best = _minimise_from_starts(negative_mean_log_likelihood, starts, bounds)
    r, alpha, a, b = (float(value) for value in np.exp(best.x))
    return BGNBDParameters(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=float(-best.fun * total),
        converged=bool(best.success),
        optimizer_message=str(best.message),
    )


def _log_dropout_odds(params: BGNBDParameters, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """log of [a / (b+x-1)] · [(alpha+T) / (alpha+t_x)]^(r+x): the odds of "dropped out after the last
    purchase" against "still alive", for x > 0 (−inf for x = 0, who cannot have dropped out)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(x > 0, odds, -np.inf)


def bgnbd_probability_alive(params: BGNBDParameters, x, t_x, T) -> np.ndarray:
    """P(customer still active at T | x, t_x, T) under BG/NBD (Fader, Hardie & Lee 2005, eq. 11).
    Customers without repeat purchases are alive with probability 1: in BG/NBD dropout can only
    happen right after a repeat purchase."""
    x, t_x, T = (_as_vector(values, name) for values, name in ((x, "x"), (t_x, "t_x"), (T, "T")))
    return special.expit(-_log_dropout_odds(params, x, t_x, T))


def _expected_purchases_if_alive(
    r: float, alpha: float, a: float, b: float, t: float, x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """The first factor of eq. 10: (a+b+x-1)/(a-1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z)]
    with z = t/(α+T+t). Euler's transformation ₂F₁(A,B;C;z) = (1−z)^(C−A−B) ₂F₁(C−A, C−B; C; z) turns
    the product into (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z), whose parameters stay small for large x,
    so the hypergeometric series neither overflows nor cancels catastrophically."""
    z = t / (alpha + T + t)
    c = a + b + x - 1
    series = special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    return c / (a - 1) * (1.0 - np.power(1.0 - z, a - 1) * series)


def _expected_purchases_if_alive_by_integration(
    r: float, alpha: float, a: float, b: float, t: float, x: float, T: float
) -> float:
    """The same quantity as a one-dimensional integral, for where the hypergeometric function fails
    (scipy's hyp2f1 can return NaN or lose accuracy for z near 1 with large parameters, which happens
    for customers observed for a short time). Given the customer is alive, λ ~ Gamma(r+x, rate α+T)
    and p ~ Beta(a, b+x) independently, and an active customer makes (1 − e^(−λpt))/p purchases in t
    on average (eq. 7), so the expectation is ∫ [1 − ((α+T)/(α+T+pt))^(r+x)]/p · Beta(p; a, b+x) dp."""
    log_beta = special.betaln(a, b + x)

    def integrand(p: float) -> float:
        # expm1/log1p keep the bracket accurate when p·t is tiny next to α+T.
        purchases_if_active = -math.expm1(-(r + x) * math.log1p(p * t / (alpha + T))) / p
        return purchases_if_active * math.exp((a - 1) * math.log(p) + (b + x - 1) * math.log1p(-p) - log_beta)

    # The posterior of p can be a narrow spike (b + x large); telling quad where it is keeps it from
    # stepping over it.
    posterior_mean = a / (a + b + x)
    value, _ = integrate.quad(integrand, 0.0, 1.0, points=[posterior_mean], limit=200)
    return value


def bgnbd_conditional_expected_purchases(params: BGNBDParameters, t: float, x, t_x, T) -> np.ndarray:
    """Expected number of repeat purchases in (T, T+t] for a customer with history (x, t_x, T)
    (Fader, Hardie & Lee 2005, eq. 10): the expectation if still alive times P(alive).

    The closed form is used where it is trustworthy; any value that is not finite or falls outside
    [0, (r+x)·t/(α+T)] (the Poisson mean with no dropout, a hard upper bound) is recomputed by
    numerical integration, once per distinct (x, T)."""
    x, t_x, T = (_as_vector(values, name) for values, name in ((x, "x"), (t_x, "t_x"), (T, "T")))
    if t < 0:
        raise ValueError("the horizon t must be >= 0")
    if t == 0:
        return np.zeros_like(x)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(all="ignore"):
        if abs(a - 1.0) < 1e-4:
            # (a−1) cancels between numerator and denominator at a = 1; the expectation is smooth in
            # a, so the mean of a just below and just above 1 is accurate to O(1e-8).
            expected_if_alive = 0.5 * (
                _expected_purchases_if_alive(r, alpha, 1.0 - 1e-4, b, t, x, T)
                + _expected_purchases_if_alive(r, alpha, 1.0 + 1e-4, b, t, x, T)
            )
        else:
            expected_if_alive = _expected_purchases_if_alive(r, alpha, a, b, t, x, T)
    upper_bound = (r + x) * t / (alpha + T)
    untrustworthy = (
        ~np.isfinite(expected_if_alive)
        | (expected_if_alive < -1e-9 * upper_bound)
        | (expected_if_alive > upper_bound * (1 + 1e-9))
    )
    if untrustworthy.any():
        expected_if_alive = expected_if_alive.copy()
        histories, inverse = np.unique(
            np.column_stack([x[untrustworthy], T[untrustworthy]]), axis=0, return_inverse=True
        )
        integrated = np.array(
            [
                _expected_purchases_if_alive_by_integration(r, alpha, a, b, t, history_x, history_T)
                for history_x, history_T in histories
            ]
        )
        expected_if_alive[untrustworthy] = integrated[inverse.reshape(-1)]
    probability_alive = special.expit(-_log_dropout_odds(params, x, t_x, T))
    return np.maximum(expected_if_alive * probability_alive, 0.0)


def simulate_bgnbd(params: BGNBDParameters, n_users: int, T, seed: int) -> pd.DataFrame:
    """Purchase histories drawn from BG/NBD's generative process, for tests and demos.

    Each customer makes a first purchase at time 0, then buys at the times of a Poisson process with
    rate λ ~ Gamma(r, rate alpha) (exponential gaps) and, right after each repeat purchase, drops out
    for good with probability p ~ Beta(a, b). T is a scalar or one value per customer.

    Returns columns x, t_x, T, purchase_rate, dropout_probability and alive_at_T.
    """
    generator = np.random.default_rng(seed)
    observation = np.broadcast_to(np.asarray(T, dtype=float), (n_users,)).copy()
    purchase_rate = generator.gamma(shape=params.r, scale=1.0 / params.alpha, size=n_users)
    dropout_probability = generator.beta(params.a, params.b, size=n_users)
    # The number of purchases up to and including the one after which the customer drops out.
    purchases_until_dropout = generator.geometric(dropout_probability)
    # Arrivals of a Poisson process in (0, T]: N ~ Poisson(λT); given N, the k-th arrival time is T
    # times the k-th order statistic of N uniforms, i.e. T · Beta(k, N − k + 1).
    arrivals = generator.poisson(purchase_rate * observation)
    repeat_purchases = np.minimum(arrivals, purchases_until_dropout)
    has_repeat = repeat_purchases > 0
    last_purchase_time = np.zeros(n_users)
    last_purchase_time[has_repeat] = observation[has_repeat] * generator.beta(
        repeat_purchases[has_repeat], arrivals[has_repeat] - repeat_purchases[has_repeat] + 1
    )
    return pd.DataFrame(
        {
            "x": repeat_purchases.astype(int),
            "t_x": last_purchase_time,
            "T": observation,
            "purchase_rate": purchase_rate,
            "dropout_probability": dropout_probability,
            "alive_at_T": purchases_until_dropout > arrivals,
        }
    )


# --------------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GammaGammaParameters:
    """Gamma-Gamma parameters: each purchase's spend ~ Gamma(shape p, rate ν) with the customer's
    ν ~ Gamma(shape q, rate gamma). q > 1 so that the population mean spend p·gamma/(q−1) exists."""

    p: float
    q: float
    gamma: float
    log_likelihood: float | None = None
    converged: bool | None = None
    optimizer_message: str | None = None

    def as_dict(self) -> dict:
        return _plain_dict(self)

    @property
    def population_mean_spend(self) -> float:
        return self.p * self.gamma / (self.q - 1.0)


def gamma_gamma_log_likelihood(params: GammaGammaParameters, frequency, monetary_value) -> np.ndarray:
    """Per-customer log density of the observed mean spend m over x purchases (Fader, Hardie & Lee
    2005b, eq. 3): Γ(px+q)/(Γ(px)Γ(q)) · γ^q m^(px−1) x^(px) / (γ + m x)^(px+q). Needs x ≥ 1, m > 0."""
    x = _as_vector(frequency, "frequency")
    m = _as_vector(monetary_value, "monetary_value")
    p, q, gamma = params.p, params.q, params.gamma
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + m * x)
    )


def fit_gamma_gamma(frequency, monetary_value) -> GammaGammaParameters:
    """Maximum-likelihood Gamma-Gamma parameters from customers' number of repeat purchases (≥ 1) and
    mean spend per repeat purchase (> 0). Customers outside that domain must be filtered out first.
    p, q − 1 and gamma are optimised on the log scale, which keeps q > 1."""
    x = _as_vector(frequency, "frequency")
    m = _as_vector(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise ValueError("frequency and monetary_value must have the same length")
    if np.any(x < 1) or np.any(m <= 0):
        raise ValueError("Gamma-Gamma needs frequency >= 1 and monetary_value > 0 for every customer")
    if len(x) < 2:
        raise ValueError("fit_gamma_gamma needs at least two customers")
    histories, counts = _aggregate_histories(x, m)
    unique_x, unique_m = histories.T
    total = counts.sum()

    def negative_mean_log_likelihood(log_parameters: np.ndarray) -> float:
        p, q_minus_one, gamma = np.exp(log_parameters)
        parameters = GammaGammaParameters(p, 1.0 + q_minus_one, gamma)
        value = -float(np.dot(counts, gamma_gamma_log_likelihood(parameters, unique_x, unique_m)) / total)
        return value if np.isfinite(value) else np.inf

    # Method-of-moments-flavoured starting points: with p = 1 and q = 2, the mean spend p·γ/(q−1) = γ.
    mean_spend = float(np.dot(counts, unique_m) / total)
    starts = [
        np.log([1.0, 1.0, mean_spend]),
        np.log([5.0, 3.0, 3.0 * mean_spend / 5.0]),
        np.log([1.0, 1.0, 1.0]),
    ]
    bounds = [(-12.0, 12.0), (-12.0, 12.0), (-25.0, 25.0)]
    best = _minimise_from_starts(negative_mean_log_likelihood, starts, bounds)
    p, q_minus_one, gamma = (float(value) for value in np.exp(best.x))
    return GammaGammaParameters(
        p=p,
        q=1.0 + q_minus_one,
        gamma=gamma,
        log_likelihood=float(-best.fun * total),
        converged=bool(best.success),
        optimizer_message=str(best.message),
    )


def gamma_gamma_expected_spend(params: GammaGammaParameters, frequency, monetary_value) -> np.ndarray:
    """Expected spend per purchase given x repeat purchases averaging m (Fader, Hardie & Lee 2005b,
    eq. 5): p(γ + x·m)/(px + q − 1), a weighted mean of the population mean and the customer's own.
    x = 0 gives the population mean p·γ/(q−1). A negative m (returns exceeding purchases) is taken as 0,
    the edge of the model's domain, which pulls the estimate below the population mean."""
    x = _as_vector(frequency, "frequency")
    m = np.maximum(_as_vector(monetary_value, "monetary_value"), 0.0)
    x = np.maximum(x, 0.0)
    m = np.where(x > 0, m, 0.0)  # without repeat purchases there is no repeat spend to condition on
    return params.p * (params.gamma + x * m) / (params.p * x + params.q - 1.0)


# --------------------------------------------------------------------------------------------------
# Preparing the inputs
# --------------------------------------------------------------------------------------------------


def _check_version(version: int) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unknown user_value model version {version!r}; supported: {SUPPORTED_VERSIONS}")


def _prepare(frame: pd.DataFrame, version: int, name: str) -> pd.DataFrame:
    """Check the columns, drop nothing but sort by user_id, so results do not depend on row order."""
    missing = [column for column in REQUIRED_COLUMNS[version] if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns needed by user_value v{version}: {', '.join(missing)}")
    prepared = frame.copy()
    prepared["user_id"] = prepared["user_id"].astype(str)
    duplicated = prepared["user_id"].duplicated()
    if duplicated.any():
        example = prepared.loc[duplicated, "user_id"].iloc[0]
        raise ValueError(f"{name} must have one row per user; user_id {example!r} repeats")
    return prepared.sort_values("user_id", kind="stable").reset_index(drop=True)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 with NaN for missing values, whatever pandas dtype it arrived in (DuckDB
    can hand over nullable Int64, boolean or decimal-backed object columns)."""
    values = frame[column]
    if values.dtype == bool or str(values.dtype) == "boolean":
        values = values.astype("float64")
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _holdout_mask(user_count: int, holdout_share: float, seed: int) -> np.ndarray:
    """Deterministic train/holdout split of users already sorted by user_id: a seeded permutation
    picks round(holdout_share * n) of them (at least one, and at least one left to train on). The
    split depends only on which users are labelled and on the seed, never on input row order."""
    permutation = np.random.default_rng(seed).permutation(user_count)
    holdout_count = min(max(int(round(holdout_share * user_count)), 1), user_count - 1)
    is_holdout = np.zeros(user_count, dtype=bool)
    is_holdout[permutation[:holdout_count]] = True
    return is_holdout


def value_deciles(user_ids, predicted_spend) -> np.ndarray:
    """Equal-count deciles, 10 = highest predicted value. Users are ranked by predicted spend
    (descending) and then by user_id (ascending), so tied predictions fall deterministically; rank k of
    n (0-based) goes to decile 10 − floor(10k/n), so decile sizes differ by at most one."""
    user_ids = np.asarray(user_ids, dtype=str)
    predicted = np.asarray(predicted_spend, dtype=float)
    count = len(predicted)
    if count == 0:
        return np.zeros(0, dtype="int64")
    # lexsort sorts by the last key first: predicted descending, then user_id ascending.
    order = np.lexsort((user_ids, -predicted))
    ranks = np.empty(count, dtype="int64")
    ranks[order] = np.arange(count)
    return (10 - (ranks * 10) // count).astype("int64")


# --------------------------------------------------------------------------------------------------
# The three model versions. Each has fit(train frame) -> state and predict(state, frame) -> frame of
# predicted_spend plus its extra columns.
# --------------------------------------------------------------------------------------------------


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


def _v3_feature_matrix(v2_state: dict | None, frame: pd.DataFrame, horizon_days: int,
                       v2_outputs: pd.DataFrame | None = None) -> np.ndarray:
    """The v3 features; v2_outputs, when the caller already has them, saves predicting v2 again."""
    columns = [_numeric(frame, column) for column in V3_BASE_FEATURES]
    if v2_state is not None:  # without a v2 fit, v3 learns from the behavioural features alone
        if v2_outputs is None:
            v2_outputs = _predict_v2(v2_state, frame, horizon_days)
        columns += [v2_outputs[column].to_numpy(dtype=float) for column in V2_OUTPUT_COLUMNS]
        columns.append(v2_outputs["predicted_spend"].to_numpy(dtype=float))
    return np.column_stack(columns)


def _fit_v3(train: pd.DataFrame, horizon_days: int) -> dict:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    # v2's outputs are strong features, but v3 should not be lost when v2 cannot be fitted (say, too
    # few repeat buyers for Gamma-Gamma): it then learns from the behavioural features alone.
    try:
        v2_state, v2_failure = _fit_v2(train), None
    except Exception as error:  # the reason is reported in the run's parameters
        v2_state, v2_failure = None, f"{type(error).__name__}: {error}"
    features = _v3_feature_matrix(v2_state, train, horizon_days)
    kept = informative_columns(features)
    # Poisson loss needs non-negative targets; a net refund is, for ranking future value, no spend.
    label = np.maximum(_numeric(train, LABEL_COLUMN), 0.0)
    if label.sum() <= 0:
        raise ValueError("every training user has zero future spend; there is nothing to learn")
    if not kept.any():
        raise ValueError("every feature is empty or constant over the training users; there is nothing to learn from")
    model = HistGradientBoostingRegressor(**V3_HYPERPARAMETERS)
    # One thread: on a small, shared machine OpenMP threads contend and make HistGB many times slower.
    with threadpool_limits(limits=1):
        model.fit(features[:, kept], label)
    return {"v2_state": v2_state, "v2_failure": v2_failure, "model": model, "kept_columns": kept}


def informative_columns(features: np.ndarray) -> np.ndarray:
    """Which feature columns can inform a fit: not entirely missing and not one value throughout.
    A shop without reviews has an all-null average_rating, which breaks HistGradientBoosting's
    binning ("window shape cannot be larger than input array shape"); a constant column is useless."""
    kept = np.zeros(features.shape[1], dtype=bool)
    for index in range(features.shape[1]):
        present = features[~np.isnan(features[:, index]), index]
        kept[index] = present.size > 0 and np.ptp(present) > 0
    return kept


def _predict_v3(state: dict, frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    from threadpoolctl import threadpool_limits

    v2_outputs = None if state["v2_state"] is None else _predict_v2(state["v2_state"], frame, horizon_days)
    features = _v3_feature_matrix(state["v2_state"], frame, horizon_days, v2_outputs)
    kept = state.get("kept_columns", np.ones(features.shape[1], dtype=bool))  # fits stored before columns were dropped
    with threadpool_limits(limits=1):
        predicted = np.maximum(state["model"].predict(features[:, kept]), 0.0)
    if v2_outputs is not None:
        # An equal-weight ensemble of the trees and the probabilistic model: on the demo shop it beat
        # either alone on RMSE, normalized Gini and top-20% capture averaged over 16 holdout splits
        # (the trees rank well but are noisy in the tail; BG/NBD + Gamma-Gamma is smooth there).
        v2_spend = v2_outputs["predicted_spend"].to_numpy(dtype=float)
        predicted = V3_TREE_WEIGHT * predicted + (1.0 - V3_TREE_WEIGHT) * v2_spend
    return pd.DataFrame({"predicted_spend": predicted}, index=frame.index)


def _parameters_v3(state: dict) -> dict:
    features = V3_FEATURES if state["v2_state"] is not None else V3_BASE_FEATURES
    kept = state.get("kept_columns", np.ones(len(features), dtype=bool))
    parameters = {"hyperparameters": dict(V3_HYPERPARAMETERS),
                  "features": [name for name, keep in zip(features, kept, strict=True) if keep],
                  "dropped_features": [name for name, keep in zip(features, kept, strict=True) if not keep]}
    parameters["trees"] = int(state["model"].n_iter_)
    parameters["tree_weight"] = V3_TREE_WEIGHT if state["v2_state"] is not None else 1.0
    parameters["v2_parameters"] = None if state["v2_state"] is None else _parameters_v2(state["v2_state"])
    parameters["v2_failure"] = state["v2_failure"]
    return parameters


def _fit(version: int, train: pd.DataFrame, horizon_days: int) -> dict:
    if version == 1:
        return _fit_v1(train)
    if version == 2:
        return _fit_v2(train)
    return _fit_v3(train, horizon_days)


def _predict(version: int, state: dict, frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    if version == 1:
        return _predict_v1(state, frame)
    if version == 2:
        return _predict_v2(state, frame, horizon_days)
    return _predict_v3(state, frame, horizon_days)


def _parameters(version: int, state: dict) -> dict:
    if version == 1:
        return _parameters_v1(state)
    if version == 2:
        return _parameters_v2(state)
    return _parameters_v3(state)


# --------------------------------------------------------------------------------------------------
# The entry point the dbt models call
# --------------------------------------------------------------------------------------------------


def _empty_predictions(version: int) -> pd.DataFrame:
    dtypes = {
        "user_id": "str",
        "model_version": "int64",
        "value_decile": "int64",
        "split": "str",
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
    version: int,
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
            "model_version": int(version),
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


@dataclass
class UserValueFit:
    """A fitted (or skipped) user-value model: what scoring needs and what the registry records.

    Picklable, so a build can store it and a later build with the same training data reuse it.
    state is None when the fit was skipped; split_lookup has one row per labelled user at the
    cut-off: user_id, split ('train'/'holdout'), holdout_predicted_spend, holdout_actual_spend and the
    cut-off prediction and actual spend of every labelled user (cutoff_predicted_spend, cutoff_actual_spend).
    """

    version: int
    horizon_days: int
    state: dict | None
    split_lookup: pd.DataFrame
    run: dict


def _skipped_fit(version: int, horizon_days: int, message: str, train_rows: int = 0,
                 holdout_rows: int = 0) -> UserValueFit:
    _, run = _skipped(version, message, train_rows, holdout_rows)
    empty = pd.DataFrame({"user_id": pd.Series([], dtype="str"), "split": pd.Series([], dtype="str"),
                          **{column: pd.Series([], dtype="float64") for column in SPLIT_VALUE_COLUMNS}})
    return UserValueFit(version, horizon_days, None, empty, run)


def fit_user_value(
    features_at_cutoff: pd.DataFrame,
    version: int,
    horizon_days: int = 180,
    holdout_share: float = 0.2,
    seed: int = 42,
    min_labelled_users: int = 50,
) -> UserValueFit:
    """The fitting half of predict_user_value: split, fit on train, measure on holdout."""
    _check_version(version)
    if not 0.0 < holdout_share < 1.0:
        raise ValueError(f"holdout_share must be between 0 and 1, got {holdout_share}")
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be positive, got {horizon_days}")
    if LABEL_COLUMN not in features_at_cutoff.columns:
        raise ValueError(f"features_at_cutoff lacks the label column {LABEL_COLUMN}")
    at_cutoff = _prepare(features_at_cutoff, version, "features_at_cutoff")

    label = _numeric(at_cutoff, LABEL_COLUMN)
    labelled = at_cutoff.loc[np.isfinite(label)].reset_index(drop=True)
    required_users = max(int(min_labelled_users), 2)
    if len(labelled) < required_users:
        return _skipped_fit(
            version, horizon_days,
            f"only {len(labelled)} labelled users at the cut-off; user_value v{version} needs at least {required_users}",
        )

    # `labelled` is sorted by user_id (see _prepare), as the split requires.
    is_holdout = _holdout_mask(len(labelled), holdout_share, seed)
    train = labelled.loc[~is_holdout].reset_index(drop=True)
    holdout = labelled.loc[is_holdout].reset_index(drop=True)
    try:
        state = _fit(version, train, horizon_days)
        holdout_predicted = _predict(version, state, holdout, horizon_days)["predicted_spend"].to_numpy(dtype=float)
        train_predicted = _predict(version, state, train, horizon_days)["predicted_spend"].to_numpy(dtype=float)
        parameters = _parameters(version, state)
        if not (np.all(np.isfinite(holdout_predicted)) and np.all(np.isfinite(train_predicted))):
            raise ValueError("the fitted model produced non-finite predictions")
    except Exception as error:  # a failed fit must not fail the dbt build; the run says why
        return _skipped_fit(
            version, horizon_days,
            f"user_value v{version} could not be fitted on {len(train)} training users: {type(error).__name__}: {error}",
            train_rows=len(train), holdout_rows=len(holdout),
        )

    holdout_actual = _numeric(holdout, LABEL_COLUMN)
    train_mean = float(np.mean(_numeric(train, LABEL_COLUMN)))
    metrics = value_metrics(holdout_actual, holdout_predicted)
    metrics["baseline_rmse"] = float(np.sqrt(np.mean((holdout_actual - train_mean) ** 2)))
    metrics, caveat = holdout_verdict(metrics, holdout_actual)
    split_lookup = pd.DataFrame(
        {
            "user_id": labelled["user_id"].astype("str"),
            "split": np.where(is_holdout, "holdout", "train"),
            "holdout_predicted_spend": np.nan,
            "holdout_actual_spend": np.nan,
        }
    )
    split_lookup.loc[is_holdout, "holdout_predicted_spend"] = holdout_predicted
    split_lookup.loc[is_holdout, "holdout_actual_spend"] = holdout_actual
    split_lookup["cutoff_predicted_spend"] = np.nan
    split_lookup.loc[is_holdout, "cutoff_predicted_spend"] = holdout_predicted
    split_lookup.loc[~is_holdout, "cutoff_predicted_spend"] = train_predicted
    split_lookup["cutoff_actual_spend"] = _numeric(labelled, LABEL_COLUMN)
    message = f"fitted user_value v{version} on {len(train)} users, evaluated on {len(holdout)}"
    if caveat:
        message = f"{message}; {caveat}"
    run = _run_record(version, "fitted", message, len(train), len(holdout), parameters, metrics)
    return UserValueFit(version, horizon_days, state, split_lookup, run)


def score_user_value(fit: UserValueFit, features_latest: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The scoring half of predict_user_value: (predictions, run) for every user of features_latest."""
    version, horizon_days = fit.version, fit.horizon_days
    latest = _prepare(features_latest, version, "features_latest")
    if fit.state is None:
        return _empty_predictions(version), fit.run
    try:
        scored = _predict(version, fit.state, latest, horizon_days)
        if not np.all(np.isfinite(scored["predicted_spend"])):
            raise ValueError("the fitted model produced non-finite predictions")
    except Exception as error:  # as for a failed fit: the run says why, the build goes on
        return _skipped(
            version,
            f"user_value v{version} could not score {len(latest)} users: {type(error).__name__}: {error}",
            train_rows=fit.run["train_rows"], holdout_rows=fit.run["holdout_rows"],
        )

    predictions = pd.DataFrame({"user_id": latest["user_id"].astype("str")})
    predictions["model_version"] = np.full(len(latest), version, dtype="int64")
    predictions["predicted_spend"] = scored["predicted_spend"].to_numpy(dtype=float)
    predictions["value_decile"] = value_deciles(predictions["user_id"], predictions["predicted_spend"])
    # A hash join rather than Series.isin: isin on Arrow-backed strings loops in Python and took
    # seconds for a few hundred thousand users.
    joined = predictions[["user_id"]].merge(fit.split_lookup, on="user_id", how="left", sort=False)
    predictions["split"] = joined["split"].fillna("scoring_only").astype("str").to_numpy()
    for column in SPLIT_VALUE_COLUMNS:
        predictions[column] = joined[column].to_numpy(dtype=float)
    for column in VERSION_OUTPUT_COLUMNS[version]:
        predictions[column] = scored[column].to_numpy(dtype=float)
    predictions = predictions[output_columns(version)].reset_index(drop=True)
    run = dict(fit.run)
    run["message"] = f"{run['message']}, scored {len(predictions)} users for a {horizon_days}-day horizon"
    return predictions, run


def predict_user_value(
    features_at_cutoff: pd.DataFrame,
    features_latest: pd.DataFrame,
    version: int,
    horizon_days: int = 180,
    holdout_share: float = 0.2,
    seed: int = 42,
    min_labelled_users: int = 50,
) -> tuple[pd.DataFrame, dict]:
    """Fit user-value model `version` (1, 2 or 3) and score every user of `features_latest`.

    Users of `features_at_cutoff` with a non-null `future_net_spend` are split deterministically
    (a `seed`-ed permutation of the sorted user ids) into train and holdout (`holdout_share`). The
    model is fitted on train, judged on holdout, and the train-fitted model then scores
    `features_latest`. Row order of either input never changes the output.

    Returns (predictions, run):

    * predictions, one row per user of `features_latest`, sorted by user_id, with the columns of
      `output_columns(version)`: user_id, model_version, predicted_spend (expected net spend over the
      next `horizon_days` from the latest date), value_decile (1..10, 10 = highest predicted_spend,
      equal-count, ties by user_id), split ('train', 'holdout' or 'scoring_only' for users not
      labelled at the cut-off), holdout_predicted_spend and holdout_actual_spend (the cut-off
      prediction and the label, holdout rows only, null elsewhere), cutoff_predicted_spend and
      cutoff_actual_spend (the same for every labelled user, train rows in-sample), then per version:
      v1 contribution_activity, contribution_frequency, contribution_amount and intercept, which sum
      to predicted_spend (v1 predictions may be negative: the published method is reproduced as is,
      without clipping); v2 predicted_purchases, probability_alive (null for users who never bought)
      and predicted_average_order_value; v3 nothing extra. v2 and v3 predictions are >= 0.
      Holdout users missing from `features_latest` count in the metrics but have no row.
    * run, a JSON-ready dict: model_name, model_version, status ('fitted', 'reused' or 'skipped'), message,
      train_rows, holdout_rows, parameters, and metrics (`value_metrics` on the holdout plus
      baseline_rmse, the RMSE of predicting the train mean for every holdout user, metric_status
      and beats_baseline: see `holdout_verdict`). A holdout below MIN_EVALUATED_USERS users, or
      one where every label is equal, still gives a fitted model that scores everyone, but its
      undefined metrics are None (JSON null), never 0, and metric_status says why.

    With fewer than `min_labelled_users` labelled users, or when fitting fails, nothing is raised:
    predictions has the output columns and zero rows, and run has status 'skipped' and a message
    saying why. Missing input columns, duplicate user ids and an unknown version do raise ValueError,
    as they are mistakes in the calling code rather than in the data.
    """
    fit = fit_user_value(features_at_cutoff, version, horizon_days, holdout_share, seed, min_labelled_users)
    return score_user_value(fit, features_latest)
