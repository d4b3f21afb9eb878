"""The typed result of one analysis, its JSON schema and its tabular views.

JSON times are seconds rounded to milliseconds; ``SCHEMA_VERSION`` changes whenever a key's meaning
changes. ``AnalysisResult.from_dict(r.to_dict())`` round-trips.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .coaching.turntaking import TurnTaking
from .labels import LABELS, NEGATIVE_LABELS
from .media import MediaInfo
from .notes import note_dict, note_from
from .segment import Segment
from .summary import SUMMARY_EVENT_KINDS as SUMMARY_EVENT_KINDS  # re-exported: home is summary
from .summary import QuarterMean as QuarterMean
from .summary import SpeakerSummary as SpeakerSummary
from .summary import Trend as Trend
from .words.redact import NOT_APPLIED, RedactionReport
from .words.transcripts import TranscriptLine

if TYPE_CHECKING:
    import pandas as pd

READABLE_MAJORS = ("1", "2")  # from_dict still reads 1.x results (notes as plain strings)
SCHEMA_VERSION = "2.0"  # 2.0: notes/events carry code+params; roles, scorecard, transcript
SEGMENT_KINDS = ("turn", "window")
EVENT_KINDS = (
    "escalation",
    "de-escalation",
    "long_silence",
    "overtalk",
    "interruption",
    "rate_spike",
    "repeated_complaint",
    "unanswered_question",
)
# The columns of the segments table that every call has (a call with no speech writes them as
# a header, not an empty file); evidence columns ("prosody.pitch_hz"...) follow where present.
SEGMENT_COLUMNS = (
    *("file", "kind", "start", "end", "speaker", "role", "emotion", "arousal", "valence"),
    *("confidence", "overlap", "speech"),
    *(f"p_{label}" for label in LABELS),
)
EVENT_COLUMNS = (
    *("kind", "code", "params", "start", "end", "speaker", "other", "description", "evidence"),
)
# The scorecard as a table, one row per speaker and metric: the columns of the batch's
# ``scorecards/`` dataset (analyzer/batch/tables.py) after its ``call_id``.
SCORECARD_COLUMNS = (
    "file", "speaker", "role", "metric", "value", "value_text", "unit", "explanation_code",
    "explanation_text", "explanation_params", "evidence",
)  # fmt: skip


def _ms(t: float | None) -> float | None:
    return None if t is None else round(float(t), 3)


def _num(x: Any, digits: int = 4) -> Any:
    """JSON-safe number: NaN/inf become None, floats are rounded."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    try:
        f = float(x)
    except (TypeError, ValueError):
        return x
    return None if not math.isfinite(f) else round(f, digits)


def _json_text(value: Any) -> str | None:
    """Nested values of a table cell as JSON text (keys sorted, like the batch's tables)."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


def _clean(obj: Any) -> Any:
    """Recursively make evidence dicts JSON-safe."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, str) or obj is None:
        return obj
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    return _num(obj)


@dataclass(frozen=True)
class Speaker:
    """One person in the call. ``channel`` is set for channel-separated calls."""

    id: str
    role: str | None = None  # "agent", "customer" or a user-given name; None when unknown
    channel: int | None = None
    face_track: int | None = None  # the face track matched to this voice, if any
    talk_time_s: float = 0.0
    source: str = "channel"  # how the speaker was found: "channel" or "diarization"
    role_confidence: float | None = None  # 0-1 that ``role`` is right (1: given); None: no role

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "role_confidence": _num(self.role_confidence, 3),
            "channel": self.channel,
            "face_track": self.face_track,
            "talk_time_s": _ms(self.talk_time_s),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Speaker:
        return cls(
            d["id"],
            d.get("role"),
            d.get("channel"),
            d.get("face_track"),
            d.get("talk_time_s", 0.0),
            d.get("source", "channel"),
            d.get("role_confidence"),
        )


class _Timed:
    """``start`` and ``end`` of a record that holds a ``segment``."""

    segment: Segment

    @property
    def start(self) -> float:
        return self.segment.start

    @property
    def end(self) -> float:
        return self.segment.end


@dataclass(frozen=True)
class EmotionSegment(_Timed):
    """Fused emotion of one speaker over one stretch of time.

    ``modalities`` maps "voice", "face" and "prosody" to the evidence each gave for this segment
    (its own probabilities or arousal, its confidence, the weight fusion gave it, and raw features).
    """

    kind: str  # "turn" (a speech turn) or "window" (the fixed grid)
    segment: Segment
    speaker: str
    emotion: str | None  # arg-max of probs, "uncertain" (labels.UNCERTAIN) when the speech model
    # declined to name one and nothing else did; None without categorical evidence
    probs: dict[str, float]  # empty without categorical evidence
    arousal: float | None  # [-1, 1]; None without evidence
    valence: float | None  # [-1, 1]; None without evidence
    confidence: float  # [0, 1]
    modalities: dict[str, dict[str, Any]] = field(default_factory=dict)
    overlap: bool = False  # another speaker talks during part of this segment
    speech: bool = True  # False for grid windows where this speaker is silent

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": _ms(self.start),
            "end": _ms(self.end),
            "speaker": self.speaker,
            "emotion": self.emotion,
            "probs": {k: _num(self.probs.get(k, 0.0)) for k in LABELS},
            "arousal": _num(self.arousal),
            "valence": _num(self.valence),
            "confidence": _num(self.confidence),
            "overlap": bool(self.overlap),
            "speech": bool(self.speech),
            "modalities": _clean(self.modalities),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EmotionSegment:
        return cls(
            kind=d["kind"],
            segment=Segment(d["start"], d["end"]),
            speaker=d["speaker"],
            emotion=d["emotion"],
            probs=dict(d["probs"]),
            arousal=d["arousal"],
            valence=d["valence"],
            confidence=d["confidence"],
            modalities=d.get("modalities", {}),
            overlap=d.get("overlap", False),
            speech=d.get("speech", True),
        )


@dataclass(frozen=True)
class Event(_Timed):
    """Something a reviewer should look at, with the evidence behind it."""

    kind: str  # one of EVENT_KINDS
    segment: Segment
    speaker: str | None  # who it concerns (None for a silence of the whole call)
    description: str
    evidence: dict[str, Any] = field(default_factory=dict)
    other: str | None = None  # the other party (e.g. who was interrupted)

    @property
    def code(self) -> str:
        """The stable identifier an app translates the description from (the event's kind)."""
        return self.kind

    @property
    def params(self) -> dict[str, Any]:
        """The names and numbers of the description: who, with whom, how long, and every scalar
        item of the evidence (e.g. ``from``/``to`` labels, arousal change)."""
        found: dict[str, Any] = {
            "speaker": self.speaker,
            "other": self.other,
            "duration_s": _ms(self.end - self.start),
        }
        for key, value in self.evidence.items():
            if isinstance(value, str | int | float | bool) or value is None:
                found.setdefault(key, value)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "params": _clean(self.params),
            "start": _ms(self.start),
            "end": _ms(self.end),
            "speaker": self.speaker,
            "other": self.other,
            "description": self.description,
            "evidence": _clean(self.evidence),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(
            d["kind"],
            Segment(d["start"], d["end"]),
            d.get("speaker"),
            d.get("description", ""),
            d.get("evidence", {}),
            d.get("other"),
        )


@dataclass(frozen=True)
class FaceFrame:
    """One analysed video frame for one face track, or a frame where no face was found.

    With ``face`` False every cue is NaN and ``track`` is None: no face is never guessed.
    """

    time: float
    face: bool
    track: int | None = None
    speaker: str | None = None
    cues: dict[str, float] = field(default_factory=dict)  # yaw/pitch/roll (deg), gaze, smile...
    emotion: str | None = None
    probs: dict[str, float] | None = None
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": _ms(self.time),
            "face": bool(self.face),
            "track": self.track,
            "speaker": self.speaker,
            "cues": _clean(self.cues),
            "emotion": self.emotion,
            "probs": _clean(self.probs) if self.probs is not None else None,
            "confidence": _num(self.confidence),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaceFrame:
        cues = {k: (math.nan if v is None else v) for k, v in (d.get("cues") or {}).items()}
        return cls(
            d["time"],
            d["face"],
            d.get("track"),
            d.get("speaker"),
            cues,
            d.get("emotion"),
            d.get("probs"),
            d.get("confidence"),
        )


@dataclass
class AnalysisResult:
    """Everything one analysis found in one file.

    segments: fused emotion per speaker, both per speech turn (kind "turn") and on a fixed grid
        (kind "window").
    turns: the raw speech turns per speaker (from voice activity and speaker attribution).
    faces: per analysed video frame, one row per face track (or one "no face" row).
    summary: per speaker id, the call summary (emotion shares, quarter means, trend); plain
        dicts given here are read with ``SpeakerSummary.from_dict``.
    notes: plain-language caveats a reviewer should read (e.g. a model that was not available).
    """

    media: MediaInfo
    speakers: list[Speaker]
    segments: list[EmotionSegment]
    events: list[Event]
    turns: list[tuple[str, Segment]] = field(default_factory=list)
    faces: list[FaceFrame] = field(default_factory=list)
    summary: dict[str, SpeakerSummary] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    models: dict[str, str | None] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds spent per stage
    # the words of the call, line by line (imported or transcribed; empty without words)
    transcript: list[TranscriptLine] = field(default_factory=list)
    redaction: RedactionReport = NOT_APPLIED  # what personal data was replaced, and where
    schema_version: str = SCHEMA_VERSION
    # Per speaker: talk, cut-ins, backchannels, reply latency... (computed once, by the engine).
    turn_taking: TurnTaking | None = None
    # {speaker id: {metric: {"value", "unit", "explanation", "evidence"}}} (coaching.scorecard).
    scorecard: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.summary = {
            spk: s if isinstance(s, SpeakerSummary) else SpeakerSummary.from_dict(s)
            for spk, s in self.summary.items()
        }

    # ---- views -----------------------------------------------------------------------------
    def speaker(self, speaker_id: str) -> Speaker:
        for s in self.speakers:
            if s.id == speaker_id:
                return s
        raise KeyError(speaker_id)

    def segments_of(self, kind: str = "window", speaker: str | None = None) -> list[EmotionSegment]:
        return [
            s for s in self.segments if s.kind == kind and (speaker is None or s.speaker == speaker)
        ]

    def negative_share(self) -> float:
        """Share of speech-turn time whose fused emotion is negative (sad/angry/fearful/disgust)."""
        turns = [s for s in self.segments if s.kind == "turn"]
        total = sum(s.segment.duration for s in turns)
        neg = sum(s.segment.duration for s in turns if s.emotion in NEGATIVE_LABELS)
        return neg / total if total > 0 else 0.0

    # ---- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "media": self.media.to_dict(),
            "speakers": [s.to_dict() for s in self.speakers],
            "segments": [s.to_dict() for s in self.segments],
            "events": [e.to_dict() for e in self.events],
            "turns": [
                {"speaker": spk, "start": _ms(seg.start), "end": _ms(seg.end)}
                for spk, seg in self.turns
            ],
            "faces": [f.to_dict() for f in self.faces],
            "summary": _clean({spk: s.to_dict() for spk, s in self.summary.items()}),
            "notes": [note_dict(n) for n in self.notes],
            "models": dict(self.models),
            "config": _clean(self.config),
            "timings": {k: _num(v, 3) for k, v in self.timings.items()},
            "transcript": [line.to_dict() for line in self.transcript],
            "redaction": self.redaction.to_dict(),
            "turn_taking": None if self.turn_taking is None else _clean(self.turn_taking.to_dict()),
            "scorecard": _clean(self.scorecard),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnalysisResult:
        version = str(d.get("schema_version", ""))
        if version.split(".")[0] not in READABLE_MAJORS:
            raise ValueError(f"unsupported schema_version {version!r} (this is {SCHEMA_VERSION})")
        return cls(
            media=MediaInfo.from_dict(d["media"]),
            speakers=[Speaker.from_dict(s) for s in d["speakers"]],
            segments=[EmotionSegment.from_dict(s) for s in d["segments"]],
            events=[Event.from_dict(e) for e in d["events"]],
            turns=[(t["speaker"], Segment(t["start"], t["end"])) for t in d.get("turns", [])],
            faces=[FaceFrame.from_dict(f) for f in d.get("faces", [])],
            summary=d.get("summary", {}),
            notes=[note_from(n) for n in d.get("notes", [])],
            models=dict(d.get("models", {})),
            config=d.get("config", {}),
            timings=dict(d.get("timings", {})),
            transcript=[TranscriptLine.from_dict(t) for t in d.get("transcript", [])],
            redaction=RedactionReport.from_dict(d.get("redaction")),
            turn_taking=TurnTaking.from_dict(d["turn_taking"]) if d.get("turn_taking") else None,
            scorecard=dict(d.get("scorecard") or {}),
        )

    @classmethod
    def from_json(cls, text: str) -> AnalysisResult:
        return cls.from_dict(json.loads(text))

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON atomically (temp file + rename): a crash never leaves half a file.
        The text is encoded piece by piece into the file (the same bytes as ``to_json``), so a
        long call's result never exists as one string in memory as well as a dict."""

        def dump(fh: IO[bytes]) -> None:
            text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=False)
            json.dump(self.to_dict(), text, ensure_ascii=False, indent=1, allow_nan=False)
            text.flush()
            text.detach()

        return write_atomic_with(path, dump)

    # ---- tables ----------------------------------------------------------------------------
    def scorecard_rows(self) -> list[dict[str, Any]]:
        """One flat row per speaker and scorecard metric, in :data:`SCORECARD_COLUMNS` (the
        columns of the batch's ``scorecards/`` dataset, less its ``call_id``): a number in
        ``value``, an outcome (``recovered``...) in ``value_text``; the explanation's params and
        the evidence ``[[start, end], ...]`` as JSON text."""
        roles = {s.id: s.role for s in self.speakers}
        name = Path(self.media.path).name
        rows = []
        for spk, metrics in self.scorecard.items():
            for metric, m in (metrics or {}).items():
                value, why = m.get("value"), m.get("explanation") or {}
                rows.append(
                    {
                        "file": name,
                        "speaker": spk,
                        "role": roles.get(spk),
                        "metric": metric,
                        "value": None if value is None or isinstance(value, str) else float(value),
                        "value_text": value if isinstance(value, str) else None,
                        "unit": m.get("unit"),
                        "explanation_code": why.get("code"),
                        "explanation_text": why.get("text"),
                        "explanation_params": _json_text(why.get("params")),
                        "evidence": _json_text(m.get("evidence")),
                    }
                )
        return rows

    def segment_rows(self) -> list[dict[str, Any]]:
        """One flat row per fused segment: times, speaker, role, label, scores, evidence."""
        roles = {s.id: s.role for s in self.speakers}
        rows = []
        for s in self.segments:
            row = {
                "file": Path(self.media.path).name,
                "kind": s.kind,
                "start": _ms(s.start),
                "end": _ms(s.end),
                "speaker": s.speaker,
                "role": roles.get(s.speaker),
                "emotion": s.emotion,
                "arousal": _num(s.arousal),
                "valence": _num(s.valence),
                "confidence": _num(s.confidence),
                "overlap": bool(s.overlap),
                "speech": bool(s.speech),
            }
            for label in LABELS:
                row[f"p_{label}"] = _num(s.probs.get(label, 0.0))
            for modality, ev in s.modalities.items():
                for key, value in _flatten(ev):
                    row[f"{modality}.{key}"] = _clean(value)
            rows.append(row)
        return rows

    def to_dataframe(self, what: str = "segments") -> pd.DataFrame:
        """A pandas DataFrame of ``segments`` (default), ``events``, ``faces``, ``turns``,
        ``transcript`` (one row per line: file, start, end, speaker, role, language, text) or
        ``scorecard`` (one row per speaker and metric)."""
        import pandas as pd

        if what == "segments":  # the fixed columns first; evidence columns where there is any
            rows = self.segment_rows()
            return pd.DataFrame(rows, columns=None if rows else list(SEGMENT_COLUMNS))
        if what == "events":
            return pd.DataFrame(
                [
                    e.to_dict() | {"evidence": json.dumps(e.to_dict()["evidence"])}
                    for e in self.events
                ],
                columns=list(EVENT_COLUMNS),
            )
        if what == "faces":
            rows = []
            for f in self.faces:
                d = f.to_dict()
                cues = d.pop("cues")
                probs = d.pop("probs") or {}
                rows.append(d | cues | {f"p_{k}": v for k, v in probs.items()})
            return pd.DataFrame(
                rows, columns=None if rows else ["time", "face", "track", "speaker"]
            )
        if what == "turns":
            return pd.DataFrame(self.to_dict()["turns"], columns=["speaker", "start", "end"])
        if what == "transcript":
            columns = ["file", "start", "end", "speaker", "role", "language", "text"]
            roles = {s.id: s.role for s in self.speakers}
            return pd.DataFrame(
                [
                    {
                        "file": Path(self.media.path).name,
                        **line.to_dict(),
                        "role": roles.get(line.speaker) if line.speaker else None,
                    }
                    for line in self.transcript
                ],
                columns=columns,
            )
        if what == "scorecard":
            return pd.DataFrame(self.scorecard_rows(), columns=list(SCORECARD_COLUMNS))
        raise ValueError(
            "what must be one of: segments, events, faces, turns, transcript, scorecard"
        )

    def write_csv(self, path: str | os.PathLike[str], what: str = "segments") -> Path:
        data = self.to_dataframe(what).to_csv(index=False).encode("utf-8")
        return write_atomic(path, data)

    def write_parquet(self, path: str | os.PathLike[str], what: str = "segments") -> Path:
        frame = self.to_dataframe(what)
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        return path


def speaker_name(result: AnalysisResult, speaker_id: str | None) -> str:
    """``role (id)`` when a role is known, the id otherwise."""
    if speaker_id is None:
        return ""
    for s in result.speakers:
        if s.id == speaker_id:
            return f"{s.role} ({s.id})" if s.role and s.role != s.id else s.id
    return speaker_id


def _flatten(ev: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in ev.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + ".")
        else:
            yield name, value


def process_umask() -> int:
    """The process's file-creation mask, read without changing it where Linux tells it
    (``/proc/self/status``); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_folder(final: Path, staged: Path | None, old: Path) -> None:
    """Put the complete folder ``staged`` at ``final`` (None: just remove ``final``): an
    existing ``final`` is first renamed to ``old`` and deleted only once the new one stands, so
    readers see the old folder or the new one, never a half-written one."""
    if final.exists():
        os.replace(final, old)
    if staged is not None:
        os.replace(staged, final)
    shutil.rmtree(old, ignore_errors=True)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    return write_atomic_with(path, lambda fh: fh.write(data))


def write_atomic_with(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Let ``write`` fill a temporary file in ``path``'s folder, then rename it to ``path``: the
    file appears whole or not at all (a failing ``write`` leaves nothing behind)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~process_umask())  # as open() would make it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
