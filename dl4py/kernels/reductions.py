"""Allocation-free reductions over 1-D parameter slices, accumulated in float64."""
from __future__ import annotations

import numpy as np
from numba import njit

_OPTS = dict(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"})


@njit(**_OPTS)
def sum_abs(a):
    """Σ|a| in float64."""
    s = 0.0
    for i in range(a.shape[0]):
        s += abs(np.float64(a[i]))
    return s


@njit(**_OPTS)
def sum_squares(a):
    """Σa² in float64."""
    s = 0.0
    for i in range(a.shape[0]):
        x = np.float64(a[i])
        s += x * x
    return s


@njit(cache=True, nogil=True)
def all_finite(a):
    """True when every element of the 1-D array is finite (no fastmath: NaN must be seen)."""
    for i in range(a.shape[0]):
        x = a[i]
        if not (x - x == 0.0):
            return False
    return True
