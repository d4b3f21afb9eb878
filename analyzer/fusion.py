"""Fusion: per speaker and per segment, combine voice, face and prosody evidence.

Each modality brings what it has (categorical probabilities, arousal, valence) with a confidence
that already reflects its availability for this segment (how much of the segment the speaker
talks, whether the face is seen, overlap, input quality). The fused probabilities are a
confidence-weighted log-linear pool, so a confident modality dominates and an absent one counts
for nothing; arousal and valence are confidence-weighted means. Nothing is invented: a segment
with no categorical evidence has no emotion label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evidence import Evidence
from .labels import LABELS

__all__ = ["MIN_EVIDENCE", "MODALITY_PRIOR", "Evidence", "Fused", "fuse", "smooth_series"]

# How much each modality is trusted at equal confidence. Voice leads: it is the modality the
# product is built around and the one measured best on unseen people; the face model is strong
# on posed images but calls show faces at odd angles and light.
MODALITY_PRIOR = {"voice": 1.0, "face": 0.7, "prosody": 0.5, "text": 0.6}
MIN_EVIDENCE = 0.05  # total weight under which a segment is reported as without evidence


@dataclass(frozen=True)
class Fused:
    probs: np.ndarray | None  # [7] or None without categorical evidence
    arousal: float | None
    valence: float | None
    confidence: float
    weights: dict[str, float]

    @property
    def emotion(self) -> str | None:
        return None if self.probs is None else LABELS[int(np.argmax(self.probs))]


def fuse(evidence: list[Evidence]) -> Fused:
    """Combine one segment's evidence (any subset of modalities, possibly none)."""
    weights = {e.modality: MODALITY_PRIOR.get(e.modality, 0.5) * e.confidence for e in evidence}
    cat = [e for e in evidence if e.probs is not None and weights[e.modality] > 0]
    probs = None
    if cat and sum(weights[e.modality] for e in cat) >= MIN_EVIDENCE:
        w = np.array([weights[e.modality] for e in cat])
        w = w / w.sum()
        logp = sum(wi * np.log(np.clip(e.probs, 1e-6, 1.0)) for wi, e in zip(w, cat))
        probs = np.exp(logp - logp.max())
        probs = probs / probs.sum()
    arousal = _weighted([(e.arousal, weights[e.modality]) for e in evidence])
    valence = _weighted(
        [(e.valence, weights[e.modality]) for e in evidence if e.modality != "prosody"]
    )
    total = sum(weights.values())
    if total < MIN_EVIDENCE:
        confidence = 0.0
    else:
        # Mean confidence of what spoke, raised when modalities agree on the label.
        mean_conf = sum(weights[e.modality] * e.confidence for e in evidence) / total
        agree = 1.0
        if probs is not None and len(cat) > 1:
            top = int(np.argmax(probs))
            agree = float(np.mean([np.argmax(e.probs) == top for e in cat]))
        confidence = float(np.clip(mean_conf * (0.75 + 0.25 * agree), 0.0, 1.0))
    return Fused(probs, arousal, valence, confidence, weights)


def _weighted(pairs: list[tuple[float | None, float]]) -> float | None:
    pairs = [(v, w) for v, w in pairs if v is not None and np.isfinite(v) and w > 0]
    if not pairs or sum(w for _, w in pairs) < MIN_EVIDENCE:
        return None
    return float(np.clip(sum(v * w for v, w in pairs) / sum(w for _, w in pairs), -1.0, 1.0))


def _running_median(x: np.ndarray, radius: int) -> np.ndarray:
    """Median over +-radius rows of the finite rows of ``x`` [N, K] (NaN rows stay NaN)."""
    from scipy.ndimage import median_filter

    out = np.full_like(x, np.nan)
    ok = np.isfinite(x).all(axis=1)
    if ok.any():
        out[ok] = median_filter(x[ok], size=(2 * radius + 1, 1), mode="nearest")
    return out


def smooth_series(
    times: np.ndarray,
    probs: np.ndarray,
    values: np.ndarray,
    confidence: np.ndarray,
    *,
    half_life_s: float,
    edge: float = 0.35,
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth one speaker's grid without smearing real changes.

    times [N] s; probs [N, 7] (NaN rows: no evidence); values [N, V] (arousal, valence; NaN
    allowed); confidence [N]. A running median over about one half-life on each side gives a
    guide that drops short blips but keeps steps exactly; each window is then the
    confidence- and time-weighted mean (half-life ``half_life_s``) of the neighbours that agree
    with the guide at that window (total-variation distance scaled by ``edge``): a joint
    bilateral filter. Returns smoothed (probs, values).
    """
    n = len(times)
    if n == 0 or half_life_s <= 0:
        return probs, values
    step = float(np.median(np.diff(times))) if n > 1 else 1.0
    radius = max(1, int(round(half_life_s / max(step, 1e-3))))
    reach = 3 * radius
    guide_p = _running_median(probs, radius)
    guide_p = guide_p / np.nansum(guide_p, axis=1, keepdims=True).clip(1e-9)
    guide_v = np.stack(
        [_running_median(values[:, [k]], radius)[:, 0] for k in range(values.shape[1])], axis=1
    )
    has_p = np.isfinite(probs).all(axis=1)
    out_p = probs.copy()
    out_v = values.copy()
    for i in range(n):
        lo, hi = max(0, i - reach), min(n, i + reach + 1)
        dt = np.abs(times[lo:hi] - times[i])
        w = 0.5 ** (dt / half_life_s) * np.clip(confidence[lo:hi], 1e-3, 1.0)
        if has_p[i]:
            tv = 0.5 * np.nansum(np.abs(probs[lo:hi] - guide_p[i]), axis=1)
            wp = w * np.exp(-tv / edge)
            ok = has_p[lo:hi]
            if ok.any() and wp[ok].sum() > 0:
                p = (wp[ok, None] * probs[lo:hi][ok]).sum(axis=0)
                out_p[i] = p / p.sum()
        for k in range(values.shape[1]):
            if not np.isfinite(values[i, k]):
                continue
            col = values[lo:hi, k]
            ok = np.isfinite(col)
            wv = w[ok] * np.exp(-np.abs(col[ok] - guide_v[i, k]) / (2 * edge))
            if wv.sum() > 0:
                out_v[i, k] = float((wv * col[ok]).sum() / wv.sum())
    return out_p, out_v
