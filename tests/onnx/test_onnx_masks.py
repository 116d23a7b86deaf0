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


def test_untranslatable_values_are_an_error() -> None:
    model = Fn(lambda x: x * x.topk(2, dim=1)[1].to(cr.float32).sum())
    with pytest.raises(cro.UnsupportedOpError, match="outside the recorded graph"):
        cro.export(model, (cr.tensor(np.ones((2, 3), np.float32)),), io.BytesIO())
