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
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType

warnings.warn(
    "analyzer.train is deprecated: import train (e.g. train.ser) instead",
    DeprecationWarning,
    stacklevel=2,
)
_OLD, _NEW = __name__ + ".", "train."


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``analyzer.train.X`` as ``train.X``."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if not fullname.startswith(_OLD) or importlib.util.find_spec(_new(fullname)) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None  # a placeholder; exec_module swaps in the real module

    def exec_module(self, module: ModuleType) -> None:
        # the import system returns whatever sys.modules holds for the name after this call
        sys.modules[module.__name__] = importlib.import_module(_new(module.__name__))

    def get_code(self, fullname: str) -> CodeType | None:
        """What `python -m analyzer.train.X` runs: the code of train/X.py."""
        spec = importlib.util.find_spec(_new(fullname))
        loader = spec.loader if spec is not None else None
        if not isinstance(loader, importlib.abc.InspectLoader):
            return None
        return loader.get_code(_new(fullname))


def _new(fullname: str) -> str:
    return _NEW + fullname[len(_OLD) :]


if not any(type(f).__name__ == _MovedModules.__name__ for f in sys.meta_path):  # once, reloads too
    sys.meta_path.append(_MovedModules())
