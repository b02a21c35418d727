"""Fit W6 ``spatial_poisson`` (models/spatial_poisson.py) with NUTS on its bundled data.

1,951 events on the rectangle [0, 10] x [0, 6] of a Poisson process with a log-linear
trend and a Gaussian hotspot; the integral of the intensity over the rectangle by a
product Gauss–Legendre rule that the fit plans (``bayesquad.SpatialPoissonProcess``).

Loads ``models/data/spatial_poisson.npz`` (the WORKLOADS.md reference data), samples 4
chains with NUTS (XLA), prints ``bayesquad.diagnostics.diagnose``'s verdict and the
posterior next to the truth, and with ``--report DIR`` writes ``DIR/report.html``.
``bayesquad fit models/spatial_poisson.py --data models/data/spatial_poisson.npz`` does
the same and adds the posterior predictive map of the events.

Run: ``.venv/bin/python examples/model_spatial_poisson.py``
(under a minute on 2 cores with the defaults;
options ``--chains``, ``--warmup``, ``--draws``, ``--seed``, ``--report DIR``).
"""
from _fit_workload import run

if __name__ == "__main__":
    run("spatial_poisson", __doc__)
