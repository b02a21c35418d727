"""``bayesquad.cubature``: integrals over boxes in d >= 2 dimensions.

Covered: the Genz–Malik tables' polynomial exactness; every catalogue problem
(``cubature_problems.py``, closed forms) x method x rtol for honesty (CONVERGED means the
reported error covers the true one; qmc: within five standard errors); the W6 integral
against scipy's nested ``dblquad`` at 1e-13 (computed here); gradients to args and
finite box limits against closed forms, to an infinite box's finite limit, and to the
W6 parameters against a central difference; a batched run under
``tf.function(jit_compile=True)`` against eager; float32; batched limits and args with
per-element statuses; log space; statuses; validation messages; reference_settings.
"""
import itertools
import math

import numpy as np
import pytest
from scipy import integrate as scipy_integrate

import bayesquad
import tensorflow as tf
from bayesquad.quadrature._cubature_rules import GenzMalik

from cubature_problems import (BY_NAME, GL_DEFAULTS, PROBLEMS, w6_log_integrand,
                               w6_numpy)

F64, F32 = tf.float64, tf.float32
Status = bayesquad.Status
CONVERGED = int(Status.CONVERGED)
EPS = float(np.finfo(np.float64).eps)
RTOLS = (1e-6, 1e-9)
DETERMINISTIC = ("gauss-legendre", "genz-malik")  # auto runs genz-malik for d <= 6
W6_BOX = ([0.0, 0.0], [10.0, 6.0])

_cache = {}


def _kwargs(p, method):
    if method == "gauss-legendre":
        kw = dict(GL_DEFAULTS[p.dim])
        kw.update(p.kwargs(method))
        return kw
    return p.kwargs("genz-malik" if method == "auto" else method)


def run(p, method, rtol):
    key = (p.name, method, rtol)
    if key not in _cache:
        res = bayesquad.cubature(p.f, p.lower, p.upper, method=method, rtol=rtol,
                                 **_kwargs(p, method))
        _cache[key] = tuple(np.asarray(t) for t in res)
    return _cache[key]


# ---- the rule ---------------------------------------------------------------------------

@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_genz_malik_exact_for_polynomials(d):
    """Degree 7 (and 5 for the embedded rule) exactly, on the mean over [-1, 1]^d."""
    rule = GenzMalik(d)
    assert rule.size == 2**d + 2 * d * d + 2 * d + 1
    for powers in itertools.product(range(9), repeat=d):
        deg = sum(powers)
        if deg > 8:
            continue
        exact = np.prod([1.0 / (k + 1) if k % 2 == 0 else 0.0 for k in powers])
        values = np.prod(rule.offsets ** np.array(powers), axis=1)
        if deg <= 7:
            assert rule.w7 @ values == pytest.approx(exact, abs=1e-14), powers
        if deg <= 5:
            assert rule.w5 @ values == pytest.approx(exact, abs=1e-14), powers
    # x^8 and x1^4 x2^4 are not integrated exactly: the rule is of degree 7, no more
    x8 = rule.offsets[:, 0] ** 8
    assert abs(rule.w7 @ x8 - 1 / 9) > 1e-4


def test_genz_malik_log_box_of_minus_infinity_has_zero_gradient():
    """A box where log f is -inf at every node is worth -inf with gradient 0, not NaN."""
    rule = GenzMalik(2)
    shift = tf.constant(0.3, F64)
    half = tf.constant(np.full((2, 2), 0.25), F64)
    with tf.GradientTape() as tape:
        tape.watch(shift)
        alive = -tf.constant(np.linspace(0.0, 1.0, rule.size), F64) + shift
        # -inf with a finite derivative (a tf.where in f would cut any NaN by itself)
        dead = tf.constant(-np.inf, F64) + shift * tf.ones(rule.size, F64)
        value, _, _ = rule.estimate(tf.stack([alive, dead]), half, EPS, log=True)
        total = tf.reduce_logsumexp(value)
    assert np.isneginf(value[1])
    assert float(tape.gradient(total, shift)) == pytest.approx(1.0, rel=1e-12)


# ---- catalogue: honesty ---------------------------------------------------------------

CASES = [(p, m) for p in PROBLEMS for m in DETERMINISTIC]


@pytest.mark.parametrize("rtol", RTOLS, ids=["rtol1e-6", "rtol1e-9"])
@pytest.mark.parametrize("case", CASES, ids=[f"{p.name}-{m}" for p, m in CASES])
def test_catalogue_honesty(case, rtol):
    p, method = case
    value, error, n_evals, status = run(p, method, rtol)
    assert value.shape == () and status.dtype == np.int32 and n_evals > 0
    status = int(status)
    true_err = abs(float(value) - p.exact)
    info = (f"{p.name} {method} rtol={rtol}: value={float(value)!r} exact={p.exact!r} "
            f"true={true_err:.3e} reported={float(error):.3e} n_evals={int(n_evals)} "
            f"status={status}")
    if status == CONVERGED:
        slack = max(1e-14, 2 * EPS * math.sqrt(int(n_evals))) * abs(p.exact)
        assert true_err <= max(float(error), slack), "dishonest error: " + info
        assert float(error) <= 2 * rtol * abs(p.exact), "error above rtol: " + info
    else:
        assert status in (int(Status.BUDGET_EXHAUSTED), int(Status.ROUNDOFF)), info
        if method != "gauss-legendre" and "smooth" in p.tags and rtol == 1e-6:
            assert p.hard_reason(method, rtol) is not None, "must converge: " + info


def test_auto_is_genz_malik_up_to_six_dimensions():
    p = BY_NAME["genz_gaussian_4d"]
    auto = bayesquad.cubature(p.f, p.lower, p.upper, rtol=1e-6)
    np.testing.assert_array_equal([np.asarray(t) for t in auto], run(p, "genz-malik", 1e-6))
    f7 = lambda x: tf.exp(-tf.reduce_sum(x * x, -1))  # noqa: E731
    high = bayesquad.cubature(f7, np.zeros(7), np.ones(7), rtol=1e-3, seed=2)
    assert int(high.n_evals) == 32768  # qmc's default samples
    exact = (math.sqrt(math.pi) / 2 * math.erf(1.0)) ** 7
    assert abs(float(high.value) - exact) <= 5 * float(high.error)


@pytest.mark.parametrize("p", PROBLEMS, ids=[p.name for p in PROBLEMS])
def test_qmc_within_five_standard_errors(p):
    value, error, n_evals, status = run(p, "qmc", 1e-3)
    assert int(n_evals) == 32768 and error > 0
    assert abs(float(value) - p.exact) <= 5 * float(error), (float(value), p.exact, error)
    if int(status) == CONVERGED:
        assert float(error) <= 1e-3 * abs(float(value)) * (1 + 1e-12)


def test_catalogue_coverage():
    assert len(PROBLEMS) >= 16
    tags = set().union(*(p.tags for p in PROBLEMS))
    assert {"smooth", "kink", "discontinuous", "infinite", "reversed"} <= tags
    assert {p.dim for p in PROBLEMS} >= {2, 3, 4}
    for p in PROBLEMS:
        for reason in p.hard.values():
            assert len(reason) > 40


def test_qmc_seed_is_stateless_and_matters():
    p = BY_NAME["genz_gaussian_2d"]
    a, b, c = (bayesquad.cubature(p.f, p.lower, p.upper, method="qmc", seed=s).value
               for s in (1, 1, 2))
    assert float(a) == float(b) and float(a) != float(c)


# ---- the W6 integral against scipy -----------------------------------------------------

@pytest.fixture(scope="module")
def w6_reference():
    value, err = scipy_integrate.dblquad(lambda y, x: w6_numpy(x, y), 0, 10, 0, 6,
                                         epsabs=0, epsrel=1e-13)
    assert err < 1e-11 * value
    return value


@pytest.mark.parametrize("method,kw", [("genz-malik", {}), ("auto", {}),
                                       ("gauss-legendre", {"nodes": 24, "panels": 2})])
@pytest.mark.parametrize("log", [False, True], ids=["linear", "log"])
def test_w6_against_scipy(w6_reference, method, kw, log):
    log_f = w6_log_integrand()
    f = log_f if log else (lambda x: tf.exp(log_f(x)))
    res = bayesquad.cubature(f, *W6_BOX, method=method, rtol=1e-8, log=log, **kw)
    value = math.exp(float(res.value)) if log else float(res.value)
    rel_err = float(res.error) if log else float(res.error) / value
    true = abs(value - w6_reference) / w6_reference
    assert true <= 1e-10
    assert true <= rel_err * (1 + 1e-9) + 1e-14
    if method != "gauss-legendre":  # the tail estimate is pessimistic at 24 nodes
        assert int(res.status) == CONVERGED


# ---- gradients ----------------------------------------------------------------------

GRAD_METHODS = {"genz-malik": {"rtol": 1e-9, "max_evals": 60000},
                "gauss-legendre": {"nodes": 24}}


def _exp_box(k0, lo0, hi0):
    """int over the box of exp(-k . x), its gradient in k, lower and upper."""
    k0, lo0, hi0 = map(np.asarray, (k0, lo0, hi0))
    one = (np.exp(-k0 * lo0) - np.exp(-k0 * hi0)) / k0
    d_one_dk = (hi0 * np.exp(-k0 * hi0) - lo0 * np.exp(-k0 * lo0)) / k0 - one / k0
    total = np.prod(one)
    rest = total / one
    return (total, rest * d_one_dk, -rest * np.exp(-k0 * lo0), rest * np.exp(-k0 * hi0))


@pytest.mark.parametrize("method", list(GRAD_METHODS))
def test_gradient_to_args_and_box_limits(method):
    """Two coefficients as scalar args, the third captured by the integrand."""
    k0, lo0, hi0 = [0.7, 1.9, 1.2], [0.1, -0.4, 0.0], [1.3, 0.5, 2.0]
    k1, k2, k3 = (tf.constant(v, F64) for v in k0)
    lo, hi = tf.constant(lo0, F64), tf.constant(hi0, F64)

    def f(x, a, b):
        return tf.exp(-a * x[..., 0] - b * x[..., 1] - k3 * x[..., 2])

    with tf.GradientTape() as tape:
        tape.watch([k1, k2, k3, lo, hi])
        res = bayesquad.cubature(f, lo, hi, args=(k1, k2), method=method,
                                 **GRAD_METHODS[method])
    assert res.value.shape == ()
    g1, g2, g3, glo, ghi = tape.gradient(res.value, [k1, k2, k3, lo, hi])
    total, dk, dlo, dhi = _exp_box(k0, lo0, hi0)
    assert int(res.status) == CONVERGED
    assert float(res.value) == pytest.approx(total, rel=1e-9)
    np.testing.assert_allclose([g1, g2, g3], dk, rtol=1e-7)
    np.testing.assert_allclose(glo, dlo, rtol=1e-7)
    np.testing.assert_allclose(ghi, dhi, rtol=1e-7)


def test_gradient_on_infinite_box():
    """int_{a}^{inf} int_{-inf}^{inf} exp(-k x - y^2) = sqrt(pi) exp(-k a)/k."""
    a, k = tf.constant(0.4, F64), tf.constant(1.5, F64)
    with tf.GradientTape() as tape:
        tape.watch([a, k])
        lower = tf.stack([a, tf.constant(-np.inf, F64)])
        res = bayesquad.cubature(lambda x, k_: tf.exp(-k_ * x[..., 0] - x[..., 1] ** 2),
                                 lower, [np.inf, np.inf], args=(k,), method="genz-malik",
                                 rtol=1e-9, max_evals=60000)
    ga, gk = tape.gradient(res.value, [a, k])
    e = math.sqrt(math.pi) * math.exp(-1.5 * 0.4)
    assert float(res.value) == pytest.approx(e / 1.5, rel=1e-8)
    assert float(ga) == pytest.approx(-e, rel=1e-7)
    assert float(gk) == pytest.approx(-(0.4 + 1 / 1.5) * e / 1.5, rel=1e-7)


def test_w6_gradient_against_central_difference():
    """d/dc and d/dx0 of the W6 integral: AD through adaptive Genz–Malik against a
    central difference (h = 1e-4) of a fixed 48x48-node product rule, smooth in both."""
    def integrand(x, c, x0):
        r2 = (x[..., 0] - x0) ** 2 + (x[..., 1] - 3.5) ** 2
        return tf.exp(3.0 + 0.05 * x[..., 0] + c * tf.exp(-r2 / 1.28))

    c, x0 = tf.constant(2.0, F64), tf.constant(6.0, F64)
    with tf.GradientTape() as tape:
        tape.watch([c, x0])
        res = bayesquad.cubature(integrand, *W6_BOX, args=(c, x0), method="genz-malik",
                                 rtol=1e-10)
    gc, gx0 = (float(g) for g in tape.gradient(res.value, [c, x0]))

    def fixed(cv, xv):
        return float(bayesquad.cubature(integrand, *W6_BOX, args=(tf.constant(cv, F64),
                                                                  tf.constant(xv, F64)),
                                        method="gauss-legendre", nodes=24, panels=2).value)
    h = 1e-4
    assert gc == pytest.approx((fixed(2 + h, 6) - fixed(2 - h, 6)) / (2 * h), rel=1e-7)
    assert gx0 == pytest.approx((fixed(2, 6 + h) - fixed(2, 6 - h)) / (2 * h), rel=1e-6)


# ---- XLA ------------------------------------------------------------------------------

K_BATCH = np.array([[0.5, 1.0], [2.0, 0.3], [1.2, 1.2]])
HI_BATCH = np.array([[1.0, 2.0], [0.7, 1.5], [2.0, 0.4]])


def _batched(method, k, hi, **kw):
    """Per element its own coefficients (two args of shape [3]) and upper corner [3, 2]."""
    with tf.GradientTape() as tape:
        tape.watch([k, hi])
        res = bayesquad.cubature(lambda x, a, b: tf.exp(-a * x[..., 0] - b * x[..., 1]),
                                 tf.zeros([2], F64), hi, args=(k[:, 0], k[:, 1]),
                                 method=method, **kw)
        total = tf.reduce_sum(res.value)
    gk, ghi = tape.gradient(total, [k, hi])
    return res.value, res.error, res.status, gk, ghi


XLA_OPTS = {"genz-malik": {"rtol": 1e-10, "max_evals": 20000},
            "gauss-legendre": {"nodes": 20}, "qmc": {"samples": 4096, "seed": 5}}


@pytest.fixture(scope="module")
def xla_results():
    """One compiled function for all three methods (one XLA compile for the module)."""
    @tf.function(jit_compile=True)
    def fn(k, hi):
        return {m: _batched(m, k, hi, **XLA_OPTS[m]) for m in XLA_OPTS}

    k, hi = tf.constant(K_BATCH, F64), tf.constant(HI_BATCH, F64)
    return {m: [np.asarray(t) for t in out] for m, out in fn(k, hi).items()}


def _exact_batched():
    rows = [_exp_box(k0, np.zeros(2), hi0) for k0, hi0 in zip(K_BATCH, HI_BATCH)]
    return (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
            np.array([r[3] for r in rows]))


@pytest.mark.parametrize("method", list(XLA_OPTS))
def test_xla_matches_eager_and_closed_form(xla_results, method):
    value, error, status, gk, ghi = xla_results[method]
    assert value.shape == (3,) and status.dtype == np.int32
    exact, dk, dhi = _exact_batched()
    eager = [np.asarray(t) for t in _batched(method, tf.constant(K_BATCH, F64),
                                              tf.constant(HI_BATCH, F64), **XLA_OPTS[method])]
    if method == "qmc":
        # same seed; XLA's stateless generator may differ in its bits, not its law
        assert np.all(np.abs(value - exact) <= 5 * error)
        assert np.all(np.abs(value - eager[0]) <= 6 * np.maximum(error, eager[1]))
        np.testing.assert_allclose(gk, dk, rtol=0.05)
        return
    np.testing.assert_allclose(value, exact, rtol=1e-9)
    assert np.all(np.abs(value - eager[0]) <= 2 * np.maximum(error, 1e-14 * np.abs(value)))
    np.testing.assert_array_equal(status, eager[2])
    np.testing.assert_allclose(gk, eager[3], rtol=1e-7)
    np.testing.assert_allclose(ghi, eager[4], rtol=1e-7)
    np.testing.assert_allclose(gk, dk, rtol=1e-7)
    np.testing.assert_allclose(ghi, dhi, rtol=1e-7)
    assert np.all(status == CONVERGED)


# ---- float32 --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["genz_gaussian_2d", "genz_corner_peak_3d", "exp_quadrant",
                                  "exp_sum_reversed"])
@pytest.mark.parametrize("method", ["genz-malik", "gauss-legendre"])
def test_float32(name, method):
    p = BY_NAME[name]
    kw = {"nodes": 16} if method == "gauss-legendre" else {}
    res = bayesquad.cubature(p.f, tf.constant(p.lower, F32), tf.constant(p.upper, F32),
                             method=method, **kw)
    assert res.value.dtype == F32 and res.error.dtype == F32
    value, error, status = float(res.value), float(res.error), int(res.status)
    assert np.isfinite(value) and np.isfinite(error)
    if method == "genz-malik":
        assert status == CONVERGED, bayesquad.status_message(status)
    if status == CONVERGED:
        true = abs(value - p.exact)
        assert true <= max(error, 2e-6 * abs(p.exact)), (value, p.exact, error)
        assert true <= 2e-3 * abs(p.exact)


def test_float32_gradient_under_xla():
    @tf.function(jit_compile=True)
    def fn(k):
        with tf.GradientTape() as tape:
            tape.watch(k)
            res = bayesquad.cubature(lambda x, k_: tf.exp(-k_ * tf.reduce_sum(x, -1)),
                                     tf.zeros([2], F32), tf.ones([2], F32), args=(k,))
        return res.value, res.status, tape.gradient(res.value, k)

    value, status, grad = fn(tf.constant(1.5, F32))
    one = -math.expm1(-1.5) / 1.5
    d_one = (math.exp(-1.5) - one) / 1.5
    assert value.dtype == F32 and int(status) == CONVERGED
    assert float(value) == pytest.approx(one**2, rel=1e-5)
    assert float(grad) == pytest.approx(2 * one * d_one, rel=1e-4)


# ---- batching, log space and statuses ------------------------------------------------------

def test_batched_limits_and_args_with_per_element_status():
    lo = np.zeros((4, 2))
    hi = np.array([[1.0, 1.0], [2.0, 0.5], [np.nan, 1.0], [0.3, 3.0]])
    k = tf.constant([1.0, 2.0, 1.0, 0.5], F64)
    res = bayesquad.cubature(lambda x, k_: tf.exp(-k_ * tf.reduce_sum(x, -1)), lo, hi,
                             args=(k,), method="genz-malik", rtol=1e-10)
    assert res.value.shape == (4,)
    status = np.asarray(res.status)
    assert status[2] == int(Status.INVALID_LIMITS) and np.isnan(res.value[2])
    for i in (0, 1, 3):
        total = _exp_box(np.full(2, [1.0, 2.0, 1.0, 0.5][i]), lo[i], hi[i])[0]
        assert status[i] == CONVERGED
        assert float(res.value[i]) == pytest.approx(total, rel=1e-10)


def test_log_space_far_below_underflow():
    """exp(-1000 - |x|^2) over the plane: 1e-434 underflows, its log does not."""
    res = bayesquad.cubature(lambda x: -1000.0 - tf.reduce_sum(x * x, -1),
                             [-np.inf, -np.inf], [np.inf, np.inf], log=True, rtol=1e-7)
    assert int(res.status) == CONVERGED
    assert float(res.value) == pytest.approx(math.log(math.pi) - 1000.0, abs=1e-7)
    assert float(res.error) <= 1e-7


@pytest.mark.parametrize("method", ["genz-malik", "gauss-legendre"])
def test_log_space_gradient_with_minus_infinity_on_part_of_the_box(method):
    """log f = -k |x|^2 on x0 < 0.5, -inf elsewhere (a truncated support): boxes where f
    is -inf throughout must not turn the gradient into NaN. d/dk log I = -E[|x|^2]."""
    k = tf.constant(1.3, F64)

    def log_f(x, k_):
        inside = x[..., 0] < 0.5
        return tf.where(inside, -k_ * tf.reduce_sum(x * x, -1),
                        tf.constant(-np.inf, F64) * tf.ones_like(x[..., 0]))

    with tf.GradientTape() as tape:
        tape.watch(k)
        res = bayesquad.cubature(log_f, [0.0, 0.0], [1.0, 1.0], args=(k,), log=True,
                                 method=method, **({"nodes": 16, "panels": 2}
                                                   if method == "gauss-legendre" else {}))
    grad = float(tape.gradient(res.value, k))
    s, r = math.sqrt(1.3), 1.3
    i0 = math.sqrt(math.pi) / (2 * s) * math.erf(0.5 * s)   # int_0^0.5 exp(-k x^2)
    i1 = math.sqrt(math.pi) / (2 * s) * math.erf(s)          # int_0^1
    m0 = i0 / (2 * r) - 0.5 * math.exp(-r * 0.25) / (2 * r)  # int_0^0.5 x^2 exp(-k x^2)
    m1 = i1 / (2 * r) - math.exp(-r) / (2 * r)
    assert float(res.value) == pytest.approx(math.log(i0 * i1), abs=1e-8)
    assert grad == pytest.approx(-(m0 / i0 + m1 / i1), rel=1e-7)


@pytest.mark.parametrize("method", ["genz-malik", "gauss-legendre", "qmc"])
def test_statuses(method):
    nan_at_corner = lambda x: tf.where(tf.reduce_sum(x, -1) > 1.9,  # noqa: E731
                                       tf.constant(np.nan, F64), tf.ones_like(x[..., 0]))
    res = bayesquad.cubature(nan_at_corner, [0.0, 0.0], [1.0, 1.0], method=method)
    assert int(res.status) == int(Status.NON_FINITE) and np.isinf(res.error)
    reversed_log = bayesquad.cubature(lambda x: tf.zeros_like(x[..., 0]), [0.0, 1.0],
                                      [1.0, 0.0], method=method, log=True)
    assert int(reversed_log.status) == int(Status.INVALID_LIMITS)
    empty = bayesquad.cubature(lambda x: tf.exp(-x[..., 1] ** 2), [np.inf, 0.0],
                               [np.inf, 1.0], method=method)
    assert float(empty.value) == 0.0


def test_budget_exhausted_is_flagged_not_silent():
    p = BY_NAME["genz_discontinuous_2d"]
    res = bayesquad.cubature(p.f, p.lower, p.upper, method="genz-malik", rtol=1e-12,
                             max_evals=17 * 41)
    assert int(res.status) == int(Status.BUDGET_EXHAUSTED)
    assert int(res.n_evals) <= 17 * 41
    assert abs(float(res.value) - p.exact) <= float(res.error)


def test_reference_settings_override_the_rule():
    p = BY_NAME["genz_product_peak_2d"]
    with bayesquad.quadrature.reference_settings(rtol=1e-10):
        res = bayesquad.cubature(p.f, p.lower, p.upper, method="gauss-legendre", nodes=4)
    assert int(res.status) == CONVERGED
    assert float(res.value) == pytest.approx(p.exact, rel=1e-10)


# ---- validation ---------------------------------------------------------------------------

def _g(x):
    return tf.exp(-tf.reduce_sum(x * x, -1))


@pytest.mark.parametrize("kwargs,match", [
    (dict(lower=[0.0], upper=[1.0]), "integrate"),
    (dict(lower=0.0, upper=1.0), "trailing axis"),
    (dict(lower=[0.0, 0.0], upper=[1.0, 1.0, 1.0]), "trailing"),
    (dict(method="cuhre"), "method"),
    (dict(method="gauss-legendre", samples=64), "samples"),
    (dict(method="auto", nodes=8), "nodes"),
    (dict(method="gauss-legendre", nodes=[8, 8, 8]), "nodes"),
    (dict(method="gauss-legendre", nodes=3), "nodes"),
    (dict(method="gauss-legendre", panels=0), "panels"),
    (dict(method="gauss-legendre", nodes=1024, panels=4), "nodes"),
    (dict(method="genz-malik", max_evals=10), "max_evals"),
    (dict(method="qmc", samples=8), "samples"),
    (dict(rtol=-1.0), "rtol"),
    (dict(lower=np.zeros((3, 2)), upper=np.ones((4, 2))), "broadcast"),
])
def test_validation_errors(kwargs, match):
    call = dict(lower=[0.0, 0.0], upper=[1.0, 1.0])
    call.update(kwargs)
    with pytest.raises(ValueError, match=match):
        bayesquad.cubature(_g, call.pop("lower"), call.pop("upper"), **call)


@pytest.mark.parametrize("f,error,match", [
    (lambda x: tf.reduce_sum(x, [0, -1]), ValueError, r"\bf\b"),
    (lambda x: x, ValueError, r"\bf\b"),
    (lambda x: tf.cast(x[..., 0], tf.float32), TypeError, "dtype"),
    ("not callable", TypeError, r"\bf\b"),
])
def test_integrand_checks(f, error, match):
    with pytest.raises(error, match=match):
        bayesquad.cubature(f, [0.0, 0.0], [1.0, 1.0], method="gauss-legendre", nodes=4)


def test_type_errors():
    with pytest.raises(TypeError, match="lower"):
        bayesquad.cubature(_g, tf.constant([0, 0]), [1.0, 1.0])
    with pytest.raises(TypeError, match="args"):
        bayesquad.cubature(_g, [0.0, 0.0], [1.0, 1.0], args=1.0)


def test_public_names():
    assert bayesquad.cubature is bayesquad.quadrature.cubature
    assert "cubature" in bayesquad.quadrature.__all__ and "cubature" in bayesquad.__all__
