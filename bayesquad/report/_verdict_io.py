"""Keep a :class:`~bayesquad.diagnostics.Verdict` with its DataTree (netCDF-safe JSON attr)."""
import json
import math

from bayesquad.diagnostics import Check, Verdict

__all__ = ["VERDICT_ATTR", "store_verdict", "load_verdict"]

#: Root attribute of the DataTree that holds the verdict as a JSON string.
VERDICT_ATTR = "bayesquad_verdict"
_FORMAT = 1
_NONFINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def _encode_float(x):
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _decode_float(x, what):
    if isinstance(x, str) and x in _NONFINITE:
        return _NONFINITE[x]
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    raise ValueError(f"stored verdict: {what} must be a number, got {x!r}")


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
    The verdict is stored as a JSON string (NaN and infinities as the strings ``"nan"``,
    ``"inf"``, ``"-inf"``), so the DataTree still writes to netCDF.  It describes the fit
    as it was diagnosed; nothing keeps it in step if the DataTree's groups change later.
    """
    if not isinstance(verdict, Verdict):
        raise TypeError(f"verdict must be a bayesquad.diagnostics.Verdict (from "
                        f"bayesquad.diagnose), got {type(verdict).__name__}")
    checks = []
    for c in verdict.checks:
        passed = None if c.passed is None else bool(c.passed)
        checks.append({"name": str(c.name), "value": _encode_float(c.value),
                       "threshold": _encode_float(c.threshold), "passed": passed,
                       "message": str(c.message)})
    datatree.attrs[VERDICT_ATTR] = json.dumps({"format": _FORMAT, "checks": checks},
                                              allow_nan=False)
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
        If the attribute exists but is not a verdict written by :func:`store_verdict`.

    Notes
    -----
    The stored verdict is not recomputed: it is only as current as the call of
    ``store_verdict`` that wrote it.
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
    checks = []
    for i, c in enumerate(data["checks"]):
        try:
            passed = c["passed"]
            if passed not in (True, False, None):
                raise ValueError(f"stored verdict: check {i} 'passed' must be true, false or "
                                 f"null, got {passed!r}")
            checks.append(Check(str(c["name"]), _decode_float(c["value"], f"check {i} value"),
                                _decode_float(c["threshold"], f"check {i} threshold"),
                                passed, str(c["message"])))
        except (KeyError, TypeError) as err:
            raise ValueError(f"stored verdict: check {i} is malformed ({err!r})") from None
    return Verdict(tuple(checks))
