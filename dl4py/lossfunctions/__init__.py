"""Loss functions: ``LossFunctions.LossFunction`` enum and the ``ILossFunction`` configuration base
(DL4J: ``org.nd4j.linalg.lossfunctions``). One class per loss lives in :mod:`dl4py.lossfunctions.impl`."""
from __future__ import annotations

from .base import ILossFunction, LossFunctions, LossFunctionLike, to_loss_function
from . import impl  # noqa: F401  (registers the loss classes)

LossFunction = LossFunctions.LossFunction

__all__ = ["ILossFunction", "LossFunctions", "LossFunction", "LossFunctionLike", "to_loss_function", "impl"]
