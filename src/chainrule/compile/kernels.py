"""The ops the lowering writes out: for each, the NumPy expressions of its forward and its vjp.

Each is written as its op's rules evaluate it (same calls, same order, same dtypes), so a lowered
replay gives eager's bits. :func:`lowering` gives an op's (emit forward, emit vjp) pair, each
taking the ``lower._Program`` being built (and the vjp the recorded tape entry); it returns None
for any op or case not here, which then replays through its recorded Context.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# the largest parent whose slices' coverage is checked at lowering time
_COVER_CHECK = 1 << 24


def lowering(op: tuple, meta: dict, v: Any) -> tuple[Any, Any] | None:
    """(emit forward, emit vjp) for an op the lowering knows, else None."""
    cls, ins, params, y = op
    name = getattr(cls, "name", "")
    if v is not None and (not v[5] or meta.get(v[3]) != meta.get(y)):
        return None  # a retained graph (its Context keeps its values), a batched cotangent
    if y not in meta or not _float_same(meta, (*ins, y)) or meta[y][0] == ():
        return None  # 0-d: NumPy gives a scalar where eager wraps it in an array
    if name == "getitem":
        idx = slice_index(op, meta)
        return None if idx is None else _getitem(ins[0], idx, y)
    if params:
        return None
    if name in ("add", "sub", "mul") and len(ins) == 2:
        shapes = (meta[ins[0]][0], meta[ins[1]][0])
        if _broadcasts(shapes, meta[y][0]):
            return _binary(name, ins, y, shapes)
    elif name in ("tanh", "relu") and len(ins) == 1:
        return _unary(name, ins[0], y)
    elif name == "sigmoid" and len(ins) == 1:
        return _sigmoid(ins[0], y)
    elif name == "matmul" and len(ins) == 2:
        if len(meta[ins[0]][0]) == len(meta[ins[1]][0]) == 2:
            return _matmul(ins, y)
    elif name == "linear" and len(ins) in (2, 3):
        xs, ws = meta[ins[0]][0], meta[ins[1]][0]
        if (len(xs) == 2 and len(ws) == 2 and xs[1] == ws[1]
                and (len(ins) == 2 or meta[ins[2]][0] == (ws[0],))):
            return _linear(ins, y)
    return None


def slice_index(op: tuple, meta: dict) -> tuple | None:
    """The index of a getitem the lowering writes out (a basic index giving an array), else
    None."""
    cls, ins, params, y = op
    if getattr(cls, "name", "") != "getitem" or len(ins) != 1 or len(params) != 1:
        return None
    idx = params[0]
    if type(idx) is not tuple or not all(
            i is None or i is Ellipsis or type(i) in (int, slice) for i in idx):
        return None
    if y not in meta or not meta[y][0]:
        return None  # x[0, 0]: NumPy gives a scalar, eager wraps it in an array
    return idx


def covered(shape: tuple, indices: list[tuple]) -> bool:
    """Whether the basic indices select every element of an array of this shape exactly once
    (the gates of one product: no zero fill needed)."""
    if int(np.prod(shape)) > _COVER_CHECK:
        return False
    counts = np.zeros(shape, np.uint8)
    for idx in indices:
        counts[idx] += 1
    return bool((counts == 1).all())


def quiet_exp(t: np.ndarray) -> None:
    """t = exp(t) in place, without the overflow warning (exp(-x) = inf gives sigmoid 0)."""
    with np.errstate(over="ignore"):
        np.exp(t, out=t)


def _float_same(meta: dict, slots: tuple) -> bool:
    dts = {meta[s][1] if s in meta else None for s in slots}
    if len(dts) != 1:
        return False
    dt = dts.pop()
    return dt is not None and dt.kind == "f"


def _broadcasts(shapes: tuple, out: tuple) -> bool:
    try:
        return np.broadcast_shapes(*shapes) == out
    except ValueError:
        return False


def _sum_axes(shape: tuple, out: tuple) -> tuple | None:
    """The axes rules.sum_to sums over to bring a cotangent of shape out back to shape (None:
    the same shape)."""
    if shape == out:
        return None
    lead = len(out) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and out[lead + i] != 1)


def _needs(e: tuple) -> set[int]:
    return {r[0] for r in e[4]}


def _getitem(x: int, idx: tuple, y: int) -> tuple[Any, Any]:
    def fwd(p: Any) -> None:  # a view, as GetItem's forward
        p.lines.append(f"v[{y}] = v[{x}][{p.name(idx, 'I')}]")

    def vjp(p: Any, e: tuple) -> None:  # into the parent's one buffer (lower._Program.slice)
        for (_, d, add), m in zip(e[4], e[6]):
            p.slice(d, add, m, f"v[{e[3]}]", idx)

    return fwd, vjp


def _binary(name: str, ins: tuple, y: int, shapes: tuple) -> tuple[Any, Any]:
    a, b = ins
    ufunc = {"add": "np_add", "sub": "np_subtract", "mul": "np_multiply"}[name]
    op = {"add": "+", "sub": "-", "mul": "*"}[name]

    def fwd(p: Any) -> None:
        out = p.out(y)
        p.lines.append(f"v[{y}] = {ufunc}(v[{a}], v[{b}]{out})" if out else
                       f"v[{y}] = v[{a}] {op} v[{b}]")

    def vjp(p: Any, e: tuple) -> None:  # Add: (g, g); Sub: (g, -g); Mul: (g*b, g*a), summed
        need = _needs(e)
        g = f"v[{e[3]}]"
        gins = [g, g]
        if name == "sub" and 1 in need:
            out = p.out(y)
            p.lines.append(f"g1 = np_negative({g}{out})" if out else f"g1 = -{g}")
            gins[1] = "g1"
        elif name == "mul":
            for i, other in ((0, b), (1, a)):
                if i in need:
                    out = p.out(y)
                    p.lines.append(f"g{i} = np_multiply({g}, v[{other}]{out})" if out else
                                   f"g{i} = {g} * v[{other}]")
                    gins[i] = f"g{i}"
        for i in need:  # sum_to(gi, shape): x.sum(axis=axes, keepdims=True).reshape(shape)
            axes = _sum_axes(shapes[i], p.meta[y][0])
            if axes is not None:
                p.lines.append(f"g{i} = {gins[i]}.sum(axis={axes!r}, keepdims=True)"
                               f".reshape({shapes[i]!r})")
                gins[i] = f"g{i}"
        p.route(e[4], e[6], gins, False)

    return fwd, vjp


def _unary(name: str, x: int, y: int) -> tuple[Any, Any]:
    def fwd(p: Any) -> None:
        out = p.out(y)
        if name == "tanh":
            p.lines.append(f"v[{y}] = np_tanh(v[{x}]{out})")
        else:  # np.maximum(x, 0 of its dtype), as Relu's forward
            zero = p.name(p.meta[x][1].type(0), "Z")
            p.lines.append(f"v[{y}] = np_maximum(v[{x}], {zero}{out})")

    def vjp(p: Any, e: tuple) -> None:
        g = f"v[{e[3]}]"
        out = p.out(x)
        if name == "tanh":  # g * (1 - y*y), as Tanh's rule
            _times_slope(p, g, out, [f"t = np_multiply(v[{y}], v[{y}]{out})",
                                     "np_subtract(1, t, out=t)"], f"1 - v[{y}] * v[{y}]")
        elif out:  # g * (x > 0), as Relu's rule
            mask = p.out(x, p.meta[x][0], np.bool_) or ""
            p.lines.append(f"gx = np_multiply({g}, np_greater(v[{x}], 0{mask}){out})")
        else:
            p.lines.append(f"gx = {g} * (v[{x}] > 0)")
        p.route(e[4], e[6], ["gx"], False)

    return fwd, vjp


def _sigmoid(x: int, y: int) -> tuple[Any, Any]:
    def fwd(p: Any) -> None:  # as elementwise._sigmoid: 1 / (1 + exp(-x)), in place
        p.lines += [f"t = np_negative(v[{x}]{p.out(y)})", "quiet_exp(t)", "np_add(1, t, out=t)",
                    f"v[{y}] = np_divide(1, t, out=t)"]

    def vjp(p: Any, e: tuple) -> None:  # g * (y * (1 - y)), as Sigmoid's rule
        out = p.out(x)
        _times_slope(p, f"v[{e[3]}]", out, [f"t = np_subtract(1, v[{y}]{out})",
                                            f"np_multiply(v[{y}], t, out=t)"],
                     f"v[{y}] * (1 - v[{y}])")
        p.route(e[4], e[6], ["gx"], False)

    return fwd, vjp


def _times_slope(p: Any, g: str, out: str, into_t: list[str], slope: str) -> None:
    """gx = g * slope: with a buffer (out), the lines into_t computing the slope into t, then
    the product in place; without, the rule's expression as written."""
    if out:
        p.lines += [*into_t, f"gx = np_multiply({g}, t, out=t)"]
    else:
        p.lines.append(f"gx = {g} * ({slope})")


def _matmul(ins: tuple, y: int) -> tuple[Any, Any]:
    a, b = ins

    def fwd(p: Any) -> None:
        out = p.out(y)
        p.lines.append(f"v[{y}] = np_matmul(v[{a}], v[{b}]{out})" if out else
                       f"v[{y}] = v[{a}] @ v[{b}]")

    def vjp(p: Any, e: tuple) -> None:  # (g @ b^T, a^T @ g), as MatMul's rule on 2-D operands
        need = _needs(e)
        g = f"v[{e[3]}]"
        gins = ["None", "None"]
        for i, expr in ((0, f"matmul_t({g}, v[{b}]{{}})"), (1, f"np_matmul(v[{a}].T, {g}{{}})")):
            if i in need:
                p.lines.append(f"g{i} = " + expr.format(p.out(ins[i])))
                gins[i] = f"g{i}"
        p.route(e[4], e[6], gins, False)

    return fwd, vjp


def _linear(ins: tuple, y: int) -> tuple[Any, Any]:
    x, w = ins[:2]

    def fwd(p: Any) -> None:  # x @ w.T (matmul_t), then += b, as Linear's forward
        out = p.out(y)
        p.lines.append(f"t = matmul_t(v[{x}], v[{w}]{out})")
        if len(ins) == 3:
            p.lines.append(f"t += v[{ins[2]}]")
        p.lines.append(f"v[{y}] = t")

    def vjp(p: Any, e: tuple) -> None:  # g @ w, g.T @ x, g summed over samples
        need = _needs(e)
        g = f"v[{e[3]}]"
        gins = ["None"] * len(ins)
        for i, expr in ((0, f"np_matmul({g}, v[{w}]{{}})"), (1, f"np_matmul({g}.T, v[{x}]{{}})"),
                        (2, f"{g}.sum(axis=(-2,){{}})")):
            if i in need:
                p.lines.append(f"g{i} = " + expr.format(p.out(ins[i])))
                gins[i] = f"g{i}"
        p.route(e[4], e[6], gins, False)

    return fwd, vjp
