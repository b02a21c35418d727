"""Fit W3 ``glmm_logistic`` (models/glmm_logistic.py) with NUTS on its bundled data.

Random-intercept logistic regression, 200 groups of 20: each group's intercept is
integrated out by adaptive Gauss-Hermite quadrature (``bayesquad.GaussianLatentMarginal``);
only b0, b1, tau are sampled.

Loads ``models/data/glmm_logistic.npz`` (the WORKLOADS.md reference data),
samples 4 chains with NUTS (XLA), prints ``bayesquad.diagnostics.diagnose``'s verdict
and the posterior next to the truth, and with ``--report DIR`` writes
``DIR/report.html``.

Run: ``.venv/bin/python examples/model_glmm_logistic.py``
(about 2 minutes on 2 cores with the defaults;
options ``--chains``, ``--warmup``, ``--draws``, ``--seed``, ``--report DIR``).
"""
from _fit_workload import run

if __name__ == "__main__":
    run("glmm_logistic", __doc__, warmup=500, draws=500,
        note="these data favour tau near 1.03 (truth 1.2); compare with a "
             "reference posterior, not with the truth")
