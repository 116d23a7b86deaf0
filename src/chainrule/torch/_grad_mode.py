"""torch's grad-mode contexts: usable with ``with``, as ``@no_grad()`` and as bare ``@no_grad``."""

from __future__ import annotations

from typing import Any

from chainrule.autodiff import modes
from chainrule.autodiff.modes import STATE, is_grad_enabled, set_grad_enabled

__all__ = ["enable_grad", "inference_mode", "is_grad_enabled", "is_inference_mode_enabled",
           "no_grad", "set_grad_enabled"]


class _BareDecorator:
    """Lets ``@cls`` (without parentheses) decorate a function, as PyTorch allows."""

    def __new__(cls, orig_func: Any = None, *args: Any, **kwargs: Any) -> Any:
        if callable(orig_func) and not isinstance(orig_func, bool):
            return cls()(orig_func)
        return super().__new__(cls)


class no_grad(_BareDecorator, modes.no_grad):
    """Context (or decorator) in which no op is recorded."""


class enable_grad(_BareDecorator, modes.enable_grad):
    """Context (or decorator) in which ops are recorded again."""


class inference_mode(_BareDecorator, modes.no_grad):
    """no_grad for ``mode=True`` (chainrule has no separate inference tensors); else nothing."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self.enabled = False if self.mode else STATE.grad_enabled
        super().__enter__()

    def clone(self) -> inference_mode:
        """A fresh context with the same mode."""
        return inference_mode(self.mode)


def is_inference_mode_enabled() -> bool:
    """Whether recording is off (chainrule's inference mode is no_grad)."""
    return not STATE.grad_enabled


_ = (is_grad_enabled, set_grad_enabled)
