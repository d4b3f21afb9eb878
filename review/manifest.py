"""Reviewers' label corrections as an evaluation manifest for ``emotrace eval ser``.

Each timed ``label_correction`` annotation becomes one clip: the corrected span of the call's
audio (the speaker's own channel on a channel-per-speaker call, the mix otherwise) written as a
16 kHz WAV, and one manifest row ``path,label,speaker,call_id,start,end,author`` (``path`` relative
to the manifest's folder, ``label`` the reviewer's, ``speaker`` per call and speaker so that the
evaluation normalises per voice, as the engine does within a call). Whole-call corrections have
no span to cut and are left out (counted in the return value).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from analyzer import LABELS, SAMPLE_RATE, AnalysisResult, load_audio

MANIFEST_COLUMNS = ("path", "label", "speaker", "call_id", "start", "end", "author")
MIN_CLIP_S = 0.3  # s: shorter corrected spans hold too little speech to score


def _channel(result: AnalysisResult, speaker: str | None, channels: int) -> int | None:
    """The audio channel of ``speaker`` when the call has one channel per speaker."""
    for s in result.speakers:
        if s.id == speaker and s.channel is not None and 0 <= s.channel < channels:
            return int(s.channel)
    return None


def write_eval_manifest(
    calls: Iterable[tuple[Any, AnalysisResult, list[Any]]], out_dir: str | Path
) -> tuple[Path, int, int]:
    """Write the clips and ``manifest.csv`` under ``out_dir`` from ``(record, result,
    annotations)`` triples (``Store.results``); returns (manifest path, rows, corrections left
    out)."""
    import soundfile as sf

    out = Path(out_dir)
    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    skipped = 0
    for record, result, notes in calls:
        corrections = [
            a for a in notes if a.kind == "label_correction" and a.corrected_label in LABELS
        ]
        if not corrections:
            continue
        if not record.media_path:  # imported without its recording: no audio to cut clips from
            skipped += len(corrections)
            continue
        audio = None
        for a in corrections:
            if a.start is None or a.end is None or a.end - a.start < MIN_CLIP_S:
                skipped += 1
                continue
            if audio is None:
                audio = load_audio(record.media_path, sample_rate=SAMPLE_RATE)
            ch = _channel(result, a.speaker, audio.shape[0])
            wave = audio[ch] if ch is not None else audio.mean(axis=0)
            clip = wave[int(a.start * SAMPLE_RATE) : int(a.end * SAMPLE_RATE)]
            name = f"{record.id}_{a.id}.wav"
            sf.write(clips / name, clip, SAMPLE_RATE, subtype="PCM_16")
            rows.append(
                {
                    "path": f"clips/{name}",
                    "label": a.corrected_label,
                    "speaker": f"{record.id}:{a.speaker or 'call'}",
                    "call_id": record.id,
                    "start": f"{a.start:.3f}",
                    "end": f"{a.end:.3f}",
                    "author": a.author,
                }
            )
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return manifest, len(rows), skipped
