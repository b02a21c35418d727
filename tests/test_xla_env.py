"""XLA's vector width follows the CPU; the user's own flags and the opt-out win."""
import os
import subprocess
import sys

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


def test_apply_is_idempotent_and_can_be_turned_off():
    env = {}
    _xla_env.apply(env, AVX512)
    _xla_env.apply(env, AVX512)
    assert env["XLA_FLAGS"] == "--xla_cpu_prefer_vector_width=512"
    off = {_xla_env.TUNING_VARIABLE: "0", "XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    _xla_env.apply(off, AVX512)
    assert off["XLA_FLAGS"] == "--xla_dump_to=/tmp/x"
    untouched = {}
    _xla_env.apply(untouched, AVX2)
    assert "XLA_FLAGS" not in untouched


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
