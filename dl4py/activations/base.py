"""``Activation`` enum, ``IActivation`` base, and the one coercion every activation-typed option uses."""
from __future__ import annotations

import enum
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator

from ..config.base import Dl4jConfig
from ..exceptions import DL4JInvalidConfigException


class IActivation(Dl4jConfig):
    """Base of activation configurations (DL4J: ``org.nd4j.linalg.activations.IActivation``).

    Subclass it (and register the subclass with ``dl4py.serde.registry.register_class``) for a custom activation.
    ``output_range`` is the closed interval the activation's values lie in (used by checks such as Bernoulli's).
    """

    output_range: ClassVar[tuple[float, float]] = (float("-inf"), float("inf"))
    enum_name: ClassVar[str | None] = None

    @classmethod
    def _from_non_object(cls, data: Any, path: str) -> "IActivation | None":
        # 0.5.0-0.7.1 wrote activations as strings ("relu", "leakyrelu").
        if isinstance(data, str):
            return to_activation(data)
        return None

    def getActivationFunction(self) -> "IActivation":
        return self

    def __str__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.__dict__.items() if v is not None)
        base = self.enum_name.lower() if self.enum_name else type(self).__name__
        return f"{base}({params})" if params else base


class Activation(str, enum.Enum):
    """DL4J's ``Activation`` enum; ``Activation.RELU.getActivationFunction()`` gives the configuration object."""

    CUBE = "CUBE"
    ELU = "ELU"
    HARDSIGMOID = "HARDSIGMOID"
    HARDTANH = "HARDTANH"
    IDENTITY = "IDENTITY"
    LEAKYRELU = "LEAKYRELU"
    RATIONALTANH = "RATIONALTANH"
    RELU = "RELU"
    RELU6 = "RELU6"
    RRELU = "RRELU"
    SIGMOID = "SIGMOID"
    SOFTMAX = "SOFTMAX"
    SOFTPLUS = "SOFTPLUS"
    SOFTSIGN = "SOFTSIGN"
    TANH = "TANH"
    RECTIFIEDTANH = "RECTIFIEDTANH"
    SELU = "SELU"
    SWISH = "SWISH"
    THRESHOLDEDRELU = "THRESHOLDEDRELU"
    GELU = "GELU"
    MISH = "MISH"

    def getActivationFunction(self) -> IActivation:
        from .impl import CLASS_BY_ENUM

        return CLASS_BY_ENUM[self]()

    get_activation_function = getActivationFunction

    @classmethod
    def fromString(cls, name: str) -> "Activation":
        """``Activation.fromString("relu")`` (case-insensitive, as DL4J's ``valueOf(s.toUpperCase())``)."""
        try:
            return cls[name.upper()]
        except KeyError:
            raise DL4JInvalidConfigException(
                f"unknown activation {name!r}; allowed: {', '.join(m.name for m in cls)}"
            ) from None

    from_string = fromString

    def __str__(self) -> str:
        return self.name


def to_activation(value: Any) -> Any:
    """Coerce ``Activation.RELU``, ``"relu"`` or an ``IActivation`` into an ``IActivation`` object."""
    if isinstance(value, Activation):
        return value.getActivationFunction()
    if isinstance(value, str):
        return Activation.fromString(value).getActivationFunction()
    return value


ActivationLike = Annotated[IActivation, BeforeValidator(to_activation)]
