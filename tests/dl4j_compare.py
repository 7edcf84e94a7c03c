"""DL4J's own comparison rule for its integration tests: relative error |a−b|/(|a|+|b|) above ``rel`` fails,
unless the absolute difference is below ``floor``."""
from __future__ import annotations

import numpy as np


def assert_dl4j_close(actual, expected, rel: float, floor: float, what: str = "") -> None:
    a = np.asarray(actual, dtype=np.float64).reshape(-1)
    b = np.asarray(expected, dtype=np.float64).reshape(-1)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    diff = np.abs(a - b)
    denom = np.abs(a) + np.abs(b)
    relerr = np.divide(diff, denom, out=np.zeros_like(diff), where=denom > 0)
    bad = (relerr > rel) & (diff > floor)
    if bad.any():
        i = int(np.argmax(np.where(bad, relerr, -1)))
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {a.size} values differ beyond rel {rel} / floor {floor}; "
            f"worst at {i}: {a[i]!r} vs {b[i]!r} (rel {relerr[i]:.3g}, abs {diff[i]:.3g})"
        )
