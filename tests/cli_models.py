"""Tiny model files for tests/test_cli.py, written into a temporary directory.

``write_all(folder)`` writes every model and data file below and returns their paths by
name.  The models are small (two parameters, 100-200 observations) so that fits take
seconds; the file contents are plain strings because the command line loads model files
by path, as a user's.
"""
import os
import textwrap

import numpy as np

_HEADER = '''\
import numpy as np
import bayesquad  # noqa: F401
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root
'''

#: y ~ Normal(mu, sigma), 200 observations; build checks y is 1-D; has a simulator.
NORMAL = _HEADER + '''
PARAMS = ("mu", "sigma")
OBSERVED = ("y",)
DATA_KEYS = ("y",)


def observed(data):
    return {"y": np.asarray(data["y"], np.float64)}


def build(data, dtype=tf.float64):
    y = np.asarray(data["y"])
    if y.ndim != 1:
        raise ValueError(f"normal: data['y'] must be a 1-D array, got shape {y.shape}")

    def model():
        mu = yield Root(tfd.Normal(tf.constant(0.0, dtype), 10.0, name="mu"))
        sigma = yield Root(tfd.HalfNormal(tf.constant(5.0, dtype), name="sigma"))
        yield tfd.Sample(tfd.Normal(mu, sigma), y.size, name="y")
    return tfd.JointDistributionCoroutine(model)


def simulate(seed, mu=1.0, sigma=2.0, n=200):
    return {"y": np.random.default_rng(seed).normal(mu, sigma, n)}
'''

#: As NORMAL but for exactly 50 observations: 200 do not match the model's shape.
FIXED_SIZE = NORMAL.replace("y.size, name=\"y\")", "50, name=\"y\")")

#: sigma ~ Normal(1, 1): negative prior draws give a NaN log density.
NEGATIVE_SCALE = NORMAL.replace('tfd.HalfNormal(tf.constant(5.0, dtype), name="sigma")',
                                'tfd.Normal(tf.constant(1.0, dtype), 1.0, name="sigma")')

_PEAK = _HEADER + '''from bayesquad.distributions import Normalized

OBSERVED = ("x",)
DATA_KEYS = ("x",)


def observed(data):
    return {"x": np.asarray(data["x"], np.float64)}


def build(data, dtype=tf.float64):
    x = np.asarray(data["x"])

    def model():
        mu = yield Root(tfd.Normal(tf.constant(0.0, dtype), 1.0, name="mu"))
        w = yield Root(tfd.LogNormal(tf.constant(0.0, dtype), __WIDTH_SD__, name="w"))
        yield tfd.Sample(Normalized(lambda x, mu, w: -0.5 * ((x - mu) / w) ** 2, -5.0, 5.0,
                                    params={"mu": mu, "w": w}, __QUADRATURE__),
                         x.size, name="x")
    return tfd.JointDistributionCoroutine(model)
'''

#: A Gaussian peak normalised on [-5, 5] by composite Gauss-Legendre (16 x 32 nodes),
#: widths around 1: every prior draw's normaliser converges.
PEAK_GOOD = _PEAK.replace("__WIDTH_SD__", "0.3").replace("__QUADRATURE__", "")
#: The same with one 8-node panel and widths down to ~0.05: normalisers do not converge.
PEAK_BAD = _PEAK.replace("__WIDTH_SD__", "1.5").replace("__QUADRATURE__",
                                                        "nodes=8, panels=1")

#: One 32-node Gauss-Legendre panel on [-5, 5]: the normaliser's status is CONVERGED for
#: widths >= 0.8 only; the wide prior on w reaches far below that.  With data of sd 1
#: (peak_wide.npz) the failing widths are ruled out by the data; with data of sd 0.5
#: (peak_narrow.npz) the posterior sits among them; with 30 points of sd 1.3
#: (peak_edge.npz) the posterior's own widths converge but failing ones are within reach.
PEAK_TAIL = _PEAK.replace("__WIDTH_SD__", "1.5").replace("__QUADRATURE__",
                                                         "nodes=32, panels=1")

#: As NORMAL with another prior on mu: the same names and data, a different model.
NORMAL_NARROW = NORMAL.replace('tfd.Normal(tf.constant(0.0, dtype), 10.0, name="mu")',
                               'tfd.Normal(tf.constant(0.0, dtype), 0.5, name="mu")')

#: As NORMAL but build() exits the interpreter.
EXITS_IN_BUILD = NORMAL.replace("    y = np.asarray(data[\"y\"])\n",
                                "    import sys\n    sys.exit(5)\n", 1)

BROKEN = {
    "syntax_error.py": "import numpy\n\ndef build(data:\n    pass\n",
    "no_build.py": "def observed(data):\n    return {}\n",
    "bad_import.py": "import bayesquad_no_such_module\n",
    "not_python.txt": "build = 1\n",
    "exits_on_import.py": "import sys\nsys.exit(5)\n",
}


def write_all(folder):
    """Write the model and data files into ``folder``; return ``{name: path}``."""
    paths = {}

    def put(name, text):
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))
        paths[name] = path

    for name, text in (("normal.py", NORMAL), ("fixed_size.py", FIXED_SIZE),
                       ("negative_scale.py", NEGATIVE_SCALE), ("peak_good.py", PEAK_GOOD),
                       ("peak_bad.py", PEAK_BAD), ("peak_tail.py", PEAK_TAIL),
                       ("normal_narrow.py", NORMAL_NARROW),
                       ("exits_in_build.py", EXITS_IN_BUILD), *BROKEN.items()):
        put(name, text)
    rng = np.random.default_rng(0)
    for name, arrays in (("normal.npz", {"y": rng.normal(1.0, 2.0, 200)}),
                         ("peak.npz", {"x": rng.normal(0.5, 1.0, 100)}),
                         ("peak_wide.npz", {"x": rng.normal(0.5, 1.0, 1000)}),
                         ("peak_narrow.npz", {"x": rng.normal(0.5, 0.5, 1000)}),
                         # 30 points of sd 1.3: the posterior's widths (~1.3) converge,
                         # but widths 0.6-0.8 stay within its reach
                         ("peak_edge.npz", {"x": np.random.default_rng(5).normal(0.5, 1.3,
                                                                                 30)}),
                         ("missing_key.npz", {"z": np.zeros(3)}),
                         ("wrong_shape.npz", {"y": np.zeros((20, 10))})):
        path = os.path.join(folder, name)
        np.savez(path, **arrays)
        paths[name] = path
    path = os.path.join(folder, "not_npz.npz")
    with open(path, "w", encoding="utf-8") as f:
        f.write("this is not a zip file\n")
    paths["not_npz.npz"] = path
    path = os.path.join(folder, "renamed_npy.npz")  # np.save's format under a .npz name
    with open(path, "wb") as f:
        np.save(f, rng.normal(size=200))
    paths["renamed_npy.npz"] = path
    path = os.path.join(folder, "pickled.npz")
    np.savez(path, y=np.array([{"y": 1.0}], dtype=object))
    paths["pickled.npz"] = path
    return paths
