"""``python -m dl4py``: the ``dl4py`` command line (see :mod:`dl4py.cli`): ``validate``, ``summary``,
``convert``, ``train``, ``score`` and ``warmup`` (compile and cache the engine's kernels)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from .cli import main as cli_main

    return cli_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
