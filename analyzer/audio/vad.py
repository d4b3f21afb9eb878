"""Voice activity with the Silero VAD network (the ONNX file inside the silero-vad package).

The ONNX graph is run directly with onnxruntime: the package's own Python wrapper changes torch's
global thread count on import, and running many streams as one batch is several times faster.

A mixed (mono) call that came through an 8 kHz channel (``band_limited``: next to nothing above
4 kHz) is also heard by the network's 8 kHz branch, and a hop is as likely speech as the surer
of the two views (``mixed_probabilities``): the 16 kHz branch, given a signal with an empty upper
band, loses the quiet onsets and tails of some voices. Validation 30-minute telephone calls
(``benchmarks.diarization --validation --length 30min --telephone``, actors 13-20, speech of
each isolated clean clip as the reference): missed speech 5.6 % -> 2.1 % of the talk time, false
alarm 2.9 % -> 4.0 %, the worst speaker's talk-time change from the VAD alone 6.8 % -> 2.6 %
(mean of 3 calls); three-minute ones (8 calls): missed 4.4 % -> 2.9 %, false alarm 2.6 % ->
3.3 %, worst 5.3 % -> 3.8 %. The 8 kHz branch alone, or a lower threshold on the 16 kHz one,
was better on one set and worse on the other. The misses are voice-specific (quiet onsets and
tails of a few actors), and the 16 kHz branch misses some of them on the clean mix too. Cost:
the second branch, about 0.7 times the first's CPU, on band-limited mono mixes only.

Where its extra false alarm lies (session 24, validation 8 kHz calls: 20 default, 8 three-minute,
19 thirty-minute): none of it is speech heard where no voice is (no detected segment of 0.3 s or
more with under a tenth of it reference speech, with either branch or both); it is longer onsets
and tails of real speech, which also bridge a few more pauses between two speakers (30-minute
calls: 97 -> 138 of 3370 speaker changes fall inside one detected segment). Keeping only runs the
16 kHz branch confirms changed false alarm by under 0.1 point. For talk time the two errors
offset: the worst speaker's talk-time change from the VAD alone is smaller with both branches
(12 thirty-minute two-voice calls, mean 6.1 % -> 3.2 %).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..arrays import BoolArray, FloatArray
from ..config import SAMPLE_RATE
from ..segment import Segment

VAD_SR = SAMPLE_RATE  # Hz; the network's native rate (16 kHz)
VAD_CHUNK = 512  # samples per network step (32 ms at 16 kHz)
VAD_CONTEXT = 64  # samples of the previous chunk the network sees
NARROW_SR = 8000  # Hz; the network's other branch: 256 samples a step (the same 32 ms hop)
NARROW_CONTEXT = 32  # samples of the previous chunk that branch sees
BAND_EDGE_HZ = 4200.0  # an 8 kHz channel leaves (next to) nothing above its 4 kHz Nyquist
BAND_LIMITED_SHARE = 1e-3  # power share above BAND_EDGE_HZ under which a signal is band-limited
# (validation mixes: 1.4-2.0 % full-band, 0.004-0.03 % through an 8 kHz channel)
BAND_EXCERPTS = 64  # 1 s excerpts, evenly spread over the call, that decide ``band_limited``
RESAMPLE_MARGIN = 512  # samples read beyond a piece so its 8 kHz copy has no border effect
VAD_HOP_S = VAD_CHUNK / VAD_SR  # 0.032 s between probabilities
STREAM_S = 20.0  # long audio is cut into streams of this many seconds and run as one batch
# Streams per network batch: 32 x 20 s (about 10 minutes, 41 MB) at a time, so a long call never
# needs a second full-length copy of itself. Streams are independent (own state and context),
# so the grouping does not change the probabilities.
GROUP_STREAMS = 32


def _model_path() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("silero-vad is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise RuntimeError(f"silero-vad model file missing at {path}")
    return path


class VoiceActivityDetector:
    """Speech probability every 32 ms. Load once, call on many signals."""

    def __init__(self, *, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(_model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def probabilities(self, audio: FloatArray) -> FloatArray:
        """Speech probability per 32 ms hop.

        audio: float32 [samples] at 16 kHz. Returns float32 [ceil(samples / 512)]; entry i covers
        samples [512 i, 512 (i + 1)).
        """
        probs: FloatArray = self.channel_probabilities(np.asarray(audio, np.float32)[None, :])[0]
        return probs

    def mixed_probabilities(self, audio: FloatArray, *, band_limited: bool) -> FloatArray:
        """Speech probability per 32 ms hop of a mono mix (as ``probabilities``); when
        ``band_limited`` (see ``band_limited``), each hop the larger of the 16 kHz and the
        8 kHz branch's probability."""
        audio = np.asarray(audio, dtype=np.float32)
        probs = self.probabilities(audio)
        if band_limited and len(audio):
            narrow = self.narrow_probabilities(audio)
            probs = np.maximum(probs, narrow[: len(probs)])
        return probs

    def narrow_probabilities(self, audio: FloatArray, *, margin: int = 0) -> FloatArray:
        """The 8 kHz branch's speech probability per 32 ms hop of ``audio`` (16 kHz) resampled
        to 8 kHz; ``margin`` samples at each end of ``audio`` are context for the resampling
        filter only (a piece of a longer signal read with RESAMPLE_MARGIN on both sides gives
        the probabilities of one pass). Returns float32 [ceil((samples - 2 margin) / 512)]."""
        from scipy.signal import resample_poly

        core = len(audio) - 2 * margin
        narrow = resample_poly(np.asarray(audio, np.float32), 1, 2).astype(np.float32)
        narrow = narrow[margin // 2 : margin // 2 + (core + 1) // 2]
        probs: FloatArray = self.channel_probabilities(narrow[None, :], sr=NARROW_SR)[0]
        return probs

    def channel_probabilities(self, audio: FloatArray, *, sr: int = VAD_SR) -> FloatArray:
        """Speech probability per 32 ms hop of every channel: float32 [channels, samples] at
        16 kHz -> float32 [channels, ceil(samples / 512)], each row what ``probabilities``
        gives for that channel. The channels' streams go through the network together (a
        batch of up to GROUP_STREAMS streams): fewer, larger network steps than a channel at a
        time (a stereo 3-minute call: 13 % less CPU), and every stream keeps its own state.
        """
        audio = np.asarray(audio, dtype=np.float32)
        step = VAD_CHUNK * sr // VAD_SR  # samples per 32 ms hop at this rate
        n_ch, n = audio.shape
        n_chunks = int(np.ceil(n / step))
        if n_chunks == 0:
            return np.zeros((n_ch, 0), dtype=np.float32)
        per_stream = max(1, int(STREAM_S * VAD_SR / VAD_CHUNK))
        n_streams = int(np.ceil(n_chunks / per_stream))  # per channel
        stream_len = per_stream * step
        total = n_ch * n_streams
        out = np.empty((total, per_stream), dtype=np.float32)
        for first in range(0, total, GROUP_STREAMS):
            k = min(GROUP_STREAMS, total - first)
            block = np.zeros((k, stream_len), dtype=np.float32)  # the call's tail: zeros after
            for j in range(k):
                ch, st = divmod(first + j, n_streams)
                piece = audio[ch, st * stream_len : (st + 1) * stream_len]
                block[j, : len(piece)] = piece
            out[first : first + k] = self._run_streams(block.reshape(k, per_stream, step), sr)
        return out.reshape(n_ch, n_streams * per_stream)[:, :n_chunks]

    def _run_streams(self, streams: FloatArray, rate: int = VAD_SR) -> FloatArray:
        """Speech probabilities [streams, steps] of float32 streams [streams, steps, chunk]
        at ``rate`` (16 or 8 kHz), each stream run from a fresh network state."""
        n_streams, steps, _ = streams.shape
        width = VAD_CONTEXT if rate == VAD_SR else NARROW_CONTEXT
        state = np.zeros((2, n_streams, 128), dtype=np.float32)
        context = np.zeros((n_streams, width), dtype=np.float32)
        sr = np.array(rate, dtype=np.int64)
        out = np.empty((n_streams, steps), dtype=np.float32)
        for i in range(steps):
            x = np.concatenate([context, streams[:, i]], axis=1)
            prob, state = self._session.run(None, {"input": x, "state": state, "sr": sr})
            out[:, i] = prob[:, 0]
            context = x[:, -width:]
        return out


def band_limited(read: Callable[[int, int], FloatArray], samples: int) -> bool:
    """Whether a 16 kHz signal came through an 8 kHz channel: less than BAND_LIMITED_SHARE of
    its power above BAND_EDGE_HZ, over BAND_EXCERPTS one-second excerpts evenly spread
    (``read(lo, hi)`` gives samples [lo, hi); the same excerpts whether the call is in memory
    or on disk). A silent signal is not band-limited."""
    from scipy.signal import welch

    win = VAD_SR  # 1 s excerpts
    starts = np.unique(np.linspace(0, max(0, samples - win), BAND_EXCERPTS).astype(int))
    total = upper = 0.0
    for a in starts:
        piece = np.asarray(read(int(a), int(min(samples, a + win))), dtype=np.float64)
        if len(piece) < 256:
            continue
        freqs, power = welch(piece, fs=VAD_SR, nperseg=256)
        total += float(power.sum())
        upper += float(power[freqs >= BAND_EDGE_HZ].sum())
    return total > 0 and upper < BAND_LIMITED_SHARE * total


def speech_segments(
    probs: FloatArray,
    *,
    threshold: float = 0.5,
    min_speech_s: float = 0.25,
    min_silence_s: float = 0.3,
    pad_s: float = 0.03,
    duration_s: float | None = None,
) -> list[Segment]:
    """Turn per-hop speech probabilities into speech segments (seconds).

    Hysteresis: a run starts above ``threshold`` and ends below ``threshold - 0.15``. Gaps
    shorter than ``min_silence_s`` are bridged, runs shorter than ``min_speech_s`` dropped, and
    each run is padded by ``pad_s`` on both sides (clipped to the signal).
    """
    return mask_to_segments(
        speech_mask(probs, threshold=threshold),
        hop_s=VAD_HOP_S,
        min_on_s=min_speech_s,
        min_off_s=min_silence_s,
        pad_s=pad_s,
        duration_s=duration_s,
    )


def speech_mask(probs: FloatArray, *, threshold: float = 0.5) -> BoolArray:
    """bool [hops]: speech per hop, with hysteresis (on above ``threshold``, off below
    ``threshold - 0.15``, the lower bound never under 0.05)."""
    return hysteresis(np.asarray(probs), threshold, max(0.05, threshold - 0.15))


def hysteresis(x: FloatArray, high: float, low: float) -> BoolArray:
    """bool [n]: True from where ``x`` reaches ``high`` until it drops below ``low``."""
    out = np.zeros(len(x), dtype=bool)
    on = False
    for i, v in enumerate(x):
        on = v >= low if on else v >= high
        out[i] = on
    return out


def mask_to_segments(
    mask: BoolArray,
    *,
    hop_s: float,
    min_on_s: float = 0.0,
    min_off_s: float = 0.0,
    pad_s: float = 0.0,
    duration_s: float | None = None,
) -> list[Segment]:
    """Runs of True in a boolean frame mask as Segments, with gap bridging and short-run removal."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs: list[list[float]] = []
    for s, e in zip(starts * hop_s, ends * hop_s):
        if runs and s - runs[-1][1] < min_off_s:
            runs[-1][1] = e
        else:
            runs.append([s, e])
    limit = duration_s if duration_s is not None else len(mask) * hop_s
    return [
        Segment(max(0.0, s - pad_s), min(limit, e + pad_s)) for s, e in runs if e - s >= min_on_s
    ]


def silences(speech: list[Segment], duration_s: float, *, min_s: float = 0.0) -> list[Segment]:
    """Gaps of at least ``min_s`` seconds where none of ``speech`` is active (any speaker)."""
    merged: list[list[float]] = []
    for seg in sorted(speech):
        if merged and seg.start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], seg.end)
        else:
            merged.append([seg.start, seg.end])
    gaps, t = [], 0.0
    for s, e in merged:
        if s - t >= min_s and s > t:
            gaps.append(Segment(t, s))
        t = max(t, e)
    if duration_s - t >= min_s and duration_s > t:
        gaps.append(Segment(t, duration_s))
    return gaps
