"""Input checking at the engine boundary.

Every public entry point that takes data (``output``, ``feedForward``, ``predict``, ``score``, ``scoreExamples``,
``computeGradientAndScore``, ``fit``, ``pretrainLayer`` and the VAE layer's ``activate``,
``reconstruction(Log)Probability``, ``generate*GivenZ``, ``reconstructionError``, ``computeGradientAndScore``)
either converts its input — ints, bools, float16, float64, Fortran-ordered, strided, read-only arrays, nested
lists — and then gives exactly the answer it gives for the float32 array (and agrees with a float64 network), or
refuses it with a DL4JInvalidInputException that says what was expected. Never a numba typing error, never a
silently wrong answer, and the caller's array is never written.
"""
from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pytest

from dl4py import DataType
from dl4py.activations import Activation
from dl4py.datasets import DataSet
from dl4py.exceptions import DL4JException, DL4JInvalidInputException
from dl4py.learning.config import Adam, Sgd
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, OutputLayer
from dl4py.nn.conf.layers.variational import (
    BernoulliReconstructionDistribution,
    LossFunctionWrapper,
    VariationalAutoencoder,
)
from dl4py.nn.multilayer import MultiLayerNetwork

LF = LossFunctions.LossFunction
N_IN, N_OUT, N = 5, 3, 6


def mlp(dtype=DataType.FLOAT) -> MultiLayerNetwork:
    conf = (NeuralNetConfiguration.Builder().seed(11).dataType(dtype).updater(Adam(0.01)).list()
            .layer(DenseLayer.Builder().nIn(N_IN).nOut(4).activation(Activation.TANH).build())
            .layer(OutputLayer.Builder(LF.MCXENT).nOut(N_OUT).activation(Activation.SOFTMAX).build())
            .build())
    return MultiLayerNetwork(conf).init()


def vae(dtype=DataType.FLOAT, dist=None) -> MultiLayerNetwork:
    conf = (NeuralNetConfiguration.Builder().seed(12).dataType(dtype).updater(Adam(0.01)).list()
            .layer(VariationalAutoencoder.Builder().nIn(N_IN).nOut(2).encoderLayerSizes(4).decoderLayerSizes(4)
                   .activation(Activation.TANH)
                   .reconstructionDistribution(dist or BernoulliReconstructionDistribution()).build())
            .build())
    return MultiLayerNetwork(conf).init()


def ae() -> MultiLayerNetwork:
    conf = (NeuralNetConfiguration.Builder().seed(13).updater(Sgd(0.1)).list()
            .layer(AutoEncoder.Builder().nIn(N_IN).nOut(3).activation(Activation.SIGMOID).build())
            .layer(OutputLayer.Builder(LF.MSE).nOut(2).activation(Activation.IDENTITY).build())
            .build())
    return MultiLayerNetwork(conf).init()


def twin64(net: MultiLayerNetwork, make: Callable[..., MultiLayerNetwork]) -> MultiLayerNetwork:
    """The same network in DOUBLE, with the float32 parameters."""
    other = make(DataType.DOUBLE)
    other.setParams(net.params().astype(np.float64))
    return other


RNG = np.random.default_rng(0)
X = RNG.integers(0, 2, size=(N, N_IN)).astype(np.float32)  # 0/1 values: exact in every numeric dtype
Y = np.eye(N_OUT, dtype=np.float32)[RNG.integers(0, N_OUT, N)]
Z = RNG.integers(0, 2, size=(N, 2)).astype(np.float32)  # 0/1: exact in every dtype, bool included
NOISE = RNG.normal(size=(3, N, 2)).astype(np.float32)
GEN_NOISE = RNG.random(size=(N, N_IN)).astype(np.float32)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def _strided(a: np.ndarray) -> np.ndarray:
    big = np.zeros((a.shape[0] * 2, a.shape[1] * 3), dtype=a.dtype)
    big[::2, ::3] = a
    return big[::2, ::3]


# each variant holds exactly the values of the float32 array
VARIANTS: dict[str, Callable[[np.ndarray], Any]] = {
    "float32": lambda a: a,
    "float64": lambda a: a.astype(np.float64),
    "float16": lambda a: a.astype(np.float16),
    "int32": lambda a: a.astype(np.int32),
    "int64": lambda a: a.astype(np.int64),
    "uint8": lambda a: a.astype(np.uint8),
    "bool": lambda a: a.astype(bool),
    "fortran": np.asfortranarray,
    "transposed view": lambda a: np.ascontiguousarray(a.T).T,
    "strided": _strided,
    "read-only": _readonly,
    "read-only float64": lambda a: _readonly(a.astype(np.float64)),
    "nested list": lambda a: a.tolist(),
}


def fresh_calls() -> dict[str, Callable[[Callable[[np.ndarray], Any]], Any]]:
    """Each entry: given a variant maker, run the method on a fresh network and return what to compare."""

    def fit(v):
        net = mlp()
        net.fit(v(X), v(Y))
        return net.params().copy(), net.updaterState().copy()

    def pretrain_vae(v):
        net = vae()
        net.pretrainLayer(0, v(X))
        return net.params().copy()

    def pretrain_ae(v):
        net = ae()
        net.pretrainLayer(0, v(X))
        return net.params().copy()

    def vae_layer(method: str, *args):
        def run(v):
            layer = vae().getLayer(0)
            return getattr(layer, method)(*(a(v) if callable(a) else a for a in args))
        return run

    return {
        "output": lambda v: mlp().output(v(X)),
        "feedForward": lambda v: mlp().feedForward(v(X)),
        "predict": lambda v: mlp().predict(v(X)),
        "score": lambda v: mlp().score(DataSet(v(X), v(Y))),
        "score pair": lambda v: mlp().score((v(X), v(Y))),
        "scoreExamples": lambda v: mlp().scoreExamples((v(X), v(Y))),
        "computeGradientAndScore": lambda v: mlp().computeGradientAndScore(v(X), v(Y)),
        "fit": fit,
        "pretrainLayer VAE": pretrain_vae,
        "pretrainLayer AutoEncoder": pretrain_ae,
        "VAE output": lambda v: vae().output(v(X)),
        "VAE activate": vae_layer("activate", lambda v: v(X)),
        "VAE reconstructionLogProbability": vae_layer("reconstructionLogProbability", lambda v: v(X), 3, NOISE),
        "VAE reconstructionProbability": vae_layer("reconstructionProbability", lambda v: v(X), 3, NOISE),
        "VAE computeGradientAndScore": vae_layer("computeGradientAndScore", lambda v: v(X), NOISE[:1]),
        "VAE generateAtMeanGivenZ": vae_layer("generateAtMeanGivenZ", lambda v: v(Z)),
        "VAE generateRandomGivenZ": vae_layer("generateRandomGivenZ", lambda v: v(Z), GEN_NOISE),
    }


CALLS = fresh_calls()


def _same(a: Any, b: Any) -> None:
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b or (np.isnan(a) and np.isnan(b))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("call", sorted(CALLS))
def test_converted_inputs_give_the_float32_answer(call, variant):
    expected = CALLS[call](VARIANTS["float32"])
    originals: list[Any] = []

    def keep(a):
        made = VARIANTS[variant](a)
        originals.append((made, np.array(made, copy=True)))
        return made

    _same(CALLS[call](keep), expected)
    for made, copy_ in originals:  # the caller's array was not written
        np.testing.assert_array_equal(np.asarray(made), copy_)


@pytest.mark.parametrize("call", ["output", "score", "scoreExamples", "computeGradientAndScore"])
def test_float32_network_agrees_with_float64_network(call):
    net = mlp()
    net64 = twin64(net, mlp)
    x64 = RNG.normal(size=(N, N_IN))
    args = {"output": lambda n: n.output(x64), "score": lambda n: n.score((x64, Y)),
            "scoreExamples": lambda n: n.scoreExamples((x64, Y)),
            "computeGradientAndScore": lambda n: n.computeGradientAndScore(x64, Y)}[call]
    got, ref = args(net), args(net64)
    for a, b in zip(np.atleast_1d(got) if not isinstance(got, tuple) else got,
                    np.atleast_1d(ref) if not isinstance(ref, tuple) else ref):
        np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b), rtol=2e-5, atol=2e-6)


def test_vae_float32_agrees_with_float64():
    net = vae()
    net64 = twin64(net, vae)
    x = RNG.random(size=(N, N_IN))
    np.testing.assert_allclose(net.getLayer(0).reconstructionLogProbability(x, 3, NOISE),
                               net64.getLayer(0).reconstructionLogProbability(x, 3, NOISE), rtol=1e-4)
    np.testing.assert_allclose(net.output(x), net64.output(x), rtol=1e-5, atol=1e-6)


def test_batch_of_one_matches_its_row():
    net = mlp()
    full = net.output(X)
    for i in range(N):  # BLAS may round a 1-row product differently in the last place
        np.testing.assert_allclose(net.output(X[i:i + 1]), full[i:i + 1], rtol=1e-6, atol=1e-7)
    layer = vae().getLayer(0)
    lp = layer.reconstructionLogProbability(X, 3, NOISE)
    np.testing.assert_allclose(layer.reconstructionLogProbability(X[2:3], 3, NOISE[:, 2:3]), lp[2:3], rtol=1e-6)


def test_loss_wrapper_reconstruction_error_converts_inputs():
    layer = vae(dist=LossFunctionWrapper(Activation.SIGMOID, LF.MSE.getILossFunction())).getLayer(0)
    expected = layer.reconstructionError(X)
    for variant in ("float64", "int64", "fortran", "read-only", "nested list"):
        _same(layer.reconstructionError(VARIANTS[variant](X)), expected)


# ------------------------------------------------------------------------------------------------------------
# refused, with a clear message
# ------------------------------------------------------------------------------------------------------------
BAD_FEATURES: dict[str, tuple[Any, str]] = {
    "too few features": (X[:, :3], r"expected \[N, 5\]"),
    "too many features": (np.zeros((N, 7), np.float32), r"expected \[N, 5\]"),
    "empty batch": (X[:0], r"empty|0 rows"),
    "no columns": (np.zeros((N, 0), np.float32), r"expected \[N, 5\]"),
    "1-D": (X[0], r"expected a 2-D array|expected \[N, 5\]"),
    "3-D": (X[None], r"expected a 2-D array|expected \[N, 5\]"),
    "scalar": (np.float32(1), r"expected a 2-D array|expected \[N, 5\]"),
    "strings": (X.astype(str), "numeric"),
    "objects": (X.astype(object), "numeric"),
    "complex": (X.astype(np.complex64), "numeric"),
    "datetime": (np.zeros((N, N_IN), "datetime64[s]"), "numeric"),
    "ragged list": ([[1.0] * N_IN, [1.0] * 2], "cannot be read as a numeric array|numeric"),
    "None": (None, "numeric|got NoneType"),
    "float64 beyond float32": (np.full((N, N_IN), 1e300), "out of the range of float32"),
}

FEATURE_CALLS: dict[str, Callable[[Any], Any]] = {
    "output": lambda x: mlp().output(x),
    "feedForward": lambda x: mlp().feedForward(x),
    "score": lambda x: mlp().score((x, Y)),
    "scoreExamples": lambda x: mlp().scoreExamples((x, Y)),
    "computeGradientAndScore": lambda x: mlp().computeGradientAndScore(x, Y),
    "fit": lambda x: mlp().fit(x, Y),
    "pretrainLayer VAE": lambda x: vae().pretrainLayer(0, x),
    "pretrainLayer AutoEncoder": lambda x: ae().pretrainLayer(0, x),
    "VAE activate": lambda x: vae().getLayer(0).activate(x),
    "VAE reconstructionLogProbability": lambda x: vae().getLayer(0).reconstructionLogProbability(x, 2),
    "VAE reconstructionProbability": lambda x: vae().getLayer(0).reconstructionProbability(x, 2),
    "VAE computeGradientAndScore": lambda x: vae().getLayer(0).computeGradientAndScore(x),
}


@pytest.mark.parametrize("bad", sorted(BAD_FEATURES))
@pytest.mark.parametrize("call", sorted(FEATURE_CALLS))
def test_bad_features_are_refused_clearly(call, bad):
    value, message = BAD_FEATURES[bad]
    try:
        FEATURE_CALLS[call](value)
    except DL4JInvalidInputException as exc:
        assert re.search(message, str(exc)), f"unclear message for {bad}: {exc}"
    except DL4JException as exc:  # pragma: no cover - the assertion below explains
        pytest.fail(f"{call} on {bad}: {type(exc).__name__} instead of DL4JInvalidInputException: {exc}")
    else:
        pytest.fail(f"{call} accepted {bad}")


BAD_LABELS: dict[str, tuple[Any, str]] = {
    "too few columns": (Y[:, :2], r"labels have shape \(6, 2\), expected \[6, 3\]"),
    "too few rows": (Y[:4], r"labels have shape \(4, 3\), expected \[6, 3\]"),
    "1-D": (Y[:, 0], r"labels have shape \(6,\)"),
    "3-D": (Y[None], r"labels have shape \(1, 6, 3\)"),
    "strings": (Y.astype(str), "numeric"),
    "objects": (Y.astype(object), "numeric"),
    "ragged list": ([[1.0, 0.0, 0.0], [1.0]], "numeric"),
    "NaN": (Y * np.nan, "non-finite value nan at row 0, column 0"),
}
LABEL_CALLS: dict[str, Callable[[Any], Any]] = {
    "fit": lambda y: mlp().fit(X, y),
    "computeGradientAndScore": lambda y: mlp().computeGradientAndScore(X, y),
    "score": lambda y: mlp().score((X, y)),
    "scoreExamples": lambda y: mlp().scoreExamples((X, y)),
}


@pytest.mark.parametrize("call,bad", [(c, b) for c in sorted(LABEL_CALLS) for b in sorted(BAD_LABELS)
                                      # scoring NaN labels in inference gives NaN, as in DL4J: only training checks
                                      if not (b == "NaN" and c.startswith("score"))])
def test_bad_labels_are_refused_clearly(call, bad):
    value, message = BAD_LABELS[bad]
    with pytest.raises(DL4JInvalidInputException, match=message):
        LABEL_CALLS[call](value)


@pytest.mark.parametrize("variant", ["int64", "float64", "bool", "fortran", "read-only", "nested list"])
def test_labels_are_converted(variant):
    _same(mlp().computeGradientAndScore(X, VARIANTS[variant](Y)), mlp().computeGradientAndScore(X, Y))


def test_fit_without_labels_is_refused():
    with pytest.raises(DL4JInvalidInputException, match="features without labels"):
        mlp().fit(X)
    with pytest.raises(DL4JInvalidInputException, match="got NoneType"):
        mlp().fit(None)
    with pytest.raises(DL4JInvalidInputException, match="got NoneType"):
        vae().pretrainLayer(0, None)


def test_vae_latent_and_noise_shapes_are_checked():
    layer = vae().getLayer(0)
    with pytest.raises(DL4JInvalidInputException, match="expected size 2"):
        layer.generateAtMeanGivenZ(np.zeros((N, 3)))
    with pytest.raises(DL4JInvalidInputException, match="noise has shape"):
        layer.reconstructionLogProbability(X, 3, NOISE[:2])
    with pytest.raises(DL4JInvalidInputException, match="noise has shape"):
        layer.generateRandomGivenZ(Z, GEN_NOISE[:, :2])
    with pytest.raises(DL4JInvalidInputException, match="numSamples must be > 0"):
        layer.reconstructionLogProbability(X, 0)


def test_sparse_class_index_labels_must_be_integers():
    conf = (NeuralNetConfiguration.Builder().seed(1).list()
            .layer(OutputLayer.Builder(LF.SPARSE_MCXENT).nIn(N_IN).nOut(N_OUT).activation(Activation.SOFTMAX).build())
            .build())
    net = MultiLayerNetwork(conf).init()
    idx = np.array([[0], [1], [2], [0], [1], [2]])
    net.computeGradientAndScore(X, idx)
    net.computeGradientAndScore(X, idx.astype(np.float32))
    with pytest.raises(DL4JInvalidInputException, match="integers in \\[0, 3\\)"):
        net.computeGradientAndScore(X, idx + 0.5)
    with pytest.raises(DL4JInvalidInputException, match="integers in \\[0, 3\\)"):
        net.computeGradientAndScore(X, idx + 3)
