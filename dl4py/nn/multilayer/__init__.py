"""``MultiLayerNetwork`` (DL4J: ``org.deeplearning4j.nn.multilayer.MultiLayerNetwork``): a stack of engine layers
over one flat parameter vector, one flat gradient vector and one flat updater state, all in DL4J's layout."""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterable, Sequence

import numpy as np

from ..._naming import snake_aliases
from ...exceptions import DL4JException, DL4JInvalidConfigException, DL4JInvalidInputException, NonFiniteException
from ..conf import MultiLayerConfiguration
from ..conf.enums import DataType
from ..conf.preprocessor import CnnToFeedForwardPreProcessor
from ..layers import create_engine_layer
from ..layers.base import EngineLayer
from ..updater import BlockUpdater, param_entries

_COMPUTE_DTYPE = {DataType.FLOAT: np.float32, DataType.DOUBLE: np.float64, DataType.HALF: np.float32}


@snake_aliases
class MultiLayerNetwork:
    """A feed-forward network built from a :class:`MultiLayerConfiguration`.

    ``init()`` allocates the parameters (seeded from the configuration) and the updater state. Inference:
    ``output``, ``feedForward``, ``predict``. Training: ``fit`` (supervised; one step per minibatch) and
    ``pretrain``/``pretrainLayer`` (layer-wise unsupervised, for AutoEncoder and VariationalAutoencoder layers).
    HALF networks compute in float32 (parameters are stored and saved as float16 values rounded on save).
    """

    def __init__(self, conf: MultiLayerConfiguration) -> None:
        if not isinstance(conf, MultiLayerConfiguration):
            raise DL4JInvalidConfigException(
                f"MultiLayerNetwork needs a MultiLayerConfiguration, got {type(conf).__name__}"
            )
        self.conf = conf
        self.layers: list[EngineLayer] = []
        self.listeners: list[Any] = []
        self._score = math.nan
        self._initialized = False
        self._pretrain_updaters: dict[int, BlockUpdater] = {}
        self.rng = np.random.default_rng(conf.confs[0].seed)

    # ------------------------------------------------------------------------------------------------------------
    # construction and parameters
    # ------------------------------------------------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_COMPUTE_DTYPE[self.conf.data_type])

    def init(self, params: np.ndarray | None = None, cloneParametersArray: bool = True) -> "MultiLayerNetwork":
        """Allocate parameters, gradients and updater state; initialise parameters (or copy ``params``)."""
        if self._initialized and params is None:
            return self
        try:  # a nested option may have been changed since the configuration was built
            self.conf._check_network()
        except ValueError as exc:
            raise DL4JInvalidConfigException(f"MultiLayerNetwork.init: {exc}") from None
        dtype = self.dtype
        self.layers = [create_engine_layer(c.layer, i, dtype) for i, c in enumerate(self.conf.confs)]
        total = sum(l.num_params for l in self.layers)
        self._params = np.zeros(total, dtype=dtype)
        self._grads = np.zeros(total, dtype=dtype)
        offset = 0
        for layer, c in zip(self.layers, self.conf.confs):
            layer.bind(self._params[offset : offset + layer.num_params], self._grads[offset : offset + layer.num_params])
            layer.network = self
            offset += layer.num_params
            c.variables = list(layer.keys)
        self.rng = np.random.default_rng(self.conf.confs[0].seed)
        if params is None:
            for layer in self.layers:
                layer.init_params(self.rng)
        else:
            self.setParams(params)
        self.updater = BlockUpdater(param_entries(self.layers), dtype)
        self._pretrain_updaters = {}
        self._initialized = True
        return self

    def _require_init(self) -> None:
        if not self._initialized:
            self.init()

    def params(self) -> np.ndarray:
        """The flat parameter vector (a view: DL4J returns the live array too)."""
        self._require_init()
        return self._params

    def setParams(self, params: np.ndarray) -> None:
        """Copy ``params`` (any shape with the right number of values) into the parameter vector."""
        self._require_init()
        flat = np.asarray(params).reshape(-1)
        if flat.shape[0] != self._params.shape[0]:
            raise DL4JInvalidInputException(
                f"setParams: expected a parameter vector of length {self._params.shape[0]}, got {flat.shape[0]}"
            )
        if not np.all(np.isfinite(flat)):
            raise DL4JInvalidInputException("setParams: parameters contain NaN or infinite values")
        self._params[:] = flat

    setParameters = setParams

    def numParams(self, backwards: bool = False) -> int:
        """Number of parameters (``backwards=True``: only those trained by backprop, as DL4J's numParams(true))."""
        self._require_init()
        if not backwards:
            return int(self._params.shape[0])
        return sum(l.param_sizes[k] for l in self.layers for k in l.keys if not l.conf.isPretrainParam(k))

    def paramTable(self, backpropParamsOnly: bool = False) -> dict[str, np.ndarray]:
        """``{"0_W": view, "0_b": view, ...}`` in layout order (views into the parameter vector)."""
        self._require_init()
        table = {}
        for l in self.layers:
            for k in l.keys:
                if backpropParamsOnly and l.conf.isPretrainParam(k):
                    continue
                table[f"{l.index}_{k}"] = l.params[k]
        return table

    def getParam(self, key: str) -> np.ndarray:
        return self.paramTable()[key]

    def getLayer(self, index: int | str) -> EngineLayer:
        self._require_init()
        if isinstance(index, str):
            for l in self.layers:
                if l.conf.layer_name == index:
                    return l
            raise KeyError(f"no layer named {index!r}")
        return self.layers[index]

    def getLayers(self) -> list[EngineLayer]:
        self._require_init()
        return list(self.layers)

    def getnLayers(self) -> int:
        return len(self.conf.confs)

    def getLayerWiseConfigurations(self) -> MultiLayerConfiguration:
        return self.conf

    def getUpdater(self) -> BlockUpdater:
        self._require_init()
        return self.updater

    def updaterState(self) -> np.ndarray:
        """The flat updater-state vector (DL4J's ``getUpdater().getStateViewArray()``)."""
        self._require_init()
        return self.updater.state

    @property
    def iteration_count(self) -> int:
        return self.conf.iteration_count

    @property
    def epoch_count(self) -> int:
        return self.conf.epoch_count

    def getIterationCount(self) -> int:
        return self.conf.iteration_count

    def getEpochCount(self) -> int:
        return self.conf.epoch_count

    def setListeners(self, *listeners: Any) -> None:
        flat: list[Any] = []
        for item in listeners:
            flat.extend(item if isinstance(item, (list, tuple)) else [item])
        self.listeners = flat

    def addListeners(self, *listeners: Any) -> None:
        self.listeners.extend(listeners)

    def getListeners(self) -> list[Any]:
        return list(self.listeners)

    def summary(self) -> str:
        return self.conf.summary()

    def clone(self) -> "MultiLayerNetwork":
        other = MultiLayerNetwork(self.conf.clone())
        if self._initialized:
            other.init(self._params.copy())
            other.updater.set_state(self.updater.state)
        return other

    # ------------------------------------------------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------------------------------------------------
    def _as_input(self, x: Any, what: str = "features", check_finite: bool = False) -> np.ndarray:
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiub":
            raise DL4JInvalidInputException(f"{what}: expected a numeric array, got dtype {arr.dtype}")
        pre = self.conf.input_pre_processors.get(0)
        if arr.ndim == 4 and isinstance(pre, CnnToFeedForwardPreProcessor):
            arr = arr.reshape(arr.shape[0], -1)
        if arr.ndim != 2:
            raise DL4JInvalidInputException(
                f"{what}: expected a 2-D array [examples, features], got shape {tuple(arr.shape)}"
            )
        if arr.shape[0] == 0:
            raise DL4JInvalidInputException(f"{what}: empty minibatch (0 rows)")
        if arr.dtype != self.dtype or not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr, dtype=self.dtype)
        if check_finite:
            from ...kernels.reductions import all_finite

            if not all_finite(arr.reshape(-1)):
                bad = np.argwhere(~np.isfinite(arr))[0]
                raise DL4JInvalidInputException(
                    f"{what}: non-finite value {arr[bad[0], bad[1]]} at row {bad[0]}, column {bad[1]}"
                )
        return arr

    def _forward(self, x: np.ndarray, train: bool, upto: int | None = None) -> list[np.ndarray]:
        acts = [x]
        last = len(self.layers) - 1 if upto is None else upto
        for layer in self.layers[: last + 1]:
            acts.append(layer.forward(acts[-1], train))
        return acts

    # ------------------------------------------------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------------------------------------------------
    def output(self, x: Any, train: bool = False) -> np.ndarray:
        """Network output for ``x`` (a new array). ``train=True`` applies dropout and training-mode activations."""
        self._require_init()
        if hasattr(x, "hasNext") or (not isinstance(x, np.ndarray) and _is_dataset_iterable(x)):
            return np.concatenate([self.output(_features_of(ds), train) for ds in _iterate(x)], axis=0)
        arr = self._as_input(x)
        return self._forward(arr, train)[-1].copy()

    def feedForward(self, x: Any, train: bool = False) -> list[np.ndarray]:
        """[input, output of layer 0, output of layer 1, ...] (new arrays)."""
        self._require_init()
        return [a.copy() for a in self._forward(self._as_input(x), train)]

    def feedForwardToLayer(self, layer_index: int, x: Any, train: bool = False) -> list[np.ndarray]:
        self._require_init()
        return [a.copy() for a in self._forward(self._as_input(x), train, upto=layer_index)]

    def activateSelectedLayers(self, start: int, end: int, x: Any) -> np.ndarray:
        self._require_init()
        a = self._as_input(x)
        for layer in self.layers[start : end + 1]:
            a = layer.forward(a, False)
        return a.copy()

    def predict(self, x: Any) -> np.ndarray:
        """Index of the largest output per row."""
        return np.argmax(self.output(x), axis=1)

    # ------------------------------------------------------------------------------------------------------------
    # score and gradient
    # ------------------------------------------------------------------------------------------------------------
    def _output_layer(self):
        from ..layers.output import OutputMixin

        last = self.layers[-1]
        if not isinstance(last, OutputMixin):
            raise DL4JException(
                "Cannot calculate gradient and score with respect to labels: final layer is not an output layer "
                f"(it is {last.describe()}); use pretrain()/pretrainLayer() for unsupervised layers"
            )
        return last

    def _gradient_and_score(self, x: np.ndarray, labels: Any) -> float:
        """Forward in training mode, backprop; raw (summed) gradient into the gradient vector; returns the score
        (mean loss + regularisation of backprop parameters), as DL4J's computeGradientAndScore."""
        out_layer = self._output_layer()
        acts = [x]
        for layer in self.layers[:-1]:
            acts.append(layer.forward(acts[-1], True))
        z = out_layer.preout_with_bias(acts[-1], True)
        self._grads.fill(0.0)
        total, eps = out_layer.backward_from_labels(z, labels, need_input_grad=len(self.layers) > 1)
        for i in range(len(self.layers) - 2, -1, -1):
            eps = self.layers[i].backward(eps, need_input_grad=i > 0)
        n = x.shape[0]
        score = total / n if self.conf.confs[-1].mini_batch else total
        return score + self.calcRegularizationScore(True)

    def calcRegularizationScore(self, backpropParamsOnly: bool = True) -> float:
        it, ep = self.conf.iteration_count, self.conf.epoch_count
        return sum(l.regularization_score(backpropParamsOnly, it, ep) for l in self.layers)

    def computeGradientAndScore(self, features: Any = None, labels: Any = None) -> tuple[float, np.ndarray]:
        """Score and DL4J's raw gradient (flat, DL4J order, summed over the minibatch, no regularisation terms)
        for one minibatch; the gradient is a copy. No parameter is changed."""
        self._require_init()
        features, labels = _split_dataset(features, labels)
        x = self._as_input(features, check_finite=True)
        self._score = self._gradient_and_score(x, labels)
        return self._score, self._grads.copy()

    def gradient(self) -> np.ndarray:
        """The gradient vector from the last computation (a view)."""
        return self._grads

    def score(self, dataSet: Any = None, training: bool = False) -> float:
        """Without arguments: the score of the last ``fit``/``computeGradientAndScore`` (computed before the
        update). With a DataSet: mean loss + regularisation of backprop parameters on it (inference mode)."""
        if dataSet is None:
            return self._score
        self._require_init()
        features, labels = _split_dataset(dataSet, None)
        x = self._as_input(features)
        out_layer = self._output_layer()
        acts = self._forward(x, training, upto=len(self.layers) - 2) if len(self.layers) > 1 else [x]
        z = out_layer.preout_with_bias(acts[-1], training)
        rows = out_layer.score_array(z, labels)
        total = float(rows.sum()) if out_layer.loss.name != "LossMAE" else float(rows.sum()) / z.shape[1]
        n = x.shape[0]
        return (total / n if self.conf.confs[-1].mini_batch else total) + self.calcRegularizationScore(True)

    def scoreExamples(self, dataSet: Any, addRegularizationTerms: bool = True) -> np.ndarray:
        """Per-example loss [N, 1] (DL4J's computeScoreArray), plus the regularisation score if requested."""
        self._require_init()
        features, labels = _split_dataset(dataSet, None)
        x = self._as_input(features)
        out_layer = self._output_layer()
        acts = self._forward(x, False, upto=len(self.layers) - 2) if len(self.layers) > 1 else [x]
        z = out_layer.preout_with_bias(acts[-1], False)
        rows = out_layer.score_array(z, labels)
        if addRegularizationTerms:
            rows += self.calcRegularizationScore(True)
        return rows.reshape(-1, 1).astype(self.dtype)

    # ------------------------------------------------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------------------------------------------------
    def fit(self, data: Any, labels: Any = None, numEpochs: int = 1, progress: Any = False) -> "MultiLayerNetwork":
        """``fit(features, labels)`` / ``fit(DataSet)``: one optimiser step on that minibatch.
        ``fit(iterator, numEpochs=1)``: whole epochs, one step per minibatch. ``progress=True`` shows a progress
        bar on stderr for the call (or pass your own ``ProgressBarListener``)."""
        self._require_init()
        if labels is not None or _is_dataset(data):
            features, labels = _split_dataset(data, labels)
            self._fit_step(features, labels)
            return self
        if isinstance(numEpochs, bool) or not isinstance(numEpochs, int) or numEpochs <= 0:
            raise DL4JInvalidConfigException(f"fit: numEpochs must be an integer > 0, got {numEpochs!r}")
        with self._progress_bar(progress, data, "fit"):
            self._fit_epochs(data, numEpochs)
        return self

    def _fit_epochs(self, data: Any, numEpochs: int) -> None:
        for _ in range(numEpochs):
            self._reset_if_needed(data)
            for listener in self.listeners:
                _call(listener, "onEpochStart", self)
            for ds in _iterate(data):
                features, labels = _split_dataset(ds, None)
                if features is None or labels is None:
                    break
                self._fit_step(features, labels)
            for listener in self.listeners:
                _call(listener, "onEpochEnd", self)
            self.conf.epoch_count += 1

    @contextlib.contextmanager
    def _progress_bar(self, progress: Any, data: Any, desc: str):
        """Add a ProgressBarListener (``progress=True``, or the listener given) for the duration of one call."""
        if not progress:
            yield
            return
        from ...optimize.listeners import ProgressBarListener

        bar = progress if isinstance(progress, ProgressBarListener) else ProgressBarListener(
            total=_batches_per_epoch(data), desc=desc)
        self.listeners.append(bar)
        try:
            yield
        finally:
            self.listeners.remove(bar)

    def _fit_step(self, features: Any, labels: Any) -> None:
        x = self._as_input(features, check_finite=True)
        if self.numParams() == 0:
            return
        it, ep = self.conf.iteration_count, self.conf.epoch_count
        score = self._gradient_and_score(x, labels)
        self._check_finite(score, it, ep, None)
        self._score = score
        with self._rollback_if_non_finite(it, ep):
            self.updater.update(
                self._params, self._grads, it, ep, x.shape[0], divide_by_minibatch=self.conf.confs[0].mini_batch
            )
        self._apply_constraints(self.layers)
        self.conf.iteration_count = it + 1
        for listener in self.listeners:
            _call(listener, "iterationDone", self, it, ep)

    def _check_finite(self, score: float, iteration: int, epoch: int, layer: int | None) -> None:
        from ...kernels.reductions import all_finite

        where = f"epoch {epoch}, iteration {iteration}"
        if not math.isfinite(score):
            raise NonFiniteException(
                f"score became {score} at {where}; parameters are left at their last finite values"
            )
        grads = self._grads if layer is None else self.layers[layer].grad_flat
        if not all_finite(grads):
            for l in self.layers if layer is None else [self.layers[layer]]:
                if not all_finite(l.grad_flat):
                    raise NonFiniteException(
                        f"gradient of {l.describe()} became non-finite at {where}; parameters are left at their "
                        "last finite values"
                    )

    @staticmethod
    def _apply_constraints(layers) -> None:
        for layer in layers:
            if layer.conf.constraints:
                from ..layers.constraints import apply_layer_constraints

                apply_layer_constraints(layer)

    @contextlib.contextmanager
    def _rollback_if_non_finite(self, iteration: int, epoch: int, layer: int | None = None):
        """Keep a copy of the parameters across an update; if the update overflows, restore them and raise."""
        from ...kernels.reductions import all_finite

        backup = getattr(self, "_param_backup", None)
        if backup is None or backup.shape != self._params.shape:
            backup = self._param_backup = np.empty_like(self._params)
        np.copyto(backup, self._params)
        yield
        if not all_finite(self._params):
            np.copyto(self._params, backup)
            where = f" in {self.layers[layer].describe()}" if layer is not None else ""
            raise NonFiniteException(
                f"the parameter update{where} overflowed to NaN/inf at epoch {epoch}, iteration {iteration} "
                "(learning rate too high?); parameters were restored to their last finite values"
            )

    @staticmethod
    def _reset_if_needed(data: Any) -> None:
        if hasattr(data, "reset") and hasattr(data, "hasNext") and not data.hasNext():
            data.reset()

    # ------------------------------------------------------------------------------------------------------------
    # layer-wise pretraining
    # ------------------------------------------------------------------------------------------------------------
    def pretrain(self, data: Any, numEpochs: int = 1, progress: Any = False) -> "MultiLayerNetwork":
        """Pretrain every pretrainable layer in order (``pretrainLayer(i, data, numEpochs)``); ``progress=True``
        shows a progress bar per layer."""
        self._require_init()
        for i, layer in enumerate(self.layers):
            if layer.isPretrainLayer():
                self.pretrainLayer(i, data, numEpochs, progress=progress)
        return self

    def pretrainLayer(self, layerIdx: int, data: Any, numEpochs: int = 1, progress: Any = False) -> "MultiLayerNetwork":
        """Given an array: one pretraining step of layer ``layerIdx`` on that minibatch. Given an iterator:
        ``numEpochs`` epochs of such steps, then the layer's epoch count is incremented (``progress=True``: with
        a progress bar on stderr).

        Layer i > 0 is fed the inference-mode activations of layers 0…i−1. (DL4J intends this but its code passes
        a wrong index, so DL4J feeds the raw features to every layer; dl4py implements the intent.)"""
        self._require_init()
        if not 0 <= layerIdx < len(self.layers):
            raise DL4JInvalidConfigException(f"pretrainLayer: layer index {layerIdx} out of range [0, {len(self.layers)})")
        layer = self.layers[layerIdx]
        if not layer.isPretrainLayer():
            return self
        if isinstance(data, np.ndarray) or (not _is_dataset(data) and hasattr(data, "__array__")):
            self._pretrain_step(layerIdx, data)
            return self
        if _is_dataset(data):
            self._pretrain_step(layerIdx, _split_dataset(data, None)[0])
            return self
        if isinstance(numEpochs, bool) or not isinstance(numEpochs, int) or numEpochs <= 0:
            raise DL4JInvalidConfigException(f"pretrainLayer: numEpochs must be an integer > 0, got {numEpochs!r}")
        with self._progress_bar(progress, data, f"pretrain layer {layerIdx}"):
            self._pretrain_epochs(layerIdx, data, numEpochs)
        return self

    def _pretrain_epochs(self, layerIdx: int, data: Any, numEpochs: int) -> None:
        conf = self.conf.confs[layerIdx]
        for _ in range(numEpochs):
            self._reset_if_needed(data)
            for listener in self.listeners:
                _call(listener, "onEpochStart", self)
            for ds in _iterate(data):
                features, _ = _split_dataset(ds, None)
                if features is None:
                    break
                self._pretrain_step(layerIdx, features)
            for listener in self.listeners:
                _call(listener, "onEpochEnd", self)
            conf.epoch_count += 1

    def pretrain_updater(self, layerIdx: int) -> BlockUpdater:
        """The layer's own pretraining updater (separate state, as DL4J's LayerUpdater)."""
        up = self._pretrain_updaters.get(layerIdx)
        if up is None:
            layer = self.layers[layerIdx]
            offset = sum(l.num_params for l in self.layers[:layerIdx])
            up = BlockUpdater(param_entries([layer], base_offset=offset), self.dtype)
            self._pretrain_updaters[layerIdx] = up
        return up

    def _pretrain_input(self, layerIdx: int, features: Any) -> np.ndarray:
        x = self._as_input(features, check_finite=True)
        for layer in self.layers[:layerIdx]:
            x = layer.forward(x, False)
        return x

    def _pretrain_step(self, layerIdx: int, features: Any) -> float:
        layer = self.layers[layerIdx]
        conf = self.conf.confs[layerIdx]
        x = self._pretrain_input(layerIdx, features)
        it, ep = conf.iteration_count, conf.epoch_count
        layer.grad_flat.fill(0.0)
        score = layer.pretrain_gradient_and_score(x)
        score += layer.regularization_score(False, it, ep)
        self._check_finite(score, it, ep, layerIdx)
        self._score = score
        with self._rollback_if_non_finite(it, ep, layerIdx):
            self.pretrain_updater(layerIdx).update(
                self._params, self._grads, it, ep, x.shape[0], divide_by_minibatch=conf.mini_batch, skip_pretrain=False
            )
        self._apply_constraints([layer])
        conf.iteration_count = it + 1
        for listener in self.listeners:
            _call(listener, "iterationDone", self, it, ep)
        return score

    # ------------------------------------------------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------------------------------------------------
    def save(self, path: Any, saveUpdater: bool = True) -> None:
        """Write a DL4J model zip (configuration.json, coefficients.bin, updaterState.bin), atomically."""
        from ...util import ModelSerializer

        ModelSerializer.writeModel(self, path, saveUpdater)

    @staticmethod
    def load(path: Any, loadUpdater: bool = True) -> "MultiLayerNetwork":
        """Read a DL4J model zip."""
        from ...util import ModelSerializer

        return ModelSerializer.restoreMultiLayerNetwork(path, loadUpdater)

    def __repr__(self) -> str:
        return f"MultiLayerNetwork({len(self.conf.confs)} layers, {self.numParams() if self._initialized else '?'} params)"


# ------------------------------------------------------------------------------------------------------------------
# helpers for the many shapes of training data
# ------------------------------------------------------------------------------------------------------------------
def _is_dataset(obj: Any) -> bool:
    return hasattr(obj, "getFeatures") and hasattr(obj, "getLabels")


def _is_dataset_iterable(obj: Any) -> bool:
    return isinstance(obj, (list, tuple)) and bool(obj) and all(_is_dataset(d) or isinstance(d, tuple) for d in obj)


def _split_dataset(data: Any, labels: Any) -> tuple[Any, Any]:
    if labels is not None:
        return data, labels
    if _is_dataset(data):
        return data.getFeatures(), data.getLabels()
    if isinstance(data, tuple) and len(data) == 2:
        return data
    return data, None


def _features_of(ds: Any) -> Any:
    return _split_dataset(ds, None)[0]


def _iterate(data: Any) -> Iterable[Any]:
    if hasattr(data, "hasNext") and hasattr(data, "next"):
        while data.hasNext():
            yield data.next()
        return
    yield from data


def _batches_per_epoch(data: Any) -> int | None:
    """Minibatches per epoch of an iterator that knows its size (for a progress bar), else None."""
    try:
        if isinstance(data, (list, tuple)):
            return len(data)
        n, b = data.numExamples(), data.batch()
        return -(-int(n) // int(b)) if n and b else None
    except (AttributeError, TypeError, ValueError, NotImplementedError):  # cannot tell: a bar without a total
        return None


def _call(listener: Any, method: str, *args: Any) -> None:
    fn = getattr(listener, method, None)
    if fn is not None:
        fn(*args)


__all__ = ["MultiLayerNetwork"]
