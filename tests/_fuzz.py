"""Shared bits of the fuzz and fault tests: example budgets and per-module case counts.

Every hypothesis test takes its ``max_examples`` from :func:`examples`, scaled by ``DL4PY_FUZZ_SCALE`` (default 1;
CI runs the default, a nightly job can raise it). Each fuzz module counts the cases it actually ran by outcome in a
``Counter`` and reports the totals at the end of the module on the terminal (and, when ``DL4PY_FUZZ_REPORT`` names
a file, appends them to it as one JSON line per module).
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest


def examples(n: int) -> int:
    """The example budget ``n`` scaled by DL4PY_FUZZ_SCALE (at least 1)."""
    return max(1, int(n * float(os.environ.get("DL4PY_FUZZ_SCALE", "1"))))


def report_fixture(module: str, counts: Counter):
    """A module-scoped autouse fixture that reports ``counts`` when the module is done."""

    @pytest.fixture(scope="module", autouse=True)
    def _report_cases(request):
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        total = sum(v for k, v in counts.items() if not k.startswith("_"))
        detail = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        line = f"{module}: {total} cases in {elapsed:.1f} s ({detail})"
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None:
            if capture is not None:
                with capture.global_and_fixture_disabled():
                    reporter.write_line("\n" + line)
            else:
                reporter.write_line(line)
        target = os.environ.get("DL4PY_FUZZ_REPORT")
        if target:
            with open(target, "a", encoding="utf-8") as f:
                f.write(json.dumps({"module": module, "cases": total, "seconds": round(elapsed, 2),
                                    "by_outcome": dict(counts)}) + "\n")

    return _report_cases
