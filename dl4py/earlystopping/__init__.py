"""Early stopping (DL4J: ``org.deeplearning4j.earlystopping``): train epoch by epoch, score on held-out data, keep
the best model, stop on epoch/iteration/score conditions — for supervised ``fit`` and for layer-wise ``pretrain``.

    esConf = (EarlyStoppingConfiguration.Builder()
              .epochTerminationConditions(MaxEpochsTerminationCondition(50),
                                          ScoreImprovementEpochTerminationCondition(5))
              .scoreCalculator(VAEReconProbScoreCalculator(testIter, 16, True))
              .modelSaver(InMemoryModelSaver())
              .build())
    result = EarlyStoppingTrainer(esConf, net, trainIter, pretrain=True).fit()
    best = result.getBestModel()
"""
from __future__ import annotations

from .config import EarlyStoppingConfiguration
from .result import EarlyStoppingListener, EarlyStoppingResult, TerminationReason
from .saver import EarlyStoppingModelSaver, InMemoryModelSaver, LocalFileModelSaver
from .scorecalc import (
    AutoencoderScoreCalculator,
    BaseScoreCalculator,
    DataSetLossCalculator,
    Metric,
    ScoreCalculator,
    VAEReconErrorScoreCalculator,
    VAEReconProbScoreCalculator,
)
from .termination import (
    BestScoreEpochTerminationCondition,
    EpochTerminationCondition,
    InvalidScoreIterationTerminationCondition,
    IterationTerminationCondition,
    MaxEpochsTerminationCondition,
    MaxScoreIterationTerminationCondition,
    MaxTimeIterationTerminationCondition,
    ScoreImprovementEpochTerminationCondition,
    TimeUnit,
)
from .trainer import EarlyStoppingTrainer

__all__ = [
    "EarlyStoppingConfiguration",
    "EarlyStoppingTrainer",
    "EarlyStoppingResult",
    "EarlyStoppingListener",
    "TerminationReason",
    "EarlyStoppingModelSaver",
    "InMemoryModelSaver",
    "LocalFileModelSaver",
    "ScoreCalculator",
    "BaseScoreCalculator",
    "DataSetLossCalculator",
    "VAEReconProbScoreCalculator",
    "VAEReconErrorScoreCalculator",
    "AutoencoderScoreCalculator",
    "Metric",
    "EpochTerminationCondition",
    "IterationTerminationCondition",
    "MaxEpochsTerminationCondition",
    "ScoreImprovementEpochTerminationCondition",
    "BestScoreEpochTerminationCondition",
    "MaxTimeIterationTerminationCondition",
    "MaxScoreIterationTerminationCondition",
    "InvalidScoreIterationTerminationCondition",
    "TimeUnit",
]
