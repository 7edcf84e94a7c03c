"""VAE anomaly detection — a port of DL4J's ``VaeMNISTAnomaly`` example.

Trains a variational autoencoder (Bernoulli reconstruction) on handwritten digits, then scores held-out digits by
their reconstruction log-probability: the lowest scores are the most anomalous. Writes the best and worst
examples and a histogram of the scores as PNG files (with matplotlib; skipped without it).

Data: scikit-learn's bundled 8×8 digits (``pip install -e '.[examples]'``), or MNIST with ``--mnist-dir DIR``: a
folder with the four MNIST IDX files (read in DL4J's seeded order) or with DL4J's DataSet files
``mnist-train-*.bin`` (e.g. ../shared/fixtures/dl4j/mnist). See examples/_data.py.

    python examples/vae_mnist_anomaly.py [--epochs 5] [--out vae_anomaly_output] [--mnist-dir DIR] [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from dl4py.activations import Activation
from dl4py.learning.config import Adam
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder
from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.nn.weights import WeightInit

from _data import have_matplotlib, load_digits_data


def build_network(n_in: int, seed: int) -> MultiLayerNetwork:
    """The builder chain of DL4J's example, with nIn set to the image size."""
    conf = (
        NeuralNetConfiguration.Builder()
        .seed(seed)
        .updater(Adam(1e-3))
        .weightInit(WeightInit.XAVIER)
        .l2(1e-4)
        .list()
        .layer(
            VariationalAutoencoder.Builder()
            .activation(Activation.LEAKYRELU)
            .encoderLayerSizes(256, 256)
            .decoderLayerSizes(256, 256)
            .pzxActivationFunction(Activation.IDENTITY)
            .reconstructionDistribution(BernoulliReconstructionDistribution(Activation.SIGMOID.getActivationFunction()))
            .nIn(n_in)
            .nOut(32)
            .build()
        )
        .build()
    )
    net = MultiLayerNetwork(conf)
    net.init()
    return net


def save_plots(out: Path, test_x, scores, order, side: int) -> list[Path]:
    """The 24 least and most anomalous held-out digits and the score histogram (dl4py.plot)."""
    if not have_matplotlib():
        return []
    from dl4py import plot

    written = []
    for name, idx in (("best", order[::-1][:24]), ("worst", order[:24])):
        path = out / f"{name}.png"
        plot.image_grid(test_x[idx], path, image_shape=(side, side), ncols=8,
                        titles=[f"{scores[i]:.1f}" for i in idx], suptitle=f"{name} reconstruction log-probability")
        written.append(path)
    path = out / "score_histogram.png"
    plot.score_histogram(scores, path, contamination=0.05, xlabel="reconstruction log-probability",
                         title="Held-out reconstruction log-probability (5 % flagged)")
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--samples", type=int, default=16, help="samples for the reconstruction probability")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--mnist-dir", default=None,
                        help="folder with the MNIST IDX files or DL4J's mnist-train-*.bin files (default: sklearn digits)")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many training examples")
    parser.add_argument("--out", default="vae_anomaly_output")
    parser.add_argument("--quick", action="store_true", help="one short epoch (for tests)")
    args = parser.parse_args(argv)

    data = load_digits_data(args.mnist_dir, args.seed, args.limit)
    train_x, test_x, test_y, side = data.train_x, data.test_x, data.test_y, data.side
    print(f"data: {data.source}: {len(train_x)} training / {len(test_x)} held-out examples")
    if args.quick:
        train_x, test_x, test_y, args.epochs = train_x[:256], test_x[:64], test_y[:64], 1
    net = build_network(train_x.shape[1], args.seed)
    print(net.summary())

    from dl4py.datasets import NumpyDataSetIterator

    it = NumpyDataSetIterator(train_x, None, batchSize=args.batch, shuffle=True, seed=args.seed)
    vae = net.getLayer(0)
    for epoch in range(args.epochs):
        start = time.perf_counter()
        net.pretrain(it, 1)
        held_out = float(np.mean(vae.reconstructionLogProbability(test_x, args.samples)))
        print(f"epoch {epoch + 1}/{args.epochs}: pretraining score {net.score():.3f}, "
              f"mean held-out log p(x) {held_out:.3f} ({time.perf_counter() - start:.1f} s)")

    scores = vae.reconstructionLogProbability(test_x, args.samples).reshape(-1)
    order = np.argsort(scores)
    print("most anomalous (lowest log-probability): " + ", ".join(f"digit {test_y[i]} ({scores[i]:.1f})" for i in order[:5]))
    print("least anomalous (highest log-probability): " + ", ".join(f"digit {test_y[i]} ({scores[i]:.1f})" for i in order[::-1][:5]))
    for path in save_plots(Path(args.out), test_x, scores, order, side):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
