"""One configuration class per DL4J loss (DL4J: ``org.nd4j.linalg.lossfunctions.impl``).

Score and gradient maths lives in the engine (:mod:`dl4py.kernels.losses`). Per-output ``weights`` are written
as DL4J writes them: ``{"dataType": "FLOAT", "shape": [1, n], "data": [...]}``.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Optional

from pydantic import field_validator

from ..config.base import option
from ..serde.registry import dl4j_class
from .base import ILossFunction, LossFunctions

_PKG = "org.nd4j.linalg.lossfunctions.impl."
LF = LossFunctions.LossFunction


class _WeightedLoss(ILossFunction):
    """A loss with optional per-output weights (a row vector of length nOut)."""

    weights: Optional[list[float]] = option(None)

    #: the scalar hyper-parameter DL4J's constructors take before the weights (LossBinaryXENT(clipEps, weights))
    scalar_option: ClassVar[str | None] = None

    @classmethod
    def _positional_names(cls, args: tuple[Any, ...]) -> list[str]:
        # Java overloads: Loss(weights), Loss(scalar), Loss(scalar, weights) — told apart by the argument type.
        if args and (isinstance(args[0], (list, tuple)) or hasattr(args[0], "shape")):
            return ["weights"]
        return [cls.scalar_option, "weights"] if cls.scalar_option else ["weights"]

    @field_validator("weights", mode="before")
    @classmethod
    def _weights_in(cls, v: Any) -> Any:
        if isinstance(v, dict):  # DL4J's serialised INDArray form
            return v.get("data")
        if v is not None and hasattr(v, "tolist"):
            return [float(x) for x in v.ravel().tolist()]
        return v

    @field_validator("weights")
    @classmethod
    def _weights_ok(cls, v: Optional[list[float]]) -> Optional[list[float]]:
        if v is not None:
            if not v:
                raise ValueError("weights must not be empty")
            for x in v:
                if not math.isfinite(x) or x < 0:
                    raise ValueError(f"weights must be finite and >= 0, got {x!r}")
        return v

    @classmethod
    def _legacy_fixups(cls, body: dict[str, Any], path: str) -> dict[str, Any]:
        # DL4J writes the weights as a serialised INDArray object; the field holds its "data" list
        weights = body.get("weights")
        if isinstance(weights, dict):
            if not isinstance(weights.get("data"), list):
                from ..exceptions import InvalidJsonException

                raise InvalidJsonException(f"{path}.weights: expected an array object with a 'data' list")
            body = {**body, "weights": weights["data"]}
        return body

    def _to_dl4j_fixups(self, body: dict[str, Any]) -> None:
        if self.weights is not None:
            body["weights"] = {"dataType": "FLOAT", "shape": [1, len(self.weights)], "data": list(self.weights)}


def _clip_validator(name: str):
    def check(cls, v: float) -> float:
        if not (0.0 <= v < 0.5):
            raise ValueError(f"{name} must be in [0, 0.5), got {v!r}")
        return v

    return field_validator(name)(classmethod(check))


@dl4j_class(_PKG + "LossMSE", "MSE")
class LossMSE(_WeightedLoss):
    """Mean squared error: Σ w(y−a)² / nOut per example."""


@dl4j_class(_PKG + "LossL2", "L2")
class LossL2(_WeightedLoss):
    """Sum of squared errors."""


@dl4j_class(_PKG + "LossL1", "L1")
class LossL1(_WeightedLoss):
    """Sum of absolute errors."""


@dl4j_class(_PKG + "LossMAE", "MAE")
class LossMAE(_WeightedLoss):
    """Mean absolute error."""


@dl4j_class(_PKG + "LossBinaryXENT", "BinaryXENT")
class LossBinaryXENT(_WeightedLoss):
    """Binary cross-entropy, predictions clipped to [clipEps, 1 − clipEps]."""

    clip_eps: float = option(1e-5)
    scalar_option: ClassVar[str | None] = "clip_eps"
    _check_clip = _clip_validator("clip_eps")


@dl4j_class(_PKG + "LossMCXENT", "MCXENT")
class LossMCXENT(_WeightedLoss):
    """Multi-class cross-entropy; with softmax, predictions clipped to [softmaxClipEps, 1 − softmaxClipEps]."""

    softmax_clip_eps: float = option(1e-10)
    scalar_option: ClassVar[str | None] = "softmax_clip_eps"
    _check_clip = _clip_validator("softmax_clip_eps")


@dl4j_class(_PKG + "LossNegativeLogLikelihood", "NegativeLogLikelihood")
class LossNegativeLogLikelihood(LossMCXENT):
    """Negative log-likelihood: identical to MCXENT."""


@dl4j_class(_PKG + "LossSparseMCXENT", "SparseMCXENT")
class LossSparseMCXENT(LossMCXENT):
    """MCXENT with labels given as class indices ([N, 1])."""


@dl4j_class(_PKG + "LossKLD", "KLD")
class LossKLD(ILossFunction):
    """Kullback-Leibler divergence (also RECONSTRUCTION_CROSSENTROPY in DL4J's enum)."""


@dl4j_class(_PKG + "LossCosineProximity", "CosineProximity")
class LossCosineProximity(ILossFunction):
    """Negative cosine similarity per example."""


@dl4j_class(_PKG + "LossHinge", "Hinge")
class LossHinge(ILossFunction):
    """max(0, 1 − y·a), labels in {−1, 1}."""


@dl4j_class(_PKG + "LossSquaredHinge", "SquaredHinge")
class LossSquaredHinge(ILossFunction):
    """max(0, 1 − y·a)²."""


@dl4j_class(_PKG + "LossMAPE", "MAPE")
class LossMAPE(_WeightedLoss):
    """Mean absolute percentage error."""


@dl4j_class(_PKG + "LossMSLE", "MSLE")
class LossMSLE(_WeightedLoss):
    """Mean squared logarithmic error."""


@dl4j_class(_PKG + "LossPoisson", "Poisson")
class LossPoisson(ILossFunction):
    """a − y·log a."""


@dl4j_class(_PKG + "LossWasserstein", "Wasserstein")
class LossWasserstein(ILossFunction):
    """Wasserstein (earth mover's) loss as DL4J defines it."""


CLASS_BY_ENUM: dict[Any, type[ILossFunction]] = {
    LF.MSE: LossMSE,
    LF.SQUARED_LOSS: LossMSE,
    LF.L1: LossL1,
    LF.L2: LossL2,
    LF.XENT: LossBinaryXENT,
    LF.MCXENT: LossMCXENT,
    LF.SPARSE_MCXENT: LossSparseMCXENT,
    LF.NEGATIVELOGLIKELIHOOD: LossNegativeLogLikelihood,
    LF.RECONSTRUCTION_CROSSENTROPY: LossKLD,
    LF.KL_DIVERGENCE: LossKLD,
    LF.COSINE_PROXIMITY: LossCosineProximity,
    LF.HINGE: LossHinge,
    LF.SQUARED_HINGE: LossSquaredHinge,
    LF.MEAN_ABSOLUTE_ERROR: LossMAE,
    LF.MEAN_ABSOLUTE_PERCENTAGE_ERROR: LossMAPE,
    LF.MEAN_SQUARED_LOGARITHMIC_ERROR: LossMSLE,
    LF.POISSON: LossPoisson,
    LF.WASSERSTEIN: LossWasserstein,
}

__all__ = sorted({c.__name__ for c in CLASS_BY_ENUM.values()}) + ["CLASS_BY_ENUM"]
