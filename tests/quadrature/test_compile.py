"""Same results eager, in ``tf.function`` and in ``tf.function(jit_compile=True)``.

For every method, value, error, status and the gradient with respect to a batched
parameter and the upper limit are computed three ways and compared: deterministic
methods to roundoff (adaptive meshes may legitimately differ when XLA reorders sums, so
values agree within the reported error), sampling methods within their standard errors.
qmc's Sobol points are generated outside XLA by the core (``tf.math.sobol_sample`` has no
XLA kernel), so qmc under ``jit_compile=True`` checks that hand-off.

Also: a second call with same-shaped inputs does not retrace.
"""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import bayesquad
import tensorflow as tf

F64 = tf.float64
K0 = np.array([0.5, 1.0, 3.0])
B0 = 1.7

METHOD_OPTS = {
    "trapezoid": {"panels": 4096},
    "simpson": {"panels": 512},
    "gauss-legendre": {"nodes": 32},
    "gauss-kronrod": {"nodes": 21},
    "adaptive-gk": {"rtol": 1e-10},
    "tanh-sinh": {"rtol": 1e-10},
    "auto": {"rtol": 1e-10},
    "monte-carlo": {"samples": 4096, "seed": 7},
    "qmc": {"samples": 4096, "seed": 7},
}
SAMPLING = ("monte-carlo", "qmc")


def _compute(method, k, b):
    with tf.GradientTape() as tape:
        tape.watch([k, b])
        res = bayesquad.integrate(lambda x, k_: tf.exp(-k_ * x), 0.0, b, args=(k,),
                                  method=method, **METHOD_OPTS[method])
        total = tf.reduce_sum(res.value)
    gk, gb = tape.gradient(total, [k, b])
    return res.value, res.error, res.status, gk, gb


def _run(method, mode):
    k, b = tf.constant(K0, F64), tf.constant(B0, F64)
    if mode == "eager":
        out = _compute(method, k, b)
    else:
        # method is a Python constant of the trace
        fn = tf.function(lambda k_, b_: _compute(method, k_, b_),
                         jit_compile=(mode == "xla"))
        out = fn(k, b)
    return [np.asarray(t) for t in out]


def _xla_in_children(methods):
    """XLA results computed in child processes, so that a compiler abort (seen once with
    tanh-sinh gradients) fails that method's test instead of killing the session.
    A child that dies is restarted on the methods it did not reach."""
    out, remaining = {}, list(methods)
    while remaining:
        proc = subprocess.run([sys.executable, __file__, *remaining], capture_output=True,
                              text=True, timeout=900, stdin=subprocess.DEVNULL)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                method, arrays = json.loads(line[7:])
                out[method] = [np.asarray(a, dtype=np.int32 if i == 2 else np.float64)
                               for i, a in enumerate(arrays)]
        remaining = [m for m in remaining if m not in out]
        if proc.returncode != 0 and remaining:
            out[remaining.pop(0)] = RuntimeError(
                f"child process died (rc={proc.returncode}) on this method under XLA:\n"
                + "\n".join(l for l in proc.stderr.splitlines()
                             if not l.startswith(("  File", "    @")))[-2000:])
    return out


@pytest.fixture(scope="module")
def results():
    return {}


def _get(results, method, mode):
    if mode == "xla" and "xla-all" not in results:
        results["xla-all"] = _xla_in_children(list(METHOD_OPTS))
    if mode == "xla":
        got = results["xla-all"][method]
        if isinstance(got, Exception):
            pytest.fail(str(got))
        return got
    if (method, mode) not in results:
        results[(method, mode)] = _run(method, mode)
    return results[(method, mode)]


def _exact():
    value = -np.expm1(-K0 * B0) / K0
    dk = B0 * np.exp(-K0 * B0) / K0 + np.expm1(-K0 * B0) / K0**2
    db = np.sum(np.exp(-K0 * B0))
    return value, dk, db


# XLA compilation of all nine methods with gradients: ~60 s of CPU, hence slow.
@pytest.mark.parametrize("mode", ["graph", pytest.param("xla", marks=pytest.mark.slow)])
@pytest.mark.parametrize("method", list(METHOD_OPTS))
def test_modes_agree(results, method, mode):
    v0, e0, s0, gk0, gb0 = _get(results, method, "eager")
    v1, e1, s1, gk1, gb1 = _get(results, method, mode)
    assert v1.dtype == np.float64 and s1.dtype == np.int32
    value, dk, db = _exact()
    if method in SAMPLING:
        # same seed: same estimate up to generator implementation details, and both honest
        assert np.all(np.abs(v1 - v0) <= 6 * np.maximum(e0, e1)), (v0, v1, e0, e1)
        assert np.all(np.abs(v1 - value) <= 5 * e1)
        np.testing.assert_allclose(gk1, dk, rtol=0.1)
        return
    tol = np.maximum(np.maximum(e0, e1), 1e-14 * np.abs(v0))
    assert np.all(np.abs(v1 - v0) <= 2 * tol), (method, mode, v0, v1, e0, e1)
    np.testing.assert_array_equal(s1, s0)
    np.testing.assert_allclose(gk1, gk0, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(gb1, gb0, rtol=1e-6)
    # and all of them are right (honest error bars; gradients to ~1e-7 at these settings)
    assert np.all(np.abs(v1 - value) <= np.maximum(e1, 1e-14)), (v1, value, e1)
    np.testing.assert_allclose(gk1, dk, rtol=1e-6)
    assert float(gb1) == pytest.approx(db, rel=1e-6)


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("method", ["gauss-legendre", "adaptive-gk", "auto"])
def test_no_retrace_on_second_call(method, jit):
    traces = []

    @tf.function(jit_compile=jit)
    def fn(k, b):
        traces.append(1)  # Python side effect: runs only while tracing
        return bayesquad.integrate(lambda x, k_: tf.exp(-k_ * x), 0.0, b, args=(k,),
                                   method=method).value

    v1 = fn(tf.constant(K0, F64), tf.constant(B0, F64))
    v2 = fn(tf.constant(K0 * 2, F64), tf.constant(B0 + 1, F64))
    assert len(traces) == 1
    np.testing.assert_allclose(v1, -np.expm1(-K0 * B0) / K0, rtol=1e-7)
    np.testing.assert_allclose(v2, -np.expm1(-2 * K0 * (B0 + 1)) / (2 * K0), rtol=1e-7)


@pytest.mark.parametrize("method", ["trapezoid", "gauss-legendre", "adaptive-gk", "tanh-sinh",
                                    "auto"])
def test_scalar_integral_in_tf_function(method):
    """The commonest use: one scalar integral inside a (non-XLA) tf.function."""
    @tf.function
    def fn(b):
        return bayesquad.integrate(lambda x: tf.exp(-x), 0.0, b, method=method).value

    # trapezoid default (256 panels): 1.3e-6 relative
    assert float(fn(tf.constant(1.0, F64))) == pytest.approx(-math.expm1(-1.0), rel=1e-5)


def test_infinite_limits_and_points_under_xla():
    @tf.function(jit_compile=True)
    def fn(a, s):
        inf = bayesquad.integrate(lambda x: tf.exp(-x), a, math.inf, method="auto")
        jump = bayesquad.integrate(
            lambda x: tf.where(x > s, tf.ones_like(x), tf.zeros_like(x)), 0.0, 1.0,
            points=tf.reshape(s, [1]), method="adaptive-gk")
        return inf.value, jump.value, inf.status, jump.status

    inf_v, jump_v, s1, s2 = fn(tf.constant(0.3, F64), tf.constant(0.25, F64))
    assert float(inf_v) == pytest.approx(math.exp(-0.3), rel=1e-7)
    assert float(jump_v) == pytest.approx(0.75, rel=1e-7)
    assert int(s1) == 0 and int(s2) == 0


if __name__ == "__main__":
    # child-process entry for _xla_in_children: one JSON line per finished method
    for _method in sys.argv[1:]:
        _out = _run(_method, "xla")
        print("RESULT " + json.dumps([_method, [np.asarray(a).tolist() for a in _out]]),
              flush=True)
