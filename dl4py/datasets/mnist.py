"""``MnistDataSetIterator`` with DL4J's semantics: the standard MNIST IDX files, pixels as float32(byte/255),
one-hot labels, and (with a seed) the example order of DL4J's seeded iterator — a Fisher–Yates shuffle driven by
``java.util.Random(seed)``.

The IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, optionally gzipped) are read from ``dataDir``, else from the directory named by the
environment variable ``DL4PY_MNIST_DIR``, else ``~/.deeplearning4j/data/MNIST`` (where DL4J keeps them). dl4py
never downloads: get the four files from the MNIST distribution (or a DL4J installation) and point there.
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Optional

import numpy as np

from ..exceptions import DL4JInvalidInputException
from .dataset import DataSet
from .iterator import DataSetIterator
from .java_random import dl4j_shuffled_order

_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def mnist_dir(data_dir: Optional[str | os.PathLike] = None) -> Path:
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("DL4PY_MNIST_DIR")
    if env:
        return Path(env)
    return Path.home() / ".deeplearning4j" / "data" / "MNIST"


def _open(directory: Path, name: str):
    for candidate in (directory / name, directory / (name + ".gz"), directory / name.replace("-idx", ".idx")):
        if candidate.exists():
            return gzip.open(candidate, "rb") if candidate.suffix == ".gz" else open(candidate, "rb"), candidate
    raise FileNotFoundError(
        f"MNIST file {name}(.gz) not found in {directory}; download the four MNIST IDX files and pass dataDir=... "
        "or set DL4PY_MNIST_DIR"
    )


def read_idx(directory: Path, name: str, expected_magic: int) -> np.ndarray:
    """One IDX file as a uint8 array (images [n, rows·cols], labels [n])."""
    f, path = _open(directory, name)
    with f:
        header = f.read(8)
        if len(header) < 8:
            raise DL4JInvalidInputException(f"{path}: truncated IDX header")
        magic, count = struct.unpack(">ii", header)
        if magic != expected_magic:
            raise DL4JInvalidInputException(f"{path}: IDX magic number {magic}, expected {expected_magic}")
        if expected_magic == 2051:
            rows, cols = struct.unpack(">ii", f.read(8))
            size = count * rows * cols
            data = np.frombuffer(f.read(size), dtype=np.uint8)
            if data.size != size:
                raise DL4JInvalidInputException(f"{path}: expected {size} pixel bytes, found {data.size}")
            return data.reshape(count, rows * cols)
        data = np.frombuffer(f.read(count), dtype=np.uint8)
        if data.size != count:
            raise DL4JInvalidInputException(f"{path}: expected {count} labels, found {data.size}")
        return data


class MnistDataSetIterator(DataSetIterator):
    """DL4J's ``MnistDataSetIterator(batchSize, train, seed)``: minibatches of MNIST in DL4J's seeded order.

    ``numExamples`` limits the examples (the first of the shuffled stream); ``shuffle=False`` keeps file order;
    ``binarize=True`` gives 0/1 pixels (> 30, as DL4J's binarising fetcher)."""

    def __init__(self, batchSize: int, train: bool = True, seed: int = 123, *, numExamples: Optional[int] = None,
                 dataDir: Optional[str | os.PathLike] = None, shuffle: bool = True, binarize: bool = False) -> None:
        if batchSize <= 0:
            raise DL4JInvalidInputException(f"MnistDataSetIterator: batchSize must be > 0, got {batchSize}")
        directory = mnist_dir(dataDir)
        images_name, labels_name = _FILES[bool(train)]
        images = read_idx(directory, images_name, 2051)
        labels = read_idx(directory, labels_name, 2049)
        if images.shape[0] != labels.shape[0]:
            raise DL4JInvalidInputException(f"{directory}: {images.shape[0]} images but {labels.shape[0]} labels")
        order = dl4j_shuffled_order(images.shape[0], seed) if shuffle else np.arange(images.shape[0])
        if numExamples is not None:
            order = order[:numExamples]
        self._order = order
        self._images, self._labels = images, labels
        self._batch = batchSize
        self._binarize = binarize
        self._cursor = 0

    @property
    def order(self) -> np.ndarray:
        """Raw MNIST indices in stream order."""
        return self._order

    def hasNext(self) -> bool:
        return self._cursor < self._order.shape[0]

    def _next(self, num: Optional[int]) -> DataSet:
        count = num or self._batch
        idx = self._order[self._cursor:self._cursor + count]
        self._cursor += idx.shape[0]
        pixels = self._images[idx]
        x = (pixels > 30).astype(np.float32) if self._binarize else pixels.astype(np.float32) / np.float32(255.0)
        y = np.zeros((idx.shape[0], 10), dtype=np.float32)
        y[np.arange(idx.shape[0]), self._labels[idx]] = 1.0
        return DataSet(x, y)

    def reset(self) -> None:
        self._cursor = 0

    def batch(self) -> int:
        return self._batch

    def inputColumns(self) -> int:
        return int(self._images.shape[1])

    def totalOutcomes(self) -> int:
        return 10

    def numExamples(self) -> int:
        return int(self._order.shape[0])

    def getLabels(self) -> list[str]:
        return [str(i) for i in range(10)]
