"""Smoke tests of the example scripts: they run, exit 0, and print what they claim.

The scripts run concurrently as subprocesses (each pays the ~5 s TF import; about 20 s
in all on an idle 2-core machine) and their tables are checked against the closed-form
facts they illustrate.
"""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = ("seed_trapezoid.py", "seed_monte_carlo.py", "seed_heaviside.py",
           "quadrature_tour.py", "quadrature_cubature.py")
TIMEOUT = 600  # generous: the 2 cores are shared with other jobs


def _start(script):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    return subprocess.Popen([sys.executable, os.path.join(ROOT, "examples", script)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc, script):
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{script} did not finish within {TIMEOUT} s")
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{out}\n{err[-3000:]}"
    return out


@pytest.fixture(scope="module")
def outputs():
    procs = {script: _start(script) for script in SCRIPTS}
    return {script: _finish(proc, script) for script, proc in procs.items()}


def _row(out, label):
    """Whitespace-split fields of the table row starting with ``label``."""
    for line in out.splitlines():
        if line.startswith(label + " ") and line[len(label):len(label) + 2].strip() == "":
            return line[len(label):].split()
    pytest.fail(f"no row {label!r} in output:\n{out}")


def test_seed_trapezoid(outputs):
    out = outputs["seed_trapezoid.py"]
    scaled = [float(_row(out, f"trapezoid n={n}")[4]) for n in (4, 16, 64, 1000)]
    # error * n^2 tends to |f'(1) - f'(0)|/12 = 0.2360: second-order convergence
    assert all(abs(c - 0.2360) < 0.002 for c in scaled), scaled
    for label in ("gauss-legendre", "auto"):
        fields = _row(out, label)
        assert max(float(x) for x in fields[1:4]) < 1e-14, fields  # value and both grads
        assert fields[-1] == "converged"


def test_seed_monte_carlo(outputs):
    out = outputs["seed_monte_carlo.py"]
    mc_se, qmc_se = float(_row(out, "monte-carlo")[2]), float(_row(out, "qmc")[2])
    # plain MC's standard error at 10,000 samples is std(f)/100 ~ 3e-3; QMC's far smaller
    assert 1e-3 < mc_se < 1e-2 and qmc_se < mc_se / 5
    assert float(_row(out, "auto")[1]) < 1e-14
    assert "no bias" in out


def test_seed_heaviside(outputs):
    out = outputs["seed_heaviside.py"]
    with_stop = _row(out, "seed trapezoid n=1000, stop_gradient")
    without = _row(out, "seed trapezoid n=1000, no stop_gradient")
    assert with_stop == without  # tf.stop_gradient changes nothing
    assert float(with_stop[-2]) == 0.0  # naive dI/ds
    for label in ("gauss-legendre, points=[s]", "auto, points=[s]"):
        fields = _row(out, label)
        assert fields[-2:] == ["-0.5000", "converged"], fields  # dI/ds = -p2
    assert re.search(r"0\.5\s+1e-06\s+-250\.0000", out)  # the staircase jump


def test_quadrature_tour(outputs):
    out = outputs["quadrature_tour.py"]
    for n in range(1, 8):
        assert re.search(rf"^{n}\. ", out, re.M), f"section {n} missing"
    assert "Tour finished" in out
    xla = _row(out, "XLA, second call")
    assert float(xla[1]) < 1e-12 and float(xla[2]) < 1e-12 and xla[-1] == "converged"
    assert re.search(r"^tanh-sinh .* converged$", out, re.M)


def test_quadrature_cubature(outputs):
    out = outputs["quadrature_cubature.py"]
    gl = _row(out, "gauss-legendre")
    assert float(gl[1]) < 1e-12 and gl[-1] == "CONVERGED"
    for method in ("genz-malik", "qmc", "auto"):
        row = _row(out, method)
        # honest: converged with the true error within the reported one, or not converged
        assert row[-1] != "CONVERGED" or float(row[1]) <= float(row[2]), row
    for label in ("d/da", "d/d upper_x"):
        auto, exact = (float(v) for v in _row(out, label))
        assert abs(auto - exact) < 1e-10 * abs(exact)
    log_z = [float(v) for v in _row(out, "NormalizedBox log Z")[-2:]]
    assert abs(log_z[0] - log_z[1]) < 1e-9
    for label in ("NormalizedBox mean x", "NormalizedBox mean y"):
        got, exact = (float(v) for v in _row(out, label)[-2:])
        assert abs(got - exact) < 0.02  # 20,000 draws: sd of the mean below 0.005
