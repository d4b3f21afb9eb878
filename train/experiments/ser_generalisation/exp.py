"""Issue 15 research (not product code): LOCO and speaker-fold runs of full recipes.

    nice -n 10 python -m train.experiments.ser_generalisation.exp baseline
    nice -n 10 python -m train.experiments.ser_generalisation.exp variant NAME [--quick]

Features come from extract.py (/work/cache-ser/feats/<condition>/*.npz).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.audio.ser import SpeechEmotionModel, log_softmax
from analyzer.dsp import softmax
from analyzer.labels import CIRCUMPLEX, LABELS
from train.heads import (
    HeadOptions,
    fit_heads,
    fit_temperature,
    speaker_channel_ids,
)
from train.metrics import expected_calibration_error

from . import CACHE
from .extract import all_rows, librispeech_split

FEATS = CACHE / "feats"
K = len(LABELS)
UNCERTAIN = K  # index used for "uncertain" predictions


# ----------------------------------------------------------------------------- data


@dataclass
class Cond:
    features: np.ndarray
    speech_s: np.ndarray
    row: np.ndarray


_cache: dict[str, Cond] = {}


def cond(name: str) -> Cond:
    if name not in _cache:
        files = sorted((FEATS / name).glob("*.npz"))
        parts = [np.load(f) for f in files]
        _cache[name] = Cond(
            np.vstack([p["features"] for p in parts]).astype(np.float32),
            np.concatenate([p["speech_s"] for p in parts]).astype(np.float32),
            np.concatenate([p["row"] for p in parts]).astype(int),
        )
    return _cache[name]


ROWS = all_rows()
N = len(ROWS)
CORPUS = np.array([r["corpus"] for r in ROWS])
SPEAKER = np.array([r["speaker"] for r in ROWS])
GENDER = np.array([r["gender"] or "unknown" for r in ROWS])
LABEL = np.array([LABELS.index(r["label"]) if r["label"] in LABELS else -1 for r in ROWS])
ORIG = np.array([r["label_original"] for r in ROWS])
LS_FIT, LS_TEST = librispeech_split(ROWS)
# circumplex targets; EmoDB boredom (no categorical label) gets low arousal, mildly negative
VA = np.full((N, 2), np.nan)
for i, r in enumerate(ROWS):
    if r["label"] in CIRCUMPLEX:
        VA[i] = CIRCUMPLEX[r["label"]]
    elif ORIG[i] == "L" and CORPUS[i] == "emodb":
        VA[i] = (-0.3, -0.6)


def spk_num(s: str) -> int:
    return int(s.split("_")[1])


# ----------------------------------------------------------------------------- recipe


@dataclass
class Recipe:
    name: str = "current"
    channels: tuple[str, ...] = ("clean", "telephone")
    head: HeadOptions = field(default_factory=lambda: HeadOptions(members=1, gender_boosts=(1.0,)))
    corpus_balance: bool = False  # each corpus the same total weight
    read_neutral: float = 0.0  # weight of LibriSpeech fit-half read clips labelled neutral
    calibration: str = "speakers"  # "speakers" (20 % by hash) | "corpus" (cross-corpus) | "none"
    prior: dict | None = None  # inference prior: {"neutral": p} (rest shared), logit adjustment
    ood_quantile: float | None = None  # uncertain when OOD score above this train quantile
    p_min: float = 0.0  # uncertain when calibrated top probability below this
    va: bool = False  # learned arousal/valence (ridge on standardised features)


def weights_for(idx: np.ndarray, recipe: Recipe) -> np.ndarray:
    """Row weights: speaker sqrt, genders equal (and corpora equal with corpus_balance)."""
    spk, gen, cor = SPEAKER[idx], GENDER[idx], CORPUS[idx]
    _, inv, counts = np.unique(spk, return_inverse=True, return_counts=True)
    w = counts[inv].astype(float) ** -0.5
    if recipe.corpus_balance:
        for c in np.unique(cor):
            m = cor == c
            w[m] /= w[m].sum()
    for g in np.unique(gen):
        m = gen == g
        if g in ("male", "female"):
            w[m] *= 1.0 / w[m].sum()
    w = w / w.mean()
    if recipe.read_neutral:
        read = np.isin(spk, list(LS_FIT))
        w[read] = w[read] * recipe.read_neutral
    return w


# folder prefix of the feature kind read by ``gather``: "" (the CTranslate2 last layer) or "l1_"
# (version 5's numpy layer-1 features, ``extract --layer1``); ``v5`` sets it for the recipes of
# ``v3``/``v4`` that it reuses
FEATURE_PREFIX = ""


def gather(
    rows: np.ndarray, channels, prefix: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features, row, channel, speech_s) of every window of ``rows`` in ``channels``, from the
    feature folders ``prefix`` + channel (default prefix: ``FEATURE_PREFIX``)."""
    f, r, c, s = [], [], [], []
    sel = np.zeros(N, bool)
    sel[rows] = True
    for ch in channels:
        t = cond((FEATURE_PREFIX if prefix is None else prefix) + ch)
        m = sel[t.row]
        f.append(t.features[m])
        r.append(t.row[m])
        c.append(np.full(m.sum(), ch))
        s.append(t.speech_s[m])
    return np.vstack(f), np.concatenate(r), np.concatenate(c), np.concatenate(s)


class Fitted:
    """A fitted head set plus calibration, prior, OOD detector and VA regressor."""

    def __init__(self, model: SpeechEmotionModel, recipe: Recipe, train_feats: np.ndarray):
        self.model = model
        self.recipe = recipe
        self.log_prior = None
        if recipe.prior:
            p = np.full(K, (1 - recipe.prior["neutral"]) / (K - 1))
            p[0] = recipe.prior["neutral"]
            self.log_prior = np.log(p) - np.log(1 / K)
        self.ood = None
        self.va: Any = None
        if recipe.ood_quantile is not None:
            self.ood = OOD(train_feats, model)

    def scores(self, feats, groups=None):
        logp, _ = self.model.logits(feats, groups=groups)
        if self.log_prior is not None:
            logp = log_softmax(logp + self.log_prior)
        return softmax(logp.astype(np.float64))


class OOD:
    """Mahalanobis distance in a PCA space of the standardised training features."""

    def __init__(self, feats: np.ndarray, model: SpeechEmotionModel, dims: int = 64):
        z = (feats - model.mean) / model.scale
        self.mu = z.mean(axis=0)
        u, s, vt = np.linalg.svd(z - self.mu, full_matrices=False)
        self.v = vt[:dims].T
        self.var = (s[:dims] ** 2) / (len(z) - 1)
        self.model = model
        self.threshold: float = float("inf")

    def score(self, feats: np.ndarray) -> np.ndarray:
        z = (feats - self.model.mean) / self.model.scale
        p = (z - self.mu) @ self.v
        return np.sqrt(np.mean(p**2 / self.var, axis=1))


def fit(train_rows: np.ndarray, recipe: Recipe) -> Fitted:
    """Fit heads on ``train_rows`` (clip indices) in the recipe's channels."""
    rows = train_rows
    if recipe.read_neutral:
        rows = np.union1d(rows, np.flatnonzero(np.isin(SPEAKER, list(LS_FIT))))
    feats, row, chan, _ = gather(rows, recipe.channels)
    y = LABEL[row].copy()
    read = CORPUS[row] == "librispeech"
    y[read] = 0
    keep = y >= 0
    feats, row, chan, y = feats[keep], row[keep], chan[keep], y[keep]
    w = weights_for(row, recipe)
    ctx = speaker_channel_ids(SPEAKER[row], chan)
    arrays = fit_heads(feats, y, ctx, options=recipe.head, weights=w)
    config = {
        "min_group_windows": recipe.head.min_group_windows,
        "relative_weight": recipe.head.relative_weight,
    }
    model = SpeechEmotionModel("exp", arrays, config, encoder=None)
    fitted = Fitted(model, recipe, feats)
    if recipe.va:
        vf, vr, _, _ = gather(rows, recipe.channels)
        ok = ~np.isnan(VA[vr, 0]) & (CORPUS[vr] != "librispeech")
        fitted.va = fit_va(vf[ok], VA[vr[ok]], weights_for(vr[ok], recipe), model)
    return fitted


def fit_va(feats, targets, w, model, alpha: float = 300.0):
    """Weighted ridge from standardised features to (valence, arousal): (W [768, 2], b [2])."""
    z = (feats - model.mean) / model.scale
    zm = np.average(z, axis=0, weights=w)
    tm = np.average(targets, axis=0, weights=w)
    zc, tc = z - zm, targets - tm
    a = (zc * w[:, None]).T @ zc + alpha * np.eye(z.shape[1]) * w.mean()
    coef = np.linalg.solve(a, (zc * w[:, None]).T @ tc)
    return coef, tm - zm @ coef


def temperature_from(train_rows: np.ndarray, recipe: Recipe, split: str) -> tuple[float, float]:
    """(T_abs, T_rel) fitted on held-out predictions inside ``train_rows``.

    split "speakers": 20 % of speakers (by name hash) held out; "corpus": each training corpus
    in turn is predicted by a model fitted on the other(s) (needs >= 2 corpora).
    """
    import hashlib

    abs_l, rel_l, ys = [], [], []
    rel_ys = []
    if split == "corpus" and len(np.unique(CORPUS[train_rows])) >= 2:
        parts = [train_rows[CORPUS[train_rows] == c] for c in np.unique(CORPUS[train_rows])]
        parts = [p for p in parts if CORPUS[p[0]] != "librispeech"]
    else:
        spk = sorted(set(SPEAKER[train_rows]), key=lambda s: hashlib.sha1(s.encode()).hexdigest())
        held = set(spk[: max(1, round(0.2 * len(spk)))])
        parts = [train_rows[np.isin(SPEAKER[train_rows], list(held))]]
    for held_rows in parts:
        rest = np.setdiff1d(train_rows, held_rows)
        f = fit(rest, replace(recipe, ood_quantile=None, prior=None))
        feats, row, chan, _ = gather(
            held_rows, ["clean"] + (["telephone"] if "telephone" in recipe.channels else [])
        )
        keep = LABEL[row] >= 0
        feats, row, chan = feats[keep], row[keep], chan[keep]
        f.model.relative_weight = 1.0
        a, _ = f.model.logits(feats)
        r, used = f.model.logits(feats, groups=list(speaker_channel_ids(SPEAKER[row], chan)))
        abs_l.append(a)
        ys.append(LABEL[row])
        rel_l.append(r[used])
        rel_ys.append(LABEL[row][used])
    t_abs = fit_temperature(np.vstack(abs_l), np.concatenate(ys))
    t_rel = (
        fit_temperature(np.vstack(rel_l), np.concatenate(rel_ys)) if sum(map(len, rel_ys)) else 1.0
    )
    return t_abs, t_rel


def build(train_rows: np.ndarray, recipe: Recipe) -> Fitted:
    """Full recipe: calibration temperatures from held-out parts of the training rows, then the
    heads on everything, then OOD/uncertain thresholds from held-out predictions."""
    f = fit(train_rows, recipe)
    if recipe.calibration != "none":
        t_abs, t_rel = temperature_from(train_rows, recipe, recipe.calibration)
        f.model.temperature_abs, f.model.temperature_rel = t_abs, t_rel
    if f.ood is not None:
        cf, cr, _, _ = gather(train_rows, ["clean"])
        f.ood.threshold = float(np.quantile(f.ood.score(cf), recipe.ood_quantile or 0.99))
    return f


# ----------------------------------------------------------------------------- evaluation


def predict_windows(f, rows: np.ndarray, channel: str, groups: bool):
    """Per-window probabilities, uncertain flags and clip rows."""
    feats, row, chan, speech = gather(rows, [channel])
    g = list(SPEAKER[row]) if groups else None
    if isinstance(f, SpeechEmotionModel):
        probs = f.probabilities(feats, groups=g)
        return probs, np.zeros(len(row), bool), row
    probs = f.scores(feats, groups=g)
    ood = f.ood.score(feats) > f.ood.threshold if f.ood is not None else np.zeros(len(row), bool)
    return probs, ood | (probs.max(axis=1) < f.recipe.p_min), row


def predict_clips(f: Fitted | SpeechEmotionModel, rows: np.ndarray, channel: str, groups: bool):
    """Per-clip probabilities [n, 7] (window average), uncertain flags [n], for ``rows``."""
    feats, row, chan, speech = gather(rows, [channel])
    g = list(SPEAKER[row]) if groups else None
    if isinstance(f, SpeechEmotionModel):
        probs = f.probabilities(feats, groups=g)
        ood = np.zeros(len(row), bool)
        p_min = 0.0
    else:
        probs = f.scores(feats, groups=g)
        ood = (
            f.ood.score(feats) > f.ood.threshold if f.ood is not None else np.zeros(len(row), bool)
        )
        p_min = f.recipe.p_min
    index = {r: k for k, r in enumerate(rows)}
    at = np.array([index[r] for r in row], dtype=int)
    out = np.zeros((len(rows), K))
    np.add.at(out, at, probs)
    n_w = np.bincount(at, minlength=len(rows))
    out /= np.maximum(n_w, 1)[:, None]
    ood_share = np.zeros(len(rows))
    np.add.at(ood_share, at, ood.astype(float))
    ood_share /= np.maximum(n_w, 1)
    uncertain = (out.max(axis=1) < p_min) | (ood_share > 0.5)
    return out, uncertain, n_w > 0


def report(probs, uncertain, truth, rows) -> dict:
    ok = truth >= 0
    probs, uncertain, truth, rows = probs[ok], uncertain[ok], truth[ok], rows[ok]
    pred = np.where(uncertain, UNCERTAIN, probs.argmax(axis=1))
    right = pred == truth
    out: dict[str, Any] = {
        "n": int(len(truth)),
        "accuracy": round(float(right.mean()), 4),
        "accuracy_covered": round(float(right[~uncertain].mean()), 4)
        if (~uncertain).any()
        else None,
        "coverage": round(float(1 - uncertain.mean()), 4),
        "ece": round(expected_calibration_error(probs, truth), 4),
    }
    classes = sorted(set(truth))
    f1 = []
    for c in classes:
        tp = np.sum((pred == c) & (truth == c))
        prec = tp / max(np.sum(pred == c), 1)
        rec = tp / max(np.sum(truth == c), 1)
        f1.append(0 if tp == 0 else 2 * prec * rec / (prec + rec))
    out["macro_f1"] = round(float(np.mean(f1)), 4)
    out["per_class"] = {LABELS[c]: round(float(right[truth == c].mean()), 3) for c in classes}
    out["per_gender"] = {
        g: round(float(right[GENDER[rows] == g].mean()), 4)
        for g in sorted(set(GENDER[rows]))
        if g in ("male", "female")
    }
    # share of each predicted label on the test corpus (what does it say for absent classes)
    out["predicted"] = {
        (LABELS[c] if c < K else "uncertain"): int(np.sum(pred == c)) for c in range(K + 1)
    }
    return out


def neutral_rate(f, rows: np.ndarray, groups: bool) -> dict:
    probs, unc, has = predict_clips(f, rows, "clean", groups)
    probs, unc = probs[has], unc[has]
    pred = np.where(unc, UNCERTAIN, probs.argmax(axis=1))
    wp, wu, _ = predict_windows(f, rows, "clean", groups)
    wpred = np.where(wu, UNCERTAIN, wp.argmax(axis=1))
    return {
        "windows": int(len(wpred)),
        "windows_neutral_or_uncertain": round(
            float(np.mean((wpred == 0) | (wpred == UNCERTAIN))), 4
        ),
        "n": int(len(pred)),
        "neutral_or_uncertain": round(float(np.mean((pred == 0) | (pred == UNCERTAIN))), 4),
        "neutral": round(float(np.mean(pred == 0)), 4),
        "predicted": {
            (LABELS[c] if c < K else "uncertain"): int(np.sum(pred == c)) for c in range(K + 1)
        },
    }


def va_report(f: Fitted, rows: np.ndarray) -> dict:
    """CCC of learned and of derived (from probabilities) valence/arousal, per clip, clean."""
    from analyzer.labels import derive_valence_arousal

    feats, row, _, _ = gather(rows, ["clean"])
    probs = f.scores(feats, groups=list(SPEAKER[row]))
    dv, da = derive_valence_arousal(probs)
    coef, b = f.va
    learned = ((feats - f.model.mean) / f.model.scale) @ coef + b
    ok = ~np.isnan(VA[row, 0])
    t = VA[row[ok]]
    return {
        "n_windows": int(ok.sum()),
        "ccc_valence_learned": round(ccc(learned[ok, 0], t[:, 0]), 3),
        "ccc_arousal_learned": round(ccc(learned[ok, 1], t[:, 1]), 3),
        "ccc_valence_derived": round(ccc(dv[ok], t[:, 0]), 3),
        "ccc_arousal_derived": round(ccc(da[ok], t[:, 1]), 3),
    }


def ccc(a: np.ndarray, b: np.ndarray) -> float:
    ma, mb = a.mean(), b.mean()
    cov = np.mean((a - ma) * (b - mb))
    return float(2 * cov / (a.var() + b.var() + (ma - mb) ** 2 + 1e-12))


def idx(mask) -> np.ndarray:
    return np.flatnonzero(mask)


LS_TEST_ROWS = idx(np.isin(SPEAKER, list(LS_TEST)))
AISHELL_ROWS = idx(CORPUS == "aishell")


def evaluate(recipe: Recipe, *, quick: bool = False, conditions=("clean",)) -> dict:
    """LOCO (EmoDB, RAVDESS, TESS held out) + RAVDESS 5 folds + EmoDB speaker folds."""
    results: dict = {"recipe": recipe.name}
    ravdess, tess, emodb = (idx(CORPUS == c) for c in ("ravdess", "tess", "emodb"))
    loco = {
        "emodb": (np.concatenate([ravdess, tess]), emodb),
        "ravdess": (np.concatenate([tess, emodb]), ravdess),
    }
    if not quick:
        loco["tess"] = (np.concatenate([ravdess, emodb]), tess)
    for name, (train, test) in loco.items():
        t0 = time.time()
        f = build(train, recipe)
        res: dict[str, Any] = {}
        for groups in (True, False):
            for ch in conditions:
                if name != "emodb" and ch not in ("clean", "telephone", "degraded"):
                    continue
                probs, unc, has = predict_clips(f, test, ch, groups)
                res[f"{ch}{'' if groups else '_nogroups'}"] = report(
                    probs[has], unc[has], LABEL[test][has], test[has]
                )
        if recipe.va:
            res["va"] = va_report(f, test)
        if name == "emodb":
            res["read_en_test"] = neutral_rate(f, LS_TEST_ROWS, False)
            res["read_zh"] = neutral_rate(f, AISHELL_ROWS, True)
            res["read_zh_nogroups"] = neutral_rate(f, AISHELL_ROWS, False)
        res["secs"] = round(time.time() - t0)
        results[f"loco_{name}"] = res
        print(
            name,
            json.dumps(
                {
                    k: (v["accuracy"], v["ece"], v["coverage"])
                    if isinstance(v, dict) and "accuracy" in v
                    else v
                    for k, v in res.items()
                }
            ),
            flush=True,
        )
    # speaker folds
    folds = [[f"ravdess_{a:02d}" for a in range(s, s + 4)] for s in (1, 5, 9, 13, 17)]
    folds += [[f"emodb_{s}"] for s in ("03", "08", "09", "10", "11")]
    if quick:
        folds = [folds[4], folds[9]]
    labelled = idx(np.isin(CORPUS, ["ravdess", "tess", "emodb"]))
    pooled: dict = {}
    for fold in folds:
        test = idx(np.isin(SPEAKER, fold))
        train = np.setdiff1d(labelled, test)
        f = build(train, recipe)
        for groups in (True, False):
            for ch in conditions:
                probs, unc, has = predict_clips(f, test, ch, groups)
                key = f"{CORPUS[test[0]]}_{ch}{'' if groups else '_nogroups'}"
                pooled.setdefault(key, []).append((probs[has], unc[has], test[has]))
        if fold == ["emodb_11"] or fold[0] == "ravdess_17":
            pass
    for key, parts in pooled.items():
        p = np.vstack([a for a, _, _ in parts])
        u = np.concatenate([b for _, b, _ in parts])
        r = np.concatenate([c for _, _, c in parts])
        results[f"spk_{key}"] = report(p, u, LABEL[r], r)
        print(
            key,
            results[f"spk_{key}"]["accuracy"],
            results[f"spk_{key}"]["per_gender"],
            results[f"spk_{key}"]["ece"],
            results[f"spk_{key}"]["coverage"],
            flush=True,
        )
    return results


def baseline() -> dict:
    """The shipped model: EmoDB (never seen), read speech; RAVDESS is all training data."""
    from analyzer.models import load_model

    ser = load_model("ser-whisper-tiny-head", "ser")
    assert isinstance(ser, SpeechEmotionModel)
    out = {}
    emodb = idx(CORPUS == "emodb")
    for groups in (True, False):
        for ch in ("clean", "telephone", "babble10", "mp3_16", "opus8", "amrnb"):
            try:
                probs, unc, has = predict_clips(ser, emodb, ch, groups)
            except ValueError:
                continue
            if not has.any():
                continue
            out[f"emodb_{ch}{'' if groups else '_nogroups'}"] = report(
                probs[has], unc[has], LABEL[emodb][has], emodb[has]
            )
    out["read_en_all"] = neutral_rate(ser, idx(CORPUS == "librispeech"), False)
    out["read_en_test"] = neutral_rate(ser, LS_TEST_ROWS, False)
    out["read_zh"] = neutral_rate(ser, AISHELL_ROWS, True)
    out["read_zh_nogroups"] = neutral_rate(ser, AISHELL_ROWS, False)
    return out


RECIPES = {
    "current": Recipe(),
    "cb": Recipe("cb", corpus_balance=True),
    "clean_cb": Recipe("clean_cb", channels=("clean",), corpus_balance=True, va=True),
    "cb_cc": Recipe("cb_cc", corpus_balance=True, calibration="corpus"),
    "cb_cc_deg": Recipe(
        "cb_cc_deg",
        channels=("clean", "telephone", "degraded"),
        corpus_balance=True,
        calibration="corpus",
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--conditions", default="clean")
    ap.add_argument("--out", default=str(CACHE / "results"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.what == "baseline":
        res = baseline()
    else:
        res = evaluate(
            RECIPES[args.what], quick=args.quick, conditions=tuple(args.conditions.split(","))
        )
    name = args.what + ("_quick" if args.quick else "")
    (Path(args.out) / f"{name}.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res))
    sys.exit(0)


if __name__ == "__main__":
    main()
