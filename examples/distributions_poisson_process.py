"""PoissonProcess: fit an inhomogeneous event rate from event times.

Events on [0, 10] arrive with intensity lambda(t) = exp(a + b t + c sin(t)); the
likelihood is sum_i log lambda(t_i) - integral of lambda, the integral by quadrature. We
simulate several realisations by thinning, pad them with NaN into one tensor, and fit
(a, b, c) by L-BFGS on the summed log-likelihood.

Run: .venv/bin/python examples/distributions_poisson_process.py   (~15 s)
"""
import numpy as np

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions import PoissonProcess, pad_events

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402


def log_intensity(t, a, b, c):
    return a + b * t + c * tf.sin(t)


def process(theta):
    return PoissonProcess(log_intensity, 0.0, 10.0,
                          params=dict(a=theta[..., 0], b=theta[..., 1], c=theta[..., 2]))


truth = tf.constant([1.5, 0.1, 0.8], tf.float64)
sim = process(truth)
events = sim.sample(20, seed=(1, 2)).numpy()  # 20 realisations, NaN-padded
counts = np.sum(~np.isnan(events), axis=-1)
print(f"expected count {sim.expected_count().numpy():.2f}; simulated counts: mean "
      f"{counts.mean():.2f}, min {counts.min()}, max {counts.max()}")

# Realisations of different lengths (e.g. from files) are padded the same way:
ragged = [row[~np.isnan(row)] for row in events]
data = tf.constant(pad_events(ragged))


@tf.function(jit_compile=True)
def loss_and_grad(theta):
    with tf.GradientTape() as tape:
        tape.watch(theta)
        loss = -tf.reduce_sum(process(theta).log_prob(data)) / data.shape[0]
    return loss, tape.gradient(loss, theta)


fit = tfp.optimizer.lbfgs_minimize(loss_and_grad, tf.zeros([3], tf.float64))
print("MLE (a, b, c):", np.round(fit.position.numpy(), 3), " truth:", truth.numpy(),
      " converged:", bool(fit.converged))
print("quadrature status at the MLE:", process(fit.position).quadrature_status().numpy())
