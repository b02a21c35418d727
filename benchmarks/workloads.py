"""Workload benchmark (issue 6): bayesquad against NumPyro on the six reference models.

Runs NUTS on W1-W6 of ``shared/benchmarks/WORKLOADS.md`` (bundled data
``models/data/*.npz``) with bayesquad and with the same models written in NumPyro the
way a strong user would (``benchmarks/_peer_numpyro.py``), chains vectorised and chains
in parallel on virtual CPU devices, and reports per workload: compile + first-run time,
second-run time, min bulk ESS, ESS/s (second run), max r_hat, divergences, posterior
means/sds, and the ratio of bayesquad's ESS/s to NumPyro's best.

Every (tool, workload) runs in a fresh subprocess (JAX and TensorFlow in one process
compete for threads and memory), tools alternating within each workload.  Each
subprocess makes two calls on the same model object: compile + first run, then a
second run with another seed, and prints its metrics as one JSON line; ESS and r_hat
come from ArviZ for both tools.

    .venv/bin/python benchmarks/workloads.py                   # full protocol, all tools
    .venv/bin/python benchmarks/workloads.py --quick           # smoke test (100 + 100)
    .venv/bin/python benchmarks/workloads.py --tools numpyro-vectorized,numpyro-parallel
    .venv/bin/python benchmarks/workloads.py --workloads W1,W3 --repeats 2
    .venv/bin/python benchmarks/workloads.py --scaling         # W1 cost vs N and chains
    .venv/bin/python benchmarks/workloads.py --check           # peer accuracy at truths

Results: printed, and written to ``benchmarks/results/workloads-<date>-<kind>.{json,md}``
(``--out PREFIX`` to choose).  The NumPyro subprocesses run in ``.venv/bench`` (made by
``make bench`` from ``requirements-bench.lock``; ``--np-python`` to choose another); the
parent and the bayesquad subprocesses run in ``.venv``, which never has JAX (TensorFlow
imports jax whenever it is importable).  The test suite never needs JAX.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import _bench_common as C  # noqa: E402

MARK = "@@BENCH-RESULT "
DEFAULT_WORKLOADS = ("W1", "W2", "W3", "W3u", "W4", "W5", "W6")
SCALING_CONFIGS = ((2_000, 4), (20_000, 4), (200_000, 4), (20_000, 1), (20_000, 16))
W1_SEED = 20240101  # make_data.py's seed for W1: n = 20,000 reproduces the bundled data


# ================================================================ workers (subprocesses)
def _load_data(name):
    return C.load_npz(os.path.join(ROOT, "models", "data", name + ".npz"))


def _load_model(name):
    return C.load_model(name, ROOT)


def _draws(posterior, diverging):
    """Draws as JSON lists: the parent computes every tool's metrics with the same code."""
    return {"draws": {k: v.tolist() for k, v in posterior.items()},
            "diverging": diverging.astype(int).tolist()}


def worker_bayesquad(job):
    """Two ``sample`` calls on one model object (public API only); metrics of the second."""
    import numpy as np
    import bayesquad
    import tensorflow as tf
    import tensorflow_probability as tfp
    from bayesquad.inference import sample

    name = C.WORKLOADS[job["workload"]]
    model_mod = _load_model(name)
    data = model_mod.load_data()
    model = model_mod.build(data)  # one object: sample caches compiled functions per model
    obs = model_mod.observed(data)
    runs = []
    for k in range(2):
        tic = time.perf_counter()
        dt = sample(model, obs, chains=job["chains"], warmup=job["warmup"],
                    draws=job["draws"], seed=job["seed"] + k, log_likelihood=False,
                    progress=False)
        runs.append((time.perf_counter() - tic, dt))
    (first_s, _), (second_s, dt) = runs
    attrs = [{k: v for k, v in d.attrs.items() if k.endswith("_time_s") or k == "init_message"}
             for _, d in runs]
    posterior = {p: np.asarray(dt.posterior[p].values) for p in model_mod.PARAMS}
    diverging = np.asarray(dt.sample_stats["diverging"].values)
    truth = {k: tf.constant(v, tf.float64) for k, v in model_mod.TRUTH.items()}
    log_joint = float(model.log_prob(**truth, **{k: tf.constant(v) for k, v in obs.items()}))
    run = {"first_s": first_s, "second_s": second_s,
           "compile_in_second_s": attrs[1].get("compile_time_s"),
           "map_init_second_s": attrs[1].get("init_time_s"),
           "attrs_first": attrs[0], "attrs_second": attrs[1], "log_joint_truth": log_joint,
           "versions": {"bayesquad": bayesquad.__version__, "tensorflow": tf.__version__,
                        "tensorflow_probability": tfp.__version__}}
    return {**run, **_draws(posterior, diverging)}


def worker_numpyro(job):
    """Two ``MCMC.run`` calls on one MCMC object (see ``_peer_numpyro.run_mcmc``)."""
    import jax
    import numpyro
    import _peer_numpyro as P

    cache = P.setup_compile_cache(job.get("compile_cache", True))
    try:
        data = _load_data(C.WORKLOADS[job["workload"]])
        out = P.run_mcmc(job["workload"], data, chains=job["chains"], warmup=job["warmup"],
                         draws=job["draws"], seed=job["seed"], chain_method=job["chain_method"],
                         init=job.get("init", "median"),
                         dense_mass=job.get("dense_mass", False))
        truth = job.get("truth")
        log_joint = P.log_joint(job["workload"], data, truth) if truth else None
        run = {"first_s": out["first_s"], "second_s": out["second_s"],
               "compile_in_second_s": out["jit_second_s"], "jit_first_s": out["jit_first_s"],
               "log_joint_truth": log_joint, "devices": len(jax.devices()),
               "versions": {"jax": jax.__version__, "numpyro": numpyro.__version__}}
        return {**run, **_draws(out["posterior"], out["diverging"])}
    finally:
        if cache:
            shutil.rmtree(cache, ignore_errors=True)


def worker_make_scaling_data(job):
    """Simulate W1 data sets of the sizes in ``job["sizes"]`` into ``job["dir"]``."""
    import numpy as np
    model_mod = _load_model("peak_on_background")
    paths = {}
    for n in job["sizes"]:
        data = model_mod.simulate(W1_SEED, n=n)
        paths[str(n)] = os.path.join(job["dir"], f"w1-{n}.npz")
        np.savez(paths[str(n)], **data)
    return {"paths": paths}


def worker_scaling_bayesquad(job):
    """Log density + gradient of the W1 model in the unconstrained space NUTS moves in,
    XLA-compiled, through TFP's public API (pinned model + default event-space bijector).
    """
    import numpy as np
    import bayesquad  # noqa: F401
    import tensorflow as tf

    model_mod = _load_model("peak_on_background")
    out = []
    for n, chains in job["configs"]:
        data = C.load_npz(job["paths"][str(n)])
        model = model_mod.build(data)
        pinned = model.experimental_pin(**{k: tf.constant(v) for k, v in
                                           model_mod.observed(data).items()})
        bij = pinned.experimental_default_event_space_bijector()
        structure = pinned.dtype
        truth = tf.nest.pack_sequence_as(
            structure, [tf.constant(model_mod.TRUTH[p], tf.float64) for p in model_mod.PARAMS])
        z_truth = np.array([float(v) for v in tf.nest.flatten(bij.inverse(truth))])
        rng = np.random.default_rng(0)
        z0 = tf.constant(z_truth + 0.01 * rng.standard_normal((chains, z_truth.size)))

        @tf.function(jit_compile=True, autograph=False)
        def value_and_grad(z):
            with tf.GradientTape() as tape:
                tape.watch(z)
                parts = tf.nest.pack_sequence_as(structure, tf.unstack(z, axis=-1))
                lp = (pinned.unnormalized_log_prob(bij.forward(parts))
                      + bij.forward_log_det_jacobian(parts))
            return lp, tape.gradient(lp, z)

        compile_s, per_eval = C.time_calls(lambda: [t.numpy() for t in value_and_grad(z0)])
        lp, _ = value_and_grad(z0)
        assert lp.shape == (chains,), lp.shape  # one density per chain, not a sum
        out.append({"n": n, "chains": chains, "compile_s": compile_s,
                    "seconds_per_eval": per_eval})
    return {"entries": out}


def worker_scaling_numpyro(job):
    import numpy as np
    import jax
    import _peer_numpyro as P

    out = []
    for n, chains in job["configs"]:
        data = C.load_npz(job["paths"][str(n)])
        fn = P.grad_timer("W1", data, chains)
        compile_s, per_eval = C.time_calls(fn)
        out.append({"n": n, "chains": chains, "compile_s": compile_s,
                    "seconds_per_eval": per_eval})
    return {"entries": out, "devices": len(jax.devices())}


def worker_check_numpyro(job):
    """Peer log posterior minus the independent references of tests/models at the truth
    and +-3 % (every parameter scaled)."""
    import _peer_numpyro as P
    spec = importlib.util.spec_from_file_location(
        "model_references", os.path.join(ROOT, "tests", "models", "model_references.py"))
    refs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(refs)
    out = {}
    for wl, truth in job["truths"].items():
        name = C.WORKLOADS[wl]
        data = _load_data(name)
        errs = []
        for f in (1.0, 0.97, 1.03):
            p = {k: v * f for k, v in truth.items()}
            errs.append(P.log_joint(wl, data, p) - refs.LOG_POSTERIOR[name](data, **p))
        out[wl] = errs
    return {"errors": out}


WORKERS = {"bayesquad": worker_bayesquad, "numpyro": worker_numpyro,
           "make-scaling-data": worker_make_scaling_data,
           "scaling-bayesquad": worker_scaling_bayesquad,
           "scaling-numpyro": worker_scaling_numpyro, "check-numpyro": worker_check_numpyro}


def worker_main(kind, job_json):
    job = json.loads(job_json)
    result = WORKERS[kind](job)
    print(MARK + json.dumps(result), flush=True)


# ================================================================ parent
def _env(jax_devices=None):
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)  # TF reads it too; only the parallel NumPyro runs get one
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    env["PYTHONWARNINGS"] = "ignore"
    if jax_devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={jax_devices}"
    return env


def run_worker(kind, job, python, timeout, jax_devices=None):
    """Run one worker subprocess; its JSON result, or ``{"error": ...}``."""
    cmd = [python, os.path.abspath(__file__), "--worker", kind, "--job", json.dumps(job)]
    load = os.getloadavg()[0]
    env = _env(jax_devices)
    # bayesquad's persistent XLA cache starts empty in every subprocess, as NumPyro's
    # compile cache does: a first run is a cold compile, never one loaded from an
    # earlier round
    xla_cache = tempfile.mkdtemp(prefix="bq-xla-cache-")
    env["BAYESQUAD_XLA_CACHE"] = xla_cache
    tic = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s", "wall_s": timeout}
    finally:
        shutil.rmtree(xla_cache, ignore_errors=True)
    wall = time.perf_counter() - tic
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout or "").strip()[-3000:]
        if "No module named 'jax'" in tail or "No module named 'numpyro'" in tail:
            tail += (f"\n{python} has no JAX/NumPyro: run `make bench` (makes .venv/bench "
                     f"from requirements-bench.lock) or pass --np-python")
        return {"error": f"exit {proc.returncode}: {tail}", "wall_s": wall}
    result = json.loads(lines[-1][len(MARK):])
    if "draws" in result:  # a sampling run: metrics here, the draws are not kept
        import numpy as np
        draws = {k: np.asarray(v) for k, v in result.pop("draws").items()}
        metrics = C.summarise(draws, np.asarray(result.pop("diverging")))
        result = C.finish_run(metrics, result)
    result["wall_s"], result["load_before"] = wall, load
    result["load_after"] = os.getloadavg()[0]
    return result


def _truths():
    """TRUTH of each model file, read without importing it (that would load TF)."""
    import ast
    out = {}
    for wl, name in C.WORKLOADS.items():
        tree = ast.parse(open(os.path.join(ROOT, "models", name + ".py")).read())
        for node in tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and getattr(node.targets[0], "id", None) == "TRUTH"):
                out[wl] = ast.literal_eval(node.value)
    return out


def run_workloads(args, log):
    truths = _truths()
    results = {}
    for wl in args.workloads:
        results[wl] = {}
        runs = {t: [] for t in args.tools if (wl, t) not in C.NOT_APPLICABLE}
        for rep in range(args.repeats):
            for tool in runs:
                job = {"workload": wl, "chains": args.chains, "warmup": args.warmup,
                       "draws": args.draws, "seed": args.seed + 10 * rep}
                if tool == "bayesquad":
                    res = run_worker("bayesquad", job, args.python, args.timeout)
                else:
                    method = tool.split("-")[1]
                    job.update(chain_method=method, init=args.np_init,
                               dense_mass=tool.endswith("-dense"),
                               compile_cache=args.np_compile_cache == "on",
                               truth=truths.get(wl) if wl != "W3u" else None)
                    res = run_worker("numpyro", job, args.np_python, args.timeout,
                                     jax_devices=args.chains if method == "parallel" else None)
                res["tool"], res["workload"], res["repeat"] = tool, wl, rep
                runs[tool].append(res)
                log(C.progress_line(wl, tool, rep, res))
        results[wl] = {t: C.aggregate(r) for t, r in runs.items()}
        results[wl]["_runs"] = runs
    return results


def run_scaling(args, log):
    tmp = tempfile.mkdtemp(prefix="bench-w1-scaling-")
    try:
        sizes = sorted({n for n, _ in SCALING_CONFIGS})
        made = run_worker("make-scaling-data", {"sizes": sizes, "dir": tmp}, args.python,
                          args.timeout)
        if made.get("error"):
            return {"error": made["error"]}
        job = {"configs": SCALING_CONFIGS, "paths": made["paths"]}
        out = {}
        if "bayesquad" in args.tools:
            res = run_worker("scaling-bayesquad", job, args.python, args.timeout)
            out["bayesquad"] = res if res.get("error") else res["entries"]
            log(f"scaling bayesquad: {'FAILED' if res.get('error') else 'done'}")
        if any(t in C.PEERS for t in args.tools):
            res = run_worker("scaling-numpyro", job, args.np_python, args.timeout)
            out["numpyro (vmap)"] = res if res.get("error") else res["entries"]
            log(f"scaling numpyro: {'FAILED' if res.get('error') else 'done'}")
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS),
                   help="comma-separated, from " + ",".join(C.WORKLOADS))
    p.add_argument("--tools", default=",".join(C.TOOLS),
                   help="comma-separated, from " + ",".join(C.TOOLS))
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1,
                   help="rounds of alternating runs per workload; each tool's run with the "
                        "highest ESS/s is reported, and the summary adds the ratio of the "
                        "medians")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 100 warm-up + 100 draws (overrides --warmup/--draws)")
    p.add_argument("--scaling", action="store_true",
                   help="only the W1 cost per log density + gradient vs N and chains")
    p.add_argument("--check", action="store_true",
                   help="only the NumPyro models' accuracy against tests/models references")
    p.add_argument("--np-init", default="median", choices=("median", "uniform"),
                   help="NumPyro init strategy (init_to_median / init_to_uniform)")
    p.add_argument("--np-compile-cache", default="on", choices=("on", "off"),
                   help="JAX persistent compilation cache (fresh per subprocess), so "
                        "NumPyro's second run reuses the first run's compilation")
    p.add_argument("--python", default=sys.executable,
                   help="interpreter of the bayesquad subprocesses")
    p.add_argument("--np-python", default=None,
                   help="interpreter of the NumPyro subprocesses (default: "
                        ".venv/bench/bin/python, made by `make bench`, else --python)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per subprocess")
    p.add_argument("--load", type=int, default=0, metavar="N",
                   help="run N low-priority (nice 19) busy loops for the whole benchmark, "
                   "a stated background load for both tools (users' machines are rarely "
                   "idle)")
    p.add_argument("--from-json", metavar="PATH", default=None,
                   help="run nothing: re-aggregate the runs of an earlier results file and "
                        "rewrite its .json and .md")
    p.add_argument("--out", default=None,
                   help="output prefix (default benchmarks/results/workloads-<date>)")
    args = p.parse_args(argv)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [w for w in args.workloads if w not in C.WORKLOADS]
    if bad:
        p.error(f"--workloads: unknown {bad}; choose from {list(C.WORKLOADS)}")
    bad = [t for t in args.tools if t not in C.TOOLS]
    if bad:
        p.error(f"--tools: unknown {bad}; choose from {list(C.TOOLS)}")
    if args.quick:
        args.warmup, args.draws = 100, 100
    if args.np_python is None:
        bench = os.path.join(ROOT, ".venv", "bench", "bin", "python")
        args.np_python = bench if os.path.exists(bench) else args.python
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        try:
            worker_main(argv[1], argv[3])
        except Exception:  # the parent reports the traceback as the run's error
            traceback.print_exc()
            sys.exit(1)
        return
    args = parse_args(argv)
    if args.from_json:
        C.rerender(args.from_json)
        return
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    kind = "scaling" if args.scaling else "check" if args.check else \
        "quick" if args.quick else "full"
    prefix = args.out or os.path.join(HERE, "results", f"workloads-{stamp}-{kind}")
    command = "python benchmarks/workloads.py " + " ".join(shlex.quote(a) for a in argv)
    log = lambda s: print(s, flush=True)  # noqa: E731
    report = {"meta": {
        "command": command.strip(), "date": datetime.datetime.now().isoformat(" ", "seconds"),
        "machine": f"{platform.machine()}, {C.cpu_description()}, load average at start "
                   f"{os.getloadavg()[0]:.1f}",
        "settings": (f"chains {args.chains}, warm-up {args.warmup}, draws {args.draws}, "
                     f"seed {args.seed}, repeats {args.repeats}, NumPyro init "
                     f"{args.np_init}, JAX compile cache {args.np_compile_cache}, "
                     f"background load {args.load} nice-19 busy loop(s)"),
        "versions": {}}}
    hogs = [subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", "while True: pass"])
            for _ in range(args.load)]
    try:
        _measure(args, report, log)
    finally:
        for h in hogs:
            h.kill()
    report["meta"]["load_at_end"] = os.getloadavg()[0]
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    with open(prefix + ".json", "w") as f:
        json.dump(report, f, indent=1, default=str)
    with open(prefix + ".md", "w") as f:
        f.write(C.render(report, markdown=True))
    print(C.render(report))
    print(f"written: {prefix}.json, {prefix}.md")


def _measure(args, report, log):
    if args.check:
        res = run_worker("check-numpyro", {"truths": {w: t for w, t in _truths().items()
                                                      if w != "W3u"}},
                         args.np_python, args.timeout)
        report["check"] = res
    elif args.scaling:
        report["scaling"] = run_scaling(args, log)
    else:
        report["results"] = run_workloads(args, log)
        report["meta"]["versions"] = C.versions_of(report["results"])


if __name__ == "__main__":
    main()
