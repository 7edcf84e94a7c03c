"""DL4J's ``l1``/``l2``/``weightDecay`` builder semantics, shared by the global and the layer builders.

``l1(x)`` replaces any L1 term; ``l2(x)`` replaces L2 and (x > 0) drops WeightDecay; ``weightDecay(c)`` replaces
WeightDecay and (c > 0) drops L2; values <= 0 only remove. The list keeps call order. ``*Bias`` variants act on
the bias list.
"""
from __future__ import annotations

import logging
from typing import Any

from .._naming import snake_aliases

log = logging.getLogger("dl4py.config")


def _edit(values: dict[str, Any], key: str, drop: tuple[str, ...], add: Any) -> None:
    from ..learning.regularization import Regularization

    current = [r for r in values.get(key) or [] if isinstance(r, Regularization)]
    kept = []
    for r in current:
        if type(r).__name__ in drop:
            if add is not None and type(r).__name__ != type(add).__name__:
                log.warning("replacing %s by %s (DL4J allows only one of L2 and WeightDecay)", type(r).__name__, type(add).__name__)
            continue
        kept.append(r)
    if add is not None:
        kept.append(add)
    values[key] = kept


class RegularizationSetters:
    """Mixin for builders holding ``regularization`` and ``regularization_bias`` in ``self._values``."""

    _values: dict[str, Any]

    def _check_coefficient(self, name: str, value: float) -> float:
        import math

        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            from ..exceptions import DL4JInvalidConfigException

            raise DL4JInvalidConfigException(
                f"{type(self).__qualname__}.{name}: {name} must be a finite number >= 0 (0 removes it), got {value!r}"
            )
        return float(value)

    def _l1(self, key: str, name: str, value: float):
        from ..learning.regularization import L1Regularization

        v = self._check_coefficient(name, value)
        _edit(self._values, key, ("L1Regularization",), L1Regularization(l1=v) if v > 0 else None)
        return self

    def _l2(self, key: str, name: str, value: float):
        from ..learning.regularization import L2Regularization

        v = self._check_coefficient(name, value)
        drop = ("L2Regularization", "WeightDecay") if v > 0 else ("L2Regularization",)
        _edit(self._values, key, drop, L2Regularization(l2=v) if v > 0 else None)
        return self

    def _wd(self, key: str, name: str, value: float, apply_lr: bool):
        from ..learning.regularization import WeightDecay

        v = self._check_coefficient(name, value)
        drop = ("WeightDecay", "L2Regularization") if v > 0 else ("WeightDecay",)
        _edit(self._values, key, drop, WeightDecay(coeff=v, apply_lr=apply_lr) if v > 0 else None)
        return self

    def l1(self, l1: float):
        """L1 regularisation coefficient for weights (replaces an earlier l1)."""
        return self._l1("regularization", "l1", l1)

    def l2(self, l2: float):
        """L2 regularisation coefficient for weights (replaces an earlier l2 or weightDecay)."""
        return self._l2("regularization", "l2", l2)

    def l1Bias(self, l1Bias: float):
        return self._l1("regularization_bias", "l1Bias", l1Bias)

    def l2Bias(self, l2Bias: float):
        return self._l2("regularization_bias", "l2Bias", l2Bias)

    def weightDecay(self, coefficient: float, applyLR: bool = True):
        """Weight decay for weights, applied after the updater (times the learning rate when applyLR)."""
        return self._wd("regularization", "weightDecay", coefficient, applyLR)

    def weightDecayBias(self, coefficient: float, applyLR: bool = True):
        return self._wd("regularization_bias", "weightDecayBias", coefficient, applyLR)


snake_aliases(RegularizationSetters)
