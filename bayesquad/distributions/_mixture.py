"""``tfd.Mixture`` whose ``log_prob`` costs a vectorised ``logaddexp`` per component.

TFP's ``Mixture.log_prob`` stacks the components' weighted log-densities and takes one
``reduce_logsumexp`` per event: in float64 on a CPU, XLA computes that ``log`` one
element at a time, and on W1 (20,000 events, two components) it was half the gradient's
cost. This class folds the components with :func:`bayesquad._elementwise.logaddexp`
instead (same value to rounding, see tests/distributions/test_mixture.py); sampling, the
mean, the CDF and everything else are TFP's.
"""
from bayesquad import _elementwise
from bayesquad._tf import tf, tfp

__all__ = ["Mixture"]

tfd = tfp.distributions


class Mixture(tfd.Mixture):
    """A ``tfd.Mixture`` with a faster ``log_prob`` on CPU; same arguments, same values.

    Parameters
    ----------
    cat : tfd.Categorical
        Mixture weights, batch shape equal to the mixture's.
    components : list of tfd.Distribution
        The component distributions (any, including bayesquad's integral-defined ones).
    validate_args, allow_nan_stats, name
        As for ``tfd.Mixture``.

    Notes
    -----
    ``log_prob`` is ``log sum_k w_k p_k(x)`` folded pairwise with a float64/float32
    ``logaddexp`` that XLA vectorises (within 2-3 ulp per fold; ``-inf`` where every component is
    ``-inf``, NaN where any is NaN). For W1's two components the gradient of the whole log
    density costs about half of ``tfd.Mixture``'s (benchmarks/gradient_cost.py). In other
    dtypes each pair is folded with TF's ``reduce_logsumexp``.
    """

    def _log_prob(self, x):
        x = tf.convert_to_tensor(x, name="x")
        log_weights = tf.unstack(tf.math.log_softmax(self.cat.logits_parameter()),
                                 num=self.num_components, axis=-1)
        terms = [lw + d.log_prob(x) for lw, d in zip(log_weights, self.components)]
        return _elementwise.logsumexp_list(terms)
