"""Global autodiff state: grad mode, active transform levels, anomaly detection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class _State:
    """Process-wide switches read on every op (one object, attribute access only)."""

    __slots__ = ("anomaly", "fw_levels", "grad_enabled", "next_level", "reverse_depth")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.fw_levels: list[int] = []  # forward-mode levels active now, innermost last
        self.reverse_depth = 0  # reverse transforms (grad, vjp) running now
        self.next_level = 1


STATE = _State()


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Context in which no op is recorded for reverse mode."""
    prev = STATE.grad_enabled
    STATE.grad_enabled = False
    try:
        yield
    finally:
        STATE.grad_enabled = prev


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Context in which ops are recorded again (inside no_grad)."""
    prev = STATE.grad_enabled
    STATE.grad_enabled = True
    try:
        yield
    finally:
        STATE.grad_enabled = prev


def set_grad_enabled(mode: bool) -> contextlib.AbstractContextManager[None]:
    """Context that turns recording on or off."""
    return enable_grad() if mode else no_grad()


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
