"""Autoencoder anomaly detection — a port of DL4J's ``MNISTAutoencoder`` example.

A plain feed-forward autoencoder (DenseLayer nIn-250-10-250 and an OutputLayer back to nIn, MSE loss, AdaGrad)
is trained with ``fit(x, x)`` to reconstruct its input; each held-out digit is then scored by its reconstruction
error (``net.scoreExamples``): the digits it reconstructs worst are the unusual ones. As DL4J's example, the best
and worst examples of each digit are shown; also the reconstructions next to the inputs and a histogram of the
errors with the 5 % threshold. PNG files (matplotlib): ``best.png``, ``worst.png``, ``reconstructions.png``,
``score_histogram.png``, ``training_curve.png``.

Data: scikit-learn's bundled 8×8 digits by default, or ``--mnist-dir DIR`` (MNIST IDX files or DL4J's
``mnist-train-*.bin`` DataSet files), as the other examples (examples/_data.py).

    python examples/mnist_autoencoder_anomaly.py [--epochs 30] [--out autoencoder_anomaly_output] [--quick]
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from dl4py.activations import Activation
from dl4py.datasets import DataSet, NumpyDataSetIterator
from dl4py.learning.config import AdaGrad
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import DenseLayer, OutputLayer
from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.nn.weights import WeightInit
from dl4py.optimize.listeners import CollectScoresListener, ScoreIterationListener

from _data import have_matplotlib, load_digits_data

PER_DIGIT = 5  # best / worst examples shown per digit


def build_network(n_in: int, seed: int) -> MultiLayerNetwork:
    """DL4J's builder chain (784 → 250 → 10 → 250 → 784 there), with nIn/nOut set to the image size."""
    conf = (
        NeuralNetConfiguration.Builder()
        .seed(seed)
        .weightInit(WeightInit.XAVIER)
        .updater(AdaGrad(0.05))
        .activation(Activation.RELU)
        .l2(0.0001)
        .list()
        .layer(DenseLayer.Builder().nIn(n_in).nOut(250).build())
        .layer(DenseLayer.Builder().nIn(250).nOut(10).build())
        .layer(DenseLayer.Builder().nIn(10).nOut(250).build())
        .layer(OutputLayer.Builder().nIn(250).nOut(n_in)
               .activation(Activation.LEAKYRELU)
               .lossFunction(LossFunctions.LossFunction.MSE)
               .build())
        .build()
    )
    net = MultiLayerNetwork(conf)
    net.init()
    return net


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--mnist-dir", default=None,
                        help="folder with the MNIST IDX files or DL4J's mnist-train-*.bin files (default: sklearn digits)")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many training examples")
    parser.add_argument("--out", default="autoencoder_anomaly_output")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    parser.add_argument("--quick", action="store_true", help="a few iterations on a small subset (for tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.limit = 2, args.limit or 256
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    data = load_digits_data(args.mnist_dir, args.seed, args.limit)
    print(f"data: {data.source}: {len(data.train_x)} training / {len(data.test_x)} held-out examples")
    net = build_network(data.train_x.shape[1], args.seed)
    print(net.summary())
    curve = CollectScoresListener()
    net.setListeners(ScoreIterationListener(50), curve)

    # the autoencoder learns to reproduce its input: features are also the labels
    train = NumpyDataSetIterator(data.train_x, data.train_x, batchSize=args.batch, shuffle=True, seed=args.seed)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        net.fit(train, numEpochs=1, progress=args.progress)
        if (epoch + 1) % max(1, args.epochs // 10) == 0 or epoch + 1 == args.epochs:
            print(f"epoch {epoch + 1}/{args.epochs} complete: score {net.score():.5f} "
                  f"({time.perf_counter() - start:.1f} s)")

    # score each held-out example separately: its reconstruction error (MSE; DL4J's example also adds the
    # network's constant regularisation score to every example, which changes no ranking)
    x, digits = data.test_x, data.test_y
    errors = net.scoreExamples(DataSet(x, x), False).reshape(-1).astype(np.float64)
    print(f"held-out reconstruction error: mean {errors.mean():.5f}, median {np.median(errors):.5f}, "
          f"max {errors.max():.5f}")
    best, worst = [], []
    for d in range(10):
        idx = np.flatnonzero(digits == d)
        if idx.size == 0:
            continue
        ranked = idx[np.argsort(errors[idx])]
        best.extend(ranked[:PER_DIGIT])
        worst.extend(ranked[::-1][:PER_DIGIT])
        print(f"digit {d}: best {errors[ranked[0]]:.4f}, worst {errors[ranked[-1]]:.4f} ({idx.size} examples)")
    overall = np.argsort(errors)[::-1][:5]
    print("most anomalous overall: " + ", ".join(f"digit {digits[i]} ({errors[i]:.4f})" for i in overall))

    if have_matplotlib():
        from dl4py import plot

        out = Path(args.out)
        side = (data.side, data.side)
        outputs = [
            (out / "best.png", lambda p: plot.image_grid(x[best], p, image_shape=side, ncols=PER_DIGIT,
                                                         titles=[f"{digits[i]}: {errors[i]:.3f}" for i in best],
                                                         suptitle="Best (lowest reconstruction error) per digit")),
            (out / "worst.png", lambda p: plot.image_grid(x[worst], p, image_shape=side, ncols=PER_DIGIT,
                                                          titles=[f"{digits[i]}: {errors[i]:.3f}" for i in worst],
                                                          suptitle="Worst (highest reconstruction error) per digit")),
            (out / "reconstructions.png", lambda p: plot.reconstructions(x[overall], net.output(x[overall]), p,
                                                                          image_shape=side,
                                                                          title="Most anomalous: inputs (top), "
                                                                                "reconstructions (bottom)")),
            (out / "score_histogram.png", lambda p: plot.score_histogram(errors, p, contamination=0.05,
                                                                          higher_is_normal=False,
                                                                          xlabel="reconstruction error (MSE)")),
            (out / "training_curve.png", lambda p: plot.training_curve(curve, p, smooth=10, ylabel="MSE score")),
        ]
        for path, draw in outputs:
            draw(path)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
