"""Occlusion for v3 and v4 at the cost of the users whose leaves the occluded feature moves.

Replacing one feature changes only the trees that split on it, and in those only the leaves of the
users whose value and the baseline lie on different sides of one of the tree's thresholds on it:
every other tree, and every other user, keeps its output. ForestOcclusion therefore keeps each
tree's output for the users' own features (binned as the trees were grown: forest.py) and, for an
occluded feature, evaluates again only those trees for only those users (for one of v2's inputs, the
feature itself and v2's four outputs change), adding the difference to the summed raw score. The
result is the same prediction the model would make for the occluded matrix (same trees, same link,
same blend with v2) to the last bit, since an unchanged leaf adds exactly nothing; on a million users
about a quarter of the (tree, user) pairs of the occluded trees are evaluated again.

That needs scikit-learn's per-tree predictors, which HistGradientBoostingRegressor keeps in private
attributes (_predictors, _baseline_prediction, _loss, _bin_mapper; scikit-learn is pinned). Where they
are missing, stacked_predictor falls back to predicting the whole model again for each feature: the
same contributions, slower. tests/python/test_value_explanations.py checks both against a brute-force
occlusion through the versions' own predict functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ltv.user_value.boosting import _tree_features, _v3_combine, _v3_from_parts
from ltv.user_value.constants import REQUIRED_COLUMNS, V2_OUTPUT_COLUMNS, V3_BASE_FEATURES
from ltv.user_value.forest import BinnedForest
from ltv.user_value.probabilistic import _predict_v2
from ltv.user_value.tuned import _v4_combine, _v4_from_parts

# The five features v2 reads (all among V3_BASE_FEATURES): occluding one of them moves v2's outputs too.
V2_INPUTS = tuple(column for column in REQUIRED_COLUMNS[2] if column != "user_id")


def v2_frame(batch: np.ndarray, names) -> pd.DataFrame:
    """The columns v2 reads, taken from a matrix whose columns are `names`."""
    names = list(names)
    return pd.DataFrame({column: batch[:, names.index(column)] for column in V2_INPUTS})


def _side_tables(trees, missing_bin: int) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """For each column of the trees' matrix: the trees that split on it (ascending), and a table
    those trees × bin of which side of each tree's thresholds on the column the bin lies (the count
    of thresholds below it; missing values a side of their own). Two bins on the same side of a
    tree's thresholds take the same branch at every node of that tree that splits on the column."""
    thresholds: dict[int, list[tuple[int, np.ndarray]]] = {}
    for index, tree in enumerate(trees):
        inner = tree.nodes[tree.nodes["is_leaf"] == 0]
        for column in np.unique(inner["feature_idx"]).tolist():
            thresholds.setdefault(column, []).append(
                (index, np.unique(inner["bin_threshold"][inner["feature_idx"] == column])))
    readers, tables = {}, {}
    for column, per_tree in thresholds.items():
        readers[column] = np.array([index for index, _ in per_tree], dtype=np.intp)
        table = np.vstack([np.searchsorted(edges, np.arange(256), side="left") for _, edges in per_tree])
        table[:, missing_bin] = 255
        tables[column] = table.astype(np.uint8)
    return readers, tables


class ForestOcclusion:
    """predict(batch, occluded) of v3 or v4 for occlusion_contributions (batch columns: V3_BASE_FEATURES)."""

    def __init__(self, state: dict, horizon_days: int, combine: Callable):
        self.state, self.horizon_days, self.combine = state, horizon_days, combine
        self.forest = BinnedForest(state["model"])
        self.readers, self.tables = _side_tables(self.forest.trees, self.forest.missing_bin)
        width = len(V3_BASE_FEATURES) + (len(V2_OUTPUT_COLUMNS) + 1 if state["v2_state"] is not None else 0)
        kept = state.get("kept_columns", np.ones(width, dtype=bool))
        # Position of each full-matrix column in the trees' matrix (-1: dropped as constant).
        self.position = np.where(kept, np.cumsum(kept) - 1, -1)
        self.own = None  # the unoccluded batch: v2's outputs, bins, each tree's output, raw sum, prediction

    def _v2_outputs(self, batch: np.ndarray) -> pd.DataFrame | None:
        if self.state["v2_state"] is None:
            return None
        return _predict_v2(self.state["v2_state"], v2_frame(batch, V3_BASE_FEATURES), self.horizon_days)

    def __call__(self, batch: np.ndarray, occluded: int | None) -> np.ndarray:
        if occluded is None:
            v2_outputs = self._v2_outputs(batch)
            binned = self.forest.bin(_tree_features(self.state, batch, v2_outputs))
            outputs = self.forest.outputs(binned)
            raw = self.forest.predict_raw(outputs)
            prediction = self.combine(self.state, self.forest.to_prediction(raw), v2_outputs)
            self.own = {"v2_outputs": v2_outputs, "binned": binned, "outputs": outputs, "raw": raw,
                        "prediction": prediction}
            return prediction
        v2_outputs, changed = self.own["v2_outputs"], {}
        column = int(self.position[occluded])
        if column >= 0:  # one bin for every user: the baseline's
            changed[column] = self.forest.bin_column(batch[:1, occluded], column)
        if v2_outputs is not None and V3_BASE_FEATURES[occluded] in V2_INPUTS:
            v2_outputs = self._v2_outputs(batch)
            changed.update(self._v2_bins(v2_outputs))
        if not changed and v2_outputs is self.own["v2_outputs"]:
            return self.own["prediction"]  # nothing the model reads has changed
        return self.combine(self.state, self.forest.to_prediction(self._raw(changed)), v2_outputs)

    def _v2_bins(self, v2_outputs: pd.DataFrame) -> dict[int, np.ndarray]:
        """The bins of v2's outputs the trees read, by their position in the trees' matrix."""
        names = [*V2_OUTPUT_COLUMNS, "predicted_spend"]
        positions = self.position[len(V3_BASE_FEATURES):]
        return {int(position): self.forest.bin_column(v2_outputs[name].to_numpy(dtype=float), int(position))
                for name, position in zip(names, positions, strict=True) if position >= 0}

    def _raw(self, changed: dict[int, np.ndarray]) -> np.ndarray:
        """The summed raw score with these columns' bins replaced (one bin per user, or one for all).
        A tree is evaluated again only for
        the users for whom some column it splits on moved across one of its thresholds; everyone
        else keeps their leaf, and so their raw score exactly (trees added in the same order)."""
        own = self.own
        binned = own["binned"].copy()
        crossed_by_tree: dict[int, list[np.ndarray]] = {}
        for position, bins in changed.items():
            binned[:, position] = bins
            if position in self.readers:
                # trees × users; take() keeps the rows contiguous, which fancy indexing does not.
                sides = self.tables[position][:, bins] if len(bins) == 1 else np.take(self.tables[position], bins, axis=1)
                crossed = sides != self._own_sides(position)
                for row, tree in enumerate(self.readers[position].tolist()):
                    crossed_by_tree.setdefault(tree, []).append(crossed[row])
        raw = own["raw"].copy()
        for tree in sorted(crossed_by_tree):
            rows = crossed_by_tree[tree]
            users = np.flatnonzero(rows[0] if len(rows) == 1 else np.logical_or.reduce(rows))
            if users.size:
                raw[users] += self.forest.output(binned[users], tree) - own["outputs"][users, tree]
        return raw

    def _own_sides(self, position: int) -> np.ndarray:
        """trees splitting on the column × users: the side of the users' own bin, kept for the batch
        (v2's outputs are compared with it once for each of v2's five inputs)."""
        kept = self.own.setdefault("sides", {})
        if position not in kept:
            kept[position] = np.take(self.tables[position], self.own["binned"][:, position], axis=1)
        return kept[position]


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
