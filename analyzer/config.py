"""All analysis options in one frozen dataclass, passed explicitly to every stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class AnalysisConfig:
    """Options for one analysis. Every field has a default that suits phone and video calls."""

    sample_rate: int = 16000  # Hz; all audio is resampled to this before any stage
    channels: tuple[str, ...] | None = None  # roles per stereo channel, e.g. ("agent", "customer")
    split_channels: bool | None = None  # one speaker per channel; None: auto (distinct channels)
    detect_agent: bool = True  # guess which channel is the agent when roles are not given
    num_speakers: int | None = None  # mono diarization: None estimates 1..max_speakers
    max_speakers: int = 4  # upper bound when estimating the number of speakers
    video: bool = True  # analyse the video stream when there is one
    fps: float = 5.0  # video analysis rate, frames per second
    max_video_side: int = 640  # px; frames are downscaled so the longer side is at most this
    vad_threshold: float = 0.5  # silero speech probability above which a frame is speech
    min_speech_s: float = 0.25  # speech runs shorter than this are dropped, seconds
    min_silence_s: float = 0.3  # gaps shorter than this are bridged inside a turn, seconds
    window_s: float = 3.0  # length of the fixed analysis grid's windows, seconds
    hop_s: float = 0.5  # hop of the fixed analysis grid, seconds (at most 0.5 by contract)
    long_silence_s: float = 5.0  # silences longer than this become events, seconds
    min_shift_s: float = 6.0  # an escalation must hold at least this long, seconds
    shift_threshold: float = 0.35  # arousal/valence change that counts as a shift (scale [-1, 1])
    interruption_min_s: float = 0.3  # overlap needed before a cut-in counts, seconds
    ser_model: str | None = "default"  # speech emotion model name/path; None: prosody only
    fer_model: str | None = "default"  # facial emotion model name/path; None: cues only
    ser_threads: int = 2  # CPU threads of the speech encoder (it runs alone in its stage)
    smoothing_s: float = 1.5  # half-life of the temporal smoothing of fused scores, seconds
    transcribe: bool = False  # words modality: English ASR + phrase/sentiment cues (slow: ~0.3 RTF)
    complaint_window_s: float = 300.0  # complaints by one speaker this close count as repeated
    extras: dict = field(default_factory=dict, compare=False)  # free-form, stored with the result

    def __post_init__(self) -> None:
        if not 0 < self.hop_s <= 0.5:
            raise ValueError("hop_s must be in (0, 0.5] seconds")
        if not 0 < self.fps <= 30:
            raise ValueError("fps must be in (0, 30]")
        if self.num_speakers is not None and not 1 <= self.num_speakers <= 8:
            raise ValueError("num_speakers must be between 1 and 8")

    def replace(self, **changes) -> AnalysisConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels) if self.channels else None
        return data
