"""One configuration class per DL4J activation (DL4J: ``org.nd4j.linalg.activations.impl``).

Maths (forward and derivative) lives in the engine (:mod:`dl4py.kernels.activations`); these are data.
"""
from __future__ import annotations

import math
from typing import ClassVar, Optional

from pydantic import model_validator

from ..config.base import option
from ..serde.registry import dl4j_class
from .base import Activation, IActivation

_PKG = "org.nd4j.linalg.activations.impl."


def _finite(name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


@dl4j_class(_PKG + "ActivationCube", "Cube")
class ActivationCube(IActivation):
    enum_name: ClassVar[str] = "CUBE"


@dl4j_class(_PKG + "ActivationELU", "ELU")
class ActivationELU(IActivation):
    enum_name: ClassVar[str] = "ELU"
    alpha: float = option(1.0, doc="negative-side scale α")

    @model_validator(mode="after")
    def _check(self):
        _finite("alpha", self.alpha)
        return self


@dl4j_class(_PKG + "ActivationHardSigmoid", "HardSigmoid")
class ActivationHardSigmoid(IActivation):
    enum_name: ClassVar[str] = "HARDSIGMOID"
    output_range: ClassVar[tuple[float, float]] = (0.0, 1.0)


@dl4j_class(_PKG + "ActivationHardTanH", "HardTanh", "HardTanH")
class ActivationHardTanH(IActivation):
    enum_name: ClassVar[str] = "HARDTANH"
    output_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)


@dl4j_class(_PKG + "ActivationIdentity", "Identity")
class ActivationIdentity(IActivation):
    enum_name: ClassVar[str] = "IDENTITY"


@dl4j_class(_PKG + "ActivationLReLU", "LReLU")
class ActivationLReLU(IActivation):
    enum_name: ClassVar[str] = "LEAKYRELU"
    alpha: float = option(0.01, doc="slope for negative inputs")

    @model_validator(mode="after")
    def _check(self):
        _finite("alpha", self.alpha)
        return self


@dl4j_class(_PKG + "ActivationRationalTanh", "RationalTanh")
class ActivationRationalTanh(IActivation):
    enum_name: ClassVar[str] = "RATIONALTANH"
    output_range: ClassVar[tuple[float, float]] = (-1.7159, 1.7159)


@dl4j_class(_PKG + "ActivationRectifiedTanh", "RectifiedTanh")
class ActivationRectifiedTanh(IActivation):
    enum_name: ClassVar[str] = "RECTIFIEDTANH"
    output_range: ClassVar[tuple[float, float]] = (0.0, 1.0)


@dl4j_class(_PKG + "ActivationReLU", "ReLU")
class ActivationReLU(IActivation):
    """max(0, x), optionally with DL4J's ``max``, ``threshold`` and ``negativeSlope`` (all null by default)."""

    enum_name: ClassVar[str] = "RELU"
    max: Optional[float] = option(None, json="max")
    threshold: Optional[float] = option(None)
    negative_slope: Optional[float] = option(None)

    @model_validator(mode="after")
    def _check(self):
        for name in ("max", "threshold", "negative_slope"):
            _finite(name, getattr(self, name))
        if self.max is not None and self.max <= 0:
            raise ValueError(f"max must be > 0, got {self.max}")
        return self


@dl4j_class(_PKG + "ActivationReLU6", "ActivationReLU6", "ReLU6")
class ActivationReLU6(IActivation):
    enum_name: ClassVar[str] = "RELU6"
    output_range: ClassVar[tuple[float, float]] = (0.0, 6.0)


@dl4j_class(_PKG + "ActivationRReLU", "RReLU")
class ActivationRReLU(IActivation):
    """Randomised leaky ReLU: slopes drawn from U(l, u) in training, (l+u)/2 at inference."""

    enum_name: ClassVar[str] = "RRELU"
    l: float = option(1.0 / 8.0, json="l")
    u: float = option(1.0 / 3.0, json="u")

    @model_validator(mode="after")
    def _check(self):
        _finite("l", self.l)
        _finite("u", self.u)
        if self.l > self.u:
            raise ValueError(f"l must be <= u, got l={self.l}, u={self.u}")
        return self


@dl4j_class(_PKG + "ActivationSELU", "SELU")
class ActivationSELU(IActivation):
    enum_name: ClassVar[str] = "SELU"


@dl4j_class(_PKG + "ActivationSigmoid", "Sigmoid")
class ActivationSigmoid(IActivation):
    enum_name: ClassVar[str] = "SIGMOID"
    output_range: ClassVar[tuple[float, float]] = (0.0, 1.0)


@dl4j_class(_PKG + "ActivationSoftmax", "Softmax")
class ActivationSoftmax(IActivation):
    enum_name: ClassVar[str] = "SOFTMAX"
    output_range: ClassVar[tuple[float, float]] = (0.0, 1.0)


@dl4j_class(_PKG + "ActivationSoftPlus", "SoftPlus", "Softplus")
class ActivationSoftPlus(IActivation):
    enum_name: ClassVar[str] = "SOFTPLUS"
    output_range: ClassVar[tuple[float, float]] = (0.0, float("inf"))


@dl4j_class(_PKG + "ActivationSoftSign", "SoftSign")
class ActivationSoftSign(IActivation):
    enum_name: ClassVar[str] = "SOFTSIGN"
    output_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)


@dl4j_class(_PKG + "ActivationSwish", "SWISH", "Swish")
class ActivationSwish(IActivation):
    enum_name: ClassVar[str] = "SWISH"


@dl4j_class(_PKG + "ActivationTanH", "TanH")
class ActivationTanH(IActivation):
    enum_name: ClassVar[str] = "TANH"
    output_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)


@dl4j_class(_PKG + "ActivationThresholdedReLU", "ThresholdedReLU")
class ActivationThresholdedReLU(IActivation):
    enum_name: ClassVar[str] = "THRESHOLDEDRELU"
    theta: float = option(1.0)

    @model_validator(mode="after")
    def _check(self):
        _finite("theta", self.theta)
        return self


@dl4j_class(_PKG + "ActivationGELU", "GELU")
class ActivationGELU(IActivation):
    enum_name: ClassVar[str] = "GELU"
    precise: bool = option(False)


@dl4j_class(_PKG + "ActivationMish", "Mish")
class ActivationMish(IActivation):
    enum_name: ClassVar[str] = "MISH"


CLASS_BY_ENUM: dict[Activation, type[IActivation]] = {
    Activation[cls.enum_name]: cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, IActivation) and cls is not IActivation and cls.enum_name
}

__all__ = [cls.__name__ for cls in CLASS_BY_ENUM.values()] + ["CLASS_BY_ENUM"]
