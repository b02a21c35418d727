"""The posterior predictive check of point patterns in a plane (events ``[n, 2]``, e.g. a
spatial Poisson process): replicated event density as a map, observed events on top."""
import numpy as np

from bayesquad.report._format import figure_html, new_figure, note, table

__all__ = ["is_planar", "planar_section"]


def is_planar(observed):
    """Whether an observed array can hold points in a plane: ``[..., n, 2]``, n > 2 (the
    caller also asks that the replicates vary in size, as a point pattern's do)."""
    shape = np.shape(observed)
    return len(shape) >= 2 and shape[-1] == 2 and shape[-2] > 2


def _points(a):
    """Rows ``[m, 2]`` of ``a`` with both coordinates finite (NaN rows are padding)."""
    a = np.asarray(a, float).reshape(-1, 2)
    return a[np.all(np.isfinite(a), axis=1)]


def _p_value(t_rep, t_obs):
    t_rep = np.asarray(t_rep)
    return float(np.mean(t_rep >= t_obs)) if t_rep.size else float("nan")


def planar_section(name, observed, replicated, bins=40):
    """HTML for one planar variable: the map and a table of statistics with p-values.

    ``replicated``: ``[replicates, ..., n, 2]`` (NaN-padded); ``observed``: ``[..., n, 2]``.
    """
    obs = _points(observed)
    arr = np.asarray(replicated, float)
    reps = [_points(r) for r in arr.reshape((arr.shape[0] * arr.shape[1] if arr.ndim > 3
                                             else arr.shape[0], -1, 2))]
    pooled = np.concatenate([obs] + reps) if reps else obs
    if not len(pooled):
        return note(f"{name}: no events observed or replicated; nothing to map.")
    lo, hi = pooled.min(axis=0), pooled.max(axis=0)
    hi = np.where(hi > lo, hi, lo + 1.0)
    edges = [np.linspace(lo[k], hi[k], bins + 1) for k in range(2)]
    area = np.diff(edges[0])[0] * np.diff(edges[1])[0]
    density = sum(np.histogram2d(r[:, 0], r[:, 1], bins=edges)[0] for r in reps)
    density = density / max(len(reps), 1) / area
    fig = new_figure(6.4, 4.0)
    ax = fig.subplots()
    mesh = ax.pcolormesh(edges[0], edges[1], density.T, cmap="viridis", shading="flat")
    ax.scatter(obs[:, 0], obs[:, 1], s=1.5, c="white", edgecolors="none", alpha=0.7)
    fig.colorbar(mesh, ax=ax, label="replicated events per unit area")
    ax.set_xlabel(f"{name}[..., 0]", fontsize=8)
    ax.set_ylabel(f"{name}[..., 1]", fontsize=8)
    ax.set_aspect("equal", adjustable="box")
    ax.tick_params(labelsize=8)
    rows = []
    stats = [("number of events", len)]
    for k in range(2):
        stats += [(f"mean of coordinate {k}", lambda p, k=k: np.mean(p[:, k])),
                  (f"sd of coordinate {k}", lambda p, k=k: np.std(p[:, k]))]
    for label, f in stats:
        t_rep = [f(r) for r in reps if len(r)]
        t_obs = f(obs) if len(obs) else float("nan")
        rows.append((name, label, int(t_obs) if label.startswith("number") else float(t_obs),
                     float(np.mean(t_rep)) if t_rep else float("nan"),
                     _p_value(t_rep, t_obs)))
    return "\n".join([
        note(f"{name} holds points in a plane: the colour is the density of events in "
             f"{len(reps)} replicated data sets (events per unit area, averaged over "
             "replicates: the posterior predictive intensity), the dots are the observed "
             "events. Regions where the dots crowd over dark colour, or the reverse, are "
             "where the model's intensity misses the data."),
        figure_html(fig, f"posterior predictive check of {name}: replicated event density "
                         "and observed events"),
        table(("variable", "statistic", "observed", "mean of replicates",
               "p = P(rep >= obs)"), rows)])
