"""The unconstrained space the samplers see, as public functions for checks built on it.

Diagnostics that evaluate a model away from a fit (``bayesquad.diagnostics.prior_check``)
need what the samplers work with: the model as evaluated, how a flat unconstrained vector
``z`` maps to its variables (a layout), the log density with its gradient, the map
from constrained values to ``z``, and a MAP search.  These functions give exactly that and
no more; they are thin wrappers of the samplers' own code, so a check sees the same numbers
as a fit.
"""
from bayesquad.inference import _map, _model

__all__ = ["find_map_unconstrained", "unconstrain", "unconstrained_space",
           "value_and_grad_fn"]


def unconstrained_space(model, observed, *, seed=0, bijectors=None):
    """The model as the samplers evaluate it, its unconstrained layout and its data.

    Parameters
    ----------
    model : tfp.distributions.JointDistribution
    observed : dict
        Data for some of the model's variables, by name.
    seed : int
        Seeds the two random points used to test whether the model evaluates a batch of
        points in one call.
    bijectors : dict, optional
        ``{name: tfb.Bijector}`` replacing default constraining bijectors, as in
        :func:`bayesquad.inference.sample`.

    Returns
    -------
    working_model : tfp.distributions.JointDistribution
        ``model``, or for a ``JointDistribution*AutoBatched`` its copy without
        ``vectorized_map``; pass it (not ``model``) to the other functions here.
    layout : namedtuple
        How ``z`` (``[..., D]``) maps to the unobserved variables: ``names`` (in the order
        of ``z``), ``sizes`` (unconstrained elements per variable; ``D = sum(sizes)``),
        ``shapes`` (constrained event shapes), ``unconstrained_shapes``, ``dtype``,
        ``observed_names``.
    observed : dict of numpy arrays
        The data cast to the model's dtypes.

    Raises
    ------
    TypeError, ValueError
        ``observed`` is not a dict, names a variable the model lacks, holds infinities, or
        has a shape other than the model's distribution for that variable produces.
    """
    working = _model.working_model(model)
    layout, obs = _model.make_layout(working, observed, seed, bijectors)
    return working, layout, obs


def unconstrain(model, layout, observed, values):
    """Map constrained values (a dict by name, leading batch dims allowed) to ``z``.

    Parameters
    ----------
    model, layout, observed
        As returned by :func:`unconstrained_space`.
    values : dict
        A value for every name in ``layout.names``.

    Returns
    -------
    tf.Tensor
        ``[..., D]``.
    """
    return _model.unconstrain(model, layout, observed, values)


def value_and_grad_fn(model, layout, observed):
    """``f(z) -> (log p(z), d log p / dz)`` at unconstrained points ``z`` (tensor ``[..., D]``).

    The log density is the one NUTS samples: up to a constant, with the log-Jacobian of the
    constraining bijectors.  Not compiled (wrap it in ``tf.function`` as needed); the
    gradient is None when the log density does not depend on ``z``.

    Parameters
    ----------
    model, layout, observed
        As returned by :func:`unconstrained_space` (``observed`` may hold tensors).

    Returns
    -------
    callable
    """
    return _model.value_and_grad_fn(model, layout, observed)


def find_map_unconstrained(model, layout, observed, *, num_starts=4, seed=0, jit=False):
    """The MAP point in the unconstrained space and its Laplace covariance, without a DataTree.

    The search of :func:`bayesquad.inference.find_map`: scipy's L-BFGS-B from the origin and
    from ``num_starts - 1`` prior draws (seeded by ``seed``), the best proper mode kept.

    Parameters
    ----------
    model, layout, observed
        As returned by :func:`unconstrained_space`.
    num_starts : int
    seed : int
    jit : bool
        XLA-compile the log density and gradient.

    Returns
    -------
    z : numpy array [D]
    log_prob : float
    converged : bool
    cov : numpy array [D, D]
        All NaN when the Hessian is not positive definite.
    message : str
        How the search ended.
    """
    # pylint: disable-next=protected-access
    starts = _map._starts(model, layout, observed, int(num_starts), seed)
    z, lp, converged, _, _, cov, message = _map.map_unconstrained(
        model, layout, observed, starts=starts, jit=jit)
    return z, lp, converged, cov, message
