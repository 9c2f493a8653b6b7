"""Each user's top-n items by score(u, j) = sum over i of r(u, i) * sim(i, j), in one compiled pass.

recommend.py used to build the sparse product R @ S for blocks of users and select from it: at
1,000,000 users that is 176M (v1, v2) to 784M (v3) candidate scores, written out, rounded, bucketed
and sorted, and then a second pass of binary searches for the because items. Here each user's row
of the product lives only in a dense per-thread accumulator over the items and goes straight into
a top-n list, so nothing per candidate is stored (large shop, v3's scoring: 57 -> 22 CPU-s).

sparse_dot_topn (a fused product + top-n) was measured first: as fast as this pass on its own
(v3, 200,000 users: 4.5 CPU-s for its top 20 against 4.3 for this pass with everything), but it
ranks unrounded sums with no item-id tie-break, keeps one n for all rows (a user owning o items
needs n + o) and has no because item; exact answers would need per-row re-checks, a fallback for
users tied at the cut, and the because look-ups on top, which cost more than the pass itself.

The result is the one the sparse product gave, to the bit: each sum adds r(u, i) * sim(i, j) in
the order scipy's product does (the user's entries in stored order, each similarity row in stored
order, starting from 0), and the rounding is numpy's (multiply by 10**decimals, rint, divide).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sparse

from ltv.compiled import compiled

# Output slots (users x top_n) per block: a block's memory is about 24 bytes a slot.
MAX_SLOTS_PER_BLOCK = 2_000_000


@compiled
def _position(indices, start, end, value):
    """Position of value in the sorted indices[start:end], or -1."""
    low, high = start, end
    while low < high:
        middle = (low + high) // 2
        if indices[middle] < value:
            low = middle + 1
        else:
            high = middle
    return low if low < end and indices[low] == value else -1


@compiled
def _accumulate(user, r_indptr, r_indices, r_data, s_indptr, s_indices, s_data, sums, seen, touched):
    """Fill sums[j] with the user's score of every item j reached; returns how many were reached
    (their codes in touched[:count], each marked in seen, which the caller clears)."""
    count = 0
    for entry in range(r_indptr[user], r_indptr[user + 1]):
        item = r_indices[entry]
        strength = r_data[entry]
        for neighbour in range(s_indptr[item], s_indptr[item + 1]):
            j = s_indices[neighbour]
            if not seen[j]:
                seen[j] = True
                sums[j] = strength * s_data[neighbour]  # scipy's 0 + x: the same, but for a -0.0 never kept
                touched[count] = j
                count += 1
            else:
                sums[j] += strength * s_data[neighbour]
    return count


@compiled
def _insert(items, scores, count, top_n, item, score):
    """Insert (item, score), which makes the list, keeping its order; returns the new count."""
    position = count - 1 if count == top_n else count
    count = max(count, position + 1)
    while position > 0 and (score > scores[position - 1]
                            or (score == scores[position - 1] and item < items[position - 1])):
        items[position] = items[position - 1]
        scores[position] = scores[position - 1]
        position -= 1
    items[position] = item
    scores[position] = score
    return count


@compiled
def _because(user, item, r_indptr, r_indices, r_data, s_indptr, s_indices, s_data):
    """The user's item i with the largest r(u, i) * sim(i, item), the first in stored order on ties
    (ascending codes: the smaller id)."""
    best, best_item = 0.0, -1
    for entry in range(r_indptr[user], r_indptr[user + 1]):
        source = r_indices[entry]
        position = _position(s_indices, s_indptr[source], s_indptr[source + 1], item)
        contribution = r_data[entry] * s_data[position] if position >= 0 else 0.0
        if best_item < 0 or contribution > best:
            best, best_item = contribution, source
    return best_item


@compiled
def _score_block(start, end, r_indptr, r_indices, r_data, s_indptr, s_indices, s_data,
                 o_indptr, o_indices, top_n, scale, out_items, out_scores, out_because, out_counts):
    """Users start..end-1: their top_n items (rounded score > 0, not owned) into the out arrays at
    top_n slots per user, how many each got into out_counts."""
    n_items = s_indptr.size - 1
    sums = np.zeros(n_items)
    # One byte a flag, not a stamp of 8: sums and flags together stay within a core's L2 cache.
    seen = np.zeros(n_items, np.bool_)
    touched = np.empty(n_items, np.int64)
    for user in range(start, end):
        reached = _accumulate(user, r_indptr, r_indices, r_data, s_indptr, s_indices, s_data, sums, seen, touched)
        base = (user - start) * top_n
        items, scores = out_items[base:base + top_n], out_scores[base:base + top_n]
        count = 0
        for t in range(reached):
            j = touched[t]
            seen[j] = False
            score = np.rint(sums[j] * scale) / scale
            # Owned items are looked up last: most candidates already fail the list's last place.
            # (Comparisons inline, not a call: a call passing arrays costs two atomic reference
            # counts per candidate.)
            if not score > 0 or (count == top_n and (score < scores[count - 1] or (
                    score == scores[count - 1] and j > items[count - 1]))):
                continue
            if _position(o_indices, o_indptr[user], o_indptr[user + 1], j) >= 0:
                continue
            count = _insert(items, scores, count, top_n, j, score)
        out_counts[user - start] = count
        for slot in range(count):
            out_because[base + slot] = _because(user, items[slot], r_indptr, r_indices, r_data,
                                                s_indptr, s_indices, s_data)


def _csr_parts(matrix, sorted_rows: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data) as int64, int64, float64: one signature, compiled once."""
    matrix = sparse.csr_array(matrix)
    if sorted_rows and not matrix.has_sorted_indices:
        matrix = matrix.sorted_indices()
    return (matrix.indptr.astype(np.int64, copy=False), matrix.indices.astype(np.int64, copy=False),
            matrix.data.astype(np.float64, copy=False))


def top_n_per_user(strengths, similarity, owned, top_n: int, chunk_users: int, decimals: int,
                   threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user codes, item codes, scores, because codes): per user in code order, the top_n items j
    with round(score(u, j), decimals) > 0 that the user does not own, by rounded score descending
    and item code ascending; because = the item i with the largest r(u, i) * sim(i, j) (smaller code
    on ties).

    strengths: users x items r(u, i); similarity: items x items sim(i, j); owned: users x items,
    any stored entry meaning owned. Blocks of at most chunk_users users run on `threads` threads;
    neither changes the result.
    """
    n_users = strengths.shape[0]
    if top_n <= 0 or n_users == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0), empty
    r_parts = _csr_parts(strengths, sorted_rows=False)
    s_parts = _csr_parts(similarity, sorted_rows=True)
    o_indptr, o_indices, _ = _csr_parts(owned, sorted_rows=True)
    scale = 10.0 ** decimals
    rows = max(1, min(chunk_users, MAX_SLOTS_PER_BLOCK // top_n))

    def block(start: int):
        end = min(start + rows, n_users)
        items, because = np.empty((end - start) * top_n, np.int64), np.empty((end - start) * top_n, np.int64)
        scores, counts = np.empty((end - start) * top_n), np.empty(end - start, np.int64)
        _score_block(start, end, *r_parts, *s_parts, o_indptr, o_indices, top_n, scale, items, scores,
                     because, counts)
        filled = (np.arange(top_n) < counts[:, None]).reshape(-1)
        return np.repeat(np.arange(start, end, dtype=np.int64), counts), items[filled], scores[filled], because[filled]

    # The compiled pass releases the GIL, so threads use the cores; map keeps block order.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(pool.map(block, range(0, n_users, rows)))
    users, items, scores, because = (np.concatenate(column) for column in zip(*parts, strict=True))
    return users, items, scores, because
