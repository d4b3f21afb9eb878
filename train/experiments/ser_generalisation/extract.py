"""Issue 15 research (not product code): cache Whisper features of every clip and condition.

    nice -n 10 python -m train.experiments.ser_generalisation.extract --threads 2 JOB...
    nice -n 10 python -m train.experiments.ser_generalisation.extract --layer1 JOB...  (version 5)
    nice -n 10 python -m train.experiments.ser_generalisation.extract --voicestats JOB... (v6)

A job is CONDITION:SUBSET; features go to OUT/CONDITION/<chunk>.npz (features [M, 768],
speech_s [M], row [M] = index into the combined row list: manifest then read speech), so an
interrupted run resumes at the next chunk. ``--voicestats``: the 55 prosodic statistics of each
window (``analyzer.audio.voicestats.window_statistics``, raw, NaN where undefined; speech_s = the
active seconds) into OUT/vs_CONDITION, the same windows as the encoder jobs (version 6).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.audio.ser import WhisperEncoder, make_encoder
from train import augment
from train.data import SHARED_DATA
from train.ser import clip_windows, load_audio

from . import CACHE, conditions

DATA = SHARED_DATA  # ../shared/data beside the checkout
CHUNK = 64


def all_rows() -> list[dict]:
    rows = []
    for name in ("manifest.csv", "read_speech.csv"):
        with open(DATA / "speech" / name, newline="", encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def librispeech_split(rows: list[dict]) -> tuple[set[str], set[str]]:
    """LibriSpeech speakers split in two halves, per gender, by name hash: (fit, test)."""
    fit, test = set(), set()
    for g in ("female", "male"):
        names = sorted(
            {r["speaker"] for r in rows if r["corpus"] == "librispeech" and r["gender"] == g},
            key=lambda s: hashlib.sha1(s.encode()).hexdigest(),
        )
        fit |= set(names[0::2])
        test |= set(names[1::2])
    return fit, test


class VoiceStatsEncoder:
    """``embed``-shaped access to ``voicestats``: (statistics [N, 55], active seconds [N])."""

    def embed(self, windows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        from analyzer.audio.voicestats import describe_clip

        stats = [describe_clip(w) for w in windows]
        return (np.vstack([s.values for s in stats]).astype(np.float32),
                np.asarray([s.active_s for s in stats], np.float32))  # fmt: skip


def subset(rows: list[dict], name: str) -> list[int]:
    def spk_num(r):
        return int(r["speaker"].split("_")[1])

    if name == "all":
        return list(range(len(rows)))
    if name == "manifest":
        return [i for i, r in enumerate(rows) if r["corpus"] in ("ravdess", "tess", "emodb")]
    if name == "read":  # read speech (LibriSpeech, AISHELL-1): e.g. through the telephone
        return [i for i, r in enumerate(rows) if r["corpus"] in ("librispeech", "aishell")]
    if name == "test":  # RAVDESS 17-20 and all EmoDB: robustness conditions
        return [
            i
            for i, r in enumerate(rows)
            if (r["corpus"] == "ravdess" and spk_num(r) >= 17) or r["corpus"] == "emodb"
        ]
    if name == "voices":  # RAVDESS, EmoDB, a quarter of TESS
        return [
            i
            for i, r in enumerate(rows)
            if r["corpus"] in ("ravdess", "emodb")
            or (
                r["corpus"] == "tess"
                and int(hashlib.sha1(r["path"].encode()).hexdigest(), 16) % 4 == 0
            )
        ]
    if name == "voices_train":  # "voices" without the held-out speakers (training renderings)
        from train.data import SER_HELD_OUT

        voices = subset(rows, "voices")
        return [i for i in voices if rows[i]["speaker"] not in SER_HELD_OUT]
    raise ValueError(name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(CACHE / "feats"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", action="store_true", help="torch encoder, every layer")
    ap.add_argument(
        "--layer1",
        action="store_true",
        help="the engine's numpy encoder, transformer layer 1 (version 5): OUT/l1_CONDITION",
    )
    ap.add_argument(
        "--voicestats",
        action="store_true",
        help="the 55 prosodic statistics of analyzer.audio.voicestats: OUT/vs_CONDITION",
    )
    ap.add_argument("jobs", nargs="+")
    args = ap.parse_args()
    rows = all_rows()
    out = Path(args.out)
    encoder: Any
    if args.layers:
        from .layers import LayerEncoder

        encoder = LayerEncoder(threads=args.threads)
    elif args.layer1:
        encoder = make_encoder("whisper-layer1", threads=args.threads)
    elif args.voicestats:
        encoder = VoiceStatsEncoder()
    else:
        encoder = WhisperEncoder(threads=args.threads)
    fit_ls, test_ls = librispeech_split(rows)
    root = DATA
    pools = {}

    def pool(which: str) -> list[np.ndarray]:
        if which not in pools:
            names = fit_ls if which == "fit" else test_ls
            pools[which] = [load_audio(root / r["path"]) for r in rows if r["speaker"] in names]
        return pools[which]

    def render(wave: np.ndarray, cond: str, key: str) -> np.ndarray:
        if cond == "clean":
            return wave
        if cond == "telephone":
            return augment.telephone_channel(wave)
        if cond == "degraded":
            return conditions.degrade(wave, key=key, babble_pool=pool("fit"))
        if cond == "babble10":
            rng = conditions.seeded(key + "|babble10")
            noise = conditions.babble(pool("test"), len(wave), rng, 5)
            return conditions.mix_at_snr(wave, noise, 10.0)
        if cond in conditions.CODECS:
            return conditions.codec_roundtrip(wave, cond)
        if cond in ("lower", "higher"):
            w = augment.shift_voice(wave, semitones=-3.0 if cond == "lower" else 3.0)
            if conditions.seeded(key + cond).random() < 0.5:
                w = augment.telephone_channel(w)
            return w
        raise ValueError(cond)

    for job in args.jobs:
        cond, sub = job.split(":")
        idx = subset(rows, sub)
        kind = "L_" if args.layers else "l1_" if args.layer1 else "vs_" if args.voicestats else ""
        folder = out / f"{kind}{cond}"
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        for c0 in range(0, len(idx), CHUNK):
            target = folder / f"{sub}_{c0:05d}.npz"
            if target.exists():
                continue
            owner: list[int] = []
            windows: list[np.ndarray] = []
            for i in idx[c0 : c0 + CHUNK]:
                wave = load_audio(root / rows[i]["path"])
                for w in clip_windows(render(wave, cond, rows[i]["path"])):
                    windows.append(w)
                    owner.append(i)
            f, s = encoder.embed(windows)
            np.savez(target, features=f, speech_s=s, row=np.asarray(owner))
            done = min(c0 + CHUNK, len(idx))
            rate = (time.time() - t0) / done
            print(f"{cond}:{sub} {done}/{len(idx)} {rate * 1000:.0f} ms/clip", flush=True)
        print(f"done {job} in {time.time() - t0:.0f}s", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
