"""VariationalAutoencoder throughput: dl4py's engine vs a plain-NumPy implementation (and PyTorch CPU if installed).

Workload (../shared/PERFORMANCE.md): VAE 784-[256,256]-32, leaky ReLU, identity pzx, Bernoulli(sigmoid)
reconstruction, Xavier, Adam(1e-3), L2 1e-4 on weights, float32, one sample of z.

* pretraining: examples/s at minibatch 128, one ``MultiLayerNetwork.pretrainLayer(0, x)`` per minibatch (dl4py),
  ``NumpyVAE.step`` (benchmarks/numpy_reference.py), or the same step in PyTorch (default Adam, per tensor);
* inference: examples/s of the encoder mean (``net.output``) at batch 1, 128 and 1024.

Method: every measurement is a separate process; it warms up (one epoch), then times ``--epochs`` whole epochs of
``--batches`` minibatches (≥ 20). The systems run interleaved (dl4py, NumPy[, torch], dl4py, …) for ``--rounds``
rounds; the table gives each system's median and the median of the per-round ratios to NumPy. BLAS (and torch)
threads are limited to ``--threads`` (default 1) with threadpoolctl; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left
untouched (printed if set). Data are random binary images (the speed does not depend on the values).

    python benchmarks/vae.py [--rounds 5] [--epochs 2] [--batches 20] [--threads 1] [--no-torch]
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

HERE = Path(__file__).resolve().parent
D, ENC, K, DEC, BATCH = 784, (256, 256), 32, (256, 256), 128
INFER_BATCHES = (1, 128, 1024)


def _data(rows: int, seed: int = 0):
    import numpy as np

    return (np.random.default_rng(seed).random((rows, D), dtype=np.float32) < 0.3).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------
# the three systems: (train step on one minibatch, encoder-mean inference)
# ----------------------------------------------------------------------------------------------------------------
def _dl4py():
    from dl4py.activations import Activation
    from dl4py.learning.config import Adam
    from dl4py.nn.conf import NeuralNetConfiguration
    from dl4py.nn.conf.layers.variational import BernoulliReconstructionDistribution, VariationalAutoencoder
    from dl4py.nn.multilayer import MultiLayerNetwork

    conf = (
        NeuralNetConfiguration.Builder().seed(12345).updater(Adam(1e-3)).l2(1e-4).weightInit("XAVIER")
        .list()
        .layer(VariationalAutoencoder.Builder().nIn(D).nOut(K).encoderLayerSizes(*ENC).decoderLayerSizes(*DEC)
               .activation(Activation.LEAKYRELU).pzxActivationFunction(Activation.IDENTITY)
               .reconstructionDistribution(BernoulliReconstructionDistribution(Activation.SIGMOID)).build())
        .build()
    )
    net = MultiLayerNetwork(conf).init()
    return (lambda x: net.pretrainLayer(0, x)), net.output


def _numpy():
    sys.path.insert(0, str(HERE))
    from numpy_reference import NumpyVAE

    model = NumpyVAE(D, ENC, K, DEC, lr=1e-3, l2=1e-4, alpha=0.01, seed=12345)
    return model.step, model.encode_mean


def _torch(threads: int):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(12345)

    class VAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            sizes = (D,) + ENC
            self.enc = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.mu = torch.nn.Linear(ENC[-1], K)
            self.lv = torch.nn.Linear(ENC[-1], K)
            sizes = (K,) + DEC
            self.dec = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.out = torch.nn.Linear(DEC[-1], D)
            for m in self.modules():
                if isinstance(m, torch.nn.Linear):
                    torch.nn.init.xavier_normal_(m.weight)
                    torch.nn.init.zeros_(m.bias)

        def encode(self, x):
            for layer in self.enc:
                x = torch.nn.functional.leaky_relu(layer(x), 0.01)
            return x

        def loss(self, x):
            h = self.encode(x)
            mu, lv = self.mu(h), self.lv(h)
            z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
            for layer in self.dec:
                z = torch.nn.functional.leaky_relu(layer(z), 0.01)
            o = self.out(z)
            nll = torch.nn.functional.binary_cross_entropy_with_logits(o, x, reduction="sum")
            kl = -0.5 * torch.sum(1 + lv - mu * mu - torch.exp(lv))
            return (nll + kl) / x.shape[0]

    model = VAE()
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    opt = torch.optim.Adam([{"params": weights, "weight_decay": 1e-4}, {"params": biases}], lr=1e-3)

    def step(x):
        xt = torch.from_numpy(x)
        opt.zero_grad(set_to_none=False)
        loss = model.loss(xt)
        loss.backward()
        opt.step()
        return float(loss)

    @torch.no_grad()
    def infer(x):
        return model.mu(model.encode(torch.from_numpy(x))).numpy()

    return step, infer


# ----------------------------------------------------------------------------------------------------------------
# one measurement (a separate process)
# ----------------------------------------------------------------------------------------------------------------
def _time_epochs(fn, batches, epochs) -> float:
    for x in batches:  # warm-up epoch: JIT cache load, workspace allocation
        fn(x)
    t0 = time.perf_counter()
    for _ in range(epochs):
        for x in batches:
            fn(x)
    return epochs * sum(x.shape[0] for x in batches) / (time.perf_counter() - t0)


def worker(system: str, threads: int, n_batches: int, epochs: int) -> None:
    import numpy  # noqa: F401  (load the BLAS first: threadpool_limits only limits libraries already loaded)
    from threadpoolctl import threadpool_limits

    if system == "dl4py":
        import dl4py.nn.multilayer  # noqa: F401  (numba's OpenMP/TBB layers, if any, are loaded before limiting)
    with threadpool_limits(limits=threads):
        step, infer = {"dl4py": _dl4py, "numpy": _numpy, "torch": lambda: _torch(threads)}[system]()
        data = _data(max(n_batches * BATCH, 1024 * 4))
        result = {"system": system}
        train = [data[i * BATCH:(i + 1) * BATCH] for i in range(n_batches)]
        result["train"] = _time_epochs(step, train, epochs)
        for b in INFER_BATCHES:
            count = max(n_batches, 4) if b > 1 else 1000  # batch 1: an "epoch" of 1000 single-example calls
            batches = [data[(i * b) % (data.shape[0] - b + 1):][:b] for i in range(count)]
            result[f"infer{b}"] = _time_epochs(infer, batches, epochs)
    print(json.dumps(result))


def _run_worker(system: str, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", system, "--threads", str(args.threads),
           "--batches", str(args.batches), "--epochs", str(args.epochs)]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=HERE.parent, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def _blas_info(threads: int) -> str:
    try:
        import numpy  # noqa: F401  (loads the BLAS)
        from threadpoolctl import threadpool_info, threadpool_limits

        with threadpool_limits(limits=threads):
            rows = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}), "
                    f"{i.get('num_threads')} thread(s)" for i in threadpool_info() if i.get("user_api") == "blas"]
        return "; ".join(rows) or "unknown"
    except ImportError:
        return "unknown (threadpoolctl not installed)"


def main() -> None:
    p = argparse.ArgumentParser(description="VAE 784-[256,256]-32 pretraining and inference examples/s")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per measurement (after one warm-up epoch)")
    p.add_argument("--batches", type=int, default=20, help="minibatches of 128 per training epoch (>= 20)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    p.add_argument("--worker", choices=("dl4py", "numpy", "torch"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.threads, args.batches, args.epochs)
        return
    if args.batches < 20:
        p.error("--batches must be >= 20")
    if args.rounds < 1:
        p.error("--rounds must be >= 1")

    import numpy as np

    systems = ["dl4py", "numpy"]
    if not args.no_torch:
        try:
            import torch

            systems.append("torch")
            torch_version = torch.__version__
        except ImportError:
            torch_version = None
    print(f"VAE {D}-{list(ENC)}-{K} (decoder {list(DEC)}), Bernoulli, leaky ReLU, Adam 1e-3, L2 1e-4, float32")
    print(f"train: batch {BATCH}, {args.batches} minibatches/epoch; {args.epochs} timed epochs per measurement after "
          f"one warm-up epoch; {args.rounds} interleaved rounds, one process per measurement")
    print(f"NumPy {np.__version__}; BLAS: {_blas_info(args.threads)}"
          + (f"; PyTorch {torch_version}" if "torch" in systems else "; PyTorch not used"))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if var in os.environ:
            print(f"  {var}={os.environ[var]}")
    metrics = ["train"] + [f"infer{b}" for b in INFER_BATCHES]
    results: dict[str, list[dict]] = {s: [] for s in systems}
    for r in range(args.rounds):
        row = {s: _run_worker(s, args) for s in systems}
        for s in systems:
            results[s].append(row[s])
        print(f"  round {r + 1}: " + "; ".join(
            f"{s} train {row[s]['train']:,.0f}, infer@128 {row[s]['infer128']:,.0f}" for s in systems), flush=True)

    def med(s, m):
        return statistics.median(x[m] for x in results[s])

    def ratio(s, m):
        return statistics.median(a[m] / b[m] for a, b in zip(results[s], results["numpy"]))

    print()
    print(f"examples/s, {args.threads} BLAS thread(s), median of {args.rounds} rounds (ratio: median of per-round "
          "ratios to plain NumPy)")
    print()
    header = ["system", f"train (batch {BATCH})"] + [f"inference batch {b}" for b in INFER_BATCHES]
    print("| " + " | ".join(header) + " |")
    print("| --- |" + " ---: |" * (len(header) - 1))
    names = {"dl4py": "dl4py engine", "numpy": "plain NumPy (numpy_reference.py)", "torch": "PyTorch CPU"}
    for s in systems:
        cells = [f"{med(s, m):,.0f} ({ratio(s, m):.2f}x)" for m in metrics]
        print(f"| {names[s]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
