"""``MultiLayerNetwork`` (DL4J: ``org.deeplearning4j.nn.multilayer.MultiLayerNetwork``): a stack of engine layers
over one flat parameter vector, one flat gradient vector and one flat updater state, all in DL4J's layout."""
from __future__ import annotations

import contextlib
import logging
import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..._naming import snake_aliases
from ...exceptions import DL4JException, DL4JInvalidConfigException, DL4JInvalidInputException, NonFiniteException
from ..conf import MultiLayerConfiguration
from ..conf.enums import DataType
from ..conf.preprocessor import CnnToFeedForwardPreProcessor
from ..layers import create_engine_layer
from ..layers.base import EngineLayer, check_finite_values, to_engine_array, to_numeric_array
from ..blas_threads import ThreadGovernor
from ..updater import BlockUpdater, ParamEntry, param_entries

_COMPUTE_DTYPE = {DataType.FLOAT: np.float32, DataType.DOUBLE: np.float64, DataType.HALF: np.float32}
_NON_FINITE_POLICIES = ("raise", "skip")

log = logging.getLogger("dl4py.nn.multilayer")


@snake_aliases
class MultiLayerNetwork:
    """A feed-forward network built from a :class:`MultiLayerConfiguration`.

    ``init()`` allocates the parameters (seeded from the configuration) and the updater state. Inference:
    ``output``, ``feedForward``, ``predict``. Training: ``fit`` (supervised; one step per minibatch) and
    ``pretrain``/``pretrainLayer`` (layer-wise unsupervised, for AutoEncoder and VariationalAutoencoder layers).
    HALF networks compute in float32 (parameters are stored and saved as float16 values rounded on save).

    **Inputs.** Features and labels are converted to the network's float type and to C order (ints, bools,
    float16/float64, transposed, strided and read-only arrays are all accepted; the caller's array is never
    written). Non-numeric, ragged, empty or wrongly shaped input raises :class:`DL4JInvalidInputException`, as does
    a float64 value that is finite but overflows the network's float32. Before a training step uses a minibatch,
    its features and labels are checked for NaN/±inf, and the error names the row and column.

    **Non-finite training steps.** ``fit``/``pretrain`` check each step: a non-finite score, a non-finite
    gradient, or an update that would make a parameter or updater-state value non-finite (the updater kernels
    first run dry, and write only when nothing would overflow). The policy, set with :meth:`setNonFinitePolicy`,
    decides what happens then:

    * ``"raise"`` (default): :class:`NonFiniteException` naming the epoch, iteration and layer (also as its
      ``epoch``/``iteration``/``layer`` attributes); parameters and updater state are left at their last finite
      values, and the iteration is not counted.
    * ``"skip"``: the step is dropped instead — parameters and updater state unchanged, iteration not counted, a
      warning logged on the ``dl4py.nn.multilayer`` logger, ``nonFiniteSkips`` incremented, and listeners that
      define ``onNonFiniteSkip(net, exception)`` are told. Training continues with the next minibatch.

    **Thread safety.** After ``init()``, inference may run concurrently from several threads on one network:
    ``output``, ``feedForward``, ``feedForwardToLayer``, ``activateSelectedLayers``, ``predict``,
    ``score(dataSet)``, ``scoreExamples`` and the VAE layer's ``activate``/``reconstruction(Log)Probability``/
    ``generate*`` methods (each thread has its own scratch buffers; parameters are only read). Calls that draw
    random numbers share the network's generator, so concurrent results are not reproducible unless the noise is
    passed explicitly. Training (``fit``, ``pretrain*``, ``computeGradientAndScore``), ``init``, ``setParams``,
    ``setNonFinitePolicy`` and loading parameters must not run while any other call uses the network; for
    concurrent training give each thread its own ``net.clone()``.

    **BLAS threads** (a dl4py addition). ``blasThreads`` is a :class:`~dl4py.nn.blas_threads.ThreadGovernor`:
    with a BLAS pool of more than one thread, training steps run with one thread while other processes keep the
    cores busy, and otherwise with the faster of the pool and one thread (timed per kind of step and minibatch
    size) — so more threads never make training collapse on a busy machine (``inference = True``: ``output`` too).
    Products then differ at float rounding level from a fixed pool size: ``net.blasThreads.enabled = False`` or
    ``DL4PY_BLAS_GOVERNOR=0`` for bit-reproducible multi-threaded runs.
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
        self._non_finite_policy = "raise"
        self.nonFiniteSkips = 0  # training steps dropped under the "skip" policy
        self.blasThreads = ThreadGovernor()  # steps run with the faster of the BLAS pool size and one thread

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
        # every layer's backprop overwrites its whole gradient: a supervised step need not zero it first
        self._backprop_writes_whole_gradient = all(
            l.backprop_writes_whole_gradient or l.num_params == 0 for l in self.layers)
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
        if flat.dtype.kind not in "fiub":
            raise DL4JInvalidInputException(f"setParams: expected a numeric array, got dtype {flat.dtype}")
        if flat.shape[0] != self._params.shape[0]:
            raise DL4JInvalidInputException(
                f"setParams: expected a parameter vector of length {self._params.shape[0]}, got {flat.shape[0]}"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            values = flat.astype(self._params.dtype)  # checked after the cast: 1e300 is infinite in float32
        if not np.all(np.isfinite(values)):
            raise DL4JInvalidInputException(
                f"setParams: parameters contain NaN or infinite values (or values beyond the range of {self.dtype})")
        self._params[:] = values

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

    def setNonFinitePolicy(self, policy: str) -> "MultiLayerNetwork":
        """What a training step that produces NaN/±inf does: ``"raise"`` (default) a NonFiniteException, or
        ``"skip"`` the step with a logged warning. Either way parameters and updater state keep their last finite
        values. See the class docstring."""
        if policy not in _NON_FINITE_POLICIES:
            raise DL4JInvalidConfigException(
                f"setNonFinitePolicy: policy must be one of {', '.join(map(repr, _NON_FINITE_POLICIES))}, got {policy!r}")
        self._non_finite_policy = policy
        return self

    def getNonFinitePolicy(self) -> str:
        return self._non_finite_policy

    def clone(self) -> "MultiLayerNetwork":
        other = MultiLayerNetwork(self.conf.clone())
        other._non_finite_policy = self._non_finite_policy
        other.blasThreads.enabled = self.blasThreads.enabled
        other.blasThreads.inference = self.blasThreads.inference
        if self._initialized:
            other.init(self._params.copy())
            other.updater.set_state(self.updater.state)
        return other

    # ------------------------------------------------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------------------------------------------------
    def _as_input(self, x: Any, what: str = "features", check_finite: bool = False) -> np.ndarray:
        """``x`` as a C-contiguous, writeable array of the network dtype (a copy unless it already is one)."""
        arr = to_numeric_array(x, what)
        pre = self.conf.input_pre_processors.get(0)
        if arr.ndim == 4 and isinstance(pre, CnnToFeedForwardPreProcessor):
            arr = arr.reshape(arr.shape[0], -1)
        if arr.ndim != 2:
            raise DL4JInvalidInputException(
                f"{what}: expected a 2-D array [examples, features], got shape {tuple(arr.shape)}"
            )
        if arr.shape[0] == 0:
            raise DL4JInvalidInputException(f"{what}: empty minibatch (0 rows)")
        if arr.dtype != self.dtype or not arr.flags.c_contiguous or not arr.flags.writeable:
            arr = to_engine_array(arr, self.dtype, what)
        if check_finite:
            check_finite_values(arr, what)
        return arr

    def _check_labels(self, labels: Any, what: str = "labels") -> None:
        """Labels of a training step: numeric and finite (shape and dtype are the output layer's business)."""
        if labels is None:
            raise DL4JInvalidInputException(f"{what}: a training step needs labels (got None)")
        check_finite_values(to_numeric_array(labels, what), what)

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
        with self.blasThreads.step(("output", arr.shape[0]), inference=True):
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

    def _gradient_and_score(self, x: np.ndarray, labels: Any, regularization: bool = True) -> float:
        """Forward in training mode, backprop; raw (summed) gradient into the gradient vector; returns the score
        (mean loss + regularisation of backprop parameters unless ``regularization`` is false), as DL4J's
        computeGradientAndScore."""
        out_layer = self._output_layer()
        acts = [x]
        for layer in self.layers[:-1]:
            acts.append(layer.forward(acts[-1], True))
        z = out_layer.preout_with_bias(acts[-1], True)
        if not self._backprop_writes_whole_gradient:
            self._grads.fill(0.0)
        total, eps = out_layer.backward_from_labels(z, labels, need_input_grad=len(self.layers) > 1)
        for i in range(len(self.layers) - 2, -1, -1):
            eps = self.layers[i].backward(eps, need_input_grad=i > 0)
        n = x.shape[0]
        score = total / n if self.conf.confs[-1].mini_batch else total
        return score + self.calcRegularizationScore(True) if regularization else score

    def calcRegularizationScore(self, backpropParamsOnly: bool = True) -> float:
        it, ep = self.conf.iteration_count, self.conf.epoch_count
        return sum(l.regularization_score(backpropParamsOnly, it, ep) for l in self.layers)

    def computeGradientAndScore(self, features: Any = None, labels: Any = None) -> tuple[float, np.ndarray]:
        """Score and DL4J's raw gradient (flat, DL4J order, summed over the minibatch, no regularisation terms)
        for one minibatch; the gradient is a copy. No parameter is changed."""
        self._require_init()
        features, labels = _split_dataset(features, labels)
        x = self._as_input(features, check_finite=True)
        self._check_labels(labels)
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
        if isinstance(data, np.ndarray):
            raise DL4JInvalidInputException(
                "fit: features without labels; call fit(features, labels), fit(DataSet) or fit(iterator), or "
                "pretrain(...) for unsupervised layers")
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
        it, ep = self.conf.iteration_count, self.conf.epoch_count
        x = self._as_input(features, f"features (epoch {ep}, iteration {it})", check_finite=True)
        self._check_labels(labels, f"labels (epoch {ep}, iteration {it})")
        if self.numParams() == 0:
            return
        with self.blasThreads.step(("fit", x.shape[0])):
            score = self._gradient_and_score(x, labels, regularization=False)
            update = self.updater.prepare(self._params, self._grads, it, ep, x.shape[0],
                                          divide_by_minibatch=self.conf.confs[0].mini_batch)
            score += update.regularization_score  # of the backprop parameters, from the update's scan
            problem = self._checked_update(score, x, it, ep, None, update.apply)
        if problem is not None:
            self._on_non_finite(problem)
            return
        self._score = score
        self._apply_constraints(self.layers)
        _count_iteration(self.conf, it)
        for listener in self.listeners:
            _call(listener, "iterationDone", self, it, ep)

    # -- non-finite steps ----------------------------------------------------------------------------------------
    def _checked_update(self, score: float, x: np.ndarray, iteration: int, epoch: int, layer: int | None,
                         update: Callable[[], ParamEntry | None]) -> NonFiniteException | None:
        """Apply ``update`` unless the score is non-finite; the problem when the score is non-finite or the update
        refused (a non-finite gradient, or new values that would overflow), else None. Nothing is written then.
        ``layer``: the layer being pretrained (None: a supervised step through the whole network)."""
        from ...kernels.reductions import all_finite

        if not math.isfinite(score):
            return self._locate_non_finite_score(f"score became {score}", x, iteration, epoch, layer)
        refused = update()
        if refused is None:
            return None
        candidates = self.layers if layer is None else [self.layers[layer]]
        # backprop runs from the output down: the highest layer with a non-finite gradient is where it started
        bad = next((l for l in reversed(candidates) if not all_finite(l.grad_flat)), None)
        if bad is not None:
            return self._error_at("gradient became non-finite", bad.index, iteration, epoch,
                                  "parameters are left at their last finite values")
        return self._error_at("the parameter update would overflow to NaN/inf (learning rate too high?)",
                              refused.layer.index, iteration, epoch,
                              "parameters and updater state are left at their last finite values")

    def _locate_non_finite_score(self, what: str, x: np.ndarray, iteration: int, epoch: int,
                                 layer: int | None) -> NonFiniteException:
        """Name the first layer (before the pretrained ``layer``, or anywhere for a supervised step) whose
        inference output is non-finite for ``x``, else the layer that computes the score."""
        from ...kernels.reductions import all_finite

        scorer = len(self.layers) - 1 if layer is None else layer
        upto = scorer if layer is None else layer - 1
        if upto >= 0:
            acts = self._forward(x, False, upto=upto)
            origin = next((i for i, a in enumerate(acts[1:]) if not all_finite(a.reshape(-1))), None)
            if origin is not None:
                return self._error_at(f"{what} (the output of this layer is non-finite)", origin, iteration, epoch,
                                      "parameters are left at their last finite values")
        return self._error_at(what, scorer, iteration, epoch, "parameters are left at their last finite values")

    def _error_at(self, what: str, layer: int, iteration: int, epoch: int, consequence: str) -> NonFiniteException:
        return NonFiniteException(
            f"{what} at epoch {epoch}, iteration {iteration}, layer {layer} ({self.layers[layer].describe()}); "
            f"{consequence}",
            epoch=epoch, iteration=iteration, layer=layer)

    def _on_non_finite(self, problem: NonFiniteException) -> None:
        if self._non_finite_policy == "raise":
            raise problem
        self.nonFiniteSkips += 1
        log.warning("training step skipped (non-finite policy 'skip'): %s", problem)
        for listener in self.listeners:
            _call(listener, "onNonFiniteSkip", self, problem)

    @staticmethod
    def _apply_constraints(layers) -> None:
        for layer in layers:
            if layer.conf.constraints:
                from ..layers.constraints import apply_layer_constraints

                apply_layer_constraints(layer)

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
        if isinstance(data, np.ndarray) or (not _is_dataset(data) and hasattr(data, "__array__")) or (
                isinstance(data, list) and not _is_dataset_iterable(data)):  # a nested list is one minibatch
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

    def _pretrain_input(self, layerIdx: int, features: Any, what: str = "features") -> np.ndarray:
        x = self._as_input(features, what, check_finite=True)
        for layer in self.layers[:layerIdx]:
            x = layer.forward(x, False)
        return x

    def _pretrain_step(self, layerIdx: int, features: Any) -> float:
        layer = self.layers[layerIdx]
        conf = self.conf.confs[layerIdx]
        it, ep = conf.iteration_count, conf.epoch_count
        raw = self._as_input(features, f"features (layer {layerIdx}, epoch {ep}, iteration {it})", check_finite=True)
        updater = self.pretrain_updater(layerIdx)
        with self.blasThreads.step(("pretrain", layerIdx, raw.shape[0])):
            x = raw
            for below in self.layers[:layerIdx]:
                x = below.forward(x, False)
            if not layer.pretrain_writes_whole_gradient:
                layer.grad_flat.fill(0.0)
            score = layer.pretrain_gradient_and_score(x)
            update = updater.prepare(self._params, self._grads, it, ep, x.shape[0],
                                     divide_by_minibatch=conf.mini_batch, skip_pretrain=False)
            score += update.regularization_score  # of all the layer's parameters, from the update's scan
            problem = self._checked_update(score, raw, it, ep, layerIdx, update.apply)
        if problem is not None:
            self._on_non_finite(problem)
            return score
        self._score = score
        self._apply_constraints([layer])
        _count_iteration(conf, it)
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
    try:
        items = iter(data)
    except TypeError:
        raise DL4JInvalidInputException(
            f"expected an array, a DataSet, a (features, labels) pair or a DataSetIterator, got {type(data).__name__}"
        ) from None
    yield from items


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


def _count_iteration(conf: Any, done: int) -> None:
    """``conf.iteration_count = done + 1`` without pydantic's per-assignment validation (an int it produced itself;
    validate_assignment costs tens of microseconds, a noticeable part of a small training step)."""
    conf.__dict__["iteration_count"] = done + 1
