"""Run under mpiexec by test_train_faults.py: `chainrule train` in which rank 1 fails at step 3.

Usage: faulty_train.py raise|hang|kill TRAIN_ARGS...
"""

from __future__ import annotations

import os
import signal
import sys
import time

import chainrule.nn as nn
from chainrule.cli import main
from chainrule.training_distributed import launched_rank


def fail_at_step_3(how: str) -> None:
    """Make rank 1's third loss computation raise, hang or kill the process."""
    forward = nn.CrossEntropyLoss.forward
    calls = [0]

    def failing(self: nn.CrossEntropyLoss, *args: object) -> object:
        calls[0] += 1
        if calls[0] == 3:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if how == "hang":
                time.sleep(600)
            raise RuntimeError("rank 1 fails on purpose")
        return forward(self, *args)

    nn.CrossEntropyLoss.forward = failing  # type: ignore[method-assign]


if __name__ == "__main__":
    if launched_rank() == 1:
        fail_at_step_3(sys.argv[1])
    sys.exit(main(["train", *sys.argv[2:]]))
