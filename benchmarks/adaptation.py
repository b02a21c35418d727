"""Metric adaptation: Stan's diagonal (variance of draws), nutpie's diagonal estimate from
draws and gradients, and Stan's dense metric (issue 13), on W1-W5, in one process.

For each workload and adaptation: min bulk ESS over parameters, leapfrog steps (gradients)
of the whole run (warm-up + sampling), ESS per 1,000 gradients, wall time of sampling
(warm-up + draws, compiled once beforehand) and ESS/s. Same seeds, same plans.

    .venv/bin/python benchmarks/adaptation.py [--workloads W1,W3] [--seeds 1,2]
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import gradient_cost as G  # noqa: E402
from _bench_common import cpu_description  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workloads", default="W1,W2,W3,W4,W5")
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    args = p.parse_args(argv)
    import arviz as az
    from bayesquad.inference import sample
    print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.2f}")
    print("| workload | adaptation | seed | min bulk ESS | gradients | ESS per 1k gradients "
          "| warm-up + sampling s | ESS/s |")
    print("|---|---|---|---|---|---|---|---|")
    for wl in args.workloads.split(","):
        module = G.load_model(G.NAMES[wl])
        data = module.load_data()
        model, obs = module.build(data), module.observed(data)
        for seed in (int(s) for s in args.seeds.split(",")):
            for adaptation in ("stan", "gradient", "dense"):
                dt = sample(model, obs, chains=4, warmup=args.warmup, draws=args.draws,
                            seed=seed, progress=False, log_likelihood=False,
                            metric_adaptation="stan" if adaptation == "dense" else adaptation,
                            dense_mass=adaptation == "dense")
                ess = float(np.min([az.ess(dt, method="bulk")[v].values.min()
                                    for v in module.PARAMS]))
                steps = int(dt.sample_stats["n_steps"].values.sum())
                # warm-up steps are not in sample_stats; the sampler's time covers both
                secs = dt.attrs["warmup_time_s"] + dt.attrs["sampling_time_s"]
                print(f"| {wl} | {adaptation} | {seed} | {ess:.0f} | {steps} | "
                      f"{1000 * ess / steps:.1f} | {secs:.2f} | {ess / secs:.0f} |", flush=True)


if __name__ == "__main__":
    main()
