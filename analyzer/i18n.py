"""Moved to :mod:`review.i18n` (the review app's package); this alias stays for one release.

``import analyzer.i18n`` gives the very module ``review.i18n`` (private names included), so
old imports keep working. ``analyzer/__init__.py`` never imports this file.
"""

import sys
import warnings

import review.i18n as _moved

warnings.warn(
    "analyzer.i18n moved to review.i18n; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
