"""The U-turn criterion's momentum sum: Stan's plain sum against the trapezoidal sum (issue 13).

For each workload, both criteria (``_nuts_kernel.TRAPEZOID_RHO``), seeds 1 and 2, 4 chains
× (1000 + 1000), default settings otherwise: min bulk ESS, sampling-phase gradients, ESS
per 1k gradients, warm-up + sampling seconds, ESS/s.

    .venv/bin/python benchmarks/uturn_criterion.py W1,W2,W3,W4,W5
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np, arviz as az
from _bench_common import load_model
import bayesquad
from bayesquad.inference import _nuts_kernel
NAMES = {"W1": "peak_on_background", "W2": "poisson_process", "W3": "glmm_logistic", "W4": "survival_tvc", "W5": "lifetime_resolution"}
for wl in sys.argv[1].split(","):
    m = load_model(NAMES[wl]); data = m.load_data(); model = m.build(data); obs = m.observed(data)
    for trap in (False, True):
        _nuts_kernel.TRAPEZOID_RHO = trap
        model = m.build(data)  # a fresh model: compiled chunks are cached per model
        for seed in (1, 2):
            dt = bayesquad.sample(model, obs, chains=4, warmup=1000, draws=1000, seed=seed, progress=False, log_likelihood=False)
            ess = float(min(az.ess(dt, method="bulk")[v].values.min() for v in m.PARAMS))
            g = int(dt.sample_stats["n_steps"].values.sum())
            a = dt.attrs
            t = a["warmup_time_s"] + a["sampling_time_s"]
            print(wl, "trapezoid" if trap else "stan-sum", seed, "ESS %.0f" % ess, "grads", g, "ESS/1k grads %.1f" % (1000 * ess / g), "s %.2f" % t, "ESS/s %.0f" % (ess / t), flush=True)
