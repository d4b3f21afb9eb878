"""Moved to :mod:`review.plots` (the review app's package); this alias stays for one release.

``import analyzer.plots`` gives the very module ``review.plots`` (private names included), so
old imports keep working. ``analyzer/__init__.py`` never imports this file.
"""

import sys
import warnings

import review.plots as _moved

warnings.warn(
    "analyzer.plots moved to review.plots; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
