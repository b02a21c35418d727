"""The report's sections as HTML fragments; each says why it is absent when it does not apply."""
import re
import warnings

import numpy as np

from bayesquad.report import _plots
from bayesquad.report._format import (esc, figure_html, fmt, kv_table, note, param_elements,
                                      table)

__all__ = ["inference_kind", "verdict_section", "summary_section", "trace_section",
           "pair_section", "energy_section", "optimisation_section", "quadrature_section",
           "loo_section", "metadata_section"]

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
                         f"{esc(c.message)}"
                         f"<br><span class=\"explain\">{esc(c.explanation)}</span>"
                         f"</li>")
        parts.append(f"<ul class=\"{title}\">" + "".join(items) + "</ul>")
    rows = []
    for c in verdict.checks:
        status = {"pass": "pass", "FAIL": "fail", "n/a": "na", "warn": "warn"}[c.status]
        rows.append((esc(c.name), fmt(_num(c.value), strip=True),
                     fmt(_num(c.threshold), strip=True),
                     f"<span class=\"status {status}\">{esc(c.status)}</span>",
                     esc(c.message)))
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


def _check(verdict, name):
    return None if verdict is None else next((c for c in verdict.checks if c.name == name),
                                             None)


def quadrature_section(dt, verdict):
    """The quadrature check's fields: change, tolerance, draws, statuses, plans."""
    check = _check(verdict, "quadrature")
    settings = dt.attrs.get("quadrature_settings")
    intro = note("Every integral in the likelihood was recomputed at a random subsample of "
                 "posterior draws with all integrals adaptive at a much tighter tolerance. "
                 "If the log density changes by less than the tolerance, quadrature error "
                 "cannot have moved the posterior.")
    if check is None:
        return intro + note("No quadrature check in the verdict.", "absent")
    d = check.details
    status = {"pass": "passed", "FAIL": "FAILED", "n/a": "not run / inconclusive",
              "warn": "warning"}[check.status]
    rows = [("status", status), ("largest |change| of the log density", _num(check.value)),
            ("tolerance", _num(check.threshold))]
    if "draws" in d:
        rows.append(("draws re-evaluated", d["draws"]))
    if "worst" in d:
        rows.append(("worst draw", f"chain {d['worst']['chain']}, draw {d['worst']['draw']}"))
    if "rtol" in d:
        rows.append(("reference tolerance (rtol)", f"{d['rtol']:g}"))
    if d.get("n_integrals"):
        rows.append(("integrals not converged in the run",
                     f"{d['n_not_converged']} of {d['n_integrals']}"))
    for code in d.get("status_codes", ()):
        rows.append((f"status {_status_name(code)}", _status_text(code)))
    if settings is not None:
        rows.append(("quadrature settings of the run", settings))
    parts = [intro, kv_table(rows),
             "<p class=\"small\">Details: " + esc(check.message) + "</p>",
             _plans_table(dt, check)]
    if d.get("not_run") == "no_model":
        parts.append(note("The check needs the model, which a DataTree read from disk does "
                          "not carry: rebuild the report with the model (write_html(..., "
                          "model=...) or the CLI with the model file) to run it.", "warn"))
    elif check.passed is False:
        parts.append(note(check.explanation, "warn"))
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


#: Largest number of pointwise terms for which the report plots Pareto k, and recomputes
#: LOO when the verdict carries none (ArviZ 1.3 runs PSIS observation by observation in
#: Python, ~0.3-0.6 ms each here: 20,000 events take 6-13 s); beyond it the report shows
#: the verdict's numbers without a plot.
LOO_MAX_TERMS = 50_000


def loo_section(dt, kind, verdict=None):
    """elpd, p_loo and Pareto k per variable, from the verdict's ``loo_pareto_k`` details."""
    if "log_likelihood" not in dt.children:
        if kind in ("vi", "map"):
            why = "VI and MAP runs store no pointwise log-likelihood"
        elif str(dt.attrs.get("log_likelihood_thin", "")) == "0":
            why = ("the fit ran with log_likelihood=False, as for a likelihood that is not a "
                   "sum over observations, e.g. one Poisson-process realisation")
        else:
            why = "sample with log_likelihood=True to store it"
        return note(f"Not available: no log_likelihood group ({why}).", "absent")
    parts = [note("PSIS-LOO estimates the expected log predictive density for new data "
                  "(elpd_loo, higher is better; p_loo is the effective number of "
                  "parameters). Pareto k flags observations for which the importance "
                  "sampling is unreliable: k above 'good k' is bad, above 1 very bad.")]
    thin = dt.attrs.get("log_likelihood_thin")
    if thin is not None and int(thin) > 1:
        parts.append(note(f"The pointwise log-likelihood was stored for every {int(thin)}th "
                          "draw (to bound memory): LOO is unbiased but noisier."))
    # the verdict's LOO check ran PSIS (seconds for W1's 20,000 events): read, not rerun
    ll = dt.log_likelihood
    sizes = {str(v): int(np.prod([n for d, n in ll[v].sizes.items()
                                  if d not in ("chain", "draw")], dtype=int))
             for v in ll.data_vars}
    stored = _check(verdict, "loo_pareto_k")
    details = {} if stored is None else stored.details.get("variables", {})
    missing = [v for v, n in sizes.items() if v not in details and 2 <= n <= LOO_MAX_TERMS]
    if missing:
        # a verdict given by hand, or stored by an earlier bayesquad: no LOO details
        from bayesquad.diagnostics import loo_check  # pylint: disable=import-outside-toplevel
        fresh = loo_check(dt, var_names=missing).details.get("variables", {})
        details = {**details, **fresh}
    rows, figs = [], []
    for var, n_terms in sizes.items():
        d = details.get(var)
        if n_terms < 2:
            parts.append(note(f"{var}: LOO does not apply ({n_terms} pointwise term; "
                              "leaving out the only term leaves no data).", "absent"))
            continue
        if d is None:
            said = "" if stored is None else f" The verdict's check: {stored.message}"
            parts.append(note(f"{var}: {n_terms} pointwise terms, more than the report "
                              f"recomputes LOO for ({LOO_MAX_TERMS}), and the verdict has no "
                              f"LOO details for it: run arviz.loo on the DataTree.{said}",
                              "absent"))
            continue
        if d["status"] == "failed":
            parts.append(note(f"{var}: LOO failed ({d['error']}).", "absent"))
            continue
        rows.append((var, d["elpd"], d["se"], d["p_loo"], d["n_terms"], d["good_k"],
                     d["n_good"], d["n_bad"], d["n_very_bad"], d["max_k"]))
        if d.get("pareto_k") is None or n_terms > LOO_MAX_TERMS:
            parts.append(note(f"{var}: {n_terms} pointwise terms, more than the report "
                              f"recomputes LOO for ({LOO_MAX_TERMS}); no Pareto k plot (the "
                              "table holds the verdict's values).", "absent"))
            continue
        k = np.asarray(d["pareto_k"], float)
        figs.append(f"<h3>Pareto k: {esc(var)}</h3>"
                    + figure_html(_plots.pareto_k_figure(k, d["good_k"]), f"Pareto k of {var}"))
    if rows:
        parts.append(table(("variable", "elpd_loo", "se", "p_loo", "observations", "good k",
                            "k <= good", "good < k <= 1", "k > 1", "max k"), rows))
    parts.extend(figs)
    return "\n".join(parts)


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
