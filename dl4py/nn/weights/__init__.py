"""Weight initialisation (DL4J: ``org.deeplearning4j.nn.weights``): the ``WeightInit`` enum and one class per
scheme. The formulas are applied by the engine (:mod:`dl4py.nn.params.weight_init`)."""
from __future__ import annotations

import enum
from typing import Annotated, Any, Optional

from pydantic import BeforeValidator

from ...config.base import Dl4jConfig, option
from ...serde.registry import dl4j_class
from ..conf.distribution import Distribution

_PKG = "org.deeplearning4j.nn.weights."


class IWeightInit(Dl4jConfig):
    """Base of weight-init configurations (DL4J: ``IWeightInit``)."""


def _simple(name: str, doc: str) -> type[IWeightInit]:
    cls = type(name, (IWeightInit,), {"__doc__": doc, "__module__": __name__, "__annotations__": {}})
    return dl4j_class(_PKG + name)(cls)


WeightInitXavier = _simple("WeightInitXavier", "N(0,1)·√(2/(fanIn + fanOut)).")
WeightInitXavierUniform = _simple("WeightInitXavierUniform", "U(−s, s), s = √6/√(fanIn + fanOut).")
WeightInitXavierLegacy = _simple("WeightInitXavierLegacy", "N(0,1)/√(rows + columns).")
WeightInitRelu = _simple("WeightInitRelu", "N(0,1)·√(2/fanIn).")
WeightInitReluUniform = _simple("WeightInitReluUniform", "U(−u, u), u = √(6/fanIn).")
WeightInitNormal = _simple("WeightInitNormal", "N(0,1)/√fanIn.")
WeightInitUniform = _simple("WeightInitUniform", "U(−a, a), a = 1/√fanIn.")
WeightInitSigmoidUniform = _simple("WeightInitSigmoidUniform", "U(−r, r), r = 4·√(6/(fanIn + fanOut)).")
WeightInitLecunUniform = _simple("WeightInitLecunUniform", "U(−b, b), b = 3/√fanIn (as DL4J codes it).")


@dl4j_class(_PKG + "WeightInitConstant")
class WeightInitConstant(IWeightInit):
    """Every weight equal to ``value``."""

    value: float = option(...)


class _Scaled(IWeightInit):
    scale: Optional[float] = option(None)


@dl4j_class(_PKG + "WeightInitIdentity")
class WeightInitIdentity(_Scaled):
    """Identity matrix (times scale); square matrices only."""


@dl4j_class(_PKG + "WeightInitVarScalingNormalFanIn")
class WeightInitVarScalingNormalFanIn(_Scaled):
    """Truncated normal, std √(scale/fanIn)."""


@dl4j_class(_PKG + "WeightInitVarScalingNormalFanOut")
class WeightInitVarScalingNormalFanOut(_Scaled):
    """Truncated normal, std √(scale/fanOut)."""


@dl4j_class(_PKG + "WeightInitVarScalingNormalFanAvg")
class WeightInitVarScalingNormalFanAvg(_Scaled):
    """Truncated normal, std √(2·scale/(fanIn + fanOut))."""


@dl4j_class(_PKG + "WeightInitVarScalingUniformFanIn")
class WeightInitVarScalingUniformFanIn(_Scaled):
    """U(−c, c), c = 3/√fanIn (times scale)."""


@dl4j_class(_PKG + "WeightInitVarScalingUniformFanOut")
class WeightInitVarScalingUniformFanOut(_Scaled):
    """U(−c, c), c = 3/√fanOut (times scale)."""


@dl4j_class(_PKG + "WeightInitVarScalingUniformFanAvg")
class WeightInitVarScalingUniformFanAvg(_Scaled):
    """U(−c, c), c = 3/√((fanIn + fanOut)/2) (times scale)."""


@dl4j_class(_PKG + "WeightInitDistribution")
class WeightInitDistribution(IWeightInit):
    """Samples of a distribution."""

    distribution: Distribution = option(...)


class WeightInit(str, enum.Enum):
    """DL4J's ``WeightInit`` enum; ``getWeightInitFunction(dist)`` gives the configuration object."""

    DISTRIBUTION = "DISTRIBUTION"
    ZERO = "ZERO"
    ONES = "ONES"
    SIGMOID_UNIFORM = "SIGMOID_UNIFORM"
    NORMAL = "NORMAL"
    LECUN_NORMAL = "LECUN_NORMAL"
    UNIFORM = "UNIFORM"
    XAVIER = "XAVIER"
    XAVIER_UNIFORM = "XAVIER_UNIFORM"
    XAVIER_FAN_IN = "XAVIER_FAN_IN"
    XAVIER_LEGACY = "XAVIER_LEGACY"
    RELU = "RELU"
    RELU_UNIFORM = "RELU_UNIFORM"
    IDENTITY = "IDENTITY"
    LECUN_UNIFORM = "LECUN_UNIFORM"
    VAR_SCALING_NORMAL_FAN_IN = "VAR_SCALING_NORMAL_FAN_IN"
    VAR_SCALING_NORMAL_FAN_OUT = "VAR_SCALING_NORMAL_FAN_OUT"
    VAR_SCALING_NORMAL_FAN_AVG = "VAR_SCALING_NORMAL_FAN_AVG"
    VAR_SCALING_UNIFORM_FAN_IN = "VAR_SCALING_UNIFORM_FAN_IN"
    VAR_SCALING_UNIFORM_FAN_OUT = "VAR_SCALING_UNIFORM_FAN_OUT"
    VAR_SCALING_UNIFORM_FAN_AVG = "VAR_SCALING_UNIFORM_FAN_AVG"

    def getWeightInitFunction(self, distribution: Optional[Distribution] = None) -> IWeightInit:
        if self is WeightInit.DISTRIBUTION:
            if distribution is None:
                raise ValueError(
                    "WeightInit.DISTRIBUTION needs a distribution: use weightInit(Distribution), "
                    "e.g. weightInit(NormalDistribution(0, 1))"
                )
            return WeightInitDistribution(distribution=distribution)
        factory = _ENUM_FACTORIES[self]
        return factory()

    get_weight_init_function = getWeightInitFunction

    def __str__(self) -> str:
        return self.name


_ENUM_FACTORIES = {
    WeightInit.ZERO: lambda: WeightInitConstant(value=0.0),
    WeightInit.ONES: lambda: WeightInitConstant(value=1.0),
    WeightInit.SIGMOID_UNIFORM: WeightInitSigmoidUniform,
    WeightInit.NORMAL: WeightInitNormal,
    WeightInit.LECUN_NORMAL: WeightInitNormal,
    WeightInit.XAVIER_FAN_IN: WeightInitNormal,
    WeightInit.UNIFORM: WeightInitUniform,
    WeightInit.XAVIER: WeightInitXavier,
    WeightInit.XAVIER_UNIFORM: WeightInitXavierUniform,
    WeightInit.XAVIER_LEGACY: WeightInitXavierLegacy,
    WeightInit.RELU: WeightInitRelu,
    WeightInit.RELU_UNIFORM: WeightInitReluUniform,
    WeightInit.IDENTITY: WeightInitIdentity,
    WeightInit.LECUN_UNIFORM: WeightInitLecunUniform,
    WeightInit.VAR_SCALING_NORMAL_FAN_IN: WeightInitVarScalingNormalFanIn,
    WeightInit.VAR_SCALING_NORMAL_FAN_OUT: WeightInitVarScalingNormalFanOut,
    WeightInit.VAR_SCALING_NORMAL_FAN_AVG: WeightInitVarScalingNormalFanAvg,
    WeightInit.VAR_SCALING_UNIFORM_FAN_IN: WeightInitVarScalingUniformFanIn,
    WeightInit.VAR_SCALING_UNIFORM_FAN_OUT: WeightInitVarScalingUniformFanOut,
    WeightInit.VAR_SCALING_UNIFORM_FAN_AVG: WeightInitVarScalingUniformFanAvg,
}


def to_weight_init(value: Any) -> Any:
    """Coerce ``WeightInit.XAVIER``, its name, or a ``Distribution`` into an ``IWeightInit`` object."""
    if isinstance(value, Distribution):
        return WeightInitDistribution(distribution=value)
    if isinstance(value, WeightInit):
        return value.getWeightInitFunction()
    if isinstance(value, str):
        try:
            return WeightInit[value.upper()].getWeightInitFunction()
        except KeyError:
            raise ValueError(f"unknown weight init {value!r}; allowed: {', '.join(w.name for w in WeightInit)}") from None
    return value


WeightInitLike = Annotated[IWeightInit, BeforeValidator(to_weight_init)]

__all__ = [
    "IWeightInit", "WeightInit", "WeightInitLike", "to_weight_init", "WeightInitXavier", "WeightInitXavierUniform",
    "WeightInitXavierLegacy", "WeightInitRelu", "WeightInitReluUniform", "WeightInitNormal", "WeightInitUniform",
    "WeightInitSigmoidUniform", "WeightInitLecunUniform", "WeightInitConstant", "WeightInitIdentity",
    "WeightInitVarScalingNormalFanIn", "WeightInitVarScalingNormalFanOut", "WeightInitVarScalingNormalFanAvg",
    "WeightInitVarScalingUniformFanIn", "WeightInitVarScalingUniformFanOut", "WeightInitVarScalingUniformFanAvg",
    "WeightInitDistribution",
]
