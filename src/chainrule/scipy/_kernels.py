"""NumPy kernels for the special functions NumPy lacks: log-gamma, polygamma, erfc, log ndtr.

Plain array code (no SciPy), for NumPy's and CuPy's arrays alike: shift the argument up with
the recurrence, then sum an asymptotic (Stirling / Euler-Maclaurin) series; reflect negative
arguments where a closed form exists. Each computes in float64 and returns the input's float
dtype.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import backend as B
from chainrule.ops.nn import _ERFC_P, _ERFC_Q, _ERFC_R, _ERFC_S, _poly, erf_array

NDArray = np.ndarray

# B_2k for k = 1..9 (Bernoulli numbers), for the asymptotic series
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_PI = math.sqrt(math.pi)


def _f64(x: NDArray) -> NDArray:
    """x flattened to 1-d float64 (0-d arrays would turn results into NumPy scalars)."""
    return B.asarray(x).astype(np.float64).reshape(-1)


def _like(out: NDArray, x: NDArray) -> NDArray:
    """out in x's shape and float dtype (float64 for integer inputs)."""
    x = B.asarray(x)
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False).reshape(x.shape)


def _shift_up(x: NDArray, threshold: float) -> tuple[NDArray, list[tuple[NDArray, NDArray]]]:
    """x + N with N the least whole number reaching threshold; the (mask, value) steps taken."""
    y = x.copy()
    steps = []
    while True:
        m = y < threshold
        if not m.any():
            return y, steps
        steps.append((m, y[m].copy()))
        y[m] += 1.0


def gammaln_array(x: NDArray) -> NDArray:
    """log |Gamma(x)| (inf at the poles 0, -1, -2, ...), as scipy.special.gammaln."""
    xf = _f64(x)
    out = np.empty_like(xf)
    neg = xf < 0.5
    pos = ~neg
    with np.errstate(divide="ignore", invalid="ignore"):
        out[pos] = _gammaln_pos(xf[pos])
        xn = xf[neg]
        # reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x)
        s = np.abs(np.sin(np.pi * (xn - np.floor(xn))))  # exact zero at the integers
        out[neg] = math.log(math.pi) - np.log(s) - _gammaln_pos(1.0 - xn)
    out[neg & (xf == np.floor(xf))] = np.inf
    out[(xf == 1.0) | (xf == 2.0)] = 0.0  # the exact zeros, which the series misses by an ulp
    return _like(out, x)


def _gammaln_pos(x: NDArray) -> NDArray:
    """log Gamma(x) for x >= 0.5: lgamma(x) = lgamma(x + N) - log(x (x+1) ... (x+N-1))."""
    y, steps = _shift_up(x, 10.0)
    prod = np.ones_like(x)
    for m, v in steps:
        prod[m] *= v
    z = 1.0 / (y * y)
    series = np.zeros_like(y)
    for k in range(len(_BERNOULLI), 0, -1):
        series = series * z + _BERNOULLI[k - 1] / (2 * k * (2 * k - 1))
    stirling = (y - 0.5) * np.log(y) - y + _HALF_LOG_2PI + series / y
    return stirling - np.log(prod)


def polygamma_array(n: int, x: NDArray) -> NDArray:
    """The n-th derivative of digamma (n = 0: digamma), as scipy.special.polygamma."""
    xf = _f64(x)
    if n == 0:
        out = np.empty_like(xf)
        neg = xf < 0.5
        with np.errstate(divide="ignore", invalid="ignore"):
            out[~neg] = _polygamma_pos(0, xf[~neg])
            xn = xf[neg]
            # reflection: psi(1 - x) - psi(x) = pi cot(pi x)
            # cot has period pi: reduce x exactly first, so poles' neighbours stay accurate
            out[neg] = _polygamma_pos(0, 1.0 - xn) - np.pi / np.tan(np.pi * (xn - np.round(xn)))
        out[neg & (xf == np.floor(xf))] = np.nan
        out[xf == 0] = -np.inf
        return _like(out, x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = _polygamma_pos(n, xf)
    poles = (xf <= 0) & (xf == np.floor(xf))
    out[poles] = np.inf if n % 2 else np.nan
    return _like(out, x)


def _polygamma_pos(n: int, x: NDArray) -> NDArray:
    """psi^(n)(x) by psi^(n)(x) = psi^(n)(x + 1) - (-1)^n n! / x^(n+1), then the series."""
    y, steps = _shift_up(x, 10.0 + 2 * n)
    acc = np.zeros_like(x)
    sign = -1.0 if n % 2 == 0 else 1.0  # (-1)^(n+1)
    nfact = math.factorial(n)
    for m, v in steps:
        acc[m] += sign * nfact / v ** (n + 1)
    z = 1.0 / (y * y)
    if n == 0:
        series = np.zeros_like(y)
        for k in range(len(_BERNOULLI), 0, -1):
            series = series * z + _BERNOULLI[k - 1] / (2 * k)
        return acc + np.log(y) - 0.5 / y - series * z
    series = np.zeros_like(y)
    for k in range(len(_BERNOULLI), 0, -1):
        c = _BERNOULLI[k - 1] * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
        series = series * z + c
    lead = math.factorial(n - 1) / y**n + nfact / (2 * y ** (n + 1))
    return acc + sign * (lead + series * z / y**n)


def _erfcx_big(a: NDArray) -> NDArray:
    """exp(a^2) erfc(a) for a >= 1 (Cephes' rational approximations; 1/(sqrt(pi) a) far out)."""
    far = a > 1e8
    b = np.where(far, 8.0, a)
    r = np.where(b < 8.0, _poly(b, _ERFC_P) / _poly(b, _ERFC_Q),
                 _poly(b, _ERFC_R) / _poly(b, _ERFC_S))
    return np.where(far, 1.0 / (_SQRT_PI * a), r)


def erfc_array(x: NDArray) -> NDArray:
    """1 - erf(x), accurate in the right tail (no cancellation), as scipy.special.erfc."""
    xf = _f64(x)
    a = np.abs(xf)
    out = np.empty_like(xf)
    small = ~(a >= 1.0)  # NaN goes here, and stays NaN
    out[small] = 1.0 - erf_array(xf[small])
    big = ~small
    ab = a[big]
    with np.errstate(under="ignore", over="ignore"):
        tail = np.exp(-ab * ab) * _erfcx_big(ab)
    out[big] = np.where(xf[big] > 0, tail, 2.0 - tail)
    return _like(out, x)


def log_ndtr_array(z: NDArray) -> NDArray:
    """log Phi(z), Phi the standard normal CDF, accurate in both tails, as scipy's log_ndtr."""
    zf = _f64(z)
    u = -zf * math.sqrt(0.5)  # Phi(z) = erfc(u) / 2
    out = np.empty_like(zf)
    left = u >= 1.0
    ul = u[left]
    out[left] = -math.log(2.0) - ul * ul + np.log(_erfcx_big(ul))
    right = zf > 0
    with np.errstate(divide="ignore"):
        out[right] = np.log1p(-0.5 * erfc_array(zf[right] * math.sqrt(0.5)))
        mid = ~left & ~right
        out[mid] = np.log(0.5 * erfc_array(u[mid]))
    return _like(out, z)


def gammasgn_array(x: NDArray) -> NDArray:
    """The sign of Gamma(x), as scipy.special.gammasgn: 1 for x > 0 (and +0, +inf), -1 on
    (-2k-1, -2k), 1 on (-2k-2, -2k-1), -1 at -0, NaN at the negative integers and -inf."""
    xf = _f64(x)
    with np.errstate(invalid="ignore"):
        out = np.where(np.ceil(-xf) % 2 == 1, -1.0, 1.0)
        out[xf > 0] = 1.0
        out[(xf == 0) & np.signbit(xf)] = -1.0
        out[((xf < 0) & (xf == np.floor(xf))) | np.isnan(xf)] = np.nan
    return _like(out, x)


def gamma_array(x: NDArray) -> NDArray:
    """Gamma(x) = gammasgn(x) exp(gammaln(x)), as scipy.special.gamma (inf at +-0, NaN at the
    negative integers)."""
    xf = _f64(x)
    with np.errstate(over="ignore", invalid="ignore"):
        out = gammasgn_array(xf) * np.exp(gammaln_array(xf))
    out[xf == np.inf] = np.inf
    return _like(out, x)


def rgamma_array(x: NDArray) -> NDArray:
    """1 / Gamma(x), as scipy.special.rgamma (0 at the poles 0, -1, -2, ...)."""
    xf = _f64(x)
    with np.errstate(under="ignore", invalid="ignore"):
        out = gammasgn_array(xf) * np.exp(-gammaln_array(xf))
    out[(xf <= 0) & (xf == np.floor(xf))] = 0.0
    out[xf == np.inf] = 0.0
    return _like(out, x)
