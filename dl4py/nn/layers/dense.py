"""Engine for ``DenseLayer`` (and the dense part of output layers): act(x·W + b), hand-written backward."""
from __future__ import annotations

import numpy as np

from ...exceptions import DL4JInvalidConfigException
from ...kernels._support import start_numba
from ..conf.layers import DenseLayer
from .base import EngineLayer, register_engine_layer


class DenseCore(EngineLayer):
    """x → z = dropout(x)·W + b → act(z). Gradients are sums over the minibatch."""

    backprop_writes_whole_gradient = True  # ∂W by one GEMM, ∂b by the activation's column sums

    def __init__(self, conf, index, dtype) -> None:
        super().__init__(conf, index, dtype)
        start_numba()  # numba's one-off start-up at network init, not in the first fit
        if getattr(conf, "has_layer_norm", False):
            raise DL4JInvalidConfigException(f"{self.describe()}: hasLayerNorm is not supported by dl4py's engine yet")
        self.n_in, self.n_out = conf.n_in, conf.n_out
        self.has_bias = "b" in self.shapes
        self._x = None
        self._mask_applied = False

    def _dropout(self, x: np.ndarray, train: bool) -> np.ndarray:
        drop = self.conf.drop_out
        self._mask_applied = False
        if not train or drop is None:
            return x
        net = self.network
        p = drop.getP(net.iteration_count if net else 0, net.epoch_count if net else 0)
        if p >= 1.0:
            return x
        ws = self.ws(x.shape[0])
        mask = ws.get("dropout_mask", x.shape)
        self.rng.random(out=mask, dtype=mask.dtype.type)
        np.less(mask, p, out=mask)  # 1.0 keep / 0.0 drop
        mask *= 1.0 / p
        xd = ws.get("x_dropped", x.shape)
        np.multiply(x, mask, out=xd)
        self._mask_applied = True
        return xd

    def preout(self, x: np.ndarray, train: bool) -> np.ndarray:
        """z = dropout(x)·W (+ b added by the caller's fused kernel); keeps the input for backward."""
        self.check_input(x, self.n_in)
        xd = self._dropout(x, train)
        self._x = xd
        z = self.ws(x.shape[0]).get("z", (x.shape[0], self.n_out))
        np.matmul(xd, self.params["W"], out=z)
        return z

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        z = self.preout(x, train)
        a = self.ws(x.shape[0]).get("a", z.shape)
        if self.has_bias:
            self.act.forward_bias(z, self.grad_free_bias(), a, train, self.network.rng if self.network else None)
        else:
            self.act.forward(z, a, train, self.network.rng if self.network else None)
        self._z, self._a = z, a
        return a

    def grad_free_bias(self) -> np.ndarray:
        return self.params["b"].reshape(-1)

    def backward(self, eps: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        ws = self.ws(eps.shape[0])
        delta = ws.get("delta", eps.shape)
        if self.has_bias:
            self.act.backward_bias(self._z, self._a, eps, delta, self.grads["b"].reshape(-1))
        else:
            self.act.backward(self._z, self._a, eps, delta)
        return self.backward_from_delta(delta, need_input_grad)

    def backward_from_delta(self, delta: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        """Given δ = ∂L/∂z (bias gradient already written), write ∂W and return ∂L/∂input."""
        # grads["W"] is the column-major [nIn, nOut] view, i.e. the transpose of a C-contiguous [nOut, nIn] block
        np.matmul(delta.T, self._x, out=self.grads["W"].T)
        if not need_input_grad:
            return None
        eps_in = self.ws(delta.shape[0]).get("eps_in", (delta.shape[0], self.n_in))
        np.matmul(delta, self.params["W"].T, out=eps_in)
        if self._mask_applied:
            eps_in *= self.ws(delta.shape[0]).get("dropout_mask", eps_in.shape)
        return eps_in


@register_engine_layer(DenseLayer)
class DenseLayerEngine(DenseCore):
    """Engine of ``DenseLayer`` (DL4J: ``org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer``)."""
