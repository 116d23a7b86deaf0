"""Hypothesis fuzzing of every row of the op table (tests/op_specs.py) against its NumPy function.

Each example takes one of the row's cases and mutates it: operand shapes redrawn (broadcasting
ones for elementwise rows), an axis set to 0 length or to another length, an operand made 0-d,
axis arguments set anywhere in [-ndim - 2, ndim + 1] (negative and out of range), and the
operands drawn as float64, float32, int64, int32 or bool (mixed int/bool/float for several
operands). NumPy is the oracle:

- where NumPy raises, chainrule raises too: NumPy's exception type, or a ValueError or
  TypeError (AxisError and LinAlgError are both ValueErrors) -- never another kind of crash;
- where NumPy computes, chainrule computes the same shape and values, in NumPy's dtype under
  chainrule's rule (chainrule/dtypes.py): a float result from integer or bool inputs is the
  default float32, and integers mixed with a float take the float's dtype.

Gradients are checked with cr.gradcheck (both modes against finite differences, float64) on
mutated small shapes drawn from the row's domain.

The default profile is bounded (200 examples per row, 20 for gradients, deterministic, the file
about 60 s on two cores); ``CHAINRULE_FUZZ=slow`` runs many more, freshly random examples.
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_specs import OP_SPECS, OpSpec, normal

import chainrule as cr

_COMMON = {"deadline": None, "suppress_health_check": list(HealthCheck), "database": None}
settings.register_profile("chainrule-fuzz", max_examples=200, derandomize=True, **_COMMON)
settings.register_profile("chainrule-fuzz-grad", max_examples=20, derandomize=True, **_COMMON)
settings.register_profile("chainrule-fuzz-slow", max_examples=1000, **_COMMON)
settings.register_profile("chainrule-fuzz-grad-slow", max_examples=60, **_COMMON)
_SLOW = os.environ.get("CHAINRULE_FUZZ", "") == "slow"
FUZZ = settings.get_profile("chainrule-fuzz-slow" if _SLOW else "chainrule-fuzz")
FUZZ_GRAD = settings.get_profile("chainrule-fuzz-grad-slow" if _SLOW else "chainrule-fuzz-grad")

# Keyword arguments that name axes: an int, or a tuple of ints, counted against operand 0's rank.
AXIS_KEYS = {"axis", "dim", "dims", "axis1", "axis2", "source", "destination", "start"}
# Rows whose ``axes`` keyword names axes (for tensordot it is a count or pairs of axes lists).
AXES_ROWS = {"transpose", "expand_dims", "rot90"}

# ----- known, documented differences from NumPy (narrow: one row, one condition) -----
# The row's reference is a composite of NumPy operations, not a NumPy function: it negates or
# subtracts bools (which NumPy refuses) or halves their sum; chainrule computes bools in the
# default float dtype, as PyTorch and as its own rule for every float-valued op.
COMPOSITE_REFERENCE = {"sigmoid", "softmax", "log_softmax", "linalg.eigh"}
# Rows that read only part of their input: eigh and cholesky read the symmetric part (a + a^T)/2,
# as JAX (documented in chainrule/linalg/decomp.py), NumPy the lower triangle; the fuzz draws
# symmetric integer inputs for them.
SYMMETRIC_INPUT = {"linalg.cholesky", "linalg.eigh", "linalg.eigvalsh"}
# The reference is the test's own scatter loop (NumPy has no transposed convolution), which
# accumulates in the input's dtype and checks no geometry: fuzzed with floats only, and where
# chainrule refuses a geometry (as PyTorch: channels that do not match the weight, a bias that is
# not (C_out,)) the reference's answer is not compared.
FLOAT_ONLY = {"conv_transpose"}
# Reductions: a 0-d tensor takes axis 0 or -1, also as a 1-tuple, in every chainrule reduction
# (as np.sum(x0d, axis=0) and PyTorch), where np.mean/var/std and tuple axes refuse it.
REDUCTIONS = {"sum", "mean", "var", "std", "max", "min", "prod", "prod_with_zero", "logsumexp",
              "ptp", "nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin",
              "quantile", "percentile", "median", "nanmedian", "average"}
# The scipy rows belong to the scipy package's session and are fuzzed once they follow the dtype
# rule (they compute integer inputs in float64 today).
SKIP_PREFIX = "scipy."


def _lenient(spec: OpSpec, args: tuple, kwargs: dict, got: Any) -> bool:
    """Whether chainrule computing where NumPy raises is one of the documented differences."""
    if isinstance(got, Exception):
        return False
    if spec.name in REDUCTIONS and args[0].ndim == 0:
        axis = kwargs.get("axis")
        axes = axis if isinstance(axis, tuple | list) else (axis,)
        return len(axes) == 1 and axes[0] in (0, -1)
    # np.fft.fftshift of a 0-d array fails unpacking its empty shift; a 0-d shift is the identity
    if spec.name in ("fft.fftshift", "fft.ifftshift"):
        return args[0].ndim == 0
    # the reference's reshape(-1) cannot flatten a zero-size tensor; chainrule's (PyTorch's) can
    if spec.name == "flatten":
        return args[0].size == 0
    # the reference stacks scipy's per-matrix results: it cannot stack an empty batch
    return spec.name == "linalg.solve_triangular" and args[0].ndim == 3 and not len(args[0])


def _lenient_error(spec: OpSpec, args: tuple, kwargs: dict, got: Any) -> bool:
    """Whether chainrule refusing what NumPy computes is one of the documented differences."""
    if not isinstance(got, ValueError):
        return False
    if spec.name in FLOAT_ONLY:
        return True
    # np.squeeze(x0d, axis=0) is x (NumPy's one 0-d leniency there); chainrule raises AxisError
    if spec.name == "squeeze":
        return args[0].ndim == 0
    # np.linalg.norm of an empty vector with ord=inf is 0; chainrule's max refuses an empty axis
    return spec.name == "linalg.norm" and args[0].size == 0


def _lenient_index_error(spec: OpSpec, args: tuple, got: Any) -> bool:
    """np.take from an empty tensor checks no index bounds; chainrule's take does."""
    return isinstance(got, IndexError) and spec.name == "take" and args[0].size == 0


def _dtype_exempt(spec: OpSpec, args: tuple, kwargs: dict) -> bool:
    """Rows whose NumPy dtype is an accident of the reference, checked by value only."""
    if spec.name == "linalg.pinv":  # NumPy keeps an integer dtype for an empty input only
        return not args[0].size
    if spec.name in ("pow_int", "pow_scalar"):  # NumPy: bool ** 2 is int8, bool 0-d ** 2 int64
        return args[0].dtype == np.bool_
    # matrix_power(int32, 0): NumPy's identity keeps int32, chainrule's is int64 (a * 0 + eye)
    return spec.name == "linalg.matrix_power" and kwargs.get("n") == 0


def _reference_result(spec: OpSpec, args: tuple, kwargs: dict) -> tuple[Any, bool]:
    """What NumPy gives (an array, or the exception it raised), and whether it warned."""
    if spec.name in COMPOSITE_REFERENCE:
        args = tuple(a.astype(np.float32) if a.dtype == np.bool_ else a for a in args)
    if spec.name == "relu":  # the reference's maximum(x, 0) makes bools int64; relu keeps them
        return np.maximum(args[0], args[0].dtype.type(0)), False
    if spec.name == "conj":  # np.conj of bools is int8; cr.conj of a real tensor is the tensor
        return args[0].copy(), False
    fn = spec.np_fn
    if spec.name == "logsumexp":  # the row's reference takes a max, undefined when empty
        def fn(x: np.ndarray, **kw: Any) -> np.ndarray:
            return np.log(np.sum(np.exp(x), **kw))
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        try:
            return np.asarray(fn(*args, **kwargs)), bool(caught)
        except Exception as e:  # (any NumPy error is an expected outcome)
            return e, bool(caught)


# Rows whose float64 result is NumPy's definition, not an upcast: kept whatever the inputs.
FLOAT64_BY_DEFINITION = {"float_power"}


def expected_dtype(want: np.dtype, args: tuple) -> np.dtype:
    """NumPy's result dtype under chainrule's rule (chainrule/dtypes.py)."""
    if want.kind != "f":
        return want
    floats = [a.dtype for a in args if a.dtype.kind == "f"]
    return floats[0] if floats else np.dtype(cr.get_default_dtype())


# ----- drawing examples -----
DTYPES = (np.float64, np.float32, np.int64, np.int32, np.bool_)


def _values(spec: OpSpec, rng: np.random.Generator, shapes: list, dtypes: list) -> tuple:
    """The row's domain in float64 (a standard normal where the domain cannot take the shapes),
    then cast: floats as drawn, integers as round(2 x), bools at random."""
    try:
        base = spec.domain(rng, shapes, np.float64)
    except Exception:  # (a domain built for the row's own shapes)
        base = normal(rng, shapes, np.float64)
    base = [np.clip(np.nan_to_num(a), -8, 8) if dt != np.float64 and dt != np.float32 else a
            for a, dt in zip(base, dtypes, strict=True)]
    out = []
    for a, dt in zip(base, dtypes, strict=True):
        if dt == np.bool_:
            out.append(np.asarray(rng.random(a.shape) < 0.5))
        elif np.dtype(dt).kind == "i":
            out.append(np.asarray(np.round(np.asarray(a) * 2)).astype(dt))
        else:
            out.append(np.asarray(a, dtype=dt))
    if spec.name in SYMMETRIC_INPUT and out[0].ndim >= 2 and out[0].shape[-1] == out[0].shape[-2]:
        out[0] = np.asarray(out[0] | out[0].swapaxes(-1, -2) if out[0].dtype == np.bool_
                            else out[0] + out[0].swapaxes(-1, -2))
    return tuple(out)


def _axis_value(draw: Any, value: Any, ndim: int) -> Any:
    """An int or tuple of ints like value, each anywhere in [-ndim - 2, ndim + 1]."""
    ax = st.integers(-ndim - 2, ndim + 1)
    if isinstance(value, tuple | list):
        return tuple(draw(ax) for _ in value)
    return draw(ax)


@st.composite
def examples(draw: Any, spec: OpSpec, grad: bool = False) -> tuple[tuple, dict]:
    """(operands, kwargs) of one mutated case of the row."""
    shapes, kwargs = draw(st.sampled_from(list(spec.cases)))
    shapes, kwargs = [tuple(s) for s in shapes], dict(kwargs)
    n = len(shapes)
    how = draw(st.sampled_from(["as is", "resize", "zero", "0-d", "broadcast", "axes"]))
    if how == "broadcast" and spec.elementwise:
        shapes = list(draw(hnp.mutually_broadcastable_shapes(
            num_shapes=n, min_dims=0, max_dims=3, min_side=0 if not grad else 1,
            max_side=3)).input_shapes)
    elif how in ("resize", "zero") and any(shapes):
        i = draw(st.sampled_from([i for i, s in enumerate(shapes) if s]))
        j = draw(st.integers(0, len(shapes[i]) - 1))
        size = 0 if how == "zero" else draw(st.integers(1, 4))
        if grad and size == 0:
            size = 1
        shapes[i] = (*shapes[i][:j], size, *shapes[i][j + 1:])
    elif how == "0-d" and not grad:
        shapes[draw(st.integers(0, n - 1))] = ()
    if how == "axes" or draw(st.booleans()):
        ndim = len(shapes[0]) if shapes else 0
        for key in sorted(kwargs):
            if (key in AXIS_KEYS or (key == "axes" and spec.name in AXES_ROWS)) and \
                    kwargs[key] is not None and draw(st.booleans()):
                kwargs[key] = _axis_value(draw, kwargs[key], ndim)
    if grad:
        dtypes = [np.float64] * n
    elif spec.name in FLOAT_ONLY:
        dtypes = [draw(st.sampled_from(DTYPES[:2]))] * n
    else:
        first = draw(st.sampled_from(DTYPES))
        mixed = n > 1 and draw(st.integers(0, 3)) == 0
        others = [first, np.int64, np.bool_]
        dtypes = [first] + [draw(st.sampled_from(others)) if mixed else first
                            for _ in range(n - 1)]
    seed = draw(st.integers(0, 2**32 - 1))
    args = _values(spec, np.random.default_rng(seed), shapes, dtypes)
    return args, kwargs


# ----- the tests -----
def _call(spec: OpSpec, args: tuple, kwargs: dict, quiet: bool) -> Any:
    """chainrule's result (an ndarray), or the exception it raised (a warning too, unless
    ``quiet``: where NumPy warned on the same input, chainrule may)."""
    try:
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore", RuntimeWarning)
            out = spec.fn(*[cr.tensor(a) for a in args], **kwargs)
    except Exception as e:  # (checked against NumPy's outcome)
        return e
    assert isinstance(out, cr.Tensor), f"{spec.name} returned {type(out).__name__}"
    return out.cpu().numpy()


def _describe(args: tuple, kwargs: dict) -> str:
    return ", ".join(f"{a.dtype}{list(a.shape)}" for a in args) + f"; {kwargs}"


def check_against_numpy(spec: OpSpec, args: tuple, kwargs: dict) -> None:
    """chainrule agrees with NumPy on whether (args, kwargs) is an error, and on the value."""
    want, warned = _reference_result(spec, args, kwargs)
    got = _call(spec, args, kwargs, quiet=warned)
    where = f"{spec.name}({_describe(args, kwargs)})"
    if isinstance(want, Exception) and _lenient(spec, args, kwargs, got):
        return
    if isinstance(want, Exception):
        assert isinstance(got, Exception), (
            f"{where}: NumPy raises {type(want).__name__}: {want}; chainrule returned shape "
            f"{got.shape}")
        assert isinstance(got, type(want) | ValueError | TypeError), (
            f"{where}: NumPy raises {type(want).__name__}: {want}; chainrule raised "
            f"{type(got).__name__}: {got}")
        return
    if _lenient_error(spec, args, kwargs, got) or _lenient_index_error(spec, args, got):
        return
    if isinstance(got, Exception):
        raise AssertionError(f"{where}: NumPy gives {want.dtype}{list(want.shape)}; chainrule "
                             f"raised {type(got).__name__}: {got}") from got
    assert got.shape == want.shape, f"{where}: shape {got.shape}, NumPy's {want.shape}"
    if spec.name in FLOAT64_BY_DEFINITION:
        assert got.dtype == want.dtype == np.float64, f"{where}: dtype {got.dtype}"
    assert _dtype_exempt(spec, args, kwargs) or spec.name in FLOAT64_BY_DEFINITION or \
        got.dtype == expected_dtype(want.dtype, args), (
        f"{where}: dtype {got.dtype}, NumPy's {want.dtype} (expected "
        f"{expected_dtype(want.dtype, args)})")
    lowp = got.dtype == np.float32 or want.dtype == np.float32
    rtol = max(spec.rtol, 2e-3 if lowp else 1e-6)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol,
                                   atol=rtol, equal_nan=True, err_msg=where)


FUZZED = [s for s in OP_SPECS if not s.name.startswith(SKIP_PREFIX)]


@pytest.mark.parametrize("spec", FUZZED, ids=str)
def test_agrees_with_numpy(spec):
    @FUZZ
    @given(examples(spec))
    def run(example):
        check_against_numpy(spec, *example)

    run()


@pytest.mark.parametrize("spec", FUZZED, ids=str)
def test_gradients_on_fuzzed_shapes(spec):
    @FUZZ_GRAD
    @given(examples(spec, grad=True))
    def run(example):
        args, kwargs = example
        want, _ = _reference_result(spec, args, kwargs)
        # a smooth point only: defined, non-empty and finite (var with ddof >= n is inf/nan)
        assume(not isinstance(want, Exception) and want.size and np.isfinite(want).all())
        assume(not _lenient_error(spec, args, kwargs, _call(spec, args, kwargs, quiet=False)))
        f = functools.partial(spec.fn, **kwargs)
        assert cr.gradcheck(f, args, **spec.gradcheck_kw)

    run()
