"""The Optimizer base: parameter groups, the step loop, zero_grad, dtype and memory discipline."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import chainrule as cr
import chainrule.optim as optim
from chainrule.nn.module import Parameter

FULL_OPTIONS = {
    "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True},
    "Adam": {"amsgrad": True, "weight_decay": 0.1, "maximize": True},
    "AdamW": {"amsgrad": True},
    "RMSprop": {"centered": True, "momentum": 0.9, "weight_decay": 0.1, "maximize": True},
    "Adagrad": {"lr_decay": 0.1, "weight_decay": 0.1, "maximize": True},
    "Adadelta": {"weight_decay": 0.1, "maximize": True},
}


def _param(values: object, dtype: type = np.float64) -> Parameter:
    return Parameter(np.asarray(values, dtype=dtype))


def _with_grad(values: object, grad: object, dtype: type = np.float64) -> Parameter:
    p = _param(values, dtype)
    p.grad = cr.Tensor(np.asarray(grad, dtype=dtype))
    return p


# ----- parameter groups -----
def test_groups_take_the_defaults_they_do_not_set() -> None:
    a, b = _param([1.0]), _param([2.0])
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    assert opt.param_groups[1]["params"][0] is b
    c = _param([3.0])
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1
    assert opt.param_groups[2]["momentum"] == 0.0
    assert "Parameter Group 2" in repr(opt)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda a: optim.SGD([], lr=0.1), ValueError, "empty"),
        (lambda a: optim.SGD(a, lr=0.1), TypeError, "iterable"),
        (lambda a: optim.SGD({a}, lr=0.1), TypeError, "set"),
        (lambda a: optim.SGD([a, a], lr=0.1), ValueError, "twice"),
        (lambda a: optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1), ValueError, "more than"),
        (lambda a: optim.SGD([np.zeros(2)], lr=0.1), TypeError, "Tensors"),
        (lambda a: optim.SGD([a * 2], lr=0.1), ValueError, "non-leaf"),
        (lambda a: optim.SGD([{"lr": 0.1}], lr=0.1), KeyError, "params"),
    ],
)
def test_bad_parameter_lists_raise(make: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make(_param([1.0, 2.0]))


# ----- the step -----
def test_step_skips_parameters_without_gradients_and_reads_lr_each_time() -> None:
    a, b = _with_grad([1.0, 2.0], [1.0, 1.0]), _param([5.0])
    opt = optim.SGD([a, b], lr=0.5)
    opt.step()
    np.testing.assert_allclose(a.cpu().numpy(), [0.5, 1.5])
    np.testing.assert_allclose(b.cpu().numpy(), [5.0])
    assert b not in opt.state
    opt.param_groups[0]["lr"] = np.float64(0.25)  # a NumPy scalar is read as a Python float
    opt.step()
    np.testing.assert_allclose(a.cpu().numpy(), [0.25, 1.25])


def test_step_calls_the_closure_with_grad_enabled_and_returns_its_value() -> None:
    w = _param([3.0])
    opt = optim.SGD([w], lr=0.25)

    def closure() -> cr.Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 9.0
    np.testing.assert_allclose(w.cpu().numpy(), [1.5])


@pytest.mark.parametrize("cls", FULL_OPTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_keeps_dtypes_updates_in_place_and_never_writes_the_gradient(
    cls: str, dtype: type
) -> None:
    rng = np.random.default_rng(0)
    p = _with_grad(rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), dtype)
    data, grad = p._data, p.grad.cpu().numpy().copy()
    opt = getattr(optim, cls)([p], **FULL_OPTIONS[cls])
    for _ in range(3):
        opt.step()
    assert p._data is data  # updated in place
    assert p.cpu().numpy().dtype == dtype
    np.testing.assert_array_equal(p.grad.cpu().numpy(), grad)
    for k, v in opt.state[p].items():
        assert isinstance(v, float) if k == "step" else v.dtype == dtype


def test_gradient_of_another_dtype_is_cast_and_wrong_shapes_raise() -> None:
    p = _with_grad([1.0, 2.0], [2.0, 2.0], np.float32)
    p.grad = cr.Tensor(np.array([2.0, 2.0]))  # float64 gradient for a float32 parameter
    optim.SGD([p], lr=0.5).step()
    assert p.cpu().numpy().dtype == np.float32
    np.testing.assert_allclose(p.cpu().numpy(), [0.0, 1.0])
    p.grad = cr.Tensor(np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        optim.SGD([p], lr=0.5).step()


def test_read_only_parameter_data_is_replaced_by_a_writeable_copy() -> None:
    p = Parameter(np.broadcast_to(np.float32(1.0), (2, 2)))
    p.grad = cr.Tensor(np.ones((2, 2), dtype=np.float32))
    optim.SGD([p], lr=0.5).step()
    np.testing.assert_allclose(p.cpu().numpy(), 0.5)


@pytest.mark.parametrize("cls", FULL_OPTIONS)
def test_the_update_of_a_large_parameter_allocates_nothing(cls: str) -> None:
    # PERFORMANCE.md point 5: temporaries live in reused scratch buffers.
    p = _with_grad(np.ones((500, 400)), np.full((500, 400), 0.5), np.float32)
    opt = getattr(optim, cls)([p], **FULL_OPTIONS[cls])
    opt.step()  # the first step creates the state and the scratch buffers
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < p.cpu().numpy().nbytes // 10


def test_scratch_follows_each_parameters_layout() -> None:
    opt = optim.SGD([_param([0.0])], lr=0.1)
    c, f = np.zeros((3, 5), np.float32), np.zeros((5, 3), np.float32, order="F")
    assert opt.scratch(c, 0).flags.c_contiguous
    assert opt.scratch(f, 0).flags.f_contiguous
    assert opt.scratch(f, 0).shape == (5, 3)
    assert np.shares_memory(opt.scratch(c, 1), opt.scratch(f, 1))  # one buffer per (dtype, k)
    strided = np.zeros((4, 6), np.float32)[:, ::2]
    assert opt.scratch(strided, 0).shape == (4, 3)


# ----- zero_grad -----
def test_zero_grad_sets_none_by_default() -> None:
    p = _with_grad([1.0], [2.0])
    optim.SGD([p], lr=0.1).zero_grad()
    assert p.grad is None


def test_zero_grad_without_none_zeroes_owned_arrays_in_place_and_replaces_views() -> None:
    base = np.ones(4)
    a, b = _with_grad([1.0, 2.0], [3.0, 4.0]), _param([1.0, 2.0])
    b.grad = cr.Tensor(base[:2])
    grad_a = a.grad._data
    optim.SGD([a, b], lr=0.1).zero_grad(set_to_none=False)
    assert a.grad._data is grad_a
    np.testing.assert_array_equal(a.grad.cpu().numpy(), 0.0)
    np.testing.assert_array_equal(b.grad.cpu().numpy(), 0.0)
    np.testing.assert_array_equal(base, 1.0)  # the view's base is not written


# ----- with chainrule's autodiff -----
@pytest.mark.parametrize("cls", ["SGD", "Adam", "RMSprop"])
def test_training_with_backward_matches_torch(cls: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 5)), rng.normal(size=(16, 2))
    w0, b0 = rng.normal(size=(2, 5)), np.zeros(2)
    kwargs = {"lr": 0.05, "momentum": 0.9} if cls != "Adam" else {"lr": 0.05}
    w, b = Parameter(w0.copy()), Parameter(b0.copy())
    opt = getattr(optim, cls)([w, b], **kwargs)
    tw, tb = (torch.tensor(a, requires_grad=True) for a in (w0, b0))
    topt = getattr(torch.optim, cls)([tw, tb], **kwargs)
    tx, ty = torch.tensor(x), torch.tensor(y)
    for _ in range(25):
        opt.zero_grad()
        loss = ((cr.Tensor(x) @ w.T + b - cr.Tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        topt.zero_grad()
        ((tx @ tw.T + tb - ty) ** 2).mean().backward()
        topt.step()
    np.testing.assert_allclose(w.cpu().numpy(), tw.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.cpu().numpy(), tb.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)


def test_numpy_scalar_hyperparameters_compute_as_python_floats() -> None:
    # NumPy 2 treats np.float64 scalars as strong: read raw, they would run the update in float64.
    def run(lr: object, betas: tuple) -> np.ndarray:
        p = _with_grad(np.linspace(-1, 1, 7), np.linspace(2, -3, 7), np.float32)
        opt = optim.Adam([p], lr=0.1)
        opt.param_groups[0].update(lr=lr, betas=betas)
        for _ in range(3):
            opt.step()
        assert opt.state[p]["exp_avg"].dtype == np.float32
        return p.cpu().numpy()

    plain = run(0.01, (0.8, 0.9))
    numpy = run(np.float64(0.01), (np.float64(0.8), np.float64(0.9)))
    np.testing.assert_array_equal(numpy, plain)


# ----- PyTorch's keyword arguments -----
TORCH_KWARGS = {
    "SGD": {"lr": 0.1, "maximize": True, "foreach": False, "differentiable": False, "fused": None},
    "Adam": {"foreach": None, "maximize": True, "capturable": False, "differentiable": False,
             "fused": False, "decoupled_weight_decay": False},
    "AdamW": {"maximize": False, "foreach": True, "capturable": True, "differentiable": False,
              "fused": None},
    "RMSprop": {"capturable": False, "foreach": None, "maximize": True, "differentiable": False},
    "Adagrad": {"foreach": None, "maximize": True, "differentiable": False, "fused": False},
    "Adadelta": {"foreach": False, "capturable": True, "maximize": True, "differentiable": False},
    "LBFGS": {"max_eval": 7, "line_search_fn": "strong_wolfe"},
}


@pytest.mark.parametrize("cls", TORCH_KWARGS)
def test_pytorchs_keyword_arguments_are_accepted_and_kept_as_pytorch_keeps_them(cls: str) -> None:
    torch = pytest.importorskip("torch")
    kwargs = TORCH_KWARGS[cls]
    got = getattr(optim, cls)([_param([1.0, 2.0])], **kwargs).param_groups[0]
    want = getattr(torch.optim, cls)([torch.zeros(2, requires_grad=True)], **kwargs)
    want = want.param_groups[0]
    assert {k: v for k, v in got.items() if k != "params"} == {
        k: v for k, v in want.items() if k != "params"}


@pytest.mark.parametrize("cls", [c for c in TORCH_KWARGS if c != "LBFGS"])
def test_differentiable_steps_are_refused(cls: str) -> None:
    kwargs = {"lr": 0.1} if cls == "SGD" else {}
    with pytest.raises(NotImplementedError, match="differentiable"):
        getattr(optim, cls)([_param([1.0])], differentiable=True, **kwargs)


@pytest.mark.parametrize("cls", ["SGD", "Adam", "AdamW", "Adagrad"])
def test_fused_and_foreach_together_raise_as_in_torch(cls: str) -> None:
    kwargs = {"lr": 0.1} if cls == "SGD" else {}
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        getattr(optim, cls)([_param([1.0])], fused=True, foreach=True, **kwargs)
