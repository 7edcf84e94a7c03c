"""Activation and loss kernels against independent NumPy formulas (spec §6, §7) and finite differences."""
from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from dl4py.kernels import activations as KA
from dl4py.kernels import losses as KL

RNG_SEED = 1234
SELU_L, SELU_A = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


# --------------------------------------------------------------------------------------------------------------
# reference formulas (float64 NumPy, written from the spec)
# --------------------------------------------------------------------------------------------------------------
def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_act(name: str, p: np.ndarray, x: np.ndarray) -> np.ndarray:
    p0, p1, p2 = p[0], p[1], p[2]
    if name == "IDENTITY":
        return x.copy()
    if name == "SIGMOID":
        return _sig(x)
    if name == "TANH":
        return np.tanh(x)
    if name == "RELU":
        y = np.where(x >= p1, x, p2 * (x - p1))
        return y if math.isnan(p0) else np.minimum(y, p0)
    if name in ("LEAKYRELU", "RRELU"):
        a = p0 if name == "LEAKYRELU" else 0.5 * (p0 + p1)
        return np.where(x >= 0, x, a * x)
    if name == "ELU":
        return np.where(x >= 0, x, p0 * (np.exp(x) - 1.0))
    if name == "SELU":
        return SELU_L * np.where(x > 0, x, SELU_A * (np.exp(x) - 1.0))
    if name == "SOFTMAX":
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "SOFTPLUS":
        return np.log(1.0 + np.exp(x))
    if name == "SOFTSIGN":
        return x / (1.0 + np.abs(x))
    if name == "CUBE":
        return x ** 3
    if name == "HARDSIGMOID":
        return np.minimum(1.0, np.maximum(0.0, 0.2 * x + 0.5))
    if name == "HARDTANH":
        return np.clip(x, -1.0, 1.0)
    if name == "RATIONALTANH":
        y = 2.0 * x / 3.0
        return 1.7159 * np.sign(y) * (1.0 - 1.0 / (1.0 + np.abs(y) + y ** 2 + 1.41645 * y ** 4))
    if name == "RECTIFIEDTANH":
        return np.maximum(0.0, np.tanh(x))
    if name == "RELU6":
        return np.minimum(np.maximum(0.0, x), 6.0)
    if name == "SWISH":
        return x * _sig(x)
    if name == "THRESHOLDEDRELU":
        return np.where(x > p0, x, 0.0)
    if name == "GELU":
        if p0 != 0.0:  # as DL4J codes it: (0.044715·x)³
            return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + (0.044715 * x) ** 3)))
        return x * _sig(1.702 * x)
    if name == "MISH":
        return x * np.tanh(np.log1p(np.exp(x)))
    raise AssertionError(name)


# activation name -> (parameters, kinks to keep test points away from)
ACT_CASES = {
    "IDENTITY": ((), ()), "SIGMOID": ((), ()), "TANH": ((), ()), "RELU": ((), (0.0,)),
    "LEAKYRELU": ((0.01,), (0.0,)), "ELU": ((0.7,), (0.0,)), "SELU": ((), (0.0,)), "SOFTMAX": ((), ()),
    "SOFTPLUS": ((), ()), "SOFTSIGN": ((), (0.0,)), "CUBE": ((), ()), "HARDSIGMOID": ((), (-2.5, 2.5)),
    "HARDTANH": ((), (-1.0, 1.0)), "RATIONALTANH": ((), (0.0,)), "RECTIFIEDTANH": ((), (0.0,)),
    "RELU6": ((), (0.0, 6.0)), "RRELU": ((), (0.0,)), "SWISH": ((), ()), "THRESHOLDEDRELU": ((0.5,), (0.5,)),
    "GELU": ((0.0,), ()), "MISH": ((), ()),
}
EXTRA_CASES = [  # (name, params, kinks): non-default parameterisations
    ("RELU", (3.0, 0.0, 0.0), (0.0, 3.0)), ("RELU", (math.nan, 0.0, 0.2), (0.0,)),
    ("RELU", (math.nan, 1.0, 0.0), (1.0,)), ("RELU", (2.5, -1.0, 0.3), (-1.0, 2.5)),
    ("GELU", (1.0,), ()), ("THRESHOLDEDRELU", (1.0,), (1.0,)), ("ELU", (1.0,), (0.0,)),
]
ALL_CASES = [(n, c[0], c[1]) for n, c in ACT_CASES.items()] + EXTRA_CASES
CASE_IDS = [f"{n}{list(p) if p else ''}" for n, p, _ in ALL_CASES]


def points(shape, kinks, rng, lo=-4.0, hi=4.0, gap=0.02):
    """Uniform test points with every point at least ``gap`` away from the kinks."""
    x = rng.uniform(lo, hi, shape)
    for k in kinks:
        near = np.abs(x - k) < gap
        x[near] = k + np.where(x[near] >= k, gap, -gap) * 2.0
    return x


def run_forward(code, p, z):
    out = np.empty_like(z)
    KA.act_forward(code, p, z, out)
    return out


# --------------------------------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------------------------------
def test_codes_and_params():
    assert len(KA.CODE_BY_NAME) == 21 and sorted(KA.CODE_BY_NAME.values()) == list(range(21))
    assert KA.CODE_BY_NAME["LEAKYRELU"] == KA.LEAKYRELU and KA.NAME_BY_CODE[KA.MISH] == "MISH"
    assert math.isnan(KA.params(KA.RELU)[0]) and KA.params(KA.LEAKYRELU)[0] == 0.01
    assert KA.params(KA.ELU, 0.5).tolist() == [0.5, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(KA.params(KA.RRELU)[:2], [1 / 8, 1 / 3])
    assert len(KL.CODE_BY_CLASS) == 15 and KL.CODE_BY_CLASS["LossNegativeLogLikelihood"] == KL.MCXENT
    assert KL.CODE_BY_ENUM["SQUARED_LOSS"] == KL.MSE and KL.CODE_BY_ENUM["RECONSTRUCTION_CROSSENTROPY"] == KL.KLD
    assert KL.loss_params(KL.XENT)[0] == 1e-5 and KL.loss_params(KL.MCXENT)[0] == 1e-10


@pytest.mark.parametrize("name,pv,kinks", ALL_CASES, ids=CASE_IDS)
def test_activation_forward_matches_reference(name, pv, kinks):
    rng = np.random.default_rng(RNG_SEED)
    code, p = KA.CODE_BY_NAME[name], KA.params(KA.CODE_BY_NAME[name], *pv)
    z = points((6, 9), kinks, rng, hi=8.0 if name == "RELU6" else 4.0)
    z[0, :3] = [-30.0, 30.0, 0.0] if name not in ("RELU6",) else [-30.0, 30.0, 0.5]  # saturation / zero
    if name == "CUBE":
        z[0, :2] = [-3.0, 3.0]
    np.testing.assert_allclose(run_forward(code, p, z), ref_act(name, p, z), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name,pv,kinks", ALL_CASES, ids=CASE_IDS)
def test_activation_backward_matches_finite_differences(name, pv, kinks):
    rng = np.random.default_rng(RNG_SEED + 1)
    code, p = KA.CODE_BY_NAME[name], KA.params(KA.CODE_BY_NAME[name], *pv)
    z = points((4, 7), kinks, rng, hi=8.0 if name == "RELU6" else 4.0)
    eps = rng.standard_normal(z.shape)
    out = run_forward(code, p, z)
    delta = np.empty_like(z)
    KA.act_backward(code, p, z, out, eps, delta)
    h = 1e-6
    fd = np.empty_like(z)
    for idx in np.ndindex(*z.shape):  # ∂(Σ eps·f(z))/∂z, one element at a time (softmax couples a row)
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        i = idx[0]
        fd[idx] = eps[i] @ (run_forward(code, p, zp)[i] - run_forward(code, p, zm)[i]) / (2 * h)
    np.testing.assert_allclose(delta, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name,pv,kinks", ALL_CASES, ids=CASE_IDS)
def test_activation_float32_matches_float64(name, pv, kinks):
    rng = np.random.default_rng(RNG_SEED + 2)
    code, p = KA.CODE_BY_NAME[name], KA.params(KA.CODE_BY_NAME[name], *pv)
    z32 = points((16, 33), kinks, rng, lo=-12.0, hi=12.0, gap=1e-3).astype(np.float32)
    z64 = z32.astype(np.float64)
    o64, o32 = run_forward(code, p, z64), run_forward(code, p, z32)
    assert o32.dtype == np.float32
    np.testing.assert_allclose(o32, o64, rtol=2e-6, atol=2e-7)
    eps64 = rng.standard_normal(z64.shape)
    d64, d32 = np.empty_like(z64), np.empty_like(z32)
    KA.act_backward(code, p, z64, o64, eps64, d64)
    KA.act_backward(code, p, z32, o32, eps64.astype(np.float32), d32)
    np.testing.assert_allclose(d32, d64, rtol=1e-5, atol=1e-6 * np.abs(d64).max())


def test_float32_primitives_over_the_range():
    """The polynomial float32 exp/tanh/softplus/log against float64 libm, including IEEE special values."""
    x = np.linspace(-87.0, 88.0, 200_001).astype(np.float32).reshape(1, -1)
    p = KA.params(KA.SIGMOID)
    for code, ref in ((KA.SIGMOID, _sig), (KA.TANH, np.tanh), (KA.SOFTPLUS, lambda v: np.logaddexp(0.0, v))):
        y = run_forward(code, p, x)
        r = ref(x.astype(np.float64))
        assert np.max(np.abs(y - r) / np.maximum(np.abs(r), 1e-30)) < 3e-7, KA.NAME_BY_CODE[code]
    # log through MCXENT with identity: row score = -Σ y·log(a) with y = 1
    a = np.concatenate([np.geomspace(1e-44, 3e38, 5000), [0.0, np.inf]]).astype(np.float32).reshape(-1, 1)
    rows = np.empty(a.shape[0], np.float32)
    buf = np.empty_like(a)
    KL.loss_score(KL.MCXENT, KL.loss_params(KL.MCXENT), KA.IDENTITY, p, np.ones_like(a), a, np.empty(0, np.float32),
                  buf, rows)
    ref = np.log(a[:-2, 0].astype(np.float64))
    np.testing.assert_allclose(-rows[:-2], ref, rtol=2e-7, atol=0)
    assert rows[-2] == np.inf and rows[-1] == -np.inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_propagates(dtype):
    """NaN in, NaN out (the engine's divergence checks rely on it); THRESHOLDEDRELU maps NaN to 0 like DL4J."""
    z = np.array([[np.nan, 1.0, -1.0]], dtype)
    for name, code in KA.CODE_BY_NAME.items():
        out = run_forward(code, KA.params(code), z)
        assert np.isnan(out[0, 0]) != (name == "THRESHOLDEDRELU"), name
        assert np.all(np.isnan(out[0])) or name != "SOFTMAX"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["SIGMOID", "TANH", "RELU", "SOFTMAX", "ELU", "CUBE"])
def test_fused_and_in_place_variants_agree(name, dtype):
    rng = np.random.default_rng(RNG_SEED + 3)
    code, p = KA.CODE_BY_NAME[name], KA.params(KA.CODE_BY_NAME[name])
    z = rng.uniform(-3, 3, (300, 37)).astype(dtype)  # several L1 blocks
    b = rng.uniform(-1, 1, 37).astype(dtype)
    eps = rng.standard_normal(z.shape).astype(dtype)
    ref_out = run_forward(code, p, z + b)
    zb, out = z.copy(), np.empty_like(z)
    KA.bias_act_forward(code, p, zb, b, out)
    np.testing.assert_array_equal(zb, z + b)  # z keeps the pre-activation
    np.testing.assert_array_equal(out, ref_out)
    zi = z.copy()
    KA.bias_act_forward(code, p, zi, b, zi)  # in place
    np.testing.assert_array_equal(zi, ref_out)
    zi = z + b
    KA.act_forward(code, p, zi, zi)
    np.testing.assert_array_equal(zi, ref_out)

    delta, delta2, db = np.empty_like(z), np.empty_like(z), np.full(37, np.nan, dtype)
    KA.act_backward(code, p, zb, out, eps, delta)
    KA.act_backward_bias(code, p, zb, out, eps, delta2, db)
    np.testing.assert_array_equal(delta2, delta)
    np.testing.assert_allclose(db, delta.astype(np.float64).sum(axis=0), rtol=1e-6 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    e2 = eps.copy()
    KA.act_backward_bias(code, p, zb, out, e2, e2, db)  # delta is eps
    np.testing.assert_array_equal(e2, delta)


def test_rrelu_training_kernels():
    rng = np.random.default_rng(RNG_SEED + 4)
    for dtype in (np.float32, np.float64):
        z = rng.uniform(-2, 2, (5, 11)).astype(dtype)
        alpha = rng.uniform(1 / 8, 1 / 3, z.shape).astype(dtype)
        out = np.empty_like(z)
        KA.rrelu_forward_train(z, alpha, out)
        np.testing.assert_array_equal(out, np.where(z >= 0, z, alpha * z))
        eps = rng.standard_normal(z.shape).astype(dtype)
        delta = np.empty_like(z)
        KA.rrelu_backward_train(z, alpha, eps, delta)
        np.testing.assert_array_equal(delta, np.where(z > 0, eps, alpha * eps))
        KA.rrelu_backward_train(z, alpha, eps, eps)
        np.testing.assert_array_equal(eps, delta)
    # inference: a leaky ReLU with the mean slope (DL4J's intent), not max(x, (l+u)/2) (DL4J's code)
    z = np.array([[-2.0, 0.1, 3.0]])
    np.testing.assert_allclose(run_forward(KA.RRELU, KA.params(KA.RRELU, 0.1, 0.3), z), [[-0.4, 0.1, 3.0]])


def test_activation_argument_errors():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError):
        KA.act_forward(KA.SIGMOID, KA.params(KA.SIGMOID), z, np.zeros((3, 2)))
    with pytest.raises(ValueError):
        KA.bias_act_forward(KA.SIGMOID, KA.params(KA.SIGMOID), z, np.zeros(2), z)
    with pytest.raises(ValueError):
        KA.act_forward(99, KA.params(KA.SIGMOID), z, z.copy())
    with pytest.raises(TypeError):
        KA.act_forward(KA.SIGMOID, KA.params(KA.SIGMOID), z.astype(np.int64), z.astype(np.int64))
    z0 = np.zeros((0, 3))
    KA.act_forward(KA.SOFTMAX, KA.params(KA.SOFTMAX), z0, z0.copy())  # empty is fine


# --------------------------------------------------------------------------------------------------------------
# losses: closed forms (float64 NumPy, from spec §7) — returns (per-row scores, total)
# --------------------------------------------------------------------------------------------------------------
def ref_loss(loss: int, act: str, y, z, w, clip):
    a = ref_act(act, KA.params(KA.CODE_BY_NAME[act]), z)
    d = y.shape[1]
    w = np.ones(d) if w is None else w
    if loss in (KL.MSE, KL.L2):
        e = w * (y - a) ** 2 / (d if loss == KL.MSE else 1)
        return e.sum(1), e.sum()
    if loss in (KL.L1, KL.MAE):
        e = w * np.abs(a - y)
        return e.sum(1), e.sum() / (d if loss == KL.MAE else 1)
    if loss == KL.XENT:
        if act == "SOFTMAX":
            ls = z - z.max(1, keepdims=True)
            ls = ls - np.log(np.exp(ls).sum(1, keepdims=True))
            e = -w * y * ls
        else:
            ac = np.clip(a, clip, 1 - clip)
            e = -w * (y * np.log(ac) + (1 - y) * np.log(1 - ac))
        return e.sum(1), e.sum()
    if loss == KL.MCXENT:
        ac = np.clip(a, clip, 1 - clip) if act == "SOFTMAX" else a
        e = -w * y * np.log(ac)
        return e.sum(1), e.sum()
    if loss == KL.KLD:
        yc, ac = np.clip(y, 1e-5, 1), np.clip(a, 1e-5, 1)
        e = yc * np.log(yc / ac)
        return e.sum(1), e.sum()
    if loss == KL.COSINE_PROXIMITY:
        ny = np.maximum(np.linalg.norm(y, axis=1), 1e-5)
        na = np.maximum(np.linalg.norm(a, axis=1), 1e-5)
        r = -(y * a).sum(1) / (ny * na)
        return r, r.sum()
    if loss == KL.HINGE:
        e = np.maximum(0, 1 - y * a)
        return e.sum(1), e.sum()
    if loss == KL.SQUARED_HINGE:
        e = np.maximum(0, 1 - y * a) ** 2
        return e.sum(1), e.sum()
    if loss == KL.MAPE:
        e = w * 100.0 / d * np.abs((y - a) / y)
        return e.sum(1), e.sum()
    if loss == KL.MSLE:
        e = w * np.log((a + 1) / (y + 1)) ** 2 / d
        return e.sum(1), e.sum()
    if loss == KL.POISSON:
        e = a - y * np.log(a)
        return e.sum(1), e.sum()
    if loss == KL.WASSERSTEIN:
        r = (y * a).mean(1)
        return r, r.sum()
    raise AssertionError(loss)


def make_labels(loss: int, act: str, shape, rng):
    n, d = shape
    if loss in (KL.MCXENT,) or (loss == KL.XENT and act == "SOFTMAX"):
        return np.eye(d)[rng.integers(0, d, n)]
    if loss == KL.XENT:
        return rng.integers(0, 2, shape).astype(np.float64)
    if loss == KL.KLD:
        p = rng.uniform(0.05, 1.0, shape)
        return p / p.sum(1, keepdims=True)
    if loss in (KL.HINGE, KL.SQUARED_HINGE):
        return rng.choice([-1.0, 1.0], shape)
    if loss == KL.MAPE:
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if loss in (KL.MSLE, KL.POISSON):
        return rng.uniform(0.0, 3.0, shape)
    return rng.uniform(-1.0, 1.0, shape)


LOSS_CASES = [  # (loss, activation, weighted)
    (KL.MSE, "IDENTITY", False), (KL.MSE, "TANH", True), (KL.MSE, "SOFTMAX", True), (KL.MSE, "SIGMOID", False),
    (KL.L2, "IDENTITY", True), (KL.L2, "TANH", False), (KL.L1, "IDENTITY", True), (KL.L1, "TANH", False),
    (KL.MAE, "IDENTITY", False), (KL.MAE, "IDENTITY", True), (KL.XENT, "SIGMOID", False), (KL.XENT, "SIGMOID", True),
    (KL.MCXENT, "SOFTMAX", False), (KL.MCXENT, "SOFTMAX", True), (KL.MCXENT, "SIGMOID", True),
    (KL.KLD, "SOFTMAX", False), (KL.KLD, "SIGMOID", False), (KL.COSINE_PROXIMITY, "IDENTITY", False),
    (KL.COSINE_PROXIMITY, "TANH", False), (KL.HINGE, "IDENTITY", False), (KL.HINGE, "TANH", False),
    (KL.SQUARED_HINGE, "IDENTITY", False), (KL.MAPE, "IDENTITY", False), (KL.MAPE, "IDENTITY", True),
    (KL.MSLE, "SOFTPLUS", False), (KL.MSLE, "IDENTITY", True), (KL.POISSON, "SOFTPLUS", False),
    (KL.POISSON, "SIGMOID", False), (KL.WASSERSTEIN, "IDENTITY", False), (KL.WASSERSTEIN, "TANH", False),
]
LOSS_NAMES = {v: k for k, v in KL.CODE_BY_CLASS.items() if k != "LossNegativeLogLikelihood"}
LOSS_IDS = [f"{LOSS_NAMES[l]}-{a}{'-w' if w else ''}" for l, a, w in LOSS_CASES]


def make_case(loss, act, weighted, rng, shape=(4, 5)):
    y = make_labels(loss, act, shape, rng)
    z = rng.uniform(-2.0, 2.0, shape)
    if loss == KL.MSLE and act == "IDENTITY":
        z = rng.uniform(0.0, 3.0, shape)
    if loss in (KL.L1, KL.MAE, KL.MAPE):  # keep a - y away from 0 (|.| kink)
        a = ref_act(act, KA.params(KA.CODE_BY_NAME[act]), z)
        z = np.where(np.abs(a - y) < 0.05, z + 0.2, z)
    if loss in (KL.HINGE, KL.SQUARED_HINGE):  # keep 1 - y·a away from 0
        a = ref_act(act, KA.params(KA.CODE_BY_NAME[act]), z)
        z = np.where(np.abs(1 - y * a) < 0.05, z + 0.3, z)
    w = rng.uniform(0.5, 2.0, shape[1]) if weighted else None
    return y, z, w


def call_loss(loss, act, y, z, w, clip=None, grad=True):
    dtype = z.dtype
    lp = KL.loss_params(loss) if clip is None else KL.loss_params(loss, clip)
    ap = KA.params(KA.CODE_BY_NAME[act])
    weights = np.empty(0, dtype) if w is None else np.asarray(w, dtype)
    a, g, rows = np.empty_like(z), np.empty_like(z), np.empty(z.shape[0], dtype)
    if grad:
        total = KL.loss_score_and_gradient(loss, lp, KA.CODE_BY_NAME[act], ap, y, z, weights, a, g, rows)
    else:
        total = KL.loss_score(loss, lp, KA.CODE_BY_NAME[act], ap, y, z, weights, a, rows)
    assert isinstance(total, float)
    return total, rows, g, a


@pytest.mark.parametrize("loss,act,weighted", LOSS_CASES, ids=LOSS_IDS)
def test_loss_score_matches_closed_form(loss, act, weighted):
    rng = np.random.default_rng(RNG_SEED + 5)
    y, z, w = make_case(loss, act, weighted, rng)
    clip = KL.loss_params(loss)[0]
    total, rows, _, a = call_loss(loss, act, y, z, w)
    ref_rows, ref_total = ref_loss(loss, act, y, z, w, clip)
    np.testing.assert_allclose(a, ref_act(act, KA.params(KA.CODE_BY_NAME[act]), z), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(rows, ref_rows, rtol=1e-12, atol=1e-13)
    assert total == pytest.approx(ref_total, rel=1e-12, abs=1e-13)
    # per-example scores add up to the total, except MAE (computeScoreArray not divided by D)
    expected = rows.sum() / y.shape[1] if loss == KL.MAE else rows.sum()
    assert total == pytest.approx(expected, rel=1e-12, abs=1e-13)
    total2, rows2, _, _ = call_loss(loss, act, y, z, w, grad=False)
    assert total2 == total and np.array_equal(rows2, rows)


@pytest.mark.parametrize("loss,act,weighted", LOSS_CASES, ids=LOSS_IDS)
def test_loss_gradient_matches_finite_differences(loss, act, weighted):
    rng = np.random.default_rng(RNG_SEED + 6)
    y, z, w = make_case(loss, act, weighted, rng)
    _, _, g, _ = call_loss(loss, act, y, z, w)
    h = 1e-6
    fd = np.empty_like(z)
    for i, j in np.ndindex(*z.shape):  # of the returned total; on the one-row problem (rows are independent)
        zp, zm = z[i:i + 1].copy(), z[i:i + 1].copy()
        zp[0, j] += h
        zm[0, j] -= h
        fd[i, j] = (call_loss(loss, act, y[i:i + 1], zp, w, grad=False)[0]
                    - call_loss(loss, act, y[i:i + 1], zm, w, grad=False)[0]) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss,act,weighted", LOSS_CASES, ids=LOSS_IDS)
def test_loss_float32_matches_float64(loss, act, weighted):
    rng = np.random.default_rng(RNG_SEED + 7)
    y, z, w = make_case(loss, act, weighted, rng, shape=(40, 13))
    y32, z32 = y.astype(np.float32), z.astype(np.float32)
    t64, r64, g64, _ = call_loss(loss, act, y32.astype(np.float64), z32.astype(np.float64), w)
    t32, r32, g32, _ = call_loss(loss, act, y32, z32, w)
    assert g32.dtype == np.float32 and r32.dtype == np.float32
    assert t32 == pytest.approx(t64, rel=2e-6, abs=1e-6)
    np.testing.assert_allclose(r32, r64, rtol=2e-5, atol=1e-5 * np.abs(r64).max())
    np.testing.assert_allclose(g32, g64, rtol=2e-5, atol=1e-5 * np.abs(g64).max())


def test_xent_with_softmax_follows_dl4j():
    """Score = −Σ w·y·logsoftmax(z) (unclipped); gradient = the clipped binary-XENT dL/da through softmax, ×w."""
    rng = np.random.default_rng(RNG_SEED + 8)
    y = rng.integers(0, 2, (3, 4)).astype(np.float64)
    z = rng.uniform(-2, 2, (3, 4))
    w = rng.uniform(0.5, 2, 4)
    total, rows, g, a = call_loss(KL.XENT, "SOFTMAX", y, z, w)
    ref_rows, ref_total = ref_loss(KL.XENT, "SOFTMAX", y, z, w, 1e-5)
    np.testing.assert_allclose(rows, ref_rows, rtol=1e-12)
    s = ref_act("SOFTMAX", KA.params(KA.SOFTMAX), z)
    dlda = (s - y) / (s * (1 - s))
    ref_g = s * (dlda - (dlda * s).sum(1, keepdims=True)) * w
    np.testing.assert_allclose(g, ref_g, rtol=1e-12)


def test_dl4j_clipping_and_quirks():
    # XENT + sigmoid, saturated: dL/da uses the clipped a, then sigmoid' of the unclipped a (DL4J)
    z = np.array([[30.0, -30.0, 0.3]])
    y = np.array([[0.0, 0.0, 1.0]])
    total, _, g, a = call_loss(KL.XENT, "SIGMOID", y, z, None)
    ac = np.clip(a, 1e-5, 1 - 1e-5)
    np.testing.assert_allclose(g, (ac - y) / (ac * (1 - ac)) * (a * (1 - a)), rtol=1e-12)
    assert total == pytest.approx(ref_loss(KL.XENT, "SIGMOID", y, z, None, 1e-5)[1], rel=1e-12)
    assert total == pytest.approx(-(np.log(1e-5) + np.log(1 - 1e-5) + np.log(a[0, 2])), rel=1e-9)
    # MCXENT + softmax unweighted uses a − y even when Σy ≠ 1 (DL4J)
    z, y = np.array([[0.1, 0.2, 0.3]]), np.array([[1.0, 1.0, 0.0]])
    _, _, g, a = call_loss(KL.MCXENT, "SOFTMAX", y, z, None)
    np.testing.assert_allclose(g, a - y, rtol=1e-14)
    # KLD: y clipped to [1e-5, 1] in the score, gradient −y/a unclipped
    y = np.array([[0.0, 1.0]])
    total, _, g, a = call_loss(KL.KLD, "SOFTMAX", y, np.array([[0.0, 1.0]]), None)
    assert total == pytest.approx(1e-5 * np.log(1e-5 / a[0, 0]) + np.log(1 / a[0, 1]), rel=1e-12)
    s = a[0]
    np.testing.assert_allclose(g[0], s * (-y[0] / s - (-y[0] / s * s).sum()), rtol=1e-12)
    # cosine proximity with a zero label row: norms floored at 1e-5
    total, rows, g, _ = call_loss(KL.COSINE_PROXIMITY, "IDENTITY", np.zeros((1, 3)), np.ones((1, 3)), None)
    assert total == 0.0 and np.all(np.isfinite(g))


def test_loss_gradient_may_alias_a_buf_and_rejects_bad_weights():
    rng = np.random.default_rng(RNG_SEED + 9)
    for loss, act in ((KL.MSE, "TANH"), (KL.MCXENT, "SOFTMAX"), (KL.KLD, "SOFTMAX"), (KL.XENT, "SIGMOID")):
        y, z, _ = make_case(loss, act, False, rng, shape=(300, 21))
        total, rows, g, _ = call_loss(loss, act, y, z, None)
        buf, rows2 = np.empty_like(z), np.empty_like(rows)
        lp, ap, code = KL.loss_params(loss), KA.params(KA.CODE_BY_NAME[act]), KA.CODE_BY_NAME[act]
        t2 = KL.loss_score_and_gradient(loss, lp, code, ap, y, z, np.empty(0), buf, buf, rows2)
        assert t2 == total and np.array_equal(buf, g) and np.array_equal(rows2, rows)
    z = np.zeros((2, 3))
    args = (KA.IDENTITY, KA.params(KA.IDENTITY), z, z, np.ones(3), np.empty_like(z), np.empty_like(z), np.empty(2))
    with pytest.raises(ValueError):
        KL.loss_score_and_gradient(KL.HINGE, KL.loss_params(KL.HINGE), *args)  # no weights in DL4J
    with pytest.raises(ValueError):
        KL.loss_score_and_gradient(KL.MSE, KL.loss_params(KL.MSE), KA.IDENTITY, KA.params(KA.IDENTITY), z, z,
                                   np.ones(2), np.empty_like(z), np.empty_like(z), np.empty(2))


def test_loss_dtype_handling():
    rng = np.random.default_rng(RNG_SEED + 11)
    y, z, w = make_case(KL.MSE, "TANH", True, rng, shape=(7, 5))
    z32, w32 = z.astype(np.float32), w.astype(np.float32)
    t32, r32, g32, _ = call_loss(KL.MSE, "TANH", y.astype(np.float32), z32, w32)
    lp, ap = KL.loss_params(KL.MSE), KA.params(KA.TANH)
    a, g, rows64 = np.empty_like(z32), np.empty_like(z32), np.empty(7)  # float64 labels and row scores
    t = KL.loss_score_and_gradient(KL.MSE, lp, KA.TANH, ap, np.asfortranarray(y), z32, w32, a, g, rows64)
    assert t == t32 and np.array_equal(g, g32) and np.array_equal(rows64, r32.astype(np.float64))
    with pytest.raises(TypeError):  # outputs must share z's dtype (no silent mixed-dtype compilation)
        KL.loss_score_and_gradient(KL.MSE, lp, KA.TANH, ap, y, z32, w32, np.empty_like(z), g, rows64)
    with pytest.raises(TypeError):
        KA.act_forward(KA.TANH, ap, z32, np.empty_like(z))
    with pytest.raises(ValueError):
        KL.loss_score(KL.MSE, lp, KA.TANH, ap, y, z, np.empty(0), z, np.empty(7))  # a_buf is z


# --------------------------------------------------------------------------------------------------------------
# allocation
# --------------------------------------------------------------------------------------------------------------
def test_no_python_allocation_after_warmup():
    rng = np.random.default_rng(RNG_SEED + 10)
    z = rng.standard_normal((128, 256)).astype(np.float32)
    out, eps, delta, db = np.empty_like(z), np.ones_like(z), np.empty_like(z), np.empty(256, np.float32)
    p = KA.params(KA.SIGMOID)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    zl = rng.standard_normal((128, 10)).astype(np.float32)
    a, g, rows, none = np.empty_like(zl), np.empty_like(zl), np.empty(128, np.float32), np.empty(0, np.float32)
    lp, ap = KL.loss_params(KL.MCXENT), KA.params(KA.SOFTMAX)

    def step():
        KA.act_backward_bias(KA.SIGMOID, p, z, out, eps, delta, db)
        KA.act_backward_bias(KA.SIGMOID, p, z, out, eps, eps, db)
        KL.loss_score_and_gradient(KL.MCXENT, lp, KA.SOFTMAX, ap, y, zl, none, a, g, rows)
        KL.loss_score_and_gradient(KL.MSE, lp, KA.SOFTMAX, ap, y, zl, none, a, a, rows)

    step()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < 1024


@pytest.mark.parametrize("name", ["SIGMOID", "LEAKYRELU", "SOFTMAX", "TANH"])
def test_in_place_through_another_view_of_the_same_memory(name):
    """The in-place kernels are chosen for ``out is z`` (``delta is eps``); another view of the same memory goes
    through the out-of-place kernel, which must give the same results (LLVM runs that loop on its scalar path: the
    float32 row sums of SOFTMAX may then round differently in the last bit)."""
    check = (lambda got, ref: np.testing.assert_allclose(got, ref, rtol=3e-7, atol=1e-7)) if name == "SOFTMAX" \
        else np.testing.assert_array_equal
    rng = np.random.default_rng(RNG_SEED + 11)
    code, p = KA.CODE_BY_NAME[name], KA.params(KA.CODE_BY_NAME[name])
    z = rng.uniform(-3, 3, (9, 21)).astype(np.float32)
    b = rng.uniform(-1, 1, 21).astype(np.float32)
    eps = rng.standard_normal(z.shape).astype(np.float32)
    same, view = z.copy(), z.copy()
    KA.bias_act_forward(code, p, same, b, same)
    KA.bias_act_forward(code, p, view, b, view[:])
    check(view, same)
    zb, out = z + b, np.empty_like(z)
    KA.act_forward(code, p, zb, out)
    e1, e2, db1, db2 = eps.copy(), eps.copy(), np.empty(21, np.float32), np.empty(21, np.float32)
    KA.act_backward_bias(code, p, zb, out, e1, e1, db1)
    KA.act_backward_bias(code, p, zb, out, e2, e2.view(), db2)
    check(e2, e1)
    check(db2, db1)


def test_column_sums_and_grad_finish():
    rng = np.random.default_rng(RNG_SEED + 12)
    a = rng.standard_normal((17, 6)).astype(np.float32)
    out, acc = np.empty(6, np.float32), np.empty(8)
    a0 = a.copy()
    KA.column_sums(a, acc, out)
    np.testing.assert_array_equal(a, a0)  # not written
    expected = np.zeros(6)
    for row in a.astype(np.float64):  # float64, row after row
        expected += row
    np.testing.assert_array_equal(out, expected.astype(np.float32))
    g = a.copy()
    g[2, 3] = np.nan
    db = np.empty(6, np.float32)
    KA.grad_finish(True, g, db, acc, 0.5)
    assert g[2, 3] == 0.0 and not np.isnan(g).any()
    np.testing.assert_array_equal(g[0], a[0] * np.float32(0.5))
    with pytest.raises(ValueError):
        KA.column_sums(a, acc, np.empty(5, np.float32))
