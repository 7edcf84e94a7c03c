"""Each example runs end to end in reduced size (``--quick``, a few iterations) in a subprocess and writes its
plots; the examples' data loader reads MNIST IDX files and DL4J's DataSet files."""
from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from .conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"

pytest.importorskip("sklearn", reason="the examples' default data are scikit-learn's digits (the examples extra)")


def run_example(name: str, *args: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OPENBLAS_NUM_THREADS"] = "1"  # small minibatches: one BLAS thread is faster on a shared 2-core machine
    env["MPLBACKEND"] = "Agg"
    res = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, f"{name} failed:\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"
    return res


def _pngs(directory, names):
    for name in names:
        path = directory / name
        assert path.exists(), f"{name} not written"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 3000


def test_vae_mnist_anomaly_quick(tmp_path):
    pytest.importorskip("matplotlib")
    res = run_example("vae_mnist_anomaly.py", "--quick", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert "epoch 1/1" in res.stdout and "most anomalous (lowest log-probability)" in res.stdout
    _pngs(tmp_path / "out", ["best.png", "worst.png", "score_histogram.png"])


def test_vae_mnist_2d_plots_quick(tmp_path):
    pytest.importorskip("matplotlib")
    res = run_example("vae_mnist_2d_plots.py", "--quick", "--plot-every", "1", "--out", str(tmp_path / "out"),
                      cwd=tmp_path)
    assert "mean latent position per digit" in res.stdout
    _pngs(tmp_path / "out", ["latent_space_before.png", "latent_space.png", "decoded_grid.png", "training_curve.png"])


def test_mnist_autoencoder_anomaly_quick(tmp_path):
    pytest.importorskip("matplotlib")
    res = run_example("mnist_autoencoder_anomaly.py", "--quick", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert "epoch 2/2 complete" in res.stdout and "most anomalous overall" in res.stdout
    _pngs(tmp_path / "out", ["best.png", "worst.png", "reconstructions.png", "score_histogram.png",
                             "training_curve.png"])


def test_stacked_denoising_autoencoder_quick(tmp_path):
    res = run_example("stacked_denoising_autoencoder.py", "--quick", cwd=tmp_path)
    assert "final held-out accuracy" in res.stdout


@pytest.fixture()
def data_module(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import _data

    return _data


def _write_idx(directory, name, array, magic, gz=False):
    header = struct.pack(">ii", magic, array.shape[0])
    if magic == 2051:
        header += struct.pack(">ii", 28, 28)
    opener = gzip.open if gz else open
    with opener(directory / (name + (".gz" if gz else "")), "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_examples_data_from_idx_files(tmp_path, data_module):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 12)):
        _write_idx(tmp_path, f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 784)), 2051, gz=prefix == "t10k")
        _write_idx(tmp_path, f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n), 2049)
    data = data_module.load_digits_data(str(tmp_path), seed=12345)
    assert data.side == 28 and data.train_x.shape == (40, 784) and data.test_x.shape == (12, 784)
    assert 0.0 <= data.train_x.min() and data.train_x.max() <= 1.0 and "IDX" in data.source
    limited = data_module.load_digits_data(str(tmp_path), seed=12345, limit=8)
    assert limited.train_x.shape == (8, 784) and limited.test_x.shape == (2, 784)
    np.testing.assert_array_equal(limited.train_x, data.train_x[:8])  # DL4J's seeded order, truncated


def test_examples_data_from_dl4j_dataset_files(dl4j, data_module):
    folder = dl4j("mnist/mnist-train-0.bin").parent
    data = data_module.load_digits_data(str(folder), seed=1)
    total = len(data.train_x) + len(data.test_x)
    assert data.side == 28 and total >= 512 and data.train_y.dtype.kind == "i"


def test_examples_data_errors(tmp_path, data_module):
    with pytest.raises(SystemExit, match="neither MNIST IDX files"):
        data_module.load_digits_data(str(tmp_path))
    with pytest.raises(SystemExit, match="no such directory"):
        data_module.load_digits_data(str(tmp_path / "missing"))
