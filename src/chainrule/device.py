"""Devices as PyTorch names them: the CPU (NumPy) and CUDA devices (CuPy, when installed)."""

from __future__ import annotations

from typing import Any

_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "ipu", "hpu", "mtia")


class device:
    """A device: ``device("cpu")``, ``device("cuda:1")``, ``device("cuda", 1)``."""

    __slots__ = ("index", "type")

    def __init__(self, type: Any, index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # PyTorch: a bare ordinal is a CUDA device
        elif not isinstance(type, str):
            raise TypeError(f"device: expected a string or a device, got {type!r}")
        elif ":" in type:
            if index is not None:
                raise RuntimeError(f"device: type {type!r} already holds an index; got {index}")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"device: invalid device string {type}:{idx!r}")
            index = int(idx)
        if type not in _TYPES:
            raise RuntimeError(
                f"device: expected one of {', '.join(_TYPES)} device type at start of device "
                f"string: {type}"
            )
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"device: index must be a non-negative int, got {index!r}")
        self.type = type
        self.index = index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = device("cpu")


def as_device(value: Any, op: str = "to") -> device:
    """The device named by value (None is the default device, the CPU unless
    ``set_default_device`` changed it); a device chainrule cannot use is an error."""
    if value is None:
        return DEFAULT[0]
    if not isinstance(value, device | str) and isinstance(getattr(value, "type", None), str):
        value = str(value)  # another library's device object, such as torch.device("cpu")
    d = value if isinstance(value, device) else device(value)
    if d.type == "cpu":
        return CPU
    if d.type != "cuda":
        raise RuntimeError(f"{op}: device {str(d)!r} is not available; chainrule runs on the CPU "
                           "and, with CuPy installed, on CUDA devices")
    from chainrule.backend import cuda_device_count

    n = cuda_device_count(op, str(d))
    index = 0 if d.index is None else d.index
    if index >= n:
        raise RuntimeError(f"{op}: CUDA error: invalid device ordinal {index} "
                           f"({n} CUDA device{'s' if n != 1 else ''} visible)")
    return device("cuda", index)


DEFAULT = [CPU]  # the default device, a one-element list so readers see changes


def set_default_device(value: Any) -> None:
    """Make factories and conversions of data that names no device (``cr.tensor(ndarray)``,
    ``cr.zeros(3)``) create tensors on value, as ``torch.set_default_device``."""
    DEFAULT[0] = as_device("cpu" if value is None else value, "set_default_device")


def get_default_device() -> device:
    """The device factories use when given none."""
    return DEFAULT[0]


def is_device_like(value: Any) -> bool:
    """True for a device object or a string that names a device type."""
    if isinstance(value, device):
        return True
    return isinstance(value, str) and value.partition(":")[0] in _TYPES
