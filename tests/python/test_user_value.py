"""Tests for ltv.user_value: the BG/NBD and Gamma-Gamma building blocks against simulation and direct
numerical integration, and predict_user_value end to end on a synthetic shop population."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from ltv.metrics import value_metrics
from ltv.user_value import (
    BGNBDParameters,
    GammaGammaParameters,
    bgnbd_conditional_expected_purchases,
    bgnbd_log_likelihood,
    bgnbd_probability_alive,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    gamma_gamma_log_likelihood,
    output_columns,
    predict_user_value,
    simulate_bgnbd,
    value_deciles,
)

# The CDNOW estimates of the BG/NBD and Gamma-Gamma papers (time in weeks).
CDNOW_BGNBD = BGNBDParameters(r=0.24, alpha=4.41, a=0.79, b=2.43)
CDNOW_GAMMA_GAMMA = GammaGammaParameters(p=6.25, q=3.74, gamma=15.44)


# --------------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------------


def test_bgnbd_recovers_simulated_parameters():
    observation_weeks = np.random.default_rng(100).uniform(30, 80, size=8000)
    histories = simulate_bgnbd(CDNOW_BGNBD, 8000, observation_weeks, seed=0)
    fitted = fit_bgnbd(histories["x"], histories["t_x"], histories["T"])
    assert fitted.converged
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(CDNOW_BGNBD, name), rel=0.25), name
    # The maximum likelihood is at least as high as the likelihood of the true parameters.
    true_log_likelihood = bgnbd_log_likelihood(
        CDNOW_BGNBD, histories["x"], histories["t_x"], histories["T"]
    ).sum()
    assert fitted.log_likelihood >= true_log_likelihood


def numerical_bgnbd_likelihood(params: BGNBDParameters, x: int, t_x: float, T: float) -> float:
    """The individual-level likelihood averaged over the mixing distributions by quadrature:
    (1−p)^x λ^x e^(−λT) [alive at T] + p(1−p)^(x−1) λ^x e^(−λ t_x) [dropped after the x-th purchase].
    Each term factorises into a λ part and a p part, so four 1-D integrals suffice."""

    def over_dropout(function):
        return integrate.quad(lambda p: function(p) * stats.beta.pdf(p, params.a, params.b), 0, 1, limit=200)[
            0
        ]

    def over_rate(function):
        density = stats.gamma(params.r, scale=1 / params.alpha).pdf
        return integrate.quad(
            lambda rate: function(rate) * density(rate), 0, np.inf, limit=200, epsabs=1e-15, epsrel=1e-11
        )[0]

    likelihood = over_dropout(lambda p: (1 - p) ** x) * over_rate(lambda rate: rate**x * np.exp(-rate * T))
    if x > 0:
        likelihood += over_dropout(lambda p: p * (1 - p) ** (x - 1)) * over_rate(
            lambda rate: rate**x * np.exp(-rate * t_x)
        )
    return likelihood


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize(
    ("x", "t_x", "T"), [(0, 0.0, 30.0), (1, 10.0, 30.0), (4, 25.5, 38.0), (12, 50.0, 52.0)]
)
def test_bgnbd_log_likelihood_matches_numerical_integration(x, t_x, T):
    expected = np.log(numerical_bgnbd_likelihood(CDNOW_BGNBD, x, t_x, T))
    assert bgnbd_log_likelihood(CDNOW_BGNBD, [x], [t_x], [T])[0] == pytest.approx(expected, abs=1e-6)


def test_probability_alive_hand_cases():
    params = CDNOW_BGNBD
    # No repeat purchase: BG/NBD customers can only drop out right after a repeat purchase.
    assert bgnbd_probability_alive(params, [0, 0], [0, 0], [0, 50]).tolist() == [1.0, 1.0]
    # Eq. 11 by hand for x = 2, t_x = 20, T = 30.
    odds = params.a / (params.b + 2 - 1) * ((params.alpha + 30) / (params.alpha + 20)) ** (params.r + 2)
    assert bgnbd_probability_alive(params, [2], [20], [30])[0] == pytest.approx(1 / (1 + odds))
    # A purchase at the very end of observation: the odds reduce to a / (b + x − 1).
    assert bgnbd_probability_alive(params, [3], [30], [30])[0] == pytest.approx(
        1 / (1 + params.a / (params.b + 2))
    )
    # The longer the silence since the last purchase, the less likely the customer is still active.
    silence = bgnbd_probability_alive(params, [5, 5, 5], [40, 30, 10], [40, 40, 40])
    assert silence[0] > silence[1] > silence[2]


def test_probability_alive_is_calibrated_on_simulated_customers():
    histories = simulate_bgnbd(CDNOW_BGNBD, 20000, 39.0, seed=5)
    probability = bgnbd_probability_alive(CDNOW_BGNBD, histories["x"], histories["t_x"], histories["T"])
    # Averaged over customers, P(alive | history) must match the share that really is alive.
    assert probability.mean() == pytest.approx(histories["alive_at_T"].mean(), abs=0.01)
    repeaters = histories["x"].to_numpy() > 0
    assert probability[repeaters].mean() == pytest.approx(
        histories["alive_at_T"][repeaters].mean(), abs=0.015
    )


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 30.0), (2, 20.0, 30.0), (5, 35.0, 40.0)])
def test_conditional_expected_purchases_matches_monte_carlo(x, t_x, T):
    """Importance sampling from the generative process: draw (λ, p) from the prior, weight each draw by
    the likelihood of the observed history, and simulate the future of the draws that are alive."""
    horizon = 26.0
    generator = np.random.default_rng(11)
    draws = 1_000_000
    rate = generator.gamma(CDNOW_BGNBD.r, 1 / CDNOW_BGNBD.alpha, draws)
    dropout = generator.beta(CDNOW_BGNBD.a, CDNOW_BGNBD.b, draws)
    weight_alive = (1 - dropout) ** x * rate**x * np.exp(-rate * T)
    weight_dropped = (
        dropout * (1 - dropout) ** (x - 1) * rate**x * np.exp(-rate * t_x) if x > 0 else 0.0 * rate
    )
    # An active customer's future is a fresh Poisson process that stops after a geometric number of
    # purchases (exponential gaps are memoryless).
    future_purchases = np.minimum(generator.poisson(rate * horizon), generator.geometric(dropout))
    expected = (weight_alive * future_purchases).sum() / (weight_alive + weight_dropped).sum()
    computed = bgnbd_conditional_expected_purchases(CDNOW_BGNBD, horizon, [x], [t_x], [T])[0]
    assert computed == pytest.approx(expected, rel=0.03)


def test_conditional_expected_purchases_where_the_closed_form_breaks_down():
    # Rare dropout (b large) and a customer whose first purchase is today (T = 0): scipy's hyp2f1
    # returns NaN here, so the numerical-integration fallback must produce the value. With x = 0 and
    # T = 0 the history carries no information, so the answer is the prior mean of the future count.
    params = BGNBDParameters(r=2.0, alpha=4.41, a=10.0, b=500.0)
    horizon = 52.0
    generator = np.random.default_rng(4)
    rate = generator.gamma(params.r, 1 / params.alpha, 1_000_000)
    dropout = generator.beta(params.a, params.b, 1_000_000)
    expected = np.minimum(generator.poisson(rate * horizon), generator.geometric(dropout)).mean()
    computed = bgnbd_conditional_expected_purchases(params, horizon, [0], [0.0], [0.0])[0]
    assert computed == pytest.approx(expected, rel=0.01)


def test_conditional_expected_purchases_edge_cases():
    params = CDNOW_BGNBD
    assert bgnbd_conditional_expected_purchases(params, 0.0, [3], [10], [20]).tolist() == [0.0]
    longer = bgnbd_conditional_expected_purchases(params, 52.0, [3], [10], [20])[0]
    shorter = bgnbd_conditional_expected_purchases(params, 26.0, [3], [10], [20])[0]
    assert longer > shorter > 0
    # Long, recent histories stay finite and grow with x (the hypergeometric term is the risky part).
    heavy = bgnbd_conditional_expected_purchases(params, 26.0, [50, 200], [51.5, 51.9], [52, 52])
    assert np.all(np.isfinite(heavy)) and heavy[1] > heavy[0] > 10
    # The expression has a removable singularity at a = 1; values around it must be continuous.
    around_one = [
        bgnbd_conditional_expected_purchases(BGNBDParameters(0.24, 4.41, a, 2.43), 26.0, [3], [20], [30])[0]
        for a in (0.999, 0.99999, 1.0, 1.00001, 1.001)
    ]
    assert abs(around_one[2] - (around_one[0] + around_one[4]) / 2) < 1e-6
    assert np.ptp(around_one[1:4]) < 1e-4


def test_simulation_matches_unconditional_expectation():
    # E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))], eq. 9 of the paper.
    r, alpha, a, b = CDNOW_BGNBD.r, CDNOW_BGNBD.alpha, CDNOW_BGNBD.a, CDNOW_BGNBD.b
    weeks = 39.0
    expected = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + weeks)) ** r * special.hyp2f1(r, b, a + b - 1, weeks / (alpha + weeks)))
    )
    histories = simulate_bgnbd(CDNOW_BGNBD, 40000, weeks, seed=3)
    assert histories["x"].mean() == pytest.approx(expected, rel=0.03)
    assert (histories["t_x"] <= histories["T"]).all() and (histories["t_x"] >= 0).all()
    assert ((histories["x"] == 0) == (histories["t_x"] == 0)).all()


# --------------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------------


def simulate_gamma_gamma(params: GammaGammaParameters, frequency: np.ndarray, seed: int) -> np.ndarray:
    """Mean spend over x purchases: each customer's ν ~ Gamma(q, rate γ); each purchase ~ Gamma(p, rate ν),
    so the sum of x purchases ~ Gamma(px, rate ν)."""
    generator = np.random.default_rng(seed)
    customer_rate = generator.gamma(params.q, 1 / params.gamma, size=len(frequency))
    return generator.gamma(params.p * frequency, 1 / customer_rate) / frequency


def test_gamma_gamma_recovers_simulated_parameters():
    frequency = np.random.default_rng(1).integers(1, 20, size=8000).astype(float)
    monetary = simulate_gamma_gamma(CDNOW_GAMMA_GAMMA, frequency, seed=2)
    fitted = fit_gamma_gamma(frequency, monetary)
    assert fitted.converged
    for name in ("p", "q", "gamma"):
        assert getattr(fitted, name) == pytest.approx(getattr(CDNOW_GAMMA_GAMMA, name), rel=0.2), name
    # p and γ trade off against each other; the population mean they imply is pinned down tightly.
    assert fitted.population_mean_spend == pytest.approx(CDNOW_GAMMA_GAMMA.population_mean_spend, rel=0.05)


@pytest.mark.parametrize(("x", "m"), [(1, 30.0), (4, 12.5), (15, 60.0)])
def test_gamma_gamma_log_likelihood_matches_numerical_integration(x, m):
    params = CDNOW_GAMMA_GAMMA

    def joint(customer_rate):
        # The mean of x Gamma(p, ν) purchases is Gamma(px, rate xν).
        return stats.gamma.pdf(m, params.p * x, scale=1 / (x * customer_rate)) * stats.gamma.pdf(
            customer_rate, params.q, scale=1 / params.gamma
        )

    density = integrate.quad(joint, 0, np.inf, limit=200)[0]
    assert gamma_gamma_log_likelihood(params, [x], [m])[0] == pytest.approx(np.log(density), abs=1e-7)


def test_gamma_gamma_expected_spend_hand_cases():
    p, q, gamma = CDNOW_GAMMA_GAMMA.p, CDNOW_GAMMA_GAMMA.q, CDNOW_GAMMA_GAMMA.gamma
    population_mean = p * gamma / (q - 1)
    spend = gamma_gamma_expected_spend(CDNOW_GAMMA_GAMMA, [0, 3, 3, 3], [99.0, 50.0, 0.0, -10.0])
    assert spend[0] == pytest.approx(population_mean)  # no repeat purchase: the population mean
    assert spend[1] == pytest.approx(p * (gamma + 3 * 50.0) / (3 * p + q - 1))
    assert spend[2] == pytest.approx(p * gamma / (3 * p + q - 1))
    assert spend[3] == pytest.approx(spend[2])  # net refunds are treated as zero spend
    # The estimate lies between the population mean and the customer's own mean.
    assert population_mean < spend[1] < 50.0


# --------------------------------------------------------------------------------------------------
# predict_user_value on a synthetic shop
# --------------------------------------------------------------------------------------------------

CUTOFF_DAY = 540
HORIZON_DAYS = 180
LATEST_DAY = CUTOFF_DAY + HORIZON_DAYS
FIRST_DAY = pd.Timestamp("2023-01-01")


def _features_as_of(user: dict, as_of: int) -> dict:
    """One feature row, following the definitions of the SQL feature tables."""
    purchased = user["purchase_days"] <= as_of
    purchase_days = user["purchase_days"][purchased]
    purchase_net_spend = user["purchase_spend"][purchased] * (1 - user["return_rate"])
    seen = user["view_days"] <= as_of
    view_days = user["view_days"][seen]
    recent_views = int((view_days > as_of - 90).sum())
    recent_carts = int(user["cart_flags"][seen][view_days > as_of - 90].sum())
    recent_purchases = int((purchase_days > as_of - 90).sum())
    completed_orders = int(user["orders"][purchased].sum())
    last_activity = max([user["signup"], *view_days.tolist(), *purchase_days.tolist()])
    has_purchase = len(purchase_days) > 0
    days_since_first = as_of - int(purchase_days.min()) if has_purchase else 0
    net_spend = float(purchase_net_spend.sum())
    reviews = int(round(completed_orders * user["review_rate"]))
    contacts = int(round(completed_orders * 0.1 + user["support_need"]))
    row = {
        "user_id": user["user_id"],
        "as_of_date": FIRST_DAY + pd.Timedelta(days=as_of),
        "days_since_signup": as_of - user["signup"],
        "days_since_last_activity": as_of - last_activity,
        "activity": 1.0 / (as_of - last_activity + 1),
        "has_purchase": has_purchase,
        "days_since_first_purchase": days_since_first,
        "days_since_last_purchase": as_of - int(purchase_days.max()) if has_purchase else 0,
        "completed_orders": completed_orders,
        "distinct_purchase_days": len(purchase_days),
        "repeat_purchase_days": max(len(purchase_days) - 1, 0),
        "purchase_span_days": int(purchase_days.max() - purchase_days.min()) if has_purchase else 0,
        "customer_age_days": days_since_first,
        "frequency": completed_orders / (days_since_first + 1) if has_purchase else 0.0,
        "amount": net_spend / (days_since_first + 1) if has_purchase else 0.0,
        "net_spend": net_spend,
        "average_order_value": net_spend / completed_orders if completed_orders else 0.0,
        "average_repeat_order_value": float(purchase_net_spend[1:].mean()) if len(purchase_days) > 1 else 0.0,
        "return_share": user["return_rate"] if has_purchase else 0.0,
        "cancelled_orders": int(completed_orders * 0.05),
        "events_last_90_days": recent_views + recent_carts + recent_purchases,
        "views_last_90_days": recent_views,
        "add_to_cart_last_90_days": recent_carts,
        "reviews_written": reviews,
        "average_rating": user["rating"] if reviews else None,
        "support_contacts": contacts,
        "average_support_satisfaction": user["satisfaction"] if contacts else None,
        "future_net_spend": None,
    }
    if as_of == CUTOFF_DAY:
        future = (user["purchase_days"] > as_of) & (user["purchase_days"] <= as_of + HORIZON_DAYS)
        row["future_net_spend"] = float((user["purchase_spend"][future] * (1 - user["return_rate"])).sum())
    return row


def build_population(n_users: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic shop: (features_at_cutoff, features_latest).

    Purchases follow BG/NBD in days (gamma purchase rates, beta dropout after each repeat purchase) and
    spend per purchase day follows Gamma-Gamma, so v2's assumptions hold. Customers also browse until
    they drop out, so recent views and add-to-carts reveal who is still active: signal beyond the
    purchase history that a model using the rich features (v3) can exploit. A tenth of the users sign
    up after the cut-off and appear only in features_latest.
    """
    generator = np.random.default_rng(seed)
    simulation_end = LATEST_DAY + HORIZON_DAYS
    users = []
    for index in range(n_users):
        if generator.random() < 0.1:
            signup = int(generator.integers(CUTOFF_DAY + 1, LATEST_DAY))
        else:
            signup = int(generator.integers(0, CUTOFF_DAY - 14))
        purchase_rate = generator.gamma(2.0, 1 / 100.0)  # purchase days per day, mean 1 in 50 days
        dropout_probability = generator.beta(1.0, 4.0)
        browse_rate = generator.gamma(2.0, 0.1)
        active_until = simulation_end
        purchase_times = []
        if generator.random() < 0.7:
            time = signup + generator.exponential(20.0)
            purchase_times.append(time)
            while True:
                time += generator.exponential(1 / purchase_rate)
                if time > simulation_end:
                    break
                purchase_times.append(time)
                if generator.random() < dropout_probability:
                    active_until = time
                    break
        else:
            active_until = signup + generator.exponential(60.0)  # browsers who never buy also leave
        purchase_days = np.unique(np.floor(purchase_times).astype(int))
        purchase_days = purchase_days[purchase_days <= simulation_end]
        browsing_end = int(min(active_until, simulation_end))
        view_count = generator.poisson(browse_rate * max(browsing_end - signup, 0))
        spend_rate = generator.gamma(10.0, 1 / 200.0)
        users.append(
            {
                "user_id": f"user_{index:05d}",
                "signup": signup,
                "purchase_days": purchase_days,
                "purchase_spend": generator.gamma(4.0, 1 / spend_rate, size=len(purchase_days)),
                "orders": 1 + generator.poisson(0.2, size=len(purchase_days)),
                "return_rate": float(generator.beta(1, 9)),
                "view_days": np.sort(generator.integers(signup, browsing_end + 1, size=view_count)),
                "cart_flags": generator.random(view_count) < 0.15,
                "review_rate": float(generator.beta(1, 4)),
                "support_need": float(generator.random()),
                "rating": float(generator.integers(1, 6)),
                "satisfaction": float(generator.integers(1, 6)),
            }
        )
    at_cutoff = pd.DataFrame(
        [_features_as_of(user, CUTOFF_DAY) for user in users if user["signup"] <= CUTOFF_DAY]
    )
    latest = pd.DataFrame([_features_as_of(user, LATEST_DAY) for user in users])
    return at_cutoff, latest


@pytest.fixture(scope="module")
def population() -> tuple[pd.DataFrame, pd.DataFrame]:
    return build_population()


@pytest.fixture(scope="module")
def results(population) -> dict[int, tuple[pd.DataFrame, dict]]:
    at_cutoff, latest = population
    return {
        version: predict_user_value(at_cutoff, latest, version, horizon_days=HORIZON_DAYS)
        for version in (1, 2, 3)
    }


@pytest.mark.parametrize("version", [1, 2, 3])
def test_output_shape_and_splits(population, results, version):
    at_cutoff, latest = population
    predictions, run = results[version]
    assert run["status"] == "fitted", run["message"]
    assert list(predictions.columns) == output_columns(version)
    assert predictions["user_id"].tolist() == sorted(latest["user_id"])
    assert (predictions["model_version"] == version).all() and predictions["model_version"].dtype == "int64"
    assert predictions["predicted_spend"].notna().all()
    if version > 1:
        assert (predictions["predicted_spend"] >= 0).all()

    labelled = set(at_cutoff.loc[at_cutoff["future_net_spend"].notna(), "user_id"])
    split = predictions.set_index("user_id")["split"]
    assert set(split[split != "scoring_only"].index) == labelled
    assert (split[split == "holdout"].size, split[split == "train"].size) == (
        run["holdout_rows"],
        run["train_rows"],
    )
    assert run["holdout_rows"] == round(0.2 * len(labelled))

    holdout = predictions[predictions["split"] == "holdout"]
    others = predictions[predictions["split"] != "holdout"]
    assert holdout[["holdout_predicted_spend", "holdout_actual_spend"]].notna().all().all()
    assert others[["holdout_predicted_spend", "holdout_actual_spend"]].isna().all().all()
    labels = at_cutoff.set_index("user_id")["future_net_spend"]
    assert np.allclose(holdout["holdout_actual_spend"], labels[holdout["user_id"]].astype(float))
    # The run's metrics are exactly those of the holdout columns.
    recomputed = value_metrics(holdout["holdout_actual_spend"], holdout["holdout_predicted_spend"])
    for key, value in recomputed.items():
        assert run["metrics"][key] == pytest.approx(value)

    # The back-test pair covers every labelled user: the holdout pair where held out, and for
    # training users the fitted model's in-sample prediction (v1: the least-squares fit itself).
    in_cutoff = predictions[predictions["split"] != "scoring_only"]
    assert in_cutoff[["cutoff_predicted_spend", "cutoff_actual_spend"]].notna().all().all()
    assert predictions.loc[predictions["split"] == "scoring_only", "cutoff_predicted_spend"].isna().all()
    assert np.allclose(in_cutoff["cutoff_actual_spend"], labels[in_cutoff["user_id"]].astype(float))
    assert np.array_equal(holdout["cutoff_predicted_spend"], holdout["holdout_predicted_spend"])
    if version == 1:
        train_ids = predictions.loc[predictions["split"] == "train", "user_id"]
        train = at_cutoff.set_index("user_id").loc[train_ids]
        design = np.column_stack([np.ones(len(train)), train[["activity", "frequency", "amount"]].to_numpy(float)])
        coefficients = np.linalg.lstsq(design, train["future_net_spend"].to_numpy(float), rcond=None)[0]
        in_sample = predictions.set_index("user_id").loc[train_ids, "cutoff_predicted_spend"]
        assert np.allclose(in_sample.to_numpy(), design @ coefficients)

    json.dumps(run, allow_nan=False)
    assert run["model_name"] == "user_value" and run["model_version"] == version


def test_v1_matches_least_squares_and_contributions_add_up(population, results):
    at_cutoff, latest = population
    predictions, run = results[1]
    train_ids = set(predictions.loc[predictions["split"] == "train", "user_id"])
    train = at_cutoff[at_cutoff["user_id"].isin(train_ids)]
    design = np.column_stack(
        [np.ones(len(train)), train[["activity", "frequency", "amount"]].to_numpy(float)]
    )
    solution = np.linalg.lstsq(design, train["future_net_spend"].to_numpy(float), rcond=None)[0]
    parameters = run["parameters"]
    fitted = [
        parameters[name]
        for name in ("intercept", "coefficient_activity", "coefficient_frequency", "coefficient_amount")
    ]
    assert np.allclose(fitted, solution, rtol=1e-6, atol=1e-8)

    contributions = predictions[
        ["contribution_activity", "contribution_frequency", "contribution_amount", "intercept"]
    ]
    assert np.allclose(contributions.sum(axis=1), predictions["predicted_spend"])
    by_user = latest.set_index("user_id").loc[predictions["user_id"]]
    assert np.allclose(
        predictions["contribution_amount"], parameters["coefficient_amount"] * by_user["amount"].to_numpy()
    )


def test_v2_outputs_are_consistent(population, results):
    _, latest = population
    predictions, run = results[2]
    buyers = latest.set_index("user_id").loc[predictions["user_id"], "has_purchase"].to_numpy(bool)
    assert predictions.loc[~buyers, "probability_alive"].isna().all()
    assert (predictions.loc[~buyers, ["predicted_purchases", "predicted_spend"]] == 0).all().all()
    assert predictions.loc[buyers, "probability_alive"].between(0, 1).all()
    assert np.allclose(
        predictions["predicted_spend"],
        predictions["predicted_purchases"] * predictions["predicted_average_order_value"],
    )
    parameters = run["parameters"]
    assert parameters["bgnbd_converged"] and parameters["gamma_gamma_converged"]
    assert {"r", "alpha", "a", "b", "p", "q", "gamma"} <= parameters.keys()
    assert parameters["q"] > 1


def test_every_version_beats_the_mean_and_v3_ranks_best(results):
    for version, (_, run) in results.items():
        assert run["metrics"]["rmse"] < run["metrics"]["baseline_rmse"], version
        assert run["metrics"]["beats_baseline"] is True, version
        assert run["metrics"]["metric_status"] == "ok", version
        assert "undefined" not in run["message"], version
    assert results[3][1]["metrics"]["normalized_gini"] > results[1][1]["metrics"]["normalized_gini"]
    assert results[3][1]["metrics"]["spearman"] > results[1][1]["metrics"]["spearman"]


@pytest.mark.parametrize("version", [2, 3])
def test_deterministic_and_independent_of_row_and_column_order(population, results, version):
    at_cutoff, latest = population
    predictions, run = results[version]
    shuffled_cutoff = at_cutoff.sample(frac=1.0, random_state=1)
    shuffled_latest = latest.sample(frac=1.0, random_state=2)
    # Reverse the columns and add one the model does not know.
    shuffled_cutoff = shuffled_cutoff[shuffled_cutoff.columns[::-1]].assign(unrelated="x")
    again, run_again = predict_user_value(
        shuffled_cutoff, shuffled_latest, version, horizon_days=HORIZON_DAYS
    )
    pd.testing.assert_frame_equal(predictions, again)
    assert run == run_again


def test_value_deciles_properties(results):
    predictions, _ = results[3]
    counts = predictions["value_decile"].value_counts()
    assert sorted(counts.index) == list(range(1, 11)) and counts.max() - counts.min() <= 1
    # Higher deciles never hold lower predictions than lower deciles.
    by_decile = predictions.groupby("value_decile")["predicted_spend"].agg(["min", "max"]).sort_index()
    assert (by_decile["min"].to_numpy()[1:] >= by_decile["max"].to_numpy()[:-1]).all()


def test_value_deciles_hand_example():
    # Twenty users, values tied in pairs: the higher value gets the higher decile, and within a tie
    # the smaller user_id ranks first (higher decile).
    user_ids = [f"user_{index:02d}" for index in range(20)]
    values = [float(index // 2) for index in range(20)]
    deciles = value_deciles(user_ids, values)
    assert deciles.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10]
    tied = value_deciles(["c", "a", "b"] + [f"z{index}" for index in range(7)], [5.0] * 10)
    assert tied.tolist() == [8, 10, 9, 7, 6, 5, 4, 3, 2, 1]
    assert value_deciles(["only"], [1.0]).tolist() == [10]
    assert value_deciles([], []).tolist() == []


# --------------------------------------------------------------------------------------------------
# A registry that does not flatter: undefined metrics are null, and losing to the mean is said
# --------------------------------------------------------------------------------------------------

RANKING_KEYS = ("spearman", "normalized_gini", "top20_capture")


@pytest.mark.parametrize("version", [1, 2])
def test_all_zero_labels_are_degenerate_with_null_rankings_and_defined_errors(population, version):
    at_cutoff, latest = population
    nobody_spends = at_cutoff.assign(future_net_spend=0.0)
    predictions, run = predict_user_value(nobody_spends, latest, version, horizon_days=HORIZON_DAYS)
    # Still a fitted model that scores everyone: only the report changes.
    assert run["status"] == "fitted" and len(predictions) == len(latest)
    metrics = run["metrics"]
    assert metrics["metric_status"] == "degenerate_labels"
    assert all(metrics[key] is None for key in RANKING_KEYS), metrics
    assert "ranking metrics undefined" in run["message"]
    holdout = predictions[predictions["split"] == "holdout"]
    assert run["holdout_rows"] == round(0.2 * len(at_cutoff)) >= 50
    # Errors against all-zero labels, by hand: the root mean square and mean absolute prediction.
    predicted = holdout["holdout_predicted_spend"].to_numpy()
    assert metrics["rmse"] == pytest.approx(float(np.sqrt(np.mean(predicted**2))), abs=1e-9)
    assert metrics["mae"] == pytest.approx(float(np.mean(np.abs(predicted))), abs=1e-9)
    # The train mean is exactly 0, so the trivial baseline is perfect and nothing beats it.
    assert metrics["baseline_rmse"] == 0.0
    assert metrics["beats_baseline"] is False
    if version == 1:
        # Least squares on all-zero targets: every coefficient 0, so RMSE 0 (the case that once read
        # as a perfect model with Spearman and Gini 0.0).
        assert metrics["rmse"] == pytest.approx(0.0, abs=1e-9)
    else:
        assert metrics["rmse"] > 0  # v2 ignores the labels and predicts purchases anyway
    encoded = json.loads(json.dumps(run, allow_nan=False))
    assert all(encoded["metrics"][key] is None for key in RANKING_KEYS)


def test_holdout_of_30_users_is_too_few_and_reports_no_metrics(population):
    at_cutoff, latest = population
    # 150 labelled users and a 20 % holdout: 30 holdout users, fewer than the 50 required.
    predictions, run = predict_user_value(at_cutoff.head(150), latest, 1, horizon_days=HORIZON_DAYS)
    assert run["status"] == "fitted" and run["holdout_rows"] == 30 and run["train_rows"] == 120
    assert len(predictions) == len(latest) and (predictions["split"] == "holdout").sum() == 30
    metrics = run["metrics"]
    assert metrics["metric_status"] == "too_few_users"
    for key in ("rmse", "mae", *RANKING_KEYS, "baseline_rmse", "beats_baseline"):
        assert metrics[key] is None, key
    assert metrics["rows"] == 30  # a count, not an estimate: kept
    assert "holdout of 30 users is below 50: metrics undefined" in run["message"]
    json.dumps(run, allow_nan=False)


def test_holdout_of_exactly_50_users_is_enough(population):
    at_cutoff, latest = population
    _, run = predict_user_value(at_cutoff.head(250), latest, 1, horizon_days=HORIZON_DAYS)
    assert run["holdout_rows"] == 50 and run["metrics"]["metric_status"] == "ok"
    assert run["metrics"]["rmse"] is not None and run["metrics"]["normalized_gini"] is not None


def test_a_version_worse_than_the_train_mean_does_not_beat_the_baseline():
    from ltv.user_value import fit_user_value

    generator = np.random.default_rng(5)
    users = pd.DataFrame({
        "user_id": [f"u{index:03d}" for index in range(300)],
        "activity": generator.uniform(0, 1, 300),
        "frequency": generator.uniform(0, 1, 300),
        "amount": 1.0,
        "future_net_spend": 0.0,
    })
    # The split depends only on which users are labelled (and the seed), not on the values.
    split = fit_user_value(users, 1).split_lookup.set_index("user_id")["split"]
    is_holdout = (split.loc[users["user_id"]] == "holdout").to_numpy()
    assert is_holdout.sum() == 60
    # Train: spend is exactly 10 x amount, amounts in [1, 2]. Holdout: amounts of 100 (far outside
    # what train saw) and spend of at most 1, so the fitted line extrapolates to ~1000 each.
    train_amount = generator.uniform(1, 2, 300)
    holdout_spend = generator.uniform(0, 1, 300)
    users["amount"] = np.where(is_holdout, 100.0, train_amount)
    users["future_net_spend"] = np.where(is_holdout, holdout_spend, 10.0 * train_amount)
    _, run = predict_user_value(users, users.drop(columns="future_net_spend"), 1)

    actual = holdout_spend[is_holdout]
    train_mean = 10.0 * train_amount[~is_holdout].mean()
    expected_rmse = np.sqrt(np.mean((1000.0 - actual) ** 2))
    expected_baseline = np.sqrt(np.mean((actual - train_mean) ** 2))
    metrics = run["metrics"]
    assert run["status"] == "fitted" and metrics["metric_status"] == "ok"
    assert metrics["rmse"] == pytest.approx(expected_rmse, rel=1e-6)
    assert metrics["baseline_rmse"] == pytest.approx(expected_baseline, rel=1e-9)
    assert metrics["beats_baseline"] is False


def test_holdout_verdict_rules_by_hand():
    from ltv.user_value import holdout_verdict

    base = {"rmse": 2.0, "mae": 1.0, "spearman": 0.5, "normalized_gini": 0.4, "top20_capture": 0.3,
            "predicted_total": 10.0, "actual_total": 12.0, "rows": 60, "baseline_rmse": 3.0}
    varied = np.arange(60, dtype=float)
    metrics, caveat = holdout_verdict(base, varied)
    assert metrics["metric_status"] == "ok" and metrics["beats_baseline"] is True and caveat is None
    assert base.get("metric_status") is None  # the input is not changed
    metrics, _ = holdout_verdict({**base, "rmse": 3.0}, varied)
    assert metrics["beats_baseline"] is False  # a tie with the mean is not a win
    metrics, caveat = holdout_verdict(base, np.full(60, 7.0))
    assert metrics["metric_status"] == "degenerate_labels" and metrics["rmse"] == 2.0
    assert metrics["beats_baseline"] is True and all(metrics[key] is None for key in RANKING_KEYS)
    assert "(7)" in caveat
    metrics, caveat = holdout_verdict(base, np.arange(49, dtype=float))
    assert metrics["metric_status"] == "too_few_users" and metrics["beats_baseline"] is None
    assert metrics["rows"] == 60 and metrics["actual_total"] == 12.0
    assert caveat == "holdout of 49 users is below 50: metrics undefined"
    # Nine of 60 holdout users spent (one short of MIN_RANKED_SPENDERS): the ranking is not judged,
    # the errors are; ten spenders are enough. A refund (actual < 0) is not a spender.
    nine = np.where(np.arange(60) < 9, 5.0, 0.0)
    nine[10] = -3.0
    metrics, caveat = holdout_verdict(base, nine)
    assert metrics["metric_status"] == "too_few_spenders" and metrics["rmse"] == 2.0 and metrics["mae"] == 1.0
    assert all(metrics[key] is None for key in RANKING_KEYS) and metrics["beats_baseline"] is True
    assert caveat == "9 of 60 holdout users spent anything, below 10: ranking metrics undefined"
    metrics, caveat = holdout_verdict(base, np.where(np.arange(60) < 10, 5.0, 0.0))
    assert metrics["metric_status"] == "ok" and metrics["normalized_gini"] == 0.4 and caveat is None


@pytest.mark.parametrize("version", [1, 2, 3])
def test_too_few_labelled_users_is_skipped_not_raised(population, version):
    at_cutoff, latest = population
    few = at_cutoff.head(30)
    predictions, run = predict_user_value(few, latest, version, horizon_days=HORIZON_DAYS)
    assert run["status"] == "skipped" and "30 labelled users" in run["message"]
    assert predictions.empty and list(predictions.columns) == output_columns(version)
    assert run["metrics"]["rows"] == 0 and run["metrics"]["baseline_rmse"] is None
    assert run["metrics"]["metric_status"] is None and run["metrics"]["beats_baseline"] is None
    json.dumps(run, allow_nan=False)


def test_failed_fit_is_skipped_not_raised(population):
    at_cutoff, latest = population
    # Nobody ever repeats a purchase: Gamma-Gamma has nothing to learn from.
    no_repeats = at_cutoff.assign(
        repeat_purchase_days=0, purchase_span_days=0, average_repeat_order_value=0.0
    )
    predictions, run = predict_user_value(no_repeats.head(400), latest, 2, horizon_days=HORIZON_DAYS)
    assert run["status"] == "skipped" and "Gamma-Gamma" in run["message"]
    assert predictions.empty and list(predictions.columns) == output_columns(2)
    # v3 carries on without v2's outputs and says why they are missing.
    predictions, run = predict_user_value(no_repeats.head(400), latest, 3, horizon_days=HORIZON_DAYS)
    assert run["status"] == "fitted" and len(predictions) == len(latest)
    assert run["parameters"]["v2_parameters"] is None and "Gamma-Gamma" in run["parameters"]["v2_failure"]
    # Nobody spends anything in the horizon: Poisson boosting has nothing to learn from.
    predictions, run = predict_user_value(
        at_cutoff.head(400).assign(future_net_spend=0.0), latest, 3, horizon_days=HORIZON_DAYS
    )
    assert run["status"] == "skipped" and "zero future spend" in run["message"]
    assert predictions.empty


def test_v3_fits_a_shop_without_reviews_or_support_and_drops_the_empty_columns(population, results):
    at_cutoff, latest = population
    empty = {"average_rating": np.nan, "average_support_satisfaction": np.nan, "reviews_written": 0}
    predictions, run = predict_user_value(at_cutoff.assign(**empty), latest.assign(**empty), 3,
                                          horizon_days=HORIZON_DAYS)
    assert run["status"] == "fitted" and len(predictions) == len(latest)
    dropped = set(run["parameters"]["dropped_features"])
    assert {"average_rating", "average_support_satisfaction", "reviews_written"} <= dropped
    assert not dropped & set(run["parameters"]["features"])
    # Where users do review, the rating is informative and kept.
    assert "average_rating" not in results[3][1]["parameters"]["dropped_features"]


def test_informative_columns_hand_example():
    from ltv.user_value import informative_columns

    features = np.array([[1.0, np.nan, 5.0, np.nan], [2.0, np.nan, 5.0, 3.0], [3.0, np.nan, 5.0, 4.0]])
    assert informative_columns(features).tolist() == [True, False, False, True]


@pytest.mark.parametrize("version", [1, 2, 3])
def test_zero_row_inputs_return_typed_empty_output(population, version):
    at_cutoff, latest = population
    predictions, run = predict_user_value(at_cutoff.head(0), latest.head(0), version)
    assert run["status"] == "skipped" and "only 0 labelled users" in run["message"]
    assert list(predictions.columns) == output_columns(version) and len(predictions) == 0
    assert predictions["predicted_spend"].dtype == "float64" and predictions["value_decile"].dtype == "int64"


def test_empty_scoring_set_still_fits(population):
    at_cutoff, latest = population
    predictions, run = predict_user_value(at_cutoff, latest.head(0), 1, horizon_days=HORIZON_DAYS)
    assert run["status"] == "fitted" and run["metrics"]["rows"] == run["holdout_rows"] > 0
    assert list(predictions.columns) == output_columns(1) and predictions.empty


def test_contract_errors_raise(population):
    at_cutoff, latest = population
    with pytest.raises(ValueError, match="amount"):
        predict_user_value(at_cutoff.drop(columns=["amount"]), latest, 1)
    with pytest.raises(ValueError, match="one row per user"):
        predict_user_value(pd.concat([at_cutoff, at_cutoff.head(1)]), latest, 1)
    with pytest.raises(ValueError, match="version"):
        predict_user_value(at_cutoff, latest, 5)
