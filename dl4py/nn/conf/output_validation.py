"""DL4J's output-layer checks (``OutputLayerUtil.validateOutputLayer``): loss/activation pairs that cannot work."""
from __future__ import annotations

from .layers import BaseOutputLayer, Layer, LossLayer

#: activations whose values can leave [0, 1]: invalid with losses that need probabilities
_UNBOUNDED = {
    "ActivationCube", "ActivationELU", "ActivationHardTanH", "ActivationIdentity", "ActivationLReLU",
    "ActivationPReLU", "ActivationRationalTanh", "ActivationReLU", "ActivationReLU6", "ActivationRReLU",
    "ActivationSELU", "ActivationSoftPlus", "ActivationSoftSign", "ActivationSwish", "ActivationTanH",
    "ActivationThresholdedReLU",
}
_PROBABILITY_LOSSES = {"LossMCXENT", "LossNegativeLogLikelihood", "LossSparseMCXENT", "LossBinaryXENT"}
_MULTICLASS = {"LossMCXENT", "LossNegativeLogLikelihood", "LossSparseMCXENT"}


def validate_output_layer(layer: Layer, desc: str) -> None:
    """Raise ValueError (naming the layer, loss and activation) for a pair DL4J rejects."""
    if not isinstance(layer, (BaseOutputLayer, LossLayer)):
        return
    act = type(layer.activation).__name__ if layer.activation is not None else None
    loss = type(layer.loss_function).__name__
    hint = " (or validateOutputLayerConfig(false) to skip this check)"
    if isinstance(layer, BaseOutputLayer) and layer.n_out == 1 and act == "ActivationSoftmax":
        raise ValueError(
            f"{desc}: softmax activation with nOut=1 always outputs 1.0; use sigmoid for one output, "
            f"or nOut >= 2 with softmax{hint}"
        )
    if loss in _PROBABILITY_LOSSES and act in _UNBOUNDED:
        if not (isinstance(layer, LossLayer) and act == "ActivationIdentity"):
            raise ValueError(
                f"{desc}: loss {loss} needs probabilities in [0, 1] but activation {act} can leave that range; "
                f"use softmax (MCXENT/NLL) or sigmoid (XENT){hint}"
            )
    if loss == "LossBinaryXENT" and act == "ActivationSoftmax":
        raise ValueError(f"{desc}: softmax with LossBinaryXENT is invalid; use sigmoid with XENT, or softmax with MCXENT{hint}")
    if loss in _MULTICLASS and act == "ActivationSigmoid":
        raise ValueError(f"{desc}: sigmoid with {loss} is invalid; use softmax with MCXENT, or sigmoid with XENT{hint}")
