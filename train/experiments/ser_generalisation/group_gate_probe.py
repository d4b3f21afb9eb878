"""Issue 15 research (session 36): which measure of how alike a speaker sounds survives the channel?

    OMP_NUM_THREADS=2 python -m train.experiments.ser_generalisation.group_gate_probe MODEL \
        [--cache DIR] [--groups 10]

Session 35's gate (``SpeechEmotionModel.gated_groups``) reads a speaker whose windows the
absolute head hears as one emotion without a speaker group, so that a caller angry all call is
not read against their own angry voice. Its measure, ``group_variety`` (the information the
readings carry about which window they came from), fell under its threshold for speakers heard
in every emotion once the channel was noisy or narrow: flatter readings carry less of it. This
probe scores other measures on the validation speakers (RAVDESS 13-16, EmoDB 10; MODEL is a
build without them, e.g. ``product_screen``'s ``v6_bc_temper_val``) in each condition of the
screen, on two kinds of speaker group of a call's size:

- one emotion: a speaker's clips of one label (RAVDESS 8-12 clips, EmoDB 5-12);
- mixed: ``--groups`` seeded draws per speaker of 8 clips of any label;
- mostly neutral (reported, not scored): 6 neutral clips and 2 of one other label.

Measures, each from the absolute head's readings of the windows with no group (voice statistics
at zero, as the gate reads them):

- ``variety``: ``group_variety``, H(mean p) - mean H(p), nats (session 35's);
- ``labels``: the entropy of the group's most likely labels (nats): a flatter reading keeps its
  most likely label, so a channel that only flattens leaves it as it was;
- ``spread``: 1 minus the share of the group's windows whose most likely label is the group's
  most common one.

Printed per condition and measure: the median for one-emotion and mixed groups, the AUC of
telling them apart, and at each threshold of a small grid the share of each kind gated (under
it). Nothing is fitted to the test speakers; the chosen measure and threshold go into a rule
(the v8 card) before a candidate is built.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from analyzer.audio.ser import SpeechEmotionModel, group_variety, label_entropy
from analyzer.models import load_model
from train.experiments.ser_generalisation.product_screen import CONDITIONS, DATA, VALIDATION
from train.ser_features import extract_features, load_noise_pool, read_manifest

GROUP_CLIPS = 8  # clips of a mixed group: a caller's turns in a few minutes
THRESHOLDS = {
    "variety": (0.15, 0.2, 0.25),
    "labels": (0.3, 0.5, 0.7, 0.9),
    "spread": (0.15, 0.25, 0.35),
}


def measures(probs: np.ndarray) -> dict[str, float]:
    """The three measures of one group's window probabilities [n, K]."""
    top = probs.argmax(axis=1)
    share = np.bincount(top).max() / len(top)
    return {
        "variety": float(group_variety(probs, ["g"] * len(probs))[0]),
        "labels": float(label_entropy(probs)),
        "spread": float(1.0 - share),
    }


def groups_of(rows: list[dict], n_mixed: int, seed: int = 0) -> dict[str, list[list[int]]]:
    """Clip indices of each kind of group over ``rows`` (validation speakers' clips)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[list[int]]] = {"one": [], "mixed": [], "neutral": []}
    for speaker in sorted({r["speaker"] for r in rows}):
        mine = [i for i, r in enumerate(rows) if r["speaker"] == speaker]
        labels = sorted({rows[i]["label"] for i in mine})
        by_label = {lab: [i for i in mine if rows[i]["label"] == lab] for lab in labels}
        out["one"] += [idx for idx in by_label.values() if len(idx) >= 4]
        for _ in range(n_mixed):
            out["mixed"].append(sorted(rng.choice(mine, GROUP_CLIPS, replace=False).tolist()))
        neutral = by_label.get("neutral", [])
        for lab in labels:
            if lab != "neutral" and len(neutral) >= 6 and len(by_label[lab]) >= 2:
                pick = rng.choice(neutral, 6, replace=False).tolist()
                out["neutral"].append(pick + rng.choice(by_label[lab], 2, replace=False).tolist())
    return out


def auc(low: np.ndarray, high: np.ndarray) -> float:
    """P(a mixed group's measure > a one-emotion group's), ties half."""
    diff = high[:, None] - low[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--cache", default="/tmp/emotrace-ser-cache")
    ap.add_argument("--groups", type=int, default=10, help="mixed groups drawn per speaker")
    args = ap.parse_args(argv)
    model = load_model(str(args.model), "ser")
    assert isinstance(model, SpeechEmotionModel)
    rows, root = read_manifest(DATA / "manifest.csv")
    rows = [r for r in rows if r["speaker"] in VALIDATION and r.get("label") in model.labels]
    kinds = groups_of(rows, args.groups)
    print({k: len(v) for k, v in kinds.items()}, "groups of", len(rows), "validation clips")
    for condition in CONDITIONS:
        table = extract_features(
            rows,
            root,
            channel=condition,
            encoder=model,
            cache_dir=args.cache,
            noise=lambda: load_noise_pool(DATA / "read_speech.csv", "eval"),
        )
        probs = model.ungrouped_probabilities(table.features)
        of_clip = [np.flatnonzero(table.clip == i) for i in range(len(rows))]
        values: dict[str, dict[str, np.ndarray]] = {}
        for kind, groups in kinds.items():
            per = [measures(probs[np.concatenate([of_clip[i] for i in g])]) for g in groups]
            values[kind] = {m: np.array([p[m] for p in per]) for m in THRESHOLDS}
        for m, grid in THRESHOLDS.items():
            one, mixed, neutral = (values[k][m] for k in ("one", "mixed", "neutral"))
            gated = "  ".join(
                f"<{t:g}: one {np.mean(one < t):.2f} mixed {np.mean(mixed < t):.2f} "
                f"neutral {np.mean(neutral < t):.2f}"
                for t in grid
            )
            print(
                f"{condition:9s} {m:8s} median one {np.median(one):.3f} mixed "
                f"{np.median(mixed):.3f}  AUC {auc(one, mixed):.3f}  | {gated}",
                flush=True,
            )


if __name__ == "__main__":
    main()
