"""Activation functions of DL4J (``org.nd4j.linalg.activations``) as fused numba kernels.

Public functions (all arrays of one dtype, float32 or float64, 2-D [N, D] C-contiguous unless stated):

* ``act_forward(code, p, z, out)``: out = f(z) (SOFTMAX row-wise, max-shifted); ``out`` may be ``z``;
* ``bias_act_forward(code, p, z, b, out)``: z += b (b [D]), then out = f(z), in one pass;
* ``act_backward(code, p, z, out, eps, delta)``: delta = f'(z) ⊙ eps (SOFTMAX: s ⊙ (eps − Σ_k eps_k s_k)), with
  ``out`` = f(z) from the forward pass; ``delta`` may be ``eps``;
* ``act_backward_bias(code, p, z, out, eps, delta, db)``: the same plus db [D] = Σ_rows delta (float64 sums);
* ``rrelu_forward_train(z, alpha, out)`` / ``rrelu_backward_train(z, alpha, eps, delta)``: RReLU in training with
  per-element slopes ``alpha`` drawn by the caller from U(l, u);
* ``grad_finish(nan_to_zero, g, db, acc, gscale)`` / ``column_sums(a, acc, out)``: scaling, DL4J's NaN rule and
  float64 column sums of a gradient (the distribution and AutoEncoder engines use them).

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
checks. float32 uses the vectorisable polynomial exp, expm1, tanh, log1p(e^−|x|) and log of :mod:`._fastmath`
(relative error ≤ 2.5e-7 against float64 over the float32 range, exp clamped to [e^−87, e^88], IEEE special values of
log kept). libm's exp is a scalar call in numba (no SVML in the PyPI llvmlite): on this machine (Zen 3, AVX2) sigmoid
forward of a 128×256 float32 array takes ~19 µs with the polynomial and ~130 µs with ``math.exp``; NumPy
(``np.exp`` + add + reciprocal, ``out=``) ~95 µs.

Structure: one small compiled kernel per (activation, with or without bias, in place or not), created and compiled
on first use (per dtype) and cached on disk, so that a network compiles only the loops it runs: ``code``, ``bias``
and ``inplace`` are compile-time constants of each kernel, whose code calls only its own activation's element
formulas (tables ``_FORWARD``, ``_BACKWARD``, ``_PARAMS``). A kernel is one loop over the columns of each row (bias, activation and, backward, the column sums
fused; softmax row by row); an in-place kernel reads and writes one array (LLVM vectorises ``a[j] = f(a[j])``
without the runtime overlap check that would send two aliasing arrays down the scalar path), so no scratch buffer is
needed and nothing is allocated per call. The Python entries pick the in-place kernel when ``out is z`` (``delta is
eps``); an equal but distinct view of the same memory gets correct results from the other kernel, only slower.
Partially overlapping arrays are not supported. Cold compile time grows with every statement numba types and
lowers, so the kernels are kept small: argument checks and conditional expressions are single intrinsic calls
(:mod:`._support`). No ``nnan``/``ninf`` fast-math flags (NaN and ±inf keep IEEE semantics; min/max take the data
first, so NaN propagates as in DL4J's ops); ``reassoc`` lets the reductions vectorise.
"""
from __future__ import annotations

import math
import threading
from types import FunctionType

import numba as nb
import numpy as np

from . import _fastmath
from ._fastmath import exp as _exp
from ._fastmath import expm1 as _expm1
from ._fastmath import log1pexp_neg_abs as _log1pexp_neg_abs
from ._fastmath import tanh as _tanh
from ._support import KERNEL_OPTIONS, depend_on, same_shape, select

__all__ = [
    "IDENTITY", "SIGMOID", "TANH", "RELU", "LEAKYRELU", "ELU", "SELU", "SOFTMAX", "SOFTPLUS", "SOFTSIGN", "CUBE",
    "HARDSIGMOID", "HARDTANH", "RATIONALTANH", "RECTIFIEDTANH", "RELU6", "RRELU", "SWISH", "THRESHOLDEDRELU", "GELU",
    "MISH", "CODE_BY_NAME", "NAME_BY_CODE", "DEFAULT_PARAMS", "params", "act_forward", "bias_act_forward",
    "act_backward", "act_backward_bias", "column_sums", "grad_finish", "rrelu_forward_train", "rrelu_backward_train",
    "warmup",
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
# reassoc (needed for vectorised reductions) in the kernels; the polynomial primitives of _fastmath are compiled
# separately without reassoc, which would undo the Cody-Waite range reduction.
# --------------------------------------------------------------------------------------------------------------
_FASTMATH = {"nsz", "contract", "reassoc", "arcp"}
_OPTS = dict(KERNEL_OPTIONS, fastmath=_FASTMATH)
_jit = nb.njit(**_OPTS)  # lazily compiled, one per dtype
_inline = nb.njit(inline="always", error_model="numpy", fastmath=_FASTMATH)  # inlined at numba-IR level


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
def _gelu(x, precise):
    """DL4J's GELU: the coded precise form (``precise`` ≠ 0) or the sigmoid form x·σ(1.702x)."""
    T = type(x)
    if precise != T(0.0):
        sg, _ = _gelu_precise_parts(x)
        return x * sg
    return x * _sigmoid(T(1.702) * x)


@_inline
def _dgelu(x, precise):
    if precise != type(x)(0.0):
        return _dgelu_precise(x)
    return _dsigmoid_scaled(x, type(x)(1.702))


@_inline
def _mish_parts(x):
    """(t, sech²(softplus x), σ(x)) with t = tanh(softplus x) = n/(n+2), n = e(e+2), e = exp(min(x, 20))."""
    T = type(x)
    e = _exp(min(x, T(20.0)))
    n = e * (e + T(2.0))
    inv = T(1.0) / (n + T(2.0))
    return n * inv, T(4.0) * (n + T(1.0)) * inv * inv, e / (T(1.0) + e)


@_inline
def _mish(x):
    t, _, _ = _mish_parts(x)
    return x * t


@_inline
def _dmish(z, e, j):
    """MISH backward at column j of rows z, e."""
    t, sech2, sg = _mish_parts(z[j])
    return e[j] * (t + z[j] * sech2 * sg)


@_inline
def _dsoftsign(z, e, j):
    """SOFTSIGN backward at column j of rows z, e."""
    r = _softsign_den(z[j])
    return e[j] * (r * r)


@_inline
def _drectified(z, y, e, j):
    """RECTIFIEDTANH backward at column j of rows z, y, e."""
    g = type(y[j])(1.0) - y[j] * y[j]
    return e[j] * select(z[j] > type(g)(0.0), g, type(g)(0.0))


# --------------------------------------------------------------------------------------------------------------
# softmax rows
# --------------------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------------------
# each activation's element formulas: forward y = f(x, q0, q1, q2); backward v = f'(x)·e = g(z, y, e, j, q0, q1, q2)
# at column j of the rows z, y = f(z) (from the forward pass) and e; q0..q2: its parameters in the array type, from
# ``prep(p, T)``. The backward formulas read the elements themselves: under reassoc, LLVM orders the factors of a
# product by where their values are defined, so each element is read where the expression reads it (bit for bit
# the results of the former per-activation branches). Each function numba inlines costs it a pass over that function
# (about ten milliseconds), so the most used formulas are written out rather than calling a helper.
# --------------------------------------------------------------------------------------------------------------
@_inline
def _first_param(p, T):
    z = T(0.0)
    return T(p[0]), z, z


@_inline
def _relu_params(p, T):
    mx = p[0]
    return T(np.inf if mx != mx else mx), T(p[1]), T(p[2])  # NaN max: DL4J's null


@_inline
def _rrelu_params(p, T):
    z = T(0.0)
    return T(0.5 * (p[0] + p[1])), z, z  # inference: the mean slope


_PARAMS = {RELU: _relu_params, RRELU: _rrelu_params}  # others: _first_param

_FORWARD = {
    SIGMOID: _inline(lambda x, q0, q1, q2: type(x)(1.0) / (type(x)(1.0) + _exp(-x))),
    LEAKYRELU: _inline(lambda x, q0, q1, q2: select(x >= type(x)(0.0), x, q0 * x)),
    RELU: _relu,
    TANH: _inline(lambda x, q0, q1, q2: _tanh(x)),
    IDENTITY: _inline(lambda x, q0, q1, q2: x),
    ELU: _inline(lambda x, q0, q1, q2: _elu(x, q0)),
    SELU: _inline(lambda x, q0, q1, q2: _selu(x)),
    SOFTPLUS: _inline(lambda x, q0, q1, q2: _softplus(x)),
    SOFTSIGN: _inline(lambda x, q0, q1, q2: x * _softsign_den(x)),
    CUBE: _inline(lambda x, q0, q1, q2: x * x * x),
    HARDSIGMOID: _inline(lambda x, q0, q1, q2: _hardsigmoid(x)),
    HARDTANH: _inline(lambda x, q0, q1, q2: min(max(x, -type(x)(1.0)), type(x)(1.0))),
    RATIONALTANH: _inline(lambda x, q0, q1, q2: _rationaltanh(x)),
    RECTIFIEDTANH: _inline(lambda x, q0, q1, q2: max(_tanh(x), type(x)(0.0))),
    RELU6: _inline(lambda x, q0, q1, q2: min(max(x, type(x)(0.0)), type(x)(6.0))),
    SWISH: _inline(lambda x, q0, q1, q2: x * _sigmoid(x)),
    THRESHOLDEDRELU: _inline(lambda x, q0, q1, q2: select(x > q0, x, type(x)(0.0))),
    GELU: _inline(lambda x, q0, q1, q2: _gelu(x, q0)),
    MISH: _inline(lambda x, q0, q1, q2: _mish(x)),
}

_BACKWARD = {
    SIGMOID: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * (y[j] * (type(q0)(1.0) - y[j]))),
    LEAKYRELU: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * select(z[j] >= type(q0)(0.0), type(q0)(1.0), q0)),
    RELU: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _drelu(z[j], q0, q1, q2)),
    TANH: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * (type(q0)(1.0) - y[j] * y[j])),
    IDENTITY: _inline(lambda z, y, e, j, q0, q1, q2: e[j]),
    ELU: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _delu(z[j], q0)),
    SELU: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _dselu(z[j])),
    SOFTPLUS: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _sigmoid(z[j])),
    SOFTSIGN: _inline(lambda z, y, e, j, q0, q1, q2: _dsoftsign(z, e, j)),
    CUBE: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * (type(q0)(3.0) * z[j] * z[j])),
    HARDSIGMOID: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _dhardsigmoid(z[j])),
    HARDTANH: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _dhardtanh(z[j])),
    RATIONALTANH: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _drationaltanh(z[j])),
    RECTIFIEDTANH: _inline(lambda z, y, e, j, q0, q1, q2: _drectified(z, y, e, j)),
    RELU6: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _drelu6(z[j])),
    SWISH: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _dsigmoid_scaled(z[j], type(q0)(1.0))),
    THRESHOLDEDRELU: _inline(lambda z, y, e, j, q0, q1, q2: select(z[j] > q0, e[j], type(q0)(0.0))),
    GELU: _inline(lambda z, y, e, j, q0, q1, q2: e[j] * _dgelu(z[j], q0)),
    MISH: _inline(lambda z, y, e, j, q0, q1, q2: _dmish(z, e, j)),
}
_FORWARD[RRELU] = _FORWARD[LEAKYRELU]  # in inference, with the mean slope
_BACKWARD[RRELU] = _BACKWARD[LEAKYRELU]


# --------------------------------------------------------------------------------------------------------------
# kernels: one per (code, bias, inplace), all three compile-time constants of a closure (numba prunes the branches
# they decide before typing, and keys the on-disk cache of a closure on its frozen cell values too). A kernel calls
# its activation's formulas by name (``prep``, ``f``/``g``, bound to it by ``_bind``), so that its code holds no
# branch per activation: numba translates and processes every branch before pruning it (a tenth of a second of
# cold compile per kernel for the 21 activations). Shape checks are single intrinsic calls (``same_shape``).
# --------------------------------------------------------------------------------------------------------------
def _bind(kernel, **names):
    """``kernel`` (same code and closure) with ``names`` added to its globals. They must not be closure variables:
    numba keys a closure's on-disk cache on its cell values, which for a compiled function differ in every process."""
    if set(names) & set(kernel.__code__.co_freevars):
        raise TypeError(f"_bind: {sorted(set(names) & set(kernel.__code__.co_freevars))} are closure variables")
    return FunctionType(kernel.__code__, {**kernel.__globals__, **names}, kernel.__name__, kernel.__defaults__,
                        kernel.__closure__)


def _make_forward(code: int, bias: bool, inplace: bool):
    """The forward kernel ``kernel(p, z, b, out)``: [z += b per row, if ``bias``;] out = f(z), where ``out`` is
    ``z`` itself if ``inplace`` (the kernel then writes z only). z, out [N, D]; b [D] with a bias, else ignored."""
    keep = bias and not inplace  # z keeps the pre-activation, out receives f(z)

    def _forward(p, z, b, out):
        width = z.shape[1]
        if not same_shape(z, out) or p.shape[0] < 4 or (bias and b.shape[0] != width):
            raise ValueError("activation forward: z and out must have the same shape, b one entry per column and p 4")
        q0, q1, q2 = prep(p, z.dtype.type)  # noqa: F821 (bound by _bind)
        for i in range(z.shape[0]):
            zr = z[i]
            if inplace:
                o = zr
            else:
                o = out[i]
            if code == SOFTMAX:
                if bias:
                    for j in range(width):
                        zr[j] += b[j]
                _softmax_row(zr, o)
                continue
            for j in range(width):
                if bias:
                    x = zr[j] + b[j]
                else:
                    x = zr[j]
                if keep:
                    zr[j] = x
                o[j] = f(x, q0, q1, q2)  # noqa: F821

    return _jit(_bind(_forward, prep=_PARAMS.get(code, _first_param),
                      f=_FORWARD.get(code, _FORWARD[IDENTITY])))  # SOFTMAX: f unused


def _make_backward(code: int, bias: bool, inplace: bool):
    """The backward kernel ``kernel(p, z, out, eps, delta, db, acc)``: delta = f'(z) ⊙ eps (SOFTMAX: per-row
    Jacobian-vector product), ``out`` = f(z) from the forward pass; ``delta`` is ``eps`` itself if ``inplace`` (the
    kernel then writes eps only). With ``bias``: db [D] = Σ_rows delta, accumulated in the float64 scratch ``acc``
    (at least D long); else ``db`` and ``acc`` are ignored. z, out, eps, delta [N, D]."""

    def _backward(p, z, out, eps, delta, db, acc):
        width = z.shape[1]
        if (not same_shape(z, out, eps, delta) or p.shape[0] < 4
                or (bias and (db.shape[0] != width or acc.shape[0] < width))):
            raise ValueError("activation backward: z, out, eps, delta must have one shape, db one entry per column")
        q0, q1, q2 = prep(p, z.dtype.type)  # noqa: F821 (bound by _bind)
        if bias:
            for j in range(width):
                acc[j] = 0.0
        for i in range(z.shape[0]):
            zr, o, e = z[i], out[i], eps[i]
            if inplace:
                d = e
            else:
                d = delta[i]
            if code == SOFTMAX:
                _softmax_jvp_row(o, e, d)
                if bias:
                    for j in range(width):
                        acc[j] += d[j]
                continue
            for j in range(width):
                v = g(zr, o, e, j, q0, q1, q2)  # noqa: F821
                d[j] = v
                if bias:
                    acc[j] += v
        if bias:
            for j in range(width):
                db[j] = acc[j]

    return _jit(_bind(_backward, prep=_PARAMS.get(code, _first_param),
                      g=_BACKWARD.get(code, _BACKWARD[IDENTITY])))  # SOFTMAX: g unused


_KERNELS: dict[tuple, object] = {}  # (direction, code, bias, inplace) -> kernel
_KERNELS_LOCK = threading.Lock()


def _kernel(direction: int, code, bias: bool, inplace: bool):
    key = (direction, code, bias, inplace)
    k = _KERNELS.get(key)
    if k is None:
        if code not in NAME_BY_CODE:
            raise ValueError(f"unknown activation code {code!r}")
        with _KERNELS_LOCK:
            k = _KERNELS.get(key)
            if k is None:
                make = _make_backward if direction else _make_forward
                k = make(int(code), bool(bias), bool(inplace))
                depend_on((_fastmath.__file__,), k)
                _KERNELS[key] = k
    return k


def forward_kernel(code: int, bias: bool = False, inplace: bool = False):
    """The compiled forward kernel ``kernel(p, z, b, out)`` of ``code`` (see ``_make_forward``; unchecked). Created
    on first use; its machine code compiles per dtype or loads from numba's cache."""
    return _kernel(0, code, bias, inplace)


def backward_kernel(code: int, bias: bool = False, inplace: bool = False):
    """The compiled backward kernel ``kernel(p, z, out, eps, delta, db, acc)`` of ``code`` (see ``_make_backward``;
    unchecked). Created on first use, as ``forward_kernel``."""
    return _kernel(1, code, bias, inplace)


@_jit
def grad_finish(nan_to_zero, g, db, acc, gscale):
    """g ← gscale·g, with NaN entries replaced by 0 first if ``nan_to_zero`` (DL4J's Bernoulli rule; g is not
    written when gscale is 1 without it), then db = Σ_rows g accumulated in float64 in ``acc`` (at least as long as
    a row) unless ``db`` is empty.

    ``grad_finish(nan_to_zero: bool, g: T[R, w], db: T[w or 0], acc: float64[≥ w], gscale: float) -> None``.
    """
    w = g.shape[1]
    sums = db.shape[0] != 0
    if sums and (db.shape[0] != w or acc.shape[0] < w):
        raise ValueError("grad_finish: db must have one entry per column and acc at least as many")
    T = g.dtype.type
    gs = T(gscale)
    if sums:
        for j in range(w):
            acc[j] = 0.0
    for r in range(g.shape[0]):
        gr = g[r]
        if nan_to_zero:
            for j in range(w):
                v = gr[j]
                gr[j] = select(v == v, v, T(0.0)) * gs
        elif gs != T(1.0):
            for j in range(w):
                gr[j] *= gs
        if sums:
            for j in range(w):
                acc[j] += gr[j]
    if sums:
        for j in range(w):
            db[j] = acc[j]


def column_sums(a: np.ndarray, acc: np.ndarray, out: np.ndarray) -> None:
    """out[j] = Σ_i a[i, j] (float64 accumulation in ``acc``, length >= number of columns); ``a`` is not written.

    ``column_sums(a: T[N, D], acc: float64[≥ D], out: T[D]) -> None`` (the :func:`grad_finish` kernel).
    """
    if out.shape[0] != a.shape[1]:
        raise ValueError("column_sums: output length must equal the number of columns")
    grad_finish(False, a, out, acc, 1.0)


# --------------------------------------------------------------------------------------------------------------
# public functions: thin Python entries over the kernels (dtype checks: a mixed call would compile another variant);
# the float64 column-sum scratch is thread-local, so that nothing is allocated per call once it has grown.
# --------------------------------------------------------------------------------------------------------------
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_F64 = _DTYPES[1]
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

    Slots: 1 float64 column sums, 2 dL/da (N·D), 3 unit weights, 4 converted labels, 5 converted row scores (losses).
    """
    bufs = _local.__dict__
    buf = bufs.get((dtype, slot))
    if buf is None or buf.shape[0] < n:
        buf = np.empty(max(n, 1024), dtype)
        bufs[(dtype, slot)] = buf
    return buf


def act_forward(code: int, p: np.ndarray, z: np.ndarray, out: np.ndarray) -> None:
    """out = f(z) element-wise (SOFTMAX: row-wise, max-shifted). ``out`` may be ``z``.

    ``p``: float64[4]; ``z``, ``out``: [N, D] C-contiguous, float32 or float64 (the same dtype).
    """
    e = _empty(z, out)
    k = _KERNELS.get((0, code, False, out is z)) or forward_kernel(code, False, out is z)
    k(p, z, e, out)


def bias_act_forward(code: int, p: np.ndarray, z: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """z += b (b [D] broadcast over rows; z keeps the pre-activation), then out = f(z).

    ``out`` may be ``z`` (it then holds the activation).
    """
    _empty(z, b, out)
    k = _KERNELS.get((0, code, True, out is z)) or forward_kernel(code, True, out is z)
    k(p, z, b, out)


def act_backward(code: int, p: np.ndarray, z: np.ndarray, out: np.ndarray, eps: np.ndarray,
                 delta: np.ndarray) -> None:
    """delta = f'(z) ⊙ eps (SOFTMAX: s ⊙ (eps − Σ_k eps_k s_k)); ``out`` = f(z) from the forward pass.

    ``delta`` may be ``eps``.
    """
    e = _empty(z, out, eps, delta)
    k = _KERNELS.get((1, code, False, delta is eps)) or backward_kernel(code, False, delta is eps)
    k(p, z, out, eps, delta, e, _EMPTY[_F64])


def act_backward_bias(code: int, p: np.ndarray, z: np.ndarray, out: np.ndarray, eps: np.ndarray,
                      delta: np.ndarray, db: np.ndarray) -> None:
    """``act_backward`` plus db[j] = Σ_rows delta[:, j] (db [D] overwritten; accumulated in float64)."""
    _empty(z, out, eps, delta, db)
    k = _KERNELS.get((1, code, True, delta is eps)) or backward_kernel(code, True, delta is eps)
    k(p, z, out, eps, delta, db, scratch(_F64, db.shape[0], 1))


@_jit
def rrelu_forward_train(z: np.ndarray, alpha: np.ndarray, out: np.ndarray) -> None:
    """RReLU in training: out = z where z ≥ 0, alpha·z elsewhere; alpha holds slopes the caller drew from U(l, u).

    ``rrelu_forward_train(z, alpha, out: T[N, D]) -> None``; ``out`` may be ``z`` (element-wise, same index).
    """
    if z.shape[0] != alpha.shape[0] or z.shape[1] != alpha.shape[1] or z.shape[0] != out.shape[0] \
            or z.shape[1] != out.shape[1]:
        raise ValueError("arrays must have the same shape")
    T = z.dtype.type
    for i in range(z.shape[0]):
        zr, ar, orow = z[i], alpha[i], out[i]
        for j in range(zr.shape[0]):
            x = zr[j]
            neg = ar[j] * x
            orow[j] = select(x >= T(0.0), x, neg)


@_jit
def rrelu_backward_train(z: np.ndarray, alpha: np.ndarray, eps: np.ndarray, delta: np.ndarray) -> None:
    """RReLU in training: delta = eps where z > 0, alpha·eps elsewhere (alpha as drawn for the forward pass).

    ``rrelu_backward_train(z, alpha, eps, delta: T[N, D]) -> None``; ``delta`` may be ``eps``.
    """
    rows, width = z.shape[0], z.shape[1]
    if alpha.shape[0] != rows or alpha.shape[1] != width or eps.shape[0] != rows or eps.shape[1] != width \
            or delta.shape[0] != rows or delta.shape[1] != width:
        raise ValueError("arrays must have the same shape")
    T = z.dtype.type
    for i in range(rows):
        zr, ar, er, dr = z[i], alpha[i], eps[i], delta[i]
        for j in range(zr.shape[0]):
            g = er[j]
            neg = ar[j] * g
            dr[j] = select(zr[j] > T(0.0), g, neg)


def warmup(dtypes=(np.float32, np.float64), codes=None) -> None:
    """Compile (or load from the on-disk cache) the kernels of every activation (or of those in ``codes``) for the
    given dtypes: forward and backward, with and without bias, in place and not; the RReLU training kernels and
    ``grad_finish``."""
    for dt in dtypes:
        z = np.zeros((2, 3), dt)
        o, e, d, b = np.zeros_like(z), np.ones_like(z), np.zeros_like(z), np.zeros(3, dt)
        for code in sorted(NAME_BY_CODE) if codes is None else codes:
            p = params(code)
            act_forward(code, p, z, o)
            act_forward(code, p, o, o)
            bias_act_forward(code, p, z, b, o)
            bias_act_forward(code, p, o, b, o)
            act_backward(code, p, z, o, e, d)
            act_backward(code, p, z, o, d, d)
            act_backward_bias(code, p, z, o, e, d, b)
            act_backward_bias(code, p, z, o, d, d, b)
        column_sums(z, np.zeros(3), b)
        grad_finish(True, d, b, np.zeros(3), 0.5)
        rrelu_forward_train(z, e, o)
        rrelu_backward_train(z, e, e, d)
