"""Media input through PyAV (which bundles FFmpeg): probe, decode audio, stream video frames.

Audio comes back as 16 kHz float32 per channel; video frames are streamed at the analysis rate
with their timestamps, so a long video is never held in memory at once.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import MAX_VIDEO_SIDE_PX, SAMPLE_RATE
from .diskaudio import DiskAudio
from .notes import Note
from .segment import TimeGrid
from .wavheader import wav_claim as _wav_claim
from .wavheader import wav_data as _wav_data

MIN_SAMPLE_RATE = 4000  # Hz; below this a stream cannot hold speech (a lying header, e.g. 1 Hz)
LIMIT_MARGIN_S = 5.0  # s decoded past ``max_duration_s`` before a file counts as too long
MIN_BYTES_PER_S = 1000  # the lowest bit rate assumed when sizing the decode buffer (8 kbit/s)
MAX_BAD_PACKETS = 50  # damaged packets skipped before a stream counts as corrupt
TRUNCATION_TOLERANCE_S = 0.5  # s; a file this much shorter than its header counts as truncated
TRUNCATION_TOLERANCE = 0.02  # ... or this share of the claimed duration, whichever is larger
TINY_FILE_BYTES = 64  # files this small that FFmpeg refuses are named as too small
FLOAT_FORMATS = frozenset({"flt", "fltp", "dbl", "dblp"})  # sample formats that can hold NaN
SPILL_WRITE_SAMPLES = 1 << 16  # samples per channel gathered before a write to disk (4 s)


class MediaError(ValueError):
    """The input cannot be analysed; the message says why in one line.

    ``str(error)`` is ``"<file name>: <cause>"`` (the name only, never a folder, so a server's
    temporary paths do not leak); ``cause`` is the part after the name, ``code`` a stable
    identifier (``file_not_found``, ``too_long``...) and ``params`` its numbers and names, so a
    caller can print ``emotrace: <path as given>: <cause>`` or translate the message.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: str | None = None,
        code: str = "unreadable_media",
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause if cause is not None else message
        self.code = code
        self.params = dict(params or {})


def _fail(name: str, cause: str, code: str, **params: Any) -> MediaError:
    """A MediaError ``"<name>: <cause>"`` with its code and params (the file name included)."""
    return MediaError(f"{name}: {cause}", cause=cause, code=code, params={"file": name, **params})


@dataclass(frozen=True)
class MediaInfo:
    """What the input file holds."""

    path: str
    duration_s: float
    has_video: bool
    has_audio: bool
    channels: int
    sample_rate: int  # Hz, of the original audio stream
    video_fps: float | None = None
    width: int | None = None
    height: int | None = None
    container: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": Path(self.path).name,
            "duration_s": round(float(self.duration_s), 3),
            "has_video": self.has_video,
            "has_audio": self.has_audio,
            "channels": self.channels,
            "sample_rate": self.sample_rate,
            "video_fps": _finite(self.video_fps, 3),
            "width": self.width,
            "height": self.height,
            "container": self.container,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MediaInfo:
        return cls(
            path=d["path"],
            duration_s=d["duration_s"],
            has_video=d["has_video"],
            has_audio=d.get("has_audio", True),
            channels=d["channels"],
            sample_rate=d["sample_rate"],
            video_fps=d.get("video_fps"),
            width=d.get("width"),
            height=d.get("height"),
            container=d.get("container"),
        )


def _finite(x: float | None, digits: int) -> float | None:
    """``x`` rounded, or None when it is missing or not finite (JSON has no NaN)."""
    return None if x is None or not math.isfinite(float(x)) else round(float(x), digits)


@dataclass(frozen=True)
class VideoFrame:
    """One decoded video frame: RGB uint8 [H, W, 3] at ``time`` seconds from the start."""

    time: float
    image: NDArray[np.uint8]


def check_file(path: str | os.PathLike[str]) -> int:
    """The size in bytes of the regular file ``path``; MediaError (one line) when it is missing,
    a broken link, a symlink loop, a folder, unreadable or empty."""
    p = Path(path)
    name = p.name or str(p)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise _stat_error(p, name, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(name, "is a folder, not a media file", "is_folder")
    if not stat.S_ISREG(st.st_mode):
        raise _fail(name, "is not a regular file", "not_regular_file")
    if st.st_size == 0:
        raise _fail(name, "file is empty (0 bytes)", "empty_file")
    if not os.access(p, os.R_OK):
        raise _fail(name, "permission denied", "permission_denied")
    return int(st.st_size)


def _stat_error(p: Path, name: str, exc: OSError) -> MediaError:
    if exc.errno == errno.ELOOP:
        return _fail(name, "symbolic link loop (too many levels of links)", "symlink_loop")
    if exc.errno == errno.ENOENT and p.is_symlink():
        return _fail(name, "broken symbolic link (its target does not exist)", "broken_link")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return _fail(name, "file not found", "file_not_found")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return _fail(name, "permission denied", "permission_denied")
    if exc.errno == errno.ENAMETOOLONG:
        return _fail(name[:80], "file name too long", "name_too_long")
    return _fail(name, f"cannot read ({_reason(exc)})", "unreadable_file")


def _open(path: str | os.PathLike[str], options: dict[str, str] | None = None) -> Any:
    import av

    p = Path(path)
    size = check_file(p)
    try:
        return av.open(str(p), metadata_errors="ignore", options=options or {})
    except av.error.FFmpegError as exc:
        reason = _reason(exc)
        if size < TINY_FILE_BYTES:
            reason = f"{reason}; only {size} bytes"
        raise _fail(
            p.name,
            f"not a readable audio or video file ({reason})",
            "unreadable_media",
            reason=reason,
        ) from exc
    except OSError as exc:
        raise _fail(p.name, f"cannot read ({_reason(exc)})", "unreadable_file") from exc


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip().lower() or type(exc).__name__


def probe_media(path: str | os.PathLike[str]) -> MediaInfo:
    """Read the container's header: streams, duration, channels, sample rate, frame size.

    The duration here is what the header claims; ``decode_audio`` measures the real one.
    """
    container = _open(path)
    try:
        audio = container.streams.audio[0] if container.streams.audio else None
        video = _video_stream(container)
        if audio is None and video is None:
            raise _fail(Path(path).name, "contains no audio or video stream", "no_streams")
        duration = _duration(container, audio, video)
        return MediaInfo(
            path=str(path),
            duration_s=duration,
            has_video=video is not None,
            has_audio=audio is not None,
            channels=int(audio.codec_context.channels) if audio is not None else 0,
            sample_rate=int(audio.codec_context.sample_rate or 0) if audio is not None else 0,
            video_fps=float(video.average_rate)
            if video is not None and video.average_rate
            else None,
            width=int(video.codec_context.width) if video is not None else None,
            height=int(video.codec_context.height) if video is not None else None,
            container=container.format.name,
        )
    finally:
        container.close()


def _video_stream(container: Any) -> Any:
    """The first real video stream (cover art in audio files is an attached picture, skipped)."""
    for stream in container.streams.video:
        if not stream.disposition & 0x400:  # AV_DISPOSITION_ATTACHED_PIC
            return stream
    return None


def _duration(container: Any, audio: Any, video: Any) -> float:
    """Seconds the header claims (0.0 when it says nothing)."""
    for stream in (audio, video):
        if stream is not None and stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / 1_000_000.0
    return 0.0


# ---- audio ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded audio track and what decoding it found out.

    samples: float32 [channels, n] in [-1, 1] at ``sample_rate``: an array, or a ``DiskAudio``
    when the call was longer than ``spill_after_s`` (the caller closes it).
    claimed_s: the duration the header claimed (None when it said nothing usable).
    notes: caveats for the result (``truncated_input``, ``nonfinite_samples``...).
    """

    samples: NDArray[np.float32] | DiskAudio
    sample_rate: int
    claimed_s: float | None
    notes: tuple[Note, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate


def _limit_minutes(limit_s: float) -> str:
    """``180``, ``0.5``, ``1000``: minutes without a misleading rounding to 0."""
    return f"{round(limit_s / 60, 2):g}"


def _too_long(name: str, limit_s: float, *, claimed_s: float | None = None) -> MediaError:
    limit = _limit_minutes(limit_s)
    if claimed_s is not None:
        cause = f"is {claimed_s / 60:.1f} min long; the limit is {limit} min"
    else:
        cause = f"is longer than the limit of {limit} min (decoding stopped there)"
    return _fail(name, cause, "too_long", limit_min=float(limit), claimed_s=claimed_s)


def _audio_stream(container: Any, name: str) -> Any:
    """The first audio stream, refusing a file without one or with a rate too low for speech."""
    if not container.streams.audio:
        raise _fail(name, "has no audio track", "no_audio_track")
    stream = container.streams.audio[0]
    rate = int(stream.codec_context.sample_rate or 0)
    if rate < MIN_SAMPLE_RATE:
        raise _fail(
            name,
            f"sample rate {rate} Hz is too low for speech (at least {MIN_SAMPLE_RATE} Hz)",
            "sample_rate_too_low",
            sample_rate=rate,
        )
    return stream


class _SampleBuffer:
    """One float32 [channels, n] buffer that grows when the header was short and refuses to
    fill past ``limit_n`` samples (MediaError ``too_long``). Past ``spill_n`` samples (a long
    call) the samples move to a ``DiskAudio`` in ``temp_dir`` and later frames are appended
    there, cleaned as they come (``_clean_block``), so memory stays flat in call length."""

    def __init__(
        self,
        name: str,
        channels: int,
        guess_n: int,
        limit_n: int | None,
        max_duration_s: float | None,
        spill_n: int | None = None,
        temp_dir: str | None = None,
    ) -> None:
        self.name = name
        self.channels = channels
        self.limit_n = limit_n
        self.max_duration_s = max_duration_s
        self.spill_n = spill_n
        self.temp_dir = temp_dir
        if spill_n is not None:
            guess_n = min(guess_n, spill_n + 1)
        self.data = np.zeros((channels, guess_n), dtype=np.float32)
        self.filled = 0
        self.disk: DiskAudio | None = None
        self.nonfinite_cleaned = 0  # non-finite samples replaced while spilling
        self._pending: list[NDArray[np.float32]] = []  # decoded blocks not yet on disk
        self._pending_n = 0

    def put(self, out: Any) -> None:
        """Append one resampled frame."""
        block = out.to_ndarray().reshape(self.channels, -1)
        n = block.shape[1]
        filled = self.filled
        if self.disk is not None:
            block = np.array(block, dtype=np.float32)  # cleaned in place: never the frame's
            self.nonfinite_cleaned += _clean_block(block)
            self._pending.append(block)
            self._pending_n += n
            if self._pending_n >= SPILL_WRITE_SAMPLES:
                self.flush()
        elif self.spill_n is not None and filled + n > self.spill_n:
            self._spill()
            self.put(out)
            return
        else:
            if filled + n > self.data.shape[1]:
                size = max(2 * self.data.shape[1], filled + n)
                grown = np.zeros((self.channels, size), np.float32)
                grown[:, :filled] = self.data[:, :filled]
                self.data = grown
            self.data[:, filled : filled + n] = block
        self.filled = filled + n
        if self.limit_n is not None and self.filled > self.limit_n:
            assert self.max_duration_s is not None
            raise _too_long(self.name, self.max_duration_s)

    def _spill(self) -> None:
        """Move what is buffered to a new DiskAudio and free the buffer."""
        self.disk = DiskAudio(self.channels, temp_dir=self.temp_dir)
        head = self.data[:, : self.filled]
        self.nonfinite_cleaned += _clean_block(head)
        self.disk.append(head)
        self.data = np.zeros((self.channels, 0), np.float32)

    def flush(self) -> None:
        """Write the pending blocks to disk (after the last frame, and every
        SPILL_WRITE_SAMPLES)."""
        if self.disk is not None and self._pending:
            self.disk.append(np.concatenate(self._pending, axis=1))
        self._pending, self._pending_n = [], 0

    def close(self) -> None:
        if self.disk is not None:
            self.disk.close()


def _clean_block(block: NDArray[np.float32]) -> int:
    """Replace NaN and infinite samples with 0 and clip to [-1, 1], in place (as
    ``_clean_samples``); the number replaced."""
    bad = ~np.isfinite(block)
    count = int(bad.sum())
    if count:
        block[bad] = 0.0
    np.clip(block, -1.0, 1.0, out=block)
    return count


def _new_buffer(
    name: str,
    channels: int,
    header_s: float,
    size: int,
    sample_rate: int,
    max_duration_s: float | None,
    spill_n: int | None = None,
    temp_dir: str | None = None,
) -> _SampleBuffer:
    """A buffer sized from the header, but never beyond what the file's size can hold at a low
    bit rate nor beyond the limit: a header that claims 4 GB costs nothing."""
    limit_n = None
    if max_duration_s is not None:
        limit_n = int((max_duration_s + LIMIT_MARGIN_S) * sample_rate)
    guess_s = min(header_s, size / MIN_BYTES_PER_S + 1.0)
    guess_n = int((guess_s + 1.0) * sample_rate)
    if limit_n is not None:
        guess_n = min(guess_n, limit_n + sample_rate)
    return _SampleBuffer(
        name, channels, max(guess_n, sample_rate), limit_n, max_duration_s, spill_n, temp_dir
    )


def _decode_packets(
    container: Any, stream: Any, resampler: Any, buffer: _SampleBuffer
) -> tuple[int, int]:
    """Decode, resample and buffer every packet of ``stream``; (bad packets, non-finite samples).

    A damaged packet loses its few ms, not the whole file, until there are too many of them.
    """
    import av

    bad_packets = 0
    nonfinite = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            bad_packets += 1  # a damaged packet loses its few ms, not the whole file
            if bad_packets > MAX_BAD_PACKETS:
                raise _fail(
                    buffer.name,
                    "audio stream is corrupt (too many bad packets)",
                    "corrupt_stream",
                ) from None
            continue
        for frame in frames:
            if frame.format.name in FLOAT_FORMATS:
                raw = frame.to_ndarray()
                nonfinite += int(raw.size - np.count_nonzero(np.isfinite(raw)))
            for out in resampler.resample(frame):
                buffer.put(out)
    for out in resampler.resample(None):
        buffer.put(out)
    return bad_packets, nonfinite


def _clean_samples(audio: NDArray[np.float32], nonfinite: int, name: str) -> list[Note]:
    """Replace NaN and infinite samples with 0 (note ``nonfinite_samples``), clip to [-1, 1]."""
    count = 0
    if nonfinite or not np.isfinite(audio).all():
        bad = ~np.isfinite(audio)
        audio[bad] = 0.0
        count = nonfinite or int(bad.sum())
    np.clip(audio, -1.0, 1.0, out=audio)
    return _nonfinite_note(count, name)


def _nonfinite_note(count: int, name: str) -> list[Note]:
    """The ``nonfinite_samples`` note when ``count`` samples were replaced, else none."""
    if not count:
        return []
    return [
        Note(
            "nonfinite_samples",
            f"{count} NaN or infinite samples in {name} were replaced with silence",
            file=name,
            count=count,
        )
    ]


def _length_notes(
    name: str, decoded_s: float, claimed: float | None, ignored_wav_s: float | None
) -> list[Note]:
    """``header_mismatch`` when a short WAV header was ignored, else ``truncated_input`` when
    the file ends well before its header's claim."""
    if ignored_wav_s is not None:
        return [
            Note(
                "header_mismatch",
                f"decoded {decoded_s:.1f} s to the end of {name}; "
                f"its header claimed {ignored_wav_s:.2f} s",
                file=name,
                decoded_s=round(decoded_s, 3),
                claimed_s=round(ignored_wav_s, 3),
            )
        ]
    if claimed is not None and claimed - decoded_s > max(
        TRUNCATION_TOLERANCE_S, TRUNCATION_TOLERANCE * claimed
    ):
        return [
            Note(
                "truncated_input",
                f"{name} ends early: decoded {decoded_s:.1f} s; the header claimed {claimed:.1f} s",
                file=name,
                decoded_s=round(decoded_s, 3),
                claimed_s=round(claimed, 3),
            )
        ]
    return []


def decode_audio(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = SAMPLE_RATE,
    max_duration_s: float | None = None,
    spill_after_s: float | None = None,
    temp_dir: str | None = None,
) -> DecodedAudio:
    """Decode every audio channel, resampled to ``sample_rate``, checking what the header says.

    The header is not trusted: memory is sized from the file, decoding stops at
    ``max_duration_s`` (plus ``LIMIT_MARGIN_S``) with a MediaError ``too_long`` whatever the
    header claims, a file shorter than its header is decoded as far as it goes (note
    ``truncated_input``), a WAV whose header claims less than the file holds is decoded to the
    end of the file (note ``header_mismatch``), NaN and infinite samples become 0 (note
    ``nonfinite_samples``). Raises MediaError for no audio track, nothing decodable or a sample
    rate below ``MIN_SAMPLE_RATE``.

    spill_after_s: a call longer than this many seconds is decoded into a ``DiskAudio``
    (unnamed temporary files in ``temp_dir``, default ``$TMPDIR``), which the caller closes;
    None: always in memory. Shorter calls come back as the same array either way.
    """
    import av

    p = Path(path)
    name = p.name
    size = check_file(p)
    claimed_wav, options = _wav_claim(_wav_data(p, size))
    container = _open(p, options)
    spill_n = None if spill_after_s is None else int(spill_after_s * sample_rate)
    buffer: _SampleBuffer | None = None
    try:
        stream = _audio_stream(container, name)
        header_s = claimed_wav if claimed_wav is not None else _duration(container, stream, None)
        if max_duration_s is not None and header_s > max_duration_s + LIMIT_MARGIN_S:
            raise _too_long(name, max_duration_s, claimed_s=header_s)
        channels = max(1, int(stream.codec_context.channels or 1))
        layout = {1: "mono", 2: "stereo"}.get(channels) or stream.codec_context.layout.name
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        buffer = _new_buffer(
            name, channels, header_s, size, sample_rate, max_duration_s, spill_n, temp_dir
        )
        bad_packets, nonfinite = _decode_packets(container, stream, resampler, buffer)
        buffer.flush()
    except av.error.FFmpegError as exc:
        if buffer is not None:
            buffer.close()
        raise _fail(
            name, f"audio could not be decoded ({_reason(exc)})", "undecodable_audio"
        ) from exc
    except MemoryError:
        if buffer is not None:
            buffer.close()
        raise _fail(name, "not enough memory to decode the audio", "out_of_memory") from None
    except BaseException:
        if buffer is not None:
            buffer.close()
        raise
    finally:
        container.close()
    if buffer.filled == 0:
        raise _fail(name, "audio track holds no decodable samples", "no_audio_samples")
    audio: NDArray[np.float32] | DiskAudio
    if buffer.disk is not None:
        audio = buffer.disk
        notes = _nonfinite_note(nonfinite or buffer.nonfinite_cleaned, name)
    else:
        audio = buffer.data[:, : buffer.filled]
        notes = _clean_samples(audio, nonfinite, name)
    decoded_s = buffer.filled / sample_rate
    claimed = header_s if header_s > 0 else None
    ignored_wav_s = claimed_wav if options.get("ignore_length") else None
    notes += _length_notes(name, decoded_s, claimed, ignored_wav_s)
    if bad_packets:
        notes.append(
            Note(
                "damaged_packets",
                f"{bad_packets} damaged audio packets in {name} were skipped",
                file=name,
                count=bad_packets,
            )
        )
    return DecodedAudio(audio, sample_rate, claimed, tuple(notes))


def load_audio(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = SAMPLE_RATE,
    max_duration_s: float | None = None,
) -> NDArray[np.float32]:
    """Decode every audio channel, resampled to ``sample_rate`` (see ``decode_audio``).

    Returns float32 [channels, samples] in [-1, 1]. Raises MediaError when there is no audio
    track or nothing decodes.
    """
    samples = decode_audio(path, sample_rate=sample_rate, max_duration_s=max_duration_s).samples
    assert isinstance(samples, np.ndarray)  # never spilled to disk without spill_after_s
    return samples


# ---- video ------------------------------------------------------------------------------------


def _rotation(frame: Any, stream: Any) -> int:
    """Quarter turns counter-clockwise that show ``frame`` upright (its display matrix, else
    the stream's ``rotate`` tag, which counts clockwise degrees)."""
    degrees: float = 0.0
    try:
        degrees = float(frame.rotation or 0.0)
    except (AttributeError, ValueError, TypeError):
        degrees = 0.0
    if not degrees:
        tag = (stream.metadata or {}).get("rotate")
        try:
            degrees = -float(tag) if tag else 0.0
        except ValueError:
            degrees = 0.0
    return int(round(degrees / 90.0)) % 4


def iter_video_frames(
    path: str | os.PathLike[str],
    *,
    fps: float,
    max_side: int = MAX_VIDEO_SIDE_PX,
    max_time_s: float | None = None,
) -> Iterator[VideoFrame]:
    """Yield RGB frames at about ``fps`` per second with their timestamps (seconds), upright.

    fps: the analysis rate (``AnalysisConfig.fps`` in the engine). max_time_s: frames after this
    time are not decoded (None: to the end).

    Frames are turned upright by the stream's display rotation (phone videos) and downscaled so
    that the longer side is at most ``max_side`` pixels. Damaged packets are skipped. One frame
    is in memory at a time.
    """
    import av

    container = _open(path)
    try:
        stream = _video_stream(container)
        if stream is None:
            return
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        scale = min(1.0, max_side / max(width, height, 1))
        out_w, out_h = max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)
        grid = TimeGrid(1.0 / fps)  # one analysed frame per grid step
        next_t = 0.0
        bad_packets = 0
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad_packets += 1
                if bad_packets > 2 * MAX_BAD_PACKETS:
                    raise _fail(
                        Path(path).name, "video stream is corrupt", "corrupt_stream"
                    ) from None
                continue
            for frame in frames:
                t = frame.time
                if t is None or t + 1e-6 < next_t:
                    continue
                if max_time_s is not None and t > max_time_s:
                    return
                next_t = grid.time(grid.index(t) + 1)
                image = frame.to_ndarray(format="rgb24", width=out_w, height=out_h)
                turns = _rotation(frame, stream)
                if turns:
                    image = np.ascontiguousarray(np.rot90(image, turns))
                yield VideoFrame(max(0.0, float(t)), image)
    finally:
        container.close()
