"""Fit the speaker-space projection used by mono diarization (``models/speaker-ge2e-wccn``).

    python -m train.speaker_projection --out models/speaker-ge2e-wccn

GE2E voice embeddings of one speaker move with mood and with what is said; a projection that
shrinks the directions in which one voice varies (within-speaker covariance) and keeps those in
which voices differ (between-speaker covariance) makes a speaker's two moods look like one voice
while two voices stay apart. This script embeds 1.5 s windows (the diarizer's own windows, from
``SpeakerEncoder.embed_windows``) of every training speaker and stores the mean embedding and the
two covariances, speakers weighted equally; ``analyzer.audio.speakers.SpeakerProjection`` turns
them into the projection with the shrinkage and dimensionality recorded in model.json.

Training speakers: TESS (2 talkers), EmoDB (5), LibriSpeech (80, one read utterance each) and
AISHELL-1 (1) from ``../shared/data/speech``. **No RAVDESS actor is used**: the diarization
benchmark tests on actors 01-12 and tunes on 13-20, so neither set has been heard here.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CORPORA = ("tess", "emodb", "librispeech", "aishell")  # never ravdess (benchmark actors)
MAX_CLIPS = 60  # clips per speaker at most (TESS has 1400 per talker), drawn at random
SEED = 0


def training_clips(root: Path = DATA) -> dict[str, list[Path]]:
    """Clip paths per training speaker (at most MAX_CLIPS each, seeded draw)."""
    rows: list[dict[str, str]] = []
    for name in ("manifest.csv", "read_speech.csv"):
        with open(root / "speech" / name, newline="") as fh:
            rows += list(csv.DictReader(fh))
    per: dict[str, list[Path]] = {}
    for row in rows:
        if row["corpus"] in CORPORA:
            per.setdefault(row["speaker"], []).append(root / row["path"])
    rng = np.random.default_rng(SEED)
    out = {}
    for spk, paths in sorted(per.items()):
        if len(paths) > MAX_CLIPS:
            paths = [paths[i] for i in sorted(rng.choice(len(paths), MAX_CLIPS, replace=False))]
        out[spk] = paths
    return out


def phone_line(wav: np.ndarray) -> np.ndarray:
    """16 kHz audio through an 8 kHz channel and back, as the telephone mixes the diarizer
    detects (``vad.band_limited``): nothing above 4 kHz."""
    from scipy.signal import resample_poly

    return resample_poly(resample_poly(wav, 1, 2), 2, 1)[: len(wav)].astype(np.float32)


def embed_speakers(
    clips: dict[str, list[Path]], cache: Path | None = None, *, telephone: bool = False
) -> dict[str, np.ndarray]:
    """Window embeddings [N, 256] per speaker, windows inside each clip's VAD speech; with
    ``cache`` each speaker's windows are kept in ``cache/<speaker>.npy`` (an interrupted run
    resumes). ``telephone``: each clip heard through an 8 kHz channel (``phone_line``), its
    speech found on the clip as recorded."""
    import torch

    from analyzer.audio.speakers import SpeakerEncoder
    from analyzer.audio.vad import VoiceActivityDetector, speech_segments

    torch.set_num_threads(1)
    vad, encoder = VoiceActivityDetector(), SpeakerEncoder()
    out: dict[str, np.ndarray] = {}
    for n, (spk, paths) in enumerate(clips.items()):
        done = cache / f"{spk}.npy" if cache else None
        if done is not None and done.exists():
            out[spk] = np.load(done)
            continue
        embs = []
        for path in paths:
            wav = sf.read(path, dtype="float32")[0]
            speech = speech_segments(vad.probabilities(wav), duration_s=len(wav) / 16000)
            embs.append(encoder.embed_windows(phone_line(wav) if telephone else wav, speech)[2])
        out[spk] = np.concatenate(embs)
        if done is not None:
            done.parent.mkdir(parents=True, exist_ok=True)
            np.save(done, out[spk])
        print(
            f"{n + 1}/{len(clips)} {spk}: {len(paths)} clips, {len(out[spk])} windows", flush=True
        )
    return out


def covariances(embs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(global mean [D], within-speaker covariance [D, D], between-speaker covariance [D, D]),
    every speaker with at least two windows weighted equally."""
    spk = [e for e in embs.values() if len(e) >= 2]
    means = np.stack([e.mean(axis=0) for e in spk])
    mean = means.mean(axis=0)
    within = np.mean([np.cov(e, rowvar=False, bias=True) for e in spk], axis=0)
    between = np.cov(means - mean, rowvar=False, bias=True)
    return mean, within, between


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("models/speaker-ge2e-wccn"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, help="folder keeping each speaker's window embeddings")
    ap.add_argument(
        "--telephone", action="store_true", help="hear every clip through an 8 kHz channel"
    )
    args = ap.parse_args()
    clips = training_clips(args.data)
    embs = embed_speakers(clips, args.cache, telephone=args.telephone)
    mean, within, between = covariances(embs)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(
        args.out / "covariances.npz",
        mean=mean.astype(np.float32),
        within=within.astype(np.float32),
        between=between.astype(np.float32),
    )
    summary = {
        spk: {"clips": len(clips[spk]), "windows": len(e)} for spk, e in sorted(embs.items())
    }
    (args.out / "training_speakers.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{len(embs)} speakers, {sum(len(e) for e in embs.values())} windows -> {args.out}")


if __name__ == "__main__":
    main()
