"""Independent numpy/scipy log posteriors (log-likelihood + log prior) of the six models.

Nothing here uses TensorFlow or bayesquad: the integrals are closed forms (W1 erf, W2
Bessel series, W5 exponentially modified Gaussian) or scipy/numpy integrations with
their own error control (W3 trapezoid on a fine grid, W4 QAWS with the ``u^g1`` weight,
W6 SciPy's adaptive ``cubature``).
Each function takes the data dict of the model file and the parameters by name.
"""
import numpy as np
from scipy import integrate, special, stats

__all__ = ["LOG_POSTERIOR", "emg_logpdf", "poisson_integral", "group_log_marginals",
           "cumulative_hazard_quad"]


def _norm(x, loc, scale):
    return stats.norm(loc, scale).logpdf(x)


def _halfnorm(x, scale):
    return stats.halfnorm(scale=scale).logpdf(x)


# ---- W1 ---------------------------------------------------------------------------------
def w1(data, mu, sigma, lam, s):
    x, lo, hi = data["x"], float(data["lo"]), float(data["hi"])
    log_g = np.log(sigma * np.sqrt(2 * np.pi)
                   * (special.ndtr((hi - mu) / sigma) - special.ndtr((lo - mu) / sigma)))
    log_e = np.log(-np.expm1(-lam * (hi - lo)) / lam) - lam * lo
    peak = np.log(s) - 0.5 * ((x - mu) / sigma) ** 2 - log_g
    bkg = np.log1p(-s) - lam * x - log_e
    prior = (_norm(mu, 5, 1) + _halfnorm(sigma, 1) + _halfnorm(lam, 1)
             + stats.beta(2, 2).logpdf(s))
    return np.sum(np.logaddexp(peak, bkg)) + prior


# ---- W2 ---------------------------------------------------------------------------------
def poisson_integral(a, b, c, big_t, period, n_terms=100):
    """``int_0^T exp(a + b sin(2 pi t / P) + c t / T) dt`` by the Jacobi-Anger series.

    ``exp(b sin th) = I0(b) + 2 sum_n I_n(b) [cos(n pi/2) cos(n th) + sin(n pi/2) sin(n th)]``
    and each term times ``exp(beta t)`` integrates in closed form.
    """
    beta, omega = c / big_t, 2 * np.pi / period
    n = np.arange(1, n_terms)
    zc = beta + 1j * n * omega
    j = np.expm1(zc * big_t) / zc  # int_0^T exp((beta + i n w) t) dt
    j0 = big_t if beta == 0 else np.expm1(beta * big_t) / beta
    series = special.iv(0, b) * j0 + 2 * np.sum(
        special.iv(n, b) * (np.cos(n * np.pi / 2) * j.real + np.sin(n * np.pi / 2) * j.imag))
    return np.exp(a) * series


def w2(data, a, b, c):
    t, big_t, period = data["t"], float(data["T"]), float(data["period"])
    log_rate = a + b * np.sin(2 * np.pi * t / period) + c * t / big_t
    ll = np.sum(log_rate) - poisson_integral(a, b, c, big_t, period)
    return ll + _norm(a, 0, 2) + _norm(b, 0, 2) + _norm(c, 0, 2)


# ---- W3 ---------------------------------------------------------------------------------
def group_log_marginals(data, b0, b1, tau, half_width=None, n_grid=8001):
    """Per-group ``log int prod_i Bern(y_i | b0 + b1 x_i + u) N(u | 0, tau) du``.

    Trapezoid rule on a uniform grid (exponentially accurate for smooth integrands that
    decay at both ends), accumulated group by group with a log-sum-exp.
    """
    y, x, g = np.asarray(data["y"]), np.asarray(data["x"]), np.asarray(data["group"])
    n_groups = int(data["n_groups"])
    if half_width is None:
        half_width = 12.0 * tau + 12.0
    u = np.linspace(-half_width, half_width, n_grid)
    h = u[1] - u[0]
    out = np.empty(n_groups)
    for j in range(n_groups):
        eta = b0 + b1 * x[g == j][:, None] + u  # [n_j, grid]
        sign = np.where(y[g == j] == 1, -1.0, 1.0)[:, None]
        log_lik = -np.logaddexp(0.0, sign * eta).sum(axis=0)
        phi = log_lik + _norm(u, 0.0, tau)
        w = np.full(n_grid, h)
        w[[0, -1]] = h / 2
        out[j] = special.logsumexp(phi, b=w)
    return out


def w3(data, b0, b1, tau):
    ll = group_log_marginals(data, b0, b1, tau).sum()
    return ll + _norm(b0, 0, 2.5) + _norm(b1, 0, 2.5) + _halfnorm(tau, 2)


# ---- W4 ---------------------------------------------------------------------------------
def cumulative_hazard_quad(time, z, g0, g1, k0, k1):
    """``H(t | z)`` per subject by QUADPACK's QAWS: ``int_0^t f(u) u^g1 du`` with the
    smooth ``f(u) = exp(g0 + (k0 + k1 u) z)`` and the algebraic weight handled exactly."""
    out = np.empty(len(time))
    for i, (t, zi) in enumerate(zip(time, z)):
        f = lambda u, zi=zi: np.exp(g0 + (k0 + k1 * u) * zi)  # noqa: E731
        out[i], _ = integrate.quad(f, 0.0, t, weight="alg", wvar=(g1, 0.0), epsabs=0.0,
                                   epsrel=1e-13, limit=200)
    return out


def w4(data, g0, g1, k0, k1):
    t, d, z = (np.asarray(data[k], float) for k in ("time", "event", "z"))
    log_h = g0 + g1 * np.log(t) + (k0 + k1 * t) * z
    ll = np.sum(d * log_h) - np.sum(cumulative_hazard_quad(t, z, g0, g1, k0, k1))
    return ll + sum(_norm(v, 0, 2) for v in (g0, g1, k0, k1))


# ---- W5 ---------------------------------------------------------------------------------
def emg_logpdf(t, tau, r):
    """Exponential(mean tau) convolved with Normal(0, r), in closed form."""
    return (-np.log(tau) + 0.5 * (r / tau) ** 2 - t / tau
            + special.log_ndtr(t / r - r / tau))


def w5(data, tau, r):
    ll = np.sum(emg_logpdf(np.asarray(data["t"]), tau, r))
    return ll + _halfnorm(tau, 3) + _halfnorm(r, 1)


#: model name -> f(data, **params)
# ---- W6 ---------------------------------------------------------------------------------
def w6(data, a, b, c, x0, y0, w):
    """The integral over the rectangle by SciPy's adaptive ``cubature`` (Genz–Malik) at
    rtol 1e-13: the rectangle split at the hotspot's centre so each piece is smooth on
    its own scale."""
    x, y = np.asarray(data["x"]), np.asarray(data["y"])
    big_x, big_y = float(data["X"]), float(data["Y"])

    def log_lam(px, py):
        return a + b * px / 10.0 + c * np.exp(-((px - x0) ** 2 + (py - y0) ** 2) / (2 * w * w))

    def f(points):  # scipy's cubature: points [n, 2] -> [n]
        return np.exp(log_lam(points[:, 0], points[:, 1]))

    cx, cy = min(max(x0, 0.0), big_x), min(max(y0, 0.0), big_y)
    total = 0.0
    for lo, hi in (([0, 0], [cx, cy]), ([cx, 0], [big_x, cy]), ([0, cy], [cx, big_y]),
                   ([cx, cy], [big_x, big_y])):
        if lo[0] < hi[0] and lo[1] < hi[1]:
            res = integrate.cubature(f, lo, hi, rtol=1e-13, atol=0.0, max_subdivisions=100000)
            if res.status != "converged":
                raise RuntimeError(f"reference cubature did not converge: {res}")
            total += res.estimate
    prior = (_norm(a, 0, 3) + _norm(b, 0, 2) + _halfnorm(c, 3) + _norm(x0, 6, 1)
             + _norm(y0, 3.5, 1) + stats.lognorm(0.5).logpdf(w))
    return np.sum(log_lam(x, y)) - total + prior


def w6_grid(data, a, b, c, x0, y0, w, nodes=32, panels=8):
    """W6 with the integral by a numpy tensor-product Gauss–Legendre rule (``nodes`` x
    ``panels`` per axis), for the many evaluations of an importance-sampling reference;
    :func:`w6` (SciPy's cubature) checks it in ``test_models``."""
    x, y = np.asarray(data["x"]), np.asarray(data["y"])
    big_x, big_y = float(data["X"]), float(data["Y"])
    t, wt = np.polynomial.legendre.leggauss(nodes)

    def axis(top):
        edges = np.linspace(0.0, top, panels + 1)
        half, mid = 0.5 * np.diff(edges)[:, None], 0.5 * (edges[:-1] + edges[1:])[:, None]
        return (mid + half * t).ravel(), (half * wt).ravel()
    (gx, wx), (gy, wy) = axis(big_x), axis(big_y)

    def log_lam(px, py):
        return a + b * px / 10.0 + c * np.exp(-((px - x0) ** 2 + (py - y0) ** 2) / (2 * w * w))

    total = wx @ np.exp(log_lam(gx[:, None], gy[None, :])) @ wy
    prior = (_norm(a, 0, 3) + _norm(b, 0, 2) + _halfnorm(c, 3) + _norm(x0, 6, 1)
             + _norm(y0, 3.5, 1) + stats.lognorm(0.5).logpdf(w))
    return np.sum(log_lam(x, y)) - total + prior


LOG_POSTERIOR = {
    "peak_on_background": w1,
    "poisson_process": w2,
    "glmm_logistic": w3,
    "survival_tvc": w4,
    "lifetime_resolution": w5,
    "spatial_poisson": w6,
}
