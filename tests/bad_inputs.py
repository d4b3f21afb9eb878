"""The bad-input corpus: every kind of file a user (or an attacker) may hand ``emotrace analyze``.

``build_corpus(folder)`` writes the inputs and returns one ``Case`` per input with what the CLI
must do with it: analyse it (``ok``, optionally with a note whose text is given) or refuse it
with a one-line error (``error``, with words the message must hold). Media is short (about 1 s)
so the whole corpus analyses in about a minute.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
SECONDS = 1.0


@dataclass(frozen=True)
class Case:
    path: Path
    expect: str  # "ok" or "error"
    words: str = ""  # error: in the message; ok: in one of the result's notes ("" = none asked)
    video: bool = False  # analysed with video on (the others run with --no-video)


def signal(seconds: float = SECONDS, sr: int = SR, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A voiced-sounding test signal [samples, channels]: a 150 Hz buzz with harmonics, syllable
    bursts and a little noise, each channel a little different."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    out = []
    for c in range(channels):
        f0 = 140.0 + 15 * c
        buzz = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
        bursts = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t) ** 2
        out.append(0.2 * buzz * bursts + 0.01 * rng.standard_normal(len(t)))
    return np.stack(out, axis=1).astype(np.float32)


def encode_audio(
    path: Path, audio: np.ndarray, sr: int, codec: str, *, fmt: str = "fltp", options=None
) -> Path:
    """Encode [samples, channels] float audio with PyAV (``options``: the muxer's)."""
    import av

    planar = audio.T  # [channels, samples]
    layout = {1: "mono", 2: "stereo"}[planar.shape[0]]
    with av.open(str(path), mode="w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=sr)
        stream.layout = layout
        step = 960
        for i in range(0, planar.shape[1], step):
            chunk = np.ascontiguousarray(planar[:, i : i + step])
            if fmt in ("flt", "s16"):
                chunk = np.ascontiguousarray(chunk.T.reshape(1, -1))
            if fmt.startswith("s16"):
                chunk = (chunk * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(chunk, format=fmt, layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = sr, i, Fraction(1, sr)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_video(
    path: Path,
    frames: list[np.ndarray],
    *,
    fps: int = 5,
    audio: np.ndarray | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio_codec: str = "aac",
    rotation: float | None = None,
) -> Path:
    """Frames (RGB uint8) and optional mono audio [samples] into one file with PyAV."""
    import av

    with av.open(str(path), mode="w") as container:
        vs = container.add_stream(codec, rate=fps)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = pix_fmt
        if rotation is not None:
            vs.set_display_rotation(rotation)
        aus = None
        if audio is not None:
            aus = container.add_stream(audio_codec, rate=48000 if "opus" in audio_codec else SR)
            aus.layout = "mono"
        for img in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        if aus is not None:
            rate = aus.rate
            x = (
                audio
                if rate == SR
                else np.interp(
                    np.arange(int(len(audio) * rate / SR)) * SR / rate, np.arange(len(audio)), audio
                ).astype(np.float32)
            )
            fmt = "flt" if "opus" in audio_codec else "fltp"
            for i in range(0, len(x), 960):
                chunk = np.ascontiguousarray(x[None, i : i + 960])
                frame = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
                for packet in aus.encode(frame):
                    container.mux(packet)
            for packet in aus.encode():
                container.mux(packet)
    return path


def wav_bytes(seconds: float = SECONDS, sr: int = SR) -> bytes:
    path_like = __import__("io").BytesIO()
    sf.write(path_like, signal(seconds, sr)[:, 0], sr, format="WAV", subtype="PCM_16")
    return path_like.getvalue()


def patch_u32(data: bytes, offset: int, value: int) -> bytes:
    b = bytearray(data)
    b[offset : offset + 4] = struct.pack("<I", value)
    return bytes(b)


def build_corpus(folder: Path) -> list[Case]:
    """Write the corpus under ``folder`` and return its cases (inputs analysed with --no-video,
    except those marked ``video``)."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def ok(path: Path, words: str = "", video: bool = False) -> None:
        cases.append(Case(path, "ok", words, video))

    def error(path: Path, words: str, video: bool = False) -> None:
        cases.append(Case(path, "error", words, video))

    # ---- WAV at every common rate, channel count and sample format -----------------------------
    for rate in (8000, 11025, 16000, 22050, 44100, 48000, 96000):
        p = folder / f"rate_{rate}.wav"
        sf.write(p, signal(sr=rate), rate)
        ok(p)
    for channels, rate in ((2, 16000), (6, 48000)):
        p = folder / f"channels_{channels}.wav"
        sf.write(p, signal(sr=rate, channels=channels), rate)
        ok(p)
    # one party's line dead, or one channel the other with its polarity flipped: one mix
    voice = signal()[:, 0]
    p = folder / "stereo_dead_line.wav"
    sf.write(p, np.stack([voice, np.zeros_like(voice)], axis=1), SR)
    ok(p, "channel 1 is silent")
    p = folder / "stereo_inverted.wav"
    sf.write(p, np.stack([voice, -voice], axis=1), SR)
    ok(p, "polarity flipped")
    for subtype in ("PCM_U8", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"):
        p = folder / f"subtype_{subtype.lower()}.wav"
        sf.write(p, signal(), SR, subtype=subtype)
        ok(p)
    # ---- other containers and codecs ----------------------------------------------------------
    sf.write(folder / "mono.flac", signal(), SR)
    sf.write(folder / "stereo_44k.flac", signal(sr=44100, channels=2), 44100)
    sf.write(folder / "vorbis.ogg", signal(), SR, format="OGG", subtype="VORBIS")
    sf.write(folder / "sound.aiff", signal(), SR, format="AIFF")
    for name in ("mono.flac", "stereo_44k.flac", "vorbis.ogg", "sound.aiff"):
        ok(folder / name)
    stereo48 = signal(sr=48000, channels=2)
    for name, codec, rate, fmt in (
        ("lame.mp3", "libmp3lame", 44100, "fltp"),
        ("aac.m4a", "aac", 48000, "fltp"),
        ("opus.ogg", "libopus", 48000, "flt"),
        ("opus.webm", "libopus", 48000, "flt"),
        ("aac_22k.mkv", "aac", 22050, "fltp"),
        ("flac.mkv", "flac", 48000, "s16"),
        ("alac.m4a", "alac", 44100, "s16p"),
        ("audio_only.mp4", "aac", 44100, "fltp"),
    ):
        audio = stereo48 if rate == 48000 else signal(sr=rate, channels=2)
        ok(encode_audio(folder / name, audio, rate, codec, fmt=fmt))
    # ---- videos: faces or not, no audio, rotated, 1x1, 4K ---------------------------------------
    speech = signal()[:, 0]
    grey = [np.full((64, 96, 3), 90 + 10 * i, np.uint8) for i in range(5)]
    ok(write_video(folder / "no_face.mp4", grey, audio=speech), video=True)
    ok(write_video(folder / "no_face.mkv", grey, audio=speech), video=True)
    ok(
        write_video(folder / "vp9.webm", grey, audio=speech, codec="libvpx-vp9",
                    audio_codec="libopus"),
        video=True,
    )  # fmt: skip
    error(write_video(folder / "silent_film.mp4", grey), "no audio track", video=True)
    ok(write_video(folder / "rotated.mp4", grey, audio=speech, rotation=90), video=True)
    one = [np.full((1, 1, 3), 200, np.uint8)] * 5
    ok(
        write_video(folder / "one_pixel.avi", one, audio=speech, codec="rawvideo",
                    pix_fmt="rgb24"),
        video=True,
    )  # fmt: skip
    big = [np.full((2160, 3840, 3), 30 * i, np.uint8) for i in range(2)]
    ok(write_video(folder / "uhd_4k.mp4", big, fps=2, audio=speech), video=True)
    # ---- empty, tiny, not media ------------------------------------------------------------------
    for name in ("empty.wav", "empty.mp4"):
        (folder / name).write_bytes(b"")
        error(folder / name, "empty")
    (folder / "one_byte.wav").write_bytes(b"R")
    (folder / "riff_only.wav").write_bytes(b"RIFF")
    header = wav_bytes()[:44]
    (folder / "header_only.wav").write_bytes(patch_u32(header, 40, 0))
    error(folder / "one_byte.wav", "not a readable")
    error(folder / "riff_only.wav", "not a readable")
    error(folder / "header_only.wav", "no decodable samples")
    (folder / "text.wav").write_text("this is not audio\n" * 40)
    rng = np.random.default_rng(1)
    (folder / "noise.mp4").write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    (folder / "noise.mp3").write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    for name in ("text.wav", "noise.mp4", "noise.mp3"):
        error(folder / name, "")
    # ---- truncated ---------------------------------------------------------------------------
    long_wav = wav_bytes(4.0)
    for share in (10, 50, 90):  # 90 %: 0.4 s lost, within the 0.5 s tolerance (no note)
        p = folder / f"cut_{share}.wav"
        p.write_bytes(long_wav[: len(long_wav) * share // 100])
        ok(p, "ends early" if share < 90 else "")
    (folder / "cut_in_header.wav").write_bytes(long_wav[:20])
    error(folder / "cut_in_header.wav", "not a readable")
    for name, codec, options in (
        ("cut.mp3", "libmp3lame", None),
        ("cut_faststart.m4a", "aac", {"movflags": "faststart"}),
        ("cut.ogg", "libopus", None),
    ):
        whole = encode_audio(
            folder / f"whole_{name}", signal(4.0, 48000 if "ogg" in name else 44100), 48000
            if "ogg" in name else 44100, codec, fmt="flt" if "ogg" in name else "fltp",
            options=options,
        )  # fmt: skip
        data = whole.read_bytes()
        whole.unlink()
        (folder / name).write_bytes(data[: len(data) // 2])
        ok(folder / name)
    moov_last = encode_audio(folder / "whole.m4a", signal(4.0, 44100), 44100, "aac")
    data = moov_last.read_bytes()
    moov_last.unlink()
    (folder / "cut_no_index.m4a").write_bytes(data[: len(data) // 2])
    error(folder / "cut_no_index.m4a", "not a readable")
    sf.write(folder / "whole.flac", signal(4.0), SR)
    data = (folder / "whole.flac").read_bytes()
    (folder / "whole.flac").unlink()
    (folder / "cut.flac").write_bytes(data[: len(data) // 2])
    ok(folder / "cut.flac")
    # ---- lying headers ---------------------------------------------------------------------------
    wav = wav_bytes(3.0)
    data_at = wav.index(b"data")
    (folder / "claims_1000_bytes.wav").write_bytes(patch_u32(wav, data_at + 4, 1000))
    ok(folder / "claims_1000_bytes.wav", "header claimed 0.03 s")
    claims_4g = patch_u32(patch_u32(wav, data_at + 4, 4_000_000_000), 4, 4_000_000_036)
    (folder / "claims_4gb.wav").write_bytes(claims_4g)
    ok(folder / "claims_4gb.wav", "ends early")
    one_hz = patch_u32(patch_u32(claims_4g, 24, 1), 28, 2)  # 1 Hz, 2 bytes per second
    (folder / "rate_1hz_4gb.wav").write_bytes(one_hz)
    error(folder / "rate_1hz_4gb.wav", "sample rate 1 Hz")
    (folder / "riff_size_wrong.wav").write_bytes(patch_u32(wav, 4, 12))
    ok(folder / "riff_size_wrong.wav")
    (folder / "byte_rate_zero.wav").write_bytes(patch_u32(wav, 28, 0))
    ok(folder / "byte_rate_zero.wav")
    # ---- sample values -----------------------------------------------------------------------
    x = signal()[:, 0]
    for name, values in (
        ("nan.wav", {100: np.nan, 5000: np.nan}),
        ("inf.wav", {200: np.inf, 9000: -np.inf}),
    ):
        y = x.copy()
        for i, v in values.items():
            y[i : i + 50] = v
        sf.write(folder / name, y, SR, subtype="FLOAT")
        ok(folder / name, "NaN or infinite")
    sf.write(folder / "all_nan.wav", np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    ok(folder / "all_nan.wav", "NaN or infinite")
    sf.write(folder / "huge.wav", x * 1e30, SR, subtype="FLOAT")
    sf.write(folder / "silence.wav", np.zeros(SR, np.float32), SR)
    sf.write(folder / "dc.wav", np.full(SR, 0.5, np.float32), SR)
    sf.write(folder / "clipped.wav", np.sign(x), SR)
    for name in ("huge.wav", "silence.wav", "dc.wav", "clipped.wav"):
        ok(folder / name)
    # ---- names -----------------------------------------------------------------------------------
    plain = wav_bytes()
    for name in ("通话.wav", "-x.wav", "a b'c\"d.wav", "l" * 200 + ".wav", "no_suffix"):
        (folder / name).write_bytes(plain)
        ok(folder / name)
    # ---- not files -------------------------------------------------------------------------------
    (folder / "a_folder.wav").mkdir()
    error(folder / "a_folder.wav", "is a folder")
    error(folder / "missing.wav", "file not found")
    os.symlink("loop_b.wav", folder / "loop_a.wav")
    os.symlink("loop_a.wav", folder / "loop_b.wav")
    error(folder / "loop_a.wav", "symbolic link loop")
    os.symlink("gone.wav", folder / "dangling.wav")
    error(folder / "dangling.wav", "broken symbolic link")
    os.mkfifo(folder / "pipe.wav")  # opening it would wait for a writer forever
    error(folder / "pipe.wav", "not a regular file")
    os.symlink("rate_16000.wav", folder / "link.wav")
    ok(folder / "link.wav")
    # ---- the same name in two folders ----------------------------------------------------------
    (folder / "again").mkdir()
    for name in ("rate_16000.wav", "mono.flac"):
        (folder / "again" / name).write_bytes((folder / name).read_bytes())
        ok(folder / "again" / name)
    return cases
