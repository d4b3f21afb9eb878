"""Moved to :mod:`review.store` (the review app's package); this alias stays for one release.

``import analyzer.store`` gives the very module ``review.store`` (private names included), so
old imports keep working. ``analyzer/__init__.py`` never imports this file.
"""

import sys
import warnings

import review.store as _moved

warnings.warn(
    "analyzer.store moved to review.store; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
