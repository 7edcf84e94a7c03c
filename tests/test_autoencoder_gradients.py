"""AutoEncoder engine: float64 gradient checks of pretraining (every loss × activation it makes sense for, with and
without corruption, sparsity and L1/L2) and of supervised backprop (DL4J's own gradient-check configuration),
mask statistics, encode/decode helpers, validation, and JSON round trips including DL4J's defaults."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dl4py.exceptions import DL4JInvalidConfigException, DL4JInvalidInputException
from dl4py.gradientcheck import GradientCheckUtil, check_flat_gradient, regularization_gradient
from dl4py.learning.config import NoOp, Sgd
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import MultiLayerConfiguration, NeuralNetConfiguration
from dl4py.nn.conf.distribution import NormalDistribution
from dl4py.nn.conf.enums import DataType
from dl4py.nn.conf.layers import DEFAULT_CORRUPTION_LEVEL, AutoEncoder, OutputLayer
from dl4py.nn.layers.autoencoder import AutoEncoderEngine
from dl4py.nn.multilayer import MultiLayerNetwork

LF = LossFunctions.LossFunction
N_IN, N_OUT, N = 6, 4, 5

ALL_ACTS = ("sigmoid", "tanh", "relu", "identity")
#: pretraining losses and the activations under which each is defined on its inputs
LOSS_ACTIVATIONS = {
    LF.MSE: ALL_ACTS,
    LF.SQUARED_LOSS: ALL_ACTS,
    LF.L2: ALL_ACTS,
    LF.L1: ALL_ACTS,
    LF.MEAN_ABSOLUTE_ERROR: ALL_ACTS,
    LF.XENT: ("sigmoid",),
    LF.MCXENT: ("softmax", "sigmoid"),
    LF.NEGATIVELOGLIKELIHOOD: ("softmax",),
    LF.KL_DIVERGENCE: ("sigmoid", "softmax"),
    LF.RECONSTRUCTION_CROSSENTROPY: ("sigmoid", "softmax"),
    LF.COSINE_PROXIMITY: ALL_ACTS,
    LF.HINGE: ("tanh", "identity"),
    LF.SQUARED_HINGE: ("tanh", "identity"),
    LF.MEAN_ABSOLUTE_PERCENTAGE_ERROR: ALL_ACTS,
    LF.MEAN_SQUARED_LOGARITHMIC_ERROR: ("sigmoid", "relu"),
    LF.POISSON: ("sigmoid", "softplus"),
    LF.WASSERSTEIN: ALL_ACTS,
}
CASES = [(lf, act) for lf, acts in LOSS_ACTIVATIONS.items() for act in acts]


def _ae_net(dtype=DataType.DOUBLE, reg=False, n_in=N_IN, n_out=N_OUT, seed=12345, **ae):
    g = NeuralNetConfiguration.Builder().dataType(dtype).seed(seed).updater(Sgd(0.1))
    if reg:
        g = g.l1(0.01).l2(0.2).l1Bias(0.03).l2Bias(0.1)
    builder = AutoEncoder.Builder().nIn(n_in).nOut(n_out)
    for key, value in ae.items():
        getattr(builder, key)(value)
    return MultiLayerNetwork(g.list().layer(builder.build()).build()).init()


def _data(lf, rng, n=N, n_in=N_IN):
    if lf in (LF.HINGE, LF.SQUARED_HINGE):
        return rng.choice([-1.0, 1.0], size=(n, n_in))
    if lf in (LF.MCXENT, LF.NEGATIVELOGLIKELIHOOD):
        x = rng.uniform(0.05, 1.0, (n, n_in))
        return x / x.sum(axis=1, keepdims=True)
    return rng.uniform(0.05, 0.95, (n, n_in))


def _check_pretrain(net, x, mask):
    layer = net.getLayer(0)
    n = x.shape[0]
    score, raw = layer.computeGradientAndScore(x, mask=mask)
    assert np.isfinite(score)
    analytic = raw / n + regularization_gradient(net)

    def f():
        return layer.computeGradientAndScore(x, mask=mask)[0]

    result = check_flat_gradient(f, layer.param_flat, analytic, epsilon=1e-6, max_rel_error=1e-3,
                                 min_absolute_error=1e-8)
    assert result.checked == layer.num_params
    assert result.passed, f"failures (index, analytic, numeric, rel): {result.failures[:5]}"
    return score, raw


@pytest.mark.parametrize("lf,act", CASES, ids=[f"{lf.name}-{act}" for lf, act in CASES])
@pytest.mark.parametrize("corrupt", [False, True], ids=["clean", "masked"])
@pytest.mark.parametrize("reg", [False, True], ids=["noreg", "l1l2"])
def test_pretrain_gradient(lf, act, corrupt, reg):
    rng = np.random.default_rng(7)
    net = _ae_net(reg=reg, lossFunction=lf, activation=act, corruptionLevel=0.3 if corrupt else 0.0)
    x = _data(lf, rng)
    mask = (rng.random(x.shape) >= 0.3).astype(np.float64) if corrupt else None
    if corrupt:
        assert 0 < mask.sum() < mask.size
    _check_pretrain(net, x, mask)


SPARSE_CASES = [(lf, act) for lf, act in CASES if act in ("sigmoid", "softmax")]


@pytest.mark.parametrize("lf,act", SPARSE_CASES, ids=[f"{lf.name}-{act}" for lf, act in SPARSE_CASES])
@pytest.mark.parametrize("reg", [False, True], ids=["noreg", "l1l2"])
def test_pretrain_gradient_with_sparsity(lf, act, reg):
    rng = np.random.default_rng(11)
    net = _ae_net(reg=reg, lossFunction=lf, activation=act, sparsity=0.05)
    x = _data(lf, rng)
    mask = (rng.random(x.shape) >= 0.3).astype(np.float64)
    _check_pretrain(net, x, mask)


def test_sparsity_penalty_formula_and_zero_at_zero():
    """score(ρ) − score(0) = β·Σ_j KL(ρ‖mean_n h_nj) with β = 1; nothing at all for ρ = 0."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (8, N_IN))
    base = _ae_net(lossFunction=LF.MSE, corruptionLevel=0.0)
    sparse = _ae_net(lossFunction=LF.MSE, corruptionLevel=0.0, sparsity=0.1)
    sparse.setParams(base.params())
    s0, g0 = base.getLayer(0).computeGradientAndScore(x)
    s1, g1 = sparse.getLayer(0).computeGradientAndScore(x)
    h = base.getLayer(0).encode(x)
    rho, q = 0.1, h.mean(axis=0)
    kl = np.sum(rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q)))
    assert AutoEncoderEngine.SPARSITY_WEIGHT == 1.0
    assert s1 - s0 == pytest.approx(kl, rel=1e-10)
    assert not np.allclose(g0, g1)
    # a different weight scales the penalty
    sparse.getLayer(0).sparsity_weight = 3.0
    s3, _ = sparse.getLayer(0).computeGradientAndScore(x)
    assert s3 - s0 == pytest.approx(3 * kl, rel=1e-10)


def test_sparsity_requires_unit_interval_activation():
    with pytest.raises(DL4JInvalidConfigException, match="sparsity"):
        _ae_net(activation="tanh", sparsity=0.05)
    with pytest.raises(DL4JInvalidConfigException, match="sparsity"):
        _ae_net(activation="relu", sparsity=0.05)
    _ae_net(activation="tanh", sparsity=0.0)  # no penalty: any activation
    _ae_net(activation="hardsigmoid", sparsity=0.05)


def test_sparse_mcxent_refused():
    with pytest.raises(DL4JInvalidConfigException, match="SPARSE_MCXENT"):
        _ae_net(lossFunction=LF.SPARSE_MCXENT)


def test_score_is_loss_of_clean_input_with_single_activation():
    """score = L(x, act(act⁻¹-free decoder pre-activation))/N against the CLEAN input (not DL4J's double activation
    or corrupted target), plus the regularisation of W and b (not vb)."""
    rng = np.random.default_rng(5)
    net = _ae_net(lossFunction=LF.XENT, activation="sigmoid", reg=True)
    layer = net.getLayer(0)
    x = rng.uniform(0.05, 0.95, (N, N_IN))
    mask = (rng.random(x.shape) >= 0.5).astype(np.float64)
    score, _ = layer.computeGradientAndScore(x, mask=mask)
    W, b, vb = layer.params["W"], layer.params["b"], layer.params["vb"]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    xhat = sig(sig((x * mask) @ W + b) @ W.T + vb)
    xent = -np.sum(x * np.log(xhat) + (1 - x) * np.log(1 - xhat)) / N
    reg = 0.01 * np.abs(W).sum() + 0.5 * 0.2 * (W ** 2).sum() + 0.03 * np.abs(b).sum() + 0.5 * 0.1 * (b ** 2).sum()
    assert score == pytest.approx(xent + reg, rel=1e-10)


def test_gradient_descends():
    """Unlike DL4J's sign-flipped gradient, a plain SGD step on dl4py's gradient lowers the score."""
    rng = np.random.default_rng(9)
    net = _ae_net(lossFunction=LF.MSE, activation="sigmoid", n_in=10, n_out=6)
    layer = net.getLayer(0)
    x = rng.uniform(0, 1, (20, 10))
    mask = (rng.random(x.shape) >= 0.3).astype(np.float64)
    s0, g = layer.computeGradientAndScore(x, mask=mask)
    layer.param_flat -= 0.5 * g / 20
    s1, _ = layer.computeGradientAndScore(x, mask=mask)
    assert s1 < s0


# ----------------------------------------------------------------------------------------------------------------
# supervised backprop through AutoEncoder + OutputLayer (DL4J's GradientCheckTests AutoEncoder configuration)
# ----------------------------------------------------------------------------------------------------------------
_L2 = (0.0, 0.01, 0.0, 0.6)
_L1 = (0.0, 0.0, 0.5, 0.0)
_L2B = (0.0, 0.0, 0.0, 0.2)
_L1B = (0.0, 0.0, 0.6, 0.0)
_OUT = ((LF.MCXENT, "softmax"), (LF.MSE, "tanh"))


def _supervised_net(afn, lf, out_act, k, updater=None):
    conf = (
        NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE)
        .l2(_L2[k]).l1(_L1[k]).l2Bias(_L2B[k]).l1Bias(_L1B[k])
        .updater(updater or NoOp()).seed(12345).weightInit(NormalDistribution(0, 1))
        .list()
        .layer(0, AutoEncoder.Builder().nIn(4).nOut(3).activation(afn).build())
        .layer(1, OutputLayer.Builder(lf).nIn(3).nOut(3).activation(out_act).build())
        .build()
    )
    return MultiLayerNetwork(conf).init()


def _iris_like(rng, n=30):
    """Standardised 4-feature data with 3 classes (stand-in for DL4J's normalised Iris minibatch)."""
    labels = rng.integers(0, 3, n)
    centres = rng.normal(0, 1.5, (3, 4))
    x = centres[labels] + rng.normal(0, 1, (n, 4))
    x = (x - x.mean(0)) / x.std(0)
    return x, np.eye(3)[labels]


@pytest.mark.parametrize("afn", ["sigmoid", "tanh"])
@pytest.mark.parametrize("lf,out_act", _OUT, ids=["mcxent-softmax", "mse-tanh"])
@pytest.mark.parametrize("k", range(4))
@pytest.mark.parametrize("learn_first", [False, True], ids=["init", "trained"])
def test_supervised_gradient(afn, lf, out_act, k, learn_first):
    rng = np.random.default_rng(12345)
    x, y = _iris_like(rng)
    net = _supervised_net(afn, lf, out_act, k, Sgd(0.1) if learn_first else None)
    if learn_first:
        # DL4J's doLearningFirst: train a little (the score must fall), then check at the trained point
        before = net.score((x, y))
        for _ in range(10):
            net.fit(x, y)
        assert net.score((x, y)) < before
    assert GradientCheckUtil.checkGradients(net, x, y, epsilon=1e-6, maxRelError=1e-3, minAbsoluteError=1e-8)
    # the vb slot of the backprop gradient is exactly zero
    net.computeGradientAndScore(x, y)
    assert np.all(net.getLayer(0).grads["vb"] == 0)


def test_supervised_gradient_with_dropout_uses_one_mask():
    """dl4py's training-mode forward applies the dropout mask its backprop uses (DL4J's encode skips dropout while
    its backprop applies it): with the Generator reseeded before each evaluation the gradient checks exactly."""
    rng = np.random.default_rng(21)
    x, y = _iris_like(rng, 12)
    conf = (
        NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(3).updater(NoOp())
        .list()
        .layer(AutoEncoder.Builder().nIn(4).nOut(3).activation("tanh").dropOut(0.6).build())
        .layer(OutputLayer.Builder(LF.MCXENT).nIn(3).nOut(3).activation("softmax").build())
        .build()
    )
    net = MultiLayerNetwork(conf).init()

    def reseed():
        net.rng = np.random.default_rng(99)

    reseed()
    _, raw = net.computeGradientAndScore(x, y)
    analytic = raw / x.shape[0]

    def f():
        reseed()
        return net.score((x, y), True)

    result = check_flat_gradient(f, net.params(), analytic)
    assert result.passed, result.failures[:5]
    reseed()
    dropped = net.output(x, True)
    assert not np.allclose(dropped, net.output(x))  # dropout is active in training mode, not at inference


def test_supervised_fit_leaves_vb_untouched():
    rng = np.random.default_rng(0)
    x, y = _iris_like(rng, 40)
    conf = (
        NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(1).updater(Sgd(0.5)).l2(0.01)
        .list()
        .layer(AutoEncoder.Builder().nIn(4).nOut(3).activation("sigmoid").visibleBiasInit(0.25).build())
        .layer(OutputLayer.Builder(LF.MCXENT).nIn(3).nOut(3).activation("softmax").build())
        .build()
    )
    net = MultiLayerNetwork(conf).init()
    layer = net.getLayer(0)
    np.testing.assert_array_equal(layer.params["vb"], 0.25)  # visibleBiasInit
    w0, vb0 = layer.params["W"].copy(), layer.params["vb"].copy()
    for _ in range(5):
        net.fit(x, y)
    np.testing.assert_array_equal(layer.params["vb"], vb0)
    assert not np.allclose(layer.params["W"], w0)
    assert net.numParams(True) == 4 * 3 + 3 + 3 * 3 + 3
    assert list(net.paramTable(True)) == ["0_W", "0_b", "1_W", "1_b"]
    assert list(net.paramTable()) == ["0_W", "0_b", "0_vb", "1_W", "1_b"]


def test_supervised_score_counts_only_w_and_b_regularisation():
    rng = np.random.default_rng(1)
    x, y = _iris_like(rng, 10)
    net = _supervised_net("sigmoid", LF.MCXENT, "softmax", 3)
    layer = net.getLayer(0)
    layer.params["vb"][...] = 5.0  # would add ½·0.2·Σvb² if vb were regularised
    s = net.score((x, y))
    layer.params["vb"][...] = 0.0
    assert net.score((x, y)) == pytest.approx(s, rel=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# corruption mask
# ----------------------------------------------------------------------------------------------------------------
def test_mask_fraction_matches_corruption_level():
    net = _ae_net(dtype=DataType.FLOAT, n_in=400, n_out=8, corruptionLevel=0.3)
    layer = net.getLayer(0)
    x = np.ones((250, 400), dtype=np.float32)
    corrupted = layer.getCorruptedInput(x)
    assert corrupted.dtype == np.float32
    assert set(np.unique(corrupted)) <= {0.0, 1.0}
    assert abs((corrupted == 0).mean() - 0.3) < 0.005  # 100k draws: 5 standard deviations ≈ 0.0073
    # the pretraining step itself: the stacked scratch buffer holds x̃ in its second half
    layer.pretrain_gradient_and_score(x)
    xt1 = layer.ws(250).get("ae_vc", (500, 400))[250:].copy()
    assert abs((xt1 == 0).mean() - 0.3) < 0.005
    layer.pretrain_gradient_and_score(x)
    xt2 = layer.ws(250).get("ae_vc", (500, 400))[250:]
    assert not np.array_equal(xt1, xt2)  # a fresh mask every step
    assert abs((layer.getCorruptedInput(x, 0.8) == 0).mean() - 0.8) < 0.005


def test_fresh_mask_per_step_and_injected_mask_is_reproducible():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (N, N_IN))
    net = _ae_net(corruptionLevel=0.5, lossFunction=LF.MSE)
    layer = net.getLayer(0)
    s1, _ = layer.computeGradientAndScore(x)
    s2, _ = layer.computeGradientAndScore(x)
    assert s1 != s2
    mask = (rng.random(x.shape) >= 0.5).astype(np.float64)
    a = layer.computeGradientAndScore(x, mask=mask)
    b = layer.computeGradientAndScore(x, mask=mask.astype(bool))
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(DL4JInvalidInputException, match="mask"):
        layer.computeGradientAndScore(x, mask=mask[:, :3])


def test_no_corruption_at_zero_level_and_at_inference():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, (N, N_IN))
    clean = _ae_net(corruptionLevel=0.0, lossFunction=LF.MSE)
    s1, g1 = clean.getLayer(0).computeGradientAndScore(x)
    s2, g2 = clean.getLayer(0).computeGradientAndScore(x, mask=np.ones_like(x))
    assert s1 == s2
    np.testing.assert_array_equal(g1, g2)
    # inference: output / activate / encode are the uncorrupted encoding, whatever the corruption level
    noisy = _ae_net(corruptionLevel=0.9)
    layer = noisy.getLayer(0)
    W, b = layer.params["W"], layer.params["b"]
    expected = 1 / (1 + np.exp(-(x @ W + b)))
    np.testing.assert_allclose(noisy.output(x), expected, rtol=1e-12)
    np.testing.assert_allclose(noisy.output(x, True), expected, rtol=1e-12)
    np.testing.assert_allclose(layer.activate(x), expected, rtol=1e-12)
    np.testing.assert_allclose(layer.encode(x), expected, rtol=1e-12)


def test_encode_decode_reconstruct_helpers():
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 1, (N, N_IN))
    net = _ae_net(activation="tanh", visibleBiasInit=0.1)
    layer = net.getLayer(0)
    W, b, vb = layer.params["W"], layer.params["b"], layer.params["vb"]
    np.testing.assert_array_equal(vb, 0.1)
    h = np.tanh(x @ W + b)
    np.testing.assert_allclose(layer.encode(x), h, rtol=1e-12)
    np.testing.assert_allclose(layer.decode(h), np.tanh(h @ W.T + vb), rtol=1e-12)
    np.testing.assert_allclose(layer.reconstruct(x), np.tanh(h @ W.T + vb), rtol=1e-12)
    mean, sample = layer.sampleHiddenGivenVisible(x)
    assert mean is sample
    np.testing.assert_allclose(mean, h, rtol=1e-12)
    vmean, vsample = layer.sampleVisibleGivenHidden(h)
    assert vmean is vsample
    with pytest.raises(DL4JInvalidInputException):
        layer.encode(x[:, :3])
    with pytest.raises(DL4JInvalidInputException):
        layer.decode(x)


def test_pretrain_through_network_updates_all_three_params():
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 1, (N, N_IN))
    net = _ae_net(lossFunction=LF.MSE)
    layer = net.getLayer(0)
    before = {k: v.copy() for k, v in layer.params.items()}
    net.pretrainLayer(0, x)
    for key in ("W", "b", "vb"):
        assert not np.allclose(layer.params[key], before[key]), key
    assert np.isfinite(net.score())


def test_parameter_layout_matches_dl4j():
    net = _ae_net(n_in=5, n_out=3)
    layer = net.getLayer(0)
    assert layer.keys == ["W", "b", "vb"]
    assert net.numParams() == 5 * 3 + 3 + 5
    flat = net.params()
    np.testing.assert_array_equal(flat[:15], layer.params["W"].reshape(-1, order="F"))
    np.testing.assert_array_equal(flat[15:18], layer.params["b"].reshape(-1))
    np.testing.assert_array_equal(flat[18:], layer.params["vb"].reshape(-1))
    assert net.getLayerWiseConfigurations().confs[0].variables == ["W", "b", "vb"]
    assert layer.conf.isPretrainParam("vb") and not layer.conf.isPretrainParam("W")


# ----------------------------------------------------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------------------------------------------------
#: autoencoder.md §8: DL4J's JSON for ``new AutoEncoder.Builder().nIn(784).nOut(250).build()`` in a network
SPEC_JSON = {
    "@class": "org.deeplearning4j.nn.conf.layers.AutoEncoder",
    "activationFn": {"@class": "org.nd4j.linalg.activations.impl.ActivationSigmoid"},
    "biasInit": 0.0,
    "biasUpdater": None,
    "constraints": None,
    "corruptionLevel": 0.30000001192092896,
    "gainInit": 1.0,
    "gradientNormalization": "None",
    "gradientNormalizationThreshold": 1.0,
    "idropout": None,
    "iupdater": {"@class": "org.nd4j.linalg.learning.config.Sgd", "learningRate": 0.001},
    "layerName": "layer0",
    "lossFunction": "RECONSTRUCTION_CROSSENTROPY",
    "nin": 784,
    "nout": 250,
    "regularization": [],
    "regularizationBias": [],
    "sparsity": 0.0,
    "timeDistributedFormat": None,
    "visibleBiasInit": 0.0,
    "weightInitFn": {"@class": "org.deeplearning4j.nn.weights.WeightInitXavier"},
    "weightNoise": None,
}


def _default_conf():
    return (NeuralNetConfiguration.Builder().seed(42).list()
            .layer(AutoEncoder.Builder().nIn(784).nOut(250).build()).build())


def test_default_json_matches_dl4j():
    conf = _default_conf()
    text = conf.toJson()
    assert '"corruptionLevel" : 0.30000001192092896' in text
    layer = json.loads(text)["confs"][0]["layer"]
    expected = dict(SPEC_JSON)
    if "timeDistributedFormat" not in layer:
        # dl4py writes the FeedForwardLayer key set of DL4J's files before April 2020 (like the fixtures);
        # the key only ever holds null for this layer
        expected.pop("timeDistributedFormat")
    assert layer == expected
    assert conf.confs[0].layer.corruption_level == DEFAULT_CORRUPTION_LEVEL == float(np.float32(0.3))


def test_dl4j_json_with_time_distributed_format_loads():
    doc = json.loads(_default_conf().toJson())
    doc["confs"][0]["layer"] = dict(SPEC_JSON)
    conf = MultiLayerConfiguration.fromJson(json.dumps(doc))
    assert conf == _default_conf()
    layer = conf.confs[0].layer
    assert isinstance(layer, AutoEncoder)
    assert layer.corruption_level == 0.30000001192092896
    assert layer.loss_function is LF.RECONSTRUCTION_CROSSENTROPY


def test_json_round_trip_of_non_default_configs():
    conf = (
        NeuralNetConfiguration.Builder().seed(42).updater(Sgd(0.05)).l2(1e-4)
        .list()
        .layer(AutoEncoder.Builder(0.2, 0.05).nIn(64).nOut(32).lossFunction(LF.XENT).visibleBiasInit(0.1)
               .activation("sigmoid").l1Bias(0.01).build())
        .layer(AutoEncoder.Builder(0.45).nIn(32).nOut(16).activation("tanh").lossFunction(LF.MSE).build())
        .layer(AutoEncoder.Builder().corruptionLevel(0.0).nIn(16).nOut(8).build())
        .layer(OutputLayer.Builder(LF.MCXENT).nIn(8).nOut(10).activation("softmax").build())
        .build()
    )
    text = conf.toJson()
    again = MultiLayerConfiguration.fromJson(text)
    assert again == conf
    assert again.toJson() == text
    l0, l1, l2 = (c.layer for c in again.confs[:3])
    assert (l0.corruption_level, l0.sparsity, l0.loss_function, l0.visible_bias_init) == (0.2, 0.05, LF.XENT, 0.1)
    assert (l1.corruption_level, l1.sparsity) == (0.45, 0.0)
    assert l2.corruption_level == 0.0
    # the configuration drives the engine the same way after the round trip
    a, b = MultiLayerNetwork(conf).init(), MultiLayerNetwork(again).init()
    np.testing.assert_array_equal(a.params(), b.params())
    assert [c.variables for c in a.getLayerWiseConfigurations().confs[:3]] == [["W", "b", "vb"]] * 3


@pytest.mark.parametrize("option,value", [("corruptionLevel", 1.0), ("corruptionLevel", -0.1), ("sparsity", 1.0),
                                          ("sparsity", -0.5)])
def test_invalid_levels_rejected(option, value):
    with pytest.raises((DL4JInvalidConfigException, ValueError), match=option):
        getattr(AutoEncoder.Builder().nIn(3).nOut(2), option)(value).build()
