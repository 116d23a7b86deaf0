"""Generic tests run on every row of op_specs.OP_SPECS, and property tests on generated shapes.

Each test draws the samples of one row and checks one thing: forward values, both AD modes
against finite differences, reverse against forward, batched against separate, PyTorch parity,
float32 kept, and second order. A failing row names the op; the message names the sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_specs import ELEMENTWISE_SPECS, OP_SPECS, OpSpec, Sample, rows, scalarised
from reference import (
    assert_close,
    is_array,
    to_numpy,
    torch_hessian,
    torch_jvp,
    torch_scalarised,
    torch_value_and_grad,
    vdot,
)

import chainrule as cr
from chainrule import ops
from chainrule.ops.comparison import COMPARISONS
from chainrule.ops.index_functions import INDEX_FUNCTIONS
from chainrule.ops.predicates import PREDICATES
from chainrule.ops.rules import sum_to

K = 3  # directions pushed at once in the batched tests


def _tensors(sample: Sample, requires_grad: bool = False) -> list[cr.Tensor]:
    return [cr.tensor(a, requires_grad=requires_grad) for a in sample.args]


def _randn(rng: np.random.Generator, like: Any, lead: tuple[int, ...] = ()) -> np.ndarray:
    """Random normal values of like's shape (after ``lead`` batch axes) and dtype."""
    a = to_numpy(like)
    return rng.standard_normal(lead + a.shape).astype(a.dtype)


def _weights(rng: np.random.Generator, f: Callable[..., Any], sample: Sample) -> np.ndarray:
    """A random array shaped as f's output, to scalarise it with."""
    with cr.no_grad():
        return _randn(rng, f(*_tensors(sample)))


def _only(f: Callable[..., Any], args: tuple, i: int) -> Callable[..., Any]:
    """f as a function of its i-th argument, the others ndarray constants."""
    return lambda x: f(*args[:i], x, *args[i + 1:])


def _squared_norm(fn: Callable[..., Any]) -> Callable[..., Any]:
    """x -> sum(fn(x)^2)."""
    return lambda x: (fn(x) * fn(x)).sum()


# ----- 1. forward values -----
@pytest.mark.parametrize("spec", rows("forward"))
def test_forward_matches_numpy(spec: OpSpec, rng: np.random.Generator) -> None:
    for s in spec.sample(rng):
        out = spec.bind(s)(*_tensors(s))
        assert isinstance(out, cr.Tensor), s
        assert is_array(out._data), s  # 0-d results too: np.asarray(out) works
        assert out.dtype == np.float64, s
        assert_close(out, spec.np_fn(*s.args, **s.kwargs), rtol=1e-12, atol=1e-14, what=repr(s))


@pytest.mark.parametrize("spec", rows("zero_d", only=lambda s: s.elementwise))
def test_zero_d_operands_give_arrays(spec: OpSpec, rng: np.random.Generator) -> None:
    """Every elementwise row on 0-d operands: output, tangent and cotangents are 0-d arrays."""
    s = Sample(spec.domain(rng, [()] * len(spec.cases[0][0]), np.float64), spec.cases[0][1])
    f = spec.bind(s)
    out, d = cr.jvp(f, s.args, [np.ones(()) for _ in s.args])
    for r in (out, d, *cr.vjp(f, *s.args)[1](np.ones(out.shape))):
        assert is_array(r._data), s
        assert to_numpy(r).shape == r.shape, s


# ----- 2. both modes against central differences -----
@pytest.mark.parametrize("spec", rows("gradcheck"))
def test_gradcheck(spec: OpSpec, rng: np.random.Generator) -> None:
    for s in spec.sample(rng):
        assert cr.gradcheck(spec.bind(s), s.args, **spec.gradcheck_kw), s


# ----- 3. reverse mode against forward mode: v . (J u) both ways -----
@pytest.mark.parametrize("spec", rows("reverse_forward"))
def test_reverse_matches_forward(spec: OpSpec, rng: np.random.Generator) -> None:
    for s in spec.sample(rng):
        f = spec.bind(s)
        us = [_randn(rng, a) for a in s.args]
        out, ju = cr.jvp(f, s.args, us)
        v = _randn(rng, out)
        out_r, vjp_fn = cr.vjp(f, *s.args)
        vj = vjp_fn(v)
        assert_close(out_r, out, what=repr(s))
        assert len(vj) == len(s.args), s
        forward = vdot(v, ju)
        reverse = sum(vdot(u, g) for u, g in zip(us, vj, strict=True))
        assert np.isclose(forward, reverse, rtol=max(1e-10, spec.rtol), atol=1e-12), (
            s, forward, reverse)


@pytest.mark.parametrize("spec", rows("one_input", only=lambda s: len(s.cases[0][0]) > 1))
def test_one_input_at_a_time(spec: OpSpec, rng: np.random.Generator) -> None:
    """With the other operands constants (no tangent, no graph), each input's jvp and vjp are
    the full ones restricted to it, batched too (the symbolic-zero paths of the rules)."""
    for s in spec.sample(rng):
        f = spec.bind(s)
        us = [_randn(rng, a, (K,)) for a in s.args]
        out, vjp_fn = cr.vjp(f, *s.args)
        vs = _randn(rng, out, (K,))
        full = vjp_fn(vs)
        for i in range(len(s.args)):
            fi = _only(f, s.args, i)
            alone = [u if j == i else np.zeros_like(u) for j, u in enumerate(us)]
            assert_close(cr.jvp(fi, (s.args[i],), (us[i],))[1], cr.jvp(f, s.args, alone)[1],
                         rtol=max(1e-12, spec.rtol), atol=1e-14, what=f"jvp of input {i}, {s}")
            (gi,) = cr.vjp(fi, s.args[i])[1](vs)
            assert_close(gi, full[i], rtol=max(1e-12, spec.rtol), atol=1e-14,
                         what=f"vjp of input {i}, {s}")


# ----- 4. k directions at once equal k separate passes -----
@pytest.mark.parametrize("spec", rows("batched"))
def test_batched_equals_separate(spec: OpSpec, rng: np.random.Generator) -> None:
    rtol = max(1e-12, spec.rtol)
    for s in spec.sample(rng):
        f = spec.bind(s)
        us = [_randn(rng, a, (K,)) for a in s.args]
        out, jus = cr.jvp(f, s.args, us)
        assert jus.shape == (K, *out.shape), s
        for k in range(K):
            assert_close(to_numpy(jus)[k], cr.jvp(f, s.args, [u[k] for u in us])[1],
                         rtol=rtol, atol=1e-14, what=f"jvp direction {k} of {s}")
        vs = _randn(rng, out, (K,))
        _, vjp_fn = cr.vjp(f, *s.args)
        vjs = vjp_fn(vs)
        for k in range(K):
            for i, (batched, single) in enumerate(zip(vjs, vjp_fn(vs[k]), strict=True)):
                assert batched.shape == (K, *s.args[i].shape), s
                assert_close(to_numpy(batched)[k], single, rtol=rtol, atol=1e-14,
                             what=f"vjp direction {k}, input {i} of {s}")


# ----- 5. PyTorch parity: value, gradient and jvp in float64 -----
@pytest.mark.parametrize("spec", rows("torch"))
def test_matches_torch(spec: OpSpec, rng: np.random.Generator) -> None:
    pytest.importorskip("torch")
    for s in spec.sample(rng):
        f, tf = spec.bind(s), spec.bind_torch(s)
        w = _weights(rng, f, s)
        argnums = tuple(range(len(s.args)))
        value, grads = cr.value_and_grad(scalarised(f, w), argnums=argnums)(*s.args)
        want_value, want_grads = torch_value_and_grad(torch_scalarised(tf, w), s.args)
        assert_close(value, want_value, what=f"value of {s}")
        for i, (got, want) in enumerate(zip(grads, want_grads, strict=True)):
            assert_close(got, want, what=f"gradient {i} of {s}")
        us = [_randn(rng, a) for a in s.args]
        out, d = cr.jvp(f, s.args, us)
        want_out, want_d = torch_jvp(tf, s.args, us)
        assert_close(out, want_out, what=f"output of {s}")
        assert_close(d, want_d, what=f"jvp of {s}")


# ----- 6. float32 in, float32 everywhere -----
@pytest.mark.parametrize("spec", rows("float32"))
def test_float32_stays_float32(spec: OpSpec, rng: np.random.Generator) -> None:
    f32 = np.float32
    for s in spec.sample(rng, f32):
        f = spec.bind(s)
        xs = _tensors(s, requires_grad=True)
        out = f(*xs)
        assert out.dtype == f32, s
        w = _randn(rng, out)
        scalarised(f, w)(*xs).backward()
        for i, x in enumerate(xs):
            assert x.grad is not None, (i, s)
            assert x.grad.dtype == f32, (i, s)
        us = [_randn(rng, a, (K,)) for a in s.args]
        _, d = cr.jvp(f, s.args, us)
        assert d.dtype == f32, s
        _, vjp_fn = cr.vjp(f, *s.args)
        for g in vjp_fn(_randn(rng, out, (K,))):
            assert g.dtype == f32, s
        # second order, forward over reverse and reverse over reverse
        gfn = cr.grad(_only(scalarised(f, w), s.args, 0))
        _, dd = cr.jvp(gfn, (s.args[0],), (us[0][0],))
        assert dd.dtype == f32, s
        gg = cr.grad(_squared_norm(gfn))(s.args[0])
        assert gg.dtype == f32, s


# ----- 7. second order -----
@pytest.mark.parametrize("spec", rows("second_order", only=lambda s: s.second_order))
def test_second_order_gradcheck(spec: OpSpec, rng: np.random.Generator) -> None:
    for s in spec.sample(rng):
        scalar = scalarised(spec.bind(s), _weights(rng, spec.bind(s), s))
        for i in range(len(s.args)):
            assert cr.gradcheck(cr.grad(scalar, argnums=i), s.args, **spec.gradcheck_kw), (i, s)
        # the derivative of a jvp: reverse over forward and forward over forward
        us = [_randn(rng, a) for a in s.args]
        assert cr.gradcheck(_jvp_along(spec.bind(s), us), s.args, **spec.gradcheck_kw), s


def _jvp_along(f: Callable[..., Any], us: list[np.ndarray]) -> Callable[..., Any]:
    """xs -> the jvp of f at xs along the fixed tangents us."""
    return lambda *xs: cr.jvp(f, xs, us)[1]


# ----- 8. the function vjp returns, differentiated in its cotangent -----
# vjp_fn(v) is linear in v with adjoint the jvp: d/dv <vjp_fn(v)_i, .> gives back J_i. One
# sample per row (float64) keeps the added time small.
@pytest.mark.parametrize("spec", rows("jvp_of_vjp"))
def test_jvp_of_vjp_wrt_cotangent(spec: OpSpec, rng: np.random.Generator) -> None:
    """jvp of (xs, v) -> vjp(f, xs)(v)_i along (us, dv) = vjp(dv)_i + the x part alone."""
    s = spec.sample(rng)[0]
    f, n = spec.bind(s), len(s.args)
    out, vjp_fn = cr.vjp(f, *s.args)
    v, dv = _randn(rng, out), _randn(rng, out)
    us = [_randn(rng, a) for a in s.args]
    want_v = vjp_fn(dv)
    rtol = max(1e-10, spec.rtol)
    for i in range(n):
        def h(*xs_v: Any, i: int = i) -> Any:
            return cr.vjp(f, *xs_v[:n])[1](xs_v[n])[i]

        # the cotangent alone: the tangent of a linear map is the map of the tangent
        zeros = [np.zeros_like(a) for a in s.args]
        assert_close(cr.jvp(h, (*s.args, v), (*zeros, dv))[1], want_v[i], rtol=rtol,
                     atol=1e-12, what=f"jvp wrt the cotangent, input {i}, {s}")
        # primal and cotangent together: the x part (v a constant) plus the v part
        x_part = cr.jvp(lambda *xs, i=i: cr.vjp(f, *xs)[1](v)[i], s.args, us)[1]
        both = cr.jvp(h, (*s.args, v), (*us, dv))[1]
        assert_close(both, to_numpy(x_part) + to_numpy(want_v[i]), rtol=rtol, atol=1e-12,
                     what=f"jvp wrt primal and cotangent, input {i}, {s}")


@pytest.mark.parametrize("spec", rows("vjp_of_vjp"))
def test_vjp_of_vjp_wrt_cotangent(spec: OpSpec, rng: np.random.Generator) -> None:
    """The vjp of v -> vjp_fn(v)_i along w is the jvp of f along w in input i."""
    s = spec.sample(rng)[0]
    f = spec.bind(s)
    out, vjp_fn = cr.vjp(f, *s.args)  # made outside: differentiable in v all the same
    v = _randn(rng, out)
    rtol = max(1e-10, spec.rtol)
    for i, a in enumerate(s.args):
        w = _randn(rng, a)
        (got,) = cr.vjp(lambda c, i=i: vjp_fn(c)[i], v)[1](w)
        want = cr.jvp(_only(f, s.args, i), (a,), (w,))[1]
        assert_close(got, want, rtol=rtol, atol=1e-12, what=f"vjp wrt the cotangent, {i}, {s}")
        # and inside out: vjp made inside the outer vjp, with a grad of a scalar of it
        g = cr.grad(lambda c, i=i, w=w: (cr.vjp(f, *s.args)[1](c)[i] * w).sum())(v)
        assert_close(g, want, rtol=rtol, atol=1e-12, what=f"grad wrt the cotangent, {i}, {s}")


@pytest.mark.parametrize("spec", rows("hessian", only=lambda s: s.second_order))
def test_hessian_matches_torch(spec: OpSpec, rng: np.random.Generator) -> None:
    pytest.importorskip("torch")
    for s in spec.sample(rng):
        f = spec.bind(s)
        w = _weights(rng, f, s)
        got = cr.hessian(_only(scalarised(f, w), s.args, 0))(s.args[0])
        want = torch_hessian(torch_scalarised(spec.bind_torch(s), w), s.args)
        assert_close(got, want, what=f"hessian of {s}")


# ----- the table covers every op -----
NOT_DIFFERENTIABLE = {"argmax", "argmin", "count_nonzero", "all", "any", "argsort", "nanargmax",
                      "nanargmin", "sign", "argwhere", "imag", "nonzero",
                      *PREDICATES, *COMPARISONS, *INDEX_FUNCTIONS}


def covered_function(name: str) -> Any:
    """What a row covers: a name in chainrule.ops, or a dotted path under chainrule."""
    if "." not in name:
        return getattr(ops, name)
    obj: Any = cr
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_differentiable_op_has_a_row() -> None:
    """Adding an op to chainrule.ops means adding its row to op_specs (aliases are covered)."""
    covered = {id(covered_function(s.covers)) for s in OP_SPECS}
    missing = [name for name in ops.__all__
               if name not in NOT_DIFFERENTIABLE and id(getattr(ops, name)) not in covered]
    assert not missing, f"no row in tests/op_specs.py for {missing}"


# ----- properties on generated shapes -----
PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, database=None)


@st.composite
def elementwise_samples(draw: st.DrawFn) -> tuple[OpSpec, Sample, int]:
    """An elementwise row, operands of generated broadcastable shapes, and a seed."""
    spec = draw(st.sampled_from(ELEMENTWISE_SPECS))
    shapes, kwargs = draw(st.sampled_from(spec.cases))
    bs = draw(hnp.mutually_broadcastable_shapes(num_shapes=len(shapes), max_dims=3, max_side=3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return spec, Sample(spec.domain(rng, bs.input_shapes, np.float64), kwargs), seed


@PROPERTY_SETTINGS
@given(elementwise_samples())
def test_adjoint_identity(case: tuple[OpSpec, Sample, int]) -> None:
    """<u, vjp(v)> = <jvp(u), v> for elementwise ops on any broadcast."""
    spec, s, seed = case
    rng = np.random.default_rng(seed + 1)
    f = spec.bind(s)
    us = [_randn(rng, a) for a in s.args]
    out, ju = cr.jvp(f, s.args, us)
    v = _randn(rng, out)
    vj = cr.vjp(f, *s.args)[1](v)
    for a, g in zip(s.args, vj, strict=True):
        assert g.shape == a.shape
    reverse = sum(vdot(u, g) for u, g in zip(us, vj, strict=True))
    assert np.isclose(reverse, vdot(v, ju), rtol=1e-10, atol=1e-12)


@PROPERTY_SETTINGS
@given(elementwise_samples(), st.floats(-3, 3), st.floats(-3, 3))
def test_tangents_are_linear(case: tuple[OpSpec, Sample, int], a: float, b: float) -> None:
    """jvp(a u1 + b u2) = a jvp(u1) + b jvp(u2), and the batched jvp agrees."""
    spec, s, seed = case
    rng = np.random.default_rng(seed + 1)
    f = spec.bind(s)
    u1 = [_randn(rng, x) for x in s.args]
    u2 = [_randn(rng, x) for x in s.args]
    mixed = cr.jvp(f, s.args, [a * p + b * q for p, q in zip(u1, u2, strict=True)])[1]
    d1, d2 = cr.jvp(f, s.args, u1)[1], cr.jvp(f, s.args, u2)[1]
    assert_close(mixed, a * to_numpy(d1) + b * to_numpy(d2), rtol=1e-9, atol=1e-12)
    both = cr.jvp(f, s.args, [np.stack([p, q]) for p, q in zip(u1, u2, strict=True)])[1]
    assert_close(to_numpy(both)[0], d1, rtol=1e-12, atol=1e-14)
    assert_close(to_numpy(both)[1], d2, rtol=1e-12, atol=1e-14)


@st.composite
def broadcasts(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A shape and a shape it broadcasts to (stretched 1s and new leading axes)."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    stretched = tuple(draw(st.integers(1, 3)) if n == 1 else n for n in shape)
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    return shape, lead + stretched


@PROPERTY_SETTINGS
@given(broadcasts(), st.integers(0, 2**32 - 1))
def test_sum_to_undoes_broadcast_to(shapes: tuple, seed: int) -> None:
    """sum_to(broadcast_to(x)) = x times the copies made; sum_to is broadcast_to's adjoint."""
    shape, target = shapes
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    copies = int(np.prod(target)) // int(np.prod(shape))
    assert_close(sum_to(np.broadcast_to(x, target), shape), copies * x, rtol=1e-12)
    z = rng.standard_normal(target)
    assert np.isclose(vdot(np.broadcast_to(x, target), z), vdot(x, sum_to(z, shape)))
    # the vjp of cr.broadcast_to, on ndarrays and on Tensors alike
    assert_close(cr.vjp(lambda t: cr.broadcast_to(t, target), x)[1](z)[0], sum_to(z, shape))
    assert_close(sum_to(cr.tensor(z), shape), sum_to(z, shape), rtol=1e-12)
    # leading batch axes are kept, never summed
    zs = rng.standard_normal((2, *target))
    batched = sum_to(zs, shape, 1)
    assert batched.shape == (2, *shape)
    for k in range(2):
        assert_close(batched[k], sum_to(zs[k], shape), rtol=1e-12)
