"""Weight-init formulas (DL4J: ``IWeightInit.init`` of every ``WeightInit*`` class and ND4J's distributions).

:func:`init_weights` fills an array in place. Values are drawn in float64 as a flat sequence, laid out
column-major ('f') over the target's shape as DL4J does with its flat parameter slice, then cast to the
target's dtype. Only the distributions match DL4J: ND4J's random generator cannot be reproduced.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ...exceptions import DL4JInvalidConfigException, DL4JInvalidInputException
from ..conf.distribution import (
    BinomialDistribution,
    ConstantDistribution,
    Distribution,
    GaussianDistribution,
    LogNormalDistribution,
    NormalDistribution,
    OrthogonalDistribution,
    TruncatedNormalDistribution,
    UniformDistribution,
)
from ..weights import (
    IWeightInit,
    WeightInitConstant,
    WeightInitDistribution,
    WeightInitIdentity,
    WeightInitLecunUniform,
    WeightInitNormal,
    WeightInitRelu,
    WeightInitReluUniform,
    WeightInitSigmoidUniform,
    WeightInitUniform,
    WeightInitVarScalingNormalFanAvg,
    WeightInitVarScalingNormalFanIn,
    WeightInitVarScalingNormalFanOut,
    WeightInitVarScalingUniformFanAvg,
    WeightInitVarScalingUniformFanIn,
    WeightInitVarScalingUniformFanOut,
    WeightInitXavier,
    WeightInitXavierLegacy,
    WeightInitXavierUniform,
)

__all__ = ["init_weights", "init_bias", "truncated_normal"]

Shape = tuple[int, ...]
# handler(config, fan_in, fan_out, shape, out dtype, rng) -> float64 array of `shape` (or a scalar to broadcast)
Handler = Callable[[IWeightInit, float, float, Shape, np.dtype, np.random.Generator], "np.ndarray | float"]
Sampler = Callable[[Distribution, Shape, np.dtype, np.random.Generator], "np.ndarray | float"]


# ---------------------------------------------------------------------------------------------------- helpers


def _fan(name: str, value: float, scheme: str) -> float:
    """A fan value the formula divides by: finite and > 0."""
    if not (math.isfinite(value) and value > 0):
        raise DL4JInvalidConfigException(f"{scheme}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def _flat_f(values: np.ndarray, shape: Shape) -> np.ndarray:
    """Lay a flat draw out column-major over ``shape`` (DL4J fills the flat slice, then views it in 'f' order)."""
    return values.reshape(shape, order="F")


def _normal(rng: np.random.Generator, shape: Shape, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    return _flat_f(rng.normal(mean, std, size=math.prod(shape)), shape)


def _uniform(rng: np.random.Generator, shape: Shape, low: float, high: float) -> np.ndarray:
    return _flat_f(rng.uniform(low, high, size=math.prod(shape)), shape)


def truncated_normal(rng: np.random.Generator, shape: Shape, mean: float, std: float,
                     dtype: np.dtype = np.dtype(np.float64)) -> np.ndarray:
    """ND4J's truncated normal: N(mean, std); values beyond mean ± 2·std are redrawn once, and if still outside
    set to mean + the smallest positive (normal) value of ``dtype``."""
    values = rng.normal(mean, std, size=math.prod(shape))
    outside = np.abs(values - mean) > 2.0 * std
    if outside.any():
        values[outside] = rng.normal(mean, std, size=int(outside.sum()))
        still = np.abs(values - mean) > 2.0 * std
        values[still] = mean + float(np.finfo(dtype).tiny)
    return _flat_f(values, shape)


def _matrix_shape(shape: Shape, scheme: str) -> tuple[int, int]:
    if len(shape) < 2:
        raise DL4JInvalidConfigException(f"{scheme} needs a parameter array of rank >= 2, got shape {list(shape)}")
    return shape[0], shape[1]


def _scale(config: IWeightInit) -> float:
    scale = getattr(config, "scale", None)
    return 1.0 if scale is None else float(scale)


# ------------------------------------------------------------------------------------------- weight inits


def _xavier(c, fan_in, fan_out, shape, dtype, rng):
    return _normal(rng, shape) * math.sqrt(2.0 / (_fan("fanIn", fan_in, "XAVIER") + _fan("fanOut", fan_out, "XAVIER")))


def _xavier_uniform(c, fan_in, fan_out, shape, dtype, rng):
    s = math.sqrt(6.0) / math.sqrt(_fan("fanIn", fan_in, "XAVIER_UNIFORM") + _fan("fanOut", fan_out, "XAVIER_UNIFORM"))
    return _uniform(rng, shape, -s, s)


def _xavier_legacy(c, fan_in, fan_out, shape, dtype, rng):
    rows, cols = _matrix_shape(shape, "XAVIER_LEGACY")
    return _normal(rng, shape) / math.sqrt(_fan("shape[0] + shape[1]", rows + cols, "XAVIER_LEGACY"))


def _relu(c, fan_in, fan_out, shape, dtype, rng):
    return _normal(rng, shape) * math.sqrt(2.0 / _fan("fanIn", fan_in, "RELU"))


def _relu_uniform(c, fan_in, fan_out, shape, dtype, rng):
    u = math.sqrt(6.0 / _fan("fanIn", fan_in, "RELU_UNIFORM"))
    return _uniform(rng, shape, -u, u)


def _lecun_normal(c, fan_in, fan_out, shape, dtype, rng):
    return _normal(rng, shape) / math.sqrt(_fan("fanIn", fan_in, "NORMAL"))


def _lecun_uniform_a(c, fan_in, fan_out, shape, dtype, rng):
    a = 1.0 / math.sqrt(_fan("fanIn", fan_in, "UNIFORM"))
    return _uniform(rng, shape, -a, a)


def _sigmoid_uniform(c, fan_in, fan_out, shape, dtype, rng):
    total = _fan("fanIn", fan_in, "SIGMOID_UNIFORM") + _fan("fanOut", fan_out, "SIGMOID_UNIFORM")
    r = 4.0 * math.sqrt(6.0 / total)
    return _uniform(rng, shape, -r, r)


def _lecun_uniform(c, fan_in, fan_out, shape, dtype, rng):
    b = 3.0 / math.sqrt(_fan("fanIn", fan_in, "LECUN_UNIFORM"))  # DL4J's code: 3/√fanIn, not √(3/fanIn)
    return _uniform(rng, shape, -b, b)


def _constant(c, fan_in, fan_out, shape, dtype, rng):
    return float(c.value)


def _identity(c, fan_in, fan_out, shape, dtype, rng):
    rows, cols = _matrix_shape(shape, "IDENTITY")
    if rows != cols:
        raise DL4JInvalidConfigException(
            f"Cannot use IDENTITY init with parameters of shape {list(shape)}: weights must be a square matrix "
            f"for identity"
        )
    if len(shape) > 5:
        raise DL4JInvalidConfigException(f"IDENTITY init for {len(shape)} dimensions is not defined")
    values = np.zeros(shape)
    centre = tuple(k // 2 for k in shape[2:])  # convolution kernels: identity at the kernel centre
    diag = np.arange(rows)
    values[(diag, diag) + centre] = 1.0
    return values * _scale(c)


_FAN_IN = ("fanIn", lambda i, o: i)
_FAN_OUT = ("fanOut", lambda i, o: o)
_FAN_AVG = ("(fanIn + fanOut)/2", lambda i, o: (i + o) / 2.0)


def _var_scaling_normal(fan: tuple[str, Callable[[float, float], float]], name: str):
    def handler(c, fan_in, fan_out, shape, dtype, rng):
        std = math.sqrt(_scale(c) / _fan(fan[0], fan[1](fan_in, fan_out), name))
        return truncated_normal(rng, shape, 0.0, std, dtype)
    return handler


def _var_scaling_uniform(fan: tuple[str, Callable[[float, float], float]], name: str):
    def handler(c, fan_in, fan_out, shape, dtype, rng):
        bound = 3.0 / math.sqrt(_fan(fan[0], fan[1](fan_in, fan_out), name)) * _scale(c)
        return _uniform(rng, shape, -bound, bound)
    return handler


def _distribution(c, fan_in, fan_out, shape, dtype, rng):
    dist = c.distribution
    sampler = _find(type(dist), _SAMPLERS)
    if sampler is None:
        raise DL4JInvalidConfigException(
            f"WeightInitDistribution: no sampler for distribution {type(dist).__name__}; known: "
            f"{', '.join(sorted(k.__name__ for k in _SAMPLERS))}"
        )
    return sampler(dist, shape, dtype, rng)


_HANDLERS: dict[type, Handler] = {
    WeightInitXavier: _xavier,
    WeightInitXavierUniform: _xavier_uniform,
    WeightInitXavierLegacy: _xavier_legacy,
    WeightInitRelu: _relu,
    WeightInitReluUniform: _relu_uniform,
    WeightInitNormal: _lecun_normal,
    WeightInitUniform: _lecun_uniform_a,
    WeightInitSigmoidUniform: _sigmoid_uniform,
    WeightInitLecunUniform: _lecun_uniform,
    WeightInitConstant: _constant,
    WeightInitIdentity: _identity,
    WeightInitVarScalingNormalFanIn: _var_scaling_normal(_FAN_IN, "VAR_SCALING_NORMAL_FAN_IN"),
    WeightInitVarScalingNormalFanOut: _var_scaling_normal(_FAN_OUT, "VAR_SCALING_NORMAL_FAN_OUT"),
    WeightInitVarScalingNormalFanAvg: _var_scaling_normal(_FAN_AVG, "VAR_SCALING_NORMAL_FAN_AVG"),
    WeightInitVarScalingUniformFanIn: _var_scaling_uniform(_FAN_IN, "VAR_SCALING_UNIFORM_FAN_IN"),
    WeightInitVarScalingUniformFanOut: _var_scaling_uniform(_FAN_OUT, "VAR_SCALING_UNIFORM_FAN_OUT"),
    WeightInitVarScalingUniformFanAvg: _var_scaling_uniform(_FAN_AVG, "VAR_SCALING_UNIFORM_FAN_AVG"),
    WeightInitDistribution: _distribution,
}


# ------------------------------------------------------------------------------------------ distributions


def _orthogonal(d, shape, dtype, rng):
    """gain × a random (semi-)orthogonal [prod(shape[:-1]), shape[-1]] matrix, reshaped to ``shape``."""
    cols = shape[-1] if shape else 1
    rows = math.prod(shape[:-1]) if shape else 1
    tall = rows >= cols
    a = rng.normal(size=(rows, cols) if tall else (cols, rows))
    q, r = np.linalg.qr(a)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    q = q * signs  # sign correction: makes Q Haar-distributed
    m = q if tall else q.T
    return (d.gain * m).reshape(shape)


_SAMPLERS: dict[type, Sampler] = {
    NormalDistribution: lambda d, s, t, rng: _normal(rng, s, d.mean, d.std),
    GaussianDistribution: lambda d, s, t, rng: _normal(rng, s, d.mean, d.std),
    UniformDistribution: lambda d, s, t, rng: _uniform(rng, s, d.lower, d.upper),
    TruncatedNormalDistribution: lambda d, s, t, rng: truncated_normal(rng, s, d.mean, d.std, t),
    LogNormalDistribution: lambda d, s, t, rng: np.exp(_normal(rng, s, d.mean, d.std)),
    BinomialDistribution: lambda d, s, t, rng: _flat_f(
        rng.binomial(d.number_of_trials, d.probability_of_success, size=math.prod(s)).astype(np.float64), s),
    OrthogonalDistribution: _orthogonal,
    ConstantDistribution: lambda d, s, t, rng: float(d.value),
}


# ------------------------------------------------------------------------------------------------ public


def _find(cls: type, table: dict[type, Callable]) -> Callable | None:
    for klass in cls.__mro__:
        if klass in table:
            return table[klass]
    return None


def _check_out(out: np.ndarray) -> None:
    if not isinstance(out, np.ndarray) or out.dtype.kind != "f":
        what = out.dtype if isinstance(out, np.ndarray) else type(out).__name__
        raise DL4JInvalidInputException(f"weights must be filled into a floating-point numpy array, got {what}")
    if not out.flags.writeable:
        raise DL4JInvalidInputException(f"the parameter array of shape {list(out.shape)} is read-only")


def init_weights(weight_init: IWeightInit, fan_in: float, fan_out: float, out: np.ndarray,
                 rng: np.random.Generator) -> None:
    """Fill ``out`` in place following ``weight_init``'s DL4J formula (drawn in float64, then cast).

    A user-defined :class:`IWeightInit` subclass may define ``init(fan_in, fan_out, out, rng)``: it is called and
    should fill ``out`` (a returned array, if any, is copied into ``out``).
    """
    if not isinstance(weight_init, IWeightInit):
        raise DL4JInvalidConfigException(
            f"weightInit must be an IWeightInit (e.g. WeightInitXavier()), got {type(weight_init).__name__}"
        )
    _check_out(out)
    for klass in type(weight_init).__mro__:
        if "init" in vars(klass):
            result = weight_init.init(fan_in, fan_out, out, rng)
            if result is not None:
                out[...] = result
            return
        if klass in _HANDLERS:
            if out.size:
                out[...] = _HANDLERS[klass](weight_init, fan_in, fan_out, out.shape, out.dtype, rng)
            return
    raise DL4JInvalidConfigException(
        f"no weight-init formula for {type(weight_init).__name__}: a custom IWeightInit must define "
        f"init(fan_in, fan_out, out, rng) that fills `out`"
    )


def init_bias(value: float, out: np.ndarray) -> None:
    """Fill a bias (or gain) array with the constant ``value`` (DL4J: ``biasInit`` / ``gainInit``)."""
    _check_out(out)
    out[...] = value
