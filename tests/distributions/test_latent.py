"""GaussianLatentMarginal against an independent numpy/scipy reference per group."""
import numpy as np
import pytest
from scipy import integrate as si
from scipy import special

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions._latent import GaussianLatentMarginal
from bayesquad.quadrature import Status

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions


def make_data(seed=0, groups=200, n=20, b0=-0.5, b1=1.0, tau=1.2, shuffle=True):
    """W3's generator (make_data.py), with the rows shuffled so groups are not contiguous."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(groups), n)
    x = rng.normal(size=groups * n)
    u = rng.normal(0.0, tau, groups)
    y = (rng.random(groups * n) < special.expit(b0 + b1 * x + u[ids])).astype(np.int32)
    if shuffle:
        perm = rng.permutation(groups * n)
        ids, x, y = ids[perm], x[perm], y[perm]
    return ids, x, y


def group_phi(y, x, b0, b1, tau):
    """log p(y_g | v) + log N(v | 0, tau) on a vector of v, numpy."""
    def phi(v):
        e = (b0 + b1 * x)[:, None] + v[None, :]
        ll = np.sum(y[:, None] * special.log_expit(e)
                    + (1 - y[:, None]) * special.log_expit(-e), 0)
        return ll - 0.5 * (v / tau) ** 2 - np.log(tau * np.sqrt(2 * np.pi))
    return phi


def reference(ids, x, y, b0, b1, tau, groups):
    """Per group: mode on a dense grid, then the trapezoid rule on ±40 sd around it
    (spectrally accurate for this smooth, fast-decaying integrand). Returns
    (log-likelihood, Laplace approximation at the exact mode)."""
    out, laplace = np.empty(groups), np.empty(groups)
    grid = np.linspace(-12 * tau - 15, 12 * tau + 15, 6001)
    for g in range(groups):
        m = ids == g
        phi = group_phi(y[m], x[m], b0, b1, tau)
        f = phi(grid)
        k = int(f.argmax())
        c = grid[k]
        eta = b0 + b1 * x[m]
        for _ in range(30):  # polish the mode by Newton with the logistic's derivatives
            p = special.expit(eta + c)
            grad = np.sum(y[m] - p) - c / tau ** 2
            curv = np.sum(p * (1 - p)) + 1 / tau ** 2
            c = c + grad / curv
        p = special.expit(eta + c)
        sd = 1 / np.sqrt(np.sum(p * (1 - p)) + 1 / tau ** 2)
        f0 = phi(np.array([c]))[0]
        v = np.linspace(c - 40 * sd, c + 40 * sd, 4001)
        fv = phi(v)
        top = fv.max()
        out[g] = top + np.log(np.trapezoid(np.exp(fv - top), v))
        laplace[g] = f0 + np.log(np.sqrt(2 * np.pi) * sd)
    return out, laplace


def marginal(ids, x, b0, b1, tau, groups, **kw):
    x = tf.constant(x)
    return GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=b0 + b1 * x + u),
                                  tf.constant(tau, tf.float64), ids, num_groups=groups,
                                  **kw)


@pytest.fixture(scope="module")
def w3():
    ids, x, y = make_data()
    ref, _ = reference(ids, x, y, -0.5, 1.0, 1.2, 200)
    return ids, x, y, ref


def test_reference_cross_check_with_quad(w3):
    ids, x, y, ref = w3
    for g in range(3):
        m = ids == g
        phi = group_phi(y[m], x[m], -0.5, 1.0, 1.2)
        q = si.quad(lambda v: np.exp(phi(np.array([v]))[0]), -30, 30, epsabs=0,
                    epsrel=1e-13, limit=400)[0]
        assert abs(np.log(q) - ref[g]) < 1e-12


# Issue 3 asked for 10 adaptive nodes within 1e-8 of the reference: nAGQ itself cannot do
# that (an independent numpy nAGQ on W3 is 3.9e-5 off at 10 nodes, 1.9e-9 at 20), so the
# test asserts what holds: ~4e-5 at 10 nodes, 1e-8 at the default 20.
@pytest.mark.parametrize("num_nodes,total_tol,group_tol", [
    (10, 1e-4, 5e-6),    # measured 4.6e-5 / 2.0e-6
    (20, 1e-8, 1e-9),    # measured 3.4e-9 / 2.2e-10 (the default)
    (24, 1e-9, 1e-10),   # measured 3.5e-11 / 3.8e-11
])
def test_adaptive_accuracy_vs_num_nodes(w3, num_nodes, total_tol, group_tol):
    ids, x, y, ref = w3
    d = marginal(ids, x, -0.5, 1.0, 1.2, 200, num_nodes=num_nodes)
    groups = d.log_prob_groups(y).numpy()
    assert abs(groups.sum() - ref.sum()) < total_tol
    assert np.max(np.abs(groups - ref)) < group_tol
    assert abs(d.log_prob(y).numpy() - ref.sum()) < total_tol
    assert np.all(d.quadrature_status(y).numpy() == Status.CONVERGED)


def test_non_adaptive_needs_many_nodes(w3):
    ids, x, y, ref = w3
    plain10 = marginal(ids, x, -0.5, 1.0, 1.2, 200, num_nodes=10, adaptive=False)
    plain200 = marginal(ids, x, -0.5, 1.0, 1.2, 200, num_nodes=200, adaptive=False)
    assert abs(plain10.log_prob(y).numpy() - ref.sum()) > 1e-2
    assert abs(plain200.log_prob(y).numpy() - ref.sum()) < 1e-9


def test_extreme_parameters_modes_and_values():
    """The STACK.md trap: tau = 5, all-0 and all-1 groups, large |b|."""
    ids, x, y = make_data(seed=3, groups=40, n=20)
    y = y.copy()
    y[ids < 5] = 0
    y[(ids >= 5) & (ids < 10)] = 1
    for b0, b1, tau in [(3.0, -4.0, 5.0), (-6.0, 8.0, 5.0), (0.0, 0.0, 5.0),
                        (4.5, -1.9, 2.1)]:
        ref, laplace = reference(ids, x, y, b0, b1, tau, 40)
        # one node = the Laplace approximation: pins down the mode and curvature
        one = marginal(ids, x, b0, b1, tau, 40, num_nodes=1, newton_tol=1e-10)
        np.testing.assert_allclose(one.log_prob_groups(y).numpy(), laplace, atol=1e-7)
        # all-0/all-1 groups under a wide prior are the skewed worst case of adaptive
        # quadrature: measured 2.4e-6 at 40 nodes for (b0, b1, tau) = (0, 0, 5)
        d = marginal(ids, x, b0, b1, tau, 40, num_nodes=40)
        np.testing.assert_allclose(d.log_prob_groups(y).numpy(), ref, atol=1e-5)
        assert np.all(d.quadrature_status(y).numpy() == Status.CONVERGED)


@pytest.mark.parametrize("shuffle", [True, False])  # False: sorted blocks, reshape path
def test_gradients_vs_reference_central_difference(central_difference, shuffle):
    ids, x, y = make_data(seed=1, groups=30, n=20, shuffle=shuffle)
    theta = np.array([-0.5, 1.0, 1.2])
    v = [tf.Variable(t, dtype=tf.float64) for t in theta]
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        d = GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=v[0] + v[1] * xt + u),
                                   v[2], ids, num_nodes=30)
        lp = d.log_prob(y)
    grads = np.array([g.numpy() for g in tape.gradient(lp, v)])
    ref = [central_difference(lambda th: reference(ids, x, y, *th, 30)[0].sum(), theta,
                              h=1e-5, index=j) for j in range(3)]
    np.testing.assert_allclose(grads, ref, rtol=1e-6, atol=1e-6)


def test_batched_chains_and_sampling():
    ids, x, y = make_data(seed=2, groups=30, n=10)
    b0 = tf.constant([-0.5, 0.0, 1.0, 2.0], tf.float64)
    b1 = tf.constant([1.0, 0.5, -2.0, 4.0], tf.float64)
    tau = tf.constant([1.2, 0.3, 5.0, 2.0], tf.float64)
    xt = tf.constant(x)
    d = GaussianLatentMarginal(
        lambda u: tfd.Bernoulli(logits=b0[:, None] + b1[:, None] * xt + u), tau, ids)
    assert d.batch_shape == [4] and d.event_shape == [300]
    lp = d.log_prob(y).numpy()
    assert lp.shape == (4,)
    for i in range(4):
        single = marginal(ids, x, b0.numpy()[i], b1.numpy()[i], tau.numpy()[i], 30)
        np.testing.assert_allclose(lp[i], single.log_prob(y).numpy(), rtol=1e-12)
    s = d.sample(400, seed=(5, 6))
    assert s.shape == [400, 4, 300]
    # E[y_i] = E_u[sigmoid(eta_i + u)], by Gauss-Hermite in numpy (independent of the code)
    gx, gw = np.polynomial.hermite.hermgauss(60)
    i = 0
    eta = b0.numpy()[i] + b1.numpy()[i] * x
    expect = (special.expit(eta[:, None] + np.sqrt(2) * tau.numpy()[i] * gx) @ gw
              ) / np.sqrt(np.pi)
    assert abs(s.numpy()[:, i].mean() - expect.mean()) < 0.02
    np.testing.assert_array_equal(s.numpy(), d.sample(400, seed=(5, 6)).numpy())


def test_batch_of_one_in_a_compiled_function():
    # a chain axis of 1 (each parallel chain evaluates alone) once lost its static size in
    # the mode search's while_loop ("enters the loop with shape (1, ...), has (None, ...)")
    ids, x, y = make_data(seed=2, groups=30, n=10)
    xt = tf.constant(x)

    @tf.function(jit_compile=True, autograph=False)
    def log_prob(b0):
        d = GaussianLatentMarginal(
            lambda u: tfd.Bernoulli(logits=b0[:, None] + xt + u),
            tf.constant([1.2], tf.float64), ids)
        return d.log_prob(y)
    lp = log_prob(tf.constant([-0.5], tf.float64)).numpy()
    single = marginal(ids, x, -0.5, 1.0, 1.2, 30)
    np.testing.assert_allclose(lp[0], single.log_prob(y).numpy(), rtol=1e-12)


def test_float32():
    ids, x, y = make_data(seed=4, groups=20, n=20)
    ref, _ = reference(ids, x, y, -0.5, 1.0, 1.2, 20)
    xt = tf.constant(x, tf.float32)
    d = GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=-0.5 + xt + u),
                               tf.constant(1.2, tf.float32), ids)
    lp = d.log_prob(y)
    assert lp.dtype == tf.float32
    np.testing.assert_allclose(lp.numpy(), ref.sum(), rtol=1e-5)


def test_bad_input():
    ids, x, _ = make_data(seed=0, groups=5, n=4)
    cond = lambda u: tfd.Bernoulli(logits=tf.constant(x) + u)  # noqa: E731
    with pytest.raises(ValueError, match="conditional"):
        GaussianLatentMarginal("bernoulli", 1.0, ids)
    with pytest.raises(ValueError, match="group_ids"):
        GaussianLatentMarginal(cond, 1.0, ids.astype(np.float64))
    with pytest.raises(ValueError, match="group_ids"):
        GaussianLatentMarginal(cond, 1.0, ids, num_groups=3)
    with pytest.raises(ValueError, match="num_nodes"):
        GaussianLatentMarginal(cond, 1.0, ids, num_nodes=0)
    with pytest.raises(ValueError, match="batch shape"):
        GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=tf.zeros([7])), 1.0, ids)


@pytest.fixture(scope="module")
def joint_fns(xla_value_and_grad):
    ids, x, y = make_data(seed=7, groups=50, n=20)
    xt = tf.constant(x)
    root = tfd.JointDistributionCoroutineAutoBatched.Root
    zero = tf.constant(0.0, tf.float64)

    def model():
        b0 = yield root(tfd.Normal(zero, 2.5, name="b0"))
        b1 = yield root(tfd.Normal(zero, 2.5, name="b1"))
        tau = yield root(tfd.HalfNormal(tf.constant(2.0, tf.float64), name="tau"))
        yield GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=b0 + b1 * xt + u),
                                     tau, ids, num_groups=50, name="y")

    pinned = tfd.JointDistributionCoroutineAutoBatched(model).experimental_pin(y=y)

    return ids, x, y, xla_value_and_grad(pinned.unnormalized_log_prob)


def test_joint_distribution_xla_four_chains(joint_fns):
    """Chains are vectorised by tf.vectorized_map inside the JD, then XLA-compiled."""
    ids, x, y, lp_and_grad = joint_fns
    b0 = np.array([-0.5, 0.0, 3.0, -6.0])
    b1 = np.array([1.0, 0.5, -4.0, 8.0])
    tau = np.array([1.2, 0.3, 5.0, 5.0])
    lp, grads = lp_and_grad(*[tf.constant(v) for v in (b0, b1, tau)])
    assert lp.shape == [4] and all(g.shape == [4] for g in grads)
    for i in range(4):
        ref, _ = reference(ids, x, y, b0[i], b1[i], tau[i], 50)
        prior = (tfd.Normal(np.float64(0), 2.5).log_prob([b0[i], b1[i]]).numpy().sum()
                 + tfd.HalfNormal(np.float64(2)).log_prob(tau[i]).numpy())
        assert abs(lp.numpy()[i] - (ref.sum() + prior)) < 1e-4 * (1 + tau[i])
    # gradients equal the eager (non-vectorised, non-XLA) gradients
    for i in range(4):
        v = [tf.Variable(t, dtype=tf.float64) for t in (b0[i], b1[i], tau[i])]
        with tf.GradientTape() as tape:
            d = GaussianLatentMarginal(
                lambda u: tfd.Bernoulli(logits=v[0] + v[1] * tf.constant(x) + u), v[2],
                ids, num_groups=50)
            lp_i = (d.log_prob(y) + tfd.Normal(np.float64(0), 2.5).log_prob(v[0])
                    + tfd.Normal(np.float64(0), 2.5).log_prob(v[1])
                    + tfd.HalfNormal(np.float64(2)).log_prob(v[2]))
        eager = [g.numpy() for g in tape.gradient(lp_i, v)]
        np.testing.assert_allclose([g.numpy()[i] for g in grads], eager, rtol=1e-9,
                                   atol=1e-9)


def test_gaussian_conditional_closed_form():
    """y | u ~ Normal(mu + u, s): each group is multivariate normal with covariance
    s² I + τ² 11ᵀ, and adaptive quadrature is exact with a single node."""
    from scipy import stats
    rng = np.random.default_rng(9)
    ids = rng.integers(0, 6, 40)
    mu, s, tau = rng.normal(size=40), 0.7, 1.3
    y = mu + rng.normal(0, tau, 6)[ids] + rng.normal(0, s, 40)
    ref = sum(stats.multivariate_normal.logpdf(
        y[ids == g], mu[ids == g],
        s**2 * np.eye((ids == g).sum()) + tau**2) for g in range(6))
    for nodes in (1, 20):
        d = GaussianLatentMarginal(lambda u: tfd.Normal(tf.constant(mu) + u, s),
                                   tf.constant(tau, tf.float64), ids, num_groups=6,
                                   num_nodes=nodes)
        np.testing.assert_allclose(d.log_prob(y).numpy(), ref, rtol=1e-12)


def test_nan_policy_and_graph_sampling():
    ids = np.repeat(np.arange(5), 4)
    x = np.linspace(-1, 1, 20)
    bad = GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=np.nan + u),
                                 tf.constant(1.0, tf.float64), ids)
    y = np.zeros(20, np.int32)
    assert np.isnan(bad.log_prob(y).numpy())
    assert np.all(bad.quadrature_status(y).numpy() == Status.NON_FINITE)

    @tf.function(jit_compile=True)
    def draw(seed):
        return GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=tf.constant(x) + u),
                                      tf.constant(1.0, tf.float64), ids).sample(3, seed=seed)
    assert draw(tf.constant([1, 2])).shape == [3, 20]
