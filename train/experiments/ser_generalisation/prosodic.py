"""Issue 15 research (not product code): prosodic features against Whisper encoder layers.

    export OMP_NUM_THREADS=1; P="nice -n 10 python -m train.experiments.ser_generalisation.prosodic"
    $P extract; $P extract telephone; $P extract telephone_tess
    $P compare --telephone L1 L4 C4 P Pz Pc Pzs Pzr Pz_ct Pzr_ct L1+P L1+Pz L4+P L4+Pz \\
        L1z L1z+Pz L1zr L1zr+Pzr Pzr50 L1zr50+Pzr50 Pzr6 L1zr6+Pzr6
    $P compare L1@s1 L1@s2 ...   (the same set with head seed 1, 2)
    $P table

``extract``: eGeMAPS-like statistics (``prosodic_features.clip_features``) of every window that
``train.ser.clip_windows`` cuts from every clip (manifest and read speech), clean audio, into
$SER_CACHE/feats/prosodic/all_<chunk>.npz (features, speech_s, row as extract.py writes), 64
clips a chunk so an interrupted run resumes; the window order is the per-layer cache's, so the
two concatenate row by row. ``telephone`` / ``telephone_tess``: the same through
``augment.telephone_channel`` (RAVDESS, EmoDB and read speech / TESS) into prosodic_telephone.

``compare``: the layer screening recipe of ``v4 layers`` (one absolute head per split, no
prior, temperature from cross-corpus predictions inside the two training corpora, window
probabilities averaged per clip) on each feature set of ``SETS``, leave-one-corpus-out (EmoDB
held out: trained on RAVDESS + TESS; RAVDESS held out: trained on TESS + EmoDB), with the share
of read English (LibriSpeech evaluation half) and Mandarin (AISHELL-1) clips read neutral.
Speaker normalisation: none (standardised over the training rows), z-scored per speaker over
all their windows (labels unseen; the acted corpora give every speaker a balanced label mix),
or z-scored against a mostly neutral reference (``neutral_reference``: 70 % neutral clips,
assembled with the labels, to stand in for a real call's baseline). ``--telephone`` also
scores the held-out corpus through the telephone channel (heads trained on clean). Every set
run is reported; nothing is chosen on any figure.
Results: $SER_CACHE/results/serx_compare.json (+ serx_probs_*.pkl, clip probabilities) and
serx_table_generated.md (the tables; serx_table.md adds the reading).
"""

from __future__ import annotations

import functools
import itertools
import json
import pickle
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import CACHE

FOLDER = CACHE / "feats" / "prosodic"
CHUNK = 64


def extract(condition: str = "clean", limit: int | None = None) -> None:
    """Cache the windows' features of every clip (``clean``) or, under ``telephone``, of the
    clips that are scored: all of RAVDESS and EmoDB and the read speech."""
    from train import augment
    from train.data import SHARED_DATA
    from train.ser import clip_windows, load_audio

    from .extract import all_rows
    from .prosodic_features import clip_features

    rows = all_rows()
    prefix = "all"
    if condition == "clean":
        folder, todo = FOLDER, list(range(len(rows)))
    elif condition == "telephone":  # the scored clips (chunks all_*)
        folder = FOLDER.with_name("prosodic_telephone")
        todo = [i for i, r in enumerate(rows) if r["corpus"] != "tess"]
    elif condition == "telephone_tess":  # TESS too, for training through the telephone
        folder, prefix = FOLDER.with_name("prosodic_telephone"), "tess"
        todo = [i for i, r in enumerate(rows) if r["corpus"] == "tess"]
    else:
        raise SystemExit(f"unknown condition: {condition}")
    todo = todo[:limit]
    folder.mkdir(parents=True, exist_ok=True)
    t0, done = time.time(), 0
    for c0 in range(0, len(todo), CHUNK):
        target = folder / f"{prefix}_{c0:05d}.npz"
        if target.exists():
            continue
        feats, speech, owner = [], [], []
        for i in todo[c0 : c0 + CHUNK]:
            wave = load_audio(SHARED_DATA / rows[i]["path"])
            if condition.startswith("telephone"):
                wave = augment.telephone_channel(wave)
            for w in clip_windows(wave):
                f, s = clip_features(w)
                feats.append(f)
                speech.append(s)
                owner.append(i)
        tmp = target.with_suffix(".tmp.npz")
        np.savez(tmp, features=np.vstack(feats), speech_s=np.asarray(speech, np.float32),
                 row=np.asarray(owner))  # fmt: skip
        tmp.rename(target)
        done += len(todo[c0 : c0 + CHUNK])
        load = open("/proc/loadavg").read().split()[0]
        rate = (time.time() - t0) / done * 1000
        print(f"prosodic {condition} {c0 + CHUNK}/{len(todo)} {rate:.0f} ms/clip (load {load})",
              flush=True)  # fmt: skip


# ----------------------------------------------------------------------------- comparison

Features = tuple[np.ndarray, np.ndarray, np.ndarray]  # (x [n, d], row [n], prosodic column [d])


NEUTRAL_SHARE = 0.7  # share of neutral clips in the "mostly neutral" speaker reference


@functools.cache
def neutral_reference(share: float = NEUTRAL_SHARE, neutral_max: int = 0) -> np.ndarray:
    """Clips [N] bool forming each speaker's *mostly neutral* reference, as a real call would
    give (the acted corpora give every speaker a balanced label mix): their neutral clips (the
    first ``neutral_max`` in name-hash order if that is set) plus other clips (round robin over
    the original labels, in name-hash order) up to a neutral share of ``share``; the clips of a
    read-speech speaker (all neutral) likewise."""
    import hashlib

    from .exp import CORPUS, LABEL, ORIG, ROWS, SPEAKER

    def by_hash(rows):
        return sorted(rows, key=lambda i: hashlib.sha1(ROWS[i]["path"].encode()).hexdigest())

    ref = np.zeros(len(ROWS), bool)
    for s in np.unique(SPEAKER):
        rows = np.flatnonzero(SPEAKER == s)
        read = CORPUS[rows[0]] in ("librispeech", "aishell")
        neutral = by_hash(rows if read else rows[LABEL[rows] == 0])
        neutral = neutral[:neutral_max] if neutral_max else neutral
        ref[neutral] = True
        if read:
            continue
        other = LABEL[rows] != 0
        groups = [by_hash(rows[other & (ORIG[rows] == o)]) for o in sorted(set(ORIG[rows][other]))]
        order = [
            g[k] for k in range(max(map(len, groups), default=0)) for g in groups if k < len(g)
        ]
        ref[order[: round(len(neutral) * (1 - share) / share)]] = True
    return ref


REFERENCES = {  # per-speaker reference variants: (neutral share, most neutral clips kept)
    "zref": (NEUTRAL_SHARE, 0),
    "zref50": (0.5, 0),
    "zref6": (NEUTRAL_SHARE, 4),  # 4 neutral + 2 other clips: about 20 s of speech
}


def per_speaker(
    x: np.ndarray, row: np.ndarray, scale: bool = True, reference: np.ndarray | None = None
) -> np.ndarray:
    """``x`` [M, D] minus each speaker's mean over all their windows (labels unseen), divided
    by their standard deviation when ``scale``; NaN where a speaker's value does not vary.
    reference: clips [N] bool; if given, the mean and deviation come from those clips only."""
    from .exp import SPEAKER

    z = np.full_like(x, np.nan, dtype=np.float64)
    spk = SPEAKER[row]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of a speaker
        for s in np.unique(spk):
            m = spk == s
            r = m & reference[row] if reference is not None else m
            mu, sd = np.nanmean(x[r], axis=0), np.nanstd(x[r], axis=0)
            z[m] = (x[m] - mu) / (np.where(sd > 1e-9, sd, np.nan) if scale else 1.0)
    return z


@functools.cache
def _prosodic_all(folder: str = "prosodic") -> dict[str, np.ndarray]:
    """Every cached prosodic window: raw, per-speaker z-scored, speaker-centred, and its row."""
    from .exp import cond

    c = cond(folder)
    x = c.features.astype(np.float64)
    return {
        "raw": x,
        "z": per_speaker(x, c.row),
        "centred": per_speaker(x, c.row, scale=False),
        **{
            n: per_speaker(x, c.row, reference=neutral_reference(*v)) for n, v in REFERENCES.items()
        },
        "row": c.row,
    }


def prosodic(
    rows: np.ndarray, norm: str, folder: str = "prosodic", spectral: bool = True
) -> Features:
    """Prosodic windows of ``rows``; without ``spectral``, only pitch, loudness, timing and
    voice quality (no spectral balance, centroid, flux or MFCC)."""
    from .prosodic_features import NAMES

    a = _prosodic_all(folder)
    m = np.isin(a["row"], rows)
    cols = [k for k, n in enumerate(NAMES) if spectral or not n.startswith(("v_", "uv_"))]
    f = a[norm][m][:, cols]
    return f, a["row"][m], np.ones(f.shape[1], bool)


@functools.cache
def _layer_z(k: int, ref: str = "") -> tuple[np.ndarray, np.ndarray]:
    from .exp import cond

    c = cond("L_clean")
    x = c.features[:, 768 * k : 768 * (k + 1)].astype(np.float64)
    z = per_speaker(x, c.row, reference=neutral_reference(*REFERENCES[ref]) if ref else None)
    return np.nan_to_num(z).astype(np.float32), c.row


def ct2(rows: np.ndarray, channel: str) -> Features:
    """The engine's own features (CTranslate2 int8 encoder, last layer) of ``channel``."""
    from .exp import gather

    f, r, _, _ = gather(rows, [channel])
    return f, r, np.zeros(f.shape[1], bool)


def layer_z(rows: np.ndarray, k: int, ref: str = "") -> Features:
    x, row = _layer_z(k, ref)
    m = np.isin(row, rows)
    return x[m], row[m], np.zeros(768, bool)


def layer(rows: np.ndarray, k: int) -> Features:
    from .exp import gather

    f, r, _, _ = gather(rows, ["L_clean"])
    return f[:, 768 * k : 768 * (k + 1)], r, np.zeros(768, bool)


def joined(*parts: Callable[[np.ndarray], Features]) -> Callable[[np.ndarray], Features]:
    def get(rows: np.ndarray) -> Features:
        got = [p(rows) for p in parts]
        for g in got[1:]:
            if not np.array_equal(g[1], got[0][1]):
                raise SystemExit("window rows of the caches differ: re-extract")
        return (np.hstack([g[0] for g in got]), got[0][1], np.concatenate([g[2] for g in got]))

    return get


SETS: dict[str, tuple[str, Callable[[np.ndarray], Features]]] = {
    "L1": ("Whisper layer 1", lambda r: layer(r, 1)),
    "L4": ("Whisper last layer (4, what the engine uses)", lambda r: layer(r, 4)),
    "P": ("prosodic, standardised over the training rows", lambda r: prosodic(r, "raw")),
    "Pz": ("prosodic, z-scored per speaker", lambda r: prosodic(r, "z")),
    "Pc": ("prosodic, centred per speaker (not scaled)", lambda r: prosodic(r, "centred")),
    "Pzs": (
        "prosodic per speaker, pitch, loudness, timing and voice quality only (no spectral)",
        lambda r: prosodic(r, "z", spectral=False),
    ),
    "C4": (
        "Whisper last layer, CTranslate2 int8 (the engine's features)",
        lambda r: ct2(r, "clean"),
    ),
    "L1z": ("Whisper layer 1, z-scored per speaker", lambda r: layer_z(r, 1)),
    "L1z+Pz": (
        "layer 1 + prosodic, both z-scored per speaker",
        joined(lambda r: layer_z(r, 1), lambda r: prosodic(r, "z")),
    ),
    "Pzr": (
        "prosodic z-scored per speaker against a mostly neutral reference",
        lambda r: prosodic(r, "zref"),
    ),
    "L1zr": (
        "Whisper layer 1 z-scored per speaker against a mostly neutral reference",
        lambda r: layer_z(r, 1, ref="zref"),
    ),
    "L1zr+Pzr": (
        "layer 1 + prosodic, both z-scored against a mostly neutral reference",
        joined(lambda r: layer_z(r, 1, ref="zref"), lambda r: prosodic(r, "zref")),
    ),
    "Pzr50": (
        "prosodic z-scored against a reference of 50 % neutral clips",
        lambda r: prosodic(r, "zref50"),
    ),
    "L1zr50+Pzr50": (
        "layer 1 + prosodic, both z-scored against a reference of 50 % neutral clips",
        joined(lambda r: layer_z(r, 1, ref="zref50"), lambda r: prosodic(r, "zref50")),
    ),
    "Pzr6": (
        "prosodic z-scored against a reference of 6 clips (4 neutral)",
        lambda r: prosodic(r, "zref6"),
    ),
    "L1zr6+Pzr6": (
        "layer 1 + prosodic, both z-scored against a reference of 6 clips (4 neutral)",
        joined(lambda r: layer_z(r, 1, ref="zref6"), lambda r: prosodic(r, "zref6")),
    ),
    "L1+P": ("layer 1 + prosodic", joined(lambda r: layer(r, 1), lambda r: prosodic(r, "raw"))),
    "L1+Pz": (
        "layer 1 + prosodic per speaker",
        joined(lambda r: layer(r, 1), lambda r: prosodic(r, "z")),
    ),
    "L4+P": ("last layer + prosodic", joined(lambda r: layer(r, 4), lambda r: prosodic(r, "raw"))),
    "L4+Pz": (
        "last layer + prosodic per speaker",
        joined(lambda r: layer(r, 4), lambda r: prosodic(r, "z")),
    ),
}


def stacked(*parts: Callable[[np.ndarray], Features]) -> Callable[[np.ndarray], Features]:
    """The windows of every getter one under the other (e.g. clean and telephone rows)."""

    def get(rows: np.ndarray) -> Features:
        got = [p(rows) for p in parts]
        return np.vstack([g[0] for g in got]), np.concatenate([g[1] for g in got]), got[0][2]

    return get


# heads of these sets are trained on clean + telephone windows (scored like the others)
TRAIN_BOTH: dict[str, tuple[str, str]] = {"Pz_ct": ("Pz", "z"), "Pzr_ct": ("Pzr", "zref")}
for _key, (_base, _norm) in TRAIN_BOTH.items():
    SETS[_key] = (SETS[_base][0] + ", trained on clean + telephone", SETS[_base][1])

# the same features under the telephone channel (test clips only; heads are trained on clean)
TELEPHONE: dict[str, Callable[[np.ndarray], Features]] = {
    "P": lambda r: prosodic(r, "raw", "prosodic_telephone"),
    "Pz": lambda r: prosodic(r, "z", "prosodic_telephone"),
    "Pc": lambda r: prosodic(r, "centred", "prosodic_telephone"),
    "Pzs": lambda r: prosodic(r, "z", "prosodic_telephone", spectral=False),
    "C4": lambda r: ct2(r, "telephone"),
    "Pzr": lambda r: prosodic(r, "zref", "prosodic_telephone"),
    "Pz_ct": lambda r: prosodic(r, "z", "prosodic_telephone"),
    "Pzr_ct": lambda r: prosodic(r, "zref", "prosodic_telephone"),
}
PROSODIC_CLIP = 5.0  # standardised prosodic values are clipped to +-this (jitter outliers)


def run(
    get: Callable[[np.ndarray], Features],
    tel: Callable[[np.ndarray], Features] | None = None,
    seed: int = 0,
    train_get: Callable[[np.ndarray], Features] | None = None,
) -> tuple[dict, dict]:
    """The ``v4 layers`` recipe on one feature set: (scores per split, clip probabilities);
    with ``tel``, the held-out corpus is also scored through the telephone channel."""
    from analyzer.audio.ser import dense_forward, log_softmax
    from analyzer.dsp import softmax
    from train.heads import HeadOptions, fit_dense, fit_temperature

    from .exp import AISHELL_ROWS, CORPUS, LABEL, LS_TEST_ROWS, idx
    from .v3 import clips, row_weights, score

    ravdess, tess, emodb = (idx(CORPUS == c) for c in ("ravdess", "tess", "emodb"))
    splits = {"emodb": ([ravdess, tess], emodb), "ravdess": ([tess, emodb], ravdess)}
    opts = HeadOptions(members=1, gender_boosts=(1.0,), seed=seed)

    def standardise(model, f, pcol):
        mean, scale = model[:2]
        z = (f - mean) / scale
        z[:, pcol] = np.clip(np.nan_to_num(z[:, pcol]), -PROSODIC_CLIP, PROSODIC_CLIP)
        return z.astype(np.float32)

    def fit(rows):
        f, r, pcol = (train_get or get)(rows)
        keep = LABEL[r] >= 0
        f, r = f[keep], r[keep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, scale = np.nanmean(f, axis=0), np.nanstd(f, axis=0) + 1e-6
        mean, scale = np.nan_to_num(mean), np.nan_to_num(scale, nan=1.0)
        z = standardise((mean, scale), f, pcol)
        head = fit_dense(z, LABEL[r], options=opts, weights=row_weights(r, {}))
        return mean, scale, head

    def logits(model, rows, get=get):
        f, r, pcol = get(rows)
        return dense_forward(model[2], standardise(model, f, pcol)), r

    out: dict[str, Any] = {}
    probs_out: dict[str, Any] = {}
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

        def probs(lgt, t=t):
            return softmax(log_softmax(lgt / t).astype(np.float64))

        lt, rt = logits(model, test)
        p, r = clips(probs(lt), rt)
        keep = LABEL[r] >= 0
        res = {"T": round(t, 3), **score(p[keep], r[keep], 0.0)}
        probs_out[name] = {"test": (p[keep], r[keep])}
        if tel is not None:
            ltl, rtl = logits(model, test, tel)
            pt, rtl = clips(probs(ltl), rtl)
            kt = LABEL[rtl] >= 0
            full = score(pt[kt], rtl[kt], 0.0)
            res["telephone"] = {k: full[k] for k in ("n", "acc", "ece", "gender")}
        for rname, rows in (("read_en", LS_TEST_ROWS), ("read_zh", AISHELL_ROWS)):
            lr, rr = logits(model, rows)
            pp, ur = clips(probs(lr), rr)
            res[rname] = round(float(np.mean(pp.argmax(axis=1) == 0)), 3)
            probs_out[name][rname] = (pp, ur)
        res["secs"] = round(time.time() - t0)
        out[name] = res
        print(name, json.dumps(res), flush=True)
    return out, probs_out


def late(a: dict, b: dict) -> dict:
    """Scores of the normalised geometric mean of two sets' calibrated clip probabilities."""
    from .v3 import score

    out: dict[str, Any] = {}
    for name in a:
        res: dict[str, Any] = {}
        for part in ("test", "read_en", "read_zh"):
            (pa, ra), (pb, rb) = a[name][part], b[name][part]
            assert np.array_equal(ra, rb)
            g = np.sqrt(pa * pb)
            g /= g.sum(axis=1, keepdims=True)
            if part == "test":
                res.update(score(g, ra, 0.0))
            else:
                res[part] = round(float(np.mean(g.argmax(axis=1) == 0)), 3)
        out[name] = res
    return out


ORDER = ["L4", "C4", "L1", "P", "Pz", "Pc", "Pzs", "Pzr", "Pz_ct", "Pzr_ct",
         "L1+P", "L1+Pz", "L4+P", "L4+Pz", "L1|P", "L1|Pz", "L4|Pz",
         "L1z", "L1z+Pz", "L1zr", "L1zr+Pzr", "Pzr50", "L1zr50+Pzr50", "Pzr6",
         "L1zr6+Pzr6"]  # fmt: skip


def table(results: dict, labels: dict[str, str]) -> str:
    head = (
        "| features (clean audio) | EmoDB held out: acc (ECE) | read EN / ZH neutral "
        "| RAVDESS held out: acc (ECE) | read EN / ZH neutral | RAVDESS held out: male / female "
        "| mean acc of head seeds 0-2: EmoDB / RAVDESS |\n|---|---|---|---|---|---|---|\n"
    )

    def seed_mean(key: str) -> str:
        keys = [key] + [k for k in results if k.startswith(key + "@s")]
        if len(keys) < 3:
            return "-"
        e, r = (np.mean([results[k][s]["acc"] for k in keys]) for s in ("emodb", "ravdess"))
        return f"{e:.3f} / {r:.3f}"

    lines = []
    order = [k for k in ORDER if k in results] + [k for k in results if k not in ORDER]
    for key in order:
        res = results[key]
        if "@s" in key:
            continue
        e, r = res["emodb"], res["ravdess"]
        g = r["gender"]
        lines.append(
            f"| {labels[key]} | {e['acc']:.3f} ({e['ece']:.3f}) | {e['read_en']:.2f} / "
            f"{e['read_zh']:.2f} | {r['acc']:.3f} ({r['ece']:.3f}) | {r['read_en']:.2f} / "
            f"{r['read_zh']:.2f} | {g['male']:.3f} / {g['female']:.3f} | {seed_mean(key)} |"
        )
    text = head + "\n".join(lines) + "\n"
    seeded = sorted({k.split("@")[0] for k in results if "@s" in k})
    if seeded:
        text += (
            "\nSpread over head seeds (seed 0 in the table above): accuracy min - max\n\n"
            "| features | seeds | EmoDB held out | RAVDESS held out |\n|---|---|---|---|\n"
        )
        for base in seeded:
            keys = [base] + sorted(k for k in results if k.startswith(base + "@s"))
            seeds = ", ".join(["0"] + [k.split("@s")[1] for k in keys[1:]])
            cells = []
            for split in ("emodb", "ravdess"):
                acc = [results[k][split]["acc"] for k in keys]
                cells.append(f"{min(acc):.3f} - {max(acc):.3f} (mean {np.mean(acc):.3f})")
            text += f"| {labels[base]} | {seeds} | {cells[0]} | {cells[1]} |\n"
    tel = [k for k in order if "@s" not in k and "telephone" in results[k].get("emodb", {})]
    if tel:
        text += (
            "\nHeads trained on clean audio, held-out corpus through the telephone channel:\n\n"
            "| features | EmoDB held out: clean -> telephone acc (ECE) "
            "| RAVDESS held out: clean -> telephone acc (ECE) |\n|---|---|---|\n"
        )
        for k in tel:
            cells = []
            for split in ("emodb", "ravdess"):
                c, t = results[k][split], results[k][split]["telephone"]
                cells.append(f"{c['acc']:.3f} -> {t['acc']:.3f} ({t['ece']:.3f})")
            text += f"| {labels[k]} | {cells[0]} | {cells[1]} |\n"
    return text


def compare(names: list[str]) -> None:
    import torch

    telephone = "--telephone" in names
    names = [n for n in names if n != "--telephone"]
    torch.set_num_threads(1)
    names = names or list(SETS)
    path = CACHE / "results" / "serx_compare.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    labels = {k: v[0] for k, v in SETS.items()}
    kept: dict[str, dict] = {}
    for key in names:
        base, _, seed = key.partition("@s")  # KEY@sN: the same with head seed N
        label, get = SETS[base]
        labels[key] = label + (f" (head seed {seed})" if seed else "")
        print(f"== {key}: {labels[key]}", flush=True)
        tel = TELEPHONE.get(base) if telephone else None
        both = None
        if base in TRAIN_BOTH:
            b, norm = TRAIN_BOTH[base]
            both = stacked(
                SETS[b][1], functools.partial(prosodic, norm=norm, folder="prosodic_telephone")
            )
        results[key], kept[key] = run(get, tel, int(seed or 0), both)
        path.write_text(json.dumps(results, indent=1))
        with open(CACHE / "results" / f"serx_probs_{key}.pkl", "wb") as fh:
            pickle.dump(kept[key], fh)
    for (a, b), sfx in itertools.product(
        (("L1", "Pz"), ("L1", "P"), ("L4", "Pz")), ("", "@s1", "@s2")
    ):  # late fusion of two sets' saved clip probabilities (the same head seed)
        a, b = a + sfx, b + sfx
        for k in (a, b):
            saved = CACHE / "results" / f"serx_probs_{k}.pkl"
            if k not in kept and saved.exists():
                with open(saved, "rb") as fh:
                    kept[k] = pickle.load(fh)
        if a in kept and b in kept:
            key = f"{a.split('@')[0]}|{b}"
            labels[key] = (
                f"late fusion: {labels.get(a, a)} with {labels.get(b, b)} (geometric mean)"
            )
            results[key] = late(kept[a], kept[b])
            print(key, json.dumps(results[key]), flush=True)
    labels.update({k: results[k].get("label", k) for k in results if k not in labels})
    for k in results:
        results[k]["label"] = labels[k]
    path.write_text(json.dumps(results, indent=1))
    (CACHE / "results" / "serx_table_generated.md").write_text(table(results, labels))


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "extract":
        extract(sys.argv[2] if len(sys.argv) > 2 else "clean")
    elif what == "compare":
        compare(sys.argv[2:])
    elif what == "table":
        res = json.loads((CACHE / "results" / "serx_compare.json").read_text())
        labels = {k: v["label"] for k, v in res.items()}
        print(table(res, labels), end="")
    else:
        raise SystemExit(
            "usage: prosodic extract [clean|telephone|telephone_tess]"
            " | compare [--telephone] [SET[@sN]..] | table"
        )


if __name__ == "__main__":
    main()
