"""Random-intercept logistic regression (W3-like) with the random effects integrated out by
adaptive Gauss–Hermite quadrature (`GaussianLatentMarginal`): one integral per group.

Run: ``.venv/bin/python examples/distributions_latent.py`` (~20 s).
"""
import numpy as np
from scipy import special

import bayesquad

try:
    from bayesquad.distributions import GaussianLatentMarginal
except ImportError:  # before the package __init__ exports it
    from bayesquad.distributions._latent import GaussianLatentMarginal

import tensorflow as tf  # noqa: E402  (after bayesquad: quiet import)
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions

# W3's generator: 200 groups of 20, x ~ N(0, 1), y ~ Bernoulli(sigmoid(b0 + b1 x + u_g))
rng = np.random.default_rng(0)
G, n, B0, B1, TAU = 200, 20, -0.5, 1.0, 1.2
group = np.repeat(np.arange(G), n)
x = rng.normal(size=G * n)
y = (rng.random(G * n) < special.expit(B0 + B1 * x + rng.normal(0, TAU, G)[group])
     ).astype(np.int32)
xt = tf.constant(x)


def marginal(b0, b1, tau, **kw):
    # ``u`` arrives per observation (the group's latent gathered by ``group``)
    return GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=b0 + b1 * xt + u), tau,
                                  group, num_groups=G, **kw)


# 1. accuracy versus the number of nodes (adaptive and not), at the truth
theta = [tf.constant(v, tf.float64) for v in (B0, B1, TAU)]
best = marginal(*theta, num_nodes=40).log_prob(y).numpy()
print("nodes  adaptive log-lik    |diff to 40 nodes|   non-adaptive |diff|")
for k in (5, 10, 20, 30):
    a = marginal(*theta, num_nodes=k).log_prob(y).numpy()
    p = marginal(*theta, num_nodes=k, adaptive=False).log_prob(y).numpy()
    print(f"{k:5d}  {a:16.10f}   {abs(a - best):.1e}              {abs(p - best):.1e}")
status = marginal(*theta).quadrature_status(y).numpy()
print("mode search per group:", bayesquad.quadrature.summarize_status(status))


# 2. maximum marginal likelihood over (b0, b1, log tau), XLA-compiled
@tf.function(jit_compile=True)
def nll_and_grad(z):
    with tf.GradientTape() as tape:
        tape.watch(z)
        nll = -marginal(z[0], z[1], tf.exp(z[2])).log_prob(y) / y.size
    return nll, tape.gradient(nll, z)


fit = tfp.optimizer.lbfgs_minimize(nll_and_grad, tf.zeros([3], tf.float64),
                                   max_iterations=200, tolerance=1e-10)
b0, b1, log_tau = fit.position.numpy()
print(f"\nMLE: b0 = {b0:.4f}, b1 = {b1:.4f}, tau = {np.exp(log_tau):.4f} "
      f"(truth {B0}, {B1}, {TAU}); converged={bool(fit.converged)}")

# 3. inside a JointDistribution with priors, 4 chains at once (TFP vectorises the chains)
root = tfd.JointDistributionCoroutineAutoBatched.Root
zero = tf.constant(0.0, tf.float64)


def joint():
    b0 = yield root(tfd.Normal(zero, 2.5, name="b0"))
    b1 = yield root(tfd.Normal(zero, 2.5, name="b1"))
    tau = yield root(tfd.HalfNormal(tf.constant(2.0, tf.float64), name="tau"))
    yield marginal(b0, b1, tau, name="y")


pinned = tfd.JointDistributionCoroutineAutoBatched(joint).experimental_pin(y=y)
chains = [tf.constant(v, tf.float64) for v in ([-0.5, 0.0, 3.0, -6.0], [1.0, 0.5, -4.0, 8.0],
                                                [1.2, 0.3, 5.0, 5.0])]
lp = tf.function(pinned.unnormalized_log_prob, jit_compile=True)(*chains)
print("log posterior (unnormalised) at 4 chain states, incl. extreme ones:",
      np.round(lp.numpy(), 3))
