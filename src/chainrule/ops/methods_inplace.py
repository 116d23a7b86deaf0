"""The Tensor's in-place methods (``add_``, ``zero_``, ``normal_``, ``t[i] = v`` ...).

Each writes into the tensor's memory, so every reference and view sees the change, following
autodiff/inplace.py's rules: a leaf that requires grad refuses while grad mode is on, a write
that autograd must see is recorded, and values saved before the write are caught if used later.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.inplace import apply_inplace
from chainrule.ops import elementwise as E
from chainrule.ops import indexing as I
from chainrule.ops import methods as M
from chainrule.tensor import Tensor


def _const_like(t: Tensor, arr: Any) -> Tensor:
    return Tensor._make(B.array_like(arr, t._data, t.dtype), False, None)


def _scaled(other: Any, alpha: Any) -> Any:
    return other if alpha == 1 else other * alpha


# ----- arithmetic -----
def add_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """self += alpha * other."""
    return apply_inplace(self, "add_", lambda x, o: x + _scaled(o, alpha), other,
                         direct=lambda d, o: np.add(d, _scaled(o, alpha), out=d,
                                                    casting="same_kind"))


def sub_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """self -= alpha * other."""
    return apply_inplace(self, "sub_", lambda x, o: x - _scaled(o, alpha), other,
                         direct=lambda d, o: np.subtract(d, _scaled(o, alpha), out=d,
                                                         casting="same_kind"))


def mul_(self: Tensor, other: Any) -> Tensor:
    """self *= other."""
    return apply_inplace(self, "mul_", lambda x, o: x * o, other,
                         direct=lambda d, o: np.multiply(d, o, out=d, casting="same_kind"))


def div_(self: Tensor, other: Any, *, rounding_mode: Any = None) -> Tensor:
    """self /= other (rounded when rounding_mode is given)."""
    if rounding_mode is not None:
        return apply_inplace(self, "div_", lambda x, o: M.div(x, o, rounding_mode=rounding_mode),
                             other)
    return apply_inplace(self, "div_", lambda x, o: x / o, other,
                         direct=lambda d, o: np.divide(d, o, out=d, casting="same_kind"))


def pow_(self: Tensor, exponent: Any) -> Tensor:
    """self **= exponent."""
    return apply_inplace(self, "pow_", lambda x, o: E.power(x, o), exponent)


def addcmul_(self: Tensor, t1: Any, t2: Any, *, value: Any = 1) -> Tensor:
    """self += value * t1 * t2."""
    return apply_inplace(self, "addcmul_", lambda x, a, b: x + value * a * b, t1, t2,
                         direct=lambda d, a, b: np.add(d, value * a * b, out=d,
                                                       casting="same_kind"))


def addcdiv_(self: Tensor, t1: Any, t2: Any, *, value: Any = 1) -> Tensor:
    """self += value * t1 / t2."""
    return apply_inplace(self, "addcdiv_", lambda x, a, b: x + value * a / b, t1, t2,
                         direct=lambda d, a, b: np.add(d, value * a / b, out=d,
                                                       casting="same_kind"))


def lerp_(self: Tensor, end: Any, weight: Any) -> Tensor:
    """self += weight * (end - self)."""
    return apply_inplace(self, "lerp_", lambda x, e, w: x + w * (e - x), end, weight)


def _unary_(name: str, fn: Any) -> Any:
    def method(self: Tensor) -> Tensor:
        return apply_inplace(self, name, fn)

    method.__name__ = name
    method.__doc__ = f"In-place {name[:-1]}."
    return method


neg_ = _unary_("neg_", lambda x: -x)
abs_ = _unary_("abs_", E.abs)
exp_ = _unary_("exp_", E.exp)
log_ = _unary_("log_", E.log)
sqrt_ = _unary_("sqrt_", E.sqrt)
sin_ = _unary_("sin_", E.sin)
cos_ = _unary_("cos_", E.cos)
tanh_ = _unary_("tanh_", E.tanh)
sigmoid_ = _unary_("sigmoid_", E.sigmoid)
relu_ = _unary_("relu_", E.relu)
reciprocal_ = _unary_("reciprocal_", lambda x: 1.0 / x)
square_ = _unary_("square_", lambda x: x * x)
floor_ = _unary_("floor_", M.floor)
ceil_ = _unary_("ceil_", M.ceil)
round_ = _unary_("round_", M.round)
trunc_ = _unary_("trunc_", M.trunc)


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Clamp to [min, max] in place."""
    return apply_inplace(self, "clamp_", lambda x: M.clamp(x, min, max))


def clamp_min_(self: Tensor, min: Any) -> Tensor:
    """Clamp from below in place."""
    return clamp_(self, min, None)


def clamp_max_(self: Tensor, max: Any) -> Tensor:
    """Clamp from above in place."""
    return clamp_(self, None, max)


# ----- filling -----
def zero_(self: Tensor) -> Tensor:
    """Set every entry to 0."""
    return apply_inplace(self, "zero_", lambda x: _const_like(x, np.zeros(x.shape)),
                         direct=lambda d: d.fill(0))


def fill_(self: Tensor, value: Any) -> Tensor:
    """Set every entry to value (a number or a 0-d tensor)."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill_: only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions")
    return apply_inplace(self, "fill_", lambda x, v: E.astype(v, x.dtype) * 1
                         if isinstance(v, Tensor) else _const_like(x, np.full(x.shape, v)),
                         value, direct=lambda d, v: d.fill(v))


def copy_(self: Tensor, src: Any, non_blocking: Any = False) -> Tensor:
    """Copy src's values (broadcast to self's shape, cast to self's dtype) into self."""
    def compute(x: Tensor, s: Any) -> Tensor:
        if not isinstance(s, Tensor):
            return _const_like(x, np.broadcast_to(np.asarray(s), x.shape))
        return E.astype(s, x.dtype) if s.dtype.kind == x.dtype.kind == "f" else \
            _const_like(x, s._data)

    return apply_inplace(self, "copy_", compute, src,
                         direct=lambda d, s: np.copyto(d, s, casting="unsafe"))


def masked_fill_(self: Tensor, mask: Any, value: Any) -> Tensor:
    """Set the entries where mask is True to value."""
    m = B.like(B.asarray(mask._data if isinstance(mask, Tensor) else mask), self._data)
    return apply_inplace(self, "masked_fill_", lambda x, v: M.masked_fill(x, m, v), value,
                         direct=lambda d, v: np.copyto(d, v, where=np.broadcast_to(m, d.shape),
                                                       casting="unsafe"))


def index_fill_(self: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """Set the slices at index along dim to value."""
    idx = B.asarray(index._data if isinstance(index, Tensor) else index).reshape(-1)
    where = (slice(None),) * (dim % self.ndim) + (idx,)
    return setitem_(self, where, value)


def scatter_(self: Tensor, dim: int, index: Any, src: Any = None, value: Any = None,
             reduce: Any = None) -> Tensor:
    """Write src (or value) at index along dim."""
    v = value if src is None else src
    return apply_inplace(self, "scatter_", lambda x, s: M.scatter(x, dim, index, s,
                                                                  reduce=reduce), v)


def scatter_add_(self: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """Add src at index along dim (repeated indices accumulate)."""
    return apply_inplace(self, "scatter_add_", lambda x, s: M.scatter_add(x, dim, index, s), src)


def fill_diagonal_(self: Tensor, fill_value: Any, wrap: Any = False) -> Tensor:
    """Set the main diagonal to fill_value."""
    n = min(self.shape)
    idx = (B.like(np.arange(n), self._data),) * self.ndim
    return setitem_(self, idx, fill_value)


def setitem_(self: Tensor, index: Any, value: Any) -> Tensor:
    """``self[index] = value``."""
    idx = I._index_tuple(index)
    return apply_inplace(self, "__setitem__", lambda x, v: I.IndexPut.apply(x, v, idx), value,
                         direct=lambda d, v: d.__setitem__(idx, v))


# ----- random fills -----
def _rng(generator: Any) -> np.random.Generator:
    from chainrule.creation import as_rng

    return as_rng(generator)


def _fill_random(self: Tensor, name: str, sample: Any) -> Tensor:
    values = B.like(np.asarray(sample(self.shape)).astype(self.dtype, copy=False), self._data)
    return apply_inplace(self, name, lambda x: _const_like(x, values),
                         direct=lambda d: np.copyto(d, values, casting="unsafe"))


def normal_(self: Tensor, mean: Any = 0.0, std: Any = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples from N(mean, std**2)."""
    return _fill_random(self, "normal_", lambda s: _rng(generator).normal(mean, std, s))


def uniform_(self: Tensor, a: Any = 0.0, b: Any = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples from U[a, b)."""
    return _fill_random(self, "uniform_", lambda s: _rng(generator).uniform(a, b, s))


def bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    """Fill with 0/1 samples, 1 with probability p."""
    pa = p._data if isinstance(p, Tensor) else p
    return _fill_random(self, "bernoulli_", lambda s: _rng(generator).random(s) < pa)


def exponential_(self: Tensor, lambd: Any = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples from Exp(lambd)."""
    return _fill_random(self, "exponential_",
                        lambda s: _rng(generator).exponential(1.0 / lambd, s))


def random_(self: Tensor, from_: Any = 0, to: Any = None, *, generator: Any = None) -> Tensor:
    """Fill with integers in [from_, to) (one argument: [0, from_))."""
    lo, hi = (0, from_) if to is None and from_ else (from_, to)
    if hi is None:
        hi = 2 ** 24 if self.dtype.kind == "f" else np.iinfo(self.dtype).max
    return _fill_random(self, "random_", lambda s: _rng(generator).integers(lo, hi, s))


# ----- autograd flags -----
def detach_(self: Tensor) -> Tensor:
    """Cut self from its graph, in place."""
    self._node = None
    self.requires_grad = False
    return self
