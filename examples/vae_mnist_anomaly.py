"""VAE anomaly detection — a port of DL4J's ``VaeMNISTAnomaly`` example.

Trains a variational autoencoder (Bernoulli reconstruction) on handwritten digits, then scores held-out digits by
their reconstruction log-probability: the lowest scores are the most anomalous. Writes the best and worst
examples and a histogram of the scores as PNG files (with matplotlib; skipped without it).

Data: scikit-learn's bundled 8×8 digits (``pip install -e '.[examples]'``), or DL4J's MNIST DataSet files with
``--mnist-dir DIR`` (e.g. ../shared/fixtures/dl4j/mnist).

    python examples/vae_mnist_anomaly.py [--epochs 5] [--out vae_anomaly_output] [--quick]
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


def load_digits_data(mnist_dir: str | None, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(train x, train labels, test x, test labels, image side) with pixels scaled to [0, 1]."""
    if mnist_dir:
        from dl4py.nd4j import read_dataset

        feats, labels = [], []
        for path in sorted(Path(mnist_dir).glob("mnist-train-*.bin")):
            f, l, _, _ = read_dataset(path)
            feats.append(f)
            labels.append(l.argmax(axis=1))
        if not feats:
            sys.exit(f"no mnist-train-*.bin files in {mnist_dir}")
        x, y, side = np.concatenate(feats), np.concatenate(labels), 28
    else:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            sys.exit("this example needs scikit-learn's digits: pip install -e '.[examples]' (or pass --mnist-dir)")
        digits = load_digits()
        x, y, side = (digits.data / 16.0).astype(np.float32), digits.target, 8
    order = np.random.default_rng(seed).permutation(x.shape[0])
    x, y = x[order], y[order]
    split = int(0.8 * x.shape[0])
    return x[:split], y[:split], x[split:], y[split:], side


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
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plots written (pip install -e '.[examples]')")
        return []
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, idx in (("best", order[::-1][:24]), ("worst", order[:24])):
        fig, axes = plt.subplots(3, 8, figsize=(8, 3.3))
        for ax, i in zip(axes.ravel(), idx):
            ax.imshow(test_x[i].reshape(side, side), cmap="gray")
            ax.set_title(f"{scores[i]:.1f}", fontsize=7)
            ax.axis("off")
        fig.suptitle(f"{name} reconstruction log-probability")
        path = out / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=50)
    threshold = np.percentile(scores, 5)
    ax.axvline(threshold, color="red", linestyle="--", label="5th percentile")
    ax.set_xlabel("reconstruction log-probability")
    ax.set_ylabel("examples")
    ax.legend()
    path = out / "score_histogram.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--samples", type=int, default=16, help="samples for the reconstruction probability")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--mnist-dir", default=None)
    parser.add_argument("--out", default="vae_anomaly_output")
    parser.add_argument("--quick", action="store_true", help="one short epoch (for tests)")
    args = parser.parse_args(argv)

    train_x, _, test_x, test_y, side = load_digits_data(args.mnist_dir, args.seed)
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
