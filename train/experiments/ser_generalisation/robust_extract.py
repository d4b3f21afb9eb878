"""Issue 15 robustness research (not product code): layer-1 features of the new conditions.

    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.robust_extract \\
        --out /work/cache-s24/serrob/feats JOB...

A job is CONDITION:SUBSET, written to OUT/l1_CONDITION/SUBSET_<chunk>.npz like ``extract
--layer1`` (features [M, 768], speech_s [M], row [M]); an interrupted run resumes at the next
chunk. Subsets are ``extract.subset``'s plus ``ravdev``: the RAVDESS actors that are not held
out (01-16), so that the RAVDESS-held-out fold of ``robust`` can be scored under babble and MP3
without the test actors 17-20, and ``voices_half``: every other ``voices_train`` clip.

Conditions: ``babble10`` and ``mp3_16`` exactly as ``extract`` renders them (evaluation: babble
of 5 LibriSpeech *test-half* talkers at 10 dB; MP3 16 kbit/s); training copies from
``train.augment``: ``babblemix`` (``babble_copy``: 3-7 LibriSpeech *fit-half* talkers at 0-20
dB), ``codecmix`` (``codec_copy``: random level, Opus 8/12, MP3 16 or AMR-NB), ``shiftmix``
(``voice_shift_copy``: pitch and formants +-1.5-4 semitones).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np

from analyzer.audio.ser import make_encoder
from train import augment
from train.data import SER_HELD_OUT, SHARED_DATA
from train.ser import clip_windows, load_audio

from .extract import CHUNK, all_rows, librispeech_split, subset


def rows_of(rows: list[dict], name: str) -> list[int]:
    if name == "ravdev":
        return [
            i
            for i, r in enumerate(rows)
            if r["corpus"] == "ravdess" and r["speaker"] not in SER_HELD_OUT
        ]
    if name == "voices_half":  # every other clip of voices_train (by path hash): the costlier
        # copies (codecs, voice shifts) on half the training clips
        return [
            i
            for i in subset(rows, "voices_train")
            if int(hashlib.sha1(rows[i]["path"].encode()).hexdigest(), 16) % 2 == 0
        ]
    return subset(rows, name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("jobs", nargs="+")
    args = ap.parse_args()
    rows = all_rows()
    encoder = make_encoder("whisper-layer1", threads=args.threads)
    fit_ls, test_ls = librispeech_split(rows)
    pools: dict[str, list[np.ndarray]] = {}

    def pool(which: str) -> list[np.ndarray]:
        if which not in pools:
            names = fit_ls if which == "fit" else test_ls
            pools[which] = [
                load_audio(SHARED_DATA / r["path"]) for r in rows if r["speaker"] in names
            ]
        return pools[which]

    def render(wave: np.ndarray, cond: str, key: str) -> np.ndarray:
        if cond == "babble10":  # as extract.render
            rng = augment.seeded_rng(key + "|babble10")
            return augment.mix_at_snr(wave, augment.babble(pool("test"), len(wave), rng, 5), 10.0)
        if cond in augment.CODECS:
            return augment.codec_roundtrip(wave, cond)
        if cond == "babblemix":
            return augment.babble_copy(wave, key=key, pool=pool("fit"))
        if cond == "codecmix":
            return augment.codec_copy(wave, key=key)
        if cond == "shiftmix":
            return augment.voice_shift_copy(wave, key=key)
        raise ValueError(cond)

    for job in args.jobs:
        cond, sub = job.split(":")
        idx = rows_of(rows, sub)
        folder = Path(args.out) / f"l1_{cond}"
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        for c0 in range(0, len(idx), CHUNK):
            target = folder / f"{sub}_{c0:05d}.npz"
            if target.exists():
                continue
            owner: list[int] = []
            windows: list[np.ndarray] = []
            for i in idx[c0 : c0 + CHUNK]:
                wave = load_audio(SHARED_DATA / rows[i]["path"])
                for w in clip_windows(render(wave, cond, rows[i]["path"])):
                    windows.append(w)
                    owner.append(i)
            f, s = encoder.embed(windows)
            np.savez(target, features=f, speech_s=s, row=np.asarray(owner))
            done = min(c0 + CHUNK, len(idx))
            load = open("/proc/loadavg").read().split()[0]
            rate = (time.time() - t0) / done
            print(f"{cond}:{sub} {done}/{len(idx)} {rate * 1000:.0f} ms/clip (load {load})",
                  flush=True)  # fmt: skip
        print(f"done {job} in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
