"""A fitted HistGradientBoostingRegressor evaluated tree by tree on binned features.

scikit-learn's predict walks each tree on the raw float64 features; the same trees walked on the
features mapped to the model's own bins (one byte each, as the trees were grown on) land in the same
leaves, since a node sends a value left exactly when its bin is at most the node's bin threshold
(thresholds are bin edges). On a million users that is 1.7 times less CPU for v3's 200 trees, and
the occlusion of explanations (tree_occlusion.py) needs the trees one by one anyway. The sums are
walked by tree_kernels in one compiled pass (about half the CPU of predict_binned tree by tree).

predict() sums the trees from the baseline in scikit-learn's order and applies the same link, so it
returns the model's own predictions bit for bit (tests/python/test_user_value_forest.py). It reaches
into scikit-learn's private attributes (_predictors, _bin_mapper, _baseline_prediction, _loss;
scikit-learn is pinned); where they are missing, or the model has categorical features, building a
BinnedForest raises AttributeError and the callers use the model's public predict.
"""

from __future__ import annotations

import numpy as np

from ltv.user_value.constants import BOOSTING_PARALLEL_MIN_ROWS, BOOSTING_THREADS
from ltv.user_value.tree_kernels import pack_trees, raw_scores


def boosting_threads(rows: int):
    """The OpenMP thread limit of a boosting fit or predict on `rows` rows, as a context:
    BOOSTING_THREADS from BOOSTING_PARALLEL_MIN_ROWS rows up, one below (the same trees either way).
    OpenMP only: BLAS stays at the one thread the dbt process sets for every model
    (ltv.dbt_entrypoints), which a limit on every library would change for the models running
    beside this one."""
    from threadpoolctl import threadpool_limits

    threads = BOOSTING_THREADS if rows >= BOOSTING_PARALLEL_MIN_ROWS else 1
    return threadpool_limits(limits=threads, user_api="openmp")


class BinnedForest:
    """The trees of one regression model, their bins, baseline and inverse link."""

    def __init__(self, model):
        mapper = model._bin_mapper
        if mapper.is_categorical_ is not None and np.any(mapper.is_categorical_):
            raise AttributeError("categorical features are binned differently")
        self.trees = [predictors[0] for predictors in model._predictors]  # one tree per iteration
        self.thresholds = mapper.bin_thresholds_
        self.missing_bin = mapper.missing_values_bin_idx_
        self.baseline = float(np.ravel(model._baseline_prediction)[0])
        self.inverse_link = model._loss.link.inverse
        self._leaf_finders = None
        self._packed = None

    def bin(self, features: np.ndarray) -> np.ndarray:
        """The features as the trees see them: users × columns of uint8 bins, row-major (so that a
        subset of users is one contiguous gather)."""
        binned = np.empty(features.shape, dtype=np.uint8)
        for column in range(features.shape[1]):
            binned[:, column] = self.bin_column(features[:, column], column)
        return binned

    def bin_column(self, values: np.ndarray, column: int) -> np.ndarray:
        """One column's bins as the model's bin mapper makes them (the first threshold at or above
        the value; missing values to the missing bin), in numpy: the mapper's transform runs OpenMP
        threads, which the dbt process keeps at one per model."""
        values = np.asarray(values, dtype=np.float64)
        bins = np.searchsorted(self.thresholds[column], values, side="left")
        bins[np.isnan(values)] = self.missing_bin
        return bins.astype(np.uint8)

    def leaves(self, binned: np.ndarray, tree: int) -> np.ndarray:
        """The node index of each user's leaf in one tree: the tree walked with each leaf holding its
        own index in place of its value (tree.nodes["value"][leaves] is the tree's output)."""
        if self._leaf_finders is None:
            from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

            self._leaf_finders = []
            for predictor in self.trees:
                nodes = predictor.nodes.copy()
                nodes["value"] = np.arange(len(nodes))
                self._leaf_finders.append(
                    TreePredictor(nodes, predictor.binned_left_cat_bitsets, predictor.raw_left_cat_bitsets))
        return self._leaf_finders[tree].predict_binned(binned, self.missing_bin, 1).astype(np.uint16)

    def output(self, binned: np.ndarray, tree: int) -> np.ndarray:
        """One tree's raw output per user (one thread: the dbt process runs models side by side)."""
        return self.trees[tree].predict_binned(binned, self.missing_bin, 1)

    def outputs(self, binned: np.ndarray) -> np.ndarray:
        """users × trees, column-major so that one tree's outputs are contiguous to read back."""
        outputs = np.empty((len(binned), len(self.trees)), order="F")
        for tree in range(len(self.trees)):
            outputs[:, tree] = self.output(binned, tree)
        return outputs

    @property
    def packed(self) -> dict[str, np.ndarray]:
        """The trees as tree_kernels walks them, packed once."""
        if self._packed is None:
            self._packed = pack_trees(self.trees)
        return self._packed

    def raw(self, binned: np.ndarray) -> np.ndarray:
        """The summed raw score without keeping each tree's output (tree_kernels: the same sums as
        adding predict_binned's outputs tree by tree, in one compiled pass)."""
        return raw_scores(self.packed, binned, self.missing_bin, self.baseline)

    def predict_raw(self, outputs: np.ndarray) -> np.ndarray:
        # Summed tree by tree from the baseline, as scikit-learn does, so the result is the model's own.
        raw = np.full(len(outputs), self.baseline)
        for index in range(outputs.shape[1]):
            raw += outputs[:, index]
        return raw

    def to_prediction(self, raw: np.ndarray) -> np.ndarray:
        """The model's prediction from the raw score, floored at 0 as the versions serve trees."""
        return np.maximum(self.inverse_link(raw), 0.0)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """model.predict(features), floored at 0."""
        return self.to_prediction(self.raw(self.bin(features)))


def predict_floored(model, features: np.ndarray) -> np.ndarray:
    """max(model.predict(features), 0) through the binned trees where they can be reached."""
    try:
        forest = BinnedForest(model)
    except AttributeError:  # a scikit-learn whose trees are kept elsewhere: its own predict
        with boosting_threads(len(features)):
            return np.maximum(model.predict(features), 0.0)
    return forest.predict(features)
