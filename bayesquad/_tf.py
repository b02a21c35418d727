"""Import TensorFlow quietly: TF's C++ logger reads these variables once, at import."""
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

with warnings.catch_warnings():
    # TFP 0.25 imports distutils-era helpers that warn on every import; not actionable for users.
    warnings.simplefilter("ignore", DeprecationWarning)
    import tensorflow as tf  # noqa: E402
    import tensorflow_probability as tfp  # noqa: E402

__all__ = ["tf", "tfp"]
