"""Parameter constraints (DL4J: ``org.deeplearning4j.nn.conf.constraint``), applied after every update.

``params`` names the parameter keys a constraint acts on; the builders fill it (``constrainWeights`` → the
layer's weight keys, ``constrainBias`` → bias keys, ``constrainAllParameters`` → all keys). ``dimensions`` are
the axes of the [rows, cols] parameter over which the L2 norm is taken (dimension 1 for dense weights, as in
DL4J). The maths is in :mod:`dl4py.nn.layers.constraints`.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import model_validator

from ...config.base import Dl4jConfig, option
from ...serde.registry import dl4j_class

_PKG = "org.deeplearning4j.nn.conf.constraint."


class LayerConstraint(Dl4jConfig):
    """Base of parameter constraints (DL4J: ``LayerConstraint``)."""


class BaseConstraint(LayerConstraint):
    params: list[str] = option(default_factory=list)
    epsilon: float = option(1e-6)
    dimensions: list[int] = option(default_factory=lambda: [1])

    #: constructor arguments before the varargs dimensions (Java: MaxNormConstraint(maxNorm, int... dims))
    scalar_arguments: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _positional_names(cls, args: tuple[Any, ...]) -> list[str]:
        return list(cls.scalar_arguments)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        n = len(type(self).scalar_arguments)
        if len(args) > n:  # trailing ints are DL4J's varargs dimensions
            kwargs.setdefault("dimensions", [int(d) for d in args[n:]])
            args = args[:n]
        super().__init__(*args, **kwargs)

    @model_validator(mode="after")
    def _check_base(self):
        if not (math.isfinite(self.epsilon) and self.epsilon >= 0):
            raise ValueError(f"epsilon must be a finite number >= 0, got {self.epsilon!r}")
        for d in self.dimensions:
            if d not in (0, 1):
                raise ValueError(f"dimensions must be 0 or 1 for dense parameters, got {self.dimensions}")
        return self

    def withParams(self, keys: list[str]) -> "BaseConstraint":
        """A copy acting on ``keys``."""
        return self.model_copy(update={"params": list(keys)}, deep=True)

    with_params = withParams


@dl4j_class(_PKG + "MaxNormConstraint")
class MaxNormConstraint(BaseConstraint):
    """Scale down each slice whose L2 norm exceeds ``maxNorm``."""

    max_norm: float = option(...)
    scalar_arguments: ClassVar[tuple[str, ...]] = ("max_norm",)

    @model_validator(mode="after")
    def _check(self):
        if not (math.isfinite(self.max_norm) and self.max_norm > 0):
            raise ValueError(f"maxNorm must be a finite number > 0, got {self.max_norm!r}")
        return self


@dl4j_class(_PKG + "MinMaxNormConstraint")
class MinMaxNormConstraint(BaseConstraint):
    """Rescale each slice's L2 norm into [min, max]; with rate < 1 move only that fraction of the way."""

    min: float = option(...)
    max: float = option(...)
    rate: float = option(1.0)
    scalar_arguments: ClassVar[tuple[str, ...]] = ("min", "max", "rate")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Java: (min, max, int... dims) and (min, max, rate, int... dims): a float third argument is the rate.
        if len(args) >= 3 and not isinstance(args[2], float):
            args = (args[0], args[1], 1.0, *args[2:])
        super().__init__(*args, **kwargs)

    @model_validator(mode="after")
    def _check(self):
        if not (0 <= self.min <= self.max) or not math.isfinite(self.max):
            raise ValueError(f"need 0 <= min <= max (finite), got min={self.min!r}, max={self.max!r}")
        if not (0 < self.rate <= 1.0):
            raise ValueError(f"Invalid rate: must be in interval (0,1]: got {self.rate!r}")
        return self


@dl4j_class(_PKG + "NonNegativeConstraint")
class NonNegativeConstraint(BaseConstraint):
    """Negative values are set to 0."""


@dl4j_class(_PKG + "UnitNormConstraint")
class UnitNormConstraint(BaseConstraint):
    """Each slice divided by its L2 norm."""


__all__ = [
    "LayerConstraint", "BaseConstraint", "MaxNormConstraint", "MinMaxNormConstraint", "NonNegativeConstraint",
    "UnitNormConstraint",
]
