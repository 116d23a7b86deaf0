"""Export of masks and indices the model computes from its values (comparisons, ~, logical
functions, argmax, integer casts): they follow the input at run time, or the export fails."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx_helpers import export_bytes, run_cr, run_ort

import chainrule as cr
import chainrule.onnx as cro
from chainrule import nn
from chainrule.tensor import Tensor


class Fn(nn.Module):
    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


MASKS: dict[str, Callable[[Tensor], Tensor]] = {
    "where greater": lambda x: cr.where(x > 0, x, 0.1 * x),
    "invert": lambda x: cr.where(~(x > 0.5), x, -x),
    "and, float times bool": lambda x: x * ((x > -0.5) & (x < 0.5)),
    "or, ne, le, ge": lambda x: x * ((x != 0) | (x <= -1) | (x >= 1)),
    "eq on rounded": lambda x: cr.where(cr.round(x) == 0, x, 2 * x),
    "round, floor, ceil": lambda x: cr.round(x, 1) + cr.floor(x) * cr.ceil(x),
    "sign": lambda x: x * cr.sign(x),
    "argmax": lambda x: x.argmax(1),
    "argmin keepdim": lambda x: x.argmin(dim=1, keepdim=True),
    "argmax flat": lambda x: cr.argmax(x),
    "integer cast": lambda x: (x * 4).to(cr.int64),
    "isfinite": lambda x: cr.where(cr.isfinite(x / (x > 0)), x, 0.0),
    "any, all": lambda x: x * (x > 1).any(dim=1, keepdim=True) + (x < 2).all(dim=1)[:, None],
}


@pytest.mark.parametrize("name", list(MASKS))
def test_mask_follows_the_input(name: str, rng: np.random.Generator) -> None:
    model = Fn(MASKS[name])
    data = export_bytes(model, rng.standard_normal((3, 6)).astype(np.float32))
    for batch in (3, 5):  # other values than the example's, and another batch size
        x = rng.standard_normal((batch, 6)).astype(np.float32)
        want = run_cr(model, x)
        got = run_ort(data, x)
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        back = cro.load(io.BytesIO(data))  # and chainrule's own loader reads it
        np.testing.assert_array_equal(run_cr(back, x), want)


@pytest.mark.parametrize("fn", [
    lambda x: x * x.topk(2, dim=1)[1].to(cr.float32).sum(),
    lambda x: nn.functional.max_pool1d(x[:, None], 2, return_indices=True)[1].to(cr.float32)
    * x[:, None, :2],
], ids=["topk indices", "max_pool indices"])
def test_untranslatable_values_are_an_error(fn: Callable[[Tensor], Tensor]) -> None:
    with pytest.raises(cro.UnsupportedOpError, match="outside the recorded graph"):
        cro.export(Fn(fn), (cr.tensor(np.ones((2, 4), np.float32)),), io.BytesIO())


def _run_ort(data: bytes, *xs: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), xs)})[0]


class Attention(nn.Module):
    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return nn.functional.scaled_dot_product_attention(x, x, x, attn_mask=mask)


@pytest.mark.parametrize("kind", ["float", "bool"])
def test_attention_mask_is_an_input(kind: str, rng: np.random.Generator) -> None:
    """The mask follows the input at run time, rows it masks whole (dead rows) included, though
    the example had none."""
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    keep = np.ones((4, 4), bool)
    masked = keep.copy()
    masked[1] = False  # every key of query 1 masked
    masked[2, :2] = False
    as_input = (lambda m: m) if kind == "bool" else (
        lambda m: np.where(m, 0.0, -np.inf).astype(np.float32))
    buf = io.BytesIO()
    cro.export(Attention(), (cr.tensor(x), cr.tensor(as_input(keep))), buf)
    for m in (keep, masked):
        want = Attention()(cr.tensor(x), cr.tensor(as_input(m))).cpu().numpy()
        got = _run_ort(buf.getvalue(), x, as_input(m))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
