"""Termination conditions (DL4J: ``org.deeplearning4j.earlystopping.termination``).

Epoch conditions are asked after an epoch, with the epoch number (from 0), its score and whether lower is better;
iteration conditions after every minibatch, with that minibatch's training score (``net.score()``).
"""
from __future__ import annotations

import math
import time
from enum import Enum

from .._naming import snake_aliases
from ..exceptions import DL4JInvalidConfigException


def _check_positive_int(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise DL4JInvalidConfigException(f"{owner}: {name} must be an integer > 0, got {value!r}")
    return value


def _check_number(owner: str, name: str, value: object, allow_negative: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise DL4JInvalidConfigException(f"{owner}: {name} must be a number, got {value!r}")
    if not allow_negative and value < 0:
        raise DL4JInvalidConfigException(f"{owner}: {name} must be >= 0, got {value!r}")
    return float(value)


@snake_aliases
class EpochTerminationCondition:
    """Base of the conditions checked after each epoch. ``requiresScore = False`` marks a condition that does
    not look at the score (checked after every epoch, also those that are not evaluated)."""

    requiresScore = True

    def initialize(self) -> None:
        """Reset any state (called when training starts)."""

    def terminate(self, epochNum: int, score: float, minimize: bool) -> bool:
        raise NotImplementedError


@snake_aliases
class IterationTerminationCondition:
    """Base of the conditions checked after each minibatch."""

    def initialize(self) -> None:
        """Reset any state (called when training starts)."""

    def terminate(self, lastMiniBatchScore: float) -> bool:
        raise NotImplementedError


@snake_aliases
class MaxEpochsTerminationCondition(EpochTerminationCondition):
    """Stop after ``maxEpochs`` epochs (epoch numbers count from 0: stops when ``epochNum + 1 >= maxEpochs``)."""

    requiresScore = False

    def __init__(self, maxEpochs: int) -> None:
        self.max_epochs = _check_positive_int("MaxEpochsTerminationCondition", "maxEpochs", maxEpochs)

    def terminate(self, epochNum: int, score: float, minimize: bool) -> bool:
        return epochNum + 1 >= self.max_epochs

    def __str__(self) -> str:
        return f"MaxEpochsTerminationCondition({self.max_epochs})"

    __repr__ = __str__


@snake_aliases
class ScoreImprovementEpochTerminationCondition(EpochTerminationCondition):
    """Stop when the score has not improved by more than ``minImprovement`` for ``maxEpochsWithNoImprovement``
    evaluated epochs (as DL4J: the first score is the reference; a NaN score never counts as an improvement)."""

    def __init__(self, maxEpochsWithNoImprovement: int, minImprovement: float = 0.0) -> None:
        owner = "ScoreImprovementEpochTerminationCondition"
        self.max_epochs_with_no_improvement = _check_positive_int(owner, "maxEpochsWithNoImprovement",
                                                                  maxEpochsWithNoImprovement)
        self.min_improvement = _check_number(owner, "minImprovement", minImprovement, allow_negative=False)
        self.initialize()

    def initialize(self) -> None:
        self.best_epoch = -1
        self.best_score = math.nan

    def terminate(self, epochNum: int, score: float, minimize: bool) -> bool:
        if self.best_epoch == -1:
            self.best_epoch, self.best_score = epochNum, score
            return False
        improvement = self.best_score - score if minimize else score - self.best_score
        if improvement > self.min_improvement or (math.isnan(self.best_score) and not math.isnan(score)):
            self.best_epoch, self.best_score = epochNum, score
            return False
        return epochNum >= self.best_epoch + self.max_epochs_with_no_improvement

    def __str__(self) -> str:
        return (f"ScoreImprovementEpochTerminationCondition(maxEpochsWithNoImprovement="
                f"{self.max_epochs_with_no_improvement}, minImprovement={self.min_improvement})")

    __repr__ = __str__


@snake_aliases
class BestScoreEpochTerminationCondition(EpochTerminationCondition):
    """Stop as soon as the score is better than ``bestExpectedScore`` (below it when minimising, above it when
    maximising)."""

    def __init__(self, bestExpectedScore: float) -> None:
        self.best_expected_score = _check_number("BestScoreEpochTerminationCondition", "bestExpectedScore",
                                                  bestExpectedScore)

    def terminate(self, epochNum: int, score: float, minimize: bool) -> bool:
        return score < self.best_expected_score if minimize else score > self.best_expected_score

    def __str__(self) -> str:
        return f"BestScoreEpochTerminationCondition({self.best_expected_score})"

    __repr__ = __str__


class TimeUnit(str, Enum):
    """``java.util.concurrent.TimeUnit`` for :class:`MaxTimeIterationTerminationCondition`."""

    NANOSECONDS = "NANOSECONDS"
    MICROSECONDS = "MICROSECONDS"
    MILLISECONDS = "MILLISECONDS"
    SECONDS = "SECONDS"
    MINUTES = "MINUTES"
    HOURS = "HOURS"
    DAYS = "DAYS"

    def toSeconds(self, amount: float) -> float:
        return amount * _SECONDS[self]

    to_seconds = toSeconds


_SECONDS = {TimeUnit.NANOSECONDS: 1e-9, TimeUnit.MICROSECONDS: 1e-6, TimeUnit.MILLISECONDS: 1e-3,
            TimeUnit.SECONDS: 1.0, TimeUnit.MINUTES: 60.0, TimeUnit.HOURS: 3600.0, TimeUnit.DAYS: 86400.0}


@snake_aliases
class MaxTimeIterationTerminationCondition(IterationTerminationCondition):
    """Stop once training has run for ``maxTimeAmount`` ``timeUnit`` (default seconds) — checked after every
    minibatch, the clock starting when training starts."""

    def __init__(self, maxTimeAmount: float, timeUnit: "TimeUnit | str" = TimeUnit.SECONDS) -> None:
        owner = "MaxTimeIterationTerminationCondition"
        amount = _check_number(owner, "maxTimeAmount", maxTimeAmount, allow_negative=False)
        try:
            self.time_unit = TimeUnit(str(getattr(timeUnit, "value", timeUnit)).upper())
        except ValueError:
            raise DL4JInvalidConfigException(
                f"{owner}: timeUnit must be one of {', '.join(u.value for u in TimeUnit)}, got {timeUnit!r}"
            ) from None
        self.max_time_amount = amount
        self.max_seconds = self.time_unit.toSeconds(amount)
        self.initialize()

    def initialize(self) -> None:
        self.start = time.monotonic()

    def terminate(self, lastMiniBatchScore: float) -> bool:
        return time.monotonic() - self.start >= self.max_seconds

    def __str__(self) -> str:
        return f"MaxTimeIterationTerminationCondition({self.max_time_amount:g} {self.time_unit.value})"

    __repr__ = __str__


@snake_aliases
class MaxScoreIterationTerminationCondition(IterationTerminationCondition):
    """Stop when a minibatch score exceeds ``maxScore`` (training diverging)."""

    def __init__(self, maxScore: float) -> None:
        self.max_score = _check_number("MaxScoreIterationTerminationCondition", "maxScore", maxScore)

    def terminate(self, lastMiniBatchScore: float) -> bool:
        return lastMiniBatchScore > self.max_score

    def __str__(self) -> str:
        return f"MaxScoreIterationTerminationCondition({self.max_score})"

    __repr__ = __str__


@snake_aliases
class InvalidScoreIterationTerminationCondition(IterationTerminationCondition):
    """Stop when a minibatch score is NaN or infinite. (dl4py's engine raises ``NonFiniteException`` before such
    a score is reported and restores the last finite parameters; the trainer turns that into this condition
    when it is configured.)"""

    def terminate(self, lastMiniBatchScore: float) -> bool:
        return not math.isfinite(lastMiniBatchScore)

    def __str__(self) -> str:
        return "InvalidScoreIterationTerminationCondition()"

    __repr__ = __str__


__all__ = [
    "EpochTerminationCondition",
    "IterationTerminationCondition",
    "MaxEpochsTerminationCondition",
    "ScoreImprovementEpochTerminationCondition",
    "BestScoreEpochTerminationCondition",
    "MaxTimeIterationTerminationCondition",
    "MaxScoreIterationTerminationCondition",
    "InvalidScoreIterationTerminationCondition",
    "TimeUnit",
]
