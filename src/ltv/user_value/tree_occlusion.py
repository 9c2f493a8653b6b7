"""Occlusion for v3 and v4 at the cost of the users whose leaves the occluded feature moves.

Replacing one feature changes only the trees that split on it, and in those only the users whose
path through the tree it changes: every other tree, and every other user, keeps its output.
ForestOcclusion therefore keeps each tree's leaf for the users' own features (binned as the trees
were grown: forest.py) and, for an occluded feature, evaluates again only those trees for only
those users, adding the difference to the summed raw score. For the feature itself (one baseline
bin for everyone) the users whose path changes are found exactly, from the leaf they are in; when it
is one of v2's inputs, v2's four outputs change per user too, and for those the cheaper bound is
used: the users whose bin crossed one of the tree's thresholds on the column. The result is the
same prediction the model would make for the occluded matrix (same trees, same link, same blend with
v2) to the last bit, since an unchanged leaf adds exactly nothing. On a million users about 290 of
the (tree, user) pairs per user are evaluated again, against 1,670 for every reader of the column.

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


def _leaf_paths(tree, missing_bin: int) -> dict[int, dict[int, np.ndarray]]:
    """For each leaf, for each column split on along its path: which bins (0..255) take the path's
    branch at every node of the path that splits on the column (the missing bin follows each node's
    missing_go_to_left, as scikit-learn's binned walk does)."""
    nodes, bins, paths = tree.nodes, np.arange(256), {}
    pending = [(0, {})]
    while pending:
        node, allowed = pending.pop()
        if nodes["is_leaf"][node]:
            paths[node] = allowed
            continue
        column = int(nodes["feature_idx"][node])
        goes_left = bins <= nodes["bin_threshold"][node]
        goes_left[missing_bin] = bool(nodes["missing_go_to_left"][node])
        before = allowed.get(column, np.ones(256, dtype=bool))
        pending.append((int(nodes["left"][node]), {**allowed, column: before & goes_left}))
        pending.append((int(nodes["right"][node]), {**allowed, column: before & ~goes_left}))
    return paths


def _column_tables(trees, missing_bin: int) -> dict[int, dict[str, np.ndarray]]:
    """For each column of the trees' matrix that some tree splits on:

    * readers: the trees that split on it, ascending;
    * sides (readers × bin): which side of each reader's thresholds on the column a bin lies (the
      count of thresholds below it; missing values a side of their own). Two bins on the same side
      take the same branch at every node of that tree that splits on the column;
    * stays (readers × node × bin): whether a user in leaf `node` whose bin became `bin` would still
      take the branch of every node on the leaf's path that splits on the column, so still reach
      the leaf (exact where sides only bounds: a threshold off the user's path does not matter)."""
    paths = [_leaf_paths(tree, missing_bin) for tree in trees]
    width = max(len(tree.nodes) for tree in trees) if trees else 0
    columns = sorted({column for tree_paths in paths for path in tree_paths.values() for column in path})
    tables = {}
    for column in columns:
        readers = [index for index, tree_paths in enumerate(paths) if any(column in path for path in tree_paths.values())]
        sides, stays = [], np.ones((len(readers), width, 256), dtype=bool)
        for row, index in enumerate(readers):
            nodes = trees[index].nodes
            inner = nodes[(nodes["is_leaf"] == 0) & (nodes["feature_idx"] == column)]
            side = np.searchsorted(np.unique(inner["bin_threshold"]), np.arange(256), side="left")
            side[missing_bin] = 255
            sides.append(side)
            for leaf, path in paths[index].items():
                stays[row, leaf] = path.get(column, True)
        tables[column] = {"readers": np.array(readers, dtype=np.intp), "sides": np.vstack(sides).astype(np.uint8),
                          "stays": stays}
    return tables


class ForestOcclusion:
    """predict(batch, occluded) of v3 or v4 for occlusion_contributions (batch columns: V3_BASE_FEATURES).
    Built once per explanation: the tables describe the trees; the batch's own pass resets the rest."""

    def __init__(self, state: dict, horizon_days: int, combine: Callable):
        self.state, self.horizon_days, self.combine = state, horizon_days, combine
        self.forest = BinnedForest(state["model"])
        self.tables = _column_tables(self.forest.trees, self.forest.missing_bin)
        self.values = [tree.nodes["value"] for tree in self.forest.trees]
        width = len(V3_BASE_FEATURES) + (len(V2_OUTPUT_COLUMNS) + 1 if state["v2_state"] is not None else 0)
        kept = state.get("kept_columns", np.ones(width, dtype=bool))
        # Position of each full-matrix column in the trees' matrix (-1: dropped as constant).
        self.position = np.where(kept, np.cumsum(kept) - 1, -1)
        self.own = None  # the unoccluded batch: v2's outputs, bins, each tree's leaf, raw sum, prediction

    def _v2_outputs(self, batch: np.ndarray) -> pd.DataFrame | None:
        if self.state["v2_state"] is None:
            return None
        return _predict_v2(self.state["v2_state"], v2_frame(batch, V3_BASE_FEATURES), self.horizon_days)

    def __call__(self, batch: np.ndarray, occluded: int | None) -> np.ndarray:
        if occluded is None:
            return self._own_pass(batch)
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

    def _own_pass(self, batch: np.ndarray) -> np.ndarray:
        """The users as they are: each tree's leaf is kept for the occluded passes."""
        v2_outputs = self._v2_outputs(batch)
        binned = self.forest.bin(_tree_features(self.state, batch, v2_outputs))
        leaves = np.empty((len(self.values), len(batch)), dtype=np.uint16)
        raw = np.full(len(batch), self.forest.baseline)
        # Summed tree by tree from the baseline, as scikit-learn does, so the result is the model's own.
        for tree, values in enumerate(self.values):
            leaves[tree] = self.forest.leaves(binned, tree)
            raw += values[leaves[tree]]
        prediction = self.combine(self.state, self.forest.to_prediction(raw), v2_outputs)
        self.own = {"v2_outputs": v2_outputs, "binned": binned, "leaves": leaves, "raw": raw,
                    "prediction": prediction, "sides": {}}
        return prediction

    def _v2_bins(self, v2_outputs: pd.DataFrame) -> dict[int, np.ndarray]:
        """The bins of v2's outputs the trees read, by their position in the trees' matrix."""
        names = [*V2_OUTPUT_COLUMNS, "predicted_spend"]
        positions = self.position[len(V3_BASE_FEATURES):]
        return {int(position): self.forest.bin_column(v2_outputs[name].to_numpy(dtype=float), int(position))
                for name, position in zip(names, positions, strict=True) if position >= 0}

    def _raw(self, changed: dict[int, np.ndarray]) -> np.ndarray:
        """The summed raw score with these columns' bins replaced (one bin per user, or one for all).
        A tree is evaluated again only for the users whose path through it may change; everyone
        else keeps their leaf, and so their raw score exactly (trees added in the same order)."""
        own = self.own
        binned = own["binned"].copy()
        moved_by_tree: dict[int, list[np.ndarray]] = {}
        for position, bins in changed.items():
            binned[:, position] = bins
            if position in self.tables:
                moved = self._moved(position, bins)
                for row, tree in enumerate(self.tables[position]["readers"].tolist()):
                    moved_by_tree.setdefault(tree, []).append(moved[row])
        raw = own["raw"].copy()
        for tree in sorted(moved_by_tree):
            rows = moved_by_tree[tree]
            users = np.flatnonzero(rows[0] if len(rows) == 1 else np.logical_or.reduce(rows))
            if users.size:
                values = self.values[tree]
                raw[users] += self.forest.output(binned[users], tree) - values[own["leaves"][tree, users]]
        return raw

    def _moved(self, position: int, bins: np.ndarray) -> np.ndarray:
        """readers × users: whose branch may change in each tree splitting on the column. One bin for
        all (an occluded feature): exactly the users whose own path it leaves, from the leaf they are
        in. A bin per user (v2's outputs): those whose bin crossed one of the tree's thresholds,
        cheaper to find per user and a superset (the threshold may be off their path)."""
        table = self.tables[position]
        if len(bins) == 1:
            leaves = self.own["leaves"][table["readers"]]
            return ~np.take_along_axis(table["stays"][:, :, bins[0]], leaves.astype(np.intp), axis=1)
        own_sides = self.own["sides"]
        if position not in own_sides:  # compared with once for each of v2's five inputs
            own_sides[position] = np.take(table["sides"], self.own["binned"][:, position], axis=1)
        # take() keeps each tree's row contiguous, which fancy indexing does not.
        return np.take(table["sides"], bins, axis=1) != own_sides[position]


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
