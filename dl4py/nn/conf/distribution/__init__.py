"""Distributions for weight initialisation (DL4J: ``org.deeplearning4j.nn.conf.distribution``).

In JSON these use ``"type"`` (not ``"@class"``) as the type property; pre-0.9 files use wrapper names
(``{"normal": {"mean": 0.0, "std": 1.0}}``).
"""
from __future__ import annotations

import math
from typing import ClassVar

from pydantic import model_validator

from ...._naming import snake_aliases
from ....config.base import Dl4jConfig, option
from ....serde.registry import dl4j_class

_PKG = "org.deeplearning4j.nn.conf.distribution."


class Distribution(Dl4jConfig):
    """Base of weight-init distributions."""

    type_property: ClassVar[str] = "type"

    @model_validator(mode="after")
    def _finite(self):
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{type(self).model_fields[name].alias or name} must be finite, got {value!r}")
        return self


class _MeanStd(Distribution):
    mean: float = option(0.0)
    std: float = option(1.0)

    @model_validator(mode="after")
    def _std(self):
        if self.std < 0:
            raise ValueError(f"std must be >= 0, got {self.std}")
        return self

    def getMean(self) -> float:
        return self.mean

    def getStd(self) -> float:
        return self.std


@dl4j_class(_PKG + "NormalDistribution", "normal")
class NormalDistribution(_MeanStd):
    """N(mean, std²)."""


@dl4j_class(_PKG + "GaussianDistribution", "gaussian")
class GaussianDistribution(_MeanStd):
    """Alias of the normal distribution."""


@dl4j_class(_PKG + "TruncatedNormalDistribution", "truncatedNormal")
class TruncatedNormalDistribution(_MeanStd):
    """Normal, values beyond mean ± 2·std redrawn."""


@dl4j_class(_PKG + "LogNormalDistribution", "logNormal")
class LogNormalDistribution(_MeanStd):
    """exp(N(mean, std²))."""


@dl4j_class(_PKG + "UniformDistribution", "uniform")
class UniformDistribution(Distribution):
    """U(lower, upper)."""

    lower: float = option(...)
    upper: float = option(...)

    @model_validator(mode="after")
    def _order(self):
        if self.lower >= self.upper:
            raise ValueError(f"lower must be < upper, got lower={self.lower}, upper={self.upper}")
        return self


@dl4j_class(_PKG + "BinomialDistribution", "binomial")
class BinomialDistribution(Distribution):
    """Binomial(numberOfTrials, probabilityOfSuccess)."""

    number_of_trials: int = option(...)
    probability_of_success: float = option(...)

    @model_validator(mode="after")
    def _check(self):
        if self.number_of_trials < 0 or not (0.0 <= self.probability_of_success <= 1.0):
            raise ValueError(
                f"need numberOfTrials >= 0 and probabilityOfSuccess in [0, 1], got "
                f"{self.number_of_trials}, {self.probability_of_success}"
            )
        return self


@dl4j_class(_PKG + "OrthogonalDistribution", "orthogonal")
class OrthogonalDistribution(Distribution):
    """Random orthogonal matrix times gain."""

    gain: float = option(1.0)


@dl4j_class(_PKG + "ConstantDistribution", "constant")
class ConstantDistribution(Distribution):
    """Every value equal to ``value``."""

    value: float = option(...)


snake_aliases(_MeanStd)

__all__ = [
    "Distribution", "NormalDistribution", "GaussianDistribution", "TruncatedNormalDistribution",
    "LogNormalDistribution", "UniformDistribution", "BinomialDistribution", "OrthogonalDistribution",
    "ConstantDistribution",
]
