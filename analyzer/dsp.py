"""Small numeric helpers shared by the modalities: ramps, softmax, levels in dB, track smoothing.

Pure numpy, arrays in and arrays out; each helper exists once so every stage agrees on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def ramp(x: NDArray[Any] | float, lo: float, hi: float) -> NDArray[Any]:
    """0 at ``lo``, 1 at ``hi`` (either order), linear between, clipped; NaN stays NaN.

    Works on scalars and arrays; returns a float64 array (0-d for a scalar, use ``float()``).
    """
    return np.clip((np.asarray(x, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)


def softmax(logits: NDArray[Any]) -> NDArray[Any]:
    """Row-wise softmax of logits [N, K] (stable: the row maximum is subtracted first)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: NDArray[Any] = e / e.sum(axis=1, keepdims=True)
    return out


def power_db(power: NDArray[Any] | float, *, floor: float = 1e-10) -> NDArray[Any]:
    """Level in dB of a mean power (mean square of a signal in [-1, 1]: dBFS), ``floor`` added
    to the power so that digital silence gives ``10 log10(floor)`` rather than -inf."""
    out: NDArray[Any] = 10 * np.log10(np.asarray(power) + floor)
    return out


HALF_LIFE_S = 0.5  # s, a face frame's influence on its neighbours halves every half second
MAX_GAP_S = 1.0  # s, frames further apart than this (face lost, cut) are smoothed separately


def smooth_track(
    times: NDArray[Any], probs: NDArray[Any], *, half_life_s: float = HALF_LIFE_S,
    max_gap_s: float = MAX_GAP_S, weights: NDArray[Any] | None = None,
) -> NDArray[Any]:  # fmt: skip
    """Smooth per-frame probabilities along one track (a face); float [N, K] rows summing to 1.

    times: [N] seconds, increasing. probs: [N, K] per-frame probabilities. weights: optional [N]
    per-frame trust (e.g. confidence x face quality); rows with weight 0 or NaN probabilities do
    not influence others. Each output row is the weighted mean of the frames of its run under a
    two-sided exponential kernel 0.5 ** (|dt| / half_life_s), computed in O(N) with a forward and
    a backward pass; runs are split where consecutive frames are more than ``max_gap_s`` apart, so
    nothing leaks across a gap. Non-causal on purpose (offline analysis: no lag). A one-frame blip
    is outvoted by its neighbours while a change that lasts longer than about a half-life is kept.
    Rows that were NaN, or whose run has no weight, come back NaN.
    """
    times = np.asarray(times, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    n = len(times)
    if probs.ndim != 2 or len(probs) != n:
        raise ValueError(f"probs must be [N, K] with N = len(times) = {n}, got {probs.shape}")
    if n and np.any(np.diff(times) < 0):
        raise ValueError("times must be non-decreasing")
    if half_life_s <= 0:
        return probs.copy()
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).copy()
    bad = ~np.isfinite(probs).all(axis=1) | ~np.isfinite(w)
    w[bad] = 0.0
    values = np.where(bad[:, None], 0.0, probs) * w[:, None]

    dt = np.diff(times)
    decay = np.where(dt > max_gap_s, 0.0, 0.5 ** (dt / half_life_s))  # [N-1], link i-1 -> i
    fwd_v, fwd_w = values.copy(), w.copy()
    for i in range(1, n):
        fwd_v[i] += decay[i - 1] * fwd_v[i - 1]
        fwd_w[i] += decay[i - 1] * fwd_w[i - 1]
    bwd_v, bwd_w = values.copy(), w.copy()
    for i in range(n - 2, -1, -1):
        bwd_v[i] += decay[i] * bwd_v[i + 1]
        bwd_w[i] += decay[i] * bwd_w[i + 1]
    total_v = fwd_v + bwd_v - values  # the frame itself was counted in both passes
    total_w = fwd_w + bwd_w - w
    with np.errstate(invalid="ignore", divide="ignore"):
        out: NDArray[Any] = total_v / total_w[:, None]
    out[bad | (total_w <= 0)] = np.nan
    return out
