"""Engine of ``AutoEncoder``: a tied-weight denoising autoencoder (DL4J:
``org.deeplearning4j.nn.layers.feedforward.autoencoder.AutoEncoder``).

The configuration, parameter layout and JSON are DL4J's; the pretraining step is the model DL4J *intends*, not
the one its code computes. Every divergence is listed in ``docs/autoencoder-divergences.md``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...exceptions import DL4JInvalidConfigException, DL4JInvalidInputException
from ...kernels import autoencoder as KAE
from ...lossfunctions import LossFunctions
from ..conf.layers import AutoEncoder
from .base import register_engine_layer, to_engine_array, to_numeric_array
from .dense import DenseCore
from .loss_spec import loss_spec

#: hidden activations whose values lie in [0, 1], as the KL sparsity penalty needs (a mean activation is then a
#: probability; anything else makes KL(ρ‖ρ̂) meaningless)
SPARSITY_ACTIVATIONS = ("SIGMOID", "HARDSIGMOID", "SOFTMAX")


@register_engine_layer(AutoEncoder)
class AutoEncoderEngine(DenseCore):
    """Tied-weight denoising autoencoder: parameters ``W`` [nIn, nOut], ``b`` [1, nOut], ``vb`` [1, nIn] (DL4J's
    order and column-major layout).

    Model (act = the layer activation, used by encoder and decoder)::

        x̃ = x ⊙ keep,  keep_nj ~ Bernoulli(1 − corruptionLevel)   (masking noise; pretraining only)
        h = act(x̃·W + b)                                           (encode)
        x̂ = act(h·Wᵀ + vb)                                         (decode, tied weights)

    **Pretraining score** (one minibatch of N rows)::

        score = L(x, x̂)/N + β·Σ_j KL(ρ‖ρ̂_j) + R

    * L = the configured ``lossFunction`` (``LossFunctions.LossFunction`` → its ``ILossFunction``), summed over
      the minibatch, applied once to the decoder pre-activation ``h·Wᵀ + vb`` with the layer activation, against
      the **clean** input x (the point of a denoising autoencoder: reconstruct x from x̃).
    * Sparsity (only when ``sparsity`` ρ > 0): ρ̂_j = mean over the minibatch of hidden unit j, clipped to
      [1e-6, 1 − 1e-6]; KL(ρ‖ρ̂) = ρ·log(ρ/ρ̂) + (1 − ρ)·log((1 − ρ)/(1 − ρ̂)). The weight β is
      ``sparsity_weight`` (default ``SPARSITY_WEIGHT = 1.0``): DL4J's JSON has no field for it, so dl4py fixes the
      convention that the penalty counts like one more per-example loss term, summed over hidden units just as the
      reconstruction loss is summed over visible units. It can be changed on the engine layer
      (``net.getLayer(i).sparsity_weight = 3.0``); it is not saved. Hidden activations must lie in [0, 1]:
      ``sparsity > 0`` with any activation other than sigmoid, hard sigmoid or softmax is refused at ``init()``.
      With ρ = 0 there is no penalty term at all.
    * R = the L1/L2/weight-decay score of ``W`` (weight list) and ``b`` (bias list). ``vb`` is never regularised,
      neither in the gradient nor in the score.

    The gradient written by ``pretrain_gradient_and_score`` is the true gradient of ``N·(score − R)``, i.e. summed
    over the minibatch like every raw gradient in dl4py (the updater divides by N and adds the regularisation
    terms): chain rule through the loss, the decoder, the sparsity term and the encoder; ``W`` receives both the
    decoder term hᵀ·δ_v and the encoder term x̃ᵀ·δ_h (one GEMM over the stacked minibatch).

    **Corruption**: a fresh mask every pretraining step, drawn from the network's seeded Generator into a
    preallocated buffer; or injected with ``mask=`` (a keep-mask [N, nIn]: x̃ = x ⊙ mask). Never applied outside
    pretraining.

    **Supervised use** (a hidden layer of a fine-tuned network): exactly DenseLayer forward/backprop on (W, b),
    including dropout on the input in training mode; the ``vb`` gradient is 0 and ``vb`` is not updated.
    """

    pretrain_writes_whole_gradient = True
    backprop_writes_whole_gradient = True  # DenseLayer's (W, b), and vb zeroed

    SPARSITY_WEIGHT = 1.0

    def __init__(self, conf: AutoEncoder, index: int, dtype: np.dtype) -> None:
        super().__init__(conf, index, dtype)
        self.corruption_level = float(conf.corruption_level)
        self.sparsity = float(conf.sparsity)
        self.sparsity_weight = float(self.SPARSITY_WEIGHT)
        lf = conf.loss_function
        if lf is LossFunctions.LossFunction.SPARSE_MCXENT:
            raise DL4JInvalidConfigException(
                f"{self.describe()}: lossFunction SPARSE_MCXENT expects class-index labels and cannot score a "
                "reconstruction; use MCXENT (or any other LossFunction) for pretraining"
            )
        self.loss = loss_spec(lf.getILossFunction(), f"{self.describe()} lossFunction", conf.n_in)
        if self.sparsity > 0.0 and self.act.name not in SPARSITY_ACTIVATIONS:
            raise DL4JInvalidConfigException(
                f"{self.describe()}: sparsity = {conf.sparsity} needs hidden activations in [0, 1] for its KL "
                f"penalty, but the activation is {self.act.name}; use one of {', '.join(SPARSITY_ACTIVATIONS)} "
                "or set sparsity(0)"
            )
        self._last_score = float("nan")

    # -- parameters ----------------------------------------------------------------------------------------------
    def bias_init_value(self, key: str) -> float:
        if key == "vb":
            return float(self.conf.visible_bias_init)
        return super().bias_init_value(key)

    # -- inputs --------------------------------------------------------------------------------------------------
    def _mask(self, mask: Any, n: int) -> np.ndarray:
        m = np.asarray(mask)
        if m.shape != (n, self.n_in):
            raise DL4JInvalidInputException(
                f"{self.describe()}: corruption mask has shape {tuple(m.shape)}, expected [{n}, {self.n_in}] "
                "(a keep-mask: 1 keeps an input element, 0 zeroes it)"
            )
        if m.dtype != self.dtype or not m.flags.c_contiguous:
            buf = self.ws(n).get("ae_mask", m.shape)
            buf[...] = m
            m = buf
        return m

    # -- pretraining ---------------------------------------------------------------------------------------------
    def pretrain_gradient_and_score(self, x: np.ndarray, mask: Any = None) -> float:
        """One pretraining evaluation on the minibatch ``x`` [N, nIn] (C-contiguous, layer dtype).

        Writes the raw gradient (summed over the minibatch, no regularisation) of W, b and vb into ``grads`` and
        returns the score without regularisation: L(x, x̂)/N + β·Σ KL(ρ‖ρ̂). ``mask``: optional keep-mask
        [N, nIn]; without it a fresh masking-noise mask is drawn when corruptionLevel > 0.
        """
        self.check_input(x, self.n_in)
        n, nin, nout = x.shape[0], self.n_in, self.n_out
        ws = self.ws(n)
        # stacked buffers: rows [0, n) and [n, 2n) of each are the two operands of the single W-gradient GEMM
        # gWᵀ = [h; δ_h]ᵀ·[δ_v; x̃] = hᵀ·δ_v + δ_hᵀ·x̃
        vc = ws.get("ae_vc", (2 * n, nin))
        hc = ws.get("ae_hc", (2 * n, nout))
        dzv, xt = vc[:n], vc[n:]
        h, dh = hc[:n], hc[n:]
        if mask is not None:
            np.multiply(x, self._mask(mask, n), out=xt)
        elif self.corruption_level > 0.0:
            self.rng.random(out=xt, dtype=self.dtype)
            KAE.mask_corrupt(xt, x, self.corruption_level)
        else:
            np.copyto(xt, x)

        W = self.params["W"]
        zh = ws.get("ae_zh", (n, nout))
        np.matmul(xt, W, out=zh)
        self.act.forward_bias(zh, self.params["b"][0], h, True, self.network.rng if self.network else None)
        zv = ws.get("ae_zv", (n, nin))
        np.matmul(h, W.T, out=zv)
        KAE.add_row(zv, self.params["vb"][0])

        xhat = ws.get("ae_xhat", (n, nin))
        rows = ws.get("ae_rows", (n,))
        total = self.loss.score_and_gradient(self.act, x, zv, xhat, dzv, rows)
        score = float(total) / n

        np.matmul(dzv, W, out=dh)
        acc = ws.get("ae_acc", (max(nin, nout),), np.float64)
        if self.sparsity > 0.0:
            score += KAE.kl_sparsity(h, self.sparsity, self.sparsity_weight, acc, dh)
        self.act.backward_bias(zh, h, dh, dh, self.grads["b"][0])
        np.matmul(hc.T, vc, out=self.grads["W"].T)
        KAE.column_sums(dzv, acc, self.grads["vb"][0])
        self._last_score = score
        return score

    def computeGradientAndScore(self, x: Any, mask: Any = None) -> tuple[float, np.ndarray]:
        """Pretraining score and gradient for the minibatch ``x`` without changing any parameter.

        Returns ``(score, gradient)``: score = L(x, x̂)/N + sparsity penalty + regularisation score of W and b
        (as the network's pretraining score); gradient = a copy of the flat raw gradient in DL4J order (W
        column-major, b, vb), summed over the minibatch, without regularisation terms (divide by N and add
        λ·sign(w) / λ·w to get ∂score/∂params). ``mask``: keep-mask [N, nIn] for reproducible corruption;
        without it the network's Generator draws one when corruptionLevel > 0.
        """
        from ...kernels.reductions import all_finite

        arr = self._input(x, self.n_in)
        if not all_finite(arr.reshape(-1)):
            raise DL4JInvalidInputException(f"{self.describe()}: input contains NaN or infinite values")
        it, ep = self._counts()
        score = self.pretrain_gradient_and_score(arr, mask) + self.regularization_score(False, it, ep)
        self._last_score = score
        return score, self.grad_flat.copy()

    def score(self) -> float:
        """Score of the last ``computeGradientAndScore`` / pretraining evaluation."""
        return self._last_score

    # -- supervised backprop ------------------------------------------------------------------------------------
    def backward(self, eps: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        """DenseLayer backprop on (W, b); the vb gradient slot is zeroed."""
        out = super().backward(eps, need_input_grad)
        self.grads["vb"].fill(0.0)
        return out

    # -- encode / decode helpers (new arrays; no corruption, no dropout) ------------------------------------------
    def encode(self, x: Any, training: bool = False) -> np.ndarray:
        """h = act(x·W + b) (no corruption, no dropout)."""
        arr = self._input(x, self.n_in)
        z = np.matmul(arr, self.params["W"])
        out = np.empty_like(z)
        self.act.forward_bias(z, self.params["b"][0], out, training, self.network.rng if self.network else None)
        return out

    def decode(self, h: Any) -> np.ndarray:
        """x̂ = act(h·Wᵀ + vb)."""
        arr = self._input(h, self.n_out, "hidden representation")
        z = np.matmul(arr, self.params["W"].T)
        out = np.empty_like(z)
        self.act.forward_bias(z, self.params["vb"][0], out, False)
        return out

    def reconstruct(self, x: Any) -> np.ndarray:
        """decode(encode(x)), without corruption."""
        return self.decode(self.encode(x))

    def activate(self, x: Any, training: bool = False) -> np.ndarray:
        """DL4J's ``activate``: the encoding of ``x`` (no corruption, no decoding)."""
        return self.encode(x, training)

    def sampleHiddenGivenVisible(self, v: Any) -> tuple[np.ndarray, np.ndarray]:
        """DL4J's pair (mean, sample) of the hidden layer: both are encode(v), the same array."""
        h = self.encode(v, True)
        return h, h

    def sampleVisibleGivenHidden(self, h: Any) -> tuple[np.ndarray, np.ndarray]:
        """DL4J's pair (mean, sample) of the visible layer: both are decode(h), the same array."""
        v = self.decode(h)
        return v, v

    def getCorruptedInput(self, x: Any, corruptionLevel: float | None = None) -> np.ndarray:
        """x ⊙ keep with keep ~ Bernoulli(1 − corruptionLevel) from the network's Generator (a new array)."""
        arr = self._input(x, self.n_in)
        c = self.corruption_level if corruptionLevel is None else float(corruptionLevel)
        if not 0.0 <= c < 1.0:
            raise DL4JInvalidInputException(f"{self.describe()}: corruptionLevel must be in [0, 1), got {c!r}")
        out = self.rng.random(arr.shape, dtype=self.dtype)
        KAE.mask_corrupt(out, arr, c)
        return out
