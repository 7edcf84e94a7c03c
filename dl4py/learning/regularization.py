"""Regularisation configurations (DL4J: ``org.nd4j.linalg.learning.regularization``).

``L1Regularization`` and ``L2Regularization`` act on the gradient before the updater; ``WeightDecay`` on the
update after it. Coefficients are schedules; plain numbers become ``FixedSchedule``.
"""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import field_validator

from ..config.base import Dl4jConfig, option
from ..schedule import FixedSchedule, ScheduleLike
from ..serde.registry import dl4j_class

_PKG = "org.nd4j.linalg.learning.regularization."


class Regularization(Dl4jConfig):
    """Base of regularisation configurations."""

    def coefficient(self, iteration: int = 0, epoch: int = 0) -> float:
        raise NotImplementedError

    def is_constant(self) -> bool:
        """True when the coefficient is the same at every iteration and epoch (a ``FixedSchedule``)."""
        return all(isinstance(getattr(self, name), FixedSchedule) for name in self.schedule_fields)

    schedule_fields: ClassVar[tuple[str, ...]] = ()  # the fields holding the coefficient's schedule


def _non_negative(cls, v: Any) -> Any:
    if isinstance(v, FixedSchedule) and v.value < 0:
        raise ValueError(f"coefficient must be >= 0, got {v.value!r}")
    if hasattr(v, "isNonNegative") and not v.isNonNegative():
        raise ValueError(f"coefficient schedule must never give a negative or non-finite value, got {v!r}")
    return v


@dl4j_class(_PKG + "L1Regularization")
class L1Regularization(Regularization):
    """L1: gradient += λ·sign(w); score += λ·Σ|w|."""

    l1: ScheduleLike = option(...)
    schedule_fields: ClassVar[tuple[str, ...]] = ("l1",)
    _check = field_validator("l1")(classmethod(_non_negative))

    def coefficient(self, iteration: int = 0, epoch: int = 0) -> float:
        return self.l1.valueAt(iteration, epoch)


@dl4j_class(_PKG + "L2Regularization")
class L2Regularization(Regularization):
    """L2: gradient += λ·w; score += ½λ·Σw²."""

    l2: ScheduleLike = option(...)
    schedule_fields: ClassVar[tuple[str, ...]] = ("l2",)
    _check = field_validator("l2")(classmethod(_non_negative))

    def coefficient(self, iteration: int = 0, epoch: int = 0) -> float:
        return self.l2.valueAt(iteration, epoch)


@dl4j_class(_PKG + "WeightDecay")
class WeightDecay(Regularization):
    """Weight decay: update += c·w (times the learning rate when applyLR); score += ½c·Σw²."""

    coeff: ScheduleLike = option(...)
    schedule_fields: ClassVar[tuple[str, ...]] = ("coeff",)
    apply_lr: bool = option(True, json="applyLR")
    _check = field_validator("coeff")(classmethod(_non_negative))

    def coefficient(self, iteration: int = 0, epoch: int = 0) -> float:
        return self.coeff.valueAt(iteration, epoch)


__all__ = ["Regularization", "L1Regularization", "L2Regularization", "WeightDecay"]
