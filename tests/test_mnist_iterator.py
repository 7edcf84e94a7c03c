"""MnistDataSetIterator: DL4J's seeded order (java.util.Random Fisher–Yates) and IDX reading."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from dl4py.datasets import MnistDataSetIterator
from dl4py.datasets.java_random import JavaRandom, dl4j_shuffled_order
from dl4py.exceptions import DL4JInvalidInputException


def test_first_indices_of_dl4j_seed_12345_stream():
    # the fixtures README gives DL4J's first raw indices for seed 12345 over the 60,000 training images
    assert dl4j_shuffled_order(60000, 12345)[:6].tolist() == [5310, 36545, 10388, 10768, 1311, 42299]


def test_java_random_matches_java():
    # printed by OpenJDK 17: new Random(42) -> nextInt(10) x5; new Random(42) -> nextInt(16), nextInt(1000000007)
    r = JavaRandom(42)
    assert [r.nextInt(10) for _ in range(5)] == [0, 3, 8, 4, 0]
    r = JavaRandom(42)
    assert r.nextInt(16) == 11  # power-of-two bound takes the high bits
    assert r.nextInt(1000000007) == 117392763  # a bound near 2^30 exercises the rejection loop


def _write_idx(tmp_path, n=50, gz=False):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(n, 28 * 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    opener = gzip.open if gz else open
    suffix = ".gz" if gz else ""
    with opener(tmp_path / f"train-images-idx3-ubyte{suffix}", "wb") as f:
        f.write(struct.pack(">iiii", 2051, n, 28, 28) + pixels.tobytes())
    with opener(tmp_path / f"train-labels-idx1-ubyte{suffix}", "wb") as f:
        f.write(struct.pack(">ii", 2049, n) + labels.tobytes())
    return pixels, labels


@pytest.mark.parametrize("gz", [False, True])
def test_iterator_reads_idx_in_dl4j_order(tmp_path, gz):
    pixels, labels = _write_idx(tmp_path, gz=gz)
    it = MnistDataSetIterator(16, True, 12345, dataDir=tmp_path)
    order = dl4j_shuffled_order(50, 12345)
    batches = list(it)
    assert [b.numExamples() for b in batches] == [16, 16, 16, 2]
    x = np.concatenate([b.getFeatures() for b in batches])
    y = np.concatenate([b.getLabels() for b in batches])
    np.testing.assert_array_equal(x, pixels[order].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y.argmax(axis=1), labels[order])
    it.reset()
    assert it.next().numExamples() == 16


def test_missing_files_and_bad_magic(tmp_path):
    with pytest.raises(FileNotFoundError, match="DL4PY_MNIST_DIR"):
        MnistDataSetIterator(10, True, 1, dataDir=tmp_path)
    _write_idx(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(struct.pack(">ii", 1234, 1))
    with pytest.raises(DL4JInvalidInputException, match="magic"):
        MnistDataSetIterator(10, True, 1, dataDir=tmp_path)
