"""Speaker attribution, the speakers stage: who spoke when, and from which signal.

Channel-separated calls get one speaker per channel (roles given, or the agent channel
guessed); mixed audio is diarized. The stage hands on a ``SpeakerAttribution``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .audio.speakers import SpeakerEncoder, Turns, channel_turns, diarize
from .audio.vad import speech_segments
from .chunks import diarize_in_chunks
from .coaching.roles import guess_roles
from .config import AnalysisConfig
from .diskaudio import Audio, DiskAudio, Signal
from .notes import Note
from .result import Speaker

SAME_CHANNEL_CORR = 0.98  # channels this correlated are one mix duplicated, not two speakers
# Whole-call comparisons and levels run over blocks of this many samples (about 1 minute at
# 16 kHz), so a long call never needs full-length temporaries beside its audio.
BLOCK_SAMPLES = 1 << 20


@dataclass(frozen=True)
class SpeakerAttribution:
    """Who spoke when, and from which signal: the speakers stage's hand-off.

    sources: float32 [n_sources, samples] at SAMPLE_RATE, one per channel for channel-separated
    calls, one mono mix otherwise (a ``DiskAudio`` for a call longer than a chunk); source_of:
    speaker id -> its row in ``sources``.
    """

    turns: Turns
    speakers: list[Speaker]  # with talk time; face tracks are added by the faces stage
    sources: Audio
    source_of: dict[str, int]
    split: bool  # one speaker per channel (else diarized mono)
    notes: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.speakers]

    def source(self, speaker: str) -> Signal:
        """The signal a speaker's speech is read from: float32 [samples] (a ``DiskChannel``,
        read by slicing, for a call longer than a chunk)."""
        row: Signal = self.sources[self.source_of[speaker]]
        return row


def split_channels(audio: Audio, cfg: AnalysisConfig) -> bool:
    """Whether to treat the channels as one speaker each: given by ``cfg.split_channels``, else
    when there are two or more channels that are not copies of one mix."""
    if audio.shape[0] < 2:
        return False
    if cfg.split_channels is not None:
        return cfg.split_channels
    a, b = audio[0], audio[1]
    if _same_signal(a, b, atol=1e-4):
        return False
    return not _correlation(a, b, step=4) > SAME_CHANNEL_CORR


def _same_signal(a: Signal, b: Signal, *, atol: float) -> bool:
    """``np.allclose(a, b, atol=atol)`` one block at a time."""
    return all(
        np.allclose(a[i : i + BLOCK_SAMPLES], b[i : i + BLOCK_SAMPLES], atol=atol)
        for i in range(0, len(a), BLOCK_SAMPLES)
    )


def _correlation(a: Signal, b: Signal, *, step: int = 1) -> float:
    """Pearson correlation of two equally long signals taken every ``step`` samples
    (``a[::step]``), from running float64 sums, one block of BLOCK_SAMPLES taken samples at a
    time (read as a range, so a channel on disk is never read whole); 0 when either is
    constant."""
    n = -(-len(a) // step)  # len(a[::step])
    sums = np.zeros(5)  # x, y, xx, yy, xy
    span = BLOCK_SAMPLES * step
    for i in range(0, n * step, span):
        x = a[i : i + span][::step].astype(np.float64)
        y = b[i : i + span][::step].astype(np.float64)
        sums += [x.sum(), y.sum(), x @ x, y @ y, x @ y]
    if n == 0:
        return 0.0
    sx, sy, sxx, syy, sxy = sums
    var_x, var_y = sxx - sx * sx / n, syy - sy * sy / n
    if var_x <= 0 or var_y <= 0:
        return 0.0
    return float((sxy - sx * sy / n) / np.sqrt(var_x * var_y))


def attribute_speakers(
    audio: Audio,
    probs: NDArray[Any],
    cfg: AnalysisConfig,
    *,
    duration: float,
    split: bool,
    encoder: Callable[[], SpeakerEncoder],
    levels: NDArray[Any] | None = None,
) -> SpeakerAttribution:
    """Turns per speaker: one speaker per channel when ``split``, else diarization of the mix.

    audio: float32 [channels, samples] at SAMPLE_RATE; probs: VAD speech probabilities per hop,
    [channels, hops] when split, else [1, hops] of the mono mix; duration in seconds; encoder:
    gives the voice encoder (loaded only when diarizing); levels: the split channels' hop
    levels over their noise floor after bleed cancellation (``audio.bleed.level_over_floor_db``)
    or None. ``audio`` may be a ``DiskAudio`` (a long call): the mono mix is then made on disk
    and diarized chunk by chunk (``chunks.diarize_in_chunks``), clustered over the whole call.
    """
    if split:
        turns, speakers, notes = channel_speakers(audio, probs, cfg, duration, levels)
        sources = audio
        source_of = {s.id: int(s.channel) for s in speakers if s.channel is not None}
    else:
        sources = audio.mono() if isinstance(audio, DiskAudio) else mono_mix(audio)[None, :]
        speech = speech_segments(
            probs[0],
            threshold=cfg.vad_threshold,
            min_speech_s=cfg.min_speech_s,
            min_silence_s=cfg.min_silence_s,
            duration_s=duration,
        )
        if isinstance(sources, DiskAudio):
            turns = diarize_in_chunks(
                sources[0],
                speech,
                encoder(),
                chunk_s=cfg.chunk_s,
                num_speakers=cfg.num_speakers,
                max_speakers=cfg.max_speakers,
            )
        else:
            turns = diarize(
                sources[0],
                speech,
                encoder(),
                num_speakers=cfg.num_speakers,
                max_speakers=cfg.max_speakers,
            )
        speakers = [Speaker(s, None, None, source="diarization") for s in turns.speakers]
        notes = []
        if cfg.channels and len(cfg.channels) >= len(speakers):
            notes.append(
                Note("roles_ignored", "role names ignored: the audio is not channel-separated")
            )
        source_of = {s.id: 0 for s in speakers}
    talk = {s.id: sum(g.duration for g in turns.of(s.id)) for s in speakers}
    speakers = [replace(s, face_track=None, talk_time_s=talk[s.id]) for s in speakers]
    if not turns.turns:
        notes.append(Note("no_speech", "no speech was found in the recording"))
    return SpeakerAttribution(turns, speakers, sources, source_of, split, notes)


def channel_speakers(
    audio: Audio,
    probs: NDArray[Any],
    cfg: AnalysisConfig,
    duration: float,
    levels: NDArray[Any] | None = None,
) -> tuple[Turns, list[Speaker], list[str]]:
    """One speaker per channel, named by the given roles or the guessed agent channel.

    ``probs`` come from the channels after line-bleed cancellation
    (``audio.bleed.cancel_bleed``, the pipeline's voice stage), so a channel's speech is its own
    voice, and ``levels`` (their hop levels over the noise floor) refine it
    (``audio.turns.refine_activity``); the agent of a two-channel call is guessed from the
    opening and the turns
    (``coaching.roles.guess_roles``) and carries that guess's confidence.
    """
    n = audio.shape[0]
    ids, roles = channel_roles(n, cfg)
    turns = channel_turns(
        probs,
        level_db=levels,
        threshold=cfg.vad_threshold,
        min_speech_s=cfg.min_speech_s,
        min_silence_s=cfg.min_silence_s,
        duration_s=duration,
        ids=ids,
    )
    notes: list[str] = []
    confidence: float | None = 1.0 if cfg.channels else None
    if cfg.channels is None and cfg.detect_agent and n == 2:
        guess = guess_roles(turns.turns, speakers=ids)
        confidence = guess.confidence
        agent = ids.index(guess.agent) if guess.agent in ids else 0
        if agent == 1:
            ids = ids[::-1]
            roles = list(ids)
            swap = {"agent": "customer", "customer": "agent"}
            turns = Turns([(swap[s], g) for s, g in turns.turns], turns.overlaps)
        # The cues name the provisional ids (channel 0 "agent", 1 "customer"): say channels.
        named = {re.escape(x): f"channel {k}" for k, x in enumerate(ids)}
        pattern = re.compile(r"\b(" + "|".join(named) + r")\b")
        why = "; ".join(pattern.sub(lambda m: named[re.escape(m.group(1))], c["text"])
                        for c in guess.cues[:2])  # fmt: skip
        notes.append(
            Note(
                "agent_channel_guessed",
                f"agent channel guessed: channel {agent} (confidence {guess.confidence:.2f}: "
                f"{why}) (override with --channels)",
                channel=agent,
                confidence=round(float(guess.confidence), 2),
                cues=why,
            )
        )
    speakers = [
        Speaker(
            ids[ch],
            roles[ch] if roles else None,
            ch,
            source="channel",
            role_confidence=confidence if roles else None,
        )
        for ch in range(n)
    ]
    return turns, speakers, notes


def mono_mix(audio: NDArray[Any]) -> NDArray[Any]:
    """The mix of all channels: float32 [samples]."""
    mix: NDArray[Any] = audio.mean(axis=0) if audio.shape[0] > 1 else audio[0]
    return mix


def channel_roles(n: int, cfg: AnalysisConfig) -> tuple[list[str], list[str] | None]:
    """Speaker ids and roles of ``n`` channels: the given roles, agent/customer (to be checked
    by ``coaching.roles.guess_roles``) for two channels, else ch0, ch1... without roles."""
    if cfg.channels:
        names = list(cfg.channels)[:n]
        names += [f"ch{i}" for i in range(len(names), n)]
        if len(set(names)) != len(names):
            raise ValueError(f"channel roles must be distinct, got {names}")
        return names, names
    if n == 2 and cfg.detect_agent:
        return ["agent", "customer"], ["agent", "customer"]
    return [f"ch{i}" for i in range(n)], None
