"""Toy throughput: MAP + Laplace toys per second, one fit per task against batched fits.

For each model, batch size and worker count, a fresh ``LocalCluster`` (processes, one
thread each) runs a toy study (``mode="toys"``, the model file's ``TRUTH``) of ``--toys``
fits into a fresh directory, quadrature check off (it costs the same per fit on both paths).
``batch_size=1`` is one :func:`bayesquad.inference.find_map` per Dask task (scipy's L-BFGS-B
on a compiled log density); ``batch_size=K`` is one
:func:`bayesquad.inference.find_map_batch` per task (TFP's L-BFGS over K data sets in one
XLA program). Reported: end-to-end toys/s (cluster start, TF import, compiles included)
and steady toys/s (after each worker's first task: the compile is paid once per worker and
bucket). Every ratio comes from this one command; run it on an idle machine (the load
average is recorded).

    .venv/bin/python benchmarks/toys_batched.py                 # W2-narrow and normal, 256 toys
    .venv/bin/python benchmarks/toys_batched.py --quick         # smoke run
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from _bench_common import markdown_table  # noqa: E402
from sbc_throughput import run_study, save_results  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {
    "W2-narrow (3 params, ~2,600 events)": dict(
        model_file=os.path.join(HERE, "sbc_models", "poisson_process_narrow.py")),
    "normal (1 param, 20 obs)": dict(
        model_file=os.path.join(HERE, "..", "tests", "calibration", "normal_model.py")),
}


def _measure(name, kw, batch, n_workers, n_toys):
    ds, wall, steady = run_study(kw["model_file"], n_workers, n_toys, first_task_fits=batch,
                                 mode="toys", method="map", batch_size=batch,
                                 check_quadrature=0, rank_draws=19)
    return {"model": name, "batch": batch, "workers": n_workers, "toys": n_toys,
            "ok": int(ds.ok.sum()), "wall_s": round(wall, 1),
            "toys_per_s": round(n_toys / wall, 2), "steady_toys_per_s": round(steady, 2),
            "compile_s": round(float(ds.compile_time_s.max()) * batch, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toys", type=int, default=256)
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--models", default=None, help="comma-separated prefixes of MODELS' names")
    ap.add_argument("--quick", action="store_true", help="16 toys, batches 1 and 8")
    ap.add_argument("--out", default=None, help="results JSON (default benchmarks/results/)")
    args = ap.parse_args()
    n_toys = 16 if args.quick else args.toys
    batches = [1, 8] if args.quick else [int(b) for b in args.batches.split(",")]
    models = {k: v for k, v in MODELS.items()
              if args.models is None or any(k.startswith(p) for p in args.models.split(","))}
    rows = []
    for name, kw in models.items():
        for n in (int(w) for w in args.workers.split(",")):
            for batch in batches:
                row = _measure(name, kw, batch, n, n_toys)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\n" + markdown_table(
        ("model", "workers", "batch", "toys", "end-to-end toys/s", "steady toys/s",
         "compile s (per worker, first task)"),
        [(r["model"], r["workers"], r["batch"], r["toys"], r["toys_per_s"],
          r["steady_toys_per_s"], r["compile_s"]) for r in rows]))
    save_results("toys-batched", rows, args.quick, args.out)


if __name__ == "__main__":
    main()
