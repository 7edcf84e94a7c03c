"""Activation functions of DL4J (``org.nd4j.linalg.activations``) as fused numba kernels.

Public functions (all arrays of one dtype, float32 or float64, 2-D [N, D] C-contiguous unless stated):

* ``act_forward(code, p, z, out)``: out = f(z) (SOFTMAX row-wise, max-shifted); ``out`` may be ``z``;
* ``bias_act_forward(code, p, z, b, out)``: z += b (b [D]), then out = f(z), fused per L1-sized block;
* ``act_backward(code, p, z, out, eps, delta)``: delta = f'(z) ⊙ eps (SOFTMAX: s ⊙ (eps − Σ_k eps_k s_k)), with
  ``out`` = f(z) from the forward pass; ``delta`` may be ``eps``;
* ``act_backward_bias(code, p, z, out, eps, delta, db)``: the same plus db [D] = Σ_rows delta (float64 sums);
* ``rrelu_forward_train(z, alpha, out)`` / ``rrelu_backward_train(z, alpha, eps, delta)``: RReLU in training with
  per-element slopes ``alpha`` drawn by the caller from U(l, u).

``code`` is one of the module constants (``CODE_BY_NAME`` maps DL4J's enum names to them); ``p`` is a float64
array of length 4 (``params(code, ...)`` fills DL4J's defaults, ``DEFAULT_PARAMS``):

=================  ===============================================================================================
code               p
=================  ===============================================================================================
RELU               ``[max (NaN = none), threshold, negativeSlope, -]`` (DL4J's nulls -> NaN, 0, 0): x ≥ t -> x,
                   else s·(x − t); then min(·, max); derivative 1 for x > t else s, 0 where x ≥ max
LEAKYRELU, ELU     ``[alpha, -, -, -]`` (DL4J defaults 0.01 and 1.0)
RRELU              ``[l, u, -, -]`` (defaults 1/8, 1/3)
THRESHOLDEDRELU    ``[theta, -, -, -]`` (default 1.0)
GELU               ``[1.0 if precise else 0.0, -, -, -]``
others             unused
=================  ===============================================================================================

Formulas and derivatives follow DL4J (spec §6). Choices worth knowing:

* RRELU in inference is a leaky ReLU with slope (l+u)/2, the documented intent. DL4J *as coded* computes
  max(x, (l+u)/2) (the mean slope is passed as the cut-off of ND4J's ReLU op); that bug is not reproduced.
* GELU precise is the form DL4J codes, ½x(1 + tanh(√(2/π)·(x + (0.044715·x)³))) (note the cube of 0.044715·x),
  evaluated as x·σ(2u); its backward is the exact derivative of that form (DL4J's own derivative differs).
* SOFTPLUS is max(x, 0) + log1p(e^−|x|) and RATIONALTANH uses (a−1)/a for 1 − 1/a: the same values as DL4J's
  formulas without their overflow/cancellation.

Numerics: float64 uses libm (``math.exp``, ``expm1``, ``tanh``, ``log1p``, ``log``): exact paths for gradient
checks. float32 uses vectorisable polynomial exp, expm1, tanh, log1p(e^−|x|) and log written here (Cody-Waite range
reduction with an int<->float bit cast, minimax-fitted polynomials; relative error ≤ 2.5e-7 against float64 over the
float32 range, exp clamped to [e^−87, e^88], IEEE special values of log kept). libm's exp is a scalar call in numba
(no SVML in the PyPI llvmlite): on this machine (Zen 3, AVX2) sigmoid forward of a 128×256 float32 array takes
~19 µs with the polynomial and ~130 µs with ``math.exp``; NumPy (``np.exp`` + add + reciprocal, ``out=``) ~95 µs.

Structure: the activation switch is written once in each of two compiled drivers, ``_forward`` and ``_backward``
(one branch per activation outside the element loops), each compiled once per dtype; the public functions are thin
Python entries over them (every compiled wrapper around the switch would cost seconds of cold compile: numba
re-types inlined code and LLVM re-optimises linked code in each caller). Kernels compile lazily (one signature per
dtype: the entries reject mixed dtypes; pass C-contiguous arrays and a float64 ``p`` or numba compiles another
variant) and are cached on disk; ``warmup()`` compiles or loads them all. In-place calls are computed through a
thread-local L1-sized scratch block (LLVM's runtime overlap check would otherwise send an in-place loop down the
scalar path); nothing is allocated per call once the scratch buffers exist. Partially overlapping arrays are not
supported. No ``nnan``/``ninf`` fast-math flags (NaN and ±inf keep IEEE semantics; min/max take the data first, so
NaN propagates as in DL4J's ops); ``reassoc`` lets the reductions vectorise.
"""
from __future__ import annotations

import math
import threading

import numba as nb
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.core.imputils import impl_ret_borrowed
from numba.np.arrayobj import make_array, populate_array

__all__ = [
    "IDENTITY", "SIGMOID", "TANH", "RELU", "LEAKYRELU", "ELU", "SELU", "SOFTMAX", "SOFTPLUS", "SOFTSIGN", "CUBE",
    "HARDSIGMOID", "HARDTANH", "RATIONALTANH", "RECTIFIEDTANH", "RELU6", "RRELU", "SWISH", "THRESHOLDEDRELU", "GELU",
    "MISH", "CODE_BY_NAME", "NAME_BY_CODE", "DEFAULT_PARAMS", "params", "act_forward", "bias_act_forward",
    "act_backward", "act_backward_bias", "rrelu_forward_train", "rrelu_backward_train", "warmup",
]

(IDENTITY, SIGMOID, TANH, RELU, LEAKYRELU, ELU, SELU, SOFTMAX, SOFTPLUS, SOFTSIGN, CUBE, HARDSIGMOID, HARDTANH,
 RATIONALTANH, RECTIFIEDTANH, RELU6, RRELU, SWISH, THRESHOLDEDRELU, GELU, MISH) = range(21)

CODE_BY_NAME: dict[str, int] = {
    "IDENTITY": IDENTITY, "SIGMOID": SIGMOID, "TANH": TANH, "RELU": RELU, "LEAKYRELU": LEAKYRELU, "ELU": ELU,
    "SELU": SELU, "SOFTMAX": SOFTMAX, "SOFTPLUS": SOFTPLUS, "SOFTSIGN": SOFTSIGN, "CUBE": CUBE,
    "HARDSIGMOID": HARDSIGMOID, "HARDTANH": HARDTANH, "RATIONALTANH": RATIONALTANH, "RECTIFIEDTANH": RECTIFIEDTANH,
    "RELU6": RELU6, "RRELU": RRELU, "SWISH": SWISH, "THRESHOLDEDRELU": THRESHOLDEDRELU, "GELU": GELU, "MISH": MISH,
}
NAME_BY_CODE: dict[int, str] = {v: k for k, v in CODE_BY_NAME.items()}

DEFAULT_PARAMS: dict[int, tuple[float, float, float, float]] = {c: (0.0, 0.0, 0.0, 0.0) for c in NAME_BY_CODE}
DEFAULT_PARAMS.update({
    RELU: (math.nan, 0.0, 0.0, 0.0), LEAKYRELU: (0.01, 0.0, 0.0, 0.0), ELU: (1.0, 0.0, 0.0, 0.0),
    RRELU: (1.0 / 8.0, 1.0 / 3.0, 0.0, 0.0), THRESHOLDEDRELU: (1.0, 0.0, 0.0, 0.0),
})


def params(code: int, *values: float) -> np.ndarray:
    """The float64 ``p`` array for ``code``: the given leading values, DL4J's defaults for the rest."""
    p = np.array(DEFAULT_PARAMS[code], dtype=np.float64)
    p[: len(values)] = values
    return p


# --------------------------------------------------------------------------------------------------------------
# compilation options. No nnan/ninf anywhere (NaN and inf keep their IEEE semantics, the RELU NaN check works);
# reassoc (needed for vectorised reductions) in the kernels; the polynomial primitives are compiled separately
# without reassoc, which would undo the Cody-Waite range reduction, and keep their flags when LLVM inlines them.
# --------------------------------------------------------------------------------------------------------------
_EW_OPTS = dict(error_model="numpy", fastmath={"nsz", "contract"}, forceinline=True)  # LLVM alwaysinline
_FASTMATH = {"nsz", "contract", "reassoc", "arcp"}
_jit = nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)  # lazily compiled, one per dtype
_inline = nb.njit(inline="always", error_model="numpy", fastmath=_FASTMATH)  # inlined at numba-IR level


# --------------------------------------------------------------------------------------------------------------
# dtype-dispatched primitives: float64 -> libm, float32 -> vectorisable polynomials
# --------------------------------------------------------------------------------------------------------------
_F = np.float32
_LOG2E = _F(1.4426950408889634)
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)  # ln 2 = HI + LO, HI exact in 9 bits
_EXP_MIN, _EXP_MAX = _F(-87.0), _F(88.0)
# (e^r - 1 - r) / r^2 on |r| <= ln2/2, minimax-fitted (relative error of e^r 1e-8)
_EQ0, _EQ1, _EQ2, _EQ3, _EQ4 = _F(0.5), _F(0.16666576), _F(0.041666467), _F(0.008363175), _F(0.0013933644)
# (tanh x - x) / x^3 as a polynomial in x^2 on |x| <= 0.6 (relative error 1e-8)
_TQ0, _TQ1, _TQ2, _TQ3, _TQ4 = _F(-0.3333333), _F(0.13332924), _F(-0.053875133), _F(0.0211162), _F(-0.006276371)
# log1p(e) / e on e in [0, 1] (relative error 3e-8)
_LQ = (_F(1.0), _F(-0.49999502), _F(0.3331927), _F(-0.2484437), _F(0.1911143), _F(-0.1367477), _F(0.07836167),
       _F(-0.029588507), _F(0.005253458))
_LQ0, _LQ1, _LQ2, _LQ3, _LQ4, _LQ5, _LQ6, _LQ7, _LQ8 = _LQ
_HALF_LN2 = _F(0.34657359)
_SQRT2 = _F(1.4142135)
_FLT_MIN = _F(1.17549435e-38)


def _exp(x):
    """exp(x) inside kernels (float32: polynomial, float64: math.exp)."""
    raise NotImplementedError("only callable from numba code")


def _expm1(x):
    """exp(x) - 1 without cancellation near 0 (float32: polynomial, float64: math.expm1)."""
    raise NotImplementedError("only callable from numba code")


def _tanh(x):
    """tanh(x) (float32: odd polynomial for |x| < 0.6, else 1 - 2/(e^2|x| + 1); float64: math.tanh)."""
    raise NotImplementedError("only callable from numba code")


def _log1pexp_neg_abs(x):
    """log1p(exp(-|x|)), the tail of the stable softplus."""
    raise NotImplementedError("only callable from numba code")


def _log(x):
    """Natural log (float32: bit-cast exponent + atanh series, IEEE edge cases kept; float64: math.log)."""
    raise NotImplementedError("only callable from numba code")


@_inline
def _exp_q(r):
    return _EQ0 + r * (_EQ1 + r * (_EQ2 + r * (_EQ3 + r * _EQ4)))


def _exp_f32(x):
    x = min(max(x, _EXP_MIN), _EXP_MAX)
    n = np.floor(x * _LOG2E + _F(0.5))
    r = (x - n * _LN2_HI) - n * _LN2_LO
    scale = np.int32((n + _F(127.0)) * _F(8388608.0)).view(np.float32)  # 2^n built in the exponent field
    return (_F(1.0) + r + r * r * _exp_q(r)) * scale


def _expm1_f32(x):
    small = x + x * x * _exp_q(x)
    big = _exp(x) - _F(1.0)
    return small if abs(x) < _HALF_LN2 else big


def _tanh_f32(x):
    ax = abs(x)
    z = x * x
    small = x + x * z * (_TQ0 + z * (_TQ1 + z * (_TQ2 + z * (_TQ3 + z * _TQ4))))
    big = math.copysign(_F(1.0) - _F(2.0) / (_exp(ax + ax) + _F(1.0)), x)
    return small if ax < _F(0.6) else big


def _log1pexp_neg_abs_f32(x):
    e = _exp(-abs(x))
    g = _LQ0 + e * (_LQ1 + e * (_LQ2 + e * (_LQ3 + e * (_LQ4 + e * (_LQ5 + e * (_LQ6 + e * (_LQ7 + e * _LQ8)))))))
    return e * g


def _log_f32(x):
    sub = x < _FLT_MIN
    xs = x * _F(8388608.0) if sub else x  # subnormals: scale by 2^23 first
    bits = np.float32(xs).view(np.int32)
    k = np.float32((bits >> 23) - 127) - (_F(23.0) if sub else _F(0.0))
    m = np.int32((bits & 0x007FFFFF) | 0x3F800000).view(np.float32)  # mantissa in [1, 2)
    big = m > _SQRT2
    m = m * _F(0.5) if big else m
    k = k + _F(1.0) if big else k
    f = m - _F(1.0)
    s = f / (_F(2.0) + f)
    s2 = s * s
    r = (s + s) * (_F(1.0) + s2 * (_F(1.0 / 3.0) + s2 * (_F(0.2) + s2 * _F(1.0 / 7.0))))
    res = k * _LN2_HI + (k * _LN2_LO + r)
    res = res if x < _F(np.inf) else x  # +inf -> +inf
    res = res if x > _F(0.0) else (_F(-np.inf) if x == _F(0.0) else _F(np.nan))
    return res if x == x else x


def _dispatch(stub, f32_impl, f64_impl):
    @overload(stub, jit_options=_EW_OPTS)
    def _ov(x):
        if x == types.float32:
            return f32_impl
        if isinstance(x, types.Float):
            return f64_impl
        return None


_dispatch(_exp, _exp_f32, lambda x: math.exp(x))
_dispatch(_expm1, _expm1_f32, lambda x: math.expm1(x))
_dispatch(_tanh, _tanh_f32, lambda x: math.tanh(x))
_dispatch(_log1pexp_neg_abs, _log1pexp_neg_abs_f32, lambda x: math.log1p(math.exp(-abs(x))))
_dispatch(_log, _log_f32, lambda x: math.log(x))


# --------------------------------------------------------------------------------------------------------------
# elementwise formulas (x = pre-activation, y = activation); each used by forward and backward
# --------------------------------------------------------------------------------------------------------------
_SELU_LAMBDA = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


@_inline
def _sigmoid(x):
    one = type(x)(1.0)
    return one / (one + _exp(-x))


@_inline
def _softplus(x):
    return max(x, type(x)(0.0)) + _log1pexp_neg_abs(x)


@_inline
def _relu(x, mx, t, s):
    neg = s * (x - t) if s != type(x)(0.0) else type(x)(0.0)  # not 0·(−inf)
    return min(neg if x < t else x, mx)  # NaN stays NaN, as in DL4J


@_inline
def _drelu(x, mx, t, s):
    T = type(x)
    d = T(1.0) if x > t else s
    return d if x < mx else T(0.0)


@_inline
def _leaky(x, a):
    return x if x >= type(x)(0.0) else a * x


@_inline
def _dleaky(x, a):
    T = type(x)
    return T(1.0) if x >= T(0.0) else a


@_inline
def _elu(x, a):
    T = type(x)
    neg = a * _expm1(min(x, T(0.0)))
    return x if x >= T(0.0) else neg


@_inline
def _delu(x, a):
    T = type(x)
    neg = a * _exp(min(x, T(0.0)))
    return T(1.0) if x >= T(0.0) else neg


@_inline
def _selu(x):
    T = type(x)
    neg = T(_SELU_ALPHA) * _expm1(min(x, T(0.0)))
    return T(_SELU_LAMBDA) * (x if x > T(0.0) else neg)


@_inline
def _dselu(x):
    T = type(x)
    neg = T(_SELU_ALPHA) * _exp(min(x, T(0.0)))
    return T(_SELU_LAMBDA) * (T(1.0) if x > T(0.0) else neg)


@_inline
def _softsign_den(x):
    return type(x)(1.0) / (type(x)(1.0) + abs(x))


@_inline
def _hardsigmoid(x):
    T = type(x)
    return min(max(T(0.2) * x + T(0.5), T(0.0)), T(1.0))


@_inline
def _dhardsigmoid(x):
    T = type(x)
    return T(0.2) if (x >= T(-2.5)) & (x <= T(2.5)) else T(0.0)


@_inline
def _dhardtanh(x):
    T = type(x)
    return T(1.0) if (x >= T(-1.0)) & (x <= T(1.0)) else T(0.0)


@_inline
def _rtanh_parts(x):
    """(|y|, 1/a, a - 1) of DL4J's rational tanh, y = 2x/3, a = 1 + |y| + y² + 1.41645·y⁴."""
    T = type(x)
    ay = abs(T(2.0 / 3.0) * x)
    y2 = ay * ay
    am1 = ay + y2 + T(1.41645) * y2 * y2
    return ay, T(1.0) / (T(1.0) + am1), am1


@_inline
def _rationaltanh(x):
    _, inv, am1 = _rtanh_parts(x)
    return math.copysign(type(x)(1.7159) * am1 * inv, x)  # 1 - 1/a = (a - 1)/a, no cancellation near 0


@_inline
def _drationaltanh(x):
    T = type(x)
    ay, inv, _ = _rtanh_parts(x)
    return T(1.7159 * 2.0 / 3.0) * (T(1.0) + ay * (T(2.0) + T(4.0 * 1.41645) * ay * ay)) * inv * inv


@_inline
def _drelu6(x):
    T = type(x)
    return T(1.0) if (x > T(0.0)) & (x < T(6.0)) else T(0.0)


@_inline
def _dsigmoid_scaled(x, k):
    """d/dx [x·σ(k·x)] = σ + k·x·σ(1 - σ), σ = σ(k·x) (SWISH: k = 1, GELU sigmoid form: k = 1.702)."""
    s = _sigmoid(k * x)
    return s + k * x * s * (type(x)(1.0) - s)


@_inline
def _gelu_precise_parts(x):
    """(σ(2u), du/dx) for DL4J's coded precise GELU ½x(1 + tanh u) = x·σ(2u), u = √(2/π)·(x + (0.044715·x)³)."""
    T = type(x)
    kx = T(_GELU_K) * x
    s = _sigmoid(T(2.0 * _GELU_C) * (x + kx * kx * kx))
    return s, T(_GELU_C) * (T(1.0) + T(3.0 * _GELU_K) * kx * kx)


@_inline
def _dgelu_precise(x):
    s, du = _gelu_precise_parts(x)  # d/dx x·σ(2u) = σ + 2x·σ(1 - σ)·u'
    return s + type(x)(2.0) * x * s * (type(x)(1.0) - s) * du


@_inline
def _mish_parts(x):
    """(t, sech²(softplus x), σ(x)) with t = tanh(softplus x) = n/(n+2), n = e(e+2), e = exp(min(x, 20))."""
    T = type(x)
    e = _exp(min(x, T(20.0)))
    n = e * (e + T(2.0))
    inv = T(1.0) / (n + T(2.0))
    return n * inv, T(4.0) * (n + T(1.0)) * inv * inv, e / (T(1.0) + e)


# --------------------------------------------------------------------------------------------------------------
# drivers: blocks of whole rows (flattened, C-contiguous) through one switch over the activations: the whole
# array when the output is a distinct array, L1-sized blocks when there is a bias to add or the call is in place
# (then through a scratch block: LLVM's runtime overlap check would send an in-place loop down the scalar path).
# --------------------------------------------------------------------------------------------------------------
_BLOCK = 4096  # elements per block (16 KB of float32)


@_inline
def _softmax_row(z, o):
    n = z.shape[0]
    if n == 0:
        return
    T = z.dtype.type
    m = z[0]
    for j in range(n):
        m = max(m, z[j])
    s = T(0.0)  # row sums in z's dtype (full-width vectors; PERFORMANCE.md)
    for j in range(n):
        v = _exp(z[j] - m)
        o[j] = v
        s += v
    inv = T(1.0) / s
    for j in range(n):
        o[j] = o[j] * inv


@_inline
def _softmax_jvp_row(o, e, d):
    dot = o.dtype.type(0.0)
    for j in range(o.shape[0]):
        dot += e[j] * o[j]
    for j in range(o.shape[0]):
        d[j] = o[j] * (e[j] - dot)


@_inline
def _same(a, b):
    return a.ctypes.data == b.ctypes.data


@_inline
def _copy(src, dst):
    for j in range(src.shape[0]):
        dst[j] = src[j]


@_inline
def _check_same_shape(a, b):
    if a.shape[0] != b.shape[0] or a.shape[1] != b.shape[1]:
        raise ValueError("arrays must have the same shape")


@_inline
def _act_params(code, p, z):
    """p -> three scalars of z's dtype with DL4J's conventions resolved (RELU: NaN max -> +inf; RRELU: (l+u)/2)."""
    if p.shape[0] < 4:
        raise ValueError("activation parameters p must be a float64 array of length 4")
    T = z.dtype.type
    p0, p1, p2 = p[0], p[1], p[2]
    if code == RELU and p0 != p0:
        p0 = np.inf
    if code == RRELU:
        p0 = 0.5 * (p0 + p1)
    return T(p0), T(p1), T(p2)


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


@_inline
def _block_rows(width):
    return max(1, _BLOCK // max(width, 1))


def _make_forward(code):
    """The compiled forward driver of one activation ``code`` (a compile-time constant: numba
    prunes the other branches of the switch before typing them, so only this activation's loop is compiled).
    numba keys the on-disk cache of a closure on its frozen cell values too, so each code has its own entry."""

    def _forward(p, zz, b, out, tmp):
        """out = f(zz) [after zz += b per row, if b has length > 0]; ``out`` either ``zz`` itself or disjoint.

        The compiled entry (one per dtype) behind ``act_forward`` and ``bias_act_forward``. Works on blocks of whole
        rows flattened to 1-D: the whole array when out of place without bias, else L1-sized blocks (computed into the
        scratch ``tmp``, at least ``block_elements(D)`` long, when in place). The activation switch is written inline
        here, one branch per activation outside the element loops (a separately compiled switch would be re-optimised
        by LLVM in every caller).
        """
        _check_same_shape(zz, out)
        rows, width = zz.shape
        if b.shape[0] != width and b.shape[0] != 0:
            raise ValueError("bias length must equal the number of columns")
        q0, q1, q2 = _act_params(code, p, zz)
        T = zz.dtype.type
        zf, of = _flat(zz), _flat(out)
        with_bias = b.shape[0] > 0
        inplace = _same(zz, out) and rows * width > 0
        rb = _block_rows(width) if inplace or with_bias else max(rows, 1)
        if inplace and tmp.shape[0] < rb * width:
            raise ValueError("scratch buffer too small")
        for i0 in range(0, rows, rb):
            k0, k1 = i0 * width, min(rows, i0 + rb) * width
            n = k1 - k0
            z = zf[k0:k1]
            if with_bias:
                for r in range(0, n, width):
                    row = z[r:r + width]
                    for j in range(width):
                        row[j] += b[j]
            o = tmp[:n] if inplace else of[k0:k1]
            if code == IDENTITY:
                for j in range(n):
                    o[j] = z[j]
            elif code == SIGMOID:
                for j in range(n):
                    o[j] = _sigmoid(z[j])
            elif code == TANH:
                for j in range(n):
                    o[j] = _tanh(z[j])
            elif code == RELU:
                for j in range(n):
                    o[j] = _relu(z[j], q0, q1, q2)
            elif code == LEAKYRELU or code == RRELU:
                for j in range(n):
                    o[j] = _leaky(z[j], q0)
            elif code == ELU:
                for j in range(n):
                    o[j] = _elu(z[j], q0)
            elif code == SELU:
                for j in range(n):
                    o[j] = _selu(z[j])
            elif code == SOFTMAX:
                for r in range(0, n, width):
                    _softmax_row(z[r:r + width], o[r:r + width])
            elif code == SOFTPLUS:
                for j in range(n):
                    o[j] = _softplus(z[j])
            elif code == SOFTSIGN:
                for j in range(n):
                    o[j] = z[j] * _softsign_den(z[j])
            elif code == CUBE:
                for j in range(n):
                    o[j] = z[j] * z[j] * z[j]
            elif code == HARDSIGMOID:
                for j in range(n):
                    o[j] = _hardsigmoid(z[j])
            elif code == HARDTANH:
                for j in range(n):
                    o[j] = min(max(z[j], T(-1.0)), T(1.0))
            elif code == RATIONALTANH:
                for j in range(n):
                    o[j] = _rationaltanh(z[j])
            elif code == RECTIFIEDTANH:
                for j in range(n):
                    o[j] = max(_tanh(z[j]), T(0.0))
            elif code == RELU6:
                for j in range(n):
                    o[j] = min(max(z[j], T(0.0)), T(6.0))
            elif code == SWISH:
                for j in range(n):
                    o[j] = z[j] * _sigmoid(z[j])
            elif code == THRESHOLDEDRELU:
                for j in range(n):
                    o[j] = z[j] if z[j] > q0 else T(0.0)
            elif code == GELU:
                if q0 != T(0.0):
                    for j in range(n):
                        sg, _ = _gelu_precise_parts(z[j])
                        o[j] = z[j] * sg
                else:
                    for j in range(n):
                        o[j] = z[j] * _sigmoid(T(1.702) * z[j])
            elif code == MISH:
                for j in range(n):
                    t, _, _ = _mish_parts(z[j])
                    o[j] = z[j] * t
            else:
                raise ValueError("unknown activation code")
            if inplace:
                _copy(o, of[k0:k1])

    return _jit(_forward)


def _make_backward(code):
    """The compiled backward driver of one activation ``code`` (a compile-time constant: numba
    prunes the other branches of the switch before typing them, so only this activation's loop is compiled).
    numba keys the on-disk cache of a closure on its frozen cell values too, so each code has its own entry."""

    def _backward(p, zz, out, eps, delta, db, tmp, acc):
        """delta = f'(zz) ⊙ eps (SOFTMAX: per-row Jacobian-vector product); if len(db) > 0, db = Σ_rows delta.

        The compiled entry (one per dtype) behind ``act_backward`` and ``act_backward_bias``. ``delta`` either ``eps``
        itself (computed through the scratch ``tmp``) or disjoint from ``zz``, ``out`` and ``eps``; the column sums
        are accumulated in the float64 scratch ``acc`` (at least D long). Blocks as in ``_forward``.
        """
        _check_same_shape(zz, out)
        _check_same_shape(zz, eps)
        _check_same_shape(zz, delta)
        rows, width = zz.shape
        if db.shape[0] != width and db.shape[0] != 0:
            raise ValueError("db length must equal the number of columns")
        q0, q1, q2 = _act_params(code, p, zz)
        T = zz.dtype.type
        zf, of, ef, df = _flat(zz), _flat(out), _flat(eps), _flat(delta)
        with_bias = db.shape[0] > 0
        inplace = _same(eps, delta) and rows * width > 0
        rb = _block_rows(width) if inplace or with_bias else max(rows, 1)
        if (inplace and tmp.shape[0] < rb * width) or (with_bias and acc.shape[0] < width):
            raise ValueError("scratch buffer too small")
        for j in range(width if with_bias else 0):
            acc[j] = 0.0
        for i0 in range(0, rows, rb):
            k0, k1 = i0 * width, min(rows, i0 + rb) * width
            n = k1 - k0
            z, o, e = zf[k0:k1], of[k0:k1], ef[k0:k1]
            d = tmp[:n] if inplace else df[k0:k1]
            if code == IDENTITY:
                for j in range(n):
                    d[j] = e[j]
            elif code == SIGMOID:
                for j in range(n):
                    d[j] = e[j] * (o[j] * (T(1.0) - o[j]))
            elif code == TANH:
                for j in range(n):
                    d[j] = e[j] * (T(1.0) - o[j] * o[j])
            elif code == RELU:
                for j in range(n):
                    d[j] = e[j] * _drelu(z[j], q0, q1, q2)
            elif code == LEAKYRELU or code == RRELU:
                for j in range(n):
                    d[j] = e[j] * _dleaky(z[j], q0)
            elif code == ELU:
                for j in range(n):
                    d[j] = e[j] * _delu(z[j], q0)
            elif code == SELU:
                for j in range(n):
                    d[j] = e[j] * _dselu(z[j])
            elif code == SOFTMAX:
                for r in range(0, n, width):
                    _softmax_jvp_row(o[r:r + width], e[r:r + width], d[r:r + width])
            elif code == SOFTPLUS:
                for j in range(n):
                    d[j] = e[j] * _sigmoid(z[j])
            elif code == SOFTSIGN:
                for j in range(n):
                    r = _softsign_den(z[j])
                    d[j] = e[j] * (r * r)
            elif code == CUBE:
                for j in range(n):
                    d[j] = e[j] * (T(3.0) * z[j] * z[j])
            elif code == HARDSIGMOID:
                for j in range(n):
                    d[j] = e[j] * _dhardsigmoid(z[j])
            elif code == HARDTANH:
                for j in range(n):
                    d[j] = e[j] * _dhardtanh(z[j])
            elif code == RATIONALTANH:
                for j in range(n):
                    d[j] = e[j] * _drationaltanh(z[j])
            elif code == RECTIFIEDTANH:
                for j in range(n):
                    g = T(1.0) - o[j] * o[j]
                    d[j] = e[j] * (g if z[j] > T(0.0) else T(0.0))
            elif code == RELU6:
                for j in range(n):
                    d[j] = e[j] * _drelu6(z[j])
            elif code == SWISH:
                for j in range(n):
                    d[j] = e[j] * _dsigmoid_scaled(z[j], T(1.0))
            elif code == THRESHOLDEDRELU:
                for j in range(n):
                    d[j] = e[j] if z[j] > q0 else T(0.0)
            elif code == GELU:
                if q0 != T(0.0):
                    for j in range(n):
                        d[j] = e[j] * _dgelu_precise(z[j])
                else:
                    for j in range(n):
                        d[j] = e[j] * _dsigmoid_scaled(z[j], T(1.702))
            elif code == MISH:
                for j in range(n):
                    t, sech2, sg = _mish_parts(z[j])
                    d[j] = e[j] * (t + z[j] * sech2 * sg)
            else:
                raise ValueError("unknown activation code")
            if inplace:
                _copy(d, df[k0:k1])
            if with_bias:
                for r in range(0, n, width):
                    row = d[r:r + width]
                    for j in range(width):
                        acc[j] += row[j]
        for j in range(width if with_bias else 0):
            db[j] = acc[j]

    return _jit(_backward)


_FORWARD: dict[int, nb.core.registry.CPUDispatcher] = {}  # code -> compiled driver, created on first use
_BACKWARD: dict[int, nb.core.registry.CPUDispatcher] = {}


def _checked_code(code) -> int:
    if code not in NAME_BY_CODE:
        raise ValueError(f"unknown activation code {code!r}")
    return int(code)


def forward_kernel(code: int):
    """The compiled forward driver of ``code``: ``kernel(p, z, b, out, tmp)`` (b empty: no bias; ``tmp`` the
    in-place scratch block). Created on first use; its machine code compiles per dtype or loads from numba's cache."""
    k = _FORWARD.get(code)
    if k is None:
        k = _FORWARD.setdefault(code, _make_forward(_checked_code(code)))
    return k


def backward_kernel(code: int):
    """The compiled backward driver of ``code``: ``kernel(p, z, out, eps, delta, db, tmp, acc)`` (db empty: no
    column sums; ``acc`` their float64 scratch). Created on first use, as ``forward_kernel``."""
    k = _BACKWARD.get(code)
    if k is None:
        k = _BACKWARD.setdefault(code, _make_backward(_checked_code(code)))
    return k


def _forward(code, p, zz, b, out, tmp):
    """``forward_kernel(code)(p, zz, b, out, tmp)`` (the former single-switch entry point)."""
    forward_kernel(code)(p, zz, b, out, tmp)


def _backward(code, p, zz, out, eps, delta, db, tmp, acc):
    """``backward_kernel(code)(p, zz, out, eps, delta, db, tmp, acc)`` (the former single-switch entry point)."""
    backward_kernel(code)(p, zz, out, eps, delta, db, tmp, acc)


# --------------------------------------------------------------------------------------------------------------
# public functions: thin Python entries (one compiled driver per dtype keeps the cold compile time down) that
# hand the kernels thread-local scratch buffers, so that nothing is allocated per call once they have grown.
# --------------------------------------------------------------------------------------------------------------
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_EMPTY = {dt: np.empty(0, dt) for dt in _DTYPES}
_local = threading.local()


def _empty(z: np.ndarray, *others: np.ndarray) -> np.ndarray:
    """The shared empty 1-D array of z's dtype; TypeError unless z is a float32/float64 array and ``others`` share
    its dtype (a mixed call would make numba compile another variant)."""
    e = _EMPTY.get(getattr(z, "dtype", None))
    if e is None:
        raise TypeError(f"dl4py kernels take float32 or float64 arrays, got {getattr(z, 'dtype', type(z))}")
    for o in others:
        if o.dtype != z.dtype:
            raise TypeError(f"all arrays must have the dtype of z ({z.dtype}), got {o.dtype}")
    return e


def scratch(dtype: np.dtype, n: int, slot: int = 0) -> np.ndarray:
    """A thread-local 1-D scratch buffer (one per dtype and slot) of at least ``n`` elements, grown on demand.

    Slots: 0 the in-place block (activations), 1 float64 column sums, 2 dL/da (N·D), 3 unit weights, 4 converted
    labels, 5 converted row scores (losses).
    """
    bufs = _local.__dict__
    buf = bufs.get((dtype, slot))
    if buf is None or buf.shape[0] < n:
        buf = np.empty(max(n, 2 * _BLOCK), dtype)
        bufs[(dtype, slot)] = buf
    return buf


def block_elements(width: int) -> int:
    """Elements of one L1-sized block of whole rows (the scratch the kernels need per array)."""
    return max(1, _BLOCK // max(width, 1)) * width


def act_forward(code: int, p: np.ndarray, z: np.ndarray, out: np.ndarray) -> None:
    """out = f(z) element-wise (SOFTMAX: row-wise, max-shifted). ``out`` may be ``z``.

    ``p``: float64[4]; ``z``, ``out``: [N, D] C-contiguous, float32 or float64 (the same dtype).
    """
    e = _empty(z, out)
    forward_kernel(code)(p, z, e, out, scratch(z.dtype, block_elements(z.shape[1])))


def bias_act_forward(code: int, p: np.ndarray, z: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """z += b (b [D] broadcast over rows; z keeps the pre-activation), then out = f(z), fused per L1-sized block.

    ``out`` may be ``z`` (it then holds the activation).
    """
    _empty(z, b, out)
    if b.shape[0] != z.shape[1]:
        raise ValueError(f"bias length {b.shape[0]} != number of columns {z.shape[1]}")
    if b.shape[0] == 0:
        return
    forward_kernel(code)(p, z, b, out, scratch(z.dtype, block_elements(z.shape[1])))


def act_backward(code: int, p: np.ndarray, z: np.ndarray, out: np.ndarray, eps: np.ndarray,
                 delta: np.ndarray) -> None:
    """delta = f'(z) ⊙ eps (SOFTMAX: s ⊙ (eps − Σ_k eps_k s_k)); ``out`` = f(z) from the forward pass.

    ``delta`` may be ``eps``.
    """
    e = _empty(z, out, eps, delta)
    backward_kernel(code)(p, z, out, eps, delta, e, scratch(z.dtype, block_elements(z.shape[1])), _EMPTY[_DTYPES[1]])


def act_backward_bias(code: int, p: np.ndarray, z: np.ndarray, out: np.ndarray, eps: np.ndarray,
                      delta: np.ndarray, db: np.ndarray) -> None:
    """``act_backward`` plus db[j] = Σ_rows delta[:, j] (db [D] overwritten; accumulated in float64)."""
    _empty(z, out, eps, delta, db)
    width = z.shape[1]
    if db.shape[0] != width:
        raise ValueError(f"db length {db.shape[0]} != number of columns {width}")
    if width == 0:
        return
    backward_kernel(code)(p, z, out, eps, delta, db, scratch(z.dtype, block_elements(width)),
                          scratch(_DTYPES[1], width, 1))


@_jit
def rrelu_forward_train(z: np.ndarray, alpha: np.ndarray, out: np.ndarray) -> None:
    """RReLU in training: out = z where z ≥ 0, alpha·z elsewhere; alpha holds slopes the caller drew from U(l, u).

    ``rrelu_forward_train(z, alpha, out: T[N, D]) -> None``; ``out`` may be ``z`` (element-wise, same index).
    """
    _check_same_shape(z, alpha)
    _check_same_shape(z, out)
    T = z.dtype.type
    for i in range(z.shape[0]):
        zr, ar, orow = z[i], alpha[i], out[i]
        for j in range(zr.shape[0]):
            x = zr[j]
            neg = ar[j] * x
            orow[j] = x if x >= T(0.0) else neg


@_jit
def rrelu_backward_train(z: np.ndarray, alpha: np.ndarray, eps: np.ndarray, delta: np.ndarray) -> None:
    """RReLU in training: delta = eps where z > 0, alpha·eps elsewhere (alpha as drawn for the forward pass).

    ``rrelu_backward_train(z, alpha, eps, delta: T[N, D]) -> None``; ``delta`` may be ``eps``.
    """
    _check_same_shape(z, alpha)
    _check_same_shape(z, eps)
    _check_same_shape(z, delta)
    T = z.dtype.type
    for i in range(z.shape[0]):
        zr, ar, er, dr = z[i], alpha[i], eps[i], delta[i]
        for j in range(zr.shape[0]):
            g = er[j]
            neg = ar[j] * g
            dr[j] = g if zr[j] > T(0.0) else neg


def warmup(dtypes=(np.float32, np.float64), codes=None) -> None:
    """Compile (or load from the on-disk cache) the forward and backward kernels of every activation (or of those in
    ``codes``) and the RReLU training kernels for the given dtypes."""
    for dt in dtypes:
        z = np.zeros((2, 3), dt)
        o, e, d, b = np.zeros_like(z), np.ones_like(z), np.zeros_like(z), np.zeros(3, dt)
        for code in sorted(NAME_BY_CODE) if codes is None else codes:
            p = params(code)
            bias_act_forward(code, p, z, b, o)
            act_backward_bias(code, p, z, o, e, d, b)
        rrelu_forward_train(z, e, o)
        rrelu_backward_train(z, e, e, d)
