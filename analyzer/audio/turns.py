"""Speech turns: the container every speaker stage returns, and turns of channel-separated calls.

On a stereo call each channel is one speaker: its turns are its voice activity. The engine
computes that activity on the channels after line-bleed cancellation (``bleed.cancel_bleed``),
so the other channel's voice leaking in is not heard as this speaker; ``channel_turns`` can also
judge bleed after the fact on raw channels (``bleed.bleed_mask`` or the level rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import BoolArray, FloatArray
from ..config import SAMPLE_RATE
from ..segment import Segment
from .vad import VAD_HOP_S, mask_to_segments, speech_mask

CROSSTALK_DB = 15.0  # dB; level-only rule (no audio given): this much quieter is bleed
CROSSTALK_WINDOW_S = 0.5  # s over which channel levels are compared for bleed
SOUND_DB = 10.0
ONSET_MAX_S = 1.0


@dataclass(frozen=True)
class Turns:
    """Speech turns per speaker and the stretches where two or more speak at once."""

    turns: list[tuple[str, Segment]]  # (speaker id, segment), sorted by start
    overlaps: list[Segment]
    seen_voices: int = 0  # voices anchored by faces seen talking (audio-visual diarization)

    def of(self, speaker: str) -> list[Segment]:
        return [seg for spk, seg in self.turns if spk == speaker]

    @property
    def speakers(self) -> list[str]:
        return sorted({spk for spk, _ in self.turns})


def channel_turns(
    speech_probs: FloatArray,
    rms_db: FloatArray | None = None,
    *,
    audio: FloatArray | None = None,
    level_db: FloatArray | None = None,
    sr: int = SAMPLE_RATE,
    threshold: float = 0.5,
    min_speech_s: float = 0.25,
    min_silence_s: float = 0.3,
    duration_s: float,
    ids: list[str],
) -> Turns:
    """Turns for channel-separated audio: one speaker per channel.

    speech_probs: [channels, hops] VAD probabilities. Given probabilities of bleed-cancelled
    channels (the engine), pass neither ``audio`` nor ``rms_db``, and ``level_db`` (those
    channels' hop levels over their noise floor, ``bleed.level_over_floor_db``) to let the
    channels' own sound add the quiet backchannels the VAD misses (``refine_activity``). On
    raw channels, speech that is only a delayed, filtered copy of another channel (line bleed)
    is not this speaker talking:

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
    if level_db is not None:
        # ``hold``: the level below which speech_mask ends a run (its hysteresis)
        hold = max(0.05, threshold - 0.15)
        active = refine_activity(
            active, level_db, speech_probs, hold=hold, min_burst_s=min_speech_s
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


def refine_activity(
    active: BoolArray,
    level_db: FloatArray,
    speech_probs: FloatArray,
    *,
    hold: float = 0.35,
    hop_s: float = VAD_HOP_S,
    sound_db: float = SOUND_DB,
    min_burst_s: float = 0.25,
    onset_max_s: float = ONSET_MAX_S,
) -> BoolArray:
    """Voice activity of bleed-cancelled channels with the quiet speech the VAD misses under
    the other side's talk.

    active: bool [channels, hops] from the VAD; level_db: float [channels, hops], each hop's
    in-band level over its channel's noise floor (``bleed.level_over_floor_db`` of the cancelled
    channels: once the other channel's copy is removed, sound well over line noise is the
    party's own); speech_probs: float [channels, hops], the VAD's probabilities. The VAD
    network under-hears short, quiet speech, so a stretch of at least ``min_burst_s`` where the
    channel sounds (``sound_db`` over its floor) that the VAD missed while another channel
    speaks (most of the stretch) is speech, a listener's quiet "mm-hm" under the other side's
    talk (a backchannel), when the VAD's probability there reaches ``hold`` (the level at which
    it keeps a running turn on, ``vad.speech_mask``): a voice it heard but not enough to start
    a turn. (Without that test, the party's own breaths and clicks count too: on the coaching
    benchmark, precision 0.931 instead of 0.956.) Returns a new mask.

    Then runs no longer than ``onset_max_s`` (backchannels) that start under another
    channel's talk start where their sound starts (``extend_onsets``; 0 turns it off). Moving
    every run's onset back, turns included, put cut-ins' onsets before the lone channel's VAD
    (coaching benchmark: precision 0.953 instead of 0.968).
    """
    active = np.asarray(active, dtype=bool)
    sound = np.asarray(level_db) >= sound_db
    n_ch, n = active.shape
    out = active.copy()
    min_hops = max(1, int(np.ceil(min_burst_s / hop_s)))
    for ch in range(n_ch):
        others = np.delete(active, ch, axis=0).any(axis=0) if n_ch > 1 else np.zeros(n, bool)
        for start, end in _runs(sound[ch] & ~active[ch]):
            voiced = np.max(speech_probs[ch][start:end]) >= hold
            if end - start >= min_hops and others[start:end].mean() >= 0.5 and voiced:
                out[ch, start:end] = True
    if onset_max_s > 0:
        out = extend_onsets(out, sound, hop_s=hop_s, max_run_s=onset_max_s)
    return out


def extend_onsets(
    active: BoolArray,
    sound: BoolArray,
    *,
    hop_s: float = VAD_HOP_S,
    max_run_s: float = ONSET_MAX_S,
) -> BoolArray:
    """Runs of ``active`` no longer than ``max_run_s`` that start while another channel
    speaks, moved back over the hops just before them where their channel ``sound``s.

    The VAD needs a syllable or so of a voice before it fires: on a backchannel ("mm-hm", at
    most BACKCHANNEL_MAX_S of ``coaching.turntaking``) that latency is a third of it, and its
    onset is lost to the listening metrics exactly where they need it. On a channel after
    bleed cancellation the sound over the floor right before the run is the party's own (the
    other side's copy is gone), so it is the utterance's start. Longer runs (turns) keep the
    VAD's onset, the one every other turn of the call has. active, sound: bool [channels,
    hops]. Returns a new mask.
    """
    active = np.asarray(active, dtype=bool)
    out = active.copy()
    n_ch, n = active.shape
    for ch in range(n_ch):
        others = np.delete(active, ch, axis=0).any(axis=0) if n_ch > 1 else np.zeros(n, bool)
        for start, end in _runs(active[ch]):
            if (end - start) * hop_s > max_run_s or not others[start]:
                continue
            first = start
            while first > 0 and sound[ch, first - 1] and not active[ch, first - 1]:
                first -= 1
            out[ch, first:start] = True
    return out


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """[start, end) of every run of True in a boolean vector."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))
