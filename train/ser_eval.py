"""Evaluation of a speech emotion model on a labelled manifest (``evaluate_ser``).

Split out of ``train.ser`` (which re-exports ``evaluate_ser`` and ``concordance``).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from analyzer.audio.ser import SpeechEmotionModel
from analyzer.labels import CIRCUMPLEX
from analyzer.models import load_model

from .metrics import classification_report, expected_calibration_error
from .ser_features import (
    DEFAULT_MODEL,
    Progress,
    extract_features,
    load_noise_pool,
    read_manifest,
)


def evaluate_ser(
    manifest: str | Path,
    root: str | Path | None = None,
    model: str | Path | SpeechEmotionModel = DEFAULT_MODEL,
    *,
    progress: Progress | None = None,
    use_groups: bool = True,
    channel: str = "clean",
    cache_dir: str | Path | None = None,
    noise_manifest: str | Path | None = None,
) -> dict:
    """Evaluate a speech emotion model on a manifest; returns a JSON-ready dict.

    Labelled rows (label in ``LABELS``): n, accuracy ("uncertain" counts as wrong), coverage
    (share of clips not "uncertain"), accuracy_covered (on those), accuracy_argmax (ignoring
    the uncertain flag), macro_f1, per_class (recall, uncertain wrong), confusion (an eighth
    column "uncertain"), labels, ece (of the argmax), ccc_arousal and ccc_valence (against the
    circumplex coordinates of the true label), per_gender and per_speaker (accuracy, when the
    manifest has those columns). Rows without a label (e.g. non-emotional read speech) are
    scored too: "unlabelled" = {n, neutral_or_uncertain, predicted counts}. Also skipped (rows
    with a label the model does not know, or unreadable audio), used_groups, channel.
    A clip is "uncertain" when its window-averaged top probability is below the model's
    ``uncertain_below``, or when at least half of its windows are unfamiliar to the model
    (``SpeechEmotionModel.unfamiliar``).
    use_groups: when the manifest has a ``speaker`` column, pass it as ``groups`` to the model, as
    the engine does for a speaker in a whole call. channel: render the audio through it first
    (telephone, a codec, babble10 ...), to measure robustness; noise_manifest: speech for
    babble (its evaluation half of speakers).
    """
    rows, root = read_manifest(manifest, root)
    ser = model if isinstance(model, SpeechEmotionModel) else load_model(model, "ser")
    if not isinstance(ser, SpeechEmotionModel):
        raise ValueError(f"{model}: not a speech emotion model of this engine (SpeechEmotionModel)")
    known = [r for r in rows if r.get("label") in ser.labels or not r.get("label")]
    unknown = [r for r in rows if r.get("label") and r.get("label") not in ser.labels]
    skipped = len(rows) - len(known)
    table = extract_features(
        known,
        root,
        channel=channel,
        encoder=ser.encoder if ser.prosody is None else ser,  # version 6: + voicestats
        cache_dir=cache_dir,
        progress=progress,
        noise=None if noise_manifest is None else partial(load_noise_pool, noise_manifest, "eval"),
    )
    skipped += int((~table.ok).sum())
    unread = [known[i]["path"] for i in np.flatnonzero(~table.ok)]
    if not table.ok.any():
        why = [f"{len(rows)} rows"]
        if unknown:
            why.append(f"{len(unknown)} with a label the model does not know (labels: "
                       f"{', '.join(ser.labels)}; e.g. {unknown[0].get('label')!r})")  # fmt: skip
        if unread:
            why.append(f"{len(unread)} unreadable or missing under {root} (e.g. {unread[0]})")
        raise ValueError(f"{manifest}: no clip could be scored: " + "; ".join(why))
    with_speaker = use_groups and bool(known) and all(r.get("speaker") for r in known)
    groups = [known[i]["speaker"] for i in table.clip] if with_speaker else None
    scores = ser.predict_features(table.features, table.speech_s, groups=groups)
    clips = np.flatnonzero(table.ok)
    k = len(ser.labels)
    sums = np.zeros((len(known), k + 2))
    np.add.at(
        sums,
        table.clip,
        np.hstack([scores.probs, scores.arousal[:, None], scores.valence[:, None]]),
    )
    counts = np.maximum(np.bincount(table.clip, minlength=len(known)), 1)[:, None]
    means = sums[clips] / counts[clips]
    clip_probs = means[:, :k] / means[:, :k].sum(axis=1, keepdims=True)
    unfamiliar = (
        np.bincount(
            table.clip,
            weights=ser.withheld(scores).astype(float),
            minlength=len(known),
        )[clips]
        / counts[clips, 0]
    )
    uncertain = (clip_probs.max(axis=1) < ser.uncertain_below) | (unfamiliar >= 0.5)
    argmax = clip_probs.argmax(axis=1)
    predicted = np.where(uncertain, k, argmax)
    labelled = np.array([bool(known[i].get("label")) for i in clips], dtype=bool)
    report: dict = {}
    if not labelled.all():
        free = predicted[~labelled]
        names = (*ser.labels, "uncertain")
        report["unlabelled"] = {
            "n": int(len(free)),
            "neutral_or_uncertain": round(float(np.mean((free == 0) | (free == k))), 4),
            "predicted": {names[j]: int(np.sum(free == j)) for j in range(k + 1)},
        }
    clips, clip_probs, uncertain = clips[labelled], clip_probs[labelled], uncertain[labelled]
    argmax, predicted, means = argmax[labelled], predicted[labelled], means[labelled]
    truth = np.array([ser.labels.index(known[i]["label"]) for i in clips], dtype=int)
    report.update(classification_report(truth, predicted, (*ser.labels, "uncertain")))
    report["labels"] = list(ser.labels)
    report["skipped"] = skipped
    if skipped:  # which rows, so a user can fix them (the first few of each kind)
        report["skipped_examples"] = {
            "unknown_label": [r["path"] for r in unknown[:5]],
            "unreadable": unread[:5],
        }
    if not len(truth):
        report.update(used_groups=with_speaker, channel=channel)
        return report
    right = predicted == truth
    report["coverage"] = round(float(1.0 - uncertain.mean()), 4)
    report["accuracy_covered"] = (
        round(float(right[~uncertain].mean()), 4) if (~uncertain).any() else None
    )
    report["accuracy_argmax"] = round(float(np.mean(argmax == truth)), 4)
    report["ece"] = round(expected_calibration_error(clip_probs, truth), 4)
    coords = np.array([CIRCUMPLEX[label] for label in ser.labels])[truth]
    report["ccc_valence"] = round(concordance(means[:, k + 1], coords[:, 0]), 4)
    report["ccc_arousal"] = round(concordance(means[:, k], coords[:, 1]), 4)
    if all(r.get("gender") for r in known):
        genders = np.array([known[i]["gender"] for i in clips])
        report["per_gender"] = {
            g: round(float(np.mean(right[genders == g])), 4) for g in sorted(set(genders))
        }
    if all(r.get("speaker") for r in known):
        speakers = np.array([known[i]["speaker"] for i in clips])
        report["per_speaker"] = {
            name: round(float(np.mean(right[speakers == name])), 4)
            for name in sorted(set(speakers))
        }
    report["used_groups"] = with_speaker
    report["channel"] = channel
    return report


def concordance(a: np.ndarray, b: np.ndarray) -> float:
    """Lin's concordance correlation coefficient of two series [n] (1: identical)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2:
        return 0.0
    cov = np.mean((a - a.mean()) * (b - b.mean()))
    return float(2 * cov / (a.var() + b.var() + (a.mean() - b.mean()) ** 2 + 1e-12))
