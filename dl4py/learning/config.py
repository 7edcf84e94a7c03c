"""Updater configurations (DL4J: ``org.nd4j.linalg.learning.config``): Sgd, Adam, AdaMax, Nadam, AMSGrad,
Nesterovs, RmsProp, AdaGrad, AdaDelta, NoOp, plus the deprecated ``Updater`` enum.

Constructors follow DL4J's: ``Adam(1e-3)``, ``Adam(lr, beta1, beta2, epsilon)``, ``Adam(MapSchedule(...))``,
``Nesterovs(lr, momentum)``, ``RmsProp(lr, rmsDecay, epsilon)``. The update rules live in the engine.
"""
from __future__ import annotations

import enum
import math
from typing import Any, ClassVar, Optional

from pydantic import model_validator

from ..config.base import Dl4jConfig, option
from ..schedule import ISchedule, schedule_overload
from ..serde.registry import dl4j_class

_PKG = "org.nd4j.linalg.learning.config."


class IUpdater(Dl4jConfig):
    """Base of updater configurations (DL4J: ``org.nd4j.linalg.learning.config.IUpdater``).

    ``state_size_multiplier`` is the number of state values per parameter; ``has_learning_rate`` says whether
    the updater has a learning rate (WeightDecay with applyLR uses 1.0 otherwise).
    """

    write_nulls = False
    state_size_multiplier: ClassVar[int] = 0
    has_learning_rate: ClassVar[bool] = True

    # DL4J's constructors accept a schedule in place of the learning rate; the rate is then NaN.
    _schedule_as_learning_rate = schedule_overload("learning_rate", "learning_rate_schedule")

    @model_validator(mode="after")
    def _check_hyper_parameters(self):
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            label = info.alias or name
            if isinstance(value, ISchedule):
                if not value.isNonNegative():
                    raise ValueError(f"{label} must never give a negative or non-finite value, got {value!r}")
                continue
            if not isinstance(value, float):
                continue
            if name == "learning_rate":
                if math.isnan(value) and getattr(self, "learning_rate_schedule", None) is not None:
                    continue
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"learningRate must be a finite number >= 0 (or set a learningRateSchedule), got {value!r}")
            elif name in ("beta1", "beta2", "rms_decay", "rho"):
                if not (0.0 <= value < 1.0) and not (name != "beta1" and value == 1.0):
                    raise ValueError(f"{label} must be in [0, 1), got {value!r}")
            elif not math.isfinite(value) or value < 0:
                raise ValueError(f"{label} must be a finite number >= 0, got {value!r}")
        return self

    def getLearningRate(self, iteration: int = 0, epoch: int = 0) -> float:
        """Learning rate at this iteration/epoch (from the schedule when one is set)."""
        sched = getattr(self, "learning_rate_schedule", None)
        if sched is not None:
            return sched.valueAt(iteration, epoch)
        return float(getattr(self, "learning_rate", math.nan))

    def stateSize(self, num_params: int) -> int:
        return self.state_size_multiplier * num_params

    def hasLearningRate(self) -> bool:
        return self.has_learning_rate

    get_learning_rate = getLearningRate
    state_size = stateSize


@dl4j_class(_PKG + "Sgd")
class Sgd(IUpdater):
    """Plain SGD: u = lr·g."""

    learning_rate: float = option(1e-3)
    learning_rate_schedule: Optional[ISchedule] = option(None)


@dl4j_class(_PKG + "NoOp")
class NoOp(IUpdater):
    """No updater: the update is the gradient itself (DL4J's step still subtracts it)."""

    has_learning_rate: ClassVar[bool] = False


class _AdamFamily(IUpdater):
    learning_rate: float = option(1e-3)
    beta1: float = option(0.9)
    beta2: float = option(0.999)
    epsilon: float = option(1e-8)
    learning_rate_schedule: Optional[ISchedule] = option(None)
    state_size_multiplier: ClassVar[int] = 2


@dl4j_class(_PKG + "Adam")
class Adam(_AdamFamily):
    """Adam with DL4J's bias-corrected step size α = lr·√(1−β2^t)/(1−β1^t)."""


@dl4j_class(_PKG + "AdaMax")
class AdaMax(_AdamFamily):
    """AdaMax (infinity-norm Adam)."""


@dl4j_class(_PKG + "Nadam")
class Nadam(_AdamFamily):
    """Nesterov-accelerated Adam."""


@dl4j_class(_PKG + "AMSGrad")
class AMSGrad(_AdamFamily):
    """AMSGrad (Adam with a running maximum of v)."""

    state_size_multiplier: ClassVar[int] = 3


@dl4j_class(_PKG + "Nesterovs")
class Nesterovs(IUpdater):
    """Nesterov momentum: v ← μv − lr·g; u = μ·v_prev − (1+μ)·v."""

    learning_rate: float = option(0.1)
    momentum: float = option(0.9)
    learning_rate_schedule: Optional[ISchedule] = option(None)
    momentum_schedule: Optional[ISchedule] = option(None, json="momentumISchedule")
    state_size_multiplier: ClassVar[int] = 1

    @model_validator(mode="after")
    def _momentum(self):
        if not (0.0 <= self.momentum < 1.0) and self.momentum_schedule is None:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        return self

    def getMomentum(self, iteration: int = 0, epoch: int = 0) -> float:
        if self.momentum_schedule is not None:
            return self.momentum_schedule.valueAt(iteration, epoch)
        return self.momentum


@dl4j_class(_PKG + "RmsProp")
class RmsProp(IUpdater):
    """RMSProp; state starts at epsilon, as in DL4J."""

    learning_rate: float = option(0.1)
    rms_decay: float = option(0.95)
    epsilon: float = option(1e-8)
    learning_rate_schedule: Optional[ISchedule] = option(None)
    state_size_multiplier: ClassVar[int] = 1


@dl4j_class(_PKG + "AdaGrad")
class AdaGrad(IUpdater):
    """AdaGrad; state starts at epsilon, as in DL4J."""

    learning_rate: float = option(0.1)
    epsilon: float = option(1e-6)
    learning_rate_schedule: Optional[ISchedule] = option(None)
    state_size_multiplier: ClassVar[int] = 1


@dl4j_class(_PKG + "AdaDelta")
class AdaDelta(IUpdater):
    """AdaDelta (no learning rate)."""

    rho: float = option(0.95)
    epsilon: float = option(1e-6)
    state_size_multiplier: ClassVar[int] = 2
    has_learning_rate: ClassVar[bool] = False


class Updater(str, enum.Enum):
    """DL4J's deprecated ``Updater`` enum; ``getIUpdaterWithDefaultConfig()`` gives the updater object."""

    SGD = "SGD"
    ADAM = "ADAM"
    ADAMAX = "ADAMAX"
    ADADELTA = "ADADELTA"
    NESTEROVS = "NESTEROVS"
    NADAM = "NADAM"
    ADAGRAD = "ADAGRAD"
    RMSPROP = "RMSPROP"
    NONE = "NONE"
    CUSTOM = "CUSTOM"

    def getIUpdaterWithDefaultConfig(self) -> IUpdater:
        classes = {
            "SGD": Sgd, "ADAM": Adam, "ADAMAX": AdaMax, "ADADELTA": AdaDelta, "NESTEROVS": Nesterovs,
            "NADAM": Nadam, "ADAGRAD": AdaGrad, "RMSPROP": RmsProp, "NONE": NoOp,
        }
        if self.name not in classes:
            raise ValueError("Updater.CUSTOM has no default configuration; pass an IUpdater object instead")
        return classes[self.name]()

    get_i_updater_with_default_config = getIUpdaterWithDefaultConfig


def to_updater(value: Any) -> Any:
    """Coerce the deprecated ``Updater`` enum (or its name) into an updater object."""
    if isinstance(value, Updater):
        return value.getIUpdaterWithDefaultConfig()
    if isinstance(value, str):
        try:
            return Updater[value.upper()].getIUpdaterWithDefaultConfig()
        except KeyError:
            raise ValueError(f"unknown updater {value!r}; allowed: {', '.join(u.name for u in Updater)}") from None
    return value


__all__ = [
    "IUpdater", "Sgd", "NoOp", "Adam", "AdaMax", "Nadam", "AMSGrad", "Nesterovs", "RmsProp", "AdaGrad",
    "AdaDelta", "Updater", "to_updater",
]
