"""The BLAS thread governor: runs steps with the faster of the caller's pool size and one thread, restores the
caller's setting after every step, re-probes, never touches a one-thread pool, and does not time the pool while
other processes keep the cores busy. Deterministic: a fake pool, a fake clock and a fake load stand in for
OpenBLAS, time and /proc/stat."""
from __future__ import annotations

import numpy as np
import pytest

from dl4py.nn.blas_threads import (CpuSample, DirectOpenBLAS, ThreadGovernor, blas_pool, cpu_sample, direct_openblas,
                                   numpy_blas, spare_cores)


class FakePool:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.calls: list[int] = []

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, n: int) -> None:
        self.calls.append(n)
        self.threads = n


class FakeClock:
    """Time advances only inside steps, by the cost the test assigns to the pool size in use."""

    def __init__(self, pool: FakePool, cost: dict[int, float]) -> None:
        self.pool, self.cost, self.now, self.used = pool, cost, 0.0, []

    def __call__(self) -> float:
        return self.now

    def run(self, governor: ThreadGovernor, key="k") -> None:
        with governor.step(key):
            self.used.append(self.pool.threads)
            self.now += self.cost[self.pool.threads]


class FakeLoad:
    """CPU counters of a 2-core machine on the fake clock, where other processes keep ``others`` cores busy."""

    def __init__(self, clock: FakeClock, others: float) -> None:
        self.clock, self.others, self.calls = clock, others, 0
        self.total = self.busy = self.last = 0.0

    def __call__(self) -> CpuSample:
        self.calls += 1
        passed, self.last = self.clock.now - self.last, self.clock.now
        self.total += 2 * passed
        self.busy += self.others * passed
        return CpuSample(self.total, self.busy, 0.0, 2, 2)


def governed(cost: dict[int, float], **options) -> tuple[FakePool, FakeClock, ThreadGovernor]:
    """A 2-thread fake pool, a clock charging ``cost`` per step, and an enabled governor over them (without a load
    check unless ``load`` is given)."""
    pool = FakePool(2)
    clock = FakeClock(pool, cost)
    options.setdefault("load", None)
    gov = ThreadGovernor(pool=pool, clock=clock, **options)
    gov.enabled = True
    return pool, clock, gov


def test_collapsing_pool_is_avoided_and_callers_setting_restored():
    pool = FakePool(2)
    clock = FakeClock(pool, {2: 7.0, 1: 1.0})  # two threads collapse (7x slower)
    gov = ThreadGovernor(probe_steps=3, first_interval=10, pool=pool, clock=clock, load=None)
    assert not gov.enabled  # opt-in
    gov.enabled = True
    for _ in range(5):  # warm-up, three steps on one thread, then the pool: 7x slower ends the probe at once
        clock.run(gov)
    assert clock.used == [2, 1, 1, 1, 2]
    assert gov.choice("k", 2) == 1
    for _ in range(10):
        clock.run(gov)
    assert clock.used[5:] == [1] * 10
    assert pool.threads == 2  # restored after every step
    for _ in range(4):  # interval over: probing again, one thread first, then the pool
        clock.run(gov)
    assert clock.used[-4:] == [1, 1, 1, 2]


def test_settled_one_thread_steps_are_not_timed_and_the_next_probe_comes_on_schedule():
    pool = FakePool(2)
    clock = FakeClock(pool, {2: 7.0, 1: 1.0})
    reads = []

    def counting_clock() -> float:
        reads.append(clock.now)
        return clock()

    gov = ThreadGovernor(probe_steps=3, first_interval=10, probe_gap=2.0, pool=pool, clock=counting_clock, load=None)
    gov.enabled = True
    for _ in range(5):  # warm-up, 3 samples on one thread, 1 collapsing sample with the pool (now = 17)
        clock.run(gov)
    assert gov.choice("k", 2) == 1  # interval 10, quiet until 17 + 2.0
    n = len(reads)
    for _ in range(9):  # countdown 10 -> 1: no clock read at all
        clock.run(gov)
    assert len(reads) == n
    clock.run(gov)  # the countdown ends: one read, for the quiet period (over: 27 >= 19), so a probe starts
    assert reads[n:] == [27.0]
    for _ in range(4):
        clock.run(gov)
    assert clock.used[5:] == [1] * 10 + [1, 1, 1, 2]  # the probe: one thread first, then the pool
    assert pool.threads == 2


def test_faster_pool_is_kept_and_interval_doubles():
    pool, clock, gov = governed({2: 1.0, 1: 1.8}, probe_steps=2, first_interval=4)
    for _ in range(5):
        clock.run(gov)
    assert gov.choice("k", 2) == 2
    for _ in range(4 + 4):  # exploit 4, probe 4 (same winner) ...
        clock.run(gov)
    assert gov._states[("k", 2)].interval == 8
    assert set(clock.used[5:9]) == {2}


def test_choice_follows_a_change_of_load():
    pool, clock, gov = governed({2: 1.0, 1: 1.8}, probe_steps=2, first_interval=4)
    for _ in range(5 + 4):
        clock.run(gov)
    clock.cost = {2: 9.0, 1: 1.8}  # the machine got busy
    for _ in range(4):
        clock.run(gov)
    assert gov.choice("k", 2) == 1
    assert gov._states[("k", 2)].interval == 4


def test_keys_are_timed_separately_and_one_thread_is_left_alone():
    pool, clock, gov = governed({2: 5.0, 1: 1.0}, probe_steps=1, first_interval=5)
    for _ in range(3):
        clock.run(gov, "a")
    assert gov.choice("a", 2) == 1 and gov.choice("b", 2) is None
    single = FakePool(1)
    gov1 = ThreadGovernor(pool=single, clock=clock)
    gov1.enabled = True
    for _ in range(10):
        with gov1.step("a"):
            pass
    assert single.calls == []
    off = ThreadGovernor(pool=pool, clock=clock)
    off.enabled = False
    calls = len(pool.calls)
    with off.step("a"):
        pass
    assert len(pool.calls) == calls


def test_setting_restored_when_the_step_raises():
    pool, clock, gov = governed({2: 5.0, 1: 1.0}, probe_steps=1, first_interval=5)
    for _ in range(3):
        clock.run(gov)
    with pytest.raises(RuntimeError):
        with gov.step("k"):
            assert pool.threads == 1
            raise RuntimeError("boom")
    assert pool.threads == 2


def test_invalid_settings():
    with pytest.raises(ValueError, match="probe_steps"):
        ThreadGovernor(probe_steps=0)
    with pytest.raises(ValueError, match="max_interval"):
        ThreadGovernor(first_interval=10, max_interval=5)
    with pytest.raises(ValueError, match="margin"):
        ThreadGovernor(margin=1.0)
    with pytest.raises(ValueError, match="slack"):
        ThreadGovernor(slack=1.0)
    with pytest.raises(ValueError, match="min_window"):
        ThreadGovernor(min_window=-1.0)


class _Lib:
    def __init__(self, filepath: str) -> None:
        self.filepath = filepath


def test_the_pool_governed_is_numpys_blas_even_when_scipys_is_listed_first(tmp_path):
    site = tmp_path / "site-packages"
    scipy_lib = _Lib(str(site / "scipy.libs" / "libscipy_openblas-1.so"))
    wheel_lib = _Lib(str(site / "numpy.libs" / "libscipy_openblas64_-2.so"))
    inside_lib = _Lib(str(site / "numpy" / "_core" / "libopenblas.so"))
    numpy_dir = str(site / "numpy")
    assert numpy_blas([scipy_lib, wheel_lib], numpy_dir) is wheel_lib
    assert numpy_blas([scipy_lib, inside_lib], numpy_dir) is inside_lib
    assert numpy_blas([_Lib(str(site / "numpyx" / "lib.so")), wheel_lib], numpy_dir) is wheel_lib
    shared = _Lib("/usr/lib/libopenblas.so")  # a system or conda NumPy: one library for everyone
    assert numpy_blas([shared], numpy_dir) is shared
    assert numpy_blas([], numpy_dir) is None


def test_blas_pool_is_the_library_numpy_loaded():
    import os

    import numba  # noqa: F401  (imports SciPy where it is installed: a second OpenBLAS in the process)

    pool = blas_pool()
    if pool is None:
        pytest.skip("threadpoolctl finds no BLAS in this process")
    from threadpoolctl import threadpool_info

    numpy_dir = os.path.dirname(os.path.realpath(np.__file__))
    ours = [i["filepath"] for i in threadpool_info() if i["user_api"] == "blas"
            and os.path.realpath(i["filepath"]).startswith((numpy_dir + os.sep, numpy_dir + ".libs" + os.sep))]
    if ours:  # a wheel NumPy with its own OpenBLAS
        assert os.path.realpath(pool.filepath) == os.path.realpath(ours[0])


def test_network_steps_leave_the_real_pool_as_the_caller_set_it():
    pool = blas_pool()
    if pool is None:
        pytest.skip("threadpoolctl finds no BLAS in this process")
    from dl4py.learning.config import Adam
    from dl4py.lossfunctions import LossFunctions
    from dl4py.nn.conf import NeuralNetConfiguration
    from dl4py.nn.conf.layers import DenseLayer, OutputLayer
    from dl4py.nn.multilayer import MultiLayerNetwork

    conf = (NeuralNetConfiguration.Builder().seed(1).updater(Adam(1e-3)).list()
            .layer(DenseLayer.Builder().nIn(8).nOut(16).build())
            .layer(OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(16).nOut(2).build()).build())
    net = MultiLayerNetwork(conf)
    net.init()
    net.blasThreads.enabled = net.blasThreads.inference = True
    before = pool.get_num_threads()
    try:
        pool.set_num_threads(2)
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((32, 8)).astype(np.float32), rng.standard_normal((32, 2)).astype(np.float32)
        for _ in range(12):
            net.fit(x, y)
            net.output(x)
            assert pool.get_num_threads() == 2
        assert net.blasThreads.choice(("fit", 32), 2) in (1, 2)
        assert net.blasThreads.choice(("output", 32), 2) in (1, 2)
    finally:
        pool.set_num_threads(before)


def test_inference_is_governed_only_when_asked():
    pool, clock, gov = governed({2: 5.0, 1: 1.0}, probe_steps=1, first_interval=5)
    for _ in range(5):
        with gov.step("infer", inference=True):
            pass
    assert pool.calls == [] and gov.choice("infer", 2) is None
    gov.inference = True
    for _ in range(3):
        with gov.step("infer", inference=True):
            clock.now += clock.cost[pool.threads]
    assert gov.choice("infer", 2) == 1


def test_a_marginal_gain_keeps_one_thread():
    # the pool is 5 % faster: within the margin, so one thread is kept
    pool, clock, gov = governed({2: 0.95, 1: 1.0}, probe_steps=2, first_interval=4, margin=0.1)
    for _ in range(5):
        clock.run(gov)
    assert gov.choice("k", 2) == 1


def test_collapse_while_using_the_pool_triggers_a_probe_at_once():
    pool, clock, gov = governed({2: 0.5, 1: 1.0}, probe_steps=1, first_interval=100, patience=2)
    for _ in range(3 + 5):
        clock.run(gov)
    assert gov.choice("k", 2) == 2 and clock.used[3:] == [2] * 5
    clock.cost = {2: 6.0, 1: 1.0}  # load arrives: two slow steps, then a probe (2, 1) instead of 95 more steps
    for _ in range(2 + 2):
        clock.run(gov)
    assert gov.choice("k", 2) == 1
    clock.run(gov)
    assert clock.used[-1] == 1


def loaded(cost: dict[int, float], others: float, **options) -> tuple[FakePool, FakeClock, ThreadGovernor, FakeLoad]:
    """:func:`governed` with a fake load source (others keep ``others`` of the 2 cores busy), load checks after 3
    time units."""
    pool = FakePool(2)
    clock = FakeClock(pool, cost)
    load = FakeLoad(clock, others)
    gov = ThreadGovernor(pool=pool, clock=clock, load=load, min_window=3.0, **options)
    gov.enabled = True
    return pool, clock, gov, load


def test_spare_cores():
    before = CpuSample(100.0, 60.0, 10.0, 4, 2)
    # 4 cores for 10 s: 40 core-seconds, 30 busy, 10 of them ours: others used 20 / 40 of the machine = 2 cores
    assert spare_cores(before, CpuSample(140.0, 90.0, 20.0, 4, 2)) == pytest.approx(2.0)
    assert spare_cores(before, CpuSample(140.0, 90.0, 20.0, 4, 1)) == pytest.approx(1.0)  # usable cores cap it
    assert spare_cores(before, CpuSample(140.0, 100.0, 10.0, 4, 4)) == pytest.approx(0.0)
    assert spare_cores(before, before) is None  # no time passed


def test_cpu_sample_of_this_machine():
    sample = cpu_sample()
    if sample is None:
        pytest.skip("no /proc/stat")
    assert sample.total >= sample.busy >= 0.0 and sample.own > 0.0 and 1 <= sample.usable <= sample.cores


def test_contended_machine_never_times_the_pool():
    pool, clock, gov, load = loaded({2: 20.0, 1: 1.0}, others=1.0, probe_steps=2, first_interval=10)
    assert gov.choice("k", 2) is None
    clock.run(gov)
    assert gov.choice("k", 2) == 1  # a new key starts on one thread
    for _ in range(60):
        clock.run(gov)
    assert clock.used == [1] * 61 and pool.threads == 2
    # one sample at the start, checks before steps 3, 13, ..., 53 (one per interval): cheap
    assert load.calls == 1 + 6


def test_idle_machine_times_the_pool_and_keeps_the_faster():
    pool, clock, gov, load = loaded({2: 0.5, 1: 1.0}, others=0.0, probe_steps=2, first_interval=10)
    for _ in range(3 + 4 + 3):  # one thread until the 3-unit window is over, probe (1, 1, 2, 2), then the pool
        clock.run(gov)
    assert clock.used == [1, 1, 1] + [1, 1, 2, 2] + [2, 2, 2]
    assert gov.choice("k", 2) == 2
    # the pool is not faster: one thread is kept (and the next probe comes later)
    pool, clock, gov, load = loaded({2: 1.2, 1: 1.0}, others=0.0, probe_steps=2, first_interval=10)
    for _ in range(3 + 4):
        clock.run(gov)
    assert gov.choice("k", 2) == 1 and gov._states[("k", 2)].interval == 20


def test_half_busy_core_counts_as_busy_within_the_slack():
    pool, clock, gov, load = loaded({2: 0.5, 1: 1.0}, others=0.4, probe_steps=1, first_interval=10, slack=0.5)
    for _ in range(10):
        clock.run(gov)
    assert 2 in clock.used  # 1.6 spare cores >= 2 - 0.5
    pool, clock, gov, load = loaded({2: 0.5, 1: 1.0}, others=0.6, probe_steps=1, first_interval=10, slack=0.5)
    for _ in range(10):
        clock.run(gov)
    assert 2 not in clock.used


def test_load_appearing_later_moves_back_to_one_thread_without_timing_the_pool():
    pool, clock, gov, load = loaded({2: 0.5, 1: 1.0}, others=0.0, probe_steps=1, first_interval=10)
    for _ in range(3 + 2 + 10):
        clock.run(gov)
    assert gov.choice("k", 2) == 2
    # busy now, but the pool is only a little slower than one thread was: the next check (after the interval)
    # finds the cores taken and moves to one thread without timing the pool
    load.others, clock.cost = 1.0, {2: 1.05, 1: 1.0}
    n = len(clock.used)
    for _ in range(20):
        clock.run(gov)
    assert gov.choice("k", 2) == 1
    after = clock.used[n:]
    assert after[: after.index(1)] == [2] * after.index(1) and set(after[after.index(1):]) == {1}
    # the load goes away: a check whose window is idle times the pool again and takes it back
    load.others, clock.cost = 0.0, {2: 0.5, 1: 1.0}
    for _ in range(2 * 10 + 2 + 1):
        clock.run(gov)
    assert gov.choice("k", 2) == 2 and clock.used[-1] == 2


def test_collapse_while_using_the_pool_moves_to_one_thread_at_once_with_load_checks():
    pool, clock, gov, load = loaded({2: 0.5, 1: 1.0}, others=0.0, probe_steps=1, first_interval=100, patience=2)
    for _ in range(3 + 2 + 5):
        clock.run(gov)
    assert gov.choice("k", 2) == 2
    load.others, clock.cost = 1.0, {2: 6.0, 1: 1.0}
    for _ in range(2 + 150):  # two slow steps, then one thread; the checks find the cores busy
        clock.run(gov)
    assert gov.choice("k", 2) == 1 and clock.used[-150:] == [1] * 150


def test_without_a_load_sample_the_governor_behaves_as_before():
    runs = []
    for load in (None, lambda: None):
        pool, clock, gov = governed({2: 0.5, 1: 1.0}, probe_steps=2, first_interval=4, load=load)
        for _ in range(30):
            clock.run(gov)
        clock.cost = {2: 5.0, 1: 1.0}
        for _ in range(30):
            clock.run(gov)
        runs.append((clock.used, pool.calls, gov.choice("k", 2)))
    assert runs[0] == runs[1]
    assert runs[0][0][:5] == [2, 1, 1, 2, 2]  # warm-up with the pool, then both timed at once


def test_training_is_governed_by_default_unless_the_environment_says_no(monkeypatch):
    for value, expected in ((None, True), ("1", True), ("0", False), ("off", False), ("False", False), ("no", False)):
        if value is None:
            monkeypatch.delenv("DL4PY_BLAS_GOVERNOR", raising=False)
        else:
            monkeypatch.setenv("DL4PY_BLAS_GOVERNOR", value)
        gov = ThreadGovernor()
        assert (gov.enabled, gov.inference) == (expected, False), value


def test_a_step_that_starts_while_another_governed_step_runs_leaves_the_pool_alone():
    """Two governors (two networks trained in two threads) share one process-wide pool: while the first one's step
    runs on one thread, the second one's step neither reads that as its setting nor changes the pool."""
    pool, clock, first = governed({2: 5.0, 1: 1.0}, probe_steps=1, first_interval=5)
    second = ThreadGovernor(probe_steps=1, first_interval=5, pool=pool, clock=clock, load=None)
    second.enabled = True
    for _ in range(4):  # the first governor settles on one thread
        clock.run(first)
    assert first.choice("k", 2) == 1
    with first.step("k"):
        assert pool.threads == 1
        calls = len(pool.calls)
        for _ in range(3):
            clock.run(second, key="other")
        assert len(pool.calls) == calls and pool.threads == 1
        assert second.choice("other", 2) is None and second.choice("other", 1) is None  # nothing was timed
    assert pool.threads == 2
    clock.run(second, key="other")  # alone again: governed
    assert second.choice("other", 2) is not None or len(pool.calls) > calls


def test_one_thread_samples_come_before_the_pool_is_woken():
    """OpenBLAS's threads spin after a threaded call and slow a step on the sibling hyper-thread: a one-thread
    sample taken right after a pool step would be too slow and tip the choice towards the pool."""

    class SpinningClock(FakeClock):
        def run(self, governor, key="k"):
            slowed = bool(self.used) and self.used[-1] == 2  # pool threads still spinning from the last step
            with governor.step(key):
                self.used.append(self.pool.threads)
                self.now += self.cost[self.pool.threads] * (1.4 if slowed and self.pool.threads == 1 else 1.0)

    pool = FakePool(2)
    clock = SpinningClock(pool, {2: 1.1, 1: 1.0})  # the pool is 10 % slower than a clean one-thread step
    gov = ThreadGovernor(probe_steps=3, first_interval=10, pool=pool, clock=clock, load=None)
    gov.enabled = True
    for _ in range(7):
        clock.run(gov)
    assert clock.used == [2, 1, 1, 1, 2, 2, 2]
    assert gov.choice("k", 2) == 1


def test_on_one_thread_probes_wait_for_the_quiet_period_which_grows_with_the_interval():
    # steps of 0.01 time units: an interval of 10 steps is over long before the quiet period of 1.0
    pool, clock, gov = governed({2: 0.02, 1: 0.01}, probe_steps=1, first_interval=10, probe_gap=1.0)
    for _ in range(3):  # warm-up, one thread, the pool (slower): one thread
        clock.run(gov)
    assert gov.choice("k", 2) == 1
    decided = clock.now
    while clock.used.count(2) < 3:  # run until the next probe has used the pool
        clock.run(gov)
    assert clock.now - decided >= 1.0  # not after 10 steps (0.1), but after the quiet period
    second = clock.now
    while clock.used.count(2) < 4:
        clock.run(gov)
    assert clock.now - second >= 2.0  # same choice: the interval doubled, and the quiet period with it
    # the pool is faster: while it is the choice, probes follow the step interval alone
    pool, clock, gov = governed({2: 0.005, 1: 0.01}, probe_steps=1, first_interval=10, probe_gap=1.0)
    for _ in range(3 + 10 + 2):
        clock.run(gov)
    assert clock.used[3:13] == [2] * 10 and clock.used[13:15] == [1, 2] and clock.now < 1.0


def test_probe_gap_must_not_be_negative():
    with pytest.raises(ValueError, match="probe_gap"):
        ThreadGovernor(probe_gap=-1.0)


def test_a_new_key_waits_for_the_quiet_period_before_its_first_probe():
    pool, clock, gov, load = loaded({2: 0.5, 1: 1.0}, others=0.0, probe_steps=1, first_interval=10, probe_gap=8.0)
    for _ in range(8):  # the load window (3) is over after 3 steps, the quiet period (8) after 8
        clock.run(gov)
    assert clock.used == [1] * 8
    for _ in range(3):  # then the probe (1, 2), and the faster pool
        clock.run(gov)
    assert clock.used[8:] == [1, 2, 2] and gov.choice("k", 2) == 2


def test_direct_openblas_sets_the_pool_threadpoolctl_reports():
    pool = blas_pool()
    if not isinstance(pool, DirectOpenBLAS):
        pytest.skip("NumPy's BLAS here is not a pthreads OpenBLAS")
    from threadpoolctl import threadpool_info

    def reported() -> int:
        return next(i["num_threads"] for i in threadpool_info() if i["filepath"] == pool.filepath)

    before = pool.get_num_threads()
    try:
        for n in (1, 2, 1):
            pool.set_num_threads(n)
            assert pool.get_num_threads() == n == reported()
    finally:
        pool.set_num_threads(before)
    assert pool.internal_api == "openblas"  # the controller's other attributes


def test_direct_openblas_leaves_other_libraries_to_threadpoolctl():
    class Controller:
        def __init__(self, api: str, layer: str, path: str = "/nonexistent/libopenblas.so") -> None:
            self.internal_api, self.threading_layer, self.filepath = api, layer, path

    for c in (Controller("mkl", "intel"), Controller("openblas", "openmp"), Controller("openblas", "pthreads")):
        assert direct_openblas(c) is c  # MKL, OpenMP (per-thread limits), a library that cannot be opened
    assert direct_openblas(None) is None
