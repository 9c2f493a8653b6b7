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
    filled = np.flatnonzero(np.bincount(matrix.indices, minlength=columns))
    position = np.zeros(columns, dtype=matrix.indices.dtype)
    position[filled] = np.arange(len(filled), dtype=matrix.indices.dtype)
    compact = sp.csr_matrix((matrix.data, position[matrix.indices], matrix.indptr), shape=(rows, len(filled)))
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
    coefficients = np.zeros(columns)
    coefficients[filled] = transposed_times(dual)
    ridge.coef_ = coefficients
    ridge.intercept_ = target_offset - offsets @ coefficients
    ridge.n_iter_, ridge.solver_, ridge.n_features_in_ = None, "sparse_cg", columns
    return ridge
