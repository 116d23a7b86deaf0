"""Shared fixtures. Also puts tests/ on sys.path, so test modules import op_specs and reference."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture
def rng() -> np.random.Generator:
    """A freshly seeded generator, so every test draws the same values on every run."""
    return np.random.default_rng(0)


def pytest_configure(config: pytest.Config) -> None:
    """One BLAS thread: the tests' small products only lose to thread start-up and, on a busy
    2-core machine, to oversubscription (OpenBLAS threads spinning against each other)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    config._blas_limit = threadpool_limits(limits=1, user_api="blas")  # kept alive for the run
