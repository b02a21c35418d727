"""Can the posterior reach a prior draw?  Separates integrals that matter from ones that don't.

``bayesquad check`` evaluates a model at prior draws.  An integral that is not certified
(status not CONVERGED) at a prior draw matters only if the posterior can go there: quadrature
error changes the log density the sampler targets, and a change where the posterior has no
mass changes nothing the fit reports.  So a failing prior draw is classified by its log
density against the highest log density found (the MAP, found here):

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

This module belongs with the diagnostics; it is kept beside the command line until a later
issue moves it to a public ``bayesquad.diagnostics.prior_check`` (it uses the diagnostics'
private evaluation helpers meanwhile).
"""
import dataclasses

import numpy as np

__all__ = ["TAIL", "TOLERANCE", "REFERENCE_RTOL", "Classified", "PosteriorProbe", "classify",
           "evaluate", "probe_posterior", "reach", "ruled_out", "trusted_mode"]

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


def evaluate(working, layout, obs, obs_t, z, reference=False):
    """``(log density [n], statuses [n, k])`` at the rows of ``z``.

    Evaluated as the diagnostics' quadrature check does (the same walk to the integrals'
    statuses); ``reference=True`` recomputes every integral adaptively at
    :data:`REFERENCE_RTOL` (a fresh trace inside ``reference_settings``).
    """
    # pylint: disable=import-outside-toplevel,protected-access
    from bayesquad.diagnostics import _quadrature_check as qc
    from bayesquad.quadrature import reference_settings
    z = np.asarray(z)
    chunk = qc._chunk_size(len(z), obs)
    if reference:
        with reference_settings(rtol=REFERENCE_RTOL, max_evals_factor=8):
            lp, st = qc._evaluate(working, layout, obs_t, z, chunk)
    else:
        lp, st = qc._evaluate(working, layout, obs_t, z, chunk)
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


def _one_line(err):
    return f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"


def probe_posterior(working, layout, obs, obs_t, seed, n_laplace, also=None):
    """Find the MAP and evaluate the integrals there and at ``n_laplace`` Laplace draws.

    ``also`` (``[m, D]``, e.g. the prior draws with failing integrals) is evaluated at
    reference accuracy together with the MAP: one reference trace, which costs seconds (10 s
    for W1's mixture of two normalisers).  So the reference runs only when something asks
    for it: points in ``also``, or integrals at the MAP or Laplace draws that did not
    converge; otherwise the MAP's own converged integrals are taken as they are (the fit's
    quadrature check compares them with the reference at posterior draws).
    """
    from bayesquad._tf import tf  # pylint: disable=import-outside-toplevel
    from bayesquad.inference import _map  # pylint: disable=import-outside-toplevel
    dim = sum(layout.sizes)
    also = np.zeros((0, dim)) if also is None else np.asarray(also)
    try:
        starts = _map._starts(working, layout, obs, 4, seed)  # pylint: disable=protected-access
        # graph mode: one optimisation, where an XLA compile would dominate
        z, _, _, _, _, cov, message = _map.map_unconstrained(working, layout, obs,
                                                             starts=starts, jit=False)
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
        lp, status = evaluate(working, layout, obs, obs_t, points)
        probe.lp_map, probe.status_map = float(lp[0]), status[0]
        if probe.laplace_z is not None:
            probe.laplace_status = status[1:]
    ref_points = also if probe.z_map is None else np.concatenate([probe.z_map[None], also])
    in_posterior = probe.z_map is not None and (
        not probe.map_ok or (probe.laplace_status is not None and np.any(probe.laplace_status)))
    if len(also) or in_posterior:
        try:
            lp_ref, st_ref = evaluate(working, layout, obs, obs_t,
                                      ref_points.astype(layout.dtype.as_numpy_dtype),
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
