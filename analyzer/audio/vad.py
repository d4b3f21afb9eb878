"""Voice activity with the Silero VAD network (the ONNX file inside the silero-vad package).

The ONNX graph is run directly with onnxruntime: the package's own Python wrapper changes torch's
global thread count on import, and running many streams as one batch is several times faster.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..arrays import BoolArray, FloatArray
from ..config import SAMPLE_RATE
from ..segment import Segment

VAD_SR = SAMPLE_RATE  # Hz; the network's native rate (16 kHz)
VAD_CHUNK = 512  # samples per network step (32 ms at 16 kHz)
VAD_CONTEXT = 64  # samples of the previous chunk the network sees
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

    def channel_probabilities(self, audio: FloatArray) -> FloatArray:
        """Speech probability per 32 ms hop of every channel: float32 [channels, samples] at
        16 kHz -> float32 [channels, ceil(samples / 512)], each row what ``probabilities``
        gives for that channel. The channels' streams go through the network together (a
        batch of up to GROUP_STREAMS streams): fewer, larger network steps than a channel at a
        time (a stereo 3-minute call: 13 % less CPU), and every stream keeps its own state.
        """
        audio = np.asarray(audio, dtype=np.float32)
        n_ch, n = audio.shape
        n_chunks = int(np.ceil(n / VAD_CHUNK))
        if n_chunks == 0:
            return np.zeros((n_ch, 0), dtype=np.float32)
        per_stream = max(1, int(STREAM_S * VAD_SR / VAD_CHUNK))
        n_streams = int(np.ceil(n_chunks / per_stream))  # per channel
        stream_len = per_stream * VAD_CHUNK
        total = n_ch * n_streams
        out = np.empty((total, per_stream), dtype=np.float32)
        for first in range(0, total, GROUP_STREAMS):
            k = min(GROUP_STREAMS, total - first)
            block = np.zeros((k, stream_len), dtype=np.float32)  # the call's tail: zeros after
            for j in range(k):
                ch, st = divmod(first + j, n_streams)
                piece = audio[ch, st * stream_len : (st + 1) * stream_len]
                block[j, : len(piece)] = piece
            out[first : first + k] = self._run_streams(block.reshape(k, per_stream, VAD_CHUNK))
        return out.reshape(n_ch, n_streams * per_stream)[:, :n_chunks]

    def _run_streams(self, streams: FloatArray) -> FloatArray:
        """Speech probabilities [streams, steps] of float32 streams [streams, steps, VAD_CHUNK],
        each stream run from a fresh network state."""
        n_streams, steps, _ = streams.shape
        state = np.zeros((2, n_streams, 128), dtype=np.float32)
        context = np.zeros((n_streams, VAD_CONTEXT), dtype=np.float32)
        sr = np.array(VAD_SR, dtype=np.int64)
        out = np.empty((n_streams, steps), dtype=np.float32)
        for i in range(steps):
            x = np.concatenate([context, streams[:, i]], axis=1)
            prob, state = self._session.run(None, {"input": x, "state": state, "sr": sr})
            out[:, i] = prob[:, 0]
            context = x[:, -VAD_CONTEXT:]
        return out


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
