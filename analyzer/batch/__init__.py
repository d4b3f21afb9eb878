"""Batch analysis on Ray: ``emotrace batch`` and its Python API.

    from analyzer.batch import BatchOptions, run_batch
    summary = run_batch(["recordings/"], BatchOptions(out=Path("results")))

Ray is imported only when a batch runs, so importing this package (or ``analyzer``) never
loads it. Install it with ``pip install 'emotrace[cluster]'``.
"""

from .inputs import MEDIA_EXTENSIONS, BatchInputError, CallInput, discover, read_manifest

__all__ = [
    "MEDIA_EXTENSIONS",
    "BatchInputError",
    "BatchOptions",
    "BatchSummary",
    "CallInput",
    "discover",
    "read_manifest",
    "run_batch",
]


def __getattr__(name: str) -> object:
    # The runner is loaded on first use: it is light, but keeps the import path of a plain
    # ``import analyzer.batch`` down to input discovery.
    if name in {"BatchOptions", "BatchSummary", "run_batch"}:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(name)
