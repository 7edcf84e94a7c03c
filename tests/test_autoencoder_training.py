"""Stacked denoising autoencoders on real data: layer-wise pretraining lowers each layer's reconstruction loss,
pretraining + fine-tuning reaches a stated held-out accuracy, and a pretraining step allocates (almost) nothing.

Data: DL4J's MNIST fixture files (always available in CI) and scikit-learn's bundled digits (optional extra).
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from dl4py.datasets import NumpyDataSetIterator
from dl4py.learning.config import Adam
from dl4py.lossfunctions import LossFunctions
from dl4py.nd4j import read_dataset
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import AutoEncoder, OutputLayer
from dl4py.nn.multilayer import MultiLayerNetwork

LF = LossFunctions.LossFunction


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """These minibatches are small (32 rows): one BLAS thread is as fast, and immune to the slowdown two
    OpenBLAS threads suffer when the machine's two vCPUs are shared with other processes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield

#: held-out accuracies the tests require (measured with these seeds: MNIST fixture 0.891 on 128 held-out examples,
#: digits 0.987 on 450)
MNIST_MIN_ACCURACY = 0.80
DIGITS_MIN_ACCURACY = 0.95


def _stack(n_in, h1, h2, seed=12345, lr=3e-3):
    conf = (
        NeuralNetConfiguration.Builder().seed(seed).updater(Adam(lr)).weightInit("XAVIER")
        .list()
        .layer(AutoEncoder.Builder().nIn(n_in).nOut(h1).corruptionLevel(0.3).lossFunction(LF.XENT)
               .activation("sigmoid").build())
        .layer(AutoEncoder.Builder().nIn(h1).nOut(h2).corruptionLevel(0.2).lossFunction(LF.XENT)
               .activation("sigmoid").build())
        .layer(OutputLayer.Builder(LF.MCXENT).nIn(h2).nOut(10).activation("softmax").build())
        .build()
    )
    return MultiLayerNetwork(conf).init()


def _clean_reconstruction_score(net, i, x):
    """Pretraining score of layer i on the inputs it sees (activations of layers < i), without corruption."""
    h = net.activateSelectedLayers(0, i - 1, x) if i > 0 else x
    layer = net.getLayer(i)
    return layer.computeGradientAndScore(h, mask=np.ones_like(h))[0]


def _run(x_train, y_train, x_test, y_test, h1, h2, pre_epochs, fine_epochs, batch):
    net = _stack(x_train.shape[1], h1, h2)
    pre = NumpyDataSetIterator(x_train, None, batchSize=batch, shuffle=True, seed=1)
    losses = []
    for i in (0, 1):
        before = _clean_reconstruction_score(net, i, x_train)
        net.pretrainLayer(i, pre, pre_epochs)
        after = _clean_reconstruction_score(net, i, x_train)
        held_out = _clean_reconstruction_score(net, i, x_test)
        losses.append((before, after, held_out))
    vb = net.getLayer(0).params["vb"].copy()
    fit = NumpyDataSetIterator(x_train, y_train, batchSize=batch, shuffle=True, seed=2)
    net.fit(fit, numEpochs=fine_epochs)
    np.testing.assert_array_equal(net.getLayer(0).params["vb"], vb)  # fine-tuning never touches vb
    accuracy = float((net.predict(x_test) == y_test.argmax(1)).mean())
    return net, losses, accuracy


def _mnist(dl4j):
    feats, labs = [], []
    for i in range(8):
        f, l, _, _ = read_dataset(dl4j(f"mnist/mnist-train-{i}.bin"))
        feats.append(f)
        labs.append(l)
    return np.concatenate(feats).astype(np.float32), np.concatenate(labs).astype(np.float32)


def test_stacked_denoising_autoencoder_mnist_fixture(dl4j):
    x, y = _mnist(dl4j)  # 512 examples, pixels in [0, 1]
    x_train, y_train, x_test, y_test = x[:384], y[:384], x[384:], y[384:]
    _, losses, accuracy = _run(x_train, y_train, x_test, y_test, h1=128, h2=64, pre_epochs=15, fine_epochs=40,
                               batch=32)
    for i, (before, after, held_out) in enumerate(losses):
        assert after < 0.8 * before, f"layer {i}: reconstruction loss {before:.4f} -> {after:.4f}"
        assert held_out < before
    assert accuracy >= MNIST_MIN_ACCURACY, f"held-out accuracy {accuracy:.3f} (128 examples)"


def test_stacked_denoising_autoencoder_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[digits.target]
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    x_train, y_train, x_test, y_test = x[:1347], y[:1347], x[1347:], y[1347:]
    _, losses, accuracy = _run(x_train, y_train, x_test, y_test, h1=48, h2=32, pre_epochs=20, fine_epochs=30,
                               batch=32)
    for i, (before, after, held_out) in enumerate(losses):
        assert after < 0.8 * before, f"layer {i}: reconstruction loss {before:.4f} -> {after:.4f}"
        assert held_out < before
    assert accuracy >= DIGITS_MIN_ACCURACY, f"held-out accuracy {accuracy:.3f} (450 examples)"


def test_pretraining_step_allocates_almost_nothing():
    """After warm-up, float32 784-256 pretraining steps (batch 128, masking noise, sparsity, L2, Adam) through
    ``MultiLayerNetwork.pretrainLayer`` allocate almost nothing: less than 20 KB at the peak of 5 steps (measured
    about 1.5 KB: small Python objects such as views and floats) and nothing that outlives a step. Numba's runtime
    allocates through PyMem_RawMalloc, so kernel scratch would be counted too; one [128, 784] float32 temporary
    alone would be 401 KB."""
    conf = (
        NeuralNetConfiguration.Builder().seed(1).updater(Adam(1e-3)).l2(1e-4)
        .list()
        .layer(AutoEncoder.Builder().nIn(784).nOut(256).corruptionLevel(0.3).sparsity(0.05).lossFunction(LF.XENT)
               .activation("sigmoid").build())
        .build()
    )
    net = MultiLayerNetwork(conf).init()
    x = np.random.default_rng(0).random((128, 784), dtype=np.float32)
    for _ in range(3):
        net.pretrainLayer(0, x)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(5):
            net.pretrainLayer(0, x)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < 20_000, f"peak {peak - base} bytes above baseline during 5 steps"
    assert current - base < 4_000, f"{current - base} bytes still allocated after 5 steps"


def test_example_quick_run(dl4j, capsys):
    """examples/stacked_denoising_autoencoder.py --quick on the MNIST fixture files (works without scikit-learn)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "stacked_denoising_autoencoder.py"
    spec = importlib.util.spec_from_file_location("stacked_denoising_autoencoder_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data_dir = dl4j("mnist/mnist-train-0.bin").parent
    report = module.main(["--quick", "--mnist", "--data", str(data_dir)])
    out = capsys.readouterr().out
    assert "final held-out accuracy" in out
    for layer in report["pretrain"]:
        assert layer["after"] < layer["before"]
        assert layer["epoch_scores"][-1] < layer["epoch_scores"][0]
    assert report["accuracy"] > 0.5  # 3 + 5 quick epochs on 384 examples; chance is 0.1
