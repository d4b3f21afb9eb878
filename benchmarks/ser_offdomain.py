"""Off-domain figures of trained speech emotion models on cached encoder features (issue 15).

    OMP_NUM_THREADS=1 python -m benchmarks.ser_offdomain MODEL... [--json OUT]

MODEL: a name under models/ or a folder. Needs the research feature cache of
``train.experiments.ser_generalisation.extract`` (``$SER_CACHE``, default /work/cache-ser:
every clip of the shared manifest and of the read speech, clean, plus RAVDESS 17-20 and EmoDB
through the telephone channel, codecs and babble; for a version-5 model, whose heads read
encoder layer 1, the same conditions extracted with ``extract --layer1`` into ``l1_*``).
Scores, per model, with the engine's code path (``SpeechEmotionModel.predict_features`` on
the cached features, window probabilities averaged per clip, "uncertain" = the model's
threshold on the clip's mean probabilities, or at least half of the clip's windows unfamiliar
to the model, see ``clip_uncertain``):

- held-out speakers RAVDESS 17-20 and EmoDB 11 (never trained on by models that hold them out;
  version 1 trained on RAVDESS 17-20), speaker passed as ``groups``, clean and every condition,
  and clean clip by clip; accuracy ("uncertain" counts as wrong), coverage, per gender, ECE;
- all five EmoDB speakers (for models that never saw EmoDB);
- read speech: the LibriSpeech evaluation half of the speakers (``train.ser.noise_speakers``;
  the other half may fit a model's neutral bias, never these), one clip each, clip by clip; and
  AISHELL-1 (one Mandarin speaker, 100 utterances), with groups and clip by clip: the share of
  clips read neutral or uncertain; also through the telephone channel where the cache has it;
  ``read_en_evalhalf_groups``: each reader as a speaker group (their clip is their call).
- a model with ``prosody`` (version 6) reads the windows' raw ``voicestats`` from the research
  caches beside the encoder features, z-scored per speaker group by the model itself.

The last line printed is the JSON of all figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.audio.ser import SpeechEmotionModel
from analyzer.labels import LABELS
from analyzer.models import load_model
from train.metrics import expected_calibration_error

K = len(LABELS)
CONDITIONS = ("clean", "telephone", "mp3_16", "opus8", "amrnb", "babble10")


def clip_scores(
    model: SpeechEmotionModel, rows: np.ndarray, channel: str, groups: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clip probabilities [n, 7], uncertain [n], clip rows [n]) of ``rows`` in ``channel``."""
    from train.experiments.ser_generalisation.exp import SPEAKER, gather

    feats, row, _, speech = gather(rows, [channel], prefix=feature_prefix(model))
    if model.prosody is not None:
        feats = np.hstack([feats, voice_statistics(rows, channel)])
    names = list(SPEAKER[row]) if groups else None
    scores = model.predict_features(feats, speech, groups=names)
    clips, inv = np.unique(row, return_inverse=True)
    probs = np.zeros((len(clips), K))
    np.add.at(probs, inv, scores.probs)
    probs /= np.bincount(inv)[:, None]
    unfamiliar = model.withheld(scores)
    return probs, clip_uncertain(model, probs, unfamiliar, inv), clips


def voice_statistics(rows: np.ndarray, channel: str) -> np.ndarray:
    """Raw ``voicestats`` of the windows ``gather`` returns for ``rows`` in ``channel`` (a
    version-6 model's extra columns): the research caches ``prosodic`` / ``prosodic_telephone``
    and ``extract --voicestats``'s ``vs_<channel>``, aligned window by window with ``l1_``."""
    from train.experiments.ser_generalisation.exp import N, cond
    from train.experiments.ser_generalisation.v6p import aligned

    sel = np.zeros(N, bool)
    sel[rows] = True
    return aligned(channel, "product")[sel[cond("l1_" + channel).row]]


def feature_prefix(model: SpeechEmotionModel) -> str:
    """The research cache's folder prefix of the model's feature kind: "" (the CTranslate2 last
    layer, versions 1-4) or "l1_" (transformer layer 1, version 5: ``extract --layer1``)."""
    return "l1_" if model.features == "whisper-layer1" else ""


def clip_uncertain(
    model: SpeechEmotionModel, probs: np.ndarray, unfamiliar: np.ndarray, inv: np.ndarray
) -> np.ndarray:
    """A clip is "uncertain" when its mean top probability is below the model's threshold or
    at least half of its windows are unfamiliar (as the engine pools a segment's pieces)."""
    share = np.bincount(inv, weights=unfamiliar.astype(float)) / np.bincount(inv)
    return (probs.max(axis=1) < model.uncertain_below) | (share >= 0.5)


def labelled(model, rows, channel, groups) -> dict[str, Any]:
    from train.experiments.ser_generalisation.exp import GENDER, LABEL

    probs, unc, clips = clip_scores(model, rows, channel, groups)
    keep = LABEL[clips] >= 0
    probs, unc, clips = probs[keep], unc[keep], clips[keep]
    y = LABEL[clips]
    pred = np.where(unc, K, probs.argmax(axis=1))
    right = pred == y
    return {
        "n": int(len(y)),
        "accuracy": round(float(right.mean()), 4),
        "coverage": round(float(1 - unc.mean()), 4),
        "ece": round(expected_calibration_error(probs, y), 4),
        "per_gender": {
            g: round(float(right[GENDER[clips] == g].mean()), 4)
            for g in ("male", "female")
            if (GENDER[clips] == g).any()
        },
        "per_class": {LABELS[c]: round(float(right[y == c].mean()), 3) for c in np.unique(y)},
    }


def telephone_read_speech(prefix: str = "") -> bool:
    """Whether the cache holds the read speech through the telephone channel (extract.py job
    ``telephone:read``)."""
    from train.experiments.ser_generalisation.exp import FEATS

    return any((FEATS / f"{prefix}telephone").glob("read_*.npz"))


def read(model, rows, groups, channel: str = "clean") -> dict[str, Any]:
    probs, unc, _ = clip_scores(model, rows, channel, groups)
    pred = np.where(unc, K, probs.argmax(axis=1))
    names = [*LABELS, "uncertain"]
    return {
        "n": int(len(pred)),
        "neutral_or_uncertain": round(float(np.mean((pred == 0) | (pred == K))), 4),
        "uncertain": round(float(np.mean(pred == K)), 4),
        "predicted": {names[c]: int(n) for c, n in enumerate(np.bincount(pred, minlength=K + 1))},
    }


def measure(name: str) -> dict[str, Any]:
    from train.experiments.ser_generalisation.exp import (
        AISHELL_ROWS,
        CORPUS,
        LS_TEST_ROWS,
        SPEAKER,
        idx,
    )

    model = load_model(name if not Path(name).is_dir() else Path(name), "ser")
    assert isinstance(model, SpeechEmotionModel)
    r17 = idx(np.isin(SPEAKER, [f"ravdess_{a}" for a in (17, 18, 19, 20)]))
    e11 = idx(SPEAKER == "emodb_11")
    out: dict[str, Any] = {"model": name, "neutral_bias": model.neutral_bias}
    for set_name, rows in (("ravdess_17_20", r17), ("emodb_11", e11)):
        for ch in CONDITIONS:
            out[f"{set_name}_{ch}"] = labelled(model, rows, ch, True)
        out[f"{set_name}_clean_nogroups"] = labelled(model, rows, "clean", False)
    out["emodb_all_clean"] = labelled(model, idx(CORPUS == "emodb"), "clean", True)
    out["read_en_evalhalf"] = read(model, LS_TEST_ROWS, False)
    # each reader's clip as their call (a speaker group, as the engine passes speakers)
    out["read_en_evalhalf_groups"] = read(model, LS_TEST_ROWS, True)
    out["read_zh"] = read(model, AISHELL_ROWS, True)
    out["read_zh_nogroups"] = read(model, AISHELL_ROWS, False)
    if telephone_read_speech(feature_prefix(model)):
        out["read_en_evalhalf_telephone"] = read(model, LS_TEST_ROWS, False, "telephone")
        out["read_zh_telephone"] = read(model, AISHELL_ROWS, True, "telephone")
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    res = {m: measure(m) for m in args.models}
    for m, r in res.items():
        for k, v in r.items():
            if isinstance(v, dict) and "accuracy" in v:
                print(m, k, v["accuracy"], v["coverage"], v["ece"], v["per_gender"], flush=True)
            elif isinstance(v, dict):
                print(m, k, v["neutral_or_uncertain"], v["predicted"], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
