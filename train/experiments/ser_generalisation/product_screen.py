"""Issue 15 research (session 25): training recipes compared through the product commands alone.

    OMP_NUM_THREADS=2 nice python -m train.experiments.ser_generalisation.product_screen \
        RECIPE... [--work DIR] [--cache DIR]

For each RECIPE (``RECIPES``: the training channels of version 6's recipe and candidates) three
models are built by the product commands (``emotrace train ser --features whisper-layer1
--prosody``, ``train.ser_prior``, ``train.ser_ood`` on the recipe's channels, as the version-6
card lists): ``val`` without the validation speakers (RAVDESS 13-16, EmoDB 10) and the test
speakers (RAVDESS 17-20, EmoDB 11); ``loco_emodb`` without any EmoDB speaker; ``loco_ravdess``
without any RAVDESS actor (the test speakers out of both). Scored by ``emotrace eval ser``
(speaker as group; "uncertain" wrong):

- ``val`` on the validation speakers, clean and through telephone, MP3 16 kbps, Opus 8 kbps,
  AMR-NB and 10 dB babble (``benchmarks.ser_conditions`` conditions), and read speech;
- ``loco_emodb`` on EmoDB 03, 08, 09, 10; ``loco_ravdess`` on RAVDESS 01-16.

The test speakers are scored only after the choice, on the chosen recipe's build with every
other speaker (``benchmarks.ser_conditions``).

Models and figures go under ``--work`` (figures: ``screen.json``, one entry per recipe, kept
across runs); features under ``--cache`` (shared by every recipe).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.ser_conditions import read_sets, write_rows
from train.data import SER_HELD_OUT
from train.ser import add_train_args, run_train
from train.ser_eval import evaluate_ser
from train.ser_features import read_manifest
from train.ser_ood import add_familiarity
from train.ser_prior import add_neutral_prior

DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "speech"
RECIPES = {
    "v6": ("clean", "telephone", "degraded"),
    "v6+bc": ("clean", "telephone", "degraded", "babble10", "mp3_16", "amrnb"),  # version 7
    "v6+bcx": (
        *("clean", "telephone", "degraded", "babble10", "mp3_16", "amrnb"),
        *("babble", "opus12", "phone_babble"),
    ),
    "v6+bcb": ("clean", "telephone", "degraded", "babble10", "mp3_16", "amrnb", "babble"),
}
RECIPES["v6+bc@m5"] = RECIPES["v6+bc"]  # version 7's channels, an ensemble of five heads
MEMBERS = {"v6+bc@m5": 5}  # heads per model (``--members``); other recipes one
# version 7's channels, the relative head on each speaker's own spread (session 26)
RECIPES["v6+bc@z"] = RECIPES["v6+bc@zo"] = RECIPES["v6+bc"]
RECIPES["v6+bc@zof3"] = RECIPES["v6+bc@zof6"] = RECIPES["v6+bc@zong"] = RECIPES["v6+bc"]
RECIPES["v6+bc@o"] = RECIPES["v6+bc"]
HEAD_ARGS = {  # further ``emotrace train ser`` options of a recipe
    "v6+bc@z": ["--relative-scale", "speaker"],
    "v6+bc@zo": ["--relative-scale", "speaker", "--relative-inputs", "offset"],
    # ... and a floor under a speaker's spread (0.3 / 0.6 of the training spread; 0.1 above)
    "v6+bc@zof3": [*("--relative-scale", "speaker", "--relative-inputs", "offset")]
    + ["--relative-scale-floor", "0.3"],
    "v6+bc@zof6": [*("--relative-scale", "speaker", "--relative-inputs", "offset")]
    + ["--relative-scale-floor", "0.6"],
    # the relative head reading the offsets only, on one training spread (no z-scores)
    "v6+bc@o": ["--relative-inputs", "offset"],
    # ... and 12 more mostly neutral (50-80 %) training groups per speaker and channel
    "v6+bc@zong": [*("--relative-scale", "speaker", "--relative-inputs", "offset")]
    + ["--neutral-groups", "12"],
}
VALIDATION = (*(f"ravdess_{k}" for k in range(13, 17)), "emodb_10")
CONDITIONS = ("clean", "telephone", "mp3_16", "opus8", "amrnb", "babble10")


def build(
    name: str,
    channels: tuple[str, ...],
    hold: list[str],
    work: Path,
    cache: str,
    members: int = 1,
    head_args: list[str] | None = None,
) -> Path:
    """Heads (``members`` seeded heads, further training options ``head_args``), prior and
    familiarity check of one model by the product commands (reused)."""
    out = work / name
    if (out / "model.json").is_file():
        return out
    data = DATA
    parser = argparse.ArgumentParser()
    add_train_args(parser)
    args = parser.parse_args(
        ["--manifest", str(data / "manifest.csv"), "--root", str(data)]
        + ["--out", str(work / f"{name}_heads"), "--channels", ",".join(channels)]
        + ["--features", "whisper-layer1", "--prosody", "--members", str(members)]
        + ["--epochs", "12"]
        + ["--gender-boosts", "1", "--hold-out", ",".join(sorted(hold))]
        + ["--noise-manifest", str(data / "read_speech.csv"), "--cache-dir", cache]
        + ["--threads", "2"]
        + list(head_args or [])
    )
    heads = run_train(args)
    prior = add_neutral_prior(
        heads,
        work / f"{name}_prior",
        data / "read_speech.csv",
        0.6,
        cache_dir=cache,
        threads=2,
        channels=("clean", "telephone"),
    )
    return familiarity(prior, out, hold, channels, cache)


def familiarity(
    source: Path,
    out: Path,
    hold: list[str],
    channels: tuple[str, ...],
    cache: str,
    quantile: float = 0.95,
) -> Path:
    """``source`` with its familiarity check (re)fitted at ``quantile`` into ``out``, as the
    version-7 card lists (``train.ser_ood``: 64 dimensions, residual weight 1, the recipe's
    channels, every speaker but ``hold``)."""
    return add_familiarity(
        source,
        out,
        DATA / "manifest.csv",
        hold_out=sorted(set(hold)),
        channels=channels,
        dims=64,
        residual_weight=1.0,
        quantile=quantile,
        cache_dir=cache,
        threads=2,
        noise_manifest=DATA / "read_speech.csv",
    )


def score(model: Path, manifest: Path, channel: str, cache: str) -> dict[str, Any]:
    report = evaluate_ser(
        manifest,
        DATA,
        model=model,
        channel=channel,
        cache_dir=cache,
        noise_manifest=DATA / "read_speech.csv",
    )
    keep = ("n", "accuracy", "accuracy_argmax", "coverage", "ece", "per_gender")
    return {k: report.get(k) for k in keep}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipes", nargs="+", choices=sorted(RECIPES))
    ap.add_argument("--work", type=Path, default=Path("/tmp/emotrace-screen"))
    ap.add_argument("--cache", default="/tmp/emotrace-ser-cache")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows, _ = read_manifest(DATA / "manifest.csv")
    speakers = {r["speaker"] for r in rows}
    emodb = sorted(s for s in speakers if s.startswith("emodb_"))
    ravdess = sorted(s for s in speakers if s.startswith("ravdess_"))
    labelled = [r for r in rows if r.get("label")]

    def subset(name: str, keep: set[str]) -> Path:
        return write_rows([r for r in labelled if r["speaker"] in keep], args.work / name)

    sets = {
        "validation": subset("validation.csv", set(VALIDATION)),
        "loco_emodb": subset("loco_emodb.csv", set(emodb) - set(SER_HELD_OUT)),
        "loco_ravdess": subset("loco_ravdess.csv", set(ravdess) - set(SER_HELD_OUT)),
    }
    read = read_sets(DATA / "read_speech.csv", args.work)
    results_file = args.work / "screen.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    for recipe in args.recipes:
        channels = RECIPES[recipe]
        members = MEMBERS.get(recipe, 1)
        extra = HEAD_ARGS.get(recipe)
        tag = recipe.replace("+", "_").replace("@", "_")
        val = build(
            f"{tag}_val",
            channels,
            [*SER_HELD_OUT, *VALIDATION],
            args.work,
            args.cache,
            members,
            extra,
        )
        out: dict[str, Any] = {"validation": {}}
        for condition in CONDITIONS:
            out["validation"][condition] = score(val, sets["validation"], condition, args.cache)
            print(recipe, "validation", condition, out["validation"][condition], flush=True)
        for name, manifest in read.items():
            report = evaluate_ser(manifest, model=val, cache_dir=args.cache)
            out[name] = report["unlabelled"]["neutral_or_uncertain"]
            print(recipe, name, out[name], flush=True)
        for corpus, held in (("emodb", emodb), ("ravdess", ravdess)):
            model = build(f"{tag}_loco_{corpus}", channels, [*SER_HELD_OUT, *held], args.work,
                          args.cache, members, extra)  # fmt: skip
            out[f"loco_{corpus}"] = score(model, sets[f"loco_{corpus}"], "clean", args.cache)
            print(recipe, f"loco_{corpus}", out[f"loco_{corpus}"], flush=True)
        results[recipe] = out
        results_file.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
