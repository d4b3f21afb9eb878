"""Issue 15 research for version 4 (not product code): the familiarity check, screened.

    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.v4 screen
    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.v4 loco 64 1.0
    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.v4 layers 0,2 [0.6]
    OMP_NUM_THREADS=1 python -m train.experiments.ser_generalisation.v4 probe

``screen``: familiarity variants (principal directions kept, weight of the residual, training
channels) on version 3's standardisation, judged only on a *dev* criterion: the share of the
LibriSpeech fit-half windows (read speech of speakers no figure scores) flagged, at the
threshold that leaves 95 % of left-out training speakers' windows familiar. Held-out speakers,
the LibriSpeech evaluation half and AISHELL-1 are not looked at.

``loco``: version 3's recipe screened leave-one-corpus-out (``v3.build`` with ``bias60``), with
and without the familiarity check fitted on the two training corpora only (threshold from their
left-out speakers); accuracy counts "uncertain" as wrong.

``probe``: version 4's distances for 4 s pieces of the bundled sample call, two espeak
sentences, white noise and a modulated tone (what "unfamiliar" means; no figure).

``layers``: pooled features of every Whisper encoder layer (torch re-implementation, clean
audio only, ``extract --layers``) against the last layer, one absolute head per split,
leave-one-corpus-out, temperature from cross-corpus predictions inside the training corpora;
with a second argument, a neutral prior fitted on the LibriSpeech fit half to that target.

Results: $SER_CACHE/results/v4_*.json
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np

from analyzer.audio.ser import SpeechEmotionModel, dense_forward, log_softmax
from analyzer.dsp import softmax
from analyzer.models import load_model
from train.data import SER_HELD_OUT
from train.heads import HeadOptions, fit_dense, fit_temperature
from train.ser_ood import (
    corpus_weights,
    distance,
    fit_familiarity,
    left_out_distances,
    weighted_quantile,
)

from . import CACHE
from .exp import AISHELL_ROWS, CORPUS, LABEL, LS_FIT, LS_TEST_ROWS, SPEAKER, gather, idx
from .v3 import VARIANTS, build, clips, row_weights, score, windows

K = 7
LS_FIT_ROWS = idx(np.isin(SPEAKER, list(LS_FIT)))
LABELLED = idx(np.isin(CORPUS, ["ravdess", "tess", "emodb"]) & (LABEL >= 0))


def familiarity(mean, scale, rows, channels, dims, rw, q=0.95):
    """(arrays, threshold) fitted on ``rows`` in ``channels`` (standardised by mean/scale)."""
    f, r, _, _ = gather(rows, channels)
    z = (f - mean) / scale
    w = corpus_weights(CORPUS[r])
    held = left_out_distances(z, SPEAKER[r], weights=w, dims=dims, residual_weight=rw)
    return fit_familiarity(z, dims=dims, weights=w), weighted_quantile(held, q, w)


def screen() -> dict:
    v3 = load_model("ser-whisper-tiny-head-v3", "ser")
    assert isinstance(v3, SpeechEmotionModel)
    train = LABELLED[~np.isin(SPEAKER[LABELLED], list(SER_HELD_OUT))]
    dev, _, _, _ = gather(LS_FIT_ROWS, ["clean"])
    zdev = v3.standardise(dev)
    out: dict[str, Any] = {}
    grid = [
        (("clean", "telephone"), 16, 0.0),
        (("clean", "telephone"), 16, 1.0),
        (("clean", "telephone"), 64, 1.0),
        (("clean", "telephone"), 64, 4.0),
        (("clean", "telephone"), 128, 1.0),
        (("clean", "telephone", "degraded"), 64, 1.0),
    ]
    for channels, dims, rw in grid:
        t0 = time.time()
        arrays, above = familiarity(v3.mean, v3.scale, train, channels, dims, rw)
        flagged = float(np.mean(distance(arrays, zdev, rw) > above))
        key = f"{'+'.join(channels)}|d{dims}|rw{rw}"
        out[key] = {"above": round(above, 3), "dev_read_flagged": round(flagged, 3)}
        print(key, out[key], f"{time.time() - t0:.0f}s", flush=True)
    return out


def loco(dims: int, rw: float, channels: tuple[str, ...], mode: dict | None = None) -> dict:
    ravdess, tess, emodb = (idx(CORPUS == c) for c in ("ravdess", "tess", "emodb"))
    splits = {"emodb": ([ravdess, tess], emodb), "ravdess": ([tess, emodb], ravdess)}
    out: dict[str, Any] = {"dims": dims, "rw": rw, "channels": list(channels)}
    for name, (parts, test) in splits.items():
        t0 = time.time()
        head, info = build(parts, VARIANTS["bias60"] if mode is None else mode)
        arrays, above = familiarity(
            head.mean, head.scale, np.concatenate(parts), channels, dims, rw
        )

        def flags(rows, head=head, arrays=arrays, above=above):
            f, r, _, _ = gather(rows, ["clean"])
            d = distance(arrays, (f - head.mean) / head.scale, rw) > above
            u, inv = np.unique(r, return_inverse=True)
            share = np.bincount(inv, weights=d.astype(float)) / np.bincount(inv)
            return share >= 0.5

        p, r = windows(head, test)
        p, r = clips(p, r)
        keep = LABEL[r] >= 0
        res: dict[str, Any] = {**info, "above": round(above, 3)}
        res["plain"] = score(p[keep], r[keep], head.p_min)
        unf = flags(test)[keep]
        pk, rk = p[keep], r[keep]
        pred = np.where(unf, K, pk.argmax(axis=1))
        y = LABEL[rk]
        res["familiar"] = {
            "acc": round(float(np.mean(pred == y)), 4),
            "coverage": round(float(1 - unf.mean()), 4),
            "acc_covered": round(float(np.mean(pred[~unf] == y[~unf])), 4)
            if (~unf).any()
            else None,
        }
        for rname, rows in (("read_en", LS_TEST_ROWS), ("read_zh", AISHELL_ROWS)):
            pp, _ = clips(*windows(head, rows))
            neutral = pp.argmax(axis=1) == 0
            res[rname] = {
                "neutral": round(float(neutral.mean()), 3),
                "neutral_or_unfamiliar": round(float(np.mean(neutral | flags(rows))), 3),
            }
        res["secs"] = round(time.time() - t0)
        out[name] = res
        print(name, json.dumps(res), flush=True)
    return out


def layer_features(rows: np.ndarray, layers: list[int]):
    """(features [n_windows, 768 * len(layers)], row [n]) from the per-layer cache."""
    f, r, _, _ = gather(rows, ["L_clean"])
    parts = [f[:, 768 * k : 768 * (k + 1)] for k in layers]
    return np.hstack(parts), r


def layers_run(layers: list[int], target: float = 0.0) -> dict:
    ravdess, tess, emodb = (idx(CORPUS == c) for c in ("ravdess", "tess", "emodb"))
    splits = {"emodb": ([ravdess, tess], emodb), "ravdess": ([tess, emodb], ravdess)}
    out: dict[str, Any] = {"layers": layers}
    opts = HeadOptions(members=1, gender_boosts=(1.0,))

    def fit(rows):
        f, r = layer_features(rows, layers)
        keep = LABEL[r] >= 0
        f, r = f[keep], r[keep]
        mean, scale = f.mean(axis=0), f.std(axis=0) + 1e-6
        head = fit_dense((f - mean) / scale, LABEL[r], options=opts, weights=row_weights(r, {}))
        return mean, scale, head

    def logits(model, rows):
        mean, scale, head = model
        f, r = layer_features(rows, layers)
        return dense_forward(head, (f - mean) / scale), r

    for name, (parts, test) in splits.items():
        t0 = time.time()
        lg, ys = [], []
        for k, part in enumerate(parts):
            lk, rk = logits(fit(parts[1 - k]), part)
            keep = LABEL[rk] >= 0
            lg.append(lk[keep])
            ys.append(LABEL[rk[keep]])
        t = fit_temperature(np.vstack(lg), np.concatenate(ys))
        model = fit(np.concatenate(parts))
        bias = 0.0
        if target:  # neutral prior from the LibriSpeech fit half (dev), as v3.neutral_bias
            lf, _ = logits(model, LS_FIT_ROWS)
            lp = log_softmax(lf / t)
            bias = float(max(0.0, np.quantile(lp[:, 1:].max(axis=1) - lp[:, 0], target)))

        def probs(lgt, bias=bias, t=t):
            lp = log_softmax(lgt / t)
            lp[:, 0] += bias
            return softmax(log_softmax(lp).astype(np.float64))

        lt, rt = logits(model, test)
        p, r = clips(probs(lt), rt)
        keep = LABEL[r] >= 0
        res = {"T": round(t, 3), "bias": round(bias, 3), **score(p[keep], r[keep], 0.0)}
        for rname, rows in (("read_en", LS_TEST_ROWS), ("read_zh", AISHELL_ROWS)):
            lr, rr = logits(model, rows)
            pp, _ = clips(probs(lr), rr)
            res[rname] = round(float(np.mean(pp.argmax(axis=1) == 0)), 3)
        res["secs"] = round(time.time() - t0)
        out[name] = res
        print(name, json.dumps(res), flush=True)
    return out


def probe(model_name: str = "ser-whisper-tiny-head-v4") -> dict:
    import subprocess
    import tempfile

    from analyzer.labels import LABELS
    from train.ser import load_audio

    model = load_model(model_name, "ser")
    assert isinstance(model, SpeechEmotionModel)
    piece = 4 * 16000
    call = load_audio("assets/sample_call.wav")
    waves = [call[k : k + piece] for k in range(0, len(call) - piece, piece)]
    names = [f"sample call {k // 16000} s" for k in range(0, len(call) - piece, piece)]
    for text in (
        "Hello, I am calling about my invoice from last month.",
        "Could you please check the order number for me?",
    ):
        with tempfile.NamedTemporaryFile(suffix=".wav") as fh:
            subprocess.run(["espeak-ng", "-w", fh.name, text], check=True)
            waves.append(load_audio(fh.name))
            names.append("espeak")
    rng = np.random.default_rng(0)
    t = np.arange(48000) / 16000
    waves.append((0.1 * rng.normal(size=48000)).astype(np.float32))
    names.append("white noise")
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    waves.append(tone.astype(np.float32))
    names.append("tone")
    feats, _ = model.encoder.embed(waves)
    dist = model.unfamiliarity(feats)
    probs = model.probabilities(feats)
    pieces: list[dict[str, Any]] = []
    out = {"unfamiliar_above": model.unfamiliar_above, "pieces": pieces}
    for name, d, p in zip(names, dist, probs, strict=True):
        pieces.append({"name": name, "distance": round(float(d), 2),
                              "top": LABELS[int(p.argmax())]})  # fmt: skip
        print(f"{name:20s} {d:5.2f} {'unfamiliar' if d > model.unfamiliar_above else ''}")
    return out


def main() -> None:
    import torch

    torch.set_num_threads(1)
    what = sys.argv[1]
    if what == "screen":
        res = screen()
    elif what == "loco":
        dims, rw = int(sys.argv[2]), float(sys.argv[3])
        channels = tuple(sys.argv[4].split(",")) if len(sys.argv) > 4 else ("clean", "telephone")
        res = loco(dims, rw, channels)
        what = f"loco_d{dims}_rw{rw}_{'+'.join(channels)}"
    elif what == "probe":
        res = probe()
    elif what == "layers":
        layers = [int(x) for x in sys.argv[2].split(",")]
        target = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
        res = layers_run(layers, target)
        what = f"layers_{'-'.join(map(str, layers))}" + (f"_bias{target}" if target else "")
    else:
        raise SystemExit(f"unknown: {what}")
    (CACHE / "results" / f"v4_{what}.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
