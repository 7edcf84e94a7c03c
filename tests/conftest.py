"""Shared test set-up: a deterministic BLAS thread count, and locating DL4J's fixture files
(../shared/fixtures/dl4j from the repository root)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# The tests compare runs bit for bit; the BLAS thread governor (on by default) would make results depend on timing.
# tests/test_blas_threads.py turns it on where it is under test.
os.environ.setdefault("DL4PY_BLAS_GOVERNOR", "0")

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = Path(os.environ.get("DL4PY_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures" / "dl4j"))


def fixture_path(relative: str) -> Path:
    """Path of a DL4J fixture file; skips the test when absent, fails instead under DL4PY_REQUIRE_FIXTURES=1."""
    path = FIXTURES_DIR / relative
    if not path.exists():
        reason = f"DL4J fixture {relative} not found under {FIXTURES_DIR} (the fixtures are not part of the project)"
        if os.environ.get("DL4PY_REQUIRE_FIXTURES") == "1":
            pytest.fail(reason + "; DL4PY_REQUIRE_FIXTURES=1 forbids skipping", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture
def dl4j():
    """``dl4j("integration/MLPMoon/config.mlc.json")`` -> Path, skipping (or failing in CI) when absent."""
    return fixture_path
