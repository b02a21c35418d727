"""Closed-form log-likelihoods and derivatives for conditionals in canonical GLM form.

`GaussianLatentMarginal` evaluates the user's conditional ``p(y_i | u)`` at every node and,
in its mode search, needs the first two derivatives in ``u``. For a generic conditional
these come from nested gradient tapes through TFP's ``log_prob``. The conditionals users
write most (``tfd.Bernoulli(logits=eta)``, ``tfd.Poisson(log_rate=eta)``) are exponential
families in their natural parameter, where both are closed forms in ``eta``:

    log p = y eta - A(eta) + c(y),   d/du log p = (y - A'(eta)) eta',
    d²/du² log p = -A''(eta) eta'² + (y - A'(eta)) eta''.

Only ``eta(u)``, usually affine, is differentiated by tape. TFP's Bernoulli ``log_prob``
evaluates two softplus functions where ``y eta - softplus(eta)`` needs one: on W3 the
closed form is what brings the log density within reach of a hand-written model. The one
softplus is bayesquad's vectorised one (``bayesquad._elementwise``): XLA computes TF's
``softplus`` one element at a time in float64, and it was most of W3's gradient.

Anything else (a ``probs=`` Bernoulli, a Binomial, a subclass, a Normal) returns ``None``
and the caller keeps the generic path; the closed forms agree with TFP's ``log_prob`` and
with the tapes (tests/distributions/test_canonical.py).
"""
from bayesquad import _elementwise
from bayesquad._tf import tf, tfp

__all__ = ["natural_parameter", "log_prob", "derivatives"]

tfd = tfp.distributions


def natural_parameter(dist):
    """``(kind, eta)`` when ``dist`` is a canonical-form family we know, else ``None``.

    ``type(...) is`` rather than ``isinstance``: a subclass may override ``log_prob``.
    """
    if type(dist) is tfd.Bernoulli and dist.logits is not None:
        return "bernoulli", tf.convert_to_tensor(dist.logits)
    if (type(dist) is tfd.Poisson and dist.log_rate is not None
            and not dist.force_probs_to_zero_outside_support):
        return "poisson", tf.convert_to_tensor(dist.log_rate)
    return None


def log_prob(kind, eta, y):
    """``log p(y | eta)`` of the family ``kind``, elementwise, in ``eta``'s dtype."""
    y = tf.cast(y, eta.dtype)
    if kind == "bernoulli":
        return y * eta - _elementwise.softplus(eta)
    # Poisson: TFP's value off the support is -inf as well
    safe = tf.maximum(y, 0.0)
    lp = tf.math.multiply_no_nan(eta, safe) - tf.exp(eta) - tf.math.lgamma(1.0 + safe)
    return tf.where(tf.equal(y, safe), lp, tf.constant(-float("inf"), eta.dtype))


def derivatives(conditional, u, y):
    """First and second derivative in ``u`` of ``log p(y | u)``, elementwise, or ``None``.

    ``conditional(u)`` must depend on ``u`` elementwise (observation ``i`` on ``u[i]``
    only), as `GaussianLatentMarginal` requires. ``None`` when the conditional is not in a
    known canonical form; the caller then differentiates ``log_prob`` by tape.
    """
    with tf.GradientTape() as outer:
        outer.watch(u)
        with tf.GradientTape() as inner:
            inner.watch(u)
            found = natural_parameter(conditional(u))
            if found is None:
                return None
            kind, eta = found
        d_eta = inner.gradient(eta, u, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    # eta affine in u (the usual linear predictor): d_eta does not depend on u and the
    # tape returns None, i.e. no work at all for the second derivative
    d2_eta = outer.gradient(d_eta, u)
    y = tf.cast(y, eta.dtype)
    mean = tf.sigmoid(eta) if kind == "bernoulli" else tf.exp(eta)
    var = mean * (1.0 - mean) if kind == "bernoulli" else mean
    resid = y - mean
    d1 = resid * d_eta
    d2 = -var * tf.square(d_eta)
    if d2_eta is not None:
        d2 = d2 + resid * d2_eta
    return d1, d2
