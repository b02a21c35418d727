"""NumPyro's compiled potential + gradient alone, the JAX twin of gradient_cost.py's loop.

One chain at the prior-median initial point in NumPyro's unconstrained space, 200
value-and-gradient evaluations inside one jitted ``fori_loop`` (each point moved by the
previous gradient), best of 7. Runs in ``.venv/bench`` (JAX, NumPyro):

    .venv/bench/bin/python benchmarks/peer_gradient_cost.py [W1,W2,W3,W4,W5]
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import numpy as np
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import _peer_numpyro as P
import _bench_common as C
from numpyro.infer.util import initialize_model
from numpyro.infer import init_to_median
NAMES = {"W1": "peak_on_background", "W2": "poisson_process", "W3": "glmm_logistic", "W4": "survival_tvc", "W5": "lifetime_resolution"}
for wl in (sys.argv[1] if len(sys.argv) > 1 else "W1,W2,W3,W4,W5").split(","):
    data = C.load_npz(os.path.join(ROOT, "models", "data", NAMES[wl] + ".npz"))
    model, build = P.MODELS[wl]
    args = build(data)
    info = initialize_model(jax.random.PRNGKey(0), model, model_args=args, init_strategy=init_to_median())
    z0 = info.param_info.z
    pot = info.potential_fn
    vg = jax.value_and_grad(pot)
    n = 200
    @jax.jit
    def loop(z):
        def body(i, carry):
            z, acc = carry
            v, g = vg(z)
            z = jax.tree_util.tree_map(lambda a, b: a + 1e-9 * jnp.tanh(b), z, g)
            return z, acc + v
        return jax.lax.fori_loop(0, n, body, (z, 0.0))[1]
    jax.block_until_ready(loop(z0))
    best = min((lambda t: (jax.block_until_ready(loop(z0)), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(7))
    print(wl, "NumPyro (JAX) ms per value+gradient, one chain, compiled loop: %.3f" % (1000 * best / n), flush=True)
