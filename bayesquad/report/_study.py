"""``write_study_html``: the report of an SBC or toy study, in the style of ``write_html``.

Rank histograms with the binomial band of each bin (Talts et al. 2018), ECDF-difference
plots with simultaneous bands (Säilynoja et al. 2022), pull and coverage tables, and the
fits that failed their verdict.
"""
import json
import pathlib
import time

import numpy as np

from bayesquad.diagnostics import ecdf_band, histogram_band
from bayesquad.report._format import esc, figure_html, kv_table, new_figure, note, table
from bayesquad.report._html import _CSS, write_page  # pylint: disable=protected-access

__all__ = ["write_study_html"]

_MAX_LISTED = 50


def _rank_figure(ds, test):
    params = list(ds.param.values)
    ok = ds.ok.values
    ranks = ds["rank"].values[ok]
    n, n_ranks, bins = ranks.shape[0], int(test.attrs["n_ranks"]), int(test.attrs["bins"])
    low, high = histogram_band(n, bins, level=0.99)
    z, e_low, e_high, _ = ecdf_band(n, n_ranks, level=float(test.attrs["ecdf_level"]))
    fig = new_figure(3.0 * len(params), 5.0)
    axes = fig.subplots(2, len(params), squeeze=False)
    k = np.round(z * n_ranks).astype(int)
    for j, p in enumerate(params):
        ax = axes[0, j]
        ax.axhspan(low, high, color="0.85", label="99 % band per bin")
        ax.axhline(n / bins, color="0.5", lw=0.8)
        ax.bar(np.arange(bins), test.counts.values[:, j], width=0.9, color="#3b6ea5")
        ax.set_title(f"{p}: χ² p = {float(test.p_value.values[j]):.3g}", fontsize=9)
        ax.set_xlabel(f"rank bin ({n_ranks // bins} ranks each)", fontsize=8)
        ax = axes[1, j]
        ecdf = np.mean(ranks[:, j][:, None] < k, axis=0)
        ax.fill_between(z, e_low - z, e_high - z, color="0.85", step="mid")
        ax.plot(z, ecdf - z, color="#3b6ea5", drawstyle="steps-mid")
        ax.axhline(0, color="0.5", lw=0.8)
        inside = bool(test.ecdf_inside.values[j])
        ax.set_title(f"ECDF − uniform ({'inside' if inside else 'OUTSIDE'} band)", fontsize=9)
        ax.set_xlabel("normalised rank", fontsize=8)
    axes[0, 0].set_ylabel("fits", fontsize=8)
    axes[1, 0].set_ylabel("ECDF difference", fontsize=8)
    return figure_html(fig, "rank histograms and ECDF differences",
                       f"{n} fits, ranks among {n_ranks - 1} draws. Top: grey band = "
                       f"central 99 % of Binomial({n}, 1/{bins}) per bin. Bottom: grey = "
                       f"{float(test.attrs['ecdf_level']):.0%} simultaneous band.")


def _tables(ds, test):
    ok = ds.ok.values
    rows = []
    for j, p in enumerate(ds.param.values):
        pull = ds.pull.values[ok, j]
        cov = ds.covered.values[ok, j, :].mean(axis=0)
        row = [str(p)]
        if test is not None:
            row += [float(test.chi2.values[j]), float(test.p_value.values[j]),
                    "yes" if bool(test.ecdf_inside.values[j]) else "NO"]
        row += [float(np.mean(pull)), float(np.std(pull, ddof=1)) if pull.size > 1 else np.nan]
        row += [f"{c:.3f} ({lv:g})" for c, lv in zip(cov, ds.level.values)]
        rows.append(row)
    head = ["param"] + (["χ²", "p value", "ECDF in band"] if test is not None else []) + \
        ["pull mean", "pull sd"] + [f"coverage {lv:.0%}" for lv in ds.level.values]
    return table(head, rows)


def _failed(ds):
    bad = np.flatnonzero(~ds.ok.values | ~ds.verdict_passed.values)
    if bad.size == 0:
        return note("Every fit ran and passed its verdict.")
    rows = []
    for j in bad[:_MAX_LISTED]:
        why = str(ds.error.values[j]) or str(ds.failed_checks.values[j])
        rows.append([int(ds.fit.values[j]), "error" if not ds.ok.values[j] else "failed",
                     str(ds.quadrature.values[j]), why[:300]])
    more = "" if bad.size <= _MAX_LISTED else note(f"{bad.size - _MAX_LISTED} more not listed.")
    return (note(f"{bad.size} of {ds.sizes['fit']} fits failed (an exception: excluded from "
                 f"the ranks) or failed their verdict (kept in the ranks: dropping them "
                 f"would bias the test).", "warn")
            + table(["fit", "status", "quadrature check", "why"], rows) + more)


def render_study_html(ds, title=None):
    """The report page of study ``ds`` (from :func:`bayesquad.calibration.load_study`)."""
    from bayesquad.calibration import rank_uniformity  # pylint: disable=import-outside-toplevel
    tic = time.perf_counter()
    settings = json.loads(ds.attrs["settings"])
    mode = settings["mode"]
    title = title or f"bayesquad {'SBC' if mode == 'sbc' else 'toy'} study"
    parts = []
    test = None
    if ds.ok.values.any():
        test = rank_uniformity(ds)
        if mode == "sbc":
            worst = float(test.p_value.min())
            parts.append(("ranks", "Rank uniformity",
                          note(f"Smallest χ² p value over parameters: {worst:.3g} "
                               f"({'uniform at the 0.01 level' if worst > 0.01 else 'NOT uniform at the 0.01 level'}).",
                               "info" if worst > 0.01 else "warn")
                          + _rank_figure(ds, test)))
        parts.append(("tables", "Calibration, pulls and coverage",
                      _tables(ds, test if mode == "sbc" else None)
                      + note("pull = (posterior mean − truth) / posterior sd; coverage = "
                             "fraction of fits whose central interval holds the truth.")))
    else:
        parts.append(("ranks", "Rank uniformity", note("No fit succeeded.", "warn")))
    parts.append(("failed", "Failed fits", _failed(ds)))
    quad = {s: int(np.sum(ds.quadrature.values == s)) for s in ("pass", "fail", "n/a")}
    timing = ds.time_s.values
    parts.append(("settings", "Study settings", kv_table([
        ("fits recorded", ds.sizes["fit"]), ("fits ok", int(ds.ok.sum())),
        ("mode", mode), ("method", settings["method"]),
        ("fit options", json.dumps(settings["fit_options"])),
        ("model file", settings["model_file"]), ("fit model file", settings["fit_model_file"]),
        ("seed", settings["seed"]), ("rank draws L", settings["rank_draws"]),
        ("buckets", str(settings["buckets"])),
        ("quadrature check", f"every {settings['check_quadrature']} fit(s): "
                             f"{quad['pass']} pass, {quad['fail']} fail, {quad['n/a']} not run"),
        ("built model reused", f"{int(ds.model_cached.sum())} of {ds.sizes['fit']} fits"),
        ("median time per fit (s)", float(np.nanmedian(timing)) if timing.size else np.nan),
        ("study directory", ds.attrs.get("study_directory", ""))])))
    toc = "".join(f"<li><a href=\"#{s}\">{esc(h)}</a></li>" for s, h, _ in parts)
    body = "\n".join(f"<section id=\"{s}\">\n<h2>{esc(h)}</h2>\n{b}\n</section>"
                     for s, h, b in parts)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            f"<h1>{esc(title)}</h1>\n<nav class=\"toc\"><strong>Contents</strong><ol>{toc}"
            f"</ol></nav>\n{body}\n<footer>Written by bayesquad.report.write_study_html on "
            f"{esc(time.strftime('%Y-%m-%d %H:%M:%S'))} in {time.perf_counter() - tic:.1f} s. "
            "Self-contained: no scripts, no external resources.</footer>\n</main>\n</body>\n"
            "</html>\n")


def write_study_html(study, path, *, title=None):
    """Write the self-contained HTML report of an SBC or toy study.

    Parameters
    ----------
    study : xarray.Dataset
        From :func:`bayesquad.calibrate` or :func:`bayesquad.calibration.load_study`.
    path : str or os.PathLike
        The HTML file (its directory must exist); written atomically.
    title : str, optional

    Returns
    -------
    pathlib.Path

    Notes
    -----
    Rank histograms and ECDF plots are drawn for SBC studies only (toys have no prior to
    rank); their tests are unreliable below ~50 fits. Failed fits are listed (at most 50).
    """
    if not hasattr(study, "data_vars") or "rank" not in getattr(study, "data_vars", {}):
        raise TypeError(f"study must be the xarray.Dataset of bayesquad.calibrate / "
                        f"load_study, got {type(study).__name__}")
    path = pathlib.Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"path {str(path)!r}: directory {str(path.parent)!r} does not exist")
    return write_page(path, render_study_html(study, title))
