"""Weight-init formulas (spec layers-and-network.md §8): sample statistics of large seeded matrices."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dl4py.exceptions import DL4JInvalidConfigException, DL4JInvalidInputException
from dl4py.nn.conf.distribution import (
    BinomialDistribution,
    ConstantDistribution,
    GaussianDistribution,
    LogNormalDistribution,
    NormalDistribution,
    OrthogonalDistribution,
    TruncatedNormalDistribution,
    UniformDistribution,
)
from dl4py.nn.params.weight_init import init_bias, init_weights
from dl4py.nn.weights import (
    IWeightInit,
    WeightInit,
    WeightInitConstant,
    WeightInitDistribution,
    WeightInitIdentity,
    WeightInitLecunUniform,
    WeightInitNormal,
    WeightInitRelu,
    WeightInitReluUniform,
    WeightInitSigmoidUniform,
    WeightInitUniform,
    WeightInitVarScalingNormalFanAvg,
    WeightInitVarScalingNormalFanIn,
    WeightInitVarScalingNormalFanOut,
    WeightInitVarScalingUniformFanAvg,
    WeightInitVarScalingUniformFanIn,
    WeightInitVarScalingUniformFanOut,
    WeightInitXavier,
    WeightInitXavierLegacy,
    WeightInitXavierUniform,
)

N_IN, N_OUT = 400, 300


def fill(config, dtype=np.float64, seed=12345, shape=(N_IN, N_OUT), fan_in=N_IN, fan_out=N_OUT):
    out = np.full(shape, np.nan, dtype=dtype)
    init_weights(config, fan_in, fan_out, out, np.random.default_rng(seed))
    return out


def truncated_std(std: float) -> float:
    """Std of ND4J's rule: N(0, std) kept within ±2·std, one redraw, then set to ~0."""
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    p = math.erf(2 / math.sqrt(2))  # P(|z| <= 2)
    var_trunc = 1 - 4 * phi2 / p
    return std * math.sqrt((1 - (1 - p) ** 2) * var_trunc)


NORMAL_CASES = [
    (WeightInitXavier(), math.sqrt(2 / (N_IN + N_OUT))),
    (WeightInitXavierLegacy(), 1 / math.sqrt(N_IN + N_OUT)),
    (WeightInitRelu(), math.sqrt(2 / N_IN)),
    (WeightInitNormal(), 1 / math.sqrt(N_IN)),
    (WeightInitDistribution(NormalDistribution(0.0, 0.5)), 0.5),
    (WeightInitDistribution(GaussianDistribution(0.0, 2.0)), 2.0),
]

UNIFORM_CASES = [
    (WeightInitXavierUniform(), math.sqrt(6) / math.sqrt(N_IN + N_OUT)),
    (WeightInitReluUniform(), math.sqrt(6 / N_IN)),
    (WeightInitUniform(), 1 / math.sqrt(N_IN)),
    (WeightInitSigmoidUniform(), 4 * math.sqrt(6 / (N_IN + N_OUT))),
    (WeightInitLecunUniform(), 3 / math.sqrt(N_IN)),
    (WeightInitVarScalingUniformFanIn(), 3 / math.sqrt(N_IN)),
    (WeightInitVarScalingUniformFanOut(), 3 / math.sqrt(N_OUT)),
    (WeightInitVarScalingUniformFanAvg(), 3 / math.sqrt((N_IN + N_OUT) / 2)),
    (WeightInitVarScalingUniformFanIn(scale=2.0), 2 * 3 / math.sqrt(N_IN)),
    (WeightInitVarScalingUniformFanAvg(scale=0.5), 0.5 * 3 / math.sqrt((N_IN + N_OUT) / 2)),
]

TRUNCATED_CASES = [
    (WeightInitVarScalingNormalFanIn(), math.sqrt(1 / N_IN)),
    (WeightInitVarScalingNormalFanOut(), math.sqrt(1 / N_OUT)),
    (WeightInitVarScalingNormalFanAvg(), math.sqrt(2 / (N_IN + N_OUT))),
    (WeightInitVarScalingNormalFanIn(scale=3.0), math.sqrt(3 / N_IN)),
    (WeightInitVarScalingNormalFanOut(scale=0.25), math.sqrt(0.25 / N_OUT)),
    (WeightInitVarScalingNormalFanAvg(scale=2.0), math.sqrt(4 / (N_IN + N_OUT))),
]


def _id(case):
    return repr(case) if not isinstance(case, IWeightInit) else type(case).__name__


@pytest.mark.parametrize("config,std", NORMAL_CASES, ids=[type(c).__name__ + str(i) for i, (c, _) in enumerate(NORMAL_CASES)])
def test_normal_schemes(config, std):
    w = fill(config)
    assert abs(w.std() / std - 1) < 0.02
    assert abs(w.mean()) < 0.02 * std
    assert w.max() > 3.5 * std and w.min() < -3.5 * std  # untruncated tails


@pytest.mark.parametrize("config,bound", UNIFORM_CASES,
                         ids=[f"{type(c).__name__}-{getattr(c, 'scale', None)}" for c, _ in UNIFORM_CASES])
def test_uniform_schemes(config, bound):
    w = fill(config)
    assert w.max() <= bound and w.min() >= -bound
    assert w.max() > 0.999 * bound and w.min() < -0.999 * bound  # nearly reached
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.02
    assert abs(w.mean()) < 0.02 * bound


@pytest.mark.parametrize("config,std", TRUNCATED_CASES,
                         ids=[f"{type(c).__name__}-{c.scale}" for c, _ in TRUNCATED_CASES])
def test_truncated_normal_schemes(config, std):
    w = fill(config)
    assert np.abs(w).max() <= 2 * std
    assert np.abs(w).max() > 1.99 * std
    assert abs(w.std() / truncated_std(std) - 1) < 0.02
    assert abs(w.mean()) < 0.02 * std
    # values outside ±2·std twice are set to mean + the smallest positive value of the type (≈ 0.2 % of them)
    tiny = np.count_nonzero(w == np.finfo(np.float64).tiny) / w.size
    assert 0.001 < tiny < 0.0035


def test_truncated_normal_distribution_with_mean():
    w = fill(WeightInitDistribution(TruncatedNormalDistribution(mean=1.5, std=0.2)), dtype=np.float32)
    assert np.all(np.abs(w - 1.5) <= 0.4 + 1e-6)
    assert abs(w.mean() - 1.5) < 0.005
    assert abs(w.std() / truncated_std(0.2) - 1) < 0.02


def test_uniform_distribution():
    w = fill(WeightInitDistribution(UniformDistribution(lower=-0.5, upper=1.5)))
    assert w.min() >= -0.5 and w.max() <= 1.5
    assert w.min() < -0.499 and w.max() > 1.499
    assert abs(w.mean() - 0.5) < 0.01
    assert abs(w.std() / (2 / math.sqrt(12)) - 1) < 0.02


def test_normal_distribution_mean():
    w = fill(WeightInitDistribution(NormalDistribution(mean=0.1, std=1.2)))
    assert abs(w.mean() - 0.1) < 0.02 and abs(w.std() / 1.2 - 1) < 0.02


def test_lognormal_distribution():
    w = fill(WeightInitDistribution(LogNormalDistribution(mean=0.3, std=0.5)))
    assert w.min() > 0
    assert abs(np.log(w).mean() - 0.3) < 0.01 and abs(np.log(w).std() / 0.5 - 1) < 0.02


def test_binomial_distribution():
    w = fill(WeightInitDistribution(BinomialDistribution(number_of_trials=10, probability_of_success=0.3)))
    assert np.all(w == np.round(w)) and w.min() >= 0 and w.max() <= 10
    assert abs(w.mean() - 3.0) < 0.03
    assert abs(w.var() / 2.1 - 1) < 0.03


@pytest.mark.parametrize("config", [WeightInitConstant(value=0.25), WeightInitDistribution(ConstantDistribution(value=-3.0)),
                                    WeightInit.ZERO.getWeightInitFunction(), WeightInit.ONES.getWeightInitFunction()])
def test_constant(config):
    expected = config.value if isinstance(config, WeightInitConstant) else config.distribution.value
    w = fill(config, dtype=np.float32)
    assert np.all(w == np.float32(expected))


@pytest.mark.parametrize("gain,shape", [(1.0, (400, 300)), (2.0, (400, 300)), (0.5, (300, 400)), (1.0, (50, 50))])
def test_orthogonal(gain, shape):
    w = fill(WeightInitDistribution(OrthogonalDistribution(gain=gain)), shape=shape)
    rows, cols = shape
    gram = w.T @ w if rows >= cols else w @ w.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-10)


def test_orthogonal_higher_rank_uses_flattened_leading_dims():
    w = fill(WeightInitDistribution(OrthogonalDistribution(gain=1.0)), shape=(4, 3, 5))
    m = w.reshape(12, 5)
    np.testing.assert_allclose(m.T @ m, np.eye(5), atol=1e-10)


def test_orthogonal_is_not_biased_in_sign():
    """Sign correction makes the diagonal of Q symmetric around 0 (plain QR would bias it)."""
    diag = [fill(WeightInitDistribution(OrthogonalDistribution()), shape=(8, 8), seed=s)[0, 0] for s in range(400)]
    assert 0.35 < np.mean(np.array(diag) > 0) < 0.65


def test_identity():
    np.testing.assert_array_equal(fill(WeightInitIdentity(), shape=(7, 7)), np.eye(7))
    np.testing.assert_array_equal(fill(WeightInitIdentity(scale=2.5), shape=(7, 7), dtype=np.float32),
                                  2.5 * np.eye(7, dtype=np.float32))
    with pytest.raises(DL4JInvalidConfigException, match="square"):
        fill(WeightInitIdentity(), shape=(7, 6))


def test_identity_convolution_kernel_centre():
    w = fill(WeightInitIdentity(), shape=(3, 3, 3, 3))
    expected = np.zeros((3, 3, 3, 3))
    for i in range(3):
        expected[i, i, 1, 1] = 1.0
    np.testing.assert_array_equal(w, expected)


ALL_RANDOM = [c for c, _ in NORMAL_CASES + UNIFORM_CASES] + [
    WeightInitDistribution(UniformDistribution(lower=-1, upper=1)),
    WeightInitDistribution(LogNormalDistribution()),
    WeightInitDistribution(OrthogonalDistribution(gain=1.3)),
    WeightInitDistribution(BinomialDistribution(number_of_trials=4, probability_of_success=0.5)),
]


@pytest.mark.parametrize("config", ALL_RANDOM + [c for c, _ in TRUNCATED_CASES], ids=_id)
def test_seeding_reproducible_and_float32_is_cast_of_float64(config):
    shape = (40, 30)
    a = fill(config, shape=shape, fan_in=40, fan_out=30, seed=7)
    b = fill(config, shape=shape, fan_in=40, fan_out=30, seed=7)
    c = fill(config, shape=shape, fan_in=40, fan_out=30, seed=8)
    f32 = fill(config, shape=shape, fan_in=40, fan_out=30, seed=7, dtype=np.float32)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert f32.dtype == np.float32 and a.dtype == np.float64
    # truncated normal's "mean + tiny" depends on the type; otherwise float32 is exactly the float64 draw cast
    np.testing.assert_allclose(f32, a.astype(np.float32), rtol=0, atol=1e-30)


def test_fortran_view_of_flat_slice_is_filled_column_major():
    """DL4J fills the flat slice with consecutive draws, then views it as [nIn, nOut] in 'f' order."""
    flat = np.zeros(2 + N_IN * N_OUT + 3, dtype=np.float32)
    view = flat[2:-3].reshape(N_OUT, N_IN).T  # what the engine passes: an 'f'-ordered [nIn, nOut] view
    assert view.flags.f_contiguous and not view.flags.c_contiguous
    init_weights(WeightInitXavier(), N_IN, N_OUT, view, np.random.default_rng(3))
    expected = np.random.default_rng(3).normal(size=N_IN * N_OUT) * math.sqrt(2 / (N_IN + N_OUT))
    np.testing.assert_allclose(flat[2:-3], expected.astype(np.float32))
    assert np.all(flat[:2] == 0) and np.all(flat[-3:] == 0)
    assert abs(view.std() / math.sqrt(2 / (N_IN + N_OUT)) - 1) < 0.02


def test_strided_view_filled_without_touching_neighbours():
    base = np.zeros((N_IN, 2 * N_OUT))
    init_weights(WeightInitUniform(), N_IN, N_OUT, base[:, ::2], np.random.default_rng(0))
    assert np.all(base[:, 1::2] == 0)
    assert np.abs(base[:, ::2]).max() <= 1 / math.sqrt(N_IN) and np.count_nonzero(base[:, ::2]) == N_IN * N_OUT


@pytest.mark.parametrize("member", [m for m in WeightInit if m is not WeightInit.DISTRIBUTION], ids=str)
def test_every_enum_member_is_dispatched(member):
    w = fill(member.getWeightInitFunction(), shape=(6, 6), fan_in=6, fan_out=6)
    assert np.all(np.isfinite(w))


def test_subclass_of_known_scheme_uses_its_formula():
    class MyXavier(WeightInitXavier):
        pass

    w = fill(MyXavier())
    assert abs(w.std() / math.sqrt(2 / (N_IN + N_OUT)) - 1) < 0.02


def test_custom_weight_init_with_init_method():
    class HalfInit(IWeightInit):
        def init(self, fan_in, fan_out, out, rng):
            out[...] = fan_in / fan_out / 2

    w = fill(HalfInit(), shape=(4, 2), fan_in=4, fan_out=2)
    assert np.all(w == 1.0)

    class Returns(IWeightInit):
        def init(self, fan_in, fan_out, out, rng):
            return np.arange(out.size).reshape(out.shape)

    np.testing.assert_array_equal(fill(Returns(), shape=(2, 3)), np.arange(6).reshape(2, 3))


def test_unknown_weight_init_is_a_clear_error():
    class Unknown(IWeightInit):
        pass

    with pytest.raises(DL4JInvalidConfigException, match=r"Unknown.*init\(fan_in, fan_out, out, rng\)"):
        fill(Unknown())
    with pytest.raises(DL4JInvalidConfigException, match="IWeightInit"):
        fill("XAVIER")


def test_bad_arguments():
    with pytest.raises(DL4JInvalidInputException, match="floating-point"):
        init_weights(WeightInitXavier(), 2, 2, np.zeros((2, 2), dtype=np.int32), np.random.default_rng(0))
    with pytest.raises(DL4JInvalidConfigException, match="fanIn"):
        fill(WeightInitRelu(), fan_in=0)
    with pytest.raises(DL4JInvalidConfigException, match="fanOut"):
        fill(WeightInitVarScalingNormalFanOut(), fan_out=float("nan"))
    ro = np.zeros((2, 2))
    ro.flags.writeable = False
    with pytest.raises(DL4JInvalidInputException, match="read-only"):
        init_weights(WeightInitXavier(), 2, 2, ro, np.random.default_rng(0))


def test_empty_array_is_fine():
    out = np.zeros((0, 5))
    init_weights(WeightInitXavier(), 0, 5, out, np.random.default_rng(0))


def test_init_bias():
    b = np.zeros((1, 10), dtype=np.float32)
    init_bias(0.1, b)
    assert np.all(b == np.float32(0.1))
    b64 = np.ones(4)
    init_bias(0.0, b64)
    assert np.all(b64 == 0)
