"""Make this folder's helper modules (``problems``) importable without packages.

The tests tree has no ``__init__.py`` files (one rootdir conftest), so the shared
catalogue is found by putting this directory on ``sys.path``.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
