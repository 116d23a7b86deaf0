"""Rows of the op table for cr.scipy (named "scipy.<module>.<function>"); op_specs.OP_SPECS takes
them in. Forward values are checked against SciPy, derivatives against torch.special and
torch.distributions, or where torch has no derivative (incomplete gamma and beta, Bessel
functions, sqrtm, odeint) against torch code of another method: power series, the Denman-Beavers
iteration, a matrix exponential. Discrete arguments (Poisson and Bernoulli counts) and the
parameters that carry no derivative (orders, shape parameters of the CDFs) are keyword constants.
Import op_specs (which imports this module), not this module directly."""

from __future__ import annotations

import importlib
import math
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


def _const(v: Any, like: Any) -> Any:
    """A constant parameter (number or ndarray) as a torch tensor of like's dtype."""
    return torch.as_tensor(np.asarray(v, np.float64), dtype=like.dtype)


def torch_gammainc(x: Any, a: Any, upper: bool = False) -> Any:
    """P(a, x) by its series x^a e^-x sum_n x^n / Gamma(a + n + 1) (Q = 1 - P)."""
    a = _const(a, x)
    terms = sum(torch.exp(n * torch.log(x) - torch.lgamma(a + n + 1)) for n in range(80))
    p = torch.exp(a * torch.log(x) - x) * terms
    return 1 - p if upper else p


def torch_betainc(x: Any, a: Any, b: Any) -> Any:
    """I_x(a, b) by its series x^a / B(a, b) sum_n (1-b)_n / (n! (a + n)) x^n (x < 1)."""
    a, b = _const(a, x), _const(b, x)
    coef, total = torch.ones_like(a + b), 0
    for n in range(400):
        total = total + coef * x**n / (a + n)
        coef = coef * (n + 1 - b) / (n + 1)
    return x**a * total * torch.exp(torch.lgamma(a + b) - torch.lgamma(a) - torch.lgamma(b))


def torch_bessel(x: Any, v: Any, family: str) -> Any:
    """J_v, I_v and exp(-|x|) I_v by their power series; Y_n by its series for whole n."""
    h = x / 2
    v = float(v)
    if family == "y":
        return _torch_yn(x, int(v))
    sign = -1.0 if family == "j" else 1.0
    out = sum(sign**k * h ** (2 * k + v) / (math.factorial(k) * math.gamma(k + v + 1))
              for k in range(40))
    return out * torch.exp(-x.abs()) if family == "ie" else out


def _torch_yn(x: Any, n: int) -> Any:
    """Y_n(x) = (2/pi) log(x/2) J_n - (1/pi) sum_{k<n} (n-k-1)!/k! (x/2)^(2k-n)
    - (1/pi) sum_k (psi(k+1) + psi(n+k+1)) (-1)^k (x/2)^(2k+n) / (k! (n+k)!)."""
    h = x / 2

    def psi1(m: int) -> float:  # psi(m + 1) = H_m - Euler's gamma
        return sum(1 / i for i in range(1, m + 1)) - 0.5772156649015329

    out = 2 / math.pi * torch.log(h) * torch_bessel(x, n, "j")
    out = out - sum(math.factorial(n - k - 1) / math.factorial(k) * h ** (2 * k - n)
                    for k in range(n)) / math.pi
    return out - sum((psi1(k) + psi1(n + k)) * (-1) ** k * h ** (2 * k + n)
                     / float(math.factorial(k) * math.factorial(n + k))
                     for k in range(30)) / math.pi


def torch_t_cdf(x: Any, loc: Any, scale: Any, df: Any) -> Any:
    """1/2 + sign(z)/2 I_{z^2/(df+z^2)}(1/2, df/2), z = (x - loc)/scale."""
    z = (x - loc) / scale
    df_t = _const(df, z)
    return 0.5 + 0.5 * torch.sign(z) * torch_betainc(z * z / (df_t + z * z), 0.5,
                                                     np.asarray(df) / 2)


def torch_chi2_logpdf(x: Any, df: Any, loc: Any, scale: Any) -> Any:
    return _td().Chi2(df, validate_args=False).log_prob((x - loc) / scale) - torch.log(scale)


def torch_mvn_entropy(mean: Any, cov: Any) -> Any:
    if cov.ndim < 2:
        cov = torch.diag(cov) if cov.ndim else cov * torch.eye(mean.shape[-1], dtype=cov.dtype)
    return _td().MultivariateNormal(mean, covariance_matrix=(cov + cov.mT) / 2).entropy()


def torch_mvn_pinv_logpdf(x: Any, mean: Any, cov: np.ndarray, allow_singular: bool) -> Any:
    """SciPy's allow_singular formula (cov a constant of full rank here)."""
    r = x - mean
    c = torch.as_tensor(cov, dtype=x.dtype)
    quad = (r @ torch.linalg.pinv(c) * r).sum(-1)
    out = -0.5 * (quad + torch.logdet(c) + cov.shape[0] * math.log(2 * math.pi))
    return out.reshape([n for n in out.shape if n != 1])


def cov_args(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
    """A covariance alone, as mvn_args draws it."""
    return mvn_args(rng, [(1,), (1,), shapes[0]], dtype)[2:]


_SPD3 = np.array([[2.0, 0.3, -0.4], [0.3, 1.5, 0.2], [-0.4, 0.2, 1.0]])


def torch_sqrtm(a: Any) -> Any:
    """The Denman-Beavers iteration Y <- (Y + Z^-1)/2, Z <- (Z + Y^-1)/2 (Y -> sqrt a)."""
    y, z = a, torch.eye(a.shape[-1], dtype=a.dtype).expand(a.shape)
    for _ in range(30):
        y, z = (y + torch.linalg.inv(z)) / 2, (z + torch.linalg.inv(y)) / 2
    return y


def torch_sylvester(a: Any, b: Any, q: Any) -> Any:
    """The Kronecker form (A (x) I + I (x) B^T) vec X = vec Q, row-major, per matrix."""
    if q.ndim > 2:
        lead = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2], q.shape[:-2])
        a, b, q = (v.expand(*lead, *v.shape[-2:]) for v in (a, b, q))
        return torch.stack([torch_sylvester(*m) for m in zip(a, b, q, strict=True)])
    n, m = q.shape
    eye_n, eye_m = torch.eye(n, dtype=a.dtype), torch.eye(m, dtype=a.dtype)
    # the Kronecker products written out with broadcasting (torch.kron does not batch)
    mat = ((a[:, None, :, None] * eye_m[None, :, None, :])
           + (eye_n[:, None, :, None] * b.mT[None, :, None, :])).reshape(n * m, n * m)
    return torch.linalg.solve(mat, q.reshape(-1)).reshape(n, m)


def banded_dense(ab: Any, lu: tuple[int, int]) -> Any:
    """The dense matrix of SciPy's banded storage: a[i, j] = ab[u + i - j, j]."""
    lo, up = lu
    n = ab.shape[1]
    rows = [[ab[up + i - j, j] if 0 <= up + i - j <= lo + up else ab[0, 0] * 0
             for j in range(n)] for i in range(n)]
    return torch.stack([torch.stack(r) for r in rows])


def banded_args(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
    """ab with a dominant main diagonal (row u), and b normal."""
    (bands, n), b = shapes
    ab = rng.uniform(-0.5, 0.5, (bands, n))
    ab[(bands - 1) // 2] += rng.choice([-1.0, 1.0], n) * 3
    return np.asarray(ab, dtype), np.asarray(rng.standard_normal(b), dtype)


def matrix_args(rng: np.random.Generator, shapes: Sequence[Shape], dtype: Any) -> tuple:
    """Square operands near 2 I (eigenvalues with positive real parts), others normal."""
    return tuple(np.asarray(2 * np.eye(s[-1]) + 0.3 * rng.standard_normal(s) if len(s) >= 2
                            and s[-1] == s[-2] else rng.standard_normal(s), dtype)
                 for s in shapes)


def linear_ode(y: Any, t: Any, a: Any) -> Any:
    """y' = a y + sin(t)/5: a linear system with a forcing term in t."""
    return cr.matmul(a, y) + cr.sin(t) / 5


def torch_linear_ode(y0: Any, t: Any, a: Any, **kw: Any) -> Any:
    """Variation of constants on the augmented system z = (y, sin t, cos t), whose
    propagator is a matrix exponential: y(t) = [expm(M (t - t0)) z0]_y."""
    d = y0.shape[0]
    m = torch.zeros(d + 2, d + 2, dtype=a.dtype)
    m = m + torch.nn.functional.pad(a, (0, 2, 0, 2))
    m[:d, d] = 0.2
    m[d, d + 1], m[d + 1, d] = 1.0, -1.0  # (sin, cos)' = (cos, -sin)
    z0 = torch.cat([y0, torch.sin(t[:1]), torch.cos(t[:1])])
    return torch.stack([(torch.linalg.matrix_exp(m * (ti - t[0])) @ z0)[:d] for ti in t])


def np_linear_ode(y0: np.ndarray, t: np.ndarray, a: np.ndarray, **kw: Any) -> np.ndarray:
    return scipy_fn("integrate.odeint")(lambda y, s: a @ y + np.sin(s) / 5, y0, t, **kw)


_ODE_TOL = {"rtol": 1e-10, "atol": 1e-10}


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


def _bessel_row(name: str, family: str, v: Any = None, domain: Any = None,
                torch_name: str | None = None) -> OpSpec:
    """A row for a Bessel function of x (order v fixed, or a keyword of the cases)."""
    if v is not None:  # j0, i1e ...: x alone
        return OpSpec(f"scipy.special.{name}", getattr(SP.special, name),
                      scipy_fn(f"special.{name}"),
                      (lambda x: getattr(torch.special, torch_name)(x)) if torch_name
                      else (lambda x: torch_bessel(x, v, family)), UNARY,
                      domain or bessel_x, elementwise=True)
    return OpSpec(f"scipy.special.{name}", lambda x, v: getattr(SP.special, name)(v, x),
                  lambda x, v: scipy_fn(f"special.{name}")(v, x),
                  lambda x, v: torch_bessel(x, v, family),
                  (case((), v=2), case((3,), v=3), case((2, 3), v=0)) if name in ("jn", "yn")
                  else (case((), v=1.5), case((3,), v=0.3), case((2, 3), v=2.0)),
                  domain or bessel_x, elementwise=True)


bessel_x = _each(_uniform(0.5, 3.0))


def _incomplete_rows(name: str, fn: Callable, np_fn: Callable, torch_fn: Callable,
                     cases: Any, broadcast_cases: Any, domain: Any) -> list[OpSpec]:
    """An elementwise row (scalar shape parameters: any operand shape goes) and one whose
    array parameters broadcast the output beyond x's shape."""
    return [OpSpec(f"scipy.special.{name}", fn, np_fn, torch_fn, cases, domain,
                   elementwise=True),
            OpSpec(f"scipy.special.{name}_broadcast", fn, np_fn, torch_fn, broadcast_cases,
                   domain, op=f"scipy.special.{name}")]


SCIPY_SPECS: list[OpSpec] = [
    _special("gammaln", "gammaln", gamma_args),
    _special("digamma", "digamma", gamma_args),
    OpSpec("scipy.special.polygamma", lambda x, n: SP.special.polygamma(n, x),
           lambda x, n: scipy_fn("special.polygamma")(n, x),
           lambda x, n: torch.special.polygamma(n, x),
           (case((3,), n=1), case((2, 2), n=2), case((), n=3)), gamma_args,
           op="scipy.special.polygamma", gradcheck_kw={"rtol": 2e-3}),
    OpSpec("scipy.special.gamma", SP.special.gamma, scipy_fn("special.gamma"),
           lambda x: torch.exp(torch.lgamma(x)), UNARY, gamma_args, elementwise=True),
    OpSpec("scipy.special.rgamma", SP.special.rgamma, scipy_fn("special.rgamma"),
           lambda x: torch.exp(-torch.lgamma(x)), UNARY, gamma_args, elementwise=True),
    OpSpec("scipy.special.beta", SP.special.beta, scipy_fn("special.beta"),
           lambda a, b: torch.exp(torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)),
           _BINARY, gamma_args, elementwise=True),
    OpSpec("scipy.special.multigammaln", SP.special.multigammaln,
           scipy_fn("special.multigammaln"), lambda a, d: torch.special.multigammaln(a, d),
           (case((), d=1), case((3,), d=3), case((2, 2), d=2)),
           _each(_uniform(1.2, 4.0)), elementwise=True),
    *_incomplete_rows("gammainc", lambda x, a: SP.special.gammainc(a, x),
                      lambda x, a: scipy_fn("special.gammainc")(a, x), torch_gammainc,
                      (case((), a=1.7), case((2, 3), a=1.0)),
                      (case((3,), a=np.array([[0.6], [2.5]])),), _each(_uniform(0.3, 4.0))),
    *_incomplete_rows("gammaincc", lambda x, a: SP.special.gammaincc(a, x),
                      lambda x, a: scipy_fn("special.gammaincc")(a, x),
                      lambda x, a: torch_gammainc(x, a, upper=True),
                      (case((), a=0.8), case((2, 3), a=3.0)),
                      (case((3,), a=np.array([[0.6], [2.5]])),), _each(_uniform(0.3, 4.0))),
    *_incomplete_rows("betainc", lambda x, a, b: SP.special.betainc(a, b, x),
                      lambda x, a, b: scipy_fn("special.betainc")(a, b, x), torch_betainc,
                      (case((), a=1.5, b=2.5), case((2, 3), a=1.0, b=1.0)),
                      (case((3,), a=np.array([[0.7], [2.0]]), b=0.8),),
                      _each(_uniform(0.1, 0.8))),
    _special("erfinv", "erfinv", _each(_uniform(-0.9, 0.9))),
    OpSpec("scipy.special.erfcinv", SP.special.erfcinv, scipy_fn("special.erfcinv"),
           lambda x: torch.erfinv(1 - x), UNARY, _each(_uniform(0.1, 1.9)), elementwise=True),
    _bessel_row("j0", "j", 0),
    _bessel_row("j1", "j", 1),
    _bessel_row("jn", "j"),
    _bessel_row("jv", "j"),
    _bessel_row("y0", "y", 0),
    _bessel_row("y1", "y", 1),
    _bessel_row("yn", "y"),
    OpSpec("scipy.special.yv", lambda x, v: SP.special.yv(v, x),
           lambda x, v: scipy_fn("special.yv")(v, x), lambda x, v: _torch_yn(x, int(v)),
           (case((), v=2.0), case((2, 3), v=1.0)), bessel_x, elementwise=True),
    _bessel_row("i0", "i", 0, torch_name="i0"),
    _bessel_row("i1", "i", 1, torch_name="i1"),
    _bessel_row("i0e", "ie", 0, _each(_uniform(-3.0, 3.0)), "i0e"),
    _bessel_row("i1e", "ie", 1, _each(_uniform(-3.0, 3.0)), "i1e"),
    _bessel_row("iv", "i"),
    _bessel_row("ive", "ie"),
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
    OpSpec("scipy.stats.norm.sf", SP.stats.norm.sf, scipy_fn("stats.norm.sf"),
           lambda x, m, s: torch.special.ndtr((m - x) / s), (case((3,), (3,), ()),
                                                             case((), (), ())),
           normal_loc_scale),
    OpSpec("scipy.stats.norm.logsf", SP.stats.norm.logsf, scipy_fn("stats.norm.logsf"),
           lambda x, m, s: torch.special.log_ndtr((m - x) / s), (case((2, 3), (3,), ()),),
           normal_loc_scale),
    OpSpec("scipy.stats.norm.logcdf", SP.stats.norm.logcdf, scipy_fn("stats.norm.logcdf"),
           lambda x, m, s: torch.special.log_ndtr((x - m) / s), (case((2, 3), (3,), ()),),
           normal_loc_scale),
    OpSpec("scipy.stats.t.logpdf", SP.stats.t.logpdf, scipy_fn("stats.t.logpdf"),
           lambda x, df, m, s: _td().StudentT(df, m, s).log_prob(x),
           (case((3,), (3,), (3,), (3,)), case((2, 3), (), (3,), ())), t_args),
    OpSpec("scipy.stats.t.cdf", lambda x, m, s, df: SP.stats.t.cdf(x, df, m, s),
           lambda x, m, s, df: scipy_fn("stats.t.cdf")(x, df, m, s), torch_t_cdf,
           (case((3,), (3,), (3,), df=np.array([2.0, 4.5, 9.0])), case((2, 3), (), (3,), df=3.0),
            case((), (), (), df=2.5)), normal_loc_scale),
    OpSpec("scipy.stats.t.logcdf", lambda x, m, s, df: SP.stats.t.logcdf(x, df, m, s),
           lambda x, m, s, df: scipy_fn("stats.t.logcdf")(x, df, m, s),
           lambda *a, df: torch.log(torch_t_cdf(*a, df)),
           (case((2, 3), (3,), (), df=np.array([2.0, 4.5, 9.0])), case((), (), (), df=5.0)),
           normal_loc_scale),
    OpSpec("scipy.stats.gamma.cdf", lambda x, m, s, a: SP.stats.gamma.cdf(x, a, m, s),
           lambda x, m, s, a: scipy_fn("stats.gamma.cdf")(x, a, m, s),
           lambda x, m, s, a: torch_gammainc((x - m) / s, a),
           (case((3,), (3,), (3,), a=np.array([0.7, 2.0, 3.5])), case((2, 3), (), (), a=1.5),
            case((), (), (), a=2.0)), _each(_uniform(1.0, 3.0), _uniform(-0.5, 0.5), _positive)),
    OpSpec("scipy.stats.chi2.logpdf", SP.stats.chi2.logpdf, scipy_fn("stats.chi2.logpdf"),
           torch_chi2_logpdf, (case((3,), (3,), (3,), (3,)), case((2, 3), (3,), (), ()),
                               case((), (), (), ())), above_loc),
    OpSpec("scipy.stats.chi2.pdf", SP.stats.chi2.pdf, scipy_fn("stats.chi2.pdf"),
           lambda *a: torch.exp(torch_chi2_logpdf(*a)), (case((3,), (3,), (), ()),), above_loc),
    OpSpec("scipy.stats.chi2.cdf", lambda x, m, s, df: SP.stats.chi2.cdf(x, df, m, s),
           lambda x, m, s, df: scipy_fn("stats.chi2.cdf")(x, df, m, s),
           lambda x, m, s, df: torch_gammainc((x - m) / s / 2, np.asarray(df) / 2),
           (case((3,), (3,), (), df=np.array([1.0, 3.0, 6.0])), case((), (), (), df=2.5)),
           _each(_uniform(1.0, 3.0), _uniform(-0.5, 0.5), _positive)),
    OpSpec("scipy.stats.beta.cdf", lambda x, m, s, a, b: SP.stats.beta.cdf(x, a, b, m, s),
           lambda x, m, s, a, b: scipy_fn("stats.beta.cdf")(x, a, b, m, s),
           lambda x, m, s, a, b: torch_betainc((x - m) / s, a, b),
           (case((3,), (3,), (3,), a=np.array([0.7, 2.0, 3.5]), b=1.5),
            case((2, 3), (), (), a=2.0, b=np.array([[0.8], [3.0]])),
            case((), (), (), a=1.2, b=2.2)),
           _each(_uniform(0.2, 0.7), _uniform(-0.1, 0.1), _uniform(1.0, 1.3))),
    OpSpec("scipy.stats.poisson.cdf", lambda q, k: SP.stats.poisson.cdf(k, q),
           lambda mu, k: scipy_fn("stats.poisson.cdf")(k, mu),
           lambda mu, k: torch_gammainc(mu, np.floor(k) + 1, upper=True),
           (case((4,), k=np.array([0, 1, 3.5, 6])), case((), k=np.array([[2], [5]]))),
           _each(_uniform(0.5, 4.0))),
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
    OpSpec("scipy.stats.multivariate_normal.logpdf_allow_singular",
           SP.stats.multivariate_normal.logpdf,
           scipy_fn("stats.multivariate_normal.logpdf"), torch_mvn_pinv_logpdf,
           (case((4, 3), (3,), cov=_SPD3, allow_singular=True),
            case((3,), (3,), cov=_SPD3, allow_singular=True)), normal,
           op="scipy.stats.multivariate_normal.logpdf"),
    OpSpec("scipy.stats.multivariate_normal.entropy",
           lambda cov, mean: SP.stats.multivariate_normal.entropy(mean, cov),
           lambda cov, mean: scipy_fn("stats.multivariate_normal.entropy")(mean, cov),
           lambda cov, mean: torch_mvn_entropy(torch.as_tensor(mean, dtype=cov.dtype), cov),
           (case((3, 3), mean=np.zeros(3)), case((), mean=np.ones(2))), cov_args),
    OpSpec("scipy.stats.dirichlet.logpdf", SP.stats.dirichlet.logpdf,
           scipy_fn("stats.dirichlet.logpdf"), torch_dirichlet_logpdf,
           (case((3,), (3,)), case((3, 4), (3,)), case((2, 2), (3,))), dirichlet_args),
    OpSpec("scipy.linalg.sqrtm", SP.linalg.sqrtm, scipy_fn("linalg.sqrtm"), torch_sqrtm,
           (case((3, 3)), case((1, 1)), case((2, 2))), matrix_args),
    OpSpec("scipy.linalg.solve_sylvester", SP.linalg.solve_sylvester,
           scipy_fn("linalg.solve_sylvester"), torch_sylvester,
           (case((3, 3), (2, 2), (3, 2)), case((1, 1), (1, 1), (1, 1)),
            case((2, 2), (2, 2), (2, 2))), matrix_args),
    OpSpec("scipy.linalg.solve_banded", lambda ab, b, lu: SP.linalg.solve_banded(lu, ab, b),
           lambda ab, b, lu: scipy_fn("linalg.solve_banded")(lu, ab, b),
           lambda ab, b, lu: torch.linalg.solve(banded_dense(ab, lu), b),
           (case((4, 5), (5,), lu=(2, 1)), case((3, 4), (4, 2), lu=(1, 1)),
            case((1, 3), (3,), lu=(0, 0)), case((2, 3), (3,), lu=(0, 1))), banded_args),
    OpSpec("scipy.integrate.odeint",
           lambda y0, t, a, **kw: SP.integrate.odeint(linear_ode, y0, t, (a,), **kw),
           np_linear_ode, torch_linear_ode,
           (case((2,), (3,), (2, 2), **_ODE_TOL), case((1,), (2,), (1, 1), **_ODE_TOL)),
           lambda rng, shapes, dtype: (
               np.asarray(rng.standard_normal(shapes[0]), dtype),
               np.asarray(np.cumsum(rng.uniform(0.2, 0.5, shapes[1])), dtype),
               np.asarray(0.5 * rng.standard_normal(shapes[2]), dtype)),
           # the values come from an adaptive integrator (tolerance 1e-10): finite
           # differences agree with the adjoint and the sensitivities to about 1e-6
           gradcheck_kw={"eps": 1e-4, "atol": 1e-6, "rtol": 1e-5}, rtol=1e-6),
    OpSpec("scipy.signal.convolve", SP.signal.convolve, scipy_fn("signal.convolve"),
           lambda a, b, mode="full": torch_correlate(a, b, mode, flip=True), _SIGNAL),
    OpSpec("scipy.signal.correlate", SP.signal.correlate, scipy_fn("signal.correlate"),
           torch_correlate, _SIGNAL),
]
