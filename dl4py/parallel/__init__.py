"""Scale-out training on Dask (DL4J: ``dl4j-spark``'s ``SparkDl4jMultiLayer`` + ``ParameterAveragingTrainingMaster``).

``import dl4py.parallel`` works without Dask; the classes that need a cluster import it when used and name the
optional extra when it is missing (``pip install 'dl4py[distributed]'``)::

    from distributed import Client
    from dl4py.parallel import DaskDl4jMultiLayer, ParameterAveragingTrainingMaster, local_cluster

    client = Client(local_cluster(2))
    tm = ParameterAveragingTrainingMaster.Builder(128).averagingFrequency(5).build()
    model = DaskDl4jMultiLayer(client, conf, tm)
    model.pretrain(features, numEpochs=5)     # layer-wise VAE / AutoEncoder pretraining
    model.fit((features, labels), numEpochs=5)
    net = model.getNetwork()

See docs/parallel.md.
"""
from __future__ import annotations

from typing import Any

from .training_master import ParameterAveragingTrainingMaster
from .worker import minibatch_indices, slot_order
from .data import balanced_sizes

_LAZY = {
    "DaskDl4jMultiLayer": "dask_multilayer",
    "Evaluation": "dask_multilayer",
    "ParameterAveragingTrainingStats": "dask_multilayer",
    "RoundTimeoutException": "dask_multilayer",
    "local_cluster": "dask_multilayer",
    "require_dask": "dask_multilayer",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dl4py.parallel' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "ParameterAveragingTrainingMaster",
    "DaskDl4jMultiLayer",
    "Evaluation",
    "ParameterAveragingTrainingStats",
    "RoundTimeoutException",
    "local_cluster",
    "require_dask",
    "balanced_sizes",
    "minibatch_indices",
    "slot_order",
]
