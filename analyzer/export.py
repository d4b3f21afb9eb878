"""Exports of analysed calls for reviewers' other tools.

One call: JSON, CSV, Parquet, ELAN ``.eaf`` (pympi), Praat ``TextGrid`` (praatio) and WebVTT
(webvtt-py). The layouts (owned by the review issue; the words issue adds transcript tiers/columns):

- ELAN: per speaker a tier of the fused emotion of each speech turn (named like the speaker) and
  numeric tiers ``<speaker> arousal`` / ``<speaker> valence`` (``+0.12``); an ``events`` tier
  (``kind: description``); one tier per annotation kind (``annotations: note``...); the media
  linked by the path given (relative to the .eaf when relative, e.g. the recording's file name).
- CSV / Parquet of one call: the segment rows, then one row per event and per annotation, then
  one row per speaker and scorecard metric; the ``row`` column says which (``segment`` |
  ``event`` | ``annotation`` | ``scorecard``), events and annotations fill ``kind``, ``start``,
  ``end``, ``speaker``, ``text`` (and ``corrected_label``, ``author``), scorecard rows the
  columns of the batch's ``scorecards/`` dataset (``speaker``, ``role``, ``metric``, ``value``,
  ``value_text``, ``unit``, ``explanation_code`` / ``_text`` / ``_params``, ``evidence`` as JSON).
- WebVTT: each speaker's emotion per turn, the events (``⚑ kind: description``) and the timed
  annotations.
- Transcript (when the call has words): per speaker a tier ``<speaker> words`` in ELAN and
  the lines as cues (``who: words``) in WebVTT.
- Several calls: one combined CSV or Parquet table.

Annotations are read by attribute (``kind, start, end, speaker, text, corrected_label, author``),
so anything shaped like :class:`analyzer.store.Annotation` works.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .result import AnalysisResult, EmotionSegment, Event, write_atomic
from .result import speaker_name as speaker_name  # re-exported; its home is analyzer.result

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("json", "csv", "parquet", "eaf", "textgrid", "vtt", "srt")
SUFFIXES = {
    "json": ".json",
    "csv": ".csv",
    "parquet": ".parquet",
    "eaf": ".eaf",
    "textgrid": ".TextGrid",
    "vtt": ".vtt",
    "srt": ".srt",
}
ANNOTATION_TIER = "annotations"
EVENT_TIER = "events"
ANNOTATION_KIND_TIERS = ("note", "label_correction", "coaching_flag")  # "annotations: <kind>"
TRANSCRIPT_TIER = "{speaker} words"  # one tier of transcript lines per speaker
UNKNOWN_SPEAKER = "unknown"  # transcript lines that no speaker's turns overlap
POINT_S = 0.5  # seconds given to a point annotation in formats that need intervals
MIN_INTERVAL_S = 0.001  # intervals shorter than this (after rounding to ms) are dropped


def speaker_turns(result: AnalysisResult) -> dict[str, list[tuple[float, float, str]]]:
    """Per speaker, the non-overlapping (start, end, label) of its speech turns, in order.

    The label is the fused emotion, or the arousal when no emotion model was available.

    Falls back to the fixed-grid windows for a speaker that has no turn segments.
    """
    out: dict[str, list[tuple[float, float, str]]] = {}
    for spk in result.speakers:
        segs = result.segments_of("turn", spk.id) or [
            s for s in result.segments_of("window", spk.id) if s.speech
        ]
        rows, last_end = [], 0.0
        for s in sorted(segs, key=lambda s: (s.start, s.end)):
            start, end = max(round(s.start, 3), last_end), round(s.end, 3)
            if end - start >= MIN_INTERVAL_S:
                rows.append((start, end, turn_label(s)))
                last_end = end
        out[spk.id] = rows
    return out


def transcript_rows(result: AnalysisResult) -> dict[str, list[tuple[float, float, str]]]:
    """Per tier name (``TRANSCRIPT_TIER`` of each speaker), the non-overlapping (start, end,
    text) of its transcript lines, in order; empty when the result has no words."""
    by_tier: dict[str, list[tuple[float, float, str]]] = {}
    for line in sorted(result.transcript, key=lambda line: (line.start, line.end)):
        who = speaker_name(result, line.speaker) if line.speaker else UNKNOWN_SPEAKER
        rows = by_tier.setdefault(TRANSCRIPT_TIER.format(speaker=who), [])
        start = max(round(line.start, 3), rows[-1][1] if rows else 0.0)
        end = round(line.end, 3)
        if end - start >= MIN_INTERVAL_S and line.text.strip():
            rows.append((start, end, line.text.strip()))
    return by_tier


def turn_label(segment: EmotionSegment) -> str:
    """The emotion label of a segment; its arousal when no emotion model gave a label."""
    if segment.emotion:
        return segment.emotion
    if segment.arousal is not None:
        return f"arousal {segment.arousal:+.2f}"
    return ""


def annotation_text(a: Any) -> str:
    """One line for an annotation: ``[kind] text -> label (author)``."""
    parts = [f"[{a.kind}]"]
    if getattr(a, "speaker", None):
        parts.append(f"{a.speaker}:")
    if a.text:
        parts.append(a.text)
    if getattr(a, "corrected_label", None):
        parts.append(f"-> {a.corrected_label}")
    if getattr(a, "author", None):
        parts.append(f"({a.author})")
    return " ".join(parts)


def _annotation_spans(
    result: AnalysisResult, annotations: Iterable[Any]
) -> list[tuple[float, float, str]]:
    """(start, end, text) per annotation; call-level ones span the call, points get POINT_S."""
    total = float(result.media.duration_s)
    spans: list[tuple[float, float, str]] = []
    for a in annotations:
        if a.start is None:
            start, end = 0.0, total
        else:
            start = min(float(a.start), total)
            end = max(float(a.end if a.end is not None else a.start), start + POINT_S)
            end = min(end, total) if total > start else start + POINT_S
        spans.append((round(start, 3), round(end, 3), annotation_text(a)))
    return sorted(spans)


# ---- single-call formats ------------------------------------------------------------------------


def event_text(event: Any) -> str:
    """One line for an event: ``kind: description``."""
    return f"{event.kind}: {event.description}"


def write_eaf(
    result: AnalysisResult,
    path: str | os.PathLike[str],
    annotations: Sequence[Any] = (),
    *,
    media_path: str | os.PathLike[str] | None = None,
) -> Path:
    """ELAN: per speaker an emotion tier and numeric arousal/valence tiers, per speaker a tier of
    transcript lines when the call has words, an events tier, a tier per annotation kind, the
    media linked.

    ``media_path`` is the file ELAN should open (default: the analysed file's path); a relative
    path is relative to the .eaf's folder (ELAN's RELATIVE_MEDIA_URL).
    """
    import pympi

    eaf = pympi.Elan.Eaf(author="emotrace")
    eaf.remove_tier("default")
    media = Path(media_path or result.media.path)
    if media.is_absolute():
        eaf.add_linked_file(media.as_uri(), mimetype=_mimetype(result))
    else:
        rel = media.as_posix()
        eaf.add_linked_file(rel, relpath=f"./{rel}", mimetype=_mimetype(result))

    def add(tier: str, rows: Iterable[tuple[float, float, str]]) -> None:
        eaf.add_tier(tier)
        for start, end, value in rows:
            if round(end * 1000) > round(start * 1000):
                eaf.add_annotation(tier, round(start * 1000), round(end * 1000), value)

    for spk, rows in speaker_turns(result).items():
        name = speaker_name(result, spk)
        add(name, rows)
        turns = _clipped(result.segments_of("turn", spk))
        for key in ("arousal", "valence"):
            add(
                f"{name} {key}",
                [
                    (a, b, f"{getattr(s, key):+.2f}")
                    for a, b, s in turns
                    if getattr(s, key) is not None
                ],
            )
    for tier, lines in transcript_rows(result).items():
        add(tier, lines)
    add(
        EVENT_TIER,
        sorted((round(e.start, 3), round(e.end, 3), event_text(e)) for e in result.events),
    )
    for kind in ANNOTATION_KIND_TIERS:
        of_kind = [a for a in annotations if a.kind == kind]
        add(f"{ANNOTATION_TIER}: {kind}", _annotation_spans(result, of_kind))
    return _write_via_temp(path, lambda tmp: eaf.to_file(str(tmp)))


def _clipped(segments: Sequence[Any]) -> list[tuple[float, float, Any]]:
    """(start, end, segment) in time order, each starting after the previous ends (ELAN tiers
    hold no overlapping annotations)."""
    rows: list[tuple[float, float, Any]] = []
    last_end = 0.0
    for s in sorted(segments, key=lambda s: (s.start, s.end)):
        start, end = max(round(s.start, 3), last_end), round(s.end, 3)
        if end - start >= MIN_INTERVAL_S:
            rows.append((start, end, s))
            last_end = end
    return rows


def write_textgrid(
    result: AnalysisResult, path: str | os.PathLike[str], annotations: Sequence[Any] = ()
) -> Path:
    """Praat: an interval tier per speaker (emotion per turn), one per speaker of transcript
    lines when the call has words, and a point tier of annotations."""
    from praatio import textgrid

    total = max(round(float(result.media.duration_s), 3), 0.001)
    tg = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=total)
    for spk, rows in speaker_turns(result).items():
        entries = [(s, min(e, total), lab) for s, e, lab in rows if s < total]
        tg.addTier(textgrid.IntervalTier(speaker_name(result, spk), entries, 0.0, total))
    for tier, rows in transcript_rows(result).items():
        entries = [(s, min(e, total), text) for s, e, text in rows if s < total]
        tg.addTier(textgrid.IntervalTier(tier, entries, 0.0, total))
    points, used = [], set()
    for start, _end, label in _annotation_spans(result, annotations):
        t = min(start, total)
        while t in used:  # Praat needs distinct point times in one tier
            t = round(t + 0.001, 3)
        used.add(t)
        points.append((t, label))
    tg.addTier(textgrid.PointTier(ANNOTATION_TIER, points, 0.0, max(total, *used, 0.0)))
    return _write_via_temp(
        path, lambda tmp: tg.save(str(tmp), format="long_textgrid", includeBlankSpaces=True)
    )


def vtt_cues(
    result: AnalysisResult,
    annotations: Sequence[Any] = (),
    *,
    label_names: dict[str, str] | None = None,
    speaker_names: dict[str, str] | None = None,
    event_text: Callable[[Any], str] | None = None,
) -> list[tuple[float, float, str]]:
    """(start, end, text) subtitle cues: each speaker's emotion per turn, the events, the
    transcript's lines (``who: words``) when the call has words, then the timed annotations.

    ``label_names`` translates emotion labels, ``speaker_names`` speaker ids and ``event_text``
    gives an event's text (e.g. in Chinese, as the review app does); by default labels, names
    and the engine's English descriptions are shown as they are.
    """
    names = label_names or {}

    def who_is(spk: str) -> str:
        return (speaker_names or {}).get(spk) or speaker_name(result, spk)

    def told(e: Event) -> str:
        return event_text(e) if event_text else f"{e.kind}: {e.description}"

    cues = []
    for spk, rows in speaker_turns(result).items():
        who = who_is(spk)
        for start, end, label in rows:
            cues.append((start, end, f"{who}: {names.get(label, label)}"))
    for e in result.events:
        end = max(round(e.end, 3), round(e.start, 3) + POINT_S)
        cues.append((round(e.start, 3), end, f"⚑ {told(e)}"))
    for line in result.transcript:
        if line.text.strip() and line.end > line.start:
            who = who_is(line.speaker) if line.speaker else UNKNOWN_SPEAKER
            cues.append((round(line.start, 3), round(line.end, 3), f"{who}: {line.text.strip()}"))
    timed = [a for a in annotations if a.start is not None]
    cues.extend(_annotation_spans(result, timed))
    return sorted(cues)


def vtt_payload(text: str) -> str:
    """A cue's text as WebVTT wants it: ``&``, ``<`` and ``>`` escaped (a note's "<b>" or "-->"
    is shown as written, not read as markup or a timing line), no empty line inside (which
    would end the cue)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(line for line in escaped.splitlines() if line.strip())


def vtt_text(cues: Iterable[tuple[float, float, str]]) -> str:
    """WebVTT document text for ``cues``."""
    import webvtt

    doc = webvtt.WebVTT()
    for start, end, label in cues:
        doc.captions.append(webvtt.Caption(_vtt_time(start), _vtt_time(end), vtt_payload(label)))
    buf = io.StringIO()
    doc.write(buf)
    return buf.getvalue()


def write_vtt(
    result: AnalysisResult,
    path: str | os.PathLike[str],
    annotations: Sequence[Any] = (),
    *,
    label_names: dict[str, str] | None = None,
    speaker_names: dict[str, str] | None = None,
    event_text: Callable[[Any], str] | None = None,
) -> Path:
    """WebVTT subtitles of the current emotion per speaker (and the timed annotations); the
    names and texts as ``vtt_cues`` takes them."""
    cues = vtt_cues(
        result,
        annotations,
        label_names=label_names,
        speaker_names=speaker_names,
        event_text=event_text,
    )
    text = vtt_text(cues)
    return write_atomic(path, text.encode("utf-8"))


def srt_text(result: AnalysisResult) -> str:
    """The call's transcript as SubRip subtitles: one numbered cue per line with words,
    ``who: words`` (the placeholders of a redacted call stay as they are). Empty without words."""
    cues: list[str] = []
    lines = sorted(result.transcript, key=lambda ln: (ln.start, ln.end))
    for line in lines:
        text = " ".join(line.text.split())
        if not text or line.end <= line.start:
            continue
        who = speaker_name(result, line.speaker) if line.speaker else UNKNOWN_SPEAKER
        start = _vtt_time(line.start).replace(".", ",")
        end = _vtt_time(line.end).replace(".", ",")
        cues.append(f"{len(cues) + 1}\n{start} --> {end}\n{who}: {text}\n")
    return "\n".join(cues)


def write_srt(result: AnalysisResult, path: str | os.PathLike[str]) -> Path:
    """The transcript as SubRip subtitles (``srt_text``), written atomically."""
    return write_atomic(path, srt_text(result).encode("utf-8"))


def rttm_file_id(result: AnalysisResult) -> str:
    """The RTTM file id of a result: its input's file name without the last extension.

    RTTM fields are separated by spaces, so spaces in the name become underscores.
    """
    return Path(result.media.path).stem.replace(" ", "_") or "call"


def rttm_text(result: AnalysisResult, *, file_id: str | None = None) -> str:
    """The speech turns of ``result`` as RTTM ``SPEAKER`` lines (times in seconds, 3 decimals).

    One line per turn in time order: ``SPEAKER <file id> 1 <start> <duration> <NA> <NA>
    <speaker id> <NA> <NA>``; the speaker id is the result's (``S1``...), never its display name.
    """
    fid = file_id or rttm_file_id(result)
    lines = []
    for speaker, seg in sorted(result.turns, key=lambda t: (t[1].start, t[0])):
        start, duration = round(seg.start, 3), round(seg.end - seg.start, 3)
        if duration > 0:
            lines.append(
                f"SPEAKER {fid} 1 {start:.3f} {duration:.3f} <NA> <NA> {speaker} <NA> <NA>\n"
            )
    return "".join(lines)


def write_rttm(
    result: AnalysisResult, path: str | os.PathLike[str], *, file_id: str | None = None
) -> Path:
    """Write the result's speech turns as RTTM (``rttm_text``), for diarization scoring."""
    return write_atomic(path, rttm_text(result, file_id=file_id).encode("utf-8"))


def export_call(
    result: AnalysisResult,
    fmt: str,
    path: str | os.PathLike[str],
    annotations: Sequence[Any] = (),
    *,
    media_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write one call in ``fmt`` (one of ``FORMATS``) to ``path``; returns the path.

    JSON holds the model output under "result" and the annotations beside it. CSV and Parquet
    hold :func:`call_frame`: the segment rows, then the events, the annotations and the
    scorecard.
    """
    fmt = fmt.lower()
    if fmt == "json":
        doc = {
            "result": result.to_dict(),
            "annotations": [_annotation_dict(a) for a in annotations],
        }
        data = json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False)
        return write_atomic(path, data.encode("utf-8"))
    if fmt == "csv":
        frame = call_frame(result, annotations)
        return write_atomic(path, frame.to_csv(index=False).encode("utf-8"))
    if fmt == "parquet":
        frame = call_frame(result, annotations)
        return _write_via_temp(path, lambda tmp: frame.to_parquet(tmp, index=False))
    if fmt == "eaf":
        return write_eaf(result, path, annotations, media_path=media_path)
    if fmt == "textgrid":
        return write_textgrid(result, path, annotations)
    if fmt == "vtt":
        return write_vtt(result, path, annotations)
    if fmt == "srt":
        return write_srt(result, path)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def call_frame(result: AnalysisResult, annotations: Sequence[Any] = ()) -> Any:
    """One call as one table (a pandas DataFrame): the segment rows (``row`` = "segment"), then a
    row per event and per annotation, sharing ``kind``, ``start``, ``end``, ``speaker``, then a
    row per speaker and scorecard metric (``row`` = "scorecard"; ``metric``, ``value``,
    ``value_text``, ``unit``, ``explanation_*`` and ``evidence`` as in
    :meth:`AnalysisResult.scorecard_rows`)."""
    import pandas as pd

    name = Path(result.media.path).name
    segments = result.to_dataframe("segments")
    segments.insert(0, "row", "segment")
    events = [
        {
            "row": "event",
            "file": name,
            "kind": e.kind,
            "start": round(e.start, 3),
            "end": round(e.end, 3),
            "speaker": e.speaker,
            "text": e.description,
        }
        for e in result.events
    ]
    notes = [
        {
            "row": "annotation",
            "file": name,
            "kind": a.kind,
            "start": a.start,
            "end": a.end,
            "speaker": getattr(a, "speaker", None),
            "text": a.text,
            "corrected_label": getattr(a, "corrected_label", None),
            "author": getattr(a, "author", None),
        }
        for a in annotations
    ]
    # Last, the scorecard: one row per speaker and metric, the batch's ``scorecards/`` columns.
    card = [{"row": "scorecard"} | r for r in result.scorecard_rows()]
    extra = pd.DataFrame(events + notes + card)
    if extra.empty:
        return segments
    return pd.concat([segments, extra], ignore_index=True, sort=False)


# ---- redacted audio -----------------------------------------------------------------------------

REDACTED_AUDIO_SUFFIX = ".redacted.wav"  # beside the JSON: <input file name>.redacted.wav


def write_redacted_audio(
    result: AnalysisResult,
    audio_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
) -> Path:
    """Write the call's audio with every span of ``result.redaction`` silenced, as a WAV file.

    audio_path: the recording that was analysed (any format the analyzer reads; video gives its
    sound track). Each span gets ``WORD_TIME_PAD_S`` of margin on both sides (ASR word times are
    often a tenth of a second off) and is set to digital silence with a 5 ms fade outside its
    edges (``silence_audio``), so it lies below -60 dBFS as CONTRACTS asks. Everything else keeps
    its samples: a file soundfile can read (WAV, FLAC, OGG) is read at its own rate, channels and
    sample format and written back in that format (16-bit PCM for compressed sources); any other
    recording is decoded at its own rate (16-bit PCM out). Raises ValueError when the result was
    not redacted (writing unredacted audio under a "redacted" name would be worse than nothing).
    """
    import soundfile as sf

    from .media import load_audio
    from .words.redact import WORD_TIME_PAD_S, silence_audio

    if not result.redaction.applied:
        raise ValueError("the result was not redacted (analyse with --redact)")
    try:
        info = sf.info(str(audio_path))
    except (sf.LibsndfileError, RuntimeError):
        info = None
    if info is not None:
        samples, sr = sf.read(str(audio_path), dtype="float32", always_2d=True)
        audio = samples.T  # [channels, samples]
        subtype = info.subtype if info.format == "WAV" else "PCM_16"
    else:
        sr = int(result.media.sample_rate or 16000)
        audio = load_audio(audio_path, sample_rate=sr)
        subtype = "PCM_16"
    quiet = silence_audio(audio, sr, result.redaction.spans, pad_s=WORD_TIME_PAD_S)
    return _write_via_temp(
        out_path, lambda tmp: sf.write(str(tmp), quiet.T, sr, subtype=subtype, format="WAV")
    )


# ---- several calls ------------------------------------------------------------------------------


def combined_frame(
    items: Iterable[tuple[Any, AnalysisResult, Sequence[Any]]], what: str = "segments"
) -> pd.DataFrame:
    """One table for many calls: ``what`` rows of each result, prefixed by call columns.

    ``items`` yields (call record, result, annotations), e.g. from :meth:`Store.results`;
    ``what`` is "segments", "events", "annotations" or "scorecard" (one row per speaker and
    metric).
    """
    import pandas as pd

    frames = []
    for record, result, notes in items:
        if what == "annotations":
            frame = pd.DataFrame([_annotation_dict(a) for a in notes])
            frame = frame.drop(columns=["call_id"], errors="ignore")
        else:
            frame = result.to_dataframe(what)
        frame.insert(0, "call_id", record.id)
        frame.insert(1, "call_name", record.name)
        frame.insert(2, "uploaded_by", record.uploaded_by)
        frame.insert(3, "call_created_at", record.created_at)
        if what == "segments":
            frame.insert(4, "n_annotations", len(notes))
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["call_id", "call_name", "uploaded_by", "call_created_at"])
    return pd.concat(frames, ignore_index=True, sort=False)


def write_combined(
    items: Iterable[tuple[Any, AnalysisResult, Sequence[Any]]],
    path: str | os.PathLike[str],
    fmt: str = "csv",
    what: str = "segments",
) -> Path:
    """Write :func:`combined_frame` as CSV or Parquet, atomically."""
    frame = combined_frame(items, what)
    if fmt == "csv":
        return write_atomic(path, frame.to_csv(index=False).encode("utf-8"))
    if fmt == "parquet":
        return _write_via_temp(path, lambda tmp: frame.to_parquet(tmp, index=False))
    raise ValueError("combined exports are 'csv' or 'parquet'")


# ---- helpers ------------------------------------------------------------------------------------


def _annotation_dict(a: Any) -> dict[str, Any]:
    if hasattr(a, "to_dict"):
        out: dict[Any, Any] = a.to_dict()
        return out
    keys = ("kind", "start", "end", "speaker", "text", "corrected_label", "author", "created_at")
    return {k: getattr(a, k, None) for k in keys}


def _vtt_time(t: float) -> str:
    ms = round(max(t, 0.0) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _mimetype(result: AnalysisResult) -> str:
    suffix = Path(result.media.path).suffix.lower()
    known = {".wav": "audio/x-wav", ".mp3": "audio/mpeg", ".mp4": "video/mp4", ".m4a": "audio/mp4"}
    return known.get(suffix, "video/*" if result.media.has_video else "audio/*")


def _write_via_temp(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Let ``write(tmp_path)`` produce the file, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
