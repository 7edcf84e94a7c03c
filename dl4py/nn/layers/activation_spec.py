"""From an activation configuration to the kernel code and parameters the engine passes to numba."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...activations import IActivation
from ...exceptions import DL4JInvalidConfigException


@dataclass
class ActivationSpec:
    """Kernel code + parameter vector of one activation, with the forward/backward calls the layers use.

    RReLU draws one slope per element from U(l, u) in training (kept for the backward pass); at inference it is
    a leaky ReLU with slope (l+u)/2 — DL4J's intent (its code computes max(x, (l+u)/2), a bug).
    """

    name: str
    code: int
    params: np.ndarray
    conf: IActivation
    _alpha: dict = field(default_factory=dict, repr=False)

    @property
    def kernels(self):
        from ...kernels import activations as KA

        return KA

    def forward(self, z: np.ndarray, out: np.ndarray, train: bool = False, rng: np.random.Generator | None = None) -> None:
        if self.name == "RRELU" and train:
            alpha = self._draw(z.shape, z.dtype, rng)
            self.kernels.rrelu_forward_train(z, alpha, out)
        else:
            self.kernels.act_forward(self.code, self.params, z, out)

    def forward_bias(self, z: np.ndarray, b: np.ndarray, out: np.ndarray, train: bool = False,
                     rng: np.random.Generator | None = None) -> None:
        if self.name == "RRELU" and train:
            z += b
            self.forward(z, out, train, rng)
        else:
            self.kernels.bias_act_forward(self.code, self.params, z, b, out)

    def backward(self, z: np.ndarray, out: np.ndarray, eps: np.ndarray, delta: np.ndarray, train: bool = True) -> None:
        if self.name == "RRELU" and train and z.shape in self._alpha:
            self.kernels.rrelu_backward_train(z, self._alpha[z.shape], eps, delta)
        else:
            self.kernels.act_backward(self.code, self.params, z, out, eps, delta)

    def backward_bias(self, z: np.ndarray, out: np.ndarray, eps: np.ndarray, delta: np.ndarray, db: np.ndarray,
                      train: bool = True) -> None:
        if self.name == "RRELU" and train and z.shape in self._alpha:
            self.backward(z, out, eps, delta, train)
            np.sum(delta, axis=0, out=db)
        else:
            self.kernels.act_backward_bias(self.code, self.params, z, out, eps, delta, db)

    def _draw(self, shape, dtype, rng) -> np.ndarray:
        buf = self._alpha.get(shape)
        if buf is None or buf.dtype != dtype:
            buf = np.empty(shape, dtype=dtype)
            self._alpha[shape] = buf
        if rng is None:
            rng = np.random.default_rng()
        lo, hi = float(self.params[0]), float(self.params[1])
        rng.random(out=buf, dtype=buf.dtype.type)
        buf *= hi - lo
        buf += lo
        return buf


def _params(act: IActivation) -> list[float]:
    name = type(act).__name__
    if name in ("ActivationLReLU", "ActivationELU"):
        return [act.alpha]
    if name == "ActivationReLU":
        return [
            math.nan if act.max is None else act.max,
            0.0 if act.threshold is None else act.threshold,
            0.0 if act.negative_slope is None else act.negative_slope,
        ]
    if name == "ActivationRReLU":
        return [act.l, act.u]
    if name == "ActivationThresholdedReLU":
        return [act.theta]
    if name == "ActivationGELU":
        return [1.0 if act.precise else 0.0]
    return []


def activation_spec(act: IActivation, where: str = "") -> ActivationSpec:
    """The kernel-side description of ``act`` (a registered dl4py activation)."""
    from ...kernels.activations import CODE_BY_NAME

    name = getattr(act, "enum_name", None)
    if name is None or name not in CODE_BY_NAME:
        raise DL4JInvalidConfigException(
            f"{where}: activation {type(act).__name__} has no engine implementation; "
            f"supported: {', '.join(sorted(CODE_BY_NAME))}"
        )
    p = np.zeros(4, dtype=np.float64)
    values = _params(act)
    p[: len(values)] = values
    return ActivationSpec(name, CODE_BY_NAME[name], p, act)
