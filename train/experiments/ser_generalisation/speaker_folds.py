"""Issue 15 research (session 25): a recipe's held-out-speaker accuracy over speaker folds.

    OMP_NUM_THREADS=2 nice python -m train.experiments.ser_generalisation.speaker_folds \
        RECIPE [--work DIR] [--cache DIR] [--conditions clean,telephone] [--quantile Q]

The issue's held-out targets are per corpus over speaker folds (RAVDESS >= 0.72, EmoDB >= 0.70,
gender gap <= 5 points); the shipped model holds out one fold of each (RAVDESS 17-20, EmoDB 11).
This builds RECIPE (``product_screen.RECIPES``) by the product commands once per other fold,
each time without that fold and without the test speakers, and scores each fold with its own
model (``emotrace eval ser``, speaker as group, "uncertain" wrong): EmoDB 03, 08, 09, 10 one
speaker a fold; RAVDESS 01-04, 05-08, 09-12, 13-16. The test fold is scored with the shipped
build of the recipe (``--shipped``). Pooled accuracy per corpus, per gender, per fold, ECE.
With ``--quantile Q`` each fold's build gets its familiarity check refitted at quantile Q
(``train.ser_ood.add_familiarity``, same channels and speakers; into ``<build>_q<QQ>``) and that
is what the fold is scored with; ``--shipped`` should then be the shipped build with the same check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.ser_conditions import write_rows
from train.data import SER_HELD_OUT
from train.ser_eval import evaluate_ser
from train.ser_features import read_manifest

from .product_screen import DATA, RECIPES, build, familiarity, recipe_tag

FOLDS = {
    **{f"emodb_{s}": [f"emodb_{s}"] for s in ("03", "08", "09", "10")},
    **{
        f"ravdess_{a:02d}-{a + 3:02d}": [f"ravdess_{k:02d}" for k in range(a, a + 4)]
        for a in (1, 5, 9, 13)
    },
}
TEST_FOLDS = {"emodb_11": ["emodb_11"], "ravdess_17-20": [f"ravdess_{k}" for k in range(17, 21)]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe", choices=sorted(RECIPES))
    ap.add_argument("--shipped", type=Path, help="shipped build (scores test folds)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/emotrace-folds"))
    ap.add_argument("--cache", default="/tmp/emotrace-ser-cache")
    ap.add_argument("--conditions", default="clean,telephone")
    ap.add_argument("--quantile", type=float, help="refit each fold's familiarity check at Q")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows, _ = read_manifest(DATA / "manifest.csv")
    labelled = [r for r in rows if r.get("label")]
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    tag = recipe_tag(args.recipe)
    suffix = f"_q{round(100 * args.quantile)}" if args.quantile is not None else ""
    out: dict[str, Any] = {}
    folds = {**FOLDS, **TEST_FOLDS} if args.shipped else FOLDS  # without it: no test fold read
    for fold, speakers in folds.items():
        if fold in TEST_FOLDS:
            model = args.shipped
        else:
            hold = [*SER_HELD_OUT, *speakers]
            model = build(f"{tag}_fold_{fold}", args.recipe, hold, args.work, args.cache)
            if args.quantile is not None:
                refit = model.with_name(model.name + suffix)
                if not (refit / "model.json").is_file():
                    familiarity(model, refit, hold, RECIPES[args.recipe], args.cache, args.quantile)
                model = refit
        manifest = write_rows(
            [r for r in labelled if r["speaker"] in speakers], args.work / f"{fold}.csv"
        )
        out[fold] = {}
        for condition in conditions:
            report = evaluate_ser(
                manifest,
                DATA,
                model=model,
                channel=condition,
                cache_dir=args.cache,
                noise_manifest=DATA / "read_speech.csv",
            )
            out[fold][condition] = {
                k: report.get(k)
                for k in ("n", "accuracy", "accuracy_argmax", "coverage", "ece", "per_gender")
            }
            print(args.recipe, fold, condition, out[fold][condition], flush=True)
    summary: dict[str, Any] = {}
    for corpus in ("emodb", "ravdess"):
        for condition in conditions:
            parts = [v[condition] for k, v in out.items() if k.startswith(corpus)]
            n = np.array([p["n"] for p in parts], dtype=float)
            acc = np.array([p["accuracy"] for p in parts])
            genders: dict[str, list[tuple[float, float]]] = {}
            for p in parts:
                for g, a in (p["per_gender"] or {}).items():
                    genders.setdefault(g, []).append((a, p["n"]))
            summary[f"{corpus}_{condition}"] = {
                "pooled": round(float((acc * n).sum() / n.sum()), 4),
                "folds": len(parts),
                "worst_fold": round(float(acc.min()), 4),
                "per_gender": {
                    g: round(sum(a * m for a, m in v) / sum(m for _, m in v), 4)
                    for g, v in genders.items()
                },
            }
            print(corpus, condition, summary[f"{corpus}_{condition}"], flush=True)
    (args.work / f"folds_{tag}{suffix}.json").write_text(
        json.dumps({"folds": out, "summary": summary}, indent=2) + "\n"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
