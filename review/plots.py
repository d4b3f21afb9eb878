"""Plotly figures of one analysed call: the emotion timeline reviewers read beside the player.

Top panel: one lane per speaker, each speech turn a bar coloured by its fused emotion, plus a lane
of detected events and a lane of reviewers' annotations. Bottom panel: arousal and valence of each
speaker on the fixed grid. Event times are also drawn as dotted lines across both panels.

Dragging across the figure selects a time range (``dragmode="select"``, horizontal); the layout's
``meta.lanes`` maps each speaker lane's name to the speaker id, so that the player's script knows
whose lane a range was drawn in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from analyzer import LABELS, AnalysisResult

from .i18n import emotion_name, t
from .views import speaker_label

# Semantic colours: negative emotions warm (red to amber), neutral grey, positive cool (blues);
# "uncertain" is a light hatched bar (no evidence either way).
EMOTION_COLORS = {
    "angry": "#c62828",
    "disgust": "#8d4e1f",
    "fearful": "#ef6c00",
    "sad": "#f9a825",
    "neutral": "#9e9e9e",
    "happy": "#1565c0",
    "surprised": "#4fc3f7",
    "uncertain": "#e0e0e0",
}
LEGEND_ORDER = ("angry", "disgust", "fearful", "sad", "neutral", "surprised", "happy", "uncertain")
# Each event kind its own marker and colour, so kinds are told apart and filtered in the legend.
EVENT_MARKERS = {
    "escalation": ("triangle-up", "#c62828"),
    "de-escalation": ("triangle-down", "#1565c0"),
    "interruption": ("x", "#6a1b9a"),
    "overtalk": ("square", "#8e24aa"),
    "long_silence": ("line-ew-open", "#616161"),
    "rate_spike": ("star", "#ef6c00"),
    "repeated_complaint": ("diamond", "#ad1457"),
    "unanswered_question": ("circle-x", "#5e35b1"),
}
GROUP_S = 5.0  # s: events of one kind closer than this are drawn as one marker with a count
LONG_CALL_S = 180.0  # s: longer calls get an overview strip (range slider) to zoom with
MIN_OPACITY = 0.3  # opacity of a turn with confidence 0 (confidence 1 is opaque)
SPEAKER_DASH = ("solid", "dash", "dot", "dashdot")
UNKNOWN_COLOR = "#c7ccd6"  # turns without an emotion label
EVENT_COLOR = "#444444"
ANNOTATION_COLOR = "#00838f"


def timeline_figure(result: AnalysisResult, annotations: Sequence[Any] = (), *, lang: str = "en"):
    """The review timeline of ``result`` with ``annotations`` marked; a plotly Figure."""
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45]
    )
    lanes = {s.id: speaker_label(result, s.id, lang) for s in result.speakers}
    ev_lane, ann_lane = t("lane_events", lang), t("lane_annotations", lang)
    _add_turns(fig, result, lanes, lang)
    _add_events(fig, result, ev_lane, lang)
    _add_annotations(fig, annotations, ann_lane, lang)
    _add_curves(fig, result, lanes, lang)

    order = [ann_lane, ev_lane] + list(reversed(list(lanes.values())))
    fig.update_yaxes(categoryorder="array", categoryarray=order, row=1, col=1)
    fig.update_yaxes(range=[-1.05, 1.05], zeroline=True, title_text="", row=2, col=1)
    fig.update_xaxes(range=[0, max(result.media.duration_s, 1.0)])
    fig.update_xaxes(title_text=t("time_s", lang), row=2, col=1)
    fig.update_layout(
        barmode="overlay",
        height=460,
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        legend={"orientation": "h", "y": -0.2, "groupclick": "toggleitem"},
        hovermode="closest",
        template="plotly_white",
        # Dragging across the timeline selects a time range (player.js fills the annotation
        # form with it); a click still moves the player. The mode bar switches to zoom or pan.
        dragmode="select",
        selectdirection="h",
        meta={"lanes": {name: sid for sid, name in lanes.items()}},
    )
    if result.media.duration_s > LONG_CALL_S:  # overview + zoom for long calls
        fig.update_xaxes(rangeslider={"visible": True, "thickness": 0.06}, row=2, col=1)
        fig.update_layout(height=540)
    return fig


def _add_turns(fig, result: AnalysisResult, lanes: dict[str, str], lang: str) -> None:
    """Top panel: one bar per speech turn in its speaker's lane, coloured by its emotion, its
    opacity the confidence (faint = unsure). One trace per emotion, so that the legend names the
    colours and hides or shows one; a turn without a label is drawn as an unlabelled bar.
    """
    import plotly.graph_objects as go

    labels = [x for x in LEGEND_ORDER if x in LABELS or x == "uncertain"]
    for label in (*labels, None):
        segs = [s for s in result.segments if s.kind == "turn" and s.emotion == label]
        if not segs:
            continue
        name = emotion_name(label, lang) if label else t("unknown", lang)
        pattern = {"shape": "/", "fgcolor": "#9e9e9e"} if label in ("uncertain", None) else {}
        fig.add_trace(
            go.Bar(
                orientation="h",
                y=[lanes.get(s.speaker, s.speaker) for s in segs],
                x=[max(s.end - s.start, 0.01) for s in segs],
                base=[s.start for s in segs],
                marker={
                    "color": EMOTION_COLORS.get(label or "", UNKNOWN_COLOR),
                    "opacity": [MIN_OPACITY + (1 - MIN_OPACITY) * s.confidence for s in segs],
                    "pattern": pattern,
                },
                name=name,
                legendgroup="emotion",
                legendgrouptitle={"text": t("emotion", lang)},
                customdata=[[s.start, s.end, s.confidence, s.arousal] for s in segs],
                hovertemplate="%{customdata[0]:.1f}–%{customdata[1]:.1f} s, "
                + name
                + " ("
                + t("col_confidence", lang)
                + " %{customdata[2]:.2f}), "
                + t("arousal", lang)
                + " %{customdata[3]:.2f}<extra>%{y}</extra>",
            ),
            row=1,
            col=1,
        )


def group_events(events: Sequence[Any], gap_s: float = GROUP_S) -> list[list[Any]]:
    """Events of one kind in time order, grouped when each starts within ``gap_s`` of the last."""
    groups: list[list[Any]] = []
    for e in sorted(events, key=lambda e: e.start):
        if groups and e.start - groups[-1][-1].start < gap_s:
            groups[-1].append(e)
        else:
            groups.append([e])
    return groups


def _add_events(fig, result: AnalysisResult, lane: str, lang: str) -> None:
    """Top panel: per event kind its own marker in the events lane (legend: show/hide a kind);
    dense events of a kind are one marker with a count. Escalations also get a dotted line
    across both panels."""
    import plotly.graph_objects as go

    from .views import event_kind_name, event_text

    for kind in dict.fromkeys(e.kind for e in result.events):
        symbol, color = EVENT_MARKERS.get(kind, ("diamond", EVENT_COLOR))
        groups = group_events([e for e in result.events if e.kind == kind])
        name = event_kind_name(kind, lang)
        fig.add_trace(
            go.Scatter(
                mode="markers+text",
                x=[g[0].start for g in groups],
                y=[lane] * len(groups),
                marker={"symbol": symbol, "size": 12, "color": color, "line": {"width": 1}},
                text=[f"×{len(g)}" if len(g) > 1 else "" for g in groups],
                textposition="top center",
                hovertext=[
                    "<br>".join(f"{e.start:.1f} s: {event_text(e, lang, result)}" for e in g[:6])
                    + ("<br>…" if len(g) > 6 else "")
                    for g in groups
                ],
                hovertemplate="%{hovertext}<extra>" + name + "</extra>",
                name=name,
                legendgroup="events",
                legendgrouptitle={"text": lane},
            ),
            row=1,
            col=1,
        )
    for e in result.events:
        if e.kind == "escalation":
            fig.add_vline(x=e.start, line_dash="dot", line_color=EVENT_COLOR, opacity=0.5)


def _add_annotations(fig, annotations: Sequence[Any], lane: str, lang: str) -> None:
    """Top panel: a triangle per timed annotation in the annotations lane."""
    import plotly.graph_objects as go

    timed = [a for a in annotations if a.start is not None]
    if not timed:
        return
    fig.add_trace(
        go.Scatter(
            mode="markers",
            x=[a.start for a in timed],
            y=[lane] * len(timed),
            marker={"symbol": "triangle-down", "size": 12, "color": ANNOTATION_COLOR},
            text=[_annotation_hover(a, lang) for a in timed],
            hovertemplate="%{x:.1f} s: %{text}<extra></extra>",
            name=lane,
        ),
        row=1,
        col=1,
    )


def _add_curves(fig, result: AnalysisResult, lanes: dict[str, str], lang: str) -> None:
    """Bottom panel: arousal and valence per speaker on the fixed grid (one dash per speaker)."""
    import plotly.graph_objects as go

    for i, spk in enumerate(result.speakers):
        windows = sorted(result.segments_of("window", spk.id), key=lambda s: s.start)
        if not windows:
            continue
        mids = [0.5 * (w.start + w.end) for w in windows]
        dash = SPEAKER_DASH[i % len(SPEAKER_DASH)]
        for key, values, color in (
            ("arousal", [w.arousal for w in windows], "#d93025"),
            ("valence", [w.valence for w in windows], "#1a73e8"),
        ):
            fig.add_trace(
                go.Scatter(
                    mode="lines",
                    x=mids,
                    y=values,
                    line={"color": color, "dash": dash, "width": 2},
                    name=f"{lanes[spk.id]}: {t(key, lang)}",
                    legendgroup=key,
                    hovertemplate="%{x:.1f} s: %{y:.2f}<extra>" + t(key, lang) + "</extra>",
                ),
                row=2,
                col=1,
            )


HOVER_TEXT_CHARS = 160  # a note's hover shows this much of its text (the table has it all)
HOVER_LINE_CHARS = 60  # and breaks its lines about this long


def _annotation_hover(a: Any, lang: str) -> str:
    """A note's hover label: its kind, corrected label, text and author, the text shortened and
    wrapped so a long note stays on screen, and escaped (plotly reads a few HTML tags)."""
    import html
    import textwrap

    kind = t(f"kind_{a.kind}", lang)
    label = f" → {emotion_name(a.corrected_label, lang)}" if a.corrected_label else ""
    text = " ".join(str(a.text).split())
    if len(text) > HOVER_TEXT_CHARS:
        text = text[: HOVER_TEXT_CHARS - 1] + "…"
    lines = textwrap.wrap(text, HOVER_LINE_CHARS, break_long_words=True) or [""]
    body = "<br>".join(html.escape(line) for line in lines)
    return f"{html.escape(kind + label)}: {body} ({html.escape(str(a.author))})"
