"""Issue 15 research (not product code): eGeMAPS-like statistics of one clip from our prosody stage.

``clip_features(wave)`` summarises ``analyzer.audio.prosody.analyze_frames`` (autocorrelation
pitch, clarity, RMS loudness on the 10 ms grid) and a 32 ms power spectrum on the same grid into
one vector of ``len(NAMES)`` values (NaN where a value is undefined, e.g. no voiced frame).
What it has of eGeMAPS: pitch in semitones (mean, std, 20/50/80th percentiles, range, slope,
rising/falling slopes), loudness (the same), harmonics-to-noise, frame-level jitter and shimmer,
voiced/unvoiced segment lengths, loudness-peak rate, pauses, alpha ratio, Hammarberg index,
spectral slopes 0-500 / 500-1500 Hz, flux, centroid and MFCC 1-4 in voiced frames (and the
spectral balance measures in unvoiced ones). What it lacks: formants and their bandwidths.
"""

from __future__ import annotations

import numpy as np

from analyzer.audio.prosody import (
    HOP_S,
    SILENCE_DB,
    ProsodyFrames,
    analyze_frames,
    frame_signal,
    speaking_rate,
)

SR = 16000
NFFT = 512  # 32 ms spectral window, 31.25 Hz bins
N_MEL = 26
ACTIVE_BELOW_MAX_DB = 35.0  # frames within this of the clip's loudest frame are "active"
PAUSE_FRAMES = 15  # inactive runs of at least 150 ms inside the active span are pauses
MAX_STEP_ST = 2.0  # pitch steps above this per 10 ms are tracking slips, not contour

_SPECTRAL = (
    "alpha_ratio",
    "hammarberg",
    "slope_0_500",
    "slope_500_1500",
    "centroid",
    "flux",
    "mfcc1",
    "mfcc2",
    "mfcc3",
    "mfcc4",
)
_STATS = ("mean", "std", "p20", "p50", "p80", "range20_80")
NAMES: tuple[str, ...] = (
    *(f"f0_st_{s}" for s in _STATS),
    "f0_slope_st_s",
    "f0_rise_st_s",
    "f0_fall_st_s",
    *(f"loud_db_{s}" for s in _STATS),
    "loud_slope_db_s",
    "loud_peak_rate",
    "hnr_db_mean",
    "hnr_db_std",
    "jitter_median",
    "jitter_mean",
    "shimmer_db_median",
    "shimmer_db_mean",
    "voiced_ratio",
    "voiced_seg_mean_s",
    "voiced_seg_std_s",
    "voiced_seg_per_s",
    "unvoiced_seg_mean_s",
    "unvoiced_seg_std_s",
    "pause_per_s",
    "pause_ratio",
    *(f"v_{n}_{s}" for n in _SPECTRAL for s in ("mean", "std")),
    *(f"uv_{n}_mean" for n in _SPECTRAL[:4]),
)


def _stats(x: np.ndarray) -> list[float]:
    if len(x) < 3:
        return [np.nan] * len(_STATS)
    p20, p50, p80 = np.percentile(x, [20, 50, 80])
    return [float(x.mean()), float(x.std()), float(p20), float(p50), float(p80), float(p80 - p20)]


def _slope(t: np.ndarray, y: np.ndarray) -> float:
    if len(t) < 5 or t[-1] - t[0] < 0.3:
        return np.nan
    return float(np.polyfit(t, y, 1)[0])


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of every run of True in ``mask``."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return starts, ends - starts


def _mel_bank() -> np.ndarray:
    """Triangular mel filters [N_MEL, NFFT // 2 + 1] from 20 Hz to 8 kHz (HTK mel scale)."""

    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges = 700.0 * (10 ** (np.linspace(mel(20.0), mel(SR / 2), N_MEL + 2) / 2595.0) - 1.0)
    freqs = np.arange(NFFT // 2 + 1) * SR / NFFT
    bank = np.zeros((N_MEL, len(freqs)))
    for m in range(N_MEL):
        lo, mid, hi = edges[m : m + 3]
        up = (freqs - lo) / (mid - lo)
        down = (hi - freqs) / (hi - mid)
        bank[m] = np.clip(np.minimum(up, down), 0.0, None)
    return bank


_BANK = _mel_bank()
_DCT = np.cos(np.pi / N_MEL * (np.arange(N_MEL)[None, :] + 0.5) * np.arange(1, 5)[:, None])
_FREQS = np.arange(NFFT // 2 + 1) * SR / NFFT


def _band_slope(db: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Least-squares slope (dB per kHz) of each frame's dB spectrum between lo and hi Hz."""
    m = (_FREQS >= lo) & (_FREQS <= hi)
    f = _FREQS[m] / 1000.0
    fc = f - f.mean()
    return ((db[:, m] - db[:, m].mean(axis=1, keepdims=True)) @ fc) / (fc @ fc)


def spectral_frames(wave: np.ndarray, n: int) -> np.ndarray:
    """[n, len(_SPECTRAL)] spectral measures on the 10 ms grid (frames centred like prosody's)."""
    frames = frame_signal(wave, sr=SR, win_s=NFFT / SR, hop_s=HOP_S)[:n]
    frames = frames * np.hanning(NFFT).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, NFFT, axis=1)) ** 2 + 1e-12
    db = 10 * np.log10(power)

    def band(lo, hi):
        return (_FREQS >= lo) & (_FREQS < hi)

    alpha = 10 * np.log10(power[:, band(50, 1000)].sum(1) / power[:, band(1000, 5000)].sum(1))
    hamm = 10 * np.log10(power[:, band(0, 2000)].max(1) / power[:, band(2000, 5000)].max(1))
    centroid = (power * _FREQS).sum(1) / power.sum(1)
    mag = np.sqrt(power)
    norm = mag / mag.sum(1, keepdims=True)
    flux = np.concatenate([[0.0], np.sum(np.diff(norm, axis=0) ** 2, axis=1)]) * 1e3
    mfcc = np.log(power @ _BANK.T + 1e-10) @ _DCT.T
    out = np.column_stack(
        [alpha, hamm, _band_slope(db, 0, 500), _band_slope(db, 500, 1500), centroid, flux, mfcc]
    )
    return out.astype(np.float64)


def clip_features(wave: np.ndarray) -> tuple[np.ndarray, float]:
    """(features [len(NAMES)] float32 with NaN where undefined, active speech seconds).

    wave: float32 mono at 16 kHz. Pitch in semitones re 27.5 Hz, loudness in dBFS, slopes per
    second, segment lengths in seconds, spectral slopes in dB/kHz, centroid in Hz.
    """
    wave = np.asarray(wave, np.float32)
    pf = analyze_frames(wave, sr=SR)
    loud = pf.loudness_db.astype(np.float64)
    n = len(loud)
    top = loud.max(initial=-120.0)
    active = (loud > max(top - ACTIVE_BELOW_MAX_DB, SILENCE_DB)) if n else np.zeros(0, bool)
    if not active.any():
        return np.full(len(NAMES), np.nan, np.float32), 0.0
    a0, a1 = np.flatnonzero(active)[[0, -1]]
    span = slice(a0, a1 + 1)
    span_s = (a1 + 1 - a0) * HOP_S
    f0 = pf.f0_hz[span].astype(np.float64)
    voiced = np.isfinite(f0)
    act = active[span]
    t = np.arange(a1 + 1 - a0) * HOP_S
    vals: list[float] = []

    st = 12.0 * np.log2(f0[voiced] / 27.5) if voiced.any() else np.zeros(0)
    vals += _stats(st)
    vals.append(_slope(t[voiced], st))
    st_all = np.where(voiced, 12.0 * np.log2(np.where(voiced, f0, 1.0) / 27.5), np.nan)
    step = np.diff(st_all)
    ok = np.isfinite(step) & (np.abs(step) < MAX_STEP_ST)
    rise, fall = step[ok & (step > 0)], step[ok & (step < 0)]
    vals.append(float(rise.mean() / HOP_S) if len(rise) else np.nan)
    vals.append(float(fall.mean() / HOP_S) if len(fall) else np.nan)

    la = loud[span][act]
    vals += _stats(la)
    vals.append(_slope(t[act], la))
    sliced = ProsodyFrames(pf.f0_hz[span], pf.clarity[span], pf.loudness_db[span])
    vals.append(float(speaking_rate(sliced, span_s)))

    clar = np.clip(pf.clarity[span][voiced].astype(np.float64), 1e-3, 0.999)
    hnr = 10 * np.log10(clar / (1 - clar))
    vals += [float(hnr.mean()), float(hnr.std())] if len(hnr) >= 3 else [np.nan, np.nan]
    pair = voiced[1:] & voiced[:-1]
    if pair.sum() > 2:
        p = 1.0 / np.where(voiced, f0, 1.0)
        jit = np.abs(np.diff(p))[pair] / p[1:][pair]
        shim = np.abs(np.diff(loud[span]))[pair]
        vals += [
            float(np.median(jit)),
            float(jit.mean()),
            float(np.median(shim)),
            float(shim.mean()),
        ]
    else:
        vals += [np.nan] * 4

    vals.append(float(voiced.mean()))
    _, vlen = _runs(voiced)
    _, ulen = _runs(~voiced & act)
    vlen_s, ulen_s = vlen * HOP_S, ulen * HOP_S
    vals += [float(vlen_s.mean()), float(vlen_s.std())] if len(vlen_s) else [np.nan, np.nan]
    vals.append(len(vlen) / span_s)
    vals += [float(ulen_s.mean()), float(ulen_s.std())] if len(ulen_s) else [np.nan, np.nan]
    _, plen = _runs(~act)
    pauses = plen[plen >= PAUSE_FRAMES]
    vals += [len(pauses) / span_s, float(pauses.sum() / len(act))]

    spec = spectral_frames(wave, n)[span]
    sv = spec[voiced]
    for k in range(spec.shape[1]):
        vals += [float(sv[:, k].mean()), float(sv[:, k].std())] if len(sv) >= 3 else [np.nan] * 2
    su = spec[~voiced & act]
    for k in range(4):
        vals.append(float(su[:, k].mean()) if len(su) >= 3 else np.nan)
    out = np.asarray(vals, np.float32)
    assert len(out) == len(NAMES), (len(out), len(NAMES))
    return out, float(act.sum() * HOP_S)
