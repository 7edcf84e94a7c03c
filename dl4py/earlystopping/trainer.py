"""``EarlyStoppingTrainer`` (DL4J: ``org.deeplearning4j.earlystopping.trainer.EarlyStoppingTrainer``)."""
from __future__ import annotations

import logging
import math
from typing import Any, Iterable

from .._naming import snake_aliases
from ..exceptions import DL4JException, DL4JInvalidConfigException, DL4JInvalidInputException, NonFiniteException
from .config import EarlyStoppingConfiguration
from .result import EarlyStoppingListener, EarlyStoppingResult, TerminationReason
from .termination import InvalidScoreIterationTerminationCondition

log = logging.getLogger("dl4py.earlystopping")


@snake_aliases
class EarlyStoppingTrainer:
    """Train ``net`` epoch by epoch on ``train`` until a termination condition of ``esConfig`` fires, scoring the
    network on held-out data after every ``evaluateEveryNEpochs`` epochs and keeping the best model.

    ``fit()`` trains supervised (one ``net.fit`` step per minibatch; the last layer must be an output layer).
    ``pretrain()`` — or ``fit()`` of a trainer built with ``pretrain=True`` — trains unsupervised: one
    ``pretrainLayer`` step per minibatch on layer ``layerIndex``, or, without a layer index, on every pretrainable
    layer in order (as DL4J's ``net.pretrain(DataSet)``). Both return an :class:`EarlyStoppingResult`;
    ``result.getBestModel()`` is the best network (``net`` itself keeps the last state).

    ``train``: a DataSetIterator (reset at each epoch) or a list of DataSets. The network's own listeners get
    ``iterationDone`` from every step and ``onEpochStart``/``onEpochEnd`` from the trainer, and the network's
    (or the pretrained layers') epoch counters advance once per epoch.

    Differences from DL4J, on purpose: epoch conditions that do not look at the score (``MaxEpochs``) are checked
    after every epoch, not only evaluated ones, and the model is scored before such a stop so the last epochs
    count; a score calculator's first evaluation is after epoch ``evaluateEveryNEpochs - 1`` (DL4J also scores
    epoch 0); only dl4py's own errors (``DL4JException``) end a run with ``TerminationReason.Error`` (others
    propagate); a non-finite score (``NonFiniteException`` from the engine, parameters restored to their last
    finite values) ends the run through ``InvalidScoreIterationTerminationCondition`` when that is configured.
    """

    def __init__(self, esConfig: EarlyStoppingConfiguration, net: Any, train: Any,
                 listener: EarlyStoppingListener | None = None, pretrain: bool = False,
                 layerIndex: int | None = None) -> None:
        if not isinstance(esConfig, EarlyStoppingConfiguration):
            raise DL4JInvalidConfigException(
                f"EarlyStoppingTrainer: expected an EarlyStoppingConfiguration, got {type(esConfig).__name__}"
            )
        if not (hasattr(train, "hasNext") or isinstance(train, (list, tuple))):
            raise DL4JInvalidInputException(
                "EarlyStoppingTrainer: train must be a DataSetIterator (e.g. NumpyDataSetIterator(x, y, batchSize=32)) "
                f"or a list of DataSets; got {type(train).__name__}"
            )
        self.config = esConfig
        self.net = net
        self.train = train
        self.listener = listener
        self.pretrain_mode = bool(pretrain)
        self.layer_index = layerIndex

    def setListener(self, listener: EarlyStoppingListener | None) -> None:
        self.listener = listener

    def fit(self) -> EarlyStoppingResult:
        """Run early-stopping training (pretraining if the trainer was built with ``pretrain=True``)."""
        return self._run(self.pretrain_mode)

    def pretrain(self) -> EarlyStoppingResult:
        """Run early-stopping layer-wise pretraining (see the class docstring)."""
        return self._run(True)

    # ------------------------------------------------------------------------------------------------------------
    def _pretrain_layers(self) -> list[int]:
        layers = self.net.getLayers()
        if self.layer_index is not None:
            i = self.layer_index
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(layers):
                raise DL4JInvalidConfigException(f"EarlyStoppingTrainer: layer index {i!r} out of range [0, {len(layers)})")
            if not layers[i].isPretrainLayer():
                raise DL4JInvalidConfigException(
                    f"EarlyStoppingTrainer: layer {i} ({layers[i].describe()}) cannot be pretrained"
                )
            return [i]
        found = [i for i, layer in enumerate(layers) if layer.isPretrainLayer()]
        if not found:
            raise DL4JInvalidConfigException("EarlyStoppingTrainer: the network has no layer that can be pretrained")
        return found

    def _minibatches(self) -> Iterable[Any]:
        data = self.train
        if hasattr(data, "hasNext"):
            if hasattr(data, "reset") and (not hasattr(data, "resetSupported") or data.resetSupported()):
                data.reset()
            while data.hasNext():
                yield data.next()
            return
        yield from data

    def _step(self, ds: Any, pretrain_layers: list[int] | None) -> None:
        if hasattr(ds, "getFeatures"):
            features, labels = ds.getFeatures(), ds.getLabels()
        elif isinstance(ds, tuple) and len(ds) == 2:
            features, labels = ds
        else:
            features, labels = ds, None
        if pretrain_layers is not None:
            for i in pretrain_layers:
                self.net.pretrainLayer(i, features)
            return
        if labels is None:
            raise DL4JInvalidInputException(
                "EarlyStoppingTrainer.fit: a minibatch has no labels (for unsupervised training use pretrain())"
            )
        self.net.fit(features, labels)

    def _end_epoch_counters(self, pretrain_layers: list[int] | None) -> None:
        conf = self.net.getLayerWiseConfigurations()
        if pretrain_layers is None:
            conf.epoch_count += 1
        else:
            for i in pretrain_layers:
                conf.confs[i].epoch_count += 1

    def _run(self, pretrain: bool) -> EarlyStoppingResult:
        cfg, net = self.config, self.net
        pretrain_layers = self._pretrain_layers() if pretrain else None
        for c in [*cfg.iteration_termination_conditions, *cfg.epoch_termination_conditions]:
            c.initialize()
        if self.listener is not None:
            self.listener.onStart(cfg, net)
        calc = cfg.score_calculator
        if calc is None:
            log.warning("No score calculator provided for early stopping: every epoch scores 0.0")
        minimize = calc.minimizeScore() if calc is not None else True
        saver = cfg.model_saver
        scores: dict[int, float] = {}
        best_epoch, best_score = -1, (math.inf if minimize else -math.inf)
        what = "pretraining" if pretrain else "training"
        log.info("Starting early stopping %s", what)

        def finish(reason: TerminationReason, details: str, total: int, exc: BaseException | None = None):
            best = saver.getBestModel()
            if best is None:
                best = net
            reported = best_score if best_epoch >= 0 else math.nan
            result = EarlyStoppingResult(reason, details, scores, best_epoch, reported, total, best, exc)
            log.info("Early stopping %s finished: %s", what, result)
            if self.listener is not None:
                self.listener.onCompletion(result)
            return result

        epoch = 0
        while True:
            for listener in net.getListeners():
                _call(listener, "onEpochStart", net)
            stop_condition, details, error = None, "", None
            iteration = 0
            for ds in self._minibatches():
                try:
                    self._step(ds, pretrain_layers)
                except NonFiniteException as exc:
                    invalid = next((c for c in cfg.iteration_termination_conditions
                                    if isinstance(c, InvalidScoreIterationTerminationCondition)), None)
                    if invalid is None:
                        error = exc
                    else:
                        stop_condition, details = invalid, f"{invalid}: {type(exc).__name__}: {exc}"
                    break
                except DL4JException as exc:
                    error = exc
                    break
                last = float(net.score())
                for c in cfg.iteration_termination_conditions:
                    if c.terminate(last):
                        stop_condition, details = c, str(c)
                        break
                if stop_condition is not None:
                    break
                iteration += 1
            if error is not None:
                log.warning("Early stopping %s ended by an error at epoch %d, iteration %d: %s", what, epoch,
                            iteration, error)
                return finish(TerminationReason.Error, f"{type(error).__name__}: {error}", epoch + 1, error)
            if stop_condition is not None:
                log.info("Hit iteration termination condition at epoch %d, iteration %d: %s", epoch, iteration, details)
                if cfg.save_last_model:
                    saver.saveLatestModel(net, float(net.score()))
                return finish(TerminationReason.IterationTerminationCondition, details, epoch + 1)
            for listener in net.getListeners():
                _call(listener, "onEpochEnd", net)
            self._end_epoch_counters(pretrain_layers)

            fired = None
            evaluate = (epoch + 1) % cfg.evaluate_every_n_epochs == 0
            if not evaluate:
                fired = next((c for c in cfg.epoch_termination_conditions
                              if not getattr(c, "requiresScore", True) and c.terminate(epoch, math.nan, minimize)), None)
                evaluate = fired is not None  # score the final model before stopping
            if evaluate:
                score = float(calc.calculateScore(net)) if calc is not None else 0.0
                scores[epoch] = score
                invalid = not math.isfinite(score)
                if (score < best_score if minimize else score > best_score) or (best_epoch == -1 and invalid):
                    if best_epoch == -1:
                        log.info("Score at epoch %d: %s", epoch, score)
                    else:
                        log.info("New best model: score = %s, epoch = %d (previous: score = %s, epoch = %d)", score,
                                 epoch, best_score, best_epoch)
                    best_score, best_epoch = score, epoch
                    saver.saveBestModel(net, score)
                else:
                    log.info("Score at epoch %d: %s (best: %s at epoch %d)", epoch, score, best_score, best_epoch)
                if cfg.save_last_model:
                    saver.saveLatestModel(net, score)
                if self.listener is not None:
                    self.listener.onEpoch(epoch, score, cfg, net)
                if fired is None:
                    fired = next((c for c in cfg.epoch_termination_conditions if c.terminate(epoch, score, minimize)),
                                 None)
            if fired is not None:
                log.info("Hit epoch termination condition at epoch %d: %s", epoch, fired)
                return finish(TerminationReason.EpochTerminationCondition, str(fired), epoch + 1)
            epoch += 1


def _call(listener: Any, method: str, *args: Any) -> None:
    fn = getattr(listener, method, None)
    if fn is not None:
        fn(*args)


__all__ = ["EarlyStoppingTrainer"]
