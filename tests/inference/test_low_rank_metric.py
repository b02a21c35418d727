"""metric_adaptation="low-rank": nutpie's diagonal times a low-rank correction.

The estimate against a Gaussian's known covariance (where draws and gradients determine
it), with negative controls (Stan's diagonal and
dense estimates from the same draws); float32 states; the previous metric kept where a
window gives none; and a sampler run on a correlated
40-dimensional Gaussian whose variances are known, with the diagonal metric "auto"
chooses there as the negative control for efficiency.
"""
import numpy as np
import pytest

import arviz as az
import tensorflow as tf
import tensorflow_probability as tfp
from bayesquad.inference import _adaptation, sample

tfd = tfp.distributions
D = 40


def _factor_covariance(d, seed=0):
    """Scales from e^-2 to e^2 times three directions 50x wider, 10x wider, 20x narrower."""
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(-2.0, 2.0, d))
    u = np.linalg.qr(rng.standard_normal((d, 3)))[0]
    inner = np.eye(d) + u @ np.diag([49.0, 9.0, -0.95]) @ u.T
    return scales[:, None] * inner * scales[None, :]


def _sums(sigma, n, seed=1):
    x = np.random.default_rng(seed).multivariate_normal(np.zeros(len(sigma)), sigma, n)
    g = -np.linalg.solve(sigma, x.T).T  # the gradient of the Gaussian's log density
    xc, gc = x - x.mean(0), g - g.mean(0)
    return x, xc.T @ xc, gc.T @ gc


def _condition(sigma, metric):
    """Condition number of the posterior covariance in the metric's coordinates (1 is
    ideal; NUTS's step count grows with its square root)."""
    inv = np.linalg.inv(np.linalg.cholesky(metric))
    vals = np.linalg.eigvalsh(inv @ sigma @ inv.T)
    return vals.max() / vals.min()


def _estimate(m2x, m2g, n):
    return _adaptation.low_rank_covariance(m2x, m2g, n)


@pytest.mark.parametrize("n", [100, 2000])
def test_low_rank_estimate_recovers_a_gaussian(n):
    sigma = _factor_covariance(D)
    x, m2x, m2g = _sums(sigma, n)
    est = _estimate(m2x, m2g, n)
    np.testing.assert_allclose(est, est.T, rtol=0, atol=1e-12 * np.abs(est).max())
    # the three strong directions are corrected; what is left is within the cutoff's 2x
    # either way (condition <= 4) plus sampling error
    assert _condition(sigma, est) < 5.0
    # negative controls from the same draws: the diagonal leaves the factors (condition
    # in the hundreds); Stan's dense estimate from 100 draws in 40 dimensions is noisy
    sd = x.std(0)
    assert _condition(sigma, np.diag(sd ** 2)) > 100.0
    if n == 100:
        assert _condition(sigma, np.cov(x.T)) > 10.0


def test_no_more_draws_than_dimensions_give_the_diagonal_estimate():
    sigma = _factor_covariance(D)
    _, m2x, m2g = _sums(sigma, D)  # rank D-1 sums of squares: the spans of draws and
    est = _estimate(m2x, m2g, D)  # gradients differ, so only the diagonal is trusted
    diagonal = np.sqrt(np.diag(m2x) / np.diag(m2g))
    np.testing.assert_allclose(est, np.diag(diagonal), rtol=1e-12, atol=0)
    # one draw more, and the low-rank correction is there (off-diagonal entries)
    _, m2x, m2g = _sums(sigma, D + 1)
    est = _estimate(m2x, m2g, D + 1)
    assert np.max(np.abs(est - np.diag(np.diag(est)))) > 0.1 * np.max(np.diag(est))


def test_a_coordinate_without_gradient_information_keeps_the_draws_variance():
    x = np.random.default_rng(2).standard_normal((200, 3)) * [1.0, 2.0, 3.0]
    g = np.column_stack([-x[:, 0], -x[:, 1] / 4.0, np.zeros(200)])
    xc, gc = x - x.mean(0), g - g.mean(0)
    est = _estimate(xc.T @ xc, gc.T @ gc, 200)
    assert np.all(np.isfinite(est))
    np.testing.assert_allclose(np.diag(est), [1.0, 4.0, np.var(x[:, 2], ddof=1)], rtol=0.02)


@pytest.mark.parametrize("adaptation", ["stan", "low-rank"])
def test_window_metric_of_a_float32_state_is_float32_and_agrees(adaptation):
    """final() computes in float64 and returns the state's dtype."""
    from bayesquad.inference import _nuts
    sigma = _factor_covariance(12)
    x, m2x, m2g = _sums(sigma, 50)
    states = {}
    for dtype in (np.float32, np.float64):
        st = _nuts.initial_state(np.zeros((1, 12), dtype), [0, 0], True)
        st = dict(st, w_n=np.asarray(50.0, dtype), w_mean=x.mean(0).astype(dtype),
                  w_m2=m2x.astype(dtype), g_m2=m2g.astype(dtype))
        states[dtype] = _adaptation.final(st, True, adaptation)
        assert all(np.asarray(v).dtype == np.asarray(st[k]).dtype for k, v in states[dtype].items())
    a, b = states[np.float32]["scale"], states[np.float64]["scale"]
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * np.abs(b).max())


@pytest.mark.parametrize("adaptation", ["stan", "low-rank"])
def test_a_window_without_a_usable_estimate_keeps_the_previous_metric(adaptation):
    """Draws with infinities give no metric: the previous one stays, never NaN."""
    from bayesquad.inference import _nuts
    previous = np.diag([0.5, 2.0, 1.0])
    st = _nuts.initial_state(np.zeros((1, 3)), [0, 0], True, previous)
    m2 = np.full((3, 3), np.inf)
    new = _adaptation.final(dict(st, w_n=np.asarray(40.0), w_m2=m2, g_m2=m2), True, adaptation)
    np.testing.assert_array_equal(new["scale"], previous)
    # negative control: finite moments do change it
    new = _adaptation.final(dict(st, w_n=np.asarray(40.0), w_m2=np.eye(3) * 39.0,
                                 g_m2=np.eye(3) * 39.0), True, adaptation)
    assert np.max(np.abs(new["scale"] - previous)) > 0.1


@pytest.fixture(scope="module")
def correlated_gaussian():
    sigma = _factor_covariance(D)
    model = tfd.JointDistributionNamed(dict(
        x=tfd.MultivariateNormalTriL(tf.zeros(D, tf.float64),
                                     tf.constant(np.linalg.cholesky(sigma))),
        y=lambda x: tfd.Normal(tf.constant(0.0, tf.float64), 1.0)))
    return model, {"y": np.array(0.0)}, sigma


def test_low_rank_sampler_recovers_the_variances_in_far_fewer_steps(correlated_gaussian):
    model, obs, sigma = correlated_gaussian
    runs = {a: sample(model, obs, chains=2, warmup=500, draws=500, seed=3, progress=False,
                      log_likelihood=False, metric_adaptation=a)
            for a in ("low-rank", "stan")}
    low = runs["low-rank"]
    assert low.attrs["dense_mass"] == 1 and runs["stan"].attrs["dense_mass"] == 0
    x = low.posterior["x"].values.reshape(-1, D)
    # variances within 5 standard errors: se of a Gaussian's variance estimate is
    # var * sqrt(2 / ESS) with the ESS of x**2 (the mean is 0), which autocorrelates more
    # than x; the ESS of x understates it (|z| up to 5.4 over seeds 3-7, against 2.4-2.9)
    squares = (low.posterior["x"] ** 2).to_dataset(name="x2")
    ess = az.ess(squares, method="bulk")["x2"].values
    z = (x.var(0) / np.diag(sigma) - 1.0) / np.sqrt(2.0 / ess)
    assert np.max(np.abs(z)) < 5.0, z
    assert int(low.sample_stats["diverging"].values.sum()) == 0
    # negative control: the diagonal metric needs several times the leapfrog steps
    steps = {a: float(r.sample_stats["n_steps"].values.mean()) for a, r in runs.items()}
    assert steps["stan"] > 2.5 * steps["low-rank"], steps


def test_low_rank_refuses_a_diagonal_metric(correlated_gaussian):
    model, obs, _ = correlated_gaussian
    with pytest.raises(ValueError, match="dense_mass"):
        sample(model, obs, metric_adaptation="low-rank", dense_mass=False, warmup=10,
               draws=10, progress=False)


def test_low_rank_with_chains_in_lockstep(correlated_gaussian):
    # TFP's kernel (chain_method="vectorized") pools every chain's draws and gradients
    model, obs, sigma = correlated_gaussian
    run = sample(model, obs, chains=2, warmup=300, draws=200, seed=4, progress=False,
                 log_likelihood=False, metric_adaptation="low-rank",
                 chain_method="vectorized")
    assert run.attrs["kernel"] == "tfp" and run.attrs["metric_adaptation"] == "low-rank"
    x = run.posterior["x"].values.reshape(-1, D)
    assert np.all(np.isfinite(x))
    # loose: 400 draws; the 3 wide directions carry most of the variance
    assert 0.5 < np.sum(x.var(0)) / np.trace(sigma) < 2.0
