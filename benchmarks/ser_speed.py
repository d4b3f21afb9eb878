"""Real-time factor of the speech emotion stage on this CPU.

    python benchmarks/ser_speed.py [--model ser-whisper-tiny-head] [--seconds 60] [--window 3]
        [--threads 1] [--repeats 3]

Builds ``--seconds`` of speech (RAVDESS clips from the shared data when present, else a seeded
synthetic voiced signal), cuts it into ``--window`` second windows, and times
``model.predict(windows, groups=...)`` after one warm-up call. RTF = processing seconds / audio
seconds (lower is faster; the target is 0.01). Prints the best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from analyzer.audio.ser import SAMPLE_RATE_HZ, SpeechEmotionModel
from analyzer.models import load_model
from analyzer.train.ser import DEFAULT_MODEL, load_audio, resolve_audio_path

SHARED_MANIFEST = Path("/work/shared/data/speech/manifest.csv")


def speech(seconds: float) -> np.ndarray:
    """``seconds`` of 16 kHz speech: concatenated RAVDESS clips, or a synthetic voiced signal."""
    n = int(seconds * SAMPLE_RATE_HZ)
    if SHARED_MANIFEST.is_file():
        with open(SHARED_MANIFEST, newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["corpus"] == "ravdess"]
        parts, total = [], 0
        for r in rows[::7]:
            wave = load_audio(resolve_audio_path(r["path"], SHARED_MANIFEST.parent))
            parts.append(wave)
            total += len(wave)
            if total >= n:
                return np.concatenate(parts)[:n]
    rng = np.random.default_rng(0)
    t = np.arange(n) / SAMPLE_RATE_HZ
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE_HZ
    voiced = sum(np.sin(k * phase) / k for k in range(1, 15))
    return (0.1 * voiced + 0.01 * rng.standard_normal(n)).astype(np.float32)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=1, help="encoder CPU threads")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    model = load_model(args.model, "ser")
    assert isinstance(model, SpeechEmotionModel)
    model.threads = args.threads
    audio = speech(args.seconds)
    size = int(args.window * SAMPLE_RATE_HZ)
    windows = [audio[s : s + size] for s in range(0, len(audio) - size + 1, size)]
    groups = ["speaker"] * len(windows)
    model.predict(windows[:2], groups=None)  # warm-up: loads the encoder
    best = np.inf
    for _ in range(args.repeats):
        start = time.perf_counter()
        scores = model.predict(windows, groups=groups)
        best = min(best, time.perf_counter() - start)
    audio_s = len(windows) * args.window
    rtf = best / audio_s
    print(
        f"{len(windows)} windows x {args.window:.1f} s = {audio_s:.0f} s of speech in {best:.2f} s "
        f"({args.threads} thread(s)): RTF {rtf:.4f}; top labels "
        f"{np.bincount(scores.probs.argmax(axis=1), minlength=7).tolist()}"
    )
    print(f"RTF {rtf:.4f}")
    return rtf


if __name__ == "__main__":
    main()
