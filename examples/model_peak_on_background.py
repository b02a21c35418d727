"""Fit W1 ``peak_on_background`` (models/peak_on_background.py) with NUTS on its bundled data.

20,000 events on [0, 10] from a Gaussian peak (mu, sigma) with fraction s on an
exponential background (lam); both shapes are normalised on the window by quadrature
(``bayesquad.Normalized``).

Loads ``models/data/peak_on_background.npz`` (the WORKLOADS.md reference data),
samples 4 chains with NUTS (XLA), prints ``bayesquad.diagnostics.diagnose``'s verdict
and the posterior next to the truth, and with ``--report DIR`` writes
``DIR/report.html``.

Run: ``.venv/bin/python examples/model_peak_on_background.py``
(about 2 minutes on 2 cores with the defaults;
options ``--chains``, ``--warmup``, ``--draws``, ``--seed``, ``--report DIR``).
"""
from _fit_workload import run

if __name__ == "__main__":
    run("peak_on_background", __doc__)
