"""Assemble ArviZ DataTrees from numpy results, and the pieces every run records."""
import platform
import time

import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.inference import _model
from bayesquad.inference._cache import cached

__all__ = ["build", "constrain_draws", "versions", "pointwise_log_likelihood"]


def versions():
    """Library versions for a run's attrs."""
    import arviz
    import bayesquad
    return {"bayesquad_version": bayesquad.__version__, "tensorflow_version": tf.__version__,
            "tensorflow_probability_version": tfp.__version__, "arviz_version": arviz.__version__,
            "numpy_version": np.__version__, "python_version": platform.python_version()}


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
        return tf.function(run, autograph=False, reduce_retracing=True)
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


def build(*, layout, observed, posterior=None, sample_stats=None, log_likelihood=None,
          log_likelihood_draws=None, extra=None, attrs=None):
    """A DataTree with the standard groups; ``extra`` maps group name -> xarray.Dataset.

    ``log_likelihood_draws`` gives the posterior draw indices the log-likelihood was
    computed at, when thinned.
    """
    import arviz as az
    attrs = {**versions(), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             **(attrs or {})}
    data, dims = {}, {}
    if posterior:
        data["posterior"] = posterior
        dims.update({n: _dims(n, np.shape(v)[2:]) for n, v in posterior.items()})
    if sample_stats:
        data["sample_stats"] = sample_stats
    data["observed_data"] = observed
    dims.update({n: _dims(n, np.shape(v)) for n, v in observed.items()})
    dt = az.from_dict(data, dims=dims)
    if log_likelihood:
        coords = {}
        if log_likelihood_draws is not None:
            coords["draw"] = np.asarray(log_likelihood_draws)
        ll_dims = {n: _dims(n, np.shape(v)[2:]) for n, v in log_likelihood.items()}
        ll = az.from_dict({"log_likelihood": log_likelihood}, dims=ll_dims, coords=coords)
        dt["log_likelihood"] = ll["log_likelihood"]
    for name, ds in (extra or {}).items():
        dt[name] = ds
    dt.attrs.update(attrs)
    return dt
