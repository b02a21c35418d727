"""How an integral is computed, said the same way to every distribution: ``quadrature=``.

Three objects, each a description (no state, no tensors), accepted by the ``quadrature=``
argument of every integral-defined distribution of :mod:`bayesquad.distributions`:

* :class:`bayesquad.quadrature.GaussLegendre` ``(nodes, panels=1)`` -- a composite
  Gauss–Legendre rule (one-dimensional integrals);
* :class:`Adaptive` ``(method="auto", rtol=..., atol=..., max_evals=..., max_levels=...)``
  -- :func:`bayesquad.integrate`'s adaptive methods, at a tolerance;
* :class:`GaussHermite` ``(nodes)`` -- adaptive Gauss–Hermite for a Gaussian latent
  variable (:class:`bayesquad.distributions.GaussianLatentMarginal`).

``quadrature=None`` (the default everywhere) leaves the choice to the fit: ``sample``
plans a frozen rule over the posterior region (:func:`bayesquad.inference.plan_quadrature`),
and outside a fit the distribution's default rule applies. A rule given here is never
re-planned; it is evaluated through :func:`bayesquad.integrate`, with its error estimate
and status, and the diagnostics' quadrature check compares it with a reference at
posterior draws.
"""
import numbers

from bayesquad.quadrature import _methods, _tables

__all__ = ["Adaptive", "GaussHermite", "ADAPTIVE_METHODS", "adaptive_methods"]


def adaptive_methods():
    """The methods of :func:`bayesquad.integrate` that :class:`Adaptive` offers: the
    entries of the method table marked ``choice`` (read when asked, so a method
    registered later is offered too)."""
    return tuple(name for name, spec in _methods.METHODS.items() if spec.choice)


#: The adaptive methods of :func:`bayesquad.integrate` (fixed rules are objects of their own)
ADAPTIVE_METHODS = adaptive_methods()


def _positive_int(name, value, top):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= top:
        raise ValueError(f"{name}={value!r} must be an integer in [1, {top}]")
    return int(value)


class Adaptive:
    """Adaptive integration by :func:`bayesquad.integrate` at a tolerance.

    Parameters
    ----------
    method : str
        ``"auto"`` (default: tanh-sinh where an end is singular or infinite, Gauss–Kronrod
        otherwise), ``"gauss-kronrod"``, ``"adaptive-gk"`` or ``"tanh-sinh"``.
    rtol, atol : float, optional
        Tolerances (``integrate``'s defaults when None).
    max_evals, max_levels : int, optional
        Budgets, for the methods that read them (``integrate`` refuses the others).

    Notes
    -----
    Every evaluation carries an error estimate and a status; the cost per integral varies
    with the parameters, which is what a frozen plan avoids inside a sampler (on W1 at the
    posterior mean 1.2×, on W4 ~130× the planned rule's cost per gradient).
    """

    def __init__(self, method="auto", *, rtol=None, atol=None, max_evals=None,
                 max_levels=None):
        choices = adaptive_methods()
        if method not in choices:
            raise ValueError(f"Adaptive(method={method!r}): choose one of {choices}; "
                             f"a fixed rule is GaussLegendre(nodes, panels)")
        for name, value in (("rtol", rtol), ("atol", atol)):
            if value is not None and not (isinstance(value, numbers.Real) and value >= 0):
                raise ValueError(f"Adaptive({name}={value!r}) must be a number >= 0")
        self.method, self.rtol, self.atol = method, rtol, atol
        self.max_evals = None if max_evals is None else _positive_int(
            "max_evals", max_evals, 1 << 30)
        self.max_levels = None if max_levels is None else _positive_int(
            "max_levels", max_levels, 64)

    def options(self):
        """Keyword arguments for :func:`bayesquad.integrate` (unset ones left out)."""
        out = {"method": self.method, "rtol": self.rtol, "atol": self.atol,
               "max_evals": self.max_evals, "max_levels": self.max_levels}
        return {k: v for k, v in out.items() if v is not None}

    def describe(self):
        opts = self.options()
        rest = ", ".join(f"{k}={v}" for k, v in opts.items() if k != "method")
        return f"adaptive {self.method}" + (f" ({rest})" if rest else "")

    def __eq__(self, other):
        return isinstance(other, Adaptive) and self.options() == other.options()

    def __hash__(self):
        return hash(("adaptive", tuple(sorted(self.options().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"Adaptive({args})"


class GaussHermite:
    """Adaptive Gauss–Hermite with ``nodes`` nodes per group, centred at each group's mode.

    Parameters
    ----------
    nodes : int
        Nodes per integral (1 to 1024).

    Notes
    -----
    Exact for a Gaussian integrand after centring and scaling; the error grows with the
    skewness of the integrand (see :class:`bayesquad.distributions.GaussianLatentMarginal`
    for measured errors against the node count).
    """

    def __init__(self, nodes):
        self.nodes = _positive_int("nodes", nodes, _tables.MAX_TABLE_NODES)

    def describe(self):
        return f"{self.nodes}-node adaptive Gauss–Hermite"

    def __eq__(self, other):
        return isinstance(other, GaussHermite) and self.nodes == other.nodes

    def __hash__(self):
        return hash(("gauss-hermite", self.nodes))

    def __repr__(self):
        return f"GaussHermite(nodes={self.nodes})"
