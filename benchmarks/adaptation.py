"""Metric adaptation: Stan's diagonal (variance of draws), nutpie's diagonal estimate from
draws and gradients, Stan's dense metric and nutpie's low-rank estimate (issue 13), on
W1-W5, in one process.

For each workload and adaptation: min bulk ESS over parameters, leapfrog steps (gradients)
of the whole run (warm-up + sampling), ESS per 1,000 gradients, wall time of sampling
(warm-up + draws, compiled once beforehand) and ESS/s. Same seeds, same plans.

    .venv/bin/python benchmarks/adaptation.py [--workloads W1,W3,W3u] [--seeds 1,2]
        [--variants stan,gradient,dense,low-rank]
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import gradient_cost as G  # noqa: E402
from _bench_common import cpu_description  # noqa: E402

#: ``sample`` settings of each adaptation compared
VARIANTS = {"stan": dict(metric_adaptation="stan", dense_mass=False),
            "gradient": dict(metric_adaptation="gradient", dense_mass=False),
            "dense": dict(metric_adaptation="stan", dense_mass=True),
            "low-rank": dict(metric_adaptation="low-rank", dense_mass=True)}


def w3u(tf, tfd):
    """W3 with its 200 random intercepts sampled instead of integrated out (203
    dimensions, centred ``u_j ~ N(0, tau)`` or non-centred ``u_j = tau e_j``): the
    dimension where ``dense_mass="auto"`` keeps the diagonal and the low-rank estimate is
    meant to help. Returns ``{name: (model, observed, params)}``."""
    module = G.load_model(G.NAMES["W3"])
    data = module.load_data()
    f64 = tf.float64
    x, group = tf.constant(data["x"], f64), tf.constant(data["group"].astype(np.int32))
    n_groups = int(data["n_groups"])
    root = tfd.JointDistributionCoroutine.Root

    def build(noncentred):
        def model():
            b0 = yield root(tfd.Normal(tf.constant(0.0, f64), 2.5, name="b0"))
            b1 = yield root(tfd.Normal(tf.constant(0.0, f64), 2.5, name="b1"))
            tau = yield root(tfd.HalfNormal(tf.constant(2.0, f64), name="tau"))
            if noncentred:
                e = yield tfd.Sample(tfd.Normal(tf.constant(0.0, f64), 1.0), n_groups,
                                     name="u")
                u = e * tau[..., None]
            else:
                u = yield tfd.Sample(tfd.Normal(tf.constant(0.0, f64), tau), n_groups,
                                     name="u")
            logits = b0[..., None] + b1[..., None] * x + tf.gather(u, group, axis=-1)
            yield tfd.Independent(tfd.Bernoulli(logits=logits), 1, name="y")
        return tfd.JointDistributionCoroutine(model)
    obs = {"y": data["y"].astype(np.float64)}
    params = ("b0", "b1", "tau", "u")
    return {"W3u-centred": (build(False), obs, params),
            "W3u-noncentred": (build(True), obs, params)}


def _workloads(names):
    import tensorflow as tf
    import tensorflow_probability as tfp
    for wl in names:
        if wl == "W3u":
            yield from w3u(tf, tfp.distributions).items()
            continue
        module = G.load_model(G.NAMES[wl])
        data = module.load_data()
        yield wl, (module.build(data), module.observed(data), module.PARAMS)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workloads", default="W1,W2,W3,W4,W5")
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--variants", default="stan,gradient,dense",
                   help=f"comma-separated, from {sorted(VARIANTS)}")
    args = p.parse_args(argv)
    import arviz as az
    from bayesquad.inference import sample
    print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.2f}")
    print("| workload | adaptation | seed | min bulk ESS | gradients | ESS per 1k gradients "
          "| warm-up + sampling s | ESS/s |")
    print("|---|---|---|---|---|---|---|---|")
    for wl, (model, obs, params) in _workloads(args.workloads.split(",")):
        for seed in (int(s) for s in args.seeds.split(",")):
            for adaptation in args.variants.split(","):
                dt = sample(model, obs, chains=4, warmup=args.warmup, draws=args.draws,
                            seed=seed, progress=False, log_likelihood=False,
                            **VARIANTS[adaptation])
                ess = float(np.min([az.ess(dt, method="bulk")[v].values.min()
                                    for v in params]))
                steps = int(dt.sample_stats["n_steps"].values.sum())
                # warm-up steps are not in sample_stats; the sampler's time covers both
                secs = dt.attrs["warmup_time_s"] + dt.attrs["sampling_time_s"]
                print(f"| {wl} | {adaptation} | {seed} | {ess:.0f} | {steps} | "
                      f"{1000 * ess / steps:.1f} | {secs:.2f} | {ess / secs:.0f} |", flush=True)


if __name__ == "__main__":
    main()
