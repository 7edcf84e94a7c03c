"""Score calculators (DL4J: ``org.deeplearning4j.earlystopping.scorecalc``): the number an early-stopping run
compares between epochs, computed on held-out data.

Every calculator takes the held-out data as a DataSetIterator (reset before each calculation, as DL4J), a
``DataSet``, a ``(features, labels)`` pair or a features array, and has ``calculateScore(net)`` and
``minimizeScore()`` (whether lower is better).
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Iterator

import numpy as np

from .._naming import snake_aliases
from ..exceptions import DL4JInvalidConfigException, DL4JInvalidInputException


def _batches(data: Any) -> Iterator[tuple[np.ndarray, Any]]:
    """(features, labels) per minibatch of ``data``."""
    if hasattr(data, "hasNext") and hasattr(data, "next"):
        if hasattr(data, "reset"):
            data.reset()
        while data.hasNext():
            ds = data.next()
            yield ds.getFeatures(), ds.getLabels()
        return
    if hasattr(data, "getFeatures") and hasattr(data, "getLabels"):
        yield data.getFeatures(), data.getLabels()
        return
    if isinstance(data, tuple) and len(data) == 2:
        yield data[0], data[1]
        return
    if isinstance(data, (list, tuple)):
        for item in data:
            yield from _batches(item)
        return
    arr = np.asarray(data)
    if arr.ndim != 2 or arr.dtype.kind not in "fiub":
        raise DL4JInvalidInputException(
            "score calculator: held-out data must be a DataSetIterator, a DataSet, a (features, labels) pair or a "
            f"2-D numeric array; got {type(data).__name__}" + (f" of shape {arr.shape}" if arr.ndim else "")
        )
    step = 1024
    for start in range(0, arr.shape[0], step):
        yield arr[start:start + step], None


def _network_layer(net: Any, layerIndex: int | None, engine_type: type, what: str, owner: str) -> tuple[int, Any]:
    """(index, engine layer) of the layer to score: ``layerIndex`` or the first layer of ``engine_type``."""
    layers = net.getLayers()
    if layerIndex is None:
        for i, layer in enumerate(layers):
            if isinstance(layer, engine_type):
                return i, layer
        raise DL4JInvalidConfigException(f"{owner}: the network has no {what} layer")
    if not 0 <= layerIndex < len(layers):
        raise DL4JInvalidConfigException(f"{owner}: layer index {layerIndex} out of range [0, {len(layers)})")
    layer = layers[layerIndex]
    if not isinstance(layer, engine_type):
        raise DL4JInvalidConfigException(f"{owner}: layer {layerIndex} is {layer.describe()}, not a {what} layer")
    return layerIndex, layer


def _layer_input(net: Any, index: int, features: Any) -> np.ndarray:
    """Inference-mode input of layer ``index`` for the network input ``features``."""
    if index == 0:
        return np.asarray(features)
    return net.activateSelectedLayers(0, index - 1, features)


@snake_aliases
class ScoreCalculator:
    """Base of all score calculators: ``calculateScore(net) -> float`` and ``minimizeScore() -> bool``."""

    def calculateScore(self, network: Any) -> float:
        raise NotImplementedError

    def minimizeScore(self) -> bool:
        return True


@snake_aliases
class BaseScoreCalculator(ScoreCalculator):
    """Sums ``scoreMinibatch`` over the minibatches of the held-out data and turns the sum into the final score
    (``finalScore``: the average over examples when ``average``, else the sum)."""

    def __init__(self, data: Any, average: bool = True) -> None:
        if data is None:
            raise DL4JInvalidConfigException(f"{type(self).__name__}: held-out data must not be None")
        self.data = data
        self.average = bool(average)

    def scoreMinibatch(self, network: Any, features: Any, labels: Any) -> float:
        raise NotImplementedError

    def finalScore(self, scoreSum: float, minibatchCount: int, exampleCount: int) -> float:
        return scoreSum / exampleCount if self.average else scoreSum

    def calculateScore(self, network: Any) -> float:
        total, batches, examples = 0.0, 0, 0
        for features, labels in _batches(self.data):
            total += float(self.scoreMinibatch(network, features, labels))
            batches += 1
            examples += int(np.shape(features)[0])
        if examples == 0:
            raise DL4JInvalidInputException(f"{type(self).__name__}: the held-out data is empty")
        return float(self.finalScore(total, batches, examples))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(average={self.average})"


@snake_aliases
class DataSetLossCalculator(BaseScoreCalculator):
    """The network's loss on held-out labelled data (``net.score(DataSet)``: mean loss plus the regularisation
    score), averaged over examples (``average=True``) or summed over minibatches weighted by their size.
    Lower is better."""

    def scoreMinibatch(self, network: Any, features: Any, labels: Any) -> float:
        if labels is None:
            raise DL4JInvalidInputException("DataSetLossCalculator: the held-out data has no labels")
        return network.score((features, labels)) * np.shape(features)[0]


@snake_aliases
class VAEReconProbScoreCalculator(BaseScoreCalculator):
    """Reconstruction (log-)probability of held-out data under a variational autoencoder layer (DL4J: the VAE is
    layer 0; here ``layerIndex``, default the first VAE layer, fed the activations of the layers below it).
    ``logProb=True`` sums ``reconstructionLogProbability``, else ``reconstructionProbability``; ``average``
    divides by the number of examples. Higher is better (``minimizeScore()`` is False).

    The sampling noise comes from a generator of its own seeded with ``seed`` and re-created for each calculation:
    every epoch is scored with the same noise (comparable scores), and scoring never disturbs the network's
    random stream (training gives the same parameters with or without early stopping). DL4J draws from ND4J's
    global generator instead."""

    def __init__(self, data: Any, reconstructionProbNumSamples: int, logProb: bool = True, average: bool = True,
                 layerIndex: int | None = None, seed: int = 12345) -> None:
        super().__init__(data, average)
        if (isinstance(reconstructionProbNumSamples, bool) or not isinstance(reconstructionProbNumSamples, int)
                or reconstructionProbNumSamples <= 0):
            raise DL4JInvalidConfigException(
                f"VAEReconProbScoreCalculator: reconstructionProbNumSamples must be an integer > 0, got "
                f"{reconstructionProbNumSamples!r}"
            )
        self.num_samples = reconstructionProbNumSamples
        self.log_prob = bool(logProb)
        self.layer_index = layerIndex
        self.seed = seed
        self._rng: np.random.Generator | None = None

    def calculateScore(self, network: Any) -> float:
        self._rng = np.random.default_rng(self.seed)
        return super().calculateScore(network)

    def scoreMinibatch(self, network: Any, features: Any, labels: Any) -> float:
        from ..nn.layers.variational import VariationalAutoencoderEngine

        index, vae = _network_layer(network, self.layer_index, VariationalAutoencoderEngine, "VariationalAutoencoder",
                                    "VAEReconProbScoreCalculator")
        x = _layer_input(network, index, features)
        rng = self._rng if self._rng is not None else np.random.default_rng(self.seed)
        noise = rng.standard_normal((self.num_samples, x.shape[0], vae.n_out)).astype(vae.dtype)
        if self.log_prob:
            return float(np.sum(vae.reconstructionLogProbability(x, self.num_samples, noise), dtype=np.float64))
        return float(np.sum(vae.reconstructionProbability(x, self.num_samples, noise), dtype=np.float64))

    def minimizeScore(self) -> bool:
        return False

    def __repr__(self) -> str:
        return (f"VAEReconProbScoreCalculator(numSamples={self.num_samples}, logProb={self.log_prob}, "
                f"average={self.average})")


@snake_aliases
class VAEReconErrorScoreCalculator(BaseScoreCalculator):
    """``reconstructionError`` of held-out data under a VAE configured with a loss function
    (``LossFunctionWrapper``), averaged over examples or summed. Lower is better."""

    def __init__(self, data: Any, average: bool = True, layerIndex: int | None = None) -> None:
        super().__init__(data, average)
        self.layer_index = layerIndex

    def scoreMinibatch(self, network: Any, features: Any, labels: Any) -> float:
        from ..nn.layers.variational import VariationalAutoencoderEngine

        index, vae = _network_layer(network, self.layer_index, VariationalAutoencoderEngine, "VariationalAutoencoder",
                                    "VAEReconErrorScoreCalculator")
        return float(np.sum(vae.reconstructionError(_layer_input(network, index, features)), dtype=np.float64))


class Metric(str, Enum):
    """DL4J's ``RegressionEvaluation.Metric``; ``minimize()`` says whether lower is better."""

    MSE = "MSE"
    MAE = "MAE"
    RMSE = "RMSE"
    RSE = "RSE"
    PC = "PC"
    R2 = "R2"

    def minimize(self) -> bool:
        return self not in (Metric.PC, Metric.R2)


@snake_aliases
class AutoencoderScoreCalculator(ScoreCalculator):
    """How well an ``AutoEncoder`` layer reconstructs held-out data: ``decode(encode(x))`` against ``x`` (no
    corruption), by a regression metric averaged over the columns as DL4J's ``RegressionEvaluation`` —
    ``MSE``, ``MAE``, ``RMSE``, ``RSE`` (relative squared error), ``PC`` (Pearson correlation), ``R2``.
    Columns that are constant in the held-out data are left out of RSE, PC and R2 (DL4J gives NaN there).
    ``layerIndex``: the layer to score (default the first AutoEncoder), fed the activations below it."""

    def __init__(self, metric: "Metric | str", data: Any, layerIndex: int | None = None) -> None:
        try:
            self.metric = Metric(str(getattr(metric, "value", metric)).upper())
        except ValueError:
            raise DL4JInvalidConfigException(
                f"AutoencoderScoreCalculator: metric must be one of {', '.join(m.value for m in Metric)}, got {metric!r}"
            ) from None
        if data is None:
            raise DL4JInvalidConfigException("AutoencoderScoreCalculator: held-out data must not be None")
        self.data = data
        self.layer_index = layerIndex

    def calculateScore(self, network: Any) -> float:
        from ..nn.layers.autoencoder import AutoEncoderEngine

        n = 0
        sums: dict[str, np.ndarray] = {}
        for features, _ in _batches(self.data):
            index, ae = _network_layer(network, self.layer_index, AutoEncoderEngine, "AutoEncoder",
                                       "AutoencoderScoreCalculator")
            x = np.asarray(_layer_input(network, index, features), dtype=np.float64)
            r = ae.reconstruct(x.astype(ae.dtype)).astype(np.float64)
            d = x - r
            for key, value in (("x", x), ("r", r), ("xx", x * x), ("rr", r * r), ("xr", x * r), ("dd", d * d),
                               ("ad", np.abs(d))):
                sums[key] = sums.get(key, 0.0) + value.sum(axis=0)
            n += x.shape[0]
        if n == 0:
            raise DL4JInvalidInputException("AutoencoderScoreCalculator: the held-out data is empty")
        mse = sums["dd"] / n
        if self.metric is Metric.MSE:
            return float(mse.mean())
        if self.metric is Metric.MAE:
            return float((sums["ad"] / n).mean())
        if self.metric is Metric.RMSE:
            return float(np.sqrt(mse).mean())
        ss_x = sums["xx"] - sums["x"] ** 2 / n  # total sum of squares of each column
        varying = ss_x > 1e-12 * np.maximum(1.0, sums["xx"])
        if not varying.any():
            raise DL4JInvalidInputException(
                f"AutoencoderScoreCalculator: {self.metric.value} is undefined: every column of the held-out data is constant"
            )
        if self.metric is Metric.RSE:
            return float((sums["dd"][varying] / ss_x[varying]).mean())
        if self.metric is Metric.R2:
            return float((1.0 - sums["dd"][varying] / ss_x[varying]).mean())
        ss_r = sums["rr"] - sums["r"] ** 2 / n
        cov = sums["xr"] - sums["x"] * sums["r"] / n
        with np.errstate(invalid="ignore", divide="ignore"):
            pc = cov[varying] / np.sqrt(ss_x[varying] * ss_r[varying])
        return float(np.nan_to_num(pc, nan=0.0).mean())

    def minimizeScore(self) -> bool:
        return self.metric.minimize()

    def __repr__(self) -> str:
        return f"AutoencoderScoreCalculator({self.metric.value})"


__all__ = [
    "ScoreCalculator",
    "BaseScoreCalculator",
    "DataSetLossCalculator",
    "VAEReconProbScoreCalculator",
    "VAEReconErrorScoreCalculator",
    "AutoencoderScoreCalculator",
    "Metric",
]
