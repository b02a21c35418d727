"""``Fit``: a fit's ArviZ DataTree that also knows its :class:`Target` and settings."""
import json
import os
import uuid

import xarray as xr

from bayesquad.inference._target import Target

__all__ = ["Fit", "load_fit", "new_run_id", "RUN_ID_ATTR", "SETTINGS_ATTR"]

#: attr holding a fit's random id (the report and a stored verdict name the run by it)
RUN_ID_ATTR = "bayesquad_run_id"
#: attr holding the fit's options as JSON (what ``Fit.settings`` reads back from disk)
SETTINGS_ATTR = "bayesquad_settings"


def new_run_id():
    """A fresh random id for a fit's attrs."""
    return uuid.uuid4().hex


class Fit(xr.DataTree):
    """The result of :func:`sample`, :func:`fit_vi` and :func:`find_map`: an
    ``xarray.DataTree`` (ArviZ groups; save it with ``to_netcdf``, open it with ArviZ)
    that also carries the :class:`Target` it was fitted to and the fit's settings.

    ``diagnose(fit)`` and ``report.write_html(fit, path)`` take the Target from here, so
    no model needs passing and nothing is looked up elsewhere. A Fit reopened from disk
    with :func:`load_fit` (the netCDF file plus the model) diagnoses and reports the same
    way.

    Attributes
    ----------
    target : Target or None
        None for a tree derived by xarray operations that do not keep it (e.g. ``map_over``
        results); ``copy()`` and selections keep it.
    settings : dict
        The fit's options (method, chains, seeds, ...), also in ``attrs`` as JSON.

    Notes
    -----
    A Fit is a DataTree: every ArviZ and xarray function accepts it. Operations that
    build a new tree return a Fit only where xarray preserves the type; when in doubt,
    ``Fit.wrap(tree, fit.target)``.
    """

    __slots__ = ("target",)

    @classmethod
    def wrap(cls, tree, target, settings=None):
        """A Fit with ``tree``'s groups and attrs, ``target`` and ``settings`` (stored in
        ``attrs`` as JSON; default: the tree's own)."""
        fit = cls.from_dict(tree.to_dict())
        fit.attrs.update(tree.attrs)
        if settings is not None:
            fit.attrs[SETTINGS_ATTR] = json.dumps(settings, sort_keys=True, default=str)
        fit.attrs.setdefault(RUN_ID_ATTR, new_run_id())
        fit.target = target
        return fit

    @property
    def settings(self):
        text = self.attrs.get(SETTINGS_ATTR)
        return json.loads(text) if text else {}

    def _copy_node(self, inherit=True, deep=False, memo=None):  # pylint: disable=arguments-differ
        node = super()._copy_node(inherit=inherit, deep=deep, memo=memo)
        if isinstance(node, Fit):
            node.target = getattr(self, "target", None)
        return node

    def __getattr__(self, name):
        if name == "target":  # an unset slot (a tree xarray built): no Target
            return None
        return super().__getattr__(name)


def load_fit(path, model, *, observed=None, bijectors=None):
    """Reopen a saved fit (``fit.to_netcdf(path)``) as a :class:`Fit` with its Target.

    Parameters
    ----------
    path : str or os.PathLike
        A netCDF file written from a fit's DataTree.
    model : tfp.distributions.JointDistribution or Target
        The model the fit was made with (e.g. from the model file's ``build``).
    observed : dict, optional
        The data; default the file's ``observed_data`` group.
    bijectors : dict, optional
        The fit's non-default bijectors, if any (they are stored by name only).

    Returns
    -------
    Fit
    """
    import arviz as az  # pylint: disable=import-outside-toplevel
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    tree = az.from_netcdf(os.fspath(path))
    if isinstance(model, Target):
        target = model
    else:
        if observed is None:
            if "observed_data" not in tree.children:
                raise ValueError(f"{os.fspath(path)!r} has no observed_data group: pass "
                                 f"observed=...")
            od = tree["observed_data"]
            observed = {v: od[v].values for v in od.data_vars}
        target = Target(model, observed, bijectors=bijectors)
    return Fit.wrap(tree, target)
