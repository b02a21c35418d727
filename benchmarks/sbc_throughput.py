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
import platform
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = {
    "W2-narrow NUTS": dict(model_file=os.path.join(HERE, "sbc_models",
                                                   "poisson_process_narrow.py"),
                           method="nuts", check_quadrature=10),
    "normal MAP": dict(model_file=os.path.join(HERE, "..", "tests", "calibration",
                                               "normal_model.py"),
                       method="map", check_quadrature=0, rank_draws=19),
}


def _cpu():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _measure(name, kw, n_workers, n_fits):
    from distributed import Client, LocalCluster  # pylint: disable=import-outside-toplevel
    from bayesquad.calibration import calibrate  # pylint: disable=import-outside-toplevel
    kw = dict(kw)
    model_file = kw.pop("model_file")
    out = tempfile.mkdtemp(prefix="bq-throughput-")
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    try:
        ds = calibrate(model_file, n_fits, out, client=client, progress=False, **kw)
        wall = time.perf_counter() - t0
        stamps = sorted(os.stat(os.path.join(out, "fits", f)).st_mtime
                        for f in os.listdir(os.path.join(out, "fits")))
    finally:
        client.close()
        cluster.close()
        shutil.rmtree(out, ignore_errors=True)
    steady = (len(stamps) - n_workers) / ((stamps[-1] - stamps[n_workers - 1]) / 60) \
        if len(stamps) > n_workers and stamps[-1] > stamps[n_workers - 1] else float("nan")
    return {"workload": name, "workers": n_workers, "fits": n_fits, "ok": int(ds.ok.sum()),
            "wall_s": round(wall, 1), "fits_per_min": round(n_fits / wall * 60, 1),
            "steady_fits_per_min": round(steady, 1),
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
    head = "| workload | workers | fits | end-to-end fits/min | steady fits/min | median s per fit |"
    print("\n" + head + "\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workload']} | {r['workers']} | {r['fits']} | {r['fits_per_min']} | "
              f"{r['steady_fits_per_min']} | {r['median_fit_s']} |")
    meta = {"cpu": _cpu(), "cores": os.cpu_count(), "loadavg": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick}
    path = args.out or os.path.join(HERE, "results", time.strftime(
        "sbc-throughput-%Y%m%d-%H%M%S") + ("-quick" if args.quick else "") + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print(f"\n{meta['cpu']}, {meta['cores']} cores, load average {meta['loadavg']}; wrote {path}")


if __name__ == "__main__":
    main()
