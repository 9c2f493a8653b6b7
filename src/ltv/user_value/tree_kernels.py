"""The boosted trees walked on binned features in one compiled pass per batch of users.

BinnedForest walks one tree at a time through scikit-learn's predict_binned, and the occlusion of
explanations (tree_occlusion.py) then gathered the moved users of each tree, walked them again and
scattered the differences back: at a million users that bookkeeping cost more than the walks (large
shop, v3's explanations: 26 CPU-s in the occluded passes, 8 in the users' own pass). Here a user's
trees are walked in one loop that keeps the running sum in a register:

* own_leaves: every tree for every user: each tree's leaf (trees × users) and the summed raw score
  (raw_scores: the sum alone, for predictions);
* occluded_raw: the raw score with some columns' bins replaced, starting from the user's own raw
  score and re-walking only the trees whose path the new bins leave. Whether they do is one look-up
  per changed column the tree splits on (path_tables: for a tree, a column and the leaf a user is in,
  which bins keep every node of the leaf's path that splits on the column on its branch); the leaf
  is reached again exactly when every changed column keeps it.

Exactness: a node sends a bin left exactly as scikit-learn's predict_binned does (the missing bin by
the node's missing_go_to_left, any other by bin <= bin_threshold), so the leaves are the same; the
sums add the same float64 values in the same order (from the baseline, tree by tree; an occluded
user's own raw score plus (new leaf's value - old leaf's value) for each moved tree, ascending),
so the raw scores are the same to the last bit (tests/python/test_user_value_tree_kernels.py).
"""

from __future__ import annotations

import numba
import numpy as np

from ltv.compiled import compiled


def pack_trees(trees) -> dict[str, np.ndarray]:
    """scikit-learn's per-tree node records as the kernels read them: nodes (trees × width × 4 int32:
    the column split on, -1 at a leaf; the bin threshold, plus 256 where missing values go left; the
    left and the right child) and value (trees × width). width is the most nodes of a tree; the tail
    of a smaller tree is never reached. One record per node keeps a step of the walk in one cache line."""
    width = max((len(tree.nodes) for tree in trees), default=1)
    nodes = np.zeros((len(trees), width, 4), dtype=np.int32)
    nodes[:, :, 0] = -1
    value = np.zeros((len(trees), width))
    for index, tree in enumerate(trees):
        records, count = tree.nodes, len(tree.nodes)
        nodes[index, :count, 0] = np.where(records["is_leaf"] != 0, -1, records["feature_idx"])
        nodes[index, :count, 1] = (records["bin_threshold"].astype(np.int32)
                                   + 256 * (records["missing_go_to_left"] != 0))
        nodes[index, :count, 2] = records["left"]
        nodes[index, :count, 3] = records["right"]
        value[index, :count] = records["value"]
    return {"nodes": nodes, "value": value}


@numba.njit(inline="always")
def _goes_left(bin_value, record, missing_bin):
    """scikit-learn's predict_binned: the missing bin by the node's default, any other by threshold."""
    if bin_value == missing_bin:
        return record >= 256
    return bin_value <= (record & 255)


@numba.njit(inline="always")
def _leaf(binned, user, nodes, tree, missing_bin):
    """The leaf the user reaches in the tree."""
    node = 0
    while True:
        column = nodes[tree, node, 0]
        if column < 0:
            return node
        left = _goes_left(binned[user, column], nodes[tree, node, 1], missing_bin)
        node = nodes[tree, node, 2] if left else nodes[tree, node, 3]


@numba.njit(inline="always")
def _leaf_replaced(binned, user, nodes, tree, missing_bin, slot, bins):
    """The leaf the user reaches in the tree with column c's bin replaced by bins[slot[c], user]
    wherever slot[c] >= 0."""
    node = 0
    while True:
        column = nodes[tree, node, 0]
        if column < 0:
            return node
        replaced = slot[column]
        bin_value = binned[user, column] if replaced < 0 else bins[replaced, user]
        left = _goes_left(bin_value, nodes[tree, node, 1], missing_bin)
        node = nodes[tree, node, 2] if left else nodes[tree, node, 3]


# The kernels go tree by tree over every user (the tree's records stay in cache), each user's running
# sum in raw: for one user that adds the same values in the same order as summing user by user.
@compiled
def _raw_scores(binned, nodes, value, missing_bin, baseline, raw):
    raw[:] = baseline
    for tree in range(nodes.shape[0]):
        for user in range(binned.shape[0]):
            raw[user] += value[tree, _leaf(binned, user, nodes, tree, missing_bin)]


def raw_scores(packed: dict, binned: np.ndarray, missing_bin: int, baseline: float) -> np.ndarray:
    """The summed raw score of every user (own_leaves without keeping the leaves)."""
    raw = np.empty(len(binned))
    _raw_scores(np.ascontiguousarray(binned, dtype=np.uint8), packed["nodes"], packed["value"], missing_bin,
                float(baseline), raw)
    return raw


@compiled
def _own_leaves(binned, nodes, value, missing_bin, baseline, leaves, raw):
    # User by user (the leaves row-major, as the occluded passes read them), trees in order.
    for user in range(binned.shape[0]):
        total = baseline
        for tree in range(nodes.shape[0]):
            leaf = _leaf(binned, user, nodes, tree, missing_bin)
            leaves[user, tree] = leaf
            total += value[tree, leaf]
        raw[user] = total


def own_leaves(packed: dict, binned: np.ndarray, missing_bin: int, baseline: float) -> tuple[np.ndarray, np.ndarray]:
    """(users × trees: the node index of each user's leaf in each tree, the summed raw score)."""
    binned = np.ascontiguousarray(binned, dtype=np.uint8)
    leaves = np.empty((len(binned), len(packed["value"])), dtype=np.uint16)
    raw = np.empty(len(binned))
    _own_leaves(binned, packed["nodes"], packed["value"], missing_bin, float(baseline), leaves, raw)
    return leaves, raw


@compiled
def _occluded_raw(binned, leaves, own_raw, nodes, value, missing_bin, candidates, leaf_moves, pairs, stay_bits, slot,
                  bins, per_user, columns, raw):
    # User by user: the user's bins and leaves stay in cache while their trees are walked again.
    active = np.empty(per_user.size, dtype=np.intp)
    for user in range(binned.shape[0]):
        # The columns with a bin per user that this user's bin actually changes: the others keep
        # every path, so need no look-up.
        count = 0
        for index in range(per_user.size):
            k = per_user[index]
            if bins[k, user] != binned[user, columns[k]]:
                active[count] = index
                count += 1
        total = own_raw[user]
        for position in range(candidates.size):
            tree = candidates[position]
            leaf = leaves[user, tree]
            moved = leaf_moves[position, leaf]
            for a in range(count):
                if moved:
                    break
                index = active[a]
                pair = pairs[position, index]
                if pair >= 0:
                    bin_value = bins[per_user[index], user]
                    moved = (stay_bits[pair, leaf, bin_value >> 6] >> np.uint64(bin_value & 63)) & np.uint64(1) == 0
            if moved:
                new = _leaf_replaced(binned, user, nodes, tree, missing_bin, slot, bins)
                total += value[tree, new] - value[tree, leaf]
        raw[user] = total


def occluded_raw(packed: dict, tables: dict, binned: np.ndarray, leaves: np.ndarray, own_raw: np.ndarray,
                 missing_bin: int, changed: dict[int, np.ndarray]) -> np.ndarray:
    """The summed raw score with the bins of each column in changed (position in the trees' matrix ->
    one bin per user, or one bin for all) replaced; binned, leaves and own_raw: own_leaves's pass.

    A column with one bin for all moves the same leaves of a tree for every user, found once per
    tree here (leaf_moves); a column with a bin per user is looked up user by user in the kernel."""
    columns = sorted(changed)
    bins = np.empty((len(columns), len(binned)), dtype=np.uint8)
    slot = np.full(binned.shape[1], -1, dtype=np.intp)
    for k, column in enumerate(columns):
        bins[k] = changed[column]  # one bin for all broadcasts
        slot[column] = k
    pair_index, stays = tables["pair_index"], tables["stays"]
    candidates = np.flatnonzero((pair_index[:, columns] >= 0).any(axis=1))
    leaf_moves = np.zeros((len(candidates), stays.shape[1]), dtype=bool)
    per_user = []
    for k, column in enumerate(columns):
        if len(changed[column]) != 1 or len(binned) == 1:
            per_user.append(k)
            continue
        pairs = pair_index[candidates, column]
        reads = pairs >= 0
        leaf_moves[reads] |= ~stays[pairs[reads], :, int(changed[column][0])]
    pairs = np.ascontiguousarray(pair_index[candidates][:, [columns[k] for k in per_user]])
    raw = np.empty(len(binned))
    _occluded_raw(np.ascontiguousarray(binned, dtype=np.uint8), leaves, np.asarray(own_raw, dtype=np.float64),
                  packed["nodes"], packed["value"], missing_bin, candidates.astype(np.intp), leaf_moves, pairs,
                  tables["stay_bits"],
                  slot, bins, np.array(per_user, dtype=np.intp), np.array(columns, dtype=np.intp), raw)
    return raw


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


def path_tables(trees, missing_bin: int, columns: int) -> dict[str, np.ndarray]:
    """What occluded_raw looks up, for each (tree, column) pair where the tree splits on the column:

    * pair_index (trees × columns): the pair's row in stays, -1 where the tree does not split on it;
    * stays (pairs × node × bin): whether a user in leaf `node` whose bin of the column became `bin`
      would still take the branch of every node on the leaf's path that splits on the column;
    * stay_bits: stays packed in bits, pairs × node × 4 words of 64 bins."""
    pair_index = np.full((len(trees), max(columns, 1)), -1, dtype=np.intp)
    width = max((len(tree.nodes) for tree in trees), default=1)
    rows = []
    for index, tree in enumerate(trees):
        paths = _leaf_paths(tree, missing_bin)
        for column in sorted({column for path in paths.values() for column in path}):
            stays = np.ones((width, 256), dtype=bool)
            for leaf, path in paths.items():
                stays[leaf] = path.get(column, True)
            pair_index[index, column] = len(rows)
            rows.append(stays)
    stays = np.stack(rows) if rows else np.ones((1, width, 256), dtype=bool)
    # The same as bits (bin b: bit b % 64 of word b // 64), eight times smaller: the look-ups of a
    # user's trees then stay in the processor's cache.
    stay_bits = np.packbits(stays, axis=-1, bitorder="little").view(np.uint64)
    return {"pair_index": pair_index, "stays": stays, "stay_bits": stay_bits}
