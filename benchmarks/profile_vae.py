"""Where one dl4py VAE pretraining step spends its time (784-[256,256]-32, batch 128 by default, 1 thread).

    python -m benchmarks.profile_vae [--batch 128] [--steps 200] [--threads 1]

Wraps the leaf operations of a step — every ``np.matmul`` (GEMM), the activation kernels (bias + activation
forward, derivative + bias gradient backward), the reparameterisation/KL and Bernoulli NLL kernels, the noise
draw, the updater's scan (regularisation score + finiteness bounds) and Adam kernels (a dry run only where the
bounds cannot prove the update finite; the writing run), the finiteness checks —
and records each one's *exclusive* wall and thread-CPU time. What is left of the step is Python overhead (the VAE
writes its whole gradient, so the step zeroes nothing). Thread-CPU time is what the table reports: it does not count
time the process spent waiting for a CPU, so it stays meaningful on a loaded machine (with 1 BLAS thread the GEMMs
run on the calling thread). The wrappers cost about a microsecond per call; the step time without them is shown.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Profiler:
    def __init__(self) -> None:
        self.records: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # calls, wall ns, cpu ns (exclusive)
        self.stack: list[list[int]] = []
        self.enabled = False

    def wrap(self, label, fn):
        prof = self

        def wrapper(*args, **kwargs):
            if not prof.enabled:
                return fn(*args, **kwargs)
            lab = label(*args) if callable(label) else label
            prof.stack.append([0, 0])
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                dc, dt = time.thread_time_ns() - c0, time.perf_counter_ns() - t0
                child = prof.stack.pop()
                rec = prof.records[lab]
                rec[0] += 1
                rec[1] += dt - child[0]
                rec[2] += dc - child[1]
                if prof.stack:
                    prof.stack[-1][0] += dt
                    prof.stack[-1][1] += dc

        wrapper.__wrapped__ = fn
        return wrapper


class _RngProxy:
    def __init__(self, rng, prof: Profiler) -> None:
        self._rng = rng
        self.standard_normal = prof.wrap("noise: rng.standard_normal(out=ε)", rng.standard_normal)
        self.random = prof.wrap("noise: rng.random", rng.random)

    def __getattr__(self, name):
        return getattr(self._rng, name)


def _gemm_label(a, b, *rest):
    return f"GEMM [{a.shape[0]}×{a.shape[1]}]·[{b.shape[0]}×{b.shape[1]}]"


def instrument(net, prof: Profiler) -> None:
    import numpy as np

    from dl4py.kernels import distributions as KD
    from dl4py.kernels import reductions as KR
    from dl4py.nn.layers import activation_spec as AS

    np.matmul = prof.wrap(_gemm_label, np.matmul)
    np.copyto = prof.wrap(lambda dst, src, *a, **k: f"np.copyto of {np.size(src):,} values", np.copyto)
    spec = AS.ActivationSpec
    spec.forward_bias = prof.wrap(lambda self, z, *a, **k: f"act fwd: +bias, {self.name} [{z.shape[0]}×{z.shape[1]}]",
                                  spec.forward_bias)
    spec.backward_bias = prof.wrap(
        lambda self, z, *a, **k: f"act bwd: {self.name}' ⊙ ε, bias grad [{z.shape[0]}×{z.shape[1]}]",
        spec.backward_bias)
    from dl4py.kernels import activations as KA

    def act_label(what):
        return lambda code, p, z, *a, **k: f"act {what}: {KA.NAME_BY_CODE.get(code, code)} [{z.shape[0]}×{z.shape[1]}]"

    KA.bias_act_forward = prof.wrap(act_label("fwd, +bias"), KA.bias_act_forward)
    KA.act_forward = prof.wrap(act_label("fwd"), KA.act_forward)
    KA.act_backward_bias = prof.wrap(act_label("bwd, f′ ⊙ ε + bias grad"), KA.act_backward_bias)
    KA.act_backward = prof.wrap(act_label("bwd, f′ ⊙ ε"), KA.act_backward)
    KD.reparam_forward = prof.wrap("latent: reparam forward + KL", KD.reparam_forward)
    KD.reparam_backward = prof.wrap("latent: reparam backward + KL grad", KD.reparam_backward)
    KD.nll_and_gradient = prof.wrap("output: bias + sigmoid + Bernoulli NLL + grad + bias grad",
                                    KD.nll_and_gradient)
    KR.all_finite = prof.wrap(lambda a: f"all_finite over {a.shape[0]:,} values (non-finite guards)",
                              KR.all_finite)
    from dl4py.kernels import updaters as KU

    KU.scan_block = prof.wrap(lambda w, *a: f"updater scan: regularisation score + bounds ({w.shape[0]:,} parameters)",
                              KU.scan_block)
    net.rng = _RngProxy(net.rng, prof)
    up = net.pretrain_updater(0)
    for b in up.blocks:
        b.kernel = prof.wrap(
            lambda *a, _n=len(b.entries): f"Adam kernel, {'writing' if a[-1] else 'dry run (non-finite check)'} "
                                          f"(one call for {_n} parameters)", b.kernel)
    type(up).prepare = prof.wrap("updater Python (hyper-parameters, views, bounds, loop)", type(up).prepare)


def _gemm_ceiling_cpu(batch: int, passes: int = 40) -> float:
    """GFLOP/s (thread-CPU time) of the 17 GEMMs of one VAE step, best of C- and F-ordered weights."""
    import numpy as np

    from benchmarks import workloads as W

    rng = np.random.default_rng(0)
    best = 0.0
    for layout in ("C", "F"):
        ops = []
        for fi, fo in W.VAE_GEMM_LAYERS:
            w = rng.standard_normal((fi, fo), dtype=np.float32)
            w = np.asfortranarray(w) if layout == "F" else w
            a, d = rng.standard_normal((batch, fi), dtype=np.float32), rng.standard_normal((batch, fo), dtype=np.float32)
            ops.append((a, w, np.empty((batch, fo), np.float32)))
            ops.append((a.T, d, np.empty((fi, fo), np.float32) if layout == "C" else np.empty((fo, fi), np.float32).T))
            if fi != W.N_IN:
                ops.append((d, w.T, np.empty((batch, fi), np.float32)))
        for x, y, o in ops:
            np.matmul(x, y, out=o)
        c0 = time.thread_time_ns()
        for _ in range(passes):
            for x, y, o in ops:
                np.matmul(x, y, out=o)
        best = max(best, passes * W.vae_step_flops(batch) / (time.thread_time_ns() - c0))
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import numba
    import numpy as np
    from threadpoolctl import threadpool_limits

    from benchmarks import workloads as W

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    threadpool_limits(limits=args.threads)
    w = W.Workload("vae-train", "vae", "train", args.batch, "")
    batches = [b[0] for b in W.make_batches(w, 20)]
    net = W.dl4py_vae_network()
    for x in batches:
        net.pretrainLayer(0, x)

    def timed(steps):
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        for i in range(steps):
            net.pretrainLayer(0, batches[i % len(batches)])
        return (time.perf_counter_ns() - t0) / steps / 1e3, (time.thread_time_ns() - c0) / steps / 1e3

    plain = [timed(args.steps // 4) for _ in range(4)]
    plain_wall = statistics.median(x[0] for x in plain)
    plain_cpu = statistics.median(x[1] for x in plain)
    prof = Profiler()
    instrument(net, prof)
    step = prof.wrap("step", lambda x: net.pretrainLayer(0, x))
    prof.enabled = True
    for i in range(args.steps):
        step(batches[i % len(batches)])
    prof.enabled = False
    n = args.steps
    steprec = prof.records.pop("step")

    ceiling = _gemm_ceiling_cpu(args.batch)
    total_cpu = sum(r[2] for r in prof.records.values()) + steprec[2]
    rows = sorted(prof.records.items(), key=lambda kv: -kv[1][2])
    gemm = sum(r[2] for k, r in prof.records.items() if k.startswith("GEMM"))
    gemm_calls = sum(r[0] for k, r in prof.records.items() if k.startswith("GEMM")) // n
    print(f"VAE 784-[256,256]-32 pretraining, batch {args.batch}, {args.threads} thread(s), {n} profiled steps")
    print(f"step without instrumentation: {plain_wall:.0f} µs wall, {plain_cpu:.0f} µs thread CPU "
          f"({args.batch / plain_cpu * 1e6:,.0f} examples per CPU-second); instrumented: "
          f"{total_cpu / n / 1e3:.0f} µs thread CPU")
    print(f"\n| operation (exclusive thread-CPU time) | calls/step | µs/step | % of step |")
    print("| --- | ---: | ---: | ---: |")
    for k, (calls, wall, cpu) in rows:
        print(f"| {k} | {calls / n:g} | {cpu / n / 1e3:.1f} | {100 * cpu / total_cpu:.1f} |")
    print(f"| Python overhead (remainder of the step) | | {steprec[2] / n / 1e3:.1f} | "
          f"{100 * steprec[2] / total_cpu:.1f} |")
    flops = W.vae_step_flops(args.batch)
    print(f"\nGEMMs: {gemm_calls} calls/step (17 with fused heads), {gemm / n / 1e3:.0f} µs/step = "
          f"{100 * gemm / total_cpu:.0f} % of the step, {flops / (gemm / n):.1f} GFLOP/s on "
          f"{flops / 1e6:.1f} MFLOP (of which fused-head equivalent)")
    ceiling_rate = ceiling * 1e9 * args.batch / flops  # examples per CPU-second
    print(f"the same 17 GEMM shapes alone (np.matmul into preallocated outputs, best weight layout): "
          f"{ceiling:.1f} GFLOP/s thread-CPU → ceiling {ceiling_rate:,.0f} examples per "
          f"CPU-second; dl4py's step reaches {100 * (args.batch / plain_cpu * 1e6) / ceiling_rate:.0f} % "
          "(timed apart from the step, so it moves with the machine's state: `python -m benchmarks` pairs them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
