"""Held-out figures for the model card: train without some RAVDESS actors, score on them.

    python -m benchmarks.ser_eval_heldout [--manifest CSV] [--folds 5] [--cache-dir /tmp/ser_cache]
                                          [--channels clean,telephone,...] [--members N]
                                          [--gender-boosts 1,1.3,1.6] [--threads 2]

Uses exactly the shipped code path: ``train_ser`` on a manifest without the held-out actors
(TESS always stays in training), then ``evaluate_ser`` on a manifest of only those actors, clean
and through the simulated telephone channel, with and without passing the speaker column as
``groups``. ``train_ser`` searches the gender balance (``--gender-boosts``) by cross-validation
over its own training speakers, so that choice is nested inside each fold and never sees the
fold's actors; every fold prints what it chose. With ``--folds 5`` the 20 RAVDESS actors are
split into 5 folds of 4 consecutive actors (01-04, ..., 17-20); each fold is scored by a model
trained on the other 16 actors + TESS, and the 1200 clip predictions are pooled (accuracy,
macro-F1, per-gender accuracy, ECE, and the gender gap with its standard error over the 20
held-out speakers).
``--folds 1`` scores only actors 17-20. The last line printed is the JSON of all figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

import numpy as np

from analyzer.labels import LABELS
from train.data import ACTOR_FOLDS, SPEECH_MANIFEST
from train.heads import HeadOptions
from train.metrics import gender_gap_se
from train.ser import (
    TRAIN_CHANNELS,
    evaluate_ser,
    parse_gender_boosts,
    read_manifest,
    train_ser,
)

CONDITIONS = (("clean", True), ("clean", False), ("telephone", True), ("telephone", False))


def write_manifest(rows: list[dict], target: Path) -> Path:
    """Write ``rows`` as a manifest; paths stay as they were (relative to the original root), so
    the feature cache keys and the seeded channel renderings match those of the full manifest."""
    with open(target, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def pool(reports: list[dict], gender: dict[str, str]) -> dict:
    """Pool per-fold reports by summing confusions (accuracy, macro-F1 and recalls recomputed);
    gender: speaker -> gender, for the gap's standard error."""
    confusion = np.sum([np.array(r["confusion"]) for r in reports], axis=0)
    n = int(confusion.sum())
    recalls = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    precisions = np.diag(confusion) / np.maximum(confusion.sum(axis=0), 1)
    f1 = 2 * precisions * recalls / np.maximum(precisions + recalls, 1e-12)
    present = confusion.sum(axis=1) > 0
    weights = np.array([r["n"] for r in reports], dtype=float)
    genders = sorted({g for r in reports for g in r.get("per_gender", {})})
    return {
        "n": n,
        "accuracy": round(float(np.trace(confusion) / n), 4),
        "macro_f1": round(float(f1[present].mean()), 4),
        "per_class": {lab: round(float(recalls[i]), 4) for i, lab in enumerate(LABELS)},
        "per_gender": {
            g: round(
                float(np.mean([r["per_gender"][g] for r in reports if g in r["per_gender"]])), 4
            )
            for g in genders
        },
        "ece": round(float(np.average([r["ece"] for r in reports], weights=weights)), 4),
        "confusion": confusion.tolist(),
        "gender_gap_se_over_speakers": gender_gap_se(
            {k: v for r in reports for k, v in r.get("per_speaker", {}).items()}, gender
        ),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default=str(SPEECH_MANIFEST))
    parser.add_argument("--root", default=None)
    parser.add_argument("--folds", type=int, default=5, choices=(1, 5))
    parser.add_argument("--cache-dir", default="/tmp/ser_cache")
    parser.add_argument("--channels", default=",".join(TRAIN_CHANNELS), help="training channels")
    parser.add_argument("--members", type=int, default=HeadOptions.members, help="ensemble size")
    parser.add_argument(
        "--gender-boosts",
        default=",".join(str(b) for b in HeadOptions.gender_boosts),
        help="tried inside each fold's training data (see select_gender_boost); 1: none",
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (encoder and heads)")
    args = parser.parse_args(argv)
    rows, root = read_manifest(args.manifest, args.root)
    folds = list(ACTOR_FOLDS)
    if args.folds == 1:
        folds = folds[-1:]
    channels = tuple(c for c in args.channels.split(",") if c)
    boosts = parse_gender_boosts(args.gender_boosts)
    balances: list[dict] = []
    per_condition: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        for k, held in enumerate(folds):
            train_rows = [r for r in rows if r["speaker"] not in held]
            test_rows = [r for r in rows if r["speaker"] in held]
            train_csv = write_manifest(train_rows, tmp_dir / f"train{k}.csv")
            test_csv = write_manifest(test_rows, tmp_dir / f"test{k}.csv")
            model = train_ser(
                train_csv,
                root,
                out=tmp_dir / f"model{k}",
                channels=channels,
                options=HeadOptions(members=args.members, gender_boosts=boosts),
                cache_dir=args.cache_dir,
                threads=args.threads,
            )
            balance = json.loads((model / "model.json").read_text()).get("gender_balance", {})
            balances.append(balance)
            print(f"fold {k} ({held[0]}..{held[-1]}) gender balance {json.dumps(balance)}")
            for channel, groups in CONDITIONS:
                report = evaluate_ser(
                    test_csv,
                    root,
                    model=model,
                    channel=channel,
                    use_groups=groups,
                    cache_dir=args.cache_dir,
                )
                key = f"{channel}{'+groups' if groups else ''}"
                per_condition.setdefault(key, []).append(report)
                print(
                    f"fold {k} ({held[0]}..{held[-1]}) {key:16s} acc {report['accuracy']:.3f} "
                    f"mF1 {report['macro_f1']:.3f}",
                    flush=True,
                )
    gender = {r["speaker"]: r.get("gender", "") for r in rows}
    summary = {key: pool(reports, gender) for key, reports in per_condition.items()}
    print(
        f"\n{'condition':18s} {'n':>5s} {'acc':>6s} {'mF1':>6s} {'male':>6s} {'female':>6s} "
        f"{'ECE':>6s}  gender gap (female - male) +- its standard error over speakers"
    )
    for key, s in summary.items():
        g = s["per_gender"]
        se = s["gender_gap_se_over_speakers"]
        print(
            f"{key:18s} {s['n']:5d} {s['accuracy']:6.3f} {s['macro_f1']:6.3f} "
            f"{g.get('male', float('nan')):6.3f} {g.get('female', float('nan')):6.3f} "
            f"{s['ece']:6.3f}  gap {g.get('female', np.nan) - g.get('male', np.nan):+.3f}"
            + (f" +- {se:.3f}" if se is not None else "")
        )
    result = {
        "folds": [f"{f[0]}..{f[-1]}" for f in folds],
        "training_channels": channels,
        "members": args.members,
        "gender_boosts": boosts,
        "gender_balance_per_fold": balances,
        "conditions": summary,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
