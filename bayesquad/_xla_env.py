"""XLA's CPU code generation, matched to the machine before TensorFlow reads its flags.

XLA vectorises loops for 256-bit registers by default, also on CPUs with 512-bit ones
(AVX-512). On such a CPU the log densities bayesquad compiles run faster with 512-bit
vectors: one value and gradient of W5 (5,000 events, each a 20-node integral) 0.82 ->
0.69 ms on one core of an AMD EPYC with AVX-512, W1's sampler step 0.33 -> 0.28 ms
(BENCHMARKS.md, issue 13). XLA reads ``XLA_FLAGS`` once, at its first compile, so the flag
is added to the environment when ``bayesquad`` is imported; a user's own setting of the
same flag wins, and ``BAYESQUAD_XLA_TUNING=0`` turns this off.

Compiled programs are also kept on disk, in TensorFlow's persistent XLA cache, so a new
process that fits the same model (same structure, shapes and quadrature plans) loads the
sampler instead of compiling it again: W2's first run in a new process 5.2 -> 3.3 s
(BENCHMARKS.md). The directory is ``$XDG_CACHE_HOME/bayesquad/xla`` (``~/.cache/...``),
one subdirectory per CPU feature set, TensorFlow version and ``XLA_FLAGS``, because an
executable is machine code for all three. ``BAYESQUAD_XLA_CACHE=<dir>`` chooses the
directory, ``BAYESQUAD_XLA_CACHE=0`` turns the cache off, and a user's own
``--tf_xla_persistent_cache_directory`` in ``TF_XLA_FLAGS`` wins.
"""
import hashlib
import importlib.metadata
import os
import shutil

__all__ = ["CACHE_FLAG", "CACHE_VARIABLE", "TUNING_VARIABLE", "VECTOR_WIDTH_FLAG", "apply",
           "cache_directory", "cpu_flags", "prune_cache", "tuned_xla_flags"]

#: Set to ``0`` to leave ``XLA_FLAGS`` as it is.
TUNING_VARIABLE = "BAYESQUAD_XLA_TUNING"
VECTOR_WIDTH_FLAG = "--xla_cpu_prefer_vector_width"
#: ``0`` turns the persistent cache off; any other value is its directory.
CACHE_VARIABLE = "BAYESQUAD_XLA_CACHE"
CACHE_FLAG = "--tf_xla_persistent_cache_directory"
#: The cache is pruned to half this size (oldest files first) when it grows past it.
CACHE_MAX_BYTES = 2 * 1024 ** 3
#: Below this much free space the cache stays off (a failed save fails the compile).
CACHE_MIN_FREE_BYTES = 512 * 1024 ** 2


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


def _tensorflow_version():
    for dist in ("tensorflow", "tensorflow-cpu", "tf-nightly"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def cache_directory(environ, cpu):
    """The persistent cache's directory for this CPU, TensorFlow and ``XLA_FLAGS``, or None.

    None when ``BAYESQUAD_XLA_CACHE=0``.
    """
    setting = environ.get(CACHE_VARIABLE, "").strip()
    if setting == "0":
        return None
    base = setting or os.path.join(
        environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "bayesquad", "xla")
    key = "|".join([" ".join(sorted(cpu)), _tensorflow_version(), environ.get("XLA_FLAGS", "")])
    return os.path.join(base, hashlib.sha256(key.encode()).hexdigest()[:16])


def prune_cache(directory, max_bytes=CACHE_MAX_BYTES):
    """Delete the oldest files of ``directory`` until it holds at most ``max_bytes / 2``,
    when it holds more than ``max_bytes``. Returns the number of files deleted."""
    try:
        stats = [(st.st_mtime, st.st_size, e.path)
                 for e in os.scandir(directory) if e.is_file() for st in (e.stat(),)]
    except OSError:
        return 0
    total = sum(size for _, size, _ in stats)
    if total <= max_bytes:
        return 0
    deleted = 0
    for _, size, path in sorted(stats):
        if total <= max_bytes // 2:
            break
        try:
            os.remove(path)
        except OSError:
            continue
        total -= size
        deleted += 1
    return deleted


def _usable(directory):
    try:
        os.makedirs(directory, exist_ok=True)
        free = shutil.disk_usage(directory).free
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK) and free >= CACHE_MIN_FREE_BYTES


def apply(environ=None, cpu=None):
    """Set ``XLA_FLAGS`` and ``TF_XLA_FLAGS`` in ``environ`` (default ``os.environ``).

    Notes
    -----
    Without effect when XLA has compiled something in this process before (it reads its
    flags once): import bayesquad before running TensorFlow or JAX code under XLA. The
    persistent cache is not used where its directory cannot be created or written, or
    has less than 512 MB free: TensorFlow fails a compile whose entry it cannot save
    (measured with TF 2.21). A disk that fills up during a session can still make a
    compile fail; ``BAYESQUAD_XLA_CACHE=0`` is the way out.
    """
    environ = os.environ if environ is None else environ
    cpu = cpu_flags() if cpu is None else cpu
    if environ.get(TUNING_VARIABLE, "1").strip() != "0":
        tuned = tuned_xla_flags(environ.get("XLA_FLAGS", ""), cpu)
        if tuned:
            environ["XLA_FLAGS"] = tuned
    tf_flags = environ.get("TF_XLA_FLAGS", "")
    if CACHE_FLAG.lstrip("-") in tf_flags:
        return
    directory = cache_directory(environ, cpu)
    if directory is None or not _usable(directory):
        return
    prune_cache(directory)
    environ["TF_XLA_FLAGS"] = f"{tf_flags.strip()} {CACHE_FLAG}={directory}".strip()
