"""``diagnostics.prior_check`` as a library function (``bayesquad check`` prints its report;
tests/test_cli.py covers the report's wording), and the public helpers of the unconstrained
space it is built on."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import cli_models  # noqa: E402

from bayesquad.diagnostics import PriorCheck, prior_check  # noqa: E402
from bayesquad.model_file import InputError, load_model_file  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return cli_models.write_all(str(tmp_path_factory.mktemp("prior_check_models")))


def _model(files, name, data="normal.npz"):
    module = load_model_file(files[name])
    arrays = dict(np.load(files[data]))
    return module.build(arrays), module.observed(arrays)


def test_a_clean_model_passes_and_the_result_holds_the_numbers(files):
    model, observed = _model(files, "normal.py")
    echoed = []
    result = prior_check(model, observed, draws=6, seed=3, cost=False, echo=echoed.append)
    assert isinstance(result, PriorCheck)
    assert result.passed and result.problems == [] and result.advice == ""
    assert echoed == result.lines and str(result) == "\n".join(result.lines)
    assert result.lines[-1].startswith("check: PASSED")
    assert result.names == ("mu", "sigma") and result.dim == 2
    assert result.unconstrained.shape == (6, 2) and result.gradient.shape == (6, 2)
    assert np.all(np.isfinite(result.log_density)) and result.errors == [None] * 6
    assert [sorted(d) for d in result.draws] == [["mu", "sigma"]] * 6
    assert all(d["sigma"] > 0 for d in result.draws)
    assert result.statuses.shape == (6, 0)  # no integral in this model
    assert result.cost is None and result.posterior.z_map.shape == (2,)


def test_non_finite_log_densities_fail_with_the_draws_named(files):
    """sigma ~ Normal(1, 1): negative prior draws make log N(y | mu, sigma) NaN."""
    model, observed = _model(files, "negative_scale.py")
    result = prior_check(model, observed, draws=20, seed=1, cost=False)
    assert not result.passed and result.problems
    bad = [i for i, d in enumerate(result.draws) if d["sigma"] < 0]
    assert bad and np.all(np.isnan(result.log_density[bad]))
    assert {where for where, _ in result.problems} == {f"draw {i:>2}" for i in bad}
    assert "non-finite values at prior draws" in result.advice


def test_data_that_do_not_fit_the_model_is_a_value_error(files):
    model, _ = _model(files, "normal.py")
    with pytest.raises(ValueError, match="not variables of the model"):
        prior_check(model, {"z": np.zeros(3)}, draws=2, cost=False)


def test_load_model_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def build(data:\n")
    with pytest.raises(InputError, match="line 1: syntax error"):
        load_model_file(str(bad))


def test_target_agrees_with_find_map(files):
    import tensorflow as tf

    from bayesquad.inference import Target, find_map
    model, observed = _model(files, "normal.py")
    target = Target(model, observed, seed=0)
    assert target.names == ("mu", "sigma") and target.dim == 2
    found = find_map(target, seed=0, laplace_draws=0)
    reference = find_map(model, observed, seed=0, laplace_draws=0)
    np.testing.assert_array_equal(found.unconstrained, reference.unconstrained)
    np.testing.assert_array_equal(found.covariance, reference.covariance)
    assert found.converged and found.log_prob == reference.log_prob
    z = found.unconstrained
    # unconstrain is the inverse of the MAP's constrained values, and the gradient vanishes
    np.testing.assert_allclose(target.unconstrain(reference.params).numpy(), z,
                               rtol=1e-12, atol=1e-12)
    constrained = target.constrain(tf.constant(z))
    for name in target.names:
        np.testing.assert_allclose(constrained[name].numpy(), reference.params[name],
                                   rtol=1e-12)
    value, grad = target.value_and_grad(tf.constant(z))
    assert float(value) == pytest.approx(found.log_prob, rel=1e-12)
    assert np.max(np.abs(grad.numpy())) < 1e-3 * len(target.observed["y"])
    assert target.prior_draws(3, seed=1).shape == (3, 2)
    # a Target carries its data: other data with it is refused, the same data accepted
    assert find_map(target, target.observed, laplace_draws=0).converged
    with pytest.raises(ValueError, match="carries its own observed data"):
        find_map(target, {"y": target.observed["y"] + 1.0})


