"""Fixtures for the report tests: a headless Chromium, installed on demand.

The Chromium test needs Debian's ``chromium`` package.  Where it is missing, the session
fixture installs it with apt-get (as root) and reports the time taken; where it still
cannot be had the test is skipped, except under CI (``CI`` set), where it fails instead.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import chromium_setup  # noqa: E402


@pytest.fixture(scope="session")
def chromium(request):
    """Path of a Chromium binary; installs it where missing (skip, or fail under CI)."""
    path = chromium_setup.find()
    if path is None:
        path, what = chromium_setup.install()
        plugins = request.config.pluginmanager
        reporter = plugins.get_plugin("terminalreporter")
        capture = plugins.get_plugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():  # shown in the run's output
                reporter.write_line(f"\nchromium set-up: {what}")
        if path is None:
            chromium_setup.unavailable(what)
    return path
