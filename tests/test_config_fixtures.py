"""Every DL4J-written configuration in ../shared/fixtures/dl4j loads, with the values DL4J itself asserts
(fixtures README, "Regression files and what DL4J asserts about them"), round-trips, and — for the current
format — is re-written byte for byte. The builder chains of DL4J's integration test cases (``MLPTestCases`` and
``UnsupervisedTestCases`` in dl4j-integration-tests), written with dl4py's builders, give exactly the files.

Normalisations needed to compare dl4py's ``toJson()`` with DL4J's files: none. The comparison is done both as
parsed JSON (``json.loads`` on both sides) and as text, after choosing the line separator of the file (the
Windows-written VAE zip uses CRLF). Legacy (pre-1.0.0-beta4) files are not expected to be re-written in their own
format: dl4py writes the current format, which must read back to an equal configuration.
"""
from __future__ import annotations

import json
import math
import zipfile

import pytest

from dl4py import DataType
from dl4py.activations import Activation
from dl4py.activations.impl import (
    ActivationIdentity,
    ActivationLReLU,
    ActivationReLU,
    ActivationSigmoid,
    ActivationSoftmax,
    ActivationTanH,
)
from dl4py.learning.config import Adam, Nesterovs, RmsProp
from dl4py.learning.regularization import L1Regularization, L2Regularization, WeightDecay
from dl4py.lossfunctions import LossFunctions
from dl4py.lossfunctions.impl import LossMCXENT, LossMSE, LossNegativeLogLikelihood
from dl4py.nn.conf import GradientNormalization, MultiLayerConfiguration, NeuralNetConfiguration
from dl4py.nn.conf.distribution import NormalDistribution
from dl4py.nn.conf.dropout import Dropout
from dl4py.nn.conf.inputs import InputType
from dl4py.nn.conf.layers import DenseLayer, OutputLayer
from dl4py.nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder
from dl4py.nn.weights import WeightInit, WeightInitDistribution, WeightInitXavier
from dl4py.schedule import MapSchedule, ScheduleType
from dl4py.serde.json_codec import to_json

pytestmark = pytest.mark.fixtures

INTEGRATION = ["MLPMnist", "MLPMoon", "VAEMnistAnomaly"]
VERSIONS = ["050", "060", "071", "080"]
REGRESSION_ZIPS = [f"regression/{v}/{v}_ModelSerializer_Regression_MLP_{k}.zip" for v in VERSIONS for k in (1, 2)]
VAE_MODEL = "regression/100b6/VaeMNISTAnomaly_100b6.bin"
LEGACY_CONFIG = "configs/VAEMnistAnomaly_2018_legacy.mlc.json"
LRELU_CONFIG = "configs/VAEMnistAnomaly_2020-04-07_lrelu.mlc.json"

#: file -> is it in the current (1.0.0-beta4+) format, so that toJson() must reproduce it
ALL_CONFIGS = {
    **{f"integration/{n}/config.mlc.json": True for n in INTEGRATION},
    **{f"integration/{n}/Model_RANDOM_INIT_UNTRAINED.zip": True for n in INTEGRATION},
    **{z: False for z in REGRESSION_ZIPS},
    VAE_MODEL: True,
    LEGACY_CONFIG: False,
    LRELU_CONFIG: True,
}

#: parameter counts stated in the fixtures README
PARAM_COUNTS = {"MLPMoon": 102, "MLPMnist": 50_890, "VAEMnistAnomaly": 558_928}


def read_config_text(dl4j, relative: str) -> str:
    """The configuration JSON text of a fixture: the file itself, or ``configuration.json`` inside a model zip."""
    path = dl4j(relative)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return z.read("configuration.json").decode("utf-8")
    return path.read_text(encoding="utf-8")


def load(dl4j, relative: str) -> MultiLayerConfiguration:
    return MultiLayerConfiguration.fromJson(read_config_text(dl4j, relative))


# ---------------------------------------------------------------------------------------------------------
# DL4J's builder chains (dl4j-integration-tests: MLPTestCases.getMLPMnist/getMLPMoon,
# UnsupervisedTestCases.getVAEMnistAnomaly), written with dl4py's builders
# ---------------------------------------------------------------------------------------------------------
def mlp_mnist_chain() -> MultiLayerConfiguration:
    schedule = (
        MapSchedule.Builder(ScheduleType.ITERATION)
        .add(0, 5e-2).add(4, 4e-2).add(8, 3e-2).add(12, 2e-2).add(14, 1e-2)
        .build()
    )
    return (
        NeuralNetConfiguration.Builder()
        .dataType(DataType.FLOAT)
        .seed(12345)
        .updater(Adam(schedule))
        .l1(1e-3).l2(1e-3)
        .list()
        .layer(DenseLayer.Builder().activation(Activation.TANH).nOut(64).build())
        .layer(
            OutputLayer.Builder().nOut(10)
            .lossFunction(LossFunctions.LossFunction.MCXENT)
            .activation(Activation.SOFTMAX)
            .build()
        )
        .setInputType(InputType.convolutionalFlat(28, 28, 1))
        .build()
    )


def mlp_moon_chain() -> MultiLayerConfiguration:
    seed, learning_rate, num_inputs, num_outputs, num_hidden = 123, 0.005, 2, 2, 20
    return (
        NeuralNetConfiguration.Builder()
        .dataType(DataType.FLOAT)
        .seed(seed)
        .updater(Nesterovs(learning_rate, 0.9))
        .list()
        .layer(0, DenseLayer.Builder().nIn(num_inputs).nOut(num_hidden)
               .weightInit(WeightInit.XAVIER)
               .activation(Activation.RELU)
               .build())
        .layer(1, OutputLayer.Builder(LossFunctions.LossFunction.NEGATIVELOGLIKELIHOOD)
               .weightInit(WeightInit.XAVIER)
               .activation(Activation.SOFTMAX)
               .nIn(num_hidden).nOut(num_outputs).build())
        .build()
    )


def vae_mnist_anomaly_chain() -> MultiLayerConfiguration:
    return (
        NeuralNetConfiguration.Builder()
        .dataType(DataType.FLOAT)
        .seed(12345)
        .updater(Adam(1e-3))
        .weightInit(WeightInit.XAVIER)
        .l2(1e-4)
        .list()
        .layer(0, VariationalAutoencoder.Builder()
               .activation(Activation.TANH)
               .encoderLayerSizes(256, 256)
               .decoderLayerSizes(256, 256)
               .pzxActivationFunction(Activation.IDENTITY)
               .reconstructionDistribution(BernoulliReconstructionDistribution(Activation.SIGMOID))
               .nIn(28 * 28)
               .nOut(32)
               .build())
        .build()
    )


CHAINS = {"MLPMnist": mlp_mnist_chain, "MLPMoon": mlp_moon_chain, "VAEMnistAnomaly": vae_mnist_anomaly_chain}


@pytest.mark.parametrize("name", INTEGRATION)
def test_builder_chain_gives_the_integration_config(dl4j, name):
    text = read_config_text(dl4j, f"integration/{name}/config.mlc.json")
    built = CHAINS[name]()
    assert built == MultiLayerConfiguration.fromJson(text)
    assert json.loads(built.toJson()) == json.loads(text)
    assert built.toJson() == text  # even byte for byte (Linux line ends, no trailing newline)


@pytest.mark.parametrize("name", INTEGRATION)
def test_builder_chain_matches_the_untrained_model_zip(dl4j, name):
    """The zip's configuration differs from config.mlc.json only by the filled-in ``variables``."""
    from_zip = load(dl4j, f"integration/{name}/Model_RANDOM_INIT_UNTRAINED.zip")
    built = CHAINS[name]()
    for conf in built.confs:
        conf.variables = conf.layer.paramKeys()
    assert built == from_zip


# ---------------------------------------------------------------------------------------------------------
# every configuration loads, round-trips, and current-format files are re-written exactly
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("relative", list(ALL_CONFIGS))
def test_loads_and_round_trips(dl4j, relative):
    conf = load(dl4j, relative)
    assert len(conf.confs) >= 1
    again = MultiLayerConfiguration.fromJson(conf.toJson())
    assert again == conf
    assert again.toJson() == conf.toJson()


@pytest.mark.parametrize("relative", [r for r, current in ALL_CONFIGS.items() if current])
def test_current_format_is_rewritten_exactly(dl4j, relative):
    text = read_config_text(dl4j, relative)
    conf = MultiLayerConfiguration.fromJson(text)
    assert json.loads(conf.toJson()) == json.loads(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    assert to_json(conf, newline) == text


@pytest.mark.parametrize("relative", [r for r in ALL_CONFIGS if r.endswith(".zip") or r.endswith(".bin")])
def test_zip_variables_and_parameter_count(dl4j, relative):
    """``variables`` in a zip lists the parameter keys in dl4py's order; the flat coefficient vector has
    exactly as many values as the configuration's parameters."""
    from dl4py.nd4j import read_array_from_bytes

    path = dl4j(relative)
    with zipfile.ZipFile(path) as z:
        conf = MultiLayerConfiguration.fromJson(z.read("configuration.json"))
        coefficients = read_array_from_bytes(z.read("coefficients.bin"))
    for c in conf.confs:
        assert c.variables == c.layer.paramKeys()
    assert coefficients.size == conf.numParams()
    for name, count in PARAM_COUNTS.items():
        if f"/{name}/" in relative:
            assert conf.numParams() == count
    if "Regression_MLP" in relative:
        assert conf.numParams() == 41


def test_crlf_files_are_present_and_parse(dl4j):
    """Some zips were written on Windows; their CRLF line ends must not matter."""
    crlf = [r for r in ALL_CONFIGS if "\r\n" in read_config_text(dl4j, r)]
    assert "integration/VAEMnistAnomaly/Model_RANDOM_INIT_UNTRAINED.zip" in crlf
    assert all(z in crlf for z in REGRESSION_ZIPS)


# ---------------------------------------------------------------------------------------------------------
# values DL4J's own regression tests assert (RegressionTest050/060/071/080/100b6)
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_regression_mlp_1(dl4j, version):
    conf = load(dl4j, f"regression/{version}/{version}_ModelSerializer_Regression_MLP_1.zip")
    assert len(conf.confs) == 2
    dense, out = conf.confs[0].layer, conf.confs[1].layer
    assert type(dense) is DenseLayer and type(out) is OutputLayer
    assert dense.activation == ActivationReLU()
    assert (dense.n_in, dense.n_out) == (3, 4)
    assert out.activation == ActivationSoftmax()
    assert out.loss_function == LossMCXENT()
    assert (out.n_in, out.n_out) == (4, 5)
    for layer in (dense, out):
        assert layer.weight_init == WeightInitXavier()
        assert layer.updater == Nesterovs(0.15, 0.9)
        assert layer.regularization == [] and layer.regularization_bias == []
        assert layer.drop_out is None
    assert conf.data_type is DataType.FLOAT


@pytest.mark.parametrize("version", VERSIONS)
def test_regression_mlp_2(dl4j, version):
    conf = load(dl4j, f"regression/{version}/{version}_ModelSerializer_Regression_MLP_2.zip")
    assert len(conf.confs) == 2
    dense, out = conf.confs[0].layer, conf.confs[1].layer
    assert type(dense) is DenseLayer and type(out) is OutputLayer
    assert type(dense.activation) is ActivationLReLU and dense.activation.alpha == 0.01
    assert (dense.n_in, dense.n_out) == (3, 4)
    assert out.activation == ActivationIdentity()
    assert out.loss_function == LossMSE()
    assert (out.n_in, out.n_out) == (4, 5)
    for layer in (dense, out):
        assert layer.weight_init == WeightInitDistribution(distribution=NormalDistribution(0.1, 1.2))
        assert layer.updater == RmsProp(0.15, 0.96, 1e-8)
        assert layer.drop_out == Dropout(0.6)
        # the legacy l1 / l2 numbers, mapped as DL4J maps them: l2 becomes WeightDecay without learning rate
        assert layer.regularization == [L1Regularization(0.1), WeightDecay(0.2, apply_lr=False)]
        assert layer.regularization_bias == []
        if version == "050":
            assert layer.gradient_normalization is GradientNormalization.None_
        else:
            assert layer.gradient_normalization is GradientNormalization.ClipElementWiseAbsoluteValue
            assert layer.gradient_normalization_threshold == 1.5


def _assert_mnist_vae(layer, activation, updater, regularization):
    assert type(layer) is VariationalAutoencoder
    assert layer.activation == activation
    assert (layer.n_in, layer.n_out) == (784, 32)
    assert layer.encoder_layer_sizes == [256, 256]
    assert layer.decoder_layer_sizes == [256, 256]
    assert layer.weight_init == WeightInitXavier()
    assert layer.updater == updater
    assert layer.regularization == regularization
    assert layer.pzx_activation_fn == ActivationIdentity()
    assert layer.reconstruction_distribution == BernoulliReconstructionDistribution(ActivationSigmoid())
    assert layer.num_samples == 1


def test_regression_vae_100b6(dl4j):
    conf = load(dl4j, VAE_MODEL)
    assert len(conf.confs) == 1
    _assert_mnist_vae(conf.confs[0].layer, ActivationLReLU(0.01), Adam(1e-3), [L2Regularization(1e-4)])
    assert conf.numParams() == 558_928


def test_legacy_2018_config(dl4j):
    """Pre-1.0.0-beta4 layout: ``l2`` number -> WeightDecay(1e-4, applyLR=false), ``weightInit: XAVIER`` ->
    WeightInitXavier, no ``dataType`` -> FLOAT; ``pretrain``/``backprop``/``l1ByParam`` are ignored."""
    conf = load(dl4j, LEGACY_CONFIG)
    layer = conf.confs[0].layer
    _assert_mnist_vae(layer, ActivationLReLU(0.01), Adam(0.05), [WeightDecay(1e-4, apply_lr=False)])
    assert layer.regularization_bias == []
    assert conf.data_type is DataType.FLOAT
    assert conf.confs[0].seed == 12345


def test_lrelu_2020_config(dl4j):
    conf = load(dl4j, LRELU_CONFIG)
    _assert_mnist_vae(conf.confs[0].layer, ActivationLReLU(0.01), Adam(0.05), [L2Regularization(1e-4)])


def test_integration_values(dl4j):
    moon = load(dl4j, "integration/MLPMoon/config.mlc.json")
    assert [c.seed for c in moon.confs] == [123, 123]
    assert moon.confs[0].layer.activation == ActivationReLU()
    assert moon.confs[1].layer.loss_function == LossNegativeLogLikelihood()
    assert all(c.layer.updater == Nesterovs(0.005, 0.9) for c in moon.confs)
    assert moon.numParams() == 102

    mnist = load(dl4j, "integration/MLPMnist/config.mlc.json")
    updater = mnist.confs[0].layer.updater
    assert type(updater) is Adam and math.isnan(updater.learning_rate)
    assert updater.learning_rate_schedule.values == {0: 0.05, 4: 0.04, 8: 0.03, 12: 0.02, 14: 0.01}
    assert [updater.getLearningRate(i) for i in (0, 3, 4, 13, 14, 100)] == [0.05, 0.05, 0.04, 0.02, 0.01, 0.01]
    assert mnist.confs[0].layer.regularization == [L1Regularization(1e-3), L2Regularization(1e-3)]
    assert (mnist.confs[0].layer.n_in, mnist.confs[1].layer.n_out) == (784, 10)
    assert mnist.numParams() == 50_890

    vae = load(dl4j, "integration/VAEMnistAnomaly/config.mlc.json")
    _assert_mnist_vae(vae.confs[0].layer, ActivationTanH(), Adam(1e-3), [L2Regularization(1e-4)])
    assert vae.confs[0].variables == []  # toJson() before init()


@pytest.mark.parametrize("relative", list(ALL_CONFIGS))
def test_yaml_round_trip_of_fixture(dl4j, relative):
    pytest.importorskip("yaml")
    conf = load(dl4j, relative)
    assert MultiLayerConfiguration.fromYaml(conf.toYaml()) == conf
