"""Speaker attribution, the speakers stage: who spoke when, and from which signal.

Channel-separated calls get one speaker per channel (roles given, or the agent channel
guessed); mixed audio is diarized. The stage hands on a ``SpeakerAttribution``.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from .audio.speakers import (
    UNCERTAIN_TIE,
    SpeakerEncoder,
    Turns,
    channel_turns,
    diarize,
    untied_voices,
)
from .audio.vad import band_limited, speech_segments
from .chunks import diarize_in_chunks
from .coaching.roles import guess_roles
from .config import AnalysisConfig
from .diskaudio import Audio, ChannelStats, DiskAudio, Signal, channel_stats
from .notes import Note
from .result import Speaker
from .segment import Segment

if TYPE_CHECKING:
    from .video.timeline import FaceTimeline

T = TypeVar("T")
SAME_CHANNEL_CORR = 0.98  # channels this correlated are one mix duplicated, not two speakers
ONE_VOICE_NOTE_S = 20.0  # s of speech from which one voice counted on a mixed recording gets a
# caveat: two voices that sound alike are heard as one in a third to a half of simulated
# customer-service calls mixed to mono (``benchmarks.mono_roles``)
PHONE_MIN_SPEECH_S = 60.0  # s of speech from which a mixed telephone recording is a conversation:
# through an 8 kHz channel two voices of one gender are counted as one in most three-minute
# simulated calls (``benchmarks.diarization --telephone``), and no evidence here separates them
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
    when there are two or more channels, the first two both live (``mixed_reason``) and not
    copies of one mix."""
    if audio.shape[0] < 2:
        return False
    if cfg.split_channels is not None:
        return cfg.split_channels
    return mixed_reason(audio) is None


def mixed_reason(audio: Audio) -> Note | None:
    """Why a recording of two or more channels is one mix rather than one party per channel,
    as a note (None: the first two channels are two parties). The first two channels are equal,
    or one is the other with its polarity flipped (|correlation| > SAME_CHANNEL_CORR), or one of
    them is silent over the whole call (``ChannelStats.silent``: a dead line holds no party, the
    other channel holds the whole conversation). Of three or more channels (a surround track,
    or a recorder with a channel per party), only one carries sound, or all that do carry one
    sound (|correlation| > SAME_CHANNEL_CORR, polarity aside); otherwise each channel is a
    party, a silent one an empty one."""
    if audio.shape[0] < 2:
        return None
    if audio.shape[0] > 2:  # a surround track, or one party per channel
        stats = channel_stats_of(audio)
        live = [k for k in range(audio.shape[0]) if k not in stats.silent()]
        if len(live) == 1:
            return _mixed_note(
                "one_live_channel",
                f"only channel {live[0]} of {audio.shape[0]} carries sound",
                channel=live[0],
            )
        pairs = np.abs(stats.corr[np.ix_(live, live)])
        if len(live) > 1 and (pairs > SAME_CHANNEL_CORR).all():
            return _mixed_note("copies", f"channels {', '.join(map(str, live))} carry one sound")
        return None
    a, b = audio[0], audio[1]
    if _same_signal(a, b, atol=1e-4):
        return _mixed_note("copies", "channels 0 and 1 carry the same sound")
    stats = channel_stats_of(audio)
    silent = [k for k in stats.silent() if k < 2]
    if len(silent) == 1:
        return _mixed_note(
            "silent_channel",
            f"channel {silent[0]} is silent over the whole call",
            channel=silent[0],
        )
    corr = float(stats.corr[0, 1])
    if abs(corr) > SAME_CHANNEL_CORR:
        flipped = " with its polarity flipped" if corr < 0 else ""
        return _mixed_note(
            "inverted_copy" if corr < 0 else "copies",
            f"channel 1 is channel 0{flipped}",
        )
    return None


def _mixed_note(reason: str, why: str, **params: int) -> Note:
    return Note(
        "channels_mixed",
        f"{why}: the call was analysed as one mixed recording and its speakers diarized",
        reason=reason,
        **params,
    )


def channel_stats_of(audio: Audio) -> ChannelStats:
    """``diskaudio.ChannelStats`` of an array [channels, samples] or a ``DiskAudio``, made once
    per recording (the channel checks and the mono mix all read them)."""
    if isinstance(audio, DiskAudio):
        return audio.stats()
    return _once(
        audio,
        "stats",
        lambda: channel_stats(lambda a, b: audio[:, a:b], audio.shape[0], audio.shape[1]),
    )


_ONCE: dict[str, Any] = {}  # whole-call results of the last audio array seen, by name
_ONCE_LOCK = threading.RLock()


def _once(audio: NDArray[Any], name: str, make: Callable[[], T]) -> T:
    """``make()`` computed once per audio array: kept for the last array seen, forgotten with
    it (a weak reference), so the stages that each need a whole-call pass share one."""
    with _ONCE_LOCK:
        ref = _ONCE.get("audio")
        if ref is None or ref() is not audio:
            _ONCE.clear()
            _ONCE["audio"] = weakref.ref(audio, _forget)
        if name not in _ONCE:
            _ONCE[name] = make()
        value: T = _ONCE[name]
        return value


def _forget(ref: weakref.ref[Any]) -> None:
    """The audio array ``ref`` named is gone: so are its results (unless another took over)."""
    with _ONCE_LOCK:
        if _ONCE.get("audio") is ref:
            _ONCE.clear()


def _same_signal(a: Signal, b: Signal, *, atol: float) -> bool:
    """``np.allclose(a, b, atol=atol)`` one block at a time."""
    return all(
        np.allclose(a[i : i + BLOCK_SAMPLES], b[i : i + BLOCK_SAMPLES], atol=atol)
        for i in range(0, len(a), BLOCK_SAMPLES)
    )


def attribute_speakers(
    audio: Audio,
    probs: NDArray[Any],
    cfg: AnalysisConfig,
    *,
    duration: float,
    split: bool,
    encoder: Callable[[], SpeakerEncoder],
    levels: NDArray[Any] | None = None,
    faces: FaceTimeline | None = None,
) -> SpeakerAttribution:
    """Turns per speaker: one speaker per channel when ``split``, else diarization of the mix.

    audio: float32 [channels, samples] at SAMPLE_RATE; probs: VAD speech probabilities per hop,
    [channels, hops] when split, else [1, hops] of the mono mix; duration in seconds; encoder:
    gives the voice encoder (loaded only when diarizing); levels: the split channels' hop
    levels over their noise floor after bleed cancellation (``audio.bleed.level_over_floor_db``)
    or None. ``audio`` may be a ``DiskAudio`` (a long call): the mono mix is then made on disk
    and diarized chunk by chunk (``chunks.diarize_in_chunks``), clustered over the whole call.
    faces: the video's face timeline, if any: on a mixed recording, two or more persons seen
    talking (``video.talking.talking_faces``) are the voices the diarizer looks for (note
    ``voices_from_faces``), or the fewest it counts when someone else on screen never talks;
    not when ``cfg.num_speakers`` is given or ``cfg.face_voices`` is off.
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
        speech_s = sum(s.duration for s in speech)
        cfg = _named_floor(cfg)
        fewest = fewest_voices(cfg, speech_s, lambda a, b: sources[0][a:b], len(sources[0]))
        seen = None
        if faces is not None and cfg.face_voices and not cfg.num_speakers:
            from .video.talking import talking_faces

            seen = talking_faces(faces, speech)
        looks = seen.at if seen is not None and len(seen.talking) >= 2 else None
        if isinstance(sources, DiskAudio):
            turns = diarize_in_chunks(
                sources[0],
                speech,
                encoder(),
                chunk_s=cfg.chunk_s,
                num_speakers=cfg.num_speakers,
                max_speakers=cfg.max_speakers,
                min_speakers=fewest,
                seen=looks,
                seen_persons=seen.present if seen is not None else 0,
            )
        else:
            turns = diarize(
                sources[0],
                speech,
                encoder(),
                num_speakers=cfg.num_speakers,
                max_speakers=cfg.max_speakers,
                min_speakers=fewest,
                seen=looks,
                seen_persons=seen.present if seen is not None else 0,
            )
        speakers = [Speaker(s, None, None, source="diarization") for s in turns.speakers]
        notes = []
        if turns.seen_voices:
            cameras = seen is not None and seen.view == "speaker"
            how = (
                "which camera the video's speaker view shows as each one talks"
                if cameras
                else "the faces seen talking in the video"
            )
            notes.append(
                Note(
                    "voices_from_faces",
                    f"{turns.seen_voices} voices told apart by {how}",
                    voices=turns.seen_voices,
                    **({"reason": "speaker_view"} if cameras else {}),
                )
            )
        why = mixed_reason(audio) if cfg.split_channels is None else None
        if why is not None:
            notes.append(why)
        if fewest > cfg.min_speakers and len(speakers) >= 2:  # not when too little to split
            notes.append(_phone_note(len(speakers), speech_s))
        one = _one_voice_note(len(speakers), speech_s, replace(cfg, min_speakers=fewest))
        if one is not None:
            notes.append(one)
        uncertain = uncertain_voices_note(turns, speech)
        if uncertain is not None:
            notes.append(uncertain)
        source_of = {s.id: 0 for s in speakers}
    talk = {s.id: sum(g.duration for g in turns.of(s.id)) for s in speakers}
    speakers = [replace(s, face_track=None, talk_time_s=talk[s.id]) for s in speakers]
    if not turns.turns:
        notes.append(Note("no_speech", "no speech was found in the recording"))
    return SpeakerAttribution(turns, speakers, sources, source_of, split, notes)


def _named_floor(cfg: AnalysisConfig) -> AnalysisConfig:
    """``cfg`` with at least as many voices to find as the user named roles (``--channels
    agent,customer`` on a mixed recording names the voices, so there are that many), unless the
    user gave the number of speakers."""
    named = len(cfg.channels or ())
    if cfg.num_speakers or named <= cfg.min_speakers:
        return cfg
    return replace(cfg, min_speakers=min(named, cfg.max_speakers))


def fewest_voices(
    cfg: AnalysisConfig, speech_s: float, read: Callable[[int, int], NDArray[Any]], samples: int
) -> int:
    """The fewest voices a mixed recording is diarized into: ``cfg.min_speakers``, but at least
    two for a phone call (``cfg.phone_conversation``): a recording that came through an 8 kHz
    channel (``vad.band_limited`` over ``read(lo, hi)``'s samples) with PHONE_MIN_SPEECH_S or
    more of speech, unless the user gave the number of speakers. Two voices of one gender on
    a phone line sound too alike for the count to hear them apart, and a contact centre's
    telephone recording of that length is a conversation but for rare exceptions (a
    voicemail), which the user can state."""
    if (
        cfg.num_speakers
        or not cfg.phone_conversation
        or cfg.min_speakers >= 2
        or cfg.max_speakers < 2
        or speech_s < PHONE_MIN_SPEECH_S
        or not band_limited(read, samples)
    ):
        return cfg.min_speakers
    return 2


def _phone_note(voices: int, speech_s: float) -> Note:
    """What the floor of ``fewest_voices`` did: the voices were looked for as in a conversation."""
    return Note(
        "phone_conversation",
        f"{speech_s:.0f} s of speech on one telephone channel were taken as a conversation and "
        f"told apart into {voices} voices; if only one person speaks, analyse it again with the "
        "number of speakers set to 1",
        speech_s=round(speech_s, 1),
        voices=voices,
    )


def _one_voice_note(voices: int, speech_s: float, cfg: AnalysisConfig) -> Note | None:
    """The caveat on a mixed recording whose speech the count gave to one voice: two voices
    that sound alike (one gender, one telephone line) are often heard as one, and a reviewer who
    knows the call is a conversation can say so. None when the user set the number of speakers
    (or at least two), for other counts, and under ONE_VOICE_NOTE_S of speech."""
    if voices != 1 or cfg.num_speakers or cfg.min_speakers > 1 or speech_s < ONE_VOICE_NOTE_S:
        return None
    return Note(
        "one_voice_counted",
        f"one voice counted in {speech_s:.0f} s of speech on one channel: two voices that sound "
        "alike (one gender, one telephone line) can be heard as one; if this is a conversation, "
        "analyse it again with the number of speakers set to 2",
        speech_s=round(speech_s, 1),
    )


def uncertain_voices_note(turns: Turns, speech: Sequence[Segment]) -> Note | None:
    """The caveat on a diarized call whose voice changes do not follow its pauses as turns do
    (``speakers.untied_voices``): the voices may be split by mood in places. None for other
    calls. On simulated calls (after the diarizer's second look) it finds calls with collar
    DER over 0.2 at precision 0.86 / recall 0.56 on validation actors, 0.90 / 0.47 on test
    actors (``benchmarks/diarization.py``, session 34)."""
    tie = untied_voices(turns, speech)
    if tie is None:
        return None
    voices = len(turns.speakers)
    return Note(
        "voices_uncertain",
        f"the {voices} voices may be mixed up in places: where they change does not follow the "
        f"pauses as turns between talkers do (turn-taking score {tie:.1f}, under "
        f"{UNCERTAIN_TIE:.1f}); one voice in two moods can be heard as two; check the speaker "
        "labels before trusting who said what",
        voices=voices,
        tie=round(tie, 2),
        threshold=UNCERTAIN_TIE,
    )


def diarized_roles(
    attr: SpeakerAttribution,
    cfg: AnalysisConfig,
    transcript: Sequence[dict[str, Any]] = (),
) -> SpeakerAttribution:
    """Agent and customer among the voices of a diarized (mixed) call.

    Given ``cfg.channels``, the names go to the voices in the order they are first heard (the
    first voice of the call takes the first name; a voice beyond the names has no role), with
    confidence 1. Otherwise, with two or more voices and ``cfg.detect_agent``, the agent is
    guessed as on a stereo call (``coaching.roles.guess_roles``: the opening's shape, who
    closes, and greeting or caller words in ``transcript``: lines {"start", "end", "speaker",
    "text"} of the diarized voices), every other voice a customer, each with the guess's
    confidence; the cues go into a note. One voice, or a split call: unchanged."""
    if attr.split or not attr.turns.turns:
        return attr
    first: dict[str, float] = {}
    for spk, g in sorted(attr.turns.turns, key=lambda t: t[1].start):
        first.setdefault(spk, g.start)
    order = sorted((s for s in attr.ids if s in first), key=lambda s: first[s])
    order += [s for s in attr.ids if s not in first]
    if cfg.channels:
        names = list(cfg.channels)
        roles = {s: (names[k] if k < len(names) else None) for k, s in enumerate(order)}
        given = ", ".join(f"{s} {r}" for s, r in roles.items() if r)
        note = Note(
            "roles_by_first_speech",
            f"roles given in the order the voices are first heard: {given}",
            roles=given,
        )
        notes = [note, *_extra_names(names, len(order), "voices")]
        return _with_roles(attr, roles, {s: 1.0 for s, r in roles.items() if r}, notes)
    if len(order) < 2 or not cfg.detect_agent:
        return attr
    guess = guess_roles(attr.turns.turns, speakers=order, transcript=list(transcript))
    if guess.agent is None:
        return attr
    why = "; ".join(c["text"] for c in guess.cues[:2])
    note = Note(
        "agent_speaker_guessed",
        f"agent guessed: {guess.agent} (confidence {guess.confidence:.2f}: {why}) (override "
        "with --channels, names in the order the voices are first heard)",
        speaker=guess.agent,
        confidence=round(float(guess.confidence), 2),
        cues=why,
    )
    confidence = {s: float(guess.confidence) for s in guess.roles}
    return _with_roles(attr, dict(guess.roles), confidence, [note])


def _extra_names(names: list[str], n: int, what: str) -> list[Note]:
    """A ``roles_ignored`` note for the role names beyond the ``n`` channels or voices (none
    when there are no more names than those)."""
    extra = ", ".join(names[n:])
    if not extra:
        return []
    message = f"role names ignored: {extra} (the call has {n} {what})"
    return [Note("roles_ignored", message, reason="extra_names", names=extra, channels=n)]


def _with_roles(
    attr: SpeakerAttribution,
    roles: dict[str, str | None],
    confidence: dict[str, float],
    notes: list[Note],
) -> SpeakerAttribution:
    speakers = [
        replace(s, role=roles.get(s.id), role_confidence=confidence.get(s.id))
        for s in attr.speakers
    ]
    return replace(attr, speakers=speakers, notes=[*attr.notes, *notes])


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
    notes: list[str] = [*_extra_names(list(cfg.channels or ()), n, "channels")]
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
            role_confidence=confidence if roles and roles[ch] else None,
        )
        for ch in range(n)
    ]
    return turns, speakers, notes


def mono_mix(audio: NDArray[Any]) -> NDArray[Any]:
    """The mix of all channels: float32 [samples], the mean of the live channels with any
    channel of flipped polarity turned back (``ChannelStats.mix_weights``; a dead channel
    would only halve the level, a flipped copy would cancel the sound)."""
    if audio.shape[0] == 1:
        one: NDArray[Any] = audio[0]
        return one

    def mix() -> NDArray[Any]:
        weights = channel_stats_of(audio).mix_weights()
        out: NDArray[Any] = weights.astype(np.float32) @ audio
        return out

    return _once(audio, "mono_mix", mix)  # the voice and speakers stages both read it


def channel_roles(n: int, cfg: AnalysisConfig) -> tuple[list[str], list[str | None] | None]:
    """Speaker ids and roles of ``n`` channels: the given roles (a channel without one is
    ch<k>, no role), agent/customer (to be checked by ``coaching.roles.guess_roles``) for two
    channels, else ch0, ch1... without roles."""
    if cfg.channels:
        given = list(cfg.channels)[:n]
        names = given + [f"ch{i}" for i in range(len(given), n)]
        if len(set(names)) != len(names):
            raise ValueError(f"channel roles must be distinct, got {names}")
        return names, [*given, *([None] * (n - len(given)))]
    if n == 2 and cfg.detect_agent:
        return ["agent", "customer"], ["agent", "customer"]
    return [f"ch{i}" for i in range(n)], None
