"""``bayesquad report``: rebuild a fit directory's ``report.html`` from its ``posterior.nc``."""
import pathlib
import sys

from bayesquad.cli.inputs import InputError, one_line
from bayesquad.cli.outputs import (POSTERIOR, REPORT, SUMMARY, check_writable, replace_atomically,
                                   summary_table)

__all__ = ["rebuild_report"]


def rebuild_report(directory, *, title=None):
    """The ``report`` command: rewrite ``DIR/report.html`` from ``DIR/posterior.nc``.

    ``DIR/summary.csv`` is written too when it is missing (a fit killed while putting its
    outputs in place leaves ``posterior.nc`` alone).
    """
    folder = pathlib.Path(directory)
    if not folder.is_dir():
        raise InputError(f"'{directory}' is not a directory; pass the --out directory of a "
                         f"bayesquad fit")
    check_writable(folder / REPORT)  # before the work, not after it
    path = folder / POSTERIOR
    if path.is_dir() or not path.exists():
        raise InputError(f"'{directory}' has no {POSTERIOR} file; pass the --out directory "
                         f"of a bayesquad fit")
    import arviz as az
    try:
        dt = az.from_netcdf(path)
    except Exception as err:
        raise InputError(f"cannot read '{path}': {type(err).__name__}: {one_line(err)}") \
            from err
    if "posterior" not in dt.children:
        raise InputError(f"'{path}' has no posterior group; is it from bayesquad fit?")
    from bayesquad.report import load_verdict, write_html
    try:
        verdict = load_verdict(dt)
    except ValueError as err:  # an edited or damaged attr: the report says it has none
        print(f"bayesquad report: warning: the stored verdict is unreadable ({one_line(err)})",
              file=sys.stderr)
        verdict = None
    # no verdict argument: write_html shows the stored one (or, unreadable, diagnoses again)
    report = replace_atomically(folder / REPORT, lambda tmp: write_html(
        dt, tmp, title=title or dt.attrs.get("cli_title")))
    summary_path = folder / SUMMARY
    rebuilt_summary = not summary_path.exists()
    if rebuilt_summary:
        summary = summary_table(dt)
        replace_atomically(summary_path,
                           lambda tmp: summary.to_csv(tmp, index_label="parameter"))
    if "cli_command" in dt.attrs:
        print(f"fit: {dt.attrs['cli_command']}")
    if verdict is not None:
        print(f"verdict: {verdict.headline()} (as stored by the fit)")
    if rebuilt_summary:
        print(f"summary: {summary_path} (written: it was missing)")
    print(f"report: {pathlib.Path(report).resolve().as_uri()}")
    return 0
