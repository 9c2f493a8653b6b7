"""v2's ridge fit: scikit-learn's Ridge on hashed features, to the last bit, in about half the time.

Ridge(solver="auto") with an intercept on sparse input solves by conjugate gradients (sparse_cg),
centring the columns implicitly. With more columns than rows (v2 has 2^20 hashed buckets) it
iterates over rows: each step multiplies by X.T and then X through all 2^20 columns, although a
training set fills only tens of thousands of them, and scattering into and gathering from those
8 MB vectors is most of the fit's time. `fit_ridge` takes the same steps on the filled columns only.
Every number is made by the same operations in the same order, so the result is Ridge.fit's:

* a product by the filled columns is the same sums (each column's entries keep their order), and an
  empty column's part of X.T @ b is an exact zero (its mean is 0, so its centring term is 0 too);
* the two dot products over all columns (the centring term of X @ b, and the intercept) are taken
  over full-length vectors with the zeros in place, so that BLAS adds them up as it does for
  scikit-learn (it groups terms by position, so a shorter vector could round differently).

Only public pieces are used (mean_variance_axis, numpy, scipy's cg); tests/python/
test_sentiment_fast_v2.py checks coefficients and intercept against Ridge.fit bit for bit.

`fit_ridges` fits several row subsets of one matrix (v2's fit on all rows and its five cross-validation
folds) with their cg iterations in lockstep, each iteration's products for all running subsets as one
multi-vector sparse product, which costs ~1.8x less than the single products it replaces; scipy's cg
loop is spelled out for that, each operation as scipy 1.17's cg takes it. Threads could not do this:
scipy's sparse products hold the GIL. On 100,000 real reviews (34,211 filled columns, ~125 cg steps a
fit, BLAS at one thread as in dbt) the six fits took 9.5 CPU-s in threads, 9.2 one after another and
6.2 in lockstep (medians of 3 on the loaded 2-core machine), every coefficient unchanged;
tests/python/test_sentiment_ridge_fits.py checks them against fit_ridge and Ridge.fit bit for bit.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg
from sklearn.linear_model import Ridge
from sklearn.utils.sparsefuncs import mean_variance_axis

RIDGE_TOLERANCE = 1e-4  # Ridge's default tol, which v2 uses


def _applies(matrix, ridge: Ridge) -> bool:
    """Whether Ridge would solve this by sparse_cg over rows, the path fit_ridge takes."""
    params = ridge.get_params()
    return (sp.issparse(matrix) and matrix.format == "csr" and matrix.dtype == np.float64
            and matrix.shape[1] > matrix.shape[0] and params["solver"] == "auto" and params["fit_intercept"]
            and not params["positive"] and params["tol"] == RIDGE_TOLERANCE and params["max_iter"] is None)


def fit_ridge(matrix, target, alpha: float) -> Ridge:
    """Ridge(alpha=alpha).fit(matrix, target), computed on the filled columns of `matrix`."""
    ridge = Ridge(alpha=alpha)
    if not _applies(matrix, ridge):
        return ridge.fit(matrix, target)
    rows, columns = matrix.shape
    target = np.asarray(target, dtype=np.float64)
    offsets = mean_variance_axis(matrix, axis=0)[0]  # what Ridge's _preprocess_data centres by
    target_offset = np.asarray(np.average(target, axis=0))
    centred = target - target_offset
    compact, filled, _ = _compact(matrix)
    filled_offsets, ones, full = offsets[filled], np.ones(rows), np.zeros(columns)

    def times_centred(b):  # (X - offsets) @ b, b on the filled columns
        full[filled] = b
        return compact.dot(b) - ones * full.dot(offsets)

    def transposed_times(b):  # (X - offsets).T @ b, on the filled columns
        return compact.T.dot(b) - filled_offsets * b.dot(ones)

    alpha_value = np.asarray(alpha, dtype=np.float64).ravel()[0]
    kernel = LinearOperator((rows, rows), dtype=np.float64,
                            matvec=lambda x: times_centred(transposed_times(x)) + alpha_value * x)
    dual, info = cg(kernel, centred, rtol=RIDGE_TOLERANCE)
    if info < 0:
        raise ValueError(f"Failed with error code {info}")
    return _solved_ridge(alpha, filled, transposed_times(dual), offsets, target_offset)


def _compact(matrix) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """(matrix on its filled columns only, those columns, each column's position among them)."""
    rows, columns = matrix.shape
    filled = np.flatnonzero(np.bincount(matrix.indices, minlength=columns))
    position = np.zeros(columns, dtype=matrix.indices.dtype)
    position[filled] = np.arange(len(filled), dtype=matrix.indices.dtype)
    compact = sp.csr_matrix((matrix.data, position[matrix.indices], matrix.indptr), shape=(rows, len(filled)))
    return compact, filled, position


def _solved_ridge(alpha: float, filled: np.ndarray, filled_coefficients: np.ndarray, offsets: np.ndarray,
                  target_offset) -> Ridge:
    """The Ridge Ridge.fit leaves, from the coefficients of the filled columns: the others are 0, the
    intercept the centring's (Ridge's _set_intercept)."""
    ridge = Ridge(alpha=alpha)
    coefficients = np.zeros(len(offsets))
    coefficients[filled] = filled_coefficients
    ridge.coef_ = coefficients
    ridge.intercept_ = target_offset - offsets @ coefficients
    ridge.n_iter_, ridge.solver_, ridge.n_features_in_ = None, "sparse_cg", len(offsets)
    return ridge


def fit_ridges(matrix, targets, subsets: list[np.ndarray | None], alpha: float) -> list[Ridge]:
    """[fit_ridge(matrix[rows], targets[rows], alpha) for rows in subsets] (rows None: all rows), to the
    last bit, with the conjugate-gradient iterations of all subsets in lockstep (see _Lockstep).

    A subset whose rows are not strictly increasing, or that fit_ridge would leave to scikit-learn,
    is fitted alone by fit_ridge."""
    targets = np.asarray(targets)
    fits: list[Ridge | None] = [None] * len(subsets)
    systems: dict[int, _System] = {}
    for number, rows in enumerate(subsets):
        part, target = (matrix, targets) if rows is None else (matrix[rows], targets[rows])
        if _applies(part, Ridge(alpha=alpha)) and (rows is None or _increasing(rows)):
            systems[number] = _System(part, target, slice(None) if rows is None else rows)
        else:
            fits[number] = fit_ridge(part, target, alpha)
    if systems:
        lockstep = _Lockstep(matrix, list(systems.values()), np.asarray(alpha, dtype=np.float64).ravel()[0])
        for number, ridge in zip(systems, lockstep.fits(alpha), strict=True):
            fits[number] = ridge
    return fits


def _increasing(rows) -> bool:
    """Whether `rows` are row numbers in strictly increasing order, the order their embedding in all
    rows keeps (the cross-validation folds' training rows are)."""
    rows = np.asarray(rows)
    return (rows.ndim == 1 and rows.dtype.kind in "iu" and len(rows) > 0 and rows[0] >= 0
            and bool(np.all(rows[1:] > rows[:-1])))


class _System:
    """One subset's ridge: its centring as fit_ridge computes it, and scipy's cg state on its rows."""

    def __init__(self, part, target, rows):
        self.rows = rows  # into the rows of the whole matrix
        columns, target = part.shape[1], np.asarray(target, dtype=np.float64)
        self.offsets = mean_variance_axis(part, axis=0)[0]
        self.target_offset = np.asarray(np.average(target, axis=0))
        self.filled = np.flatnonzero(np.bincount(part.indices, minlength=columns))
        self.filled_offsets, self.ones, self.full = self.offsets[self.filled], np.ones(part.shape[0]), np.zeros(columns)
        # cg(kernel, centred, rtol=RIDGE_TOLERANCE) from here on: make_system, then its loop's state
        centred = np.asarray(target - self.target_offset, dtype=np.float64).ravel()
        self.x, self.r, norm = np.zeros(len(centred)), centred.copy(), np.linalg.norm(centred)
        self.atol = max(0.0, float(RIDGE_TOLERANCE) * float(norm))
        self.maxiter, self.rho_previous, self.rho, self.p = len(centred) * 10, None, None, None
        self.dual = centred if norm == 0 else None  # cg returns b itself then, before its loop

    def begins(self, iteration: int) -> bool:
        """cg's loop up to its product q = A @ p: False (and the solution) when the loop ends here."""
        if iteration >= self.maxiter or np.linalg.norm(self.r) < self.atol:
            self.dual = self.x
            return False
        z = self.r  # the identity preconditioner's matvec returns r itself
        self.rho = np.dot(self.r, z)
        if iteration > 0:
            beta = self.rho / self.rho_previous
            self.p *= beta
            self.p += z
        else:
            self.p = np.empty_like(self.r)
            self.p[:] = z[:]
        return True

    def ends(self, q: np.ndarray) -> None:
        """cg's loop after q = A @ p."""
        alpha = self.rho / np.dot(self.p, q)
        self.x += alpha * self.p
        self.r -= alpha * q
        self.rho_previous = self.rho

    def centring_term(self, transposed: np.ndarray):
        """full.dot(offsets) of fit_ridge's times_centred, over all 2^20 columns as there."""
        self.full[self.filled] = transposed
        return self.full.dot(self.offsets)


class _Lockstep:
    """The subsets' systems solved side by side, each iteration's products for all running systems
    computed as one multi-vector product with the compact matrix of all rows on the union of the
    subsets' filled columns.

    Each product is the sums fit_ridge's single product makes, in the same order: scipy's
    csr_matvecs and csc_matvecs accumulate each output entry over the matrix's entries in the order
    csr_matvec and csc_matvec do. A subset's vector is embedded with zeros in the rows outside it
    (its rows increase, so the others only add exact zeros between its terms, and a sum that starts at
    +0 is never -0, so adding 0 leaves it as it is); a row of the subset
    has entries only in the subset's filled columns, so the union's other columns add nothing.
    Everything else (norms, dots, centring terms, cg's recurrences) is each system's own, on its
    own vectors, exactly as fit_ridge and scipy's cg compute it."""

    def __init__(self, matrix, systems: list[_System], alpha_value):
        self.systems, self.alpha_value, self.rows = systems, alpha_value, matrix.shape[0]
        self.compact, union, position = _compact(matrix)
        # Scattering products (csc_matvecs) ran ~1.5x faster here than gathering ones (csr_matvecs),
        # so the row products go through a CSC copy when each row's entries are in column order: the
        # copy then adds each row's terms in the CSR's order (its conversion keeps rows in order).
        self.by_columns = self.compact.tocsc() if self.compact.has_sorted_indices else self.compact
        self.places = [position[system.filled] for system in systems]  # each one's filled columns
        self.width = len(union)

    def _transposed(self, indices: list[int], vectors: list[np.ndarray]) -> list[np.ndarray]:
        """fit_ridge's transposed_times(vector) for each system: (X - offsets).T @ vector."""
        embedded = np.zeros((self.rows, len(indices)))
        for column, (index, vector) in enumerate(zip(indices, vectors, strict=True)):
            embedded[self.systems[index].rows, column] = vector
        products = self.compact.T @ embedded
        return [products[self.places[index], column] - self.systems[index].filled_offsets * vector.dot(
            self.systems[index].ones) for column, (index, vector) in enumerate(zip(indices, vectors, strict=True))]

    def _kernel(self, indices: list[int]) -> list[np.ndarray]:
        """fit_ridge's kernel matvec of each system's p: times_centred(transposed_times(p)) + alpha p."""
        vectors = [self.systems[index].p for index in indices]
        transposed = self._transposed(indices, vectors)
        spread = np.zeros((self.width, len(indices)))
        for column, (index, product) in enumerate(zip(indices, transposed, strict=True)):
            spread[self.places[index], column] = product
        products = self.by_columns @ spread
        kernels = []
        for column, (index, product, vector) in enumerate(zip(indices, transposed, vectors, strict=True)):
            system = self.systems[index]
            centred = products[system.rows, column] - system.ones * system.centring_term(product)
            kernels.append(centred + self.alpha_value * vector)
        return kernels

    def _solve(self) -> None:
        running = [index for index, system in enumerate(self.systems) if system.dual is None]
        iteration = 0
        while running:
            running = [index for index in running if self.systems[index].begins(iteration)]
            if running:
                for index, q in zip(running, self._kernel(running), strict=True):
                    self.systems[index].ends(q)
            iteration += 1

    def fits(self, alpha: float) -> list[Ridge]:
        self._solve()
        indices = list(range(len(self.systems)))
        transposed = self._transposed(indices, [system.dual for system in self.systems])
        return [_solved_ridge(alpha, system.filled, product, system.offsets, system.target_offset)
                for system, product in zip(self.systems, transposed, strict=True)]
