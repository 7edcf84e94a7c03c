"""AutoEncoder 784-256 pretraining throughput: dl4py's engine vs a plain-NumPy implementation of the same step.

Workload: one AutoEncoder layer 784 → 256, sigmoid, masking noise 0.3, XENT against the clean input, Xavier,
Adam(1e-3), float32, minibatch 128, driven through ``MultiLayerNetwork.pretrainLayer`` one minibatch at a time.
Data: uniform [0, 1) pixels (the speed does not depend on the values), ``--batches`` minibatches per epoch.

Method (../shared/PERFORMANCE.md): each measurement is a separate process that warms up for one epoch and then
times ``--epochs`` whole epochs; the two systems run interleaved (dl4py, NumPy, dl4py, NumPy, …) for ``--rounds``
rounds; the table shows the median examples/s of each system and the median of the per-round ratios. BLAS threads
are limited with threadpoolctl (``--threads``, default 1); OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as they
are (their values, if set, are printed).

    python benchmarks/autoencoder.py [--rounds 5] [--epochs 3] [--batches 20] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

N_IN, N_OUT, BATCH = 784, 256, 128
HERE = Path(__file__).resolve().parent


def _data(batches: int):
    import numpy as np

    x = np.random.default_rng(0).random((batches * BATCH, N_IN), dtype=np.float32)
    return [x[i * BATCH:(i + 1) * BATCH] for i in range(batches)]


def _dl4py_step_fn():
    from dl4py.learning.config import Adam
    from dl4py.lossfunctions import LossFunctions
    from dl4py.nn.conf import NeuralNetConfiguration
    from dl4py.nn.conf.layers import AutoEncoder
    from dl4py.nn.multilayer import MultiLayerNetwork

    conf = (
        NeuralNetConfiguration.Builder().seed(12345).updater(Adam(1e-3)).weightInit("XAVIER")
        .list()
        .layer(AutoEncoder.Builder().nIn(N_IN).nOut(N_OUT).corruptionLevel(0.3)
               .lossFunction(LossFunctions.LossFunction.XENT).activation("sigmoid").build())
        .build()
    )
    net = MultiLayerNetwork(conf).init()
    return lambda x: net.pretrainLayer(0, x)


def _numpy_step_fn():
    sys.path.insert(0, str(HERE))
    from numpy_autoencoder import NumpyDenoisingAutoencoder

    model = NumpyDenoisingAutoencoder(N_IN, N_OUT, corruption=0.3, lr=1e-3, seed=12345)
    return model.step


def worker(system: str, threads: int, batches: int, epochs: int) -> None:
    import numpy  # noqa: F401  (load the BLAS first: threadpoolctl only limits libraries already loaded)
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        blas_threads = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        data = _data(batches)
        step = _dl4py_step_fn() if system == "dl4py" else _numpy_step_fn()
        for x in data:  # warm-up epoch (JIT cache load, workspace allocation)
            step(x)
        t0 = time.perf_counter()
        for _ in range(epochs):
            for x in data:
                step(x)
        elapsed = time.perf_counter() - t0
    print(json.dumps({"system": system, "examples_per_s": epochs * batches * BATCH / elapsed,
                      "blas_threads": blas_threads}))


def _run_worker(system: str, args) -> float:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", system, "--threads", str(args.threads),
           "--batches", str(args.batches), "--epochs", str(args.epochs)]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=HERE.parent, env=env).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if any(t != args.threads for t in result["blas_threads"]):
        raise RuntimeError(f"worker ran with BLAS threads {result['blas_threads']}, expected {args.threads}")
    return result["examples_per_s"]


def _blas_info(threads: int) -> str:
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        import numpy  # noqa: F401  (loads the BLAS)

        with threadpool_limits(limits=threads):
            rows = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}), "
                    f"{i.get('num_threads')} thread(s)" for i in threadpool_info() if i.get("user_api") == "blas"]
        return "; ".join(rows) or "unknown"
    except ImportError:
        return "unknown (threadpoolctl not installed)"


def main() -> None:
    p = argparse.ArgumentParser(description="AutoEncoder 784-256 pretraining examples/s, dl4py vs plain NumPy")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per measurement (after one warm-up epoch)")
    p.add_argument("--batches", type=int, default=20, help="minibatches of 128 per epoch (>= 20)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--worker", choices=("dl4py", "numpy"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.threads, args.batches, args.epochs)
        return
    if args.batches < 20:
        p.error("--batches must be >= 20")

    import numpy as np

    print(f"AutoEncoder {N_IN}-{N_OUT} pretraining, batch {BATCH}, float32, Adam; {args.batches} minibatches/epoch, "
          f"{args.epochs} timed epochs per measurement, {args.rounds} interleaved rounds")
    print(f"NumPy {np.__version__}; BLAS: {_blas_info(args.threads)}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if var in os.environ:
            print(f"  {var}={os.environ[var]}")
    results: dict[str, list[float]] = {"dl4py": [], "numpy": []}
    ratios = []
    for r in range(args.rounds):
        a = _run_worker("dl4py", args)
        b = _run_worker("numpy", args)
        results["dl4py"].append(a)
        results["numpy"].append(b)
        ratios.append(a / b)
        print(f"  round {r + 1}: dl4py {a:,.0f} ex/s, NumPy {b:,.0f} ex/s, ratio {a / b:.2f}", flush=True)
    print()
    print(f"| examples/s, batch {BATCH}, {args.threads} thread(s), median of {args.rounds} | AE train {N_IN}-{N_OUT} "
          "| vs NumPy |")
    print("| --- | ---: | ---: |")
    print(f"| plain NumPy (benchmarks/numpy_autoencoder.py) | {statistics.median(results['numpy']):,.0f} | 1.00x |")
    print(f"| dl4py engine | {statistics.median(results['dl4py']):,.0f} | {statistics.median(ratios):.2f}x |")


if __name__ == "__main__":
    main()
