"""The updater: DL4J's block layout of the flat updater state and its update pipeline.

Parameters are walked in layout order; consecutive parameters whose updater configurations are equal share a
block, except that a block never mixes pretrain-only parameters with others, nor pretrain parameters of two
layers. Each block's state is one contiguous slice of the state vector; inside it each state variable (Adam: m,
then v) covers all parameters of the block — so DL4J's ``updaterState.bin`` maps onto it without reshuffling.

One update (DL4J's ``BaseMultiLayerUpdater.update``), per layer: divide by the minibatch size, gradient
normalisation; then per parameter one fused kernel: L1/L2 added to the gradient, the updater rule, WeightDecay,
``w -= update``. Blocks of pretrain-only parameters are skipped in supervised training.

A step that would overflow changes nothing: before writing, each block is scanned once (``scan_block``: the
regularisation score, and sums that bound every new value); where the bounds prove the update finite
(``finite_bounds``) it is written directly, elsewhere the kernel first runs dry (computing, writing nothing) and
the step is written only when no dry run objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ...kernels import updaters as K
from ...learning.config import IUpdater
from ...learning.regularization import L1Regularization, L2Regularization, Regularization, WeightDecay
from .finite_bounds import StateBounds, proved_state_bounds

if TYPE_CHECKING:
    from ..layers.base import EngineLayer


@dataclass
class ParamEntry:
    """One parameter as the updater sees it."""

    layer: "EngineLayer"
    key: str
    offset: int  # in the flat parameter/gradient vector the updater works on
    length: int
    updater: IUpdater
    pretrain: bool
    regularization: list[Regularization]
    block_offset: int = 0  # position inside its block


@dataclass
class UpdaterBlock:
    entries: list[ParamEntry]
    updater: IUpdater
    pretrain: bool
    state_offset: int = 0
    length: int = 0
    kernel: Any = None
    n_state: int = 0
    bounds: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))  # entry boundaries in the block
    coefs: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # per entry: scale, l1, l2, wd (per update)
    reg: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # per entry: score's L1 and ½(L2 + WD) coef.
    stats: np.ndarray = field(default_factory=lambda: np.zeros(2))  # scan_block's sums
    constant_regs: bool = False  # every regularisation coefficient is a FixedSchedule
    coef_key: Any = None  # (lr, scale, normalised layers) that ``coefs``, ``reg`` and ``coef_max`` were made for
    coef_max: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # max |scale|, |l1|, |l2|, |wd|

    @property
    def state_length(self) -> int:
        return self.n_state * self.length


def _same_block(prev: ParamEntry, cur: ParamEntry) -> bool:
    if prev.updater != cur.updater or prev.pretrain != cur.pretrain:
        return False
    if cur.pretrain and prev.layer is not cur.layer:
        return False
    return True


def param_entries(layers: Sequence["EngineLayer"], base_offset: int = 0) -> list[ParamEntry]:
    """The updater's view of the parameters of ``layers`` (in layout order, offsets relative to the first)."""
    entries: list[ParamEntry] = []
    offset = 0
    for layer in layers:
        conf = layer.conf
        weight_keys = set(conf.weightKeys()) if hasattr(conf, "weightKeys") else set()
        bias_keys = set(conf.biasKeys()) if hasattr(conf, "biasKeys") else set()
        for key in layer.keys:
            n = layer.param_sizes[key]
            updater = conf.updater
            regs: list[Regularization] = []
            if key in bias_keys:
                if conf.bias_updater is not None:
                    updater = conf.bias_updater
                regs = list(conf.regularization_bias)
            elif key in weight_keys:
                regs = list(conf.regularization)
            entries.append(
                ParamEntry(layer, key, base_offset + offset, n, updater, conf.isPretrainParam(key), regs)
            )
            offset += n
    return entries


class BlockUpdater:
    """Updater state and update rule for a set of parameters (a whole network, or one layer for pretraining)."""

    def __init__(self, entries: list[ParamEntry], dtype: np.dtype) -> None:
        self.entries = entries
        self.blocks: list[UpdaterBlock] = []
        for e in entries:
            if self.blocks and _same_block(self.blocks[-1].entries[-1], e):
                self.blocks[-1].entries.append(e)
            else:
                self.blocks.append(UpdaterBlock([e], e.updater, e.pretrain))
        state_offset = 0
        for b in self.blocks:
            name = type(b.updater).__name__
            if name not in K.STEP_KERNEL_BY_NAME:
                raise ValueError(f"no update rule for updater class {name}")
            b.kernel = K.STEP_KERNEL_BY_NAME[name]
            b.n_state = K.STATE_SIZE_MULTIPLIER[name]
            pos = 0
            for e in b.entries:
                e.block_offset = pos
                pos += e.length
            b.length = pos
            b.bounds = np.array([0] + list(np.cumsum([e.length for e in b.entries])), dtype=np.int64)
            b.coefs = np.zeros((len(b.entries), 4))
            b.reg = np.zeros((len(b.entries), 2))
            b.stats = np.zeros(2 + 2 * b.n_state)
            b.constant_regs = all(r.is_constant() for e in b.entries for r in e.regularization)
            b.state_offset = state_offset
            state_offset += b.state_length
        self._state = np.zeros(state_offset, dtype=dtype)
        # per block: bounds of its state from the last proved update, valid while nothing else can have written it
        self._tracked: list[StateBounds | None] = [None] * len(self.blocks)
        self._view_cache: tuple[np.ndarray, np.ndarray, list] | None = None
        self.reset_state()
        self._layers = []
        for e in entries:
            if not any(e.layer is l for l in self._layers):
                self._layers.append(e.layer)

    @property
    def state(self) -> np.ndarray:
        """The flat updater state (a view: whoever holds it may write it, so the state bounds carried from one
        update to the next are dropped and the next update reads the state again)."""
        self._tracked = [None] * len(self.blocks)
        return self._state

    def reset_state(self) -> None:
        for b in self.blocks:
            name = type(b.updater).__name__
            init = K.state_initial_value(name, getattr(b.updater, "epsilon", None))
            self.state[b.state_offset : b.state_offset + b.state_length] = init  # (through the property)

    @property
    def state_size(self) -> int:
        return self._state.shape[0]

    def set_state(self, values: np.ndarray) -> None:
        flat = np.asarray(values).reshape(-1)
        if flat.shape[0] != self._state.shape[0]:
            raise ValueError(f"updater state has {self._state.shape[0]} values, got {flat.shape[0]}")
        self.state[:] = flat  # (through the property)

    def update(
        self,
        params: np.ndarray,
        grads: np.ndarray,
        iteration: int,
        epoch: int,
        batch_size: int,
        divide_by_minibatch: bool = True,
        skip_pretrain: bool = True,
    ) -> ParamEntry | None:
        """One update of ``params`` (flat, same layout as the entries' offsets) from the raw summed ``grads``:
        :meth:`prepare`, then :meth:`PreparedUpdate.apply` — None when the update was applied, else the first
        parameter whose update would be non-finite (parameters and state are then untouched)."""
        return self.prepare(params, grads, iteration, epoch, batch_size, divide_by_minibatch, skip_pretrain).apply()

    def prepare(
        self,
        params: np.ndarray,
        grads: np.ndarray,
        iteration: int,
        epoch: int,
        batch_size: int,
        divide_by_minibatch: bool = True,
        skip_pretrain: bool = True,
    ) -> "PreparedUpdate":
        """Everything of an update but writing it: minibatch division and gradient normalisation (in place in
        ``grads``), the per-parameter coefficients, and one scan per block that gives the regularisation score of
        the parameters this update touches (before the update, as DL4J scores) and decides which blocks need a dry
        run. Nothing in ``params`` or the state changes until :meth:`PreparedUpdate.apply`."""
        scale = 1.0 / batch_size if divide_by_minibatch and batch_size > 0 else 1.0
        normalised = self._normalise_gradients(grads, scale, skip_pretrain)
        calls, score = self._kernel_calls(params, grads, iteration, epoch, scale, normalised, skip_pretrain)
        return PreparedUpdate(self, calls, score)

    def _normalise_gradients(self, grads: np.ndarray, scale: float, skip_pretrain: bool) -> set[int]:
        """Gradient normalisation per layer (after the minibatch division); ids of the layers it ran on."""
        normalised: set[int] = set()
        for layer in self._layers:
            mode = layer.gradnorm_code
            if mode != K.GRADNORM_NONE:
                slices = [grads[e.offset : e.offset + e.length] for e in self.entries
                          if e.layer is layer and not (skip_pretrain and e.pretrain)]
                for s in slices:
                    K.scale_inplace(s, scale)
                K.normalize_gradients(mode, layer.conf.gradient_normalization_threshold, slices)
                normalised.add(id(layer))
        return normalised

    def _kernel_calls(self, params: np.ndarray, grads: np.ndarray, iteration: int, epoch: int, scale: float,
                      normalised: set[int], skip_pretrain: bool) -> tuple[list["_BlockCall"], float]:
        """A call for every block this update touches, in layout order, and their regularisation score."""
        views = self._views(params, grads)
        calls = []
        score = 0.0
        for i, (b, (w, g, s2d, *states)) in enumerate(zip(self.blocks, views)):
            if skip_pretrain and b.pretrain:
                continue
            hyper, lr = _hyper_parameters(b.updater, iteration, epoch)
            key = (lr, scale, frozenset(normalised)) if b.constant_regs else None
            if key is None or key != b.coef_key:
                self._fill_coefficients(b, iteration, epoch, lr, scale, normalised)
                b.coef_key = key
            tracked = self._tracked[i]
            score += K.scan_block(w, g, s2d if tracked is None else s2d[:0], b.bounds, b.reg,
                                  b.stats if tracked is None else b.stats[:2])
            new_bounds = proved_state_bounds(type(b.updater).__name__, hyper, b.stats, b.coef_max, w.dtype,
                                             tracked)
            calls.append(_BlockCall(i, b, b.kernel, (w, g, *states, b.bounds, b.coefs, *hyper), new_bounds))
        return calls, score

    @staticmethod
    def _fill_coefficients(b: UpdaterBlock, iteration: int, epoch: int, lr: float, scale: float,
                           normalised: set[int]) -> None:
        """The block's per-parameter update coefficients (scale, l1, l2, wd), score coefficients and maxima."""
        coefs, reg = b.coefs, b.reg
        cmax = [0.0, 0.0, 0.0, 0.0]
        for k, e in enumerate(b.entries):
            l1 = l2 = wd = s1 = s2 = 0.0
            for r in e.regularization:
                c = r.coefficient(iteration, epoch)
                if isinstance(r, L1Regularization):
                    l1 += c
                    s1 += c
                elif isinstance(r, L2Regularization):
                    l2 += c
                    s2 += 0.5 * c
                elif isinstance(r, WeightDecay):
                    wd += c * (lr if r.apply_lr else 1.0)
                    s2 += 0.5 * c
            row = coefs[k]
            row[0] = 1.0 if id(e.layer) in normalised else scale
            row[1] = l1
            row[2] = l2
            row[3] = wd
            reg[k, 0] = s1
            reg[k, 1] = s2
            for j in range(4):
                cmax[j] = max(cmax[j], abs(float(row[j])))
        b.coef_max = cmax

    def _views(self, params: np.ndarray, grads: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        """Per block: (parameter, gradient, state [V, L], *state variables) views — built once per set of buffers."""
        cached = self._view_cache
        if cached is not None and cached[0] is params and cached[1] is grads:
            return cached[2]
        views = []
        for b in self.blocks:
            p0 = b.entries[0].offset
            s2d = self._state[b.state_offset : b.state_offset + b.state_length].reshape(b.n_state, b.length)
            views.append((params[p0 : p0 + b.length], grads[p0 : p0 + b.length], s2d, *s2d))
        self._view_cache = (params, grads, views)
        return views


@dataclass
class _BlockCall:
    index: int
    block: UpdaterBlock
    kernel: Any
    args: tuple  # all kernel arguments but ``commit``
    new_bounds: StateBounds | None  # the update is proved finite (no dry run needed), and its new state's bounds


class PreparedUpdate:
    """An update computed up to its writing (:meth:`BlockUpdater.prepare`)."""

    def __init__(self, updater: BlockUpdater, calls: list[_BlockCall], regularization_score: float) -> None:
        self._updater = updater
        self.calls = calls
        #: DL4J's regularisation score of the parameters the update touches (L1 λΣ|w|, L2/WeightDecay ½λΣw²)
        self.regularization_score = regularization_score

    def apply(self) -> ParamEntry | None:
        """Write the update unless a block's new values would be NaN/±inf; then return the first parameter that
        objects and write nothing."""
        for c in self.calls:
            if c.new_bounds is None and c.kernel(*c.args, False):
                return _refusing_entry(c.block, c.kernel, c.args)
        tracked = self._updater._tracked
        for c in self.calls:
            c.kernel(*c.args, True)
            tracked[c.index] = c.new_bounds
        return None


def _refusing_entry(block: UpdaterBlock, kernel: Any, args: tuple) -> ParamEntry:
    """The first parameter of ``block`` whose dry run objects (``args``: the block's kernel arguments)."""
    n_arrays = 2 + block.n_state
    arrays, hyper = args[:n_arrays], args[n_arrays + 2 :]
    for k, e in enumerate(block.entries):
        lo, hi = int(block.bounds[k]), int(block.bounds[k + 1])
        bounds = np.array([0, hi - lo], dtype=np.int64)
        if kernel(*(a[lo:hi] for a in arrays), bounds, block.coefs[k : k + 1], *hyper, False):
            return e
    return block.entries[0]


def _hyper_parameters(u: IUpdater, iteration: int, epoch: int) -> tuple[tuple[Any, ...], float]:
    """Kernel hyper-parameter tuple for updater ``u`` at this iteration, and its learning rate (1.0 if none)."""
    name = type(u).__name__
    lr = u.getLearningRate(iteration, epoch) if u.has_learning_rate else 1.0
    if name == "Sgd":
        return (lr,), lr
    if name == "NoOp":
        return (), 1.0
    if name in ("Adam", "AdaMax", "Nadam", "AMSGrad"):
        return (lr, u.beta1, u.beta2, u.epsilon, int(iteration)), lr
    if name == "Nesterovs":
        return (lr, u.getMomentum(iteration, epoch)), lr
    if name == "RmsProp":
        return (lr, u.rms_decay, u.epsilon), lr
    if name == "AdaGrad":
        return (lr, u.epsilon), lr
    if name == "AdaDelta":
        return (u.rho, u.epsilon), 1.0
    raise ValueError(f"no update rule for updater class {name}")


def regularization_score(regs: list[Regularization], w: np.ndarray, iteration: int, epoch: int) -> float:
    """DL4J's regularisation score of one parameter: L1 λΣ|w|; L2 and WeightDecay ½λΣw² (not divided by N)."""
    from ...kernels.reductions import sum_abs, sum_squares

    total = 0.0
    for r in regs:
        c = r.coefficient(iteration, epoch)
        if c == 0.0:
            continue
        if isinstance(r, L1Regularization):
            total += c * sum_abs(w)
        else:
            total += 0.5 * c * sum_squares(w)
    return total
