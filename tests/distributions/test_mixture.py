"""bayesquad's Mixture: tfd.Mixture's values and gradients from a vectorised log-sum-exp."""
import numpy as np
import pytest
from scipy import stats

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions import Mixture, Normalized

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
RNG = np.random.default_rng(5)


def three_normals(dtype, probs):
    c = lambda v: tf.constant(v, dtype)  # noqa: E731
    cat = tfd.Categorical(probs=c(probs))
    comps = [tfd.Normal(c(-1.0), c(0.5)), tfd.Normal(c(0.5), c(1.0)), tfd.Normal(c(3.0), c(0.3))]
    return cat, comps


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
@pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
def test_log_prob_matches_closed_form_and_tfp(mode, dtype):
    probs = [0.2, 0.5, 0.3]
    x = RNG.normal(0.5, 2.0, 200)
    exact = np.log(0.2 * stats.norm.pdf(x, -1, 0.5) + 0.5 * stats.norm.pdf(x, 0.5, 1.0)
                   + 0.3 * stats.norm.pdf(x, 3.0, 0.3))

    def both(xt):
        cat, comps = three_normals(dtype, probs)
        return Mixture(cat, comps).log_prob(xt), tfd.Mixture(cat, comps).log_prob(xt)

    fn = both if mode == "eager" else tf.function(both, jit_compile=(mode == "xla"))
    ours, theirs = fn(tf.constant(x, dtype))
    tol = 1e-13 if dtype == tf.float64 else 2e-5
    np.testing.assert_allclose(ours.numpy(), exact, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=tol, atol=tol)


def test_batched_weights_and_integral_defined_components_like_w1():
    """Chains on the parameters' leading axis, Normalized components, events on a window."""
    mu = tf.constant([4.0, 5.0, 6.0], tf.float64)
    sigma = tf.constant([0.5, 0.7, 1.0], tf.float64)
    lam = tf.constant([0.3, 0.2, 0.5], tf.float64)
    s = tf.constant([0.2, 0.5, 0.8], tf.float64)
    x = tf.constant(np.append(RNG.uniform(0.0, 10.0, 50), [0.0, 10.0, 11.0]), tf.float64)

    def make(cls):
        peak = Normalized(lambda x, mu, sigma: -0.5 * tf.square((x - mu) / sigma), 0.0, 10.0,
                          params={"mu": mu, "sigma": sigma})
        bkg = Normalized(lambda x, lam: -lam * x, 0.0, 10.0, params={"lam": lam})
        return cls(tfd.Categorical(probs=tf.stack([s, 1.0 - s], -1)), [peak, bkg])

    with tf.GradientTape(persistent=True) as tape:
        tape.watch([mu, sigma, lam, s])
        ours = tf.reduce_sum(make(Mixture).log_prob(x[:-1, None]), 0)
        theirs = tf.reduce_sum(make(tfd.Mixture).log_prob(x[:-1, None]), 0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-13)
    for v in (mu, sigma, lam, s):
        np.testing.assert_allclose(tape.gradient(ours, v).numpy(),
                                   tape.gradient(theirs, v).numpy(), rtol=1e-11)
    # closed form of one chain: truncated normal and truncated exponential on [0, 10]
    xs = x.numpy()[:-1]
    g = stats.truncnorm.pdf(xs, (0 - 4.0) / 0.5, (10 - 4.0) / 0.5, 4.0, 0.5)
    e = 0.3 * np.exp(-0.3 * xs) / -np.expm1(-3.0)
    np.testing.assert_allclose(ours.numpy()[0], np.sum(np.log(0.2 * g + 0.8 * e)), rtol=1e-12)
    outside = make(Mixture).log_prob(x[-1:, None]).numpy()
    assert np.all(outside == -np.inf)


def test_gradient_against_central_difference(central_difference):
    x = tf.constant(RNG.normal(0.0, 2.0, 100))

    def total(p):
        p = tf.constant(p)
        cat = tfd.Categorical(logits=tf.stack([p[0], 0.0 * p[0]]))
        return tf.reduce_sum(Mixture(cat, [tfd.Normal(p[1], 1.0), tfd.Cauchy(p[2], 2.0)])
                             .log_prob(x))

    p0 = np.array([0.3, -0.4, 1.2])
    p = tf.constant(p0)
    with tf.GradientTape() as tape:
        tape.watch(p)
        y = total(p)
    g = tape.gradient(y, p).numpy()
    fd = [central_difference(lambda v: total(v).numpy(), p0, index=i) for i in range(3)]
    np.testing.assert_allclose(g, fd, rtol=1e-7)


def test_everything_but_log_prob_is_tfps():
    cat, comps = three_normals(tf.float64, [0.2, 0.5, 0.3])
    ours, theirs = Mixture(cat, comps), tfd.Mixture(cat, comps)
    assert isinstance(ours, tfd.Mixture)
    seed = tf.constant([1, 2], tf.int32)
    np.testing.assert_array_equal(ours.sample(5, seed=seed).numpy(),
                                  theirs.sample(5, seed=seed).numpy())
    np.testing.assert_allclose(ours.mean().numpy(), theirs.mean().numpy())
    assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
