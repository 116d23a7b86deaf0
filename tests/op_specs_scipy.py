"""Rows of the op table for cr.scipy (named "scipy.<module>.<function>"); op_specs.OP_SPECS takes
them in. Forward values are checked against SciPy, derivatives against torch.special and
torch.distributions. Discrete arguments (Poisson and Bernoulli counts) are keyword constants.
Import op_specs (which imports this module), not this module directly."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from op_specs import UNARY, OpSpec, _each, _normal, _positive, case, normal

import chainrule as cr

try:
    import torch
except ImportError:  # only the torch tests call the torch column, and they skip without it
    torch = None

Shape = tuple[int, ...]
SP = cr.scipy


def scipy_fn(path: str) -> Callable[..., Any]:
    """SciPy's function at "module.name" (e.g. "special.gammaln"), imported when first called."""
    module, _, name = path.rpartition(".")

    def call(*args: Any, **kwargs: Any) -> Any:
        obj: Any = importlib.import_module(f"scipy.{module.split('.')[0]}")
        for part in (*module.split(".")[1:], name):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)

    return call


# ----- domains -----
def _uniform(lo: float, hi: float) -> Callable[[np.random.Generator, Shape], np.ndarray]:
    return lambda rng, s: rng.uniform(lo, hi, s)


gamma_args = _each(_uniform(0.3, 4.0))
unit_open = _each(_uniform(0.05, 0.95))
xlogy_args = _each(_normal, _positive)
above_loc = _each(_uniform(1.0, 3.0), _positive, _uniform(-0.5, 0.5), _positive)
beta_args = _each(_uniform(0.1, 0.9), _uniform(0.5, 3.0))
t_args = _each(_normal, _uniform(1.0, 5.0), _normal, _positive)
normal_loc_scale = _each(_normal, _normal, _positive)


def mvn_args(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
    """x and mean standard normal; cov SPD (2-d), or positive variances (0-d or 1-d)."""
    x, mean, cov = shapes
    if len(cov) == 2:
        a = rng.standard_normal(cov)
        c = a @ a.T + cov[0] * np.eye(cov[0])
    else:
        c = rng.uniform(0.5, 2.0, cov)
    return tuple(np.asarray(v, dtype) for v in (rng.standard_normal(x), rng.standard_normal(mean),
                                                c))


def dirichlet_args(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
    """x on the simplex (components on axis 0, possibly the first K - 1 only), alpha positive."""
    (n, *rest), (k,) = shapes
    x = rng.dirichlet(np.ones(k), rest or None).T[:n]
    return np.asarray(x, dtype), np.asarray(rng.uniform(0.5, 3.0, k), dtype)


# ----- torch references -----
def _td() -> Any:
    return torch.distributions


def torch_logsumexp_b(a: Any, b: Any, axis: Any = None, keepdims: bool = False) -> Any:
    dims = tuple(range(a.ndim)) if axis is None else axis
    return torch.logsumexp(a + torch.log(b), dim=dims, keepdim=keepdims)


def torch_softmax_all(x: Any, log: bool = False) -> Any:
    f = torch.log_softmax if log else torch.softmax
    return f(x.reshape(-1), 0).reshape(x.shape)


def torch_gamma_logpdf(x: Any, a: Any, loc: Any, scale: Any) -> Any:
    return _td().Gamma(a, 1 / scale, validate_args=False).log_prob(x - loc)


def torch_mvn_logpdf(x: Any, mean: Any, cov: Any) -> Any:
    if cov.ndim < 2:
        cov = torch.diag(cov) if cov.ndim else cov * torch.eye(mean.shape[-1], dtype=cov.dtype)
    d = _td().MultivariateNormal(mean, covariance_matrix=(cov + cov.mT) / 2)
    out = d.log_prob(x)
    return out.reshape([n for n in out.shape if n != 1])


def torch_dirichlet_logpdf(x: Any, alpha: Any) -> Any:
    if x.shape[0] == alpha.shape[0] - 1:
        x = torch.cat([x, 1 - x.sum(0, keepdim=True)], 0)
    return _td().Dirichlet(alpha, validate_args=False).log_prob(x.movedim(0, -1))


def _window(mode: str, s1: Shape, s2: Shape) -> list[slice]:
    """SciPy's crop of the full result: all of it, in1's size centred, or the full overlaps."""
    if mode == "full":
        return [slice(None)] * len(s1)
    size = s1 if mode == "same" else [abs(a - b) + 1 for a, b in zip(s1, s2)]
    return [slice((a + b - 1 - n) // 2, (a + b - 1 - n) // 2 + n) for a, b, n in zip(s1, s2, size)]


def torch_correlate(a: Any, b: Any, mode: str = "full", flip: bool = False) -> Any:
    if flip:
        b = b.flip(tuple(range(b.ndim)))
    conv = getattr(torch.nn.functional, f"conv{a.ndim}d")
    full = conv(a[None, None], b[None, None], padding=tuple(n - 1 for n in b.shape))[0, 0]
    return full[tuple(_window(mode, a.shape, b.shape))]


_SIGNAL = (case((7,), (3,)), case((3,), (5,), mode="valid"), case((5, 4), (2, 3), mode="same"),
           case((4, 3), (2, 2), mode="valid"), case((3, 2, 3), (2, 2, 2)),
           case((2, 3), (4, 4), mode="same"))
_BINARY = (case((2, 3), (2, 3)), case((3,), (2, 1)), case((), (3,)))


def _special(name: str, torch_name: str, domain: Any = normal, cases: Any = UNARY,
             **kw: Any) -> OpSpec:
    """A row for cr.scipy.special.name, checked against scipy.special.name and torch.special."""
    return OpSpec(f"scipy.special.{name}", getattr(SP.special, name),
                  scipy_fn(f"special.{name}"),
                  lambda *a, **k: getattr(torch.special, torch_name)(*a, **k), cases, domain,
                  elementwise=True, **kw)


SCIPY_SPECS: list[OpSpec] = [
    _special("gammaln", "gammaln", gamma_args),
    _special("digamma", "digamma", gamma_args),
    OpSpec("scipy.special.polygamma", lambda x, n: SP.special.polygamma(n, x),
           lambda x, n: scipy_fn("special.polygamma")(n, x),
           lambda x, n: torch.special.polygamma(n, x),
           (case((3,), n=1), case((2, 2), n=2), case((), n=3)), gamma_args,
           op="scipy.special.polygamma", gradcheck_kw={"rtol": 2e-3}),
    _special("erf", "erf"),
    _special("erfc", "erfc"),
    _special("ndtr", "ndtr"),
    _special("log_ndtr", "log_ndtr", _each(lambda rng, s: 4 * rng.standard_normal(s))),
    _special("expit", "expit"),
    _special("logit", "logit", unit_open),
    _special("xlogy", "xlogy", xlogy_args, _BINARY),
    _special("xlog1py", "xlog1py", xlogy_args, _BINARY),
    OpSpec("scipy.special.betaln", SP.special.betaln, scipy_fn("special.betaln"),
           lambda a, b: torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b), _BINARY,
           gamma_args),
    OpSpec("scipy.special.logsumexp", lambda a, b, **k: SP.special.logsumexp(a, b=b, **k),
           lambda a, b, **k: scipy_fn("special.logsumexp")(a, b=b, **k), torch_logsumexp_b,
           (case((2, 3), (2, 3)), case((2, 3), (3,), axis=0), case((2, 3), (2, 3), axis=(0, 1),
                                                                keepdims=True)),
           _each(_normal, _positive)),
    OpSpec("scipy.special.softmax", SP.special.softmax, scipy_fn("special.softmax"),
           lambda x, axis=None: (torch_softmax_all(x) if axis is None
                                 else torch.softmax(x, axis)),
           (case((2, 3)), case((2, 3), axis=0), case(()))),
    OpSpec("scipy.special.log_softmax", SP.special.log_softmax, scipy_fn("special.log_softmax"),
           lambda x, axis=None: (torch_softmax_all(x, log=True) if axis is None
                                 else torch.log_softmax(x, axis)),
           (case((2, 3)), case((2, 3), axis=-1))),
    OpSpec("scipy.stats.norm.logpdf", SP.stats.norm.logpdf, scipy_fn("stats.norm.logpdf"),
           lambda x, m, s: _td().Normal(m, s).log_prob(x),
           (case((2, 3), (3,), (2, 1)), case((), (), ())), normal_loc_scale),
    OpSpec("scipy.stats.norm.pdf", SP.stats.norm.pdf, scipy_fn("stats.norm.pdf"),
           lambda x, m, s: _td().Normal(m, s).log_prob(x).exp(), (case((3,), (3,), ()),),
           normal_loc_scale),
    OpSpec("scipy.stats.norm.cdf", SP.stats.norm.cdf, scipy_fn("stats.norm.cdf"),
           lambda x, m, s: torch.special.ndtr((x - m) / s), (case((3,), (3,), (3,)),),
           normal_loc_scale),
    OpSpec("scipy.stats.norm.logcdf", SP.stats.norm.logcdf, scipy_fn("stats.norm.logcdf"),
           lambda x, m, s: torch.special.log_ndtr((x - m) / s), (case((2, 3), (3,), ()),),
           normal_loc_scale),
    OpSpec("scipy.stats.t.logpdf", SP.stats.t.logpdf, scipy_fn("stats.t.logpdf"),
           lambda x, df, m, s: _td().StudentT(df, m, s).log_prob(x),
           (case((3,), (3,), (3,), (3,)), case((2, 3), (), (3,), ())), t_args),
    OpSpec("scipy.stats.gamma.logpdf", SP.stats.gamma.logpdf, scipy_fn("stats.gamma.logpdf"),
           torch_gamma_logpdf, (case((3,), (3,), (3,), (3,)), case((2, 3), (3,), (), ())),
           above_loc),
    OpSpec("scipy.stats.beta.logpdf", SP.stats.beta.logpdf, scipy_fn("stats.beta.logpdf"),
           lambda x, a, b: _td().Beta(a, b, validate_args=False).log_prob(x),
           (case((3,), (3,), (3,)), case((2, 3), (3,), ())), beta_args),
    OpSpec("scipy.stats.poisson.logpmf", lambda q, k: SP.stats.poisson.logpmf(k, q),
           lambda mu, k: scipy_fn("stats.poisson.logpmf")(k, mu),
           lambda mu, k: _td().Poisson(mu).log_prob(torch.as_tensor(k, dtype=mu.dtype)),
           (case((4,), k=np.array([0, 1, 3, 6])), case((), k=np.array([[2], [5]]))),
           _each(_uniform(0.5, 4.0))),
    OpSpec("scipy.stats.bernoulli.logpmf", lambda q, k: SP.stats.bernoulli.logpmf(k, q),
           lambda p, k: scipy_fn("stats.bernoulli.logpmf")(k, p),
           lambda p, k: _td().Bernoulli(p).log_prob(torch.as_tensor(k, dtype=p.dtype)),
           (case((4,), k=np.array([0, 1, 1, 0])),), unit_open),
    OpSpec("scipy.stats.multivariate_normal.logpdf", SP.stats.multivariate_normal.logpdf,
           scipy_fn("stats.multivariate_normal.logpdf"), torch_mvn_logpdf,
           (case((4, 3), (3,), (3, 3)), case((3,), (3,), (3,)), case((2, 2), (2,), ()),
            case((2, 2, 2), (2,), (2, 2))), mvn_args),
    OpSpec("scipy.stats.dirichlet.logpdf", SP.stats.dirichlet.logpdf,
           scipy_fn("stats.dirichlet.logpdf"), torch_dirichlet_logpdf,
           (case((3,), (3,)), case((3, 4), (3,)), case((2, 2), (3,))), dirichlet_args),
    OpSpec("scipy.signal.convolve", SP.signal.convolve, scipy_fn("signal.convolve"),
           lambda a, b, mode="full": torch_correlate(a, b, mode, flip=True), _SIGNAL),
    OpSpec("scipy.signal.correlate", SP.signal.correlate, scipy_fn("signal.correlate"),
           torch_correlate, _SIGNAL),
]
