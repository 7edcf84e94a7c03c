"""PyTorch CPU counterparts of the benchmark workloads (imported only when torch is installed).

Each builder returns ``(step, info)``: ``step(*batch)`` does one training step (or one inference call) on NumPy
arrays, the way a PyTorch user writes it (modules, autograd, ``torch.optim.Adam`` with its default
implementation); ``info`` says which Adam implementation torch picked. Same architecture and initialisation as the
dl4py configuration: Xavier-normal weights (std √(2/(fanIn+fanOut)), DL4J's XAVIER), zero biases, float32. DL4J's
L2 on weights (not biases) is the optimizer's ``weight_decay`` on a weights-only parameter group: torch adds
λ·w to the batch-averaged gradient before the Adam moments, which is DL4J's order.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

SEED = 12345


def _xavier(module: torch.nn.Module) -> None:
    for sub in module.modules():
        if isinstance(sub, torch.nn.Linear):
            torch.nn.init.xavier_normal_(sub.weight)
            torch.nn.init.zeros_(sub.bias)


def _adam(model: torch.nn.Module, lr: float, l2: float) -> tuple[torch.optim.Adam, dict]:
    weights = [p for name, p in model.named_parameters() if not name.endswith("bias")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    groups = [{"params": weights, "weight_decay": l2}]
    if biases:
        groups.append({"params": biases, "weight_decay": 0.0})
    opt = torch.optim.Adam(groups, lr=lr)
    return opt, {"torch_adam": _adam_impl(opt)}


def _adam_impl(opt: torch.optim.Adam) -> str:
    """'foreach', 'fused' or 'for-loop': what torch's default (foreach=None, fused=None) resolves to."""
    d = opt.defaults
    if d.get("fused"):
        return "fused"
    if d.get("foreach") is not None:
        return "foreach" if d["foreach"] else "for-loop"
    try:
        from torch.optim.optimizer import _default_to_fused_or_foreach

        params = [p for g in opt.param_groups for p in g["params"]]
        _, foreach = _default_to_fused_or_foreach(params, differentiable=False, use_fused=False)
        return "default → foreach" if foreach else "default → for-loop (single-tensor)"
    except Exception:  # private helper moved: just say it is the default
        return "default"


class VAE(torch.nn.Module):
    """784-[256,256]-32 VAE: leaky ReLU (0.01) hidden layers, identity pzx, Bernoulli (sigmoid) p(x|z)."""

    def __init__(self, n_in: int = 784, enc=(256, 256), latent: int = 32, dec=(256, 256), alpha: float = 0.01):
        super().__init__()
        self.alpha = alpha
        sizes = (n_in, *enc)
        self.enc = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.mean = torch.nn.Linear(enc[-1], latent)
        self.logvar = torch.nn.Linear(enc[-1], latent)
        sizes = (latent, *dec)
        self.dec = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = torch.nn.Linear(dec[-1], n_in)
        _xavier(self)

    def encoder(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.enc:
            x = F.leaky_relu(layer(x), self.alpha)
        return x

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        mu, lv = self.mean(h), self.logvar(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        for layer in self.dec:
            z = F.leaky_relu(layer(z), self.alpha)
        logits = self.out(z)
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1.0 + lv - mu * mu - torch.exp(lv))
        return (nll + kl) / x.shape[0]


class TiedAutoEncoder(torch.nn.Module):
    """DL4J's AutoEncoder: h = sigmoid(x̃·W + b), x̂ = sigmoid(h·Wᵀ + vb) with tied W, masking noise on x."""

    def __init__(self, n_in: int = 784, n_hidden: int = 256, corruption: float = 0.3):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(n_hidden, n_in))  # Linear's [out, in] convention
        self.bias = torch.nn.Parameter(torch.zeros(n_hidden))
        self.visible_bias = torch.nn.Parameter(torch.zeros(n_in))
        torch.nn.init.xavier_normal_(self.weight)
        self.corruption = corruption

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        keep = torch.rand_like(x) >= self.corruption
        h = torch.sigmoid(F.linear(x * keep, self.weight, self.bias))
        logits = torch.addmm(self.visible_bias, h, self.weight)
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


class MLP(torch.nn.Module):
    def __init__(self, n_in: int = 784, n_hidden: int = 64, n_out: int = 10):
        super().__init__()
        self.hidden = torch.nn.Linear(n_in, n_hidden)
        self.output = torch.nn.Linear(n_hidden, n_out)
        _xavier(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(torch.tanh(self.hidden(x)))


def _train_step(model, opt, loss_of) -> Callable:
    def step(*arrays: np.ndarray) -> float:
        opt.zero_grad()
        loss = loss_of(*(torch.from_numpy(a) for a in arrays))
        loss.backward()
        opt.step()
        return loss.item()

    return step


def vae_train(lr: float = 1e-3, l2: float = 1e-4):
    torch.manual_seed(SEED)
    model = VAE()
    opt, info = _adam(model, lr, l2)
    return _train_step(model, opt, model.loss), info


def vae_infer():
    torch.manual_seed(SEED)
    model = VAE().eval()

    def infer(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model.mean(model.encoder(torch.from_numpy(x))).numpy()

    return infer, {}


def ae_train(lr: float = 1e-3, corruption: float = 0.3):
    torch.manual_seed(SEED)
    model = TiedAutoEncoder(corruption=corruption)
    opt, info = _adam(model, lr, 0.0)
    return _train_step(model, opt, model.loss), info


def mlp_train(lr: float = 1e-3, l2: float = 1e-4):
    torch.manual_seed(SEED)
    model = MLP()
    opt, info = _adam(model, lr, l2)

    def loss_of(x: torch.Tensor, y_index: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x), y_index)

    step = _train_step(model, opt, loss_of)
    return (lambda x, y_onehot, y_index: step(x, y_index)), info
