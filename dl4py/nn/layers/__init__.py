"""Engine layers (DL4J: ``org.deeplearning4j.nn.layers``). Importing this package registers every engine."""
from __future__ import annotations

import importlib

from .base import EngineLayer, create_engine_layer, register_engine_layer

for _module in ("dense", "output", "autoencoder", "variational"):
    try:
        importlib.import_module(f"{__name__}.{_module}")
    except ModuleNotFoundError as _exc:  # engines still being written are simply absent
        if _exc.name != f"{__name__}.{_module}":
            raise

__all__ = ["EngineLayer", "create_engine_layer", "register_engine_layer"]
