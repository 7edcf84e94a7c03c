"""The typical networks ``dl4py.warmup(typical=True)`` trains once, so that numba compiles (or loads) exactly
their kernels: DL4J's MNIST-anomaly VAE, a sigmoid/XENT AutoEncoder and the MLPMnist-shaped classifier, float32."""
from __future__ import annotations

import time

import numpy as np


def _networks() -> dict[str, tuple]:
    from .activations import Activation
    from .learning.config import Adam
    from .lossfunctions import LossFunctions
    from .nn.conf import NeuralNetConfiguration
    from .nn.conf.layers import AutoEncoder, DenseLayer, OutputLayer
    from .nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder
    from .nn.multilayer import MultiLayerNetwork

    def net(layer, *more):
        b = NeuralNetConfiguration.Builder().seed(1).updater(Adam(1e-3)).l2(1e-4).list().layer(layer)
        for extra in more:
            b = b.layer(extra)
        return MultiLayerNetwork(b.build()).init()

    vae = net(VariationalAutoencoder.Builder().nIn(12).nOut(2).encoderLayerSizes(8, 8).decoderLayerSizes(8, 8)
              .activation(Activation.LEAKYRELU).pzxActivationFunction(Activation.IDENTITY)
              .reconstructionDistribution(BernoulliReconstructionDistribution(Activation.SIGMOID)).build())
    ae = net(AutoEncoder.Builder().nIn(12).nOut(6).corruptionLevel(0.3).activation(Activation.SIGMOID)
             .lossFunction(LossFunctions.LossFunction.XENT).build())
    mlp = net(DenseLayer.Builder().nIn(12).nOut(6).activation(Activation.TANH).build(),
              OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(6).nOut(3)
              .activation(Activation.SOFTMAX).build())
    return {"vae": (vae, True), "autoencoder": (ae, True), "mlp": (mlp, False)}


def warm_typical_networks(verbose: bool = False) -> dict[str, float]:
    """Seconds per network to build it, take a training step and run ``output``."""
    rng = np.random.default_rng(0)
    x = (rng.random((8, 12)) < 0.5).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    for name, (net, pretrain) in _networks().items():
        if pretrain:
            net.pretrainLayer(0, x)
        else:
            net.fit(x, y)
        net.output(x)
        timings[name] = time.perf_counter() - start
        if verbose:
            print(f"{name}: {timings[name]:.2f} s")
        start = time.perf_counter()
    return timings
