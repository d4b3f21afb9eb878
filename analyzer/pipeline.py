"""The analysis engine: from a media file to a fused, per-speaker emotion timeline.

``Analyzer`` loads every model once and serves many files; ``analyze`` is the one-call shortcut.
Stages, in order (``STEPS``): decode -> voice activity -> faces (tracks, cues, expression) ->
speakers (on a mixed video call anchored by the faces seen talking) -> prosody -> speech
emotion -> words -> fusion (turns and a fixed grid; faces linked to voices first) -> events and
summary. Each stage is a method
that takes what earlier stages produced (typed: ``SpeakerAttribution``, ``SpeechPieces``...) and
returns its own part; each modality builds its own fusion evidence (see ``analyzer.evidence``).
A call longer than ``AnalysisConfig.chunk_s`` is decoded to disk (``analyzer.diskaudio``) and
the stages that read the whole signal run chunk by chunk (``analyzer.chunks``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from . import events as ev
from .attribution import (
    SpeakerAttribution,
    attribute_speakers,
    diarized_roles,
    mono_mix,
    split_channels,
)
from .audio import prosody as pros
from .audio.bleed import cancel_bleed, level_over_floor_db
from .audio.speakers import SpeakerEncoder
from .audio.vad import VoiceActivityDetector, band_limited, silences
from .chunks import prosody_frames, transcribe_in_chunks, voice_in_chunks
from .coaching.scorecard import Scorecard, score_call
from .config import SAMPLE_RATE, AnalysisConfig
from .diskaudio import Audio, DiskAudio, DiskChannel
from .fusion import SpeakerSources, grid_segments, turn_segments
from .media import (
    LIMIT_MARGIN_S,
    MediaError,
    MediaInfo,
    VideoFrame,
    decode_audio,
    iter_video_frames,
    probe_media,
)
from .models import (
    DEFAULT_MODELS,
    EmotionModel,
    EmotionScores,
    ModelError,
    check_model,
    load_model,
    resolve_model_dir,
)
from .notes import Note
from .result import AnalysisResult, EmotionSegment, Event, FaceFrame, Speaker
from .segment import Segment, SegmentIndex, TimeGrid
from .summary import SpeakerSummary
from .words.lexicons import Lexicon, builtin_lexicon
from .words.questions import unanswered_questions
from .words.stage import WordsResult, words_from_asr, words_from_transcript
from .words.transcripts import (
    Transcript,
    TranscriptError,
    assign_speakers,
    find_transcript,
    match_labels,
    read_transcript,
)

if TYPE_CHECKING:
    from .video import FaceAnalyzer, FaceTimeline
    from .words.asr import Transcriber

log = logging.getLogger(__name__)

# progress(step, done, total): after each stage, step is the stage name and done/total count
# stages (see STEPS); while faces are analysed, step is "video frames" and done/total count frames.
Progress = Callable[[str, int, int], None]

SER_PIECE_S = 3.0  # s; speech is scored in pieces of about this length, once, then pooled
SER_MIN_PIECE_S = 0.4  # s; shorter leftovers are merged into their neighbour
STEPS = (
    "decode", "voice", "faces", "speakers", "prosody", "speech emotion", "words", "fusion",
    "events",
)  # fmt: skip
SAMPLES = TimeGrid.rate(SAMPLE_RATE)  # the sample grid of every decoded signal
WORDS_NOTE = Note(
    "words_asr",
    "words: English speech recognition (Whisper tiny.en); read transcripts as approximate",
)


def _noop(step: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class SpeechPieces:
    """Each speaker's speech cut into pieces of about SER_PIECE_S, and the model's scores of
    them (None without a speech emotion model)."""

    pieces: list[tuple[str, Segment]]
    scores: EmotionScores | None

    def of(self, speaker: str) -> tuple[SegmentIndex, EmotionScores | None]:
        """One speaker's pieces and their rows of ``scores``."""
        rows = np.array([i for i, (s, _) in enumerate(self.pieces) if s == speaker], dtype=int)
        index = SegmentIndex([self.pieces[i][1] for i in rows])
        if self.scores is None:
            return index, None
        sc = self.scores
        return index, EmotionScores(
            sc.probs[rows], sc.arousal[rows], sc.valence[rows], sc.confidence[rows]
        )


UNFAMILIAR_NOTE_SHARE = 0.25  # a speaker this much of whose speech the speech emotion model
# finds unlike its training speech gets a note (its readings there are less certain)


def unfamiliar_speech_notes(pieces: SpeechPieces) -> list[Note]:
    """A note per speaker whose speech is, for at least UNFAMILIAR_NOTE_SHARE of its seconds,
    unlike what the speech emotion model was trained on (a language, voice or recording it
    never met): the reviewer reads that speaker's emotion with that in mind."""
    scores = pieces.scores
    if scores is None or scores.unfamiliar is None or not len(pieces.pieces):
        return []
    seconds = np.array([seg.duration for _, seg in pieces.pieces])
    speakers = np.array([spk for spk, _ in pieces.pieces])
    notes = []
    for spk in dict.fromkeys(speakers.tolist()):
        mine = speakers == spk
        share = float(seconds[mine] @ scores.unfamiliar[mine] / max(seconds[mine].sum(), 1e-9))
        if share >= UNFAMILIAR_NOTE_SHARE:
            notes.append(
                Note(
                    "unfamiliar_speech",
                    f"speech emotion: {spk}'s voice is unlike the model's training speech in "
                    f"{share:.0%} of their speech; readings there are less certain",
                    speaker=spk,
                    share=round(share, 2),
                )
            )
    return notes


@dataclass(frozen=True)
class Faces:
    """The faces stage's hand-off: the face timeline and which track is whose voice."""

    timeline: FaceTimeline | None = None
    track_speaker: dict[int, str] = field(default_factory=dict)
    speakers: list[Speaker] | None = None  # with face tracks; None: unchanged
    notes: list[str] = field(default_factory=list)

    def tracks_of(self, speaker: str) -> list[int]:
        return [t for t, sp in self.track_speaker.items() if sp == speaker]


class Analyzer:
    """Loads the models once; ``analyze(path)`` many times. Not thread-safe: one per worker."""

    def __init__(self, config: AnalysisConfig | None = None) -> None:
        self.config = config or AnalysisConfig()
        self.vad = VoiceActivityDetector(threads=self.threads)
        self._encoder: SpeakerEncoder | None = None
        self._faces: FaceAnalyzer | None = None
        self._transcriber: Transcriber | None = None
        self.notes: list[str] = []
        ser = self._checked("ser", self.config.ser_model)
        self.ser = None if ser is None else load_model(ser, "ser")
        if self.ser is not None and hasattr(self.ser, "threads"):
            self.ser.threads = self.threads
        # Checked now, loaded by the first call with video: audio calls never need it, nor the
        # torch runtime under it (about 300 MB resident).
        self._fer_name = self._checked("fer", self.config.fer_model)
        self._fer: EmotionModel | None = None

    def _checked(self, kind: str, name: str | None) -> str | None:
        """The model of ``kind`` to load (checked: kind, checksums, loader), None for none."""
        if name is None:
            return None
        if name == "default":
            try:
                resolve_model_dir(DEFAULT_MODELS[kind])
            except ModelError:
                what = "speech" if kind == "ser" else "facial"
                self.notes.append(
                    Note(
                        f"no_{kind}_model",
                        f"no {what} emotion model is installed ({DEFAULT_MODELS[kind]}); "
                        + (
                            "arousal comes from prosody only" if kind == "ser" else "face cues only"
                        ),
                        model=DEFAULT_MODELS[kind],
                    )
                )
                return None
            name = DEFAULT_MODELS[kind]
        check_model(name, kind)
        return name

    @property
    def fer(self) -> EmotionModel | None:
        """The facial emotion model (None without one), loaded on first use."""
        if self._fer is None and self._fer_name is not None:
            self._fer = load_model(self._fer_name, "fer")
        return self._fer

    @property
    def threads(self) -> int:
        """CPU threads of the models that run on their own thread pools (the speech encoder,
        voice activity): ``config.ser_threads``, at most the CPUs there are."""
        return max(1, min(self.config.ser_threads, os.cpu_count() or 1))

    @property
    def speaker_encoder(self) -> SpeakerEncoder:
        if self._encoder is None:
            self._encoder = SpeakerEncoder()
        return self._encoder

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            from .words.asr import Transcriber

            self._transcriber = Transcriber()
        return self._transcriber

    def face_analyzer(self, cfg: AnalysisConfig | None = None) -> FaceAnalyzer:
        """The face stage's analyzer, built on first use with ``cfg.face`` (rebuilt when a later
        call asks for other face options)."""
        from .video import FaceAnalyzer

        face_cfg = (cfg or self.config).face
        if self._faces is not None and self._faces.config != face_cfg:
            self.close()
        if self._faces is None:
            self._faces = FaceAnalyzer(face_cfg, model=self.fer)
        return self._faces

    def close(self) -> None:
        if self._faces is not None:
            self._faces.close()
            self._faces = None

    # -------------------------------------------------------------------------------------
    def analyze(
        self,
        path: str | Path,
        *,
        config: AnalysisConfig | None = None,
        progress: Progress | None = None,
    ) -> AnalysisResult:
        """Analyse one recording. Raises MediaError (one-line message) for unusable input."""
        cfg = config or self.config
        clock = _StageClock(progress or _noop)
        info, audio, decode_notes = self._decode(path, cfg)
        try:
            return self._analyze(path, cfg, clock, info, audio, decode_notes)
        finally:
            if isinstance(audio, DiskAudio):
                audio.close()  # the long call's temporary audio goes at once, also on errors

    def _analyze(
        self,
        path: str | Path,
        cfg: AnalysisConfig,
        clock: _StageClock,
        info: MediaInfo,
        audio: Audio,
        decode_notes: list[str],
    ) -> AnalysisResult:
        """Every stage after decoding (``analyze``)."""
        duration = info.duration_s
        transcript = self._read_transcript(path, cfg, duration)
        lexicon = builtin_lexicon(cfg.lexicons)  # a team folder that does not load fails early
        clock.mark("decode")
        split = split_channels(audio, cfg)
        probs, levels = self._voice(audio, split, cfg)
        clock.mark("voice")
        timeline, video_notes = self._face_timeline(path, info, cfg, clock.report)
        clock.mark("faces")
        attr = attribute_speakers(
            audio,
            probs,
            cfg,
            duration=duration,
            split=split,
            encoder=lambda: self.speaker_encoder,
            levels=levels,
            faces=timeline,
        )
        clock.mark("speakers")
        prosody = self._prosody(attr, cfg)
        clock.mark("prosody")
        pieces = self._speech_emotion(attr, cfg)
        clock.mark("speech emotion")
        words = self._words(attr, cfg, transcript, lexicon)
        texts = words.texts
        attr = diarized_roles(attr, cfg, _turn_lines(attr, texts))
        clock.mark("words")
        faces = self._faces_stage(timeline, info, attr, cfg)
        faces.notes.extend(video_notes)
        segments = self._fusion(attr, prosody, pieces, texts, faces, duration, cfg)
        clock.mark("fusion")
        events = self._events(attr, segments, words, duration, cfg)
        summary = _summaries(attr.ids, segments, events, duration)
        card = self._coaching(attr, segments, texts, duration)
        face_rows = []
        if faces.timeline is not None:
            face_rows = [FaceFrame(**row) for row in faces.timeline.rows(faces.track_speaker)]
        clock.mark("events")
        notes = [*self.notes, *decode_notes, *attr.notes]
        notes += words.notes
        notes += faces.notes
        if self.ser is None:
            notes.append(
                Note(
                    "prosodic_arousal_only",
                    "speech emotion: prosodic arousal only (no speech emotion model)",
                )
            )
        notes += unfamiliar_speech_notes(pieces)
        return AnalysisResult(
            media=info,
            speakers=faces.speakers or attr.speakers,
            segments=segments,
            events=events,
            turns=attr.turns.turns,
            faces=face_rows,
            summary=summary,
            notes=notes,
            models=self._model_names(info, cfg, attr.split),
            config=cfg.to_dict(),
            transcript=list(words.transcript),
            redaction=words.redaction,
            timings=clock.timings,
            turn_taking=card.turn_taking,
            scorecard=card.to_dict(),
        )

    # ---- stages --------------------------------------------------------------------------
    def _decode(self, path: str | Path, cfg: AnalysisConfig) -> tuple[MediaInfo, Audio, list[str]]:
        """Probe and decode: (media info with the decoded duration, audio [channels, samples],
        decoding notes). Stops at ``cfg.max_duration_s`` whatever the header says. A call
        longer than ``cfg.chunk_s`` comes back as a ``DiskAudio`` (in ``cfg.temp_dir``) that
        the caller closes."""
        info = probe_media(path)
        if not info.has_audio:
            raise MediaError(
                f"{Path(path).name}: has no audio track",
                cause="has no audio track",
                code="no_audio_track",
                params={"file": Path(path).name},
            )
        decoded = decode_audio(
            path,
            sample_rate=SAMPLE_RATE,
            max_duration_s=cfg.max_duration_s,
            spill_after_s=cfg.chunk_s,
            temp_dir=cfg.temp_dir,
        )
        audio = decoded.samples
        duration = audio.shape[1] / SAMPLE_RATE
        info = type(info)(**{**info.__dict__, "duration_s": duration})
        return info, audio, list(decoded.notes)

    def _voice(
        self, audio: Audio, split: bool, cfg: AnalysisConfig | None = None
    ) -> tuple[NDArray[Any], NDArray[Any] | None]:
        """Speech probability per VAD hop: [channels, hops] when split, else [1, hops] of the
        mono mix; with the hop levels over the noise floor of split channels of a multi-channel
        call (``audio.bleed.level_over_floor_db``), else None. Split channels are heard after
        line-bleed cancellation (``audio.bleed.cancel_bleed``): each party as if alone on the
        line, its own sound what stands over its floor. A mono mix that came through an 8 kHz
        channel is also heard by the detector's 8 kHz branch (``vad.mixed_probabilities``). A
        long call (on disk) runs chunk by chunk (``chunks.voice_in_chunks``)."""
        if isinstance(audio, DiskAudio):
            chunk_s = (cfg or self.config).chunk_s
            return voice_in_chunks(audio, self.vad, split=split, chunk_s=chunk_s)
        if split:
            levels = None
            if len(audio) > 1:
                audio = cancel_bleed(audio, sr=SAMPLE_RATE).audio
                levels = level_over_floor_db(audio, sr=SAMPLE_RATE)
            return self.vad.channel_probabilities(audio), levels
        mix = mono_mix(audio)
        narrow = band_limited(lambda a, b: mix[a:b], len(mix))
        return self.vad.mixed_probabilities(mix, band_limited=narrow)[None, :], None

    def _prosody(
        self, attr: SpeakerAttribution, cfg: AnalysisConfig
    ) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        """Per speaker: (features, speaker z-scores) of each of their turns."""
        turns = attr.turns

        def frames_of(ch: int) -> pros.ProsodyFrames:
            speech = [g for s, g in turns.turns if attr.source_of[s] == ch]
            source = attr.sources[ch]
            if isinstance(source, DiskChannel):
                return prosody_frames(source, speech=speech, chunk_s=cfg.chunk_s)
            return pros.analyze_frames(source, sr=SAMPLE_RATE, speech=speech)

        frames = {ch: frames_of(ch) for ch in sorted(set(attr.source_of.values()))}
        out = {}
        for spk in attr.ids:
            segs = turns.of(spk)
            feats = [pros.turn_features(frames[attr.source_of[spk]], g, speech=segs) for g in segs]
            out[spk] = (feats, pros.speaker_zscores(feats))
        return out

    def _speech_emotion(self, attr: SpeakerAttribution, cfg: AnalysisConfig) -> SpeechPieces:
        """Score each speaker's speech once, in pieces of about SER_PIECE_S. On a long call
        (audio on disk) the pieces are read and encoded a chunk's worth at a time, then scored
        together (the speaker-relative head sees the whole call)."""
        pieces: list[tuple[str, Segment]] = []
        for spk, seg in attr.turns.turns:
            pieces.extend((spk, p) for p in _cut(seg, SER_PIECE_S, SER_MIN_PIECE_S))
        if self.ser is None or not pieces:
            return SpeechPieces(pieces, None)
        groups = [spk for spk, _ in pieces]
        # the model's own embed (encoder features, and a version 6 model's voice statistics)
        embed = getattr(self.ser, "embed", None)
        score = getattr(self.ser, "predict_features", None)
        if isinstance(attr.sources, DiskAudio) and embed is not None and score is not None:
            batch = max(1, int(cfg.chunk_s / SER_PIECE_S))
            feats, speech_s = [], []
            for a in range(0, len(pieces), batch):
                waves = [attr.source(spk)[SAMPLES.slice(p)] for spk, p in pieces[a : a + batch]]
                f, s_ = embed(waves)
                feats.append(f)
                speech_s.append(s_)
            scores = score(np.concatenate(feats), np.concatenate(speech_s), groups=groups)
            return SpeechPieces(pieces, scores)
        waves = [attr.source(spk)[SAMPLES.slice(p)] for spk, p in pieces]
        return SpeechPieces(pieces, self.ser.predict(waves, groups=groups))

    def _read_transcript(
        self, path: str | Path, cfg: AnalysisConfig, duration: float
    ) -> Transcript | None:
        """The call's imported transcript (``cfg.transcript``), read before any analysis so a
        malformed file fails the call at once; None without one."""
        if cfg.transcript is None:
            return None
        found = find_transcript(path, cfg.transcript)
        if found is None:
            raise TranscriptError(
                f"{cfg.transcript}: no transcript named like {Path(path).name} "
                "(.srt, .vtt or .json)"
            )
        return read_transcript(found, duration=duration)

    def _words(
        self,
        attr: SpeakerAttribution,
        cfg: AnalysisConfig,
        transcript: Transcript | None,
        lexicon: Lexicon,
    ) -> WordsResult:
        """The words of each turn, from an imported transcript or the built-in English ASR
        (``cfg.transcribe``), redacted when ``cfg.redact``: phrase and sentiment evidence per
        turn (None where nothing was said), repeated complaints, the call's transcript lines
        and the redaction report."""
        turns = {spk: attr.turns.of(spk) for spk in attr.ids}
        if transcript is not None:
            spans = {spk: [(g.start, g.end) for g in segs] for spk, segs in turns.items()}
            lines = assign_speakers(
                transcript.lines, spans, rename=match_labels(transcript.lines, spans)
            )
            words = words_from_transcript(
                lines,
                turns,
                redact=cfg.redact,
                complaint_window_s=cfg.complaint_window_s,
                lexicon=lexicon,
            )
            note = Note(
                "transcript_imported",
                f"words: imported {transcript.format} transcript ({len(lines)} lines)",
                format=transcript.format,
                lines=len(lines),
            )
            read = (Note(n.code, n.message, **n.params) for n in transcript.notes)
            return replace(words, notes=(note, *read))
        if not (cfg.transcribe and attr.turns.turns):
            empty: dict[str, list[Any]] = {spk: [] for spk in attr.ids}
            words = words_from_asr(empty, redact=cfg.redact)
            return replace(words, texts={spk: [None] * len(turns[spk]) for spk in attr.ids})
        turn_texts = {
            spk: self._transcribe(attr.source(spk), segs, cfg) for spk, segs in turns.items()
        }
        words = words_from_asr(
            turn_texts,
            redact=cfg.redact,
            complaint_window_s=cfg.complaint_window_s,
            lexicon=lexicon,
        )
        return replace(words, notes=(WORDS_NOTE,))

    def _transcribe(self, source: Any, turns: list[Segment], cfg: AnalysisConfig) -> list[Any]:
        """``Transcriber.transcribe`` of a speaker's turns (a chunk's worth at a time on a long
        call, ``chunks.transcribe_in_chunks``)."""
        if isinstance(source, DiskChannel):
            return transcribe_in_chunks(self.transcriber, source, turns, chunk_s=cfg.chunk_s)
        return self.transcriber.transcribe(source, turns)

    def _face_timeline(
        self, path: str | Path, info: MediaInfo, cfg: AnalysisConfig, report: Progress
    ) -> tuple[FaceTimeline | None, list[Note]]:
        """Face tracks, cues and expression of the video (None without video, or switched
        off), up to the end of the audio (``info.duration_s``), which every timeline of the
        result spans: a video that runs on past its audio gets a note
        ``video_outlasts_audio`` instead of face rows after the call's end."""
        if not info.has_video or not cfg.video:
            return None, []

        def face_progress(step: str, done: int, total_frames: int) -> None:
            report("video frames", done, total_frames)

        end = info.duration_s + 1.0 / cfg.fps  # the last analysed frame may sit on the end
        beyond: list[float] = []

        def frames() -> Iterator[VideoFrame]:
            for frame in iter_video_frames(
                path,
                fps=cfg.fps,
                max_side=cfg.max_video_side,
                max_time_s=None
                if cfg.max_duration_s is None
                else cfg.max_duration_s + LIMIT_MARGIN_S,
            ):
                if frame.time > end:
                    beyond.append(frame.time)
                    return
                yield frame

        timeline = self.face_analyzer(cfg).analyze(
            frames(), total=int(info.duration_s * cfg.fps) + 1, progress=face_progress
        )
        notes = []
        if beyond:
            notes.append(
                Note(
                    "video_outlasts_audio",
                    f"the video goes on after its audio ends at {info.duration_s:.1f} s; "
                    "faces after that are not analysed",
                    audio_end_s=round(info.duration_s, 3),
                )
            )
        return timeline, notes

    def _faces_stage(
        self,
        timeline: FaceTimeline | None,
        info: MediaInfo,
        attr: SpeakerAttribution,
        cfg: AnalysisConfig,
    ) -> Faces:
        """Which face track belongs to which voice."""
        if not info.has_video:
            return Faces()
        if timeline is None:
            return Faces(
                notes=[Note("video_off", "video not analysed (video analysis switched off)")]
            )
        from .video import assign_tracks_to_speakers

        track_speaker = assign_tracks_to_speakers(
            timeline, {s.id: attr.turns.of(s.id) for s in attr.speakers}
        )
        speakers = [
            replace(s, face_track=next((t for t, sp in track_speaker.items() if sp == s.id), None))
            for s in attr.speakers
        ]
        notes: list[str] = []
        if not timeline.has_face.any():
            notes.append(Note("no_face", "no face was found in the video"))
        return Faces(timeline, track_speaker, speakers, notes)

    def _fusion(
        self,
        attr: SpeakerAttribution,
        prosody: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]],
        pieces: SpeechPieces,
        texts: dict[str, list[dict[str, Any] | None]],
        faces: Faces,
        duration: float,
        cfg: AnalysisConfig,
    ) -> list[EmotionSegment]:
        """Fused segments of every speaker: one per turn, and the smoothed fixed grid."""
        overlaps = SegmentIndex(attr.turns.overlaps)
        segments: list[EmotionSegment] = []
        for spk in attr.ids:
            own = SegmentIndex(attr.turns.of(spk))
            spk_pieces, spk_scores = pieces.of(spk)
            src = SpeakerSources(
                own=own,
                overlaps=overlaps,
                pieces=spk_pieces,
                scores=spk_scores,
                timeline=faces.timeline,
                tracks=faces.tracks_of(spk),
                feats=prosody[spk][0],
                zs=prosody[spk][1],
                texts=texts[spk],
            )
            segments.extend(turn_segments(spk, src))
            segments.extend(
                grid_segments(
                    spk,
                    src,
                    duration,
                    window_s=cfg.window_s,
                    hop_s=cfg.hop_s,
                    smoothing_s=cfg.smoothing_s,
                )
            )
        segments.sort(key=lambda s: (s.kind != "turn", s.start, s.speaker))
        return segments

    def _events(
        self,
        attr: SpeakerAttribution,
        segments: list[EmotionSegment],
        words: WordsResult,
        duration: float,
        cfg: AnalysisConfig,
    ) -> list[Event]:
        """Every event detector over the turns and the fused timeline, in time order."""
        turns = attr.turns
        quiet = silences([g for _, g in turns.turns], duration, min_s=cfg.long_silence_s)
        events = ev.detect_silences(quiet, min_s=cfg.long_silence_s, turns=turns.turns)
        # on a mixed recording cut-ins are only visible as estimated overlap at a change of voice
        events += ev.overtalk_events(
            turns.turns, turns.overlaps, min_cut_s=cfg.interruption_min_s, mixed=not attr.split
        )
        events += ev.detect_rate_spikes([s for s in segments if s.kind == "turn"])
        events += ev.detect_repeated_complaints(words.complaints)  # none without words
        questions = unanswered_questions(words.transcript, turns.turns)
        events += ev.detect_unanswered_questions(questions)
        for spk in attr.ids:
            events += ev.shift_events(
                segments, spk, sustain_s=cfg.min_shift_s, rise=cfg.shift_threshold
            )
        events.sort(key=lambda e: (e.start, e.kind))
        return events

    def _coaching(
        self,
        attr: SpeakerAttribution,
        segments: list[EmotionSegment],
        texts: dict[str, list[dict[str, Any] | None]],
        duration: float,
    ) -> Scorecard:
        """Turn-taking facts and the coaching scorecard of every speaker (``analyzer.coaching``)."""
        roles = {s.id: s.role if s.role in ("agent", "customer") else None for s in attr.speakers}
        return score_call(
            attr.turns.turns,
            segments,
            roles,
            transcript=_turn_lines(attr, texts),
            duration_s=duration,
        )

    def _model_names(self, info: MediaInfo, cfg: AnalysisConfig, split: bool) -> dict[str, Any]:
        return {
            "ser": getattr(self.ser, "name", None),
            "fer": getattr(self.fer, "name", None) if info.has_video and cfg.video else None,
            "vad": "silero-vad (onnx)",
            "speakers": "channels" if split else "resemblyzer GE2E + agglomerative",
        }


def _turn_lines(
    attr: SpeakerAttribution, texts: dict[str, list[dict[str, Any] | None]]
) -> list[dict[str, Any]]:
    """The words of every turn as transcript lines {"start", "end", "speaker", "text"}."""
    return [
        {"start": seg.start, "end": seg.end, "speaker": spk, "text": words["text"]}
        for spk in attr.ids
        for seg, words in zip(attr.turns.of(spk), texts.get(spk, []))
        if words is not None
    ]


class _StageClock:
    """Times the stages and reports each finished one to ``progress``."""

    def __init__(self, progress: Progress) -> None:
        self.report = progress
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def mark(self, step: str) -> None:
        now = time.perf_counter()
        self.timings[step] = self.timings.get(step, 0.0) + now - self._clock
        self._clock = now
        self.report(step, STEPS.index(step) + 1, len(STEPS))


def _summaries(
    ids: list[str], segments: list[EmotionSegment], events: list[Event], duration: float
) -> dict[str, SpeakerSummary]:
    return {
        spk: ev.summarize(
            spk,
            [s for s in segments if s.kind == "turn" and s.speaker == spk],
            [s for s in segments if s.kind == "window" and s.speaker == spk],
            duration,
            events,
        )
        for spk in ids
    }


def _cut(seg: Segment, piece_s: float, min_s: float) -> list[Segment]:
    """Split a turn into near-equal pieces of about ``piece_s`` seconds."""
    n = max(1, int(round(seg.duration / piece_s)))
    if seg.duration / n < min_s:
        n = 1
    edges = np.linspace(seg.start, seg.end, n + 1)
    return [Segment(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


def analyze(
    path: str | Path,
    *,
    config: AnalysisConfig | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Analyse one file with a fresh ``Analyzer`` (use an Analyzer directly for many files)."""
    analyzer = Analyzer(config)
    try:
        return analyzer.analyze(path, progress=progress)
    finally:
        analyzer.close()
