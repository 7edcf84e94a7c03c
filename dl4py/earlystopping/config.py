"""``EarlyStoppingConfiguration`` (DL4J: ``org.deeplearning4j.earlystopping.EarlyStoppingConfiguration``)."""
from __future__ import annotations

from typing import Any, Iterable

from .._naming import snake_aliases
from ..exceptions import DL4JInvalidConfigException
from .saver import EarlyStoppingModelSaver, InMemoryModelSaver
from .scorecalc import ScoreCalculator
from .termination import EpochTerminationCondition, IterationTerminationCondition


def _flatten(items: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out.extend(item)
        else:
            out.append(item)
    return out


@snake_aliases
class EarlyStoppingConfiguration:
    """What an :class:`~dl4py.earlystopping.EarlyStoppingTrainer` run does: when to stop (epoch and iteration
    termination conditions), how to score an epoch (``scoreCalculator``, on held-out data), where the best model
    goes (``modelSaver``, default :class:`InMemoryModelSaver`), how often to score (``evaluateEveryNEpochs``) and
    whether to keep the latest model too (``saveLastModel``). Built with DL4J's builder::

        esConf = (EarlyStoppingConfiguration.Builder()
                  .epochTerminationConditions(MaxEpochsTerminationCondition(30),
                                              ScoreImprovementEpochTerminationCondition(5))
                  .iterationTerminationConditions(MaxTimeIterationTerminationCondition(20, TimeUnit.MINUTES))
                  .scoreCalculator(DataSetLossCalculator(testIter, True))
                  .evaluateEveryNEpochs(1)
                  .modelSaver(LocalFileModelSaver(directory))
                  .build())
    """

    def __init__(self, epochTerminationConditions: Iterable[EpochTerminationCondition] = (),
                 iterationTerminationConditions: Iterable[IterationTerminationCondition] = (),
                 scoreCalculator: ScoreCalculator | None = None, modelSaver: EarlyStoppingModelSaver | None = None,
                 evaluateEveryNEpochs: int = 1, saveLastModel: bool = False) -> None:
        self.epoch_termination_conditions = list(epochTerminationConditions)
        self.iteration_termination_conditions = list(iterationTerminationConditions)
        self.score_calculator = scoreCalculator
        self.model_saver = modelSaver if modelSaver is not None else InMemoryModelSaver()
        self.evaluate_every_n_epochs = evaluateEveryNEpochs
        self.save_last_model = bool(saveLastModel)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`DL4JInvalidConfigException` for an unusable configuration."""
        if not self.epoch_termination_conditions and not self.iteration_termination_conditions:
            raise DL4JInvalidConfigException(
                "EarlyStoppingConfiguration: no termination condition: set epochTerminationConditions (e.g. "
                "MaxEpochsTerminationCondition) and/or iterationTerminationConditions, or training would never stop"
            )
        for c in self.epoch_termination_conditions:
            if not isinstance(c, EpochTerminationCondition):
                raise DL4JInvalidConfigException(
                    f"EarlyStoppingConfiguration: epochTerminationConditions: {c!r} is not an EpochTerminationCondition"
                )
        for c in self.iteration_termination_conditions:
            if not isinstance(c, IterationTerminationCondition):
                raise DL4JInvalidConfigException(
                    "EarlyStoppingConfiguration: iterationTerminationConditions: "
                    f"{c!r} is not an IterationTerminationCondition"
                )
        sc = self.score_calculator
        if sc is not None and not (callable(getattr(sc, "calculateScore", None)) and callable(getattr(sc, "minimizeScore", None))):
            raise DL4JInvalidConfigException(
                f"EarlyStoppingConfiguration: scoreCalculator {sc!r} has no calculateScore(net)/minimizeScore()"
            )
        n = self.evaluate_every_n_epochs
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise DL4JInvalidConfigException(
                f"EarlyStoppingConfiguration: evaluateEveryNEpochs must be an integer > 0, got {n!r}"
            )

    # DL4J getters
    def getEpochTerminationConditions(self) -> list[EpochTerminationCondition]:
        return self.epoch_termination_conditions

    def getIterationTerminationConditions(self) -> list[IterationTerminationCondition]:
        return self.iteration_termination_conditions

    def getScoreCalculator(self) -> ScoreCalculator | None:
        return self.score_calculator

    def getModelSaver(self) -> EarlyStoppingModelSaver:
        return self.model_saver

    def getEvaluateEveryNEpochs(self) -> int:
        return self.evaluate_every_n_epochs

    def isSaveLastModel(self) -> bool:
        return self.save_last_model

    def __repr__(self) -> str:
        return (f"EarlyStoppingConfiguration(epochTerminationConditions={self.epoch_termination_conditions}, "
                f"iterationTerminationConditions={self.iteration_termination_conditions}, "
                f"scoreCalculator={self.score_calculator!r}, modelSaver={self.model_saver!r}, "
                f"evaluateEveryNEpochs={self.evaluate_every_n_epochs}, saveLastModel={self.save_last_model})")

    @snake_aliases
    class Builder:
        """DL4J's builder; every method also answers to its snake_case name."""

        def __init__(self) -> None:
            self._epoch: list[Any] = []
            self._iteration: list[Any] = []
            self._score: Any = None
            self._saver: Any = None
            self._every = 1
            self._save_last = False

        def epochTerminationConditions(self, *conditions: Any) -> "EarlyStoppingConfiguration.Builder":
            self._epoch = _flatten(conditions)
            return self

        def iterationTerminationConditions(self, *conditions: Any) -> "EarlyStoppingConfiguration.Builder":
            self._iteration = _flatten(conditions)
            return self

        def scoreCalculator(self, calculator: Any) -> "EarlyStoppingConfiguration.Builder":
            self._score = calculator
            return self

        def modelSaver(self, saver: Any) -> "EarlyStoppingConfiguration.Builder":
            self._saver = saver
            return self

        def evaluateEveryNEpochs(self, n: int) -> "EarlyStoppingConfiguration.Builder":
            self._every = n
            return self

        def saveLastModel(self, save: bool) -> "EarlyStoppingConfiguration.Builder":
            self._save_last = save
            return self

        def build(self) -> "EarlyStoppingConfiguration":
            return EarlyStoppingConfiguration(self._epoch, self._iteration, self._score, self._saver, self._every,
                                              self._save_last)


__all__ = ["EarlyStoppingConfiguration"]
