"""Find or install Debian's headless Chromium for the browser test (see conftest.py)."""
import os
import shutil
import subprocess
import time

import pytest

CHROMIUM = "/usr/bin/chromium"


def find():
    """Path of an installed Chromium, or None."""
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


def _apt(*args, timeout=900):
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(["apt-get", *args], capture_output=True, text=True, env=env,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", f"apt-get timed out after "
                                           f"{timeout} s (is another apt-get holding the lock?)")


def install():
    """Try ``apt-get install chromium``; return ``(path or None, what happened)``.

    ``apt-get update`` runs only when the first attempt fails (stale or missing lists).
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None, "not running as root, so apt-get install chromium is not possible"
    if shutil.which("apt-get") is None:
        return None, "apt-get is not available"
    log = []
    tic = time.perf_counter()
    cmd = ("install", "-y", "--no-install-recommends", "chromium")
    res = _apt(*cmd)
    if res.returncode != 0:
        log.append(f"first apt-get install failed: {res.stderr.strip()[-300:]}")
        upd = _apt("update")
        log.append(f"apt-get update exit {upd.returncode}")
        res = _apt(*cmd)
    elapsed = time.perf_counter() - tic
    if res.returncode != 0:
        log.append(f"apt-get install chromium failed (exit {res.returncode}) after "
                   f"{elapsed:.0f} s: {res.stderr.strip()[-500:]}")
        return None, "; ".join(log)
    log.append(f"installed Debian's chromium with apt-get in {elapsed:.0f} s")
    return find(), "; ".join(log)


def unavailable(reason, ci=None):
    """Skip the test, or fail it under CI (``CI`` set), where a skip would hide a broken
    set-up."""
    ci = os.environ.get("CI") if ci is None else ci
    msg = f"headless Chromium unavailable: {reason}"
    if ci:
        pytest.fail(msg + " (CI is set: the browser test must not be skipped)")
    pytest.skip(msg)
