"""The SBC studies of BENCHMARKS.md: W2 (narrow priors), its negative control, and W5.

Each study is resumable: rerunning the same command continues in its directory.

    .venv/bin/python benchmarks/sbc_studies.py w2 --out sbc-out/w2            # 200 NUTS fits
    .venv/bin/python benchmarks/sbc_studies.py w2-biased --out sbc-out/w2-biased --n-fits 100
    .venv/bin/python benchmarks/sbc_studies.py w5 --out sbc-out/w5                # 200 MAP fits
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

HERE = os.path.dirname(os.path.abspath(__file__))
NARROW = os.path.join(HERE, "sbc_models", "poisson_process_narrow.py")
STUDIES = {
    # NUTS 2 chains x (300 warm-up + 250 draws); ranks among 99 draws thinned from 500
    "w2": dict(model_file=NARROW, n_fits=200, check_quadrature=5),
    # the same simulations, fitted with a biased 10-node x 5-panel rule
    "w2-biased": dict(model_file=NARROW, n_fits=200, check_quadrature=20,
                      fit_model_file=os.path.join(HERE, "sbc_models",
                                                  "poisson_process_biased.py")),
    # W5 on 300 events a data set (the bundled 5000 cost ~17x more per gradient), fitted
    # by MAP + Laplace (unconstrained space): the fast path of the study runner
    "w5": dict(model_file=os.path.join(HERE, "..", "models", "lifetime_resolution.py"),
               n_fits=200, check_quadrature=20, simulate_kwargs={"n": 300}, method="map"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", choices=sorted(STUDIES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-fits", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    from bayesquad.calibration import calibrate, rank_uniformity  # pylint: disable=import-outside-toplevel
    kw = dict(STUDIES[args.study])
    if args.n_fits:
        kw["n_fits"] = args.n_fits
    model_file, n_fits = kw.pop("model_file"), kw.pop("n_fits")
    ds = calibrate(model_file, n_fits, args.out, n_workers=args.workers, progress=True, **kw)
    test = rank_uniformity(ds)
    summary = {"study": args.study, "n_fits": int(ds.sizes["fit"]), "ok": int(ds.ok.sum()),
               "verdict_failed": int((~ds.verdict_passed.values).sum()),
               "quadrature_failed": int((ds.quadrature.values == "fail").sum()),
               "bins": int(test.attrs["bins"]), "n_ranks": int(test.attrs["n_ranks"]),
               "p_value": {p: float(v) for p, v in zip(test.param.values, test.p_value.values)},
               "ecdf_inside": {p: bool(v) for p, v in
                               zip(test.param.values, test.ecdf_inside.values)},
               "mean_pull": {p: float(v) for p, v in
                             zip(ds.param.values, ds.pull.where(ds.ok).mean("fit").values)}}
    print(json.dumps(summary, indent=1))
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
