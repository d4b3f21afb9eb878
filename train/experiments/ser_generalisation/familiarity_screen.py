"""Issue 15 research (session 25): the familiarity check's threshold quantile, screened.

    OMP_NUM_THREADS=2 nice python -m train.experiments.ser_generalisation.familiarity_screen \
        RECIPE QUANTILE [--work DIR] [--cache DIR]

Takes ``product_screen``'s builds of RECIPE (``<tag>_val``, ``<tag>_loco_emodb``,
``<tag>_loco_ravdess`` under ``--work``), refits only their familiarity check at QUANTILE
(``train.ser_ood.add_familiarity`` on the same channels and speakers) into ``<build>_q<QQ>``,
and scores both checks: the validation speakers in every condition, read speech, the
leave-one-corpus-out sets, and ``nonspeech``: 48 synthetic windows of 3 s that hold no voice
(white and pink noise, steady tones, three-tone chords, click trains, two-tone dial pairs, at
random levels), the share flagged unfamiliar (one group, as one party's windows of a call).
Figures into ``familiarity.json`` under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.audio.ser import SpeechEmotionModel
from analyzer.models import load_model
from train.data import SER_HELD_OUT
from train.ser_eval import evaluate_ser
from train.ser_features import read_manifest

from .product_screen import CONDITIONS, DATA, RECIPES, VALIDATION, familiarity, recipe_tag, score

SR = 16000


def nonspeech(seed: int = 0) -> list[np.ndarray]:
    """48 windows of 3 s without a voice, eight of each kind."""
    rng = np.random.default_rng(seed)
    t = np.arange(3 * SR) / SR
    out = []
    for _ in range(8):
        level = 10 ** (rng.uniform(-35, -10) / 20)
        white = rng.normal(0, 1, len(t))
        pink = np.cumsum(rng.normal(0, 1, len(t)))
        pink -= np.convolve(pink, np.ones(400) / 400, mode="same")
        tone = np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
        chord = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(150, 900, 3))
        clicks = np.zeros(len(t))
        clicks[:: int(SR / rng.uniform(2, 20))] = 1.0
        dial = np.sin(2 * np.pi * rng.choice([697, 770, 852, 941]) * t) + np.sin(
            2 * np.pi * rng.choice([1209, 1336, 1477]) * t
        )
        for wave in (white, pink, tone, chord, clicks, dial):
            x = level * wave / (np.sqrt(np.mean(wave**2)) + 1e-12)
            x = x / max(1.0, float(np.abs(x).max()) / 0.99)  # clicks: peaks kept inside [-1, 1]
            out.append(x.astype(np.float32))
    return out


def flagged(model: SpeechEmotionModel, windows: list[np.ndarray]) -> float:
    features, _ = model.embed(windows)
    inputs = model.model_input(features, ["hold"] * len(windows))
    return round(float(np.mean(model.unfamiliar(inputs))), 4)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe", choices=sorted(RECIPES))
    ap.add_argument("quantile", type=float)
    ap.add_argument("--work", type=Path, default=Path("/tmp/emotrace-screen"))
    ap.add_argument("--cache", default="/tmp/emotrace-ser-cache")
    args = ap.parse_args(argv)
    tag = recipe_tag(args.recipe)
    suffix = f"_q{round(100 * args.quantile)}"
    channels = RECIPES[args.recipe]
    speakers = {r["speaker"] for r in read_manifest(DATA / "manifest.csv")[0]}
    hold = {
        "val": [*SER_HELD_OUT, *VALIDATION],
        "loco_emodb": [*SER_HELD_OUT, *(s for s in speakers if s.startswith("emodb_"))],
        "loco_ravdess": [*SER_HELD_OUT, *(s for s in speakers if s.startswith("ravdess_"))],
    }
    windows = nonspeech()
    out: dict[str, Any] = {}
    for part, held in hold.items():
        source = args.work / f"{tag}_{part}"
        refit = args.work / f"{tag}_{part}{suffix}"
        if not (refit / "model.json").is_file():
            familiarity(source, refit, held, channels, args.cache, args.quantile)
        for name, folder in (("q95", source), (suffix[1:], refit)):
            model = load_model(folder, "ser")
            assert isinstance(model, SpeechEmotionModel)
            figures: dict[str, Any] = {}
            if part == "val":
                for condition in CONDITIONS:
                    figures[condition] = score(
                        folder, args.work / "validation.csv", condition, args.cache
                    )
                for read in ("read_en", "read_zh"):
                    report = evaluate_ser(
                        args.work / f"{read}.csv", model=model, cache_dir=args.cache
                    )
                    figures[read] = report["unlabelled"]["neutral_or_uncertain"]
                figures["nonspeech_flagged"] = flagged(model, windows)
            else:
                figures["clean"] = score(folder, args.work / f"{part}.csv", "clean", args.cache)
            out.setdefault(part, {})[name] = figures
            print(part, name, json.dumps(figures)[:400], flush=True)
    (args.work / "familiarity.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
