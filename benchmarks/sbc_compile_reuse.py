"""Compile reuse inside one study worker: W2 data sets padded to buckets, or not padded.

Runs ``bayesquad.calibration._tasks.fit_one`` (the Dask task body) in this process for the
first ``--fits`` fits of an SBC study of ``sbc_models/poisson_process_narrow.py``, once
with ``buckets="pow2"`` and once with ``buckets=None`` (every data set its own event
count, so its own model and compiled sampler), and prints per-fit compile and fit times.
The quadrature check is off (it retraces by design and is the same in both).

    .venv/bin/python benchmarks/sbc_compile_reuse.py --fits 8
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bayesquad.calibration import _study, _tasks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "sbc_models", "poisson_process_narrow.py")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fits", type=int, default=8)
    ap.add_argument("--out", default=None, help="write the rows as JSON here")
    args = ap.parse_args()
    rows = []
    for buckets in ("pow2", None):
        spec = _study._spec(MODEL, None, "sbc", None, "nuts", None, 0, 99, buckets,  # pylint: disable=protected-access
                            _study.DEFAULT_LEVELS, 0, None, None)
        _tasks._CACHE.clear()  # pylint: disable=protected-access
        for i in range(args.fits):
            t0 = time.perf_counter()
            rec = _tasks.fit_one(spec, i)
            if rec["status"] != "ok":
                raise RuntimeError(rec["error"])
            row = {"buckets": str(buckets), "fit": i, "events": rec["n_rows"]["t"],
                   "padded_to": rec["padded_to"]["t"], "model_cached": rec["model_cached"],
                   "compile_s": round(rec["compile_time_s"], 2),
                   "fit_s": round(rec["fit_time_s"], 2),
                   "task_s": round(time.perf_counter() - t0, 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    for buckets in ("pow2", "None"):
        sel = [r for r in rows if r["buckets"] == buckets][1:]  # after the first fit
        print(f"buckets={buckets}: fits 2..{args.fits}: mean fit {sum(r['fit_s'] for r in sel) / len(sel):.2f} s, "
              f"mean compile {sum(r['compile_s'] for r in sel) / len(sel):.2f} s, "
              f"{sum(r['model_cached'] for r in sel)} of {len(sel)} reused the built model")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
