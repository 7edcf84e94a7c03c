"""fit over iterators, listeners, epochs and counters."""
from __future__ import annotations

import io
import logging

import numpy as np
import pytest

from dl4py.datasets import CSVRecordReaderDataSetIterator, DataSet, NumpyDataSetIterator
from dl4py.exceptions import DL4JInvalidConfigException
from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.optimize.listeners import CollectScoresListener, ProgressBarListener, ScoreIterationListener, TrainingListener
from tests.dl4j_compare import assert_dl4j_close


def test_fit_csv_iterator_reproduces_dl4j_training_curve(dl4j):
    net = MultiLayerNetwork.load(dl4j("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip"))
    collect = CollectScoresListener()
    net.setListeners(collect)
    it = CSVRecordReaderDataSetIterator(dl4j("integration/data/moon_data_train.csv"), 32, 0, 2)
    net.fit(it, numEpochs=1)
    expected = np.loadtxt(dl4j("integration/MLPMoon/trainingCurve.csv"), delimiter=",")
    assert_dl4j_close(collect.scores, expected, 1e-4, 0.0, "training curve via iterator")
    assert collect.iterations == list(range(63))
    assert net.getEpochCount() == 1 and net.getIterationCount() == 63


class Recorder(TrainingListener):
    def __init__(self):
        self.events = []

    def onEpochStart(self, model):
        self.events.append("start")

    def iterationDone(self, model, iteration, epoch):
        self.events.append((iteration, epoch))

    def onEpochEnd(self, model):
        self.events.append("end")


def test_listener_order_and_multiple_epochs(dl4j, caplog):
    net = MultiLayerNetwork.load(dl4j("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip"))
    rec = Recorder()
    stream = io.StringIO()
    net.setListeners(rec, ScoreIterationListener(2), ProgressBarListener(total=2, stream=stream))
    x = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(20) % 2]
    with caplog.at_level(logging.INFO, logger="dl4py.listeners"):
        net.fit(NumpyDataSetIterator(x, y, batchSize=10), numEpochs=2)
    assert rec.events == ["start", (0, 0), (1, 0), "end", "start", (2, 1), (3, 1), "end"]
    assert "Score at iteration 0" in caplog.text and "Score at iteration 2" in caplog.text
    assert "2/2" in stream.getvalue()


def test_fit_dataset_and_tuple_forms_are_one_step(dl4j):
    net = MultiLayerNetwork.load(dl4j("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip"))
    x = np.ones((4, 2), dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[[0, 1, 0, 1]]
    net.fit(DataSet(x, y))
    net.fit(x, y)
    net.fit([DataSet(x, y), DataSet(x, y)])
    assert net.getIterationCount() == 4
    with pytest.raises(DL4JInvalidConfigException):
        net.fit(NumpyDataSetIterator(x, y, batchSize=2), numEpochs=0)


def test_score_dataset_and_score_examples(dl4j):
    net = MultiLayerNetwork.load(dl4j("integration/MLPMoon/Model_RANDOM_INIT_UNTRAINED.zip"))
    x = np.random.default_rng(1).normal(size=(7, 2)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(7) % 2]
    per_example = net.scoreExamples(DataSet(x, y), False).reshape(-1)
    p = net.output(x)
    np.testing.assert_allclose(per_example, -np.log((p * y).sum(axis=1)), rtol=1e-5)
    assert net.score(DataSet(x, y)) == pytest.approx(per_example.mean(), rel=1e-5)
    assert net.predict(x).tolist() == p.argmax(axis=1).tolist()
