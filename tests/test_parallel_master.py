"""dl4py.parallel without a cluster: the training master's options, the minibatch order, the shard layout, the
worker-side round function and the missing-Dask error. Runs with or without Dask installed."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from dl4py.activations import Activation
from dl4py.exceptions import DL4JInvalidConfigException, InvalidJsonException, MissingDependencyException
from dl4py.learning.config import Adam
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import DenseLayer, OutputLayer
from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.parallel import ParameterAveragingTrainingMaster, balanced_sizes, minibatch_indices, slot_order
from dl4py.parallel import worker as W
from dl4py.parallel.data import group_by_counts

Builder = ParameterAveragingTrainingMaster.Builder


def test_builder_defaults_are_dl4js():
    tm = Builder(32).build()
    assert tm.getAveragingFrequency() == 5
    assert tm.getAggregationDepth() == 2
    assert tm.getWorkerPrefetchNumBatches() == 0  # DL4J: "Default: 0 (no prefetching)"
    assert tm.isSaveUpdater() is True  # DL4J's documented default
    assert tm.getRngSeed() is None
    assert tm.getNumWorkers() is None
    assert tm.getIsCollectTrainingStats() is False
    # the constructor's number is the default batch size per worker; batchSizePerWorker() wins
    assert tm.getBatchSizePerWorker() == 32
    assert Builder(32).batchSizePerWorker(16).build().getBatchSizePerWorker() == 16
    assert Builder(4, 32).build().getNumWorkers() == 4


def test_builder_chain_and_snake_case_aliases():
    tm = (Builder(128).averagingFrequency(10).workerPrefetchNumBatches(2).saveUpdater(False).rngSeed(7)
          .aggregationDepth(3).collectTrainingStats(True).shuffle(False).build())
    assert (tm.averagingFrequency, tm.prefetchNumBatches, tm.saveUpdater, tm.rngSeed) == (10, 2, False, 7)
    assert (tm.aggregationDepth, tm.collectTrainingStats, tm.shuffle) == (3, True, False)
    snake = (Builder(128).averaging_frequency(10).worker_prefetch_num_batches(2).save_updater(False).rng_seed(7)
             .aggregation_depth(3).collect_training_stats(True).shuffle(False).build())
    assert snake == tm
    assert tm.get_averaging_frequency() == 10


@pytest.mark.parametrize("call", [
    lambda: Builder(0),
    lambda: Builder(0, 16),
    lambda: Builder(16).averagingFrequency(0),
    lambda: Builder(16).batchSizePerWorker(-1),
    lambda: Builder(16).workerPrefetchNumBatches(-1),
    lambda: Builder(16).aggregationDepth(0),
    lambda: Builder(16).saveUpdater("yes"),
    lambda: Builder(16).averagingFrequency(2.5),
    lambda: Builder(16).workerTimeout(-1),
    lambda: Builder(16).roundTimeout(0),
    lambda: Builder(16).roundTimeout(float("inf")),
    lambda: Builder(16).roundTimeout(float("nan")),
])
def test_builder_rejects_bad_values(call):
    with pytest.raises(DL4JInvalidConfigException):
        call()


def test_training_master_json_round_trip():
    tm = Builder(3, 64).averagingFrequency(7).saveUpdater(False).rngSeed(-5).roundTimeout(12.5).build()
    again = ParameterAveragingTrainingMaster.fromJson(tm.toJson())
    assert again == tm
    assert again.getRoundTimeout() == 12.5 and Builder(16).build().getRoundTimeout() == 600.0
    assert '"@class": "org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster"' in tm.toJson()
    with pytest.raises(InvalidJsonException):
        ParameterAveragingTrainingMaster.fromJson('{"bogus": 1}')
    with pytest.raises(InvalidJsonException):
        ParameterAveragingTrainingMaster.fromJson("not json")


def test_shard_layout_and_minibatch_order():
    assert balanced_sizes(10, 3) == [4, 3, 3]
    assert balanced_sizes(2, 4) == [1, 1, 0, 0]
    assert group_by_counts([16] * 6, 2) == [[0, 1, 2], [3, 4, 5]]
    assert group_by_counts([10, 0, 10, 10], 3) == [[0], [2], [3]]
    batches = minibatch_indices(50, 16, seed=3, epoch=0, slot=1)
    assert [len(b) for b in batches] == [16, 16, 16, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(50))
    # deterministic for (seed, epoch, slot); different across epochs and slots
    np.testing.assert_array_equal(slot_order(50, 3, 0, 1), slot_order(50, 3, 0, 1))
    assert not np.array_equal(slot_order(50, 3, 0, 1), slot_order(50, 3, 1, 1))
    assert not np.array_equal(slot_order(50, 3, 0, 1), slot_order(50, 3, 0, 2))
    assert slot_order(50, 3, 0, 1, shuffle=False) is None
    assert minibatch_indices(5, 2, 0, 0, 0, shuffle=False)[2].tolist() == [4]


def _conf():
    return (NeuralNetConfiguration.Builder().seed(1).updater(Adam(1e-2)).list()
            .layer(DenseLayer.Builder().nIn(6).nOut(5).activation(Activation.TANH).build())
            .layer(OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY)
                   .build())
            .build())


@pytest.mark.parametrize("prefetch", [0, 2])
def test_train_round_continues_single_machine_training(prefetch):
    """The worker-side round function, called in-process: 3 of the epoch's minibatches from minibatch 2 on,
    from given parameters/state/counters/RNG state, is exactly those steps of single-machine training."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = rng.standard_normal((40, 2)).astype(np.float32)
    single = MultiLayerNetwork(_conf()).init()
    batches = minibatch_indices(40, 8, seed=9, epoch=0, slot=0)
    for idx in batches[:2]:
        single.fit(x[idx], y[idx])
    payload = np.concatenate([single.params(), single.updaterState()])
    spec = {
        "conf": _conf().toJson(), "kind": "fit", "layer": 0, "slot": 0, "seed": 9, "epoch": 0, "shuffle": True,
        "batch": 8, "first": 2, "steps": 3, "iteration": single.getIterationCount(), "epoch_count": 0,
        "save_updater": True, "prefetch": prefetch, "rng_state": single.rng.bit_generator.state,
    }
    result = W.train_round(W.make_shard(x, y, "float32"), payload.copy(), spec)
    for idx in batches[2:5]:
        single.fit(x[idx], y[idx])
    n = single.numParams()
    np.testing.assert_array_equal(result["flat"][:n], single.params())
    np.testing.assert_array_equal(result["flat"][n:], single.updaterState())
    assert result["steps"] == 3 and result["examples"] == 24
    # only 5 minibatches exist: asking for 3 more from minibatch 4 fits just one
    spec.update(first=4, steps=3)
    assert W.train_round(W.make_shard(x, y, "float32"), payload.copy(), spec)["steps"] == 1


def test_combine_results_sums_in_float64_and_keeps_slot_records():
    a = {"slot": 0, "flat": np.array([1.0, 2.0], np.float32), "score": 1.0, "steps": 2}
    b = {"slot": 1, "flat": np.array([3.0, 5.0], np.float32), "score": 3.0, "steps": 2}
    c = {"slot": 2, "flat": np.array([5.0, 8.0], np.float32), "score": 5.0, "steps": 1}
    tree = W.combine_results(W.combine_results(a, b), c)
    assert tree["count"] == 3 and tree["sum"].dtype == np.float64
    np.testing.assert_array_equal(tree["sum"], [9.0, 15.0])
    assert [s["slot"] for s in tree["slots"]] == [0, 1, 2]


def test_import_without_dask_names_the_extra(monkeypatch):
    import dl4py.parallel as parallel

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"dl4py\[distributed\]") as info:
        parallel.DaskDl4jMultiLayer(None, _conf(), Builder(8).build())
    assert isinstance(info.value, MissingDependencyException)
    with pytest.raises(ImportError, match="distributed"):
        parallel.local_cluster(1)
    # the configuration side needs no Dask
    assert parallel.ParameterAveragingTrainingMaster.Builder(8).build().getBatchSizePerWorker() == 8
