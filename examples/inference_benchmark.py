"""ESS/s of ``bayesquad.inference.sample`` vs TFP's ``windowed_adaptive_nuts`` on a W1-like model.

W1 (../shared/benchmarks/WORKLOADS.md): 20,000 events on [0, 10] from a Gaussian peak on an
exponential background, both shapes normalised by 64-node Gauss-Legendre quadrature
(``bayesquad.distributions.Normalized``).  Both samplers get the same joint distribution,
4 chains, 1000 warm-up + 1000 draws, XLA; each is run twice in this process and the second
run is timed.  Also measures the cost of chunking (chunk_size=50 vs one chunk).

Run: ``.venv/bin/python examples/inference_benchmark.py [N_EVENTS]``
"""
import sys
import time

import numpy as np

import bayesquad  # noqa: F401
import arviz as az
import tensorflow as tf
import tensorflow_probability as tfp
from bayesquad.distributions import Normalized
from bayesquad.inference import sample

tfd = tfp.distributions
F64 = tf.float64
N = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000


def simulate(n, mu=5.0, sigma=0.5, lam=0.3, s=0.2, seed=0):
    rng = np.random.default_rng(seed)
    n_sig = rng.binomial(n, s)
    sig = rng.normal(mu, sigma, size=4 * n_sig)
    sig = sig[(sig >= 0) & (sig <= 10)][:n_sig]
    u = rng.uniform(size=n - n_sig)
    bkg = -np.log1p(-u * (1 - np.exp(-10 * lam))) / lam  # inverse CDF on [0, 10]
    return rng.permutation(np.concatenate([sig, bkg]))


def model(n):
    gl = dict(method="gauss-legendre", nodes=64, panels=1)

    def coro():
        mu = yield tfd.Normal(tf.constant(5.0, F64), 1.0, name="mu")
        sigma = yield tfd.HalfNormal(tf.constant(1.0, F64), name="sigma")
        lam = yield tfd.HalfNormal(tf.constant(1.0, F64), name="lam")
        s = yield tfd.Beta(tf.constant(2.0, F64), 2.0, name="s")
        peak = Normalized(lambda x, mu, sigma: -0.5 * ((x - mu) / sigma) ** 2, 0.0, 10.0,
                          params={"mu": mu, "sigma": sigma}, **gl)
        bkg = Normalized(lambda x, lam: -lam * x, 0.0, 10.0, params={"lam": lam}, **gl)
        mix = tfd.Mixture(tfd.Categorical(probs=tf.stack([s, 1 - s], -1)), [peak, bkg])
        yield tfd.Sample(mix, n, name="x")
    return tfd.JointDistributionCoroutine(coro)


def min_ess(posterior):
    ess = az.ess(az.from_dict({"posterior": posterior}))
    return min(float(ess[v].min()) for v in ess.data_vars)


def run_bayesquad(jd, x, **kw):
    tic = time.perf_counter()
    dt = sample(jd, {"x": x}, chains=4, warmup=1000, draws=1000, seed=1, progress=False,
                log_likelihood=False, **kw)
    wall = time.perf_counter() - tic
    post = {v: dt.posterior[v].values for v in dt.posterior.data_vars}
    return wall, min_ess(post), dt


def run_tfp(jd, x, seed):
    @tf.function(jit_compile=True, autograph=False)
    def go(init, seed):
        return tfp.experimental.mcmc.windowed_adaptive_nuts(
            1000, jd, n_chains=4, num_adaptation_steps=1000, current_state=init, seed=seed,
            x=tf.constant(x))
    init = dict(zip(["mu", "sigma", "lam", "s"],
                    [tf.constant(v, F64) + tf.zeros([4], F64) for v in (5.0, 0.5, 0.3, 0.2)]))
    tic = time.perf_counter()
    draws, trace = go(init, tf.constant([seed, 1]))
    wall = time.perf_counter() - tic
    post = {k: np.swapaxes(v.numpy(), 0, 1) for k, v in draws._asdict().items()}
    return wall, min_ess(post), int(np.sum(trace["diverging"].numpy()))


def main():
    x = simulate(N)
    jd = model(N)
    rows = []
    for label, fn in [("bayesquad.sample", lambda: run_bayesquad(jd, x)),
                      ("tfp windowed_adaptive_nuts", lambda: run_tfp(jd, x, 1))]:
        first = fn()[0]
        wall, ess, extra = fn()
        rows.append((label, first, wall, ess, ess / wall))
        note = ""
        if label.startswith("bayesquad"):
            mcmc = extra.attrs["warmup_time_s"] + extra.attrs["sampling_time_s"]
            note = (f"  (MAP init {extra.attrs['init_time_s']:.1f} s; NUTS alone {mcmc:.1f} s, "
                    f"{ess / mcmc:.1f} ESS/s; divergences "
                    f"{int(extra.sample_stats['diverging'].sum())})")
        else:
            note = f"  (divergences {extra})"
        print(f"{label:28s} compile+1st {first:7.1f} s  2nd {wall:7.1f} s  "
              f"min bulk ESS {ess:7.0f}  ESS/s {ess / wall:7.1f}{note}", flush=True)
    print(f"ratio bayesquad/tfp ESS/s: {rows[0][4] / rows[1][4]:.2f}")
    wall_1, _, dt1 = run_bayesquad(jd, x, chunk_size=2000)  # compiles the one-chunk variant
    wall_1, _, dt1 = run_bayesquad(jd, x, chunk_size=2000)
    wall_50, _, dt50 = run_bayesquad(jd, x, chunk_size=50)
    t1 = dt1.attrs["warmup_time_s"] + dt1.attrs["sampling_time_s"]
    t50 = dt50.attrs["warmup_time_s"] + dt50.attrs["sampling_time_s"]
    same = all(np.array_equal(dt1.posterior[v].values, dt50.posterior[v].values)
               for v in dt1.posterior.data_vars)
    print(f"chunking: 40 chunks of 50 steps {t50:.1f} s vs one chunk {t1:.1f} s "
          f"(overhead {100 * (t50 / t1 - 1):+.1f} %); identical draws: {same}; "
          f"init (MAP) {dt50.attrs['init_time_s']:.1f} s")


if __name__ == "__main__":
    main()
