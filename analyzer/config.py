"""All analysis options in one frozen dataclass, passed explicitly to every stage.

Each field carries its one-line help and, for options offered on the command line, the flag and
how its text is parsed (``option_specs``); the CLI and the review app build their controls from
these, so every default is written once, here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

SAMPLE_RATE = 16000  # Hz; all audio is resampled to this before any stage (the models' rate)
MAX_VIDEO_SIDE_PX = 640  # px; video frames are downscaled so the longer side is at most this
MAX_FPS = 30.0  # frames per second; the highest video analysis rate


def _count(value: str, most: int, takes: str) -> int:
    """``value`` as a whole number from 1 to ``most``, else argparse's error saying what the
    option ``takes``."""
    import argparse  # only the command line parses options from text

    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= most:
        raise argparse.ArgumentTypeError(takes)
    return n


def _speakers(value: str) -> int | None:
    return None if value == "auto" else _count(value, 8, "--speakers takes 'auto' or a number 1-8")


def _min_speakers(value: str) -> int:
    return _count(value, 4, "--min-speakers takes a number 1-4")


def _channels(value: str) -> tuple[str, ...]:
    import argparse

    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError("--channels takes distinct names, e.g. agent,customer")
    return names


def _minutes(value: str) -> float | None:
    """``--max-minutes``: a positive number of minutes (stored as seconds) or 'none'."""
    import argparse

    if value.strip().lower() in ("none", "0", "off"):
        return None
    try:
        minutes = float(value)
    except ValueError:
        minutes = math.nan
    if not (math.isfinite(minutes) and minutes > 0):
        raise argparse.ArgumentTypeError("--max-minutes takes a positive number of minutes")
    return minutes * 60.0


def _fps(value: str) -> float:
    import argparse

    try:
        fps = float(value)
    except ValueError:
        fps = math.nan
    if not 0 < fps <= MAX_FPS:
        raise argparse.ArgumentTypeError(
            f"--fps takes a rate in (0, {MAX_FPS:g}] frames per second"
        )
    return fps


def _model_name(value: str) -> str | None:
    return None if value == "none" else value


@dataclass(frozen=True)
class FaceConfig:
    """Options of the face stage."""

    max_faces: int = 9  # most faces looked for per frame (a 3x3 gallery view; at most 16)
    min_detection_confidence: float = 0.5  # FaceMesh's face detector threshold
    min_tracking_confidence: float = 0.5  # FaceMesh's landmark tracking threshold
    static_images: bool = False  # detect afresh in every frame (unrelated images; slower)
    gallery: bool = True  # no face in the whole frame: search 2x2 and 3x3 tiles (gallery views)
    max_gap_s: float = 1.0  # a face track unseen for longer than this ends, seconds
    min_iou: float = 0.2  # landmark-box overlap at or above which a face continues a track
    max_shift: float = 0.6  # centre shift, in face sizes, up to which a face continues a track
    smoothing_s: float = 1.0  # half-life of the per-track smoothing of expression scores, s
    batch_size: int = 256  # aligned crops per expression-model call
    crop_size: int | None = None  # px side of aligned crops; None: model.input_size or align's

    def __post_init__(self) -> None:
        if not 1 <= self.max_faces <= 16:
            raise ValueError("max_faces must be between 1 and 16")
        if self.max_gap_s < 0 or self.smoothing_s < 0:
            raise ValueError("max_gap_s and smoothing_s must not be negative")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


@dataclass(frozen=True)
class OptionSpec:
    """How one config field is offered to users (command line, app)."""

    name: str  # the AnalysisConfig field
    flag: str  # command-line flag, e.g. "--fps"
    default: Any  # the field's default
    help: str  # one line for --help and the app's tooltip
    parse: Callable[[str], Any] | None = None  # text -> value, for flags that take a value
    switch: Any = None  # for flags without a value: the field's value when the flag is given
    metavar: str | None = None

    @property
    def takes_value(self) -> bool:
        return self.parse is not None


def _option(
    default: Any,
    *,
    flag: str | None = None,
    help: str = "",
    parse: Callable[[str], Any] | None = None,
    switch: Any = None,
    metavar: str | None = None,
) -> Any:
    """A dataclass field whose metadata describes its command-line flag (None: not offered)."""
    meta = {"flag": flag, "help": help, "parse": parse, "switch": switch, "metavar": metavar}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class AnalysisConfig:
    """Options for one analysis. Every field has a default that suits phone and video calls."""

    # roles per stereo channel, e.g. ("agent", "customer")
    channels: tuple[str, ...] | None = _option(
        None, flag="--channels", parse=_channels, help="roles per channel, e.g. agent,customer"
    )
    # one speaker per channel; None: auto (distinct channels)
    split_channels: bool | None = _option(
        None, flag="--mono", switch=False, help="mix channels and diarize instead"
    )
    detect_agent: bool = True  # guess which channel is the agent when roles are not given
    # mono diarization: None estimates 1..max_speakers
    num_speakers: int | None = _option(
        None, flag="--speakers", parse=_speakers, metavar="N", help="auto (default) or N"
    )
    max_speakers: int = 4  # upper bound when estimating the number of speakers
    # lower bound when estimating: 2 where every mixed recording is a conversation (a call),
    # so two similar voices are never merged into one
    min_speakers: int = _option(
        1, flag="--min-speakers", parse=_min_speakers, metavar="N",
        help="fewest voices when estimating (default 1; 2 for calls)",
    )  # fmt: skip
    # a mixed recording through an 8 kHz channel with a minute of speech or more is a phone
    # call, so a conversation: estimated with at least two voices unless the user gives a count
    # (attribution.PHONE_MIN_SPEECH_S; one gender's voices on a phone line are heard as one)
    phone_conversation: bool = _option(
        True,
        flag="--phone-one-voice",
        switch=False,
        help="let a long telephone recording be counted as one voice",
    )
    video: bool = _option(True, flag="--no-video", switch=False, help="skip the video stream")
    # on a mixed video call, faces seen talking anchor the diarizer's voices (video/talking.py)
    face_voices: bool = _option(
        True,
        flag="--no-face-voices",
        switch=False,
        help="diarize mixed video calls by their audio alone (faces are still linked to voices)",
    )
    # video analysis rate, frames per second
    fps: float = _option(5.0, flag="--fps", parse=_fps, help="video analysis rate")
    # longest recording analysed, seconds (enforced while decoding); None: no limit
    max_duration_s: float | None = _option(
        None,
        flag="--max-minutes",
        parse=_minutes,
        metavar="MIN",
        help="refuse recordings longer than this many minutes, checked while decoding "
        "(default: no limit)",
    )
    max_video_side: int = MAX_VIDEO_SIDE_PX  # px; frames are downscaled so the longer side fits
    vad_threshold: float = 0.5  # silero speech probability above which a frame is speech
    min_speech_s: float = 0.25  # speech runs shorter than this are dropped, seconds
    min_silence_s: float = 0.3  # gaps shorter than this are bridged inside a turn, seconds
    window_s: float = 3.0  # length of the fixed analysis grid's windows, seconds
    hop_s: float = 0.5  # hop of the fixed analysis grid, seconds (at most 0.5 by contract)
    long_silence_s: float = 5.0  # silences longer than this become events, seconds
    # An escalation's new level must hold over this much speech, seconds, and differ from the
    # speaker's baseline by this much tension, (arousal - valence) / 2 on [-1, 1]; the defaults
    # are coaching.dynamics.SUSTAIN_S and RISE (tests/test_coaching_events.py checks).
    min_shift_s: float = 4.0
    shift_threshold: float = 0.3
    interruption_min_s: float = 0.3  # overlap needed before a cut-in counts, seconds
    # speech emotion model name/path; None: prosody only
    ser_model: str | None = _option(
        "default", flag="--ser-model", parse=_model_name, help="speech emotion model name or path"
    )
    # facial emotion model name/path; None: cues only
    fer_model: str | None = _option(
        "default", flag="--fer-model", parse=_model_name, help="facial emotion model name or path"
    )
    ser_threads: int = 2  # CPU threads of the speech encoder and voice activity models
    smoothing_s: float = 1.5  # half-life of the temporal smoothing of fused scores, seconds
    # words modality: English ASR + phrase/sentiment cues (slow: ~0.3 RTF)
    transcribe: bool = _option(
        False,
        flag="--transcribe",
        switch=True,
        help="add the words modality (English ASR, complaint/empathy phrases; slower)",
    )
    complaint_window_s: float = 300.0  # complaints by one speaker this close count as repeated
    # an imported transcript (SRT, WebVTT, JSON segments, Whisper or Amazon Transcribe JSON): a
    # file, or a folder where call.wav finds call.srt|.vtt|.json; replaces the built-in ASR
    transcript: str | None = _option(
        None,
        flag="--transcript",
        parse=str,
        metavar="PATH",
        help="transcript file, or folder of <call name>.srt|.vtt|.json, for the words modality",
    )
    # a team's own phrase lexicons: a folder of TOML files replacing or extending the built-in
    # complaint, empathy and greeting lists (see analyzer/words/lexicons/)
    lexicons: str | None = _option(
        None,
        flag="--lexicons",
        parse=str,
        metavar="DIR",
        help="folder of the team's phrase lexicons (TOML) for the words modality",
    )
    # replace personal data (cards, phones, e-mail, IDs, accounts, birth dates, addresses, names)
    # by typed placeholders in every text the analysis keeps: evidence, transcript, exports
    redact: bool = _option(
        False,
        flag="--redact",
        switch=True,
        help="redact personal data in the words ([CARD], [PHONE], ...) everywhere they go",
    )
    face: FaceConfig = field(default_factory=FaceConfig)  # options of the face stage
    # calls longer than this many seconds are decoded to a temporary file and their voice,
    # speaker and prosody stages run chunk by chunk (memory flat in call length); shorter calls
    # are analysed in memory in one piece. Rounded down to whole 20 s voice-activity streams.
    chunk_s: float = 600.0
    # folder of the long calls' temporary audio files (unnamed: nothing stays there, even when
    # the analysis is killed); None: $TMPDIR, else the system's temporary folder
    temp_dir: str | None = _option(
        None,
        flag="--temp-dir",
        parse=str,
        metavar="DIR",
        help="folder for the temporary decoded audio of long calls (default: $TMPDIR)",
    )

    def __post_init__(self) -> None:
        if not 0 < self.hop_s <= 0.5:
            raise ValueError("hop_s must be in (0, 0.5] seconds")
        if not 0 < self.fps <= MAX_FPS:
            raise ValueError(f"fps must be in (0, {MAX_FPS:g}]")
        if self.max_duration_s is not None and not self.max_duration_s > 0:
            raise ValueError("max_duration_s must be positive (or None: no limit)")
        if self.num_speakers is not None and not 1 <= self.num_speakers <= 8:
            raise ValueError("num_speakers must be between 1 and 8")
        if not 1 <= self.min_speakers <= self.max_speakers:
            raise ValueError(
                f"min_speakers must be between 1 and max_speakers ({self.max_speakers})"
            )
        if not self.chunk_s >= 60.0:
            raise ValueError("chunk_s must be at least 60 seconds")

    @property
    def sample_rate(self) -> int:
        """Hz; fixed (``SAMPLE_RATE``): the models were trained at this rate."""
        return SAMPLE_RATE

    def replace(self, **changes: Any) -> AnalysisConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The options as stored with a result. Keys as in schema 1.0: ``sample_rate`` (fixed)
        first, ``extras`` (no longer an option) kept empty, the face options not included."""
        data = {"sample_rate": SAMPLE_RATE, **asdict(self)}
        data.pop("face")
        data.pop("max_duration_s")  # an admission limit, not an analysis option: not stored
        data.pop("chunk_s")  # memory use, not results, for calls shorter than a chunk
        data.pop("temp_dir")  # where temporary files go: not stored
        data["channels"] = list(self.channels) if self.channels else None
        data["extras"] = {}
        return data


def option_specs() -> list[OptionSpec]:
    """The options offered to users, in field order: flag, default, help and parser of each.

    The CLI builds its ``analyze`` flags from these; the app reads defaults and help from them.
    """
    specs = []
    for f in fields(AnalysisConfig):
        meta = f.metadata
        if not meta.get("flag"):
            continue
        specs.append(
            OptionSpec(
                name=f.name,
                flag=meta["flag"],
                default=f.default,
                help=meta["help"],
                parse=meta["parse"],
                switch=meta["switch"],
                metavar=meta["metavar"],
            )
        )
    return specs


def option_default(name: str) -> Any:
    """The default of one AnalysisConfig field (e.g. ``option_default("fps")`` -> 5.0)."""
    if name not in {f.name for f in fields(AnalysisConfig)}:
        raise KeyError(name)
    return getattr(AnalysisConfig(), name)


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add one flag per ``option_specs`` entry to ``parser`` (dest = the field name)."""
    for spec in option_specs():
        if spec.parse is not None:
            text = spec.help
            if isinstance(spec.default, float):
                text += f" (default {spec.default:g})"
            parser.add_argument(
                spec.flag,
                dest=spec.name,
                type=spec.parse,
                default=spec.default,
                metavar=spec.metavar,
                help=text,
            )
        else:
            parser.add_argument(
                spec.flag,
                dest=spec.name,
                action="store_const",
                const=spec.switch,
                default=spec.default,
                help=spec.help,
            )


def config_from_args(
    args: argparse.Namespace, base: AnalysisConfig | None = None
) -> AnalysisConfig:
    """The config that parsed ``add_options`` flags describe (other fields from ``base``)."""
    changes = {s.name: getattr(args, s.name) for s in option_specs() if hasattr(args, s.name)}
    return (base or AnalysisConfig()).replace(**changes)
