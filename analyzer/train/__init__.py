"""Deprecated: training moved to the top-level package ``train``; this alias goes next release.

``from analyzer.train.ser import train_ser`` (and every other ``analyzer.train.X``) keeps working:
the finder below answers ``analyzer.train.X`` with the module ``train.X`` itself, so there is one
module object per training module. Nothing in ``analyzer`` imports this package, so the engine
never loads training code.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

warnings.warn(
    "analyzer.train is deprecated: import train (e.g. train.ser) instead",
    DeprecationWarning,
    stacklevel=2,
)
_OLD, _NEW = __name__ + ".", "train."


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``analyzer.train.X`` as ``train.X``."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_OLD) or importlib.util.find_spec(self._new(fullname)) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return None  # a placeholder; exec_module swaps in the real module

    def exec_module(self, module):
        # the import system returns whatever sys.modules holds for the name after this call
        sys.modules[module.__name__] = importlib.import_module(self._new(module.__name__))

    def get_code(self, fullname):  # `python -m analyzer.train.X` runs train/X.py
        new = self._new(fullname)
        return importlib.util.find_spec(new).loader.get_code(new)

    @staticmethod
    def _new(fullname: str) -> str:
        return _NEW + fullname[len(_OLD) :]


if not any(type(f).__name__ == _MovedModules.__name__ for f in sys.meta_path):  # once, reloads too
    sys.meta_path.append(_MovedModules())
