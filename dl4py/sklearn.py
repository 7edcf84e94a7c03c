"""A scikit-learn-style anomaly detector around a variational autoencoder.

    from dl4py.sklearn import VAEAnomalyDetector

    det = VAEAnomalyDetector(n_latent=8, epochs=20, contamination=0.05).fit(X_train)
    det.score_samples(X)       # reconstruction log-probability per row: higher = more normal
    det.predict(X)             # +1 inlier, -1 outlier (the `contamination` fraction of the training data)
    det.transform(X)           # the mean of q(z|x): an [N, n_latent] embedding

It follows scikit-learn's estimator protocol (constructor parameters only stored; ``get_params``/``set_params``;
``fit`` returns self; fitted attributes end in ``_``), so it works with ``clone``, ``Pipeline`` and
``GridSearchCV``. scikit-learn is *not* a dependency: this module never imports it at import time. The class is
created when first used: with scikit-learn installed it derives from ``BaseEstimator``, ``OutlierMixin`` and
``TransformerMixin`` (``fit_predict``, ``fit_transform``, ``set_output``, estimator tags); without it, it is a
plain class with the same methods (``get_params``/``set_params``, ``fit_predict``, ``fit_transform``).
"""
from __future__ import annotations

import inspect
from typing import Any, Sequence

import numpy as np

from .exceptions import DL4JException, DL4JInvalidConfigException, DL4JInvalidInputException

__all__ = ["VAEAnomalyDetector"]

_RECONSTRUCTIONS = ("auto", "bernoulli", "gaussian")


class _NotFittedError(DL4JException, ValueError, AttributeError):
    """Raised (without scikit-learn) when a method needs a fitted detector."""


def _not_fitted(name: str) -> Exception:
    message = f"This {name} instance is not fitted yet. Call 'fit' with appropriate arguments before using this estimator."
    try:
        from sklearn.exceptions import NotFittedError
    except ImportError:
        return _NotFittedError(message)
    return NotFittedError(message)


def _as_matrix(X: Any, what: str, n_features: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DL4JInvalidInputException(f"{what}: expected a 2-D array of numbers ({exc})") from None
    if arr.ndim != 2:
        raise DL4JInvalidInputException(
            f"{what}: expected a 2-D array [n_samples, n_features], got shape {arr.shape}"
            + (" (reshape a single sample with X.reshape(1, -1))" if arr.ndim == 1 else "")
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DL4JInvalidInputException(f"{what}: empty input of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        r, c = np.argwhere(~np.isfinite(arr))[0]
        raise DL4JInvalidInputException(f"{what}: non-finite value {arr[r, c]} at row {r}, column {c}")
    if n_features is not None and arr.shape[1] != n_features:
        raise DL4JInvalidInputException(
            f"{what}: X has {arr.shape[1]} features, but the detector was fitted with {n_features} features"
        )
    return np.ascontiguousarray(arr)


class _VAEAnomalyDetectorImpl:
    """Anomaly detection with a variational autoencoder (DL4J's VaeMNISTAnomaly recipe as an estimator).

    Parameters
    ----------
    conf : MultiLayerConfiguration, DL4J JSON text or None
        A network whose first VariationalAutoencoder layer is used; its ``nIn`` must match the data. When None
        (default) the network is built from the parameters below with DL4J's builder chain: Adam(learning_rate),
        Xavier init, L2 ``l2``, LeakyReLU encoder/decoder, identity p(z|x) activation.
    n_latent : int
        Size of the latent space (``nOut``).
    encoder_layer_sizes, decoder_layer_sizes : sequence of int
    activation : str
        Hidden-layer activation (a DL4J ``Activation`` name).
    reconstruction : {"auto", "bernoulli", "gaussian"}
        p(x|z): Bernoulli(sigmoid) for data in [0, 1], Gaussian(identity) for any real data; "auto" picks
        Bernoulli when every training value lies in [0, 1] (``reconstruction_`` tells which was used).
    learning_rate, l2 : float
    epochs, batch_size : int
        Layer-wise pretraining epochs and minibatch size.
    num_samples : int
        Samples of z per example for the reconstruction probability.
    contamination : float in (0, 0.5]
        Expected fraction of outliers: ``predict`` flags the rows scoring below the ``contamination`` quantile of
        the training scores (``offset_``).
    seed : int
        Seeds the network, the minibatch order and the scoring noise (the same rows always score the same).
    progress : bool
        Show a progress bar while fitting.

    Fitted attributes: ``network_`` (the trained ``MultiLayerNetwork``), ``layer_index_``, ``reconstruction_``,
    ``offset_``, ``n_features_in_``, ``training_scores_``.
    """

    def __init__(self, conf: Any = None, *, n_latent: int = 8, encoder_layer_sizes: Sequence[int] = (256, 256),
                 decoder_layer_sizes: Sequence[int] = (256, 256), activation: str = "LEAKYRELU",
                 reconstruction: str = "auto", learning_rate: float = 1e-3, l2: float = 1e-4, epochs: int = 10,
                 batch_size: int = 128, num_samples: int = 16, contamination: float = 0.05, seed: int = 12345,
                 progress: bool = False) -> None:
        self.conf = conf
        self.n_latent = n_latent
        self.encoder_layer_sizes = encoder_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.reconstruction = reconstruction
        self.learning_rate = learning_rate
        self.l2 = l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.num_samples = num_samples
        self.contamination = contamination
        self.seed = seed
        self.progress = progress

    # -- configuration --------------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        name = type(self).__name__
        for key in ("epochs", "batch_size", "num_samples", "n_latent"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise DL4JInvalidConfigException(f"{name}: {key} must be an integer > 0, got {value!r}")
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.0 < c <= 0.5:
            raise DL4JInvalidConfigException(f"{name}: contamination must be in (0, 0.5], got {c!r}")
        if self.reconstruction not in _RECONSTRUCTIONS:
            raise DL4JInvalidConfigException(
                f"{name}: reconstruction must be one of {', '.join(_RECONSTRUCTIONS)}, got {self.reconstruction!r}"
            )

    def _build_conf(self, n_in: int, reconstruction: str) -> Any:
        from .activations import Activation
        from .learning.config import Adam
        from .nn.conf import NeuralNetConfiguration
        from .nn.conf.layers.variational import (
            BernoulliReconstructionDistribution,
            GaussianReconstructionDistribution,
            VariationalAutoencoder,
        )
        from .nn.weights import WeightInit

        try:
            act = Activation[str(self.activation).upper()]
        except KeyError:
            raise DL4JInvalidConfigException(
                f"{type(self).__name__}: activation {self.activation!r} is not a DL4J Activation "
                f"(e.g. {', '.join(a.name for a in list(Activation)[:6])}, ...)"
            ) from None
        if reconstruction == "bernoulli":
            dist = BernoulliReconstructionDistribution(Activation.SIGMOID.getActivationFunction())
        else:
            dist = GaussianReconstructionDistribution(Activation.IDENTITY.getActivationFunction())
        builder = NeuralNetConfiguration.Builder().seed(int(self.seed)).updater(Adam(float(self.learning_rate)))
        builder = builder.weightInit(WeightInit.XAVIER)
        if self.l2:
            builder = builder.l2(float(self.l2))
        return (
            builder.list()
            .layer(
                VariationalAutoencoder.Builder()
                .activation(act)
                .encoderLayerSizes(*[int(s) for s in self.encoder_layer_sizes])
                .decoderLayerSizes(*[int(s) for s in self.decoder_layer_sizes])
                .pzxActivationFunction(Activation.IDENTITY)
                .reconstructionDistribution(dist)
                .nIn(n_in)
                .nOut(int(self.n_latent))
                .build()
            )
            .build()
        )

    def _given_conf(self) -> Any:
        from .nn.conf import MultiLayerConfiguration

        conf = self.conf
        if isinstance(conf, (str, bytes)):
            return MultiLayerConfiguration.fromJson(conf)
        if isinstance(conf, MultiLayerConfiguration):
            return conf.clone()
        build = getattr(conf, "build", None)
        if callable(build):  # a ListBuilder
            return build()
        raise DL4JInvalidConfigException(
            f"{type(self).__name__}: conf must be a MultiLayerConfiguration, its JSON text, a list builder or None; "
            f"got {type(conf).__name__}"
        )

    # -- fitting --------------------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> Any:
        """Pretrain the VAE on ``X`` [n_samples, n_features] (``y`` is ignored) and set the outlier threshold."""
        from .datasets import NumpyDataSetIterator
        from .nn.layers.variational import VariationalAutoencoderEngine
        from .nn.multilayer import MultiLayerNetwork

        self._check_params()
        x = _as_matrix(X, f"{type(self).__name__}.fit")
        in_unit = bool(x.min() >= 0.0 and x.max() <= 1.0)
        if self.conf is None:
            recon = self.reconstruction if self.reconstruction != "auto" else ("bernoulli" if in_unit else "gaussian")
            if recon == "bernoulli" and not in_unit:
                raise DL4JInvalidInputException(
                    f"{type(self).__name__}: reconstruction='bernoulli' needs data in [0, 1], got values in "
                    f"[{x.min():.4g}, {x.max():.4g}] (scale it, e.g. MinMaxScaler, or use reconstruction='gaussian')"
                )
            conf = self._build_conf(x.shape[1], recon)
        else:
            conf = self._given_conf()
            recon = "configured"
        net = MultiLayerNetwork(conf)
        net.init()
        index = next((i for i, l in enumerate(net.getLayers()) if isinstance(l, VariationalAutoencoderEngine)), None)
        if index is None:
            raise DL4JInvalidConfigException(f"{type(self).__name__}: the configuration has no VariationalAutoencoder layer")
        n_in = net.getLayerWiseConfigurations().confs[0].layer.n_in
        if n_in != x.shape[1]:
            raise DL4JInvalidInputException(
                f"{type(self).__name__}.fit: X has {x.shape[1]} features, but the configuration's first layer has nIn={n_in}"
            )
        data = NumpyDataSetIterator(x, None, batchSize=int(self.batch_size), shuffle=True, seed=int(self.seed))
        for i in range(index + 1):
            if net.getLayer(i).isPretrainLayer():
                net.pretrainLayer(i, data, int(self.epochs), progress=bool(self.progress))
        self.network_ = net
        self.layer_index_ = index
        self.reconstruction_ = recon
        self.n_features_in_ = x.shape[1]
        self.training_scores_ = self._log_probability(x)
        self.offset_ = float(np.percentile(self.training_scores_, 100.0 * float(self.contamination)))
        return self

    # -- helpers --------------------------------------------------------------------------------------------------
    def _fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise _not_fitted(type(self).__name__)

    def _vae_input(self, X: Any, what: str) -> tuple[Any, np.ndarray]:
        self._fitted()
        x = _as_matrix(X, f"{type(self).__name__}.{what}", self.n_features_in_)
        net, index = self.network_, self.layer_index_
        h = x if index == 0 else net.activateSelectedLayers(0, index - 1, x)
        return net.getLayer(index), h

    def _log_probability(self, x: np.ndarray, chunk: int = 2048) -> np.ndarray:
        net, index = self.network_, self.layer_index_
        vae = net.getLayer(index)
        rng = np.random.default_rng(int(self.seed))
        s = int(self.num_samples)
        out = np.empty(x.shape[0], dtype=np.float64)
        for start in range(0, x.shape[0], chunk):
            xb = x[start:start + chunk]
            h = xb if index == 0 else net.activateSelectedLayers(0, index - 1, xb)
            noise = rng.standard_normal((s, h.shape[0], vae.n_out)).astype(vae.dtype)
            out[start:start + chunk] = vae.reconstructionLogProbability(h, s, noise).reshape(-1)
        return out

    # -- scoring --------------------------------------------------------------------------------------------------
    def score_samples(self, X: Any) -> np.ndarray:
        """Reconstruction log-probability of each row (DL4J's ``reconstructionLogProbability`` with
        ``num_samples`` samples and noise seeded by ``seed``): higher = more normal."""
        self._fitted()
        return self._log_probability(_as_matrix(X, f"{type(self).__name__}.score_samples", self.n_features_in_))

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers (``decision_function(X) < 0``)."""
        return np.where(self.decision_function(X) < 0.0, -1, 1)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X).predict(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean reconstruction log-probability of ``X`` (higher is better; what ``GridSearchCV`` maximises)."""
        return float(np.mean(self.score_samples(X)))

    # -- latent space ---------------------------------------------------------------------------------------------
    def transform(self, X: Any) -> np.ndarray:
        """The mean of q(z|x) for each row (``vae.activate``): [n_samples, n_latent]."""
        vae, h = self._vae_input(X, "transform")
        return vae.activate(h, False)

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        return self.fit(X, y).transform(X)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Decode latent values to the mean of p(x|z) (``generateAtMeanGivenZ``); only for a VAE that is the
        network's first layer."""
        self._fitted()
        if self.layer_index_ != 0:
            raise DL4JInvalidConfigException(f"{type(self).__name__}.inverse_transform: the VAE is not the first layer")
        vae = self.network_.getLayer(0)
        z = _as_matrix(Z, f"{type(self).__name__}.inverse_transform", vae.n_out)
        return vae.generateAtMeanGivenZ(z)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the ``transform`` columns: ``latent0``, ``latent1``, ..."""
        self._fitted()
        k = self.network_.getLayer(self.layer_index_).n_out
        return np.asarray([f"latent{i}" for i in range(k)], dtype=object)

    # -- pickling: the network travels as a DL4J model zip ---------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        net = state.pop("network_", None)
        if net is not None:
            state["_network_zip"] = _zip_bytes(net)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        blob = state.pop("_network_zip", None)
        self.__dict__.update(state)
        if blob is not None:
            import io

            from .util import ModelSerializer

            self.network_ = ModelSerializer.restoreMultiLayerNetwork(io.BytesIO(blob), True)


def _zip_bytes(net: Any) -> bytes:
    """A model zip of ``net`` as bytes (written through a temporary file: saves are atomic renames)."""
    import os
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".zip")
    os.close(fd)
    try:
        net.save(path, True)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


# ------------------------------------------------------------------------------------------------------------------
# the public class, created on first use (with scikit-learn's base classes when scikit-learn is installed)
# ------------------------------------------------------------------------------------------------------------------
class _ParamsFallback:
    """``get_params``/``set_params`` with scikit-learn's semantics, for when scikit-learn is not installed."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> Any:
        valid = self._get_param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                                 f"Valid parameters are: {valid!r}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) is not v and defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"


def _make_class() -> type:
    doc = _VAEAnomalyDetectorImpl.__doc__
    try:
        from sklearn.base import BaseEstimator, OutlierMixin, TransformerMixin
    except ImportError:
        bases: tuple[type, ...] = (_VAEAnomalyDetectorImpl, _ParamsFallback)
    else:
        bases = (OutlierMixin, TransformerMixin, BaseEstimator, _VAEAnomalyDetectorImpl)
    namespace = {"__module__": __name__, "__doc__": doc, "__qualname__": "VAEAnomalyDetector"}
    if len(bases) == 4:
        # scikit-learn's mixins define these too; the VAE's own versions must win
        for name in ("fit_predict", "fit_transform", "score"):
            namespace[name] = getattr(_VAEAnomalyDetectorImpl, name)
    return type("VAEAnomalyDetector", bases, namespace)


def __getattr__(name: str) -> Any:
    if name == "VAEAnomalyDetector":
        cls = _make_class()
        globals()["VAEAnomalyDetector"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
