"""A tour of ``bayesquad.integrate``: methods, error estimates, statuses and gradients.

Every number printed next to a result is checked against a closed form. Sections:

1. one smooth and one peaked integral with every method;
2. infinite and reversed ranges;
3. an endpoint singularity, x^-0.9, where a fixed rule honestly reports failure;
4. ``log=True`` on an integrand that underflows;
5. 1,000 integrals with different upper limits in one call, with their gradient;
6. the gradient with respect to a breakpoint's location (Leibniz rule);
7. section 5 again under ``tf.function(jit_compile=True)``.

Run: ``make demo`` or ``.venv/bin/python examples/quadrature_tour.py`` (about 30 s, most
of it XLA compilation in section 7).
"""
import math
import textwrap
import time

import numpy as np
from scipy import special

import bayesquad
import tensorflow as tf  # after bayesquad: quiet import

METHODS = ("trapezoid", "simpson", "gauss-legendre", "gauss-kronrod", "adaptive-gk",
           "tanh-sinh", "monte-carlo", "qmc", "auto")
SEEN = set()  # status codes printed, explained at the end


def short(status):
    SEEN.add(int(status))
    return bayesquad.Status(int(status)).name.lower()


def title(text):
    print(f"\n{text}\n{'=' * len(text)}")


def row_header(first="method"):
    head = (f"{first:<22}{'value':>22}{'true error':>12}{'est. error':>12}{'n_evals':>9}"
            "  status")
    print(head)
    print("-" * len(head))


def row(label, res, exact):
    value = float(res.value)
    err = abs(value - exact) if np.isfinite(value) else math.inf
    print(f"{label:<22}{value:>22.15g}{err:>12.1e}{float(res.error):>12.1e}"
          f"{int(res.n_evals):>9}  {short(res.status)}")


def methods_section():
    title("1. Every method on a smooth and a peaked integral (default rtol = 1.5e-8)")
    cases = [
        ("int_0^1 exp(x) dx = e - 1", lambda x: tf.exp(x), math.e - 1.0),
        ("int_0^1 dx / (1e-4 + (x - 0.3)^2) = 100 (atan 70 + atan 30)",
         lambda x: 1.0 / (1e-4 + (x - 0.3) ** 2), 100.0 * (math.atan(70.0) + math.atan(30.0))),
    ]
    for text, f, exact in cases:
        print(f"\n{text}")
        row_header()
        for method in METHODS:
            row(method, bayesquad.integrate(f, 0.0, 1.0, method=method), exact)
    print("\nFixed rules stop at their node count and say whether that was enough; the")
    print("peak defeats every fixed rule and tanh-sinh, while adaptive-gk and auto bisect")
    print("towards it. Monte Carlo and QMC report a standard error, not a bound.")


def infinite_section():
    title("2. Infinite and reversed ranges (method='auto')")
    cases = [
        ("exp(-x^2/2) on (-inf, inf)", lambda x: tf.exp(-0.5 * x * x), -math.inf, math.inf,
         math.sqrt(2.0 * math.pi)),
        ("x^2 exp(-x) on [0, inf)", lambda x: x * x * tf.exp(-x), 0.0, math.inf, 2.0),
        ("1/(1+x^2) on [1, inf)", lambda x: 1.0 / (1.0 + x * x), 1.0, math.inf, math.pi / 4),
        ("exp(x) cos(x) on (-inf, 0]", lambda x: tf.exp(x) * tf.cos(x), -math.inf, 0.0, 0.5),
        ("exp(-x) from inf to 0", lambda x: tf.exp(-x), math.inf, 0.0, -1.0),
    ]
    row_header("integrand, range")
    for label, f, lo, hi, exact in cases:
        row(label, bayesquad.integrate(f, lo, hi), exact)


def singular_section():
    title("3. Endpoint singularity: int_0^1 x^-0.9 dx = 10")
    row_header()
    for method, kw in (("auto", {}), ("tanh-sinh", {}), ("adaptive-gk", {}),
                       ("gauss-legendre", dict(nodes=64)), ("gauss-kronrod", dict(nodes=61))):
        label = method + (f" ({kw['nodes']})" if kw else "")
        row(label, bayesquad.integrate(lambda x: x ** -0.9, 0.0, 1.0, method=method, **kw), 10.0)
    print("\ntanh-sinh clusters its nodes doubly exponentially at the ends, so the")
    print("singularity costs little; auto hands such elements to it. Bisection gains only")
    print("a factor 2^0.1 per level next to x = 0, so adaptive-gk runs out of budget, and")
    print("the fixed rules are far off: all three say they did not converge instead of")
    print("returning a confident wrong number.")


def log_section():
    title("4. log=True: int_0^1 exp(-1000 - 1000 (x - 0.3)^2) dx, about e^-1000")
    exact = (-1000.0 + 0.5 * math.log(math.pi / 1000.0)
             + math.log(0.5 * (special.erf(math.sqrt(1000.0) * 0.7)
                               + special.erf(math.sqrt(1000.0) * 0.3))))
    log_f = lambda x: -1000.0 - 1000.0 * (x - 0.3) ** 2  # noqa: E731
    plain = bayesquad.integrate(lambda x: tf.exp(log_f(x)), 0.0, 1.0)
    logged = bayesquad.integrate(log_f, 0.0, 1.0, log=True)
    print(f"log=False: value = {float(plain.value):g}, status {short(plain.status)}: every "
          "exp(f) underflows to 0, so")
    print("           0 is right to the absolute rounding level, and no digit of it survives.")
    print(f"log=True:  log value = {float(logged.value):.12f}   exact = {exact:.12f}")
    print(f"           error {abs(float(logged.value) - exact):.1e}, est. relative error "
          f"{float(logged.error):.1e}, status {short(logged.status)}")


def batched_problem(n=1000):
    """Upper limits t_i and the exact value/gradients of int_0^t_i exp(-a x) dx."""
    t = np.linspace(0.05, 8.0, n)
    a = 1.5
    e = np.exp(-a * t)
    exact = (1.0 - e) / a
    d_t = e
    d_a = np.sum(t * e / a - (1.0 - e) / a**2)  # gradient of the sum of all values
    return t, a, exact, d_t, d_a


def value_and_grad(t, a, options):
    with tf.GradientTape() as tape:
        tape.watch([t, a])
        res = bayesquad.integrate(lambda x, a: tf.exp(-a * x), 0.0, t, args=(a,), **options)
        total = tf.reduce_sum(res.value)
    d_t, d_a = tape.gradient(total, [t, a])
    return res, d_t, d_a


def report_batched(label, elapsed, out, exact, d_t_exact, d_a_exact):
    res, d_t, d_a = out
    counts = bayesquad.quadrature.summarize_status(res.status.numpy())
    statuses = ", ".join(f"{n} {short(c)}" for c, n in counts.items())
    print(f"{label:<36}{elapsed:>7.3f}{np.abs(res.value.numpy() - exact).max():>11.1e}"
          f"{np.abs(d_t.numpy() - d_t_exact).max():>11.1e}{abs(float(d_a) - d_a_exact):>15.1e}"
          f"{int(res.n_evals.numpy().max()):>8}  {statuses}")


def batched_header():
    head = (f"{'call':<36}{'time s':>7}{'value err':>11}{'dI/dt err':>11}"
            f"{'d(sum)/da err':>15}{'n_evals':>8}  status")
    print(head)
    print("-" * len(head))


# Under XLA shapes are static, so the adaptive method's differentiable final pass covers
# its whole budget: a budget close to what the integrand needs (here 21 evaluations)
# keeps the compiled call fast.
BATCH_OPTIONS = dict(method="adaptive-gk", max_evals=210)


def batched_section():
    title("5. 1,000 integrals int_0^t_i exp(-a x) dx in one call, value + gradient")
    t_np, a_np, exact, d_t_exact, d_a_exact = batched_problem()
    t, a = tf.constant(t_np), tf.constant(a_np, tf.float64)
    print("f(x, a) receives x of shape [m, 1000]: one node column per upper limit. The tape")
    print("gives dI_i/dt_i (Leibniz: exp(-a t_i)) and d(sum_i I_i)/da in one backward pass.")
    batched_header()
    for label, options in (("eager, auto", dict(method="auto")),
                           ("eager, adaptive-gk, max_evals=210", BATCH_OPTIONS)):
        start = time.perf_counter()
        out = value_and_grad(t, a, options)
        report_batched(label, time.perf_counter() - start, out, exact, d_t_exact, d_a_exact)
    return t, a, out


def breakpoint_section():
    title("6. Gradient w.r.t. a breakpoint: int_0^2 exp(x) H(x - s) dx = e^2 - e^s, s = 0.7")
    s = tf.Variable(0.7, dtype=tf.float64)
    f = lambda x: tf.exp(x) * tf.cast(x > s, x.dtype)  # noqa: E731
    print(f"{'call':<30}{'value err':>11}{'dI/ds':>12}{'exact dI/ds':>13}")
    for label, points in (("auto", None), ("auto, points=[s]", "s")):
        with tf.GradientTape() as tape:
            res = bayesquad.integrate(f, 0.0, 2.0,
                                      points=tf.reshape(s, [1]) if points else None)
        grad = tape.gradient(res.value, s)
        grad = 0.0 if grad is None else float(grad)
        exact = math.exp(2.0) - math.exp(0.7)
        print(f"{label:<30}{abs(float(res.value) - exact):>11.1e}{grad:>12.6f}"
              f"{-math.exp(0.7):>13.6f}")
    print("Without points= the nodes do not move with s, so autodiff sees no dependence on")
    print("it; with points=[s] the range is split at s and the Leibniz term appears.")


def xla_section(t, a, eager_out):
    title("7. Section 5 under tf.function(jit_compile=True)")
    t_np, a_np, exact, d_t_exact, d_a_exact = batched_problem()
    compiled = tf.function(lambda t, a: value_and_grad(t, a, BATCH_OPTIONS), jit_compile=True)
    batched_header()
    start = time.perf_counter()
    out = compiled(t, a)
    out[0].value.numpy()
    report_batched("XLA, first call (traces, compiles)", time.perf_counter() - start, out,
                   exact, d_t_exact, d_a_exact)
    start = time.perf_counter()
    out = compiled(t, a)
    out[0].value.numpy()
    report_batched("XLA, second call", time.perf_counter() - start, out,
                   exact, d_t_exact, d_a_exact)
    diff = max(np.abs(out[0].value.numpy() - eager_out[0].value.numpy()).max(),
               np.abs(out[1].numpy() - eager_out[1].numpy()).max())
    print(f"largest difference from the eager result (values and dI/dt): {diff:.1e}")


def main():
    start = time.perf_counter()
    print("bayesquad.integrate tour; every error is measured against a closed form.")
    methods_section()
    infinite_section()
    singular_section()
    log_section()
    t, a, eager_out = batched_section()
    breakpoint_section()
    xla_section(t, a, eager_out)
    title("Status codes seen above")
    for code in sorted(SEEN):
        print(textwrap.fill(bayesquad.status_message(code), 88,
                            initial_indent=f"{bayesquad.Status(code).name.lower():<18}",
                            subsequent_indent=" " * 18))
    print(f"\nTour finished in {time.perf_counter() - start:.1f} s.")


if __name__ == "__main__":
    main()
