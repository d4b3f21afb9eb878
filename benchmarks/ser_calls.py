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
``--speakers read``: calls of non-emotional read speech instead (two LibriSpeech readers of the
evaluation half, every third call the AISHELL reader in Mandarin with one of them; each
utterance cut at its pauses into turns), scored as the share of turn seconds read neutral or
given no emotion, per language: the engine-level stand-in for issue 15's "non-emotional speech
reads neutral" (no real calls are available here).
Prints one line per model and mode, then the JSON of all figures as the last line.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from analyzer.arrays import FloatArray
from analyzer.labels import LABELS
from benchmarks.simcalls import DATA, SR, load_clip, load_manifest, simulate_call, telephone_band
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


READ = DATA / "speech" / "read_speech.csv"
PIECE_S = 2.5  # s of voice at least per turn cut from a read utterance (at a pause)


def read_pieces(path: Path) -> list[FloatArray]:
    """A read clip cut at its pauses into turns of at least PIECE_S of voice (the tail joins
    the last one); the clip's voiced span only (``simcalls.load_clip``)."""
    wav, speech = load_clip(path)
    pieces, start, voiced = [], 0.0, 0.0
    for k, seg in enumerate(speech):
        voiced += seg.duration
        last = k == len(speech) - 1
        if voiced >= PIECE_S and not last and speech[k + 1].start - seg.end >= 0.15:
            cut = (seg.end + speech[k + 1].start) / 2
            pieces.append(wav[int(start * SR) : int(cut * SR)])
            start, voiced = cut, 0.0
    tail = wav[int(start * SR) :]
    if pieces and voiced < PIECE_S / 2:
        pieces[-1] = np.concatenate([pieces[-1], tail])
    else:
        pieces.append(tail)
    return [p for p in pieces if len(p)]


def read_calls(n: int, seed: int) -> list[tuple[list[str], dict[str, str], list[list[FloatArray]]]]:
    """``n`` calls of non-emotional read speech by voices no model here was fitted on: two
    LibriSpeech readers of the evaluation half (``train.ser_features.noise_speakers``: the
    neutral prior and the training babble use the other half), every third call the AISHELL
    reader (Mandarin, 10 of its clips) with one of them. Returns (speakers, language of each,
    each speaker's turns)."""
    from train.ser_features import noise_speakers

    with open(READ, newline="") as fh:
        rows = list(csv.DictReader(fh))
    english = [r for r in rows if r["corpus"] == "librispeech"]
    held = sorted(noise_speakers(english)[1])
    by_spk = {r["speaker"]: r for r in english}
    mandarin = [r for r in rows if r["corpus"] == "aishell"]
    rng = np.random.default_rng(seed)
    order = [held[i] for i in rng.permutation(len(held))]
    out = []
    for k in range(n):
        a = order[(2 * k) % len(order)]
        b = order[(2 * k + 1) % len(order)]
        if k % 3 == 2:
            clips = [mandarin[(10 * k + j) % len(mandarin)] for j in range(10)]
            zh = [load_clip(DATA / r["path"])[0] for r in clips]
            turns = [zh, read_pieces(DATA / by_spk[b]["path"])]
            out.append(
                ([mandarin[0]["speaker"], b], {mandarin[0]["speaker"]: "zh", b: "en"}, turns)
            )
        else:
            turns = [read_pieces(DATA / by_spk[s]["path"]) for s in (a, b)]
            out.append(([a, b], {a: "en", b: "en"}, turns))
    return out


def alternate(
    speakers: list[str], turns: list[list[FloatArray]], seed: int
) -> tuple[FloatArray, list[tuple[str, tuple[float, float]]]]:
    """Tracks [2, samples] of the speakers taking turns (each speaker's turns in order, gaps of
    0.3-1.2 s, a faint noise floor) and the reference (speaker, (start, end)) of every turn."""
    rng = np.random.default_rng(seed)
    order = []
    for i in range(max(len(t) for t in turns)):
        order += [(k, turns[k][i]) for k in range(len(turns)) if i < len(turns[k])]
    t = int(0.5 * SR)
    placed, ref = [], []
    for k, wav in order:
        placed.append((k, t, wav))
        ref.append((speakers[k], (t / SR, (t + len(wav)) / SR)))
        t += len(wav) + int(rng.uniform(0.3, 1.2) * SR)
    tracks = np.zeros((len(speakers), t + int(0.5 * SR)), dtype=np.float32)
    for k, start, wav in placed:
        tracks[k, start : start + len(wav)] += wav
    tracks += rng.normal(0, 1e-3, tracks.shape[1]).astype(np.float32)
    return np.clip(tracks, -1, 1), ref


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


Row = tuple[float, str, str | None, str | None, str]  # see score_call


def score_call(
    result: dict[str, Any], ref: list[tuple[str, tuple[float, float]]], emotion: dict[str, str]
) -> list[Row]:
    """Per engine turn: (seconds, the true speaker's label, the speech-emotion reading, the
    fused emotion, the true speaker)."""
    rows = []
    for seg, who in judged_turns(result, ref):
        voice = (seg.get("modalities") or {}).get("voice") or {}
        d = seg["end"] - seg["start"]
        rows.append((d, emotion[who], voice.get("emotion"), seg.get("emotion"), who))
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


def neutral_share(rows: list[Row]) -> float:
    """Share of the turn seconds read neutral or not given an emotion ("uncertain", or no
    reading): what non-emotional speech should get."""
    w = np.array([r[0] for r in rows])
    calm = np.array([r[2] in ("neutral", "uncertain", None) for r in rows])
    return round(float((w * calm).sum() / max(w.sum(), 1e-9)), 3)


def summarise(rows: list[Row]) -> dict[str, Any]:
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


def write_call(tmp: str, k: int, tracks: FloatArray, phone: bool) -> tuple[Path, Path]:
    """The call as a stereo file (a channel per speaker) and as its mono mix; ``phone``: each
    track through an 8 kHz channel first (``simcalls.telephone_band``)."""
    if phone:
        tracks = np.stack([telephone_band(t) for t in tracks])
    stereo, mono = Path(tmp) / f"call{k}_stereo.wav", Path(tmp) / f"call{k}_mono.wav"
    sf.write(stereo, tracks.T, SR)
    sf.write(mono, np.clip(tracks.sum(axis=0), -1, 1), SR)
    return stereo, mono


def describe(fig: dict[str, Any], read: bool) -> str:
    """One printed line of a model's figures in one mode."""
    calm = ", ".join(f"{k} {v:.3f}" for k, v in fig["neutral_or_uncertain"].items())
    if read:
        out = f"{fig['turns']} turns ({fig['seconds']} s), neutral or uncertain: {calm}"
    else:
        out = (
            f"{fig['turns']} turns ({fig['seconds']} s), speech emotion "
            f"{fig['voice_accuracy']:.3f} (coverage {fig['voice_coverage']:.3f}), fused "
            f"{fig['fused_accuracy']:.3f}; recall "
            + ", ".join(f"{k} {v:.2f}" for k, v in fig["recall"].items())
        )
    if "wrong_speaker_share" in fig:
        out += f"; turn seconds with the wrong voice {fig['wrong_speaker_share']:.3f}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "models", nargs="*", default=[], help="speech emotion models (default: the default one)"
    )
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--telephone", action="store_true", help="every call through an 8 kHz channel")
    ap.add_argument(
        "--speakers",
        choices=("test", "validation", "read"),
        default="test",
        help="test: the speakers no shipped model trained on; validation: RAVDESS 13-16 and "
        "EmoDB 10, for models built without them (choices are made there); read: "
        "non-emotional read speech (LibriSpeech evaluation half, AISHELL)",
    )
    args = ap.parse_args()
    from analyzer import Analyzer
    from analyzer.config import AnalysisConfig
    from analyzer.models import DEFAULT_MODELS

    models = args.models or [DEFAULT_MODELS["ser"]]
    rows = load_manifest()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # per call: (each speaker's label, each speaker's language, stereo file, mono file, ref)
        calls: list[tuple[dict[str, str], dict[str, str], Path, Path, list[Any]]] = []
        if args.speakers == "read":
            for k, (speakers, language, turns) in enumerate(read_calls(args.calls, args.seed)):
                print(f"call {k}: " + ", ".join(f"{s} ({language[s]})" for s in speakers))
                tracks, spans = alternate(speakers, turns, args.seed * 1000 + k)
                emotion = {s: "neutral" for s in speakers}
                calls.append(
                    (emotion, language, *write_call(tmp, k, tracks, args.telephone), spans)
                )
        else:
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
                spans = [(s, (g.start, g.end)) for s, g in ref]
                language = {s: "en" if s.startswith("ravdess") else "de" for s in speakers}
                calls.append(
                    (emotion, language, *write_call(tmp, k, tracks, args.telephone), spans)
                )
        for model in models:
            for mode in ("stereo", "mono"):
                cfg = AnalysisConfig(
                    ser_model=model,
                    video=False,
                    channels=("agent", "customer") if mode == "stereo" else None,
                    split_channels=True if mode == "stereo" else None,
                )
                analyzer = Analyzer(cfg)
                got: list[Row] = []
                total, wrong = 0.0, 0.0
                languages: dict[str, str] = {}
                try:
                    for emotion, language, stereo, mono, spans in calls:
                        result = analyzer.analyze(stereo if mode == "stereo" else mono).to_dict()
                        got += score_call(result, spans, emotion)
                        languages.update(language)
                        if mode == "mono":
                            t, e = mono_speaker_errors(result, spans)
                            total, wrong = total + t, wrong + e
                finally:
                    analyzer.close()
                fig = summarise(got)
                fig["neutral_or_uncertain"] = {
                    lang: neutral_share([r for r in got if languages[r[4]] == lang])
                    for lang in sorted(set(languages.values()))
                }
                if mode == "mono":
                    fig["wrong_speaker_share"] = round(wrong / max(total, 1e-9), 3)
                figures[f"{model}:{mode}"] = fig
                print(f"{model} {mode}: " + describe(fig, args.speakers == "read"), flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
