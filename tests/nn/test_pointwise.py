"""nn/pointwise.py against PyTorch: values and input gradients (kinks included) over a grid of
arguments, PReLU's weight gradients, gradcheck, dtypes, inplace=True, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

from .torch_port import DTYPES, close, compare_module, port

# Every kink and special point of the functions below, plus a spread of ordinary values.
SPECIAL = [0.0, -1.0, 1.0, -3.0, 3.0, 6.0, 0.5, -0.5, 25.0, -30.0, 2.0, -2.0]

# name -> (chainrule call, torch call); calls take (F, x) so one table serves both libraries.
FUNCTIONS = {
    "silu": lambda f, x: f.silu(x),
    "mish": lambda f, x: f.mish(x),
    "logsigmoid": lambda f, x: f.logsigmoid(x),
    "hardtanh": lambda f, x: f.hardtanh(x),
    "hardtanh_-2_0.5": lambda f, x: f.hardtanh(x, -2.0, 0.5),
    "hardtanh_0_6": lambda f, x: f.hardtanh(x, min_val=0.0, max_val=6.0),
    "relu6": lambda f, x: f.relu6(x),
    "hardsigmoid": lambda f, x: f.hardsigmoid(x),
    "hardswish": lambda f, x: f.hardswish(x),
    "selu": lambda f, x: f.selu(x),
    "celu": lambda f, x: f.celu(x),
    "celu_0.5": lambda f, x: f.celu(x, alpha=0.5),
    "celu_2": lambda f, x: f.celu(x, 2.0),
    "softsign": lambda f, x: f.softsign(x),
    "tanhshrink": lambda f, x: f.tanhshrink(x),
    "threshold_0.5_-1": lambda f, x: f.threshold(x, 0.5, -1.0),
    "threshold_-1_7": lambda f, x: f.threshold(x, -1.0, 7.0),
    "glu": lambda f, x: f.glu(x),
    "glu_1": lambda f, x: f.glu(x, 1),
    "glu_0": lambda f, x: f.glu(x, dim=0),
    "softmin_1": lambda f, x: f.softmin(x, 1),
    "softmin_-1": lambda f, x: f.softmin(x, dim=-1),
    "softmin_0": lambda f, x: f.softmin(x, dim=0),
}


def _tf():
    import torch

    return torch.nn.functional


def _input(rng, dtype=np.float64):
    x = 3 * rng.standard_normal((4, 6, 4))
    x.reshape(-1)[: len(SPECIAL)] = SPECIAL
    return x.astype(dtype)


def _value_and_grad(call, lib, x, w):
    """call's value and the gradient of sum(w * call(x)), in chainrule or torch."""
    if lib == "torch":
        import torch

        tx = torch.tensor(x, requires_grad=True)
        out = call(_tf(), tx)
        (out * torch.tensor(w)).sum().backward()
        return out, tx.grad
    cx = cr.tensor(x, requires_grad=True)
    out = call(F, cx)
    (out * cr.tensor(w)).sum().backward()
    return out, cx.grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_function_matches_torch(name, dtype, rng):
    pytest.importorskip("torch")
    x = _input(rng, dtype)
    call = FUNCTIONS[name]
    w = rng.standard_normal(call(F, cr.tensor(x)).shape).astype(dtype)
    got, gx = _value_and_grad(call, "cr", x, w)
    want, tgx = _value_and_grad(call, "torch", x, w)
    close(got, want, dtype, f"{name} value")
    close(gx, tgx, dtype, f"{name} gradient")


MODULES = {
    "SiLU": ((), ()), "Mish": ((), ()), "LogSigmoid": ((), ()), "Hardtanh": ((-0.5, 2.0),) * 2,
    "ReLU6": ((), ()), "Hardsigmoid": ((), ()), "Hardswish": ((), ()), "SELU": ((), ()),
    "CELU": ((0.7,),) * 2, "Softsign": ((), ()), "Tanhshrink": ((), ()),
    "Threshold": ((0.1, 20.0),) * 2, "GLU": ((1,),) * 2, "Softmin": ((2,),) * 2,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MODULES))
def test_module_matches_torch(name, dtype, rng):
    torch = pytest.importorskip("torch")
    args, targs = MODULES[name]
    compare_module(getattr(nn, name)(*args), getattr(torch.nn, name)(*targs),
                   [_input(rng)], dtype, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("num", "init", "shape"), [
    (1, 0.25, (4, 6, 4)), (6, 0.1, (4, 6, 4)), (6, -0.3, (4, 6)), (1, 0.5, (7,)),
    (6, 0.2, (2, 6, 3, 2)), (1, 0.25, ()),
])
def test_prelu_matches_torch_with_weight_gradients(num, init, shape, dtype, rng):
    torch = pytest.importorskip("torch")
    x = 3 * rng.standard_normal(shape)
    x.reshape(-1)[:3] = [0.0, -1.0, 2.0][: x.size]
    tm = torch.nn.PReLU(num, init)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(rng.uniform(-1, 1, num)))
    m = nn.PReLU(num, init)
    assert m.weight.shape == (num,)
    assert np.all(m.weight.cpu().numpy() == np.float32(init))
    compare_module(port(m, tm, dtype), tm, [x], dtype, rng)


def test_functional_prelu_weight_gradient(rng):
    torch = pytest.importorskip("torch")
    x, a, w = rng.standard_normal((3, 4, 5)), rng.standard_normal(4), rng.standard_normal((3, 4, 5))
    cx, ca = cr.tensor(x, requires_grad=True), cr.tensor(a, requires_grad=True)
    tx, ta = torch.tensor(x, requires_grad=True), torch.tensor(a, requires_grad=True)
    (F.prelu(cx, ca) * cr.tensor(w)).sum().backward()
    (torch.nn.functional.prelu(tx, ta) * torch.tensor(w)).sum().backward()
    close(cx.grad, tx.grad, np.float64, "input")
    close(ca.grad, ta.grad, np.float64, "weight")


@pytest.mark.parametrize("name", ["silu", "mish", "logsigmoid", "selu", "celu_0.5", "softsign",
                                  "tanhshrink", "glu_1", "softmin_1", "hardswish"])
def test_gradcheck(name, rng):
    x = rng.standard_normal((3, 4, 2))
    x[np.abs(np.abs(x) - 3) < 0.05] = 0.3  # keep finite differences off hardswish's kinks
    x[np.abs(x) < 0.05] = 0.2  # and off 0 (celu, selu)
    assert cr.gradcheck(lambda t: FUNCTIONS[name](F, t), [x])


def test_prelu_gradcheck(rng):
    x = rng.standard_normal((3, 4, 2))
    x[np.abs(x) < 0.05] = 0.2
    assert cr.gradcheck(F.prelu, [x, rng.standard_normal(4)])


def test_second_derivatives_match_torch(rng):
    torch = pytest.importorskip("torch")
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for name in ("silu", "mish", "logsigmoid", "selu", "softsign", "tanhshrink", "glu"):
        call = FUNCTIONS[name]

        def f(x, call=call):
            return (call(F, x) * cr.tensor(w[:, : call(F, x).shape[1]])).sum()

        g2 = cr.grad(lambda x, f=f: (cr.grad(f)(x) ** 2).sum())(cr.tensor(x))
        tx = torch.tensor(x, requires_grad=True)
        tout = call(_tf(), tx)
        (tg,) = torch.autograd.grad((tout * torch.tensor(w[:, : tout.shape[1]])).sum(), tx,
                                    create_graph=True)
        (tg2,) = torch.autograd.grad((tg**2).sum(), tx)
        close(g2, tg2, np.float64, name)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_float32_stays_float32(name, rng):
    x = cr.tensor(_input(rng, np.float32), requires_grad=True)
    y = FUNCTIONS[name](F, x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["silu", "mish", "hardtanh", "relu6", "hardsigmoid",
                                  "hardswish", "selu", "celu", "threshold"])
def test_inplace_writes_into_the_input_with_right_gradients(name, rng):
    torch = pytest.importorskip("torch")
    fn = getattr(F, name)
    args = (0.5, -1.0) if name == "threshold" else ()
    x, w = _input(rng), rng.standard_normal((4, 6, 4))
    leaf = cr.tensor(x, requires_grad=True)
    h = leaf * 2.0
    y = fn(h, *args, inplace=True)
    assert y is h
    (h * cr.tensor(w)).sum().backward()
    tleaf = torch.tensor(x, requires_grad=True)
    th = tleaf * 2.0
    getattr(torch.nn.functional, name)(th, *args, inplace=True)
    (th * torch.tensor(w)).sum().backward()
    close(h, th, np.float64, "value")
    close(leaf.grad, tleaf.grad, np.float64, "gradient")
    plain = cr.tensor(x.copy())  # no autograd: written in place
    fn(plain, *args, inplace=True)
    want = getattr(torch.nn.functional, name)(torch.tensor(x), *args)
    close(plain, want, np.float64, "no-grad inplace")
    with pytest.raises(RuntimeError):
        fn(cr.tensor(x, requires_grad=True), *args, inplace=True)


def test_module_inplace_flag(rng):
    x = cr.tensor(_input(rng))
    y = nn.Hardswish(inplace=True)(x)
    assert y is x
    assert "inplace=True" in repr(nn.SiLU(inplace=True))


def test_softmin_implicit_dim_warns_and_follows_torch(rng):
    torch = pytest.importorskip("torch")
    for shape in [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 2)]:
        x = rng.standard_normal(shape)
        with pytest.warns(UserWarning, match="Implicit dimension"):
            got = F.softmin(cr.tensor(x))
        with pytest.warns(UserWarning, match="Implicit dimension"):
            want = torch.nn.functional.softmin(torch.tensor(x))
        close(got, want, np.float64, str(shape))


def test_softmin_dtype_casts_first(rng):
    x = cr.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    assert F.softmin(x, 1, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize(("call", "match"), [
    (lambda: F.glu(cr.tensor(np.zeros((2, 5)))), r"glu.*dimension -1.*size 5"),
    (lambda: F.glu(cr.tensor(np.zeros((3, 4))), dim=0), r"glu.*dimension 0.*size 3"),
    (lambda: F.glu(cr.tensor(np.zeros(()))), r"glu.*0-d"),
    (lambda: F.hardtanh(cr.tensor(np.zeros(3)), 2.0, 1.0), r"hardtanh.*min_val \(2.0\).*1.0"),
    (lambda: nn.Hardtanh(1.0, 1.0), r"Hardtanh.*max_val \(1.0\).*min_val \(1.0\)"),
    (lambda: F.celu(cr.tensor(np.zeros(3)), 0.0), r"celu.*alpha.*0"),
    (lambda: F.prelu(cr.tensor(np.zeros((2, 3))), cr.tensor(np.ones(4))),
     r"prelu.*4 weights and 3 channels"),
    (lambda: F.prelu(cr.tensor(np.zeros((2, 3))), cr.tensor(np.ones((3, 1)))),
     r"prelu.*scalar or 1-D.*\(3, 1\)"),
    (lambda: nn.PReLU(0), r"PReLU.*num_parameters.*0"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises((ValueError, IndexError), match=match):
        call()


def test_prelu_parameter_dtype_and_state_dict():
    m = nn.PReLU(3, 0.1, dtype=np.float64)
    assert m.weight.dtype == np.float64
    assert list(m.state_dict()) == ["weight"]
    m.weight.data.fill_(2.0)
    m.reset_parameters()
    np.testing.assert_array_equal(m.weight.cpu().numpy(), [0.1, 0.1, 0.1])
