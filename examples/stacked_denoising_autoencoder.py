"""Stacked denoising autoencoder: two AutoEncoder layers pretrained layer-wise, then an OutputLayer fine-tuned.

The classic recipe (Vincent et al., 2008/2010) written as a DL4J builder chain:

1. layer 0 (AutoEncoder, masking noise 30 %) learns to reconstruct clean digits from corrupted ones;
2. layer 1 (AutoEncoder, masking noise 20 %) does the same on layer 0's codes;
3. an OutputLayer on top is trained with the whole stack (supervised fine-tuning; the visible biases ``vb`` are
   pretraining-only parameters and stay untouched).

Data: scikit-learn's bundled 8×8 digits (``pip install -e '.[examples]'``); without scikit-learn, DL4J's MNIST
DataSet files via ``--data DIR`` (e.g. ../shared/fixtures/dl4j/mnist, 512 examples).

    python examples/stacked_denoising_autoencoder.py [--pretrain-epochs 10] [--finetune-epochs 30] [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from dl4py.activations import Activation
from dl4py.datasets import NumpyDataSetIterator
from dl4py.learning.config import Adam
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import AutoEncoder, OutputLayer
from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.nn.weights import WeightInit
from dl4py.optimize.listeners import TrainingListener

LossFunction = LossFunctions.LossFunction


def load_data(data_dir: str | None, seed: int, prefer_sklearn: bool = True):
    """(train x, train one-hot, test x, test one-hot, source name), pixels in [0, 1], 75 % / 25 % split."""
    x = y = None
    source = ""
    if prefer_sklearn:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            load_digits = None
        if load_digits is not None:
            digits = load_digits()
            x = (digits.data / 16.0).astype(np.float32)
            y = np.eye(10, dtype=np.float32)[digits.target]
            source = "scikit-learn digits (8x8)"
    if x is None:
        if not data_dir:
            sys.exit("this example needs scikit-learn's digits (pip install -e '.[examples]') "
                     "or DL4J's MNIST files: --data ../shared/fixtures/dl4j/mnist")
        from dl4py.nd4j import read_dataset

        feats, labels = [], []
        for path in sorted(Path(data_dir).glob("mnist-train-*.bin")):
            f, l, _, _ = read_dataset(path)
            feats.append(f)
            labels.append(l)
        if not feats:
            sys.exit(f"no mnist-train-*.bin files in {data_dir}")
        x = np.concatenate(feats).astype(np.float32)
        y = np.concatenate(labels).astype(np.float32)
        source = f"DL4J MNIST files in {data_dir} (28x28)"
    order = np.random.default_rng(seed).permutation(x.shape[0])
    x, y = x[order], y[order]
    split = int(0.75 * x.shape[0])
    return x[:split], y[:split], x[split:], y[split:], source


def build_network(n_in: int, hidden1: int, hidden2: int, seed: int) -> MultiLayerNetwork:
    conf = (
        NeuralNetConfiguration.Builder()
        .seed(seed)
        .updater(Adam(3e-3))
        .weightInit(WeightInit.XAVIER)
        .list()
        .layer(0, AutoEncoder.Builder()
               .nIn(n_in).nOut(hidden1)
               .corruptionLevel(0.3)
               .lossFunction(LossFunction.XENT)
               .activation(Activation.SIGMOID)
               .build())
        .layer(1, AutoEncoder.Builder()
               .nIn(hidden1).nOut(hidden2)
               .corruptionLevel(0.2)
               .lossFunction(LossFunction.XENT)
               .activation(Activation.SIGMOID)
               .build())
        .layer(2, OutputLayer.Builder(LossFunction.MCXENT)
               .nIn(hidden2).nOut(10)
               .activation(Activation.SOFTMAX)
               .build())
        .build()
    )
    net = MultiLayerNetwork(conf)
    net.init()
    return net


class EpochScore(TrainingListener):
    """Mean of the per-iteration scores of each epoch (the pretraining score includes the corruption)."""

    def __init__(self) -> None:
        self.scores: list[float] = []
        self.means: list[float] = []

    def iterationDone(self, model, iteration, epoch) -> None:
        self.scores.append(model.score())

    def onEpochEnd(self, model) -> None:
        self.means.append(float(np.mean(self.scores)))
        self.scores = []


def clean_reconstruction_loss(net: MultiLayerNetwork, layer_index: int, x: np.ndarray) -> float:
    """Pretraining loss of one layer on uncorrupted input (an all-ones keep-mask)."""
    h = net.activateSelectedLayers(0, layer_index - 1, x) if layer_index > 0 else x
    return net.getLayer(layer_index).computeGradientAndScore(h, mask=np.ones_like(h))[0]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="folder with DL4J's mnist-train-*.bin files (used when scikit-learn is missing)")
    p.add_argument("--mnist", action="store_true", help="use --data even if scikit-learn is installed")
    p.add_argument("--pretrain-epochs", type=int, default=10)
    p.add_argument("--finetune-epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--quick", action="store_true", help="a short run (a few epochs) for smoke tests")
    args = p.parse_args(argv)
    if args.quick:
        args.pretrain_epochs, args.finetune_epochs = 3, 5

    x_train, y_train, x_test, y_test, source = load_data(args.data, args.seed, prefer_sklearn=not args.mnist)
    n_in = x_train.shape[1]
    hidden1, hidden2 = (48, 32) if n_in <= 64 else (128, 64)
    print(f"data: {source}: {len(x_train)} training / {len(x_test)} held-out examples, {n_in} inputs")
    net = build_network(n_in, hidden1, hidden2, args.seed)
    print(f"network: AutoEncoder {n_in}-{hidden1}, AutoEncoder {hidden1}-{hidden2}, OutputLayer {hidden2}-10 "
          f"({net.numParams()} parameters)")

    t0 = time.perf_counter()
    unlabelled = NumpyDataSetIterator(x_train, None, batchSize=args.batch, shuffle=True, seed=args.seed)
    report: dict = {"pretrain": []}
    for i in (0, 1):
        listener = EpochScore()
        net.setListeners(listener)
        before = clean_reconstruction_loss(net, i, x_test)
        print(f"\npretraining layer {i} (held-out clean reconstruction loss before: {before:.4f})")
        for epoch in range(args.pretrain_epochs):
            net.pretrainLayer(i, unlabelled, 1)
            print(f"  epoch {epoch + 1:3d}: mean training score {listener.means[-1]:.4f}")
        after = clean_reconstruction_loss(net, i, x_test)
        print(f"  held-out clean reconstruction loss: {before:.4f} -> {after:.4f}")
        report["pretrain"].append({"epoch_scores": listener.means, "before": before, "after": after})

    net.setListeners()
    labelled = NumpyDataSetIterator(x_train, y_train, batchSize=args.batch, shuffle=True, seed=args.seed + 1)
    print(f"\nfine-tuning the whole stack for {args.finetune_epochs} epochs")
    for epoch in range(args.finetune_epochs):
        net.fit(labelled, numEpochs=1)
        if (epoch + 1) % max(1, args.finetune_epochs // 5) == 0 or epoch + 1 == args.finetune_epochs:
            acc = float((net.predict(x_test) == y_test.argmax(axis=1)).mean())
            print(f"  epoch {epoch + 1:3d}: training score {net.score():.4f}, held-out accuracy {acc:.4f}")
    accuracy = float((net.predict(x_test) == y_test.argmax(axis=1)).mean())
    print(f"\nfinal held-out accuracy: {accuracy:.4f} ({len(x_test)} examples), "
          f"total time {time.perf_counter() - t0:.1f} s")
    report["accuracy"] = accuracy
    return report


if __name__ == "__main__":
    main()
