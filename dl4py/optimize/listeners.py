"""Training listeners (DL4J: ``org.deeplearning4j.optimize.api.TrainingListener`` and friends)."""
from __future__ import annotations

import logging
import sys
import time
from enum import Enum
from typing import Any, Callable

from .._naming import snake_aliases
from ..exceptions import DL4JInvalidConfigException

log = logging.getLogger("dl4py.listeners")


@snake_aliases
class TrainingListener:
    """Base class: override the hooks you need. ``iterationDone`` runs after every parameter update."""

    def iterationDone(self, model: Any, iteration: int, epoch: int) -> None:
        pass

    def onEpochStart(self, model: Any) -> None:
        pass

    def onEpochEnd(self, model: Any) -> None:
        pass


@snake_aliases
class ScoreIterationListener(TrainingListener):
    """Logs the score every ``printIterations`` iterations (through :mod:`logging`, logger ``dl4py.listeners``)."""

    def __init__(self, printIterations: int = 10) -> None:
        if printIterations <= 0:
            raise ValueError(f"printIterations must be > 0, got {printIterations}")
        self.print_iterations = printIterations

    def iterationDone(self, model: Any, iteration: int, epoch: int) -> None:
        if iteration % self.print_iterations == 0:
            log.info("Score at iteration %d is %s", iteration, model.score())


@snake_aliases
class CollectScoresListener(TrainingListener):
    """Records (iteration, score) of every iteration (what DL4J's trainingCurve.csv holds)."""

    def __init__(self, frequency: int = 1) -> None:
        self.frequency = frequency
        self.iterations: list[int] = []
        self.scores: list[float] = []

    def iterationDone(self, model: Any, iteration: int, epoch: int) -> None:
        if iteration % self.frequency == 0:
            self.iterations.append(iteration)
            self.scores.append(float(model.score()))

    def getListScore(self) -> list[float]:
        return list(self.scores)


@snake_aliases
class ProgressBarListener(TrainingListener):
    """A one-line progress bar on stderr for ``fit``/``pretrain``: iterations, score, iterations/s.

    ``total``: minibatches per epoch (None: a counter without a bar); ``desc``: a label shown first (e.g.
    ``"pretrain layer 0"``). On a terminal the line is redrawn in place at most every ``minInterval`` seconds;
    on anything else (a log file, a pipe) only the finished line of each epoch is written. ``net.fit(...,
    progress=True)`` and ``net.pretrain(..., progress=True)`` add one for the duration of the call."""

    def __init__(self, total: int | None = None, width: int = 30, stream: Any = None, desc: str = "",
                 minInterval: float = 0.1) -> None:
        self.total, self.width, self.desc = total, width, desc
        self.stream = stream or sys.stderr
        self.min_interval = minInterval
        isatty = getattr(self.stream, "isatty", None)
        self._tty = bool(isatty and isatty())
        self._count = 0
        self._epoch = 0
        self._score = float("nan")
        self._start = time.perf_counter()
        self._last_draw = 0.0

    def onEpochStart(self, model: Any) -> None:
        self._count = 0
        self._start = time.perf_counter()
        self._last_draw = 0.0

    def _text(self) -> str:
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = self._count / elapsed
        head = f"{self.desc} " if self.desc else ""
        if self.total:
            done = int(self.width * min(self._count / self.total, 1.0))
            bar = "#" * done + "-" * (self.width - done)
            return (f"{head}epoch {self._epoch} [{bar}] {self._count}/{self.total} score {self._score:.5g} "
                    f"{rate:.1f} it/s")
        return f"{head}epoch {self._epoch} iteration {self._count} score {self._score:.5g} {rate:.1f} it/s"

    def iterationDone(self, model: Any, iteration: int, epoch: int) -> None:
        self._count += 1
        self._epoch = epoch
        self._score = float(model.score())
        if not self._tty:
            return
        now = time.perf_counter()
        if now - self._last_draw >= self.min_interval or (self.total and self._count >= self.total):
            self._last_draw = now
            self.stream.write("\r" + self._text())
            self.stream.flush()

    def onEpochEnd(self, model: Any) -> None:
        self.stream.write(("\r" if self._tty else "") + self._text() + "\n")
        self.stream.flush()


class InvocationType(str, Enum):
    """When an :class:`EvaluativeListener` runs (DL4J: ``EvaluativeListener.InvocationType``)."""

    EPOCH_START = "EPOCH_START"
    EPOCH_END = "EPOCH_END"
    ITERATION_END = "ITERATION_END"


@snake_aliases
class EvaluativeListener(TrainingListener):
    """Evaluate the model on held-out data every ``frequency`` epochs or iterations (DL4J: ``EvaluativeListener``).

    ``evaluation`` says what to compute:

    * a score calculator from :mod:`dl4py.earlystopping` (anything with ``calculateScore(model)``), e.g.
      ``DataSetLossCalculator(testIterator)`` or ``VAEReconProbScoreCalculator(testIterator, 16)``;
    * a function ``fn(model)`` returning anything (a float, a dict of metrics, ...);
    * a DataSetIterator, a DataSet or a ``(features, labels)`` pair: the mean loss on it (as
      ``DataSetLossCalculator``; the last layer must be an output layer).

    ``invocationType`` is ``InvocationType.EPOCH_END`` (default), ``EPOCH_START`` or ``ITERATION_END``;
    ``frequency`` counts those events (every ``frequency``-th one runs). Each result is logged (logger
    ``dl4py.listeners``), kept in ``results`` as ``(iteration, epoch, value)`` and passed to ``callback(listener,
    model, invocationCount, value)`` (DL4J's ``EvaluationCallback``) when one is given.

        listener = EvaluativeListener(DataSetLossCalculator(test_iter), 1, InvocationType.EPOCH_END)
        net.setListeners(listener); net.fit(train_iter, numEpochs=5)
        listener.results   # [(iteration, epoch, held-out loss), ...]
    """

    def __init__(self, evaluation: Any, frequency: int = 1,
                 invocationType: "InvocationType | str" = InvocationType.EPOCH_END,
                 callback: Callable[..., Any] | None = None) -> None:
        if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency <= 0:
            raise DL4JInvalidConfigException(f"EvaluativeListener: frequency must be an integer > 0, got {frequency!r}")
        try:
            self.invocation_type = InvocationType(getattr(invocationType, "value", invocationType))
        except ValueError:
            allowed = ", ".join(t.value for t in InvocationType)
            raise DL4JInvalidConfigException(
                f"EvaluativeListener: invocationType must be one of {allowed}, got {invocationType!r}"
            ) from None
        self.frequency = frequency
        self.callback = callback
        self._evaluate = _evaluation_function(evaluation)
        self.results: list[tuple[int, int, Any]] = []
        self.invocation_count = 0
        self._events = 0
        self._iteration = -1
        self._epoch = 0

    def _event(self, model: Any) -> None:
        self._events += 1
        if self._events % self.frequency != 0:
            return
        value = self._evaluate(model)
        self.invocation_count += 1
        self.results.append((self._iteration, self._epoch, value))
        log.info("Evaluation at epoch %d, iteration %d: %s", self._epoch, self._iteration, value)
        if self.callback is not None:
            self.callback(self, model, self.invocation_count, value)

    def iterationDone(self, model: Any, iteration: int, epoch: int) -> None:
        self._iteration, self._epoch = iteration, epoch
        if self.invocation_type is InvocationType.ITERATION_END:
            self._event(model)

    def onEpochStart(self, model: Any) -> None:
        if self.invocation_type is InvocationType.EPOCH_START:
            self._event(model)

    def onEpochEnd(self, model: Any) -> None:
        if self.invocation_type is InvocationType.EPOCH_END:
            self._event(model)

    def getResults(self) -> list[tuple[int, int, Any]]:
        return list(self.results)

    def getLastResult(self) -> Any:
        """The value of the most recent evaluation (None before the first)."""
        return self.results[-1][2] if self.results else None


def _evaluation_function(evaluation: Any) -> Callable[[Any], Any]:
    calculate = getattr(evaluation, "calculateScore", None)
    if callable(calculate):
        return calculate
    is_data = hasattr(evaluation, "hasNext") or (hasattr(evaluation, "getFeatures") and hasattr(evaluation, "getLabels"))
    if is_data or (isinstance(evaluation, tuple) and len(evaluation) == 2):
        from ..earlystopping.scorecalc import DataSetLossCalculator

        return DataSetLossCalculator(evaluation).calculateScore
    if callable(evaluation):
        return evaluation
    raise DL4JInvalidConfigException(
        "EvaluativeListener: evaluation must be a score calculator (calculateScore(model)), a function fn(model), "
        f"or held-out data (a DataSetIterator, a DataSet or a (features, labels) pair); got {type(evaluation).__name__}"
    )
