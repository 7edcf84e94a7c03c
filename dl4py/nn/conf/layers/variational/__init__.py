"""Variational autoencoder configuration and reconstruction distributions
(DL4J: ``org.deeplearning4j.nn.conf.layers.variational``)."""
from __future__ import annotations

from typing import Any, ClassVar, Optional

from pydantic import field_validator, model_validator

from .....activations import ActivationLike, IActivation
from .....activations.impl import ActivationIdentity, ActivationSigmoid, ActivationTanH
from .....config.base import Dl4jConfig, option
from .....lossfunctions import LossFunctionLike
from .....serde.registry import dl4j_class
from .. import BasePretrainNetwork

_PKG = "org.deeplearning4j.nn.conf.layers.variational."


class ReconstructionDistribution(Dl4jConfig):
    """Base of p(x|z) configurations. Subclass it (and register the subclass for JSON) for your own distribution;
    the engine needs a matching implementation registered in :mod:`dl4py.nn.layers.variational`."""

    def distributionInputSize(self, data_size: int) -> int:
        """Number of decoder-output columns needed for ``data_size`` data columns."""
        return data_size

    def hasLossFunction(self) -> bool:
        return False

    def containsLossFunction(self) -> bool:
        """True if this distribution is, or (for a composite) contains, a LossFunctionWrapper."""
        return self.hasLossFunction()

    distribution_input_size = distributionInputSize
    has_loss_function = hasLossFunction


class _ActivatedDistribution(ReconstructionDistribution):
    activation_fn: ActivationLike = option(default_factory=ActivationIdentity)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # DL4J's constructors take the activation positionally: BernoulliReconstructionDistribution(Activation.SIGMOID)
        if args and len(args) == 1 and "activation_fn" not in kwargs and "activationFn" not in kwargs:
            kwargs["activation_fn"] = args[0]
            args = ()
        super().__init__(*args, **kwargs)


@dl4j_class(_PKG + "BernoulliReconstructionDistribution", "Bernoulli")
class BernoulliReconstructionDistribution(_ActivatedDistribution):
    """Binary data: p = act(o) is P(x = 1). Default activation sigmoid.

    dl4py refuses an activation whose values can leave [0, 1] (DL4J only logs a warning and then computes
    log of negative numbers); allowed: sigmoid, hard sigmoid, softmax, or a custom activation whose
    ``output_range`` lies in [0, 1].
    """

    activation_fn: ActivationLike = option(default_factory=ActivationSigmoid)

    @field_validator("activation_fn")
    @classmethod
    def _probability_range(cls, act: IActivation) -> IActivation:
        lo, hi = act.output_range
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"activation {act} can produce values outside [0, 1], which are not probabilities; "
                "use sigmoid, hardsigmoid or softmax"
            )
        return act


@dl4j_class(_PKG + "GaussianReconstructionDistribution", "Gaussian")
class GaussianReconstructionDistribution(_ActivatedDistribution):
    """Real-valued data: decoder output [means | log σ²] (2·D columns), activation on both halves."""

    def distributionInputSize(self, data_size: int) -> int:
        return 2 * data_size


@dl4j_class(_PKG + "ExponentialReconstructionDistribution", "Exponential")
class ExponentialReconstructionDistribution(_ActivatedDistribution):
    """Non-negative data: γ = act(o) = log λ, NLL = λx − γ."""


@dl4j_class(_PKG + "LossFunctionWrapper", "LossWrapper")
class LossFunctionWrapper(ReconstructionDistribution):
    """A plain loss function in place of a probability model (not a log-likelihood)."""

    activation_fn: ActivationLike = option(...)
    loss_function: LossFunctionLike = option(...)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) == 2:
            kwargs.setdefault("activation_fn", args[0])
            kwargs.setdefault("loss_function", args[1])
            args = ()
        super().__init__(*args, **kwargs)

    def hasLossFunction(self) -> bool:
        return True


@dl4j_class(_PKG + "CompositeReconstructionDistribution", "Composite")
class CompositeReconstructionDistribution(ReconstructionDistribution):
    """Different distributions for consecutive column ranges of the data:
    ``CompositeReconstructionDistribution.Builder().addDistribution(5, Gaussian...).addDistribution(3, Bernoulli...).build()``."""

    distribution_sizes: list[int] = option(...)
    reconstruction_distributions: list[ReconstructionDistribution] = option(...)
    total_size: int = option(-1)

    @model_validator(mode="before")
    @classmethod
    def _total(cls, data: Any) -> Any:
        if isinstance(data, dict):
            sizes = data.get("distribution_sizes", data.get("distributionSizes"))
            if data.get("total_size", data.get("totalSize", -1)) in (-1, None) and isinstance(sizes, list):
                data = dict(data)
                data.pop("totalSize", None)
                data["total_size"] = sum(s for s in sizes if isinstance(s, int))
        return data

    @model_validator(mode="after")
    def _check(self):
        if not self.distribution_sizes:
            raise ValueError("a composite distribution needs at least one part (use addDistribution(size, dist))")
        if len(self.distribution_sizes) != len(self.reconstruction_distributions):
            raise ValueError(
                f"distributionSizes has {len(self.distribution_sizes)} entries but reconstructionDistributions has "
                f"{len(self.reconstruction_distributions)}"
            )
        for i, s in enumerate(self.distribution_sizes):
            if s <= 0:
                raise ValueError(f"distributionSizes[{i}] must be > 0, got {s}")
        if self.total_size != sum(self.distribution_sizes):
            raise ValueError(f"totalSize {self.total_size} != sum of distributionSizes {sum(self.distribution_sizes)}")
        return self

    class Builder:
        def addDistribution(self, size: int, distribution: ReconstructionDistribution):
            """Append a part covering the next ``size`` data columns."""
            self._values.setdefault("distribution_sizes", []).append(size)
            self._values.setdefault("reconstruction_distributions", []).append(distribution)
            return self

        def build(self):
            values = dict(self._values)
            values.setdefault("distribution_sizes", [])
            values.setdefault("reconstruction_distributions", [])
            return self._target(**values)

    def distributionInputSize(self, data_size: int) -> int:
        if data_size != self.total_size:
            raise ValueError(
                f"Invalid input size: got input size {data_size} for data, but expected input size for all "
                f"distributions is {self.total_size}. Distribution sizes: {self.distribution_sizes}"
            )
        return sum(d.distributionInputSize(s) for s, d in zip(self.distribution_sizes, self.reconstruction_distributions))

    def hasLossFunction(self) -> bool:
        return all(d.hasLossFunction() for d in self.reconstruction_distributions)

    def containsLossFunction(self) -> bool:
        return any(d.containsLossFunction() for d in self.reconstruction_distributions)


@dl4j_class(_PKG + "VariationalAutoencoder", "VariationalAutoencoder")
class VariationalAutoencoder(BasePretrainNetwork):
    """Variational autoencoder layer (Kingma & Welling) with DL4J's conventions.

    ``nIn`` data size, ``nOut`` latent size, ``encoderLayerSizes``/``decoderLayerSizes`` hidden sizes (default
    [100]), ``reconstructionDistribution`` p(x|z) (default Gaussian(tanh)), ``pzxActivationFn`` applied to both
    heads of q(z|x) (default identity), ``numSamples`` reparameterisation samples (default 1; dl4py requires ≥ 1,
    DL4J silently accepts 0). ``lossFunction(activation, loss)`` sets a LossFunctionWrapper.
    """

    encoder_layer_sizes: list[int] = option(default_factory=lambda: [100], builder=("setEncoderLayerSizes",))
    decoder_layer_sizes: list[int] = option(default_factory=lambda: [100], builder=("setDecoderLayerSizes",))
    reconstruction_distribution: ReconstructionDistribution = option(
        default_factory=lambda: GaussianReconstructionDistribution(activation_fn=ActivationTanH()),
        json="outputDistribution",
    )
    pzx_activation_fn: ActivationLike = option(
        default_factory=ActivationIdentity, builder=("pzxActivationFunction",)
    )
    num_samples: int = option(1)

    @field_validator("encoder_layer_sizes", "decoder_layer_sizes")
    @classmethod
    def _sizes(cls, v: list[int], info) -> list[int]:
        label = "Encoder" if info.field_name == "encoder_layer_sizes" else "Decoder"
        if not v:
            raise ValueError(f"{label} layer sizes array must have length > 0")
        for i, s in enumerate(v):
            if s <= 0:
                raise ValueError(f"{label.lower()}LayerSizes[{i}] must be > 0, got {s}")
        return v

    @field_validator("num_samples")
    @classmethod
    def _samples(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"numSamples must be >= 1, got {v}")
        return v

    class Builder:
        def lossFunction(self, *args: Any):
            """One argument (``LossFunction``): BasePretrainNetwork's (unused) loss field. Two arguments
            ``(activation, loss)``: reconstruct with a LossFunctionWrapper instead of a distribution."""
            if len(args) == 1:
                self._values["loss_function"] = args[0]
            elif len(args) == 2:
                self._values["reconstruction_distribution"] = LossFunctionWrapper(args[0], args[1])
            else:
                raise TypeError(f"lossFunction takes 1 or 2 arguments, got {len(args)}")
            return self

        def nOut(self, n_out: int):
            self._values["n_out"] = n_out
            return self

    # -- parameter layout (DL4J's VariationalAutoencoderParamInitializer) ------------------------------------
    def paramShapes(self) -> dict[str, tuple[int, int]]:
        shapes: dict[str, tuple[int, int]] = {}
        prev = self.n_in
        for i, size in enumerate(self.encoder_layer_sizes):
            shapes[f"e{i}W"] = (prev, size)
            shapes[f"e{i}b"] = (1, size)
            prev = size
        k = self.n_out
        shapes["pZXMeanW"] = (prev, k)
        shapes["pZXMeanb"] = (1, k)
        shapes["pZXLogStd2W"] = (prev, k)
        shapes["pZXLogStd2b"] = (1, k)
        prev = k
        for i, size in enumerate(self.decoder_layer_sizes):
            shapes[f"d{i}W"] = (prev, size)
            shapes[f"d{i}b"] = (1, size)
            prev = size
        p = self.reconstruction_distribution.distributionInputSize(self.n_in)
        shapes["pXZW"] = (prev, p)
        shapes["pXZb"] = (1, p)
        return shapes

    def paramKeys(self) -> list[str]:
        return list(self.paramShapes())

    def isPretrainParam(self, key: str) -> bool:
        return not (key.startswith("e") or key.startswith("pZXMean"))


__all__ = [
    "ReconstructionDistribution", "BernoulliReconstructionDistribution", "GaussianReconstructionDistribution",
    "ExponentialReconstructionDistribution", "LossFunctionWrapper", "CompositeReconstructionDistribution",
    "VariationalAutoencoder",
]
