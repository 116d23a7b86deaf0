"""Transforms over containers (issue 7, section 5): arguments, outputs, cotangents and tangents
that are nested lists, tuples, dicts and namedtuples, as JAX's pytrees; and the tree helpers."""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr

F64 = cr.float64
Pair = namedtuple("Pair", ["W", "b"])


def _t(a: Any, **kw: Any) -> cr.Tensor:
    return cr.tensor(np.asarray(a, dtype=np.float64), dtype=F64, **kw)


def _np(tree: Any) -> Any:
    """The tree with each Tensor leaf as its ndarray."""
    return cr.tree_map(lambda x: x.cpu().numpy() if isinstance(x, cr.Tensor) else x, tree)


def _close(got: Any, want: Any, **kw: Any) -> None:
    """Same structure, leaves equal."""
    gl, gdef = cr.tree_flatten(_np(got))
    wl, wdef = cr.tree_flatten(_np(want))
    assert gdef == wdef, (gdef, wdef)
    for g, w in zip(gl, wl):
        np.testing.assert_allclose(g, w, **kw)


@pytest.fixture
def mlp(rng: np.random.Generator) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    sizes = [4, 5, 3, 2]
    params = [(rng.standard_normal((m, n)) / 2, rng.standard_normal(n) / 2)
              for m, n in itertools.pairwise(sizes)]
    return params, rng.standard_normal((6, 4))


def _mlp_loss(params: Any, x: Any) -> cr.Tensor:
    h = x
    for k, (W, b) in enumerate(params):
        h = h @ W + b
        if k < len(params) - 1:
            h = cr.tanh(h)
    return (h * h).mean()


def _flat_loss(*args: Any) -> cr.Tensor:
    *flat, x = args
    return _mlp_loss(list(zip(flat[::2], flat[1::2])), x)


# ----- grad and value_and_grad -----


def test_grad_of_mlp_wrt_list_of_pairs_matches_flat_argnums(mlp: Any) -> None:
    params, x = mlp
    g = cr.grad(_mlp_loss)(params, x)
    assert isinstance(g, list)
    assert len(g) == 3
    assert all(isinstance(p, tuple) and len(p) == 2 for p in g)
    flat = [a for pair in params for a in pair]
    want = cr.grad(_flat_loss, argnums=tuple(range(6)))(*flat, x)
    for (gW, gb), wW, wb in zip(g, want[::2], want[1::2]):
        assert gW.shape == wW.shape
        assert gb.shape == wb.shape
        np.testing.assert_allclose(gW.cpu().numpy(), wW.cpu().numpy(), rtol=1e-12)
        np.testing.assert_allclose(gb.cpu().numpy(), wb.cpu().numpy(), rtol=1e-12)


def test_grad_of_mlp_matches_torch(mlp: Any) -> None:
    torch = pytest.importorskip("torch")
    params, x = mlp
    g = cr.grad(_mlp_loss)(params, x)
    tp = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
          for W, b in params]
    h = torch.tensor(x)
    for k, (W, b) in enumerate(tp):
        h = h @ W + b
        if k < len(tp) - 1:
            h = torch.tanh(h)
    (h * h).mean().backward()
    _close(g, [(W.grad.cpu().numpy(), b.grad.cpu().numpy()) for W, b in tp], rtol=1e-10)


def test_value_and_grad_with_dict_and_argnums_tuple(mlp: Any) -> None:
    params, x = mlp
    d = {"layers": [{"W": W, "b": b} for W, b in params], "scale": np.float64(2.0)}

    def f(p: Any, x: Any) -> cr.Tensor:
        return p["scale"] * _mlp_loss([(q["W"], q["b"]) for q in p["layers"]], x)

    value, (gp, gx) = cr.value_and_grad(f, argnums=(0, 1))(d, x)
    assert value.item() == pytest.approx(2 * _mlp_loss(params, x).item())
    assert set(gp) == {"layers", "scale"}
    assert isinstance(gp["layers"][0], dict)
    flat = cr.grad(_flat_loss, argnums=tuple(range(7)))(*[a for p in params for a in p], x)
    for q, wW, wb in zip(gp["layers"], flat[0:6:2], flat[1:6:2]):
        np.testing.assert_allclose(q["W"].cpu().numpy(), 2 * wW.cpu().numpy(), rtol=1e-12)
        np.testing.assert_allclose(q["b"].cpu().numpy(), 2 * wb.cpu().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gx.cpu().numpy(), 2 * flat[6].cpu().numpy(), rtol=1e-12)
    assert gp["scale"].item() == pytest.approx(_mlp_loss(params, x).item())
    assert gp["scale"].dtype == np.float64
    assert gp["scale"].shape == ()


def test_grad_keeps_namedtuples_none_and_empty_containers() -> None:
    def f(p: Any) -> cr.Tensor:
        return (p["pair"].W ** 2).sum() * p["pair"].b

    p = {"pair": Pair(np.array([1.0, 2.0]), np.array(3.0)), "skip": None, "empty": ()}
    g = cr.grad(f)(p)
    assert type(g["pair"]) is Pair
    assert g["skip"] is None
    assert g["empty"] == ()
    np.testing.assert_allclose(g["pair"].W.cpu().numpy(), [6.0, 12.0])
    assert g["pair"].b.item() == 5.0


def test_grad_with_has_aux_and_repeated_argnums() -> None:
    def f(p: Any, y: Any) -> Any:
        return (p[0] * p[1] * y).sum(), {"n": 1}

    (ga, gy), aux = cr.grad(f, argnums=(0, 1), has_aux=True)([2.0, 3.0], 4.0)
    assert aux == {"n": 1}
    assert [g.item() for g in ga] == [12.0, 8.0]
    assert gy.item() == 6.0
    g1, g2 = cr.grad(lambda p: (p[0] * p[1]).sum(), argnums=(0, 0))((2.0, 3.0))
    assert [g.item() for g in g1] == [g.item() for g in g2] == [3.0, 2.0]


def test_container_grad_inside_outer_graph_keeps_it() -> None:
    """Parameters that require grad: the container gradient is itself differentiable."""
    W = _t([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = _t([0.5, -0.5], requires_grad=True)
    x = np.array([1.0, -1.0])
    g = cr.grad(lambda p: ((x @ p[0] + p[1]) ** 2).sum())([W, b])
    assert g[0].requires_grad
    assert g[1].requires_grad
    (g[1] ** 2).sum().backward()  # g_b = 2 (x W + b); d/db sum g_b^2 = 8 (x W + b)
    np.testing.assert_allclose(b.grad.cpu().numpy(), 8 * (x @ W.cpu().numpy() + b.cpu().numpy()))


def test_hessian_vector_product_by_jvp_of_container_grad(mlp: Any) -> None:
    params, x = mlp
    rng = np.random.default_rng(1)
    v = cr.tree_map(lambda a: rng.standard_normal(a.shape), params)
    _, hv = cr.jvp(lambda p: cr.grad(_mlp_loss)(p, x), (params,), (v,))
    flat = [a for p in params for a in p]
    H = cr.hessian(_flat_loss, argnums=tuple(range(6)))(*flat, x)
    vf = [a for p in v for a in p]
    want = [sum(np.tensordot(H[i][j].cpu().numpy(), vf[j], vf[j].ndim) for j in range(6))
            for i in range(6)]
    _close(hv, [tuple(want[2 * k:2 * k + 2]) for k in range(3)], rtol=1e-9, atol=1e-12)


# ----- vjp -----


def test_vjp_container_primals_and_outputs() -> None:
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])

    def f(p: Any) -> Any:
        return {"prod": p["a"] * p["b"], "pair": (cr.sin(p["a"]), p["b"].sum())}

    out, fn = cr.vjp(f, {"a": a, "b": b})
    assert set(out) == {"prod", "pair"}
    assert isinstance(out["pair"], tuple)
    np.testing.assert_allclose(out["prod"].cpu().numpy(), a * b)
    u, w, s = np.array([1.0, 0.5]), np.array([2.0, -1.0]), 3.0
    (g,) = fn({"prod": u, "pair": (w, s)})
    np.testing.assert_allclose(g["a"].cpu().numpy(), u * b + w * np.cos(a))
    np.testing.assert_allclose(g["b"].cpu().numpy(), u * a + s)


def test_vjp_tuple_output_batched_cotangents_match_singles(rng: np.random.Generator) -> None:
    x = rng.standard_normal(3)
    _, fn = cr.vjp(lambda x: (cr.exp(x), x.sum() * x[:2]), x)
    c1, c2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    (batched,) = fn((c1, c2))
    assert batched.shape == (4, 3)
    for k in range(4):
        np.testing.assert_allclose(batched.cpu().numpy()[k], fn((c1[k], c2[k]))[0].cpu().numpy())
    with pytest.raises(ValueError, match="batch"):
        fn((c1, c2[:3]))


def test_vjp_cotangent_structure_errors_name_the_path() -> None:
    _, fn = cr.vjp(lambda x: {"a": x, "b": (x, 2 * x)}, np.ones(2))
    with pytest.raises(ValueError, match=r"\['b'\]"):
        fn({"a": np.ones(2), "b": (np.ones(2),)})
    with pytest.raises(ValueError, match=r"keys"):
        fn({"a": np.ones(2), "c": (np.ones(2), np.ones(2))})
    with pytest.raises(ValueError, match=r"\['b'\]\[1\]"):
        fn({"a": np.ones(2), "b": (np.ones(2), np.ones(3))})


def test_vjp_of_container_differentiable_in_the_cotangent() -> None:
    """The colleague's section-1 property holds with containers: d/dv of vjp(v) is linear."""
    x, b = np.array([0.5, -1.0]), np.array([1.0, 2.0])

    def lin(v: Any) -> cr.Tensor:
        (g,) = cr.vjp(lambda p: (p[0] * _t(b), p[1] * 3.0), [x, x])[1](v)
        return g[0] * g[1]  # (v0 b)(3 v1)

    v0, v1 = np.array([1.0, 2.0]), np.array([-1.0, 0.5])
    _, d = cr.jvp(lin, ((v0, v1),), ((np.ones(2), np.zeros(2)),))
    np.testing.assert_allclose(d.cpu().numpy(), 3 * b * v1)
    gv = cr.grad(lambda v: lin(v).sum())((v0, v1))
    _close(gv, (3 * b * v1, 3 * b * v0))


# ----- jvp -----


def test_jvp_tangents_mirror_primals_and_nested_output() -> None:
    p = {"W": np.array([[1.0, 2.0], [0.0, 1.0]]), "b": np.array([0.5, -0.5])}
    x = np.array([1.0, 3.0])
    t = {"W": np.array([[0.1, 0.0], [0.0, -0.2]]), "b": np.array([1.0, 1.0])}

    def f(p: Any) -> Any:
        y = x @ p["W"] + p["b"]
        return [y, {"sq": (y * y).sum()}]

    out, d = cr.jvp(f, (p,), (t,))
    y = x @ p["W"] + p["b"]
    dy = x @ t["W"] + t["b"]
    assert isinstance(out, list)
    assert isinstance(d, list)
    _close(out, [y, {"sq": (y * y).sum()}])
    _close(d, [dy, {"sq": 2 * y @ dy}])


def test_jvp_tangent_structure_and_shape_errors() -> None:
    with pytest.raises(ValueError, match="tangent 0"):
        cr.jvp(lambda p: p[0] + p[1], ([1.0, 2.0],), ([1.0],))
    with pytest.raises(ValueError, match=r"argument 0 at \[1\]"):
        cr.jvp(lambda p: p[0] + p[1], ((np.ones(2), np.ones(2)),), ((np.ones(2), np.ones(3)),))


# ----- jacobian and hessian -----


def _g(p: Any) -> Any:
    a, b = p["a"], p["b"]
    return (cr.sin(a) * b[0], {"s": (a * a).sum() * b, "t": cr.exp(b)})


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_nested_in_and_out(mode: str, rng: np.random.Generator) -> None:
    p = {"a": rng.standard_normal((2, 2)), "b": rng.standard_normal(3)}
    J = cr.jacobian(_g, mode=mode)(p)
    out = _g({k: cr.tensor(v) for k, v in p.items()})
    outs, odef = cr.tree_flatten(out)
    jl = odef.flatten_up_to(J)
    flat = [p["a"], p["b"]]

    def fl(a: Any, b: Any) -> Any:
        return cr.tree_flatten(_g({"a": a, "b": b}))[0]

    for j, (o, block) in enumerate(zip(outs, jl)):
        assert set(block) == {"a", "b"}
        for k, key in enumerate(("a", "b")):
            assert block[key].shape == o.shape + p[key].shape
            want = cr.numerical_jacobian(lambda a, b, j=j: fl(a, b)[j], flat)[k]
            np.testing.assert_allclose(block[key].cpu().numpy(), want, rtol=1e-6, atol=1e-8)


def test_jacobian_argnums_tuple_convention(rng: np.random.Generator) -> None:
    """JAX's nesting: the output's structure outside, a tuple of argument trees inside."""
    x, y = rng.standard_normal(2), [rng.standard_normal(3)]

    def f(x: Any, y: Any) -> Any:
        return (x * y[0].sum(), y[0] * x[0])

    J = cr.jacobian(f, argnums=(0, 1))(x, y)
    assert isinstance(J, tuple)
    assert len(J) == 2
    (j00, (j01,)), (j10, (j11,)) = J
    assert (j00.shape, j01.shape, j10.shape, j11.shape) == ((2, 2), (2, 3), (3, 2), (3, 3))
    np.testing.assert_allclose(j00.cpu().numpy(), np.eye(2) * y[0].sum())
    np.testing.assert_allclose(j11.cpu().numpy(), np.eye(3) * x[0])
    np.testing.assert_allclose(j10.cpu().numpy(), np.stack([y[0], np.zeros(3)], axis=1))


def test_hessian_of_function_of_a_tuple(rng: np.random.Generator) -> None:
    A = rng.standard_normal((2, 3))

    def f(p: Any) -> cr.Tensor:
        x, y = p
        return (x @ _t(A) @ y) ** 2 + (x**3).sum()

    x, y = rng.standard_normal(2), rng.standard_normal(3)
    H = cr.hessian(f)((x, y))
    assert isinstance(H, tuple)
    assert all(isinstance(r, tuple) and len(r) == 2 for r in H)
    flat = cr.hessian(lambda x, y: f((x, y)), argnums=(0, 1))(x, y)
    _close(H, flat, rtol=1e-12)
    Ay, xA, s = A @ y, x @ A, x @ A @ y
    np.testing.assert_allclose(H[0][0].cpu().numpy(), 2 * np.outer(Ay, Ay) + np.diag(6 * x))
    np.testing.assert_allclose(H[1][1].cpu().numpy(), 2 * np.outer(xA, xA))
    np.testing.assert_allclose(H[0][1].cpu().numpy(), 2 * np.outer(Ay, xA) + 2 * s * A)
    np.testing.assert_allclose(H[1][0].cpu().numpy(), H[0][1].cpu().numpy().T)


# ----- errors naming the path of a bad leaf -----


@pytest.mark.parametrize(
    "call",
    [
        lambda p: cr.grad(lambda p: p[0]["W"].sum())(p),
        lambda p: cr.vjp(lambda p: p[0]["W"], p),
        lambda p: cr.jvp(lambda p: p[0]["W"], (p,), (p,)),
        lambda p: cr.jacobian(lambda p: p[0]["W"])(p),
        lambda p: cr.hessian(lambda p: p[0]["W"].sum())(p),
    ],
    ids=["grad", "vjp", "jvp", "jacobian", "hessian"],
)
def test_bad_leaf_error_names_its_path(call: Any) -> None:
    p = [{"W": np.ones(2), "name": "layer1"}]
    with pytest.raises(TypeError, match=r"argument 0 at \[0\]\['name'\].*str"):
        call(p)


def test_integer_leaf_and_non_tensor_output_errors_name_the_path() -> None:
    with pytest.raises(TypeError, match=r"\['n'\].*floating"):
        cr.grad(lambda p: p["x"].sum())({"x": np.ones(2), "n": 3})
    with pytest.raises(TypeError, match=r"vjp.*int at \[1\]"):
        cr.vjp(lambda x: (x, 3), np.ones(2))
    with pytest.raises(TypeError, match="vjp: f must return a Tensor, got NoneType"):
        cr.vjp(lambda x: None, np.ones(2))


# ----- tree helpers -----


def test_tree_flatten_conventions() -> None:
    tree = {"b": [1, (2, None)], "a": Pair(3, {"z": 4, "y": 5}), "c": OrderedDict(q=6, p=7)}
    leaves, tdef = cr.tree_flatten(tree)
    assert leaves == [3, 5, 4, 1, 2, 6, 7]  # dict keys sorted, OrderedDict in its order
    assert tdef.num_leaves == 7
    back = cr.tree_unflatten(tdef, leaves)
    assert back == tree
    assert type(back["a"]) is Pair
    assert type(back["c"]) is OrderedDict
    assert cr.tree_flatten(None) == ([], cr.tree_flatten(None)[1])
    x = cr.tensor([1.0, 2.0])
    leaves, tdef = cr.tree_flatten(x)
    assert leaves[0] is x
    assert tdef.is_leaf
    assert cr.tree_unflatten(tdef, [5]) == 5
    assert "Pair" in repr(cr.tree_flatten(tree)[1])
    with pytest.raises(ValueError, match="leaves"):
        cr.tree_unflatten(tdef, [1, 2])


def test_tree_map_with_rest_and_prefix() -> None:
    assert cr.tree_map(lambda a, b: a + b, [1, (2, 3)], [10, (20, 30)]) == [11, (22, 33)]
    # where the first tree has a leaf, the others may hold a whole subtree
    assert cr.tree_map(lambda a, b: (a, b), [1, 2], [(5, 6), {"k": 7}]) == [(1, (5, 6)),
                                                                           (2, {"k": 7})]
    assert cr.tree_map(lambda a: a * 2, {"x": None, "y": 1}) == {"x": None, "y": 2}
    with pytest.raises(ValueError, match=r"tree 1 of rest.*\[1\]"):
        cr.tree_map(lambda a, b: a, [1, (2, 3)], [1, (2,)])
    with pytest.raises(TypeError, match="sorted"):
        cr.tree_flatten({1: 0, "a": 1})


_leaf = st.one_of(st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=3))
_trees = st.recursive(
    st.one_of(_leaf, st.none()),
    lambda kids: st.one_of(
        st.lists(kids, max_size=3),
        st.lists(kids, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3), kids, max_size=3),
        st.tuples(kids, kids).map(lambda t: Pair(*t)),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(_trees)
def test_tree_round_trip_property(tree: Any) -> None:
    leaves, tdef = cr.tree_flatten(tree)
    assert tdef.num_leaves == len(leaves)
    back = cr.tree_unflatten(tdef, leaves)
    assert back == tree
    assert cr.tree_flatten(back)[1] == tdef
    marked = cr.tree_unflatten(tdef, range(len(leaves)))
    assert cr.tree_flatten(marked)[0] == list(range(len(leaves)))
    assert cr.tree_map(lambda x: x, tree) == tree
    assert len(tdef.paths()) == len(leaves)
