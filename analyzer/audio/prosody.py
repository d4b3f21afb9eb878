"""Prosody on a 10 ms frame grid and per speech turn: pitch, loudness, rate, pauses, voice quality.

Pure numpy: an autocorrelation pitch tracker (with a clarity measure that doubles as voicing and
harmonics-to-noise estimate), RMS loudness, and a syllable-nucleus count for speaking rate.
Turn features are z-scored against the same speaker's turns in the same call, because "loud for
this person" is what a reviewer means by loud.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..arrays import FloatArray, IntArray
from ..config import SAMPLE_RATE
from ..dsp import power_db
from ..evidence import Evidence
from ..segment import Segment, TimeGrid

HOP_S = 0.01  # 10 ms analysis hop
WIN_S = 0.04  # 40 ms analysis window (two periods of a 50 Hz voice)
F0_MIN_HZ = 60.0
F0_MAX_HZ = 450.0
VOICING_CLARITY = 0.45  # normalised autocorrelation peak above which a frame is voiced
SILENCE_DB = -55.0  # dBFS; frames quieter than this are never voiced
LOUDNESS_BLOCK_HOPS = 60_000  # 10 ms hops per block of the loudness pass (10 minutes)
FRAMES = TimeGrid(HOP_S)  # the 10 ms frame grid

TURN_FEATURES = (
    "f0_median_hz",
    "f0_range_st",
    "f0_slope_st_s",
    "loudness_db",
    "loudness_range_db",
    "rate_syll_s",
    "pause_ratio",
    "pause_count",
    "hnr_db",
    "jitter",
    "voiced_ratio",
)
# Features whose speaker-relative z-scores feed the prosodic arousal estimate, with weights.
AROUSAL_WEIGHTS = {
    "loudness_db": 0.4,
    "f0_median_hz": 0.3,
    "f0_range_st": 0.15,
    "rate_syll_s": 0.15,
}


@dataclass(frozen=True)
class ProsodyFrames:
    """Frame-level prosody of one signal on the 10 ms grid (frame i centred at i * HOP_S)."""

    f0_hz: FloatArray  # [T] float32, NaN where unvoiced
    clarity: FloatArray  # [T] float32 in [0, 1], normalised autocorrelation peak
    loudness_db: FloatArray  # [T] float32, RMS level in dBFS

    @property
    def times(self) -> FloatArray:
        return np.arange(len(self.f0_hz)) * HOP_S

    def slice(self, seg: Segment) -> ProsodyFrames:
        a = FRAMES.index(seg.start)
        b = max(a + 1, FRAMES.index(seg.end))
        return ProsodyFrames(self.f0_hz[a:b], self.clarity[a:b], self.loudness_db[a:b])


def frame_signal(
    audio: FloatArray, *, sr: int, win_s: float = WIN_S, hop_s: float = HOP_S
) -> FloatArray:
    """Frames [T, win] of ``audio`` centred on multiples of ``hop_s`` (zero padded at the ends)."""
    samples = TimeGrid.rate(sr)
    win, hop = samples.frames(win_s), samples.frames(hop_s)
    n = int(np.ceil(len(audio) / hop))
    padded = np.pad(np.asarray(audio, dtype=np.float32), (win // 2, win + hop))
    frames: FloatArray = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n]
    return frames


def frame_rows(audio: FloatArray, rows: IntArray, *, win: int, hop: int) -> FloatArray:
    """Frames ``rows`` of ``frame_signal(audio)`` (window ``win``, hop ``hop`` samples, zeros
    beyond the ends): float32 [len(rows), win], gathered without padding the whole signal."""
    starts = np.asarray(rows, dtype=np.int64) * hop - win // 2
    index = starts[:, None] + np.arange(win)
    inside = (index >= 0) & (index < len(audio))
    out = np.zeros(index.shape, dtype=np.float32)
    out[inside] = audio[index[inside]]
    return out


def analyze_frames(
    audio: FloatArray,
    *,
    sr: int = SAMPLE_RATE,
    speech: list[Segment] | None = None,
    block: int = 4000,
) -> ProsodyFrames:
    """Pitch, voicing clarity and loudness every 10 ms.

    audio: float32 [samples] at ``sr``. speech: if given, pitch is only tracked inside these
    segments (loudness everywhere), which saves most of the work on a call's silent half.
    Returns ProsodyFrames with T = ceil(samples / (sr * HOP_S)).
    Pitch: the shortest-lag autocorrelation peak within 10 % of the highest one between
    1/F0_MAX and 1/F0_MIN (which avoids octave-down errors), refined by parabolic interpolation,
    computed at 8 kHz since voice pitch lies far below 4 kHz.
    """
    audio = np.asarray(audio, dtype=np.float32)
    loud = frame_loudness(audio, sr=sr)
    t = len(loud)
    f0 = np.full(t, np.nan, dtype=np.float32)
    clarity = np.zeros(t, dtype=np.float32)
    pitch_sr = 8000
    low = _to_8k(audio, sr) if sr != pitch_sr else audio
    pitch_rate = TimeGrid.rate(pitch_sr)
    win, hop = pitch_rate.frames(WIN_S), pitch_rate.frames(HOP_S)
    n_frames = min(t, int(np.ceil(len(low) / hop)))
    todo = loud[:n_frames] > SILENCE_DB
    if speech is not None:
        in_speech = np.zeros(t, dtype=bool)
        for seg in speech:
            in_speech[FRAMES.cover(seg)] = True
        todo &= in_speech[:n_frames]
    rows = np.flatnonzero(todo)
    lag_min, lag_max = int(pitch_sr / F0_MAX_HZ), int(pitch_sr / F0_MIN_HZ)
    window = np.hanning(win).astype(np.float32)
    nfft = 1 << int(np.ceil(np.log2(2 * win)))
    # Autocorrelation of the window itself, to undo its taper (Boersma's correction).
    w_ac = np.fft.irfft(np.abs(np.fft.rfft(window, nfft)) ** 2)[: lag_max + 2]
    w_ac = (w_ac / w_ac[0]).astype(np.float32)
    from scipy import fft as sfft  # keeps float32 (numpy's FFT doubles the memory)

    for a in range(0, len(rows), block):
        idx = rows[a : a + block]
        fr = frame_rows(low, idx, win=win, hop=hop)
        x = (fr - fr.mean(axis=1, keepdims=True)) * window
        spec = sfft.rfft(x, nfft, axis=1)
        ac = sfft.irfft((spec.real**2 + spec.imag**2), nfft, axis=1)[:, : lag_max + 2]
        del spec
        ac = ac / np.maximum(ac[:, :1], 1e-12) / np.maximum(w_ac[None, :], 1e-3)
        seg = ac[:, lag_min : lag_max + 1]
        best = seg.max(axis=1)
        local = np.zeros_like(seg, dtype=bool)
        local[:, 1:-1] = (seg[:, 1:-1] >= seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
        candidate = local & (seg >= 0.9 * best[:, None])
        k = np.where(candidate.any(axis=1), candidate.argmax(axis=1), seg.argmax(axis=1))
        r = np.arange(len(seg))
        peak = seg[r, k]
        lag_i = k + lag_min
        left, right = ac[r, lag_i - 1], ac[r, np.minimum(lag_i + 1, lag_max + 1)]
        denom = left - 2 * peak + right
        safe = np.where(np.abs(denom) > 1e-9, denom, 1.0)
        shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / safe, 0.0)
        lag = lag_i + np.clip(shift, -0.5, 0.5)
        c = np.clip(peak, 0.0, 1.0)
        clarity[idx] = c
        f0[idx] = np.where(c >= VOICING_CLARITY, pitch_sr / lag, np.nan)
    return ProsodyFrames(f0, clarity, loud)


def frame_loudness(audio: FloatArray, *, sr: int) -> FloatArray:
    """RMS level in dBFS of the WIN_S window centred on every HOP_S frame: float32 [T].

    Computed from per-hop energies (a sum over WIN_S / HOP_S hops), so memory stays linear in
    the signal rather than in frames x window.
    """
    hop = TimeGrid.rate(sr).frames(HOP_S)
    per = FRAMES.frames(WIN_S)  # hops per window
    n = int(np.ceil(len(audio) / hop))
    energy = np.empty(n, dtype=np.float32)
    step = LOUDNESS_BLOCK_HOPS  # hops at a time: no full-length copy of a long call
    for h in range(0, n, step):
        m = min(step, n - h)
        block = np.asarray(audio[h * hop : (h + m) * hop], dtype=np.float32)
        if len(block) < m * hop:  # the last hop, padded with silence
            block = np.pad(block, (0, m * hop - len(block)))
        rows = block.reshape(m, hop)
        energy[h : h + m] = np.einsum("ij,ij->i", rows, rows)
    # Frame i is centred on sample i * hop: it spans hops i - per/2 .. i + per/2 - 1.
    padded_e = np.concatenate([np.zeros(per // 2), energy, np.zeros(per)])
    window = np.convolve(padded_e, np.ones(per), mode="valid")[:n]
    return power_db(window / (per * hop), floor=1e-12).astype(np.float32)


def _to_8k(audio: FloatArray, sr: int) -> FloatArray:
    from scipy.signal import resample_poly

    g = np.gcd(int(sr), 8000)
    out: FloatArray = resample_poly(audio, 8000 // g, int(sr) // g).astype(np.float32, copy=False)
    return out


def _semitones(f0: FloatArray, ref: float) -> FloatArray:
    out: FloatArray = 12.0 * np.log2(f0 / ref)
    return out


def turn_features(frames: ProsodyFrames, seg: Segment, *, speech: list[Segment]) -> dict[str, Any]:
    """Prosodic features of one turn.

    speech: this speaker's voice-activity segments (for pause statistics inside the turn).
    Units: Hz, semitones (st), st per second, dBFS, syllables per second, ratios, counts, dB.
    """
    part = frames.slice(seg)
    voiced = np.isfinite(part.f0_hz)
    out = dict.fromkeys(TURN_FEATURES, np.nan)
    out["voiced_ratio"] = float(voiced.mean()) if len(voiced) else 0.0
    active = part.loudness_db > (np.max(part.loudness_db, initial=-120) - 35)
    if active.any():
        out["loudness_db"] = float(np.mean(part.loudness_db[active]))
        lo, hi = np.percentile(part.loudness_db[active], [10, 90])
        out["loudness_range_db"] = float(hi - lo)
    if voiced.sum() >= 5:
        f0 = part.f0_hz[voiced].astype(np.float64)
        med = float(np.median(f0))
        st = _semitones(f0, med)
        out["f0_median_hz"] = med
        lo, hi = np.percentile(st, [5, 95])
        out["f0_range_st"] = float(hi - lo)
        tt = np.flatnonzero(voiced) * HOP_S
        if tt[-1] - tt[0] > 0.3:
            out["f0_slope_st_s"] = float(np.polyfit(tt, st, 1)[0])
        clar = np.clip(part.clarity[voiced].astype(np.float64), 1e-3, 0.999)
        out["hnr_db"] = float(np.median(10 * np.log10(clar / (1 - clar))))
        # Frame-to-frame pitch perturbation over consecutive voiced frames: a cheap stand-in
        # for cycle jitter (true jitter needs period marks), robust to octave slips by median.
        run = voiced[1:] & voiced[:-1]
        if run.sum() > 2:
            p = 1.0 / part.f0_hz.astype(np.float64)
            out["jitter"] = float(np.median(np.abs(np.diff(p))[run] / p[1:][run]))
    out["rate_syll_s"] = speaking_rate(part, seg.duration)
    pauses = [g for g in _gaps_inside(seg, speech) if g.duration >= 0.15]
    out["pause_count"] = float(len(pauses))
    out["pause_ratio"] = (
        float(sum(g.duration for g in pauses) / seg.duration) if seg.duration else 0.0
    )
    return out


def speaking_rate(frames: ProsodyFrames, duration_s: float) -> float:
    """Syllables per second, counted as voiced loudness peaks at least 2 dB above their dips.

    Each syllable has one vocalic nucleus: a local maximum of the smoothed loudness contour
    inside voiced speech. Peaks closer than 100 ms are merged.
    """
    if duration_s <= 0.2 or len(frames.loudness_db) < 5:
        return np.nan
    loud = np.convolve(frames.loudness_db, np.ones(5) / 5, mode="same")
    voiced = np.isfinite(frames.f0_hz)
    peaks = (loud[1:-1] > loud[:-2]) & (loud[1:-1] >= loud[2:]) & voiced[1:-1]
    idx = np.flatnonzero(peaks) + 1
    kept: list[int] = []
    for i in idx:
        lo = max(0, i - 10)
        if loud[i] - loud[lo : i + 1].min() < 2.0:
            continue
        if kept and i - kept[-1] < 10:
            if loud[i] > loud[kept[-1]]:
                kept[-1] = i
            continue
        kept.append(i)
    return len(kept) / duration_s


def _gaps_inside(seg: Segment, speech: list[Segment]) -> list[Segment]:
    inside = sorted(s for s in speech if s.overlaps(seg))
    gaps, t = [], seg.start
    for s in inside:
        if s.start > t:
            gaps.append(Segment(t, s.start))
        t = max(t, s.end)
    return gaps


def speaker_zscores(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Z-score each feature against the same speaker's turns (median and robust spread).

    features: one dict per turn of ONE speaker. With fewer than 3 turns the z-scores are 0
    (no baseline yet). Returns dicts with the same keys, prefixed ``z_``.
    """
    out: list[dict[str, Any]] = [dict() for _ in features]
    for key in TURN_FEATURES:
        values = np.array([f.get(key, np.nan) for f in features], dtype=np.float64)
        finite = values[np.isfinite(values)]
        if len(finite) < 3:
            for o in out:
                o[f"z_{key}"] = 0.0
            continue
        med = np.median(finite)
        spread = 1.4826 * np.median(np.abs(finite - med))
        spread = max(spread, np.std(finite), 1e-6)
        for o, v in zip(out, values):
            o[f"z_{key}"] = float((v - med) / spread) if np.isfinite(v) else 0.0
    return out


def prosodic_arousal(z: dict[str, Any]) -> float:
    """Arousal in [-1, 1] from speaker-relative prosody: louder, higher, wider, faster = aroused."""
    score = sum(w * np.clip(z.get(f"z_{k}", 0.0), -3, 3) for k, w in AROUSAL_WEIGHTS.items())
    return float(np.tanh(score / 1.5))


def prosody_evidence(
    features: dict[str, Any], z: dict[str, Any], *, speech_s: float, coverage: float
) -> Evidence:
    """Prosodic arousal of one turn as fusion evidence (no categories, no valence).

    features: ``turn_features`` of the turn; z: its ``speaker_zscores`` entry. speech_s: seconds
    of the speaker's speech in the segment judged, coverage: their share of it in [0, 1]; a
    second of speech or more and full coverage give the full confidence of 0.6; a turn without
    one voiced frame (too faint, or no voice at all) gives none: its pitch is unknown and its
    z-scores say nothing.
    """
    conf = 0.6 * min(1.0, coverage * 1.5) * min(1.0, speech_s / 1.0)
    if not features.get("voiced_ratio", 0.0) > 0:
        conf = 0.0
    details = {"features": features, "z": {k[2:]: v for k, v in z.items()}}
    return Evidence("prosody", conf, None, prosodic_arousal(z), None, details)
