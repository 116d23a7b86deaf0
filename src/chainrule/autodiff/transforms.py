"""Function transforms: grad, value_and_grad, vjp, jvp, jacobian, hessian (JAX's names).

Arguments, outputs, cotangents and tangents may be containers (nested tuples, lists, dicts and
namedtuples of Tensors, arrays and floats: JAX's pytrees, see ``tree.py``); each transform
differentiates with respect to every leaf and returns results of the same structure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff import function as _function
from chainrule.autodiff import reverse
from chainrule.autodiff.forward import Identity, attach, drop_level, tangent_of
from chainrule.autodiff.modes import STATE, enable_grad, forward_level, reverse_transform
from chainrule.autodiff.tree import LEAF_DEF, TreeDef, any_leaf, is_container, tree_flatten
from chainrule.autodiff.zero import ZERO
from chainrule.dtypes import as_array
from chainrule.tensor import Tensor

_LEAF_TYPES = (Tensor, np.ndarray, np.generic, float, int)


def _as_tensor(x: Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = as_array(x)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name}: inputs to differentiate must be floating, got {arr.dtype}")
    return Tensor._make(arr, False, None)


def _differentiable_input(x: Any, name: str) -> Tensor:
    """A Tensor standing for x whose gradient can be read off, still linked to any outer graph."""
    t = _as_tensor(x, name)
    if t._data.dtype.kind != "f":
        raise TypeError(f"{name}: inputs to differentiate must be floating, got {t._data.dtype}")
    if t.requires_grad:
        return Identity.apply(t)
    leaf = Tensor._make(t._data, True, None)
    leaf._tangents = t._tangents
    return leaf


def _tree_inputs(
    tree: Any, name: str, i: int, make: Callable[[Any, str], Tensor]
) -> tuple[list[Tensor], TreeDef]:
    """The leaves of argument i as Tensors (by ``make``), and its structure.

    An argument that is a single leaf keeps today's messages; a leaf inside a container that is
    not a Tensor, an array or a number is refused with its path (``argument 0 at [1]['W']``).
    """
    if not is_container(tree):
        return [make(tree, name)], LEAF_DEF
    leaves, treedef = tree_flatten(tree)
    xs = []
    for leaf, path in zip(leaves, treedef.paths()):
        where = f"{name}: argument {i} at {path}"
        if not isinstance(leaf, _LEAF_TYPES):
            raise TypeError(
                f"{where}: leaves to differentiate must be Tensors, arrays or floats, got "
                f"{type(leaf).__name__}")
        xs.append(make(leaf, where))
    return xs, treedef


def _split(flat: Sequence[Any], defs: Sequence[TreeDef]) -> list[Any]:
    """The trees of structures ``defs`` holding, in turn, the leaves of ``flat``."""
    out, k = [], 0
    for d in defs:
        out.append(flat[k] if d.is_leaf else d.unflatten(flat[k:k + d.num_leaves]))
        k += d.num_leaves
    return out


def _tree_outputs(out: Any, name: str) -> tuple[list[Tensor], TreeDef]:
    """The leaves of f's output, each a Tensor, and its structure."""
    if isinstance(out, Tensor):
        return [out], LEAF_DEF
    if out is None:
        raise TypeError(f"{name}: f must return a Tensor, got NoneType")
    leaves, treedef = tree_flatten(out)
    if treedef.is_leaf:
        if not isinstance(out, Tensor):
            const = _constant_output(out)
            if const is None:
                raise TypeError(f"{name}: f must return a Tensor, got {type(out).__name__}")
            return [const], treedef
        return leaves, treedef
    for k, (leaf, path) in enumerate(zip(leaves, treedef.paths())):
        if not isinstance(leaf, Tensor):
            const = _constant_output(leaf)
            if const is None:
                raise TypeError(
                    f"{name}: f must return a Tensor or a container of Tensors, got "
                    f"{type(leaf).__name__} at {path}")
            leaves[k] = const
    return leaves, treedef


def _constant_output(value: Any) -> Tensor | None:
    """A float output that does not depend on the inputs (derivative 0, as JAX), or None."""
    if isinstance(value, float | np.floating) or (
            B.is_array(value) and value.dtype.kind == "f"):
        return Tensor._make(B.asarray(value), False, None)
    return None


def _argnums(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{name}: argnums {argnums} out of range for {nargs} arguments")
    return tuple(i % nargs for i in nums)


def _requires_grad(a: Any) -> bool:
    return isinstance(a, Tensor) and a.requires_grad


def _needs_graph(args: Sequence[Any], depth: int = 1) -> bool:
    """Whether the backward must be recorded: an outer reverse transform or graph is watching."""
    if STATE.reverse_depth > depth:
        return True
    return STATE.grad_enabled and any(any_leaf(a, _requires_grad) for a in args)


def _contiguous(a: Any) -> np.ndarray:
    return B.contiguous(B.asarray(a))


def _wrap(g: Any, like: Tensor, keep_graph: bool) -> Tensor:
    """A gradient as a Tensor: with its graph if kept, with its tangents if it has any."""
    if g is None:
        return Tensor._make(np.zeros_like(like._data), False, None)
    if isinstance(g, Tensor):
        if keep_graph or g._tangents:
            return g
        return Tensor._make(_contiguous(g._data), False, None)
    return Tensor._make(_contiguous(g), False, None)


def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., tuple[Any, Any]]:
    """f and its gradient with respect to the arguments in argnums, in one reverse pass.

    An argument may be a container of Tensors (a list of ``(W, b)`` pairs, a dict...); its
    gradient is a container of the same structure.
    """

    def wrapped(*args: Any) -> tuple[Any, Any]:
        nums = _argnums(argnums, len(args), "grad")
        uniq = list(dict.fromkeys(nums))
        with reverse_transform(), enable_grad():
            keep = _needs_graph(args)
            new_args = list(args)
            made: dict[int, tuple[list[Tensor], TreeDef]] = {}
            for i in uniq:
                made[i] = _tree_inputs(args[i], "grad", i, _differentiable_input)
                new_args[i] = made[i][1].unflatten(made[i][0])
            result = f(*new_args)
            out, aux = result if has_aux else (result, None)
            if not isinstance(out, Tensor) and (isinstance(out, float | np.floating)
                                                or B.is_array(out)):
                out = Tensor._make(B.asarray(out), False, None)  # a constant: zero gradient
            if not isinstance(out, Tensor) or out._data.size != 1 or out._data.dtype.kind != "f":
                what = (f"a tensor of shape {out._data.shape} and dtype {out._data.dtype}"
                        if isinstance(out, Tensor) else type(out).__name__)
                raise TypeError(f"grad: f must return a float scalar tensor, got {what}")
            wrt = [x for i in uniq for x in made[i][0]]
            if out.requires_grad and wrt:
                grads = reverse.run(out, np.ones_like(out._data), retain_graph=keep,
                                    create_graph=keep, inputs=wrt)
            else:
                grads = [None] * len(wrt)
        gs = [_wrap(g, w, keep) for g, w in zip(grads, wrt)]
        trees = dict(zip(uniq, _split(gs, [made[i][1] for i in uniq])))
        value = out if keep else out.detach()
        g_out = trees[nums[0]] if isinstance(argnums, int) else tuple(trees[i] for i in nums)
        return ((value, aux), g_out) if has_aux else (value, g_out)

    return wrapped


def grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The gradient of scalar-valued f with respect to the arguments in argnums (or containers)."""
    vg = value_and_grad(f, argnums, has_aux)

    def wrapped(*args: Any) -> Any:
        (value, g) = vg(*args)
        return (g, value[1]) if has_aux else g

    return wrapped


class _Pullback:
    """The reverse pass of a recorded f: cotangents of its output leaves to those of its inputs.

    Linear in the cotangents and differentiable in them (as JAX's): a cotangent that carries
    tangents or requires grad is kept as a Tensor, so the backward pass pushes its tangents
    through the rules and records its graph (create_graph). An output with several leaves costs
    one reverse pass per leaf whose cotangent is given, summed at the inputs.
    """

    def __init__(self, outs: list[Tensor], paths: list[str], xs: list[Tensor], keep: bool):
        self.outs, self.paths, self.xs, self.keep = outs, paths, xs, keep

    def __call__(self, cotangents: Sequence[Any]) -> list[Tensor]:
        """One cotangent per input leaf, from one per output leaf (None: zero, internal only)."""
        live = self.keep or (STATE.grad_enabled and any(
            isinstance(c, Tensor) and c.requires_grad for c in cotangents))
        cts: list[Any] = []
        batch: tuple | None = None
        for c, out, path in zip(cotangents, self.outs, self.paths):
            if c is None:
                cts.append(None)
                continue
            if isinstance(c, Tensor):
                ct = c if live or c._tangents else B.array_like(c._data, out._data,
                                                                 out._data.dtype)
            else:
                ct = B.array_like(c, out._data, out._data.dtype)
            shape, oshape = tuple(ct.shape), out._data.shape
            if shape[len(shape) - len(oshape):] != oshape or len(shape) < len(oshape):
                at = f" at {path}" if path else ""
                raise ValueError(
                    f"vjp: cotangent of shape {shape}{at} does not match the output's shape "
                    f"{oshape} (leading batch axes allowed)"
                )
            nb = shape[: len(shape) - len(oshape)]
            if batch is not None and nb != batch:
                raise ValueError(
                    f"vjp: the cotangents' leading batch axes differ: {batch}, and {nb} at {path}")
            batch = nb
            cts.append(ct)
        bshape = batch or ()
        totals: list[Any] = [None] * len(self.xs)
        for out, ct in zip(self.outs, cts):
            if ct is None or not out.requires_grad:
                continue
            with reverse_transform():
                gs = reverse.run(out, ct, retain_graph=True, create_graph=live, inputs=self.xs,
                                 link_saved=self.keep)
            for k, g in enumerate(gs or ()):
                if g is not None:
                    totals[k] = g if totals[k] is None else totals[k] + g
        return [
            _wrap(g, x, live) if g is not None else Tensor._make(
                B.zeros(bshape + x._data.shape, x._data.dtype, x._data), False, None)
            for g, x in zip(totals, self.xs)]


def _vjp_leaves(
    f: Callable[..., Any], leaves: Sequence[Tensor]
) -> tuple[list[Tensor], TreeDef, _Pullback]:
    """Record f, a function of the Tensors ``leaves``, for its pullback."""
    with reverse_transform(), enable_grad():
        keep = _needs_graph(leaves)
        xs = [_differentiable_input(x, "vjp") for x in leaves]
        outs, odef = _tree_outputs(f(*xs), "vjp")
    return outs, odef, _Pullback(outs, odef.paths(), xs, keep)


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], tuple]]:
    """f(*primals) and a function mapping an output cotangent to one cotangent per primal.

    Primals may be containers (each cotangent then has its primal's structure), and so may f's
    output (the cotangent then has the output's structure).
    """
    with reverse_transform(), enable_grad():
        keep = _needs_graph(primals)
        xs, defs = [], []
        for i, p in enumerate(primals):
            xi, di = _tree_inputs(p, "vjp", i, _differentiable_input)
            xs += xi
            defs.append(di)
        outs, odef = _tree_outputs(f(*_split(xs, defs)), "vjp")
    pull = _Pullback(outs, odef.paths(), xs, keep)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cts = [cotangent] if odef.is_leaf else odef.flatten_up_to(cotangent, "vjp: the cotangent")
        return tuple(_split(pull(cts), defs))

    return odef.unflatten([o if keep else o.detach() for o in outs]), vjp_fn


def _tangent_value(t: Any, primal: Tensor, where: str = "") -> Any:
    if isinstance(t, Tensor):
        d = t if t.requires_grad or t._tangents else t._data
    else:
        d = B.array_like(t, primal._data)
    shape = d.shape
    ps = primal._data.shape
    if len(shape) < len(ps) or tuple(shape[len(shape) - len(ps):]) != ps:
        at = f" ({where})" if where else ""
        raise ValueError(
            f"jvp: tangent of shape {tuple(shape)}{at} does not match its primal's shape {ps} "
            "(leading batch axes allowed)"
        )
    dt = primal._data.dtype
    if not isinstance(d, Tensor) and d.dtype != dt:
        d = d.astype(dt)
    return d


def jvp(
    f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
) -> tuple[Any, Any]:
    """Forward mode: f(*primals) and its directional derivative along tangents, in one pass.

    Each tangent has its primal's structure (a primal may be a container); the output and its
    tangent have f's output structure.
    """
    return _jvp(f, primals, tangents, contiguous=True)


def _jvp(
    f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], contiguous: bool
) -> tuple[Any, Any]:
    """jvp; with contiguous=False the tangent may come back in any memory layout."""
    fix = _contiguous if contiguous else B.asarray
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    with forward_level() as level:
        xs: list[Tensor] = []
        defs: list[TreeDef] = []
        bshape: tuple = ()
        for i, (p, t) in enumerate(zip(primals, tangents)):
            pts, pdef = _tree_inputs(p, "jvp", i, _as_tensor)
            tls = pdef.flatten_up_to(t, f"jvp: tangent {i}")
            for pt, tl, path in zip(pts, tls, pdef.paths()):
                d = _tangent_value(tl, pt, f"argument {i} at {path}" if path else "")
                bshape = tuple(d.shape[: len(d.shape) - pt.ndim])
                xs.append(attach(pt, level, d))
            defs.append(pdef)
        outs, odef = _tree_outputs(f(*_split(xs, defs)), "jvp")
        ds = [tangent_of(o, level) for o in outs]
        ps = [drop_level(o, level) for o in outs]
    detach = not (STATE.fw_levels or _needs_graph((*primals, *tangents), depth=0))
    res_p, res_d = [], []
    for out, primal, d in zip(outs, ps, ds):
        if d is ZERO:
            d = B.zeros(bshape + out._data.shape, out._data.dtype, out._data)
        if isinstance(d, np.ndarray) or B.is_device_array(d):
            fixed = fix(d)
            if fixed is not d and _function.RECORDER is not None:  # cr.compile replays it
                _function.RECORDER.engine_call(fix, (d,), fixed)
            d = Tensor._make(fixed, False, None)
        if detach:
            primal, d = primal.detach(), Tensor._make(fix(d._data), False, None)
        res_p.append(primal)
        res_d.append(d)
    return odef.unflatten(res_p), odef.unflatten(res_d)


def jacobian(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, mode: str = "auto"
) -> Callable[..., Any]:
    """The Jacobian of f, shape out.shape + in.shape, by forward mode, reverse mode or auto.

    Both modes push a whole basis through one batched pass. ``auto`` picks forward mode when
    the input has fewer elements than the output (n forward directions against m reverse).
    With containers (JAX's convention) the result has f's output structure, and holds at each
    output leaf the input's structure of Jacobian blocks ``out_leaf.shape + in_leaf.shape``
    (a tuple of those, one per argument, for a tuple ``argnums``).
    """
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"jacobian: mode must be 'auto', 'forward' or 'reverse', got {mode!r}")

    def one(args: tuple, i: int) -> tuple[TreeDef, list[Any]]:
        """f's output structure, and for each output leaf the Jacobian wrt argument i."""
        xs, xdef = _tree_inputs(args[i], "jacobian", i, _as_tensor)

        def fi(*xl: Any) -> Any:
            return f(*args[:i], xdef.unflatten(xl), *args[i + 1:])

        if mode != "forward":
            outs, odef, pull = _vjp_leaves(fi, xs)
            n, m = sum(x._data.size for x in xs), sum(o._data.size for o in outs)
            if mode == "reverse" or not n < m:
                return odef, [xdef.unflatten(r) for r in _jac_reverse(outs, pull, xs)]
        odef, rows = _jac_forward(fi, xs)
        return odef, [xdef.unflatten(r) for r in rows]

    def wrapped(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacobian")
        if not nums:
            return ()
        per_arg = [one(args, i) for i in nums]
        odef = per_arg[0][0]
        if isinstance(argnums, int):
            return odef.unflatten(per_arg[0][1])
        return odef.unflatten(tuple(rows[j] for _, rows in per_arg)
                              for j in range(odef.num_leaves))

    return wrapped


def _basis(b: Any) -> Any:
    """b, a basis made from shapes alone: for cr.compile, a constant of the tape."""
    if _function.RECORDER is not None:
        _function.RECORDER.constants[id(b)] = b
    return b


def _row_major(jac: Tensor) -> Tensor:
    """jac as a row-major copy outside the graph (cr.compile replays the copy)."""
    out = _contiguous(jac._data)
    if out is not jac._data and _function.RECORDER is not None:
        _function.RECORDER.engine_call(_contiguous, (jac._data,), out)
    return Tensor._make(out, False, None)


def _jac_forward(f: Callable[..., Any], xs: list[Tensor]) -> tuple[TreeDef, list[list[Any]]]:
    """All input leaves' bases stacked on one leading axis, pushed in one forward pass."""
    sizes = [x._data.size for x in xs]
    n = sum(sizes)
    if len(xs) == 1:
        bases = [_basis(B.like(np.eye(n, dtype=xs[0]._data.dtype).reshape(
            (n, *xs[0]._data.shape)), xs[0]._data))]
    else:
        bases, off = [], 0
        for x, nk in zip(xs, sizes):
            b = np.zeros((n, nk), dtype=x._data.dtype)
            b[off:off + nk] = np.eye(nk, dtype=x._data.dtype)
            bases.append(_basis(B.like(b.reshape((n, *x._data.shape)), x._data)))
            off += nk
    out, d = _jvp(f, xs, bases, contiguous=False)
    outs, odef = tree_flatten(out)
    ds = odef.flatten_up_to(d)
    rows = []
    for o, dj in zip(outs, ds):
        row, off = [], 0
        for x, nk in zip(xs, sizes):
            piece = dj if len(xs) == 1 else dj[off:off + nk]
            off += nk
            jac = piece.reshape(nk, o._data.size).T.reshape(*o.shape, *x.shape)
            if not jac.requires_grad and not jac._tangents:
                jac = _row_major(jac)  # one copy, to row-major
            row.append(jac)
        rows.append(row)
    return odef, rows


def _jac_reverse(outs: list[Tensor], pull: _Pullback, xs: list[Tensor]) -> list[list[Tensor]]:
    """For each output leaf, its basis pulled back in one batched reverse pass."""
    rows = []
    for j, o in enumerate(outs):
        m = o._data.size
        cts: list[Any] = [None] * len(outs)
        cts[j] = _basis(B.like(np.eye(m, dtype=o._data.dtype).reshape((m, *o._data.shape)),
                               o._data))
        rows.append([g.reshape(*o.shape, *x.shape) for g, x in zip(pull(cts), xs)])
    return rows


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian of scalar f: forward mode over reverse mode (jacobian of grad).

    For a container argument, JAX's nesting: ``H[i][j]`` of shape ``leaf_i.shape +
    leaf_j.shape``.
    """
    return jacobian(grad(f, argnums), argnums, mode="forward")
