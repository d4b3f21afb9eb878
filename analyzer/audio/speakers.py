"""Who spoke when: one speaker per channel for channel-separated calls, diarization for mixed audio.

Diarization embeds short windows of speech with the GE2E voice encoder that ships inside
Resemblyzer, clusters the windows (agglomerative, cosine, average linkage; the number of speakers
is estimated by a distance threshold unless given) and votes the window labels back onto a 10 ms
frame grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..segment import Segment
from .vad import VAD_HOP_S, mask_to_segments

FRAME_S = 0.01  # s; the diarization frame grid (the voice encoder's mel hop)
EMBED_WIN_S = 1.5  # s of speech per embedded window
EMBED_HOP_S = 0.25  # s between embedded windows
MERGE_DISTANCE = 0.42  # cosine distance under which clusters merge when the count is estimated
MIN_CLUSTER_SHARE = 0.07  # clusters with less of the speech than this are folded into others
MIN_TURN_S = 0.4  # s; shorter speaker runs inside continuous speech are relabelled to a neighbour
CROSSTALK_DB = 15.0  # dB; a channel quieter than the other by more than this is bleed, not speech
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
        self, audio: np.ndarray, speech: list[Segment], *, sr: int = 16000
    ) -> tuple[np.ndarray, np.ndarray]:
        """Embed overlapping windows of the speech-only part of ``audio``.

        audio: float32 [samples] at 16 kHz; speech: where voice activity was found.
        Returns (frames [W, F] int indices on the 10 ms grid that each window covers, -1 padded;
        embeddings [W, 256] L2-normalised). Silence is cut out first, so a window spans speech
        only and a turn change across a pause falls between windows.
        """
        from resemblyzer.audio import wav_to_mel_spectrogram

        # Level to -30 dBFS RMS, as the encoder was trained; measured on speech only.
        voiced = np.concatenate(
            [audio[int(s.start * sr) : int(s.end * sr)] for s in speech] or [audio[:0]]
        )
        rms = float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 0.0
        gain = 10 ** (-30 / 20) / rms if rms > 1e-6 else 1.0
        mel = wav_to_mel_spectrogram((audio * gain).astype(np.float32))  # [frames, 40], 10 ms
        n = len(mel)
        keep = np.zeros(n, dtype=bool)
        for seg in speech:
            keep[int(seg.start / FRAME_S) : int(np.ceil(seg.end / FRAME_S))] = True
        index = np.flatnonzero(keep[:n])
        win, hop = int(EMBED_WIN_S / FRAME_S), int(EMBED_HOP_S / FRAME_S)
        if len(index) < win // 3:
            return np.zeros((0, win), dtype=int), np.zeros((0, 256), dtype=np.float32)
        starts = list(range(0, max(1, len(index) - win + 1), hop))
        if starts[-1] + win < len(index):
            starts.append(len(index) - win)
        frames = np.full((len(starts), win), -1, dtype=int)
        batch = np.zeros((len(starts), win, mel.shape[1]), dtype=np.float32)
        for i, s in enumerate(starts):
            idx = index[s : s + win]
            frames[i, : len(idx)] = idx
            batch[i, : len(idx)] = mel[idx]
        out = []
        with self._torch.inference_mode():
            for b in range(0, len(batch), 128):
                out.append(self._encoder(self._torch.from_numpy(batch[b : b + 128])).numpy())
        return frames, np.concatenate(out).astype(np.float32)


def cluster_embeddings(
    embeddings: np.ndarray,
    *,
    num_speakers: int | None = None,
    max_speakers: int = 4,
    merge_distance: float = MERGE_DISTANCE,
) -> np.ndarray:
    """Cluster L2-normalised embeddings [W, D] into speaker labels [W] (0..k-1, by size).

    With ``num_speakers`` the dendrogram is cut into exactly that many clusters (fewer if there
    are fewer windows); otherwise it is cut at ``merge_distance`` and clusters holding less than
    MIN_CLUSTER_SHARE of the windows are folded into the nearest large one (at most
    ``max_speakers`` remain).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    w = len(embeddings)
    if w == 0:
        return np.zeros(0, dtype=int)
    if w == 1 or num_speakers == 1:
        return np.zeros(w, dtype=int)
    tree = linkage(embeddings, method="average", metric="cosine")
    if num_speakers:
        labels = fcluster(tree, t=min(num_speakers, w), criterion="maxclust") - 1
    else:
        labels = fcluster(tree, t=merge_distance, criterion="distance") - 1
        labels = _fold_small(embeddings, labels, max_speakers)
    labels = _reassign(embeddings, labels)
    # Relabel by cluster size so label 0 is the speaker with the most speech.
    order = np.argsort(-np.bincount(labels))
    return np.argsort(order)[labels]


def _centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    cents = np.stack([embeddings[labels == k].mean(axis=0) for k in range(labels.max() + 1)])
    return cents / np.linalg.norm(cents, axis=1, keepdims=True).clip(1e-9)


def _compact(labels: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse


def _fold_small(embeddings: np.ndarray, labels: np.ndarray, max_speakers: int) -> np.ndarray:
    labels = _compact(labels)
    while True:
        sizes = np.bincount(labels)
        small = [k for k in range(len(sizes)) if sizes[k] < MIN_CLUSTER_SHARE * len(labels)]
        if len(sizes) > max_speakers:
            small = [int(np.argmin(sizes))]
        if not small or len(sizes) == 1:
            return labels
        cents = _centroids(embeddings, labels)
        k = small[0]
        sims = cents @ cents[k]
        sims[k] = -np.inf
        labels = _compact(np.where(labels == k, int(np.argmax(sims)), labels))


def _reassign(embeddings: np.ndarray, labels: np.ndarray, rounds: int = 2) -> np.ndarray:
    """A couple of nearest-centroid passes: fixes windows that average linkage chained wrongly."""
    labels = _compact(labels)
    for _ in range(rounds):
        new = _compact(np.argmax(embeddings @ _centroids(embeddings, labels).T, axis=1))
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


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

    audio: float32 [samples] at 16 kHz; speech: voice-activity segments. Speaker ids are
    ``ids[k]`` (default "S1", "S2", ... by decreasing talk time). Overlapping speech is estimated
    where the windows covering a frame disagree about who is speaking.
    """
    if not speech:
        return Turns([], [])
    duration = len(audio) / 16000
    frames, emb = encoder.embed_windows(audio, speech)
    n_frames = int(np.ceil(duration / FRAME_S))
    if len(emb) == 0:
        if not speech:
            return Turns([], [])
        name = (ids or ["S1"])[0]
        return Turns([(name, s) for s in speech], [])
    labels = cluster_embeddings(emb, num_speakers=num_speakers, max_speakers=max_speakers)
    k = int(labels.max()) + 1
    names = ids if ids and len(ids) >= k else [f"S{i + 1}" for i in range(k)]

    # Each window votes for its label on the frames it covers, weighted towards its centre
    # (a Hann taper), so a change inside continuous speech lands between window centres.
    votes = np.zeros((n_frames, k), dtype=np.float32)
    taper = np.hanning(frames.shape[1] + 2)[1:-1].astype(np.float32)
    for row, lab in zip(frames, labels):
        valid = row >= 0
        idx = row[valid]
        idx = idx[idx < n_frames]
        votes[idx, lab] += taper[: len(idx)]
    speech_mask = np.zeros(n_frames, dtype=bool)
    for seg in speech:
        speech_mask[int(seg.start / FRAME_S) : int(np.ceil(seg.end / FRAME_S))] = True
    total = votes.sum(axis=1)
    frame_label = np.where(total > 0, votes.argmax(axis=1), -1)
    frame_label[~speech_mask] = -1
    frame_label = _fill_unvoted(frame_label, speech_mask)
    frame_label = _remove_short_runs(frame_label, int(MIN_TURN_S / FRAME_S))

    turns: list[tuple[str, Segment]] = []
    for lab in range(k):
        for seg in mask_to_segments(frame_label == lab, hop_s=FRAME_S, min_off_s=0.0):
            turns.append((names[lab], seg))
    turns.sort(key=lambda t: (t[1].start, t[0]))

    # Frames where two labels hold comparable vote mass inside speech: likely both talking.
    share = np.divide(votes.max(axis=1), total, out=np.ones_like(total), where=total > 0)
    second = np.sort(votes, axis=1)[:, -2] if k > 1 else np.zeros(n_frames)
    ambiguous = speech_mask & (share < 0.6) & (second > 0.5)
    overlaps = mask_to_segments(ambiguous, hop_s=FRAME_S, min_on_s=0.3, min_off_s=0.1)
    return Turns(turns, overlaps)


def _fill_unvoted(labels: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Speech frames no window voted on take the nearest voted label."""
    out = labels.copy()
    missing = speech & (out < 0)
    if not missing.any():
        return out
    voted = np.flatnonzero(out >= 0)
    if len(voted) == 0:
        out[missing] = 0
        return out
    pos = np.searchsorted(voted, np.flatnonzero(missing)).clip(0, len(voted) - 1)
    prev = voted[(pos - 1).clip(0)]
    nxt = voted[pos]
    miss = np.flatnonzero(missing)
    choose = np.where(np.abs(miss - prev) <= np.abs(nxt - miss), prev, nxt)
    out[miss] = out[choose]
    return out


def _remove_short_runs(labels: np.ndarray, min_len: int) -> np.ndarray:
    """Relabel runs shorter than ``min_len`` frames that sit inside continuous speech."""
    out = labels.copy()
    edges = np.flatnonzero(np.diff(out)) + 1
    bounds = np.concatenate([[0], edges, [len(out)]])
    for a, b in zip(bounds[:-1], bounds[1:]):
        if out[a] < 0 or b - a >= min_len:
            continue
        left = out[a - 1] if a > 0 else -1
        right = out[b] if b < len(out) else -1
        if left >= 0:
            out[a:b] = left
        elif right >= 0:
            out[a:b] = right
    return out


def channel_turns(
    speech_probs: np.ndarray,
    rms_db: np.ndarray,
    *,
    threshold: float = 0.5,
    min_speech_s: float = 0.25,
    min_silence_s: float = 0.3,
    duration_s: float,
    ids: list[str],
) -> Turns:
    """Turns for channel-separated audio: one speaker per channel.

    speech_probs: [channels, hops] VAD probabilities; rms_db: [channels, hops] frame levels (dB).
    Speech found on a channel that is CROSSTALK_DB quieter than another active channel is
    treated as bleed from that channel, not as this speaker talking.
    """
    from .vad import _hysteresis

    active = np.stack(
        [_hysteresis(p, threshold, max(0.05, threshold - 0.15)) for p in speech_probs]
    )
    if len(active) > 1:
        # Compare levels over half a second, not per hop: inside word gaps both channels are
        # quiet and a hop-level comparison would let the bleed through in fragments.
        k = max(1, int(CROSSTALK_WINDOW_S / VAD_HOP_S))
        power = 10 ** (rms_db / 10)
        kernel = np.ones(k) / k
        level = 10 * np.log10(
            np.stack([np.convolve(p, kernel, mode="same") for p in power]) + 1e-10
        )
        bleed = active & (level < level.max(axis=0)[None, :] - CROSSTALK_DB)
        active &= ~bleed
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
