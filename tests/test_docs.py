"""The documentation site builds with warnings as errors (so docstrings and pages cannot
rot), and every public name of the package has a page."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


@pytest.mark.slow
def test_site_builds_without_warnings_and_covers_the_public_api(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    out = tmp_path / "html"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run([sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q",
                          "-b", "html", "-d", str(tmp_path / "doctrees"),
                          os.path.join(ROOT, "docs"), str(out)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    import bayesquad.calibration
    import bayesquad.diagnostics
    import bayesquad.distributions
    import bayesquad.inference
    import bayesquad.model_file
    import bayesquad.quadrature
    import bayesquad.report
    pages = set(os.listdir(out / "_generated" / "api"))
    skip = {"KRONROD_SIZES", "DEFAULT_PLAN_TOLERANCE", "LOG_LIKELIHOOD_BUDGET", "DEFAULT_LEVELS",
            "BATCH_SIZE", "MAX_BOX_NODES"}  # constants
    missing = [f"{m.__name__}.{n}" for m in (bayesquad.quadrature, bayesquad.distributions,
                                              bayesquad.inference, bayesquad.diagnostics,
                                              bayesquad.report, bayesquad.calibration,
                                              bayesquad.model_file,
                                              bayesquad.distributions.plans)
               for n in m.__all__ if n not in skip and f"{m.__name__}.{n}.html" not in pages]
    assert not missing, f"public names without an API page (add them to docs/api.rst): {missing}"
    for page in ("integrals.html", "contracts.html", "model_files.html", "examples.html"):
        assert (out / page).is_file()
    examples = [f[:-3] for f in os.listdir(os.path.join(ROOT, "examples"))
                if f.endswith(".py") and not f.startswith("_")]
    assert all((out / "_generated" / "examples" / f"{e}.html").is_file() for e in examples)
