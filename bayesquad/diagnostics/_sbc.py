"""Rank statistics of simulation-based calibration and their uniformity tests.

Simulation-based calibration (Talts et al. 2018, arXiv:1804.06788) draws ``theta ~ prior``,
simulates data, fits, and ranks ``theta`` among ``L`` (nearly independent) posterior
draws: if the fit is calibrated, the rank is uniform on ``{0, ..., L}``. Tests here:
Pearson's chi-square on binned ranks (with the binomial band of each bin's count, the
rank histogram's grey band) and the ECDF with simultaneous bands (Säilynoja, Bürkner and
Vehtari 2022, arXiv:2103.10522), drawn as ECDF minus the uniform CDF.
"""
import numpy as np
from scipy import stats

__all__ = ["ecdf_band", "ecdf_inside", "histogram_band", "rank_bins", "rank_chi2", "sbc_ranks"]


def sbc_ranks(prior_values, draws):
    """Rank of each prior value among its posterior draws.

    Parameters
    ----------
    prior_values : array_like, shape ``[..., P]``
        The parameter values the data were simulated from.
    draws : array_like, shape ``[..., L, P]``
        ``L`` posterior draws per fit (thinned so that they are nearly independent).

    Returns
    -------
    numpy.ndarray of int, shape ``[..., P]``
        The number of draws strictly below the prior value, in ``0..L``.

    Notes
    -----
    Ties (a discrete parameter, or a draw equal to the value) count as below with
    probability 1/2 each would be needed for exact uniformity; continuous parameters have
    none, and they are counted as not below here. Autocorrelated draws make the ranks
    over-dispersed (a U-shaped histogram) even for a correct fit: thin first.
    """
    prior_values = np.asarray(prior_values, float)
    draws = np.asarray(draws, float)
    if draws.ndim < 2 or draws.shape[:-2] + draws.shape[-1:] != prior_values.shape:
        raise ValueError(f"draws must have shape prior_values.shape[:-1] + [L, P] = "
                         f"{prior_values.shape[:-1]} + [L, {prior_values.shape[-1:]}], got "
                         f"{draws.shape}")
    return np.sum(draws < prior_values[..., None, :], axis=-2).astype(np.int64)


def rank_bins(n_ranks, n_fits):
    """A bin count for a rank histogram: a divisor of ``n_ranks`` (so every bin holds the
    same number of possible ranks) with at least 5 expected fits per bin, at most 20 bins.

    Parameters
    ----------
    n_ranks : int
        Number of possible ranks, ``L + 1``.
    n_fits : int
        Number of ranks in the histogram.
    """
    n_ranks, n_fits = int(n_ranks), int(n_fits)
    if n_ranks < 2 or n_fits < 1:
        raise ValueError(f"n_ranks must be >= 2 and n_fits >= 1, got {n_ranks}, {n_fits}")
    best = 1
    for b in range(1, min(20, n_ranks) + 1):
        if n_ranks % b == 0 and n_fits / b >= 5:
            best = b
    return best


def _check_ranks(ranks, n_ranks):
    ranks = np.asarray(ranks)
    if ranks.size and (ranks.min() < 0 or ranks.max() >= n_ranks):
        raise ValueError(f"ranks must lie in 0..n_ranks-1 = 0..{n_ranks - 1}, got "
                         f"{ranks.min()}..{ranks.max()}")
    return ranks.astype(np.int64)


def rank_chi2(ranks, n_ranks, bins=None):
    """Pearson's chi-square test of uniform ranks, per column.

    Parameters
    ----------
    ranks : array_like of int, shape ``[n_fits]`` or ``[n_fits, P]``
        Ranks in ``0..n_ranks-1``; NaN-free (drop failed fits first).
    n_ranks : int
        ``L + 1``, the number of possible ranks.
    bins : int, optional
        Number of equal bins; must divide ``n_ranks``. Default :func:`rank_bins`.

    Returns
    -------
    statistic, p_value : numpy.ndarray, shape ``[P]`` (or scalars for 1-D ``ranks``)
    counts : numpy.ndarray, shape ``[bins, P]`` (or ``[bins]``)

    Notes
    -----
    The chi-square approximation needs about 5 expected ranks per bin (the default bins
    guarantee it when possible); below 20 fits the test has little power either way.
    A histogram can be uniform while the fit is wrong in ways ranks do not see (e.g. a
    posterior that ignores the data entirely is calibrated); the ECDF test
    (:func:`ecdf_band`) is more sensitive to smooth departures.
    """
    n_ranks = int(n_ranks)
    ranks = _check_ranks(ranks, n_ranks)
    one = ranks.ndim == 1
    r = ranks[:, None] if one else ranks
    if bins is None:
        bins = rank_bins(n_ranks, r.shape[0])
    bins = int(bins)
    if bins < 1 or n_ranks % bins:
        raise ValueError(f"bins={bins} must divide n_ranks={n_ranks} (each bin then holds "
                         f"the same number of possible ranks)")
    width = n_ranks // bins
    counts = np.stack([np.bincount(col // width, minlength=bins) for col in r.T], axis=1)
    expected = r.shape[0] / bins
    stat = np.sum((counts - expected) ** 2 / expected, axis=0)
    p = stats.chi2.sf(stat, bins - 1) if bins > 1 else np.ones_like(stat)
    if one:
        return stat[0], p[0], counts[:, 0]
    return stat, p, counts


def histogram_band(n_fits, bins, level=0.99):
    """The central ``level`` interval of one bin's count under uniform ranks.

    Parameters
    ----------
    n_fits : int
    bins : int
    level : float

    Returns
    -------
    (low, high) : int
        Quantiles of ``Binomial(n_fits, 1 / bins)`` at ``(1 - level) / 2`` and
        ``(1 + level) / 2``, the band of Talts et al.'s rank histograms.

    Notes
    -----
    A pointwise band: with 20 bins, about ``20 (1 - level)`` bins fall outside it by chance.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    dist = stats.binom(int(n_fits), 1.0 / int(bins))
    return int(dist.ppf((1 - level) / 2)), int(dist.ppf((1 + level) / 2))


def ecdf_band(n_fits, n_ranks, level=0.95, simulations=2000, seed=0):
    """Simultaneous band for the ECDF of ``n_fits`` uniform ranks in ``0..n_ranks-1``.

    Parameters
    ----------
    n_fits : int
    n_ranks : int
        ``L + 1``.
    level : float
        Probability that the whole ECDF of calibrated ranks stays inside the band.
    simulations : int
        Uniform rank samples drawn to adjust the pointwise level (Säilynoja et al. 2022,
        Section 2.2, the simulation method).
    seed : int

    Returns
    -------
    z : numpy.ndarray, shape ``[K]``
        Evaluation points ``k / n_ranks`` (``k = 1..n_ranks-1``, at most 100 of them).
    low, high : numpy.ndarray, shape ``[K]``
        Band of the ECDF (fraction of ranks below ``z * n_ranks``).
    gamma : float
        The adjusted pointwise level.

    Notes
    -----
    The band is for the ECDF itself; subtract ``z`` for the ECDF-difference plot. It is
    exact only up to the simulation's Monte-Carlo error in ``gamma`` (a few per cent of
    ``1 - level`` with 2,000 simulations).
    """
    n_fits, n_ranks = int(n_fits), int(n_ranks)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    k = np.unique(np.linspace(1, n_ranks - 1, min(100, n_ranks - 1)).round().astype(int))
    z = k / n_ranks
    rng = np.random.default_rng(seed)
    sims = rng.integers(0, n_ranks, size=(int(simulations), n_fits))
    below = np.stack([np.sum(sims < kk, axis=1) for kk in k], axis=1)  # [S, K]
    cdf = stats.binom.cdf(below, n_fits, z)
    sf = stats.binom.sf(below - 1, n_fits, z)
    gamma = float(np.quantile(np.min(2 * np.minimum(cdf, sf), axis=1), 1 - level))
    low = stats.binom.ppf(gamma / 2, n_fits, z) / n_fits
    high = stats.binom.ppf(1 - gamma / 2, n_fits, z) / n_fits
    return z, low, high, gamma


def ecdf_inside(ranks, n_ranks, band):
    """Whether the ECDF of ``ranks`` stays inside ``band`` (from :func:`ecdf_band`)."""
    z, low, high, _ = band
    ranks = _check_ranks(ranks, n_ranks)
    k = np.round(z * n_ranks).astype(int)
    ecdf = np.mean(ranks[..., None] < k, axis=0) if ranks.ndim == 1 else \
        np.stack([np.mean(col[:, None] < k, axis=0) for col in ranks.T])
    return np.all((ecdf >= low - 1e-12) & (ecdf <= high + 1e-12), axis=-1)
