"""Fusion: per speaker and per segment, combine voice, face and prosody evidence.

Each modality brings what it has (categorical probabilities, arousal, valence) with a confidence
that already reflects its availability for this segment (how much of the segment the speaker
talks, whether the face is seen, overlap, input quality). The fused probabilities are a
confidence-weighted log-linear pool, so a confident modality dominates and an absent one counts
for nothing; arousal and valence are confidence-weighted means. Nothing is invented: a segment
with no categorical evidence has no emotion label.

``SpeakerSources`` gathers one speaker's inputs (turns, scored speech pieces, prosody, words,
face tracks) and asks each modality for its evidence over a segment; ``turn_segments`` and
``grid_segments`` turn that into the speaker's fused turn segments and smoothed fixed grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .arrays import FloatArray
from .audio.prosody import prosody_evidence
from .audio.ser import voice_evidence
from .evidence import Evidence
from .labels import LABELS, UNCERTAIN
from .models import EmotionScores
from .result import EmotionSegment
from .segment import Segment, SegmentIndex, TimeGrid
from .words.cues import words_evidence

if TYPE_CHECKING:
    from .video.timeline import FaceTimeline

__all__ = [
    "MIN_EVIDENCE",
    "MODALITY_PRIOR",
    "Evidence",
    "Fused",
    "SpeakerSources",
    "fuse",
    "grid_segments",
    "smooth_series",
    "turn_segments",
]

# How much each modality is trusted at equal confidence. Voice leads: it is the modality the
# product is built around and the one measured best on unseen people; the face model is strong
# on posed images but calls show faces at odd angles and light.
MODALITY_PRIOR = {"voice": 1.0, "face": 0.7, "prosody": 0.5, "text": 0.6}
MIN_EVIDENCE = 0.05  # total weight under which a segment is reported as without evidence


@dataclass(frozen=True)
class Fused:
    probs: FloatArray | None  # [7] or None without categorical evidence
    arousal: float | None
    valence: float | None
    confidence: float
    weights: dict[str, float]
    uncertain: bool = False  # the probs come only from evidence that declined to name a label

    @property
    def emotion(self) -> str | None:
        if self.probs is None:
            return None
        return UNCERTAIN if self.uncertain else LABELS[int(np.argmax(self.probs))]


def fuse(evidence: list[Evidence]) -> Fused:
    """Combine one segment's evidence (any subset of modalities, possibly none).

    Evidence marked ``uncertain`` gives no label: the label comes from the other categorical
    evidence; only when there is none do its probabilities stand in, and the segment is
    "uncertain" (``Fused.uncertain``)."""
    weights = {e.modality: MODALITY_PRIOR.get(e.modality, 0.5) * e.confidence for e in evidence}
    cat = [e for e in evidence if e.probs is not None and weights[e.modality] > 0]
    sure = [e for e in cat if not e.uncertain]
    uncertain = bool(cat) and (not sure or sum(weights[e.modality] for e in sure) < MIN_EVIDENCE)
    if not uncertain:
        cat = sure
    cat_probs = [e.probs for e in cat if e.probs is not None]  # cat's, None ruled out
    probs: FloatArray | None = None
    if cat and sum(weights[e.modality] for e in cat) >= MIN_EVIDENCE:
        w = np.array([weights[e.modality] for e in cat])
        w = w / w.sum()
        terms = [wi * np.log(np.clip(p, 1e-6, 1.0)) for wi, p in zip(w, cat_probs)]
        logp = terms[0]
        for term in terms[1:]:
            logp = logp + term
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
            agree = float(np.mean([np.argmax(p) == top for p in cat_probs]))
        confidence = float(np.clip(mean_conf * (0.75 + 0.25 * agree), 0.0, 1.0))
    return Fused(probs, arousal, valence, confidence, weights, uncertain and probs is not None)


def _weighted(pairs: list[tuple[float | None, float]]) -> float | None:
    kept = [(v, w) for v, w in pairs if v is not None and np.isfinite(v) and w > 0]
    if not kept or sum(w for _, w in kept) < MIN_EVIDENCE:
        return None
    return float(np.clip(sum(v * w for v, w in kept) / sum(w for _, w in kept), -1.0, 1.0))


def _running_median(x: FloatArray, radius: int) -> FloatArray:
    """Median over +-radius rows of the finite rows of ``x`` [N, K] (NaN rows stay NaN)."""
    from scipy.ndimage import median_filter

    out = np.full_like(x, np.nan)
    ok = np.isfinite(x).all(axis=1)
    if ok.any():
        out[ok] = median_filter(x[ok], size=(2 * radius + 1, 1), mode="nearest")
    return out


def smooth_series(
    times: FloatArray,
    probs: FloatArray,
    values: FloatArray,
    confidence: FloatArray,
    *,
    half_life_s: float,
    edge: float = 0.35,
) -> tuple[FloatArray, FloatArray]:
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


@dataclass(frozen=True)
class SpeakerSources:
    """Everything fusion reads about one speaker: turns, overlaps, scored speech pieces, faces,
    and per-turn prosody and words."""

    own: SegmentIndex  # the speaker's turns
    overlaps: SegmentIndex  # stretches where two speak at once
    pieces: SegmentIndex  # the speaker's speech pieces scored by the speech model
    scores: EmotionScores | None  # the speech model's scores of ``pieces``
    timeline: FaceTimeline | None
    tracks: list[int]  # face tracks matched to the speaker
    feats: list[dict[str, Any]]  # per turn: prosodic features
    zs: list[dict[str, Any]]  # per turn: their speaker z-scores
    texts: list[dict[str, Any] | None]  # per turn: words evidence (None without transcription)

    def evidence(self, seg: Segment, turn: int | None) -> list[Evidence]:
        """Evidence of every modality for this speaker over ``seg``, in a fixed order (voice,
        prosody, text, face). turn: index of the speaker's turn whose prosody and words apply
        (None: none does)."""
        speech_s = self.own.total(seg)
        coverage = min(1.0, speech_s / max(seg.duration, 1e-6))
        overlap_share = self.overlaps.total(seg) / max(speech_s, 1e-6) if speech_s else 0.0
        out: list[Evidence | None] = []
        if self.scores is not None and speech_s > 0 and len(self.pieces):
            out.append(
                voice_evidence(
                    self.scores,
                    self.pieces.overlaps(seg),
                    speech_s=speech_s,
                    coverage=coverage,
                    overlap_share=overlap_share,
                )
            )
        if turn is not None and speech_s > 0:
            out.append(
                prosody_evidence(
                    self.feats[turn], self.zs[turn], speech_s=speech_s, coverage=coverage
                )
            )
            words = self.texts[turn]
            if words is not None:
                out.append(words_evidence(words, coverage=coverage))
        if self.timeline is not None and self.tracks:
            from .video.timeline import face_evidence  # video/ loads mediapipe: only when used

            out.append(face_evidence(self.timeline, self.tracks, seg))
        return [e for e in out if e is not None]


def turn_segments(speaker: str, src: SpeakerSources) -> list[EmotionSegment]:
    """One fused segment per speech turn of ``speaker`` (not smoothed: turns are few and long)."""
    out = []
    for k, seg in enumerate(src.own.segments):
        evidence = src.evidence(seg, k)
        f = fuse(evidence)
        out.append(
            _make_segment(
                "turn", seg, speaker, evidence, f, f.probs, f.arousal, f.valence, src.overlaps, True
            )  # fmt: skip
        )
    return out


def grid_segments(
    speaker: str,
    src: SpeakerSources,
    duration: float,
    *,
    window_s: float,
    hop_s: float,
    smoothing_s: float,
) -> list[EmotionSegment]:
    """The fixed grid for one speaker: windows of ``window_s`` every ``hop_s`` over
    [0, duration] seconds, fused, then smoothed over time (``smooth_series``, half-life
    ``smoothing_s``)."""
    rows = []
    for seg in TimeGrid(hop_s).windows(duration, window_s):
        # Prosody and words of a window: those of the turn it overlaps most.
        shared = src.own.overlaps(seg)
        best = int(np.argmax(shared)) if len(src.own) and shared.max() > 0 else None
        speech = bool(shared.sum() >= min(0.3, seg.duration / 2))
        rows.append((seg, src.evidence(seg, best), speech))
    fused = [fuse(e) for _, e, _ in rows]
    times = np.array([seg.middle for seg, _, _ in rows])
    probs = np.array(
        [f.probs if f.probs is not None else np.full(len(LABELS), np.nan) for f in fused]
    )
    values = np.array(
        [[np.nan if x is None else x for x in (f.arousal, f.valence)] for f in fused], dtype=float
    )
    conf = np.array([f.confidence for f in fused])
    probs_s, values_s = smooth_series(times, probs, values, conf, half_life_s=smoothing_s)
    out = []
    for i, ((seg, evidence, speech), f) in enumerate(zip(rows, fused)):
        p = None if not np.isfinite(probs_s[i]).all() else probs_s[i]
        a = None if not np.isfinite(values_s[i, 0]) else float(values_s[i, 0])
        v = None if not np.isfinite(values_s[i, 1]) else float(values_s[i, 1])
        out.append(
            _make_segment("window", seg, speaker, evidence, f, p, a, v, src.overlaps, speech)
        )
    return out


def _label(probs: FloatArray | None, uncertain: bool) -> str | None:
    """A segment's emotion: none without categorical evidence, "uncertain" when the only
    evidence declined to name one, else the most probable label."""
    if probs is None:
        return None
    return UNCERTAIN if uncertain else LABELS[int(np.argmax(probs))]


def _make_segment(
    kind: str,
    seg: Segment,
    spk: str,
    evidence: list[Evidence],
    f: Fused,
    probs: FloatArray | None,
    arousal: float | None,
    valence: float | None,
    overlaps: SegmentIndex,
    speech: bool,
) -> EmotionSegment:
    modalities = {e.modality: e.to_dict(f.weights.get(e.modality, 0.0)) for e in evidence}
    return EmotionSegment(
        kind=kind,
        segment=seg,
        speaker=spk,
        emotion=_label(probs, f.uncertain),
        probs={} if probs is None else {k: float(p) for k, p in zip(LABELS, probs)},
        arousal=arousal,
        valence=valence,
        confidence=f.confidence,
        modalities=modalities,
        overlap=bool(speech and overlaps.total(seg) > 0),
        speech=speech,
    )
