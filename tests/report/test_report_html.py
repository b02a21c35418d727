"""write_html: page structure for NUTS, VI and MAP fits, embedded images, escaping."""
import base64
import io
import math
import re

import numpy as np
import xarray as xr
import pytest

import arviz as az
import report_fits as R
from bayesquad.diagnostics import Check, Verdict
from bayesquad.report import add_posterior_predictive, write_html
from bayesquad.report import _plots

SECTIONS = ("verdict", "summary", "trace", "pair", "energy", "quadrature", "loo", "ppc",
            "metadata")
IMG = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]*)\"")


def _section(page, sec_id):
    m = re.search(rf"<section id=\"{sec_id}\">(.*?)</section>", page, re.S)
    assert m, f"section {sec_id!r} missing"
    return m.group(1)


def _sig4(x):
    """4 significant figures, fixed point (formatted here, not by the report's code)."""
    return f"{x:.{max(0, 3 - math.floor(math.log10(abs(x))))}f}"


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("pages")
    nuts = R.nuts_run().copy(deep=True)
    add_posterior_predictive(nuts, R.simulate, ["y"], draws=20)
    paths = {"nuts": write_html(nuts, out / "nuts.html", title="Normal <fit>"),
             "vi": write_html(R.vi_run(), out / "vi.html"),
             "map": write_html(R.map_run().datatree, out / "map.html")}
    return {k: p.read_text(encoding="utf-8") for k, p in paths.items()}


def test_nuts_report_has_every_section(pages):
    page = pages["nuts"]
    assert page.startswith("<!DOCTYPE html>")
    for sec in SECTIONS:
        _section(page, sec)
        assert f"href=\"#{sec}\"" in page  # table of contents
    assert "<title>Normal &lt;fit&gt;</title>" in page
    summary = _section(page, "summary")
    for col in ("mean", "sd", "eti89_lb", "eti89_ub", "ess_bulk", "ess_tail", "r_hat",
                "mcse_mean", "mcse_sd"):
        assert f"<th>{col}</th>" in summary
    # trace+rank, pair, energy, Pareto k, PPC
    for sec in ("trace", "pair", "energy", "loo", "ppc"):
        assert len(IMG.findall(_section(page, sec))) >= 1, sec
    assert re.search(r"class=\"banner (pass|fail)\"", _section(page, "verdict"))
    assert "E-BFMI" in _section(page, "energy")
    assert "elpd_loo" in _section(page, "loo")


def test_summary_numbers_are_the_draws_statistics(pages):
    post = R.nuts_run().posterior
    summary = _section(pages["nuts"], "summary")
    for name in ("mu", "sigma"):
        draws = post[name].values.ravel()
        assert _sig4(draws.mean()) in summary
        assert _sig4(draws.std(ddof=1)) in summary or _sig4(draws.std()) in summary


def test_metadata_has_versions_seed_and_timings(pages):
    import tensorflow as tf
    meta = _section(pages["nuts"], "metadata")
    for text in ("Versions", "Timings", tf.__version__, az.__version__, "total (s)",
                 "created_at", "seed", "target_accept"):
        assert text in meta, text


def test_images_are_embedded_pngs(pages):
    import matplotlib.image as mpimg
    for kind, page in pages.items():
        srcs = IMG.findall(page)
        assert srcs, kind
        for src in srcs:
            assert src.startswith("data:image/png;base64,")
            raw = base64.b64decode(src.split(",", 1)[1], validate=True)
            assert raw[:8] == b"\x89PNG\r\n\x1a\n"
            img = mpimg.imread(io.BytesIO(raw), format="png")
            assert img.shape[0] > 100 and img.shape[1] > 100
            assert np.std(img[..., :3]) > 0.01  # not blank


def test_page_is_self_contained(pages):
    for kind, page in pages.items():
        low = page.lower()
        assert "http://" not in low and "https://" not in low, kind
        assert "<script" not in low and "<link" not in low and "@import" not in low
        assert "url(" not in low
        for attr in re.findall(r"\b(?:src|href)=\"([^\"]*)\"", page):
            assert attr.startswith(("data:", "#")), attr


def test_vi_report_skips_mcmc_parts(pages):
    page = pages["vi"]
    for sec in SECTIONS + ("optimisation",):
        _section(page, sec)
    assert "Not shown" in _section(page, "trace")
    assert "Not shown" in _section(page, "energy")
    assert "no log_likelihood group" in _section(page, "loo")
    assert "no posterior_predictive group" in _section(page, "ppc")
    opt = _section(page, "optimisation")
    assert "ELBO" in opt and len(IMG.findall(opt)) == 1
    assert "<th>r_hat</th>" not in _section(page, "summary")
    assert len(IMG.findall(_section(page, "pair"))) == 1


def test_map_report_shows_the_map_point(pages):
    page = pages["map"]
    opt = _section(page, "optimisation")
    assert "MAP point" in opt and "converged" in opt
    mu = float(R.map_run().params["mu"])
    assert _sig4(mu) in opt
    assert "Not shown" in _section(page, "trace")
    assert "Not shown" in _section(page, "energy")


def test_map_without_draws_does_not_crash(tmp_path):
    res = R.find_map_no_draws()
    page = write_html(res.datatree, tmp_path / "r.html").read_text()
    assert "banner unknown" in _section(page, "verdict")  # diagnose needs a posterior
    assert "no posterior group" in _section(page, "verdict")
    assert "Not available" in _section(page, "summary")
    assert "MAP point" in _section(page, "optimisation")


def test_text_is_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    evil_var = "<script>alert(2)"  # a variable name cannot contain "/"
    rng = np.random.default_rng(0)
    dt = az.from_dict({"posterior": {evil_var: rng.normal(size=(2, 50)),
                                     "b": rng.normal(size=(2, 50, 3))},
                       "sample_stats": {"energy": rng.normal(size=(2, 50)),
                                        "diverging": np.zeros((2, 50), bool)}})
    dt.attrs.update({"note": evil, "inference": "nuts"})
    verdict = Verdict((Check(evil, 1.0, 0.0, False, evil),))
    page = write_html(dt, tmp_path / "e.html", verdict=verdict, title=evil).read_text()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(page, "verdict")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(page, "metadata")
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    assert "&lt;script&gt;alert(2)" in _section(page, "summary")
    assert "alt=\"pair plot" in page
    assert "b[2]" in _section(page, "summary")  # vector elements in the summary


def test_failed_checks_are_explained(tmp_path):
    verdict = Verdict((Check("quadrature", 0.5, 0.01, False, "largest |change| 0.5"),
                       Check("r_hat", 1.0, 1.01, True, "fine")))
    page = write_html(R.nuts_run(), tmp_path / "v.html", verdict=verdict).read_text()
    banner = _section(page, "verdict")
    assert "banner fail" in banner and "FAILED: 1 of 2" in banner
    assert "were not accurate enough" in banner  # the plain-words explanation
    assert "given to write_html" in banner
    assert "not accurate enough" in _section(page, "quadrature")


def test_quadrature_not_run_without_model(tmp_path):
    fit = R.nuts_run()
    dt = xr.DataTree.from_dict(fit.to_dict())  # a plain DataTree, as read from disk
    dt.attrs.update(fit.attrs)
    page = write_html(dt, tmp_path / "q.html").read_text()
    quad = _section(page, "quadrature")
    assert "not run" in quad and "needs the model" in quad
    page = write_html(dt, tmp_path / "q2.html", model=R.MODEL).read_text()
    assert "needs the model" not in _section(page, "quadrature")
    assert "draws re-evaluated" in _section(page, "quadrature")


def test_divergences_are_marked(tmp_path):
    dt = R.nuts_run().copy(deep=True)
    div = np.zeros(dt.sample_stats["diverging"].shape, bool)
    div[0, [3, 10, 50]] = True
    stats = dt.sample_stats.to_dataset()
    stats["diverging"] = (("chain", "draw"), div)
    dt["sample_stats"] = stats
    page = write_html(dt, tmp_path / "d.html").read_text()
    assert "3 divergent transitions" in _section(page, "pair")
    assert "3 of 200 transitions diverged" in _section(page, "verdict")


def test_a_failing_plot_leaves_the_rest(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(_plots, "pair_figure", broken)
    page = write_html(R.nuts_run(), tmp_path / "b.html").read_text()
    assert "could not be drawn (RuntimeError: boom)" in _section(page, "pair")
    assert len(IMG.findall(_section(page, "trace"))) == 1


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="datatree"):
        write_html({"posterior": 1}, tmp_path / "x.html")
    with pytest.raises(ValueError, match="does not exist"):
        write_html(R.vi_run(), tmp_path / "missing" / "x.html")
    with pytest.raises(TypeError, match="verdict"):
        write_html(R.vi_run(), tmp_path / "x.html", verdict="passed")


def test_loo_for_large_data_defers_to_the_verdict(tmp_path, monkeypatch):
    from bayesquad.report import _sections
    monkeypatch.setattr(_sections, "LOO_MAX_TERMS", 10)
    page = write_html(R.nuts_run(), tmp_path / "l.html").read_text()
    loo = _section(page, "loo")
    assert "more than the report recomputes LOO for (10)" in loo
    assert "elpd_loo" in loo and not IMG.findall(loo)  # the verdict's message, no plot


def test_loo_with_a_single_term_does_not_apply(tmp_path):
    rng = np.random.default_rng(1)
    dt = az.from_dict({"posterior": {"a": rng.normal(size=(2, 40))},
                       "log_likelihood": {"t": rng.normal(size=(2, 40, 1))},
                       "observed_data": {"t": rng.normal(size=1)}})
    verdict = Verdict((Check("r_hat", 1.0, 1.01, True, "ok"),))
    page = write_html(dt, tmp_path / "s.html", verdict=verdict).read_text()
    assert "LOO does not apply (1 pointwise term" in _section(page, "loo")


def test_write_html_replaces_atomically(tmp_path, monkeypatch):
    """A failure while writing keeps the previous report whole and leaves no temporary."""
    res = R.find_map_no_draws()
    path = tmp_path / "r.html"
    path.write_text("previous report")
    import pathlib

    def broken(self, *a, **k):
        pathlib.Path.write_bytes(self, b"half a pa")
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", broken)
    with pytest.raises(OSError, match="disk full"):
        write_html(res.datatree, path)
    monkeypatch.undo()
    assert path.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
