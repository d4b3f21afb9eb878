"""``emotrace library import DIR``: the calls of an ``emotrace batch`` output folder into the
review app's call library.

A batch marks each finished call with a record (``DIR/.emotrace-batch/done/<name>.done.json``):
the recording's content hash, the file as the batch was given it, where it read it from, the
result JSON and that JSON's SHA-256. The import walks those records, so it takes exactly the
calls the batch finished, and for each one:

- skips it when the library already holds a call with that content hash (importing a folder
  twice, or two folders that share calls, adds each recording once);
- fails it (one line, the other calls go on) when its result JSON is missing, was changed after
  the batch wrote it, or cannot be read as a result;
- stores the result with a copy of its recording when the input is still where the batch read it
  and has the same content hash; otherwise stores the result alone and says why in a note (the
  review then shows everything but the player). The call's agent is the batch manifest's
  ``agent`` column, else what the team's file-name pattern finds.

Exit status as for ``emotrace analyze``: 0 when every call was imported or was already there, 1
when at least one call failed (the others are still imported), 2 for a usage error (not a batch
folder, a library that cannot be opened).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer import AnalysisResult
from analyzer.batch.resume import STATE_DIR
from analyzer.hashing import content_hash

from .store import Store, StoreError

DONE_DIR = "done"  # inside the batch's state folder: one record per finished call
DONE_SUFFIX = ".done.json"
DEFAULT_USER = "import"  # the library's "uploaded by" of imported calls unless --user says


@dataclass(frozen=True)
class Outcome:
    """What happened to one call of the folder.

    status: ``imported``, ``skipped`` (already in the library) or ``failed``. ``call_id`` is the
    library's id of the call (the stored one for ``skipped``; empty for ``failed``); ``media``
    whether the recording came with it; ``reason`` the one-line cause of a skip, a failure or
    missing media.
    """

    file: str
    status: str
    call_id: str = ""
    media: bool = False
    reason: str = ""


def finished_records(folder: Path) -> list[tuple[Path, dict[str, Any] | None]]:
    """Every finished-call record of a batch folder, in name order, with its parsed content
    (None for a record that cannot be read). Raises StoreError when ``folder`` is no batch
    output folder."""
    done = folder / STATE_DIR / DONE_DIR
    if not done.is_dir():
        raise StoreError(
            f"{folder}: not an emotrace batch output folder (no {STATE_DIR}/{DONE_DIR})"
        )
    records: list[tuple[Path, dict[str, Any] | None]] = []
    for path in sorted(done.rglob(f"*{DONE_SUFFIX}")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        records.append((path, record if isinstance(record, dict) else None))
    return records


def import_batch(
    folder: str | Path,
    store: Store,
    *,
    user: str = DEFAULT_USER,
    with_media: bool = True,
    copy_media: bool = True,
) -> Iterator[Outcome]:
    """Import the finished calls of the batch output ``folder`` into ``store``; yields each
    call's outcome as it is done. ``with_media`` False stores the results alone; ``copy_media``
    False keeps a reference to each recording instead of a copy (see ``Store.add_call``)."""
    folder = Path(folder).absolute()
    for path, record in finished_records(folder):
        if record is None or not record.get("call_id") or not record.get("result"):
            name = path.name.removesuffix(DONE_SUFFIX)
            yield Outcome(name, "failed", reason=f"unreadable batch record {path.name}")
            continue
        yield _import_one(folder, record, store, user, with_media, copy_media)


def _import_one(
    folder: Path,
    record: dict[str, Any],
    store: Store,
    user: str,
    with_media: bool,
    copy_media: bool,
) -> Outcome:
    digest = str(record["call_id"])
    file = str(record.get("file") or record["result"])
    known = store.find_by_hash(digest)
    if known:
        return Outcome(
            file, "skipped", known[0].id, reason=f"already in the library as {known[0].name}"
        )
    result_path = folder / str(record["result"])
    try:
        data = result_path.read_bytes()
    except OSError as exc:
        return Outcome(file, "failed", reason=f"result {record['result']}: {exc.strerror or exc}")
    if record.get("result_sha256") and content_hash(result_path) != record["result_sha256"]:
        return Outcome(
            file, "failed", reason=f"result {record['result']} changed after the batch wrote it"
        )
    try:
        result = AnalysisResult.from_json(data.decode("utf-8"))
    except (ValueError, KeyError, TypeError) as exc:
        text = " ".join(str(exc).split())
        return Outcome(file, "failed", reason=f"result {record['result']} is not readable ({text})")
    media, why = _media(record, digest) if with_media else (None, "media not asked for")
    try:
        stored = store.add_call(
            result,
            media,
            uploaded_by=user,
            name=file,
            copy_media=copy_media,
            agent=record.get("agent") or None,  # the manifest's agent, else the team's pattern
            digest=digest,
        )
    except (OSError, StoreError) as exc:
        return Outcome(file, "failed", reason=f"could not be stored ({' '.join(str(exc).split())})")
    store.audit(user, "upload", stored.id, f"library import {file}")
    return Outcome(file, "imported", stored.id, media=media is not None, reason=why)


def _media(record: dict[str, Any], digest: str) -> tuple[Path | None, str]:
    """The recording the batch analysed, when it is still there unchanged; else None and why."""
    source = record.get("path")
    if not source:
        return None, "the batch record names no input"
    path = Path(source)
    try:
        same = content_hash(path) == digest
    except OSError:
        return None, f"input not reachable at {path}"
    if not same:
        return None, f"the input at {path} changed after the batch"
    return path, ""


# ---- the command ---------------------------------------------------------------------------
def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``emotrace library import`` (entry point ``library`` of ``emotrace.commands``)."""
    from analyzer.commands import command_group

    group = command_group(subparsers, "library", "the review app's call library")
    p = group.add_parser(
        "import",
        help="import an emotrace batch output folder into the library",
        description="Import the calls an `emotrace batch` finished in DIR (their results, and "
        "their recordings where the batch's inputs are still reachable) into the review app's "
        "library. Calls already there (same recording) are skipped. Exit status: 0 all imported "
        "or already there, 1 some failed, 2 usage error.",
    )
    p.add_argument("folder", type=Path, metavar="DIR", help="the batch's --out folder")
    p.add_argument(
        "--home",
        type=Path,
        help="the library's data folder (default: $EMOTRACE_HOME or ~/.emotrace)",
    )
    p.add_argument("--user", default=DEFAULT_USER, help=f"uploaded by (default {DEFAULT_USER})")
    media = p.add_mutually_exclusive_group()
    media.add_argument("--no-media", action="store_true", help="import the results only")
    media.add_argument(
        "--link-media",
        action="store_true",
        help="refer to the recordings where they are instead of copying them into the library",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Import, one line per call skipped, failed or stored without media; a summary last."""
    try:
        store = Store(args.home)
        outcomes = import_batch(
            args.folder,
            store,
            user=args.user,
            with_media=not args.no_media,
            copy_media=not args.link_media,
        )
        counts = {"imported": 0, "skipped": 0, "failed": 0}
        without_media = 0
        for o in outcomes:
            counts[o.status] += 1
            if o.status == "skipped":
                print(f"skipped {o.file}: {o.reason} ({o.call_id})")
            elif o.status == "failed":
                print(f"emotrace: {o.file}: {o.reason}", file=sys.stderr)
            elif not o.media:
                without_media += 1
                print(f"note: {o.file}: imported without its recording ({o.reason})")
    except (StoreError, OSError) as exc:
        print(f"emotrace: library import: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    total = sum(counts.values())
    print(
        f"{total} calls: {counts['imported']} imported ({without_media} without recording), "
        f"{counts['skipped']} already in the library, {counts['failed']} failed; "
        f"library {store.home}"
    )
    store.close()
    if counts["failed"]:
        print(f"emotrace: {counts['failed']} of {total} calls failed to import", file=sys.stderr)
        return 1
    return 0
