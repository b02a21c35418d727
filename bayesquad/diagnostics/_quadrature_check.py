"""The quadrature check: is the posterior computed with integrals that were accurate enough?

At a subsample of posterior draws, the model's log density is evaluated twice: as in the
fit (each integral with its own method and tolerance) and inside
``bayesquad.quadrature.reference_settings`` (every integral adaptive at a much tighter
tolerance and larger budget).  The largest absolute change is the check's value: a change
well below the posterior's scale (0.01 in log density) cannot move the posterior.  The
integrals' own status codes, where the model's distributions expose
``quadrature_status()``, are reported too.
"""
import numpy as np

from bayesquad._tf import tf
from bayesquad.diagnostics._verdict import Check
from bayesquad.distributions import plans as _plans
from bayesquad.inference import Target, plans_from_attrs
from bayesquad.quadrature import Status, reference_settings

__all__ = ["QUADRATURE", "quadrature", "quadrature_check", "quadrature_result"]


# Observed scalars (≈ integrals) evaluated at once.  Under the reference settings an
# adaptive integral holds ~0.2 MB of intermediates, so 4,096 of them stay near 1 GB; a
# single draw larger than this is still evaluated whole (one draw per chunk).
_CHUNK_OBSERVATIONS = 4096


def _chunk_size(n_draws, target):
    return int(min(n_draws, max(1, _CHUNK_OBSERVATIONS // target.num_observations())))


def _evaluate(target, z, chunk):
    """Log densities at the rows of ``z`` and all integral statuses (flat).

    The rows are evaluated ``chunk`` at a time (bounded memory); one function is traced
    per call and reused for every chunk, the last one padded to the same size.
    """
    @tf.function(autograph=False)
    def run(zz):
        lp = target.log_prob(zz)
        # per draw, so the padding rows' statuses can be dropped
        st = tf.map_fn(target.quadrature_statuses, zz, fn_output_signature=tf.int32)
        return lp, st
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # a fresh trace per call is the point here, not a mistake
    lps, sts = [], []
    try:
        for start in range(0, len(z), chunk):
            rows = z[start:start + chunk]
            n = len(rows)
            if n < chunk:  # same shape as the other chunks: no retrace
                rows = np.concatenate([rows, np.repeat(rows[-1:], chunk - n, axis=0)])
            lp, st = run(tf.constant(rows))
            lps.append(lp.numpy()[:n])
            sts.append(st.numpy()[:n].ravel())
    finally:
        logger.setLevel(level)
    return np.concatenate(lps), np.concatenate(sts)


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
                     max_evals_factor=8, seed=0, chunk_draws=None):
    """Run the check; return a :class:`Check` named ``"quadrature"`` (see
    :func:`quadrature_result` for its ``details``).

    Parameters
    ----------
    datatree : xarray.DataTree
        With a ``posterior`` group named as the model's variables.
    model : tfp.distributions.JointDistribution or bayesquad.inference.Target
        A Target (e.g. a Fit's) is used as built, with its data and bijectors.
    observed : dict or None
        The data; ignored (may be None) when ``model`` is a Target.
    draws : int
        Posterior draws re-evaluated (chosen at random without replacement, seeded).
    tolerance : float
        Largest allowed change of the log density.
    rtol, max_evals_factor : float
        The reference settings.
    seed : int
        Seeds the choice of draws.
    chunk_draws : int, optional
        Draws evaluated at once; default sized so that draws × observed scalars per chunk
        stay <= 4,096 (at least one draw), which bounds the reference evaluation's memory.

    Notes
    -----
    Integrals are reached through ``bayesquad.integrate``, whose calls switch to the
    reference method inside ``reference_settings``; bayesquad's distributions that
    approximate beyond it (``GaussianLatentMarginal``'s Gauss-Hermite rule,
    ``Convolved``'s window) switch to reference evaluation themselves.  A user-written
    distribution with its own fixed rule is not reached, and the check cannot always tell:
    when every density comes back bit-identical its message says that this is either an
    adaptive rule already at the reference tolerance or an unreached integral.
    The check is as good as the reference: a reference integral that itself did not
    converge makes it inconclusive (reported, ``passed=None`` unless the change already
    exceeds the tolerance).  It probes the draws, not the whole parameter space: integrals
    that fail only in regions the posterior does not visit are not flagged, which is
    harmless for the posterior but not for warm-up (see the statuses).  Reference
    integrals are memory-hungry (~0.2 MB each when adaptive): lower ``chunk_draws`` if a
    single chunk does not fit; a single draw of a very large data set may still not.
    """
    target = model if isinstance(model, Target) else Target(model, observed, seed=seed)
    layout = target.layout
    missing = [n for n in layout.names if n not in datatree.posterior]
    if missing:
        raise ValueError(f"the DataTree's posterior lacks {missing}: pass the model that "
                         f"produced it")
    values, where = _subsample(datatree, layout, int(draws), seed)
    z = target.unconstrain(values).numpy()
    if chunk_draws is None:
        chunk = _chunk_size(len(z), target)
    elif int(chunk_draws) >= 1:
        chunk = min(int(chunk_draws), len(z))
    else:
        raise ValueError(f"chunk_draws={chunk_draws!r} must be a positive int (or None)")
    # the run's own rules: the quadrature plans it sampled with, where it had any
    plans = plans_from_attrs(datatree.attrs)
    with _plans.applying(plans):
        lp, status = _evaluate(target, z, chunk)
    try:
        with reference_settings(rtol=rtol, max_evals_factor=max_evals_factor):
            lp_ref, status_ref = _evaluate(target, z, chunk)
    except (ValueError, TypeError, tf.errors.OpError) as err:
        return quadrature_result(float("nan"), tolerance, {
            "not_run": "reference_failed", "error": f"{type(err).__name__}: {err}"})
    both_inf = np.isneginf(lp) & np.isneginf(lp_ref)
    delta = np.where(both_inf, 0.0, np.abs(lp_ref - lp))
    delta = np.where(np.isnan(delta), np.inf, delta)
    worst = int(np.argmax(delta))
    return quadrature_result(float(delta[worst]), tolerance, {
        "draws": len(delta), "worst": {"chain": where[worst][0], "draw": where[worst][1]},
        "rtol": float(rtol), "n_integrals": int(status.size),
        "n_not_converged": int(np.count_nonzero(status)),
        "status_codes": sorted(set(status[status != 0].tolist())),
        "n_reference_not_converged": int(np.count_nonzero(status_ref)),
        "plans": [{"key": key, "description": plan.description}
                  for key, plan in sorted(plans.items())],
        "bit_identical": bool(status.size and not np.any(delta))})


def _status_name(code):
    """``Status(code).name``, or ``"unknown status <code>"``."""
    try:
        return Status(int(code)).name
    except ValueError:
        return f"unknown status {code}"


_NOT_RUN = {"no_model": "not run: pass model=... (a DataTree read from disk does not carry "
                        "its model; bayesquad.load_fit(path, model) does)",
            "empty": "not run: the posterior group is empty"}


def quadrature_result(value, tolerance, details):
    """The ``quadrature`` check from its measured fields: status and message follow.

    Parameters
    ----------
    value : float
        Largest absolute change of the log density (NaN when not run).
    tolerance : float
    details : dict
        What :func:`quadrature_check` measured: ``draws``, ``worst`` (``{"chain",
        "draw"}``), ``rtol``, ``n_integrals``, ``n_not_converged``, ``status_codes`` (the
        run's non-zero ``Status`` codes), ``n_reference_not_converged``, ``plans``
        (``[{"key", "description"}]``) and ``bit_identical``; or ``not_run``
        (``"no_model"``, ``"empty"``, ``"reference_failed"`` with ``error``).

    Returns
    -------
    Check

    Notes
    -----
    Passed: the change is within the tolerance and every integral of the run converged.
    A reference integral that did not converge makes a pass inconclusive (``passed=None``);
    a change beyond the tolerance fails whatever the reference's statuses.
    """
    d, tolerance = details, float(tolerance)
    if "not_run" in d:
        reason = d["not_run"]
        message = (_NOT_RUN[reason] if reason in _NOT_RUN else
                   f"inconclusive: the reference evaluation failed ({d.get('error', reason)})")
        return Check("quadrature", float(value), tolerance, None, message, details=d)
    parts = [f"largest |change| of the log density {value:.3g} over {d['draws']} draws "
             f"(at chain {d['worst']['chain']}, draw {d['worst']['draw']}) with every "
             f"integral at rtol={d['rtol']:g}"]
    if d["plans"]:
        parts.append("quadrature plans certified at these draws: " + "; ".join(
            f"{p['key'].split(':')[0]} {p['description']}" for p in d["plans"]))
    passed = value <= tolerance and d["n_not_converged"] == 0
    if d["n_integrals"]:
        parts.append(f"{d['n_not_converged']} of {d['n_integrals']} integrals did not "
                     f"converge in the run"
                     + (f" (statuses {', '.join(_status_name(c) for c in d['status_codes'])})"
                        if d["n_not_converged"] else ""))
    if value > tolerance:
        parts.append("integrals are too inaccurate: raise nodes/panels or use an adaptive "
                     "method")
    if d["n_reference_not_converged"] and passed:
        passed = None
        parts.append(f"{d['n_reference_not_converged']} reference integrals did not converge: "
                     "inconclusive")
    if d["bit_identical"]:
        # identical to the last bit: the model's own adaptive integrals may have met the
        # reference tolerance on the same mesh (a pass), or the reference never reached
        # them; which one cannot be told from here, so the message says both
        parts.append("bit-identical log densities: either the integrals already meet the "
                     "reference tolerance, or they are computed without "
                     "bayesquad.integrate and the reference did not reach them")
    return Check("quadrature", float(value), tolerance, passed, "; ".join(parts), details=d)


QUADRATURE = ("The integrals in the likelihood were recomputed at posterior draws with a much "
              "tighter tolerance. A change of the log density above the tolerance means the "
              "integrals used in the fit were not accurate enough and may have moved the "
              "posterior: raise nodes/panels or use an adaptive method.")


def quadrature(inputs):
    """The registered check: :func:`quadrature_check` with ``diagnose``'s options, or a
    "not run" row without a model or without draws."""
    tolerance = inputs.options["quadrature_tolerance"]
    if inputs.model is None:
        return quadrature_result(float("nan"), tolerance, {"not_run": "no_model"})
    if inputs.empty:
        return quadrature_result(float("nan"), tolerance, {"not_run": "empty"})
    return quadrature_check(inputs.datatree, inputs.model, inputs.observed,
                            draws=inputs.options["quadrature_draws"], tolerance=tolerance,
                            seed=inputs.options["seed"])
