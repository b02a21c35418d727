"""Every integral-defined distribution answers ``quadrature_status(value=None)`` the same
way (``distributions._mixins.QuadratureStatusMixin``), so callers pass the value they
evaluate ``log_prob`` at and never inspect a signature."""
import numpy as np
import pytest

import bayesquad.distributions as bd
from bayesquad._tf import tf, tfp
from bayesquad.distributions._mixins import QuadratureStatusMixin
from bayesquad.quadrature import Status

tfd = tfp.distributions

#: wrappers that compute no integral themselves: their inner distributions report
NO_OWN_INTEGRAL = {"ExtendedUnbinned", "Mixture"}


def _classes():
    out = []
    for name in bd.__all__:
        cls = getattr(bd, name)
        if isinstance(cls, type) and issubclass(cls, tfd.Distribution):
            out.append(cls)
    return out


def test_every_integral_distribution_follows_the_protocol():
    classes = [c for c in _classes() if c.__name__ not in NO_OWN_INTEGRAL]
    assert len(classes) >= 7  # discovery works; a new class is checked automatically
    for cls in classes:
        assert issubclass(cls, QuadratureStatusMixin), cls.__name__
        # one public entry point, never overridden: the per-class part is _quadrature_status
        assert cls.quadrature_status is QuadratureStatusMixin.quadrature_status, cls.__name__
        assert cls._quadrature_status is not QuadratureStatusMixin._quadrature_status, (
            cls.__name__)


def _examples():
    f64 = lambda v: tf.constant(v, tf.float64)  # noqa: E731
    gauss = lambda x, mu: -0.5 * (x - mu) ** 2  # noqa: E731
    plane = lambda x, a: a + 0.0 * x[..., 0]  # noqa: E731
    ids = np.array([0, 0, 1, 1, 2])
    yield (bd.Normalized(gauss, -3.0, 3.0, params=dict(mu=f64([0.0, 0.5]))),
           f64([0.1, 0.2]), [2])
    yield (bd.PoissonProcess(gauss, -3.0, 3.0, params=dict(mu=f64(0.0))),
           f64([0.1, -1.0, np.nan]), [])
    yield (bd.NormalizedBox(plane, f64([0.0, 0.0]), f64([1.0, 2.0]), params=dict(a=f64(0.0))),
           f64([0.5, 0.5]), [])
    yield (bd.SpatialPoissonProcess(plane, f64([0.0, 0.0]), f64([1.0, 2.0]),
                                    params=dict(a=f64(1.0))), f64([[0.5, 0.5]]), [])
    yield (bd.Convolved(tfd.Exponential(f64(1.0)), tfd.Normal(f64(0.0), f64(0.5))),
           f64([0.3, 1.5, 2.0]), [3])
    yield (bd.SurvivalFromHazard(lambda t, lam: tf.math.log(lam) + 0.0 * t,
                                 params=dict(lam=f64([0.5, 1.0]))), f64([1.0, 2.0]), [2])
    yield (bd.GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=u), f64(1.0), ids,
                                     num_groups=3, num_nodes=8),
           tf.constant([0, 1, 1, 0, 1], tf.int32), [3])


@pytest.mark.parametrize("dist,value,shape", list(_examples()),
                         ids=lambda v: type(v).__name__ if isinstance(v, tfd.Distribution)
                         else "")
def test_status_with_the_value(dist, value, shape):
    status = dist.quadrature_status(value)
    assert status.dtype == tf.int32 and status.shape.as_list() == shape
    np.testing.assert_array_equal(status.numpy(), int(Status.CONVERGED))
    if dist.status_depends_on_value:
        with pytest.raises(ValueError, match="quadrature_status\\(value\\)"):
            dist.quadrature_status()
    else:  # the value is ignored: a normaliser's status is the same for every value
        np.testing.assert_array_equal(dist.quadrature_status().numpy(), status.numpy())
