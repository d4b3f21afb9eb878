"""Built-in English ASR: real-time factor and word error rate, per-turn decoding against packed
decoding (turns laid end to end, decoded as one recording), back to back in one process on the
same calls.

The speech is English with known text: RAVDESS ("Kids are talking by the door", "Dogs are
sitting by the door") and TESS ("Say the word X") clips from the shared manifest, cut to their
voice by our VAD (``benchmarks.simcalls.load_clip``), and espeak-ng sentences written here. The
shared LibriSpeech clips have no reference text, so they are not used. Clips are joined into calls
of about a minute with 0.3-1.2 s pauses; each clip is one speech turn, as the analyzer's turns
would give it. RTF = seconds of compute / seconds of call audio. WER = word edits / reference
words over all turns, after lower-casing and dropping punctuation.

    python -m benchmarks.asr --clips 60 --espeak 12 --seed 20261126 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import time

import numpy as np

from analyzer.segment import Segment
from benchmarks.simcalls import DATA, SR, load_clip, load_manifest

ESPEAK_SENTENCES = [
    "Thank you for calling, how can I help you today",
    "I have been waiting for my refund for three weeks",
    "Could you please confirm the address on the account",
    "I am sorry to hear that, let me check it for you",
    "The package was supposed to arrive on Monday",
    "Is there anything else I can help you with",
    "My internet connection keeps dropping every evening",
    "I would like to cancel my subscription",
    "Let me transfer you to the billing department",
    "We will send you an email with the details",
    "The technician will visit you tomorrow morning",
    "Please hold the line while I look into this",
    "I understand your frustration and I apologise",
    "Your order number has been noted",
]


def normalise(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_edits(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two word lists."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def _espeak(text: str, voice: str) -> np.ndarray:
    import io

    import librosa
    import soundfile as sf

    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "160", "--stdout", text], check=True, capture_output=True
    ).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return librosa.resample(audio, orig_sr=rate, target_sr=SR).astype(np.float32)


def build_clips(n_clips: int, n_espeak: int, seed: int) -> list[tuple[np.ndarray, str]]:
    rng = random.Random(seed)
    rows = [r for r in load_manifest() if r["corpus"] in ("ravdess", "tess") and r["text"]]
    rng.shuffle(rows)
    clips = []
    for row in rows:
        if len(clips) >= n_clips:
            break
        wav, _ = load_clip(DATA / row["path"])
        if len(wav) >= 0.3 * SR:
            clips.append((wav, row["text"]))
    if n_espeak and shutil.which("espeak-ng"):
        voices = ["en-us", "en", "en-us+f3", "en+m3"]
        for i in range(n_espeak):
            text = ESPEAK_SENTENCES[i % len(ESPEAK_SENTENCES)]
            clips.append((_espeak(text, voices[i % len(voices)]), text))
    rng.shuffle(clips)
    return clips


def build_calls(
    clips: list[tuple[np.ndarray, str]], seed: int, call_s: float = 60.0
) -> list[tuple[np.ndarray, list[Segment], list[str]]]:
    """Clips joined into calls of about ``call_s`` seconds: (audio, turns, reference texts)."""
    rng = random.Random(seed + 1)
    calls, parts, turns, texts, t = [], [], [], [], 0.0
    for wav, text in clips:
        pause = np.zeros(int(rng.uniform(0.3, 1.2) * SR), np.float32)
        parts += [pause, wav]
        t += len(pause) / SR
        turns.append(Segment(t, t + len(wav) / SR))
        texts.append(text)
        t += len(wav) / SR
        if t >= call_s:
            calls.append((np.concatenate(parts + [pause]), turns, texts))
            parts, turns, texts, t = [], [], [], 0.0
    if turns:
        calls.append((np.concatenate(parts), turns, texts))
    return calls


def measure(transcriber, calls) -> dict[str, float]:
    seconds = sum(len(a) / SR for a, _, _ in calls)
    edits = words = 0
    word_times_ok = True
    start, cpu_start = time.perf_counter(), time.process_time()
    outs = [transcriber.transcribe(audio, turns) for audio, turns, _ in calls]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    for (_, turns, texts), out in zip(calls, outs):
        for turn, ref, got in zip(turns, texts, out):
            edits += word_edits(normalise(ref), normalise(got.text))
            words += len(normalise(ref))
            if got.text and not all(
                turn.start - 1e-3 <= s <= e <= turn.end + 1e-3 for s, e, _ in got.words
            ):  # word times must stay inside their turn
                word_times_ok = False
            if got.text and not got.words:
                word_times_ok = False
    return {
        "seconds": round(seconds, 1),
        "compute_s": round(elapsed, 2),
        "rtf": round(elapsed / seconds, 4),
        "cpu_s": round(cpu, 2),
        "cpu_per_audio_s": round(cpu / seconds, 4),
        "wer": round(100 * edits / max(words, 1), 2),
        "ref_words": words,
        "word_times_in_turns": word_times_ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=60, help="RAVDESS/TESS clips")
    parser.add_argument("--espeak", type=int, default=12, help="espeak-ng sentences")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="alternate runs of both modes")
    parser.add_argument(
        "--modes", nargs="+", choices=["per_turn", "packed"], default=["per_turn", "packed"]
    )
    args = parser.parse_args()

    from analyzer.words.asr import Transcriber

    calls = build_calls(build_clips(args.clips, args.espeak, args.seed), args.seed)
    modes = {
        name: Transcriber(threads=args.threads, packed=name == "packed") for name in args.modes
    }
    for t in modes.values():  # warm up both (model load, first-call allocations)
        t.transcribe(*calls[0][:2])
    report: dict[str, object] = {
        "calls": len(calls),
        "turns": sum(len(c[1]) for c in calls),
        "threads": args.threads,
        "cores": os.cpu_count(),
    }
    for r in range(args.repeats):
        for name, t in modes.items():
            load = os.getloadavg()[0]
            result = measure(t, calls)
            result["load_avg_1min_before"] = round(load, 2)
            report[f"{name}#{r + 1}"] = result
            print(name, json.dumps(result), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
