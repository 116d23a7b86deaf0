"""Grad mode switches and anomaly detection."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import chainrule as cr


def test_no_grad_and_enable_grad_nest_and_restore():
    x = cr.tensor(1.0, requires_grad=True)
    assert cr.is_grad_enabled()
    with cr.no_grad():
        assert not (x * 2).requires_grad
        with cr.enable_grad():
            assert cr.is_grad_enabled()
            assert (x * 2).requires_grad
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert (x * 2).requires_grad


def test_grad_mode_restored_after_exception():
    with pytest.raises(ZeroDivisionError), cr.no_grad():
        1 / 0  # noqa: B018
    assert cr.is_grad_enabled()


def test_set_grad_enabled():
    x = cr.tensor(1.0, requires_grad=True)
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with cr.set_grad_enabled(True):
        assert (x * 2).requires_grad


def test_no_grad_does_not_mark_inputs_as_saved():
    a = cr.tensor([1.0, 2.0])
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        a * w
    a[0] = 3.0  # nothing recorded, so the write is allowed
    assert a.cpu().numpy()[0] == 3.0


def test_nan_passes_silently_without_anomaly_mode():
    y = cr.log(cr.tensor([-1.0, 0.0]))  # no RuntimeWarning either (warnings are errors here)
    assert np.isnan(y.cpu().numpy()[0])
    assert y.cpu().numpy()[1] == -np.inf


def test_anomaly_forward_nan_names_op_and_user_line():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    with cr.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        cr.log(x)  # the line the error must point at
    line = inspect.currentframe().f_lineno - 1
    msg = str(info.value)
    assert "log" in msg
    assert "NaN" in msg
    assert "forward" in msg
    assert f"{os.path.basename(__file__)}:{line}" in msg
    assert "cr.log(x)" in msg


def test_anomaly_forward_inf():
    with cr.detect_anomaly(), pytest.raises(FloatingPointError, match=r"div.*Inf"):
        cr.tensor([1.0], requires_grad=True) / 0.0


def test_anomaly_forward_without_graph_binary_op():
    with cr.detect_anomaly(), pytest.raises(FloatingPointError, match=r"div.*NaN"):
        cr.tensor([0.0]) / cr.tensor([0.0])


def test_anomaly_forward_without_graph_unary_op():
    with cr.detect_anomaly(), pytest.raises(FloatingPointError, match=r"sqrt.*test_modes\.py"):
        cr.sqrt(cr.tensor([-4.0]))


class _NanGrad(cr.Function):
    """Identity whose reverse rule returns NaN."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def vjp(ctx, g):
        return g * np.nan

    @staticmethod
    def jvp(ctx, dx):
        return dx


def test_anomaly_backward_nan_names_custom_function():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.detect_anomaly():
        y = (_NanGrad.apply(x) * 2.0).sum()
        with pytest.raises(FloatingPointError, match=r"(?i)_nangrad.*backward"):
            y.backward()


def test_anomaly_backward_inf_from_sqrt_at_zero():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with cr.detect_anomaly():
        y = cr.sqrt(x).sum()  # finite forward
        with pytest.raises(FloatingPointError, match=r"sqrt.*backward"):
            y.backward()


def test_anomaly_mode_accepts_finite_graphs_and_masked_gradients():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with cr.detect_anomaly():
        (cr.sqrt(x + 1.0) * x).sum().backward()
        g = cr.grad(lambda x: cr.where(x > 0, x * x, 0.0).sum())(x)
    assert np.isfinite(x.grad.cpu().numpy()).all()
    np.testing.assert_allclose(g.cpu().numpy(), [0.0, 8.0])


def test_anomaly_mode_switches_off():
    with cr.detect_anomaly():
        pass
    y = cr.log(cr.tensor([-1.0], requires_grad=True))
    assert np.isnan(y.cpu().numpy()).all()
