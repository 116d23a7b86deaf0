"""Tensor: one NumPy ndarray, its gradient, and its place in the graph."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import asnumpy, device_index, like, on_device
from chainrule.device import CPU, device
from chainrule.dtypes import as_array, is_float


def _host_copy_first(t: Tensor) -> str:
    return (f"can't convert {t.device} device type tensor to numpy. Use Tensor.cpu() to copy "
            "the tensor to host memory first.")


class Tensor:
    """An n-dimensional array that records the ops applied to it, for automatic differentiation.

    Attributes:
        data: a Tensor sharing this tensor's memory, outside the graph (as PyTorch's).
        grad: accumulated gradient (a Tensor) or None.
        requires_grad: whether ops on this tensor are recorded.
    """

    __slots__ = ("__weakref__", "_data", "_node", "_tangents", "grad", "requires_grad")
    # NumPy code reads a Tensor as an array through __array__ (np.asarray(t), SciPy's solvers);
    # NumPy's ufuncs on a Tensor (np.exp(t), ndarray + t, ndarray -= t) run chainrule's op of
    # the same name, so nothing leaves the graph silently (ops/ufuncs.py). The priority makes
    # array libraries that look at it (CuPy) defer to the Tensor's reflected operators.
    __array_priority__ = 1000
    __hash__ = object.__hash__

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from chainrule.ops.ufuncs import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):
            data = data._data
        self._data = as_array(data, dtype)
        self.grad: Tensor | None = None
        self._node = None
        self._tangents: dict | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool, node: Any) -> Tensor:
        """Internal fast constructor: no conversion, no checks."""
        t = object.__new__(cls)
        t._data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._node = node
        t._tangents = None
        return t

    # ----- attributes -----
    @property
    def data(self) -> Tensor:
        """This tensor's values as a detached Tensor sharing memory (PyTorch's ``.data``)."""
        return Tensor._make(self._data, False, None)

    @data.setter
    def data(self, value: Any) -> None:
        arr = value._data if isinstance(value, Tensor) else as_array(value)
        if self.requires_grad and not is_float(arr.dtype):
            raise TypeError(f"data: cannot assign {arr.dtype} data to a tensor that requires grad")
        self._data = arr

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def size(self) -> _Size:
        """NumPy's element count, also callable as PyTorch's ``size()`` / ``size(dim)``."""
        return _Size(self._data.size, self._data.shape)

    def numel(self) -> int:
        """Number of elements."""
        return self._data.size

    def dim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    @property
    def device(self) -> device:
        d = self._data
        if not on_device(d):
            return CPU
        return device("cuda", device_index(d))

    @property
    def is_cuda(self) -> bool:
        return on_device(self._data)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        """The node that produced this tensor (None for leaves), as PyTorch's ``grad_fn``."""
        if self._node is None or not self.requires_grad:
            return None
        from chainrule.autodiff.graph_view import GradFn

        return GradFn(self._node)

    @property
    def _version(self) -> int:
        from chainrule.autodiff.inplace import version

        return version(self._data)

    @property
    def T(self) -> Tensor:
        return F.transpose(self)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __repr__(self) -> str:
        body = np.array2string(asnumpy(self._data), prefix="tensor(", separator=", ")
        extra = "" if self.device.type == "cpu" else f", device='{self.device}'"
        if self._data.dtype != np.float32:
            extra += f", dtype={self._data.dtype}"
        if self.requires_grad and self._node is not None:
            extra += f", grad_fn=<{self.grad_fn.name()}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if on_device(self._data):
            raise TypeError(_host_copy_first(self))
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 or (spec and self._data.size == 1):
            return format(self._data.item(), spec)
        return format(str(self), spec)

    is_sparse = False
    is_quantized = False
    is_meta = False
    is_mps = False

    def __reduce_ex__(self, protocol: Any) -> Any:
        from chainrule.shared import reduce_tensor  # to another process, never to a file

        return reduce_tensor(self)

    def __deepcopy__(self, memo: dict) -> Tensor:
        if self._node is not None:
            raise RuntimeError("deepcopy: only tensors created by the user (graph leaves) "
                               "support the deepcopy protocol; use t.detach().clone()")
        t = object.__new__(type(self))
        t._data = self._data.copy()
        t.requires_grad = self.requires_grad
        t._node = t._tangents = None
        t.grad = None if self.grad is None else self.grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index, got {self._data.dtype}")
        return int(self._scalar("index"))

    def _scalar(self, what: str) -> Any:
        if self._data.size != 1:
            raise TypeError(f"{what}(): only one element tensors can be converted to Python "
                            f"scalars, got shape {self._data.shape}")
        return self._data.reshape(()).item()

    def __iter__(self) -> Any:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    # ----- conversion and graph -----
    def numpy(self) -> np.ndarray:
        """The ndarray (shared memory)."""
        if on_device(self._data):
            raise TypeError(_host_copy_first(self))
        return self._data

    def item(self) -> Any:
        """The single value as a Python number."""
        if self._data.size != 1:
            raise ValueError(
                f"item: tensor of shape {self._data.shape} has {self._data.size} elements"
            )
        return self._data.item()

    def tolist(self) -> Any:
        """Nested Python lists of the values."""
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing the data, outside any graph."""
        return Tensor._make(self._data, False, None)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad on a leaf, in place; returns self."""
        if self._node is not None and not requires_grad:
            raise RuntimeError("requires_grad_: cannot turn off requires_grad on a non-leaf tensor")
        if requires_grad and not is_float(self._data.dtype):
            raise TypeError(
                "requires_grad_: only floating tensors can require gradients, "
                f"got {self._data.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def astype(self, dtype: Any) -> Tensor:
        """Cast to dtype (differentiable between float dtypes)."""
        return F.astype(self, dtype)

    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
        inputs: Any = None, *, grad: Any = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (a gradient is required for
        non-scalars; PyTorch's keyword is ``gradient``, chainrule's ``grad``). With ``inputs``,
        only those tensors' .grad are accumulated."""
        from chainrule.autodiff.reverse import backward

        g = grad if gradient is None else gradient
        retain = create_graph if retain_graph is None else retain_graph
        if inputs is None:
            backward(self, g, retain_graph=retain, create_graph=create_graph)
            return
        from chainrule.autodiff.reverse import backward_to

        backward_to(self, g, inputs, retain, create_graph)

    def register_post_accumulate_grad_hook(self, hook: Any) -> Any:
        """Call ``hook(self)`` in each backward right after this leaf's ``.grad`` is final.

        As PyTorch's: leaves that require grad only; returns a handle whose ``remove()``
        unregisters it. Fired as soon as no remaining node of the backward can reach this leaf.
        """
        from chainrule.autodiff.hooks import register_post_accumulate_grad_hook

        return register_post_accumulate_grad_hook(self, hook)

    def __setitem__(self, index: Any, value: Any) -> None:
        from chainrule.ops.methods_inplace import setitem_

        setitem_(self, index, value)

    # in-place operators mutate the tensor (every reference sees it), as in PyTorch
    def __iadd__(self, o: Any) -> Tensor:
        return self.add_(o)

    def __isub__(self, o: Any) -> Tensor:
        return self.sub_(o)

    def __imul__(self, o: Any) -> Tensor:
        return self.mul_(o)

    def __itruediv__(self, o: Any) -> Tensor:
        return self.div_(o)

    def __ipow__(self, o: Any) -> Tensor:
        return self.pow_(o)

    # ----- operators -----
    def __add__(self, o: Any) -> Tensor:
        return _apply2(E.Add, self, o)

    def __radd__(self, o: Any) -> Tensor:
        return _apply2(E.Add, o, self)

    def __sub__(self, o: Any) -> Tensor:
        return _apply2(E.Sub, self, o)

    def __rsub__(self, o: Any) -> Tensor:
        return _apply2(E.Sub, o, self)

    def __mul__(self, o: Any) -> Tensor:
        return _apply2(E.Mul, self, o)

    def __rmul__(self, o: Any) -> Tensor:
        return _apply2(E.Mul, o, self)

    def __truediv__(self, o: Any) -> Tensor:
        return _apply2(E.Div, self, o)

    def __rtruediv__(self, o: Any) -> Tensor:
        return _apply2(E.Div, o, self)

    def __pow__(self, o: Any) -> Tensor:
        return F.power(self, o)

    def __rpow__(self, o: Any) -> Tensor:
        return F.power(o, self)

    def __mod__(self, o: Any) -> Tensor:
        return F.mod(self, o)

    def __rmod__(self, o: Any) -> Tensor:
        return F.mod(o, self)

    def __floordiv__(self, o: Any) -> Tensor:
        return F.floor_divide(self, o)

    def __rfloordiv__(self, o: Any) -> Tensor:
        return F.floor_divide(o, self)

    def __matmul__(self, o: Any) -> Tensor:
        if not isinstance(o, Tensor) and getattr(o, "is_sparse", False) is True:
            return o.__rmatmul__(self)
        return F.matmul(self, o)

    def __rmatmul__(self, o: Any) -> Tensor:
        return F.matmul(o, self)

    def __neg__(self) -> Tensor:
        return _apply1(E.Neg, self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return F.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return F.getitem(self, index)

    def _compare(self, o: Any, fn: Any) -> Tensor:
        if type(o) is np.ndarray and type(self._data) is not np.ndarray:
            o = like(o, self._data)  # an ndarray constant follows a CUDA tensor, as in ops
        try:
            return _values()(fn, self, o)  # a mask cr.compile replays
        except ValueError:
            raise ValueError(f"{fn.__name__}: operands could not be broadcast together with "
                             f"shapes {self._data.shape} and {np.shape(o)}") from None

    def __eq__(self, o: Any) -> Tensor:  # type: ignore[override]
        return self._compare(o, np.equal)

    def __ne__(self, o: Any) -> Tensor:  # type: ignore[override]
        return self._compare(o, np.not_equal)

    def __lt__(self, o: Any) -> Tensor:
        return self._compare(o, np.less)

    def __le__(self, o: Any) -> Tensor:
        return self._compare(o, np.less_equal)

    def __gt__(self, o: Any) -> Tensor:
        return self._compare(o, np.greater)

    def __ge__(self, o: Any) -> Tensor:
        return self._compare(o, np.greater_equal)

    def __invert__(self) -> Tensor:
        return _values()(np.invert, self)

    def __and__(self, o: Any) -> Tensor:
        return self._compare(o, np.logical_and)

    def __or__(self, o: Any) -> Tensor:
        return self._compare(o, np.logical_or)


class _Size(int):
    """An element count (NumPy's ``t.size``) that is also PyTorch's ``t.size()`` when called."""

    def __new__(cls, n: int, shape: tuple[int, ...]) -> _Size:
        obj = super().__new__(cls, n)
        obj._shape = shape
        return obj

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return Size(self._shape)
        n = len(self._shape)
        if not -n <= dim < n:
            raise IndexError(
                f"size: dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                f"but got {dim})"
            )
        return self._shape[dim]


class Size(tuple):
    """A shape, as PyTorch's ``torch.Size`` (a tuple of ints)."""

    __slots__ = ()

    def numel(self) -> int:
        """Product of the sizes."""
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"


def _values() -> Any:
    """autodiff.function.values (which imports this module), looked up once."""
    global _VALUES
    if _VALUES is None:
        from chainrule.autodiff.function import values

        _VALUES = values
    return _VALUES


_VALUES: Any = None


def as_operand(x: Any) -> Tensor:
    """An op's operand as a Tensor; a (nested) list or tuple holding Tensors that are recorded
    or carry tangents is stacked differentiably (NumPy's ``np.mean([x, x + 2])``), never
    silently turned into constants."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, list | tuple) and has_tracked(x):
        from chainrule.ops.shape import stack

        return stack([as_operand(e) for e in x])
    return Tensor(x)


def has_tracked(x: Any) -> bool:
    for e in x:
        if isinstance(e, Tensor):
            if e.requires_grad or e._tangents is not None:
                return True
        elif isinstance(e, list | tuple) and has_tracked(e):
            return True
    return False


def _raw_index(index: Any) -> Any:
    """Replace Tensors inside an index by their ndarrays."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


# Bottom imports: the ops need Tensor defined; Tensor's methods need the ops at call time.
from chainrule import ops as F  # noqa: E402
from chainrule.autodiff.function import _apply1, _apply2  # noqa: E402
from chainrule.ops import elementwise as E  # noqa: E402

F.install_methods(Tensor)
