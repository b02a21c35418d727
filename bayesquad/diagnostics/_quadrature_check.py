"""The quadrature check: is the posterior computed with integrals that were accurate enough?

At a subsample of posterior draws, the model's log density is evaluated twice: as in the
fit (each integral with its own method and tolerance) and inside
``bayesquad.quadrature.reference_settings`` (every integral adaptive at a much tighter
tolerance and larger budget).  The largest absolute change is the check's value: a change
well below the posterior's scale (0.01 in log density) cannot move the posterior.  The
integrals' own status codes, where the model's distributions expose
``quadrature_status()``, are reported too.
"""
import inspect

import numpy as np

from bayesquad._tf import tf
from bayesquad.diagnostics._verdict import Check
from bayesquad.inference import _model
from bayesquad.quadrature import reference_settings

__all__ = ["quadrature_check"]


def _takes_argument(method):
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in params)


def _status_tensors(model, layout, obs, z):
    """Flat list of int32 status tensors of every distribution that reports one."""
    values = dict(zip(layout.names, tf.nest.flatten(_model.constrain(model, layout, obs, z))))
    values.update(obs)
    dists, _ = model.sample_distributions(seed=(0, 0), **values)
    by_name = _model._by_name(model, dists)  # pylint: disable=protected-access
    out = []
    for name, dist in by_name.items():
        inner = dist
        while True:
            fn = getattr(inner, "quadrature_status", None)
            if fn is not None or not hasattr(inner, "distribution"):
                break
            inner = inner.distribution
        if fn is None:
            continue
        # some distributions' integrals depend on the value (quadrature_status(x))
        status = fn(values[name]) if _takes_argument(fn) else fn()
        out.append(tf.reshape(tf.cast(status, tf.int32), [-1]))  # counts only: order is moot
    return out


def _evaluate(model, layout, obs_t, z):
    """Log densities at the rows of ``z`` and all integral statuses (flat), traced now."""
    def flat_statuses(zz):
        return tf.concat([tf.zeros([0], tf.int32)] + _status_tensors(model, layout, obs_t, zz), 0)

    @tf.function(autograph=False)
    def run(zz, obs):
        lp = _model.log_prob_fn(model, layout, obs)(zz)
        if layout.batched:  # one call for all draws: distributions get a batch of draws
            return lp, flat_statuses(zz)
        st = tf.map_fn(flat_statuses, zz, fn_output_signature=tf.int32)
        return lp, tf.reshape(st, [-1])
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # a fresh trace per call is the point here, not a mistake
    try:
        lp, st = run(tf.constant(z), obs_t)
    finally:
        logger.setLevel(level)
    return lp.numpy(), st.numpy()


def _subsample(datatree, layout, draws, seed):
    post = datatree.posterior
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    rng = np.random.default_rng(seed)
    flat = np.sort(rng.choice(n_chain * n_draw, size=min(draws, n_chain * n_draw),
                              replace=False))
    chains, idx = np.divmod(flat, n_draw)
    values = {n: post[n].values[chains, idx] for n in layout.names}
    return values, list(zip(chains.tolist(), post["draw"].values[idx].tolist()))


def quadrature_check(datatree, model, observed, *, draws=20, tolerance=0.01, rtol=1e-12,
                     max_evals_factor=8, seed=0):
    """Run the check; return a :class:`Check` named ``"quadrature"``.

    Parameters
    ----------
    datatree : xarray.DataTree
        With a ``posterior`` group named as the model's variables.
    model : tfp.distributions.JointDistribution
    observed : dict
    draws : int
        Posterior draws re-evaluated (chosen at random without replacement, seeded).
    tolerance : float
        Largest allowed change of the log density.
    rtol, max_evals_factor : float
        The reference settings.

    Notes
    -----
    The check is as good as the reference: a reference integral that itself did not
    converge makes it inconclusive (reported, ``passed=None`` unless the change already
    exceeds the tolerance).  It probes the draws, not the whole parameter space: integrals
    that fail only in regions the posterior does not visit are not flagged, which is
    harmless for the posterior but not for warm-up (see the statuses).
    """
    model = _model.working_model(model)
    layout, obs = _model.make_layout(model, observed, seed)
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    missing = [n for n in layout.names if n not in datatree.posterior]
    if missing:
        raise ValueError(f"the DataTree's posterior lacks {missing}: pass the model that "
                         f"produced it")
    values, where = _subsample(datatree, layout, int(draws), seed)
    z = _model.unconstrain(model, layout, obs_t, values).numpy()
    lp, status = _evaluate(model, layout, obs_t, z)
    try:
        with reference_settings(rtol=rtol, max_evals_factor=max_evals_factor):
            lp_ref, status_ref = _evaluate(model, layout, obs_t, z)
    except (ValueError, TypeError, tf.errors.OpError) as err:
        return Check("quadrature", float("nan"), float(tolerance), None,
                     f"inconclusive: the reference evaluation failed ({type(err).__name__}: "
                     f"{err})")
    both_inf = np.isneginf(lp) & np.isneginf(lp_ref)
    delta = np.where(both_inf, 0.0, np.abs(lp_ref - lp))
    delta = np.where(np.isnan(delta), np.inf, delta)
    worst = int(np.argmax(delta))
    value = float(delta[worst])
    bad_run = int(np.count_nonzero(status))
    bad_ref = int(np.count_nonzero(status_ref))
    n_int = int(status.size)
    parts = [f"largest |change| of the log density {value:.3g} over {len(delta)} draws "
             f"(at chain {where[worst][0]}, draw {where[worst][1]}) with every integral at "
             f"rtol={rtol:g}"]
    passed = value <= tolerance and bad_run == 0
    if n_int:
        parts.append(f"{bad_run} of {n_int} integrals did not converge in the run"
                     + (f" (status codes {sorted(set(status[status != 0].tolist()))})"
                        if bad_run else ""))
    if value > tolerance:
        parts.append("integrals are too inaccurate: raise nodes/panels or use an adaptive "
                     "method")
    if bad_ref and passed:
        passed = None
        parts.append(f"{bad_ref} reference integrals did not converge: inconclusive")
    return Check("quadrature", value, float(tolerance), passed, "; ".join(parts))
