"""Plumbing shared by the shim's modules: name mapping, out-of-scope stubs, the sdist path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as onp

import chainrule as cr


class MissingName(AttributeError):
    """A name autograd has and chainrule lacks: the test cannot run (yet)."""


class OutOfScope(NotImplementedError):
    """A feature outside the parity measure (complex numbers, autograd's containers, internals)."""


class _OutOfScopeStub:
    """Stands for an out-of-scope name: calling it or reading an attribute raises OutOfScope
    (so a module-level import still works and the file's other tests run)."""

    def __init__(self, name: str, why: str) -> None:
        object.__setattr__(self, "_what", f"{name}: {why}")
        object.__setattr__(self, "__name__", name.rsplit(".", 1)[-1])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise OutOfScope(self._what)

    def __getattr__(self, attr: str) -> Any:
        raise OutOfScope(self._what)

    def __getitem__(self, key: Any) -> Any:
        raise OutOfScope(self._what)


def out_of_scope(name: str, why: str) -> Any:
    """A stub that raises OutOfScope when used."""
    return _OutOfScopeStub(name, why)


def missing(what: str) -> Any:
    """A callable that raises MissingName when called: a module-level reference (a decorator, a
    table of functions) does not stop the other tests of its file from running."""

    def stub(*args: Any, **kwargs: Any) -> Any:
        raise MissingName(f"chainrule lacks {what}")

    stub.__name__ = what.rsplit(".", 1)[-1]
    return stub


def lookup(module: Any, prefix: str, name: str) -> Any:
    """``module.name``, or a stub raising MissingName naming what chainrule lacks."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return getattr(module, name)
    except AttributeError:
        return missing(f"{prefix}.{name}")


def sdist_file(relpath: str) -> Path:
    """A file of the downloaded autograd sdist (set by the runner in AUTOGRAD_SDIST)."""
    root = os.environ.get("AUTOGRAD_SDIST")
    if not root:
        raise OutOfScope(f"AUTOGRAD_SDIST unset: cannot load autograd's {relpath}")
    return Path(root) / relpath


def exec_sdist(relpath: str, namespace: dict) -> None:
    """Run one of autograd's pure-Python library files (optimizers) in a shim module's namespace."""
    path = sdist_file(relpath)
    exec(compile(path.read_text(), str(path), "exec"), namespace)


def is_complex(x: Any) -> bool:
    """True for a complex scalar or array (or a container holding one)."""
    if isinstance(x, (tuple, list)):
        return any(is_complex(v) for v in x)
    if isinstance(x, dict):
        return any(is_complex(v) for v in x.values())
    if isinstance(x, cr.Tensor):
        return False
    return onp.iscomplexobj(x)
