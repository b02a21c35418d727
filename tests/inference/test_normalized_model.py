"""A model whose likelihood is a bayesquad Normalized density, against a grid posterior."""
import pytest

import bayesquad  # noqa: F401
import arviz as az
import bq_inference_models as M



@pytest.mark.slow  # ~75 s under load: a NUTS compile plus a 200,001-point grid
def test_normalized_posterior_matches_grid():
    dt = M.normalized_run()
    mean, sd = M.normalized_grid_posterior()
    row = az.summary(dt, round_to="none").loc["lam"]
    assert abs(row["mean"] - mean) < 4 * row["mcse_mean"], (row, mean)
    assert abs(row["sd"] - sd) < 4 * row["mcse_sd"], (row, sd)
    assert dt.log_likelihood["x"].shape == (4, 250, len(M.X_TRUNC))
