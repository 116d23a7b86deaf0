"""The Tensor's PyTorch-dialect methods against PyTorch: values, structure, dtypes, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from reference import cpu_only, needs_no_cuda

import chainrule as cr

torch = pytest.importorskip("torch")

X = np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 0.37 - 3.1
X[0, 1, 2] = X[1, 2, 3]  # a tie, so that index choices are exercised

# (name, call): each call takes the module-like namespace of tensors (cr or torch) and a tensor
CASES = [
    ("size", lambda t: t.size()),
    ("size_dim", lambda t: t.size(1)),
    ("size_neg", lambda t: t.size(-1)),
    ("numel", lambda t: t.numel()),
    ("dim", lambda t: t.dim()),
    ("view", lambda t: t.view(6, 4)),
    ("view_neg", lambda t: t.view(-1, 2)),
    ("view_tuple", lambda t: t.view((4, 6))),
    ("reshape", lambda t: t.reshape(3, -1)),
    ("transpose_swap", lambda t: t.transpose(0, 2)),
    ("transpose_neg", lambda t: t.transpose(-1, -2)),
    ("permute", lambda t: t.permute(2, 0, 1)),
    ("permute_tuple", lambda t: t.permute((1, 2, 0))),
    ("mT", lambda t: t.mT),
    ("t", lambda t: t[0].t()),
    ("contiguous", lambda t: t.transpose(0, 1).contiguous()),
    ("clone", lambda t: t.clone()),
    ("expand", lambda t: t[:, :1].expand(2, 5, 4)),
    ("expand_neg", lambda t: t[:1].expand(3, -1, -1)),
    ("repeat", lambda t: t[0].repeat(2, 3)),
    ("repeat_more", lambda t: t[0, 0].repeat(2, 1, 2)),
    ("split_size", lambda t: t.split(2, dim=2)),
    ("split_sizes", lambda t: t.split([1, 3], 2)),
    ("split_uneven", lambda t: t.split(2, 1)),
    ("chunk", lambda t: t.chunk(3, 2)),
    ("unbind", lambda t: t.unbind(1)),
    ("select", lambda t: t.select(1, 2)),
    ("narrow", lambda t: t.narrow(2, 1, 2)),
    ("flip", lambda t: t.flip(0, 2)),
    ("unflatten", lambda t: t.unflatten(2, (2, 2))),
    ("max_all", lambda t: t.max()),
    ("max_dim", lambda t: t.max(1)),
    ("max_dim_keep", lambda t: t.max(2, keepdim=True)),
    ("min_dim", lambda t: t.min(dim=0)),
    ("max_dim_indices", lambda t: t.max(1)[1]),
    ("amax", lambda t: t.amax(1)),
    ("argmax_dim", lambda t: t.argmax(2)),
    ("argmax_all", lambda t: t.argmax()),
    ("sort", lambda t: t.sort(2)),
    ("sort_desc", lambda t: t.sort(1, descending=True)),
    ("argsort", lambda t: t.argsort(-1)),
    ("topk", lambda t: t.topk(2, dim=2)),
    ("topk_small", lambda t: t.topk(2, 1, largest=False)),
    ("sum_dim", lambda t: t.sum(1)),
    ("sum_keep", lambda t: t.sum((0, 2), keepdim=True)),
    ("mean_dim", lambda t: t.mean(-1)),
    ("std_default", lambda t: t.std()),
    ("var_dim", lambda t: t.var(1)),
    ("var_biased", lambda t: t.var(1, unbiased=False)),
    ("std_correction", lambda t: t.std(2, correction=0)),
    ("norm", lambda t: t.norm()),
    ("norm_dim", lambda t: t.norm(dim=1)),
    ("norm_p1", lambda t: t.norm(p=1, dim=2)),
    ("cumsum", lambda t: t.cumsum(1)),
    ("logsumexp", lambda t: t.logsumexp(2)),
    ("add_alpha", lambda t: t.add(t * 2, alpha=0.5)),
    ("sub_alpha", lambda t: t.sub(1.5, alpha=2)),
    ("div", lambda t: t.div(2.5)),
    ("div_floor", lambda t: t.div(2.5, rounding_mode="floor")),
    ("clamp", lambda t: t.clamp(-1, 2)),
    ("clamp_min", lambda t: t.clamp(min=0.5)),
    ("addcmul", lambda t: t.addcmul(t, t, value=0.5)),
    ("rsqrt", lambda t: (t * t + 1).rsqrt()),
    ("masked_fill", lambda t: t.masked_fill(t > 0, -1.0)),
    ("masked_select", lambda t: t.masked_select(t > 0)),
    ("where", lambda t: t.where(t > 0, t * 2)),
    ("gather", lambda t: t.gather(2, t.argsort(2)[..., :2])),
    ("index_select", lambda t: t.index_select(2, t.new_tensor([3, 0, 3]).long())),
    ("eq", lambda t: t.eq(t.round())),
    ("lt", lambda t: t.lt(0)),
    ("float", lambda t: t.long().float()),
    ("double", lambda t: t.float().double()),
    ("long", lambda t: t.long()),
    ("int", lambda t: t.int()),
    ("bool", lambda t: t.bool()),
    ("type_str", lambda t: t.float().type()),
    ("type_cast", lambda t: t.type("torch.LongTensor")),
    ("new_zeros", lambda t: t.new_zeros(2, 3)),
    ("new_ones", lambda t: t.new_ones((2,))),
    ("new_full", lambda t: t.new_full((2, 2), 3.5)),
    ("all", lambda t: (t > -10).all()),
    ("any_dim", lambda t: (t > 2).any(1)),
    ("mm", lambda t: t[0].mm(t[1].t())),
    ("bmm", lambda t: t.bmm(t.transpose(1, 2))),
    ("floor", lambda t: t.floor()),
    ("nonzero", lambda t: (t > 1).nonzero()),
    ("stride", lambda t: t.stride()),
    ("is_contiguous", lambda t: t.transpose(0, 1).is_contiguous()),
    ("equal", lambda t: t.equal(t.clone())),
]


def _np(v):
    if isinstance(v, tuple | list):
        return type(v)(_np(x) for x in v) if not hasattr(v, "_fields") else tuple(_np(x) for x in v)
    if isinstance(v, cr.Tensor):
        return v.cpu().numpy()
    if isinstance(v, torch.Tensor):
        return v.detach().numpy()
    return v


def _assert_same(got, want, name):
    if isinstance(want, tuple | list):
        assert isinstance(got, tuple | list), name
        assert len(got) == len(want), name
        for g, w in zip(got, want, strict=True):
            _assert_same(g, w, name)
        return
    if isinstance(want, np.ndarray):
        assert got.shape == want.shape, f"{name}: shape {got.shape} vs {want.shape}"
        assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} vs {want.dtype}"
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=name)
        return
    assert got == want, f"{name}: {got!r} vs {want!r}"


@pytest.mark.parametrize(("name", "call"), CASES, ids=[c[0] for c in CASES])
def test_method_matches_torch(name, call):
    got = call(cr.tensor(X))
    want = call(torch.tensor(X))
    if name.startswith("size") and not isinstance(want, int):
        assert tuple(got) == tuple(want)
        return
    _assert_same(_np(got), _np(want), name)


GRAD_CASES = [c for c in CASES if c[0] in {
    "view", "transpose_swap", "permute", "mT", "clone", "expand", "repeat", "repeat_more",
    "split_size", "split_sizes", "chunk", "unbind", "select", "narrow", "flip", "max_dim",
    "min_dim", "amax", "sort", "topk", "sum_keep", "std_default", "var_dim", "norm", "norm_dim",
    "cumsum", "logsumexp", "add_alpha", "clamp", "addcmul", "masked_fill", "masked_select",
    "where", "gather", "index_select", "bmm", "double",
}]


def _scalar(out, lib):
    if isinstance(out, tuple):  # named (values, indices) pairs and tuples of pieces
        outs = [o for o in out if o.dtype in (torch.float64, np.float64)]
    else:
        outs = [out]
    total = 0
    for i, o in enumerate(outs):
        w = lib.tensor(np.cos(np.arange(o.numel(), dtype=np.float64) + i).reshape(tuple(o.shape)))
        total = total + (o * w).sum()
    return total


@pytest.mark.parametrize(("name", "call"), GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_method_gradient_matches_torch(name, call):
    x = cr.tensor(X, requires_grad=True)
    _scalar(call(x), cr).backward()
    xt = torch.tensor(X, requires_grad=True)
    _scalar(call(xt), torch).backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_numpy_keywords_keep_numpy_meaning():
    t = cr.tensor(X)
    np.testing.assert_array_equal(t.max(axis=1).cpu().numpy(), X.max(axis=1))
    np.testing.assert_array_equal(t.transpose((1, 0, 2)).cpu().numpy(), X.transpose((1, 0, 2)))
    np.testing.assert_allclose(t.std(axis=1).cpu().numpy(), X.std(axis=1))
    assert [p.shape for p in t.split(2, axis=2)] == [(2, 3, 2), (2, 3, 2)]
    assert t.size == X.size
    assert t.size + 0 == 24
    np.testing.assert_array_equal(cr.max(t, 1).cpu().numpy(), X.max(1))  # NumPy dialect


def test_argmax_idiom_gives_indices():
    out = cr.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    np.testing.assert_array_equal(out.max(1)[1].cpu().numpy(), [1, 0])
    assert out.max(1).indices.dtype == np.int64


def test_data_is_a_detached_tensor_sharing_memory():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    d = w.data
    assert isinstance(d, cr.Tensor)
    assert not d.requires_grad
    d[0] = 5.0  # a write through .data is not tracked (as PyTorch)
    np.testing.assert_array_equal(w.cpu().numpy(), [5.0, 2.0])
    w.data = cr.tensor([7.0, 8.0])
    np.testing.assert_array_equal(w.cpu().numpy(), [7.0, 8.0])
    assert w.requires_grad


@needs_no_cuda
def test_device_and_to():
    t = cr.tensor([1.0, 2.0])
    assert t.device == cr.device("cpu")
    assert t.device == "cpu"
    assert str(t.device) == "cpu"
    assert t.to("cpu") is t
    assert t.cpu() is t
    assert t.to(cr.float64).dtype == np.float64
    assert t.to("cpu", dtype=np.float64).dtype == np.float64
    assert t.to(cr.tensor([1], dtype=cr.int64)).dtype == np.int64
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        t.to("cuda")
    with pytest.raises(RuntimeError, match="cuda:1"):
        cr.zeros(2, device="cuda:1")
    with pytest.raises(RuntimeError, match="expected one of"):
        cr.device("gpu")


def test_grad_fn_names_the_op_and_links_inputs():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).exp().sum()
    assert x.grad_fn is None
    assert "Sum" in y.grad_fn.name()
    (exp_fn, _), = y.grad_fn.next_functions
    assert "Exp" in exp_fn.name()
    (mul_fn, _), = exp_fn.next_functions
    acc = mul_fn.next_functions[0][0]
    assert acc.name() == "AccumulateGrad"
    assert acc.variable is x


def test_factories_take_device_requires_grad_and_generator():
    g = cr.Generator().manual_seed(3)
    a = cr.randn(2, 3, generator=g, device="cpu", requires_grad=True)
    b = cr.randn(2, 3, generator=cr.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    assert a.requires_grad
    assert a.is_leaf
    assert cr.zeros(size=(2, 2)).shape == (2, 2)
    assert cr.randint(5, (4,)).shape == (4,)
    assert cr.ones(3, dtype=np.float64, requires_grad=True).requires_grad
    assert cr.arange(0, 1, 0.25, device="cpu").dtype == np.float32


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
@cpu_only  # host shared memory; PyTorch's CUDA tensors do not survive a fork either
def test_share_memory_is_seen_by_forked_processes():
    import multiprocessing as mp

    import chainrule.nn as nn

    model = nn.Linear(2, 2).share_memory()
    assert model.weight.is_shared()

    def train(m):
        with cr.no_grad():
            m.weight.fill_(3.0)

    p = mp.get_context("fork").Process(target=train, args=(model,))
    p.start()
    p.join()
    assert p.exitcode == 0
    np.testing.assert_array_equal(model.weight.cpu().numpy(), np.full((2, 2), 3.0))


def test_format_and_flags():
    assert f"{cr.tensor(2.5):.2f}" == "2.50"
    assert f"{cr.tensor([1.5]):+.1f}" == "+1.5"
    t = cr.ones(2, device="cpu")
    assert not t.is_cuda
    assert not t.is_sparse


def _fill_three(m):
    with cr.no_grad():
        m.weight.fill_(3.0)


@cpu_only  # host shared memory (POSIX blocks); chainrule has no CUDA IPC
def test_share_memory_reaches_spawned_processes():
    import multiprocessing as mp
    import pickle

    import chainrule.nn as nn

    model = nn.Linear(2, 2).share_memory()
    p = mp.get_context("spawn").Process(target=_fill_three, args=(model,))
    p.start()
    p.join()
    assert p.exitcode == 0
    np.testing.assert_array_equal(model.weight.cpu().numpy(), np.full((2, 2), 3.0))
    t = pickle.loads(pickle.dumps(cr.tensor([1.0, 2.0], requires_grad=True)))
    assert t.requires_grad
    with pytest.raises(RuntimeError, match="non-leaf"):
        pickle.dumps(t * 2)


def test_deepcopy_copies_values_and_keeps_the_class():
    import copy

    import chainrule.nn as nn

    layer = nn.Linear(2, 2).share_memory()
    clone = copy.deepcopy(layer)
    assert type(clone.weight) is type(layer.weight)
    if clone.weight.device.type == "cpu":  # CUDA memory counts as shared, as PyTorch's
        assert not clone.weight.is_shared()
    with cr.no_grad():
        clone.weight.fill_(0.0)
    assert layer.weight.cpu().numpy().any()


def test_max_and_min_over_dim_give_the_gradient_to_the_returned_index_as_pytorch():
    t = cr.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    values, indices = t.max(1)
    (values * cr.tensor([1.0, 2.0])).sum().backward()
    np.testing.assert_array_equal(indices.cpu().numpy(), [1, 0])
    np.testing.assert_array_equal(t.grad.cpu().numpy(), [[0, 1, 0], [2, 0, 0]])
    values, indices = t.min(-1, keepdim=True)
    assert values.shape == (2, 1)
    assert indices.shape == (2, 1)
    np.testing.assert_array_equal(values.cpu().numpy(), [[1], [0]])
