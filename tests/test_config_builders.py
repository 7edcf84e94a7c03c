"""DL4J's builder API, as the specs list it (vae.md §2.1/2.2, layers-and-network.md §1–4, autoencoder.md §1,
reconstruction-distributions.md §5/6): every method exists on the right builder, under its DL4J name and its
snake_case name, and sets the field it should; keyword construction; the regularisation list semantics; how
global options reach layers (including DL4J's quirks); layer naming, indexing and nIn inference."""
from __future__ import annotations

import math
from typing import Any

import pytest

from dl4py import DataType
from dl4py._naming import camel_to_snake
from dl4py.activations import Activation
from dl4py.activations.impl import (
    ActivationHardSigmoid,
    ActivationIdentity,
    ActivationLReLU,
    ActivationReLU,
    ActivationSigmoid,
    ActivationSoftmax,
    ActivationTanH,
)
from dl4py.exceptions import DL4JInvalidConfigException
from dl4py.learning.config import Adam, Nesterovs, Sgd, Updater
from dl4py.learning.regularization import L1Regularization, L2Regularization, WeightDecay
from dl4py.lossfunctions import LossFunctions
from dl4py.lossfunctions.impl import LossBinaryXENT, LossKLD, LossL1, LossL2, LossMCXENT, LossMSE
from dl4py.nn.conf import (
    BackpropType,
    CacheMode,
    GradientNormalization,
    ListBuilder,
    MultiLayerConfiguration,
    NeuralNetConfiguration,
    OptimizationAlgorithm,
    WorkspaceMode,
)
from dl4py.nn.conf.distribution import NormalDistribution, UniformDistribution
from dl4py.nn.conf.dropout import Dropout
from dl4py.nn.conf.inputs import InputType
from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, LossLayer, OutputLayer
from dl4py.nn.conf.layers.variational import (
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    VariationalAutoencoder,
)
from dl4py.nn.conf.preprocessor import CnnToFeedForwardPreProcessor
from dl4py.nn.conf.weightnoise import DropConnect, WeightNoise
from dl4py.nn.weights import WeightInit, WeightInitDistribution, WeightInitRelu, WeightInitXavier

LF = LossFunctions.LossFunction
Global = NeuralNetConfiguration.Builder


# ---------------------------------------------------------------------------------------------------------
# the method table
# ---------------------------------------------------------------------------------------------------------
#: options every BaseLayer builder has (layers-and-network.md §3.3, vae.md §2.2): (method, args, field, expected)
BASE_LAYER_OPTIONS: list[tuple[str, tuple, str, Any]] = [
    ("activation", (Activation.LEAKYRELU,), "activation", ActivationLReLU(0.01)),
    ("activation", (ActivationLReLU(0.2),), "activation", ActivationLReLU(0.2)),
    ("weightInit", (WeightInit.RELU,), "weight_init", WeightInitRelu()),
    ("weightInit", (WeightInitRelu(),), "weight_init", WeightInitRelu()),
    ("weightInit", (NormalDistribution(0.0, 0.5),), "weight_init",
     WeightInitDistribution(distribution=NormalDistribution(0.0, 0.5))),
    ("dist", (UniformDistribution(-1.0, 1.0),), "weight_init",
     WeightInitDistribution(distribution=UniformDistribution(-1.0, 1.0))),
    ("biasInit", (0.5,), "bias_init", 0.5),
    ("gainInit", (0.25,), "gain_init", 0.25),
    ("l1", (0.1,), "regularization", [L1Regularization(0.1)]),
    ("l2", (0.2,), "regularization", [L2Regularization(0.2)]),
    ("l1Bias", (0.3,), "regularization_bias", [L1Regularization(0.3)]),
    ("l2Bias", (0.4,), "regularization_bias", [L2Regularization(0.4)]),
    ("weightDecay", (0.1,), "regularization", [WeightDecay(0.1, apply_lr=True)]),
    ("weightDecay", (0.1, False), "regularization", [WeightDecay(0.1, apply_lr=False)]),
    ("weightDecayBias", (0.2,), "regularization_bias", [WeightDecay(0.2, apply_lr=True)]),
    ("weightDecayBias", (0.2, False), "regularization_bias", [WeightDecay(0.2, apply_lr=False)]),
    ("regularization", ([L1Regularization(0.1), WeightDecay(0.2)],), "regularization",
     [L1Regularization(0.1), WeightDecay(0.2)]),
    ("regularizationBias", ([L2Regularization(0.1)],), "regularization_bias", [L2Regularization(0.1)]),
    ("updater", (Adam(0.01),), "updater", Adam(0.01)),
    ("updater", (Updater.NESTEROVS,), "updater", Nesterovs()),
    ("biasUpdater", (Sgd(0.2),), "bias_updater", Sgd(0.2)),
    ("gradientNormalization", (GradientNormalization.ClipL2PerLayer,), "gradient_normalization",
     GradientNormalization.ClipL2PerLayer),
    ("gradientNormalizationThreshold", (2.5,), "gradient_normalization_threshold", 2.5),
    ("weightNoise", (DropConnect(0.8),), "weight_noise", DropConnect(0.8)),
    ("weightNoise", (WeightNoise(NormalDistribution(0.0, 0.1)),), "weight_noise",
     WeightNoise(NormalDistribution(0.0, 0.1))),
    ("name", ("my layer",), "layer_name", "my layer"),
    ("dropOut", (0.6,), "drop_out", Dropout(0.6)),
    ("dropOut", (Dropout(0.7),), "drop_out", Dropout(0.7)),
]

#: FeedForwardLayer builder options (not on LossLayer, whose nIn/nOut refuse)
FEED_FORWARD_OPTIONS = [
    ("nIn", (784,), "n_in", 784),
    ("nOut", (32,), "n_out", 32),
    ("units", (16,), "n_out", 16),
]

#: BasePretrainNetwork options (autoencoder.md §1, vae.md §2.2)
PRETRAIN_OPTIONS = [
    ("lossFunction", (LF.MSE,), "loss_function", LF.MSE),
    ("visibleBiasInit", (0.5,), "visible_bias_init", 0.5),
]

VAE_OPTIONS = [  # vae.md §2.1
    ("encoderLayerSizes", (256, 256), "encoder_layer_sizes", [256, 256]),
    ("encoderLayerSizes", ([64, 32],), "encoder_layer_sizes", [64, 32]),
    ("setEncoderLayerSizes", (3, 4), "encoder_layer_sizes", [3, 4]),
    ("decoderLayerSizes", (128,), "decoder_layer_sizes", [128]),
    ("setDecoderLayerSizes", (5, 6, 7), "decoder_layer_sizes", [5, 6, 7]),
    ("reconstructionDistribution", (BernoulliReconstructionDistribution(Activation.SIGMOID),),
     "reconstruction_distribution", BernoulliReconstructionDistribution(ActivationSigmoid())),
    ("lossFunction", (ActivationTanH(), LF.MSE), "reconstruction_distribution",
     LossFunctionWrapper(ActivationTanH(), LossMSE())),
    ("lossFunction", (Activation.TANH, LF.L1), "reconstruction_distribution",
     LossFunctionWrapper(ActivationTanH(), LossL1())),
    ("lossFunction", (ActivationIdentity(), LossL2()), "reconstruction_distribution",
     LossFunctionWrapper(ActivationIdentity(), LossL2())),
    ("pzxActivationFn", (ActivationTanH(),), "pzx_activation_fn", ActivationTanH()),
    ("pzxActivationFunction", (Activation.TANH,), "pzx_activation_fn", ActivationTanH()),
    ("numSamples", (3,), "num_samples", 3),
]

DENSE_OPTIONS = [("hasBias", (False,), "has_bias", False), ("hasLayerNorm", (True,), "has_layer_norm", True)]
OUTPUT_OPTIONS = [
    ("hasBias", (False,), "has_bias", False),
    ("lossFunction", (LF.MSE,), "loss_function", LossMSE()),
    ("lossFunction", (LossL1(),), "loss_function", LossL1()),
]
LOSS_LAYER_OPTIONS = [("lossFunction", (LF.XENT,), "loss_function", LossBinaryXENT())]
AUTOENCODER_OPTIONS = [
    ("corruptionLevel", (0.2,), "corruption_level", 0.2),
    ("sparsity", (0.1,), "sparsity", 0.1),
]

LAYER_ROWS = (
    [(VariationalAutoencoder, *row) for row in VAE_OPTIONS + PRETRAIN_OPTIONS + FEED_FORWARD_OPTIONS + BASE_LAYER_OPTIONS]
    + [(AutoEncoder, *row) for row in AUTOENCODER_OPTIONS + PRETRAIN_OPTIONS + FEED_FORWARD_OPTIONS + BASE_LAYER_OPTIONS]
    + [(DenseLayer, *row) for row in DENSE_OPTIONS + FEED_FORWARD_OPTIONS + BASE_LAYER_OPTIONS]
    + [(OutputLayer, *row) for row in OUTPUT_OPTIONS + FEED_FORWARD_OPTIONS + BASE_LAYER_OPTIONS]
    + [(LossLayer, *row) for row in LOSS_LAYER_OPTIONS + BASE_LAYER_OPTIONS]
)


def _row_id(row) -> str:
    cls, method, args, field, _ = row
    return f"{cls.__name__}.{method}({', '.join(type(a).__name__ for a in args)})->{field}"


@pytest.mark.parametrize("spelling", ["dl4j", "snake"])
@pytest.mark.parametrize("row", LAYER_ROWS, ids=_row_id)
def test_layer_builder_method(row, spelling):
    cls, method, args, field, expected = row
    name = method if spelling == "dl4j" else camel_to_snake(method)
    builder = cls.Builder()
    returned = getattr(builder, name)(*args)
    assert returned is builder, "setters return the builder (fluent API)"
    built = builder.build()
    assert type(built) is cls
    assert getattr(built, field) == expected


# (method, args, where the value lands: "layer.<field>", "conf.<field>" or "net.<field>", expected)
GLOBAL_ROWS: list[tuple[str, tuple, str, Any]] = [
    ("seed", (42,), "conf.seed", 42),
    ("activation", (Activation.TANH,), "layer.activation", ActivationTanH()),
    ("activation", (ActivationLReLU(0.3),), "layer.activation", ActivationLReLU(0.3)),
    ("weightInit", (WeightInit.RELU,), "layer.weight_init", WeightInitRelu()),
    ("weightInit", (WeightInitRelu(),), "layer.weight_init", WeightInitRelu()),
    ("weightInit", (NormalDistribution(0.0, 2.0),), "layer.weight_init",
     WeightInitDistribution(distribution=NormalDistribution(0.0, 2.0))),
    ("dist", (NormalDistribution(0.0, 2.0),), "layer.weight_init",
     WeightInitDistribution(distribution=NormalDistribution(0.0, 2.0))),
    ("biasInit", (0.5,), "layer.bias_init", 0.5),
    ("updater", (Adam(0.1),), "layer.updater", Adam(0.1)),
    ("updater", (Updater.ADAM,), "layer.updater", Adam()),
    ("biasUpdater", (Sgd(0.2),), "layer.bias_updater", Sgd(0.2)),
    ("l1", (0.1,), "layer.regularization", [L1Regularization(0.1)]),
    ("l2", (0.2,), "layer.regularization", [L2Regularization(0.2)]),
    ("l1Bias", (0.1,), "layer.regularization_bias", [L1Regularization(0.1)]),
    ("l2Bias", (0.2,), "layer.regularization_bias", [L2Regularization(0.2)]),
    ("weightDecay", (0.1,), "layer.regularization", [WeightDecay(0.1, apply_lr=True)]),
    ("weightDecay", (0.1, False), "layer.regularization", [WeightDecay(0.1, apply_lr=False)]),
    ("weightDecayBias", (0.1, False), "layer.regularization_bias", [WeightDecay(0.1, apply_lr=False)]),
    ("regularization", ([L1Regularization(0.1)],), "layer.regularization", [L1Regularization(0.1)]),
    ("regularizationBias", ([L2Regularization(0.1)],), "layer.regularization_bias", [L2Regularization(0.1)]),
    ("dropOut", (0.5,), "layer.drop_out", Dropout(0.5)),
    ("dropOut", (0.0,), "layer.drop_out", None),  # dropOut(0.0) means no dropout
    ("dropOut", (Dropout(0.7),), "layer.drop_out", Dropout(0.7)),
    ("weightNoise", (WeightNoise(NormalDistribution(0.0, 1.0)),), "layer.weight_noise",
     WeightNoise(NormalDistribution(0.0, 1.0))),
    ("gradientNormalization", (GradientNormalization.ClipL2PerParamType,), "layer.gradient_normalization",
     GradientNormalization.ClipL2PerParamType),
    ("gradientNormalizationThreshold", (3.0,), "layer.gradient_normalization_threshold", 3.0),
    ("miniBatch", (False,), "conf.mini_batch", False),
    ("optimizationAlgo", (OptimizationAlgorithm.LBFGS,), "conf.optimization_algo", OptimizationAlgorithm.LBFGS),
    ("maxNumLineSearchIterations", (7,), "conf.max_num_line_search_iterations", 7),
    ("minimize", (False,), "conf.minimize", False),
    ("stepFunction", (None,), "conf.step_function", None),
    ("dataType", (DataType.DOUBLE,), "net.data_type", DataType.DOUBLE),
    ("dataType", (DataType.HALF,), "conf.data_type", DataType.HALF),
    ("trainingWorkspaceMode", (WorkspaceMode.NONE,), "net.training_workspace_mode", WorkspaceMode.NONE),
    ("inferenceWorkspaceMode", (WorkspaceMode.NONE,), "net.inference_workspace_mode", WorkspaceMode.NONE),
    ("cacheMode", (CacheMode.HOST,), "net.cache_mode", CacheMode.HOST),
    ("cacheMode", (CacheMode.HOST,), "conf.cache_mode", CacheMode.HOST),
]


def _lookup(net: MultiLayerConfiguration, where: str) -> Any:
    scope, field = where.split(".")
    obj = {"net": net, "conf": net.confs[0], "layer": net.confs[0].layer}[scope]
    return getattr(obj, field)


@pytest.mark.parametrize("spelling", ["dl4j", "snake"])
@pytest.mark.parametrize("row", GLOBAL_ROWS, ids=lambda r: f"{r[0]}({', '.join(type(a).__name__ for a in r[1])})")
def test_global_builder_method(row, spelling):
    method, args, where, expected = row
    name = method if spelling == "dl4j" else camel_to_snake(method)
    builder = Global()
    assert getattr(builder, name)(*args) is builder
    net = builder.list().layer(DenseLayer.Builder().nIn(3).nOut(2).build()).build()
    assert _lookup(net, where) == expected


@pytest.mark.parametrize(
    "cls, method",
    [
        (VariationalAutoencoder, "constrainAllParameters"),
        (VariationalAutoencoder, "constrainWeights"),
        (VariationalAutoencoder, "constrainBias"),
        (DenseLayer, "constrainWeights"),
        (NeuralNetConfiguration, "constrainAllParameters"),
        (NeuralNetConfiguration, "constrainWeights"),
        (NeuralNetConfiguration, "constrainBias"),
        (NeuralNetConfiguration, "convolutionMode"),
        (NeuralNetConfiguration, "cudnnAlgoMode"),
        (NeuralNetConfiguration, "graphBuilder"),
    ],
)
def test_builder_methods_formerly_missing_exist(cls, method):
    # parameter constraints (all three scopes), CNN-only global options (stored) and graphBuilder (clear error)
    assert callable(getattr(cls.Builder(), method))


def test_unknown_builder_method_is_a_clear_error():
    with pytest.raises(AttributeError, match="DenseLayer.Builder has no option 'nInn'"):
        DenseLayer.Builder().nInn(3)


# ---------------------------------------------------------------------------------------------------------
# constructors and keyword construction
# ---------------------------------------------------------------------------------------------------------
def test_keyword_construction_with_snake_case_fields():
    vae = VariationalAutoencoder(n_in=784, n_out=32, encoder_layer_sizes=[256, 256])
    assert (vae.n_in, vae.n_out, vae.encoder_layer_sizes) == (784, 32, [256, 256])
    assert vae.decoder_layer_sizes == [100]  # DL4J's default
    assert vae == VariationalAutoencoder.Builder().nIn(784).nOut(32).encoderLayerSizes(256, 256).build()
    dense = DenseLayer(n_in=3, n_out=4, activation=Activation.RELU, weight_init=WeightInit.XAVIER, has_bias=False)
    assert dense.activation == ActivationReLU() and dense.weight_init == WeightInitXavier()
    assert dense == DenseLayer.Builder().nIn(3).nOut(4).activation(Activation.RELU).weightInit(WeightInit.XAVIER) \
        .hasBias(False).build()


def test_vae_defaults():
    vae = VariationalAutoencoder.Builder().build()
    assert vae.encoder_layer_sizes == [100] and vae.decoder_layer_sizes == [100]
    assert vae.reconstruction_distribution == GaussianReconstructionDistribution(ActivationTanH())
    assert vae.pzx_activation_fn == ActivationIdentity()
    assert vae.num_samples == 1
    assert vae.loss_function is LF.RECONSTRUCTION_CROSSENTROPY
    assert vae.visible_bias_init == 0.0
    assert (vae.n_in, vae.n_out) == (0, 0)
    # unset BaseLayer options wait for the global ones (None / NaN), as in DL4J
    assert vae.activation is None and vae.weight_init is None and vae.updater is None
    assert math.isnan(vae.bias_init) and math.isnan(vae.gradient_normalization_threshold)


def test_vae_lossfunction_overloads():
    # one argument: BasePretrainNetwork's (unused) loss enum; the reconstruction distribution stays as it was
    vae = VariationalAutoencoder.Builder().lossFunction(LF.MSE).build()
    assert vae.loss_function is LF.MSE
    assert vae.reconstruction_distribution == GaussianReconstructionDistribution(ActivationTanH())
    # two arguments: a LossFunctionWrapper replaces any distribution set before
    for args, expected in [
        ((ActivationSigmoid(), LF.XENT), LossFunctionWrapper(ActivationSigmoid(), LossBinaryXENT())),
        ((Activation.SIGMOID, LF.XENT), LossFunctionWrapper(ActivationSigmoid(), LossBinaryXENT())),
        ((ActivationSigmoid(), LossBinaryXENT(clip_eps=1e-3)),
         LossFunctionWrapper(ActivationSigmoid(), LossBinaryXENT(clip_eps=1e-3))),
    ]:
        vae = (VariationalAutoencoder.Builder()
               .reconstructionDistribution(BernoulliReconstructionDistribution())
               .lossFunction(*args).build())
        assert vae.reconstruction_distribution == expected
        assert vae.loss_function is LF.RECONSTRUCTION_CROSSENTROPY
    # RECONSTRUCTION_CROSSENTROPY maps to LossKLD, as DL4J's enum does
    assert LF.RECONSTRUCTION_CROSSENTROPY.getILossFunction() == LossKLD()


def test_activation_and_weight_init_overloads_agree():
    by_enum = DenseLayer.Builder().activation(Activation.LEAKYRELU).build()
    by_object = DenseLayer.Builder().activation(ActivationLReLU()).build()
    by_name = DenseLayer.Builder().activation("leakyrelu").build()
    assert by_enum == by_object == by_name
    assert (VariationalAutoencoder.Builder().pzxActivationFn(ActivationTanH()).build()
            == VariationalAutoencoder.Builder().pzxActivationFunction(Activation.TANH).build())
    dist = NormalDistribution(0.1, 1.2)
    assert (DenseLayer.Builder().weightInit(dist).build()
            == DenseLayer.Builder().dist(dist).build()
            == DenseLayer.Builder().weightInit(WeightInitDistribution(distribution=dist)).build())


def test_output_and_loss_layer_constructors():
    assert OutputLayer.Builder().build().loss_function == LossMCXENT()
    assert OutputLayer.Builder(LF.MSE).build().loss_function == LossMSE()
    assert OutputLayer.Builder(LossL2()).build().loss_function == LossL2()
    assert OutputLayer.Builder().build().activation == ActivationSoftmax()
    assert LossLayer.Builder(LF.MSE).build().loss_function == LossMSE()
    assert LossLayer.Builder().build().activation == ActivationIdentity()
    for method in ("nIn", "nOut", "n_in", "n_out"):
        with pytest.raises(DL4JInvalidConfigException, match="no parameters"):
            getattr(LossLayer.Builder(), method)(3)


def test_autoencoder_constructors():
    ae = AutoEncoder.Builder().build()
    assert ae.corruption_level == 0.30000001192092896  # DL4J's float 0.3, widened to double
    assert ae.sparsity == 0.0
    assert ae.loss_function is LF.RECONSTRUCTION_CROSSENTROPY
    assert AutoEncoder.Builder(0.1).build().corruption_level == 0.1
    ae = AutoEncoder.Builder(0.1, 0.05).build()
    assert (ae.corruption_level, ae.sparsity) == (0.1, 0.05)


def test_reconstruction_distribution_constructors():
    assert BernoulliReconstructionDistribution() == BernoulliReconstructionDistribution(ActivationSigmoid())
    assert BernoulliReconstructionDistribution(Activation.HARDSIGMOID).activation_fn == ActivationHardSigmoid()
    assert GaussianReconstructionDistribution().activation_fn == ActivationIdentity()
    assert GaussianReconstructionDistribution(Activation.TANH) == GaussianReconstructionDistribution(ActivationTanH())
    assert ExponentialReconstructionDistribution().activation_fn == ActivationIdentity()
    assert LossFunctionWrapper(Activation.TANH, LossMSE()) == LossFunctionWrapper(ActivationTanH(), LF.MSE)
    assert GaussianReconstructionDistribution().distributionInputSize(5) == 10
    assert BernoulliReconstructionDistribution().distributionInputSize(5) == 5


def test_schedule_in_place_of_a_number():
    """DL4J's ``Adam(ISchedule)``, ``Dropout(ISchedule)``, ``DropConnect(ISchedule)``: the number is NaN and the
    schedule is kept (written as ``"learningRate" : "NaN"`` / ``"p" : "NaN"``)."""
    from dl4py.schedule import MapSchedule, ScheduleType, StepSchedule

    schedule = MapSchedule.Builder(ScheduleType.ITERATION).add(0, 0.1).add(10, 0.01).build()
    adam = Adam(schedule)
    assert math.isnan(adam.learning_rate) and adam.learning_rate_schedule == schedule
    assert adam.getLearningRate(9) == 0.1 and adam.getLearningRate(10) == 0.01
    retain = StepSchedule(ScheduleType.EPOCH, 0.9, 0.5, 2.0)
    dropout = Dropout(retain)
    assert math.isnan(dropout.p) and dropout.p_schedule == retain and dropout.getP(0, 2) == 0.45
    assert '"p" : "NaN"' in dropout.toJson()
    drop_connect = DropConnect(retain)
    assert math.isnan(drop_connect.weight_retain_prob) and drop_connect.weight_retain_prob_schedule == retain
    assert DenseLayer.Builder().dropOut(dropout).build().drop_out == Dropout(p_schedule=retain, p=math.nan)


@pytest.mark.parametrize("method", ["addDistribution", "add_distribution"])
def test_composite_builder(method):
    builder = CompositeReconstructionDistribution.Builder()
    getattr(builder, method)(5, GaussianReconstructionDistribution())
    getattr(builder, method)(5, GaussianReconstructionDistribution(Activation.TANH))
    getattr(builder, method)(5, BernoulliReconstructionDistribution())
    composite = builder.build()
    assert composite.distribution_sizes == [5, 5, 5]
    assert composite.total_size == 15
    assert [type(d).__name__ for d in composite.reconstruction_distributions] == [
        "GaussianReconstructionDistribution", "GaussianReconstructionDistribution",
        "BernoulliReconstructionDistribution"]
    assert composite.distributionInputSize(15) == 25  # 10 + 10 + 5 (reconstruction-distributions.md §5)
    assert composite.hasLossFunction() is False
    # a VAE over it: the decoder output layer has 25 columns
    vae = VariationalAutoencoder.Builder().nIn(15).nOut(2).reconstructionDistribution(composite).build()
    assert vae.paramShapes()["pXZW"] == (100, 25)


# ---------------------------------------------------------------------------------------------------------
# regularisation list semantics (layers-and-network.md §3.2), same for the layer and the global builder
# ---------------------------------------------------------------------------------------------------------
def _weights_list(kind: str, calls: list[tuple[str, tuple]], bias: bool = False) -> list:
    builder = DenseLayer.Builder().nIn(2).nOut(2) if kind == "layer" else Global()
    for method, args in calls:
        getattr(builder, method)(*args)
    if kind == "layer":
        layer = builder.build()
    else:
        layer = builder.list().layer(DenseLayer.Builder().nIn(2).nOut(2).build()).build().confs[0].layer
    return layer.regularization_bias if bias else layer.regularization


L1, L2, WD = L1Regularization, L2Regularization, WeightDecay


@pytest.mark.parametrize("kind", ["layer", "global"])
@pytest.mark.parametrize(
    "calls, expected",
    [
        ([("l1", (0.1,)), ("l2", (0.2,))], [L1(0.1), L2(0.2)]),  # call order kept
        ([("l2", (0.2,)), ("l1", (0.1,))], [L2(0.2), L1(0.1)]),
        ([("l1", (0.1,)), ("l2", (0.2,)), ("l1", (0.3,))], [L2(0.2), L1(0.3)]),  # replaced: removed, appended
        ([("l2", (0.2,)), ("weightDecay", (0.3,))], [WD(0.3, apply_lr=True)]),  # weightDecay drops L2
        ([("weightDecay", (0.3, False)), ("l2", (0.2,))], [L2(0.2)]),  # l2 drops WeightDecay
        ([("l1", (0.1,)), ("weightDecay", (0.3,)), ("weightDecay", (0.4, False))], [L1(0.1), WD(0.4, apply_lr=False)]),
        ([("l1", (0.1,)), ("l1", (0.0,))], []),  # values <= 0 only remove
        ([("l2", (0.2,)), ("weightDecay", (0.0,))], [L2(0.2)]),  # ... and only their own kind
        ([("weightDecay", (0.3,)), ("l2", (0.0,))], [WD(0.3, apply_lr=True)]),
        ([("l1", (0.1,)), ("l1Bias", (0.5,)), ("l2Bias", (0.6,))], [L1(0.1)]),  # bias setters leave weights alone
        ([("regularization", ([L2(0.2)],)), ("l1", (0.1,))], [L2(0.2), L1(0.1)]),
        ([("l1", (0.1,)), ("regularization", ([WD(0.2)],))], [WD(0.2)]),  # regularization(list) replaces
    ],
)
def test_regularization_list_semantics(kind, calls, expected):
    assert _weights_list(kind, calls) == expected


@pytest.mark.parametrize("kind", ["layer", "global"])
def test_bias_regularization_list_semantics(kind):
    calls = [("l1Bias", (0.1,)), ("l2Bias", (0.2,)), ("weightDecayBias", (0.3, False)), ("l1", (0.9,))]
    assert _weights_list(kind, calls, bias=True) == [L1(0.1), WD(0.3, apply_lr=False)]
    assert _weights_list(kind, [("l1Bias", (0.1,)), ("l1Bias", (0.0,))], bias=True) == []


# ---------------------------------------------------------------------------------------------------------
# how global options reach layers (layers-and-network.md §3.3)
# ---------------------------------------------------------------------------------------------------------
def test_unset_layer_options_take_the_global_ones():
    g = (Global().seed(7).activation(Activation.TANH).weightInit(WeightInit.RELU).biasInit(0.1)
         .updater(Adam(0.01)).biasUpdater(Sgd(0.5)).dropOut(0.8).weightNoise(DropConnect(0.9))
         .gradientNormalization(GradientNormalization.ClipL2PerLayer).gradientNormalizationThreshold(4.0))
    net = (g.list()
           .layer(DenseLayer.Builder().nIn(3).nOut(4).build())
           .layer(DenseLayer.Builder().nOut(5).activation(Activation.RELU).weightInit(WeightInit.XAVIER).biasInit(0.3)
                  .updater(Sgd(0.2)).biasUpdater(Sgd(0.3)).dropOut(0.6).weightNoise(DropConnect(0.7))
                  .gradientNormalization(GradientNormalization.None_).gradientNormalizationThreshold(2.0).build())
           .build())
    inherited, own = net.confs[0].layer, net.confs[1].layer
    assert inherited.activation == ActivationTanH() and own.activation == ActivationReLU()
    assert inherited.weight_init == WeightInitRelu() and own.weight_init == WeightInitXavier()
    assert inherited.bias_init == 0.1 and own.bias_init == 0.3
    assert inherited.gain_init == 1.0 and own.gain_init == 1.0
    assert inherited.updater == Adam(0.01) and own.updater == Sgd(0.2)
    assert inherited.bias_updater == Sgd(0.5) and own.bias_updater == Sgd(0.3)
    assert inherited.drop_out == Dropout(0.8) and own.drop_out == Dropout(0.6)
    assert inherited.weight_noise == DropConnect(0.9) and own.weight_noise == DropConnect(0.7)
    assert inherited.gradient_normalization is GradientNormalization.ClipL2PerLayer
    assert own.gradient_normalization is GradientNormalization.None_
    assert inherited.gradient_normalization_threshold == 4.0 and own.gradient_normalization_threshold == 2.0
    assert [c.seed for c in net.confs] == [7, 7]
    # every layer gets its own copy of the global objects
    two = g.list().layer(DenseLayer(n_in=2, n_out=2)).layer(DenseLayer(n_out=2)).build()
    assert two.confs[0].layer.updater == two.confs[1].layer.updater
    assert two.confs[0].layer.updater is not two.confs[1].layer.updater


def test_dl4j_defaults_reach_layers():
    layer = Global().list().layer(DenseLayer.Builder().nIn(3).nOut(4).build()).build().confs[0].layer
    assert layer.activation == ActivationSigmoid()
    assert layer.weight_init == WeightInitXavier()
    assert layer.updater == Sgd(1e-3)
    assert (layer.bias_init, layer.gain_init) == (0.0, 1.0)
    assert layer.gradient_normalization is GradientNormalization.None_
    assert layer.gradient_normalization_threshold == 1.0
    assert layer.regularization == [] and layer.regularization_bias == []
    assert layer.drop_out is None and layer.bias_updater is None and layer.weight_noise is None


def test_global_regularization_quirk():
    """A non-empty global list overwrites a layer's own list (DL4J 1.0.0-beta4…2021 master); an empty global
    list leaves it alone; weights and biases are independent."""
    own_only = Global().list().layer(DenseLayer.Builder().nIn(2).nOut(2).l1(0.3).build()).build()
    assert own_only.confs[0].layer.regularization == [L1(0.3)]

    overwritten = Global().l2(0.5).list().layer(DenseLayer.Builder().nIn(2).nOut(2).l1(0.3).l2Bias(0.4).build()).build()
    assert overwritten.confs[0].layer.regularization == [L2(0.5)]
    assert overwritten.confs[0].layer.regularization_bias == [L2(0.4)]  # no global bias list: own kept

    bias = Global().l1Bias(0.5).list().layer(DenseLayer.Builder().nIn(2).nOut(2).l1(0.3).l2Bias(0.4).build()).build()
    assert bias.confs[0].layer.regularization == [L1(0.3)]
    assert bias.confs[0].layer.regularization_bias == [L1(0.5)]


def test_output_layer_keeps_softmax_and_loss_layer_identity():
    net = (Global().activation(Activation.TANH).list()
           .layer(DenseLayer.Builder().nIn(3).nOut(4).build())
           .layer(OutputLayer.Builder(LF.MCXENT).nOut(3).build())
           .layer(LossLayer.Builder(LF.MSE).build())
           .build())
    assert net.confs[0].layer.activation == ActivationTanH()
    assert net.confs[1].layer.activation == ActivationSoftmax()
    assert net.confs[2].layer.activation == ActivationIdentity()


def test_layer_names_and_indices():
    net = (Global().list()
           .layer(DenseLayer.Builder().nIn(3).nOut(4).build())
           .layer(DenseLayer.Builder().name("hidden").nOut(5).build())
           .layer(OutputLayer.Builder().nOut(2).build())
           .build())
    assert [c.layer.layer_name for c in net.confs] == ["layer0", "hidden", "layer2"]


def test_layer_at_index_replaces_and_appending_continues():
    lb = (Global().list()
          .layer(0, DenseLayer.Builder().nIn(3).nOut(4).build())
          .layer(1, OutputLayer.Builder().nIn(4).nOut(2).build())
          .layer(0, DenseLayer.Builder().nIn(3).nOut(4).activation(Activation.RELU).build())
          .layer(OutputLayer.Builder(LF.MSE).activation(Activation.IDENTITY).nIn(2).nOut(1).build()))
    net = lb.build()
    assert [type(c.layer).__name__ for c in net.confs] == ["DenseLayer", "OutputLayer", "OutputLayer"]
    assert net.confs[0].layer.activation == ActivationReLU()
    # layers may be added out of order
    net = (Global().list().layer(1, OutputLayer.Builder().nIn(4).nOut(2).build())
           .layer(0, DenseLayer.Builder().nIn(3).nOut(4).build()).build())
    assert [type(c.layer).__name__ for c in net.confs] == ["DenseLayer", "OutputLayer"]


def test_gaps_and_empty_lists_are_rejected():
    lb = Global().list().layer(0, DenseLayer.Builder().nIn(3).nOut(4).build()).layer(2, OutputLayer.Builder().nOut(2).build())
    with pytest.raises(DL4JInvalidConfigException, match="layer number 1 not specified"):
        lb.build()
    with pytest.raises(DL4JInvalidConfigException, match="no layers defined"):
        Global().list().build()


def test_layers_passed_to_list():
    dense, out = DenseLayer.Builder().nIn(3).nOut(4).build(), OutputLayer.Builder().nOut(2).build()
    assert Global().seed(1).list(dense, out).build() == Global().seed(1).list().layer(dense).layer(out).build()


def test_layer_builders_are_accepted_unbuilt():
    net = Global().seed(1).list().layer(DenseLayer.Builder().nIn(3).nOut(4)).build()
    assert net == Global().seed(1).list().layer(DenseLayer.Builder().nIn(3).nOut(4).build()).build()


def test_building_does_not_touch_the_given_layers():
    dense = DenseLayer.Builder().nOut(4).build()
    lb = Global().seed(3).l2(0.1).list().layer(dense).setInputType(InputType.feedForward(5))
    first = lb.build()
    assert dense == DenseLayer.Builder().nOut(4).build()  # no name, nIn, activation... written into it
    assert lb.build() == first  # building twice gives the same result


# ---------------------------------------------------------------------------------------------------------
# nIn inference, input types and preprocessors (layers-and-network.md §4.1)
# ---------------------------------------------------------------------------------------------------------
def _mlp(lb: ListBuilder) -> MultiLayerConfiguration:
    return (lb.layer(DenseLayer.Builder().nOut(64).build())
            .layer(VariationalAutoencoder.Builder().nOut(8).encoderLayerSizes(16).decoderLayerSizes(16).build())
            .layer(AutoEncoder.Builder().nOut(6).build())
            .layer(OutputLayer.Builder().nOut(10).build())
            .build())


def test_nin_inferred_from_previous_nout():
    net = (Global().list().layer(DenseLayer.Builder().nIn(5).nOut(4).build())
           .layer(OutputLayer.Builder().nOut(3).build()).build())
    assert [c.layer.n_in for c in net.confs] == [5, 4]


def test_nin_inferred_after_any_first_layer():
    """Deliberate difference: DL4J infers the input type only from a first DenseLayer/EmbeddingLayer/OutputLayer,
    so after a first VAE or AutoEncoder every nIn must be given; dl4py chains nIn after any feed-forward layer."""
    net = (Global().list()
           .layer(VariationalAutoencoder.Builder().nIn(10).nOut(3).build())
           .layer(AutoEncoder.Builder().nOut(2).build())
           .layer(OutputLayer.Builder().nOut(2).build())
           .build())
    assert [c.layer.n_in for c in net.confs] == [10, 3, 2]


def test_nin_inferred_from_feed_forward_input_type():
    net = _mlp(Global().seed(1).list().setInputType(InputType.feedForward(20)))
    assert [(c.layer.n_in, c.layer.n_out) for c in net.confs] == [(20, 64), (64, 8), (8, 6), (6, 10)]
    assert net.input_pre_processors == {}
    assert _mlp(Global().seed(1).list().inputType().feedForward(20)) == net
    assert _mlp(Global().seed(1).list().set_input_type(InputType.feed_forward(20))) == net


def test_nin_inferred_from_convolutional_flat_input_type():
    net = _mlp(Global().list().setInputType(InputType.convolutionalFlat(28, 28, 1)))
    assert net.confs[0].layer.n_in == 784
    assert net.input_pre_processors == {}  # flattened images go straight into a dense layer


def test_convolutional_input_type_adds_a_preprocessor():
    net = _mlp(Global().list().setInputType(InputType.convolutional(28, 28, 3)))
    assert net.confs[0].layer.n_in == 28 * 28 * 3
    assert net.input_pre_processors == {0: CnnToFeedForwardPreProcessor(28, 28, 3)}
    assert MultiLayerConfiguration.fromJson(net.toJson()) == net
    assert '"inputPreProcessors" : {\n    "0" : {\n      "@class" : ' \
           '"org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor"' in net.toJson()


def test_explicit_preprocessors():
    pre = CnnToFeedForwardPreProcessor(2, 2, 1)
    for lb in (Global().list().inputPreProcessor(0, pre), Global().list().inputPreProcessors({0: pre})):
        net = lb.layer(DenseLayer.Builder().nIn(4).nOut(2).build()).build()
        assert net.input_pre_processors == {0: pre}
        assert net.getInputPreProcess(0) == pre


def test_user_nin_is_kept_and_checked_unless_overridden():
    """1.0.0-beta7: setInputType only fills unset nIn (a user nIn that does not fit is reported);
    ``overrideNinUponBuild(true)`` (2021 master) overwrites it."""
    def lb():
        return (Global().list().layer(DenseLayer.Builder().nIn(3).nOut(4).build())
                .setInputType(InputType.feedForward(5)))

    with pytest.raises(DL4JInvalidConfigException, match="nIn"):
        lb().build()
    assert lb().overrideNinUponBuild(True).build().confs[0].layer.n_in == 5
    assert lb().override_nin_upon_build(True).build().confs[0].layer.n_in == 5


def test_list_builder_network_options():
    def lb():
        return Global().seed(1).list().layer(DenseLayer.Builder().nIn(3).nOut(4).build())

    assert lb().backpropType(BackpropType.TruncatedBPTT).build().backprop_type is BackpropType.TruncatedBPTT
    net = lb().tBPTTLength(7).build()
    assert (net.tbptt_fwd_length, net.tbptt_back_length) == (7, 7)
    net = lb().tBPTTForwardLength(5).tBPTTBackwardLength(6).build()
    assert (net.tbptt_fwd_length, net.tbptt_back_length) == (5, 6)
    net = lb().t_bptt_forward_length(5).t_bptt_backward_length(6).build()
    assert (net.tbptt_fwd_length, net.tbptt_back_length) == (5, 6)
    assert lb().validateOutputLayerConfig(False).build().validate_output_layer_config is False
    assert lb().validateTbpttConfig(False).build() == lb().build()
    net = lb().build()
    assert (net.backprop_type, net.tbptt_fwd_length, net.tbptt_back_length) == (BackpropType.Standard, 20, 20)
    assert net.validate_output_layer_config is True


def test_single_layer_configuration():
    conf = Global().seed(3).activation(Activation.TANH).layer(DenseLayer.Builder().nIn(2).nOut(2).build()).build()
    assert isinstance(conf, NeuralNetConfiguration)
    assert conf.seed == 3 and conf.layer.activation == ActivationTanH() and conf.layer.layer_name == "layer0"


def test_global_weight_init_distribution_styles():
    dist = NormalDistribution(0.0, 0.5)
    expected = WeightInitDistribution(distribution=dist)
    for g in (
        Global().weightInit(dist),
        Global().dist(dist),
        Global().weightInit(WeightInit.DISTRIBUTION).dist(dist),  # pre-1.0 style
        Global().dist(dist).weightInit(WeightInit.DISTRIBUTION),
        Global().weightInit(WeightInit.DISTRIBUTION, dist),
    ):
        assert g.list().layer(DenseLayer(n_in=2, n_out=2)).build().confs[0].layer.weight_init == expected
    # a later weightInit(...) wins over a DISTRIBUTION still waiting for its distribution
    g = Global().weightInit(WeightInit.DISTRIBUTION).weightInit(WeightInit.RELU)
    assert g.list().layer(DenseLayer(n_in=2, n_out=2)).build().confs[0].layer.weight_init == WeightInitRelu()


def test_global_builder_clone_is_independent():
    g = Global().seed(1).l1(0.1)
    h = g.clone().l2(0.2)
    layer = DenseLayer(n_in=2, n_out=2)
    assert g.list().layer(layer).build().confs[0].layer.regularization == [L1(0.1)]
    assert h.list().layer(layer).build().confs[0].layer.regularization == [L1(0.1), L2(0.2)]
