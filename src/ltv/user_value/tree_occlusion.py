"""Occlusion for v3 and v4 at the cost of the users whose leaves the occluded feature moves.

Replacing one feature changes only the trees that split on it, and in those only the users whose
path through the tree it changes: every other tree, and every other user, keeps its output.
ForestOcclusion therefore keeps each tree's leaf for the users' own features (binned as the trees
were grown: forest.py) and, for an occluded feature, walks again only those trees for only those
users, adding the difference to the summed raw score (tree_kernels.occluded_raw, compiled). Whether
a user's path changes is found exactly, from the leaf they are in: for every changed column the tree
splits on, whether the new bin keeps every node of the leaf's path on its branch. That covers the
feature itself (one baseline bin for everyone) and, when it is one of v2's inputs, v2's four outputs
too, which change per user. The result is the same prediction the model would make for the
occluded matrix (same trees, same link, same blend with v2) to the last bit, since an unchanged leaf
adds exactly nothing.

That needs scikit-learn's per-tree predictors, which HistGradientBoostingRegressor keeps in private
attributes (_predictors, _baseline_prediction, _loss, _bin_mapper; scikit-learn is pinned). Where they
are missing, stacked_predictor falls back to predicting the whole model again for each feature: the
same contributions, slower. tests/python/test_value_explanations.py checks both against a brute-force
occlusion through the versions' own predict functions.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pandas as pd

from ltv.user_value.boosting import _tree_features, _v3_combine, _v3_from_parts
from ltv.user_value.constants import REQUIRED_COLUMNS, V2_OUTPUT_COLUMNS, V3_BASE_FEATURES
from ltv.user_value.forest import BinnedForest
from ltv.user_value.probabilistic import _predict_v2, v2_history, v2_outputs, v2_parts
from ltv.user_value.tree_kernels import occluded_raw, own_leaves, path_tables
from ltv.user_value.tuned import _v4_combine, _v4_from_parts

# The five features v2 reads (all among V3_BASE_FEATURES): occluding one of them moves v2's outputs too.
V2_INPUTS = tuple(column for column in REQUIRED_COLUMNS[2] if column != "user_id")


def v2_frame(batch: np.ndarray, names) -> pd.DataFrame:
    """The columns v2 reads, taken from a matrix whose columns are `names`."""
    names = list(names)
    return pd.DataFrame({column: batch[:, names.index(column)] for column in V2_INPUTS})


class ForestOcclusion:
    """predict(batch, occluded) of v3 or v4 for occlusion_contributions (batch columns: V3_BASE_FEATURES).
    Built once per explanation: the tables describe the trees and are only read after __init__; the
    batch's own pass (self.own) is the one thing a call writes, so batches explained at once each
    take their own copy (for_batch)."""

    def __init__(self, state: dict, horizon_days: int, combine: Callable):
        self.state, self.horizon_days, self.combine = state, horizon_days, combine
        self.forest = BinnedForest(state["model"])
        self.tables = path_tables(self.forest.trees, self.forest.missing_bin, len(self.forest.thresholds))
        width = len(V3_BASE_FEATURES) + (len(V2_OUTPUT_COLUMNS) + 1 if state["v2_state"] is not None else 0)
        kept = state.get("kept_columns", np.ones(width, dtype=bool))
        # Position of each full-matrix column in the trees' matrix (-1: dropped as constant).
        self.position = np.where(kept, np.cumsum(kept) - 1, -1)
        self.forest.packed  # noqa: B018 - packed here, not lazily by whichever batch's thread comes first
        self.own = None  # the unoccluded batch: v2's outputs, bins, each tree's leaf, raw sum, prediction

    def for_batch(self) -> ForestOcclusion:
        """A predictor for one batch that shares the tables of the trees but keeps its own pass."""
        batch_predictor = copy.copy(self)
        batch_predictor.own = None
        return batch_predictor

    def _v2_outputs(self, batch: np.ndarray, known: tuple[dict, dict] | None = None):
        """(v2's outputs, its history, its parts) for the batch, or Nones without a v2 fit. known: the
        own pass's history and parts, whose parts an occluded input does not touch are kept."""
        if self.state["v2_state"] is None:
            return None, None, None
        history = v2_history(lambda name: batch[:, V3_BASE_FEATURES.index(name)])
        parts = v2_parts(self.state["v2_state"], history, self.horizon_days, known)
        return v2_outputs(history, parts), history, parts

    def __call__(self, batch: np.ndarray, occluded: int | None) -> np.ndarray:
        if occluded is None:
            return self._own_pass(batch)
        v2_outputs, changed = self.own["v2_outputs"], {}
        column = int(self.position[occluded])
        if column >= 0:  # one bin for every user: the baseline's
            changed[column] = self.forest.bin_column(batch[:1, occluded], column)
        if v2_outputs is not None and V3_BASE_FEATURES[occluded] in V2_INPUTS:
            v2_outputs = self._v2_outputs(batch, (self.own["v2_history"], self.own["v2_parts"]))[0]
            changed.update(self._v2_bins(v2_outputs))
        if not changed and v2_outputs is self.own["v2_outputs"]:
            return self.own["prediction"]  # nothing the model reads has changed
        return self.combine(self.state, self.forest.to_prediction(self._raw(changed)), v2_outputs)

    def _own_pass(self, batch: np.ndarray) -> np.ndarray:
        """The users as they are: each tree's leaf is kept for the occluded passes."""
        v2_outputs, history, parts = self._v2_outputs(batch)
        binned = self.forest.bin(_tree_features(self.state, batch, v2_outputs))
        # Summed tree by tree from the baseline, as scikit-learn does, so the result is the model's own.
        leaves, raw = own_leaves(self.forest.packed, binned, self.forest.missing_bin, self.forest.baseline)
        prediction = self.combine(self.state, self.forest.to_prediction(raw), v2_outputs)
        self.own = {"v2_outputs": v2_outputs, "v2_history": history, "v2_parts": parts, "binned": binned,
                    "leaves": leaves, "raw": raw, "prediction": prediction}
        return prediction

    def _v2_bins(self, v2_outputs: pd.DataFrame) -> dict[int, np.ndarray]:
        """The bins of v2's outputs the trees read, by their position in the trees' matrix."""
        names = [*V2_OUTPUT_COLUMNS, "predicted_spend"]
        positions = self.position[len(V3_BASE_FEATURES):]
        return {int(position): self.forest.bin_column(v2_outputs[name].to_numpy(dtype=float), int(position))
                for name, position in zip(names, positions, strict=True) if position >= 0}

    def _raw(self, changed: dict[int, np.ndarray]) -> np.ndarray:
        """The summed raw score with these columns' bins replaced (one bin per user, or one for all).
        A tree is walked again only for the users whose path through it the new bins leave; everyone
        else keeps their leaf, and so their raw score exactly (trees added in the same order)."""
        own = self.own
        return occluded_raw(self.forest.packed, self.tables, own["binned"], own["leaves"], own["raw"],
                            self.forest.missing_bin, changed)


def _whole_model_predictor(state: dict, horizon_days: int, from_parts: Callable) -> Callable:
    """The fallback: the whole model predicted again per feature (v2's outputs kept where unchanged)."""
    kept_v2_outputs = {}

    def predict(batch: np.ndarray, occluded: int | None) -> np.ndarray:
        if state["v2_state"] is None:
            v2_outputs = None
        elif occluded is None or V3_BASE_FEATURES[occluded] in V2_INPUTS:
            v2_outputs = _predict_v2(state["v2_state"], v2_frame(batch, V3_BASE_FEATURES), horizon_days)
            if occluded is None:
                kept_v2_outputs["batch"] = v2_outputs
        else:
            v2_outputs = kept_v2_outputs["batch"]
        return from_parts(state, batch, v2_outputs)

    return predict


def stacked_predictor(version: int, state: dict, horizon_days: int, per_tree: bool = True) -> Callable:
    """predict(batch, occluded) for v3 or v4: per tree where scikit-learn's trees can be reached."""
    combine, from_parts = (_v3_combine, _v3_from_parts) if version == 3 else (_v4_combine, _v4_from_parts)
    if per_tree and state["model"] is not None:  # v4 serving the plain RFM configuration has no stack
        try:
            return ForestOcclusion(state, horizon_days, combine)
        except AttributeError:  # a scikit-learn whose trees are kept elsewhere: the slower path
            pass
    return _whole_model_predictor(state, horizon_days, from_parts)
