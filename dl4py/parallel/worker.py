"""What runs inside a Dask worker process: one round of training (or scoring) of one worker slot with the
single-machine engine. Nothing here imports Dask; every function is a plain function of NumPy arrays, so the
round logic can be (and is) tested without a cluster.

A worker receives the configuration as DL4J JSON, the parameters and the updater state as one flat array
(parameters first, then the state: DL4J's layouts, as in a model zip), and returns the same kind of flat array.
The rebuilt network is cached per process, keyed by the configuration JSON, so a worker builds it once per
``fit`` (not once per round).
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from typing import Any, Iterator, Optional

import numpy as np

from ..exceptions import DL4JInvalidInputException, NonFiniteException

_NET_CACHE: "OrderedDict[str, Any]" = OrderedDict()
_NET_CACHE_SIZE = 4
_THREADS_DONE: set[str] = set()
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
# One task at a time uses the engine in a process: the cached networks (and their workspaces) are shared, and a
# worker started with several threads must not run two of them at once on the same network.
_ENGINE_LOCK = threading.RLock()


# ------------------------------------------------------------------------------------------------------------------
# one thread pool per worker process (../shared/PERFORMANCE.md: never two spinning pools)
# ------------------------------------------------------------------------------------------------------------------
def configure_threads(n: int = 1) -> dict[str, Any]:
    """Limit this process's BLAS pools (threadpoolctl, when installed) and numba to ``n`` threads.

    Environment variables are set too, for libraries loaded later. numba's threading layer is left alone unless it
    was already started (starting it would create the very pool we want to avoid; dl4py's kernels are serial).
    Idempotent per set of loaded modules: call it again after importing the engine (which loads SciPy's BLAS)."""
    for name in _THREAD_ENV:
        os.environ[name] = str(n)
    info: dict[str, Any] = {"threadpoolctl": False}
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(limits=n)
        info["threadpoolctl"] = True
        info["pools"] = [(p.get("internal_api"), p.get("num_threads")) for p in threadpoolctl.threadpool_info()]
    except ImportError:  # the env vars (set before the worker started, see local_cluster) must do
        pass
    if "numba" in sys.modules:
        try:
            from numba.np.ufunc import parallel as _npar

            if getattr(_npar, "_is_initialized", False):
                import numba

                numba.set_num_threads(n)
        except Exception:  # pragma: no cover - numba internals differ between versions
            pass
    return info


def _in_dask_worker() -> bool:
    if "distributed" not in sys.modules:
        return False
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False


def _configure_once() -> None:
    """Limit threads once per process — only inside a Dask worker: called in-process (tests, a driver replaying a
    round) the round functions leave the caller's thread settings alone."""
    if not _in_dask_worker():
        return
    key = "engine" if "dl4py.nn.multilayer" in sys.modules else "base"
    if key not in _THREADS_DONE:
        configure_threads(1)
        _THREADS_DONE.add(key)


# ------------------------------------------------------------------------------------------------------------------
# the network, rebuilt from DL4J JSON once per process
# ------------------------------------------------------------------------------------------------------------------
def cached_network(conf_json: str):
    """A ``MultiLayerNetwork`` for ``conf_json``, built once per process and reused (LRU of 4 configurations)."""
    net = _NET_CACHE.get(conf_json)
    if net is not None:
        _NET_CACHE.move_to_end(conf_json)
        return net
    from ..nn.conf import MultiLayerConfiguration
    from ..nn.multilayer import MultiLayerNetwork

    _configure_once()
    net = MultiLayerNetwork(MultiLayerConfiguration.fromJson(conf_json)).init()
    _NET_CACHE[conf_json] = net
    while len(_NET_CACHE) > _NET_CACHE_SIZE:
        _NET_CACHE.popitem(last=False)
    return net


def clear_cache() -> None:
    _NET_CACHE.clear()


# ------------------------------------------------------------------------------------------------------------------
# minibatch order
# ------------------------------------------------------------------------------------------------------------------
def slot_order(n: int, seed: int, epoch: int, slot: int, shuffle: bool = True) -> Optional[np.ndarray]:
    """The order in which worker slot ``slot`` visits the ``n`` examples of its shard in epoch ``epoch``:
    a permutation drawn from ``default_rng([seed mod 2^64, epoch, slot])``, or None (data order) without shuffle."""
    if not shuffle:
        return None
    rng = np.random.default_rng([int(seed) % (1 << 64), int(epoch), int(slot)])
    return rng.permutation(n)


def minibatch_indices(n: int, batch: int, seed: int, epoch: int, slot: int, shuffle: bool = True) -> list[np.ndarray]:
    """Row indices (into the slot's shard) of each minibatch of one epoch; the last may be smaller."""
    order = slot_order(n, seed, epoch, slot, shuffle)
    if order is None:
        order = np.arange(n)
    return [order[i : i + batch] for i in range(0, n, batch)]


def num_minibatches(n: int, batch: int) -> int:
    return -(-n // batch)


def _take(arr: Optional[np.ndarray], order: Optional[np.ndarray], j0: int, j1: int) -> Optional[np.ndarray]:
    if arr is None:
        return None
    if order is None:
        return arr[j0:j1]
    return arr[order[j0:j1]]


def _minibatches(x: np.ndarray, y: Optional[np.ndarray], order: Optional[np.ndarray], batch: int, first: int,
                 stop: int, prefetch: int) -> Iterator[tuple[np.ndarray, Optional[np.ndarray]]]:
    n = x.shape[0]
    spans = [(j * batch, min(n, (j + 1) * batch)) for j in range(first, stop)]
    if prefetch <= 0 or len(spans) <= 1:
        for j0, j1 in spans:
            yield _take(x, order, j0, j1), _take(y, order, j0, j1)
        return
    # DL4J's AsyncDataSetIterator: a bounded queue filled by one background thread (memory copies only; the
    # compute stays on the task's thread, so there is still one BLAS pool)
    q: "queue.Queue[Any]" = queue.Queue(maxsize=prefetch)
    stop_flag = threading.Event()

    def produce() -> None:
        try:
            for j0, j1 in spans:
                item = (_take(x, order, j0, j1), _take(y, order, j0, j1))
                while not stop_flag.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop_flag.is_set():
                    return
            q.put(None)
        except BaseException as e:  # pragma: no cover - surfaced to the consumer
            q.put(e)

    t = threading.Thread(target=produce, name="dl4py-prefetch", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop_flag.set()
        t.join(timeout=5)


# ------------------------------------------------------------------------------------------------------------------
# shards
# ------------------------------------------------------------------------------------------------------------------
def make_shard(features: Any, labels: Any, dtype: str) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """One worker slot's data as C-contiguous arrays of the network dtype (labels may be None)."""
    x = np.ascontiguousarray(np.asarray(features), dtype=np.dtype(dtype))
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    y = None
    if labels is not None:
        y = np.ascontiguousarray(np.asarray(labels), dtype=np.dtype(dtype))
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.shape[0] != x.shape[0]:
            raise DL4JInvalidInputException(
                f"features have {x.shape[0]} rows but labels have {y.shape[0]} rows in the same partition"
            )
    return x, y


def _rows(a: np.ndarray) -> np.ndarray:
    """A 1-D array is one example (a row); an N-D array is N examples, flattened to 2-D."""
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a if a.ndim == 2 else a.reshape(a.shape[0], -1)


def concat_pieces(dtype: str, need_labels: bool, *pieces: Any) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Concatenate pieces — (features, labels) pairs, DataSets, or lists of either — into one shard."""
    xs: list[np.ndarray] = []
    ys: list[Any] = []

    def add(p: Any) -> None:
        if p is None:
            return
        if hasattr(p, "getFeatures") and hasattr(p, "getLabels"):
            xs.append(np.asarray(p.getFeatures()))
            ys.append(p.getLabels())
        elif isinstance(p, tuple) and len(p) == 2 and not isinstance(p[0], (list, tuple)):
            xs.append(np.asarray(p[0]))
            ys.append(p[1])
        elif isinstance(p, (list, tuple)):
            for q in p:
                add(q)
        else:
            xs.append(np.asarray(p))
            ys.append(None)

    for p in pieces:
        add(p)
    if not xs:
        x = np.zeros((0, 0), dtype=np.dtype(dtype))
        return x, (np.zeros((0, 0), dtype=np.dtype(dtype)) if need_labels else None)
    xs = [_rows(a) for a in xs]
    x = np.concatenate(xs, axis=0) if len(xs) > 1 else xs[0]
    y = None
    if need_labels:
        if any(v is None for v in ys):
            raise DL4JInvalidInputException("fit needs labels: a DataSet in the training data has no labels")
        ya = [_rows(np.asarray(v)) for v in ys]
        y = np.concatenate(ya, axis=0) if len(ya) > 1 else ya[0]
    return make_shard(x, y, dtype)


def shard_rows(shard: tuple[np.ndarray, Optional[np.ndarray]]) -> int:
    return int(shard[0].shape[0])


# ------------------------------------------------------------------------------------------------------------------
# one round of one slot
# ------------------------------------------------------------------------------------------------------------------
def _set_counts(net: Any, kind: str, layer: int, iteration: int, epoch: int) -> None:
    conf = net.conf if kind == "fit" else net.conf.confs[layer]
    conf.iteration_count = int(iteration)
    conf.epoch_count = int(epoch)


def train_round(shard: tuple[np.ndarray, Optional[np.ndarray]], payload: np.ndarray, spec: dict) -> dict:
    """Fit ``spec['steps']`` minibatches of this slot's epoch order, from the parameters/updater state in
    ``payload``; return the new flat parameters (+ updater state), the last score and the slot's RNG state.

    ``spec``: conf (DL4J JSON), kind ('fit' | 'pretrain'), layer, slot, seed, epoch (for the order), shuffle,
    batch, first (index of the first minibatch of the epoch to fit), steps, iteration, epoch_count, save_updater,
    prefetch, rng_state (the slot's generator state).

    Holds the process's engine lock while it runs."""
    with _ENGINE_LOCK:
        return _train_round_unlocked(shard, payload, spec)


def _train_round_unlocked(shard: tuple[np.ndarray, Optional[np.ndarray]], payload: np.ndarray, spec: dict) -> dict:
    t0 = time.perf_counter()
    _configure_once()
    net = cached_network(spec["conf"])
    _configure_once()
    kind, layer = spec["kind"], int(spec.get("layer", 0))
    x, y = shard
    if kind == "fit" and y is None:
        raise DL4JInvalidInputException("fit needs labels, but this shard has none")
    n_params = net.numParams()
    net.setParams(payload[:n_params])
    updater = net.getUpdater() if kind == "fit" else net.pretrain_updater(layer)
    if spec["save_updater"]:
        updater.set_state(payload[n_params:])
    else:
        updater.reset_state()
    _set_counts(net, kind, layer, spec["iteration"], spec["epoch_count"])
    net.rng.bit_generator.state = spec["rng_state"]
    order = slot_order(x.shape[0], spec["seed"], spec["epoch"], spec["slot"], spec["shuffle"])
    first, batch = int(spec["first"]), int(spec["batch"])
    stop = min(num_minibatches(x.shape[0], batch), first + int(spec["steps"]))
    steps, examples = 0, 0
    for xb, yb in _minibatches(x, y, order, batch, first, stop, int(spec.get("prefetch", 0))):
        if kind == "fit":
            net.fit(xb, yb)
        else:
            net.pretrainLayer(layer, xb)
        steps += 1
        examples += xb.shape[0]
    state = updater.state if spec["save_updater"] else np.zeros(0, dtype=net.params().dtype)
    flat = np.concatenate([net.params(), state])
    return {
        "slot": spec["slot"],
        "flat": flat,
        "score": float(net.score()),
        "steps": steps,
        "examples": examples,
        "rng_state": net.rng.bit_generator.state,
        "seconds": time.perf_counter() - t0,
        "pid": os.getpid(),
    }


def combine_results(*results: dict) -> dict:
    """Sum several round results (an inner node of the aggregation tree): the flat vectors are added in float64,
    the per-slot records (score, steps, RNG state) are kept as they are."""
    total: Optional[np.ndarray] = None
    slots: list[dict] = []
    count = 0
    for r in results:
        if "sum" in r:
            part, n = r["sum"], r["count"]
            slots.extend(r["slots"])
        else:
            part, n = r["flat"], 1
            slots.append({k: v for k, v in r.items() if k != "flat"})
        if total is None:
            total = np.array(part, dtype=np.float64, copy=True)
        else:
            total += part
        count += n
    return {"sum": total, "count": count, "slots": slots}


# ------------------------------------------------------------------------------------------------------------------
# scoring and evaluation of one slot
# ------------------------------------------------------------------------------------------------------------------
def score_shard(shard: tuple[np.ndarray, Optional[np.ndarray]], payload: np.ndarray, spec: dict) -> dict:
    """Sum over the shard's minibatches (data order) of score × examples (DL4J's ScoreFlatMapFunction), or of
    the pretraining score of layer ``spec['layer']`` when ``spec['kind'] == 'pretrain'``.

    Holds the process's engine lock while it runs."""
    with _ENGINE_LOCK:
        return _score_shard_unlocked(shard, payload, spec)


def _score_shard_unlocked(shard: tuple[np.ndarray, Optional[np.ndarray]], params: np.ndarray, spec: dict) -> dict:
    _configure_once()
    net = cached_network(spec["conf"])
    net.setParams(params)
    kind, layer = spec["kind"], int(spec.get("layer", 0))
    _set_counts(net, "fit", 0, spec["iteration"], spec["epoch_count"])
    x, y = shard
    batch = int(spec["batch"])
    total, n = 0.0, 0
    if kind == "pretrain":
        net.rng = np.random.default_rng([int(spec["seed"]) % (1 << 64), 0x5C0E, int(spec["slot"])])
        lay = net.layers[layer]
        for j0 in range(0, x.shape[0], batch):
            xb = net._pretrain_input(layer, x[j0 : j0 + batch])
            lay.grad_flat.fill(0.0)
            s = float(lay.pretrain_gradient_and_score(xb))
            total += s * xb.shape[0]
            n += xb.shape[0]
    else:
        if y is None:
            raise DL4JInvalidInputException("calculateScore needs labels, but this shard has none")
        for j0 in range(0, x.shape[0], batch):
            xb, yb = x[j0 : j0 + batch], y[j0 : j0 + batch]
            total += float(net.score((xb, yb))) * xb.shape[0]
            n += xb.shape[0]
    if not np.isfinite(total):
        raise NonFiniteException(f"score of worker slot {spec['slot']} is {total}")
    return {"slot": spec["slot"], "sum": total, "examples": n}


def evaluate_shard(shard: tuple[np.ndarray, Optional[np.ndarray]], payload: np.ndarray, spec: dict) -> dict:
    """Confusion counts [actual, predicted] of the shard (argmax of labels vs argmax of the network output).

    Holds the process's engine lock while it runs."""
    with _ENGINE_LOCK:
        return _evaluate_shard_unlocked(shard, payload, spec)


def _evaluate_shard_unlocked(shard: tuple[np.ndarray, Optional[np.ndarray]], params: np.ndarray, spec: dict) -> dict:
    _configure_once()
    net = cached_network(spec["conf"])
    net.setParams(params)
    x, y = shard
    if y is None:
        raise DL4JInvalidInputException("evaluate needs labels, but this shard has none")
    n_classes = int(spec["n_classes"])
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    batch = int(spec["batch"])
    for j0 in range(0, x.shape[0], batch):
        out = net.output(x[j0 : j0 + batch])
        actual = np.argmax(y[j0 : j0 + batch], axis=1) if y.shape[1] > 1 else (y[j0 : j0 + batch, 0] > 0.5)
        predicted = np.argmax(out, axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5)
        np.add.at(counts, (actual.astype(np.int64), predicted.astype(np.int64)), 1)
    return {"slot": spec["slot"], "confusion": counts}
