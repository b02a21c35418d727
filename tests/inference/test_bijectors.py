"""Chosen constraining bijectors (``bijectors=``) against closed forms and exact posteriors."""
import numpy as np
import pytest
from scipy import special, stats

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.inference import _model, find_map, fit_vi, sample

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

import bq_inference_models as M  # noqa: E402

tfd, tfb = tfp.distributions, tfp.bijectors
F64 = tf.float64
Root = tfd.JointDistributionCoroutine.Root
Y = np.array([0.3, -1.2, 0.8, 2.1, -0.4])


def scale_model():
    def model():
        tau = yield Root(tfd.HalfNormal(tf.constant(2.0, F64), name="tau"))
        yield tfd.Sample(tfd.Normal(tf.constant(0.0, F64), tau), 5, name="y")
    return tfd.JointDistributionCoroutine(model)


def test_log_density_with_exp_is_the_closed_form():
    """tau = exp(z): log p(z) = log HalfNormal(e^z) + sum log Normal(y | 0, e^z) + z."""
    model = scale_model()
    layout, obs = _model.make_layout(model, {"y": Y}, bijectors={"tau": tfb.Exp()})
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    z = np.array([[-1.0], [0.2], [1.5]])
    lp = _model.log_prob_fn(model, layout, obs_t)(tf.constant(z)).numpy()
    tau = np.exp(z[:, 0])
    exact = (stats.halfnorm(scale=2.0).logpdf(tau)
             + stats.norm(0.0, tau[:, None]).logpdf(Y).sum(-1) + z[:, 0])
    np.testing.assert_allclose(lp, exact, rtol=1e-12)
    # negative control: the default (Softplus) gives another density at the same z
    default, _ = _model.make_layout(model, {"y": Y})
    lp_default = _model.log_prob_fn(model, default, obs_t)(tf.constant(z)).numpy()
    assert np.max(np.abs(lp_default - exact)) > 0.1
    assert _model.describe_bijectors(layout) == "tau: Exp"


def test_a_later_variable_sees_the_chosen_value():
    """x ~ Uniform(0, a) after a chosen a = exp(z_a): x's default bijector must map onto
    (0, exp(z_a)), and the Jacobian is e^{z_a} · a σ(z_x)(1 - σ(z_x))."""
    def model():
        a = yield Root(tfd.HalfNormal(tf.constant(1.0, F64), name="a"))
        x = yield tfd.Uniform(tf.constant(0.0, F64), a, name="x")
        yield tfd.Normal(x, tf.constant(0.5, F64), name="y")
    jd = tfd.JointDistributionCoroutine(model)
    layout, obs = _model.make_layout(jd, {"y": np.array(0.4)}, bijectors={"a": tfb.Exp()})
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    z = np.array([[0.3, -0.7], [-1.1, 2.0]])
    a_val, x_val = (v.numpy() for v in _model.constrain(jd, layout, obs_t, tf.constant(z)))
    np.testing.assert_allclose(a_val, np.exp(z[:, 0]), rtol=1e-14)
    np.testing.assert_allclose(x_val, np.exp(z[:, 0]) * special.expit(z[:, 1]), rtol=1e-13)
    back = _model.unconstrain(jd, layout, obs_t, {"a": a_val, "x": x_val}).numpy()
    np.testing.assert_allclose(back, z, rtol=1e-10, atol=1e-12)
    lp = _model.log_prob_fn(jd, layout, obs_t)(tf.constant(z)).numpy()
    sig = special.expit(z[:, 1])
    exact = (stats.halfnorm().logpdf(a_val) - np.log(a_val)
             + stats.norm(x_val, 0.5).logpdf(0.4)
             + z[:, 0] + np.log(a_val * sig * (1 - sig)))
    np.testing.assert_allclose(lp, exact, rtol=1e-11)


@pytest.mark.parametrize("bijectors, error, words", [
    ({"nope": tfb.Exp()}, ValueError, "not a variable"),
    ({"y": tfb.Exp()}, ValueError, "observed"),
    ({"tau": "exp"}, TypeError, "tfp.bijectors.Bijector"),
    (["tau"], TypeError, "dict"),
    ({"tau": tfb.Reshape(event_shape_out=[], event_shape_in=[1])}, ValueError, "event rank"),
])
def test_bad_choices_are_named(bijectors, error, words):
    with pytest.raises(error, match=words):
        _model.make_layout(scale_model(), {"y": Y}, bijectors=bijectors)


CHOSEN = {"lam": tfb.Exp(), "p": tfb.Chain([tfb.Sigmoid(), tfb.Scale(tf.constant(2.0, F64))])}


@pytest.fixture(scope="module")
def chosen_run():
    return sample(M.CONJUGATE, M.CONJ_OBS, bijectors=CHOSEN, **M.CONJ_SETTINGS)


def test_sampling_with_chosen_bijectors_gives_the_exact_posterior(chosen_run):
    """JointDistributionNamed (names in sorted order, the model in its own): the exact
    conjugate posteriors are recovered; the choice changes the geometry, not the answer."""
    exact = M.conjugate_posteriors()
    for name, post in exact.items():
        draws = chosen_run.posterior[name].values.ravel()
        mcse = draws.std() / np.sqrt(len(draws) / 4)  # a generous ESS of a quarter
        assert abs(draws.mean() - post.mean()) < 4 * mcse, name
        assert abs(draws.std() / post.std() - 1) < 0.15, name
    assert chosen_run.attrs["bijectors"] == "lam: Exp; p: Chain"


def test_map_and_vi_take_the_choice():
    model = scale_model()
    res = find_map(model, {"y": Y}, bijectors={"tau": tfb.Exp()}, laplace_draws=10)
    # the mode in z = log tau of HalfNormal(2)·Normal likelihood·e^z, by a 1-D search
    grid = np.linspace(-3, 3, 600001)
    tau = np.exp(grid)
    dens = (stats.halfnorm(scale=2.0).logpdf(tau)
            + stats.norm(0.0, tau[:, None]).logpdf(Y).sum(-1) + grid)
    np.testing.assert_allclose(float(res.params["tau"]), tau[np.argmax(dens)], rtol=1e-4)
    vi = fit_vi(model, {"y": Y}, bijectors={"tau": tfb.Exp()}, steps=50, draws=10)
    assert vi.attrs["bijectors"] == "tau: Exp"


def test_autobatched_model_takes_a_chosen_bijector():
    """JointDistributionCoroutineAutoBatched (evaluated without its vectorized_map): the
    funnel with v = 3 z_v, i.e. the prior's scale taken out of the geometry."""
    model = _model.working_model(M.FUNNEL)
    layout, obs = _model.make_layout(model, {"obs": 0.3},
                                     bijectors={"v": tfb.Scale(tf.constant(3.0, F64))})
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    z = np.random.default_rng(3).normal(size=(4, 9))
    lp = _model.log_prob_fn(model, layout, obs_t)(tf.constant(z)).numpy()
    v = 3.0 * z[:, 0]
    exact = (stats.norm(0.0, 3.0).logpdf(v) + np.log(3.0)
             + stats.norm(0.0, np.exp(v / 2)[:, None]).logpdf(z[:, 1:]).sum(-1)
             + stats.norm(0.0, 1.0).logpdf(0.3))
    np.testing.assert_allclose(lp, exact, rtol=1e-12)


def test_gradient_with_a_chosen_bijector_against_a_central_difference():
    """The sampler's value_and_grad through tau = exp(z), against the closed form's
    central difference (and under XLA)."""
    model = scale_model()
    layout, obs = _model.make_layout(model, {"y": Y}, bijectors={"tau": tfb.Exp()})
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    vg = tf.function(_model.value_and_grad_fn(model, layout, obs_t), jit_compile=True)

    def exact(z):
        tau = np.exp(z)
        return (stats.halfnorm(scale=2.0).logpdf(tau) + stats.norm(0.0, tau).logpdf(Y).sum()
                + z)
    for z in (-0.8, 0.4, 1.3):
        _, grad = vg(tf.constant([[z]], F64))
        h = 1e-5
        fd = (exact(z + h) - exact(z - h)) / (2 * h)
        np.testing.assert_allclose(float(grad[0, 0]), fd, rtol=1e-7, atol=1e-9)
