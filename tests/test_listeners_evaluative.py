"""EvaluativeListener (evaluation on held-out data every N epochs/iterations) and the progress bar convenience of
fit/pretrain."""
from __future__ import annotations

import io

import numpy as np
import pytest

from dl4py.datasets import CSVRecordReaderDataSetIterator, NumpyDataSetIterator
from dl4py.earlystopping import DataSetLossCalculator
from dl4py.exceptions import DL4JInvalidConfigException
from dl4py.learning.config import Adam, Sgd
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import DenseLayer, OutputLayer
from dl4py.nn.conf.layers.variational import VariationalAutoencoder
from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.optimize.listeners import EvaluativeListener, InvocationType, ProgressBarListener

LF = LossFunctions.LossFunction


def _net():
    conf = (NeuralNetConfiguration.Builder().seed(5).updater(Sgd(0.2)).list()
            .layer(DenseLayer.Builder().nIn(3).nOut(6).activation("tanh").build())
            .layer(OutputLayer.Builder(LF.MCXENT).nIn(6).nOut(2).activation("softmax").build())
            .build())
    return MultiLayerNetwork(conf).init()


def _xy(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, np.eye(2, dtype=np.float32)[(x.sum(axis=1) > 0).astype(int)]


def test_epoch_end_evaluation_on_held_out_data_with_callback():
    net = _net()
    xv, yv = _xy(40, 1)
    calls = []
    listener = EvaluativeListener(NumpyDataSetIterator(xv, yv, batchSize=16), 2, InvocationType.EPOCH_END,
                                  callback=lambda lst, model, count, value: calls.append((count, value)))
    net.setListeners(listener)
    net.fit(NumpyDataSetIterator(*_xy(60, 0), batchSize=20), numEpochs=4)
    # every second epoch end: after epochs 1 and 3 (iterations 5 and 11)
    assert [(it, ep) for it, ep, _ in listener.results] == [(5, 1), (11, 3)]
    assert listener.getLastResult() == pytest.approx(net.score((xv, yv)), rel=1e-5)
    assert [c for c, _ in calls] == [1, 2] and calls[-1][1] == listener.getLastResult()
    assert listener.results[1][2] < listener.results[0][2]  # the held-out loss falls


def test_iteration_end_with_a_function_and_epoch_start_with_a_calculator():
    net = _net()
    per_iteration = EvaluativeListener(lambda model: model.getIterationCount(), 3, "ITERATION_END")
    xv, yv = _xy(30, 2)
    at_start = EvaluativeListener(DataSetLossCalculator((xv, yv)), 1, InvocationType.EPOCH_START)
    net.setListeners(per_iteration, at_start)
    net.fit(NumpyDataSetIterator(*_xy(60, 0), batchSize=10), numEpochs=2)
    assert [v for _, _, v in per_iteration.results] == [3, 6, 9, 12]
    assert len(at_start.results) == 2  # before each epoch


def test_evaluative_listener_argument_errors():
    with pytest.raises(DL4JInvalidConfigException, match="frequency"):
        EvaluativeListener(lambda m: 0, 0)
    with pytest.raises(DL4JInvalidConfigException, match="invocationType"):
        EvaluativeListener(lambda m: 0, 1, "EVERY_SECOND")
    with pytest.raises(DL4JInvalidConfigException, match="evaluation must be"):
        EvaluativeListener(42)


def test_progress_true_shows_a_bar_only_during_the_call(capsys, tmp_path):
    net = _net()
    net.fit(NumpyDataSetIterator(*_xy(50, 0), batchSize=20), numEpochs=2, progress=True)
    err = capsys.readouterr().err
    assert "fit epoch 0 [" in err and "3/3" in err and "fit epoch 1" in err
    assert net.getListeners() == []
    # an iterator without a size: a counter, no bar
    x, y = _xy(12, 3)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.column_stack([x, y.argmax(axis=1)]), delimiter=",", fmt="%.5f")
    net.fit(CSVRecordReaderDataSetIterator(path, 5, 3, 2), progress=True)
    assert "iteration 3 score" in capsys.readouterr().err


def test_pretrain_progress_names_the_layer(capsys):
    conf = (NeuralNetConfiguration.Builder().seed(1).updater(Adam(1e-2)).list()
            .layer(VariationalAutoencoder.Builder().nIn(3).nOut(2).encoderLayerSizes(4).decoderLayerSizes(4).build())
            .build())
    net = MultiLayerNetwork(conf).init()
    stream = io.StringIO()
    net.pretrain(NumpyDataSetIterator(_xy(30, 0)[0], None, batchSize=10), 1, progress=ProgressBarListener(stream=stream, desc="vae"))
    assert stream.getvalue().startswith("vae epoch 0 iteration 3 score")
    net.pretrain(NumpyDataSetIterator(_xy(30, 0)[0], None, batchSize=10), 1, progress=True)
    assert "pretrain layer 0 epoch 1 [" in capsys.readouterr().err
