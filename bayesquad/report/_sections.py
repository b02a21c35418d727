"""The report's sections as HTML fragments; each says why it is absent when it does not apply."""
import math
import re
import warnings

import numpy as np

from bayesquad.report import _plots
from bayesquad.report._format import (esc, figure_html, fmt, kv_table, note, param_elements,
                                      table)

__all__ = ["inference_kind", "verdict_section", "summary_section", "trace_section",
           "pair_section", "energy_section", "optimisation_section", "quadrature_section",
           "loo_section", "metadata_section", "EXPLAIN"]

#: What each check means when it fails, in plain words.
EXPLAIN = {
    "r_hat": "R-hat compares the spread within each chain with the spread between chains. "
             "Above the threshold the chains have not settled on the same distribution, so "
             "the posterior summaries cannot be trusted yet: run longer chains or "
             "reparameterise the model.",
    "ess_bulk": "The bulk effective sample size is how many independent draws the chains "
                "are worth for means and medians. Too few make those estimates noisy: draw "
                "more.",
    "ess_tail": "The tail effective sample size is the same for the 5 % and 95 % quantiles: "
                "with too few, credible intervals are unreliable. Draw more.",
    "divergences": "A divergent transition means the sampler met curvature it could not "
                   "follow. The regions it avoided are missing from the draws, which biases "
                   "the posterior: reparameterise (e.g. non-centred) or raise target_accept.",
    "e_bfmi": "A low E-BFMI (energy Bayesian fraction of missing information) means the "
              "sampler's momentum resampling explores the energy distribution poorly, so "
              "chains can miss parts of a heavy-tailed posterior: reparameterise.",
    "tree_depth": "Transitions that hit the maximum tree depth were cut short: sampling is "
                  "inefficient and may explore poorly. Raise max_tree_depth or "
                  "reparameterise.",
    "quadrature": "The integrals in the likelihood were recomputed at posterior draws with "
                  "a much tighter tolerance. A change of the log density above the "
                  "tolerance means the integrals used in the fit were not accurate enough "
                  "and may have moved the posterior: raise nodes/panels or use an adaptive "
                  "method.",
    "loo_pareto_k": "A high Pareto k marks an observation whose removal would change the "
                    "posterior a lot; for it the PSIS-LOO estimate is unreliable. Such "
                    "points may be outliers or a sign of a misspecified model. It is a "
                    "warning about LOO, not a failed fit, unless diagnose was asked to "
                    "gate on it (gate_on_loo=True).",
    "vi_converged": "The ELBO was still changing at the end of the optimisation: the "
                    "variational approximation has not converged. Raise steps.",
    "map_converged": "The optimiser stopped before it reached a proper mode: the MAP point "
                     "and its Laplace approximation may be wrong.",
}


def inference_kind(dt):
    kind = dt.attrs.get("inference")
    if kind:
        return str(kind)
    return "nuts" if "sample_stats" in dt.children else "unknown"


def _has_draws(dt):
    if "posterior" not in dt.children:
        return False
    post = dt.posterior
    return bool(post.data_vars) and post.sizes.get("chain", 0) * post.sizes.get("draw", 0) > 0


def _num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def verdict_section(verdict, source, error=None):
    """Banner (pass/fail, failed checks explained) and the table of every check."""
    if verdict is None:
        return (f"<div class=\"banner unknown\"><strong>No verdict</strong>: "
                f"{esc(error or 'diagnose did not run')}</div>")
    failed, not_run, warned = verdict.failed, verdict.not_run, verdict.warnings
    if failed:
        cls, head = "fail", f"FAILED: {len(failed)} of {len(verdict)} checks failed"
    else:
        ran = len(verdict) - len(not_run) - len(warned)
        cls, head = "pass", f"PASSED: all {ran} checks that ran passed"
        if warned:
            head += f", {len(warned)} warning{'s' if len(warned) > 1 else ''}"
    parts = [f"<div class=\"banner {cls}\"><strong>{esc(head)}</strong>"]
    if not_run:
        parts.append(f"<br>{esc(len(not_run))} not run: "
                     + esc(", ".join(c.name for c in not_run)))
    if warned:
        parts.append("<br>warnings (they do not fail the verdict): "
                     + esc(", ".join(c.name for c in warned)))
    parts.append("</div>")
    for title, group in (("failed", failed), ("warned", warned)):
        if not group:
            continue
        items = []
        for c in group:
            items.append(f"<li><strong>{esc(c.name)}</strong> (value "
                         f"{fmt(_num(c.value), strip=True)}, threshold "
                         f"{fmt(_num(c.threshold), strip=True)}): "
                         f"{esc(named_statuses(c.message))}"
                         f"<br><span class=\"explain\">{esc(EXPLAIN.get(c.name, ''))}</span>"
                         f"</li>")
        parts.append(f"<ul class=\"{title}\">" + "".join(items) + "</ul>")
    rows = []
    for c in verdict.checks:
        status = {"pass": "pass", "FAIL": "fail", "n/a": "na", "warn": "warn"}[c.status]
        rows.append((esc(c.name), fmt(_num(c.value), strip=True),
                     fmt(_num(c.threshold), strip=True),
                     f"<span class=\"status {status}\">{esc(c.status)}</span>",
                     esc(named_statuses(c.message))))
    parts.append(table(("check", "value", "threshold", "status", "message"), rows,
                       raw_cols=(0, 1, 2, 3, 4)))
    parts.append(f"<p class=\"small\">Verdict source: {esc(source)}.</p>")
    return "\n".join(parts)


def summary_section(dt, kind, max_rows=60):
    import arviz as az
    if not _has_draws(dt):
        return note("Not available: the DataTree has no posterior draws"
                    + (" (find_map stores Laplace draws only when the Hessian is positive "
                       "definite and laplace_draws > 0)." if kind == "map" else "."), "absent")
    mcmc = kind not in ("vi", "map")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = az.summary(dt, round_to="none", kind="all" if mcmc else "stats")
    except Exception as err:  # pylint: disable=broad-except
        return note(f"The summary could not be computed ({type(err).__name__}: {err}).",
                    "absent")
    cols = list(s.columns)
    rows = [(str(idx),) + tuple(float(v) for v in s.loc[idx]) for idx in s.index[:max_rows]]
    parts = [table(["parameter"] + cols, rows)]
    if len(s.index) > max_rows:
        parts.append(note(f"First {max_rows} of {len(s.index)} rows shown."))
    iv = [c for c in cols if c.endswith("_lb")]
    if iv:
        parts.append(note(f"{iv[0][:-3]}: equal-tailed credible interval bounds (lb/ub)."
                          + (" ess_bulk/ess_tail: effective sample sizes; mcse: Monte Carlo "
                             "standard error of the mean and sd." if mcmc else "")))
    if not mcmc:
        parts.append(note(f"{kind.upper()} draws are independent draws from an "
                          "approximation of the posterior: r_hat, ESS and MCSE do not apply "
                          "and are omitted."))
    return "\n".join(parts)


def _diverging(dt):
    if "sample_stats" in dt.children and "diverging" in dt.sample_stats.data_vars:
        return np.asarray(dt.sample_stats["diverging"].values, bool)
    return None


def trace_section(dt, kind, max_params=8):
    if kind in ("vi", "map"):
        return note(f"Not shown: trace and rank plots apply to MCMC chains; a {kind.upper()} "
                    "run's draws are independent draws from its approximation.", "absent")
    if not _has_draws(dt):
        return note("Not available: the DataTree has no posterior draws.", "absent")
    elements = param_elements(dt.posterior)
    shown = elements[:max_params]
    parts = [note("Left: the distribution of each chain; middle: the draws in order, which "
                  "should look like stationary noise with the chains overlapping; right: "
                  "histograms of each chain's draws ranked among all chains, which should "
                  "be flat (dashed line) when the chains mix well.")]
    parts.append(figure_html(_plots.trace_rank_figure(dt.posterior, shown, _diverging(dt)),
                             "trace and rank plots"))
    if len(elements) > len(shown):
        parts.append(note(f"First {len(shown)} of {len(elements)} parameter elements shown "
                          "(scalars first, the first elements of vector parameters)."))
    return "\n".join(parts)


def pair_section(dt, kind, max_params=6):
    if not _has_draws(dt):
        return note("Not available: the DataTree has no posterior draws.", "absent")
    elements = param_elements(dt.posterior)
    if len(elements) < 2:
        return note("Not shown: a pair plot needs at least two parameter elements.", "absent")
    shown = elements[:max_params]
    div = _diverging(dt)
    parts = []
    if div is not None:
        n_div = int(div.sum())
        parts.append(note(f"{n_div} divergent transitions (red crosses). Divergences that "
                          "cluster in one region (often a narrow neck) show where the "
                          "sampler fails." if n_div else
                          "No divergent transitions (they would show as red crosses)."))
    else:
        parts.append(note(f"{kind.upper()} draws: no sampler, so no divergences to mark."))
    parts.append(figure_html(_plots.pair_figure(dt.posterior, shown, div),
                             "pair plot of posterior draws"))
    if len(elements) > len(shown):
        parts.append(note(f"First {len(shown)} of {len(elements)} parameter elements shown."))
    return "\n".join(parts)


def energy_section(dt, kind):
    import arviz as az
    if kind in ("vi", "map"):
        return note(f"Not shown: energy diagnostics apply to Hamiltonian Monte Carlo; a "
                    f"{kind.upper()} run has no sampler energy.", "absent")
    if "sample_stats" not in dt.children or "energy" not in dt.sample_stats.data_vars:
        return note("Not available: the DataTree has no sample_stats.energy.", "absent")
    energy = dt.sample_stats["energy"].values
    parts = [note("E-BFMI compares the energy transitions with the marginal energy "
                  "distribution; values below 0.3 mean momentum resampling explores the "
                  "posterior poorly. The two histograms should have similar widths.")]
    parts.append(figure_html(_plots.energy_figure(energy), "energy plot"))
    try:
        bfmi = np.asarray(az.bfmi(dt)["energy"].values, float).ravel()
        parts.append(table(("chain", "E-BFMI", "status"),
                           [(c, float(b), "pass" if b >= 0.3 else "low (< 0.3)")
                            for c, b in enumerate(bfmi)]))
    except Exception as err:  # pylint: disable=broad-except
        parts.append(note(f"E-BFMI could not be computed ({type(err).__name__}: {err})."))
    return "\n".join(parts)


def optimisation_section(dt, kind):
    """ELBO trace for VI, the MAP point and optimiser status for MAP."""
    attrs = dt.attrs
    if kind == "vi":
        parts = [kv_table([("family", attrs.get("family")), ("steps", attrs.get("steps")),
                           ("converged", bool(attrs.get("vi_converged", 0))),
                           ("relative ELBO change", attrs.get("vi_relative_change")),
                           ("final ELBO (mean of the last window)", attrs.get("final_elbo"))])]
        if "vi" in dt.children and "elbo" in dt["vi"].data_vars:
            parts.append(figure_html(_plots.elbo_figure(dt["vi"]["elbo"].values),
                                     "ELBO trace"))
        else:
            parts.append(note("No ELBO trace stored (no vi group with an elbo variable).",
                              "absent"))
        return "\n".join(parts)
    rows = [(k[len("map_"):], v) for k, v in attrs.items()
            if k.startswith("map_") and k not in ("map_converged", "map_message",
                                                  "map_log_prob")]
    parts = [kv_table([("converged", bool(attrs.get("map_converged", 0))),
                       ("optimiser message", attrs.get("map_message")),
                       ("log density at the mode", attrs.get("map_log_prob"))])]
    if rows:
        parts.append("<h3>MAP point</h3>" + table(("parameter", "value"), rows))
    parts.append(note("The posterior summary and plots of this report use draws of the "
                      "Laplace approximation, not the MAP point alone."))
    parts.append(note("The Laplace approximation (a Gaussian at the mode in the "
                      "unconstrained space) is unreliable for skewed or multimodal posteriors "
                      "and for modes on a boundary."))
    return "\n".join(parts)


def quadrature_section(dt, verdict):
    check = None
    if verdict is not None:
        check = next((c for c in verdict.checks if c.name == "quadrature"), None)
    settings = dt.attrs.get("quadrature_settings")
    intro = note("Every integral in the likelihood was recomputed at a random subsample of "
                 "posterior draws with all integrals adaptive at a much tighter tolerance. "
                 "If the log density changes by less than the tolerance, quadrature error "
                 "cannot have moved the posterior.")
    if check is None:
        return intro + note("No quadrature check in the verdict.", "absent")
    msg = str(check.message)
    status = {"pass": "passed", "FAIL": "FAILED", "n/a": "not run / inconclusive",
              "warn": "warning"}[check.status]
    rows = [("status", status), ("largest |change| of the log density", _num(check.value)),
            ("tolerance", _num(check.threshold))]
    m = re.search(r"over (\d+) draws \(at chain (\d+), draw (\d+)\)", msg)
    if m:
        rows += [("draws re-evaluated", int(m.group(1))),
                 ("worst draw", f"chain {m.group(2)}, draw {m.group(3)}")]
    m = re.search(r"rtol=([^\s;)]+)", msg)
    if m:
        rows.append(("reference tolerance (rtol)", m.group(1)))
    m = re.search(r"(\d+) of (\d+) integrals did not converge in the run", msg)
    if m:
        rows.append(("integrals not converged in the run", f"{m.group(1)} of {m.group(2)}"))
    for code in _status_codes(msg):
        rows.append((f"status {_status_name(code)}", _status_text(code)))
    if settings is not None:
        rows.append(("quadrature settings of the run", settings))
    parts = [intro, kv_table(rows),
             "<p class=\"small\">Details: " + esc(named_statuses(msg)) + "</p>",
             _plans_table(dt, check)]
    if check.passed is None and "not run" in msg:
        parts.append(note("The check needs the model, which a DataTree read from disk does "
                          "not carry: rebuild the report with the model (write_html(..., "
                          "model=...) or the CLI with the model file) to run it.", "warn"))
    elif check.passed is False:
        parts.append(note(EXPLAIN["quadrature"], "warn"))
    return "\n".join(parts)


def _plans_table(dt, check):
    """The fit's quadrature plans: which frozen rule each integral used, what the planner
    measured, and what the check certified at posterior draws."""
    import json  # pylint: disable=import-outside-toplevel
    text = dt.attrs.get("quadrature_plans")
    if not text:
        return ""
    data = json.loads(text)
    plans, report = data.get("plans", {}), data.get("report", {})
    meta = report.get("meta", {})
    if not plans:
        why = meta.get("rejected") or ("plans were not asked for" if meta.get("configured")
                                       else "no integral with default settings to plan")
        return note(f"Quadrature plans: none ({why}); every integral ran as configured.")
    certified = ("certified at posterior draws by the check above"
                 if check is not None and check.passed else "not certified (see the check)")
    rows = []
    for key, plan in sorted(plans.items()):
        entry = report.get("integrals", {}).get(key, {})
        # "error_vs_finest": the name in DataTrees written before plans were measured
        # against the reference
        measured = entry.get("error_vs_reference", entry.get("error_vs_finest"))
        rows.append((key, f"{plan['description']} ({plan['cost']} evaluations per integral)"
                     + (f"; planned at {meta.get('points')} points, |Δ log p| ≤ "
                        f"{_num(measured)}" if measured is not None else "")))
    rows.append(("certification", certified))
    return "<h3>Quadrature plans</h3>" + kv_table(rows)


def _loo_one(dt, var):
    # shared with diagnose(): the same arrays are not run through PSIS twice
    from bayesquad.diagnostics import _loo  # pylint: disable=import-outside-toplevel
    return _loo.loo(dt, var)


#: Largest number of pointwise terms for which the report recomputes LOO.  ArviZ 1.3 runs
#: PSIS observation by observation in Python (~0.3-0.6 ms each here: 20,000 events take
#: 6-13 s); beyond this the report shows the verdict's LOO check instead.
LOO_MAX_TERMS = 50_000


def loo_section(dt, kind, verdict=None):
    if "log_likelihood" not in dt.children:
        if kind in ("vi", "map"):
            why = "VI and MAP runs store no pointwise log-likelihood"
        elif str(dt.attrs.get("log_likelihood_thin", "")) == "0":
            why = ("the fit ran with log_likelihood=False, as for a likelihood that is not a "
                   "sum over observations, e.g. one Poisson-process realisation")
        else:
            why = "sample with log_likelihood=True to store it"
        return note(f"Not available: no log_likelihood group ({why}).", "absent")
    ll = dt.log_likelihood
    parts = [note("PSIS-LOO estimates the expected log predictive density for new data "
                  "(elpd_loo, higher is better; p_loo is the effective number of "
                  "parameters). Pareto k flags observations for which the importance "
                  "sampling is unreliable: k above 'good k' is bad, above 1 very bad.")]
    thin = dt.attrs.get("log_likelihood_thin")
    if thin is not None and int(thin) > 1:
        parts.append(note(f"The pointwise log-likelihood was stored for every {int(thin)}th "
                          "draw (to bound memory): LOO is unbiased but noisier."))
    rows, figs = [], []
    for var in ll.data_vars:
        n_terms = int(np.prod([n for d, n in ll[var].sizes.items()
                               if d not in ("chain", "draw")], dtype=int))
        if n_terms < 2:
            parts.append(note(f"{var}: LOO does not apply ({n_terms} pointwise term; "
                              "leaving out the only term leaves no data).", "absent"))
            continue
        if n_terms > LOO_MAX_TERMS:
            check = None if verdict is None else next(
                (c for c in verdict.checks if c.name == "loo_pareto_k"), None)
            parts.append(note(f"{var}: {n_terms} pointwise terms, more than the report "
                              f"recomputes LOO for ({LOO_MAX_TERMS}); no Pareto k plot. "
                              + (f"The verdict's check over all of them: {check.message}"
                                 if check is not None else "Run arviz.loo on the DataTree "
                                 "for the full result."), "absent"))
            continue
        try:
            res = _loo_one(dt, var)
        except Exception as err:  # pylint: disable=broad-except
            parts.append(note(f"{var}: LOO failed ({type(err).__name__}: {err}).", "absent"))
            continue
        k = np.asarray(res.pareto_k).ravel()
        good = float(getattr(res, "good_k", 0.7) or 0.7)
        n_good = int(np.sum(k <= good))
        n_bad = int(np.sum((k > good) & (k <= 1)))
        n_vbad = int(np.sum(k > 1))
        rows.append((str(var), float(res.elpd), float(res.se), float(res.p), k.size, good,
                     n_good, n_bad, n_vbad, float(np.nanmax(k)) if k.size else math.nan))
        figs.append(f"<h3>Pareto k: {esc(var)}</h3>"
                    + figure_html(_plots.pareto_k_figure(k, good), f"Pareto k of {var}"))
    if rows:
        parts.append(table(("variable", "elpd_loo", "se", "p_loo", "observations", "good k",
                            "k <= good", "good < k <= 1", "k > 1", "max k"), rows))
    parts.extend(figs)
    return "\n".join(parts)


_STATUS_CODES = re.compile(r"status codes \[([0-9,\s]*)\]")


def _status_codes(text):
    """The integral status codes listed as ``status codes [1, 3]`` in a check's message."""
    m = _STATUS_CODES.search(str(text))
    return [int(c) for c in re.findall(r"\d+", m.group(1))] if m else []


def _status_name(code):
    from bayesquad.quadrature import Status  # pylint: disable=import-outside-toplevel
    try:
        return Status(code).name
    except ValueError:
        return f"unknown status {code}"


def _status_text(code):
    from bayesquad.quadrature import status_message  # pylint: disable=import-outside-toplevel
    try:
        return status_message(code)
    except ValueError as err:
        return str(err)


def named_statuses(text):
    """``text`` with ``status codes [1, 3]`` spelt as status names, for readers."""
    return _STATUS_CODES.sub(
        lambda m: "statuses " + ", ".join(_status_name(int(c))
                                          for c in re.findall(r"\d+", m.group(1))),
        str(text))


_VERSION = re.compile(r"_version$")
_TIME = re.compile(r"_time_s$")
_SKIP = ("bayesquad_verdict", "bayesquad_ppc_message")


def metadata_section(dt):
    attrs = {k: v for k, v in dt.attrs.items() if k not in _SKIP}
    if not attrs:
        return note("The DataTree has no run metadata (attrs).", "absent")
    versions = [(k[:-len("_version")], v) for k, v in attrs.items() if _VERSION.search(k)]
    times = [(k[:-len("_time_s")].replace("_", " ") + " (s)", v) for k, v in attrs.items()
             if _TIME.search(k)]
    other = [(k, v) for k, v in attrs.items()
             if not _VERSION.search(k) and not _TIME.search(k)]
    parts = []
    if versions:
        parts.append("<h3>Versions</h3>" + kv_table(versions))
    if times:
        parts.append("<h3>Timings</h3>" + kv_table(times))
    if other:
        parts.append("<h3>Settings and run information</h3>" + kv_table(other))
    groups = ", ".join(str(g) for g in dt.children)
    parts.append(f"<p class=\"small\">Groups in the DataTree: {esc(groups)}.</p>")
    return "\n".join(parts)
