"""Field mapping for DL4J JSON written before 1.0.0-beta4 (as DL4J's own ``BaseNetConfigDeserializer`` does).

Each rule fires only when the current-format field is absent:

* ``updater`` enum name + ``learningRate``/``momentum``/``adamMeanDecay``/... numbers -> an updater object
  (NaN numbers keep the class default; DL4J copies a NaN ``rho`` into AdaDelta, dl4py does not);
* ``dropOut`` number (only when the updater also had to be inferred, as DL4J) -> ``Dropout(p)``, or
  ``DropConnect(p)`` weight noise when the conf says ``useDropConnect``;
* ``l1``/``l2``/``l1Bias``/``l2Bias`` numbers -> ``L1Regularization`` and ``WeightDecay(l2, applyLR=false)``
  (``biasL1``/``biasL2`` of <= 0.7.1 are not read, as in DL4J);
* ``weightInit`` enum + ``dist`` -> a weight-init object;
* ``activationFunction`` string -> an activation object;
* output layers of <= 0.5.0 with only a ``lossFunction`` enum -> a loss object;
* VAE of 0.7.x: ``pzxActivationFunction`` string -> ``pzxActivationFn``; missing ``numSamples`` -> 1.
"""
from __future__ import annotations

import math
from typing import Any

from ..exceptions import InvalidJsonException

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _number(body: dict[str, Any], key: str, path: str) -> float | None:
    """A finite number stored under ``key`` (NaN strings/values -> None)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        if value in _NON_FINITE:
            return None
        raise InvalidJsonException(f"{path}.{key}: expected a number, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidJsonException(f"{path}.{key}: expected a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer beyond the range of a double
        raise InvalidJsonException(f"{path}.{key}: number out of the range of a double") from None
    return number if math.isfinite(number) else None


def _legacy_updater(body: dict[str, Any], path: str):
    from ..learning import config as u

    name = body.get("updater")
    if not isinstance(name, str):
        raise InvalidJsonException(f"{path}.updater: expected an updater name, got {name!r}")
    try:
        updater = u.Updater[name.upper()]
    except KeyError:
        raise InvalidJsonException(
            f"{path}.updater: unknown updater {name!r}; allowed: {', '.join(x.name for x in u.Updater if x.name != 'CUSTOM')}"
        ) from None
    if updater is u.Updater.CUSTOM:
        raise InvalidJsonException(f"{path}.updater: CUSTOM updaters of old DL4J versions cannot be read")
    lr = _number(body, "learningRate", path)
    eps = _number(body, "epsilon", path)
    fields: dict[str, Any] = {}
    if updater.name in ("SGD", "ADAM", "ADAMAX", "NADAM", "NESTEROVS", "ADAGRAD", "RMSPROP") and lr is not None:
        fields["learning_rate"] = lr
    if updater.name in ("ADAM", "ADAMAX", "NADAM"):
        for src, dst in (("adamMeanDecay", "beta1"), ("adamVarDecay", "beta2")):
            v = _number(body, src, path)
            if v is not None:
                fields[dst] = v
    if updater.name in ("ADAM", "ADAMAX", "NADAM", "ADADELTA", "ADAGRAD", "RMSPROP") and eps is not None:
        fields["epsilon"] = eps
    if updater.name == "ADADELTA":
        rho = _number(body, "rho", path)
        if rho is not None:
            fields["rho"] = rho
    if updater.name == "NESTEROVS":
        mom = _number(body, "momentum", path)
        if mom is not None:
            fields["momentum"] = mom
    if updater.name == "RMSPROP":
        decay = _number(body, "rmsDecay", path)
        if decay is not None:
            fields["rms_decay"] = decay
    default = updater.getIUpdaterWithDefaultConfig()
    return type(default)(**fields)


def _regularization(body: dict[str, Any], l1_key: str, l2_key: str, path: str) -> list[Any]:
    from ..learning.regularization import L1Regularization, WeightDecay

    out: list[Any] = []
    l1 = _number(body, l1_key, path)
    l2 = _number(body, l2_key, path)
    if l1 is not None and l1 > 0:
        out.append(L1Regularization(l1=l1))
    if l2 is not None and l2 > 0:
        out.append(WeightDecay(coeff=l2, apply_lr=False))
    return out


def map_layer_fields(cls: type, body: dict[str, Any], conf_body: dict[str, Any], path: str) -> dict[str, Any]:
    """Apply the legacy rules above to one layer's JSON body (``cls`` is its dl4py class)."""
    from ..activations import to_activation
    from ..nn.conf.distribution import Distribution
    from ..nn.conf.dropout import Dropout
    from ..nn.conf.weightnoise import DropConnect
    from ..nn.weights import WeightInit
    from .json_codec import from_dl4j_data

    body = dict(body)
    try:
        inferred_updater = "iupdater" not in body and "updater" in body
        if inferred_updater:
            body["iupdater"] = _legacy_updater(body, path)
            drop = _number(body, "dropOut", path)
            if drop is not None and drop > 0 and "idropout" not in body:
                if conf_body.get("useDropConnect") is True:
                    if "weightNoise" not in body:
                        body["weightNoise"] = DropConnect(weight_retain_prob=drop)
                else:
                    body["idropout"] = Dropout(p=drop)
        if "regularization" not in body and any(k in body for k in ("l1", "l2")):
            body["regularization"] = _regularization(body, "l1", "l2", path)
        if "regularizationBias" not in body and any(k in body for k in ("l1Bias", "l2Bias")):
            body["regularizationBias"] = _regularization(body, "l1Bias", "l2Bias", path)
        if "weightInitFn" not in body and isinstance(body.get("weightInit"), str):
            name = body["weightInit"]
            try:
                scheme = WeightInit[name.upper()]
            except KeyError:
                raise InvalidJsonException(f"{path}.weightInit: unknown weight init {name!r}") from None
            dist = body.get("dist")
            distribution = from_dl4j_data(dist, Distribution, f"{path}.dist") if dist is not None else None
            if scheme is WeightInit.DISTRIBUTION and distribution is None:
                raise InvalidJsonException(f"{path}.weightInit: DISTRIBUTION without a 'dist' object")
            body["weightInitFn"] = scheme.getWeightInitFunction(distribution)
        if "activationFn" not in body and isinstance(body.get("activationFunction"), str):
            body["activationFn"] = to_activation(_activation_name(body["activationFunction"]))
        if "pzxActivationFn" not in body and isinstance(body.get("pzxActivationFunction"), str):
            body["pzxActivationFn"] = to_activation(_activation_name(body["pzxActivationFunction"]))
        if "lossFn" not in body and isinstance(body.get("lossFunction"), str) and _is_output_layer(cls):
            loss = _LEGACY_OUTPUT_LOSS.get(body["lossFunction"])
            if loss is not None:
                body["lossFn"] = loss()
    except InvalidJsonException:
        raise
    except ValueError as exc:
        raise InvalidJsonException(f"{path}: {exc}") from None
    return body


def _activation_name(name: str) -> str:
    aliases = {"leakyrelu": "LEAKYRELU", "lrelu": "LEAKYRELU", "softplus": "SOFTPLUS"}
    return aliases.get(name.lower(), name)


def _is_output_layer(cls: type) -> bool:
    from ..nn.conf.layers import BaseOutputLayer, LossLayer

    return issubclass(cls, (BaseOutputLayer, LossLayer))


def _loss(name: str):
    def make():
        from ..lossfunctions import impl

        return getattr(impl, name)()

    return make


_LEGACY_OUTPUT_LOSS = {
    "MCXENT": _loss("LossMCXENT"),
    "MSE": _loss("LossMSE"),
    "NEGATIVELOGLIKELIHOOD": _loss("LossNegativeLogLikelihood"),
    "XENT": _loss("LossBinaryXENT"),
    "SQUARED_LOSS": _loss("LossL2"),
}
