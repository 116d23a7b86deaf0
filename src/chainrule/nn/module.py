"""Module and Parameter: PyTorch's containers of parameters, buffers and submodules."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule.backend import asnumpy, like
from chainrule.dtypes import as_array
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as a trainable parameter (requires_grad by default)."""

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(data._data if isinstance(data, Tensor) else as_array(data),
                         requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model: subclass it and write ``forward``.

    Assigning a Parameter, a Module or (through ``register_buffer``) a buffer to an attribute
    registers it, so that ``parameters()``, ``state_dict()`` and ``train()`` see it.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ----- registration -----
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() call in {type(self).__name__}"
            )
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = value
        elif name in self._parameters or name in self._modules:
            if value is not None:
                kind = "parameter" if name in self._parameters else "submodule"
                raise TypeError(f"cannot assign {type(value).__name__} as {kind} {name!r} "
                                "(a Parameter/Module or None expected)")
            (self._parameters if name in self._parameters else self._modules)[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(as_array(value))
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register a non-trainable tensor (e.g. running statistics) saved in the state dict."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(as_array(tensor))
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        self.__dict__.pop(name, None)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a parameter (or None) under name."""
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a submodule under name."""
        self._modules[name] = module

    # ----- traversal -----
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every submodule, with dotted names."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{n}" if name else n, c) for n, c in m._modules.items()
                        if c is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every submodule."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct submodules with their names."""
        for n, m in self._modules.items():
            if m is not None:
                yield n, m

    def children(self) -> Iterator[Module]:
        """Direct submodules."""
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """Parameters with dotted names (each shared parameter once)."""
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, m in mods:
            for n, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{n}" if mname else n), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (each shared parameter once)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Buffers with dotted names."""
        for mname, m in self.named_modules(prefix):
            for n, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{n}" if mname else n), b

    def buffers(self) -> Iterator[Tensor]:
        """Every buffer."""
        for _, b in self.named_buffers():
            yield b

    # ----- modes -----
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch statistics) on this module and its children."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradients of every parameter on or off."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor._make(np.zeros_like(p._data), False, None)

    def apply(self, fn: Any) -> Module:
        """Call fn on every submodule (children first) and on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def astype(self, dtype: Any) -> Module:
        """Cast every floating parameter and buffer to dtype, in place."""
        for m in self.modules():
            for table in (m._parameters, m._buffers):
                for t in table.values():
                    if t is not None and t._data.dtype.kind == "f":
                        t._data = t._data.astype(dtype)
                        if t.grad is not None:
                            t.grad = Tensor._make(t.grad._data.astype(dtype), False, None)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``: in place, self."""
        from chainrule.ops.methods_convert import as_dtype, parse_to_device

        dtype, _, dev = parse_to_device("Module.to", args, kwargs)
        if dtype is not None:
            dtype = as_dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to: only floating dtypes are allowed, got {dtype}")
            self.astype(dtype)
        if dev is not None:
            self._to_device(dev.index)
        return self

    def _to_device(self, index: int | None) -> None:
        """Move every parameter, buffer and gradient to CUDA device index (None: the host)."""
        from chainrule.backend import to_device

        for m in self.modules():
            for table in (m._parameters, m._buffers):
                for t in table.values():
                    if t is not None:
                        t._data = to_device(t._data, index)
                        if t.grad is not None:
                            t.grad = Tensor._make(to_device(t.grad._data, index), False, None)

    def cpu(self) -> Module:
        """Move parameters and buffers to the host, in place; self."""
        self._to_device(None)
        return self

    def cuda(self, device: Any = None) -> Module:
        """Move parameters and buffers to a CUDA device (the current one), in place; self."""
        from chainrule.device import as_device

        self._to_device(as_device("cuda" if device is None else device, "Module.cuda").index)
        return self

    def share_memory(self) -> Module:
        """Move parameters and buffers into memory shared with processes forked later."""
        for t in [*self.parameters(), *self.buffers()]:
            t.share_memory_()
        return self

    def half(self) -> Module:
        """Cast floating parameters and buffers to float16."""
        return self.astype(np.float16)

    def type(self, dst_type: Any) -> Module:
        """Cast floating parameters and buffers to dst_type."""
        return self.astype(dst_type)

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64."""
        return self.astype(np.float64)

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32."""
        return self.astype(np.float32)

    # ----- state -----
    def state_dict(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Parameters and persistent buffers as ndarrays, keyed as PyTorch keys them."""
        out: dict[str, np.ndarray] = OrderedDict()
        for mname, m in self.named_modules(prefix):
            base = f"{mname}." if mname else ""
            for n, p in m._parameters.items():
                if p is not None:
                    out[base + n] = p._data
            for n, b in m._buffers.items():
                if b is not None and n not in m._non_persistent:
                    out[base + n] = b._data
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> Any:
        """Copy values into parameters and buffers; errors name bad, missing or extra keys.

        Returns a named tuple (missing_keys, unexpected_keys) as PyTorch does.
        """
        from collections import namedtuple

        own: dict[str, Tensor] = {}
        for mname, m in self.named_modules():
            base = f"{mname}." if mname else ""
            for n, p in m._parameters.items():
                if p is not None:
                    own[base + n] = p
            for n, b in m._buffers.items():
                if b is not None and n not in m._non_persistent:
                    own[base + n] = b
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append("missing keys: " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            errors.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        values = {}
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = asnumpy(v.detach().cpu().numpy() if hasattr(v, "detach") and
                          hasattr(v, "cpu") else (v._data if isinstance(v, Tensor) else v))
            arr = np.asarray(arr)
            if arr.shape != t._data.shape:
                errors.append(f"key {k!r}: shape {arr.shape} in the state dict, "
                              f"{t._data.shape} in the model")
                continue
            values[k] = arr
        if errors:
            raise RuntimeError(
                f"load_state_dict: error(s) loading into {type(self).__name__}: "
                + "; ".join(errors)
            )
        for k, arr in values.items():
            t = own[k]
            if t._data.flags.writeable:
                np.copyto(t._data, like(arr, t._data), casting="unsafe")  # to t's device
            else:
                t._data = like(np.array(arr, dtype=t._data.dtype, order="C"), t._data)
        return namedtuple("IncompatibleKeys", "missing_keys unexpected_keys")(missing, unexpected)

    # ----- printing -----
    def extra_repr(self) -> str:
        """Extra text inside this module's repr (layer sizes)."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"
