"""The public entry point: validate, split into segments, dispatch through the method
table (``_methods.METHODS``)."""
import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature import _settings
from bayesquad.quadrature._methods import DEFAULT_BUDGET, METHODS
from bayesquad.quadrature._segments import build_segments
from bayesquad.quadrature._validate import prepare

__all__ = ["integrate"]


@tf.autograph.experimental.do_not_convert
def integrate(
    f,
    lower,
    upper,
    *,
    args=(),
    method="auto",
    rtol=None,
    atol=0.0,
    points=None,
    log=False,
    nodes=None,
    panels=None,
    max_evals=None,
    max_levels=None,
    samples=None,
    seed=None,
    dtype=None,
    complement=False,
):
    """Integrate ``f`` from ``lower`` to ``upper``, batched and differentiable.

    Parameters
    ----------
    f : callable
        ``f(x, *args)``; ``x`` has the nodes on the leading axis,
        ``x.shape == [m] + batch_shape``, and ``f`` returns that shape. With
        ``log=True`` it returns the log of a positive integrand.
    lower, upper : float or Tensor
        Limits, broadcast against each other and ``args``; may be ``±inf`` and may be
        reversed (the result changes sign; not allowed with ``log=True``).
    args : tuple of Tensor
        Extra arguments of ``f``; their shapes join the batch shape. Passed as given.
    method : str
        ``"auto"`` (default), ``"trapezoid"``, ``"simpson"``, ``"gauss-legendre"``,
        ``"gauss-kronrod"``, ``"adaptive-gk"``, ``"tanh-sinh"``, ``"monte-carlo"`` or
        ``"qmc"`` (the keys of the method table ``quadrature._methods.METHODS``).
    rtol, atol : float
        Convergence when ``error <= max(atol, rtol * |value|)``; ``rtol`` defaults to
        ``sqrt(eps)`` of the dtype. With ``log=True`` the test is
        ``error <= max(atol, rtol)`` on the log scale (a relative error of the integral).
    points : Tensor, optional
        Breakpoints on the trailing axis (``[k]`` or ``batch_shape + [k]``); the range is
        split there. Points outside the range are ignored.
    log : bool
        Integrate ``exp(f)`` and return the log of the integral, computed with
        log-sum-exp so it neither overflows nor underflows.
    nodes, panels, max_evals, max_levels, samples, seed
        Method options; see DEVELOPERS.md's table. ``seed`` is an int or a shape-[2]
        int tensor (stateless).
    dtype : tf.DType, optional
        Working dtype; by default that of float inputs, else float64.
    complement : bool
        Call ``f(x, xc, *args)`` where ``xc`` is the exact signed distance from the node
        to the nearer end of its segment: ``lo - x`` (<= 0) in the lower half,
        ``hi - x`` (>= 0) in the upper half, NaN where that end is infinite (as Stan's
        ``integrate_1d``). ``1 - x`` loses the distance to an upper limit 1 once it is
        below ~1e-16; ``xc`` keeps it, so ``tf.where(xc > 0, 1 / tf.sqrt(xc),
        1 / tf.sqrt(1 - x))`` is accurate at every node. With it, adaptive methods
        refine intervals until ``xc`` (not x) stops resolving them, so ``f`` must use
        ``xc`` wherever it is singular near an end.

    Returns
    -------
    IntegrationResult
        ``(value, error, n_evals, status)``, each with shape ``batch_shape``.

    Notes
    -----
    Error estimates are estimates: an integrand with a feature narrower than the rule's
    node spacing that no node touches (a narrow peak far from the nodes, say) can be
    missed entirely and reported as converged. Give such features' locations as
    ``points=``. Gauss–Legendre's estimate reads the decay of the interpolant's
    Legendre coefficients: for analytic integrands it overstates the error (10-1e4x is
    typical); for a kink inside a panel (``|x|^p`` on [-1, 1] with p = 1.5, 3, 4.5, at
    32-64 nodes) it was measured 2-8x below the true error. Give such a kink as
    ``points=`` or use ``"auto"``. The adaptive methods find their mesh without autodiff and then evaluate
    the integrand once more on the final nodes to carry gradients, so gradients are those
    of the final quadrature sum: accurate when the value is, and including the Leibniz
    terms for limits and breakpoints. ``monte-carlo`` and ``qmc`` report a standard
    error, which the true error exceeds about a third of the time.

    Near a finite limit other than 0 a node is rounded to the representable numbers
    around the limit, so ``f`` is evaluated at a slightly different distance from it than
    the rule intends (relative error ``eps/distance``). ``tanh-sinh`` (and ``auto``, which
    hands endpoint singularities to it) corrects each node by the power law the integrand
    follows at that end and adds the part of the integral too close to the end to resolve
    from the same power law; an end where no consistent power law is found gets an error
    estimate that covers the missing part, and status ``ROUNDOFF`` if that exceeds the
    tolerance. ``complement=True`` avoids the issue at its source.

    ``f`` is traced as written: inside ``tf.function`` it is not converted by AutoGraph,
    so it should use TF ops (``tf.where``) rather than Python ``if`` on tensors.
    """
    options = dict(nodes=nodes, panels=panels, max_evals=max_evals, max_levels=max_levels,
                   samples=samples, seed=seed)
    problem = prepare(f, lower, upper, args, points, method, rtol, atol, options, dtype,
                      complement)
    reference = _settings.current()
    if reference is not None:
        # The call's own rule options (e.g. nodes=32 for Gauss-Legendre) mean nothing to
        # the reference method; only the budget carries over, enlarged.
        method = "auto"
        rtol = reference.rtol
        atol = 0.0
        budget = int(max(max_evals or 0, DEFAULT_BUDGET) * reference.max_evals_factor)
        options.update(nodes=None, panels=None, max_levels=None, max_evals=budget)
    if rtol is None:
        rtol = float(np.sqrt(problem.eps))
    segments = build_segments(problem, log)
    return METHODS[method].run(problem, segments, options, log, rtol, atol)
