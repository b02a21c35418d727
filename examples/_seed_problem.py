"""The seed document's integral, shared by ``seed_trapezoid.py`` and ``seed_monte_carlo.py``.

I(p) = int_0^1 p0 sin(p1 x) dx = p0 (1 - cos p1) / p1, with its gradient in closed form.
"""
import numpy as np

import bayesquad  # noqa: F401  (silences TensorFlow's start-up logging)
import tensorflow as tf

P = np.array([1.0, 2.0])


def closed_form(p):
    p0, p1 = p
    value = p0 * (1.0 - np.cos(p1)) / p1
    grad = np.array([(1.0 - np.cos(p1)) / p1,
                     p0 * (np.sin(p1) / p1 - (1.0 - np.cos(p1)) / p1**2)])
    return value, grad


def integrand(x, params):
    return params[0] * tf.sin(params[1] * x)
