"""The batch's Parquet tables, built from the per-call result JSON.

Every table has a fixed schema, whatever modalities a call had, so the files of one dataset
always read as one table (pandas, pyarrow, DuckDB, Spark). Nested evidence goes into JSON text
columns. Every row starts with ``call_id`` (the recording's content hash) and ``file`` (the call
as the user named it: see ``inputs.CallInput``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..labels import LABELS, NEGATIVE_LABELS

if TYPE_CHECKING:
    import pyarrow as pa

TABLES = ("segments", "events", "calls", "scorecards")
# Datasets split into hive folders by these columns (segments/kind=turn/, kind=window/): the two
# kinds answer different questions and most reads want only one.
PARTITIONS = {"segments": ["kind"], "events": [], "calls": [], "scorecards": []}
KEY_COLUMNS = ("call_id", "file")


def _schema(table: str) -> pa.Schema:
    import pyarrow as pa

    key = [pa.field("call_id", pa.string(), nullable=False), pa.field("file", pa.string(), False)]
    f64, text, flag = pa.float64(), pa.string(), pa.bool_()
    fields = {
        "segments": [
            ("kind", text), ("start", f64), ("end", f64), ("speaker", text), ("role", text),
            ("emotion", text), ("arousal", f64), ("valence", f64), ("confidence", f64),
            ("overlap", flag), ("speech", flag),
            *[(f"p_{label}", f64) for label in LABELS],
            ("modalities", text),
        ],
        "events": [
            ("kind", text), ("code", text), ("start", f64), ("end", f64), ("speaker", text),
            ("other", text), ("description", text), ("params", text), ("evidence", text),
        ],
        "calls": [
            ("path", text), ("result", text), ("agent", text), ("finished_at", text),
            ("duration_s", f64), ("channels", pa.int64()), ("has_video", flag),
            ("container", text), ("n_speakers", pa.int64()), ("n_segments", pa.int64()),
            ("n_events", pa.int64()), ("negative_share", f64), ("schema_version", text),
            ("speakers", text), ("summary", text), ("notes", text), ("models", text),
            ("config", text),
        ],
        "scorecards": [
            ("speaker", text), ("role", text), ("metric", text), ("value", f64),
            ("value_text", text), ("unit", text), ("explanation_code", text),
            ("explanation_text", text), ("explanation_params", text), ("evidence", text),
        ],
    }[table]  # fmt: skip
    return pa.schema(key + [pa.field(name, kind) for name, kind in fields])


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


def _float(value: Any) -> float | None:
    return None if value is None or isinstance(value, str) else float(value)


def rows(table: str, doc: dict[str, Any], meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``table`` for one result JSON ``doc``.

    meta: the call's ``call_id``, ``file``, ``path``, ``result`` (JSON path relative to the output
    folder), ``agent`` and ``finished_at``.
    """
    key = {"call_id": meta["call_id"], "file": meta["file"]}
    roles = {s["id"]: s.get("role") for s in doc.get("speakers", [])}
    if table == "segments":
        return [
            key
            | {k: s.get(k) for k in ("kind", "start", "end", "speaker", "emotion")}
            | {k: _float(s.get(k)) for k in ("arousal", "valence", "confidence")}
            | {"role": roles.get(s.get("speaker")), "overlap": bool(s.get("overlap"))}
            | {"speech": bool(s.get("speech", True)), "modalities": _json(s.get("modalities"))}
            | {f"p_{label}": _float((s.get("probs") or {}).get(label)) for label in LABELS}
            for s in doc.get("segments", [])
        ]
    if table == "events":
        return [
            key
            | {k: e.get(k) for k in ("kind", "code", "start", "end", "speaker", "other")}
            | {"description": e.get("description")}
            | {"params": _json(e.get("params")), "evidence": _json(e.get("evidence"))}
            for e in doc.get("events", [])
        ]
    if table == "calls":
        return [key | _call_row(doc, meta)]
    if table == "scorecards":
        out = []
        for speaker, metrics in (doc.get("scorecard") or {}).items():
            for metric, m in (metrics or {}).items():
                value, why = m.get("value"), m.get("explanation") or {}
                out.append(
                    key
                    | {"speaker": speaker, "role": roles.get(speaker), "metric": metric}
                    | {"value": _float(value) if not isinstance(value, bool) else float(value)}
                    | {"value_text": value if isinstance(value, str) else None}
                    | {"unit": m.get("unit"), "explanation_code": why.get("code")}
                    | {"explanation_text": why.get("text")}
                    | {"explanation_params": _json(why.get("params"))}
                    | {"evidence": _json(m.get("evidence"))}
                )
        return out
    raise ValueError(f"table must be one of {TABLES}")


def _call_row(doc: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    media = doc.get("media", {})
    segments = doc.get("segments", [])
    turns = [s for s in segments if s.get("kind") == "turn"]
    total = sum(s["end"] - s["start"] for s in turns)
    negative = sum(s["end"] - s["start"] for s in turns if s.get("emotion") in NEGATIVE_LABELS)
    return {
        "path": meta.get("path"),
        "result": meta.get("result"),
        "agent": meta.get("agent"),
        "finished_at": meta.get("finished_at"),
        "duration_s": _float(media.get("duration_s")),
        "channels": media.get("channels"),
        "has_video": media.get("has_video"),
        "container": media.get("container"),
        "n_speakers": len(doc.get("speakers", [])),
        "n_segments": len(segments),
        "n_events": len(doc.get("events", [])),
        "negative_share": negative / total if total > 0 else 0.0,
        "schema_version": doc.get("schema_version"),
        "speakers": _json(doc.get("speakers")),
        "summary": _json(doc.get("summary")),
        "notes": _json(doc.get("notes")),
        "models": _json(doc.get("models")),
        "config": _json(doc.get("config")),
    }


def to_arrow(table: str, records: list[dict[str, Any]]) -> pa.Table:
    """A pyarrow Table of ``records`` with the table's fixed schema (also when empty)."""
    import pyarrow as pa

    schema = _schema(table)
    columns = {f.name: [r.get(f.name) for r in records] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)
