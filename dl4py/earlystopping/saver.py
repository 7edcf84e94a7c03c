"""Where an early-stopping run keeps its best (and latest) model (DL4J: ``org.deeplearning4j.earlystopping.saver``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._naming import snake_aliases


@snake_aliases
class EarlyStoppingModelSaver:
    """``saveBestModel(net, score)``, ``saveLatestModel(net, score)``, ``getBestModel()``, ``getLatestModel()``."""

    def saveBestModel(self, net: Any, score: float) -> None:
        raise NotImplementedError

    def saveLatestModel(self, net: Any, score: float) -> None:
        raise NotImplementedError

    def getBestModel(self) -> Any:
        raise NotImplementedError

    def getLatestModel(self) -> Any:
        raise NotImplementedError


@snake_aliases
class InMemoryModelSaver(EarlyStoppingModelSaver):
    """Keeps copies (``net.clone()``: configuration, parameters, updater state) in memory. The default."""

    def __init__(self) -> None:
        self.best_model: Any = None
        self.latest_model: Any = None

    def saveBestModel(self, net: Any, score: float) -> None:
        self.best_model = net.clone()

    def saveLatestModel(self, net: Any, score: float) -> None:
        self.latest_model = net.clone()

    def getBestModel(self) -> Any:
        return self.best_model

    def getLatestModel(self) -> Any:
        return self.latest_model

    def __repr__(self) -> str:
        return "InMemoryModelSaver()"


@snake_aliases
class LocalFileModelSaver(EarlyStoppingModelSaver):
    """Writes DL4J model zips ``bestModel.bin`` and ``latestModel.bin`` (DL4J's names) into ``directory`` (created
    if missing); each save is atomic. ``saveUpdater`` keeps the updater state in the files (default True)."""

    BEST_MODEL_BIN = "bestModel.bin"
    LATEST_MODEL_BIN = "latestModel.bin"

    def __init__(self, directory: str | os.PathLike, saveUpdater: bool = True) -> None:
        self.directory = Path(directory)
        self.save_updater = bool(saveUpdater)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.directory / name

    def saveBestModel(self, net: Any, score: float) -> None:
        net.save(self._path(self.BEST_MODEL_BIN), self.save_updater)

    def saveLatestModel(self, net: Any, score: float) -> None:
        net.save(self._path(self.LATEST_MODEL_BIN), self.save_updater)

    def _load(self, name: str) -> Any:
        from ..nn.multilayer import MultiLayerNetwork

        path = self._path(name)
        return MultiLayerNetwork.load(path, self.save_updater) if path.exists() else None

    def getBestModel(self) -> Any:
        return self._load(self.BEST_MODEL_BIN)

    def getLatestModel(self) -> Any:
        return self._load(self.LATEST_MODEL_BIN)

    def __repr__(self) -> str:
        return f"LocalFileModelSaver({str(self.directory)!r})"


__all__ = ["EarlyStoppingModelSaver", "InMemoryModelSaver", "LocalFileModelSaver"]
