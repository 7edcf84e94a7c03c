"""More BLAS threads must never make training slower: a governor that times the engine's steps with the BLAS pool
size the caller configured and with one thread, and runs them with whichever is faster.

Why: on a machine whose cores are busy with other work (a shared 2-vCPU box, a laptop running a browser), a
second OpenBLAS thread waits for a core at every GEMM and a training step can get many times slower than with one
thread ("thread-pool collapse"). Which setting wins depends on the minibatch size, the layer sizes and on the load
of the moment, so it is measured, per kind of step and minibatch size, and measured again from time to time.

The governor acts only when the BLAS pool has more than one thread (with one thread nothing changes), changes the
pool size only for the duration of a step and restores the caller's value after it. The pool is reached through
``threadpoolctl``; without it (or without a BLAS that threadpoolctl knows) the governor does nothing.

Timing a collapsing pool is itself expensive (one such step can cost twenty normal ones), so before the pool is
timed the governor checks the load: from Linux's ``/proc/stat`` it takes the CPU time that *other* processes used
since its last look and times the pool only when about as many cores as the pool has threads were left idle.
Until then, and while they are busy, steps run on one thread and the pool is not timed at all. Where
``/proc/stat`` cannot be read, the pool is timed without a load check.

Training steps are governed by default (``enabled``); inference calls only when asked (``inference``), so that
``output`` gives the same numbers on every call. Set the environment variable ``DL4PY_BLAS_GOVERNOR=0`` (or
``net.blasThreads.enabled = False``) for runs that must be bit-reproducible with a multi-threaded BLAS: OpenBLAS
does not give bit-identical products for different thread counts, so a governed run can differ from a run with a
fixed pool size at float rounding level, and from another governed run when the choice flips. The pool size is
process-wide: while one governed step runs, steps that start in other threads leave the pool alone (they are not
governed), so concurrently trained networks do not change it under each other.
"""
from __future__ import annotations

import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, NamedTuple, Protocol, Sequence

__all__ = ["BlasPool", "CpuSample", "DirectOpenBLAS", "ThreadGovernor", "blas_pool", "cpu_sample",
           "direct_openblas", "governed_by_default", "numpy_blas", "spare_cores"]


class BlasPool(Protocol):
    """What the governor needs of a BLAS thread pool (threadpoolctl's library controllers have it)."""

    def get_num_threads(self) -> int: ...

    def set_num_threads(self, num_threads: int) -> Any: ...


_POOL: BlasPool | None = None
_POOL_LOOKED_UP = False
_POOL_LOCK = threading.Lock()


def blas_pool() -> BlasPool | None:
    """The BLAS library NumPy uses, as a threadpoolctl controller (None when threadpoolctl is not installed or
    finds no BLAS). Looked up once per process."""
    global _POOL, _POOL_LOOKED_UP
    if _POOL_LOOKED_UP:
        return _POOL
    with _POOL_LOCK:
        if not _POOL_LOOKED_UP:
            try:
                import numpy  # noqa: F401  (threadpoolctl finds only libraries already loaded)
                from threadpoolctl import ThreadpoolController

                _POOL = direct_openblas(numpy_blas(ThreadpoolController().select(user_api="blas").lib_controllers))
            except Exception:  # no threadpoolctl, or it cannot inspect this process: the governor stays off
                _POOL = None
            _POOL_LOOKED_UP = True
    return _POOL


def numpy_blas(controllers: Sequence[Any], numpy_dir: str | None = None) -> Any | None:
    """Of threadpoolctl's BLAS controllers, the one of the library NumPy's matmul calls (None if there is none).

    A process can hold several BLAS libraries: numba imports SciPy when it is installed, and SciPy's wheels bring
    their own OpenBLAS. Threadpoolctl lists them in the loader's order, which is not the import order, so the
    first one may well be SciPy's — governing that pool would leave NumPy's untouched. NumPy's wheels keep theirs
    in ``numpy.libs`` beside the package (or inside it); a system or conda NumPy shares one library with SciPy.
    """
    if not controllers:
        return None
    if numpy_dir is None:
        import numpy

        numpy_dir = os.path.dirname(os.path.realpath(numpy.__file__))
    homes = (numpy_dir, numpy_dir + ".libs", os.path.join(os.path.dirname(numpy_dir), "numpy.libs"))
    for c in controllers:
        where = os.path.dirname(os.path.realpath(getattr(c, "filepath", "") or ""))
        if any(where == h or where.startswith(h + os.sep) for h in homes):
            return c
    return controllers[0]


class DirectOpenBLAS:
    """A pthreads OpenBLAS pool reached through its own ``openblas_get/set_num_threads`` (0.2-0.3 µs a call instead
    of threadpoolctl's 0.9-1.4 µs; a governed step on one thread makes three). Other attributes are the
    threadpoolctl controller's."""

    def __init__(self, controller: Any, get_num_threads: Callable[[], int],
                 set_num_threads: Callable[[int], Any]) -> None:
        self._controller = controller
        self.get_num_threads = get_num_threads
        self.set_num_threads = set_num_threads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._controller, name)


def direct_openblas(controller: Any) -> Any:
    """``controller`` as a :class:`DirectOpenBLAS` when it is a pthreads OpenBLAS whose entry points can be found
    (plain, ``scipy_``-prefixed, ``64_``/``_64``-suffixed); otherwise ``controller`` itself. (OpenMP builds keep
    one limit per calling thread, which only threadpoolctl handles.)"""
    if controller is None or getattr(controller, "internal_api", None) != "openblas" \
            or getattr(controller, "threading_layer", None) != "pthreads":
        return controller
    import ctypes

    try:
        lib = ctypes.CDLL(controller.filepath)  # already loaded: the same library, not a second copy
    except (OSError, TypeError, AttributeError):
        return controller
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64"):
            get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                return DirectOpenBLAS(controller, get, put)
    return controller


_ACTIVE = [False]  # a governed step is running now, in some thread of the process
_LOCK = threading.Lock()  # the process-wide pool, ``_ACTIVE`` and every governor's bookkeeping


def governed_by_default() -> bool:
    """Whether new networks govern their training steps: yes, unless DL4PY_BLAS_GOVERNOR is 0/false/off/no."""
    return os.environ.get("DL4PY_BLAS_GOVERNOR", "1").strip().lower() not in ("0", "false", "off", "no")


class CpuSample(NamedTuple):
    """Cumulative CPU seconds at one moment (Linux counts them from boot)."""

    total: float  # all cores of the machine, busy or idle (about wall time x cores)
    busy: float  # of ``total``, busy with anything (time stolen by the hypervisor included)
    own: float  # used by this process
    cores: int  # online cores of the machine
    usable: int  # cores this process may run on


def cpu_sample() -> CpuSample | None:
    """The machine's and this process's CPU time now (None where ``/proc/stat`` cannot be read)."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
        if fields[:1] != [b"cpu"]:
            return None
        ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal (guest is in user)
        hz = os.sysconf("SC_CLK_TCK")
        own = os.times()
        cores = os.cpu_count() or 1
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    except (OSError, ValueError, IndexError):
        return None
    total = sum(ticks) / hz
    return CpuSample(total, total - (ticks[3] + ticks[4]) / hz, own.user + own.system, cores, usable)


def spare_cores(before: CpuSample, after: CpuSample) -> float | None:
    """How many cores, on average between two samples, other processes left idle for this one (None when no
    time passed between them)."""
    total = after.total - before.total
    if total <= 0.0:
        return None
    others = max(0.0, (after.busy - before.busy) - (after.own - before.own)) / total * after.cores
    return max(0.0, min(float(after.usable), after.cores - others))


@dataclass
class _KeyState:
    """Timings and the current choice for one kind of step at one requested pool size."""

    interval: int
    order: list[int] = field(default_factory=list)  # thread counts still to probe, in order
    samples: dict[int, list[float]] = field(default_factory=dict)
    choice: int | None = None
    until_probe: int = 0
    one_thread_time: float = 0.0  # median step time with one thread at the last probe
    quiet_until: float = 0.0  # on one thread: no new probe before this time of the governor's clock
    slow_streak: int = 0  # consecutive steps with the pool clearly slower than one thread was
    since: CpuSample | None = None  # load sample opening the current window (None: no load check for this key)
    since_time: float = 0.0  # the governor's clock at ``since``
    due: bool = False  # a probe is due, waiting for the load check


class _Step:
    """One governed step (:meth:`ThreadGovernor.step`): a class rather than a generator-based context manager,
    because the governor's own cost counts on steps of a few hundred microseconds."""

    __slots__ = ("gov", "key", "inference", "pool", "requested", "state", "threads", "start")

    def __init__(self, gov: "ThreadGovernor", key: Hashable, inference: bool) -> None:
        self.gov, self.key, self.inference = gov, key, inference
        self.requested = 0  # > 1 while this step holds the pool (the caller's size, restored at the end)

    def __enter__(self) -> None:
        gov = self.gov
        if not gov.enabled or (self.inference and not gov.inference):
            return
        pool = gov._pool if gov._pool is not None else blas_pool()
        if pool is None:
            return
        # one lock for the whole decision, taken without ``with`` (each acquisition shows on steps of 0.3 ms); a
        # due load check reads /proc/stat under it, rarely (once per quiet period)
        _LOCK.acquire()
        try:
            if _ACTIVE[0]:  # another thread's governed step owns the pool now
                return
            requested = pool.get_num_threads()
            if requested <= 1:
                return
            state = gov._states.get((self.key, requested))
            if state is None or state.order or state.due:
                state, threads = gov._begin(self.key, requested)
            else:  # settled, no probe under way or due: the current choice (what ``_begin`` returns then)
                threads = state.choice if state.choice is not None else requested
            if threads != requested:
                pool.set_num_threads(threads)
            _ACTIVE[0] = True
        finally:
            _LOCK.release()
        self.pool, self.requested, self.state, self.threads = pool, requested, state, threads
        # a settled step on one thread is not timed: only probes and steps with the pool use their time
        self.start = gov._clock() if (threads != 1 or state.order) else -1.0

    def __exit__(self, *exc: Any) -> bool:
        requested = self.requested
        if requested <= 1:
            return False
        start = self.start
        elapsed = self.gov._clock() - start if start >= 0.0 else 0.0
        self.requested = 0
        state = self.state
        _LOCK.acquire()
        try:
            if self.threads != requested:
                self.pool.set_num_threads(requested)
            if start < 0.0:  # a settled one-thread step: only the countdown to the next probe
                self.gov._count_down(state, requested)
            else:
                self.gov._record(state, self.threads, elapsed, requested)
        finally:
            _ACTIVE[0] = False
            _LOCK.release()
        return False


class ThreadGovernor:
    """Chooses, per step key (e.g. ``("pretrain", layer, minibatch)``), between the caller's BLAS pool size and one
    thread by timing steps with both (``probe_steps`` with one thread, then ``probe_steps`` with the pool, after
    one unrecorded warm-up step), keeps the faster for ``interval`` steps, then probes again; the interval doubles
    (up to ``max_interval``) while the choice stays the same and restarts at ``first_interval`` when it changes.

    Probing the pool costs more than its own steps: OpenBLAS's idle threads spin for tens of milliseconds after
    every threaded call, and on a machine whose logical CPUs share cores (2 vCPUs are usually one core's two
    hyper-threads) the spinning thread slows the one doing the work by about a third. So the one-thread samples
    of a probe come first, before the pool has been woken, and while one thread is the choice (a new key's
    included) a probe also waits ``probe_gap`` × (interval ÷ first_interval) seconds. Measured on a 2-vCPU cloud
    machine: a probe the pool loses costs about 30 ms of work (0.1 s of spinning at a third); with steps of a few
    hundred microseconds, a probe every 200 steps kept the pool spinning a third of the time and made a 2-thread
    run 10 % slower than a 1-thread run. The default gap of 2 s bounds that cost to 1.5 %, and less as the gap
    doubles; the price is that a key whose pool is faster runs its first 2 s on one thread.

    One thread never collapses, so it is the safe side: the pool size is chosen only when its median step is at
    least ``margin`` faster; a probe ends at the first step with the pool that takes ``collapse_factor`` times the
    one-thread median (a collapsed step can cost as much as twenty normal ones); and while the pool is in use,
    ``patience`` consecutive steps slower than one thread was (by ``margin``) start a new probe at once — the load
    of a shared machine changes within seconds.

    With a ``load`` source (default: :func:`cpu_sample`; None: no load check) a new key starts on one thread and
    every probe waits for a load check: after at least ``min_window`` seconds (of ``clock``) since the last check
    (and the quiet period), the pool is timed only if other processes left at least ``requested - slack`` cores
    idle meanwhile; otherwise the key runs on one thread, untimed, and the check is repeated after the current
    interval. ``patience`` slow steps with the pool then move the key to one thread at once instead of probing. A
    key whose source gives no sample is governed without load checks."""

    def __init__(self, probe_steps: int = 3, first_interval: int = 200, max_interval: int = 6400,
                 margin: float = 0.1, patience: int = 2, collapse_factor: float = 2.0,
                 pool: BlasPool | None = None, clock: Callable[[], float] = time.perf_counter,
                 load: Callable[[], CpuSample | None] | None = cpu_sample, min_window: float = 0.1,
                 slack: float = 0.5, probe_gap: float = 2.0) -> None:
        if probe_steps < 1 or first_interval < 1 or max_interval < first_interval:
            raise ValueError("ThreadGovernor: probe_steps and first_interval must be >= 1 and "
                             f"max_interval >= first_interval, got {probe_steps}, {first_interval}, {max_interval}")
        if not 0.0 <= margin < 1.0 or patience < 1 or collapse_factor <= 1.0:
            raise ValueError("ThreadGovernor: margin must be in [0, 1), patience >= 1 and collapse_factor > 1, got "
                             f"{margin}, {patience}, {collapse_factor}")
        if min_window < 0.0 or not 0.0 <= slack < 1.0 or not probe_gap >= 0.0:
            raise ValueError("ThreadGovernor: min_window and probe_gap must be >= 0 and slack in [0, 1), got "
                             f"{min_window}, {probe_gap}, {slack}")
        self.probe_steps = probe_steps
        self.first_interval = first_interval
        self.max_interval = max_interval
        self.margin = margin
        self.patience = patience
        self.collapse_factor = collapse_factor
        self.enabled = governed_by_default()  # training steps (DL4PY_BLAS_GOVERNOR=0: off; see the module docstring)
        self.inference = False  # also govern inference calls (off: they then stay bit-identical to sequential calls)
        self._pool = pool
        self._clock = clock
        self._load = load
        self.min_window = min_window
        self.slack = slack
        self.probe_gap = probe_gap
        self._states: dict[Hashable, _KeyState] = {}

    def choice(self, key: Hashable, requested: int) -> int | None:
        """The thread count chosen for ``key`` at pool size ``requested`` (None while still probing)."""
        state = self._states.get((key, requested))
        return None if state is None else state.choice

    def step(self, key: Hashable, inference: bool = False) -> "_Step":
        """A context manager that runs one step (the body of the ``with``) with the BLAS pool size chosen for
        ``key`` (an ``inference`` call only when :attr:`inference` is set)."""
        return _Step(self, key, inference)

    def _begin(self, key: Hashable, requested: int) -> tuple[_KeyState, int]:
        """The state of ``key`` and the thread count for its next step (the caller holds ``_LOCK``)."""
        state = self._states.get((key, requested))
        if state is None:
            state = self._states[(key, requested)] = self._new_state(requested)
        if state.due:
            now = self._clock()
            if now - state.since_time >= self.min_window and now >= state.quiet_until:
                self._check_load(state, requested)
        if state.order:
            return state, state.order[0] or requested
        return state, state.choice if state.choice is not None else requested

    # -- the probing schedule ----------------------------------------------------------------------------------
    def _sample(self) -> CpuSample | None:
        return self._load() if self._load is not None else None

    def _new_state(self, requested: int) -> _KeyState:
        state = _KeyState(self.first_interval)
        state.since = self._sample()
        if state.since is None:  # no load check: time both at once, after a warm-up step with the pool
            self._start_probe(state, requested, warm_up=True)
        else:  # one thread until the quiet period is over and the load check lets the pool be timed
            state.choice, state.since_time, state.due = 1, self._clock(), True
            self._stay_quiet(state)
        return state

    def _check_load(self, state: _KeyState, requested: int) -> None:
        now = self._sample()
        if now is None:  # the source stopped answering: probe without a check
            state.due = False
            self._start_probe(state, requested)
            return
        spare = spare_cores(state.since, now) if state.since is not None else None
        if spare is None:
            return  # no CPU time passed yet: check again at the next step
        state.since, state.since_time, state.due = now, self._clock(), False
        if spare >= requested - self.slack:
            self._start_probe(state, requested)
        else:  # the pool's threads would wait for cores: one thread, no timing, check again after the interval
            self._use_one_thread(state)

    def _use_one_thread(self, state: _KeyState) -> None:
        if state.choice != 1:
            state.choice, state.interval = 1, self.first_interval
        state.slow_streak = 0
        state.until_probe = state.interval
        self._stay_quiet(state)

    def _stay_quiet(self, state: _KeyState) -> None:
        """On one thread: no probe for ``probe_gap`` seconds, scaled like the interval."""
        state.quiet_until = self._clock() + self.probe_gap * state.interval / self.first_interval

    def _start_probe(self, state: _KeyState, requested: int, warm_up: bool = False) -> None:
        # one thread first: its samples are not slowed by pool threads still spinning after a threaded call, and
        # a collapsing pool is recognised at its first sample; 0: warm-up step
        state.order = ([0] if warm_up else []) + [1] * self.probe_steps + [requested] * self.probe_steps
        state.samples = {requested: [], 1: []}

    def _record(self, state: _KeyState, threads: int, elapsed: float, requested: int) -> None:
        if state.order:
            head = state.order.pop(0)
            if head:
                state.samples[head].append(elapsed)
            ones = state.samples[1]
            if head == requested and ones and elapsed > self.collapse_factor * statistics.median(ones):
                state.order.clear()  # collapsed: every further sample with the pool would cost as much
            if not state.order:
                self._decide(state, requested)
            return
        if threads != 1 and state.one_thread_time > 0.0:
            slow = elapsed * (1.0 - self.margin) > state.one_thread_time
            state.slow_streak = state.slow_streak + 1 if slow else 0
            if state.slow_streak >= self.patience:
                state.slow_streak = 0
                state.interval = self.first_interval
                if state.since is not None:  # with load checks: one thread now, the pool after a new check
                    state.since, state.since_time = self._sample() or state.since, self._clock()
                    self._use_one_thread(state)
                else:
                    self._start_probe(state, requested)
                return
        self._count_down(state, requested)

    def _count_down(self, state: _KeyState, requested: int) -> None:
        """One more step since the last probe: a probe becomes due after ``interval`` steps (and, on one thread,
        the quiet period)."""
        if state.due:
            return
        state.until_probe -= 1
        if state.until_probe <= 0 and (state.choice != 1 or self._clock() >= state.quiet_until):
            if state.since is not None:
                state.due = True
            else:
                self._start_probe(state, requested)

    def _decide(self, state: _KeyState, requested: int) -> None:
        medians = {n: statistics.median(s) for n, s in state.samples.items() if s}
        one = medians.get(1, math.inf)
        best = requested if medians.get(requested, math.inf) < (1.0 - self.margin) * one else 1
        state.one_thread_time = one if one < math.inf else 0.0
        state.slow_streak = 0
        if state.choice == best:
            state.interval = min(2 * state.interval, self.max_interval)
        else:
            state.interval = self.first_interval
        state.choice = best
        state.until_probe = state.interval
        if best == 1:
            self._stay_quiet(state)
