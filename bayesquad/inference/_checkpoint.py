"""Checkpoint directories for chunked sampling.

Layout of ``PATH``: ``meta.json`` (the run's fingerprint), ``chunk_NNNNN.npz`` (the info of
each finished chunk) and ``state.npz`` (sampler state after the last finished chunk, with
the number of chunks it covers).  Files are written to a temporary name and renamed, and
the state only after its chunk's info, so a kill at any moment leaves a consistent
directory.
"""
import hashlib
import json
import os

import numpy as np

__all__ = ["fingerprint", "load", "save_chunk", "save_initial"]


def fingerprint(settings, observed):
    """A JSON-able description of everything that determines the draws."""
    h = hashlib.sha1()
    for name in sorted(observed):
        v = np.ascontiguousarray(observed[name])
        h.update(name.encode())
        h.update(str((v.dtype.str, v.shape)).encode())
        h.update(v.tobytes())
    return {**{k: v for k, v in settings.items()}, "observed_sha1": h.hexdigest()}


def _atomic_savez(path, arrays):
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load(path, fp):
    """Return ``(state, infos)`` from ``path``, or ``(None, [])`` for a new directory.

    Raises
    ------
    ValueError
        When the directory holds a run with a different fingerprint.
    """
    meta = os.path.join(path, "meta.json")
    if not os.path.exists(meta):
        os.makedirs(path, exist_ok=True)
        with open(meta + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(fp, fh, indent=1, sort_keys=True)
        os.replace(meta + ".tmp", meta)
        return None, []
    with open(meta, encoding="utf-8") as fh:
        old = json.load(fh)
    differs = sorted(k for k in set(old) | set(fp) if old.get(k) != fp.get(k))
    if differs:
        raise ValueError(
            f"checkpoint directory {path!r} holds a different run (differs in {differs}); "
            f"pass a new checkpoint path or delete the directory to start over")
    state_file = os.path.join(path, "state.npz")
    if not os.path.exists(state_file):
        return None, []
    with np.load(state_file) as f:
        state = {k: f[k] for k in f.files}
    n_chunks = int(state.pop("n_chunks"))
    infos = []
    for k in range(n_chunks):
        with np.load(os.path.join(path, f"chunk_{k:05d}.npz")) as f:
            infos.append({name: f[name] for name in f.files})
    return state, infos


def save_initial(path, state):
    _atomic_savez(os.path.join(path, "state.npz"), {**state, "n_chunks": np.asarray(0)})


def save_chunk(path, k, state, info):
    """Write chunk ``k``'s info, then the state that follows it."""
    _atomic_savez(os.path.join(path, f"chunk_{k:05d}.npz"), info)
    _atomic_savez(os.path.join(path, "state.npz"), {**state, "n_chunks": np.asarray(k + 1)})
