"""Shared fixtures. Also puts tests/ on sys.path, so test modules import op_specs and reference.

``CHAINRULE_TEST_DEVICE=cuda`` runs the tests with CUDA as the default device (``cr.tensor`` of
an ndarray, the factories and the transforms' ndarray inputs land there): on real CuPy when it is
installed and sees a GPU, else on the CuPy test double in fake_cupy.py, which runs on NumPy but
refuses what CuPy refuses (``CHAINRULE_TEST_DEVICE=fake-cuda`` forces the double).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import fake_cupy  # noqa: E402  (tests/ is on the path only from here)

TEST_DEVICE = os.environ.get("CHAINRULE_TEST_DEVICE", "cpu")


def _real_cuda() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, or no driver or device
        return False


if TEST_DEVICE in ("cuda", "fake-cuda"):
    if TEST_DEVICE == "fake-cuda" or not _real_cuda():
        fake_cupy.install()
    import chainrule as _cr

    _cr.set_default_device("cuda")


@pytest.fixture
def fake_cuda() -> object:
    """The CuPy test double as ``cupy`` (real CuPy, if installed, is hidden meanwhile). The test
    starts with the CPU as the default device (the host its device results are compared with,
    whatever CHAINRULE_TEST_DEVICE says); the default device is restored afterwards."""
    import chainrule as cr

    already = "cupy" in sys.modules and getattr(sys.modules["cupy"], "fake", False)
    default = cr.get_default_device()
    fake_cupy.install()
    cr.set_default_device("cpu")
    try:
        yield sys.modules["cupy"]
    finally:
        cr.set_default_device(default)
        if not already:
            fake_cupy.uninstall()


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
