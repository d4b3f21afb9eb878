"""Issue 15 research (not product code): serrob's familiarity variants F0 / F1 on version 6's
recipe (``v5+Pv``), leave-one-corpus-out without the test speakers.

    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.v6f loco FOLD
    python -m train.experiments.ser_generalisation.v6f table

``loco FOLD`` (``emodb`` or ``ravdess``: the corpus held out): version 6's heads (``v6p``'s
``v5+Pv``, head seed 0, clean + telephone + degraded, the training rows' prosody z-scored per
70 % neutral group, the LibriSpeech fit-half 60 % prior) on the other corpora's speakers but the
test speakers (RAVDESS 17-20, EmoDB 11, in neither side), then two familiarity checks fitted on
the same training windows: F0 on clean + telephone (version 6 as shipped), F1 on every training
channel (serrob's verdict). Scored: each held-out speaker is one group (the product's
``prosody_zscores`` over all of the speaker's windows of the condition, as
``benchmarks.ser_offdomain`` passes speakers), clip accuracy with clips flagged unfamiliar (half of
their windows or more) counted wrong; ``neutral70`` beside it (version 6's primary grouping,
same flags); read speech (LibriSpeech test half, each reader a group; AISHELL-1 one group) read
neutral or unfamiliar. Results: ``$SER_V6_CACHE/results/v6f_FOLD.json``; the rule is in version
6's card (written before these figures).

Conditions: the held-out corpus's clean, telephone and degraded renderings in both folds, plus
MP3 16 kbit/s and 10 dB babble in the EmoDB fold (the only scored speakers whose statistics were
extracted under those conditions).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np

from analyzer.dsp import softmax
from train.data import SER_HELD_OUT
from train.metrics import expected_calibration_error
from train.ser_ood import distance, fit_unfamiliar

from . import exp, v6, v6p

CHANNELS = ("clean", "telephone", "degraded")
FAMILIARITY = {"F0": ("clean", "telephone"), "F1": CHANNELS}
SCORED = {
    "emodb": ("clean", "telephone", "degraded", "mp3_16", "babble10"),
    "ravdess": ("clean", "telephone", "degraded"),
}
DEV = ~np.isin(exp.SPEAKER, list(SER_HELD_OUT))
RW = 1.0


def fold_rows(fold: str) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, scored rows) of ``fold`` without the test speakers."""
    ravdess, tess, emodb = (exp.idx((exp.CORPUS == c) & DEV) for c in ("ravdess", "tess", "emodb"))
    if fold == "emodb":
        return np.concatenate([ravdess, tess]), emodb
    return np.concatenate([tess, emodb]), ravdess


def clip_scores(p: np.ndarray, r: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    """(accuracy with flagged clips wrong, ECE of the clip probabilities)."""
    u, inv = np.unique(r, return_inverse=True)
    pc = np.zeros((len(u), p.shape[1]))
    np.add.at(pc, inv, p)
    pc /= np.bincount(inv)[:, None]
    out = np.bincount(inv, weights=flagged.astype(float)) / np.bincount(inv) >= 0.5
    pred = np.where(out, -1, pc.argmax(axis=1))
    truth = exp.LABEL[u]
    return float(np.mean(pred == truth)), float(expected_calibration_error(pc, truth))


def loco(fold: str) -> dict[str, Any]:
    t0 = time.time()
    v6p.REFERENCE = "product"
    v6.gather = v6p.gather_with_prosodic
    train, test = fold_rows(fold)
    model = v6p._fit_flagged(train, v6.options_for("v5", 0), CHANNELS)  # sets v6p.POP_SD
    checks = {}
    v6p.TRAINING = True
    try:
        for name, channels in FAMILIARITY.items():
            f, r, _, _ = v6p.gather_with_prosodic(train, channels)
            keep = exp.LABEL[r] >= 0
            arrays, above = fit_unfamiliar(
                model, f[keep], exp.SPEAKER[r[keep]].tolist(), exp.CORPUS[r[keep]].tolist(),
                dims=64, residual_weight=RW,
            )  # fmt: skip
            checks[name] = (arrays, above)
    finally:
        v6p.TRAINING = False
    print(f"{fold}: heads and checks {time.time() - t0:.0f}s", flush=True)
    res: dict[str, Any] = {"above": {k: round(a, 4) for k, (_, a) in checks.items()}}
    for ch in SCORED[fold]:
        f, r, _, _ = v6p.gather_with_prosodic(test, [ch])
        keep = exp.LABEL[r] >= 0
        f, r = f[keep], r[keep]
        p_bal, p_n70 = np.zeros((len(f), 7)), np.zeros((len(f), 7))
        d = {k: np.zeros(len(f), bool) for k in checks}
        for s in np.unique(exp.SPEAKER[r]):
            m = exp.SPEAKER[r] == s
            x = v6p._product_view(f[m], ["g"] * int(m.sum()))
            p_bal[m] = softmax(model.logits(x, groups=["g"] * len(x))[0].astype(np.float64))
            p_n70[m] = v6p.grouped_probs_product(model, f[m], r[m], "neutral70")
            for k, (arrays, above) in checks.items():
                d[k][m] = distance(arrays, model.standardise(x), RW) > above
        none = np.zeros(len(f), bool)
        res[ch] = {
            "none": clip_scores(p_bal, r, none)[0],
            "n70_none": clip_scores(p_n70, r, none)[0],
        }
        for k in checks:
            acc, ece = clip_scores(p_bal, r, d[k])
            res[ch][k] = acc
            res[ch][f"n70_{k}"] = clip_scores(p_n70, r, d[k])[0]
            res[ch]["ece"] = ece
            res[ch][f"flagged_{k}"] = float(np.mean(d[k]))
        print(fold, ch, json.dumps(res[ch]), flush=True)
    for lang, rows in (("en", exp.LS_TEST_ROWS), ("zh", exp.AISHELL_ROWS)):
        f, r, _, _ = v6p.gather_with_prosodic(rows, ["clean"])
        groups = list(exp.SPEAKER[r]) if lang == "en" else ["zh"] * len(f)
        x = v6p._product_view(f, groups)
        logits = model.logits(x) if lang == "en" else model.logits(x, groups=groups)
        p = softmax(logits[0].astype(np.float64))
        u, inv = np.unique(r, return_inverse=True)
        pc = np.zeros((len(u), 7))
        np.add.at(pc, inv, p)
        neutral = pc.argmax(axis=1) == 0
        for k, (arrays, above) in checks.items():
            fl = distance(arrays, model.standardise(x), RW) > above
            out = np.bincount(inv, weights=fl.astype(float)) / np.bincount(inv) >= 0.5
            res[f"read_{lang}_{k}"] = float(np.mean(neutral | out))
    res["secs"] = round(time.time() - t0)
    print(fold, json.dumps({k: v for k, v in res.items() if k.startswith("read")}), flush=True)
    return res


def table() -> str:
    out = v6p.OUT / "results"
    res = {fold: json.loads((out / f"v6f_{fold}.json").read_text()) for fold in SCORED}
    lines = [
        "| check | fold | clean | telephone | degraded | MP3 16 | babble 10 dB | damaged mean "
        "| neutral70 clean / damaged | read en / zh |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for k in ("none", "F0", "F1"):
        dm, cl, n70c, n70d = [], [], [], []
        for fold, x in res.items():
            dam = [c for c in SCORED[fold] if c != "clean"]
            key70 = f"n70_{k}"
            cells = [f"{x[c][k]:.3f}" if c in x else "-" for c in
                     ("clean", "telephone", "degraded", "mp3_16", "babble10")]  # fmt: skip
            mean = float(np.mean([x[c][k] for c in dam]))
            m70 = float(np.mean([x[c][key70] for c in dam]))
            dm.append(mean)
            cl.append(x["clean"][k])
            n70c.append(x["clean"][key70])
            n70d.append(m70)
            read = (f"{x[f'read_en_{k}']:.3f} / {x[f'read_zh_{k}']:.3f}" if k != "none"
                    else "-")  # fmt: skip
            lines.append(
                f"| {k} | {fold} | {' | '.join(cells)} | {mean:.3f} | "
                f"{x['clean'][key70]:.3f} / {m70:.3f} | {read} |"
            )
        summary[k] = (float(np.mean(cl)), float(np.mean(dm)), float(np.mean(n70c)),
                      float(np.mean(n70d)))  # fmt: skip
    for k, (c, d, c70, d70) in summary.items():
        lines.append(f"| {k} | mean | {c:.3f} | | | | | {d:.3f} | {c70:.3f} / {d70:.3f} | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    import torch

    torch.set_num_threads(1)
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "loco" and len(sys.argv) > 2 and sys.argv[2] in SCORED:
        res = loco(sys.argv[2])
        out = v6p.OUT / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / f"v6f_{sys.argv[2]}.json").write_text(json.dumps(res, indent=1))
    elif what == "table":
        print(table())
    else:
        raise SystemExit("usage: v6f loco emodb|ravdess | table")


if __name__ == "__main__":
    main()
