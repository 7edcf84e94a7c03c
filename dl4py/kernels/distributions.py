"""Kernels of the variational autoencoder: reconstruction distributions p(x|z) and the latent layer.

A reconstruction distribution reaches the kernels one *leaf part* at a time (a composite, nested or not, is
flattened by the engine into its leaves): a kind (``BERNOULLI``, ``GAUSSIAN``, ``EXPONENTIAL``; loss-function
wrappers, ``LOSS``, are scored by the loss kernels), an activation (code + ``p`` vector of :mod:`.activations`),
the part's data columns ``x`` [N, d] and its decoder-output columns ``o`` [R, w] (w = d; Gaussian w = 2d laid
out ``[means | log σ²]``), all C-contiguous. ``o`` may hold several samples of z per example stacked
sample-major: ``R = L·N`` rows, row ``r`` belonging to example ``r mod N``.

:func:`nll_and_gradient` is the one call the engine makes per part: bias + activation (the activation module's
fused ``bias_act_forward``), then :func:`part_nll` (NLL per row and total, and ∂NLL/∂a, one pass), then the
activation's backprop (``act_backward``, in place), then :func:`part_grad_finish` (DL4J's NaN rule, the 1/L scale
and the bias gradient, one pass). The activation maths thus lives in one module; these kernels stay small (they
compile in seconds, where inlining the activation switch into each of them cost ~10 s per kernel).

DL4J's conventions (spec ``reconstruction-distributions.md``), honoured exactly:

* NLL sums run over features (never divided by D); the per-row NLL goes to ``row_nll`` (float64), the total over
  all rows is returned (the engine divides by N and L).
* Gradients are ∂(summed NLL)/∂o *including the activation derivative* (the activation's backprop; softmax as a
  Jacobian-vector product over the part's slice), times ``gscale`` (the engine passes 1/L).
* Bernoulli: p = act(o); A = log p, B = log(1 − p), each ±∞ replaced by 0 *before* multiplying by x (so
  "1·log 0" becomes 0 too, as in DL4J); ∂/∂p = −(x − p)/(p(1 − p)), then the activation backprop, then every NaN
  entry of the gradient → 0 (where p is exactly 0 or 1). For sigmoid this is p − x except where p saturates.
* Gaussian: act over the part's whole 2d slice (so it bounds log σ² too); NLL = ½log2π + ½ℓ + (x−μ)²/(2σ²);
  ∂/∂μ = −(x−μ)/σ², ∂/∂ℓ = ½ − (x−μ)²/(2σ²). No clipping of σ².
* Exponential: γ = act(o), λ = e^γ, NLL = λx − γ, ∂/∂γ = λx − 1. Negative x are not rejected.

Latent layer (spec ``vae.md`` §7–8), around the pzx activation g applied by the engine to both heads
(μ = g(m), ℓ = g(s)): :func:`reparam_forward` computes σ² = e^ℓ, σ = √σ², z = μ + σ⊙ε for every sample and
returns the summed KL term −½·Σ(1 + ℓ − μ² − σ²) (not divided by N); :func:`reparam_backward` turns ∂REC/∂z of all
samples (already scaled by 1/L) into the gradients with respect to μ and ℓ, Σ_l G_z,l + μ and
Σ_l ½·G_z,l⊙ε_l⊙σ + ½(σ² − 1), which g′ then maps to the head pre-activations. Summing the samples before g′ is
exact for every activation (g′ is linear in its argument) and equals DL4J's per-sample accumulation up to
rounding.

Numerics: float64 uses libm (exact paths for gradient checks); float32 uses the vectorisable polynomial exp/log of
:mod:`._fastmath` (``exp_t7``, ``log_s9``: relative error ≤ 2e-7; IEEE special values kept: log 0 = −∞, log of a
negative = NaN, log ∞ = ∞; exp is clamped to [e^−87.3, e^88.7], so it neither overflows to ∞ nor flushes to 0; the
fused Bernoulli + sigmoid kernel has its own exp and log1p, ``_BS_K32``, clamped as the activation exp). Row
sums run in the array type (so that they vectorise), totals in float64. Every kernel has a float32 and a float64
variant, each compiled on the first call with that dtype (or loaded from numba's cache; the engine passes
C-contiguous, writeable arrays of one dtype and Python scalars, so each kernel has one signature per dtype),
``error_model='numpy'`` and no ``nnan``/``ninf`` fast-math flags (DL4J's ±∞/NaN rules need IEEE semantics); nothing
here allocates.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from . import _fastmath
from . import activations as KA
from ._fastmath import bits_f32, f32_bits
from ._fastmath import exp as _act_exp
from ._fastmath import exp_t7 as _exp
from ._fastmath import log_s9 as _log
from ._support import KERNEL_OPTIONS, depend_on, same_shape, select

__all__ = [
    "BERNOULLI", "GAUSSIAN", "EXPONENTIAL", "LOSS", "nll_and_gradient", "part_nll", "part_grad_finish",
    "part_generate", "reparam_forward", "reparam_backward", "exp_scalar", "log_scalar",
    "warmup",
]

BERNOULLI, GAUSSIAN, EXPONENTIAL, LOSS = 0, 1, 2, 3

_FLAGS = {"nsz", "contract", "reassoc", "arcp"}
_OPTS = dict(KERNEL_OPTIONS, fastmath=_FLAGS)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _kernel(fn=None, *, reassociate: bool = True):
    """A numba kernel with ``_OPTS``, compiled on the first call with each dtype (or loaded from numba's cache);
    its cache also depends on ``_fastmath.py``, whose functions it links. ``reassociate=False`` for kernels without
    reductions: the flag then only costs compile time (a quarter of a second for the latent layer's backward)."""
    if fn is None:
        return lambda f: _kernel(f, reassociate=reassociate)
    opts = _OPTS if reassociate else dict(_OPTS, fastmath=_FLAGS - {"reassoc", "arcp"})
    k = nb.njit(**opts)(fn)
    depend_on((_fastmath.__file__,), k)
    return k


@nb.njit(**_OPTS)
def exp_scalar(x):
    """The kernels' exp (for tests; compiled on first use)."""
    return _exp(x)


@nb.njit(**_OPTS)
def log_scalar(x):
    """The kernels' log (for tests; compiled on first use)."""
    return _log(x)


depend_on((_fastmath.__file__,), exp_scalar, log_scalar)


# ----------------------------------------------------------------------------------------------------------------
# reconstruction distributions
# ----------------------------------------------------------------------------------------------------------------
_PART_NLL: dict = {}  # kind -> kernel, created on first use


def _make_part_nll(kind: int):
    """``part_nll`` of one distribution ``kind`` (a compile-time constant: numba prunes the other kinds' branches
    before typing them; it keys the on-disk cache of a closure on its frozen cell values too)."""

    def _part_nll(x, a, grad, row_nll, want_grad, add_rows):
        n = x.shape[0]
        d = x.shape[1]
        rows = a.shape[0]
        if n == 0 or rows % n != 0 or row_nll.shape[0] != rows:
            raise ValueError("part_nll: rows of a must be a positive multiple of the rows of x, one row_nll per row")
        if a.shape[1] != (2 * d if kind == GAUSSIAN else d) or (want_grad and not same_shape(a, grad)):
            raise ValueError("part_nll: a or grad has the wrong number of columns for this distribution")
        T = a.dtype.type
        one = T(1.0)
        zero = T(0.0)
        half = T(0.5)
        two = T(2.0)
        inf = T(np.inf)
        total = 0.0
        for r in range(rows):
            ar = a[r]
            xr = x[r % n]
            s = zero  # row sums in the array type (vectorised), totals in float64
            if kind == BERNOULLI:
                for j in range(d):
                    pv = ar[j]
                    xv = xr[j]
                    la = _log(pv)
                    lb = _log(one - pv)
                    la = la if abs(la) < inf else zero
                    lb = lb if abs(lb) < inf else zero
                    s -= xv * la + (one - xv) * lb
                if want_grad:
                    gr = grad[r]
                    for j in range(d):
                        pv = ar[j]
                        gr[j] = (pv - xr[j]) / (pv * (one - pv))
            elif kind == GAUSSIAN:
                mu = ar[:d]
                lv = ar[d:]
                for j in range(d):
                    diff = xr[j] - mu[j]
                    s += half * lv[j] + diff * diff / (two * _exp(lv[j]))
                if want_grad:
                    gm = grad[r, :d]
                    gl = grad[r, d:]
                    for j in range(d):
                        var = _exp(lv[j])
                        diff = xr[j] - mu[j]
                        gm[j] = -diff / var
                        gl[j] = half - diff * diff / (two * var)
            else:
                for j in range(d):
                    s += _exp(ar[j]) * xr[j] - ar[j]
                if want_grad:
                    gr = grad[r]
                    for j in range(d):
                        gr[j] = _exp(ar[j]) * xr[j] - one
            s64 = np.float64(s) + (d * _HALF_LOG_2PI if kind == GAUSSIAN else 0.0)
            if add_rows:
                row_nll[r] += s64
            else:
                row_nll[r] = s64
            total += s64
        return total

    return _kernel(_part_nll)


def part_nll(kind, x, a, grad, row_nll, want_grad, add_rows):
    """NLL of one leaf distribution given its activated parameters ``a`` = act(o) [R, w] and the data ``x`` [N, d]
    (R a multiple of N, row r ↔ x[r mod N]). ``row_nll`` [R] (float64) receives (``add_rows``: is incremented by)
    each row's NLL; the total is returned. With ``want_grad``, ``grad`` [R, w] receives ∂(summed NLL)/∂a
    (before the activation backprop).

    Signature: ``part_nll(kind: int, x: T[N, d], a: T[R, w], grad: T[R, w], row_nll: float64[R],
    want_grad: bool, add_rows: bool) -> float``.
    """
    k = _PART_NLL.get(kind)
    if k is None:
        if kind not in (BERNOULLI, GAUSSIAN, EXPONENTIAL):
            raise ValueError(f"part_nll: unknown distribution kind {kind!r}")
        k = _PART_NLL.setdefault(int(kind), _make_part_nll(int(kind)))
    return k(x, a, grad, row_nll, want_grad, add_rows)


part_grad_finish = KA.grad_finish
"""grad ← gscale·grad with (``nan_to_zero``, DL4J's Bernoulli rule) NaN entries replaced by 0 first, and db = column
sums of the result (accumulated in ``acc`` float64[≥ w]; ``db`` length 0: no column sums): the activation module's
``grad_finish``. Signature: ``part_grad_finish(nan_to_zero: bool, grad: T[R, w], db: T[w or 0], acc: float64[≥ w],
gscale: float) -> None``."""


@_kernel
def _bs_rows_f64(x, o, b, a, grad, er, row_nll, acc, gs, want_grad, add_rows):
    # the loops of the four kernels of the general path, every intermediate through memory as there: bit for bit
    # the general path's results (libm exp/log), the exact path gradient checks use
    n = x.shape[0]
    d = x.shape[1]
    one = 1.0
    zero = 0.0
    inf = np.inf
    total = 0.0
    for r in range(o.shape[0]):
        orow = o[r]
        ar = a[r]
        xr = x[r % n]
        for j in range(d):
            v = orow[j] + b[j]
            orow[j] = v
            ar[j] = one / (one + _act_exp(-v))
        s = zero
        for j in range(d):  # as part_nll's loop: the vectoriser's choices, so the order of these sums, stay the same
            pv = ar[j]
            xv = xr[j]
            la = _log(pv)
            lb = _log(one - pv)
            la = la if abs(la) < inf else zero
            lb = lb if abs(lb) < inf else zero
            s -= xv * la + (one - xv) * lb
        if add_rows:
            row_nll[r] += s
        else:
            row_nll[r] = s
        total += s
        if want_grad:
            gr = grad[r]
            for j in range(d):
                pv = ar[j]
                er[j] = (pv - xr[j]) / (pv * (one - pv))
            for j in range(d):  # through memory: (p − x)/(p(1 − p)) and p(1 − p) must not meet in one expression
                gr[j] = er[j] * (ar[j] * (one - ar[j]))
            for j in range(d):
                v = select(gr[j] == gr[j], gr[j], zero) * gs
                gr[j] = v
                acc[j] += v
    return total


_ZERO32 = np.float32(0.0)
# The float32 kernel's constants. They reach it as an array (its last argument), so that LLVM keeps them as values in
# registers or stack slots across the loop: numba's large code model re-materialises each literal constant inside
# the loop instead (an absolute address plus a broadcast load: a quarter of the loop's instructions).
_BS_K32 = np.array([
    87.0,  # clamp of |v|, as the activation exp's: p >= e^-87 / (1 + e^-87), log p >= -87 - log1p(e^-87)
    1.4426950408889634, 12582912.0 + 127.0,  # log2 e; 1.5·2^23 + 127 (adding it rounds to an integer, in the low bits)
    0.693359375, -2.12194440e-4,  # ln 2 = HI + LO, HI exact in 9 bits
    1.0,
    # e^r = 1 + r + r²(c2 + c3 r + ... + c6 r⁴) on |r| <= ln2/2, minimax: relative error 3e-9
    0.4999999403953552, 0.1666652113199234, 0.04166838899254799, 0.008368716575205326, 0.001381459878757596,
    # log1p(e) = e(1 + q1 e + ... + q8 e⁸) on [0, 1], minimax: relative error 3.3e-8
    -0.49999648332595825, 0.3332132399082184, -0.24857163429260254, 0.19153651595115662, -0.13753795623779297,
    0.07920445501804352, -0.030065739527344704, 0.005364810582250357], np.float32)


@nb.njit(error_model="numpy", fastmath={"nsz", "contract"}, forceinline=True, no_cpython_wrapper=True,
         no_cfunc_wrapper=True)
def _bs_elem_f32(v, x, k):
    """p = σ(v), the NLL term −x log p − (1 − x) log(1 − p) and p − x of one element, DL4J's rules applied
    (``_bs_rows_f32``); ``k``: the values of ``_BS_K32``. A function of its own for its fast-math flags: the
    kernel's reassoc would fold away the rounding by 1.5·2^23 and the two-part ln 2."""
    clamp, log2e, magic, ln2_hi, ln2_lo, one, c2, c3, c4, c5, c6, q1, q2, q3, q4, q5, q6, q7, q8 = k
    av = abs(v)
    c = select(av > clamp, clamp, av)  # NaN kept
    t = magic - c * log2e  # 1.5·2^23 + 127 + n, n = round(−c log2 e)
    n = t - magic
    r = (-c - n * ln2_hi) - n * ln2_lo
    r2 = r * r  # Estrin-like (a shorter dependency chain): the loop is bound by latency as much as by throughput
    e = ((one + r) + r2 * ((c2 + c3 * r) + r2 * ((c4 + c5 * r) + r2 * c6))) * bits_f32(np.int32(f32_bits(t) << 23))
    neg = v < _ZERO32
    p = select(neg, e, one) / (one + e)  # e = e^−|v|
    # Horner: powers of e (Estrin) would be subnormal, and slow, from |v| > 22 on
    lp = e * (one + e * (q1 + e * (q2 + e * (q3 + e * (q4 + e * (q5 + e * (q6 + e * (q7 + e * q8))))))))
    # −log p = lp + max(−v, 0), −log(1 − p) = lp + max(v, 0) (the clamp included: the logs of the p written)
    nll = select(neg, x, one - x) * c + lp
    nll = select(p < one, nll, x * lp)  # p == 1: log(1 − p) = −∞ -> 0
    g = p - x
    return p, select(v == v, nll, _ZERO32), select((p < one) & (g == g), g, _ZERO32)


@_kernel
def _bs_rows_f32(x, o, b, a, grad, er, row_nll, acc, gs, want_grad, add_rows, kc):
    # log p and log(1 − p) as −softplus(∓v) = −(max(∓v, 0) + log1p(e^−|v|)): one exp (shared with p), a polynomial
    # and one division per element; ∂NLL/∂o = p − x. Equal to the general path to float32 rounding (log(1 − p) is
    # more accurate here: it does not go through the rounded p). DL4J's rules on float32's saturated p: p == 1 ->
    # log(1 − p) = 0 and gradient 0; NaN -> 0. ``kc``: ``_BS_K32``.
    k = (kc[0], kc[1], kc[2], kc[3], kc[4], kc[5], kc[6], kc[7], kc[8], kc[9], kc[10], kc[11], kc[12], kc[13], kc[14],
         kc[15], kc[16], kc[17], kc[18])
    n = x.shape[0]
    d = x.shape[1]
    total = 0.0
    for r in range(o.shape[0]):
        orow = o[r]
        ar = a[r]
        xr = x[r % n]
        gr = grad[r] if want_grad else er  # without want_grad, grad may be a itself
        for j in range(d):
            orow[j] += b[j]
        s = _ZERO32  # row sums in float32 (vectorised), totals in float64
        for j in range(d):  # o, x, a, gr only: few enough pointers for the vectoriser's runtime alias checks
            pv, t, g = _bs_elem_f32(orow[j], xr[j], k)
            ar[j] = pv
            gr[j] = g * gs  # here, not in a loop of its own: the stores overlap the arithmetic
            s += t
        s64 = np.float64(s)
        if add_rows:
            row_nll[r] += s64
        else:
            row_nll[r] = s64
        total += s64
        if want_grad:
            for j in range(d):
                acc[j] += gr[j]
    return total


def _bernoulli_sigmoid(x, o, b, a, grad, er, db, row_nll, acc, gscale, want_grad, add_rows) -> float:
    """:func:`nll_and_gradient` for a Bernoulli part with the sigmoid activation (DL4J's default), in one kernel.

    float64 runs the loops of the four kernels of the general path (bias + sigmoid, NLL, ∂NLL/∂a, the sigmoid's
    backprop, DL4J's NaN rule + 1/L scale + column sums), bit for bit their results; float32 runs one branch-free
    vectorised loop per row for the maths (log-sigmoid form, equal to the general path to float32 rounding; its
    constants ``_BS_K32`` passed along). One kernel per dtype, chosen here (so each compiles only its own body).
    ``er`` [≥ d] holds ∂NLL/∂a of one row (float64), the unused gradient row without ``want_grad`` (float32);
    ``acc`` [≥ d] the float64 column sums (written to ``db`` unless it is empty); ``grad`` is not touched without
    ``want_grad``.
    """
    n, d = x.shape
    rows = o.shape[0]
    if (o.shape != a.shape or o.shape[1] != d or b.shape != (d,) or n == 0 or rows % n or row_nll.shape != (rows,)
            or er.shape[0] < d or (want_grad and (grad.shape != o.shape or acc.shape[0] < d
                                                  or db.shape[0] not in (d, 0)))):
        raise ValueError("nll_and_gradient: o, a, grad must be [R, d] with R a multiple of the rows of x [N, d], "
                         "b and db [d], row_nll [R]")
    if want_grad:
        acc[:d] = 0.0
    args = (x, o, b, a, grad, er, row_nll, acc, o.dtype.type(gscale), want_grad, add_rows)
    total = _bs_rows_f32(*args, _BS_K32) if o.dtype == np.float32 else _bs_rows_f64(*args)
    if want_grad and db.shape[0] != 0:
        db[:] = acc[:d]
    return total


def nll_and_gradient(kind: int, code: int, p: np.ndarray, x: np.ndarray, o: np.ndarray, b: np.ndarray,
                     a: np.ndarray, grad: np.ndarray | None, db: np.ndarray, row_nll: np.ndarray, acc: np.ndarray,
                     gscale: float = 1.0, add_rows: bool = False, e: np.ndarray | None = None) -> float:
    """NLL and gradient of one leaf distribution with respect to the decoder's pre-activation, all stages:

    ``o`` [R, w] += ``b`` [w] (in place; o keeps the pre-activation), ``a`` = act(o), NLL per row into ``row_nll``
    (or added to it with ``add_rows``) and its total returned; if ``grad`` is given: ``grad`` [R, w] =
    gscale·∂(summed NLL)/∂o including the activation derivative (DL4J's NaN rule for Bernoulli) and ``db`` [w] =
    its column sums (``acc`` float64[w] scratch). ``e`` [R, w]: scratch for ∂NLL/∂a (without it ∂NLL/∂a goes to
    ``grad`` and the activation backprop runs in place there). The activation is evaluated deterministically
    (RReLU with its mean slope). Arrays as in :func:`part_nll`. Bernoulli with a sigmoid runs as one kernel.
    """
    want = grad is not None
    if kind == BERNOULLI and code == KA.SIGMOID:
        g = grad if want else a
        er = KA.scratch(KA._empty(o, b, a, g).dtype, o.shape[1], 2) if e is None else e.reshape(-1)
        if want and db.shape[0] == 0:
            acc = KA.scratch(np.dtype(np.float64), o.shape[1], 1)
        return _bernoulli_sigmoid(x, o, b, a, g, er, db, row_nll, acc, gscale, want, add_rows)
    KA.bias_act_forward(code, p, o, b, a)
    g = (grad if e is None else e) if want else a
    total = part_nll(kind, x, a, g, row_nll, want, add_rows)
    if want:
        KA.act_backward(code, p, o, a, g, grad)
        part_grad_finish(kind == BERNOULLI, grad, db, acc, gscale)
    return total


@_kernel
def part_generate(kind, a, noise, out, random):
    """Mean (``random`` false) or one random draw of one leaf distribution into ``out`` [N, d], given its
    activated parameters ``a`` [N, w] (= act(o), bias included).

    Means: Bernoulli a (the probability); Gaussian a[:, :d] (the caller applies the activation to the mean half
    only, as DL4J); Exponential exp(−a) = 1/λ; LOSS a. Draws: ``noise`` [N, d] holds U(0, 1) values for
    Bernoulli and Exponential, N(0, 1) values for Gaussian: Bernoulli 1 where u < p else 0; Gaussian μ + σ·n;
    Exponential −log(u)/λ; LOSS a (deterministic, noise unused).

    Signature: ``part_generate(kind: int, a: T[N, w], noise: T[N, d], out: T[N, d], random: bool) -> None``.
    """
    rows = a.shape[0]
    d = out.shape[1]
    w = a.shape[1]
    if out.shape[0] != rows:
        raise ValueError("part_generate: a and out must have the same number of rows")
    if w != (2 * d if (kind == GAUSSIAN and random) else d):
        raise ValueError("part_generate: a has the wrong number of columns for this distribution")
    if random and kind != LOSS and (noise.shape[0] != rows or noise.shape[1] != d):
        raise ValueError("part_generate: noise must be [N, d]")
    T = a.dtype.type
    one = T(1.0)
    zero = T(0.0)
    for r in range(rows):
        ar = a[r]
        yr = out[r]
        if kind == BERNOULLI and random:
            u = noise[r]
            for j in range(d):
                yr[j] = one if u[j] < ar[j] else zero
        elif kind == GAUSSIAN and random:
            nz = noise[r]
            for j in range(d):
                yr[j] = ar[j] + math.sqrt(_exp(ar[d + j])) * nz[j]
        elif kind == EXPONENTIAL and random:
            u = noise[r]
            for j in range(d):
                yr[j] = -_log(u[j]) / _exp(ar[j])
        elif kind == EXPONENTIAL:
            for j in range(d):
                yr[j] = _exp(-ar[j])
        else:
            for j in range(d):
                yr[j] = ar[j]


# ----------------------------------------------------------------------------------------------------------------
# latent layer
# ----------------------------------------------------------------------------------------------------------------
@_kernel
def reparam_forward(mu, lv, sig, var, eps, z):
    """Given μ and ℓ = log σ² [N, K] (after the pzx activation): σ² = e^ℓ into ``var``, σ = √σ² into ``sig``,
    z[l·N + n] = μ[n] + σ[n]⊙ε[l·N + n] for every sample l (``eps`` and ``z`` [L·N, K]; ``z`` may be ``eps``).
    Returns −½·Σ_{n,k}(1 + ℓ − μ² − σ²) over the N examples (float64, not divided by N).

    Signature: ``reparam_forward(mu, lv, sig, var: T[N, K], eps, z: T[L·N, K]) -> float``.
    """
    n = mu.shape[0]
    k = mu.shape[1]
    if not same_shape(mu, lv, sig, var) or not same_shape(eps, z) or eps.shape[1] != k or n == 0 or eps.shape[0] % n:
        raise ValueError("reparam_forward: mu, lv, sig, var must be [N, K], eps and z [L*N, K]")
    T = mu.dtype.type
    one = T(1.0)
    kl = 0.0
    for i in range(n):
        mur = mu[i]
        lvr = lv[i]
        sgr = sig[i]
        vr = var[i]
        acc = 0.0
        for j in range(k):
            v = _exp(lvr[j])
            vr[j] = v
            sgr[j] = math.sqrt(v)
            acc += np.float64(one + lvr[j] - mur[j] * mur[j] - v)
        kl -= 0.5 * acc
    for r in range(eps.shape[0]):  # one loop over all samples' rows: LLVM does not version it as a nest
        i = r % n
        for j in range(k):
            z[r, j] = mu[i, j] + sig[i, j] * eps[r, j]
    return kl


@_kernel(reassociate=False)  # element-wise only (column sums per row, no reduction to reorder)
def reparam_backward(mu, sig, var, eps, gz, gmu, glv, db_mu=None, db_lv=None, acc=None):
    """Gradients with respect to μ and ℓ (before g′) of REC + KL, given ``gz`` = ∂REC/∂z of all samples
    ([L·N, K], already scaled by 1/L): gmu = Σ_l gz_l + μ, glv = Σ_l ½·gz_l⊙ε_l⊙σ + ½(σ² − 1) ([N, K]). With
    ``db_mu`` and ``db_lv`` [K] (and the float64 scratch ``acc``, at least 2K long) also their column sums, the bias
    gradients of the two heads when g is the identity.

    Signature: ``reparam_backward(mu, sig, var: T[N, K], eps, gz: T[L·N, K], gmu, glv: T[N, K][, db_mu, db_lv: T[K],
    acc: float64[≥ 2K]]) -> None``.
    """
    n = mu.shape[0]
    k = mu.shape[1]
    if (not same_shape(mu, sig, var, gmu, glv) or not same_shape(eps, gz) or eps.shape[1] != k or n == 0
            or eps.shape[0] % n):
        raise ValueError("reparam_backward: mu, sig, var, gmu, glv must be [N, K], eps and gz [L*N, K]")
    if db_mu is not None and (db_mu.shape[0] != k or db_lv.shape[0] != k or acc.shape[0] < 2 * k):
        raise ValueError("reparam_backward: db_mu and db_lv must be [K], acc at least 2K long")
    # One pass per stage over all rows (rather than stages nested in a loop over the rows): LLVM then neither
    # versions the row loop for "no samples" nor vectorises each stage twice, a quarter less compile time.
    T = mu.dtype.type
    half = T(0.5)
    one = T(1.0)
    for i in range(n):
        for j in range(k):
            gmu[i, j] = mu[i, j]
            glv[i, j] = half * (var[i, j] - one)
    for r in range(eps.shape[0]):  # the samples in order: each element sums them as before
        i = r % n
        for j in range(k):
            gmu[i, j] += gz[r, j]
            glv[i, j] += half * gz[r, j] * eps[r, j] * sig[i, j]
    if db_mu is not None:
        for j in range(2 * k):
            acc[j] = 0.0
        for i in range(n):
            for j in range(k):
                acc[j] += gmu[i, j]
                acc[k + j] += glv[i, j]
        for j in range(k):
            db_mu[j] = acc[j]
            db_lv[j] = acc[k + j]


def warmup() -> None:
    """Load (or compile) every kernel for both dtypes (the activation kernels ``nll_and_gradient`` uses for other
    activations than the sigmoid compile with the activation module's ``warmup``)."""
    for dt in (np.float32, np.float64):
        x = np.full((2, 3), 0.5, dt)
        for kind, w in ((BERNOULLI, 3), (GAUSSIAN, 6), (EXPONENTIAL, 3)):
            a = np.full((2, w), 0.5, dt)
            g = np.zeros_like(a)
            part_nll(kind, x, a, g, np.zeros(2), True, False)
            part_grad_finish(True, g, np.zeros(w, dt), np.zeros(w), 1.0)
            part_generate(kind, a, x, np.zeros((2, 3), dt), True)
        o, a, g = np.zeros((2, 3), dt), np.zeros((2, 3), dt), np.zeros((2, 3), dt)
        nll_and_gradient(BERNOULLI, KA.SIGMOID, KA.params(KA.SIGMOID), x, o, np.zeros(3, dt), a, g, np.zeros(3, dt),
                         np.zeros(2), np.zeros(3))
        arrs = [np.zeros((2, 3), dt) for _ in range(7)]
        reparam_forward(*arrs[:6])
        reparam_backward(*arrs)
        reparam_backward(*arrs, np.zeros(3, dt), np.zeros(3, dt), np.zeros(6))
