"""The trees walked on binned features (ltv.user_value.forest) give scikit-learn's own predictions bit
for bit, and the bins are the model's bin mapper's, missing values and edge values included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from ltv.user_value.forest import BinnedForest, predict_floored


@pytest.fixture(scope="module")
def data():
    generator = np.random.default_rng(7)
    features = generator.normal(size=(3000, 5))
    features[:, 1] = np.round(features[:, 1] * 3)  # few distinct values: thresholds fall on them
    features[generator.random(3000) < 0.1, 2] = np.nan  # missing values, routed by the trees
    label = np.exp(0.5 * np.nan_to_num(features[:, 0]) + 0.2 * features[:, 1]) * generator.gamma(2, 1, 3000)
    return features, label


@pytest.mark.parametrize("loss", ["poisson", "squared_error"])
def test_binned_forest_predicts_exactly_what_scikit_learn_predicts(data, loss):
    features, label = data
    model = HistGradientBoostingRegressor(loss=loss, max_iter=60, max_leaf_nodes=15, random_state=0,
                                          early_stopping=False).fit(features, label)
    # New users: values beyond the training range, exactly on bin edges, missing where none were.
    scoring = np.random.default_rng(8).normal(scale=2.0, size=(2000, 5))
    scoring[:50, 1] = model._bin_mapper.bin_thresholds_[1][:1]
    scoring[50:60] = np.inf
    scoring[60:70, 4] = np.nan
    scoring[70:80, 0] = -np.inf
    for matrix in (features, scoring):
        expected = np.maximum(model.predict(matrix), 0.0)
        np.testing.assert_array_equal(BinnedForest(model).predict(matrix), expected)
        np.testing.assert_array_equal(predict_floored(model, matrix), expected)


def test_bins_are_the_bin_mappers(data):
    features, label = data
    model = HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(features, label)
    forest = BinnedForest(model)
    for index, edges in enumerate(model._bin_mapper.bin_thresholds_):
        values = np.zeros((len(edges) * 2 + 203, features.shape[1]))
        values[:, index] = np.concatenate([features[:200, index], edges, np.nextafter(edges, np.inf),
                                           [np.nan, np.inf, -np.inf]])
        np.testing.assert_array_equal(forest.bin(values), model._bin_mapper.transform(values))


def test_a_model_without_reachable_trees_falls_back_to_its_own_predict(data):
    features, label = data
    model = HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(features, label)

    class Opaque:  # a scikit-learn that keeps its trees elsewhere
        def predict(self, matrix):
            return model.predict(matrix) - 100.0

    with pytest.raises(AttributeError):
        BinnedForest(Opaque())
    np.testing.assert_array_equal(predict_floored(Opaque(), features), np.maximum(model.predict(features) - 100.0, 0))


def test_leaves_are_where_the_outputs_come_from(data):
    features, label = data
    model = HistGradientBoostingRegressor(max_iter=20, max_leaf_nodes=31, random_state=0).fit(features, label)
    forest = BinnedForest(model)
    binned = forest.bin(features)
    for tree in range(len(forest.trees)):
        leaves = forest.leaves(binned, tree)
        assert forest.trees[tree].nodes["is_leaf"][leaves].all()
        np.testing.assert_array_equal(forest.trees[tree].nodes["value"][leaves], forest.output(binned, tree))


def test_a_user_stays_in_their_leaf_exactly_when_the_path_tables_say_so(data):
    """tree_kernels' path tables against walking the tree again with every possible bin of a column."""
    from ltv.user_value.tree_kernels import path_tables

    features, label = data
    model = HistGradientBoostingRegressor(max_iter=4, max_leaf_nodes=31, random_state=0).fit(features, label)
    forest = BinnedForest(model)
    tables = path_tables(forest.trees, forest.missing_bin, features.shape[1])
    binned = forest.bin(features[:40])
    checked = 0
    for tree in range(len(forest.trees)):
        own = forest.leaves(binned, tree)
        read = set(forest.trees[tree].nodes["feature_idx"][forest.trees[tree].nodes["is_leaf"] == 0].tolist())
        for column in range(features.shape[1]):
            pair = tables["pair_index"][tree, column]
            assert (pair >= 0) == (column in read)  # a pair exactly where the tree splits on the column
            if pair < 0:
                continue
            for new_bin in range(256):
                moved = binned.copy()
                moved[:, column] = new_bin
                stays = forest.leaves(moved, tree) == own
                np.testing.assert_array_equal(tables["stays"][pair, own, new_bin], stays)
                checked += 1
    assert checked > 0
