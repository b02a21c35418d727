"""find_map_batch: many data sets in one compiled program, against closed forms.

Normal-normal: the MAP is sum(y) / (n + 1) and the Laplace variance 1 / (n + 1), exactly.
A homogeneous Poisson process with log-rate ``a ~ Normal(0, 2)``: the mode solves
``n - T e^a - a / 4 = 0`` (scipy's brentq, independent of the code under test) and the
Laplace variance is ``1 / (T e^a + 1/4)``; the data sets have different event counts,
NaN-padded to one length.
"""
import numpy as np
import pytest
import scipy.optimize as so

import bayesquad  # noqa: F401
import tensorflow as tf
import tensorflow_probability as tfp
from bayesquad.distributions import PoissonProcess, pad_events
from bayesquad.inference import find_map_batch

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root
N, K, T = 5, 6, 50.0


def normal_model(dtype=tf.float64, batches=True):
    def model():
        mu = yield Root(tfd.Normal(tf.constant(0.0, dtype), tf.constant(1.0, dtype),
                                   name="mu"))
        # tf.fill takes a scalar only: this model evaluates one point (and one data set)
        # per call, the fallback path
        loc = mu[..., None] * tf.ones([N], dtype) if batches else tf.fill([N], mu)
        yield tfd.Independent(tfd.Normal(loc, tf.constant(1.0, dtype)),
                              reinterpreted_batch_ndims=1, name="y")
    return tfd.JointDistributionCoroutine(model)


def normal_data(k=K):
    return np.random.default_rng(1).normal(0.4, 1.0, size=(k, N))


@pytest.fixture(scope="module")
def normal_result():
    return find_map_batch(normal_model(), {"y": normal_data()}, seed=list(range(K)),
                          laplace_draws=4000)


def test_normal_modes_and_laplace_variances_exact(normal_result):
    r, y = normal_result, normal_data()
    assert r.converged.shape == (K,) and r.converged.all(), r.message
    np.testing.assert_allclose(r.params["mu"], y.sum(1) / (N + 1), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(r.covariance[:, 0, 0], 1 / (N + 1), rtol=1e-5)
    post = r.datatree.posterior["mu"]
    assert post.dims == ("fit", "draw") and post.shape == (K, 4000)
    # Laplace draws: mean within 5 Monte Carlo standard errors of the exact posterior mean
    se = np.sqrt(1 / (N + 1) / 4000)
    assert np.all(np.abs(post.mean("draw").values - y.sum(1) / (N + 1)) < 5 * se)
    assert r.datatree.observed_data["y"].shape == (K, N)


def test_per_data_set_seeds_make_draws_independent_of_the_batch(normal_result):
    y = normal_data()
    alone = find_map_batch(normal_model(), {"y": y[2:4]}, seed=[2, 3], laplace_draws=4000)
    np.testing.assert_allclose(alone.datatree.posterior["mu"].values,
                               normal_result.datatree.posterior["mu"].values[2:4], rtol=1e-6)


def test_model_that_does_not_batch_is_mapped_over_data_sets():
    y = normal_data(3)
    r = find_map_batch(normal_model(batches=False), {"y": y}, laplace_draws=0)
    assert r.converged.all(), r.message
    np.testing.assert_allclose(r.params["mu"], y.sum(1) / (N + 1), rtol=1e-7, atol=1e-9)
    assert r.datatree.children.keys() == {"observed_data"}


def _poisson_model():
    def model():
        a = yield Root(tfd.Normal(tf.constant(0.0, tf.float64), tf.constant(2.0, tf.float64),
                                  name="a"))
        yield PoissonProcess(lambda t, a: a + 0.0 * t, tf.constant(0.0, tf.float64),
                             tf.constant(T, tf.float64), params={"a": a}, max_events=60,
                             name="t")
    return tfd.JointDistributionCoroutine(model)


@pytest.mark.parametrize("jit", [True, False], ids=["xla", "graph"])
def test_padded_poisson_processes_against_brentq(jit):
    rng = np.random.default_rng(4)
    counts = [3, 17, 40, 55]
    events = pad_events([np.sort(rng.uniform(0, T, n)) for n in counts], 60)
    r = find_map_batch(_poisson_model(), {"t": events}, laplace_draws=0, jit=jit)
    assert r.converged.all(), r.message
    for k, n in enumerate(counts):
        mode = so.brentq(lambda a, n=n: n - T * np.exp(a) - a / 4, -10, 10, xtol=1e-14)
        np.testing.assert_allclose(r.params["a"][k], mode, rtol=1e-6)
        np.testing.assert_allclose(r.covariance[k, 0, 0], 1 / (T * np.exp(mode) + 0.25),
                                   rtol=1e-4)


def test_too_few_iterations_say_not_converged():
    events = pad_events([np.linspace(1.0, 49.0, 40), np.linspace(1.0, 49.0, 5)], 60)
    r = find_map_batch(_poisson_model(), {"t": events}, max_iterations=1, laplace_draws=0,
                       start=[-5.0])
    assert not r.converged.any()
    assert all(m.startswith("not converged") for m in r.message)


def test_float32():
    y = normal_data(3).astype(np.float32)
    r = find_map_batch(normal_model(tf.float32), {"y": y}, tolerance=1e-5, laplace_draws=10)
    np.testing.assert_allclose(r.params["mu"], y.sum(1) / (N + 1), rtol=1e-4, atol=1e-5)
    assert r.params["mu"].dtype == np.float32


@pytest.mark.parametrize("observed, seed, match", [
    ({"y": np.zeros((3, N)), "mu": np.zeros(2)}, 0, "leading data-set axis"),
    ({"y": np.zeros((3, N))}, [1, 2], "one per data set"),
    ({}, 0, "non-empty dict"),
])
def test_bad_input_named(observed, seed, match):
    with pytest.raises((ValueError, TypeError), match=match):
        find_map_batch(normal_model(), observed, seed=seed)


def _rosenbrock(x):
    a, b = x[:, 0], x[:, 1]
    f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    return f, np.stack([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], -1)


def test_batched_lbfgs_catalogue():
    from bayesquad.inference._lbfgs_batch import minimize_batch
    starts = np.array([[-1.2, 1.0], [0.0, 0.0], [2.0, 2.0], [-3.0, -4.0]])
    r = minimize_batch(_rosenbrock, starts, tolerance=1e-10)
    assert r.converged.all() and not r.failed.any()
    np.testing.assert_allclose(r.position, 1.0, atol=1e-8)  # minimum at (1, 1)
    # each problem keeps its own history: the same start alone takes as many iterations
    alone = minimize_batch(_rosenbrock, starts[:1], tolerance=1e-10)
    assert alone.iterations[0] == r.iterations[0]
    # condition number 1e6 in 10 dimensions
    scales = np.logspace(0, 6, 10)
    quad = lambda x: (0.5 * np.sum(scales * x * x, -1), scales * x)  # noqa: E731
    q = minimize_batch(quad, np.outer([1.0, 2.0], np.ones(10)), tolerance=1e-8)
    assert q.converged.all() and np.max(np.abs(q.position * scales)) <= 1e-8


def test_batched_lbfgs_honest_about_iterations_and_non_finite_values():
    from bayesquad.inference._lbfgs_batch import minimize_batch
    few = minimize_batch(_rosenbrock, np.array([[-1.2, 1.0]]), max_iterations=3)
    assert not few.converged.any() and not few.failed.any()

    def log_barrier(x):  # -log(x) + x: minimum at 1, NaN for x <= 0 (a step too far)
        with np.errstate(invalid="ignore", divide="ignore"):
            return -np.log(x[:, 0]) + x[:, 0], (1 - 1 / x)
    r = minimize_batch(log_barrier, np.array([[0.05], [30.0]]), tolerance=1e-10)
    assert r.converged.all()
    np.testing.assert_allclose(r.position[:, 0], 1.0, rtol=1e-8)
