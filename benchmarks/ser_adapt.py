"""How many labelled clips of a new corpus `emotrace train ser --init` needs (issue 15).

    python -m benchmarks.ser_adapt [--corpora ravdess,emodb] [--split validation|test]
        [--ns 0,10,25,50,100] [--draws 3] [--cache-dir DIR] [--work DIR]

Everything runs through the product commands on ``../shared/data/speech`` (no research cache):

- Base, one per new corpus: version 6's recipe (``emotrace train ser --features whisper-layer1
  --prosody``, version 2's head options, clean channel) on the two *other* corpora, then its
  neutral prior on the LibriSpeech training half (``train.ser_prior``, target 0.6). RAVDESS
  actors 17-20 and EmoDB speaker 11 are held out of every base. No familiarity check (adapting
  keeps it; the figures here are about the heads). Kept under ``--work`` and reused.
- Adapting: ``emotrace train ser --init BASE --manifest DRAW`` with the command's defaults, on N
  clips drawn stratified by class (round-robin over the shuffled classes) from the adaptation
  speakers: RAVDESS actors 01-08, EmoDB 03, 08, 09; ``--draws`` draws per N. Each draw is
  adapted twice: temperatures refitted on held-out folds of the draw (the default) and kept
  (``--keep-temperatures``).
- Scoring: ``emotrace eval ser`` (speaker as group) on speakers never used for adapting:
  ``--split validation``: RAVDESS 09-16 (EmoDB has no validation speakers and is skipped);
  ``--split test``: RAVDESS 17-20, EmoDB 10 + 11. Accuracy ("uncertain" wrong), argmax
  accuracy, coverage, ECE.

Prints one line per corpus and N, then the JSON of every figure as the last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.labels import LABELS
from benchmarks.ser_conditions import write_rows
from train.data import SER_HELD_OUT
from train.ser import add_train_args, run_train
from train.ser_eval import evaluate_ser
from train.ser_features import read_manifest
from train.ser_prior import add_neutral_prior

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"
ADAPT = {
    "ravdess": [f"ravdess_{k:02d}" for k in range(1, 9)],
    "emodb": ["emodb_03", "emodb_08", "emodb_09"],
}
SCORE = {
    "validation": {"ravdess": [f"ravdess_{k:02d}" for k in range(9, 17)]},
    "test": {
        "ravdess": [f"ravdess_{k:02d}" for k in range(17, 21)],
        "emodb": ["emodb_10", "emodb_11"],
    },
}
BASE_ARGS = ["--features", "whisper-layer1", "--prosody", "--channels", "clean", "--members", "1"]
BASE_ARGS += ["--epochs", "12", "--gender-boosts", "1"]


def command(argv: list[str]) -> Path:
    """``emotrace train ser ARGV`` (the parser and runner the command line uses)."""
    parser = argparse.ArgumentParser()
    add_train_args(parser)
    return run_train(parser.parse_args(argv))


def base_model(corpus: str, rows: list[dict], data: Path, work: Path, cache: str) -> Path:
    """The base for ``corpus`` (trained on the other corpora), built once under ``work``."""
    out = work / f"base_{corpus}"
    if (out / "model.json").is_file():
        return out
    hold = sorted({r["speaker"] for r in rows if r.get("corpus") == corpus} | set(SER_HELD_OUT))
    heads = command(
        [
            "--manifest",
            str(data / "manifest.csv"),
            "--root",
            str(data),
            "--out",
            str(work / "h"),
            "--overwrite",
        ]
        + BASE_ARGS
        + ["--hold-out", ",".join(hold), "--cache-dir", cache, "--threads", "2"]
    )
    return add_neutral_prior(
        heads, out, data / "read_speech.csv", 0.6, cache_dir=cache, threads=2, channels=("clean",)
    )


def draw(rows: list[dict], n: int, seed: int) -> list[dict]:
    """``n`` rows stratified by class: classes shuffled, one clip of each in turn."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[dict]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    pools = [list(rng.permutation(len(v))) for v in by_label.values()]
    names = list(by_label)
    picked: list[dict] = []
    order = rng.permutation(len(names))
    while len(picked) < n and any(pools):
        for k in order:
            if pools[k] and len(picked) < n:
                picked.append(by_label[names[k]][pools[k].pop()])
    return picked


def figures(report: dict) -> dict[str, Any]:
    return {k: report.get(k) for k in ("n", "accuracy", "accuracy_argmax", "coverage", "ece")}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default="ravdess,emodb")
    ap.add_argument("--split", choices=sorted(SCORE), default="validation")
    ap.add_argument("--ns", default="0,10,25,50,100")
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache-dir", default="/tmp/emotrace-ser-cache")
    ap.add_argument("--work", type=Path, default=Path("/tmp/emotrace-ser-adapt"))
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows, _ = read_manifest(args.data / "manifest.csv")
    rows = [r for r in rows if r.get("label") in LABELS]
    out: dict[str, Any] = {}
    for corpus in [c.strip() for c in args.corpora.split(",") if c.strip()]:
        scored = SCORE[args.split].get(corpus)
        if scored is None:
            print(f"{corpus}: no {args.split} speakers, skipped", flush=True)
            continue
        base = base_model(corpus, rows, args.data, args.work, args.cache_dir)
        score = write_rows(
            [r for r in rows if r["speaker"] in scored], args.work / f"score_{corpus}.csv"
        )
        pool = [r for r in rows if r["speaker"] in ADAPT[corpus]]

        def evaluate(model: Path, score: Path = score) -> dict[str, Any]:
            report = evaluate_ser(score, args.data, model=model, cache_dir=args.cache_dir)
            return figures(report)

        per: dict[str, Any] = {}
        for n in [int(x) for x in args.ns.split(",")]:
            if n == 0:
                per["0"] = {"base": evaluate(base)}
                print(f"{corpus} N=0: {per['0']['base']}", flush=True)
                continue
            runs: dict[str, list[dict[str, Any]]] = {"refit": [], "kept": []}
            for d in range(args.draws):
                manifest = write_rows(draw(pool, n, seed=1000 * n + d), args.work / "draw.csv")
                for kind in runs:
                    folder = command(
                        ["--manifest", str(manifest), "--root", str(args.data), "--init", str(base)]
                        + [
                            "--out",
                            str(args.work / f"adapted_{kind}"),
                            "--overwrite",
                            "--channels",
                            "clean",
                        ]
                        + ["--cache-dir", args.cache_dir, "--threads", "2"]
                        + (["--keep-temperatures"] if kind == "kept" else [])
                    )
                    runs[kind].append(evaluate(folder))
            per[str(n)] = {
                kind: {
                    "draws": found,
                    "mean": {
                        k: round(float(np.mean([f[k] for f in found])), 4)
                        for k in ("accuracy", "accuracy_argmax", "coverage", "ece")
                    },
                }
                for kind, found in runs.items()
            }
            print(
                f"{corpus} N={n}: "
                + "; ".join(f"{kind} {per[str(n)][kind]['mean']}" for kind in runs),
                flush=True,
            )
        out[corpus] = per
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
