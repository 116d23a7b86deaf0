"""Projection of data-parallel step time to 2-64 processes: an alpha-beta model, measured inputs.

Usage: mpiexec -n 2 python benchmarks/scaling.py [--quick] [--bucket-cap-mb MB]
       [--alpha-us US --gib-s GBS]   (a network to project for instead of the measured one)

Measured here:
- per model (MNIST MLP 784-256-256-10, LeNet-5, the zoo ResNet on 28x28) and per local batch
  b = 128 / P: forward time, backward time, the time into backward at which each DDP bucket's
  last gradient is ready, and the optimizer step (rank 0 alone, the other rank idle, one BLAS
  thread: the per-process compute of a P-process run at global batch 128);
- the allreduce time T2(n) between the two local processes for sizes 8 B ... 16 MiB: its slope
  is the bandwidth beta, the rest L(n) = T2(n) - n / beta the per-round cost (latency and the
  protocol overheads of each message size; see ``Network``);
- the real 2-process DDP step, to check the model's P = 2 prediction against.

Model at P processes, each with its buckets' measured ready times for batch 128 / P:
allreduce(n, P) = ceil(log2 P) L(n) + 2 (P - 1) / P n / beta (reduce-scatter + allgather);
buckets are reduced one after another, each starting when it is ready and the previous one is
done; step = forward + max(backward, last allreduce end) + optimizer; speedup = step(1) /
step(P), efficiency = speedup / P. It assumes full overlap (an MPI progress engine that moves
collectives while Python computes) and P processes that do not slow each other down (separate
cores, memory bandwidth not shared): both favour the model, so it is an upper bound on scaling.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule.models import lenet5, mlp, resnet
from chainrule.nn.parallel import DistributedDataParallel, _buckets

GLOBAL_BATCH = 128
PROCESSES = (1, 2, 4, 8, 16, 32, 64)
MODELS: dict[str, Callable[[], cr.nn.Module]] = {
    "mlp": lambda: mlp((1, 28, 28), 10, hidden=(256, 256)),
    "lenet5": lambda: lenet5((1, 28, 28), 10),
    "resnet": lambda: resnet((1, 28, 28), 10),
}


@dataclass
class Profile:
    """Median seconds of one process's step at one local batch, and its buckets."""

    forward: float
    backward: float
    optimizer: float
    ready: list[float]  # per bucket, in launch order: seconds into backward
    nbytes: list[int]  # per bucket


def profile(build: Callable[[], cr.nn.Module], batch: int, repeats: int,
            cap_mb: float) -> Profile:
    """Time forward, backward (with each bucket's ready time) and the SGD step, in one process.

    Buckets are formed as DistributedDataParallel forms them after its first backward: in the
    order gradients became ready, at most ``cap_mb`` each.
    """
    cr.manual_seed(0)
    model = build()
    params = [p for p in model.parameters() if p.requires_grad]
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, batch))
    opt = cr.optim.SGD(params, lr=0.01, momentum=0.9)
    stamps: dict[int, float] = {}
    for p in params:
        p.register_post_accumulate_grad_hook(
            lambda p: stamps.__setitem__(id(p), time.perf_counter()))
    fwd, bwd, step, ready = [], [], [], []
    for i in range(repeats + 2):
        opt.zero_grad()
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= 2:  # warm-up
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            step.append(t3 - t2)
            ready.append([stamps[id(p)] - t1 for p in params])
    at = np.median(np.array(ready), axis=0)
    order = np.argsort(at, kind="stable")
    buckets = _buckets([params[i] for i in order], int(cap_mb * 2**20))
    when = {id(p): at[i] for i, p in enumerate(params)}
    return Profile(statistics.median(fwd), statistics.median(bwd), statistics.median(step),
                   [max(when[id(p)] for p in b.params) for b in buckets],
                   [b.nbytes for b in buckets])


def allreduce_curve(repeats: int) -> list[tuple[int, float]]:
    """[(bytes, seconds)] of one allreduce at P = 2, for sizes 8 B ... 16 MiB (fastest of 5)."""
    points = []
    for n in (1, 2**7, 2**10, 2**13, 2**15, 2**17, 2**19, 2**21):  # float64 elements
        t = cr.tensor(np.zeros(n))
        reps = max(2, min(100, 2**17 // n)) * repeats
        samples = []
        for _ in range(5):
            dist.barrier()
            t0 = time.perf_counter()
            for _ in range(reps):
                dist.all_reduce(t)
            samples.append((time.perf_counter() - t0) / reps)
        points.append((n * 8, min(samples)))  # the least disturbed run
    return points


class Network:
    """Allreduce cost from the measured P = 2 curve, extended to P processes.

    beta is the bandwidth of the two largest sizes (the slope of the curve); the rest of each
    measured time, L(n) = T2(n) - n / beta, is the per-round cost at that size (latency and
    protocol overheads), interpolated in log n. MPICH's reduce-scatter + allgather takes
    ceil(log2 P) rounds each way and moves 2 (P - 1) / P of the bytes:
    T(n, P) = ceil(log2 P) L(n) + 2 (P - 1) / P n / beta, which is T2(n) at P = 2.
    Given alpha and beta instead (another network), L(n) = 2 alpha.
    """

    def __init__(self, points: list[tuple[int, float]], alpha: float | None = None,
                 beta: float | None = None) -> None:
        (n1, t1), (n2, t2) = points[-2], points[-1]
        self.beta = beta if beta is not None else (n2 - n1) / max(t2 - t1, 1e-12)
        self.sizes = np.log([n for n, _ in points])
        self.rounds = np.array([max(t - n / self.beta, 0.0) for n, t in points])
        if alpha is not None:
            self.rounds = np.full(len(points), 2 * alpha)

    def round_cost(self, nbytes: int) -> float:
        return float(np.interp(np.log(max(nbytes, 1)), self.sizes, self.rounds))

    def allreduce(self, nbytes: int, p: int) -> float:
        if p == 1:
            return 0.0
        return (math.ceil(math.log2(p)) * self.round_cost(nbytes)
                + 2 * (p - 1) / p * nbytes / self.beta)


def predict(prof: Profile, p: int, net: Network) -> tuple[float, float]:
    """(step seconds, seconds of allreduce not hidden behind backward) at P processes."""
    end = 0.0
    for ready, nbytes in zip(prof.ready, prof.nbytes):
        end = max(end, ready) + net.allreduce(nbytes, p)
    exposed = max(0.0, end - prof.backward) if p > 1 else 0.0
    return prof.forward + prof.backward + exposed + prof.optimizer, exposed


def measured_two(build: Callable[[], cr.nn.Module], repeats: int,
                 cap_mb: float) -> tuple[float, float]:
    """Median seconds of a real DDP SGD step on this world at global batch 128: with its
    allreduces, and under ``no_sync()`` (every process computing at once, no communication)."""
    cr.manual_seed(0)
    model = DistributedDataParallel(build(), bucket_cap_mb=cap_mb)
    n = dist.get_world_size()
    rng = np.random.default_rng(dist.get_rank())
    x = cr.tensor(rng.standard_normal((GLOBAL_BATCH // n, 1, 28, 28)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, GLOBAL_BATCH // n))
    opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    synced, alone = [], []
    for i in range(2 * repeats + 4):
        sync = i % 2 == 0
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        with contextlib.nullcontext() if sync else model.no_sync():
            F.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= 4:
            (synced if sync else alone).append(time.perf_counter() - t0)
    return statistics.median(synced), statistics.median(alone)


def report(name: str, profiles: dict[int, Profile], net: Network,
           measured: tuple[float, float] | None) -> None:
    """One line per P: local batch, predicted step, exposed communication, speedup, efficiency."""
    base = predict(profiles[1], 1, net)[0]
    print(f"\n{name}: {sum(profiles[1].nbytes) / 2**20:.2f} MiB of gradients in "
          f"{len(profiles[1].nbytes)} buckets")
    print(f"{'P':>3} {'batch/P':>7} {'compute ms':>10} {'comm ms':>8} {'exposed ms':>10} "
          f"{'step ms':>8} {'speedup':>7} {'effic.':>6}")
    for p in PROCESSES:
        prof = profiles[p]
        step, exposed = predict(prof, p, net)
        comm = sum(net.allreduce(n, p) for n in prof.nbytes)
        compute = prof.forward + prof.backward + prof.optimizer
        print(f"{p:>3} {GLOBAL_BATCH // p:>7} {compute * 1e3:10.2f} {comm * 1e3:8.2f} "
              f"{exposed * 1e3:10.2f} {step * 1e3:8.2f} {base / step:7.2f} "
              f"{base / step / p:6.0%}")
    if measured is not None:
        synced, no_comm = measured
        prof = profiles[2]
        predicted = predict(prof, 2, net)[0]
        alone = prof.forward + prof.backward + prof.optimizer
        slow = no_comm / alone  # two processes computing at once on this machine
        scaled = Profile(prof.forward * slow, prof.backward * slow, prof.optimizer * slow,
                         [r * slow for r in prof.ready], prof.nbytes)
        corun = predict(scaled, 2, net)[0]
        print(f"check at P = 2: measured {synced * 1e3:.2f} ms; predicted "
              f"{predicted * 1e3:.2f} ms ({synced / predicted - 1:+.0%}), or {corun * 1e3:.2f} ms "
              f"({synced / corun - 1:+.0%}) with the measured co-run slowdown x{slow:.2f} of "
              f"compute (both processes computing at once: {no_comm * 1e3:.2f} ms without "
              "communication)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--bucket-cap-mb", type=float, default=0.25)
    p.add_argument("--alpha-us", type=float, help="project for this latency instead")
    p.add_argument("--gib-s", type=float, help="project for this bandwidth instead")
    p.add_argument("--models", default=",".join(MODELS))
    args = p.parse_args()
    try:  # one BLAS thread per process, as `chainrule train`
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        pass
    dist.init_process_group("mpi", timeout=600)
    rank, world = dist.get_rank(), dist.get_world_size()
    repeats = 3 if args.quick else 10
    names = args.models.split(",")
    profiles: dict[str, dict[int, Profile]] = {}
    if rank == 0:  # compute profiles alone: the other ranks wait
        for name in names:
            profiles[name] = {q: profile(MODELS[name], GLOBAL_BATCH // q, repeats,
                                         args.bucket_cap_mb) for q in PROCESSES}
    dist.barrier()
    points = allreduce_curve(1 if args.quick else 3) if world > 1 else [(8, 0.0), (16, 0.0)]
    measured = {name: measured_two(MODELS[name], repeats, args.bucket_cap_mb)
                if world == 2 else None for name in names}
    if rank != 0:
        dist.destroy_process_group()
        return
    net = Network(points)
    print(f"# global batch {GLOBAL_BATCH}, buckets of {args.bucket_cap_mb} MiB; allreduce at "
          f"P = 2 measured: beta {net.beta / 2**30:.2f} GiB/s, per-round cost L(n):")
    for nbytes, seconds in points:
        print(f"#   {nbytes:>9} B: {seconds * 1e6:8.1f} us, L = "
              f"{net.round_cost(nbytes) * 1e6:8.1f} us")
    if args.alpha_us is not None or args.gib_s is not None:
        net = Network(points, None if args.alpha_us is None else args.alpha_us * 1e-6,
                      None if args.gib_s is None else args.gib_s * 2**30)
        print(f"# projecting for L = {net.round_cost(8) * 1e6:.1f} us, beta "
              f"{net.beta / 2**30:.2f} GiB/s (given, not measured): the P = 2 check below "
              "uses them too")
    for name in names:
        report(name, profiles[name], net, measured[name])
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
