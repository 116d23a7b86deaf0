"""Elementwise ops: arithmetic with broadcasting, and the unary math functions."""

from __future__ import annotations

from operator import methodcaller
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function, _apply1, values
from chainrule.dtypes import result_dtype, to_float
from chainrule.ops import rules as R
from chainrule.ops.rules import mask_safe, sum_to
from chainrule.ops.rules import where as _where_rule
from chainrule.tensor import Tensor, as_operand

NDArray = np.ndarray


def promote(name: str, a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
    """Match two operands' dtypes: ints and bools take the float's dtype; floats must agree."""
    da, db = a.dtype, b.dtype
    if da is db or da == db:
        return a, b
    ka, kb = da.kind, db.kind
    if ka == "f" and kb == "f":
        raise TypeError(
            f"{name}: operands have different float dtypes {da} and {db}; "
            "cast one with .astype() (chainrule never upcasts silently)"
        )
    if ka == "f":
        return a, b.astype(da)
    if kb == "f":
        return a.astype(db), b
    return a, b


def promote_all(name: str, arrays: Any) -> list[NDArray]:
    """promote for n operands: ints and bools take the float dtype; floats must agree."""
    floats = {a.dtype for a in arrays if a.dtype.kind == "f"}
    if len(floats) > 1:
        raise TypeError(
            f"{name}: operands have different float dtypes {' and '.join(sorted(map(str, floats)))}"
            "; cast one with .astype() (chainrule never upcasts silently)"
        )
    if not floats:
        return list(arrays)
    (dt,) = floats
    return [a if a.dtype == dt else a.astype(dt) for a in arrays]


def lift(ctx: Context, *tangents: Any) -> tuple[Any, ...]:
    """Batched tangents with length-1 axes put after the batch axes, up to the output's rank.

    A tangent of a lower-rank (broadcast) input then lines up with the saved primals from the
    right, instead of its batch axes being taken for primal axes.
    """
    nb = getattr(ctx, "batch", 0)
    if not nb:
        return tangents
    nd = ctx.out_ndim
    return tuple(
        t if t is R.ZERO or t.ndim - nb >= nd
        else R.reshape(t, t.shape[:nb] + (1,) * (nd - t.ndim + nb) + t.shape[nb:])
        for t in tangents
    )


def broadcast_error(name: str, a: NDArray, b: NDArray) -> ValueError:
    """The error for operands whose shapes do not broadcast."""
    return ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together")


class Add(Function):
    """a + b.  Reverse: (g, g) summed back to each shape.  Forward: da + db."""

    name = "add"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, a: NDArray, b: NDArray) -> NDArray:
        if a.dtype is not b.dtype:
            a, b = promote("add", a, b)
        ctx.saved = (a.shape, b.shape)
        try:
            return a + b
        except ValueError:
            raise broadcast_error("add", a, b) from None

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        sa, sb = ctx.saved
        nb = ctx.batch
        return sum_to(g, sa, nb), sum_to(g, sb, nb)

    @staticmethod
    def jvp(ctx: Context, da: Any, db: Any) -> Any:
        da, db = lift(ctx, da, db)
        return da + db


class Sub(Function):
    """a - b.  Reverse: (g, -g).  Forward: da - db."""

    name = "sub"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, a: NDArray, b: NDArray) -> NDArray:
        if a.dtype is not b.dtype:
            a, b = promote("sub", a, b)
        ctx.saved = (a.shape, b.shape)
        try:
            return a - b
        except ValueError:
            raise broadcast_error("sub", a, b) from None

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        sa, sb = ctx.saved
        nb = ctx.batch
        return sum_to(g, sa, nb), sum_to(-g, sb, nb)

    @staticmethod
    def jvp(ctx: Context, da: Any, db: Any) -> Any:
        da, db = lift(ctx, da, db)
        return da - db


class Mul(Function):
    """a * b.  Reverse: (g*b, g*a) summed back to each shape.  Forward: da*b + a*db."""

    name = "mul"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, a: NDArray, b: NDArray) -> NDArray:
        if a.dtype is not b.dtype:
            a, b = promote("mul", a, b)
        ctx.saved = (a, b)
        try:
            return a * b
        except ValueError:
            raise broadcast_error("mul", a, b) from None

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        nb = ctx.batch
        need_a, need_b = ctx.needs_input_grad  # skip a constant's partial: 0 * inf would warn
        return (sum_to(g * b, a.shape, nb) if need_a else None,
                sum_to(g * a, b.shape, nb) if need_b else None)

    @staticmethod
    def jvp(ctx: Context, da: Any, db: Any) -> Any:
        a, b = ctx.saved
        da, db = lift(ctx, da, db)
        return da * b + a * db


class Div(Function):
    """a / b.  Reverse: (g/b, -g*a/b^2), zero where g is zero.  Forward: da/b - a*db/b^2."""

    name = "div"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, a: NDArray, b: NDArray) -> NDArray:
        if a.dtype is not b.dtype:
            a, b = promote("div", a, b)
        a, b = to_float(a), to_float(b)
        ctx.saved = (a, b)
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                return a / b
        except ValueError:
            raise broadcast_error("div", a, b) from None

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        nb = ctx.batch
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inv = 1.0 / b
            return (sum_to(mask_safe(g, inv), a.shape, nb),
                    sum_to(mask_safe(g, -(a / b) / b), b.shape, nb))

    @staticmethod
    def jvp(ctx: Context, da: Any, db: Any) -> Any:
        a, b = ctx.saved
        da, db = lift(ctx, da, db)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inv = 1.0 / b
            return mask_safe(da, inv) + mask_safe(db, -(a / b) / b)


class Pow(Function):
    """a ** b (both tensors).  Reverse: (g*b*a^(b-1), g*a^b*log a), zero where g is zero."""

    name = "pow"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, a: NDArray, b: NDArray) -> NDArray:
        a, b = promote("pow", a, b)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            try:
                out = a**b
            except ValueError as e:
                if "broadcast" not in str(e):
                    raise  # NumPy's own, e.g. integers to negative integer powers
                raise broadcast_error("pow", a, b) from None
        ctx.saved = (a, b, out)
        return out

    @staticmethod
    def _partials(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        # JAX's conventions at a == 0: d(a**0)/da = 0 (not 0 * inf), and d(a**b)/db uses
        # log(1) there, so 0**b with b > 0 has derivative 0 in b (not 0 * -inf)
        av, bv = R.value(a), R.value(b)
        pa = b * a ** (b - 1)
        if (bv == 0).any():
            pa = R.where(bv == 0, av.dtype.type(0), pa)
        if (av == 0).any():
            return pa, out * R.log(R.where(av == 0, av.dtype.type(1), a))
        return pa, out * R.log(a)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b, out = ctx.saved
        nb = ctx.batch
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pa, pb = Pow._partials(a, b, out)
            return sum_to(mask_safe(g, pa), a.shape, nb), sum_to(mask_safe(g, pb), b.shape, nb)

    @staticmethod
    def jvp(ctx: Context, da: Any, db: Any) -> Any:
        a, b, out = ctx.saved
        da, db = lift(ctx, da, db)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pa, pb = Pow._partials(a, b, out)
            return mask_safe(da, pa) + mask_safe(db, pb)


class PowScalar(Function):
    """x ** p for a Python number p.  Derivative p * x^(p-1), zero where the cotangent is zero."""

    name = "pow"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, p: float) -> NDArray:
        if isinstance(p, float):
            x = to_float(x)  # an int or bool tensor ** an int stays integer, as NumPy
        ctx.p = p
        ctx.saved = (x,)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return x**p

    @staticmethod
    def _finite(p: float) -> bool:
        """Whether p * x^(p-1) is finite for every finite x (p a whole number >= 1)."""
        return p == 0 or (p >= 1 and float(p).is_integer())

    @staticmethod
    def _derivative(x: Any, p: float) -> Any:
        if p == 0:  # 0 everywhere, 0 ** 0 included (JAX), not 0 * x^-1
            return R.value(x) * 0
        if p == 2:
            return 2 * x
        if p == 1:
            return R.value(x) * 0 + 1
        return p * x ** (p - 1)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = PowScalar._derivative(x, ctx.p)
            return g * d if PowScalar._finite(ctx.p) else mask_safe(g, d)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        (x,) = ctx.saved
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = PowScalar._derivative(x, ctx.p)
            return dx * d if PowScalar._finite(ctx.p) else mask_safe(dx, d)


class Maximum(Function):
    """Elementwise max.  The gradient goes to the larger input; ties split it evenly (PyTorch)."""

    name = "maximum"
    n_in = 2
    pick = staticmethod(np.maximum)

    @classmethod
    def forward(cls, ctx: Context, a: NDArray, b: NDArray) -> NDArray:
        a, b = promote(cls.name, a, b)
        try:
            out = cls.pick(a, b)
        except ValueError:
            raise broadcast_error(cls.name, a, b) from None
        ctx.saved = (a, b)
        return out

    @classmethod
    def _weights(cls, a: Any, b: Any) -> tuple[NDArray, NDArray]:
        a, b = R.value(a), R.value(b)
        wa = np.where(a == b, 0.5, (cls.pick(a, b) == a).astype(a.dtype)).astype(a.dtype)
        return wa, (1 - wa).astype(a.dtype)

    @classmethod
    def vjp(cls, ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        wa, wb = cls._weights(a, b)
        nb = ctx.batch
        return sum_to(g * wa, a.shape, nb), sum_to(g * wb, b.shape, nb)

    @classmethod
    def jvp(cls, ctx: Context, da: Any, db: Any) -> Any:
        a, b = ctx.saved
        wa, wb = cls._weights(a, b)
        da, db = lift(ctx, da, db)
        return da * wa + db * wb


class Minimum(Maximum):
    """Elementwise min.  The gradient goes to the smaller input; ties split it evenly."""

    name = "minimum"
    pick = staticmethod(np.minimum)


class Where(Function):
    """where(c, a, b).  Reverse: the cotangent goes, exactly, to the branch taken."""

    name = "where"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, a: NDArray, b: NDArray, c: NDArray) -> NDArray:
        a, b = promote("where", a, b)
        try:
            out = np.where(c, a, b)
        except ValueError:
            raise ValueError(
                f"where: condition {c.shape}, x {a.shape} and y {b.shape} cannot be broadcast"
            ) from None
        ctx.c = c
        ctx.saved = (a.shape, b.shape)
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        sa, sb = ctx.saved
        zero = R.zeros((), g)
        nb = ctx.batch
        return (sum_to(_where_rule(ctx.c, g, zero), sa, nb),
                sum_to(_where_rule(ctx.c, zero, g), sb, nb))

    @staticmethod
    def jvp(ctx: Context, da: Any, db: Any) -> Any:
        return _where_rule(ctx.c, *lift(ctx, da, db))


class Neg(Function):
    """-x.  Reverse: -g.  Forward: -dx."""

    name = "neg"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray) -> NDArray:
        return -x

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return -g

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return -dx


class Unary(Function):
    """An elementwise op y = fn(x) with one ``derivative(x, y)`` serving both modes.

    ``unsafe`` marks ops whose derivative can be infinite or NaN: their rules give an exact
    zero where the incoming cotangent or tangent is zero (mask-safe gradients). ``integers``
    marks ops that keep integer and bool inputs' dtype, as NumPy (abs, floor); the others
    compute integers and bools in the default float dtype (chainrule.dtypes).
    """

    n_in = 1
    unsafe = False
    integers = False
    name = "unary"

    @staticmethod
    def fn(x: NDArray) -> NDArray:
        raise NotImplementedError

    @staticmethod
    def derivative(x: Any, y: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx: Context, x: NDArray) -> NDArray:
        if not cls.integers and x.dtype.kind != "f":
            x = to_float(x)
        y = cls.fn(x)
        ctx.saved = (x, y)
        return y

    @classmethod
    def vjp(cls, ctx: Context, g: Any) -> Any:
        x, y = ctx.saved
        if cls.unsafe:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return mask_safe(g, cls.derivative(x, y))
        return g * cls.derivative(x, y)

    @classmethod
    def jvp(cls, ctx: Context, dx: Any) -> Any:
        x, y = ctx.saved
        if cls.unsafe:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return mask_safe(dx, cls.derivative(x, y))
        return dx * cls.derivative(x, y)


def _quiet(fn: Any) -> Any:
    def run(x: NDArray) -> NDArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(x)

    return run


def _sigmoid(x: NDArray) -> NDArray:
    # 1/(1 + e^-x) is accurate everywhere (e^-x = inf gives 0 exactly) and costs a third of the
    # branch-free exp(-|x|) form; only its overflow warning needs silencing.
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


class Exp(Unary):
    """exp x.  Derivative: exp x (the output)."""

    name = "exp"
    fn = staticmethod(np.exp)
    derivative = staticmethod(lambda x, y: y)


class Log(Unary):
    """ln x.  Derivative: 1/x."""

    name = "log"
    unsafe = True
    fn = staticmethod(_quiet(np.log))
    derivative = staticmethod(lambda x, y: 1 / x)


class Log1p(Unary):
    """ln(1 + x).  Derivative: 1/(1 + x)."""

    name = "log1p"
    unsafe = True
    fn = staticmethod(_quiet(np.log1p))
    derivative = staticmethod(lambda x, y: 1 / (1 + x))


class Sqrt(Unary):
    """sqrt x.  Derivative: 1/(2 sqrt x), infinite at 0."""

    name = "sqrt"
    unsafe = True
    fn = staticmethod(_quiet(np.sqrt))
    derivative = staticmethod(lambda x, y: 0.5 / y)


class Abs(Unary):
    """|x|.  Derivative: sign x (0 at 0, as PyTorch)."""

    name = "abs"
    integers = True
    fn = staticmethod(np.abs)
    derivative = staticmethod(lambda x, y: np.sign(R.value(x)))


class Sin(Unary):
    """sin x.  Derivative: cos x."""

    name = "sin"
    fn = staticmethod(np.sin)
    derivative = staticmethod(lambda x, y: R.cos(x))


class Cos(Unary):
    """cos x.  Derivative: -sin x."""

    name = "cos"
    fn = staticmethod(np.cos)
    derivative = staticmethod(lambda x, y: -R.sin(x))


class Tan(Unary):
    """tan x.  Derivative: 1 + tan^2 x."""

    name = "tan"
    fn = staticmethod(np.tan)
    derivative = staticmethod(lambda x, y: 1 + y * y)


class Tanh(Unary):
    """tanh x.  Derivative: 1 - tanh^2 x."""

    name = "tanh"
    fn = staticmethod(np.tanh)
    derivative = staticmethod(lambda x, y: 1 - y * y)


class Sigmoid(Unary):
    """1/(1 + e^-x).  Derivative: y(1 - y)."""

    name = "sigmoid"
    fn = staticmethod(_sigmoid)
    derivative = staticmethod(lambda x, y: y * (1 - y))


class Relu(Unary):
    """max(x, 0).  Derivative: 1 where x > 0, else 0."""

    name = "relu"
    integers = True
    fn = staticmethod(lambda x: np.maximum(x, x.dtype.type(0)))
    derivative = staticmethod(lambda x, y: R.value(x) > 0)


class Softplus(Unary):
    """ln(1 + e^x), computed stably.  Derivative: sigmoid x."""

    name = "softplus"
    fn = staticmethod(lambda x: np.logaddexp(x.dtype.type(0), x))
    derivative = staticmethod(lambda x, y: R.sigmoid(x))


class Clip(Function):
    """clip(x, lo, hi).  Derivative: 1 where lo <= x <= hi, else 0 (PyTorch's clamp)."""

    name = "clip"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, lo: Any, hi: Any) -> NDArray:
        # a Tensor bound is a constant here: its array, on its device
        lo, hi = (b._data if isinstance(b, Tensor) else b for b in (lo, hi))
        bounds = [b if isinstance(b, int | float) else B.asarray(b) for b in (lo, hi)
                  if b is not None]
        x = x.astype(result_dtype(x, *bounds), copy=False)
        ctx.saved = (x,)
        ctx.lo, ctx.hi = lo, hi
        out = x
        try:
            if lo is not None:
                out = np.maximum(out, B.array_like(lo, x, x.dtype))
            if hi is not None:
                out = np.minimum(out, B.array_like(hi, x, x.dtype))
        except ValueError:
            raise ValueError(f"clip: the tensor's shape {x.shape} and the bounds' shapes "
                             f"{np.shape(lo)} and {np.shape(hi)} cannot be broadcast "
                             "together") from None
        return out if out is not x else x.copy()

    @staticmethod
    def _mask(ctx: Context) -> NDArray:
        x = R.value(ctx.saved[0])
        m = np.ones_like(x, dtype=bool)
        if ctx.lo is not None:
            m &= x >= ctx.lo
        if ctx.hi is not None:
            m &= x <= ctx.hi
        return m

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return g * Clip._mask(ctx)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return dx * Clip._mask(ctx)


class Astype(Function):
    """Cast between float dtypes.  Reverse and forward: cast the tangent back/forward."""

    name = "astype"
    n_in = 1

    @staticmethod
    def forward(ctx: Context, x: NDArray, dtype: Any) -> NDArray:
        ctx.src = x.dtype
        ctx.dst = np.dtype(dtype)
        return x.astype(dtype)

    @staticmethod
    def vjp(ctx: Context, g: Any) -> Any:
        return g.astype(ctx.src)

    @staticmethod
    def jvp(ctx: Context, dx: Any) -> Any:
        return dx if dx is R.ZERO else dx.astype(ctx.dst)


# ----- public functions -----
def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_operand(x)


def add(a: Any, b: Any) -> Tensor:
    """a + b with broadcasting."""
    return Add.apply(a, b)


def subtract(a: Any, b: Any) -> Tensor:
    """a - b with broadcasting."""
    return Sub.apply(a, b)


def multiply(a: Any, b: Any) -> Tensor:
    """a * b with broadcasting."""
    return Mul.apply(a, b)


def divide(a: Any, b: Any) -> Tensor:
    """a / b with broadcasting."""
    return Div.apply(a, b)


def power(a: Any, b: Any) -> Tensor:
    """a ** b; a Python-number exponent uses the cheaper scalar rule."""
    if isinstance(b, int | float) and not isinstance(b, bool):
        return PowScalar.apply(a, float(b) if isinstance(b, float) else b)
    return Pow.apply(a, b)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum."""
    return Minimum.apply(a, b)


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """x where condition holds, else y; gradients flow only to the branch taken.

    With the condition alone, its nonzero indices (as np.where).
    """
    if x is None and y is None:
        from chainrule.ops.selection import nonzero

        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: either both or neither of x and y should be given")
    c = condition._data if isinstance(condition, Tensor) else B.asarray(condition)
    for t in (x, y):
        if isinstance(t, Tensor):
            c = B.like(c, t._data)  # an ndarray condition follows the operands' device
            break
    if c.dtype != np.bool_:
        c = c.astype(bool)
    return Where.apply(x, y, c)


def neg(x: Any) -> Tensor:
    """-x."""
    return _apply1(Neg, _t(x))


def _unary_fn(cls: Any) -> Any:
    def fn(x: Any) -> Tensor:
        return _apply1(cls, x if isinstance(x, Tensor) else as_operand(x))

    fn.__name__ = cls.name
    fn.__qualname__ = cls.name
    fn.__doc__ = (cls.__doc__ or "").split(".")[0] + ", elementwise."
    return fn


exp = _unary_fn(Exp)
log = _unary_fn(Log)
log1p = _unary_fn(Log1p)
sqrt = _unary_fn(Sqrt)
abs = _unary_fn(Abs)
sin = _unary_fn(Sin)
cos = _unary_fn(Cos)
tan = _unary_fn(Tan)
tanh = _unary_fn(Tanh)
sigmoid = _unary_fn(Sigmoid)
relu = _unary_fn(Relu)
softplus = _unary_fn(Softplus)


def sign(x: Any) -> Tensor:
    """Sign of x (not differentiable: a constant)."""
    return values(np.sign, _t(x))


def clip(x: Any, a_min: Any = None, a_max: Any = None) -> Tensor:
    """Clamp x to [a_min, a_max]; gradient 1 inside (bounds included), 0 outside."""
    if a_min is None and a_max is None:
        raise ValueError("clip: a_min and a_max cannot both be None")
    return Clip.apply(x, a_min, a_max)


def astype(x: Any, dtype: Any) -> Tensor:
    """Cast x to dtype (differentiable between float dtypes)."""
    x = _t(x)
    if np.dtype(dtype) == x._data.dtype:
        return x
    if np.dtype(dtype).kind != "f" or x._data.dtype.kind != "f":
        return values(methodcaller("astype", np.dtype(dtype)), x)
    return Astype.apply(x, dtype)
