"""Checkpoint directories for chunked sampling.

Layout of ``PATH``: ``meta.json`` (the run's fingerprint), ``chunk_NNNNN.npz`` (the info of
each finished chunk) and ``state.npz`` (sampler state after the last finished chunk, with
the number of chunks it covers).  Files are written to a temporary name and renamed, and
the state only after its chunk's info, so a kill at any moment leaves a consistent
directory.  The fingerprint covers the settings, the data and the model itself (its
structure and its log density at fixed points), so a directory is never resumed by a run
that would continue someone else's chains.  A file that cannot be read raises
:class:`CheckpointError` naming it, never numpy's or zipfile's own error.
"""
import hashlib
import json
import os
import zipfile

import numpy as np

__all__ = ["CheckpointError", "fingerprint", "load", "model_identity", "save_chunk",
           "save_initial"]

_META, _STATE = "meta.json", "state.npz"
#: Test points of the model identity: fixed, so that the same model always hashes alike.
_TEST_POINTS, _TEST_SEED = 3, 20240611
#: Significant digits of the log density hashed: enough to tell models apart, few enough
#: that a last-bit difference (another thread count in a reduction) does not.
_DIGITS = 12


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be resumed (damaged, or from another run)."""


def _chunk_name(k):
    return f"chunk_{k:05d}.npz"


def _structure(model, layout, obs_t, z):
    """Variable names with their distributions' classes (wrappers and what they wrap)."""
    from bayesquad._tf import tf
    from bayesquad.inference import _model
    values = dict(zip(layout.names, tf.nest.flatten(_model.constrain(model, layout, obs_t, z))))
    values.update(obs_t)
    try:
        dists, _ = model.sample_distributions(seed=(0, 0), **values)
    except Exception:  # noqa: BLE001 -- the log density below still identifies the model
        return "structure unavailable"
    parts = []
    by_name = _model._by_name(model, dists)  # pylint: disable=protected-access
    for name, dist in sorted(by_name.items()):
        chain = []
        while dist is not None and len(chain) < 8:
            chain.append(type(dist).__name__)
            dist = getattr(dist, "distribution", None)
        parts.append(f"{name}:{'/'.join(chain)}")
    return ";".join(parts)


def model_identity(model, layout, obs):
    """A hash of the model: its structure and its log density at fixed test points.

    Two models with the same parameter names and data but another prior, likelihood or
    constant differ in their log density at generic points; the hash tells them apart,
    while the same model file loaded again hashes alike.
    """
    from bayesquad._tf import tf
    from bayesquad.inference import _model
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    dim = sum(layout.sizes)
    z = np.random.default_rng(_TEST_SEED).standard_normal((_TEST_POINTS, dim))
    z = tf.constant(z.astype(layout.dtype.as_numpy_dtype))
    try:
        lp = " ".join(f"{float(v):.{_DIGITS}g}" for v in
                      np.asarray(_model.log_prob_fn(model, layout, obs_t)(z)).ravel())
    except Exception:  # noqa: BLE001 -- e.g. validate_args at a test point: structure only
        lp = "log density unavailable"
    h = hashlib.sha1()
    h.update(_structure(model, layout, obs_t, z[0]).encode())
    h.update(lp.encode())
    return h.hexdigest()


def fingerprint(settings, observed, model_id=None):
    """A JSON-able description of everything that determines the draws."""
    h = hashlib.sha1()
    for name in sorted(observed):
        v = np.ascontiguousarray(observed[name])
        h.update(name.encode())
        h.update(str((v.dtype.str, v.shape)).encode())
        h.update(v.tobytes())
    fp = {**dict(settings.items()), "observed_sha1": h.hexdigest()}
    if model_id is not None:
        fp["model"] = model_id
    return fp


def _atomic_savez(path, arrays):
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _damaged(path, file, problem):
    return CheckpointError(f"checkpoint file '{os.path.join(path, file)}' {problem}; delete "
                           f"the checkpoint directory '{path}' to start over")


def _read_npz(path, file, required):
    """The arrays of ``path/file`` as a dict, every failure a :class:`CheckpointError`."""
    full = os.path.join(path, file)
    if not os.path.isfile(full):
        raise _damaged(path, file, "is missing")
    try:
        loaded = np.load(full, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise _damaged(path, file, "is a single array, not a checkpoint archive")
        with loaded as f:
            out = {k: f[k] for k in f.files}
    except CheckpointError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, AttributeError) as err:
        raise _damaged(path, file, f"is truncated or not a checkpoint archive "
                                   f"({type(err).__name__})") from None
    except ValueError:  # numpy: object arrays; its wording suggests unpickling, not here
        raise _damaged(path, file, "holds pickled objects, which bayesquad never writes "
                                   "and does not load") from None
    missing = [k for k in required if k not in out]
    if missing:
        raise _damaged(path, file, f"lacks {missing}")
    return out


def _read_meta(path):
    full = os.path.join(path, _META)
    try:
        with open(full, encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _damaged(path, _META, f"cannot be read ({type(err).__name__})") from None
    if not isinstance(meta, dict):
        raise _damaged(path, _META, f"holds a JSON {type(meta).__name__}, not a run's "
                                    f"fingerprint")
    return meta


def load(path, fp, *, state_keys=(), info_names=()):
    """Return ``(state, infos)`` from ``path``, or ``(None, [])`` when there is no run yet.

    ``state_keys`` and ``info_names`` are the arrays a resumable state and each chunk must
    hold.

    Raises
    ------
    CheckpointError
        When the directory holds a run with a different fingerprint (another model, data or
        setting), or a file that cannot be read; the message names the file.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise CheckpointError(f"checkpoint path '{path}' is a file, not a directory; pass a "
                              f"directory (it is created) or remove the file")
    if not os.path.exists(os.path.join(path, _META)):
        leftovers = [f for f in (os.listdir(path) if os.path.isdir(path) else ())
                     if f == _STATE or f.startswith("chunk_")]
        if leftovers:
            raise _damaged(path, _META, f"is missing, but the directory holds "
                                        f"{', '.join(sorted(leftovers)[:3])}")
        return None, []
    old = _read_meta(path)
    differs = sorted(k for k in set(old) | set(fp) if old.get(k) != fp.get(k))
    if "model" in differs and "model" not in old:
        raise CheckpointError(
            f"checkpoint directory '{path}' was written by an earlier bayesquad that did not "
            f"record the model's identity, so it cannot be resumed safely: delete the "
            f"directory to start over")
    if "model" in differs:
        raise CheckpointError(
            f"checkpoint directory '{path}' holds a run of a different model (its structure "
            f"or log density at fixed test points differs, with the same parameter names); "
            f"resuming it would continue another model's chains: delete the directory to "
            f"start over, or pass another checkpoint path")
    if differs:
        raise CheckpointError(
            f"checkpoint directory '{path}' holds a different run (differs in {differs}); "
            f"pass a new checkpoint path or delete the directory to start over")
    if not os.path.exists(os.path.join(path, _STATE)):
        return None, []  # killed between the fingerprint and the first state: start anew
    state = _read_npz(path, _STATE, (*state_keys, "n_chunks"))
    n_chunks = np.asarray(state.pop("n_chunks"))
    if n_chunks.shape != () or n_chunks.dtype.kind not in "iu" or int(n_chunks) < 0:
        raise _damaged(path, _STATE, "has no valid chunk count")
    infos, rows = [], 0
    for k in range(int(n_chunks)):
        info = _read_npz(path, _chunk_name(k), info_names)
        infos.append(info)
        rows += len(next(iter(info.values()))) if info else 0
    if "step" in state and np.any(np.asarray(state["step"]) != rows):
        raise _damaged(path, _STATE, f"is at step {np.asarray(state['step']).ravel()[0]} but "
                                     f"its {int(n_chunks)} chunk files hold {rows} steps")
    return state, infos


_PLANS = "plans.json"


def save_plans(path, text):
    """The run's quadrature plans (JSON text): a resumed run must use the same rules, and
    it does not repeat the MAP search they were planned around."""
    os.makedirs(path, exist_ok=True)
    target = os.path.join(path, _PLANS)
    with open(target + ".tmp", "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(target + ".tmp", target)


def load_plans(path):
    """The JSON text saved by :func:`save_plans`, or None."""
    target = os.path.join(path, _PLANS)
    if not os.path.exists(target):
        return None
    try:
        with open(target, encoding="utf-8") as fh:
            text = fh.read()
        json.loads(text)
    except (OSError, ValueError) as err:
        raise _damaged(path, _PLANS, f"is unreadable ({err})") from None
    return text


def save_initial(path, fp, state):
    """Start a run in ``path``: its fingerprint, then the state before the first step."""
    os.makedirs(path, exist_ok=True)
    meta = os.path.join(path, _META)
    with open(meta + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(fp, fh, indent=1, sort_keys=True)
    os.replace(meta + ".tmp", meta)
    _atomic_savez(os.path.join(path, _STATE), {**state, "n_chunks": np.asarray(0)})


def save_chunk(path, k, state, info):
    """Write chunk ``k``'s info, then the state that follows it."""
    _atomic_savez(os.path.join(path, _chunk_name(k)), info)
    _atomic_savez(os.path.join(path, _STATE), {**state, "n_chunks": np.asarray(k + 1)})
