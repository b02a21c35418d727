"""A study directory: its settings, and one small JSON file per finished fit.

Each fit's record is written under a temporary name and renamed into place
(``os.replace`` is atomic on one file system), so a reader sees whole records or none,
and an interrupted study — a killed worker, a killed client — loses only fits that had not
finished. Resuming lists the records there and runs only the missing fits; the settings
are stored first and compared on every resume, because ranks of fits run under different
settings must not be pooled.
"""
import json
import os
import re
import tempfile

__all__ = ["StudyStore"]

_SETTINGS = "study.json"
_RECORD = re.compile(r"^fit_(\d{6,})\.json$")


def _atomic_write(path, text):
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


#: Where the model files are, not what they are: a study resumes from another checkout or
#: mount of the same files (their content hashes are compared instead).
_LOCATIONS = ("model_file", "fit_model_file")


def _identity(settings):
    return {k: v for k, v in settings.items() if k not in _LOCATIONS}


class StudyStore:
    """The files of one study in ``directory`` (created if missing).

    Parameters
    ----------
    directory : str or os.PathLike
    settings : dict
        JSON-serialisable settings that determine every fit's result (model file and its
        content hash, mode, method, sampler settings, seed, buckets, ...).

    Raises
    ------
    ValueError
        ``directory`` holds a study with other settings (the message lists the
        differences) or a damaged ``study.json``.
    """

    def __init__(self, directory, settings):
        self.directory = os.fspath(directory)
        os.makedirs(self.fits_dir, exist_ok=True)
        path = os.path.join(self.directory, _SETTINGS)
        canonical = json.loads(json.dumps(settings, sort_keys=True))
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as f:
                    stored = json.load(f)
            except (OSError, ValueError) as err:
                raise ValueError(f"study directory {self.directory!r}: {_SETTINGS} is "
                                 f"damaged ({err}); use another directory") from err
            if _identity(stored) != _identity(canonical):
                diff = sorted(k for k in set(stored) | set(canonical)
                              if stored.get(k) != canonical.get(k))
                detail = ", ".join(f"{k}: stored {stored.get(k)!r}, now {canonical.get(k)!r}"
                                   for k in diff[:6])
                raise ValueError(
                    f"study directory {self.directory!r} holds a study with other settings "
                    f"({detail}); resume with the same settings, or pass another directory")
            if stored != canonical:  # the same files moved (another checkout or mount)
                _atomic_write(path, json.dumps(canonical, sort_keys=True, indent=1))
        else:
            _atomic_write(path, json.dumps(canonical, sort_keys=True, indent=1))
        self.settings = canonical

    @property
    def fits_dir(self):
        """Where the per-fit records are."""
        return os.path.join(self.directory, "fits")

    def path(self, index):
        """The record file of fit ``index``."""
        return os.path.join(self.fits_dir, f"fit_{int(index):06d}.json")

    def completed(self):
        """Sorted indices of the fits with a record."""
        out = []
        for name in os.listdir(self.fits_dir):
            m = _RECORD.match(name)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def write(self, index, record):
        """Store fit ``index``'s record (a JSON-serialisable dict), atomically."""
        _atomic_write(self.path(index), json.dumps(record, sort_keys=True))

    def read(self, index):
        """Fit ``index``'s record; a damaged file raises ``ValueError`` naming it."""
        path = self.path(index)
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except ValueError as err:
            raise ValueError(f"record {path!r} is damaged ({err}); delete it to refit") \
                from err

    def read_all(self, n_fits=None):
        """``{index: record}`` of every record (the first ``n_fits`` indices only if given)."""
        return {i: self.read(i) for i in self.completed() if n_fits is None or i < n_fits}
