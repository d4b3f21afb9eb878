"""Does removing the directions of mood make GE2E tell voices apart better than moods?

Mono diarization fails where one voice in two moods sits as far apart in the GE2E space as two
similar voices (``analyzer.audio.longcall``'s notes). This probe measures it on clip units (the
mean of a clip's 1.5 s windows, as a clustering unit is the mean of its windows):

- target trials: two clips of one speaker in *different* emotions;
- non-target trials: two clips of different speakers of the same gender;

and reports the equal error rate of cosine scoring in several spaces:

- ``plain``: the GE2E embeddings;
- ``wccn``: the shipped speaker projection (``models/speaker-ge2e-wccn``);
- ``nap-R``: the GE2E embeddings with the R leading directions of the mood scatter removed
  (nuisance attribute projection): the scatter of each training speaker's per-emotion mean
  around that speaker's mean, the emotional voices of TESS and EmoDB only;
- ``wccn+nap-R``: the projection applied after that removal;
- ``whisper``: the speech emotion model's Whisper layer-1 window features (mean and spread,
  768-d), averaged per clip and standardised by the training clips; ``whisper-lda``: those in
  the product's speaker projection fitted on the 7 training voices (6 directions);
  ``ge2e+whisper``: the plain and whisper cosines averaged.

Scored on RAVDESS actors 13-20 (the diarization benchmark's validation actors) only; the test
actors 01-12 are not read. Run:
``python -m train.experiments.speaker_mood --cache DIR``.

``--train-ravdess 8`` (session 36) adds RAVDESS actors 01-08 (four men, four women, every clip)
to the training voices of the mood directions, and adds ``lda-D``: the product's speaker
projection fitted on every training voice (D directions). The question: does a corpus whose
actors speak the same sentences in every emotion teach mood-invariance that the 7 emotional
TESS / EmoDB voices do not? Actors 09-12 then stay unheard, so a projection fitted that way can
still be tested on diarization calls of those four.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

if TYPE_CHECKING:
    from analyzer.audio.speakers import SpeakerProjection

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
VALIDATION = {f"ravdess_{i:02d}" for i in range(13, 21)}
TRAINING_CORPORA = ("tess", "emodb")
PER_SPEAKER_EMOTION = 20  # clips per (training speaker, emotion) at most, seeded draw


def clips(train_ravdess: int = 0) -> list[dict[str, str]]:
    """The validation actors' clips, then the training voices' (``train_ravdess``: RAVDESS
    actors 01 to that number join them with every clip)."""
    with open(DATA / "speech" / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rng = np.random.default_rng(0)
    out = [r for r in rows if r["speaker"] in VALIDATION]
    heard = {f"ravdess_{i:02d}" for i in range(1, train_ravdess + 1)}
    out += [r for r in rows if r["speaker"] in heard]
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in rows:
        if r["corpus"] in TRAINING_CORPORA and r["label"] != "boredom":
            groups.setdefault((r["speaker"], r["label"]), []).append(r)
    for _, rs in sorted(groups.items()):
        if len(rs) > PER_SPEAKER_EMOTION:
            rs = [rs[i] for i in sorted(rng.choice(len(rs), PER_SPEAKER_EMOTION, replace=False))]
        out += rs
    return out


def embed(rows: list[dict[str, str]], cache: Path) -> np.ndarray:
    """Clip units [N, 256] (mean of the clip's window embeddings, L2-normalised)."""
    done = cache / ("units.npy" if len(rows) == len(clips()) else f"units-{len(rows)}.npy")
    if done.exists():
        units: np.ndarray = np.load(done)
        return units
    import torch

    from analyzer.audio.speakers import SpeakerEncoder
    from analyzer.audio.vad import VoiceActivityDetector, speech_segments

    torch.set_num_threads(2)
    vad, encoder = VoiceActivityDetector(), SpeakerEncoder()
    out = np.zeros((len(rows), 256), np.float32)
    for i, r in enumerate(rows):
        wav = sf.read(DATA / r["path"], dtype="float32")[0]
        if wav.ndim > 1:
            wav = wav.mean(axis=1)
        speech = speech_segments(vad.probabilities(wav), duration_s=len(wav) / 16000)
        emb = encoder.embed_windows(wav, speech)[2]
        if len(emb):
            m = emb.mean(axis=0)
            out[i] = m / np.linalg.norm(m)
        if i % 200 == 0:
            print(f"{i}/{len(rows)}", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(done, out)
    return out


def mood_directions(units: np.ndarray, rows: list[dict[str, str]], train: np.ndarray) -> np.ndarray:
    """Eigenvectors [D, D] of the mood scatter, leading first: per training speaker, each
    emotion's mean unit minus the speaker's mean of those emotion means."""
    diffs = []
    for spk in sorted({rows[i]["speaker"] for i in train}):
        idx = [i for i in train if rows[i]["speaker"] == spk]
        labels = sorted({rows[i]["label"] for i in idx})
        means = np.stack(
            [units[[i for i in idx if rows[i]["label"] == lab]].mean(0) for lab in labels]
        )
        diffs.append(means - means.mean(0))
    d = np.concatenate(diffs)
    vals, vecs = np.linalg.eigh(d.T @ d)
    ordered: np.ndarray = vecs[:, np.argsort(-vals)]
    return ordered


def eer(target: np.ndarray, nontarget: np.ndarray) -> float:
    scores = np.concatenate([target, nontarget])
    truth = np.concatenate([np.ones(len(target)), np.zeros(len(nontarget))])
    order = np.argsort(-scores)
    truth = truth[order]
    fr = 1 - np.cumsum(truth) / len(target)  # targets rejected below each threshold
    fa = np.cumsum(1 - truth) / len(nontarget)
    k = int(np.argmin(np.abs(fr - fa)))
    return float((fr[k] + fa[k]) / 2)


def trials(rows: list[dict[str, str]], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    spk = np.array([rows[i]["speaker"] for i in idx])
    gen = np.array([rows[i]["gender"] for i in idx])
    lab = np.array([rows[i]["label"] for i in idx])
    same_spk = spk[:, None] == spk[None, :]
    upper = np.triu(np.ones((len(idx), len(idx)), bool), 1)
    target = upper & same_spk & (lab[:, None] != lab[None, :])
    nontarget = upper & ~same_spk & (gen[:, None] == gen[None, :])
    return target, nontarget


def normalise(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-9)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument(
        "--whisper-cache", type=Path, help="speech emotion feature cache (adds whisper)"
    )
    ap.add_argument(
        "--train-ravdess", type=int, default=0, choices=(0, 2, 4, 6, 8),
        help="RAVDESS actors 01 to N join the training voices (never 09-12, the test ones)",
    )  # fmt: skip
    args = ap.parse_args()
    from analyzer.audio.speakers import load_projection

    whisper_cache = args.whisper_cache
    rows = clips(args.train_ravdess)
    units = embed(rows, args.cache)
    speaker = np.array([r["speaker"] for r in rows])
    val = np.flatnonzero(np.isin(speaker, sorted(VALIDATION)))
    train = np.flatnonzero(~np.isin(speaker, sorted(VALIDATION)))
    dirs = mood_directions(units, rows, train)
    proj = load_projection()
    target, nontarget = trials(rows, val)
    print(
        f"{len(val)} validation clips: {target.sum()} target, {nontarget.sum()} non-target trials"
    )
    spaces = {"plain": units[val], "wccn": proj(units[val])}
    for r in (1, 2, 4, 8, 16, 32):
        removed = units[val] - (units[val] @ dirs[:, :r]) @ dirs[:, :r].T
        spaces[f"nap-{r}"] = normalise(removed)
        spaces[f"wccn+nap-{r}"] = proj(removed)
    for dims in (16, 32, 64):
        lda = whisper_lda(units[train], speaker[train], dims)
        spaces[f"lda-{dims}"] = lda(units[val])
    sims = {name: normalise(x) @ normalise(x).T for name, x in spaces.items()}
    if whisper_cache is not None:
        w = whisper_units(rows, whisper_cache)
        mu, sd = w[train].mean(0), w[train].std(0) + 1e-6
        z = (w - mu) / sd
        sims["whisper"] = normalise(z[val]) @ normalise(z[val]).T
        lda = whisper_lda(z[train], np.array([rows[i]["speaker"] for i in train]))
        sims["whisper-lda"] = lda(z[val]) @ lda(z[val]).T
        sims["ge2e+whisper"] = (sims["plain"] + sims["whisper"]) / 2
    for name, sim in sims.items():
        print(f"{name:14s} EER {eer(sim[target], sim[nontarget]):.3f}")


def whisper_units(rows: list[dict[str, str]], cache: Path) -> np.ndarray:
    """Clip means [N, 768] of the default speech emotion model's Whisper window features."""
    from analyzer.audio.ser import SpeechEmotionModel
    from analyzer.models import load_model
    from train.ser_features import extract_features

    model = load_model("ser-whisper-tiny-head-v8", "ser")
    assert isinstance(model, SpeechEmotionModel)
    table = extract_features(rows, DATA, encoder=model, cache_dir=cache)
    out = np.zeros((len(rows), 768), np.float32)
    for i in range(len(rows)):
        f = table.features[table.clip == i, :768]
        if len(f):
            out[i] = f.mean(0)
    return out


def whisper_lda(x: np.ndarray, speaker: np.ndarray, dims: int = 0) -> SpeakerProjection:
    """The speaker projection of the product (``SpeakerProjection``: within-speaker spread
    whitened with shrinkage 0.1, the directions voices differ in most) fitted on ``x``'s
    speakers, ``dims`` of their directions (0: all S - 1)."""
    from analyzer.audio.speakers import SpeakerProjection
    from train.speaker_projection import covariances

    names = sorted(set(speaker))
    mean, within, between = covariances({s: x[speaker == s] for s in names})
    keep = min(dims, len(names) - 1) if dims else len(names) - 1
    return SpeakerProjection(mean, within, between, shrink=0.1, dims=keep)


if __name__ == "__main__":
    main()
