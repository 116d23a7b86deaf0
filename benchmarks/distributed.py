"""Data-parallel step time and communication overlap, on MPI.

Usage: mpiexec -n P python benchmarks/distributed.py [--quick] [--bucket-cap-mb MB]
(P = 1 runs the same code in a world of one, for the 1-process point.)

For the MNIST MLP (784-256-256-10) and LeNet-5 on 28x28 inputs, global batch 128 split over the
processes, it prints per step: the median step time, the backward time, the time spent waiting
for communication after backward's walk ended (``DistributedDataParallel.last_wait_s``), the part
of it left once the slowest process ended its walk (``exposed``: the wait less the skew between
processes), and the time a blocking allreduce of the same gradient buckets takes alone; with
bucketing the exposed communication must be well below that total. Then the allreduce latency
(8 bytes) and bandwidth (16 MiB) between the processes. Rank 0 prints.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule.models import lenet5, mlp
from chainrule.nn.parallel import DistributedDataParallel


def step_times(name: str, model: DistributedDataParallel, steps: int,
               global_batch: int) -> dict[str, float]:
    """Median seconds of a whole SGD step, of backward, and of the post-backward wait."""
    n = dist.get_world_size()
    rng = np.random.default_rng(dist.get_rank())
    x = cr.tensor(rng.standard_normal((global_batch // n, 1, 28, 28)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, global_batch // n))
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    step, backward, wait, exposed = [], [], [], []
    ends = cr.zeros(n, dtype=cr.float64)
    for i in range(steps + 2):
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        # perf_counter is one clock for all processes of a machine: the communication left
        # once the slowest process ended its backward walk is the wait less the skew
        dist.all_gather_into_tensor(ends, cr.tensor(np.array([t2 - model.last_wait_s])))
        if i >= 2:  # warm-up
            step.append(t3 - t0)
            backward.append(t2 - t1)
            wait.append(model.last_wait_s)
            exposed.append(max(0.0, t2 - float(ends.numpy().max())))
    return {"step": statistics.median(step), "backward": statistics.median(backward),
            "wait": statistics.median(wait), "exposed": statistics.median(exposed),
            "allreduce": allreduce_alone(model, steps)}


def allreduce_alone(model: DistributedDataParallel, repeats: int) -> float:
    """Median seconds of blocking allreduces of the model's buckets, one after another."""
    times = []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        for b in model._buckets:
            dist.all_reduce(cr.Tensor._make(b.buffer, False, None))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def latency_bandwidth(repeats: int) -> tuple[float, float]:
    """(seconds for an 8-byte allreduce, bytes per second for a 16 MiB one)."""
    small = cr.tensor(np.zeros(1))
    big = cr.tensor(np.zeros(2**21))  # 16 MiB of float64
    lat, bw = [], []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(100):
            dist.all_reduce(small)
        lat.append((time.perf_counter() - t0) / 100)
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(big)
        bw.append(big.numpy().nbytes / (time.perf_counter() - t0))
    return statistics.median(lat), statistics.median(bw)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few steps (CI smoke run)")
    p.add_argument("--bucket-cap-mb", type=float, default=0.25,
                   help="DDP bucket size (default 0.25: several buckets even for the MLP)")
    args = p.parse_args()
    try:  # one BLAS thread per process, as `chainrule train`: N processes on N cores
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        pass
    dist.init_process_group("mpi", timeout=300)
    rank, n = dist.get_rank(), dist.get_world_size()
    steps = 3 if args.quick else 20
    builders = {"mlp": lambda: mlp((1, 28, 28), 10, hidden=(256, 256)),
                "lenet5": lambda: lenet5((1, 28, 28), 10)}
    if rank == 0:
        print(f"# {n} process(es), global batch 128, bucket cap {args.bucket_cap_mb} MiB; "
              "median ms per step")
        print(f"{'model':8} {'buckets':>7} {'step':>8} {'backward':>9} {'wait':>8} "
              f"{'exposed':>8} {'allreduce':>10}")
    for name, build in builders.items():
        cr.manual_seed(0)
        model = DistributedDataParallel(build(), bucket_cap_mb=args.bucket_cap_mb)
        r = step_times(name, model, steps, 128)
        if rank == 0:
            print(f"{name:8} {len(model._buckets):>7} {r['step'] * 1e3:8.2f} "
                  f"{r['backward'] * 1e3:9.2f} {r['wait'] * 1e3:8.3f} "
                  f"{r['exposed'] * 1e3:8.3f} {r['allreduce'] * 1e3:10.3f}")
    lat, bw = latency_bandwidth(3 if args.quick else 10)
    if rank == 0:
        print(f"allreduce latency {lat * 1e6:.1f} us (8 bytes), bandwidth {bw / 2**30:.2f} GiB/s "
              "(16 MiB)")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
