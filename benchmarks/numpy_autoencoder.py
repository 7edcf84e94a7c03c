"""Plain-NumPy reference of one AutoEncoder pretraining step (the NumPy column of ``python -m benchmarks``).

The same model and step as dl4py's engine with the benchmark's configuration — tied weights, masking noise,
sigmoid encoder and decoder, binary cross-entropy (XENT, predictions clipped to [1e-5, 1 − 1e-5]) against the
clean input, gradient divided by the minibatch size, Adam with DL4J's update rule — written the way NumPy code is
usually written: one new array per operation, no fused kernels, no preallocated buffers. float32 throughout.
"""
from __future__ import annotations

import numpy as np


class NumpyDenoisingAutoencoder:
    def __init__(self, n_in: int, n_out: int, corruption: float = 0.3, lr: float = 1e-3, seed: int = 0,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        rng = np.random.default_rng(seed)
        std = np.sqrt(2.0 / (n_in + n_out))  # Xavier (DL4J: normal, std sqrt(2 / (fanIn + fanOut)))
        self.W = (rng.standard_normal((n_in, n_out)) * std).astype(np.float32)
        self.b = np.zeros(n_out, dtype=np.float32)
        self.vb = np.zeros(n_in, dtype=np.float32)
        self.params = [self.W, self.b, self.vb]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.corruption = corruption
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.rng = rng
        self.t = 0

    @staticmethod
    def _sigmoid(z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-z))

    def step(self, x: np.ndarray) -> float:
        """One pretraining step on the minibatch ``x`` [N, nIn] (float32); returns the score before the update."""
        n = x.shape[0]
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.corruption
        xt = x * keep
        h = self._sigmoid(xt @ self.W + self.b)
        xhat = self._sigmoid(h @ self.W.T + self.vb)
        a = np.clip(xhat, 1e-5, 1.0 - 1e-5)
        score = float(-np.sum(x * np.log(a) + (1.0 - x) * np.log(1.0 - a)) / n)
        dzv = xhat - x  # XENT through the sigmoid
        dh = dzv @ self.W
        dzh = dh * h * (1.0 - h)
        gW = dzv.T @ h + xt.T @ dzh
        grads = [gW / n, dzh.sum(axis=0) / n, dzv.sum(axis=0) / n]
        self.t += 1
        alpha = self.lr * np.sqrt(1.0 - self.beta2 ** self.t) / (1.0 - self.beta1 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            p -= (alpha * m / (np.sqrt(v) + self.eps)).astype(np.float32)
        return score
