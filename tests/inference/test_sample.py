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
    # NaN is padding (PoissonProcess): a Normal turns it into a NaN log density, which the
    # start names
    ({"y": np.r_[np.nan, np.zeros(19)], "k": M.K, "c": M.COUNTS}, "contain NaN"),
    ({"y": np.r_[np.inf, np.zeros(19)], "k": M.K, "c": M.COUNTS}, "infinite"),
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


# ---- checkpoints: model identity, damaged files, interrupts ------------------------------

def _normal_model(prior_sd):
    """mu ~ Normal(0, prior_sd), 20 observations ~ Normal(mu, 1): a fresh object per call."""
    import tensorflow as tf
    import tensorflow_probability as tfp
    tfd = tfp.distributions
    c = lambda v: tf.constant(v, tf.float64)  # noqa: E731
    return tfd.JointDistributionNamed(dict(
        mu=tfd.Normal(c(0.0), c(prior_sd)),
        y=lambda mu: tfd.Independent(tfd.Normal(mu[..., None] * tf.ones(20, tf.float64),
                                                c(1.0)), 1)))


_CK_OBS = {"y": np.linspace(-1.0, 2.0, 20)}
_CK_SETTINGS = dict(chains=2, warmup=20, draws=20, seed=3, init="prior", jit=False,
                    progress=False, chunk_size=10, log_likelihood=False)


@pytest.fixture(scope="module")
def finished_checkpoint(tmp_path_factory):
    """A complete checkpoint directory of ``_normal_model(10)`` and the run it produced."""
    path = tmp_path_factory.mktemp("ckpt") / "run"
    run = sample(_normal_model(10.0), _CK_OBS, checkpoint=path, **_CK_SETTINGS)
    return path, run


def _copy(src, tmp_path):
    import shutil
    dst = tmp_path / "ckpt"
    shutil.copytree(src, dst)
    return dst


def test_checkpoint_of_the_same_model_rebuilt_resumes(finished_checkpoint, tmp_path):
    # negative control of the identity test below: a new object of the same model is the
    # same model, so its run resumes (here: nothing left to do) with the same draws
    path, run = finished_checkpoint
    again = sample(_normal_model(10.0), _CK_OBS, checkpoint=_copy(path, tmp_path),
                   **_CK_SETTINGS)
    assert again.attrs["init_message"] == "resumed from checkpoint"
    np.testing.assert_array_equal(again.posterior["mu"].values, run.posterior["mu"].values)


def test_checkpoint_refuses_another_model_with_the_same_names_and_data(finished_checkpoint,
                                                                       tmp_path):
    path, _ = finished_checkpoint
    ckpt = _copy(path, tmp_path)
    with pytest.raises(ValueError, match="different model") as err:
        sample(_normal_model(0.5), _CK_OBS, checkpoint=ckpt, **_CK_SETTINGS)
    assert str(ckpt) in str(err.value) and "delete the directory" in str(err.value)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:96])


def _pickled(path):
    np.savez(path, n_chunks=np.array([{"a": 1}], dtype=object))


def _single_array(path):
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))


@pytest.mark.parametrize("file, damage, words", [
    ("state.npz", _truncate, "is truncated or not a checkpoint archive"),
    ("state.npz", _pickled, "holds pickled objects"),
    ("state.npz", _single_array, "is a single array"),
    ("chunk_00001.npz", lambda p: p.unlink(), "is missing"),
    ("chunk_00000.npz", _truncate, "is truncated"),
    ("meta.json", lambda p: p.write_text("[1, 2]"), "holds a JSON list"),
    ("meta.json", lambda p: p.write_text("{"), "cannot be read"),
    ("meta.json", lambda p: p.unlink(), "is missing, but the directory holds"),
])
def test_damaged_checkpoint_files_are_named(finished_checkpoint, tmp_path, file, damage,
                                            words):
    path, _ = finished_checkpoint
    ckpt = _copy(path, tmp_path)
    damage(ckpt / file)
    with pytest.raises(ValueError) as err:
        sample(_normal_model(10.0), _CK_OBS, checkpoint=ckpt, **_CK_SETTINGS)
    msg = str(err.value)
    assert f"checkpoint file '{ckpt / file}' {words}" in msg, msg
    assert f"delete the checkpoint directory '{ckpt}'" in msg
    assert "allow_pickle" not in msg and "\n" not in msg


def test_state_that_disagrees_with_its_chunks_is_refused(finished_checkpoint, tmp_path):
    path, _ = finished_checkpoint
    ckpt = _copy(path, tmp_path)
    with np.load(ckpt / "state.npz") as f:
        state = {k: f[k] for k in f.files}
    np.savez(ckpt / "state.npz", **{**state, "n_chunks": np.asarray(2)})  # more saved
    # warm-up 20 has one slow window, ending at step 18, where a chunk ends too: 10 + 8
    with pytest.raises(ValueError, match="at step 40 but its 2 chunk files hold 18 steps"):
        sample(_normal_model(10.0), _CK_OBS, checkpoint=ckpt, **_CK_SETTINGS)


def test_interrupt_says_where_the_chunks_are(tmp_path, monkeypatch):
    from bayesquad.inference import _checkpoint
    save = _checkpoint.save_chunk

    def save_then_interrupt(path, k, state, info):
        save(path, k, state, info)
        raise KeyboardInterrupt
    monkeypatch.setattr(_checkpoint, "save_chunk", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt) as err:
        sample(_normal_model(10.0), _CK_OBS, checkpoint=tmp_path / "ck", **_CK_SETTINGS)
    assert str(tmp_path / "ck") in str(err.value) and "to resume" in str(err.value)
    assert (tmp_path / "ck" / "chunk_00000.npz").exists()


def test_failed_start_leaves_no_checkpoint_directory(tmp_path):
    # the log density is -inf at the given start: nothing was run, so nothing is kept
    with pytest.raises(ValueError, match="not finite at the initial point"):
        sample(M.CONJUGATE, M.CONJ_OBS, checkpoint=tmp_path / "ck",
               **{**_CK_SETTINGS, "init": {"mu": 0.0, "p": 0.5, "lam": -1.0}})
    assert not (tmp_path / "ck").exists()


def test_resumed_progress_bar_counts_divergences_as_the_verdict(tmp_path, monkeypatch, capsys):
    """Resuming counted the saved warm-up rows' divergences in the bar; the verdict never did."""
    from bayesquad.inference import _checkpoint
    settings = dict(chains=2, warmup=150, draws=150, seed=1, init="prior", target_accept=0.6,
                    jit=False, log_likelihood=False)
    save = _checkpoint.save_chunk

    def save_then_interrupt(path, k, state, info):
        save(path, k, state, info)
        raise KeyboardInterrupt
    monkeypatch.setattr(_checkpoint, "save_chunk", save_then_interrupt)
    ckpt = tmp_path / "ck"
    with pytest.raises(KeyboardInterrupt):
        sample(M.FUNNEL, {"obs": 0.3}, checkpoint=ckpt, progress=False, **settings)
    monkeypatch.setattr(_checkpoint, "save_chunk", save)
    with np.load(ckpt / "chunk_00000.npz") as f:
        assert len(f["diverging"]) < 150 and f["diverging"].sum() > 0  # warm-up divergences
    capsys.readouterr()
    run = sample(M.FUNNEL, {"obs": 0.3}, checkpoint=ckpt, progress=True, **settings)
    bar = capsys.readouterr().err
    shown = int(bar.rsplit("divergences ", 1)[1].split()[0])
    assert shown == int(run.sample_stats["diverging"].sum())


def test_a_later_fit_reuses_the_map_and_draws_as_a_fresh_model(monkeypatch):
    """The MAP from the origin is deterministic: a second fit of the same model and data
    takes it from the first (no optimiser run), and draws exactly what a fresh model
    object draws; other data are optimised afresh."""
    from bayesquad.inference import _map
    calls = []
    original = _map.map_unconstrained
    monkeypatch.setattr(_map, "map_unconstrained",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    settings = dict(chains=2, warmup=30, draws=20, seed=4, jit=False, progress=False,
                    log_likelihood=False)
    model = _normal_model(10.0)
    sample(model, _CK_OBS, **settings)
    again = sample(model, _CK_OBS, **settings)
    assert len(calls) == 1
    fresh = sample(_normal_model(10.0), _CK_OBS, **settings)
    np.testing.assert_array_equal(again.posterior["mu"].values, fresh.posterior["mu"].values)
    shifted = sample(model, {"y": _CK_OBS["y"] + 5.0}, **settings)
    assert len(calls) == 3
    # posterior mean of mu: 20 ybar / (20 + 1/100) with ybar = 0.5 + 5
    assert abs(float(shifted.posterior["mu"].mean()) - 110 / 20.01) < 0.3


@pytest.mark.parametrize("init, eager_calls", [("map", 0), ("prior", 1)])
def test_start_values_come_from_the_maps_graph_function_after_a_map(monkeypatch, init,
                                                                     eager_calls):
    """After a MAP start, the chains' start log density and gradient are evaluated once,
    through the function the MAP traced (milliseconds), not eagerly; without a MAP they
    are evaluated eagerly, once for all chains."""
    from bayesquad.inference import _map, _sample
    graph_rows, eager = [], []
    original_graph, original_eager = _map.graph_value_and_grad, _sample._eager_value_and_grad

    def graph(*args):
        fn = original_graph(*args)
        return None if fn is None else (lambda z: graph_rows.append(len(z)) or fn(z))
    monkeypatch.setattr(_map, "graph_value_and_grad", graph)
    monkeypatch.setattr(_sample, "_eager_value_and_grad",
                        lambda *a: eager.append(1) or original_eager(*a))
    fit = sample(_normal_model(10.0), _CK_OBS, chains=3, warmup=30, draws=20, seed=4,
                 jit=False, progress=False, log_likelihood=False, init=init)
    assert len(eager) == eager_calls
    assert graph_rows == ([3] if init == "map" else [])
    # posterior mean of mu: 20 ybar / (20 + 1/100), ybar = 0.5
    assert abs(float(fit.posterior["mu"].mean()) - 10 / 20.01) < 0.3
