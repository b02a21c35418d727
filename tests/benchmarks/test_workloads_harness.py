"""The pure-python parts of benchmarks/workloads.py: agreement, ratio, aggregation, tables.

Nothing here imports JAX or TensorFlow: the harness's parent process must not (each tool
runs in its own subprocess). The one test that runs the NumPyro peer does so in a
subprocess of ``.venv/bench`` (made by ``make bench``), only where that exists and never in
CI (CI does not need JAX).
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "benchmarks")


def _load(name):
    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def common():
    return _load("_bench_common")


@pytest.fixture(scope="module")
def harness():
    return _load("workloads")


def _summary(means, sds, mcses, ess=1000.0):
    params = {k: {"mean": m, "sd": s, "mcse_mean": e, "ess_bulk": ess, "ess_tail": ess,
                  "r_hat": 1.0} for k, m, s, e in zip("abc", means, sds, mcses)}
    return {"params": params, "min_ess_bulk": ess, "max_r_hat": 1.0, "divergences": 0}


def test_parent_imports_neither_jax_nor_tensorflow():
    code = ("import sys; sys.path.insert(0, 'benchmarks'); import workloads; "
            "bad = [m for m in ('jax._src', 'jaxlib', 'tensorflow', 'numpyro') "
            "if m in sys.modules]; assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr


def test_agreement_threshold(common):
    # tol = 3 sqrt(0.003^2 + 0.004^2) + 0.01 * mean(sd) = 3 * 0.005 + 0.01 * 0.2 = 0.017
    a = _summary([1.0, 2.0], [0.2, 0.2], [0.003, 0.003])
    b = _summary([1.0169, 2.0171], [0.2, 0.2], [0.004, 0.004])
    out = common.agreement(a, b)
    assert out["a"]["tol"] == pytest.approx(0.017)
    assert out["a"]["ok"] and not out["b"]["ok"]
    assert out["b"]["diff"] == pytest.approx(0.0171)


def test_agreement_only_shared_parameters(common):
    a = _summary([1.0, 2.0, 3.0], [1, 1, 1], [0.01] * 3)
    b = _summary([1.0], [1], [0.01])
    assert list(common.agreement(a, b)) == ["a"]


def test_best_peer_and_ratio(common):
    per_tool = {"bayesquad": {"ess_per_s": 50.0}, "numpyro-vectorized": {"ess_per_s": 40.0},
                "numpyro-parallel": {"ess_per_s": 80.0}}
    assert common.best_peer(per_tool) == "numpyro-parallel"
    assert common.ratio(50.0, 80.0) == pytest.approx(0.625)
    assert common.ratio(50.0, None) is None and common.ratio(1.0, 0.0) is None
    per_tool["numpyro-parallel"] = {"error": "exit 1"}
    assert common.best_peer(per_tool) == "numpyro-vectorized"
    assert common.best_peer({"bayesquad": {"ess_per_s": 1.0}}) is None


def test_aggregate_takes_fastest_run(common):
    runs = [{"ess_per_s": v, "id": i} for i, v in enumerate([30.0, 10.0, 20.0])]
    chosen = common.aggregate(runs + [{"error": "timed out"}])
    assert chosen["id"] == 0 and chosen["repeats"] == 4
    assert chosen["ess_per_s_all"] == [10.0, 20.0, 30.0]
    failed = [{"error": "timed out"}]
    assert common.aggregate(failed) == failed[0]


def test_finish_run_rates(common):
    out = common.finish_run({"min_ess_bulk": 1000.0},
                            {"first_s": 30.0, "second_s": 10.0, "compile_in_second_s": 2.0})
    assert out["ess_per_s"] == pytest.approx(100.0)
    assert out["ess_per_s_excl_compile"] == pytest.approx(125.0)
    assert out["first_s"] == 30.0


def test_time_calls_counts(common):
    calls = []
    first, per_call = common.time_calls(lambda: calls.append(1), min_time=0.0, min_calls=5)
    assert len(calls) == 7  # first call, one warm call, five timed
    assert 0.0 <= per_call <= first + 1.0


def test_fmt(common):
    assert common.fmt(None) == "-"
    assert common.fmt(1234.5) == "1,234" or common.fmt(1234.5) == "1,235"
    assert common.fmt(12.345) == "12.3"
    assert common.fmt(0.0012345) == "0.00123"
    assert common.fmt(7) == "7" and common.fmt(True) == "yes"


def test_tables_align(common):
    text = common.text_table(("name", "value"), [("a", 1.5), ("long name", 123456.0)])
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1  # every line equally wide
    assert lines[2].startswith("a ") and lines[3].endswith("123,456")
    md = common.markdown_table(("name", "value"), [("a", None)])
    assert md.splitlines() == ["| name | value |", "|---|---|", "| a | - |"]


def _result(ess_per_s, means, log_joint=-10.0):
    res = _summary(means, [0.1] * len(means), [0.002] * len(means))
    res.update(first_s=20.0, second_s=10.0, compile_in_second_s=0.5, ess_per_s=ess_per_s,
               log_joint_truth=log_joint)
    return res


def test_summary_rows_ratio_against_best_peer(common):
    results = {"W1": {"bayesquad": _result(30.0, [1.0, 2.0], -10.0),
                      "numpyro-vectorized": _result(40.0, [1.0, 2.0], -10.0 + 1e-9),
                      "numpyro-parallel": _result(60.0, [1.0, 2.5], -10.0 + 2e-9)},
               "W3u": {"numpyro-vectorized": _result(5.0, [0.0])}}
    rows = {r[0]: r for r in common.summary_rows(results)}
    w1 = rows["W1"]
    assert w1[1:5] == (30.0, 40.0, 60.0, "numpyro-parallel")
    assert w1[5] == pytest.approx(0.5)
    assert w1[6] == "1/2"  # b differs by 0.5, far beyond tolerance
    assert w1[7] == pytest.approx(2e-9, rel=1e-3)
    assert rows["W3u"][1] is None and rows["W3u"][5] is None and rows["W3u"][6] == "-"


def test_result_rows_report_failures(common):
    results = {"W2": {"bayesquad": {"error": "exit 1: Traceback\nValueError: boom"},
                      "numpyro-parallel": _result(100.0, [1.0])}}
    rows = common.result_rows(results)
    assert rows[0][1] == "bayesquad" and rows[0][-1] == "FAILED: ValueError: boom"
    assert rows[1][6] == 100.0 and rows[1][7] == "100" and rows[1][8] == "1.000"


def test_summarise_matches_numpy(common):
    rng = np.random.default_rng(1)
    draws = {"x": rng.normal(2.0, 3.0, (4, 1000)), "y": rng.normal(size=(4, 1000))}
    div = np.zeros((4, 1000), bool)
    div[0, :3] = True
    out = common.summarise(draws, div)
    assert out["params"]["x"]["mean"] == pytest.approx(draws["x"].mean())
    assert out["params"]["x"]["sd"] == pytest.approx(draws["x"].std(ddof=1), rel=1e-3)
    assert 3000 < out["min_ess_bulk"] < 5500  # iid draws: ESS about the draw count
    assert out["max_r_hat"] < 1.01 and out["divergences"] == 3
    assert "jax._src" not in sys.modules  # ArviZ only registers a lazy placeholder


def test_parse_args(harness):
    args = harness.parse_args(["--quick", "--workloads", "W1, W3", "--np-python", "py"])
    assert (args.warmup, args.draws) == (100, 100)
    assert args.workloads == ["W1", "W3"] and args.tools == list(harness.C.TOOLS)
    with pytest.raises(SystemExit):
        harness.parse_args(["--workloads", "W9", "--np-python", "py"])
    with pytest.raises(SystemExit):
        harness.parse_args(["--tools", "stan", "--np-python", "py"])


def test_truths_read_without_importing_models(harness):
    truths = harness._truths()  # pylint: disable=protected-access
    assert truths["W1"] == {"mu": 5.0, "sigma": 0.5, "lam": 0.3, "s": 0.2}
    assert set(truths) == set(harness.C.WORKLOADS)


def test_render_full_report(common):
    results = {"W1": {"bayesquad": {**_result(30.0, [1.0]),
                                    "attrs_first": {"init_time_s": 1.0},
                                    "attrs_second": {"init_time_s": 0.5}},
                      "numpyro-parallel": _result(60.0, [1.0])}}
    report = {"meta": {"command": "python benchmarks/workloads.py --quick", "date": "d",
                       "machine": "m", "settings": "s", "versions": {}},
              "results": results,
              "scaling": {"bayesquad": [{"n": 2000, "chains": 4, "compile_s": 3.0,
                                         "seconds_per_eval": 0.002}]}}
    md = common.render(report, markdown=True)
    assert "`python benchmarks/workloads.py --quick`" in md
    assert "| W1 | 30.0 | - | 60.0 | numpyro-parallel | 0.5 | 1/1 | 0 |" in md
    assert "| W1 | 1st | 1 |" in md  # bayesquad's own timings
    assert "| bayesquad | 2,000 | 4 | 3 | 2 | 500 |" in md
    assert common.render(report).count("\n") > 10
    json.dumps(report)  # results must stay JSON-serialisable


BENCH_PYTHON = os.path.join(ROOT, ".venv", "bench", "bin", "python")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(BENCH_PYTHON), reason="no .venv/bench with JAX "
                    "(`make bench` makes it from requirements-bench.lock)")
@pytest.mark.skipif(bool(os.environ.get("CI")), reason="CI does not run JAX")
def test_numpyro_peer_matches_references(tmp_path):
    # In a subprocess of the bench venv: JAX never loads in the test process.
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "workloads.py"), "--check",
                           "--np-python", BENCH_PYTHON, "--out", str(tmp_path / "check")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / "check.json") as f:
        errors = json.load(f)["check"]["errors"]
    assert set(errors) == {"W1", "W2", "W3", "W4", "W5", "W6"}
    # W3's 10-node adaptive Gauss-Hermite is ~4e-5 off (DEVELOPERS.md), W6's 1,536-node
    # product rule ~1e-6 over the posterior region (_peer_numpyro.py); others ~1e-9
    bounds = {"W3": 1e-4, "W6": 1e-5}
    for wl, errs in errors.items():
        assert max(abs(e) for e in errs) < bounds.get(wl, 1e-7), (wl, errs)


def test_summary_rows_ratio_of_medians(common):
    bq = dict(_result(90.0, [1.0]), ess_per_s_all=[60.0, 70.0, 90.0])
    peer = dict(_result(100.0, [1.0]), ess_per_s_all=[35.0, 40.0, 100.0])
    rows = common.summary_rows({"W1": {"bayesquad": bq, "numpyro-parallel": peer}})
    assert rows[0][5] == pytest.approx(0.9)  # best against best
    assert rows[0][8] == pytest.approx(70.0 / 40.0)  # median against median
    assert len(rows[0]) == len(common.SUMMARY_HEADER)
