"""Handwritten digits for the examples, from whichever source is available.

* default: scikit-learn's bundled 8×8 digits (1,797 images; ``pip install -e '.[examples]'``), pixels scaled
  to [0, 1], shuffled with ``seed`` and split 80 % / 20 %;
* ``--mnist-dir DIR`` with the four MNIST IDX files (``train-images-idx3-ubyte`` ... , optionally ``.gz``):
  ``MnistDataSetIterator`` in DL4J's seeded order (train and test sets as MNIST ships them);
* ``--mnist-dir DIR`` with DL4J DataSet files ``mnist-train-*.bin`` (e.g. ``../shared/fixtures/dl4j/mnist``):
  those examples, split 80 % / 20 %.

``limit`` caps the number of training examples (and of test examples at a quarter of it).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Digits:
    train_x: np.ndarray  # [N, side*side] float32 in [0, 1]
    train_y: np.ndarray  # [N] int class indices
    test_x: np.ndarray
    test_y: np.ndarray
    side: int
    source: str


def _split(x: np.ndarray, y: np.ndarray, seed: int, source: str, side: int) -> Digits:
    order = np.random.default_rng(seed).permutation(x.shape[0])
    x, y = x[order], y[order]
    cut = int(0.8 * x.shape[0])
    return Digits(x[:cut], y[:cut], x[cut:], y[cut:], side, source)


def _has_idx(directory: Path) -> bool:
    return any((directory / f"train-images-idx3-ubyte{ext}").exists() for ext in ("", ".gz")) or (
        directory / "train-images.idx3-ubyte").exists()


def load_digits_data(mnist_dir: str | None = None, seed: int = 12345, limit: int | None = None) -> Digits:
    """The examples' data (see the module docstring); exits with a message when no source is available."""
    if mnist_dir:
        directory = Path(mnist_dir)
        if not directory.is_dir():
            sys.exit(f"--mnist-dir {mnist_dir}: no such directory")
        if _has_idx(directory):
            from dl4py.datasets import MnistDataSetIterator

            parts = []
            for train in (True, False):
                n = None if limit is None else (limit if train else max(1, limit // 4))
                it = MnistDataSetIterator(60000, train, seed, numExamples=n, dataDir=directory)
                ds = it.next(it.numExamples())
                parts.append((ds.getFeatures(), ds.getLabels().argmax(axis=1)))
            (tx, ty), (vx, vy) = parts
            return Digits(tx, ty, vx, vy, 28, f"MNIST IDX files in {directory} (DL4J's order for seed {seed})")
        files = sorted(directory.glob("mnist-train-*.bin"))
        if not files:
            sys.exit(f"--mnist-dir {mnist_dir}: neither MNIST IDX files (train-images-idx3-ubyte...) nor DL4J "
                     "DataSet files (mnist-train-*.bin) found there")
        from dl4py.nd4j import read_dataset

        feats, labels = [], []
        for path in files:
            f, l, _, _ = read_dataset(path)
            feats.append(f)
            labels.append(l.argmax(axis=1))
        data = _split(np.concatenate(feats).astype(np.float32), np.concatenate(labels), seed,
                      f"DL4J MNIST DataSet files in {directory}", 28)
    else:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            sys.exit("this example needs scikit-learn's digits: pip install -e '.[examples]' "
                     "(or pass --mnist-dir with MNIST IDX files or DL4J's mnist-train-*.bin files)")
        digits = load_digits()
        data = _split((digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64), seed,
                      "scikit-learn digits (8x8)", 8)
    if limit is not None:
        data.train_x, data.train_y = data.train_x[:limit], data.train_y[:limit]
        data.test_x, data.test_y = data.test_x[:max(1, limit // 4)], data.test_y[:max(1, limit // 4)]
    return data


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib not installed: no plots written (pip install -e '.[examples]')")
        return False
    return True
