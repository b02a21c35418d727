"""The model as the samplers see it: one flat unconstrained vector per point.

Every inference routine works on ``z``, a ``[..., D]`` tensor in the unconstrained space of
the pinned model's default event-space bijector, so that step sizes, mass matrices,
optimisers and surrogates never see the model's structure.  ``Layout`` records how ``z``
maps back to the model's variables; the functions here are pure functions of
``(model, layout, observed)`` so that compiled callers can take ``observed`` as arguments.
"""
import collections
import hashlib
import math
import weakref

import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.distributions import plans as _plans
from bayesquad.inference import _tfp_caches
from tensorflow_probability.python.distributions import joint_distribution as _tfd_joint

__all__ = [
    "Layout",
    "chosen_bijectors",
    "constrain",
    "log_prob_fn",
    "make_layout",
    "pointwise_log_likelihood_fn",
    "prior_draws",
    "unconstrain",
    "value_and_grad_fn",
    "working_model",
]

Layout = collections.namedtuple(
    "Layout",
    [
        "names",  # unpinned variable names, in the pinned structure's flat order
        "shapes",  # constrained event shapes (tuples)
        "unconstrained_shapes",  # shapes after the inverse bijector
        "sizes",  # number of unconstrained elements per variable
        "dtype",  # the float dtype of every unpinned variable
        "observed_names",  # names of the pinned variables, in model order
        "batched",  # True: the model's log_prob accepts a leading batch of points
        "bijectors",  # ((name, tfb.Bijector), ...) chosen instead of the defaults, or ()
    ],
    defaults=((),),
)
Layout.__doc__ = """How a flat unconstrained vector maps to a model's variables.

``dim`` (``sum(sizes)``) is the dimension the samplers see.  ``batched`` records whether the
model evaluates a batch of points in one call (checked numerically once); otherwise the
log-density is vectorised over points with ``tf.vectorized_map``.
"""


_WORKING = weakref.WeakKeyDictionary()
_LAYOUTS = weakref.WeakKeyDictionary()
# {model: {layout digest: whether the log density at the origin computed a plannable
# integral}}, found by the layout's own evaluation there
_PLANNABLE = weakref.WeakKeyDictionary()


def working_model(model):
    """The model to evaluate: AutoBatched JDs without their internal ``vectorized_map``.

    A ``JointDistribution*AutoBatched`` evaluates through ``tf.vectorized_map`` by default;
    inside an XLA-compiled function that recompiles on every new input value (TF 2.21).
    Its copy with ``use_vectorized_map=False`` computes the same densities; whether it then
    accepts a batch of points is checked like any other model.  The copy is cached, so
    repeated fits reuse compiled functions.
    """
    if not model.parameters.get("use_vectorized_map", False):
        return model
    try:
        return _WORKING[model]
    except KeyError:
        pass
    except TypeError:
        return model.copy(use_vectorized_map=False)
    copy = model.copy(use_vectorized_map=False)
    _WORKING[model] = copy
    return copy


def _model_names(model):
    if not hasattr(model, "_flat_resolve_names"):
        raise TypeError(
            f"model must be a tfp JointDistribution (Coroutine, CoroutineAutoBatched, Named or "
            f"Sequential); got {type(model).__name__}")
    return list(model._flat_resolve_names())  # pylint: disable=protected-access


def _structure_names(model, pinned, observed_names):
    ev = pinned.event_shape
    if isinstance(ev, dict):
        return sorted(ev)  # tf.nest flattens dicts in sorted key order
    if hasattr(ev, "_fields"):
        return list(ev._fields)
    return [n for n in _model_names(model) if n not in observed_names]


def _pack(pinned, parts):
    return tf.nest.pack_sequence_as(pinned.dtype, list(parts))


def _by_name(model, structure):
    """A model-shaped structure (StructTuple, dict or list) as a dict keyed by name."""
    if isinstance(structure, dict):
        return dict(structure)
    return dict(zip(_model_names(model), tf.nest.flatten(structure)))


def _check_observed(model, observed):
    if not isinstance(observed, collections.abc.Mapping):
        raise TypeError(f"observed must be a dict mapping variable names to data; got "
                        f"{type(observed).__name__}")
    names = _model_names(model)
    unknown = [k for k in observed if k not in names]
    if unknown:
        raise ValueError(f"observed names {unknown} are not variables of the model; its "
                         f"variables are {names}")
    if len(observed) == len(names):
        raise ValueError("every variable of the model is observed: nothing is left to infer")
    if not observed:
        raise ValueError("observed is empty: pass the data, e.g. observed={'y': y}")
    dtypes = dict(zip(names, tf.nest.flatten(model.dtype)))
    out = {}
    for name in names:  # model order, so observed_names is deterministic
        if name not in observed:
            continue
        dtype = tf.as_dtype(dtypes[name]) if dtypes.get(name) is not None else tf.float64
        try:
            value = np.asarray(observed[name], dtype=dtype.as_numpy_dtype)
        except (TypeError, ValueError) as err:
            raise ValueError(f"observed['{name}'] cannot be converted to {dtype.name}: {err}") \
                from err
        # NaN is the padding of PoissonProcess/ExtendedUnbinned (realisations of different
        # lengths, bayesquad.pad_events); a distribution that does not accept it gives a
        # NaN log density, which the start of every fit reports. Infinities are no padding.
        if value.dtype.kind == "f" and np.any(np.isinf(value)):
            bad = int(np.count_nonzero(np.isinf(value)))
            raise ValueError(f"observed['{name}'] has {bad} infinite value(s); remove or "
                             f"impute them before fitting (NaN is read as padding)")
        out[name] = value
    return out


def make_layout(model, observed, seed=0, bijectors=None):
    """Validate ``observed`` against ``model`` and describe the unconstrained space.

    Parameters
    ----------
    model : tfp.distributions.JointDistribution
    observed : dict
        Data for some of the model's variables, by name.
    seed : int
        Seeds the two random points used to test whether the model batches.
    bijectors : dict, optional
        ``{name: tfb.Bijector}``: the constraining bijector of these unobserved variables
        instead of their distributions' default event-space bijectors (see
        :func:`chosen_bijectors`).

    Returns
    -------
    layout : Layout
    observed : dict of numpy arrays, cast to the model's dtypes.

    Raises
    ------
    ValueError
        Unknown names, non-finite data, or data whose shape differs from what the model's
        distribution for that variable produces at one parameter point.

    Notes
    -----
    The shape check evaluates the model's distributions at the point ``z = 0``; a model whose
    observed shapes depend on parameter values cannot be checked and is unsupported.
    """
    if isinstance(observed, collections.abc.Mapping):
        _tfp_caches.prime(model, observed)  # spares TFP a sample of the observed data
    obs = _check_observed(model, observed)
    chosen = chosen_bijectors(model, obs, bijectors)
    digest = _layout_digest(obs, chosen)
    try:
        known = _LAYOUTS.get(model, {}).get(digest)
    except TypeError:  # a model that cannot be weakly referenced: no memory
        known = None
    if known is not None:  # sample, planning and the checks ask for the same layout
        return known, obs
    layout, plannable = _describe(model, obs, seed, chosen)
    try:
        _LAYOUTS.setdefault(model, {})[digest] = layout
        _PLANNABLE.setdefault(model, {})[digest] = plannable
    except TypeError:
        pass
    return layout, obs


def _layout_digest(obs, chosen):
    # bijectors by identity: two equal-looking objects may hold different parameters
    return (data_digest(obs), tuple((n, id(b)) for n, b in chosen))


def has_plannable_integrals(model, obs, bijectors=None):
    """Whether ``model``'s log density computed a plannable integral when its layout for
    ``obs`` (validated, as :func:`make_layout` returns it) was made; None if unknown.

    Quadrature planning asks first: a model without such integrals (most standard
    posteriors) then skips its evaluations at the planning points (0.3-0.5 s of eager
    work in a first fit of a 3-parameter model).
    """
    try:
        return _PLANNABLE.get(model, {}).get(
            _layout_digest(obs, chosen_bijectors(model, obs, bijectors)))
    except TypeError:
        return None


def data_digest(obs):
    """A digest of observed data (names, dtypes, shapes and bytes)."""
    h = hashlib.sha1()
    for k in sorted(obs):
        v = np.ascontiguousarray(obs[k])
        h.update(k.encode())
        h.update(str((v.dtype, v.shape)).encode())
        h.update(v.tobytes())
    return h.hexdigest()


def chosen_bijectors(model, obs, bijectors):
    """Validate a ``{name: tfb.Bijector}`` choice; return it as sorted ``(name, bijector)``.

    The bijector maps the unconstrained reals onto the variable's support, replacing the
    distribution's default (e.g. ``tfb.Exp()`` instead of ``tfb.Softplus()`` for a scale);
    it must keep the variable's event rank. Later variables see the value it produces.
    """
    if not bijectors:
        return ()
    if not isinstance(bijectors, collections.abc.Mapping):
        raise TypeError(f"bijectors must be a dict {{variable name: tfb.Bijector}}, got "
                        f"{type(bijectors).__name__}")
    names = _model_names(model)
    free = [n for n in names if n not in obs]
    for name, bij in bijectors.items():
        if name not in names:
            raise ValueError(f"bijectors names {name!r}, which is not a variable of the "
                             f"model; its unobserved variables are {free}")
        if name in obs:
            raise ValueError(f"bijectors names {name!r}, which is observed: only unobserved "
                             f"variables ({free}) are transformed")
        if not isinstance(bij, tfp.bijectors.Bijector):
            raise TypeError(f"bijectors[{name!r}] must be a tfp.bijectors.Bijector (e.g. "
                            f"tfb.Exp()), got {type(bij).__name__}")
    return tuple(sorted(bijectors.items(), key=lambda kv: kv[0]))


class _JointBijector(_tfd_joint._DefaultJointBijector):  # pylint: disable=protected-access
    """The pinned model's default event-space bijector with some parts' bijectors chosen.

    TFP's joint bijector walks the model part by part, each part's bijector taken from its
    distribution given the constrained values before it; this one walks the same way and
    uses a chosen bijector where one is given, so later parts see the chosen transform's
    values (a ``Uniform(0, a)`` after a chosen ``a`` gets the right support).
    """

    def __init__(self, pinned, chosen, names):
        # one entry per unpinned part in the model's own (flatten) order
        self._chosen = tuple(chosen)
        super().__init__(pinned)
        ranks = pinned._model_flatten(pinned.event_shape)  # pylint: disable=protected-access
        for name, mine, default, shape in zip(names, self._chosen, self.bijectors, ranks):
            rank = tf.TensorShape(shape).rank
            if mine is not None and rank is not None and (
                    mine.inverse_event_ndims(rank) != default.inverse_event_ndims(rank)):
                raise ValueError(
                    f"bijectors[{name!r}] changes the event rank of {name!r} (its default "
                    f"{type(default).__name__} keeps {default.inverse_event_ndims(rank)} "
                    f"unconstrained dimensions, {type(mine).__name__} "
                    f"{mine.inverse_event_ndims(rank)}); choose a bijector of the same rank")

    def _conditioned_bijectors(self, samples, constrained=False):
        if samples is None:
            return tuple(c if c is not None else b for c, b in zip(self._chosen, self.bijectors))
        out = []
        gen = self._jd._model_coroutine()  # pylint: disable=protected-access
        cond = None
        values = self._jd._model_flatten(samples)  # pylint: disable=protected-access
        for value, chosen in zip(values, self._chosen):
            d = gen.send(cond)
            dist = d.distribution if type(d).__name__ == "Root" else d
            bij = chosen
            if bij is None:
                bij = (dist.experimental_default_event_space_bijector()
                       or tfp.bijectors.Identity())
            out.append(bij)
            cond = value if constrained else bij.forward(value)
        return out


def describe_bijectors(layout):
    """The chosen bijectors in words for attrs: ``"tau: Exp; s: Sigmoid"``, or ``""``."""
    return "; ".join(f"{n}: {type(b).__name__}" for n, b in layout.bijectors)


def _describe(model, obs, seed, chosen=()):
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    pinned, bij = _pinned(model, obs_t, chosen)
    names = _structure_names(model, pinned, obs)
    ev = tf.nest.flatten(pinned.event_shape)
    uev = tf.nest.flatten(bij.inverse_event_shape(pinned.event_shape))
    dtypes = {tf.as_dtype(d) for d in tf.nest.flatten(pinned.dtype)}
    if len(dtypes) != 1 or not list(dtypes)[0].is_floating:
        raise ValueError(f"all unobserved variables must share one float dtype (float64 or "
                         f"float32); got {sorted(d.name for d in dtypes)}")
    dtype = dtypes.pop()
    shapes = [tuple(s.as_list()) for s in ev]
    ushapes = [tuple(s.as_list()) for s in uev]
    layout = Layout(names=tuple(names), shapes=tuple(shapes), unconstrained_shapes=tuple(ushapes),
                    sizes=tuple(int(np.prod(s, dtype=int)) for s in ushapes), dtype=dtype,
                    observed_names=tuple(obs), batched=False, bijectors=tuple(chosen))
    dim = sum(layout.sizes)
    # Shape check at one point: the data must have the shape the model would generate.
    zero = tf.zeros([dim], dtype)
    values = dict(zip(names, tf.nest.flatten(constrain(model, layout, obs_t, zero))))
    values.update(obs_t)
    dists, _ = model.sample_distributions(seed=(0, 0), **values)
    dists = _by_name(model, dists)
    for name, value in obs.items():
        d = dists[name]
        want = tuple(d.batch_shape.as_list()) + tuple(d.event_shape.as_list())
        if tuple(value.shape) != want:
            if hasattr(d, "max_events"):
                # a point process holds its events on one padded axis: its event shape is
                # the buffer length, not a number of i.i.d. draws
                # events on a box are [max_events, d]: the event axis is the one before
                event_axis = -len(d.event_shape.as_list() or [0])
                fix = (f"for a {type(d).__name__}, pass max_events={value.shape[event_axis]} (the "
                       f"length of the observed event axis; pad realisations of different "
                       f"lengths with NaN, bayesquad.distributions.pad_events) — not tfd.Sample")
            else:
                fix = ("e.g. tfd.Sample(dist, n) for n i.i.d. events, or tfd.Independent(dist, "
                       "1) to sum a batch of n observations into one variable")
            raise ValueError(
                f"observed['{name}'] has shape {tuple(value.shape)} but the model's distribution "
                f"for '{name}' produces shape {want}; pass data of that shape or change the model "
                f"({fix})")
    with _plans.recording() as recorded:
        lp = log_prob_fn(model, layout, obs_t)(zero)
    if lp.shape.rank != 0:
        raise ValueError(
            f"the model's log-density at one point has shape {lp.shape.as_list()}, not a scalar: "
            f"wrap observed variables in tfd.Independent or tfd.Sample so the model sums over "
            f"events, or use JointDistributionCoroutineAutoBatched")
    return layout._replace(batched=_batches(model, layout, obs_t, seed, lp)), bool(recorded)


def _batches(model, layout, obs_t, seed, lp_at_zero):
    """Whether log_prob of a [2, D] batch (the origin, where the caller evaluated it
    already, and a random point) equals the two single evaluations."""
    dim = sum(layout.sizes)
    point = tf.random.stateless_normal([dim], seed=[seed, 7], dtype=layout.dtype) * 0.3
    z = tf.stack([tf.zeros([dim], layout.dtype), point])
    try:
        together = _log_prob_batched(model, layout, obs_t, z)
    except Exception:  # noqa: BLE001 -- any failure means "does not batch"
        return False
    apart = tf.stack([lp_at_zero, log_prob_fn(model, layout, obs_t)(point)])
    if together.shape != apart.shape:
        return False
    a, b = together.numpy(), apart.numpy()
    if not np.all(np.isfinite(b)):
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a, b, rtol=1e-6 if layout.dtype == tf.float64 else 1e-4, atol=1e-8))


def _split(layout, z):
    batch = tf.shape(z)[:-1]
    parts = tf.split(z, list(layout.sizes), axis=-1)
    return [tf.reshape(p, tf.concat([batch, tf.constant(s, tf.int32)], 0))
            for p, s in zip(parts, layout.unconstrained_shapes)]


def _pinned(model, obs, chosen=()):
    """The model pinned to ``obs`` and its constraining bijector (defaults or ``chosen``)."""
    pinned = model.experimental_pin(**obs)
    if not chosen:
        return pinned, pinned.experimental_default_event_space_bijector()
    by_name = dict(chosen)
    order = [n for n in _model_names(model) if n not in obs]
    return pinned, _JointBijector(pinned, [by_name.get(n) for n in order], order)


def _log_prob_batched(model, layout, obs, z):
    pinned, bij = _pinned(model, obs, layout.bijectors)
    parts = _pack(pinned, _split(layout, z))
    return pinned.unnormalized_log_prob(bij.forward(parts)) + bij.forward_log_det_jacobian(parts)


def log_prob_fn(model, layout, obs):
    """Return ``f(z)``: the log posterior density (up to a constant) of unconstrained ``z``.

    ``z`` has shape ``[..., D]``; the result has shape ``[...]``.  It includes the
    log-Jacobian of the constraining bijector, so it is the density NUTS should sample.
    Models that do not batch are vectorised over the leading dimensions.
    """
    def single(zz):
        return _log_prob_batched(model, layout, obs, zz)

    def f(z):
        z = tf.convert_to_tensor(z, layout.dtype)
        if z.shape.rank == 1 or layout.batched:
            return single(z)
        flat = tf.reshape(z, [-1, z.shape[-1]])
        # map_fn, not vectorized_map: pfor inside an XLA function recompiles for every new
        # input value (TF 2.21), which made each compiled chunk cost a full compile.
        out = tf.map_fn(single, flat, fn_output_signature=layout.dtype)
        return tf.reshape(out, tf.shape(z)[:-1])
    return f


def value_and_grad_fn(model, layout, obs):
    """Return ``f(z) -> (log p(z), d log p / dz)`` for unconstrained points ``[..., D]``.

    Not compiled: callers choose ``tf.function``/XLA and caching.  The gradient is None
    when the log density does not depend on ``z``.
    """
    log_prob = log_prob_fn(model, layout, obs)

    def value_and_grad(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            lp = log_prob(z)
        return lp, tape.gradient(lp, z)
    return value_and_grad


def constrain(model, layout, obs, z):
    """Map unconstrained ``z`` (``[..., D]``) to the pinned model's structure of values."""
    pinned, bij = _pinned(model, obs, layout.bijectors)
    return bij.forward(_pack(pinned, _split(layout, tf.convert_to_tensor(z, layout.dtype))))


def unconstrain(model, layout, obs, values):
    """Map a dict ``name -> constrained value`` (leading batch dims allowed) to ``z``."""
    pinned, bij = _pinned(model, obs, layout.bijectors)
    missing = [n for n in layout.names if n not in values]
    if missing:
        raise ValueError(f"init dict lacks values for {missing}; give every unobserved variable")
    parts = [tf.convert_to_tensor(values[n], layout.dtype) for n in layout.names]
    u = tf.nest.flatten(bij.inverse(_pack(pinned, parts)))
    flat = []
    for p, s in zip(u, layout.unconstrained_shapes):
        batch = tf.shape(p)[:tf.rank(p) - len(s)]
        flat.append(tf.reshape(p, tf.concat([batch, [int(np.prod(s, dtype=int))]], 0)))
    return tf.concat(flat, axis=-1)


def prior_draws(model, layout, obs, n, seed):
    """``n`` unconstrained points drawn from the prior, one model sample at a time.

    Notes
    -----
    Drawing one point per call avoids relying on the model batching; it needs every
    unobserved variable's distribution to implement ``sample``.  The observed variables are
    pinned to their data rather than drawn: drawing them can cost seconds (inverse-CDF
    sampling of 20,000 events) and their values are not used.
    """
    zs = []
    pinned = {k: tf.constant(v) for k, v in obs.items()}
    for i in range(n):
        s = model.sample(seed=tfp.random.split_seed((seed, 11), n=n)[i], **pinned)
        vals = _by_name(model, s)
        zs.append(unconstrain(model, layout, obs, {k: vals[k] for k in layout.names}))
    return tf.stack(zs)


def _wrapper_types():
    # JDs rebuild tfd.Sample/tfd.Independent as their non-composite bases (_Sample,
    # _Independent), which the public classes subclass: test against the bases.
    from tensorflow_probability.python.distributions import independent, sample
    return (getattr(independent, "_Independent", tfp.distributions.Independent),
            getattr(sample, "_Sample", tfp.distributions.Sample))


_WRAPPERS = _wrapper_types()


def _innermost(dist):
    """Unwrap Independent/Sample so log_prob is per observation.

    The unit of a pointwise log-likelihood is one element of the innermost distribution's
    batch (one row for a multivariate innermost distribution).
    """
    while isinstance(dist, _WRAPPERS):
        dist = dist.distribution
    return dist


def pointwise_log_likelihood_fn(model, layout, obs):
    """Return ``f(z) -> {name: log p(y_i | theta(z))}`` for one unconstrained point ``z``.

    Each value has the shape of the observed variable with the innermost distribution's
    event dims removed.  The observed variable's distribution is rebuilt from the draw with
    ``sample_distributions(value=...)``, then unwrapped through ``Independent`` and
    ``Sample`` wrappers; its ``log_prob`` is taken elementwise.

    Notes
    -----
    Assumes the observations are conditionally independent given the parameters and that the
    pointwise terms sum to the variable's log-likelihood; this is checked per call against the
    wrapped distribution's ``log_prob`` only in tests.  A ``tfd.Sample`` whose base has
    batch dims broadcast against the sample dims is handled by ``log_prob`` broadcasting.
    """
    def f(z):
        values = dict(zip(layout.names, tf.nest.flatten(constrain(model, layout, obs, z))))
        values.update(obs)
        dists, _ = model.sample_distributions(seed=(0, 0), **values)
        by_name = _by_name(model, dists)
        out = {}
        for name in layout.observed_names:
            y = obs[name]
            inner = _innermost(by_name[name])
            lp = inner.log_prob(y)
            rank = y.shape.rank - inner.event_shape.rank
            out[name] = tf.broadcast_to(lp, y.shape[:rank]) if lp.shape.rank < rank else lp
        return out
    return f


def num_observations(obs):
    """Total number of observed scalars (scales the MAP objective)."""
    return max(1, sum(math.prod(np.shape(v)) for v in obs.values()))
