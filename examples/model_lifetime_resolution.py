"""Fit W5 ``lifetime_resolution`` (models/lifetime_resolution.py) with NUTS on its bundled data.

5,000 exponential lifetimes (mean tau) smeared by Gaussian resolution r; each event's
density is the convolution integral over [0, inf) by quadrature (``bayesquad.Convolved``).

Loads ``models/data/lifetime_resolution.npz`` (the WORKLOADS.md reference data),
samples 4 chains with NUTS (XLA), prints ``bayesquad.diagnostics.diagnose``'s verdict
and the posterior next to the truth, and with ``--report DIR`` writes
``DIR/report.html``.

Run: ``.venv/bin/python examples/model_lifetime_resolution.py``
(about 2.5 minutes on 2 cores with the defaults;
options ``--chains``, ``--warmup``, ``--draws``, ``--seed``, ``--report DIR``).
"""
from _fit_workload import run

if __name__ == "__main__":
    run("lifetime_resolution", __doc__, warmup=500, draws=500)
