"""torch.random: the global generator (seed, state) and ``torch.Generator`` objects."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule import creation
from chainrule.device import CPU, as_device
from chainrule.torch._missing import namespace_getattr

__all__ = ["Generator", "default_generator", "fork_rng", "get_rng_state", "initial_seed",
           "manual_seed", "seed", "set_rng_state"]

_initial_seed: int | None = None


class _Generator:
    """torch.Generator: a NumPy generator with PyTorch's seeding methods (CPU only)."""

    def __init__(self, device: Any = "cpu") -> None:
        self.device = as_device(device, "Generator")
        self._seed = secrets.randbits(63)
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> _Generator:
        """Reseed; returns self, as PyTorch's."""
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from the OS; returns the seed."""
        s = secrets.randbits(63)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed last set."""
        return self._seed

    def get_state(self) -> dict:
        """The generator's state (NumPy's bit-generator state dict, not a ByteTensor)."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> _Generator:
        """Restore a state from get_state."""
        self._rng.bit_generator.state = state
        return self


# The lead's cr.Generator when creation.py has it, so that both namespaces share one class.
Generator: Any = getattr(creation, "Generator", _Generator)


class _DefaultGenerator(Generator):
    """torch.default_generator: a view of chainrule's global generator."""

    def __init__(self) -> None:
        self.device = CPU

    @property
    def _rng(self) -> np.random.Generator:  # type: ignore[override]
        return creation.default_rng()

    def manual_seed(self, seed: int) -> _DefaultGenerator:
        """Reseed chainrule's global generator."""
        manual_seed(seed)
        return self

    def initial_seed(self) -> int:
        """The seed last set with manual_seed (or drawn by seed())."""
        return initial_seed()


default_generator = _DefaultGenerator()


def manual_seed(seed: int) -> _DefaultGenerator:
    """Seed chainrule's global generator (factories, initializers, DataLoader shuffling)."""
    global _initial_seed
    _initial_seed = int(seed)
    creation.manual_seed(_initial_seed)
    return default_generator


def seed() -> int:
    """Seed the global generator from the OS; returns the seed."""
    s = secrets.randbits(63)
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The global generator's seed (drawn from the OS on first use when never set)."""
    if _initial_seed is None:
        seed()
    assert _initial_seed is not None
    return _initial_seed


def get_rng_state() -> dict:
    """The global generator's state (a dict, where PyTorch has a ByteTensor)."""
    return creation.get_rng_state()


def set_rng_state(new_state: dict) -> None:
    """Restore the global generator's state from get_rng_state."""
    creation.set_rng_state(new_state)


@contextlib.contextmanager
def fork_rng(devices: Any = None, enabled: bool = True, **_: Any) -> Iterator[None]:
    """Restore the global generator's state on exit."""
    state = get_rng_state() if enabled else None
    try:
        yield
    finally:
        if state is not None:
            set_rng_state(state)


def as_rng(generator: Any) -> np.random.Generator:
    """The NumPy generator behind a ``generator=`` argument (None: the global one)."""
    from chainrule.data.sampler import as_generator

    return as_generator(generator)


__getattr__ = namespace_getattr(__name__)
