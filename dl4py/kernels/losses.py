"""Loss functions of DL4J (``org.nd4j.linalg.lossfunctions.impl``) fused with their output activation.

``loss_score_and_gradient(loss_code, lp, act_code, ap, labels, z, weights, a_buf, grad_out, row_scores)`` computes
a = act(z), the per-example scores, the total and ∂total/∂z with DL4J's semantics (spec §7) in three compiled
passes: the activation module's forward, one loss pass (scores and dL/da together), the activation module's
backward (skipped for softmax + MCXENT, whose dL/dz comes out of the loss pass). ``loss_score(...)`` (no
``grad_out``) does the first two. The activation maths thus lives in one module and the loss kernel stays small
(linking the activation switch into it cost seconds of cold compile per dtype):

* the returned total is ``computeScore(average=false)``: the sum over all entries, not divided by N (the caller
  divides), summed over rows in float64 (each row summed in z's dtype, which vectorises at full width);
* ``row_scores`` [N] is ``computeScoreArray``: per-example sums;
* ``grad_out`` is ``computeGradient``: ∂(summed score)/∂z per element, not divided by N, the activation applied
  inside as in DL4J (dL/da, then the activation's backprop; softmax + MCXENT/NLL: the fused a − y).

Losses (``lp`` is float64 of length 4; ``loss_params(code, ...)`` fills DL4J's defaults; w = per-output weights,
D = number of columns):

* MSE: w(y−a)²/D in the total and in ``row_scores``; gradient 2w(a−y)/D. L2: w(y−a)². L1: w|a−y|, w·sign(a−y).
* MAE: w|a−y|/D in the total, but ``row_scores`` is NOT divided by D (DL4J's ``LossMAE.computeScoreArray``
  divides by the column count of the N×1 score array, i.e. by 1); gradient w·sign(a−y)/D.
* XENT (``LossBinaryXENT``, ``lp[0]`` = clipEps, 1e-5): −w[y·log a + (1−y)·log(1−a)] with a clipped to [ε, 1−ε];
  dL/da = (a−y)/(a(1−a)) with the clipped a, then the activation's backprop, then ×w — for sigmoid exactly
  DL4J (= a − y unless a is clipped). With SOFTMAX DL4J scores −Σ w·y·logsoftmax(z) (unclipped, no (1−y) term)
  but keeps the binary-XENT gradient through the softmax Jacobian (weights after it): kept as is, although the two
  disagree (DL4J's output-layer validation rejects softmax + XENT).
* MCXENT = NEGATIVELOGLIKELIHOOD (``lp[0]`` = softmaxClipEps, 1e-10): −w·y·log a. With SOFTMAX, a is clipped to
  [ε, 1−ε] in the score and the gradient is a − y without weights (exact only when each row of y sums to 1, as
  in DL4J) and a·Σ_j(y_j w_j) − y·w with weights; other activations: dL/da = −w·y/a (unclipped).
* KLD (KL_DIVERGENCE, RECONSTRUCTION_CROSSENTROPY): y·log(y/a) with y and a clipped to [1e-5, 1] in the score;
  dL/da = −y/a unclipped.
* COSINE_PROXIMITY: −(y·a)/(max(|y|, 1e-5)·max(|a|, 1e-5)) per row; DL4J's gradient
  −(y|a|² − a(y·a))/(max(|y|,1e-5)·max(|a|,1e-5)·max(|a|², 1e-5)).
* HINGE: max(0, 1−y·a), gradient −y where 1−y·a > 0. SQUARED_HINGE: its square, −2y(1−y·a) there.
* MAPE: w·(100/D)·|(y−a)/y|. MSLE: w·log((a+1)/(y+1))²/D. POISSON: a − y·log a.
* WASSERSTEIN: total Σ_rows mean_cols(y·a), ``row_scores`` the row means, gradient y/D.

Per-output weights (``weights`` [D], or an empty array for none) exist in DL4J for MSE, L2, L1, MAE, XENT,
MCXENT/NLL, MAPE and MSLE (``WEIGHTED``); weights with any other loss raise ``ValueError``.

Arrays: all of z's dtype (float32 or float64; the kernel compiles lazily, one signature per dtype, cached on
disk), C-contiguous; ``labels``, ``z``, ``a_buf``, ``grad_out`` [N, D], ``row_scores`` [N]. ``a_buf`` receives
a = act(z) and must not overlap ``z``; ``grad_out`` may be ``a_buf`` itself (it then holds the gradient). dL/da
goes to the activation module's thread-local scratch (N·D elements, grown once): nothing is allocated per call.
float32 logs use the vectorisable bit-cast log of :mod:`._fastmath` (relative error ~1e-7); float64 uses
``math.log``.
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from dl4py.kernels import _fastmath
from dl4py.kernels._fastmath import log as _log
from dl4py.kernels._support import depend_on, same_shape
from dl4py.kernels.activations import (
    NAME_BY_CODE,
    SOFTMAX,
    _empty,
    _inline,
    _jit,
    act_backward,
    act_forward,
    scratch,
)

__all__ = [
    "MSE", "L2", "L1", "MAE", "XENT", "MCXENT", "NEGATIVELOGLIKELIHOOD", "KLD", "COSINE_PROXIMITY", "HINGE",
    "SQUARED_HINGE", "MAPE", "MSLE", "POISSON", "WASSERSTEIN", "CODE_BY_CLASS", "CODE_BY_ENUM", "DEFAULT_PARAMS",
    "WEIGHTED", "loss_params", "loss_score_and_gradient", "loss_score", "warmup",
]

(MSE, L2, L1, MAE, XENT, MCXENT, KLD, COSINE_PROXIMITY, HINGE, SQUARED_HINGE, MAPE, MSLE, POISSON,
 WASSERSTEIN) = range(14)
NEGATIVELOGLIKELIHOOD = MCXENT  # LossNegativeLogLikelihood extends LossMCXENT without changes

CODE_BY_CLASS: dict[str, int] = {
    "LossMSE": MSE, "LossL2": L2, "LossL1": L1, "LossMAE": MAE, "LossBinaryXENT": XENT, "LossMCXENT": MCXENT,
    "LossNegativeLogLikelihood": NEGATIVELOGLIKELIHOOD, "LossKLD": KLD, "LossCosineProximity": COSINE_PROXIMITY,
    "LossHinge": HINGE, "LossSquaredHinge": SQUARED_HINGE, "LossMAPE": MAPE, "LossMSLE": MSLE,
    "LossPoisson": POISSON, "LossWasserstein": WASSERSTEIN,
}
CODE_BY_ENUM: dict[str, int] = {  # LossFunctions.LossFunction names (SPARSE_MCXENT: one-hot labels + MCXENT)
    "MSE": MSE, "SQUARED_LOSS": MSE, "L2": L2, "L1": L1, "MEAN_ABSOLUTE_ERROR": MAE, "XENT": XENT,
    "MCXENT": MCXENT, "SPARSE_MCXENT": MCXENT, "NEGATIVELOGLIKELIHOOD": NEGATIVELOGLIKELIHOOD, "KL_DIVERGENCE": KLD,
    "RECONSTRUCTION_CROSSENTROPY": KLD, "COSINE_PROXIMITY": COSINE_PROXIMITY, "HINGE": HINGE,
    "SQUARED_HINGE": SQUARED_HINGE, "MEAN_ABSOLUTE_PERCENTAGE_ERROR": MAPE, "MEAN_SQUARED_LOGARITHMIC_ERROR": MSLE,
    "POISSON": POISSON, "WASSERSTEIN": WASSERSTEIN,
}
DEFAULT_PARAMS: dict[int, tuple[float, float, float, float]] = {c: (0.0, 0.0, 0.0, 0.0) for c in range(14)}
DEFAULT_PARAMS[XENT] = (1e-5, 0.0, 0.0, 0.0)
DEFAULT_PARAMS[MCXENT] = (1e-10, 0.0, 0.0, 0.0)
WEIGHTED: frozenset[int] = frozenset({MSE, L2, L1, MAE, XENT, MCXENT, MAPE, MSLE})

_EPS_THRESHOLD = 1e-5  # Nd4j.EPS_THRESHOLD: KLD clipping, cosine-proximity norm floors


@intrinsic
def _flat(typingctx, arr):
    """The 1-D view of all elements of a C-contiguous array (same data and owner): ``arr.reshape(arr.size)``
    without numba's general reshape, whose code costs a few tenths of a second of compile time in every kernel."""
    if not isinstance(arr, types.Array) or arr.layout != "C":
        return None
    flat = arr.copy(ndim=1, layout="C")

    def codegen(context, builder, sig, args):
        src = make_array(sig.args[0])(context, builder, args[0])
        dst = make_array(flat)(context, builder)
        n = context.get_constant(types.intp, 1)
        for extent in cgutils.unpack_tuple(builder, src.shape, sig.args[0].ndim):
            n = builder.mul(n, extent)
        populate_array(dst, data=src.data, shape=[n], strides=[src.itemsize], itemsize=src.itemsize,
                       meminfo=src.meminfo, parent=src.parent)
        return impl_ret_borrowed(context, builder, flat, dst._getvalue())

    return flat(arr), codegen


def loss_params(code: int, *values: float) -> np.ndarray:
    """The float64 ``lp`` array for ``code``: the given leading values, DL4J's defaults for the rest."""
    p = np.array(DEFAULT_PARAMS[code], dtype=np.float64)
    p[: len(values)] = values
    return p


@_inline
def _supports_weights(loss):
    return (loss == MSE or loss == L2 or loss == L1 or loss == MAE or loss == XENT or loss == MCXENT
            or loss == MAPE or loss == MSLE)


@_inline
def _sign(x):
    T = type(x)
    neg = T(-1.0) if x < T(0.0) else T(0.0)
    return T(1.0) if x > T(0.0) else neg


def _make_loss_rows(loss, softmax):
    """The compiled loss pass of one loss ``code`` (softmax: whether the activation is SOFTMAX), both
    compile-time constants: numba prunes the other losses' branches before typing them, so only this loss's
    loops are compiled (numba keys the on-disk cache of a closure on its frozen cell values too)."""

    def _loss_rows(lp, labels, z, weights, a, s, rows, ones):
        """Per-example scores into ``rows``, dL/da into ``s`` (softmax + MCXENT: dL/dz directly), the total returned.

        ``a`` = act(z) is already computed; ``softmax`` tells whether act is SOFTMAX; ``ones``: scratch of z's dtype
        with at least D elements (the weights when there are none).
        """
        n, width = z.shape
        if not same_shape(z, labels, a, s):
            raise ValueError("labels, z, a and the dL/da buffer must have the same shape")
        if rows.shape[0] != n:
            raise ValueError("row_scores must have one entry per row")
        if lp.shape[0] < 4:
            raise ValueError("loss parameters lp must be a float64 array of length 4")
        has_w = weights.shape[0] > 0
        if has_w and weights.shape[0] != width:
            raise ValueError("weights must have one entry per column")
        if has_w and not _supports_weights(loss):
            raise ValueError("this loss function has no per-output weights in DL4J")
        if ones.shape[0] < width:
            raise ValueError("scratch buffer too small")
        w = weights
        if not has_w:
            w = ones[:width]
            for j in range(width):
                w[j] = 1.0
        yf, zf, af, sf = _flat(labels), _flat(z), _flat(a), _flat(s)
        clip = lp[0]
        T = z.dtype.type
        inv_w = 1.0 / max(width, 1)
        lo, hi = T(clip), T(1.0 - clip)
        total = 0.0
        for r in range(n):
            k = r * width
            yr, zr, ar, sr = yf[k:k + width], zf[k:k + width], af[k:k + width], sf[k:k + width]
            acc = T(0.0)  # Σ_j of the per-element scores of this row, in z's dtype (vectorises at full width)
            row_scale, total_scale = 1.0, 1.0  # row score = acc·row_scale, total += acc·total_scale
            if loss == MSE or loss == L2:
                g = T(2.0 * inv_w) if loss == MSE else T(2.0)
                for j in range(width):
                    d = ar[j] - yr[j]
                    wd = w[j] * d
                    acc += wd * d
                    sr[j] = g * wd
                if loss == MSE:
                    row_scale, total_scale = inv_w, inv_w
            elif loss == L1 or loss == MAE:
                g = T(inv_w) if loss == MAE else T(1.0)
                for j in range(width):
                    d = ar[j] - yr[j]
                    acc += w[j] * abs(d)
                    sr[j] = g * w[j] * _sign(d)
                if loss == MAE:
                    total_scale = inv_w  # computeScoreArray of LossMAE is not divided by D (DL4J)
            elif loss == XENT:
                if softmax == 1:  # DL4J: LogSoftMax op, unclipped, y·log(a) term only
                    m = zr[0] if width > 0 else T(0.0)
                    for j in range(width):
                        m = max(m, zr[j])
                    se = 0.0
                    for j in range(width):
                        se += np.exp(np.float64(zr[j] - m))
                    lse = np.float64(m) + np.log(se)
                    for j in range(width):
                        acc += w[j] * yr[j] * T(np.float64(zr[j]) - lse)
                else:
                    for j in range(width):
                        ac = min(max(ar[j], lo), hi)
                        acc += w[j] * (yr[j] * _log(ac) + (T(1.0) - yr[j]) * _log(T(1.0) - ac))
                for j in range(width):  # softmax: weights applied after the Jacobian product (by the caller)
                    ac = min(max(ar[j], lo), hi)
                    g = (ac - yr[j]) / (ac * (T(1.0) - ac))
                    sr[j] = g if softmax == 1 else w[j] * g
                row_scale, total_scale = -1.0, -1.0
            elif loss == MCXENT:
                if softmax == 1:
                    for j in range(width):
                        acc += w[j] * yr[j] * _log(min(max(ar[j], lo), hi))
                    syw = 0.0
                    for j in range(width):
                        syw += yr[j] * w[j]
                    c = T(syw) if has_w else T(1.0)  # DL4J: a − y without weights (exact if Σy = 1)
                    for j in range(width):
                        sr[j] = ar[j] * c - yr[j] * w[j]
                else:
                    for j in range(width):
                        acc += w[j] * yr[j] * _log(ar[j])
                        sr[j] = -w[j] * yr[j] / ar[j]
                row_scale, total_scale = -1.0, -1.0
            elif loss == KLD:
                klo, one = T(_EPS_THRESHOLD), T(1.0)
                for j in range(width):
                    yc = min(max(yr[j], klo), one)
                    acc += yc * _log(yc / min(max(ar[j], klo), one))
                    sr[j] = -yr[j] / ar[j]
            elif loss == COSINE_PROXIMITY:
                ya, yy, aa = 0.0, 0.0, 0.0
                for j in range(width):
                    ya += yr[j] * ar[j]
                    yy += yr[j] * yr[j]
                    aa += ar[j] * ar[j]
                ny, na = max(np.sqrt(yy), _EPS_THRESHOLD), max(np.sqrt(aa), _EPS_THRESHOLD)
                den = ny * na * max(aa, _EPS_THRESHOLD)
                cy, ca = T(-aa / den), T(ya / den)
                for j in range(width):
                    sr[j] = cy * yr[j] + ca * ar[j]
                acc = T(-ya / (ny * na))
            elif loss == HINGE or loss == SQUARED_HINGE:
                sq = loss == SQUARED_HINGE
                for j in range(width):
                    mg = T(1.0) - yr[j] * ar[j]
                    mp = max(mg, T(0.0))
                    acc += mp * mp if sq else mp
                    g = T(-2.0) * yr[j] * mg if sq else -yr[j]
                    sr[j] = g if mg > T(0.0) else T(0.0)
            elif loss == MAPE:
                c = T(-100.0 * inv_w)
                for j in range(width):
                    acc += w[j] * abs((yr[j] - ar[j]) / yr[j])
                    sr[j] = c * w[j] * _sign(yr[j] - ar[j]) / abs(yr[j])
                row_scale, total_scale = 100.0 * inv_w, 100.0 * inv_w
            elif loss == MSLE:
                g = T(2.0 * inv_w)
                for j in range(width):
                    lr = _log((ar[j] + T(1.0)) / (yr[j] + T(1.0)))
                    acc += w[j] * lr * lr
                    sr[j] = g * w[j] * lr / (ar[j] + T(1.0))
                row_scale, total_scale = inv_w, inv_w
            elif loss == POISSON:
                for j in range(width):
                    acc += ar[j] - yr[j] * _log(ar[j])
                    sr[j] = T(1.0) - yr[j] / ar[j]
            elif loss == WASSERSTEIN:
                g = T(inv_w)
                for j in range(width):
                    acc += yr[j] * ar[j]
                    sr[j] = yr[j] * g
                row_scale, total_scale = inv_w, inv_w
            else:
                raise ValueError("unknown loss code")
            rows[r] = acc * row_scale
            total += np.float64(acc) * total_scale  # rows in z's dtype, the total in float64
        return total

    return _jit(_loss_rows)


_LOSS_ROWS: dict[int, object] = {}  # 2·loss + softmax -> compiled loss pass, created on first use
_SOFTMAX_SPECIFIC = frozenset({XENT, MCXENT})  # the losses whose pass differs after a softmax


def loss_rows_kernel(loss_code: int, act_code: int):
    """The compiled loss pass for ``loss_code`` after activation ``act_code``:
    ``kernel(lp, labels, z, weights, a, s, rows, ones) -> total`` (see ``_make_loss_rows``). Created on first use;
    its machine code compiles per dtype or loads from numba's cache. Only XENT and MCXENT have a separate softmax
    variant; every other loss has one kernel whatever the activation."""
    key = 2 * loss_code + (act_code == SOFTMAX)
    k = _LOSS_ROWS.get(key)
    if k is None:
        if loss_code not in DEFAULT_PARAMS:
            raise ValueError(f"unknown loss code {loss_code!r}")
        if act_code not in NAME_BY_CODE:
            raise ValueError(f"unknown activation code {act_code!r}")
        softmax = int(act_code == SOFTMAX and loss_code in _SOFTMAX_SPECIFIC)
        k = _LOSS_ROWS.get(2 * loss_code + softmax)
        if k is None:
            k = _make_loss_rows(int(loss_code), softmax)
            depend_on((_fastmath.__file__,), k)
            k = _LOSS_ROWS.setdefault(2 * loss_code + softmax, k)
        _LOSS_ROWS[key] = k
    return k


def _score(loss_code, lp, act_code, ap, labels, z, weights, a_buf, row_scores):
    """a_buf = act(z), then the loss pass; returns the total and the dL/da scratch (dL/dz for softmax + MCXENT).

    ``labels`` and ``row_scores`` of another dtype (or non-contiguous labels) go through scratch copies.
    """
    _empty(z, a_buf, weights)  # float32 or float64, else TypeError
    if a_buf.shape != z.shape:
        raise ValueError(f"a_buf shape {a_buf.shape} != z shape {z.shape}")
    if z.size and np.may_share_memory(a_buf, z):
        raise ValueError("a_buf must not overlap z")
    n, width = z.shape
    if labels.dtype != z.dtype or not labels.flags.c_contiguous:
        if labels.shape != z.shape:
            raise ValueError(f"labels shape {labels.shape} != z shape {z.shape}")
        y = scratch(z.dtype, n * width, 4)[: n * width].reshape(n, width)
        np.copyto(y, labels)
        labels = y
    rows = row_scores if row_scores.dtype == z.dtype else scratch(z.dtype, n, 5)[:n]
    kernel = loss_rows_kernel(loss_code, act_code)
    act_forward(act_code, ap, z, a_buf)
    s = scratch(z.dtype, n * width, 2)[: n * width].reshape(n, width)
    total = kernel(lp, labels, z, weights, a_buf, s, rows, scratch(z.dtype, width, 3))
    if rows is not row_scores:
        np.copyto(row_scores, rows)
    return total, s


def loss_score_and_gradient(loss_code: int, lp: np.ndarray, act_code: int, ap: np.ndarray, labels: np.ndarray,
                            z: np.ndarray, weights: np.ndarray, a_buf: np.ndarray, grad_out: np.ndarray,
                            row_scores: np.ndarray) -> float:
    """Total score (DL4J's ``computeScore(average=false)``), per-example scores and ∂total/∂z of a loss on act(z).

    ``lp``, ``ap``: float64[4]; ``labels``, ``z``, ``a_buf``, ``grad_out``: [N, D]; ``weights``: [D] or empty;
    ``row_scores``: [N] — all of z's dtype (float32 or float64; ``labels`` and ``row_scores`` of another dtype are
    converted through scratch copies), C-contiguous. On return ``a_buf`` = act(z)
    (unless ``grad_out`` is ``a_buf``), ``grad_out`` = ∂total/∂z, ``row_scores`` = ``computeScoreArray``.
    """
    if grad_out.shape != z.shape:
        raise ValueError(f"grad_out shape {grad_out.shape} != z shape {z.shape}")
    _empty(z, grad_out)
    total, s = _score(loss_code, lp, act_code, ap, labels, z, weights, a_buf, row_scores)
    softmax = act_code == SOFTMAX
    if softmax and loss_code == MCXENT:  # s already holds the fused dL/dz
        np.copyto(grad_out, s)
    else:
        if np.may_share_memory(grad_out, a_buf):
            act_backward(act_code, ap, z, a_buf, s, s)  # in place on the scratch, a_buf still read
            np.copyto(grad_out, s)
        else:
            act_backward(act_code, ap, z, a_buf, s, grad_out)
        if softmax and loss_code == XENT and weights.shape[0]:  # DL4J weighs XENT after the activation's backprop
            np.multiply(grad_out, weights, out=grad_out)
    return total


def loss_score(loss_code: int, lp: np.ndarray, act_code: int, ap: np.ndarray, labels: np.ndarray, z: np.ndarray,
               weights: np.ndarray, a_buf: np.ndarray, row_scores: np.ndarray) -> float:
    """Score only (inference scoring): ``loss_score_and_gradient`` without the gradient; returns the total."""
    return _score(loss_code, lp, act_code, ap, labels, z, weights, a_buf, row_scores)[0]


def warmup(dtypes=(np.float32, np.float64), losses=None) -> None:
    """Compile (or load from the on-disk cache) the loss passes for the given dtypes: every loss (or those in
    ``losses``), XENT and MCXENT also in their softmax variant (which compiles the SOFTMAX and IDENTITY activation
    kernels too)."""
    from dl4py.kernels.activations import IDENTITY, params

    for dt in dtypes:
        z = np.zeros((2, 3), dt)
        y, a, g, r = np.zeros_like(z), np.zeros_like(z), np.zeros_like(z), np.zeros(2, dt)
        for loss in sorted(DEFAULT_PARAMS) if losses is None else losses:
            for act in (IDENTITY, SOFTMAX) if loss in _SOFTMAX_SPECIFIC else (IDENTITY,):
                loss_score_and_gradient(loss, loss_params(loss), act, params(act), y, z, np.empty(0, dt), a, g, r)
