"""Fit one model three ways (NUTS, VI, MAP) and print the diagnostic verdict.

The model: events on [0, 1] with density proportional to exp(-lam * x), normalised by
quadrature (``bayesquad.distributions.Normalized``), lam ~ Gamma(2, 1/2).

Run: ``.venv/bin/python examples/inference_quickstart.py``  (about a minute on 2 cores)
"""
import numpy as np

import bayesquad  # noqa: F401
import arviz as az
import tensorflow as tf
import tensorflow_probability as tfp
from bayesquad.diagnostics import diagnose
from bayesquad.distributions import Normalized
from bayesquad.inference import find_map, fit_vi, sample

tfd = tfp.distributions


def make_model(n):
    def coro():
        lam = yield tfd.Gamma(tf.constant(2.0, tf.float64), 0.5, name="lam")
        yield tfd.Sample(Normalized(lambda x, lam: -lam * x, 0.0, 1.0, params={"lam": lam}),
                         n, name="x")
    return tfd.JointDistributionCoroutine(coro)


def main():
    x = np.random.default_rng(0).uniform(size=300) ** 1.5
    model = make_model(len(x))
    dt = sample(model, {"x": x}, chains=4, warmup=500, draws=500, seed=0)
    print(az.summary(dt))
    print(diagnose(dt))  # finds the model through the run id in dt.attrs
    vi = fit_vi(model, {"x": x}, steps=1000)
    print("VI  lam mean/sd:", float(vi.posterior["lam"].mean()), float(vi.posterior["lam"].std()),
          "converged:", bool(vi.attrs["vi_converged"]))
    m = find_map(model, {"x": x})
    print("MAP lam:", float(m.params["lam"]), "|", m.message)


if __name__ == "__main__":
    main()
