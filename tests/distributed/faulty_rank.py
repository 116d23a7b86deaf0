"""Run under mpiexec by test_faults.py: rank 1 dies mid-training (killed, or by an exception)."""

from __future__ import annotations

import os
import signal
import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn as nn
from chainrule.nn.parallel import DistributedDataParallel


def main(how: str) -> None:
    """Train a small model; at step 3 rank 1 dies; the others must not finish."""
    dist.init_process_group("mpi", timeout=5.0)
    rank = dist.get_rank()
    model = DistributedDataParallel(nn.Linear(8, 2))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    for step in range(50):
        if step == 3 and rank == 1:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("rank 1 fails on purpose")
        opt.zero_grad()
        model(cr.tensor(np.ones((4, 8), np.float32))).sum().backward()
        opt.step()
    print(f"rank {rank} finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
