"""XLA's vector width follows the CPU; the user's own flags and the opt-out win."""
import os
import subprocess
import sys

import pytest

from bayesquad import _xla_env

AVX512 = frozenset({"avx2", "fma", "avx512f"})
AVX2 = frozenset({"avx2", "fma"})


def test_avx512_gets_512_bit_vectors():
    assert _xla_env.tuned_xla_flags("", AVX512) == "--xla_cpu_prefer_vector_width=512"


def test_other_flags_are_kept():
    assert (_xla_env.tuned_xla_flags(" --xla_cpu_enable_fast_math=false ", AVX512)
            == "--xla_cpu_enable_fast_math=false --xla_cpu_prefer_vector_width=512")


def test_without_avx512_nothing_changes():
    assert _xla_env.tuned_xla_flags("--xla_dump_to=/tmp/x", AVX2) == "--xla_dump_to=/tmp/x"
    assert _xla_env.tuned_xla_flags("", frozenset()) == ""


def test_a_users_own_width_wins():
    flags = "--xla_cpu_prefer_vector_width=256"
    assert _xla_env.tuned_xla_flags(flags, AVX512) == flags


NO_CACHE = {_xla_env.CACHE_VARIABLE: "0"}


def test_apply_is_idempotent_and_can_be_turned_off():
    env = dict(NO_CACHE)
    _xla_env.apply(env, AVX512)
    _xla_env.apply(env, AVX512)
    assert env["XLA_FLAGS"] == "--xla_cpu_prefer_vector_width=512"
    assert "TF_XLA_FLAGS" not in env
    off = {**NO_CACHE, _xla_env.TUNING_VARIABLE: "0", "XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    _xla_env.apply(off, AVX512)
    assert off["XLA_FLAGS"] == "--xla_dump_to=/tmp/x"
    untouched = dict(NO_CACHE)
    _xla_env.apply(untouched, AVX2)
    assert "XLA_FLAGS" not in untouched


def test_cache_directory_per_cpu_tensorflow_and_xla_flags(tmp_path):
    env = {_xla_env.CACHE_VARIABLE: str(tmp_path)}
    _xla_env.apply(env, AVX512)
    flag, directory = env["TF_XLA_FLAGS"].split("=", 1)
    assert flag == _xla_env.CACHE_FLAG and os.path.isdir(directory)
    assert os.path.dirname(directory) == str(tmp_path)
    _xla_env.apply(env, AVX512)  # idempotent: the flag is there already
    assert env["TF_XLA_FLAGS"].count(_xla_env.CACHE_FLAG) == 1
    others = {_xla_env.cache_directory({}, AVX2),
              _xla_env.cache_directory({"XLA_FLAGS": "--xla_dump_to=/tmp/x"}, AVX512),
              _xla_env.cache_directory({}, AVX512)}
    assert len(others) == 3
    home = _xla_env.cache_directory({"XDG_CACHE_HOME": str(tmp_path / "xdg")}, AVX512)
    assert home.startswith(str(tmp_path / "xdg" / "bayesquad" / "xla"))


def test_cache_off_unwritable_or_the_users_own_directory(tmp_path):
    env = {_xla_env.CACHE_VARIABLE: "0"}
    _xla_env.apply(env, AVX512)
    assert "TF_XLA_FLAGS" not in env
    blocked = tmp_path / "file"
    blocked.write_text("not a directory", encoding="utf-8")
    env = {_xla_env.CACHE_VARIABLE: str(blocked / "sub")}
    _xla_env.apply(env, AVX512)
    assert "TF_XLA_FLAGS" not in env
    class AlmostFull:  # pylint: disable=too-few-public-methods
        free = _xla_env.CACHE_MIN_FREE_BYTES - 1

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_xla_env.shutil, "disk_usage", lambda path: AlmostFull)
        env = {_xla_env.CACHE_VARIABLE: str(tmp_path)}
        _xla_env.apply(env, AVX512)
        assert "TF_XLA_FLAGS" not in env
    own = "--tf_xla_persistent_cache_directory=/somewhere --tf_xla_enable_lazy_compilation=false"
    env = {_xla_env.CACHE_VARIABLE: str(tmp_path), "TF_XLA_FLAGS": own}
    _xla_env.apply(env, AVX512)
    assert env["TF_XLA_FLAGS"] == own


def test_prune_deletes_the_oldest_files_past_the_limit(tmp_path):
    for k in range(6):
        path = tmp_path / f"entry{k}.pb"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 + k, 1000 + k))
    assert _xla_env.prune_cache(str(tmp_path), max_bytes=1000) == 0
    assert _xla_env.prune_cache(str(tmp_path), max_bytes=500) == 4  # down to 250 bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry4.pb", "entry5.pb"]
    assert _xla_env.prune_cache(str(tmp_path / "missing")) == 0


def test_cpu_flags_reads_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n\n", encoding="utf-8")
    assert {"avx2", "avx512f"} <= _xla_env.cpu_flags(str(info))
    assert _xla_env.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_the_installed_xla_accepts_the_flag(tmp_path):
    # XLA aborts the process on a flag it does not know: compile once with the flag forced
    # (whatever this CPU is) next to another flag a user might have set.
    env = {k: v for k, v in os.environ.items() if k != _xla_env.TUNING_VARIABLE}
    env["XLA_FLAGS"] = "--xla_cpu_prefer_vector_width=512 --xla_cpu_enable_fast_math=false"
    code = ("import os, bayesquad\n"
            "from bayesquad._tf import tf\n"
            "f = tf.function(lambda x: tf.reduce_sum(tf.exp(x)), jit_compile=True)\n"
            "x = tf.linspace(tf.constant(0.0, tf.float64), 1.0, 1001)\n"
            "print(float(f(x)), os.environ['XLA_FLAGS'])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    value, flags = proc.stdout.split(" ", 1)
    # sum of exp over 1001 equally spaced points of [0, 1]: (e - 1) / (1 - e^(-1/1000)) + 1
    exact = (2.718281828459045 - 1.0) / (1.0 - 0.9990004998333750) + 1.0
    assert abs(float(value) - exact) < 1e-9 * exact
    assert flags.split() == env["XLA_FLAGS"].split()


def test_a_second_process_reuses_the_first_ones_compilation(tmp_path):
    """TensorFlow's persistent XLA cache, set up by ``import bayesquad``, across processes."""
    env = {k: v for k, v in os.environ.items() if k != "TF_XLA_FLAGS"}
    env[_xla_env.CACHE_VARIABLE] = str(tmp_path / "cache")
    code = ("import os, bayesquad\n"
            "from bayesquad._tf import tf\n"
            "f = tf.function(lambda x: tf.reduce_sum(tf.sin(x) ** 2), jit_compile=True)\n"
            "print(repr(float(f(tf.linspace(tf.constant(0.0, tf.float64), 3.0, 301)))))\n")
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
        entries = sorted((p.name, p.stat().st_mtime_ns)
                         for p in (tmp_path / "cache").rglob("*.pb"))
        runs.append((float(proc.stdout), entries))
    (first, written), (second, after) = runs
    assert len(written) == 1 and after == written  # loaded, not compiled and saved again
    x = [3.0 * k / 300 for k in range(301)]
    import math  # pylint: disable=import-outside-toplevel
    exact = math.fsum(math.sin(v) ** 2 for v in x)
    assert abs(first - exact) < 1e-12 * exact and abs(second - exact) < 1e-12 * exact
