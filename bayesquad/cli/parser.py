"""The ``bayesquad`` command's parser and ``main``: ``check``, ``fit`` and ``report`` a model
file, ``sbc`` and ``toys`` for many fits.

``main(argv)`` returns the exit code (the console script exits with it).  Only the standard
library is imported here; TensorFlow, ArviZ and the rest load inside the commands
(:mod:`bayesquad.cli.check`, :mod:`~bayesquad.cli.fit`, :mod:`~bayesquad.cli.report`,
:mod:`~bayesquad.cli.study`), once the arguments are known to be valid.
"""
import argparse
import sys
import traceback

from bayesquad.cli.inputs import InputError, one_line

__all__ = ["EXIT_FAILED", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_PASSED", "EXIT_USAGE",
           "build_parser", "main"]

#: The diagnostic verdict passed (``fit``), no problem found (``check``), report written.
EXIT_PASSED = 0
#: ``fit`` ran but the verdict failed; ``check`` found a problem.
EXIT_FAILED = 1
#: Bad options, or a model/data file with a problem the message names (argparse's code).
EXIT_USAGE = 2
#: An unexpected error inside bayesquad or its dependencies.
EXIT_INTERNAL = 3
#: Interrupted with Ctrl-C.
EXIT_INTERRUPTED = 130

_EXIT_CODES = """\
exit codes:
  0    fit: the diagnostic verdict passed; check: no problem where the posterior can
       reach; report: written
  1    fit: the verdict failed (the outputs are still written); check: a problem was found
  2    usage or input error: bad option, model file, data file, keys or shapes, an output
       path that cannot be written, a checkpoint of another run or a damaged one
  3    internal error (rerun with --debug for the traceback)
  130  interrupted (Ctrl-C): the outputs of an earlier run in --out are kept whole"""

_MODEL_FILE = """\
model files:
  A model file is a plain Python file defining
    build(data, dtype)  -> a tfp JointDistribution for the data (a dict of the .npz arrays)
    observed(data)      -> dict of observed variable name -> array
  and optionally OBSERVED, PARAMS, DATA_KEYS (keys build needs: checked before building),
  POINTWISE_LOG_LIKELIHOOD (default True; False disables LOO) and simulate(seed, **params)
  (enables posterior predictive checks in the report). models/*.py are examples; the
  interface is described in models/README.md."""

_MAIN_DESCRIPTION = """\
Bayesian fits of models whose likelihood contains an integral, from the command line.

A model is a Python file (see "model files" below), its data a .npz file. Check the model
at prior draws, fit it with NUTS (or VI, or MAP), and read the HTML report; every fit is
diagnosed (r_hat, ESS, divergences, E-BFMI, tree depth, LOO, and whether the integrals
were accurate enough), and the exit code says whether it passed."""

_MAIN_EPILOG = f"""\
examples:
  bayesquad check models/peak_on_background.py --data models/data/peak_on_background.npz
  bayesquad fit models/peak_on_background.py --data models/data/peak_on_background.npz --out out
  bayesquad report out
  bayesquad sbc MODEL.py --fits 200 --out sbc      (simulation-based calibration on Dask)
  bayesquad toys MODEL.py --fits 1000 --out toys   (toy Monte Carlo: pulls, coverage)

Run "bayesquad COMMAND --help" for a command's options.

{_MODEL_FILE}

{_EXIT_CODES}"""

_FIT_DESCRIPTION = """\
Fit MODEL.py to the data in FILE.npz, diagnose the fit and write
  DIR/posterior.nc   the fit as an ArviZ DataTree in netCDF (arviz.from_netcdf reopens it),
                     with the verdict, a posterior predictive group if the model has
                     simulate(), and what was run (attrs cli_command, cli_model_file, ...)
  DIR/summary.csv    arviz.summary per parameter: mean, sd, 89% interval, ESS, r_hat, MCSE
  DIR/report.html    the report: verdict, posterior plots, what was run

The verdict table is printed; the exit code is 0 when it passed and 1 when it failed, so
scripts can gate on it (the outputs are written either way). The outputs are written under
temporary names and put in place together when the fit has finished: an interrupted fit
leaves an earlier run's outputs in DIR whole, and DIR never holds outputs of two runs; each
carries the run's id (posterior.nc attr bayesquad_run_id, shown in the report)."""

_FIT_EPILOG = f"""\
examples:
  bayesquad fit models/peak_on_background.py --data models/data/peak_on_background.npz --out out
  bayesquad fit model.py --data data.npz --out run1 --chains 4 --warmup 500 --draws 500
  bayesquad fit model.py --data data.npz --out run1 --checkpoint   # rerun resumes after Ctrl-C
  bayesquad fit model.py --data data.npz --out quick --method vi
  bayesquad fit model.py --data data.npz --out run1 && echo "verdict passed"

{_EXIT_CODES}"""

_CHECK_DESCRIPTION = """\
Evaluate MODEL.py at prior draws of its parameters, with the observed data, before any
sampling: warm-up visits the prior's tails, where a model can break. Reports
  - draws where the log density is NaN or infinite, or raises
  - draws where its gradient is not finite
  - integrals that did not converge (distributions exposing quadrature_status())
  - the posterior's region: the MAP, the integrals there and at draws of its Laplace
    approximation, and how much the log density changes there with every integral at
    rtol=1e-12
  - the cost of one log density + gradient after compilation, for 1 and 4 chains
An integral that does not converge matters only where the posterior can go. A prior draw
whose log density (by the model and by the rtol=1e-12 reference alike) lies so far below
the MAP's that the posterior holds no mass there (chi2.isf(1e-9, D), e.g. 41 for 2
parameters) is a note: the prior reaches values the data rule out; tighten the prior to
silence it. Anywhere else it is a problem: change the rule or its tolerance.
Log density and gradient are taken in the unconstrained space the samplers see (the
log-Jacobian of the constraining bijectors included). Problem draws are listed with their
parameter values."""

_CHECK_EPILOG = """\
examples:
  bayesquad check models/peak_on_background.py --data models/data/peak_on_background.npz
  bayesquad check model.py --data data.npz --draws 100 --no-cost

exit codes:
  0    no problem where the posterior can reach (notes on draws the data rule out)
  1    a problem was found (listed)
  2    usage or input error: bad option, model file, data file, keys or shapes
  3    internal error (rerun with --debug for the traceback)"""

_REPORT_DESCRIPTION = """\
Rebuild DIR/report.html from DIR/posterior.nc, as written by "bayesquad fit --out DIR",
with the verdict stored there (the diagnostics are not rerun: the quadrature check needs
the model, which a saved file does not carry). DIR/summary.csv is written too when it is
missing."""

_REPORT_EPILOG = """\
example:
  bayesquad report out

exit codes:
  0    report written
  2    DIR or DIR/posterior.nc missing or unreadable, or DIR/report.html not writable
  3    internal error (rerun with --debug for the traceback)"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks; wider option column than argparse's default."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=30)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line (the usage block is in ``--help``)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def _int_between(low, high):
    """An argparse type: an integer in ``[low, high]``, refused at parse time.

    Upper bounds keep mistakes (``--draws 100000000000000000000``) from running for hours
    or failing late in NumPy or TensorFlow wording.
    """
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            hint = " (write it without an exponent)" if "e" in text.lower() else ""
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}{hint}") \
                from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high:,}, got "
                                             f"{value}")
        return value
    parse.__name__ = f"integer in [{low}, {high}]"
    return parse


#: Seeds are split into 32-bit words by TensorFlow's stateless random functions.
_MAX_SEED = 2 ** 31 - 1
#: Per chain: the sampler keeps every step's position and statistics in memory.
_MAX_STEPS = 1_000_000
_MAX_CHAINS = 64
#: Matches ``sample``'s own limit: 2**15 leapfrog steps per draw.
_MAX_TREE_DEPTH = 15


def _probability(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return value


def _version():
    try:
        from importlib.metadata import version
        return version("bayesquad")
    except Exception:  # noqa: BLE001 -- running from a source tree without metadata
        return "unknown"


def _add_inputs(parser):
    group = parser.add_argument_group("input")
    group.add_argument("model", metavar="MODEL.py", help="the model file")
    group.add_argument("--data", metavar="FILE.npz", required=True,
                       help="the data: a .npz file with the arrays build(data) reads")
    return group


def _add_general(parser, quiet=True):
    group = parser.add_argument_group("general")
    if quiet:
        group.add_argument("-q", "--quiet", action="store_true",
                           help="print only the output paths, warnings and errors")
    group.add_argument("--debug", action="store_true",
                       help="show the full traceback of any error")
    group.add_argument("-h", "--help", action="help", help="show this help and exit")


def _fit_parser(sub):
    p = sub.add_parser("fit", help="fit a model, diagnose it, write posterior.nc, "
                       "summary.csv and report.html", description=_FIT_DESCRIPTION,
                       epilog=_FIT_EPILOG, formatter_class=_Formatter, add_help=False)
    group = _add_inputs(p)
    group.add_argument("--out", metavar="DIR", required=True,
                       help="output directory (created; an earlier run's outputs are "
                       "replaced, all together, when the fit has finished)")
    group = p.add_argument_group("method")
    group.add_argument("--method", choices=("nuts", "vi", "map"), default="nuts",
                       help="nuts: NUTS with windowed adaptation (default); vi: Gaussian "
                       "variational approximation; map: maximum a posteriori + Laplace")
    group.add_argument("--seed", type=_int_between(0, _MAX_SEED), default=0, metavar="N",
                       help="random seed; the same seed and options give the same draws on "
                       "the same machine (default: %(default)s)")
    group.add_argument("--draws", type=_int_between(1, _MAX_STEPS), default=1000, metavar="N",
                       help="nuts: draws kept per chain; vi, map: draws of the approximation "
                       "(default: %(default)s)")
    group.add_argument("--no-jit", dest="jit", action="store_false",
                       help="do not XLA-compile (slower sampling, faster start; nuts, vi)")
    group = p.add_argument_group("NUTS")
    group.add_argument("--chains", type=_int_between(1, _MAX_CHAINS), default=4, metavar="N",
                       help="number of chains (default: %(default)s)")
    group.add_argument("--warmup", type=_int_between(0, _MAX_STEPS), default=1000, metavar="N",
                       help="warm-up (adaptation) steps per chain, discarded (default: "
                       "%(default)s)")
    group.add_argument("--target-accept", type=_probability, default=0.8, metavar="P",
                       help="target mean acceptance of step-size adaptation; raise it "
                       "(0.9, 0.95) when there are divergences (default: %(default)s)")
    group.add_argument("--max-tree-depth", type=_int_between(1, _MAX_TREE_DEPTH), default=10,
                       metavar="N",
                       help="at most 2**N leapfrog steps per draw (default: %(default)s)")
    group.add_argument("--init", choices=("map", "prior"), default="map",
                       help="map: start the chains around the MAP point with the Laplace "
                       "scales as initial metric (default); prior: one prior draw per chain "
                       "(nuts, vi)")
    group.add_argument("--checkpoint", action="store_true",
                       help="save every finished chunk in DIR/checkpoint; rerunning the same "
                       "command resumes there (after Ctrl-C) with the same draws")
    group.add_argument("--gate-on-loo", action="store_true",
                       help="let high Pareto k (LOO unreliable for some observations) fail "
                       "the verdict; by default it is a warning")
    group.add_argument("--no-loo", dest="loo", action="store_false",
                       help="do not store the pointwise log-likelihood: no LOO check, and a "
                       "smaller posterior.nc for large data (it holds up to 8 million values, "
                       "64 MB, by default)")
    group = p.add_argument_group("VI")
    group.add_argument("--vi-family", choices=("meanfield", "fullrank"), default="meanfield",
                       help="diagonal or full-covariance Gaussian (default: %(default)s)")
    group.add_argument("--vi-steps", type=_int_between(1, _MAX_STEPS), default=2000, metavar="N",
                       help="optimisation steps (default: %(default)s)")
    group = p.add_argument_group("report")
    group.add_argument("--ppc-draws", type=_int_between(0, _MAX_STEPS), default=50, metavar="N",
                       help="posterior draws simulated for the posterior predictive check "
                       "when the model defines simulate(); 0: none (default: %(default)s)")
    group.add_argument("--title", help="title of the report (default: the model's name)")
    _add_general(p)
    p.set_defaults(func=_cmd_fit)


def _check_parser(sub):
    p = sub.add_parser("check", help="evaluate a model at prior draws before sampling: "
                       "non-finite values, integrals that do not converge, cost",
                       description=_CHECK_DESCRIPTION, epilog=_CHECK_EPILOG,
                       formatter_class=_Formatter, add_help=False)
    _add_inputs(p)
    group = p.add_argument_group("options")
    group.add_argument("--draws", type=_int_between(1, 100_000), default=20, metavar="N",
                       help="prior draws evaluated, and draws of the Laplace approximation "
                       "at the MAP (default: %(default)s)")
    group.add_argument("--seed", type=_int_between(0, _MAX_SEED), default=0, metavar="N",
                       help="seeds the prior draws (default: %(default)s)")
    group.add_argument("--no-jit", dest="jit", action="store_false",
                       help="time the evaluation as a tf.function graph without XLA (as "
                       "fit --no-jit) instead of XLA-compiled (as fit)")
    group.add_argument("--no-cost", dest="cost", action="store_false",
                       help="skip the timing (which compiles the log density twice)")
    _add_general(p, quiet=False)
    p.set_defaults(func=_cmd_check)


def _report_parser(sub):
    p = sub.add_parser("report", help="rebuild report.html from a saved fit",
                       description=_REPORT_DESCRIPTION, epilog=_REPORT_EPILOG,
                       formatter_class=_Formatter, add_help=False)
    group = p.add_argument_group("input")
    group.add_argument("dir", metavar="DIR", help="the --out directory of a bayesquad fit")
    group = p.add_argument_group("options")
    group.add_argument("--title", help="title of the report (default: the one of the fit)")
    _add_general(p, quiet=False)
    p.set_defaults(func=_cmd_report)


def build_parser():
    """The ``argparse`` parser of the ``bayesquad`` command (and its subcommands)."""
    parser = _Parser(prog="bayesquad", description=_MAIN_DESCRIPTION, epilog=_MAIN_EPILOG,
                     formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"bayesquad {_version()}")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    _check_parser(sub)
    _fit_parser(sub)
    _report_parser(sub)
    # many fits (issue 15): bayesquad sbc / bayesquad toys
    from bayesquad.cli.study import add_study_parsers
    add_study_parsers(sub, _Formatter, _add_general)
    return parser


def _cmd_check(args):
    from bayesquad.cli.check import run_check
    from bayesquad.cli.inputs import load_inputs
    inputs = load_inputs(args.model, args.data)
    return run_check(inputs, draws=args.draws, seed=args.seed, jit=args.jit, cost=args.cost)


def _cmd_fit(args):
    from bayesquad.cli.fit import run_fit
    return run_fit(args)


def _cmd_report(args):
    from bayesquad.cli.report import rebuild_report
    return rebuild_report(args.dir, title=args.title)


def main(argv=None):
    """Run the ``bayesquad`` command line; return the exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        ``EXIT_PASSED`` (0), ``EXIT_FAILED`` (1), ``EXIT_USAGE`` (2), ``EXIT_INTERNAL`` (3) or
        ``EXIT_INTERRUPTED`` (130); see ``bayesquad --help``.

    Notes
    -----
    Exit code 0 from ``fit`` means every diagnostic that ran passed: necessary, not
    sufficient (a mode no chain found goes unnoticed, and checks that could not run, such
    as LOO without a pointwise log-likelihood, do not fail the verdict).  Exit code 2
    covers every exception raised by the user's model file (importing it, ``build``,
    ``observed``) and the ``ValueError`` s of the fitting routines, which name the input at
    fault; a bug of that kind inside bayesquad would also show as 2.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and argparse's usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        print("bayesquad: error: name a command: check, fit, report, sbc or toys (bayesquad --help "
              "explains them)", file=sys.stderr)
        return EXIT_USAGE
    args.argv = ["bayesquad", *argv]
    prog = f"bayesquad {args.command}"
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        # the commands put what was kept, and how to resume, in the exception's message
        detail = f": {exc.args[0]}" if exc.args else ""
        print(f"\n{prog}: interrupted{detail}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # model code (simulate, a log density) that calls sys.exit
        if args.debug:
            traceback.print_exc()
        print(f"{prog}: error: code from the model file called sys.exit({exc.code!r}); a "
              f"model file's functions must return or raise, not exit", file=sys.stderr)
        return EXIT_USAGE
    except InputError as err:
        if args.debug:
            traceback.print_exc()
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # noqa: BLE001 -- one line for the user, traceback on request
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else " (rerun with --debug for the traceback)"
        print(f"{prog}: internal error: {type(err).__name__}: {one_line(err)}{hint}",
              file=sys.stderr)
        return EXIT_INTERNAL
