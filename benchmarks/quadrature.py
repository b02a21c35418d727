"""Quadrature benchmark (issue 2, section 4): evaluation counts and batched timing.

Part A, the catalogue: every integral of ``tests/quadrature/problems.py`` at rtol 1e-10 in
float64 with ``method="auto"``, ``"adaptive-gk"`` and ``"tanh-sinh"``, next to
``scipy.integrate.quad`` (QUADPACK QAGS/QAGI/QAGP, ``epsabs=0, epsrel=1e-10,
limit=200``) on the same integrands (the TF integrands, called one point at a time).
Reported: integrand evaluations and achieved relative error per integral, and per
family the evaluation ratio bayesquad/QUADPACK over the integrals where both reach
the requested accuracy.

Part B, W4-style batched timing: value and gradient (w.r.t. g and every t_i) of
10,000 integrals ``int_0^t_i u^g du`` for g = 0.3 and g = -0.5, t_i ~ U(0.1, 10), with
several methods, eager / ``tf.function`` / ``tf.function(jit_compile=True)``. Each
(method, mode) runs in its own subprocess with a timeout, so one slow XLA compilation
or a crash is reported instead of stopping the benchmark.

Run: ``.venv/bin/python benchmarks/quadrature.py`` (``make bench``); add ``--write`` to
replace the "## Quadrature (issue 2)" section of BENCHMARKS.md with the tables.
Timings depend on what else runs on the machine: the load average is recorded.
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "## Quadrature (issue 2)"
RTOL = 1e-10
CATALOGUE_METHODS = ("auto", "adaptive-gk", "tanh-sinh")
# Family of an integral: the first of these tags it carries.
FAMILIES = ("singular", "infinite", "peaked", "oscillatory", "discontinuous", "smooth")
W4_METHODS = ("adaptive-gk", "auto", "tanh-sinh", "gauss-legendre", "substitution")
W4_MODES = ("eager", "function", "xla")
W4_G = (0.3, -0.5)


# ---------------------------------------------------------------------------- part A
def load_catalogue():
    sys.path.insert(0, os.path.join(ROOT, "tests", "quadrature"))
    try:
        from problems import PROBLEMS
    except ImportError as exc:  # the catalogue is the single source of exact values
        raise SystemExit(f"cannot import tests/quadrature/problems.py: {exc}") from exc
    return PROBLEMS


def family(problem):
    return next((f for f in FAMILIES if f in problem.tags), "smooth")


def quadpack(problem, tf):
    from scipy import integrate as si

    args = tuple(tf.constant(a, tf.float64) for a in problem.args)

    def f(x):
        return float(problem.f(tf.constant(x, tf.float64), *args))

    kw = {}
    if problem.points is not None:
        lo, hi = sorted((problem.lower, problem.upper))
        kw["points"] = [p for p in problem.points if lo < p < hi]  # QAGP: interior only
    value, _, info = si.quad(f, problem.lower, problem.upper, epsabs=0.0, epsrel=RTOL,
                             limit=200, full_output=1, **kw)[:3]
    return dict(evals=int(info["neval"]), err=abs(value - problem.exact) / abs(problem.exact))


def bayesquad_run(problem, method, bayesquad, tf):
    """One eager call; ``performed`` counts the nodes the integrand was really called on.

    ``n_evals`` is what the method reports; ``performed`` also includes the adaptive
    methods' differentiable final pass and any tanh-sinh levels evaluated beyond the
    one where the element converged.
    """
    args = tuple(tf.constant(a, tf.float64) for a in problem.args)
    kw = {} if problem.points is None else {"points": np.asarray(problem.points, np.float64)}
    performed = [0]

    def counted(x, *a):
        performed[0] += int(x.shape[0])  # eager: one call per evaluation batch
        return problem.f(x, *a)

    res = bayesquad.integrate(counted, problem.lower, problem.upper, args=args,
                              method=method, rtol=RTOL, **kw)
    value = float(res.value)
    err = abs(value - problem.exact) / abs(problem.exact) if np.isfinite(value) else math.inf
    return dict(evals=int(res.n_evals), performed=performed[0], err=err,
                status=int(res.status))


def on_target(run):
    return run["err"] <= RTOL and run.get("status", 0) == 0


def run_catalogue():
    import bayesquad
    import tensorflow as tf

    rows = []
    for p in load_catalogue():
        row = dict(name=p.name, family=family(p), quadpack=quadpack(p, tf))
        for method in CATALOGUE_METHODS:
            row[method] = bayesquad_run(p, method, bayesquad, tf)
        rows.append(row)
        print(f"  {p.name:<24} QUADPACK {row['quadpack']['evals']:>5}  " + "  ".join(
            f"{m} {row[m]['evals']:>5}/{row[m]['performed']:<5}" for m in CATALOGUE_METHODS),
            flush=True)
    return rows


def fmt_err(run):
    text = f"{run['err']:.0e}" if np.isfinite(run["err"]) else "nan"
    status = run.get("status", 0)
    return text if status == 0 else f"{text} (s{status})"


def catalogue_tables(rows):
    out = ["### A. Catalogue at rtol 1e-10 (float64): integrand evaluations", "",
           "`n_evals` is what bayesquad reports; `performed` counts the nodes the integrand "
           "was actually called on (eager, one call at a time), which adds the adaptive "
           "methods' differentiable final pass over the final intervals and tanh-sinh levels "
           "evaluated in one batch beyond the level where the integral converged. QUADPACK's "
           "`neval` counts performed evaluations.", "",
           "Per family: `n_evals / performed` summed over the integrals where QUADPACK and the "
           "method both reach relative error <= 1e-10 with a converged status (how many, in "
           "brackets), and the ratios to QUADPACK on those integrals. Misses are listed below "
           "the per-integral table.", ""]
    head = "| family | n | QUADPACK | " + " | ".join(
        f"{m}: n_evals / performed [both on target] | ratio" for m in CATALOGUE_METHODS) + " |"
    out += [head, "|" + "---|" * (3 + 2 * len(CATALOGUE_METHODS))]
    families = [f for f in FAMILIES if any(r["family"] == f for r in rows)] + ["all"]
    for fam in families:
        sel = [r for r in rows if fam in ("all", r["family"])]
        cells = [fam, str(len(sel)), str(sum(r["quadpack"]["evals"] for r in sel))]
        for m in CATALOGUE_METHODS:
            both = [r for r in sel if on_target(r["quadpack"]) and on_target(r[m])]
            mine = sum(r[m]["evals"] for r in both)
            done = sum(r[m]["performed"] for r in both)
            theirs = sum(r["quadpack"]["evals"] for r in both)
            ratio = f"{mine / theirs:.2f} / {done / theirs:.2f}" if theirs else "-"
            cells += [f"{mine} / {done} [{len(both)}/{len(sel)}]", ratio]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Per integral: `n_evals / performed` and achieved relative error; `(sN)` marks "
            "a non-converged status N (1 budget exhausted, 2 non-finite, 3 roundoff).", ""]
    out += ["| integral | family | QUADPACK | err | " + " | ".join(
        f"{m} | err" for m in CATALOGUE_METHODS) + " |",
        "|" + "---|" * (4 + 2 * len(CATALOGUE_METHODS))]
    misses = []
    for r in rows:
        cells = [r["name"], r["family"], str(r["quadpack"]["evals"]), fmt_err(r["quadpack"])]
        for m in CATALOGUE_METHODS:
            cells += [f"{r[m]['evals']} / {r[m]['performed']}", fmt_err(r[m])]
            if not on_target(r[m]):
                misses.append(f"{r['name']} / {m}: {fmt_err(r[m])}")
        if not on_target(r["quadpack"]):
            misses.append(f"{r['name']} / QUADPACK: {fmt_err(r['quadpack'])}")
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Not on target (relative error > 1e-10 or non-converged status): "
            + ("; ".join(misses) if misses else "none") + "."]
    return out


# ---------------------------------------------------------------------------- part B
def w4_worker(method, mode, n, runs, budget):
    """Runs in a subprocess; prints one JSON record per g."""
    import bayesquad
    import tensorflow as tf

    t_np = np.random.default_rng(0).uniform(0.1, 10.0, n)
    t = tf.constant(t_np)

    def value_and_grad(t, g):
        with tf.GradientTape() as tape:
            tape.watch([t, g])
            if method == "substitution":  # u = t v^4: du = 4 t v^3 dv, smooth in v
                res = bayesquad.integrate(
                    lambda v, t, g: 4.0 * t ** (1.0 + g) * v ** (4.0 * g + 3.0), 0.0, 1.0,
                    args=(t, g), method="gauss-legendre", nodes=32)
            else:
                kw = {"nodes": 32} if method == "gauss-legendre" else {}
                res = bayesquad.integrate(lambda u, g: u**g, 0.0, t, args=(g,),
                                          method=method, **kw)
            total = tf.reduce_sum(res.value)
        d_t, d_g = tape.gradient(total, [t, g])
        return res.value, d_t, d_g, res.status, res.n_evals

    for g0 in W4_G:
        rec = dict(method=method, mode=mode, g=g0)
        g = tf.constant(g0, tf.float64)
        fn = value_and_grad if mode == "eager" else tf.function(
            value_and_grad, jit_compile=(mode == "xla"))
        try:
            start = time.perf_counter()
            out = [np.asarray(o) for o in fn(t, g)]
            rec["first"] = time.perf_counter() - start
            times = []
            while len(times) < runs and (not times or sum(times) < budget):
                start = time.perf_counter()
                out = [np.asarray(o) for o in fn(t, g)]
                times.append(time.perf_counter() - start)
        except Exception as exc:  # noqa: BLE001  (reported in the table)
            rec["failed"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            print(json.dumps(rec), flush=True)
            continue
        value, d_t, d_g, status, n_evals = out
        exact = t_np ** (1 + g0) / (1 + g0)
        d_g_exact = np.sum(t_np ** (1 + g0) * (np.log(t_np) / (1 + g0) - 1 / (1 + g0) ** 2))
        rec.update(median=statistics.median(times), runs=len(times),
                   err=float(np.max(np.abs(value - exact))),
                   err_dt=float(np.max(np.abs(d_t - t_np**g0))),
                   err_dg=float(abs(d_g - d_g_exact) / abs(d_g_exact)),
                   converged=float(np.mean(status == 0)), evals=float(np.mean(n_evals)))
        print(json.dumps(rec), flush=True)


def run_w4(n, runs, budget, timeout, methods, modes):
    records = []
    for method in methods:
        for mode in modes:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", method, mode,
                   "--n", str(n), "--runs", str(runs), "--budget", str(budget)]
            start = time.perf_counter()
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
                stdout, problem = proc.stdout, (
                    None if proc.returncode == 0 else f"exit code {proc.returncode}")
            except subprocess.TimeoutExpired as exc:
                stdout = exc.stdout or ""
                stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
                problem = f"timed out after {timeout:.0f} s"
            got = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
            for g0 in W4_G:
                rec = next((r for r in got if r["g"] == g0), None)
                if rec is None:
                    rec = dict(method=method, mode=mode, g=g0, failed=problem or "no output")
                records.append(rec)
                print(f"  {method:<15}{mode:<9} g={g0:<5} "
                      + (rec.get("failed") or f"first {rec['first']:.2f} s, median "
                         f"{rec['median']:.3f} s, err {rec['err']:.1e}"), flush=True)
            print(f"    ({time.perf_counter() - start:.0f} s wall)", flush=True)
    return records


W4_LABEL = {"adaptive-gk": "adaptive-gk", "auto": "auto", "tanh-sinh": "tanh-sinh",
            "gauss-legendre": "gauss-legendre 32", "substitution": "GL 32 after u = t v^4"}


def w4_table(records, n):
    out = [f"### B. W4-style: value + gradient of {n:,} integrals int_0^t_i u^g du", "",
           "Gradient w.r.t. g and every t_i (reverse mode, one tape); default rtol "
           "(1.5e-8); t_i ~ U(0.1, 10). 'first call' includes tracing and compilation; "
           "'median' is over the following runs (count in brackets; fewer than 5 when "
           "the runs exceeded the time budget). Errors against the closed forms "
           "I = t^(1+g)/(1+g), dI/dt = t^g, and d(sum I)/dg (relative).", "",
           "| method | g | mode | first call (s) | median (s) [runs] | max abs err I "
           "| max abs err dI/dt | rel err d/dg | converged | evals/integral |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        label = W4_LABEL.get(r["method"], r["method"])
        if "failed" in r:
            out.append(f"| {label} | {r['g']} | {r['mode']} | failed: {r['failed']} "
                       "| | | | | | |")
            continue
        out.append(
            f"| {label} | {r['g']} | {r['mode']} | {r['first']:.2f} | "
            f"{r['median']:.3f} [{r['runs']}] | {r['err']:.1e} | {r['err_dt']:.1e} | "
            f"{r['err_dg']:.1e} | {100 * r['converged']:.1f}% | {r['evals']:.0f} |")
    return out


# ---------------------------------------------------------------------------- targets
def _family_ratio(rows, fam, method):
    both = [r for r in rows if r["family"] == fam and on_target(r["quadpack"])
            and on_target(r[method])]
    theirs = sum(r["quadpack"]["evals"] for r in both)
    if not theirs:
        return "no integral on target for both"
    return (f"{sum(r[method]['evals'] for r in both) / theirs:.2f}x reported, "
            f"{sum(r[method]['performed'] for r in both) / theirs:.2f}x performed")


def target_lines(rows, records, n):
    """The issue's two targets, restated with the measured numbers."""
    out = ["### Against the issue's targets", ""]
    if rows is not None:
        for fam in ("smooth", "singular"):
            ratios = "; ".join(f"{m} {_family_ratio(rows, fam, m)}" for m in CATALOGUE_METHODS)
            out.append(f"- Evaluations vs QUADPACK at the same (1e-10) accuracy, {fam} "
                       f"family (target <= 1x): {ratios}.")
    if records is not None:
        for g0 in W4_G:
            ok = [r for r in records if r["g"] == g0 and "failed" not in r]
            best = {}
            for r in ok:
                if r["method"] not in best or r["median"] < best[r["method"]]["median"]:
                    best[r["method"]] = r
            text = "; ".join(
                f"{W4_LABEL[m]} {r['median']:.3f} s ({r['mode']}; errors: I {r['err']:.0e}, "
                f"dI/dt {r['err_dt']:.0e}; {100 * r['converged']:.0f}% converged)"
                for m, r in best.items())
            out.append(f"- {n:,} value+gradient, g = {g0} (target well under 1 s), fastest "
                       f"mode per method: {text}.")
    return out + [""]


# ---------------------------------------------------------------------------- output
def write_section(lines):
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    block = "\n".join([SECTION, ""] + lines).rstrip() + "\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + block
    with open(path, "w") as fh:
        fh.write(text)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="replace the '## Quadrature (issue 2)' section of BENCHMARKS.md")
    parser.add_argument("--part", choices=("all", "catalogue", "w4"), default="all")
    parser.add_argument("--n", type=int, default=10_000, help="W4 batch size")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the first")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="stop timing a configuration after this many seconds of runs")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds per (method, mode) subprocess")
    parser.add_argument("--methods", default=",".join(W4_METHODS))
    parser.add_argument("--modes", default=",".join(W4_MODES))
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        w4_worker(*args.worker, args.n, args.runs, args.budget)
        return
    started = time.strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()
    lines, rows, records = [], None, None
    t0 = time.perf_counter()
    if args.part in ("all", "w4"):  # first: its subprocesses should not share the CPU
        print(f"Part B: W4 timing, {args.n} integrals (subprocess per method and mode)")
        records = run_w4(args.n, args.runs, args.budget, args.timeout,
                         args.methods.split(","), args.modes.split(","))
    if args.part in ("all", "catalogue"):
        print("Part A: catalogue at rtol 1e-10")
        rows = run_catalogue()
        lines += catalogue_tables(rows) + [""]
    if records is not None:
        lines += w4_table(records, args.n) + [""]
    lines = target_lines(rows, records, args.n) + lines
    load_end = os.getloadavg()
    command = " ".join([".venv/bin/python", "benchmarks/quadrature.py"]
                       + (argv if argv is not None else sys.argv[1:]))
    import bayesquad  # noqa: F401  (first: it silences TF's C++ logging)
    import tensorflow as tf

    lines = [f"Produced by `{command}` on {started} ({time.perf_counter() - t0:.0f} s): "
             f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, float64. Load "
             f"average {load[0]:.1f} at the start and {load_end[0]:.1f} at the end: the "
             "machine was shared with other jobs, so timings are upper bounds.", ""] + lines
    print("\n".join(lines))
    if args.write:
        write_section(lines)


if __name__ == "__main__":
    main()
