"""``ParameterAveragingTrainingMaster`` (DL4J: ``org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster``):
the settings of synchronous parameter-averaging training. Pure configuration — usable without Dask installed.

DL4J's option names and defaults (from DL4J's source):

============================  =========  ==========================================================================
option                        default    meaning
============================  =========  ==========================================================================
``batchSizePerWorker``        see below  examples in each minibatch a worker fits
``averagingFrequency``        5          minibatches each worker fits between two parameter averagings
``aggregationDepth``          2          levels of the aggregation tree (results summed on workers first)
``workerPrefetchNumBatches``  0          minibatches a worker prepares ahead in a background thread (0: none)
``saveUpdater``               true       average and keep the updater state (Adam's m, v, ...) across rounds
``rngSeed``                   none       seed of the minibatch order (none: the network configuration's seed)
``collectTrainingStats``      false      keep per-round timings (``getTrainingStats()``)
============================  =========  ==========================================================================

``Builder(rddDataSetNumExamples)`` / ``Builder(numWorkers, rddDataSetNumExamples)`` as in DL4J. DL4J needs the number
of examples in each RDD element to plan its splits; dl4py counts the examples itself, so that number only serves
as the default batch size per worker: ``Builder(128).build()`` trains on minibatches of 128 per worker (DL4J's own
examples pass the batch size there and repeat it in ``batchSizePerWorker``, which stays available and wins).

Deliberate differences from DL4J, all documented in docs/parallel.md:

* DL4J's Builder leaves ``saveUpdater`` false although its Javadoc says "enabled by default"; dl4py follows the
  documented default (true).
* DL4J adds ``averagingFrequency`` to the iteration count after every round, even a short last round; dl4py adds
  the number of steps the workers actually took, so schedules and Adam's bias correction match single-machine
  training.
* The minibatch order is deterministic: each worker slot shuffles its own shard with a generator seeded from
  (``rngSeed``, epoch, slot); ``shuffle(False)`` keeps the data order.

dl4py additions: ``shuffle``, ``taskRetries`` (Dask retries of a failed task, default 2), ``maxRoundAttempts``
(re-runs of a whole round after lost data, default 3), ``workerTimeout`` (seconds to wait for workers to come back
after a failure, and — at least 30 s — for any one transfer or query, default 60), ``roundTimeout`` (seconds to wait
for the results of one round before giving up with a ``RoundTimeoutException``, default 600).
"""
from __future__ import annotations

import json
from typing import Any, Optional

from .._naming import snake_aliases
from ..exceptions import DL4JInvalidConfigException, InvalidJsonException

_JAVA_CLASS = "org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster"
_FIELDS = (
    "numWorkers",
    "rddDataSetNumExamples",
    "batchSizePerWorker",
    "averagingFrequency",
    "aggregationDepth",
    "prefetchNumBatches",
    "saveUpdater",
    "rngSeed",
    "collectTrainingStats",
    "shuffle",
    "taskRetries",
    "maxRoundAttempts",
    "workerTimeout",
    "roundTimeout",
)


def _positive_int(value: Any, option: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DL4JInvalidConfigException(
            f"ParameterAveragingTrainingMaster: {option} must be an integer >= {minimum}, got {value!r}"
        )
    return int(value)


@snake_aliases
class ParameterAveragingTrainingMaster:
    """Settings of synchronous parameter averaging; build with :class:`ParameterAveragingTrainingMaster.Builder`."""

    def __init__(self, builder: "ParameterAveragingTrainingMaster.Builder") -> None:
        self.numWorkers: Optional[int] = builder._num_workers
        self.rddDataSetNumExamples: int = builder._rdd_examples
        self.batchSizePerWorker: int = builder._batch if builder._batch is not None else builder._rdd_examples
        self.averagingFrequency: int = builder._averaging
        self.aggregationDepth: int = builder._depth
        self.prefetchNumBatches: int = builder._prefetch
        self.saveUpdater: bool = builder._save_updater
        self.rngSeed: Optional[int] = builder._seed
        self.collectTrainingStats: bool = builder._stats
        self.shuffle: bool = builder._shuffle
        self.taskRetries: int = builder._task_retries
        self.maxRoundAttempts: int = builder._round_attempts
        self.workerTimeout: float = builder._worker_timeout
        self.roundTimeout: float = builder._round_timeout

    # -- DL4J getters -----------------------------------------------------------------------------------------------
    def getNumWorkers(self) -> Optional[int]:
        return self.numWorkers

    def getBatchSizePerWorker(self) -> int:
        return self.batchSizePerWorker

    def getAveragingFrequency(self) -> int:
        return self.averagingFrequency

    def getAggregationDepth(self) -> int:
        return self.aggregationDepth

    def getPrefetchNumBatches(self) -> int:
        return self.prefetchNumBatches

    def getWorkerPrefetchNumBatches(self) -> int:
        return self.prefetchNumBatches

    def isSaveUpdater(self) -> bool:
        return self.saveUpdater

    def getRngSeed(self) -> Optional[int]:
        return self.rngSeed

    def getIsCollectTrainingStats(self) -> bool:
        return self.collectTrainingStats

    def getWorkerTimeout(self) -> float:
        return self.workerTimeout

    def getRoundTimeout(self) -> float:
        return self.roundTimeout

    def setCollectTrainingStats(self, collectTrainingStats: bool) -> None:
        self.collectTrainingStats = bool(collectTrainingStats)

    # -- JSON (DL4J: toJson / fromJson of the training master) ------------------------------------------------------
    def toJson(self) -> str:
        doc = {"@class": _JAVA_CLASS}
        doc.update({name: getattr(self, name) for name in _FIELDS})
        return json.dumps(doc, indent=2, sort_keys=True)

    @staticmethod
    def fromJson(jsonStr: str) -> "ParameterAveragingTrainingMaster":
        try:
            doc = json.loads(jsonStr)
        except (TypeError, ValueError) as e:
            raise InvalidJsonException(f"ParameterAveragingTrainingMaster.fromJson: not JSON ({e})") from None
        if not isinstance(doc, dict):
            raise InvalidJsonException("ParameterAveragingTrainingMaster.fromJson: expected a JSON object")
        unknown = sorted(set(doc) - set(_FIELDS) - {"@class"})
        if unknown:
            raise InvalidJsonException(f"ParameterAveragingTrainingMaster.fromJson: unknown field(s) {unknown}")
        b = ParameterAveragingTrainingMaster.Builder(doc.get("numWorkers"), doc.get("rddDataSetNumExamples", 1))
        setters = {
            "batchSizePerWorker": b.batchSizePerWorker,
            "averagingFrequency": b.averagingFrequency,
            "aggregationDepth": b.aggregationDepth,
            "prefetchNumBatches": b.workerPrefetchNumBatches,
            "saveUpdater": b.saveUpdater,
            "rngSeed": b.rngSeed,
            "collectTrainingStats": b.collectTrainingStats,
            "shuffle": b.shuffle,
            "taskRetries": b.taskRetries,
            "maxRoundAttempts": b.maxRoundAttempts,
            "workerTimeout": b.workerTimeout,
            "roundTimeout": b.roundTimeout,
        }
        for name, setter in setters.items():
            if doc.get(name) is not None:
                setter(doc[name])
        return b.build()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParameterAveragingTrainingMaster):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _FIELDS)

    def __repr__(self) -> str:
        return (
            f"ParameterAveragingTrainingMaster(batchSizePerWorker={self.batchSizePerWorker}, "
            f"averagingFrequency={self.averagingFrequency}, saveUpdater={self.saveUpdater}, "
            f"workerPrefetchNumBatches={self.prefetchNumBatches}, numWorkers={self.numWorkers})"
        )

    @snake_aliases
    class Builder:
        """``Builder(rddDataSetNumExamples)`` or ``Builder(numWorkers, rddDataSetNumExamples)``, as DL4J's."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            num_workers, rdd = None, None
            if len(args) == 1:
                rdd = args[0]
            elif len(args) == 2:
                num_workers, rdd = args
            elif len(args) > 2:
                raise TypeError("ParameterAveragingTrainingMaster.Builder(rddDataSetNumExamples) or "
                                "Builder(numWorkers, rddDataSetNumExamples)")
            for key, value in kwargs.items():
                if key in ("numWorkers", "num_workers"):
                    num_workers = value
                elif key in ("rddDataSetNumExamples", "rdd_data_set_num_examples"):
                    rdd = value
                else:
                    raise TypeError(f"ParameterAveragingTrainingMaster.Builder: unexpected argument {key!r}")
            if rdd is None:
                raise TypeError("ParameterAveragingTrainingMaster.Builder needs rddDataSetNumExamples "
                                "(dl4py: also the default batch size per worker)")
            self._num_workers = None if num_workers is None else _positive_int(num_workers, "numWorkers")
            self._rdd_examples = _positive_int(rdd, "rddDataSetNumExamples")
            self._batch: Optional[int] = None
            self._averaging = 5
            self._depth = 2
            self._prefetch = 0
            self._save_updater = True
            self._seed: Optional[int] = None
            self._stats = False
            self._shuffle = True
            self._task_retries = 2
            self._round_attempts = 3
            self._worker_timeout = 60.0
            self._round_timeout = 600.0

        def batchSizePerWorker(self, batchSizePerWorker: int) -> "ParameterAveragingTrainingMaster.Builder":
            """Examples per minibatch on each worker (DL4J's default 16; dl4py's: the constructor's number)."""
            self._batch = _positive_int(batchSizePerWorker, "batchSizePerWorker")
            return self

        def averagingFrequency(self, averagingFrequency: int) -> "ParameterAveragingTrainingMaster.Builder":
            """Minibatches each worker fits between two averagings (DL4J: too low costs network traffic, too
            high (>> 20) hurts convergence)."""
            self._averaging = _positive_int(averagingFrequency, "averagingFrequency")
            return self

        def aggregationDepth(self, aggregationDepth: int) -> "ParameterAveragingTrainingMaster.Builder":
            """Levels of the aggregation tree: with more results than the fan-in (⌈N^(1/depth)⌉), partial sums
            are formed on the workers so the driver receives fewer vectors."""
            self._depth = _positive_int(aggregationDepth, "aggregationDepth")
            return self

        def workerPrefetchNumBatches(self, prefetchNumBatches: int) -> "ParameterAveragingTrainingMaster.Builder":
            """Minibatches each worker assembles ahead in a background thread (0: none, DL4J's default)."""
            self._prefetch = _positive_int(prefetchNumBatches, "workerPrefetchNumBatches", minimum=0)
            return self

        def saveUpdater(self, saveUpdater: bool) -> "ParameterAveragingTrainingMaster.Builder":
            """Average and keep the updater state across rounds (true). False: workers start every round from a
            fresh updater state and only parameters travel (with Adam, whose state is twice the parameters, a
            third of the traffic)."""
            if not isinstance(saveUpdater, bool):
                raise DL4JInvalidConfigException(
                    f"ParameterAveragingTrainingMaster: saveUpdater must be a boolean, got {saveUpdater!r}"
                )
            self._save_updater = saveUpdater
            return self

        def rngSeed(self, rngSeed: int) -> "ParameterAveragingTrainingMaster.Builder":
            """Seed of the minibatch order (default: the network configuration's seed)."""
            if isinstance(rngSeed, bool) or not isinstance(rngSeed, int):
                raise DL4JInvalidConfigException(
                    f"ParameterAveragingTrainingMaster: rngSeed must be an integer, got {rngSeed!r}"
                )
            self._seed = int(rngSeed)
            return self

        def collectTrainingStats(self, collectTrainingStats: bool) -> "ParameterAveragingTrainingMaster.Builder":
            self._stats = bool(collectTrainingStats)
            return self

        def shuffle(self, shuffle: bool) -> "ParameterAveragingTrainingMaster.Builder":
            """dl4py: shuffle each worker's shard every epoch (true) or keep the data order (false)."""
            self._shuffle = bool(shuffle)
            return self

        def taskRetries(self, taskRetries: int) -> "ParameterAveragingTrainingMaster.Builder":
            """dl4py: Dask retries of a worker task that raised (a worker that dies is rescheduled anyway)."""
            self._task_retries = _positive_int(taskRetries, "taskRetries", minimum=0)
            return self

        def maxRoundAttempts(self, maxRoundAttempts: int) -> "ParameterAveragingTrainingMaster.Builder":
            """dl4py: attempts at one round when its data or payload were lost with a worker (≥ 1)."""
            self._round_attempts = _positive_int(maxRoundAttempts, "maxRoundAttempts")
            return self

        def workerTimeout(self, seconds: float) -> "ParameterAveragingTrainingMaster.Builder":
            """dl4py: seconds to wait for workers to (re)join after a failure before giving up; any one transfer
            or query (scattering the round's vector or a shard, gathering results) may take max(this, 30 s)
            before the round counts as failed and is run again."""
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
                raise DL4JInvalidConfigException(
                    f"ParameterAveragingTrainingMaster: workerTimeout must be a number >= 0, got {seconds!r}"
                )
            self._worker_timeout = float(seconds)
            return self

        def roundTimeout(self, seconds: float) -> "ParameterAveragingTrainingMaster.Builder":
            """dl4py: seconds to wait for the results of one round (from submitting its tasks; per attempt)
            before raising ``RoundTimeoutException``, which names the round, the worker slots still missing and
            their workers. A worker that dies does not count against it: its task is rescheduled or the round is
            run again. Default 600 s; must exceed the time ``averagingFrequency`` minibatches take on a worker."""
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
                raise DL4JInvalidConfigException(
                    f"ParameterAveragingTrainingMaster: roundTimeout must be a finite number > 0, got {seconds!r}"
                )
            self._round_timeout = float(seconds)
            return self

        def build(self) -> "ParameterAveragingTrainingMaster":
            return ParameterAveragingTrainingMaster(self)


__all__ = ["ParameterAveragingTrainingMaster"]
