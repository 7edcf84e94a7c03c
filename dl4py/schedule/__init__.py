"""Hyper-parameter schedules (DL4J: ``org.nd4j.linalg.schedule``). ``valueAt(iteration, epoch)`` gives the value."""
from __future__ import annotations

import enum
import math
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, field_validator, model_validator

from .._naming import snake_aliases, snake_to_camel
from ..config.base import Dl4jConfig, option
from ..serde.registry import dl4j_class

_PKG = "org.nd4j.linalg.schedule."


class ScheduleType(str, enum.Enum):
    """Whether a schedule is indexed by the iteration or the epoch counter."""

    ITERATION = "ITERATION"
    EPOCH = "EPOCH"


class ISchedule(Dl4jConfig):
    """Base of schedules (DL4J: ``org.nd4j.linalg.schedule.ISchedule``).

    ``sign_fields`` names the fields whose values must all be >= 0 (and finite) for the schedule never to produce
    a negative value; :meth:`isNonNegative` checks them (used for learning rates and regularisation
    coefficients, which must not be negative).
    """

    sign_fields: ClassVar[tuple[str, ...]] = ()

    def isNonNegative(self) -> bool:
        """True if every value this schedule can produce is a finite number >= 0."""
        for name in self.sign_fields:
            value = getattr(self, name)
            values = value.values() if isinstance(value, dict) else [value]
            if any(not math.isfinite(v) or v < 0 for v in values):
                return False
        return True

    def valueAt(self, iteration: int, epoch: int) -> float:
        raise NotImplementedError

    def value_at(self, iteration: int, epoch: int) -> float:
        return self.valueAt(iteration, epoch)

    def _counter(self, iteration: int, epoch: int) -> int:
        return iteration if getattr(self, "schedule_type", ScheduleType.ITERATION) == ScheduleType.ITERATION else epoch


def _finite(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


@dl4j_class(_PKG + "FixedSchedule")
class FixedSchedule(ISchedule):
    """A constant value."""

    sign_fields: ClassVar[tuple[str, ...]] = ("value",)
    value: float = option(...)

    @field_validator("value")
    @classmethod
    def _check(cls, v: float) -> float:
        return _finite(v, "value")

    def valueAt(self, iteration: int, epoch: int) -> float:
        return self.value


@dl4j_class(_PKG + "MapSchedule")
class MapSchedule(ISchedule):
    """Value of the largest key <= the counter. Keys must include 0 (as DL4J requires)."""

    sign_fields: ClassVar[tuple[str, ...]] = ("values",)

    schedule_type: ScheduleType = option(...)
    values: dict[int, float] = option(...)

    @field_validator("values", mode="before")
    @classmethod
    def _keys(cls, v: Any) -> Any:
        if isinstance(v, dict):
            out = {}
            for k, val in v.items():
                try:
                    key = int(k)
                except (TypeError, ValueError):
                    raise ValueError(f"schedule keys must be integers, got {k!r}") from None
                out[key] = val
            return dict(sorted(out.items()))
        return v

    @model_validator(mode="after")
    def _check(self):
        if 0 not in self.values:
            raise ValueError(f"values must define a value for key 0, got keys {sorted(self.values)}")
        for k, v in self.values.items():
            if k < 0:
                raise ValueError(f"schedule keys must be >= 0, got {k}")
            _finite(v, f"values[{k}]")
        return self

    def valueAt(self, iteration: int, epoch: int) -> float:
        i = self._counter(iteration, epoch)
        best = 0
        for k in self.values:
            if k <= i:
                best = k
        return self.values[best]

    class Builder:
        def _init_args(self, schedule_type: Any) -> None:
            self._values["schedule_type"] = schedule_type
            self._values["values"] = {}

        def add(self, position: int, value: float):
            """``add(position, value)``: the value from that iteration/epoch on."""
            self._values.setdefault("values", {})[position] = value
            return self


@dl4j_class(_PKG + "StepSchedule")
class StepSchedule(ISchedule):
    """initialValue · decayRate^floor(i / step)."""

    sign_fields: ClassVar[tuple[str, ...]] = ("initial_value", "decay_rate")

    schedule_type: ScheduleType = option(...)
    initial_value: float = option(...)
    decay_rate: float = option(...)
    step: float = option(...)

    @model_validator(mode="after")
    def _check(self):
        if not (self.step > 0):
            raise ValueError(f"step must be > 0, got {self.step}")
        return self

    def valueAt(self, iteration: int, epoch: int) -> float:
        i = self._counter(iteration, epoch)
        return self.initial_value * self.decay_rate ** math.floor(i / self.step)


@dl4j_class(_PKG + "ExponentialSchedule")
class ExponentialSchedule(ISchedule):
    """initialValue · gamma^i."""

    sign_fields: ClassVar[tuple[str, ...]] = ("initial_value", "gamma")

    schedule_type: ScheduleType = option(...)
    initial_value: float = option(...)
    gamma: float = option(...)

    def valueAt(self, iteration: int, epoch: int) -> float:
        return self.initial_value * self.gamma ** self._counter(iteration, epoch)


@dl4j_class(_PKG + "InverseSchedule")
class InverseSchedule(ISchedule):
    """initialValue / (1 + gamma·i)^power."""

    sign_fields: ClassVar[tuple[str, ...]] = ("initial_value", "gamma")

    schedule_type: ScheduleType = option(...)
    initial_value: float = option(...)
    gamma: float = option(...)
    power: float = option(...)

    def valueAt(self, iteration: int, epoch: int) -> float:
        return self.initial_value / (1.0 + self.gamma * self._counter(iteration, epoch)) ** self.power


@dl4j_class(_PKG + "PolySchedule")
class PolySchedule(ISchedule):
    """initialValue · (1 + i/maxIter)^power for i < maxIter, else 0 (as DL4J codes it)."""

    sign_fields: ClassVar[tuple[str, ...]] = ("initial_value",)

    schedule_type: ScheduleType = option(...)
    initial_value: float = option(...)
    power: float = option(...)
    max_iter: int = option(...)

    @model_validator(mode="after")
    def _check(self):
        if self.max_iter <= 0:
            raise ValueError(f"maxIter must be > 0, got {self.max_iter}")
        return self

    def valueAt(self, iteration: int, epoch: int) -> float:
        i = self._counter(iteration, epoch)
        if i >= self.max_iter:
            return 0.0
        return self.initial_value * (1.0 + i / self.max_iter) ** self.power


@dl4j_class(_PKG + "SigmoidSchedule")
class SigmoidSchedule(ISchedule):
    """initialValue / (1 + exp(-gamma·(i - stepSize)))."""

    sign_fields: ClassVar[tuple[str, ...]] = ("initial_value",)

    schedule_type: ScheduleType = option(...)
    initial_value: float = option(...)
    gamma: float = option(...)
    step_size: int = option(...)

    def valueAt(self, iteration: int, epoch: int) -> float:
        i = self._counter(iteration, epoch)
        return self.initial_value / (1.0 + math.exp(-self.gamma * (i - self.step_size)))


for _cls in (ISchedule, MapSchedule.Builder):
    snake_aliases(_cls)


def schedule_overload(value_field: str, schedule_field: str) -> Any:
    """A model validator for DL4J's constructors that take a schedule in place of a number (``Adam(schedule)``,
    ``Dropout(schedule)``, ``DropConnect(schedule)``): the number becomes NaN, as in DL4J, and the schedule goes to
    ``schedule_field``. Declare it in the class body: ``_schedule = schedule_overload("p", "p_schedule")``."""
    keys = (value_field, snake_to_camel(value_field))

    def move(cls, data: Any) -> Any:
        if isinstance(data, dict):
            value = next((data[k] for k in keys if k in data), None)
            if isinstance(value, ISchedule):
                data = {k: v for k, v in data.items() if k not in keys}
                data[value_field] = math.nan
                data[schedule_field] = value
        return data

    return model_validator(mode="before")(classmethod(move))


def to_schedule(value: Any) -> Any:
    """A plain number becomes a ``FixedSchedule``; schedules pass through."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return FixedSchedule(value=float(value))
    return value


ScheduleLike = Annotated[ISchedule, BeforeValidator(to_schedule)]

__all__ = [
    "ScheduleType", "ISchedule", "FixedSchedule", "MapSchedule", "StepSchedule", "ExponentialSchedule",
    "InverseSchedule", "PolySchedule", "SigmoidSchedule", "ScheduleLike", "to_schedule", "schedule_overload",
]
