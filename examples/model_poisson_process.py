"""Fit W2 ``poisson_process`` (models/poisson_process.py) with NUTS on its bundled data.

~2,500 event times on [0, 1000] of a Poisson process with intensity
``exp(a + b sin(2 pi t / 24) + c t / 1000)``; the integrated intensity (42 periods) by
quadrature (``bayesquad.PoissonProcess``).

Loads ``models/data/poisson_process.npz`` (the WORKLOADS.md reference data),
samples 4 chains with NUTS (XLA), prints ``bayesquad.diagnostics.diagnose``'s verdict
and the posterior next to the truth, and with ``--report DIR`` writes
``DIR/report.html``.

Run: ``.venv/bin/python examples/model_poisson_process.py``
(under a minute on 2 cores with the defaults;
options ``--chains``, ``--warmup``, ``--draws``, ``--seed``, ``--report DIR``).
"""
from _fit_workload import run

if __name__ == "__main__":
    run("poisson_process", __doc__)
