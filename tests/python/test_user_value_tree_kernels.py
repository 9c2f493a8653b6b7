"""The compiled tree walks (ltv.user_value.tree_kernels) against scikit-learn's own per-tree walk:
the same leaves, and raw scores equal to the last bit to the sums the numpy path made, for the users'
own features and with columns replaced (one bin for all, one bin per user, missing bins, columns no
tree reads, trees that are a single leaf)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from ltv.user_value.forest import BinnedForest
from ltv.user_value.tree_kernels import occluded_raw, own_leaves, pack_trees, path_tables, raw_scores


@pytest.fixture(scope="module")
def data():
    generator = np.random.default_rng(11)
    features = generator.normal(size=(2500, 6))
    features[:, 1] = np.round(features[:, 1] * 3)
    features[generator.random(2500) < 0.15, 2] = np.nan  # missing values, routed by each node's default
    features[:, 5] = 1.0  # a column no tree can split on
    label = np.exp(0.5 * np.nan_to_num(features[:, 0]) + 0.2 * features[:, 1]) * generator.gamma(2, 1, 2500)
    return features, label


def _forest(features, label, **parameters) -> BinnedForest:
    model = HistGradientBoostingRegressor(random_state=0, early_stopping=False, **parameters).fit(features, label)
    return BinnedForest(model)


def _numpy_leaves_and_raw(forest: BinnedForest, binned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The numpy path: scikit-learn's walk tree by tree, summed from the baseline in tree order."""
    leaves = np.column_stack([forest.leaves(binned, tree) for tree in range(len(forest.trees))])
    raw = np.full(len(binned), forest.baseline)
    for tree in range(len(forest.trees)):
        raw += forest.output(binned, tree)
    return leaves, raw


def _numpy_occluded(forest, binned, own_leaves_, own_raw, changed) -> np.ndarray:
    """What tree_occlusion summed before the kernel: the own raw score plus, tree by tree in order,
    (new leaf's value - old leaf's value) for the users whose leaf the replaced bins change."""
    moved = binned.copy()
    for column, bins in changed.items():
        moved[:, column] = bins
    raw = own_raw.copy()
    for tree in range(len(forest.trees)):
        values = forest.trees[tree].nodes["value"]
        new = forest.leaves(moved, tree)
        users = np.flatnonzero(new != own_leaves_[:, tree])
        raw[users] += values[new[users]] - values[own_leaves_[users, tree]]
    return raw


@pytest.mark.parametrize("parameters", [
    {"loss": "poisson", "max_iter": 40, "max_leaf_nodes": 7},
    {"loss": "squared_error", "max_iter": 25, "max_leaf_nodes": 31, "min_samples_leaf": 5},
])
def test_own_pass_is_scikit_learns_walk_to_the_bit(data, parameters):
    features, label = data
    forest = _forest(features, label, **parameters)
    scoring = np.random.default_rng(12).normal(scale=2.0, size=(1500, features.shape[1]))
    scoring[:40] = np.nan  # every column missing
    scoring[40:60] = np.inf
    for matrix in (features, scoring):
        binned = forest.bin(matrix)
        leaves, raw = own_leaves(forest.packed, binned, forest.missing_bin, forest.baseline)
        expected_leaves, expected_raw = _numpy_leaves_and_raw(forest, binned)
        np.testing.assert_array_equal(leaves, expected_leaves)
        np.testing.assert_array_equal(raw, expected_raw)
        np.testing.assert_array_equal(raw_scores(forest.packed, binned, forest.missing_bin, forest.baseline),
                                      expected_raw)


@pytest.mark.parametrize("parameters", [
    {"loss": "poisson", "max_iter": 40, "max_leaf_nodes": 7},
    {"loss": "squared_error", "max_iter": 25, "max_leaf_nodes": 31, "min_samples_leaf": 5},
])
def test_occluded_raw_is_the_numpy_paths_to_the_bit(data, parameters):
    features, label = data
    forest = _forest(features, label, **parameters)
    binned = forest.bin(features[:800])
    tables = path_tables(forest.trees, forest.missing_bin, features.shape[1])
    leaves, raw = own_leaves(forest.packed, binned, forest.missing_bin, forest.baseline)
    generator = np.random.default_rng(13)
    per_user = generator.integers(0, 256, size=len(binned)).astype(np.uint8)  # the missing bin among them
    cases = [
        {0: np.array([binned[0, 0]], dtype=np.uint8)},  # one bin for all, an own user's bin
        {2: np.array([forest.missing_bin], dtype=np.uint8)},  # everyone missing
        {1: per_user},
        {1: np.where(generator.random(len(binned)) < 0.5, binned[:, 1], per_user)},  # half keep their own bin
        {0: np.array([3], dtype=np.uint8), 1: per_user, 2: np.roll(per_user, 1), 3: np.roll(per_user, 2)},
        {5: per_user},  # no tree reads it: nothing moves
    ]
    for changed in cases:
        computed = occluded_raw(forest.packed, tables, binned, leaves, raw, forest.missing_bin, changed)
        np.testing.assert_array_equal(computed, _numpy_occluded(forest, binned, leaves, raw, changed))
        # And it is the model's own raw score of the replaced matrix (summed afresh: to rounding).
        moved = binned.copy()
        for column, bins in changed.items():
            moved[:, column] = bins
        np.testing.assert_allclose(computed, _numpy_leaves_and_raw(forest, moved)[1], rtol=1e-12, atol=1e-12)
    assert not np.array_equal(occluded_raw(forest.packed, tables, binned, leaves, raw, forest.missing_bin,
                                           cases[2]), raw)  # the check would be empty if nothing moved


def test_single_leaf_trees(data):
    """A tree that could not split is one leaf (node 0): every user lands there, occluded or not."""
    features, label = data
    forest = _forest(features, label, max_iter=3, min_samples_leaf=len(features))
    assert all(len(tree.nodes) == 1 for tree in forest.trees)
    binned = forest.bin(features[:100])
    leaves, raw = own_leaves(forest.packed, binned, forest.missing_bin, forest.baseline)
    np.testing.assert_array_equal(leaves, 0)
    np.testing.assert_array_equal(raw, _numpy_leaves_and_raw(forest, binned)[1])
    tables = path_tables(forest.trees, forest.missing_bin, features.shape[1])
    assert (tables["pair_index"] < 0).all()
    changed = {0: np.zeros(len(binned), dtype=np.uint8)}
    np.testing.assert_array_equal(occluded_raw(forest.packed, tables, binned, leaves, raw, forest.missing_bin,
                                               changed), raw)


def test_trees_of_different_sizes_pack_side_by_side(data):
    """Packed trees share one width; a smaller tree's unused tail is never reached."""
    features, label = data
    forest = _forest(features, label, max_iter=30, max_leaf_nodes=31, min_samples_leaf=200)
    sizes = {len(tree.nodes) for tree in forest.trees}
    assert len(sizes) > 1
    packed = pack_trees(forest.trees)
    assert packed["value"].shape == (len(forest.trees), max(sizes))
    binned = forest.bin(features)
    np.testing.assert_array_equal(own_leaves(packed, binned, forest.missing_bin, forest.baseline)[0],
                                  _numpy_leaves_and_raw(forest, binned)[0])
