"""``bayesquad fit``: run a fit, diagnose it, write its outputs.

The outputs of a fit directory: ``posterior.nc`` (the DataTree, with the stored verdict and
``cli_*`` attrs saying what was run), ``summary.csv`` and ``report.html``; how they are
written so that a kill never leaves them truncated or mixed is in
:mod:`bayesquad.cli.outputs`; ``bayesquad report`` (:mod:`bayesquad.cli.report`) rebuilds the
report from ``posterior.nc``.
"""
import os
import shlex
import sys
import warnings

from bayesquad.cli.inputs import InputError, load_inputs, one_line
from bayesquad.cli.outputs import CHECKPOINT, POSTERIOR, REPORT, SUMMARY, Outputs, summary_table

__all__ = ["POSTERIOR", "REPORT", "SUMMARY", "run_fit"]

_SHOWN_ROWS = 20  # summary rows printed; the CSV has all of them


def _plan(args):
    if args.method == "nuts":
        return (f"NUTS: {args.chains} chain{'s' if args.chains > 1 else ''} x "
                f"({args.warmup} warm-up + {args.draws} draws), seed {args.seed}"
                + ("" if args.jit else ", no XLA"))
    if args.method == "vi":
        return (f"VI: {args.vi_family} Gaussian, {args.vi_steps} steps, {args.draws} draws, "
                f"seed {args.seed}")
    return f"MAP + Laplace approximation ({args.draws} draws), seed {args.seed}"


def _fit(args, inputs, checkpoint):
    """Run the chosen method; return the DataTree.  Its ValueErrors are input errors."""
    from bayesquad.inference import find_map, fit_vi, sample
    try:
        if args.method == "nuts":
            return sample(inputs.model, inputs.observed, chains=args.chains,
                          warmup=args.warmup, draws=args.draws, seed=args.seed,
                          init=args.init, target_accept=args.target_accept,
                          max_tree_depth=args.max_tree_depth, jit=args.jit,
                          progress=not args.quiet,
                          checkpoint=checkpoint,
                          log_likelihood=inputs.pointwise_log_likelihood and args.loo,
                          derived=inputs.derived, bijectors=inputs.bijectors)
        if args.method == "vi":
            return fit_vi(inputs.model, inputs.observed, family=args.vi_family,
                          steps=args.vi_steps, draws=args.draws, seed=args.seed,
                          init=args.init, jit=args.jit, derived=inputs.derived,
                          bijectors=inputs.bijectors)
        result = find_map(inputs.model, inputs.observed, seed=args.seed,
                          laplace_draws=args.draws, derived=inputs.derived,
                          bijectors=inputs.bijectors)
    except ValueError as err:
        # the inference layer raises ValueError for inputs it cannot work with (a
        # non-finite log density at the start, a checkpoint of another run, ...)
        raise InputError(f"{args.method} could not run: {one_line(err)}") from err
    if "posterior" not in result.datatree.children:
        raise InputError(f"map found a point where the Hessian is not positive definite "
                         f"({result.message}), so there is no Laplace approximation to "
                         f"draw from; try --method nuts")
    return result.datatree


def _timing(dt, method):
    a = dt.attrs
    if method == "nuts" and "total_time_s" in a:
        plans = _plan_words(a.get("quadrature_plans"))
        return (f"NUTS done in {a['total_time_s']:.0f} s (start and MAP {a['init_time_s']:.0f} "
                f"s, quadrature plans {a.get('planning_time_s', 0.0):.0f} s, compile "
                f"{a['compile_time_s']:.0f} s, warm-up {a['warmup_time_s']:.0f} s, "
                f"sampling {a['sampling_time_s']:.0f} s, log-likelihood "
                f"{a['log_likelihood_time_s']:.0f} s)\n  start: {a.get('init_message', '?')}"
                + "".join(f"\n  plan: {line}" for line in plans))
    if method == "vi":
        return (f"VI done: ELBO {'converged' if a.get('vi_converged') else 'NOT converged'} "
                f"(relative change {a.get('vi_relative_change', float('nan')):.3g})")
    return f"MAP done: {a.get('map_message', '')}"


def _plan_words(text):
    """One line per planned integral (``key: description``) from the attrs' JSON."""
    if not text:
        return []
    import json
    data = json.loads(text)
    plans = data.get("plans", {})
    if not plans:
        why = data.get("report", {}).get("meta", {}).get("rejected")
        return [f"none ({why})"] if why else []
    return [f"{key}: {p['description']}" for key, p in sorted(plans.items())]


def _summary_text(summary):
    cols = [c for c in ("mean", "sd", "eti89_lb", "eti89_ub", "ess_bulk", "r_hat")
            if c in summary.columns]
    shown = summary[cols].head(_SHOWN_ROWS)
    fmt = {c: (lambda v: f"{v:.4g}") for c in cols}
    fmt.update({"ess_bulk": lambda v: f"{v:.0f}", "r_hat": lambda v: f"{v:.3f}"})
    text = shown.to_string(formatters=fmt)
    if len(summary) > _SHOWN_ROWS:
        text += f"\n... {len(summary) - _SHOWN_ROWS} more rows in {SUMMARY}"
    return text


def _posterior_predictive(args, inputs, dt, warn):
    simulate = getattr(inputs.module, "simulate", None)
    if not args.ppc_draws or not callable(simulate):
        return
    from bayesquad.report import add_posterior_predictive
    to_observed = getattr(inputs.module, "observed", None)
    if callable(to_observed):
        # simulate() returns a data set like the .npz; the model file's observed() says
        # how data become the observed variables (W6: x and y -> the [n, 2] events xy)
        raw_simulate = simulate

        def simulate(seed, **params):
            out = raw_simulate(seed, **params)
            return {**out, **to_observed(out)}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            # a simulate() that fails is reported as a RuntimeWarning, the fit is kept
            add_posterior_predictive(dt, simulate, inputs.observed_names,
                                     draws=args.ppc_draws, seed=args.seed)
    except Exception as err:
        if args.debug:
            raise
        warn(f"posterior predictive check skipped: {type(err).__name__}: {one_line(err)}")
        return
    for w in caught:
        if issubclass(w.category, RuntimeWarning):
            warn(one_line(w.message))


def run_fit(args):
    """The ``fit`` command (``args`` from the parser); return the exit code.

    Notes
    -----
    The verdict is computed in this process, right after the fit, so its quadrature
    check can re-evaluate the live model; it is stored in ``posterior.nc``, and ``report``
    reuses it rather than diagnosing again (a saved file carries no model).  The outputs
    are staged under temporary names and put in place together at the end
    (:class:`~bayesquad.cli.outputs.Outputs`); if the report fails, ``posterior.nc`` and
    ``summary.csv`` are still put in place and ``bayesquad report DIR`` can retry.
    """
    # the data's shapes are checked by the fit itself (its ValueError is an input error):
    # checking them here too would cost a second eager evaluation of the model
    inputs = load_inputs(args.model, args.data)
    outputs = Outputs(args.out, checkpoint=args.checkpoint)
    checkpoint = str(outputs.final(CHECKPOINT)) if args.checkpoint else None
    try:
        return _run_fit(args, inputs, outputs, checkpoint)
    except KeyboardInterrupt:
        outputs.discard()
        outputs.tidy()
        kept = (f"every finished chunk is saved in '{checkpoint}': rerun the same command "
                f"to resume there" if checkpoint is not None else
                "rerun with --checkpoint to be able to resume after an interrupt")
        previous = outputs.previous()
        if previous:
            kept += f"; '{args.out}' still holds the earlier run's {', '.join(previous)}"
        raise KeyboardInterrupt(kept) from None
    except BaseException:
        outputs.discard()
        outputs.tidy()
        raise


def _run_fit(args, inputs, outputs, checkpoint):
    echo = (lambda *a: None) if args.quiet else print

    def warn(msg):
        print(f"bayesquad fit: warning: {msg}", file=sys.stderr)

    out = outputs.dir
    title = args.title or inputs.name
    echo(f"bayesquad fit: {inputs.name} ({inputs.model_path})")
    echo(f"  data: {inputs.data_path}")
    echo(f"  {_plan(args)}")
    if outputs.leftovers:
        warn(f"removed partial files of an interrupted earlier run from '{out}': "
             f"{', '.join(outputs.leftovers)}")
    previous = outputs.previous()
    if previous:
        echo(f"  '{out}' holds an earlier run's {', '.join(previous)}: they are replaced "
             f"together when this fit has finished, and kept if it does not finish")
    if args.method == "nuts":
        first = "finding a MAP start and compiling" if args.init == "map" else "compiling"
        echo(f"  {first} first, then sampling with a progress bar")
    dt = _fit(args, inputs, checkpoint)
    echo(_timing(dt, args.method))
    from bayesquad.diagnostics import diagnose
    from bayesquad.report import store_verdict, write_html
    # the model is remembered by the fit: the quadrature check runs
    verdict = diagnose(dt, gate_on_loo=getattr(args, "gate_on_loo", False))
    echo("")
    echo(str(verdict))
    _posterior_predictive(args, inputs, dt, warn)
    dt.attrs.update({"cli_command": shlex.join(args.argv), "cli_model_file": inputs.model_path,
                     "cli_data_file": inputs.data_path, "cli_method": args.method,
                     "cli_title": title, "cli_cwd": os.getcwd()})
    store_verdict(dt, verdict)  # after the attrs: it records the run id it belongs to
    outputs.stage(POSTERIOR, dt.to_netcdf)
    summary = summary_table(dt)
    outputs.stage(SUMMARY, lambda tmp: summary.to_csv(tmp, index_label="parameter"))
    echo("")
    echo(_summary_text(summary))
    try:
        # no verdict argument: the report shows the one stored in the DataTree, as
        # `bayesquad report` does when it rebuilds the page
        outputs.stage(REPORT, lambda tmp: write_html(dt, tmp, title=title))
    except Exception:
        # the fit is worth keeping without its report: `bayesquad report DIR` retries
        outputs.commit()
        warn(f"the report could not be written; {POSTERIOR} and {SUMMARY} are in '{out}', "
             f"and 'bayesquad report {out}' retries the report")
        raise
    outputs.commit()
    echo("")
    print(f"posterior: {out / POSTERIOR}")
    print(f"summary:   {out / SUMMARY}")
    print(f"verdict:   {verdict.headline()} (exit code {0 if verdict.passed else 1})")
    print(f"report:    {(out / REPORT).resolve().as_uri()}")
    return 0 if verdict.passed else 1
