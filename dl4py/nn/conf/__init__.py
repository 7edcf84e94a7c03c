"""Network configuration (DL4J: ``org.deeplearning4j.nn.conf``): ``NeuralNetConfiguration`` (one layer's
configuration, and its ``Builder`` of global options), ``MultiLayerConfiguration`` and the list builder.

    conf = (NeuralNetConfiguration.Builder().seed(12345).updater(Adam(1e-3)).l2(1e-4)
            .list()
            .layer(VariationalAutoencoder.Builder()...build())
            .build())
"""
from __future__ import annotations

import math
import time
from typing import Any, Optional

from pydantic import field_validator, model_validator

from ..._naming import snake_aliases
from ...activations import ActivationLike
from ...activations.impl import ActivationSigmoid
from ...config.base import Dl4jConfig, JavaLong, option
from ...config.builder import ConfigBuilder
from ...config.regularization_setters import RegularizationSetters
from ...exceptions import DL4JInvalidConfigException, InvalidJsonException
from ...learning.config import Sgd
from ...learning.regularization import Regularization
from ..weights import WeightInit, WeightInitDistribution, WeightInitLike
from ..weights import WeightInitXavier
from .distribution import Distribution
from .dropout import DropoutLike
from .enums import (
    BackpropType,
    CacheMode,
    ConvolutionMode,
    CudnnAlgoMode,
    DataType,
    GradientNormalization,
    OptimizationAlgorithm,
    WorkspaceMode,
)
from .inputs import InputType
from .constraint import LayerConstraint
from .layers import BaseLayer, FeedForwardLayer, Layer, LossLayer, UpdaterLike, attach_constraints
from .preprocessor import CnnToFeedForwardPreProcessor, InputPreProcessor
from .weightnoise import IWeightNoise


class NeuralNetConfiguration(Dl4jConfig):
    """One layer's configuration inside a network (a ``confs[i]`` entry of the JSON).

    ``NeuralNetConfiguration.Builder()`` is DL4J's builder of *global* options (see :class:`GlobalConfiguration`);
    ``.list()`` on it starts a :class:`ListBuilder`.
    """

    polymorphic = False

    cache_mode: CacheMode = option(CacheMode.NONE)
    data_type: DataType = option(DataType.FLOAT)
    epoch_count: int = option(0)
    iteration_count: int = option(0)
    layer: Layer = option(...)
    max_num_line_search_iterations: int = option(5)
    mini_batch: bool = option(True)
    minimize: bool = option(True)
    optimization_algo: OptimizationAlgorithm = option(OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT)
    seed: JavaLong = option(...)
    step_function: Optional[dict[str, Any]] = option(None)
    variables: list[str] = option(default_factory=list)

    @field_validator("epoch_count", "iteration_count")
    @classmethod
    def _counts(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v

    @classmethod
    def _legacy_fixups(cls, body: dict[str, Any], path: str) -> dict[str, Any]:
        from ...serde.legacy import map_layer_fields
        from ...serde.json_codec import _resolve_type

        layer = body.get("layer")
        if isinstance(layer, dict):
            layer_cls, layer_body = _resolve_type(layer, Layer, f"{path}.layer")
            mapped = map_layer_fields(layer_cls, layer_body, body, f"{path}.layer")
            body = dict(body)
            body["layer"] = {"@class": layer_cls.java_class, **mapped}
        return body

    @classmethod
    def fromJson(cls, text: str) -> "NeuralNetConfiguration":
        from ...serde.json_codec import from_dl4j_data, parse_json_text, build_from_body

        data = parse_json_text(text, "NeuralNetConfiguration")
        if not isinstance(data, dict):
            raise InvalidJsonException("NeuralNetConfiguration: expected a JSON object")
        return build_from_body(cls, data, "")

    from_json = fromJson


class GlobalConfiguration(Dl4jConfig):
    """The global options of ``NeuralNetConfiguration.Builder()`` with DL4J's defaults. Layers that leave an
    option unset take it from here when the network is built."""

    polymorphic = False

    seed: JavaLong = option(default_factory=lambda: int(time.time() * 1000))
    activation: ActivationLike = option(default_factory=ActivationSigmoid)
    weight_init: WeightInitLike = option(default_factory=WeightInitXavier, builder=("dist",))
    bias_init: float = option(0.0)
    gain_init: float = option(1.0)
    updater: UpdaterLike = option(default_factory=Sgd)
    bias_updater: Optional[UpdaterLike] = option(None)
    regularization: list[Regularization] = option(default_factory=list)
    regularization_bias: list[Regularization] = option(default_factory=list)
    drop_out: DropoutLike = option(None, builder=("dropOut",))
    weight_noise: Optional[IWeightNoise] = option(None)
    gradient_normalization: GradientNormalization = option(GradientNormalization.None_)
    gradient_normalization_threshold: float = option(1.0)
    mini_batch: bool = option(True)
    optimization_algo: OptimizationAlgorithm = option(OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT)
    max_num_line_search_iterations: int = option(5)
    minimize: bool = option(True)
    step_function: Optional[dict[str, Any]] = option(None)
    data_type: DataType = option(DataType.FLOAT)
    training_workspace_mode: WorkspaceMode = option(WorkspaceMode.ENABLED)
    inference_workspace_mode: WorkspaceMode = option(WorkspaceMode.ENABLED)
    cache_mode: CacheMode = option(CacheMode.NONE)
    all_param_constraints: list[LayerConstraint] = option(default_factory=list, builder=("constrainAllParameters",))
    weight_constraints: list[LayerConstraint] = option(default_factory=list, builder=("constrainWeights",))
    bias_constraints: list[LayerConstraint] = option(default_factory=list, builder=("constrainBias",))
    convolution_mode: ConvolutionMode = option(ConvolutionMode.Truncate)
    cudnn_algo_mode: CudnnAlgoMode = option(CudnnAlgoMode.PREFER_FASTEST)

    @field_validator("data_type", mode="before")
    @classmethod
    def _float_types(cls, v: Any) -> Any:
        name = getattr(v, "name", v)
        if isinstance(name, str) and name.upper() not in ("FLOAT", "DOUBLE", "HALF"):
            raise ValueError(f"Data type must be a floating point type: one of DOUBLE, FLOAT, or HALF; got {name}")
        return v.upper() if isinstance(v, str) else v

    @field_validator("bias_init", "gain_init", "gradient_normalization_threshold")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"must be finite, got {v!r}")
        return v

    class Builder(RegularizationSetters):
        def weightInit(self, weight_init: Any, distribution: Distribution | None = None):
            """``WeightInit`` enum (``DISTRIBUTION`` needs ``dist(...)`` too), ``IWeightInit`` or ``Distribution``."""
            if weight_init is WeightInit.DISTRIBUTION or weight_init == "DISTRIBUTION":
                if distribution is not None:
                    self._values["weight_init"] = distribution
                    self._pending_distribution = False
                elif not _is_distribution_init(self._values.get("weight_init")):
                    # pre-1.0 style ``.weightInit(DISTRIBUTION).dist(d)``: wait for dist(); a distribution set
                    # before (``.dist(d).weightInit(DISTRIBUTION)``) is kept.
                    self._pending_distribution = True
                return self
            self._pending_distribution = False
            self._values["weight_init"] = weight_init
            return self

        def dist(self, distribution: Distribution):
            self._pending_distribution = False
            self._values["weight_init"] = distribution
            return self

        def _global(self) -> "GlobalConfiguration":
            if getattr(self, "_pending_distribution", False):
                raise DL4JInvalidConfigException(
                    "NeuralNetConfiguration.Builder: weightInit(WeightInit.DISTRIBUTION) needs a distribution: "
                    "call dist(Distribution) or weightInit(Distribution)"
                )
            try:
                return GlobalConfiguration(**self._values)
            except DL4JInvalidConfigException as exc:
                raise DL4JInvalidConfigException(
                    "NeuralNetConfiguration.Builder: " + str(exc).removeprefix("GlobalConfiguration: ")
                ) from None

        def graphBuilder(self):
            """DL4J's ComputationGraph is not part of dl4py (only MultiLayerNetwork): always raises."""
            raise DL4JInvalidConfigException(
                "NeuralNetConfiguration.Builder.graphBuilder(): ComputationGraph networks are not supported by dl4py; "
                "use list() for a MultiLayerConfiguration"
            )

        def list(self, *layers: Layer) -> "ListBuilder":
            """Start a multi-layer network; layers may also be given here directly."""
            builder = ListBuilder(self._global())
            for layer in layers:
                builder.layer(layer)
            return builder

        def layer(self, layer: Layer):
            self._single_layer = layer
            return self

        def build(self) -> NeuralNetConfiguration:
            """A single-layer configuration (``.layer(...)`` first); networks use ``.list()``."""
            layer = getattr(self, "_single_layer", None)
            if layer is None:
                raise DL4JInvalidConfigException(
                    "NeuralNetConfiguration.Builder.build() needs a layer (call layer(...)); for a network use list()"
                )
            g = self._global()
            return _make_conf(apply_global_options(layer, g, 0), g)

        def clone(self):
            other = type(self)()
            other._values = {k: (v.clone() if isinstance(v, Dl4jConfig) else (list(v) if isinstance(v, list) else v)) for k, v in self._values.items()}
            for attr in ("_pending_distribution", "_single_layer"):
                if attr in self.__dict__:
                    setattr(other, attr, getattr(self, attr))
            return other


NeuralNetConfiguration.Builder = GlobalConfiguration.Builder  # type: ignore[attr-defined]
GlobalConfiguration.Builder.__qualname__ = "NeuralNetConfiguration.Builder"  # the name users know it by


def _is_distribution_init(value: Any) -> bool:
    return isinstance(value, (Distribution, WeightInitDistribution))


def _make_conf(layer: Layer, g: GlobalConfiguration) -> NeuralNetConfiguration:
    return NeuralNetConfiguration(
        cache_mode=g.cache_mode,
        data_type=g.data_type,
        layer=layer,
        max_num_line_search_iterations=g.max_num_line_search_iterations,
        mini_batch=g.mini_batch,
        minimize=g.minimize,
        optimization_algo=g.optimization_algo,
        seed=g.seed,
        step_function=_clone(g.step_function),
    )


def _clone(value: Any) -> Any:
    if isinstance(value, Dl4jConfig):
        return value.clone()
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def apply_global_options(layer: Layer, g: GlobalConfiguration, index: int) -> Layer:
    """A copy of ``layer`` with unset options taken from the global ones, as DL4J's list builder does
    (including its quirk: a non-empty global regularisation list replaces the layer's own list)."""
    values = {name: _clone(getattr(layer, name)) for name in type(layer).model_fields}
    if values.get("layer_name") is None:
        values["layer_name"] = f"layer{index}"
    if values.get("drop_out") is None and g.drop_out is not None:
        values["drop_out"] = g.drop_out.clone()
    if isinstance(layer, BaseLayer):
        if values["activation"] is None:
            values["activation"] = g.activation.clone()
        if values["weight_init"] is None:
            values["weight_init"] = g.weight_init.clone()
        if math.isnan(values["bias_init"]):
            values["bias_init"] = g.bias_init
        if math.isnan(values["gain_init"]):
            values["gain_init"] = g.gain_init
        if values["updater"] is None:
            values["updater"] = g.updater.clone()
        if values["bias_updater"] is None and g.bias_updater is not None:
            values["bias_updater"] = g.bias_updater.clone()
        if values["gradient_normalization"] is None:
            values["gradient_normalization"] = g.gradient_normalization
        if math.isnan(values["gradient_normalization_threshold"]):
            values["gradient_normalization_threshold"] = g.gradient_normalization_threshold
        if values["weight_noise"] is None and g.weight_noise is not None:
            values["weight_noise"] = g.weight_noise.clone()
        # DL4J copies the global lists onto every layer whenever they are non-empty (overriding the layer's own).
        if g.regularization or not values["regularization"]:
            values["regularization"] = _clone(g.regularization)
        if g.regularization_bias or not values["regularization_bias"]:
            values["regularization_bias"] = _clone(g.regularization_bias)
    result = type(layer)(**values)
    pending = [("all", c) for c in g.all_param_constraints] + [("weights", c) for c in g.weight_constraints]
    pending += [("bias", c) for c in g.bias_constraints]
    if pending and result.paramKeys():
        # DL4J attaches global weight and bias constraints; its "all parameters" ones are lost to a bug (an empty
        # loop) — dl4py attaches all three.
        result.constraints = attach_constraints(result, pending)
    return result


class MultiLayerConfiguration(Dl4jConfig):
    """A network: one :class:`NeuralNetConfiguration` per layer plus network-wide settings.

    Checked on construction (builder, keywords or JSON alike): every layer's sizes are set and chain
    (``nIn`` of layer i = output size of layer i−1), composite distributions fit their VAE's ``nIn``, and output
    layers use a loss/activation pair DL4J accepts (unless ``validateOutputLayerConfig`` is false).
    """

    polymorphic = False

    backprop_type: BackpropType = option(BackpropType.Standard)
    cache_mode: CacheMode = option(CacheMode.NONE)
    confs: list[NeuralNetConfiguration] = option(...)
    data_type: DataType = option(DataType.FLOAT)
    epoch_count: int = option(0)
    inference_workspace_mode: WorkspaceMode = option(WorkspaceMode.ENABLED)
    input_pre_processors: dict[int, InputPreProcessor] = option(default_factory=dict)
    iteration_count: int = option(0)
    tbptt_back_length: int = option(20)
    tbptt_fwd_length: int = option(20)
    training_workspace_mode: WorkspaceMode = option(WorkspaceMode.ENABLED)
    validate_output_layer_config: bool = option(True)

    @model_validator(mode="after")
    def _check_network(self):
        if not self.confs:
            raise ValueError("Invalid configuration: no layers defined")
        for index in self.input_pre_processors:
            if not 0 <= index < len(self.confs):
                raise ValueError(f"inputPreProcessors has an entry for layer {index}, but the network has {len(self.confs)} layers")
        previous_out: int | None = None
        previous_desc = ""
        for i, conf in enumerate(self.confs):
            layer = conf.layer
            desc = f"layer {i} ({type(layer).__name__}, name={layer.layer_name!r})"
            pre = self.input_pre_processors.get(i)
            expected_in = previous_out
            if pre is not None and isinstance(pre, CnnToFeedForwardPreProcessor):
                expected_in = pre.outputSize()
            if isinstance(layer, FeedForwardLayer) and not isinstance(layer, LossLayer):
                if layer.n_in <= 0:
                    raise ValueError(f"{desc}: nIn must be > 0, got {layer.n_in} (set nIn, or setInputType on the list builder)")
                if layer.n_out <= 0:
                    raise ValueError(f"{desc}: nOut must be > 0, got {layer.n_out}")
                if expected_in is not None and layer.n_in != expected_in:
                    raise ValueError(
                        f"{desc}: nIn={layer.n_in} does not match the {expected_in} outputs of {previous_desc}"
                    )
                try:
                    layer.paramShapes()
                except ValueError as exc:
                    raise ValueError(f"{desc}: reconstructionDistribution does not fit nIn={layer.n_in}: {exc}") from None
                previous_out = layer.outputSize(layer.n_in)
            elif isinstance(layer, LossLayer):
                if previous_out is None and layer.n_in > 0:
                    previous_out = layer.n_in
            previous_desc = desc
            if self.validate_output_layer_config:
                from .output_validation import validate_output_layer

                validate_output_layer(layer, desc)
        return self

    # -- DL4J API --------------------------------------------------------------------------------------------
    def getConf(self, i: int) -> NeuralNetConfiguration:
        return self.confs[i]

    def getInputPreProcess(self, i: int) -> InputPreProcessor | None:
        return self.input_pre_processors.get(i)

    def toJson(self) -> str:
        from ...serde.json_codec import to_json

        return to_json(self)

    @classmethod
    def fromJson(cls, text: str | bytes) -> "MultiLayerConfiguration":
        """Read DL4J JSON (current and legacy formats)."""
        from ...serde.json_codec import parse_json_text

        return cls._from_data(parse_json_text(text, "MultiLayerConfiguration"))

    @classmethod
    def fromYaml(cls, text: str) -> "MultiLayerConfiguration":
        """Read the YAML form (PyYAML extra)."""
        from ...serde.json_codec import parse_yaml_text

        return cls._from_data(parse_yaml_text(text, "MultiLayerConfiguration"))

    @classmethod
    def _from_data(cls, data: Any) -> "MultiLayerConfiguration":
        from ...serde.json_codec import build_from_body

        if not isinstance(data, dict):
            raise InvalidJsonException(f"MultiLayerConfiguration: expected a JSON object, got {type(data).__name__}")
        if "confs" not in data:
            raise InvalidJsonException("MultiLayerConfiguration: missing required key 'confs'")
        return build_from_body(cls, data, "")

    def summary(self) -> str:
        """A table of layers, sizes and parameter counts."""
        from .summary import configuration_summary

        return configuration_summary(self)

    def __str__(self) -> str:
        return self.summary()

    def numParams(self) -> int:
        return sum(conf.layer.numParams() for conf in self.confs)

    from_json = fromJson
    from_yaml = fromYaml
    get_conf = getConf
    get_input_pre_process = getInputPreProcess
    num_params = numParams


class ListBuilder(ConfigBuilder):
    """DL4J's ``NeuralNetConfiguration.ListBuilder``: ``layer(...)``, ``setInputType(...)``, ``build()``."""

    _target = MultiLayerConfiguration

    def __init__(self, global_conf: GlobalConfiguration | None = None) -> None:
        super().__init__()
        self._global = global_conf if global_conf is not None else GlobalConfiguration()
        self._layers: dict[int, Layer] = {}
        self._input_type: InputType | None = None
        self._pre_processors: dict[int, InputPreProcessor] = {}

    def layer(self, *args: Any) -> "ListBuilder":
        """``layer(Layer)`` appends; ``layer(index, Layer)`` puts it at ``index`` (replacing one there)."""
        if len(args) == 1:
            index, layer = (max(self._layers) + 1 if self._layers else 0), args[0]
        elif len(args) == 2:
            index, layer = args
        else:
            raise DL4JInvalidConfigException(f"layer() takes (layer) or (index, layer), got {len(args)} arguments")
        if isinstance(layer, ConfigBuilder):
            layer = layer.build()
        if not isinstance(layer, Layer):
            raise DL4JInvalidConfigException(f"layer(): expected a layer configuration, got {type(layer).__name__}")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise DL4JInvalidConfigException(f"layer(): index must be an integer >= 0, got {index!r}")
        self._layers[index] = layer
        return self

    def setInputType(self, input_type: InputType) -> "ListBuilder":
        """Infer each layer's nIn (and add preprocessors) from the type of the network's input."""
        if not isinstance(input_type, InputType):
            raise DL4JInvalidConfigException(f"setInputType: expected an InputType, got {type(input_type).__name__}")
        self._input_type = input_type
        return self

    def inputType(self) -> "_InputTypeBuilder":
        """``inputType().feedForward(n)`` / ``.convolutional(h, w, c)`` / ``.convolutionalFlat(h, w, c)``: the
        same as ``setInputType(InputType....)``, returning this list builder."""
        return _InputTypeBuilder(self)

    def inputPreProcessor(self, index: int, processor: InputPreProcessor) -> "ListBuilder":
        self._pre_processors[index] = processor
        return self

    def inputPreProcessors(self, processors: dict[int, InputPreProcessor]) -> "ListBuilder":
        """Several explicit preprocessors at once (layer index -> preprocessor)."""
        for index, processor in dict(processors).items():
            self.inputPreProcessor(index, processor)
        return self

    def validateTbpttConfig(self, validate: bool) -> "ListBuilder":
        """Accepted for DL4J compatibility; dl4py has no layers that truncated BPTT could conflict with."""
        self._validate_tbptt = bool(validate)
        return self

    def overrideNinUponBuild(self, override: bool) -> "ListBuilder":
        """With an input type, overwrite nIn values the user set (DL4J 2021 master, whose default is true);
        dl4py's default is false, as in DL4J 1.0.0-beta7: only unset (0) nIn values are inferred and a user nIn that
        does not match is reported."""
        self._override_nin = bool(override)
        return self

    def tBPTTLength(self, length: int) -> "ListBuilder":
        self._values["tbptt_fwd_length"] = length
        self._values["tbptt_back_length"] = length
        return self

    def tBPTTForwardLength(self, length: int) -> "ListBuilder":
        self._values["tbptt_fwd_length"] = length
        return self

    def tBPTTBackwardLength(self, length: int) -> "ListBuilder":
        self._values["tbptt_back_length"] = length
        return self

    def build(self) -> MultiLayerConfiguration:
        if not self._layers:
            raise DL4JInvalidConfigException("Invalid configuration: no layers defined")
        n = max(self._layers) + 1
        for i in range(n):
            if i not in self._layers:
                raise DL4JInvalidConfigException(
                    f"Invalid configuration: layer number {i} not specified. Expect layer numbers to be 0 to {n - 1} inclusive"
                )
        g = self._global
        layers = [apply_global_options(self._layers[i], g, i) for i in range(n)]
        pre_processors = dict(self._pre_processors)
        layers = _infer_sizes(layers, self._input_type, pre_processors, getattr(self, "_override_nin", False))
        values = dict(self._values)
        if "confs" in values:
            raise DL4JInvalidConfigException("ListBuilder: add layers with layer(...), not confs(...)")
        values.setdefault("cache_mode", g.cache_mode)
        values.setdefault("data_type", g.data_type)
        values.setdefault("training_workspace_mode", g.training_workspace_mode)
        values.setdefault("inference_workspace_mode", g.inference_workspace_mode)
        return MultiLayerConfiguration(
            confs=[_make_conf(layer, g) for layer in layers], input_pre_processors=pre_processors, **values
        )


class _InputTypeBuilder:
    """What ``ListBuilder.inputType()`` returns (DL4J's ``InputTypeBuilder``)."""

    def __init__(self, owner: "ListBuilder") -> None:
        self._owner = owner

    def feedForward(self, size: int) -> "ListBuilder":
        return self._owner.setInputType(InputType.feedForward(size))

    def convolutional(self, height: int, width: int, depth: int) -> "ListBuilder":
        return self._owner.setInputType(InputType.convolutional(height, width, depth))

    def convolutionalFlat(self, height: int, width: int, depth: int) -> "ListBuilder":
        return self._owner.setInputType(InputType.convolutionalFlat(height, width, depth))


def _infer_sizes(
    layers: list[Layer], input_type: InputType | None, pre: dict[int, InputPreProcessor], override: bool = False
) -> list[Layer]:
    """Fill unset nIn (every nIn when ``override``) from the input type / the previous layer's output, adding
    CNN→FF preprocessors as needed."""
    out: list[Layer] = []
    current = input_type.size if input_type is not None else None
    for i, layer in enumerate(layers):
        if i == 0 and input_type is not None and input_type.kind == "CNN" and i not in pre and isinstance(layer, FeedForwardLayer):
            pre[i] = CnnToFeedForwardPreProcessor(
                input_height=input_type.height, input_width=input_type.width, num_channels=input_type.channels
            )
        if isinstance(layer, FeedForwardLayer) and not isinstance(layer, LossLayer):
            if (layer.n_in == 0 or (override and input_type is not None)) and current is not None:
                layer = type(layer)(**{**{k: getattr(layer, k) for k in type(layer).model_fields}, "n_in": current})
            elif i == 0 and input_type is not None and layer.n_in != current:
                # later layers are checked against their predecessor by MultiLayerConfiguration itself
                raise DL4JInvalidConfigException(
                    f"layer 0 ({type(layer).__name__}, name={layer.layer_name!r}): nIn={layer.n_in} does not match "
                    f"the input type {input_type} ({current} values per example); leave nIn unset, or call "
                    "overrideNinUponBuild(true)"
                )
            current = layer.outputSize(layer.n_in) if layer.n_in > 0 else None
        out.append(layer)
    return out


for _cls in (NeuralNetConfiguration, MultiLayerConfiguration, ListBuilder, GlobalConfiguration.Builder, _InputTypeBuilder):
    snake_aliases(_cls)

__all__ = [
    "NeuralNetConfiguration", "MultiLayerConfiguration", "GlobalConfiguration", "ListBuilder", "InputType",
    "GradientNormalization", "OptimizationAlgorithm", "BackpropType", "WorkspaceMode", "CacheMode", "DataType",
    "apply_global_options",
]
