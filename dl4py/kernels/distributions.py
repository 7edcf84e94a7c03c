"""Fused kernels of the variational autoencoder: reconstruction distributions p(x|z) and the latent layer.

A reconstruction distribution is described to the kernels as a *part table* — one row per leaf distribution, a
composite (nested or not) being flattened into its leaves (column ranges are made absolute):

=======  ====================================================================================================
column   meaning
=======  ====================================================================================================
0        kind: ``BERNOULLI``, ``GAUSSIAN``, ``EXPONENTIAL`` or ``LOSS`` (a LossFunctionWrapper; the kernels skip
         it except for the bias and the deterministic generation, the engine scores it with the loss kernels)
1        activation code (:mod:`dl4py.kernels.activations`)
2, 3     data columns ``[x0, x1)``
4, 5     distribution-parameter columns ``[p0, p1)`` of the decoder output o (Gaussian: ``p1 − p0 = 2·(x1 − x0)``,
         laid out ``[means | log σ²]``; others: equal widths)
=======  ====================================================================================================

plus a float64 ``[parts, 4]`` table of activation parameters (the ``p`` vector of the activation kernels).

The decoder output ``o`` may hold several samples of z per example, stacked sample-major: ``R = L·N`` rows, row
``r`` belonging to example ``r mod N`` (data row ``x[r mod N]``).

DL4J's conventions (spec ``reconstruction-distributions.md``), honoured exactly:

* NLL sums run over features; the per-row NLL is returned in ``row_nll`` (float64) and the total over all rows is
  the return value (the caller divides by N and L).
* Gradients are ∂(summed NLL)/∂o *including the activation derivative* (activation backprop, softmax as a
  Jacobian-vector product over the part's slice), times ``gscale`` (the engine passes 1/L).
* Bernoulli: p = act(o); A = log p, B = log(1 − p), each ±∞ replaced by 0 *before* multiplying by x (so
  "1·log 0" becomes 0 too, as in DL4J); ∂/∂p = −(x − p)/(p(1 − p)), then the activation backprop, then every NaN
  entry of the gradient → 0 (where p is exactly 0 or 1). For sigmoid this is p − x except where p saturates.
* Gaussian: act over the part's whole 2D slice (so it bounds log σ² too); NLL = ½log2π + ½ℓ + (x−μ)²/(2σ²);
  ∂/∂μ = −(x−μ)/σ², ∂/∂ℓ = ½ − (x−μ)²/(2σ²). No clipping of σ².
* Exponential: γ = act(o), λ = e^γ, NLL = λx − γ, ∂/∂γ = λx − 1. Negative x are not rejected.

Latent layer (spec ``vae.md`` §7–8): :func:`reparam_forward` adds the head biases, applies the pzx activation g to
both heads (μ = g(m), ℓ = g(s)), σ² = e^ℓ, σ = √σ², z = μ + σ⊙ε for every sample and returns the summed KL term
−½·Σ(1 + ℓ − μ² − σ²) (not divided by N). :func:`reparam_backward` turns ∂REC/∂z of all samples (already scaled
by 1/L) into δ_m = g′(m)·(Σ_l G_z,l + μ) and δ_s = g′(s)·(Σ_l ½·G_z,l⊙ε_l⊙σ + ½(σ² − 1)) with their column sums
(the head bias gradients). Summing the samples before g′ is exact for every activation (g′ is linear in its
argument), and equals DL4J's per-sample accumulation up to rounding.

Numerics as in :mod:`dl4py.kernels.activations`: float64 uses libm (exact paths for gradient checks), float32
the vectorisable polynomial exp/log; sums are accumulated in float64. Kernels have explicit float32 and float64
signatures, ``cache=True``, no allocation (the caller passes float64 accumulators and scratch rows), no
``nnan``/``ninf`` fast-math flags (the DL4J infinity/NaN rules above need IEEE semantics).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

from .activations import _act_params, _bwd_row, _exp, _fwd_row

__all__ = [
    "BERNOULLI", "GAUSSIAN", "EXPONENTIAL", "LOSS", "KIND_NAMES", "dist_nll_grad", "dist_generate",
    "reparam_forward", "reparam_backward", "add_row", "copy_rows", "warmup",
]

BERNOULLI, GAUSSIAN, EXPONENTIAL, LOSS = 0, 1, 2, 3
KIND_NAMES = {BERNOULLI: "Bernoulli", GAUSSIAN: "Gaussian", EXPONENTIAL: "Exponential", LOSS: "LossFunctionWrapper"}

_FLAGS = {"nsz", "contract", "reassoc", "arcp"}
_OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath=_FLAGS)
_inline = nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_FLAGS)  # helpers (LLVM inlines them)
_FLOATS = (nb.float32, nb.float64)
_I2 = nb.int64[:, ::1]
_F2 = nb.float64[:, ::1]
_F1 = nb.float64[::1]
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _kernel(make_sig):
    return nb.njit([make_sig(t) for t in _FLOATS], **_OPTS)


# ----------------------------------------------------------------------------------------------------------------
# natural log: float64 -> libm; float32 -> a vectorisable version (exponent/mantissa split with an int<->float bit
# cast, atanh series on [√½, √2]; max relative error 2e-7 over the float32 range, subnormals, 0 -> -inf,
# negative -> NaN, +inf -> +inf, NaN -> NaN, as libm)
# ----------------------------------------------------------------------------------------------------------------
_F = np.float32
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)
_SQRT2 = _F(1.4142135)
_FLT_MIN = _F(1.17549435e-38)


def _log(x):
    """log(x) inside kernels (float32: vectorisable polynomial, float64: math.log)."""
    raise NotImplementedError("only callable from numba code")


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


@overload(_log, jit_options=dict(error_model="numpy", fastmath={"nsz", "contract"}))
def _log_overload(x):
    if x == types.float32:
        return _log_f32
    if isinstance(x, types.Float):
        return lambda x: math.log(x)
    return None


@_inline
def _check_tables(parts, aps, p_cols, d_cols):
    if parts.shape[1] != 6 or aps.shape[0] != parts.shape[0] or aps.shape[1] < 4:
        raise ValueError("part table must be int64[parts, 6] with a float64[parts, 4] activation table")
    for k in range(parts.shape[0]):
        if parts[k, 2] < 0 or parts[k, 3] > d_cols or parts[k, 4] < 0 or parts[k, 5] > p_cols:
            raise ValueError("part column range outside the arrays")


# ----------------------------------------------------------------------------------------------------------------
# per-part row computations (o_s = the part's slice of one decoder-output row, bias already added)
# ----------------------------------------------------------------------------------------------------------------
@_inline
def _bernoulli_row(code, q0, q1, q2, o_s, x_s, a, e, g, want_grad):
    T = o_s.dtype.type
    one = T(1.0)
    zero = T(0.0)
    inf = T(np.inf)
    _fwd_row(code, q0, q1, q2, o_s, a)
    s = 0.0
    for j in range(a.shape[0]):
        p = a[j]
        xv = x_s[j]
        la = _log(p)
        lb = _log(one - p)
        la = la if abs(la) < inf else zero
        lb = lb if abs(lb) < inf else zero
        s -= np.float64(xv * la + (one - xv) * lb)
    if want_grad:
        for j in range(a.shape[0]):
            p = a[j]
            e[j] = (p - x_s[j]) / (p * (one - p))
        _bwd_row(code, q0, q1, q2, o_s, a, e, g)
        for j in range(g.shape[0]):
            v = g[j]
            g[j] = v if v == v else zero
    return s


@_inline
def _gaussian_row(code, q0, q1, q2, o_s, x_s, a, e, g, want_grad):
    T = o_s.dtype.type
    half = T(0.5)
    d = x_s.shape[0]
    _fwd_row(code, q0, q1, q2, o_s, a)
    mu = a[:d]
    lv = a[d:]
    s = 0.0
    for j in range(d):
        var = _exp(lv[j])
        diff = x_s[j] - mu[j]
        s += np.float64(half * lv[j] + diff * diff / (T(2.0) * var))
    s += d * _HALF_LOG_2PI
    if want_grad:
        em = e[:d]
        el = e[d:]
        for j in range(d):
            var = _exp(lv[j])
            diff = x_s[j] - mu[j]
            em[j] = -diff / var
            el[j] = half - diff * diff / (T(2.0) * var)
        _bwd_row(code, q0, q1, q2, o_s, a, e, g)
    return s


@_inline
def _exponential_row(code, q0, q1, q2, o_s, x_s, a, e, g, want_grad):
    T = o_s.dtype.type
    one = T(1.0)
    _fwd_row(code, q0, q1, q2, o_s, a)
    s = 0.0
    for j in range(a.shape[0]):
        lam = _exp(a[j])
        s += np.float64(lam * x_s[j] - a[j])
    if want_grad:
        for j in range(a.shape[0]):
            e[j] = _exp(a[j]) * x_s[j] - one
        _bwd_row(code, q0, q1, q2, o_s, a, e, g)
    return s


@_kernel(lambda t: nb.float64(_I2, _F2, t[:, ::1], t[:, ::1], t[::1], t[:, ::1], t[::1], _F1, _F1, t[:, ::1],
                              nb.float64, nb.boolean))
def dist_nll_grad(parts, aps, x, o, b, grad, db, row_nll, acc, scratch, gscale, want_grad):
    """Add the bias to the decoder output and compute the distribution's NLL (and gradient), fused.

    ``parts``/``aps``: the part table (module doc); ``x`` [N, D] data; ``o`` [R, P] decoder output *without* its
    bias (R = L·N, row r ↔ example r mod N), the bias ``b`` [P] is added in place (o keeps the pre-activation);
    ``row_nll`` [R] float64 receives each row's NLL summed over the non-LOSS parts; returns the total.
    With ``want_grad``: ``grad`` [R, P] = gscale·∂(summed NLL)/∂o on the non-LOSS parts' columns (other columns
    untouched) and ``db`` [P] = column sums of it (same columns; accumulated in ``acc`` [P], float64).
    ``scratch`` [2, P] is row scratch. Without ``want_grad``, ``grad``, ``db`` and ``acc`` are not touched.

    Signature: ``dist_nll_grad(parts: int64[K, 6], aps: float64[K, 4], x: T[N, D], o: T[R, P], b: T[P],
    grad: T[R, P], db: T[P], row_nll: float64[R], acc: float64[P], scratch: T[2, P], gscale: float,
    want_grad: bool) -> float``.
    """
    n = x.shape[0]
    rows = o.shape[0]
    pc = o.shape[1]
    _check_tables(parts, aps, pc, x.shape[1])
    if n == 0 or rows % n != 0:
        raise ValueError("decoder output rows must be a multiple of the data rows")
    if b.shape[0] != pc or row_nll.shape[0] != rows or scratch.shape[0] < 2 or scratch.shape[1] < pc:
        raise ValueError("bias, row_nll or scratch has the wrong size")
    if want_grad:
        if grad.shape[0] != rows or grad.shape[1] != pc or db.shape[0] != pc or acc.shape[0] != pc:
            raise ValueError("grad, db or acc has the wrong size")
        for c in range(pc):
            acc[c] = 0.0
    T = o.dtype.type
    gs = T(gscale)
    total = 0.0
    for r in range(rows):
        orow = o[r]
        for c in range(pc):
            orow[c] += b[c]
        xr = x[r % n]
        s_row = 0.0
        for k in range(parts.shape[0]):
            kind = parts[k, 0]
            if kind == LOSS:
                continue
            code = parts[k, 1]
            x0, x1, p0, p1 = parts[k, 2], parts[k, 3], parts[k, 4], parts[k, 5]
            q0, q1, q2 = _act_params(code, aps[k], orow)
            w = p1 - p0
            o_s = orow[p0:p1]
            x_s = xr[x0:x1]
            a = scratch[0, :w]
            e = scratch[1, :w]
            g = grad[r, p0:p1] if want_grad else scratch[1, :w]
            if kind == BERNOULLI:
                s_row += _bernoulli_row(code, q0, q1, q2, o_s, x_s, a, e, g, want_grad)
            elif kind == GAUSSIAN:
                s_row += _gaussian_row(code, q0, q1, q2, o_s, x_s, a, e, g, want_grad)
            elif kind == EXPONENTIAL:
                s_row += _exponential_row(code, q0, q1, q2, o_s, x_s, a, e, g, want_grad)
            else:
                raise ValueError("unknown distribution kind")
            if want_grad:
                ac = acc[p0:p1]
                for j in range(g.shape[0]):
                    v = g[j] * gs
                    g[j] = v
                    ac[j] += v
        row_nll[r] = s_row
        total += s_row
    if want_grad:
        for k in range(parts.shape[0]):
            if parts[k, 0] != LOSS:
                for c in range(parts[k, 4], parts[k, 5]):
                    db[c] = acc[c]
    return total


@_kernel(lambda t: nb.void(_I2, _F2, t[:, ::1], t[:, ::1], t[:, ::1], t[::1], nb.boolean))
def dist_generate(parts, aps, o, noise, out, scratch, random):
    """Samples (``random``) or means of p(x|o) into ``out`` [N, D], from the decoder output ``o`` [N, P] (bias
    included). ``noise`` [N, D] (used only when ``random``): U(0, 1) draws in the Bernoulli and Exponential
    columns, N(0, 1) draws in the Gaussian columns, ignored in LOSS columns. ``scratch`` [P] row scratch.

    Means: Bernoulli act(o); Gaussian act(o[:, means]) (the activation applied to the mean half only, as DL4J);
    Exponential exp(−act(o)) = 1/λ; LOSS act(o). Samples: Bernoulli 1 where u < p else 0; Gaussian
    μ + σ·n with the activation over the whole 2D slice; Exponential −log(u)/λ; LOSS act(o) (deterministic).
    """
    rows = o.shape[0]
    pc = o.shape[1]
    _check_tables(parts, aps, pc, out.shape[1])
    if out.shape[0] != rows or (random and (noise.shape[0] != rows or noise.shape[1] != out.shape[1])):
        raise ValueError("out/noise have the wrong shape")
    if scratch.shape[0] < pc:
        raise ValueError("scratch too small")
    T = o.dtype.type
    one = T(1.0)
    zero = T(0.0)
    for r in range(rows):
        orow = o[r]
        outr = out[r]
        for k in range(parts.shape[0]):
            kind = parts[k, 0]
            code = parts[k, 1]
            x0, x1, p0, p1 = parts[k, 2], parts[k, 3], parts[k, 4], parts[k, 5]
            q0, q1, q2 = _act_params(code, aps[k], orow)
            d = x1 - x0
            ys = outr[x0:x1]
            if kind == GAUSSIAN and not random:
                a = scratch[:d]
                _fwd_row(code, q0, q1, q2, orow[p0:p0 + d], a)
            else:
                a = scratch[: p1 - p0]
                _fwd_row(code, q0, q1, q2, orow[p0:p1], a)
            if kind == BERNOULLI:
                if random:
                    u = noise[r, x0:x1]
                    for j in range(d):
                        ys[j] = one if u[j] < a[j] else zero
                else:
                    for j in range(d):
                        ys[j] = a[j]
            elif kind == GAUSSIAN:
                if random:
                    nz = noise[r, x0:x1]
                    for j in range(d):
                        ys[j] = a[j] + math.sqrt(_exp(a[d + j])) * nz[j]
                else:
                    for j in range(d):
                        ys[j] = a[j]
            elif kind == EXPONENTIAL:
                if random:
                    u = noise[r, x0:x1]
                    for j in range(d):
                        ys[j] = -_log(u[j]) / _exp(a[j])
                else:
                    for j in range(d):
                        ys[j] = _exp(-a[j])
            else:
                for j in range(d):
                    ys[j] = a[j]


# ----------------------------------------------------------------------------------------------------------------
# latent layer
# ----------------------------------------------------------------------------------------------------------------
@_kernel(lambda t: nb.float64(nb.int64, _F1, t[:, ::1], t[:, ::1], t[::1], t[::1], t[:, ::1], t[:, ::1],
                              t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1]))
def reparam_forward(gcode, gp, m, s, bm, bs, mu, lv, sig, var, eps, z):
    """m += bm, s += bs (in place: they keep the pre-activations); μ = g(m), ℓ = g(s), σ² = e^ℓ, σ = √σ²;
    z[l·N + n] = μ[n] + σ[n]⊙ε[l·N + n] for every sample l (``eps`` and ``z`` [L·N, K], ``z`` may be ``eps``).
    Returns −½·Σ_{n,k}(1 + ℓ − μ² − σ²) over the N examples (float64, not divided by N).

    Signature: ``reparam_forward(gcode: int, gp: float64[4], m, s: T[N, K], bm, bs: T[K], mu, lv, sig, var: T[N, K],
    eps, z: T[L·N, K]) -> float``.
    """
    n = m.shape[0]
    k = m.shape[1]
    for arr in (s, mu, lv, sig, var):
        if arr.shape[0] != n or arr.shape[1] != k:
            raise ValueError("latent arrays must all be [N, K]")
    if bm.shape[0] != k or bs.shape[0] != k:
        raise ValueError("head biases must have length K")
    if eps.shape[1] != k or z.shape[0] != eps.shape[0] or z.shape[1] != k or (n > 0 and eps.shape[0] % n != 0):
        raise ValueError("eps and z must be [L*N, K]")
    T = m.dtype.type
    one = T(1.0)
    q0, q1, q2 = _act_params(gcode, gp, m)
    kl = 0.0
    for i in range(n):
        mr = m[i]
        sr = s[i]
        for j in range(k):
            mr[j] += bm[j]
            sr[j] += bs[j]
        mur = mu[i]
        lvr = lv[i]
        sgr = sig[i]
        vr = var[i]
        _fwd_row(gcode, q0, q1, q2, mr, mur)
        _fwd_row(gcode, q0, q1, q2, sr, lvr)
        acc = 0.0
        for j in range(k):
            v = _exp(lvr[j])
            vr[j] = v
            sgr[j] = math.sqrt(v)
            acc += np.float64(one + lvr[j] - mur[j] * mur[j] - v)
        kl -= 0.5 * acc
    samples = eps.shape[0] // n if n > 0 else 0
    for l in range(samples):
        for i in range(n):
            er = eps[l * n + i]
            zr = z[l * n + i]
            mur = mu[i]
            sgr = sig[i]
            for j in range(k):
                zr[j] = mur[j] + sgr[j] * er[j]
    return kl


@_kernel(lambda t: nb.void(nb.int64, _F1, t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1],
                           t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1], t[::1], t[::1], _F1, t[:, ::1]))
def reparam_backward(gcode, gp, m, s, mu, lv, sig, var, eps, gz, dm, ds, dbm, dbs, acc, scratch):
    """Gradients of REC (given ``gz`` = ∂REC/∂z of all samples, [L·N, K], already scaled by 1/L) plus the KL term
    with respect to the head pre-activations: dm = g′(m)·(Σ_l gz_l + μ), ds = g′(s)·(Σ_l ½·gz_l⊙ε_l⊙σ + ½(σ² − 1)),
    and their column sums dbm, dbs (accumulated in ``acc`` float64[2K]). ``scratch`` [2, K] row scratch.

    Signature: ``reparam_backward(gcode, gp, m, s, mu, lv, sig, var: T[N, K], eps, gz: T[L·N, K],
    dm, ds: T[N, K], dbm, dbs: T[K], acc: float64[2K], scratch: T[2, K]) -> None``.
    """
    n = m.shape[0]
    k = m.shape[1]
    for arr in (s, mu, lv, sig, var, dm, ds):
        if arr.shape[0] != n or arr.shape[1] != k:
            raise ValueError("latent arrays must all be [N, K]")
    if gz.shape[0] != eps.shape[0] or gz.shape[1] != k or eps.shape[1] != k or (n > 0 and eps.shape[0] % n != 0):
        raise ValueError("eps and gz must be [L*N, K]")
    if dbm.shape[0] != k or dbs.shape[0] != k or acc.shape[0] < 2 * k or scratch.shape[0] < 2 or scratch.shape[1] < k:
        raise ValueError("bias gradients, acc or scratch have the wrong size")
    T = m.dtype.type
    half = T(0.5)
    one = T(1.0)
    q0, q1, q2 = _act_params(gcode, gp, m)
    for j in range(2 * k):
        acc[j] = 0.0
    samples = eps.shape[0] // n if n > 0 else 0
    gm = scratch[0, :k]
    gl = scratch[1, :k]
    am = acc[:k]
    al = acc[k : 2 * k]
    for i in range(n):
        mur = mu[i]
        sgr = sig[i]
        vr = var[i]
        for j in range(k):
            gm[j] = mur[j]
            gl[j] = half * (vr[j] - one)
        for l in range(samples):
            gr = gz[l * n + i]
            er = eps[l * n + i]
            for j in range(k):
                gm[j] += gr[j]
                gl[j] += half * gr[j] * er[j] * sgr[j]
        dmr = dm[i]
        dsr = ds[i]
        _bwd_row(gcode, q0, q1, q2, m[i], mur, gm, dmr)
        _bwd_row(gcode, q0, q1, q2, s[i], lv[i], gl, dsr)
        for j in range(k):
            am[j] += dmr[j]
            al[j] += dsr[j]
    for j in range(k):
        dbm[j] = am[j]
        dbs[j] = al[j]


# ----------------------------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------------------------
@_kernel(lambda t: nb.void(t[:, ::1], t[::1]))
def add_row(z, b):
    """z[i, :] += b for every row i."""
    if b.shape[0] != z.shape[1]:
        raise ValueError("add_row: bias length must equal the number of columns")
    for i in range(z.shape[0]):
        r = z[i]
        for j in range(r.shape[0]):
            r[j] += b[j]


@_kernel(lambda t: nb.void(t[:, ::1], t[:, ::1]))
def copy_rows(src, dst):
    """dst[r] = src[r mod N] for every row r of dst (repeat the N rows of src; dst rows a multiple of N)."""
    n = src.shape[0]
    if src.shape[1] != dst.shape[1] or n == 0 or dst.shape[0] % n != 0:
        raise ValueError("copy_rows: dst must be [L*N, D] for src [N, D]")
    for r in range(dst.shape[0]):
        sr = src[r % n]
        dr = dst[r]
        for j in range(sr.shape[0]):
            dr[j] = sr[j]


def warmup() -> None:
    """Load (or compile) every kernel for both dtypes."""
    from .activations import CODE_BY_NAME, params

    for dt in (np.float32, np.float64):
        parts = np.array([[BERNOULLI, CODE_BY_NAME["SIGMOID"], 0, 2, 0, 2],
                          [GAUSSIAN, CODE_BY_NAME["IDENTITY"], 2, 3, 2, 4]], dtype=np.int64)
        aps = np.zeros((2, 4))
        x = np.full((2, 3), 0.5, dt)
        o = np.zeros((2, 4), dt)
        grad = np.zeros_like(o)
        sc = np.zeros((2, 4), dt)
        dist_nll_grad(parts, aps, x, o, np.zeros(4, dt), grad, np.zeros(4, dt), np.zeros(2), np.zeros(4), sc, 1.0, True)
        dist_generate(parts, aps, o, x, np.zeros((2, 3), dt), np.zeros(4, dt), True)
        m = np.zeros((2, 3), dt)
        p = params(CODE_BY_NAME["IDENTITY"])
        arrs = [np.zeros((2, 3), dt) for _ in range(8)]
        reparam_forward(0, p, m, arrs[0], np.zeros(3, dt), np.zeros(3, dt), *arrs[1:5], arrs[5], arrs[6])
        reparam_backward(0, p, m, arrs[0], *arrs[1:5], arrs[5], arrs[6], arrs[7], m.copy(), np.zeros(3, dt),
                         np.zeros(3, dt), np.zeros(6), np.zeros((2, 3), dt))
        add_row(m, np.zeros(3, dt))
        copy_rows(m, arrs[0])
