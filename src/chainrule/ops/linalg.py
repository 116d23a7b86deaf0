"""Linear algebra: batched matmul, einsum, dot, outer."""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from chainrule import backend as B
from chainrule.autodiff.function import Context, Function, _apply, _constant
from chainrule.autodiff.zero import ZERO
from chainrule.ops import rules as R
from chainrule.ops.elementwise import lift, promote, promote_all
from chainrule.tensor import Tensor, as_operand, has_tracked

NDArray = np.ndarray


class MatMul(Function):
    """a @ b for ndim >= 2, batched.  Reverse: (g @ b^T, a^T @ g).  Forward: da @ b + a @ db."""

    name = "matmul"
    n_in = 2

    @staticmethod
    def forward(ctx: Context, a: NDArray, b: NDArray) -> NDArray:
        a, b = promote("matmul", a, b)
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"matmul: {a.shape} @ {b.shape}: inner dimensions {a.shape[-1]} and "
                f"{b.shape[-2]} differ"
            )
        try:
            out = a @ b
        except ValueError:
            raise ValueError(
                f"matmul: {a.shape} @ {b.shape}: batch dimensions {a.shape[:-2]} and "
                f"{b.shape[:-2]} cannot be broadcast"
            ) from None
        ctx.saved = (a, b)
        return out

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        nb = ctx.batch
        ga = R.sum_to(R.matmul_t(g, b), a.shape, nb) if need_a else None
        gb = R.sum_to(R.matmul(R.mT(a), g), b.shape, nb) if need_b else None
        return ga, gb

    @staticmethod
    def jvp(ctx: Context, da: Any, db: Any) -> Any:
        a, b = ctx.saved
        da, db = lift(ctx, da, db)
        return R.matmul(da, b) + R.matmul(a, db)


class Einsum(Function):
    """einsum over explicit subscripts.  Each operand's rules are einsums of the others."""

    name = "einsum"

    @staticmethod
    def forward(ctx: Context, *operands_and_spec: Any) -> NDArray:
        *ops, spec = operands_and_spec
        ops = promote_all("einsum", ops)
        ins, out = spec
        ctx.ins, ctx.out = ins, out
        ctx.shapes = [o.shape for o in ops]
        ctx.saved = tuple(ops)
        try:
            return B.asarray(np.einsum(f"{','.join(ins)}->{out}", *ops, optimize=len(ops) > 2))
        except ValueError as e:
            shapes = ", ".join(str(o.shape) for o in ops)
            spec = f"{','.join(ins)}->{out}"
            raise ValueError(f"einsum: '{spec}' with shapes {shapes}: {e}") from None

    @staticmethod
    def _letters(ctx: Context, nb: int) -> str:
        used = set("".join(ctx.ins) + ctx.out)
        return "".join(c for c in string.ascii_letters if c not in used)[:nb]

    @staticmethod
    def vjp(ctx: Context, g: Any) -> tuple[Any, ...]:
        ops = ctx.saved
        nb = ctx.batch
        pool = Einsum._letters(ctx, len(string.ascii_letters))
        bl = pool[:nb]
        grads = []
        for i, sub in enumerate(ctx.ins):
            shape = ctx.shapes[i]
            size = dict(zip(sub, shape))
            uniq = "".join(dict.fromkeys(sub))  # a repeated index (a diagonal) counted once
            others = [o for j, o in enumerate(ops) if j != i]
            osubs = [s for j, s in enumerate(ctx.ins) if j != i]
            avail = set(ctx.out).union(*osubs) if osubs else set(ctx.out)
            kept = "".join(c for c in uniq if c in avail)
            r = einsum_spec([bl + ctx.out, *osubs], bl + kept, g, *others)
            want = tuple(size[c] for c in kept)
            if tuple(r.shape[nb:]) != want:  # a length-1 axis broadcast against the others
                got = tuple(r.shape[nb:])
                summed = tuple(1 if w == 1 else n for n, w in zip(got, want))
                if summed != got:  # this operand's length-1 axis met longer ones: sum
                    r = R.sum_to(r, summed, nb)
                r = R.broadcast_to(r, r.shape[:nb] + want)  # theirs met this one's: spread
            if kept != uniq:  # letters only in this operand: broadcast along them
                r = R.reshape(r, r.shape[:nb] + tuple(size[c] if c in avail else 1
                                                      for c in uniq))
                r = R.broadcast_to(r, r.shape[:nb] + tuple(size[c] for c in uniq))
            if uniq != sub:  # back onto the diagonal: r times an identity per repeat
                r = Einsum._undiagonal(r, bl, uniq, sub, size, pool[nb:])
            grads.append(r)
        return tuple(grads) if len(grads) > 1 else grads[0]  # one input: a bare cotangent

    @staticmethod
    def _undiagonal(r: Any, bl: str, uniq: str, sub: str, size: dict, fresh: str) -> Any:
        """The array over ``sub`` (repeated letters) equal to r on its diagonals, 0 elsewhere."""
        rv = R.value(r)
        dtype = rv.dtype
        seen: set[str] = set()
        letters, eye_subs, eyes = [], [], []
        for c in sub:
            if c in seen:
                f, fresh = fresh[0], fresh[1:]
                letters.append(f)
                eye_subs.append(c + f)
                eyes.append(B.namespace(rv).eye(size[c], dtype=dtype))
            else:
                seen.add(c)
                letters.append(c)
        return einsum_spec([bl + uniq, *eye_subs], bl + "".join(letters), r, *eyes)

    @staticmethod
    def jvp(ctx: Context, *tangents: Any) -> Any:
        ops = ctx.saved
        bl = Einsum._letters(ctx, ctx.batch)
        total: Any = ZERO
        for i, t in enumerate(tangents):
            if t is ZERO:
                continue
            subs = [bl + s if j == i else s for j, s in enumerate(ctx.ins)]
            args = [t if j == i else o for j, o in enumerate(ops)]
            total = total + einsum_spec(subs, bl + ctx.out, *args)
        return total


def einsum_spec(ins: list[str], out: str, *operands: Any) -> Any:
    """einsum of ndarrays (plain) or Tensors (recorded) with parsed subscripts."""
    if any(isinstance(o, Tensor) for o in operands):
        return _apply(Einsum, operands, ((tuple(ins), out),))
    return np.einsum(f"{','.join(ins)}->{out}", *operands)


def _parse(subscripts: str, operands: list[Tensor]) -> tuple[list[str], str]:
    s = subscripts.replace(" ", "")
    if "->" in s:
        lhs, out = s.split("->")
    else:
        lhs = s
        letters = lhs.replace(",", "").replace("...", "")
        out = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = lhs.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum: '{subscripts}' names {len(ins)} operands, got {len(operands)}")
    if "..." in s:  # expand the ellipsis into fresh letters
        free = [c for c in string.ascii_letters if c not in s]
        nell = max(o.ndim - len(i.replace("...", "")) for i, o in zip(ins, operands) if "..." in i)
        ell = "".join(free[:nell])
        ins = [i.replace("...", ell[nell - (o.ndim - len(i.replace("...", ""))):])
               for i, o in zip(ins, operands)]
        out = out.replace("...", ell)
    for i, o in zip(ins, operands):
        if len(i) != o.ndim:
            raise ValueError(f"einsum: subscripts '{i}' do not match an operand of shape {o.shape}")
    return ins, out


def _tensors(*xs: Any) -> list[Tensor]:
    """xs as Tensors; a non-Tensor is a constant taking the Tensors' float dtype (as in x * 2.0)."""
    out = []
    for x in xs:
        if isinstance(x, Tensor):
            out.append(x)
        elif isinstance(x, list | tuple) and has_tracked(x):
            out.append(as_operand(x))  # a list holding recorded tensors: stacked, differentiable
        else:
            out.append(Tensor(_constant(x, xs)))
    return out


def einsum(subscripts: Any, *operands: Any) -> Tensor:
    """Einstein summation, as np.einsum (subscripts, or the interleaved form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``), differentiable in every operand."""
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved(subscripts, *operands)
    ops = _tensors(*operands)
    ins, out = _parse(subscripts, ops)
    return _apply(Einsum, tuple(ops), ((tuple(ins), out),))


def _interleaved(*args: Any) -> tuple[str, tuple]:
    """np.einsum's interleaved form (operand, sublist, ..., [output sublist]) as subscripts."""
    def letters(sub: Any) -> str:
        out = []
        for k in sub:
            if k is Ellipsis:
                out.append("...")
            elif isinstance(k, int) and 0 <= k < 52:
                out.append(string.ascii_letters[k])
            else:
                raise ValueError(f"einsum: subscript {k!r} must be an int in [0, 52) or ...")
        return "".join(out)

    ops, subs = list(args[0::2]), [letters(s) for s in args[1::2]]
    if len(args) % 2:  # an explicit output sublist closes the call
        out_sub = letters(args[-1])
        ops, subs = ops[:-1], subs
        return f"{','.join(subs)}->{out_sub}", tuple(ops)
    return ",".join(subs), tuple(ops)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: batched, and 1-D operands promoted then squeezed."""
    a, b = _tensors(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: {a.shape} @ {b.shape}: operands must not be 0-d")
    if a.ndim >= 2 and b.ndim >= 2:
        return MatMul.apply(a, b)
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: {a.shape} @ {b.shape}: inner dimensions {a.shape[-1]} and "
            f"{b.shape[-2] if b.ndim > 1 else b.shape[0]} differ"
        )
    out = MatMul.apply(a2, b2)
    shape = out.shape
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:]
    if b.ndim == 1:
        shape = shape[:-1]
    return out.reshape(shape)


def dot(a: Any, b: Any) -> Tensor:
    """np.dot: inner product of vectors, matrix product of matrices, scaling by a 0-d."""
    a, b = _tensors(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return matmul(a, b)
    if a.shape[-1] != b.shape[-2]:  # (einsum would broadcast a length-1 axis)
        raise ValueError(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} "
                         f"(dim {a.ndim - 1}) != {b.shape[-2]} (dim {b.ndim - 2})")
    return einsum(_dot_spec(a.ndim, b.ndim), a, b)


def _dot_spec(na: int, nb: int) -> str:
    letters = string.ascii_lowercase
    sa = letters[: na - 1] + "z"
    sb = letters[na - 1 : na - 1 + nb - 2] + "z" + letters[na - 1 + nb - 2]
    return f"{sa},{sb}->{sa[:-1]}{sb.replace('z', '')}"


def outer(a: Any, b: Any) -> Tensor:
    """Outer product of two vectors (flattened first, as np.outer)."""
    a, b = _tensors(a, b)
    return a.reshape(-1, 1) * b.reshape(1, -1)
