"""Assemble ArviZ DataTrees from numpy results, and the pieces every run records."""
import datetime
import importlib.metadata
import platform
import time

import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.inference import _model
from bayesquad.inference._cache import cached
from bayesquad.inference._graph_calls import graph_function

__all__ = ["build", "constrain_draws", "versions", "pointwise_log_likelihood"]


def versions():
    """Library versions for a run's attrs."""
    import bayesquad
    return {"bayesquad_version": bayesquad.__version__, "tensorflow_version": tf.__version__,
            "tensorflow_probability_version": tfp.__version__,
            "arviz_version": _installed_version("arviz"),
            "numpy_version": np.__version__, "python_version": platform.python_version()}


def _installed_version(name):
    # from the package metadata: importing ArviZ only for its version costs ~1 s of CPU
    # in every first fit
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _dims(name, shape, prefix=""):
    return [f"{prefix}{name}_dim_{k}" for k in range(len(shape))]


def _batched(model, layout, kind):
    """Compiled ``run(zs [B, D], obs)``: constrained values or pointwise log-likelihoods."""
    def build():
        def run(zs, obs):
            if kind == "constrain":
                fn = lambda z: tf.nest.flatten(_model.constrain(model, layout, obs, z))  # noqa
            else:
                fn = _model.pointwise_log_likelihood_fn(model, layout, obs)
            return tf.vectorized_map(fn, zs, fallback_to_while_loop=True)
        # Never XLA here: vectorized_map under jit_compile recompiles for each new input value.
        return graph_function(run, autograph=False, reduce_retracing=True)
    return cached(model, (kind, layout), build)


def _run_batches(run, flat, obs_t, batch):
    """Apply ``run`` to ``flat`` in equal batches (the last one padded: one trace only)."""
    total = flat.shape[0]
    batch = min(batch, total)
    out = []
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # pfor's internal retracing notice is not actionable here
    try:
        out = _run_all(run, flat, obs_t, batch, total)
    finally:
        logger.setLevel(level)
    return tf.nest.map_structure(lambda *xs: np.concatenate(xs, axis=0), *out)


def _run_all(run, flat, obs_t, batch, total):
    out = []
    for i in range(0, total, batch):
        piece = flat[i:i + batch]
        n = piece.shape[0]
        if n < batch:
            piece = np.concatenate([piece, np.repeat(piece[-1:], batch - n, axis=0)])
        res = run(tf.constant(piece), obs_t)
        out.append(tf.nest.map_structure(lambda t, n=n: t.numpy()[:n], res))
    return out


def constrain_draws(model, layout, obs, zs, batch=1024):
    """Map unconstrained draws ``[C, S, D]`` to ``{name: [C, S, *shape]}`` numpy arrays."""
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    c, s, d = zs.shape
    res = _run_batches(_batched(model, layout, "constrain"), zs.reshape(c * s, d), obs_t,
                       batch)
    return {name: res[k].reshape((c, s) + layout.shapes[k])
            for k, name in enumerate(layout.names)}


def pointwise_log_likelihood(model, layout, obs, zs, max_elements_per_batch=2 ** 22):
    """``{name: [C, S, *obs_dims]}`` pointwise log-likelihood for unconstrained draws.

    Draws are processed in batches so that at most ``max_elements_per_batch`` values are in
    memory at once inside TensorFlow (the result itself is a numpy array of full size: thin
    the draws before calling this for large data).
    """
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    c, s, d = zs.shape
    per_draw = max(1, sum(int(np.size(v)) for v in obs.values()))
    batch = int(max(1, min(c * s, max_elements_per_batch // per_draw)))
    res = _run_batches(_batched(model, layout, "loglik"), zs.reshape(c * s, d), obs_t,
                       batch)
    return {name: v.reshape((c, s) + v.shape[1:]) for name, v in res.items()}


def _group(variables, sample_dims, coords=None):
    """One group as ArviZ's ``from_dict`` lays it out: leading ``sample_dims``, then
    ``<name>_dim_<k>`` for each variable's own axes, integer coordinates ``0..n-1`` unless
    ``coords`` gives them."""
    import xarray as xr  # pylint: disable=import-outside-toplevel
    import bayesquad  # pylint: disable=import-outside-toplevel
    data_vars, sizes = {}, {}
    for name, value in variables.items():
        value = np.asarray(value)
        names = list(sample_dims) + _dims(name, value.shape[len(sample_dims):])
        data_vars[name] = (names, value)
        sizes.update(zip(names, value.shape))
    coordinates = {d: np.arange(n) for d, n in sizes.items()}
    coordinates.update({d: np.asarray(v) for d, v in (coords or {}).items() if d in sizes})
    attrs = {"created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
             "creation_library": "bayesquad", "creation_library_version": bayesquad.__version__,
             "creation_library_language": "Python", "sample_dims": list(sample_dims)}
    return xr.Dataset(data_vars, coords=coordinates, attrs=attrs)


def build(*, observed, posterior=None, sample_stats=None, log_likelihood=None,
          log_likelihood_draws=None, extra=None, attrs=None):
    """A DataTree with the standard groups; ``extra`` maps group name -> xarray.Dataset.

    ``log_likelihood_draws`` gives the posterior draw indices the log-likelihood was
    computed at, when thinned. The groups are laid out as ArviZ's ``from_dict`` lays them
    out (dims ``chain``, ``draw``, then ``<name>_dim_<k>``; integer coordinates) but built
    with xarray alone: importing ArviZ costs a first fit ~1 s of CPU, and it is needed
    only where its functions are used.
    """
    import xarray as xr  # pylint: disable=import-outside-toplevel
    attrs = {**versions(), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             **(attrs or {})}
    sample = ("chain", "draw")
    groups = {}
    if posterior:
        groups["posterior"] = _group(posterior, sample)
    if sample_stats:
        groups["sample_stats"] = _group(sample_stats, sample)
    groups["observed_data"] = _group(observed, ())
    if log_likelihood:
        coords = ({"draw": np.asarray(log_likelihood_draws)}
                  if log_likelihood_draws is not None else None)
        groups["log_likelihood"] = _group(log_likelihood, sample, coords)
    groups.update(extra or {})
    dt = xr.DataTree.from_dict({f"/{k}": v for k, v in groups.items()})
    dt.attrs.update(attrs)
    return dt
