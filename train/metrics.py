"""Classification metrics shared by the speech and face evaluations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_report(
    truth: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray, labels: Sequence[str]
) -> dict:
    """Accuracy, macro-F1, per-class recall and the confusion matrix (rows: truth, cols: predicted).

    truth, predicted: class indices into ``labels``. Classes absent from ``truth`` are left out of
    the macro average (their recall is undefined) but keep their row in the confusion matrix.
    """
    k = len(labels)
    truth = np.asarray(truth, dtype=int)
    predicted = np.asarray(predicted, dtype=int)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    n = int(confusion.sum())
    f1s, per_class = [], {}
    for i, label in enumerate(labels):
        support = confusion[i].sum()
        if support == 0:
            continue
        recall = confusion[i, i] / support
        precision = confusion[i, i] / max(confusion[:, i].sum(), 1)
        f1s.append(
            0.0 if recall + precision == 0 else 2 * precision * recall / (precision + recall)
        )
        per_class[label] = round(float(recall), 4)
    return {
        "n": n,
        "accuracy": round(float(np.trace(confusion) / n), 4) if n else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "labels": list(labels),
    }


def expected_calibration_error(
    probs: np.ndarray, truth: Sequence[int] | np.ndarray, *, bins: int = 15
) -> float:
    """Expected calibration error of the top-class probability (equal-width bins).

    probs: [N, K] predicted probabilities; truth: [N] class indices.
    """
    probs = np.asarray(probs, dtype=np.float64)
    truth = np.asarray(truth, dtype=int)
    if len(probs) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def gender_gap_se(accuracy: dict[str, float], gender: dict[str, str]) -> float | None:
    """Standard error of the female - male accuracy difference, each speaker's accuracy being
    one sample (speakers, not clips, are what varies between recordings of other people).

    accuracy: speaker -> accuracy; gender: speaker -> "male" / "female". None with fewer than
    two speakers of either gender.
    """
    groups = [
        np.array([acc for name, acc in accuracy.items() if gender.get(name) == g])
        for g in ("female", "male")
    ]
    if any(len(v) < 2 for v in groups):
        return None
    return round(float(np.sqrt(sum(v.var(ddof=1) / len(v) for v in groups))), 4)
