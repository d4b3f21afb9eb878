"""Who spoke when in mixed (single-channel) audio: diarization.

Channel-separated calls (one speaker per channel) are in ``turns.py``, the clustering of voice
embeddings in ``clustering.py``; both are re-exported here, their home before the split.

Diarization embeds short windows of speech with the GE2E voice encoder that ships inside
Resemblyzer, clusters stretches of speech (spectral clustering of a pruned cosine affinity; the
number of speakers, unless given, is the most clusters that stay apart, see ``cluster_embeddings``)
and resegments the 10 ms frame grid with a Viterbi pass over the windows' speaker similarities.
Each window's embedding carries one more dimension, its median pitch (``with_pitch``): the
register separates a man from a woman where moods blur the encoder (short calls).
On short calls the clustering (and so the speaker count) compares units in a learned speaker space
(``SpeakerProjection``, ``models/speaker-ge2e-wccn``): the encoder's directions in which one
voice varies with mood and words are shrunk, those in which voices differ kept. On longer calls
the count stays with the plain embeddings, but two voices are found by splitting the call into
finer (voice x mood) clusters and grouping those in two in the speaker space.
The number of voices, unless given, is decided per candidate split by a learned count model
(``speakercount``, ``models/speaker-count-logreg``) over statistics of the split; one voice or two
on calls of more than a minute stays with the distance rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..arrays import BoolArray, FloatArray, IntArray
from ..config import SAMPLE_RATE
from ..segment import Segment, TimeGrid
from . import longcall
from .clustering import (
    EXTRA_SPEAKER_DISTANCE,
    FINE_CLUSTERS,
    MIN_CLUSTER_SHARE,
    NEAR_SHARE,
    PRUNE_SHARE,
    SPLIT_DISTANCE,
    centroids,
    cluster_embeddings,
    compact_labels,
    turn_tie,
)
from .longcall import LONG_CALL_UNITS, cluster_long_call
from .overlap import load_overlap_detector
from .prosody import analyze_frames
from .speakercount import load_count_model, partition_features
from .turns import (
    CROSSTALK_DB,
    CROSSTALK_WINDOW_S,
    Turns,
    channel_turns,
    guess_agent_channel,
    overlap_segments,
)
from .vad import mask_to_segments

__all__ = [  # the two moved modules' names stay importable from here
    "CROSSTALK_DB", "CROSSTALK_WINDOW_S", "EXTRA_SPEAKER_DISTANCE", "MIN_CLUSTER_SHARE",
    "NEAR_SHARE", "PRUNE_SHARE", "SPLIT_DISTANCE", "SpeakerEncoder", "Turns", "channel_turns",
    "cluster_embeddings", "diarize", "diarize_embedded", "guess_agent_channel",
    "overlap_segments",
]  # fmt: skip

FRAME_S = 0.01  # s; the diarization frame grid (the voice encoder's mel hop)
FRAMES = TimeGrid(FRAME_S)
EMBED_WIN_S = 1.5  # s of speech per embedded window
EMBED_HOP_S = 0.5  # s between embedded windows (the LSTM's cost grows with 1 / hop)
MIN_EMBED_S = 0.3  # s; shorter speech segments are not embedded (labelled by resegmentation)
UNIT_MAX_S = 3.0  # s; longest clustering unit (longer speech segments are cut into pieces)
SIM_SCALE = 20.0  # per-frame log-evidence per unit of cosine similarity in resegmentation
CHANGE_COST = 30.0  # log-cost of a speaker change inside continuous speech (none at a pause)
OVERLAP_REACH_S = 0.5  # s around an in-speech speaker change searched for overlapped speech
OVERLAP_MARGIN = 0.1  # cosine; top-two similarities closer than this look mixed (validation)
OVERLAP_MIN_S = 0.2  # s; shorter ambiguous runs are not reported
OVERLAP_CONTEXT_S = 1.0  # s around a detected overlap searched for its second voice
UNCERTAIN_MIN_SPEECH_S = 60.0  # s of speech from which a diarized call's turn-taking is judged
# (fewer pauses make the score small by chance)
UNCERTAIN_TIE = 2.0  # a diarized call whose voice changes are less tied to the turn-taking than
# this (``voices_tie``) gets the note ``voices_uncertain``; chosen on validation calls, see the
# diarization benchmark's docstring (session 34)
SECOND_LOOK = True  # a mid-length call whose voices may be mixed up (``voices_tie`` under
# UNCERTAIN_TIE) is diarized again with the grouping most tied to the turn-taking
# (``cluster_embeddings``' ``second_look``); rule and figures in the diarization benchmark's
# docstring (session 34): validation three-minute sets 0.183 -> 0.150, test 0.179 -> 0.157
PAUSE_PRIOR: float | None = 160.0  # weight of the pause-chained resegmentation
# (``_viterbi_paused``) on mixed calls of two or more voices (None: off); rules and figures in
# the diarization benchmark's docstring (session 36): on every call of PAUSE_MIN_SEGMENTS
# segments it failed on validation, on long calls only it passed (test 30-minute single-clip
# calls 0.140 -> 0.129, the 30-minute call's worst talk-time error 13.9 % -> 12.7 %)
PAUSE_MIN_SEGMENTS = 40
PAUSE_LONG_ONLY = True  # ... on long calls only (more than LONG_CALL_UNITS units)
PAUSE_BINS = 4  # quantile bins of a call's pauses, each with its own chance of a voice change
PAUSE_ROUNDS = 2  # rounds of learning the chances from the labelling and decoding again
PAUSE_EDGE_FRAMES = 10  # a voice held for less than this at a segment's edge is its neighbour
OVERLAP_KEEP_BOTH = True  # a detected overlap adds a turn of the second voice (validation)
OVERLAP_KEEP_PROB = 0.9  # ... only where the detector is this sure on average (validation
# collar DER, count given: every detection 0.063, 0.8 and up 0.058, 0.9 0.0577 = none: a false
# second voice costs more than a missed one, so only the surest overlaps add one)
VISUAL_WEIGHT = 0.05  # cosine added to a frame's similarity per unit of mouth evidence
VISUAL_ANCHOR = 0.3  # mean mouth-evidence margin over a unit that makes it a seen voice's anchor
VISUAL_MIN_ANCHOR_S = 3.0  # s of anchored speech each seen voice needs
VISUAL_TEST_P = 0.05  # two seen voices must differ more than this share of random splits do
VISUAL_PERMUTATIONS = 200
PITCH_WEIGHT = 0.3  # scale of the pitch dimension added to the embeddings (see with_pitch)
PITCH_MIN_FRAMES = 10  # voiced 10 ms frames a window needs for its pitch to count


ENCODER_THREADS = 1  # torch threads while the encoder's LSTM runs (0: leave torch's setting).
# Its batches are small matrix products between time steps; a second thread saves little wall
# time, and on a busy machine its waiting threads spin: 3-min call, load 4-8, CPU s of the
# LSTM 1.1 with one thread, 5.6 with two.
MEL_N_FFT = 400  # samples (25 ms at 16 kHz): the encoder's mel analysis window, Hann
MEL_BANDS = 40  # mel bands (Slaney scale and area normalisation, 0 Hz to Nyquist)


class SpeakerEncoder:
    """The GE2E voice encoder (256-d, from Resemblyzer). Load once, embed many windows."""

    def __init__(self, *, threads: int = ENCODER_THREADS) -> None:
        import torch
        from resemblyzer import VoiceEncoder

        self._torch = torch
        self._encoder = VoiceEncoder(device="cpu", verbose=False).eval()
        self.threads = threads

    def embed_windows(
        self, audio: FloatArray, speech: list[Segment], *, sr: int = SAMPLE_RATE
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Embed windows of speech, each inside one speech segment.

        audio: float32 [samples] at 16 kHz; speech: pause-delimited voice-activity segments.
        Segments longer than EMBED_WIN_S get windows every EMBED_HOP_S (the last one flush with
        the segment's end); shorter ones (at least MIN_EMBED_S) one window over the whole segment.
        Returns (frames [W, 2] int first/last+1 frame on the 10 ms grid, segment [W] index into
        ``speech``, embeddings [W, 256] L2-normalised).
        """
        empty: tuple[IntArray, IntArray, FloatArray] = (
            np.zeros((0, 2), int), np.zeros(0, int), np.zeros((0, 256), np.float32)
        )  # fmt: skip
        if not speech:
            return empty
        # Level to -30 dBFS RMS, as the encoder was trained; measured on speech only.
        samples = TimeGrid.rate(sr)
        voiced = np.concatenate([audio[samples.slice(s)] for s in speech])
        rms = float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 0.0
        gain = 10 ** (-30 / 20) / rms if rms > 1e-6 else 1.0
        mel = _mel_in_blocks(audio, gain, encoder_mel, sr=sr)  # [frames, 40], 10 ms
        win, hop = FRAMES.frames(EMBED_WIN_S), FRAMES.frames(EMBED_HOP_S)
        spans: list[tuple[int, int]] = []
        owner: list[int] = []
        for i, seg in enumerate(speech):
            span = FRAMES.cover(seg)
            a, b = span.start, min(span.stop, len(mel))
            if b - a < FRAMES.frames(MIN_EMBED_S):
                continue
            starts = list(range(a, max(a + 1, b - win + 1), hop))
            if starts[-1] + win < b:
                starts.append(b - win)
            spans += [(s0, min(s0 + win, b)) for s0 in starts]
            owner += [i] * len(starts)
        if not spans:
            return empty
        spans_a = np.array(spans)
        out = np.zeros((len(spans), 256), dtype=np.float32)
        # The encoder is an LSTM whose last state is the embedding: windows of one length are
        # batched, never padded.
        lengths = spans_a[:, 1] - spans_a[:, 0]
        before = self._torch.get_num_threads()
        if self.threads:
            self._torch.set_num_threads(self.threads)
        try:
            with self._torch.inference_mode():
                for n in np.unique(lengths):
                    rows = np.flatnonzero(lengths == n)
                    for b0 in range(0, len(rows), 256):
                        r = rows[b0 : b0 + 256]
                        batch = np.stack([mel[spans_a[j, 0] : spans_a[j, 1]] for j in r])
                        out[r] = self._encoder(self._torch.from_numpy(batch)).numpy()
        finally:
            self._torch.set_num_threads(before)
        return spans_a, np.array(owner), out


PROJECTION_MODEL = "speaker-ge2e-wccn"  # models/ folder of the speaker-space projection
PROJECTED_MAX_UNITS = 20  # calls with at most this many clustering units (about a minute of
# speech) are clustered in the projected space: it steadies the count on few, short units (a
# one-voice short call split in two in 57 % of validation calls, 12 % projected), while on many
# units the plain embeddings keep the detail that tells two similar voices apart (validation
# three-minute same-gender calls: collar DER 0.196 plain, 0.274 projected)
PROJECTED_SPLIT_DISTANCE = 0.26  # cosine; the count rule in the projected space (validation),
PROJECTED_FEW_ITEMS_DISTANCE = 0.3  # as clustering's SPLIT_DISTANCE, FEW_ITEMS_DISTANCE,
PROJECTED_EXTRA_DISTANCE = 0.06  # EXTRA_SPEAKER_DISTANCE and FEW_ITEMS_EXTRA_DISTANCE
PROJECTED_FEW_ITEMS_EXTRA_DISTANCE = 0.4
PROJECTED_PITCH_WEIGHT = 0.0  # the pitch dimension beside projected embeddings (validation: none)


class SpeakerProjection:
    """A linear map of GE2E embeddings into a space where one voice in different moods stays
    together and different voices stay apart (``train/speaker_projection.py`` fits its
    statistics on speakers the benchmarks never use).

    From the stored global mean m, within-speaker covariance W and between-speaker covariance B:
    W' = W + shrink * mean(diag W) * I (shrinkage keeps directions the few training voices
    never varied in), T = W'^(-1/2) (whitening of the within-speaker spread), then the ``dims``
    leading eigenvectors V of T B T (the directions voices differ in most, as LDA) give
    x -> normalise((x - m) T V).
    """

    def __init__(
        self, mean: FloatArray, within: FloatArray, between: FloatArray, *, shrink: float, dims: int
    ) -> None:
        d = len(mean)
        w = within + shrink * float(np.mean(np.diag(within))) * np.eye(d)
        vals, vecs = np.linalg.eigh(w)
        whiten = vecs @ np.diag(1 / np.sqrt(vals.clip(1e-12))) @ vecs.T
        bvals, bvecs = np.linalg.eigh(whiten @ between @ whiten)
        keep = bvecs[:, np.argsort(-bvals)[: min(dims, d)]]
        self.mean = mean.astype(np.float64)
        self.matrix = whiten @ keep  # [D, dims]

    @classmethod
    def from_folder(cls, folder: Path, config: dict[str, Any]) -> SpeakerProjection:
        stats = np.load(folder / str(config["weights"]))
        return cls(
            stats["mean"].astype(np.float64),
            stats["within"].astype(np.float64),
            stats["between"].astype(np.float64),
            shrink=float(config["shrink"]),
            dims=int(config["dims"]),
        )

    def __call__(self, emb: FloatArray) -> FloatArray:
        """Project embeddings [N, D] -> [N, dims], rows L2-normalised."""
        out = (emb - self.mean) @ self.matrix
        normed: FloatArray = out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-9)
        return normed


@lru_cache(maxsize=2)
def load_projection(name: str = PROJECTION_MODEL) -> SpeakerProjection:
    """The projection model folder ``name`` under models/ (checksums checked); ModelError when
    it is missing or corrupt."""
    from ..models import open_model_folder

    return SpeakerProjection.from_folder(*open_model_folder(name, "speaker"))


MEL_BLOCK_S = 60.0  # s of audio per mel block: bounds the STFT's memory on long calls


@lru_cache(maxsize=2)
def mel_filterbank(
    sr: int = SAMPLE_RATE, n_fft: int = MEL_N_FFT, bands: int = MEL_BANDS
) -> FloatArray:
    """Triangular mel filters [bands, n_fft // 2 + 1] on the Slaney mel scale (linear below
    1 kHz, logarithmic above), each scaled to unit area (2 / its width in Hz): the filterbank
    the GE2E encoder was trained with."""
    f_lin, knee_hz = 200.0 / 3, 1000.0  # Hz per mel below the knee; the knee
    knee_mel, log_step = knee_hz / f_lin, np.log(6.4) / 27.0

    def to_mel(hz: FloatArray) -> FloatArray:
        lin = hz / f_lin
        log = knee_mel + np.log(np.maximum(hz, knee_hz) / knee_hz) / log_step
        out: FloatArray = np.where(hz >= knee_hz, log, lin)
        return out

    def to_hz(mel: FloatArray) -> FloatArray:
        out: FloatArray = np.where(
            mel >= knee_mel, knee_hz * np.exp(log_step * (mel - knee_mel)), f_lin * mel
        )
        return out

    edges = to_hz(np.linspace(0.0, float(to_mel(np.array(sr / 2.0))), bands + 2))  # Hz
    bins = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    width = np.diff(edges)
    rise = (bins[None, :] - edges[:-2, None]) / width[:-1, None]
    fall = (edges[2:, None] - bins[None, :]) / width[1:, None]
    tri = np.maximum(0.0, np.minimum(rise, fall))
    bank: FloatArray = (tri * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)
    return bank


def encoder_mel(audio: FloatArray, sr: int = SAMPLE_RATE) -> FloatArray:
    """The encoder's input features [frames, MEL_BANDS] float32: mel-filtered power spectra
    (not logarithmic) of MEL_N_FFT-sample Hann windows every 10 ms, frame t centred on sample
    t * hop (the signal zero-padded by half a window at both ends), frames = 1 + len // hop.
    Numpy only: the same features as Resemblyzer's ``wav_to_mel_spectrogram`` (librosa) to
    float rounding, without importing librosa (seconds of CPU per process)."""
    hop = TimeGrid.rate(sr).frames(FRAME_S)
    half = MEL_N_FFT // 2
    padded = np.zeros(len(audio) + 2 * half, dtype=np.float64)
    padded[half : half + len(audio)] = audio
    n_frames = 1 + len(audio) // hop
    frames = np.lib.stride_tricks.as_strided(
        padded, (n_frames, MEL_N_FFT), (hop * padded.strides[0], padded.strides[0])
    )
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL_N_FFT) / MEL_N_FFT)  # periodic Hann
    out = np.empty((n_frames, MEL_BANDS), dtype=np.float32)
    bank = mel_filterbank(sr).T
    for a in range(0, n_frames, MEL_FFT_BATCH):  # a few thousand frames at a time (cache)
        spec = np.fft.rfft(frames[a : a + MEL_FFT_BATCH] * window, axis=1).astype(np.complex64)
        out[a : a + MEL_FFT_BATCH] = (spec.real**2 + spec.imag**2) @ bank
    return out


MEL_FFT_BATCH = 2048  # frames per FFT batch in encoder_mel


def _mel_in_blocks(
    audio: FloatArray, gain: float, to_mel: Callable[[FloatArray], FloatArray], *, sr: int
) -> FloatArray:
    """The encoder's mel frames [frames, 40] of ``audio * gain``, computed block by block.

    Each block is extended by half an analysis window on both sides and trimmed back, so the
    frames match a single pass up to floating point.
    """
    hop = TimeGrid.rate(sr).frames(FRAME_S)
    n_frames = 1 + len(audio) // hop
    block = int(MEL_BLOCK_S * sr) // hop * hop
    pad = 2 * hop  # more than half of the 25 ms window
    blocks: list[FloatArray] = []
    for start in range(0, max(len(audio), 1), block):
        lo = max(0, start - pad)
        chunk = (audio[lo : start + block + pad] * gain).astype(np.float32)
        mel = to_mel(chunk)
        skip = (start - lo) // hop
        blocks.append(mel[skip : skip + block // hop])
    return np.concatenate(blocks)[:n_frames]


def _units(
    spans: IntArray, owner: IntArray, emb: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Clustering units: each speech segment cut into pieces of at most UNIT_MAX_S; a unit's
    embedding is the mean of its windows' embeddings. Returns (unit [W] per window, unit
    embeddings [U, D] L2-normalised, unit weights [U] in seconds)."""
    unit = np.zeros(len(emb), dtype=int)
    n = 0
    for seg in np.unique(owner):
        rows = np.flatnonzero(owner == seg)
        a, b = spans[rows, 0].min(), spans[rows, 1].max()
        pieces = max(1, int(round((b - a) * FRAME_S / UNIT_MAX_S)))
        centre = (spans[rows, 0] + spans[rows, 1]) / 2
        unit[rows] = n + np.minimum(((centre - a) / (b - a) * pieces).astype(int), pieces - 1)
        n += pieces
    unit = compact_labels(unit)
    k = unit.max() + 1
    uemb = np.zeros((k, emb.shape[1]))
    np.add.at(uemb, unit, emb)
    uemb /= np.linalg.norm(uemb, axis=1, keepdims=True).clip(1e-9)
    weight = np.zeros(k)
    first, last = np.full(k, np.inf), np.zeros(k)
    np.minimum.at(first, unit, spans[:, 0])
    np.maximum.at(last, unit, spans[:, 1])
    weight = (last - first) * FRAME_S
    return unit, uemb, weight


def diarize(
    audio: FloatArray,
    speech: list[Segment],
    encoder: SpeakerEncoder,
    *,
    num_speakers: int | None = None,
    max_speakers: int = 4,
    ids: list[str] | None = None,
    min_speakers: int = 1,
    seen: Callable[[FloatArray], FloatArray] | None = None,
    seen_persons: int = 0,
) -> Turns:
    """Speaker turns for mixed (single-channel) audio.

    audio: float32 [samples] at 16 kHz; speech: voice-activity segments (pause-delimited).
    Speaker ids are ``ids[k]`` (default "S1", "S2", ... by decreasing talk time).

    1. Windows of speech (never across a pause) are embedded with the voice encoder, plus a
       pitch dimension (PITCH_WEIGHT, see ``with_pitch``; pitch from ``prosody.analyze_frames``).
    2. Clustering units are speech segments (cut into pieces of at most UNIT_MAX_S); each is the
       mean of its windows; on short calls (PROJECTED_MAX_UNITS) projected into the speaker
       space (``load_projection``). The units are clustered (``cluster_embeddings``, weighted
       by their duration); the count, unless given, is the most clusters that are distinct
       voices, as the learned count model (``speakercount.load_count_model``) judges each
       candidate split. A long call (over LONG_CALL_UNITS units) clusters an even spread of at most
       ``longcall.LONG_MAX_ITEMS`` units with a sparser affinity and gives every unit to the nearest
       cluster (``longcall.cluster_long_call``).
    3. Resegmentation: every 10 ms speech frame gets each speaker's similarity (windows'
       cosine to the speaker centroids, Hann-weighted towards window centres) and a Viterbi pass
       picks the labels, with a speaker change costing CHANGE_COST inside continuous speech and
       nothing across a pause.
    4. Overlapped speech: the learned detector's frames (``overlap.OverlapDetector``,
       ``models/overlap-mlp-mel-v2``) inside speech; each overlapped stretch keeps both voices
       (see _overlap_turns). Without the detector, the stretches around speaker changes where
       the windows resemble both speakers (see _overlap_near_changes).

    seen: for a video call, the mouth evidence of the persons seen talking at given times (s)
    (``video.talking.TalkingFaces.at``): two or more of them are the call's voices (see
    ``diarize_embedded``'s ``visual``); seen_persons: the persons on screen, talking or not.
    """
    if not speech:
        return Turns([], [])
    spans, owner, emb = encoder.embed_windows(audio, speech)
    duration = len(audio) / SAMPLE_RATE
    visual = None
    if seen is not None:
        visual = seen(np.arange(FRAMES.count(duration) + 1) * FRAME_S)
    overlap_prob = load_overlap_detector().probabilities(audio)
    f0 = analyze_frames(audio, speech=speech).f0_hz if PITCH_WEIGHT > 0 else None
    return diarize_embedded(
        spans,
        owner,
        emb,
        speech,
        duration,
        num_speakers=num_speakers,
        max_speakers=max_speakers,
        min_speakers=min_speakers,
        ids=ids,
        visual=visual,
        visual_persons=seen_persons,
        f0=f0,
        projection=load_projection(),
        overlap_prob=overlap_prob,
        count_model=load_count_model(),
    )


def diarize_embedded(
    spans: IntArray,
    owner: IntArray,
    emb: FloatArray,
    speech: list[Segment],
    duration: float,
    *,
    num_speakers: int | None = None,
    max_speakers: int = 4,
    ids: list[str] | None = None,
    split_distance: float | None = None,
    change_cost: float = CHANGE_COST,
    f0: FloatArray | None = None,
    projection: SpeakerProjection | None = None,
    pitch_weight: float = PROJECTED_PITCH_WEIGHT,
    overlap_prob: FloatArray | None = None,
    count_model: CountRule | None = None,
    min_speakers: int = 1,
    visual: FloatArray | None = None,
    visual_weight: float = VISUAL_WEIGHT,
    visual_persons: int = 0,
    second_look: bool = False,
) -> Turns:
    """Steps 2-4 of ``diarize`` on windows already embedded by ``SpeakerEncoder.embed_windows``
    (duration in seconds); the benchmark's tuning loop calls it on cached embeddings.

    projection: on calls of at most PROJECTED_MAX_UNITS units the clustering (and so the
    count) compares units in this speaker space; on longer calls the count is made on the
    plain embeddings and two voices are split in this space (``cluster_embeddings``'
    ``speaker_space``); the resegmentation keeps the plain embeddings' similarities.
    overlap_prob: the overlap detector's probability per 10 ms frame
    (``OverlapDetector.probabilities``); without it the heuristic ``_overlap_near_changes``.
    count_model: with a projection, the speaker count (unless given) of calls up to
    LONG_CALL_UNITS units is this learned decision over each candidate split
    (``speakercount``) instead of the distance rules.
    visual: [frames, P] on the diarization frame grid, the mouth evidence of P >= 2 persons
    seen talking in the video (``video.talking.TalkingFaces.at``; NaN where there is none):
    unless the count is given, the voices are then those P persons (``_visual_labels``) and
    the resegmentation adds ``visual_weight`` times the evidence to each frame's similarity;
    visual_persons: how many persons were on screen, talking or not (when more than P, the
    voices decide, with at least P of them).
    second_look: the two voices of a mid-length call are the grouping of finer clusters most
    tied to the turn-taking (``cluster_embeddings``' ``second_look``); with SECOND_LOOK on, a
    mid-length call whose voices ``voices_tie`` finds untied to its pauses is diarized again so."""
    if not speech:
        return Turns([], [])
    if len(emb) == 0:
        name = (ids or ["S1"])[0]
        return Turns([(name, s) for s in speech], [])
    plain = emb
    if f0 is not None and PITCH_WEIGHT > 0:
        emb = with_pitch(emb, spans, f0, PITCH_WEIGHT)
    unit, uemb, uweight = _units(spans, owner, emb)
    useg = np.zeros(len(uemb), dtype=int)  # the speech segment each unit was cut from
    useg[unit] = owner
    times = np.array([(s.start, s.end) for s in speech], float)  # each segment (start, end) s
    cemb, rule = uemb, dict[str, Any]()
    if projection is not None and PROJECTED_MAX_UNITS < len(uemb) <= LONG_CALL_UNITS:
        # Longer calls are counted on the plain embeddings; two voices are then told apart by
        # grouping finer (voice x mood) clusters in the speaker space (see cluster_embeddings).
        rule["speaker_space"] = _units(spans, owner, projection(plain))[1]
        rule["timing"] = (useg, times)
        rule["second_look"] = second_look
    elif projection is not None:
        pemb = projection(plain)
        if f0 is not None and pitch_weight > 0:
            pemb = with_pitch(pemb, spans, f0, pitch_weight)
        cemb = _units(spans, owner, pemb)[1]
        split_distance = PROJECTED_SPLIT_DISTANCE if split_distance is None else split_distance
        rule = {
            "extra_distance": PROJECTED_EXTRA_DISTANCE,
            "few_items_distance": PROJECTED_FEW_ITEMS_DISTANCE,
            "few_items_extra_distance": PROJECTED_FEW_ITEMS_EXTRA_DISTANCE,
        }
    if (
        count_model is not None
        and projection is not None
        and not num_speakers
        and len(uemb) <= LONG_CALL_UNITS
    ):
        rule["accept"] = _count_rule(
            count_model, spans, owner, plain, uemb, uweight, f0, projection
        )

    def by_voice(fewest: int = min_speakers) -> IntArray:
        """The units clustered by their voices alone, into at least ``fewest`` voices."""
        if len(uemb) > LONG_CALL_UNITS:  # a long call: bounded clustering, see longcall.py
            space = None  # the speaker space only where a long call's voices are regrouped in it
            if projection is not None and longcall.LONG_GROUPING:
                space = _units(spans, owner, projection(plain))[1]
            return cluster_long_call(
                uemb,
                uweight,
                num_speakers=num_speakers,
                max_speakers=max_speakers,
                segments=useg,
                speaker_space=space,
                min_speakers=fewest,
                times=times,
            )
        return cluster_embeddings(
            cemb,
            weights=uweight,
            num_speakers=num_speakers,
            max_speakers=max_speakers,
            min_speakers=fewest,
            split_distance=split_distance,
            **rule,
        )

    ulabels_seen = None
    if (
        visual is not None
        and max(2, min_speakers) <= visual.shape[1] <= max_speakers
        and not num_speakers
    ):  # the user's bounds on the count stand: outside them the voices decide
        ulabels_seen = _visual_labels(unit, spans, uemb, uweight, visual)
    if ulabels_seen is not None and visual is not None and visual_persons > visual.shape[1]:
        # Someone on screen was never seen talking, perhaps a talker whose face was missed (too
        # small, too still): the faces' count is then only a floor, and the voices decide.
        ulabels_seen = None
        ulabels = by_voice(max(min_speakers, min(visual.shape[1], max_speakers)))
    else:
        ulabels = by_voice() if ulabels_seen is None else ulabels_seen
    k = int(ulabels.max()) + 1
    names = ids if ids and len(ids) >= k else [f"S{i + 1}" for i in range(k)]
    cents = centroids(uemb, ulabels, uweight)

    n_frames = FRAMES.count(duration) + 1
    seg_of = np.full(n_frames, -1)
    for i, seg in enumerate(speech):
        span = FRAMES.cover(seg)
        seg_of[span.start : min(span.stop, n_frames)] = i
    speech_idx = np.flatnonzero(seg_of >= 0)
    score, voted = _frame_scores(spans, emb @ cents.T, n_frames)
    # the mouths' evidence added to every similarity pass (none unless the faces anchored)
    mouths = np.zeros((0, k))
    if ulabels_seen is not None and visual is not None:
        mouths = visual_weight * np.nan_to_num(visual[:n_frames], nan=0.0)
    score[: len(mouths)] += mouths
    frame_label = np.full(n_frames, -1)
    if k == 1:
        frame_label[speech_idx] = 0
    else:
        frame_label[speech_idx] = _viterbi(
            score[speech_idx], voted[speech_idx], seg_of[speech_idx], SIM_SCALE, change_cost
        )
        passes = longcall.LONG_RESEG_PASSES if len(uemb) > LONG_CALL_UNITS else 0
        for _ in range(passes):  # a long call: centroids refitted from the resegmentation
            refit = _window_centroids(spans, emb, frame_label, k)
            if refit is None:
                break
            score, voted = _frame_scores(spans, emb @ refit.T, n_frames)
            score[: len(mouths)] += mouths
            frame_label[speech_idx] = _viterbi(
                score[speech_idx], voted[speech_idx], seg_of[speech_idx], SIM_SCALE, change_cost
            )
        chained = (
            len(uemb) > LONG_CALL_UNITS if PAUSE_LONG_ONLY else len(speech) >= PAUSE_MIN_SEGMENTS
        )
        if PAUSE_PRIOR is not None and chained:
            frame_label[speech_idx] = _paused_labels(
                score[speech_idx], voted[speech_idx], seg_of[speech_idx], speech, change_cost
            )

    if ulabels_seen is not None and not ids:  # name the seen voices by talk time too
        talk = np.bincount(frame_label[frame_label >= 0], minlength=k)
        rank = np.argsort(np.argsort(-talk, kind="stable"))
        names = [f"S{r + 1}" for r in rank]
    turns: list[tuple[str, Segment]] = []
    for lab in range(k):
        for seg in mask_to_segments(frame_label == lab, hop_s=FRAME_S, min_off_s=0.0):
            turns.append((names[lab], Segment(seg.start, min(seg.end, duration))))
    turns.sort(key=lambda t: (t[1].start, t[0]))
    overlaps: list[Segment] = []
    if k > 1 and overlap_prob is not None:
        overlaps = _detected_overlaps(overlap_prob, frame_label, seg_of, duration)
        if OVERLAP_KEEP_BOTH:
            sure = [o for o in overlaps if _mean_prob(overlap_prob, o) >= OVERLAP_KEEP_PROB]
            turns = _overlap_turns(turns, sure, score, frame_label, names)
    elif k > 1:
        overlaps = _overlap_near_changes(score, voted, frame_label, seg_of, duration)
    result = Turns(turns, overlaps, k if ulabels_seen is not None else 0)
    mid_length = projection is not None and PROJECTED_MAX_UNITS < len(uemb) <= LONG_CALL_UNITS
    if SECOND_LOOK and not second_look and mid_length:
        if untied_voices(result, speech) is not None:  # the voices may be moods: look again
            return diarize_embedded(
                spans, owner, plain, speech, duration, num_speakers=num_speakers,
                max_speakers=max_speakers, ids=ids, split_distance=split_distance,
                change_cost=change_cost, f0=f0, projection=projection,
                pitch_weight=pitch_weight, overlap_prob=overlap_prob, count_model=count_model,
                min_speakers=min_speakers, visual=visual, visual_weight=visual_weight,
                visual_persons=visual_persons, second_look=True,
            )  # fmt: skip
    return result


def _visual_labels(
    unit: IntArray, spans: IntArray, uemb: FloatArray, uweight: FloatArray, visual: FloatArray
) -> IntArray | None:
    """Unit labels [U] from the persons seen talking: units whose mean mouth evidence
    (``visual`` [frames, P] over their windows' frames) leads by VISUAL_ANCHOR are that person's
    voice; every other unit goes to the nearest of the anchored voices' centroids. None when a
    person anchors less than VISUAL_MIN_ANCHOR_S of speech (their voice is not known) or when
    two persons' anchored voices differ no more than a random split of them would
    (``_distinct_anchors``): the faces then do not say more than the audio does."""
    k = visual.shape[1]
    sums = np.zeros((len(uemb), k))
    counts = np.zeros((len(uemb), k))
    for u, (a, b) in zip(unit, spans):
        seen = visual[a:b]
        ok = np.isfinite(seen)
        sums[u] += np.where(ok, seen, 0.0).sum(axis=0)
        counts[u] += ok.sum(axis=0)
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)
    anchor = np.where(mean.max(axis=1) >= VISUAL_ANCHOR, mean.argmax(axis=1), -1)
    for p in range(k):
        if uweight[anchor == p].sum() < VISUAL_MIN_ANCHOR_S:
            return None
    held = anchor >= 0
    if not _distinct_anchors(uemb[held], anchor[held], uweight[held], k):
        return None
    cents = centroids(uemb[held], anchor[held], uweight[held])
    labels: IntArray = np.where(anchor >= 0, anchor, np.argmax(uemb @ cents.T, axis=1))
    return labels


def _distinct_anchors(emb: FloatArray, labels: IntArray, weights: FloatArray, k: int) -> bool:
    """Whether the voices of every two anchored persons differ more than chance: the cosine
    distance of their centroids beats (1 - VISUAL_TEST_P) of the distances of the same units
    with the labels shuffled (VISUAL_PERMUTATIONS times, a fixed seed). A face that only
    listens can lead now and then; its "voice" is then a random share of the talker's and no
    further from the rest than a random split."""
    rng = np.random.default_rng(0)
    for a in range(k):
        for b in range(a + 1, k):
            pair = (labels == a) | (labels == b)
            lab, sub_emb, sub_w = labels[pair], emb[pair], weights[pair]
            real = _centroid_distance(sub_emb, lab, sub_w, a, b)
            shuffled = [
                _centroid_distance(sub_emb, rng.permutation(lab), sub_w, a, b)
                for _ in range(VISUAL_PERMUTATIONS)
            ]
            if real <= np.quantile(shuffled, 1.0 - VISUAL_TEST_P):
                return False
    return True


def _centroid_distance(
    emb: FloatArray, lab: IntArray, weights: FloatArray, a: int, b: int
) -> float:
    """Cosine distance between the weighted centroids of labels ``a`` and ``b``."""
    ca = (emb[lab == a] * weights[lab == a, None]).sum(axis=0)
    cb = (emb[lab == b] * weights[lab == b, None]).sum(axis=0)
    denom = float(np.linalg.norm(ca) * np.linalg.norm(cb))
    return 1.0 - float(ca @ cb) / denom if denom > 0 else 0.0


class CountRule(Protocol):
    """What decides a candidate split's count (``CountModel`` or a training probe)."""

    def accepts(self, features: FloatArray, k: int) -> bool | None: ...


def _count_rule(
    model: CountRule,
    spans: IntArray,
    owner: IntArray,
    plain: FloatArray,
    uemb: FloatArray,
    uweight: FloatArray,
    f0: FloatArray | None,
    projection: SpeakerProjection,
) -> Callable[[IntArray, int, Callable[[int], IntArray]], bool | None]:
    """``cluster_embeddings``' ``accept``: the model's decision on a candidate k-way split of
    the units, from ``speakercount.partition_features``."""
    unit, space, _ = _units(spans, owner, projection(plain))
    k_units = len(uemb)
    segment = np.zeros(k_units, dtype=int)
    segment[unit] = owner
    pitch = np.full(k_units, np.nan)
    if f0 is not None:
        log_f0 = np.log2(np.where(f0 > 0, f0, np.nan))
        for u in range(k_units):
            frames = np.concatenate([log_f0[a : min(b, len(log_f0))] for a, b in spans[unit == u]])
            frames = frames[np.isfinite(frames)]
            if len(frames) >= PITCH_MIN_FRAMES:
                pitch[u] = np.median(frames)

    def accept(labels: IntArray, k: int, split: Callable[[int], IntArray]) -> bool | None:
        fine = split(FINE_CLUSTERS) if k == 2 and len(uemb) > 2 * FINE_CLUSTERS else None
        if k_units <= PROJECTED_MAX_UNITS:  # the distance rule this call would get
            need = (
                PROJECTED_SPLIT_DISTANCE
                + PROJECTED_EXTRA_DISTANCE * (k - 2)
                + (PROJECTED_FEW_ITEMS_DISTANCE + PROJECTED_FEW_ITEMS_EXTRA_DISTANCE * (k - 2))
                / np.sqrt(k_units)
            )
            rule = ("space", need)
        else:
            rule = ("plain", SPLIT_DISTANCE + EXTRA_SPEAKER_DISTANCE * (k - 2))
        feats = partition_features(uemb, space, uweight, pitch, segment, labels, fine, rule)
        return model.accepts(feats, k)

    return accept


def with_pitch(emb: FloatArray, spans: IntArray, f0: FloatArray, weight: float) -> FloatArray:
    """Window embeddings [W, D] with one more dimension, the window's median pitch in octaves
    from the call's median (0 for a window without voiced frames), times ``weight``; rows
    L2-normalised again.

    GE2E embeddings of one voice move with its mood; the pitch register moves less and is the
    plainest cue between a man and a woman. Two windows an octave apart lose about
    ``weight**2`` of cosine similarity (for small weights), so one number sets how much the
    register counts against the encoder.
    """
    log_f0 = np.log2(np.where(f0 > 0, f0, np.nan))
    pitch = np.full(len(emb), np.nan)
    for i, (a, b) in enumerate(spans):
        voiced = log_f0[a : min(b, len(log_f0))]
        voiced = voiced[np.isfinite(voiced)]
        if len(voiced) >= PITCH_MIN_FRAMES:
            pitch[i] = np.median(voiced)
    known = np.isfinite(pitch)
    if not known.any():
        return emb
    centred = np.where(known, pitch - np.median(pitch[known]), 0.0)
    out = np.concatenate([emb, weight * centred[:, None]], axis=1)
    normed: FloatArray = out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-9)
    return normed


def _detected_overlaps(
    prob: FloatArray, labels: IntArray, seg_of: IntArray, duration: float
) -> list[Segment]:
    """Overlapped-speech segments from the detector's frame probabilities [frames], with the
    shipped model's decision (threshold, smoothing, shortest run), inside speech frames
    (``labels`` >= 0); when the model says so (``near_change_s``) its threshold holds near a
    speaker change inside continuous speech (where a voice cuts in) and ``far_threshold``
    (stricter, or never) elsewhere, as the validation calls chose."""
    det = load_overlap_detector()
    n = len(labels)
    p = np.zeros(n, dtype=np.float32)
    p[: min(n, len(prob))] = prob[:n]
    near = None
    if det.near_change_s > 0:
        near = _near_changes(labels, seg_of, FRAMES.frames(det.near_change_s))
        if det.edge_s > 0:
            near |= _near_edges(seg_of, FRAMES.frames(det.edge_s))
    found = mask_to_segments(det.mask(p, labels >= 0, near), hop_s=FRAME_S, min_off_s=0.0)
    return [Segment(s.start, min(s.end, duration)) for s in found if s.start < duration]


def _mean_prob(prob: FloatArray, seg: Segment) -> float:
    """The detector's mean probability over ``seg``."""
    part = prob[FRAMES.index(seg.start) : FRAMES.end_index(seg.end)]
    return float(part.mean()) if len(part) else 0.0


def _overlap_turns(
    turns: list[tuple[str, Segment]],
    overlaps: list[Segment],
    score: FloatArray,
    labels: IntArray,
    names: list[str],
) -> list[tuple[str, Segment]]:
    """Turns plus, in each overlapped stretch, a turn of the second voice: the speaker other
    than the frame's label whose similarity is highest over the stretch and a second around it
    (the voice that cuts in or is cut into)."""
    if not overlaps:
        return turns
    reach = FRAMES.frames(OVERLAP_CONTEXT_S)
    extra: list[tuple[str, Segment]] = []
    for seg in overlaps:
        a, b = FRAMES.index(seg.start), min(FRAMES.end_index(seg.end), len(labels))
        if b <= a:
            continue
        main = labels[a:b][labels[a:b] >= 0]
        if not len(main):
            continue
        own = int(np.bincount(main).argmax())
        near = score[max(0, a - reach) : b + reach].mean(axis=0)
        near[own] = -np.inf
        extra.append((names[int(np.argmax(near))], seg))
    out = turns + extra
    out.sort(key=lambda t: (t[1].start, t[0]))
    return out


def _overlap_near_changes(
    score: FloatArray,
    voted: BoolArray,
    labels: IntArray,
    seg_of: IntArray,
    duration: float,
) -> list[Segment]:
    """Likely overlapped speech: around a speaker change inside continuous speech (a cut-in,
    no pause between the voices), the frames whose windows resemble both speakers about equally.

    score: [frames, k] centroid similarity per frame; labels: Viterbi labels (-1 off speech);
    seg_of: speech segment index per frame. A frame counts when it lies within
    OVERLAP_REACH_S of such a change and its top two similarities differ by less than
    OVERLAP_MARGIN; runs shorter than OVERLAP_MIN_S are dropped.
    """
    top2 = np.sort(score, axis=1)[:, -2:]
    close = voted & (labels >= 0) & (top2[:, 1] - top2[:, 0] < OVERLAP_MARGIN)
    near = _near_changes(labels, seg_of, FRAMES.frames(OVERLAP_REACH_S))
    found = mask_to_segments(close & near, hop_s=FRAME_S, min_on_s=OVERLAP_MIN_S, min_off_s=0.1)
    return [Segment(s.start, min(s.end, duration)) for s in found]


def _near_changes(labels: IntArray, seg_of: IntArray, reach: int) -> BoolArray:
    """Frames within ``reach`` frames of a speaker change inside continuous speech."""
    near = np.zeros(len(labels), dtype=bool)
    change = np.flatnonzero(
        (labels[1:] != labels[:-1])
        & (labels[1:] >= 0)
        & (labels[:-1] >= 0)
        & (seg_of[1:] == seg_of[:-1])
    )
    for c in change:
        near[max(0, c - reach) : c + reach] = True
    return near


def _frame_scores(spans: IntArray, sims: FloatArray, n_frames: int) -> tuple[FloatArray, BoolArray]:
    """Per-frame similarity to each speaker [frames, k]: the windows' similarities ``sims``
    [W, k] spread over their frame ``spans`` [W, 2] with a Hann taper and averaged; and which
    frames a window covers."""
    score = np.zeros((n_frames, sims.shape[1]))
    mass = np.zeros(n_frames)
    for (a, b), s in zip(spans, sims):
        taper = np.hanning(b - a + 2)[1:-1]
        score[a:b] += taper[:, None] * s[None, :]
        mass[a:b] += taper
    voted = mass > 0
    score[voted] /= mass[voted, None]
    return score, voted


def _window_centroids(
    spans: IntArray, emb: FloatArray, frame_label: IntArray, k: int
) -> FloatArray | None:
    """The k speakers' centroids [k, D] from the windows ``emb`` [W, D], each window given the
    label most of its speech frames carry (``frame_label``, -1 off speech), weighted by its
    length; None when a speaker keeps no window."""
    labels = np.full(len(spans), -1)
    for j, (a, b) in enumerate(spans):
        own = frame_label[a:b]
        own = own[own >= 0]
        if len(own):
            labels[j] = int(np.bincount(own, minlength=k).argmax())
    keep = labels >= 0
    if len(np.unique(labels[keep])) < k:
        return None
    lengths = (spans[:, 1] - spans[:, 0]).astype(float)
    return centroids(emb[keep], labels[keep], lengths[keep])


def _near_edges(seg_of: IntArray, reach: int) -> BoolArray:
    """Frames of a speech segment (``seg_of`` [frames], -1 off speech) within ``reach`` frames
    of its first or last frame."""
    near = np.zeros(len(seg_of), dtype=bool)
    inside = seg_of >= 0
    starts = np.flatnonzero(inside & ~np.r_[False, inside[:-1] & (seg_of[:-1] == seg_of[1:])])
    ends = np.flatnonzero(inside & ~np.r_[inside[1:] & (seg_of[1:] == seg_of[:-1]), False])
    for a, b in zip(starts, ends):
        near[a : min(a + reach, b + 1)] = True
        near[max(a, b + 1 - reach) : b + 1] = True
    return near


def _viterbi(
    score: FloatArray, voted: BoolArray, segment: IntArray, scale: float, change_cost: float
) -> IntArray:
    """Best label path over speech frames.

    score: [T, k] similarities (frames no window covered carry no evidence); segment: [T] speech
    segment index per frame. A change costs ``change_cost`` between frames of one segment and
    nothing between segments, so each segment's best path is independent of the others' (all
    are decoded together, ``_viterbi_tables``). Returns labels [T].
    """
    emit = np.where(voted[:, None], scale * score, 0.0)
    acc, back = _viterbi_tables(emit, segment, change_cost)
    return _trace(back, segment, np.argmax(acc, axis=1))


def _paused_labels(
    score: FloatArray,
    voted: BoolArray,
    segment: IntArray,
    speech: Sequence[Segment],
    change_cost: float,
) -> IntArray:
    """``_viterbi_paused`` over the speech frames (``segment`` [T]: each frame's index into
    ``speech``) with the pauses between the segments the frames belong to."""
    present = segment[np.r_[True, segment[1:] != segment[:-1]]]
    gaps = np.array(
        [max(0.0, speech[b].start - speech[a].end) for a, b in zip(present[:-1], present[1:])]
    )
    return _viterbi_paused(score, voted, segment, gaps, SIM_SCALE, change_cost, PAUSE_PRIOR or 0.0)


def _viterbi_tables(
    emit: FloatArray, segment: IntArray, change_cost: float, entry: int | None = None
) -> tuple[FloatArray, NDArray[np.int8]]:
    """Each segment's best path scores by last label, [S, k] (segments in order of first
    frame), and the back-pointers [T, k] that trace them, with ``emit`` [T, k] log-evidence, a
    change inside a segment costing ``change_cost``; ``entry``: every segment starts in this
    label (the others' paths -inf). The segments are decoded together, one time step from
    their starts at a time, the longest first so that the live ones lead."""
    t_n, k = emit.shape
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    lengths = np.diff(np.r_[starts, t_n])
    penalty = np.where(np.eye(k, dtype=bool), 0.0, change_cost)
    back = np.zeros((t_n, k), dtype=np.int8)
    acc = emit[starts].copy()
    if entry is not None:
        acc[:, np.arange(k) != entry] = -np.inf
    order = np.argsort(-lengths, kind="stable")
    s_ord, l_ord, a_ord = starts[order], lengths[order], acc[order]
    live = len(s_ord)
    for t in range(1, int(l_ord[0])):
        while l_ord[live - 1] <= t:
            live -= 1
        frame = s_ord[:live] + t
        cand = a_ord[:live, :, None] - penalty
        best = np.argmax(cand, axis=1)
        back[frame] = best
        a_ord[:live] = np.take_along_axis(cand, best[:, None, :], axis=1)[:, 0] + emit[frame]
    acc[order] = a_ord
    return acc, back


def _trace(back: NDArray[np.int8], segment: IntArray, last: IntArray) -> IntArray:
    """Labels [T] traced from each segment's last label ``last`` [S] through ``back`` [T, k]
    (one back-pointer table per frame, as ``_viterbi_tables`` makes it)."""
    t_n = len(segment)
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    lengths = np.diff(np.r_[starts, t_n])
    order = np.argsort(-lengths, kind="stable")
    s_ord, l_ord = starts[order], lengths[order]
    path = np.zeros(t_n, dtype=int)
    path[s_ord + l_ord - 1] = last[order]
    live = 0
    for t in range(int(l_ord[0]) - 1, 0, -1):
        while live < len(s_ord) and l_ord[live] > t:
            live += 1
        frame = s_ord[:live] + t
        path[frame - 1] = back[frame, path[frame]]
    return path


def _change_odds(labels: IntArray, segment: IntArray, gap_bin: IntArray, bins: int) -> FloatArray:
    """Per gap bin [bins], the share of the pauses of that kind at which the voice changes
    (``labels`` [T] on speech frames, ``segment`` [T]; ``gap_bin`` [S - 1] the bin of the pause
    before each segment but the first), one change and one stay added to each bin."""
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    ends = np.r_[starts[1:], len(segment)] - 1
    changed = labels[starts[1:]] != labels[ends[:-1]]
    n = np.bincount(gap_bin, minlength=bins)
    c = np.bincount(gap_bin, weights=changed.astype(float), minlength=bins)
    out: FloatArray = (c + 1.0) / (n + 2.0)
    return out


def _viterbi_paused(
    score: FloatArray,
    voted: BoolArray,
    segment: IntArray,
    gaps: FloatArray,
    scale: float,
    change_cost: float,
    weight: float,
    bins: int = PAUSE_BINS,
    rounds: int = PAUSE_ROUNDS,
) -> IntArray:
    """Best label path over speech frames, as ``_viterbi``, with the segments chained by how
    this call's voices change at its pauses: a pause of the call's g-th quantile bin (``gaps``
    [S - 1], s, before each segment but the first) lets the voice change with probability
    p_g, learned from the call's own labelling (``_change_odds``: first the unchained one, then
    each round's) and weighed by ``weight`` against the frames' evidence. A call whose voices
    change at any pause alike (p_g flat) is decoded about as before; one whose voices change
    at pauses of their own kind keeps to them."""
    k = score.shape[1]
    emit = np.where(voted[:, None], scale * score, 0.0)
    tables = [_viterbi_tables(emit, segment, change_cost, entry=e) for e in range(k)]
    acc_all = np.stack([a for a, _ in tables])  # [entry, S, exit]
    back_all = np.stack([b for _, b in tables])  # [entry, T, k]
    n_seg = acc_all.shape[1]
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    frames = np.arange(len(segment))
    seg_len = np.diff(np.r_[starts, len(segment)])
    # the unchained decoding from the same tables: each segment's best entry and exit
    flat = acc_all.transpose(1, 0, 2).reshape(n_seg, k * k).argmax(axis=1)
    seg_entry = np.repeat(flat // k, seg_len)
    labels = _trace(back_all[seg_entry, frames], segment, flat % k)
    if n_seg < 2 or k < 2:
        return labels
    edges = np.quantile(gaps, np.linspace(0, 1, bins + 1)[1:-1])
    gap_bin = np.searchsorted(edges, gaps, side="right")
    same = np.eye(k, dtype=bool)
    for _ in range(rounds):
        p = _change_odds(labels, segment, gap_bin, bins)
        move = weight * np.log(p / (k - 1))  # [bins]
        stay = weight * np.log1p(-p)
        best = acc_all[:, 0].max(axis=0)  # [exit]
        choice = np.zeros((n_seg, k, 2), dtype=int)  # (previous exit, entry) per exit
        choice[0, :, 1] = acc_all[:, 0].argmax(axis=0)
        for s in range(1, n_seg):
            b = gap_bin[s - 1]
            trans = np.where(same, stay[b], move[b])  # [previous exit, entry]
            into = (best[:, None] + trans).max(axis=0)  # [entry]
            via = (best[:, None] + trans).argmax(axis=0)
            total = into[:, None] + acc_all[:, s]  # [entry, exit]
            entry = total.argmax(axis=0)
            best = total[entry, np.arange(k)]
            choice[s, :, 0] = via[entry]
            choice[s, :, 1] = entry
        exits = np.zeros(n_seg, dtype=int)
        entries = np.zeros(n_seg, dtype=int)
        exits[-1] = int(best.argmax())
        for s in range(n_seg - 1, -1, -1):
            entries[s] = choice[s, exits[s], 1]
            if s:
                exits[s - 1] = choice[s, exits[s], 0]
        back = back_all[np.repeat(entries, seg_len), frames]
        labels = _edge_runs(_trace(back, segment, exits), segment, PAUSE_EDGE_FRAMES)
    return labels


def _edge_runs(labels: IntArray, segment: IntArray, frames: int) -> IntArray:
    """``labels`` [T] with each segment's first and last runs shorter than ``frames`` given
    the label next to them inside the segment: a chained decoding may enter a segment in the
    voice the pause points to and leave it at once for the one the frames show (a change
    inside speech costs less than a very unlikely pause), which means the change came at the
    pause."""
    out = labels.copy()
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    ends = np.r_[starts[1:], len(segment)]
    for a, b in zip(starts, ends):
        if b - a <= frames:
            continue
        first = a + int(np.argmax(out[a:b] != out[a]))
        if out[first] != out[a] and first - a < frames:
            out[a:first] = out[first]
        tail = out[a:b][::-1]
        last = b - int(np.argmax(tail != tail[0]))
        if out[last - 1] != out[b - 1] and b - last < frames:
            out[last:b] = out[last - 1]
    return out


def untied_voices(turns: Turns, speech: Sequence[Segment]) -> float | None:
    """The turn-taking score (``voices_tie``) of a diarized call whose voices may be mixed up:
    two or more voices not anchored by faces seen talking, at least UNCERTAIN_MIN_SPEECH_S of
    speech (fewer pauses make the score small by chance), a score under UNCERTAIN_TIE. None
    for any other call."""
    if turns.seen_voices or sum(s.duration for s in speech) < UNCERTAIN_MIN_SPEECH_S:
        return None
    tie = voices_tie(turns, speech)
    return tie if tie is not None and tie < UNCERTAIN_TIE else None


def voices_tie(turns: Turns, speech: Sequence[Segment]) -> float | None:
    """How tied the voice changes of a diarized call are to its turn-taking: each speech
    segment labelled by the voice holding most of it, then ``clustering.turn_tie`` with
    alternation (|z| of the pauses before a change against those before the same voice goes
    on, combined with how often the voice alternates from one segment to the next). Talkers
    change at pauses of their own kind; voices split by mood change whatever the pause, so a
    low score marks a call whose voices may be mixed up. None with fewer than two voices
    among the segments."""
    names = turns.speakers
    if len(names) < 2 or not speech:
        return None
    step = FRAME_S
    end = max(max(s.end for s in speech), max(t.end for _, t in turns.turns))
    frames = int(np.ceil(end / step)) + 1
    held = np.zeros((len(names), frames + 1))  # cumulative frames of each voice
    for k, name in enumerate(names):
        mask = np.zeros(frames)
        for seg in turns.of(name):
            mask[int(seg.start / step) : int(np.ceil(seg.end / step))] = 1.0
        held[k, 1:] = np.cumsum(mask)
    a = np.array([int(s.start / step) for s in speech])
    b = np.array([max(int(np.ceil(s.end / step)), int(s.start / step) + 1) for s in speech])
    cover = held[:, np.minimum(b, frames)] - held[:, np.minimum(a, frames)]  # [voices, S]
    keep = cover.max(axis=0) > 0
    labels = cover.argmax(axis=0)[keep]
    if len(set(labels.tolist())) < 2:
        return None
    times = np.array([(s.start, s.end) for s in speech], float)[keep]
    weights = times[:, 1] - times[:, 0]
    order = np.arange(len(labels))
    return turn_tie(labels, order, weights, times, alternation=True)
