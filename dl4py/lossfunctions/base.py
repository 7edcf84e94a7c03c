"""``ILossFunction`` base, DL4J's ``LossFunctions.LossFunction`` enum and the coercion loss options use."""
from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import BeforeValidator

from ..config.base import Dl4jConfig
from ..exceptions import DL4JInvalidConfigException


class ILossFunction(Dl4jConfig):
    """Base of loss-function configurations (DL4J: ``org.nd4j.linalg.lossfunctions.ILossFunction``)."""

    write_nulls = False

    def name(self) -> str:
        return type(self).__name__.removeprefix("Loss")

    def __str__(self) -> str:
        return type(self).__name__ + "()"


class _LossFunctionEnum(str, enum.Enum):
    MSE = "MSE"
    L1 = "L1"
    XENT = "XENT"
    MCXENT = "MCXENT"
    SPARSE_MCXENT = "SPARSE_MCXENT"
    SQUARED_LOSS = "SQUARED_LOSS"
    RECONSTRUCTION_CROSSENTROPY = "RECONSTRUCTION_CROSSENTROPY"
    NEGATIVELOGLIKELIHOOD = "NEGATIVELOGLIKELIHOOD"
    COSINE_PROXIMITY = "COSINE_PROXIMITY"
    HINGE = "HINGE"
    SQUARED_HINGE = "SQUARED_HINGE"
    KL_DIVERGENCE = "KL_DIVERGENCE"
    MEAN_ABSOLUTE_ERROR = "MEAN_ABSOLUTE_ERROR"
    L2 = "L2"
    MEAN_ABSOLUTE_PERCENTAGE_ERROR = "MEAN_ABSOLUTE_PERCENTAGE_ERROR"
    MEAN_SQUARED_LOGARITHMIC_ERROR = "MEAN_SQUARED_LOGARITHMIC_ERROR"
    POISSON = "POISSON"
    WASSERSTEIN = "WASSERSTEIN"

    def getILossFunction(self) -> ILossFunction:
        """The loss object this enum value stands for (``SQUARED_LOSS`` -> ``LossMSE``, as DL4J's enum)."""
        from .impl import CLASS_BY_ENUM

        return CLASS_BY_ENUM[self]()

    get_i_loss_function = getILossFunction

    def __str__(self) -> str:
        return self.name


class LossFunctions:
    """Holder of the ``LossFunction`` enum, as in DL4J (``LossFunctions.LossFunction.MSE``)."""

    LossFunction = _LossFunctionEnum


def to_loss_function(value: Any) -> Any:
    """Coerce a ``LossFunction`` enum value (or its name) into an ``ILossFunction`` object."""
    if isinstance(value, _LossFunctionEnum):
        return value.getILossFunction()
    if isinstance(value, str):
        try:
            return _LossFunctionEnum[value.upper()].getILossFunction()
        except KeyError:
            raise DL4JInvalidConfigException(
                f"unknown loss function {value!r}; allowed: {', '.join(m.name for m in _LossFunctionEnum)}"
            ) from None
    return value


LossFunctionLike = Annotated[ILossFunction, BeforeValidator(to_loss_function)]
