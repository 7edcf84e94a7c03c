"""dl4py.plot, headless (Agg): every plot writes a real, non-blank image; without matplotlib a clear error."""
from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from dl4py import plot  # noqa: E402
from dl4py.earlystopping.result import EarlyStoppingResult, TerminationReason  # noqa: E402
from dl4py.exceptions import DL4JInvalidInputException, MissingDependencyException  # noqa: E402
from dl4py.learning.config import Adam  # noqa: E402
from dl4py.nn.conf import NeuralNetConfiguration  # noqa: E402
from dl4py.nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder  # noqa: E402
from dl4py.nn.multilayer import MultiLayerNetwork  # noqa: E402
from dl4py.optimize.listeners import CollectScoresListener  # noqa: E402


@pytest.fixture(autouse=True)
def _agg():
    import matplotlib

    previous = matplotlib.get_backend()
    matplotlib.use("Agg", force=True)
    yield
    matplotlib.use(previous, force=True)


def assert_real_png(path, min_bytes=4000):
    """The file is a PNG of some size whose pixels are not all one colour."""
    import matplotlib.image as mpimg

    assert path.exists(), path
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > min_bytes, f"{path.name}: only {len(data)} bytes"
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    flat = pixels[..., :3].reshape(-1, 3)
    colours = np.unique((flat * 255).astype(np.uint8), axis=0)
    assert len(colours) > 8, f"{path.name}: {len(colours)} colours"
    assert flat.std() > 0.05


@pytest.fixture(scope="module")
def vae2d():
    conf = (NeuralNetConfiguration.Builder().seed(3).updater(Adam(1e-2)).list()
            .layer(VariationalAutoencoder.Builder().activation("tanh").encoderLayerSizes(16).decoderLayerSizes(16)
                   .reconstructionDistribution(BernoulliReconstructionDistribution("sigmoid")).nIn(16).nOut(2).build())
            .build())
    net = MultiLayerNetwork(conf).init()
    x = (np.random.default_rng(0).random((64, 16)) > 0.5).astype(np.float32)
    for _ in range(5):
        net.pretrainLayer(0, x)
    return net, x


def test_latent_scatter_with_labels(tmp_path, vae2d):
    net, x = vae2d
    z = net.getLayer(0).activate(x)
    labels = np.arange(64) % 4
    fig = plot.latent_scatter(z, labels, tmp_path / "sub" / "latent.png")
    assert_real_png(tmp_path / "sub" / "latent.png")
    assert len(fig.axes[0].get_legend().get_texts()) == 4
    plot.latent_scatter(np.eye(4)[labels] @ np.ones((4, 3)) + z[:, :1], np.eye(4)[labels], tmp_path / "onehot.png", dims=(0, 2))
    assert_real_png(tmp_path / "onehot.png")
    with pytest.raises(DL4JInvalidInputException, match="labels"):
        plot.latent_scatter(z, labels[:5])


def test_latent_grid_from_layer_network_or_function(tmp_path, vae2d):
    net, _ = vae2d
    plot.latent_grid(net.getLayer(0), tmp_path / "grid.png", steps=8)
    assert_real_png(tmp_path / "grid.png")
    plot.latent_grid(net, tmp_path / "grid_net.png", steps=6)
    assert_real_png(tmp_path / "grid_net.png")
    plot.latent_grid(lambda z: np.repeat(np.sin(z @ np.ones((2, 1))), 9, axis=1), tmp_path / "f.png", steps=5)
    assert_real_png(tmp_path / "f.png")
    grid = plot.latent_space_grid(-5, 5, 16)
    assert grid.shape == (256, 2) and grid.min() == -5 and grid.max() == 5
    assert np.array_equal(grid[:16, 1], np.full(16, -5.0)) and np.allclose(grid[:16, 0], np.linspace(-5, 5, 16))


def test_reconstructions_and_image_grid(tmp_path, vae2d):
    net, x = vae2d
    vae = net.getLayer(0)
    plot.reconstructions(x, vae.generateAtMeanGivenZ(vae.activate(x)), tmp_path / "rec.png", n=8)
    assert_real_png(tmp_path / "rec.png")
    plot.image_grid(x[:20], tmp_path / "grid.png", ncols=5, titles=[f"{i}" for i in range(20)], suptitle="some")
    assert_real_png(tmp_path / "grid.png")
    with pytest.raises(DL4JInvalidInputException, match="image_shape"):
        plot.image_grid(x, image_shape=(3, 3))


def test_score_histogram_threshold(tmp_path):
    scores = np.random.default_rng(1).normal(-30, 3, size=500)
    fig = plot.score_histogram(scores, tmp_path / "h.png", contamination=0.05)
    assert_real_png(tmp_path / "h.png")
    threshold = fig.axes[0].lines[0].get_xdata()[0]
    assert threshold == pytest.approx(np.percentile(scores, 5))
    assert "25 of 500 flagged" in fig.axes[0].get_legend().get_texts()[0].get_text()
    fig = plot.score_histogram(-scores, tmp_path / "e.png", threshold=33.0, higher_is_normal=False, xlabel="error")
    assert_real_png(tmp_path / "e.png")
    with pytest.raises(DL4JInvalidInputException):
        plot.score_histogram([np.nan])


def test_training_curve_sources(tmp_path):
    collect = CollectScoresListener()
    collect.iterations = list(range(200))
    collect.scores = list(1.0 / (1 + np.arange(200) / 10) + np.random.default_rng(2).normal(0, 0.02, 200))
    result = EarlyStoppingResult(TerminationReason.EpochTerminationCondition, "x", {0: 0.9, 1: 0.5, 2: 0.4}, 2, 0.4, 3, None)
    plot.training_curve(collect, tmp_path / "c.png", smooth=10, held_out=result)
    assert_real_png(tmp_path / "c.png")
    plot.training_curve([3.0, 2.0, 1.5, 1.2], tmp_path / "l.png", log_scale=True)
    assert_real_png(tmp_path / "l.png", min_bytes=2000)


def test_without_matplotlib_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingDependencyException, match=r"pip install 'dl4py\[plot\]'") as info:
        plot.score_histogram([1.0, 2.0])
    assert isinstance(info.value, ImportError)
