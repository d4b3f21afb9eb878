"""Plotly figures of one analysed call: the emotion timeline reviewers read beside the player.

Top panel: one lane per speaker, each speech turn a bar coloured by its fused emotion, plus a lane
of detected events and a lane of reviewers' annotations. Bottom panel: arousal and valence of each
speaker on the fixed grid. Event times are also drawn as dotted lines across both panels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from analyzer import LABELS, AnalysisResult
from analyzer.export import speaker_name  # not in analyzer's public API yet

from .i18n import emotion_name, t

EMOTION_COLORS = {
    "neutral": "#9e9e9e",
    "happy": "#f4b400",
    "sad": "#3f6fd8",
    "angry": "#d93025",
    "fearful": "#8e44ad",
    "disgust": "#2e8b57",
    "surprised": "#ff8c00",
}
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
    lanes = {s.id: speaker_name(result, s.id) for s in result.speakers}
    ev_lane, ann_lane = t("lane_events", lang), t("lane_annotations", lang)
    _add_turns(fig, result, lanes, lang)
    _add_events(fig, result, ev_lane)
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
        legend={"orientation": "h", "y": -0.2},
        hovermode="closest",
        template="plotly_white",
    )
    return fig


def _add_turns(fig, result: AnalysisResult, lanes: dict[str, str], lang: str) -> None:
    """Top panel: one bar per speech turn in its speaker's lane, coloured by its emotion.

    One trace per emotion, so that the legend names the colours; a turn without a label (no
    emotion model installed) is drawn as an unlabelled bar.
    """
    import plotly.graph_objects as go

    for label in (*LABELS, None):
        segs = [s for s in result.segments if s.kind == "turn" and s.emotion == label]
        if not segs:
            continue
        name = emotion_name(label, lang) if label else t("unknown", lang)
        fig.add_trace(
            go.Bar(
                orientation="h",
                y=[lanes.get(s.speaker, s.speaker) for s in segs],
                x=[max(s.end - s.start, 0.01) for s in segs],
                base=[s.start for s in segs],
                marker_color=EMOTION_COLORS.get(label or "", UNKNOWN_COLOR),
                name=name,
                legendgroup="emotion",
                customdata=[[s.start, s.end, s.confidence, s.arousal] for s in segs],
                hovertemplate="%{customdata[0]:.1f}–%{customdata[1]:.1f} s, "
                + name
                + " (%{customdata[2]:.2f}), "
                + t("arousal", lang)
                + " %{customdata[3]:.2f}<extra>%{y}</extra>",
            ),
            row=1,
            col=1,
        )


def _add_events(fig, result: AnalysisResult, lane: str) -> None:
    """Top panel: a diamond per event in the events lane, a dotted line across both panels."""
    import plotly.graph_objects as go

    if not result.events:
        return
    fig.add_trace(
        go.Scatter(
            mode="markers",
            x=[e.start for e in result.events],
            y=[lane] * len(result.events),
            marker={"symbol": "diamond", "size": 11, "color": EVENT_COLOR},
            text=[f"{e.kind}: {e.description}" for e in result.events],
            hovertemplate="%{x:.1f} s: %{text}<extra></extra>",
            name=lane,
        ),
        row=1,
        col=1,
    )
    for e in result.events:
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


def _annotation_hover(a: Any, lang: str) -> str:
    kind = t(f"kind_{a.kind}", lang)
    label = f" → {emotion_name(a.corrected_label, lang)}" if a.corrected_label else ""
    return f"{kind}{label}: {a.text} ({a.author})"
