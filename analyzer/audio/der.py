"""Diarization error rate on a 10 ms frame grid, with the best speaker mapping."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import BoolArray
from ..segment import Segment

DER_FRAME_S = 0.01  # s


def _frames(turns: list[tuple[str, Segment]], speakers: list[str], n: int) -> BoolArray:
    grid = np.zeros((len(speakers), n), dtype=bool)
    for spk, seg in turns:
        a, b = int(round(seg.start / DER_FRAME_S)), int(round(seg.end / DER_FRAME_S))
        grid[speakers.index(spk), a : min(b, n)] = True
    return grid


def diarization_error_rate(
    reference: list[tuple[str, Segment]],
    hypothesis: list[tuple[str, Segment]],
    *,
    collar_s: float = 0.0,
) -> dict[str, Any]:
    """DER = (missed + false alarm + confusion) / reference speech, all in speaker-time.

    Speakers are matched one-to-one to maximise agreement (Hungarian). Frames within
    ``collar_s`` of a reference boundary are not scored (the usual forgiveness collar).
    Returns a dict with ``der`` and its three parts, each as a share of reference speech, the
    reference speech ``reference_s`` and the parts in seconds (``missed_s``...).
    """
    from scipy.optimize import linear_sum_assignment

    end = max([s.end for _, s in reference + hypothesis] + [0.0])
    n = int(np.ceil(end / DER_FRAME_S)) + 1
    ref_spk = sorted({s for s, _ in reference})
    hyp_spk = sorted({s for s, _ in hypothesis})
    ref = _frames(reference, ref_spk, n)
    hyp = _frames(hypothesis, hyp_spk, n)
    scored = np.ones(n, dtype=bool)
    if collar_s > 0:
        c = int(round(collar_s / DER_FRAME_S))
        for _, seg in reference:
            for t in (seg.start, seg.end):
                i = int(round(t / DER_FRAME_S))
                scored[max(0, i - c) : i + c] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    # Agreement matrix and optimal mapping.
    agree = ref.astype(np.int64) @ hyp.T.astype(np.int64) if len(hyp_spk) else None
    mapped = np.zeros_like(ref)
    if agree is not None and agree.size:
        rows, cols = linear_sum_assignment(-agree)
        for r, c in zip(rows, cols):
            mapped[r] = hyp[c]
    n_ref = ref.sum(axis=0)
    n_hyp = hyp.sum(axis=0)
    total = n_ref.sum()
    miss = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    correct = (ref & mapped).sum(axis=0)
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum()
    safe = max(int(total), 1)
    return {
        "der": float((miss + false_alarm + confusion) / safe),
        "missed": float(miss / safe),
        "false_alarm": float(false_alarm / safe),
        "confusion": float(confusion / safe),
        "reference_s": float(total * DER_FRAME_S),
        # the same parts in seconds of speaker-time, to pool several files into one DER
        "missed_s": float(miss * DER_FRAME_S),
        "false_alarm_s": float(false_alarm * DER_FRAME_S),
        "confusion_s": float(confusion * DER_FRAME_S),
    }
