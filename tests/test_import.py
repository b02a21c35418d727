"""The package installs, imports quietly and exposes its version."""
import importlib.metadata
import os
import subprocess
import sys


def test_import_prints_nothing(tmp_path):
    # Drop what conftest sets, so the package's own silencing is what is tested; run
    # outside the repo so the installed package, not the working tree, is imported.
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "PYTHONWARNINGS")}
    # the first public name imports TensorFlow and TFP: that is what must stay quiet
    proc = subprocess.run(
        [sys.executable, "-c", "import bayesquad; bayesquad.integrate; bayesquad.sample"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ""


def test_version_matches_installed_metadata():
    import bayesquad

    assert isinstance(bayesquad.__version__, str)
    assert bayesquad.__version__ == importlib.metadata.version("bayesquad")


def test_public_names_exist():
    import bayesquad

    missing = [name for name in bayesquad.__all__ if not hasattr(bayesquad, name)]
    assert missing == []


def test_import_is_lazy():
    # `bayesquad --help` and `import bayesquad` must not pay TensorFlow's ~5 s import
    code = ("import sys, bayesquad; assert 'tensorflow' not in sys.modules; "
            "bayesquad.Normalized; assert 'tensorflow' in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
