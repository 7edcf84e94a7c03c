"""Plain-NumPy reference of one MLPMnist-shaped supervised training step (baseline of ``python -m benchmarks``).

784-64-10: a tanh DenseLayer and a softmax OutputLayer with MCXENT, Xavier init, zero biases, Adam with DL4J's
rule and order (gradient summed over the minibatch, divided by N, L2 added on weights only, then Adam), score =
mean cross-entropy + ½·λ·Σw². Written the way NumPy code usually is: a new array per operation, weights as plain
C-contiguous [in, out] arrays, one Adam update per tensor. float32 throughout. Not an API.
"""
from __future__ import annotations

import numpy as np


class NumpyMLP:
    """Dense(tanh) → Output(softmax, MCXENT) trained with Adam + L2 (weights only)."""

    def __init__(self, n_in: int = 784, n_hidden: int = 64, n_out: int = 10, lr: float = 1e-3, l2: float = 1e-4,
                 seed: int = 0, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        rng = np.random.default_rng(seed)

        def xavier(fan_in: int, fan_out: int) -> np.ndarray:
            return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))).astype(np.float32)

        self.params = {
            "W0": xavier(n_in, n_hidden), "b0": np.zeros(n_hidden, np.float32),
            "W1": xavier(n_hidden, n_out), "b1": np.zeros(n_out, np.float32),
        }
        self.m = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.lr, self.l2, self.beta1, self.beta2, self.eps = lr, l2, beta1, beta2, eps
        self.t = 0

    def output(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        h = np.tanh(x @ p["W0"] + p["b0"])
        z = h @ p["W1"] + p["b1"]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One Adam step on (x [N, 784], one-hot y [N, 10]); returns the score before the update."""
        p = self.params
        n = x.shape[0]
        h = np.tanh(x @ p["W0"] + p["b0"])
        z = h @ p["W1"] + p["b1"]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        prob = e / e.sum(axis=1, keepdims=True)
        loss = -np.sum(y * np.log(np.maximum(prob, np.float32(1e-30)))) / n
        reg = 0.5 * self.l2 * (np.sum(p["W0"] * p["W0"]) + np.sum(p["W1"] * p["W1"]))
        d1 = prob - y
        grads = {"W1": h.T @ d1, "b1": d1.sum(axis=0)}
        d0 = (d1 @ p["W1"].T) * (1.0 - h * h)
        grads["W0"], grads["b0"] = x.T @ d0, d0.sum(axis=0)
        self.t += 1
        alpha = self.lr * np.sqrt(1.0 - self.beta2 ** self.t) / (1.0 - self.beta1 ** self.t)
        for k, w in p.items():
            g = grads[k] / n
            if k.startswith("W"):
                g = g + self.l2 * w
            self.m[k] = self.beta1 * self.m[k] + (1.0 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1.0 - self.beta2) * g * g
            p[k] = (w - alpha * self.m[k] / (np.sqrt(self.v[k]) + self.eps)).astype(np.float32)
        return float(loss + reg)
