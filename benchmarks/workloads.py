"""The benchmark workloads and, for each, how every system builds its step function.

A workload is a name (``vae-train-128``), a batch size, a data maker and one builder per system: ``dl4py``,
``numpy`` (plain NumPy, a new array per operation), ``torch`` (PyTorch CPU, optional). Builders return
``(step, info)``; ``step(*batch)`` runs one training step (or one inference call) on one minibatch tuple.

Data: uniform [0, 1) float32 pixels of MNIST shape (784 columns, *not* binarised; the Bernoulli and XENT
losses accept values in [0, 1]), seed 12345; MLP labels are uniform random classes 0–9 (one-hot, and as indices for
torch's cross_entropy).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

N_IN = 784
VAE_ENC, VAE_LATENT, VAE_DEC = (256, 256), 32, (256, 256)
AE_HIDDEN, AE_CORRUPTION = 256, 0.3
MLP_HIDDEN, MLP_OUT = 64, 10
LR, L2, SEED = 1e-3, 1e-4, 12345


@dataclass(frozen=True)
class Workload:
    name: str
    group: str  # vae | ae | mlp
    kind: str  # train | infer
    batch: int
    description: str
    systems: tuple[str, ...] = ("dl4py", "numpy", "torch")
    extra: tuple[str, ...] = field(default=())  # additional per-round measurements ("gemm")


WORKLOADS: dict[str, Workload] = {}


def _add(w: Workload) -> None:
    WORKLOADS[w.name] = w


for _b in (128, 1024):
    _add(Workload(f"vae-train-{_b}", "vae", "train", _b,
                  f"VAE 784-[256,256]-32 Bernoulli pretraining step (pretrainLayer), batch {_b}", extra=("gemm",)))
for _b in (1, 128, 1024):
    _add(Workload(f"vae-infer-{_b}", "vae", "infer", _b, f"VAE encoder-mean inference (output), batch {_b}"))
_add(Workload("ae-train-128", "ae", "train", 128, "AutoEncoder 784-256 pretraining step (pretrainLayer), batch 128"))
for _b in (16, 128):
    _add(Workload(f"mlp-train-{_b}", "mlp", "train", _b, f"MLP 784-64-10 supervised step (fit), batch {_b}"))


def select(filters: list[str] | None) -> list[Workload]:
    """Workloads matching any filter: a group name (``vae``, ``ae``, ``mlp``), a name prefix (``vae-train``) or a
    full name. No filter: all."""
    if not filters:
        return list(WORKLOADS.values())
    out = []
    for w in WORKLOADS.values():
        if any(f == w.group or w.name.startswith(f) for f in filters):
            out.append(w)
    return out


def make_batches(w: Workload, n_batches: int) -> list[tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(SEED)
    x = rng.random((n_batches * w.batch, N_IN), dtype=np.float32)
    xs = [x[i * w.batch:(i + 1) * w.batch] for i in range(n_batches)]
    if w.group != "mlp":
        return [(b,) for b in xs]
    idx = rng.integers(0, MLP_OUT, n_batches * w.batch)
    onehot = np.eye(MLP_OUT, dtype=np.float32)[idx]
    return [(xs[i], onehot[i * w.batch:(i + 1) * w.batch], idx[i * w.batch:(i + 1) * w.batch])
            for i in range(n_batches)]


# ------------------------------------------------------------------------------------------------------------------
# dl4py
# ------------------------------------------------------------------------------------------------------------------
def dl4py_vae_network():
    from dl4py.activations import Activation
    from dl4py.learning.config import Adam
    from dl4py.nn.conf import NeuralNetConfiguration
    from dl4py.nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder
    from dl4py.nn.multilayer import MultiLayerNetwork
    from dl4py.nn.weights import WeightInit

    conf = (NeuralNetConfiguration.Builder().seed(SEED).updater(Adam(LR)).weightInit(WeightInit.XAVIER).l2(L2)
            .list()
            .layer(VariationalAutoencoder.Builder().nIn(N_IN).nOut(VAE_LATENT)
                   .encoderLayerSizes(*VAE_ENC).decoderLayerSizes(*VAE_DEC)
                   .activation(Activation.LEAKYRELU).pzxActivationFunction(Activation.IDENTITY)
                   .reconstructionDistribution(
                       BernoulliReconstructionDistribution(Activation.SIGMOID.getActivationFunction()))
                   .build())
            .build())
    return MultiLayerNetwork(conf).init()


def dl4py_ae_network():
    from dl4py.activations import Activation
    from dl4py.learning.config import Adam
    from dl4py.lossfunctions import LossFunctions
    from dl4py.nn.conf import NeuralNetConfiguration
    from dl4py.nn.conf.layers import AutoEncoder
    from dl4py.nn.multilayer import MultiLayerNetwork
    from dl4py.nn.weights import WeightInit

    conf = (NeuralNetConfiguration.Builder().seed(SEED).updater(Adam(LR)).weightInit(WeightInit.XAVIER)
            .list()
            .layer(AutoEncoder.Builder().nIn(N_IN).nOut(AE_HIDDEN).corruptionLevel(AE_CORRUPTION)
                   .lossFunction(LossFunctions.LossFunction.XENT).activation(Activation.SIGMOID).build())
            .build())
    return MultiLayerNetwork(conf).init()


def dl4py_mlp_network():
    from dl4py.activations import Activation
    from dl4py.learning.config import Adam
    from dl4py.lossfunctions import LossFunctions
    from dl4py.nn.conf import NeuralNetConfiguration
    from dl4py.nn.conf.layers import DenseLayer, OutputLayer
    from dl4py.nn.multilayer import MultiLayerNetwork
    from dl4py.nn.weights import WeightInit

    conf = (NeuralNetConfiguration.Builder().seed(SEED).updater(Adam(LR)).weightInit(WeightInit.XAVIER).l2(L2)
            .list()
            .layer(DenseLayer.Builder().nIn(N_IN).nOut(MLP_HIDDEN).activation(Activation.TANH).build())
            .layer(OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(MLP_OUT)
                   .activation(Activation.SOFTMAX).build())
            .build())
    return MultiLayerNetwork(conf).init()


#: Options of the dl4py system, set by the benchmark worker: ``blas_governor`` is "default" (the library's:
#: training steps governed, inference not), "on" (both) or "off" (neither) for ``net.blasThreads``;
#: ``governor_clock``, when set, is the clock of the network's BLAS governor.
DL4PY_OPTIONS: dict = {"blas_governor": "default"}


def _dl4py(w: Workload) -> tuple[Callable, dict]:
    net = {"vae": dl4py_vae_network, "ae": dl4py_ae_network}.get(w.group, dl4py_mlp_network)()
    clock = DL4PY_OPTIONS.get("governor_clock")
    if clock is not None:  # the governor's schedule on another clock (the paired thread comparison pauses it)
        from dl4py.nn.blas_threads import ThreadGovernor

        net.blasThreads = ThreadGovernor(clock=clock)
    mode = DL4PY_OPTIONS.get("blas_governor", "default")
    if mode != "default":
        net.blasThreads.enabled = net.blasThreads.inference = mode == "on"
    extra = {"blas_governor": {"training": net.blasThreads.enabled, "inference": net.blasThreads.inference}}
    if w.group in ("vae", "ae"):
        if w.kind == "train":
            return (lambda x: net.pretrainLayer(0, x)), extra
        return net.output, extra
    return (lambda x, y, yi: net.fit(x, y)), extra


# ------------------------------------------------------------------------------------------------------------------
# plain NumPy
# ------------------------------------------------------------------------------------------------------------------
def _numpy(w: Workload) -> tuple[Callable, dict]:
    if w.group == "vae":
        from .numpy_reference import NumpyVAE

        model = NumpyVAE(N_IN, VAE_ENC, VAE_LATENT, VAE_DEC, lr=LR, l2=L2, alpha=0.01, seed=SEED)
        return (model.step if w.kind == "train" else model.encode_mean), {"reference": "benchmarks/numpy_reference.py"}
    if w.group == "ae":
        from .numpy_autoencoder import NumpyDenoisingAutoencoder

        model = NumpyDenoisingAutoencoder(N_IN, AE_HIDDEN, corruption=AE_CORRUPTION, lr=LR, seed=SEED)
        return model.step, {"reference": "benchmarks/numpy_autoencoder.py"}
    from .numpy_mlp import NumpyMLP

    model = NumpyMLP(N_IN, MLP_HIDDEN, MLP_OUT, lr=LR, l2=L2, seed=SEED)
    return (lambda x, y, yi: model.step(x, y)), {"reference": "benchmarks/numpy_mlp.py"}


# ------------------------------------------------------------------------------------------------------------------
# PyTorch
# ------------------------------------------------------------------------------------------------------------------
def _torch(w: Workload) -> tuple[Callable, dict]:
    from . import torch_models as T

    if w.group == "vae":
        return T.vae_train(LR, L2) if w.kind == "train" else T.vae_infer()
    if w.group == "ae":
        return T.ae_train(LR, AE_CORRUPTION)
    return T.mlp_train(LR, L2)


BUILDERS = {"dl4py": _dl4py, "numpy": _numpy, "torch": _torch}


# ------------------------------------------------------------------------------------------------------------------
# the GEMMs of one VAE training step (PERFORMANCE.md: 6 forward, 6 weight-gradient, 5 input-gradient)
# ------------------------------------------------------------------------------------------------------------------
#: (fan_in, fan_out) of the six GEMM layers of the VAE with the two q(z|x) heads fused into one of width 2·nOut
VAE_GEMM_LAYERS = ((N_IN, VAE_ENC[0]), (VAE_ENC[0], VAE_ENC[1]), (VAE_ENC[1], 2 * VAE_LATENT),
                   (VAE_LATENT, VAE_DEC[0]), (VAE_DEC[0], VAE_DEC[1]), (VAE_DEC[1], N_IN))


def vae_gemm_shapes(batch: int) -> list[tuple[str, int, int, int]]:
    """The 17 GEMMs of one VAE step as (what, m, n, k): C[m, n] = A[m, k]·B[k, n]."""
    shapes = []
    for i, (fi, fo) in enumerate(VAE_GEMM_LAYERS):
        shapes.append((f"fwd{i}", batch, fo, fi))
        shapes.append((f"dW{i}", fi, fo, batch))
        if i > 0:  # the input needs no gradient
            shapes.append((f"dX{i}", batch, fi, fo))
    return shapes


def vae_step_flops(batch: int) -> int:
    return sum(2 * m * n * k for _, m, n, k in vae_gemm_shapes(batch))
