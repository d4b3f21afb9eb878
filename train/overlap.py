"""Train the overlapped-speech detector (``analyzer.audio.overlap``) on synthetic mixtures.

    python -m train.overlap --out models/overlap-mlp-mel --cache DIR [--bench-cache DIR]

Speakers: TESS, EmoDB, LibriSpeech and AISHELL voices of ``../shared/data/speech`` only (no
RAVDESS actor: the diarization benchmark tests on actors 01-12 and tunes on 13-20). Each
training mixture is a short simulated conversation of two of these voices. ``mixture`` (v1):
turns of one or two clips, gaps or overlapping starts (a turn starting 0.2-1.5 s before the
other ends), short interjections inside the other voice's turn, each voice at its own level
(+-9 dB). ``cutin_mixture`` (v2, ``--cutin-share``): shaped like a call, 10-16 turns of 1-3
pieces joined by short pauses, half of the turns starting 0.3-0.8 s before the other voice
stops, voices within +-4 dB. Half of the mixtures go through an 8 kHz telephone channel, with
a faint noise floor. ``varied_mixture`` (``--varied-share``, session 24, not shipped): voices up
to 10 dB apart, 0.2-1.5 s cut-ins, backchannels, synthetic rooms, microphone tilt, mu-law and
noise; ``--call-norm`` fits on per-call normalised features (``overlap.call_normalised``).
A frame is overlapped where both voices' speech intervals (silero VAD on each clip alone,
pauses under 0.3 s bridged, as the benchmark's reference) cover it.

The network (a small MLP on stacked frame features; ``--arch tcn``, session 35, a dilated 1-D
convolutional network over the frames, ``fit_tcn``) is fitted with torch here; the engine runs
it in numpy. The decision (thresholds near and away from an in-speech speaker change of the
diarizer, how near, smoothing, shortest run) is then chosen on the benchmark's validation calls
(RAVDESS actors 13-20, wideband and telephone, ``benchmarks.diarization --validation
[--telephone] --calls 60 --cache DIR``, count given, frames pooled as the benchmark scores
overlap): the setting with the highest mean of min(precision, recall) over 200 bootstrap
resamples of the calls (until session 23: the best F1 among settings whose precision and
recall both reach 0.6 on one pooled figure over 40 calls, which did not carry to the test
actors). ``--decide-only`` repeats that choice for a fitted folder.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from analyzer.audio.overlap import (
    FRAME_S,
    N_MELS,
    OverlapDetector,
    call_normalised,
    conv_layers,
    frame_features,
    smooth,
)
from analyzer.audio.vad import VoiceActivityDetector, speech_segments
from analyzer.segment import Segment

SR = 16000
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OFFSETS = (-50, -30, -20, -12, -6, -3, 0, 3, 6, 12, 20, 30, 50)  # frames stacked around each frame
CONTEXTS = {  # --context: frame offsets stacked around each frame
    "v1": OFFSETS,
    "dense": (-70, -50, -35, -25, -18, -12, -8, -5, -3, -1, 0, 1, 3, 5, 8, 12, 18, 25, 35, 50, 70),
}
FIT_STEP = 2  # frames between the frames fitted on
HIDDEN = (96, 48)  # units of the hidden layers
LIBRI_HOLDOUT = 8  # LibriSpeech speakers kept out of fitting (early-stopping mixtures)
TESS_CLIPS = 240  # TESS clips drawn (two speakers, 2800 short clips: a sample is enough)
CORPUS_WEIGHT = {"librispeech": 0.35, "emodb": 0.3, "tess": 0.25, "aishell": 0.1}  # draws of a
# mixture's voices per corpus: the emotional corpora (loud and soft moods) as often as read speech
CLIP_GAIN_DB = 6.0  # dB; each clip's level varies by up to this much (moods change loudness)
MAX_PIECE_S = 6.0  # s; long read utterances are cut to pieces of at most this much voice


def load_pool(root: Path = DATA) -> dict[str, list[str]]:
    """Clip paths per speaker of the non-RAVDESS corpora."""
    pool: dict[str, list[str]] = {}
    rng = np.random.default_rng(0)
    with open(root / "speech" / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["corpus"] in ("tess", "emodb")]
    with open(root / "speech" / "read_speech.csv", newline="") as fh:
        rows += list(csv.DictReader(fh))
    tess = [i for i, r in enumerate(rows) if r["corpus"] == "tess"]
    keep_tess = set(rng.choice(tess, min(TESS_CLIPS, len(tess)), replace=False).tolist())
    for i, r in enumerate(rows):
        if r["corpus"] == "tess" and i not in keep_tess:
            continue
        pool.setdefault(r["speaker"], []).append(r["path"])
    return pool


def clip_speech(paths: list[str], cache: Path, root: Path = DATA) -> dict[str, tuple]:
    """Per clip: (audio cut to its voice, speech intervals [n, 2] s), cached in ``cache``."""
    out: dict[str, tuple] = {}
    store = cache / "overlap_clips.npz"
    known: dict[str, np.ndarray] = dict(np.load(store)) if store.exists() else {}
    vad = None
    for p in paths:
        wav = sf.read(root / p, dtype="float32")[0]
        key = p.replace("/", "|")
        if key not in known:
            vad = vad or VoiceActivityDetector()
            segs = speech_segments(
                vad.probabilities(wav), min_silence_s=0.3, pad_s=0.03, duration_s=len(wav) / SR
            )
            known[key] = np.array([(s.start, s.end) for s in segs]).reshape(-1, 2)
        iv = known[key]
        if len(iv) == 0:
            continue
        a, b = int(iv[0, 0] * SR), int(np.ceil(iv[-1, 1] * SR))
        out[p] = (wav[a:b], np.clip(iv - a / SR, 0, (b - a) / SR))
    np.savez(store, **known)
    return out


def _piece(
    rng: np.random.Generator, clip: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """A clip, or a random stretch of at most MAX_PIECE_S of a long one (intervals cut too)."""
    wav, iv = clip
    dur = len(wav) / SR
    if dur <= MAX_PIECE_S:
        return wav, iv
    start = rng.uniform(0, dur - MAX_PIECE_S)
    a, b = int(start * SR), int((start + MAX_PIECE_S) * SR)
    cut = np.clip(iv, start, start + MAX_PIECE_S) - start
    return wav[a:b], cut[cut[:, 1] - cut[:, 0] > 0.05]


def telephone(audio: np.ndarray) -> np.ndarray:
    """Through an 8 kHz channel and back (nothing above 4 kHz), as telephone archives give."""
    from scipy.signal import resample_poly

    return resample_poly(resample_poly(audio, 1, 2), 2, 1)[: len(audio)].astype(np.float32)


def mixture(
    rng: np.random.Generator,
    clips: dict[str, tuple],
    pool: dict[str, list[str]],
    speakers: list[str],
    *,
    n_turns: int = 8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A simulated two-voice conversation: (audio float32, overlap labels [frames] bool,
    speech labels [frames] bool) on the 10 ms grid."""
    corpus = [s.split("_")[0] for s in speakers]
    weight = np.array([CORPUS_WEIGHT[c] / corpus.count(c) for c in corpus])
    a_spk, b_spk = rng.choice(speakers, 2, replace=False, p=weight / weight.sum())
    gains = {a_spk: rng.uniform(-9, 9), b_spk: rng.uniform(-9, 9)}
    placed: list[tuple[int, np.ndarray, str, np.ndarray]] = []  # (start, wav, speaker, iv)
    t = int(0.3 * SR)
    for i in range(n_turns):
        spk = (a_spk, b_spk)[i % 2]
        n_clips = 1 + int(rng.random() < 0.4)
        parts, ivs, pos = [], [], 0
        for _ in range(n_clips):
            path = pool[spk][rng.integers(len(pool[spk]))]
            if path not in clips:
                continue
            wav, iv = _piece(rng, clips[path])
            ivs.append(iv + pos / SR)
            wav = wav * 10 ** (rng.uniform(-CLIP_GAIN_DB, CLIP_GAIN_DB) / 20)
            parts += [wav, np.zeros(int(rng.uniform(0.1, 0.5) * SR), np.float32)]
            pos += len(wav) + len(parts[-1])
        if not parts:
            continue
        turn = np.concatenate(parts[:-1]) * 10 ** (gains[spk] / 20)
        if i > 0 and rng.random() < 0.45:  # an overlapping start
            t -= int(rng.uniform(0.2, 1.5) * SR)
        elif i > 0:
            t += int(rng.uniform(0.1, 1.2) * SR)
        t = max(t, 0)
        placed.append((t, turn.astype(np.float32), spk, np.concatenate(ivs)))
        if placed and rng.random() < 0.15 and len(turn) > 2 * SR:  # an interjection inside
            other = (a_spk, b_spk)[(i + 1) % 2]
            path = pool[other][rng.integers(len(pool[other]))]
            if path in clips:
                wav, iv = _piece(rng, clips[path])
                wav, iv = wav[: int(1.2 * SR)], np.clip(iv, 0, 1.2)
                at = t + int(rng.uniform(0.3, max(0.31, len(turn) / SR - 1.5)) * SR)
                g = 10 ** ((gains[other] + rng.uniform(-4, 2)) / 20)
                placed.append((at, (wav * g).astype(np.float32), other, iv[iv[:, 1] > iv[:, 0]]))
        t += len(turn)
    total = max(s + len(w) for s, w, _, _ in placed) + int(0.3 * SR)
    audio = np.zeros(total, np.float32)
    n = 1 + total // int(FRAME_S * SR)
    count = {a_spk: np.zeros(n, bool), b_spk: np.zeros(n, bool)}
    for s, w, spk, iv in placed:
        audio[s : s + len(w)] += w
        for a, b in iv:
            count[spk][int((s / SR + a) / FRAME_S) : int((s / SR + b) / FRAME_S)] = True
    audio = audio / max(1e-3, float(np.abs(audio).max())) * rng.uniform(0.2, 0.9)
    if rng.random() < 0.5:
        audio = telephone(audio)
    audio += rng.normal(0, 10 ** rng.uniform(-4, -2.5), total).astype(np.float32)
    both = count[a_spk] & count[b_spk]
    return np.clip(audio, -1, 1), both, count[a_spk] | count[b_spk]


CUTIN_S = (0.3, 0.8)  # s; how far a cut-in turn starts before the other voice's turn ends
CUTIN_SHARE = 0.5  # share of the turns of a cut-in conversation that start as a cut-in


def cutin_mixture(
    rng: np.random.Generator,
    clips: dict[str, tuple],
    pool: dict[str, list[str]],
    speakers: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A simulated two-voice conversation shaped like a call with cut-ins: 10-16 alternating
    turns of 1-3 pieces (a clip, or a stretch of a long one) joined by pauses of 0.1-0.5 s;
    between turns a gap of 0.2-1.5 s or, for CUTIN_SHARE of the turns, a start CUTIN_S before
    the other voice stops; voices within +-4 dB of each other, each piece +-3 dB; now and
    then a short interjection inside a long turn (a backchannel). Returns as ``mixture``."""
    corpus = [s.split("_")[0] for s in speakers]
    weight = np.array([CORPUS_WEIGHT[c] / corpus.count(c) for c in corpus])
    pair = [str(s) for s in rng.choice(speakers, 2, replace=False, p=weight / weight.sum())]
    gains = {s: rng.uniform(-4, 4) for s in pair}
    placed: list[tuple[int, np.ndarray, str, np.ndarray]] = []  # (start, wav, speaker, iv)
    t = int(0.5 * SR)
    for i in range(int(rng.integers(10, 17))):
        spk = pair[i % 2]
        parts, ivs, pos = [], [], 0
        for _ in range(int(rng.integers(1, 4))):
            path = pool[spk][rng.integers(len(pool[spk]))]
            if path not in clips:
                continue
            wav, iv = _piece(rng, clips[path])
            if len(iv) == 0:
                continue
            ivs.append(iv + pos / SR)
            parts += [wav * 10 ** (rng.uniform(-3, 3) / 20)]
            parts += [np.zeros(int(rng.uniform(0.1, 0.5) * SR), np.float32)]
            pos += len(parts[-2]) + len(parts[-1])
        if not parts:
            continue
        turn = (np.concatenate(parts[:-1]) * 10 ** (gains[spk] / 20)).astype(np.float32)
        if placed and rng.random() < CUTIN_SHARE:
            t -= int(rng.uniform(*CUTIN_S) * SR)
        elif placed:
            t += int(rng.uniform(0.2, 1.5) * SR)
        placed.append((t, turn, spk, np.concatenate(ivs)))
        if rng.random() < 0.1 and len(turn) > 2.5 * SR:  # a short interjection inside
            other = pair[(i + 1) % 2]
            path = pool[other][rng.integers(len(pool[other]))]
            if path in clips:
                wav, iv = _piece(rng, clips[path])
                wav, iv = wav[: int(1.0 * SR)], np.clip(iv, 0, 1.0)
                at = t + int(rng.uniform(0.5, len(turn) / SR - 1.5) * SR)
                g = 10 ** ((gains[other] + rng.uniform(-4, 2)) / 20)
                placed.append((at, (wav * g).astype(np.float32), other, iv[iv[:, 1] > iv[:, 0]]))
        t += len(turn)
    total = max(s + len(w) for s, w, _, _ in placed) + int(0.5 * SR)
    audio = np.zeros(total, np.float32)
    n = 1 + total // int(FRAME_S * SR)
    count = {s: np.zeros(n, bool) for s in pair}
    for s, w, spk, iv in placed:
        audio[s : s + len(w)] += w
        for a, b in iv:
            count[spk][int((s / SR + a) / FRAME_S) : int((s / SR + b) / FRAME_S)] = True
    audio = audio / max(1e-3, float(np.abs(audio).max())) * rng.uniform(0.3, 0.95)
    if rng.random() < 0.5:
        audio = telephone(audio)
    audio += rng.normal(0, 10 ** rng.uniform(-3.7, -2.7), total).astype(np.float32)
    both = count[pair[0]] & count[pair[1]]
    return np.clip(audio, -1, 1), both, count[pair[0]] | count[pair[1]]


VARIED_CUTIN_S = (0.2, 1.5)  # s; cut-ins of the varied conversations
VARIED_LEVEL_DB = 10.0  # dB; the second voice within this much of the first


def _reverb(rng: np.random.Generator, track: np.ndarray) -> np.ndarray:
    """``track`` through a synthetic room (exponentially decaying noise, RT60 0.15-0.6 s, the
    direct sound kept), same length."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.15, 0.6)
    n = int(rt60 * SR)
    tail = rng.normal(0, 1, n) * np.exp(-6.9 * np.arange(n) / n)
    tail *= rng.uniform(0.2, 0.7) / max(float(np.sqrt((tail**2).sum())), 1e-9)
    tail[0] = 1.0
    return fftconvolve(track, tail)[: len(track)].astype(np.float32)


def _channel(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """A random recording chain: a tilt of the spectrum (microphone), half of the time an 8 kHz
    telephone channel (a third of those with 8-bit mu-law), and noise 15-40 dB under the speech
    (white or low-heavy) or a faint floor."""
    from scipy.signal import lfilter

    if rng.random() < 0.6:  # first-order tilt: brighter or duller microphones
        audio = lfilter([1.0, -rng.uniform(-0.6, 0.6)], [1.0], audio).astype(np.float32)
    peak = max(1e-3, float(np.abs(audio).max()))
    audio = audio / peak * rng.uniform(0.3, 0.95)
    if rng.random() < 0.5:
        audio = telephone(audio)
        if rng.random() < 0.33:
            mu = 255.0
            comp = np.sign(audio) * np.log1p(mu * np.abs(np.clip(audio, -1, 1))) / np.log1p(mu)
            comp = np.round(comp * 127) / 127
            audio = (np.sign(comp) * np.expm1(np.abs(comp) * np.log1p(mu)) / mu).astype(np.float32)
    rms = float(np.sqrt(np.mean(audio[np.abs(audio) > 1e-3] ** 2))) if np.any(audio) else 0.1
    if rng.random() < 0.6:
        noise = rng.normal(0, 1, len(audio))
        if rng.random() < 0.5:  # low-heavy (fans, traffic)
            noise = lfilter([1.0], [1.0, -0.95], noise)
        noise *= rms * 10 ** (-rng.uniform(15, 40) / 20) / max(float(noise.std()), 1e-9)
        audio = audio + noise.astype(np.float32)
    else:
        audio = audio + rng.normal(0, 10 ** rng.uniform(-3.7, -2.7), len(audio)).astype(np.float32)
    return audio


def varied_mixture(
    rng: np.random.Generator,
    clips: dict[str, tuple],
    pool: dict[str, list[str]],
    speakers: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A call-shaped two-voice conversation with more variety than ``cutin_mixture``: voices up
    to VARIED_LEVEL_DB apart, half of the turns cutting in VARIED_CUTIN_S early (at most to
    0.2 s after the other turn's start), backchannels (0.2-0.8 s of the other voice, -8..+2 dB,
    inside a third of the turns over 2 s), each voice in its own synthetic room a third of the
    time, then a random recording chain (``_channel``). Returns as ``mixture``."""
    corpus = [s.split("_")[0] for s in speakers]
    weight = np.array([CORPUS_WEIGHT[c] / corpus.count(c) for c in corpus])
    pair = [str(s) for s in rng.choice(speakers, 2, replace=False, p=weight / weight.sum())]
    gains = {pair[0]: 0.0, pair[1]: rng.uniform(-VARIED_LEVEL_DB, VARIED_LEVEL_DB)}
    placed: list[tuple[int, np.ndarray, str, np.ndarray]] = []  # (start, wav, speaker, iv)
    t, last_start = int(0.5 * SR), 0
    for i in range(int(rng.integers(10, 17))):
        spk, other = pair[i % 2], pair[(i + 1) % 2]
        parts, ivs, pos = [], [], 0
        for _ in range(int(rng.integers(1, 4))):
            path = pool[spk][rng.integers(len(pool[spk]))]
            if path not in clips:
                continue
            wav, iv = _piece(rng, clips[path])
            if len(iv) == 0:
                continue
            ivs.append(iv + pos / SR)
            parts += [wav * 10 ** (rng.uniform(-3, 3) / 20)]
            parts += [np.zeros(int(rng.uniform(0.1, 0.5) * SR), np.float32)]
            pos += len(parts[-2]) + len(parts[-1])
        if not parts:
            continue
        turn = (np.concatenate(parts[:-1]) * 10 ** (gains[spk] / 20)).astype(np.float32)
        if placed and rng.random() < 0.5:
            t = max(t - int(rng.uniform(*VARIED_CUTIN_S) * SR), last_start + int(0.2 * SR))
        elif placed:
            t += int(rng.uniform(0.15, 1.5) * SR)
        placed.append((t, turn, spk, np.concatenate(ivs)))
        last_start = t
        if len(turn) > 2 * SR and rng.random() < 0.33:  # backchannels of the other voice
            for _ in range(int(rng.integers(1, 3))):
                path = pool[other][rng.integers(len(pool[other]))]
                if path not in clips:
                    continue
                wav, iv = clips[path]
                a = int(iv[0, 0] * SR)
                dur = rng.uniform(0.2, 0.8)
                piece = wav[a : a + int(dur * SR)]
                cut = np.clip(iv - a / SR, 0, len(piece) / SR)
                cut = cut[cut[:, 1] - cut[:, 0] > 0.05]
                if len(cut) == 0:
                    continue
                at = t + int(rng.uniform(0.3, len(turn) / SR - 1.0) * SR)
                g = 10 ** ((gains[other] + rng.uniform(-8, 2)) / 20)
                placed.append((at, (piece * g).astype(np.float32), other, cut))
        t += len(turn)
    total = max(s + len(w) for s, w, _, _ in placed) + int(0.5 * SR)
    tracks = {s: np.zeros(total, np.float32) for s in pair}
    n = 1 + total // int(FRAME_S * SR)
    count = {s: np.zeros(n, bool) for s in pair}
    for s, w, spk, iv in placed:
        tracks[spk][s : s + len(w)] += w
        for a, b in iv:
            count[spk][int((s / SR + a) / FRAME_S) : int((s / SR + b) / FRAME_S)] = True
    if rng.random() < 0.33:
        tracks = {s: _reverb(rng, w) for s, w in tracks.items()}
    audio = _channel(rng, tracks[pair[0]] + tracks[pair[1]])
    both = count[pair[0]] & count[pair[1]]
    return np.clip(audio, -1, 1), both, count[pair[0]] | count[pair[1]]


def build_set(
    rng,
    clips,
    pool,
    speakers,
    n: int,
    cutin_share: float = 0.0,
    *,
    varied_share: float = 0.0,
    call_norm: bool = False,
    pitch_bins: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` mixtures' features (joined), overlap labels and a mask of the frames to fit on
    (all frames of the mixtures); ``varied_share`` of them shaped by ``varied_mixture``, of the
    rest ``cutin_share`` by ``cutin_mixture`` and the others by ``mixture``; ``call_norm``:
    each mixture's features normalised as one call (``call_normalised``); ``pitch_bins``:
    ``frame_features``' pitch profile columns."""
    feats, labels, used = [], [], []
    for _ in range(n):
        if varied_share > 0 and rng.random() < varied_share:
            make = varied_mixture
        elif cutin_share > 0 and rng.random() < cutin_share:
            make = cutin_mixture
        else:
            make = mixture
        audio, both, _speech = make(rng, clips, pool, speakers)
        f = frame_features(audio, pitch_bins=pitch_bins)
        if call_norm:
            f = call_normalised(f)
        m = min(len(f), len(both))
        feats.append(f[:m])
        labels.append(both[:m])
        used.append(np.ones(m, bool))
    return np.concatenate(feats), np.concatenate(labels), np.concatenate(used)


def stacked_rows(feats: np.ndarray, offsets: tuple[int, ...], step: int) -> np.ndarray:
    """``stack_context(feats, offsets)[::step]`` without building the rows left out (memory)."""
    rows = np.arange(0, len(feats), step)
    return np.concatenate(
        [feats[np.clip(rows + o, 0, len(feats) - 1)] for o in offsets], axis=1
    ).astype(np.float32)


def fit(x_tr, y_tr, x_va, y_va, *, epochs: int, seed: int = 0, hidden=HIDDEN):
    """Fit the MLP (torch, CPU) on stacked features (float32 [rows, F], standardised in place);
    early stopping on the held-out mixtures' loss. Returns (layers [(W, b)], mean, scale)."""
    import torch

    torch.manual_seed(seed)
    mean = x_tr.mean(axis=0)
    scale = x_tr.std(axis=0) + 1e-3
    # standardised in place (float32 rows from ``stacked_rows``, not used after): a 2000-
    # conversation fit holds 6 GB of rows, and a standardised copy beside them ran out of memory
    x_tr -= mean
    x_tr /= scale
    x_va -= mean
    x_va /= scale
    xt = torch.from_numpy(x_tr)
    yt = torch.from_numpy(y_tr.astype(np.float32))
    xv = torch.from_numpy(x_va)
    yv = torch.from_numpy(y_va.astype(np.float32))
    dims = [xt.shape[1], *hidden, 1]
    mods: list = []
    for i in range(len(dims) - 1):
        mods.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            mods += [torch.nn.ReLU(), torch.nn.Dropout(0.2)]
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    lossf = _weighted_loss(float(yt.mean()))
    best, best_state = np.inf, None
    for ep in range(epochs):
        net.train()
        order = torch.randperm(len(xt))
        for b0 in range(0, len(xt), 1024):
            r = order[b0 : b0 + 1024]
            opt.zero_grad()
            loss = lossf(net(xt[r])[:, 0], yt[r])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            vl = float(lossf(net(xv)[:, 0], yv))
            pv = torch.sigmoid(net(xv)[:, 0]).numpy()
        auc = _auc(pv, y_va)
        print(f"epoch {ep}: held-out loss {vl:.4f}  AUC {auc:.3f}", flush=True)
        if vl < best:
            best = vl
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
    if best_state is not None:  # at least one epoch ran
        net.load_state_dict(best_state)
    lins = [m for m in net if isinstance(m, torch.nn.Linear)]
    layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in lins]
    return layers, mean, scale


TCN_DILATIONS = (2, 4, 8, 16, 32, 64)  # the residual layers' dilations (reach +-1.27 s in all)
TCN_FIRST_KERNEL = 5  # frames of the first layer (features -> channels)
CROP = 2000  # frames per training sequence (20 s) of the convolutional network
CROPS_PER_BATCH = 16


def fit_tcn(f_tr, y_tr, f_va, y_va, *, epochs: int, seed: int = 0, channels: int = 48):
    """Fit the dilated convolutional network (``overlap.Conv`` layers; torch, CPU) on the
    joined mixtures' frames [frames, F] (float16 or 32) and labels, on random 20 s crops;
    early stopping on the held-out mixtures' loss. Returns (weights [(W [out, in, k], b)],
    dilations, mean, scale): what ``OverlapDetector`` reads for ``"arch": "tcn"``."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean = f_tr.mean(axis=0, dtype=np.float64).astype(np.float32)  # no float32 copy of the frames
    scale = f_tr.std(axis=0, dtype=np.float64).astype(np.float32) + 1e-3
    n_in = f_tr.shape[1]
    first = torch.nn.Conv1d(n_in, channels, TCN_FIRST_KERNEL, padding="same")
    blocks = torch.nn.ModuleList(
        torch.nn.Conv1d(channels, channels, 3, dilation=d, padding="same") for d in TCN_DILATIONS
    )
    last = torch.nn.Conv1d(channels, 1, 1)
    drop = torch.nn.Dropout(0.1)
    params = [*first.parameters(), *blocks.parameters(), *last.parameters()]

    def forward(x):  # [B, F, T] -> logits [B, T]
        h = torch.relu(first(x))
        for b in blocks:
            h = h + torch.relu(b(drop(h)))
        return last(h)[:, 0]

    def batch(feats, labels, starts):
        x = np.stack([feats[a : a + CROP] for a in starts]).astype(np.float32)
        x = (x - mean) / scale
        y = np.stack([labels[a : a + CROP] for a in starts]).astype(np.float32)
        return torch.from_numpy(x.transpose(0, 2, 1).copy()), torch.from_numpy(y)

    lossf = _weighted_loss(float(y_tr.mean()))
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-3)
    steps = max(1, len(f_tr) // (CROP * CROPS_PER_BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * steps)
    va_starts = np.arange(0, max(1, len(f_va) - CROP), CROP)
    best, best_state = np.inf, None
    for ep in range(epochs):
        drop.train()
        for _ in range(steps):
            x, y = batch(f_tr, y_tr, rng.integers(0, len(f_tr) - CROP, CROPS_PER_BATCH))
            opt.zero_grad()
            loss = lossf(forward(x), y)
            loss.backward()
            opt.step()
            sched.step()
        drop.eval()
        losses, probs, truth = [], [], []
        with torch.no_grad():
            for i in range(0, len(va_starts), 32):
                x, y = batch(f_va, y_va, va_starts[i : i + 32])
                logit = forward(x)
                losses.append(float(lossf(logit, y)) * len(x))
                probs.append(torch.sigmoid(logit).numpy().ravel())
                truth.append(y.numpy().ravel() > 0.5)
        vl = sum(losses) / len(va_starts)
        auc = _auc(np.concatenate(probs), np.concatenate(truth))
        print(f"epoch {ep}: held-out loss {vl:.4f}  AUC {auc:.3f}", flush=True)
        if vl < best:
            best = vl
            best_state = [p.detach().clone() for p in params]
    if best_state is not None:
        with torch.no_grad():
            for p, b in zip(params, best_state):
                p.copy_(b)
    convs = [first, *blocks, last]
    weights = [(c.weight.detach().numpy().copy(), c.bias.detach().numpy().copy()) for c in convs]
    dilations = [1, *TCN_DILATIONS, 1]
    return weights, dilations, mean, scale


def _weighted_loss(pos: float):
    """Binary cross-entropy with the overlapped frames (share ``pos``) weighted up by the square
    root of their rarity: both networks' loss."""
    import torch

    return torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((1 - pos) / max(pos, 1e-3) ** 0.5))


def _auc(p: np.ndarray, y: np.ndarray) -> float:
    order = np.argsort(p)
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    n1 = y.sum()
    n0 = len(y) - n1
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / max(n1 * n0, 1))


NEAR_CHANGE_S = (0.5, 0.75, 1.0)  # s; the diarizer's gates compared
FAR_THRESHOLDS = (0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 2.0)  # away from a change (2.0: never)
SMOOTH_FRAMES = (5, 11, 21)  # moving averages compared
MIN_RUNS_S = (0.2, 0.3)  # s; shortest runs compared
EDGE_S: tuple[float, ...] = (
    0.0,
)  # s; the zone at speech-segment edges where the near threshold also holds
# (``OverlapDetector.edge_s``); ``--edges`` screens (0.0, 0.5, 1.0)
SHRINK_S = (0.0,)  # s cut from each end of a detection (0.05 and 0.1 never won on validation)
VALIDATION_SETS = ("val-2-default-any", "val-2-default-any-tel")  # wideband and 8 kHz calls


def validation_calls(bench_cache: Path, n: int = 60):
    """The benchmark's validation calls (RAVDESS actors 13-20, cached by ``python -m
    benchmarks.diarization --validation [--telephone] --calls N --cache DIR``; up to ``n`` of
    each of VALIDATION_SETS found in the folder): per call (audio, overlap reference [frames]
    bool, diarization labels [frames] (-1 off speech), speech segment per frame, set index),
    the labels from ``diarize_embedded`` with the count given, as the benchmark scores overlap.
    """
    from analyzer.audio.speakers import FRAMES, diarize_embedded, load_projection
    from analyzer.audio.turns import overlap_segments

    out = []
    for group, tag in enumerate(VALIDATION_SETS):
        for i in range(n):
            path = bench_cache / f"{tag}-{i:03d}.npz"
            if not path.exists():
                continue
            z = np.load(path)
            meta = json.loads(str(z["meta"]))
            ref = [(s, Segment(a, b)) for s, a, b in meta["ref"]]
            speech = [Segment(a, b) for a, b in z["speech"]]
            audio = z["audio"].astype(np.float32) / 32767
            m = FRAMES.count(meta["duration"]) + 1
            truth = np.zeros(m, bool)
            for s in overlap_segments(ref):
                truth[int(s.start * 100) : int(s.end * 100)] = True
            hyp = diarize_embedded(
                z["spans"], z["owner"], z["emb"], speech, meta["duration"], num_speakers=2,
                f0=z["f0"].astype(np.float32), projection=load_projection(),
            )  # fmt: skip
            labels = np.full(m, -1)
            names = hyp.speakers
            for spk, g in hyp.turns:
                labels[FRAMES.index(g.start) : FRAMES.end_index(g.end)] = names.index(spk)
            seg_of = np.full(m, -1)
            for j, g in enumerate(speech):
                seg_of[FRAMES.cover(g)] = j
            labels[seg_of < 0] = -1
            out.append((audio, truth, labels, seg_of, group))
    if not out:
        raise SystemExit(f"no validation calls in {bench_cache}")
    return out


BOOTSTRAP = 200  # resamples of the validation calls behind each setting's score
THRESHOLDS = tuple(round(float(t), 2) for t in np.arange(0.1, 0.91, 0.05))  # near a change


def decision_counts(det: OverlapDetector, probs, calls) -> list[dict]:
    """Every setting of the decision grid (gate, smoothing, shortest run, thresholds near and
    away from a change) with its (true positive, false positive, false negative) frames per
    call [calls, 3]. ``probs``: the detector's probabilities per call."""
    from analyzer.audio.speakers import FRAMES, _near_changes, _near_edges

    rows = []
    smoothed = {sm: [smooth(p, sm) for p in probs] for sm in SMOOTH_FRAMES}
    for near_s, edge_s in itertools.product(NEAR_CHANGE_S, EDGE_S):
        nears = [
            _near_changes(c[2], c[3], FRAMES.frames(near_s))
            | (_near_edges(c[3], FRAMES.frames(edge_s)) if edge_s > 0 else False)
            for c in calls
        ]
        for sm in SMOOTH_FRAMES:
            for min_s in MIN_RUNS_S:
                for th, far, cut in itertools.product(THRESHOLDS, FAR_THRESHOLDS, SHRINK_S):
                    if far >= th:  # the stricter one away from a change
                        det.threshold, det.smooth_frames, det.min_s = th, 1, min_s
                        det.shrink_s = cut
                        det.far_threshold = far  # smoothing done once per call below
                        counts = np.zeros((len(calls), 3), dtype=np.int64)
                        for j, (p, c, near) in enumerate(zip(smoothed[sm], calls, nears)):
                            truth, lab = c[1], c[2]
                            m = min(len(p), len(truth))
                            hit = det.mask(p[:m], lab[:m] >= 0, near[:m])
                            counts[j] = (
                                (hit & truth[:m]).sum(), (hit & ~truth[:m]).sum(),
                                (~hit & truth[:m]).sum(),
                            )  # fmt: skip
                        rows.append(
                            {"near_change_s": near_s, "edge_s": edge_s, "threshold": th,
                             "far_threshold": far,
                             "smooth_frames": sm, "min_s": min_s, "shrink_s": cut,
                             "counts": counts}
                        )  # fmt: skip
    det.smooth_frames = 1
    return rows


def precision_recall(counts: np.ndarray) -> tuple[float, float]:
    """Pooled precision and recall of [..., calls, 3] frame counts (last axis tp, fp, fn)."""
    tp, fp, fn = (counts[..., i].sum(axis=-1) for i in range(3))
    return tp / np.maximum(tp + fp, 1), tp / np.maximum(tp + fn, 1)


def bootstrap_score(counts: np.ndarray, groups: np.ndarray, draws: np.ndarray) -> float:
    """Mean over resamples of the calls (``draws`` [resamples, calls] indices) of the weaker of
    pooled precision and recall."""
    prec, rec = precision_recall(counts[draws])
    return float(np.minimum(prec, rec).mean())


def resamples(groups: np.ndarray, n: int = BOOTSTRAP, seed: int = 0) -> np.ndarray:
    """[n, calls] indices: each validation set resampled with replacement apart."""
    rng = np.random.default_rng(seed)
    cols = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        cols.append(idx[rng.integers(0, len(idx), (n, len(idx)))])
    return np.concatenate(cols, axis=1)


def choose_decision(
    det: OverlapDetector, calls, *, bootstrap: int = BOOTSTRAP, probs: list | None = None
) -> dict:
    """Gate, thresholds near and away from a change, smoothing and shortest run on the
    validation calls: the setting with the highest mean of min(precision, recall) over
    ``bootstrap`` resamples of the calls (each validation set resampled apart; frame counts
    pooled over the calls of a resample, as the benchmark pools them), ties by pooled F1.
    A stable choice: one pooled figure over 40 calls picked thresholds that did not carry
    to the test actors (session 23). ``probs``: the detector's probabilities per call, when
    already computed."""
    if probs is None:
        probs = [det.probabilities(c[0]) for c in calls]
    groups = np.array([c[4] for c in calls])
    draws = resamples(groups, bootstrap)
    rows = decision_counts(det, probs, calls)
    for r in rows:
        prec, rec = precision_recall(r["counts"])
        r["precision"], r["recall"] = float(prec), float(rec)
        r["f1"] = 2 * r["precision"] * r["recall"] / max(r["precision"] + r["recall"], 1e-9)
        r["score"] = bootstrap_score(r["counts"], groups, draws)
        for g in np.unique(groups):
            p_g, r_g = precision_recall(r["counts"][groups == g])
            r[f"set{g}"] = (round(float(p_g), 3), round(float(r_g), 3))
    best = max(rows, key=lambda r: (r["score"], r["f1"]))
    for near_s in NEAR_CHANGE_S:  # the best of each gate, for the record
        top = max((r for r in rows if r["near_change_s"] == near_s), key=lambda r: r["score"])
        print(f"gate {near_s} s: best {_public(top)}")
    return _public(best)


def _public(row: dict) -> dict:
    """A decision row without its per-call counts."""
    return {k: v for k, v in row.items() if k != "counts"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="model folder to write")
    ap.add_argument("--cache", required=True, help="folder for the clips' VAD intervals")
    ap.add_argument(
        "--bench-cache", required=True,
        help="benchmarks.diarization --validation --cache folder (the 20 default calls)",
    )  # fmt: skip
    ap.add_argument("--mixtures", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--cutin-share", type=float, default=0.0,
        help="share of the mixtures shaped as calls with 0.3-0.8 s cut-ins (cutin_mixture)",
    )  # fmt: skip
    ap.add_argument(
        "--context", choices=sorted(CONTEXTS), default="v1",
        help="frame offsets stacked around each frame (v1: 13 from -0.5 to +0.5 s)",
    )  # fmt: skip
    ap.add_argument("--hidden", default="96,48", help="hidden layer sizes, comma-separated")
    ap.add_argument(
        "--arch", choices=("mlp", "tcn"), default="mlp",
        help="mlp: stacked context and ReLU layers; tcn: dilated convolutions over the frames",
    )  # fmt: skip
    ap.add_argument("--channels", type=int, default=48, help="tcn: channels per layer")
    ap.add_argument("--fit-step", type=int, default=FIT_STEP, help="frames between fitted frames")
    ap.add_argument(
        "--data-seeds", type=lambda v: [int(x) for x in v.split(",")], default=None,
        help="seeds of the mixture sets (comma-separated; each gives --mixtures mixtures)",
    )  # fmt: skip
    ap.add_argument(
        "--varied-share", type=float, default=0.0,
        help="share of the mixtures from varied_mixture (levels, backchannels, rooms, channels)",
    )  # fmt: skip
    ap.add_argument(
        "--call-norm", action="store_true",
        help="normalise each mixture's features as one call (overlap.call_normalised)",
    )  # fmt: skip
    ap.add_argument(
        "--validation-calls", type=int, default=60,
        help="calls of each validation set read from --bench-cache (as many as are cached)",
    )  # fmt: skip
    ap.add_argument(
        "--pitch-bins", type=int, default=0,
        help="autocorrelation profile columns over the pitch lags (frame_features' pitch_bins)",
    )  # fmt: skip
    ap.add_argument(
        "--edges", action="store_true",
        help="also try a near-threshold zone at speech-segment edges (edge_s 0.5, 1.0 s)",
    )  # fmt: skip
    ap.add_argument("--sets", help="path prefix: each seed's features kept in PREFIX-SEED.npz")
    ap.add_argument(
        "--decide-only", action="store_true",
        help="keep the network in --out, choose its threshold, smoothing and gate again",
    )  # fmt: skip
    args = ap.parse_args()
    args.data_seeds = args.data_seeds or [args.seed]
    if args.edges:
        global EDGE_S
        EDGE_S = (0.0, 0.5, 1.0)

    from analyzer.models import write_checksums

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    pool = load_pool()
    clips = clip_speech(sorted(p for ps in pool.values() for p in ps), cache)
    pool = {s: [p for p in ps if p in clips] for s, ps in pool.items()}
    pool = {s: ps for s, ps in pool.items() if ps}
    libri = sorted(s for s in pool if s.startswith("librispeech"))
    held = set(np.random.default_rng(args.seed).choice(libri, LIBRI_HOLDOUT, replace=False))
    fit_spk = sorted(s for s in pool if s not in held)
    out = Path(args.out)
    extra: dict = {}  # model.json fields of a convolutional network
    if args.decide_only:  # keep the fitted network, choose its decision again
        config = json.loads((out / "model.json").read_text())
        det = OverlapDetector.from_folder(out, config)
        z = np.load(out / str(config["weights"]))
        weights = [(z[f"w{i}"], z[f"b{i}"]) for i in range(int(config["layers"]))]
        mean, scale = det.mean, det.scale
        extra = {k: config[k] for k in ("arch", "dilations", "members") if k in config}
    else:
        parts = []  # per data seed: (fit features, labels, held-out features, labels)
        for seed in args.data_seeds:
            saved = Path(f"{args.sets}-{seed}.npz") if args.sets else None
            if saved is not None and saved.exists():
                z = np.load(saved)
                parts.append(tuple(z[k] for k in ("f_tr", "y_tr", "f_va", "y_va")))
                continue
            rng = np.random.default_rng(seed)
            mix = {
                "varied_share": args.varied_share,
                "call_norm": args.call_norm,
                "pitch_bins": args.pitch_bins,
            }
            f_tr, y_tr, _ = build_set(
                rng, clips, pool, fit_spk, args.mixtures, args.cutin_share, **mix
            )
            f_va, y_va, _ = build_set(
                rng, clips, pool, sorted(held), args.mixtures // 8, args.cutin_share, **mix
            )
            parts.append((f_tr.astype(np.float16), y_tr, f_va.astype(np.float16), y_va))
            if saved is not None:
                np.savez(saved, **dict(zip(("f_tr", "y_tr", "f_va", "y_va"), parts[-1])))
        f_tr, y_tr, f_va, y_va = (np.concatenate([p[i] for p in parts]) for i in range(4))
        offsets = CONTEXTS[args.context]
        print(f"fit frames {len(f_tr)} ({y_tr.mean():.1%} overlapped), held-out {len(f_va)}")
        if args.arch == "tcn":
            weights, dilations, mean, scale = fit_tcn(
                f_tr, y_tr, f_va, y_va, epochs=args.epochs, seed=args.seed,
                channels=args.channels,
            )  # fmt: skip
            extra = {"arch": "tcn", "dilations": dilations}
        else:  # every FIT_STEP-th frame: neighbouring frames' stacked contexts are near copies
            weights, mean, scale = fit(
                stacked_rows(f_tr, offsets, args.fit_step), y_tr[:: args.fit_step],
                stacked_rows(f_va, offsets, args.fit_step), y_va[:: args.fit_step],
                epochs=args.epochs, seed=args.seed,
                hidden=tuple(int(h) for h in args.hidden.split(",")),
            )  # fmt: skip
        det = OverlapDetector(
            [] if args.arch == "tcn" else weights, mean, scale, offsets, threshold=0.5,
            smooth_frames=1, min_s=0.0, call_norm=args.call_norm, pitch_bins=args.pitch_bins,
        )  # fmt: skip
        if args.arch == "tcn":
            det.convs = conv_layers(weights, extra["dilations"])
    calls = validation_calls(Path(args.bench_cache), args.validation_calls)
    best = choose_decision(det, calls)
    print(f"validation (RAVDESS 13-20): {best}", flush=True)

    out.mkdir(parents=True, exist_ok=True)
    arrays = {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32)}
    for i, (w, b) in enumerate(weights):
        arrays[f"w{i}"], arrays[f"b{i}"] = w.astype(np.float32), b.astype(np.float32)
    np.savez(out / "weights.npz", **arrays)
    config = {
        "kind": "overlap",
        "loader": "analyzer.audio.overlap:OverlapDetector",
        "weights": "weights.npz",
        "features": f"frame_features: {N_MELS} log mel (60 Hz-4 kHz), flatness, periodicity, level"
        + (f", {det.pitch_bins} pitch profile bands" if det.pitch_bins else ""),
        "pitch_bins": det.pitch_bins,
        "offsets": list(det.offsets),
        "layers": len(weights),
        **extra,
        "threshold": best["threshold"],
        "smooth_frames": best["smooth_frames"],
        "min_s": best["min_s"],
        "near_change_s": best["near_change_s"],
        "edge_s": best["edge_s"],
        "far_threshold": best["far_threshold"],
        "shrink_s": best["shrink_s"],
        "call_norm": det.call_norm,
        "validation": {k: round(v, 3) if isinstance(v, float) else v for k, v in best.items()},
        "training": f"python -m train.overlap --out {args.out} --cache DIR --bench-cache DIR "
        f"--mixtures {args.mixtures} --epochs {args.epochs} --seed {args.seed} "
        f"--cutin-share {args.cutin_share} --context {args.context} --hidden {args.hidden} "
        f"{f'--arch tcn --channels {args.channels} ' if args.arch == 'tcn' else ''}"
        f"--fit-step {args.fit_step} --data-seeds {','.join(map(str, args.data_seeds))}"
        f"{f' --varied-share {args.varied_share}' if args.varied_share else ''}"
        f"{' --call-norm' if args.call_norm else ''}"
        f"{f' --pitch-bins {args.pitch_bins}' if args.pitch_bins else ''}",
    }
    if args.decide_only:
        config["training"] = json.loads((out / "model.json").read_text())["training"]
    (out / "model.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "training_speakers.json").write_text(
        json.dumps({"fit": fit_spk, "held_out": sorted(held)}, indent=1) + "\n"
    )
    write_checksums(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
