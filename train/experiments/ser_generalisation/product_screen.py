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
MEMBERS = {"v6+bc@m5": 5}  # heads per model (``--members``); other recipes one
_Z = ("--relative-scale", "speaker")  # the relative head on each speaker's own spread
_OFFSET = ("--relative-inputs", "offset")  # ... reading the offsets only
_NEUTRAL = ("--relative-reference", "neutral")  # ... from the speaker's calm windows
HEAD_ARGS = {  # further ``emotrace train ser`` options of a recipe (session 26)
    "v6+bc@z": [*_Z],
    "v6+bc@zo": [*_Z, *_OFFSET],
    # ... and a floor under a speaker's spread (0.3 / 0.6 of the training spread; 0.1 above)
    "v6+bc@zof3": [*_Z, *_OFFSET, "--relative-scale-floor", "0.3"],
    "v6+bc@zof6": [*_Z, *_OFFSET, "--relative-scale-floor", "0.6"],
    # ... and 12 more mostly neutral (50-80 %) training groups per speaker and channel
    "v6+bc@zong": [*_Z, *_OFFSET, "--neutral-groups", "12"],
    # the offsets only, on one training spread (no z-scores)
    "v6+bc@o": [*_OFFSET],
    # session 27: the reference voice is the speaker's calm windows, not their mean
    "v6+bc@n": ["--relative-reference", "neutral"],
    "v6+bc@zon": [*_Z, *_OFFSET, "--relative-reference", "neutral"],
    # session 28: ... with temperatures from new speakers and new corpora alike, or new speakers
    "v6+bc@zonp": [*_Z, *_OFFSET, "--relative-reference", "neutral", "--calibration", "pooled"],
    "v6+bc@zons": [*_Z, *_OFFSET, "--relative-reference", "neutral", "--calibration", "speakers"],
    # session 34: ``@zon`` with the extra weight of the gender served worse searched (1, 1.3, 1.6)
    "v6+bc@zonb": [*_Z, *_OFFSET, *_NEUTRAL, "--gender-boosts", "1,1.3,1.6"],
}
# a recipe "BASE@VARIANT" trains on BASE's channels with its own heads or options
RECIPES.update({name: RECIPES[name.split("@")[0]] for name in [*MEMBERS, *HEAD_ARGS]})
# "RECIPE#VARIANT": RECIPE's builds with these model.json fields (session 27)
DECISIONS: dict[str, dict[str, Any]] = {
    "v6+bc#temper": {"unfamiliar": "temper"},  # unfamiliar windows flattened, not withheld
    "v6+bc@n#temper": {"unfamiliar": "temper"},
    "v6+bc@zon#temper": {"unfamiliar": "temper"},
    "v6+bc@zonp#temper": {"unfamiliar": "temper"},
    "v6+bc@zons#temper": {"unfamiliar": "temper"},
    "v6+bc@zonb#temper": {"unfamiliar": "temper"},
    # and the relative head weighed by how varied the speaker sounds (session 27)
    "v6+bc#temper+gate": {"unfamiliar": "temper", "relative_gate_nats": 0.25},
    # and a speaker who sounds alike all call read as windows with no group (session 35)
    "v6+bc#temper+groupgate": {"unfamiliar": "temper", "group_gate_nats": 0.25},
    # ... measured by the entropy of the windows' most likely labels (session 36)
    "v6+bc#temper+labelgate": {
        "unfamiliar": "temper",
        "group_gate_nats": 0.9,
        "group_gate_measure": "labels",
    },
    # ... and only for a speaker the familiarity check finds like the training voices
    "v6+bc#temper+labelgate+familiar": {
        "unfamiliar": "temper",
        "group_gate_nats": 0.9,
        "group_gate_measure": "labels",
        "group_gate_familiar": True,
    },
}
RECIPES.update({name: RECIPES[name.split("#")[0]] for name in DECISIONS})
VALIDATION = (*(f"ravdess_{k}" for k in range(13, 17)), "emodb_10")
CONDITIONS = ("clean", "telephone", "mp3_16", "opus8", "amrnb", "babble10")


def recipe_tag(recipe: str) -> str:
    """A recipe's name as its builds' folder names spell it (``v6+bc@m5`` -> ``v6_bc_m5``)."""
    return recipe.replace("+", "_").replace("@", "_").replace("#", "_")


def build(name: str, recipe: str, hold: list[str], work: Path, cache: str) -> Path:
    """Heads, prior and familiarity check of one model of ``recipe`` (its channels, heads
    and training options) by the product commands, without the speakers ``hold`` (reused)."""
    channels = RECIPES[recipe]
    out = work / name
    if (out / "model.json").is_file():
        return out
    if recipe in DECISIONS:  # the base recipe's build with other decision fields
        base = recipe.split("#")[0]
        source = build(
            name.replace(recipe_tag(recipe), recipe_tag(base), 1), base, hold, work, cache
        )
        return with_fields(source, out, DECISIONS[recipe])
    data = DATA
    parser = argparse.ArgumentParser()
    add_train_args(parser)
    args = parser.parse_args(
        ["--manifest", str(data / "manifest.csv"), "--root", str(data)]
        + ["--out", str(work / f"{name}_heads"), "--overwrite", "--channels", ",".join(channels)]
        + ["--features", "whisper-layer1", "--prosody", "--members", str(MEMBERS.get(recipe, 1))]
        + ["--epochs", "12"]
        + ["--gender-boosts", "1", "--hold-out", ",".join(sorted(hold))]
        + ["--noise-manifest", str(data / "read_speech.csv"), "--cache-dir", cache]
        + ["--threads", "2"]
        + HEAD_ARGS.get(recipe, [])
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


def with_fields(source: Path, out: Path, fields: dict[str, Any]) -> Path:
    """A copy of the model folder ``source`` at ``out`` with ``fields`` set in its model.json
    (same arrays; checksums rewritten)."""
    import shutil

    from analyzer.models import write_checksums

    shutil.copytree(source, out)
    config = json.loads((out / "model.json").read_text())
    (out / "model.json").write_text(json.dumps({**config, **fields}, indent=2) + "\n")
    write_checksums(out)
    return out


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
        tag = recipe_tag(recipe)
        val = build(f"{tag}_val", recipe, [*SER_HELD_OUT, *VALIDATION], args.work, args.cache)
        out: dict[str, Any] = {"validation": {}}
        for condition in CONDITIONS:
            out["validation"][condition] = score(val, sets["validation"], condition, args.cache)
            print(recipe, "validation", condition, out["validation"][condition], flush=True)
        for name, manifest in read.items():
            report = evaluate_ser(manifest, model=val, cache_dir=args.cache)
            out[name] = report["unlabelled"]["neutral_or_uncertain"]
            print(recipe, name, out[name], flush=True)
        for corpus, held in (("emodb", emodb), ("ravdess", ravdess)):
            model = build(
                f"{tag}_loco_{corpus}", recipe, [*SER_HELD_OUT, *held], args.work, args.cache
            )
            out[f"loco_{corpus}"] = score(model, sets[f"loco_{corpus}"], "clean", args.cache)
            print(recipe, f"loco_{corpus}", out[f"loco_{corpus}"], flush=True)
        results[recipe] = out
        results_file.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
