"""Whole Modules in save/load: the module tree stored as data, classes named, never pickled.

Each Module becomes a record in the header metadata (``chainrule.modules``, a JSON list; the
structure refers to a module by its index there, ``{"module": i}``)::

    {"class": [module, qualname], "training": bool,
     "parameters": [[name, node | null], ...], "buffers": [[name, node | null], ...],
     "non_persistent": [name, ...], "modules": [[name, index | null], ...],
     "attributes": [[name, node], ...]}

Parameters and buffers are tensors in the safetensors body, each object stored once (tied
weights come back as one Parameter). Plain attributes are data nodes (numbers, strings, None,
lists, tuples, dicts, tensors, arrays) or ``{"callable": [module, qualname]}`` for a function or
class defined inside chainrule (``self.activation = F.relu``). Loading imports nothing: a class
is looked up in ``sys.modules`` through the namespaces' own dicts (no ``getattr`` hooks run),
must subclass Module, and is built with ``cls.__new__(cls)`` and Module's base setup, so no
user ``__init__`` runs; anything unexpected raises ``LoadError`` (a ValueError).
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import TYPE_CHECKING, Any

from chainrule.nn.module import Module
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from chainrule.serialization import _Decoder, _Encoder

__all__ = ["LoadError", "callable_node", "fill_module", "module_record", "new_module",
           "resolve_callable"]

# Module's own bookkeeping in __dict__, stored in their own fields of a record.
_BASE = frozenset({"_parameters", "_buffers", "_modules", "_non_persistent", "training"})
_RECORD_KEYS = frozenset({"class", "training", "parameters", "buffers", "non_persistent",
                          "modules", "attributes"})
_MISSING = object()
_ATTRIBUTES_HELP = (
    "a saved Module's plain attributes may hold only None, bool, int, float, str, lists, "
    "tuples and dicts of those, tensors, arrays, Modules and chainrule's own functions and "
    "classes; remove the attribute, or save the state_dict() instead "
    "(save(model.state_dict(), f), then model.load_state_dict(load(f)))"
)


class LoadError(ValueError):
    """A module record that load refuses: unknown class, not a Module, malformed fields."""


def _lookup(module_name: str, qualname: str) -> Any:
    """The object at module_name.qualname among modules already imported, or _MISSING.

    Reads the module's and classes' own ``__dict__`` only, so no module ``__getattr__``,
    property or import runs.
    """
    obj: Any = sys.modules.get(module_name)
    if not isinstance(obj, types.ModuleType):
        return _MISSING
    for part in qualname.split("."):
        if obj is not sys.modules[module_name] and not isinstance(obj, type):
            return _MISSING
        try:
            namespace = object.__getattribute__(obj, "__dict__")
        except AttributeError:
            return _MISSING
        obj = namespace.get(part, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


def _is_chainrule(module_name: str) -> bool:
    return module_name == "chainrule" or module_name.startswith("chainrule.")


def _where(path: tuple[str, ...]) -> str:
    return repr(".".join(path)) if path else "the top level"


def callable_node(obj: Any, path: tuple[str, ...]) -> dict[str, list[str]]:
    """``{"callable": [module, qualname]}`` for a chainrule function or class; else TypeError."""
    module_name = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if (isinstance(module_name, str) and isinstance(qualname, str) and _is_chainrule(module_name)
            and (inspect.isroutine(obj) or isinstance(obj, type))
            and _lookup(module_name, qualname) is obj):
        return {"callable": [module_name, qualname]}
    name = f"{module_name}.{qualname}" if module_name and qualname else repr(obj)
    raise TypeError(f"cannot store {type(obj).__name__} {name} at {_where(path)}: only "
                    "functions and classes defined inside chainrule are saved (by name)")


def module_record(module: Module, enc: _Encoder, path: tuple[str, ...]) -> dict[str, Any]:
    """The record of one module; its tensors go into enc, its submodules get indices in enc."""
    cls = type(module)
    where = f"the {cls.__qualname__} at {_where(path)}"
    if _lookup(cls.__module__, cls.__qualname__) is not cls:
        raise TypeError(
            f"save: cannot save {where}: its class {cls.__module__}.{cls.__qualname__} is not "
            "reachable by that name (defined inside a function?); define it at module level, "
            "or save the state_dict() instead"
        )
    d = module.__dict__
    params, buffers = [], []
    for table, out in ((d["_parameters"], params), (d["_buffers"], buffers)):
        for name, t in table.items():
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save: cannot save {where}: {name!r} is a "
                                f"{type(t).__name__}, not a tensor")
            out.append([name, None if t is None else enc.encode(t, (*path, name))])
    children = []
    for name, child in d["_modules"].items():
        if child is not None and not isinstance(child, Module):
            raise TypeError(f"save: cannot save {where}: submodule {name!r} is a "
                            f"{type(child).__name__}")
        children.append([name, None if child is None else enc.module_index(child, (*path, name))])
    attributes = []
    enc.callables = True
    try:
        for name, value in d.items():
            if name in _BASE:
                continue
            if not isinstance(name, str) or (name.startswith("__") and name.endswith("__")):
                raise TypeError(f"save: cannot save {where}: attribute {name!r}: dunder "
                                f"names are not restored by load; {_ATTRIBUTES_HELP}")
            try:
                attributes.append([name, enc.encode(value, (*path, name))])
            except TypeError as e:
                reason = str(e).removeprefix("save: ").split("; supported:")[0]
                raise TypeError(f"save: cannot save {where}: attribute "
                                f"{'.'.join((*path, name))!r}: {reason}; {_ATTRIBUTES_HELP}"
                                ) from e
    finally:
        enc.callables = False
    return {"class": [cls.__module__, cls.__qualname__], "training": bool(d["training"]),
            "parameters": params, "buffers": buffers,
            "non_persistent": sorted(str(n) for n in d["_non_persistent"]),
            "modules": children, "attributes": attributes}


def _name_pair(node: Any, what: str) -> tuple[str, str]:
    if (not isinstance(node, list) or len(node) != 2
            or not all(isinstance(s, str) and s for s in node)):
        raise LoadError(f"{what} must be [module, qualname], got {node!r}")
    return node[0], node[1]


def resolve_callable(node: Any) -> Any:
    """The chainrule function or class a callable node names (looked up, never imported)."""
    module_name, qualname = _name_pair(node, "a callable")
    if not _is_chainrule(module_name):
        raise LoadError(f"callable {module_name}.{qualname} is outside the chainrule package; "
                        "load restores only chainrule's own functions and classes")
    obj = _lookup(module_name, qualname)
    if obj is _MISSING or not (inspect.isroutine(obj) or isinstance(obj, type)):
        raise LoadError(f"callable {module_name}.{qualname} is not a function or class of an "
                        "imported chainrule module")
    return obj


def new_module(record: Any) -> Module:
    """An empty instance of the record's class: ``cls.__new__`` and Module's base setup."""
    if not isinstance(record, dict) or not _RECORD_KEYS.issuperset(record):
        raise LoadError(f"malformed module record {str(record)[:200]}")
    module_name, qualname = _name_pair(record.get("class"), "a module class")
    cls = _lookup(module_name, qualname)
    if cls is _MISSING:
        top = qualname.split(".")[0]
        raise LoadError(
            f"class {module_name}.{qualname} is not loaded: load never imports, so the "
            f"program must import the module that defines it first (e.g. `from {module_name} "
            f"import {top}`; a class saved from a script is in __main__)"
        )
    if not isinstance(cls, type) or not issubclass(cls, Module):
        raise LoadError(f"{module_name}.{qualname} is not a chainrule.nn.Module subclass; "
                        "load rebuilds only Modules")
    module = cls.__new__(cls)
    Module.__init__(module)
    return module


def _pairs(record: dict[str, Any], key: str) -> list[tuple[str, Any]]:
    pairs = record.get(key, [])
    if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs):
        raise LoadError(f"module record field {key!r} must be a list of [name, value] pairs")
    return [(p[0], p[1]) for p in pairs]


def fill_module(module: Module, record: dict[str, Any], dec: _Decoder) -> None:
    """Restore a module's parameters, buffers, submodules, flags and attributes from record."""
    d = module.__dict__
    training = record.get("training", True)
    non_persistent = record.get("non_persistent", [])
    if not isinstance(training, bool) or not isinstance(non_persistent, list) or not all(
            isinstance(n, str) for n in non_persistent):
        raise LoadError("module record: bad 'training' or 'non_persistent'")
    d["training"] = training
    d["_non_persistent"].update(non_persistent)
    for key, table in (("parameters", d["_parameters"]), ("buffers", d["_buffers"])):
        for name, node in _pairs(record, key):
            value = None if node is None else dec.decode(node)
            if value is not None and not isinstance(value, Tensor):
                raise LoadError(f"module record: {key[:-1]} {name!r} is not a tensor")
            table[name] = value
    for name, index in _pairs(record, "modules"):
        d["_modules"][name] = None if index is None else dec.module(index)
    dec.callables = True
    try:
        for name, node in _pairs(record, "attributes"):
            if name in _BASE or (name.startswith("__") and name.endswith("__")):
                raise LoadError(f"module record: attribute name {name!r} is not allowed")
            d[name] = dec.decode(node)
    finally:
        dec.callables = False
