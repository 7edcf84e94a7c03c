"""Layers that declare ``pretrain_writes_whole_gradient`` really write every gradient element in pretraining, so
the network can skip zeroing the gradient before each pretraining step."""
from __future__ import annotations

import numpy as np
import pytest

from dl4py.activations import Activation
from dl4py.learning.config import NoOp
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import AutoEncoder
from dl4py.nn.conf.layers.variational import (
    BernoulliReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    VariationalAutoencoder,
)
from dl4py.nn.multilayer import MultiLayerNetwork

from tests.test_vae_methods import composite

A = Activation


def _net(layer):
    conf = NeuralNetConfiguration.Builder().seed(7).updater(NoOp()).list().layer(layer).build()
    net = MultiLayerNetwork(conf)
    net.init()
    return net


VAES = {
    "bernoulli": dict(dist=BernoulliReconstructionDistribution(A.SIGMOID), samples=1, enc=(5,), dec=(4,)),
    "gaussian-3-samples": dict(dist=GaussianReconstructionDistribution(A.TANH), samples=3, enc=(5, 4), dec=(4,)),
    "composite-2-layers": dict(dist=composite(), samples=2, enc=(5,), dec=(4, 3)),
    "loss-wrapper": dict(dist=LossFunctionWrapper(A.SIGMOID, LossFunctions.LossFunction.MSE.getILossFunction()),
                         samples=1, enc=(5,), dec=(4,)),
}


@pytest.mark.parametrize("name", list(VAES))
def test_vae_pretraining_writes_every_gradient_element(name):
    cfg = VAES[name]
    layer = (VariationalAutoencoder.Builder().nIn(6).nOut(3).encoderLayerSizes(*cfg["enc"])
             .decoderLayerSizes(*cfg["dec"]).activation(A.TANH).reconstructionDistribution(cfg["dist"])
             .numSamples(cfg["samples"]).build())
    engine = _net(layer).getLayer(0)
    assert engine.pretrain_writes_whole_gradient
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 1.0, (5, 6)).astype(np.float32)
    x[:, 2:4] = x[:, 2:4] > 0.5
    noise = rng.standard_normal((cfg["samples"], 5, 3)).astype(np.float32)
    engine.grad_flat.fill(0.0)
    expected = engine.pretrain_gradient_and_score(x, noise)
    zero_started = engine.grad_flat.copy()
    engine.grad_flat.fill(np.nan)
    assert engine.pretrain_gradient_and_score(x, noise) == expected
    np.testing.assert_array_equal(engine.grad_flat, zero_started)


@pytest.mark.parametrize("opts", [dict(), dict(sparsity=0.1), dict(corruptionLevel=0.3)])
def test_autoencoder_pretraining_writes_every_gradient_element(opts):
    b = AutoEncoder.Builder().nIn(6).nOut(4).activation(A.SIGMOID).lossFunction(LossFunctions.LossFunction.XENT)
    for key, value in opts.items():
        getattr(b, key)(value)
    engine = _net(b.build()).getLayer(0)
    assert engine.pretrain_writes_whole_gradient
    rng = np.random.default_rng(4)
    x = rng.uniform(0.0, 1.0, (5, 6)).astype(np.float32)
    mask = (rng.uniform(size=(5, 6)) > 0.3).astype(np.float32)
    engine.grad_flat.fill(0.0)
    expected = engine.pretrain_gradient_and_score(x, mask)
    zero_started = engine.grad_flat.copy()
    engine.grad_flat.fill(np.nan)
    assert engine.pretrain_gradient_and_score(x, mask) == expected
    np.testing.assert_array_equal(engine.grad_flat, zero_started)
