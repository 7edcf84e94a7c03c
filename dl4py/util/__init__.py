"""``ModelSerializer`` (DL4J: ``org.deeplearning4j.util.ModelSerializer``): DL4J model zips."""
from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from .._naming import snake_aliases
from ..exceptions import ModelSerializerException

log = logging.getLogger("dl4py.util")


@snake_aliases
class ModelSerializer:
    """Read and write DL4J model zips: ``configuration.json``, ``coefficients.bin``, ``updaterState.bin``."""

    @staticmethod
    def writeModel(model: Any, path: Any, saveUpdater: bool = True) -> None:
        """Write ``model`` to ``path`` atomically (temporary file + rename)."""
        from ..serde.modelzip import write_model_zip

        model._require_init()
        conf_json = model.conf.toJson()
        params = model.params().reshape(1, -1)
        state = model.updaterState().reshape(1, -1) if saveUpdater and model.updaterState().size > 0 else None
        if model.conf.data_type.value == "HALF":
            params = params.astype(np.float16)
            state = state.astype(np.float16) if state is not None else None
        write_model_zip(os.fspath(path), conf_json, params, state)

    @staticmethod
    def restoreMultiLayerNetwork(path: Any, loadUpdater: bool = True) -> Any:
        """Load a network from a DL4J model zip. Entries dl4py does not use (``normalizer.bin``, ...) are reported
        with a warning, never dropped silently."""
        from ..nn.conf import MultiLayerConfiguration
        from ..nn.multilayer import MultiLayerNetwork
        from ..serde.modelzip import read_model_zip

        contents = read_model_zip(os.fspath(path) if not hasattr(path, "read") else path)
        for entry in contents.other_entries:
            if entry != "noParams.marker":
                log.warning("model zip %s: entry %r is not used by dl4py (e.g. a DL4J normalizer); it was not loaded", path, entry)
        conf = MultiLayerConfiguration.fromJson(contents.configuration_json)
        net = MultiLayerNetwork(conf)
        net.init()
        if contents.coefficients is not None:
            coeffs = contents.coefficients.reshape(-1)
            if coeffs.shape[0] != net.numParams():
                raise ModelSerializerException(
                    f"{path}: coefficients.bin holds {coeffs.shape[0]} values but the configuration needs {net.numParams()}"
                )
            net.setParams(coeffs)
        elif net.numParams() > 0:
            raise ModelSerializerException(f"{path}: no coefficients.bin for a network with {net.numParams()} parameters")
        if loadUpdater and contents.updater_state is not None:
            state = contents.updater_state.reshape(-1)
            if state.shape[0] != net.updaterState().shape[0]:
                raise ModelSerializerException(
                    f"{path}: updaterState.bin holds {state.shape[0]} values but the updaters need {net.updaterState().shape[0]}"
                )
            net.getUpdater().set_state(state)
        net.other_zip_entries = list(contents.other_entries)
        return net
