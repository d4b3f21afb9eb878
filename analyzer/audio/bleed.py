"""Line bleed on channel-separated calls: a delayed, filtered copy of the other channel.

On a stereo call each party has a channel, but a little of one party's voice leaks into the
other's channel (a shared handset, an echoing line, a mixing desk). The voice activity detector
hears that leak as speech. Telling it from a quiet second talker by level alone fails both ways:
a "mm-hm" said 20 dB below the other side is real speech that listening metrics need, while a
leak can be louder than that. What identifies bleed is its origin: the quieter channel is then
(almost) a linear function of the louder one, the same words through a filter and a delay. A
backchannel is a different voice and shares nothing with the other channel.

So for every voice-activity hop of a channel (the "target") that the other channel (the
"source") talks over, this module measures how much of the target's in-band power a filtered,
delayed copy of the source explains:

1. the delay: generalised cross-correlation with phase transform (GCC-PHAT) between the two
   channels over the hops where both are active, searched over 0..BLEED_MAX_LAG_S (the copy
   comes after the original), in the telephone band;
2. the source is shifted by that delay, and both channels are cut into frames centred on the
   voice-activity hops (same hop as ``vad.VAD_HOP_S``);
3. per hop, cross- and auto-spectra summed over BLEED_WINDOW_S of frames fit the line's filter
   H(f) = S_ts / S_ss; applied to the hop's own source frame it predicts the target frame, and
   the share of the target's in-band power so predicted is the hop's "explained" share (1: a
   pure copy; small for an independent voice: the window-averaged magnitude-squared coherence,
   weighted by the target's spectrum, is what the fit can explain);
4. a hop is bleed when the target is the quieter of the two in the band (coherence is symmetric:
   the quieter side is the copy) and either that share reaches BLEED_COHERENCE or what the copy
   leaves unexplained is no more than line noise (within OWN_SPEECH_DB of the channel's noise
   floor): a faint leak half buried in noise is still no second talker. Hops of the target
   within half a window of the source's speech, where the source's detector is already off
   (the target's detector hangs on), are bleed when the residue is line noise.

``cancel_bleed`` uses the same model the other way round, before voice activity: it removes
from every channel the filtered, delayed copy of the other channel (line-echo cancellation in
the frequency domain), so that the voice activity detector hears each party as if alone. The
engine runs it on channel-separated calls; judging hops after the detector (``detect_bleed``)
decides a whole hop at a time and so cuts a quiet backchannel that shares its hops with bleed,
and lets the detector's hang-over on the bleed lengthen overlaps.

Everything here is a pure function of arrays: audio [channels, samples], activity masks
[channels, hops] on the voice-activity hop grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .vad import VAD_HOP_S

Array = NDArray[Any]

BLEED_MAX_LAG_S = 0.05  # s; longest line delay searched (echo paths on phone lines are shorter)
BLEED_BAND_HZ = (300.0, 3400.0)  # Hz; the telephone band, where every line carries the voice
BLEED_FRAME_HOPS = 2  # frames are two hops long (64 ms at 16 kHz), centred on each hop
BLEED_WINDOW_S = 0.48  # s of frames whose spectra are pooled for one hop's coherence
BLEED_COHERENCE = 0.6  # share of the target's in-band power explained by the source: bleed
OWN_SPEECH_DB = 6.0  # dB; what the source does not explain must exceed the noise floor by this
NOISE_FLOOR_PERCENTILE = 10  # the channel's noise floor: this percentile of its hop band powers
SMOOTH_HOPS = 5  # hops; the bleed decision is a majority vote over this many (160 ms)
LAG_FRAME_S = 0.256  # s; frame length of the delay search (holds the longest lag 5 times over)
LINE_WINDOW_S = 2.0  # s of bleed-only frames around a frame that fit the line's filter there
LINE_REFITS = 2  # fits on the bleed-only frames, each picking them by the previous fit
CANCEL_BLOCK_HOPS = 512  # hops per block of the cancellation: bounds memory, keeps a block in cache
ACTIVE_DB = 10.0  # dB over the channel's noise floor: a hop with sound, for the delay search
LEVEL_CROSSTALK_DB = 15.0  # dB; the level-only rule's margin (``level_bleed_mask``)
LEVEL_WINDOW_S = 0.5  # s; the level-only rule's averaging window


@dataclass(frozen=True)
class BleedEvidence:
    """What the detector measured, per channel and voice-activity hop.

    mask: bool [channels, hops], True where active speech is bleed of another channel;
    explained: float [channels, hops], share of the channel's in-band power explained by a
    filtered, delayed copy of its loudest other active channel (NaN where not measured: the
    channel silent or nobody else talking); source: int [channels, hops], that other channel
    (-1 where not measured); lags_s: {(target, source): delay in seconds} per channel pair.
    """

    mask: Array
    explained: Array
    source: Array
    lags_s: dict[tuple[int, int], float]


def bleed_mask(
    active: Array,
    audio: Array,
    *,
    sr: int = 16000,
    hop_s: float = VAD_HOP_S,
    threshold: float = BLEED_COHERENCE,
) -> Array:
    """Bool [channels, hops]: the active hops that are bleed of another channel.

    The drop-in for the level rule inside ``speakers.channel_turns`` (same meaning: True where
    ``active`` speech is to be removed as bleed), measured by coherence instead of level.
    active: bool [channels, hops] voice activity on the hop grid (hop i covers samples
    [i * hop, (i + 1) * hop)); audio: float [channels, samples] at ``sr`` Hz.
    """
    return detect_bleed(active, audio, sr=sr, hop_s=hop_s, threshold=threshold).mask


def detect_bleed(
    active: Array,
    audio: Array,
    *,
    sr: int = 16000,
    hop_s: float = VAD_HOP_S,
    threshold: float = BLEED_COHERENCE,
    max_lag_s: float = BLEED_MAX_LAG_S,
    window_s: float = BLEED_WINDOW_S,
) -> BleedEvidence:
    """Bleed per channel and hop with its evidence (see the module docstring for the method)."""
    active = np.asarray(active, dtype=bool)
    audio = np.asarray(audio, dtype=np.float32)
    n_ch, n_hops = active.shape
    mask = np.zeros_like(active)
    explained = np.full(active.shape, np.nan)
    source = np.full(active.shape, -1, dtype=int)
    lags: dict[tuple[int, int], float] = {}
    if n_ch < 2 or n_hops == 0:
        return BleedEvidence(mask, explained, source, lags)
    hop = int(round(hop_s * sr))
    frame = BLEED_FRAME_HOPS * hop
    band = _band_bins(frame, sr)
    spectra = [_hop_spectra(ch, hop, frame, n_hops)[:, band] for ch in audio]
    power = np.stack([(np.abs(s) ** 2).sum(axis=1) for s in spectra])  # [channels, hops]
    win = max(1, int(round(window_s / hop_s)))
    for tgt in range(n_ch):
        floor = np.percentile(power[tgt], NOISE_FLOOR_PERCENTILE)
        best = np.full(n_hops, -np.inf)
        for src in range(n_ch):
            if src == tgt:
                continue
            both = active[tgt] & active[src]
            if not both.any():
                continue
            # The detector's hang-over keeps the copy "active" a little past the source's own
            # speech: hops of the target near the source's speech are candidates too.
            near = active[tgt] & (_moving_sum(active[src].astype(float), win) > 0)
            lag = _estimate_lag(audio[tgt], audio[src], both, hop, sr, max_lag_s)
            lags[(tgt, src)] = lag / sr
            shifted = _hop_spectra(_delay(audio[src], lag), hop, frame, n_hops)[:, band]
            residual = _residual_power(spectra[tgt], shifted, win)
            share = 1.0 - residual / np.maximum(power[tgt], 1e-20)
            quieter = _moving_sum(power[tgt], win) < _moving_sum(power[src], win)
            own = residual > floor * 10 ** (OWN_SPEECH_DB / 10)
            # Compare against the loudest other talker active at each hop.
            pick = near & (power[src] > best)
            best = np.where(pick, power[src], best)
            explained[tgt] = np.where(pick, share, explained[tgt])
            source[tgt] = np.where(pick, src, source[tgt])
            copy = (share >= threshold) | ~own
            # Majority over SMOOTH_HOPS: single frames at syllable edges do not flip the call.
            copy = _moving_sum(copy.astype(float), SMOOTH_HOPS) > SMOOTH_HOPS / 2
            # Away from the source's speech only an unexplained residue at the noise floor
            # makes a hop bleed (there the share is of little meaning).
            mask[tgt] |= (both & quieter & copy) | (near & ~both & ~own)
    return BleedEvidence(mask, explained, source, lags)


@dataclass(frozen=True)
class BleedCancellation:
    """Channels with the other channels' bleed removed (float32 [channels, samples], same
    shape as the input) and the delay found per (target, source) channel pair in seconds."""

    audio: Array
    lags_s: dict[tuple[int, int], float]


def cancel_bleed(
    audio: Array,
    *,
    sr: int = 16000,
    hop_s: float = VAD_HOP_S,
    window_s: float = LINE_WINDOW_S,
    max_lag_s: float = BLEED_MAX_LAG_S,
) -> BleedCancellation:
    """Remove from each channel the filtered, delayed copy of every other channel.

    Per target and source channel: the delay by GCC-PHAT (as ``detect_bleed``, over hops where
    both channels carry sound), then in the short-time Fourier domain (frames of two hops,
    square-root Hann, so that an untouched channel is rebuilt exactly) the line's filter
    H(f) = S_ts / S_ss and the predicted copy H S subtracted. The filter is fitted on the frames
    that are bleed alone (``_subtract_copy``): first locally (BLEED_WINDOW_S of frames, only
    where the target is the quieter side over them), which finds the frames the copy explains;
    then on those frames within ``window_s`` around each frame, so that neither a cut-in's
    first syllable nor a backchannel bends it, and the leak is taken away as soon as the target
    stops talking. A leak is never louder than its source (|H| <= 1), and taking it away never
    adds power to a frame. Memory stays bounded: the work goes CANCEL_BLOCK_HOPS frames at a
    time; a chunk of a long call may be passed on its own (the fit needs ``window_s`` of it).
    audio: float [channels, samples] at ``sr`` Hz.
    """
    audio = np.asarray(audio, dtype=np.float32)
    n_ch, n = audio.shape
    out = audio.copy()
    lags: dict[tuple[int, int], float] = {}
    if n_ch < 2 or n == 0:
        return BleedCancellation(out, lags)
    hop = int(round(hop_s * sr))
    frame = 2 * hop
    n_hops = int(np.ceil(n / hop))
    band = _band_bins(frame, sr)
    power = np.stack([_band_power(ch, hop, frame, n_hops, band) for ch in audio])
    floor = np.percentile(power, NOISE_FLOOR_PERCENTILE, axis=1)[:, None]
    sounding = power > floor * 10 ** (ACTIVE_DB / 10)
    win = max(1, int(round(window_s / hop_s)))
    local = max(1, int(round(BLEED_WINDOW_S / hop_s)))
    for tgt in range(n_ch):
        for src in range(n_ch):
            if src == tgt:
                continue
            both = sounding[tgt] & sounding[src]
            lag = _estimate_lag(audio[tgt], audio[src], both, hop, sr, max_lag_s)
            lags[(tgt, src)] = lag / sr
            out[tgt] = _subtract_copy(
                out[tgt],
                _delay(audio[src], lag),
                hop,
                win,
                sr=sr,
                local=local,
                sounding=_delay(sounding[src], int(round(lag / hop))),
            )
    return BleedCancellation(out, lags)


def level_over_floor_db(audio: Array, *, sr: int = 16000, hop_s: float = VAD_HOP_S) -> Array:
    """Float [channels, hops]: each voice-activity hop's in-band level over its channel's noise
    floor (NOISE_FLOOR_PERCENTILE of the channel's hop levels), in dB, from frames of two hops
    centred on each hop (as ``cancel_bleed``); hop i is samples [i * hop, (i + 1) * hop), as the
    VAD's. Of cancelled channels (``cancel_bleed``),
    what stands over the floor is the party's own sound (``turns.refine_activity``)."""
    audio = np.asarray(audio, dtype=np.float32)
    n_ch, n = audio.shape
    hop = int(round(hop_s * sr))
    n_hops = int(np.ceil(n / hop))
    if n_hops == 0:
        return np.zeros((n_ch, 0))
    frame = BLEED_FRAME_HOPS * hop
    band = _band_bins(frame, sr)
    power = np.stack([_band_power(ch, hop, frame, n_hops, band) for ch in audio])
    floor = np.percentile(power, NOISE_FLOOR_PERCENTILE, axis=1)[:, None]
    out: Array = 10 * np.log10(np.maximum(power, 1e-20) / np.maximum(floor, 1e-20))
    return out


def level_bleed_mask(
    active: Array,
    rms_db: Array,
    *,
    hop_s: float = VAD_HOP_S,
    crosstalk_db: float = LEVEL_CROSSTALK_DB,
    window_s: float = LEVEL_WINDOW_S,
) -> Array:
    """Today's level-only rule, for comparison: active hops ``crosstalk_db`` below the loudest
    channel's level averaged over ``window_s`` (bool [channels, hops]).

    rms_db: [channels, hops] frame levels in dB. It removes a real backchannel said more than
    ``crosstalk_db`` below the other side, which ``bleed_mask`` keeps.
    """
    active = np.asarray(active, dtype=bool)
    if len(active) < 2:
        return np.zeros_like(active)
    k = max(1, int(window_s / hop_s))
    kernel = np.ones(k) / k
    power = 10 ** (np.asarray(rms_db, dtype=float) / 10)
    level = 10 * np.log10(np.stack([np.convolve(p, kernel, mode="same") for p in power]) + 1e-10)
    out: Array = active & (level < level.max(axis=0)[None, :] - crosstalk_db)
    return out


# ---------------------------------------------------------------------------------------------
def _band_bins(frame: int, sr: int) -> Array:
    freqs = np.fft.rfftfreq(frame, 1.0 / sr)
    lo, hi = BLEED_BAND_HZ
    return np.flatnonzero((freqs >= lo) & (freqs <= min(hi, 0.45 * sr)))


def _hop_spectra(x: Array, hop: int, frame: int, n_hops: int) -> Array:
    """Complex spectra [hops, frame // 2 + 1] of Hann frames centred on each hop's middle."""
    pad = (frame - hop) // 2
    padded = np.zeros(n_hops * hop + frame, dtype=np.float32)
    seg = x[: n_hops * hop]
    padded[pad : pad + len(seg)] = seg
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop][:n_hops]
    return np.fft.rfft(frames * np.hanning(frame).astype(np.float32), axis=1).astype(np.complex64)


def _band_slice(frame: int, sr: int) -> slice:
    """``_band_bins`` as a slice (the band is one run of bins): views instead of copies."""
    bins = _band_bins(frame, sr)
    return slice(int(bins[0]), int(bins[-1]) + 1)


def _band_power(x: Array, hop: int, frame: int, n_hops: int, band: Array) -> Array:
    """In-band power per hop (as ``_hop_spectra``), CANCEL_BLOCK_HOPS hops at a time."""
    out = np.empty(n_hops)
    pad = (frame - hop) // 2
    for a in range(0, n_hops, CANCEL_BLOCK_HOPS):
        b = min(n_hops, a + CANCEL_BLOCK_HOPS)
        lo = max(0, a * hop - pad)
        piece = np.zeros((b - a) * hop + frame, np.float32)
        seg = x[lo : b * hop + frame - pad]
        piece[lo - (a * hop - pad) :][: len(seg)] = seg
        frames = np.lib.stride_tricks.sliding_window_view(piece, frame)[::hop][: b - a]
        spec = np.fft.rfft(frames * np.hanning(frame).astype(np.float32), axis=1)[:, band]
        out[a:b] = (np.abs(spec) ** 2).sum(axis=1)
    return out


def _delay(x: Array, lag: int) -> Array:
    """``x`` delayed by ``lag`` samples (zeros shifted in), same length."""
    if lag <= 0:
        return x
    out = np.zeros_like(x)
    out[lag:] = x[: len(x) - lag]
    return out


def _moving_sum(x: Array, win: int, rows: slice | None = None) -> Array:
    """Centred moving sum over ``win`` entries along axis 0 (shorter at the edges): entry i is
    the sum of x[i - win // 2 : i - win // 2 + win] clipped to the array, taken as the
    difference of two running sums. ``rows`` (a slice with unit step): only those entries.

    The running sum is written once and read in place (no padded copy of ``x``, no gathered
    copies of it): on the cancellation's [frames, bins] spectra this is most of the cost."""
    n = len(x)
    start, stop, _ = (rows or slice(None)).indices(n)
    stop = max(start, stop)
    c = np.empty((n + 1,) + x.shape[1:], np.cumsum(x[:0], axis=0).dtype)
    c[0] = 0
    np.cumsum(x, axis=0, out=c[1:])
    half = win // 2
    out: Array = np.empty((stop - start,) + x.shape[1:], c.dtype)
    # Rows whose window lies inside the array, [half, half + n + 1 - win), are slices of c.
    first, last = max(start, half), min(stop, half + n + 1 - win)
    if last > first:
        np.subtract(
            c[first - half + win : last - half + win],
            c[first - half : last - half],
            out=out[first - start : last - start],
        )
        edge = np.r_[start:first, last:stop]
    else:
        edge = np.arange(start, stop)
    if len(edge):
        lo = np.clip(edge - half, 0, n)
        hi = np.clip(edge - half + win, 0, n)
        out[edge - start] = c[hi] - c[lo]
    return out


def _residual_power(target: Array, src: Array, win: int) -> Array:
    """Per hop: in-band power of the hop's target frame that the source does not explain.

    The filter H(f) = S_ts / S_ss is fitted on ``win`` frames around the hop (a line is a
    slowly varying filter), then applied to the hop's own source frame: a backchannel next to
    pure bleed leaves its own frames unexplained without making the bleed frames look like
    speech. target, src: complex spectra [hops, bins]. Returns float [hops].
    """
    s_ts = _moving_sum((target * np.conj(src)).astype(np.complex128), win)
    s_ss = _moving_sum((np.abs(src) ** 2).astype(np.float64), win)
    h = s_ts / np.maximum(s_ss, 1e-20)
    out: Array = (np.abs(target - h * src) ** 2).sum(axis=1)
    return out


def _estimate_lag(
    target: Array, src: Array, both: Array, hop: int, sr: int, max_lag_s: float
) -> int:
    """Samples by which ``target`` lags ``src`` (0..max_lag), by GCC-PHAT in the band over the
    stretches where both channels are active."""
    frame = int(2 ** np.ceil(np.log2(LAG_FRAME_S * sr)))
    max_lag = min(int(round(max_lag_s * sr)), frame // 4)
    centres = np.flatnonzero(both) * hop + hop // 2
    centres = centres[(centres >= frame // 2) & (centres + frame // 2 <= len(target))]
    if len(centres) == 0:
        return 0
    centres = centres[:: max(1, len(centres) // 400)]  # a few hundred frames fix a delay
    idx = centres[:, None] - frame // 2 + np.arange(frame)[None, :]
    window = np.hanning(frame)
    spec_t = np.fft.rfft(target[idx] * window, axis=1)
    spec_s = np.fft.rfft(src[idx] * window, axis=1)
    cross = spec_t * np.conj(spec_s)
    cross /= np.maximum(np.abs(cross), 1e-12)
    weights = np.zeros(cross.shape[1])
    weights[_band_bins(frame, sr)] = 1.0
    corr = np.fft.irfft((cross * weights).sum(axis=0), n=frame)
    # Positive lags (target after source) sit at the start of the circular correlation.
    return int(np.argmax(corr[: max_lag + 1]))


def _subtract_copy(
    target: Array,
    src: Array,
    hop: int,
    win: int,
    *,
    sr: int,
    local: int,
    sounding: Array,
    share: float = BLEED_COHERENCE,
) -> Array:
    """``target`` minus the part of it a slowly varying filter of ``src`` explains (see
    ``cancel_bleed``), block by block of CANCEL_BLOCK_HOPS frames with the context the two
    fits below need on each side, so memory does not grow with the call.

    The line's filter is fitted on the frames that are bleed alone, so that the target's own
    voice neither bends it (a cut-in's first syllable, a backchannel) nor stops the
    cancellation while the fit still sees it (the leak right after the target stops talking):

    1. a local filter over ``local`` frames around each frame, where the target is the
       quieter side over them (where its own voice dominates, the fit sees that voice leaking
       back through the source, not the line);
    2. the frames where the source sounds (``sounding``: bool per hop, ACTIVE_DB over its
       floor) and whose band power that filter explains by at least ``share`` (the copy
       dominates them; BLEED_COHERENCE, the share at which ``detect_bleed`` calls a hop
       bleed) are the bleed-only frames, each weighing the same however loud it is;
    3. the filter refitted on the bleed-only frames within ``win`` frames (LINE_REFITS
       times, each picking the bleed-only frames by the previous fit; a lone bleed-only frame
       among others is a syllable edge and left out, as ``detect_bleed`` does). It replaces
       the local filter where the local window holds more than bleed (the target's own voice
       nearby) and at least ``local`` bleed-only frames are within ``win``; where the local
       window is bleed alone, the local fit is unbent and follows the line closest.
    |H| <= 1 (a leak is never louder than its source); the copy is subtracted from every
    frame, except where taking it away would add power to the frame (a wrong fit: a leak
    taken away only ever lowers it).
    """
    n = len(target)
    frame = 2 * hop
    window = np.sqrt(np.hanning(frame + 1)[:frame]).astype(np.float32)  # periodic: sums to 1
    n_frames = int(np.ceil(n / hop)) + 1  # frame k covers samples [(k - 1) hop, (k + 1) hop)
    pad_t = np.zeros((n_frames + 1) * hop, np.float32)
    pad_s = np.zeros_like(pad_t)
    pad_t[hop : hop + n] = target
    pad_s[hop : hop + len(src)] = src[:n]
    frames_t = np.lib.stride_tricks.sliding_window_view(pad_t, frame)[::hop][:n_frames]
    frames_s = np.lib.stride_tricks.sliding_window_view(pad_s, frame)[::hop][:n_frames]
    band = _band_slice(frame, sr)
    # Frame k is centred on the boundary of hops k - 1 and k: the source sounds if in either.
    hop_on = np.asarray(sounding, dtype=bool)
    on = np.zeros(n_frames, bool)
    on[: len(hop_on)] |= hop_on[:n_frames]
    on[1 : len(hop_on) + 1] |= hop_on[: n_frames - 1]
    out = np.zeros_like(pad_t)
    ctx = win + local  # the refit at a frame reads local fits up to win / 2 frames away
    for a in range(0, n_frames, CANCEL_BLOCK_HOPS):
        b = min(n_frames, a + CANCEL_BLOCK_HOPS)
        lo, hi = max(0, a - ctx), min(n_frames, b + ctx)
        own = slice(a - lo, b - lo)  # the block's own frames within its context
        spec_t = np.fft.rfft(frames_t[lo:hi] * window, axis=1)
        spec_s = np.fft.rfft(frames_s[lo:hi] * window, axis=1)
        cross = spec_t * np.conj(spec_s)
        p_ss = np.abs(spec_s) ** 2
        p_tt = np.abs(spec_t) ** 2
        s_ss = _moving_sum(p_ss, local)
        h = _line_filter(_moving_sum(cross, local), s_ss)
        h[_moving_sum(p_tt, local) >= s_ss] = 0.0
        del s_ss
        # The refits judge frames by their in-band sums only: every fit but the last is
        # needed in the band alone, the last one only on the block's own frames.
        cross_b, p_ss_b, spec_t_b, spec_s_b = (
            cross[:, band],
            p_ss[:, band],
            spec_t[:, band],
            spec_s[:, band],
        )
        band_t = p_tt[:, band].sum(axis=1)
        # Each frame's evidence of the line counts once, however loud the frame is.
        unit = 1.0 / np.maximum(p_ss_b.sum(axis=1), 1e-20)[:, None]
        fit_b = h[:, band]
        for refit in range(LINE_REFITS):
            resid = (np.abs(spec_t_b - fit_b * spec_s_b) ** 2).sum(axis=1)
            copy = ((resid <= (1.0 - share) * band_t) & on[lo:hi])[:, None].astype(float)
            # A lone frame among others is a syllable edge, not the line (as ``detect_bleed``).
            copy *= _moving_sum(copy, SMOOTH_HOPS) > SMOOTH_HOPS / 2
            if refit < LINE_REFITS - 1:
                fit_b = _fit_filter(cross_b, p_ss_b, copy * unit, win)
        # Where the local window is bleed alone the local fit is unbent and follows the line
        # closest; elsewhere the fit on the bleed-only frames around, when there are enough.
        refitted = (_moving_sum(copy, local, own) < local) & (_moving_sum(copy, win, own) >= local)
        h_own = h[own]
        if LINE_REFITS and refitted.any():
            fit = _fit_filter(cross, p_ss, copy * unit, win, own)
            h_own = np.where(refitted, fit, h_own)
        kept = spec_t[own]
        left = kept - h_own * spec_s[own]
        # Taking a leak away never adds power to a frame: where it would, the fit is wrong.
        adds = (np.abs(left) ** 2).sum(axis=1) > p_tt[own].sum(axis=1)
        left[adds] = kept[adds]
        cleaned = np.fft.irfft(left, n=frame, axis=1)
        cleaned = (cleaned * window).astype(np.float32)
        # Frames a, a + 2, ... do not overlap one another: add each half as one run.
        for first in (0, 1):
            run = cleaned[first::2].reshape(-1)
            start = (a + first) * hop
            out[start : start + len(run)] += run[: len(out) - start]
    result: Array = out[hop : hop + n]
    return result


def _fit_filter(
    cross: Array, p_ss: Array, weight: Array, win: int, rows: slice | None = None
) -> Array:
    """The line's filter per frame and bin, H = sum w S_ts / sum w S_ss over ``win`` frames
    around the frame (``weight`` [frames, 1] picks the frames fitted on), bounded to |H| <= 1
    (a leak is never louder than its source); 0 where no weighted source power is there.
    ``rows``: only those frames (the sums still run over all of them)."""
    return _line_filter(
        _moving_sum(_times_real(cross, weight), win, rows), _moving_sum(p_ss * weight, win, rows)
    )


def _line_filter(s_ts: Array, s_ss: Array) -> Array:
    """H = s_ts / s_ss (0 where s_ss is 0), bounded to |H| <= 1. Complex by real division is
    multiplication by the reciprocal (as numpy itself divides a complex by a real), here
    done on the real and imaginary parts in place: same values, no complex temporaries."""
    scale = np.where(s_ss > 0, 1.0 / np.maximum(s_ss, 1e-20), 0.0)
    h = _times_real(s_ts, scale, out=s_ts)
    return _times_real(h, 1.0 / np.maximum(np.abs(h), 1.0), out=h)


def _times_real(z: Array, r: Array, out: Array | None = None) -> Array:
    """Complex ``z`` times real ``r`` (broadcast), part by part: the values numpy's complex
    product gives (r taken as r + 0j), at the cost of two real products."""
    parts = z.view(np.float64).reshape(z.shape + (2,))
    if out is None:
        out = np.empty_like(z)
    np.multiply(parts, np.asarray(r)[..., None], out=out.view(np.float64).reshape(z.shape + (2,)))
    return out
