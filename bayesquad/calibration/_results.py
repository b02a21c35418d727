"""A study's records as an xarray Dataset, and its calibration tests."""
import json
import os

import numpy as np
import xarray as xr

from bayesquad.calibration._store import StudyStore
from bayesquad.diagnostics import ecdf_band, ecdf_inside, rank_bins, rank_chi2

__all__ = ["load_study", "rank_uniformity"]


def _labels(records, params):
    """Coordinate labels: ``a`` for a scalar parameter, ``a[0]``, ``a[1]``... for vectors."""
    for rec in records:
        if rec.get("status") == "ok":
            out = []
            for p in params:
                size = np.size(rec["truth"][p])
                shape = np.shape(rec["truth"][p])
                out += [p] if shape == () else [f"{p}[{i}]" for i in range(size)]
            return out
    return list(params)


def _flat(rec, key, params):
    return np.concatenate([np.ravel(rec[key][p]) for p in params]).astype(float)


def load_study(directory, n_fits=None):
    """Read a study directory into an ``xarray.Dataset``.

    Parameters
    ----------
    directory : str or os.PathLike
        Written by :func:`bayesquad.calibrate`.
    n_fits : int, optional
        Read only fits ``0..n_fits-1`` (default: every record).

    Returns
    -------
    xarray.Dataset
        Dims ``fit`` (the fit indices found), ``param`` (names; vector parameters as
        ``name[i]``), ``level`` (central interval levels). Variables: ``truth``, ``rank``
        (-1 for failed fits), ``mean``, ``sd``, ``pull`` (``(mean - truth) / sd``),
        ``covered``; per fit ``ok`` (the fit ran), ``verdict_passed``, ``quadrature``
        (status of the quadrature check: pass, fail, n/a), ``failed_checks``, ``error``,
        ``sim_seed``, ``fit_seed``, ``n_rows`` and ``padded_to`` (of the first padded key,
        else -1), ``model_cached``, ``compile_time_s``, ``fit_time_s``, ``time_s``,
        ``worker_pid``. Attrs: the study's settings (``settings``, JSON), ``max_rank``,
        ``mode``, ``method``.

    Notes
    -----
    Fits still running (or lost) are simply absent: check ``ds.sizes["fit"]``.
    """
    directory = os.fspath(directory)
    path = os.path.join(directory, "study.json")
    if not os.path.exists(path):
        raise ValueError(f"{directory!r} is not a study directory (no study.json); pass the "
                         f"out= directory of bayesquad.calibrate")
    with open(path, encoding="utf-8") as f:
        settings = json.load(f)
    store = StudyStore(directory, settings)
    recs = store.read_all(n_fits)
    index = sorted(recs)
    records = [recs[i] for i in index]
    params = settings["params"]
    labels = _labels(records, params)
    levels = settings["levels"]
    n, p, k = len(index), len(labels), len(levels)
    data = {name: np.full((n, p), np.nan) for name in ("truth", "mean", "sd")}
    rank = np.full((n, p), -1, np.int64)
    covered = np.zeros((n, p, k), bool)
    per_fit = {"ok": np.zeros(n, bool), "verdict_passed": np.zeros(n, bool),
               "quadrature": np.full(n, "n/a", object), "failed_checks": np.full(n, "", object),
               "error": np.full(n, "", object), "sim_seed": np.zeros(n, np.int64),
               "fit_seed": np.zeros(n, np.int64), "n_rows": np.full(n, -1, np.int64),
               "padded_to": np.full(n, -1, np.int64), "model_cached": np.zeros(n, bool),
               "compile_time_s": np.full(n, np.nan), "fit_time_s": np.full(n, np.nan),
               "time_s": np.full(n, np.nan), "worker_pid": np.zeros(n, np.int64)}
    for j, rec in enumerate(records):
        per_fit["sim_seed"][j], per_fit["fit_seed"][j] = rec["sim_seed"], rec["fit_seed"]
        per_fit["time_s"][j], per_fit["worker_pid"][j] = rec["time_s"], rec["worker_pid"]
        if rec.get("n_rows"):
            per_fit["n_rows"][j] = next(iter(rec["n_rows"].values()))
            per_fit["padded_to"][j] = next(iter(rec["padded_to"].values()))
        if rec.get("status") != "ok":
            per_fit["error"][j] = rec.get("error", "")
            continue
        per_fit["ok"][j] = True
        for name in ("truth", "mean", "sd"):
            data[name][j] = _flat(rec, name, params)
        rank[j] = _flat(rec, "rank", params).astype(np.int64)
        covered[j] = np.stack([np.concatenate([np.ravel(rec["covered"][q][i]) for q in params])
                               for i in range(k)], axis=-1)
        verdict = rec["verdict"]
        per_fit["verdict_passed"][j] = verdict["passed"]
        per_fit["quadrature"][j] = verdict["checks"].get("quadrature", "n/a").lower()
        per_fit["failed_checks"][j] = "; ".join(verdict["failed"])
        per_fit["model_cached"][j] = rec["model_cached"]
        per_fit["compile_time_s"][j] = rec["compile_time_s"]
        per_fit["fit_time_s"][j] = rec["fit_time_s"]
    pull = (data["mean"] - data["truth"]) / data["sd"]
    fp = ("fit", "param")
    ds = xr.Dataset(
        {**{name: (fp, v) for name, v in data.items()}, "rank": (fp, rank), "pull": (fp, pull),
         "covered": (fp + ("level",), covered),
         **{name: ("fit", v.astype(str) if v.dtype == object else v)
            for name, v in per_fit.items()}},
        coords={"fit": np.asarray(index, np.int64), "param": labels,
                "level": np.asarray(levels, float)},
        attrs={"settings": json.dumps(settings, sort_keys=True),
               "max_rank": int(settings["rank_draws"]), "mode": settings["mode"],
               "method": settings["method"], "study_directory": os.path.abspath(directory)})
    return ds


def rank_uniformity(study, bins=None, level=0.95):
    """Per-parameter tests that the ranks of a study are uniform.

    Parameters
    ----------
    study : xarray.Dataset
        From :func:`bayesquad.calibrate` / :func:`load_study`.
    bins : int, optional
        Histogram bins (must divide ``max_rank + 1``; default
        :func:`bayesquad.diagnostics.rank_bins`).
    level : float
        Level of the ECDF's simultaneous band.

    Returns
    -------
    xarray.Dataset
        Per ``param``: ``chi2``, ``p_value`` (Pearson, ``bins - 1`` degrees of freedom),
        ``ecdf_inside`` (the ECDF stays in its simultaneous band); ``counts`` over
        ``bin``. Attrs ``n_fits`` (successful fits used), ``bins``, ``n_ranks``.

    Notes
    -----
    Uses successful fits only (``ok``). With fewer than ~50 fits neither test can see
    moderate miscalibration; a pass is evidence of calibration only at the study's size.
    """
    ok = study["ok"].values
    ranks = study["rank"].values[ok]
    n_ranks = int(study.attrs["max_rank"]) + 1
    if ranks.shape[0] == 0:
        raise ValueError("the study has no successful fit: nothing to test")
    bins = rank_bins(n_ranks, ranks.shape[0]) if bins is None else int(bins)
    stat, p, counts = rank_chi2(ranks, n_ranks, bins)
    band = ecdf_band(ranks.shape[0], n_ranks, level=level)
    inside = ecdf_inside(ranks, n_ranks, band)
    return xr.Dataset(
        {"chi2": ("param", stat), "p_value": ("param", p),
         "ecdf_inside": ("param", np.atleast_1d(inside)), "counts": (("bin", "param"), counts)},
        coords={"param": study["param"].values},
        attrs={"n_fits": int(ranks.shape[0]), "bins": bins, "n_ranks": n_ranks,
               "ecdf_level": float(level)})
