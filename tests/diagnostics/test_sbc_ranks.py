"""Rank statistics and uniformity tests of SBC against hand counts and scipy."""
import numpy as np
import pytest
from scipy import stats

from bayesquad.diagnostics import _sbc


def test_ranks_count_draws_below():
    prior = np.array([[0.5, 10.0]])
    draws = np.array([[[0.1, 11.0], [0.7, 9.0], [0.4, 12.0]]])
    assert _sbc.sbc_ranks(prior, draws).tolist() == [[2, 1]]
    with pytest.raises(ValueError, match="draws must have shape"):
        _sbc.sbc_ranks(prior, draws[0])


def test_chi2_matches_hand_count_and_scipy():
    # 12 ranks in 0..5 (6 possible), 3 bins of 2 ranks: counts 6, 2, 4
    ranks = np.array([0, 1, 0, 1, 1, 0, 2, 3, 4, 5, 4, 5])
    stat, p, counts = _sbc.rank_chi2(ranks, 6, bins=3)
    assert counts.tolist() == [6, 2, 4]
    # expected 4 per bin: (4 + 4 + 0) / 4 = 2
    assert stat == pytest.approx(2.0)
    ref = stats.chisquare([6, 2, 4])
    assert p == pytest.approx(ref.pvalue)
    with pytest.raises(ValueError, match="must divide"):
        _sbc.rank_chi2(ranks, 6, bins=4)
    with pytest.raises(ValueError, match="ranks must lie"):
        _sbc.rank_chi2([6], 6, bins=3)


def test_rank_bins_divides_and_keeps_five_per_bin():
    assert _sbc.rank_bins(100, 200) == 20
    assert _sbc.rank_bins(100, 40) == 5     # 8 per bin; 10 bins would give 4
    assert _sbc.rank_bins(20, 40) == 5


def test_histogram_band_is_binomial_quantiles():
    low, high = _sbc.histogram_band(200, 20, level=0.99)
    dist = stats.binom(200, 0.05)
    assert (low, high) == (dist.ppf(0.005), dist.ppf(0.995))


def test_calibrated_ranks_pass_and_biased_fail():
    rng = np.random.default_rng(3)
    n_fits, L = 400, 99
    # calibrated: the prior value is one more draw of the same distribution
    theta = rng.standard_normal(n_fits)
    draws = rng.standard_normal((n_fits, L))
    ok = _sbc.sbc_ranks(theta[:, None], draws[:, :, None])[:, 0]
    # biased posterior (shifted by half a posterior sd) and too narrow one (sd 0.7)
    shifted = _sbc.sbc_ranks(theta[:, None], draws[:, :, None] + 0.5)[:, 0]
    narrow = _sbc.sbc_ranks(theta[:, None], 0.7 * draws[:, :, None])[:, 0]
    band = _sbc.ecdf_band(n_fits, L + 1, level=0.95)
    assert _sbc.rank_chi2(ok, L + 1)[1] > 0.01 and _sbc.ecdf_inside(ok, L + 1, band)
    for bad in (shifted, narrow):
        assert _sbc.rank_chi2(bad, L + 1)[1] < 1e-4
        assert not _sbc.ecdf_inside(bad, L + 1, band)


def test_ecdf_band_simultaneous_coverage():
    # the band holds the whole ECDF of calibrated ranks with about its level
    n_fits, n_ranks = 100, 20
    band = _sbc.ecdf_band(n_fits, n_ranks, level=0.9, simulations=2000, seed=1)
    rng = np.random.default_rng(7)
    inside = [_sbc.ecdf_inside(rng.integers(0, n_ranks, n_fits), n_ranks, band)
              for _ in range(1000)]
    # 1000 independent checks: the binomial sd of the rate is ~0.01; the simulated level
    # is discrete (binomial quantiles), so the band may be somewhat conservative
    assert 0.85 <= np.mean(inside) <= 0.97
    z, low, high, gamma = band
    assert np.all(low <= z) and np.all(z <= high) and 0 < gamma < 0.1
