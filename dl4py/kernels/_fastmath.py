"""exp/log family for numba kernels: float64 -> libm, float32 -> vectorisable polynomials.

The PyPI llvmlite has no SVML, so ``math.exp``/``math.log`` inside numba are scalar libm calls that stop a loop from
vectorising. For float32 these stubs resolve to polynomials with Cody-Waite range reduction and an int <-> float
bit cast instead (relative error ≤ 2.5e-7 against float64 over the float32 range, IEEE special values of log
kept); float64 keeps libm, the exact path gradient checks need. Each stub is compiled once per process and type,
then linked into (and inlined by LLVM in) every kernel that calls it.

Two generations of exp/log exist and both are kept bit for bit, because results and fixtures were produced with them:

* the activation/loss set — :func:`exp` (minimax remainder, input clamped to [−87, 88]), :func:`expm1`,
  :func:`tanh`, :func:`log1pexp_neg_abs`, :func:`log`;
* the reconstruction-distribution set — :func:`exp_t7` (degree-7 Taylor remainder, clamped to [−87.3, 88.7],
  NaN kept) and :func:`log_s9` (one more series term than :func:`log`).

Kernels that link these functions live in other files: numba keys their on-disk cache on their own source file
only, so those modules fold this file's stamp into theirs (``_support.depend_on``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from ._support import select

__all__ = ["exp", "expm1", "tanh", "log1pexp_neg_abs", "log", "exp_t7", "log_s9", "bits_f32", "f32_bits"]


# ----------------------------------------------------------------------------------------------------------------
# bit casts: LLVM bitcasts (``np.int32(x).view(np.float32)`` compiles numba's generic scalar-view overload instead)
# ----------------------------------------------------------------------------------------------------------------
@intrinsic
def bits_f32(typingctx, i):
    """The float32 whose bit pattern is the int32 ``i``."""
    if i != types.int32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


@intrinsic
def f32_bits(typingctx, x):
    """The int32 bit pattern of the float32 ``x``."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.int32))

    return types.int32(types.float32), codegen


# ----------------------------------------------------------------------------------------------------------------
# stubs (callable from numba code only) and their overloads
# ----------------------------------------------------------------------------------------------------------------
def exp(x):
    """exp(x) (float32: polynomial, input clamped to [−87, 88]; float64: math.exp)."""
    raise NotImplementedError("only callable from numba code")


def expm1(x):
    """exp(x) − 1 without cancellation near 0 (float32: polynomial; float64: math.expm1)."""
    raise NotImplementedError("only callable from numba code")


def tanh(x):
    """tanh(x) (float32: odd polynomial for |x| < 0.6, else 1 − 2/(e^2|x| + 1); float64: math.tanh)."""
    raise NotImplementedError("only callable from numba code")


def log1pexp_neg_abs(x):
    """log1p(exp(−|x|)), the tail of the stable softplus."""
    raise NotImplementedError("only callable from numba code")


def log(x):
    """Natural log (float32: bit-cast exponent + atanh series to s⁷, IEEE edge cases kept; float64: math.log)."""
    raise NotImplementedError("only callable from numba code")


def exp_t7(x):
    """exp(x) of the distribution kernels (float32: Taylor polynomial, clamped to [−87.3, 88.7], 2^n applied in
    two factors, NaN -> NaN; float64: math.exp)."""
    raise NotImplementedError("only callable from numba code")


def log_s9(x):
    """log(x) of the distribution kernels (float32: as :func:`log` with the s⁹ term; float64: math.log)."""
    raise NotImplementedError("only callable from numba code")


# Constants are float32 module globals (numba freezes them): an ``np.float32(c)`` call inside a function is three
# more statements for numba to type and lower, and these functions are compiled in every process that uses them.
_F = np.float32
_ZERO, _HALF, _ONE, _TWO = _F(0.0), _F(0.5), _F(1.0), _F(2.0)
_INF, _NINF, _NAN = _F(np.inf), _F(-np.inf), _F(np.nan)
_LOG2E = _F(1.4426950408889634)
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)  # ln 2 = HI + LO, HI exact in 9 bits
_SQRT2 = _F(1.4142135)
_FLT_MIN = _F(1.17549435e-38)
_HALF_LN2 = _F(0.34657359)
_TWO23, _BIAS, _SUB_K = _F(8388608.0), _F(127.0), _F(23.0)  # 2^23; exponent bias; 2^23 scaling of subnormals
_THIRD, _FIFTH, _SEVENTH, _NINTH = _F(1.0 / 3.0), _F(0.2), _F(1.0 / 7.0), _F(1.0 / 9.0)

# activation set
_EXP_MIN, _EXP_MAX = _F(-87.0), _F(88.0)
# (e^r - 1 - r) / r^2 on |r| <= ln2/2, minimax-fitted (relative error of e^r 1e-8)
_EQ0, _EQ1, _EQ2, _EQ3, _EQ4 = _F(0.5), _F(0.16666576), _F(0.041666467), _F(0.008363175), _F(0.0013933644)
# (tanh x - x) / x^3 as a polynomial in x^2 on |x| <= 0.6 (relative error 1e-8)
_TQ0, _TQ1, _TQ2, _TQ3, _TQ4 = _F(-0.3333333), _F(0.13332924), _F(-0.053875133), _F(0.0211162), _F(-0.006276371)
_TANH_SMALL = _F(0.6)
# log1p(e) / e on e in [0, 1] (relative error 3e-8)
_LQ0, _LQ1, _LQ2, _LQ3, _LQ4, _LQ5, _LQ6, _LQ7, _LQ8 = (
    _F(1.0), _F(-0.49999502), _F(0.3331927), _F(-0.2484437), _F(0.1911143), _F(-0.1367477), _F(0.07836167),
    _F(-0.029588507), _F(0.005253458))

# distribution set
_EXP_LO, _EXP_HI = _F(-87.3), _F(88.7)
_C2, _C3, _C4, _C5, _C6, _C7 = (_F(1.0 / 2), _F(1.0 / 6), _F(1.0 / 24), _F(1.0 / 120), _F(1.0 / 720), _F(1.0 / 5040))


def _exp_f32(x):
    x = select(_EXP_MIN > x, _EXP_MIN, x)  # = min(max(x, _EXP_MIN), _EXP_MAX), NaN kept, without numba's min/max
    x = select(_EXP_MAX < x, _EXP_MAX, x)  # overloads (each one more compiled function per process)
    n = np.floor(x * _LOG2E + _HALF)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    scale = bits_f32(np.int32((n + _BIAS) * _TWO23))  # 2^n built in the exponent field
    return (_ONE + r + r * r * (_EQ0 + r * (_EQ1 + r * (_EQ2 + r * (_EQ3 + r * _EQ4))))) * scale


# The primitives below take exp's body inlined at numba-IR level: a call of the stub would compile it once more,
# numba compiling an overload once per set of options of its callers (the kernels' and these functions').
_exp_f32_inline = njit(inline="always")(_exp_f32)


def _expm1_f32(x):
    small = x + x * x * (_EQ0 + x * (_EQ1 + x * (_EQ2 + x * (_EQ3 + x * _EQ4))))
    big = _exp_f32_inline(x) - _ONE
    return select(abs(x) < _HALF_LN2, small, big)


def _tanh_f32(x):
    ax = abs(x)
    z = x * x
    small = x + x * z * (_TQ0 + z * (_TQ1 + z * (_TQ2 + z * (_TQ3 + z * _TQ4))))
    big = math.copysign(_ONE - _TWO / (_exp_f32_inline(ax + ax) + _ONE), x)
    return select(ax < _TANH_SMALL, small, big)


def _log1pexp_neg_abs_f32(x):
    e = _exp_f32_inline(-abs(x))
    g = _LQ0 + e * (_LQ1 + e * (_LQ2 + e * (_LQ3 + e * (_LQ4 + e * (_LQ5 + e * (_LQ6 + e * (_LQ7 + e * _LQ8)))))))
    return e * g


def _log_f32(x):
    sub = x < _FLT_MIN
    xs = select(sub, x * _TWO23, x)  # subnormals: scale by 2^23 first
    bits = f32_bits(xs)
    k = np.float32((bits >> 23) - 127) - select(sub, _SUB_K, _ZERO)
    m = bits_f32(np.int32((bits & 0x007FFFFF) | 0x3F800000))  # mantissa in [1, 2)
    big = m > _SQRT2
    m = select(big, m * _HALF, m)
    k = select(big, k + _ONE, k)
    f = m - _ONE
    s = f / (_TWO + f)
    s2 = s * s
    r = (s + s) * (_ONE + s2 * (_THIRD + s2 * (_FIFTH + s2 * _SEVENTH)))
    res = k * _LN2_HI + (k * _LN2_LO + r)
    res = select(x < _INF, res, x)  # +inf -> +inf
    res = select(x > _ZERO, res, select(x == _ZERO, _NINF, _NAN))
    return select(x == x, res, x)


def _exp_t7_f32(x):
    xc = select(_EXP_LO > x, _EXP_LO, x)  # = min(max(x, _EXP_LO), _EXP_HI), NaN kept
    xc = select(_EXP_HI < xc, _EXP_HI, xc)
    n = np.floor(xc * _LOG2E + _HALF)
    r = (xc - n * _LN2_HI) - n * _LN2_LO  # |r| <= ln2/2
    poly = _ONE + r * (_ONE + r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * (_C6 + r * _C7))))))
    # 2^n split in two factors so that n = 128 (x near 88.7) does not overflow the exponent field
    h = np.floor(n * _HALF)
    s1 = bits_f32(np.int32((h + _BIAS) * _TWO23))
    s2 = bits_f32(np.int32((n - h + _BIAS) * _TWO23))
    res = poly * s1 * s2
    return select(x == x, res, x)  # NaN -> NaN


def _log_s9_f32(x):
    # conditional expressions, not select(): with the lighter body LLVM vectorises the NLL row sums of the general
    # part_nll kernel with another interleave, which re-associates those float32 sums (last-bit differences)
    sub = x < _FLT_MIN
    xs = x * _TWO23 if sub else x  # subnormals: scale by 2^23 first
    kadj = _SUB_K if sub else _ZERO
    bits = f32_bits(xs)
    k = np.float32((bits >> 23) - 127) - kadj
    m = bits_f32(np.int32((bits & 0x007FFFFF) | 0x3F800000))  # mantissa in [1, 2)
    big = m > _SQRT2
    m = m * _HALF if big else m
    k = k + _ONE if big else k
    f = m - _ONE
    s = f / (_TWO + f)
    s2 = s * s
    r = (s + s) * (_ONE + s2 * (_THIRD + s2 * (_FIFTH + s2 * (_SEVENTH + s2 * _NINTH))))
    res = k * _LN2_HI + (k * _LN2_LO + r)
    special = _NAN if x < _ZERO else _NINF
    res = res if x > _ZERO else special
    return res if x < _INF else x  # +inf -> +inf, NaN -> NaN


# No nnan/ninf anywhere (NaN and ±inf keep IEEE semantics) and no reassoc, which would undo the Cody-Waite range
# reduction; the polynomials keep these flags when LLVM inlines them into a kernel compiled with reassoc.
# No C-callable wrappers (see _support.KERNEL_OPTIONS); overloads have no Python wrapper anyway.
_DIST_OPTS = dict(error_model="numpy", fastmath={"nsz", "contract"}, no_cfunc_wrapper=True)
_ACT_OPTS = dict(_DIST_OPTS, forceinline=True)  # LLVM alwaysinline


def _dispatch(stub, f32_impl, f64_impl, jit_options) -> None:
    @overload(stub, jit_options=jit_options)
    def _ov(x):
        if x == types.float32:
            return f32_impl
        if isinstance(x, types.Float):
            return f64_impl
        return None


_dispatch(exp, _exp_f32, lambda x: math.exp(x), _ACT_OPTS)
_dispatch(expm1, _expm1_f32, lambda x: math.expm1(x), _ACT_OPTS)
_dispatch(tanh, _tanh_f32, lambda x: math.tanh(x), _ACT_OPTS)
_dispatch(log1pexp_neg_abs, _log1pexp_neg_abs_f32, lambda x: math.log1p(math.exp(-abs(x))), _ACT_OPTS)
_dispatch(log, _log_f32, lambda x: math.log(x), _ACT_OPTS)
_dispatch(exp_t7, _exp_t7_f32, lambda x: math.exp(x), _DIST_OPTS)
_dispatch(log_s9, _log_s9_f32, lambda x: math.log(x), _DIST_OPTS)
