"""Who spoke when: one speaker per channel for channel-separated calls, diarization for mixed audio.

Diarization embeds short windows of speech with the GE2E voice encoder that ships inside
Resemblyzer, clusters stretches of speech (spectral clustering of a pruned cosine affinity; the
number of speakers, unless given, is the most clusters that stay apart, see ``cluster_embeddings``)
and resegments the 10 ms frame grid with a Viterbi pass over the windows' speaker similarities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config import SAMPLE_RATE
from ..segment import Segment, TimeGrid
from .vad import VAD_HOP_S, mask_to_segments, speech_mask

FRAME_S = 0.01  # s; the diarization frame grid (the voice encoder's mel hop)
FRAMES = TimeGrid(FRAME_S)
EMBED_WIN_S = 1.5  # s of speech per embedded window
EMBED_HOP_S = 0.5  # s between embedded windows (the LSTM's cost grows with 1 / hop)
MIN_EMBED_S = 0.3  # s; shorter speech segments are not embedded (labelled by resegmentation)
UNIT_MAX_S = 3.0  # s; longest clustering unit (longer speech segments are cut into pieces)
SPLIT_DISTANCE = 0.23  # cosine; clusters are one voice if NEAR_SHARE of cross pairs are nearer
NEAR_SHARE = 0.1  # share of the cross-cluster pairs (the nearest) that decides a split
EXTRA_SPEAKER_DISTANCE = 0.03  # cosine added to SPLIT_DISTANCE per speaker beyond two (validation)
PRUNE_SHARE = 0.3  # share of each unit's most similar units kept in the spectral affinity
MIN_CLUSTER_SHARE = 0.07  # a split leaving a cluster less of the speech than this is refused
SIM_SCALE = 20.0  # per-frame log-evidence per unit of cosine similarity in resegmentation
CHANGE_COST = 30.0  # log-cost of a speaker change inside continuous speech (none at a pause)
OVERLAP_REACH_S = 0.5  # s around an in-speech speaker change searched for overlapped speech
OVERLAP_MARGIN = 0.1  # cosine; top-two similarities closer than this look mixed (validation)
OVERLAP_MIN_S = 0.2  # s; shorter ambiguous runs are not reported
CROSSTALK_DB = 15.0  # dB; level-only rule (no audio given): this much quieter is bleed
CROSSTALK_WINDOW_S = 0.5  # s over which channel levels are compared for bleed


@dataclass(frozen=True)
class Turns:
    """Speech turns per speaker and the stretches where two or more speak at once."""

    turns: list[tuple[str, Segment]]  # (speaker id, segment), sorted by start
    overlaps: list[Segment]

    def of(self, speaker: str) -> list[Segment]:
        return [seg for spk, seg in self.turns if spk == speaker]

    @property
    def speakers(self) -> list[str]:
        return sorted({spk for spk, _ in self.turns})


class SpeakerEncoder:
    """The GE2E voice encoder (256-d, from Resemblyzer). Load once, embed many windows."""

    def __init__(self) -> None:
        import torch
        from resemblyzer import VoiceEncoder

        self._torch = torch
        self._encoder = VoiceEncoder(device="cpu", verbose=False).eval()

    def embed_windows(
        self, audio: np.ndarray, speech: list[Segment], *, sr: int = SAMPLE_RATE
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Embed windows of speech, each inside one speech segment.

        audio: float32 [samples] at 16 kHz; speech: pause-delimited voice-activity segments.
        Segments longer than EMBED_WIN_S get windows every EMBED_HOP_S (the last one flush with
        the segment's end); shorter ones (at least MIN_EMBED_S) one window over the whole segment.
        Returns (frames [W, 2] int first/last+1 frame on the 10 ms grid, segment [W] index into
        ``speech``, embeddings [W, 256] L2-normalised).
        """
        from resemblyzer.audio import wav_to_mel_spectrogram

        empty = (np.zeros((0, 2), int), np.zeros(0, int), np.zeros((0, 256), np.float32))
        if not speech:
            return empty
        # Level to -30 dBFS RMS, as the encoder was trained; measured on speech only.
        samples = TimeGrid.rate(sr)
        voiced = np.concatenate([audio[samples.slice(s)] for s in speech])
        rms = float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 0.0
        gain = 10 ** (-30 / 20) / rms if rms > 1e-6 else 1.0
        mel = _mel_in_blocks(audio, gain, wav_to_mel_spectrogram, sr=sr)  # [frames, 40], 10 ms
        win, hop = FRAMES.frames(EMBED_WIN_S), FRAMES.frames(EMBED_HOP_S)
        spans, owner = [], []
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
        with self._torch.inference_mode():
            for n in np.unique(lengths):
                rows = np.flatnonzero(lengths == n)
                for b0 in range(0, len(rows), 256):
                    r = rows[b0 : b0 + 256]
                    batch = np.stack([mel[spans_a[j, 0] : spans_a[j, 1]] for j in r])
                    out[r] = self._encoder(self._torch.from_numpy(batch)).numpy()
        return spans_a, np.array(owner), out


MEL_BLOCK_S = 60.0  # s of audio per mel block: bounds the STFT's memory on long calls


def _mel_in_blocks(audio: np.ndarray, gain: float, to_mel, *, sr: int) -> np.ndarray:
    """The encoder's mel frames [frames, 40] of ``audio * gain``, computed block by block.

    Each block is extended by half an analysis window on both sides and trimmed back, so the
    frames match a single pass up to floating point.
    """
    hop = TimeGrid.rate(sr).frames(FRAME_S)
    n_frames = 1 + len(audio) // hop
    block = int(MEL_BLOCK_S * sr) // hop * hop
    pad = 2 * hop  # more than half of the 25 ms window
    out = []
    for start in range(0, max(len(audio), 1), block):
        lo = max(0, start - pad)
        chunk = (audio[lo : start + block + pad] * gain).astype(np.float32)
        mel = to_mel(chunk)
        skip = (start - lo) // hop
        out.append(mel[skip : skip + block // hop])
    return np.concatenate(out)[:n_frames]


def cluster_embeddings(
    embeddings: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    num_speakers: int | None = None,
    max_speakers: int = 4,
    split_distance: float | None = None,
) -> np.ndarray:
    """Cluster L2-normalised embeddings [W, D] into speaker labels [W] (0..k-1, by weight).

    weights: [W] (e.g. seconds of speech each embedding stands for; default 1).
    With ``num_speakers`` the items are split into exactly that many clusters (fewer if there
    are fewer items). Otherwise k = 2, 3, ... ``max_speakers`` clusterings are tried in turn
    and the last one kept in which every two clusters are distinct voices (see ``_distinct``:
    ``split_distance`` apart, default SPLIT_DISTANCE, plus EXTRA_SPEAKER_DISTANCE per speaker
    beyond two, as most calls are two-party) and every cluster holds at least
    MIN_CLUSTER_SHARE of the weight; one speaker when even the two-way split fails. A split is
    spectral clustering for more than 2 * max_speakers items, average linkage below that, and
    is followed by a few weighted nearest-centroid passes.
    """
    w = len(embeddings)
    weights = np.ones(w) if weights is None else np.asarray(weights, float)
    split_distance = SPLIT_DISTANCE if split_distance is None else split_distance
    if w == 0:
        return np.zeros(0, dtype=int)
    if w == 1 or num_speakers == 1:
        return np.zeros(w, dtype=int)
    split = _splitter(embeddings, weights, max_speakers)
    if num_speakers:
        labels = split(min(num_speakers, w))
    else:
        labels = np.zeros(w, dtype=int)
        for k in range(2, min(max_speakers, w) + 1):
            cand = split(k)
            need = split_distance + EXTRA_SPEAKER_DISTANCE * (k - 2)
            if cand.max() < k - 1 or not _distinct(embeddings, cand, weights, need):
                break
            labels = cand
    # Relabel by weight so label 0 is the speaker with the most speech.
    order = np.argsort(-np.bincount(labels, weights=weights))
    return np.argsort(order)[labels]


def _splitter(embeddings: np.ndarray, weights: np.ndarray, max_speakers: int):
    """A function k -> labels [W]: the k-way clustering, each computed once."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(embeddings) > 2 * max_speakers:
        vecs = _spectral_vectors(embeddings)

        def split(k: int) -> np.ndarray:
            return _reassign(embeddings, _embed_kmeans(vecs, k), weights)

    else:
        tree = linkage(embeddings, method="average", metric="cosine")

        def split(k: int) -> np.ndarray:
            labels = fcluster(tree, t=k, criterion="maxclust") - 1
            return _reassign(embeddings, labels, weights)

    return split


def _distinct(
    embeddings: np.ndarray, labels: np.ndarray, weights: np.ndarray, distance: float
) -> bool:
    """Whether every cluster holds MIN_CLUSTER_SHARE of the weight and every two clusters are
    ``distance`` apart: fewer than NEAR_SHARE of their cross pairs nearer than that (cosine).

    A voice heard in two moods makes two tight clusters with centroids as far apart as two
    similar voices, but the clusters touch: some items of one have near twins in the other.
    A quantile of the cross distances, unlike the nearest pair, hardly moves with the number
    of items (the call's length).
    """
    if np.bincount(labels, weights=weights).min() < MIN_CLUSTER_SHARE * weights.sum():
        return False
    sims = embeddings @ embeddings.T
    for a in range(labels.max() + 1):
        for b in range(a):
            cross = sims[np.ix_(labels == a, labels == b)]
            if 1 - np.quantile(cross, 1 - NEAR_SHARE) < distance:
                return False
    return True


def _spectral_vectors(embeddings: np.ndarray) -> np.ndarray:
    """Eigenvectors [W, W] (ascending eigenvalues) of the normalised Laplacian of a
    row-pruned cosine affinity: each row keeps its PRUNE_SHARE most similar items (the rest
    is noise between different voices that blurs the block structure)."""
    aff = np.clip(embeddings @ embeddings.T, 0.0, None)
    keep = max(2, int(PRUNE_SHARE * len(aff)))
    thr = np.sort(aff, axis=1)[:, -keep][:, None]
    aff = np.where(aff >= thr, aff, 0.0)
    aff = (aff + aff.T) / 2
    d = 1 / np.sqrt(aff.sum(axis=1).clip(1e-9))
    lap = np.eye(len(aff)) - d[:, None] * aff * d[None, :]
    return np.linalg.eigh(lap)[1]


def _embed_kmeans(vecs: np.ndarray, k: int) -> np.ndarray:
    """k-means on the first k eigenvectors (rows normalised), best of 5 seeded restarts."""
    from scipy.cluster.vq import kmeans2

    v = vecs[:, :k]
    v = v / np.linalg.norm(v, axis=1, keepdims=True).clip(1e-9)
    best, best_inertia = None, np.inf
    for seed in range(5):  # seeded: the result is deterministic
        cents, labels = kmeans2(v, k, minit="++", seed=seed)
        inertia = ((v - cents[labels]) ** 2).sum()
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return _compact(best)


def _centroids(embeddings: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    cents = np.stack(
        [
            (embeddings[labels == k] * weights[labels == k, None]).sum(axis=0)
            for k in range(labels.max() + 1)
        ]
    )
    return cents / np.linalg.norm(cents, axis=1, keepdims=True).clip(1e-9)


def _compact(labels: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse


def _reassign(
    embeddings: np.ndarray, labels: np.ndarray, weights: np.ndarray, rounds: int = 3
) -> np.ndarray:
    """A few nearest-centroid passes: fixes items that average linkage chained wrongly."""
    labels = _compact(labels)
    for _ in range(rounds):
        new = _compact(np.argmax(embeddings @ _centroids(embeddings, labels, weights).T, axis=1))
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _units(spans: np.ndarray, owner: np.ndarray, emb: np.ndarray) -> tuple[np.ndarray, ...]:
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
    unit = _compact(unit)
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
    audio: np.ndarray,
    speech: list[Segment],
    encoder: SpeakerEncoder,
    *,
    num_speakers: int | None = None,
    max_speakers: int = 4,
    ids: list[str] | None = None,
) -> Turns:
    """Speaker turns for mixed (single-channel) audio.

    audio: float32 [samples] at 16 kHz; speech: voice-activity segments (pause-delimited).
    Speaker ids are ``ids[k]`` (default "S1", "S2", ... by decreasing talk time).

    1. Windows of speech (never across a pause) are embedded with the voice encoder.
    2. Clustering units are speech segments (cut into pieces of at most UNIT_MAX_S); each is the
       mean of its windows. The units are clustered (``cluster_embeddings``, weighted by their
       duration); the count, unless given, is the most clusters that are distinct voices.
    3. Resegmentation: every 10 ms speech frame gets each speaker's similarity (windows'
       cosine to the speaker centroids, Hann-weighted towards window centres) and a Viterbi pass
       picks the labels, with a speaker change costing CHANGE_COST inside continuous speech and
       nothing across a pause.
    4. Overlapped speech is estimated only around speaker changes inside continuous speech
       (cut-ins), where the windows resemble both speakers (see _overlap_near_changes).
    """
    if not speech:
        return Turns([], [])
    spans, owner, emb = encoder.embed_windows(audio, speech)
    return diarize_embedded(
        spans,
        owner,
        emb,
        speech,
        len(audio) / SAMPLE_RATE,
        num_speakers=num_speakers,
        max_speakers=max_speakers,
        ids=ids,
    )


def diarize_embedded(
    spans: np.ndarray,
    owner: np.ndarray,
    emb: np.ndarray,
    speech: list[Segment],
    duration: float,
    *,
    num_speakers: int | None = None,
    max_speakers: int = 4,
    ids: list[str] | None = None,
    split_distance: float | None = None,
    change_cost: float = CHANGE_COST,
) -> Turns:
    """Steps 2-4 of ``diarize`` on windows already embedded by ``SpeakerEncoder.embed_windows``
    (duration in seconds); the benchmark's tuning loop calls it on cached embeddings."""
    if not speech:
        return Turns([], [])
    if len(emb) == 0:
        name = (ids or ["S1"])[0]
        return Turns([(name, s) for s in speech], [])
    unit, uemb, uweight = _units(spans, owner, emb)
    ulabels = cluster_embeddings(
        uemb,
        weights=uweight,
        num_speakers=num_speakers,
        max_speakers=max_speakers,
        split_distance=split_distance,
    )
    k = int(ulabels.max()) + 1
    names = ids if ids and len(ids) >= k else [f"S{i + 1}" for i in range(k)]
    cents = _centroids(uemb, ulabels, uweight)

    n_frames = FRAMES.count(duration) + 1
    sims = emb @ cents.T  # [W, k]
    score = np.zeros((n_frames, k))
    mass = np.zeros(n_frames)
    for (a, b), s in zip(spans, sims):
        taper = np.hanning(b - a + 2)[1:-1]
        score[a:b] += taper[:, None] * s[None, :]
        mass[a:b] += taper
    seg_of = np.full(n_frames, -1)
    for i, seg in enumerate(speech):
        span = FRAMES.cover(seg)
        seg_of[span.start : min(span.stop, n_frames)] = i
    speech_idx = np.flatnonzero(seg_of >= 0)
    frame_label = np.full(n_frames, -1)
    if k == 1:
        frame_label[speech_idx] = 0
    else:
        voted = mass > 0
        score[voted] /= mass[voted, None]
        frame_label[speech_idx] = _viterbi(
            score[speech_idx], voted[speech_idx], seg_of[speech_idx], SIM_SCALE, change_cost
        )

    turns: list[tuple[str, Segment]] = []
    for lab in range(k):
        for seg in mask_to_segments(frame_label == lab, hop_s=FRAME_S, min_off_s=0.0):
            turns.append((names[lab], Segment(seg.start, min(seg.end, duration))))
    turns.sort(key=lambda t: (t[1].start, t[0]))
    overlaps = []
    if k > 1:
        overlaps = _overlap_near_changes(score, mass > 0, frame_label, seg_of, duration)
    return Turns(turns, overlaps)


def _overlap_near_changes(
    score: np.ndarray,
    voted: np.ndarray,
    labels: np.ndarray,
    seg_of: np.ndarray,
    duration: float,
) -> list[Segment]:
    """Likely overlapped speech: around a speaker change inside continuous speech (a cut-in,
    no pause between the voices), the frames whose windows resemble both speakers about equally.

    score: [frames, k] centroid similarity per frame; labels: Viterbi labels (-1 off speech);
    seg_of: speech segment index per frame. A frame counts when it lies within
    OVERLAP_REACH_S of such a change and its top two similarities differ by less than
    OVERLAP_MARGIN; runs shorter than OVERLAP_MIN_S are dropped.
    """
    reach = FRAMES.frames(OVERLAP_REACH_S)
    top2 = np.sort(score, axis=1)[:, -2:]
    close = voted & (labels >= 0) & (top2[:, 1] - top2[:, 0] < OVERLAP_MARGIN)
    near = np.zeros(len(labels), dtype=bool)
    change = np.flatnonzero(
        (labels[1:] != labels[:-1])
        & (labels[1:] >= 0)
        & (labels[:-1] >= 0)
        & (seg_of[1:] == seg_of[:-1])
    )
    for c in change:
        near[max(0, c - reach) : c + reach] = True
    found = mask_to_segments(close & near, hop_s=FRAME_S, min_on_s=OVERLAP_MIN_S, min_off_s=0.1)
    return [Segment(s.start, min(s.end, duration)) for s in found]


def _viterbi(
    score: np.ndarray, voted: np.ndarray, segment: np.ndarray, scale: float, change_cost: float
) -> np.ndarray:
    """Best label path over speech frames.

    score: [T, k] similarities (frames no window covered carry no evidence); segment: [T] speech
    segment index per frame. A change costs ``change_cost`` between frames of one segment and
    nothing between segments. Returns labels [T].
    """
    t_n, k = score.shape
    emit = np.where(voted[:, None], scale * score, 0.0)
    back = np.zeros((t_n, k), dtype=np.int8)
    acc = emit[0].copy()
    same = segment[1:] == segment[:-1]
    eye = np.eye(k, dtype=bool)
    for t in range(1, t_n):
        cost = change_cost if same[t - 1] else 0.0
        cand = acc[:, None] - np.where(eye, 0.0, cost)  # [from, to]
        back[t] = np.argmax(cand, axis=0)
        acc = cand[back[t], np.arange(k)] + emit[t]
    path = np.zeros(t_n, dtype=int)
    path[-1] = int(np.argmax(acc))
    for t in range(t_n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def channel_turns(
    speech_probs: NDArray[Any],
    rms_db: NDArray[Any] | None = None,
    *,
    audio: NDArray[Any] | None = None,
    sr: int = SAMPLE_RATE,
    threshold: float = 0.5,
    min_speech_s: float = 0.25,
    min_silence_s: float = 0.3,
    duration_s: float,
    ids: list[str],
) -> Turns:
    """Turns for channel-separated audio: one speaker per channel.

    speech_probs: [channels, hops] VAD probabilities. Speech on a channel that is only a
    delayed, filtered copy of another channel (line bleed) is not this speaker talking:

    * with ``audio`` (float [channels, samples] at ``sr``), bleed is found by what it is
      (``bleed.bleed_mask``: the other channel explains the quiet channel's sound), so a quiet
      backchannel under loud speech stays speech;
    * without it, by level alone (``bleed.level_bleed_mask`` on ``rms_db``, [channels, hops]
      frame levels in dB: CROSSTALK_DB quieter than another active channel), the rule before
      the detector, which also removes backchannels more than CROSSTALK_DB down.
    """
    from .bleed import bleed_mask, level_bleed_mask

    active = np.stack([speech_mask(p, threshold=threshold) for p in speech_probs])
    if len(active) > 1:
        if audio is not None:
            active &= ~bleed_mask(active, audio, sr=sr, hop_s=VAD_HOP_S)
        elif rms_db is not None:
            active &= ~level_bleed_mask(
                active,
                rms_db,
                hop_s=VAD_HOP_S,
                crosstalk_db=CROSSTALK_DB,
                window_s=CROSSTALK_WINDOW_S,
            )
    turns: list[tuple[str, Segment]] = []
    for ch, mask in enumerate(active):
        for seg in mask_to_segments(
            mask,
            hop_s=VAD_HOP_S,
            min_on_s=min_speech_s,
            min_off_s=min_silence_s,
            pad_s=0.03,
            duration_s=duration_s,
        ):
            turns.append((ids[ch], seg))
    turns.sort(key=lambda t: (t[1].start, t[0]))
    return Turns(turns, overlap_segments(turns))


def overlap_segments(turns: list[tuple[str, Segment]]) -> list[Segment]:
    """Stretches where turns of two different speakers intersect, merged."""
    found: list[Segment] = []
    ordered = sorted(turns, key=lambda t: t[1].start)
    for i, (spk_a, a) in enumerate(ordered):
        for spk_b, b in ordered[i + 1 :]:
            if b.start >= a.end:
                break
            if spk_b != spk_a and (inter := a.intersection(b)) is not None:
                found.append(inter)
    found.sort()
    merged: list[Segment] = []
    for seg in found:
        if merged and seg.start <= merged[-1].end:
            merged[-1] = Segment(merged[-1].start, max(merged[-1].end, seg.end))
        else:
            merged.append(seg)
    return merged


def guess_agent_channel(turns: Turns, ids: list[str]) -> tuple[int, str]:
    """Guess which channel is the agent, with the reason.

    Agents open the call (greeting) and keep a steadier share of the talk in scripted calls;
    the first speaker is the main cue, talk time breaks ties. A guess: always overridable.
    """
    firsts = {spk: min((s.start for s in turns.of(spk)), default=np.inf) for spk in ids}
    first = min(range(len(ids)), key=lambda i: firsts[ids[i]])
    if np.isfinite(firsts[ids[first]]):
        return first, f"channel {first} speaks first ({firsts[ids[first]]:.1f} s)"
    return 0, "no speech found; channel 0 assumed"
