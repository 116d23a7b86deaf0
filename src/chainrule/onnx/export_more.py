"""More export translations: transposed convolution, where, advanced indexing.

Registered into export_ops.HANDLERS when export_ops is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import asnumpy, is_device_array
from chainrule.onnx._deps import UnsupportedOpError
from chainrule.ops import conv_transpose
from chainrule.ops import elementwise as ew
from chainrule.tensor import Tensor

_BIG = np.iinfo(np.int64).max


def register(handlers: dict[type, Any]) -> None:
    """Add this module's handlers to the exporter's table."""
    handlers[conv_transpose.ConvTranspose] = _conv_transpose
    handlers[ew.Where] = _where


def _conv_transpose(g: Any, node: Any, out: Tensor) -> str:
    """ConvTranspose; output_padding recovered from the geometry (in_size is the output's)."""
    geo = node.geom
    w = node.args[1]
    names = [g.name(a, w._data) for a in node.args]
    base = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
            zip(geo.out_size, geo.stride, geo.pad_lo, geo.dilation, geo.ksize)]
    out_pad = [m - b for m, b in zip(geo.in_size, base)]
    return g.node("ConvTranspose", names, kernel_shape=list(geo.ksize),
                  strides=list(geo.stride), pads=[*geo.pad_lo, *geo.pad_hi],
                  dilations=list(geo.dilation), group=geo.groups,
                  output_padding=out_pad if any(out_pad) else None)


def _where(g: Any, node: Any, out: Tensor) -> str:
    """where(c, a, b); the condition c a model input, a mask computed from the model's values
    (export_values.py), or a constant.

    where(c, x.detach(), x) (or the mirror), a stop-gradient such as Embedding's padding_idx
    writes, is the identity in a forward-only graph.
    """
    a, b = node.args
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._data is b._data:
        keep = b if a._node is None else a
        return g.name(keep)
    like = next((x._data for x in (a, b) if isinstance(x, Tensor)), out._data)
    # a model input, a mask computed from the model's values, else a constant
    cond = _input_name(g, node.c) or g.const(node.c, "condition", bool)
    return g.node("Where", [cond, g.name(a, like), g.name(b, like)])


def _input_name(g: Any, arr: Any) -> str | None:
    """The graph input whose data is arr (an index taken from a model input), else None."""
    return next((g.names[id(t)] for t in g.inputs if t._data is arr), None)


def _expand_ellipsis(idx: tuple, ndim: int) -> tuple:
    """idx with its Ellipsis replaced by full slices (a boolean array counts its ndim)."""
    used = sum(np.ndim(i) if isinstance(i, np.ndarray) and i.dtype == bool else 1
               for i in idx if i is not Ellipsis)
    if any(i is Ellipsis for i in idx):
        e = next(k for k, i in enumerate(idx) if i is Ellipsis)
        idx = idx[:e] + (slice(None),) * (ndim - used) + idx[e + 1:]
    else:
        idx = idx + (slice(None),) * (ndim - used)
    return idx


def advanced_getitem(g: Any, x: Tensor, idx: tuple) -> str:
    """x[idx] with integer or boolean arrays: Slice, then Gather or GatherND (NumPy's rules).

    Constant index arrays are written as initializers; an index array that is a model input
    stays an input (a boolean one through NonZero, so the selection follows the input).
    """
    if any(i is None for i in idx):
        raise UnsupportedOpError(f"onnx export: getitem with None among array indices {idx!r}")
    device = {}  # id(host copy) -> the CUDA index array it copies (a model input's data, maybe)

    def host(i: Any) -> Any:
        if is_device_array(i):
            h = asnumpy(i)
            device[id(h)] = i
            return h
        return np.asarray(i) if isinstance(i, list) else i

    idx = _expand_ellipsis(tuple(host(i) for i in idx), x.ndim)
    name = g.name(x)
    entries: list[Any] = []  # per axis of x: a slice or an index array
    mask_input: tuple[int, int, str] | None = None  # (first axis, ndim, input name)
    for i in idx:
        if isinstance(i, np.ndarray) and i.dtype == bool:
            src = _input_name(g, device.get(id(i), i))
            if src is not None:
                mask_input = (len(entries), i.ndim, src)
                entries.extend([slice(None)] * i.ndim)
            elif i.ndim == 0:
                raise UnsupportedOpError("onnx export: getitem with a 0-d boolean index")
            else:
                entries.extend(np.nonzero(i))
        elif isinstance(i, slice):
            entries.append(i)
        elif isinstance(i, int | np.integer | np.ndarray):
            entries.append(i if isinstance(i, np.ndarray) else np.asarray(i))
        else:
            raise UnsupportedOpError(f"onnx export: getitem with index {i!r}")
    name = _basic_slices(g, name, entries)
    if mask_input is not None:
        if any(isinstance(e, np.ndarray) for e in entries):
            raise UnsupportedOpError("onnx export: getitem with an input boolean mask and "
                                     "other index arrays")
        first, k, src = mask_input
        positions = g.node("Transpose", [g.node("NonZero", [src])], perm=[1, 0])
        return _gather_nd(g, name, x.ndim, list(range(first, first + k)), positions, 1)
    axes = [a for a, e in enumerate(entries) if isinstance(e, np.ndarray)]
    arrays = [entries[a] for a in axes]
    sources = [_input_name(g, device.get(id(a), a)) for a in arrays]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    if len(axes) == 1:  # one array: Gather keeps NumPy's placement
        ind = sources[0] or g.const(arrays[0].astype(np.int64), "indices")
        if sources[0] is not None and arrays[0].dtype != np.int64:
            ind = g.node("Cast", [ind], to=g.helper.np_dtype_to_tensor_dtype(np.dtype(np.int64)))
        return g.node("Gather", [name, ind], axis=axes[0])
    if any(sources):
        if any(a.shape != shape for a in arrays):
            raise UnsupportedOpError("onnx export: getitem with input index arrays that "
                                     "broadcast against each other")
        parts = []
        for a, s in zip(arrays, sources):
            part = s or g.const(a.astype(np.int64), "indices")
            if s is not None and a.dtype != np.int64:
                part = g.node("Cast", [part], to=g.helper.np_dtype_to_tensor_dtype(
                    np.dtype(np.int64)))
            parts.append(g.unsqueeze(part, [-1]))
        positions = g.node("Concat", parts, axis=-1)
    else:
        stacked = np.stack([np.broadcast_to(a, shape) for a in arrays], axis=-1)
        positions = g.const(stacked.astype(np.int64), "indices")
    return _gather_nd(g, name, x.ndim, axes, positions, len(shape))


def _basic_slices(g: Any, name: str, entries: list[Any]) -> str:
    """Apply the non-trivial slices among entries (one Slice node), keeping every axis."""
    starts, ends, axes, steps = [], [], [], []
    for a, e in enumerate(entries):
        if isinstance(e, slice) and e != slice(None):
            step = 1 if e.step is None else int(e.step)
            starts.append(int(e.start) if e.start is not None else (0 if step > 0 else -1))
            ends.append(int(e.stop) if e.stop is not None else (_BIG if step > 0 else -_BIG))
            axes.append(a)
            steps.append(step)
    if not axes:
        return name
    return g.node("Slice", [name, g.ints(starts, "starts"), g.ints(ends, "ends"),
                            g.ints(axes, "axes"), g.ints(steps, "steps")])


def _gather_nd(g: Any, name: str, ndim: int, axes: list[int], positions: str, nb: int) -> str:
    """x indexed on axes by positions (*B, len(axes)): the indexed axes go first (Transpose),
    GatherND gives (*B, others), and B moves back where NumPy puts it (adjacent axes)."""
    others = [a for a in range(ndim) if a not in axes]
    perm = axes + others
    if perm != list(range(ndim)):
        name = g.node("Transpose", [name], perm=perm)
    y = g.node("GatherND", [name, positions])
    first = axes[0]
    adjacent = axes == list(range(first, first + len(axes)))
    if not adjacent or first == 0:
        return y
    n_rest = len(others)
    back = ([nb + i for i in range(first)] + list(range(nb))
            + [nb + i for i in range(first, n_rest)])
    return g.node("Transpose", [y], perm=back)


def scan_rows(g: Any, name: str, idx: tuple) -> str | None:
    """Rows of a recurrent op's output taken relative to the sequence length, so the export
    keeps a dynamic length: the sequence (``out[:T]``), the last step (``out[T-1:T]``), the
    LSTM's final cell state (``out[T:]``); None for any other index."""
    if name not in g.scans or len(idx) != 1 or not isinstance(idx[0], slice) \
            or idx[0].step not in (None, 1):
        return None
    seq, cell, n_t = g.scans[name]
    start, stop = idx[0].start or 0, idx[0].stop
    if (start, stop) == (0, n_t):
        return seq
    if (start, stop) == (n_t, None) and cell is not None:
        return cell
    if (start, stop) == (n_t - 1, n_t):
        return g.node("Slice", [seq, g.ints([-1], "starts"), g.ints([_BIG], "ends"),
                                g.ints([0], "axes")])
    return None
