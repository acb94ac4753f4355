"""``python -m qness``: the command line (see :mod:`qness.cli`)."""

import sys

from .cli import main

sys.exit(main())
