"""Per-shop tuning for v4: the validation split, the grid search with early stopping, the stacking weight.

Everything here is chosen on users and labels from the training period only: the validation split is
either time-based (features as of validation_cutoff_date, one horizon before the cut-off, labelled
with the spend up to the cut-off) or, when that period has too few labelled users, a random share of
the cut-off training users. The holdout after the cut-off is never seen while tuning.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import optimize

from ltv.metrics import MIN_RANKED_SPENDERS
from ltv.user_value.constants import (
    LABEL_COLUMN,
    V4_FIXED_HYPERPARAMETERS,
    V4_INCREASING_FEATURES,
    V4_MAX_TUNING_USERS,
    V4_VALIDATION_EVAL_SHARE,
)
from ltv.user_value.forest import boosting_threads, predict_floored
from ltv.user_value.inputs import _holdout_mask, _numeric

TIME_BASED = "time_based"
USER_SHARE = "user_share"


class TuningImpossible(ValueError):
    """The training period has too few spenders (or nothing informative) to choose anything on: v4
    then falls back to a documented default instead of skipping the split (see tuned.py)."""


def grid_points(grid: dict) -> list[dict]:
    """Every combination of the grid's values, in the grid's key order (the first key varies slowest)."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[key] for key in keys))]


def _seeded_sample(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """At most `limit` rows, a seeded choice that keeps the (user_id-sorted) order."""
    if len(frame) <= limit:
        return frame.reset_index(drop=True)
    chosen = np.sort(np.random.default_rng(seed).choice(len(frame), size=limit, replace=False))
    return frame.iloc[chosen].reset_index(drop=True)


def validation_split(
    train: pd.DataFrame,
    validation_features: pd.DataFrame | None,
    min_labelled_users: int,
    seed: int,
    eval_share: float = V4_VALIDATION_EVAL_SHARE,
    max_users: int = V4_MAX_TUNING_USERS,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(fit users, evaluation users, description) for tuning; both frames sorted by user_id.

    Time-based when `validation_features` has at least `min_labelled_users` labelled rows of training
    users, MIN_RANKED_SPENDERS of them with positive spend: those rows are split by user into a part
    that fits each grid point and a part (`eval_share`) that judges it. Otherwise a random share of
    `train` itself (the cut-off training users, never the holdout) is judged, and the description
    says why. Raises TuningImpossible when that share, too, has fewer than MIN_RANKED_SPENDERS
    spenders or none on one side of its split: below that a validation score says more about which
    spender fell where than about the grid point.
    """
    train_users = pd.DataFrame({"user_id": train["user_id"].astype(str)})
    reason = "no validation features were given"
    candidates = None
    if validation_features is not None:
        frame = validation_features.copy()
        frame["user_id"] = frame["user_id"].astype(str)
        frame = frame.loc[np.isfinite(_numeric(frame, LABEL_COLUMN))]
        # A hash join, not Series.isin, which loops in Python over Arrow-backed strings.
        candidates = frame.merge(train_users, on="user_id", how="inner", sort=False)
        candidates = candidates.sort_values("user_id", kind="stable").reset_index(drop=True)
        positive = int((_numeric(candidates, LABEL_COLUMN) > 0).sum())
        if len(candidates) < max(int(min_labelled_users), 2):
            reason = (f"{len(candidates)} training users were labelled in the validation period, "
                      f"fewer than {max(int(min_labelled_users), 2)}")
        elif positive == 0:
            reason = "no training user spent anything in the validation period"
        elif positive < MIN_RANKED_SPENDERS:
            reason = (f"{positive} training users spent anything in the validation period, "
                      f"fewer than {MIN_RANKED_SPENDERS}")
        else:
            reason = None
    kind = TIME_BASED if reason is None else USER_SHARE
    pool, is_eval = _split_pool(candidates if kind == TIME_BASED else train, max_users, eval_share, seed)
    if kind == TIME_BASED and not _enough_spenders(pool, is_eval):
        # Early stopping and the Poisson loss need some spend on both sides of the split.
        kind, reason = USER_SHARE, (f"the validation period's tuning users had fewer than {MIN_RANKED_SPENDERS} "
                                    "spenders, or all on one side of its split")
        pool, is_eval = _split_pool(train, max_users, eval_share, seed)
    if not _enough_spenders(pool, is_eval):
        spenders = int((_numeric(pool, LABEL_COLUMN) > 0).sum())
        raise TuningImpossible(f"only {spenders} of {len(pool)} tuning users spent anything (fewer than "
                               f"{MIN_RANKED_SPENDERS}, or not on both sides of the validation split): "
                               "too few spenders to tune on")
    description = {
        "kind": kind,
        "fallback_reason": reason,
        "fit_users": int((~is_eval).sum()),
        "eval_users": int(is_eval.sum()),
        "sampled_from": int(len(candidates) if kind == TIME_BASED else len(train)),
    }
    return pool.loc[~is_eval].reset_index(drop=True), pool.loc[is_eval].reset_index(drop=True), description


def _split_pool(frame: pd.DataFrame, max_users: int, eval_share: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    pool = _seeded_sample(frame.sort_values("user_id", kind="stable"), max_users, seed)
    return pool, _holdout_mask(len(pool), eval_share, seed + 1)


def _enough_spenders(pool: pd.DataFrame, is_eval: np.ndarray) -> bool:
    spent = _numeric(pool, LABEL_COLUMN) > 0
    return bool(spent[is_eval].any() and spent[~is_eval].any() and spent.sum() >= MIN_RANKED_SPENDERS)


# How far the validation period may rescale the blend: a factor beyond this says more about a
# change between the two periods (or a handful of spenders) than about the period to come.
SCALE_BOUNDS = (0.5, 2.0)
# Folds of the cut-off training users on which v4's blend is learned (out-of-fold tree predictions).
STACKING_FOLDS = 3


def _best_scale(mixed: np.ndarray, target: np.ndarray, calibrate: bool = True) -> float:
    """The least-squares factor c of c·mixed ≈ target, within SCALE_BOUNDS (the RMSE is a parabola in
    c, so the bounded optimum is the clipped one); 1 when not calibrating."""
    if not calibrate:
        return 1.0
    denominator = float(mixed @ mixed)
    unbounded = float(mixed @ target) / denominator if denominator > 0 else 1.0
    return float(np.clip(unbounded, *SCALE_BOUNDS))


def stacking_weights(tree_predicted, probabilistic_predicted, actual, calibrate: bool = True) -> dict:
    """The blend scale · (w · trees + (1 − w) · probabilistic) with the least squared error on
    `actual`: tree_weight w in [0, 1], the share of the trees, and scale within SCALE_BOUNDS, which
    calibrates the blend's total to the actual total (fixed at 1 when not `calibrate`). w is found
    by a bounded scalar search (for each w the best scale is closed-form), with both ends checked.
    Without a probabilistic prediction (None) the blend is the trees alone, only scaled."""
    trees = np.asarray(tree_predicted, dtype=float)
    target = np.asarray(actual, dtype=float)
    if probabilistic_predicted is None:
        return {"tree_weight": 1.0, "scale": _best_scale(trees, target, calibrate)}
    probabilistic = np.asarray(probabilistic_predicted, dtype=float)

    def error(weight: float) -> float:
        mixed = weight * trees + (1.0 - weight) * probabilistic
        return float(np.mean((_best_scale(mixed, target, calibrate) * mixed - target) ** 2))

    searched = optimize.minimize_scalar(error, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-6})
    weight = min((0.0, 1.0, float(searched.x)), key=error)
    mixed = weight * trees + (1.0 - weight) * probabilistic
    return {"tree_weight": weight, "scale": _best_scale(mixed, target, calibrate)}


def blend(tree_predicted, probabilistic_predicted, weights: dict) -> np.ndarray:
    """scale · (tree_weight · trees + (1 − tree_weight) · probabilistic), never below 0."""
    trees = np.asarray(tree_predicted, dtype=float)
    if probabilistic_predicted is None:
        mixed = trees
    else:
        w = weights["tree_weight"]
        mixed = w * trees + (1.0 - w) * np.asarray(probabilistic_predicted, dtype=float)
    return np.maximum(weights["scale"] * mixed, 0.0)


def _monotonic_constraints(feature_names: list[str], monotonic: bool) -> list[int] | None:
    if not monotonic:
        return None
    return [1 if name in V4_INCREASING_FEATURES else 0 for name in feature_names]


def fit_trees(point: dict, features: np.ndarray, label: np.ndarray, feature_names: list[str],
              max_iter: int | None = None, eval_features: np.ndarray | None = None,
              eval_label: np.ndarray | None = None):
    """A HistGradientBoostingRegressor for one grid point. With evaluation data, the number of trees
    is found by early stopping on it (the point's loss on the evaluation users, checked every tree);
    without, exactly `max_iter` trees are grown (the refit of the chosen point). Labels below 0 (net
    refunds) count as 0: for the value to come, a refund is no spend, and Poisson needs y ≥ 0."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    hyperparameters = dict(V4_FIXED_HYPERPARAMETERS)
    hyperparameters.update(loss=point["loss"], max_leaf_nodes=point["max_leaf_nodes"],
                           learning_rate=point["learning_rate"],
                           monotonic_cst=_monotonic_constraints(feature_names, point["monotonic"]))
    if eval_features is None:
        hyperparameters.update(early_stopping=False, max_iter=int(max_iter or hyperparameters["max_iter"]))
    model = HistGradientBoostingRegressor(**hyperparameters)
    with boosting_threads(len(features)):
        if eval_features is None:
            model.fit(features, np.maximum(label, 0.0))
        else:
            model.fit(features, np.maximum(label, 0.0), X_val=eval_features, y_val=np.maximum(eval_label, 0.0))
    return model


def stacking_folds(users: int, seed: int, folds: int = STACKING_FOLDS) -> np.ndarray:
    """Each user's fold (0 .. folds − 1): a seeded permutation, so every candidate of v4's final
    choice is judged on the same folds."""
    return np.random.default_rng(seed).permutation(users) % folds


def out_of_fold_trees(point: dict, features: np.ndarray, label: np.ndarray, feature_names: list[str],
                      seed: int, folds: int = STACKING_FOLDS) -> np.ndarray | None:
    """Each user's tree prediction from a candidate point fitted on the other folds (`point["trees"]`
    trees): what v4's final choice (choice.py) and the blend's weight and scale are judged and
    learned on at the cut-off. How much to trust the trees against BG/NBD, and the level of the
    total, are learned on the training period itself, which is closer to the holdout's (a shop that
    grew or changed its mix between the two periods otherwise carries the earlier period's scale
    over). None when some fold's other users spent nothing: there is no fit to learn on."""
    fold_of = stacking_folds(len(label), seed, folds)
    predicted = np.zeros(len(label))
    for fold in range(folds):
        held = fold_of == fold
        if held.all() or not held.any():
            continue
        if np.maximum(label[~held], 0.0).sum() <= 0:
            return None
        model = fit_trees(point, features[~held], label[~held], feature_names, max_iter=point["trees"])
        predicted[held] = predict_trees(model, features[held])
    return predicted


def predict_trees(model, features: np.ndarray) -> np.ndarray:
    """max(model.predict(features), 0), walked on binned features (forest.py: the same values)."""
    return predict_floored(model, features)


def _rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))


def search_grid(points: list[dict], fit_features: np.ndarray, fit_label: np.ndarray,
                eval_features: np.ndarray, eval_label: np.ndarray, feature_names: list[str],
                eval_probabilistic: np.ndarray | None) -> list[dict]:
    """Fit every grid point on the fit users (trees chosen by early stopping on the evaluation users),
    learn its stacking weight with the probabilistic prediction on the evaluation users and score the
    blend there. The validation score is the blend's RMSE (lower is better); the trees' own RMSE is
    reported beside it."""
    results = []
    for point in points:
        model = fit_trees(point, fit_features, fit_label, feature_names,
                          eval_features=eval_features, eval_label=eval_label)
        trees = predict_trees(model, eval_features)
        weights = stacking_weights(trees, eval_probabilistic, eval_label)
        results.append({
            **point,
            "trees": int(model.n_iter_),
            "tree_weight": weights["tree_weight"],
            "scale": weights["scale"],
            "validation_rmse": _rmse(eval_label, blend(trees, eval_probabilistic, weights)),
            "validation_rmse_trees_only": _rmse(eval_label, trees),
        })
    return results


def best_point(results: list[dict]) -> int:
    """Index of the grid point with the lowest validation RMSE (the first of equals)."""
    scores = np.array([result["validation_rmse"] for result in results], dtype=float)
    return int(np.argmin(scores))
