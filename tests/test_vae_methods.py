"""VariationalAutoencoder's public engine methods (spec vae.md §6, §12): inference, reconstruction probability
(DL4J's geometric mean and An & Cho's arithmetic mean), generation, reconstruction error, the DL4J exceptions."""
from __future__ import annotations

import numpy as np
import pytest

from dl4py import DataType
from dl4py.activations import Activation
from dl4py.exceptions import DL4JException, DL4JInvalidConfigException, DL4JInvalidInputException
from dl4py.learning.config import NoOp
from dl4py.lossfunctions import impl as losses
from dl4py.nn.conf import NeuralNetConfiguration
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


def vae_net(dist=None, n_in=6, n_out=3, enc=(8,), dec=(7,), act=A.TANH, pzx=A.IDENTITY, samples=1,
            dtype=DataType.FLOAT, seed=42, **layer_opts):
    vb = (VariationalAutoencoder.Builder().nIn(n_in).nOut(n_out).encoderLayerSizes(*enc).decoderLayerSizes(*dec)
          .activation(act).pzxActivationFunction(pzx).numSamples(samples))
    if dist is not None:
        vb.reconstructionDistribution(dist)
    for name, value in layer_opts.items():
        getattr(vb, name)(value)
    conf = NeuralNetConfiguration.Builder().seed(seed).dataType(dtype).updater(NoOp()).list().layer(vb.build()).build()
    net = MultiLayerNetwork(conf)
    net.init()
    return net


def composite():
    return (CompositeReconstructionDistribution.Builder()
            .addDistribution(2, GaussianReconstructionDistribution(A.IDENTITY))
            .addDistribution(2, BernoulliReconstructionDistribution())
            .addDistribution(2, ExponentialReconstructionDistribution(A.TANH)).build())


def mixed_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, 6))
    x[:, 2:4] = x[:, 2:4] > 0.5
    return x.astype(np.float32)


def _np_forward(layer, x, act=np.tanh):
    p = {k: v.astype(np.float64) for k, v in layer.params.items()}
    h = np.asarray(x, np.float64)
    for i in range(len(layer.enc_sizes)):
        h = act(h @ p[f"e{i}W"] + p[f"e{i}b"])
    return h, p


def _np_decode(layer, z, act=np.tanh):
    p = {k: v.astype(np.float64) for k, v in layer.params.items()}
    u = np.asarray(z, np.float64)
    for j in range(len(layer.dec_sizes)):
        u = act(u @ p[f"d{j}W"] + p[f"d{j}b"])
    return u @ p["pXZW"] + p["pXZb"]


# ----------------------------------------------------------------------------------------------------------------
# layout, initialisation, inference
# ----------------------------------------------------------------------------------------------------------------
def test_dl4j_parameter_count_keys_and_zero_biases():
    net = vae_net(GaussianReconstructionDistribution(), n_in=10, n_out=5, enc=(12,), dec=(13,), biasInit=0.7)
    layer = net.getLayer(0)
    assert net.numParams() == 620  # DL4J's TestVAE.testInitialization
    assert layer.keys == ["e0W", "e0b", "pZXMeanW", "pZXMeanb", "pZXLogStd2W", "pZXLogStd2b", "d0W", "d0b",
                          "pXZW", "pXZb"]
    assert layer.params["pXZW"].shape == (13, 20)
    assert net.getLayerWiseConfigurations().confs[0].variables == layer.keys
    for key in layer.keys:
        if key.endswith("b"):
            assert not np.any(layer.params[key]), key  # biasInit is ignored by DL4J's VAE
    assert list(layer.paramTable(True)) == ["e0W", "e0b", "pZXMeanW", "pZXMeanb"]
    assert layer.numParams(True) == 10 * 12 + 12 + 12 * 5 + 5
    assert layer.isPretrainLayer() and layer.isPretrainParam("d0W") and not layer.isPretrainParam("pZXMeanb")
    layer.setParam("pZXMeanb", np.arange(5))
    np.testing.assert_array_equal(net.params()[10 * 12 + 12 + 60 : 10 * 12 + 12 + 65], np.arange(5))
    with pytest.raises(DL4JInvalidInputException, match="Unknown parameter"):
        layer.setParam("W", np.zeros(3))


def test_activate_is_pzx_of_the_mean_head():
    net = vae_net(pzx=A.TANH, dtype=DataType.DOUBLE, enc=(8, 5))
    layer = net.getLayer(0)
    x = mixed_data(4).astype(np.float64)
    h, p = _np_forward(layer, x)
    m = h @ p["pZXMeanW"] + p["pZXMeanb"]
    np.testing.assert_allclose(layer.preOutput(x), m, rtol=1e-12)
    np.testing.assert_allclose(layer.activate(x), np.tanh(m), rtol=1e-12)
    np.testing.assert_allclose(net.output(x), np.tanh(m), rtol=1e-12)
    np.testing.assert_allclose(layer.pre_output(x), m, rtol=1e-12)  # snake_case aliases
    with pytest.raises(DL4JInvalidInputException, match=r"expected \[N, 6\]"):
        layer.activate(np.zeros((2, 5)))


def test_save_and_load_round_trip(tmp_path):
    net = vae_net(composite(), pzx=A.TANH)
    path = tmp_path / "vae.zip"
    net.save(path)
    again = MultiLayerNetwork.load(path)
    x = mixed_data(3)
    np.testing.assert_array_equal(again.output(x), net.output(x))
    assert type(again.getLayer(0)) is type(net.getLayer(0))


def test_init_errors():
    with pytest.raises(DL4JException):
        vae_net(n_out=0)
    with pytest.raises((DL4JException, ValueError)):
        VariationalAutoencoder.Builder().nIn(3).nOut(2).numSamples(0).build()


# ----------------------------------------------------------------------------------------------------------------
# reconstruction probability
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gaussian", "bernoulli", "composite"])
@pytest.mark.parametrize("n", [1, 5])
def test_reconstruction_probability_simple(name, n):
    """DL4J's testReconstructionDistributionsSimple: shapes N×1, probabilities in [0, 1], log-probabilities ≤ 0,
    exp(logProb) == prob."""
    dist = {"gaussian": GaussianReconstructionDistribution(), "bernoulli": BernoulliReconstructionDistribution(),
            "composite": composite()}[name]
    net = vae_net(dist)
    layer = net.getLayer(0)
    x = mixed_data(n)
    if name == "bernoulli":
        x = (x > 0.5).astype(np.float32)
    eps = np.random.default_rng(0).standard_normal((10, n, 3))
    logp = layer.reconstructionLogProbability(x, 10, noise=eps)
    prob = layer.reconstructionProbability(x, 10, noise=eps)
    assert logp.shape == prob.shape == (n, 1)
    assert logp.dtype == np.float32 and prob.dtype == np.float64  # DL4J: probability is DOUBLE
    assert np.all(logp <= 0) and np.all((prob >= 0) & (prob <= 1))
    np.testing.assert_allclose(np.exp(logp.astype(np.float64)), prob, rtol=1e-6)
    drawn = layer.reconstruction_log_probability(x, 10)  # from the network's generator
    assert drawn.shape == (n, 1) and np.all(np.isfinite(drawn))


def test_log_probability_is_dl4js_geometric_mean():
    net = vae_net(BernoulliReconstructionDistribution(), dtype=DataType.DOUBLE, pzx=A.TANH)
    layer = net.getLayer(0)
    x = (mixed_data(4) > 0.5).astype(np.float64)
    eps = np.random.default_rng(3).standard_normal((7, 4, 3))
    # independent NumPy: log p(x|z_s) for each sample
    h, p = _np_forward(layer, x)
    mu = np.tanh(h @ p["pZXMeanW"] + p["pZXMeanb"])
    sigma = np.sqrt(np.exp(np.tanh(h @ p["pZXLogStd2W"] + p["pZXLogStd2b"])))
    per_sample = []
    for s in range(7):
        q = 1 / (1 + np.exp(-_np_decode(layer, mu + sigma * eps[s])))
        per_sample.append(np.sum(x * np.log(q) + (1 - x) * np.log(1 - q), axis=1))
    per_sample = np.array(per_sample)
    geo = layer.reconstructionLogProbability(x, 7, noise=eps)[:, 0]
    np.testing.assert_allclose(geo, per_sample.mean(axis=0), rtol=1e-12)
    ari = layer.reconstructionLogProbability(x, 7, noise=eps, mean="arithmetic")[:, 0]
    np.testing.assert_allclose(ari, np.log(np.exp(per_sample).mean(axis=0)), rtol=1e-12)
    assert np.all(ari >= geo)  # AM ≥ GM
    np.testing.assert_allclose(layer.reconstructionProbabilityArithmetic(x, 7, noise=eps)[:, 0],
                               np.exp(per_sample).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.reconstructionLogProbabilityArithmetic(x, 7, noise=eps)[:, 0], ari)
    with pytest.raises(DL4JInvalidInputException, match="mean must be"):
        layer.reconstructionProbability(x, 7, mean="harmonic")


def test_log_probability_many_samples_in_chunks():
    net = vae_net(GaussianReconstructionDistribution(A.TANH), dtype=DataType.DOUBLE)
    layer = net.getLayer(0)
    x = mixed_data(2).astype(np.float64)
    eps = np.random.default_rng(4).standard_normal((5000, 2, 3))  # 10,000 decoder rows: two chunks
    full = layer.reconstructionLogProbability(x, 5000, noise=eps)
    a = layer.reconstructionLogProbability(x, 3000, noise=eps[:3000])
    b = layer.reconstructionLogProbability(x, 2000, noise=eps[3000:])
    np.testing.assert_allclose(full, (3000 * a + 2000 * b) / 5000, rtol=1e-10)
    ari = layer.reconstructionLogProbability(x, 5000, noise=eps, mean="arithmetic")
    ari_a = layer.reconstructionLogProbability(x, 3000, noise=eps[:3000], mean="arithmetic")
    ari_b = layer.reconstructionLogProbability(x, 2000, noise=eps[3000:], mean="arithmetic")
    np.testing.assert_allclose(ari, np.log((3000 * np.exp(ari_a) + 2000 * np.exp(ari_b)) / 5000), rtol=1e-10)


def test_probability_errors():
    net = vae_net(BernoulliReconstructionDistribution())
    layer = net.getLayer(0)
    x = (mixed_data(2) > 0.5).astype(np.float32)
    for bad in (0, -1):
        with pytest.raises(DL4JInvalidInputException, match="numSamples must be > 0"):
            layer.reconstructionProbability(x, bad)
        with pytest.raises(DL4JInvalidInputException, match="numSamples must be > 0"):
            layer.reconstructionLogProbability(x, bad)
    with pytest.raises(DL4JInvalidInputException, match="noise"):
        layer.reconstructionLogProbability(x, 2, noise=np.zeros((3, 2, 3)))
    with pytest.raises(DL4JInvalidInputException):
        layer.reconstructionLogProbability(np.zeros((2, 5)), 2)
    wrapper = vae_net(LossFunctionWrapper(A.TANH, losses.LossMSE())).getLayer(0)
    with pytest.raises(DL4JInvalidConfigException, match="Cannot calculate reconstruction log probability"):
        wrapper.reconstructionProbability(x, 3)
    mixed = (CompositeReconstructionDistribution.Builder()
             .addDistribution(3, BernoulliReconstructionDistribution())
             .addDistribution(3, LossFunctionWrapper(A.IDENTITY, losses.LossMSE())).build())
    layer = vae_net(mixed).getLayer(0)  # DL4J accepts this and mixes loss values into a log-probability
    assert not layer.hasLossFunction()
    with pytest.raises(DL4JInvalidConfigException, match="containing a LossFunctionWrapper"):
        layer.reconstructionLogProbability(x, 3)


# ----------------------------------------------------------------------------------------------------------------
# generation
# ----------------------------------------------------------------------------------------------------------------
def test_generate_at_mean_and_random():
    net = vae_net(composite(), dtype=DataType.DOUBLE)
    layer = net.getLayer(0)
    z = np.random.default_rng(1).standard_normal((5, 3))
    o = _np_decode(layer, z)
    mean = layer.generateAtMeanGivenZ(z)
    assert mean.shape == (5, 6) and mean.dtype == np.float64
    np.testing.assert_allclose(mean[:, 0:2], o[:, 0:2], rtol=1e-12)  # Gaussian(identity): the mean half
    np.testing.assert_allclose(mean[:, 2:4], 1 / (1 + np.exp(-o[:, 4:6])), rtol=1e-12)  # Bernoulli: p
    np.testing.assert_allclose(mean[:, 4:6], np.exp(-np.tanh(o[:, 6:8])), rtol=1e-12)  # Exponential: 1/λ
    noise = np.random.default_rng(2).random((5, 6))
    noise[:, 0:2] = np.random.default_rng(3).standard_normal((5, 2))
    rnd = layer.generateRandomGivenZ(z, noise=noise)
    np.testing.assert_allclose(rnd[:, 0:2], o[:, 0:2] + np.sqrt(np.exp(o[:, 2:4])) * noise[:, 0:2], rtol=1e-12)
    np.testing.assert_array_equal(rnd[:, 2:4], (noise[:, 2:4] < mean[:, 2:4]).astype(float))
    np.testing.assert_allclose(rnd[:, 4:6], -np.log(noise[:, 4:6]) / np.exp(np.tanh(o[:, 6:8])), rtol=1e-12)
    drawn = layer.generate_random_given_z(z)
    assert set(np.unique(drawn[:, 2:4])) <= {0.0, 1.0} and np.all(drawn[:, 4:6] >= 0)
    net.rng = np.random.default_rng(8)
    a = layer.generateRandomGivenZ(z)
    net.rng = np.random.default_rng(8)
    np.testing.assert_array_equal(layer.generateRandomGivenZ(z), a)
    for bad in (np.zeros((5, 4)), np.zeros(3)):
        with pytest.raises(DL4JInvalidInputException, match="Invalid latent space values: expected size 3"):
            layer.generateAtMeanGivenZ(bad)
        with pytest.raises(DL4JInvalidInputException, match="Invalid latent space values"):
            layer.generateRandomGivenZ(bad)
    with pytest.raises(DL4JInvalidInputException, match="noise"):
        layer.generateRandomGivenZ(z, noise=np.zeros((5, 5)))


def test_generated_bernoulli_samples_are_binary_float32():
    layer = vae_net(BernoulliReconstructionDistribution()).getLayer(0)
    s = layer.generateRandomGivenZ(np.random.default_rng(0).standard_normal((50, 3)))
    assert s.dtype == np.float32 and set(np.unique(s)) <= {0.0, 1.0}


# ----------------------------------------------------------------------------------------------------------------
# reconstruction error (loss-function wrappers)
# ----------------------------------------------------------------------------------------------------------------
def test_reconstruction_error():
    net = vae_net(LossFunctionWrapper(A.SIGMOID, losses.LossMSE()), dtype=DataType.DOUBLE)
    layer = net.getLayer(0)
    assert layer.hasLossFunction()
    x = mixed_data(4).astype(np.float64)
    r = layer.generateAtMeanGivenZ(layer.activate(x))
    np.testing.assert_allclose(r, 1 / (1 + np.exp(-_np_decode(layer, layer.activate(x)))), rtol=1e-12)
    err = layer.reconstructionError(x)
    assert err.shape == (4, 1)
    np.testing.assert_allclose(err[:, 0], np.mean((x - r) ** 2, axis=1), rtol=1e-12)
    # composite of wrappers: the sum of the parts' score arrays (MAE's is not divided by D: DL4J's bug, kept)
    both = (CompositeReconstructionDistribution.Builder()
            .addDistribution(4, LossFunctionWrapper(A.IDENTITY, losses.LossL2()))
            .addDistribution(2, LossFunctionWrapper(A.IDENTITY, losses.LossMAE())).build())
    layer = vae_net(both, dtype=DataType.DOUBLE).getLayer(0)
    assert layer.hasLossFunction()
    r = layer.generateAtMeanGivenZ(layer.activate(x))
    expected = np.sum((x[:, :4] - r[:, :4]) ** 2, axis=1) + np.sum(np.abs(x[:, 4:] - r[:, 4:]), axis=1)
    np.testing.assert_allclose(layer.reconstructionError(x)[:, 0], expected, rtol=1e-12)
    for dist in (BernoulliReconstructionDistribution(), composite()):
        layer = vae_net(dist).getLayer(0)
        assert not layer.hasLossFunction()
        with pytest.raises(DL4JInvalidConfigException, match="Cannot use reconstructionError method"):
            layer.reconstructionError(x)


def test_backward_needs_a_forward_pass_and_weight_noise_is_refused():
    from dl4py.nn.conf.weightnoise import DropConnect

    layer = vae_net().getLayer(0)
    with pytest.raises(DL4JInvalidInputException, match="Cannot perform backprop"):
        layer.backward(np.zeros((2, 3), np.float32), False)
    with pytest.raises(DL4JInvalidConfigException, match="weightNoise"):
        vae_net(weightNoise=DropConnect(0.5))
