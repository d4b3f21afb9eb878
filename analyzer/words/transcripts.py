"""Transcripts made elsewhere: SRT, WebVTT, JSON segments, Whisper and Amazon Transcribe JSON.

No Chinese (or other non-English) speech recogniser ships offline, so a team's own ASR output is
how every language reaches the analyzer. ``read_transcript`` turns any of the supported files into
``TranscriptLine`` rows in call time (seconds) with the line's language detected from its text;
``assign_speakers`` attaches each line to one of the analyzer's speakers.

Supported inputs (``format``, detected from the extension, else from the content):

* ``srt``: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``; a leading ``Name:`` or ``[Name]``
  on a cue's text is read as its speaker.
* ``vtt``: WebVTT; ``<v Name>`` voice tags (or a leading ``Name:``) give the speaker; NOTE,
  STYLE and REGION blocks and other tags are skipped.
* ``json``: one of
  - a list of segments, or ``{"segments": [...]}``: each ``start``, ``end`` (seconds), ``text``,
    optional ``speaker``, optional ``words`` as ``[{"start", "end", "word"}]`` (Whisper,
    faster-whisper and WhisperX write this shape);
  - Amazon Transcribe (``{"results": {"items": [...]}}``): lines from ``audio_segments`` when
    present, else from ``speaker_labels.segments``, else one line per sentence; speakers from
    the ``speaker_label`` of segments or items.

Malformed input raises ``TranscriptError`` whose message names the file, the line (or the JSON
segment) and the reason. Times past the call's end are clipped (lines starting after it are
dropped) and reported as a ``TranscriptNote``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

FORMATS = ("srt", "vtt", "json")
TRANSCRIPT_SUFFIXES = (".srt", ".vtt", ".json")
LANGUAGE_EN, LANGUAGE_ZH, LANGUAGE_OTHER = "en", "zh", "other"
SENTENCE_END = ".?!。？！"

Word = tuple[float, float, str]


class TranscriptError(ValueError):
    """A transcript file that cannot be read: ``<file>:<line>: <reason>``."""


@dataclass(frozen=True)
class TranscriptLine:
    """One line of a transcript, in call time (seconds).

    speaker: the transcript's own label (or, after ``assign_speakers``, the analyzer's speaker
    id); None when unknown. language: "en", "zh" or "other", detected from ``text``.
    words: (start_s, end_s, word) when the transcript has word times, else None.
    """

    start: float
    end: float
    speaker: str | None
    text: str
    language: str
    words: tuple[Word, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result JSON's ``transcript`` item (CONTRACTS); times rounded to milliseconds."""
        out: dict[str, Any] = {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "speaker": self.speaker,
            "text": self.text,
            "language": self.language,
        }
        if self.words is not None:
            out["words"] = [[round(s, 3), round(e, 3), w] for s, e, w in self.words]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TranscriptLine:
        words = d.get("words")
        return cls(
            start=float(d["start"]),
            end=float(d["end"]),
            speaker=d.get("speaker"),
            text=str(d.get("text", "")),
            language=str(d.get("language") or detect_language(str(d.get("text", "")))),
            words=None
            if words is None
            else tuple((float(s), float(e), str(w)) for s, e, w in words),
        )


@dataclass(frozen=True)
class TranscriptNote:
    """Something the reader changed or could not use; ``code`` and ``params`` as in the result's
    notes, ``message`` in English."""

    code: str
    params: dict[str, Any]
    message: str


@dataclass(frozen=True)
class Transcript:
    """What ``read_transcript`` returns: the lines in time order, the format read, and notes."""

    lines: tuple[TranscriptLine, ...]
    format: str
    notes: tuple[TranscriptNote, ...] = ()


# ------------------------------------------------------------------------------ language

_HAN_CLASS = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_ADDRESS_LIKE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")
_OTHER_LETTER_CLASS = r"[^\W\d_A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"


@cache
def _script_pattern(source: str) -> re.Pattern[str]:
    """The big Unicode classes are compiled on first use (tens of ms each), not on import."""
    return re.compile(source)


_ENGLISH_WORDS = frozenset(
    """the a an and or but is are was were be been to of in on at for with from this that it i
    you he she we they my your our me him her them not no yes do does did have has had can could
    will would should please thank thanks hello hi okay ok so what why how when where who which
    there here just about sorry call number account help""".split()
)


def detect_language(text: str) -> str:
    """ "en", "zh" or "other" for one line of text.

    Chinese when its Han characters are at least half as many as its Latin words (e-mail and
    web addresses not counted), unless kana or hangul make it Japanese or Korean ("other");
    English when Latin words dominate and, for lines of four or more words, at least one in ten
    is a common English function word (so Spanish or German lines come out "other"); "other"
    for other scripts and for text with no letters at all.
    """
    if _KANA_HANGUL.search(text):
        return LANGUAGE_OTHER
    han = len(_script_pattern(_HAN_CLASS).findall(text))
    latin = _LATIN_WORD.findall(_ADDRESS_LIKE.sub(" ", text))
    others = len(_script_pattern(_OTHER_LETTER_CLASS).findall(text))
    if han and 2 * han >= len(latin):  # one Han character carries about half a word
        return LANGUAGE_ZH
    if latin and len(latin) >= others:
        if len(latin) < 4:
            return LANGUAGE_EN
        english = sum(w.lower().replace("’", "'").split("'")[0] in _ENGLISH_WORDS for w in latin)
        return LANGUAGE_EN if english * 10 >= len(latin) else LANGUAGE_OTHER
    return LANGUAGE_OTHER


# ------------------------------------------------------------------------------ helpers

_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})$")
# "Agent:", "SPEAKER_00:", "Mary Jones:", "[spk_1]", "客服：" at the start of a cue's text
_SPEAKER_PREFIX = re.compile(
    r"^\s*(?:\[(?P<bracket>[^\]]{1,40})\]\s*[:：]?"
    r"|(?P<label>(?:[A-Z][\w.'\-]*(?:\s[A-Z0-9][\w.'\-]*){0,2})|(?:speaker|spk)[\s_-]?\w+"
    r"|(?![我你他她它这那])[\u4e00-\u9fff]{1,4})\s*[:：])\s*"
)
_TAG = re.compile(r"<[^>]*>")


def _cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"


def join_tokens(tokens: Sequence[str]) -> str:
    """Words into a line: spaces between words, none between Chinese characters or before
    punctuation."""
    text = ""
    for token in tokens:
        token = token.strip()
        if not token:
            continue
        glue = text and not (_cjk(text[-1]) or _cjk(token[0]) or token[0] in ",.?!;:%)")
        text += (" " if glue else "") + token
    return text


def _seconds(value: str, where: str) -> float:
    m = _TIME.match(value.strip())
    if m is None:
        raise TranscriptError(f"{where}: cannot read the time {value.strip()!r}")
    hours, minutes, seconds, fraction = m.groups()
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise TranscriptError(f"{where}: minutes or seconds past 59 in {value.strip()!r}")
    return (
        int(hours or 0) * 3600
        + int(minutes) * 60
        + int(seconds)
        + int(fraction.ljust(3, "0")) / 1000
    )


def _time_line(line: str, where: str) -> tuple[float, float]:
    if "-->" not in line:
        raise TranscriptError(
            f"{where}: expected a time line 'start --> end', got {line.strip()!r}"
        )
    left, right = line.split("-->", 1)
    start = _seconds(left, where)
    end = _seconds(right.strip().split()[0] if right.strip() else "", where)
    if end < start:
        raise TranscriptError(
            f"{where}: the cue ends ({end:.3f} s) before it starts ({start:.3f} s)"
        )
    return start, end


def _split_speaker(text: str) -> tuple[str | None, str]:
    m = _SPEAKER_PREFIX.match(text)
    if m is None:
        return None, text
    label = (m.group("bracket") or m.group("label") or "").strip()
    rest = text[m.end() :].strip()
    if not label or not rest:
        return None, text
    return label, rest


def _line(
    start: float,
    end: float,
    speaker: str | None,
    text: str,
    words: tuple[Word, ...] | None = None,
) -> TranscriptLine:
    han = _script_pattern(_HAN_CLASS).search(text)
    text = text.strip() if han else " ".join(text.split())
    return TranscriptLine(start, end, speaker, text, detect_language(text), words)


# ------------------------------------------------------------------------------ SRT and WebVTT


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks as (1-based number of their first line, their lines)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first = 0
    for number, line in enumerate(lines, 1):
        if line.strip():
            if not current:
                first = number
            current.append(line.rstrip("\r"))
        elif current:
            blocks.append((first, current))
            current = []
    if current:
        blocks.append((first, current))
    return blocks


def parse_srt(content: str, *, name: str = "<srt>") -> list[TranscriptLine]:
    out = []
    for first, block in _blocks(content.lstrip("\ufeff").splitlines()):
        index = 0
        if "-->" not in block[0]:
            if not block[0].strip().isdigit():
                raise TranscriptError(
                    f"{name}:{first}: expected a cue number or a time line, "
                    f"got {block[0].strip()!r}"
                )
            index = 1
        if index >= len(block):
            raise TranscriptError(f"{name}:{first}: cue {block[0].strip()} has no time line")
        start, end = _time_line(block[index], f"{name}:{first + index}")
        text = " ".join(line.strip() for line in block[index + 1 :])
        text = _TAG.sub("", text)
        speaker, text = _split_speaker(text)
        if text.strip():
            out.append(_line(start, end, speaker, text))
    return out


_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")


def parse_vtt(content: str, *, name: str = "<vtt>") -> list[TranscriptLine]:
    lines = content.lstrip("\ufeff").splitlines()
    if not lines or not lines[0].startswith("WEBVTT"):
        raise TranscriptError(f"{name}:1: a WebVTT file must start with 'WEBVTT'")
    out = []
    for first, block in _blocks(lines[1:]):
        first += 1  # the header line
        head = block[0].strip()
        if head.startswith(("NOTE", "STYLE", "REGION")):
            continue
        index = 0 if "-->" in block[0] else 1  # a cue may carry an identifier line
        if index >= len(block) or "-->" not in block[index]:
            raise TranscriptError(
                f"{name}:{first + index}: expected a time line 'start --> end', got "
                f"{block[min(index, len(block) - 1)].strip()!r}"
            )
        start, end = _time_line(block[index], f"{name}:{first + index}")
        raw = " ".join(line.strip() for line in block[index + 1 :])
        voice = _VOICE.search(raw)
        text = _TAG.sub("", raw).strip()
        speaker = voice.group(1).strip() if voice else None
        if speaker is None:
            speaker, text = _split_speaker(text)
        if text:
            out.append(_line(start, end, speaker, text))
    return out


# ------------------------------------------------------------------------------ JSON


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TranscriptError(f"{where}: '{key}' must be a number of seconds, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise TranscriptError(
            f"{where}: '{key}' must be a number of seconds, got {value!r}"
        ) from None


def _segment(item: Any, where: str) -> TranscriptLine:
    if not isinstance(item, dict):
        raise TranscriptError(f"{where}: a segment must be an object, got {type(item).__name__}")
    for key in ("start", "end", "text"):
        if key not in item:
            raise TranscriptError(f"{where}: missing '{key}'")
    start = _number(item["start"], where, "start")
    end = _number(item["end"], where, "end")
    if end < start:
        raise TranscriptError(f"{where}: ends ({end:.3f} s) before it starts ({start:.3f} s)")
    if not isinstance(item["text"], str):
        raise TranscriptError(f"{where}: 'text' must be a string")
    speaker = item.get("speaker")
    speaker = None if speaker in (None, "") else str(speaker)
    words: tuple[Word, ...] | None = None
    if isinstance(item.get("words"), list):
        timed: list[Word] = []
        for j, w in enumerate(item["words"]):
            w_where = f"{where}, word {j + 1}"
            if not isinstance(w, dict):
                raise TranscriptError(f"{w_where}: a word must be an object")
            token = w.get("word", w.get("text"))
            if not isinstance(token, str):
                raise TranscriptError(f"{w_where}: missing 'word'")
            if "start" not in w or "end" not in w:  # WhisperX leaves numbers untimed: skip them
                continue
            timed.append(
                (
                    _number(w["start"], w_where, "start"),
                    _number(w["end"], w_where, "end"),
                    token.strip(),
                )
            )
        words = tuple(timed)
    return _line(start, end, speaker, item["text"], words)


def _amazon(results: dict[str, Any], name: str) -> list[TranscriptLine]:
    items = results.get("items")
    if not isinstance(items, list):
        raise TranscriptError(f"{name}: Amazon Transcribe results without 'items'")
    tokens: list[dict[str, Any]] = []  # {"id", "start", "end", "text", "speaker", "punct"}
    last_end = 0.0
    for i, item in enumerate(items):
        where = f"{name}: results.items[{i}]"
        alternatives = item.get("alternatives") if isinstance(item, dict) else None
        if (
            not alternatives
            or not isinstance(alternatives[0], dict)
            or "content" not in alternatives[0]
        ):
            raise TranscriptError(f"{where}: missing alternatives[0].content")
        punct = item.get("type") == "punctuation"
        start = last_end if punct else _number(item.get("start_time"), where, "start_time")
        end = last_end if punct else _number(item.get("end_time"), where, "end_time")
        last_end = end
        tokens.append(
            {
                "id": item.get("id", i),
                "start": start,
                "end": end,
                "text": alternatives[0]["content"],
                "speaker": item.get("speaker_label"),
                "punct": punct,
            }
        )

    def line_of(group: list[dict[str, Any]], speaker: str | None) -> TranscriptLine | None:
        spoken = [t for t in group if not t["punct"]]
        if not spoken:
            return None
        words = tuple((t["start"], t["end"], t["text"]) for t in spoken)
        text = join_tokens([t["text"] for t in group])
        return _line(spoken[0]["start"], spoken[-1]["end"], speaker, text, words)

    groups: list[tuple[list[dict[str, Any]], str | None]] = []
    group: list[dict[str, Any]]
    by_id = {t["id"]: t for t in tokens}
    audio_segments = results.get("audio_segments")
    label_segments = (results.get("speaker_labels") or {}).get("segments")
    if isinstance(audio_segments, list) and audio_segments:
        for k, seg in enumerate(audio_segments):
            ids = seg.get("items", []) if isinstance(seg, dict) else None
            if not isinstance(ids, list):
                raise TranscriptError(
                    f"{name}: results.audio_segments[{k}]: 'items' must be a list"
                )
            group = [by_id[j] for j in ids if j in by_id]
            groups.append((group, seg.get("speaker_label") or _majority(group)))
    elif isinstance(label_segments, list) and label_segments:
        for k, seg in enumerate(label_segments):
            where = f"{name}: results.speaker_labels.segments[{k}]"
            start = _number(seg.get("start_time"), where, "start_time")
            end = _number(seg.get("end_time"), where, "end_time")
            group = [
                t
                for t in tokens
                if start <= t["start"] < end or (t["punct"] and start < t["end"] <= end)
            ]
            groups.append((group, seg.get("speaker_label")))
    else:
        group = []
        for t in tokens:
            group.append(t)
            if t["punct"] and t["text"] and t["text"][-1] in SENTENCE_END:
                groups.append((group, _majority(group)))
                group = []
        if group:
            groups.append((group, _majority(group)))
    return [line for g, s in groups if (line := line_of(g, s)) is not None]


def _majority(group: list[dict[str, Any]]) -> str | None:
    labels = [str(t["speaker"]) for t in group if t["speaker"]]
    return max(set(labels), key=labels.count) if labels else None


def parse_json(content: str, *, name: str = "<json>") -> list[TranscriptLine]:
    try:
        data = json.loads(content.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"{name}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("results"), dict):
        return _amazon(data["results"], name)
    segments = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(segments, list):
        raise TranscriptError(
            f"{name}: expected a list of segments, {{'segments': [...]}} or Amazon Transcribe "
            "'results'"
        )
    return [_segment(item, f"{name}: segment {i + 1}") for i, item in enumerate(segments)]


# ------------------------------------------------------------------------------ reading


def guess_format(path: str | Path, content: str) -> str:
    """ "srt", "vtt" or "json" from the file's extension, else from its first characters."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    head = content.lstrip("\ufeff \t\r\n")
    if head.startswith("WEBVTT"):
        return "vtt"
    if head.startswith(("{", "[")):
        return "json"
    return "srt"


def clip_lines(
    lines: Sequence[TranscriptLine], duration: float
) -> tuple[list[TranscriptLine], list[TranscriptNote]]:
    """Keep lines inside [0, duration]: ends (and word times) past it are clipped, lines that
    start at or after it are dropped, negative times become 0. One note says how many."""
    kept, clipped, dropped = [], 0, 0
    for line in lines:
        if line.start >= duration:
            dropped += 1
            continue
        start, end = max(0.0, line.start), min(line.end, duration)
        words = line.words
        if words is not None:
            words = tuple((max(0.0, s), min(e, duration), w) for s, e, w in words if s < duration)
        if (start, end) != (line.start, line.end) or words != line.words:
            clipped += 1
            line = replace(line, start=start, end=max(start, end), words=words)
        kept.append(line)
    notes = []
    if clipped or dropped:
        notes.append(
            TranscriptNote(
                "transcript_clipped",
                {"clipped": clipped, "dropped": dropped, "duration_s": round(duration, 3)},
                f"{clipped} transcript line(s) ran outside the call (0-{duration:.3f} s) and were "
                f"clipped; {dropped} started after its end and were dropped",
            )
        )
    return kept, notes


def parse_transcript(
    content: str,
    *,
    format: str,
    name: str = "<transcript>",
    duration: float | None = None,
) -> Transcript:
    """Parse transcript text of ``format`` ("srt", "vtt" or "json"); see ``read_transcript``."""
    parsers = {"srt": parse_srt, "vtt": parse_vtt, "json": parse_json}
    if format not in parsers:
        raise TranscriptError(
            f"{name}: unknown transcript format {format!r} (use srt, vtt or json)"
        )
    lines = sorted(parsers[format](content, name=name), key=lambda line: (line.start, line.end))
    notes: list[TranscriptNote] = []
    if duration is not None:
        lines, notes = clip_lines(lines, duration)
    return Transcript(tuple(lines), format, tuple(notes))


def read_transcript(
    path: str | Path, *, duration: float | None = None, format: str | None = None
) -> Transcript:
    """Read a transcript file (SRT, WebVTT or JSON; see the module docstring).

    duration: the call's length in seconds; when given, times outside it are clipped with a
    note. format: "srt", "vtt" or "json"; guessed from the extension or content when None.
    Raises ``TranscriptError`` ("<file>:<line>: <reason>") for unreadable or malformed files.
    """
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_transcript(
        content, format=format or guess_format(path, content), name=str(path), duration=duration
    )


def find_transcript(call: str | Path, transcript: str | Path) -> Path | None:
    """The transcript of ``call``: ``transcript`` itself when it is a file; in a folder, the file
    named like the call with a transcript extension (``call.wav`` -> ``call.srt``, ``call.vtt``,
    ``call.json``, also ``call.wav.srt``...), first found in that order; None when there is none.
    """
    transcript, call = Path(transcript), Path(call)
    if not transcript.is_dir():
        return transcript
    for stem in (call.stem, call.name):
        for suffix in TRANSCRIPT_SUFFIXES:
            candidate = transcript / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    return None


# ------------------------------------------------------------------------------ speakers


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def match_labels(
    lines: Sequence[TranscriptLine], turns: Mapping[str, Sequence[tuple[float, float]]]
) -> dict[str, str]:
    """For each of the transcript's own speaker labels, the analyzer speaker whose turns it
    overlaps most in time (labels with no overlap at all are left out)."""
    shared: dict[str, dict[str, float]] = {}
    for line in lines:
        if line.speaker is None:
            continue
        for speaker, spans in turns.items():
            seconds = sum(_overlap(line.start, line.end, s, e) for s, e in spans)
            if seconds > 0:
                by = shared.setdefault(line.speaker, {})
                by[speaker] = by.get(speaker, 0.0) + seconds
    return {label: max(by, key=lambda s: (by[s], s)) for label, by in shared.items()}


def assign_speakers(
    lines: Sequence[TranscriptLine],
    turns: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    *,
    rename: Mapping[str, str] | None = None,
) -> list[TranscriptLine]:
    """Attach each line to a speaker.

    Lines with the transcript's own label keep it, renamed through ``rename`` when it has the
    label (use ``match_labels`` to build one from our turns). Lines without a label take the
    speaker in ``turns`` (speaker id -> list of (start_s, end_s)) whose turns overlap the line
    the most; they stay None when nothing overlaps or no turns are given.
    """
    out = []
    for line in lines:
        if line.speaker is not None:
            if rename and line.speaker in rename:
                line = replace(line, speaker=rename[line.speaker])
        elif turns:
            scores = {
                speaker: sum(_overlap(line.start, line.end, s, e) for s, e in spans)
                for speaker, spans in turns.items()
            }
            best = max(scores, key=lambda s: (scores[s], s), default=None)
            if best is not None and scores[best] > 0:
                line = replace(line, speaker=best)
        out.append(line)
    return out
