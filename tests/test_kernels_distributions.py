"""The VAE kernels (dl4py.kernels.distributions) in isolation: float32 exp/log, DL4J's Bernoulli ±∞/NaN rules,
the Gaussian [means | log σ²] layout, the latent-layer kernels, sample stacking (row r ↔ example r mod N)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dl4py.kernels import activations as KA
from dl4py.kernels import distributions as KD


def test_float32_exp_and_log_accuracy_and_special_values():
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.uniform(-87, 88, 3000), rng.uniform(-5, 5, 3000)]).astype(np.float32)
    got = np.array([KD.exp_scalar(v) for v in xs], dtype=np.float64)
    ref = np.exp(xs.astype(np.float64))
    assert np.max(np.abs(got - ref) / ref) < 2e-7
    ys = np.exp(rng.uniform(-100, 88, 3000)).astype(np.float32)
    ys = ys[ys > 0]
    got = np.array([KD.log_scalar(v) for v in ys], dtype=np.float64)
    ref = np.log(ys.astype(np.float64))
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-3)) < 2e-7
    f = np.float32
    assert KD.log_scalar(f(0.0)) == -np.inf and np.isnan(KD.log_scalar(f(-1.0)))
    assert KD.log_scalar(f(np.inf)) == np.inf and np.isnan(KD.log_scalar(f(np.nan)))
    for sub in (f(1e-45), f(3e-40)):  # subnormals
        assert KD.log_scalar(sub) == pytest.approx(math.log(float(sub)), rel=1e-6)
    assert 0 < KD.exp_scalar(f(-1000.0)) < 2e-38 and np.isfinite(KD.exp_scalar(f(1000.0)))  # clamped
    assert KD.exp_scalar(0.5) == math.exp(0.5) and KD.log_scalar(0.5) == math.log(0.5)  # float64: libm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bernoulli_infinite_logs_and_nan_gradients_are_zero(dtype):
    """DL4J: ±∞ logs are replaced by 0 before multiplying by x, NaN gradient entries by 0."""
    o = np.array([[100.0, -800.0, 0.3, -1.2]], dtype)  # p = 1, p = 0, then ordinary values
    x = np.array([[0.0, 1.0, 1.0, 0.0]], dtype)
    b = np.zeros(4, dtype)
    a, e, g = np.empty_like(o), np.empty_like(o), np.empty_like(o)
    db = np.empty(4, dtype)
    row = np.zeros(1)
    total = KD.nll_and_gradient(KD.BERNOULLI, KA.SIGMOID, KA.params(KA.SIGMOID), x, o, b, a, g, db, row,
                                np.zeros(4), 1.0, e=e)
    assert a[0, 0] == 1.0  # p saturates to exactly 1
    if dtype == np.float64:
        assert a[0, 1] == 0.0  # and to exactly 0 (float32 sigmoid clamps its exp: p >= 6e-39 there)
    pa = a[0].astype(np.float64)
    sat = (pa == 0.0) | (pa == 1.0)
    xs = x[0].astype(np.float64)
    with np.errstate(divide="ignore"):
        ordinary = -(xs * np.log(pa) + (1 - xs) * np.log(1 - pa))
    expected = ordinary[~sat].sum()  # the saturated entries contribute 0, not +∞
    assert total == pytest.approx(expected, rel=1e-6) and row[0] == total
    assert np.all(g[0, sat] == 0.0)  # NaN (∞·0) -> 0
    np.testing.assert_allclose(g[0, ~sat], (pa - xs)[~sat], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(db, g[0])


def test_gaussian_layout_and_stacked_samples():
    rng = np.random.default_rng(1)
    n, d, samples = 3, 4, 2
    x = rng.normal(size=(n, d))
    o = rng.normal(size=(samples * n, 2 * d))
    o0 = o.copy()
    b = rng.normal(size=2 * d)
    a, e, g = np.empty_like(o), np.empty_like(o), np.empty_like(o)
    db, row, acc = np.empty(2 * d), np.empty(samples * n), np.empty(2 * d)
    code = KA.TANH
    total = KD.nll_and_gradient(KD.GAUSSIAN, code, KA.params(code), x, o, b, a, g, db, row, acc, 0.5, e=e)
    np.testing.assert_allclose(o, o0 + b)  # o keeps the pre-activation (bias added)
    act = np.tanh(o0 + b)
    xr = np.tile(x, (samples, 1))  # row r <-> example r mod N
    mu, lv = act[:, :d], act[:, d:]  # [means | log σ²], the activation on both halves
    nll = 0.5 * np.log(2 * np.pi) + 0.5 * lv + (xr - mu) ** 2 / (2 * np.exp(lv))
    np.testing.assert_allclose(row, nll.sum(axis=1), rtol=1e-12)
    assert total == pytest.approx(nll.sum(), rel=1e-12)
    dmu = -(xr - mu) / np.exp(lv)
    dlv = 0.5 - (xr - mu) ** 2 / (2 * np.exp(lv))
    expected = 0.5 * np.concatenate([dmu, dlv], axis=1) * (1 - act**2)
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    np.testing.assert_allclose(db, expected.sum(axis=0), rtol=1e-12)


def test_exponential_nll_and_gradient():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 3, (5, 3))
    o = rng.normal(size=(5, 3))
    a, e, g = np.empty_like(o), np.empty_like(o), np.empty_like(o)
    row = np.empty(5)
    total = KD.nll_and_gradient(KD.EXPONENTIAL, KA.IDENTITY, KA.params(KA.IDENTITY), x, o.copy(), np.zeros(3), a,
                                g, np.empty(3), row, np.empty(3), e=e)
    assert total == pytest.approx(np.sum(np.exp(o) * x - o), rel=1e-12)
    np.testing.assert_allclose(g, np.exp(o) * x - 1, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reparameterisation_kernels(dtype):
    rng = np.random.default_rng(3)
    n, k, samples = 4, 3, 3
    mu, lv = rng.normal(size=(n, k)).astype(dtype), rng.normal(size=(n, k)).astype(dtype)
    sig, var = np.empty_like(mu), np.empty_like(mu)
    eps = rng.normal(size=(samples * n, k)).astype(dtype)
    z = np.empty_like(eps)
    kl = KD.reparam_forward(mu, lv, sig, var, eps, z)
    m64, l64 = mu.astype(np.float64), lv.astype(np.float64)
    assert kl == pytest.approx(-0.5 * np.sum(1 + l64 - m64**2 - np.exp(l64)), rel=1e-6)
    np.testing.assert_allclose(z, np.tile(m64, (samples, 1)) + np.tile(np.exp(l64 / 2), (samples, 1)) * eps,
                               rtol=2e-6)
    gz = rng.normal(size=(samples * n, k)).astype(dtype)
    gmu, glv = np.empty_like(mu), np.empty_like(mu)
    KD.reparam_backward(mu, sig, var, eps, gz, gmu, glv)
    g3, e3 = gz.reshape(samples, n, k).astype(np.float64), eps.reshape(samples, n, k).astype(np.float64)
    np.testing.assert_allclose(gmu, g3.sum(axis=0) + m64, rtol=2e-6)
    np.testing.assert_allclose(glv, (0.5 * g3 * e3 * np.exp(l64 / 2)).sum(axis=0) + 0.5 * (np.exp(l64) - 1),
                               rtol=2e-5, atol=1e-6)


def test_kernel_argument_checks():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="multiple"):
        KD.part_nll(KD.BERNOULLI, x, np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(4), False, False)
    with pytest.raises(ValueError, match="columns"):
        KD.part_nll(KD.GAUSSIAN, x, np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(3), False, False)
    with pytest.raises(ValueError, match=r"\[L\*N, K\]"):
        KD.reparam_forward(*(np.zeros((3, 2)) for _ in range(4)), np.zeros((4, 2)), np.zeros((4, 2)))


def _general_bernoulli_path(code, x, o, b, a, grad, db, row, acc, gscale, add_rows, e):
    """``nll_and_gradient``'s four-kernel path, called stage by stage (the fused Bernoulli + sigmoid kernel must
    give these results bit for bit)."""
    KA.bias_act_forward(code, KA.params(code), o, b, a)
    want = grad is not None
    g = (grad if e is None else e) if want else a
    total = KD.part_nll(KD.BERNOULLI, x, a, g, row, want, add_rows)
    if want:
        KA.act_backward(code, KA.params(code), o, a, g, grad)
        KD.part_grad_finish(True, grad, db, acc, gscale)
    return total


_FUSED_CASES = [(1, True, True, False), (2, True, False, False), (3, False, False, True), (1, True, False, True)]


def _fused_inputs(dtype, samples):
    rng = np.random.default_rng(11)
    n, d = 7, 45  # odd sizes: vector bodies and scalar remainders
    x = rng.random((n, d)).astype(dtype)
    x[:, ::4] = x[:, ::4] > 0.5
    o = (rng.standard_normal((samples * n, d)) * 8).astype(dtype)
    o[0, :4] = [100.0, -800.0, 0.0, -0.0]  # saturated p (NaN gradients -> 0) and signed zeros
    b = rng.standard_normal(d).astype(dtype)
    return x, o, b


def _fused_run(fused, x, o, b, samples, want, scratch, add_rows):
    oo, a = o.copy(), np.empty_like(o)
    grad = np.empty_like(o) if want else None
    e = np.empty_like(o) if scratch else None
    d = o.shape[1]
    db, acc = np.full(d, np.nan, o.dtype), np.zeros(d)
    row = np.full(o.shape[0], 0.25)
    args = (x, oo, b, a, grad, db, row, acc, 1.0 / samples, add_rows, e)
    if fused:
        total = KD.nll_and_gradient(KD.BERNOULLI, KA.SIGMOID, KA.params(KA.SIGMOID), *args[:9], add_rows=add_rows, e=e)
    else:
        total = _general_bernoulli_path(KA.SIGMOID, *args)
    return total, oo, a, grad, db if want else None, row


@pytest.mark.parametrize("samples,want,scratch,add_rows", _FUSED_CASES)
def test_fused_bernoulli_sigmoid_float64_equals_the_general_path_bit_for_bit(samples, want, scratch, add_rows):
    x, o, b = _fused_inputs(np.float64, samples)
    results = [_fused_run(fused, x, o, b, samples, want, scratch, add_rows) for fused in (True, False)]
    for got, ref in zip(results[0], results[1]):
        if got is not None:
            assert np.asarray(got).tobytes() == np.asarray(ref).tobytes()


@pytest.mark.parametrize("samples,want,scratch,add_rows", _FUSED_CASES)
def test_fused_bernoulli_sigmoid_float32_matches_a_float64_reference(samples, want, scratch, add_rows):
    """float32 runs a log-sigmoid form (one exp, one division): equal to float64 maths from the same inputs to float32
    rounding, with DL4J's rules on float32's saturated p (p == 1: log(1 − p) and the gradient are 0) and p's exp
    clamp (p >= e^−87/(1 + e^−87), its log −87)."""
    x, o, b = _fused_inputs(np.float32, samples)
    total, oo, a, grad, db, row = _fused_run(True, x, o, b, samples, want, scratch, add_rows)
    v = o.astype(np.float64) + b.astype(np.float64)  # float32 sum, exact in float64
    np.testing.assert_array_equal(oo, (o + b))
    xr = np.tile(x.astype(np.float64), (samples, 1))
    p = 1.0 / (1.0 + np.exp(-np.maximum(v, -87.0)))  # the exp clamp of the float32 kernels
    sat = a == 1.0  # float32's saturation decides DL4J's rules
    np.testing.assert_allclose(a, p, rtol=2e-6, atol=0)
    la = -np.logaddexp(0.0, -np.maximum(v, -87.0))
    lb = np.where(sat, 0.0, -np.logaddexp(0.0, v))
    nll = -(xr * la + (1 - xr) * lb).sum(axis=1)
    np.testing.assert_allclose(row, nll + (0.25 if add_rows else 0.0), rtol=1e-6)
    assert total == pytest.approx(nll.sum(), rel=1e-6)
    if want:
        g = np.where(sat, 0.0, p - xr) / samples
        tol = 2e-6 * (np.abs(p) + np.abs(xr)) / samples  # p − x loses p's relative precision when p ≈ x
        assert np.all(np.abs(grad - g) <= tol)
        np.testing.assert_allclose(db, grad.astype(np.float64).sum(axis=0), rtol=1e-6, atol=1e-7)
        assert np.all(grad[sat] == 0.0)


def _fused32_run(o, x, gscale=1.0):
    """The float32 fused kernel through ``nll_and_gradient`` (zero bias): (total, a, grad, db, row_nll)."""
    o = o.astype(np.float32)
    a, g, db, row = np.empty_like(o), np.empty_like(o), np.empty(o.shape[1], np.float32), np.zeros(o.shape[0])
    total = KD.nll_and_gradient(KD.BERNOULLI, KA.SIGMOID, KA.params(KA.SIGMOID), x.astype(np.float32), o,
                                np.zeros(o.shape[1], np.float32), a, g, db, row, np.zeros(o.shape[1]), gscale)
    return total, a, g, db, row


def _bernoulli32_reference(v, x, a):
    """float64 maths of the float32 kernel's rules: |v| clamped to 87 (the exp's clamp), p == 1 in float32 -> log(1 − p)
    and the gradient 0, NaN pre-activations -> 0, NaN gradients -> 0. Returns p, the NLL per element, p − x."""
    v, x = v.astype(np.float64), x.astype(np.float64)
    c = np.minimum(np.abs(v), 87.0)
    e = np.exp(-c)
    p = np.where(v >= 0, 1.0, e) / (1.0 + e)
    lp = np.log1p(e)
    sat = a == 1.0
    nll = x * (lp + np.where(v < 0, c, 0.0)) + (1 - x) * np.where(sat, 0.0, lp + np.where(v > 0, c, 0.0))
    g = p - x
    return p, np.where(np.isnan(v), 0.0, nll), np.where(sat | np.isnan(g), 0.0, g)


def _ulp32(ref):
    """The float32 ulp at each |ref| (at least the smallest normal's)."""
    ref32 = np.maximum(np.abs(ref), np.finfo(np.float32).tiny).astype(np.float32)
    return (np.nextafter(ref32, np.float32(np.inf)) - ref32).astype(np.float64)


def test_fused_bernoulli_sigmoid_float32_special_values():
    """The float32 kernel's edge cases: a NaN pre-activation gives p = NaN and contributes 0 to the NLL and the
    gradient; ±∞ and |v| > 87 saturate as the exp's clamp says; p == 1 zeroes log(1 − p) and the gradient; a NaN
    label makes its row NaN and its gradient 0."""
    v = np.array([[np.nan, np.inf, -np.inf, 1e30, -1e30, 88.0, -88.0, 17.0, -17.0, 0.0, -0.0, 3.0],
                  [0.5, -2.0, 40.0, -40.0, 1.0, -1.0, 5.0, -5.0, 0.0, 9.0, -9.0, 0.1]], np.float32)
    x = np.array([[0.3, 0.3, 0.3, 1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 1.0, 0.0, 0.25],
                  [0.0, 1.0, 0.0, 1.0, np.nan, 0.5, 1.0, 0.0, 0.2, 0.7, 0.7, 1.0]], np.float32)
    total, a, g, db, row = _fused32_run(v, x, gscale=0.5)
    p, nll, gref = _bernoulli32_reference(v, x, a)
    assert np.isnan(a[0, 0]) and a[0, 1] == 1.0 and a[0, 3] == 1.0 and a[0, 5] == 1.0
    np.testing.assert_allclose(a, p, rtol=1e-6, atol=0)  # NaN where p is NaN
    np.testing.assert_allclose(row[0], nll[0].sum(), rtol=1e-6)
    assert np.isnan(row[1]) and np.isnan(total)
    np.testing.assert_allclose(g, 0.5 * gref, rtol=1e-6, atol=1e-7)
    assert g[0, 0] == 0.0 and g[0, 1] == 0.0 and g[1, 4] == 0.0


def test_fused_bernoulli_sigmoid_float32_accuracy_in_ulps():
    """p and p − x within 4 ulps of float64 maths over the kernel's whole range (2.3 measured), each row's NLL too
    (1.7); and no cancellation in the NLL of a (nearly) saturated p: x = 1, v = 15.25 costs log1p(e^−v) ≈ 2.4e−7
    per element, not 0 (the previous kernel's re-associated x·log p + (1 − x)·log(1 − p) lost it)."""
    rng = np.random.default_rng(3)
    v = np.linspace(-95.0, 95.0, 64 * 784).reshape(64, 784).astype(np.float32)
    x = rng.random(v.shape).astype(np.float32)
    x[:, ::3], x[:, 1::3] = 0.0, 1.0
    _, a, g, _, row = _fused32_run(v, x)
    p, nll, gref = _bernoulli32_reference(v, x, a)
    assert np.max(np.abs(a - p) / _ulp32(p)) <= 4.0
    assert np.max(np.abs(g - gref) / _ulp32(np.abs(p) + np.abs(x))) <= 4.0  # p − x: p's ulps where it cancels
    rows = nll.sum(axis=1)
    assert np.max(np.abs(row - rows) / _ulp32(rows)) <= 4.0
    for vv, xx in ((15.25, 1.0), (20.0, 1.0), (-30.0, 0.0)):
        _, a, _, _, row = _fused32_run(np.full((1, 784), vv), np.full((1, 784), xx))
        np.testing.assert_allclose(row[0] / 784, _bernoulli32_reference(np.float32(vv), np.float32(xx), a[0, 0])[1],
                                   rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reparam_backward_head_bias_sums(dtype):
    """With db_mu, db_lv the kernel also returns the column sums of gmu and glv (the identity heads' bias gradients),
    accumulated in float64 exactly as ``column_sums`` does."""
    rng = np.random.default_rng(12)
    n, k, samples = 9, 5, 2
    mu, sig, var = (rng.normal(size=(n, k)).astype(dtype) for _ in range(3))
    eps, gz = (rng.normal(size=(samples * n, k)).astype(dtype) for _ in range(2))
    gmu, glv, gmu2, glv2 = (np.empty((n, k), dtype) for _ in range(4))
    KD.reparam_backward(mu, sig, var, eps, gz, gmu, glv)
    db_mu, db_lv = np.empty(k, dtype), np.empty(k, dtype)
    KD.reparam_backward(mu, sig, var, eps, gz, gmu2, glv2, db_mu, db_lv, np.empty(2 * k))
    np.testing.assert_array_equal(gmu2, gmu)
    np.testing.assert_array_equal(glv2, glv)
    ref_mu, ref_lv = np.empty(k, dtype), np.empty(k, dtype)
    KA.column_sums(gmu, np.empty(k), ref_mu)
    KA.column_sums(glv, np.empty(k), ref_lv)
    np.testing.assert_array_equal(db_mu, ref_mu)
    np.testing.assert_array_equal(db_lv, ref_lv)
    with pytest.raises(ValueError, match="2K"):
        KD.reparam_backward(mu, sig, var, eps, gz, gmu2, glv2, db_mu, db_lv, np.empty(k))


def test_kernels_compile_on_first_use_not_at_import():
    """Importing the engine compiles nothing (the AutoEncoder kernels used to compile eagerly, for both dtypes)."""
    import subprocess
    import sys

    code = ("import dl4py.nn.multilayer\n"
            "from dl4py.kernels import autoencoder as K, distributions as D\n"
            "assert not (K.mask_corrupt.signatures or K.add_row.signatures or K.kl_sparsity.signatures)\n"
            "assert not (D.reparam_forward.signatures or D.reparam_backward.signatures)\n"
            "assert not (D._bs_rows_f32.signatures or D._bs_rows_f64.signatures)\n"
            "from dl4py.kernels import updaters as U\n"
            "assert not (U.scan_block.signatures or U.adam_step.signatures)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_fused_bernoulli_sigmoid_refuses_mismatched_shapes():
    """The fused kernel's shape checks run in Python before the kernel (which does not check)."""
    x, o, b = _fused_inputs(np.float32, 2)
    a, g, row = np.empty_like(o), np.empty_like(o), np.zeros(o.shape[0])
    d = o.shape[1]
    run = lambda **kw: KD.nll_and_gradient(KD.BERNOULLI, KA.SIGMOID, KA.params(KA.SIGMOID), **{  # noqa: E731
        "x": x, "o": o.copy(), "b": b, "a": a, "grad": g, "db": np.zeros(d, np.float32), "row_nll": row,
        "acc": np.zeros(d), **kw})
    for bad in ({"x": x[:3]}, {"b": b[:-1]}, {"row_nll": row[:-1]}, {"grad": g[:, :-1]},
                {"db": np.zeros(3, np.float32)}, {"acc": np.zeros(d - 1)}):
        with pytest.raises(ValueError, match="nll_and_gradient"):
            run(**bad)
