"""v4: v2 (BG/NBD + Gamma-Gamma) stacked with gradient-boosted trees, both tuned per shop.

The trees learn from the rich behavioural features plus v2's expected purchases, P(alive) and
Gamma-Gamma spend. Their loss, leaf count, learning rate, monotonic constraints and number of trees
are tuned on a validation split from the training period (tuning.validation_split). The tuned point,
v3's fixed recipe and the plain RFM boosting configuration, each with its possible blends with v2,
are then compared on out-of-fold predictions of the cut-off training users (choice.choose), and the
winner is refitted on them (at most V4_MAX_FIT_USERS of them, a seeded sample above). When the
winner is v3 itself (v3's recipe with v3's blend), v4 is v3: it serves v3's model fitted on every
training user, v3's own fit when it is given (the dbt model then takes v3's table too), so the same
trees are neither fitted nor explained twice. When the training period has too few spenders to tune or to choose on,
v4 does not give up: it records why and uses the documented default (choice.PLAIN_RFM). The
holdout is measured once, by fitting.fit_user_value, as for every version.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ltv.user_value.baseline import fit_baseline, predict_baseline
from ltv.user_value.boosting import _base_feature_matrix, _fit_v3, _tree_features, _v3_feature_matrix
from ltv.user_value.choice import EQUAL, PLAIN_RFM, TREES_ONLY, TUNED, V3_POINT, V3_RECIPE, choose
from ltv.user_value.constants import (
    BASELINE_FEATURES,
    LABEL_COLUMN,
    V3_BASE_FEATURES,
    V3_FEATURES,
    V3_TREE_WEIGHT,
    V4_FIXED_HYPERPARAMETERS,
    V4_GRID,
    V4_MAX_FIT_USERS,
    V4_MAX_TUNING_USERS,
)
from ltv.user_value.inputs import _numeric, informative_columns
from ltv.user_value.probabilistic import _fit_v2, _parameters_v2, _predict_v2
from ltv.user_value.tuning import (
    TuningImpossible,
    _seeded_sample,
    best_point,
    blend,
    fit_trees,
    grid_points,
    predict_trees,
    search_grid,
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
        raise TuningImpossible("the validation fit users have no informative feature or no spend; nothing to tune")
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


def _tune_or_explain(train: pd.DataFrame, validation_features: pd.DataFrame | None, horizon_days: int,
                     seed: int, min_labelled_users: int) -> dict:
    """_tune's result, or, when the training period has too few spenders to tune on, no grid point
    and the reason (v4 then chooses among the untuned candidates)."""
    try:
        return _tune(train, validation_features, horizon_days, seed, min_labelled_users)
    except TuningImpossible as error:
        return {"validation": {"kind": None, "fallback_reason": str(error)}, "results": [], "chosen": None,
                "validation_had_v2": None}


def _cutoff_design(sample: pd.DataFrame, horizon_days: int) -> dict:
    """The cut-off training users as the tree candidates see them: v2 fitted on them (or why not),
    the informative feature columns, their names, the label and v2's expected spend."""
    v2_state, v2_failure = _try_fit_v2(sample)
    features = _v3_feature_matrix(v2_state, sample, horizon_days)
    kept = informative_columns(features)
    return {"v2_state": v2_state, "v2_failure": v2_failure, "features": features[:, kept], "kept": kept,
            "names": [name for name, keep in zip(_feature_names(v2_state), kept, strict=True) if keep],
            "label": _numeric(sample, LABEL_COLUMN),
            "probabilistic": (None if v2_state is None else
                              _predict_v2(v2_state, sample, horizon_days)["predicted_spend"].to_numpy(dtype=float))}


def _is_v3(choice: dict, design: dict) -> bool:
    """Whether the final choice is v3 itself: v3's trees with v3's blend (equal weights with v2; the
    trees alone where v2 could not be fitted on the choice's users)."""
    return (choice["candidate"] == V3_RECIPE
            and choice["blend"] == (EQUAL if design["v2_state"] is not None else TREES_ONLY))


def _as_v3(train: pd.DataFrame, horizon_days: int, design: dict, sample: pd.DataFrame,
           v3_state: dict | None) -> dict | None:
    """v3's fitted state when v4's choice is v3 itself: v3's own fit of the same training users when
    the caller has it (v3_state), else v3 fitted here on every training user (v2 as the choice fitted
    it when the choice's sample is every user). None when v3's v2 part and the choice's disagree
    (v2 fitted on the sample but not on everyone, or the reverse): the choice then does not
    describe v3, and v4 refits its choice on the sample as for any other."""
    if v3_state is None:
        whole = len(sample) == len(train)
        v3_state = _fit_v3(train, horizon_days, design["v2_state"] if whole else None)
    if (v3_state["v2_state"] is None) != (design["v2_state"] is None):
        return None
    return v3_state


def _fit_v4(train: pd.DataFrame, horizon_days: int, validation_features: pd.DataFrame | None = None,
            seed: int = 42, min_labelled_users: int = 50, v3_state: dict | None = None) -> dict:
    """v3_state: v3 fitted on the same training users (v3's own fit), served when the choice is v3
    itself instead of fitting it again; None fits it here if needed."""
    tuning = _tune_or_explain(train, validation_features, horizon_days, seed, min_labelled_users)
    # The choice is made on at most V4_MAX_FIT_USERS training users: BG/NBD and Gamma-Gamma have four
    # and three parameters, and the options' out-of-fold errors differ clearly on 100,000 users.
    sample = refit_sample(train, seed)
    design = _cutoff_design(sample, horizon_days)
    points = {V3_RECIPE: V3_POINT}
    if tuning["chosen"] is not None:
        points = {TUNED: tuning["results"][tuning["chosen"]], **points}
    if not design["kept"].any() or np.maximum(design["label"], 0.0).sum() <= 0:
        points = {}  # no tree can learn anything here; only the plain configuration is left
    choice = choose(points, design, sample, seed + 3)
    state = {"tuning": tuning, "choice": choice, "serves_v3": False}
    v3 = _as_v3(train, horizon_days, design, sample, v3_state) if _is_v3(choice, design) else None
    if v3 is not None:
        # v4 is v3 here: v3's model, fitted on every training user, with v3's blend.
        tree_weight = V3_TREE_WEIGHT if v3["v2_state"] is not None else 1.0
        return {**state, "v2_state": v3["v2_state"], "v2_failure": v3["v2_failure"],
                "kept_columns": v3["kept_columns"], "model": v3["model"], "fit_users": len(train),
                "weights": {"tree_weight": tree_weight, "scale": 1.0}, "serves_v3": True}
    state.update({"v2_state": design["v2_state"], "v2_failure": design["v2_failure"],
                  "kept_columns": design["kept"], "fit_users": len(sample),
                  "weights": {"tree_weight": choice["tree_weight"], "scale": choice["scale"]}})
    if choice["candidate"] == PLAIN_RFM:
        state["plain"] = fit_baseline(sample)
        state["model"] = None
    else:
        point = points[choice["candidate"]]
        state["model"] = fit_trees(point, design["features"], design["label"], design["names"],
                                   max_iter=point["trees"])
    return state


def _v4_combine(state: dict, trees: np.ndarray, v2_outputs: pd.DataFrame | None) -> np.ndarray:
    """v4's prediction from its trees' (floored at 0) and v2's outputs (None without a v2 fit)."""
    probabilistic = None if v2_outputs is None else v2_outputs["predicted_spend"].to_numpy(dtype=float)
    return blend(trees, probabilistic, state["weights"])


def _v4_from_parts(state: dict, base: np.ndarray, v2_outputs: pd.DataFrame | None) -> np.ndarray:
    """v4's prediction from the base feature matrix and v2's outputs for the same users; split from
    _predict_v4 as _v3_from_parts is."""
    if state["model"] is None:  # the plain RFM configuration, served as it is but never below 0
        plain_frame = pd.DataFrame(base, columns=list(V3_BASE_FEATURES))
        return np.maximum(predict_baseline(state["plain"], plain_frame), 0.0)
    return _v4_combine(state, predict_trees(state["model"], _tree_features(state, base, v2_outputs)), v2_outputs)


def _predict_v4(state: dict, frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    # The plain RFM configuration reads no v2 output.
    v2_outputs = None if state["model"] is None or state["v2_state"] is None else _predict_v2(state["v2_state"], frame, horizon_days)
    predicted = _v4_from_parts(state, _base_feature_matrix(frame), v2_outputs)
    return pd.DataFrame({"predicted_spend": predicted}, index=frame.index)


def _parameters_v4(state: dict) -> dict:
    """What the registry records: the grid, each point's validation score, the validation used, the
    tuned point (None when there were too few spenders to tune), and the final choice at the cut-off
    with every option's out-of-fold score and the reason."""
    tuning, choice = state["tuning"], state["choice"]
    plain = state["model"] is None
    names = list(BASELINE_FEATURES) if plain else _feature_names(state["v2_state"])
    kept = state["plain"]["kept_columns"] if plain else state["kept_columns"]
    tuned = None if tuning["chosen"] is None else {**tuning["results"][tuning["chosen"]], "grid_index": tuning["chosen"]}
    return {
        "grid": {key: list(values) for key, values in V4_GRID.items()},
        "fixed_hyperparameters": dict(V4_FIXED_HYPERPARAMETERS),
        "validation_score": "rmse of the stacked prediction on the validation evaluation users (lower is better)",
        "grid_results": tuning["results"],
        "validation": tuning["validation"],
        "validation_kind": tuning["validation"]["kind"],
        "choice": tuned,
        # The final choice among the tuned point, v3's recipe and the plain RFM configuration (see
        # choice.py): options with their out-of-fold RMSE, the winner, and why (or why the default).
        "final_choice": {key: choice[key] for key in ("candidate", "blend", "tree_weight", "scale", "reason")},
        "final_options": choice["options"],
        "final_failures": choice["failures"],
        "trees": None if plain else int(state["model"].n_iter_),
        "stacking": dict(state["weights"]),
        "stacking_learned_on": choice["reason"],
        "features": [name for name, keep in zip(names, kept, strict=True) if keep],
        "dropped_features": [name for name, keep in zip(names, kept, strict=True) if not keep],
        "caps": {"max_tuning_users": V4_MAX_TUNING_USERS, "max_fit_users": V4_MAX_FIT_USERS},
        "fit_users": state["fit_users"],
        "v2_parameters": None if state["v2_state"] is None else _parameters_v2(state["v2_state"]),
        "v2_failure": state["v2_failure"],
    }
