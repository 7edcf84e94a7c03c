"""Tests of dl4py.kernels.updaters: fused updater kernels, minibatch scaling and gradient normalisation.

Every expected value here comes from an independent NumPy (or plain-float) implementation written from the spec
formulas (layers-and-network.md §9, §10, §12; fixtures README for MLPMoon/MLPMnist), never from the kernels.
"""
from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np
import pytest

from dl4py.kernels import updaters as U


def one(n, scale, l1, l2, wd):
    """``bounds, coefs`` of a block holding ONE parameter of length n."""
    return np.array([0, n], dtype=np.int64), np.array([[scale, l1, l2, wd]], dtype=np.float64)

# ---------------------------------------------------------------------------------------------------------------
# Independent reference implementations (float64 NumPy, straight from the formulas)
# ---------------------------------------------------------------------------------------------------------------


def _geff(w, g, scale, l1, l2):
    # g_eff = g/N (as scale) + L1 term + L2 term; np.sign(0) == 0
    return g * scale + l1 * np.sign(w) + l2 * w


def _adam_alpha(lr, beta1, beta2, eps, t):
    alpha = lr * math.sqrt(1.0 - beta2 ** (t + 1)) / (1.0 - beta1 ** (t + 1))
    if math.isnan(alpha) or math.isinf(alpha) or alpha == 0.0:
        alpha = eps
    return alpha


def ref_sgd(ge, st, hp, t):
    return hp["lr"] * ge, st


def ref_noop(ge, st, hp, t):
    return ge.copy(), st


def ref_adam(ge, st, hp, t):
    m, v = st
    m = hp["beta1"] * m + (1 - hp["beta1"]) * ge
    v = hp["beta2"] * v + (1 - hp["beta2"]) * ge**2
    alpha = _adam_alpha(hp["lr"], hp["beta1"], hp["beta2"], hp["eps"], t)
    return alpha * m / (np.sqrt(v) + hp["eps"]), [m, v]


def ref_adamax(ge, st, hp, t):
    m, us = st
    m = hp["beta1"] * m + (1 - hp["beta1"]) * ge
    us = np.maximum(hp["beta2"] * us, np.abs(ge)) + 1e-32
    alpha = hp["lr"] / (1 - hp["beta1"] ** (t + 1))
    if math.isnan(alpha) or math.isinf(alpha) or alpha == 0.0:
        alpha = hp["eps"]
    return alpha * m / us, [m, us]


def ref_nadam(ge, st, hp, t):
    m, v = st
    b1 = hp["beta1"]
    m = b1 * m + (1 - b1) * ge
    v = hp["beta2"] * v + (1 - hp["beta2"]) * ge**2
    u = hp["lr"] * (b1 * m + (1 - b1) * ge) / (1 - b1 ** (t + 1)) / (np.sqrt(v) + hp["eps"])
    return u, [m, v]


def ref_amsgrad(ge, st, hp, t):
    m, v, vh = st
    m = hp["beta1"] * m + (1 - hp["beta1"]) * ge
    v = hp["beta2"] * v + (1 - hp["beta2"]) * ge**2
    vh = np.maximum(vh, v)
    alpha = _adam_alpha(hp["lr"], hp["beta1"], hp["beta2"], hp["eps"], t)
    return alpha * m / (np.sqrt(vh) + hp["eps"]), [m, v, vh]


def ref_nesterovs(ge, st, hp, t):
    (v,) = st
    mu = hp["momentum"]
    v_prev = v
    v = mu * v - hp["lr"] * ge
    return mu * v_prev - (1 + mu) * v, [v]


def ref_rmsprop(ge, st, hp, t):
    (G,) = st
    G = hp["decay"] * G + (1 - hp["decay"]) * ge**2
    return hp["lr"] * ge / (np.sqrt(G) + hp["eps"]), [G]


def ref_adagrad(ge, st, hp, t):
    (H,) = st
    H = H + ge**2
    return hp["lr"] * ge / (np.sqrt(H) + hp["eps"]), [H]


def ref_adadelta(ge, st, hp, t):
    msg, msdx = st
    rho, eps = hp["rho"], hp["eps"]
    msg = rho * msg + (1 - rho) * ge**2
    u = ge * np.sqrt(msdx + eps) / np.sqrt(msg + eps)
    msdx = rho * msdx + (1 - rho) * u**2
    return u, [msg, msdx]


def ref_step(name, w, g, states, scale, l1, l2, wd, hp, t):
    """One full step: returns new (w, states) without touching the inputs."""
    ge = _geff(w, g, scale, l1, l2)
    u, new_states = REF[name](ge, [s.copy() for s in states], hp, t)
    u = u + wd * w
    return w - u, new_states


REF = {
    "Sgd": ref_sgd,
    "NoOp": ref_noop,
    "Adam": ref_adam,
    "AdaMax": ref_adamax,
    "Nadam": ref_nadam,
    "AMSGrad": ref_amsgrad,
    "Nesterovs": ref_nesterovs,
    "RmsProp": ref_rmsprop,
    "AdaGrad": ref_adagrad,
    "AdaDelta": ref_adadelta,
}

# Hyper-parameters (not the defaults everywhere, to exercise them) in the kernels' argument order.
HP = {
    "Sgd": {"lr": 0.1},
    "NoOp": {},
    "Adam": {"lr": 0.01, "beta1": 0.85, "beta2": 0.995, "eps": 1e-8},
    "AdaMax": {"lr": 0.02, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "Nadam": {"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-7},
    "AMSGrad": {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "Nesterovs": {"lr": 0.05, "momentum": 0.9},
    "RmsProp": {"lr": 0.01, "decay": 0.95, "eps": 1e-8},
    "AdaGrad": {"lr": 0.1, "eps": 1e-6},
    "AdaDelta": {"rho": 0.95, "eps": 1e-6},
}
HAS_T = {"Adam", "AdaMax", "Nadam", "AMSGrad"}
NAMES = list(REF)
# Second-moment-like states must start non-negative.
NONNEG_STATE = {"Adam": (1,), "AdaMax": (1,), "Nadam": (1,), "AMSGrad": (1, 2), "RmsProp": (0,), "AdaGrad": (0,),
                "AdaDelta": (0, 1)}


def call_kernel(name, w, g, states, scale, l1, l2, wd, hp, t):
    args = [w, g, *states, *one(w.shape[0], scale, l1, l2, wd), *hp.values()]
    if name in HAS_T:
        args.append(t)
    assert U.STEP_KERNEL_BY_NAME[name](*args, True) is False  # commit: writes, never objects


def make_problem(name, n, seed, zeros_in_w=True):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n)
    if zeros_in_w:
        w[::7] = 0.0  # sign(0) = 0
    g = rng.standard_normal(n) * 3.0
    states = []
    for k in range(U.STATE_SIZE_MULTIPLIER[name]):
        s = rng.standard_normal(n) * 0.1
        if k in NONNEG_STATE.get(name, ()):
            s = np.abs(s) + (1e-3 if name in ("RmsProp", "AdaGrad") else 0.0)
        states.append(s)
    if name == "AMSGrad":  # v̂ ≥ v in a real run; mix both cases anyway
        states[2] = np.maximum(states[2], states[1] * rng.uniform(0.5, 1.5, n))
    return w, g, states


REG_SETTINGS = {
    "all": dict(scale=1.0 / 16, l1=0.01, l2=0.02, wd=0.003),
    "none": dict(scale=1.0, l1=0.0, l2=0.0, wd=0.0),
    "l2_only": dict(scale=1.0 / 7, l1=0.0, l2=1e-3, wd=0.0),
    "wd_only": dict(scale=1.0 / 10, l1=0.0, l2=0.0, wd=5e-4 * 0.01),
}


def run_flat(name, dtype, w, g, states, reg, hp, t0, steps, grads):
    """Run ``steps`` kernel steps on views of ONE flat parameter/gradient/state buffer (as the engine does)."""
    n = w.shape[0]
    pad = 3  # the slices start in the middle of the flat buffers
    flat_w = np.zeros(n + 2 * pad, dtype)
    flat_g = np.zeros(n + 2 * pad, dtype)
    nst = len(states)
    flat_s = np.zeros(nst * n + 2 * pad, dtype)
    flat_w[pad:pad + n] = w
    ws = flat_w[pad:pad + n]
    gs = flat_g[pad:pad + n]
    ss = [flat_s[pad + k * n: pad + (k + 1) * n] for k in range(nst)]
    for k in range(nst):
        ss[k][:] = states[k]
    for step in range(steps):
        gs[:] = grads[step]
        call_kernel(name, ws, gs, ss, reg["scale"], reg["l1"], reg["l2"], reg["wd"], hp, t0 + step)
    # guard bytes untouched
    assert not flat_w[:pad].any() and not flat_w[pad + n:].any()
    assert not flat_s[:pad].any() and not flat_s[pad + nst * n:].any()
    return ws.copy(), [s.copy() for s in ss]


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------


def test_tables():
    assert U.STATE_SIZE_MULTIPLIER == {"Sgd": 0, "NoOp": 0, "Adam": 2, "AdaMax": 2, "Nadam": 2, "AMSGrad": 3,
                                       "Nesterovs": 1, "RmsProp": 1, "AdaGrad": 1, "AdaDelta": 2}
    for name, mult in U.STATE_SIZE_MULTIPLIER.items():
        assert len(U.STATE_VARIABLES[name]) == mult
        assert name in U.STEP_KERNEL_BY_NAME
    assert U.state_initial_value("RmsProp", 1e-8) == 1e-8
    assert U.state_initial_value("AdaGrad", 1e-6) == 1e-6
    for name in U.STATE_SIZE_MULTIPLIER:
        if name not in ("RmsProp", "AdaGrad"):
            assert U.state_initial_value(name) == 0.0
    with pytest.raises(ValueError):
        U.state_initial_value("AdaGrad")
    assert list(U.GRADNORM_CODE_BY_NAME) == ["None", "RenormalizeL2PerLayer", "RenormalizeL2PerParamType",
                                             "ClipElementWiseAbsoluteValue", "ClipL2PerLayer",
                                             "ClipL2PerParamType"]
    assert sorted(U.GRADNORM_CODE_BY_NAME.values()) == list(range(6))
    assert U.GRADNORM_CODE_BY_NAME["None"] == U.GRADNORM_NONE
    for name, code in U.GRADNORM_CODE_BY_NAME.items():
        assert U.GRADNORM_NAME_BY_CODE[code] == name


# ---------------------------------------------------------------------------------------------------------------
# Every updater vs the reference, several steps, t > 0, regularisation terms
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reg_name", list(REG_SETTINGS))
@pytest.mark.parametrize("name", NAMES)
def test_step_matches_reference_float64(name, reg_name):
    reg = REG_SETTINGS[reg_name]
    hp = HP[name]
    n = 203
    w0, _, st0 = make_problem(name, n, seed=11)
    rng = np.random.default_rng(5)
    steps, t0 = 4, 3
    grads = [rng.standard_normal(n) * 3.0 for _ in range(steps)]
    w_k, st_k = run_flat(name, np.float64, w0, grads[0], st0, reg, hp, t0, steps, grads)

    w_r, st_r = w0.copy(), [s.copy() for s in st0]
    for step in range(steps):
        w_r, st_r = ref_step(name, w_r, grads[step], st_r, reg["scale"], reg["l1"], reg["l2"], reg["wd"], hp,
                             t0 + step)
    np.testing.assert_allclose(w_k, w_r, rtol=1e-12, atol=1e-14)
    for a, b in zip(st_k, st_r):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert not np.allclose(w_k, w0)  # something happened


@pytest.mark.parametrize("name", NAMES)
def test_float32_agrees_with_float64(name):
    reg = REG_SETTINGS["all"]
    hp = HP[name]
    n = 301
    w0, _, st0 = make_problem(name, n, seed=3)
    rng = np.random.default_rng(8)
    steps, t0 = 4, 1
    grads = [rng.standard_normal(n) * 3.0 for _ in range(steps)]
    # identical starting numbers for both precisions
    w0 = w0.astype(np.float32).astype(np.float64)
    st0 = [s.astype(np.float32).astype(np.float64) for s in st0]
    grads = [gr.astype(np.float32).astype(np.float64) for gr in grads]
    w64, st64 = run_flat(name, np.float64, w0, None, st0, reg, hp, t0, steps, grads)
    w32, st32 = run_flat(name, np.float32, w0, None, st0, reg, hp, t0, steps, grads)
    assert w32.dtype == np.float32 and all(s.dtype == np.float32 for s in st32)
    eps32 = float(np.finfo(np.float32).eps)

    def close(a32, a64):
        # a few float32 roundings per step, relative to the size of the quantities involved
        tol = 32 * eps32 * (np.abs(a64) + np.abs(a64).max() * 1e-2 + 1e-30)
        err = np.abs(a32.astype(np.float64) - a64)
        assert (err <= tol).all(), f"max err {err.max():.3g} ({(err / (np.abs(a64) + 1e-30)).max():.3g} rel)"

    close(w32, w64)
    for a, b in zip(st32, st64):
        close(a, b)


def test_sign_of_zero_weight_is_zero():
    # w == 0 exactly: the L1 term vanishes (sign(0) = 0), so Sgd moves it by lr·g·scale only
    w = np.array([0.0, 2.0, -2.0])
    g = np.array([1.0, 1.0, 1.0])
    U.sgd_step(w, g, *one(w.shape[0], 0.5, 0.1, 0.0, 0.0), 1.0, True)
    np.testing.assert_array_equal(w, [0.0 - 0.5, 2.0 - 0.6, -2.0 - 0.4])


def test_alpha_replaced_by_epsilon_when_zero():
    # lr = 0 -> α = 0 -> DL4J replaces α by ε (Adam/AMSGrad; libnd4j does the same for AdaMax)
    for name in ("Adam", "AMSGrad", "AdaMax"):
        hp = dict(HP[name], lr=0.0)
        w0, g, st0 = make_problem(name, 17, seed=1)
        w, st = w0.copy(), [s.copy() for s in st0]
        call_kernel(name, w, g, st, 1.0, 0.0, 0.0, 0.0, hp, 2)
        w_r, _ = ref_step(name, w0, g, st0, 1.0, 0.0, 0.0, 0.0, hp, 2)
        np.testing.assert_allclose(w, w_r, rtol=1e-12, atol=1e-15)
        assert not np.array_equal(w, w0)


def test_length_mismatch_raises():
    w = np.zeros(5)
    with pytest.raises(ValueError):
        U.adam_step(w, np.zeros(5), np.zeros(4), np.zeros(5), *one(w.shape[0], 1.0, 0.0, 0.0, 0.0), 1e-3, 0.9, 0.999, 1e-8, 0, True)
    with pytest.raises(ValueError):
        U.sgd_step(w, np.zeros(6), *one(w.shape[0], 1.0, 0.0, 0.0, 0.0), 1e-3, True)
    for bad_bounds in ([0, 3, 4], [0, 4, 2, 5], [1, 3, 5]):  # not ending at 5 / decreasing / not from 0
        with pytest.raises(ValueError):
            U.sgd_step(w, np.zeros(5), np.array(bad_bounds, dtype=np.int64), np.zeros((len(bad_bounds) - 1, 4)),
                       1e-3, True)
    with pytest.raises(ValueError):  # one coefficient row per parameter
        U.sgd_step(w, np.zeros(5), np.array([0, 2, 5], dtype=np.int64), np.zeros((3, 4)), 1e-3, True)


@pytest.mark.parametrize("name", NAMES)
def test_one_call_per_block_equals_one_call_per_parameter(name):
    # three parameters of lengths 11, 0 and 23 with different scale / L1 / L2 / WD in one block
    hp = HP[name]
    lengths = [11, 0, 23]
    rows = [(1.0 / 8, 0.01, 0.02, 0.003), (1.0, 0.5, 0.5, 0.5), (1.0 / 8, 0.0, 1e-3, 0.0)]
    w0, g, st0 = make_problem(name, sum(lengths), seed=9)
    t = [4] if name in HAS_T else []
    w, st = w0.copy(), [x.copy() for x in st0]
    bounds = np.array([0, 11, 11, 34], dtype=np.int64)
    assert U.STEP_KERNEL_BY_NAME[name](w, g, *st, bounds, np.array(rows), *hp.values(), *t, True) is False
    w_ref, st_ref = w0.copy(), [x.copy() for x in st0]
    for lo, hi, row in zip(bounds[:-1], bounds[1:], rows):
        U.STEP_KERNEL_BY_NAME[name](w_ref[lo:hi], g[lo:hi], *(x[lo:hi] for x in st_ref), *one(hi - lo, *row),
                                    *hp.values(), *t, True)
    np.testing.assert_array_equal(w, w_ref)
    for a, b in zip(st, st_ref):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------------------------
# Adam, MLPMnist setting: a two-step example by hand
# ---------------------------------------------------------------------------------------------------------------


def test_adam_mlpmnist_two_steps_by_hand():
    # MLPMnist: Adam(β1 0.9, β2 0.999, ε 1e-8), lr 0.05 at iterations 0..3, L1 1e-3 + L2 1e-3 on weights,
    # minibatch 16 (gradients arrive summed over the 16 examples).
    lr, b1, b2, eps, l1, l2, N = 0.05, 0.9, 0.999, 1e-8, 1e-3, 1e-3, 16
    w0 = [0.1, -0.2, 0.0]
    g_sum = [[1.6, -0.8, 0.32], [0.8, 0.48, -1.6]]  # iteration 0, iteration 1

    def sgn(x):
        return (x > 0) - (x < 0)

    # --- iteration 0 (t = 0), element by element ---
    w1, m1, v1 = [], [], []
    alpha0 = lr * math.sqrt(1 - b2**1) / (1 - b1**1)  # = 0.05·√0.001/0.1 ≈ 0.0158113883
    assert abs(alpha0 - 0.015811388300841896) < 1e-15
    for j in range(3):
        ge = g_sum[0][j] / N + l1 * sgn(w0[j]) + l2 * w0[j]
        m = (1 - b1) * ge
        v = (1 - b2) * ge * ge
        m1.append(m)
        v1.append(v)
        w1.append(w0[j] - alpha0 * m / (math.sqrt(v) + eps))
    # first Adam step = lr·ge/(|ge| + ε/√(1−β2)): almost exactly lr in the direction of -sign(ge)
    ge0 = [0.1 + 0.001 + 0.0001, -0.05 - 0.001 - 0.0002, 0.02 + 0.0 + 0.0]
    for j in range(3):
        assert w1[j] == pytest.approx(w0[j] - lr * ge0[j] / (abs(ge0[j]) + eps / math.sqrt(1 - b2)), rel=1e-12)
    assert w1 == pytest.approx([0.05, -0.15, -0.05], abs=1e-6)

    # --- iteration 1 (t = 1) ---
    alpha1 = lr * math.sqrt(1 - b2**2) / (1 - b1**2)  # = 0.05·√0.001999/0.19
    w2, m2, v2 = [], [], []
    for j in range(3):
        ge = g_sum[1][j] / N + l1 * sgn(w1[j]) + l2 * w1[j]
        m = b1 * m1[j] + (1 - b1) * ge
        v = b2 * v1[j] + (1 - b2) * ge * ge
        m2.append(m)
        v2.append(v)
        w2.append(w1[j] - alpha1 * m / (math.sqrt(v) + eps))

    for dtype, rtol in ((np.float64, 1e-13), (np.float32, 2e-6)):
        w = np.array(w0, dtype)
        state = np.zeros(6, dtype)  # block state: m (3) then v (3)
        m, v = state[:3], state[3:]
        for t in range(2):
            g = np.array(g_sum[t], dtype)
            U.adam_step(w, g, m, v, *one(w.shape[0], 1.0 / N, l1, l2, 0.0), lr, b1, b2, eps, t, True)
            if t == 0:
                np.testing.assert_allclose(w, w1, rtol=rtol)
                np.testing.assert_allclose(m, m1, rtol=rtol)
                np.testing.assert_allclose(v, v1, rtol=rtol)
        np.testing.assert_allclose(w, w2, rtol=rtol)
        np.testing.assert_allclose(m, m2, rtol=rtol)
        np.testing.assert_allclose(v, v2, rtol=rtol)


# ---------------------------------------------------------------------------------------------------------------
# Nesterovs, MLPMoon formula (fixtures README)
# ---------------------------------------------------------------------------------------------------------------


def test_nesterovs_mlpmoon_formula():
    # Nesterovs(lr 0.005, momentum 0.9); g = summed gradient divided by the minibatch size (32; last batch 16).
    lr, mu = 0.005, 0.9
    rng = np.random.default_rng(123)
    n = 102  # MLPMoon: 2·20+20 + 20·2+2 parameters
    w0 = rng.standard_normal(n) * 0.3
    batches = [32, 32, 32, 16]
    grads = [rng.standard_normal(n) * 4.0 for _ in batches]

    # float64: the README's formula
    w, v = w0.copy(), np.zeros(n)
    wk, vk = w0.copy(), np.zeros(n)
    for gsum, nb in zip(grads, batches):
        g = gsum / nb
        v_prev = v
        v = mu * v - lr * g
        w = w - (mu * v_prev - (1 + mu) * v)
        U.nesterovs_step(wk, gsum, vk, *one(wk.shape[0], 1.0 / nb, 0.0, 0.0, 0.0), lr, mu, True)
    np.testing.assert_allclose(wk, w, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(vk, v, rtol=1e-13, atol=1e-16)

    # float32 (MLPMoon is FLOAT): bit-for-bit the libnd4j operation order in float32 arithmetic:
    # p = μ·v; v = p − lr·g; u = p + (−μ−1)·v; w = w − u, with g = g_sum·(1/N) (exact for N = 2^k)
    f = np.float32
    w32, v32 = w0.astype(f), np.zeros(n, f)
    wk32, vk32 = w0.astype(f), np.zeros(n, f)
    for gsum, nb in zip(grads, batches):
        g32 = gsum.astype(f)
        g = g32 * f(1.0 / nb)
        p = f(mu) * v32
        v32 = p - f(lr) * g
        w32 = w32 - (p + f(-mu - 1.0) * v32)
        U.nesterovs_step(wk32, g32, vk32, *one(wk32.shape[0], 1.0 / nb, 0.0, 0.0, 0.0), lr, mu, True)
    np.testing.assert_array_equal(wk32, w32)
    np.testing.assert_array_equal(vk32, v32)


# ---------------------------------------------------------------------------------------------------------------
# Minibatch scaling and gradient normalisation
# ---------------------------------------------------------------------------------------------------------------


def _layer(dtype, seed=0, zero_bias=False):
    rng = np.random.default_rng(seed)
    flat = (rng.standard_normal(40) * 2.0).astype(dtype)
    if zero_bias:
        flat[30:] = 0.0
    return flat, [flat[:30], flat[30:]]  # "W" and "b" views of one layer's gradient view


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scale_inplace(dtype):
    flat, slices = _layer(dtype)
    expected = flat * dtype(1.0 / 16)
    U.scale_inplace(slices[0], 1.0 / 16)
    U.scale_inplace(slices[1], 1.0 / 16)
    np.testing.assert_array_equal(flat, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_normalization_modes(dtype):
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    code = U.GRADNORM_CODE_BY_NAME

    def run(mode, threshold, seed=0, zero_bias=False):
        flat, slices = _layer(dtype, seed, zero_bias)
        ref = flat.astype(np.float64)
        U.normalize_gradients(code[mode], threshold, slices)
        assert flat.dtype == dtype
        return flat.astype(np.float64), ref

    out, g = run("None", 1.0)
    np.testing.assert_array_equal(out, g)

    out, g = run("RenormalizeL2PerLayer", 1.0)
    np.testing.assert_allclose(out, g / np.sqrt((g**2).sum()), rtol=rtol)
    assert np.sqrt((out**2).sum()) == pytest.approx(1.0, rel=10 * rtol)

    out, g = run("RenormalizeL2PerParamType", 1.0)
    np.testing.assert_allclose(out[:30], g[:30] / np.linalg.norm(g[:30]), rtol=rtol)
    np.testing.assert_allclose(out[30:], g[30:] / np.linalg.norm(g[30:]), rtol=rtol)

    # zero norm -> 1e-5 (no NaN): a zero bias gradient stays zero
    out, g = run("RenormalizeL2PerParamType", 1.0, zero_bias=True)
    assert np.isfinite(out).all() and not out[30:].any()
    flat = np.zeros(40, dtype)
    U.normalize_gradients(code["RenormalizeL2PerLayer"], 1.0, [flat[:30], flat[30:]])
    assert np.isfinite(flat).all() and not flat.any()
    if dtype == np.float64:  # a norm that evaluates to 0 (squares underflow) is replaced by 1e-5, as in DL4J
        tiny = np.array([1e-170, -1e-170])
        for mode in ("RenormalizeL2PerLayer", "RenormalizeL2PerParamType"):
            t = tiny.copy()
            U.normalize_gradients(code[mode], 1.0, [t])
            np.testing.assert_allclose(t, tiny / 1e-5, rtol=1e-15)

    out, g = run("ClipElementWiseAbsoluteValue", 1.5)
    np.testing.assert_array_equal(out, np.clip(g, -1.5, 1.5).astype(dtype).astype(np.float64))
    assert (np.abs(g) > 1.5).any() and (np.abs(g) < 1.5).any()

    norm = np.linalg.norm(_layer(np.float64)[0])
    out, g = run("ClipL2PerLayer", norm / 2)  # clipped to norm/2
    np.testing.assert_allclose(out, g * (norm / 2) / norm, rtol=rtol)
    out, g = run("ClipL2PerLayer", norm * 2)  # below the threshold: unchanged
    np.testing.assert_array_equal(out, g)

    g = _layer(np.float64)[0]
    n_w, n_b = np.linalg.norm(g[:30]), np.linalg.norm(g[30:])
    assert n_b < n_w
    thr = 0.5 * (n_w + n_b)  # W clipped, b not
    out, g = run("ClipL2PerParamType", thr)
    np.testing.assert_allclose(out[:30], g[:30] * thr / n_w, rtol=rtol)
    np.testing.assert_array_equal(out[30:], g[30:])
    assert np.linalg.norm(out[:30]) == pytest.approx(thr, rel=10 * rtol)

    with pytest.raises(ValueError):
        U.normalize_gradients(17, 1.0, [flat])


# ---------------------------------------------------------------------------------------------------------------
# No allocation after warm-up; timing
# ---------------------------------------------------------------------------------------------------------------


def test_no_allocation_after_warmup():
    U.warmup((np.float32, np.float64))
    for dtype in (np.float32, np.float64):
        for name in NAMES:
            w0, g, st = make_problem(name, 1000, seed=2)
            w = w0.astype(dtype)
            g = g.astype(dtype)
            st = [s.astype(dtype) for s in st]
            hp = HP[name]
            call_kernel(name, w, g, st, 0.5, 1e-3, 1e-3, 1e-4, hp, 1)  # warm
            tracemalloc.start()
            try:
                base, _ = tracemalloc.get_traced_memory()
                for t in range(2, 6):
                    call_kernel(name, w, g, st, 0.5, 1e-3, 1e-3, 1e-4, hp, t)
                cur, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert peak - base < 1024, (name, dtype, peak - base)
        flat, slices = _layer(dtype)
        for mode in range(6):
            U.normalize_gradients(mode, 1.0, slices)
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            for mode in range(6):
                U.normalize_gradients(mode, 1.0, slices)
            U.scale_inplace(slices[0], 0.5)
            cur, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak - base < 1024, ("normalize_gradients", dtype, peak - base)


def test_adam_timing_vae_size(capsys):
    """Adam over the VAE's 558,928 float32 parameters: fused kernel vs a NumPy expression version."""
    n = 558_928
    rng = np.random.default_rng(0)
    f = np.float32
    w = (rng.standard_normal(n) * 0.05).astype(f)
    g = rng.standard_normal(n).astype(f)
    m = np.zeros(n, f)
    v = np.zeros(n, f)
    w_np, m_np, v_np = w.copy(), m.copy(), v.copy()
    scale, l2, lr, b1, b2, eps = 1.0 / 128, 1e-4, 1e-3, 0.9, 0.999, 1e-8

    def fused(t):
        U.adam_step(w, g, m, v, *one(w.shape[0], scale, 0.0, l2, 0.0), lr, b1, b2, eps, t, True)

    def numpy_expr(t):
        ge = g * f(scale) + f(l2) * w_np
        m_np[:] = f(b1) * m_np + f(1 - b1) * ge
        v_np[:] = f(b2) * v_np + f(1 - b2) * ge * ge
        alpha = f(lr * math.sqrt(1 - b2 ** (t + 1)) / (1 - b1 ** (t + 1)))
        w_np[:] = w_np - alpha * m_np / (np.sqrt(v_np) + f(eps))

    def per_call(fn, reps=30, rounds=5):
        best = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            for t in range(reps):
                fn(t)
            best = min(best, (time.perf_counter() - t0) / reps)
        return best

    fused(0)
    numpy_expr(0)
    t_fused = per_call(fused)
    t_numpy = per_call(numpy_expr)
    with capsys.disabled():
        print(f"\nAdam step, {n} float32 params: fused {t_fused * 1e3:.3f} ms, "
              f"NumPy expressions {t_numpy * 1e3:.3f} ms ({t_numpy / t_fused:.1f}x)")
    assert t_fused < t_numpy


# ---------------------------------------------------------------------------------------------------------------
# Dry run (commit=False): reports an update that would overflow, writes nothing
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("l1", [0.0, 0.01])
def test_dry_run_writes_nothing_and_agrees_with_commit(name, dtype, l1):
    w0, g, st0 = make_problem(name, 37, seed=5)
    w0, g, st0 = w0.astype(dtype), g.astype(dtype), [s.astype(dtype) for s in st0]
    hp = HP[name]
    for bad_value in (None, np.nan, np.inf):
        gb = g.copy()
        if bad_value is not None:
            gb[11] = bad_value
        w, st = w0.copy(), [s.copy() for s in st0]
        args = [w, gb, *st, *one(37, 1.0 / 8, l1, 1e-3, 0.0), *hp.values()] + ([3] if name in HAS_T else [])
        assert U.STEP_KERNEL_BY_NAME[name](*args, False) is (bad_value is not None)
        np.testing.assert_array_equal(w, w0)
        for a, b in zip(st, st0):
            np.testing.assert_array_equal(a, b)
        if bad_value is None:  # the committed values are finite, as the dry run said
            U.STEP_KERNEL_BY_NAME[name](*args, True)
            assert np.isfinite(w).all() and all(np.isfinite(s).all() for s in st)
            assert not np.array_equal(w, w0)


def test_dry_run_sees_overflow_of_finite_inputs():
    # finite gradient whose square overflows float32: Adam's v would become +inf
    w = np.ones(9, np.float32)
    g = np.full(9, 1e30, np.float32)
    m, v = np.zeros(9, np.float32), np.zeros(9, np.float32)
    assert U.adam_step(w, g, m, v, *one(w.shape[0], 1.0, 0.0, 0.0, 0.0), 1e-3, 0.9, 0.999, 1e-8, 0, False) is True
    # Sgd with a huge learning rate: w - lr·g overflows
    assert U.sgd_step(w, np.full(9, 1e30, np.float32), *one(w.shape[0], 1.0, 0.0, 0.0, 0.0), 1e10, False) is True
    assert U.sgd_step(w, np.full(9, 1.0, np.float32), *one(w.shape[0], 1.0, 0.0, 0.0, 0.0), 1e-3, False) is False
