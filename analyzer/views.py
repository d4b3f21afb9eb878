"""Moved to :mod:`review.views` (the review app's package); this alias stays for one release.

``import analyzer.views`` gives the very module ``review.views`` (private names included), so
old imports keep working. ``analyzer/__init__.py`` never imports this file.
"""

import sys
import warnings

import review.views as _moved

warnings.warn(
    "analyzer.views moved to review.views; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
