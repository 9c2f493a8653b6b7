"""How ltv compiles its numba kernels (recommendation scoring, item top-K, the user-value trees,
TextBlob's scoring loop): one place, so that they all run without the GIL and cache alike."""

from __future__ import annotations

import numba


def compiled(function):
    """njit without the GIL, cached on disk where the package's folder (or the user's cache) is
    writable: compiling costs 2-4 CPU-s in every new process otherwise."""
    try:
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError:  # numba found nowhere to write its cache
        return numba.njit(nogil=True)(function)
