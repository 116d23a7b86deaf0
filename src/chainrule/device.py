"""Devices as PyTorch names them; chainrule computes on the CPU (NumPy) only, for now."""

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
    """The device named by value (None is the CPU); a device chainrule cannot use is an error."""
    if value is None:
        return CPU
    if not isinstance(value, device | str) and isinstance(getattr(value, "type", None), str):
        value = str(value)  # another library's device object, such as torch.device("cpu")
    d = value if isinstance(value, device) else device(value)
    if d.type != "cpu":
        raise RuntimeError(
            f"{op}: device {str(d)!r} is not available; chainrule runs on the CPU only "
            "(torch.cuda.is_available() and torch.accelerator.is_available() are False)"
        )
    return CPU


def is_device_like(value: Any) -> bool:
    """True for a device object or a string that names a device type."""
    if isinstance(value, device):
        return True
    return isinstance(value, str) and value.partition(":")[0] in _TYPES
