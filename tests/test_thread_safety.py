"""Thread safety, as documented in MultiLayerNetwork's docstring and the README.

Inference on one initialised network may run from several threads at once (each thread gets its own scratch
buffers; the numba kernels and BLAS release the GIL, so the threads really do overlap). The results must be
exactly those of the same calls made one after the other. Training is not concurrent-safe on one network; the
documented alternative, one ``net.clone()`` per thread, must give the same parameters as sequential training.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np
import pytest

from dl4py.nn.multilayer import MultiLayerNetwork

from tests.conftest import fixture_path

pytestmark = pytest.mark.fixtures
THREADS = 6
ROUNDS = 10


def run_concurrently(jobs: list[Callable[[], Any]], rounds: int = ROUNDS) -> list[list[Any]]:
    """Each job run ``rounds`` times in its own thread, all threads released together."""
    barrier = threading.Barrier(len(jobs))

    def worker(job):
        barrier.wait()
        return [job() for _ in range(rounds)]

    with ThreadPoolExecutor(len(jobs)) as pool:
        return [f.result() for f in [pool.submit(worker, job) for job in jobs]]


@pytest.fixture(scope="module")
def mnist_mlp() -> MultiLayerNetwork:
    return MultiLayerNetwork.load(fixture_path("integration/MLPMnist/Model_RANDOM_INIT_UNTRAINED.zip"))


@pytest.fixture(scope="module")
def mnist_vae() -> MultiLayerNetwork:
    return MultiLayerNetwork.load(fixture_path("integration/VAEMnistAnomaly/Model_RANDOM_INIT_UNTRAINED.zip"))


def _inputs(n_in: int, sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((n, n_in), dtype=np.float32) for n in sizes]


@pytest.mark.parametrize("sizes", [[32] * THREADS, [1, 7, 32, 32, 100, 7]], ids=["same batch size", "mixed sizes"])
def test_concurrent_output_equals_sequential(mnist_mlp, sizes):
    xs = _inputs(784, sizes)
    expected = [mnist_mlp.output(x) for x in xs]
    results = run_concurrently([lambda x=x: mnist_mlp.output(x) for x in xs])
    for exp, got in zip(expected, results):
        for r in got:
            np.testing.assert_array_equal(r, exp)


def test_concurrent_feed_forward_predict_and_score(mnist_mlp):
    xs = _inputs(784, [16] * THREADS, seed=1)
    ys = [np.eye(10, dtype=np.float32)[np.arange(16) % 10] for _ in xs]
    calls = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        kind = i % 3
        if kind == 0:
            calls.append(lambda x=x: mnist_mlp.feedForward(x))
        elif kind == 1:
            calls.append(lambda x=x, y=y: (mnist_mlp.predict(x), mnist_mlp.score((x, y))))
        else:
            calls.append(lambda x=x, y=y: mnist_mlp.scoreExamples((x, y)))
    expected = [c() for c in calls]
    for exp, got in zip(expected, run_concurrently(calls)):
        for r in got:
            if isinstance(exp, list):
                for a, b in zip(r, exp):
                    np.testing.assert_array_equal(a, b)
            elif isinstance(exp, tuple):
                np.testing.assert_array_equal(r[0], exp[0])
                assert r[1] == exp[1]
            else:
                np.testing.assert_array_equal(r, exp)


def test_concurrent_vae_reconstruction_probability(mnist_vae):
    """The anomaly-scoring call of the README, with explicit noise so the result is reproducible."""
    layer = mnist_vae.getLayer(0)
    sizes = [20, 20, 20, 5, 5, 64]
    xs = _inputs(784, sizes, seed=2)
    rng = np.random.default_rng(3)
    noises = [rng.standard_normal((4, n, 32)).astype(np.float32) for n in sizes]
    calls = [lambda x=x, e=e: layer.reconstructionLogProbability(x, 4, e) for x, e in zip(xs, noises)]
    calls += [lambda x=xs[0]: mnist_vae.output(x), lambda z=noises[1][0]: layer.generateAtMeanGivenZ(z)]
    expected = [c() for c in calls]
    for exp, got in zip(expected, run_concurrently(calls, rounds=3)):
        for r in got:
            np.testing.assert_array_equal(r, exp)


def test_one_clone_per_thread_for_training(mnist_mlp):
    rng = np.random.default_rng(4)
    batches = [(rng.random((16, 784), dtype=np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)])
               for _ in range(4)]

    def train(net, x, y):
        for _ in range(3):
            net.fit(x, y)
        return net.params().copy()

    sequential = [train(mnist_mlp.clone(), x, y) for x, y in batches]
    clones = [mnist_mlp.clone() for _ in batches]
    parallel = run_concurrently([lambda n=n, b=b: train(n, *b) for n, b in zip(clones, batches)], rounds=1)
    for seq, par in zip(sequential, parallel):
        np.testing.assert_array_equal(par[0], seq)
    assert not np.array_equal(mnist_mlp.params(), sequential[0])  # the original was not trained


def test_thread_local_buffers_are_not_shared(mnist_mlp):
    layer = mnist_mlp.getLayer(0)
    mine = layer.ws(3)
    other: list[Any] = []
    t = threading.Thread(target=lambda: other.append(layer.ws(3)))
    t.start()
    t.join()
    assert other[0] is not mine and layer.ws(3) is mine
