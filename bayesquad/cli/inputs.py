"""The command line's inputs: a model file and a data file, checked before any fitting.

Every problem a user can fix (a missing file, a syntax error, a model without ``build``, a
data file without the keys the model needs, data of the wrong shape) raises
:class:`InputError` with one line naming the file and the problem; the command line turns
it into exit code 2.  Nothing here imports TensorFlow until a model file is executed.
"""
import dataclasses
import os
import zipfile

from bayesquad.model_file import InputError, load_model_file, one_line

__all__ = ["InputError", "Inputs", "load_data_file", "load_inputs", "load_model_file", "one_line",
           "read_npz", "validate_observed"]


def _display(path):
    return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path


@dataclasses.dataclass
class Inputs:
    """A loaded model file, its data and the model built from them.

    Attributes
    ----------
    module : module
        The executed model file.
    model_path, data_path : str
        Absolute paths.
    data : dict of numpy arrays
        The ``.npz`` contents.
    model : tfp.distributions.JointDistribution
        ``module.build(data)``.
    observed : dict
        ``module.observed(data)``.
    """

    module: object
    model_path: str
    data_path: str
    data: dict
    model: object
    observed: dict

    @property
    def name(self):
        """The model's ``NAME`` if it defines one, else the file's stem."""
        stem = os.path.splitext(os.path.basename(self.model_path))[0]
        return str(getattr(self.module, "NAME", stem))

    @property
    def observed_names(self):
        """``OBSERVED`` if defined, else the keys of ``observed(data)``."""
        return tuple(getattr(self.module, "OBSERVED", tuple(self.observed)))

    @property
    def derived(self):
        """The model file's optional ``derived(values)``: quantities recorded with the
        draws (see :func:`bayesquad.inference.sample`), or None."""
        fn = getattr(self.module, "derived", None)
        if fn is not None and not callable(fn):
            raise InputError(f"{_display(self.model_path)}: 'derived' must be a function "
                             f"values -> dict of arrays, got {type(fn).__name__}")
        return fn

    @property
    def bijectors(self):
        """The model file's optional ``BIJECTORS``, ``{name: tfb.Bijector}`` replacing
        default constraining bijectors (see :func:`bayesquad.inference.sample`), or None."""
        value = getattr(self.module, "BIJECTORS", None)
        if value is not None and not isinstance(value, dict):
            raise InputError(f"{_display(self.model_path)}: 'BIJECTORS' must be a dict "
                             f"{{variable name: tfb.Bijector}}, got {type(value).__name__}")
        return value

    @property
    def pointwise_log_likelihood(self):
        """``POINTWISE_LOG_LIKELIHOOD`` (default True): store it for LOO."""
        return bool(getattr(self.module, "POINTWISE_LOG_LIKELIHOOD", True))


def load_data_file(path):
    """Read the ``.npz`` at ``path`` into a dict of numpy arrays (no pickled objects)."""
    if not os.path.exists(path):
        raise InputError(f"data file '{path}' does not exist")
    if os.path.isdir(path):
        raise InputError(f"data file '{path}' is a directory; pass a .npz file")
    if not path.endswith(".npz"):
        raise InputError(f"data file '{path}' is not a .npz file; write one with "
                         f"numpy.savez(path, name=array, ...)")
    return read_npz(path, what="data file", fix="write one with numpy.savez(path, "
                    "name=array, ...)")


def read_npz(path, *, what, fix):
    """The arrays of the ``.npz`` archive at ``path`` (no pickled objects), by name.

    Every way a file can fail to be one (a single ``.npy`` array renamed, a truncated or
    foreign file, pickled object arrays) raises :class:`InputError` naming ``what`` and
    ``path`` with ``fix``; numpy's own wording is not shown, since for object arrays it
    suggests ``allow_pickle=True``, which would run code from the file.
    """
    import numpy as np
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        reason = ("it holds pickled Python objects, which bayesquad does not load"
                  if "pickle" in str(err).lower() else
                  "it is not a zip archive of arrays (" + one_line(err)[:120] + ")")
        raise InputError(f"{what} '{path}' cannot be read as .npz: {reason}; {fix}") from err
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise InputError(f"{what} '{path}' holds a single .npy array, not a .npz archive of "
                         f"named arrays; {fix}")
    try:
        with loaded as f:
            return {k: f[k] for k in f.files}
    except ValueError as err:  # object arrays inside an otherwise valid archive
        raise InputError(f"{what} '{path}' holds pickled Python objects (object arrays), "
                         f"which bayesquad does not load; {fix} with numeric arrays") from err
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as err:
        raise InputError(f"{what} '{path}' is damaged ({type(err).__name__}: "
                         f"{one_line(err)[:120]}); {fix}") from err


def _check_keys(module, data, model_path, data_path):
    keys = getattr(module, "DATA_KEYS", None)
    if keys is None:
        return
    missing = [k for k in keys if k not in data]
    if missing:
        have = ", ".join(sorted(data)) or "no arrays"
        raise InputError(f"data file '{data_path}' lacks {', '.join(map(repr, missing))}, "
                         f"which model file '{model_path}' needs (DATA_KEYS = "
                         f"{list(keys)}); the file has {have}")


def _call_user(fn, what, model_path, *args):
    """Call model-file code; any exception it raises is the user's to fix (InputError)."""
    try:
        return fn(*args)
    except KeyError as err:
        raise InputError(f"{what} in '{model_path}' looked up key {err} that the data "
                         f"does not have") from err
    except SystemExit as err:
        raise InputError(f"{what} in '{model_path}' called sys.exit({err.code!r}); a model "
                         f"file's functions must return, not exit") from err
    except Exception as err:
        prefix = "" if isinstance(err, ValueError) else f"{type(err).__name__}: "
        raise InputError(f"{what} in '{model_path}' failed: {prefix}{one_line(err)}") from err


def load_inputs(model_path, data_path):
    """Load the model file and the data, build the model; return :class:`Inputs`.

    Raises
    ------
    InputError
        For every problem with the files, the keys, or ``build``/``observed`` (their own
        ``ValueError`` messages name the key or shape at fault).
    """
    module = load_model_file(model_path)
    data = load_data_file(data_path)
    _check_keys(module, data, model_path, data_path)
    model = _call_user(module.build, "build(data)", model_path, data)
    if not hasattr(model, "experimental_pin"):
        raise InputError(f"build(data) in '{model_path}' returned a {type(model).__name__}, "
                         f"not a tfp JointDistribution (e.g. tfd.JointDistributionCoroutine)")
    observed = _call_user(module.observed, "observed(data)", model_path, data)
    if not isinstance(observed, dict) or not observed:
        raise InputError(f"observed(data) in '{model_path}' must return a non-empty dict "
                         f"name -> array, got {type(observed).__name__}")
    return Inputs(module=module, model_path=os.path.abspath(model_path),
                  data_path=os.path.abspath(data_path), data=data, model=model,
                  observed=observed)


def validate_observed(inputs, seed=0):
    """Check the observed data against the model (names, dtypes, shapes).

    Returns the :class:`bayesquad.inference.Target` of model and data.  Its
    ``ValueError`` (e.g. "observed['x'] has shape (3,) but the model's distribution for 'x'
    produces shape (5,)") becomes an :class:`InputError`.
    """
    from bayesquad.inference import Target
    try:
        return Target(inputs.model, inputs.observed, seed=seed)
    except (ValueError, TypeError) as err:
        raise InputError(f"model '{inputs.name}' and data '{_display(inputs.data_path)}' "
                         f"do not fit together: {one_line(err)}") from err
