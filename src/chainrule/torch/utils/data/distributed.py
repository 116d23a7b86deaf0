"""torch.utils.data.distributed: DistributedSampler, from chainrule.data."""

from chainrule.data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
