"""The six reference workloads written in NumPyro, the way a strong user would.

This module imports JAX: it is only ever imported by the NumPyro worker subprocesses of
``benchmarks/workloads.py`` (never next to TensorFlow, never in the test suite).

Every integral is a fixed Gauss rule evaluated from the unnormalised expression (no closed
forms), with the settings an expert picked per model (issue 6):

- W1: both normalisers by composite Gauss-Legendre, 20 panels x 16 nodes on the window.
- W2: ``int_0^T lambda`` by composite Gauss-Legendre, 50 panels x 16 nodes.
- W3: adaptive Gauss-Hermite, 10 nodes per group, centred at the group's mode (Newton with
  clipped steps from ``u = 0``, stopped when converged, outside autodiff) and scaled by
  its curvature; the latent effects are not sampled.  ``W3u`` is the alternative a
  NumPyro user might pick instead: the 200 effects sampled, non-centred.
- W4: Gauss-Legendre 16 nodes on ``[0, 1]`` after ``u = t v^4`` per subject.
- W5: Gauss-Legendre 32 nodes on a +-8 r window around the integrand's peak
  ``s* = t - r^2/tau``, cut at ``s = 0``.
- W6: the tensor product of composite Gauss-Legendre rules on the rectangle, 16 nodes x
  3 panels on x (10 long) and 16 x 2 on y (6 long): 1,536 nodes, panels about 3 x 3 for
  a hotspot of width 0.8 (1e-6 of the log-likelihood over the posterior region, checked
  against SciPy's cubature when the rule was picked).

Priors are those of WORKLOADS.md.  Every model takes the data as jitted arguments
(``MCMC(..., jit_model_args=True)``); NumPyro still re-traces its sampling loop on every
``run``, see :func:`run_mcmc` and :func:`setup_compile_cache`.
"""
import tempfile
import time

import numpy as np

import jax
import jax.monitoring

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from jax.scipy.special import logsumexp  # noqa: E402
from numpyro.infer import MCMC, NUTS, init_to_median, init_to_uniform  # noqa: E402
from numpyro.infer.util import initialize_model, log_density  # noqa: E402

__all__ = ["MODELS", "PARAMS", "model_args", "run_mcmc", "log_joint", "grad_timer",
           "jit_seconds", "setup_compile_cache"]

_JIT_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
               "/jax/core/compile/jaxpr_to_mlir_module_duration",
               "/jax/core/compile/backend_compile_duration")
_JIT_SECONDS = [0.0]


def _on_event(event, duration, **_):
    if event in _JIT_EVENTS:
        _JIT_SECONDS[0] += duration


jax.monitoring.register_event_duration_secs_listener(_on_event)


def jit_seconds():
    """Seconds spent so far in this process tracing, lowering and compiling with XLA
    (persistent-cache retrievals included: they happen inside backend compilation)."""
    return _JIT_SECONDS[0]


def setup_compile_cache(enabled=True):
    """Turn on JAX's persistent compilation cache in a fresh temporary directory.

    Returns
    -------
    str or None
        The directory (the caller deletes it), or None when ``enabled`` is false.

    Notes
    -----
    ``MCMC.run`` re-traces and re-compiles its sampling loop on every call; with the
    cache the first run compiles from scratch and the second finds its programs there,
    so the second run measures sampling after compilation (tracing is still paid).
    Call before the first compilation of the process.
    """
    if enabled:
        cache = tempfile.mkdtemp(prefix="bench-jax-cache-")
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        return cache
    return None


def _gauss_legendre_panels(lo, hi, panels, nodes):
    """Nodes and weights of composite Gauss-Legendre on [lo, hi] (numpy, static)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(lo, hi, panels + 1)
    half = 0.5 * np.diff(edges)[:, None]
    mid = 0.5 * (edges[:-1] + edges[1:])[:, None]
    return (mid + half * x).ravel(), (half * w).ravel()


_GL16 = np.polynomial.legendre.leggauss(16)
_GL32 = np.polynomial.legendre.leggauss(32)
_GH10 = np.polynomial.hermite.hermgauss(10)  # weight exp(-x^2)


# ---------------------------------------------------------------------------- W1
def w1_model(x, nodes, weights):
    mu = numpyro.sample("mu", dist.Normal(5.0, 1.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    lam = numpyro.sample("lam", dist.HalfNormal(1.0))
    s = numpyro.sample("s", dist.Beta(2.0, 2.0))
    log_g = lambda v: -0.5 * ((v - mu) / sigma) ** 2  # noqa: E731
    log_e = lambda v: -lam * v  # noqa: E731
    log_big_g = logsumexp(log_g(nodes), b=weights)
    log_big_e = logsumexp(log_e(nodes), b=weights)
    peak = jnp.log(s) + log_g(x) - log_big_g
    bkg = jnp.log1p(-s) + log_e(x) - log_big_e
    numpyro.factor("x", jnp.sum(jnp.logaddexp(peak, bkg)))


def w1_args(data):
    nodes, weights = _gauss_legendre_panels(float(data["lo"]), float(data["hi"]), 20, 16)
    return (jnp.asarray(data["x"], jnp.float64), jnp.asarray(nodes), jnp.asarray(weights))


# ---------------------------------------------------------------------------- W2
def w2_model(t, nodes, weights, big_t, omega):
    a = numpyro.sample("a", dist.Normal(0.0, 2.0))
    b = numpyro.sample("b", dist.Normal(0.0, 2.0))
    c = numpyro.sample("c", dist.Normal(0.0, 2.0))
    log_rate = lambda v: a + b * jnp.sin(omega * v) + c * v / big_t  # noqa: E731
    integral = jnp.sum(weights * jnp.exp(log_rate(nodes)))
    numpyro.factor("t", jnp.sum(log_rate(t)) - integral)


def w2_args(data):
    big_t, period = float(data["T"]), float(data["period"])
    nodes, weights = _gauss_legendre_panels(0.0, big_t, 50, 16)
    return (jnp.asarray(data["t"], jnp.float64), jnp.asarray(nodes), jnp.asarray(weights),
            big_t, 2.0 * np.pi / period)


# ---------------------------------------------------------------------------- W3
def _group_modes(eta, y, tau, max_iter=50, max_step=1.0, tol=1e-10):
    """Mode and curvature scale of ``h(u) = sum_i log Bern(y_i | eta_i + u) + log N(u | 0, tau)``
    per group (rows of ``eta``, ``y``).

    ``h`` is concave, so Newton converges from anywhere once steps are clipped (plain
    Newton from 0 overshot to a wrong mode at extreme warm-up points, STACK.md). It stops
    when every group's step is below ``tol`` (6 iterations near the posterior, ~25 at
    extreme warm-up points), at most ``max_iter``. Runs outside autodiff: the
    Gauss-Hermite rule is a valid quadrature for any centre and scale.
    """
    eta, y, tau = jax.lax.stop_gradient((eta, y, tau))
    prec = 1.0 / tau ** 2

    def body(carry):
        it, u, _ = carry
        p = jax.nn.sigmoid(eta + u[:, None])
        grad = jnp.sum(y - p, axis=1) - u * prec
        curv = jnp.sum(p * (1.0 - p), axis=1) + prec
        step = jnp.clip(grad / curv, -max_step, max_step)
        return it + 1, u + step, jnp.max(jnp.abs(step))

    def cond(carry):
        it, _, last = carry
        return (it < max_iter) & (last > tol)

    start = (0, jnp.zeros(eta.shape[0], eta.dtype), jnp.asarray(jnp.inf, eta.dtype))
    _, u, _ = jax.lax.while_loop(cond, body, start)
    p = jax.nn.sigmoid(eta + u[:, None])
    scale = 1.0 / jnp.sqrt(jnp.sum(p * (1.0 - p), axis=1) + prec)
    return u, scale


def w3_model(x, y, gh_x, gh_w):
    b0 = numpyro.sample("b0", dist.Normal(0.0, 2.5))
    b1 = numpyro.sample("b1", dist.Normal(0.0, 2.5))
    tau = numpyro.sample("tau", dist.HalfNormal(2.0))
    eta = b0 + b1 * x  # [G, n]
    mode, scale = _group_modes(eta, y, tau)
    u = mode[:, None] + jnp.sqrt(2.0) * scale[:, None] * gh_x  # [G, K]
    logits = eta[:, :, None] + u[:, None, :]  # [G, n, K]
    log_lik = jnp.sum(y[:, :, None] * logits - jnp.logaddexp(0.0, logits), axis=1)
    log_prior = -0.5 * (u / tau) ** 2 - jnp.log(tau) - 0.5 * jnp.log(2.0 * jnp.pi)
    # int f(u) du = sqrt(2) s sum_k w_k exp(x_k^2) f(m + sqrt(2) s x_k)
    log_f = log_lik + log_prior + gh_x ** 2
    per_group = logsumexp(log_f, b=gh_w, axis=1) + jnp.log(jnp.sqrt(2.0) * scale)
    numpyro.factor("y", jnp.sum(per_group))


def _grouped(data):
    g = np.asarray(data["group"])
    n_groups = int(data["n_groups"])
    order = np.argsort(g, kind="stable")
    x = np.asarray(data["x"], float)[order].reshape(n_groups, -1)
    y = np.asarray(data["y"], float)[order].reshape(n_groups, -1)
    return x, y


def w3_args(data):
    x, y = _grouped(data)
    return (jnp.asarray(x), jnp.asarray(y), jnp.asarray(_GH10[0]), jnp.asarray(_GH10[1]))


def w3u_model(x, y):
    """W3 with the 200 group effects sampled, non-centred (no integral)."""
    b0 = numpyro.sample("b0", dist.Normal(0.0, 2.5))
    b1 = numpyro.sample("b1", dist.Normal(0.0, 2.5))
    tau = numpyro.sample("tau", dist.HalfNormal(2.0))
    with numpyro.plate("groups", x.shape[0]):
        u_raw = numpyro.sample("u_raw", dist.Normal(0.0, 1.0))
    logits = b0 + b1 * x + (tau * u_raw)[:, None]
    numpyro.factor("y", jnp.sum(y * logits - jnp.logaddexp(0.0, logits)))


def w3u_args(data):
    x, y = _grouped(data)
    return (jnp.asarray(x), jnp.asarray(y))


# ---------------------------------------------------------------------------- W4
def w4_model(time_, event, z, v, w):
    g0 = numpyro.sample("g0", dist.Normal(0.0, 2.0))
    g1 = numpyro.sample("g1", dist.Normal(0.0, 2.0))
    k0 = numpyro.sample("k0", dist.Normal(0.0, 2.0))
    k1 = numpyro.sample("k1", dist.Normal(0.0, 2.0))
    log_h = lambda u, zz: g0 + g1 * jnp.log(u) + (k0 + k1 * u) * zz  # noqa: E731
    # H(t) = int_0^t h(u) du with u = t v^4, du = 4 t v^3 dv, v in (0, 1)
    t, zz = time_[:, None], z[:, None]
    u = t * v ** 4
    log_terms = log_h(u, zz) + jnp.log(4.0 * t * v ** 3)
    big_h = jnp.sum(w * jnp.exp(log_terms), axis=1)
    numpyro.factor("time", jnp.sum(event * log_h(time_, z)) - jnp.sum(big_h))


def w4_args(data):
    v, w = _GL16
    return (jnp.asarray(data["time"], jnp.float64), jnp.asarray(data["event"], jnp.float64),
            jnp.asarray(data["z"], jnp.float64), jnp.asarray(0.5 * (v + 1.0)),
            jnp.asarray(0.5 * w))


# ---------------------------------------------------------------------------- W5
def w5_model(t, x, w):
    tau = numpyro.sample("tau", dist.HalfNormal(3.0))
    r = numpyro.sample("r", dist.HalfNormal(1.0))

    def log_f(s):  # log[(1/tau) exp(-s/tau) Normal(t - s | 0, r)], s >= 0
        return (-jnp.log(tau) - s / tau - 0.5 * ((t[:, None] - s) / r) ** 2
                - jnp.log(r) - 0.5 * jnp.log(2.0 * jnp.pi))

    peak = t - r ** 2 / tau  # argmax of the unrestricted integrand
    lo = jnp.maximum(peak - 8.0 * r, 0.0)
    hi = jnp.maximum(peak, 0.0) + 8.0 * r
    half = 0.5 * (hi - lo)
    s = (0.5 * (hi + lo))[:, None] + half[:, None] * x
    numpyro.factor("t", jnp.sum(logsumexp(log_f(s), b=w, axis=1) + jnp.log(half)))


def w5_args(data):
    x, w = _GL32
    return (jnp.asarray(data["t"], jnp.float64), jnp.asarray(x), jnp.asarray(w))


# ---------------------------------------------------------------------------- W6
def w6_model(x, y, gx, gy, weights):
    a = numpyro.sample("a", dist.Normal(0.0, 3.0))
    b = numpyro.sample("b", dist.Normal(0.0, 2.0))
    c = numpyro.sample("c", dist.HalfNormal(3.0))
    x0 = numpyro.sample("x0", dist.Normal(6.0, 1.0))
    y0 = numpyro.sample("y0", dist.Normal(3.5, 1.0))
    w = numpyro.sample("w", dist.LogNormal(0.0, 0.5))

    def log_rate(u, v):
        return a + b * u / 10.0 + c * jnp.exp(-((u - x0) ** 2 + (v - y0) ** 2) / (2.0 * w * w))

    integral = jnp.sum(weights * jnp.exp(log_rate(gx, gy)))
    numpyro.factor("xy", jnp.sum(log_rate(x, y)) - integral)


def w6_args(data):
    xs, wx = _gauss_legendre_panels(0.0, float(data["X"]), 3, 16)
    ys, wy = _gauss_legendre_panels(0.0, float(data["Y"]), 2, 16)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    return (jnp.asarray(data["x"], jnp.float64), jnp.asarray(data["y"], jnp.float64),
            jnp.asarray(gx.ravel()), jnp.asarray(gy.ravel()),
            jnp.asarray(np.outer(wx, wy).ravel()))


#: workload -> (model, args builder); W3u is NumPyro only (latent effects sampled)
MODELS = {
    "W1": (w1_model, w1_args),
    "W2": (w2_model, w2_args),
    "W3": (w3_model, w3_args),
    "W3u": (w3u_model, w3u_args),
    "W4": (w4_model, w4_args),
    "W5": (w5_model, w5_args),
    "W6": (w6_model, w6_args),
}
#: parameters reported (W3u's u_raw are nuisance and left out)
PARAMS = {"W1": ("mu", "sigma", "lam", "s"), "W2": ("a", "b", "c"),
          "W3": ("b0", "b1", "tau"), "W3u": ("b0", "b1", "tau"),
          "W4": ("g0", "g1", "k0", "k1"), "W5": ("tau", "r"),
          "W6": ("a", "b", "c", "x0", "y0", "w")}


def model_args(workload, data):
    return MODELS[workload][1](data)


def _init(name):
    if name == "median":
        return init_to_median()
    if name == "uniform":
        return init_to_uniform()
    raise ValueError(f"init must be 'median' or 'uniform', got {name!r}")


def run_mcmc(workload, data, *, chains, warmup, draws, seed, chain_method, init="median",
             dense_mass=False):
    """Two NUTS runs (compile + first, then second with seed + 1) on the same MCMC object.

    Returns
    -------
    dict
        ``first_s``, ``second_s`` (wall times), ``jit_first_s``, ``jit_second_s``
        (tracing + compilation inside each run, see :func:`jit_seconds`), ``posterior``
        (name -> [chain, draw] numpy array of the second run), ``diverging``
        ([chain, draw] bool).

    Notes
    -----
    NumPyro traces and compiles its sampling loop again on every ``run`` (a new closure
    each time); only a persistent compilation cache (set up by the caller) lets the
    second run skip the XLA compilation.
    """
    model, build = MODELS[workload]
    args = build(data)
    kernel = NUTS(model, init_strategy=_init(init), target_accept_prob=0.8,
                  max_tree_depth=10, dense_mass=dense_mass)
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=draws, num_chains=chains,
                chain_method=chain_method, progress_bar=False, jit_model_args=True)
    times, jit = [], []
    for k in range(2):
        jit0, tic = jit_seconds(), time.perf_counter()
        mcmc.run(jax.random.PRNGKey(seed + k), *args, extra_fields=("diverging",))
        samples = mcmc.get_samples(group_by_chain=True)
        jax.block_until_ready(samples)
        times.append(time.perf_counter() - tic)
        jit.append(jit_seconds() - jit0)
    diverging = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"])
    posterior = {k: np.asarray(samples[k]) for k in PARAMS[workload]}
    return {"first_s": times[0], "second_s": times[1], "jit_first_s": jit[0],
            "jit_second_s": jit[1], "posterior": posterior, "diverging": diverging}


def log_joint(workload, data, params):
    """Log prior + log-likelihood at constrained ``params`` (for the agreement check)."""
    model, build = MODELS[workload]
    value, _ = log_density(model, build(data), {}, {k: jnp.asarray(v, jnp.float64)
                                                    for k, v in params.items()})
    return float(value)


def grad_timer(workload, data, chains, seed=0):
    """``f()`` evaluating the potential and its gradient for ``chains`` points at once.

    The points are prior-median initial points in NumPyro's unconstrained space (the
    space NUTS moves in), one per chain, evaluated by ``vmap`` in one jitted call, as
    ``chain_method="vectorized"`` does.
    """
    model, build = MODELS[workload]
    args = build(data)
    keys = jax.random.split(jax.random.PRNGKey(seed), chains)
    info = initialize_model(keys, model, model_args=args, init_strategy=init_to_median())
    z = info.param_info.z
    potential = info.potential_fn
    fn = jax.jit(jax.vmap(jax.value_and_grad(potential)))
    return lambda: jax.block_until_ready(fn(z))
