"""The one table of :func:`bayesquad.integrate`'s methods.

``METHODS`` maps a method's name to a :class:`Method`: the options it reads, the function
that runs it, a one-line summary, and whether :class:`bayesquad.quadrature.Adaptive`
offers it. Validation (``_validate.prepare``), dispatch (``_integrate.integrate``), the
``quadrature=`` choices (``_choice.Adaptive``) and the distributions' ``method=`` checks
(``distributions._common.quadrature_options``) all read this table and nothing else, so a
new method is a rule object (``_rules.py``) plus one entry here.

Rules are objects (``_rules.FixedRule``: nodes, weights and an error estimator on the unit
interval); a method is a way of spending a rule. :func:`fixed_method` applies it once,
composite over ``panels``; :func:`adaptive_method` hands it to the globally adaptive
driver (``_adaptive.adaptive``), which bisects wherever the rule's own error estimate is
largest. tanh-sinh and the Monte Carlo methods are their own algorithms and are entered
as plain runners.
"""
import collections

from bayesquad._tf import tf
from bayesquad.quadrature import _rules
from bayesquad.quadrature._adaptive import DEFAULT_BUDGET, adaptive
from bayesquad.quadrature._fixed import fixed_quadrature
from bayesquad.quadrature._montecarlo import monte_carlo
from bayesquad.quadrature._status import Status
from bayesquad.quadrature._tanhsinh import tanh_sinh

__all__ = ["DEFAULT_BUDGET", "METHODS", "Method", "OPTIONS", "adaptive_method",
           "fixed_method", "methods"]

#: Every method option of ``integrate`` (a method reads a subset, listed in its entry)
OPTIONS = ("nodes", "panels", "max_evals", "max_levels", "samples", "seed")

Method = collections.namedtuple("Method", ["options", "run", "summary", "choice"],
                                defaults=(False,))
Method.__doc__ = """One method of a quadrature entry point.

``options``: the option names it reads (any other given option is a ``ValueError``);
``run(problem, segments, opts, log, rtol, atol)`` returns an ``IntegrationResult``, with
``opts`` a dict of every name in ``OPTIONS`` (None where not given); ``summary``: one
line for messages and docs; ``choice``: offered by ``quadrature.Adaptive(method=...)``.
"""


def fixed_method(rule, default, summary, *, size="nodes", choice=False):
    """A :class:`Method` applying ``rule(n)`` once per segment.

    Parameters
    ----------
    rule : callable
        ``rule(n) -> _rules.FixedRule`` on the unit interval.
    default : int
        ``n`` when the option ``size`` is not given.
    summary : str
        One line describing the method.
    size : {"nodes", "panels"}
        The option that gives ``n``. ``"nodes"``: the rule is repeated over the option
        ``panels`` (default 1). ``"panels"``: the rule is itself composite (trapezoid,
        Simpson: ``n`` is its panel count) and applied once.
    choice : bool
        Offer it as ``quadrature.Adaptive(method=...)``.

    Notes
    -----
    The rule is built when the method runs, at trace time: rule constructors cache their
    tables, so the cost is paid once per size.
    """
    composite = size == "nodes"

    def run(problem, segments, opts, log, rtol, atol):
        n = opts[size] or default
        panels = (opts["panels"] or 1) if composite else 1
        return fixed_quadrature(problem, segments, rule(n), panels, log, rtol, atol)

    return Method(("nodes", "panels") if composite else ("panels",), run, summary, choice)


def adaptive_method(rule, default, summary, *, choice=False):
    """A :class:`Method` running the globally adaptive driver with ``rule(nodes)``.

    ``rule`` and ``default`` as in :func:`fixed_method` (``nodes`` gives ``n``); the
    method reads ``nodes`` and ``max_evals`` (default ``DEFAULT_BUDGET``).

    Notes
    -----
    The driver bisects intervals in the unit coordinate and trusts ``rule.estimate`` per
    interval, so the rule's estimate must be honest on a single panel (Gauss–Kronrod's
    QUADPACK estimate, Gauss–Legendre's Legendre tail).
    """
    def run(problem, segments, opts, log, rtol, atol):
        return adaptive(problem, segments, rule(opts["nodes"] or default), opts["max_evals"],
                        log, rtol, atol)

    return Method(("nodes", "max_evals"), run, summary, choice)


_GK_NODES = 21


def _auto(problem, segments, opts, log, rtol, atol):
    """Adaptive Gauss–Kronrod, then tanh-sinh for the elements it could not converge.

    Globally adaptive GK handles interior peaks, kinks and oscillation; tanh-sinh
    handles endpoint singularities (x^-0.9, log x) that bisection reaches only slowly.
    The second pass runs only when some element needs it.
    """
    rule = _rules.gauss_kronrod_rule(opts["nodes"] or _GK_NODES)
    first = adaptive(problem, segments, rule, opts["max_evals"], log, rtol, atol,
                     bailout=2.0**-10)
    converged = int(Status.CONVERGED)
    invalid = int(Status.INVALID_LIMITS)  # no other method can repair the inputs
    need = tf.reduce_any(tf.not_equal(first.status, converged) & tf.not_equal(first.status, invalid))

    def rescue():
        second = tanh_sinh(problem, segments, opts["max_levels"], log, rtol, atol,
                           skip_converged=False)
        better = tf.equal(second.status, converged) | (
            tf.not_equal(first.status, converged) & (second.error < first.error)
        )
        better &= tf.not_equal(first.status, invalid)
        pick = lambda a, b: tf.where(better, b, a)  # noqa: E731
        return (
            pick(first.value, second.value),
            pick(first.error, second.error),
            first.n_evals + second.n_evals,
            pick(first.status, second.status),
        )

    keep = lambda: tuple(first)  # noqa: E731
    return type(first)(*tf.cond(need, rescue, keep))


def _tanh_sinh(problem, segments, opts, log, rtol, atol):
    return tanh_sinh(problem, segments, opts["max_levels"], log, rtol, atol)


def _sampling(kind):
    def run(problem, segments, opts, log, rtol, atol):
        return monte_carlo(problem, segments, kind, opts["samples"], opts["seed"], log, rtol,
                           atol)
    return run


def methods(entry="integrate"):
    """The methods of :func:`bayesquad.integrate` or :func:`bayesquad.cubature` and the
    options each reads.

    Parameters
    ----------
    entry : {"integrate", "cubature"}
        Which entry point's method table to read.

    Returns
    -------
    dict
        Method name -> tuple of the option names it reads, in the table's order.

    Notes
    -----
    Read from the entry point's method table when called: it is what ``integrate`` and
    ``cubature`` validate and dispatch with, and what the distributions check their
    ``method=`` against, so the three can never disagree.
    """
    if entry == "integrate":
        table = METHODS
    elif entry == "cubature":
        # imported here: _cubature builds its table from this module's Method
        from bayesquad.quadrature._cubature import METHODS as table  # pylint: disable=import-outside-toplevel
    else:
        raise ValueError(f"entry={entry!r} must be 'integrate' or 'cubature'")
    return {name: spec.options for name, spec in table.items()}


# The order is the order of messages and of ``Adaptive``'s choices.
METHODS = {
    "auto": Method(("nodes", "max_evals", "max_levels"), _auto,
                   "adaptive Gauss-Kronrod, tanh-sinh for the elements it cannot converge",
                   choice=True),
    "trapezoid": fixed_method(_rules.trapezoid_rule, 256, "composite trapezoid rule",
                              size="panels"),
    "simpson": fixed_method(_rules.simpson_rule, 256, "composite Simpson rule",
                            size="panels"),
    "gauss-legendre": fixed_method(_rules.gauss_legendre_rule, 32,
                                   "composite Gauss-Legendre, Legendre-tail error"),
    "gauss-kronrod": fixed_method(_rules.gauss_kronrod_rule, _GK_NODES,
                                  "composite Gauss-Kronrod, Kronrod minus Gauss error",
                                  choice=True),
    "adaptive-gk": adaptive_method(_rules.gauss_kronrod_rule, _GK_NODES,
                                   "globally adaptive Gauss-Kronrod", choice=True),
    "tanh-sinh": Method(("max_levels",), _tanh_sinh,
                        "tanh-sinh (double exponential), endpoint power laws", choice=True),
    "monte-carlo": Method(("samples", "seed"), _sampling("monte-carlo"),
                          "plain Monte Carlo, standard error"),
    "qmc": Method(("samples", "seed"), _sampling("qmc"),
                  "randomly shifted Sobol points, standard error"),
}
