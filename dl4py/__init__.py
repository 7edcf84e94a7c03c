"""dl4py: Deeplearning4j's configuration framework and autoencoder engine, in Python.

Package paths mirror DL4J's (without the ``org.deeplearning4j.`` / ``org.nd4j.linalg.`` prefix):
``dl4py.nn.conf.NeuralNetConfiguration``, ``dl4py.nn.conf.layers.variational.VariationalAutoencoder``,
``dl4py.learning.config.Adam``, ``dl4py.activations.Activation``, ``dl4py.nn.multilayer.MultiLayerNetwork``.
"""
from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["DataType", "__version__", "warmup"]


def __getattr__(name: str):
    """``dl4py.DataType`` on first use: importing it eagerly pulls in the whole configuration framework (pydantic
    and every config class), which would make ``import dl4py`` cost half a second (PEP 562)."""
    if name == "DataType":
        from .nn.conf.enums import DataType

        return DataType
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def warmup(dtypes: tuple[str, ...] = ("float32", "float64"), verbose: bool = False,
           typical: bool = False) -> dict[str, float]:
    """Compile (or load from numba's on-disk cache) every engine kernel for ``dtypes``; returns seconds per
    kernel module. Run once after installing (``python -m dl4py warmup``) so the first ``fit`` starts at once.
    ``typical=True``: only the kernels of the typical networks — DL4J's MNIST-anomaly VAE, a sigmoid/XENT
    AutoEncoder and the MLPMnist-shaped classifier, float32 — by training and running each once (seconds, not
    minutes)."""
    import importlib
    import inspect
    import time

    import numpy as np

    if typical:
        from ._typical import warm_typical_networks

        return warm_typical_networks(verbose)
    timings: dict[str, float] = {}
    for name in ("updaters", "activations", "losses", "reductions", "distributions", "autoencoder"):
        try:
            module = importlib.import_module(f"dl4py.kernels.{name}")
        except ModuleNotFoundError:
            continue
        fn = getattr(module, "warmup", None)
        if fn is None:
            continue
        start = time.perf_counter()
        if inspect.signature(fn).parameters:  # some modules' warmup() takes the dtypes, others warm both
            fn(tuple(np.dtype(d).type for d in dtypes))
        else:
            fn()
        timings[name] = time.perf_counter() - start
        if verbose:
            print(f"dl4py.kernels.{name}: {timings[name]:.2f} s")
    return timings
