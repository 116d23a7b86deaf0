"""torch.distributed's names on MPI: a process group and collectives on Tensors.

Launch N processes with ``mpiexec -n N python script.py``; each calls ``init_process_group()``.
Needs the ``mpi`` extra (``pip install 'chainrule[mpi]'``); importing this package does not.
"""

from chainrule.distributed.collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    reduce_scatter,
    reduce_scatter_tensor,
)
from chainrule.distributed.process_group import (
    DistributedError,
    ProcessGroup,
    abort,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
)

__all__ = [
    "DistributedError", "ProcessGroup", "ReduceOp", "Work", "abort", "all_gather",
    "all_gather_into_tensor", "all_reduce", "barrier", "broadcast", "destroy_process_group",
    "get_backend", "get_rank", "get_world_size", "init_process_group", "is_available",
    "is_initialized", "is_mpi_available", "reduce_scatter", "reduce_scatter_tensor",
]
