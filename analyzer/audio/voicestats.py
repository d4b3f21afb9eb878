"""Voice statistics of a clip: eGeMAPS-like pitch, loudness, voice quality, timing and spectrum.

One clip (a speech-emotion window, an acted sentence) becomes one vector of ``len(NAMES)``
numbers that describe *how* something was said, independent of the words and the language:

- pitch (F0) in semitones re 27.5 Hz, so an octave is 12 whatever the speaker's register:
  mean, spread, percentiles, overall slope and the mean rising / falling speed of the contour;
- loudness (RMS level in dBFS) of the active frames: the same statistics, plus the rate of
  loudness peaks in voiced speech (syllable nuclei, a speaking-rate proxy);
- voice quality from the pitch tracker's autocorrelation: harmonics-to-noise ratio, and
  frame-to-frame jitter (period change) and shimmer (level change) over consecutive voiced
  frames: cheap stand-ins for the cycle-level measures, which need period marks;
- timing: voiced share, lengths of voiced and unvoiced runs, pauses (quiet runs >= 150 ms);
- spectral balance of a 32 ms power spectrum on the same 10 ms grid: alpha ratio
  (50-1000 Hz over 1-5 kHz energy, flatter in tense voices), Hammarberg index (strongest peak
  below 2 kHz over the one in 2-5 kHz), spectral slopes 0-500 and 500-1500 Hz, centroid,
  flux and MFCC 1-4, in voiced frames (mean and std) and unvoiced ones (the first four).

What it lacks against eGeMAPS: formants and their bandwidths. Frames come from
``analyzer.audio.prosody.analyze_frames`` (the prosody stage's pitch tracker and loudness).
A value is NaN where it is undefined (no voiced frame, a clip too short for a slope, silence).

The statistics are span-based: the clip is cut to the span between its first and last active
frame (within ``ACTIVE_BELOW_MAX_DB`` of its loudest frame and above the silence floor), so
leading and trailing silence do not count. ``describe_clip`` also returns the active seconds.
The values are those the issue 15 research cached for every corpus (tests/test_voicestats.py
keeps them). Frame-level measures on a 10 ms grid are fragile: moving a window by 5 ms changes
the run lengths, loudness-peak rate, rise / fall speeds, jitter and flux spread by up to about
one across-clip standard deviation (95th percentile), the loudness levels, pitch percentiles,
MFCC and spectral-slope means by under 0.2 (121 RAVDESS / EmoDB windows).

Cost (``python tests/test_voicestats.py --speed --ser``: 3 s windows, one thread, on the 2-core
development machine shared at load average 6.6-9.2): 2.0-3.3 ms CPU per second of speech,
about half of it the pitch tracking; 0.9-1.5 ms given the frames (the prosody stage's, cut
with ``window_frames`` from windows cut on its 10 ms grid: their statistics then match the
window's own to 0.08 across-clip standard deviation at worst). The shipped speech-emotion model
took 9-12 ms CPU per second of speech in the same runs (its idle stage RTF is 0.0084 against a
budget of 0.01): with the frames given the stage should stay within it, without them it is
tight (the lead's idle-machine measurement decides).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..arrays import BoolArray, FloatArray, IntArray
from ..config import SAMPLE_RATE
from .prosody import (
    HOP_S,
    SILENCE_DB,
    ProsodyFrames,
    analyze_frames,
    speaking_rate,
)

STAT_RATE = SAMPLE_RATE  # Hz; every clip is analysed at 16 kHz (others are resampled first)
NFFT = 512  # 32 ms spectral window at 16 kHz: 31.25 Hz bins
N_MEL = 26  # mel bands under the MFCCs (HTK scale, 20 Hz - 8 kHz)
N_MFCC = 4  # MFCC 1-4 (0 is overall level, already in the loudness statistics)
ACTIVE_BELOW_MAX_DB = 35.0  # dB; frames within this of the clip's loudest frame are "active"
PAUSE_FRAMES = 15  # inactive runs of at least 150 ms inside the active span are pauses
MAX_STEP_ST = 2.0  # st; pitch steps above this per 10 ms are tracking slips, not contour
SEMITONE_REF_HZ = 27.5  # semitone 0 (A0), as in eGeMAPS
MIN_STAT_FRAMES = 3  # fewer frames than this give NaN statistics
MIN_SLOPE_FRAMES = 5  # a slope needs at least this many frames ...
MIN_SLOPE_S = 0.3  # ... spread over more than this many seconds
MAX_PEAK = 4.0  # |sample| above this (+12 dBFS) is not float audio in [-1, 1]: refused
POWER_FLOOR = 1e-12  # added to every power bin so that digital silence has a finite level
FLOOR_DB = -120.0  # dBFS; the loudness of digital silence (prosody's 1e-12 power floor)
_HOP = round(HOP_S * STAT_RATE)  # samples per 10 ms frame
SPECTRAL_BLOCK = 64  # frames per block of the spectral pass: its arrays stay in the CPU cache

_SPECTRAL = (
    "alpha_ratio",
    "hammarberg",
    "slope_0_500",
    "slope_500_1500",
    "centroid",
    "flux",
    *(f"mfcc{k}" for k in range(1, N_MFCC + 1)),
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
"""Names of the statistics, in the order of every vector this module returns. Units: pitch in
semitones (st), loudness in dBFS, slopes per second, segment lengths in seconds, rates per second
of the active span, spectral slopes in dB/kHz, centroid in Hz, alpha ratio and Hammarberg in dB."""


@dataclass(frozen=True)
class VoiceStatistics:
    """The statistics of one clip and how much of it was active."""

    values: FloatArray  # [len(NAMES)] float32, NaN where undefined
    active_s: float  # s of active frames (see ACTIVE_BELOW_MAX_DB) inside the clip


def clip_statistics(
    wave: FloatArray, *, sample_rate: int = STAT_RATE, frames: ProsodyFrames | None = None
) -> FloatArray:
    """The statistics of one clip: float32 [len(NAMES)], NaN where undefined.

    wave: float mono samples in [-1, 1] at ``sample_rate`` Hz (resampled to 16 kHz if
    different). Silence, an empty or a very short clip gives NaN values, not an error.
    Raises ValueError for integer samples, samples beyond +-MAX_PEAK (int16 scale), non-finite
    samples or a multi-channel array. Clipped audio is measured as it is.
    frames: the clip's prosody frames when they are at hand (see ``describe_clip``).
    """
    return describe_clip(wave, sample_rate=sample_rate, frames=frames).values


def window_statistics(
    waves: Sequence[FloatArray],
    *,
    sample_rate: int = STAT_RATE,
    frames: Sequence[ProsodyFrames] | None = None,
) -> FloatArray:
    """``clip_statistics`` of each window: float32 [N, len(NAMES)] (N = 0 gives [0, len(NAMES)]).

    frames: None, or one ProsodyFrames per window (see ``describe_clip``).
    """
    if frames is not None and len(frames) != len(waves):
        raise ValueError(f"{len(waves)} windows but {len(frames)} frame sets")
    out = np.full((len(waves), len(NAMES)), np.nan, dtype=np.float32)
    for i, wave in enumerate(waves):
        given = None if frames is None else frames[i]
        out[i] = describe_clip(wave, sample_rate=sample_rate, frames=given).values
    return out


def describe_clip(
    wave: FloatArray, *, sample_rate: int = STAT_RATE, frames: ProsodyFrames | None = None
) -> VoiceStatistics:
    """``clip_statistics`` with the clip's active seconds (same input rules).

    frames: the clip's prosody frames if they were computed already, which skips the pitch
    tracking (about half the cost): ``analyze_frames`` of this very clip gives the same values;
    frames of a longer signal cut to the clip (the prosody stage's, with ``window_frames``)
    give nearly the same (they saw audio beyond the clip's ends, may lie up to 5 ms off its
    grid, and have pitch only where the voice activity found speech when the stage was given
    it). They must cover the clip at 16 kHz: ceil(samples / 160) frames, else ValueError.
    """
    audio = _checked(wave, sample_rate)
    if frames is None:
        pf = analyze_frames(audio, sr=STAT_RATE)
    else:
        pf = frames
        want = -(-len(audio) // _HOP)
        if not len(pf.f0_hz) == len(pf.clarity) == len(pf.loudness_db) == want:
            raise ValueError(
                f"prosody frames do not cover the clip: {len(pf.loudness_db)} frames for "
                f"{len(audio)} samples (want {want})"
            )
    loud = pf.loudness_db.astype(np.float64)
    n = len(loud)
    top = loud.max(initial=FLOOR_DB)
    active = (loud > max(top - ACTIVE_BELOW_MAX_DB, SILENCE_DB)) if n else np.zeros(0, bool)
    if not active.any():
        return VoiceStatistics(np.full(len(NAMES), np.nan, np.float32), 0.0)
    a0, a1 = np.flatnonzero(active)[[0, -1]]
    span = slice(int(a0), int(a1) + 1)
    span_s = (a1 + 1 - a0) * HOP_S
    f0 = pf.f0_hz[span].astype(np.float64)
    voiced = np.isfinite(f0)
    act = active[span]
    t = np.arange(a1 + 1 - a0) * HOP_S
    inside = ProsodyFrames(pf.f0_hz[span], pf.clarity[span], pf.loudness_db[span])

    vals: list[float] = []
    vals += _pitch_statistics(f0, voiced, t)
    la = loud[span][act]
    vals += _stats(la)
    vals.append(_slope(t[act], la))
    vals.append(float(speaking_rate(inside, span_s)))
    vals += _quality_statistics(inside, f0, voiced, loud[span])
    vals += _timing_statistics(voiced, act, span_s)
    # one frame before the span, if there is one, for the flux of the span's first frame
    before = 1 if a0 > 0 else 0
    spec = spectral_frames(audio, first=int(a0) - before, count=int(a1 - a0) + 1 + before)
    spec = spec[before:]
    vals += _spectral_statistics(spec, voiced, act)
    out = np.asarray(vals, np.float32)
    return VoiceStatistics(out, float(act.sum() * HOP_S))


def window_frames(frames: ProsodyFrames, *, start_s: float, n_samples: int) -> ProsodyFrames:
    """The frames of a window cut from a longer signal, taken from that signal's frames.

    frames: ``analyze_frames`` of the whole signal (the prosody stage's, 10 ms grid from its
    start); start_s: where the window starts in it (s); n_samples: the window's length at
    16 kHz. Returns ceil(n_samples / 160) frames, frame i being the signal's frame nearest to
    start_s + i * HOP_S (so up to 5 ms off when the window does not start on the grid); frames
    past the signal's end read as digital silence (unvoiced, FLOOR_DB). For ``frames=``.
    """
    want = -(-n_samples // _HOP)
    first = round(start_s / HOP_S)
    if first < 0:
        raise ValueError(f"a window cannot start before its signal: start_s={start_s}")
    have = len(frames.loudness_db)
    take = slice(min(first, have), min(first + want, have))
    missing = want - (take.stop - take.start)

    def padded(x: FloatArray, fill: float) -> FloatArray:
        part = np.asarray(x[take], dtype=np.float32)
        return np.concatenate([part, np.full(missing, fill, np.float32)]) if missing else part

    return ProsodyFrames(
        padded(frames.f0_hz, np.nan),
        padded(frames.clarity, 0.0),
        padded(frames.loudness_db, FLOOR_DB),
    )


def _checked(wave: FloatArray, sample_rate: int) -> FloatArray:
    """``wave`` as float32 [n] at 16 kHz, or ValueError with the reason in one line."""
    audio = np.asarray(wave)
    if audio.ndim != 1:
        raise ValueError(f"voice statistics need mono samples [n], got shape {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        hint = " (int16 samples: divide by 32768)" if np.issubdtype(audio.dtype, np.integer) else ""
        raise ValueError(f"voice statistics need float samples in [-1, 1], got {audio.dtype}{hint}")
    if not (sample_rate > 0 and int(sample_rate) == sample_rate):
        raise ValueError(f"sample rate must be a positive whole number of Hz, got {sample_rate}")
    audio = audio.astype(np.float32, copy=False)
    if len(audio):
        peak = max(float(audio.max()), -float(audio.min()))  # NaN if there is one
        if not np.isfinite(peak):
            raise ValueError("voice statistics need finite samples (the clip has NaN or inf)")
        if peak > MAX_PEAK:
            raise ValueError(
                f"samples reach {peak:.0f}: expected float audio in [-1, 1] "
                "(int16-scale samples? divide by 32768)"
            )
    if sample_rate != STAT_RATE and len(audio):
        from scipy.signal import resample_poly

        g = np.gcd(int(sample_rate), STAT_RATE)
        audio = resample_poly(audio, STAT_RATE // g, int(sample_rate) // g).astype(np.float32)
    return audio


def _stats(x: FloatArray) -> list[float]:
    """Mean, std, 20/50/80th percentiles and the 20-80 range of ``x`` (NaN under 3 values)."""
    if len(x) < MIN_STAT_FRAMES:
        return [np.nan] * len(_STATS)
    p20, p50, p80 = _percentiles(x)
    return [float(x.mean()), float(x.std()), p20, p50, p80, p80 - p20]


_QUANTILES = np.array([0.2, 0.5, 0.8])  # the percentiles of ``_stats``


def _percentiles(x: FloatArray) -> list[float]:
    """The 20th, 50th and 80th percentiles of ``x`` (numpy's default linear interpolation
    between order statistics), from one partial sort."""
    pos = _QUANTILES * (len(x) - 1)
    lo = pos.astype(np.int64)
    hi = np.minimum(lo + 1, len(x) - 1)
    part = np.partition(x, np.unique(np.concatenate([lo, hi])))
    below, above = part[lo], part[hi]
    out: list[float] = (below + (above - below) * (pos - lo)).tolist()
    return out


def _slope(t: FloatArray, y: FloatArray) -> float:
    """Least-squares slope of y over t (per second); NaN when too few or too close frames."""
    if len(t) < MIN_SLOPE_FRAMES or t[-1] - t[0] < MIN_SLOPE_S:
        return np.nan
    tc = t - t.mean()
    return float(tc @ (y - y.mean()) / (tc @ tc))


def _runs(mask: BoolArray) -> tuple[IntArray, IntArray]:
    """(start, length) of every run of True in ``mask``."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return starts, ends - starts


def _pitch_statistics(f0: FloatArray, voiced: BoolArray, t: FloatArray) -> list[float]:
    """Pitch level, spread, slope and rising / falling speed (st, st/s) of the span's contour.

    Rising and falling speeds average the 10 ms steps between consecutive voiced frames,
    leaving out steps above MAX_STEP_ST: those are octave jumps or slips of the tracker.
    """
    st = 12.0 * np.log2(f0[voiced] / SEMITONE_REF_HZ) if voiced.any() else np.zeros(0)
    vals = _stats(st)
    vals.append(_slope(t[voiced], st))
    st_all = np.full(len(f0), np.nan)
    st_all[voiced] = st
    step = np.diff(st_all)
    ok = np.isfinite(step) & (np.abs(step) < MAX_STEP_ST)
    rise, fall = step[ok & (step > 0)], step[ok & (step < 0)]
    vals.append(float(rise.mean() / HOP_S) if len(rise) else np.nan)
    vals.append(float(fall.mean() / HOP_S) if len(fall) else np.nan)
    return vals


def _quality_statistics(
    inside: ProsodyFrames, f0: FloatArray, voiced: BoolArray, loud: FloatArray
) -> list[float]:
    """Harmonics-to-noise (dB), jitter (relative period change) and shimmer (dB) of the span.

    HNR comes from the autocorrelation peak r of each voiced frame: 10 log10(r / (1 - r)).
    Jitter and shimmer compare consecutive voiced frames 10 ms apart (median and mean).
    """
    clar = np.clip(inside.clarity[voiced].astype(np.float64), 1e-3, 0.999)
    hnr = 10 * np.log10(clar / (1 - clar))
    vals = [float(hnr.mean()), float(hnr.std())] if len(hnr) >= MIN_STAT_FRAMES else [np.nan] * 2
    pair = voiced[1:] & voiced[:-1]
    if pair.sum() < MIN_STAT_FRAMES:
        return vals + [np.nan] * 4
    p = 1.0 / np.where(voiced, f0, 1.0)
    jit = np.abs(np.diff(p))[pair] / p[1:][pair]
    shim = np.abs(np.diff(loud))[pair]
    return vals + [
        float(np.median(jit)),
        float(jit.mean()),
        float(np.median(shim)),
        float(shim.mean()),
    ]


def _timing_statistics(voiced: BoolArray, act: BoolArray, span_s: float) -> list[float]:
    """Voiced share, voiced / unvoiced run lengths (s), voiced runs and pauses per second, and
    the share of the span in pauses (inactive runs of at least PAUSE_FRAMES)."""
    vals = [float(voiced.mean())]
    _, vlen = _runs(voiced)
    _, ulen = _runs(~voiced & act)
    vlen_s, ulen_s = vlen * HOP_S, ulen * HOP_S
    vals += [float(vlen_s.mean()), float(vlen_s.std())] if len(vlen_s) else [np.nan, np.nan]
    vals.append(len(vlen) / span_s)
    vals += [float(ulen_s.mean()), float(ulen_s.std())] if len(ulen_s) else [np.nan, np.nan]
    _, plen = _runs(~act)
    pauses = plen[plen >= PAUSE_FRAMES]
    return vals + [len(pauses) / span_s, float(pauses.sum() / len(act))]


def _spectral_statistics(spec: FloatArray, voiced: BoolArray, act: BoolArray) -> list[float]:
    """Mean and std of each spectral measure over voiced frames, then the mean of the first four
    (the balance measures) over active unvoiced frames; NaN under MIN_STAT_FRAMES frames."""
    sv = spec[voiced]
    out: list[float] = [np.nan] * (2 * spec.shape[1] + 4)
    if len(sv) >= MIN_STAT_FRAMES:  # mean, std of each measure in turn
        out[: 2 * spec.shape[1]] = np.column_stack([sv.mean(axis=0), sv.std(axis=0)]).ravel()
    su = spec[~voiced & act, :4]
    if len(su) >= MIN_STAT_FRAMES:
        out[2 * spec.shape[1] :] = su.mean(axis=0)
    return out


def _mel_bank() -> FloatArray:
    """Triangular mel filters [N_MEL, NFFT // 2 + 1] from 20 Hz to 8 kHz (HTK mel scale)."""

    def mel(f: float) -> float:
        return float(2595.0 * np.log10(1.0 + f / 700.0))

    edges = 700.0 * (10 ** (np.linspace(mel(20.0), mel(STAT_RATE / 2), N_MEL + 2) / 2595.0) - 1.0)
    bank = np.zeros((N_MEL, len(_FREQS)))
    for m in range(N_MEL):
        lo, mid, hi = edges[m : m + 3]
        up = (_FREQS - lo) / (mid - lo)
        down = (hi - _FREQS) / (hi - mid)
        bank[m] = np.clip(np.minimum(up, down), 0.0, None)
    return bank


def _bins(lo: float, hi: float, *, inclusive: bool = False) -> slice:
    """The rfft bins from lo Hz up to hi Hz (excluded, or included with ``inclusive``)."""
    inside = np.flatnonzero((_FREQS >= lo) & ((_FREQS <= hi) if inclusive else (_FREQS < hi)))
    return slice(int(inside[0]), int(inside[-1]) + 1)


def _slope_weights(bins: slice) -> FloatArray:
    """Weights w with ``db[bins] @ w`` = least-squares slope (dB/kHz) of the spectrum over bins
    (the centred frequencies over their sum of squares; they sum to 0, so the frame's mean
    level drops out)."""
    f = _FREQS[bins] / 1000.0
    fc = f - f.mean()
    out: FloatArray = fc / (fc @ fc)
    return out


_FREQS = np.arange(NFFT // 2 + 1) * STAT_RATE / NFFT  # Hz of each rfft bin
_BANK_T = _mel_bank().T  # [bins, N_MEL]
# DCT-II rows 1..N_MFCC over the mel bands (unnormalised), transposed: [N_MEL, N_MFCC]
_DCT_T = np.cos(np.pi / N_MEL * (np.arange(N_MEL)[:, None] + 0.5) * np.arange(1, N_MFCC + 1))
_WINDOW = np.hanning(NFFT).astype(np.float32)
_ALPHA_LOW, _ALPHA_HIGH = _bins(50, 1000), _bins(1000, 5000)
_HAMM_LOW, _HAMM_HIGH = _bins(0, 2000), _bins(2000, 5000)
_SLOPE_LOW, _SLOPE_MID = _bins(0, 500, inclusive=True), _bins(500, 1500, inclusive=True)
_W_LOW, _W_MID = _slope_weights(_SLOPE_LOW), _slope_weights(_SLOPE_MID)
_DB_BINS = max(_SLOPE_LOW.stop, _SLOPE_MID.stop)  # the slopes need levels of these bins only


def _sum_weights() -> FloatArray:
    """Weights [bins, 4 + N_MEL] that turn a power spectrum into its total, the alpha ratio's
    band sums, the centroid's numerator and the mel band energies with one product."""
    low, high = np.zeros(len(_FREQS)), np.zeros(len(_FREQS))
    low[_ALPHA_LOW], high[_ALPHA_HIGH] = 1.0, 1.0
    return np.column_stack([np.ones(len(_FREQS)), low, high, _FREQS, _BANK_T])


_SUM_ALL, _SUM_ALPHA_LOW, _SUM_ALPHA_HIGH, _SUM_CENTROID = 0, 1, 2, 3
_SUM_MEL = slice(4, 4 + N_MEL)
_SUMS = _sum_weights()


def _frames(wave: FloatArray, first: int, count: int) -> FloatArray:
    """Frames ``first`` .. ``first + count - 1`` of the 10 ms grid, NFFT samples each, centred on
    sample 160 i with zeros beyond the ends: a strided view [count, NFFT] of the stretch they
    cover (copied, padded, only where it passes an end)."""
    start = first * _HOP - NFFT // 2
    stop = start + (count - 1) * _HOP + NFFT
    stretch = wave[max(start, 0) : max(min(stop, len(wave)), 0)]
    pad = (max(-start, 0), stop - start - len(stretch) - max(-start, 0))
    stretch = np.pad(stretch, pad) if pad != (0, 0) else stretch
    out: FloatArray = np.lib.stride_tricks.sliding_window_view(stretch, NFFT)[::_HOP]
    return out


def spectral_frames(wave: FloatArray, *, first: int = 0, count: int | None = None) -> FloatArray:
    """Spectral measures float64 [count, 10] of the 10 ms grid frames ``first`` ... on.

    wave: float32 [samples] at 16 kHz; frame i is the Hann-windowed NFFT samples centred on
    sample 160 i (zeros beyond the ends), like the prosody frames; count defaults to the rest
    of the ceil(samples / 160) frames. Columns: alpha ratio (dB), Hammarberg index (dB), slopes
    0-500 and 500-1500 Hz (dB/kHz), centroid (Hz), flux (squared change of the sum-normalised
    magnitude spectrum from the previous row, x 1000; 0 on the first row), MFCC 1-4 of the
    26-band log mel spectrum.
    """
    if count is None:
        count = max(-(-len(wave) // _HOP) - first, 0)
    out = np.empty((count, len(_SPECTRAL)))
    previous: _Row | None = None
    for a in range(0, count, SPECTRAL_BLOCK):
        n = min(SPECTRAL_BLOCK, count - a)
        previous = _spectral_block(_frames(wave, first + a, n), out[a : a + n], previous)
    return out


_Row = tuple[FloatArray, float, float]  # a frame's magnitudes, their sum, its flux self-term


def _spectral_block(frames: FloatArray, out: FloatArray, previous: _Row | None) -> _Row:
    """Fill ``out`` [n, 10] with the measures of ``frames`` [n, NFFT] (see spectral_frames).

    previous: the last row of the block before (None: these are the first frames, whose
    first flux is 0). Returns this block's last row for the next one.
    """
    # windowed in float32 (as the features were cached), transformed in float64
    spec = np.fft.rfft((frames * _WINDOW).astype(np.float64), NFFT, axis=1)
    power = np.square(spec.real)
    power += np.square(spec.imag)
    power += POWER_FLOOR
    # sums over bands, the centroid's numerator and the mel energies in one product
    sums = power @ _SUMS
    power_sum = sums[:, _SUM_ALL]
    out[:, 0] = 10 * np.log10(sums[:, _SUM_ALPHA_LOW] / sums[:, _SUM_ALPHA_HIGH])
    out[:, 1] = 10 * np.log10(power[:, _HAMM_LOW].max(1) / power[:, _HAMM_HIGH].max(1))
    db = 10 * np.log10(power[:, :_DB_BINS])
    out[:, 2] = db[:, _SLOPE_LOW] @ _W_LOW
    out[:, 3] = db[:, _SLOPE_MID] @ _W_MID
    out[:, 4] = sums[:, _SUM_CENTROID] / power_sum
    # Flux from dot products, without a normalised copy of the block: with magnitudes m, their
    # sums S and powers P = |m|^2, |m_i / S_i - m_j / S_j|^2 = P_i / S_i^2 + P_j / S_j^2
    # - 2 m_i.m_j / (S_i S_j).
    mag = np.sqrt(power, out=power)  # the powers are not needed any more
    total = mag.sum(1)
    own = power_sum / total**2
    cross = np.einsum("ij,ij->i", mag[1:], mag[:-1]) / (total[1:] * total[:-1])
    out[1:, 5] = (own[1:] + own[:-1] - 2 * cross) * 1e3
    if previous is None:
        out[0, 5] = 0.0
    else:
        p_mag, p_total, p_own = previous
        out[0, 5] = (own[0] + p_own - 2 * (mag[0] @ p_mag) / (total[0] * p_total)) * 1e3
    out[:, 6:] = np.log(sums[:, _SUM_MEL] + 1e-10) @ _DCT_T
    return mag[-1].copy(), float(total[-1]), float(own[-1])
