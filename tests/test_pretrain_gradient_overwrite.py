"""Layers that declare ``pretrain_writes_whole_gradient`` (``backprop_writes_whole_gradient``) really write every
gradient element in pretraining (supervised backprop), so the network can skip zeroing the gradient before each
step."""
from __future__ import annotations

import numpy as np
import pytest

from dl4py.activations import Activation
from dl4py.learning.config import NoOp
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, OutputLayer
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


def _supervised(*layers):
    b = NeuralNetConfiguration.Builder().seed(7).updater(NoOp()).list()
    for layer in layers:
        b.layer(layer)
    net = MultiLayerNetwork(b.build())
    net.init()
    return net


def _dense(n_in, n_out, **opts):
    b = DenseLayer.Builder().nIn(n_in).nOut(n_out).activation(A.TANH)
    for key, value in opts.items():
        getattr(b, key)(value)
    return b.build()


def _output(n_in, **opts):
    b = OutputLayer.Builder().nIn(n_in).nOut(3).activation(A.SOFTMAX).lossFunction(LossFunctions.LossFunction.MCXENT)
    for key, value in opts.items():
        getattr(b, key)(value)
    return b.build()


SUPERVISED = {
    "dense-output": lambda: (_dense(6, 5), _output(5)),
    "dense-dropout-no-bias": lambda: (_dense(6, 5, dropOut=0.7), _dense(5, 4, hasBias=False),
                                      _output(4, hasBias=False)),
    "autoencoder-output": lambda: (AutoEncoder.Builder().nIn(6).nOut(5).activation(A.SIGMOID).build(), _output(5)),
    "vae-output": lambda: (VariationalAutoencoder.Builder().nIn(6).nOut(3).encoderLayerSizes(5).decoderLayerSizes(4)
                           .reconstructionDistribution(BernoulliReconstructionDistribution(A.SIGMOID)).build(),
                           _output(3)),
}


@pytest.mark.parametrize("name", list(SUPERVISED))
def test_supervised_gradient_does_not_depend_on_what_the_buffer_held(name):
    """Where every layer declares ``backprop_writes_whole_gradient`` the network skips zeroing the gradient; the
    gradient must then come out the same from a buffer full of NaN (a VAE, whose pretrain-only slots backprop
    does not write, keeps the zeroing: they read 0)."""
    net = _supervised(*SUPERVISED[name]())
    rng = np.random.default_rng(5)
    x = rng.uniform(0.0, 1.0, (4, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 2, 1, 2]]
    net.gradient().fill(0.0)
    net.rng = np.random.default_rng(11)  # the same dropout masks in both evaluations
    score, zero_started = net.computeGradientAndScore(x, y)
    net.gradient().fill(np.nan)
    net.rng = np.random.default_rng(11)
    again, from_nan = net.computeGradientAndScore(x, y)
    assert again == score
    np.testing.assert_array_equal(from_nan, zero_started)
    whole = all(l.backprop_writes_whole_gradient or l.num_params == 0 for l in net.layers)
    assert whole == (name != "vae-output")
