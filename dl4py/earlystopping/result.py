"""``EarlyStoppingResult`` and ``EarlyStoppingListener`` (DL4J: ``org.deeplearning4j.earlystopping``)."""
from __future__ import annotations

from enum import Enum
from typing import Any

from .._naming import snake_aliases


class TerminationReason(str, Enum):
    """Why an early-stopping run ended."""

    Error = "Error"
    IterationTerminationCondition = "IterationTerminationCondition"
    EpochTerminationCondition = "EpochTerminationCondition"


@snake_aliases
class EarlyStoppingResult:
    """The outcome of an early-stopping run.

    ``terminationReason`` (:class:`TerminationReason`), ``terminationDetails`` (the condition that fired, or the
    error), ``scoreVsEpoch`` ({epoch: score} of the evaluated epochs, epochs counted from 0), ``bestModelEpoch``
    (the epoch, from 0, whose model scored best; -1 if none was scored), ``bestModelScore`` (NaN if none), ``totalEpochs``
    (epochs started; a run stopped by an iteration condition counts the interrupted epoch) and ``getBestModel()``
    (the best network, restored from the model saver; the trained network itself if no epoch was scored).
    ``exception`` holds the error of a run that ended with ``TerminationReason.Error``."""

    def __init__(self, terminationReason: TerminationReason, terminationDetails: str, scoreVsEpoch: dict[int, float],
                 bestModelEpoch: int, bestModelScore: float, totalEpochs: int, bestModel: Any,
                 exception: BaseException | None = None) -> None:
        self.termination_reason = terminationReason
        self.termination_details = terminationDetails
        self.score_vs_epoch = dict(scoreVsEpoch)
        self.best_model_epoch = bestModelEpoch
        self.best_model_score = bestModelScore
        self.total_epochs = totalEpochs
        self.best_model = bestModel
        self.exception = exception

    def getTerminationReason(self) -> TerminationReason:
        return self.termination_reason

    def getTerminationDetails(self) -> str:
        return self.termination_details

    def getScoreVsEpoch(self) -> dict[int, float]:
        return dict(self.score_vs_epoch)

    def getBestModelEpoch(self) -> int:
        return self.best_model_epoch

    def getBestModelScore(self) -> float:
        return self.best_model_score

    def getTotalEpochs(self) -> int:
        return self.total_epochs

    def getBestModel(self) -> Any:
        return self.best_model

    def __str__(self) -> str:
        return (f"EarlyStoppingResult(terminationReason={self.termination_reason.value}, "
                f"details={self.termination_details}, bestModelEpoch={self.best_model_epoch}, "
                f"bestModelScore={self.best_model_score}, totalEpochs={self.total_epochs})")

    __repr__ = __str__
    toString = __str__


@snake_aliases
class EarlyStoppingListener:
    """Hooks called by the trainer: ``onStart(config, net)``, ``onEpoch(epochNum, score, config, net)`` after each
    evaluated epoch, ``onCompletion(result)`` at the end."""

    def onStart(self, esConfig: Any, net: Any) -> None:
        pass

    def onEpoch(self, epochNum: int, score: float, esConfig: Any, net: Any) -> None:
        pass

    def onCompletion(self, result: EarlyStoppingResult) -> None:
        pass


__all__ = ["TerminationReason", "EarlyStoppingResult", "EarlyStoppingListener"]
