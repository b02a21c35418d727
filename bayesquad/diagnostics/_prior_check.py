"""The prior check: evaluate a model at prior draws before sampling it.

Warm-up visits the prior's tails: a log density that is NaN or -inf there, a gradient that
overflows, or an integral that stops converging (a peak narrower than the quadrature
nodes, a rate that overflows) stalls or misleads NUTS.  :func:`prior_check` finds those
points first and measures what one log density + gradient costs (``bayesquad check`` prints
its report).

Can the posterior reach a prior draw?  An integral that is not certified (status not
CONVERGED) at a prior draw matters only if the posterior can go there: quadrature error
changes the log density the sampler targets, and a change where the posterior has no mass
changes nothing the fit reports.  So a failing prior draw is classified by its log density
against the highest log density found (the MAP, found here):

- *ruled out by the data*: more than :func:`reach` below it, by the model's own integrals
  and by a reference evaluation with every integral at rtol=1e-12 alike.  The posterior puts
  less than ``TAIL`` of its mass there (for a Gaussian posterior; the factor-2 margin of
  :func:`reach` covers heavier tails).  A prior-predictive observation: the prior reaches
  places the data rule out.  Reported as a note, with the suggestion to tighten the prior.
- *reachable*: anything else, including draws that cannot be classified (no trustworthy
  mode, a reference that failed): a failure, with advice on the rule or tolerance.

The posterior's own region is probed directly too: the integrals' statuses at the MAP and at
draws of its Laplace approximation, and the change of the log density at the MAP when every
integral is recomputed at reference accuracy (as the fit's quadrature check does at posterior
draws).
"""
import dataclasses
import time

import numpy as np

__all__ = ["PriorCheck", "prior_check"]

#: Posterior mass allowed beyond the reach (Gaussian approximation).
TAIL = 1e-9
#: Largest change of the log density that cannot move a posterior (the quadrature check's).
TOLERANCE = 0.01
#: Tolerance of the reference evaluation (every integral adaptive, as the quadrature check).
REFERENCE_RTOL = 1e-12


def reach(dim, tail=TAIL):
    """Log-density drop below the mode beyond which the posterior has (almost) no mass.

    For a Gaussian posterior in ``dim`` dimensions, ``2 (lp_max - lp) ~ chi2(dim)``: the
    region more than ``chi2.isf(tail, dim) / 2`` below the mode holds ``tail`` of the mass.
    The value returned is twice that, ``chi2.isf(tail, dim)`` (41 for 2 parameters, 48 for 4,
    209 for 100), a margin for tails heavier than a Gaussian's.
    """
    from scipy.stats import chi2  # pylint: disable=import-outside-toplevel
    return float(chi2.isf(tail, dim))


def evaluate(target, z, reference=False):
    """``(log density [n], statuses [n, k])`` at the rows of ``z``.

    Evaluated as the diagnostics' quadrature check does (the same walk to the integrals'
    statuses); ``reference=True`` recomputes every integral adaptively at
    :data:`REFERENCE_RTOL` (a fresh trace inside ``reference_settings``).
    """
    # pylint: disable=import-outside-toplevel,protected-access
    from bayesquad.diagnostics import _quadrature_check as qc  # the check's own walk
    from bayesquad.quadrature import reference_settings
    z = np.asarray(z)
    chunk = qc._chunk_size(len(z), target)
    if reference:
        with reference_settings(rtol=REFERENCE_RTOL, max_evals_factor=8):
            lp, st = qc._evaluate(target, z, chunk)
    else:
        lp, st = qc._evaluate(target, z, chunk)
    return np.asarray(lp, np.float64), np.asarray(st).reshape(len(z), -1)


@dataclasses.dataclass
class PosteriorProbe:
    """What was found about the posterior's region (fields are None when not available)."""

    message: str  # how the MAP search ended, or why it could not run
    z_map: object = None  # unconstrained MAP point [D]
    lp_map: float = float("nan")  # log density there, the model's own integrals
    status_map: object = None  # [k]
    lp_map_ref: float = float("nan")  # the same at reference accuracy
    status_map_ref: object = None
    ref_error: str = None  # why the reference evaluation failed
    laplace_status: object = None  # [n, k] at Laplace draws; None without a covariance
    laplace_z: object = None
    lp_also_ref: object = None  # reference log densities at the extra points [m]
    status_also_ref: object = None  # [m, k]

    @property
    def map_change(self):
        """|reference - own| log density at the MAP (NaN when either is missing)."""
        return abs(self.lp_map_ref - self.lp_map)

    @property
    def map_ok(self):
        """The MAP's integrals converged."""
        return self.status_map is not None and not np.any(self.status_map)


def _folded(err):
    """An exception's message on one line (its type name when the message is empty)."""
    return " ".join(str(err).split()) or type(err).__name__


def _one_line(err):
    return f"{type(err).__name__}: {_folded(err)[:200]}"


def probe_posterior(target, seed, n_laplace, also=None):
    """Find the MAP and evaluate the integrals there and at ``n_laplace`` Laplace draws.

    ``also`` (``[m, D]``, e.g. the prior draws with failing integrals) is evaluated at
    reference accuracy together with the MAP: one reference trace, which costs seconds (10 s
    for W1's mixture of two normalisers).  So the reference runs only when something asks
    for it: points in ``also``, or integrals at the MAP or Laplace draws that did not
    converge; otherwise the MAP's own converged integrals are taken as they are (the fit's
    quadrature check compares them with the reference at posterior draws).
    """
    # pylint: disable=import-outside-toplevel
    from bayesquad._tf import tf
    from bayesquad.inference import find_map
    dim = target.dim
    also = np.zeros((0, dim)) if also is None else np.asarray(also)
    try:
        # graph mode: one optimisation, where an XLA compile would dominate
        found = find_map(target, num_starts=4, seed=seed, jit=False, laplace_draws=0)
        z, cov, message = found.unconstrained, found.covariance, found.message
    except (ValueError, TypeError, ArithmeticError, tf.errors.OpError) as err:
        probe = PosteriorProbe(message=f"MAP search failed ({_one_line(err)})")
    else:
        probe = PosteriorProbe(message=message, z_map=np.asarray(z))
        points = np.asarray(z)[None]
        if np.all(np.isfinite(cov)) and n_laplace > 0:
            rng = np.random.default_rng([int(seed), 2])
            probe.laplace_z = rng.multivariate_normal(z, cov, size=int(n_laplace)).astype(
                z.dtype)
            points = np.concatenate([points, probe.laplace_z])
        lp, status = evaluate(target, points)
        probe.lp_map, probe.status_map = float(lp[0]), status[0]
        if probe.laplace_z is not None:
            probe.laplace_status = status[1:]
    ref_points = also if probe.z_map is None else np.concatenate([probe.z_map[None], also])
    in_posterior = probe.z_map is not None and (
        not probe.map_ok or (probe.laplace_status is not None and np.any(probe.laplace_status)))
    if len(also) or in_posterior:
        try:
            lp_ref, st_ref = evaluate(target, ref_points.astype(target.dtype.as_numpy_dtype),
                                      reference=True)
        except (ValueError, TypeError, tf.errors.OpError) as err:
            probe.ref_error = _one_line(err)
        else:
            if probe.z_map is not None:
                probe.lp_map_ref, probe.status_map_ref = float(lp_ref[0]), st_ref[0]
                lp_ref, st_ref = lp_ref[1:], st_ref[1:]
            probe.lp_also_ref, probe.status_also_ref = lp_ref, st_ref
    return probe


def trusted_mode(probe, lps, clean):
    """The highest log density known to be accurate: a lower bound of the mode's.

    Candidates: the MAP by its own integrals (if they converged) and by the reference (if
    its integrals converged), and the prior draws ``clean`` of every problem.  A lower bound
    keeps the classification conservative: it can only call fewer draws ruled out.
    """
    candidates = [lps[i] for i in np.flatnonzero(clean) if np.isfinite(lps[i])]
    if probe is not None and probe.map_ok and np.isfinite(probe.lp_map):
        candidates.append(probe.lp_map)
    if (probe is not None and probe.status_map_ref is not None
            and not np.any(probe.status_map_ref) and np.isfinite(probe.lp_map_ref)):
        candidates.append(probe.lp_map_ref)
    return max(candidates) if candidates else float("nan")


def ruled_out(lp_own, lp_ref, lp_mode, threshold):
    """True where both evaluations put the draw more than ``threshold`` below ``lp_mode``.

    NaN anywhere (no mode, a failed evaluation) is not ruled out: unclassifiable draws count
    as reachable.  ``-inf`` by both is ruled out (zero density).
    """
    lp_own, lp_ref = np.asarray(lp_own, np.float64), np.asarray(lp_ref, np.float64)
    if not np.isfinite(lp_mode):
        return np.zeros(lp_own.shape, bool)
    with np.errstate(invalid="ignore"):
        low = lp_mode - threshold
        return (lp_own < low) & (lp_ref < low)


@dataclasses.dataclass
class Classified:
    """Prior draws with integrals not CONVERGED, classified by the posterior's reach."""

    draws: np.ndarray  # their indices among the prior draws
    lp: np.ndarray  # their log density, the model's own integrals
    lp_ref: np.ndarray  # the same at reference accuracy (NaN if it failed)
    ref_bad: np.ndarray  # reference integrals not converged there
    ruled_out: np.ndarray  # bool per draw
    lp_mode: float  # the highest accurate log density found
    threshold: float  # reach(D)
    ref_error: str = None


def classify(dim, lps, probe, draws, clean):
    """Classify the prior draws ``draws`` (integrals not CONVERGED) by the posterior's reach.

    ``lps``: the model's log density at every prior draw; ``probe``: from
    :func:`probe_posterior` called with ``also=`` those draws; ``clean``: prior draws with no
    problem at all (their log densities bound the mode's from below).
    """
    threshold = reach(dim)
    lp_mode = trusted_mode(probe, lps, clean)
    nan = np.full(len(draws), np.nan)
    found = Classified(draws, lps[draws] if len(draws) else nan, nan.copy(),
                       np.zeros(len(draws), int), np.zeros(len(draws), bool), lp_mode,
                       threshold, probe.ref_error)
    if len(draws) and probe.lp_also_ref is not None:
        found.lp_ref = np.asarray(probe.lp_also_ref, np.float64)
        found.ref_bad = np.count_nonzero(probe.status_also_ref, axis=1)
    # a failed reference leaves NaN: those draws count as reachable
    found.ruled_out = ruled_out(found.lp, found.lp_ref, lp_mode, threshold)
    return found


# ---- the check at prior draws ----------------------------------------------------------

_MAX_LISTED = 10  # problem draws printed in full


def _fmt_value(v):
    v = np.asarray(v)
    if v.size == 1:
        return f"{float(v.ravel()[0]):.4g}"
    if v.size <= 3:
        return "[" + ", ".join(f"{float(x):.3g}" for x in v.ravel()) + "]"
    return f"[{'x'.join(map(str, v.shape))}] in [{np.nanmin(v):.3g}, {np.nanmax(v):.3g}]"


def _prior_points(target, n, seed):
    """``n`` prior draws of the parameters (observed variables pinned, not sampled).

    Returns the constrained values (list of dicts) and the unconstrained points [n, D].
    """
    from bayesquad._tf import tf, tfp
    layout = target.layout
    pinned = target.working_model.experimental_pin(**target.observed_tensors)
    seeds = tfp.random.split_seed((int(seed), 29), n=n)
    values, zs = [], []
    for i in range(n):
        try:
            draw = pinned.sample_unpinned(seed=seeds[i])
        except Exception as err:  # noqa: BLE001 -- a prior without sample() is the user's
            raise ValueError(f"cannot draw from the model's prior: {type(err).__name__}: "
                             f"{_folded(err)}") from err
        vals = dict(zip(layout.names, tf.nest.flatten(draw)))
        values.append({k: v.numpy() for k, v in vals.items()})
        zs.append(target.unconstrain(vals).numpy())
    return values, np.stack(zs).astype(layout.dtype.as_numpy_dtype)


def _log_prob_and_gradient(target, zs):
    """Per draw: log density, gradient [D] and the error message if evaluation raised."""
    from bayesquad._tf import tf
    dim = zs.shape[1]

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([dim], target.dtype)])
    def value_and_gradient(z):
        lp, grad = target.value_and_grad(z)
        return lp, (tf.zeros_like(z) if grad is None else grad)

    lps = np.full(len(zs), np.nan)
    grads = np.full(zs.shape, np.nan)
    errors = [None] * len(zs)
    for i, z in enumerate(zs):
        try:
            lp, grad = value_and_gradient(tf.constant(z))
            lps[i], grads[i] = lp.numpy(), grad.numpy()
        except (tf.errors.OpError, ValueError, TypeError) as err:
            errors[i] = f"evaluation raised {type(err).__name__}: {_folded(err)[:200]}"
    return lps, grads, errors


def _statuses(target, zs):
    """``(log densities [n], statuses [n, k])`` per draw (``k`` may be 0), and a message.

    The message (and None, None) when the statuses could not be read.
    """
    try:
        lp, st = evaluate(target, zs)
    except Exception as err:  # noqa: BLE001 -- report, do not crash: the rest still informs
        return None, None, f"statuses unavailable ({type(err).__name__}: {_folded(err)[:200]})"
    return lp, st, None


def _cost(target, z_ok, jit, chain_counts=(1, 4), budget_s=1.0):
    """``[(chains, compile_s, median_s)]`` for one log density + gradient of a batch."""
    from bayesquad._tf import tf
    value_and_gradient = target.value_and_grad
    out = []
    for k in chain_counts:
        # a fresh function per batch size, so that each first call shows its compile time
        f = tf.function(value_and_gradient, jit_compile=bool(jit), autograph=False)
        z = tf.constant(np.resize(z_ok, (k, z_ok.shape[1])))
        tic = time.perf_counter()
        [t.numpy() for t in f(z)]  # noqa: expression-not-assigned (trace + compile)
        compile_s = time.perf_counter() - tic
        times, start = [], time.perf_counter()
        while len(times) < 5 or (time.perf_counter() - start < budget_s and len(times) < 200):
            tic = time.perf_counter()
            [t.numpy() for t in f(z)]  # noqa: expression-not-assigned
            times.append(time.perf_counter() - tic)
        out.append((k, compile_s, float(np.median(times))))
    return out


def _grad_names(layout, bad):
    names, start = [], 0
    for name, size in zip(layout.names, layout.sizes):
        if np.any(bad[start:start + size]):
            names.append(name)
        start += size
    return names


def _kinds(codes):
    from bayesquad.quadrature import Status
    codes = np.asarray(codes)
    return ", ".join(sorted({Status(int(c)).name for c in codes[codes != 0]}))


def _point(values):
    return " ".join(f"{k}={_fmt_value(v)}" for k, v in values.items())


def _failures(values, lps, grads, errors, layout):
    """``{draw: text}`` for non-finite log densities or gradients, and errors."""
    out = {}
    for i in range(len(values)):
        if errors[i]:
            out[i] = errors[i]
        elif not np.isfinite(lps[i]):
            out[i] = f"log density {lps[i]}"
        elif not np.all(np.isfinite(grads[i])):
            out[i] = "gradient not finite in " + ", ".join(
                _grad_names(layout, ~np.isfinite(grads[i])))
    return out


def _below(lp, lp_mode):
    drop = lp_mode - lp
    return "infinitely far" if np.isinf(drop) else f"{drop:.3g}"


def _integral_text(found, j, status_row):
    n_bad = int(np.count_nonzero(status_row))
    text = (f"{n_bad} integral(s) did not converge ({_kinds(status_row)}); log density "
            f"{_below(found.lp[j], found.lp_mode)} below the MAP's")
    if np.isnan(found.lp_ref[j]):
        return text + " (no reference value)"
    change = abs(found.lp_ref[j] - found.lp[j])
    text += (f" (reference at rtol=1e-12: {_below(found.lp_ref[j], found.lp_mode)}"
             + (f"; change {change:.2g})" if np.isfinite(change) else ")"))
    if found.ref_bad[j]:
        text += f", {int(found.ref_bad[j])} reference integral(s) not converged either"
    return text


def _posterior_lines(probe, echo):
    if probe.z_map is None:
        echo(f"  posterior     not probed: {probe.message}")
        return
    n_lap = 0 if probe.laplace_status is None else len(probe.laplace_status)
    k = len(probe.status_map)
    bad = int(np.count_nonzero(probe.status_map)) + (
        0 if probe.laplace_status is None else int(np.count_nonzero(probe.laplace_status)))
    where = f"the MAP and {n_lap} Laplace draws" if n_lap else \
        "the MAP (no Laplace covariance: Hessian not positive definite)"
    echo(f"  posterior     MAP log density {probe.lp_map:.6g} ({probe.message})")
    if k:
        echo(f"                integrals at {where}: {bad} of {k * (1 + n_lap)} did not "
             f"converge")
    if probe.ref_error:
        echo(f"                reference evaluation at the MAP failed: {probe.ref_error}")
    elif np.isfinite(probe.map_change):
        echo(f"                at the MAP, every integral at rtol=1e-12 changes the log density "
             f"by {probe.map_change:.3g} (tolerance {TOLERANCE:g})")
    elif k:
        echo("                (no reference evaluation: nothing failed; fit's quadrature check "
             "compares the integrals with one at posterior draws)")


def _posterior_failures(probe):
    """Failures in the posterior's own region, as ``[(where, text)]``."""
    out = []
    if probe is None or probe.z_map is None:
        return out
    if np.any(probe.status_map):
        out.append(("MAP", f"{int(np.count_nonzero(probe.status_map))} integral(s) did not "
                           f"converge ({_kinds(probe.status_map)})"))
    if np.isfinite(probe.map_change) and probe.map_change > TOLERANCE:
        out.append(("MAP", f"the log density changes by {probe.map_change:.3g} with every "
                           f"integral at rtol=1e-12: the integrals are inaccurate there"))
    elif not np.isfinite(probe.lp_map):
        out.append(("MAP", f"log density {probe.lp_map}"))
    if probe.laplace_status is not None:
        rows = np.flatnonzero(np.any(probe.laplace_status != 0, axis=1))
        if len(rows):
            out.append(("Laplace", f"{len(rows)} of {len(probe.laplace_status)} draws of the "
                                   f"Laplace approximation have integrals that did not "
                                   f"converge ({_kinds(probe.laplace_status[rows])})"))
    return out


def _advice(found, reachable, probe, generic):
    """What to do about the failures: rule or tolerance, or the model."""
    parts = []
    changes = [abs(found.lp_ref[j] - found.lp[j]) for j in reachable]
    if probe is not None and np.isfinite(probe.map_change):
        changes.append(probe.map_change)
    integral_failure = bool(reachable) or bool(_posterior_failures(probe))
    if integral_failure:
        worst = max((c for c in changes if np.isfinite(c)), default=np.nan)
        if np.isfinite(worst) and worst <= TOLERANCE:
            parts.append(f"integrals not certified where the posterior can reach; their "
                         f"values agree with a reference at rtol=1e-12 within {worst:.2g}, so "
                         f"the rule's error estimate is what fails: give it more nodes or "
                         f"panels (or a looser rtol) so that its status reads CONVERGED, "
                         f"which the fit's quadrature check requires")
        else:
            parts.append("integrals inaccurate or not certified where the posterior can "
                         "reach" + (f" (log density off a reference by up to {worst:.2g})"
                                    if np.isfinite(worst) else "")
                         + ": use more nodes or panels, or an adaptive method "
                         "(method='adaptive-gk'), for them")
    if generic:
        parts.append("non-finite values at prior draws, which samplers visit during "
                     "warm-up: tighten the priors, reparameterise, or make the model robust "
                     "there")
    return "; ".join(parts)


@dataclasses.dataclass
class PriorCheck:
    """The result of :func:`prior_check`.

    Attributes
    ----------
    passed : bool
        False when :func:`prior_check` found a problem where the posterior can reach (see
        its Returns).
    problems : list of (str, str)
        ``(where, what)`` per problem: a prior draw (``"draw 3"``), ``"MAP"`` or
        ``"Laplace"``.
    notes : list of (str, str)
        ``(where, what)`` per prior draw whose integrals did not converge where the data
        rule it out.
    advice : str
        What to do about the problems ("" when there are none).
    lines : list of str
        The report as ``bayesquad check`` prints it, one line each (``str(result)`` joins
        them).
    names : tuple of str
        The model's unobserved variables.
    dim : int
        Dimension of the unconstrained space.
    draws : list of dict
        The prior draws, constrained values by name.
    unconstrained : numpy array [n, D]
        The same draws in the unconstrained space.
    log_density, gradient : numpy arrays [n], [n, D]
        Log density (with the log-Jacobian of the constraining bijectors) and its gradient
        at each draw; NaN where the evaluation raised.
    errors : list of str or None
        Why the evaluation at each draw raised, or None.
    statuses : numpy array [n, k] or None
        Status codes (:class:`bayesquad.Status`) of the ``k`` integrals found per draw; None
        when they could not be read.
    posterior : object
        What was found at the MAP and draws of its Laplace approximation (``message``,
        ``z_map``, ``lp_map``, ``status_map``, ``lp_map_ref``, ``laplace_status``,
        ``map_change``, ...).
    classified : object
        The draws with integrals not CONVERGED (``draws``), their log densities by the
        model and by the reference (``lp``, ``lp_ref``), whether the data rule them out
        (``ruled_out``), the mode's log density and the threshold (``lp_mode``,
        ``threshold``).
    cost : list of (int, float, float) or None
        ``(chains, first call in s, median per call in s)`` of one log density + gradient;
        None when not measured.
    """

    passed: bool
    problems: list
    notes: list
    advice: str
    lines: list
    names: tuple
    dim: int
    draws: list
    unconstrained: np.ndarray
    log_density: np.ndarray
    gradient: np.ndarray
    errors: list
    statuses: object
    posterior: object
    classified: object
    cost: object = None

    def __str__(self):
        return "\n".join(self.lines)


def prior_check(model, observed, *, draws=20, seed=0, jit=True, cost=True, echo=None):
    """Evaluate a model at prior draws of its parameters, with the observed data, before sampling.

    Reports draws where the log density is not finite or raises, where its gradient is not
    finite, and integrals that did not converge; finds the MAP and probes the integrals
    there and at draws of its Laplace approximation; measures the cost of one log density
    + gradient.  ``bayesquad check`` is this function with a header.

    Parameters
    ----------
    model : tfp.distributions.JointDistribution
    observed : dict
        Data by variable name.
    draws : int
        Prior draws of the parameters (observed variables pinned to the data), and draws of
        the Laplace approximation at the MAP.
    seed : int
    jit : bool
        Time the XLA-compiled evaluation (as ``sample``'s default) or the graph one.
    cost : bool
        Measure the cost (compiles the log density + gradient once per chain count).
    echo : callable, optional
        Called with each line of the report as soon as it is known (the command line passes
        ``print``); the lines are in the result either way.

    Returns
    -------
    PriorCheck
        ``passed`` is False if a prior draw has a non-finite log density, a non-finite
        gradient where the log density is finite, or an evaluation that raised; or if an
        integral is not CONVERGED where the posterior can reach (at the MAP, a Laplace
        draw, or a prior draw that is not ruled out by the data), or the integrals change
        the log density at the MAP by more than 0.01 at reference accuracy.  Integrals that
        fail only at prior draws the data rule out are listed as notes.

    Raises
    ------
    TypeError, ValueError
        The observed data do not fit the model (names, shapes), or the prior cannot be
        sampled.

    Notes
    -----
    Log density and gradient are taken in the unconstrained space the samplers see (the
    log-Jacobian of the constraining bijectors included).  Integral statuses are found as
    the diagnostics' quadrature check finds them (through ``Independent``/``Sample``
    wrappers and mixtures down to a distribution with ``quadrature_status()``); integrals
    hidden elsewhere are not seen, and the report then says none are exposed.  Twenty prior
    draws probe the prior's bulk: a failure region of small prior mass may need ``draws``
    in the hundreds.  A draw is ruled out when its log density, by the model's integrals
    and by a reference at rtol=1e-12 alike, lies more than ``chi2.isf(1e-9, D)`` below the
    highest accurate log density found (41 for 2 parameters, 48 for 4, 209 for 100: for a
    Gaussian posterior, the region beyond half of it holds 1e-9 of the mass).  The cost is
    measured at prior draws; integrals with adaptive rules cost more or less elsewhere.
    """
    from bayesquad._tf import tf  # pylint: disable=import-outside-toplevel
    from bayesquad.inference import Target  # pylint: disable=import-outside-toplevel
    target = Target(model, observed, seed=seed)
    layout = target.layout
    lines = []

    def say(line):
        lines.append(line)
        if echo is not None:
            echo(line)

    dim = sum(layout.sizes)
    say(f"  parameters: {', '.join(layout.names)} ({dim} unconstrained dimensions)")
    say(f"  {draws} prior draws (seed {seed}); log density and gradient in the unconstrained "
        f"space the samplers see (log-Jacobian included)")
    say("")
    values, zs = _prior_points(target, draws, seed)
    lps, grads, errors = _log_prob_and_gradient(target, zs)
    lps_qc, status, status_note = _statuses(target, zs)
    finite = np.isfinite(lps) & np.array([e is None for e in errors])
    grad_ok = finite & np.all(np.isfinite(grads), axis=1)
    say(f"  log density   finite at {int(finite.sum())} of {draws} draws")
    say(f"  gradient      finite at {int(grad_ok.sum())} of {int(finite.sum())} draws with a "
        f"finite log density")
    if status_note:
        say(f"  integrals     {status_note}")
    elif status.shape[1] == 0:
        say("  integrals     none exposed (no distribution with quadrature_status() found "
            "under the model's variables)")
    else:
        bad = int(np.count_nonzero(status))
        say(f"  integrals     {bad} of {status.size} did not converge ({status.shape[1]} per "
            f"draw)")
    problem_draws = (np.flatnonzero(np.any(status != 0, axis=1)) if status is not None
                     else np.zeros(0, int))
    probe = probe_posterior(target, seed, draws, also=zs[problem_draws])
    _posterior_lines(probe, say)
    generic = _failures(values, lps, grads, errors, layout)
    clean = grad_ok & (np.all(status == 0, axis=1) if status is not None else True)
    found = classify(dim, lps_qc if lps_qc is not None else lps, probe, problem_draws, clean)
    if len(found.draws):
        say(f"  reach         log densities more than {found.threshold:.3g} below the MAP's "
            f"hold no posterior mass (under 1e-9 for a Gaussian posterior in {dim} "
            f"dimensions, with a factor-2 margin)")
    rows = None
    if cost and finite.any():
        kind = "XLA-compiled" if jit else "tf.function graph, no XLA"
        rows = _cost(target, zs[finite], jit)
        per = ", ".join(f"{k} chain{'s' if k > 1 else ''} {t * 1e3:.3g} ms" for k, _, t in rows)
        first = ", ".join(f"{c:.1f} s" for _, c, _ in rows)
        say(f"  cost          one log density + gradient ({kind}, median at prior draws): "
            f"{per} (first call, with compilation: {first})")
    elif cost:
        say("  cost          not measured: no prior draw has a finite log density")
    problems, notes, advice = _verdict(values, status, found, probe, generic, draws, say)
    return PriorCheck(passed=not problems, problems=problems, notes=notes, advice=advice,
                      lines=lines, names=tuple(layout.names), dim=dim, draws=values,
                      unconstrained=zs, log_density=lps, gradient=grads, errors=errors,
                      statuses=status, posterior=probe, classified=found, cost=rows)


def _verdict(values, status, found, probe, generic, draws, echo):
    """Print failures, then notes, then the one-line result; return
    ``(problems, notes, advice)``."""
    width = len(str(draws - 1))
    failures = [(f"draw {i:>{width}}", f"{_point(values[i])}: {text}")
                for i, text in generic.items()]
    reachable, notes = [], []
    for j, i in enumerate(found.draws):
        if i in generic:
            continue  # listed already; non-finite values fail whatever the reach
        text = f"{_point(values[i])}: {_integral_text(found, j, status[i])}"
        (notes if found.ruled_out[j] else reachable).append((f"draw {i:>{width}}", text, j))
    failures += [(label, text + (": the posterior can reach it" if np.isfinite(found.lp_mode)
                                 else ": not classified (no accurate log density of the mode)")
                  ) for label, text, _ in reachable]
    failures += _posterior_failures(probe)
    if found.ref_error and len(found.draws):
        echo(f"  (the reference evaluation failed: {found.ref_error}; these draws count as "
             f"reachable)")
    echo("")
    if failures:
        echo(f"problems where the posterior can reach ({len(failures)}):")
        column = max(len(label) for label, _ in failures)
        for label, text in failures[:_MAX_LISTED]:
            echo(f"  {label:<{column}}  {text}")
        if len(failures) > _MAX_LISTED:
            echo(f"  ... and {len(failures) - _MAX_LISTED} more")
        echo("")
    if notes:
        echo(f"notes: {len(notes)} of {draws} prior draws have integrals that did not converge "
             f"where the data rule them out:")
        for label, text, _ in notes[:_MAX_LISTED]:
            echo(f"  {label}  {text}")
        if len(notes) > _MAX_LISTED:
            echo(f"  ... and {len(notes) - _MAX_LISTED} more")
        echo("  These say the prior reaches parameter values the data rule out, not that the "
             "fit is affected: the posterior holds no mass there, so these integrals do not "
             "enter the fit (with fit --init prior, a chain may start at such a point and "
             "leave it during warm-up). Tighten the priors of the parameters above towards "
             "the values the data allow to make the notes go away.")
        echo("")
    notes = [(label, text) for label, text, _ in notes]
    if failures:
        advice = _advice(found, [j for _, _, j in reachable], probe, bool(generic))
        echo(f"check: FAILED ({len(failures)} problem(s) where the posterior can reach: "
             f"{advice})")
        return failures, notes, advice
    if notes:
        echo(f"check: PASSED (no problem where the posterior can reach; {len(notes)} of "
             f"{draws} prior draws the data rule out have integrals that did not converge: "
             f"see the notes)")
    else:
        echo(f"check: PASSED (no problem at {draws} prior draws or in the posterior's region)")
    return failures, notes, ""
