"""Name conversion between DL4J's camelCase and Python's snake_case, in one place.

`snake_aliases` is the single mechanism that gives every public camelCase method (DL4J's name) a snake_case
twin: ``net.computeGradientAndScore`` and ``net.compute_gradient_and_score`` are the same function.
"""
from __future__ import annotations

import re
from typing import TypeVar

_BOUNDARY_1 = re.compile(r"(.)([A-Z][a-z]+)")
_BOUNDARY_2 = re.compile(r"([a-z0-9])([A-Z])")

T = TypeVar("T", bound=type)


def camel_to_snake(name: str) -> str:
    """``computeGradientAndScore`` -> ``compute_gradient_and_score``; ``nIn`` -> ``n_in``; ``l1Bias`` -> ``l1_bias``."""
    s = _BOUNDARY_1.sub(r"\1_\2", name)
    return _BOUNDARY_2.sub(r"\1_\2", s).lower()


def snake_to_camel(name: str) -> str:
    """``n_in`` -> ``nIn``; ``encoder_layer_sizes`` -> ``encoderLayerSizes``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake_aliases(cls: T) -> T:
    """Class decorator: add a snake_case alias for every public camelCase attribute defined on ``cls``.

    Existing attributes are never overwritten, so a class may define a different snake_case method on purpose.
    """
    for name, value in list(vars(cls).items()):
        if name.startswith("_"):
            continue
        alias = camel_to_snake(name)
        if alias != name and alias not in vars(cls):
            setattr(cls, alias, value)
    return cls
