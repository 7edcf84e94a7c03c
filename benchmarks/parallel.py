"""Parameter averaging on Dask: examples/s of one vs two local workers on the VAE pretraining workload.

Workload (../shared/PERFORMANCE.md): VAE 784-[256,256]-32, leaky ReLU, identity pzx, Bernoulli(sigmoid), Xavier,
Adam(1e-3), L2 1e-4, float32; minibatch 128 *per worker*; ``DaskDl4jMultiLayer.pretrain`` with
``ParameterAveragingTrainingMaster`` (saveUpdater true: parameters + Adam's m and v travel, 3 × 2.24 MB).

Systems, each timed over whole epochs after a warm-up epoch, interleaved (single, 1 worker, 2 workers, single, …)
for ``--rounds`` rounds; the table gives medians:

* ``single``: the engine in this process (``pretrainLayer`` per minibatch, 1 BLAS thread) — no Dask, the ceiling
  of one worker;
* ``dask-1``: a LocalCluster of 1 worker process (1 thread);
* ``dask-2``: a LocalCluster of 2 worker processes (1 thread each).

An epoch is ``2 × 128 × f × --rounds-per-epoch`` examples for averaging frequency ``f`` (so two workers run
``--rounds-per-epoch`` rounds per epoch, one worker twice as many). Per-round costs come from the training stats:
broadcast (driver → workers), wait (submit → all results back: compute + transfers + scheduling), worker (the
slowest task's own time), apply (averaging on the driver). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as set
(printed). The machine has 2 vCPUs: the driver and the scheduler share them with the workers.

    python benchmarks/parallel.py [--rounds 3] [--freqs 5,25] [--rounds-per-epoch 8] [--quick] [--output FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BATCH = 128


def _machine() -> dict:
    import numpy as np

    info = {"cpus": os.cpu_count(), "numpy": np.__version__}
    try:
        import threadpoolctl

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for p in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        info["blas"] = []
    import dask
    import distributed

    info["dask"] = dask.__version__
    info["distributed"] = distributed.__version__
    info["loadavg_at_start"] = os.getloadavg()
    info["env"] = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    return info


def _data(n: int):
    import numpy as np

    return (np.random.default_rng(12345).random((n, 784), dtype=np.float32) < 0.3).astype(np.float32)


def _vae_conf():
    from benchmarks.workloads import dl4py_vae_network

    return dl4py_vae_network().conf


def _single(x):
    from dl4py.nn.multilayer import MultiLayerNetwork

    net = MultiLayerNetwork(_vae_conf().clone()).init()

    def epoch() -> None:
        for i in range(0, x.shape[0], BATCH):
            net.pretrainLayer(0, x[i : i + BATCH])

    return epoch, None


def _dask(client, x, freq: int, save_updater: bool = True):
    from dl4py.parallel import DaskDl4jMultiLayer, ParameterAveragingTrainingMaster

    tm = (ParameterAveragingTrainingMaster.Builder(BATCH).averagingFrequency(freq).saveUpdater(save_updater)
          .collectTrainingStats(True).build())
    model = DaskDl4jMultiLayer(client, _vae_conf().clone(), tm)

    def epoch() -> None:
        model.pretrain(x, numEpochs=1)

    return epoch, model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--freqs", default="5,25", help="averaging frequencies, comma-separated")
    ap.add_argument("--rounds-per-epoch", type=int, default=8)
    ap.add_argument("--no-save-updater", action="store_true", help="also measure saveUpdater(false)")
    ap.add_argument("--quick", action="store_true", help="tiny run to check the script works (not a measurement)")
    ap.add_argument("--output", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.rounds_per_epoch, args.freqs = 1, 2, "2"

    import numpy as np
    from distributed import Client

    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)
    except ImportError:
        pass
    from dl4py.parallel import local_cluster

    machine = _machine()
    print(f"machine: {machine['cpus']} CPUs, NumPy {machine['numpy']}, dask {machine['dask']}, BLAS "
          f"{[(b['internal_api'], b['version'], b['architecture'], b['num_threads']) for b in machine['blas']]}"
          + (f", env {machine['env']} (left as set)" if machine["env"] else ""))
    t0 = time.perf_counter()
    import logging

    cluster1 = local_cluster(1, dashboard_address=":0", silence_logs=logging.ERROR)
    cluster2 = local_cluster(2, dashboard_address=":0", silence_logs=logging.ERROR)
    c1, c2 = Client(cluster1), Client(cluster2)
    for c in (c1, c2):
        c.run(lambda: __import__("dl4py.nn.multilayer"))
    print(f"clusters up in {time.perf_counter() - t0:.1f} s")

    results: dict = {"machine": machine, "batch_per_worker": BATCH, "quick": args.quick, "configs": {}}
    try:
        for freq in [int(f) for f in args.freqs.split(",")]:
            variants = [(True, "saveUpdater")] + ([(False, "no-updater")] if args.no_save_updater else [])
            for save_updater, label in variants:
                n = 2 * BATCH * freq * args.rounds_per_epoch
                x = _data(n)
                systems = {"single": _single(x)} if save_updater else {}
                systems["dask-1"] = _dask(c1, x, freq, save_updater)
                systems["dask-2"] = _dask(c2, x, freq, save_updater)
                for fn, _ in systems.values():  # warm-up epoch: caches, worker-side network build
                    fn()
                for _, model in systems.values():
                    if model is not None:
                        st = model.getTrainingStats()
                        st.records.clear()
                times: dict[str, list[float]] = {name: [] for name in systems}
                for _ in range(args.rounds):
                    for name, (fn, _) in systems.items():
                        t = time.perf_counter()
                        fn()
                        times[name].append(time.perf_counter() - t)
                key = f"f{freq}-{label}"
                cfg: dict = {"averaging_frequency": freq, "save_updater": save_updater, "examples_per_epoch": n,
                             "examples_per_s": {}, "per_round": {}}
                for name, ts in times.items():
                    cfg["examples_per_s"][name] = n / statistics.median(ts)
                    model = systems[name][1]
                    if model is not None:
                        summary = model.getTrainingStats().summary()
                        summary["rounds_per_epoch"] = summary.pop("rounds") // (args.rounds + 1)
                        cfg["per_round"][name] = summary
                if "single" in cfg["examples_per_s"]:
                    cfg["speedup_dask2_vs_single"] = cfg["examples_per_s"]["dask-2"] / cfg["examples_per_s"]["single"]
                cfg["speedup_dask2_vs_dask1"] = cfg["examples_per_s"]["dask-2"] / cfg["examples_per_s"]["dask-1"]
                results["configs"][key] = cfg
                _print_config(key, cfg)
    finally:
        c1.close()
        c2.close()
        cluster1.close()
        cluster2.close()
    results["loadavg_at_end"] = os.getloadavg()
    print(f"\nload average (1, 5, 15 min): at start {machine['loadavg_at_start']}, at end {results['loadavg_at_end']} "
          f"(other processes on this {machine['cpus']}-CPU machine skew every figure)")
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2, default=float))
    return 0


def _print_config(key: str, cfg: dict) -> None:
    print(f"\n### {key}: averaging every {cfg['averaging_frequency']} minibatches of {BATCH}, "
          f"{cfg['examples_per_epoch']} examples per epoch")
    print("| system | examples/s | rounds/epoch | payload MB (one way, per worker) | broadcast ms | wait ms | "
          "worker ms | apply ms | round ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, eps in cfg["examples_per_s"].items():
        pr = cfg["per_round"].get(name)
        if pr and "total_s" in pr:
            print(f"| {name} | {eps:,.0f} | {pr['rounds_per_epoch']} | {pr['payload_bytes'] / 1e6:.2f} | "
                  f"{1e3 * pr['broadcast_s']:.1f} | {1e3 * pr['wait_s']:.1f} | {1e3 * pr['worker_s']:.1f} | "
                  f"{1e3 * pr['apply_s']:.1f} | {1e3 * pr['total_s']:.1f} |")
        else:
            print(f"| {name} | {eps:,.0f} | | | | | | | |")
    extra = f"dask-2 / dask-1 = {cfg['speedup_dask2_vs_dask1']:.2f}"
    if "speedup_dask2_vs_single" in cfg:
        extra += f", dask-2 / single = {cfg['speedup_dask2_vs_single']:.2f}"
    print(extra, flush=True)


if __name__ == "__main__":
    sys.exit(main())
