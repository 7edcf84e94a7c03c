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

Numerics: float64 uses libm (exact paths for gradient checks); float32 uses vectorisable polynomial exp/log
defined here (relative error ≤ 2e-7; IEEE special values kept: log 0 = −∞, log of a negative = NaN, log ∞ = ∞;
exp is clamped to [e^−87.3, e^88.7], so it neither overflows to ∞ nor flushes to 0). Row sums run in the array
type (so that they vectorise), totals in float64. Every kernel has explicit float32 and float64 signatures,
``cache=True``, ``error_model='numpy'`` and no ``nnan``/``ninf`` fast-math flags (DL4J's ±∞/NaN rules need IEEE
semantics); nothing here allocates.
"""
from __future__ import annotations

import functools
import math
import threading

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

from . import activations as KA

__all__ = [
    "BERNOULLI", "GAUSSIAN", "EXPONENTIAL", "LOSS", "nll_and_gradient", "part_nll", "part_grad_finish",
    "part_generate", "reparam_forward", "reparam_backward", "exp_scalar", "log_scalar",
    "warmup",
]

BERNOULLI, GAUSSIAN, EXPONENTIAL, LOSS = 0, 1, 2, 3

_FLAGS = {"nsz", "contract", "reassoc", "arcp"}
_OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath=_FLAGS)
_FLOATS = (nb.float32, nb.float64)
_F1 = nb.float64[::1]
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class _LazyKernel:
    """A numba kernel with one explicit signature per dtype (``make_sig(float32)``, ``make_sig(float64)``), each
    compiled (or loaded from numba's cache) on the first call with that dtype rather than at import. The dtype is
    read from argument ``typed_arg``; the dispatcher never compiles anything else, so calls convert and reject
    arguments exactly as a dispatcher created with both signatures would."""

    def __init__(self, fn, make_sig, typed_arg: int):
        self._dispatcher = nb.njit(**_OPTS)(fn)
        self._dispatcher._can_compile = False  # disable_compile() insists on a compiled signature
        self._sigs = {np.dtype(np.float32): make_sig(nb.float32), np.dtype(np.float64): make_sig(nb.float64)}
        self._ready: set = set()
        self._arg = typed_arg
        self._lock = threading.Lock()
        functools.update_wrapper(self, fn)

    def _compile(self, dtype) -> None:
        with self._lock:
            if dtype not in self._ready:
                self._dispatcher._can_compile = True
                try:
                    self._dispatcher.compile(self._sigs[dtype])
                finally:
                    self._dispatcher._can_compile = False
                self._ready.add(dtype)

    def __call__(self, *args):
        dtype = getattr(args[self._arg], "dtype", None) if len(args) > self._arg else None
        if dtype not in self._ready and dtype in self._sigs:
            self._compile(dtype)
        return self._dispatcher(*args)

    @property
    def py_func(self):
        return self._dispatcher.py_func

    @property
    def signatures(self):
        return self._dispatcher.signatures


def _kernel(make_sig, typed_arg: int = 0):
    return lambda fn: _LazyKernel(fn, make_sig, typed_arg)


# ----------------------------------------------------------------------------------------------------------------
# exp and log: float64 -> libm; float32 -> vectorisable versions (bit casts between int32 and float32)
# ----------------------------------------------------------------------------------------------------------------
_F = np.float32
_LOG2E = _F(1.4426950408889634)
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)  # ln 2 = HI + LO, HI exact in 9 bits
_EXP_LO, _EXP_HI = _F(-87.3), _F(88.7)
_SQRT2 = _F(1.4142135)
_FLT_MIN = _F(1.17549435e-38)
_C2, _C3, _C4, _C5, _C6, _C7 = (_F(1.0 / 2), _F(1.0 / 6), _F(1.0 / 24), _F(1.0 / 120), _F(1.0 / 720), _F(1.0 / 5040))
_EW_JIT = dict(error_model="numpy", fastmath={"nsz", "contract"})


def _exp(x):
    """exp(x) inside kernels (float32: polynomial, float64: math.exp)."""
    raise NotImplementedError("only callable from numba code")


def _log(x):
    """log(x) inside kernels (float32: polynomial, float64: math.log)."""
    raise NotImplementedError("only callable from numba code")


def _exp_f32(x):
    xc = min(max(x, _EXP_LO), _EXP_HI)
    n = np.floor(xc * _LOG2E + _F(0.5))
    r = (xc - n * _LN2_HI) - n * _LN2_LO  # |r| <= ln2/2
    poly = _F(1.0) + r * (_F(1.0) + r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * (_C6 + r * _C7))))))
    # 2^n split in two factors so that n = 128 (x near 88.7) does not overflow the exponent field
    h = np.floor(n * _F(0.5))
    s1 = np.int32((h + _F(127.0)) * _F(8388608.0)).view(np.float32)
    s2 = np.int32((n - h + _F(127.0)) * _F(8388608.0)).view(np.float32)
    res = poly * s1 * s2
    return res if x == x else x  # NaN -> NaN


def _log_f32(x):
    sub = x < _FLT_MIN
    xs = x * _F(8388608.0) if sub else x  # subnormals: scale by 2^23 first
    kadj = _F(23.0) if sub else _F(0.0)
    bits = np.float32(xs).view(np.int32)
    k = np.float32((bits >> 23) - 127) - kadj
    m = np.int32((bits & 0x007FFFFF) | 0x3F800000).view(np.float32)  # mantissa in [1, 2)
    big = m > _SQRT2
    m = m * _F(0.5) if big else m
    k = k + _F(1.0) if big else k
    f = m - _F(1.0)
    s = f / (_F(2.0) + f)
    s2 = s * s
    r = (s + s) * (_F(1.0) + s2 * (_F(1.0 / 3.0) + s2 * (_F(0.2) + s2 * (_F(1.0 / 7.0) + s2 * _F(1.0 / 9.0)))))
    res = k * _LN2_HI + (k * _LN2_LO + r)
    special = _F(np.nan) if x < _F(0.0) else _F(-np.inf)
    res = res if x > _F(0.0) else special
    return res if x < _F(np.inf) else x  # +inf -> +inf, NaN -> NaN


@overload(_exp, jit_options=_EW_JIT)
def _exp_overload(x):
    if x == types.float32:
        return _exp_f32
    if isinstance(x, types.Float):
        return lambda x: math.exp(x)
    return None


@overload(_log, jit_options=_EW_JIT)
def _log_overload(x):
    if x == types.float32:
        return _log_f32
    if isinstance(x, types.Float):
        return lambda x: math.log(x)
    return None


@nb.njit(**_OPTS)
def exp_scalar(x):
    """The kernels' exp (for tests; compiled on first use)."""
    return _exp(x)


@nb.njit(**_OPTS)
def log_scalar(x):
    """The kernels' log (for tests; compiled on first use)."""
    return _log(x)


# ----------------------------------------------------------------------------------------------------------------
# reconstruction distributions
# ----------------------------------------------------------------------------------------------------------------
_NLL_SIG = (lambda t: nb.float64(t[:, ::1], t[:, ::1], t[:, ::1], _F1, nb.boolean, nb.boolean))
_PART_NLL: dict = {}  # kind -> kernel, created on first use


def _make_part_nll(kind):
    """``part_nll`` of one distribution ``kind`` (a compile-time constant: numba prunes the other kinds' branches
    before typing them; it keys the on-disk cache of a closure on its frozen cell values too)."""

    def _part_nll(x, a, grad, row_nll, want_grad, add_rows):
        n = x.shape[0]
        d = x.shape[1]
        rows = a.shape[0]
        w = a.shape[1]
        if n == 0 or rows % n != 0:
            raise ValueError("part_nll: rows of a must be a positive multiple of the rows of x")
        if w != (2 * d if kind == GAUSSIAN else d):
            raise ValueError("part_nll: a has the wrong number of columns for this distribution")
        if row_nll.shape[0] != rows or (want_grad and (grad.shape[0] != rows or grad.shape[1] != w)):
            raise ValueError("part_nll: grad or row_nll has the wrong size")
        if kind != BERNOULLI and kind != GAUSSIAN and kind != EXPONENTIAL:
            raise ValueError("part_nll: unknown distribution kind")
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

    return _LazyKernel(_part_nll, _NLL_SIG, 1)


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
        known = kind in (BERNOULLI, GAUSSIAN, EXPONENTIAL)
        key = int(kind) if known else -1  # -1: a kernel that checks the shapes, then rejects the kind
        k = _PART_NLL.get(key)
        if k is None:
            k = _PART_NLL.setdefault(key, _make_part_nll(key))
        if known:
            _PART_NLL[kind] = k
    return k(x, a, grad, row_nll, want_grad, add_rows)

@_kernel(lambda t: nb.void(nb.boolean, t[:, ::1], t[::1], _F1, nb.float64), 1)
def part_grad_finish(nan_to_zero, grad, db, acc, gscale):
    """grad ← gscale·grad with (``nan_to_zero``, DL4J's Bernoulli rule) NaN entries replaced by 0 first, and
    db = column sums of the result (accumulated in ``acc`` float64[w]; ``db`` length 0: no column sums).

    Signature: ``part_grad_finish(nan_to_zero: bool, grad: T[R, w], db: T[w or 0], acc: float64[w or 0],
    gscale: float) -> None``.
    """
    rows = grad.shape[0]
    w = grad.shape[1]
    sums = db.shape[0] != 0
    if sums and (db.shape[0] != w or acc.shape[0] != w):
        raise ValueError("part_grad_finish: db and acc must have one entry per column")
    T = grad.dtype.type
    gs = T(gscale)
    zero = T(0.0)
    if sums:
        for j in range(w):
            acc[j] = 0.0
    for r in range(rows):
        gr = grad[r]
        if nan_to_zero:
            for j in range(w):
                v = gr[j]
                gr[j] = (v if v == v else zero) * gs
        elif gs != T(1.0):
            for j in range(w):
                gr[j] *= gs
        if sums:
            for j in range(w):
                acc[j] += gr[j]
    if sums:
        for j in range(w):
            db[j] = acc[j]


def nll_and_gradient(kind: int, code: int, p: np.ndarray, x: np.ndarray, o: np.ndarray, b: np.ndarray,
                     a: np.ndarray, grad: np.ndarray | None, db: np.ndarray, row_nll: np.ndarray, acc: np.ndarray,
                     gscale: float = 1.0, add_rows: bool = False, e: np.ndarray | None = None) -> float:
    """NLL and gradient of one leaf distribution with respect to the decoder's pre-activation, all stages:

    ``o`` [R, w] += ``b`` [w] (in place; o keeps the pre-activation), ``a`` = act(o), NLL per row into ``row_nll``
    (or added to it with ``add_rows``) and its total returned; if ``grad`` is given: ``grad`` [R, w] =
    gscale·∂(summed NLL)/∂o including the activation derivative (DL4J's NaN rule for Bernoulli) and ``db`` [w] =
    its column sums (``acc`` float64[w] scratch). ``e`` [R, w]: scratch for ∂NLL/∂a (without it the activation
    backprop runs in place, which makes the activation kernel allocate a scratch block). The activation is
    evaluated deterministically (RReLU with its mean slope). Arrays as in :func:`part_nll`.
    """
    KA.bias_act_forward(code, p, o, b, a)
    want = grad is not None
    g = (grad if e is None else e) if want else a
    total = part_nll(kind, x, a, g, row_nll, want, add_rows)
    if want:
        KA.act_backward(code, p, o, a, g, grad)
        part_grad_finish(kind == BERNOULLI, grad, db, acc, gscale)
    return total


@_kernel(lambda t: nb.void(nb.int64, t[:, ::1], t[:, ::1], t[:, ::1], nb.boolean), 1)
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
@_kernel(lambda t: nb.float64(t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1]))
def reparam_forward(mu, lv, sig, var, eps, z):
    """Given μ and ℓ = log σ² [N, K] (after the pzx activation): σ² = e^ℓ into ``var``, σ = √σ² into ``sig``,
    z[l·N + n] = μ[n] + σ[n]⊙ε[l·N + n] for every sample l (``eps`` and ``z`` [L·N, K]; ``z`` may be ``eps``).
    Returns −½·Σ_{n,k}(1 + ℓ − μ² − σ²) over the N examples (float64, not divided by N).

    Signature: ``reparam_forward(mu, lv, sig, var: T[N, K], eps, z: T[L·N, K]) -> float``.
    """
    n = mu.shape[0]
    k = mu.shape[1]
    for arr in (lv, sig, var):
        if arr.shape[0] != n or arr.shape[1] != k:
            raise ValueError("reparam_forward: latent arrays must all be [N, K]")
    if eps.shape[1] != k or z.shape[0] != eps.shape[0] or z.shape[1] != k or n == 0 or eps.shape[0] % n != 0:
        raise ValueError("reparam_forward: eps and z must be [L*N, K]")
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
    samples = eps.shape[0] // n
    for l in range(samples):
        for i in range(n):
            er = eps[l * n + i]
            zr = z[l * n + i]
            mur = mu[i]
            sgr = sig[i]
            for j in range(k):
                zr[j] = mur[j] + sgr[j] * er[j]
    return kl


@_kernel(lambda t: nb.void(t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1]))
def reparam_backward(mu, sig, var, eps, gz, gmu, glv):
    """Gradients with respect to μ and ℓ (before g′) of REC + KL, given ``gz`` = ∂REC/∂z of all samples
    ([L·N, K], already scaled by 1/L): gmu = Σ_l gz_l + μ, glv = Σ_l ½·gz_l⊙ε_l⊙σ + ½(σ² − 1) ([N, K]).

    Signature: ``reparam_backward(mu, sig, var: T[N, K], eps, gz: T[L·N, K], gmu, glv: T[N, K]) -> None``.
    """
    n = mu.shape[0]
    k = mu.shape[1]
    for arr in (sig, var, gmu, glv):
        if arr.shape[0] != n or arr.shape[1] != k:
            raise ValueError("reparam_backward: latent arrays must all be [N, K]")
    if gz.shape[0] != eps.shape[0] or gz.shape[1] != k or eps.shape[1] != k or n == 0 or eps.shape[0] % n != 0:
        raise ValueError("reparam_backward: eps and gz must be [L*N, K]")
    T = mu.dtype.type
    half = T(0.5)
    one = T(1.0)
    samples = eps.shape[0] // n
    for i in range(n):
        mur = mu[i]
        sgr = sig[i]
        vr = var[i]
        gm = gmu[i]
        gl = glv[i]
        for j in range(k):
            gm[j] = mur[j]
            gl[j] = half * (vr[j] - one)
        for l in range(samples):
            gr = gz[l * n + i]
            er = eps[l * n + i]
            for j in range(k):
                gm[j] += gr[j]
                gl[j] += half * gr[j] * er[j] * sgr[j]


def warmup() -> None:
    """Load (or compile) every kernel for both dtypes."""
    for dt in (np.float32, np.float64):
        x = np.full((2, 3), 0.5, dt)
        for kind, w in ((BERNOULLI, 3), (GAUSSIAN, 6), (EXPONENTIAL, 3)):
            a = np.full((2, w), 0.5, dt)
            g = np.zeros_like(a)
            part_nll(kind, x, a, g, np.zeros(2), True, False)
            part_grad_finish(True, g, np.zeros(w, dt), np.zeros(w), 1.0)
            part_generate(kind, a, x, np.zeros((2, 3), dt), True)
        arrs = [np.zeros((2, 3), dt) for _ in range(7)]
        reparam_forward(*arrs[:6])
        reparam_backward(*arrs)
