"""The exact gradients of the BG/NBD and Gamma-Gamma fits (ltv.user_value.btyd_objectives): checked
against central finite differences of btyd's own likelihoods, and the fits they drive against the
lifetimes library's estimates on the same simulated customers."""

from __future__ import annotations

import numpy as np
import pytest

from ltv.user_value import (
    BGNBDParameters,
    GammaGammaParameters,
    bgnbd_log_likelihood,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    simulate_bgnbd,
)
from ltv.user_value.btyd_objectives import (
    BGNBDObjective,
    GammaGammaObjective,
    bgnbd_gradient,
    gamma_gamma_gradient,
)

CDNOW_BGNBD = BGNBDParameters(r=0.24, alpha=4.41, a=0.79, b=2.43)
CDNOW_GAMMA_GAMMA = GammaGammaParameters(p=6.25, q=3.74, gamma=15.44)
# Histories that exercise every branch: no repeat purchase, x = 1 (b + x − 1 = b), a purchase at the
# very end (t_x = T), a long history, a short observation.
HISTORIES = {"x": [0, 1, 3, 3, 40, 2], "t_x": [0.0, 10.0, 30.0, 12.5, 51.0, 0.5], "T": [30.0, 30.0, 30.0, 40.0, 52.0, 1.0]}


def central_difference(function, point: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """∂function/∂point_k by (f(θ + h e_k) − f(θ − h e_k)) / 2h with h relative to θ_k."""
    gradient = []
    for index in range(len(point)):
        h = step * max(abs(point[index]), 1.0)
        up, down = point.copy(), point.copy()
        up[index] += h
        down[index] -= h
        gradient.append((function(up) - function(down)) / (2 * h))
    return np.array(gradient).T


@pytest.mark.parametrize("parameters", [CDNOW_BGNBD, BGNBDParameters(2.0, 0.7, 3.5, 0.6)])
def test_bgnbd_gradient_matches_finite_differences(parameters):
    point = np.array([parameters.r, parameters.alpha, parameters.a, parameters.b])

    def per_customer(theta):
        return bgnbd_log_likelihood(BGNBDParameters(*theta), HISTORIES["x"], HISTORIES["t_x"], HISTORIES["T"])

    expected = central_difference(per_customer, point)
    computed = bgnbd_gradient(*point, HISTORIES["x"], HISTORIES["t_x"], HISTORIES["T"])
    np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("parameters", [CDNOW_GAMMA_GAMMA, GammaGammaParameters(0.8, 1.3, 250.0)])
def test_gamma_gamma_gradient_matches_finite_differences(parameters):
    frequency, spend = [1, 2, 7, 30], [12.0, 0.4, 80.0, 33.3]
    point = np.array([parameters.p, parameters.q, parameters.gamma])

    def per_customer(theta):
        return gamma_gamma_log_likelihood(GammaGammaParameters(*theta), frequency, spend)

    expected = central_difference(per_customer, point)
    np.testing.assert_allclose(gamma_gamma_gradient(*point, frequency, spend), expected, rtol=1e-6, atol=1e-7)


# b < 1 makes b + x − 1 negative for customers without repeat purchases, a term they do not have.
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("point", [[0.7, 3.0, 1.4, 2.2], [0.5, 2.0, 1.5, 0.4]])
def test_bgnbd_objective_is_the_weighted_mean_likelihood_and_its_log_scale_gradient(point):
    x, t_x, T = (np.asarray(HISTORIES[key], dtype=float) for key in ("x", "t_x", "T"))
    counts = np.array([5.0, 1.0, 2.0, 7.0, 1.0, 3.0])
    objective = BGNBDObjective(x, t_x, T, counts)
    log_point = np.log(point)

    def by_hand(log_theta):
        values = bgnbd_log_likelihood(BGNBDParameters(*np.exp(log_theta)), x, t_x, T)
        return -float(counts @ values / counts.sum())

    value, gradient = objective(log_point)
    assert value == pytest.approx(by_hand(log_point), rel=1e-13)
    np.testing.assert_allclose(gradient, central_difference(by_hand, log_point), rtol=1e-6, atol=1e-8)


def test_gamma_gamma_objective_is_the_weighted_mean_likelihood_and_its_log_scale_gradient():
    x, m = np.array([1.0, 1.0, 4.0, 9.0]), np.array([10.0, 35.0, 22.5, 18.0])
    counts = np.array([3.0, 1.0, 2.0, 1.0])
    objective = GammaGammaObjective(x, m, counts)
    log_point = np.log([3.0, 1.5, 40.0])  # log p, log(q − 1), log γ

    def by_hand(log_theta):
        p, q_minus_one, gamma = np.exp(log_theta)
        values = gamma_gamma_log_likelihood(GammaGammaParameters(p, 1.0 + q_minus_one, gamma), x, m)
        return -float(counts @ values / counts.sum())

    value, gradient = objective(log_point)
    assert value == pytest.approx(by_hand(log_point), rel=1e-13)
    np.testing.assert_allclose(gradient, central_difference(by_hand, log_point), rtol=1e-6, atol=1e-8)


@pytest.fixture(scope="module")
def simulated_histories():
    """20,000 BG/NBD customers observed for whole days (in weeks), as the versions see them."""
    observation = np.random.default_rng(100).integers(30 * 7, 80 * 7, size=20000) / 7.0
    histories = simulate_bgnbd(CDNOW_BGNBD, 20000, observation, seed=0)
    histories["t_x"] = np.floor(histories["t_x"] * 7) / 7.0
    return histories


@pytest.fixture(scope="module")
def simulated_spend():
    generator = np.random.default_rng(1)
    frequency = generator.integers(1, 20, size=20000).astype(float)
    rate = generator.gamma(CDNOW_GAMMA_GAMMA.q, 1 / CDNOW_GAMMA_GAMMA.gamma, size=len(frequency))
    return frequency, generator.gamma(CDNOW_GAMMA_GAMMA.p * frequency, 1 / rate) / frequency


# lifetimes 0.11.3 (BetaGeoFitter().fit(x, t_x, T) and GammaGammaFitter().fit(frequency, spend), its
# defaults: autograd gradients, BFGS to a gradient of 1e-6) on exactly the customers of the fixtures
# above, computed once in a separate environment: lifetimes is not a dependency.
LIFETIMES_BGNBD = {"r": 0.24404646206465302, "alpha": 4.468371284011279, "a": 0.7966020420788767,
                   "b": 2.5053150841215}
LIFETIMES_GAMMA_GAMMA = {"p": 5.9014176631178685, "q": 3.772937235995953, "gamma": 16.629954166084552}


def test_bgnbd_fit_reproduces_lifetimes(simulated_histories):
    fitted = fit_bgnbd(simulated_histories["x"], simulated_histories["t_x"], simulated_histories["T"])
    assert fitted.converged
    for name, value in LIFETIMES_BGNBD.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=1e-5), name


def test_gamma_gamma_fit_reproduces_lifetimes(simulated_spend):
    fitted = fit_gamma_gamma(*simulated_spend)
    assert fitted.converged
    for name, value in LIFETIMES_GAMMA_GAMMA.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=1e-5), name


def test_bgnbd_fit_is_a_stationary_point_of_the_documented_likelihood(simulated_histories):
    """Independently of the analytic gradient: finite differences of btyd.bgnbd_log_likelihood (mean
    over customers, log-scale parameters) vanish at the fit, and the fit's likelihood is its sum."""
    x, t_x, T = (simulated_histories[key].to_numpy(dtype=float) for key in ("x", "t_x", "T"))
    fitted = fit_bgnbd(x, t_x, T)
    log_point = np.log([fitted.r, fitted.alpha, fitted.a, fitted.b])

    def mean_log_likelihood(log_theta):
        return float(np.mean(bgnbd_log_likelihood(BGNBDParameters(*np.exp(log_theta)), x, t_x, T)))

    assert np.max(np.abs(central_difference(mean_log_likelihood, log_point, step=1e-5))) < 1e-6
    assert fitted.log_likelihood == pytest.approx(mean_log_likelihood(log_point) * len(x), rel=1e-12)
