"""nn/resize.py against PyTorch: padding (every mode, negative pads), interpolation (every mode,
size and scale_factor, align_corners), pixel shuffle, unfold/fold: values and input gradients,
gradcheck, dtypes, modules, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close


def _compare(call, x, dtype, rng, what=""):
    """Value of call(F, x) and gradient of sum(w * out), chainrule vs torch."""
    import torch

    x = x.astype(dtype)
    cx = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out, tout = call(F, cx), call(torch.nn.functional, tx)
    close(out, tout, dtype, f"{what} value")
    w = rng.standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    close(cx.grad, tx.grad, dtype, f"{what} gradient")


PADS = {
    "constant": [(1, 2), (0, 3, 2, 1), (-1, 2), (2, -1, -1, 1), (1, 1, 1, 1, 1, 0), (0, 0)],
    "reflect": [(1, 2), (3, 3), (2, 1, 1, 2), (-1, 2), (2, 0, 0, 3)],
    "replicate": [(1, 2), (5, 0), (2, 1, 1, 2), (-1, 2), (0, 4, 3, 0)],
    "circular": [(1, 2), (4, 4), (2, 1, 1, 2), (-1, 2), (3, 0, 0, 2)],
}
PAD_CASES = [(m, p) for m, ps in PADS.items() for p in ps]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("mode", "pad"), PAD_CASES, ids=[f"{m}-{p}" for m, p in PAD_CASES])
def test_pad_matches_torch(mode, pad, dtype, rng):
    pytest.importorskip("torch")
    shapes = [(2, 3, 4, 5), (3, 4, 5)] if len(pad) <= 4 else [(2, 3, 4, 5)]
    for shape in shapes:
        if mode != "constant" and len(pad) == 2 and len(shape) == 4:
            shape = shape[1:]  # 1-d non-constant padding takes (N, C, W) or (C, W)
        value = 0.7 if mode == "constant" else None
        _compare(lambda f, x, pad=pad, mode=mode, value=value: f.pad(x, pad, mode, value),
                 rng.standard_normal(shape), dtype, rng, f"{mode} {pad} {shape}")


INTERP = [
    # (input shape, mode, size, scale_factor, align_corners, recompute_scale_factor)
    ((2, 3, 5), "nearest", 9, None, None, None), ((2, 3, 5), "nearest", 3, None, None, None),
    ((2, 3, 5), "nearest", 10, None, None, None), ((2, 3, 5), "nearest", None, 1.7, None, None),
    ((2, 3, 7), "nearest", None, 0.6, None, None), ((1, 2, 5, 7), "nearest", (3, 11), None,
                                                    None, None),
    ((1, 2, 5, 7), "nearest", None, (2.0, 1.5), None, None),
    ((1, 2, 3, 4, 5), "nearest", (4, 2, 7), None, None, None),
    ((2, 3, 5), "nearest-exact", 9, None, None, None),
    ((1, 2, 5, 7), "nearest-exact", None, 0.7, None, None),
    ((2, 3, 5), "linear", 9, None, False, None), ((2, 3, 5), "linear", 9, None, True, None),
    ((2, 3, 5), "linear", 3, None, False, None), ((2, 3, 5), "linear", 1, None, True, None),
    ((2, 3, 5), "linear", None, 1.7, False, None), ((2, 3, 5), "linear", None, 1.7, True, None),
    ((2, 3, 5), "linear", None, 1.7, False, True), ((2, 3, 5), "linear", None, 1.1, False, None),
    ((2, 3, 8), "linear", None, 0.4, None, None),
    ((1, 2, 5, 7), "bilinear", (8, 4), None, False, None),
    ((1, 2, 5, 7), "bilinear", (8, 4), None, True, None),
    ((1, 2, 5, 7), "bilinear", None, 2, False, None),
    ((1, 2, 5, 7), "bilinear", None, (1.3, 0.5), True, None),
    ((1, 2, 5, 7), "bicubic", (8, 4), None, False, None),
    ((1, 2, 5, 7), "bicubic", (9, 13), None, True, None),
    ((1, 2, 5, 7), "bicubic", None, 1.5, False, None),
    ((1, 2, 3, 4, 5), "trilinear", (5, 3, 8), None, False, None),
    ((1, 2, 3, 4, 5), "trilinear", None, 1.5, True, None),
    ((2, 3, 7), "area", 3, None, None, None), ((1, 2, 7, 9), "area", (3, 4), None, None, None),
    ((1, 2, 7, 9), "area", None, 0.5, None, None),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", INTERP, ids=[str(c) for c in INTERP])
def test_interpolate_matches_torch(case, dtype, rng):
    pytest.importorskip("torch")
    shape, mode, size, sf, ac, rec = case

    def call(f, x):
        return f.interpolate(x, size=size, scale_factor=sf, mode=mode, align_corners=ac,
                             recompute_scale_factor=rec)

    _compare(call, rng.standard_normal(shape), dtype, rng, str(case))


def test_nearest_source_index_precision_matches_torch(rng):
    torch = pytest.importorskip("torch")
    for n_in in range(1, 25):
        for n_out in range(1, 40):
            x = np.arange(n_in, dtype=np.float64).reshape(1, 1, n_in)
            for dtype in DTYPES:
                got = F.interpolate(cr.tensor(x.astype(dtype)), n_out).cpu().numpy()
                want = torch.nn.functional.interpolate(torch.tensor(x.astype(dtype)),
                                                       n_out).cpu().numpy()
                np.testing.assert_array_equal(got, want, err_msg=f"{n_in} -> {n_out}")


def test_nearest_keeps_integer_dtype():
    x = np.arange(12, dtype=np.int64).reshape(1, 1, 3, 4)
    y = F.interpolate(cr.tensor(x), scale_factor=2)
    assert y.dtype == np.int64
    assert y.shape == (1, 1, 6, 8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("r", "shape"), [(2, (2, 8, 3, 4)), (3, (9, 2, 2)),
                                          (1, (1, 3, 2, 2)), (2, (2, 1, 4, 3, 5))])
def test_pixel_shuffle_and_unshuffle_match_torch(r, shape, dtype, rng):
    pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    _compare(lambda f, t: f.pixel_shuffle(t, r), x, dtype, rng, "shuffle")
    y = F.pixel_shuffle(cr.tensor(x), r).cpu().numpy()
    _compare(lambda f, t: f.pixel_unshuffle(t, r), y, dtype, rng, "unshuffle")
    np.testing.assert_array_equal(F.pixel_unshuffle(cr.tensor(y), r).cpu().numpy(), x)


UNFOLD = [((2, 3, 5, 6), dict(kernel_size=2)),
          ((2, 3, 5, 6), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))),
          ((3, 5, 6), dict(kernel_size=3, padding=(0, 2), stride=2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "kw"), UNFOLD, ids=[str(u) for u in UNFOLD])
def test_unfold_and_fold_match_torch(shape, kw, dtype, rng):
    pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    _compare(lambda f, t: f.unfold(t, **kw), x, dtype, rng, "unfold")
    cols = F.unfold(cr.tensor(x), **kw).cpu().numpy()
    _compare(lambda f, t: f.fold(t, shape[-2:], **kw), cols, dtype, rng, "fold")


@pytest.mark.parametrize("case", [
    lambda x: F.pad(x, (1, 2, 0, 1), "reflect"), lambda x: F.pad(x, (-1, 2), value=0.3),
    lambda x: F.pad(x, (2, 1, 1, 0), "circular"), lambda x: F.pad(x[0], (2, 1), "replicate"),
    lambda x: F.interpolate(x, (5, 7), mode="bilinear"),
    lambda x: F.interpolate(x, (5, 2), mode="bicubic", align_corners=True),
    lambda x: F.interpolate(x, scale_factor=1.5), lambda x: F.pixel_shuffle(x, 2),
    lambda x: F.fold(F.unfold(x, 2, padding=1), (3, 4), 2, padding=1),
])
def test_gradcheck(case, rng):
    assert cr.gradcheck(case, [rng.standard_normal((1, 4, 3, 4))])


@pytest.mark.parametrize("call", [
    lambda x: F.pad(x, (1, 1, 2, 0), "reflect"), lambda x: F.pad(x, (1, -1)),
    lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear"),
    lambda x: F.interpolate(x, (2, 5), mode="bicubic"), lambda x: F.interpolate(x, 3),
    lambda x: F.interpolate(x, 2, mode="area"), lambda x: F.pixel_shuffle(x, 2),
    lambda x: F.unfold(x, 2), lambda x: nn.Upsample(scale_factor=2)(x),
])
def test_float32_stays_float32(call, rng):
    x = cr.tensor(rng.standard_normal((1, 4, 3, 4)).astype(np.float32), requires_grad=True)
    y = call(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


MODULES = [
    ("Upsample", dict(scale_factor=2, mode="bilinear")), ("Upsample", dict(size=(3, 5))),
    ("Upsample", dict(scale_factor=1.5, mode="bicubic", align_corners=True)),
    ("UpsamplingNearest2d", dict(scale_factor=2)), ("UpsamplingBilinear2d", dict(size=(6, 7))),
    ("ZeroPad2d", dict(padding=(1, 0, 2, 1))), ("ZeroPad1d", dict(padding=2)),
    ("ConstantPad1d", dict(padding=(2, 1), value=3.5)),
    ("ConstantPad2d", dict(padding=1, value=-1.0)), ("ReflectionPad1d", dict(padding=(2, 1))),
    ("ReflectionPad2d", dict(padding=2)), ("ReplicationPad1d", dict(padding=3)),
    ("ReplicationPad2d", dict(padding=(1, 2, 3, 0))), ("CircularPad1d", dict(padding=1)),
    ("CircularPad2d", dict(padding=(1, 2, 2, 1))), ("PixelShuffle", dict(upscale_factor=2)),
    ("PixelUnshuffle", dict(downscale_factor=2)),
    ("Unflatten", dict(dim=1, unflattened_size=(2, 2))),
    ("Unfold", dict(kernel_size=2, stride=2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kw"), MODULES, ids=[f"{n}{k}" for n, k in MODULES])
def test_modules_match_torch(name, kw, dtype, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 4, 6) if name.endswith("1d") else (2, 4, 4, 6))
    m, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    _compare(lambda f, t: (m if f is F else tm)(t), x, dtype, rng, name)


def test_fold_module_and_upsample_alias(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 12, 6))
    _compare(lambda f, t: (nn.Fold((3, 4), 2) if f is F else torch.nn.Fold((3, 4), 2))(t), x,
             np.float64, rng, "Fold")
    y = rng.standard_normal((1, 2, 3, 4))
    close(F.upsample(cr.tensor(y), scale_factor=2, mode="bilinear"),
          torch.nn.functional.interpolate(torch.tensor(y), scale_factor=2, mode="bilinear"),
          np.float64)


X3, X4 = np.zeros((1, 2, 3)), np.zeros((1, 2, 3, 4))


@pytest.mark.parametrize(("call", "err", "match"), [
    (lambda: F.pad(X4, (1, 2, 3)), ValueError, r"pad.*divisible by 2.*3"),
    (lambda: F.pad(X3, (1,) * 8), ValueError, r"pad.*4 axes.*\(1, 2, 3\)"),
    (lambda: F.pad(X3, (3, 0), "reflect"), ValueError, r"pad.*reflect.*\(3, 0\).*\(3,\)"),
    (lambda: F.pad(X3, (4, 0), "circular"), ValueError, r"pad.*circular.*\(4, 0\)"),
    (lambda: F.pad(X3, (1, 1), "reflect", 2.0), ValueError, r"pad.*reflect.*value.*2.0"),
    (lambda: F.pad(X3, (1, 1), "wrap"), ValueError, r"pad.*'wrap'"),
    (lambda: F.pad(X3, (-2, -2)), ValueError, r"pad.*\(-2, -2\).*\(-1,\)"),
    (lambda: F.pad(np.zeros(3), (1, 1), "replicate"), NotImplementedError,
     r"pad.*'replicate'.*\(3,\)"),
    (lambda: F.interpolate(X3, 4, mode="bilinear"), ValueError,
     r"interpolate.*3-d.*\(1, 2, 3\).*bilinear.*4-d"),
    (lambda: F.interpolate(X3, 4, mode="nearest", align_corners=True), ValueError,
     r"interpolate.*align_corners.*'nearest'"),
    (lambda: F.interpolate(X3, 4, 2.0), ValueError, r"interpolate.*only one.*4.*2.0"),
    (lambda: F.interpolate(X3), ValueError, r"interpolate.*either size or scale_factor"),
    (lambda: F.interpolate(X4, (2, 3, 4)), ValueError, r"interpolate.*\(2, 3, 4\).*2 spatial"),
    (lambda: F.interpolate(X3, scale_factor=0.2), ValueError, r"interpolate.*\(0,\)"),
    (lambda: F.interpolate(X3, 4, mode="cubic"), ValueError, r"interpolate.*'cubic'"),
    (lambda: F.pixel_shuffle(np.zeros((1, 5, 2, 2)), 2), ValueError,
     r"pixel_shuffle.*\(1, 5, 2, 2\).*\(5\).*4"),
    (lambda: F.pixel_unshuffle(np.zeros((1, 1, 3, 2)), 2), ValueError,
     r"pixel_unshuffle.*\(1, 1, 3, 2\).*2"),
    (lambda: F.unfold(X4, 5), ValueError, r"unfold.*\(3, 4\).*kernel_size \(5, 5\)"),
    (lambda: F.fold(np.zeros((1, 8, 5)), (3, 4), 2), ValueError, r"fold.*\(1, 8, 5\)"),
    (lambda: nn.ZeroPad2d((1, 2)), ValueError, r"ZeroPad2d.*4 ints.*\(1, 2\)"),
])
def test_bad_arguments_raise(call, err, match):
    with pytest.raises(err, match=match):
        call()
