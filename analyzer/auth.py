"""Moved to :mod:`review.auth` (the review app's package); this alias stays for one release.

``import analyzer.auth`` gives the very module ``review.auth``; ``python -m analyzer.auth hash``
still prints a users.toml line. ``analyzer/__init__.py`` never imports this file.
"""

import sys
import warnings

import review.auth as _moved

if __name__ == "__main__":
    raise SystemExit(_moved.main())
warnings.warn(
    "analyzer.auth moved to review.auth; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
