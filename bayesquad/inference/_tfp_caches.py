"""Give a TFP joint distribution its static description without sampling the data.

TFP derives a ``JointDistributionCoroutine``'s names, dtypes and shapes
(``_get_static_distribution_attributes``) and the shapes behind its pinned default bijector
(``_get_single_sample_distributions``) by drawing one sample of every variable, the observed
ones included, and throwing the values away.  For an integral-defined density that draw is
inverse-CDF sampling: on W1 (20,000 events of a normalised mixture) it was 4-5 s of the
first fit, 1 s traced in a graph and 3 s eager, before any real work.

``prime`` runs the model once, eagerly, with the observed variables set to their data (so
only the unobserved variables are drawn, from their priors) and fills both caches from that
run.  Both are private TFP attributes, so the result is checked against TFP's own name
resolution and any mismatch or error restores the caches as they were: TFP then samples as
it always did, slower but the same.
"""
import numpy as np

from bayesquad._tf import tf, tfp

__all__ = ["prime"]

_STATIC = "_cached_static_attributes"


def prime(model, observed):
    """Fill ``model``'s static-attribute and single-sample caches from one run with the
    observed variables pinned to ``observed`` (a dict of numpy arrays by name).

    Returns True when the caches were filled, False when the model was left to TFP (another
    JointDistribution flavour, graph mode, a name mismatch, or any error on the way).
    """
    jd = tfp.distributions.JointDistributionCoroutine
    jd_module = tfp.distributions.joint_distribution
    if (not isinstance(model, jd) or not tf.executing_eagerly() or hasattr(model, _STATIC)
            or not hasattr(model, "_single_sample_distributions")):
        return False
    names, attributes, dists = [], [], []

    def run_one(dist, sample_shape, seed, value=None):
        # TFP's naming rule for coroutines: the explicit name, else var<index>
        explicit = jd_module.get_explicit_name_for_component(dist)
        name = explicit or f"var{len(names)}"
        if value is None and name in observed:
            value = tf.convert_to_tensor(np.asarray(observed[name]), dtype=dist.dtype)
        elif value is None:
            value = dist.sample(sample_shape, seed=seed)
        names.append(name)
        dists.append(dist)
        attributes.append(jd_module.StaticDistributionAttributes(
            batch_shape=dist.batch_shape, dtype=dist.dtype,
            experimental_shard_axis_names=dist.experimental_shard_axis_names,
            event_shape=dist.event_shape, name=explicit,
            reparameterization_type=dist.reparameterization_type))
        return jd_module.ValueWithTrace(value=value, traced=None)

    saved = dict(model._single_sample_distributions)  # pylint: disable=protected-access
    try:
        model._execute_model(seed=(0, 0), sample_and_trace_fn=run_one)  # pylint: disable=protected-access
        if not set(observed) <= set(names):
            return False
        setattr(model, _STATIC, jd_module.StaticDistributionAttributes(*zip(*attributes)))
        model._single_sample_distributions[-1] = tuple(dists)  # pylint: disable=protected-access
        if list(model._flat_resolve_names()) != names:  # pylint: disable=protected-access
            raise ValueError("names differ")
        return True
    except Exception:  # noqa: BLE001 -- any failure: leave the model to TFP's own path
        if hasattr(model, _STATIC):
            delattr(model, _STATIC)
        model._single_sample_distributions.clear()  # pylint: disable=protected-access
        model._single_sample_distributions.update(saved)  # pylint: disable=protected-access
        return False
