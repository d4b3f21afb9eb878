"""Speech emotion per turn inside simulated calls, stereo and mono (issue 15's turn-level figure).

    python -m benchmarks.ser_calls [MODEL ...] [--calls 12] [--seed 0]

Each call: two of the speakers no shipped model was trained on (RAVDESS actors 17-20, EmoDB
speaker 11: ``train.data.SER_HELD_OUT``; EmoDB 11 meets a RAVDESS actor), each in one emotion for
the whole call (a caller stays in a narrow range; ``simcalls.simulate_call``: 12 alternating
turns of 1-3 clips, gaps and some overlapping starts). The same call is analysed by the whole
engine (``Analyzer``, no video, no words) twice:

- **stereo**: each speaker on a channel of their own (roles given, as a phone recording has
  them);
- **mono**: the two tracks mixed (the speaker count estimated, as for a meeting recording).

Each turn the engine reports is judged against who truly spoke then (the reference speaker
with the most speech inside the turn) and that speaker's emotion: the speech-emotion reading
(``modalities.voice.emotion``; none or "uncertain" counts as wrong, coverage reported) and the
fused emotion. Turns are weighted by their length in seconds. Per-class recall over the turns;
mono also reports how many turn seconds went to the wrong speaker.
Prints one line per model and mode, then the JSON of all figures as the last line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from analyzer.labels import LABELS
from benchmarks.simcalls import SR, load_manifest, simulate_call
from train.data import SER_HELD_OUT

TURNS = 12  # turns per call (about a minute)


VALIDATION = ("emodb_10", "ravdess_13", "ravdess_14", "ravdess_15", "ravdess_16")  # for choices


def cast(n: int, seed: int, speakers: list[str]) -> list[tuple[list[str], dict[str, str]]]:
    """``n`` calls: (two of ``speakers``, the emotion of each), seeded; every pair in turn,
    emotions drawn from those the speaker's corpus has for them."""
    rows = load_manifest()
    labels = {
        s: sorted({r["label"] for r in rows if r["speaker"] == s} & set(LABELS)) for s in speakers
    }
    pairs = [(a, b) for i, a in enumerate(speakers) for b in speakers[i + 1 :]]
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a, b = pairs[k % len(pairs)]
        out.append(([a, b], {s: str(rng.choice(labels[s])) for s in (a, b)}))
    return out


def truth_of(turn: tuple[float, float], ref: list[tuple[str, tuple[float, float]]]) -> str | None:
    """The reference speaker with the most speech inside ``turn`` (None: no one)."""
    seconds: dict[str, float] = {}
    for spk, (a, b) in ref:
        lap = min(b, turn[1]) - max(a, turn[0])
        if lap > 0:
            seconds[spk] = seconds.get(spk, 0.0) + lap
    return max(seconds, key=lambda s: seconds[s]) if seconds else None


def judged_turns(
    result: dict[str, Any], ref: list[tuple[str, tuple[float, float]]]
) -> list[tuple[dict[str, Any], str]]:
    """The engine's turns someone truly spoke in, each with that reference speaker."""
    out = []
    for seg in result["segments"]:
        who = truth_of((seg["start"], seg["end"]), ref) if seg["kind"] == "turn" else None
        if who is not None:
            out.append((seg, who))
    return out


def score_call(
    result: dict[str, Any], ref: list[tuple[str, tuple[float, float]]], emotion: dict[str, str]
) -> list[tuple[float, str, str | None, str | None]]:
    """Per engine turn: (seconds, the true speaker's label, the speech-emotion reading, the
    fused emotion)."""
    rows = []
    for seg, who in judged_turns(result, ref):
        voice = (seg.get("modalities") or {}).get("voice") or {}
        rows.append(
            (seg["end"] - seg["start"], emotion[who], voice.get("emotion"), seg.get("emotion"))
        )
    return rows


def mono_speaker_errors(
    result: dict[str, Any], ref: list[tuple[str, tuple[float, float]]]
) -> tuple[float, float]:
    """(seconds of turns, seconds of turns given to a found speaker who is not the one the
    majority of that found speaker's turn seconds belong to)."""
    by_found: dict[str, dict[str, float]] = {}
    turns = [
        (seg["speaker"], who, seg["end"] - seg["start"]) for seg, who in judged_turns(result, ref)
    ]
    for found, who, d in turns:
        by_found.setdefault(found, {}).setdefault(who, 0.0)
        by_found[found][who] += d
    owner = {f: max(v, key=lambda s: v[s]) for f, v in by_found.items()}
    total = sum(d for _, _, d in turns)
    wrong = sum(d for f, who, d in turns if owner[f] != who)
    return total, wrong


def summarise(rows: list[tuple[float, str, str | None, str | None]]) -> dict[str, Any]:
    w = np.array([r[0] for r in rows])
    truth = [r[1] for r in rows]
    voice = [r[2] for r in rows]
    fused = [r[3] for r in rows]
    right = np.array([v == t for v, t in zip(voice, truth)])
    covered = np.array([v not in (None, "uncertain") for v in voice])
    recall = {}
    for label in LABELS:
        m = np.array([t == label for t in truth])
        if m.any():
            recall[label] = round(float((w[m] * right[m]).sum() / w[m].sum()), 3)
    return {
        "turns": len(rows),
        "seconds": round(float(w.sum()), 1),
        "voice_accuracy": round(float((w * right).sum() / w.sum()), 3),
        "voice_coverage": round(float((w * covered).sum() / w.sum()), 3),
        "fused_accuracy": round(
            float((w * np.array([f == t for f, t in zip(fused, truth)])).sum() / w.sum()), 3
        ),
        "recall": recall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "models", nargs="*", default=[], help="speech emotion models (default: the default one)"
    )
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--speakers",
        choices=("test", "validation"),
        default="test",
        help="test: the speakers no shipped model trained on; validation: RAVDESS 13-16 and "
        "EmoDB 10, for models built without them (choices are made there)",
    )
    args = ap.parse_args()
    from analyzer import Analyzer
    from analyzer.config import AnalysisConfig
    from analyzer.models import DEFAULT_MODELS

    models = args.models or [DEFAULT_MODELS["ser"]]
    rows = load_manifest()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        calls = []
        pool = sorted(SER_HELD_OUT) if args.speakers == "test" else list(VALIDATION)
        for k, (speakers, emotion) in enumerate(cast(args.calls, args.seed, pool)):
            print(f"call {k}: " + ", ".join(f"{s} {emotion[s]}" for s in speakers), flush=True)
            tracks, ref = simulate_call(
                rows,
                speakers,
                n_turns=TURNS,
                seed=args.seed * 1000 + k,
                emotions={s: {emotion[s]} for s in speakers},
                tracks=True,
            )
            stereo, mono = Path(tmp) / f"call{k}_stereo.wav", Path(tmp) / f"call{k}_mono.wav"
            sf.write(stereo, tracks.T, SR)
            sf.write(mono, np.clip(tracks.sum(axis=0), -1, 1), SR)
            spans = [(s, (g.start, g.end)) for s, g in ref]
            calls.append((speakers, emotion, stereo, mono, spans))
        for model in models:
            for mode in ("stereo", "mono"):
                cfg = AnalysisConfig(
                    ser_model=model,
                    video=False,
                    channels=("agent", "customer") if mode == "stereo" else None,
                    split_channels=True if mode == "stereo" else None,
                )
                analyzer = Analyzer(cfg)
                got, total, wrong = [], 0.0, 0.0
                try:
                    for _, emotion, stereo, mono, spans in calls:
                        path = stereo if mode == "stereo" else mono
                        result = analyzer.analyze(path).to_dict()
                        got += score_call(result, spans, emotion)
                        if mode == "mono":
                            t, e = mono_speaker_errors(result, spans)
                            total, wrong = total + t, wrong + e
                finally:
                    analyzer.close()
                fig = summarise(got)
                if mode == "mono":
                    fig["wrong_speaker_share"] = round(wrong / max(total, 1e-9), 3)
                figures[f"{model}:{mode}"] = fig
                print(
                    f"{model} {mode}: {fig['turns']} turns ({fig['seconds']} s), speech emotion "
                    f"{fig['voice_accuracy']:.3f} (coverage {fig['voice_coverage']:.3f}), fused "
                    f"{fig['fused_accuracy']:.3f}; recall "
                    + ", ".join(f"{k} {v:.2f}" for k, v in fig["recall"].items())
                    + (
                        f"; turn seconds with the wrong voice {fig['wrong_speaker_share']:.3f}"
                        if mode == "mono"
                        else ""
                    ),
                    flush=True,
                )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
