"""Projection of data-parallel step time to 2-64 processes: an alpha-beta model, measured inputs.

Usage: mpiexec -n 2 python benchmarks/scaling.py [--quick] [--bucket-cap-mb MB]
       [--alpha-us US --gib-s GBS]   (a network to project for instead of the measured one)

Measured here:
- per model (MNIST MLP 784-256-256-10, LeNet-5, the zoo ResNet on 28x28) and per local batch
  b = 128 / P: forward time, backward time, the time into backward at which each DDP bucket's
  last gradient is ready, and the optimizer step (rank 0 alone, the other rank idle, one BLAS
  thread: the per-process compute of a P-process run at global batch 128);
- the allreduce cost between the two local processes, fitted as T(n) = 2 alpha + n / beta over
  sizes 8 B ... 16 MiB (MPICH's reduce-scatter + allgather at P = 2: two latency steps, each
  moving n/2 bytes);
- the real 2-process DDP step, to check the model's P = 2 prediction against.

Model at P processes, each with its buckets' measured ready times for batch 128 / P:
allreduce(n, P) = 2 ceil(log2 P) alpha + 2 (P - 1) / P n / beta (reduce-scatter + allgather);
buckets are reduced one after another, each starting when it is ready and the previous one is
done; step = forward + max(backward, last allreduce end) + optimizer; speedup = step(1) /
step(P), efficiency = speedup / P. It assumes full overlap (an MPI progress engine that moves
collectives while Python computes) and P processes that do not slow each other down (separate
cores, memory bandwidth not shared): both favour the model, so it is an upper bound on scaling.
"""

from __future__ import annotations

import argparse
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


def allreduce_fit(repeats: int) -> tuple[float, float, list[tuple[int, float]]]:
    """(alpha seconds, beta bytes/s, [(bytes, measured seconds)]) for T(n) = 2 alpha + n / beta.

    alpha from the 8-byte allreduce, beta from the 16 MiB one (the two ends of the range); the
    sizes between show how well the line fits.
    """
    sizes = [1, 2**7, 2**10, 2**13, 2**16, 2**19, 2**21]  # float64 elements: 8 B ... 16 MiB
    points = []
    for n in sizes:
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
    alpha = points[0][1] / 2
    beta = points[-1][0] / max(points[-1][1] - 2 * alpha, 1e-9)
    return alpha, beta, points


def allreduce_time(nbytes: int, p: int, alpha: float, beta: float) -> float:
    """Reduce-scatter + allgather: 2 ceil(log2 P) latencies, 2 (P-1)/P of the bytes each way."""
    if p == 1:
        return 0.0
    return 2 * math.ceil(math.log2(p)) * alpha + 2 * (p - 1) / p * nbytes / beta


def predict(prof: Profile, p: int, alpha: float, beta: float) -> tuple[float, float]:
    """(step seconds, seconds of allreduce not hidden behind backward) at P processes."""
    end = 0.0
    for ready, nbytes in zip(prof.ready, prof.nbytes):
        end = max(end, ready) + allreduce_time(nbytes, p, alpha, beta)
    exposed = max(0.0, end - prof.backward) if p > 1 else 0.0
    return prof.forward + prof.backward + exposed + prof.optimizer, exposed


def measured_two(build: Callable[[], cr.nn.Module], repeats: int, cap_mb: float) -> float:
    """Median seconds of a real DDP SGD step on this world, at global batch 128."""
    cr.manual_seed(0)
    model = DistributedDataParallel(build(), bucket_cap_mb=cap_mb)
    n = dist.get_world_size()
    rng = np.random.default_rng(dist.get_rank())
    x = cr.tensor(rng.standard_normal((GLOBAL_BATCH // n, 1, 28, 28)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, GLOBAL_BATCH // n))
    opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times = []
    for i in range(repeats + 2):
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def report(name: str, profiles: dict[int, Profile], alpha: float, beta: float,
           measured: float | None) -> None:
    """One line per P: local batch, predicted step, exposed communication, speedup, efficiency."""
    base = predict(profiles[1], 1, alpha, beta)[0]
    print(f"\n{name}: {sum(profiles[1].nbytes) / 2**20:.2f} MiB of gradients in "
          f"{len(profiles[1].nbytes)} buckets")
    print(f"{'P':>3} {'batch/P':>7} {'compute ms':>10} {'comm ms':>8} {'exposed ms':>10} "
          f"{'step ms':>8} {'speedup':>7} {'effic.':>6}")
    for p in PROCESSES:
        prof = profiles[p]
        step, exposed = predict(prof, p, alpha, beta)
        comm = sum(allreduce_time(n, p, alpha, beta) for n in prof.nbytes)
        compute = prof.forward + prof.backward + prof.optimizer
        print(f"{p:>3} {GLOBAL_BATCH // p:>7} {compute * 1e3:10.2f} {comm * 1e3:8.2f} "
              f"{exposed * 1e3:10.2f} {step * 1e3:8.2f} {base / step:7.2f} "
              f"{base / step / p:6.0%}")
    if measured is not None:
        predicted = predict(profiles[2], 2, alpha, beta)[0]
        print(f"check at P = 2: predicted {predicted * 1e3:.2f} ms, measured {measured * 1e3:.2f}"
              f" ms ({measured / predicted - 1:+.0%})")


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
    alpha, beta, points = 0.0, float("inf"), []
    if world > 1:
        alpha, beta, points = allreduce_fit(1 if args.quick else 3)
    measured = {name: measured_two(MODELS[name], repeats, args.bucket_cap_mb)
                if world == 2 else None for name in names}
    if rank != 0:
        dist.destroy_process_group()
        return
    print(f"# measured allreduce at P = 2: alpha {alpha * 1e6:.1f} us, beta "
          f"{beta / 2**30:.2f} GiB/s; global batch {GLOBAL_BATCH}, buckets of "
          f"{args.bucket_cap_mb} MiB")
    for nbytes, seconds in points:
        print(f"#   allreduce {nbytes:>9} B: measured {seconds * 1e6:9.1f} us, model "
              f"{allreduce_time(nbytes, 2, alpha, beta) * 1e6:9.1f} us")
    if args.alpha_us is not None or args.gib_s is not None:
        alpha = alpha if args.alpha_us is None else args.alpha_us * 1e-6
        beta = beta if args.gib_s is None else args.gib_s * 2**30
        print(f"# projecting for alpha {alpha * 1e6:.1f} us, beta {beta / 2**30:.2f} GiB/s "
              "(given, not measured): the P = 2 check below uses them too")
    for name in names:
        report(name, profiles[name], alpha, beta, measured[name])
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
