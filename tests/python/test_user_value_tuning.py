"""Tests for user-value v4's tuning (ltv.user_value.tuning / tuned) and the plain boosting baseline:
the choice against a brute-force search, the validation fallback, the stacking weight on synthetic
data with a known weight, early stopping on noise, and the baseline's registry row against a model
fitted here by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from test_user_value import HORIZON_DAYS, build_population

from ltv.user_value import fit_user_value
from ltv.user_value import tuned as tuned_module
from ltv.user_value.boosting import _v3_feature_matrix
from ltv.user_value.constants import (
    BASELINE_FEATURES,
    BASELINE_METHOD,
    BASELINE_MODEL_VERSION,
    V3_BASE_FEATURES,
    V3_FEATURES,
    V3_HYPERPARAMETERS,
    V4_FIXED_HYPERPARAMETERS,
    V4_INCREASING_FEATURES,
)
from ltv.user_value.inputs import _numeric, informative_columns
from ltv.user_value.probabilistic import _fit_v2, _predict_v2
from ltv.user_value.tuning import (
    TIME_BASED,
    USER_SHARE,
    fit_trees,
    grid_points,
    stacking_weights,
    validation_split,
)

TINY_GRID = {"loss": ("poisson", "squared_error"), "max_leaf_nodes": (7,), "learning_rate": (0.1,),
             "monotonic": (False, True)}


@pytest.fixture(scope="module")
def shop() -> dict:
    """A synthetic shop at the cut-off, and a validation table for the same users: an independent
    draw of the same population (same user ids, other histories), as the period before would be."""
    at_cutoff, latest = build_population(n_users=1500, seed=5)
    validation, _ = build_population(n_users=1500, seed=6)
    return {"at_cutoff": at_cutoff, "latest": latest, "validation": validation}


@pytest.fixture(scope="module")
def tiny_fit(shop):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tuned_module, "V4_GRID", TINY_GRID)
        return fit_user_value(shop["at_cutoff"], 4, HORIZON_DAYS, seed=3,
                              features_at_validation_cutoff=shop["validation"])


def _train_users(fit, at_cutoff: pd.DataFrame) -> pd.DataFrame:
    train_ids = set(fit.split_lookup.loc[fit.split_lookup["split"] == "train", "user_id"])
    train = at_cutoff.loc[at_cutoff["user_id"].isin(train_ids)]
    return train.sort_values("user_id").reset_index(drop=True)


def _best_blend_rmse(trees: np.ndarray, probabilistic: np.ndarray, actual: np.ndarray) -> float:
    """Brute force: every tree share w on a fine grid, each with its least-squares scale in [0.5, 2]."""
    best = np.inf
    for weight in np.linspace(0.0, 1.0, 2001):
        mixed = weight * trees + (1.0 - weight) * probabilistic
        scale = min(max(float(mixed @ actual / (mixed @ mixed)), 0.5), 2.0)
        best = min(best, float(np.sqrt(np.mean((scale * mixed - actual) ** 2))))
    return best


def test_the_choice_is_the_grid_point_with_the_best_validation_score_by_brute_force(shop, tiny_fit):
    parameters = tiny_fit.run["parameters"]
    assert parameters["validation_kind"] == TIME_BASED
    assert len(parameters["grid_results"]) == len(grid_points(TINY_GRID)) == 4

    # Rebuild every grid point here with scikit-learn directly and score it by brute force.
    fit_users, eval_users, _ = validation_split(_train_users(tiny_fit, shop["at_cutoff"]), shop["validation"], 50, 3)
    v2_state = _fit_v2(fit_users)
    fit_x = _v3_feature_matrix(v2_state, fit_users, HORIZON_DAYS)
    eval_x = _v3_feature_matrix(v2_state, eval_users, HORIZON_DAYS)
    kept = informative_columns(fit_x)
    names = [name for name, keep in zip(V3_FEATURES, kept, strict=True) if keep]
    fit_y = np.maximum(_numeric(fit_users, "future_net_spend"), 0.0)
    eval_y = np.maximum(_numeric(eval_users, "future_net_spend"), 0.0)
    v2_eval = _predict_v2(v2_state, eval_users, HORIZON_DAYS)["predicted_spend"].to_numpy()
    scores = []
    for point, recorded in zip(grid_points(TINY_GRID), parameters["grid_results"], strict=True):
        model = HistGradientBoostingRegressor(
            loss=point["loss"], max_leaf_nodes=point["max_leaf_nodes"], learning_rate=point["learning_rate"],
            monotonic_cst=[int(name in V4_INCREASING_FEATURES) for name in names] if point["monotonic"] else None,
            **V4_FIXED_HYPERPARAMETERS,
        ).fit(fit_x[:, kept], fit_y, X_val=eval_x[:, kept], y_val=eval_y)
        trees = np.maximum(model.predict(eval_x[:, kept]), 0.0)
        assert recorded["trees"] == model.n_iter_
        score = _best_blend_rmse(trees, v2_eval, eval_y)
        assert recorded["validation_rmse"] == pytest.approx(score, rel=1e-4)
        scores.append(score)
    assert parameters["choice"]["grid_index"] == int(np.argmin(scores))



def _out_of_fold_by_hand(make_model, features: np.ndarray, label: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    predicted = np.zeros(len(label))
    for fold in range(3):
        held = fold_of == fold
        predicted[held] = np.maximum(make_model().fit(features[~held], label[~held]).predict(features[held]), 0.0)
    return predicted


def _blend_by_brute_force(trees, probabilistic, fit_label, calibrate: bool) -> tuple[float, float]:
    """(tree share, scale) with the least squared error: every share on a fine grid, each with its
    least-squares scale clipped to [0.5, 2] (or 1 when not calibrating)."""
    best = (np.inf, 0.0, 1.0)
    for weight in np.linspace(0.0, 1.0, 2001):
        mixed = weight * trees + (1.0 - weight) * probabilistic
        scale = min(max(float(mixed @ fit_label / (mixed @ mixed)), 0.5), 2.0) if calibrate else 1.0
        best = min(best, (float(np.mean((scale * mixed - fit_label) ** 2)), weight, scale))
    return best[1], best[2]


def _cross_fitted_errors(trees, probabilistic, label, fold_of, calibrate: bool) -> np.ndarray:
    predicted = np.zeros(len(label))
    for fold in range(3):
        held = fold_of == fold
        weight, scale = _blend_by_brute_force(trees[~held], probabilistic[~held], label[~held], calibrate)
        predicted[held] = scale * (weight * trees[held] + (1.0 - weight) * probabilistic[held])
    return (np.maximum(predicted, 0.0) - label) ** 2


def test_the_final_choice_at_the_cutoff_by_brute_force(shop, tiny_fit):
    """Rebuild every candidate's out-of-fold predictions with scikit-learn (three folds of a seeded
    permutation of the training users), score every blend by brute force, and apply the rule: the
    lowest out-of-fold RMSE replaces v3's recipe with equal weights only when its mean squared error
    is lower by more than two standard errors of the paired difference."""
    parameters = tiny_fit.run["parameters"]
    tuned = grid_points(TINY_GRID)[parameters["choice"]["grid_index"]]
    train = _train_users(tiny_fit, shop["at_cutoff"])
    v2_train = _fit_v2(train)
    train_x = _v3_feature_matrix(v2_train, train, HORIZON_DAYS)
    kept = informative_columns(train_x)
    names = [name for name, keep in zip(V3_FEATURES, kept, strict=True) if keep]
    label = _numeric(train, "future_net_spend")
    fold_of = np.random.default_rng(3 + 3).permutation(len(train)) % 3
    v2_spend = _predict_v2(v2_train, train, HORIZON_DAYS)["predicted_spend"].to_numpy()
    tuned_trees = _out_of_fold_by_hand(lambda: HistGradientBoostingRegressor(
        loss=tuned["loss"], max_leaf_nodes=tuned["max_leaf_nodes"], learning_rate=tuned["learning_rate"],
        monotonic_cst=[int(name in V4_INCREASING_FEATURES) for name in names] if tuned["monotonic"] else None,
        **{**V4_FIXED_HYPERPARAMETERS, "early_stopping": False, "max_iter": parameters["choice"]["trees"]}),
        train_x[:, kept], np.maximum(label, 0.0), fold_of)
    v3_trees = _out_of_fold_by_hand(lambda: HistGradientBoostingRegressor(**V3_HYPERPARAMETERS),
                                    train_x[:, kept], np.maximum(label, 0.0), fold_of)
    plain = _out_of_fold_by_hand(lambda: HistGradientBoostingRegressor(random_state=0),
                                 train[list(BASELINE_FEATURES)].astype(float).to_numpy(), label, fold_of)
    errors = {("plain_rfm", "as_is"): (plain - label) ** 2}
    for candidate, trees in (("tuned", tuned_trees), ("v3_recipe", v3_trees)):
        errors[(candidate, "equal")] = (0.5 * trees + 0.5 * v2_spend - label) ** 2
        errors[(candidate, "trees_only")] = (trees - label) ** 2
        errors[(candidate, "learned_weight")] = _cross_fitted_errors(trees, v2_spend, label, fold_of, False)
        errors[(candidate, "learned_weight_and_scale")] = _cross_fitted_errors(trees, v2_spend, label, fold_of, True)
    recorded = {(option["candidate"], option["blend"]): option for option in parameters["final_options"]}
    assert set(recorded) == set(errors)
    for key, squared in errors.items():
        assert recorded[key]["cv_rmse"] == pytest.approx(np.sqrt(np.mean(squared)), rel=1e-4), key

    best = min(errors, key=lambda key: np.mean(errors[key]))
    gain = errors[("v3_recipe", "equal")] - errors[best]
    significant = gain.mean() > 2.0 * gain.std(ddof=1) / np.sqrt(len(gain))
    expected = best if significant else ("v3_recipe", "equal")
    final = parameters["final_choice"]
    assert (final["candidate"], final["blend"]) == expected
    assert parameters["stacking"] == {"tree_weight": final["tree_weight"], "scale": final["scale"]}
    assert "out-of-fold" in parameters["stacking_learned_on"]


def test_the_registry_run_records_the_grid_each_score_the_validation_and_the_choice(tiny_fit):
    parameters = tiny_fit.run["parameters"]
    assert parameters["grid"] == {key: list(values) for key, values in TINY_GRID.items()}
    for result in parameters["grid_results"]:
        assert {"loss", "max_leaf_nodes", "learning_rate", "monotonic", "trees", "validation_rmse",
                "tree_weight", "scale"} <= set(result)
    validation = parameters["validation"]
    assert validation["kind"] == TIME_BASED and validation["fallback_reason"] is None
    assert validation["fit_users"] + validation["eval_users"] == validation["sampled_from"]
    assert tiny_fit.run["status"] == "fitted"


def test_validation_falls_back_to_a_share_of_the_training_users(shop):
    train = shop["at_cutoff"].iloc[:800]
    holdout_ids = set(shop["at_cutoff"]["user_id"].iloc[800:])
    # No validation table; a validation period with too few labelled users; one without spend.
    in_train = shop["validation"]["user_id"].isin(set(train["user_id"]))
    few = shop["validation"].loc[in_train].iloc[:30]
    no_spend = shop["validation"].assign(future_net_spend=0.0)
    for validation, reason in [(None, "no validation features"), (few, "30 training users were labelled"),
                               (no_spend, "no training user spent")]:
        fit_users, eval_users, description = validation_split(train, validation, 50, seed=1)
        assert description["kind"] == USER_SHARE
        assert reason in description["fallback_reason"]
        fit_ids, eval_ids = set(fit_users["user_id"]), set(eval_users["user_id"])
        assert not fit_ids & eval_ids
        assert fit_ids | eval_ids == set(train["user_id"])
        assert not (fit_ids | eval_ids) & holdout_ids
        assert len(eval_ids) == round(0.3 * len(train))
    fit_users, eval_users, description = validation_split(train, shop["validation"], 50, seed=1)
    assert description["kind"] == TIME_BASED
    # Time-based: the validation table's rows of the training users only, with their own labels.
    assert set(fit_users["user_id"]) | set(eval_users["user_id"]) == set(shop["validation"].loc[in_train, "user_id"])
    assert fit_users["future_net_spend"].tolist() == (
        shop["validation"].set_index("user_id").loc[fit_users["user_id"], "future_net_spend"].tolist())


def test_a_fit_without_validation_features_records_the_fallback(shop):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tuned_module, "V4_GRID", {**TINY_GRID, "loss": ("poisson",), "monotonic": (False,)})
        fit = fit_user_value(shop["at_cutoff"], 4, HORIZON_DAYS, seed=3)
    assert fit.run["status"] == "fitted"
    assert fit.run["parameters"]["validation_kind"] == USER_SHARE
    assert fit.run["metrics"]["rmse"] < fit.run["metrics"]["baseline_rmse"]


def test_stacking_recovers_a_known_weight_and_scale():
    generator = np.random.default_rng(0)
    trees = generator.gamma(2.0, 50.0, size=20_000)
    probabilistic = generator.gamma(2.0, 50.0, size=20_000)
    actual = 1.2 * (0.3 * trees + 0.7 * probabilistic) + generator.normal(0.0, 5.0, size=20_000)
    weights = stacking_weights(trees, probabilistic, actual)
    assert weights["tree_weight"] == pytest.approx(0.3, abs=0.01)
    assert weights["scale"] == pytest.approx(1.2, abs=0.01)
    # Without a probabilistic prediction only the scale is learned; it never leaves [0.5, 2].
    assert stacking_weights(trees, None, 1.5 * trees) == {"tree_weight": 1.0, "scale": pytest.approx(1.5)}
    assert stacking_weights(trees, None, 6.0 * trees)["scale"] == 2.0
    assert stacking_weights(trees, probabilistic, 0.1 * probabilistic)["scale"] == 0.5
    # Exactly one of the two predictions: the search finds the end of the weight range.
    assert stacking_weights(trees, probabilistic, probabilistic) == {"tree_weight": 0.0, "scale": pytest.approx(1.0)}
    assert stacking_weights(trees, probabilistic, trees) == {"tree_weight": 1.0, "scale": pytest.approx(1.0)}


def test_early_stopping_grows_fewer_trees_on_noise():
    generator = np.random.default_rng(1)
    features = generator.normal(size=(6000, 4))
    signal = np.exp(1.0 + features[:, 0] - 0.5 * features[:, 1] + 0.7 * np.sin(3.0 * features[:, 2]))
    names = ["a", "b", "c", "d"]
    point = {"loss": "poisson", "max_leaf_nodes": 7, "learning_rate": 0.1, "monotonic": False}

    def trees(label: np.ndarray) -> int:
        model = fit_trees(point, features[:4000], label[:4000], names,
                          eval_features=features[4000:], eval_label=label[4000:])
        return int(model.n_iter_)

    on_signal = trees(generator.poisson(signal).astype(float))
    on_noise = trees(generator.poisson(np.full(6000, signal.mean())).astype(float))
    assert on_noise <= V4_FIXED_HYPERPARAMETERS["n_iter_no_change"] + 10
    assert on_signal > 3 * on_noise


def test_the_baseline_row_is_a_default_boosting_model_on_rfm_features(shop, tiny_fit):
    run = tiny_fit.baseline_run
    assert run["model_version"] == BASELINE_MODEL_VERSION and run["method"] == BASELINE_METHOD
    assert run["status"] == "fitted"
    lookup = tiny_fit.split_lookup.set_index("user_id")
    frame = shop["at_cutoff"].set_index("user_id").loc[lookup.index]
    train, holdout = frame[lookup["split"] == "train"], frame[lookup["split"] == "holdout"]
    columns = list(BASELINE_FEATURES)
    model = HistGradientBoostingRegressor(random_state=0).fit(
        train[columns].astype(float).to_numpy(), train["future_net_spend"].to_numpy(dtype=float))
    predicted = model.predict(holdout[columns].astype(float).to_numpy())
    actual = holdout["future_net_spend"].to_numpy(dtype=float)
    assert run["metrics"]["rmse"] == pytest.approx(float(np.sqrt(np.mean((predicted - actual) ** 2))), rel=1e-9)
    assert run["holdout_rows"] == len(holdout) and run["train_rows"] == len(train)
    assert run["parameters"]["served"] is False
    assert set(columns) <= set(V3_BASE_FEATURES)
