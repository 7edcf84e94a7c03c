"""Fused updater (optimizer) kernels over DL4J's flat parameter / gradient / updater-state buffers.

The engine keeps one flat parameter vector, one flat gradient vector and one flat updater-state vector in DL4J's
layout (spec ``layers-and-network.md`` §9).  An updater *block* is a run of consecutive parameters with the same
updater configuration; its state holds each state variable for all parameters of the block (Adam: m for all,
then v for all).  For every block the engine makes ONE call of this module's kernel for the updater, passing the
block's parameter slice ``w``, its gradient slice ``g`` and one slice per state variable (Adam:
``m = state[s0 : s0 + L]``, ``v = state[s0 + L : s0 + 2L]``), all of length L, plus the parameters' boundaries
inside the block (``bounds``: int64 [E + 1], from 0 to L) and their coefficients (``coefs``: float64 [E, 4],
per parameter ``scale, l1, l2, wd``).  For every element of parameter e the kernel does::

    g_eff = g * scale + l1 * sign(w) + l2 * w      # minibatch division (scale = 1/N or 1.0); L1, L2 (§10)
    u     = rule(g_eff, state...)                  # the updater rule; state updated in place (§9)
    u    += wd * w                                 # WeightDecay (§10); wd = coeff, times lr if applyLR (caller)
    w    -= u

``commit`` (the last argument) says whether the new values are written.  With ``commit=False`` the kernel writes
nothing and returns True when any new parameter or state value would be NaN or ±∞ (a dry run); with
``commit=True`` it writes them and returns False.  The engine commits an update only when no block objects: a
block is dry-run unless :func:`scan_block`'s sums already prove its update finite (``dl4py.nn.updater.finite_bounds``),
so an update that would overflow leaves parameters and state untouched without a backup copy.

``sign(0) = 0``.  The gradient slice ``g`` is only read (DL4J overwrites its gradient view with the update; the
engine has no need for that).  Per-element operation order follows libnd4j's updater helpers, so float64 results
equal the spec formulas up to rounding.

Calling conventions (keep them, so that each kernel has only two compiled signatures, float32 and float64):

* ``w``, ``g`` and the state slices: 1-D C-contiguous arrays of ONE dtype, float32 or float64, equal lengths;
  ``bounds`` int64, ``coefs`` float64 C-contiguous (checked; a mismatch raises ``ValueError``);
* hyper-parameters: Python floats (float64), ``t``: Python int, the iteration count *before* this update (0 for
  the first update); ``commit``: a Python bool.  Scalars are combined in float64 (e.g. Adam's α, ``1 - beta1``)
  and then rounded once to the array dtype; the element loop then runs entirely in the array dtype.

Kernels are ``cache=True``, ``error_model='numpy'`` (no zero-division branches), not fastmath (exact IEEE
arithmetic; ``sqrt`` is the correctly rounded instruction), branch-free inner loops that vectorise, and they
allocate nothing.  The L1 term (the sign computation is the costliest part of the prologue) is skipped for a
parameter with ``l1 == 0``; both versions give the same numbers.  One call per block rather than per parameter
matters: a kernel call costs several microseconds of argument unboxing.  :func:`warmup` compiles (or loads from
the cache) every kernel for the given dtypes.

Gradient normalisation (§12) helpers: :func:`scale_inplace` (minibatch division before normalisation) and
:func:`normalize_gradients` (per layer, on the list of that layer's gradient slices).

Fidelity notes (rounding-level only): DL4J divides the gradient by N (``divi(batchSize)``) where these kernels
multiply by ``scale = 1/N`` (identical for N a power of two, otherwise at most 1 ulp apart per element).  In
float32, recent libnd4j helpers cast the hyper-parameters to float32 first and derive ``1 − β`` and α in float32
(e.g. ``1 − 0.999f`` is 1.3e-5 relatively off 0.001); here they are derived in float64 and rounded once, as
DL4J's older Java updaters did.
"""
from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from ._support import HELPER_OPTIONS, KERNEL_OPTIONS, same_shape

__all__ = [
    "sgd_step",
    "noop_step",
    "adam_step",
    "adamax_step",
    "nadam_step",
    "amsgrad_step",
    "nesterovs_step",
    "rmsprop_step",
    "adagrad_step",
    "adadelta_step",
    "scan_block",
    "scale_inplace",
    "normalize_gradients",
    "GRADNORM_NONE",
    "GRADNORM_RENORMALIZE_L2_PER_LAYER",
    "GRADNORM_RENORMALIZE_L2_PER_PARAM_TYPE",
    "GRADNORM_CLIP_ELEMENTWISE_ABSOLUTE_VALUE",
    "GRADNORM_CLIP_L2_PER_LAYER",
    "GRADNORM_CLIP_L2_PER_PARAM_TYPE",
    "GRADNORM_CODE_BY_NAME",
    "GRADNORM_NAME_BY_CODE",
    "STATE_SIZE_MULTIPLIER",
    "STATE_INITIAL_VALUE",
    "STATE_VARIABLES",
    "STEP_KERNEL_BY_NAME",
    "state_initial_value",
    "warmup",
]

# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------

#: State size of an updater block = multiplier × (number of parameters in the block) (spec §9).
STATE_SIZE_MULTIPLIER = {
    "Sgd": 0,
    "NoOp": 0,
    "Adam": 2,
    "AdaMax": 2,
    "Nadam": 2,
    "AMSGrad": 3,
    "Nesterovs": 1,
    "RmsProp": 1,
    "AdaGrad": 1,
    "AdaDelta": 2,
}

#: Initial value of a freshly created updater state.  ``0.0``: zeros.  The string ``"epsilon"``: filled with the
#: updater's ``epsilon`` hyper-parameter (RmsProp: default 1e-8, AdaGrad: default 1e-6) — DL4J initialises these
#: two states to ε, not 0.  The engine fills the state; the kernels never initialise it.  Use
#: :func:`state_initial_value` to resolve it to a number.
STATE_INITIAL_VALUE = {
    "Sgd": 0.0,
    "NoOp": 0.0,
    "Adam": 0.0,
    "AdaMax": 0.0,
    "Nadam": 0.0,
    "AMSGrad": 0.0,
    "Nesterovs": 0.0,
    "RmsProp": "epsilon",
    "AdaGrad": "epsilon",
    "AdaDelta": 0.0,
}

#: Order of the state variables inside a block's state slice (each covers all parameters of the block), which is
#: also the order of the state arguments of the kernel.
STATE_VARIABLES = {
    "Sgd": (),
    "NoOp": (),
    "Adam": ("m", "v"),
    "AdaMax": ("m", "u"),
    "Nadam": ("m", "v"),
    "AMSGrad": ("m", "v", "vhat"),
    "Nesterovs": ("v",),
    "RmsProp": ("G",),
    "AdaGrad": ("H",),
    "AdaDelta": ("msg", "msdx"),
}


def state_initial_value(updater_name: str, epsilon: float | None = None) -> float:
    """Numeric initial value of the state of ``updater_name`` (``epsilon`` needed for RmsProp and AdaGrad)."""
    init = STATE_INITIAL_VALUE[updater_name]
    if init == "epsilon":
        if epsilon is None:
            raise ValueError(f"{updater_name} state is initialised to epsilon: pass the updater's epsilon")
        return float(epsilon)
    return float(init)


# Gradient normalisation modes: the ordinals of DL4J's GradientNormalization enum.
GRADNORM_NONE = 0
GRADNORM_RENORMALIZE_L2_PER_LAYER = 1
GRADNORM_RENORMALIZE_L2_PER_PARAM_TYPE = 2
GRADNORM_CLIP_ELEMENTWISE_ABSOLUTE_VALUE = 3
GRADNORM_CLIP_L2_PER_LAYER = 4
GRADNORM_CLIP_L2_PER_PARAM_TYPE = 5

#: DL4J's ``GradientNormalization`` names -> mode codes of :func:`normalize_gradients`.
GRADNORM_CODE_BY_NAME = {
    "None": GRADNORM_NONE,
    "RenormalizeL2PerLayer": GRADNORM_RENORMALIZE_L2_PER_LAYER,
    "RenormalizeL2PerParamType": GRADNORM_RENORMALIZE_L2_PER_PARAM_TYPE,
    "ClipElementWiseAbsoluteValue": GRADNORM_CLIP_ELEMENTWISE_ABSOLUTE_VALUE,
    "ClipL2PerLayer": GRADNORM_CLIP_L2_PER_LAYER,
    "ClipL2PerParamType": GRADNORM_CLIP_L2_PER_PARAM_TYPE,
}
GRADNORM_NAME_BY_CODE = {code: name for name, code in GRADNORM_CODE_BY_NAME.items()}

# Replacement of a zero L2 norm by the Renormalize* modes (DL4J: "Avoid 0/0 -> NaN").
_ZERO_NORM_REPLACEMENT = 1e-5

# ---------------------------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------------------------
# Every kernel: float64 scalars are rounded once to the array dtype T (T(x)); the loop runs in T only.  The sign
# of w is arithmetic on the comparisons (no branch).  No kernel uses fastmath.  The loop-invariant tests in the
# loop (``has_l1``, ``commit``) are unswitched by LLVM: each kernel compiles to four branch-free loops that
# vectorise.  The updater rules are small functions shared by both passes, so both compute the same values.

_REASSOC_OPTIONS = dict(KERNEL_OPTIONS, fastmath={"reassoc"})


@njit(**HELPER_OPTIONS)
def _check_block(lengths_ok, n, bounds, coefs):
    """Raise unless the slices have one length (``lengths_ok``) and ``bounds`` rise from 0 to it, one coefficient row
    per parameter (one shared function: each compiled function costs every cold process a tenth of a second)."""
    e = bounds.shape[0] - 1
    ok = lengths_ok and e >= 0 and coefs.shape[0] == e and coefs.shape[1] == 4
    if ok:
        ok = bounds[0] == 0 and bounds[e] == n
        for k in range(e):
            ok &= bounds[k + 1] >= bounds[k]
    if not ok:
        raise ValueError("updater kernel: parameter, gradient and state slices must have one length, and bounds "
                         "rise from 0 to it with one coefficient row per parameter")


# The dry run sums x − x over the new values: 0 for finite x, NaN for NaN/±∞ (the kernels have no fastmath, so
# nothing folds x − x away). Reassociation lets that accumulation vectorise; it applies to this addition only (LLVM
# reassociates only between instructions that both carry the flag), so the zero-or-NaN terms cannot be reordered.
@njit(**dict(HELPER_OPTIONS, fastmath={"reassoc"}))
def _accumulate(acc, x):
    return acc + x


@njit(**KERNEL_OPTIONS)
def sgd_step(w, g, bounds, coefs, lr, commit):
    """Sgd: ``u = lr·g_eff + wd·w``; ``w -= u``.  No state."""
    n = w.shape[0]
    _check_block(same_shape(w, g), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    a = T(lr)
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk = w[lo:hi], g[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            nw = wi - (a * gi + cw * wi)
            if commit:
                wk[i] = nw
            else:
                bad = _accumulate(bad, nw - nw)
    return bad != bad


@njit(**KERNEL_OPTIONS)
def noop_step(w, g, bounds, coefs, commit):
    """DL4J NoOp: ``u = g_eff`` (the gradient unchanged — DL4J's NoOp updater leaves the gradient as the update,
    and the step STILL SUBTRACTS it: ``w -= g_eff + wd·w``).  No state, no learning rate."""
    n = w.shape[0]
    _check_block(same_shape(w, g), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk = w[lo:hi], g[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            nw = wi - (gi + cw * wi)
            if commit:
                wk[i] = nw
            else:
                bad = _accumulate(bad, nw - nw)
    return bad != bad


@njit(**KERNEL_OPTIONS)
def adam_step(w, g, m, v, bounds, coefs, lr, beta1, beta2, eps, t, commit):
    """Adam (state m, v; zeros initially).

    ``m ← β1·m + (1−β1)·g``; ``v ← β2·v + (1−β2)·g²``; ``α = lr·√(1−β2^(t+1)) / (1−β1^(t+1))``, replaced by ε
    when NaN, 0 or ±∞; ``u = α·m/(√v + ε)``.
    """
    n = w.shape[0]
    _check_block(same_shape(w, g, m, v), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    e = T(eps)
    k = float(t) + 1.0
    alpha = T(lr * math.sqrt(1.0 - math.pow(beta2, k)) / (1.0 - math.pow(beta1, k)))
    if math.isnan(alpha) or math.isinf(alpha) or alpha == zero:
        alpha = e
    b1, b2, ob1, ob2 = T(beta1), T(beta2), T(1.0 - beta1), T(1.0 - beta2)
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk, mk, vk = w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            mi = b1 * mk[i] + gi * ob1
            vi = b2 * vk[i] + gi * gi * ob2
            nw = wi - ((mi * alpha) / (np.sqrt(vi) + e) + cw * wi)
            if commit:
                mk[i] = mi
                vk[i] = vi
                wk[i] = nw
            else:
                bad = _accumulate(bad, (nw - nw) + (mi - mi) + (vi - vi))
    return bad != bad


@njit(**KERNEL_OPTIONS)
def adamax_step(w, g, m, u_state, bounds, coefs, lr, beta1, beta2, eps, t, commit):
    """AdaMax (state m, u; zeros initially).

    ``m ← β1·m + (1−β1)·g``; ``u_s ← max(β2·u_s, |g|) + 1e-32``; ``α = lr/(1−β1^(t+1))``; ``update = α·m/u_s``.
    ε takes no part in the rule; as in libnd4j it only replaces α when α is NaN, 0 or ±∞ (e.g. lr = 0).
    """
    n = w.shape[0]
    _check_block(same_shape(w, g, m, u_state), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    tiny = T(1e-32)
    k = float(t) + 1.0
    alpha = T(lr / (1.0 - math.pow(beta1, k)))
    if math.isnan(alpha) or math.isinf(alpha) or alpha == zero:
        alpha = T(eps)
    b1, b2, ob1 = T(beta1), T(beta2), T(1.0 - beta1)
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk, mk, u_statek = w[lo:hi], g[lo:hi], m[lo:hi], u_state[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            mi = b1 * mk[i] + gi * ob1
            ui = max(b2 * u_statek[i], abs(gi)) + tiny
            nw = wi - ((mi * alpha) / ui + cw * wi)
            if commit:
                mk[i] = mi
                u_statek[i] = ui
                wk[i] = nw
            else:
                bad = _accumulate(bad, (nw - nw) + (mi - mi) + (ui - ui))
    return bad != bad


@njit(**KERNEL_OPTIONS)
def nadam_step(w, g, m, v, bounds, coefs, lr, beta1, beta2, eps, t, commit):
    """Nadam (state m, v; zeros initially).

    ``m ← β1·m + (1−β1)·g``; ``v ← β2·v + (1−β2)·g²``;
    ``u = lr·((β1·m + (1−β1)·g)/(1−β1^(t+1))) / (√v + ε)`` (new m; no bias correction on v).
    """
    n = w.shape[0]
    _check_block(same_shape(w, g, m, v), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    e = T(eps)
    a = T(lr)
    b1, b2, ob1, ob2 = T(beta1), T(beta2), T(1.0 - beta1), T(1.0 - beta2)
    corr = T(1.0 - math.pow(beta1, float(t) + 1.0))
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk, mk, vk = w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            og = gi * ob1
            mi = b1 * mk[i] + og
            vi = b2 * vk[i] + gi * gi * ob2
            nw = wi - ((a * ((mi * b1 + og) / corr)) / (np.sqrt(vi) + e) + cw * wi)
            if commit:
                mk[i] = mi
                vk[i] = vi
                wk[i] = nw
            else:
                bad = _accumulate(bad, (nw - nw) + (mi - mi) + (vi - vi))
    return bad != bad


@njit(**KERNEL_OPTIONS)
def amsgrad_step(w, g, m, v, vhat, bounds, coefs, lr, beta1, beta2, eps, t, commit):
    """AMSGrad (state m, v, v̂; zeros initially).

    m, v and α as Adam; ``v̂ ← max(v̂, v)``; ``u = α·m/(√v̂ + ε)``.
    """
    n = w.shape[0]
    _check_block(same_shape(w, g, m, v, vhat), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    e = T(eps)
    k = float(t) + 1.0
    alpha = T(lr * math.sqrt(1.0 - math.pow(beta2, k)) / (1.0 - math.pow(beta1, k)))
    if math.isnan(alpha) or math.isinf(alpha) or alpha == zero:
        alpha = e
    b1, b2, ob1, ob2 = T(beta1), T(beta2), T(1.0 - beta1), T(1.0 - beta2)
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk, mk, vk, vhatk = w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], vhat[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            mi = b1 * mk[i] + gi * ob1
            vi = b2 * vk[i] + gi * gi * ob2
            hi = max(vhatk[i], vi)
            nw = wi - ((alpha * mi) / (np.sqrt(hi) + e) + cw * wi)
            if commit:
                mk[i] = mi
                vk[i] = vi
                vhatk[i] = hi
                wk[i] = nw
            else:
                bad = _accumulate(bad, (nw - nw) + (mi - mi) + (vi - vi) + (hi - hi))
    return bad != bad


@njit(**KERNEL_OPTIONS)
def nesterovs_step(w, g, v, bounds, coefs, lr, momentum, commit):
    """Nesterovs (state v; zeros initially).

    ``v_prev = v``; ``v ← μ·v − lr·g``; ``u = μ·v_prev − (1+μ)·v`` (computed as μ·v_prev + (−μ−1)·v, identical
    in IEEE arithmetic).
    """
    n = w.shape[0]
    _check_block(same_shape(w, g, v), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    a = T(lr)
    mu = T(momentum)
    mneg = T(-momentum - 1.0)
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk, vk = w[lo:hi], g[lo:hi], v[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            p = mu * vk[i]
            vi = p - a * gi
            nw = wi - ((p + mneg * vi) + cw * wi)
            if commit:
                vk[i] = vi
                wk[i] = nw
            else:
                bad = _accumulate(bad, (nw - nw) + (vi - vi))
    return bad != bad


@njit(**KERNEL_OPTIONS)
def rmsprop_step(w, g, G, bounds, coefs, lr, decay, eps, commit):
    """RmsProp (state G, initialised to ε by the engine).  ``G ← ρ·G + (1−ρ)·g²``; ``u = lr·g/(√G + ε)``."""
    n = w.shape[0]
    _check_block(same_shape(w, g, G), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    a = T(lr)
    rho = T(decay)
    orho = T(1.0 - decay)
    e = T(eps)
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk, Gk = w[lo:hi], g[lo:hi], G[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            si = Gk[i] * rho + gi * gi * orho
            nw = wi - ((a * gi) / (np.sqrt(si) + e) + cw * wi)
            if commit:
                Gk[i] = si
                wk[i] = nw
            else:
                bad = _accumulate(bad, (nw - nw) + (si - si))
    return bad != bad


@njit(**KERNEL_OPTIONS)
def adagrad_step(w, g, H, bounds, coefs, lr, eps, commit):
    """AdaGrad (state H, initialised to ε by the engine).  ``H ← H + g²``; ``u = lr·g/(√H + ε)``."""
    n = w.shape[0]
    _check_block(same_shape(w, g, H), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    a = T(lr)
    e = T(eps)
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk, Hk = w[lo:hi], g[lo:hi], H[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            hi = Hk[i] + gi * gi
            nw = wi - ((a * gi) / (np.sqrt(hi) + e) + cw * wi)
            if commit:
                Hk[i] = hi
                wk[i] = nw
            else:
                bad = _accumulate(bad, (nw - nw) + (hi - hi))
    return bad != bad


@njit(**KERNEL_OPTIONS)
def adadelta_step(w, g, msg, msdx, bounds, coefs, rho, eps, commit):
    """AdaDelta (state msg, msdx; zeros initially; no learning rate).

    ``msg ← ρ·msg + (1−ρ)·g²``; ``u = g·√(msdx + ε)/√(msg + ε)`` (old msdx); ``msdx ← ρ·msdx + (1−ρ)·u²`` (u before
    weight decay).
    """
    n = w.shape[0]
    _check_block(same_shape(w, g, msg, msdx), n, bounds, coefs)
    T = w.dtype.type
    zero = T(0.0)
    r = T(rho)
    orho = T(1.0 - rho)
    e = T(eps)
    bad = zero
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sc, c1, c2, cw = T(coefs[ent, 0]), T(coefs[ent, 1]), T(coefs[ent, 2]), T(coefs[ent, 3])
        has_l1 = c1 != zero
        wk, gk, msgk, msdxk = w[lo:hi], g[lo:hi], msg[lo:hi], msdx[lo:hi]
        for i in range(hi - lo):
            wi = wk[i]
            gi = gk[i] * sc
            if has_l1:
                gi = gi + c1 * (T(wi > zero) - T(wi < zero))
            gi = gi + c2 * wi
            sg = r * msgk[i] + gi * gi * orho
            dx = msdxk[i]
            ui = gi * (np.sqrt(dx + e) / np.sqrt(sg + e))
            ndx = r * dx + ui * ui * orho
            nw = wi - (ui + cw * wi)
            if commit:
                msgk[i] = sg
                msdxk[i] = ndx
                wk[i] = nw
            else:
                bad = _accumulate(bad, (nw - nw) + (sg - sg) + (ndx - ndx))
    return bad != bad


# ---------------------------------------------------------------------------------------------------------------
# The scan before an update: regularisation score and the sizes that bound the new values
# ---------------------------------------------------------------------------------------------------------------
@njit(**_REASSOC_OPTIONS)
def scan_block(w, g, s, bounds, reg, stats):
    """One memory-bound pass over a block before its update (float64 sums; reassociated, so they vectorise).

    Returns the block's regularisation score Σ_e (reg[e, 0]·Σ|w_e| + reg[e, 1]·Σw_e²) (``reg`` float64 [E, 2]:
    the L1 coefficient and half the L2 + WeightDecay coefficient of every parameter) and writes ``stats`` float64
    [2 + 2V]: Σw², Σg², then for each state variable v of ``s`` (T [V, L]) Σs_v² and Σ(|s_v| − s_v) (0 exactly when
    no element is negative). A NaN or ±∞ anywhere makes the sums it enters NaN or ∞; float64 squares of float32
    values never overflow, so a finite Σx² bounds every |x| by its square root.

    Signature: ``scan_block(w, g: T[L], s: T[V, L], bounds: int64[E + 1], reg: float64[E, 2],
    stats: float64[2 + 2V]) -> float``.
    """
    n = w.shape[0]
    if not same_shape(w, g):
        raise ValueError("scan_block: w and g must have one length")
    n_state = s.shape[0]
    if n_state and s.shape[1] != n:
        raise ValueError("scan_block: the state must be [V, L] for a block of L parameters")
    if reg.shape[0] != bounds.shape[0] - 1 or reg.shape[1] != 2 or stats.shape[0] != 2 + 2 * n_state:
        raise ValueError("scan_block: reg must be [E, 2] and stats [2 + 2V]")
    score = 0.0
    w2 = 0.0
    for ent in range(bounds.shape[0] - 1):
        lo, hi = bounds[ent], bounds[ent + 1]
        sq = 0.0
        ab = 0.0
        wk = w[lo:hi]  # indices from 0: LLVM then knows they are not negative (no wraparound) and vectorises
        for i in range(hi - lo):  # (memory-bound: Σ|w| costs nothing where no L1 needs it)
            x = np.float64(wk[i])
            sq += x * x
            ab += abs(x)
        w2 += sq
        if reg[ent, 0] != 0.0:
            score += reg[ent, 0] * ab
        if reg[ent, 1] != 0.0:
            score += reg[ent, 1] * sq
    g2 = 0.0
    for i in range(n):
        x = np.float64(g[i])
        g2 += x * x
    stats[0] = w2
    stats[1] = g2
    for v in range(n_state):
        row = s[v]
        s2 = 0.0
        neg = 0.0
        for i in range(n):
            x = np.float64(row[i])
            s2 += x * x
            neg += abs(x) - x
        stats[2 + 2 * v] = s2
        stats[3 + 2 * v] = neg
    return score


#: DL4J updater class name -> step kernel.
STEP_KERNEL_BY_NAME = {
    "Sgd": sgd_step,
    "NoOp": noop_step,
    "Adam": adam_step,
    "AdaMax": adamax_step,
    "Nadam": nadam_step,
    "AMSGrad": amsgrad_step,
    "Nesterovs": nesterovs_step,
    "RmsProp": rmsprop_step,
    "AdaGrad": adagrad_step,
    "AdaDelta": adadelta_step,
}

# ---------------------------------------------------------------------------------------------------------------
# Minibatch division and gradient normalisation (§12)
# ---------------------------------------------------------------------------------------------------------------


@njit(**KERNEL_OPTIONS)
def scale_inplace(g, scale):
    """``g *= scale`` in place (scale rounded to g's dtype), e.g. the minibatch division (scale = 1/N) that
    precedes gradient normalisation; the step kernel is then called with ``scale=1.0``."""
    T = g.dtype.type
    s = T(scale)
    for i in range(g.shape[0]):
        g[i] = g[i] * s


@njit(**KERNEL_OPTIONS)
def _divide_inplace(g, divisor):
    T = g.dtype.type
    d = T(divisor)
    for i in range(g.shape[0]):
        g[i] = g[i] / d


@njit(**KERNEL_OPTIONS)
def _clip_inplace(g, threshold):
    T = g.dtype.type
    hi = T(threshold)
    lo = -hi
    for i in range(g.shape[0]):
        g[i] = min(max(g[i], lo), hi)


# Reassociation only (lets the float64 accumulation vectorise); no 'nnan'/'ninf', so NaN and inf propagate.
@njit(**_REASSOC_OPTIONS)
def _sum_squares(g):
    s = 0.0
    for i in range(g.shape[0]):
        x = np.float64(g[i])
        s += x * x
    return s


def normalize_gradients(mode_code: int, threshold: float, slices) -> None:
    """Gradient normalisation of ONE layer, in place, on the list of its 1-D gradient slices (spec §12).

    ``mode_code``: a ``GRADNORM_*`` constant (``GRADNORM_CODE_BY_NAME[name]`` for DL4J's enum names); ``threshold``:
    the layer's ``gradientNormalizationThreshold`` (used by the Clip* modes).  Norms are accumulated in float64; the
    final scalar is rounded to the gradient dtype before the elementwise operation, as ND4J's scalar ops do:

    * ``RenormalizeL2PerLayer``: g ← g / ‖g_layer‖₂ (norm 0 → 1e-5);
    * ``RenormalizeL2PerParamType``: each slice g_p ← g_p / ‖g_p‖₂ (norm 0 → 1e-5);
    * ``ClipElementWiseAbsoluteValue``: each element clipped to [−threshold, threshold];
    * ``ClipL2PerLayer``: if ‖g_layer‖₂ > threshold: g ← g · (threshold/‖g_layer‖₂);
    * ``ClipL2PerParamType``: per slice, if ‖g_p‖₂ > threshold: g_p ← g_p / (‖g_p‖₂/threshold).

    The engine divides by the minibatch size first (:func:`scale_inplace`), normalises, then runs the step kernels
    with ``scale=1.0``.  No array is allocated.
    """
    if mode_code == GRADNORM_NONE:
        return
    if mode_code == GRADNORM_RENORMALIZE_L2_PER_LAYER:
        total = 0.0
        for s in slices:
            total += _sum_squares(s)
        norm = math.sqrt(total)
        if norm == 0.0:
            norm = _ZERO_NORM_REPLACEMENT
        for s in slices:
            _divide_inplace(s, norm)
    elif mode_code == GRADNORM_RENORMALIZE_L2_PER_PARAM_TYPE:
        for s in slices:
            norm = math.sqrt(_sum_squares(s))
            if norm == 0.0:
                norm = _ZERO_NORM_REPLACEMENT
            _divide_inplace(s, norm)
    elif mode_code == GRADNORM_CLIP_ELEMENTWISE_ABSOLUTE_VALUE:
        for s in slices:
            _clip_inplace(s, threshold)
    elif mode_code == GRADNORM_CLIP_L2_PER_LAYER:
        total = 0.0
        for s in slices:
            total += _sum_squares(s)
        norm = math.sqrt(total)
        if norm > threshold:
            factor = threshold / norm
            for s in slices:
                scale_inplace(s, factor)
    elif mode_code == GRADNORM_CLIP_L2_PER_PARAM_TYPE:
        for s in slices:
            norm = math.sqrt(_sum_squares(s))
            if norm > threshold:
                _divide_inplace(s, norm / threshold)
    else:
        raise ValueError(f"unknown gradient normalisation mode code {mode_code!r}")


# ---------------------------------------------------------------------------------------------------------------
# Warm-up
# ---------------------------------------------------------------------------------------------------------------


def warmup(dtypes=(np.float32, np.float64)) -> float:
    """Compile (or load from numba's on-disk cache) every kernel of this module for ``dtypes``, using the calling
    convention the engine uses (arrays of one dtype, Python float scalars, Python int ``t``).  Returns seconds."""
    start = time.perf_counter()
    for dt in dtypes:
        a = [np.zeros(2, dtype=dt) for _ in range(5)]
        w, g, s1, s2, s3 = a
        bounds = np.array([0, 2], dtype=np.int64)
        coefs = np.array([[1.0, 0.0, 0.0, 0.0]])
        sgd_step(w, g, bounds, coefs, 0.1, True)
        noop_step(w, g, bounds, coefs, True)
        adam_step(w, g, s1, s2, bounds, coefs, 1e-3, 0.9, 0.999, 1e-8, 0, True)
        adamax_step(w, g, s1, s2, bounds, coefs, 1e-3, 0.9, 0.999, 1e-8, 0, True)
        nadam_step(w, g, s1, s2, bounds, coefs, 1e-3, 0.9, 0.999, 1e-8, 0, True)
        amsgrad_step(w, g, s1, s2, s3, bounds, coefs, 1e-3, 0.9, 0.999, 1e-8, 0, True)
        nesterovs_step(w, g, s1, bounds, coefs, 0.1, 0.9, True)
        s1[:] = 1e-8
        rmsprop_step(w, g, s1, bounds, coefs, 0.1, 0.95, 1e-8, True)
        adagrad_step(w, g, s1, bounds, coefs, 0.1, 1e-6, True)
        s1[:] = 0.0
        adadelta_step(w, g, s1, s2, bounds, coefs, 0.95, 1e-6, True)
        scale_inplace(g, 1.0)
        _divide_inplace(g, 1.0)
        _clip_inplace(g, 1.0)
        _sum_squares(g)
        for n_state in (0, 2):
            scan_block(w, g, np.zeros((n_state, 2), dtype=dt), bounds, np.zeros((1, 2)), np.zeros(2 + 2 * n_state))
    return time.perf_counter() - start
