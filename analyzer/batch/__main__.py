"""``python -m analyzer.batch``: the same command as ``emotrace batch``."""

import sys

from .cli import main

sys.exit(main())
