"""Fused kernels of the AutoEncoder (denoising autoencoder) pretraining step.

Every kernel is compiled on the first call with each dtype (or loaded from numba's on-disk cache), not at import;
they work on C-contiguous arrays of one dtype (float32 or float64) and Python floats; float64 scratch vectors are
passed in by the caller, so nothing here allocates.

* ``mask_corrupt(buf, x, level)``: masking noise. ``buf`` holds uniform [0, 1) draws on entry and
  ``x ⊙ keep`` on exit, keep = 1 where the draw is ``>= level`` (so each element is zeroed with probability
  ``level``) — one pass, no separate mask array.
* ``add_row(z, b)``: z += b broadcast over rows.
* ``column_sums(a, acc, out)``: out[j] = Σ_i a[i, j], accumulated in float64 (the activation module's kernel).
* ``kl_sparsity(h, rho, beta, acc, dh)``: the KL sparsity penalty on the mean hidden activation
  ρ̂_j = mean_i h[i, j]; returns β·Σ_j KL(ρ‖ρ̂_j) and adds its "summed over the minibatch" gradient
  β·(−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)) to every row of ``dh`` (see the engine for the conventions).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ._support import KERNEL_OPTIONS
from .activations import column_sums

__all__ = ["mask_corrupt", "add_row", "column_sums", "kl_sparsity", "SPARSITY_CLIP", "warmup"]

#: ρ̂ is clipped to [SPARSITY_CLIP, 1 − SPARSITY_CLIP] inside the KL penalty (keeps the logs finite).
SPARSITY_CLIP = 1e-6

_EW = dict(KERNEL_OPTIONS, fastmath={"nsz", "contract"})
_RED = dict(KERNEL_OPTIONS, fastmath={"nsz", "contract", "reassoc", "arcp"})


def _kernel(opts):
    return nb.njit(**opts)


@_kernel(_EW)
def mask_corrupt(buf, x, level):
    """buf = x where buf >= level else 0 (buf holds U[0, 1) draws on entry). Shapes [N, D]."""
    if buf.shape[0] != x.shape[0] or buf.shape[1] != x.shape[1]:
        raise ValueError("mask_corrupt: arrays must have the same shape")
    T = buf.dtype.type
    lv = T(level)
    for i in range(buf.shape[0]):
        u = buf[i]
        xr = x[i]
        for j in range(u.shape[0]):
            u[j] = xr[j] * T(u[j] >= lv)


@_kernel(_EW)
def add_row(z, b):
    """z[i, :] += b for every row i."""
    if b.shape[0] != z.shape[1]:
        raise ValueError("add_row: bias length must equal the number of columns")
    for i in range(z.shape[0]):
        r = z[i]
        for j in range(r.shape[0]):
            r[j] += b[j]


@_kernel(_RED)
def kl_sparsity(h, rho, beta, acc, dh):
    """β·Σ_j KL(ρ‖ρ̂_j) for ρ̂_j = mean_i h[i, j] (clipped to [SPARSITY_CLIP, 1 − SPARSITY_CLIP]); adds
    β·(−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)) to dh[i, j] for every row i. ``acc``: float64 scratch, length >= columns."""
    n, d = h.shape[0], h.shape[1]
    if dh.shape[0] != n or dh.shape[1] != d or acc.shape[0] < d:
        raise ValueError("kl_sparsity: shape mismatch")
    if n == 0:
        return 0.0
    s = acc[:d]
    for j in range(d):
        s[j] = 0.0
    for i in range(n):
        r = h[i]
        for j in range(d):
            s[j] += r[j]
    inv_n = 1.0 / n
    lo, hi = SPARSITY_CLIP, 1.0 - SPARSITY_CLIP
    score = 0.0
    for j in range(d):
        p = min(max(s[j] * inv_n, lo), hi)
        kl = 0.0
        if rho > 0.0:
            kl += rho * math.log(rho / p)
        if rho < 1.0:
            kl += (1.0 - rho) * math.log((1.0 - rho) / (1.0 - p))
        score += kl
        s[j] = beta * (-rho / p + (1.0 - rho) / (1.0 - p))
    T = dh.dtype.type
    for i in range(n):
        r = dh[i]
        for j in range(d):
            r[j] += T(s[j])
    return beta * score


def warmup() -> None:
    """Compile (or load from the cache) every kernel for both dtypes."""
    for dt in (np.float32, np.float64):
        a = np.ones((2, 3), dtype=dt)
        b = np.full((2, 3), 0.5, dtype=dt)
        mask_corrupt(b, a, 0.3)
        add_row(a, np.zeros(3, dtype=dt))
        acc = np.zeros(3, dtype=np.float64)
        column_sums(a, acc, np.zeros(3, dtype=dt))
        kl_sparsity(np.full((2, 3), 0.5, dtype=dt), 0.1, 1.0, acc, np.zeros((2, 3), dtype=dt))
