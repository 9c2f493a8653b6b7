"""Each item's top-K content neighbours, exactly, without the items x items product.

The content cosine (content_similarity.py) is sim(i, j) = (S(i, j) + w_t * t(i, j)) / (n_i * n_j):
S the summed weights of the one-hot groups (category, brand, price band) the items share, t the
cosine of their TF-IDF rows. Multiplying the whole item vectors compares every item with every
other of its category: 9,000 pairs per item on a 50,000-item catalogue, 37 s. Most of them cannot
reach the item's top K, and which cannot is known from the groups alone:

* a cell is the set of items sharing a subset G of the groups (all of category, brand and band,
  or category and brand, ..., or nothing); items sharing G score at least S_G / (n_i * n_j);
* lower bound L_i: in every cell of i, the K-th other member in (n ascending, id ascending) order
  scores at least S_G / (n_i * n_that), so i's K-th best score is at least the largest of those;
* an item j without a shared word (t = 0) can only be in i's top K if it is among the first K + 1
  of the cell of exactly the groups it shares with i (the K others before it score at least as
  much, ties to the smaller id): those heads are the structural candidates;
* an item j with shared words must score at least L_i, so in the cell of the groups G it shares,
  t(i, j) >= tau_G(i) = (L_i * n_i * min n of the cell - S_G) / w_t. Above 1 nothing is searched;
  otherwise j shares one of i's words outside its "suffix", the lightest words whose squared
  weights sum to less than tau^2 (sharing only those, t < tau), so a sparse product over the
  other words, restricted to the cell (its columns are (cell, word) pairs), finds every such j.

Candidates are then scored exactly (the words a product skipped are looked up) and cut to the
top K with the same rounding and tie rules as every similarity here. Thresholds are lowered by
SLACK so floating-point error can only add candidates, never lose one. On the generated
catalogue this looks at about 500 pairs per item instead of 9,000.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
import scipy.sparse as sparse

from ltv.similarity import (
    BLOCK_THREADS,
    MAX_PAIRS_PER_BLOCK,
    SIMILARITY_DECIMALS,
    product_row_bounds,
    row_blocks,
    top_k_per_row,
)


@dataclass
class ContentParts:
    """The attribute groups of a catalogue, one row per item (content_similarity.content_parts).

    codes: items x one-hot groups (category, brand, price band) integer codes, -1 where the item
    lacks the value or the catalogue the column; group_weights: each group's weight; text: items x
    terms TF-IDF, each row unit length or empty, None without usable text; text_weight: its weight."""

    codes: np.ndarray
    group_weights: np.ndarray
    text: sparse.csr_matrix | None
    text_weight: float


# Far above floating-point error (~1e-15) and far below any similarity that matters.
SLACK = 1e-9


def item_norms(parts: ContentParts) -> np.ndarray:
    """n_i = sqrt(summed weights of the groups item i has); 0 for an item with none."""
    present = (parts.codes >= 0).astype(np.float64)
    squared = present @ parts.group_weights
    if parts.text is not None:
        squared = squared + parts.text_weight * (np.diff(parts.text.indptr) > 0)
    return np.sqrt(squared)


def shared_weight(parts: ContentParts, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """S(i, j) for each pair: the summed weights of the one-hot groups both items have equal."""
    shared = np.zeros(rows.size)
    for group, weight in enumerate(parts.group_weights):
        codes = parts.codes[:, group]
        if weight > 0 and codes.max(initial=-1) >= 0:
            left = codes[rows]
            shared += np.where((left == codes[columns]) & (left >= 0), weight, 0.0)
    return shared


def pair_scores(parts: ContentParts, norms: np.ndarray, rows, columns, text_cosines) -> np.ndarray:
    """sim(i, j) as the output reports it: rounded, at most 1."""
    scores = (shared_weight(parts, rows, columns) + parts.text_weight * text_cosines) / (norms[rows] * norms[columns])
    return np.minimum(np.round(scores, SIMILARITY_DECIMALS), 1.0)


def text_keys(text: sparse.csr_matrix) -> np.ndarray:
    """row * n_terms + term of each stored entry of a CSR matrix with sorted indices: ascending,
    so an entry is found by binary search."""
    n_terms = max(text.shape[1], 1)
    return np.repeat(np.arange(text.shape[0], dtype=np.int64), np.diff(text.indptr)) * n_terms + text.indices


def text_cosines(text: sparse.csr_matrix, keys: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """t(i, j) = <text_i, text_j> for each pair: each word of i looked up in j's sorted row."""
    lengths = np.diff(text.indptr)[rows]
    pair = np.repeat(np.arange(rows.size), lengths)
    entry = np.repeat(text.indptr[rows] - np.cumsum(lengths) + lengths, lengths) + np.arange(pair.size)
    if keys.size == 0 or entry.size == 0:
        return np.zeros(rows.size)
    wanted = columns[pair].astype(np.int64) * max(text.shape[1], 1) + text.indices[entry]
    found = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    product = np.where(keys[found] == wanted, text.data[entry] * text.data[found], 0.0)
    return np.bincount(pair, weights=product, minlength=rows.size)


class Cells:
    """The cells of one subset G of the groups: items sharing all of G's values (items lacking one
    of them are in none), each cell's members in (n ascending, id ascending) order."""

    def __init__(self, parts: ContentParts, norms: np.ndarray, subset: tuple[int, ...]):
        n_items = norms.size
        self.subset, self.weight = subset, float(parts.group_weights[list(subset)].sum()) if subset else 0.0
        valid = norms > 0
        key = np.zeros(n_items, np.int64)
        for group in subset:  # the codes of G packed into one number (mixed radix)
            codes = parts.codes[:, group]
            valid &= codes >= 0
            key = key * (int(codes.max()) + 1) + codes
        self.cell = np.full(n_items, -1, np.int64)
        if valid.any():
            self.cell[valid] = np.unique(key[valid], return_inverse=True)[1].reshape(-1)
        members = np.flatnonzero(valid)
        self.order = members[np.lexsort((members, norms[members], self.cell[members]))]
        self.size = np.bincount(self.cell[valid], minlength=int(self.cell.max()) + 1)
        self.start = np.cumsum(self.size) - self.size
        position = np.empty(n_items, np.int64)
        position[self.order] = np.arange(self.order.size) - self.start[self.cell[self.order]]
        self.position = position  # an item's place in its cell (undefined outside any cell)

    def lower_bound(self, norms: np.ndarray, top_k: int) -> np.ndarray:
        """S_G / (n_i * n of the K-th other member of i's cell): at least K items score that much
        with i. 0 for items outside a cell or in one with K members or fewer."""
        bound = np.zeros(norms.size)
        if self.weight <= 0 or top_k <= 0:
            return bound
        items = np.flatnonzero(self.cell >= 0)
        items = items[self.size[self.cell[items]] > top_k]
        kth = np.where(self.position[items] >= top_k, top_k - 1, top_k)
        kth_norms = norms[self.order[self.start[self.cell[items]] + kth]]
        bound[items] = self.weight / (norms[items] * kth_norms)
        return bound

    def heads(self, items: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """(item, head) pairs: each item with the first K + 1 members of its cell but itself."""
        items = items[self.cell[items] >= 0]
        counts = np.minimum(self.size[self.cell[items]], top_k + 1)
        rows = np.repeat(items, counts)
        offsets = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        heads = self.order[np.repeat(self.start[self.cell[items]], counts) + offsets]
        keep = heads != rows
        return rows[keep], heads[keep]


def _same_partition(smaller: Cells, larger: Cells) -> bool:
    """Whether a subset's cells equal those of a superset (whose cells can only split them)."""
    return smaller.size.size == larger.size.size and bool(np.array_equal(smaller.cell >= 0, larger.cell >= 0))


class TextSearch:
    """For one subset G: a sparse product finding, for each item i that needs it, every j of i's
    cell whose text reaches tau_G(i) (with other pairs sharing one of i's searched words)."""

    def __init__(self, parts: ContentParts, norms: np.ndarray, cells: Cells, tau: np.ndarray,
                 ascending: np.ndarray, squared_sums: np.ndarray):
        text = parts.text
        entry_rows = np.repeat(np.arange(text.shape[0]), np.diff(text.indptr))
        in_cell = cells.cell[entry_rows] >= 0
        # Columns are (cell, word) pairs, so the product only meets items of the same cell.
        _, columns = np.unique(cells.cell[entry_rows[in_cell]] * text.shape[1] + text.indices[in_cell],
                               return_inverse=True)
        columns = columns.reshape(-1)
        shape = (text.shape[0], int(columns.max(initial=-1)) + 1)
        self.right_t = sparse.csr_matrix((text.data[in_cell], (entry_rows[in_cell], columns)), shape=shape).T.tocsr()
        # The suffix: per row, the lightest words while their squared weights sum to less than tau^2.
        suffix = np.zeros(text.nnz, bool)
        row_tau = tau[entry_rows[ascending]]
        suffix[ascending] = (row_tau > 0) & (squared_sums < row_tau**2)
        self.suffix_norm = np.sqrt(np.bincount(entry_rows, weights=np.where(suffix, text.data**2, 0.0),
                                               minlength=text.shape[0]))
        searched = (~suffix & np.isfinite(tau[entry_rows]))[in_cell]
        rows, values = entry_rows[in_cell][searched], text.data[in_cell][searched]
        self.left = sparse.csr_matrix((values, (rows, columns[searched])), shape=shape)
        # The same searched words with weight 1 against squared weights: how much of j's unit
        # text vector the searched words cover, which bounds what the skipped words can add.
        self.left_ones = sparse.csr_matrix((np.ones(values.size), (rows, columns[searched])), shape=shape)
        self.right_squared_t = self.right_t.copy()
        self.right_squared_t.data = self.right_squared_t.data**2

    def row_bounds(self) -> np.ndarray:
        return product_row_bounds(self.left, self.right_t)

    def pairs(self, start: int, end: int, context: ContentTopK):
        """(rows, columns, text cosines) of the block's pairs that may reach L_i, scored exactly."""
        block = (self.left[start:end] @ self.right_t).tocsr()
        block.sort_indices()
        rows = np.repeat(np.arange(start, end), np.diff(block.indptr))
        columns, partial = block.indices.astype(np.int64), block.data
        suffix_norm = self.suffix_norm[rows]
        if suffix_norm.any():
            # t = searched part + skipped part <= partial + |i's skipped words| * |j's rest|.
            covered = (self.left_ones[start:end] @ self.right_squared_t).tocsr()
            covered.sort_indices()
            suffix_norm = suffix_norm * np.sqrt(np.maximum(1.0 - covered.data, 0.0))
        upper = (shared_weight(context.parts, rows, columns) + context.parts.text_weight * (partial + suffix_norm)
                 ) / (context.norms[rows] * context.norms[columns])
        keep = (columns != rows) & (upper >= context.bound[rows])
        rows, columns, partial, suffix_norm = rows[keep], columns[keep], partial[keep], suffix_norm[keep]
        # Where no word of i was left out the product is t itself; elsewhere the rest is looked up.
        inexact = self.suffix_norm[rows] > 0
        cosines = partial.copy()
        cosines[inexact] = text_cosines(context.parts.text, context.keys, rows[inexact], columns[inexact])
        return rows, columns, cosines


class ContentTopK:
    """The bounds, cells and searches of one catalogue; `block` gives the top K of a row range."""

    def __init__(self, parts: ContentParts, top_k: int):
        self.parts, self.top_k = parts, top_k
        self.norms = item_norms(parts)
        groups = [g for g in range(parts.codes.shape[1])
                  if parts.group_weights[g] > 0 and (parts.codes[:, g] >= 0).any()]
        self.cells = {}
        for size in range(len(groups), -1, -1):
            for subset in combinations(groups, size):
                cells = Cells(parts, self.norms, subset)
                # A band is a band within a category: sharing it means sharing the category too. A
                # subset whose cells are a larger subset's has no items of its own; it only costs.
                if not any(set(subset) < set(larger) and _same_partition(cells, other)
                           for larger, other in self.cells.items()):
                    self.cells[subset] = cells
        bound = np.zeros(self.norms.size)
        for cells in self.cells.values():
            bound = np.maximum(bound, cells.lower_bound(self.norms, top_k))
        self.bound = np.maximum(bound - SLACK, 0.0)
        self.searches = self._text_searches() if parts.text is not None and parts.text_weight > 0 else []

    def _text_searches(self) -> list[TextSearch]:
        text, norms = self.parts.text, self.norms
        text.sort_indices()
        self.keys = text_keys(text)
        entry_rows = np.repeat(np.arange(text.shape[0]), np.diff(text.indptr))
        ascending = np.lexsort((text.data, entry_rows))
        # Summed within each row (a running sum over all rows, minus the row's start, would carry
        # the whole catalogue's rounding error into the threshold test).
        squared_sums = pd.Series(text.data[ascending] ** 2).groupby(entry_rows[ascending]).cumsum().to_numpy()
        has_text = np.diff(text.indptr) > 0
        taus = {subset: self._tau(cells, has_text) for subset, cells in self.cells.items()}
        searches = []
        for subset, tau in taus.items():
            # A smaller subset's cell holds this one's: searching it at a threshold no higher finds all.
            for other, other_tau in taus.items():
                if set(other) < set(subset):
                    tau = np.where(other_tau <= tau, np.inf, tau)
            if np.isfinite(tau).any():
                searches.append(TextSearch(self.parts, norms, self.cells[subset], tau, ascending, squared_sums))
        return searches

    def _tau(self, cells: Cells, has_text: np.ndarray) -> np.ndarray:
        """tau_G(i) (0 when every word must be searched), inf where no text in i's cell can reach L_i."""
        members = (cells.cell >= 0) & has_text
        least = np.full(cells.size.size, np.inf)
        np.minimum.at(least, cells.cell[members], self.norms[members])
        tau = np.full(self.norms.size, np.inf)
        tau[members] = np.maximum((self.bound[members] * self.norms[members] * least[cells.cell[members]]
                                   - cells.weight) / self.parts.text_weight, 0.0)
        tau[tau > 1.0] = np.inf
        return tau

    def row_bounds(self) -> np.ndarray:
        bounds = np.full(self.norms.size, float(len(self.cells) * (self.top_k + 1)))
        for search in self.searches:
            bounds += search.row_bounds()
        return bounds

    def block(self, start: int, end: int):
        """(rows, similar items, similarities) of items start..end-1, by row then rank."""
        items = np.arange(start, end)
        items = items[self.norms[items] > 0]
        rows, columns, cosines = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
        for cells in self.cells.values():
            if cells.weight <= 0 or cells.size.size == 0:
                continue
            first = np.where(cells.cell[items] >= 0, self.norms[cells.order[cells.start[cells.cell[items]]]], np.inf)
            needed = items[cells.weight / (self.norms[items] * first) >= self.bound[items]]
            head_rows, heads = cells.heads(needed, self.top_k)
            # Scored as if they shared no word: too low only for a head whose text the searches
            # skipped, and such a head cannot reach L_i anyway.
            rows.append(head_rows), columns.append(heads), cosines.append(np.zeros(heads.size))
        for search in self.searches:
            for values, part in zip((rows, columns, cosines), search.pairs(start, end, self), strict=True):
                values.append(part)
        return self._top_k(start, end, np.concatenate(rows), np.concatenate(columns), np.concatenate(cosines))

    def _top_k(self, start, end, rows, columns, cosines):
        score = pair_scores(self.parts, self.norms, rows, columns, cosines)
        # Nothing under L_i can be in i's top K (the heads scored without text included).
        keep = (score > 0) & (score >= self.bound[rows])
        rows, columns, score = rows[keep], columns[keep], score[keep]
        if rows.size == 0:
            return rows, columns, score
        # A pair found twice keeps its highest score (an exact one beats a head scored without text).
        key = (rows - start) * self.norms.size + columns
        order = np.argsort(key, kind="stable")
        key, score = key[order], score[order]
        first = np.flatnonzero(np.concatenate(([True], np.diff(key) != 0)))
        score = np.maximum.reduceat(score, first)
        rows, columns = key[first] // self.norms.size + start, key[first] % self.norms.size
        per_row = np.bincount(rows - start, minlength=end - start)
        chosen, chosen_rows = top_k_per_row(np.concatenate(([0], np.cumsum(per_row))), columns, score, self.top_k)
        return chosen_rows + start, columns[chosen], score[chosen]


def content_top_k(parts: ContentParts, top_k: int, chunk_items: int = 2048):
    """(item codes, similar item codes, similarities) of each item's top_k, ordered by item then
    rank; items are the rows of `parts`."""
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if top_k <= 0 or parts.codes.shape[0] == 0:
        return empty
    finder = ContentTopK(parts, top_k)
    blocks = row_blocks(finder.row_bounds(), chunk_items, MAX_PAIRS_PER_BLOCK)
    # Blocks are independent and scipy's products and numpy's sorts release the GIL; map keeps order.
    with ThreadPoolExecutor(max_workers=BLOCK_THREADS) as pool:
        parts_found = list(pool.map(lambda block: finder.block(*block), blocks))
    if not parts_found:
        return empty
    return tuple(np.concatenate(column) for column in zip(*parts_found, strict=True))
