"""From a loss configuration to the kernel code, parameters and per-output weights the engine passes to numba."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...exceptions import DL4JInvalidConfigException
from ...lossfunctions import ILossFunction
from .activation_spec import ActivationSpec


@dataclass
class LossSpec:
    """Kernel-side description of one loss. ``sparse``: labels may be class indices [N, 1] (SparseMCXENT)."""

    name: str
    code: int
    params: np.ndarray
    weights: np.ndarray
    sparse: bool
    conf: ILossFunction

    def _weights(self, dtype) -> np.ndarray:
        if self.weights.dtype != dtype:
            self.weights = self.weights.astype(dtype)
        return self.weights

    def score_and_gradient(self, act: ActivationSpec, labels, z, a_buf, grad_out, row_scores) -> float:
        from ...kernels import losses as KL

        return KL.loss_score_and_gradient(
            self.code, self.params, act.code, act.params, labels, z, self._weights(z.dtype), a_buf, grad_out, row_scores
        )

    def score(self, act: ActivationSpec, labels, z, a_buf, row_scores) -> float:
        from ...kernels import losses as KL

        return KL.loss_score(self.code, self.params, act.code, act.params, labels, z, self._weights(z.dtype), a_buf, row_scores)


def loss_spec(loss: ILossFunction, where: str, n_out: int | None) -> LossSpec:
    from ...kernels.losses import CODE_BY_CLASS

    name = type(loss).__name__
    sparse = name == "LossSparseMCXENT"
    kernel_name = "LossMCXENT" if sparse else name
    if kernel_name not in CODE_BY_CLASS:
        raise DL4JInvalidConfigException(
            f"{where}: loss {name} has no engine implementation; supported: {', '.join(sorted(CODE_BY_CLASS))}"
        )
    p = np.zeros(4, dtype=np.float64)
    if hasattr(loss, "clip_eps"):
        p[0] = loss.clip_eps
    if hasattr(loss, "softmax_clip_eps"):
        p[0] = loss.softmax_clip_eps
    weights = getattr(loss, "weights", None)
    if weights is not None:
        if n_out is not None and len(weights) != n_out:
            raise DL4JInvalidConfigException(f"{where}: loss weights have {len(weights)} entries, expected nOut = {n_out}")
        w = np.asarray(weights, dtype=np.float64)
    else:
        w = np.zeros(0, dtype=np.float64)
    return LossSpec(name, CODE_BY_CLASS[kernel_name], p, w, sparse, loss)
