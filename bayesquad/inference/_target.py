"""``Target``: a model and its observed data, built once -- the density fits and checks use."""
import numpy as np

from bayesquad._tf import tf
from bayesquad.inference import _model, _statuses

__all__ = ["Target", "as_target"]


class Target:
    """A model pinned to its observed data, in the unconstrained space the samplers see.

    Built once, it is what :func:`~bayesquad.inference.sample`, :func:`fit_vi`,
    :func:`find_map` and the diagnostics evaluate: the data are validated, the
    constraining bijectors chosen and the layout of the flat unconstrained vector fixed
    here, not again by every consumer.

    Parameters
    ----------
    model : tfp.distributions.JointDistribution
    observed : dict
        Data by variable name (NaN is padding for distributions that read it so).
    bijectors : dict, optional
        ``{name: tfb.Bijector}`` replacing a variable's default constraining bijector.
    seed : int
        Seeds the two random points used to test whether the model evaluates a batch of
        points in one call.

    Attributes
    ----------
    model : tfp.distributions.JointDistribution
        The model as given.
    observed : dict of numpy arrays
        The data, cast to the model's dtypes.
    names, shapes : tuple
        The unobserved variables (in the flat vector's order) and their constrained shapes.
    dim : int
        Length of the flat unconstrained vector.
    dtype : tf.DType

    Notes
    -----
    The layout is checked at one parameter point (``z = 0``): a model whose observed
    shapes depend on the parameters is unsupported. ``bijectors`` are kept by identity;
    a Target reloaded from disk (:func:`load_fit`) needs them passed again.
    """

    def __init__(self, model, observed, *, bijectors=None, seed=0):
        self.model = model
        self.bijectors = dict(bijectors or {})
        self._working = _model.working_model(model)
        self.layout, self.observed = _model.make_layout(self._working, observed, seed,
                                                        bijectors)
        self._observed_t = None

    # -- what the flat vector holds ------------------------------------------------------
    @property
    def names(self):
        return tuple(self.layout.names)

    @property
    def shapes(self):
        return tuple(self.layout.shapes)

    @property
    def dim(self):
        return int(sum(self.layout.sizes))

    @property
    def dtype(self):
        return self.layout.dtype

    @property
    def working_model(self):
        """The model evaluated (an AutoBatched JD without its internal vectorized_map)."""
        return self._working

    @property
    def observed_tensors(self):
        """The data as tensors (made once)."""
        if self._observed_t is None:
            self._observed_t = {k: tf.constant(v) for k, v in self.observed.items()}
        return self._observed_t

    def __repr__(self):
        vars_ = ", ".join(f"{n}{list(s)}" for n, s in zip(self.names, self.shapes))
        return (f"Target({getattr(self.model, 'name', type(self.model).__name__)}: "
                f"{vars_} | observed {sorted(self.observed)}, dim={self.dim})")

    # -- densities -----------------------------------------------------------------------
    def log_prob(self, z):
        """Log posterior density (up to a constant, log-Jacobian included) at ``z [..., D]``."""
        return _model.log_prob_fn(self._working, self.layout, self.observed_tensors)(z)

    def value_and_grad(self, z):
        """``(log p(z), d log p / dz)`` at unconstrained points ``z [..., D]``."""
        z = tf.convert_to_tensor(z, self.dtype)
        return _model.value_and_grad_fn(self._working, self.layout, self.observed_tensors)(z)

    def pointwise_log_likelihood(self, z):
        """``{observed name: log p(y_i | theta(z))}`` at one unconstrained point ``z [D]``."""
        fn = _model.pointwise_log_likelihood_fn(self._working, self.layout,
                                                self.observed_tensors)
        return fn(tf.convert_to_tensor(z, self.dtype))

    def quadrature_statuses(self, z):
        """int32 status codes ``[k]`` of every integral in the model at one point ``z [D]``
        (``bayesquad.Status``; ``k`` may be 0), found through wrappers and mixtures in
        each distribution's ``quadrature_status()``."""
        z = tf.convert_to_tensor(z, self.dtype)
        parts = _statuses.status_tensors(self._working, self.layout, self.observed_tensors, z)
        return tf.concat([tf.zeros([0], tf.int32)] + parts, 0)

    # -- spaces ----------------------------------------------------------------------------
    def constrain(self, z):
        """``{name: value}`` of the model's variables at unconstrained ``z [..., D]``."""
        values = _model.constrain(self._working, self.layout, self.observed_tensors, z)
        return dict(zip(self.names, tf.nest.flatten(values)))

    def unconstrain(self, values):
        """The flat unconstrained ``z [..., D]`` of ``{name: constrained value}``."""
        return _model.unconstrain(self._working, self.layout, self.observed_tensors, values)

    def prior_draws(self, n, seed=0):
        """``n`` unconstrained points ``[n, D]`` drawn from the prior (observed pinned)."""
        return _model.prior_draws(self._working, self.layout, self.observed, int(n), seed)

    def num_observations(self):
        """Observed scalars (the scale of the MAP objective)."""
        return _model.num_observations(self.observed)

    def describe_bijectors(self):
        """The chosen (non-default) bijectors in words: ``"tau: Exp; s: Sigmoid"`` or ``""``."""
        return _model.describe_bijectors(self.layout)


def as_target(model, observed, *, bijectors=None, seed=0):
    """``model`` if it is a :class:`Target` (then ``observed`` and ``bijectors`` must be
    None or the same), else ``Target(model, observed, ...)``."""
    if isinstance(model, Target):
        if observed is not None and observed is not model.observed:
            same = set(observed) == set(model.observed) and all(
                np.array_equal(np.asarray(observed[k]), model.observed[k], equal_nan=True)
                for k in observed)
            if not same:
                raise ValueError("model is a Target, which carries its own observed data; "
                                 "pass observed=None (or build a new Target for new data)")
        if bijectors and bijectors != model.bijectors:
            raise ValueError("model is a Target, which carries its own bijectors; pass "
                             "bijectors=None (or build a new Target)")
        return model
    if observed is None:
        raise TypeError("observed is required: pass the data as a dict {name: array}, or "
                        "pass a Target as model")
    return Target(model, observed, bijectors=bijectors, seed=seed)
