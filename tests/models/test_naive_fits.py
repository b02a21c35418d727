"""The model files as a new user writes them (every integral at its distribution's
defaults) fit, pass their verdict including the quadrature check of the planned rules,
and agree with reference posteriors computed from model_references.py (numpy/scipy).

Reference posterior means: self-normalised importance sampling with a multivariate t
(5 d.o.f.) proposal around the fit, weighted by the independent numpy log posterior; the
weights correct for any proposal, so the fit only chooses where to look. W2 (Bessel-series
integral) and W5 (closed-form convolution) have references cheap enough for 20,000 points.
"""
import importlib.util
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model_references as R  # noqa: E402

import bayesquad  # noqa: E402,F401
from bayesquad.diagnostics import diagnose  # noqa: E402
from bayesquad.inference import sample  # noqa: E402

# name -> (parameters, the ones sampled on the log scale in the proposal)
CASES = {"poisson_process": (("a", "b", "c"), ()),
         "lifetime_resolution": (("tau", "r"), ("tau", "r")),
         "spatial_poisson": (("a", "b", "c", "x0", "y0", "w"), ("c", "w"))}
#: W6's reference integral is a 65,536-node numpy grid (checked against SciPy's cubature
#: in test_models), about 2 ms a point: fewer importance points
REFERENCE = {"spatial_poisson": R.w6_grid}
POINTS = {"spatial_poisson": 8_000}


def _module(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(HERE, "..", "..", "models", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference_means(name, data, draws, params, logged, n=20_000, seed=0):
    x = np.column_stack([np.log(draws[p]) if p in logged else draws[p] for p in params])
    mean, cov = x.mean(0), np.cov(x.T) * 1.5
    rng = np.random.default_rng(seed)
    df, d = 5.0, len(params)
    chol = np.linalg.cholesky(cov)
    zs = rng.standard_normal((n, d))
    u = rng.chisquare(df, n) / df
    y = mean + (zs @ chol.T) / np.sqrt(u)[:, None]
    # log density of the multivariate t proposal (up to a constant)
    sol = np.linalg.solve(chol, (y - mean).T).T
    log_q = -0.5 * (df + d) * np.log1p(np.sum(sol ** 2, 1) / df)
    log_p = np.empty(n)
    for i, row in enumerate(y):
        val = {p: (np.exp(v) if p in logged else v) for p, v in zip(params, row)}
        jac = sum(v for p, v in zip(params, row) if p in logged)
        log_p[i] = REFERENCE.get(name, R.LOG_POSTERIOR[name])(data, **val) + jac
    w = np.exp(log_p - log_q - np.max(log_p - log_q))
    w /= w.sum()
    ess = 1.0 / np.sum(w ** 2)
    values = np.column_stack([np.exp(y[:, j]) if p in logged else y[:, j]
                              for j, p in enumerate(params)])
    return dict(zip(params, w @ values)), ess


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_default_settings_fit_pass_and_agree_with_the_reference(name):
    import arviz as az
    params, logged = CASES[name]
    m = _module(name)
    data = m.load_data()
    # 1000 draws per chain, not 400: the verdict's r_hat <= 1.01 is a statistic of the
    # draws, and at 4 x 400 the largest of W6's six split r_hats exceeded 1.01 in 1 of 14
    # seeds (1.0019-1.0110, mean 1.006) for a sampler that mixes; at 4 x 1000 it was
    # 1.0013-1.0049 over 8 seeds (2026-12-07). A rounding change moves the random path, so
    # a test that passes only on its seed's path would fail on another machine.
    dt = sample(m.build(data), m.observed(data), chains=4, warmup=500, draws=1000, seed=11,
                progress=False, log_likelihood=bool(m.POINTWISE_LOG_LIKELIHOOD))
    assert dt.attrs["quadrature_plans"]
    verdict = diagnose(dt)
    assert verdict.passed, str(verdict)
    assert verdict["quadrature"].passed and "plans certified" in verdict["quadrature"].message
    draws = {p: dt.posterior[p].values.ravel() for p in params}
    ref, ess = _reference_means(name, data, draws, params, logged,
                                n=POINTS.get(name, 20_000))
    assert ess > 2000  # the proposal covers the posterior
    summary = az.summary(dt, round_to="none")
    for p in params:
        row = summary.loc[p]
        assert abs(row["mean"] - ref[p]) < 4 * row["mcse_mean"] + 3 * row["sd"] / np.sqrt(ess), \
            (p, row["mean"], ref[p], row["mcse_mean"])
