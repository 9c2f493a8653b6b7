"""Tests for v4's final choice at the cut-off (ltv.user_value.choice) and its fallbacks: the equal
blend is kept when it is best out-of-fold, a scale is calibrated only when it clearly helps, a noise
win does not replace the reference, too few spenders give the plain configuration's predictions for
every user (never a skipped split), and v3's recipe with the equal blend is v3 itself. Expected
values are computed here by brute force or with scikit-learn directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from test_user_value import HORIZON_DAYS, build_population

from ltv.user_value import choice as choice_module
from ltv.user_value import fit_user_value, score_user_value
from ltv.user_value import tuned as tuned_module
from ltv.user_value.choice import EQUAL, V3_POINT, _pick, blend_options
from ltv.user_value.constants import BASELINE_FEATURES, V3_HYPERPARAMETERS
from ltv.user_value.tuning import fit_trees, stacking_folds

SMALL_GRID = {"loss": ("poisson",), "max_leaf_nodes": (7,), "learning_rate": (0.1,), "monotonic": (False,)}


def _cross_fitted_rmse_by_brute_force(trees, probabilistic, actual, fold_of, calibrate: bool) -> float:
    """Each fold predicted with the (share, scale) that is best on the other folds, found on a grid."""
    predicted = np.zeros(len(actual))
    for fold in np.unique(fold_of):
        held = fold_of == fold
        best = (np.inf, 0.0, 1.0)
        for weight in np.linspace(0.0, 1.0, 2001):
            mixed = weight * trees[~held] + (1.0 - weight) * probabilistic[~held]
            scale = min(max(float(mixed @ actual[~held] / (mixed @ mixed)), 0.5), 2.0) if calibrate else 1.0
            best = min(best, (float(np.mean((scale * mixed - actual[~held]) ** 2)), weight, scale))
        _, weight, scale = best
        predicted[held] = scale * (weight * trees[held] + (1.0 - weight) * probabilistic[held])
    return float(np.sqrt(np.mean((np.maximum(predicted, 0.0) - actual) ** 2)))


def _synthetic(actual_of, seed: int = 0, users: int = 3000):
    generator = np.random.default_rng(seed)
    trees = generator.gamma(2.0, 50.0, size=users)
    probabilistic = generator.gamma(2.0, 50.0, size=users)
    actual = np.maximum(actual_of(trees, probabilistic) + generator.normal(0.0, 20.0, size=users), 0.0)
    return trees, probabilistic, actual, stacking_folds(users, seed)


def _by_blend(options: list[dict]) -> dict:
    return {option["blend"]: option for option in options}


def test_the_equal_blend_is_chosen_when_it_is_best_out_of_fold_by_brute_force():
    trees, probabilistic, actual, fold_of = _synthetic(lambda t, p: 0.5 * t + 0.5 * p)
    options = _by_blend(blend_options(trees, probabilistic, actual, fold_of))
    brute = {
        "equal": float(np.sqrt(np.mean((0.5 * trees + 0.5 * probabilistic - actual) ** 2))),
        "trees_only": float(np.sqrt(np.mean((trees - actual) ** 2))),
        "learned_weight": _cross_fitted_rmse_by_brute_force(trees, probabilistic, actual, fold_of, False),
        "learned_weight_and_scale": _cross_fitted_rmse_by_brute_force(trees, probabilistic, actual, fold_of, True),
    }
    for blend, rmse in brute.items():
        assert options[blend]["cv_rmse"] == pytest.approx(rmse, rel=1e-4), blend
    assert min(brute, key=brute.get) == "equal"
    chosen, reason = _pick([{"candidate": "v3_recipe", **option} for option in options.values()], EQUAL)
    assert (chosen["blend"], chosen["tree_weight"], chosen["scale"]) == ("equal", 0.5, 1.0)
    assert "the reference" in reason


def test_a_scale_that_clearly_helps_out_of_fold_is_calibrated():
    # The truth is v2 alone at 70 % of its level: a learned weight and scale win by far.
    trees, probabilistic, actual, fold_of = _synthetic(lambda t, p: 0.7 * p)
    options = [{"candidate": "v3_recipe", **option} for option in blend_options(trees, probabilistic, actual, fold_of)]
    chosen, reason = _pick(options, EQUAL)
    assert chosen["blend"] == "learned_weight_and_scale"
    assert chosen["tree_weight"] == pytest.approx(0.0, abs=0.03) and chosen["scale"] == pytest.approx(0.7, abs=0.02)
    assert "by more than 2 standard errors" in reason
    # The recorded gain is the mean drop in squared error against the equal blend, computed here.
    equal = (0.5 * trees + 0.5 * probabilistic - actual) ** 2
    scaled = _cross_fitted_rmse_by_brute_force(trees, probabilistic, actual, fold_of, True) ** 2
    assert chosen["mse_gain"] == pytest.approx(equal.mean() - scaled, rel=1e-3)


def test_a_win_within_two_standard_errors_keeps_the_reference():
    generator = np.random.default_rng(3)
    reference_errors = generator.gamma(1.0, 100.0, size=400)
    # The option is lower by 0.5 per user on average, with a spread of 10: the paired difference's
    # standard error is about 10 / sqrt(400) = 0.5, so its mean is within two of them.
    noise = generator.normal(0.0, 10.0, size=400)
    difference = 0.5 + noise - noise.mean()
    options = [{"candidate": "v3_recipe", "blend": "equal", "tree_weight": 0.5, "scale": 1.0, "errors": reference_errors},
               {"candidate": "tuned", "blend": "learned_weight", "tree_weight": 0.3, "scale": 1.0,
                "errors": reference_errors - difference}]
    for option in options:
        option["cv_rmse"] = float(np.sqrt(np.mean(option["errors"])))
    mean, standard_error = difference.mean(), difference.std(ddof=1) / np.sqrt(400)
    assert 0 < mean < 2 * standard_error
    chosen, _ = _pick(options, EQUAL)
    assert chosen["candidate"] == "v3_recipe" and options[1]["cv_rmse"] < options[0]["cv_rmse"]
    assert options[1]["mse_gain"] == pytest.approx(mean) and options[1]["mse_gain_standard_error"] == pytest.approx(
        standard_error)
    # The same difference shifted far above the noise replaces it.
    options[1]["errors"] = reference_errors - difference - 5.0
    options[1]["cv_rmse"] = float(np.sqrt(np.mean(options[1]["errors"])))
    assert _pick(options, EQUAL)[0]["candidate"] == "tuned"


@pytest.fixture(scope="module")
def few_spenders() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A shop where only 6 of 1,000 labelled users spend in the horizon (as the ratings shape)."""
    at_cutoff, latest = build_population(n_users=1000, seed=11)
    spend = at_cutoff["future_net_spend"].to_numpy(dtype=float)
    keep = np.zeros(len(spend), dtype=bool)
    keep[np.flatnonzero(spend > 0)[:6]] = True
    return at_cutoff.assign(future_net_spend=np.where(keep, spend, 0.0)), latest


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_too_few_spenders_give_the_plain_configuration_for_every_user(few_spenders, seed):
    at_cutoff, latest = few_spenders
    fit = fit_user_value(at_cutoff, 4, HORIZON_DAYS, seed=seed)
    predictions, run = score_user_value(fit, latest)
    assert run["status"] == "fitted" and len(predictions) == len(latest)
    assert predictions["predicted_spend"].notna().all() and (predictions["predicted_spend"] >= 0).all()
    parameters = run["parameters"]
    assert parameters["choice"] is None and parameters["grid_results"] == []
    assert "too few spenders to tune on" in parameters["validation"]["fallback_reason"]
    assert parameters["final_choice"]["candidate"] == "plain_rfm"
    assert parameters["final_choice"]["reason"].startswith("too few spenders to choose on")
    # The plain configuration by hand: scikit-learn's defaults on the RFM features of the train users.
    lookup = fit.split_lookup.set_index("user_id")
    frame = at_cutoff.set_index("user_id").loc[lookup.index]
    train, holdout = frame[lookup["split"] == "train"], frame[lookup["split"] == "holdout"]
    columns = list(BASELINE_FEATURES)
    model = HistGradientBoostingRegressor(random_state=0).fit(train[columns].astype(float).to_numpy(),
                                                             train["future_net_spend"].to_numpy(dtype=float))
    expected = np.maximum(model.predict(holdout[columns].astype(float).to_numpy()), 0.0)
    assert np.allclose(lookup.loc[holdout.index, "holdout_predicted_spend"].to_numpy(), expected)
    # Fewer than 10 holdout spenders: the ranking is not reported, for v4 and the baseline alike.
    # (None at all: every label is 0, degenerate.)
    status = "too_few_spenders" if (holdout["future_net_spend"] > 0).any() else "degenerate_labels"
    for metrics in (run["metrics"], fit.baseline_run["metrics"]):
        assert metrics["metric_status"] == status and metrics["normalized_gini"] is None
        assert metrics["rmse"] is not None


def test_the_v3_recipe_with_the_equal_blend_is_v3():
    at_cutoff, _ = build_population(n_users=1200, seed=8)
    generator = np.random.default_rng(0)
    features = generator.normal(size=(2000, 5))
    label = generator.poisson(np.exp(1.0 + features[:, 0])).astype(float) * 10.0
    names = [f"f{index}" for index in range(5)]
    by_hand = HistGradientBoostingRegressor(**V3_HYPERPARAMETERS).fit(features, label)
    assert np.allclose(fit_trees(V3_POINT, features, label, names, max_iter=V3_POINT["trees"]).predict(features),
                       by_hand.predict(features))
    with pytest.MonkeyPatch.context() as patch:
        # Nothing may replace the reference: v4 must then predict exactly what v3 does.
        patch.setattr(choice_module, "REPLACE_MARGIN_SE", np.inf)
        patch.setattr(tuned_module, "V4_GRID", SMALL_GRID)
        v4 = fit_user_value(at_cutoff, 4, HORIZON_DAYS, seed=5)
    v3 = fit_user_value(at_cutoff, 3, HORIZON_DAYS, seed=5)
    assert (v4.run["parameters"]["final_choice"]["candidate"], v4.run["parameters"]["final_choice"]["blend"]) == (
        "v3_recipe", "equal")
    pd.testing.assert_frame_equal(v4.split_lookup, v3.split_lookup)
    assert v4.run["metrics"] == v3.run["metrics"]
