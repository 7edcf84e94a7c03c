"""Engine of ``VariationalAutoencoder`` (DL4J: ``org.deeplearning4j.nn.layers.variational.VariationalAutoencoder``).

Hand-written forward and backward passes over views into the network's flat parameter and gradient vectors
(DL4J's keys, order and column-major layout, spec ``vae.md`` §4), BLAS GEMMs into preallocated buffers, and the
fused kernels of :mod:`dl4py.kernels.distributions` for the reparameterisation, the KL term and the
reconstruction distributions. See :class:`VariationalAutoencoderEngine` for the maths, the noise contract and the
list of divergences from DL4J.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...activations.impl import ActivationIdentity, ActivationSigmoid
from ...exceptions import DL4JInvalidConfigException, DL4JInvalidInputException
from ...kernels import activations as KA
from ...kernels import autoencoder as KAE
from ...kernels import distributions as KD
from ...kernels._support import start_numba
from ..conf.layers.variational import (
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    ReconstructionDistribution,
    VariationalAutoencoder,
)
from .activation_spec import ActivationSpec, activation_spec
from .base import EngineLayer, register_engine_layer, to_engine_array, to_numeric_array
from .loss_spec import LossSpec, loss_spec

#: most decoder rows (samples × examples) decoded at once by the reconstruction-probability methods (their
#: buffers stay in the layer's workspace for the next call with the same minibatch size)
_PROBABILITY_CHUNK_ROWS = 4096


@dataclass
class _Part:
    """One leaf of the reconstruction distribution (a composite is flattened; column ranges are absolute)."""

    kind: int
    act: ActivationSpec
    x0: int
    x1: int
    p0: int
    p1: int
    conf: ReconstructionDistribution
    loss: LossSpec | None = None

    @property
    def d(self) -> int:
        return self.x1 - self.x0

    @property
    def w(self) -> int:
        return self.p1 - self.p0


def _flatten(dist: ReconstructionDistribution, x0: int, p0: int, size: int, where: str, out: list[_Part]) -> int:
    """Append the leaves of ``dist`` covering data columns [x0, x0+size) and parameter columns from p0; return
    the number of parameter columns used."""
    if isinstance(dist, CompositeReconstructionDistribution):
        used = 0
        xs = x0
        for s, part in zip(dist.distribution_sizes, dist.reconstruction_distributions):
            used += _flatten(part, xs, p0 + used, s, where, out)
            xs += s
        if xs - x0 != size:
            raise DL4JInvalidConfigException(
                f"{where}: composite distribution covers {xs - x0} data columns, expected {size}"
            )
        return used
    kinds = (
        (BernoulliReconstructionDistribution, KD.BERNOULLI),
        (GaussianReconstructionDistribution, KD.GAUSSIAN),
        (ExponentialReconstructionDistribution, KD.EXPONENTIAL),
        (LossFunctionWrapper, KD.LOSS),
    )
    for klass, kind in kinds:
        if isinstance(dist, klass):
            break
    else:
        raise DL4JInvalidConfigException(
            f"{where}: reconstruction distribution {type(dist).__name__} has no engine implementation; supported: "
            "Bernoulli, Gaussian, Exponential, LossFunctionWrapper and composites of them"
        )
    w = dist.distributionInputSize(size)
    act = activation_spec(dist.activation_fn, f"{where} {type(dist).__name__}")
    part = _Part(kind, act, x0, x0 + size, p0, p0 + w, dist)
    if kind == KD.LOSS:
        part.loss = loss_spec(dist.loss_function, f"{where} LossFunctionWrapper", size)
    out.append(part)
    return w


@register_engine_layer(VariationalAutoencoder)
class VariationalAutoencoderEngine(EngineLayer):
    """Variational autoencoder with DL4J's conventions (spec ``vae.md``).

    **Inference** (``forward``/``activate``, §6): h_i = f(h_{i−1}·W_{e,i} + b_{e,i}), m = h_E·W_μ + b_μ, output
    g(m) (``pzxActivationFn`` g). Never samples; the log-variance head and the decoder are not touched.

    **Pretraining** (``pretrain_gradient_and_score``/``computeGradientAndScore``, §7–8): μ = g(m), ℓ = g(s) (g on
    *both* heads), σ = √(e^ℓ), z_l = μ + σ⊙ε_l for l = 1…L (``numSamples``), decoder u_j = f(u_{j−1}·W_{d,j} +
    b_{d,j}), o_l = u_M·W_x + b_x, and

        score = −(1/(2N))·Σ(1 + ℓ − μ² − σ²) + (1/L)·Σ_l NLL(x, o_l)/N  [+ R(θ) of all layer parameters]

    where NLL is the reconstruction distribution's summed negative log-likelihood (for a LossFunctionWrapper the
    loss's summed score). The gradient is DL4J's raw pretraining gradient: summed over the minibatch, each
    sample weighted 1/L, no regularisation term (the updater divides by N and adds it), written into every key.

    **Supervised backprop** (``backward``, §11): only the encoder and the mean head take part (an MLP ending in
    g(h_E·W_μ + b_μ)); the gradient slots of the pretrain-only parameters (``pZXLogStd2*``, ``d*``, ``pXZ*``) are
    never written (the network zeroes the gradient vector, and its updater skips their blocks).

    **Noise contract.** Every random draw comes from the network's seeded ``numpy.random.Generator``
    (``self.rng``), drawn into preallocated buffers; every method that draws also accepts the noise explicitly:

    * ``pretrain_gradient_and_score(x, noise)`` / ``computeGradientAndScore(x, noise)`` and
      ``reconstruction(Log)Probability(x, numSamples, noise)``: ``noise`` = ε of shape ``[numSamples, N, nOut]``
      (``[N, nOut]`` is accepted when numSamples is 1), standard-normal values; sample l uses ``noise[l]``.
      Without it, ε is drawn with ``rng.standard_normal`` in the network dtype, all samples at once
      (sample-major), once per call.
    * ``generateRandomGivenZ(z, noise)``: ``noise`` of shape ``[N, nIn]`` holding, column by column, U(0, 1)
      values for Bernoulli and Exponential columns and N(0, 1) values for Gaussian columns (ignored in loss-wrapper
      columns). Without it, each leaf distribution draws its block from ``rng`` in order.

    **Divergences from DL4J** (all deliberate):

    1. ``numSamples < 1`` is rejected (at build time by the configuration; by the probability methods for their
       own argument) — DL4J silently skips the sample loop and keeps a stale score and gradient.
    2. Weight noise (``WeightNoise``/``DropConnect``) is not supported: ``init()`` raises instead of running the
       layer without it. Dropout is ignored, as in DL4J.
    3. The L samples of a pretraining step are decoded as one stacked batch of L·N rows, the 1/L weight being
       applied to ∂NLL/∂o rather than to each parameter gradient: identical up to rounding. The encoder and latent
       gradients sum the samples before g′ and f′ — exact for every activation, whereas DL4J multiplies by
       ``f.backprop(a, ones)`` when L > 1, which is wrong for softmax as f (there dl4py is correct, DL4J is not).
    4. Distribution activations are evaluated deterministically: RReLU as a distribution activation uses its mean
       slope everywhere (DL4J draws random slopes in the training-mode calls). The hidden layers and g honour
       RReLU's training mode in pretraining and supervised training.
    5. ``reconstruction(Log)Probability`` run the whole encoder in inference mode (DL4J runs the encoder hidden
       layers and mean head in training mode; this only changes anything for RReLU) and reject a composite that
       contains a LossFunctionWrapper (DL4J accepts it and mixes loss values into the log-probability).
    6. ``generateRandomGivenZ`` returns the network data type (DL4J's Bernoulli returns FLOAT even in a DOUBLE
       network). ``reconstructionProbability`` is the exp of the float64 accumulation (DL4J: exp of the
       network-type log-probability), so it is slightly more precise in FLOAT networks.
    7. Input validation: the column count of the input (and of z) is checked with a clear error; DL4J fails
       inside the matrix product.
    8. float32 numerics: exp/log are vectorised polynomial versions (relative error ≤ 2e-7); e^ℓ is clamped to
       the normal float32 range, so σ² never overflows to ∞ or underflows to 0 (DL4J's would, giving ±∞ scores).
       Per-row sums run in the array type, totals in float64. The Bernoulli ±∞/NaN rules are DL4J's, unchanged
       (in float32 the activation kernels' sigmoid saturates to exactly 1 but never to exactly 0, so only the
       "p = 1" case arises there).

    Extra (not in DL4J): the arithmetic-mean reconstruction probability of An & Cho (2015),
    ``reconstructionProbability(x, n, mean="arithmetic")`` = mean_s p(x|z_s), computed stably as
    exp(logsumexp_s log p(x|z_s) − log n) (``reconstructionLogProbability(..., mean="arithmetic")`` its log).
    """

    pretrain_writes_whole_gradient = True

    def __init__(self, conf: VariationalAutoencoder, index: int, dtype: np.dtype) -> None:
        if conf.n_in is None or conf.n_out is None or conf.n_in <= 0 or conf.n_out <= 0:
            raise DL4JInvalidConfigException(
                f"{conf.describe(index)} nIn={conf.n_in}, nOut={conf.n_out}; nIn and nOut must be > 0"
            )
        try:
            super().__init__(conf, index, dtype)
        except ValueError as exc:  # e.g. a composite whose sizes do not add up to nIn
            if isinstance(exc, DL4JInvalidConfigException):
                raise
            raise DL4JInvalidConfigException(f"{conf.describe(index)}: {exc}") from exc
        start_numba()  # numba's one-off start-up at network init, not in the first fit
        where = self.describe()
        if getattr(conf, "weight_noise", None) is not None:
            raise DL4JInvalidConfigException(
                f"{where}: weightNoise ({type(conf.weight_noise).__name__}) is not supported by dl4py's "
                "VariationalAutoencoder engine; remove it from the layer and the global configuration"
            )
        self.n_in = int(conf.n_in)
        self.n_out = int(conf.n_out)
        self.enc_sizes = [int(s) for s in conf.encoder_layer_sizes]
        self.dec_sizes = [int(s) for s in conf.decoder_layer_sizes]
        self.num_samples = int(conf.num_samples)
        hidden = conf.activation if conf.activation is not None else ActivationSigmoid()
        # one spec per layer: RReLU keeps its training-mode slopes per spec
        self.enc_acts = [activation_spec(hidden, f"{where} encoder layer {i}") for i in range(len(self.enc_sizes))]
        self.dec_acts = [activation_spec(hidden, f"{where} decoder layer {j}") for j in range(len(self.dec_sizes))]
        self.pzx_mean = activation_spec(conf.pzx_activation_fn, f"{where} pzxActivationFn")
        self.pzx_logvar = activation_spec(conf.pzx_activation_fn, f"{where} pzxActivationFn")
        self._identity = activation_spec(ActivationIdentity(), where)
        self.dist = conf.reconstruction_distribution
        self.parts: list[_Part] = []
        self.p_size = _flatten(self.dist, 0, 0, self.n_in, where, self.parts)
        if self.p_size != self.shapes["pXZW"][1]:
            raise DL4JInvalidConfigException(f"{where}: distribution needs {self.p_size} columns, layout has "
                                             f"{self.shapes['pXZW'][1]}")
        self._fast_part = len(self.parts) == 1 and self.parts[0].kind != KD.LOSS
        self._score = math.nan
        self._fwd_n = -1
        self._fwd_train = False
        self._ws_key = 0
        self._b: dict[str, np.ndarray] = {}
        self._gb: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------------------------------------------------
    # parameters
    # ------------------------------------------------------------------------------------------------------------
    def bind(self, param_flat: np.ndarray, grad_flat: np.ndarray) -> None:
        super().bind(param_flat, grad_flat)
        self._b = {k: self.param_slice(k) for k in self.keys if k.endswith("b")}
        self._gb = {k: self.param_slice(k, grad_flat) for k in self.keys if k.endswith("b")}

    def bias_init_value(self, key: str) -> float:
        """0.0 for every bias: DL4J's VAE ignores ``biasInit``."""
        return 0.0

    def isPretrainParam(self, key: str) -> bool:
        """True unless the key belongs to the encoder or the mean head (DL4J's engine rule)."""
        return not (key.startswith("e") or key.startswith("pZXMean"))

    def paramTable(self, backpropParamsOnly: bool = False) -> dict[str, np.ndarray]:
        """Parameter views by key, in DL4J's order (``backpropParamsOnly``: encoder + pZXMean only)."""
        return {k: v for k, v in self.params.items() if not (backpropParamsOnly and self.isPretrainParam(k))}

    def numParams(self, backwards: bool = False) -> int:
        """Number of parameters (``backwards``: only the encoder and mean-head ones)."""
        if not backwards:
            return self.num_params
        return sum(self.param_sizes[k] for k in self.keys if not self.isPretrainParam(k))

    def setParam(self, key: str, value: Any) -> None:
        """Assign ``value`` into the existing view of parameter ``key``."""
        if key not in self.params:
            raise DL4JInvalidInputException(f"Unknown parameter: {key} - {self.describe()} has {', '.join(self.keys)}")
        view = self.params[key]
        arr = np.asarray(value, dtype=self.dtype)
        if arr.size != view.size:
            raise DL4JInvalidInputException(
                f"{self.describe()}: parameter {key} has shape {view.shape}, got {arr.size} values"
            )
        view[...] = arr.reshape(view.shape)

    def setParams(self, params: Any) -> None:
        """Copy a flat vector of ``numParams()`` values into the layer's parameters."""
        flat = np.asarray(params).reshape(-1)
        if flat.shape[0] != self.num_params:
            raise DL4JInvalidInputException(
                f"Cannot set parameters: expected parameters vector of length {self.num_params} but got "
                f"parameters array of length {flat.shape[0]}"
            )
        self.param_flat[:] = flat

    def score(self) -> float:
        """The last pretraining score computed by this layer (including regularisation when computed through
        ``computeGradientAndScore``)."""
        return self._score

    def hasLossFunction(self) -> bool:
        """True if the reconstruction distribution is a LossFunctionWrapper (composite: all parts are)."""
        return bool(self.dist.hasLossFunction())

    # ------------------------------------------------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------------------------------------------------
    def _latent_input(self, z: Any) -> np.ndarray:
        arr = np.asarray(z)
        if arr.ndim != 2 or arr.shape[1] != self.n_out:
            got = arr.shape[1] if arr.ndim == 2 else f"shape {tuple(arr.shape)}"
            raise DL4JInvalidInputException(
                f"Invalid latent space values: expected size {self.n_out}, got size (dimension 1) = {got} "
                f"({self.describe()})"
            )
        return self._input(arr, self.n_out, "latent values z")

    def _noise(self, buf: np.ndarray, noise: Any, samples: int, n: int) -> None:
        """Fill ``buf`` [samples·n, K] with ε: from ``noise`` [samples, n, K] (or [n, K] for one sample), else drawn
        from the network's generator."""
        if noise is None:
            self.rng.standard_normal(out=buf, dtype=self.dtype)
            return
        arr = np.asarray(noise)
        k = self.n_out
        if arr.shape == (samples, n, k):
            buf[...] = arr.reshape(samples * n, k)
        elif samples == 1 and arr.shape == (n, k):
            buf[...] = arr
        else:
            raise DL4JInvalidInputException(
                f"{self.describe()}: noise has shape {tuple(arr.shape)}, expected [numSamples, N, nOut] = "
                f"[{samples}, {n}, {k}]" + (f" (or [{n}, {k}])" if samples == 1 else "")
            )

    # ------------------------------------------------------------------------------------------------------------
    # building blocks
    # ------------------------------------------------------------------------------------------------------------
    def _act_fwd(self, spec: ActivationSpec, z: np.ndarray, b: np.ndarray, out: np.ndarray, train: bool) -> None:
        """z += b, out = f(z): the activation kernel directly (RReLU in training: through its spec, which draws
        and keeps the slopes)."""
        if train and spec.code == KA.RRELU:
            spec.forward_bias(z, b, out, True, self.rng)
        else:
            KA.bias_act_forward(spec.code, spec.params, z, b, out)

    def _act_bwd(self, spec: ActivationSpec, z: np.ndarray, out: np.ndarray, eps: np.ndarray, delta: np.ndarray,
                 db: np.ndarray, train: bool = True) -> None:
        """delta = f'(z)·eps (never in place) and db = Σ_rows delta (``train``: the forward pass ran in training
        mode, which only matters for RReLU's drawn slopes)."""
        if spec.code == KA.RRELU:
            spec.backward_bias(z, out, eps, delta, db, train)
        else:
            KA.act_backward_bias(spec.code, spec.params, z, out, eps, delta, db)

    def _head_fwd(self, spec: ActivationSpec, z: np.ndarray, b: np.ndarray, out: str, train: bool) -> np.ndarray:
        """z += b, then g(z) into the workspace buffer ``out`` for a q(z|x) head; returns the activation: ``z`` itself
        when g is the identity (DL4J's default pzx activation), which then needs no buffer, copy or kernel."""
        if spec.code == KA.IDENTITY:
            KAE.add_row(z, b)  # not np.add: NumPy buffers the broadcast row through a [N, nOut] temporary
            return z
        a = self.ws(z.shape[0]).get(out, z.shape)
        self._act_fwd(spec, z, b, a, train)
        return a

    def _head_bwd(self, spec: ActivationSpec, z: np.ndarray, out: np.ndarray, eps: np.ndarray, delta: str,
                  db: np.ndarray, train: bool = True) -> np.ndarray:
        """g'(z)·eps into the workspace buffer ``delta`` and db = its column sums, for a q(z|x) head; returns the
        gradient (``eps`` itself, unchanged, when g is the identity: only the bias gradient is computed)."""
        ws = self.ws(eps.shape[0])
        if spec.code == KA.IDENTITY:
            KA.column_sums(eps, ws.get("head_acc", (eps.shape[1],), np.float64), db)
            return eps
        d = ws.get(delta, eps.shape)
        self._act_bwd(spec, z, out, eps, d, db, train)
        return d

    def _encode(self, x: np.ndarray, train: bool, prefix: str = "") -> np.ndarray:
        """Encoder hidden layers; pre-activations in ``{prefix}ez{i}``, activations in ``{prefix}ea{i}``."""
        n = x.shape[0]
        ws = self.ws(n)
        h = x
        for i, size in enumerate(self.enc_sizes):
            z = ws.get(f"{prefix}ez{i}", (n, size))
            a = ws.get(f"{prefix}ea{i}", (n, size))
            np.matmul(h, self.params[f"e{i}W"], out=z)
            self._act_fwd(self.enc_acts[i], z, self._b[f"e{i}b"], a, train)
            h = a
        return h

    def _decode(self, z: np.ndarray, train: bool, prefix: str) -> np.ndarray:
        """Decoder hidden layers and the output GEMM (o without its bias); returns o [rows, P]."""
        rows = z.shape[0]
        ws = self.ws(self._ws_key)
        u = z
        for j, size in enumerate(self.dec_sizes):
            c = ws.get(f"{prefix}dz{j}", (rows, size))
            a = ws.get(f"{prefix}da{j}", (rows, size))
            np.matmul(u, self.params[f"d{j}W"], out=c)
            self._act_fwd(self.dec_acts[j], c, self._b[f"d{j}b"], a, train)
            u = a
        o = ws.get(f"{prefix}o", (rows, self.p_size))
        np.matmul(u, self.params["pXZW"], out=o)
        return o

    def _heads(self, h: np.ndarray, train: bool, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:
        """The two q(z|x) heads: pre-activations in ``{prefix}m`` and ``{prefix}s``; returns (μ, log σ²)."""
        n = h.shape[0]
        ws = self.ws(n)
        k = self.n_out
        m, s = ws.get(prefix + "m", (n, k)), ws.get(prefix + "s", (n, k))
        np.matmul(h, self.params["pZXMeanW"], out=m)
        np.matmul(h, self.params["pZXLogStd2W"], out=s)
        mu = self._head_fwd(self.pzx_mean, m, self._b["pZXMeanb"], prefix + "mu", train)
        lv = self._head_fwd(self.pzx_logvar, s, self._b["pZXLogStd2b"], prefix + "lv", train)
        return mu, lv

    def _part_arrays(self, part: _Part, x: np.ndarray, o: np.ndarray, prefix: str):
        """Contiguous x and o blocks of one leaf (views when the leaf covers everything, else copies)."""
        if len(self.parts) == 1:
            return x, o
        ws = self.ws(self._ws_key)
        xp = ws.get(f"{prefix}x_part{part.x0}", (x.shape[0], part.d))
        op = ws.get(f"{prefix}o_part{part.p0}", (o.shape[0], part.w))
        np.copyto(xp, x[:, part.x0 : part.x1])
        np.copyto(op, o[:, part.p0 : part.p1])
        return xp, op

    def _reconstruction_nll(self, x: np.ndarray, o: np.ndarray, grad: np.ndarray | None, row_nll: np.ndarray,
                            gscale: float, prefix: str) -> float:
        """Add the output bias to o, then the summed NLL over all rows of o (R = L·N, row r ↔ x[r mod N]);
        per-row values into ``row_nll`` (float64 [R]); with ``grad``: gscale·∂NLL/∂o into ``grad`` and the pXZb
        gradient (column sums). A LossFunctionWrapper leaf contributes its summed loss score (and per-row score
        array)."""
        rows = o.shape[0]
        ws = self.ws(self._ws_key)
        want = grad is not None
        b = self._b["pXZb"]
        if self._fast_part:
            part = self.parts[0]
            a = ws.get(prefix + "oa", o.shape)
            e = ws.get(prefix + "oe", o.shape) if want else None
            acc = ws.get(prefix + "acc", (self.p_size,), np.float64)
            return KD.nll_and_gradient(part.kind, part.act.code, part.act.params, x, o, b, a, grad,
                                       self._gb["pXZb"], row_nll, acc, gscale, e=e)
        total = 0.0
        for idx, part in enumerate(self.parts):
            xp, op = self._part_arrays(part, x, o, prefix)
            bp = b[part.p0 : part.p1]
            gp = None
            if want:
                gp = grad if len(self.parts) == 1 else ws.get(f"{prefix}g_part{part.p0}", (rows, part.w))
            db = self._gb["pXZb"][part.p0 : part.p1]
            a = ws.get(f"{prefix}a_part{part.p0}", (rows, part.w))
            if part.kind == KD.LOSS:
                np.add(op, bp, out=op)
                labels = xp
                if rows != xp.shape[0]:
                    labels = ws.get(f"{prefix}labels_part{part.p0}", (rows, part.d))
                    np.copyto(labels.reshape(rows // xp.shape[0], xp.shape[0], part.d), xp)
                rs = ws.get(f"{prefix}rs_part{part.p0}", (rows,))
                if want:
                    t = part.loss.score_and_gradient(part.act, labels, op, a, gp, rs)
                    if gscale != 1.0:
                        gp *= gscale
                    np.sum(gp, axis=0, out=db)
                else:
                    t = part.loss.score(part.act, labels, op, a, rs)
                if idx == 0:
                    row_nll[...] = rs
                else:
                    row_nll += rs
                total += float(t)
            else:
                acc = ws.get(f"{prefix}acc_part{part.p0}", (part.w,), np.float64)
                e = ws.get(f"{prefix}e_part{part.p0}", (rows, part.w)) if want else None
                total += KD.nll_and_gradient(part.kind, part.act.code, part.act.params, xp, op, bp, a, gp, db,
                                             row_nll, acc, gscale, add_rows=idx > 0, e=e)
            if want and len(self.parts) > 1:
                np.copyto(grad[:, part.p0 : part.p1], gp)
        return total

    # ------------------------------------------------------------------------------------------------------------
    # inference and supervised backprop
    # ------------------------------------------------------------------------------------------------------------
    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        """g(h_E·W_μ + b_μ) for ``x`` (a workspace buffer: copy it to keep it); keeps what ``backward`` needs."""
        x = self._input(x, self.n_in)
        n = x.shape[0]
        ws = self.ws(n)
        h = self._encode(x, train)
        m = ws.get("m", (n, self.n_out))
        np.matmul(h, self.params["pZXMeanW"], out=m)
        if self.pzx_mean.code == KA.IDENTITY:  # g(m) = m: no second buffer, no activation kernel
            KAE.add_row(m, self._b["pZXMeanb"])  # not np.add: NumPy buffers the broadcast row through a temporary
            out = m
        else:
            out = ws.get("out", (n, self.n_out))
            self._act_fwd(self.pzx_mean, m, self._b["pZXMeanb"], out, train)
        self._x = x
        self._fwd_n = n
        self._fwd_out = out
        self._fwd_train = train
        return out

    def backward(self, eps: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        """Supervised backprop through the encoder and the mean head (spec §11); pretrain-only gradient slots are
        not written. Returns ∂L/∂input (a workspace buffer) when ``need_input_grad``."""
        n = eps.shape[0]
        if self._fwd_n != n:
            raise DL4JInvalidInputException(
                "Cannot perform backprop in layer VariationalAutoencoder: layer input field is not set "
                f"(no forward pass for a minibatch of {n} rows) ({self.describe()})"
            )
        ws = self.ws(n)
        k = self.n_out
        m = ws.get("m", (n, k))
        dm = self._head_bwd(self.pzx_mean, m, self._fwd_out, eps, "sup_dm", self._gb["pZXMeanb"], self._fwd_train)
        e_last = len(self.enc_sizes) - 1
        h_last = ws.get(f"ea{e_last}", (n, self.enc_sizes[e_last]))
        np.matmul(dm.T, h_last, out=self.grads["pZXMeanW"].T)
        top = ws.get(f"et{e_last}", (n, self.enc_sizes[e_last]))
        np.matmul(dm, self.params["pZXMeanW"].T, out=top)
        return self._encoder_backward(self._x, top, need_input_grad, self._fwd_train)

    def _encoder_backward(self, x: np.ndarray, top: np.ndarray, need_input_grad: bool,
                          train: bool = True) -> np.ndarray | None:
        """``top`` = ∂L/∂h_E (buffer ``et{E-1}``) → encoder gradients; returns ∂L/∂x if ``need_input_grad``.
        (Activation backprop never runs in place: the in-place variant needs a scratch row block.)"""
        n = x.shape[0]
        ws = self.ws(n)
        eps = top
        for i in range(len(self.enc_sizes) - 1, -1, -1):
            size = self.enc_sizes[i]
            z = ws.get(f"ez{i}", (n, size))
            a = ws.get(f"ea{i}", (n, size))
            delta = ws.get(f"ed{i}", (n, size))
            self._act_bwd(self.enc_acts[i], z, a, eps, delta, self._gb[f"e{i}b"], train)
            h_prev = x if i == 0 else ws.get(f"ea{i - 1}", (n, self.enc_sizes[i - 1]))
            np.matmul(delta.T, h_prev, out=self.grads[f"e{i}W"].T)
            if i > 0:
                eps = ws.get(f"et{i - 1}", (n, self.enc_sizes[i - 1]))
                np.matmul(delta, self.params[f"e{i}W"].T, out=eps)
            elif need_input_grad:
                eps_in = ws.get("eps_in", (n, self.n_in))
                np.matmul(delta, self.params["e0W"].T, out=eps_in)
                return eps_in
        return None

    def activate(self, x: Any, training: bool = False) -> np.ndarray:
        """g(mean head) for ``x`` (spec §6), a new [N, nOut] array."""
        return self.forward(x, training).copy()

    def preOutput(self, x: Any, training: bool = False) -> np.ndarray:
        """The mean head's pre-activation m = h_E·W_μ + b_μ (before g), a new array."""
        self.forward(x, training)
        return self.ws(self._fwd_n).get("m", (self._fwd_n, self.n_out)).copy()

    # ------------------------------------------------------------------------------------------------------------
    # pretraining
    # ------------------------------------------------------------------------------------------------------------
    def pretrain_gradient_and_score(self, x: np.ndarray, noise: Any = None) -> float:
        """One pretraining evaluation on the minibatch ``x`` [N, nIn]: returns DL4J's score *without*
        regularisation (KL/N + mean over samples of NLL/N) and writes DL4J's raw gradient (summed over the
        minibatch, samples weighted 1/L, no regularisation) into the gradient views of every key.

        ``noise``: ε of shape [numSamples, N, nOut] (or [N, nOut] for one sample); default: drawn from the
        network's generator into a preallocated buffer. Allocation-free after the first call for a batch size.
        """
        x = self._input(x, self.n_in)
        n = x.shape[0]
        samples = self.num_samples
        rows = samples * n
        k = self.n_out
        self._ws_key = n
        ws = self.ws(n)
        # encoder and q(z|x)
        h = self._encode(x, True)
        mu, lv = self._heads(h, True)
        m, s = ws.get("m", (n, k)), ws.get("s", (n, k))
        sig, var = ws.get("sig", (n, k)), ws.get("var", (n, k))
        eps = ws.get("eps", (rows, k))
        self._noise(eps, noise, samples, n)
        z = ws.get("z", (rows, k))
        kl = KD.reparam_forward(mu, lv, sig, var, eps, z)
        # decoder and p(x|z)
        o = self._decode(z, True, "")
        grad_o = ws.get("grad_o", (rows, self.p_size))
        row_nll = ws.get("row_nll", (rows,), np.float64)
        rec = self._reconstruction_nll(x, o, grad_o, row_nll, 1.0 / samples, "")
        # backward: output layer and decoder
        u_last = ws.get(f"da{len(self.dec_sizes) - 1}", (rows, self.dec_sizes[-1]))
        np.matmul(grad_o.T, u_last, out=self.grads["pXZW"].T)
        delta, w_next = grad_o, self.params["pXZW"]
        for j in range(len(self.dec_sizes) - 1, -1, -1):
            size = self.dec_sizes[j]
            t = ws.get(f"dt{j}", (rows, size))
            np.matmul(delta, w_next.T, out=t)
            dj = ws.get(f"dd{j}", (rows, size))
            self._act_bwd(self.dec_acts[j], ws.get(f"dz{j}", (rows, size)), ws.get(f"da{j}", (rows, size)), t, dj,
                          self._gb[f"d{j}b"])
            u_prev = z if j == 0 else ws.get(f"da{j - 1}", (rows, self.dec_sizes[j - 1]))
            np.matmul(dj.T, u_prev, out=self.grads[f"d{j}W"].T)
            delta, w_next = dj, self.params[f"d{j}W"]
        gz = ws.get("gz", (rows, k))
        np.matmul(delta, w_next.T, out=gz)
        # latent layer: reparameterisation + KL, then g' on both heads
        gmu, glv = ws.get("gmu", (n, k)), ws.get("glv", (n, k))
        if self.pzx_mean.code == KA.IDENTITY:  # g' = 1: the head gradients are gmu and glv, summed in the same pass
            KD.reparam_backward(mu, sig, var, eps, gz, gmu, glv, self._gb["pZXMeanb"], self._gb["pZXLogStd2b"],
                                ws.get("heads_acc", (2 * k,), np.float64))
            dm, ds = gmu, glv
        else:
            KD.reparam_backward(mu, sig, var, eps, gz, gmu, glv)
            dm = self._head_bwd(self.pzx_mean, m, mu, gmu, "dm", self._gb["pZXMeanb"])
            ds = self._head_bwd(self.pzx_logvar, s, lv, glv, "ds", self._gb["pZXLogStd2b"])
        np.matmul(dm.T, h, out=self.grads["pZXMeanW"].T)
        np.matmul(ds.T, h, out=self.grads["pZXLogStd2W"].T)
        e_last = len(self.enc_sizes) - 1
        top = ws.get(f"et{e_last}", (n, self.enc_sizes[e_last]))
        tmp = ws.get("et_lv", top.shape)
        np.matmul(dm, self.params["pZXMeanW"].T, out=top)
        np.matmul(ds, self.params["pZXLogStd2W"].T, out=tmp)
        top += tmp
        self._encoder_backward(x, top, False)
        self._fwd_n = -1  # the encoder buffers now hold pretraining state, not a supervised forward pass
        return kl / n + rec / (samples * n)

    def computeGradientAndScore(self, x: Any, noise: Any = None) -> tuple[float, np.ndarray]:
        """DL4J's pretraining score for the minibatch ``x`` — KL/N + mean over samples of NLL/N + the
        regularisation score of **all** layer parameters (L1 λΣ|w|, L2/WeightDecay ½λΣw², not divided by N) —
        and a copy of DL4J's raw pretraining gradient (flat, DL4J order, summed over the minibatch, no
        regularisation term). ``noise``: ε of shape [numSamples, N, nOut] (see the class docstring); the same
        noise gives the same score, which is what gradient checks need. No parameter is changed."""
        x = self._input(x, self.n_in)
        self.grad_flat.fill(0.0)
        score = self.pretrain_gradient_and_score(x, noise)
        it, ep = self._counts()
        score += self.regularization_score(False, it, ep)
        self._score = score
        return score, self.grad_flat.copy()

    # ------------------------------------------------------------------------------------------------------------
    # reconstruction probability
    # ------------------------------------------------------------------------------------------------------------
    def _check_probability_args(self, numSamples: Any) -> int:
        if isinstance(numSamples, bool) or not isinstance(numSamples, (int, np.integer)) or numSamples <= 0:
            raise DL4JInvalidInputException(
                f"Invalid input: numSamples must be > 0. Got: {numSamples} ({self.describe()})"
            )
        if self.dist.containsLossFunction():
            raise DL4JInvalidConfigException(
                "Cannot calculate reconstruction log probability when using a LossFunction (via "
                "LossFunctionWrapper) instead of a ReconstructionDistribution: the distribution is "
                f"{type(self.dist).__name__}"
                + (" containing a LossFunctionWrapper" if not isinstance(self.dist, LossFunctionWrapper) else "")
                + f" ({self.describe()}); use reconstructionError instead"
            )
        return int(numSamples)

    def _log_probability(self, x: Any, numSamples: Any, noise: Any, mean: str) -> np.ndarray:
        """Per-example log p(x) estimate (float64 [N]): geometric mean (DL4J) or arithmetic mean over samples."""
        if mean not in ("geometric", "arithmetic"):
            raise DL4JInvalidInputException(f"mean must be 'geometric' (DL4J) or 'arithmetic' (An & Cho), got {mean!r}")
        samples = self._check_probability_args(numSamples)
        x = self._input(x, self.n_in)
        n = x.shape[0]
        k = self.n_out
        noise_arr = None
        if noise is not None:
            noise_arr = np.asarray(noise)
            if not (noise_arr.shape == (samples, n, k) or (samples == 1 and noise_arr.shape == (n, k))):
                raise DL4JInvalidInputException(
                    f"{self.describe()}: noise has shape {tuple(noise_arr.shape)}, expected [numSamples, N, nOut] = "
                    f"[{samples}, {n}, {k}]"
                )
            noise_arr = noise_arr.reshape(samples, n, k)
        ws = self.ws(n)
        h = self._encode(x, False, "rp_")
        mu, lv = self._heads(h, False, "rp_")
        sig, var = ws.get("rp_sig", (n, k)), ws.get("rp_var", (n, k))
        # samples are decoded in equal chunks of at most _PROBABILITY_CHUNK_ROWS rows (one set of buffers, reused
        # by later calls with the same N); the last chunk may carry a few unused padding samples
        chunks = -(-samples // max(1, _PROBABILITY_CHUNK_ROWS // n))
        c = -(-samples // chunks)
        rows = c * n
        self._ws_key = n
        eps = ws.get("rp_eps", (rows, k))
        z = ws.get("rp_z", (rows, k))
        row_nll = ws.get("rp_nll", (rows,), np.float64)
        acc = np.zeros(n, dtype=np.float64)  # geometric: Σ log p; arithmetic: Σ exp(log p − run_max)
        run_max = np.full(n, -np.inf)
        for start in range(0, samples, c):
            used = min(c, samples - start)
            if noise_arr is None:
                self.rng.standard_normal(out=eps[: used * n], dtype=self.dtype)
            else:
                eps[: used * n] = noise_arr[start : start + used].reshape(used * n, k)
            eps[used * n :] = 0.0
            KD.reparam_forward(mu, lv, sig, var, eps, z)
            o = self._decode(z, False, "rp_")
            self._reconstruction_nll(x, o, None, row_nll, 1.0, "rp_")
            logp = -row_nll[: used * n].reshape(used, n)
            if mean == "geometric":
                acc += logp.sum(axis=0)
                continue
            new_max = np.maximum(run_max, logp.max(axis=0))
            with np.errstate(invalid="ignore"):
                shift = np.where(np.isfinite(new_max), new_max, 0.0)
                acc = acc * np.exp(run_max - shift) + np.exp(logp - shift).sum(axis=0)
            run_max = new_max
        if mean == "geometric":
            return acc / samples
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(acc) + np.where(np.isfinite(run_max), run_max, 0.0) - math.log(samples)
        return np.where(run_max == -np.inf, -np.inf, out)

    def reconstructionLogProbability(self, x: Any, numSamples: int, noise: Any = None,
                                     mean: str = "geometric") -> np.ndarray:
        """Log of the reconstruction probability, [N, 1] in the network data type.

        ``mean="geometric"`` (DL4J): (1/S)·Σ_s log p(x|z_s), z_s = μ + σ⊙ε_s, S = ``numSamples``.
        ``mean="arithmetic"`` (An & Cho 2015, not in DL4J): log((1/S)·Σ_s p(x|z_s)), computed stably.
        ``noise``: ε of shape [numSamples, N, nOut] (default: drawn from the network's generator).
        Raises for numSamples ≤ 0 and for a LossFunctionWrapper distribution (also inside a composite).
        """
        return self._log_probability(x, numSamples, noise, mean).astype(self.dtype).reshape(-1, 1)

    def reconstructionProbability(self, x: Any, numSamples: int, noise: Any = None,
                                  mean: str = "geometric") -> np.ndarray:
        """exp(reconstructionLogProbability), [N, 1] float64 (as DL4J, whatever the network type).

        DL4J's value (``mean="geometric"``) is the geometric mean of p(x|z_s) over the samples;
        ``mean="arithmetic"`` gives An & Cho's Monte-Carlo average (1/S)·Σ_s p(x|z_s). Same arguments and errors
        as :meth:`reconstructionLogProbability`.
        """
        return np.exp(self._log_probability(x, numSamples, noise, mean)).reshape(-1, 1)

    def reconstructionProbabilityArithmetic(self, x: Any, numSamples: int, noise: Any = None) -> np.ndarray:
        """An & Cho (2015): (1/S)·Σ_s p(x|z_s), [N, 1] float64 (= ``reconstructionProbability(..., mean="arithmetic")``)."""
        return self.reconstructionProbability(x, numSamples, noise, "arithmetic")

    def reconstructionLogProbabilityArithmetic(self, x: Any, numSamples: int, noise: Any = None) -> np.ndarray:
        """log((1/S)·Σ_s p(x|z_s)), [N, 1] (= ``reconstructionLogProbability(..., mean="arithmetic")``)."""
        return self.reconstructionLogProbability(x, numSamples, noise, "arithmetic")

    # ------------------------------------------------------------------------------------------------------------
    # generation
    # ------------------------------------------------------------------------------------------------------------
    def _decode_given_z(self, z: Any) -> np.ndarray:
        z = self._latent_input(z)
        self._ws_key = z.shape[0]
        o = self._decode(z, False, "gen_")
        o += self._b["pXZb"]
        return o

    def _generate(self, o: np.ndarray, noise: Any, random: bool) -> np.ndarray:
        n = o.shape[0]
        out = np.empty((n, self.n_in), dtype=self.dtype)
        noise_arr = None
        if random and noise is not None:
            noise_arr = np.asarray(noise)
            if noise_arr.shape != (n, self.n_in):
                raise DL4JInvalidInputException(
                    f"{self.describe()}: noise has shape {tuple(noise_arr.shape)}, expected [N, nIn] = [{n}, {self.n_in}]"
                )
        for part in self.parts:
            d = part.d
            gaussian_mean = part.kind == KD.GAUSSIAN and not random
            w = d if gaussian_mean else part.w  # DL4J's Gaussian mean: the activation of the mean half only
            oc = np.ascontiguousarray(o[:, part.p0 : part.p0 + w])
            a = np.empty_like(oc)
            KA.act_forward(part.act.code, part.act.params, oc, a)
            nz = np.empty((n, d), dtype=self.dtype)
            if random and part.kind != KD.LOSS:
                if noise_arr is not None:
                    nz[...] = noise_arr[:, part.x0 : part.x1]
                elif part.kind == KD.GAUSSIAN:
                    self.rng.standard_normal(out=nz, dtype=self.dtype)
                else:
                    self.rng.random(out=nz, dtype=self.dtype)
            y = np.empty((n, d), dtype=self.dtype)
            KD.part_generate(part.kind, a, nz, y, random)
            out[:, part.x0 : part.x1] = y
        return out

    def generateAtMeanGivenZ(self, z: Any) -> np.ndarray:
        """Decode latent values ``z`` [N, nOut] (used as given: no pzx activation, no sampling) and return the mean
        of p(x|z), [N, nIn]: Bernoulli probabilities, Gaussian means, Exponential 1/λ, loss wrapper act(o)."""
        return self._generate(self._decode_given_z(z), None, False)

    def generateRandomGivenZ(self, z: Any, noise: Any = None) -> np.ndarray:
        """Decode ``z`` [N, nOut] and draw one sample x ~ p(x|z), [N, nIn] in the network data type.

        ``noise`` [N, nIn]: U(0, 1) values in Bernoulli/Exponential columns, N(0, 1) values in Gaussian columns
        (default: drawn from the network's generator). Loss-wrapper columns are deterministic (act(o))."""
        return self._generate(self._decode_given_z(z), noise, True)

    def reconstructionError(self, x: Any) -> np.ndarray:
        """Per-example loss of the deterministic reconstruction (decoded from the mean of q(z|x)), [N, 1]: the
        loss function's score array of x against generateAtMeanGivenZ(activate(x)) (loss called with the identity
        activation, the reconstruction being activated already); composite: the sum over its parts. Only for a
        LossFunctionWrapper distribution (or a composite made only of them)."""
        if not self.hasLossFunction():
            raise DL4JInvalidConfigException(
                "Cannot use reconstructionError method unless the variational autoencoder is configured with a "
                "standard loss function (via LossFunctionWrapper). For VAEs utilizing a reconstruction "
                "distribution, use the reconstructionProbability or reconstructionLogProbability methods "
                f"({self.describe()})"
            )
        x = self._input(x, self.n_in)
        mu = self.activate(x, False)
        r = self.generateAtMeanGivenZ(mu)
        n = x.shape[0]
        total = np.zeros(n, dtype=np.float64)
        for part in self.parts:
            xs = np.ascontiguousarray(x[:, part.x0 : part.x1])
            rs = np.ascontiguousarray(r[:, part.x0 : part.x1])
            rows = np.empty(n, dtype=self.dtype)
            part.loss.score(self._identity, xs, rs, np.empty_like(rs), rows)
            total += rows
        return total.astype(self.dtype).reshape(-1, 1)


__all__ = ["VariationalAutoencoderEngine"]
