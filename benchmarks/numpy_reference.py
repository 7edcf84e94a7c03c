"""Plain-NumPy reference of one VAE pretraining step and of encoder-mean inference (``python -m benchmarks``).

The same model and maths as dl4py's VariationalAutoencoder engine with a Bernoulli(sigmoid) reconstruction
distribution, one sample of z, identity pzx activation (the only case this reference implements): a new array per
operation, weights as ordinary C-contiguous [in, out] arrays, per-tensor Adam with L2 added to the batch-averaged
gradient (DL4J's order). Written for speed comparison, not as an API.
"""
from __future__ import annotations

import numpy as np


def _leaky(z: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(z >= 0, z, alpha * z)


def _dleaky(z: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(z >= 0, np.float32(1.0), np.float32(alpha))


class NumpyVAE:
    """784-[enc]-K-[dec]-784 VAE, leaky ReLU hidden layers, Bernoulli(sigmoid) output, Adam, L2 on weights."""

    def __init__(self, n_in=784, enc=(256, 256), n_latent=32, dec=(256, 256), lr=1e-3, l2=1e-4, alpha=0.01,
                 seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        self.alpha = alpha
        self.lr, self.l2 = lr, l2
        self.beta1, self.beta2, self.adam_eps = 0.9, 0.999, 1e-8
        self.t = 0

        def xavier(fan_in, fan_out):
            return (rng.normal(size=(fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))).astype(self.dtype)

        self.params: dict[str, np.ndarray] = {}
        prev = n_in
        for i, s in enumerate(enc):
            self.params[f"e{i}W"], self.params[f"e{i}b"] = xavier(prev, s), np.zeros(s, self.dtype)
            prev = s
        self.params["muW"], self.params["mub"] = xavier(prev, n_latent), np.zeros(n_latent, self.dtype)
        self.params["lvW"], self.params["lvb"] = xavier(prev, n_latent), np.zeros(n_latent, self.dtype)
        prev = n_latent
        for j, s in enumerate(dec):
            self.params[f"d{j}W"], self.params[f"d{j}b"] = xavier(prev, s), np.zeros(s, self.dtype)
            prev = s
        self.params["xW"], self.params["xb"] = xavier(prev, n_in), np.zeros(n_in, self.dtype)
        self.n_enc, self.n_dec = len(enc), len(dec)
        self.m = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.rng = np.random.default_rng(seed + 1)

    def encode_mean(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        h = x
        for i in range(self.n_enc):
            h = _leaky(h @ p[f"e{i}W"] + p[f"e{i}b"], self.alpha)
        return h @ p["muW"] + p["mub"]

    def step(self, x: np.ndarray) -> float:
        """One Adam step on minibatch x; returns the score (KL + Bernoulli NLL averaged over the batch + L2)."""
        p = self.params
        n = x.shape[0]
        # forward
        hs, zs = [x], []
        for i in range(self.n_enc):
            z = hs[-1] @ p[f"e{i}W"] + p[f"e{i}b"]
            zs.append(z)
            hs.append(_leaky(z, self.alpha))
        h = hs[-1]
        mu = h @ p["muW"] + p["mub"]
        lv = h @ p["lvW"] + p["lvb"]
        var = np.exp(lv)
        sig = np.sqrt(var)
        eps = self.rng.standard_normal(mu.shape, dtype=self.dtype)
        zlat = mu + sig * eps
        us, cs = [zlat], []
        for j in range(self.n_dec):
            c = us[-1] @ p[f"d{j}W"] + p[f"d{j}b"]
            cs.append(c)
            us.append(_leaky(c, self.alpha))
        o = us[-1] @ p["xW"] + p["xb"]
        prob = 1.0 / (1.0 + np.exp(-o))
        with np.errstate(divide="ignore"):
            la = np.log(prob)
            lb = np.log(1.0 - prob)
        la[np.isinf(la)] = 0.0
        lb[np.isinf(lb)] = 0.0
        nll = -np.sum(x * la + (1.0 - x) * lb)
        kl = -0.5 * np.sum(1.0 + lv - mu * mu - var)
        # backward (gradients summed over the minibatch)
        g: dict[str, np.ndarray] = {}
        d = prob - x
        g["xW"], g["xb"] = us[-1].T @ d, d.sum(axis=0)
        delta = d @ p["xW"].T
        for j in range(self.n_dec - 1, -1, -1):
            delta = delta * _dleaky(cs[j], self.alpha)
            g[f"d{j}W"], g[f"d{j}b"] = us[j].T @ delta, delta.sum(axis=0)
            delta = delta @ p[f"d{j}W"].T
        gmu = delta + mu
        glv = 0.5 * delta * eps * sig + 0.5 * (var - 1.0)
        g["muW"], g["mub"] = h.T @ gmu, gmu.sum(axis=0)
        g["lvW"], g["lvb"] = h.T @ glv, glv.sum(axis=0)
        delta = gmu @ p["muW"].T + glv @ p["lvW"].T
        for i in range(self.n_enc - 1, -1, -1):
            delta = delta * _dleaky(zs[i], self.alpha)
            g[f"e{i}W"], g[f"e{i}b"] = hs[i].T @ delta, delta.sum(axis=0)
            if i > 0:
                delta = delta @ p[f"e{i}W"].T
        # Adam with L2 on weights, DL4J order: g/N + l2·w, then the rule
        t = self.t
        alpha_t = self.lr * np.sqrt(1.0 - self.beta2 ** (t + 1)) / (1.0 - self.beta1 ** (t + 1))
        reg = 0.0
        for k, w in p.items():
            gk = g[k] / n
            if k.endswith("W"):
                gk = gk + self.l2 * w
                reg += 0.5 * self.l2 * float(np.sum(w * w))
            self.m[k] = self.beta1 * self.m[k] + (1.0 - self.beta1) * gk
            self.v[k] = self.beta2 * self.v[k] + (1.0 - self.beta2) * gk * gk
            p[k] = (w - alpha_t * self.m[k] / (np.sqrt(self.v[k]) + self.adam_eps)).astype(self.dtype)
        self.t += 1
        return float((nll + kl) / n + reg)
