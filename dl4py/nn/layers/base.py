"""Engine layers: the NumPy/numba counterparts of layer configurations.

An engine layer owns views into the network's flat parameter and gradient vectors (DL4J's layout: each weight
matrix column-major, so ``W`` [nIn, nOut] is the transpose of a C-contiguous [nOut, nIn] block) and implements
its forward and backward passes by hand. Scratch buffers are allocated once per minibatch size and reused, so a
training step allocates nothing after the first minibatch.

Scratch buffers (and the workspace key of the call in progress) are kept per thread: two threads running
inference through the same layer never share a buffer (see "Thread safety" in :class:`MultiLayerNetwork`).
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..._naming import snake_aliases
from ...exceptions import DL4JInvalidConfigException, DL4JInvalidInputException
from ...kernels import updaters as KU
from ..conf.layers import BaseLayer, Layer
from .activation_spec import ActivationSpec, activation_spec

if TYPE_CHECKING:
    from ..multilayer import MultiLayerNetwork


class Workspace:
    """Scratch arrays for one minibatch size, created on first use by name and shape."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        arr = self._arrays.get(name)
        if arr is not None and arr.shape == shape and arr.dtype == (self.dtype if dtype is None else dtype):
            return arr  # (the hot path: ~45 calls per VAE step)
        arr = np.empty(shape, dtype=np.dtype(dtype or self.dtype))
        self._arrays[name] = arr
        return arr


class EngineLayer:
    """Base of engine layers. Subclasses implement ``forward`` and ``backward`` (and, for pretrainable layers,
    ``pretrain_gradient_and_score``)."""

    def __init__(self, conf: Layer, index: int, dtype: np.dtype) -> None:
        self.conf = conf
        self.index = index
        self.dtype = np.dtype(dtype)
        self.shapes: dict[str, tuple[int, int]] = dict(conf.paramShapes())
        self.keys: list[str] = list(self.shapes)
        self.param_sizes = {k: r * c for k, (r, c) in self.shapes.items()}
        self.num_params = sum(self.param_sizes.values())
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.param_flat: np.ndarray = np.zeros(0, dtype=self.dtype)
        self.grad_flat: np.ndarray = np.zeros(0, dtype=self.dtype)
        self.network: "MultiLayerNetwork | None" = None
        self._tls = threading.local()  # per-thread scratch state: workspaces, current workspace key
        self.gradnorm_code = KU.GRADNORM_NONE
        if isinstance(conf, BaseLayer) and conf.gradient_normalization is not None:
            self.gradnorm_code = KU.GRADNORM_CODE_BY_NAME[conf.gradient_normalization.value]
        self.act: ActivationSpec | None = (
            activation_spec(conf.activation, self.describe()) if getattr(conf, "activation", None) is not None else None
        )

    # -- identity ------------------------------------------------------------------------------------------------
    #: True when ``pretrain_gradient_and_score`` writes every element of the layer's gradient (no accumulation),
    #: so the network need not zero the gradient before a pretraining step.
    pretrain_writes_whole_gradient: bool = False
    #: True when ``backward`` (or an output layer's ``backward_from_labels``) writes every element of the layer's
    #: gradient, so the network need not zero the gradient before a supervised step.
    backprop_writes_whole_gradient: bool = False

    def describe(self) -> str:
        return self.conf.describe(self.index)

    def type(self) -> str:
        return "FEED_FORWARD"

    def isPretrainLayer(self) -> bool:
        return self.conf.isPretrainLayer()

    # -- parameters ----------------------------------------------------------------------------------------------
    def bind(self, param_flat: np.ndarray, grad_flat: np.ndarray) -> None:
        """Attach views into the network's flat vectors (1-D slices of length ``num_params``)."""
        self.param_flat = param_flat
        self.grad_flat = grad_flat
        offset = 0
        for key in self.keys:
            rows, cols = self.shapes[key]
            n = rows * cols
            # column-major [rows, cols] == transpose of a C-contiguous [cols, rows] block
            self.params[key] = param_flat[offset : offset + n].reshape(cols, rows).T
            self.grads[key] = grad_flat[offset : offset + n].reshape(cols, rows).T
            offset += n

    def param_slice(self, key: str, flat: np.ndarray | None = None) -> np.ndarray:
        """1-D slice of parameter ``key`` in ``flat`` (default: the parameter vector)."""
        flat = self.param_flat if flat is None else flat
        offset = 0
        for k in self.keys:
            if k == key:
                return flat[offset : offset + self.param_sizes[k]]
            offset += self.param_sizes[k]
        raise KeyError(key)

    def init_params(self, rng: np.random.Generator) -> None:
        """Initialise parameters with the configured weight init (biases with biasInit)."""
        from ..params.weight_init import init_bias, init_weights

        conf = self.conf
        weights = set(conf.weightKeys()) if isinstance(conf, BaseLayer) else set()
        for key in self.keys:
            view = self.params[key]
            if key in weights and key != "g":
                init_weights(conf.weight_init, view.shape[0], view.shape[1], view, rng)
            elif key == "g":
                init_bias(conf.gain_init, view)
            else:
                init_bias(self.bias_init_value(key), view)

    def bias_init_value(self, key: str) -> float:
        return float(getattr(self.conf, "bias_init", 0.0))

    @property
    def _workspaces(self) -> dict[int, Workspace]:
        """This thread's workspaces, by minibatch size."""
        tls = self._tls
        try:
            return tls.workspaces
        except AttributeError:
            tls.workspaces = {}
            return tls.workspaces

    @property
    def _ws_key(self) -> int:
        """The workspace key (minibatch size) of the call in progress in this thread (layers that decode more rows
        than the minibatch has, like the VAE, key their buffers by it)."""
        return getattr(self._tls, "ws_key", 0)

    @_ws_key.setter
    def _ws_key(self, value: int) -> None:
        self._tls.ws_key = value

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_tls", None)  # thread-local scratch buffers are not part of a copy
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._tls = threading.local()

    def ws(self, n: int) -> Workspace:
        """This thread's workspace for minibatch size ``n``."""
        try:
            spaces = self._tls.workspaces
        except AttributeError:
            spaces = self._workspaces
        w = spaces.get(n)
        if w is None:
            if len(spaces) >= 4:  # keep a few batch sizes (typical: full batches + the last one)
                spaces.pop(next(iter(spaces)))
            w = Workspace(self.dtype)
            spaces[n] = w
        return w

    @property
    def rng(self) -> np.random.Generator:
        if self.network is None:
            raise DL4JInvalidConfigException(f"{self.describe()}: layer is not part of an initialised network")
        return self.network.rng

    def paramTable(self) -> dict[str, np.ndarray]:
        return dict(self.params)

    def numParams(self) -> int:
        return self.num_params

    def params_vector(self) -> np.ndarray:
        return self.param_flat

    # -- passes (subclasses) -------------------------------------------------------------------------------------
    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        """Activations for ``x``; keeps what ``backward`` needs. Returns a workspace buffer (do not keep it)."""
        raise NotImplementedError

    def backward(self, eps: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        """Given ∂L/∂output (summed over the batch), write ∂L/∂params into ``grads`` and return ∂L/∂input."""
        raise NotImplementedError

    def _counts(self) -> tuple[int, int]:
        """This layer's own (pretraining) iteration and epoch counters, which drive its schedules."""
        net = self.network
        if net is None:
            return 0, 0
        c = net.conf.confs[self.index]
        return c.iteration_count, c.epoch_count

    def _input(self, x: Any, cols: int, what: str = "input") -> np.ndarray:
        """A 2-D, non-empty, C-ordered, writeable array of the layer dtype with ``cols`` columns, or a clear error."""
        if (type(x) is np.ndarray and x.dtype == self.dtype and x.ndim == 2 and x.shape[1] == cols and x.shape[0]
                and x.flags.c_contiguous and x.flags.writeable):
            return x  # already an engine array: the per-step path (no message strings built)
        arr = to_numeric_array(x, f"{self.describe()}: {what}")
        if arr.dtype.kind not in "fiub":
            raise DL4JInvalidInputException(f"{self.describe()}: {what} must be numeric, got dtype {arr.dtype}")
        if arr.ndim != 2 or arr.shape[1] != cols:
            raise DL4JInvalidInputException(
                f"{self.describe()}: {what} has shape {tuple(arr.shape)}, expected [N, {cols}]"
            )
        if arr.shape[0] == 0:
            raise DL4JInvalidInputException(f"{self.describe()}: {what} is empty (0 rows)")
        arr = to_engine_array(arr, self.dtype, f"{self.describe()}: {what}")  # C order, writeable (numba)
        return arr

    def check_input(self, x: np.ndarray, expected_cols: int) -> None:
        if x.ndim != 2 or x.shape[1] != expected_cols:
            raise DL4JInvalidInputException(
                f"{self.describe()}: input has shape {tuple(x.shape)}, expected [N, {expected_cols}] "
                f"(layer nIn = {expected_cols})"
            )

    def regularization_score(self, backprop_only: bool, iteration: int, epoch: int) -> float:
        from ..updater import regularization_score

        conf = self.conf
        if not isinstance(conf, BaseLayer):
            return 0.0
        total = 0.0
        for key, kind, pretrain in self._regularized_keys():
            if backprop_only and pretrain:
                continue
            regs = conf.regularization if kind == "W" else conf.regularization_bias
            if regs:
                total += regularization_score(regs, self.param_slice(key), iteration, epoch)
        return total

    def _regularized_keys(self) -> list[tuple[str, str, bool]]:
        """(key, "W" or "b", pretrain-only) for the weight and bias parameters, in layout order (computed once:
        the configuration's key lists are rebuilt on every call, a per-step allocation)."""
        cached = getattr(self, "_reg_keys", None)
        if cached is None:
            conf = self.conf
            weights, biases = set(conf.weightKeys()), set(conf.biasKeys())
            cached = [(k, "W" if k in weights else "b", conf.isPretrainParam(k)) for k in self.keys
                      if k in weights or k in biases]
            self._reg_keys = cached
        return cached


# -- input conversion shared by the network and the layers' own public methods ----------------------------------
def to_numeric_array(x: Any, what: str) -> np.ndarray:
    """``np.asarray(x)``, refusing what is not a numeric (int, uint, bool or float) array."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects numpy cannot hold
        raise DL4JInvalidInputException(f"{what}: cannot be read as a numeric array ({exc})") from None
    if arr.dtype.kind not in "fiub":
        raise DL4JInvalidInputException(f"{what}: expected a numeric array, got dtype {arr.dtype}")
    return arr


def to_engine_array(arr: np.ndarray, dtype: Any, what: str) -> np.ndarray:
    """``arr`` itself when it is a C-contiguous, writeable array of ``dtype``; else such a copy (the kernels take
    nothing else). Finite values that overflow ``dtype`` (1e300 into float32) are refused, never made infinite."""
    if arr.dtype == dtype and arr.flags.c_contiguous and arr.flags.writeable:
        return arr
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.array(arr, dtype=dtype, order="C")
    if arr.dtype.kind == "f" and arr.dtype.itemsize > out.dtype.itemsize:
        lost = ~np.isfinite(out) & np.isfinite(arr)
        if lost.any():
            at = tuple(int(i) for i in np.argwhere(lost)[0])
            raise DL4JInvalidInputException(
                f"{what}: value {arr[at]!r} at {position(at)} is out of the range of {np.dtype(dtype).name}")
    return out


def check_finite_values(arr: np.ndarray, what: str) -> None:
    """NaN/±inf in a float array -> DL4JInvalidInputException naming the first row and column."""
    from ...kernels.reductions import all_finite

    if arr.dtype.kind != "f" or arr.size == 0:
        return
    if arr.dtype in (np.float32, np.float64):  # the kernel: one pass, no temporary
        finite = all_finite(arr.reshape(-1) if arr.flags.c_contiguous else np.ascontiguousarray(arr).reshape(-1))
    else:  # float16, longdouble: no numba kernel
        finite = bool(np.isfinite(arr).all())
    if not finite:
        at = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise DL4JInvalidInputException(f"{what}: non-finite value {arr[at]} at {position(at)}")


def position(index: tuple[int, ...]) -> str:
    """``row r, column c`` for a 2-D index (``row r`` for 1-D)."""
    if len(index) == 2:
        return f"row {index[0]}, column {index[1]}"
    if len(index) == 1:
        return f"row {index[0]}"
    return f"index {list(index)}"


_ENGINE_BY_CONFIG: dict[type, Callable[..., EngineLayer]] = {}


def register_engine_layer(config_class: type) -> Callable[[type], type]:
    """Class decorator: ``config_class`` (and its subclasses) are run by the decorated engine class."""

    def decorate(engine_class: type) -> type:
        _ENGINE_BY_CONFIG[config_class] = engine_class
        snake_aliases(engine_class)
        return engine_class

    return decorate


def create_engine_layer(conf: Layer, index: int, dtype: np.dtype) -> EngineLayer:
    """The engine layer for a configuration (the one ``instantiate`` hook of the design)."""
    for cls in type(conf).__mro__:
        engine = _ENGINE_BY_CONFIG.get(cls)
        if engine is not None:
            return engine(conf, index, dtype)
    raise DL4JInvalidConfigException(
        f"{conf.describe(index)}: dl4py has no engine for layer type {type(conf).__name__}"
    )


snake_aliases(EngineLayer)
