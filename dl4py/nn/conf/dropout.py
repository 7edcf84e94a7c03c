"""Dropout (DL4J: ``org.deeplearning4j.nn.conf.dropout``). ``p`` is the probability of *keeping* a value."""
from __future__ import annotations

import math
from typing import Annotated, Any, Optional

from pydantic import BeforeValidator, model_validator

from ...config.base import Dl4jConfig, option
from ...schedule import ISchedule, schedule_overload
from ...serde.registry import dl4j_class


class IDropout(Dl4jConfig):
    """Base of dropout configurations."""


@dl4j_class("org.deeplearning4j.nn.conf.dropout.Dropout")
class Dropout(IDropout):
    """Inverted dropout on a layer's input in training: keep with probability p, scale kept values by 1/p."""

    p: float = option(0.5)
    p_schedule: Optional[ISchedule] = option(None)
    _schedule = schedule_overload("p", "p_schedule")  # Dropout(schedule): p is NaN, as in DL4J

    @model_validator(mode="after")
    def _check(self):
        if self.p_schedule is None and not (math.isfinite(self.p) and 0.0 < self.p <= 1.0):
            raise ValueError(f"p (retain probability) must be in (0, 1], got {self.p!r}")
        return self

    def getP(self, iteration: int = 0, epoch: int = 0) -> float:
        return self.p_schedule.valueAt(iteration, epoch) if self.p_schedule is not None else self.p


def to_dropout(value: Any) -> Any:
    """``dropOut(0.5)`` -> ``Dropout(0.5)``; ``dropOut(0.0)`` means no dropout (None), as in DL4J."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if value == 0:
            return None
        return Dropout(p=float(value))
    return value


DropoutLike = Annotated[Optional[IDropout], BeforeValidator(to_dropout)]
