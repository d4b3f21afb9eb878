"""Issue 15 research for version 3 (not product code): screening on cached encoder features.

    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.v3 VARIANT...
    ... v3 --heldout VARIANT...   (train without RAVDESS 17-20 / EmoDB 11, score them)
    ... v3 nref SHARE MIX [TARGET]   (neutral-anchored relative head, ``neutral_ref_run``)

Per variant and per leave-one-corpus-out split (EmoDB held out: RAVDESS+TESS train; RAVDESS
held out: TESS+EmoDB train), one absolute head (clean + telephone rows), a temperature from
cross-corpus predictions inside the training corpora, then:

- a neutral bias: the log-probability offset added to "neutral" that makes the LibriSpeech
  *fit-half* speakers (a dev set of read speech, never scored) read neutral for ``target`` of
  their windows; the read-speech figures come from the other half and from AISHELL-1 only;
- an "uncertain" threshold on the calibrated top probability, the ``unc_rate`` quantile of the
  cross-corpus predictions of the training corpora (the test corpus is never in it);
- scores: held-out corpus accuracy (uncertain = wrong), coverage, ECE, per gender, per class;
  read English (LibriSpeech test half) and Mandarin (AISHELL-1) neutral-or-uncertain shares.

Nothing here looks at the test corpus to choose anything. Results: $SER_CACHE/results/v3_*.json
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np

from analyzer.audio.ser import dense_forward, log_softmax
from analyzer.dsp import softmax
from train.heads import HeadOptions, fit_dense, fit_temperature
from train.metrics import expected_calibration_error

from . import CACHE
from .exp import AISHELL_ROWS, CORPUS, GENDER, LABEL, LS_FIT, LS_TEST_ROWS, SPEAKER, gather, idx

K = 7
LS_FIT_ROWS = idx(np.isin(SPEAKER, list(LS_FIT)))


def row_weights(rows: np.ndarray, mode: dict) -> np.ndarray:
    """Speaker sqrt, corpora equal, genders equal; read rows scaled by ``read_neutral``."""
    spk, gen, cor = SPEAKER[rows], GENDER[rows], CORPUS[rows]
    _, inv, counts = np.unique(spk, return_inverse=True, return_counts=True)
    w = counts[inv].astype(float) ** -0.5
    acted = cor != "librispeech"
    for c in np.unique(cor):
        m = cor == c
        w[m] /= w[m].sum()
    for g in ("male", "female"):
        m = (gen == g) & acted
        if m.any():
            w[m] /= w[m].sum()
    w[acted] /= w[acted].mean()
    read = ~acted
    if read.any():
        # read rows in total carry read_neutral x the weight of one corpus's neutral rows
        w[read] = w[read] / w[read].sum() * mode.get("read_neutral", 0.0) * acted.sum() / 3
    return w


class Head:
    """One absolute MLP head on standardised features (optionally speaker-centred)."""

    def __init__(self, rows: np.ndarray, mode: dict):
        channels = mode.get("channels", ("clean", "telephone"))
        if mode.get("read_neutral"):
            rows = np.union1d(rows, LS_FIT_ROWS)
        f, r, c, _ = gather(rows, channels)
        y = LABEL[r].copy()
        y[CORPUS[r] == "librispeech"] = 0
        keep = y >= 0
        f, r, c, y = f[keep], r[keep], c[keep], y[keep]
        self.mode = mode
        f = self.prep(f, r, c)
        self.mean, self.scale = f.mean(axis=0), f.std(axis=0) + 1e-6
        opts = replace(HeadOptions(members=1, gender_boosts=(1.0,)), **mode.get("head", {}))
        w = row_weights(r, mode)
        z = (f - self.mean) / self.scale
        self.layers = fit_dense(z, y, options=opts, weights=w)
        self.t = 1.0
        self.bias = 0.0
        self.p_min = 0.0

    def prep(self, f, r, c=None):
        how = self.mode.get("spknorm")
        if not how:
            return f
        out = f.copy()
        key = SPEAKER[r] if c is None else np.char.add(SPEAKER[r].astype(str), c.astype(str))
        for s in np.unique(key):
            m = key == s
            if m.sum() < 8:
                continue
            if how == "mean":
                out[m] = f[m] - f[m].mean(axis=0) + self.global_mean(f)
        return out

    def global_mean(self, f):
        return getattr(self, "mean", f.mean(axis=0))

    def logp(self, f, r):
        z = (self.prep(f, r) - self.mean) / self.scale
        lp = log_softmax(dense_forward(self.layers, z) / self.t)
        lp[:, 0] += self.bias
        return log_softmax(lp)


def windows(head: Head, rows: np.ndarray, channel: str = "clean"):
    f, r, _, _ = gather(rows, [channel])
    return softmax(head.logp(f, r).astype(np.float64)), r


def clips(p: np.ndarray, r: np.ndarray):
    """Window probabilities averaged per clip: (probs [n, 7], clip rows [n])."""
    u, inv = np.unique(r, return_inverse=True)
    out = np.zeros((len(u), K))
    np.add.at(out, inv, p)
    out /= np.bincount(inv)[:, None]
    return out, u


def neutral_bias(head: Head, target: float) -> float:
    """Smallest neutral log-offset making ``target`` of the LibriSpeech fit-half windows neutral."""
    saved = head.bias
    head.bias = 0.0
    p, _ = windows(head, LS_FIT_ROWS)
    head.bias = saved
    lp = np.log(p + 1e-12)
    need = np.max(np.delete(lp, 0, axis=1), axis=1) - lp[:, 0]  # offset that makes it neutral
    return float(max(0.0, np.quantile(need, target)))


def score(p: np.ndarray, r: np.ndarray, p_min: float) -> dict:
    y = LABEL[r]
    unc = p.max(axis=1) < p_min
    pred = np.where(unc, K, p.argmax(axis=1))
    right = pred == y
    out: dict[str, Any] = {
        "n": int(len(y)),
        "acc": round(float(right.mean()), 4),
        "coverage": round(float(1 - unc.mean()), 3),
        "ece": round(expected_calibration_error(p, y), 4),
        "gender": {
            g: round(float(right[GENDER[r] == g].mean()), 3)
            for g in ("male", "female")
            if (GENDER[r] == g).any()
        },
        "recall": {int(c): round(float(right[y == c].mean()), 2) for c in np.unique(y)},
        "pred": np.bincount(pred, minlength=K + 1).tolist(),
    }
    return out


def read_rate(head: Head, rows: np.ndarray, p_min: float, groups: bool = False) -> float:
    p, r = windows(head, rows)
    if groups:
        pass
    p, _ = clips(p, r)
    return round(float(np.mean((p.argmax(axis=1) == 0) | (p.max(axis=1) < p_min))), 3)


def calibrate(train_parts: list[np.ndarray], mode: dict) -> tuple[float, np.ndarray, np.ndarray]:
    """Cross-corpus temperature; returns (T, logits, labels) of those predictions."""
    logits, ys = [], []
    for k, part in enumerate(train_parts):
        other = np.concatenate([p for j, p in enumerate(train_parts) if j != k])
        h = Head(other, mode)
        f, r, _, _ = gather(part, list(mode.get("channels", ("clean", "telephone"))))
        keep = LABEL[r] >= 0
        z = (h.prep(f[keep], r[keep]) - h.mean) / h.scale
        logits.append(dense_forward(h.layers, z))
        ys.append(LABEL[r[keep]])
    lg, y = np.vstack(logits), np.concatenate(ys)
    return fit_temperature(lg, y), lg, y


def build(train_parts: list[np.ndarray], mode: dict) -> tuple[Head, dict]:
    t, lg, y = calibrate(train_parts, mode)
    head = Head(np.concatenate(train_parts), mode)
    head.t = t
    info: dict[str, Any] = {"T": round(t, 3)}
    if mode.get("target"):
        head.bias = neutral_bias(head, mode["target"])
    info["bias"] = round(head.bias, 3)
    # uncertain threshold from the cross-corpus predictions (with the bias applied)
    lp = log_softmax(lg / t)
    lp[:, 0] += head.bias
    pc = softmax(log_softmax(lp).astype(np.float64))
    rate = mode.get("unc_rate", 0.0)
    head.p_min = float(np.quantile(pc.max(axis=1), rate)) if rate else 0.0
    info["p_min"] = round(head.p_min, 3)
    info["xcorpus_acc"] = round(float(np.mean(pc.argmax(axis=1) == y)), 3)
    return head, info


def run(mode: dict) -> dict:
    ravdess, tess, emodb = (idx(CORPUS == c) for c in ("ravdess", "tess", "emodb"))
    splits = {"emodb": ([ravdess, tess], emodb), "ravdess": ([tess, emodb], ravdess)}
    out: dict[str, Any] = {"mode": {k: str(v) for k, v in mode.items()}}
    for name, (parts, test) in splits.items():
        t0 = time.time()
        head, info = build(parts, mode)
        p, r = windows(head, test)
        p, r = clips(p, r)
        keep = LABEL[r] >= 0
        res = {**info, **score(p[keep], r[keep], head.p_min)}
        res["read_en"] = read_rate(head, LS_TEST_ROWS, head.p_min)
        res["read_zh"] = read_rate(head, AISHELL_ROWS, head.p_min)
        res["secs"] = round(time.time() - t0)
        out[name] = res
        print(name, json.dumps(res), flush=True)
    return out


def heldout(mode: dict) -> dict:
    """The shipped split: train on every labelled clip but RAVDESS 17-20 and EmoDB 11; score
    them, and read speech. Calibration: cross-corpus over the three training corpora."""
    held = np.isin(SPEAKER, ["ravdess_17", "ravdess_18", "ravdess_19", "ravdess_20", "emodb_11"])
    parts = [idx((CORPUS == c) & ~held) for c in ("ravdess", "tess", "emodb")]
    head, info = build(parts, mode)
    out: dict[str, Any] = dict(info)
    for name, rows in (
        ("r17_20", idx(held & (CORPUS == "ravdess"))),
        ("e11", idx(held & (CORPUS == "emodb"))),
    ):
        for ch in ("clean", "telephone", "babble10", "mp3_16", "opus8", "amrnb"):
            p, r = windows(head, rows, ch)
            p, r = clips(p, r)
            keep = LABEL[r] >= 0
            out[f"{name}_{ch}"] = score(p[keep], r[keep], head.p_min)
    out["read_en"] = read_rate(head, LS_TEST_ROWS, head.p_min)
    out["read_zh"] = read_rate(head, AISHELL_ROWS, head.p_min)
    print("heldout", json.dumps(out), flush=True)
    return out


VARIANTS: dict[str, dict[str, Any]] = {
    "v2abs": {},
    "bias60": {"target": 0.6},
    "bias70": {"target": 0.7},
    "bias70u10": {"target": 0.7, "unc_rate": 0.1},
    "read05": {"read_neutral": 0.05},
    "read15": {"read_neutral": 0.15},
    "read05b70": {"read_neutral": 0.05, "target": 0.7},
    "spkmean": {"spknorm": "mean"},
    "lin": {"head": {"hidden": 0}},
    "wd": {"head": {"weight_decay": 0.1, "dropout": 0.5}},
}


def main() -> None:
    import torch

    torch.set_num_threads(1)
    args = sys.argv[1:]
    do_heldout = "--heldout" in args
    for name in [a for a in args if not a.startswith("--")]:
        mode = VARIANTS[name]
        res = run(mode) if not do_heldout else {"heldout": heldout(mode)}
        suffix = "_heldout" if do_heldout else ""
        (CACHE / "results" / f"v3_{name}{suffix}.json").write_text(json.dumps(res, indent=1))


class AnchoredHeads:
    """Absolute head + relative head on [standardised x, x minus the speaker's calm voice]
    (training: mean of the speaker's neutral windows; test: mean of the ``share`` of the
    group's windows the absolute head finds most neutral), mixed ``mix``/``1 - mix`` in
    log-probability space for groups of >= 8 windows, as ``SpeechEmotionModel`` does with
    ``relative_reference: neutral``."""

    def __init__(self, rows: np.ndarray, share: float, mix: float):
        self.absolute = Head(rows, {})
        self.share, self.mix = share, mix
        f, r, c, _ = gather(rows, ["clean", "telephone"])
        keep = LABEL[r] >= 0
        f, r, c = f[keep], r[keep], c[keep]
        key = np.char.add(SPEAKER[r].astype(str), c.astype(str))
        off = f.copy()
        for s in np.unique(key):
            m = key == s
            neu = m & (LABEL[r] == 0)
            off[m] = f[m] - (f[neu].mean(axis=0) if neu.any() else f[m].mean(axis=0))
        x = np.hstack([(f - self.absolute.mean) / self.absolute.scale, off])
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        opts = HeadOptions(members=1, gender_boosts=(1.0,))
        self.layers = fit_dense((x - self.mean) / self.scale, LABEL[r], options=opts,
                                weights=row_weights(r, {}))  # fmt: skip
        self.t_abs = self.t_rel = 1.0
        self.bias = 0.0

    def raw(self, f, r):
        """(absolute logits, relative logits or None per window [n, 7], grouped mask [n])."""
        la = dense_forward(self.absolute.layers, (f - self.absolute.mean) / self.absolute.scale)
        pn = log_softmax(la / self.t_abs)[:, 0]
        lr = np.zeros_like(la)
        grouped = np.zeros(len(f), bool)
        spk = SPEAKER[r]
        for s in np.unique(spk):
            m = np.flatnonzero(spk == s)
            if len(m) < 8:
                continue
            top = m[np.argsort(-pn[m])[: max(1, int(round(self.share * len(m))))]]
            xr = np.hstack([(f[m] - self.absolute.mean) / self.absolute.scale,
                            f[m] - f[top].mean(0)])  # fmt: skip
            lr[m] = dense_forward(self.layers, (xr - self.mean) / self.scale)
            grouped[m] = True
        return la, lr, grouped

    def logp(self, f, r):
        la, lr, g = self.raw(f, r)
        lp = log_softmax(la / self.t_abs)
        lp[g] = self.mix * log_softmax(lr[g] / self.t_rel) + (1 - self.mix) * lp[g]
        lp[:, 0] += self.bias
        return log_softmax(lp)


def neutral_ref_run(share: float = 0.25, mix: float = 1.0, target: float = 0.0) -> dict:
    """Leave-one-corpus-out screening of ``AnchoredHeads``; temperatures (one per head) from
    cross-corpus predictions inside the training corpora; with ``target`` > 0 a neutral bias
    fitted on the LibriSpeech fit-half windows (the read-speech figures use the other half)."""
    ravdess, tess, emodb = (idx(CORPUS == c) for c in ("ravdess", "tess", "emodb"))
    splits = {"emodb": ([ravdess, tess], emodb), "ravdess": ([tess, emodb], ravdess)}
    out: dict[str, Any] = {"share": share, "mix": mix, "target": target}
    for name, (parts, test) in splits.items():
        t0 = time.time()
        la_all, lr_all, y_all, yr_all = [], [], [], []
        for k, part in enumerate(parts):
            probe = AnchoredHeads(parts[1 - k], share, mix)
            f, r, _, _ = gather(part, ["clean", "telephone"])
            keep = LABEL[r] >= 0
            la, lr, g = probe.raw(f[keep], r[keep])
            la_all.append(la)
            y_all.append(LABEL[r[keep]])
            lr_all.append(lr[g])
            yr_all.append(LABEL[r[keep]][g])
        heads = AnchoredHeads(np.concatenate(parts), share, mix)
        heads.t_abs = fit_temperature(np.vstack(la_all), np.concatenate(y_all))
        heads.t_rel = fit_temperature(np.vstack(lr_all), np.concatenate(yr_all))
        if target:
            f, r, _, _ = gather(LS_FIT_ROWS, ["clean"])
            lp = heads.logp(f, r)
            need = np.max(lp[:, 1:], axis=1) - lp[:, 0]
            heads.bias = float(max(0.0, np.quantile(need, target)))

        def predict(rows, heads=heads):
            ft, rt, _, _ = gather(rows, ["clean"])
            return clips(softmax(heads.logp(ft, rt).astype(np.float64)), rt)

        p, rr = predict(test)
        k = LABEL[rr] >= 0
        res = {"t_abs": round(heads.t_abs, 3), "t_rel": round(heads.t_rel, 3),
               "bias": round(heads.bias, 3), **score(p[k], rr[k], 0.0)}  # fmt: skip
        for rname, rows in (("read_en", LS_TEST_ROWS), ("read_zh", AISHELL_ROWS)):
            pp, _ = predict(rows)
            res[rname] = round(float(np.mean(pp.argmax(axis=1) == 0)), 3)
        res["secs"] = round(time.time() - t0)
        out[name] = res
        print(name, json.dumps(res), flush=True)
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["nref"]:
        import torch

        torch.set_num_threads(1)
        a = sys.argv[2:5] + ["0"] * (5 - len(sys.argv))
        res = neutral_ref_run(float(a[0]), float(a[1]), float(a[2]))
        (CACHE / "results" / f"v3_nref_{'_'.join(a)}.json").write_text(json.dumps(res, indent=1))
    else:
        main()
