"""XLA's CPU code generation, matched to the machine before TensorFlow reads its flags.

XLA vectorises loops for 256-bit registers by default, also on CPUs with 512-bit ones
(AVX-512). On such a CPU the log densities bayesquad compiles run faster with 512-bit
vectors: one value and gradient of W5 (5,000 events, each a 20-node integral) 0.82 ->
0.69 ms on one core of an AMD EPYC with AVX-512, W1's sampler step 0.33 -> 0.28 ms
(BENCHMARKS.md, issue 13). XLA reads ``XLA_FLAGS`` once, at its first compile, so the flag
is added to the environment when ``bayesquad`` is imported; a user's own setting of the
same flag wins, and ``BAYESQUAD_XLA_TUNING=0`` turns this off.
"""
import os

__all__ = ["TUNING_VARIABLE", "VECTOR_WIDTH_FLAG", "apply", "cpu_flags", "tuned_xla_flags"]

#: Set to ``0`` to leave ``XLA_FLAGS`` as it is.
TUNING_VARIABLE = "BAYESQUAD_XLA_TUNING"
VECTOR_WIDTH_FLAG = "--xla_cpu_prefer_vector_width"


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU's feature flags (``{"avx2", "avx512f", ...}``); empty where unknown."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def tuned_xla_flags(current, cpu):
    """``current`` (the value of ``XLA_FLAGS``) with the vector width for ``cpu`` added.

    Unchanged when the CPU lacks AVX-512 or ``current`` already sets the width.
    """
    current = (current or "").strip()
    if VECTOR_WIDTH_FLAG.lstrip("-") in current or "avx512f" not in cpu:
        return current
    return f"{current} {VECTOR_WIDTH_FLAG}=512".strip()


def apply(environ=None, cpu=None):
    """Set ``XLA_FLAGS`` in ``environ`` (default ``os.environ``) for this machine's CPU.

    Notes
    -----
    Without effect when XLA has compiled something in this process before (it reads its
    flags once): import bayesquad before running TensorFlow or JAX code under XLA.
    """
    environ = os.environ if environ is None else environ
    if environ.get(TUNING_VARIABLE, "1").strip() == "0":
        return
    tuned = tuned_xla_flags(environ.get("XLA_FLAGS", ""), cpu_flags() if cpu is None else cpu)
    if tuned:
        environ["XLA_FLAGS"] = tuned
