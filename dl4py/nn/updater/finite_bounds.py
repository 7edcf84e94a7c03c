"""Proof, from a few sums, that an update cannot produce NaN or ±∞ — so its exact dry run can be skipped.

The engine writes an update only when no new parameter or state value would be non-finite. Checking that exactly
means running the updater kernel twice (a dry run, then the writing run), and the dry run costs as much as the
update. Before it, :func:`~dl4py.kernels.updaters.scan_block` makes one cheaper pass over the block (it also gives
the regularisation score) and returns Σw², Σg² and, per state variable, Σs² and Σ(|s| − s). Every |x| is at most
the square root of its array's Σx², so these sums bound every new value from above; when all bounds stay below a
quarter of the dtype's largest finite value (a margin that covers every rounding step of the rules), the update is
finite and the dry run is skipped. When the bounds cannot prove it — a non-finite or huge gradient, a negative
state entry, ε rounding to 0 — the exact dry run decides as before. A "proved" answer is therefore always right,
and an unproved one only costs the dry run; the tests check both directions for every updater.

A proof also bounds the new state (e.g. Adam's |m'| ≤ β1·M + (1 − β1)·G, with a rounding margin), and which state
variables the rule keeps non-negative; the updater carries these bounds to the next step instead of reading the
state again, for as long as nothing outside the update can have written the state.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

__all__ = ["StateBounds", "proved_state_bounds", "NON_NEGATIVE_STATE"]

StateBounds = tuple[float, ...]  # per state variable: an upper bound of max |s_v|

_LIMITS: dict[type, float] = {}
_SLACK = 1.0 + 1e-6  # float64 rounding of the sums (relative n·2⁻⁵³) and of the scalar hyper-parameters
_STATE_SLACK = 1.0 + 1e-5  # a new state value's rounding (a few dtype roundings, β rounded to the dtype)

#: Per updater and state variable: does a proved update leave it ≥ 0 (whatever it was before)?
NON_NEGATIVE_STATE: dict[str, tuple[bool, ...]] = {
    "Sgd": (), "NoOp": (), "Adam": (False, True), "AMSGrad": (False, True, True), "Nadam": (False, True),
    "AdaMax": (False, True), "Nesterovs": (False,), "RmsProp": (True,), "AdaGrad": (True,), "AdaDelta": (True, True),
}


def _norm(sum_of_squares: float) -> float:
    """An upper bound of max |x| from a (float64) Σx² — NaN stays NaN, ∞ stays ∞."""
    return math.sqrt(sum_of_squares) * _SLACK if sum_of_squares >= 0.0 else math.nan


class _Block:
    """What the bounds need of one block: sizes of w, of the effective gradient and of each state variable."""

    def __init__(self, stats: np.ndarray, coef_max: Sequence[float], dtype: np.dtype,
                 tracked: tuple[StateBounds, tuple[bool, ...]] | None) -> None:
        self.T = dtype.type
        self.limit = _LIMITS.get(self.T) or _LIMITS.setdefault(self.T, float(np.finfo(dtype).max) / 4.0)
        self.w = _norm(float(stats[0]))
        g = _norm(float(stats[1]))
        sc, l1, l2, wd = coef_max
        self.g = sc * g + l1 + l2 * self.w  # |g_eff| = |g·scale + l1·sign(w) + l2·w|
        self.wd = wd
        if tracked is not None:  # bounds carried over from the previous proved update: the state was not read
            self.s, self.nonneg = list(tracked[0]), list(tracked[1])
        else:
            n_state = (stats.shape[0] - 2) // 2
            self.s = [_norm(float(stats[2 + 2 * v])) for v in range(n_state)]
            self.nonneg = [float(stats[3 + 2 * v]) == 0.0 for v in range(n_state)]

    def eps(self, eps: float) -> float:
        """ε as the kernels use it (rounded to the dtype), or 0 when that is not a usable positive divisor."""
        e = float(self.T(eps))
        return e if e > 0.0 and math.isfinite(e) else 0.0

    def new_w_ok(self, update: float) -> bool:
        """w − (u + wd·w) stays finite given |u| ≤ ``update``."""
        return (1.0 + self.wd) * self.w + update < self.limit

    def ok(self, *values: float) -> bool:
        """Every value — bounds of the new values and of each intermediate the rule forms — is below the limit
        (NaN compares False: not proved); |g_eff| always is one."""
        return self.g < self.limit and all(v < self.limit for v in values)


def _unit(*betas: float) -> bool:
    return all(0.0 <= b <= 1.0 for b in betas)


def _step_size(b: _Block, compute: Callable[[], float], fallback: float) -> float:
    """A step size as the kernels form it: computed in float64, rounded to the dtype, and replaced by
    ``fallback`` (ε rounded to the dtype) when that is NaN, ±∞ or 0."""
    try:
        raw = compute()
    except (ValueError, ZeroDivisionError, OverflowError):
        raw = math.nan
    alpha = float(b.T(raw)) if abs(raw) <= 4.0 * b.limit else math.inf  # (4·limit: the dtype's largest value)
    return float(b.T(fallback)) if (math.isnan(alpha) or math.isinf(alpha) or alpha == 0.0) else alpha


def _adam_alpha(b: _Block, lr: float, beta1: float, beta2: float, eps: float, t: int) -> float:
    k = float(t) + 1.0
    return _step_size(b, lambda: lr * math.sqrt(1.0 - beta2 ** k) / (1.0 - beta1 ** k), eps)


def _proved(condition: bool, *state: float) -> StateBounds | None:
    return tuple(v * _STATE_SLACK for v in state) if condition else None


def _sgd(b: _Block, lr: float) -> StateBounds | None:
    return _proved(b.ok() and b.new_w_ok(abs(lr) * b.g))


def _noop(b: _Block) -> StateBounds | None:
    return _proved(b.ok() and b.new_w_ok(b.g))


def _adam(b: _Block, lr: float, beta1: float, beta2: float, eps: float, t: int,
          amsgrad: bool = False) -> StateBounds | None:
    e = b.eps(eps)
    if not (e and _unit(beta1, beta2) and all(b.nonneg[1:])):
        return None
    m = beta1 * b.s[0] + (1.0 - beta1) * b.g
    v = beta2 * b.s[1] + (1.0 - beta2) * b.g * b.g
    vhat = max(b.s[2], v) if amsgrad else 0.0
    am = abs(_adam_alpha(b, lr, beta1, beta2, eps, t)) * m  # α·m is formed before the division
    ok = b.ok(b.g * b.g, m, v, vhat, am) and b.new_w_ok(am / e)
    return _proved(ok, m, v, vhat) if amsgrad else _proved(ok, m, v)


def _amsgrad(b: _Block, lr: float, beta1: float, beta2: float, eps: float, t: int) -> StateBounds | None:
    return _adam(b, lr, beta1, beta2, eps, t, amsgrad=True)


def _nadam(b: _Block, lr: float, beta1: float, beta2: float, eps: float, t: int) -> StateBounds | None:
    e = b.eps(eps)
    corr = abs(float(b.T(1.0 - beta1 ** (float(t) + 1.0))))
    if not (e and corr > 0.0 and _unit(beta1, beta2) and b.nonneg[1]):
        return None
    m = beta1 * b.s[0] + (1.0 - beta1) * b.g
    v = beta2 * b.s[1] + (1.0 - beta2) * b.g * b.g
    q = (beta1 * m + (1.0 - beta1) * b.g) / corr
    return _proved(b.ok(b.g * b.g, m, v, q, abs(lr) * q) and b.new_w_ok(abs(lr) * q / e), m, v)


def _adamax(b: _Block, lr: float, beta1: float, beta2: float, eps: float, t: int) -> StateBounds | None:
    tiny = float(b.T(1e-32))  # the rule's u = max(β2·u, |g|) + 1e-32 is at least this
    if not (_unit(beta1, beta2) and tiny > 0.0):
        return None
    alpha = _step_size(b, lambda: lr / (1.0 - beta1 ** (float(t) + 1.0)), eps)
    m = beta1 * b.s[0] + (1.0 - beta1) * b.g
    u_state = max(beta2 * b.s[1], b.g) + tiny
    return _proved(b.ok(m, u_state, abs(alpha) * m) and b.new_w_ok(abs(alpha) * m / tiny), m, u_state)


def _nesterovs(b: _Block, lr: float, momentum: float) -> StateBounds | None:
    v = abs(momentum) * b.s[0] + abs(lr) * b.g
    u = abs(momentum) * b.s[0] + abs(1.0 + momentum) * v
    return _proved(b.ok(v) and b.new_w_ok(u), v)


def _rmsprop(b: _Block, lr: float, decay: float, eps: float) -> StateBounds | None:
    e = b.eps(eps)
    if not (e and _unit(decay) and b.nonneg[0]):
        return None
    s = decay * b.s[0] + (1.0 - decay) * b.g * b.g
    return _proved(b.ok(b.g * b.g, s, abs(lr) * b.g) and b.new_w_ok(abs(lr) * b.g / e), s)


def _adagrad(b: _Block, lr: float, eps: float) -> StateBounds | None:
    e = b.eps(eps)
    if not (e and b.nonneg[0]):
        return None
    h = b.s[0] + b.g * b.g
    return _proved(b.ok(b.g * b.g, h, abs(lr) * b.g) and b.new_w_ok(abs(lr) * b.g / e), h)


def _adadelta(b: _Block, rho: float, eps: float) -> StateBounds | None:
    e = b.eps(eps)
    if not (e and _unit(rho) and all(b.nonneg)):
        return None
    msg = rho * b.s[0] + (1.0 - rho) * b.g * b.g
    u = b.g * math.sqrt(b.s[1] + e) / math.sqrt(e)
    msdx = rho * b.s[1] + (1.0 - rho) * u * u
    return _proved(b.ok(b.g * b.g, msg, u, u * u, msdx) and b.new_w_ok(u), msg, msdx)


_BOUNDS: dict[str, Callable[..., StateBounds | None]] = {
    "Sgd": _sgd, "NoOp": _noop, "Adam": _adam, "AMSGrad": _amsgrad, "Nadam": _nadam, "AdaMax": _adamax,
    "Nesterovs": _nesterovs, "RmsProp": _rmsprop, "AdaGrad": _adagrad, "AdaDelta": _adadelta,
}


def proved_state_bounds(updater_name: str, hyper: Sequence[float], stats: np.ndarray, coef_max: Sequence[float],
                        dtype: np.dtype, tracked: StateBounds | None = None) -> StateBounds | None:
    """Bounds of the new state (a tuple, empty for a stateless updater) when the update of a block is certainly
    finite — its exact dry run may be skipped — else None. ``hyper``: the kernel's hyper-parameters; ``stats``:
    :func:`scan_block`'s sums; ``coef_max``: the largest |scale|, |l1|, |l2|, |wd| of the block's parameters;
    ``dtype``: the arrays'; ``tracked``: the bounds a previous proof returned, when the state has not been written
    since (its entries in ``stats`` are then not used)."""
    rule = _BOUNDS.get(updater_name)
    if rule is None:
        return None
    carried = None if tracked is None else (tracked, NON_NEGATIVE_STATE[updater_name])
    return rule(_Block(stats, coef_max, np.dtype(dtype), carried), *hyper)
