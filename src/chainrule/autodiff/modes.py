"""Global autodiff state: grad mode, active transform levels, anomaly detection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class _State:
    """Process-wide switches read on every op (one object, attribute access only)."""

    __slots__ = ("anomaly", "fw_levels", "grad_enabled", "last_write", "next_level",
                 "reverse_depth")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.fw_levels: list[int] = []  # forward-mode levels active now, innermost last
        self.reverse_depth = 0  # reverse transforms (grad, vjp) running now
        self.next_level = 1
        self.last_write = -1  # sequence number of the last in-place write (autodiff/inplace.py)


STATE = _State()


class _GradMode(contextlib.ContextDecorator):
    """Set grad mode for a ``with`` block or a decorated function, restoring it after."""

    enabled = False

    def __enter__(self) -> None:
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        STATE.grad_enabled = self._prev


class no_grad(_GradMode):
    """Context (or decorator) in which no op is recorded for reverse mode."""

    enabled = False


class enable_grad(_GradMode):
    """Context (or decorator) in which ops are recorded again (inside no_grad)."""

    enabled = True


class set_grad_enabled(_GradMode):
    """Turn recording on or off: at once when called, and back when used as a context."""

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self.enabled

    def __enter__(self) -> None:
        pass


def is_grad_enabled() -> bool:
    """Whether ops are recorded now."""
    return STATE.grad_enabled


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise FloatingPointError at the first op whose output or gradient holds NaN or Inf."""
    prev = STATE.anomaly
    STATE.anomaly = True
    try:
        yield
    finally:
        STATE.anomaly = prev


@contextlib.contextmanager
def forward_level() -> Iterator[int]:
    """Open a new forward-mode level (one per jvp transform) for the duration of the block."""
    level = STATE.next_level
    STATE.next_level += 1
    STATE.fw_levels.append(level)
    try:
        yield level
    finally:
        STATE.fw_levels.remove(level)


@contextlib.contextmanager
def reverse_transform() -> Iterator[None]:
    """Mark a reverse transform (grad, vjp) as running, so inner ones record their backward."""
    STATE.reverse_depth += 1
    try:
        yield
    finally:
        STATE.reverse_depth -= 1
