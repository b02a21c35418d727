"""Cost of one value + gradient of the W6 integral by three cubature routes (issue 14).

    I(theta) = int_0^10 int_0^6 exp(a + b x/10 + c exp(-((x-x0)^2 + (y-y0)^2)/(2 w^2))) dy dx

at a=3, b=0.5, c=2, x0=6, y0=3.5, w=0.8, differentiated with respect to all six
parameters, each route compiled with XLA and timed in this process:

(i)   ``cubature(method="gauss-legendre")`` at the cheapest nodes per axis (one panel)
      whose true relative error is <= 1e-8 (searched here against the reference);
(ii)  ``cubature(method="genz-malik", rtol=1e-8)``, with the default budget and with
      ``max_evals`` cut to 1.25x what the eager run used (under XLA the differentiable
      replay covers the whole budget);
(iii) nested 1-D ``integrate``: ``adaptive-gk`` over x whose integrand is an
      ``adaptive-gk`` integral over y, both at rtol 1e-8 (so 1e-8 overall), and nested
      fixed Gauss–Legendre at the nodes of (i).

The reference is ``scipy.integrate.dblquad`` at epsrel 1e-13. Times are medians of
repeated calls after the first (compile) call, and ratios are against (i). The load
average is printed: run it on a quiet machine. Prints a markdown table.

Run: ``.venv/bin/python benchmarks/cubature_cost.py``
"""
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from _bench_common import markdown_table, time_calls  # noqa: E402

THETA = (3.0, 0.5, 2.0, 6.0, 3.5, 0.8)
BOX = ([0.0, 0.0], [10.0, 6.0])
TARGET = 1e-8


def w6_numpy(x, y, a, b, c, x0, y0, w):
    return np.exp(a + b * x / 10 + c * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * w * w)))


def reference():
    from scipy import integrate as si
    value, _ = si.dblquad(lambda y, x: w6_numpy(x, y, *THETA), 0, 10, 0, 6, epsabs=0,
                          epsrel=1e-13)
    return value


def load():
    return os.getloadavg()


def main():
    import bayesquad
    import tensorflow as tf

    f64 = tf.float64

    def integrand2d(x, theta):
        a, b, c, x0, y0, w = (theta[i] for i in range(6))
        r2 = (x[..., 0] - x0) ** 2 + (x[..., 1] - y0) ** 2
        return tf.exp(a + b * x[..., 0] / 10.0 + c * tf.exp(-r2 / (2.0 * w * w)))

    def cub(theta, **kw):
        return bayesquad.cubature(lambda x: integrand2d(x, theta), *BOX, **kw)

    seen = {"nodes": 0, "inner": 0}  # eager bookkeeping only

    def nested(theta, inner, outer):
        a, b, c, x0, y0, w = (theta[i] for i in range(6))

        def over_y(y, xv):  # y: [m_y, m_x], xv: [m_x]
            if tf.executing_eagerly():
                seen["nodes"] += int(tf.size(y))
            r2 = (xv - x0) ** 2 + (y - y0) ** 2
            return tf.exp(a + b * xv / 10.0 + c * tf.exp(-r2 / (2.0 * w * w)))

        def over_x(x):
            res = bayesquad.integrate(over_y, 0.0, 6.0, args=(x,), **inner)
            if tf.executing_eagerly():
                seen["inner"] = max(seen["inner"], int(tf.reduce_max(res.n_evals)))
            return res.value

        return bayesquad.integrate(over_x, 0.0, 10.0, **outer)

    ref = reference()
    theta0 = tf.constant(THETA, f64)

    # (i) the cheapest product rule reaching the target, per axis (eager, values only)
    def gl_error(nx, ny):
        v = float(cub(theta0, method="gauss-legendre", nodes=[nx, ny]).value)
        return abs(v - ref) / ref

    n = next(n for n in range(6, 129) if gl_error(n, n) <= TARGET)
    nx = next(k for k in range(4, n + 1) if gl_error(k, n) <= TARGET)
    ny = next(k for k in range(4, n + 1) if gl_error(nx, k) <= TARGET)
    eager_gm = cub(theta0, method="genz-malik", rtol=TARGET)
    tuned = int(1.25 * int(eager_gm.n_evals))
    adaptive = dict(method="adaptive-gk", rtol=TARGET)
    outer_evals = int(nested(theta0, adaptive, adaptive).n_evals)
    nested_nodes, inner_max = seen["nodes"], seen["inner"]
    inner_tuned = dict(adaptive, max_evals=int(1.25 * inner_max))
    outer_tuned = dict(adaptive, max_evals=int(1.25 * outer_evals))
    # gradients are compared with a much finer product rule (2 x 2 panels of 64 nodes)
    with tf.GradientTape() as tape:
        tape.watch(theta0)
        fine = cub(theta0, method="gauss-legendre", nodes=64, panels=2).value
    grad_ref = tape.gradient(fine, theta0).numpy()

    routes = [
        ("(i) product Gauss–Legendre", f"nodes=[{nx}, {ny}]",
         lambda t: cub(t, method="gauss-legendre", nodes=[nx, ny]), nx * ny),
        ("(ii) adaptive Genz–Malik", "rtol=1e-8, default max_evals",
         lambda t: cub(t, method="genz-malik", rtol=TARGET), None),
        ("(ii) adaptive Genz–Malik", f"rtol=1e-8, max_evals={tuned}",
         lambda t: cub(t, method="genz-malik", rtol=TARGET, max_evals=tuned), None),
        ("(iii) nested integrate", "adaptive-gk in adaptive-gk, rtol=1e-8",
         lambda t: nested(t, adaptive, adaptive), nested_nodes),
        ("(iii) nested integrate", f"the same, max_evals {outer_tuned['max_evals']} outer, "
         f"{inner_tuned['max_evals']} inner", lambda t: nested(t, inner_tuned, outer_tuned),
         nested_nodes),
        ("(iii) nested integrate", f"gauss-legendre {nx} over x of {ny} over y",
         lambda t: nested(t, dict(method="gauss-legendre", nodes=ny),
                          dict(method="gauss-legendre", nodes=nx)), nx * ny),
    ]
    load_before = load()
    rows, base = [], None
    for name, settings, route, evals in routes:
        @tf.function(jit_compile=True)
        def value_and_grad(t, route=route):
            with tf.GradientTape() as tape:
                tape.watch(t)
                res = route(t)
            return res.value, res.n_evals, res.status, tape.gradient(res.value, t)

        tic = time.perf_counter()
        value, n_evals, status, grad = value_and_grad(theta0)
        compile_s = time.perf_counter() - tic
        _, per_call = time_calls(lambda: value_and_grad(theta0)[0].numpy(), min_time=3.0)
        base = per_call if base is None else base
        rows.append([name, settings, int(n_evals) if evals is None else evals,
                     f"{abs(float(value) - ref) / ref:.1e}", int(status),
                     f"{compile_s:.1f}", f"{per_call * 1e3:.3f}", f"{per_call / base:.2f}",
                     grad.numpy()])
    load_after = load()
    for r in rows:
        r[-1] = f"{np.max(np.abs(r[-1] - grad_ref) / np.abs(grad_ref)):.1e}"
    header = ("route", "settings", "evaluations", "true rel. error", "status",
              "compile s", "ms per value+grad", "ratio to (i)", "max grad rel. error")
    print(f"W6 integral, reference {ref!r} (scipy dblquad, epsrel 1e-13)")
    print(f"load average before {load_before[0]:.2f}/{load_before[1]:.2f}/"
          f"{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/"
          f"{load_after[2]:.2f} (1/5/15 min), {os.cpu_count()} CPUs")
    print("evaluations: n_evals of the result (GM: both budgets find the same mesh); for "
          "the nested adaptive route, the integrand nodes of an eager run (inner replays "
          "included; under XLA every inner integral replays its whole budget)")
    print()
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
