"""Seed example 2: Monte Carlo integration and the gradient of a random estimate.

The seed integrates ``p0 sin(p1 x)`` over [0, 1] with 10,000 uniform points and
differentiates the sample mean. That works, and the gradient it gives is itself a
Monte Carlo estimate: on fixed points, d/dp mean_i f(x_i; p) = mean_i df/dp(x_i; p),
an unbiased estimate of the true gradient with standard error
std(df/dp) / sqrt(n), about 0.3% here. This script shows that with numbers (one run,
then 50 seeds), then the same integral with randomised QMC (Sobol points under random
shifts) and with deterministic quadrature, which is exact to rounding for 21 points.

Integral: I(p) = int_0^1 p0 sin(p1 x) dx = p0 (1 - cos p1) / p1, at p = (1, 2).

Run: ``.venv/bin/python examples/seed_monte_carlo.py`` (a few seconds).
"""
import numpy as np

import bayesquad
import tensorflow as tf  # after bayesquad: quiet import

from _seed_problem import P, closed_form, integrand  # noqa: E402

SAMPLES = 10_000
REPEATS = 50


def derivative_integrands(params):
    """df/dp0 and df/dp1: integrating these on the same points gives the gradient's SE."""
    return (lambda x: tf.sin(params[1] * x),
            lambda x: params[0] * x * tf.cos(params[1] * x))


def seed_monte_carlo(n_samples, params, seed):
    """The seed's estimator (with a stateless seed so the run is reproducible)."""
    x = tf.random.stateless_uniform([n_samples], [0, seed], dtype=tf.float64)
    return tf.reduce_mean(integrand(x, params))


def run(params, **kw):
    """Value, reported error, gradient, and the gradient's own error estimate."""
    with tf.GradientTape() as tape:
        res = bayesquad.integrate(lambda x: integrand(x, params), 0.0, 1.0, **kw)
    grad = tape.gradient(res.value, params).numpy()
    parts = [bayesquad.integrate(d, 0.0, 1.0, **kw) for d in derivative_integrands(params)]
    # The gradient is the same estimator applied to df/dp on the same points:
    same = max(abs(float(d.value) - g) for d, g in zip(parts, grad))
    assert same < 1e-12, f"gradient differs from the estimate of df/dp by {same}"
    grad_err = np.array([float(d.error) for d in parts])
    return res, grad, grad_err


def main():
    params = tf.Variable(P, dtype=tf.float64)
    exact, exact_grad = closed_form(P)
    print("Seed example 2: int_0^1 p0 sin(p1 x) dx at p = (1, 2)")
    print(f"closed form: value = {exact:.10f}   grad = [{exact_grad[0]:.10f}, "
          f"{exact_grad[1]:.10f}]\n")

    with tf.GradientTape() as tape:
        v = seed_monte_carlo(SAMPLES, params, seed=0)
    g = tape.gradient(v, params).numpy()
    print(f"The seed's own estimator ({SAMPLES} uniform points) under tf.GradientTape:")
    print(f"  value = {float(v):.10f}   grad = [{g[0]:.10f}, {g[1]:.10f}]"
          "   (random, but differentiable)\n")

    print("One run each; 'SE' is the method's reported standard error (quadrature: error")
    print("estimate). The gradient SE comes from integrating df/dp on the same points.")
    header = (f"{'method':<15}{'n_evals':>8}{'value err':>11}{'SE':>9}"
              f"{'grad p0 err':>13}{'SE':>9}{'grad p1 err':>13}{'SE':>9}")
    print(header)
    print("-" * len(header))
    configs = [("monte-carlo", dict(method="monte-carlo", samples=SAMPLES, seed=0)),
               ("qmc", dict(method="qmc", samples=SAMPLES, seed=0)),
               ("gauss-legendre", dict(method="gauss-legendre")),
               ("auto", dict(method="auto"))]
    for name, kw in configs:
        res, grad, grad_err = run(params, **kw)
        err = np.abs(grad - exact_grad)
        print(f"{name:<15}{int(res.n_evals):>8}{abs(float(res.value) - exact):>11.2e}"
              f"{float(res.error):>9.1e}{err[0]:>13.2e}{grad_err[0]:>9.1e}"
              f"{err[1]:>13.2e}{grad_err[1]:>9.1e}")

    print(f"\nUnbiased but noisy: the gradient over {REPEATS} seeds "
          f"({SAMPLES} samples each)")
    header = (f"{'method':<12}{'':>6}{'mean - exact':>14}{'SE of mean':>12}"
              f"{'std over seeds':>16}{'mean reported SE':>18}")
    print(header)
    print("-" * len(header))
    spreads = {}
    for method in ("monte-carlo", "qmc"):
        grads, ses = [], []
        for seed in range(REPEATS):
            _, grad, grad_err = run(params, method=method, samples=SAMPLES, seed=seed)
            grads.append(grad)
            ses.append(grad_err)
        grads, ses = np.array(grads), np.array(ses)
        spreads[method] = grads.std(axis=0, ddof=1)
        for k in range(2):
            spread = grads[:, k].std(ddof=1)
            print(f"{method if k == 0 else '':<12}{'dI/dp' + str(k):>6}"
                  f"{grads[:, k].mean() - exact_grad[k]:>14.2e}"
                  f"{spread / np.sqrt(REPEATS):>12.1e}{spread:>16.2e}{ses[:, k].mean():>18.2e}")
    gain = spreads["monte-carlo"] / spreads["qmc"]
    print("\nThe mean over seeds sits within a few 'SE of mean' of the closed form (no bias),")
    print("and the spread over seeds agrees with the reported standard error (a std from 50")
    print("seeds is itself uncertain by ~10%): the gradient of a Monte Carlo estimate is as")
    print(f"noisy as the estimate. QMC's gradient spread is {gain.min():.0f}-{gain.max():.0f}x "
          "smaller at the same cost;")
    print("deterministic quadrature reaches rounding level with 21 points.")


if __name__ == "__main__":
    main()
