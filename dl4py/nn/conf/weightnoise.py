"""Weight noise (DL4J: ``org.deeplearning4j.nn.conf.weightnoise``): parameters perturbed in training."""
from __future__ import annotations

import math
from typing import Optional

from pydantic import model_validator

from ...config.base import Dl4jConfig, option
from ...schedule import ISchedule, schedule_overload
from ...serde.registry import dl4j_class
from .distribution import Distribution


class IWeightNoise(Dl4jConfig):
    """Base of weight-noise configurations."""


@dl4j_class("org.deeplearning4j.nn.conf.weightnoise.WeightNoise")
class WeightNoise(IWeightNoise):
    """Additive (or multiplicative) noise drawn from a distribution."""

    distribution: Distribution = option(...)
    apply_to_bias: bool = option(False)
    additive: bool = option(True)

    @classmethod
    def _positional_names(cls, args):
        # Java: WeightNoise(dist), WeightNoise(dist, additive), WeightNoise(dist, applyToBias, additive)
        return ["distribution", "additive"] if len(args) == 2 else ["distribution", "apply_to_bias", "additive"]


@dl4j_class("org.deeplearning4j.nn.conf.weightnoise.DropConnect")
class DropConnect(IWeightNoise):
    """DropConnect: each weight kept with probability weightRetainProb in training."""

    weight_retain_prob: float = option(0.5, json="weightRetainProb")
    weight_retain_prob_schedule: Optional[ISchedule] = option(None, json="weightRetainProbSchedule")
    apply_to_biases: bool = option(False)
    _schedule = schedule_overload("weight_retain_prob", "weight_retain_prob_schedule")  # DropConnect(schedule)

    @model_validator(mode="after")
    def _check(self):
        p = self.weight_retain_prob
        if self.weight_retain_prob_schedule is None and not (math.isfinite(p) and 0.0 < p <= 1.0):
            raise ValueError(f"weightRetainProb must be in (0, 1], got {p!r}")
        return self
