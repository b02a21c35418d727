"""Suite-wide set-up. Kept light: TensorFlow is imported by the tests that need it."""
import os

# TF's C++ logger and oneDNN read these once, when TF loads; set them before any test
# module imports TF (bayesquad._tf does the same for library users).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# No persistent XLA cache (bayesquad._xla_env): the suite writes nothing to the user's home
# and every test compiles what it measures; tests/test_xla_env.py turns it on where tested.
os.environ.setdefault("BAYESQUAD_XLA_CACHE", "0")
# No display on CI; plotting tests must not need one.
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def dtype():
    """The library's default floating type (TF's own default, float32, is not it)."""
    return np.float64


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def any_dtype(request):
    """Both supported floating types, for tests that must hold in float32 too."""
    return request.param


@pytest.fixture(scope="session")
def central_difference():
    """``diff(f, x, h=1e-6, index=None)``: ``(f(x + h) - f(x - h)) / (2 h)``; with
    ``index``, only ``x[index]`` of the array ``x`` is shifted."""

    def diff(f, x, h=1e-6, index=None):
        if index is None:
            return (f(x + h) - f(x - h)) / (2 * h)
        up, dn = np.array(x, dtype=float), np.array(x, dtype=float)
        up[index] += h
        dn[index] -= h
        return (f(up) - f(dn)) / (2 * h)

    return diff
