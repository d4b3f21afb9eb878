"""Which calls a batch analyses: files, folders (walked recursively) and CSV manifests.

A manifest is a ``.csv`` file with a ``path`` column and, optionally, ``agent`` (the agent's
identity for this call), ``channels`` (roles per channel, e.g. ``agent,customer``) and
``transcript`` (a transcript file). Relative paths in it are read from the manifest's folder.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..naming import mirrored_stems
from .resume import STATE_DIR

# Containers PyAV decodes here; a folder walk picks these up and leaves everything else alone.
MEDIA_EXTENSIONS = frozenset(
    {
        ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wma", ".amr",
        ".aif", ".aiff", ".au", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".3gp",
    }
)  # fmt: skip
MANIFEST_COLUMNS = ("path", "agent", "channels", "transcript")
# Folders of the output that are not mirrored recordings: the Parquet datasets and the batch's
# own state. A recordings folder with one of these names is written as ``name~2/``.
RESERVED_FOLDERS = ("segments", "events", "calls", "scorecards", STATE_DIR)


class BatchInputError(ValueError):
    """The inputs cannot be read as a batch (a usage error: exit status 2)."""


@dataclass(frozen=True)
class CallInput:
    """One call of the batch, before analysis.

    path: where the worker opens it (as given, joined with the folder or manifest it came from).
    file: how the user named it: the path as given, the path inside the folder given, or the
        manifest's ``path`` value. Every output row and failures.csv carry this.
    root: the folder the call was found in (None for a file given directly); the output mirrors
        the call's path relative to it.
    stem: its output name without suffix, unique in the batch (set by ``discover``).
    agent, channels, transcript: the manifest's per-call columns (None when not given).
    """

    path: str
    file: str
    root: str | None = None
    stem: str = ""
    agent: str | None = None
    channels: tuple[str, ...] | None = None
    transcript: str | None = None


def discover(
    inputs: Sequence[str | os.PathLike[str]], *, exclude: str | os.PathLike[str] | None = None
) -> list[CallInput]:
    """Expand files, folders and manifests into calls, in the order given (folders sorted).

    ``exclude`` is a folder never walked into (the batch's own output folder). A path that does
    not exist stays in the list: the batch records it as a failed call rather than stopping.
    Raises BatchInputError for an unreadable manifest or when nothing is left to analyse.
    """
    skip = Path(exclude).resolve() if exclude is not None else None
    calls: list[CallInput] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            calls.extend(_walk(p, skip))
        elif p.suffix.lower() == ".csv" and p.is_file():
            calls.extend(read_manifest(p))
        else:
            calls.append(CallInput(path=str(p), file=str(item)))
    if not calls:
        raise BatchInputError("no media files found in the inputs given")
    stems = mirrored_stems([(c.path, c.root) for c in calls], reserved=RESERVED_FOLDERS)
    return [replace(c, stem=s) for c, s in zip(calls, stems)]


def _walk(folder: Path, skip: Path | None) -> list[CallInput]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        # Hidden folders (.git, the batch's own .emotrace) and the output folder are not inputs.
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (here / d).resolve() != skip
        )
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in MEDIA_EXTENSIONS:
                continue
            path = here / name
            rel = path.relative_to(folder).as_posix()
            found.append(CallInput(path=str(path), file=rel, root=str(folder)))
    return found


def read_manifest(manifest: str | os.PathLike[str]) -> list[CallInput]:
    """Calls listed in a CSV manifest (path; optional agent, channels, transcript)."""
    manifest = Path(manifest)
    base = manifest.parent
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            if "path" not in header:
                raise BatchInputError(f"{manifest}: a manifest needs a 'path' column")
            unknown = sorted(set(header) - set(MANIFEST_COLUMNS) - {""})
            if unknown:
                raise BatchInputError(
                    f"{manifest}: unknown column(s) {', '.join(unknown)} "
                    f"(known: {', '.join(MANIFEST_COLUMNS)})"
                )
            reader.fieldnames = header
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BatchInputError(f"{manifest}: cannot read the manifest ({exc})") from None
    calls = []
    for line, row in enumerate(rows, start=2):
        value = (row.get("path") or "").strip()
        if not value:
            raise BatchInputError(f"{manifest}:{line}: empty path")
        path = Path(value)
        if not path.is_absolute():
            path = base / path
        calls.append(
            CallInput(
                path=str(path),
                file=value,
                root=str(base),
                agent=_text(row.get("agent")),
                channels=_roles(row.get("channels"), where=f"{manifest}:{line}"),
                transcript=_resolve(row.get("transcript"), base),
            )
        )
    return calls


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _resolve(value: str | None, base: Path) -> str | None:
    value = _text(value)
    if value is None:
        return None
    path = Path(value)
    return str(path if path.is_absolute() else base / path)


def _roles(value: str | None, *, where: str) -> tuple[str, ...] | None:
    value = _text(value)
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if len(set(names)) != len(names):
        raise BatchInputError(f"{where}: channels must be distinct names, e.g. agent,customer")
    return names or None
