"""MultiLayerNetwork behaviour that does not need DL4J's numbers: layout, save/load, errors, gradient checks."""
from __future__ import annotations

import numpy as np
import pytest

from dl4py import DataType
from dl4py.activations import Activation
from dl4py.exceptions import DL4JException, DL4JInvalidInputException, NonFiniteException
from dl4py.gradientcheck import GradientCheckUtil
from dl4py.learning.config import AdaDelta, AdaGrad, AdaMax, Adam, AMSGrad, Nadam, Nesterovs, NoOp, RmsProp, Sgd
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.enums import GradientNormalization
from dl4py.nn.conf.layers import DenseLayer, LossLayer, OutputLayer
from dl4py.nn.multilayer import MultiLayerNetwork

LF = LossFunctions.LossFunction


def mlp(updater=None, dtype=DataType.FLOAT, hidden=Activation.TANH, loss=LF.MCXENT, out_act=Activation.SOFTMAX,
        n_in=4, n_hidden=5, n_out=3, seed=42, **global_opts):
    b = NeuralNetConfiguration.Builder().seed(seed).dataType(dtype).updater(updater or Sgd(0.1))
    for k, v in global_opts.items():
        getattr(b, k)(*v) if isinstance(v, tuple) else getattr(b, k)(v)
    conf = (b.list()
            .layer(DenseLayer.Builder().nIn(n_in).nOut(n_hidden).activation(hidden).build())
            .layer(OutputLayer.Builder(loss).nOut(n_out).activation(out_act).build())
            .build())
    net = MultiLayerNetwork(conf)
    net.init()
    return net


def data(n=8, n_in=4, n_out=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype(dtype)
    y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, n)]
    return x, y


def test_flat_layout_is_column_major_and_views():
    net = mlp()
    params = net.params()
    assert params.shape == (4 * 5 + 5 + 5 * 3 + 3,)
    table = net.paramTable()
    assert list(table) == ["0_W", "0_b", "1_W", "1_b"]
    np.testing.assert_array_equal(table["0_W"], params[:20].reshape(5, 4).T)  # column-major [nIn, nOut]
    params[0] = 123.0
    assert table["0_W"][0, 0] == 123.0
    assert net.getLayerWiseConfigurations().confs[0].variables == ["W", "b"]


def test_output_matches_numpy_forward():
    net = mlp()
    x, _ = data()
    t = net.paramTable()
    h = np.tanh(x @ t["0_W"] + t["0_b"])
    z = h @ t["1_W"] + t["1_b"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(net.output(x), e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    acts = net.feedForward(x)
    assert len(acts) == 3 and acts[0].shape == (8, 4) and acts[2].shape == (8, 3)


@pytest.mark.parametrize("updater", [Sgd(0.1), Adam(0.01), AdaMax(0.01), Nadam(0.01), AMSGrad(0.01), Nesterovs(0.1, 0.9),
                                     RmsProp(0.01), AdaGrad(0.1), AdaDelta(), NoOp()])
def test_every_updater_trains_and_state_size(updater, tmp_path):
    net = mlp(updater)
    x, y = data(64)
    before = net.score((x, y))
    for _ in range(30):
        net.fit(x, y)
    n = net.numParams()
    assert net.updaterState().shape == (updater.state_size_multiplier * n,)
    if not isinstance(updater, NoOp):
        assert net.score((x, y)) < before
    path = tmp_path / "m.zip"
    net.save(path)
    again = MultiLayerNetwork.load(path, True)
    np.testing.assert_array_equal(again.params(), net.params())
    np.testing.assert_array_equal(again.updaterState(), net.updaterState())
    assert again.getLayerWiseConfigurations() == net.getLayerWiseConfigurations()
    np.testing.assert_array_equal(again.output(x), net.output(x))


@pytest.mark.parametrize("hidden", [Activation.TANH, Activation.SIGMOID, Activation.SOFTPLUS, Activation.ELU,
                                    Activation.LEAKYRELU, Activation.CUBE, Activation.SOFTSIGN, Activation.IDENTITY,
                                    Activation.SWISH, Activation.SELU, Activation.MISH, Activation.GELU,
                                    Activation.RATIONALTANH])
@pytest.mark.parametrize("reg", [{}, {"l1": 0.01, "l2": 0.02}, {"weightDecay": 0.03, "l1Bias": 0.01, "l2Bias": 0.02}])
def test_gradient_check_hidden_activations(hidden, reg):
    net = mlp(NoOp(), DataType.DOUBLE, hidden=hidden, **reg)
    x, y = data(5, dtype=np.float64)
    assert GradientCheckUtil.checkGradients(net, x, y, epsilon=1e-6, maxRelError=1e-5, minAbsoluteError=1e-9)


LOSS_ACT_PAIRS = [
    (LF.MCXENT, Activation.SOFTMAX), (LF.NEGATIVELOGLIKELIHOOD, Activation.SOFTMAX), (LF.XENT, Activation.SIGMOID),
    (LF.MSE, Activation.IDENTITY), (LF.MSE, Activation.TANH), (LF.L2, Activation.IDENTITY), (LF.L1, Activation.IDENTITY),
    (LF.MEAN_ABSOLUTE_ERROR, Activation.IDENTITY), (LF.KL_DIVERGENCE, Activation.SOFTMAX),
    (LF.COSINE_PROXIMITY, Activation.IDENTITY), (LF.HINGE, Activation.IDENTITY), (LF.SQUARED_HINGE, Activation.IDENTITY),
    (LF.MEAN_SQUARED_LOGARITHMIC_ERROR, Activation.SOFTPLUS), (LF.POISSON, Activation.SOFTPLUS),
    (LF.MEAN_ABSOLUTE_PERCENTAGE_ERROR, Activation.IDENTITY), (LF.WASSERSTEIN, Activation.IDENTITY),
]


@pytest.mark.parametrize("loss,act", LOSS_ACT_PAIRS)
def test_gradient_check_losses(loss, act):
    net = mlp(NoOp(), DataType.DOUBLE, loss=loss, out_act=act, l2=0.01)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4))
    if loss in (LF.HINGE, LF.SQUARED_HINGE):
        y = rng.choice([-1.0, 1.0], size=(6, 3))
    elif loss in (LF.MCXENT, LF.NEGATIVELOGLIKELIHOOD, LF.KL_DIVERGENCE):
        y = np.eye(3)[rng.integers(0, 3, 6)]
        if loss == LF.KL_DIVERGENCE:
            y = np.abs(y * 0.8 + 0.1)
            y /= y.sum(axis=1, keepdims=True)
    elif loss == LF.XENT:
        y = rng.integers(0, 2, (6, 3)).astype(float)
    else:
        y = rng.uniform(0.5, 2.0, size=(6, 3))
    assert GradientCheckUtil.checkGradients(net, x, y, epsilon=1e-6, maxRelError=1e-5, minAbsoluteError=1e-8)


def test_loss_layer_gradient_check():
    conf = (NeuralNetConfiguration.Builder().seed(1).dataType(DataType.DOUBLE).updater(NoOp()).list()
            .layer(DenseLayer.Builder().nIn(4).nOut(3).activation(Activation.TANH).build())
            .layer(LossLayer.Builder(LF.MSE).build())
            .build())
    net = MultiLayerNetwork(conf).init()
    x, y = data(5, dtype=np.float64)
    assert GradientCheckUtil.checkGradients(net, x, y)


@pytest.mark.parametrize("mode", ["RenormalizeL2PerLayer", "ClipElementWiseAbsoluteValue", "ClipL2PerParamType"])
def test_gradient_normalization_changes_update(mode):
    x, y = data(16)
    plain, normed = mlp(Sgd(0.5)), mlp(Sgd(0.5), gradientNormalization=GradientNormalization(mode),
                                      gradientNormalizationThreshold=0.01)
    plain.fit(x, y)
    normed.fit(x, y)
    assert not np.allclose(plain.params(), normed.params())


def test_bad_inputs_are_reported():
    net = mlp()
    with pytest.raises(DL4JInvalidInputException, match=r"\[N, 4\]"):
        net.output(np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(DL4JInvalidInputException, match="empty"):
        net.output(np.zeros((0, 4)))
    x, y = data()
    x[2, 1] = np.nan
    with pytest.raises(DL4JInvalidInputException, match="row 2, column 1"):
        net.fit(x, y)
    x, y = data()
    with pytest.raises(DL4JInvalidInputException, match="labels"):
        net.fit(x, y[:, :2])
    out = net.output(np.arange(8, dtype=np.int64).reshape(2, 4))  # ints are converted
    assert out.dtype == np.float32


def test_non_finite_score_stops_training_and_keeps_params():
    net = mlp(Sgd(1e30), hidden=Activation.IDENTITY, out_act=Activation.IDENTITY, loss=LF.MSE)
    x, y = data(16)
    x *= 1e10
    with pytest.raises(NonFiniteException, match="iteration"):
        for _ in range(10):
            last = net.params().copy()
            net.fit(x, y)
    assert np.all(np.isfinite(net.params()))
    np.testing.assert_array_equal(net.params(), last)


def test_vae_last_layer_cannot_fit():
    from dl4py.nn.conf.layers.variational import VariationalAutoencoder

    conf = NeuralNetConfiguration.Builder().list().layer(VariationalAutoencoder.Builder().nIn(4).nOut(2).build()).build()
    net = MultiLayerNetwork(conf).init()
    with pytest.raises(DL4JException, match="not an output layer"):
        net.fit(np.zeros((2, 4)), np.zeros((2, 2)))


def test_minibatch_division_and_score_definition():
    net = mlp(NoOp(), DataType.DOUBLE, l2=0.1)
    x, y = data(6, dtype=np.float64)
    score, grad = net.computeGradientAndScore(x, y)
    z = net.output(x)
    loss = -np.sum(y * np.log(z)) / 6
    w = net.paramTable()
    reg = 0.5 * 0.1 * (np.sum(w["0_W"] ** 2) + np.sum(w["1_W"] ** 2))
    assert score == pytest.approx(loss + reg, rel=1e-12)


@pytest.mark.parametrize("dtype", [DataType.FLOAT, DataType.DOUBLE])
def test_dropout_trains_in_both_dtypes_and_matches_inverted_dropout(dtype):
    net = mlp(Sgd(0.1), dtype, dropOut=0.5)
    x, y = data(32, dtype=net.dtype)
    net.fit(x, y)  # dropout on the inputs of both layers in training
    assert np.all(np.isfinite(net.params()))
    # inference ignores dropout; training mode scales kept values by 1/p
    np.testing.assert_array_equal(net.output(x), net.output(x))
    a = net.getLayer(0)
    kept = a._dropout(np.ones((1000, 4), dtype=net.dtype), True)
    assert set(np.unique(kept)) <= {0.0, 2.0}
    assert 0.4 < (kept > 0).mean() < 0.6


def test_rrelu_trains_with_random_slopes():
    net = mlp(Sgd(0.1), hidden=Activation.RRELU)
    x, y = data(16)
    net.fit(x, y)
    assert np.all(np.isfinite(net.params()))
