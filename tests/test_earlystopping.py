"""dl4py.earlystopping: termination conditions stop where they should, the best model is the one restored, score
calculators compute what they say, fit and layer-wise pretraining both work."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dl4py.datasets import NumpyDataSetIterator
from dl4py.earlystopping import (
    AutoencoderScoreCalculator,
    BestScoreEpochTerminationCondition,
    DataSetLossCalculator,
    EarlyStoppingConfiguration,
    EarlyStoppingListener,
    EarlyStoppingTrainer,
    InMemoryModelSaver,
    InvalidScoreIterationTerminationCondition,
    LocalFileModelSaver,
    MaxEpochsTerminationCondition,
    MaxScoreIterationTerminationCondition,
    MaxTimeIterationTerminationCondition,
    ScoreCalculator,
    ScoreImprovementEpochTerminationCondition,
    TerminationReason,
    TimeUnit,
    VAEReconErrorScoreCalculator,
    VAEReconProbScoreCalculator,
)
from dl4py.exceptions import DL4JInvalidConfigException
from dl4py.learning.config import Adam, Sgd
from dl4py.lossfunctions import LossFunctions
from dl4py.nn.conf import NeuralNetConfiguration
from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, OutputLayer
from dl4py.nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder
from dl4py.nn.multilayer import MultiLayerNetwork

LF = LossFunctions.LossFunction


@pytest.fixture(autouse=True)
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[(x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)]
    return x, y


def _mlp(lr=0.1, seed=42):
    conf = (NeuralNetConfiguration.Builder().seed(seed).updater(Sgd(lr)).list()
            .layer(DenseLayer.Builder().nIn(4).nOut(8).activation("tanh").build())
            .layer(OutputLayer.Builder(LF.MCXENT).nIn(8).nOut(3).activation("softmax").build())
            .build())
    return MultiLayerNetwork(conf).init()


def _vae(seed=7, loss_wrapper=False):
    b = VariationalAutoencoder.Builder().activation("tanh").encoderLayerSizes(16).decoderLayerSizes(16).nIn(12).nOut(3)
    if loss_wrapper:
        b = b.lossFunction("sigmoid", LF.MSE)
    else:
        b = b.reconstructionDistribution(BernoulliReconstructionDistribution("sigmoid"))
    conf = NeuralNetConfiguration.Builder().seed(seed).updater(Adam(1e-2)).list().layer(b.build()).build()
    return MultiLayerNetwork(conf).init()


def _binary(n=96, seed=3):
    """Noisy copies of three fixed binary prototypes (the same prototypes for every seed)."""
    proto = np.random.default_rng(99).random((3, 12)) > 0.5
    rng = np.random.default_rng(seed)
    flips = rng.random((n, 12)) < 0.1
    return (proto[rng.integers(0, 3, n)] ^ flips).astype(np.float32)


class ScriptedScores(ScoreCalculator):
    """Returns a fixed sequence of scores and records the parameters it scored (a deterministic calculator)."""

    def __init__(self, scores, minimize=True):
        self.scores, self.minimize, self.seen = list(scores), minimize, []

    def calculateScore(self, network):
        self.seen.append(network.params().copy())
        return self.scores[len(self.seen) - 1]

    def minimizeScore(self):
        return self.minimize


def _trainer(conf_builder, net=None, train=None):
    net = net or _mlp()
    x, y = _data()
    return EarlyStoppingTrainer(conf_builder.build(), net, train or NumpyDataSetIterator(x, y, batchSize=40)), net


def test_score_improvement_stops_and_restores_the_best_model():
    calc = ScriptedScores([5.0, 3.0, 4.0, 4.5, 6.0, 1.0])
    trainer, net = _trainer(EarlyStoppingConfiguration.Builder()
                            .epochTerminationConditions(MaxEpochsTerminationCondition(10),
                                                        ScoreImprovementEpochTerminationCondition(2))
                            .scoreCalculator(calc))
    result = trainer.fit()
    assert result.getTerminationReason() is TerminationReason.EpochTerminationCondition
    assert "ScoreImprovementEpochTerminationCondition" in result.getTerminationDetails()
    assert result.getTotalEpochs() == 4  # epochs 0..3: no improvement on 3.0 for two epochs
    assert result.getBestModelEpoch() == 1 and result.getBestModelScore() == 3.0
    assert result.getScoreVsEpoch() == {0: 5.0, 1: 3.0, 2: 4.0, 3: 4.5}
    best = result.getBestModel()
    np.testing.assert_array_equal(best.params(), calc.seen[1])
    assert not np.array_equal(net.params(), calc.seen[1])  # the trained network went on
    assert net.getEpochCount() == 4 and net.getIterationCount() == 12  # 3 minibatches per epoch
    assert best.getEpochCount() == 2  # the copy taken after epoch 1


def test_maximised_score_and_min_improvement():
    # maximising: 1 -> 1.05 is below minImprovement 0.1, so epoch 0 stays the reference
    calc = ScriptedScores([1.0, 1.05, 1.08, 2.0], minimize=False)
    trainer, _ = _trainer(EarlyStoppingConfiguration.Builder()
                          .epochTerminationConditions(ScoreImprovementEpochTerminationCondition(2, 0.1))
                          .scoreCalculator(calc))
    result = trainer.fit()
    assert result.getTotalEpochs() == 3 and result.getBestModelEpoch() == 2 and result.getBestModelScore() == 1.08


def test_best_score_condition_and_max_epochs():
    trainer, _ = _trainer(EarlyStoppingConfiguration.Builder()
                          .epochTerminationConditions(MaxEpochsTerminationCondition(9),
                                                      BestScoreEpochTerminationCondition(2.5))
                          .scoreCalculator(ScriptedScores([4.0, 3.0, 2.0, 1.0])))
    result = trainer.fit()
    assert result.getTotalEpochs() == 3 and "BestScoreEpochTerminationCondition(2.5)" in result.getTerminationDetails()
    trainer, net = _trainer(EarlyStoppingConfiguration.Builder().epochTerminationConditions(
        MaxEpochsTerminationCondition(2)).scoreCalculator(ScriptedScores([1.0, 2.0])))
    result = trainer.fit()
    assert result.getTotalEpochs() == 2 and result.getBestModelEpoch() == 0 and net.getEpochCount() == 2


def test_real_loss_calculator_best_model_scores_its_best_score():
    x, y = _data()
    xv, yv = _data(60, seed=1)
    calc = DataSetLossCalculator(NumpyDataSetIterator(xv, yv, batchSize=25))
    trainer, net = _trainer(EarlyStoppingConfiguration.Builder()
                            .epochTerminationConditions(MaxEpochsTerminationCondition(6))
                            .scoreCalculator(calc))
    result = trainer.fit()
    assert result.getTotalEpochs() == 6 and len(result.getScoreVsEpoch()) == 6
    assert min(result.getScoreVsEpoch().values()) == result.getBestModelScore()
    assert calc.calculateScore(result.getBestModel()) == pytest.approx(result.getBestModelScore(), rel=1e-6)
    # the average over examples: the same as the network's score on the whole held-out set
    assert calc.calculateScore(net) == pytest.approx(net.score((xv, yv)), rel=1e-5)
    assert not DataSetLossCalculator((xv, yv), average=False).calculateScore(net) == pytest.approx(net.score((xv, yv)))


def test_evaluate_every_n_epochs_still_scores_the_last_epoch():
    calc = ScriptedScores([3.0, 2.0, 1.0])
    trainer, _ = _trainer(EarlyStoppingConfiguration.Builder()
                          .epochTerminationConditions(MaxEpochsTerminationCondition(5))
                          .evaluateEveryNEpochs(2).scoreCalculator(calc))
    result = trainer.fit()
    assert result.getScoreVsEpoch() == {1: 3.0, 3: 2.0, 4: 1.0}
    assert result.getTotalEpochs() == 5 and result.getBestModelEpoch() == 4


def test_iteration_conditions_and_save_last_model(tmp_path):
    saver = LocalFileModelSaver(tmp_path / "models")
    trainer, net = _trainer(EarlyStoppingConfiguration.Builder()
                            .iterationTerminationConditions(MaxScoreIterationTerminationCondition(1e-9))
                            .scoreCalculator(ScriptedScores([1.0]))
                            .modelSaver(saver).saveLastModel(True))
    result = trainer.fit()
    assert result.getTerminationReason() is TerminationReason.IterationTerminationCondition
    assert result.getTotalEpochs() == 1 and net.getIterationCount() == 1
    assert result.getBestModel() is net  # nothing was scored yet
    assert (tmp_path / "models" / "latestModel.bin").exists()
    np.testing.assert_array_equal(saver.getLatestModel().params(), net.params())

    timed, net = _trainer(EarlyStoppingConfiguration.Builder()
                          .iterationTerminationConditions(MaxTimeIterationTerminationCondition(0, TimeUnit.SECONDS)))
    assert timed.fit().getTerminationDetails().startswith("MaxTimeIterationTerminationCondition(0 SECONDS)")
    assert net.getIterationCount() == 1


def test_local_file_saver_restores_the_best_model(tmp_path):
    calc = ScriptedScores([2.0, 1.0, 3.0])
    saver = LocalFileModelSaver(tmp_path)
    trainer, _ = _trainer(EarlyStoppingConfiguration.Builder()
                          .epochTerminationConditions(MaxEpochsTerminationCondition(3))
                          .scoreCalculator(calc).modelSaver(saver))
    result = trainer.fit()
    assert (tmp_path / "bestModel.bin").exists() and not (tmp_path / "latestModel.bin").exists()
    np.testing.assert_array_equal(result.getBestModel().params(), calc.seen[1])


def test_non_finite_training_is_an_invalid_score_termination_or_an_error():
    x, y = _data()
    for conditions, reason in (([InvalidScoreIterationTerminationCondition()], TerminationReason.IterationTerminationCondition),
                               ([], TerminationReason.Error)):
        net = _mlp(lr=1e38)  # the third step overflows: the engine raises NonFiniteException
        conf = (EarlyStoppingConfiguration.Builder().epochTerminationConditions(MaxEpochsTerminationCondition(3))
                .iterationTerminationConditions(conditions).build())
        with np.errstate(all="ignore"):
            result = EarlyStoppingTrainer(conf, net, NumpyDataSetIterator(x, y, batchSize=40)).fit()
        assert result.getTerminationReason() is reason, result
        assert result.getTotalEpochs() == 1 and "NonFiniteException" in result.getTerminationDetails() or not conditions
        assert np.all(np.isfinite(net.params()))
        if reason is TerminationReason.Error:
            assert result.exception is not None


def test_listener_hooks_in_order():
    events = []

    class Listener(EarlyStoppingListener):
        def onStart(self, esConfig, net):
            events.append("start")

        def onEpoch(self, epochNum, score, esConfig, net):
            events.append((epochNum, score))

        def onCompletion(self, result):
            events.append(result.getTotalEpochs())

    trainer, _ = _trainer(EarlyStoppingConfiguration.Builder().epochTerminationConditions(
        MaxEpochsTerminationCondition(2)).scoreCalculator(ScriptedScores([2.0, 1.0])))
    trainer.setListener(Listener())
    trainer.fit()
    assert events == ["start", (0, 2.0), (1, 1.0), 2]


def test_pretraining_with_vae_reconstruction_probability_is_reproducible():
    x = _binary()
    held_out = _binary(48, seed=4)
    calc = VAEReconProbScoreCalculator(NumpyDataSetIterator(held_out, None, batchSize=20), 8, True)
    assert not calc.minimizeScore()
    conf = (EarlyStoppingConfiguration.Builder()
            .epochTerminationConditions(MaxEpochsTerminationCondition(4))
            .scoreCalculator(calc).modelSaver(InMemoryModelSaver()).build())
    net = _vae()
    result = EarlyStoppingTrainer(conf, net, NumpyDataSetIterator(x, None, batchSize=32), pretrain=True).fit()
    scores = result.getScoreVsEpoch()
    assert result.getTotalEpochs() == 4 and scores[3] > scores[0]  # it learns (log-probabilities rise)
    assert result.getBestModelScore() == max(scores.values())
    assert calc.calculateScore(result.getBestModel()) == pytest.approx(result.getBestModelScore(), rel=1e-6)
    # the same noise every time: scoring is deterministic and leaves the network's random stream alone
    assert calc.calculateScore(net) == calc.calculateScore(net)
    plain = _vae()
    plain.pretrainLayer(0, NumpyDataSetIterator(x, None, batchSize=32), 4)
    np.testing.assert_array_equal(plain.params(), net.params())
    assert net.getLayerWiseConfigurations().confs[0].epoch_count == 4
    # reconstruction probability (not log): average of exp(log p) per example
    prob = VAEReconProbScoreCalculator(held_out, 8, logProb=False).calculateScore(net)
    assert 0.0 < prob < 1.0


def test_pretrain_method_and_layer_index_checks():
    x = _binary()
    conf = EarlyStoppingConfiguration.Builder().epochTerminationConditions(MaxEpochsTerminationCondition(1)).build()
    trainer = EarlyStoppingTrainer(conf, _vae(), NumpyDataSetIterator(x, None, batchSize=32), layerIndex=0)
    assert trainer.pretrain().getTotalEpochs() == 1
    with pytest.raises(DL4JInvalidConfigException, match="cannot be pretrained"):
        EarlyStoppingTrainer(conf, _mlp(), NumpyDataSetIterator(*_data(), batchSize=40), layerIndex=1).pretrain()
    with pytest.raises(DL4JInvalidConfigException, match="no layer that can be pretrained"):
        EarlyStoppingTrainer(conf, _mlp(), NumpyDataSetIterator(*_data(), batchSize=40), pretrain=True).fit()


def test_vae_reconstruction_error_and_autoencoder_calculators():
    x = _binary()
    net = _vae(loss_wrapper=True)
    net.pretrainLayer(0, NumpyDataSetIterator(x, None, batchSize=32), 2)
    err = VAEReconErrorScoreCalculator(NumpyDataSetIterator(x, None, batchSize=50)).calculateScore(net)
    assert err == pytest.approx(float(net.getLayer(0).reconstructionError(x).mean()), rel=1e-5)

    conf = (NeuralNetConfiguration.Builder().seed(1).updater(Adam(1e-2)).list()
            .layer(AutoEncoder.Builder().nIn(12).nOut(5).activation("sigmoid").lossFunction(LF.XENT).build())
            .build())
    ae = MultiLayerNetwork(conf).init()
    ae.pretrainLayer(0, NumpyDataSetIterator(x, None, batchSize=32), 3)
    r = ae.getLayer(0).reconstruct(x).astype(np.float64)
    d = x - r
    varying = x.std(axis=0) > 0
    expected = {
        "MSE": (d ** 2).mean(),
        "MAE": np.abs(d).mean(),
        "RMSE": np.sqrt((d ** 2).mean(axis=0)).mean(),
        "R2": (1 - (d ** 2).sum(0)[varying] / ((x - x.mean(0)) ** 2).sum(0)[varying]).mean(),
        "PC": np.mean([np.corrcoef(x[:, j], r[:, j])[0, 1] for j in np.flatnonzero(varying)]),
    }
    for metric, value in expected.items():
        calc = AutoencoderScoreCalculator(metric, NumpyDataSetIterator(x, None, batchSize=40))
        assert calc.calculateScore(ae) == pytest.approx(value, rel=1e-4, abs=1e-6), metric
        assert calc.minimizeScore() == (metric not in ("R2", "PC"))


def test_configuration_validation():
    with pytest.raises(DL4JInvalidConfigException, match="no termination condition"):
        EarlyStoppingConfiguration.Builder().build()
    with pytest.raises(DL4JInvalidConfigException, match="evaluateEveryNEpochs"):
        EarlyStoppingConfiguration.Builder().epochTerminationConditions(MaxEpochsTerminationCondition(1)) \
            .evaluateEveryNEpochs(0).build()
    with pytest.raises(DL4JInvalidConfigException, match="maxEpochs"):
        MaxEpochsTerminationCondition(0)
    with pytest.raises(DL4JInvalidConfigException, match="timeUnit"):
        MaxTimeIterationTerminationCondition(1, "FORTNIGHTS")
    with pytest.raises(DL4JInvalidConfigException, match="metric"):
        AutoencoderScoreCalculator("F1", np.zeros((2, 2)))
    conf = EarlyStoppingConfiguration.Builder().epoch_termination_conditions(MaxEpochsTerminationCondition(2)).build()
    assert conf.get_evaluate_every_n_epochs() == 1 and isinstance(conf.getModelSaver(), InMemoryModelSaver)
    assert MaxTimeIterationTerminationCondition(2, "minutes").max_seconds == 120.0
    assert not InvalidScoreIterationTerminationCondition().terminate(1.0)
    assert InvalidScoreIterationTerminationCondition().terminate(math.nan)
