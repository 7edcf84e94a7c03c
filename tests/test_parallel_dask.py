"""dl4py.parallel on a real local Dask cluster (two worker processes, one thread each).

Skipped as a whole when Dask's distributed scheduler is not installed (``pip install 'dl4py[distributed]'``; the
``dev`` extra installs it). One module-scoped cluster: creating one costs seconds, and every worker process imports
the engine once. The whole module takes about 20 s on an idle 2-vCPU machine.

Bounded in time, so a fault shows up as a failure, never as a hang: every training master here limits a round to
``roundTimeout`` and a transfer to ``workerTimeout``, and every test (and the cluster's set-up and tear-down) runs
under :func:`time_limit` — a SIGALRM that fails the test with the stacks of all threads, backed by faulthandler,
which ends the process (stacks in ``$TMPDIR/dl4py-test-parallel-dask-<pid>.txt``) if even that cannot run.
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from typing import Iterator

import numpy as np
import pytest

distributed = pytest.importorskip(
    "distributed", reason="Dask's distributed scheduler is not installed: pip install 'dl4py[distributed]'"
)
pytest.importorskip("dask.array", reason="dask.array is not installed: pip install 'dask[distributed]'")

from dl4py.activations import Activation  # noqa: E402
from dl4py.datasets import DataSet  # noqa: E402
from dl4py.exceptions import DL4JException, DL4JInvalidInputException  # noqa: E402
from dl4py.learning.config import Adam, Sgd  # noqa: E402
from dl4py.lossfunctions import LossFunctions  # noqa: E402
from dl4py.nn.conf import NeuralNetConfiguration  # noqa: E402
from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, OutputLayer  # noqa: E402
from dl4py.nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder  # noqa: E402
from dl4py.nn.multilayer import MultiLayerNetwork  # noqa: E402
from dl4py.parallel import (  # noqa: E402
    DaskDl4jMultiLayer,
    ParameterAveragingTrainingMaster,
    RoundTimeoutException,
    balanced_sizes,
    local_cluster,
    minibatch_indices,
)

SEED = 42
TEST_TIME_LIMIT = 120.0  # seconds, per test; each takes < 5 s on an idle machine
ROUND_TIMEOUT = 60.0  # the training masters' roundTimeout here
WORKER_TIMEOUT = 30.0  # ... and workerTimeout (waits for workers, and every transfer)


# ------------------------------------------------------------------------------------------------------------------
# the time bound
# ------------------------------------------------------------------------------------------------------------------
def _all_stacks() -> str:
    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(
        f"--- thread {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame))
        for ident, frame in sys._current_frames().items()
    )


@contextlib.contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Fail with every thread's stack (on stderr) when the block runs longer than ``seconds``.

    The SIGALRM handler raises in the main thread wherever it waits (a lock, a socket, Dask's sync loop). Should
    the main thread not get to run it (stuck in C code), faulthandler ends the process 30 s later after dumping
    the stacks to a file (pytest's output capture would swallow them on stderr)."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        print(f"\n{what}: still running after {seconds:.0f} s; stacks of all threads:\n{_all_stacks()}",
              file=sys.stderr)
        pytest.fail(f"{what} took longer than {seconds:.0f} s (hard limit of this module); stacks on stderr")

    path = os.path.join(tempfile.gettempdir(), f"dl4py-test-parallel-dask-{os.getpid()}.txt")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    with open(path, "w") as stacks:
        faulthandler.dump_traceback_later(seconds + 30.0, exit=True, file=stacks)
        try:
            yield
        finally:
            faulthandler.cancel_dump_traceback_later()
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    if os.path.getsize(path) == 0:
        os.remove(path)


@pytest.fixture(autouse=True)
def _hard_time_limit(request: pytest.FixtureRequest) -> Iterator[None]:
    with time_limit(TEST_TIME_LIMIT, request.node.nodeid):
        yield


# ------------------------------------------------------------------------------------------------------------------
# networks and data
# ------------------------------------------------------------------------------------------------------------------
def mlp_conf(updater, l2: float = 1e-4):
    return (NeuralNetConfiguration.Builder().seed(SEED).updater(updater).weightInit("XAVIER").l2(l2).list()
            .layer(DenseLayer.Builder().nIn(10).nOut(16).activation(Activation.TANH).build())
            .layer(OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                   .activation(Activation.SOFTMAX).build())
            .build())


def vae_conf(lr: float = 1e-2):
    return (NeuralNetConfiguration.Builder().seed(SEED).updater(Adam(lr)).weightInit("XAVIER").l2(1e-4).list()
            .layer(VariationalAutoencoder.Builder().nIn(16).nOut(4).encoderLayerSizes(12).decoderLayerSizes(12)
                   .activation(Activation.LEAKYRELU).pzxActivationFunction(Activation.IDENTITY)
                   .reconstructionDistribution(BernoulliReconstructionDistribution(Activation.SIGMOID)).build())
            .build())


def ae_conf():
    return (NeuralNetConfiguration.Builder().seed(SEED).updater(Adam(1e-2)).weightInit("XAVIER").list()
            .layer(AutoEncoder.Builder().nIn(16).nOut(8).corruptionLevel(0.1)
                   .lossFunction(LossFunctions.LossFunction.XENT).activation(Activation.SIGMOID).build())
            .build())


def classification_data(n: int = 96, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 10)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)]
    return x, y


def binary_patterns(n: int = 512, seed: int = 1):
    """Noisy copies of four binary prototypes: something a small VAE can learn in a few epochs."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((4, 16)) < 0.5).astype(np.float32)
    x = protos[rng.integers(0, 4, n)]
    flip = rng.random(x.shape) < 0.05
    return np.where(flip, 1.0 - x, x).astype(np.float32)


def master(batch: int, freq: int, workers=None, **options):
    """A training master with the module's time bounds (``roundTimeout``, ``workerTimeout``) unless overridden."""
    b = ParameterAveragingTrainingMaster.Builder(workers, batch) if workers else ParameterAveragingTrainingMaster.Builder(batch)
    b.averagingFrequency(freq).roundTimeout(ROUND_TIMEOUT).workerTimeout(WORKER_TIMEOUT)
    for name, value in options.items():
        getattr(b, name)(value)
    return b.build()


def slot_batches(n: int, slots: int, batch: int, epoch: int, seed: int = SEED):
    """The minibatches (global row indices) each slot fits in ``epoch``: slot k owns the k-th balanced row range and
    visits it in ``minibatch_indices`` order (the documented, deterministic order)."""
    out, start = [], 0
    for k, size in enumerate(balanced_sizes(n, slots)):
        out.append([start + idx for idx in minibatch_indices(size, batch, seed, epoch, k)])
        start += size
    return out


# ------------------------------------------------------------------------------------------------------------------
# the cluster
# ------------------------------------------------------------------------------------------------------------------
def restore_workers(client, n: int = 2, timeout: float = 60.0) -> None:
    """Wait until the cluster has ``n`` running workers again after one was killed.

    A LocalCluster closes for good the nanny of a worker that is not back within
    ``distributed.deploy.lost-worker-timeout`` of its death (15 s by default; the fixture raises it, as a restart
    on a loaded machine can take that long); should it happen all the same, ``scale(n)`` starts a new nanny."""
    deadline = time.monotonic() + timeout
    while True:
        cluster = client.cluster
        if cluster is not None and len(cluster.workers) < n:
            cluster.scale(n)
        try:
            client.wait_for_workers(n, timeout=min(5.0, max(0.1, deadline - time.monotonic())))
            return
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise


@pytest.fixture(scope="module")
def client():
    import dask

    # a killed worker's restart may take longer than the default 15 s on a loaded machine; the cluster must not
    # give its nanny up meanwhile (see restore_workers)
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "10 minutes"}):
        cluster = c = None
        try:
            with time_limit(TEST_TIME_LIMIT, "starting the local cluster"):
                cluster = local_cluster(2, dashboard_address=":0", memory_limit="2GiB")
                c = distributed.Client(cluster)
                c.wait_for_workers(2, timeout=60)
                # pay each worker's one-off engine import (and numba cache load) once, up front
                c.run(lambda: __import__("dl4py.nn.multilayer"))
            yield c
        finally:
            with time_limit(TEST_TIME_LIMIT, "closing the local cluster"):
                if c is not None:
                    c.close(timeout=30)
                if cluster is not None:
                    cluster.close(timeout=30)


# ------------------------------------------------------------------------------------------------------------------
# equivalence with single-machine training
# ------------------------------------------------------------------------------------------------------------------
def test_one_worker_averaging_every_step_equals_single_machine(client):
    """One worker slot, averaging frequency 1: the parameters, Adam's state and the counters after two epochs are
    those of single-machine training on the same minibatch order (the average of one result is that result)."""
    x, y = classification_data()
    model = DaskDl4jMultiLayer(client, mlp_conf(Adam(1e-2)), master(16, 1, workers=1))
    model.fit((x, y), numEpochs=2)

    single = MultiLayerNetwork(mlp_conf(Adam(1e-2))).init()
    for epoch in range(2):
        for idx in slot_batches(len(x), 1, 16, epoch)[0]:
            single.fit(x[idx], y[idx])
        single.conf.epoch_count += 1

    net = model.getNetwork()
    np.testing.assert_allclose(net.params(), single.params(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(net.updaterState(), single.updaterState(), rtol=1e-6, atol=1e-7)
    assert net.getIterationCount() == single.getIterationCount() == 12
    assert net.getEpochCount() == single.getEpochCount() == 2
    assert model.getTrainingStats().rounds == 12


@pytest.mark.parametrize("freq", [1, 3])
def test_one_worker_vae_pretraining_equals_single_machine(client, freq):
    """Pretraining too, including the VAE's sampled noise: the worker continues the network's random generator,
    so with one slot the result does not depend on the averaging frequency."""
    x = binary_patterns(160)
    model = DaskDl4jMultiLayer(client, vae_conf(), master(32, freq, workers=1))
    model.pretrain(x, numEpochs=2)

    single = MultiLayerNetwork(vae_conf()).init()
    for epoch in range(2):
        for idx in slot_batches(len(x), 1, 32, epoch)[0]:
            single.pretrainLayer(0, x[idx])
        single.conf.confs[0].epoch_count += 1

    net = model.getNetwork()
    np.testing.assert_allclose(net.params(), single.params(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.pretrain_updater(0).state, single.pretrain_updater(0).state, rtol=1e-5, atol=1e-7)
    assert net.conf.confs[0].iteration_count == single.conf.confs[0].iteration_count == 10
    # the driver's generator continues where the worker left it: the next draw matches too
    assert net.rng.random() == single.rng.random()


def test_two_workers_sgd_every_step_equals_doubled_minibatch(client):
    """DL4J's TestCompareParameterAveragingSparkVsSingleMachine, on Dask: plain SGD, averaging after every step.

    Why it holds: from the same θ, worker k steps to θ − η·(g_k + λθ) with g_k the *mean* gradient over its b
    examples; the average of the two is θ − η·((g_1 + g_2)/2 + λθ), and (g_1 + g_2)/2 is the mean gradient over
    the union of both minibatches (2b examples) — exactly one single-machine step on the doubled minibatch. (Sgd
    has no state; with Adam or momentum the averaged state would not equal the state of one step.)"""
    x, y = classification_data(128)
    lr = 0.1
    model = DaskDl4jMultiLayer(client, mlp_conf(Sgd(lr)), master(8, 1, workers=2))
    model.fit((x, y), numEpochs=2)

    single = MultiLayerNetwork(mlp_conf(Sgd(lr))).init()
    for epoch in range(2):
        per_slot = slot_batches(len(x), 2, 8, epoch)
        for b0, b1 in zip(*per_slot):
            idx = np.concatenate([b0, b1])
            single.fit(x[idx], y[idx])
        single.conf.epoch_count += 1

    net = model.getNetwork()
    np.testing.assert_allclose(net.params(), single.params(), rtol=2e-5, atol=2e-6)
    assert net.getIterationCount() == single.getIterationCount() == 16
    assert model.getTrainingStats().rounds == 16


def test_vae_pretraining_on_two_workers_lowers_the_score_like_single_machine(client):
    x = binary_patterns(512)
    model = DaskDl4jMultiLayer(client, vae_conf(), master(16, 2, collectTrainingStats=True))
    before = model.calculatePretrainScore(x)
    model.pretrain(x, numEpochs=4)
    after = model.calculatePretrainScore(x)

    single = MultiLayerNetwork(vae_conf()).init()
    for epoch in range(4):
        for idx in slot_batches(len(x), 1, 32, epoch)[0]:
            single.pretrainLayer(0, x[idx])
    single_after = DaskDl4jMultiLayer(client, single, master(16, 2)).calculatePretrainScore(x)

    assert np.isfinite(after)
    assert after < 0.85 * before, (before, after)
    # parameter averaging of two workers (minibatch 16 each) does about as well as one machine (minibatch 32)
    assert abs(after - single_after) < 0.15 * (before - single_after), (before, after, single_after)
    stats = model.getTrainingStats()
    assert stats.rounds == 4 * 8 and stats.records and stats.records[0]["slots"] == 2
    assert np.isfinite(model.getScore())


def test_autoencoder_pretraining_on_two_workers(client):
    x = binary_patterns(256)
    model = DaskDl4jMultiLayer(client, ae_conf(), master(16, 2))
    before = model.calculatePretrainScore(x)
    model.pretrain((x, None), numEpochs=3)
    after = model.calculatePretrainScore(x)
    assert after < 0.9 * before, (before, after)
    assert model.getNetwork().conf.confs[0].epoch_count == 3


# ------------------------------------------------------------------------------------------------------------------
# data sources
# ------------------------------------------------------------------------------------------------------------------
def test_dask_arrays_lists_and_bags_of_datasets_give_the_same_training(client):
    """The shards (balanced row ranges) do not depend on the container, so neither does the result."""
    import dask.array as da
    import dask.bag as db

    x, y = classification_data(96)
    tm = master(8, 2)

    def train(data):
        model = DaskDl4jMultiLayer(client, mlp_conf(Adam(1e-2)), tm)
        model.fit(data, numEpochs=1)
        return model.getNetwork().params().copy()

    reference = train((x, y))
    from_dask = train((da.from_array(x, chunks=(20, 5)), da.from_array(y, chunks=(32, 3))))
    datasets = [DataSet(x[i : i + 16], y[i : i + 16]) for i in range(0, 96, 16)]
    from_list = train(datasets)
    from_bag = train(db.from_sequence(datasets, npartitions=6))
    np.testing.assert_array_equal(from_dask, reference)
    np.testing.assert_array_equal(from_list, reference)
    np.testing.assert_array_equal(from_bag, reference)
    # and the order is deterministic for a seed, different for another
    np.testing.assert_array_equal(train((x, y)), reference)
    other = DaskDl4jMultiLayer(client, mlp_conf(Adam(1e-2)), master(8, 2, rngSeed=7))
    other.fit((x, y))
    assert not np.array_equal(other.getNetwork().params(), reference)


def test_scores_and_evaluation_match_single_machine(client):
    x, y = classification_data(100)
    model = DaskDl4jMultiLayer(client, mlp_conf(Adam(1e-2)), master(16, 2))
    model.fit((x, y), numEpochs=3)
    net = model.getNetwork()
    # DL4J's calculateScore: Σ score(minibatch)·n / N, with score = mean loss + regularisation
    assert model.calculateScore((x, y)) == pytest.approx(net.score((x, y)), rel=1e-5)
    ev = model.evaluate((x, y))
    assert ev.numExamples() == 100
    assert ev.accuracy() == pytest.approx(float(np.mean(net.predict(x) == y.argmax(1))))
    assert ev.getConfusionMatrix().sum() == 100


def test_workers_use_one_thread_and_cache_the_network(client):
    """One BLAS thread per worker process (../shared/PERFORMANCE.md), and the network rebuilt from the DL4J JSON
    once per process, not once per round."""
    x, y = classification_data()
    model = DaskDl4jMultiLayer(client, mlp_conf(Adam(1e-2)), master(8, 1))
    model.fit((x, y))
    conf_json = model._conf_json()

    def probe(conf_json):
        import os

        from dl4py.parallel import worker as W

        try:
            import threadpoolctl

            threads = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
        except ImportError:
            threads = [int(os.environ.get("OPENBLAS_NUM_THREADS", "0"))]
        net = W._NET_CACHE.get(conf_json)
        return threads, net is not None and net is W.cached_network(conf_json), os.environ.get("NUMBA_NUM_THREADS")

    for threads, cached, numba_threads in client.run(probe, conf_json).values():
        assert threads and set(threads) == {1}, threads
        assert cached
        assert numba_threads == "1"


# ------------------------------------------------------------------------------------------------------------------
# errors and faults
# ------------------------------------------------------------------------------------------------------------------
def test_no_workers_is_a_clear_error():
    cluster = distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0")
    c = distributed.Client(cluster)
    try:
        model = DaskDl4jMultiLayer(c, mlp_conf(Adam(1e-2)), master(16, 1))
        x, y = classification_data()
        with pytest.raises(DL4JException, match="no workers"):
            model.fit((x, y))
    finally:
        c.close(timeout=30)
        cluster.close(timeout=30)


def test_task_errors_are_raised_not_retried_forever(client):
    x, y = classification_data()
    model = DaskDl4jMultiLayer(client, mlp_conf(Adam(1e-2)), master(16, 1, taskRetries=0))
    with pytest.raises(DL4JInvalidInputException):
        model.fit((x[:, :7], y))
    with pytest.raises(DL4JInvalidInputException, match="labels"):
        model.fit(x)
    assert model.getNetwork().getIterationCount() == 0


def test_a_worker_killed_mid_fit_does_not_change_the_result(client):
    """Kill one worker process (SIGKILL) while rounds are running: its task is rescheduled, or the round is run
    again from the same inputs after its data are re-scattered; the result equals the undisturbed run's."""
    x, y = classification_data(640)
    tm = master(16, 1)
    undisturbed = DaskDl4jMultiLayer(client, mlp_conf(Adam(1e-2)), tm)
    undisturbed.fit((x, y))

    model = DaskDl4jMultiLayer(client, mlp_conf(Adam(1e-2)), tm)
    killed = []

    def kill_one_worker():
        deadline = time.monotonic() + 30
        while model.rounds_completed < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        victim = sorted(client.scheduler_info()["workers"])[-1]
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, 9)
        killed.append(time.monotonic())

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    try:
        model.fit((x, y))
        fit_done = time.monotonic()
        killer.join(timeout=30)
    finally:
        restore_workers(client)
    assert killed and killed[0] < fit_done, "the worker was not killed during the fit"
    assert model.getTrainingStats().rounds == undisturbed.getTrainingStats().rounds == 20
    np.testing.assert_array_equal(model.getNetwork().params(), undisturbed.getNetwork().params())
    np.testing.assert_array_equal(model.getNetwork().updaterState(), undisturbed.getNetwork().updaterState())


def test_a_stuck_round_raises_a_clear_timeout_instead_of_hanging(client):
    """A worker that neither answers nor dies (here: its engine lock held by another thread) is not waited for
    forever: after roundTimeout the fit raises, naming the round, the slots and their workers; the network keeps
    its parameters (never a partial average)."""
    hold_s = 3.0

    def hold_engine_lock(seconds: float) -> None:
        import threading
        import time

        from dl4py.parallel import worker as W

        held = threading.Event()

        def hold() -> None:
            with W._ENGINE_LOCK:
                held.set()
                time.sleep(seconds)

        threading.Thread(target=hold, daemon=True).start()
        held.wait(5)

    x, y = classification_data(64)
    model = DaskDl4jMultiLayer(client, mlp_conf(Adam(1e-2)), master(16, 1, roundTimeout=0.5))
    before = model.getNetwork().params().copy()
    t0 = time.monotonic()
    client.run(hold_engine_lock, hold_s)
    with pytest.raises(RoundTimeoutException) as info:
        model.fit((x, y))
    assert time.monotonic() - t0 < hold_s, "the fit waited for the stuck workers instead of timing out"
    message = str(info.value)
    assert message.startswith("fit: epoch 0, round 1 of 2: no result from worker slot 0 (task dl4py-fit-"), message
    assert "running on worker tcp://" in message and "within roundTimeout = 0.5 s (waited " in message, message
    np.testing.assert_array_equal(model.getNetwork().params(), before)
    assert model.getNetwork().getIterationCount() == 0
    time.sleep(max(0.0, hold_s + 0.5 - (time.monotonic() - t0)))  # the workers' locks are free again
