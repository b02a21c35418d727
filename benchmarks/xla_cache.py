"""First run of a fit in a new process: cold XLA compile against bayesquad's persistent cache.

``import bayesquad`` points TensorFlow's persistent XLA cache at
``~/.cache/bayesquad/xla/<cpu, tf, flags>`` (``bayesquad/_xla_env.py``), so a second
process fitting the same model loads the compiled sampler instead of compiling it. This
script measures what that is worth: per workload, rounds of three fresh subprocesses,
each timing one ``sample`` call (4 chains x (1000 + 1000), the bundled data):

- ``off``:  ``BAYESQUAD_XLA_CACHE=0``,
- ``cold``: an empty cache directory (the first process ever; it writes the entry),
- ``warm``: the directory the ``cold`` run just filled.

    .venv/bin/python benchmarks/xla_cache.py --workloads W1,W2,W4,W6 --rounds 3

Prints the median per setting and each run's ``compile_time_s``; run it on an otherwise
idle machine (or say what else ran).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import _bench_common as C  # noqa: E402

MARK = "@@XLA-CACHE "


def worker(workload):
    """One ``sample`` call in this process; prints its wall time and the fit's timings."""
    from bayesquad.inference import sample  # pylint: disable=import-outside-toplevel

    mod = C.load_model(C.WORKLOADS[workload], ROOT)
    data = mod.load_data()
    model, obs = mod.build(data), mod.observed(data)
    tic = time.perf_counter()
    fit = sample(model, obs, chains=4, warmup=1000, draws=1000, seed=1,
                 log_likelihood=False, progress=False)
    wall = time.perf_counter() - tic
    attrs = {k: float(v) for k, v in fit.attrs.items() if k.endswith("_time_s")}
    print(MARK + json.dumps({"first_s": wall, **attrs}), flush=True)


def run_one(workload, cache):
    env = dict(os.environ, BAYESQUAD_XLA_CACHE=cache, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONWARNINGS="ignore")
    env.pop("TF_XLA_FLAGS", None)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", workload],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900,
                          stdin=subprocess.DEVNULL, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{workload}: worker failed: {proc.stderr[-2000:]}")
    return json.loads(lines[-1][len(MARK):])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="W1,W2,W4,W6")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return
    print(f"CPU: {C.cpu_description()}; load average {os.getloadavg()[0]:.2f}")
    print("| workload | off: first run, s | cold | warm | compile_time_s off / cold / warm |")
    print("|---|---|---|---|---|")
    for workload in args.workloads.split(","):
        runs = {"off": [], "cold": [], "warm": []}
        for _ in range(args.rounds):
            runs["off"].append(run_one(workload, "0"))
            directory = tempfile.mkdtemp(prefix="bq-xla-cache-")
            try:
                runs["cold"].append(run_one(workload, directory))
                runs["warm"].append(run_one(workload, directory))
            finally:
                shutil.rmtree(directory, ignore_errors=True)
        med = {k: statistics.median(r["first_s"] for r in v) for k, v in runs.items()}
        comp = " / ".join(f"{statistics.median(r.get('compile_time_s', 0.0) for r in v):.2f}"
                          for v in runs.values())
        print(f"| {workload} | {med['off']:.2f} | {med['cold']:.2f} | {med['warm']:.2f} | "
              f"{comp} |", flush=True)
        for k, v in runs.items():
            firsts = ", ".join(f"{r['first_s']:.2f}" for r in v)
            print(f"|   {k} runs | {firsts} | | | |")


if __name__ == "__main__":
    main()
