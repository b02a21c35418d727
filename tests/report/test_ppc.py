"""add_posterior_predictive: group shape, draws used, ragged data, failing simulators."""
import numpy as np
import pytest

import arviz as az
import report_fits as R
from bayesquad.report import add_posterior_predictive, write_html


def test_group_shape_and_dims():
    dt = R.nuts_run().copy(deep=True)
    assert add_posterior_predictive(dt, R.simulate, ["y"], draws=40, seed=1) is dt
    pp = dt.posterior_predictive
    assert pp["y"].dims == ("chain", "draw", "y_dim_0")
    assert pp["y"].shape == (1, 40, R.N)
    assert np.all(np.isfinite(pp["y"].values))
    assert sorted(set(pp.attrs["source_chain"].tolist())) == [0, 1]  # spread over chains
    assert pp.attrs["padded"] == ""


def test_replicates_come_from_the_named_draws():
    dt = R.nuts_run().copy(deep=True)

    def at_params(seed, mu, sigma):
        return {"y": np.full(R.N, mu + 1000.0 * sigma)}
    add_posterior_predictive(dt, at_params, "y", draws=7)
    pp = dt.posterior_predictive
    post = dt.posterior
    for i, (c, d) in enumerate(zip(pp.attrs["source_chain"], pp.attrs["source_draw"])):
        expect = float(post["mu"].sel(chain=c, draw=d) + 1000.0 * post["sigma"].sel(
            chain=c, draw=d))
        np.testing.assert_allclose(pp["y"].values[0, i], expect, rtol=1e-12)


def test_ragged_replicates_are_padded(tmp_path):
    dt = R.nuts_run().copy(deep=True)
    add_posterior_predictive(dt, R.simulate_ragged, ["y"], draws=30)
    y = dt.posterior_predictive["y"].values[0]
    sizes = np.sum(np.isfinite(y), axis=1)
    assert y.shape == (30, sizes.max())
    assert sizes.min() >= 20 and sizes.max() < 40 and len(set(sizes.tolist())) > 1
    for row, n in zip(y, sizes):  # values first, then padding
        assert np.all(np.isfinite(row[:n])) and np.all(np.isnan(row[n:]))
    assert dt.posterior_predictive.attrs["padded"] == "y"
    page = write_html(dt, tmp_path / "r.html").read_text()
    assert "number of values" in page and "differ in size" in page


def test_flat_replicates_take_the_observed_shape():
    rng = np.random.default_rng(0)
    dt = az.from_dict({"posterior": {"p": rng.uniform(size=(1, 20))},
                       "observed_data": {"y": rng.integers(0, 2, size=(5, 6))}})

    def sim(seed, p):
        return {"y": np.random.default_rng(seed).binomial(1, p, 30)}
    add_posterior_predictive(dt, sim, ["y"], draws=5)
    assert dt.posterior_predictive["y"].shape == (1, 5, 5, 6)


def test_failing_simulate_skips_the_check(tmp_path):
    dt = R.nuts_run().copy(deep=True)

    def broken(seed, mu, sigma):
        raise FloatingPointError("no data for you")
    with pytest.warns(RuntimeWarning, match="simulate failed"):
        add_posterior_predictive(dt, broken, ["y"])
    assert "posterior_predictive" not in dt.children
    page = write_html(dt, tmp_path / "r.html").read_text()
    assert "FloatingPointError: no data for you" in page

    with pytest.warns(RuntimeWarning, match="lacks"):
        add_posterior_predictive(dt, R.simulate, ["x"])
    assert "posterior_predictive" not in dt.children


def test_netcdf_round_trip(tmp_path):
    dt = R.nuts_run().copy(deep=True)
    add_posterior_predictive(dt, R.simulate_ragged, ["y"], draws=10)
    dt.to_netcdf(tmp_path / "p.nc")
    back = az.from_netcdf(tmp_path / "p.nc")
    np.testing.assert_array_equal(back.posterior_predictive["y"].values,
                                  dt.posterior_predictive["y"].values)


def test_bad_arguments():
    dt = R.nuts_run().copy(deep=True)
    with pytest.raises(TypeError, match="callable"):
        add_posterior_predictive(dt, "simulate", ["y"])
    with pytest.raises(ValueError, match="draws"):
        add_posterior_predictive(dt, R.simulate, ["y"], draws=0)
    with pytest.raises(ValueError, match="observed_names"):
        add_posterior_predictive(dt, R.simulate, [])
    with pytest.raises(ValueError, match="posterior"):
        add_posterior_predictive(R.find_map_no_draws().datatree, R.simulate, ["y"])


def test_points_in_a_plane_get_a_map_and_their_own_statistics(tmp_path):
    """Events [n, 2] (a spatial point process): a density map of the replicated events
    with the observed ones on top, and statistics per event (count) and per coordinate,
    with p-values; a simulator with the wrong intensity shows in the count's p-value
    (negative control)."""
    rng = np.random.default_rng(3)
    observed = rng.uniform([0, 0], [10, 6], size=(rng.poisson(300), 2))
    dt = az.from_dict({"posterior": {"rate": np.full((1, 30), 5.0)},
                       "observed_data": {"xy": observed}})

    def sim(seed, rate, scale=1.0):
        r = np.random.default_rng(seed)
        return {"xy": r.uniform([0, 0], [10, 6], size=(r.poisson(rate * 60 * scale), 2))}
    add_posterior_predictive(dt, sim, ["xy"], draws=30)
    assert dt.posterior_predictive["xy"].shape[-1] == 2
    page = write_html(dt, tmp_path / "r.html").read_text()
    assert "replicated event density" in page and "number of events" in page
    assert "mean of coordinate 1" in page

    def p_of_count(page):
        row = page[page.index("number of events"):].split("</tr>")[0]
        return float(row.split("<td")[-1].split(">")[1].split("<")[0])
    assert 0.01 < p_of_count(page) < 0.99
    biased = az.from_dict({"posterior": {"rate": np.full((1, 30), 5.0)},
                           "observed_data": {"xy": observed}})
    add_posterior_predictive(biased, lambda seed, rate: sim(seed, rate, scale=1.5), ["xy"],
                             draws=30)
    assert p_of_count(write_html(biased, tmp_path / "b.html").read_text()) == 1.0
