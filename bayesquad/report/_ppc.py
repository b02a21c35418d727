"""Posterior predictive draws from a model file's numpy simulator, and their check plot."""
import numbers
import warnings

import numpy as np
import xarray as xr

from bayesquad.report._format import esc, figure_html, new_figure, note, table
from bayesquad.report._ppc_planar import is_planar, planar_section

__all__ = ["PPC_MESSAGE_ATTR", "add_posterior_predictive", "ppc_section"]

#: Root attribute saying why no posterior predictive group was added (simulate failed).
PPC_MESSAGE_ATTR = "bayesquad_ppc_message"


def _draw_indices(n_chain, n_draw, draws):
    """``draws`` (chain, draw) pairs spread evenly over all chains' draws."""
    total = n_chain * n_draw
    flat = np.unique(np.linspace(0, total - 1, min(draws, total)).round().astype(int))
    return np.divmod(flat, n_draw)


def _params_at(post, c, d, skip=()):
    out = {}
    for name in post.data_vars:
        if str(name) in skip:  # derived quantities are not the simulator's parameters
            continue
        v = np.asarray(post[name].values[c, d], dtype=float)
        out[str(name)] = float(v) if v.ndim == 0 else v
    return out


def _stack(arrays, observed_shape):
    """Stack replicates ``[n, *shape]``; pad ragged ones with NaN.  Returns (array, padded)."""
    shapes = {a.shape for a in arrays}
    if len(shapes) == 1:
        out = np.stack(arrays)
        padded = False
    else:
        ndims = {a.ndim for a in arrays}
        if len(ndims) != 1:
            raise ValueError(f"replicates have different numbers of dimensions {sorted(ndims)}")
        full = tuple(max(s) for s in zip(*shapes))
        out = np.full((len(arrays),) + full, np.nan)
        for i, a in enumerate(arrays):
            out[(i,) + tuple(slice(0, n) for n in a.shape)] = a
        padded = True
    if (observed_shape is not None and not padded and out.shape[1:] != observed_shape
            and int(np.prod(out.shape[1:])) == int(np.prod(observed_shape))):
        # e.g. a simulator returning flat rows for data stored as [groups, per_group]
        out = out.reshape((len(arrays),) + tuple(observed_shape))
    return out, padded


def add_posterior_predictive(datatree, simulate, observed_names, *, draws=50, seed=0):
    """Simulate replicated data sets at posterior draws; add a ``posterior_predictive`` group.

    Parameters
    ----------
    datatree : xarray.DataTree
        With a ``posterior`` group (any inference method).
    simulate : callable
        ``simulate(seed, **params)`` returning a dict of numpy arrays, as the model files'
        simulators (``models/README.md``); ``params`` are one posterior draw's values by
        name (floats for scalars, float arrays otherwise).
    observed_names : str or sequence of str
        Keys of ``simulate``'s result to keep (the observed variables).
    draws : int
        Number of posterior draws simulated, spread evenly over all chains.
    seed : int
        Seeds the simulator's seeds (one per draw).

    Returns
    -------
    xarray.DataTree
        ``datatree`` itself, modified in place: group ``posterior_predictive`` with one
        variable per observed name, dims ``(chain=1, draw, <name>_dim_k...)``.  If
        ``simulate`` fails, no group is added, ``attrs["bayesquad_ppc_message"]`` says why
        and a ``RuntimeWarning`` is issued.

    Notes
    -----
    Replicates whose shape varies from draw to draw (e.g. a random number of events) are
    padded with NaN to the longest, and the group's ``padded`` attr lists those variables:
    count the non-NaN values for each replicate's size.  A replicate with as many values
    as the observed variable but another shape is reshaped to the observed shape.  The
    check is only as meaningful as the simulator: one that draws new covariates each time
    compares the data with a different design.
    """
    if not callable(simulate):
        raise TypeError(f"simulate must be callable as simulate(seed, **params), got "
                        f"{type(simulate).__name__}")
    names = [observed_names] if isinstance(observed_names, str) else list(observed_names)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"observed_names must be a name or a non-empty list of names, got "
                         f"{observed_names!r}")
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    if "posterior" not in datatree.children:
        raise ValueError("datatree has no posterior group: pass the result of sample, fit_vi "
                         "or find_map(...).datatree")
    post = datatree.posterior
    n_chain, n_draw = post.sizes.get("chain", 0), post.sizes.get("draw", 0)
    if n_chain * n_draw == 0:
        raise ValueError("the posterior group has no draws to simulate from")
    chains, idx = _draw_indices(n_chain, n_draw, int(draws))
    seeds = np.random.default_rng(int(seed)).integers(0, 2 ** 31 - 1, size=len(chains))
    reps = {n: [] for n in names}
    # the inference layer's attribute name (the report must not import inference)
    derived = set(filter(None, str(datatree.attrs.get("derived_variables", "")).split(",")))
    try:
        for c, d, s in zip(chains, idx, seeds):
            out = simulate(int(s), **_params_at(post, int(c), int(d), derived))
            missing = [n for n in names if n not in out]
            if missing:
                raise KeyError(f"simulate's result lacks {missing} (it has {sorted(out)})")
            for n in names:
                reps[n].append(np.asarray(out[n]))
        obs = datatree.observed_data if "observed_data" in datatree.children else None
        data, padded = {}, []
        for n in names:
            shape = tuple(obs[n].shape) if obs is not None and n in obs.data_vars else None
            arr, was_padded = _stack(reps[n], shape)
            if was_padded:
                padded.append(n)
            dims = ["chain", "draw"] + [f"{n}_dim_{k}" for k in range(arr.ndim - 1)]
            data[n] = (dims, arr[None])
    except Exception as err:  # pylint: disable=broad-except
        # any failure of user code: skip the check, keep the fit
        msg = (f"posterior predictive check skipped: simulate failed "
               f"({type(err).__name__}: {err})")
        datatree.attrs[PPC_MESSAGE_ATTR] = msg
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        return datatree
    ds = xr.Dataset(data, coords={"chain": [0], "draw": np.arange(len(chains))})
    ds.attrs.update({"source_chain": chains.astype(np.int64), "source_draw":
                     post["draw"].values[idx].astype(np.int64), "seed": int(seed),
                     "padded": ",".join(padded)})
    datatree["posterior_predictive"] = ds
    datatree.attrs.pop(PPC_MESSAGE_ATTR, None)
    return datatree


def _flat(a):
    a = np.asarray(a, dtype=float).ravel()
    return a[np.isfinite(a)]


def _bins(obs, reps):
    values = np.concatenate([obs] + reps)
    lo, hi = np.quantile(values, [0.0005, 0.9995]) if values.size else (0.0, 1.0)
    if np.all(np.equal(np.mod(values, 1), 0)) and hi - lo <= 60:
        return np.arange(lo - 0.5, hi + 1.5)  # integer data: one bin per value
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    n = int(np.clip(np.sqrt(max(obs.size, 1)), 10, 60))
    return np.linspace(lo, hi, n + 1)


def _p_value(t_rep, t_obs):
    t_rep = np.asarray(t_rep)
    return float(np.mean(t_rep >= t_obs)) if t_rep.size else float("nan")


def ppc_section(dt, max_vars=4, max_lines=50):
    """HTML of the posterior predictive check (or a note saying why there is none)."""
    if "posterior_predictive" not in dt.children:
        why = dt.attrs.get(PPC_MESSAGE_ATTR)
        return note(str(why) if why else
                    "Not available: the DataTree has no posterior_predictive group. It is "
                    "added by bayesquad.report.add_posterior_predictive when the model can "
                    "simulate data (the CLI does this for model files with a simulate "
                    "function).", "absent")
    pp = dt.posterior_predictive
    obs = dt.observed_data if "observed_data" in dt.children else None
    names = [n for n in pp.data_vars if obs is not None and n in obs.data_vars]
    if not names:
        return note("Not available: no variable of the posterior_predictive group has "
                    "observed data to compare with.", "absent")
    # points in a plane whose number varies between replicates: a point pattern (data of
    # fixed size with two columns, e.g. bivariate observations, keep the usual check)
    padded_names = str(pp.attrs.get("padded", "")).split(",")
    planar = [n for n in names if is_planar(obs[n].values) and n in padded_names]
    planar_parts = [planar_section(n, obs[n].values, pp[n].values) for n in planar]
    names = [n for n in names if n not in planar]
    if not names:
        return "\n".join(planar_parts)
    parts = planar_parts + [note(
        "Each thin line is one replicated data set simulated from a posterior draw; the "
        "thick line is the observed data (values pooled over all dimensions). Systematic "
        "differences, and p-values near 0 or 1, show features of the data the model does "
        "not reproduce.")]
    padded = str(pp.attrs.get("padded", "")).split(",")
    fig = new_figure(4.2 * min(2, len(names[:max_vars])),
                     3.0 * ((len(names[:max_vars]) + 1) // 2))
    axes = fig.subplots((len(names[:max_vars]) + 1) // 2, min(2, len(names[:max_vars])),
                        squeeze=False).ravel()
    rows = []
    for ax, name in zip(axes, names[:max_vars]):
        o = _flat(obs[name].values)
        arr = np.asarray(pp[name].values, float)
        reps = [_flat(r) for r in arr.reshape((-1,) + arr.shape[2:])]
        bins = _bins(o, reps)
        for r in reps[:max_lines]:
            h, _ = np.histogram(r, bins=bins, density=True)
            ax.stairs(h, bins, color="#4c72b0", alpha=0.25, lw=0.8)
        h, _ = np.histogram(o, bins=bins, density=True)
        ax.stairs(h, bins, color="black", lw=2.0, label="observed")
        ax.plot([], [], color="#4c72b0", alpha=0.6, label="replicated")
        ax.set_title(str(name), fontsize=10)
        ax.set_ylabel("density", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=8, frameon=False)
        stats = [("mean", np.mean), ("sd", np.std)]
        if name in padded:
            stats.insert(0, ("number of values", np.size))
        for label, f in stats:
            t_rep = [f(r) for r in reps if r.size]
            t_obs = f(o) if o.size else float("nan")
            shown = int(t_obs) if label == "number of values" else float(t_obs)
            rows.append((str(name), label, shown, float(np.mean(t_rep)),
                         _p_value(t_rep, t_obs)))
    for ax in axes[len(names[:max_vars]):]:
        ax.set_visible(False)
    parts.append(figure_html(fig, "posterior predictive check: observed versus replicated "
                             "distributions"))
    parts.append(table(("variable", "statistic", "observed", "mean of replicates",
                        "p = P(rep >= obs)"), rows))
    if len(names) > max_vars:
        parts.append(note(f"First {max_vars} of {len(names)} observed variables shown."))
    if any(p for p in padded):
        parts.append(note("Replicates of " + ", ".join(p for p in padded if p)
                          + " differ in size from draw to draw (padded with NaN in the "
                          "group, ignored here)."))
    parts.append(f"<p class=\"small\">{esc(len(reps))} replicated data sets.</p>")
    return "\n".join(parts)

