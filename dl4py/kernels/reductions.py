"""Allocation-free reductions over 1-D parameter slices, accumulated in float64."""
from __future__ import annotations

import numpy as np
from numba import njit

from ._support import KERNEL_OPTIONS

_OPTS = dict(KERNEL_OPTIONS, fastmath={"reassoc"})


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


@njit(**_OPTS)
def all_finite(a):
    """True when every element of the 1-D array is finite.  x − x is 0 for finite x and NaN for NaN/±∞; the sum
    stays 0 or becomes NaN.  Only reassociation is allowed (no 'nnan'/'ninf'), so nothing folds x − x away and the
    loop vectorises."""
    s = a.dtype.type(0.0)
    for i in range(a.shape[0]):
        s += a[i] - a[i]
    return s == 0.0
