"""v4's final choice at the cut-off: which trees, and which blend with v2, on out-of-fold predictions.

The validation split (tuning.py) picks the best grid point, but it is one horizon earlier and often
small (296 labelled users on the retail shape, 89 of them judging): its winner can be worse at the
cut-off than v3's fixed recipe. So the last word is said on the cut-off training users themselves,
on three folds of a seeded permutation (tuning.stacking_folds), among

* candidate trees: the tuned grid point (when the validation split could tune one), v3's fixed
  recipe, and the plain RFM boosting configuration (scikit-learn's defaults on BASELINE_FEATURES,
  exactly the registry's baseline_rfm_boosting; it is used as it is, never blended);
* blends of each tree candidate with v2's expected spend: v3's equal weights, a learned weight, a
  learned weight and scale, the trees alone (without v2: the trees alone, or scaled).

Each option is scored by the RMSE of its out-of-fold predictions; a learned weight or scale is
cross-fitted (learned on two folds' out-of-fold predictions, scored on the third), so learning does
not win by construction. v3's recipe with v3's blend is the reference: another option replaces it
only when its out-of-fold mean squared error is lower by more than REPLACE_MARGIN_SE standard errors
of the paired per-user difference. Spend has a heavy tail, so out-of-fold RMSEs a few percent apart
are mostly a matter of where the largest spenders fell; without the margin, options that won on
out-of-fold data by 1-3% lost to v3 on the holdout (retail, generated). A scale is thus calibrated,
and a weight moved off 50/50, only when that clearly helps on data it was not learned on.

The holdout is never seen. With fewer than MIN_RANKED_SPENDERS spenders among the training users
nothing can be chosen and the documented default, the plain RFM configuration, is used: it is the
yardstick the issue sets, so v4 then equals it rather than risk being worse on a handful of spenders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ltv.metrics import MIN_RANKED_SPENDERS
from ltv.user_value.baseline import fit_baseline, predict_baseline
from ltv.user_value.constants import V3_HYPERPARAMETERS
from ltv.user_value.tuning import STACKING_FOLDS, out_of_fold_trees, stacking_folds, stacking_weights

TUNED = "tuned"
V3_RECIPE = "v3_recipe"
PLAIN_RFM = "plain_rfm"
# v3's trees as a grid point for tuning.fit_trees, whose fixed settings (40 users a leaf, L2 1.0,
# random_state 0) are v3's too: the candidate with the equal blend is v3 itself.
V3_POINT = {"loss": V3_HYPERPARAMETERS["loss"], "max_leaf_nodes": V3_HYPERPARAMETERS["max_leaf_nodes"],
            "learning_rate": V3_HYPERPARAMETERS["learning_rate"], "monotonic": False,
            "trees": V3_HYPERPARAMETERS["max_iter"]}

# Blends, in the order that breaks ties (the simpler first): fixed weights, then learned ones.
EQUAL, TREES_ONLY, LEARNED_WEIGHT, LEARNED_WEIGHT_AND_SCALE, LEARNED_SCALE, AS_IS = (
    "equal", "trees_only", "learned_weight", "learned_weight_and_scale", "learned_scale", "as_is")
FIXED_BLENDS = {EQUAL: {"tree_weight": 0.5, "scale": 1.0}, TREES_ONLY: {"tree_weight": 1.0, "scale": 1.0}}
# How many standard errors of the paired difference an option's out-of-fold mean squared error must
# beat the reference's by to replace it (one-sided, about a 2% chance of a pure-noise win). 1 and 2
# were tried on the generated shapes: 1 still let noise wins through on retail and generated.
REPLACE_MARGIN_SE = 2.0
DEFAULT_REASON = ("too few spenders to choose on ({spenders} of {users} training users, fewer than {minimum}): "
                  "the default, the plain RFM boosting configuration")


def _rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def _mix(trees: np.ndarray, probabilistic: np.ndarray | None, weights: dict) -> np.ndarray:
    if probabilistic is None:
        return weights["scale"] * trees
    return weights["scale"] * (weights["tree_weight"] * trees + (1.0 - weights["tree_weight"]) * probabilistic)


def _cross_fitted(trees, probabilistic, label, fold_of, calibrate: bool) -> np.ndarray:
    """Each user's blend with the weight (and scale) learned on the other folds' out-of-fold rows."""
    predicted = np.zeros(len(label))
    for fold in np.unique(fold_of):
        held = fold_of == fold
        weights = stacking_weights(trees[~held], None if probabilistic is None else probabilistic[~held],
                                   label[~held], calibrate)
        predicted[held] = _mix(trees[held], None if probabilistic is None else probabilistic[held], weights)
    return predicted


def blend_options(trees: np.ndarray, probabilistic: np.ndarray | None, label: np.ndarray,
                  fold_of: np.ndarray) -> list[dict]:
    """Every blend of these out-of-fold trees with v2 (None: v2 could not be fitted): its weights
    (learned ones on all the out-of-fold rows, as the final model uses them), each user's
    cross-fitted squared error ("errors") and their RMSE. Predictions below 0 count as 0, as v4
    serves them."""
    learned = ([(LEARNED_WEIGHT, False), (LEARNED_WEIGHT_AND_SCALE, True)] if probabilistic is not None
               else [(LEARNED_SCALE, True)])
    fixed = FIXED_BLENDS if probabilistic is not None else {TREES_ONLY: FIXED_BLENDS[TREES_ONLY]}
    options = [{"blend": name, **weights, "errors": (np.maximum(_mix(trees, probabilistic, weights), 0) - label) ** 2}
               for name, weights in fixed.items()]
    for name, calibrate in learned:
        cross_fitted = np.maximum(_cross_fitted(trees, probabilistic, label, fold_of, calibrate), 0.0)
        options.append({"blend": name, **stacking_weights(trees, probabilistic, label, calibrate),
                        "errors": (cross_fitted - label) ** 2})
    for option in options:
        option["cv_rmse"] = float(np.sqrt(np.mean(option["errors"])))
    return options


def out_of_fold_plain(frame: pd.DataFrame, label: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """The plain RFM configuration's out-of-fold predictions, clipped at 0 as v4 serves them."""
    predicted = np.zeros(len(label))
    for fold in np.unique(fold_of):
        held = fold_of == fold
        state = fit_baseline(frame.loc[~held])
        predicted[held] = np.maximum(predict_baseline(state, frame.loc[held]), 0.0)
    return predicted


def _tree_candidates(points: dict, design: dict, seed: int) -> tuple[list[dict], dict]:
    """(scored options, failures) of every tree candidate: each point's out-of-fold trees, blended."""
    options, failures = [], {}
    for name, point in points.items():
        trees = out_of_fold_trees(point, design["features"], design["label"], design["names"], seed)
        if trees is None:
            failures[name] = "some fold's other users spent nothing"
            continue
        options += [{"candidate": name, **option}
                    for option in blend_options(trees, design["probabilistic"], design["label"], design["fold_of"])]
    return options, failures


def _gain(option: dict, reference: dict) -> tuple[float, float]:
    """(mean, standard error) of the per-user drop in squared error from the reference to the option."""
    difference = reference["errors"] - option["errors"]
    if len(difference) < 2:
        return float(np.mean(difference)), float("inf")
    return float(np.mean(difference)), float(np.std(difference, ddof=1) / np.sqrt(len(difference)))


def _pick(options: list[dict], reference_blend: str) -> tuple[dict, str]:
    """The option with the lowest out-of-fold RMSE if it beats the reference (v3's recipe with
    reference_blend; the plain configuration if v3's recipe could not be fitted) by more than
    REPLACE_MARGIN_SE standard errors, else the reference; and why. Records every option's gain."""
    reference = next((option for option in options if (option["candidate"], option["blend"]) == (V3_RECIPE, reference_blend)),
                     next((option for option in options if option["candidate"] == PLAIN_RFM), None))
    best = min(options, key=lambda option: option["cv_rmse"])  # the first of equals
    if reference is None:
        return best, f"lowest {STACKING_FOLDS}-fold out-of-fold RMSE (no reference could be fitted)"
    for option in options:
        option["mse_gain"], option["mse_gain_standard_error"] = _gain(option, reference)
    name = f"{reference['candidate']} {reference['blend']}"
    if best is not reference and best["mse_gain"] > REPLACE_MARGIN_SE * best["mse_gain_standard_error"]:
        return best, (f"lowest {STACKING_FOLDS}-fold out-of-fold RMSE of the cut-off training users (learned "
                      f"weights cross-fitted), below {name}'s by more than {REPLACE_MARGIN_SE:g} standard errors")
    return reference, (f"{name}, the reference: no option's {STACKING_FOLDS}-fold out-of-fold mean squared error was "
                       f"lower by more than {REPLACE_MARGIN_SE:g} standard errors")


def choose(points: dict, design: dict, frame: pd.DataFrame, seed: int) -> dict:
    """The final choice: {"candidate", "blend", "tree_weight", "scale", "options", "failures",
    "reason"}. points: tree candidates by name (TUNED, V3_RECIPE) as tuning.fit_trees points;
    design: the cut-off users' "features", "label", "names" and "probabilistic" (v2's spend or
    None); frame: the same users' feature table, for the plain configuration."""
    label = design["label"]
    spenders = int(np.sum(label > 0))
    if spenders < MIN_RANKED_SPENDERS:
        return {"candidate": PLAIN_RFM, "blend": AS_IS, **FIXED_BLENDS[TREES_ONLY], "options": [], "failures": {},
                "reason": DEFAULT_REASON.format(spenders=spenders, users=len(label), minimum=MIN_RANKED_SPENDERS)}
    design = {**design, "fold_of": stacking_folds(len(label), seed)}
    options, failures = _tree_candidates(points, design, seed)
    try:
        plain = out_of_fold_plain(frame, label, design["fold_of"])
        options.append({"candidate": PLAIN_RFM, "blend": AS_IS, **FIXED_BLENDS[TREES_ONLY],
                        "errors": (plain - label) ** 2, "cv_rmse": _rmse(plain, label)})
    except ValueError as error:  # every RFM feature constant in some fold: the candidate is out
        failures[PLAIN_RFM] = str(error)
    if not options:
        raise ValueError(f"no candidate of v4's final choice could be fitted: {failures}")
    chosen, reason = _pick(options, EQUAL if design["probabilistic"] is not None else TREES_ONLY)
    return {**{key: chosen[key] for key in ("candidate", "blend", "tree_weight", "scale")},
            "options": [{key: value for key, value in option.items() if key != "errors"} for option in options],
            "failures": failures, "reason": reason}
