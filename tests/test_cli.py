"""The ``bayesquad`` command line, run in-process through ``bayesquad.cli.main(argv)``.

Tiny model files (tests/cli_models.py) keep fits to seconds; one subprocess test runs
the installed console script.
"""
import io
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import cli_models

from bayesquad import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return cli_models.write_all(str(tmp_path_factory.mktemp("cli_models")))


def run(capsys, *argv):
    """``(exit code, stdout, stderr)`` of ``bayesquad *argv``."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]


# ---- help ------------------------------------------------------------------------------

@pytest.mark.parametrize("command, words", [
    ((), ["check", "fit", "report", "exit codes", "build(data, dtype)", "--version"]),
    (("fit",), ["--data", "--out", "--method", "{nuts,vi,map}", "--chains", "--warmup",
                "--draws", "--seed", "--target-accept", "--checkpoint", "--no-loo", "--debug",
                "posterior.nc", "summary.csv", "report.html", "exit codes"]),
    (("check",), ["--data", "--draws", "--seed", "--no-jit", "--no-cost", "prior draws",
                  "unconstrained"]),
    (("report",), ["DIR", "posterior.nc", "--title"]),
])
def test_help(capsys, command, words):
    code, out, err = run(capsys, *command, "--help")
    assert code == 0 and err == ""
    for word in words:
        assert word in out, word


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("bayesquad ")


def test_no_command_is_a_usage_error(capsys):
    code, _, err = run(capsys)
    assert code == cli.EXIT_USAGE and "name a command" in err


def test_parsing_imports_no_tensorflow():
    """bayesquad.cli imports only the standard library: --help is fast once the package is.

    The package's ``__init__`` imports TensorFlow, so the check loads ``bayesquad.cli``
    under a bare package module.
    """
    code = (
        "import sys, types\n"
        f"pkg = types.ModuleType('bayesquad'); pkg.__path__ = [{str(ROOT / 'bayesquad')!r}]\n"
        "sys.modules['bayesquad'] = pkg\n"
        "from bayesquad import cli\n"
        "for argv in (['--help'], ['fit', '--help'], ['check', '--help'], ['fit', 'x.py']):\n"
        "    cli.main(argv)\n"
        "heavy = [m for m in ('tensorflow', 'numpy', 'arviz') if m in sys.modules]\n"
        "assert not heavy, heavy\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stderr


def test_installed_console_script():
    script = shutil.which("bayesquad", path=os.path.dirname(sys.executable))
    assert script, "no bayesquad console script next to the interpreter: pip install -e ."
    res = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120,
                         check=False)
    assert res.returncode == 0 and "usage: bayesquad" in res.stdout, res.stderr
    assert res.stderr == ""


# ---- usage and input errors ------------------------------------------------------------

@pytest.mark.parametrize("model, data, expected", [
    ("missing.py", "normal.npz", "model file '{missing.py}' does not exist"),
    ("not_python.txt", "normal.npz", "is not a Python file (.py)"),
    ("syntax_error.py", "normal.npz", "line 3: syntax error"),
    ("no_build.py", "normal.npz", "defines no build() function"),
    ("bad_import.py", "normal.npz",
     "failed to import: ModuleNotFoundError: No module named 'bayesquad_no_such_module'"),
    ("normal.py", "missing.npz", "data file '{missing.npz}' does not exist"),
    ("normal.py", "not_npz.npz", "cannot be read as .npz"),
    ("normal.py", "normal.py", "is not a .npz file"),
    ("normal.py", "missing_key.npz", "lacks 'y', which model file"),
    ("normal.py", "wrong_shape.npz", "data['y'] must be a 1-D array, got shape (20, 10)"),
    ("fixed_size.py", "normal.npz",
     "observed['y'] has shape (200,) but the model's distribution for 'y' produces shape (50,)"),
    ("normal.py", "renamed_npy.npz", "data file '{renamed_npy.npz}' holds a single .npy array, "
     "not a .npz archive"),
    ("normal.py", "pickled.npz", "data file '{pickled.npz}' holds pickled Python objects"),
    ("exits_on_import.py", "normal.npz",
     "model file '{exits_on_import.py}' called sys.exit(5) while being imported"),
    ("exits_in_build.py", "normal.npz",
     "build(data) in '{exits_in_build.py}' called sys.exit(5)"),
])
@pytest.mark.parametrize("command", ["fit", "check"])
def test_input_errors_are_one_line(capsys, files, tmp_path, command, model, data, expected):
    def path(name):
        return files.get(name, str(tmp_path / name))
    argv = [command, path(model), "--data", path(data)]
    if command == "fit":
        argv += ["--out", tmp_path / "out"]
    code, _, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    lines = _lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith(f"bayesquad {command}: error: ")
    for name in (model, data):
        expected = expected.replace("{" + name + "}", path(name))
    assert expected in lines[0]
    assert "allow_pickle" not in lines[0]
    # an input error leaves no empty output directory behind
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, expected", [
    (["fit", "m.py", "--data", "d.npz", "--out", "o", "--method", "hmc"],
     "argument --method: invalid choice: 'hmc'"),
    (["fit", "m.py", "--data", "d.npz", "--out", "o", "--chains", "0"],
     "argument --chains: must be between 1 and 64, got 0"),
    (["fit", "m.py", "--data", "d.npz", "--out", "o", "--target-accept", "1.5"],
     "argument --target-accept: must be between 0 and 1"),
    (["fit", "m.py", "--data", "d.npz"], "the following arguments are required: --out"),
    (["fit", "m.py", "--data", "d.npz", "--out", "o", "--max-tree-depth", "100"],
     "argument --max-tree-depth: must be between 1 and 15, got 100"),
    (["fit", "m.py", "--data", "d.npz", "--out", "o", "--seed", "100000000000000000000"],
     "argument --seed: must be between 0 and 2,147,483,647"),
    (["fit", "m.py", "--data", "d.npz", "--out", "o", "--draws", "100000000000000000000"],
     "argument --draws: must be between 1 and 1,000,000"),
    (["fit", "m.py", "--data", "d.npz", "--out", "o", "--draws", "1e20"],
     "argument --draws: expected an integer, got '1e20' (write it without an exponent)"),
    (["check", "m.py", "--data", "d.npz", "--seed", "-1"],
     "argument --seed: must be between 0 and 2,147,483,647, got -1"),
    (["check", "m.py"], "the following arguments are required: --data"),
    (["sample", "m.py"], "invalid choice: 'sample'"),
])
def test_option_errors(capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE and out == ""
    lines = _lines(err)
    assert len(lines) == 1 and expected in lines[0], err
    assert lines[0].endswith("--help)")  # points at the help, not a usage dump


def test_out_is_a_file(capsys, files, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    code, _, err = run(capsys, "fit", files["normal.py"], "--data", files["normal.npz"],
                       "--out", target)
    assert code == cli.EXIT_USAGE and "exists and is not a directory" in err


@pytest.mark.parametrize("command", ["fit", "report"])
def test_output_that_is_a_directory_is_an_input_error(capsys, files, tmp_path, command):
    """Found before the fit runs, named, exit 2 (was: exit 3 after the whole fit)."""
    (tmp_path / "report.html").mkdir()
    if command == "fit":
        argv = ["fit", files["normal.py"], "--data", files["normal.npz"], "--out", tmp_path]
    else:
        (tmp_path / "posterior.nc").write_text("not read: the output is checked first")
        argv = ["report", tmp_path]
    code, out, err = run(capsys, *argv)
    lines = _lines(err)
    assert code == cli.EXIT_USAGE and len(lines) == 1, err
    assert f"'{tmp_path / 'report.html'}' is a directory" in lines[0]
    assert "NUTS" not in out  # nothing ran


def test_model_code_that_exits_later_is_an_input_error(capsys, files, tmp_path, monkeypatch):
    """sys.exit inside the fit (here: from the sampler) is exit 2, not a silent exit 5."""
    import bayesquad.inference

    def exits(*args, **kwargs):
        raise SystemExit(5)
    monkeypatch.setattr(bayesquad.inference, "sample", exits)
    code, _, err = run(capsys, "fit", files["normal.py"], "--data", files["normal.npz"],
                       "--out", tmp_path / "out", "-q")
    assert code == cli.EXIT_USAGE and "called sys.exit(5)" in err
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(capsys, files):
    argv = ["check", files["syntax_error.py"], "--data", files["normal.npz"]]
    code, _, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE and "Traceback" not in err
    code, _, err = run(capsys, *argv, "--debug")
    assert code == cli.EXIT_USAGE and "Traceback" in err and "SyntaxError" in err
    assert _lines(err)[-1].startswith("bayesquad check: error: ")


def test_internal_error_exit_code(capsys, files, tmp_path, monkeypatch):
    import bayesquad.inference

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")
    monkeypatch.setattr(bayesquad.inference, "sample", broken)
    argv = ["fit", files["normal.py"], "--data", files["normal.npz"], "--out", tmp_path, "-q"]
    code, _, err = run(capsys, *argv)
    assert code == cli.EXIT_INTERNAL
    assert _lines(err) == ["bayesquad fit: internal error: RuntimeError: simulated failure "
                           "(rerun with --debug for the traceback)"]
    code, _, err = run(capsys, *argv, "--debug")
    assert code == cli.EXIT_INTERNAL and "Traceback" in err


def test_report_errors(capsys, tmp_path):
    code, _, err = run(capsys, "report", tmp_path / "nowhere")
    assert code == cli.EXIT_USAGE and "is not a directory" in err
    code, _, err = run(capsys, "report", tmp_path)
    assert code == cli.EXIT_USAGE and "has no posterior.nc" in err
    (tmp_path / "posterior.nc").write_text("garbage")
    code, _, err = run(capsys, "report", tmp_path)
    assert code == cli.EXIT_USAGE and "cannot read" in err and len(_lines(err)) == 1


# ---- fit and report --------------------------------------------------------------------

@pytest.fixture(scope="module")
def short_fit(files, tmp_path_factory):
    """A NUTS fit far too short to pass: 2 chains x (10 + 10), no XLA.

    ``--init prior`` here and below: the MAP start costs more than these fits.
    """
    out = tmp_path_factory.mktemp("short_fit")
    argv = ["fit", files["normal.py"], "--data", files["normal.npz"], "--out", out,
            "--chains", 2, "--warmup", 10, "--draws", 10, "--no-jit", "--ppc-draws", 5,
            "--init", "prior"]
    code = cli.main([str(a) for a in argv])
    return code, out


def test_failed_verdict_exit_code_and_outputs(short_fit, files):
    import arviz as az
    import pandas as pd

    from bayesquad.report import load_verdict
    code, out = short_fit
    assert code == cli.EXIT_FAILED
    dt = az.from_netcdf(out / "posterior.nc")
    assert dict(dt.posterior["mu"].sizes) == {"chain": 2, "draw": 10}
    assert {"posterior", "sample_stats", "observed_data", "log_likelihood",
            "posterior_predictive"} <= set(dt.children)
    assert dt.attrs["cli_method"] == "nuts"
    assert dt.attrs["cli_model_file"] == os.path.abspath(files["normal.py"])
    assert dt.attrs["cli_data_file"] == os.path.abspath(files["normal.npz"])
    assert dt.attrs["cli_command"].startswith("bayesquad fit ")
    verdict = load_verdict(dt)
    assert verdict is not None and not verdict.passed and verdict["ess_bulk"].passed is False
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["parameter"]) == ["mu", "sigma"]
    assert {"mean", "sd", "ess_bulk", "r_hat"} <= set(summary.columns)
    # the summary is of the draws in the file
    assert summary["mean"][0] == pytest.approx(float(dt.posterior["mu"].mean()), rel=1e-12)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "FAIL" in html and "normal" in html
    # the report names where its verdict comes from in the fit's terms, not the API's
    assert "given to write_html" not in html
    assert f"stored with the DataTree (attrs[&#x27;bayesquad_verdict&#x27;] of run " \
           f"{dt.attrs['bayesquad_run_id']}" in html


def test_report_rebuilds(capsys, short_fit):
    _, out = short_fit
    (out / "report.html").unlink()
    code, stdout, _ = run(capsys, "report", out, "--title", "Rebuilt report")
    assert code == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Rebuilt report" in html
    assert re.search(r"verdict: FAILED \(\d+ check\(s\)\) \(as stored by the fit\)", stdout)
    assert _lines(stdout)[-1] == f"report: {(out / 'report.html').resolve().as_uri()}"


def test_passing_fit_exits_zero(capsys, files, tmp_path):
    """4 chains x (300 + 1000) of a 2-parameter normal: ESS, r_hat and LOO pass."""
    code, out, err = run(capsys, "fit", files["normal.py"], "--data", files["normal.npz"],
                         "--out", tmp_path, "--warmup", 300, "--draws", 1000, "--no-jit",
                         "--ppc-draws", 0, "--seed", 3, "--init", "prior")
    assert code == cli.EXIT_PASSED, out + err
    assert "bayesquad verdict: PASSED" in out
    assert _lines(out)[-1] == f"report:    {(tmp_path / 'report.html').resolve().as_uri()}"
    assert "NUTS sampling" in err  # the progress bar


@pytest.mark.parametrize("method", ["map", "vi"])
def test_other_methods(capsys, files, tmp_path, method):
    import arviz as az
    init = ["--init", "prior"] if method == "vi" else []
    code, out, _ = run(capsys, "fit", files["normal.py"], "--data", files["normal.npz"],
                       "--out", tmp_path, "--method", method, "--draws", 200, "--vi-steps", 1000,
                       "--no-jit", "-q", *init)
    assert code == cli.EXIT_PASSED
    assert len(_lines(out)) == 4  # quiet: the output paths and the verdict only
    dt = az.from_netcdf(tmp_path / "posterior.nc")
    assert dt.attrs["cli_method"] == method and dt.attrs["inference"] == method
    assert dict(dt.posterior["sigma"].sizes) == {"chain": 1, "draw": 200}


# ---- check -----------------------------------------------------------------------------

def test_check_passes(capsys, files):
    code, out, _ = run(capsys, "check", files["peak_good.py"], "--data", files["peak.npz"],
                       "--draws", 10)
    assert code == 0, out
    assert "finite at 10 of 10 draws" in out
    assert "0 of 10 did not converge (1 per draw)" in out
    assert "1 chain" in out and "4 chains" in out and "XLA-compiled" in out
    assert _lines(out)[-1].startswith("check: PASSED")


def test_check_flags_integrals_that_do_not_converge(capsys, files):
    code, out, _ = run(capsys, "check", files["peak_bad.py"], "--data", files["peak.npz"],
                       "--draws", 10, "--no-cost")
    assert code == 1
    assert "integral(s) did not converge (BUDGET_EXHAUSTED)" in out
    assert "w=" in out and "cost" not in out
    assert _lines(out)[-1].startswith("check: FAILED")


def test_check_reports_non_finite_log_densities(capsys, files):
    """sigma ~ Normal(1, 1): the negative prior draws make log N(y | mu, sigma) NaN."""
    code, out, _ = run(capsys, "check", files["negative_scale.py"], "--data",
                       files["normal.npz"], "--draws", 20, "--no-cost", "--seed", 1)
    assert code == 1
    problems = [line for line in out.splitlines() if "log density nan" in line]
    assert problems and all("sigma=-" in line for line in problems)


# ---- outputs of two runs, interrupts, checkpoints ---------------------------------------

_TINY = ["--chains", 2, "--warmup", 10, "--draws", 10, "--no-jit", "--ppc-draws", 0,
         "--init", "prior", "--no-loo"]
_OUTPUTS = ("posterior.nc", "summary.csv", "report.html")


def _tiny_fit(files, out, *extra, model="normal.py"):
    return ["fit", files[model], "--data", files["normal.npz"], "--out", out, *_TINY, *extra]


def _run_id(out):
    import arviz as az
    return az.from_netcdf(out / "posterior.nc").attrs["bayesquad_run_id"]


@pytest.fixture
def earlier_run(short_fit, tmp_path):
    """A copy of ``short_fit``'s directory: the outputs of an earlier run, as bytes."""
    _, src = short_fit
    dst = tmp_path / "out"
    shutil.copytree(src, dst)
    return dst, {name: (dst / name).read_bytes() for name in _OUTPUTS}


def test_kill_while_writing_the_posterior_keeps_the_earlier_outputs(capsys, files,
                                                                     earlier_run, monkeypatch):
    """The issue's case: a kill during the write left a 96-byte posterior.nc."""
    import xarray as xr
    out, before = earlier_run

    def killed_while_writing(self, path, *args, **kwargs):
        pathlib.Path(path).write_bytes(b"\x89HDF" + bytes(92))
        raise KeyboardInterrupt
    monkeypatch.setattr(xr.DataTree, "to_netcdf", killed_while_writing)
    code, _, err = run(capsys, *_tiny_fit(files, out, "-q"))
    assert code == cli.EXIT_INTERRUPTED
    for name, data in before.items():
        assert (out / name).read_bytes() == data, name
    assert sorted(p.name for p in out.iterdir()) == sorted(_OUTPUTS)  # no partial file
    assert f"'{out}' still holds the earlier run's posterior.nc, summary.csv, report.html" in err
    assert "rerun with --checkpoint" in err and "call sample" not in err


def test_interrupt_while_reporting_leaves_no_mixed_outputs(capsys, files, earlier_run,
                                                           monkeypatch):
    """The issue's case: an interrupt after posterior.nc left it beside the old report."""
    import bayesquad.report
    out, before = earlier_run
    old_id = _run_id(out)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(bayesquad.report, "write_html", interrupted)
    code, _, _ = run(capsys, *_tiny_fit(files, out, "-q"))
    assert code == cli.EXIT_INTERRUPTED
    for name, data in before.items():
        assert (out / name).read_bytes() == data, name
    assert _run_id(out) == old_id and old_id in (out / "report.html").read_text()


def test_a_new_run_replaces_every_output_and_says_so(capsys, files, earlier_run):
    out, before = earlier_run
    (out / "posterior.partial-0123abcd.nc").write_bytes(bytes(96))  # a killed run's file
    code, stdout, err = run(capsys, *_tiny_fit(files, out, "--seed", 1))  # other draws
    assert code in (cli.EXIT_PASSED, cli.EXIT_FAILED)
    assert "holds an earlier run's posterior.nc, summary.csv, report.html" in stdout
    assert "removed partial files of an interrupted earlier run" in err
    assert "posterior.partial-0123abcd.nc" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(_OUTPUTS)
    for name, data in before.items():
        assert (out / name).read_bytes() != data, name
    import arviz as az

    from bayesquad.report import load_verdict
    dt = az.from_netcdf(out / "posterior.nc")
    new_id = dt.attrs["bayesquad_run_id"]
    assert load_verdict(dt) is not None  # the stored verdict is this run's
    assert new_id in (out / "report.html").read_text()


def test_report_rebuilds_a_missing_summary(capsys, earlier_run):
    import pandas as pd
    out, before = earlier_run
    (out / "summary.csv").unlink()  # as a kill between putting outputs in place leaves it
    code, stdout, _ = run(capsys, "report", out)
    assert code == 0 and "summary.csv (written: it was missing)" in stdout
    assert pd.read_csv(out / "summary.csv").equals(pd.read_csv(io.BytesIO(
        before["summary.csv"])))


@pytest.fixture(scope="module")
def checkpointed_fit(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("checkpointed") / "run"
    code = cli.main([str(a) for a in _tiny_fit(files, out, "--checkpoint", "-q")])
    assert code in (cli.EXIT_PASSED, cli.EXIT_FAILED)
    return out


def test_checkpoint_of_another_model_is_an_input_error(capsys, files, checkpointed_fit,
                                                       tmp_path):
    out = tmp_path / "run"
    shutil.copytree(checkpointed_fit, out)
    code, _, err = run(capsys, *_tiny_fit(files, out, "--checkpoint", "-q",
                                          model="normal_narrow.py"))
    lines = _lines(err)
    assert code == cli.EXIT_USAGE and len(lines) == 1, err
    assert f"checkpoint directory '{out / 'checkpoint'}' holds a run of a different model" \
        in lines[0]


def test_damaged_checkpoint_is_an_input_error(capsys, files, checkpointed_fit, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(checkpointed_fit, out)
    state = out / "checkpoint" / "state.npz"
    state.write_bytes(state.read_bytes()[:96])
    code, _, err = run(capsys, *_tiny_fit(files, out, "--checkpoint", "-q"))
    lines = _lines(err)
    assert code == cli.EXIT_USAGE and len(lines) == 1, err
    assert f"checkpoint file '{state}' is truncated" in lines[0]
    assert f"delete the checkpoint directory '{out / 'checkpoint'}'" in lines[0]


def test_interrupt_with_checkpoint_says_to_rerun_the_command(capsys, files, tmp_path,
                                                            monkeypatch):
    from bayesquad.inference import _checkpoint
    save = _checkpoint.save_chunk

    def save_then_interrupt(path, k, state, info):
        save(path, k, state, info)
        raise KeyboardInterrupt
    monkeypatch.setattr(_checkpoint, "save_chunk", save_then_interrupt)
    out = tmp_path / "run"
    code, _, err = run(capsys, *_tiny_fit(files, out, "--checkpoint", "-q"))
    assert code == cli.EXIT_INTERRUPTED
    assert (f"interrupted: every finished chunk is saved in '{out / 'checkpoint'}': rerun "
            f"the same command to resume there") in err
    assert "call sample" not in err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint"]


# ---- check: integrals the posterior can reach, and prior draws the data rule out -------

def _peak_log_density(mu, w, x, width_sd=1.5):
    """PEAK_TAIL's log density in (mu, log w), by the closed-form truncated-normal normaliser."""
    from scipy.stats import norm
    z = w * np.sqrt(2 * np.pi) * (norm.cdf((5 - mu) / w) - norm.cdf((-5 - mu) / w))
    return (norm.logpdf(mu, 0, 1) + norm.logpdf(np.log(w), 0, width_sd)
            - 0.5 * np.sum(((x - mu) / w) ** 2) - x.size * np.log(z))


def _peak_mode(x):
    from scipy.optimize import minimize
    res = minimize(lambda p: -_peak_log_density(p[0], np.exp(p[1]), x),
                   [x.mean(), np.log(x.std())], method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 10_000})
    return -res.fun


def _section(out, header):
    """The ``draw``/``MAP``/``Laplace`` lines under the first line starting with ``header``."""
    lines, inside = [], False
    for line in out.splitlines():
        if line.startswith(header):
            inside = True
        elif inside and not line.strip():
            break
        elif inside and line.startswith("  ") and line.split()[0] in ("draw", "MAP",
                                                                       "Laplace"):
            lines.append(line)
    return lines


def _drops(lines, x, lp_max):
    import re
    out = []
    for line in lines:
        mu, w = (float(re.search(rf" {k}=([^\s:]+)", line).group(1)) for k in ("mu", "w"))
        out.append(lp_max - _peak_log_density(mu, w, x))
    return np.array(out)


def _reach():
    from scipy.stats import chi2
    return chi2.isf(1e-9, 2)  # the documented reach for 2 parameters


def _check_peak(capsys, files, data, *extra):
    code, out, _ = run(capsys, "check", files["peak_tail.py"], "--data", files[data],
                       "--no-cost", *extra)
    with np.load(files[data]) as f:
        x = f["x"]
    return code, out, x


def test_check_notes_prior_draws_the_data_rule_out(capsys, files):
    """Failing integrals only where the data rule the parameters out: PASSED with notes."""
    code, out, x = _check_peak(capsys, files, "peak_wide.npz")
    lp_max = _peak_mode(x)
    mode_line = next(line for line in out.splitlines() if "MAP log density" in line)
    assert float(mode_line.split("MAP log density ")[1].split()[0]) == pytest.approx(
        lp_max, rel=1e-5)
    notes = _section(out, "notes:")
    assert notes and all("did not converge (BUDGET_EXHAUSTED)" in line for line in notes)
    assert np.all(_drops(notes, x, lp_max) > _reach())
    assert _section(out, "problems") == []
    assert code == cli.EXIT_PASSED, out
    assert _lines(out)[-1].startswith(
        f"check: PASSED (no problem where the posterior can reach; {len(notes)} of 20 prior "
        f"draws the data rule out")
    assert "Tighten the priors" in out


def test_check_fails_where_the_posterior_lives(capsys, files):
    """Negative control: the same model with data whose posterior needs the failing widths."""
    code, out, x = _check_peak(capsys, files, "peak_narrow.npz")
    problems = _section(out, "problems where the posterior can reach")
    assert any(line.split()[0] == "MAP" and "(BUDGET_EXHAUSTED)" in line for line in problems)
    assert any(line.split()[0] == "Laplace" for line in problems)
    assert np.all(_drops(_section(out, "notes:"), x, _peak_mode(x)) > _reach())
    assert code == cli.EXIT_FAILED
    assert _lines(out)[-1].startswith("check: FAILED (")
    assert "give it more nodes or panels" in _lines(out)[-1]


def test_check_fails_at_prior_draws_the_posterior_can_reach(capsys, files):
    """Negative control of the classification: the posterior's own region converges, but
    prior draws within its reach do not: a failure, not a note."""
    code, out, x = _check_peak(capsys, files, "peak_edge.npz", "--seed", 2)
    lp_max = _peak_mode(x)
    problems = _section(out, "problems where the posterior can reach")
    assert problems and all(line.split()[0] == "draw" for line in problems)
    assert all(line.endswith(": the posterior can reach it") for line in problems)
    assert np.all(_drops(problems, x, lp_max) < _reach())
    assert np.all(_drops(_section(out, "notes:"), x, lp_max) > _reach())
    assert code == cli.EXIT_FAILED


@pytest.mark.slow
@pytest.mark.parametrize("name", ["poisson_process", "survival_tvc"])
def test_bundled_models_pass_check(capsys, name):
    """W2 and W4 failed check at 3 and 17 of 20 prior draws whose integrals the data rule
    out; their posterior regions converge, so they pass (W4 with notes on those draws; W2's
    default rule, 64 panels since fits plan their own, now converges at every draw)."""
    code, out, _ = run(capsys, "check", ROOT / "models" / f"{name}.py", "--data",
                       ROOT / "models" / "data" / f"{name}.npz", "--no-cost")
    assert code == cli.EXIT_PASSED, out
    assert _section(out, "problems") == []
    if name == "survival_tvc":
        assert _section(out, "notes:")
    assert "integrals at the MAP and 20 Laplace draws: 0 of" in out


def test_unclassifiable_draws_count_as_reachable():
    from bayesquad.diagnostics._prior_check import ruled_out
    inf, nan = np.inf, np.nan
    lp_own = np.array([-100.0, -100.0, -inf, -100.0, -30.0])
    lp_ref = np.array([-100.0, nan, -inf, -5.0, -100.0])  # a failed reference is NaN
    assert ruled_out(lp_own, lp_ref, 0.0, 41.4).tolist() == [True, False, True, False, False]
    assert not ruled_out(lp_own, lp_ref, nan, 41.4).any()  # no accurate mode: none ruled out


def test_gate_on_loo_reaches_diagnose(capsys, files, tmp_path, monkeypatch):
    """--gate-on-loo is passed to diagnose (by default high Pareto k only warns)."""
    from bayesquad import diagnostics
    seen = []
    real = diagnostics.diagnose

    def spy(dt, *a, **kw):
        seen.append(kw.get("gate_on_loo"))
        return real(dt, *a, **kw)

    monkeypatch.setattr(diagnostics, "diagnose", spy)
    for flag in ([], ["--gate-on-loo"]):
        run(capsys, "fit", files["normal.py"], "--data", files["normal.npz"],
            "--out", tmp_path / f"out{len(flag)}", "--method", "map", "--ppc-draws", 0,
            *flag)
    assert seen == [False, True]


@pytest.mark.parametrize("body, ok", [
    ("def derived(values):\n    return {'cv': values['sigma'] / abs(values['mu'])}\n", True),
    ("derived = 3\n", False),
])
def test_model_file_derived_quantities(capsys, files, tmp_path, body, ok):
    """A model file's optional ``derived(values)`` lands in posterior.nc beside the
    parameters; a ``derived`` that is not a function is an input error."""
    import arviz as az
    model = tmp_path / "normal_derived.py"
    model.write_text(cli_models.NORMAL + "\n\n" + body)
    code, out, err = run(capsys, "fit", model, "--data", files["normal.npz"], "--out",
                         tmp_path / "out", "--method", "map", "--draws", 50, "-q")
    if not ok:
        assert code == cli.EXIT_USAGE and "'derived' must be a function" in err, err
        return
    assert code == cli.EXIT_PASSED, out + err
    dt = az.from_netcdf(tmp_path / "out" / "posterior.nc")
    post = dt.posterior
    np.testing.assert_allclose(post["cv"].values,
                               post["sigma"].values / np.abs(post["mu"].values))
    assert dt.attrs["derived_variables"] == "cv"
    # the simulator gets the parameters only, so the posterior predictive check still runs
    assert "posterior_predictive" in dt.children, dt.attrs.get("bayesquad_ppc_message")
