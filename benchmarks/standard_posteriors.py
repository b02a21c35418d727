"""Metric adaptation on standard posteriors from posteriordb (issue 13).

Five posteriors of posteriordb written as TFP joint distributions (the Stan programs'
priors; Stan's flat priors as Normal(0, 1000), which changes nothing measurable at these
data sizes), sampled with Stan's and nutpie's diagonal metric adaptation at the same
seeds: min bulk ESS, leapfrog steps (gradients) of the sampling phase, ESS per 1,000
gradients, ESS/s; and the posterior means against posteriordb's reference draws (10 x
1,000 draws of Stan), as |mean - ref| / ref sd.

posteriordb is not vendored: point ``--posteriordb`` at a checkout (its
``posterior_database/data/data/*.json.zip`` and ``reference_posteriors/draws/draws``).

    .venv/bin/python benchmarks/standard_posteriors.py --posteriordb DIR [--seeds 1,2]
"""
import argparse
import json
import os
import sys
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np
from _bench_common import cpu_description

FLAT_SD = 1000.0


def _read(root, kind, name):
    sub = {"data": "data/data", "reference": "reference_posteriors/draws/draws"}[kind]
    path = os.path.join(root, "posterior_database", sub, name + ".json.zip")
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read(z.namelist()[0]))


def _models(tf, tfd):
    """``{posterior name: (data name, build(data) -> (model, observed, reference names,
    derived))}``."""
    f64 = tf.float64
    root = tfd.JointDistributionCoroutine.Root

    def c(v):
        return tf.constant(v, f64)

    def flat(name, shape=()):
        d = tfd.Normal(c(0.0), c(FLAT_SD))
        return root(tfd.Sample(d, shape, name=name) if shape else
                    tfd.Normal(c(0.0), c(FLAT_SD), name=name))

    def _theta(v):  # Stan's transformed parameter, recorded with derived=
        return {"theta": v["theta_trans"] * v["tau"][..., None] + v["mu"][..., None]}

    def eight_schools(d):
        y, sigma = np.array(d["y"]), np.array(d["sigma"])

        def model():
            theta_trans = yield root(tfd.Sample(tfd.Normal(c(0.0), c(1.0)), 8,
                                                name="theta_trans"))
            mu = yield root(tfd.Normal(c(0.0), c(5.0), name="mu"))
            tau = yield root(tfd.HalfCauchy(c(0.0), c(5.0), name="tau"))
            theta = theta_trans * tau[..., None] + mu[..., None]
            yield tfd.Independent(tfd.Normal(theta, c(sigma)), 1, name="y")
        names = {"mu": ("mu", None), "tau": ("tau", None),
                 **{f"theta[{i + 1}]": ("theta", i) for i in range(8)}}
        return tfd.JointDistributionCoroutine(model), {"y": y}, names, _theta

    def diamonds(d):
        x = np.array(d["X"])[:, 1:]
        xc = x - x.mean(axis=0)
        y = np.array(d["Y"])
        k = xc.shape[1]

        def model():
            b = yield root(tfd.Sample(tfd.Normal(c(0.0), c(1.0)), k, name="b"))
            intercept = yield root(tfd.StudentT(c(3.0), c(8.0), c(10.0), name="Intercept"))
            sigma = yield root(tfd.HalfStudentT(c(3.0), c(0.0), c(10.0), name="sigma"))
            mean = intercept[..., None] + tf.linalg.matvec(c(xc), b)
            yield tfd.Independent(tfd.Normal(mean, sigma[..., None]), 1, name="Y")
        names = {"Intercept": ("Intercept", None), "sigma": ("sigma", None),
                 **{f"b[{i + 1}]": ("b", i) for i in range(k)}}
        return tfd.JointDistributionCoroutine(model), {"Y": y}, names, None

    def ark(d):
        kk, y = int(d["K"]), np.array(d["y"])
        lags = np.stack([y[kk - j - 1:len(y) - j - 1] for j in range(kk)], axis=-1)
        target = y[kk:]

        def model():
            alpha = yield root(tfd.Normal(c(0.0), c(10.0), name="alpha"))
            beta = yield root(tfd.Sample(tfd.Normal(c(0.0), c(10.0)), kk, name="beta"))
            sigma = yield root(tfd.HalfCauchy(c(0.0), c(2.5), name="sigma"))
            mean = alpha[..., None] + tf.linalg.matvec(c(lags), beta)
            yield tfd.Independent(tfd.Normal(mean, sigma[..., None]), 1, name="y")
        names = {"alpha": ("alpha", None), "sigma": ("sigma", None),
                 **{f"beta[{i + 1}]": ("beta", i) for i in range(kk)}}
        return tfd.JointDistributionCoroutine(model), {"y": target}, names, None

    def logmesquite(d):
        cols = [np.log(np.array(d[k])) for k in
                ("diam1", "diam2", "canopy_height", "total_height", "density")]
        design = np.stack([np.ones(len(cols[0]))] + cols + [np.array(d["group"])], axis=-1)
        y = np.log(np.array(d["weight"]))

        def model():
            beta = yield flat("beta", 7)
            sigma = yield root(tfd.HalfNormal(c(FLAT_SD), name="sigma"))
            mean = tf.linalg.matvec(c(design), beta)
            yield tfd.Independent(tfd.Normal(mean, sigma[..., None]), 1, name="log_weight")
        names = {"sigma": ("sigma", None), **{f"beta[{i + 1}]": ("beta", i) for i in range(7)}}
        return tfd.JointDistributionCoroutine(model), {"log_weight": y}, names, None

    def kidscore_momiq(d):
        mom_iq, y = np.array(d["mom_iq"]), np.array(d["kid_score"])

        def model():
            beta = yield flat("beta", 2)
            sigma = yield root(tfd.HalfCauchy(c(0.0), c(2.5), name="sigma"))
            mean = beta[..., :1] + beta[..., 1:] * c(mom_iq)
            yield tfd.Independent(tfd.Normal(mean, sigma[..., None]), 1, name="kid_score")
        names = {"sigma": ("sigma", None), "beta[1]": ("beta", 0), "beta[2]": ("beta", 1)}
        return tfd.JointDistributionCoroutine(model), {"kid_score": y}, names, None

    def accel_gp(d):
        # brms's approximate (Hilbert-space) GPs for the mean and the log sd, 66 parameters
        y = np.array(d["Y"])
        x_mu, x_sigma = c(np.array(d["Xgp_1"])), c(np.array(d["Xgp_sigma_1"]))
        lam_mu = c(np.array(d["slambda_1"])[:, 0] ** 2)
        lam_sigma = c(np.array(d["slambda_sigma_1"])[:, 0] ** 2)

        def gp(basis, lam, sdgp, lscale, z):
            # sqrt of the squared-exponential kernel's spectral density at the eigenvalues
            spd = (tf.square(sdgp)[..., None] * np.sqrt(2 * np.pi) * lscale[..., None]
                   * tf.exp(-0.5 * tf.square(lscale)[..., None] * lam))
            return tf.linalg.matvec(basis, tf.sqrt(spd) * z)

        def model():
            intercept = yield root(tfd.StudentT(c(3.0), c(-13.0), c(36.0), name="Intercept"))
            sdgp = yield root(tfd.HalfStudentT(c(3.0), c(0.0), c(36.0), name="sdgp_1"))
            lscale = yield root(tfd.InverseGamma(c(1.124909), c(0.0177), name="lscale_1"))
            z = yield root(tfd.Sample(tfd.Normal(c(0.0), c(1.0)), 40, name="zgp_1"))
            intercept_s = yield root(tfd.StudentT(c(3.0), c(0.0), c(10.0),
                                                  name="Intercept_sigma"))
            sdgp_s = yield root(tfd.HalfStudentT(c(3.0), c(0.0), c(36.0), name="sdgp_sigma_1"))
            lscale_s = yield root(tfd.InverseGamma(c(1.124909), c(0.0177),
                                                   name="lscale_sigma_1"))
            z_s = yield root(tfd.Sample(tfd.Normal(c(0.0), c(1.0)), 20, name="zgp_sigma_1"))
            mean = intercept[..., None] + gp(x_mu, lam_mu, sdgp, lscale, z)
            log_sd = intercept_s[..., None] + gp(x_sigma, lam_sigma, sdgp_s, lscale_s, z_s)
            yield tfd.Independent(tfd.Normal(mean, tf.exp(log_sd)), 1, name="Y")
        names = {k: (k, None) for k in ("Intercept", "sdgp_1", "lscale_1", "Intercept_sigma",
                                         "sdgp_sigma_1", "lscale_sigma_1")}
        return tfd.JointDistributionCoroutine(model), {"Y": y}, names, None

    return {"eight_schools-eight_schools_noncentered": ("eight_schools", eight_schools),
            "diamonds-diamonds": ("diamonds", diamonds),
            "arK-arK": ("arK", ark),
            "mesquite-logmesquite": ("mesquite", logmesquite),
            "kidiq-kidscore_momiq": ("kidiq", kidscore_momiq),
            "mcycle_gp-accel_gp": ("mcycle_gp", accel_gp)}


def _reference(root, name):
    try:
        chains = _read(root, "reference", name)
    except FileNotFoundError:  # e.g. a checkout without the large reference files
        return None
    return {k: np.concatenate([np.asarray(ch[k]) for ch in chains]) for k in chains[0]}


#: the metrics compared: Stan's diagonal, nutpie's gradient-based diagonal, Stan's dense
VARIANTS = {"stan": dict(metric_adaptation="stan", dense_mass=False),
            "gradient": dict(metric_adaptation="gradient", dense_mass=False),
            "dense": dict(metric_adaptation="stan", dense_mass=True),
            "low-rank": dict(metric_adaptation="low-rank", dense_mass=True)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--posteriordb", required=True, help="a posteriordb checkout")
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--only", default="", help="comma-separated posterior names")
    p.add_argument("--variants", default="stan,gradient",
                   help=f"comma-separated metrics from {sorted(VARIANTS)}")
    args = p.parse_args(argv)
    import arviz as az
    import tensorflow as tf
    import tensorflow_probability as tfp

    import bayesquad  # noqa: F401
    from bayesquad.inference import sample

    print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.2f}")
    print("| posterior | dim | adaptation | seed | min bulk ESS | gradients | ESS per 1k "
          "gradients | s | ESS/s | max abs(mean - ref)/ref sd |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    wanted = set(filter(None, args.only.split(",")))
    for name, (data_name, build) in _models(tf, tfp.distributions).items():
        if wanted and name not in wanted:
            continue
        model, observed, names, derived = build(_read(args.posteriordb, "data", data_name))
        ref = _reference(args.posteriordb, name)
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        for adaptation in variants:  # compile each sampler before timing
            sample(model, observed, warmup=20, draws=10, progress=False,
                   log_likelihood=False, **VARIANTS[adaptation])
        for seed in (int(s) for s in args.seeds.split(",")):
            for adaptation in variants:
                tic = time.perf_counter()
                dt = sample(model, observed, warmup=args.warmup, draws=args.draws,
                            seed=seed, progress=False, log_likelihood=False,
                            derived=derived, **VARIANTS[adaptation])
                wall = time.perf_counter() - tic
                bulk = az.ess(dt, method="bulk")
                params = [v for v in dt.posterior.data_vars if v != "theta"]
                ess = float(min(bulk[v].values.min() for v in params))
                grads = int(dt.sample_stats["n_steps"].values.sum())
                dim = int(sum(np.prod(dt.posterior[v].shape[2:], dtype=int)
                              for v in params))
                worst = float("nan") if ref is None else 0.0
                for ref_name, (var, index) in (names.items() if ref is not None else ()):
                    draws = dt.posterior[var].values
                    ours = draws[..., index] if index is not None else draws
                    worst = max(worst, abs(float(np.mean(ours)) - float(np.mean(ref[ref_name])))
                                / float(np.std(ref[ref_name])))
                print(f"| {name} | {dim} | {adaptation} | {seed} | {ess:.0f} | {grads} | "
                      f"{1000 * ess / grads:.1f} | {wall:.2f} | {ess / wall:.0f} | "
                      f"{worst:.3f} |", flush=True)


if __name__ == "__main__":
    main()
