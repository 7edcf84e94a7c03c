"""``ModelSerializer`` (DL4J: ``org.deeplearning4j.util.ModelSerializer``): DL4J model zips."""
from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from .._naming import snake_aliases
from ..exceptions import DL4JInvalidInputException, ModelSerializerException

log = logging.getLogger("dl4py.util")

# bounds on the array entries of a model zip, from the configuration's parameter count (ModelSerializer)
_MAX_VALUE_BYTES = 8  # DOUBLE
_MAX_STATE_PER_PARAM = 8  # updater state values per parameter (DL4J's largest, AMSGrad, keeps 3)
_ARRAY_HEADER_SLACK = 64 << 10


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
        from ..serde.modelzip import COEFFICIENTS_BIN, UPDATER_STATE_BIN, read_model_zip

        parsed: dict[str, Any] = {}

        def entry_limits(configuration_json: str) -> dict[str, int]:
            # the configuration is read first: the arrays may not be larger than it can need (zip bombs)
            conf = parsed["conf"] = MultiLayerConfiguration.fromJson(configuration_json)
            n = conf.numParams()
            return {COEFFICIENTS_BIN: n * _MAX_VALUE_BYTES + _ARRAY_HEADER_SLACK,
                    UPDATER_STATE_BIN: _MAX_STATE_PER_PARAM * n * _MAX_VALUE_BYTES + _ARRAY_HEADER_SLACK}

        contents = read_model_zip(os.fspath(path) if not hasattr(path, "read") else path, entry_limits=entry_limits)
        for entry in contents.other_entries:
            if entry != "noParams.marker":
                log.warning("model zip %s: entry %r is not used by dl4py (e.g. a DL4J normalizer); it was not loaded", path, entry)
        conf = parsed["conf"]
        n_params = conf.numParams()
        # sizes are checked against the configuration before init() allocates anything
        if contents.coefficients is not None:
            coeffs = contents.coefficients.reshape(-1)
            if coeffs.shape[0] != n_params:
                raise ModelSerializerException(
                    f"{path}: coefficients.bin holds {coeffs.shape[0]} values but the configuration needs {n_params}"
                )
        elif n_params > 0:
            raise ModelSerializerException(f"{path}: no coefficients.bin for a network with {n_params} parameters")
        net = MultiLayerNetwork(conf)
        net.init()
        if contents.coefficients is not None:
            try:
                net.setParams(coeffs)
            except DL4JInvalidInputException as exc:  # NaN/inf, or values beyond the network's float type
                raise ModelSerializerException(f"{path}: coefficients.bin: {exc}") from None
        if loadUpdater and contents.updater_state is not None:
            state = contents.updater_state.reshape(-1)
            if state.shape[0] != net.updaterState().shape[0]:
                raise ModelSerializerException(
                    f"{path}: updaterState.bin holds {state.shape[0]} values but the updaters need {net.updaterState().shape[0]}"
                )
            with np.errstate(over="ignore", invalid="ignore"):
                state = state.astype(net.dtype)
            if not np.all(np.isfinite(state)):
                raise ModelSerializerException(f"{path}: updaterState.bin holds NaN or infinite values")
            net.getUpdater().set_state(state)
        net.other_zip_entries = list(contents.other_entries)
        return net
