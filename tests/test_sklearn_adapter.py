"""dl4py.sklearn.VAEAnomalyDetector: scikit-learn's estimator protocol, fit/score on real data (scikit-learn's
digits), use in a Pipeline, and the same protocol without scikit-learn."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from dl4py.exceptions import DL4JInvalidConfigException, DL4JInvalidInputException

from .conftest import REPO_ROOT

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

from dl4py.sklearn import VAEAnomalyDetector  # noqa: E402

SMALL = dict(n_latent=4, encoder_layer_sizes=(48,), decoder_layer_sizes=(48,), batch_size=64)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], d.target[order]


@pytest.fixture(scope="module")
def fitted(digits):
    """Trained on the digits 0-4 only: 5-9 are the anomalies."""
    x, y = digits
    normal = x[(y < 5)][:600]
    return VAEAnomalyDetector(epochs=15, contamination=0.1, **SMALL).fit(normal)


def test_fit_score_predict_on_digits(digits, fitted):
    x, y = digits
    det = fitted
    assert det.reconstruction_ == "bernoulli" and det.n_features_in_ == 64
    held_normal, held_novel = x[y < 5][600:800], x[y >= 5][:200]
    s_normal, s_novel = det.score_samples(held_normal), det.score_samples(held_novel)
    assert s_normal.shape == (200,) and s_normal.dtype == np.float64
    assert s_normal.mean() > s_novel.mean() + 1.0  # unseen digits are less probable
    # the contamination fraction of the training data falls below offset_
    train_pred = det.predict(x[y < 5][:600])
    assert abs((train_pred == -1).mean() - 0.1) < 0.02
    assert np.mean(det.predict(held_novel) == -1) > np.mean(det.predict(held_normal) == -1)
    np.testing.assert_allclose(det.decision_function(held_normal), s_normal - det.offset_)
    np.testing.assert_array_equal(det.score_samples(held_normal), s_normal)  # deterministic scoring
    assert det.score(held_normal) == pytest.approx(s_normal.mean())
    z = det.transform(held_normal)
    assert z.shape == (200, 4)
    np.testing.assert_allclose(z, det.network_.getLayer(0).activate(held_normal), rtol=1e-6)
    assert det.inverse_transform(z).shape == (200, 64)
    assert list(det.get_feature_names_out()) == ["latent0", "latent1", "latent2", "latent3"]


def test_estimator_protocol(fitted):
    det = VAEAnomalyDetector(epochs=3, contamination=0.2, **SMALL)
    params = det.get_params()
    assert params["epochs"] == 3 and params["contamination"] == 0.2 and params["conf"] is None
    assert det.set_params(epochs=4) is det and det.epochs == 4
    with pytest.raises(ValueError):
        det.set_params(no_such_parameter=1)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "network_")
    assert "contamination=0.1" in repr(fitted)
    try:
        from sklearn.utils import get_tags
    except ImportError:  # scikit-learn < 1.6
        assert fitted._estimator_type == "outlier_detector"
    else:
        assert get_tags(fitted).estimator_type == "outlier_detector"
    with pytest.raises(sklearn.exceptions.NotFittedError):
        copy.score_samples(np.zeros((2, 64)))


def test_pipelines(digits):
    x, y = digits
    pipe = make_pipeline(StandardScaler(), VAEAnomalyDetector(epochs=4, **SMALL))
    pipe.fit(x[:500])
    assert pipe[-1].reconstruction_ == "gaussian"  # standardised data is not in [0, 1]
    assert pipe.score_samples(x[500:520]).shape == (20,)
    assert set(pipe.predict(x[500:600])) <= {-1, 1}
    # as a feature extractor in front of a classifier
    from sklearn.linear_model import LogisticRegression

    clf = Pipeline([("scale", MinMaxScaler()), ("vae", VAEAnomalyDetector(epochs=10, **{**SMALL, "n_latent": 8})),
                    ("clf", LogisticRegression(max_iter=2000))])
    clf.fit(x[:1000], y[:1000])
    assert clf.score(x[1000:1400], y[1000:1400]) > 0.5  # chance is 0.1
    assert clf.named_steps["vae"].transform(x[:3]).shape == (3, 8)


def test_pickle_round_trip_and_given_configuration(fitted, digits):
    x, _ = digits
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.score_samples(x[:50]), fitted.score_samples(x[:50]))
    conf_json = fitted.network_.getLayerWiseConfigurations().toJson()
    det = VAEAnomalyDetector(conf=conf_json, epochs=1).fit(x[:128])
    assert det.reconstruction_ == "configured" and det.transform(x[:2]).shape == (2, 4)


def test_input_and_parameter_errors(fitted):
    with pytest.raises(DL4JInvalidInputException, match="fitted with 64 features"):
        fitted.score_samples(np.zeros((3, 10)))
    with pytest.raises(DL4JInvalidInputException, match="2-D"):
        fitted.score_samples(np.zeros(64))
    with pytest.raises(DL4JInvalidInputException, match="non-finite"):
        fitted.score_samples(np.full((2, 64), np.nan))
    with pytest.raises(DL4JInvalidConfigException, match="contamination"):
        VAEAnomalyDetector(contamination=0.7).fit(np.zeros((4, 3)))
    with pytest.raises(DL4JInvalidInputException, match="needs data in \\[0, 1\\]"):
        VAEAnomalyDetector(reconstruction="bernoulli", epochs=1).fit(np.full((4, 3), 2.0))
    with pytest.raises(DL4JInvalidConfigException, match="activation"):
        VAEAnomalyDetector(activation="wiggly", epochs=1).fit(np.zeros((4, 3)))


def test_without_scikit_learn_same_protocol_and_no_import_at_module_import():
    code = r"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError("blocked for the test")
sys.meta_path.insert(0, Block())
import numpy as np
import dl4py.sklearn as mod
assert "sklearn" not in sys.modules
from dl4py.sklearn import VAEAnomalyDetector as V
assert [c.__name__ for c in V.__mro__] == ["VAEAnomalyDetector", "_VAEAnomalyDetectorImpl", "_ParamsFallback", "object"]
det = V(n_latent=2, encoder_layer_sizes=(8,), decoder_layer_sizes=(8,), epochs=2)
assert det.get_params()["n_latent"] == 2 and det.set_params(epochs=3).epochs == 3
copy = type(det)(**det.get_params())
x = (np.random.default_rng(0).random((40, 6)) > 0.5).astype("float32")
try:
    det.predict(x)
except mod._NotFittedError:
    pass
else:
    raise AssertionError("not fitted")
labels = det.fit_predict(x)
assert set(labels) <= {-1, 1} and det.fit_transform(x).shape == (40, 2)
print("ok", repr(copy))
"""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok VAEAnomalyDetector(")
