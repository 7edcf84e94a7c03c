"""Applying parameter constraints after an update (DL4J: ``LayerConstraint.applyConstraint``)."""
from __future__ import annotations

import numpy as np

from ..conf.constraint import MaxNormConstraint, MinMaxNormConstraint, NonNegativeConstraint, UnitNormConstraint


def _norms(w: np.ndarray, dims: list[int], eps: float) -> tuple[np.ndarray, np.ndarray]:
    norm = np.sqrt(np.sum(np.square(w, dtype=np.float64), axis=tuple(dims), keepdims=True))
    return norm, norm + eps


def apply_constraint(constraint, w: np.ndarray) -> None:
    """Apply one constraint in place to the [rows, cols] parameter view ``w``."""
    if isinstance(constraint, NonNegativeConstraint):
        np.maximum(w, 0, out=w)
        return
    norm, safe = _norms(w, constraint.dimensions, constraint.epsilon)
    if isinstance(constraint, UnitNormConstraint):
        factor = 1.0 / safe
    elif isinstance(constraint, MaxNormConstraint):
        factor = np.clip(norm, 0.0, constraint.max_norm) / safe
    elif isinstance(constraint, MinMaxNormConstraint):
        target = np.clip(norm, constraint.min, constraint.max) / safe
        # rate < 1 moves only that fraction of the way (DL4J's code mixes in the norm itself, which its own
        # documentation contradicts: (1 − rate)·norm2 + rate·clippedNorm2 means a factor of (1 − rate) + rate·target)
        factor = constraint.rate * target + (1.0 - constraint.rate)
    else:
        raise NotImplementedError(f"no engine for constraint {type(constraint).__name__}")
    w *= factor.astype(w.dtype, copy=False)


def apply_layer_constraints(layer) -> None:
    """Apply every constraint of an engine layer to the parameters it names."""
    for constraint in layer.conf.constraints or ():
        for key in constraint.params:
            if key in layer.params:
                apply_constraint(constraint, layer.params[key])
