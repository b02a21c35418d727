"""diagnose: stuck chains fail, single chains get a split r_hat, bad inputs are named.

Issue 10, part 8: one chain of 1,000 identical draws passed with "ESS 1000"; a DataTree
without sample_stats, or a wrong type, raised AttributeError.
"""
import numpy as np
import pytest

import bayesquad  # noqa: F401  (quiet TF import)
import arviz as az
from bayesquad.diagnostics import diagnose

STATS = {"diverging": np.zeros((1, 1000), bool)}


def test_a_chain_that_never_moves_fails():
    dt = az.from_dict({"posterior": {"m": np.full((1, 1000), 0.3)}, "sample_stats": STATS})
    v = diagnose(dt)
    assert not v.passed
    for name in ("r_hat", "ess_bulk", "ess_tail"):
        assert v[name].passed is False, str(v)
    assert "chain 0 never moved (all 1000 draws identical)" in v["r_hat"].message
    assert "1000" not in v["ess_bulk"].message  # no ESS claimed for a stuck chain


def test_one_stuck_chain_among_moving_ones_fails():
    rng = np.random.default_rng(0)
    post = {"mu": rng.normal(size=(4, 500)), "tau": rng.gamma(5.0, size=(4, 500, 2))}
    post["mu"][2] = 1.5
    post["tau"][2] = 0.7
    stats = {"diverging": np.zeros((4, 500), bool)}
    v = diagnose(az.from_dict({"posterior": post, "sample_stats": stats}))
    assert v["r_hat"].passed is False and "chain 2 never moved" in v["r_hat"].message
    # a single parameter frozen within a chain is named
    post["mu"][2] = rng.normal(size=500)
    post["tau"][2] = rng.gamma(5.0, size=(500, 2))
    post["tau"][1, :, 0] = 0.7
    v = diagnose(az.from_dict({"posterior": post, "sample_stats": stats}))
    assert v["r_hat"].passed is False and "tau never moved within chain 1" in v["r_hat"].message


def test_single_chain_gets_split_rhat():
    rng = np.random.default_rng(1)
    good = diagnose(az.from_dict({"posterior": {"m": rng.normal(size=(1, 4000))},
                                  "sample_stats": {"diverging": np.zeros((1, 4000), bool)}}))
    assert good["r_hat"].passed is True and "one chain, compared in halves" in \
        good["r_hat"].message
    # a random walk drifts: its halves disagree, though no draw repeats
    walk = np.cumsum(rng.normal(size=(1, 1000)), axis=1)
    bad = diagnose(az.from_dict({"posterior": {"m": walk}, "sample_stats": STATS}))
    assert bad["r_hat"].passed is False and bad["r_hat"].value > 1.1
    short = diagnose(az.from_dict({"posterior": {"m": rng.normal(size=(1, 5))}}))
    assert short["r_hat"].passed is None and "needs >= 8" in short["r_hat"].message


def test_tree_without_sample_stats_is_diagnosed():
    rng = np.random.default_rng(2)
    v = diagnose(az.from_dict({"posterior": {"m": rng.normal(size=(4, 1000))}}))
    assert v["r_hat"].passed and v["ess_bulk"].passed
    assert v["sampler"].passed is None and "no sample_stats group" in v["sampler"].message
    assert v.passed


@pytest.mark.parametrize("bad", [{"posterior": 1}, np.zeros(3), "fit.nc"])
def test_wrong_type_is_named(bad):
    with pytest.raises(TypeError, match="datatree must be an xarray.DataTree"):
        diagnose(bad)


def test_group_instead_of_tree_is_named():
    dt = az.from_dict({"posterior": {"m": np.zeros((1, 10))}})
    with pytest.raises(ValueError, match="no posterior group"):
        diagnose(dt.posterior)  # the posterior node itself has no posterior child
