"""The report in a real browser: headless Chromium loads it without errors and shows plots.

The product page has no JavaScript; a test-only copy gets one inline script that writes
the number of decoded images into ``document.title`` (``--dump-dom`` cannot report
``naturalWidth`` otherwise).  A deliberately broken page checks that the detectors work.
"""
import io
import re
import subprocess
import time

import numpy as np
import pytest

import report_fits as R
from bayesquad.report import add_posterior_predictive, write_html

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0")
_COUNT_IMAGES = (
    "<script>window.addEventListener('load', function () {"
    "var im = document.images, n = 0;"
    "for (var i = 0; i < im.length; i++) { if (im[i].complete && im[i].naturalWidth > 0) n++; }"
    "document.title = 'images ' + n + '/' + im.length; });</script>")
ERRORS = re.compile(r"Uncaught|ERR_|Failed to load resource|Not allowed to load")


def _run(chromium, tmp_path, *args):
    profile = tmp_path / f"profile-{time.monotonic_ns()}"
    cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout, res.stderr


def _with_image_counter(page):
    return page.replace("</body>", _COUNT_IMAGES + "</body>")


def test_detectors_catch_a_broken_page(chromium, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><head><title>x</title></head><body>"
                   "<img src=\"data:image/png;base64,AAAA\"><img src=\"missing.png\">"
                   "<script>throw new Error('boom')</script>" + _COUNT_IMAGES
                   + "</body></html>")
    dom, log = _run(chromium, tmp_path, "--dump-dom", bad.as_uri())
    assert "<title>images 0/2</title>" in dom
    assert ERRORS.search(log)


def test_report_loads_and_shows_plots(chromium, tmp_path):
    dt = R.nuts_run().copy(deep=True)
    add_posterior_predictive(dt, R.simulate, ["y"], draws=20)
    page = write_html(dt, tmp_path / "report.html").read_text(encoding="utf-8")
    n_img = page.count("<img ")
    assert n_img >= 5
    probe = tmp_path / "probe.html"
    probe.write_text(_with_image_counter(page), encoding="utf-8")

    dom, log = _run(chromium, tmp_path, "--dump-dom", probe.as_uri())
    assert f"<title>images {n_img}/{n_img}</title>" in dom  # every image decoded
    for heading in ("Verdict", "Posterior summary", "Trace and rank plots", "Pair plot",
                    "Energy and E-BFMI", "Quadrature check", "LOO and Pareto k",
                    "Posterior predictive check", "Run metadata"):
        assert f"<h2>{heading}</h2>" in dom
    assert not ERRORS.search(log), [l for l in log.splitlines() if ERRORS.search(l)]

    shot = tmp_path / "shot.png"
    _, log = _run(chromium, tmp_path, "--window-size=1100,2400", f"--screenshot={shot}",
                  (tmp_path / "report.html").as_uri())
    assert not ERRORS.search(log)
    import matplotlib.image as mpimg
    img = mpimg.imread(io.BytesIO(shot.read_bytes()), format="png")[..., :3]
    assert img.shape[:2] == (2400, 1100)
    assert img.std() > 0.05  # not a blank page
    # the banner is drawn in its pass or fail colour near the top of the page
    top = img[:900].reshape(-1, 3)
    green = np.all(np.abs(top - np.array([0xE6, 0xF4, 0xEA]) / 255) < 0.02, axis=1)
    red = np.all(np.abs(top - np.array([0xFC, 0xE8, 0xE6]) / 255) < 0.02, axis=1)
    assert green.sum() + red.sum() > 5000
    # the plots are there: many pixels of the chains' colours below the banner
    blue = np.all(np.abs(img.reshape(-1, 3) - np.array([0x1F, 0x77, 0xB4]) / 255) < 0.1,
                  axis=1)
    assert blue.sum() > 500


@pytest.mark.parametrize("kind", ["vi", "map"])
def test_vi_and_map_reports_load(chromium, tmp_path, kind):
    dt = R.vi_run() if kind == "vi" else R.map_run().datatree
    page = write_html(dt, tmp_path / "r.html").read_text(encoding="utf-8")
    n_img = page.count("<img ")
    probe = tmp_path / "probe.html"
    probe.write_text(_with_image_counter(page), encoding="utf-8")
    dom, log = _run(chromium, tmp_path, "--dump-dom", probe.as_uri())
    assert n_img >= 1 and f"<title>images {n_img}/{n_img}</title>" in dom
    assert not ERRORS.search(log)


def test_missing_browser_fails_under_ci_and_skips_elsewhere():
    import chromium_setup
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        chromium_setup.unavailable("no apt-get", ci="true")
    with pytest.raises(pytest.skip.Exception, match="no apt-get"):
        chromium_setup.unavailable("no apt-get", ci="")
