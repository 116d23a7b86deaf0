"""SyncBatchNorm: batch normalization by statistics of the whole global batch, over processes."""

from __future__ import annotations

from typing import Any

from chainrule import creation, ops
from chainrule.nn.module import Module
from chainrule.nn.normalization import _BatchNorm
from chainrule.tensor import Tensor, as_operand

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics cover the batches of every process, as PyTorch's.

    In training, with an initialised process group of more than one process, the per-channel
    mean and variance are those of the concatenation of every process's batch (two
    differentiable allreduces: the sum, then the centred sum of squares), so the gradient
    includes the paths through the other processes' statistics; the running statistics are
    updated from these global values and stay identical on every process. Otherwise (eval
    mode, one process, no process group) it is exactly BatchNorm. Inputs are (N, C, ...).
    """

    _expected_ndims = (2, 3, 4, 5)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device: Any = None, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        self.process_group = process_group

    def _group(self) -> Any:
        """The process group to synchronise over, or None to behave as BatchNorm."""
        import chainrule.distributed as dist

        if self.process_group is not None:
            group = self.process_group
        elif dist.is_available() and dist.is_initialized():
            from chainrule.distributed.process_group import default_group

            group = default_group()
        else:
            return None
        return group if group.size() > 1 else None

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else as_operand(x)
        self._check_input_dim(x)
        group = self._group() if self.training else None
        if group is None:
            return super().forward(x)
        from chainrule.distributed.functional import all_reduce

        c = x.shape[1]
        axes = tuple(a for a in range(x.ndim) if a != 1)
        pshape = (c,) + (1,) * (x.ndim - 2)
        # the global count travels with the sum: one allreduce for both
        count_and_sum = all_reduce(ops.concatenate(
            [creation.full((1,), x.size // c, dtype=x.dtype), ops.sum(x, axis=axes)]), group=group)
        n = float(count_and_sum._data[0])
        if n <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel when "
                             f"training, got {int(n)} over all processes")
        mean = count_and_sum[1:] / n
        centred = x - ops.reshape(mean, pshape)
        var = all_reduce(ops.sum(centred * centred, axis=axes), group=group) / n
        self._update_running(mean._data, var._data, n)
        y = centred / ops.sqrt(ops.reshape(var, pshape) + self.eps)
        if self.affine:
            y = y * ops.reshape(self.weight, pshape) + ops.reshape(self.bias, pshape)
        return y

    def _update_running(self, mean: Any, var: Any, n: float) -> None:
        """PyTorch's running-statistics update, from the global mean and unbiased variance."""
        if not self.track_running_stats:
            return
        self.num_batches_tracked._data += 1
        factor = self.momentum
        if factor is None:
            factor = 1.0 / float(self.num_batches_tracked._data)
        rm, rv = self.running_mean._data, self.running_var._data
        rm[...] = (1.0 - factor) * rm + factor * mean
        rv[...] = (1.0 - factor) * rv + factor * var * (n / (n - 1))

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm layer replaced by a SyncBatchNorm holding its state."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group,
                      dtype=module.running_mean.dtype if module.running_mean is not None
                      else None)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            if module.track_running_stats:
                out.running_mean = module.running_mean
                out.running_var = module.running_var
                out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
            return out
        for name, child in list(module._modules.items()):
            if child is not None:
                setattr(module, name, cls.convert_sync_batchnorm(child, process_group))
        return module
