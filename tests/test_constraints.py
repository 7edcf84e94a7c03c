"""Parameter constraints: builders, JSON, and their effect after each update."""
from __future__ import annotations

import numpy as np
import pytest

from dl4py.exceptions import DL4JInvalidConfigException
from dl4py.learning.config import Sgd
from dl4py.nn.conf import MultiLayerConfiguration, NeuralNetConfiguration
from dl4py.nn.conf.constraint import MaxNormConstraint, MinMaxNormConstraint, NonNegativeConstraint, UnitNormConstraint
from dl4py.nn.conf.layers import DenseLayer, OutputLayer
from dl4py.nn.multilayer import MultiLayerNetwork


def _net(global_constraints=None, layer_constraints=None):
    b = NeuralNetConfiguration.Builder().seed(3).updater(Sgd(0.5))
    if global_constraints:
        getattr(b, global_constraints[0])(*global_constraints[1])
    dense = DenseLayer.Builder().nIn(6).nOut(5)
    if layer_constraints:
        getattr(dense, layer_constraints[0])(*layer_constraints[1])
    conf = b.list().layer(dense.build()).layer(OutputLayer.Builder().nOut(3).build()).build()
    return MultiLayerNetwork(conf).init()


def _train(net, steps=5):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype(np.float32) * 5
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]
    for _ in range(steps):
        net.fit(x, y)


def test_max_norm_on_layer_weights_holds_after_training():
    net = _net(layer_constraints=("constrainWeights", (MaxNormConstraint(0.5, 1),)))
    _train(net)
    w = net.paramTable()["0_W"]
    assert np.all(np.linalg.norm(w, axis=1) <= 0.5 + 1e-5)
    assert np.linalg.norm(net.paramTable()["1_W"], axis=1).max() > 0.5  # other layer untouched


def test_global_constraints_reach_every_layer_and_round_trip():
    net = _net(global_constraints=("constrainAllParameters", (NonNegativeConstraint(),)))
    conf = net.getLayerWiseConfigurations()
    assert conf.confs[0].layer.constraints[0].params == ["W", "b"]
    assert MultiLayerConfiguration.fromJson(conf.toJson()) == conf
    _train(net)
    assert net.params().min() >= 0.0


def test_unit_norm_and_min_max():
    net = _net(layer_constraints=("constrainWeights", (UnitNormConstraint(1),)))
    _train(net, 2)
    np.testing.assert_allclose(np.linalg.norm(net.paramTable()["0_W"], axis=1), 1.0, rtol=1e-4)
    net = _net(layer_constraints=("constrainWeights", (MinMaxNormConstraint(1.0, 2.0, 1),)))
    _train(net, 2)
    norms = np.linalg.norm(net.paramTable()["0_W"], axis=1)
    assert np.all((norms >= 1.0 - 1e-4) & (norms <= 2.0 + 1e-4))


def test_bad_constraints_are_refused():
    with pytest.raises(DL4JInvalidConfigException, match="rate"):
        MinMaxNormConstraint(1.0, 2.0, 1.5, 1)
    with pytest.raises(DL4JInvalidConfigException, match="maxNorm"):
        MaxNormConstraint(-1.0, 1)
    with pytest.raises(DL4JInvalidConfigException, match="graphBuilder"):
        NeuralNetConfiguration.Builder().graphBuilder()


def test_init_revalidates_a_changed_configuration():
    conf = _net().getLayerWiseConfigurations().clone()
    conf.confs[1].layer.n_in = 7
    with pytest.raises(DL4JInvalidConfigException, match="nIn=7"):
        MultiLayerNetwork(conf).init()
