"""``cr.cuda``: PyTorch's ``torch.cuda`` functions over CuPy (imported only when one is called)."""

from __future__ import annotations

from typing import Any

from chainrule.backend import cuda_device_count, cupy_module


def is_available() -> bool:
    """Whether CuPy is installed and sees at least one CUDA device."""
    try:
        cuda_device_count("cuda.is_available")
    except RuntimeError:
        return False
    return True


def device_count() -> int:
    """Number of visible CUDA devices (0 without CuPy or a device)."""
    try:
        return cuda_device_count("cuda.device_count")
    except RuntimeError:
        return 0


def current_device() -> int:
    """The ordinal of the current CUDA device."""
    return int(cupy_module("cuda.current_device").cuda.Device().id)


def set_device(device: Any) -> None:
    """Make a CUDA device current (an int, ``"cuda:N"`` or a device)."""
    from chainrule.device import as_device

    d = as_device("cuda" if device is None else device, "cuda.set_device")
    if d.type == "cuda":
        cupy_module().cuda.Device(d.index).use()


def synchronize(device: Any = None) -> None:
    """Wait for every kernel queued on the device (the current one by default)."""
    cp = cupy_module("cuda.synchronize")
    if device is None:
        cp.cuda.Device().synchronize()
        return
    from chainrule.device import as_device

    cp.cuda.Device(as_device(device, "cuda.synchronize").index).synchronize()


def manual_seed(seed: int) -> None:
    """Seed CuPy's generator (used by random factories on CUDA devices); nothing without CuPy."""
    if is_available():
        cupy_module().random.seed(int(seed))


manual_seed_all = manual_seed
