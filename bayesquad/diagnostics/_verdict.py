"""The structured result of ``diagnose``: checks as records, a verdict that serialises itself.

A :class:`Check` carries what was measured as fields (``value``, ``threshold``, status,
``details``) and, for readers, the line ``message`` built from them and the ``explanation``
of what a failure means.  Everything downstream (the report, the stored verdict, studies)
reads the fields; nothing parses the message.
"""
import dataclasses
import json
import math
import numbers

import numpy as np

__all__ = ["Check", "Verdict"]

#: Version of the dict/JSON layout written by :meth:`Verdict.to_dict`.  Format 1 (before
#: ``details`` and ``explanation``) is still read.
FORMAT = 2
_READS = (1, 2)
#: Non-finite floats in JSON: value and threshold of format 1 used these strings; format 2
#: writes every non-finite float (details included) as ``{"$float": "nan"}`` so that a
#: string in the details is never mistaken for a number.
_NONFINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
_FLOAT_TAG = "$float"


def _plain(x, where):
    """``x`` as JSON-shaped Python (dict with str keys, list, str, int, float, bool, None).

    numpy scalars and arrays become Python numbers and lists, tuples become lists: the
    details then compare equal after a round trip through :meth:`Check.from_dict`.
    """
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x)
    if isinstance(x, dict):
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in x.items()}
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(x)]
    raise TypeError(f"{where} must hold numbers, strings, booleans, None, lists and dicts "
                    f"(it is stored as JSON), got {type(x).__name__}")


def _encode(x):
    """Format-2 JSON value of a plain value: non-finite floats tagged."""
    if isinstance(x, float) and not math.isfinite(x):
        return {_FLOAT_TAG: "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}
    if isinstance(x, dict):
        return {k: _encode(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_encode(v) for v in x]
    return x


def _decode(x):
    if isinstance(x, dict):
        if set(x) == {_FLOAT_TAG} and x[_FLOAT_TAG] in _NONFINITE:
            return _NONFINITE[x[_FLOAT_TAG]]
        return {k: _decode(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_decode(v) for v in x]
    return x


def _number(x, what):
    x = _decode(x)
    if isinstance(x, str) and x in _NONFINITE:  # format 1
        return _NONFINITE[x]
    if isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)):
        return float(x)
    raise ValueError(f"stored verdict: {what} must be a number, got {x!r}")


def _registered_explanation(name):
    # imported here: the registry imports Check (and, through the checks, TensorFlow)
    from bayesquad.diagnostics import _checks  # pylint: disable=import-outside-toplevel
    return _checks.explanation(name)


@dataclasses.dataclass(frozen=True)
class Check:
    """One diagnostic, as a record.

    Attributes
    ----------
    name : str
    value : float
        The measured quantity (NaN when the check did not run).
    threshold : float
    passed : bool or None
        True or False when the check gates the verdict and ran; None when it did not run,
        does not apply, or only warns (see ``warning``).
    message : str
        One line for readers, built from the fields by the check.  Programs read the
        fields and ``details``, never this text.
    warning : bool
        True when the measured value is past the threshold but the check does not gate
        the verdict (e.g. high Pareto k, which says that LOO is unreliable for some
        observations, not that the fit failed).  A warning has ``passed=None`` and never
        fails the verdict; its status reads ``"warn"``.
    details : dict
        Structured values behind the message (counts, where the worst draw was, per-variable
        results, ``"not_run"`` with the reason when the check did not run), as plain JSON
        values: numbers, strings, booleans, None, lists and dicts with string keys.
        numpy values are converted on construction.
    explanation : str
        What a failure means and what to do about it.  Default: the explanation registered
        for ``name`` (empty for an unregistered name).

    Notes
    -----
    ``details`` does not take part in hashing (a dict cannot), only in equality.
    """

    name: str
    value: float
    threshold: float
    passed: object
    message: str
    warning: bool = False
    details: dict = dataclasses.field(default_factory=dict, hash=False)
    explanation: str = ""

    def __post_init__(self):
        if self.warning and self.passed is not None:
            raise ValueError(f"check {self.name!r}: a warning does not gate the verdict, so "
                             f"it needs passed=None, got passed={self.passed!r}")
        if not isinstance(self.details, dict):
            raise TypeError(f"check {self.name!r}: details must be a dict, got "
                            f"{type(self.details).__name__}")
        # frozen: the normalised copy replaces the caller's dict through object.__setattr__
        object.__setattr__(self, "details", _plain(self.details, f"check {self.name!r} details"))
        if not self.explanation:
            object.__setattr__(self, "explanation", _registered_explanation(self.name))

    @property
    def status(self):
        """``"pass"``, ``"FAIL"``, ``"warn"`` or ``"n/a"``."""
        if self.warning:
            return "warn"
        return {True: "pass", False: "FAIL", None: "n/a"}[self.passed]

    def to_dict(self):
        """Every field as plain Python (floats may be NaN or infinite; see ``Verdict``)."""
        return {"name": str(self.name), "value": float(self.value),
                "threshold": float(self.threshold),
                "passed": None if self.passed is None else bool(self.passed),
                "message": str(self.message), "warning": bool(self.warning),
                "details": _plain(self.details, "details"),
                "explanation": str(self.explanation)}

    @classmethod
    def from_dict(cls, data):
        """The check written by :meth:`to_dict` (or read back from its JSON).

        Raises
        ------
        ValueError
            If a field is missing or of the wrong kind.
        """
        try:
            passed = data["passed"]
            if passed not in (True, False, None):
                raise ValueError(f"'passed' must be true, false or null, got {passed!r}")
            details = _decode(data.get("details", {}))
            if not isinstance(details, dict):
                raise ValueError(f"'details' must be an object, got {details!r}")
            return cls(str(data["name"]), _number(data["value"], "value"),
                       _number(data["threshold"], "threshold"), passed,
                       str(data["message"]), warning=data.get("warning") is True,
                       details=details, explanation=str(data.get("explanation", "")))
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"missing or invalid field ({err!r})") from None


@dataclasses.dataclass(frozen=True)
class Verdict:
    """All checks of one fit; ``passed`` is False if any check failed.

    Checks that did not run (``passed is None``) and warnings do not fail the verdict;
    ``not_run`` and ``warnings`` list them.  ``str(verdict)`` is a fixed-width table;
    ``verdict["r_hat"]`` gets one check.  :meth:`to_dict`/:meth:`from_dict` and
    :meth:`to_json`/:meth:`from_json` round-trip every field exactly.
    """

    checks: tuple

    @property
    def passed(self):
        return all(c.passed is not False for c in self.checks)

    @property
    def failed(self):
        return tuple(c for c in self.checks if c.passed is False)

    @property
    def warnings(self):
        return tuple(c for c in self.checks if c.warning)

    @property
    def not_run(self):
        return tuple(c for c in self.checks if c.passed is None and not c.warning)

    def __iter__(self):
        return iter(self.checks)

    def __len__(self):
        return len(self.checks)

    def __getitem__(self, key):
        if isinstance(key, str):
            for c in self.checks:
                if c.name == key:
                    return c
            raise KeyError(f"no check named {key!r}; checks are {[c.name for c in self.checks]}")
        return self.checks[key]

    def to_dicts(self):
        """List of plain dicts, one per check (for HTML tables, CSV)."""
        return [c.to_dict() for c in self.checks]

    def to_dict(self):
        """``{"format": 2, "checks": [...]}``, plain Python; :meth:`from_dict` reads it."""
        return {"format": FORMAT, "checks": self.to_dicts()}

    @classmethod
    def from_dict(cls, data):
        """The verdict written by :meth:`to_dict` (or its JSON), this format or format 1.

        Parameters
        ----------
        data : dict
            ``{"format": 1 or 2, "checks": [...]}``; other keys (e.g. a run id) are
            ignored.

        Returns
        -------
        Verdict

        Raises
        ------
        ValueError
            If ``data`` is not a verdict, is of a format this version does not read (a
            newer bayesquad wrote it), or a check is malformed.

        Notes
        -----
        Format 1 (before structured details) has no ``details`` and no ``explanation``:
        its checks load with empty details and the registered explanation.
        """
        if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
            raise ValueError("not a stored verdict (expected an object with a 'checks' "
                             "list)")
        fmt = data.get("format", 1)
        if fmt not in _READS:
            raise ValueError(f"stored verdict of format {fmt!r}: this bayesquad reads "
                             f"formats {list(_READS)} (a newer version wrote it; diagnose the "
                             f"fit again)")
        checks = []
        for i, c in enumerate(data["checks"]):
            try:
                checks.append(Check.from_dict(c))
            except ValueError as err:
                raise ValueError(f"stored verdict: check {i} is malformed ({err})") from None
        return cls(tuple(checks))

    def to_json(self):
        """Strict JSON text of :meth:`to_dict` (non-finite floats as ``{"$float": "nan"}``)."""
        return json.dumps(_encode(self.to_dict()), allow_nan=False)

    @classmethod
    def from_json(cls, text):
        """The verdict of :meth:`to_json`; ``ValueError`` if ``text`` is not one."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not valid JSON ({err})") from None
        return cls.from_dict(data)

    def headline(self):
        """``"PASSED"``, ``"PASSED with 1 warning (loo_pareto_k)"`` or ``"FAILED (2 check(s))"``."""
        if not self.passed:
            return f"FAILED ({len(self.failed)} check(s))"
        warned = self.warnings
        if not warned:
            return "PASSED"
        plural = "s" if len(warned) > 1 else ""
        return (f"PASSED with {len(warned)} warning{plural} "
                f"({', '.join(c.name for c in warned)})")

    def __str__(self):
        def fmt(x):
            if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
                return str(x)
            if isinstance(x, float):
                return f"{x:.4g}"
            return str(x)
        rows = [(c.name, fmt(c.value), fmt(c.threshold), c.status, c.message) for c in self]
        head = ("check", "value", "threshold", "status", "message")
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
        line = lambda r: "  ".join(s.ljust(w) for s, w in zip(r[:4], widths)) + "  " + r[4]  # noqa
        return "\n".join([f"bayesquad verdict: {self.headline()}", line(head)]
                         + [line(r) for r in rows])
