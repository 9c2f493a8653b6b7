"""v4: v2 (BG/NBD + Gamma-Gamma) stacked with gradient-boosted trees, both tuned per shop.

The trees learn from the rich behavioural features plus v2's expected purchases, P(alive) and
Gamma-Gamma spend. Their loss, leaf count, learning rate, monotonic constraints and number of trees
are chosen on a validation split from the training period (tuning.validation_split); the chosen
point is then refitted on the cut-off training users, and the stacking weight and scale of the blend
with v2 are learned on out-of-fold tree predictions of those same users (tuning.out_of_fold_trees).
The holdout is measured once, by fitting.fit_user_value, as for every version.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ltv.user_value.boosting import _base_feature_matrix, _tree_features, _v3_feature_matrix
from ltv.user_value.constants import (
    LABEL_COLUMN,
    V3_BASE_FEATURES,
    V3_FEATURES,
    V4_FIXED_HYPERPARAMETERS,
    V4_GRID,
    V4_MAX_FIT_USERS,
    V4_MAX_TUNING_USERS,
)
from ltv.user_value.inputs import _numeric, informative_columns
from ltv.user_value.probabilistic import _fit_v2, _parameters_v2, _predict_v2
from ltv.user_value.tuning import (
    STACKING_FOLDS,
    _seeded_sample,
    best_point,
    blend,
    fit_trees,
    grid_points,
    out_of_fold_trees,
    predict_trees,
    search_grid,
    stacking_weights,
    validation_split,
)


def _try_fit_v2(frame: pd.DataFrame) -> tuple[dict | None, str | None]:
    """v2 on these users, or None and why: v4 goes on with the trees alone when v2 cannot be fitted."""
    try:
        return _fit_v2(frame), None
    except Exception as error:  # the reason is reported in the run's parameters
        return None, f"{type(error).__name__}: {error}"


def refit_sample(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The training users v4 (and the plain boosting baseline beside it) is refitted on: every one
    up to V4_MAX_FIT_USERS, a seeded sample of that many above (train is sorted by user_id)."""
    return _seeded_sample(train, V4_MAX_FIT_USERS, seed + 2)


def _feature_names(v2_state: dict | None) -> list[str]:
    return list(V3_FEATURES if v2_state is not None else V3_BASE_FEATURES)


def _tune(train: pd.DataFrame, validation_features: pd.DataFrame | None, horizon_days: int,
          seed: int, min_labelled_users: int) -> dict:
    """The grid search on the validation split: every point's result and the chosen one."""
    fit_users, eval_users, validation = validation_split(train, validation_features, min_labelled_users, seed)
    v2_state, v2_failure = _try_fit_v2(fit_users)
    fit_features = _v3_feature_matrix(v2_state, fit_users, horizon_days)
    eval_features = _v3_feature_matrix(v2_state, eval_users, horizon_days)
    kept = informative_columns(fit_features)
    fit_label = _numeric(fit_users, LABEL_COLUMN)
    if not kept.any() or np.maximum(fit_label, 0.0).sum() <= 0:
        raise ValueError("the validation fit users have no informative feature or no spend; nothing to tune")
    names = [name for name, keep in zip(_feature_names(v2_state), kept, strict=True) if keep]
    eval_probabilistic = (None if v2_state is None
                          else _predict_v2(v2_state, eval_users, horizon_days)["predicted_spend"].to_numpy(dtype=float))
    eval_label = _numeric(eval_users, LABEL_COLUMN)
    results = search_grid(grid_points(V4_GRID), fit_features[:, kept], fit_label, eval_features[:, kept],
                          eval_label, names, eval_probabilistic)
    validation["v2_failure"] = v2_failure
    if eval_probabilistic is not None:
        validation["v2_only_rmse"] = float(np.sqrt(np.mean((eval_probabilistic - eval_label) ** 2)))
    return {"validation": validation, "results": results, "chosen": best_point(results),
            "validation_had_v2": v2_state is not None}


def _fit_v4(train: pd.DataFrame, horizon_days: int, validation_features: pd.DataFrame | None = None,
            seed: int = 42, min_labelled_users: int = 50) -> dict:
    tuning = _tune(train, validation_features, horizon_days, seed, min_labelled_users)
    chosen = tuning["results"][tuning["chosen"]]
    # Both parts are refitted on at most V4_MAX_FIT_USERS training users: BG/NBD and Gamma-Gamma have
    # four and three parameters, which 100,000 users pin down as well as a million do.
    sample = refit_sample(train, seed)
    v2_state, v2_failure = _try_fit_v2(sample)
    features = _v3_feature_matrix(v2_state, sample, horizon_days)
    kept = informative_columns(features)
    label = _numeric(sample, LABEL_COLUMN)
    if not kept.any() or np.maximum(label, 0.0).sum() <= 0:
        raise ValueError("every training user has zero future spend or no informative feature; nothing to learn")
    names = [name for name, keep in zip(_feature_names(v2_state), kept, strict=True) if keep]
    model = fit_trees(chosen, features[:, kept], label, names, max_iter=chosen["trees"])
    out_of_fold = out_of_fold_trees(chosen, features[:, kept], label, names, seed + 3)
    probabilistic = (None if v2_state is None
                     else _predict_v2(v2_state, sample, horizon_days)["predicted_spend"].to_numpy(dtype=float))
    if out_of_fold is not None:
        weights = stacking_weights(out_of_fold, probabilistic, label)
        stacking_learned_on = f"{STACKING_FOLDS}-fold out-of-fold tree predictions of the cut-off training users"
    else:
        # Too few spenders to fit every fold: the weights the validation split learned for this point.
        weights = ({"tree_weight": chosen["tree_weight"], "scale": chosen["scale"]} if v2_state is not None
                   else {"tree_weight": 1.0, "scale": 1.0})
        stacking_learned_on = "the validation split (too few spenders at the cut-off for out-of-fold predictions)"
    return {"v2_state": v2_state, "v2_failure": v2_failure, "model": model, "kept_columns": kept,
            "weights": weights, "stacking_learned_on": stacking_learned_on, "tuning": tuning,
            "fit_users": len(sample)}


def _v4_combine(state: dict, trees: np.ndarray, v2_outputs: pd.DataFrame | None) -> np.ndarray:
    """v4's prediction from its trees' (floored at 0) and v2's outputs (None without a v2 fit)."""
    probabilistic = None if v2_outputs is None else v2_outputs["predicted_spend"].to_numpy(dtype=float)
    return blend(trees, probabilistic, state["weights"])


def _v4_from_parts(state: dict, base: np.ndarray, v2_outputs: pd.DataFrame | None) -> np.ndarray:
    """v4's prediction from the base feature matrix and v2's outputs for the same users; split from
    _predict_v4 as _v3_from_parts is."""
    return _v4_combine(state, predict_trees(state["model"], _tree_features(state, base, v2_outputs)), v2_outputs)


def _predict_v4(state: dict, frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    v2_outputs = None if state["v2_state"] is None else _predict_v2(state["v2_state"], frame, horizon_days)
    predicted = _v4_from_parts(state, _base_feature_matrix(frame), v2_outputs)
    return pd.DataFrame({"predicted_spend": predicted}, index=frame.index)


def _parameters_v4(state: dict) -> dict:
    """What the registry records: the grid, each point's validation score, the validation used, the choice."""
    tuning = state["tuning"]
    names = _feature_names(state["v2_state"])
    kept = state["kept_columns"]
    chosen = tuning["results"][tuning["chosen"]]
    return {
        "grid": {key: list(values) for key, values in V4_GRID.items()},
        "fixed_hyperparameters": dict(V4_FIXED_HYPERPARAMETERS),
        "validation_score": "rmse of the stacked prediction on the validation evaluation users (lower is better)",
        "grid_results": tuning["results"],
        "validation": tuning["validation"],
        "validation_kind": tuning["validation"]["kind"],
        "choice": {**chosen, "grid_index": tuning["chosen"]},
        "stacking": dict(state["weights"]),
        # The grid's own weights (in grid_results) were learned on the validation split; the holdout is never seen.
        "stacking_learned_on": state.get("stacking_learned_on"),
        "features": [name for name, keep in zip(names, kept, strict=True) if keep],
        "dropped_features": [name for name, keep in zip(names, kept, strict=True) if not keep],
        "caps": {"max_tuning_users": V4_MAX_TUNING_USERS, "max_fit_users": V4_MAX_FIT_USERS},
        "fit_users": state["fit_users"],
        "v2_parameters": None if state["v2_state"] is None else _parameters_v2(state["v2_state"]),
        "v2_failure": state["v2_failure"],
    }

