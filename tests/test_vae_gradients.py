"""VariationalAutoencoder engine: float64 gradient checks of pretraining (with injected noise) and of supervised
backprop (the configurations of DL4J's VaeGradientCheckTests, spec vae.md §8), an independent NumPy check of the
pretraining score, supervised/pretraining parameter isolation, float32 vs float64, and allocation."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dl4py import DataType
from dl4py.activations import Activation
from dl4py.gradientcheck import GradientCheckUtil, check_flat_gradient
from dl4py.learning.config import Adam, NoOp, Sgd
from dl4py.learning.regularization import L1Regularization
from dl4py.lossfunctions import LossFunctions
from dl4py.lossfunctions import impl as losses
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import DenseLayer, OutputLayer
from dl4py.nn.conf.layers.variational import (
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    VariationalAutoencoder,
)
from dl4py.nn.multilayer import MultiLayerNetwork

A = Activation


def vae_net(dist=None, n_in=4, n_out=3, enc=(5,), dec=(4,), act=A.TANH, pzx=A.IDENTITY, samples=1,
            dtype=DataType.DOUBLE, updater=None, reg=(), seed=12345, extra_layers=(), **layer_opts):
    b = NeuralNetConfiguration.Builder().seed(seed).dataType(dtype).updater(updater or NoOp())
    for name, value in reg:
        getattr(b, name)(value)
    vb = (VariationalAutoencoder.Builder().nIn(n_in).nOut(n_out).encoderLayerSizes(*enc).decoderLayerSizes(*dec)
          .activation(act).pzxActivationFunction(pzx).numSamples(samples))
    if dist is not None:
        vb.reconstructionDistribution(dist)
    for name, value in layer_opts.items():
        getattr(vb, name)(value)
    lb = b.list().layer(vb.build())
    for layer in extra_layers:
        lb.layer(layer)
    net = MultiLayerNetwork(lb.build())
    net.init()
    return net


def full_regularization_gradient(layer) -> np.ndarray:
    """∂R/∂θ over all layer parameters (pretraining regularises the pretrain-only ones too)."""
    out = np.zeros(layer.num_params)
    conf, off = layer.conf, 0
    for key in layer.keys:
        n = layer.param_sizes[key]
        w = layer.param_flat[off : off + n]
        for r in conf.regularization if key.endswith("W") else conf.regularization_bias:
            c = r.coefficient(0, 0)
            out[off : off + n] += c * (np.sign(w) if isinstance(r, L1Regularization) else w)
        off += n
    return out


def check_pretrain_gradient(net, x, seed=7):
    """DL4J's pretraining consistency check: raw gradient / N + regularisation gradient == central differences
    of the score (same noise for every evaluation), relative error 1e-3, ε 1e-6, absolute floor 1e-8."""
    layer = net.getLayer(0)
    n = x.shape[0]
    eps = np.random.default_rng(seed).standard_normal((layer.num_samples, n, layer.n_out))
    score, raw = layer.computeGradientAndScore(x, noise=eps)
    assert math.isfinite(score)
    assert raw.shape == (layer.num_params,)
    analytic = raw / n + full_regularization_gradient(layer)
    result = check_flat_gradient(lambda: layer.computeGradientAndScore(x, noise=eps)[0], layer.param_flat,
                                 analytic, 1e-6, 1e-3, 1e-8)
    assert result.passed, f"{len(result.failures)} of {result.checked} failed, e.g. {result.failures[:3]}"
    assert result.checked == layer.num_params
    return result


def data(kind, n, d, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "binary":
        return (rng.random((n, d)) < 0.5).astype(np.float64)
    if kind == "positive":
        return rng.uniform(0.05, 2.0, (n, d))
    return rng.uniform(-1.0, 1.0, (n, d))


REGS = {
    "none": (),
    "l1l2": (("l1", 0.01), ("l2", 0.02)),
    "bias": (("l1Bias", 0.03), ("l2Bias", 0.04)),
    "all": (("l1", 0.01), ("l2", 0.02), ("l1Bias", 0.03), ("l2Bias", 0.04)),
}

# DL4J's testVaePretrain grid: layer sizes x hidden activation x pzx activation (Gaussian(tanh) reconstruction)
SIZES = [((5,), (4,)), ((3, 4), (2,)), ((3, 4), (4, 3))]
PRETRAIN_CASES = [
    (sizes, act, pzx, reg, mb)
    for (sizes, (act, pzx), reg, mb) in zip(
        itertools.cycle(SIZES),
        [(A.IDENTITY, A.IDENTITY), (A.TANH, A.IDENTITY), (A.SOFTSIGN, A.TANH), (A.TANH, A.TANH),
         (A.IDENTITY, A.TANH), (A.SOFTSIGN, A.IDENTITY)],
        itertools.cycle(REGS),
        itertools.cycle([1, 2, 3]),
    )
]


@pytest.mark.parametrize("sizes,act,pzx,reg,mb", PRETRAIN_CASES)
def test_pretrain_gradient_activations(sizes, act, pzx, reg, mb):
    enc, dec = sizes
    net = vae_net(GaussianReconstructionDistribution(A.TANH), n_in=4, enc=enc, dec=dec, act=act, pzx=pzx,
                  reg=REGS[reg])
    check_pretrain_gradient(net, data("real", mb, 4))


def _composite():
    return (CompositeReconstructionDistribution.Builder()
            .addDistribution(1, GaussianReconstructionDistribution(A.IDENTITY))
            .addDistribution(1, BernoulliReconstructionDistribution())
            .addDistribution(1, GaussianReconstructionDistribution(A.TANH))
            .build())


DISTRIBUTIONS = {
    "gaussian-identity": (lambda: GaussianReconstructionDistribution(A.IDENTITY), "real", 4),
    "gaussian-tanh": (lambda: GaussianReconstructionDistribution(A.TANH), "real", 4),
    "bernoulli": (lambda: BernoulliReconstructionDistribution(A.SIGMOID), "binary", 4),
    "exponential-tanh": (lambda: ExponentialReconstructionDistribution(A.TANH), "positive", 4),
    "composite": (_composite, "mixed", 3),
    "loss-mse": (lambda: LossFunctionWrapper(A.TANH, losses.LossMSE()), "real", 4),
}


@pytest.mark.parametrize("samples", [1, 3])
@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_pretrain_gradient_distributions(name, samples):
    make, kind, d = DISTRIBUTIONS[name]
    x = data("binary" if kind == "mixed" else kind, 3, d)
    if kind == "mixed":
        x[:, 0] = data("real", 3, 1, 1)[:, 0]
        x[:, 2] = data("real", 3, 1, 2)[:, 0]
    net = vae_net(make(), n_in=d, enc=(3, 4), dec=(4, 3), act=A.TANH, pzx=A.TANH, samples=samples,
                  reg=REGS["all" if samples == 3 else "l1l2"])
    check_pretrain_gradient(net, x)


LOSS_CASES = [
    (losses.LossMSE(), A.TANH, "real"), (losses.LossL2(), A.IDENTITY, "real"), (losses.LossL1(), A.IDENTITY, "real"),
    (losses.LossMAE(), A.IDENTITY, "real"), (losses.LossBinaryXENT(), A.SIGMOID, "binary"),
    (losses.LossMCXENT(), A.SOFTMAX, "onehot"), (losses.LossNegativeLogLikelihood(), A.SOFTMAX, "onehot"),
    (losses.LossKLD(), A.SIGMOID, "prob"), (losses.LossCosineProximity(), A.TANH, "real"),
    (losses.LossHinge(), A.IDENTITY, "sign"), (losses.LossSquaredHinge(), A.IDENTITY, "sign"),
    (losses.LossMAPE(), A.IDENTITY, "positive"), (losses.LossMSLE(), A.SIGMOID, "prob"),
    (losses.LossPoisson(), A.SOFTPLUS, "positive"), (losses.LossWasserstein(), A.IDENTITY, "real"),
]


@pytest.mark.parametrize("loss,act,kind", LOSS_CASES, ids=[type(c[0]).__name__ for c in LOSS_CASES])
def test_pretrain_gradient_every_loss_wrapper(loss, act, kind):
    rng = np.random.default_rng(5)
    if kind == "onehot":
        x = np.eye(4)[rng.integers(0, 4, 3)]
    elif kind == "sign":
        x = np.sign(rng.normal(size=(3, 4)))
    elif kind == "prob":
        x = rng.uniform(0.1, 0.9, (3, 4))
    else:
        x = data(kind, 3, 4)
    net = vae_net(LossFunctionWrapper(act, loss), samples=2, reg=REGS["l1l2"])
    check_pretrain_gradient(net, x)


@pytest.mark.parametrize("samples", [1, 3])
def test_pretrain_gradient_nested_composite_with_loss_wrapper(samples):
    inner = (CompositeReconstructionDistribution.Builder()
             .addDistribution(1, BernoulliReconstructionDistribution())
             .addDistribution(2, ExponentialReconstructionDistribution(A.TANH)).build())
    dist = (CompositeReconstructionDistribution.Builder()
            .addDistribution(1, GaussianReconstructionDistribution(A.TANH))
            .addDistribution(3, inner)
            .addDistribution(2, LossFunctionWrapper(A.TANH, losses.LossMSE())).build())
    x = data("positive", 3, 6)
    x[:, 1] = (x[:, 1] > 1.0)
    net = vae_net(dist, n_in=6, enc=(4,), dec=(5,), act=A.SOFTSIGN, samples=samples, reg=REGS["all"])
    assert net.getLayer(0).p_size == 2 + 1 + 2 + 2
    check_pretrain_gradient(net, x)


# ----------------------------------------------------------------------------------------------------------------
# supervised backprop through VAE + output layer (DL4J's testVaeAsMLP)
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act,pzx,reg,mb", [
    (A.TANH, A.IDENTITY, "none", 3), (A.SOFTSIGN, A.TANH, "l1l2", 2), (A.IDENTITY, A.TANH, "bias", 1),
    (A.LEAKYRELU, A.SIGMOID, "all", 5),
])
def test_supervised_gradient_vae_as_mlp(act, pzx, reg, mb):
    net = vae_net(None, n_in=4, n_out=3, enc=(5, 4), dec=(4, 3), act=act, pzx=pzx, reg=REGS[reg], extra_layers=[
        OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(A.SOFTMAX).build()])
    rng = np.random.default_rng(mb)
    x = rng.normal(size=(mb, 4))
    y = np.eye(3)[rng.integers(0, 3, mb)]
    assert GradientCheckUtil.checkGradients(net, x, y), net.last_gradient_check.failures[:3]
    # the pretrain-only gradient slots stay 0 in supervised backprop
    _, grad = net.computeGradientAndScore(x, y)
    layer = net.getLayer(0)
    off = 0
    for key in layer.keys:
        n = layer.param_sizes[key]
        if layer.isPretrainParam(key):
            assert not np.any(grad[off : off + n]), key
        else:
            assert np.any(grad[off : off + n]), key
        off += n


def test_supervised_fit_leaves_pretrain_params_and_pretraining_changes_them():
    net = vae_net(None, n_in=4, n_out=3, enc=(5,), dec=(4,), dtype=DataType.FLOAT, updater=Adam(1e-2),
                  reg=REGS["l1l2"], extra_layers=[
                      DenseLayer.Builder().nOut(4).activation(A.TANH).build(),
                      OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(A.SOFTMAX).build()])
    layer = net.getLayer(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    before = {k: v.copy() for k, v in layer.params.items()}
    net.pretrainLayer(0, x)
    assert all(np.any(before[k] != v) for k, v in layer.params.items())
    assert net.getLayerWiseConfigurations().confs[0].iteration_count == 1
    before = {k: v.copy() for k, v in layer.params.items()}
    updater_state = net.updaterState().copy()
    for _ in range(3):
        net.fit(x, y)
    for key, value in layer.params.items():
        changed = bool(np.any(before[key] != value))
        assert changed == (not layer.isPretrainParam(key)), key
    # the network's updater never touched the pretrain blocks; pretraining kept its own state
    for block in net.getUpdater().blocks:
        if block.pretrain:
            s = slice(block.state_offset, block.state_offset + block.state_length)
            np.testing.assert_array_equal(net.updaterState()[s], updater_state[s])
    assert net.pretrain_updater(0).state.any()


# ----------------------------------------------------------------------------------------------------------------
# an independent NumPy evaluation of DL4J's pretraining score (the gradient checks prove score/gradient
# consistency; this proves the score is DL4J's formula)
# ----------------------------------------------------------------------------------------------------------------
def _numpy_score(layer, x, eps, act, pzx, dist_nll):
    p = layer.params
    h = x
    for i in range(len(layer.enc_sizes)):
        h = act(h @ p[f"e{i}W"] + p[f"e{i}b"])
    mu = pzx(h @ p["pZXMeanW"] + p["pZXMeanb"])
    lv = pzx(h @ p["pZXLogStd2W"] + p["pZXLogStd2b"])
    n = x.shape[0]
    kl = -0.5 * np.sum(1 + lv - mu**2 - np.exp(lv)) / n
    rec = 0.0
    for l in range(eps.shape[0]):
        u = mu + np.sqrt(np.exp(lv)) * eps[l]
        for j in range(len(layer.dec_sizes)):
            u = act(u @ p[f"d{j}W"] + p[f"d{j}b"])
        rec += dist_nll(x, u @ p["pXZW"] + p["pXZb"]) / n
    return kl + rec / eps.shape[0]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _bernoulli_nll(x, o):
    pr = _sigmoid(o)
    with np.errstate(divide="ignore"):
        a, b = np.log(pr), np.log(1 - pr)
    a[np.isinf(a)] = 0
    b[np.isinf(b)] = 0
    return -np.sum(x * a + (1 - x) * b)


def _gaussian_tanh_nll(x, o):
    a = np.tanh(o)
    d = x.shape[1]
    mu, lv = a[:, :d], a[:, d:]
    return np.sum(0.5 * np.log(2 * np.pi) + 0.5 * lv + (x - mu) ** 2 / (2 * np.exp(lv)))


def _exponential_nll(x, o):
    g = np.tanh(o)
    return np.sum(np.exp(g) * x - g)


@pytest.mark.parametrize("name,dist,kind,nll", [
    ("bernoulli", BernoulliReconstructionDistribution(), "binary", _bernoulli_nll),
    ("gaussian", GaussianReconstructionDistribution(A.TANH), "real", _gaussian_tanh_nll),
    ("exponential", ExponentialReconstructionDistribution(A.TANH), "positive", _exponential_nll),
])
def test_pretrain_score_is_dl4js_formula(name, dist, kind, nll):
    net = vae_net(dist, n_in=5, enc=(6, 4), dec=(4, 6), act=A.TANH, pzx=A.TANH, samples=3, reg=REGS["all"])
    layer = net.getLayer(0)
    x = data(kind, 4, 5)
    eps = np.random.default_rng(1).standard_normal((3, 4, 3))
    score, _ = layer.computeGradientAndScore(x, noise=eps)
    expected = _numpy_score(layer, x, eps, np.tanh, np.tanh, nll) + layer.regularization_score(False, 0, 0)
    reg = 0.0
    for key in layer.keys:
        w = layer.params[key]
        if key.endswith("W"):
            reg += 0.01 * np.abs(w).sum() + 0.5 * 0.02 * (w**2).sum()
        else:
            reg += 0.03 * np.abs(w).sum() + 0.5 * 0.04 * (w**2).sum()
    assert layer.regularization_score(False, 0, 0) == pytest.approx(reg, rel=1e-12)
    assert score == pytest.approx(expected, rel=1e-12)
    assert layer.score() == score


def test_noise_contract_and_reproducibility():
    net = vae_net(BernoulliReconstructionDistribution(), samples=2)
    layer = net.getLayer(0)
    x = data("binary", 3, 4)
    eps = np.random.default_rng(0).standard_normal((2, 3, 3))
    s1, g1 = layer.computeGradientAndScore(x, noise=eps)
    s2, g2 = layer.computeGradientAndScore(x, noise=eps)
    assert s1 == s2 and np.array_equal(g1, g2)
    # drawn noise: from the network's generator, different every call, reproducible from the seed
    net.rng = np.random.default_rng(99)
    s3, _ = layer.computeGradientAndScore(x)
    s4, _ = layer.computeGradientAndScore(x)
    net.rng = np.random.default_rng(99)
    s5, _ = layer.computeGradientAndScore(x)
    assert s3 != s4 and s3 == s5
    # drawn noise == the same values passed explicitly (sample-major [L, N, K])
    net.rng = np.random.default_rng(99)
    drawn = np.random.default_rng(99).standard_normal((2 * 3, 3)).reshape(2, 3, 3)
    assert layer.computeGradientAndScore(x, noise=drawn)[0] == s5
    with pytest.raises(ValueError, match="noise"):
        layer.computeGradientAndScore(x, noise=eps[0])


def test_pretrain_through_network_matches_layer_gradient_and_updates():
    net = vae_net(GaussianReconstructionDistribution(A.IDENTITY), updater=Sgd(0.1), reg=REGS["l1l2"])
    layer = net.getLayer(0)
    x = data("real", 4, 4)
    net.rng = np.random.default_rng(3)
    score, raw = layer.computeGradientAndScore(x)
    before = net.params().copy()
    net.rng = np.random.default_rng(3)
    net.pretrainLayer(0, x)
    assert net.score() == pytest.approx(score, rel=1e-12)
    expected = before - 0.1 * (raw / 4 + full_regularization_gradient_at(layer, before))
    np.testing.assert_allclose(net.params(), expected, rtol=1e-12, atol=1e-14)


def full_regularization_gradient_at(layer, params):
    saved = layer.param_flat.copy()
    layer.param_flat[:] = params
    try:
        return full_regularization_gradient(layer)
    finally:
        layer.param_flat[:] = saved


def test_stacked_vaes_pretrain_layer_one_on_layer_zero_output():
    """pretrainLayer(1, x) feeds layer 1 the inference output of layer 0 (DL4J's intent; its code has an index
    bug and would feed the raw 6-column features to a layer expecting 3)."""
    second = (VariationalAutoencoder.Builder().nOut(2).encoderLayerSizes(4).decoderLayerSizes(4)
              .activation(A.TANH).reconstructionDistribution(GaussianReconstructionDistribution()).build())
    net = vae_net(GaussianReconstructionDistribution(), n_in=6, n_out=3, extra_layers=[second],
                  updater=Sgd(0.05))
    assert net.getLayer(1).n_in == 3
    x = data("real", 5, 6)
    p0 = {k: v.copy() for k, v in net.getLayer(0).params.items()}
    p1 = net.getLayer(1).param_flat.copy()
    net.pretrainLayer(1, x)
    assert all(np.array_equal(p0[k], v) for k, v in net.getLayer(0).params.items())
    assert np.any(net.getLayer(1).param_flat != p1)
    net.pretrain([(x, None)])
    assert net.getLayerWiseConfigurations().confs[0].epoch_count == 1


# ----------------------------------------------------------------------------------------------------------------
# float32 fast path vs float64, and allocation
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bernoulli", "gaussian-tanh", "exponential-tanh", "composite"])
def test_float32_agrees_with_float64(name):
    make, kind, d = DISTRIBUTIONS[name]
    d = d * 5
    if name == "composite":
        make = lambda: (CompositeReconstructionDistribution.Builder()  # noqa: E731
                        .addDistribution(5, GaussianReconstructionDistribution(A.IDENTITY))
                        .addDistribution(5, BernoulliReconstructionDistribution())
                        .addDistribution(5, GaussianReconstructionDistribution(A.TANH)).build())
    x = data("binary" if kind == "mixed" else kind, 16, d)
    nets = [vae_net(make(), n_in=d, n_out=4, enc=(24, 16), dec=(16, 24), act=A.LEAKYRELU, pzx=A.TANH, samples=2,
                    dtype=dt, reg=REGS["l1l2"]) for dt in (DataType.DOUBLE, DataType.FLOAT)]
    nets[1].setParams(nets[0].params().astype(np.float32))
    nets[0].setParams(nets[1].params().astype(np.float64))  # identical (float32-representable) parameters
    eps = np.random.default_rng(2).standard_normal((2, 16, 4))
    s64, g64 = nets[0].getLayer(0).computeGradientAndScore(x, noise=eps)
    s32, g32 = nets[1].getLayer(0).computeGradientAndScore(x.astype(np.float32), noise=eps.astype(np.float32))
    assert g32.dtype == np.float32
    assert s32 == pytest.approx(s64, rel=2e-6)
    scale = np.abs(g64).max()
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-5 * scale)
    out64 = nets[0].output(x)
    np.testing.assert_allclose(nets[1].output(x.astype(np.float32)), out64, rtol=1e-4, atol=1e-6)


def test_pretraining_step_allocates_almost_nothing():
    import tracemalloc

    net = vae_net(BernoulliReconstructionDistribution(), n_in=784, n_out=32, enc=(256, 256), dec=(256, 256),
                  act=A.LEAKYRELU, dtype=DataType.FLOAT, updater=Adam(1e-3), reg=(("l2", 1e-4),))
    x = data("binary", 64, 784).astype(np.float32)
    net.pretrainLayer(0, x)  # warm-up: workspaces, pretraining updater state
    net.pretrainLayer(0, x)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            net.pretrainLayer(0, x)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\npretraining step (batch 64): traced peak {peak - base} bytes, retained {current - base} bytes")
    assert peak - base < 20_000
