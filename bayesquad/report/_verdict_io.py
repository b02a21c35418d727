"""Keep a :class:`~bayesquad.diagnostics.Verdict` with its DataTree (netCDF-safe JSON attr)."""
import json

from bayesquad.diagnostics import Verdict

__all__ = ["RUN_ID_ATTR", "VERDICT_ATTR", "store_verdict", "load_verdict"]

#: Root attribute of the DataTree that holds the verdict as a JSON string.
VERDICT_ATTR = "bayesquad_verdict"
#: Root attribute with the id of the fit that produced the DataTree (set by every fit).
RUN_ID_ATTR = "bayesquad_run_id"


def store_verdict(datatree, verdict):
    """Write ``verdict`` into ``datatree.attrs["bayesquad_verdict"]`` (in place).

    Parameters
    ----------
    datatree : xarray.DataTree
    verdict : bayesquad.diagnostics.Verdict

    Returns
    -------
    xarray.DataTree
        The same ``datatree``.

    Notes
    -----
    The verdict is stored as the strict JSON of :meth:`Verdict.to_json` (every field,
    ``details`` included; NaN and infinities as ``{"$float": "nan"}``), so the DataTree
    still writes to netCDF.  It describes the fit as it was diagnosed; nothing keeps it in
    step if the DataTree's groups change later.
    The fit's id (``attrs["bayesquad_run_id"]``) is stored with it, so that
    :func:`load_verdict` refuses a verdict copied onto the DataTree of another run.
    """
    if not isinstance(verdict, Verdict):
        raise TypeError(f"verdict must be a bayesquad.diagnostics.Verdict (from "
                        f"bayesquad.diagnose), got {type(verdict).__name__}")
    record = json.loads(verdict.to_json())
    run_id = datatree.attrs.get(RUN_ID_ATTR)
    if run_id is not None:
        record["run_id"] = str(run_id)
    datatree.attrs[VERDICT_ATTR] = json.dumps(record, allow_nan=False)
    return datatree


def load_verdict(datatree):
    """The verdict stored by :func:`store_verdict`, or None when there is none.

    Parameters
    ----------
    datatree : xarray.DataTree
        E.g. read back with ``arviz.from_netcdf``.

    Returns
    -------
    bayesquad.diagnostics.Verdict or None

    Raises
    ------
    ValueError
        If the attribute exists but is not a verdict written by :func:`store_verdict`, or
        was stored for another run (its run id differs from ``attrs["bayesquad_run_id"]``).

    Notes
    -----
    The stored verdict is not recomputed: it is only as current as the call of
    ``store_verdict`` that wrote it.  A verdict stored by an earlier bayesquad (format 1:
    value, threshold, status and message, no ``details``) still loads, with empty
    ``details``; the report then shows its message and the numbers it has.
    """
    raw = datatree.attrs.get(VERDICT_ATTR)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        data = json.loads(str(raw))
    except json.JSONDecodeError as err:
        raise ValueError(f"attrs[{VERDICT_ATTR!r}] is not valid JSON ({err}); delete the "
                         f"attribute or store a new verdict with store_verdict") from None
    if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        raise ValueError(f"attrs[{VERDICT_ATTR!r}] does not hold a stored verdict (expected "
                         f"an object with a 'checks' list); store one with store_verdict")
    stored_id, own_id = data.get("run_id"), datatree.attrs.get(RUN_ID_ATTR)
    if stored_id is not None and own_id is not None and str(stored_id) != str(own_id):
        raise ValueError(f"attrs[{VERDICT_ATTR!r}] was stored for run {stored_id}, but this "
                         f"DataTree is from run {own_id} (attrs[{RUN_ID_ATTR!r}]): the verdict "
                         f"is not this fit's; diagnose it again and store the new verdict")
    try:
        return Verdict.from_dict(data)
    except ValueError as err:
        raise ValueError(f"attrs[{VERDICT_ATTR!r}]: {err}") from None
