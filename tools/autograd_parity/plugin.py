"""pytest plugin for the shim run: records each test's outcome, exception and check counts
(a JSON line per test, in $PARITY_RESULTS) for classify.py."""

from __future__ import annotations

import json
import os

import pytest
from autograd.test_util import COUNTS


def pytest_runtest_setup(item: pytest.Item) -> None:
    COUNTS["checks"] = 0
    COUNTS["complex_skipped"] = 0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and not report.passed):
        exc = call.excinfo
        row = {
            "nodeid": item.nodeid,
            "outcome": report.outcome,
            "when": report.when,
            "exc_type": exc.type.__name__ if exc else None,
            "exc_mro": [c.__name__ for c in exc.type.__mro__] if exc else [],
            "message": str(exc.value).splitlines()[0][:300] if exc and str(exc.value) else "",
            "where": _where(exc),
            **COUNTS,
        }
        with open(os.environ["PARITY_RESULTS"], "a") as f:
            f.write(json.dumps(row) + "\n")


def _where(exc: pytest.ExceptionInfo | None) -> str:
    if exc is None:
        return ""
    entry = exc.traceback[-1]
    return f"{entry.path}:{entry.lineno + 1}"
