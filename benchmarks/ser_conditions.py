"""Speech emotion models on held-out speakers and read speech, through the product's own path.

    python -m benchmarks.ser_conditions MODEL... [--conditions clean,telephone,...]
        [--cache-dir DIR] [--threads 2] [--json OUT]

Needs only ``../shared/data/speech`` (no research feature cache): every figure comes from
``emotrace eval ser`` (``train.ser_eval.evaluate_ser``), which decodes each clip, renders it
through the condition, windows it, embeds it with the model's own reader (a version-6 model adds
the voice statistics) and scores it with the speaker passed as the group, as the engine does
for one speaker of a call. Models that share a feature kind share the cache.

- Held-out speakers: RAVDESS actors 17-20 and EmoDB speaker 11 (no shipped model since version
  2 trained on them; version 1 trained on RAVDESS 17-20), each condition: accuracy
  ("uncertain" counts as wrong), coverage, ECE, per gender, and the loss against clean in
  points. Conditions: ``train.ser_features.CHANNELS`` names (telephone, mp3_16, opus8, amrnb,
  babble10: 10 dB babble of the read speech's evaluation half of speakers).
- Read speech: the LibriSpeech evaluation half of the speakers (``train.ser.noise_speakers``;
  the other half may fit a model's neutral prior) and the AISHELL clips (one Mandarin speaker),
  clean and through the telephone: the share read neutral or uncertain (the issue's >= 60 %).

The last line printed is the JSON of all figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from train.data import SER_HELD_OUT
from train.ser_eval import evaluate_ser
from train.ser_features import noise_speakers, read_manifest, resolve_audio_path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"
CONDITIONS = ("clean", "telephone", "mp3_16", "opus8", "amrnb", "babble10")


def write_rows(rows: list[dict], path: Path) -> Path:
    """``rows`` as a manifest at ``path`` (columns of the first row)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def held_out_sets(manifest: Path, folder: Path) -> dict[str, Path]:
    """Manifests of the held-out speakers per corpus: {"ravdess_17-20": ..., "emodb_11": ...}."""
    rows, root = read_manifest(manifest)
    out = {}
    for name, corpus in (("ravdess_17-20", "ravdess"), ("emodb_11", "emodb")):
        picked = [
            {**r, "path": str(resolve_audio_path(r["path"], root))}
            for r in rows
            if r.get("corpus") == corpus and r.get("speaker") in SER_HELD_OUT
        ]
        out[name] = write_rows(picked, folder / f"{name}.csv")
    return out


def read_sets(manifest: Path, folder: Path) -> dict[str, Path]:
    """Manifests of unlabelled read speech: the LibriSpeech evaluation half, AISHELL."""
    rows, root = read_manifest(manifest, columns=("path",))
    libri = [r for r in rows if r.get("corpus") == "librispeech"]
    _, second = noise_speakers(libri)
    sets = {
        "read_en": [r for r in libri if (r.get("speaker") or r["path"]) in second],
        "read_zh": [r for r in rows if r.get("corpus") == "aishell"],
    }
    out = {}
    for name, picked in sets.items():
        absolute = [{**r, "path": str(resolve_audio_path(r["path"], root))} for r in picked]
        out[name] = write_rows(absolute, folder / f"{name}.csv")
    return out


def measure(
    model: str,
    held: dict[str, Path],
    read: dict[str, Path],
    conditions: list[str],
    *,
    cache_dir: str | None,
    noise: Path,
) -> dict[str, Any]:
    """Every figure of one model."""
    out: dict[str, Any] = {}
    for name, manifest in held.items():
        per: dict[str, Any] = {}
        for condition in conditions:
            report = evaluate_ser(
                manifest, model=model, channel=condition, cache_dir=cache_dir, noise_manifest=noise
            )
            per[condition] = {
                k: report.get(k) for k in ("n", "accuracy", "coverage", "ece", "per_gender")
            }
        if "clean" in per:
            for figures in per.values():
                figures["loss_points"] = round(
                    100 * (float(figures["accuracy"]) - float(per["clean"]["accuracy"])), 1
                )
        out[name] = per
    for name, manifest in read.items():
        for condition in ("clean", "telephone"):
            report = evaluate_ser(manifest, model=model, channel=condition, cache_dir=cache_dir)
            unlabelled = report.get("unlabelled", {})
            out[f"{name}_{condition}"] = {
                "n": unlabelled.get("n"),
                "neutral_or_uncertain": unlabelled.get("neutral_or_uncertain"),
            }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="model names under models/ or folders")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--data", type=Path, default=DATA, help="the shared speech folder")
    ap.add_argument("--cache-dir", default=None, help="reuse features across runs and models")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        held = held_out_sets(args.data / "manifest.csv", Path(tmp))
        read = read_sets(args.data / "read_speech.csv", Path(tmp))
        for model in args.models:
            figures[model] = measure(
                model,
                held,
                read,
                conditions,
                cache_dir=args.cache_dir,
                noise=args.data / "read_speech.csv",
            )
            for name in held:
                row = figures[model][name]
                print(
                    f"{model} {name}: "
                    + ", ".join(
                        f"{c} {row[c]['accuracy']:.3f} ({row[c].get('loss_points', 0):+.1f})"
                        for c in conditions
                    ),
                    flush=True,
                )
            print(
                f"{model} read speech neutral or uncertain: "
                + ", ".join(
                    f"{k} {v['neutral_or_uncertain']}"
                    for k, v in figures[model].items()
                    if k.startswith("read_")
                ),
                flush=True,
            )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
