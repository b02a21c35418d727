"""Target (a model with its data, built once) and Fit (a DataTree that carries its Target).

The conjugate model's unconstrained log density is known in closed form: Normal(mu) with an
identity bijector, Beta(p) through a sigmoid and Gamma(lam) through a softplus, plus the
likelihoods, so ``Target.log_prob`` is checked against scipy, its gradient against central
differences, and a fit made on a Target against one made on (model, observed).
"""
import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st

import arviz as az
import bayesquad
import bq_inference_models as M
import tensorflow as tf
import xarray as xr
from bayesquad.inference import Fit, Target, find_map, sample


@pytest.fixture(scope="module")
def target():
    return Target(M.CONJUGATE, M.CONJ_OBS)


def _closed_form_log_prob(z, names):
    u = dict(zip(names, z))
    mu, p, lam = u["mu"], sp.expit(u["p"]), np.logaddexp(0.0, u["lam"])
    out = st.norm(M.MU0, M.S0).logpdf(mu) + st.norm(mu, M.SIGMA).logpdf(M.Y).sum()
    out += st.beta(M.A0, M.B0).logpdf(p) + st.binom(M.TRIALS, p).logpmf(M.K).sum()
    out += np.log(p * (1 - p))  # d sigmoid / du
    out += st.gamma(M.ALPHA0, scale=1 / M.BETA0).logpdf(lam) + st.poisson(lam).logpmf(
        M.COUNTS).sum()
    out += -np.logaddexp(0.0, -u["lam"])  # log d softplus / du = log sigmoid(u)
    return out


def test_log_prob_closed_form_and_gradient(target):
    assert target.dim == 3 and set(target.names) == {"mu", "p", "lam"}
    z = np.array([[0.3, -0.4, 0.7], [1.1, 0.2, -0.5]])
    lp = target.log_prob(tf.constant(z)).numpy()
    exact = [_closed_form_log_prob(row, target.names) for row in z]
    np.testing.assert_allclose(lp, exact, rtol=1e-10)
    _, grad = target.value_and_grad(tf.constant(z))
    h = 1e-6
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        fd = (target.log_prob(tf.constant(z + step)).numpy()
              - target.log_prob(tf.constant(z - step)).numpy()) / (2 * h)
        np.testing.assert_allclose(grad.numpy()[:, j], fd, rtol=1e-6, atol=1e-6)
    # the same under XLA
    lp_xla, grad_xla = tf.function(target.value_and_grad, jit_compile=True)(tf.constant(z))
    np.testing.assert_allclose(lp_xla.numpy(), exact, rtol=1e-10)
    np.testing.assert_allclose(grad_xla.numpy(), grad.numpy(), rtol=1e-10, atol=1e-12)


def test_constrain_unconstrain_round_trip_and_prior_draws(target):
    z = target.prior_draws(5, seed=3).numpy()
    assert z.shape == (5, 3) and np.all(np.isfinite(z))
    # numpy values: TFP's bijector cache keeps weak references to tensors it has seen
    values = {k: v.numpy() for k, v in target.constrain(tf.constant(z)).items()}
    assert np.all((values["p"] > 0) & (values["p"] < 1))
    np.testing.assert_allclose(target.unconstrain(values).numpy(), z, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def fits(target):
    kw = dict(chains=2, warmup=150, draws=100, seed=11, progress=False)
    return sample(target, **kw), sample(M.CONJUGATE, M.CONJ_OBS, **kw)


def test_a_fit_on_a_target_is_the_fit_on_model_and_data(fits, target):
    on_target, on_model = fits
    # same seed, same draws: the Target is what sample builds from (model, observed)
    for name in target.names:
        np.testing.assert_array_equal(on_target.posterior[name].values,
                                      on_model.posterior[name].values)
    assert on_target.target is target and on_model.target.model is M.CONJUGATE


def test_fit_is_a_datatree_that_keeps_its_target_and_settings(fits):
    fit = fits[0]
    assert isinstance(fit, xr.DataTree) and isinstance(fit, Fit)
    assert az.summary(fit).shape[0] == 3  # ArviZ takes it as any DataTree
    assert fit.settings["chains"] == 2 and fit.settings["inference"] == "nuts"
    assert fit.copy().target is fit.target
    assert bayesquad.diagnose(fit)["quadrature"].status in ("pass", "n/a")
    mapped = find_map(fit.target, laplace_draws=10).datatree
    assert isinstance(mapped, Fit) and mapped.target is fit.target


def test_observed_required_without_a_target():
    with pytest.raises(TypeError, match="observed is required"):
        sample(M.CONJUGATE)
