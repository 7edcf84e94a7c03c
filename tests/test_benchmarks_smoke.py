"""Smoke test of the benchmark suite: ``python -m benchmarks --quick`` runs end to end, prints its table and writes
its JSON. (Numbers from --quick are not measurements; the real run is ``python -m benchmarks``.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_prints_table_and_writes_json(tmp_path):
    out = tmp_path / "latest.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--rounds", "1", "--no-torch", "--workloads", "mlp",
           "--output", str(out)]
    # a warm numba cache makes this take well under 30 s; the timeout leaves room for a cold one
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "CPU " in text and "NumPy" in text and "numba" in text  # the machine line
    assert "| workload" in text and "dl4py/NumPy" in text
    for name in ("mlp-train-16", "mlp-train-128"):
        assert f"| {name}" in text
    assert out.exists()
    doc = json.loads(out.read_text())
    assert doc["quick"] is True
    assert doc["failures"] == [], doc["failures"]
    assert set(doc["workloads"]) == {"mlp-train-16", "mlp-train-128"}
    for name, w in doc["workloads"].items():
        cell = w["threads"]["1"]
        assert cell["median_examples_per_s"]["dl4py"] > 0
        assert cell["median_examples_per_s"]["numpy"] > 0
        assert cell["median_ratio_dl4py_numpy"] > 0
        assert "torch" not in cell["median_examples_per_s"]
    assert doc["machine"]["blas"], "threadpoolctl found no BLAS"


def test_quick_benchmark_pairs_the_gemm_ceiling_with_dl4py(tmp_path):
    """The fraction of the GEMM ceiling comes from one process that alternates dl4py epochs and GEMM passes."""
    out = tmp_path / "vae.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--rounds", "1", "--no-torch", "--workloads",
           "vae-train-128,gemm", "--output", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["failures"] == [], doc["failures"]
    cell = doc["workloads"]["vae-train-128"]["threads"]["1"]
    gemm = cell["raw"]["gemm"][0]
    paired = gemm["paired"]
    assert paired["workload"] == "vae-train-128" and gemm["blocks"] >= 1
    # the fraction is the paired dl4py rate over the paired ceiling, in wall and in CPU time
    assert paired["fraction"] == paired["dl4py_examples_per_s"] / gemm["examples_per_s"]
    assert paired["cpu_time_fraction"] == paired["dl4py_examples_per_cpu_s"] / gemm["examples_per_cpu_s"]
    assert cell["median_fraction_of_gemm_ceiling"] == paired["fraction"]
    assert 0.05 < paired["fraction"] < 1.5  # dl4py does the ceiling's GEMMs and more; generous for a loaded machine
    assert "% ceiling" in proc.stdout


def test_quick_benchmark_pairs_two_threads_with_one_in_one_process(tmp_path):
    """Above one thread each round also runs a ``threads`` worker: dl4py at that pool size against dl4py at one thread,
    alternating in one process; the 2-thread target is judged on its ratio."""
    out = tmp_path / "threads.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--rounds", "1", "--no-torch", "--workloads",
           "mlp-train-16", "--threads", "1,2", "--output", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["failures"] == [], doc["failures"]
    cells = doc["workloads"]["mlp-train-16"]["threads"]
    assert "threads" not in cells["1"]["raw"]  # nothing to pair at one thread
    pair = cells["2"]["raw"]["threads"][0]
    assert pair["pairs"] >= 3
    assert pair["ratio"] == pair["examples_per_s"] / pair["one_thread_examples_per_s"]
    assert cells["2"]["median_paired_ratio_dl4py_vs_1t"] == pair["ratio"]
    assert "threads" not in cells["2"]["cpu_utilisation"]  # a paired measurement, not a system
    target = next(t for t in doc["targets"] if t["target"].startswith("2 threads"))
    assert target["value"] == pair["ratio"] and "paired in one process" in target["value_text"]
    assert "vs 1t paired" in proc.stdout


def test_arm_clock_stands_still_while_stopped(monkeypatch):
    """The paired thread comparison gives the governor a clock that does not run during the 1-thread blocks."""
    from benchmarks import run

    now = [100.0]
    monkeypatch.setattr(run.time, "perf_counter", lambda: now[0])
    clock = run.ArmClock()
    start = clock()
    now[0] += 2.0
    assert clock() - start == 2.0
    clock.running = False
    now[0] += 5.0
    assert clock() - start == 2.0 and not clock.running
    clock.running = False  # stopping twice changes nothing
    now[0] += 1.0
    clock.running = True
    assert clock() - start == 2.0
    now[0] += 0.5
    assert clock() - start == 2.5 and clock.running
