"""DL4J JSON (and YAML) reading and writing: errors name the path inside the document; ``@class`` names resolve
only through the allow-list registry and nothing is ever imported by name; user classes can be registered;
legacy layers and fields; Jackson's formatting; and a hypothesis round trip of random valid configurations."""
from __future__ import annotations

import builtins
import copy
import importlib
import json
import math
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dl4py import DataType
from dl4py.activations import Activation, ActivationLike, IActivation
from dl4py.activations import impl as acts
from dl4py.config.base import option
from dl4py.exceptions import DL4JInvalidConfigException, InvalidJsonException, UnknownClassException
from dl4py.learning import config as updaters
from dl4py.learning.regularization import L1Regularization, L2Regularization, WeightDecay
from dl4py.lossfunctions import LossFunctions
from dl4py.lossfunctions import impl as losses
from dl4py.nn.conf import (
    GradientNormalization,
    MultiLayerConfiguration,
    NeuralNetConfiguration,
    OptimizationAlgorithm,
)
from dl4py.nn.conf import distribution as dists
from dl4py.nn.conf.dropout import Dropout
from dl4py.nn.conf.inputs import InputType
from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, OutputLayer
from dl4py.nn.conf.layers.variational import (
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    ReconstructionDistribution,
    VariationalAutoencoder,
)
from dl4py.nn.conf.weightnoise import DropConnect, WeightNoise
from dl4py.nn import weights as wi
from dl4py.schedule import (
    ExponentialSchedule,
    FixedSchedule,
    InverseSchedule,
    MapSchedule,
    PolySchedule,
    ScheduleType,
    SigmoidSchedule,
    StepSchedule,
)
from dl4py.serde.jackson import java_double
from dl4py.serde.registry import register_class

from tests.test_config_fixtures import ALL_CONFIGS, load

LF = LossFunctions.LossFunction
Global = NeuralNetConfiguration.Builder


def small_vae_net() -> MultiLayerConfiguration:
    return (Global().seed(42).updater(updaters.Adam(1e-3)).l2(1e-4).list()
            .layer(VariationalAutoencoder.Builder().nIn(10).nOut(2).encoderLayerSizes(8, 6).decoderLayerSizes(6)
                   .activation(Activation.LEAKYRELU)
                   .reconstructionDistribution(BernoulliReconstructionDistribution()).build())
            .build())


def doc() -> dict:
    return json.loads(small_vae_net().toJson())


def from_doc(data: Any) -> MultiLayerConfiguration:
    return MultiLayerConfiguration.fromJson(json.dumps(data))


# ---------------------------------------------------------------------------------------------------------
# malformed documents: the error names the path inside the document
# ---------------------------------------------------------------------------------------------------------
def test_string_in_int_list_names_its_path():
    d = doc()
    d["confs"][0]["layer"]["encoderLayerSizes"][1] = "256"
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer\.encoderLayerSizes\[1\]: expected an integer"):
        from_doc(d)


@pytest.mark.parametrize("edit, where", [
    (lambda d: d["confs"][0]["layer"].update(nin="784"), r"confs\[0\]\.layer\.nin"),
    (lambda d: d["confs"][0]["layer"].update(nin=7.5), r"confs\[0\]\.layer\.nin"),
    (lambda d: d["confs"][0]["layer"].update(nin=True), r"confs\[0\]\.layer\.nin"),
    (lambda d: d["confs"][0].update(seed="42"), r"confs\[0\]\.seed"),
    (lambda d: d["confs"][0]["layer"].update(biasInit="zero"), r"confs\[0\]\.layer\.biasInit"),
    (lambda d: d["confs"][0]["layer"].update(encoderLayerSizes=5), r"confs\[0\]\.layer\.encoderLayerSizes: expected an array"),
    (lambda d: d["confs"][0]["layer"]["iupdater"].update(beta1=[0.9]), r"confs\[0\]\.layer\.iupdater\.beta1"),
    (lambda d: d["confs"][0]["layer"]["regularization"][0]["l2"].update(value={}), r"confs\[0\]\.layer\.regularization\[0\]\.l2\.value"),
    (lambda d: d["confs"][0]["layer"]["outputDistribution"].update(activationFn=3), r"confs\[0\]\.layer\.outputDistribution\.activationFn"),
    (lambda d: d["confs"][0]["layer"].update(hasBias="yes") or d["confs"][0]["layer"].update(numSamples=None), r"confs\[0\]\.layer"),
    (lambda d: d.update(confs=5), r"confs: expected an array"),
    (lambda d: d.update(confs=[5]), r"confs\[0\]: expected an object"),
    (lambda d: d["confs"][0].update(layer=[]), r"confs\[0\]\.layer: expected an object"),
    (lambda d: d.update(inputPreProcessors=[]), r"inputPreProcessors: expected an object"),
    (lambda d: d.update(tbpttFwdLength="20"), r"tbpttFwdLength"),
    (lambda d: d.update(validateOutputLayerConfig="true"), r"validateOutputLayerConfig: expected true or false"),
    (lambda d: d.update(backpropType="Sideways"), r"backpropType.*Standard"),
])
def test_wrong_types_name_their_path(edit, where):
    d = doc()
    edit(d)
    with pytest.raises(InvalidJsonException, match=where):
        from_doc(d)


def test_numbers_out_of_range():
    d = doc()
    d["confs"][0]["layer"]["biasInit"] = 10**400  # a JSON integer too large for a double
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer\.biasInit: number out of the range"):
        from_doc(d)
    d = doc()
    d["confs"][0]["seed"] = 2**63  # seeds are Java longs
    with pytest.raises(InvalidJsonException, match=r"confs\[0\].*seed.*9223372036854775807"):
        from_doc(d)
    d["confs"][0]["seed"] = -(2**63)
    assert from_doc(d).confs[0].seed == -(2**63)
    text = small_vae_net().toJson().replace('"biasInit" : 0.0', '"biasInit" : 1e400')
    with pytest.raises(InvalidJsonException, match=r"biasInit.*finite"):
        MultiLayerConfiguration.fromJson(text)


@pytest.mark.parametrize("text", ["[]", "3", '"confs"', "null", "true"])
def test_wrong_type_at_top_level(text):
    with pytest.raises(InvalidJsonException, match="MultiLayerConfiguration: expected a JSON object"):
        MultiLayerConfiguration.fromJson(text)


def test_missing_keys():
    d = doc()
    del d["confs"]
    with pytest.raises(InvalidJsonException, match="missing required key 'confs'"):
        from_doc(d)
    d = doc()
    del d["confs"][0]["layer"]
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer: missing required key 'layer'"):
        from_doc(d)
    d = doc()
    del d["confs"][0]["layer"]["@class"]
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer: missing the type property '@class'"):
        from_doc(d)
    d = doc()
    d["confs"] = []
    with pytest.raises(InvalidJsonException, match="no layers defined"):
        from_doc(d)


@pytest.mark.parametrize("text", ['{"confs": [', '{"confs": [}', "{'confs': []}", "", "\x00", '{"a": 1,}', "NaN x"])
def test_bad_json_text(text):
    with pytest.raises(InvalidJsonException, match="MultiLayerConfiguration: malformed JSON"):
        MultiLayerConfiguration.fromJson(text)


def test_not_utf8():
    with pytest.raises(InvalidJsonException, match="not UTF-8"):
        MultiLayerConfiguration.fromJson(b"\xff\xfe{}")


def test_duplicated_keys():
    text = small_vae_net().toJson().replace('"numSamples" : 1,', '"numSamples" : 1,\n "numSamples" : 2,')
    with pytest.raises(InvalidJsonException, match="duplicated key 'numSamples'"):
        MultiLayerConfiguration.fromJson(text)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000,
                                  '{"confs": ' + "[" * 70 + "]" * 70 + "}"])
def test_deep_nesting(text):
    with pytest.raises(InvalidJsonException, match="nested"):
        MultiLayerConfiguration.fromJson(text)


def test_json_errors_are_the_dl4py_family():
    assert issubclass(InvalidJsonException, ValueError)
    assert issubclass(UnknownClassException, InvalidJsonException)


# ---------------------------------------------------------------------------------------------------------
# @class names: allow-list only, nothing imported
# ---------------------------------------------------------------------------------------------------------
BAD_CLASS_NAMES = [
    "org.deeplearning4j.nn.conf.layers.NoSuchLayer",
    "os.system",
    "builtins.eval",
    "subprocess.Popen",
    "dl4py.nn.conf.layers.DenseLayer",  # a dl4py class, but not under a registered (DL4J) name
    "dl4py.nn.conf.layers.BaseLayer",  # an internal base class, never registered
    "dl4py.config.base.Dl4jConfig",
    "DenseLayer",
    "",
]


@pytest.fixture
def no_imports(monkeypatch):
    """Record every import made while parsing; importlib.import_module must not be used at all."""
    calls: list[str] = []
    real_import = builtins.__import__

    def tracking_import(name, globals=None, locals=None, fromlist=(), level=0):
        calls.append(name if level == 0 else "." * level + name)
        return real_import(name, globals, locals, fromlist, level)

    def forbidden_import_module(name, package=None):
        raise AssertionError(f"importlib.import_module({name!r}) called while parsing")

    monkeypatch.setattr(builtins, "__import__", tracking_import)
    monkeypatch.setattr(importlib, "import_module", forbidden_import_module)
    return calls


def _assert_not_imported(calls: list[str], java_name: str) -> None:
    assert calls, "the import hook saw no import at all: the check would prove nothing"
    parts = java_name.split(".")
    if parts[0] == "dl4py":  # dl4py's own modules may be imported lazily; the named object never is
        suspicious = {java_name}
    else:
        suspicious = {".".join(parts[:i]) for i in range(1, len(parts) + 1)} - {""}
    assert not suspicious & set(calls), f"imported {suspicious & set(calls)} while parsing {java_name!r}"
    assert not {"os", "subprocess", "builtins"} & set(calls)


@pytest.mark.parametrize("name", BAD_CLASS_NAMES)
@pytest.mark.parametrize("where", ["layer", "activation", "distribution", "updater", "regularization"])
def test_unknown_classes_are_refused_without_importing(no_imports, name, where):
    d = doc()
    layer = d["confs"][0]["layer"]
    target = {"layer": layer, "activation": layer["activationFn"], "distribution": layer["outputDistribution"],
              "updater": layer["iupdater"], "regularization": layer["regularization"][0]}[where]
    target["@class"] = name
    with pytest.raises(UnknownClassException, match="unknown class|not allowed here") as info:
        from_doc(d)
    assert repr(name) in str(info.value)
    assert "confs[0].layer" in str(info.value)
    _assert_not_imported(no_imports, name)


def test_weight_init_distribution_type_name_is_refused_without_importing(no_imports):
    d = doc()
    d["confs"][0]["layer"]["weightInitFn"] = {
        "@class": "org.deeplearning4j.nn.weights.WeightInitDistribution",
        "distribution": {"type": "os.system", "mean": 0.0},
    }
    with pytest.raises(UnknownClassException, match=r"confs\[0\]\.layer\.weightInitFn\.distribution\.type"):
        from_doc(d)
    _assert_not_imported(no_imports, "os.system")


def test_class_of_the_wrong_kind_is_refused():
    d = doc()
    d["confs"][0]["layer"]["activationFn"]["@class"] = "org.deeplearning4j.nn.conf.layers.DenseLayer"
    with pytest.raises(UnknownClassException, match=r"activationFn.*not allowed here \(expected a IActivation\)"):
        from_doc(d)
    d = doc()
    d["confs"][0]["layer"]["@class"] = "org.nd4j.linalg.activations.impl.ActivationTanH"
    with pytest.raises(UnknownClassException, match="expected a Layer"):
        from_doc(d)


def test_class_name_must_be_a_string():
    d = doc()
    d["confs"][0]["layer"]["activationFn"]["@class"] = {"module": "os"}
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer\.activationFn"):
        from_doc(d)


# ---------------------------------------------------------------------------------------------------------
# user classes registered by name
# ---------------------------------------------------------------------------------------------------------
class ScaledSigmoid(IActivation):
    """A user's activation: sigmoid(k·x); values in (0, 1), so Bernoulli accepts it."""

    output_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    k: float = option(2.0)


class LaplaceReconstruction(ReconstructionDistribution):
    """A user's distribution: location and log-scale per data column."""

    activation_fn: ActivationLike = option(default_factory=acts.ActivationIdentity)
    min_scale: float = option(1e-3)

    def distributionInputSize(self, data_size: int) -> int:
        return 2 * data_size


register_class("com.example.dl4py.ScaledSigmoid", ScaledSigmoid)
register_class("com.example.dl4py.LaplaceReconstruction", LaplaceReconstruction)


def test_registered_user_classes_round_trip():
    net = (Global().seed(1).activation(ScaledSigmoid(k=3.0)).list()
           .layer(VariationalAutoencoder.Builder().nIn(6).nOut(2)
                  .reconstructionDistribution(CompositeReconstructionDistribution.Builder()
                                              .addDistribution(4, LaplaceReconstruction(activation_fn=ScaledSigmoid(),
                                                                                        min_scale=0.5))
                                              .addDistribution(2, BernoulliReconstructionDistribution(ScaledSigmoid(k=1.5)))
                                              .build())
                  .build())
           .build())
    text = net.toJson()
    assert '"@class" : "com.example.dl4py.ScaledSigmoid"' in text
    assert '"@class" : "com.example.dl4py.LaplaceReconstruction"' in text
    again = MultiLayerConfiguration.fromJson(text)
    assert again == net
    layer = again.confs[0].layer
    assert layer.activation == ScaledSigmoid(k=3.0)
    assert layer.paramShapes()["pXZW"] == (100, 4 * 2 + 2)
    assert MultiLayerConfiguration.fromYaml(net.toYaml()) == net


def test_unregistered_subclasses_cannot_be_written():
    class Unregistered(acts.ActivationSigmoid):  # would otherwise be written as ActivationSigmoid
        pass

    layer = DenseLayer(n_in=2, n_out=2, activation=Unregistered())
    with pytest.raises(DL4JInvalidConfigException, match="not registered.*register_class"):
        layer.toJson()


def test_registration_rules():
    with pytest.raises(DL4JInvalidConfigException, match="already registered"):
        register_class("org.nd4j.linalg.activations.impl.ActivationTanH", ScaledSigmoid)
    with pytest.raises(DL4JInvalidConfigException, match="not a dl4py configuration class"):
        register_class("com.example.NotAConfig", dict)  # type: ignore[arg-type]
    assert register_class("com.example.dl4py.ScaledSigmoid", ScaledSigmoid) is ScaledSigmoid  # idempotent


# ---------------------------------------------------------------------------------------------------------
# legacy documents
# ---------------------------------------------------------------------------------------------------------
def test_rbm_wrapper_layer_is_rejected():
    d = doc()
    d["confs"][0]["layer"] = {"RBM": {"nin": 784, "nout": 500, "hiddenUnit": "BINARY", "visibleUnit": "BINARY"}}
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer: the RBM layer was removed from DL4J in 0\.9"):
        from_doc(d)


def test_rbm_class_is_rejected():
    d = doc()
    d["confs"][0]["layer"]["@class"] = "org.deeplearning4j.nn.conf.layers.RBM"
    with pytest.raises(UnknownClassException, match=r"RBM layer was removed from DL4J in 0\.9"):
        from_doc(d)


LEGACY_080_DENSE = {
    "dense": {
        "activationFn": {"LReLU": {"alpha": 0.01}},
        "adamMeanDecay": "NaN", "adamVarDecay": "NaN",
        "biasInit": 0.0, "biasLearningRate": 0.1,
        "dist": {"normal": {"mean": 0.0, "std": 1.0}},
        "dropOut": 0.5, "epsilon": "NaN",
        "gradientNormalization": "None", "gradientNormalizationThreshold": 1.0,
        "l1": 0.0, "l1Bias": 0.0, "l2": 0.001, "l2Bias": 0.0,
        "layerName": "layer0", "learningRate": 0.1, "learningRateSchedule": None,
        "momentum": 0.9, "momentumSchedule": None,
        "nin": 3, "nout": 4, "rho": "NaN", "rmsDecay": "NaN",
        "updater": "NESTEROVS", "weightInit": "DISTRIBUTION",
    }
}


def _legacy_doc(layer: dict, **conf: Any) -> dict:
    return {"backprop": True, "pretrain": False, "backpropType": "Standard",
            "confs": [{"layer": layer, "seed": 7, "l1ByParam": {}, "useDropConnect": False, **conf}]}


def test_legacy_080_wrapper_layer():
    """json-format.md §9: the 0.8.0 wrapper-style dense layer and what it loads as."""
    net = from_doc(_legacy_doc(LEGACY_080_DENSE))
    layer = net.confs[0].layer
    assert type(layer) is DenseLayer
    assert layer.activation == acts.ActivationLReLU(0.01)
    assert layer.weight_init == wi.WeightInitDistribution(distribution=dists.NormalDistribution(0.0, 1.0))
    assert layer.updater == updaters.Nesterovs(0.1, 0.9)
    assert layer.drop_out == Dropout(0.5)
    assert layer.regularization == [WeightDecay(0.001, apply_lr=False)]
    assert layer.regularization_bias == []
    assert net.data_type is DataType.FLOAT
    assert MultiLayerConfiguration.fromJson(net.toJson()) == net


def test_legacy_drop_connect_and_updater_enum_fields():
    layer = copy.deepcopy(LEGACY_080_DENSE)
    layer["dense"].update(updater="ADAM", learningRate=0.01, adamMeanDecay=0.8, adamVarDecay=0.99, epsilon="NaN",
                          l1Bias=0.2, l2Bias=0.3)
    net = from_doc(_legacy_doc(layer, useDropConnect=True))
    dense = net.confs[0].layer
    assert dense.updater == updaters.Adam(0.01, 0.8, 0.99, 1e-8)  # NaN epsilon keeps the class default
    assert dense.drop_out is None and dense.weight_noise == DropConnect(0.5)
    assert dense.regularization_bias == [L1Regularization(0.2), WeightDecay(0.3, apply_lr=False)]


def test_legacy_iupdater_with_numeric_dropout_keeps_no_dropout():
    """0.9.x files with an ``iupdater`` object and a numeric ``dropOut``: DL4J keeps no dropout (a gap in its
    legacy handling); dl4py maps as DL4J does."""
    layer = copy.deepcopy(LEGACY_080_DENSE)
    layer["dense"]["iupdater"] = {"@class": "org.nd4j.linalg.learning.config.Sgd", "learningRate": 0.1}
    net = from_doc(_legacy_doc(layer))
    assert net.confs[0].layer.drop_out is None
    assert net.confs[0].layer.updater == updaters.Sgd(0.1)


def test_legacy_wrapper_vae_with_wrapper_distribution_and_activation_strings():
    """Wrapper names of the autoencoder family (``VariationalAutoencoder``, ``Bernoulli``, ``Composite``...) and
    0.7.x VAE fields: ``pzxActivationFunction`` string, no ``numSamples`` (dl4py: 1)."""
    vae = {
        "VariationalAutoencoder": {
            "activationFunction": "tanh",
            "pzxActivationFunction": "identity",
            "encoderLayerSizes": [8], "decoderLayerSizes": [8],
            "nin": 5, "nout": 2,
            "outputDistribution": {"Composite": {
                "distributionSizes": [3, 2],
                "reconstructionDistributions": [
                    {"Bernoulli": {"activationFn": {"Sigmoid": {}}}},
                    {"LossWrapper": {"activationFn": {"TanH": {}}, "lossFunction": {"MSE": {}}}},
                ],
                "totalSize": 5,
            }},
            "updater": "SGD", "learningRate": 0.05, "weightInit": "XAVIER", "l2": 0.01,
        }
    }
    layer = from_doc(_legacy_doc(vae)).confs[0].layer
    assert type(layer) is VariationalAutoencoder
    assert layer.activation == acts.ActivationTanH() and layer.pzx_activation_fn == acts.ActivationIdentity()
    assert layer.num_samples == 1
    assert layer.reconstruction_distribution == CompositeReconstructionDistribution(
        distribution_sizes=[3, 2],
        reconstruction_distributions=[BernoulliReconstructionDistribution(),
                                      LossFunctionWrapper(acts.ActivationTanH(), losses.LossMSE())])
    assert layer.updater == updaters.Sgd(0.05) and layer.weight_init == wi.WeightInitXavier()
    assert layer.regularization == [WeightDecay(0.01, apply_lr=False)]
    ae = from_doc(_legacy_doc({"autoEncoder": {"nin": 4, "nout": 2, "corruptionLevel": 0.1, "updater": "NONE"}}))
    assert type(ae.confs[0].layer) is AutoEncoder and ae.confs[0].layer.updater == updaters.NoOp()


def test_legacy_nan_hyper_parameters_keep_class_defaults():
    """Deliberate difference: DL4J copies a legacy ``"rho" : "NaN"`` into AdaDelta (a broken updater); dl4py
    keeps the class default for NaN legacy numbers, as DL4J itself does for the other hyper-parameters."""
    layer = copy.deepcopy(LEGACY_080_DENSE)
    layer["dense"].update(updater="ADADELTA", rho="NaN", epsilon="NaN")
    assert from_doc(_legacy_doc(layer)).confs[0].layer.updater == updaters.AdaDelta(0.95, 1e-6)
    layer["dense"].update(rho=0.9, epsilon=1e-5)
    assert from_doc(_legacy_doc(layer)).confs[0].layer.updater == updaters.AdaDelta(0.9, 1e-5)


def test_legacy_output_layer_loss_enum():
    out = {"output": {"activationFunction": "softmax", "lossFunction": "NEGATIVELOGLIKELIHOOD", "nin": 4, "nout": 3,
                      "updater": "SGD", "weightInit": "XAVIER"}}
    layer = from_doc(_legacy_doc(out)).confs[0].layer
    assert layer.loss_function == losses.LossNegativeLogLikelihood()
    assert layer.activation == acts.ActivationSoftmax()


def test_legacy_softplus_spellings():
    for name in ("SoftPlus", "Softplus"):
        layer = copy.deepcopy(LEGACY_080_DENSE)
        layer["dense"]["activationFn"] = {name: {}}
        assert from_doc(_legacy_doc(layer)).confs[0].layer.activation == acts.ActivationSoftPlus()


def test_nan_strings_parse_to_nan():
    net = (Global().seed(1).updater(updaters.Adam(MapSchedule(ScheduleType.ITERATION, {0: 0.1, 10: 0.01}))).list()
           .layer(DenseLayer(n_in=2, n_out=2)).build())
    text = net.toJson()
    assert '"learningRate" : "NaN"' in text
    again = MultiLayerConfiguration.fromJson(text)
    assert math.isnan(again.confs[0].layer.updater.learning_rate)
    assert again == net  # NaN-aware equality
    d = json.loads(text)
    d["confs"][0]["layer"]["gainInit"] = "NaN"
    assert math.isnan(from_doc(d).confs[0].layer.gain_init)
    d["confs"][0]["layer"]["gainInit"] = "Infinity"
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer.*gainInit.*finite"):
        from_doc(d)


def test_strings_that_look_like_numbers_stay_strings():
    """Only numeric fields turn "NaN"/"Infinity" into floats: a layer may be called "NaN"."""
    for name in ("NaN", "Infinity", "-Infinity", "1.0E-4"):
        net = Global().seed(1).list().layer(DenseLayer.Builder().name(name).nIn(2).nOut(2).build()).build()
        again = MultiLayerConfiguration.fromJson(net.toJson())
        assert again.confs[0].layer.layer_name == name
        assert MultiLayerConfiguration.fromYaml(net.toYaml()).confs[0].layer.layer_name == name
    d = doc()
    d["confs"][0]["layer"]["layerName"] = 5
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer\.layerName: expected a string"):
        from_doc(d)


def test_loss_weights_in_nd4j_array_form():
    """Per-output loss weights are written as ND4J's serialised array and read back from that form."""
    layer = OutputLayer.Builder(losses.LossMSE(weights=[0.5, 2.0])).activation(Activation.IDENTITY).nIn(3).nOut(2).build()
    net = Global().seed(1).list().layer(layer).build()
    text = net.toJson()
    assert ('"weights" : {\n          "dataType" : "FLOAT",\n          "shape" : [ 1, 2 ],\n'
            '          "data" : [ 0.5, 2.0 ]\n        }') in text
    assert MultiLayerConfiguration.fromJson(text) == net
    d = json.loads(text)
    d["confs"][0]["layer"]["lossFn"]["weights"] = {"dataType": "FLOAT", "shape": [1, 2]}
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer\.lossFn\.weights"):
        from_doc(d)


# ---------------------------------------------------------------------------------------------------------
# YAML, single-layer confs
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.fixtures
@pytest.mark.parametrize("relative", list(ALL_CONFIGS))
def test_yaml_round_trip_of_fixture(dl4j, relative):
    pytest.importorskip("yaml")
    conf = load(dl4j, relative)
    text = conf.toYaml()
    assert MultiLayerConfiguration.fromYaml(text) == conf
    assert "@class" in text and "confs" in text


def test_yaml_errors():
    pytest.importorskip("yaml")
    with pytest.raises(InvalidJsonException, match="malformed YAML"):
        MultiLayerConfiguration.fromYaml("confs: [\n")
    with pytest.raises(InvalidJsonException, match="expected a JSON object"):
        MultiLayerConfiguration.fromYaml("- 1\n- 2\n")
    with pytest.raises(InvalidJsonException, match=r"confs\[0\]\.layer\.nin"):
        MultiLayerConfiguration.fromYaml(small_vae_net().toYaml().replace("nin: 10", "nin: ten"))


def test_neural_net_configuration_json():
    conf = small_vae_net().confs[0]
    text = conf.toJson()
    assert text.startswith('{\n  "cacheMode" : "NONE",')  # a plain object: no type property
    assert NeuralNetConfiguration.fromJson(text) == conf
    assert NeuralNetConfiguration.from_json(conf.to_json()) == conf
    single = Global().seed(5).layer(DenseLayer(n_in=3, n_out=2)).build()
    assert NeuralNetConfiguration.fromJson(single.toJson()) == single
    with pytest.raises(InvalidJsonException, match="expected a JSON object"):
        NeuralNetConfiguration.fromJson("[]")
    with pytest.raises(InvalidJsonException, match="layer: missing required key 'layer'"):
        NeuralNetConfiguration.fromJson('{"seed": 1}')


# ---------------------------------------------------------------------------------------------------------
# Jackson's formatting (json-format.md §1)
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, text", [
    (0.0, "0.0"), (-0.0, "-0.0"), (1.0, "1.0"), (0.001, "0.001"), (1e-4, "1.0E-4"), (1e-8, "1.0E-8"),
    (0.30000001192092896, "0.30000001192092896"), (1e7, "1.0E7"), (9999999.0, "9999999.0"),
    (123456789.0, "1.23456789E8"), (-2.5e-5, "-2.5E-5"), (0.95, "0.95"), (100.0, "100.0"), (1e-10, "1.0E-10"),
    (1.7976931348623157e308, "1.7976931348623157E308"), (12345.678, "12345.678"),
    (math.nan, '"NaN"'), (math.inf, '"Infinity"'), (-math.inf, '"-Infinity"'),
])
def test_java_double_spelling(value, text):
    assert java_double(value) == text


def test_jackson_layout():
    text = small_vae_net().toJson()
    lines = text.split("\n")
    assert lines[0] == "{" and lines[-1] == "}" and not text.endswith("\n")
    assert '  "backpropType" : "Standard",' in lines
    assert '"decoderLayerSizes" : [ 6 ],' in text and '"encoderLayerSizes" : [ 8, 6 ],' in text
    assert '"regularizationBias" : [ ],' in text
    assert '"inputPreProcessors" : { },' in text
    assert '"variables" : [ ]' in text
    assert '"biasUpdater" : null,' in text  # layers write nulls...
    assert '"learningRateSchedule"' not in text  # ... updaters omit them
    assert '"confs" : [ {' in text and "  } ],\n" in text
    assert "\t" not in text and "\r" not in text


def _check_key_order(node: Any) -> None:
    """Keys sorted alphabetically at every level, the type property ("@class", or "type" for distributions)
    first; the serialised INDArray of loss weights keeps ND4J's own order."""
    if isinstance(node, dict):
        keys = list(node)
        if keys[:3] == ["dataType", "shape", "data"]:
            return
        if keys and all(k.isdigit() for k in keys):  # a map (MapSchedule values, inputPreProcessors): key order
            assert keys == sorted(keys, key=int), keys
            return
        rest = keys[1:] if keys and keys[0] in ("@class", "type") else keys
        assert rest == sorted(rest), keys
        assert "@class" not in rest
        for v in node.values():
            _check_key_order(v)
    elif isinstance(node, list):
        for v in node:
            _check_key_order(v)


def test_keys_sorted_with_type_property_first():
    net = (Global().seed(1).weightInit(dists.UniformDistribution(-0.5, 0.5))
           .updater(updaters.Adam(MapSchedule(ScheduleType.ITERATION, {12: 0.01, 0: 0.1, 4: 0.05}))).list()
           .layer(AutoEncoder(n_in=4, n_out=3))
           .layer(VariationalAutoencoder.Builder().nOut(2).lossFunction(Activation.TANH, LF.MSE).build())
           .layer(OutputLayer.Builder(losses.LossMSE(weights=[1.0, 2.0])).activation(Activation.IDENTITY).nOut(2).build())
           .build())
    _check_key_order(json.loads(net.toJson()))
    text = net.toJson()
    assert ('"distribution" : {\n          "type" : "org.deeplearning4j.nn.conf.distribution.UniformDistribution",\n'
            '          "lower" : -0.5,\n          "upper" : 0.5\n        }') in text
    assert '"layer" : {\n      "@class" : "org.deeplearning4j.nn.conf.layers.AutoEncoder",\n      "activationFn"' in text
    assert '"corruptionLevel" : 0.30000001192092896,' in text
    assert '"values" : {\n            "0" : 0.1,\n            "4" : 0.05,\n            "12" : 0.01\n' in text


def test_nan_and_infinity_written_as_strings():
    text = DenseLayer(n_in=2, n_out=2).toJson()  # unset biasInit / gainInit are NaN until a network fills them
    assert '"biasInit" : "NaN"' in text and '"gainInit" : "NaN"' in text
    text = small_vae_net().toJson()
    assert "NaN" not in text


# ---------------------------------------------------------------------------------------------------------
# hypothesis: random valid configurations round-trip through JSON and YAML
# ---------------------------------------------------------------------------------------------------------
def floats(lo: float, hi: float, **kw: Any) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, **kw)


def make(cls, **fields: st.SearchStrategy) -> st.SearchStrategy:
    """``cls(**drawn fields)`` (st.builds would also invent values for the pydantic aliases)."""
    return st.fixed_dictionaries(fields).map(lambda kwargs: cls(**kwargs))


non_negative = floats(0.0, 10.0)
unit = floats(0.0, 1.0, exclude_max=True)
schedule_type = st.sampled_from(list(ScheduleType))

PARAMETER_FREE = [acts.ActivationCube, acts.ActivationHardSigmoid, acts.ActivationHardTanH, acts.ActivationIdentity,
                  acts.ActivationRationalTanh, acts.ActivationRectifiedTanh, acts.ActivationReLU6, acts.ActivationSELU,
                  acts.ActivationSigmoid, acts.ActivationSoftmax, acts.ActivationSoftPlus, acts.ActivationSoftSign,
                  acts.ActivationSwish, acts.ActivationTanH, acts.ActivationMish]


@st.composite
def rrelu(draw):
    a, b = sorted([draw(floats(0.0, 1.0)), draw(floats(0.0, 1.0))])
    return acts.ActivationRReLU(l=a, u=b)


activations = st.one_of(
    st.sampled_from(list(Activation)).map(lambda a: a.getActivationFunction()),
    st.sampled_from(PARAMETER_FREE).map(lambda cls: cls()),
    make(acts.ActivationLReLU, alpha=floats(-1.0, 1.0)),
    make(acts.ActivationELU, alpha=floats(0.0, 5.0)),
    make(acts.ActivationReLU, max=st.none() | floats(0.1, 10.0), threshold=st.none() | floats(-1.0, 1.0),
              negative_slope=st.none() | floats(0.0, 1.0)),
    rrelu(),
    make(acts.ActivationThresholdedReLU, theta=floats(-2.0, 2.0)),
    make(acts.ActivationGELU, precise=st.booleans()),
)
probability_activations = st.sampled_from([acts.ActivationSigmoid, acts.ActivationHardSigmoid]).map(lambda c: c())


@st.composite
def uniform(draw):
    lo = draw(floats(-5.0, 5.0))
    return dists.UniformDistribution(lo, lo + draw(floats(0.01, 5.0)))


distributions = st.one_of(
    make(dists.NormalDistribution, mean=floats(-2.0, 2.0), std=floats(0.0, 3.0)),
    make(dists.GaussianDistribution, mean=floats(-2.0, 2.0), std=floats(0.0, 3.0)),
    make(dists.TruncatedNormalDistribution, mean=floats(-2.0, 2.0), std=floats(0.0, 3.0)),
    make(dists.LogNormalDistribution, mean=floats(-2.0, 2.0), std=floats(0.0, 3.0)),
    uniform(),
    make(dists.BinomialDistribution, number_of_trials=st.integers(0, 20), probability_of_success=floats(0.0, 1.0)),
    make(dists.OrthogonalDistribution, gain=floats(0.0, 3.0)),
    make(dists.ConstantDistribution, value=floats(-1.0, 1.0)),
)

SIMPLE_INITS = [wi.WeightInitXavier, wi.WeightInitXavierUniform, wi.WeightInitXavierLegacy, wi.WeightInitRelu,
                wi.WeightInitReluUniform, wi.WeightInitNormal, wi.WeightInitUniform, wi.WeightInitSigmoidUniform,
                wi.WeightInitLecunUniform]
SCALED_INITS = [wi.WeightInitIdentity, wi.WeightInitVarScalingNormalFanIn, wi.WeightInitVarScalingNormalFanOut,
                wi.WeightInitVarScalingNormalFanAvg, wi.WeightInitVarScalingUniformFanIn,
                wi.WeightInitVarScalingUniformFanOut, wi.WeightInitVarScalingUniformFanAvg]
weight_inits = st.one_of(
    st.sampled_from([w for w in wi.WeightInit if w is not wi.WeightInit.DISTRIBUTION]),  # the enum
    st.sampled_from(SIMPLE_INITS).map(lambda cls: cls()),
    st.builds(lambda cls, s: cls(scale=s), st.sampled_from(SCALED_INITS), st.none() | floats(0.1, 5.0)),
    make(wi.WeightInitConstant, value=floats(-1.0, 1.0)),
    distributions,  # weightInit(Distribution)
    distributions.map(lambda d: wi.WeightInitDistribution(distribution=d)),
)


@st.composite
def map_schedules(draw, values):
    keys = draw(st.lists(st.integers(1, 1000), max_size=4, unique=True))
    return MapSchedule(draw(schedule_type), {0: draw(values), **{k: draw(values) for k in keys}})


def schedules(values=non_negative):
    """Schedules whose values are never negative (learning rates, coefficients)."""
    return st.one_of(
        values.map(lambda v: FixedSchedule(v)),
        map_schedules(values),
        st.builds(lambda *a: StepSchedule(*a), schedule_type, values, floats(0.0, 1.0), floats(0.5, 100.0)),
        st.builds(lambda *a: ExponentialSchedule(*a), schedule_type, values, floats(0.0, 1.0)),
        st.builds(lambda *a: InverseSchedule(*a), schedule_type, values, floats(0.0, 1.0), floats(-3.0, 3.0)),
        st.builds(lambda *a: PolySchedule(*a), schedule_type, values, floats(-3.0, 3.0), st.integers(1, 10_000)),
        st.builds(lambda *a: SigmoidSchedule(*a), schedule_type, values, floats(-2.0, 2.0), st.integers(0, 1000)),
    )


learning_rates = non_negative | schedules()
adam_like = st.sampled_from([updaters.Adam, updaters.AdaMax, updaters.Nadam, updaters.AMSGrad])
updater_configs = st.one_of(
    make(updaters.Sgd, learning_rate=learning_rates),
    st.builds(lambda cls, lr, b1, b2, eps: cls(learning_rate=lr, beta1=b1, beta2=b2, epsilon=eps),
              adam_like, learning_rates, unit, unit, floats(0.0, 1e-3)),
    make(updaters.Nesterovs, learning_rate=learning_rates, momentum=unit,
              momentum_schedule=st.none() | schedules(unit)),
    make(updaters.RmsProp, learning_rate=learning_rates, rms_decay=unit, epsilon=floats(0.0, 1e-3)),
    make(updaters.AdaGrad, learning_rate=learning_rates, epsilon=floats(0.0, 1e-3)),
    make(updaters.AdaDelta, rho=unit, epsilon=floats(0.0, 1e-3)),
    make(updaters.NoOp),
    st.sampled_from([u for u in updaters.Updater if u is not updaters.Updater.CUSTOM]),  # deprecated enum
)
coefficients = floats(0.0, 1.0) | schedules(floats(0.0, 1.0))
regularizations = st.lists(st.one_of(
    coefficients.map(L1Regularization),
    coefficients.map(L2Regularization),
    st.builds(lambda c, a: WeightDecay(c, apply_lr=a), coefficients, st.booleans()),
), max_size=3)
dropouts = st.one_of(
    st.none(),
    floats(0.01, 1.0),  # dropOut(p)
    make(Dropout, p=floats(0.01, 1.0)),
    st.builds(lambda s: Dropout(p_schedule=s), schedules(floats(0.01, 1.0))),
)
weight_noises = st.one_of(
    st.none(),
    make(WeightNoise, distribution=distributions, apply_to_bias=st.booleans(), additive=st.booleans()),
    make(DropConnect, weight_retain_prob=floats(0.01, 1.0), apply_to_biases=st.booleans()),
)
names = st.none() | st.text(max_size=12)

LOSS_CLASSES = sorted({c for c in losses.CLASS_BY_ENUM.values()}, key=lambda c: c.__name__)
loss_weights = st.none() | st.lists(floats(0.0, 5.0), min_size=1, max_size=4)


@st.composite
def loss_functions(draw):
    cls = draw(st.sampled_from(LOSS_CLASSES))
    kwargs: dict[str, Any] = {}
    if "weights" in cls.model_fields:
        kwargs["weights"] = draw(loss_weights)
    if "clip_eps" in cls.model_fields:
        kwargs["clip_eps"] = draw(floats(0.0, 0.49))
    if "softmax_clip_eps" in cls.model_fields:
        kwargs["softmax_clip_eps"] = draw(floats(0.0, 0.49))
    return cls(**kwargs)


@st.composite
def reconstruction(draw, size: int, depth: int = 2):
    options = ["bernoulli", "gaussian", "exponential", "wrapper"] + (["composite"] * 2 if depth > 0 and size >= 2 else [])
    kind = draw(st.sampled_from(options))
    if kind == "bernoulli":
        return BernoulliReconstructionDistribution(draw(probability_activations))
    if kind == "gaussian":
        return GaussianReconstructionDistribution(draw(activations))
    if kind == "exponential":
        return ExponentialReconstructionDistribution(draw(activations))
    if kind == "wrapper":
        return LossFunctionWrapper(draw(activations), draw(loss_functions()))
    cuts = sorted(draw(st.lists(st.integers(1, size - 1), min_size=1, max_size=min(2, size - 1), unique=True)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, size])]
    builder = CompositeReconstructionDistribution.Builder()
    for part in parts:
        builder.addDistribution(part, draw(reconstruction(part, depth - 1)))
    return builder.build()


def _base_options(draw, builder) -> None:
    """Random BaseLayer options through the builder (each may be left unset to inherit the global one)."""
    maybe = lambda: draw(st.booleans())  # noqa: E731
    if maybe():
        builder.activation(draw(activations))
    if maybe():
        builder.weightInit(draw(weight_inits))
    if maybe():
        builder.biasInit(draw(floats(-1.0, 1.0)))
    if maybe():
        builder.updater(draw(updater_configs))
    if maybe():
        builder.biasUpdater(draw(updater_configs))
    if maybe():
        builder.regularization(draw(regularizations))
    if maybe():
        builder.l1Bias(draw(floats(0.0, 1.0))).l2Bias(draw(floats(0.0, 1.0)))
    if maybe():
        builder.gradientNormalization(draw(st.sampled_from(list(GradientNormalization))))
        builder.gradientNormalizationThreshold(draw(floats(0.01, 10.0)))
    if maybe():
        builder.weightNoise(draw(weight_noises))
    dropout = draw(dropouts)
    if dropout is not None:
        builder.dropOut(dropout)
    name = draw(names)
    if name is not None:
        builder.name(name)


VALID_OUTPUT_PAIRS = [(Activation.SOFTMAX, LF.MCXENT), (Activation.SOFTMAX, LF.NEGATIVELOGLIKELIHOOD),
                      (Activation.SIGMOID, LF.XENT), (Activation.IDENTITY, LF.MSE), (Activation.TANH, LF.L2),
                      (Activation.IDENTITY, LF.MEAN_ABSOLUTE_ERROR), (Activation.SOFTPLUS, LF.POISSON)]


@st.composite
def networks(draw):
    g = NeuralNetConfiguration.Builder().seed(draw(st.integers(-2**63, 2**63 - 1)))
    if draw(st.booleans()):
        g.activation(draw(activations))
    if draw(st.booleans()):
        g.weightInit(draw(weight_inits))
    if draw(st.booleans()):
        g.updater(draw(updater_configs))
    if draw(st.booleans()):
        g.l1(draw(floats(0.0, 0.1))).l2(draw(floats(0.0, 0.1)))
    if draw(st.booleans()):
        g.weightDecay(draw(floats(0.0, 0.1)), draw(st.booleans()))
    if draw(st.booleans()):
        g.dropOut(draw(dropouts))
    if draw(st.booleans()):
        g.biasInit(draw(floats(-1.0, 1.0))).gainInit(draw(floats(0.0, 2.0)))
    g.dataType(draw(st.sampled_from(list(DataType))))
    g.miniBatch(draw(st.booleans())).minimize(draw(st.booleans()))
    g.optimizationAlgo(draw(st.sampled_from(list(OptimizationAlgorithm))))

    lb = g.list()
    n_in = draw(st.integers(1, 30))
    use_input_type = draw(st.booleans())
    if use_input_type:
        lb.setInputType(InputType.feedForward(n_in))
    current = n_in
    for index in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["dense", "autoencoder", "vae"]))
        n_out = draw(st.integers(1, 20))
        if kind == "dense":
            b = DenseLayer.Builder().hasBias(draw(st.booleans())).hasLayerNorm(draw(st.booleans()))
        elif kind == "autoencoder":
            b = (AutoEncoder.Builder().corruptionLevel(draw(unit)).sparsity(draw(unit))
                 .lossFunction(draw(st.sampled_from(list(LF)))).visibleBiasInit(draw(floats(-1.0, 1.0))))
        else:
            b = (VariationalAutoencoder.Builder()
                 .encoderLayerSizes(draw(st.lists(st.integers(1, 20), min_size=1, max_size=3)))
                 .decoderLayerSizes(draw(st.lists(st.integers(1, 20), min_size=1, max_size=3)))
                 .reconstructionDistribution(draw(reconstruction(current)))
                 .pzxActivationFn(draw(activations))
                 .numSamples(draw(st.integers(1, 5))))
        _base_options(draw, b)
        b.nOut(n_out)
        if not (index == 0 and use_input_type) and draw(st.booleans()):
            b.nIn(current)  # otherwise inferred from the input type or the previous layer
        if index == 0 and not use_input_type:
            b.nIn(current)
        lb.layer(b.build())
        current = n_out
    if draw(st.booleans()):
        out = OutputLayer.Builder().nOut(draw(st.integers(1, 10)))
        _base_options(draw, out)
        if draw(st.booleans()):
            activation, loss = draw(st.sampled_from(VALID_OUTPUT_PAIRS))
            out.activation(activation).lossFunction(loss)
            if activation is Activation.SOFTMAX:
                out.nOut(draw(st.integers(2, 10)))
        else:
            lb.validateOutputLayerConfig(False)
            out.activation(draw(activations)).lossFunction(draw(loss_functions()))
        lb.layer(out.build())
    lb.backpropType(draw(st.sampled_from(["Standard", "TruncatedBPTT"])))
    lb.tBPTTForwardLength(draw(st.integers(1, 50))).tBPTTBackwardLength(draw(st.integers(1, 50)))
    return lb.build()


@settings(max_examples=int(__import__('os').environ.get('DL4PY_HYPOTHESIS_EXAMPLES', 200)), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(networks())
def test_random_configurations_round_trip(conf):
    text = conf.toJson()
    again = MultiLayerConfiguration.fromJson(text)
    assert again == conf
    assert again.toJson() == text
    assert MultiLayerConfiguration.fromYaml(conf.toYaml()) == conf
    for c in conf.confs:
        assert NeuralNetConfiguration.fromJson(c.toJson()) == c


# ---------------------------------------------------------------------------------------------------------
# hypothesis: damaged documents load or fail with InvalidJsonException, never with another error
# ---------------------------------------------------------------------------------------------------------
def _documents() -> list[dict]:
    mixed = (Global().seed(3).updater(updaters.Adam(MapSchedule(ScheduleType.ITERATION, {0: 0.1, 5: 0.01})))
             .weightInit(dists.NormalDistribution(0.0, 0.1)).l1(0.01).dropOut(0.9).list()
             .layer(DenseLayer.Builder().nOut(6).activation(Activation.RELU).build())
             .layer(AutoEncoder.Builder().nOut(4).build())
             .layer(OutputLayer.Builder(LF.MCXENT).nOut(3).build())
             .setInputType(InputType.convolutional(2, 2, 2))
             .build())
    return [doc(), json.loads(mixed.toJson()), _legacy_doc(LEGACY_080_DENSE)]


DOCUMENTS = _documents()
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.sampled_from(["NaN", "Infinity", "x", "", "os.system", "DISTRIBUTION", "RMSPROP", "leakyrelu", "0",
                       "org.deeplearning4j.nn.conf.layers.DenseLayer", "org.nd4j.linalg.schedule.MapSchedule"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["@class", "type", "nin", "values", "0", "dense", "RBM", "Composite", "normal", "LReLU",
                         "activationFn", "distributionSizes", "scheduleType", "x"]), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, path + (i,))
    return out


@settings(max_examples=int(__import__("os").environ.get("DL4PY_FUZZ_EXAMPLES", 150)), deadline=None)
@given(st.sampled_from(range(len(DOCUMENTS))), st.data())
def test_damaged_documents_fail_cleanly(which, data):
    d = copy.deepcopy(DOCUMENTS[which])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(d)))
        parent = d
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(JUNK)
    try:
        conf = MultiLayerConfiguration.fromJson(json.dumps(d))
    except InvalidJsonException:
        return
    assert MultiLayerConfiguration.fromJson(conf.toJson()) == conf  # whatever loads, round-trips
