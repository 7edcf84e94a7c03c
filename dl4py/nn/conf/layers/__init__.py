"""Layer configurations (DL4J: ``org.deeplearning4j.nn.conf.layers``).

Class and builder hierarchy as in DL4J: ``Layer`` → ``BaseLayer`` → ``FeedForwardLayer`` → ``DenseLayer``,
``BaseOutputLayer`` (``OutputLayer``), ``LossLayer``, ``BasePretrainNetwork`` (``AutoEncoder``,
``VariationalAutoencoder`` in :mod:`.variational`). Options a layer leaves unset (None, or NaN for numbers, as in
DL4J) are filled from the global ``NeuralNetConfiguration.Builder`` options when the network is built.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Optional

from pydantic import field_validator, model_validator

from ....activations import ActivationLike, IActivation
from ....activations.impl import ActivationIdentity, ActivationSoftmax
from ....config.base import Dl4jConfig, option
from ....config.regularization_setters import RegularizationSetters
from ....exceptions import DL4JInvalidConfigException
from ....learning.config import IUpdater, to_updater
from ....learning.regularization import Regularization
from ....lossfunctions import ILossFunction, LossFunctionLike, LossFunctions
from ....lossfunctions.impl import LossMCXENT
from ....serde.registry import dl4j_class
from ...weights import IWeightInit, WeightInit, WeightInitLike
from ..distribution import Distribution
from ..dropout import DropoutLike
from ..enums import GradientNormalization
from ..weightnoise import IWeightNoise
from ..constraint import LayerConstraint
from pydantic import BeforeValidator
from typing import Annotated

UpdaterLike = Annotated[IUpdater, BeforeValidator(to_updater)]
_PKG = "org.deeplearning4j.nn.conf.layers."


class Layer(Dl4jConfig):
    """Base of all layer configurations (DL4J: ``org.deeplearning4j.nn.conf.layers.Layer``)."""

    layer_name: Optional[str] = option(None, builder=("name",))
    drop_out: DropoutLike = option(None, json="idropout", builder=("dropOut",))
    constraints: Optional[list[LayerConstraint]] = option(None)

    class Builder:
        def _constrain(self, scope: str, constraints: tuple) -> Any:
            self.__dict__.setdefault("_pending_constraints", []).extend((scope, c) for c in constraints)
            return self

        def constrainAllParameters(self, *constraints: LayerConstraint):
            """Constraints on every parameter of the layer, applied after each update."""
            return self._constrain("all", constraints)

        def constrainWeights(self, *constraints: LayerConstraint):
            """Constraints on the weight parameters, applied after each update."""
            return self._constrain("weights", constraints)

        def constrainBias(self, *constraints: LayerConstraint):
            """Constraints on the bias parameters, applied after each update."""
            return self._constrain("bias", constraints)

        def build(self):
            layer = super().build()
            pending = self.__dict__.get("_pending_constraints")
            if pending:
                layer.constraints = attach_constraints(layer, pending)
            return layer

    #: parameter keys in DL4J order, for layers with parameters (engine layout, ``variables`` in JSON)
    def paramKeys(self) -> list[str]:
        return []

    def numParams(self) -> int:
        return sum(self.paramShapes()[k][0] * self.paramShapes()[k][1] for k in self.paramKeys())

    def paramShapes(self) -> dict[str, tuple[int, int]]:
        return {}

    def isPretrainParam(self, key: str) -> bool:
        return False

    def isPretrainLayer(self) -> bool:
        return False

    def outputSize(self, input_size: int) -> int:
        """Number of output columns for ``input_size`` input columns (feed-forward)."""
        return input_size

    param_keys = paramKeys
    num_params = numParams
    param_shapes = paramShapes
    is_pretrain_param = isPretrainParam
    is_pretrain_layer = isPretrainLayer

    def describe(self, index: int | None = None) -> str:
        name = self.layer_name or "(name not set)"
        where = f"index={index}, " if index is not None else ""
        return f"{type(self).__name__} ({where}name={name})"


class BaseLayer(Layer):
    """Options shared by layers with parameters (DL4J: ``BaseLayer``)."""

    activation: Optional[ActivationLike] = option(None, json="activationFn")
    weight_init: Optional[WeightInitLike] = option(None, json="weightInitFn", builder=("dist",))
    bias_init: float = option(math.nan)
    gain_init: float = option(math.nan)
    updater: Optional[UpdaterLike] = option(None, json="iupdater")
    bias_updater: Optional[UpdaterLike] = option(None)
    regularization: list[Regularization] = option(default_factory=list)
    regularization_bias: list[Regularization] = option(default_factory=list)
    gradient_normalization: Optional[GradientNormalization] = option(None)
    gradient_normalization_threshold: float = option(math.nan)
    weight_noise: Optional[IWeightNoise] = option(None)

    @field_validator("bias_init", "gain_init")
    @classmethod
    def _finite_or_unset(cls, v: float) -> float:
        if math.isinf(v):
            raise ValueError(f"must be finite, got {v!r}")
        return v

    @field_validator("gradient_normalization_threshold")
    @classmethod
    def _threshold(cls, v: float) -> float:
        if not math.isnan(v) and (math.isinf(v) or v <= 0):
            raise ValueError(f"gradientNormalizationThreshold must be a finite number > 0, got {v!r}")
        return v

    class Builder(RegularizationSetters):
        def weightInit(self, weight_init: Any):
            """``WeightInit`` enum, ``IWeightInit`` object or a ``Distribution``."""
            if weight_init is WeightInit.DISTRIBUTION or weight_init == "DISTRIBUTION":
                raise DL4JInvalidConfigException(
                    f"{self._target.__name__}: weightInit(WeightInit.DISTRIBUTION) is not supported; "
                    "use weightInit(Distribution), e.g. weightInit(NormalDistribution(0, 1))"
                )
            self._values["weight_init"] = weight_init
            return self

        def dist(self, distribution: Distribution):
            """Deprecated DL4J spelling of ``weightInit(Distribution)``."""
            self._values["weight_init"] = distribution
            return self

        def regularization(self, regularization: list):
            self._values["regularization"] = list(regularization)
            return self

        def regularizationBias(self, regularization: list):
            self._values["regularization_bias"] = list(regularization)
            return self

    def weightKeys(self) -> list[str]:
        """Parameter keys that take the weight regularisation list."""
        return [k for k in self.paramKeys() if k.endswith("W")]

    def biasKeys(self) -> list[str]:
        """Parameter keys that take the bias regularisation list (and the bias updater)."""
        return [k for k in self.paramKeys() if k.endswith("b")]

    weight_keys = weightKeys
    bias_keys = biasKeys


class FeedForwardLayer(BaseLayer):
    """A layer with ``nIn`` inputs and ``nOut`` outputs (0 = not set yet)."""

    n_in: int = option(0, json="nin")
    n_out: int = option(0, json="nout", builder=("units",))

    @field_validator("n_in", "n_out")
    @classmethod
    def _size(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"must be > 0 (or 0 while not set), got {v}")
        return v

    def outputSize(self, input_size: int) -> int:
        return self.n_out


def _dense_shapes(n_in: int, n_out: int, has_bias: bool) -> dict[str, tuple[int, int]]:
    shapes = {"W": (n_in, n_out)}
    if has_bias:
        shapes["b"] = (1, n_out)
    return shapes


@dl4j_class(_PKG + "DenseLayer", "dense")
class DenseLayer(FeedForwardLayer):
    """Fully connected layer: act(x·W + b)."""

    has_bias: bool = option(True)
    has_layer_norm: bool = option(False)

    def paramShapes(self) -> dict[str, tuple[int, int]]:
        shapes = _dense_shapes(self.n_in, self.n_out, self.has_bias)
        if self.has_layer_norm:
            shapes["g"] = (1, self.n_out)
        return shapes

    def paramKeys(self) -> list[str]:
        return list(self.paramShapes())

    def weightKeys(self) -> list[str]:
        return [k for k in self.paramKeys() if k in ("W", "g")]


class BaseOutputLayer(FeedForwardLayer):
    """An output layer: a dense layer plus a loss (DL4J: ``BaseOutputLayer``). Activation defaults to softmax."""

    loss_function: LossFunctionLike = option(default_factory=LossMCXENT, json="lossFn")
    has_bias: bool = option(True)
    activation: Optional[ActivationLike] = option(default_factory=ActivationSoftmax, json="activationFn")

    class Builder:
        def _init_args(self, loss: Any) -> None:
            self._values["loss_function"] = loss

    def paramShapes(self) -> dict[str, tuple[int, int]]:
        return _dense_shapes(self.n_in, self.n_out, self.has_bias)

    def paramKeys(self) -> list[str]:
        return list(self.paramShapes())


@dl4j_class(_PKG + "OutputLayer", "output")
class OutputLayer(BaseOutputLayer):
    """Dense output layer with a loss: ``OutputLayer.Builder(LossFunction.MCXENT).nIn(64).nOut(10).build()``."""


@dl4j_class(_PKG + "LossLayer", "loss")
class LossLayer(FeedForwardLayer):
    """A loss applied to its input directly (no parameters); activation defaults to identity."""

    loss_function: LossFunctionLike = option(default_factory=LossMCXENT, json="lossFn")
    activation: Optional[ActivationLike] = option(default_factory=ActivationIdentity, json="activationFn")

    class Builder:
        def _init_args(self, loss: Any) -> None:
            self._values["loss_function"] = loss

        def nIn(self, n_in: int):
            raise DL4JInvalidConfigException("LossLayer: this layer has no parameters, thus nIn will always equal nOut")

        def nOut(self, n_out: int):
            raise DL4JInvalidConfigException("LossLayer: this layer has no parameters, thus nIn will always equal nOut")

        n_in = nIn
        n_out = nOut

    def outputSize(self, input_size: int) -> int:
        return input_size


class BasePretrainNetwork(FeedForwardLayer):
    """Layers that can be pretrained layer-wise (DL4J: ``BasePretrainNetwork``)."""

    loss_function: LossFunctions.LossFunction = option(
        LossFunctions.LossFunction.RECONSTRUCTION_CROSSENTROPY, json="lossFunction"
    )
    visible_bias_init: float = option(0.0)

    @field_validator("visible_bias_init")
    @classmethod
    def _vb(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"visibleBiasInit must be finite, got {v!r}")
        return v

    def isPretrainLayer(self) -> bool:
        return True


#: DL4J's default corruption level: the float 0.3 widened to double, exactly as DL4J writes it in JSON.
DEFAULT_CORRUPTION_LEVEL = 0.30000001192092896


@dl4j_class(_PKG + "AutoEncoder", "autoEncoder")
class AutoEncoder(BasePretrainNetwork):
    """Tied-weight denoising autoencoder: encode act(x̃·W + b), decode act(h·Wᵀ + vb).

    ``corruptionLevel``: probability that an input element is zeroed during pretraining (masking noise),
    in [0, 1). ``sparsity``: target mean hidden activation ρ of dl4py's KL sparsity penalty, in [0, 1)
    (0 = off). See the engine layer for how dl4py's pretraining differs from DL4J's.
    """

    corruption_level: float = option(DEFAULT_CORRUPTION_LEVEL)
    sparsity: float = option(0.0)

    @field_validator("corruption_level")
    @classmethod
    def _corruption(cls, v: float) -> float:
        if not (0.0 <= v < 1.0):
            raise ValueError(f"corruptionLevel must be in [0, 1), got {v!r}")
        return v

    @field_validator("sparsity")
    @classmethod
    def _sparsity(cls, v: float) -> float:
        if not (0.0 <= v < 1.0):
            raise ValueError(f"sparsity must be in [0, 1) (0 = no sparsity penalty), got {v!r}")
        return v

    class Builder:
        def _init_args(self, corruption_level: float, sparsity: float | None = None) -> None:
            self._values["corruption_level"] = corruption_level
            if sparsity is not None:
                self._values["sparsity"] = sparsity

    def paramShapes(self) -> dict[str, tuple[int, int]]:
        return {"W": (self.n_in, self.n_out), "b": (1, self.n_out), "vb": (1, self.n_in)}

    def paramKeys(self) -> list[str]:
        return ["W", "b", "vb"]

    def biasKeys(self) -> list[str]:
        return ["b"]  # vb is neither a weight nor a bias for DL4J's regularisation

    def isPretrainParam(self, key: str) -> bool:
        return key == "vb"


def attach_constraints(layer: "Layer", pending: list[tuple[str, Any]]) -> list[LayerConstraint]:
    """The layer's constraint list plus ``pending`` (scope, constraint) pairs, each bound to the keys of its
    scope ("all", "weights" or "bias") — what DL4J's layer constructor does with builder constraints."""
    scopes = {
        "all": layer.paramKeys(),
        "weights": layer.weightKeys() if hasattr(layer, "weightKeys") else [],
        "bias": layer.biasKeys() if hasattr(layer, "biasKeys") else [],
    }
    out = list(layer.constraints or [])
    for scope, c in pending:
        if not isinstance(c, LayerConstraint):
            raise DL4JInvalidConfigException(f"{type(layer).__name__}: constraint must be a LayerConstraint, got {c!r}")
        out.append(c.withParams(scopes[scope]))
    return out


__all__ = [
    "Layer", "BaseLayer", "FeedForwardLayer", "DenseLayer", "BaseOutputLayer", "OutputLayer", "LossLayer",
    "BasePretrainNetwork", "AutoEncoder", "LayerConstraint", "DEFAULT_CORRUPTION_LEVEL",
]

from . import variational  # noqa: E402,F401  (registers VariationalAutoencoder and the distributions)
