"""The report's figures, drawn with matplotlib's object API on the Agg canvas.

Every function returns a ``matplotlib.figure.Figure`` (never pyplot: the report must not
touch the caller's backend or open windows).  Sizes and panel counts are capped so that a
report renders in seconds whatever the number of parameters and draws.
"""
import numpy as np

from bayesquad.report._format import new_figure

__all__ = ["trace_rank_figure", "pair_figure", "energy_figure", "pareto_k_figure",
           "elbo_figure", "CHAIN_COLORS"]

CHAIN_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf", "#d62728")
_DIVERGENT = "#d62728"


def _values(posterior, var, index):
    """``[chain, draw]`` float array of one scalar element."""
    arr = np.asarray(posterior[var].values, dtype=float)
    return arr[(slice(None), slice(None)) + tuple(index)]


def _style(ax, labelsize=7):
    ax.tick_params(labelsize=labelsize, length=2, pad=1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _ranks(x):
    """Ranks (1..n) of all draws pooled over chains, ties averaged."""
    from scipy.stats import rankdata
    return rankdata(x.ravel()).reshape(x.shape)


def trace_rank_figure(posterior, elements, diverging=None, max_chains=10):
    """Per element: per-chain histograms, trace with divergences, rank histograms.

    ``diverging`` is a ``[chain, draw]`` bool array or None.
    """
    n = len(elements)
    fig = new_figure(10.0, 0.4 + 1.55 * n)
    axes = fig.subplots(n, 3, squeeze=False, gridspec_kw={"width_ratios": [1.0, 2.4, 1.3]})
    for row, (label, var, index) in enumerate(elements):
        x = _values(posterior, var, index)[:max_chains]
        n_chain, n_draw = x.shape
        finite = x[np.isfinite(x)]
        ax_d, ax_t, ax_r = axes[row]
        if finite.size and np.ptp(finite) > 0:
            bins = np.linspace(finite.min(), finite.max(), 31)
        else:
            centre = float(finite[0]) if finite.size else 0.0
            bins = np.linspace(centre - 0.5, centre + 0.5, 31)
        draws = np.arange(n_draw)
        ranks = _ranks(x)
        n_rank_bins = int(np.clip(n_draw // 10, 4, 20))
        rank_edges = np.linspace(0.5, x.size + 0.5, n_rank_bins + 1)
        for c in range(n_chain):
            color = CHAIN_COLORS[c % len(CHAIN_COLORS)]
            h, _ = np.histogram(x[c][np.isfinite(x[c])], bins=bins, density=True)
            ax_d.stairs(h, bins, color=color, lw=1.0)
            ax_t.plot(draws, x[c], color=color, lw=0.5, alpha=0.8)
            h, _ = np.histogram(ranks[c], bins=rank_edges)
            # no baseline: vertical edges down to 0 at both ends read as empty end bins
            ax_r.stairs(h, np.arange(n_rank_bins + 1), color=color, lw=1.0, baseline=None)
        ax_r.axhline(n_draw / n_rank_bins, color="black", ls="--", lw=0.8)
        ax_r.set_ylim(bottom=0)
        if diverging is not None:
            div = np.asarray(diverging, bool)[:max_chains]
            c_idx, d_idx = np.nonzero(div)
            if d_idx.size:
                y0 = np.nanmin(x) if finite.size else 0.0
                ax_t.plot(d_idx, np.full(d_idx.shape, y0), "|", color=_DIVERGENT, ms=8,
                          mew=1.2, label="divergent")
        ax_d.set_ylabel(label, fontsize=9)
        ax_d.set_yticks([])
        for ax in (ax_d, ax_t, ax_r):
            _style(ax)
        ax_r.set_yticks([])
        ax_r.set_xticks([])
        if row == 0:
            n_div = int(np.asarray(diverging, bool)[:max_chains].sum()) if (
                diverging is not None) else 0
            ax_d.set_title("density per chain", fontsize=8)
            ax_t.set_title(f"trace (red ticks: {n_div} divergent transitions)"
                           if n_div else "trace", fontsize=8)
            handles = [ax_t.plot([], [], color=CHAIN_COLORS[c % len(CHAIN_COLORS)])[0]
                       for c in range(n_chain)]
            fig.legend(handles, [f"chain {c}" for c in range(n_chain)], loc="outside lower "
                       "center", ncols=min(n_chain, 10), fontsize=7, frameon=False)
            ax_r.set_title("rank histogram per chain", fontsize=8)
        if row == n - 1:
            ax_t.set_xlabel("draw", fontsize=8)
            ax_r.set_xlabel("rank (pooled over chains)", fontsize=8)
    return fig


def pair_figure(posterior, elements, diverging=None, max_points=800, seed=0):
    """Lower-triangle scatter matrix (divergent draws in red) with histograms."""
    k = len(elements)
    size = min(9.6, max(3.2, 1.6 * k))
    fig = new_figure(size, size)
    axes = fig.subplots(k, k, squeeze=False)
    cols = [_values(posterior, var, idx).ravel() for _, var, idx in elements]
    n = cols[0].size
    div = (np.asarray(diverging, bool).ravel() if diverging is not None
           else np.zeros(n, bool))
    rng = np.random.default_rng(seed)
    ok_idx = np.flatnonzero(~div)
    if ok_idx.size > max_points:
        ok_idx = np.sort(rng.choice(ok_idx, max_points, replace=False))
    div_idx = np.flatnonzero(div)
    if div_idx.size > max_points:
        div_idx = np.sort(rng.choice(div_idx, max_points, replace=False))
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            _style(ax, 6)
            if i == j:
                v = cols[i][np.isfinite(cols[i])]
                ax.hist(v, bins=30, color="#4c72b0", alpha=0.8)
                ax.set_yticks([])
            else:
                ax.plot(cols[j][ok_idx], cols[i][ok_idx], ".", color="#4c72b0", ms=2,
                        alpha=0.5, rasterized=True)
                if div_idx.size:
                    ax.plot(cols[j][div_idx], cols[i][div_idx], "x", color=_DIVERGENT,
                            ms=4, mew=1.0)
            if i == k - 1:
                ax.set_xlabel(elements[j][0], fontsize=8)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(elements[i][0], fontsize=8)
            elif j > 0:
                ax.set_yticklabels([])
    return fig


def energy_figure(energy):
    """Histograms of the centred marginal energy and of the energy transitions.

    ``energy`` is ``[chain, draw]``.  When the transition distribution is much narrower
    than the marginal one, momentum resampling explores the energy poorly (low E-BFMI).
    """
    e = np.asarray(energy, dtype=float)
    marginal = (e - np.nanmean(e)).ravel()
    transition = np.diff(e, axis=1).ravel()
    marginal, transition = marginal[np.isfinite(marginal)], transition[np.isfinite(transition)]
    fig = new_figure(6.0, 2.8)
    ax = fig.subplots()
    both = np.concatenate([marginal, transition]) if transition.size else marginal
    lo, hi = (np.quantile(both, [0.001, 0.999]) if both.size else (-1.0, 1.0))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    bins = np.linspace(lo, hi, 41)
    ax.hist(marginal, bins=bins, density=True, alpha=0.55, color="#4c72b0",
            label="marginal energy (E - mean)")
    if transition.size:
        ax.hist(transition, bins=bins, density=True, alpha=0.55, color="#dd8452",
                label="energy transition (\u0394E)")
    ax.set_yticks([])
    ax.legend(fontsize=8, frameon=False)
    ax.set_xlabel("energy", fontsize=8)
    _style(ax)
    return fig


def pareto_k_figure(k, good_k, max_points=20000, seed=0):
    """Pareto k per observation, with the ``good_k`` and 1 thresholds."""
    k = np.asarray(k, dtype=float).ravel()
    idx = np.arange(k.size)
    if k.size > max_points:
        # keep every high k; thin only the unremarkable ones
        low = np.flatnonzero(k <= good_k)
        keep = np.random.default_rng(seed).choice(low, max(0, max_points - (k.size - low.size)),
                                                  replace=False)
        idx = np.sort(np.concatenate([keep, np.flatnonzero(~(k <= good_k))]))
    fig = new_figure(7.0, 2.6)
    ax = fig.subplots()
    kk = k[idx]
    colors = np.where(kk > 1, "#d62728", np.where(kk > good_k, "#ff7f0e", "#4c72b0"))
    ax.scatter(idx, kk, c=colors, s=4, marker="o", linewidths=0, rasterized=True)
    ax.axhline(good_k, color="#ff7f0e", ls="--", lw=0.8, label=f"good k = {good_k:.2f}")
    ax.axhline(1.0, color="#d62728", ls="--", lw=0.8, label="k = 1")
    ax.set_xlabel("observation (flattened index)", fontsize=8)
    ax.set_ylabel("Pareto k", fontsize=8)
    ax.legend(fontsize=7, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0),
              ncols=2)
    _style(ax)
    return fig


def elbo_figure(elbo):
    """ELBO per optimisation step with a running mean."""
    elbo = np.asarray(elbo, dtype=float)
    steps = np.arange(elbo.size)
    fig = new_figure(7.0, 2.6)
    ax = fig.subplots()
    ax.plot(steps, elbo, color="#4c72b0", lw=0.5, alpha=0.6, label="ELBO (Monte Carlo)")
    w = max(1, elbo.size // 50)
    if elbo.size >= 2 * w and w > 1:
        smooth = np.convolve(elbo, np.ones(w) / w, mode="valid")
        ax.plot(steps[w - 1:], smooth, color="black", lw=1.2, label=f"running mean ({w})")
    finite = elbo[np.isfinite(elbo)]
    if finite.size > 10:
        # the first steps can be orders of magnitude lower: zoom on the converged part
        lo, hi = np.quantile(finite[finite.size // 10:], [0.0, 1.0])
        pad = 0.1 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("ELBO", fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    _style(ax)
    return fig
