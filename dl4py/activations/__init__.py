"""Activation functions: the ``Activation`` enum and the ``IActivation`` configuration base
(DL4J: ``org.nd4j.linalg.activations``). One class per activation lives in :mod:`dl4py.activations.impl`."""
from __future__ import annotations

from .base import Activation, ActivationLike, IActivation, to_activation
from . import impl  # noqa: F401  (registers every activation class)

__all__ = ["Activation", "IActivation", "ActivationLike", "to_activation", "impl"]
