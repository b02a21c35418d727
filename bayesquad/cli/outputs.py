"""The outputs of ``bayesquad fit`` in its ``--out`` directory, kept consistent.

A fit's outputs (``posterior.nc``, ``summary.csv``, ``report.html``) are written under
temporary names in the same directory and put in place together at the end, so that

- a kill while writing never leaves a truncated file where a good one was (the previous
  run's outputs stay whole until the new ones are complete), and
- the directory never holds outputs of two runs side by side: the previous run's
  ``report.html`` and ``summary.csv`` are removed just before the new ``posterior.nc``
  replaces the old one, so a kill inside that sequence leaves at worst one run's
  ``posterior.nc`` alone, which ``bayesquad report DIR`` completes.

Each output carries the run's id (``bayesquad_run_id``: an attr of ``posterior.nc``, shown in
the report's run metadata and stored with the verdict, which ``load_verdict`` checks).
"""
import os
import pathlib
import re
import uuid
import warnings

from bayesquad.cli.inputs import InputError, one_line

__all__ = ["CHECKPOINT", "OUTPUTS", "POSTERIOR", "REPORT", "SUMMARY", "Outputs",
           "check_writable", "replace_atomically", "summary_table"]

POSTERIOR, SUMMARY, REPORT = "posterior.nc", "summary.csv", "report.html"
OUTPUTS = (POSTERIOR, SUMMARY, REPORT)
CHECKPOINT = "checkpoint"

_PARTIAL = re.compile(r"^(posterior|summary|report)\.partial-[0-9a-f]{8}\.(nc|csv|html)$")


def _reason(err):
    return err.strerror or one_line(err) if isinstance(err, OSError) else one_line(err)


def check_writable(path, what="output"):
    """Raise :class:`InputError` if the file ``path`` cannot be (re)placed."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise InputError(f"{what} '{path}' is a directory, so it cannot be written; remove "
                         f"or rename it")


def replace_atomically(path, write):
    """Call ``write(tmp)`` for a temporary name next to ``path``, then rename it to ``path``.

    An ``OSError`` (disk full, permissions, ``path`` a directory) becomes an
    :class:`InputError` naming ``path``; the temporary file is removed.
    """
    path = pathlib.Path(path)
    check_writable(path)
    tmp = path.with_name(f"{path.stem}.partial-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise InputError(f"cannot write '{path}': {_reason(err)}") from err
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


class Outputs:
    """A fit's output directory: checked up front, written by staging, committed together.

    Parameters
    ----------
    path : str
        The ``--out`` directory; created if missing (and removed again by :meth:`tidy`
        when the run fails before writing anything into it).
    checkpoint : bool
        Whether ``DIR/checkpoint`` will be used (it must then be a directory or absent).
    """

    def __init__(self, path, checkpoint=False):
        out = pathlib.Path(path)
        if out.exists() and not out.is_dir():
            raise InputError(f"--out '{path}' exists and is not a directory")
        self.created = not out.exists()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create the output directory '{path}': "
                             f"{_reason(err)}") from err
        self.dir = out
        if not os.access(out, os.W_OK | os.X_OK):
            self.tidy()
            raise InputError(f"the output directory '{path}' is not writable")
        try:
            for name in OUTPUTS:
                check_writable(out / name)
            ck = out / CHECKPOINT
            if checkpoint and ck.exists() and not ck.is_dir():
                raise InputError(f"'{ck}' is a file, so --checkpoint cannot use it as its "
                                 f"directory; remove it or choose another --out")
        except InputError:
            self.tidy()
            raise
        self._tag = uuid.uuid4().hex[:8]
        self._staged = {}
        self.leftovers = self._remove_leftovers()

    def _remove_leftovers(self):
        """Delete partial files of runs that were killed while writing; return their names."""
        gone = []
        for entry in self.dir.iterdir():
            if _PARTIAL.match(entry.name) and entry.is_file():
                entry.unlink()
                gone.append(entry.name)
        return gone

    def previous(self):
        """The outputs of an earlier run present in the directory."""
        return [name for name in OUTPUTS if (self.dir / name).is_file()]

    def final(self, name):
        return self.dir / name

    def stage(self, name, write):
        """Write output ``name`` through ``write(tmp_path)`` under a temporary name."""
        final = self.final(name)
        tmp = final.with_name(f"{final.stem}.partial-{self._tag}{final.suffix}")
        try:
            write(tmp)
        except OSError as err:
            if tmp.exists():
                tmp.unlink()
            raise InputError(f"cannot write '{final}': {_reason(err)}") from err
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise
        self._staged[name] = tmp
        return tmp

    def commit(self):
        """Put every staged output in place, removing the previous run's other outputs.

        Derived outputs go first and ``posterior.nc`` (from which ``bayesquad report``
        rebuilds them) before the new derived ones: no moment leaves two runs mixed.
        """
        try:
            for name in (REPORT, SUMMARY):
                old = self.final(name)
                if old.is_file():
                    old.unlink()
            for name in OUTPUTS:
                if name in self._staged:
                    os.replace(self._staged.pop(name), self.final(name))
        except OSError as err:
            raise InputError(f"cannot put the outputs in place in '{self.dir}': "
                             f"{_reason(err)}") from err

    def discard(self):
        """Remove staged files that were not committed (after an error or interrupt)."""
        for tmp in self._staged.values():
            if tmp.exists():
                tmp.unlink()
        self._staged.clear()

    def tidy(self):
        """Remove the output directory if this run created it and left nothing in it."""
        if not self.created:
            return
        try:
            self.dir.rmdir()  # only succeeds when empty
        except OSError:
            pass


def summary_table(dt):
    """``arviz.summary`` of a fit's DataTree, as written to ``summary.csv``."""
    import arviz as az  # pylint: disable=import-outside-toplevel
    with warnings.catch_warnings():
        # single-chain r_hat and short-chain ESS warn; the verdict already reports them
        warnings.simplefilter("ignore")
        return az.summary(dt, round_to="none")
