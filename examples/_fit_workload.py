"""Shared runner of the ``model_*.py`` examples: fit one workload model on its bundled data.

Each example names its model (``models/<name>.py``), its default chain lengths and an
optional note; this module loads the model and data, samples with NUTS, prints
``bayesquad.diagnose``'s verdict and the posterior next to the truth, and with
``--report DIR`` writes ``DIR/report.html`` (``bayesquad.report.write_html``).
"""
import argparse
import importlib.util
import os
import time

import numpy as np

import bayesquad  # noqa: F401  (silences TensorFlow's start-up logging)
from bayesquad.diagnostics import diagnose
from bayesquad.inference import sample

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_model(name):
    """Import ``models/<name>.py`` by path (``models/`` is not a package)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "models",
                                                                     name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def posterior_table(dt, truth):
    """Rows ``param truth mean sd 5% 95% r_hat ess_bulk`` from the DataTree."""
    import arviz as az
    ess, rhat = az.ess(dt), az.rhat(dt)
    lines = [f"{'param':>8} {'truth':>8} {'mean':>9} {'sd':>8} {'5%':>9} {'95%':>9} "
             f"{'r_hat':>6} {'ess_bulk':>8}"]
    for name, true in truth.items():
        draws = dt.posterior[name].values.ravel()
        q5, q95 = np.quantile(draws, [0.05, 0.95])
        lines.append(f"{name:>8} {true:8.3f} {draws.mean():9.4f} {draws.std():8.4f} "
                     f"{q5:9.4f} {q95:9.4f} {float(rhat[name]):6.3f} "
                     f"{float(ess[name]):8.0f}")
    return "\n".join(lines)


def write_report(dt, directory):
    from bayesquad.report import write_html
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "report.html")
    write_html(dt, path)
    print(f"report: {path}")


def run(name, doc, warmup=1000, draws=1000, note=None, argv=None):
    """Parse the command line, fit ``models/<name>.py`` and print the results."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--draws", type=int, default=draws)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report", metavar="DIR", help="write DIR/report.html")
    args = parser.parse_args(argv)

    model = load_model(name)
    data = model.load_data()
    tic = time.perf_counter()
    dt = sample(model.build(data), model.observed(data), chains=args.chains,
                warmup=args.warmup, draws=args.draws, seed=args.seed,
                log_likelihood=model.POINTWISE_LOG_LIKELIHOOD)
    wall = time.perf_counter() - tic
    print(f"\n{name}: {args.chains} chains x ({args.warmup} warm-up + {args.draws} draws) in "
          f"{wall:.0f} s (compile {dt.attrs['compile_time_s']:.0f} s, sampling "
          f"{dt.attrs['sampling_time_s']:.0f} s)\n")
    print(diagnose(dt))
    print()
    print(posterior_table(dt, model.TRUTH))
    if note:
        print("\nnote: " + note)
    if args.report:
        write_report(dt, args.report)
