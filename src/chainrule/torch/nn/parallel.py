"""torch.nn.parallel: DataParallel over the one device chainrule has (the CPU)."""

from __future__ import annotations

from typing import Any

from chainrule.device import as_device
from chainrule.nn.module import Module
from chainrule.torch._missing import namespace_getattr

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Wraps module (as ``.module``, so state-dict keys start with 'module.'); runs it whole,
    since the only device is the CPU."""

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0) -> None:
        super().__init__()
        for d in device_ids or ():
            as_device(d if not isinstance(d, int) else f"cuda:{d}", "DataParallel")
        if output_device is not None:
            as_device(output_device, "DataParallel")
        self.module = module
        self.dim = dim
        self.device_ids: list = []  # as PyTorch's when CUDA is unavailable

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """module(*inputs, **kwargs)."""
        return self.module(*inputs, **kwargs)


__getattr__ = namespace_getattr(
    __name__, ("chainrule.nn.parallel",),
    lazy={"DistributedDataParallel": "chainrule.nn.parallel:DistributedDataParallel"})
