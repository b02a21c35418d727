"""The structured result of ``diagnose``: a tuple of checks with a printable table."""
import dataclasses
import math

__all__ = ["Check", "Verdict"]


@dataclasses.dataclass(frozen=True)
class Check:
    """One diagnostic.

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
        What was measured, and what to do when it failed.
    warning : bool
        True when the measured value is past the threshold but the check does not gate
        the verdict (e.g. high Pareto k, which says that LOO is unreliable for some
        observations, not that the fit failed).  A warning has ``passed=None`` and never
        fails the verdict; its status reads ``"warn"``.
    """

    name: str
    value: float
    threshold: float
    passed: object
    message: str
    warning: bool = False

    def __post_init__(self):
        if self.warning and self.passed is not None:
            raise ValueError(f"check {self.name!r}: a warning does not gate the verdict, so "
                             f"it needs passed=None, got passed={self.passed!r}")

    @property
    def status(self):
        """``"pass"``, ``"FAIL"``, ``"warn"`` or ``"n/a"``."""
        if self.warning:
            return "warn"
        return {True: "pass", False: "FAIL", None: "n/a"}[self.passed]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """All checks of one fit; ``passed`` is False if any check failed.

    Checks that did not run (``passed is None``) and warnings do not fail the verdict;
    ``not_run`` and ``warnings`` list them.  ``str(verdict)`` is a fixed-width table;
    ``verdict["r_hat"]`` gets one check.
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
        """List of plain dicts (for JSON, HTML tables, CSV)."""
        return [dataclasses.asdict(c) for c in self.checks]

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
