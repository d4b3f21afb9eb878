"""What the review app shows, computed away from the widgets: upload checks and table rows.

Everything here takes results, records and annotations and returns plain values (lists of rows,
strings, numbers), so it is tested without a browser and the app stays a thin layer of widgets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer import (
    AnalysisResult,
    MediaError,
    MediaInfo,
    Settings,
    probe_media,
)
from analyzer.export import speaker_name  # not in analyzer's public API yet
from analyzer.notes import note_dict

from .i18n import NOTE_TEMPLATES, emotion_name, t

MB = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """What the app accepts. Checked from the file's content, never from its name."""

    max_bytes: int = 1024 * MB  # largest accepted file, bytes
    max_duration_s: float = 3 * 3600.0  # longest accepted recording, seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        """The limits a deployment set (``max_upload_mb``, ``max_minutes``)."""
        return cls(
            max_bytes=int(settings.max_upload_mb * MB),
            max_duration_s=settings.max_minutes * 60.0,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UploadLimits:
        """``EMOTRACE_MAX_UPLOAD_MB`` and ``EMOTRACE_MAX_MINUTES`` (via ``Settings.from_env``)."""
        return cls.from_settings(Settings.from_env(env))


def amount(x: float) -> str:
    """A limit or a size as people write it: ``180``, ``0.5``, ``1.25`` (at most 2 decimals)."""
    return f"{round(float(x), 2):g}"


def one_line_error(exc: BaseException, path: str | os.PathLike, name: str) -> str:
    """``<name>: <cause>`` for a failed upload: one line, no server path in it.

    The upload's temporary path (and its folder) is replaced by the name the user gave it.
    """
    p = Path(path)
    text = " ".join(str(exc).split()) or type(exc).__name__
    for shown in (str(p), str(p.resolve()), str(p.parent), str(p.parent.resolve())):
        text = text.replace(shown + "/", "").replace(shown, name)
    if isinstance(exc, MemoryError):
        text = "the file needs more memory than this server has (is its header damaged?)"
    elif not isinstance(exc, MediaError):
        text = f"could not be analysed ({type(exc).__name__}: {text})"
    return text if text.startswith(name) else f"{name}: {text}"


def check_upload(
    path: str | os.PathLike, limits: UploadLimits, *, name: str | None = None, lang: str = "en"
) -> MediaInfo:
    """Probe ``path`` by its content and enforce ``limits``; raise MediaError with a clear message.

    The container is identified by FFmpeg's probing of the bytes (a text file named .wav is
    refused), then size, audio presence and duration are checked.
    """
    p = Path(path)
    shown = name or p.name
    size = p.stat().st_size if p.exists() else 0
    if size > limits.max_bytes:
        raise MediaError(
            t(
                "msg_too_big",
                lang,
                name=shown,
                size_mb=amount(size / MB),
                limit_mb=amount(limits.max_bytes / MB),
            )
        )
    if size == 0:
        raise MediaError(t("msg_empty", lang, name=shown))
    try:
        info = probe_media(p)
    except MediaError as exc:
        if exc.code == "unreadable_media":  # the cause in the reviewer's words
            reason = one_line_error(MediaError(str(exc.params.get("reason", ""))), p, shown)
            reason = reason.removeprefix(f"{shown}: ")
            raise MediaError(t("msg_unreadable", lang, name=shown, reason=reason)) from None
        raise MediaError(one_line_error(exc, p, shown)) from None
    if not info.has_audio:
        raise MediaError(t("msg_no_audio", lang, name=shown))
    if info.duration_s > limits.max_duration_s:
        raise MediaError(
            t(
                "msg_too_long",
                lang,
                name=shown,
                minutes=amount(info.duration_s / 60),
                limit=amount(limits.max_duration_s / 60),
            )
        )
    return info


def _fmt(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(float(x), digits)


def call_rows(
    calls: Sequence[Any], coaching: dict[str, int] | None = None, lang: str = "en"
) -> list[list]:
    """Library table rows: name, created, uploader, duration, roles, negative share, events,
    coaching examples, and the id last (the row's key; long and rarely read); roles and event
    kinds in ``lang``."""
    coaching = coaching or {}
    sep = "、" if lang == "zh" else ", "

    return [
        [
            c.name,
            c.created_at.replace("+00:00", "")[:16].replace("T", " "),
            c.uploaded_by,
            clock(c.duration_s),
            sep.join(role_name(r, lang) or r for r in c.roles),
            f"{c.negative_share:.0%}",
            sep.join(event_kind_name(k, lang) for k in c.event_kinds) if c.event_kinds else "",
            coaching.get(c.id, 0),
            c.id,
        ]
        for c in calls
    ]


def call_headers(lang: str) -> list[str]:
    keys = (
        "col_name",
        "col_created",
        "col_by",
        "col_duration",
        "col_roles",
        "col_negative",
        "col_events",
        "col_coaching",
    )
    return [t(k, lang) for k in keys] + ["id"]


def role_name(role: str | None, lang: str) -> str | None:
    """A role's name in ``lang`` (agent -> 坐席); None for no role or one without a name."""
    key = f"role_{role}"
    return t(key, lang) if role and t(key, lang) != key else None


def speaker_label(result: AnalysisResult, speaker_id: str | None, lang: str = "en") -> str:
    """A speaker's display name in ``lang``: the role translated (agent -> 坐席), else the id."""
    role = next((s.role for s in result.speakers if s.id == speaker_id), None)
    name = role_name(role, lang)
    if name is not None:
        return name if role == speaker_id else f"{name} ({speaker_id})"
    return speaker_name(result, speaker_id)


def turn_segments(result: AnalysisResult) -> list:
    """The speech-turn segments in time order: the rows of the segment table."""
    turns = (s for s in result.segments if s.kind == "turn")
    return sorted(turns, key=lambda s: (s.start, s.speaker))


def segment_rows(result: AnalysisResult, lang: str = "en") -> list[list]:
    return [
        [
            _fmt(s.start),
            _fmt(s.end),
            speaker_label(result, s.speaker, lang),
            emotion_name(s.emotion, lang) if s.emotion else t("unknown", lang),
            _fmt(s.confidence),
            _fmt(s.arousal),
            _fmt(s.valence),
        ]
        for s in turn_segments(result)
    ]


def segment_headers(lang: str) -> list[str]:
    keys = (
        "col_start",
        "col_end",
        "col_speaker",
        "col_emotion",
        "col_confidence",
        "col_arousal",
        "col_valence",
    )
    return [t(k, lang) for k in keys]


def sorted_events(result: AnalysisResult) -> list:
    return sorted(result.events, key=lambda e: e.start)


def event_rows(result: AnalysisResult, lang: str = "en") -> list[list]:
    return [
        [
            _fmt(e.start),
            _fmt(e.end),
            event_kind_name(e.kind, lang),
            speaker_label(result, e.speaker, lang),
            event_text(e, lang, result),
        ]
        for e in sorted_events(result)
    ]


def event_headers(lang: str) -> list[str]:
    keys = ("col_start", "col_end", "col_kind", "col_speaker", "col_description")
    return [t(k, lang) for k in keys]


def annotation_rows(annotations: Sequence[Any], lang: str = "en") -> list[list]:
    return [
        [
            _fmt(a.start),
            _fmt(a.end),
            t(f"kind_{a.kind}", lang),
            a.speaker or "",
            a.text,
            emotion_name(a.corrected_label, lang) if a.corrected_label else "",
            a.author,
        ]
        for a in annotations
    ]


def annotation_headers(lang: str) -> list[str]:
    keys = (
        "col_start",
        "col_end",
        "col_kind",
        "col_speaker",
        "col_text",
        "col_label",
        "col_author",
    )
    return [t(k, lang) for k in keys]


def evidence(result: AnalysisResult, index: int) -> dict:
    """Per-modality evidence of the ``index``-th segment-table row (empty when out of range)."""
    segs = turn_segments(result)
    if not 0 <= index < len(segs):
        return {}
    s = segs[index]
    return json.loads(
        json.dumps(
            {
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "speaker": speaker_name(result, s.speaker),
                "fused": {
                    "emotion": s.emotion,
                    "confidence": s.to_dict()["confidence"],
                    "probs": s.to_dict()["probs"],
                },
                **{m: s.to_dict()["modalities"].get(m, {}) for m in ("voice", "face", "prosody")},
            }
        )
    )


def parse_optional_float(value: Any) -> float | None:
    """A number from a text box, or None for an empty box; ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value)


def audit_rows(entries: Sequence[Any]) -> list[list]:
    """Audit table rows: time, user, action, call id, detail (newest first as given)."""
    return [
        [e.at.replace("+00:00", "").replace("T", " "), e.user, e.action, e.call_id or "", e.detail]
        for e in entries
    ]


def audit_headers(lang: str) -> list[str]:
    return [t(k, lang) for k in ("col_at", "col_user", "col_action", "col_call", "col_detail")]


# ---- the at-a-glance summary and the transcript panel (HTML; ``data-seek`` moves the player) ----

EMOTION_CLASS = {  # semantic groups, shared with the timeline's colours
    "angry": "negative",
    "disgust": "negative",
    "fearful": "negative",
    "sad": "negative",
    "neutral": "neutral",
    "happy": "positive",
    "surprised": "positive",
    "uncertain": "uncertain",
}


def clock(seconds: float) -> str:
    """``m:ss`` for a time in seconds."""
    m, s = divmod(max(float(seconds), 0.0), 60.0)
    return f"{int(m)}:{int(s):02d}"


def _moment(seconds: float) -> str:
    return f'<span class="emo-moment" data-seek="{seconds:.3f}">{clock(seconds)}</span>'


def _esc(text: Any) -> str:
    import html

    return html.escape(str(text))


def event_kind_name(kind: str, lang: str) -> str:
    """An event kind in ``lang`` (``escalation`` -> 升级)."""
    return t(f"event_{kind}", lang)


def _event_params(event: Any, lang: str, result: AnalysisResult | None) -> dict[str, Any]:
    """An event's params ready for its template in ``lang``: speakers by their names, emotions
    translated, the complaint phrases joined."""
    params = dict(getattr(event, "params", None) or {})
    for key in ("speaker", "other", "before", "after"):
        who = params.get(key)
        if not who:
            continue
        name = speaker_label(result, who, lang) if result is not None else str(who)
        if name == who and t(f"role_{who}", lang) != f"role_{who}":
            name = t(f"role_{who}", lang)  # an id that is a role ("customer" on a stereo call)
        params[key] = name
    for key in ("emotion_before", "emotion_after"):
        if params.get(key):
            params[key] = emotion_name(str(params[key]), lang)
    phrases = (getattr(event, "evidence", None) or {}).get("phrases") or []
    params["phrases"] = ("、" if lang == "zh" else ", ").join(f"“{p}”" for p in phrases[:4])
    return params


def event_text(event: Any, lang: str, result: AnalysisResult | None = None) -> str:
    """An event's description in ``lang``, from its ``code`` and ``params`` (speakers named as
    in ``result`` when given); the engine's English description where no template fits."""
    code = getattr(event, "code", None)
    params = getattr(event, "params", None) or {}
    key = f"evdesc_{code}"
    if code == "interruption" and params.get("estimated"):
        key += "_estimated"
    elif code == "unanswered_question" and params.get("reason") == "asked_again":
        key += "_asked_again"
    if code and t(key, lang) != key:
        try:
            return t(key, lang, **_event_params(event, lang, result))
        except (KeyError, ValueError, IndexError, TypeError):
            pass
    if lang == "en":
        return str(event.description)
    return f"{event_kind_name(event.kind, lang)}（{event.description}）"


def summary_html(result: AnalysisResult, lang: str = "en") -> str:
    """The call at a glance, from the engine's per-speaker summary and events (nothing is
    recomputed here): per speaker talk time and share, turns, interruptions, emotion shares, the
    arousal/valence arc per quarter and the trend; then overtalk, silences and the escalation
    moments of the call (each a link that moves the player)."""
    total = sum(s.talk_time_s for s in result.summary.values()) or 0.0
    events = sorted_events(result)
    head = [
        t(k, lang)
        for k in (
            "col_speaker",
            "sum_talk",
            "sum_turns",
            "sum_interruptions",
            "sum_emotions",
            "sum_arc",
            "sum_outcome",
        )
    ]
    rows = []
    for spk in result.speakers:
        summ = result.summary.get(spk.id)
        if summ is None:
            continue
        share = summ.talk_time_s / total if total else 0.0
        shares = sorted(
            ((k, v) for k, v in summ.emotion_share.items() if v and v >= 0.05),
            key=lambda kv: -kv[1],
        )
        emo = " ".join(
            f'<span class="emo-chip emo-{EMOTION_CLASS.get(k, "neutral")}">'
            f"{_esc(emotion_name(k, lang))} {v:.0%}</span>"
            for k, v in shares
        )
        arc = " → ".join(
            "–" if q.arousal is None else f"{q.arousal:+.2f}/{q.valence or 0.0:+.2f}"
            for q in summ.quarters
        )
        cut_ins = summ.events.get("interruption", 0)
        who = _esc(speaker_label(result, spk.id, lang))
        if spk.role and spk.role_confidence is not None and spk.role_confidence < 1.0:
            # a guessed role says how sure the guess is (a given role has confidence 1)
            sure = f"({t('role_guessed', lang)} {spk.role_confidence:.0%})"
            who += f' <span class="emo-conf">{_esc(sure)}</span>'
        rows.append(
            [
                who,
                f"{summ.talk_time_s:.1f} s ({share:.0%})",
                str(summ.turns),
                str(cut_ins),
                emo or "–",
                arc or "–",
                _esc(t(f"trend_{summ.trend.direction}", lang)),
            ]
        )
    table = (
        '<table class="emo-summary"><tr>'
        + "".join(f"<th>{_esc(h)}</th>" for h in head)
        + "</tr>"
        + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
        + "</table>"
    )
    kinds = {k: [e for e in events if e.kind == k] for k in ("overtalk", "long_silence")}
    escalations = [e for e in events if e.kind == "escalation"]
    lines = [
        f"{_esc(t('sum_overtalk', lang))}: {len(kinds['overtalk'])} "
        f"({sum(e.end - e.start for e in kinds['overtalk']):.1f} s)",
        f"{_esc(t('sum_silences', lang))}: {len(kinds['long_silence'])} "
        f"({sum(e.end - e.start for e in kinds['long_silence']):.1f} s)",
        f"{_esc(t('sum_escalations', lang))}: "
        + (
            ", ".join(
                f"{_moment(e.start)} {_esc(speaker_label(result, e.speaker, lang))}"
                for e in escalations
            )
            or "–"
        ),
    ]
    notes = "".join(f"<li>{_esc(note_text(n, lang))}</li>" for n in result.notes)
    return (
        f'<div class="emo-glance">{table}<p>'
        + "<br>".join(lines)
        + "</p>"
        + (f"<ul>{notes}</ul>" if notes else "")
        + f'<p class="emo-keys">{_esc(t("sum_arc_help", lang))}</p>'
        + scorecard_html(result, lang)
        + "</div>"
    )


def note_text(note: Any, lang: str) -> str:
    """A result note in ``lang``: a note with a ``code`` (a ``Note`` as results load, or its
    dict) in that language's wording (``i18n.NOTE_TEMPLATES``) when there is one and its
    parameters fit (a note with a ``reason`` parameter may have a wording per reason,
    ``code:reason``); otherwise, and in English, the analyzer's own message."""
    d = note_dict(note if isinstance(note, (str, dict)) else str(note))
    templates = NOTE_TEMPLATES.get(lang, {})
    reason = d["params"].get("reason") if isinstance(d["params"], dict) else None
    template = templates.get(f"{d['code']}:{reason}") or templates.get(d["code"])
    if template is not None:
        try:  # formatted even without parameters: a template that wants one falls back
            return template.format(**d["params"])
        except (KeyError, ValueError, IndexError, TypeError):
            pass
    return str(d["message"])


def transcript_lines(result: AnalysisResult) -> list[dict]:
    """The result's transcript (``[{start, end, speaker, text, ...}]``); empty without one."""
    lines = getattr(result, "transcript", None) or []
    out = []
    for line in lines:
        d = line if isinstance(line, dict) else getattr(line, "to_dict", lambda: {})()
        if d.get("text"):
            out.append(d)
    return sorted(out, key=lambda d: float(d.get("start", 0.0)))


def transcript_html(result: AnalysisResult, lang: str = "en") -> str:
    """The transcript panel: one clickable line per utterance, or a plain empty state."""
    lines = transcript_lines(result)
    if not lines:
        return f'<div class="emo-transcript emo-empty">{_esc(t("transcript_empty", lang))}</div>'
    body = "".join(
        f'<p data-seek="{float(d["start"]):.3f}" data-start="{float(d["start"]):.3f}" '
        f'data-end="{float(d.get("end", d["start"])):.3f}">'
        f'<span class="emo-time">{clock(float(d["start"]))}</span>'
        f"<b>{_esc(speaker_label(result, d.get('speaker'), lang))}</b>: {_esc(d['text'])}</p>"
        for d in lines
    )
    return f'<div class="emo-transcript">{body}</div>'


def transcript_html_empty(lang: str) -> str:
    """The transcript panel with no call open."""
    return f'<div class="emo-transcript emo-empty">{_esc(t("transcript_empty", lang))}</div>'


# ---- the agent scorecard in the summary (the engine's ``scorecard``; nothing recomputed) ----

MAX_EVIDENCE = 6  # evidence links shown per metric (the engine lists the strongest first)
ROLE_ORDER = {"agent": 0, "customer": 1}


def scorecard_value(metric: Mapping[str, Any], lang: str = "en") -> str:
    """A metric's value as a reviewer reads it: shares and ratios in percent, scores 0-1,
    seconds and rates with their unit, an outcome by its name, "not measured" for null."""
    value, unit = metric.get("value"), str(metric.get("unit") or "")
    if value is None:
        return t("sc_not_measured", lang)
    if isinstance(value, str):
        key = f"sc_outcome_{value}"
        return t(key, lang) if t(key, lang) != key else value
    x = float(value)
    if unit in ("share", "ratio"):
        return f"{x:.0%}"
    if unit == "score":
        return f"{x:.2f}"
    if unit == "count":
        return f"{x:.0f}"
    if unit == "s":
        return t("sc_unit_s", lang, x=x)
    if unit == "syll/s":
        return t("sc_unit_syll", lang, x=x)
    return f"{x:g} {unit}".strip()


def _explanation_params(
    result: AnalysisResult, params: Mapping[str, Any], lang: str
) -> dict[str, Any]:
    """The explanation's params ready for a template: speakers by their names in ``lang``, lists
    and parts joined, an absent reply gap spelled out."""
    out = dict(params)
    for key in ("speaker", "other"):
        who = out.get(key)
        out[key] = speaker_label(result, who, lang) if who else t("sc_other_side", lang)
    sep = "、" if lang == "zh" else ", "
    out["on"] = sep.join(speaker_label(result, s, lang) for s in params.get("on") or [])
    parts = params.get("parts") or {}
    out["parts"] = sep.join(
        f"{t(f'sc_part_{k}', lang)} {float(v):.2f}" for k, v in parts.items() if v is not None
    )
    lat = params.get("response_latency_s")
    out["latency"] = t("sc_na", lang) if lat is None else t("sc_unit_s", lang, x=float(lat))
    return out


def scorecard_explanation(
    result: AnalysisResult, name: str, metric: Mapping[str, Any], lang: str = "en"
) -> str:
    """A metric's plain explanation in ``lang``: the template of its ``code`` filled with its
    ``params``; without one (an unknown code, a missing number), the engine's English text in
    English and "metric: value" otherwise, so Chinese never shows a half-English sentence."""
    expl = metric.get("explanation") or {}
    if isinstance(expl, str):
        expl = {"text": expl}
    code = expl.get("code")
    key = f"scx_{code}"
    if code and t(key, lang) != key:
        try:
            return t(key, lang, **_explanation_params(result, expl.get("params") or {}, lang))
        except (KeyError, ValueError, IndexError, TypeError):
            pass
    if lang == "en" and expl.get("text"):
        return str(expl["text"])
    return t("sc_fallback", lang, m=metric_name(name, lang), v=scorecard_value(metric, lang))


def metric_name(name: str, lang: str = "en") -> str:
    """A scorecard metric's name in ``lang`` (``composure`` -> 沉着)."""
    key = f"sc_{name}"
    return t(key, lang) if t(key, lang) != key else name.replace("_", " ")


def _evidence_links(evidence: Sequence[Any]) -> str:
    links = []
    for span in list(evidence or [])[:MAX_EVIDENCE]:
        try:
            a, b = float(span[0]), float(span[1])
        except (TypeError, ValueError, IndexError):
            continue
        shown = clock(a) if clock(a) == clock(b) else f"{clock(a)}–{clock(b)}"
        links.append(
            f'<span class="emo-moment emo-evidence" data-seek="{a:.3f}" '
            f'data-end="{b:.3f}">{shown}</span>'
        )
    more = len(evidence or []) - MAX_EVIDENCE
    return " ".join(links) + (f" …(+{more})" if more > 0 else "") if links else "–"


def scorecard_html(result: AnalysisResult, lang: str = "en") -> str:
    """The scorecard of every speaker (agent first): each metric's value, its plain explanation
    and its evidence, each time range a link that moves the player. Empty without a scorecard."""
    card = getattr(result, "scorecard", None) or {}
    if not card:
        return ""
    roles = {s.id: s.role for s in result.speakers}
    order = sorted(card, key=lambda s: (ROLE_ORDER.get(roles.get(s) or "", 2), s))
    head = "".join(
        f"<th>{_esc(t(k, lang))}</th>" for k in ("sc_metric", "sc_value", "sc_why", "sc_evidence")
    )
    blocks = []
    for spk in order:
        rows = "".join(
            f'<tr data-metric="{_esc(name)}"><td>{_esc(metric_name(name, lang))}</td>'
            f"<td>{_esc(scorecard_value(m, lang))}</td>"
            f"<td>{_esc(scorecard_explanation(result, name, m, lang))}</td>"
            f"<td>{_evidence_links(m.get('evidence') or [])}</td></tr>"
            for name, m in (card.get(spk) or {}).items()
            if isinstance(m, Mapping)
        )
        who = speaker_label(result, spk, lang)
        blocks.append(  # open, and folded away with a click on its title
            f"<details open><summary><b>{_esc(t('sc_title', lang, who=who))}</b></summary>"
            f'<table class="emo-scorecard" data-speaker="{_esc(spk)}"><tr>{head}</tr>{rows}'
            "</table></details>"
        )
    help_ = f'<p class="emo-keys">{_esc(t("sc_help", lang))}</p>'
    return f'<div class="emo-scorecards">{"".join(blocks)}{help_}</div>'


# ---- the library's per-speaker emotion-share filter ---------------------------------------------

SHARE_ROLES = ("any", "agent", "customer")


def parse_share(value: Any) -> float | None:
    """A share typed in a box: ``20``, ``20 %`` or ``0.2`` -> 0.2; None when empty. ValueError
    for anything else, or a share outside 0-100 %."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().rstrip("%").strip().replace(",", ".")
    x = float(text)
    if x != x or x < 0 or x > 100:  # NaN or out of range
        raise ValueError(value)
    percent = x > 1 or (isinstance(value, str) and value.strip().endswith("%"))
    return x / 100 if percent else x


def speaker_emotion_share(
    result: AnalysisResult, emotion: str, role: str = "any"
) -> list[tuple[str, float]]:
    """Per speaker of ``role`` ("any", "agent", "customer"), the share of their turn time with
    ``emotion`` (the engine's per-speaker summary)."""
    out = []
    for spk in result.speakers:
        if role not in (None, "", "any") and spk.role != role:
            continue
        summ = result.summary.get(spk.id)
        shares = (summ.emotion_share if summ is not None else {}) or {}
        out.append((spk.id, float(shares.get(emotion) or 0.0)))
    return out


def has_emotion_share(
    result: AnalysisResult, emotion: str, min_share: float | None, role: str = "any"
) -> bool:
    """Whether a speaker of ``role`` spent at least ``min_share`` of their turns in ``emotion``
    (any of it when ``min_share`` is None or 0)."""
    shares = [x for _, x in speaker_emotion_share(result, emotion, role)]
    if not min_share:
        return any(x > 0 for x in shares)
    return any(x >= min_share - 1e-9 for x in shares)
