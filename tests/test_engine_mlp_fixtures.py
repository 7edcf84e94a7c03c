"""MultiLayerNetwork against DL4J's own numbers: the MLPMoon and MLPMnist integration cases."""
from __future__ import annotations

import numpy as np
import pytest

from dl4py.nd4j import read_array, read_dataset
from dl4py.nn.multilayer import MultiLayerNetwork
from tests.dl4j_compare import assert_dl4j_close


def _moon(dl4j, name):
    data = np.loadtxt(dl4j(f"integration/data/{name}"), delimiter=",", dtype=np.float64)
    labels = np.eye(2, dtype=np.float32)[data[:, 0].astype(int)]
    return data[:, 1:].astype(np.float32), labels


def _mnist(dl4j):
    feats, labs = [], []
    for i in range(8):
        f, l, _, _ = read_dataset(dl4j(f"mnist/mnist-train-{i}.bin"))
        feats.append(f)
        labs.append(l)
    return np.concatenate(feats), np.concatenate(labs)


@pytest.fixture
def moon_net(dl4j):
    return MultiLayerNetwork.load(dl4j("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip"), True)


@pytest.fixture
def mnist_net(dl4j):
    return MultiLayerNetwork.load(dl4j("integration/MLPMnist/Model_RANDOM_INIT_UNTRAINED.zip"), True)


def test_moon_predictions(dl4j, moon_net):
    x, _ = _moon(dl4j, "moon_data_eval.csv")
    for k, rows in ((0, 1), (1, 10)):
        expected = read_array(dl4j(f"integration/MLPMoon/predictions/output_{k}_0.bin"))
        assert_dl4j_close(moon_net.output(x[:rows]), expected, 1e-4, 1e-4, f"output_{k}_0")


def test_moon_gradients(dl4j, moon_net):
    x, y = _moon(dl4j, "moon_data_eval.csv")
    params_before = moon_net.params().copy()
    _, grad = moon_net.computeGradientAndScore(x[:5], y[:5])
    assert_dl4j_close(grad, read_array(dl4j("integration/MLPMoon/flattenedGradients.bin")), 1e-4, 1e-4, "flat gradient")
    np.testing.assert_array_equal(moon_net.params(), params_before)
    table = {k: v for k, v in zip(moon_net.paramTable(), _grad_views(moon_net))}
    for key in ("0_W", "0_b", "1_W", "1_b"):
        expected = read_array(dl4j(f"integration/MLPMoon/gradients/{key}.bin"))
        assert_dl4j_close(table[key], expected, 1e-4, 1e-4, key)


def _grad_views(net):
    return [layer.grads[k] for layer in net.getLayers() for k in layer.keys]


def test_moon_training_curve_and_params(dl4j, moon_net):
    x, y = _moon(dl4j, "moon_data_train.csv")
    scores = []
    for start in range(0, x.shape[0], 32):
        moon_net.fit(x[start : start + 32], y[start : start + 32])
        scores.append(moon_net.score())
    expected = np.loadtxt(dl4j("integration/MLPMoon/trainingCurve.csv"), delimiter=",")
    assert len(scores) == 63 == expected.size
    assert_dl4j_close(scores, expected, 1e-4, 0.0, "training curve")
    assert_dl4j_close(moon_net.params(), read_array(dl4j("integration/MLPMoon/paramsPostTrain.bin")), 1e-4, 1e-4, "params")
    assert moon_net.getIterationCount() == 63


def test_mnist_predictions_and_gradients(dl4j, mnist_net):
    x, y = _mnist(dl4j)
    for k, rows in ((0, 1), (1, 10)):
        expected = read_array(dl4j(f"integration/MLPMnist/predictions/output_{k}_0.bin"))
        assert_dl4j_close(mnist_net.output(x[:rows]), expected, 1e-4, 1e-4, f"output_{k}_0")
    _, grad = mnist_net.computeGradientAndScore(x[:10], y[:10])
    assert_dl4j_close(grad, read_array(dl4j("integration/MLPMnist/flattenedGradients.bin")), 1e-2, 5e-2, "gradient")
    assert_dl4j_close(grad, read_array(dl4j("integration/MLPMnist/flattenedGradients.bin")), 1e-4, 1e-5, "gradient (tight)")


def test_mnist_training_curve_and_params(dl4j, mnist_net):
    x, y = _mnist(dl4j)
    scores = []
    for start in range(0, 512, 16):
        mnist_net.fit(x[start : start + 16], y[start : start + 16])
        scores.append(mnist_net.score())
    expected = np.loadtxt(dl4j("integration/MLPMnist/trainingCurve.csv"), delimiter=",")
    assert_dl4j_close(scores, expected, 1e-4, 0.0, "training curve")
    assert_dl4j_close(mnist_net.params(), read_array(dl4j("integration/MLPMnist/paramsPostTrain.bin")), 1e-2, 5e-2, "params")
