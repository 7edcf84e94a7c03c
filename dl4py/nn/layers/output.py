"""Engines for ``OutputLayer`` and ``LossLayer``: forward, and the loss's score and gradient (fused kernels)."""
from __future__ import annotations

import numpy as np

from ...exceptions import DL4JInvalidConfigException, DL4JInvalidInputException
from ...kernels._support import start_numba
from ..conf.layers import BaseOutputLayer, LossLayer
from .base import EngineLayer, register_engine_layer, to_numeric_array
from .dense import DenseCore
from .loss_spec import LossSpec, loss_spec


class OutputMixin:
    """Score and gradient of the configured loss from the pre-activation z."""

    loss: LossSpec

    def _labels(self, labels: np.ndarray, n: int, n_out: int) -> np.ndarray:
        y = to_numeric_array(labels, f"{self.describe()}: labels")
        if self.loss.sparse and y.ndim == 2 and y.shape[1] == 1:
            with np.errstate(invalid="ignore"):
                idx = y.reshape(-1).astype(np.int64)
            if idx.min(initial=0) < 0 or idx.max(initial=0) >= n_out or np.any(idx != y.reshape(-1)):
                raise DL4JInvalidInputException(
                    f"{self.describe()}: class index labels must be integers in [0, {n_out})")
            onehot = self.ws(n).get("labels_onehot", (n, n_out))
            onehot[:] = 0
            onehot[np.arange(n), idx] = 1
            return onehot
        if y.ndim != 2 or y.shape != (n, n_out):
            raise DL4JInvalidInputException(
                f"{self.describe()}: labels have shape {tuple(y.shape)}, expected [{n}, {n_out}]"
            )
        if y.dtype != self.dtype or not y.flags.c_contiguous:
            buf = self.ws(n).get("labels", (n, n_out))
            buf[...] = y
            y = buf
        return y

    def score_and_delta(self, z: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """Summed loss over the minibatch and δ = ∂(summed loss)/∂z (a workspace buffer)."""
        n, d = z.shape
        y = self._labels(labels, n, d)
        ws = self.ws(n)
        a_buf = ws.get("loss_a", (n, d))
        delta = ws.get("delta", (n, d))
        rows = ws.get("row_scores", (n,))
        total = self.loss.score_and_gradient(self.act, y, z, a_buf, delta, rows)
        return total, delta

    def score_array(self, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Per-example loss (DL4J's computeScoreArray), a new array."""
        n, d = z.shape
        y = self._labels(labels, n, d)
        ws = self.ws(n)
        rows = np.empty(n, dtype=np.float64)
        self.loss.score(self.act, y, z, ws.get("loss_a", (n, d)), rows)
        return rows


@register_engine_layer(BaseOutputLayer)
class OutputLayerEngine(OutputMixin, DenseCore):
    """Engine of ``OutputLayer`` (DL4J: ``org.deeplearning4j.nn.layers.OutputLayer``)."""

    def __init__(self, conf, index, dtype) -> None:
        super().__init__(conf, index, dtype)
        self.loss = loss_spec(conf.loss_function, self.describe(), conf.n_out)

    def preout_with_bias(self, x: np.ndarray, train: bool) -> np.ndarray:
        z = self.preout(x, train)
        if self.has_bias:
            z += self.params["b"][0]
        return z

    def backward_from_labels(self, x_z: np.ndarray, labels: np.ndarray, need_input_grad: bool):
        """Score (summed) and ∂L/∂input, writing ∂W, ∂b. ``x_z`` is the pre-activation from ``preout_with_bias``."""
        total, delta = self.score_and_delta(x_z, labels)
        if self.has_bias:
            np.sum(delta, axis=0, out=self.grads["b"][0])
        return total, self.backward_from_delta(delta, need_input_grad)


@register_engine_layer(LossLayer)
class LossLayerEngine(OutputMixin, EngineLayer):
    """Engine of ``LossLayer``: the activation and loss applied to the input itself (no parameters)."""

    def __init__(self, conf, index, dtype) -> None:
        super().__init__(conf, index, dtype)
        start_numba()  # numba's one-off start-up at network init, not in the first fit
        self.loss = loss_spec(conf.loss_function, self.describe(), None)

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        a = self.ws(x.shape[0]).get("a", x.shape)
        self.act.forward(x, a, train)
        return a

    def preout_with_bias(self, x: np.ndarray, train: bool) -> np.ndarray:
        return x

    def backward_from_labels(self, z: np.ndarray, labels: np.ndarray, need_input_grad: bool):
        total, delta = self.score_and_delta(z, labels)
        if not need_input_grad:
            return total, None
        return total, delta
