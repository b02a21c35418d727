"""``bayesquad check``: evaluate a model at prior draws before sampling it.

The check itself is :func:`bayesquad.diagnostics.prior_check` (non-finite values and
integrals that do not converge at prior draws, told apart by whether the posterior can reach
them, and the cost of one log density + gradient); this command loads the model file and
the data, prints a header and the check's report as it goes, and turns the result into the
exit code.
"""
from bayesquad.cli.inputs import InputError, one_line, validate_observed

__all__ = ["run_check"]


def run_check(inputs, *, draws=20, seed=0, jit=True, cost=True, echo=print):
    """Run the check on loaded :class:`~bayesquad.cli.inputs.Inputs`; return 0 or 1.

    Parameters
    ----------
    inputs : Inputs
    draws, seed, jit, cost
        As :func:`bayesquad.diagnostics.prior_check`.
    echo : callable
        Prints one line.

    Returns
    -------
    int
        0 when the check passed, 1 when it found a problem where the posterior can reach.
    """
    import numpy as np  # pylint: disable=import-outside-toplevel
    from bayesquad.diagnostics import prior_check  # pylint: disable=import-outside-toplevel
    obs = validate_observed(inputs, seed).observed  # InputError when model and data disagree
    shapes = ", ".join(f"{k} {list(np.shape(v))}" for k, v in obs.items())
    echo(f"bayesquad check: {inputs.name} ({inputs.model_path})")
    echo(f"  data: {inputs.data_path}; observed: {shapes}")
    try:
        result = prior_check(inputs.model, inputs.observed, draws=draws, seed=seed, jit=jit,
                             cost=cost, echo=echo)
    except ValueError as err:  # a prior that cannot be sampled: the model file's to fix
        raise InputError(one_line(err)) from err
    return 0 if result.passed else 1
