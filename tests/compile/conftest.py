"""cr.compile records and replays NumPy calls: with CUDA as the tests' default device its tests
are skipped (a step on CUDA tensors runs eagerly with one warning: tests/test_device.py)."""

from __future__ import annotations

import pytest

import chainrule as cr


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if cr.get_default_device().type != "cpu":
        skip = pytest.mark.skip(reason="cr.compile replays CPU (NumPy) steps only")
        for item in items:
            if "/tests/compile/" in str(item.fspath).replace("\\", "/"):
                item.add_marker(skip)
