"""make_layout describes a model without sampling its observed variables (first-fit time)."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import bayesquad  # noqa: F401
from bayesquad.inference import _model, _tfp_caches

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

N = 50


class CountingNormal(tfd.Normal):
    """A Normal whose draws are counted: stands for an observed density that is costly to
    sample (inverse CDF of an integral)."""
    draws = 0

    def _sample_n(self, n, seed=None):
        CountingNormal.draws += 1
        return super()._sample_n(n, seed=seed)


def _coroutine(named=True):
    def model():
        mu = yield Root(tfd.Normal(tf.constant(0.0, tf.float64), 1.0, name="mu"))
        sd = yield Root(tfd.HalfNormal(tf.constant(1.0, tf.float64),
                                       **({"name": "sd"} if named else {})))
        yield tfd.Sample(CountingNormal(mu, sd), N, name="y")
    return tfd.JointDistributionCoroutine(model)


def _data():
    return {"y": np.random.default_rng(0).normal(1.0, 2.0, N)}


def _unprimed_layout(model, data, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(_tfp_caches, "prime", lambda *a: False)
        return _model.make_layout(model, data, 0)


@pytest.mark.parametrize("named", [True, False], ids=["named", "default-names"])
def test_layout_without_drawing_the_observed_variable(named, monkeypatch):
    data = _data()
    CountingNormal.draws = 0
    layout, obs = _model.make_layout(_coroutine(named), data, 0)
    assert CountingNormal.draws == 0
    reference, reference_obs = _unprimed_layout(_coroutine(named), data, monkeypatch)
    assert CountingNormal.draws > 0  # negative control: TFP's own path samples y
    assert layout == reference
    np.testing.assert_array_equal(obs["y"], reference_obs["y"])
    assert layout.names == (("mu", "sd") if named else ("mu", "var1"))


def test_primed_model_evaluates_as_before(monkeypatch):
    data = _data()
    primed, plain = _coroutine(), _coroutine()
    layout, obs = _model.make_layout(primed, data, 0)
    _unprimed_layout(plain, data, monkeypatch)
    z = tf.constant([[0.3, -0.2], [1.0, 0.5]], tf.float64)
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    a = _model.log_prob_fn(primed, layout, obs_t)(z)
    b = _model.log_prob_fn(plain, layout, obs_t)(z)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    assert primed.dtype == plain.dtype
    assert primed.event_shape == plain.event_shape


def test_other_flavours_and_bad_names_are_left_to_tfp():
    seq = tfd.JointDistributionSequential([
        tfd.Normal(tf.constant(0.0, tf.float64), 1.0),
        lambda mu: tfd.Sample(tfd.Normal(mu, 1.0), N)])
    assert not _tfp_caches.prime(seq, {"x": np.zeros(N)})
    model = _coroutine()
    assert not _tfp_caches.prime(model, {"not_a_variable": np.zeros(N)})
    assert not hasattr(model, "_cached_static_attributes")
    assert _tfp_caches.prime(model, _data())
    assert not _tfp_caches.prime(model, _data())  # once only


def test_data_that_does_not_convert_is_refused_by_the_usual_check():
    with pytest.raises(ValueError, match="cannot be converted"):
        _model.make_layout(_coroutine(), {"y": np.array(["a"] * N)}, 0)
