"""Names of the output files: ``<input file name>.json`` with the whole name kept.

The command-line contract: ``call.v1.wav`` gives ``call.v1.wav.json`` (and ``.csv``, ``.parquet``
... beside it). When two inputs of one run would get the same name, the second gets
``call.wav~2``, the third ``~3``, in the order the inputs were given, so a later run over the same
inputs lands on the same names. ``emotrace batch`` keeps each input's path relative to the folder
it was found in, so ``recordings/2026/11/call.wav`` found under ``recordings/`` becomes
``2026/11/call.wav.json``.

The functions here return *stems* (``call.wav~2``, ``2026/11/call.wav``) as POSIX relative paths;
``output_path`` adds the folder and the suffix.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

DUPLICATE_MARK = "~"  # call.wav, call.wav~2, call.wav~3 ...


def numbered(stem: str, n: int) -> str:
    """The ``n``-th use of ``stem`` in one run: ``stem`` itself for n == 1, else ``stem~n``."""
    if n < 1:
        raise ValueError("n counts from 1")
    return stem if n == 1 else f"{stem}{DUPLICATE_MARK}{n}"


def unique_stems(stems: Iterable[str]) -> list[str]:
    """Make ``stems`` unique in order: a repeated stem gets ``~2``, ``~3``... (first one bare).

    A numbered name that another input already uses as its own name is skipped, so the result
    never holds a name twice.
    """
    stems = list(stems)
    taken = set()
    seen: dict[str, int] = {}
    wanted = set(stems)
    out = []
    for stem in stems:
        n = seen.get(stem, 0) + 1
        name = numbered(stem, n)
        while name in taken or (n > 1 and name in wanted):
            n += 1
            name = numbered(stem, n)
        seen[stem] = n
        taken.add(name)
        out.append(name)
    return out


def output_stems(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Stems for ``emotrace analyze``: each input's file name, numbered when repeated."""
    return unique_stems(Path(p).name for p in paths)


def relative_stem(path: str | os.PathLike[str], root: str | os.PathLike[str] | None) -> str:
    """The stem of ``path`` found under the folder ``root``: its path relative to ``root`` (POSIX).

    Without a root, or when ``path`` is not inside it, the stem is the file name alone.
    """
    p = Path(path)
    if root is not None:
        try:
            rel = p.resolve().relative_to(Path(root).resolve())
        except ValueError:
            rel = None
        if rel is not None and rel.parts:
            return PurePosixPath(*rel.parts).as_posix()
    return p.name


# (path, the folder it was found in or None)
Located = tuple[str | os.PathLike[str], str | os.PathLike[str] | None]


def mirrored_stems(items: Sequence[Located], *, reserved: Iterable[str] = ()) -> list[str]:
    """Stems for ``emotrace batch``: ``(path, root)`` pairs, each mirrored under its root.

    Inputs given as files have root None and keep their file name; two inputs that end on the
    same relative path (from two folders given) are numbered like ``analyze`` numbers them.
    ``reserved`` names folders of the output that hold something else (the batch's datasets):
    a recordings folder of that name at the top becomes ``name~2`` (``calls/x.wav`` ->
    ``calls~2/x.wav``), as the second claimant of the name.
    """
    taken = set(reserved)

    def clear(stem: str) -> str:
        parts = stem.split("/")
        if len(parts) > 1 and parts[0] in taken:
            parts[0] = numbered(parts[0], 2)
        return "/".join(parts)

    return unique_stems(clear(relative_stem(path, root)) for path, root in items)


def output_path(out_dir: str | os.PathLike[str], stem: str, suffix: str = ".json") -> Path:
    """``out_dir/stem + suffix``; the stem's folders (batch mirrors) are kept."""
    if not suffix.startswith("."):
        raise ValueError("suffix must start with a dot, e.g. '.json'")
    rel = PurePosixPath(stem)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"output stem must stay inside the output folder: {stem!r}")
    return Path(out_dir).joinpath(*rel.parts[:-1], rel.name + suffix)
