"""One fit of a study, as a Dask task: simulate, fit, rank, diagnose -> a JSON record.

The task receives plain data (the model file's path and the study's settings), so it is
cheap to ship; the model file is executed inside the worker and everything costly is cached
per worker process (``_CACHE``): the executed module, and the built model per *shape key*
(model file, its content hash, the padded sizes of the observed arrays and a digest of the
other data). ``sample``/``find_map`` cache their compiled functions on the model object
(``inference/_cache.py``), and take the observed data as arguments: so every data set of one
shape key reuses one compiled sampler in that worker.
"""
import hashlib
import os
import threading
import time

import numpy as np

__all__ = ["bucket_size", "fit_batch", "fit_one", "fit_seeds", "pad_data"]

_CACHE = {}
_LOCK = threading.Lock()


def fit_seeds(study_seed, index):
    """``(simulation, prior, fit)`` seeds of fit ``index``: a function of the study's seed
    and the index only, so a fit gets the same data and draws on any worker, in any order."""
    sim, prior, fit = np.random.SeedSequence([int(study_seed), int(index)]).generate_state(3)
    return int(sim), int(prior) & 0x7FFFFFFF, int(fit) & 0x7FFFFFFF


def bucket_size(n, buckets):
    """The padded length of an observed array of ``n`` rows.

    ``buckets``: ``None`` (no padding), ``"pow2"`` (the next of 2^k and 1.5 * 2^k: at most a
    third of the rows are padding, and a factor of 10 in ``n`` spans 7 sizes), or a sorted
    sequence of sizes (``n`` above the largest is a ``ValueError``).
    """
    n = int(n)
    if buckets is None:
        return n
    if buckets == "pow2":
        size = 16
        while size < n:
            size = size * 3 // 2 if size & (size - 1) == 0 else size * 4 // 3
        return size
    for size in buckets:
        if n <= int(size):
            return int(size)
    raise ValueError(f"a simulated data set has {n} rows, more than the largest bucket "
                     f"{max(buckets)}; add a larger size to buckets")


def pad_data(data, keys, buckets):
    """``data`` with each array in ``keys`` NaN-padded (along its first axis) to its bucket."""
    out = dict(data)
    for key in keys:
        arr = np.asarray(data[key], np.float64)
        size = bucket_size(arr.shape[0], buckets)
        if size > arr.shape[0]:
            pad = np.full((size - arr.shape[0],) + arr.shape[1:], np.nan)
            arr = np.concatenate([arr, pad])
        out[key] = arr
    return out


def _module(path, digest):
    from bayesquad.model_file import load_model_file  # pylint: disable=import-outside-toplevel
    key = ("module", path, digest)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = load_model_file(path)
        return _CACHE[key]


def _shape_key(module, path, digest, data):
    observed = set(module.observed(data))
    parts = [path, digest]
    for k in sorted(data):
        v = np.asarray(data[k])
        if k in observed:
            parts.append(f"{k}:{v.shape}")
        elif not k.startswith("true_"):  # constants build() may read (window, covariates)
            parts.append(f"{k}:{hashlib.sha256(v.tobytes()).hexdigest()[:16]}{v.shape}")
    return tuple(parts)


def _model(module, path, digest, data):
    """The built model for ``data``'s shape key, and whether it came from the cache."""
    key = ("model",) + _shape_key(module, path, digest, data)
    with _LOCK:
        hit = key in _CACHE
        if not hit:
            _CACHE[key] = module.build(data)
        return _CACHE[key], hit


def _prior_draw(module, path, digest, seed, spec):
    """Parameters drawn from the model's own prior (observed values pinned: not simulated)."""
    from bayesquad._tf import tf  # pylint: disable=import-outside-toplevel
    key = ("template", path, digest)
    with _LOCK:
        if key not in _CACHE:
            data = module.simulate(0, **spec["simulate_kwargs"])
            data = pad_data(data, getattr(module, "PADDED", ()), spec["buckets"])
            _CACHE[key] = (module.build(data), module.observed(data))
        model, obs = _CACHE[key]
    draw = model.sample(seed=tf.constant([seed, 0], tf.int32),
                        **{k: tf.constant(v) for k, v in obs.items()})
    values = draw._asdict() if hasattr(draw, "_asdict") else dict(draw)
    return {p: np.asarray(values[p]).astype(float) for p in spec["params"]}


def _kept(arr, n_keep):
    """``n_keep`` draws equally spaced over all chains' draws (thinned for ranks)."""
    flat = arr.reshape((-1,) + arr.shape[2:])
    idx = np.linspace(0, flat.shape[0] - 1, n_keep).round().astype(int)
    return flat[idx]


def _fit(module, model, obs, spec, seed):
    from bayesquad import inference  # pylint: disable=import-outside-toplevel
    method, opts = spec["method"], dict(spec["fit_options"])
    bij = getattr(module, "BIJECTORS", None)
    if method == "nuts":
        dt = inference.sample(model, obs, seed=seed, progress=False, log_likelihood=False,
                              bijectors=bij, **opts)
        return dt, None
    if method == "map":
        res = inference.find_map(model, obs, seed=seed, bijectors=bij,
                                 laplace_draws=max(1000, spec["rank_draws"]), **opts)
        return res.datatree, res
    if method == "vi":
        dt = inference.fit_vi(model, obs, seed=seed, bijectors=bij,
                              draws=max(1000, spec["rank_draws"]), **opts)
        return dt, None
    raise ValueError(f"method must be 'nuts', 'map' or 'vi', got {method!r}")


def _diagnose(dt, model, obs, spec, index):
    from bayesquad.diagnostics import diagnose  # pylint: disable=import-outside-toplevel
    every = int(spec["check_quadrature"])
    if every and index % every == 0:
        verdict = diagnose(dt, model, obs, **spec["diagnose_options"])
    else:
        # a plain DataTree (not the Fit, which carries its Target): without a model the
        # quadrature check reports "not run"
        import xarray as xr  # pylint: disable=import-outside-toplevel
        bare = xr.DataTree.from_dict(dt.to_dict())
        bare.attrs = dict(dt.attrs)
        verdict = diagnose(bare, None, obs, **spec["diagnose_options"])
    return {"passed": bool(verdict.passed),
            "checks": {c.name: c.status for c in verdict.checks},
            "failed": [f"{c.name}: {c.message}" for c in verdict.failed]}


def _simulated(spec, index):
    """``(record, truth, data, fit_module)`` of fit ``index``: its seeds, parameters and
    simulated (unpadded) data set."""
    sim_seed, prior_seed, fit_seed = fit_seeds(spec["seed"], index)
    record = {"index": int(index), "sim_seed": sim_seed, "fit_seed": fit_seed,
              "worker_pid": os.getpid()}
    sim = _module(spec["model_file"], spec["model_hash"])
    fit_mod = _module(spec["fit_model_file"], spec["fit_model_hash"])
    if spec["mode"] == "sbc":
        truth = _prior_draw(sim, spec["model_file"], spec["model_hash"], prior_seed, spec)
    else:
        truth = {p: np.asarray(v, float) for p, v in spec["truth"].items()}
    data = sim.simulate(sim_seed, **spec["simulate_kwargs"],
                        **{p: (float(v) if v.ndim == 0 else v) for p, v in truth.items()})
    record["n_rows"] = {k: int(np.count_nonzero(~np.isnan(np.asarray(data[k], float))
                                                .reshape(len(data[k]), -1).any(axis=1)))
                        for k in getattr(fit_mod, "PADDED", ())}
    return record, truth, data, fit_mod


def _failed(record, err, t0):
    record.update(status="error", error=f"{type(err).__name__}: {err}"[:2000],
                  time_s=time.perf_counter() - t0)
    return record


def fit_one(spec, index):
    """Run fit ``index`` of the study described by ``spec``; return its record (a dict).

    A failure of the fit itself (an exception in simulate, build or the fit) is recorded
    (``"status": "error"`` with the message), not raised: it is a result of the study, and
    a retry would fail the same way. A worker that dies mid-fit raises nothing here; Dask
    reruns the task elsewhere.
    """
    t0 = time.perf_counter()
    record = {"index": int(index), "worker_pid": os.getpid()}
    try:
        record, truth, data, fit_mod = _simulated(spec, index)
        data = pad_data(data, getattr(fit_mod, "PADDED", ()), spec["buckets"])
        record["padded_to"] = {k: int(len(data[k])) for k in getattr(fit_mod, "PADDED", ())}
        model, hit = _model(fit_mod, spec["fit_model_file"], spec["fit_model_hash"], data)
        obs = fit_mod.observed(data)
        record["model_cached"] = bool(hit)
        t1 = time.perf_counter()
        dt, _ = _fit(fit_mod, model, obs, spec, record["fit_seed"])
        t2 = time.perf_counter()
        record.update(_summaries(dt, truth, spec))
        record["compile_time_s"] = float(dt.attrs.get("compile_time_s", 0.0))
        record["fit_time_s"] = t2 - t1
        record["verdict"] = _diagnose(dt, model, obs, spec, index)
        record["diagnose_time_s"] = time.perf_counter() - t2
        record["status"] = "ok"
    except Exception as err:  # pylint: disable=broad-except
        return _failed(record, err, t0)
    record["time_s"] = time.perf_counter() - t0
    return record


def _common_padding(datas, keys, buckets):
    """Pad every data set's ``keys`` to one length: the bucket of the longest."""
    out = [dict(d) for d in datas]
    for key in keys:
        size = bucket_size(max(np.asarray(d[key]).shape[0] for d in datas), buckets)
        for d in out:
            d.update(pad_data(d, (key,), [size]))
    return out


def _one_of_batch(result, k, record):
    """Fit ``k`` of a batched MAP result as the DataTree ``diagnose`` reads for a MAP fit."""
    import xarray as xr  # pylint: disable=import-outside-toplevel
    dt = result.datatree
    post = dt["posterior"].to_dataset().isel(fit=k).expand_dims(chain=1)
    obs = dt["observed_data"].to_dataset().isel(fit=k)
    one = xr.DataTree.from_dict({"posterior": post, "observed_data": obs})
    one.attrs.update({"inference": "map", "map_converged": int(result.converged[k]),
                      "map_message": result.message[k], "seed": record["fit_seed"]})
    return one


def fit_batch(spec, indices):
    """Fits ``indices`` of a MAP study as one batched program
    (:func:`bayesquad.inference.find_map_batch`); their records, as :func:`fit_one`'s.

    The batch always has ``spec["batch_size"]`` data sets (a short last batch repeats its
    last one), and every data set is padded to the bucket of the batch's longest, so that
    a worker compiles one program per bucket. A data set whose simulation fails is recorded
    as an error and the rest of the batch is fitted.
    """
    from bayesquad import inference  # pylint: disable=import-outside-toplevel
    t0 = time.perf_counter()
    records, fits = [], []
    for index in indices:
        record = {"index": int(index), "worker_pid": os.getpid()}
        try:
            record, truth, data, fit_mod = _simulated(spec, index)
            fits.append((record, truth, data))
        except Exception as err:  # pylint: disable=broad-except
            records.append(_failed(record, err, t0))
    if not fits:
        return records
    try:
        padded = getattr(fit_mod, "PADDED", ())
        datas = _common_padding([d for _, _, d in fits], padded, spec["buckets"])
        datas += [datas[-1]] * (int(spec["batch_size"]) - len(datas))
        model, hit = _model(fit_mod, spec["fit_model_file"], spec["fit_model_hash"], datas[0])
        per_set = [fit_mod.observed(d) for d in datas]
        obs = {k: np.stack([o[k] for o in per_set]) for k in per_set[0]}
        seeds = [r["fit_seed"] for r, _, _ in fits]
        seeds += [seeds[-1]] * (len(datas) - len(seeds))
        t1 = time.perf_counter()
        result = inference.find_map_batch(
            model, obs, seed=seeds, laplace_draws=max(1000, spec["rank_draws"]),
            bijectors=getattr(fit_mod, "BIJECTORS", None), **spec["fit_options"])
        fit_time = time.perf_counter() - t1
        compile_time = float(result.datatree.attrs["compile_time_s"])
    except Exception as err:  # pylint: disable=broad-except
        return records + [_failed(r, err, t0) for r, _, _ in fits]
    for k, (record, truth, _) in enumerate(fits):
        t2 = time.perf_counter()
        record["padded_to"] = {key: int(len(datas[0][key])) for key in padded}
        record["model_cached"] = bool(hit)
        record["batch"] = {"size": len(fits), "fit_time_s": fit_time}
        record["compile_time_s"] = compile_time / len(fits)
        try:
            if not np.all(np.isfinite(result.covariance[k])):
                raise ValueError(f"no Laplace draws: {result.message[k]}")
            one = _one_of_batch(result, k, record)
            record.update(_summaries(one, truth, spec))
            record["fit_time_s"] = (fit_time - compile_time) / len(fits)
            record["verdict"] = _diagnose(one, model, per_set[k], spec, record["index"])
            record["diagnose_time_s"] = time.perf_counter() - t2
            record["status"] = "ok"
            record["time_s"] = (time.perf_counter() - t0) / len(fits)
        except Exception as err:  # pylint: disable=broad-except
            _failed(record, err, t0)
        records.append(record)
    return records


def _summaries(dt, truth, spec):
    post = dt.posterior
    out = {"truth": {}, "rank": {}, "mean": {}, "sd": {}, "covered": {}}
    for p in spec["params"]:
        arr = np.asarray(post[p].values, float)  # [chain, draw, ...]
        flat = arr.reshape((-1,) + arr.shape[2:])
        t = np.asarray(truth[p], float)
        kept = _kept(arr, spec["rank_draws"])
        out["truth"][p] = t.tolist()
        out["rank"][p] = np.sum(kept < t, axis=0).tolist()
        out["mean"][p] = flat.mean(axis=0).tolist()
        out["sd"][p] = flat.std(axis=0, ddof=1).tolist()
        cov = []
        for level in spec["levels"]:
            lo, hi = np.quantile(flat, [(1 - level) / 2, (1 + level) / 2], axis=0)
            cov.append(((lo <= t) & (t <= hi)).tolist())
        out["covered"][p] = cov
    return out
