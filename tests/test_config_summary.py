"""``conf.summary()`` / ``str(conf)``: a readable table with one row per layer (name, type, nIn,nOut, parameter
count, parameter shapes) and the totals, with DL4J's column names (layers-and-network.md §5.1)."""
from __future__ import annotations

import re

import pytest

from dl4py.activations import Activation
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import MultiLayerConfiguration, NeuralNetConfiguration
from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, LossLayer, OutputLayer
from dl4py.nn.conf.layers.variational import (
    CompositeReconstructionDistribution,
    GaussianReconstructionDistribution,
    BernoulliReconstructionDistribution,
    VariationalAutoencoder,
)
from tests.test_config_fixtures import (
    INTEGRATION,
    PARAM_COUNTS,
    load,
    mlp_mnist_chain,
    mlp_moon_chain,
    vae_mnist_anomaly_chain,
)

LF = LossFunctions.LossFunction


def row(summary: str, index: int, name: str, layer_type: str, sizes: str, params: str) -> re.Match:
    pattern = rf"^{index}\s+{re.escape(name)} \({layer_type}\)\s+{re.escape(sizes)}\s+{re.escape(params)}\s"
    match = re.search(pattern, summary, re.M)
    assert match, f"no row {pattern!r} in\n{summary}"
    return match


def total(summary: str) -> int:
    match = re.search(r"^Total Parameters:\s+([\d,]+)$", summary, re.M)
    assert match, summary
    return int(match.group(1).replace(",", ""))


def test_vae_summary():
    conf = vae_mnist_anomaly_chain()
    text = conf.summary()
    assert str(conf) == text
    for header in ("LayerName (LayerType)", "nIn,nOut", "TotalParams", "ParamsShape",
                   "Total Parameters", "Trainable Parameters", "Frozen Parameters"):
        assert header in text
    row(text, 0, "layer0", "VariationalAutoencoder", "784,32", "558,928")
    assert total(text) == 558_928 == conf.numParams()
    flat = " ".join(text.split())
    for shape in ("e0W:{784,256}", "e1W:{256,256}", "pZXMeanW:{256,32}", "pZXLogStd2b:{1,32}", "d1W:{256,256}",
                  "pXZW:{256,784}", "pXZb:{1,784}"):
        assert shape in flat
    assert re.search(r"^Trainable Parameters:\s+558,928$", text, re.M)
    assert re.search(r"^Frozen Parameters:\s+0$", text, re.M)


def test_mlp_summaries():
    mnist = mlp_mnist_chain().summary()
    row(mnist, 0, "layer0", "DenseLayer", "784,64", "50,240")
    row(mnist, 1, "layer1", "OutputLayer", "64,10", "650")
    assert total(mnist) == 50_890
    assert "W:{784,64}, b:{1,64}" in mnist
    moon = str(mlp_moon_chain())
    row(moon, 0, "layer0", "DenseLayer", "2,20", "60")
    row(moon, 1, "layer1", "OutputLayer", "20,2", "42")
    assert total(moon) == 102


@pytest.mark.fixtures
@pytest.mark.parametrize("name", INTEGRATION)
def test_summary_of_loaded_fixtures(dl4j, name):
    conf = load(dl4j, f"integration/{name}/config.mlc.json")
    assert total(conf.summary()) == PARAM_COUNTS[name] == conf.numParams()


def test_mixed_network_summary():
    composite = (CompositeReconstructionDistribution.Builder()
                 .addDistribution(4, GaussianReconstructionDistribution())
                 .addDistribution(2, BernoulliReconstructionDistribution()).build())
    conf = (NeuralNetConfiguration.Builder().seed(1).list()
            .layer(DenseLayer.Builder().name("input layer").nIn(10).nOut(6).hasLayerNorm(True).build())
            .layer(VariationalAutoencoder.Builder().nOut(3).encoderLayerSizes(5).decoderLayerSizes(5)
                   .reconstructionDistribution(composite).build())
            .layer(AutoEncoder.Builder().nOut(2).build())
            .layer(OutputLayer.Builder(LF.MSE).activation(Activation.IDENTITY).nOut(1).build())
            .layer(LossLayer.Builder(LF.MSE).build())
            .build())
    text = conf.summary()
    dense = 10 * 6 + 6 + 6  # W, b, layer-norm gain g
    vae = (6 * 5 + 5) + 2 * (5 * 3 + 3) + (3 * 5 + 5) + (5 * 10 + 10)  # pXZ: 4 Gaussian (8 columns) + 2 Bernoulli
    ae = 3 * 2 + 2 + 3  # W, b, visible bias vb
    out = 2 * 1 + 1
    row(text, 0, "input layer", "DenseLayer", "10,6", str(dense))
    row(text, 1, "layer1", "VariationalAutoencoder", "6,3", str(vae))
    row(text, 2, "layer2", "AutoEncoder", "3,2", str(ae))
    row(text, 3, "layer3", "OutputLayer", "2,1", str(out))
    assert re.search(r"^4\s+layer4 \(LossLayer\)\s+\S+\s+0\s", text, re.M)
    assert total(text) == dense + vae + ae + out == conf.numParams()
    assert "g:{1,6}" in text and "vb:{1,3}" in text


def test_summary_after_json_round_trip_is_the_same():
    conf = vae_mnist_anomaly_chain()
    assert MultiLayerConfiguration.fromJson(conf.toJson()).summary() == conf.summary()
