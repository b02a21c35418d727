"""The sampler carries log p and its gradient instead of re-evaluating them.

A chunk holds one copy of the log density's graph (in the leapfrog): the start gradient is
evaluated once outside it, and a metric change transforms the carried gradient to the new
coordinates.  Both against direct evaluation of a correlated Gaussian's gradient.
"""
import numpy as np
import pytest
import tensorflow as tf

from bayesquad.inference import _nuts

D = 3
rng = np.random.default_rng(4)
A = rng.standard_normal((D, D))
PRECISION = A @ A.T + D * np.eye(D)


def value_and_grad(z):
    z = np.asarray(z)
    return -0.5 * np.einsum("ci,ij,cj->c", z, PRECISION, z), -z @ PRECISION


def _metric(dense, seed):
    r = np.random.default_rng(seed)
    if dense:
        return np.tril(r.standard_normal((D, D)) * 0.3) + np.diag(r.uniform(0.5, 2.0, D))
    return r.uniform(0.5, 2.0, D)


def _grad_y(state, dense):
    """d log p / dy by the chain rule from a direct evaluation at z(y)."""
    z = _nuts._to_z({k: tf.constant(v) for k, v in state.items()},
                    tf.constant(state["y"]), dense).numpy()
    lp, gz = value_and_grad(z)
    return lp, (gz @ state["scale"] if dense else gz * state["scale"])


@pytest.mark.parametrize("dense", [False, True], ids=["diagonal", "dense"])
def test_start_gradient_matches_direct_evaluation(dense):
    z0 = rng.standard_normal((2, D))
    state = _nuts.initial_state(z0, [0, 0], dense, _metric(dense, 1))
    out = _nuts.with_start_gradients([state], value_and_grad, dense)[0]
    lp, grad = _grad_y(out, dense)
    np.testing.assert_allclose(out["target_lp"], lp, rtol=1e-12)
    np.testing.assert_allclose(out["target_grad"], grad, rtol=1e-10, atol=1e-12)
    # a resumed state keeps what it carries
    resumed = dict(out, step=np.asarray(5, np.int32), target_lp=np.full(2, 7.0))
    assert _nuts.with_start_gradients([resumed], value_and_grad, dense)[0]["target_lp"][0] == 7.0


@pytest.mark.parametrize("dense", [False, True], ids=["diagonal", "dense"])
def test_start_values_already_filled_are_kept_and_old_placeholders_are_not(dense):
    """A fresh state says it has no start values yet (NaN); once filled (e.g. through the
    MAP's function before a checkpoint saves it) they are kept, so a run resumed from that
    checkpoint starts from the same values; the all-zero placeholder of checkpoints from
    earlier versions is evaluated."""
    state = _nuts.initial_state(rng.standard_normal((2, D)), [0, 0], dense, _metric(dense, 2))
    assert np.all(np.isnan(state["target_lp"]))
    calls = []

    def counted(z):
        calls.append(np.shape(z))
        return value_and_grad(z)
    filled = _nuts.with_start_gradients([state], counted, dense)[0]
    assert _nuts.with_start_gradients([filled], counted, dense)[0] is filled
    assert calls == [(2, D)]
    old = dict(state, target_lp=np.zeros(2), target_grad=np.zeros((2, D)))
    again = _nuts.with_start_gradients([old], counted, dense)[0]
    assert calls == [(2, D), (2, D)]
    np.testing.assert_allclose(again["target_lp"], _grad_y(old, dense)[0], rtol=1e-12)


def test_start_gradients_of_several_groups_in_one_call():
    calls = []

    def counted(z):
        calls.append(np.shape(z))
        return value_and_grad(z)
    states = [_nuts.initial_state(rng.standard_normal((n, D)), [0, g], False, _metric(False, g))
              for g, n in enumerate([1, 2, 1])]
    out = _nuts.with_start_gradients(states, counted, False)
    assert calls == [(4, D)]
    for st in out:
        lp, grad = _grad_y(st, False)
        np.testing.assert_allclose(st["target_lp"], lp, rtol=1e-12)
        np.testing.assert_allclose(st["target_grad"], grad, rtol=1e-10, atol=1e-12)


def _window_moments(state, draws, dense):
    """``state`` with a slow window's running moments of ``draws`` (as update pools them)."""
    centred = draws - draws.mean(0)
    m2 = centred.T @ centred if dense else np.sum(centred ** 2, 0)
    return dict(state, w_n=np.asarray(float(len(draws))), w_mean=draws.mean(0), w_m2=m2,
                g_m2=m2 if dense else state["g_m2"])


@pytest.mark.parametrize("dense, adaptation", [(False, "stan"), (True, "stan"),
                                               (True, "low-rank")])
def test_gradient_follows_a_metric_change(dense, adaptation):
    """remetric: the same points z, their gradients in the new metric's coordinates."""
    z = rng.standard_normal((2, D))
    old = _nuts.initial_state(z, [0, 0], dense, _metric(dense, 2))
    old = _nuts.with_start_gradients([old], value_and_grad, dense)[0]
    old = _window_moments(old, rng.standard_normal((40, D)) * [0.5, 2.0, 1.0], dense)
    new = _nuts.remetric(old, dense, adaptation)
    assert np.max(np.abs(new["scale"] - old["scale"])) > 1e-2  # the metric did change
    assert new["w_n"] == 0 and new["da_count"] == 0 and new["h_bar"] == 0
    z_new = np.asarray(_nuts._to_z(new, new["y"], dense))
    np.testing.assert_allclose(z_new, z, rtol=1e-12, atol=1e-12)
    lp, expected = _grad_y(new, dense)
    np.testing.assert_allclose(new["target_lp"], lp, rtol=1e-12)  # unchanged, no evaluation
    np.testing.assert_allclose(new["target_grad"], expected, rtol=1e-10, atol=1e-12)
    # negative control: the old coordinates' gradient is not the new one's
    assert np.max(np.abs(old["target_grad"] - expected)) > 1e-3
    for k, v in old.items():
        assert np.asarray(new[k]).dtype == np.asarray(v).dtype, k
