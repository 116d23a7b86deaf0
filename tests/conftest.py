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
