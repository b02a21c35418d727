"""Study throughput: fits per minute with 1 and 2 Dask workers on this machine.

For each workload and worker count, a fresh ``LocalCluster`` (processes, one thread each)
runs an SBC study of ``--fits`` fits into a fresh directory, with the quadrature check on
every 10th fit. Reported: end-to-end fits/min (cluster start, TF import and compiles
included) and steady fits/min (from the first to the last record written, i.e. after each
worker's first fit). Ratios between worker counts are measured in the same command; run it
on an idle machine (``uptime`` is recorded).

    .venv/bin/python benchmarks/sbc_throughput.py                  # W2 NUTS + normal MAP, 60 fits
    .venv/bin/python benchmarks/sbc_throughput.py --quick          # smoke run: 6 fits
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from _bench_common import cpu_description, markdown_table  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = {
    "W2-narrow NUTS": dict(model_file=os.path.join(HERE, "sbc_models",
                                                   "poisson_process_narrow.py"),
                           method="nuts", check_quadrature=10),
    "normal MAP": dict(model_file=os.path.join(HERE, "..", "tests", "calibration",
                                               "normal_model.py"),
                       method="map", check_quadrature=0, rank_draws=19, batch_size=1),
}


def run_study(model_file, n_workers, n_fits, first_task_fits=1, **calibrate_kw):
    """One study on a fresh ``LocalCluster`` of ``n_workers`` single-threaded processes.

    Returns ``(dataset, wall_s, steady_fits_per_s)``; the steady rate counts from the end
    of each worker's first task (``first_task_fits`` fits: where it compiled) to the last
    record written.
    """
    from distributed import Client, LocalCluster  # pylint: disable=import-outside-toplevel
    from bayesquad.calibration import calibrate  # pylint: disable=import-outside-toplevel
    out = tempfile.mkdtemp(prefix="bq-study-")
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    try:
        ds = calibrate(model_file, n_fits, out, client=client, progress=False, **calibrate_kw)
        wall = time.perf_counter() - t0
        fits = os.path.join(out, "fits")
        stamps = sorted(os.stat(os.path.join(fits, f)).st_mtime for f in os.listdir(fits))
    finally:
        client.close()
        cluster.close()
        shutil.rmtree(out, ignore_errors=True)
    skip = n_workers * first_task_fits
    steady = ((len(stamps) - skip) / (stamps[-1] - stamps[skip - 1])
              if len(stamps) > skip and stamps[-1] > stamps[skip - 1] else float("nan"))
    return ds, wall, steady


def save_results(stem, rows, quick, out=None):
    """Write ``{"meta", "rows"}`` JSON (CPU, load average, date) to ``out`` or
    ``benchmarks/results/STEM-<date>.json``; print where."""
    meta = {"cpu": cpu_description(), "loadavg": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": quick}
    path = out or os.path.join(HERE, "results", time.strftime(f"{stem}-%Y%m%d-%H%M%S")
                               + ("-quick" if quick else "") + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print(f"\n{meta['cpu']}, load average {meta['loadavg']}; wrote {path}")


def _measure(name, kw, n_workers, n_fits):
    kw = dict(kw)
    ds, wall, steady = run_study(kw.pop("model_file"), n_workers, n_fits, **kw)
    return {"workload": name, "workers": n_workers, "fits": n_fits, "ok": int(ds.ok.sum()),
            "wall_s": round(wall, 1), "fits_per_min": round(n_fits / wall * 60, 1),
            "steady_fits_per_min": round(steady * 60, 1),
            "median_fit_s": round(float(ds.time_s.median()), 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fits", type=int, default=60)
    ap.add_argument("--quick", action="store_true", help="6 fits per measurement")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--out", default=None, help="results JSON (default benchmarks/results/)")
    args = ap.parse_args()
    n_fits = 6 if args.quick else args.fits
    rows = []
    for name, kw in WORKLOADS.items():
        for n in (int(w) for w in args.workers.split(",")):
            row = _measure(name, kw, n, n_fits)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n" + markdown_table(
        ("workload", "workers", "fits", "end-to-end fits/min", "steady fits/min",
         "median s per fit"),
        [(r["workload"], r["workers"], r["fits"], r["fits_per_min"], r["steady_fits_per_min"],
          r["median_fit_s"]) for r in rows]))
    save_results("sbc-throughput", rows, args.quick, args.out)


if __name__ == "__main__":
    main()
