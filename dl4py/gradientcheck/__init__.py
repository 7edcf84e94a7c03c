"""Gradient checks (DL4J: ``org.deeplearning4j.gradientcheck.GradientCheckUtil``): the analytic gradient of the
score against central differences, in float64, with DL4J's pass criterion (relative error below
``maxRelError``, or absolute difference below ``minAbsoluteError``)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._naming import snake_aliases
from ..exceptions import DL4JInvalidConfigException
from ..learning.regularization import L1Regularization

log = logging.getLogger("dl4py.gradientcheck")


@dataclass
class GradientCheckResult:
    """Outcome of a check: ``passed``, the number of parameters checked and failed, and the worst case."""

    passed: bool
    checked: int
    failures: list[tuple[int, float, float, float]] = field(default_factory=list)  # (index, analytic, numeric, rel)
    max_rel_error: float = 0.0

    def __bool__(self) -> bool:
        return self.passed


def check_flat_gradient(
    score: Callable[[], float],
    params: np.ndarray,
    analytic: np.ndarray,
    epsilon: float = 1e-6,
    max_rel_error: float = 1e-3,
    min_absolute_error: float = 1e-8,
    indices: Any = None,
    exit_on_first_error: bool = False,
) -> GradientCheckResult:
    """Compare ``analytic`` (∂score/∂params) with central differences of ``score()`` obtained by perturbing
    ``params`` in place (restored afterwards)."""
    if params.dtype != np.float64:
        raise DL4JInvalidConfigException("gradient checks need a float64 (DataType.DOUBLE) network")
    idx = range(params.shape[0]) if indices is None else indices
    result = GradientCheckResult(True, 0)
    for i in idx:
        original = params[i]
        params[i] = original + epsilon
        plus = score()
        params[i] = original - epsilon
        minus = score()
        params[i] = original
        numeric = (plus - minus) / (2.0 * epsilon)
        a = float(analytic[i])
        diff = abs(a - numeric)
        denom = abs(a) + abs(numeric)
        rel = diff / denom if denom > 0 else 0.0
        result.checked += 1
        result.max_rel_error = max(result.max_rel_error, rel if diff >= min_absolute_error else 0.0)
        if rel > max_rel_error and diff > min_absolute_error:
            result.passed = False
            result.failures.append((int(i), a, numeric, rel))
            if exit_on_first_error:
                break
    return result


def regularization_gradient(net: Any) -> np.ndarray:
    """∂(regularisation score)/∂params of a network's backprop parameters (L1: λ·sign(w); L2, WeightDecay: λ·w)."""
    out = np.zeros_like(net.params())
    it, ep = net.getIterationCount(), net.getEpochCount()
    offset = 0
    for layer in net.getLayers():
        conf = layer.conf
        weights = set(conf.weightKeys()) if hasattr(conf, "weightKeys") else set()
        biases = set(conf.biasKeys()) if hasattr(conf, "biasKeys") else set()
        for key in layer.keys:
            n = layer.param_sizes[key]
            regs = conf.regularization if key in weights else conf.regularization_bias if key in biases else []
            if conf.isPretrainParam(key):  # not in the supervised score, skipped by the updater (DL4J)
                regs = []
            w = net.params()[offset : offset + n]
            for r in regs:
                c = r.coefficient(it, ep)
                out[offset : offset + n] += c * (np.sign(w) if isinstance(r, L1Regularization) else w)
            offset += n
    return out


@snake_aliases
class GradientCheckUtil:
    """DL4J's gradient-check entry point for networks."""

    @staticmethod
    def checkGradients(
        net: Any,
        input: Any,
        labels: Any,
        epsilon: float = 1e-6,
        maxRelError: float = 1e-3,
        minAbsoluteError: float = 1e-8,
        print: bool = False,
        exitOnFirstError: bool = False,
        subset: int | None = None,
        seed: int = 12345,
    ) -> bool:
        """True if the network's backprop gradient (divided by the minibatch size, plus regularisation) matches
        central differences of ``net.score((input, labels), training=True)`` for every parameter (or a random
        ``subset`` of them). Dropout must be off (it makes the score random)."""
        x = np.asarray(input, dtype=np.float64)
        n = x.shape[0]
        _, raw = net.computeGradientAndScore(x, labels)
        analytic = raw / n + regularization_gradient(net)
        params = net.params()
        indices = None
        if subset is not None and subset < params.shape[0]:
            indices = np.sort(np.random.default_rng(seed).choice(params.shape[0], subset, replace=False))

        def score() -> float:
            return net.score((x, labels), True)

        result = check_flat_gradient(score, params, analytic, epsilon, maxRelError, minAbsoluteError, indices, exitOnFirstError)
        if print or not result.passed:
            for i, a, num, rel in result.failures[:20]:
                log.info("param %d: analytic %.8g, numeric %.8g, relative error %.3g", i, a, num, rel)
            log.info("gradient check: %d checked, %d failed, max relative error %.3g",
                     result.checked, len(result.failures), result.max_rel_error)
        net.last_gradient_check = result
        return result.passed
