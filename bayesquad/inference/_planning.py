"""Quadrature plans for a fit: the cheapest frozen rule per integral that is accurate
over the region the posterior occupies.

The integral-defined distributions offer candidate plans (``distributions/_plans.py``);
here each candidate is measured where it matters, as a change of the model's whole log
density at planning points spread over the posterior region (the MAP and the corners of
its Laplace box), and the cheapest one within the tolerance is kept. Measuring the whole
log density, not each integral, weighs every integral by how often it enters (a
normaliser counts once per event) and by how much the likelihood cares.
"""
import weakref

import numpy as np

from bayesquad._tf import tf
from bayesquad.distributions import plans as _plans
from bayesquad.inference import _model
from bayesquad.quadrature import reference_settings
from bayesquad.inference._graph_calls import graph_function
from bayesquad.inference._planning_parts import plannable_parts

__all__ = [
    "DEFAULT_PLAN_TOLERANCE",
    "laplace_box",
    "plan_quadrature",
    "plans_from_attrs",
    "plans_to_attrs",
]

#: Largest change of the log density a plan may cause at the planning points: 100x below
#: the quadrature check's 0.01, and far below what moves a posterior (an error that is
#: constant over the posterior does not move it at all).
DEFAULT_PLAN_TOLERANCE = 1e-4
_REFERENCE_RTOL = 1e-11
# Plans of earlier fits, per model object and data: a later fit of the same model and
# data verifies them at its own points (three evaluations) before searching again.
_EARLIER = weakref.WeakKeyDictionary()


def laplace_box(z_map, covariance, width=3.0):
    """Planning points: the MAP and ``width`` standard deviations either way along each
    principal axis of the Laplace covariance (``2 D + 1`` points, unconstrained)."""
    z_map = np.asarray(z_map, float)
    points = [z_map]
    cov = None if covariance is None else np.asarray(covariance, float)
    if cov is not None and np.all(np.isfinite(cov)):
        vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
        for val, vec in zip(np.maximum(vals, 0.0), vecs.T):
            step = width * np.sqrt(val) * vec
            points += [z_map + step, z_map - step]
    return np.stack(points)


def plan_quadrature(model, observed, points, *, tolerance=DEFAULT_PLAN_TOLERANCE,
                    bijectors=None):
    """Choose a frozen rule for every plannable integral of ``model``.

    Parameters
    ----------
    model : tfp.distributions.JointDistribution
    observed : dict
    points : array, ``[K, D]``
        Unconstrained points the plan must be accurate at (see :func:`laplace_box`).
    tolerance : float
        Largest allowed change of the log density at any point, shared equally by the
        integrals planned.
    bijectors : dict, optional
        The ``bijectors`` of the fit whose unconstrained ``points`` these are (see
        :func:`bayesquad.inference.sample`).

    Returns
    -------
    dict
        ``{key: Plan}``; empty when the model has no plannable integral. The measured
        error is in ``report[key]`` of :func:`plan_quadrature_report`-style attrs.

    Notes
    -----
    The reference is the most accurate candidates where they agree with the configured
    rules (two different rules) within a tenth of the tolerance, else adaptive
    integration at ``rtol=1e-11``. Each candidate is measured against it, with the other
    integrals at their most accurate candidates; if the chosen plans together exceed the
    tolerance there, no plan is returned and the integrals keep their configured methods
    (with statuses). A plan is only as good as
    the points: the quadrature check certifies it again at posterior draws.
    """
    model = _model.working_model(model)
    layout, obs = _model.make_layout(model, observed, bijectors=bijectors)
    if _model.has_plannable_integrals(model, obs, bijectors) is False:
        return {}, {}
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    z = tf.constant(np.atleast_2d(np.asarray(points, layout.dtype.as_numpy_dtype)))
    log_prob = _model.log_prob_fn(model, layout, obs_t)

    digest = (_model.data_digest(obs), float(tolerance))
    try:
        earlier = _EARLIER.get(model, {}).get(digest)
    except TypeError:  # a model that cannot be weakly referenced: no memory of fits
        earlier = None
    if earlier is not None:
        chosen, best, integrals, meta, planned_at = earlier
        if planned_at.shape == z.shape and np.array_equal(planned_at, z.numpy()):
            # the same points (the same MAP): the measurements would repeat bit for bit
            return dict(chosen), {"meta": dict(meta, reused=True), "integrals": integrals}
    with _plans.recording() as recorded:
        base = log_prob(z).numpy()
    if not recorded:
        return {}, {}
    evaluate = _evaluator(log_prob, z, base, tolerance, plannable_parts(
        model, layout, obs_t, z, recorded), {k: c[0] for k, c in recorded.items()})
    if earlier is not None:
        reused = _verify(evaluate, chosen, best, integrals, tolerance)
        if reused is not None:
            return reused
    best = {k: c[-1] for k, c in recorded.items()}
    # Families without an order among them (the scales of an infinite range's map) have
    # no most accurate member to stand for "finest": pick, against an adaptive reference,
    # the most accurate of their largest rules.
    unordered = [k for k, c in recorded.items() if any(p.get("scale") is not None for p in c)]
    reference = None
    if unordered:
        with reference_settings(rtol=_REFERENCE_RTOL):
            reference = graph_function(log_prob, autograph=False)(z).numpy()
        for key in unordered:
            largest = {}
            for plan in recorded[key]:
                if plan.family() not in largest or plan.cost > largest[plan.family()].cost:
                    largest[plan.family()] = plan
            best[key] = min(largest.values(), key=lambda plan, key=key: _max_change(
                evaluate({**best, key: plan}), reference))
    finest = evaluate(best)
    # Two different rules that agree (the configured one, with its error estimates, and
    # the finest candidate) make adaptive references unnecessary; only a disagreement is
    # worth their cost (a second or more of tracing and adaptive loops).
    referee = "adaptive"
    if reference is None:
        reference, referee = finest, "finest"
        if not _max_change(base, finest) <= 0.1 * tolerance:
            with reference_settings(rtol=_REFERENCE_RTOL):
                reference = graph_function(log_prob, autograph=False)(z).numpy()
            referee = "adaptive"
    share = float(tolerance) / len(recorded)
    chosen, report = {}, {}
    for key, candidates in recorded.items():
        errors = {}

        def error_of(plan, key=key, errors=errors):
            # against the reference, not the finest candidates: where a family has no
            # most accurate member (the scales of an infinite range's map), the last
            # candidate need not be the best one, and only the reference says so
            if plan not in errors:
                errors[plan] = _max_change(evaluate({**best, key: plan}), reference)
            return errors[plan]

        plan = _cheapest_within(error_of, candidates, share)
        chosen[key] = plan
        report[key] = {"error_vs_reference": error_of(plan), "candidates_tried": len(errors)}
    final = evaluate(chosen)
    total = _max_change(final, reference)
    meta = {"points": int(z.shape[0]), "tolerance": float(tolerance), "referee": referee,
            "max_change_vs_reference": total,
            "finest_vs_reference": _max_change(finest, reference),
            "configured_vs_finest": _max_change(base, finest)}
    if not (total <= tolerance):
        meta["rejected"] = (f"the chosen plans change the log density by {total:.3g} against "
                            f"the {referee} reference (tolerance {tolerance:g}); integrals "
                            f"keep their configured methods")
        return {}, {"meta": meta, "integrals": report}
    for key in chosen:
        report[key]["description"] = chosen[key].description
    try:
        _EARLIER.setdefault(model, {})[digest] = (chosen, best, report, meta, z.numpy())
    except TypeError:
        pass
    return chosen, {"meta": meta, "integrals": report}


def _evaluator(log_prob, z, base, tolerance, change, cheapest):
    """``evaluate(plans) -> log density [K]`` at ``z`` (numpy), memoised per set of plans.

    Through the plannable parts alone (``change``, see :mod:`._planning_parts`) once a
    whole evaluation under the ``cheapest`` candidates, the largest change there is,
    agrees with them; else, or without ``change``, by evaluating the whole model.
    """
    # the same plans give the same values (eager, deterministic): with one integral, the
    # final check and the finest candidate's error repeat a search measurement
    evaluated = {(): base}

    def whole(plans):
        with _plans.applying(plans):
            return log_prob(z).numpy()

    def key_of(plans):
        return tuple(sorted(plans.items()))

    if change is not None:
        value = whole(cheapest)
        evaluated[key_of(cheapest)] = value
        # the rounding of sums taken in another order, far below any error a plan is
        # judged by; a part left out or a stale value shows as the cheapest rule's error
        scale = np.max(np.abs(base[np.isfinite(base)]), initial=0.0)
        allowed = 1e-3 * float(tolerance) + 64 * np.finfo(base.dtype).eps * float(scale)
        if not _max_change(base + change(cheapest), value) <= allowed:
            change = None

    def evaluate(plans):
        key = key_of(plans)
        if key not in evaluated:
            evaluated[key] = whole(plans) if change is None else base + change(plans)
        return evaluated[key]
    return evaluate


def _verify(evaluate, chosen, best, report, tolerance):
    """An earlier fit's plans, if they still meet ``tolerance`` at these points against
    the finest candidates and those agree with the configured rules; else None."""
    base = evaluate({})
    finest = evaluate(best)
    if not _max_change(base, finest) <= 0.1 * tolerance:
        return None
    total = _max_change(evaluate(chosen), finest)
    if not total <= tolerance:
        return None
    meta = {"reused": True, "tolerance": float(tolerance), "referee": "finest",
            "max_change_vs_reference": total, "configured_vs_finest": _max_change(base, finest)}
    return dict(chosen), {"meta": meta, "integrals": report}


def _cheapest_within(error_of, candidates, tolerance):
    """The cheapest candidate found within ``tolerance`` (the most accurate if none).

    Candidates come in families whose accuracy rises along a ladder (panels, nodes);
    along each ladder errors fall roughly, not strictly: gallop (1, 2, 4, ... rungs up)
    to the first passing rung, then bisect back to the last failing one. Only rungs
    cheaper than the best found so far are tried, so later families cost little. About
    ``2 log2(rungs)`` measurements per family; a cheaper rung that passes out of order
    can be missed; the one returned always passed.

    Where candidates declare monotone settings (composite Gauss-Legendre: more nodes or
    more panels is at least as accurate), the most accurate families go first and a
    failed candidate rules out, unmeasured, every candidate below it in all of them
    (W2: 40 measurements -> about a dozen). Families without that declaration are ordered
    by the error of their cheapest rung. A rule that would have passed against these
    orders is missed, never accepted unmeasured.
    """
    families = {}
    for plan in candidates:
        families.setdefault(plan.family(), []).append(plan)
    failed = []

    def passes(plan):
        if any(plan.below(f) for f in failed):
            return False
        if error_of(plan) <= tolerance:
            return True
        failed.append(plan)
        return False

    def most_accurate_first(item):
        family, ladder = item
        keys = ladder[0].monotone
        if keys:
            return tuple(-v for k, v in family if k in keys)
        # no declared order between families (a substitution's power, a window's width):
        # the family whose cheapest rung is most accurate goes first, so that the others
        # are cut down to rungs cheaper than its answer (W4: 22 measurements -> 7)
        cheapest = min(ladder, key=lambda p: p.cost)
        return (error_of(cheapest),)

    best = None
    for _, ladder in sorted(families.items(), key=most_accurate_first):
        ladder = sorted(ladder, key=lambda p: p.cost)
        if best is not None:
            ladder = [p for p in ladder if p.cost < best.cost]
        if not ladder:
            continue
        found = _climb(passes, ladder)
        if found is not None:
            best = found
    return best if best is not None else candidates[-1]


def _climb(passes, ladder):
    if passes(ladder[0]):
        return ladder[0]
    bad, step, n = 0, 1, len(ladder)
    while True:
        good = min(bad + step, n - 1)
        if passes(ladder[good]):
            break
        if good == n - 1:
            return None
        bad, step = good, 2 * step
    while good - bad > 1:
        mid = (good + bad) // 2
        if passes(ladder[mid]):
            good = mid
        else:
            bad = mid
    return ladder[good]


def _max_change(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    same_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    diff = np.where(same_inf, 0.0, np.abs(a - b))
    return float(np.max(np.where(np.isnan(diff), np.inf, diff)))


def plans_to_attrs(plans, report):
    """JSON for ``DataTree.attrs["quadrature_plans"]``: each plan, its words and errors."""
    import json  # pylint: disable=import-outside-toplevel
    return json.dumps({"plans": {k: p.to_dict() for k, p in plans.items()},
                       "report": report}, sort_keys=True)


def plans_from_attrs(attrs):
    """``{key: Plan}`` stored by :func:`plans_to_attrs` (empty if none)."""
    import json  # pylint: disable=import-outside-toplevel
    text = attrs.get("quadrature_plans") if hasattr(attrs, "get") else None
    if not text:
        return {}
    data = json.loads(text)
    return {k: _plans.Plan.from_dict(v) for k, v in data.get("plans", {}).items()}
