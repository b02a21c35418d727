"""``bayesquad sbc`` and ``bayesquad toys``: many fits on Dask (``bayesquad.calibrate``)."""
import json
import os
import sys

from bayesquad.cli.inputs import InputError

__all__ = ["add_study_parsers"]

_SBC_DESCRIPTION = """\
Simulation-based calibration: draw parameters from the model's prior, simulate a data set
with the model file's simulate(), fit it, and rank each drawn value among the posterior
draws. Ranks are uniform when the fit is calibrated; the report (DIR/report.html) shows rank
histograms with their binomial bands and ECDF-difference plots, with a chi-square test per
parameter. Fits run on a Dask LocalCluster of this machine's cores, or on --scheduler.
Each fit's record is written to DIR/fits/ as it finishes: rerun the same command to resume
(finished fits are not refitted), or raise --fits to extend the study."""

_TOYS_DESCRIPTION = """\
Toy Monte Carlo: simulate data sets at fixed parameters (the model file's TRUTH, or
--truth), fit each, and tabulate pulls ((estimate - truth) / sd) and the coverage of
central intervals. MAP + Laplace (--method map, the default here) is the fast path."""

_EPILOG = """\
examples:
  bayesquad sbc tests/calibration/normal_model.py --fits 200 --out sbc --method map
  bayesquad sbc model.py --fits 500 --out sbc --scheduler tcp://10.0.0.5:8786
  bayesquad toys model.py --fits 1000 --out toys --truth mu=0.3

A cluster on SLURM or HTCondor: start one with dask-jobqueue (e.g.
dask_jobqueue.SLURMCluster(cores=1, processes=1, memory="4GB").scale(50)) and pass its
scheduler address with --scheduler, or call bayesquad.calibrate(..., client=Client(cluster)).

exit codes: 0 ranks uniform (sbc: chi-square p > 0.01 for every parameter) or toys done;
1 a parameter's ranks are not uniform; 2 usage or input error; 130 interrupted (rerun to
resume)."""


def add_study_parsers(sub, formatter, add_general):
    """Add ``sbc`` and ``toys`` to the ``bayesquad`` command's subparsers."""
    for name, desc, method in (("sbc", _SBC_DESCRIPTION, "nuts"),
                               ("toys", _TOYS_DESCRIPTION, "map")):
        p = sub.add_parser(name, help=desc.splitlines()[0].rstrip(":"), description=desc,
                           epilog=_EPILOG, formatter_class=formatter, add_help=False)
        g = p.add_argument_group("inputs")
        g.add_argument("model", metavar="MODEL.py", help="model file with simulate() and PARAMS")
        g.add_argument("--out", metavar="DIR", required=True, help="study directory")
        g.add_argument("--fits", type=int, default=200, help="number of fits (default 200)")
        g = p.add_argument_group("fits")
        g.add_argument("--method", choices=("nuts", "map", "vi"), default=method,
                       help=f"fit method (default {method})")
        g.add_argument("--chains", type=int, default=2, help="NUTS chains per fit (2)")
        g.add_argument("--warmup", type=int, default=300, help="NUTS warm-up steps (300)")
        g.add_argument("--draws", type=int, default=250, help="NUTS draws per chain (250)")
        g.add_argument("--batch-size", default="auto", metavar="K",
                       help="MAP: data sets fitted together in one compiled program "
                            "(default auto: 32 for 64+ fits, else 1)")
        g.add_argument("--rank-draws", type=int, default=99,
                       help="L: draws each value is ranked among (ranks 0..L; default 99)")
        g.add_argument("--fit-model", metavar="FIT.py",
                       help="fit with this model file instead (e.g. a negative control)")
        g.add_argument("--seed", type=int, default=0, help="study seed (0)")
        g.add_argument("--check-quadrature", type=int, default=1, metavar="K",
                       help="run the quadrature check on every K-th fit (1; 0: never)")
        g.add_argument("--simulate", metavar="KEY=VALUE", action="append", default=[],
                       help="extra simulate() argument, e.g. n=300 (repeatable)")
        if name == "toys":
            g.add_argument("--truth", metavar="NAME=VALUE", action="append", default=[],
                           help="fixed parameter value (default: the model file's TRUTH)")
        g = p.add_argument_group("cluster")
        g.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler (default: a LocalCluster here)")
        g.add_argument("--workers", type=int, default=None,
                       help="LocalCluster worker processes (default: one per core)")
        add_general(p)
        p.set_defaults(func=run_study, mode=name)


def _pairs(items, what):
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"{what} {item!r} must be KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _batch_size(text):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise InputError(f"--batch-size must be a positive integer or auto, got {text!r}") \
            from None


def run_study(args):
    """Run ``bayesquad sbc`` / ``toys``; return the exit code."""
    from bayesquad.calibration import calibrate, rank_uniformity  # pylint: disable=import-outside-toplevel
    from bayesquad.report import write_study_html  # pylint: disable=import-outside-toplevel
    options = ({"chains": args.chains, "warmup": args.warmup, "draws": args.draws}
               if args.method == "nuts" else {})
    try:
        ds = calibrate(args.model, args.fits, args.out, mode=args.mode, method=args.method,
                       truth=_pairs(getattr(args, "truth", []), "--truth") or None,
                       fit_options=options, fit_model_file=args.fit_model, seed=args.seed,
                       rank_draws=args.rank_draws, check_quadrature=args.check_quadrature,
                       simulate_kwargs=_pairs(args.simulate, "--simulate"),
                       batch_size=_batch_size(args.batch_size),
                       scheduler=args.scheduler, n_workers=args.workers,
                       progress=not args.quiet and sys.stderr.isatty())
    except (ValueError, TypeError) as err:
        raise InputError(str(err)) from err
    report = write_study_html(ds, os.path.join(args.out, "report.html"))
    ok = int(ds.ok.sum())
    code = 0
    if not args.quiet:
        print(f"bayesquad {args.mode}: {ds.sizes['fit']} fits in {args.out} ({ok} ran, "
              f"{int((~ds.verdict_passed.values).sum())} failed: an error or their verdict)")
    if ok:
        test = rank_uniformity(ds)
        for p, pv, inside in zip(test.param.values, test.p_value.values,
                                 test.ecdf_inside.values):
            pull = ds.pull.sel(param=p).where(ds.ok)
            line = (f"  {p}: pull mean {float(pull.mean()):+.3f} sd {float(pull.std()):.3f}")
            if args.mode == "sbc":
                line += f"; ranks chi-square p = {pv:.3g}, ECDF {'inside' if inside else 'OUTSIDE'} band"
                code = code or int(pv <= 0.01)
            if not args.quiet:
                print(line)
    print(f"report: file://{os.path.abspath(report)}")
    return code
