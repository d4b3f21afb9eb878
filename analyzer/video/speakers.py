"""Which face is whose voice: mouth movement of each face track against each speaker's speech.

A talking mouth moves: the frame-to-frame change of the ``mouth_open`` cue, averaged over a short
window, is high while its owner speaks and low while they listen. Its Pearson correlation with a
speaker's voice activity (averaged over the same window) is the evidence; a track is given to a
speaker only when that correlation is clearly positive and clearly the track's best, so weak or
ambiguous evidence leaves the track unassigned rather than guessed. Samples within one window
are not independent, so a track offers about evidence_s / WINDOW_S independent samples; r must
also clear MIN_Z / sqrt(that), which matters for tracks of a minute or less.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..arrays import FloatArray
from ..segment import Segment
from .timeline import FaceTimeline

WINDOW_S = 1.0  # s, window over which mouth movement and voice activity are averaged
MAX_STEP_S = 0.5  # s, observations further apart than this give no movement sample
MIN_EVIDENCE_S = 3.0  # s of movement samples a track needs before it can be assigned
MIN_CORRELATION = 0.2  # Pearson r below which mouth movement is not evidence of speaking
MIN_MARGIN = 0.1  # r by which the chosen speaker must beat the track's next-best speaker
MIN_Z = 2.5  # r * sqrt(evidence_s / WINDOW_S) at or above which r is not chance (short tracks)


def _window_mean(times: FloatArray, values: FloatArray, window_s: float) -> FloatArray:
    """Mean of the finite ``values`` within +-window_s/2 of each time; [n] (NaN if none)."""
    valid = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(valid, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(valid)])
    lo = np.searchsorted(times, times - 0.5 * window_s, side="left")
    hi = np.searchsorted(times, times + 0.5 * window_s, side="right")
    n = counts[hi] - counts[lo]
    out: FloatArray = (sums[hi] - sums[lo]) / np.where(n > 0, n, np.nan)
    return out


def mouth_movement(
    times: FloatArray, mouth_open: FloatArray, *, window_s: float = WINDOW_S
) -> tuple[FloatArray, FloatArray]:
    """Local mouth movement of one track.

    times [n] s (increasing), mouth_open [n] in [0, 1]. Returns (mid_times [n-1] s, movement
    [n-1]): |mouth_open[i] - mouth_open[i-1]| at the midpoint of each pair of consecutive
    observations (NaN across gaps longer than MAX_STEP_S), averaged over ``window_s``.
    """
    times = np.asarray(times, dtype=np.float64)
    mouth_open = np.asarray(mouth_open, dtype=np.float64)
    if len(times) < 2:
        return np.zeros(0), np.zeros(0)
    step = np.abs(np.diff(mouth_open))
    step[np.diff(times) > MAX_STEP_S] = np.nan
    mid = 0.5 * (times[1:] + times[:-1])
    return mid, _window_mean(mid, step, window_s)


def voice_activity(times: FloatArray, segments: Sequence[Segment]) -> FloatArray:
    """float64 [n]: 1 where ``times`` (s) fall inside any of ``segments``, else 0."""
    times = np.asarray(times, dtype=np.float64)
    if not segments:
        return np.zeros(len(times))
    spans = sorted((s.start, s.end) for s in segments)
    merged: list[list[float]] = [list(spans[0])]
    for start, end in spans[1:]:
        if start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    starts, ends = np.array(merged).T
    idx = np.searchsorted(starts, times, side="right") - 1
    inside = (idx >= 0) & (times < ends[np.clip(idx, 0, None)])
    out: FloatArray = inside.astype(np.float64)
    return out


def _pearson(a: FloatArray, b: FloatArray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return math.nan
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-12 else math.nan


def speech_correlation(
    timeline: FaceTimeline,
    speech: Mapping[str, Sequence[Segment]],
    *,
    window_s: float = WINDOW_S,
) -> dict[int, dict[str, Any]]:
    """Per track: {"evidence_s": seconds of movement samples, "r": {speaker: Pearson r or NaN}}.

    r is NaN when the speaker's activity (or the mouth movement) does not vary while the track is
    visible, i.e. there is nothing to correlate.
    """
    out = {}
    for track in timeline.tracks:
        mid, movement = mouth_movement(track.times, track.cues["mouth_open"], window_s=window_s)
        steps = np.diff(track.times)
        evidence = float(steps[steps <= MAX_STEP_S].sum()) if len(steps) else 0.0
        r = {}
        for speaker, segments in speech.items():
            voice = _window_mean(mid, voice_activity(mid, segments), window_s)
            r[speaker] = _pearson(movement, voice)
        out[track.id] = {"evidence_s": evidence, "r": r}
    return out


def _co_visible(timeline: FaceTimeline, a: int, b: int) -> bool:
    return bool(np.intersect1d(timeline.track(a).frames, timeline.track(b).frames).size)


def assign_tracks_to_speakers(
    timeline: FaceTimeline,
    speech: Mapping[str, Sequence[Segment]],
    *,
    min_corr: float = MIN_CORRELATION,
    min_margin: float = MIN_MARGIN,
    min_evidence_s: float = MIN_EVIDENCE_S,
) -> dict[int, str]:
    """Map face track ids to speaker ids where the evidence is strong; others are left out.

    speech: speaker id -> that speaker's speech segments (seconds).
    Rules: a track needs ``min_evidence_s`` of observed movement. With one face at a time on screen
    and one speaker, every such track goes to that speaker unless its mouth clearly moves against
    the speech (r <= -min_corr). Otherwise tracks and speakers are matched by Hungarian
    assignment on r, in rounds (so that a person whose face was lost and found again, as two
    tracks never on screen together, can get the same speaker); a pair is kept only when
    r >= min_corr and r beats every other speaker's r for that track by ``min_margin``, and two
    tracks visible at the same time never share a speaker. Short tracks need a higher r (MIN_Z).
    """
    from scipy.optimize import linear_sum_assignment

    speakers = [s for s, segs in speech.items() if segs]
    if not speakers or not timeline.tracks:
        return {}
    stats = speech_correlation(timeline, {s: speech[s] for s in speakers})
    eligible = [t for t in timeline.track_ids if stats[t]["evidence_s"] >= min_evidence_s]
    if len(speakers) == 1 and int(timeline.faces.max(initial=0)) <= 1:
        only = speakers[0]
        return {
            t: only
            for t in eligible
            if not stats[t]["r"][only] <= -min_corr  # NaN (no contrast) still assigns
        }

    r = np.array([[stats[t]["r"][s] for s in speakers] for t in eligible]).reshape(
        -1, len(speakers)
    )
    r = np.where(np.isfinite(r), r, -np.inf)
    best_other = np.full(r.shape, -np.inf)
    for j in range(len(speakers)):
        others = np.delete(r, j, axis=1)
        if others.shape[1]:
            best_other[:, j] = others.max(axis=1)
    evidence = np.array([stats[t]["evidence_s"] for t in eligible])
    needed = np.maximum(min_corr, MIN_Z / np.sqrt(np.maximum(evidence / WINDOW_S, 1.0)))
    good = (r >= needed[:, None]) & (r - best_other >= min_margin)

    assigned: dict[int, str] = {}
    remaining = list(range(len(eligible)))
    while remaining:
        allowed = good[remaining].copy()
        for row, i in enumerate(remaining):
            for j, speaker in enumerate(speakers):
                if allowed[row, j] and any(
                    spk == speaker and _co_visible(timeline, eligible[i], t)
                    for t, spk in assigned.items()
                ):
                    allowed[row, j] = False
        if not allowed.any():
            break
        cost = np.where(allowed, -r[remaining], 1e6)
        rows, cols = linear_sum_assignment(cost)
        new = [(remaining[a], b) for a, b in zip(rows, cols) if allowed[a, b]]
        for i, j in new:
            assigned[eligible[i]] = speakers[j]
        taken = {i for i, _ in new}
        remaining = [i for i in remaining if i not in taken]
    return dict(sorted(assigned.items()))
