"""Deprecated alias of ``train.augment`` (training augmentation left the engine); goes next release.

Nothing in ``analyzer`` imports it: the engine never loads training code.
"""

import importlib
import sys
import warnings

warnings.warn(
    "analyzer.audio.augment is deprecated: import train.augment instead",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = importlib.import_module("train.augment")
