"""The review player: one ``<video>`` or ``<audio>`` element that is the single source of time.

The element and its emotion subtitles (a WebVTT ``<track>``) are plain HTML in a ``gr.HTML``;
``player.js`` (loaded once in the page head by :data:`HEAD`) moves it when the user clicks the
timeline, a table row, a transcript line or a key, and draws the playhead and the clock from it.
Gradio's own players cannot do this: seeking them from outside reaches a hidden element, and
``gr.Video`` with subtitles renders empty.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from ..i18n import t

_HERE = Path(__file__).resolve().parent
FILE_ROUTE = "/gradio_api/file="  # Gradio serves files under the app's allowed paths here

CSS = """
.emo-player video { width: 100%; max-height: 420px; background: #000; }
.emo-player audio { width: 100%; }
.emo-caption { min-height: 1.4em; font-weight: 600; padding: 2px 0; }
.emo-controls { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; font-size: 0.9em; }
.emo-controls button { border: 1px solid #999; border-radius: 4px; padding: 2px 8px; }
.emo-keys { color: #666; }
#emo-link { display: none; width: 100%; font-size: 0.85em; }
.emo-playhead { position: absolute; width: 2px; background: #e8710a; pointer-events: none;
  z-index: 10; }
.emo-transcript { max-height: 320px; overflow-y: auto; position: relative; }
.emo-transcript p { margin: 2px 0; padding: 2px 4px; cursor: pointer; border-radius: 3px; }
.emo-transcript p.emo-now { background: #fff3cd; }
.emo-transcript .emo-time { color: #666; font-variant-numeric: tabular-nums; margin-right: 6px; }
.emo-empty { color: #666; font-style: italic; }
.emo-moment { cursor: pointer; text-decoration: underline dotted; }
.emo-chip { padding: 0 5px; border-radius: 3px; margin-right: 3px; white-space: nowrap; }
.emo-negative { background: #fde0cc; }
.emo-neutral { background: #eeeeee; }
.emo-positive { background: #d4e6fa; }
.emo-uncertain { background: repeating-linear-gradient(45deg, #f5f5f5 0 4px, #e0e0e0 4px 8px); }
.emo-scorecard { border-collapse: collapse; font-size: 0.92em; margin-bottom: 6px; }
.emo-scorecard th, .emo-scorecard td { text-align: left; vertical-align: top; padding: 2px 8px;
  border-bottom: 1px solid #e0e0e0; }
.emo-scorecard td:nth-child(2) { white-space: nowrap; font-variant-numeric: tabular-nums; }
.emo-evidence { margin-right: 6px; white-space: nowrap; color: #1565c0; }
"""


def head() -> str:
    """What goes in the page's ``<head>``: the player's script and style (``launch(head=...)``)."""
    script = (_HERE / "player.js").read_text(encoding="utf-8")
    return f"<script>{script}</script>\n<style>{CSS}</style>"


def file_url(path: str | Path) -> str:
    """The URL under which the app serves a file of its home folder."""
    return FILE_ROUTE + quote(str(path))


def player_html(
    *,
    call_id: str,
    media_url: str,
    subtitles_url: str | None,
    video: bool,
    lang: str,
    start_s: float | None = None,
    event_times: Sequence[float] = (),
) -> str:
    """The player of one call: the media element, its subtitles, the clock and the link button.

    ``start_s`` (from a deep link) is where playback starts; ``event_times`` feed the N key.
    """
    tag = "video" if video else "audio"
    track = (
        f'<track kind="subtitles" default srclang="{lang}"'
        f' label="{html.escape(t("emotion", lang))}" src="{html.escape(subtitles_url)}">'
        if subtitles_url
        else ""
    )
    data = {
        "call": call_id,
        "start": "" if start_s is None else f"{float(start_s):.3f}",
        "events": json.dumps([round(float(x), 3) for x in sorted(event_times)]),
    }
    attrs = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in data.items())
    return (
        f'<div class="emo-player" {attrs}>'
        f'<{tag} id="emo-media" src="{html.escape(media_url)}" controls preload="auto" playsinline>'
        f"{track}</{tag}>"
        + ("" if video else '<div id="emo-caption" class="emo-caption"></div>')
        + '<div class="emo-controls"><span id="emo-clock">0:00.0</span>'
        f'<button id="emo-copy-link" type="button">{html.escape(t("copy_link", lang))}</button>'
        f'<span class="emo-keys">{html.escape(t("player_keys", lang))}</span></div>'
        '<input id="emo-link" readonly></div>'
    )


def empty_player(lang: str) -> str:
    """The player area with no call open."""
    return f'<div class="emo-empty">{html.escape(t("no_call_open", lang))}</div>'
