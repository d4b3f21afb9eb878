"""Media input through PyAV (which bundles FFmpeg): probe, decode audio, stream video frames.

Audio comes back as 16 kHz float32 per channel; video frames are streamed at the analysis rate
with their timestamps, so a long video is never held in memory at once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import MAX_VIDEO_SIDE_PX, SAMPLE_RATE
from .segment import TimeGrid


class MediaError(ValueError):
    """The input cannot be analysed; the message says why in one line."""


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

    def to_dict(self) -> dict:
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
    def from_dict(cls, d: dict) -> MediaInfo:
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
    image: np.ndarray


def _open(path: str | os.PathLike):
    import av

    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: file not found")
    if p.is_dir():
        raise MediaError(f"{p}: is a folder, not a media file")
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: file is empty")
    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise MediaError(f"{p.name}: not a readable audio or video file ({_reason(exc)})") from exc


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip().lower() or type(exc).__name__


def probe_media(path: str | os.PathLike) -> MediaInfo:
    """Read the container's header: streams, duration, channels, sample rate, frame size."""
    container = _open(path)
    try:
        audio = container.streams.audio[0] if container.streams.audio else None
        video = _video_stream(container)
        if audio is None and video is None:
            raise MediaError(f"{Path(path).name}: contains no audio or video stream")
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


def _video_stream(container):
    """The first real video stream (cover art in audio files is an attached picture, skipped)."""
    for stream in container.streams.video:
        if not stream.disposition & 0x400:  # AV_DISPOSITION_ATTACHED_PIC
            return stream
    return None


def _duration(container, audio, video) -> float:
    for stream in (audio, video):
        if stream is not None and stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000.0
    return 0.0


def load_audio(path: str | os.PathLike, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode every audio channel, resampled to ``sample_rate``.

    Returns float32 [channels, samples] in [-1, 1]. Raises MediaError when there is no audio
    track or nothing decodes.
    """
    import av

    container = _open(path)
    name = Path(path).name
    try:
        if not container.streams.audio:
            raise MediaError(f"{name}: has no audio track")
        stream = container.streams.audio[0]
        channels = max(1, int(stream.codec_context.channels or 1))
        layout = {1: "mono", 2: "stereo"}.get(channels) or stream.codec_context.layout.name
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        # Decode into one preallocated buffer sized from the header (grown if the header was
        # short), so a long call never needs twice its size in memory.
        expected = _duration(container, stream, None)
        audio = np.zeros((channels, int((expected + 1.0) * sample_rate)), dtype=np.float32)
        filled = 0
        bad_packets = 0

        def put(out) -> None:
            nonlocal audio, filled
            block = out.to_ndarray().reshape(channels, -1)
            n = block.shape[1]
            if filled + n > audio.shape[1]:
                grown = np.zeros((channels, max(2 * audio.shape[1], filled + n)), np.float32)
                grown[:, :filled] = audio[:, :filled]
                audio = grown
            audio[:, filled : filled + n] = block
            filled += n

        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad_packets += 1  # a damaged packet loses its few ms, not the whole file
                if bad_packets > 50:
                    raise MediaError(
                        f"{name}: audio stream is corrupt (too many bad packets)"
                    ) from None
                continue
            for frame in frames:
                for out in resampler.resample(frame):
                    put(out)
        for out in resampler.resample(None):
            put(out)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{name}: audio could not be decoded ({_reason(exc)})") from exc
    finally:
        container.close()
    if filled == 0:
        raise MediaError(f"{name}: audio track holds no decodable samples")
    audio = audio[:, :filled]
    np.clip(audio, -1.0, 1.0, out=audio)
    return audio


def iter_video_frames(
    path: str | os.PathLike, *, fps: float, max_side: int = MAX_VIDEO_SIDE_PX
) -> Iterator[VideoFrame]:
    """Yield RGB frames at about ``fps`` per second with their timestamps (seconds).

    fps: the analysis rate (``AnalysisConfig.fps`` in the engine).

    Frames are downscaled so that the longer side is at most ``max_side`` pixels. Damaged packets
    are skipped. One frame is in memory at a time.
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
                if bad_packets > 100:
                    raise MediaError(f"{Path(path).name}: video stream is corrupt") from None
                continue
            for frame in frames:
                t = frame.time
                if t is None or t + 1e-6 < next_t:
                    continue
                next_t = grid.time(grid.index(t) + 1)
                image = frame.to_ndarray(format="rgb24", width=out_w, height=out_h)
                yield VideoFrame(max(0.0, float(t)), image)
    finally:
        container.close()
