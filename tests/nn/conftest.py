"""Seed torch's and chainrule's global generators before each test, so runs are repeatable."""

from __future__ import annotations

import importlib.util

import pytest

import chainrule as cr


@pytest.fixture(autouse=True)
def _seed_generators() -> None:
    cr.manual_seed(0)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(0)
