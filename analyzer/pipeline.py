"""The analysis engine: from a media file to a fused, per-speaker emotion timeline.

``Analyzer`` loads every model once and serves many files; ``analyze`` is the one-call shortcut.
Stages, in order: decode -> voice activity -> speakers -> prosody -> speech emotion -> faces ->
fusion (turns and a fixed grid) -> events and summary.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import events as ev
from .audio import prosody as pros
from .audio.speakers import SpeakerEncoder, Turns, channel_turns, diarize, guess_agent_channel
from .audio.vad import VAD_CHUNK, VoiceActivityDetector, silences, speech_segments
from .config import AnalysisConfig
from .fusion import Evidence, fuse, smooth_series
from .labels import LABELS, derive_valence_arousal
from .media import MediaError, iter_video_frames, load_audio, probe_media
from .models import (
    DEFAULT_MODELS,
    EmotionModel,
    EmotionScores,
    ModelError,
    load_model,
    resolve_model_dir,
)
from .result import AnalysisResult, EmotionSegment, FaceFrame, Speaker
from .segment import Segment, SegmentIndex

log = logging.getLogger(__name__)

# progress(step, done, total): after each stage, step is the stage name and done/total count
# stages (see STEPS); while faces are analysed, step is "video frames" and done/total count frames.
Progress = Callable[[str, int, int], None]

SER_PIECE_S = 3.0  # s; speech is scored in pieces of about this length, once, then pooled
SER_MIN_PIECE_S = 0.4  # s; shorter leftovers are merged into their neighbour
SAME_CHANNEL_CORR = 0.98  # channels this correlated are one mix duplicated, not two speakers
STEPS = (
    "decode", "voice", "speakers", "prosody", "speech emotion", "words", "faces", "fusion",
    "events",
)  # fmt: skip
COMPLAINT_VALENCE = -0.6  # a turn with a complaint phrase is at most this positive


def _noop(step: str, done: int, total: int) -> None:
    return None


class Analyzer:
    """Loads the models once; ``analyze(path)`` many times. Not thread-safe: one per worker."""

    def __init__(self, config: AnalysisConfig | None = None) -> None:
        self.config = config or AnalysisConfig()
        self.vad = VoiceActivityDetector(threads=min(2, os.cpu_count() or 1))
        self._encoder: SpeakerEncoder | None = None
        self._faces = None
        self._transcriber = None
        self.notes: list[str] = []
        self.ser = self._load("ser", self.config.ser_model)
        self.fer = self._load("fer", self.config.fer_model)

    def _load(self, kind: str, name: str | None) -> EmotionModel | None:
        if name is None:
            return None
        if name == "default":
            try:
                resolve_model_dir(DEFAULT_MODELS[kind])
            except ModelError:
                what = "speech" if kind == "ser" else "facial"
                self.notes.append(
                    f"no {what} emotion model is installed ({DEFAULT_MODELS[kind]}); "
                    + ("arousal comes from prosody only" if kind == "ser" else "face cues only")
                )
                return None
            name = DEFAULT_MODELS[kind]
        model = load_model(name, kind)
        if kind == "ser" and hasattr(model, "threads"):
            model.threads = max(1, min(self.config.ser_threads, os.cpu_count() or 1))
        return model

    @property
    def speaker_encoder(self) -> SpeakerEncoder:
        if self._encoder is None:
            self._encoder = SpeakerEncoder()
        return self._encoder

    @property
    def transcriber(self):
        if self._transcriber is None:
            from .text import Transcriber

            self._transcriber = Transcriber()
        return self._transcriber

    def face_analyzer(self):
        if self._faces is None:
            from .video import FaceAnalyzer

            self._faces = FaceAnalyzer(model=self.fer)
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
        report = progress or _noop
        timings: dict[str, float] = {}
        notes = list(self.notes)
        clock = time.perf_counter()

        def mark(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[step] = timings.get(step, 0.0) + now - clock
            clock = now
            report(step, STEPS.index(step) + 1, len(STEPS))

        info = probe_media(path)
        if not info.has_audio:
            raise MediaError(f"{Path(path).name}: has no audio track")
        audio = load_audio(path, sample_rate=cfg.sample_rate)
        sr = cfg.sample_rate
        duration = audio.shape[1] / sr
        info = type(info)(**{**info.__dict__, "duration_s": duration})
        mark("decode")

        # ---- voice activity and speakers ---------------------------------------------------
        split = self._split_channels(audio, cfg)
        if split:
            sources = audio
            probs = np.stack([self.vad.probabilities(ch) for ch in sources])
            mark("voice")
            ids, roles, why = self._channel_roles(audio.shape[0], cfg, probs, duration)
            rms = _hop_levels(sources)
            turns = channel_turns(
                probs,
                rms,
                threshold=cfg.vad_threshold,
                min_speech_s=cfg.min_speech_s,
                min_silence_s=cfg.min_silence_s,
                duration_s=duration,
                ids=ids,
            )
            if cfg.channels is None and cfg.detect_agent and audio.shape[0] == 2:
                agent, why = guess_agent_channel(turns, ids)
                if agent == 1:
                    ids = ids[::-1]
                    roles = list(ids)
                    turns = Turns(
                        [
                            ({"agent": "customer", "customer": "agent"}[s], g)
                            for s, g in turns.turns
                        ],
                        turns.overlaps,
                    )
                notes.append(f"agent channel guessed: {why} (override with --channels)")
            speakers = [
                Speaker(ids[ch], roles[ch] if roles else None, ch, source="channel")
                for ch in range(audio.shape[0])
            ]
            source_of = {ids[ch]: ch for ch in range(audio.shape[0])}
        else:
            mono = audio.mean(axis=0) if audio.shape[0] > 1 else audio[0]
            sources = mono[None, :]
            p = self.vad.probabilities(mono)
            mark("voice")
            speech = speech_segments(
                p,
                threshold=cfg.vad_threshold,
                min_speech_s=cfg.min_speech_s,
                min_silence_s=cfg.min_silence_s,
                duration_s=duration,
            )
            turns = diarize(
                mono,
                speech,
                self.speaker_encoder,
                num_speakers=cfg.num_speakers,
                max_speakers=cfg.max_speakers,
            )
            speakers = [Speaker(s, None, None, source="diarization") for s in turns.speakers]
            if cfg.channels and len(cfg.channels) >= len(speakers):
                notes.append("role names ignored: the audio is not channel-separated")
            source_of = {s.id: 0 for s in speakers}
        talk = {s.id: sum(g.duration for g in turns.of(s.id)) for s in speakers}
        speakers = [Speaker(s.id, s.role, s.channel, None, talk[s.id], s.source) for s in speakers]
        mark("speakers")
        if not turns.turns:
            notes.append("no speech was found in the recording")

        # ---- prosody -----------------------------------------------------------------------
        frames = {
            ch: pros.analyze_frames(
                sources[ch],
                sr=sr,
                speech=[g for s, g in turns.turns if source_of[s] == ch],
            )
            for ch in sorted(set(source_of.values()))
        }
        turn_feats: dict[str, list[dict]] = {}
        turn_z: dict[str, list[dict]] = {}
        for spk in talk:
            segs = turns.of(spk)
            feats = [pros.turn_features(frames[source_of[spk]], g, speech=segs) for g in segs]
            turn_feats[spk], turn_z[spk] = feats, pros.speaker_zscores(feats)
        mark("prosody")

        # ---- speech emotion: score each speaker's speech once, in pieces -------------------
        pieces: list[tuple[str, Segment]] = []
        for spk, seg in turns.turns:
            pieces.extend((spk, p) for p in _cut(seg, SER_PIECE_S, SER_MIN_PIECE_S))
        piece_scores = None
        if self.ser is not None and pieces:
            waves = [
                sources[source_of[spk]][int(p.start * sr) : int(p.end * sr)] for spk, p in pieces
            ]
            piece_scores = self.ser.predict(waves, groups=[spk for spk, _ in pieces])
        mark("speech emotion")

        # ---- words (optional): transcripts, complaint and empathy phrases, sentiment --------
        turn_text: dict[str, list[dict | None]] = {spk: [None] * len(turns.of(spk)) for spk in talk}
        if cfg.transcribe and turns.turns:
            from .text import text_evidence

            for spk in talk:
                segs = turns.of(spk)
                texts = self.transcriber.transcribe(sources[source_of[spk]], segs)
                for k, tt in enumerate(texts):
                    if tt.text.strip():
                        turn_text[spk][k] = text_evidence(tt.text) | {
                            "text": tt.text.strip(),
                            "asr_confidence": tt.confidence,
                        }
            notes.append(
                "words: English speech recognition (Whisper tiny.en); "
                "read transcripts as approximate"
            )
        mark("words")

        # ---- faces -------------------------------------------------------------------------
        timeline, track_speaker = None, {}
        if info.has_video and cfg.video:
            face = self.face_analyzer()
            total = int(duration * cfg.fps) + 1

            def face_progress(step: str, done: int, total_frames: int) -> None:
                report("video frames", done, total_frames)

            timeline = face.analyze(
                iter_video_frames(path, fps=cfg.fps, max_side=cfg.max_video_side),
                total=total,
                progress=face_progress,
            )
            from .video import assign_tracks_to_speakers

            track_speaker = assign_tracks_to_speakers(
                timeline, {s.id: turns.of(s.id) for s in speakers}
            )
            speakers = [
                Speaker(
                    s.id,
                    s.role,
                    s.channel,
                    next((t for t, sp in track_speaker.items() if sp == s.id), None),
                    s.talk_time_s,
                    s.source,
                )
                for s in speakers
            ]
            if not timeline.has_face.any():
                notes.append("no face was found in the video")
        elif info.has_video:
            notes.append("video not analysed (video analysis switched off)")
        mark("faces")

        # ---- fusion ------------------------------------------------------------------------
        overlaps = SegmentIndex(turns.overlaps)
        segments: list[EmotionSegment] = []
        for spk in talk:
            own = SegmentIndex(turns.of(spk))
            mine = [i for i, (s, _) in enumerate(pieces) if s == spk]
            src = _Sources(
                own=own,
                overlaps=overlaps,
                pieces=SegmentIndex([pieces[i][1] for i in mine]),
                rows=np.array(mine, dtype=int),
                scores=piece_scores,
                timeline=timeline,
                tracks=[t for t, sp in track_speaker.items() if sp == spk],
                feats=turn_feats[spk],
                zs=turn_z[spk],
                texts=turn_text[spk],
            )
            for k, seg in enumerate(own.segments):
                evidence = self._evidence(seg, src, k)
                segments.append(_segment("turn", seg, spk, evidence, overlaps, speech=True))
            segments.extend(self._grid(spk, src, duration, cfg))
        segments.sort(key=lambda s: (s.kind != "turn", s.start, s.speaker))
        mark("fusion")

        # ---- events and summary ------------------------------------------------------------
        quiet = silences([g for _, g in turns.turns], duration, min_s=cfg.long_silence_s)
        events = ev.detect_silences(quiet, min_s=cfg.long_silence_s, turns=turns.turns)
        events += ev.detect_overtalk(turns.turns, min_cut_s=cfg.interruption_min_s)
        if not split:  # one channel: cut-ins are only visible as estimated overlap at a change
            events += ev.detect_mixed_cut_ins(
                turns.turns, turns.overlaps, min_cut_s=cfg.interruption_min_s * 0.5
            )
        events += ev.detect_rate_spikes([s for s in segments if s.kind == "turn"])
        if cfg.transcribe:
            events += ev.detect_repeated_complaints(
                [s for s in segments if s.kind == "turn"], window_s=cfg.complaint_window_s
            )
        for spk in talk:
            windows = [s for s in segments if s.kind == "window" and s.speaker == spk]
            events += ev.detect_shifts(
                windows, speaker=spk, min_shift_s=cfg.min_shift_s, threshold=cfg.shift_threshold
            )
        events.sort(key=lambda e: (e.start, e.kind))
        summary = {
            spk: ev.summarize(
                spk,
                [s for s in segments if s.kind == "turn" and s.speaker == spk],
                [s for s in segments if s.kind == "window" and s.speaker == spk],
                duration,
                events,
            )
            for spk in talk
        }
        faces = []
        if timeline is not None:
            faces = [FaceFrame(**row) for row in timeline.rows(track_speaker)]
        mark("events")
        if self.ser is None:
            notes.append("speech emotion: prosodic arousal only (no speech emotion model)")
        return AnalysisResult(
            media=info,
            speakers=speakers,
            segments=segments,
            events=events,
            turns=turns.turns,
            faces=faces,
            summary=summary,
            notes=notes,
            models={
                "ser": getattr(self.ser, "name", None),
                "fer": getattr(self.fer, "name", None) if info.has_video and cfg.video else None,
                "vad": "silero-vad (onnx)",
                "speakers": "channels" if split else "resemblyzer GE2E + agglomerative",
            },
            config=cfg.to_dict(),
            timings=timings,
        )

    # -------------------------------------------------------------------------------------
    def _split_channels(self, audio: np.ndarray, cfg: AnalysisConfig) -> bool:
        if audio.shape[0] < 2:
            return False
        if cfg.split_channels is not None:
            return cfg.split_channels
        a, b = audio[0], audio[1]
        if np.allclose(a, b, atol=1e-4):
            return False
        corr = float(np.corrcoef(a[::4], b[::4])[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0
        return not corr > SAME_CHANNEL_CORR

    def _channel_roles(self, n, cfg, probs, duration):
        if cfg.channels:
            names = list(cfg.channels)[:n]
            names += [f"ch{i}" for i in range(len(names), n)]
            if len(set(names)) != len(names):
                raise ValueError(f"channel roles must be distinct, got {names}")
            return names, names, "given"
        if n == 2 and cfg.detect_agent:
            return ["agent", "customer"], ["agent", "customer"], "guessed"
        return [f"ch{i}" for i in range(n)], None, "none"

    def _evidence(self, seg: Segment, src: _Sources, turn: int | None) -> list[Evidence]:
        """Evidence of every modality for one speaker over ``seg``.

        turn: index of the speaker's turn whose prosody and words apply (None: none does).
        """
        own, overlaps, scores, timeline, tracks = (
            src.own, src.overlaps, src.scores, src.timeline, src.tracks
        )  # fmt: skip
        prosody = words = None
        if turn is not None:
            prosody = {"features": src.feats[turn], "z": src.zs[turn]}
            words = src.texts[turn]
        out: list[Evidence] = []
        speech_s = own.total(seg)
        coverage = min(1.0, speech_s / max(seg.duration, 1e-6))
        overlap_s = overlaps.total(seg)
        overlap_share = overlap_s / max(speech_s, 1e-6) if speech_s else 0.0
        if scores is not None and speech_s > 0 and len(src.pieces):
            shared = src.pieces.overlaps(seg)
            hit = shared > 0
            if hit.any():
                idx = src.rows[hit]
                w = shared[hit] * scores.confidence[idx] + 1e-6
                probs = (w[:, None] * scores.probs[idx]).sum(axis=0) / w.sum()
                val, aro = derive_valence_arousal(probs)
                conf = float(np.average(scores.confidence[idx], weights=w))
                conf *= min(1.0, coverage * 1.5) * (1.0 - 0.5 * min(1.0, overlap_share))
                out.append(
                    Evidence(
                        "voice",
                        conf,
                        probs,
                        float(aro),
                        float(val),
                        {"pieces": int(hit.sum()), "speech_s": speech_s},
                    )
                )
        if prosody is not None and speech_s > 0:
            aro = pros.prosodic_arousal(prosody["z"])
            conf = 0.6 * min(1.0, coverage * 1.5) * min(1.0, speech_s / 1.0)
            z = {k[2:]: v for k, v in prosody["z"].items()}
            out.append(
                Evidence(
                    "prosody", conf, None, aro, None, {"features": prosody["features"], "z": z}
                )
            )
        if words is not None and speech_s > 0:
            valence = words["valence"]
            if words["complaints"]:
                valence = min(valence, COMPLAINT_VALENCE)
            conf = float(words["asr_confidence"]) * min(1.0, coverage * 1.5)
            details = {k: words[k] for k in ("text", "language", "complaints", "empathy")}
            out.append(Evidence("text", conf, None, None, valence, details))
        if timeline is not None and tracks:
            best = timeline.evidence(tracks, seg)
            if best is not None:
                conf = best["confidence"] * best["coverage"]
                probs = None
                if best["probs"] is not None:
                    probs = np.array([best["probs"][k] for k in LABELS])
                details = {
                    "tracks": best["tracks"],
                    "coverage": best["coverage"],
                    "quality": best["quality"],
                    "cues": best["cues"],
                    "cues_rel": best["cues_rel"],
                }
                out.append(Evidence("face", conf, probs, best["arousal"], best["valence"], details))
        return out

    def _grid(
        self, spk: str, src: _Sources, duration: float, cfg: AnalysisConfig
    ) -> list[EmotionSegment]:
        """The fixed grid for one speaker: windows of ``window_s`` every ``hop_s``, smoothed."""
        starts = np.arange(0.0, max(duration - cfg.window_s, 0.0) + 1e-9, cfg.hop_s)
        if len(starts) == 0:
            starts = np.array([0.0])
        rows = []
        for s in starts:
            seg = Segment(float(s), float(min(duration, s + cfg.window_s)))
            # Prosody and words of a window: those of the turn it overlaps most.
            shared = src.own.overlaps(seg)
            best = int(np.argmax(shared)) if len(src.own) and shared.max() > 0 else None
            evidence = self._evidence(seg, src, best)
            speech = bool(shared.sum() >= min(0.3, seg.duration / 2))
            rows.append((seg, evidence, speech))
        fused = [fuse(e) for _, e, _ in rows]
        times = np.array([seg.middle for seg, _, _ in rows])
        probs = np.array(
            [f.probs if f.probs is not None else np.full(len(LABELS), np.nan) for f in fused]
        )
        values = np.array(
            [
                [
                    np.nan if f.arousal is None else f.arousal,
                    np.nan if f.valence is None else f.valence,
                ]
                for f in fused
            ]
        )
        conf = np.array([f.confidence for f in fused])
        probs_s, values_s = smooth_series(times, probs, values, conf, half_life_s=cfg.smoothing_s)
        out = []
        for i, ((seg, evidence, speech), f) in enumerate(zip(rows, fused)):
            p = None if not np.isfinite(probs_s[i]).all() else probs_s[i]
            a = None if not np.isfinite(values_s[i, 0]) else float(values_s[i, 0])
            v = None if not np.isfinite(values_s[i, 1]) else float(values_s[i, 1])
            out.append(
                _make_segment("window", seg, spk, evidence, f, p, a, v, src.overlaps, speech)
            )
        return out


@dataclass(frozen=True)
class _Sources:
    """Everything fusion reads about one speaker: turns, overlaps, scored speech pieces, faces,
    and per-turn prosody and words."""

    own: SegmentIndex  # the speaker's turns
    overlaps: SegmentIndex  # stretches where two speak at once
    pieces: SegmentIndex  # the speaker's speech pieces scored by the speech model
    rows: np.ndarray  # [pieces] row of each piece in ``scores``
    scores: EmotionScores | None
    timeline: object | None  # video.FaceTimeline
    tracks: list[int]  # face tracks matched to the speaker
    feats: list[dict]  # per turn: prosodic features
    zs: list[dict]  # per turn: their speaker z-scores
    texts: list[dict | None]  # per turn: words evidence (None without transcription)


def _segment(kind, seg, spk, evidence, overlaps, *, speech) -> EmotionSegment:
    f = fuse(evidence)
    return _make_segment(
        kind, seg, spk, evidence, f, f.probs, f.arousal, f.valence, overlaps, speech
    )


def _make_segment(kind, seg, spk, evidence, f, probs, arousal, valence, overlaps, speech):
    modalities = {e.modality: e.to_dict(f.weights.get(e.modality, 0.0)) for e in evidence}
    return EmotionSegment(
        kind=kind,
        segment=seg,
        speaker=spk,
        emotion=None if probs is None else LABELS[int(np.argmax(probs))],
        probs={} if probs is None else {k: float(p) for k, p in zip(LABELS, probs)},
        arousal=arousal,
        valence=valence,
        confidence=f.confidence,
        modalities=modalities,
        overlap=bool(speech and overlaps.total(seg) > 0),
        speech=speech,
    )


def _cut(seg: Segment, piece_s: float, min_s: float) -> list[Segment]:
    """Split a turn into near-equal pieces of about ``piece_s`` seconds."""
    n = max(1, int(round(seg.duration / piece_s)))
    if seg.duration / n < min_s:
        n = 1
    edges = np.linspace(seg.start, seg.end, n + 1)
    return [Segment(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


def _hop_levels(audio: np.ndarray) -> np.ndarray:
    """RMS level in dB per VAD hop (512 samples) for each channel: [channels, hops]."""
    n = int(np.ceil(audio.shape[1] / VAD_CHUNK))
    padded = np.zeros((audio.shape[0], n * VAD_CHUNK), dtype=np.float32)
    padded[:, : audio.shape[1]] = audio
    power = np.mean(padded.reshape(audio.shape[0], n, VAD_CHUNK) ** 2, axis=2)
    return 10 * np.log10(power + 1e-10)


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
