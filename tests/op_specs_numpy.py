"""Rows of the op table for NumPy's further functions (elementwise_more, shape_more, scan,
products, selection); op_specs.OP_SPECS takes them in, so every generic test covers them.
Import op_specs (which imports this module), not this module directly."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from op_specs import (
    UNARY,
    OpSpec,
    _away,
    _each,
    _normal,
    away_from_zero,
    binary,
    case,
    distinct,
    normal,
    positive,
    positive_base,
    unary,
    with_a_zero,
)

import chainrule as cr

try:
    import torch
except ImportError:  # only the torch tests call the torch column, and they skip without it
    torch = None

inside_08 = _each(lambda rng, s: rng.uniform(-0.8, 0.8, s))
above_one = _each(lambda rng, s: rng.uniform(1.2, 3.0, s))
normal_by_away = _each(_normal, _away)
normal_away_by = _each(_away, _normal)


def with_nonfinite(rng: np.random.Generator, shapes: Any, dtype: Any) -> tuple:
    """Normal values with a NaN, a +inf and a -inf in each operand of 3 or more entries."""
    out = normal(rng, shapes, dtype)
    for a in out:
        if a.size >= 3:
            a.flat[rng.permutation(a.size)[:3]] = [np.nan, np.inf, -np.inf]
    return out


def _perm_of(np_fn: Any) -> Any:
    """A torch function that permutes axes as np_fn does (e.g. np.rollaxis)."""

    def f(x: Any, **kw: Any) -> Any:
        probe = np.broadcast_to(np.empty((), np.int8), tuple(range(2, x.ndim + 2)))
        return x.permute(tuple(n - 2 for n in np_fn(probe, **kw).shape))

    return f


def _joined(split_fn: Any, cat: Any, takes_axis: bool = True) -> Any:
    """A split function as one output: the pieces joined in reverse order along the split axis."""

    def f(x: Any, sections: Any, axis: int = 0) -> Any:
        pieces = split_fn(x, sections, axis) if takes_axis else split_fn(x, sections)
        return cat(pieces[::-1], axis)

    return f


def _torch_sinc(x: Any) -> Any:
    zero = x == 0
    safe = torch.where(zero, 1.0, x) * np.pi
    return torch.where(zero, 1 - (np.pi * x) ** 2 / 6, torch.sin(safe) / safe)


def _torch_cross(a: Any, b: Any) -> Any:
    return torch.linalg.cross(*torch.broadcast_tensors(a, b), dim=-1)


def _torch_select(a: Any, b: Any, conds: Any, default: float) -> Any:
    return torch.where(torch.tensor(conds[0]), a, torch.where(torch.tensor(conds[1]), b, default))


def _torch_diff(x: Any, n: int = 1, axis: int = -1, prepend: Any = None) -> Any:
    if prepend is not None:
        shape = list(x.shape)
        shape[axis] = 1
        prepend = torch.full(shape, prepend, dtype=x.dtype)
    return torch.diff(x, n, axis, prepend)


def _torch_gradient(x: Any, h: Any = 1.0, axis: int = 0, edge_order: int = 1) -> Any:
    if np.ndim(h):  # coordinates
        h = (torch.as_tensor(np.asarray(h), dtype=x.dtype),)
    return torch.gradient(x, spacing=h, dim=axis, edge_order=edge_order)[0]


def _torch_sort(x: Any, axis: Any = -1) -> Any:
    return torch.sort(x.reshape(-1) if axis is None else x, dim=-1 if axis is None else axis)[0]


def _torch_partition(x: Any, kth: Any, axis: Any = -1) -> Any:
    """torch has no partition; with every position a kth, np.partition is the sort."""
    return _torch_sort(x, axis)


def _torch_scan(fn_name: str) -> Any:
    def f(x: Any, axis: Any = None) -> Any:
        return getattr(torch, fn_name)(x.reshape(-1) if axis is None else x, -1 if axis is None
                                       else axis)

    return f


def _with_a_nan(base: Any) -> Any:
    """base's values with a NaN in each operand of 3 or more entries (the nan reductions)."""

    def domain(rng: np.random.Generator, shapes: Any, dtype: Any) -> tuple:
        out = base(rng, shapes, dtype)
        for a in out:
            if a.size >= 3:
                a.flat[rng.integers(a.size)] = np.nan
        return out

    return domain


def _tdims(x: Any, axis: Any) -> tuple[int, ...]:
    return tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis


def _torch_nan(fn_name: str, fill: float) -> Any:
    """A torch reduction of x with its NaNs replaced by fill (gradient 0 there)."""

    def f(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        x = torch.where(torch.isnan(x), torch.full_like(x, fill), x)
        if not x.ndim:
            return x
        if fn_name == "prod":
            for d in sorted((d % x.ndim for d in _tdims(x, axis)), reverse=True):
                x = torch.prod(x, d, keepdim=keepdims)
            return x
        return getattr(torch, fn_name)(x, dim=_tdims(x, axis), keepdim=keepdims)

    return f


def _torch_nanmean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return torch.nanmean(x, dim=_tdims(x, axis), keepdim=keepdims) if x.ndim else x


def _torch_nanvar(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    nan, dims = torch.isnan(x), _tdims(x, axis)
    m = torch.where(nan, 0, x).sum(dim=dims, keepdim=True) / (~nan).sum(dim=dims, keepdim=True)
    d = torch.where(nan, 0, x - m)
    return (d * d).sum(dim=dims, keepdim=keepdims) / ((~nan).sum(dim=dims, keepdim=keepdims) - ddof)


def _torch_nanstd(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    return torch.sqrt(_torch_nanvar(x, axis, keepdims, ddof))


def _torch_ptp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    if not x.ndim:
        return x - x
    return (torch.amax(x, dim=_tdims(x, axis), keepdim=keepdims)
            - torch.amin(x, dim=_tdims(x, axis), keepdim=keepdims))


def _torch_cumulative_sum(x: Any, axis: Any = None, include_initial: bool = False) -> Any:
    y = torch.cumsum(x, 0 if axis is None else axis)
    if not include_initial:
        return y
    ax = 0 if axis is None else axis % x.ndim
    return torch.cat([torch.zeros_like(y.narrow(ax, 0, 1)), y], ax)


_NAN_REDUCE = (case((2, 3)), case((2, 3), axis=0), case((2, 3, 2), axis=(0, 2), keepdims=True),
               case((2, 3), axis=-1, keepdims=True), case((4,)))
_NAN_VAR = (case((2, 3)), case((2, 4), axis=1, ddof=1),
            case((2, 3, 2), axis=(0, 2), keepdims=True, ddof=1), case((4,), ddof=1))


def _torch_quantile(x: Any, q: Any, axis: Any = None, keepdims: bool = False) -> Any:
    q = np.asarray(q)  # (torch's q is at most 1-d: a 2-d q goes in flat and comes out reshaped)
    y = torch.quantile(x, torch.as_tensor(q.reshape(-1) if q.ndim else q, dtype=x.dtype),
                       dim=axis, keepdim=keepdims)
    return y.reshape(q.shape + y.shape[1:]) if q.ndim else y


def _torch_percentile(x: Any, q: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _torch_quantile(x, np.true_divide(q, 100), axis, keepdims)


def _torch_median(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return torch.quantile(x, 0.5, dim=axis, keepdim=keepdims)  # (torch.median takes the lower)


def _torch_nanmedian(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return torch.nanquantile(x, 0.5, dim=axis, keepdim=keepdims)


def _average(a: Any, w: Any = None, **kw: Any) -> Any:
    return cr.average(a, weights=w, **kw)


def _np_average(a: Any, w: Any = None, **kw: Any) -> Any:
    return np.average(a, weights=w, **kw)


def _torch_average(a: Any, w: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    if w.shape != a.shape:
        w = w.reshape([len(w) if i == axis % a.ndim else 1 for i in range(a.ndim)])
    dims = tuple(range(a.ndim)) if axis is None else axis
    return (a * w).sum(dims, keepdim=keepdims) / w.expand(a.shape).sum(dims, keepdim=keepdims)


def _torch_take_along_axis(x: Any, indices: Any = None, axis: Any = -1) -> Any:
    return torch.take_along_dim(x, torch.as_tensor(indices), dim=axis)

def _torch_correlate(a: Any, v: Any, mode: str = "valid") -> Any:
    """np.correlate through torch's conv1d: the full correlation, then mode's window."""
    a, v = a.reshape(-1), v.reshape(-1)  # convolve takes 0-d ones as length 1
    n, m = a.shape[0], v.shape[0]
    if n < m:
        return torch.flip(_torch_correlate(v, a, mode), (0,))
    full = torch.nn.functional.conv1d(a.reshape(1, 1, n), v.reshape(1, 1, m),
                                      padding=m - 1).reshape(-1)
    start, length = {"full": (0, n + m - 1), "same": (m - 1 - m // 2, n),
                     "valid": (m - 1, n - m + 1)}[mode]
    return full[start:start + length]


def _torch_convolve(a: Any, v: Any, mode: str = "full") -> Any:
    a, v = a.reshape(-1), v.reshape(-1)
    if v.shape[0] > a.shape[0]:
        a, v = v, a
    return _torch_correlate(a, torch.flip(v, (0,)), mode)


def _knots(xp: np.ndarray, *operands: Any) -> np.ndarray:
    """interp's constant knots in the operands' float dtype (chainrule mixes no float dtypes),
    the default float dtype where the operands are integers or bools."""
    dt = next((a.dtype for a in operands if a.dtype.kind == "f"), cr.get_default_dtype())
    return xp.astype(dt)


def _torch_interp(x: Any, fp: Any, xp: Any) -> Any:
    """np.interp in torch (no torch counterpart): the interval's line, fp's ends outside."""
    xp = torch.as_tensor(xp, dtype=x.dtype) if not torch.is_tensor(xp) else xp
    j = (torch.searchsorted(xp, x.detach(), right=True) - 1).clamp(0, xp.shape[0] - 2)
    line = fp[j] + (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]) * (x - xp[j])
    return torch.where(x < xp[0], fp[0], torch.where(x > xp[-1], fp[-1], line))


def _torch_cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
               ddof: Any = None, fweights: Any = None, aweights: Any = None) -> Any:
    x = m if rowvar or m.ndim < 2 else m.T
    if y is not None:
        y = y if rowvar or y.ndim < 2 else y.T
        x = torch.cat([torch.atleast_2d(x), torch.atleast_2d(y)])
    return torch.cov(x, correction=ddof if ddof is not None else int(not bias),
                     fweights=None if fweights is None else torch.as_tensor(fweights),
                     aweights=None if aweights is None else torch.as_tensor(aweights))


def _torch_corrcoef(x: Any, y: Any = None, rowvar: bool = True) -> Any:
    x = x if rowvar or x.ndim < 2 else x.T
    if y is not None:
        y = y if rowvar or y.ndim < 2 else y.T
        x = torch.cat([torch.atleast_2d(x), torch.atleast_2d(y)])
    return torch.corrcoef(x)


def knots_apart(rng: np.random.Generator, shapes: Any, dtype: Any) -> tuple:
    """interp's (x, fp): x within and beyond the knots _XP, at least 0.05 from every knot."""
    x = rng.uniform(-2.5, 2.5, shapes[0])
    near = np.abs(x[..., None] - _XP).min(-1) < 0.05
    x = np.where(near, x + 0.1, x)
    return (x.astype(dtype), *(rng.standard_normal(s).astype(dtype) for s in shapes[1:]))


_XP = np.array([-1.5, -0.4, 0.3, 1.2, 2.0])
_FW, _AW = np.array([1, 2, 1, 3, 1]), np.array([0.5, 1.0, 0.75, 0.25, 1.0])

_MASK = np.array([[True, False, True], [False, False, True]])
_TRI = (case((3, 4)), case((3, 4), k=1), case((2, 3, 3), k=-1), case((4,)))
_SPLITS = (case((5, 2), sections=3), case((2, 6), sections=[1, 4], axis=1))
_AXIS3 = (case((2, 3, 2)),)

NUMPY_SPECS: list[OpSpec] = [
    # ----- elementwise_more -----
    unary("arcsin", cr.arcsin, np.arcsin, lambda x: x.asin(), inside_08),
    unary("arccos", cr.arccos, np.arccos, lambda x: x.acos(), inside_08),
    unary("arctan", cr.arctan, np.arctan, lambda x: x.atan()),
    unary("sinh", cr.sinh, np.sinh, lambda x: x.sinh()),
    unary("cosh", cr.cosh, np.cosh, lambda x: x.cosh()),
    unary("arcsinh", cr.arcsinh, np.arcsinh, lambda x: x.asinh()),
    unary("arccosh", cr.arccosh, np.arccosh, lambda x: x.acosh(), above_one),
    unary("arctanh", cr.arctanh, np.arctanh, lambda x: x.atanh(), inside_08),
    unary("exp2", cr.exp2, np.exp2, lambda x: torch.exp2(x)),
    unary("expm1", cr.expm1, np.expm1, lambda x: x.expm1()),
    unary("log2", cr.log2, np.log2, lambda x: x.log2(), positive),
    unary("log10", cr.log10, np.log10, lambda x: x.log10(), positive),
    unary("square", cr.square, np.square, lambda x: x.square()),
    unary("reciprocal", cr.reciprocal, np.reciprocal, lambda x: x.reciprocal(), away_from_zero),
    unary("fabs", cr.fabs, np.fabs, lambda x: x.abs(), away_from_zero),
    unary("floor", cr.floor, np.floor, lambda x: x.floor()),
    unary("ceil", cr.ceil, np.ceil, lambda x: x.ceil()),
    unary("trunc", cr.trunc, np.trunc, lambda x: x.trunc()),
    unary("rint", cr.rint, np.rint, lambda x: x.round()),
    unary("round_decimals", partial(cr.round, decimals=2), partial(np.round, decimals=2),
          lambda x: x.round(decimals=2), op="round"),
    unary("round_negative_decimals", partial(cr.around, decimals=-1),
          partial(np.around, decimals=-1), lambda x: x.round(decimals=-1), op="round"),
    unary("sinc", cr.sinc, np.sinc, lambda x: torch.sinc(x)),
    # torch's sinc has no second derivative at 0 (-pi^2/3): compare with its series there
    unary("sinc_at_zero", cr.sinc, np.sinc, _torch_sinc, with_a_zero, op="sinc"),
    unary("deg2rad", cr.deg2rad, np.deg2rad, lambda x: torch.deg2rad(x)),
    unary("rad2deg", cr.rad2deg, np.rad2deg, lambda x: torch.rad2deg(x)),
    OpSpec("nan_to_num", cr.nan_to_num, np.nan_to_num,
           lambda x, **kw: torch.nan_to_num(x, **kw),
           (case((2, 3), posinf=5.0, neginf=-4.0), case((4,), nan=0.5, posinf=2.0, neginf=-1.0),
            case(())), with_nonfinite),
    unary("real", cr.real, np.real, lambda x: x * 1),
    unary("conj", cr.conj, np.conj, lambda x: x.conj()),
    binary("arctan2", cr.arctan2, np.arctan2, lambda a, b: torch.atan2(a, b), away_from_zero),
    binary("logaddexp", cr.logaddexp, np.logaddexp, lambda a, b: torch.logaddexp(a, b)),
    binary("logaddexp2", cr.logaddexp2, np.logaddexp2, lambda a, b: torch.logaddexp2(a, b)),
    binary("mod", cr.mod, np.mod, lambda a, b: torch.remainder(a, b), normal_by_away),
    binary("mod_operator", lambda a, b: a % b, np.mod, lambda a, b: a % b, normal_by_away,
           op="mod"),
    binary("floor_divide", cr.floor_divide, np.floor_divide,
           lambda a, b: torch.floor(a / b), normal_by_away),
    binary("floordiv_operator", lambda a, b: a // b, np.floor_divide,
           lambda a, b: torch.floor(a / b), normal_by_away, op="floor_divide"),
    binary("hypot", cr.hypot, np.hypot, lambda a, b: torch.hypot(a, b), away_from_zero),
    binary("fmax", cr.fmax, np.fmax, lambda a, b: torch.fmax(a, b), distinct),
    binary("fmin", cr.fmin, np.fmin, lambda a, b: torch.fmin(a, b), distinct),
    # ----- elementwise_extra -----
    unary("cbrt", cr.cbrt, np.cbrt, lambda x: torch.sign(x) * x.abs() ** (1 / 3),
          away_from_zero),
    binary("copysign", cr.copysign, np.copysign, lambda a, b: torch.copysign(a, b),
           away_from_zero),
    binary("fmod", cr.fmod, np.fmod, lambda a, b: torch.fmod(a, b), normal_by_away),
    binary("float_power", cr.float_power, np.float_power,
           lambda a, b: torch.float_power(a, b), positive_base,
           xfail={"float32": "float64 by definition, as np.float_power"}),
    # torch's heaviside has no derivative; its where form has (0 in x1, x1 == 0 in x2)
    binary("heaviside", cr.heaviside, np.heaviside,
           lambda a, b: torch.where(a > 0, 1.0, torch.where(a < 0, 0.0, b)), normal_away_by),
    unary("positive", cr.positive, np.positive, lambda x: x.positive()),
    # ----- scans and orderings -----
    OpSpec("cumsum", cr.cumsum, np.cumsum, _torch_scan("cumsum"),
           (case((2, 3)), case((2, 3), axis=1), case((2, 3, 2), axis=-3), case(()))),
    OpSpec("cumprod", cr.cumprod, np.cumprod, _torch_scan("cumprod"),
           (case((2, 3), axis=1), case((3, 2), axis=0), case((4,))), away_from_zero),
    OpSpec("cumprod_with_zero", cr.cumprod, np.cumprod, _torch_scan("cumprod"),
           (case((2, 3), axis=1), case((4,))), with_a_zero, op="cumprod"),
    OpSpec("diff", cr.diff, np.diff, _torch_diff,
           (case((4,)), case((3, 4), n=2, axis=0), case((2, 3), axis=1, prepend=0.5))),
    OpSpec("gradient", lambda x, h=1.0, axis=0, edge_order=1: cr.gradient(
        x, h, axis=axis, edge_order=edge_order),
           lambda x, h=1.0, axis=0, edge_order=1: np.gradient(x, h, axis=axis,
                                                              edge_order=edge_order),
           _torch_gradient, (case((5,)), case((4, 3), h=0.5, axis=1, edge_order=2),
                             case((5,), h=np.array([0.0, 0.5, 1.5, 3.5, 4.0])),
                             case((4, 3), h=np.array([0.0, 1.0, 3.0, 4.0]), edge_order=2))),
    OpSpec("sort", cr.sort, np.sort, _torch_sort,
           (case((5,)), case((3, 4), axis=0), case((2, 3), axis=None)), distinct),
    OpSpec("partition", cr.partition, np.partition, _torch_partition,
           (case((5,), kth=(0, 1, 2, 3, 4)), case((3, 4), kth=(0, 1, 2), axis=0),
            case((2, 3), kth=tuple(range(6)), axis=None)),
           distinct),
    # ----- products -----
    OpSpec("vdot", cr.vdot, np.vdot,
           lambda a, b: torch.vdot(a.reshape(-1), b.reshape(-1)),
           (case((3,), (3,)), case((2, 3), (6,)), case((2, 2), (2, 2)), case((), ()))),
    OpSpec("trapezoid", lambda y, x, axis=-1: cr.trapezoid(y, x, axis=axis),
           lambda y, x, axis=-1: np.trapezoid(y, x, axis=axis),
           lambda y, x, axis=-1: torch.trapezoid(y, x, dim=axis),
           (case((3, 4), (4,)), case((4, 3), (4,), axis=0), case((2, 3), (2, 3)),
            case((5,), (5,)))),
    OpSpec("trapezoid_dx", cr.trapezoid, np.trapezoid,
           lambda y, dx=1.0, axis=-1: torch.trapezoid(y, dx=dx, dim=axis),
           (case((3, 4)), case((4, 3), dx=0.5, axis=0), case((2,), dx=2.0)), op="trapezoid"),
    OpSpec("convolve", cr.convolve, np.convolve, _torch_convolve,
           (case((5,), (3,)), case((2,), (4,), mode="same"), case((5,), (2,), mode="valid"),
            case((3,), (4,), mode="valid"), case((4,), (4,), mode="same"), case((), (3,)))),
    OpSpec("correlate", cr.correlate, np.correlate, _torch_correlate,
           (case((5,), (3,)), case((2,), (4,), mode="full"), case((5,), (2,), mode="same"),
            case((3,), (4,), mode="same"), case((4,), (3,), mode="valid"), case((1,), (3,)))),
    OpSpec("bincount", lambda w, x, minlength=0: cr.bincount(x, w, minlength),
           lambda w, x, minlength=0: np.bincount(x, w, minlength),
           lambda w, x, minlength=0: torch.zeros(max(int(x.max()) + 1, minlength),
                                                 dtype=w.dtype).index_add(0, torch.as_tensor(x), w),
           (case((5,), x=np.array([0, 2, 2, 4, 1])), case((4,), x=np.array([3, 3, 0, 1]),
                                                          minlength=6))),
    # ----- numeric and statistics -----
    OpSpec("interp", lambda x, fp, xp: cr.interp(x, _knots(xp, x, fp), fp),
           lambda x, fp, xp: np.interp(x, _knots(xp, x, fp), fp), _torch_interp,
           (case((7,), (5,), xp=_XP), case((2, 3), (5,), xp=_XP), case((), (5,), xp=_XP)),
           knots_apart),
    OpSpec("cov", cr.cov, np.cov, _torch_cov,
           (case((3, 5)), case((5, 3), rowvar=False), case((4,)), case((3, 5), bias=True),
            case((3, 5), ddof=2), case((2, 5), (3, 5)), case((3, 5), fweights=_FW),
            case((3, 5), aweights=_AW, ddof=0), case((2, 5), fweights=_FW, aweights=_AW))),
    OpSpec("corrcoef", cr.corrcoef, np.corrcoef, _torch_corrcoef,
           (case((3, 5)), case((5, 3), rowvar=False), case((2, 4), (4,)))),
    OpSpec("tensordot", cr.tensordot, np.tensordot,
           lambda a, b, axes=2: torch.tensordot(a, b, dims=axes),
           (case((2, 3, 4), (3, 4, 2)), case((2, 3), (3, 2), axes=1),
            case((2, 3, 2), (3, 2, 2), axes=([0, 1], [1, 0])), case((3,), (2,), axes=0))),
    OpSpec("inner", cr.inner, np.inner, lambda a, b: torch.inner(a, b),
           (case((3,), (3,)), case((2, 3), (4, 3)), case((), (2, 3)))),
    OpSpec("kron", cr.kron, np.kron, lambda a, b: torch.kron(a, b),
           (case((2, 3), (2, 2)), case((3,), (2,)), case((2,), (2, 3)))),
    OpSpec("cross", cr.cross, np.cross, _torch_cross,
           (case((3,), (3,)), case((2, 3), (3,)), case((4, 3), (4, 3)))),
    OpSpec("vecdot", cr.vecdot, np.vecdot,
           lambda a, b, axis=-1, keepdims=False: torch.linalg.vecdot(a, b, dim=axis).unsqueeze(
               axis) if keepdims else torch.linalg.vecdot(a, b, dim=axis),
           (case((2, 3), (2, 3)), case((2, 3), (3,)), case((3, 2), (3, 2), axis=0),
            case((2, 1, 3), (4, 3)), case((3, 2), (3, 2), axis=0, keepdims=True))),
    # ----- array API names -----
    OpSpec("matrix_transpose", cr.matrix_transpose, np.matrix_transpose, lambda x: x.mT,
           (case((2, 3)), case((2, 3, 4)))),
    OpSpec("broadcast_arrays", lambda *xs: cr.stack(cr.broadcast_arrays(*xs)),
           lambda *xs: np.stack(np.broadcast_arrays(*xs)),
           lambda *xs: torch.stack(torch.broadcast_tensors(*xs)),
           (case((2, 1), (3,)), case((), (2, 3)), case((2, 3), (2, 3)))),
    # ----- selection -----
    OpSpec("select", lambda a, b, conds, default: cr.select(conds, [a, b], default),
           lambda a, b, conds, default: np.select(conds, [a, b], default), _torch_select,
           (case((2, 3), (2, 3), conds=[_MASK, ~_MASK[::-1]], default=0.5),
            case((2, 3), (3,), conds=[_MASK, np.ones((2, 3), bool)], default=0.0))),
    # ----- shape_more -----
    OpSpec("moveaxis", cr.moveaxis, np.moveaxis,
           lambda x, source, destination: torch.moveaxis(x, source, destination),
           (case((2, 3, 4), source=0, destination=-1),
            case((2, 3, 4), source=(0, 1), destination=(2, 0)))),
    OpSpec("rollaxis", cr.rollaxis, np.rollaxis, _perm_of(np.rollaxis),
           (case((2, 3, 4), axis=2), case((2, 3, 4), axis=0, start=2))),
    OpSpec("roll", cr.roll, np.roll,
           lambda x, shift, axis=None: torch.roll(x, shift, axis),
           (case((2, 3), shift=1), case((2, 3), shift=(1, -2), axis=(0, 1)),
            case((2, 3), shift=2, axis=-1))),
    OpSpec("repeat", cr.repeat, np.repeat,
           lambda x, repeats, axis=None: torch.repeat_interleave(
               x, torch.as_tensor(repeats), axis),
           (case((2, 3), repeats=2), case((2, 3), repeats=[2, 0, 1], axis=1),
            case((2, 3), repeats=3, axis=0), case((), repeats=2))),
    OpSpec("tile", cr.tile, np.tile,
           lambda x, reps: torch.tile(x, reps if isinstance(reps, tuple) else (reps,)),
           (case((2, 3), reps=2), case((3,), reps=(2, 2)), case((2, 1, 2), reps=(1, 3)))),
    OpSpec("flip", cr.flip, np.flip,
           lambda x, axis=None: torch.flip(x, tuple(range(x.ndim)) if axis is None else
                                          axis if isinstance(axis, tuple) else (axis,)),
           (case((2, 3)), case((2, 3, 2), axis=1), case((2, 3, 2), axis=(0, -1)))),
    OpSpec("fliplr", cr.fliplr, np.fliplr, lambda x: torch.fliplr(x), (case((2, 3)),)),
    OpSpec("flipud", cr.flipud, np.flipud, lambda x: torch.flipud(x),
           (case((2, 3)), case((3,)))),
    OpSpec("rot90", cr.rot90, np.rot90,
           lambda x, k=1, axes=(0, 1): torch.rot90(x, k, axes),
           (case((2, 3)), case((2, 3, 2), k=2, axes=(0, 2)), case((2, 3), k=-1),
            case((2, 3), k=4))),
    OpSpec("ravel", cr.ravel, np.ravel, lambda x: torch.ravel(x),
           (case((2, 3)), case(()))),
    unary("atleast_1d", cr.atleast_1d, np.atleast_1d, lambda x: torch.atleast_1d(x)),
    unary("atleast_2d", cr.atleast_2d, np.atleast_2d, lambda x: torch.atleast_2d(x)),
    OpSpec("atleast_3d", cr.atleast_3d, np.atleast_3d, lambda x: torch.atleast_3d(x),
           UNARY + _AXIS3),
    OpSpec("hstack", lambda *xs: cr.hstack(xs), lambda *xs: np.hstack(xs),
           lambda *xs: torch.hstack(xs), (case((2, 3), (2, 1)), case((3,), (2,)))),
    OpSpec("vstack", lambda *xs: cr.vstack(xs), lambda *xs: np.vstack(xs),
           lambda *xs: torch.vstack(xs), (case((2, 3), (1, 3)), case((3,), (3,)))),
    OpSpec("row_stack", lambda *xs: cr.row_stack(xs), lambda *xs: np.vstack(xs),
           lambda *xs: torch.vstack(xs), (case((3,), (2, 3)),)),
    OpSpec("fft.fftshift", lambda x, axes=None: cr.fft.fftshift(x, axes),
           lambda x, axes=None: np.fft.fftshift(x, axes),
           lambda x, axes=None: torch.fft.fftshift(x, axes),
           (case((5,)), case((3, 4)), case((3, 4), axes=1))),
    OpSpec("fft.ifftshift", lambda x, axes=None: cr.fft.ifftshift(x, axes),
           lambda x, axes=None: np.fft.ifftshift(x, axes),
           lambda x, axes=None: torch.fft.ifftshift(x, axes),
           (case((5,)), case((3, 4)), case((3, 4), axes=0))),
    OpSpec("r_", lambda a, b: cr.r_[a, b], lambda a, b: np.r_[a, b],
           lambda a, b: torch.cat([a.reshape(-1), b.reshape(-1)]),
           (case((3,), (2,)), case((2,), ()))),
    OpSpec("c_", lambda a, b: cr.c_[a, b], lambda a, b: np.c_[a, b],
           lambda a, b: torch.cat([a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)], 1),
           (case((3,), (3,)), case((3, 2), (3,)))),
    OpSpec("meshgrid", lambda *xs, indexing: cr.stack(cr.meshgrid(*xs, indexing=indexing)),
           lambda *xs, indexing: np.stack(np.meshgrid(*xs, indexing=indexing)),
           lambda *xs, indexing: torch.stack(torch.meshgrid(*xs, indexing=indexing)),
           (case((3,), (2,), indexing="xy"), case((3,), (2,), indexing="ij"),
            case((2,), (3,), (4,), indexing="xy"))),
    OpSpec("dstack", lambda *xs: cr.dstack(xs), lambda *xs: np.dstack(xs),
           lambda *xs: torch.dstack(xs), (case((2, 3), (2, 3)), case((3,), (3,)))),
    OpSpec("column_stack", lambda *xs: cr.column_stack(xs), lambda *xs: np.column_stack(xs),
           lambda *xs: torch.column_stack(xs), (case((3,), (3, 2)), case((2,), (2,)))),
    OpSpec("append", cr.append, np.append,
           lambda a, b, axis=None: torch.cat([a.reshape(-1), b.reshape(-1)]) if axis is None
           else torch.cat([a, b], axis),
           (case((2, 3), (2,)), case((2, 3), (1, 3), axis=0))),
    OpSpec("array_split", _joined(cr.array_split, cr.concatenate),
           _joined(np.array_split, np.concatenate),
           _joined(lambda x, s, axis: torch.tensor_split(x, s, axis), torch.cat)
           if torch else None, _SPLITS),
    OpSpec("hsplit", _joined(cr.hsplit, cr.concatenate, False),
           _joined(np.hsplit, np.concatenate, False),
           _joined(lambda x, s: torch.hsplit(x, s), torch.cat, False) if torch else None,
           (case((2, 4), axis=1, sections=2),)),
    OpSpec("vsplit", _joined(cr.vsplit, cr.concatenate, False),
           _joined(np.vsplit, np.concatenate, False),
           _joined(lambda x, s: torch.vsplit(x, s), torch.cat, False) if torch else None,
           (case((4, 2), sections=[1, 3]),)),
    OpSpec("dsplit", _joined(cr.dsplit, cr.concatenate, False),
           _joined(np.dsplit, np.concatenate, False),
           _joined(lambda x, s: torch.dsplit(x, s), torch.cat, False) if torch else None,
           (case((2, 1, 4), axis=2, sections=2),)),
    OpSpec("tril", cr.tril, np.tril, lambda x, k=0: torch.tril(x, k) if x.ndim > 1 else
           torch.tril(x.expand(x.shape[0], -1), k), _TRI),
    OpSpec("triu", cr.triu, np.triu, lambda x, k=0: torch.triu(x, k) if x.ndim > 1 else
           torch.triu(x.expand(x.shape[0], -1), k), _TRI),
    OpSpec("diag", cr.diag, np.diag, lambda x, k=0: torch.diag(x, k),
           (case((3,)), case((2,), k=1), case((3, 4)), case((3, 4), k=-1))),
    OpSpec("diagonal", cr.diagonal, np.diagonal,
           lambda x, offset=0, axis1=0, axis2=1: torch.diagonal(x, offset, axis1, axis2),
           (case((3, 4)), case((2, 3, 4), offset=1, axis1=-1, axis2=0),
            case((2, 3, 3), axis1=1, axis2=2))),
    OpSpec("trace", cr.trace, np.trace,
           lambda x, offset=0, axis1=0, axis2=1: torch.diagonal(x, offset, axis1, axis2).sum(-1),
           (case((3, 4)), case((2, 3, 4), offset=-1, axis1=1, axis2=2))),
    # ----- reductions (reduction.py, nan_reductions.py) -----
    OpSpec("ptp", cr.ptp, np.ptp, _torch_ptp,
           (case((2, 3)), case((2, 3), axis=0), case((2, 3, 2), axis=(0, 2), keepdims=True),
            case((4,), axis=-1)), distinct),
    OpSpec("cumulative_sum", cr.cumulative_sum, np.cumulative_sum, _torch_cumulative_sum,
           (case((4,)), case((3, 4), axis=1), case((3, 2), axis=0, include_initial=True),
            case((4,), include_initial=True))),
    OpSpec("nansum", cr.nansum, np.nansum, _torch_nan("sum", 0.0), _NAN_REDUCE,
           _with_a_nan(normal)),
    OpSpec("nanprod", cr.nanprod, np.nanprod, _torch_nan("prod", 1.0), _NAN_REDUCE,
           _with_a_nan(away_from_zero)),
    OpSpec("nanmean", cr.nanmean, np.nanmean, _torch_nanmean, _NAN_REDUCE, _with_a_nan(normal)),
    OpSpec("nanmax", cr.nanmax, np.nanmax, _torch_nan("amax", -np.inf), _NAN_REDUCE,
           _with_a_nan(distinct)),
    OpSpec("nanmin", cr.nanmin, np.nanmin, _torch_nan("amin", np.inf), _NAN_REDUCE,
           _with_a_nan(distinct)),
    OpSpec("nanvar", cr.nanvar, np.nanvar, _torch_nanvar, _NAN_VAR, _with_a_nan(normal)),
    OpSpec("nanstd", cr.nanstd, np.nanstd, _torch_nanstd, _NAN_VAR, _with_a_nan(normal)),
    # ----- order statistics (statistics.py) -----
    OpSpec("quantile", cr.quantile, np.quantile, _torch_quantile,
           (case((5,), q=0.3), case((3, 4), q=np.array([0.0, 0.5, 0.9, 1.0]), axis=1),
            case((4, 3), q=0.75, axis=0, keepdims=True), case((2, 3), q=np.array([[0.2], [0.6]]))),
           distinct),
    OpSpec("percentile", cr.percentile, np.percentile, _torch_percentile,
           (case((5,), q=30.0), case((3, 4), q=np.array([10.0, 50.0, 100.0]), axis=-1)),
           distinct),
    OpSpec("median", cr.median, np.median, _torch_median,
           (case((5,)), case((4,)), case((3, 4), axis=1), case((4, 3), axis=0, keepdims=True)),
           distinct),
    OpSpec("nanmedian", cr.nanmedian, np.nanmedian, _torch_nanmedian,
           (case((5,)), case((4,)), case((3, 4), axis=1), case((4, 3), axis=0, keepdims=True)),
           _with_a_nan(distinct)),
    OpSpec("average", _average, _np_average, _torch_average,
           (case((2, 3), (2, 3)), case((2, 3), (3,), axis=1), case((3, 2), (3,), axis=0,
                                                                     keepdims=True)),
           _each(_normal, lambda rng, s: rng.uniform(0.5, 2.0, s)), op="average"),
    OpSpec("take_along_axis", cr.take_along_axis, np.take_along_axis, _torch_take_along_axis,
           (case((3, 4), indices=np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]]), axis=1),
            case((3, 2), indices=np.array([[2, 0], [2, 1]]), axis=0),
            case((4,), indices=np.array([3, 3, 1]), axis=None))),
]
