"""A tour of integrals over boxes: ``bayesquad.cubature`` and the box distributions.

Prints three tables, each against a closed form:

1. ``cubature`` on ``∫∫ exp(a x + b y)`` over [0, 2] x [0, 1] by each method: value,
   true error, reported error, evaluations, status;
2. its gradient with respect to ``a`` and to the box's upper x corner, against the
   closed form;
3. ``NormalizedBox`` and ``SpatialPoissonProcess`` with the same exponent: the log
   normaliser / expected count, and sampled event means against the exact ones.

Run: ``.venv/bin/python examples/quadrature_cubature.py`` (about 15 s).
"""
import math

import numpy as np

import bayesquad
import tensorflow as tf
from bayesquad.distributions import NormalizedBox, SpatialPoissonProcess

F64 = tf.float64
A, B = 0.8, -1.5
LOW, HIGH = tf.constant([0.0, 0.0], F64), tf.constant([2.0, 1.0], F64)


def tilted(x, a, b):
    return a * x[..., 0] + b * x[..., 1]


def exact_integral(a, b, hx=2.0):
    return math.expm1(a * hx) / a * math.expm1(b) / b


def methods_table():
    exact = exact_integral(A, B)
    print(f"{'method':<16}{'value':>20}{'true error':>13}{'reported':>13}{'evals':>9}  status")
    for method, options in (("gauss-legendre", {}), ("genz-malik", {}),
                            ("qmc", {"samples": 1 << 14}), ("auto", {})):
        res = bayesquad.cubature(lambda x: tf.exp(tilted(x, A, B)), LOW, HIGH, method=method,
                                 **options)
        print(f"{method:<16}{float(res.value):20.15f}{abs(float(res.value) - exact):13.2e}"
              f"{float(res.error):13.2e}{int(res.n_evals):9d}  "
              f"{bayesquad.Status(int(res.status)).name}")


def gradient_table():
    a, upper = tf.constant(A, F64), tf.constant([2.0, 1.0], F64)
    with tf.GradientTape() as tape:
        tape.watch([a, upper])
        value = bayesquad.cubature(lambda x, a: tf.exp(tilted(x, a, B)), LOW, upper,
                                   args=(a,), method="gauss-legendre").value
    d_a, d_upper = tape.gradient(value, [a, upper])
    # d/da: ∫∫ x e^{ax+by}; d/d(upper x): ∫_0^1 e^{2a + b y} dy
    exact_a = (2 * math.exp(2 * A) / A - math.expm1(2 * A) / A ** 2) * math.expm1(B) / B
    exact_ux = math.exp(2 * A) * math.expm1(B) / B
    print(f"{'derivative':<16}{'autodiff':>20}{'closed form':>20}")
    print(f"{'d/da':<16}{float(d_a):20.15f}{exact_a:20.15f}")
    print(f"{'d/d upper_x':<16}{float(d_upper[0]):20.15f}{exact_ux:20.15f}")


def distributions_table():
    params = {"a": tf.constant(A, F64), "b": tf.constant(B, F64)}
    box = NormalizedBox(tilted, LOW, HIGH, params=params)
    process = SpatialPoissonProcess(lambda x, a, b: 3.0 + tilted(x, a, b), LOW, HIGH,
                                    params=params)
    log_z = math.log(exact_integral(A, B))
    print(f"{'quantity':<28}{'bayesquad':>14}{'closed form':>14}")
    print(f"{'NormalizedBox log Z':<28}{float(box.log_normalizer()):14.10f}{log_z:14.10f}")
    print(f"{'SpatialPoissonProcess Λ':<28}{float(process.expected_count()):14.6f}"
          f"{math.exp(3.0 + log_z):14.6f}")
    draws = box.sample(20000, seed=(1, 2)).numpy()
    # marginal means of a truncated exponential density ∝ e^{r t} on [0, h]
    mean = lambda r, h: h * math.exp(r * h) / math.expm1(r * h) - 1 / r  # noqa: E731
    print(f"{'NormalizedBox mean x':<28}{draws[:, 0].mean():14.4f}{mean(A, 2.0):14.4f}")
    print(f"{'NormalizedBox mean y':<28}{draws[:, 1].mean():14.4f}{mean(B, 1.0):14.4f}")
    counts = np.sum(~np.isnan(process.sample(200, seed=(3, 4)).numpy()[..., 0]), -1)
    print(f"{'SpatialPoissonProcess mean n':<28}{counts.mean():14.2f}"
          f"{math.exp(3.0 + log_z):14.2f}")


if __name__ == "__main__":
    methods_table()
    print()
    gradient_table()
    print()
    distributions_table()
