"""metric_adaptation="gradient": nutpie's diagonal metric from draws and gradients.

The estimator against a closed form (a Gaussian, where var(draws)/var(gradients) is the
variance squared), a negative control (Stan's estimator on the same few draws is noisier
there), and a full run that must agree with the conjugate posteriors' closed forms.
"""
import numpy as np
import pytest

import arviz as az
import bq_inference_models as M
import tensorflow as tf
from bayesquad.inference import _adaptation, _nuts, sample


def _window(draws, grads):
    state = _nuts.initial_state(np.zeros((1, draws.shape[1])), [0, 0], False)
    state = {k: tf.constant(v) for k, v in state.items()}
    for x, g in zip(draws, grads):
        state = _adaptation._welford(state, tf.constant(x[None]), False, tf.constant(g[None]))
    return state


@pytest.mark.parametrize("n", [10, 200])
def test_gradient_metric_recovers_gaussian_variances(n):
    """x ~ N(0, diag(s^2)), d log p/dx = -x/s^2: sqrt(var x / var g) = s^2 exactly for any
    sample, so the scale is s up to the shrinkage towards 1e-3 with weight 5/(n+5)."""
    s = np.array([0.01, 1.0, 30.0])
    x = np.random.default_rng(0).standard_normal((n, 3)) * s
    g = -x / s ** 2
    state = _window(x, g)
    new = _adaptation.final(state, False, "gradient")
    shrink = 5.0 / (n + 5.0)
    expected = np.sqrt((1 - shrink) * s ** 2 + 1e-3 * shrink)
    np.testing.assert_allclose(new["scale"], expected, rtol=1e-10)
    # negative control: Stan's variance of 10 draws misses by its sampling error
    stan = _adaptation.final(state, False, "stan")["scale"]
    if n == 10:
        assert np.max(np.abs(stan / expected - 1)) > 0.05


def test_flat_direction_keeps_the_draws_variance():
    x = np.random.default_rng(1).standard_normal((50, 2))
    g = np.column_stack([-x[:, 0], np.zeros(50)])  # no information along the second axis
    new = _adaptation.final(_window(x, g), False, "gradient")["scale"]
    assert np.all(np.isfinite(new)) and new[1] > 0.5


def test_gradient_adaptation_agrees_with_closed_forms():
    run = sample(M.CONJUGATE, M.CONJ_OBS, metric_adaptation="gradient", log_likelihood=False,
                 **M.CONJ_SETTINGS)
    summary = az.summary(run, round_to="none")
    for name, dist in M.conjugate_posteriors().items():
        row = summary.loc[name]
        assert abs(row["mean"] - dist.mean()) < 4 * row["mcse_mean"], (name, row)
        assert abs(row["sd"] - dist.std()) < 4 * row["mcse_sd"], (name, row)
    assert run.attrs["metric_adaptation"] == "gradient"


def test_unknown_adaptation_is_refused():
    with pytest.raises(ValueError, match="metric_adaptation"):
        sample(M.CONJUGATE, M.CONJ_OBS, metric_adaptation="nutpie", **M.CONJ_SETTINGS)
