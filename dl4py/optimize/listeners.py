"""Training listeners (DL4J: ``org.deeplearning4j.optimize.api.TrainingListener`` and friends)."""
from __future__ import annotations

import logging
import sys
import time
from typing import Any

from .._naming import snake_aliases

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
    """A one-line progress bar on stderr for ``fit``/``pretrain``: iterations, score, examples/s."""

    def __init__(self, total: int | None = None, width: int = 30, stream: Any = None) -> None:
        self.total, self.width = total, width
        self.stream = stream or sys.stderr
        self._count = 0
        self._start = time.perf_counter()

    def onEpochStart(self, model: Any) -> None:
        self._count = 0
        self._start = time.perf_counter()

    def iterationDone(self, model: Any, iteration: int, epoch: int) -> None:
        self._count += 1
        rate = self._count / max(time.perf_counter() - self._start, 1e-9)
        if self.total:
            done = int(self.width * min(self._count / self.total, 1.0))
            bar = "#" * done + "-" * (self.width - done)
            text = f"\repoch {epoch} [{bar}] {self._count}/{self.total} score {model.score():.5g} {rate:.1f} it/s"
        else:
            text = f"\repoch {epoch} iteration {self._count} score {model.score():.5g} {rate:.1f} it/s"
        self.stream.write(text)
        self.stream.flush()

    def onEpochEnd(self, model: Any) -> None:
        self.stream.write("\n")
        self.stream.flush()
