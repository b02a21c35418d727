"""Gaussian variational inference in the unconstrained space, one XLA-compiled loop."""
import numpy as np
import xarray as xr

from bayesquad._tf import tf, tfp
from bayesquad.inference import _datatree, _derived, _map, _model
from bayesquad.inference._fit import RUN_ID_ATTR, Fit, new_run_id
from bayesquad.inference._heap import with_heap_frozen
from bayesquad.inference._target import as_target
from bayesquad.inference._cache import cached

__all__ = ["fit_vi"]

_LOG_2PI = float(np.log(2.0 * np.pi))


def _softplus_inverse(x):
    return x + np.log(-np.expm1(-x))


def _scale_tril(raw, family):
    if family == "meanfield":
        return tf.nn.softplus(raw)
    lower = tf.linalg.band_part(raw, -1, 0)
    return tf.linalg.set_diag(lower, tf.nn.softplus(tf.linalg.diag_part(raw)))


def _apply(loc, scale, eps, family):
    if family == "meanfield":
        return loc + scale * eps
    return loc + tf.linalg.matvec(scale, eps)


def _log_det(scale, family):
    diag = scale if family == "meanfield" else tf.linalg.diag_part(scale)
    return tf.reduce_sum(tf.math.log(diag))


def _make_fit(log_prob, family, steps, samples, learning_rate, dim):
    """``fit(loc, raw, seed) -> (loc, raw, elbo[steps])``: Adam on the reparameterised ELBO."""
    b1, b2, adam_eps = 0.9, 0.999, 1e-8

    def neg_elbo(loc, raw, eps):
        scale = _scale_tril(raw, family)
        z = _apply(loc, scale, eps, family)
        entropy = _log_det(scale, family) + 0.5 * dim * (1.0 + _LOG_2PI)
        return -(tf.reduce_mean(log_prob(z)) + entropy)

    def fit(loc, raw, seed):
        dtype = loc.dtype
        lr = tf.constant(learning_rate, dtype)

        def body(i, params, m, v, trace):
            eps = tf.random.stateless_normal(
                [samples, dim], seed=tf.random.experimental.stateless_fold_in(seed, i),
                dtype=dtype)
            loss, grads = tfp.math.value_and_gradient(lambda a, b: neg_elbo(a, b, eps), params)
            # a non-finite draw (e.g. overflow far in a tail) must not poison the parameters
            grads = [tf.where(tf.math.is_finite(g), g, tf.zeros_like(g)) for g in grads]
            t = tf.cast(i + 1, dtype)
            m = [b1 * mi + (1 - b1) * g for mi, g in zip(m, grads)]
            v = [b2 * vi + (1 - b2) * g * g for vi, g in zip(v, grads)]
            params = [p - lr * (mi / (1 - b1 ** t)) / (tf.sqrt(vi / (1 - b2 ** t)) + adam_eps)
                      for p, mi, vi in zip(params, m, v)]
            return i + 1, params, m, v, trace.write(i, -loss)

        zeros = [tf.zeros_like(loc), tf.zeros_like(raw)]
        _, params, _, _, trace = tf.while_loop(
            lambda i, *_: i < steps, body,
            (tf.constant(0), [loc, raw], zeros, zeros, tf.TensorArray(dtype, size=steps)))
        return params[0], params[1], trace.stack()
    return fit


@with_heap_frozen
def fit_vi(model, observed=None, *, family="meanfield", steps=2000, samples=8, learning_rate=0.02,
           draws=1000, seed=0, tolerance=1e-3, init="map", jit=True, derived=None,
           bijectors=None):
    """Fit a Gaussian approximation in the unconstrained space by maximising the ELBO.

    Parameters
    ----------
    model : tfp.distributions.JointDistribution or Target
        A :class:`Target` (the model with its data, built once) is used as it is.
    observed : dict, optional
        Data by variable name; omitted when ``model`` is a Target.
    family : {"meanfield", "fullrank"}
        Diagonal or full-covariance Gaussian (before the constraining bijectors).
    steps : int
        Adam steps (all run; convergence is reported, not used to stop).
    samples : int
        Monte Carlo draws per ELBO gradient.
    learning_rate : float
    draws : int
        Draws of the fitted approximation stored in the ``posterior`` group (one chain).
    seed : int
    tolerance : float
        Converged when the mean ELBO of the last window of ``max(50, steps // 10)`` steps
        differs from the window before by less than ``tolerance`` relative, or by less than
        twice the Monte Carlo standard error of that difference (no detectable trend).
    init : {"map", "prior"}
        ``"map"`` starts at the MAP point with the Laplace scales (clipped to <= 1);
        ``"prior"`` at the origin of the unconstrained space with scales 0.1.
    jit : bool
    derived : callable, optional
        Functions of the parameters recorded with the draws, as in
        :func:`bayesquad.inference.sample`.
    bijectors : dict, optional
        ``{name: tfb.Bijector}`` replacing default constraining bijectors, as in
        :func:`bayesquad.inference.sample`: the Gaussian approximation lives in the
        space they define.

    Returns
    -------
    Fit
        An ``xarray.DataTree`` that also carries its :class:`Target`: ``posterior`` (1 chain
        x ``draws``), ``observed_data``, ``vi`` (``elbo`` per step,
        ``loc`` and ``scale`` of the approximation in the unconstrained space), attrs with
        ``vi_converged`` and ``vi_relative_change``.

    Notes
    -----
    A Gaussian in the unconstrained space cannot represent multimodal or strongly skewed
    posteriors, and meanfield underestimates posterior variances when parameters are
    correlated; a converged ELBO does not mean an accurate posterior.  Compare with ``sample``
    when it matters.
    """
    if family not in ("meanfield", "fullrank"):
        raise ValueError(f"family must be 'meanfield' or 'fullrank', got {family!r}")
    for name, value in (("steps", steps), ("samples", samples), ("draws", draws)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if init not in ("map", "prior"):
        raise ValueError(f"init must be 'map' or 'prior', got {init!r}")
    target = as_target(model, observed, bijectors=bijectors, seed=seed)
    model, layout, obs = target.working_model, target.layout, target.observed
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    dim = sum(layout.sizes)
    np_dtype = layout.dtype.as_numpy_dtype
    sd = np.full(dim, 0.1)
    loc = np.zeros(dim)
    if init == "map":
        starts = _map._starts(model, layout, obs, 4, seed)  # pylint: disable=protected-access
        loc, _, _, _, _, cov, _ = _map.map_unconstrained(model, layout, obs, starts=starts,
                                                         jit=False)
        if np.all(np.isfinite(cov)):
            sd = np.clip(np.sqrt(np.diag(cov)), 1e-6, 1.0)
    raw = _softplus_inverse(sd) if family == "meanfield" else np.diag(_softplus_inverse(sd))
    def build():
        def run(loc, raw, seed, obs):
            log_prob = _model.log_prob_fn(model, layout, obs)
            return _make_fit(log_prob, family, int(steps), int(samples), float(learning_rate),
                             dim)(loc, raw, seed)
        return tf.function(run, jit_compile=bool(jit), autograph=False)
    fit = cached(model, ("vi", layout, family, int(steps), int(samples), float(learning_rate),
                         bool(jit)), build)
    seed_t = tf.constant([int(seed) & 0x7FFFFFFF, 17], tf.int32)
    loc_t, raw_t, elbo = fit(tf.constant(loc, layout.dtype), tf.constant(raw, layout.dtype),
                             seed_t, obs_t)
    scale = _scale_tril(raw_t, family)
    eps = tf.random.stateless_normal([int(draws), dim], seed=[int(seed) & 0x7FFFFFFF, 23],
                                     dtype=layout.dtype)
    zs = _apply(loc_t, scale, eps, family).numpy().astype(np_dtype)
    posterior = _datatree.constrain_draws(model, layout, obs, zs[None])
    posterior = _derived.add_derived(posterior, derived)
    elbo = elbo.numpy()
    window = max(50, int(steps) // 10)
    if len(elbo) >= 2 * window:
        last_w, prev_w = elbo[-window:], elbo[-2 * window:-window]
        change = abs(np.mean(last_w) - np.mean(prev_w))
        rel = float(change / max(abs(np.mean(last_w)), 1e-12))
        # "no trend detectable through the Monte Carlo noise" also counts: an ELBO near 0
        # makes the relative change meaningless
        noise = 2.0 * np.sqrt((np.var(last_w) + np.var(prev_w)) / window)
        converged = bool(np.isfinite(rel) and (rel < tolerance or change < noise))
    else:
        rel, converged = float("nan"), False
    vi = xr.Dataset({"elbo": (("step",), elbo), "loc": (("param",), loc_t.numpy()),
                     "scale": ((("param",) if family == "meanfield" else ("param", "param_bis")),
                               scale.numpy())})
    attrs = {_derived.DERIVED_ATTR: _derived.derived_names(posterior, layout.names),
             "inference": "vi", "family": family, "steps": int(steps), "samples": int(samples),
             "learning_rate": float(learning_rate), "seed": int(seed),
             "vi_converged": int(converged), "vi_relative_change": rel,
             "vi_tolerance": float(tolerance), "final_elbo": float(np.mean(elbo[-window:])),
             "bijectors": _model.describe_bijectors(layout),
             RUN_ID_ATTR: new_run_id()}
    tree = _datatree.build(observed=obs, posterior=posterior, extra={"vi": vi},
                           attrs=attrs)
    return Fit.wrap(tree, target, {"inference": "vi", "family": family, "steps": int(steps),
                                   "samples": int(samples), "seed": int(seed)})
