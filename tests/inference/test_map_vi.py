"""find_map and fit_vi against closed forms."""
import numpy as np
import pytest
import scipy.optimize as so
import scipy.special as sp

import bayesquad  # noqa: F401
import bq_inference_models as M
import tensorflow as tf
import tensorflow_probability as tfp
from bayesquad.inference import find_map, fit_vi

tfd = tfp.distributions


@pytest.fixture(scope="module")
def map_result():
    return find_map(M.CONJUGATE, M.CONJ_OBS, laplace_draws=200)


def test_map_matches_modes_in_unconstrained_space(map_result):
    exact = M.conjugate_posteriors()
    r = map_result
    assert r.converged, r.message
    # identity bijector: the mode of a normal posterior is its mean, the Laplace variance exact
    np.testing.assert_allclose(r.params["mu"], exact["mu"].mean(), rtol=1e-6)
    # sigmoid bijector: Beta(a, b) density times p(1-p) peaks at p = a / (a + b)
    np.testing.assert_allclose(r.params["p"], exact["p"].mean(), rtol=1e-6)
    # softplus bijector: maximise log Gamma(softplus(u)) + log sigmoid(u) independently
    g = exact["lam"]
    u = so.minimize_scalar(lambda u: -(g.logpdf(np.logaddexp(0, u)) + sp.log_expit(u)),
                           bracket=(0.0, 3.0), tol=1e-12).x
    np.testing.assert_allclose(r.params["lam"], np.logaddexp(0, u), rtol=1e-6)
    names = [n for n, _, _ in r.names]
    i = names.index("mu")
    np.testing.assert_allclose(r.covariance[i, i], exact["mu"].var(), rtol=1e-6)
    assert r.datatree.posterior.sizes["draw"] == 200
    assert r.datatree.attrs["inference"] == "map"


def test_map_robust_on_20000_events():
    y = np.random.default_rng(3).normal(3.0, 0.5, size=20_000)
    model = tfd.JointDistributionNamed(dict(
        mu=tfd.Normal(tf.constant(0.0, tf.float64), 10.0),
        sigma=tfd.HalfNormal(tf.constant(5.0, tf.float64)),
        y=lambda mu, sigma: tfd.Sample(tfd.Normal(mu, sigma), 20_000)))
    r = find_map(model, {"y": y}, jit=False, laplace_draws=0)
    assert r.converged, r.message
    # priors and the Jacobian shift the mode by O(1/N) relative to the MLE
    np.testing.assert_allclose(r.params["mu"], y.mean(), rtol=1e-4)
    np.testing.assert_allclose(r.params["sigma"], y.std(), rtol=1e-3)


def test_vi_meanfield_close_to_exact():
    exact = M.conjugate_posteriors()
    dt = fit_vi(M.CONJUGATE, M.CONJ_OBS, steps=1500, draws=4000, seed=1)
    assert dt.attrs["inference"] == "vi" and dt.attrs["vi_converged"] == 1
    assert dt.vi["elbo"].shape == (1500,)
    assert dt.posterior.sizes == {"chain": 1, "draw": 4000}
    for name, dist in exact.items():
        draws = dt.posterior[name].values.ravel()
        # a Gaussian in the unconstrained space is close, not exact, for Beta/Gamma
        assert abs(draws.mean() - dist.mean()) < 0.1 * dist.std(), name
        assert abs(draws.std() / dist.std() - 1) < 0.1, name


def test_vi_fullrank_runs_and_bad_family_rejected():
    dt = fit_vi(M.CONJUGATE, M.CONJ_OBS, family="fullrank", steps=300, draws=100)
    assert dt.vi["scale"].shape == (3, 3)
    with pytest.raises(ValueError, match="family"):
        fit_vi(M.CONJUGATE, M.CONJ_OBS, family="diag")


@pytest.mark.parametrize("option, value, error", [
    ("laplace_draws", -1, ValueError), ("laplace_draws", 2.5, TypeError),
    ("laplace_draws", True, TypeError), ("num_starts", 0, ValueError),
    ("max_iterations", 0, ValueError), ("tolerance", -1e-8, ValueError),
    ("tolerance", float("nan"), ValueError), ("tolerance", "1e-8", TypeError),
    ("jit", "yes", TypeError),
])
def test_find_map_names_bad_options(option, value, error):
    # issue 10: laplace_draws=-1 gave numpy's "negative dimensions are not allowed"
    with pytest.raises(error, match=option):
        find_map(M.CONJUGATE, M.CONJ_OBS, **{option: value})


def test_nan_padded_realisations_can_be_fitted():
    """Three realisations of a homogeneous process on [0, 2] of different lengths, padded
    with NaN (pad_events): the MAP of log rate a under a flat-ish prior is the closed form
    log(total events / (realisations * length)), shifted by the Normal(0, 10) prior."""
    from bayesquad.distributions import PoissonProcess, pad_events
    rows = [np.array([0.1, 0.5, 1.2]), np.array([0.3]), np.array([0.2, 0.9, 1.1, 1.5, 1.9])]
    events = pad_events(rows)

    def model():
        a = yield tfd.JointDistributionCoroutine.Root(tfd.Normal(
            tf.constant(0.0, tf.float64), 10.0, name="a"))
        yield tfd.Independent(PoissonProcess(
            lambda t, a: a + 0.0 * t, tf.zeros([3], tf.float64), 2.0, params={"a": a[..., None]},
            max_events=events.shape[-1]), reinterpreted_batch_ndims=1, name="t")

    joint = tfd.JointDistributionCoroutine(model)
    r = find_map(joint, {"t": events}, laplace_draws=0)
    assert r.converged, r.message
    # d/da: n - R L e^a - a / 100 = 0 (n = 9 events, R L = 6)
    a = so.brentq(lambda a: 9 - 6 * np.exp(a) - a / 100, -5, 5, xtol=1e-14)
    np.testing.assert_allclose(r.params["a"], a, rtol=1e-6)


def test_infinite_observed_value_is_refused():
    with pytest.raises(ValueError, match="infinite"):
        find_map(M.CONJUGATE, {k: np.where(np.arange(np.size(v)) == 0, np.inf, v)
                               for k, v in M.CONJ_OBS.items()})


def test_graph_value_and_grad_is_the_maps_function_and_none_without_it():
    """The chains' start values reuse the MAP's graph function: its values are the
    unconstrained log density (closed form: the model's log_prob plus the bijectors'
    log-Jacobians) and its gradient, and nothing is traced or cached when no MAP ran."""
    from bayesquad.inference import _cache, _map, _model
    model = tfd.JointDistributionNamed(dict(
        mu=tfd.Normal(tf.constant(0.0, tf.float64), 10.0),
        lam=tfd.Gamma(tf.constant(2.0, tf.float64), 1.0),
        y=lambda mu, lam: tfd.Sample(tfd.Normal(mu, lam), 20)))
    obs = {"y": M.Y}
    layout, obs_np = _model.make_layout(model, obs)
    obs_t = {k: tf.constant(v) for k, v in obs_np.items()}
    z = np.array([[0.3, -0.2], [1.0, 0.5], [-2.0, 1.5]])
    assert _map.graph_value_and_grad(model, layout, obs_t) is None
    assert _cache.lookup(model, _map._value_and_grad_key(layout, jit=False)) is None
    # lookup stores nothing: the MAP below still builds its function
    _map.map_unconstrained(model, layout, obs_np, starts=np.zeros((1, 2)), jit=False)
    got, grad = _map.graph_value_and_grad(model, layout, obs_t)(z)
    names = list(layout.names)

    def closed_form(zz):
        u = zz[:, names.index("lam")]
        lam = np.logaddexp(0.0, u)  # Gamma's default bijector is Softplus
        return (model.log_prob(mu=zz[:, names.index("mu")], lam=lam,
                               y=np.broadcast_to(M.Y, (len(zz), 20))).numpy()
                + sp.log_expit(u))
    np.testing.assert_allclose(got, closed_form(z), rtol=1e-12)
    h = 1e-5  # the gradient against the closed form's central difference
    for j in range(2):
        step = np.zeros_like(z)
        step[:, j] = h
        np.testing.assert_allclose(grad[:, j], (closed_form(z + step) - closed_form(z - step))
                                   / (2 * h), rtol=1e-6, atol=1e-6)
