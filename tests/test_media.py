"""Media input: every container and rate decodes to 16 kHz per channel; bad files fail cleanly."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf

from analyzer.media import MediaError, iter_video_frames, load_audio, probe_media

SR = 16000


def tone(seconds: float, sr: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    chans = [0.3 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]
    return np.stack(chans).astype(np.float32)  # [channels, samples]


def encode_audio(
    path, audio: np.ndarray, sr: int, codec: str, *, fmt: str = "fltp", options=None
) -> None:
    """Encode [channels, samples] float audio with PyAV into ``path`` (``options``: muxer's)."""
    import av

    layout = {1: "mono", 2: "stereo"}[audio.shape[0]]
    with av.open(str(path), mode="w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=sr)
        stream.layout = layout
        step = 960  # a multiple of Opus's 20 ms frames at 48 kHz, fine for the other codecs
        for i in range(0, audio.shape[1], step):
            chunk = np.ascontiguousarray(audio[:, i : i + step])
            if fmt == "flt":  # packed: the channels interleaved in one plane
                chunk = np.ascontiguousarray(chunk.T.reshape(1, -1))
            if fmt == "s16p":
                chunk = (chunk * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(chunk, format=fmt, layout=layout)
            frame.sample_rate = sr
            frame.pts = i
            frame.time_base = Fraction(1, sr)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize(
    ("suffix", "codec", "sr", "fmt"),
    [
        ("mp3", "libmp3lame", 44100, "fltp"),
        ("m4a", "aac", 48000, "fltp"),
        ("ogg", "libopus", 48000, "flt"),
        ("webm", "libopus", 48000, "flt"),
        ("mkv", "aac", 22050, "fltp"),
    ],
)
def test_compressed_containers_decode_to_16k_stereo(tmp_path, suffix, codec, sr, fmt):
    path = tmp_path / f"x.{suffix}"
    audio = tone(2.0, sr, channels=2)
    encode_audio(path, audio, sr, codec, fmt=fmt)
    info = probe_media(path)
    assert info.has_audio and not info.has_video and info.channels == 2
    out = load_audio(path)
    assert out.shape[0] == 2
    assert abs(out.shape[1] / SR - 2.0) < 0.12  # codec priming/padding only
    # The right channel carries twice the frequency of the left: the channels stay apart.
    spec = np.abs(np.fft.rfft(out[:, SR // 2 : SR // 2 + SR]))
    assert abs(int(np.argmax(spec[0])) - 440) <= 3
    assert abs(int(np.argmax(spec[1])) - 880) <= 3


@pytest.mark.parametrize("rate", [8000, 11025, 44100, 96000])
def test_wav_and_flac_any_rate(tmp_path, rate):
    x = tone(1.5, rate, freq=300.0)[0]
    for suffix in ("wav", "flac"):
        path = tmp_path / f"x.{suffix}"
        sf.write(path, x, rate)
        out = load_audio(path)
        assert out.shape == (1, int(1.5 * SR)) or abs(out.shape[1] - 1.5 * SR) <= 2
        peak = int(np.argmax(np.abs(np.fft.rfft(out[0, :SR]))))
        assert abs(peak - 300) <= 2
        assert probe_media(path).sample_rate == rate


def write_video(path, frames: list[np.ndarray], fps: int = 10, audio: np.ndarray | None = None):
    import av

    with av.open(str(path), mode="w") as container:
        vs = container.add_stream("libx264", rate=fps)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        aus = None
        if audio is not None:
            aus = container.add_stream("aac", rate=SR)
            aus.layout = "mono"
        for img in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        if aus is not None:
            for i in range(0, len(audio), 1024):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(audio[None, i : i + 1024]), format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts, frame.time_base = SR, i, Fraction(1, SR)
                for packet in aus.encode(frame):
                    container.mux(packet)
            for packet in aus.encode():
                container.mux(packet)


def test_video_frames_stream_at_the_analysis_rate(tmp_path):
    frames = [np.full((120, 160, 3), i * 4, dtype=np.uint8) for i in range(40)]  # 4 s at 10 fps
    path = tmp_path / "v.mp4"
    write_video(path, frames, fps=10, audio=tone(4.0, SR)[0])
    got = list(iter_video_frames(path, fps=5.0))
    times = np.array([f.time for f in got])
    assert 19 <= len(got) <= 21
    assert np.allclose(np.diff(times), 0.2, atol=0.011)
    assert got[0].image.shape == (120, 160, 3) and got[0].image.dtype == np.uint8
    big = list(iter_video_frames(path, fps=5.0, max_side=80))
    assert max(big[0].image.shape[:2]) <= 80
    info = probe_media(path)
    assert info.has_video and info.has_audio and info.width == 160


def test_mov_container(tmp_path):
    path = tmp_path / "v.mov"
    write_video(path, [np.zeros((64, 64, 3), np.uint8)] * 10, fps=10, audio=tone(1.0, SR)[0])
    assert load_audio(path).shape[0] == 1
    assert len(list(iter_video_frames(path, fps=5))) >= 4


def test_bad_inputs_give_one_line_errors(tmp_path):
    missing = tmp_path / "nope.wav"
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 50)
    for path, words in [
        (missing, "not found"),
        (empty, "empty"),
        (junk, "not a readable"),
        (text, "not a readable"),
    ]:
        with pytest.raises(MediaError) as err:
            load_audio(path)
        message = str(err.value)
        assert words in message and "\n" not in message
    with pytest.raises(MediaError, match="folder"):
        probe_media(tmp_path)


def test_video_without_audio_track_is_reported(tmp_path):
    path = tmp_path / "silent_film.mp4"
    write_video(path, [np.zeros((64, 64, 3), np.uint8)] * 10)
    assert not probe_media(path).has_audio
    with pytest.raises(MediaError, match="no audio track"):
        load_audio(path)


def test_truncated_mp4_without_its_index_fails_cleanly(tmp_path):
    path = tmp_path / "t.m4a"
    encode_audio(path, tone(4.0, 44100), 44100, "aac")
    data = path.read_bytes()
    # PyAV writes the index (moov) after the samples (mdat): cut in half, the file has no index.
    assert data.index(b"mdat") < data.index(b"moov") > len(data) // 2
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"^cut\.m4a: not a readable audio or video file") as err:
        load_audio(cut)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "codec", "options"),
    [
        ("t.m4a", "aac", {"movflags": "faststart"}),  # the index first, then the samples
        ("t.mp3", "libmp3lame", None),  # frames that each stand on their own
    ],
)
def test_truncated_file_decodes_what_is_there(tmp_path, name, codec, options):
    path = tmp_path / name
    encode_audio(path, tone(4.0, 44100), 44100, codec, options=options)
    data = path.read_bytes()
    cut = tmp_path / f"cut_{name}"
    cut.write_bytes(data[: len(data) // 2])
    out = load_audio(cut)
    # About the first half of the 4 s tone survives, and it is the tone: 440 Hz at amplitude 0.3.
    assert out.shape[0] == 1 and 1.5 * SR < out.shape[1] < 2.5 * SR
    middle = out[0, int(0.5 * SR) : int(1.5 * SR)]
    spectrum = np.abs(np.fft.rfft(middle))
    assert abs(np.argmax(spectrum) * SR / len(middle) - 440.0) < 2.0
    assert abs(np.sqrt(np.mean(middle**2)) - 0.3 / np.sqrt(2)) < 0.02
