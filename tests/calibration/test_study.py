"""Studies on a 2-worker LocalCluster: calibrated SBC passes, a wrong prior fails, resume
after a killed worker loses no completed fit, other settings are refused, moved model files
are not."""
import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from bayesquad.calibration import calibrate, load_study, rank_uniformity  # noqa: E402
from bayesquad.calibration._tasks import bucket_size, fit_seeds  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "normal_model.py")
# MAP + Laplace is exact for this conjugate model; n = 2 observations keep the prior's
# weight (1/3) large enough for the wrong-prior control to show
FAST = dict(method="map", rank_draws=19, check_quadrature=0, simulate_kwargs={"n": 2},
            progress=False)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def wrong_prior(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "normal_wrong_prior.py"
    text = open(MODEL, encoding="utf-8").read().replace("PRIOR_MEAN = 0.0", "PRIOR_MEAN = 2.0")
    path.write_text(text)
    return str(path)


def test_calibrated_and_negative_control(client, tmp_path, wrong_prior):
    good = calibrate(MODEL, 40, tmp_path / "good", client=client, **FAST)
    assert good.sizes["fit"] == 40 and bool(good.ok.all())
    # posterior mean in closed form: sum(y) / (n + 1), up to the Laplace draws' MC error
    sim_seed = int(good.sim_seed.sel(fit=7))
    assert sim_seed == fit_seeds(0, 7)[0]
    rng = np.random.default_rng(sim_seed)
    y = float(good.truth.sel(fit=7, param="mu")) + rng.standard_normal(2)
    sd = 1 / np.sqrt(3)
    assert float(good["mean"].sel(fit=7, param="mu")) == pytest.approx(y.sum() / 3,
                                                                      abs=4 * sd / np.sqrt(1000))
    assert float(good.sd.sel(fit=7, param="mu")) == pytest.approx(sd, rel=0.15)
    test = rank_uniformity(good)
    assert float(test.p_value.sel(param="mu")) > 0.01
    bad = calibrate(MODEL, 40, tmp_path / "bad", client=client, fit_model_file=wrong_prior,
                    **FAST)
    bad_test = rank_uniformity(bad)
    assert float(bad_test.p_value.sel(param="mu")) < 0.01
    assert not bool(bad_test.ecdf_inside.sel(param="mu"))


def test_other_settings_refused(client, tmp_path):
    calibrate(MODEL, 2, tmp_path / "s", client=client, **FAST)
    with pytest.raises(ValueError, match="other settings.*rank_draws"):
        calibrate(MODEL, 2, tmp_path / "s", client=client, **{**FAST, "rank_draws": 9})
    with pytest.raises(ValueError, match="n_fits"):
        calibrate(MODEL, 0, tmp_path / "s", client=client, **FAST)
    with pytest.raises(ValueError, match="truth= is for mode='toys'"):
        calibrate(MODEL, 2, tmp_path / "t", client=client, truth={"mu": 0.0}, **FAST)


def test_a_study_resumes_from_a_moved_model_file(client, tmp_path):
    calibrate(MODEL, 3, tmp_path / "s", client=client, **FAST)
    moved = tmp_path / "elsewhere" / "normal_model.py"
    moved.parent.mkdir()
    shutil.copy(MODEL, moved)
    before = sorted(os.listdir(tmp_path / "s" / "fits"))
    stamps = {f: os.path.getmtime(tmp_path / "s" / "fits" / f) for f in before}
    # every fit is done: nothing is refitted (no cluster is even needed)
    again = calibrate(str(moved), 3, tmp_path / "s", client=client, **FAST)
    assert again.sizes["fit"] == 3
    assert {f: os.path.getmtime(tmp_path / "s" / "fits" / f) for f in before} == stamps
    # the same name with other content is another model: refused
    moved.write_text(moved.read_text() + "\n# changed\n")
    with pytest.raises(ValueError, match="other settings.*model_hash"):
        calibrate(str(moved), 3, tmp_path / "s", client=client, **FAST)


def test_toys_fix_the_truth(client, tmp_path):
    ds = calibrate(MODEL, 6, tmp_path / "toys", client=client, mode="toys",
                   truth={"mu": 0.25}, **FAST)
    assert np.all(ds.truth.values == 0.25) and ds.attrs["mode"] == "toys"


def test_killed_worker_loses_no_completed_fit(client, tmp_path):
    out = tmp_path / "kill"
    n = 80  # a few seconds of fits: the kill lands mid-study
    one = dict(FAST, batch_size=1)  # one fit per task, so that fits finish one by one
    errors = []

    def run():
        try:
            calibrate(MODEL, n, out, client=client, **one)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    fits = out / "fits"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not fits.exists() or len(os.listdir(fits)) < 3):
        time.sleep(0.02)
    before = {p: (fits / p).read_bytes() for p in os.listdir(fits) if p.startswith("fit_")}
    assert before, "no fit finished within 120 s"
    pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)  # one worker dies mid-study
    assert len(before) < n, "the study finished before the kill; raise n"
    thread.join(300)
    assert not thread.is_alive() and not errors, errors
    ds = load_study(out)
    assert ds.sizes["fit"] == n and bool(ds.ok.all())
    for name, content in before.items():  # finished before the kill: untouched
        assert (fits / name).read_bytes() == content
    # resume: nothing is refitted; extending runs only the new fits
    mtimes = {p: os.stat(fits / p).st_mtime_ns for p in os.listdir(fits)}
    calibrate(MODEL, n, out, client=client, **one)
    assert {p: os.stat(fits / p).st_mtime_ns for p in os.listdir(fits)} == mtimes
    # a record lost (deleted) is refitted identically: seeds depend on the index only
    lost = sorted(mtimes)[5]
    saved = (fits / lost).read_bytes()
    os.unlink(fits / lost)
    again = calibrate(MODEL, n, out, client=client, **one)
    assert again.sizes["fit"] == n
    import json
    old, new = json.loads(saved), json.loads((fits / lost).read_bytes())
    assert old["rank"] == new["rank"] and old["truth"] == new["truth"]
    shutil.rmtree(out)


def test_batched_map_study_exact_and_resumable_with_another_batch_size(client, tmp_path):
    out = tmp_path / "batched"
    # 6 fits in batches of 4: the second batch is short (padded to 4 by repetition)
    first = calibrate(MODEL, 6, out, client=client, batch_size=4, **FAST)
    assert first.sizes["fit"] == 6 and bool(first.ok.all())
    sd = 1 / np.sqrt(3)
    for i in range(6):
        rng = np.random.default_rng(int(first.sim_seed.sel(fit=i)))
        y = float(first.truth.sel(fit=i, param="mu")) + rng.standard_normal(2)
        assert float(first["mean"].sel(fit=i, param="mu")) == pytest.approx(
            y.sum() / 3, abs=4 * sd / np.sqrt(1000))
        assert float(first.sd.sel(fit=i, param="mu")) == pytest.approx(sd, rel=0.15)
    again = calibrate(MODEL, 8, out, client=client, batch_size=1, **FAST)
    assert bool(again.ok.all())
    np.testing.assert_array_equal(again["mean"].values[:6], first["mean"].values)
    # a fit's Laplace draws are seeded by its index, not by its batch: the same ranks
    alone = calibrate(MODEL, 6, tmp_path / "alone", client=client, batch_size=2, **FAST)
    np.testing.assert_array_equal(alone["rank"].values, first["rank"].values)


def test_batch_size_validated(client, tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        calibrate(MODEL, 2, tmp_path / "a", client=client, batch_size=0, **FAST)
    with pytest.raises(ValueError, match="MAP fits only"):
        calibrate(MODEL, 2, tmp_path / "b", client=client, batch_size=4,
                  **{**FAST, "method": "vi"})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_bucket_sizes():
    assert [bucket_size(n, "pow2") for n in (1, 16, 17, 24, 25, 33, 1000)] == \
        [16, 16, 24, 24, 32, 48, 1024]
    assert bucket_size(5, None) == 5
    assert bucket_size(5, [4, 8]) == 8
    with pytest.raises(ValueError, match="largest bucket"):
        bucket_size(9, [4, 8])
