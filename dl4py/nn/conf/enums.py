"""Small DL4J enums used by network configurations."""
from __future__ import annotations

import enum


class GradientNormalization(str, enum.Enum):
    """Per-layer gradient normalisation/clipping (applied after minibatch division, before the updater)."""

    None_ = "None"
    RenormalizeL2PerLayer = "RenormalizeL2PerLayer"
    RenormalizeL2PerParamType = "RenormalizeL2PerParamType"
    ClipElementWiseAbsoluteValue = "ClipElementWiseAbsoluteValue"
    ClipL2PerLayer = "ClipL2PerLayer"
    ClipL2PerParamType = "ClipL2PerParamType"


# DL4J spells the first constant ``None``, a Python keyword: use GradientNormalization.NONE or GradientNormalization("None").
setattr(GradientNormalization, "NONE", GradientNormalization.None_)


class OptimizationAlgorithm(str, enum.Enum):
    STOCHASTIC_GRADIENT_DESCENT = "STOCHASTIC_GRADIENT_DESCENT"
    LINE_GRADIENT_DESCENT = "LINE_GRADIENT_DESCENT"
    CONJUGATE_GRADIENT = "CONJUGATE_GRADIENT"
    LBFGS = "LBFGS"


class BackpropType(str, enum.Enum):
    Standard = "Standard"
    TruncatedBPTT = "TruncatedBPTT"


class WorkspaceMode(str, enum.Enum):
    ENABLED = "ENABLED"
    NONE = "NONE"
    SINGLE = "SINGLE"
    SEPARATE = "SEPARATE"


class CacheMode(str, enum.Enum):
    NONE = "NONE"
    HOST = "HOST"
    DEVICE = "DEVICE"


class DataType(str, enum.Enum):
    """Network data type: FLOAT (float32, the default), DOUBLE (float64) or HALF (float16 storage)."""

    FLOAT = "FLOAT"
    DOUBLE = "DOUBLE"
    HALF = "HALF"

    @property
    def numpy_dtype(self):
        import numpy as np

        return {"FLOAT": np.float32, "DOUBLE": np.float64, "HALF": np.float16}[self.value]


class ConvolutionMode(str, enum.Enum):
    """Global option for convolutional layers (stored; dl4py has no convolutional layers)."""

    Strict = "Strict"
    Truncate = "Truncate"
    Same = "Same"
    Causal = "Causal"


class CudnnAlgoMode(str, enum.Enum):
    """Global option for cuDNN (stored; dl4py runs on the CPU)."""

    NO_WORKSPACE = "NO_WORKSPACE"
    PREFER_FASTEST = "PREFER_FASTEST"
    USER_SPECIFIED = "USER_SPECIFIED"
