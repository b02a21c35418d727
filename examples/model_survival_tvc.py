"""Fit W4 ``survival_tvc`` (models/survival_tvc.py) with NUTS on its bundled data.

1,000 right-censored survival times with hazard
``exp(g0 + g1 log t + (k0 + k1 t) z)``; each subject's cumulative hazard by quadrature
(``bayesquad.SurvivalFromHazard``).

Loads ``models/data/survival_tvc.npz`` (the WORKLOADS.md reference data),
samples 4 chains with NUTS (XLA), prints ``bayesquad.diagnostics.diagnose``'s verdict
and the posterior next to the truth, and with ``--report DIR`` writes
``DIR/report.html``.

Run: ``.venv/bin/python examples/model_survival_tvc.py``
(about 2 minutes on 2 cores with the defaults;
options ``--chains``, ``--warmup``, ``--draws``, ``--seed``, ``--report DIR``).
"""
from _fit_workload import run

if __name__ == "__main__":
    run("survival_tvc", __doc__,
        note="these data favour k0 near 0.83 (truth 0.7); compare with a "
             "reference posterior, not with the truth")
