"""``python -m dl4py warmup``: compile and cache the engine's kernels."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["warmup"]:
        import dl4py

        timings = dl4py.warmup(verbose=True)
        print(f"total {sum(timings.values()):.2f} s")
        return 0
    print("usage: python -m dl4py warmup", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
