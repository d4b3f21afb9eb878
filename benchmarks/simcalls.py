"""Simulated conversations built from the shared acted-speech clips, with known turns.

Used by the diarization benchmark: two (or more) different actors take turns with gaps and
some overlapping starts, as in a call. Leading and trailing silence of each clip is trimmed so
the reference turns are where the voice really is.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from analyzer.segment import Segment

SR = 16000
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_manifest(root: Path = DATA) -> list[dict]:
    with open(root / "speech" / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _trim(wav: np.ndarray, top_db: float = 30.0) -> np.ndarray:
    import librosa

    trimmed, _ = librosa.effects.trim(wav, top_db=top_db, frame_length=512, hop_length=128)
    return trimmed


def simulate_call(
    rows: list[dict],
    speakers: list[str],
    *,
    n_turns: int = 16,
    seed: int = 0,
    overlap_prob: float = 0.15,
    emotions: dict[str, set[str]] | None = None,
    root: Path = DATA,
) -> tuple[np.ndarray, list[tuple[str, Segment]]]:
    """A mono call of ``n_turns`` alternating turns by ``speakers`` (manifest speaker ids).

    Each turn is 1-3 clips of that speaker joined by short pauses; turns are separated by gaps
    of 0.2-1.5 s, or overlap by 0.3-0.8 s with probability ``overlap_prob``.
    ``emotions`` restricts each speaker to some labels (a caller stays in a narrow emotional
    range, unlike an actor cycling through all seven).
    Returns (audio float32 [samples] at 16 kHz, reference turns).
    """
    rng = np.random.default_rng(seed)
    emotions = emotions or {}
    by_spk = {
        s: [r for r in rows if r["speaker"] == s and r["label"] in emotions.get(s, {r["label"]})]
        for s in speakers
    }
    pieces: list[tuple[int, np.ndarray, str]] = []
    t = int(0.5 * SR)
    ref: list[tuple[str, Segment]] = []
    for i in range(n_turns):
        spk = speakers[i % len(speakers)]
        clips = [
            _trim(sf.read(root / by_spk[spk][j]["path"], dtype="float32")[0])
            for j in rng.choice(len(by_spk[spk]), size=rng.integers(1, 4), replace=False)
        ]
        gap = np.zeros(int(rng.uniform(0.1, 0.5) * SR), dtype=np.float32)
        turn = np.concatenate([x for c in clips for x in (c, gap)][:-1])
        if i > 0 and rng.random() < overlap_prob:
            t -= int(rng.uniform(0.3, 0.8) * SR)
        elif i > 0:
            t += int(rng.uniform(0.2, 1.5) * SR)
        pieces.append((t, turn, spk))
        ref.append((spk, Segment(t / SR, (t + len(turn)) / SR)))
        t += len(turn)
    audio = np.zeros(t + int(0.5 * SR), dtype=np.float32)
    for start, turn, _ in pieces:
        audio[start : start + len(turn)] += turn
    audio += rng.normal(0, 1e-3, len(audio)).astype(np.float32)  # a faint line-noise floor
    return np.clip(audio, -1, 1), ref
