"""save / load: nested state dicts in the safetensors format, written atomically, never pickled.

Arrays go in the file as safetensors tensors named by their dot-joined path (``{"fc1": {"weight":
w}}`` and ``{"fc1.weight": w}`` both give ``fc1.weight``, PyTorch's name, so safetensors readers
elsewhere see the usual keys). Everything else rides in the header's metadata as JSON: the whole
structure with each array replaced by its name, so dicts with int keys, lists, tuples, numbers,
strings and None come back exactly. A file without that metadata (written by another tool) loads
as a flat dict of ndarrays. ``save``/``load`` take a path (written atomically) or a binary file
object, and torch.save/torch.load's other arguments, so ``torch.save``/``torch.load`` alias them.

A whole Module (``save(model, f)``, as PyTorch scripts do) is stored as data too, never pickled:
its class by name, its plain attributes, parameters and buffers (each tensor object once, so tied
weights stay tied), submodules and training flags; see ``chainrule.serialization_modules``.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from chainrule import serialization_modules as modules
from chainrule.backend import asnumpy, is_device_array, to_device
from chainrule.device import CPU, as_device, device
from chainrule.nn.module import Module, Parameter
from chainrule.tensor import Tensor

__all__ = ["load", "remove_stale_temporaries", "save"]

_FORMAT_KEY = "chainrule.format"
_STRUCTURE_KEY = "chainrule.structure"
_MODULES_KEY = "chainrule.modules"
_FORMAT_VERSION = "1"  # "2" when the file holds Modules (older readers refuse those files)
_MAX_DEPTH = 200  # nesting of containers, on save and on load
_MAX_HEADER = 100_000_000  # bytes of JSON header, safetensors' own limit
_CHUNK = 1 << 24  # bytes read at a time, so memory follows the data actually there
# The dtypes safetensors stores and NumPy has.
_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.complex64,
))
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class _Encoder:
    """Walks an object: arrays out into ``arrays`` (name -> ndarray), the rest into JSON nodes.

    Nodes: None, bool, int, str and finite floats as themselves; ``{"float": "nan"}`` for
    non-finite floats; ``{"dict": [[key, node], ...]}`` (with ``"type": "OrderedDict"`` for an
    OrderedDict, as state dicts are), ``{"list": [...]}``, ``{"tuple": [...]}``;
    ``{"array": name}``, ``{"scalar": name}`` (NumPy scalar), ``{"tensor": name, "requires_grad":
    bool}`` and ``{"parameter": name, "requires_grad": bool}`` (a tensor object seen again refers
    to the same name, so it loads as the same object); ``{"module": index}`` into ``modules``
    and, in a module's attributes only, ``{"callable": [module, qualname]}``.
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.modules: list[dict[str, Any]] = []
        self.callables = False  # chainrule functions/classes allowed (in module attributes)
        self._tensors: dict[int, tuple[Tensor, str]] = {}
        self._module_index: dict[int, int] = {}
        self._pending: list[tuple[Module, tuple[str, ...]]] = []  # in index order

    def encode_all(self, obj: Any) -> Any:
        """The node of obj; every Module met on the way gets its record in ``modules``."""
        structure = self.encode(obj, ())
        i = 0
        while i < len(self._pending):  # breadth first: records may add modules to the queue
            module, path = self._pending[i]
            self.modules[i] = modules.module_record(module, self, path)
            i += 1
        return structure

    def module_index(self, module: Module, path: tuple[str, ...]) -> int:
        """module's index in ``modules``, its record made later (so deep trees need no stack)."""
        index = self._module_index.get(id(module))
        if index is None:
            index = self._module_index[id(module)] = len(self.modules)
            self.modules.append({})
            self._pending.append((module, path))
        return index

    def encode(self, obj: Any, path: tuple[str, ...], depth: int = 0) -> Any:
        if obj is None or type(obj) in (bool, int, str):
            return obj
        if depth > _MAX_DEPTH:
            raise TypeError(f"save: nested deeper than {_MAX_DEPTH} levels at {_where(path)}")
        if isinstance(obj, Tensor):
            kind = "parameter" if isinstance(obj, Parameter) else "tensor"
            seen = self._tensors.get(id(obj))
            if seen is None:
                seen = self._tensors[id(obj)] = (obj, self._add(obj._data, path))
            return {kind: seen[1], "requires_grad": obj.requires_grad}
        if isinstance(obj, Module):
            return {"module": self.module_index(obj, path)}
        if isinstance(obj, np.ndarray) or is_device_array(obj):
            return {"array": self._add(obj, path)}
        if isinstance(obj, np.generic):  # before float: np.float64 is a float
            return {"scalar": self._add(np.asarray(obj), path)}
        if isinstance(obj, int):  # subclasses such as IntEnum
            return int(obj)
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"float": repr(float(obj))}
        if isinstance(obj, Mapping):
            items = []
            for key, value in obj.items():
                if isinstance(key, np.integer):
                    key = int(key)
                if isinstance(key, bool) or not isinstance(key, str | int):
                    raise TypeError(f"save: dict keys must be str or int, got {key!r} "
                                    f"({type(key).__name__}) at {_where(path)}")
                items.append([key, self.encode(value, (*path, str(key)), depth + 1)])
            if isinstance(obj, OrderedDict):
                return {"dict": items, "type": "OrderedDict"}
            return {"dict": items}
        if isinstance(obj, list | tuple):
            nodes = [self.encode(v, (*path, str(i)), depth + 1) for i, v in enumerate(obj)]
            return {"tuple" if isinstance(obj, tuple) else "list": nodes}
        if self.callables and callable(obj):
            return modules.callable_node(obj, path)
        if callable(getattr(obj, "state_dict", None)):
            raise TypeError(
                f"save: cannot store {type(obj).__name__} at {_where(path)}: chainrule saves "
                "state, never whole objects (that would need pickle); save its state_dict() "
                "instead, e.g. save(model.state_dict(), path), and rebuild it with "
                "load_state_dict(load(path))"
            )
        raise TypeError(
            f"save: cannot store {type(obj).__name__} at {_where(path)}; supported: dicts, "
            "lists, tuples, ndarrays, Tensors, NumPy scalars, numbers, strings, None (for a "
            "model or an optimizer, save its state_dict())"
        )

    def _add(self, array: np.ndarray, path: tuple[str, ...]) -> str:
        array = asnumpy(array)  # a CUDA tensor is saved from a host copy, loadable anywhere
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        if array.dtype not in _DTYPES:
            raise TypeError(f"save: safetensors cannot store dtype {array.dtype} at {_where(path)}")
        base = ".".join(path) or "tensor"
        name, n = base, 0
        while name in self.arrays or name == "__metadata__":  # dotted keys can collide
            n += 1
            name = f"{base}#{n}"
        # not np.ascontiguousarray: it turns 0-d arrays into 1-d ones
        self.arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return name


def _where(path: tuple[str, ...]) -> str:
    return repr(".".join(path)) if path else "the top level"


def save(obj: Any, f: str | os.PathLike[str] | Any, pickle_module: Any = None,
         pickle_protocol: int = 2, _use_new_zipfile_serialization: bool = True) -> None:
    """Write obj (a state dict: nested dicts/lists/tuples of arrays, Tensors, numbers, strings;
    or a whole Module) to f, a path or a binary file object (``open(p, "wb")``, ``io.BytesIO``).

    A Module is stored as data: for it and each submodule, its class as (module, qualname), its
    training flag, parameters and buffers (each tensor object stored once: a Parameter shared by
    two modules, as tied weights are, loads shared), submodules, and plain attributes, which may
    hold only None, bool, int, float, str, lists/tuples/dicts of those, tensors, arrays and
    functions or classes defined inside chainrule (``F.relu``, stored by name). Any other
    attribute (an object, a lambda, a user function, a file) raises TypeError naming it: save
    the ``state_dict()`` instead. Optimizers and other objects are refused the same way.

    A write to a path is atomic: a temporary file in the same directory is written, flushed and
    fsynced, then renamed over the path, and the directory fsynced; on failure the path is left
    as it was. ``pickle_module`` and the other torch.save arguments are accepted and ignored:
    the format is safetensors, never pickle.
    """
    encoder = _Encoder()
    structure = encoder.encode_all(obj)
    metadata = {_FORMAT_KEY: _FORMAT_VERSION,
                _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"), allow_nan=False)}
    if encoder.modules:
        metadata[_FORMAT_KEY] = "2"
        metadata[_MODULES_KEY] = json.dumps(encoder.modules, separators=(",", ":"),
                                            allow_nan=False)
    data = safetensors.numpy.save(encoder.arrays, metadata=metadata)
    if isinstance(f, str | os.PathLike):
        _atomic_write(Path(f), data)
    elif callable(getattr(f, "write", None)):
        f.write(data)
    else:
        raise TypeError(f"save: f must be a path or a binary file object, got {type(f).__name__}")


_TMP_HEX = 12  # hex digits in a temporary's name


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporaries that writes of path by killed processes left (``.NAME.HEX.tmp``).

    Only for a path that no other process is writing now (its own run folder); returns the
    files removed.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{{_TMP_HEX}}}\.tmp")
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        if pattern.fullmatch(tmp.name) and tmp.is_file() and not tmp.is_symlink():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _atomic_write(path: Path, data: bytes) -> None:
    """Write data to path so that a crash leaves either the old file or the whole new one."""
    directory = path.parent
    while True:  # O_EXCL with a random name; os.open applies the umask, unlike mkstemp's 0600
        tmp = directory / f".{path.name}.{secrets.token_hex(_TMP_HEX // 2)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if os.name == "posix":  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load(f: str | os.PathLike[str] | Any, map_location: Any = None, pickle_module: Any = None,
         *, weights_only: bool | None = None, mmap: bool | None = None) -> Any:
    """Read what ``save`` wrote, exactly; a file from another tool loads as {name: ndarray}.

    f is a path or a binary file object, read from its current position. Arrays come back as
    writable ndarrays (Tensors where a Tensor was saved). ``map_location`` is PyTorch's: None,
    ``"cpu"``, a device, a dict from saved location to new one, or ``fn(tensor, "cpu")``
    returning a Tensor or None; every saved tensor is on the CPU, the only device chainrule has,
    so a mapping to another device raises RuntimeError. ``weights_only`` is always true in effect
    (nothing is unpickled); ``mmap`` is accepted (the file is read whole). A corrupt or
    truncated file raises ValueError naming f.

    A saved Module comes back whole, with ``weights_only=True`` (the default) too, as only data
    and classes the program has already imported are involved: load imports nothing and runs
    no ``__init__``. Each class is looked up by (module, qualname) in ``sys.modules`` and must
    subclass chainrule.nn.Module, so import the module defining the model's class first (a
    script's own class lives in ``__main__``); it is built with ``cls.__new__(cls)`` and
    Module's base setup, then given its attributes, parameters (Parameters, requires_grad as
    saved, shared ones shared), buffers, submodules and training flags. Callables resolve only
    to chainrule's own functions and classes. An unknown or non-Module class, a callable outside
    chainrule or malformed metadata raises ValueError.
    """
    relocate = _relocation(map_location)
    if isinstance(f, str | os.PathLike):
        path: Any = Path(f)
        data, metadata = _read_path(path)
    elif callable(getattr(f, "read", None)):
        if mmap:
            raise ValueError("load: f must be a file path in order to use the mmap argument")
        path = getattr(f, "name", None) or type(f).__name__
        data, metadata = _read_declared(f, path, None)
    else:
        raise TypeError(f"load: f must be a path or a binary file object, got {type(f).__name__}")
    try:
        views = safetensors.numpy.load(data)
    except Exception as e:  # SafetensorError and dtype errors from safetensors
        raise ValueError(f"{path}: corrupt or unreadable safetensors file ({e})") from e
    arrays = {name: np.array(v) for name, v in views.items()}  # own, aligned, writable copies
    if _STRUCTURE_KEY not in metadata:
        return arrays
    version = metadata.get(_FORMAT_KEY, _FORMAT_VERSION)
    if version not in ("1", "2"):
        raise ValueError(f"{path}: chainrule format {version!r} is newer than this chainrule "
                         "reads; upgrade chainrule")
    decoder = _Decoder(arrays, relocate)
    try:
        if _MODULES_KEY in metadata:
            decoder.load_modules(json.loads(metadata[_MODULES_KEY]))
        return decoder.decode(json.loads(metadata[_STRUCTURE_KEY]))
    except modules.LoadError as e:
        raise ValueError(f"{path}: cannot load the saved module: {e}") from None
    except (ValueError, KeyError, TypeError, IndexError, RecursionError) as e:
        raise ValueError(f"{path}: corrupt chainrule structure in metadata ({e!r})") from e


def _moved(t: Tensor, target: device) -> Tensor:
    """t with its array moved to target in place (a loaded tensor is not shared yet)."""
    t._data = to_device(t._data, target.index)
    return t


def _relocation(map_location: Any) -> Callable[[Tensor], Tensor]:
    """What map_location does to a saved (CPU) tensor; a non-CPU target raises at once."""
    if map_location is None:
        return lambda t: t
    if isinstance(map_location, str | device):
        target = as_device(map_location, "load(map_location)")
        return lambda t: _moved(t, target)
    if isinstance(map_location, Mapping):
        for key, value in map_location.items():
            if device(key) == CPU:
                as_device(value, "load(map_location)")
        return lambda t: t
    if callable(map_location):
        def relocate(t: Tensor) -> Tensor:
            moved = map_location(t, "cpu")
            if moved is None:
                return t
            if isinstance(moved, str | device):  # a target device rather than a tensor
                as_device(moved, "load(map_location)")
                return t
            if not isinstance(moved, Tensor):
                raise TypeError("load: map_location(tensor, location) must return a Tensor, a "
                                f"device or None, got {type(moved).__name__}")
            as_device(getattr(moved, "device", CPU), "load(map_location)")
            return moved
        return relocate
    raise TypeError("load: map_location must be None, a string, a device, a dict or a callable, "
                    f"got {type(map_location).__name__}")


def _read_path(path: Path) -> tuple[bytes, dict[str, str]]:
    """Read a safetensors file at path: a regular file only (not a FIFO, a device or a
    directory; links are followed), no further than the size its header declares."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ValueError(f"{path}: not a regular file (a directory, FIFO, socket or device); "
                         "load reads only files")
    with os.fdopen(fd, "rb", buffering=0) as f:
        return _read_declared(f, path, info.st_size)


def _read_exact(f: Any, n: int) -> bytes:
    """Up to n bytes of f (fewer only at its end), read in chunks."""
    parts, left = [], n
    while left > 0:
        part = f.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(bytes(part))
        left -= len(part)
    return b"".join(parts)


def _read_declared(f: Any, path: Any, size: int | None) -> tuple[bytes, dict[str, str]]:
    """The bytes of one safetensors file read from f (size: the file's, when known) and the
    header's ``__metadata__``; reads nothing past the end that the header declares."""
    head = _read_exact(f, 8)
    if head[:4] == b"PK\x03\x04":
        raise ValueError(
            f"{path}: a PyTorch (zip of pickles) checkpoint, not a safetensors file; chainrule "
            "never unpickles. Convert it in PyTorch with safetensors.torch.save_file(state_dict,"
            " path)"
        )
    if len(head) < 8:
        raise ValueError(f"{path}: not a safetensors file ({len(head)} bytes)")
    n = int.from_bytes(head, "little")
    if n > _MAX_HEADER or (size is not None and n > size - 8):
        raise ValueError(f"{path}: truncated or corrupt safetensors file (header of {n} bytes, "
                         f"file of {size if size is not None else 'unknown size'})")
    raw = _read_exact(f, n)
    if len(raw) < n:
        raise ValueError(f"{path}: truncated safetensors header ({len(raw)} of {n} bytes)")
    try:
        header = json.loads(raw)
    except RecursionError:
        raise ValueError(f"{path}: corrupt safetensors header (JSON nested too deeply)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: corrupt safetensors header ({e})") from e
    if not isinstance(header, dict):
        raise ValueError(f"{path}: corrupt safetensors header (not a JSON object)")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(
                type(o) is int and o >= 0 for o in offsets)):
            raise ValueError(f"{path}: corrupt safetensors header (tensor {str(name)[:80]!r} "
                             "has no valid data_offsets)")
        end = max(end, offsets[1])
    if size is not None and size != 8 + n + end:
        raise ValueError(f"{path}: truncated or corrupt safetensors file (the header declares "
                         f"{8 + n + end} bytes, the file has {size})")
    body = _read_exact(f, end)
    if len(body) < end:
        raise ValueError(f"{path}: truncated safetensors file ({8 + n + len(body)} bytes, the "
                         f"header declares {8 + n + end})")
    metadata = header.get("__metadata__")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: corrupt safetensors header (metadata is not a dict)")
    return head + raw + body, metadata


class _Decoder:
    """Turns JSON nodes back into objects (``_Encoder``'s inverse), modules included."""

    def __init__(self, arrays: dict[str, np.ndarray],
                 relocate: Callable[[Tensor], Tensor]) -> None:
        self.arrays = arrays
        self.relocate = relocate
        self.callables = False  # callable nodes allowed (in module attributes only)
        self._tensors: dict[str, Tensor] = {}
        self._modules: list[Module] = []

    def load_modules(self, records: Any) -> None:
        """Build every module of the file: all instances first, then their contents."""
        if not isinstance(records, list):
            raise modules.LoadError("the module table is not a list")
        self._modules = [modules.new_module(r) for r in records]
        for module, record in zip(self._modules, records, strict=True):
            modules.fill_module(module, record, self)

    def module(self, index: Any) -> Module:
        """The module at index of the file's table."""
        if isinstance(index, bool) or not isinstance(index, int) or not (
                0 <= index < len(self._modules)):
            raise modules.LoadError(f"bad module index {index!r}")
        return self._modules[index]

    def decode(self, node: Any, depth: int = 0) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if depth > _MAX_DEPTH:
            raise ValueError(f"nested deeper than {_MAX_DEPTH} levels")
        if not isinstance(node, dict) or len(node) not in (1, 2):
            raise ValueError(f"unexpected node {str(node)[:200]}")
        if "dict" in node:
            out = OrderedDict() if node.get("type") == "OrderedDict" else {}
            for key, value in node["dict"]:
                if isinstance(key, bool) or not isinstance(key, str | int):
                    raise TypeError(f"bad dict key {key!r}")
                out[key] = self.decode(value, depth + 1)
            return out
        if "list" in node:
            return [self.decode(v, depth + 1) for v in node["list"]]
        if "tuple" in node:
            return tuple(self.decode(v, depth + 1) for v in node["tuple"])
        if "float" in node:
            return _NONFINITE[node["float"]]
        if "array" in node:
            return self.arrays[node["array"]]
        if "scalar" in node:
            return self.arrays[node["scalar"]][()]
        if "tensor" in node or "parameter" in node:
            return self._tensor(node)
        if "module" in node and len(node) == 1:
            return self.module(node["module"])
        if "callable" in node and len(node) == 1:
            if not self.callables:
                raise ValueError("a callable outside a module's attributes")
            return modules.resolve_callable(node["callable"])
        raise ValueError(f"unexpected node {str(node)[:200]}")

    def _tensor(self, node: dict[str, Any]) -> Tensor:
        """The Tensor or Parameter a node names, made once per name (shared ones stay shared)."""
        is_param = "parameter" in node
        name = node["parameter" if is_param else "tensor"]
        if not isinstance(name, str):
            raise TypeError(f"bad tensor name {name!r}")
        if name not in self._tensors:
            requires_grad = bool(node.get("requires_grad"))
            if is_param:
                param = Parameter(self.arrays[name], requires_grad=requires_grad)
                moved = self.relocate(param)
                self._tensors[name] = moved if isinstance(moved, Parameter) else Parameter(
                    moved, requires_grad=requires_grad)
            else:
                self._tensors[name] = self.relocate(
                    Tensor(self.arrays[name], requires_grad=requires_grad))
        return self._tensors[name]
