"""Speech turns: the container every speaker stage returns, and turns of channel-separated calls.

On a stereo call each channel is one speaker: its turns are its voice activity, minus the
speech that is only the other channel's voice bleeding through (quieter by CROSSTALK_DB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import FloatArray
from ..dsp import power_db
from ..segment import Segment
from .vad import VAD_HOP_S, mask_to_segments, speech_mask

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


def channel_turns(
    speech_probs: FloatArray,
    rms_db: FloatArray,
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
    active = np.stack([speech_mask(p, threshold=threshold) for p in speech_probs])
    if len(active) > 1:
        # Compare levels over half a second, not per hop: inside word gaps both channels are
        # quiet and a hop-level comparison would let the bleed through in fragments.
        k = max(1, int(CROSSTALK_WINDOW_S / VAD_HOP_S))
        power = 10 ** (rms_db / 10)
        kernel = np.ones(k) / k
        level = power_db(np.stack([np.convolve(p, kernel, mode="same") for p in power]))
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
