"""``DaskDl4jMultiLayer`` (DL4J: ``org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer``): synchronous
parameter-averaging training of a ``MultiLayerNetwork`` on a Dask cluster, for supervised ``fit`` and for layer-wise
``pretrain`` (VariationalAutoencoder and AutoEncoder layers).

One round: the driver broadcasts the flat parameters (+ updater state when ``saveUpdater``); every worker slot fits
``averagingFrequency`` minibatches of its own shard with the single-machine engine and returns its flat vector(s);
once *all* results are in, the driver averages them (parameters, and the updater state as DL4J does) and advances
the iteration count. A slot whose worker dies is rescheduled by Dask (retries); a round whose inputs were lost is
run again from the same state, so a failure never yields a partial average and never changes the result.

Every wait on the cluster is bounded (see :mod:`dl4py.parallel._cluster`): transfers and queries by
``max(workerTimeout, 30 s)`` (a time-out counts as a failed attempt and the round is run again), the results of a
round by ``roundTimeout`` (then :class:`RoundTimeoutException` names the round, the missing slots and their workers).
"""
from __future__ import annotations

import asyncio
import math
import time
import uuid
from typing import Any, Optional

import numpy as np

from .._naming import snake_aliases
from ..exceptions import (
    DL4JException,
    DL4JInvalidConfigException,
    MissingDependencyException,
    NonFiniteException,
)
from . import _cluster as C
from . import worker as W
from .data import ShardSet
from .training_master import ParameterAveragingTrainingMaster

_EXTRA_HINT = "pip install 'dl4py[distributed]' (or: pip install 'dask[distributed]')"


def require_dask():
    """Import ``distributed``; a MissingDependencyException (an ImportError) naming the ``distributed`` extra when
    Dask is missing."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError as e:
        raise MissingDependencyException(
            f"dl4py.parallel needs Dask's distributed scheduler, which is not installed: {_EXTRA_HINT}"
        ) from e
    return distributed


def local_cluster(n_workers: int = 2, **kwargs: Any):
    """A ``LocalCluster`` set up as dl4py wants it: ``n_workers`` processes with one thread each, and one BLAS /
    OpenMP / numba thread per process (environment set before the worker processes start). Other keyword
    arguments go to ``LocalCluster`` (e.g. ``dashboard_address=None``, ``memory_limit``)."""
    distributed = require_dask()
    env = {name: "1" for name in W._THREAD_ENV}
    env.update(kwargs.pop("env", {}) or {})
    kwargs.setdefault("threads_per_worker", 1)
    kwargs.setdefault("processes", True)
    return distributed.LocalCluster(n_workers=n_workers, env=env, **kwargs)


class _RoundInputLost(ConnectionError):
    """A round's shard or parameter vector was lost with a worker while its tasks waited (the round is re-run)."""


class RoundTimeoutException(DL4JException):
    """The results of a round (or of a scoring pass) were not all in after ``roundTimeout`` seconds. The message
    names the round, the worker slots still missing, their task state and worker, and how long the driver waited."""


def _task_error(e: BaseException, futures: list) -> bool:
    """True when ``e`` is an error raised by our own task code (it erred, and not because its worker died):
    such an error is the user's (bad data, NaN, a bug) and is raised as it is. Anything else — lost or cancelled
    futures, dead workers, closed connections, a scatter interrupted by a restart — is a failure of the cluster,
    and the round is run again from the same inputs."""
    if isinstance(e, DL4JException):
        return True
    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        KilledWorker = ()  # type: ignore[assignment]
    if KilledWorker and isinstance(e, KilledWorker):
        return False
    for f in futures:
        if getattr(f, "status", None) == "error":
            try:
                exc = f.exception(timeout=1)
            except Exception:  # pragma: no cover - the future vanished meanwhile
                continue
            if not (KilledWorker and isinstance(exc, KilledWorker)):
                return True
    return False


@snake_aliases
class ParameterAveragingTrainingStats:
    """What the rounds cost: counts always, per-round timings when ``collectTrainingStats``.

    Per-round record: epoch, round, slots, attempts, ``broadcast_s`` (scatter of the flat vector), ``wait_s``
    (submit → all results on the driver: worker compute + transfers), ``worker_s`` (slowest worker's task time),
    ``apply_s`` (averaging on the driver), ``total_s``, ``examples``, ``payload_bytes`` (one direction, one worker).
    """

    def __init__(self) -> None:
        self.rounds = 0
        self.failedAttempts = 0
        self.examples = 0
        self.records: list[dict] = []

    def summary(self) -> dict:
        out: dict[str, Any] = {"rounds": self.rounds, "failedAttempts": self.failedAttempts,
                               "examples": self.examples}
        if self.records:
            for key in ("broadcast_s", "wait_s", "worker_s", "apply_s", "total_s"):
                out[key] = float(np.median([r[key] for r in self.records]))
            out["payload_bytes"] = self.records[-1]["payload_bytes"]
        return out

    def statsAsString(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.summary().items())

    def __repr__(self) -> str:
        return f"ParameterAveragingTrainingStats({self.statsAsString()})"


@snake_aliases
class Evaluation:
    """Classification results gathered from the workers (the counts DL4J's ``Evaluation`` keeps)."""

    def __init__(self, confusion: np.ndarray) -> None:
        self.confusion = np.asarray(confusion, dtype=np.int64)

    def numExamples(self) -> int:
        return int(self.confusion.sum())

    def getConfusionMatrix(self) -> np.ndarray:
        """[actual, predicted] counts."""
        return self.confusion.copy()

    def accuracy(self) -> float:
        n = self.numExamples()
        return float(np.trace(self.confusion)) / n if n else math.nan

    def precision(self, classLabel: Optional[int] = None) -> float:
        """Precision of one class, or the macro average over classes that were predicted at least once."""
        tp = np.diag(self.confusion).astype(np.float64)
        predicted = self.confusion.sum(axis=0).astype(np.float64)
        if classLabel is not None:
            return float(tp[classLabel] / predicted[classLabel]) if predicted[classLabel] else math.nan
        keep = predicted > 0
        return float(np.mean(tp[keep] / predicted[keep])) if keep.any() else math.nan

    def recall(self, classLabel: Optional[int] = None) -> float:
        """Recall of one class, or the macro average over classes that occur."""
        tp = np.diag(self.confusion).astype(np.float64)
        actual = self.confusion.sum(axis=1).astype(np.float64)
        if classLabel is not None:
            return float(tp[classLabel] / actual[classLabel]) if actual[classLabel] else math.nan
        keep = actual > 0
        return float(np.mean(tp[keep] / actual[keep])) if keep.any() else math.nan

    def f1(self, classLabel: Optional[int] = None) -> float:
        p, r = self.precision(classLabel), self.recall(classLabel)
        return 2 * p * r / (p + r) if p + r > 0 else math.nan

    def stats(self) -> str:
        return (f"Examples: {self.numExamples()}\nAccuracy: {self.accuracy():.4f}\nPrecision: {self.precision():.4f}\n"
                f"Recall: {self.recall():.4f}\nF1: {self.f1():.4f}")

    def __repr__(self) -> str:
        return f"Evaluation(examples={self.numExamples()}, accuracy={self.accuracy():.4f})"


@snake_aliases
class DaskDl4jMultiLayer:
    """``DaskDl4jMultiLayer(client, conf | net, trainingMaster)``: train ``net`` on the Dask cluster of ``client``
    (None: the current default client) with :class:`ParameterAveragingTrainingMaster`'s settings.

    ``fit(data, numEpochs=1)`` and ``pretrain(data, numEpochs=1)`` / ``pretrainLayer(i, data, numEpochs=1)`` train
    the driver-side network in place and return it; ``getNetwork()`` gives it. ``calculateScore``,
    ``calculatePretrainScore`` and ``evaluate`` compute on the workers where the data are.
    """

    def __init__(self, client: Any, network: Any, trainingMaster: ParameterAveragingTrainingMaster) -> None:
        distributed = require_dask()
        from ..nn.conf import MultiLayerConfiguration
        from ..nn.multilayer import MultiLayerNetwork

        if client is None:
            try:
                client = distributed.get_client()
            except ValueError as e:
                raise DL4JException(
                    "DaskDl4jMultiLayer: no Dask client given and none is running; create one, e.g. "
                    "Client(dl4py.parallel.local_cluster(2))"
                ) from e
        if isinstance(network, MultiLayerConfiguration):
            network = MultiLayerNetwork(network).init()
        elif isinstance(network, MultiLayerNetwork):
            network.params()  # initialises if needed
        else:
            raise DL4JInvalidConfigException(
                f"DaskDl4jMultiLayer needs a MultiLayerConfiguration or MultiLayerNetwork, got {type(network).__name__}"
            )
        if not isinstance(trainingMaster, ParameterAveragingTrainingMaster):
            raise DL4JInvalidConfigException(
                "DaskDl4jMultiLayer needs a ParameterAveragingTrainingMaster, got "
                f"{type(trainingMaster).__name__}"
            )
        self.client = client
        self.network = network
        self.trainingMaster = trainingMaster
        self._score = math.nan
        self._stats = ParameterAveragingTrainingStats()
        self._plugin_done = False
        self._slot_rng: dict[int, dict] = {}

    # ------------------------------------------------------------------------------------------------------------
    # accessors (DL4J names)
    # ------------------------------------------------------------------------------------------------------------
    def getNetwork(self):
        return self.network

    def setNetwork(self, network: Any) -> None:
        from ..nn.multilayer import MultiLayerNetwork

        if not isinstance(network, MultiLayerNetwork):
            raise DL4JInvalidConfigException(f"setNetwork needs a MultiLayerNetwork, got {type(network).__name__}")
        network.params()
        self.network = network

    def getTrainingMaster(self) -> ParameterAveragingTrainingMaster:
        return self.trainingMaster

    def getClient(self) -> Any:
        return self.client

    def getScore(self) -> float:
        """The average over workers of their last minibatch score in the last round (DL4J's getScore)."""
        return self._score

    def getTrainingStats(self) -> ParameterAveragingTrainingStats:
        return self._stats

    @property
    def rounds_completed(self) -> int:
        return self._stats.rounds

    # ------------------------------------------------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------------------------------------------------
    def fit(self, data: Any, numEpochs: int = 1):
        """Supervised training: ``numEpochs`` epochs over ``data`` (see :mod:`dl4py.parallel.data`); returns the
        trained network."""
        _check_epochs(numEpochs, "fit")
        net = self.network
        net._output_layer()  # a clear error for networks without an output layer, before any work
        shards = self._shards(data, need_labels=True, what="fit")
        try:
            self._train(shards, "fit", 0, numEpochs)
        finally:
            shards.release()
        return net

    def pretrain(self, data: Any, numEpochs: int = 1):
        """Layer-wise unsupervised pretraining of every VariationalAutoencoder / AutoEncoder layer, in order; layer
        i is fed the inference-mode activations of layers 0…i−1 (computed on the workers). Labels are ignored."""
        _check_epochs(numEpochs, "pretrain")
        net = self.network
        layers = [i for i, l in enumerate(net.getLayers()) if l.isPretrainLayer()]
        if not layers:
            return net
        shards = self._shards(data, need_labels=False, what="pretrain")
        try:
            for i in layers:
                self._train(shards, "pretrain", i, numEpochs)
        finally:
            shards.release()
        return net

    def pretrainLayer(self, layerIdx: int, data: Any, numEpochs: int = 1):
        """Pretrain one layer (``numEpochs`` epochs); a layer that is not pretrainable is left as it is."""
        _check_epochs(numEpochs, "pretrainLayer")
        net = self.network
        n_layers = len(net.getLayers())
        if isinstance(layerIdx, bool) or not isinstance(layerIdx, int) or not 0 <= layerIdx < n_layers:
            raise DL4JInvalidConfigException(f"pretrainLayer: layer index {layerIdx!r} out of range [0, {n_layers})")
        if not net.getLayer(layerIdx).isPretrainLayer():
            return net
        shards = self._shards(data, need_labels=False, what="pretrainLayer")
        try:
            self._train(shards, "pretrain", layerIdx, numEpochs)
        finally:
            shards.release()
        return net

    # ------------------------------------------------------------------------------------------------------------
    # scoring
    # ------------------------------------------------------------------------------------------------------------
    def calculateScore(self, data: Any, average: bool = True) -> float:
        """DL4J's ``calculateScore(data, average)``: Σ over minibatches of ``score(minibatch) × examples`` (score =
        mean loss + regularisation), divided by the number of examples when ``average``."""
        self.network._output_layer()
        shards = self._shards(data, need_labels=True, what="calculateScore")
        try:
            results = self._map_shards(shards, W.score_shard, {"kind": "fit"}, "calculateScore")
        finally:
            shards.release()
        total = sum(r["sum"] for r in results)
        n = sum(r["examples"] for r in results)
        return total / n if average else total

    def calculatePretrainScore(self, data: Any, layerIdx: Optional[int] = None, average: bool = True) -> float:
        """The pretraining score of layer ``layerIdx`` (default: the first pretrainable layer) over ``data``:
        mean (or, ``average=False``, summed) per-example score as in pretraining, plus the layer's regularisation
        score. Stochastic layers (VAE sampling, AutoEncoder corruption) draw their noise from a generator seeded
        from the training master's seed and the slot, so the value is reproducible."""
        net = self.network
        if layerIdx is None:
            pre = [i for i, l in enumerate(net.getLayers()) if l.isPretrainLayer()]
            if not pre:
                raise DL4JInvalidConfigException("calculatePretrainScore: the network has no pretrainable layer")
            layerIdx = pre[0]
        if not net.getLayer(layerIdx).isPretrainLayer():
            raise DL4JInvalidConfigException(f"calculatePretrainScore: layer {layerIdx} is not pretrainable")
        shards = self._shards(data, need_labels=False, what="calculatePretrainScore")
        try:
            results = self._map_shards(shards, W.score_shard, {"kind": "pretrain", "layer": layerIdx},
                                       f"calculatePretrainScore of layer {layerIdx}")
        finally:
            shards.release()
        total = sum(r["sum"] for r in results)
        n = sum(r["examples"] for r in results)
        conf = net.conf.confs[layerIdx]
        reg = net.getLayer(layerIdx).regularization_score(False, conf.iteration_count, conf.epoch_count)
        return (total / n if average else total) + reg

    def evaluate(self, data: Any) -> Evaluation:
        """Classification evaluation (argmax of labels vs argmax of the output), counted on the workers."""
        self.network._output_layer()
        shards = self._shards(data, need_labels=True, what="evaluate")
        try:
            n_out = shards.n_labels or 1
            n_classes = max(2, n_out) if n_out == 1 else n_out
            results = self._map_shards(shards, W.evaluate_shard, {"n_classes": n_classes}, "evaluate")
        finally:
            shards.release()
        return Evaluation(sum(r["confusion"] for r in results))

    # ------------------------------------------------------------------------------------------------------------
    # machinery
    # ------------------------------------------------------------------------------------------------------------
    def _comm_timeout(self) -> float:
        """Seconds any one transfer or query may take: ``max(workerTimeout, 30 s)``."""
        return max(30.0, float(self.trainingMaster.workerTimeout))

    def _workers(self) -> list[str]:
        return C.running_workers(self.client, self._comm_timeout())

    def _require_workers(self, wait: float = 0.0) -> int:
        deadline = time.monotonic() + wait
        while True:
            n = len(self._workers())
            if n > 0:
                return n
            if time.monotonic() >= deadline:
                raise DL4JException(
                    "the Dask cluster has no workers (scheduler "
                    f"{getattr(self.client, 'scheduler', None) and self.client.scheduler.address}); start workers "
                    "(e.g. Client(dl4py.parallel.local_cluster(2))) or wait for them with client.wait_for_workers(n)"
                    + (f" — waited {wait:.0f} s" if wait else "")
                )
            time.sleep(0.2)

    def _setup_cluster(self) -> int:
        n = self._require_workers()
        if not self._plugin_done:
            from ._plugin import SingleThreadPlugin

            register = getattr(self.client, "register_plugin", None) or self.client.register_worker_plugin
            C.bounded_blocking(lambda: register(SingleThreadPlugin()), self._comm_timeout(),
                               "registering the single-thread worker plugin")
            self._plugin_done = True
        return n

    def _shards(self, data: Any, need_labels: bool, what: str) -> ShardSet:
        n_workers = self._setup_cluster()
        slots = self.trainingMaster.numWorkers or n_workers
        return ShardSet(self.client, data, slots, self.network.dtype, need_labels, what,
                        timeout=self._comm_timeout(), compute_timeout=self.trainingMaster.roundTimeout)

    def _conf_json(self) -> str:
        """The configuration as DL4J JSON with the counters zeroed (they travel per round), so the workers' cache
        key stays the same from round to round and from call to call."""
        conf = self.network.conf.clone()
        conf.iteration_count = 0
        conf.epoch_count = 0
        for c in conf.confs:
            c.iteration_count = 0
            c.epoch_count = 0
        return conf.toJson()

    def _seed(self) -> int:
        s = self.trainingMaster.rngSeed
        return int(self.network.conf.confs[0].seed if s is None else s)

    def _broadcast(self, payload: np.ndarray, slot_data: dict[int, Any], label: str) -> dict[int, Any]:
        """Send ``payload`` once to every worker that holds a slot's shard (each copy to one worker, through the
        scheduler); returns slot → the future of the copy on that slot's worker, so each task finds both of its
        inputs where it runs.

        Not ``scatter(broadcast=True)``: the scheduler's replication behind it never returns when a target worker
        dies during the copy (distributed 2026.8), which hung rounds in the local-cluster tests."""
        timeout = self._comm_timeout()
        alive = self._workers()
        if not alive:
            raise C.ClusterTimeout(f"{label}: no running worker to send the parameters to")
        located = C.who_has(self.client, slot_data.values(), timeout)
        target: dict[int, str] = {}
        for k, f in slot_data.items():
            holders = [w for w in located.get(f.key, ()) if w in alive]
            # a shard still being computed has no holder yet; it was placed on worker k mod W (ShardSet)
            target[k] = holders[0] if holders else alive[k % len(alive)]
        tag = uuid.uuid4().hex[:12]
        keys = {w: f"dl4py-params-{tag}-{i}" for i, w in enumerate(sorted(set(target.values())))}

        async def scatter_all() -> dict:
            parts = await asyncio.gather(*(C.scatter_to(self.client, {key: payload}, w) for w, key in keys.items()))
            return {key: fut for part in parts for key, fut in part.items()}

        copies = C.bounded(self.client, scatter_all, timeout,
                           f"{label}: sending the parameters to worker(s) {', '.join(keys)}")
        return {k: copies[keys[w]] for k, w in target.items()}

    def _describe_pending(self, label: str, slots: dict[int, Any], waited: float) -> str:
        """Which slots of a round have no result yet, in which task state, on which worker (best effort)."""
        pending = {k: f for k, f in slots.items() if getattr(f, "status", "pending") != "finished"}
        try:
            running_on = {key: w for w, keys in C.processing(self.client, 5.0).items() for key in keys}
        except Exception:  # noqa: BLE001 - a diagnostic only; the time-out is raised regardless
            running_on = {}
        parts = []
        for k, f in sorted(pending.items()):
            where = running_on.get(f.key)
            parts.append(f"slot {k} (task {f.key}, {getattr(f, 'status', '?')}, "
                         + (f"running on worker {where})" if where else "not running on any worker)"))
        return (f"{label}: no result from worker {', '.join(parts) or 'aggregation'} within roundTimeout = "
                f"{self.trainingMaster.roundTimeout:g} s (waited {waited:.1f} s; {len(slots) - len(pending)} of "
                f"{len(slots)} slot(s) finished). If a round legitimately takes this long, raise roundTimeout "
                "(ParameterAveragingTrainingMaster.Builder.roundTimeout).")

    def _gather(self, futures: list, inputs: tuple, label: str, slots: Optional[dict[int, Any]] = None) -> list:
        """Wait for all futures (never a partial result), at most ``roundTimeout`` seconds; start the round again
        when one of its inputs was lost meanwhile, give up when the cluster stays without workers."""
        from distributed import wait

        tm = self.trainingMaster
        slots = slots if slots is not None else dict(enumerate(futures))
        start = time.monotonic()
        empty_since: Optional[float] = None
        while True:
            try:
                wait(futures, timeout=1.0)
                break
            except (TimeoutError, asyncio.TimeoutError):
                pass
            lost = [f for f in inputs if getattr(f, "status", "finished") in ("lost", "cancelled", "error")]
            if lost:
                raise _RoundInputLost(f"{label}: {len(lost)} input(s) of the round were lost with a worker")
            now = time.monotonic()
            if self._workers():
                empty_since = None
            elif empty_since is None:
                empty_since = now
            elif now - empty_since > tm.workerTimeout:
                raise DL4JException(
                    f"{label}: the Dask cluster has had no workers for {tm.workerTimeout:.0f} s while the round "
                    "was running"
                )
            if now - start > tm.roundTimeout:
                raise RoundTimeoutException(self._describe_pending(label, slots, now - start))
        return C.gather(self.client, futures, self._comm_timeout(), f"{label}: collecting the results")

    def _aggregate(self, futures: list, inputs: tuple, label: str, slots: dict[int, Any]) -> dict:
        """Tree aggregation (DL4J's aggregationDepth): partial sums on the workers while there are more results
        than the fan-in ⌈N^(1/depth)⌉, the rest summed on the driver."""
        depth = self.trainingMaster.aggregationDepth
        level = list(futures)
        combines: list = []
        if depth > 1 and len(level) > 2:
            fan = max(2, math.ceil(len(level) ** (1.0 / depth)))
            while len(level) > fan:
                level = [
                    self.client.submit(W.combine_results, *level[i : i + fan], pure=False,
                                       retries=self.trainingMaster.taskRetries)
                    for i in range(0, len(level), fan)
                ]
                combines.extend(level)
        try:
            return W.combine_results(*self._gather(level, inputs, label, slots))
        finally:
            for f in combines:
                f.release()

    def _run(self, shards: ShardSet, fn: Any, payload: np.ndarray, specs: list[dict], what: str, label: str) -> Any:
        """Submit ``fn(shard_k, payload, spec_k)`` for every spec and gather all results, re-running the whole
        round (from the same inputs) when data were lost with a worker or a transfer timed out."""
        tm = self.trainingMaster
        last: Optional[BaseException] = None
        for attempt in range(1, tm.maxRoundAttempts + 1):
            futures: list = []
            copies: dict[int, Any] = {}
            attempt_label = label if attempt == 1 else f"{label} (attempt {attempt} of {tm.maxRoundAttempts})"
            try:
                if attempt > 1:
                    self._require_workers(wait=tm.workerTimeout)
                    shards.refresh()
                t0 = time.perf_counter()
                slot_data = {s["slot"]: shards.future(s["slot"]) for s in specs}
                copies = self._broadcast(payload, slot_data, attempt_label)
                t1 = time.perf_counter()
                tag = uuid.uuid4().hex[:12]
                futures = [
                    self.client.submit(fn, slot_data[s["slot"]], copies[s["slot"]], s, pure=False,
                                       retries=tm.taskRetries, key=f"dl4py-{what}-{tag}-{s['slot']}")
                    for s in specs
                ]
                slots = {s["slot"]: f for s, f in zip(specs, futures)}
                inputs = (*copies.values(), *slot_data.values())
                if fn is W.train_round:
                    out = self._aggregate(futures, inputs, attempt_label, slots)
                else:
                    out = self._gather(futures, inputs, attempt_label, slots)
                self._last_timing = (t1 - t0, time.perf_counter() - t1, attempt)
                return out
            except Exception as e:  # noqa: BLE001 - sorted by _task_error
                if _task_error(e, futures):
                    raise
                last = e
                self._stats.failedAttempts += 1
            finally:
                for f in (*futures, *copies.values()):
                    f.release()
        raise DL4JException(
            f"{label}: failed {tm.maxRoundAttempts} time(s) because workers or their data were lost or did not "
            f"answer; last error: {last!r}"
        ) from last

    def _map_shards(self, shards: ShardSet, fn: Any, extra: dict, label: str) -> list:
        net = self.network
        base = {
            "conf": self._conf_json(), "seed": self._seed(), "batch": self.trainingMaster.batchSizePerWorker,
            "iteration": net.conf.iteration_count, "epoch_count": net.conf.epoch_count,
        }
        base.update(extra)
        specs = [dict(base, slot=k) for k in range(shards.num_slots)]
        return self._run(shards, fn, net.params().copy(), specs, fn.__name__, label)

    def _train(self, shards: ShardSet, kind: str, layer: int, numEpochs: int) -> None:
        net, tm = self.network, self.trainingMaster
        conf = net.conf if kind == "fit" else net.conf.confs[layer]
        updater = net.getUpdater() if kind == "fit" else net.pretrain_updater(layer)
        seed = self._seed()
        conf_json = self._conf_json()
        slots = shards.num_slots
        self._slot_rng = {0: net.rng.bit_generator.state}
        for k in range(1, slots):
            g = np.random.default_rng([seed % (1 << 64), k, conf.iteration_count, layer])
            self._slot_rng[k] = g.bit_generator.state
        batch, freq = tm.batchSizePerWorker, tm.averagingFrequency
        n_params = net.numParams()
        try:
            for _ in range(numEpochs):
                epoch = conf.epoch_count
                n_batches = [W.num_minibatches(n, batch) for n in shards.sizes]
                n_rounds = -(-max(n_batches) // freq)
                for r in range(n_rounds):
                    t0 = time.perf_counter()
                    specs = [
                        {
                            "conf": conf_json, "kind": kind, "layer": layer, "slot": k, "seed": seed,
                            "epoch": epoch, "shuffle": tm.shuffle, "batch": batch, "first": r * freq,
                            "steps": freq, "iteration": conf.iteration_count, "epoch_count": conf.epoch_count,
                            "save_updater": tm.saveUpdater, "prefetch": tm.prefetchNumBatches,
                            "rng_state": self._slot_rng[k],
                        }
                        for k in range(slots)
                        if r * freq < n_batches[k]
                    ]
                    parts = [net.params()]
                    if tm.saveUpdater:
                        parts.append(updater.state)
                    payload = np.concatenate(parts)
                    label = (f"{'fit' if kind == 'fit' else f'pretraining of layer {layer}'}: epoch {epoch}, "
                             f"round {r + 1} of {n_rounds}")
                    combined = self._run(shards, W.train_round, payload, specs, kind, label)
                    t_apply = time.perf_counter()
                    self._apply(combined, updater, conf, n_params, kind, layer, epoch, r)
                    t_end = time.perf_counter()
                    self._record(combined, epoch, r, t0, t_apply, t_end, payload.nbytes)
                conf.epoch_count += 1
        finally:
            net.rng.bit_generator.state = self._slot_rng[0]

    def _apply(self, combined: dict, updater: Any, conf: Any, n_params: int, kind: str, layer: int, epoch: int,
               r: int) -> None:
        net = self.network
        mean = combined["sum"] / combined["count"]
        params = mean[:n_params].astype(net.dtype)
        if not np.all(np.isfinite(params)):
            where = "fit" if kind == "fit" else f"pretraining of layer {layer}"
            raise NonFiniteException(
                f"averaged parameters became NaN/inf in {where}, epoch {epoch}, round {r + 1} (iteration "
                f"{conf.iteration_count}); the network keeps the parameters of the previous round"
            )
        net.params()[:] = params
        if self.trainingMaster.saveUpdater:
            updater.set_state(mean[n_params:].astype(net.dtype))
        slots = combined["slots"]
        conf.iteration_count += max(s["steps"] for s in slots)
        for s in slots:
            self._slot_rng[s["slot"]] = s["rng_state"]
        self._score = float(np.mean([s["score"] for s in slots]))
        net._score = self._score

    def _record(self, combined: dict, epoch: int, r: int, t0: float, t_apply: float, t_end: float,
                payload_bytes: int) -> None:
        st = self._stats
        slots = combined["slots"]
        examples = int(sum(s["examples"] for s in slots))
        st.rounds += 1
        st.examples += examples
        if self.trainingMaster.collectTrainingStats:
            broadcast, wait_s, attempts = getattr(self, "_last_timing", (math.nan, math.nan, 1))
            st.records.append({
                "epoch": epoch, "round": r, "slots": len(slots), "attempts": attempts, "broadcast_s": broadcast,
                "wait_s": wait_s, "worker_s": max(s["seconds"] for s in slots), "apply_s": t_end - t_apply,
                "total_s": t_end - t0, "examples": examples, "payload_bytes": payload_bytes,
            })


def _check_epochs(numEpochs: Any, what: str) -> None:
    if isinstance(numEpochs, bool) or not isinstance(numEpochs, int) or numEpochs <= 0:
        raise DL4JInvalidConfigException(f"{what}: numEpochs must be an integer > 0, got {numEpochs!r}")


__all__ = ["DaskDl4jMultiLayer", "Evaluation", "ParameterAveragingTrainingStats", "RoundTimeoutException",
           "local_cluster", "require_dask"]
