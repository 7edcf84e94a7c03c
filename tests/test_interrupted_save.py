"""Interrupted saves: a process killed (SIGKILL) while ``net.save(path)`` writes a model never leaves a damaged
model at ``path``.

A forked child saves a large VAE (DL4J's MNIST anomaly VAE, 558,928 parameters plus its Adam state, about 7 MB
of zip) to ``path`` over and over, alternating two versions of the parameters; the parent kills it with SIGKILL
after random short delays, and also at each stage of ``write_model_zip`` (temp file created, half-way through
an array, before fsync, before the rename, after the rename). After every kill the file at ``path`` must load
and hold exactly the previous model or one of the new ones — never a mixture, never a truncated zip — and any
file left next to it must be a temporary whose name cannot be mistaken for the model (hidden, ``.tmp`` suffix,
not ``*.zip``).
"""
from __future__ import annotations

import multiprocessing
import os
import random
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from dl4py.nn.multilayer import MultiLayerNetwork
from dl4py.serde import modelzip

from tests.conftest import fixture_path

pytestmark = [
    pytest.mark.fixtures,
    pytest.mark.skipif(not hasattr(os, "fork") or "fork" not in multiprocessing.get_all_start_methods(),
                       reason="needs fork() to start a child that already holds the network"),
]

RANDOM_KILLS = 12
STAGES = ["temp file created", "half of coefficients written", "before fsync", "before rename", "after rename"]
TEMP_NAME = re.compile(r"^\.model\.zip\.[0-9a-f]{16}\.tmp$")


@pytest.fixture(scope="module")
def versions():
    """The model already at the path (A) and the two versions the child writes (B, C), all with Adam state."""
    base = MultiLayerNetwork.load(fixture_path("integration/VAEMnistAnomaly/Model_RANDOM_INIT_UNTRAINED.zip"))
    rng = np.random.default_rng(0)
    nets = []
    for shift in (0.0, 1.0, 2.0):
        net = base.clone()
        net.setParams(base.params() + np.float32(shift))
        net.getUpdater().set_state(rng.random(net.updaterState().shape[0], dtype=np.float32))  # incompressible
        nets.append(net)
    return nets


def _child(nets, path: str, conn, stage: str | None, saves) -> None:
    """Runs in the forked child: save forever, or stop and wait to be killed at ``stage``."""

    def pause(name: str) -> None:
        conn.send(name)
        while True:
            time.sleep(60)

    if stage == "temp file created":
        real_fdopen = os.fdopen
        os.fdopen = lambda *a, **k: (pause(stage), real_fdopen(*a, **k))[1]
    elif stage == "half of coefficients written":
        real_write_array = modelzip.write_array

        class Half:
            def __init__(self, stream, total):
                self.stream, self.total, self.done = stream, total, 0

            def write(self, data):
                self.stream.write(data)
                self.done += len(data)
                if self.done * 2 >= self.total:
                    self.stream.flush()
                    pause(stage)
                return len(data)

        modelzip.write_array = lambda arr, stream, **k: real_write_array(arr, Half(stream, arr.nbytes), **k)
    elif stage == "before fsync":
        os.fsync = lambda fd: pause(stage)
    elif stage == "before rename":
        os.replace = lambda a, b: pause(stage)
    elif stage == "after rename":
        modelzip._fsync_dir = lambda d: pause(stage)
    conn.send("ready")
    i = 0
    while True:
        nets[1 + i % 2].save(path)
        i += 1
        saves.value = i


def _run_and_kill(nets, path: Path, stage: str | None, delay: float) -> int:
    """Start a saving child, kill it with SIGKILL (at ``stage``, or ``delay`` s after it started), return how
    many saves it had completed."""
    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe()
    saves = ctx.Value("i", 0)
    proc = ctx.Process(target=_child, args=(nets, str(path), child_conn, stage, saves), daemon=True)
    proc.start()
    try:
        assert parent_conn.poll(60) and parent_conn.recv() == "ready"
        if stage is None:
            time.sleep(delay)
        else:
            assert parent_conn.poll(60), f"the child never reached {stage!r}"
            assert parent_conn.recv() == stage
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    return saves.value


def _check_after_kill(path: Path, nets, allowed: tuple[int, ...]) -> tuple[int, list[str]]:
    """``path`` loads and equals exactly one of ``nets[allowed]``; returns which, and the leftover files."""
    loaded = MultiLayerNetwork.load(path)
    matches = [i for i in allowed if np.array_equal(loaded.params(), nets[i].params())]
    assert len(matches) == 1, "the model at the path is none of the versions written (damaged or mixed)"
    np.testing.assert_array_equal(loaded.updaterState(), nets[matches[0]].updaterState())
    assert loaded.getLayerWiseConfigurations() == nets[matches[0]].getLayerWiseConfigurations()
    leftovers = sorted(set(os.listdir(path.parent)) - {path.name})
    for name in leftovers:
        assert TEMP_NAME.match(name), f"unexpected file next to the model: {name!r}"
        assert name.startswith(".") and not name.endswith(".zip")
        (path.parent / name).unlink()
    return matches[0], leftovers


def _save_duration(nets, tmp_path: Path) -> float:
    start = time.perf_counter()
    nets[1].save(tmp_path / "timing.zip")
    (tmp_path / "timing.zip").unlink()
    return time.perf_counter() - start


def test_random_kills_while_saving(versions, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    path = folder / "model.zip"
    versions[0].save(path)
    original = path.read_bytes()
    duration = _save_duration(versions, tmp_path)
    rng = random.Random(1234)
    seen = set()
    for _ in range(RANDOM_KILLS):
        path.write_bytes(original)  # the previous model: A
        delay = rng.uniform(0.0, 1.5 * duration)
        completed = _run_and_kill(versions, path, None, delay)
        which, _ = _check_after_kill(path, versions, (0, 1, 2))
        if completed == 0:
            assert which in (0, 1)  # A, or B if the kill came between the rename and the counter
        seen.add(which)
    assert 0 in seen or len(seen) > 1  # the kills did land at different moments


@pytest.mark.parametrize("stage", STAGES)
def test_kill_at_each_stage_of_the_write(versions, tmp_path, stage):
    path = tmp_path / "model.zip"
    versions[0].save(path)
    before = path.read_bytes()
    completed = _run_and_kill(versions, path, stage, 0.0)
    assert completed == 0
    which, leftovers = _check_after_kill(path, versions, (0, 1))
    if stage == "after rename":
        assert which == 1 and not leftovers  # the new model is complete; no temporary remains
    else:
        assert which == 0 and path.read_bytes() == before  # the previous file, byte for byte
        assert len(leftovers) == 1  # the interrupted temporary, named so it is never taken for the model


def test_a_fresh_path_is_absent_or_complete(versions, tmp_path):
    """Killed before the rename, a save to a new path leaves no file at that path at all."""
    path = tmp_path / "new.zip"
    _run_and_kill(versions, path, "before rename", 0.0)
    assert not path.exists()
    leftovers = os.listdir(tmp_path)
    assert len(leftovers) == 1 and re.match(r"^\.new\.zip\.[0-9a-f]{16}\.tmp$", leftovers[0])
