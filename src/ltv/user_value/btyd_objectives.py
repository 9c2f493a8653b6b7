"""The BG/NBD and Gamma-Gamma fits' objectives with exact gradients, as the lifetimes library fits them.

The maximum-likelihood fits (btyd.fit_bgnbd, btyd.fit_gamma_gamma) minimise the negative mean
log-likelihood over the log-scale parameters. With only the value, L-BFGS-B estimates each gradient by
finite differences: one more likelihood evaluation per parameter at every step (265 evaluations, 7.5 s,
for a million users). lifetimes differentiates its likelihoods exactly (autograd); the derivatives are
short enough to write out, so here one evaluation gives the value and the exact gradient together.

Both objectives also evaluate each special function once per distinct frequency rather than once per
distinct history: lnΓ(r + x) and lnB(a, b + x) depend on x alone, which takes a few hundred values
where the histories (x, t_x, T) take hundreds of thousands.

Derivatives, per customer, with w = P(dropped out after the last purchase | history) =
expit(D − A) for x > 0 and 0 for x = 0 (A, D: the alive and dropout terms of btyd.bgnbd_log_likelihood):

  ∂/∂r = ψ(r+x) − ψ(r) + ln α − (1−w) ln(α+T) − w ln(α+t_x)
  ∂/∂α = r/α − (r+x) [(1−w)/(α+T) + w/(α+t_x)]
  ∂/∂a = ψ(a+b) − ψ(a+b+x) + w/a
  ∂/∂b = ψ(b+x) − ψ(b) + ψ(a+b) − ψ(a+b+x) − w/(b+x−1)

and for Gamma-Gamma's log density of mean spend m over x purchases:

  ∂/∂p = x [ψ(px+q) − ψ(px) + ln m + ln x − ln(γ+mx)]
  ∂/∂q = ψ(px+q) − ψ(q) + ln γ − ln(γ+mx)
  ∂/∂γ = q/γ − (px+q)/(γ+mx)

tests/python/test_user_value_gradients.py checks them against finite differences of btyd's own
likelihoods.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def _per_value(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, each entry's index into them): what depends on one column alone is computed
    once per distinct value and gathered back."""
    distinct, index = np.unique(values, return_inverse=True)
    return distinct, index.reshape(-1)


def bgnbd_gradient(r: float, alpha: float, a: float, b: float, x, t_x, T) -> np.ndarray:
    """Per-customer gradient of the BG/NBD log-likelihood with respect to (r, alpha, a, b): n × 4."""
    x, t_x, T = (np.asarray(values, dtype=float).reshape(-1) for values in (x, t_x, T))
    log_alive = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_dropout = np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x)
        w = np.where(x > 0, special.expit(log_dropout - log_alive), 0.0)
        dropout_b = np.where(x > 0, w / (b + x - 1), 0.0)
    d_r = (special.digamma(r + x) - special.digamma(r) + np.log(alpha)
           - (1 - w) * np.log(alpha + T) - w * np.log(alpha + t_x))
    d_alpha = r / alpha - (r + x) * ((1 - w) / (alpha + T) + w / (alpha + t_x))
    d_a = special.digamma(a + b) - special.digamma(a + b + x) + w / a
    d_b = (special.digamma(b + x) - special.digamma(b) + special.digamma(a + b)
           - special.digamma(a + b + x) - dropout_b)
    return np.column_stack([d_r, d_alpha, d_a, d_b])


def gamma_gamma_gradient(p: float, q: float, gamma: float, frequency, monetary_value) -> np.ndarray:
    """Per-customer gradient of the Gamma-Gamma log density with respect to (p, q, gamma): n × 3."""
    x = np.asarray(frequency, dtype=float).reshape(-1)
    m = np.asarray(monetary_value, dtype=float).reshape(-1)
    shared = special.digamma(p * x + q)
    log_total = np.log(gamma + m * x)
    d_p = x * (shared - special.digamma(p * x) + np.log(m) + np.log(x) - log_total)
    d_q = shared - special.digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (p * x + q) / (gamma + m * x)
    return np.column_stack([d_p, d_q, d_gamma])


class BGNBDObjective:
    """f(log r, log α, log a, log b) -> (negative mean log-likelihood, its exact gradient), over
    distinct histories weighted by their counts."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, counts: np.ndarray):
        self.weights = counts / counts.sum()
        self.x_values, self.x_index = _per_value(x)
        self.T_values, self.T_index = _per_value(T)
        self.t_x_values, self.t_x_index = _per_value(t_x)
        self.x = x
        self.repeat = x > 0
        # What the per-x terms are summed with: each distinct x's share of the customers.
        self.x_weights = np.bincount(self.x_index, weights=self.weights, minlength=len(self.x_values))

    def __call__(self, log_parameters: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(log_parameters)
        xs, x_weights = self.x_values, self.x_weights
        # Terms of x alone, once per distinct x.
        per_x = (special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha)
                 + special.betaln(a, b + xs) - special.betaln(a, b))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds_x = np.log(a) - np.log(b + xs - 1)  # undefined at x = 0 (b ≤ 1), masked below
        log_alpha_T = np.log(alpha + self.T_values)[self.T_index]
        log_alpha_t_x = np.log(alpha + self.t_x_values)[self.t_x_index]
        r_x = r + self.x
        log_alive = -r_x * log_alpha_T
        # D − A: the log odds of "dropped out after the last purchase" against "alive at T".
        with np.errstate(invalid="ignore"):
            log_odds = np.where(self.repeat, log_odds_x[self.x_index] + r_x * (log_alpha_T - log_alpha_t_x), -np.inf)
        combined = log_alive + np.logaddexp(0.0, log_odds)
        w = special.expit(log_odds)
        value = float(x_weights @ per_x + self.weights @ combined)
        inverse_T = (1.0 / (alpha + self.T_values))[self.T_index]
        inverse_t_x = (1.0 / (alpha + self.t_x_values))[self.t_x_index]
        weighted_w = self.weights * w
        w_by_x = np.bincount(self.x_index, weights=weighted_w, minlength=len(xs))
        with np.errstate(divide="ignore", invalid="ignore"):
            dropout_b = np.where(xs > 0, w_by_x / (b + xs - 1), 0.0)
        d_r = (x_weights @ (special.digamma(r + xs) - special.digamma(r) + np.log(alpha))
               - self.weights @ log_alpha_T + weighted_w @ (log_alpha_T - log_alpha_t_x))
        d_alpha = r / alpha - self.weights @ (r_x * inverse_T) + weighted_w @ (r_x * (inverse_T - inverse_t_x))
        digamma_ab = special.digamma(a + b)
        d_a = x_weights @ (digamma_ab - special.digamma(a + b + xs)) + w_by_x.sum() / a
        d_b = (x_weights @ (special.digamma(b + xs) - special.digamma(b) + digamma_ab
                            - special.digamma(a + b + xs)) - dropout_b.sum())
        # Chain rule to the log scale: ∂/∂log θ = θ ∂/∂θ; negated, as the objective is minimised.
        gradient = -np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return np.inf, np.zeros(4)
        return -value, gradient


class GammaGammaObjective:
    """f(log p, log(q − 1), log γ) -> (negative mean log-likelihood, its exact gradient), over distinct
    (frequency, mean spend) pairs weighted by their counts."""

    def __init__(self, x: np.ndarray, m: np.ndarray, counts: np.ndarray):
        self.weights = counts / counts.sum()
        self.x_values, self.x_index = _per_value(x)
        self.x_weights = np.bincount(self.x_index, weights=self.weights, minlength=len(self.x_values))
        self.x, self.spent = x, m * x
        self.log_m, self.log_x = np.log(m), np.log(x)
        # The parts of the log density that do not move with the parameters except through p.
        self.mean_x_log_m_x = float(self.weights @ (x * (self.log_m + self.log_x)))
        self.mean_log_m = float(self.weights @ self.log_m)

    def __call__(self, log_parameters: np.ndarray) -> tuple[float, np.ndarray]:
        p, q_minus_one, gamma = np.exp(log_parameters)
        q = 1.0 + q_minus_one
        xs, x_weights = self.x_values, self.x_weights
        px_q = p * xs + q
        log_total = np.log(gamma + self.spent)
        per_x = special.gammaln(px_q) - special.gammaln(p * xs) - special.gammaln(q)
        px_q_each = px_q[self.x_index]
        value = float(x_weights @ per_x + q * np.log(gamma) + p * self.mean_x_log_m_x - self.mean_log_m
                      - self.weights @ (px_q_each * log_total))
        digamma_px_q = special.digamma(px_q)
        d_p = (x_weights @ (xs * (digamma_px_q - special.digamma(p * xs))) + self.mean_x_log_m_x
               - self.weights @ (self.x * log_total))
        d_q = x_weights @ digamma_px_q - special.digamma(q) + np.log(gamma) - self.weights @ log_total
        d_gamma = q / gamma - self.weights @ (px_q_each / (gamma + self.spent))
        gradient = -np.array([d_p * p, d_q * q_minus_one, d_gamma * gamma])
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return np.inf, np.zeros(3)
        return -value, gradient
