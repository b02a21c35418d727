"""``calibrate``: many independent fits (SBC or toys) on a Dask cluster, stored as they finish."""
import hashlib
import json
import os
import time

import numpy as np

from bayesquad.calibration import _cluster, _results
from bayesquad.calibration._store import StudyStore
from bayesquad.calibration._tasks import fit_batch, fit_one

__all__ = ["BATCH_SIZE", "DEFAULT_LEVELS", "calibrate"]

#: Central interval levels whose coverage every fit records
DEFAULT_LEVELS = (0.5, 0.8, 0.9, 0.95)
#: Data sets per batched MAP task (``batch_size="auto"``); see BENCHMARKS.md for the choice
BATCH_SIZE = 32
_METHOD_DEFAULTS = {
    "nuts": {"chains": 2, "warmup": 300, "draws": 250},
    "map": {"num_starts": 1},
    "vi": {"steps": 1000},
}


def _file_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def _model_file(path, what):
    from bayesquad.model_file import load_model_file  # pylint: disable=import-outside-toplevel
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be the path of a model file (.py), got "
                        f"{type(path).__name__}")
    path = os.path.abspath(os.fspath(path))
    module = load_model_file(path)  # InputError (one line) for a bad file
    if not callable(getattr(module, "simulate", None)) and what == "model_file":
        raise ValueError(f"{what} {path!r} defines no simulate(seed, **params); a study "
                         f"simulates its data sets with it (see models/README.md)")
    if not getattr(module, "PARAMS", None):
        raise ValueError(f"{what} {path!r} defines no PARAMS (the parameter names)")
    return path, module


def _spec(model_file, fit_model_file, mode, truth, method, fit_options, seed, rank_draws,
          buckets, levels, check_quadrature, simulate_kwargs, diagnose_options):
    path, module = _model_file(model_file, "model_file")
    fit_path, fit_module = _model_file(fit_model_file or model_file, "fit_model_file")
    if mode not in ("sbc", "toys"):
        raise ValueError(f"mode must be 'sbc' (parameters from the prior) or 'toys' "
                         f"(parameters fixed), got {mode!r}")
    if method not in _METHOD_DEFAULTS:
        raise ValueError(f"method must be one of {sorted(_METHOD_DEFAULTS)}, got {method!r}")
    params = list(fit_module.PARAMS)
    if mode == "toys":
        truth = dict(getattr(module, "TRUTH", {}) if truth is None else truth)
        missing = [p for p in params if p not in truth]
        if missing:
            raise ValueError(f"truth lacks {missing}: toys fix every parameter (pass "
                             f"truth={{name: value}} or define TRUTH in the model file)")
        truth = {p: np.asarray(truth[p], float).tolist() for p in params}
    elif truth is not None:
        raise ValueError("truth= is for mode='toys'; SBC draws the parameters from the prior")
    if buckets is not None and buckets != "pow2":
        buckets = sorted(int(b) for b in buckets)
    if int(rank_draws) < 1:
        raise ValueError(f"rank_draws must be >= 1 (ranks then lie in 0..rank_draws), got "
                         f"{rank_draws}")
    options = {**_METHOD_DEFAULTS[method], **(fit_options or {})}
    return {
        "mode": mode, "method": method, "seed": int(seed), "params": params,
        "model_file": path, "model_hash": _file_hash(path),
        "fit_model_file": fit_path, "fit_model_hash": _file_hash(fit_path),
        "truth": truth, "fit_options": options, "rank_draws": int(rank_draws),
        "buckets": buckets, "levels": [float(x) for x in levels],
        "check_quadrature": int(check_quadrature),
        "simulate_kwargs": dict(simulate_kwargs or {}),
        "diagnose_options": {"quadrature_draws": 5, **(diagnose_options or {})},
    }


def calibrate(model_file, n_fits, out, *, mode="sbc", truth=None, method="nuts",
              fit_options=None, fit_model_file=None, seed=0, rank_draws=99, buckets="pow2",
              levels=DEFAULT_LEVELS, check_quadrature=1, simulate_kwargs=None,
              diagnose_options=None, batch_size="auto", client=None, scheduler=None,
              n_workers=None, progress=True):
    """Run a simulation-based calibration (``mode="sbc"``) or a toy study (``"toys"``).

    Fit ``i`` draws parameters from the model's prior (SBC) or takes ``truth`` (toys),
    simulates a data set with the model file's ``simulate``, fits it, and records ranks,
    posterior mean and sd, coverage of central intervals and the fit's diagnostic verdict.
    Fits run as Dask tasks; each record is written to ``out`` as it arrives.

    Parameters
    ----------
    model_file : str or os.PathLike
        A model file (``models/README.md``) with ``simulate`` and ``PARAMS``. An optional
        ``PADDED`` tuple names observed keys that may be NaN-padded (point processes).
    n_fits : int
        Number of fits. A study in ``out`` is extended or resumed: fits already recorded
        are not rerun (fit ``i``'s data and seeds depend only on ``seed`` and ``i``).
    out : str or os.PathLike
        Study directory: ``study.json`` (settings) and ``fits/fit_NNNNNN.json``.
    mode : {"sbc", "toys"}
    truth : dict, optional
        Toys only: the fixed parameter values (default the model file's ``TRUTH``).
    method : {"nuts", "map", "vi"}
        NUTS (:func:`bayesquad.inference.sample`), MAP + Laplace
        (:func:`~bayesquad.inference.find_map`) or ADVI (:func:`~bayesquad.inference.fit_vi`).
    fit_options : dict, optional
        Passed to the fit; defaults: NUTS 2 chains x (300 warm-up + 250 draws), MAP one
        start, VI 1000 steps.
    fit_model_file : str, optional
        Fit with another model file than the one that simulates (e.g. a deliberately
        wrong prior or quadrature rule: a negative control). Default ``model_file``.
    seed : int
        The study's seed; fit ``i``'s seeds are ``SeedSequence([seed, i])``.
    rank_draws : int
        ``L``: draws (equally spaced over the chains) each prior value is ranked among;
        ranks lie in ``0..L``.
    buckets : "pow2", sequence of int or None
        Padded sizes for the ``PADDED`` observed keys, so data sets of different sizes
        share compiled programs (see :func:`~bayesquad.calibration._tasks.bucket_size`).
    levels : sequence of float
        Central interval levels whose coverage is recorded.
    check_quadrature : int
        Run the quadrature check (5 draws) on every ``k``-th fit (1: all, 0: none); the
        rest of the verdict runs on every fit.
    simulate_kwargs : dict, optional
        Extra arguments to ``simulate`` (e.g. ``{"n": 500}`` for a subsample size).
    diagnose_options : dict, optional
        Passed to :func:`bayesquad.diagnose` (default ``quadrature_draws=5``).
    batch_size : int or "auto"
        MAP only: data sets fitted together in one compiled program per task
        (:func:`~bayesquad.inference.find_map_batch`); 1 fits one data set per task with
        :func:`~bayesquad.inference.find_map`. ``"auto"``: BATCH_SIZE for a MAP study of at
        least ``2 * BATCH_SIZE`` fits still to run, else 1 (a batch compiles for longer
        than a few single fits take). Not a setting of the study: a study resumes with
        another batch size.
    client : distributed.Client, optional
        Run on this client's cluster (e.g. a ``dask_jobqueue.SLURMCluster``'s).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``).
    n_workers : int, optional
        Size of the ``LocalCluster`` started when neither ``client`` nor ``scheduler`` is
        given (default: one single-threaded worker process per core).
    progress : bool
        A progress bar (fits done, failed, ETA) on stderr.

    Returns
    -------
    xarray.Dataset
        :func:`bayesquad.calibration.load_study` of ``out``: dims ``fit``, ``param`` (and
        ``level``).

    Raises
    ------
    ValueError, TypeError
        Bad arguments (named), or ``out`` holds a study with other settings.

    Notes
    -----
    Ranks are uniform only if the simulator, the prior and the fit agree and the ``L``
    draws are nearly independent: NUTS draws are thinned evenly, so with fewer effective
    draws than ``L`` the histogram turns U-shaped for a correct fit. MAP/Laplace and VI
    ranks test the approximation as well as the model: they are calibrated only where the
    posterior is close to Gaussian in the unconstrained space. A failed fit (an exception)
    is recorded with ``status="error"`` and excluded from ranks; fits whose verdict failed
    are kept (and listed by the report), since dropping them would bias the ranks.
    """
    if isinstance(n_fits, bool) or not isinstance(n_fits, (int, np.integer)) or n_fits < 1:
        raise ValueError(f"n_fits must be a positive integer, got {n_fits!r}")
    spec = _spec(model_file, fit_model_file, mode, truth, method, fit_options, seed,
                 rank_draws, buckets, levels, check_quadrature, simulate_kwargs,
                 diagnose_options)
    batch_size = _batch_size(batch_size, spec, None)  # bad values fail before any writing
    store = StudyStore(out, spec)
    todo = [i for i in range(int(n_fits)) if i not in set(store.completed())]
    batch_size = _batch_size(batch_size, spec, len(todo))
    if todo:
        client, owned = _cluster.connect(client, scheduler, n_workers)
        try:
            _run(client, store, spec, todo, int(n_fits), progress, batch_size)
        finally:
            if owned:
                cluster = client.cluster
                client.close()
                if cluster is not None:
                    cluster.close()
    return _results.load_study(out, n_fits=int(n_fits))


def _batch_size(batch_size, spec, n_todo):
    if isinstance(batch_size, str) and batch_size == "auto":
        if n_todo is None:
            return batch_size
        return BATCH_SIZE if spec["method"] == "map" and n_todo >= 2 * BATCH_SIZE else 1
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or 'auto', got "
                         f"{batch_size!r}")
    if batch_size > 1 and spec["method"] != "map":
        raise ValueError(f"batch_size={batch_size} batches MAP fits only; method "
                         f"{spec['method']!r} fits one data set per task (batch_size=1)")
    if batch_size > 1 and int(spec["fit_options"].get("num_starts", 1)) != 1:
        raise ValueError("a batched MAP fit has one start per data set: drop num_starts from "
                         "fit_options, or pass batch_size=1")
    return int(batch_size)


def _run(client, store, spec, todo, n_fits, progress, batch_size=1):
    from distributed import as_completed  # pylint: disable=import-outside-toplevel
    # the task key names the study and the fit(s): a resubmitted task after a lost worker
    # is the same task, and two studies on one cluster never share results
    tag = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    if batch_size == 1:
        futures = [client.submit(fit_one, spec, i, key=f"bayesquad-fit-{tag}-{i}",
                                 pure=False, retries=1) for i in todo]
    else:
        options = {k: v for k, v in spec["fit_options"].items() if k != "num_starts"}
        batch_spec = {**spec, "fit_options": options, "batch_size": batch_size}
        futures = [client.submit(fit_batch, batch_spec, todo[i:i + batch_size],
                                 key=f"bayesquad-fits-{tag}-{todo[i]}-{batch_size}",
                                 pure=False, retries=1)
                   for i in range(0, len(todo), batch_size)]
    bar = _Progress(n_fits, n_fits - len(todo), enabled=progress)
    try:
        for fut in as_completed(futures):
            result = fut.result()
            for record in (result if isinstance(result, list) else [result]):
                store.write(record["index"], record)
                bar.update(record)
            fut.release()
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        bar.close()


class _Progress:
    """Fits done (of all), failures, fits per minute and ETA, with rich."""

    def __init__(self, total, done, enabled):
        self.total, self.done, self.failed, self.start = total, done, 0, time.perf_counter()
        self.first = done
        self.bar = None
        if enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress,  # pylint: disable=import-outside-toplevel
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            self.bar = Progress(TextColumn("fits"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[failed]} failed"),
                                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                                TextColumn("ETA"), TimeRemainingColumn(), transient=False)
            self.task = self.bar.add_task("fits", total=total, completed=done, failed=0,
                                          rate="")
            self.bar.start()

    def update(self, record):
        self.done += 1
        bad = record.get("status") != "ok" or not record.get("verdict", {}).get("passed")
        self.failed += int(bad)
        if self.bar is not None:
            minutes = (time.perf_counter() - self.start) / 60
            rate = (self.done - self.first) / minutes if minutes > 0 else 0.0
            self.bar.update(self.task, completed=self.done, failed=self.failed,
                            rate=f"{rate:.1f} fits/min")

    def close(self):
        if self.bar is not None:
            self.bar.stop()
