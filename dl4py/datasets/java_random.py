"""``java.util.Random`` (the 48-bit linear congruential generator), to reproduce DL4J's seeded shuffles."""
from __future__ import annotations

import numpy as np

_MULT = 0x5DEECE66D
_ADD = 0xB
_MASK = (1 << 48) - 1


class JavaRandom:
    """Bit-exact ``java.util.Random``: ``nextInt(bound)`` gives the same sequence as Java for the same seed."""

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ _MULT) & _MASK

    def _next(self, bits: int) -> int:
        self._seed = (self._seed * _MULT + _ADD) & _MASK
        value = self._seed >> (48 - bits)
        return value - (1 << bits) if value >= 1 << (bits - 1) and bits == 32 else value

    def nextInt(self, bound: int) -> int:
        if bound <= 0:
            raise ValueError(f"bound must be positive, got {bound}")
        if bound & (bound - 1) == 0:
            return (bound * self._next(31)) >> 31
        while True:
            bits = self._next(31)
            val = bits % bound
            if bits - val + (bound - 1) < (1 << 31):  # Java's int overflow test
                return val

    next_int = nextInt


def dl4j_shuffled_order(n: int, seed: int) -> np.ndarray:
    """0…n−1 shuffled as DL4J's MNIST fetcher does: Fisher–Yates from the end, swap i with nextInt(i + 1)."""
    order = np.arange(n, dtype=np.int64)
    rng = JavaRandom(seed)
    for i in range(n - 1, 0, -1):
        j = rng.nextInt(i + 1)
        order[i], order[j] = order[j], order[i]
    return order
