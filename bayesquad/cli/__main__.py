"""``python -m bayesquad.cli``: the ``bayesquad`` command."""
import sys

from bayesquad.cli import main

sys.exit(main())
