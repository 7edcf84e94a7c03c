"""Non-finite values in training.

* NaN/±inf in the data is reported before any step uses it, with the row and column (features and labels; fit,
  pretrain and the CSV iterator, which also names the file and line); parameters and counters are untouched.
* A score, gradient or update that becomes non-finite stops training with NonFiniteException naming the epoch,
  iteration and layer (message and attributes); parameters *and updater state* keep their last finite values.
* ``net.setNonFinitePolicy("skip")`` logs a warning and drops the step instead (parameters and updater state
  unchanged, iteration not counted, ``nonFiniteSkips`` incremented, ``onNonFiniteSkip`` listeners told), and
  training goes on with the next minibatch.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest

from dl4py.activations import Activation
from dl4py.datasets import DataSet
from dl4py.datasets.csv import CSVRecordReaderDataSetIterator
from dl4py.datasets.iterator import ListDataSetIterator
from dl4py.exceptions import DL4JInvalidConfigException, DL4JInvalidInputException, NonFiniteException
from dl4py.learning.config import Adam, Sgd
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, OutputLayer
from dl4py.nn.conf.layers.variational import GaussianReconstructionDistribution, VariationalAutoencoder
from dl4py.nn.multilayer import MultiLayerNetwork

LF = LossFunctions.LossFunction


def regression_net(updater=None, hidden=Activation.IDENTITY, seed=7) -> MultiLayerNetwork:
    conf = (NeuralNetConfiguration.Builder().seed(seed).updater(updater or Sgd(0.01)).list()
            .layer(DenseLayer.Builder().nIn(4).nOut(5).activation(hidden).build())
            .layer(OutputLayer.Builder(LF.MSE).nOut(2).activation(Activation.IDENTITY).build())
            .build())
    return MultiLayerNetwork(conf).init()


def vae_net(updater=None) -> MultiLayerNetwork:
    conf = (NeuralNetConfiguration.Builder().seed(3).updater(updater or Adam(1e-3)).list()
            .layer(DenseLayer.Builder().nIn(6).nOut(5).activation(Activation.IDENTITY).build())
            .layer(VariationalAutoencoder.Builder().nIn(5).nOut(2).encoderLayerSizes(4).decoderLayerSizes(4)
                   .activation(Activation.IDENTITY)
                   .reconstructionDistribution(GaussianReconstructionDistribution(Activation.IDENTITY)).build())
            .build())
    return MultiLayerNetwork(conf).init()


def ae_net() -> MultiLayerNetwork:
    conf = (NeuralNetConfiguration.Builder().seed(5).updater(Sgd(0.1)).list()
            .layer(AutoEncoder.Builder().nIn(4).nOut(3).activation(Activation.SIGMOID).build())
            .layer(OutputLayer.Builder(LF.MSE).nOut(2).activation(Activation.IDENTITY).build())
            .build())
    return MultiLayerNetwork(conf).init()


def data(n=8, n_in=4, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)).astype(np.float32), rng.normal(size=(n, n_out)).astype(np.float32)


def snapshot(net: MultiLayerNetwork, layer: int | None = None):
    state = net.updaterState() if layer is None else net.pretrain_updater(layer).state
    return (net.params().copy(), state.copy(), net.getIterationCount(),
            [c.iteration_count for c in net.getLayerWiseConfigurations().confs])


def assert_unchanged(net: MultiLayerNetwork, before, layer: int | None = None) -> None:
    after = snapshot(net, layer)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:] == before[2:]


# ------------------------------------------------------------------------------------------------------------
# non-finite input data
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["features", "labels"])
def test_fit_reports_row_and_column_before_training(bad, where):
    net = regression_net()
    x, y = data()
    (x if where == "features" else y)[5, 1] = bad
    before = snapshot(net)
    with pytest.raises(DL4JInvalidInputException, match=rf"{where} \(epoch 0, iteration 0\): non-finite value "
                                                        rf"-?(nan|inf) at row 5, column 1"):
        net.fit(x, y)
    assert_unchanged(net, before)


def test_fit_reports_non_finite_in_a_float64_array_and_in_a_dataset():
    net = regression_net()
    x, y = data()
    x64 = x.astype(np.float64)
    x64[2, 3] = np.nan
    with pytest.raises(DL4JInvalidInputException, match="row 2, column 3"):
        net.fit(DataSet(x64, y))
    with pytest.raises(DL4JInvalidInputException, match="row 2, column 3"):
        net.computeGradientAndScore(x64, y)


def test_iterator_batch_with_nan_stops_before_its_step():
    net = regression_net()
    batches = [DataSet(*data(seed=s)) for s in range(4)]
    poisoned = batches[2].getFeatures().copy()
    poisoned[3, 0] = np.nan
    batches[2] = DataSet(poisoned, batches[2].getLabels())
    reference = regression_net()
    for b in batches[:2]:
        reference.fit(b)
    with pytest.raises(DL4JInvalidInputException, match=r"epoch 0, iteration 2\): non-finite value nan at row 3, column 0"):
        net.fit(ListDataSetIterator(batches))
    np.testing.assert_array_equal(net.params(), reference.params())  # the two good batches were used, not the bad
    assert net.getIterationCount() == 2


@pytest.mark.parametrize("make,layer", [(vae_net, 1), (ae_net, 0)])
def test_pretrain_reports_row_and_column(make, layer):
    net = make()
    x = np.random.default_rng(1).normal(size=(6, net.getLayer(0).n_in)).astype(np.float32)
    x[4, 2] = np.inf
    before = snapshot(net, layer)
    with pytest.raises(DL4JInvalidInputException, match=rf"layer {layer}, epoch 0, iteration 0\): non-finite value "
                                                        r"inf at row 4, column 2"):
        net.pretrainLayer(layer, x)
    assert_unchanged(net, before, layer)
    with pytest.raises(DL4JInvalidInputException, match="row 4, column 2"):
        net.pretrain(ListDataSetIterator([DataSet(x)]))


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-Infinity", "1e999"])
def test_csv_iterator_names_file_line_and_column(tmp_path, text):
    path = tmp_path / "data.csv"
    rows = [f"{i * 0.1},{i * 0.2},{i * 0.3},{i * 0.4},{i % 2}" for i in range(10)]
    rows[6] = f"0.1,{text},0.3,0.4,1"
    path.write_text("a,b,c,d,label\n" + "\n".join(rows) + "\n")
    conf = (NeuralNetConfiguration.Builder().seed(1).updater(Sgd(0.1)).list()
            .layer(DenseLayer.Builder().nIn(4).nOut(3).build())
            .layer(OutputLayer.Builder(LF.MCXENT).nOut(2).activation(Activation.SOFTMAX).build()).build())
    net = MultiLayerNetwork(conf).init()
    it = CSVRecordReaderDataSetIterator(path, 4, 4, 2, skipNumLines=1)
    with pytest.raises(DL4JInvalidInputException, match=r"data\.csv, line 8, column 1: non-finite value"):
        net.fit(it)
    assert net.getIterationCount() == 1  # the first batch (lines 2-5) trained; the one holding line 8 did not


# ------------------------------------------------------------------------------------------------------------
# a training step that becomes non-finite
# ------------------------------------------------------------------------------------------------------------
def exploding_activations(net: MultiLayerNetwork) -> None:
    """Finite parameters so large that layer 0's float32 output overflows for ordinary inputs."""
    p = net.params().copy()
    p[: 4 * 5] = 3e38
    net.setParams(p)


def test_non_finite_score_names_epoch_iteration_and_the_layer_where_it_started():
    net = regression_net()
    x, y = data()
    net.fit(x, y)
    net.fit(x, y)
    exploding_activations(net)
    before = snapshot(net)
    with pytest.raises(NonFiniteException) as info:
        net.fit(x, y)
    err = info.value
    assert (err.epoch, err.iteration, err.layer) == (0, 2, 0)
    assert "score became" in str(err) and "epoch 0, iteration 2, layer 0 (DenseLayer" in str(err)
    assert "the output of this layer is non-finite" in str(err)
    assert_unchanged(net, before)


def test_update_overflow_restores_parameters_and_names_the_layer():
    net = regression_net(Sgd(1e30))
    x, y = data(16)
    x *= 1e10
    last = None
    with pytest.raises(NonFiniteException) as info:
        for _ in range(10):
            last = snapshot(net)
            net.fit(x, y)
    err = info.value
    assert err.layer in (0, 1) and err.epoch == 0 and err.iteration == last[2]
    assert f"iteration {err.iteration}, layer {err.layer}" in str(err)
    assert_unchanged(net, last)
    assert np.all(np.isfinite(net.params()))


def test_overflowing_updater_state_is_never_written():
    """Adam with finite gradients ~1e20: v = g² overflows float32 while the parameters stay finite (the update
    is m/(√v+ε) = 0). The state is checked as well (the dry run refuses the step), or the layer would silently
    stop learning."""
    net = regression_net(Adam(1e-3))
    x, y = data(8)
    before = snapshot(net)
    x *= 1e10
    with pytest.raises(NonFiniteException, match="would overflow.*parameters and updater state are left at their last finite values") as info:
        net.fit(x, y)
    assert info.value.iteration == 0
    assert_unchanged(net, before)
    assert np.all(np.isfinite(net.updaterState()))


def test_pretrain_non_finite_names_the_pretrained_layer():
    net = vae_net()
    x = np.random.default_rng(2).normal(size=(6, 6)).astype(np.float32)
    net.pretrainLayer(1, x)
    p = net.params().copy()
    offset = net.getLayer(0).num_params
    p[offset:offset + 5 * 4] = 1e30  # the VAE's first encoder weights
    net.setParams(p)
    before = snapshot(net, 1)
    with pytest.raises(NonFiniteException) as info:
        net.pretrainLayer(1, x)
    assert (info.value.layer, info.value.iteration, info.value.epoch) == (1, 1, 0)
    assert "layer 1 (VariationalAutoencoder" in str(info.value)
    assert_unchanged(net, before, 1)


# ------------------------------------------------------------------------------------------------------------
# the "skip" policy
# ------------------------------------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.skipped: list[NonFiniteException] = []
        self.done: list[int] = []

    def onNonFiniteSkip(self, net, exc):
        self.skipped.append(exc)

    def iterationDone(self, net, iteration, epoch):
        self.done.append(iteration)


def test_skip_policy_logs_and_continues(caplog):
    net = regression_net().setNonFinitePolicy("skip")
    assert net.getNonFinitePolicy() == "skip"
    listener = Recorder()
    net.setListeners(listener)
    good = [DataSet(*data(seed=s)) for s in range(5)]
    huge_x, huge_y = data(seed=9)
    huge_x[0, 0] = 3e38  # finite, but the step overflows
    batches = good[:2] + [DataSet(huge_x, huge_y)] + good[2:]
    reference = regression_net()
    for b in good:
        reference.fit(b)
    with caplog.at_level(logging.WARNING, logger="dl4py.nn.multilayer"):
        net.fit(ListDataSetIterator(batches))
    assert net.nonFiniteSkips == 1 and len(listener.skipped) == 1
    assert listener.skipped[0].iteration == 2
    assert "training step skipped" in caplog.text and "epoch 0, iteration 2" in caplog.text
    assert listener.done == [0, 1, 2, 3, 4]  # the skipped step was not counted
    assert net.getIterationCount() == 5 and net.getEpochCount() == 1
    np.testing.assert_array_equal(net.params(), reference.params())  # as if the bad batch had not been there
    np.testing.assert_array_equal(net.updaterState(), reference.updaterState())


def test_skip_policy_leaves_parameters_and_state_unchanged_for_one_step():
    net = regression_net(Adam(1e-3)).setNonFinitePolicy("skip")
    x, y = data()
    net.fit(x, y)
    before = snapshot(net)
    net.fit(x * 1e10, y)  # updater state overflow
    assert_unchanged(net, before)
    exploding_activations(net)
    before = snapshot(net)
    net.fit(x, y)  # score overflow
    assert_unchanged(net, before)
    assert net.nonFiniteSkips == 2


def test_skip_policy_in_pretraining(caplog):
    net = vae_net().setNonFinitePolicy("skip")
    x = np.random.default_rng(2).normal(size=(6, 6)).astype(np.float32)
    p = net.params().copy()
    offset = net.getLayer(0).num_params
    p[offset:offset + 5 * 4] = 1e30
    net.setParams(p)
    before = snapshot(net, 1)
    with caplog.at_level(logging.WARNING, logger="dl4py.nn.multilayer"):
        net.pretrainLayer(1, x)
    assert_unchanged(net, before, 1)
    assert net.nonFiniteSkips == 1 and "layer 1" in caplog.text


def test_policy_values_and_clone():
    net = regression_net()
    assert net.getNonFinitePolicy() == "raise"
    with pytest.raises(DL4JInvalidConfigException, match="'raise', 'skip'"):
        net.setNonFinitePolicy("ignore")
    net.setNonFinitePolicy("skip")
    assert net.clone().getNonFinitePolicy() == "skip"
    net.setNonFinitePolicy("raise")
    exploding_activations(net)
    with pytest.raises(NonFiniteException):
        net.fit(*data())
