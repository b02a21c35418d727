"""Catalogue of one-dimensional integrals with exact values, for ``bayesquad.integrate``.

Every exact value is a closed form evaluated with Python/numpy/scipy.special, never the
code under test. Integrands are written in TF ops, take ``(x, *args)`` with the nodes on
the leading axis, and use only dtype-agnostic constants so that the float32 tests can
reuse them.

Tags decide which methods a problem is used with (see :func:`methods_for`):

``smooth``
    finite range, analytic on the closed interval and resolved by the generous fixed-rule
    settings in ``opts``: fixed rules (trapezoid, simpson, gauss-legendre, gauss-kronrod)
    and tanh-sinh apply.
``singular``
    integrable endpoint singularity (in the function or a derivative): tanh-sinh applies,
    fixed rules do not (they converge algebraically at best).
``peaked``, ``oscillatory``, ``periodic``, ``infinite``, ``reversed``, ``discontinuous``
    descriptive; only the adaptive methods are required to handle them.
``mc``
    smooth, finite, low variance: used for the monte-carlo/qmc statistical check.

``hard`` maps ``(method, rtol)`` to the reason a non-success status is acceptable for
that combination; ``"*"`` stands for every method. Honesty (never CONVERGED with a true
error above the reported one) is required everywhere, hard or not.
"""
import dataclasses
import math
from typing import Callable

import numpy as np
from scipy import special

import bayesquad  # noqa: F401  (quiet TF import)
import tensorflow as tf

FIXED_METHODS = ("trapezoid", "simpson", "gauss-legendre", "gauss-kronrod")
ADAPTIVE_METHODS = ("adaptive-gk", "auto")
INF = math.inf

# Generous fixed-rule settings: resolved for every "smooth" problem unless overridden.
FIXED_DEFAULTS = {
    "trapezoid": {"panels": 4096},
    "simpson": {"panels": 2048},
    "gauss-legendre": {"nodes": 32, "panels": 4},
    "gauss-kronrod": {"nodes": 61, "panels": 2},
}

_BISECTION_ALGEBRAIC = (
    "x^-0.9: GK21 bisection without extrapolation gains only a fixed factor 2^0.1 per "
    "level next to the singularity (a numpy prototype with |K-G| needs ~7,000 evaluations "
    "for 1e-6, ~12,600 for 1e-10), beyond the default budget (100 G10K21 intervals); "
    "auto's tanh-sinh fallback is what must converge"
)
_BISECTION_AT_NONZERO_END = (
    "next to a singular end other than 0, GK nodes are rounded to the float grid around the "
    "end (relative error eps/distance of the distance f sees) and bisection has no power "
    "law to correct them with: adaptive-gk alone stalls near 1e-8; auto hands the end to "
    "tanh-sinh, which corrects the nodes and must converge"
)


@dataclasses.dataclass(frozen=True)
class Problem:
    name: str
    f: Callable
    lower: float
    upper: float
    exact: float
    tags: frozenset
    args: tuple = ()
    points: tuple | None = None
    opts: dict = dataclasses.field(default_factory=dict)
    hard: dict = dataclasses.field(default_factory=dict)

    def kwargs(self, method):
        """Method options for this problem (fixed-rule defaults, then overrides)."""
        kw = dict(FIXED_DEFAULTS.get(method, {}))
        kw.update(self.opts.get(method, {}))
        if self.points is not None:
            kw["points"] = np.asarray(self.points, dtype=np.float64)
        return kw

    def hard_reason(self, method, rtol):
        """Why a non-success status is acceptable here, or None if it is not."""
        for key in ((method, rtol), ("*", rtol), (method, "*"), ("*", "*")):
            if key in self.hard:
                return self.hard[key]
        return None


def _p(name, f, lower, upper, exact, tags, **kw):
    return Problem(name, f, float(lower), float(upper), float(exact),
                   frozenset(tags.split()), **kw)


def _periodic_opts(periods):
    # Per panel a period or less: GL/GK then resolve exp(sin) to roundoff.
    return {"trapezoid": {"panels": 64 * periods}, "simpson": {"panels": 128 * periods},
            "gauss-legendre": {"nodes": 32, "panels": periods},
            "gauss-kronrod": {"nodes": 61, "panels": periods}}


_PEAK_C = 100.0 * (math.atan(70.0) + math.atan(30.0))

PROBLEMS = [
    # ---- smooth, finite ---------------------------------------------------------------
    _p("exp", lambda x: tf.exp(x), 0, 1, math.e - 1, "smooth mc"),
    _p("poly5", lambda x: x**5 - 2.0 * x**3 + x, -1, 2, 4.5, "smooth"),
    _p("inv_1px", lambda x: 1.0 / (1.0 + x), 0, 1, math.log(2.0), "smooth mc"),
    _p("cos", lambda x: tf.cos(x), 0, math.pi / 2, 1.0, "smooth mc"),
    _p("lorentz_0_1", lambda x: 1.0 / (1.0 + x * x), 0, 1, math.pi / 4, "smooth"),
    _p("gauss_0_1", lambda x: tf.exp(-x * x), 0, 1,
       math.sqrt(math.pi) / 2 * special.erf(1.0), "smooth mc"),
    _p("x_exp", lambda x: x * tf.exp(x), 0, 1, 1.0, "smooth"),
    _p("log1p", lambda x: tf.math.log1p(x), 0, 1, 2 * math.log(2.0) - 1, "smooth"),
    _p("x_log1p", lambda x: x * tf.math.log1p(x), 0, 1, 0.25, "smooth"),
    _p("x2_atan", lambda x: x * x * tf.atan(x), 0, 1,
       (math.pi - 2 + 2 * math.log(2.0)) / 12, "smooth"),
    _p("exp_cos", lambda x: tf.exp(x) * tf.cos(x), 0, math.pi / 2,
       (math.exp(math.pi / 2) - 1) / 2, "smooth"),
    _p("exp_arg", lambda x, k: tf.exp(-k * x), 0, 2, (1 - math.exp(-6.0)) / 3, "smooth",
       args=(3.0,)),
    # ---- reversed limits (sign flips) ----------------------------------------------------
    _p("exp_reversed", lambda x: tf.exp(x), 1, 0, -(math.e - 1), "smooth reversed"),
    _p("exp_neg_reversed_inf", lambda x: tf.exp(-x), INF, 0, -1.0, "infinite reversed"),
    # ---- peaked ----------------------------------------------------------------------
    _p("peak_lorentz", lambda x: 1.0 / (1e-4 + (x - 0.3) ** 2), 0, 1, _PEAK_C, "peaked"),
    _p("peak_near_0", lambda x: 1.0 / (1e-3 + x), 0, 1, math.log(1001.0), "peaked"),
    _p("peak_sech2", lambda x: 1.0 / tf.cosh(100.0 * (x - 0.4)) ** 2, 0, 1,
       (math.tanh(60.0) + math.tanh(40.0)) / 100, "peaked"),
    # Centred on the middle node of the first rule: a peak between all nodes of the first
    # rule is invisible to any method without points=, so this is the fair version.
    _p("gauss_tiny_width", lambda x: tf.exp(-0.5 * (x / 1e-3) ** 2), -1, 1,
       1e-3 * math.sqrt(2 * math.pi) * special.erf(1.0 / (1e-3 * math.sqrt(2))), "peaked"),
    # ---- oscillatory / periodic ---------------------------------------------------------
    _p("cos50", lambda x: tf.cos(50.0 * x), 0, 1, math.sin(50.0) / 50, "smooth oscillatory"),
    _p("x_sin30", lambda x: x * tf.sin(30.0 * x), 0, 2 * math.pi, -2 * math.pi / 30,
       "smooth oscillatory", opts={"gauss-legendre": {"nodes": 32, "panels": 16},
                                   "gauss-kronrod": {"nodes": 61, "panels": 8}}),
    _p("bessel_j0_100", lambda x: tf.cos(100.0 * tf.sin(x)), 0, math.pi,
       math.pi * special.j0(100.0), "smooth oscillatory",
       opts={"gauss-legendre": {"nodes": 32, "panels": 16},
             "gauss-kronrod": {"nodes": 61, "panels": 8}}),
    _p("inv_2p_sin", lambda x: 2.0 / (2.0 + tf.sin(10.0 * math.pi * x)), 0, 1,
       2 / math.sqrt(3.0), "smooth oscillatory periodic",
       opts={"gauss-legendre": {"nodes": 32, "panels": 10},
             "gauss-kronrod": {"nodes": 61, "panels": 10}}),
    # 40 periods of 24: the Bessel identity (1/T) int_0^T exp(sin(2 pi x/T)) = I0(1).
    _p("exp_sin_40_periods", lambda x: tf.exp(tf.sin(2 * math.pi * x / 24.0)), 0, 960,
       960 * special.i0(1.0), "smooth oscillatory periodic", opts=_periodic_opts(40)),
    _p("cos2_40_periods", lambda x: tf.cos(x) ** 2, 0, 80 * math.pi, 40 * math.pi,
       "smooth oscillatory periodic", opts=_periodic_opts(40)),
    # ---- endpoint singular -------------------------------------------------------------
    _p("sqrt", lambda x: tf.sqrt(x), 0, 1, 2 / 3, "singular"),
    _p("sqrt_1mx2", lambda x: tf.sqrt((1.0 - x) * (1.0 + x)), 0, 1, math.pi / 4, "singular"),
    _p("sqrt_log", lambda x: tf.sqrt(x) * tf.math.log(x), 0, 1, -4 / 9, "singular"),
    _p("log", lambda x: tf.math.log(x), 0, 1, -1.0, "singular"),
    _p("log_sq", lambda x: tf.math.log(x) ** 2, 0, 1, 2.0, "singular"),
    _p("inv_sqrt", lambda x: 1.0 / tf.sqrt(x), 0, 1, 2.0, "singular"),
    _p("x_pow_m0.9", lambda x: x ** -0.9, 0, 1, 10.0, "singular",
       hard={("adaptive-gk", "*"): _BISECTION_ALGEBRAIC}),
    # Singular at the upper limit 0, where floats are dense: as resolvable as inv_sqrt
    # (its mirror image), so nothing is excused here.
    _p("inv_sqrt_upper_at_0", lambda x: 1.0 / tf.sqrt(-x), -1, 0, 2.0, "singular"),
    # Singular at a limit other than 0, where float spacing hides the last 2e-8 of the
    # mass from the nodes (issue 10): tanh-sinh's power-law correction and tail recover it.
    _p("inv_sqrt_1mx", lambda x: 1.0 / tf.sqrt(1.0 - x), 0, 1, 2.0, "singular",
       hard={("adaptive-gk", 1e-10): _BISECTION_AT_NONZERO_END}),
    # sqrt(x)/sqrt(1-x^2), written with (1-x)(1+x): 1 - x*x would itself lose eps/(4u)
    # of relative accuracy at a distance u from 1 (its own rounding, ~1e-13 of the
    # integral, which no choice of nodes reveals; see test_upper_end_singularities).
    _p("sqrt_x_over_sqrt_1mx2", lambda x: tf.sqrt(x) / tf.sqrt((1.0 - x) * (1.0 + x)), 0, 1,
       special.beta(0.75, 0.5) / 2, "singular",
       hard={("adaptive-gk", 1e-10): _BISECTION_AT_NONZERO_END}),
    _p("one_mx_pow_m0.9", lambda x: (1.0 - x) ** -0.9, 0, 1, 10.0, "singular",
       hard={("adaptive-gk", "*"): _BISECTION_ALGEBRAIC}),
    _p("log_1mx", lambda x: tf.math.log(1.0 - x), 0, 1, -1.0, "singular"),
    _p("inv_sqrt_xm1_at_1", lambda x: 1.0 / tf.sqrt(x - 1.0), 1, 2, 2.0, "singular",
       hard={("adaptive-gk", 1e-10): _BISECTION_AT_NONZERO_END}),
    _p("inv_sqrt_both_ends", lambda x: 1.0 / tf.sqrt(x * (1.0 - x)), 0, 1, math.pi,
       "singular", hard={("adaptive-gk", 1e-10): _BISECTION_AT_NONZERO_END}),
    _p("inv_sqrt_at_point", lambda x: 1.0 / tf.sqrt(tf.abs(x - 0.5)), 0, 1,
       2 * math.sqrt(2.0), "singular", points=(0.5,),
       hard={("adaptive-gk", 1e-10): _BISECTION_AT_NONZERO_END}),
    # ---- infinite ranges ---------------------------------------------------------------
    _p("exp_neg_0_inf", lambda x: tf.exp(-x), 0, INF, 1.0, "infinite"),
    _p("exp_minf_0", lambda x: tf.exp(x), -INF, 0, 1.0, "infinite"),
    _p("x2_exp_neg", lambda x: x * x * tf.exp(-x), 0, INF, 2.0, "infinite"),
    _p("lorentz_line", lambda x: 1.0 / (1.0 + x * x), -INF, INF, math.pi, "infinite"),
    _p("lorentz_1_inf", lambda x: 1.0 / (1.0 + x * x), 1, INF, math.pi / 4, "infinite"),
    _p("exp_cos_0_inf", lambda x: tf.exp(-x) * tf.cos(x), 0, INF, 0.5,
       "infinite oscillatory"),
    _p("sech_line", lambda x: 1.0 / tf.cosh(x), -INF, INF, math.pi, "infinite"),
    _p("gauss_line", lambda x: tf.exp(-0.5 * x * x), -INF, INF, math.sqrt(2 * math.pi),
       "infinite"),
    _p("gauss_line_narrow", lambda x: tf.exp(-0.5 * (x / 0.01) ** 2), -INF, INF,
       0.01 * math.sqrt(2 * math.pi), "infinite peaked"),
    # A kink of high order inside the range, no breakpoint given: Legendre coefficients
    # decay algebraically (k^-9.5) yet fast enough at 16 nodes to pass for geometric on a
    # two-point look (the fixed rule once claimed 4e-12 for a true error of 1.5e-9).
    _p("abs_x_8p5", lambda x: tf.abs(x) ** 8.5, -1, 1, 2 / 9.5, "smooth",
       opts={"gauss-legendre": {"nodes": 16, "panels": 1}}),
    # ---- discontinuous / kinked, with the breakpoint given ------------------------------
    _p("step_points", lambda x: tf.where(x < 1.0 / 3.0, tf.ones_like(x), x * x), 0, 1,
       1 / 3 + (1 - 1 / 27) / 3, "discontinuous", points=(1.0 / 3.0,)),
    _p("kink_points", lambda x: tf.abs(x - 0.3), 0, 1, 0.29, "discontinuous",
       points=(0.3,)),
    _p("two_steps_points", lambda x: tf.where(x < 0.25, 2.0 * tf.ones_like(x),
                                              tf.where(x < 0.6, -tf.ones_like(x), tf.exp(x))),
       0, 1, 2 * 0.25 - 0.35 + (math.e - math.exp(0.6)), "discontinuous",
       points=(0.6, 0.25, 5.0)),  # unsorted, one outside the range: must be ignored
]

BY_NAME = {p.name: p for p in PROBLEMS}
assert len(BY_NAME) == len(PROBLEMS), "duplicate problem names"


def methods_for(problem):
    """Deterministic methods a problem is used with (see the module docstring)."""
    methods = list(ADAPTIVE_METHODS)
    if "smooth" in problem.tags:
        methods += list(FIXED_METHODS)
    if problem.tags & {"smooth", "singular"}:
        methods.append("tanh-sinh")
    return methods


def cases():
    """``(problem, method)`` pairs for the catalogue test."""
    return [(p, m) for p in PROBLEMS for m in methods_for(p)]
