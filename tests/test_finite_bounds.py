"""The scan before an update and the bounds that let the engine skip the exact dry run.

A bound that says "finite" when the dry run would object would let NaN/∞ into the parameters, so every updater is
checked over many random blocks whose magnitudes straddle the overflow edge of its rule (gradients, states and
weights from 1e-3 to beyond √max, hyper-parameters including degenerate ones): a proof must never contradict the
exact dry run. The other direction is what makes it worth having: at ordinary magnitudes every rule proves.
"""
from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from dl4py.kernels import reductions as KR
from dl4py.kernels import updaters as K
from dl4py.nn.updater.finite_bounds import NON_NEGATIVE_STATE, proved_state_bounds

UPDATERS = list(K.STEP_KERNEL_BY_NAME)


def _hyper(name: str, rng: np.random.Generator, ordinary: bool) -> tuple:
    """Kernel hyper-parameters for ``name``: DL4J's defaults when ``ordinary``, else random, partly degenerate."""
    if ordinary:
        return {"Sgd": (0.1,), "NoOp": (), "Nesterovs": (0.1, 0.9), "RmsProp": (0.1, 0.95, 1e-8),
                "AdaGrad": (0.1, 1e-6), "AdaDelta": (0.95, 1e-6)}.get(name, (1e-3, 0.9, 0.999, 1e-8, 3))
    lr = float(rng.choice([1e-3, 0.5, 10.0, 1e6, 1e30, -0.1, 0.0]))
    beta = lambda: float(rng.choice([0.0, 0.5, 0.9, 0.999, 1.0, 1.5, -0.5]))  # noqa: E731
    eps = float(rng.choice([1e-8, 1e-30, 1e-50, 0.0, 1.0, 1e10]))
    t = int(rng.integers(0, 5))
    return {"Sgd": (lr,), "NoOp": (), "Nesterovs": (lr, beta()), "RmsProp": (lr, beta(), eps),
            "AdaGrad": (lr, eps), "AdaDelta": (beta(), eps)}.get(name, (lr, beta(), beta(), eps, t))


def _block(name: str, dtype, rng: np.random.Generator, ordinary: bool):
    n_entries = int(rng.integers(1, 4))
    lengths = rng.integers(1, 40, size=n_entries)
    length = int(lengths.sum())
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    big = math.sqrt(float(np.finfo(dtype).max))

    def values(size, nonneg=False):
        scale = 1.0 if ordinary else float(rng.choice([1e-3, 1.0, 1.0, 1.0, 1e10, big / 100, big * 0.9, big * 3, 1e37]))
        x = rng.normal(size=size) * scale * rng.random(size) ** 4
        if not ordinary and rng.random() < 0.05:
            x[rng.integers(size)] = rng.choice([np.nan, np.inf, -np.inf])
        return np.abs(x) if nonneg and (ordinary or rng.random() < 0.8) else x

    n_state = K.STATE_SIZE_MULTIPLIER[name]
    w = values(length).astype(dtype)
    g = values(length).astype(dtype)
    state = np.array([values(length, nonneg=True) for _ in range(n_state)], dtype=dtype).reshape(n_state, length)
    coefs = np.zeros((n_entries, 4))
    coefs[:, 0] = 1.0 / 32
    if not ordinary:
        coefs[:, 1:] = rng.choice([0.0, 0.0, 1e-4, 1.0, 1e20], size=(n_entries, 3))
    reg = np.zeros((n_entries, 2))
    return w, g, state, bounds, coefs, reg


def _proved(name, hyper, w, g, state, bounds, coefs, reg, tracked=None):
    """The new state's bounds when the update is proved finite, else None."""
    stats = np.zeros(2 + 2 * state.shape[0])
    K.scan_block(w, g, state, bounds, reg, stats)
    cmax = [float(np.max(np.abs(coefs[:, k]))) for k in range(4)]
    return proved_state_bounds(name, hyper, stats, cmax, w.dtype, tracked)


def _check_state_bounds(name, state, new_bounds):
    """The bounds a proof returns hold for the state the update wrote (and its non-negativity claims)."""
    assert len(new_bounds) == state.shape[0]
    for v, (row, bound) in enumerate(zip(state, new_bounds)):
        assert np.all(np.abs(row.astype(np.float64)) <= bound), (name, v)
        if NON_NEGATIVE_STATE[name][v]:
            assert np.all(row >= 0), (name, v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", UPDATERS)
def test_a_proof_never_contradicts_the_exact_dry_run(name, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{name}-{np.dtype(dtype).name}".encode()))
    kernel = K.STEP_KERNEL_BY_NAME[name]
    proved = refused = 0
    with np.errstate(all="ignore"):
        for _ in range(400):
            w, g, state, bounds, coefs, reg = _block(name, dtype, rng, ordinary=False)
            hyper = _hyper(name, rng, ordinary=rng.random() < 0.5)
            new_bounds = _proved(name, hyper, w, g, state, bounds, coefs, reg)
            if new_bounds is not None:
                proved += 1
                args = (w.copy(), g, *(s.copy() for s in state), bounds, coefs, *hyper)
                assert not kernel(*args, False), (name, hyper)
                kernel(*args, True)  # and the written values are finite
                assert all(np.all(np.isfinite(a)) for a in (args[0], *args[2:2 + state.shape[0]]))
                _check_state_bounds(name, np.array(args[2:2 + state.shape[0]]).reshape(state.shape), new_bounds)
            elif kernel(w.copy(), g, *(s.copy() for s in state), bounds, coefs, *hyper, False):
                refused += 1
    assert proved > 20 and refused > 20, (proved, refused)  # both sides of the edge were exercised


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", UPDATERS)
def test_ordinary_updates_are_proved_finite(name, dtype):
    rng = np.random.default_rng(7)
    for _ in range(20):
        block = _block(name, dtype, rng, ordinary=True)
        assert _proved(name, _hyper(name, rng, ordinary=True), *block) is not None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", UPDATERS)
def test_carried_state_bounds_stay_valid_over_many_updates(name, dtype):
    """Bounds carried from update to update (the state not read again) keep bounding the state the kernels write,
    including through steps with huge gradients that are not proved (the state is then read again)."""
    rng = np.random.default_rng(zlib.crc32(f"carry-{name}-{np.dtype(dtype).name}".encode()))
    kernel = K.STEP_KERNEL_BY_NAME[name]
    w, g, state, bounds, coefs, reg = _block(name, dtype, rng, ordinary=True)
    hyper = list(_hyper(name, rng, ordinary=True))
    tracked = None
    carried = 0
    w0 = w.copy()
    with np.errstate(all="ignore"):
        for t in range(300):
            spike = {49: 1e6, 99: 1e25, 149: 1e200}.get(t % 150, 1.0)
            g[:] = rng.normal(size=g.shape) * spike
            if spike > 1.0:
                w[:] = w0  # the weights are not carried: keep them usable after the spike
            if len(hyper) == 5:
                hyper[4] = t
            new_bounds = _proved(name, tuple(hyper), w, g, state, bounds, coefs, reg, tracked)
            if new_bounds is None and kernel(w, g, *state.copy(), bounds, coefs, *hyper, False):
                tracked = None  # refused: nothing written, and the next update reads the state
                continue
            carried += tracked is not None
            kernel(w, g, *state, bounds, coefs, *hyper, True)
            if new_bounds is not None:
                _check_state_bounds(name, state, new_bounds)
            tracked = new_bounds
    assert carried > 80  # (AdaMax proves little for ~50 steps after a huge gradient: its bound divides by 1e-32)


def test_a_gradient_whose_square_overflows_is_not_proved():
    """|g| ~ 1e20: v = β2·v + (1 − β2)·g² is small enough, but g² is formed first and overflows float32."""
    w, g = np.ones(4, np.float32), np.full(4, 1e20, np.float32)
    state = np.zeros((2, 4), np.float32)
    bounds, coefs, reg = np.array([0, 4]), np.array([[1.0, 0, 0, 0]]), np.zeros((1, 2))
    assert K.adam_step(w, g, *state.copy(), bounds, coefs, 1e-3, 0.9, 0.999, 1e-8, 0, False)
    assert _proved("Adam", (1e-3, 0.9, 0.999, 1e-8, 0), w, g, state, bounds, coefs, reg) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scan_sums_and_regularisation_score(dtype):
    rng = np.random.default_rng(3)
    w, g = rng.normal(size=50).astype(dtype), rng.normal(size=50).astype(dtype)
    state = rng.normal(size=(2, 50)).astype(dtype)
    state[1] = np.abs(state[1])
    bounds = np.array([0, 20, 20, 50], dtype=np.int64)
    reg = np.array([[0.3, 0.0], [0.5, 0.5], [0.0, 0.25]])
    stats = np.zeros(6)
    score = K.scan_block(w, g, state, bounds, reg, stats)
    w64 = w.astype(np.float64)
    expected = 0.3 * np.abs(w64[:20]).sum() + 0.25 * (w64[20:] ** 2).sum()
    assert score == pytest.approx(expected, rel=1e-13)
    assert stats[0] == pytest.approx(KR.sum_squares(w), rel=1e-13)
    assert stats[1] == pytest.approx(KR.sum_squares(g), rel=1e-13)
    assert stats[2] == pytest.approx(KR.sum_squares(state[0]), rel=1e-13)
    assert stats[3] == pytest.approx(2 * -state[0][state[0] < 0].astype(np.float64).sum(), rel=1e-13)
    assert stats[4] == pytest.approx(KR.sum_squares(state[1]), rel=1e-13)
    assert stats[5] == 0.0


def test_scan_refuses_mismatched_shapes():
    w = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="state must be"):
        K.scan_block(w, w, np.zeros((1, 3), np.float32), np.array([0, 4]), np.zeros((1, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="reg must be"):
        K.scan_block(w, w, np.zeros((1, 4), np.float32), np.array([0, 4]), np.zeros((2, 2)), np.zeros(4))


# -- the score a training step reports comes from the scan --------------------------------------------------------
def _regularised_net(dtype):
    from dl4py.activations import Activation
    from dl4py.learning.config import Adam
    from dl4py.learning.regularization import L2Regularization
    from dl4py.lossfunctions import LossFunctions
    from dl4py.nn.conf import NeuralNetConfiguration
    from dl4py.nn.conf.layers import AutoEncoder, DenseLayer, OutputLayer
    from dl4py.nn.conf.layers.variational import VariationalAutoencoder
    from dl4py.nn.multilayer import MultiLayerNetwork
    from dl4py.schedule import ScheduleType, StepSchedule

    conf = (NeuralNetConfiguration.Builder().seed(11).dataType("DOUBLE" if dtype == np.float64 else "FLOAT")
            .updater(Adam(1e-2)).l1(0.01).l2(0.02).l1Bias(0.003).weightDecayBias(0.05).list()
            .layer(VariationalAutoencoder.Builder().nIn(6).nOut(3).encoderLayerSizes(5).decoderLayerSizes(4)
                   .activation(Activation.TANH).build())
            .layer(AutoEncoder.Builder().nIn(3).nOut(4).activation(Activation.SIGMOID).weightDecay(0.1).build())
            .layer(DenseLayer.Builder().nIn(4).nOut(5).activation(Activation.RELU)
                   .regularization([L2Regularization(StepSchedule(ScheduleType.ITERATION, 0.1, 0.5, 1))]).build())
            .layer(OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY).build())
            .build())
    return MultiLayerNetwork(conf).init()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_scores_carry_the_regularisation_of_the_updated_parameters(dtype):
    """Supervised: the scan's score is the backprop parameters' (DL4J's calcRegularizationScore(true)), and the
    score ``fit`` reports equals ``computeGradientAndScore`` before the step; pretraining: all of the layer's."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(7, 6)).astype(dtype), rng.normal(size=(7, 2)).astype(dtype)
    net = _regularised_net(dtype)
    for step in range(3):  # the StepSchedule halves the dense layer's L2 every iteration
        expected = net.clone().computeGradientAndScore(x, y)[0]
        it = net.getIterationCount()
        assert net.calcRegularizationScore(True) > 0
        net.fit(x, y)
        assert net.score() == pytest.approx(expected, rel=1e-12), step
        assert net.getIterationCount() == it + 1
    for idx in (0, 1):
        layer = net.getLayer(idx)
        it = net.getLayerWiseConfigurations().confs[idx].iteration_count
        raw = net.getLayer(idx).grad_flat.copy()
        prepared = net.pretrain_updater(idx).prepare(net.params().copy(), np.zeros_like(net.params()), it, 0, 7,
                                                     skip_pretrain=False)
        assert prepared.regularization_score == pytest.approx(layer.regularization_score(False, it, 0), rel=1e-12)
        if idx == 0:  # the VAE's decoder and p(x|z) parameters are pretrain-only, and regularised
            assert layer.regularization_score(False, it, 0) > layer.regularization_score(True, it, 0) > 0
        np.testing.assert_array_equal(layer.grad_flat, raw)  # prepare wrote nothing into the network


@pytest.mark.parametrize("how", ["updaterState", "getUpdater().state", "set_state"])
def test_a_state_written_from_outside_is_read_again(how):
    """The carried bounds are dropped as soon as the state is handed out or set: an Adam m pushed to 3e38 between
    two steps makes the next update overflow, and the step is refused instead of writing ∞."""
    from dl4py.exceptions import NonFiniteException

    net = _regularised_net(np.float32)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 6)).astype(np.float32), rng.normal(size=(7, 2)).astype(np.float32)
    for _ in range(3):
        net.fit(x, y)
    up = net.getUpdater()
    assert all(t is not None for b, t in zip(up.blocks, up._tracked) if not b.pretrain)  # bounds carried
    huge = net.updaterState().copy()
    n_first = net.getUpdater().blocks[0].length
    huge[:n_first] = 3e38  # the first block's m
    if how == "updaterState":
        net.updaterState()[:] = huge
    elif how == "getUpdater().state":
        net.getUpdater().state[:n_first] = 3e38
    else:
        net.getUpdater().set_state(huge)
    params = net.params().copy()
    with pytest.raises(NonFiniteException, match="would overflow"):
        net.fit(x, y)
    np.testing.assert_array_equal(net.params(), params)
