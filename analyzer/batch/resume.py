"""What makes a batch resumable: a fingerprint of the settings and a record per finished call.

A call counts as finished when ``<out>/.emotrace-batch/done/<stem>.done.json`` exists, names the
call's content hash and the run's fingerprint, and the result JSON it points at still has the
recorded SHA-256. The record is written (atomically) only after the result JSON itself, so a run
killed at any instant leaves either a finished call or one that the next run analyses again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from ..audio.speakercount import COUNT_MODEL
from ..audio.speakers import PROJECTION_MODEL
from ..config import AnalysisConfig
from ..hashing import content_hash
from ..models import DEFAULT_MODELS, ModelError, resolve_model_dir
from ..naming import output_path
from ..result import write_atomic

STATE_DIR = ".emotrace-batch"  # inside the output folder: one record per finished call
# Options that change speed, not results: left out of the fingerprint so a run with another
# worker size still recognises its earlier results.
SPEED_ONLY_FIELDS = frozenset({"ser_threads", "extras"})


def model_checksums(config: AnalysisConfig) -> dict[str, str | None]:
    """SHA-256 of each configured model folder's SHA256SUMS (None: no model of that kind).

    Raises ModelError when a model named in the config cannot be found.
    """
    sums: dict[str, str | None] = {}
    for kind, name in (("ser", config.ser_model), ("fer", config.fer_model)):
        if name is None:
            sums[kind] = None
            continue
        if name == "default":
            try:
                folder = resolve_model_dir(DEFAULT_MODELS[kind])
            except ModelError:
                sums[kind] = None  # the engine runs without it and says so in the notes
                continue
        else:
            folder = resolve_model_dir(name)
        listing = folder / "SHA256SUMS"
        if not listing.is_file():
            raise ModelError(f"{folder} has no SHA256SUMS")
        sums[kind] = content_hash(listing)
    # Mono diarization clusters short calls in the shipped speaker space and counts the voices
    # with the shipped count model (neither is configurable).
    for key, model in (("speaker", PROJECTION_MODEL), ("speaker_count", COUNT_MODEL)):
        try:
            listing = resolve_model_dir(model) / "SHA256SUMS"
            sums[key] = content_hash(listing) if listing.is_file() else None
        except ModelError:
            sums[key] = None
    return sums


def fingerprint(config: AnalysisConfig, checksums: dict[str, str | None]) -> str:
    """One hex digest of everything that decides a call's result apart from its bytes."""
    from .. import __version__

    options = {k: v for k, v in config.to_dict().items() if k not in SPEED_ONLY_FIELDS}
    text = json.dumps(
        {"engine": __version__, "config": options, "models": checksums},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_path(out_dir: str | os.PathLike[str], stem: str) -> Path:
    return output_path(Path(out_dir) / STATE_DIR / "done", stem, ".done.json")


def is_finished(out_dir: str | os.PathLike[str], stem: str, call_id: str, fp: str) -> bool:
    """True when the call's record matches this content hash and fingerprint and its result
    JSON is intact."""
    record = read_record(out_dir, stem)
    if record is None or record.get("call_id") != call_id or record.get("fingerprint") != fp:
        return False
    result = output_path(out_dir, stem, ".json")
    try:
        return content_hash(result) == record.get("result_sha256")
    except OSError:
        return False


def read_record(out_dir: str | os.PathLike[str], stem: str) -> dict[str, Any] | None:
    try:
        record = json.loads(record_path(out_dir, stem).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(
    out_dir: str | os.PathLike[str],
    stem: str,
    *,
    call_id: str,
    fp: str,
    file: str,
    **extra: Any,
) -> Path:
    """Mark a call finished; call only after its result JSON is in place."""
    result = output_path(out_dir, stem, ".json")
    record = {
        "call_id": call_id,
        "fingerprint": fp,
        "file": file,
        "result": result.relative_to(out_dir).as_posix(),
        "result_sha256": content_hash(result),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }
    data = json.dumps(record, sort_keys=True, indent=1).encode("utf-8")
    return write_atomic(record_path(out_dir, stem), data)
