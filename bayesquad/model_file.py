"""Model files: the plain Python files that describe a model and its data interface.

A model file defines ``build(data, dtype)`` (a TFP ``JointDistribution`` for a data set)
and ``observed(data)``, and optionally ``PARAMS``, ``OBSERVED``, ``DATA_KEYS``,
``simulate``, ``derived``, ``BIJECTORS``, ... (see the "How to write a model file" page).
The command line (``bayesquad check``/``fit``) and the studies of many fits
(:func:`bayesquad.calibrate`) load them with :func:`load_model_file`.  Only the standard
library is imported here (the model file itself may import TensorFlow).
"""
import importlib.util
import os
import re
import sys

__all__ = ["InputError", "load_model_file", "one_line"]

_INTERFACE = ("a model file defines build(data, dtype) and observed(data), and usually "
              "OBSERVED, PARAMS, DATA_KEYS (see models/README.md)")


class InputError(Exception):
    """A problem with the user's model file, data file or options, in one line.

    The command line turns it into exit code 2.
    """


def one_line(err):
    """An exception as a single line: its message with newlines folded.

    Parameters
    ----------
    err : BaseException

    Returns
    -------
    str
        The message, or the exception's type name when the message is empty.
    """
    text = " ".join(str(err).split())
    return text or type(err).__name__


def load_model_file(path):
    """Execute the model file at ``path``; return the module.

    The file runs as ``python model.py`` would see it (files next to it are importable) under
    a module name of its own, so two model files with the same name do not collide.

    Parameters
    ----------
    path : str
        The model file (``.py``).

    Returns
    -------
    module
        The executed file; it defines at least ``build`` and ``observed``.

    Raises
    ------
    InputError
        The file is missing, not a ``.py`` file, does not compile or import (or calls
        ``sys.exit``), or lacks ``build``/``observed``; one line naming the file.
    """
    if not os.path.exists(path):
        raise InputError(f"model file '{path}' does not exist")
    if os.path.isdir(path):
        raise InputError(f"model file '{path}' is a directory; pass a .py file")
    if not path.endswith(".py"):
        raise InputError(f"model file '{path}' is not a Python file (.py); {_INTERFACE}")
    stem = os.path.splitext(os.path.basename(path))[0]
    # a unique, valid module name: two model files with the same stem must not collide
    name = "bayesquad_model_" + re.sub(r"\W", "_", stem) + f"_{len(sys.modules)}"
    spec = importlib.util.spec_from_file_location(name, os.path.abspath(path))
    module = importlib.util.module_from_spec(spec)
    # as `python model.py` would: helpers next to the model file are importable
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    sys.modules[name] = module  # dataclasses and pickling look the module up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        sys.modules.pop(name, None)
        raise InputError(f"model file '{path}', line {err.lineno}: syntax error: "
                         f"{err.msg}") from err
    except SystemExit as err:  # sys.exit() in a model file must not end bayesquad silently
        sys.modules.pop(name, None)
        raise InputError(f"model file '{path}' called sys.exit({err.code!r}) while being "
                         f"imported; a model file must define build() and observed() and "
                         f"not exit (guard script code with if __name__ == '__main__':)") \
            from err
    except Exception as err:
        sys.modules.pop(name, None)
        raise InputError(f"model file '{path}' failed to import: {type(err).__name__}: "
                         f"{one_line(err)}") from err
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass
    for attr in ("build", "observed"):
        if not callable(getattr(module, attr, None)):
            raise InputError(f"model file '{path}' defines no {attr}() function; {_INTERFACE}")
    return module
