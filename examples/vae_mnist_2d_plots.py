"""A VAE with a 2-D latent space — a port of DL4J's ``VaeMNIST2dPlots`` example.

Trains a variational autoencoder with ``nOut(2)`` (Bernoulli reconstruction, RmsProp) by layer-wise pretraining,
and, as DL4J's ``PlottingListener``, records every N minibatches where the held-out digits sit in latent space and
what the decoder makes of a 16 × 16 grid of latent values over [-5, 5]². Writes PNG files (matplotlib):

* ``latent_space_before.png`` / ``latent_space.png``: the held-out digits at the mean of q(z|x), coloured by
  label, before and after training;
* ``decoded_grid.png``: ``generateAtMeanGivenZ`` over the latent grid after training;
* ``training_curve.png``: the pretraining score of every minibatch.

Data: scikit-learn's bundled 8×8 digits by default, or ``--mnist-dir DIR`` (MNIST IDX files or DL4J's
``mnist-train-*.bin`` DataSet files), as the other examples (examples/_data.py).

    python examples/vae_mnist_2d_plots.py [--epochs 30] [--out vae_2d_output] [--mnist-dir DIR] [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from dl4py.activations import Activation
from dl4py.datasets import NumpyDataSetIterator
from dl4py.learning.config import RmsProp
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder
from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.nn.weights import WeightInit
from dl4py.optimize.listeners import CollectScoresListener, TrainingListener

from _data import have_matplotlib, load_digits_data

PLOT_MIN, PLOT_MAX, PLOT_STEPS = -5.0, 5.0, 16


def build_network(n_in: int, seed: int) -> MultiLayerNetwork:
    """DL4J's builder chain: the same VAE as the anomaly example, but RmsProp and a 2-D latent space."""
    conf = (
        NeuralNetConfiguration.Builder()
        .seed(seed)
        .updater(RmsProp(1e-3))
        .weightInit(WeightInit.XAVIER)
        .l2(1e-4)
        .list()
        .layer(
            VariationalAutoencoder.Builder()
            .activation(Activation.LEAKYRELU)
            .encoderLayerSizes(256, 256)  # 2 encoder layers, each of size 256
            .decoderLayerSizes(256, 256)  # 2 decoder layers, each of size 256
            .pzxActivationFunction(Activation.IDENTITY)  # p(z|data) activation function
            .reconstructionDistribution(BernoulliReconstructionDistribution(Activation.SIGMOID.getActivationFunction()))
            .nIn(n_in)  # input size: the image's pixel count
            .nOut(2)  # size of the latent space: 2 dimensions for plotting
            .build()
        )
        .build()
    )
    net = MultiLayerNetwork(conf)
    net.init()
    return net


class PlottingListener(TrainingListener):
    """DL4J's PlottingListener: every ``plot_every`` minibatches, the held-out latent values and the decoded grid."""

    def __init__(self, plot_every: int, features: np.ndarray, grid: np.ndarray) -> None:
        self.plot_every = plot_every
        self.features, self.grid = features, grid
        self.latent_vs_time: list[np.ndarray] = []
        self.decoded_vs_time: list[np.ndarray] = []

    def record(self, model: MultiLayerNetwork) -> None:
        vae = model.getLayer(0)
        self.latent_vs_time.append(vae.activate(self.features, False))
        self.decoded_vs_time.append(vae.generateAtMeanGivenZ(self.grid))

    def iterationDone(self, model, iteration, epoch) -> None:
        if iteration % self.plot_every == 0:
            self.record(model)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--plot-every", type=int, default=100, help="record latent values every N minibatches")
    parser.add_argument("--mnist-dir", default=None,
                        help="folder with the MNIST IDX files or DL4J's mnist-train-*.bin files (default: sklearn digits)")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many training examples")
    parser.add_argument("--out", default="vae_2d_output")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    parser.add_argument("--quick", action="store_true", help="a few iterations on a small subset (for tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.limit = 2, args.limit or 256

    data = load_digits_data(args.mnist_dir, args.seed, args.limit)
    print(f"data: {data.source}: {len(data.train_x)} training / {len(data.test_x)} held-out examples")
    net = build_network(data.train_x.shape[1], args.seed)
    print(net.summary())

    from dl4py.plot import latent_space_grid

    grid = latent_space_grid(PLOT_MIN, PLOT_MAX, PLOT_STEPS).astype(np.float32)
    plotting = PlottingListener(args.plot_every, data.test_x, grid)
    plotting.record(net)  # latent space before training
    scores = CollectScoresListener()
    net.setListeners(plotting, scores)

    train = NumpyDataSetIterator(data.train_x, None, batchSize=args.batch, shuffle=True, seed=args.seed)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        net.pretrain(train, 1, progress=args.progress)  # pretrain, not fit: unsupervised training
        if (epoch + 1) % max(1, args.epochs // 10) == 0 or epoch + 1 == args.epochs:
            print(f"epoch {epoch + 1}/{args.epochs}: pretraining score {net.score():.3f} "
                  f"({time.perf_counter() - start:.1f} s)")
    plotting.record(net)  # after training

    z = plotting.latent_vs_time[-1]
    centres = {int(d): z[data.test_y == d].mean(axis=0) for d in np.unique(data.test_y)}
    print("mean latent position per digit: " + ", ".join(f"{d}: ({c[0]:.2f}, {c[1]:.2f})" for d, c in centres.items()))

    if have_matplotlib():
        from dl4py import plot

        out = Path(args.out)
        side = (data.side, data.side)
        for path, fig in (
            (out / "latent_space_before.png", lambda p: plot.latent_scatter(plotting.latent_vs_time[0], data.test_y, p,
                                                                            title="Held-out digits in latent space, untrained")),
            (out / "latent_space.png", lambda p: plot.latent_scatter(z, data.test_y, p,
                                                                     title=f"Held-out digits in latent space, {args.epochs} epochs")),
            (out / "decoded_grid.png", lambda p: plot.latent_grid(net.getLayer(0), p, vmin=PLOT_MIN, vmax=PLOT_MAX,
                                                                  steps=PLOT_STEPS, image_shape=side)),
            (out / "training_curve.png", lambda p: plot.training_curve(scores, p, smooth=10, ylabel="pretraining score")),
        ):
            fig(path)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
