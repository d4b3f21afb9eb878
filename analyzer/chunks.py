"""Long calls chunk by chunk: the stages that read the whole signal, run on a ``DiskAudio``.

A call longer than ``AnalysisConfig.chunk_s`` is decoded to disk (``analyzer.diskaudio``); the
stages that today take the whole signal run here on chunks of that length read back one at a
time, and give results of the same shape as the whole-call stages (per-hop arrays, frame
grids, turns), so everything after them (turns, fusion, events, coaching) is unchanged.

- Voice (``voice_in_chunks``): bleed cancellation (``audio.bleed.cancel_bleed``) and the hop
  levels over the noise floor (``level_over_floor_db``) on each chunk with CONTEXT_S of audio on
  both sides, the voice activity detector on the chunk itself (a band-limited mono mix, decided
  once for the call, also through the detector's 8 kHz branch, ``vad.mixed_probabilities``).
  Chunks are whole 20 s VAD streams, and the detector runs every stream from a fresh state, so
  on the same samples its probabilities are those of one pass. What a chunk decides on its
  own: the line delay and the noise floor (from the chunk and its context, not the whole call;
  on a 2-hour call a line's noise floor may move anyway) and the filter fits within CONTEXT_S
  of a border.
- Prosody (``prosody_frames``): ``audio.prosody.analyze_frames`` per chunk with PROSODY_CONTEXT_S
  of context (enough for its 40 ms window and the 8 kHz resampling filter), frames of the core
  kept: the 10 ms grid of one pass.
- Words (``transcribe_in_chunks``): a chunk's worth of turns transcribed at a time, the words
  put back in call time.
- Mono calls (``diarize_in_chunks``): the voice encoder embeds the speech segments group by
  group (a group spans at most a chunk; a segment is never cut), the pitch comes from
  ``prosody_frames``, the overlap detector's spectral frames from ``overlap_in_chunks`` (the
  grid of one pass, the level made relative to the whole call's speech once all is read), and
  the windows of the whole call are clustered and resegmented at once
  (``audio.speakers.diarize_embedded``, with the learned count as on a shorter call), so a
  speaker keeps one id over the whole call. Each group's level is normalised on its own speech
  (the encoder's input gain), not the call's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .audio.bleed import cancel_bleed, level_over_floor_db
from .audio.overlap import OverlapDetector, frame_features, load_overlap_detector, relative_level
from .audio.prosody import HOP_S as PROSODY_HOP_S
from .audio.prosody import ProsodyFrames, analyze_frames
from .audio.speakercount import load_count_model
from .audio.speakers import (
    FRAME_S,
    FRAMES,
    PITCH_WEIGHT,
    SpeakerEncoder,
    Turns,
    diarize_embedded,
    load_projection,
)
from .audio.vad import (
    RESAMPLE_MARGIN,
    STREAM_S,
    VAD_CHUNK,
    VAD_SR,
    VoiceActivityDetector,
    band_limited,
)
from .config import SAMPLE_RATE
from .diskaudio import DiskAudio, DiskChannel
from .segment import Segment

Array = NDArray[Any]

# Samples of one VAD stream (20 s): chunks are whole streams, so the detector's streams are the
# same as in one pass; a multiple of the VAD hop (512) and of the prosody hop (160).
STREAM_SAMPLES = int(STREAM_S * VAD_SR / VAD_CHUNK) * VAD_CHUNK
CONTEXT_S = 30.0  # s of audio each side of a voice chunk (delay search, floor, filter fits)
PROSODY_CONTEXT_S = 1.0  # s each side of a prosody chunk (window and resampling filter)
PROSODY_HOP = int(round(PROSODY_HOP_S * SAMPLE_RATE))  # samples per 10 ms frame
OVERLAP_CONTEXT_S = 0.1  # s each side of an overlap-feature chunk (its 25 ms window)
OVERLAP_CHUNK_S = 60.0  # s of audio read at a time for the overlap features (a small read)


def chunk_samples(chunk_s: float) -> int:
    """Samples per chunk: ``chunk_s`` rounded down to whole VAD streams (at least one)."""
    return max(1, int(chunk_s * SAMPLE_RATE) // STREAM_SAMPLES) * STREAM_SAMPLES


def chunk_ranges(n: int, size: int) -> list[tuple[int, int]]:
    """[start, stop) sample ranges of ``size`` that cover ``n`` samples (the last one shorter)."""
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def voice_in_chunks(
    audio: DiskAudio,
    vad: VoiceActivityDetector,
    *,
    split: bool,
    chunk_s: float,
    context_s: float = CONTEXT_S,
) -> tuple[Array, Array | None]:
    """The pipeline's voice stage on a call held on disk, a chunk at a time.

    Returns (speech probability per VAD hop, [channels, hops] when ``split``, else [1, hops]
    of the mono mix; hop levels over the noise floor of the bleed-cancelled channels
    [channels, hops] when ``split`` with two or more channels, else None), hops as
    ``VoiceActivityDetector.probabilities`` counts them over the whole call.
    """
    n = audio.samples
    size = chunk_samples(chunk_s)
    if not split:
        mono = audio.mono()[0]
        narrow = band_limited(mono.read, n)
        parts = [_mixed_chunk(vad, mono, a, b, narrow) for a, b in chunk_ranges(n, size)]
        return _joined(parts, 1)[None, :], None
    ctx = int(context_s * SAMPLE_RATE) // VAD_CHUNK * VAD_CHUNK
    prob_parts: list[Array] = []
    level_parts: list[Array] = []
    for a, b in chunk_ranges(n, size):
        lo, hi = max(0, a - ctx), min(n, b + ctx)
        piece = audio.read(lo, hi)
        if len(piece) > 1:
            piece = cancel_bleed(piece, sr=SAMPLE_RATE).audio
            first = (a - lo) // VAD_CHUNK
            hops = math.ceil((b - a) / VAD_CHUNK)
            level_parts.append(level_over_floor_db(piece, sr=SAMPLE_RATE)[:, first : first + hops])
        core = piece[:, a - lo : b - lo]
        prob_parts.append(np.stack([vad.probabilities(ch) for ch in core]))
        del piece, core
    levels = _joined(level_parts, 2) if level_parts else None
    return _joined(prob_parts, 2), levels


def _mixed_chunk(vad: VoiceActivityDetector, mono: Any, a: int, b: int, narrow: bool) -> Array:
    """``VoiceActivityDetector.mixed_probabilities`` of samples [a, b) of a mono channel on
    disk, as one pass over the whole channel gives them: the 8 kHz copy is made with
    RESAMPLE_MARGIN samples of the neighbouring audio (zeros beyond the call, as the filter
    sees them in one pass)."""
    if not narrow:
        probs: Array = vad.probabilities(mono.read(a, b))
        return probs
    m, n = RESAMPLE_MARGIN, len(mono)
    piece = np.zeros(b - a + 2 * m, dtype=np.float32)
    lo, hi = max(0, a - m), min(n, b + m)
    piece[lo - (a - m) : hi - (a - m)] = mono.read(lo, hi)  # read once, margins included
    wide: Array = vad.probabilities(piece[m : m + b - a])
    out: Array = np.maximum(wide, vad.narrow_probabilities(piece, margin=m)[: len(wide)])
    return out


def _joined(parts: list[Array], ndim: int) -> Array:
    out: Array = np.concatenate(parts, axis=ndim - 1)
    return out


def prosody_frames(
    channel: DiskChannel,
    *,
    speech: list[Segment] | None,
    chunk_s: float,
    context_s: float = PROSODY_CONTEXT_S,
) -> ProsodyFrames:
    """``analyze_frames`` of a channel held on disk, a chunk at a time: the same 10 ms grid
    (T = ceil(samples / 160)); speech: as ``analyze_frames`` (pitch only inside it)."""
    n = len(channel)
    size = chunk_samples(chunk_s)
    ctx = int(context_s * SAMPLE_RATE) // PROSODY_HOP * PROSODY_HOP
    f0: list[Array] = []
    clarity: list[Array] = []
    loud: list[Array] = []
    for a, b in chunk_ranges(n, size):
        lo, hi = max(0, a - ctx), min(n, b + ctx)
        part = analyze_frames(
            channel.read(lo, hi),
            sr=SAMPLE_RATE,
            speech=None if speech is None else shifted(speech, lo, hi),
        )
        first = (a - lo) // PROSODY_HOP
        frames = math.ceil((b - a) / PROSODY_HOP)
        f0.append(part.f0_hz[first : first + frames])
        clarity.append(part.clarity[first : first + frames])
        loud.append(part.loudness_db[first : first + frames])
    if not f0:
        empty = np.zeros(0, np.float32)
        return ProsodyFrames(empty, empty, empty)
    return ProsodyFrames(np.concatenate(f0), np.concatenate(clarity), np.concatenate(loud))


def shifted(segments: list[Segment], lo: int, hi: int) -> list[Segment]:
    """The parts of ``segments`` inside samples [lo, hi), in seconds from sample ``lo``."""
    t0, t1 = lo / SAMPLE_RATE, hi / SAMPLE_RATE
    return [
        Segment(max(s.start, t0) - t0, min(s.end, t1) - t0)
        for s in segments
        if s.end > t0 and s.start < t1
    ]


def diarize_in_chunks(
    mono: DiskChannel,
    speech: list[Segment],
    encoder: SpeakerEncoder,
    *,
    chunk_s: float,
    num_speakers: int | None = None,
    max_speakers: int = 4,
    min_speakers: int = 1,
    seen: Callable[[Array], Array] | None = None,
    seen_persons: int = 0,
) -> Turns:
    """``audio.speakers.diarize`` of a mixed channel held on disk: windows embedded group by
    group of speech segments (each group spans at most ``chunk_s``), then clustered and
    resegmented over the whole call at once. The embeddings (256 floats per 0.5 s of speech)
    are all that grows with the call, with, for a video call, the faces' evidence per 10 ms
    frame (``seen``, as for ``diarize``: a few floats per frame)."""
    if not speech:
        return Turns([], [])
    spans, owners, embs = embed_in_chunks(mono, speech, encoder, chunk_s=chunk_s)
    f0 = None
    if PITCH_WEIGHT > 0:
        f0 = prosody_frames(mono, speech=speech, chunk_s=chunk_s).f0_hz
    duration = len(mono) / SAMPLE_RATE
    visual = None
    if seen is not None:
        visual = seen(np.arange(FRAMES.count(duration) + 1) * FRAME_S)
    return diarize_embedded(
        spans,
        owners,
        embs,
        speech,
        duration,
        num_speakers=num_speakers,
        max_speakers=max_speakers,
        min_speakers=min_speakers,
        f0=f0,
        projection=load_projection(),
        overlap_prob=overlap_in_chunks(
            mono, load_overlap_detector(), chunk_s=min(chunk_s, OVERLAP_CHUNK_S)
        ),
        count_model=load_count_model(),
        visual=visual,
        visual_persons=seen_persons,
    )


def overlap_in_chunks(
    channel: DiskChannel,
    detector: OverlapDetector,
    *,
    chunk_s: float,
    context_s: float = OVERLAP_CONTEXT_S,
) -> Array:
    """``detector.probabilities`` of a channel held on disk: its spectral frames
    (``overlap.frame_features``) a chunk at a time with ``context_s`` each side, on the grid of
    one pass (1 + samples // 160 frames), the level made relative over the whole call, then
    the network. What grows with the call: the frames' features (35 floats per 10 ms)."""
    n = len(channel)
    size = chunk_samples(chunk_s)
    ctx = int(context_s * SAMPLE_RATE) // PROSODY_HOP * PROSODY_HOP
    total = 1 + n // PROSODY_HOP
    feats: Array | None = None  # [total, F], filled a chunk at a time
    for a, b in chunk_ranges(n, size):
        lo, hi = max(0, a - ctx), min(n, b + ctx)
        part = frame_features(channel.read(lo, hi), pitch_bins=detector.pitch_bins, relative=False)
        if feats is None:
            feats = np.zeros((total, part.shape[1]), np.float32)
        first, row = (a - lo) // PROSODY_HOP, a // PROSODY_HOP
        frames = (total if b >= n else b // PROSODY_HOP) - row
        feats[row : row + frames] = part[first : first + frames]
    if feats is None:
        return np.zeros(total, np.float32)
    return detector.probabilities_from_features(relative_level(feats))


def embed_in_chunks(
    mono: Any, speech: list[Segment], encoder: SpeakerEncoder, *, chunk_s: float
) -> tuple[Array, Array, Array]:
    """``SpeakerEncoder.embed_windows`` of a long channel, group by group of speech segments
    (each group spans at most ``chunk_s``; a segment is never cut). mono: anything with
    ``len`` (samples) and ``read(lo, hi)`` (a ``DiskChannel``). Returns call-wide (frames
    [W, 2], segment index [W] into ``speech``, embeddings [W, 256])."""
    n = len(mono)
    size = chunk_samples(chunk_s)
    spans: list[Array] = []
    owners: list[Array] = []
    embs: list[Array] = []
    for first, last in _segment_groups(speech, size):
        lo = int(speech[first].start * SAMPLE_RATE) // PROSODY_HOP * PROSODY_HOP
        hi = min(n, int(math.ceil(speech[last - 1].end * SAMPLE_RATE)) + PROSODY_HOP)
        t0 = lo / SAMPLE_RATE
        local = [Segment(max(0.0, g.start - t0), max(0.0, g.end - t0)) for g in speech[first:last]]
        s, o, e = encoder.embed_windows(mono.read(lo, hi), local)
        spans.append(s + lo // PROSODY_HOP)
        owners.append(o + first)
        embs.append(e)
    return np.concatenate(spans).reshape(-1, 2), np.concatenate(owners), np.concatenate(embs)


def _segment_groups(speech: list[Segment], size: int) -> list[tuple[int, int]]:
    """[first, last) indices of consecutive segments whose span fits ``size`` samples (a longer
    segment is a group of its own)."""
    limit = size / SAMPLE_RATE
    groups: list[tuple[int, int]] = []
    first = 0
    for i in range(1, len(speech) + 1):
        if i == len(speech) or speech[i].end - speech[first].start > limit:
            groups.append((first, i))
            first = i
    return groups


def transcribe_in_chunks(
    transcriber: Any, channel: DiskChannel, turns: list[Segment], *, chunk_s: float
) -> list[Any]:
    """``words.asr.Transcriber.transcribe`` of one speaker's turns (in call time, sorted) on a
    channel held on disk: consecutive turns spanning at most ``chunk_s`` are read and
    transcribed together, their ``TurnText`` put back in call time (segment and word times)."""
    from dataclasses import replace

    out: list[Any] = []
    for group in _turn_groups(turns, chunk_s):
        lo = int(group[0].start * SAMPLE_RATE)
        hi = int(math.ceil(group[-1].end * SAMPLE_RATE)) + 1
        t0 = lo / SAMPLE_RATE
        local = [Segment(max(0.0, g.start - t0), max(0.0, g.end - t0)) for g in group]
        for turn, text in zip(group, transcriber.transcribe(channel.read(lo, hi), local)):
            words = tuple((a + t0, b + t0, w) for a, b, w in text.words)
            out.append(replace(text, segment=turn, words=words))
    return out


def _turn_groups(turns: list[Segment], span_s: float) -> list[list[Segment]]:
    """Consecutive turns in groups that span at most ``span_s`` (a longer turn on its own)."""
    groups: list[list[Segment]] = []
    for turn in turns:
        if groups and turn.end - groups[-1][0].start <= span_s:
            groups[-1].append(turn)
        else:
            groups.append([turn])
    return groups
