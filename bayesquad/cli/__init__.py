"""The ``bayesquad`` command line: ``check``, ``fit`` and ``report`` a model file; ``sbc`` and
``toys`` for studies of many fits.

:func:`main` is the console script's entry point (``bayesquad``, or ``python -m
bayesquad.cli``) and returns the exit code.  The commands are thin layers over the public
library: :func:`bayesquad.diagnostics.prior_check` (``check``),
:func:`bayesquad.inference.sample`/``fit_vi``/``find_map``, :func:`bayesquad.diagnostics.diagnose`
and :func:`bayesquad.report.write_html` (``fit``, ``report``), :func:`bayesquad.calibrate`
(``sbc``, ``toys``); model files load through :func:`bayesquad.model_file.load_model_file`.

Modules: ``parser`` (arguments, help, exit codes, ``main``), ``inputs`` (model and data
files), ``outputs`` (a fit directory written atomically), ``check``, ``fit``, ``report``,
``study`` (one per command).  Importing this package loads only the standard library.
"""
from bayesquad.cli.parser import (EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PASSED,
                                  EXIT_USAGE, build_parser, main)

__all__ = ["EXIT_FAILED", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_PASSED", "EXIT_USAGE",
           "build_parser", "main"]
