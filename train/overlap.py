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
a faint noise floor. A frame is overlapped where both voices' speech intervals (silero VAD on
each clip alone, pauses under 0.3 s bridged, as the benchmark's reference) cover it.

The network (a small MLP on stacked frame features) is fitted with torch here; the engine runs
it in numpy. The decision (thresholds near and away from an in-speech speaker change of the
diarizer, how near, smoothing, shortest run) is then chosen on the benchmark's validation calls
(RAVDESS actors 13-20, wideband and telephone, ``benchmarks.diarization --validation
[--telephone] --cache DIR``, count given, frames pooled as the benchmark scores overlap): the
best F1 among settings whose precision and recall both reach 0.6, else the setting whose
weaker side is highest. ``--decide-only`` repeats that choice for a fitted folder.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from analyzer.audio.overlap import FRAME_S, N_MELS, OverlapDetector, frame_features
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


def build_set(
    rng, clips, pool, speakers, n: int, cutin_share: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` mixtures' features (joined, each followed by a gap of edge frames), overlap labels
    and a mask of the frames to fit on (all frames of the mixtures); ``cutin_share`` of them
    shaped by ``cutin_mixture``, the rest by ``mixture``."""
    feats, labels, used = [], [], []
    for _ in range(n):
        make = cutin_mixture if cutin_share > 0 and rng.random() < cutin_share else mixture
        audio, both, _speech = make(rng, clips, pool, speakers)
        f = frame_features(audio)
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
    """Fit the MLP (torch, CPU) on stacked features; early stopping on the held-out mixtures'
    loss. Returns (layers [(W, b)], mean, scale)."""
    import torch

    torch.manual_seed(seed)
    mean = x_tr.mean(axis=0)
    scale = x_tr.std(axis=0) + 1e-3
    xt = torch.from_numpy(((x_tr - mean) / scale).astype(np.float32))
    yt = torch.from_numpy(y_tr.astype(np.float32))
    xv = torch.from_numpy(((x_va - mean) / scale).astype(np.float32))
    yv = torch.from_numpy(y_va.astype(np.float32))
    dims = [xt.shape[1], *hidden, 1]
    mods: list = []
    for i in range(len(dims) - 1):
        mods.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            mods += [torch.nn.ReLU(), torch.nn.Dropout(0.2)]
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    pos = float(yt.mean())
    lossf = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((1 - pos) / max(pos, 1e-3) ** 0.5))
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


def _auc(p: np.ndarray, y: np.ndarray) -> float:
    order = np.argsort(p)
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    n1 = y.sum()
    n0 = len(y) - n1
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / max(n1 * n0, 1))


NEAR_CHANGE_S = (0.5, 0.75, 1.0)  # s; the diarizer's gates compared
FAR_THRESHOLDS = (
    0.85,
    0.9,
    0.93,
    0.95,
    0.97,
    0.98,
    2.0,
)  # away from a change (2.0: never), compared
VALIDATION_SETS = ("val-2-default-any", "val-2-default-any-tel")  # wideband and 8 kHz calls


def validation_calls(bench_cache: Path, n: int = 20):
    """The benchmark's validation calls (RAVDESS actors 13-20, cached by ``python -m
    benchmarks.diarization --validation [--telephone] --cache DIR``; each of VALIDATION_SETS
    found in the folder): per call (audio, overlap reference [frames] bool, diarization labels
    [frames] (-1 off speech), speech segment per frame), the labels from ``diarize_embedded``
    with the count given, as the benchmark scores overlap.
    """
    from analyzer.audio.speakers import FRAMES, diarize_embedded, load_projection
    from analyzer.audio.turns import overlap_segments

    out = []
    paths = [bench_cache / f"{tag}-{i:03d}.npz" for tag in VALIDATION_SETS for i in range(n)]
    for path in paths:
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
        out.append((audio, truth, labels, seg_of))
    if not out:
        raise SystemExit(f"no validation calls in {bench_cache}")
    return out


def choose_decision(det: OverlapDetector, calls, *, target: float = 0.6) -> dict:
    """Gate, thresholds near and away from a change, smoothing and shortest run on the
    validation calls (frame counts pooled over calls, as the benchmark): the highest F1 among
    the settings whose precision and recall both reach ``target``, else the setting whose
    weaker side is highest."""
    from analyzer.audio.speakers import FRAMES, _near_changes

    probs = [det.probabilities(c[0]) for c in calls]
    rows = []
    for near_s in NEAR_CHANGE_S:
        nears = [_near_changes(lab, seg, FRAMES.frames(near_s)) for _, _, lab, seg in calls]
        for sm in (5, 11, 21):
            for min_s in (0.2, 0.3):
                for th in np.arange(0.1, 0.91, 0.05):
                    for far in FAR_THRESHOLDS:
                        if far < th:
                            continue
                        det.threshold, det.smooth_frames, det.min_s = float(th), sm, min_s
                        det.far_threshold = far
                        tp = fp = fn = 0
                        for p, (_, truth, lab, _), near in zip(probs, calls, nears):
                            m = min(len(p), len(truth))
                            hit = det.mask(p[:m], lab[:m] >= 0, near[:m])
                            tp += int((hit & truth[:m]).sum())
                            fp += int((hit & ~truth[:m]).sum())
                            fn += int((~hit & truth[:m]).sum())
                        prec, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
                        f1 = 2 * prec * rec / max(prec + rec, 1e-9)
                        rows.append(
                            {"near_change_s": near_s, "threshold": round(float(th), 2),
                             "far_threshold": far, "smooth_frames": sm, "min_s": min_s,
                             "precision": prec, "recall": rec, "f1": f1}
                        )  # fmt: skip
    # Both must reach the target: the setting whose weaker side is strongest (then F1).
    best = max(rows, key=lambda r: (min(r["precision"], r["recall"], target), r["f1"]))
    for near_s in NEAR_CHANGE_S:  # the best of each gate, for the record
        mine = [r for r in rows if r["near_change_s"] == near_s]
        top = max(mine, key=lambda r: (min(r["precision"], r["recall"], target), r["f1"]))
        print(f"gate {near_s} s: best {top}")
    return best


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
    ap.add_argument("--fit-step", type=int, default=FIT_STEP, help="frames between fitted frames")
    ap.add_argument(
        "--data-seeds", type=lambda v: [int(x) for x in v.split(",")], default=None,
        help="seeds of the mixture sets (comma-separated; each gives --mixtures mixtures)",
    )  # fmt: skip
    ap.add_argument("--sets", help="path prefix: each seed's features kept in PREFIX-SEED.npz")
    ap.add_argument(
        "--decide-only", action="store_true",
        help="keep the network in --out, choose its threshold, smoothing and gate again",
    )  # fmt: skip
    args = ap.parse_args()
    args.data_seeds = args.data_seeds or [args.seed]

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
    if args.decide_only:  # keep the fitted network, choose its decision again
        config = json.loads((out / "model.json").read_text())
        det = OverlapDetector.from_folder(out, config)
        layers, mean, scale = det.layers, det.mean, det.scale
    else:
        parts = []  # per data seed: (fit features, labels, held-out features, labels)
        for seed in args.data_seeds:
            saved = Path(f"{args.sets}-{seed}.npz") if args.sets else None
            if saved is not None and saved.exists():
                z = np.load(saved)
                parts.append(tuple(z[k] for k in ("f_tr", "y_tr", "f_va", "y_va")))
                continue
            rng = np.random.default_rng(seed)
            f_tr, y_tr, _ = build_set(rng, clips, pool, fit_spk, args.mixtures, args.cutin_share)
            f_va, y_va, _ = build_set(
                rng, clips, pool, sorted(held), args.mixtures // 8, args.cutin_share
            )
            parts.append((f_tr.astype(np.float16), y_tr, f_va.astype(np.float16), y_va))
            if saved is not None:
                np.savez(saved, **dict(zip(("f_tr", "y_tr", "f_va", "y_va"), parts[-1])))
        f_tr, y_tr, f_va, y_va = (np.concatenate([p[i] for p in parts]) for i in range(4))
        offsets = CONTEXTS[args.context]
        print(f"fit frames {len(f_tr)} ({y_tr.mean():.1%} overlapped), held-out {len(f_va)}")
        # Every FIT_STEP-th frame: neighbouring frames' stacked contexts are near copies.
        layers, mean, scale = fit(
            stacked_rows(f_tr, offsets, args.fit_step), y_tr[:: args.fit_step],
            stacked_rows(f_va, offsets, args.fit_step), y_va[:: args.fit_step],
            epochs=args.epochs, seed=args.seed,
            hidden=tuple(int(h) for h in args.hidden.split(",")),
        )  # fmt: skip
        det = OverlapDetector(
            layers, mean, scale, offsets, threshold=0.5, smooth_frames=1, min_s=0.0
        )
    calls = validation_calls(Path(args.bench_cache))
    best = choose_decision(det, calls)
    print(f"validation (RAVDESS 13-20): {best}", flush=True)

    out.mkdir(parents=True, exist_ok=True)
    arrays = {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32)}
    for i, (w, b) in enumerate(layers):
        arrays[f"w{i}"], arrays[f"b{i}"] = w.astype(np.float32), b.astype(np.float32)
    np.savez(out / "weights.npz", **arrays)
    config = {
        "kind": "overlap",
        "loader": "analyzer.audio.overlap:OverlapDetector",
        "weights": "weights.npz",
        "features": f"frame_features: {N_MELS} log mel (60 Hz-4 kHz), flatness, periodicity, level",
        "offsets": list(det.offsets),
        "layers": len(layers),
        "threshold": best["threshold"],
        "smooth_frames": best["smooth_frames"],
        "min_s": best["min_s"],
        "near_change_s": best["near_change_s"],
        "far_threshold": best["far_threshold"],
        "validation": {k: round(v, 3) if isinstance(v, float) else v for k, v in best.items()},
        "training": f"python -m train.overlap --out {args.out} --cache DIR --bench-cache DIR "
        f"--mixtures {args.mixtures} --epochs {args.epochs} --seed {args.seed} "
        f"--cutin-share {args.cutin_share} --context {args.context} --hidden {args.hidden} "
        f"--fit-step {args.fit_step} --data-seeds {','.join(map(str, args.data_seeds))}",
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
