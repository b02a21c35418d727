"""NUTS sampling: exact conjugate posteriors, DataTree schema, determinism, resume, errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats as st

import bayesquad  # noqa: F401
import arviz as az
import bq_inference_models as M
from bayesquad.inference import sample


@pytest.fixture(scope="module")
def dt():
    return M.conjugate_run()


def test_conjugate_posteriors_within_4_mcse(dt):
    exact = M.conjugate_posteriors()
    summary = az.summary(dt, round_to="none")
    for name, dist in exact.items():
        row = summary.loc[name]
        assert abs(row["mean"] - dist.mean()) < 4 * row["mcse_mean"], (name, row, dist.mean())
        assert abs(row["sd"] - dist.std()) < 4 * row["mcse_sd"], (name, row, dist.std())
        assert row["r_hat"] < 1.02


def test_parallel_chains_adapt_independently(dt):
    # the default: every chain its own sampler, so step sizes differ between chains
    assert dt.attrs["chain_method"] == "parallel"
    final = dt.sample_stats["step_size"].values[:, -1]
    assert len(np.unique(final)) == len(final)


def test_vectorized_chains_share_adaptation_and_agree_with_closed_forms():
    run = sample(M.CONJUGATE, M.CONJ_OBS, chain_method="vectorized", log_likelihood=False,
                 **M.CONJ_SETTINGS)
    final = run.sample_stats["step_size"].values[:, -1]
    assert np.all(final == final[0])
    summary = az.summary(run, round_to="none")
    for name, dist in M.conjugate_posteriors().items():
        row = summary.loc[name]
        assert abs(row["mean"] - dist.mean()) < 4 * row["mcse_mean"], (name, row)
        assert abs(row["sd"] - dist.std()) < 4 * row["mcse_sd"], (name, row)


def test_datatree_schema(dt):
    assert {"posterior", "sample_stats", "observed_data", "log_likelihood"} <= set(dt.children)
    post = dt.posterior
    assert set(post.data_vars) == {"mu", "p", "lam"}
    assert post.sizes["chain"] == 4 and post.sizes["draw"] == 300
    assert post["mu"].dims == ("chain", "draw")
    stats = dt.sample_stats
    for name in ("lp", "diverging", "energy", "step_size", "n_steps", "tree_depth",
                 "reach_max_depth", "acceptance_rate"):
        assert stats[name].dims == ("chain", "draw"), name
    assert stats["diverging"].dtype == bool
    assert np.all((stats["acceptance_rate"] >= 0) & (stats["acceptance_rate"] <= 1))
    assert dt.observed_data["y"].dims == ("y_dim_0",)
    np.testing.assert_array_equal(dt.observed_data["k"].values, M.K)
    assert dt.log_likelihood["y"].dims == ("chain", "draw", "y_dim_0")
    assert dt.log_likelihood["c"].shape == (4, 300, 12)
    for key in ("seed", "warmup", "draws", "chains", "compile_time_s", "warmup_time_s",
                "sampling_time_s", "tensorflow_probability_version", "arviz_version",
                "quadrature_settings", "target_accept"):
        assert key in dt.attrs, key


def test_pointwise_log_likelihood_matches_scipy(dt):
    p = dt.posterior["p"].values[1, 17]
    lam = dt.posterior["lam"].values[2, 5]
    mu = dt.posterior["mu"].values[0, 3]
    np.testing.assert_allclose(dt.log_likelihood["k"].values[1, 17],
                               st.binom(M.TRIALS, p).logpmf(M.K), rtol=1e-10)
    np.testing.assert_allclose(dt.log_likelihood["c"].values[2, 5],
                               st.poisson(lam).logpmf(M.COUNTS), rtol=1e-10)
    np.testing.assert_allclose(dt.log_likelihood["y"].values[0, 3],
                               st.norm(mu, M.SIGMA).logpdf(M.Y), rtol=1e-10)


def test_same_seed_same_draws_and_other_seed_differs(dt):
    again = sample(M.CONJUGATE, M.CONJ_OBS, **M.CONJ_SETTINGS)
    for name in ("mu", "p", "lam"):
        np.testing.assert_array_equal(again.posterior[name].values, dt.posterior[name].values)
    np.testing.assert_array_equal(again.sample_stats["n_steps"].values,
                                  dt.sample_stats["n_steps"].values)
    other = sample(M.CONJUGATE, M.CONJ_OBS, **{**M.CONJ_SETTINGS, "seed": 8},
                   log_likelihood=False)
    assert not np.array_equal(other.posterior["mu"].values, dt.posterior["mu"].values)
    assert "log_likelihood" not in other.children


def test_thinned_log_likelihood_and_netcdf_roundtrip(dt, tmp_path):
    thin = sample(M.CONJUGATE, M.CONJ_OBS, **M.CONJ_SETTINGS, log_likelihood=7)
    assert thin.log_likelihood.sizes["draw"] == len(range(0, 300, 7))
    np.testing.assert_array_equal(thin.log_likelihood["draw"].values, np.arange(0, 300, 7))
    np.testing.assert_array_equal(thin.log_likelihood["y"].values,
                                  dt.log_likelihood["y"].values[:, ::7])
    path = tmp_path / "run.nc"
    dt.to_netcdf(path)
    back = az.from_netcdf(path)
    np.testing.assert_array_equal(back.posterior["lam"].values, dt.posterior["lam"].values)


@pytest.mark.slow
def test_resume_after_kill_equals_uninterrupted(dt, tmp_path):
    ckpt = tmp_path / "ckpt"
    here = os.path.dirname(__file__)
    proc = subprocess.run([sys.executable, os.path.join(here, "bq_inference_models.py"),
                           str(ckpt)], cwd=here, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr[-2000:]  # killed by SIGKILL after chunk 3
    assert (ckpt / "chunk_00003.npz").exists() and not (ckpt / "chunk_00004.npz").exists()
    resumed = sample(M.CONJUGATE, M.CONJ_OBS, checkpoint=ckpt, **M.CONJ_SETTINGS)
    assert resumed.attrs["init_message"] == "resumed from checkpoint"
    for name in ("mu", "p", "lam"):
        np.testing.assert_array_equal(resumed.posterior[name].values, dt.posterior[name].values)
    for name in ("lp", "step_size", "n_steps"):
        np.testing.assert_array_equal(resumed.sample_stats[name].values,
                                      dt.sample_stats[name].values)
    with pytest.raises(ValueError, match="different run"):
        sample(M.CONJUGATE, M.CONJ_OBS, checkpoint=ckpt, **{**M.CONJ_SETTINGS, "seed": 99})


@pytest.mark.slow
def test_chunk_size_does_not_change_the_draws(dt):
    one_chunk = sample(M.CONJUGATE, M.CONJ_OBS, chunk_size=600, log_likelihood=False,
                       **M.CONJ_SETTINGS)
    for name in ("mu", "p", "lam"):
        np.testing.assert_array_equal(one_chunk.posterior[name].values,
                                      dt.posterior[name].values)


def test_funnel_divergences_counted():
    dt = M.funnel_run()
    assert dt.posterior["x"].shape == (2, 150, 8)
    assert int(dt.sample_stats["diverging"].sum()) > 0


@pytest.mark.parametrize("observed, match", [
    ({"nope": 1.0}, "not variables of the model"),
    ({"y": np.zeros(19), "k": M.K, "c": M.COUNTS}, "shape"),
    ({"y": np.r_[np.nan, np.zeros(19)], "k": M.K, "c": M.COUNTS}, "non-finite"),
    ({"y": np.r_[np.inf, np.zeros(19)], "k": M.K, "c": M.COUNTS}, "non-finite"),
    ({}, "observed is empty"),
])
def test_bad_observed_raises_value_error(observed, match):
    with pytest.raises(ValueError, match=match):
        sample(M.CONJUGATE, observed, progress=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"chains": 0}, "chains"), ({"draws": 1.5}, "draws"), ({"target_accept": 1.0}, "target_accept"),
    ({"init": "mode"}, "init"), ({"log_likelihood": 0}, "log_likelihood"),
    ({"chain_method": "pmap"}, "chain_method"),
])
def test_bad_settings_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample(M.CONJUGATE, M.CONJ_OBS, progress=False, **kwargs)


def test_observed_must_be_a_dict():
    with pytest.raises(TypeError, match="dict"):
        sample(M.CONJUGATE, [1.0], progress=False)


def test_lean_kernel_samples_a_correlated_gaussian():
    # the one-chain kernel (parallel chains) against exact moments of a 6-d Gaussian with
    # correlations and scales 0.3..1.7: means and sds within 4 MCSE, covariance close
    import tensorflow_probability as tfp
    import tensorflow as tf
    rng = np.random.default_rng(0)
    dim = 6
    a = rng.normal(size=(dim, dim))
    cov = a @ a.T / dim + np.diag(np.linspace(0.1, 3.0, dim))
    mean = rng.normal(size=dim)
    tfd = tfp.distributions
    model = tfd.JointDistributionNamed(dict(
        x=tfd.MultivariateNormalTriL(tf.constant(mean), tf.constant(np.linalg.cholesky(cov))),
        obs=tfd.Normal(tf.constant(0.0, tf.float64), 1.0)))
    run = sample(model, {"obs": 0.0}, chains=2, warmup=500, draws=1500, seed=3,
                 progress=False, log_likelihood=False, init="prior")
    x = run.posterior["x"].values.reshape(-1, dim)
    summary = az.summary(run, round_to="none")
    assert np.all(np.abs(x.mean(0) - mean) < 4 * summary["mcse_mean"].values)
    assert np.all(np.abs(x.std(0) - np.sqrt(np.diag(cov))) < 4 * summary["mcse_sd"].values)
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.abs(np.cov(x.T) - cov).max() < 0.15 * scale.max()
    assert int(run.sample_stats["diverging"].sum()) == 0
    # negative control: the same check rejects a sampler that is off by 10 % in scale
    assert not np.all(np.abs(1.1 * x.std(0) - np.sqrt(np.diag(cov)))
                      < 4 * summary["mcse_sd"].values)


def test_dense_metric_with_parallel_chains_agrees_with_closed_forms():
    run = sample(M.CONJUGATE, M.CONJ_OBS, dense_mass=True, log_likelihood=False,
                 **M.CONJ_SETTINGS)
    summary = az.summary(run, round_to="none")
    for name, dist in M.conjugate_posteriors().items():
        row = summary.loc[name]
        assert abs(row["mean"] - dist.mean()) < 4 * row["mcse_mean"], (name, row)
        assert abs(row["sd"] - dist.std()) < 4 * row["mcse_sd"], (name, row)
