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


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_phone_video_rotation_is_applied_before_faces(tmp_path, rotation):
    """A phone stores frames sideways with a display rotation; frames come out upright, so the
    face stage sees eyes level and above the mouth (FaceMesh: 33/263 eye corners, 13 lip)."""
    import av
    from skimage.data import astronaut

    from analyzer.video import FaceAnalyzer

    upright = np.ascontiguousarray(astronaut()[:480, 40:400])  # 480 x 360, the face upright
    stored = np.ascontiguousarray(np.rot90(upright, -rotation // 90))  # as the phone wrote it
    path = tmp_path / f"phone_{rotation}.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.height, stream.width = stored.shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.set_display_rotation(rotation)  # counter-clockwise degrees to show it upright
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    frame = next(iter_video_frames(path, fps=5.0))
    assert frame.image.shape[:2] == upright.shape[:2]
    assert np.abs(frame.image.astype(int) - upright).mean() < 6  # codec loss only
    with FaceAnalyzer() as faces:
        (pts,) = faces.landmarks(frame.image)
    eyes, lip = pts[[33, 263], :2], pts[13, :2]
    roll = np.degrees(np.arctan2(*(eyes[1] - eyes[0])[::-1]))
    assert abs(roll) < 15 and eyes[:, 1].max() < lip[1]


def _gallery(n: int, faces: int, size=(360, 640)) -> np.ndarray:
    """An n x n gallery view (640 x 360) with ``faces`` tiles showing a face, the rest empty."""
    from skimage.data import astronaut
    from skimage.transform import resize

    src = astronaut()[0:320, 80:400]
    th, tw = size[0] // n, size[1] // n
    scale = min(th / src.shape[0], tw / src.shape[1])
    face = (resize(src, (int(src.shape[0] * scale), int(src.shape[1] * scale))) * 255).astype(
        np.uint8
    )
    view = np.full((th * n, tw * n, 3), 40, np.uint8)
    for k in range(faces):
        r, c = divmod(k, n)
        y, x = r * th + (th - face.shape[0]) // 2, c * tw + (tw - face.shape[1]) // 2
        view[y : y + face.shape[0], x : x + face.shape[1]] = face
    return view


@pytest.mark.parametrize(("n", "faces"), [(2, 4), (3, 5), (3, 9)])
def test_gallery_view_faces_are_found_up_to_nine(n, faces):
    """FaceMesh alone finds no face in a gallery (too small once the frame is shrunk to its
    detector's 128 px); the tile search finds each one, as its own track."""
    from analyzer.media import VideoFrame
    from analyzer.video import FaceAnalyzer

    view = _gallery(n, faces)
    frames = [VideoFrame(t * 0.2, view) for t in range(4)]
    with FaceAnalyzer() as analyzer:
        assert len(analyzer.landmarks(view)) == 0  # the whole frame: nothing
        timeline = analyzer.analyze(frames)
    assert timeline.faces.tolist() == [faces] * 4
    assert len(timeline.tracks) == faces


def _wav_with(tmp_path, name: str, seconds: float, patch: dict[int, int] | None = None):
    import io
    import struct

    buf = io.BytesIO()
    sf.write(buf, tone(seconds, SR)[0], SR, format="WAV", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    at = data.index(b"data")
    for offset, value in (patch or {}).items():
        offset = at + 4 if offset == -1 else offset  # -1: the data chunk's size
        data[offset : offset + 4] = struct.pack("<I", value)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path, bytes(data)


def test_truncated_and_lying_wav_headers_decode_what_is_there(tmp_path):
    from analyzer.media import decode_audio

    path, data = _wav_with(tmp_path, "call.wav", 20.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 10])
    got = decode_audio(cut)
    assert abs(got.duration_s - 2.0) < 0.01
    (note,) = got.notes
    assert note.code == "truncated_input" and note.params["claimed_s"] == 20.0
    assert "decoded 2.0 s; the header claimed 20.0 s" in note
    small, _ = _wav_with(tmp_path, "small.wav", 20.0, {-1: 1000})
    got = decode_audio(small)
    assert abs(got.duration_s - 20.0) < 0.01  # every sample, not the 1000 bytes claimed
    assert [n.code for n in got.notes] == ["header_mismatch"]
    assert decode_audio(path).notes == ()  # an honest file has nothing to say


def test_a_4_gb_header_costs_no_memory_and_1_hz_is_refused(tmp_path):
    import tracemalloc

    from analyzer.media import decode_audio

    huge, _ = _wav_with(tmp_path, "huge.wav", 2.0, {-1: 4_000_000_000, 4: 4_000_000_036})
    tracemalloc.start()
    try:
        got = decode_audio(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert abs(got.duration_s - 2.0) < 0.01 and got.notes[0].code == "truncated_input"
    assert peak < 20e6  # bytes; the header's claim would need 29 GiB
    one_hz, _ = _wav_with(tmp_path, "slow.wav", 2.0, {-1: 4_000_000_000, 24: 1, 28: 2})
    with pytest.raises(MediaError, match=r"^slow\.wav: sample rate 1 Hz is too low") as err:
        decode_audio(one_hz)
    assert err.value.code == "sample_rate_too_low" and err.value.params["sample_rate"] == 1


def test_duration_limit_stops_decoding_whatever_the_header_says(tmp_path):
    from analyzer.media import decode_audio

    path, _ = _wav_with(tmp_path, "long.wav", 30.0)
    with pytest.raises(MediaError) as err:
        decode_audio(path, max_duration_s=12.0)
    assert (
        err.value.code == "too_long" and err.value.cause == "is 0.5 min long; the limit is 0.2 min"
    )
    assert decode_audio(path, max_duration_s=27.0).duration_s == 30.0  # within the margin
    # A header claiming 1000 bytes does not smuggle 30 s past a 12 s limit.
    liar, _ = _wav_with(tmp_path, "liar.wav", 30.0, {-1: 1000})
    with pytest.raises(MediaError, match="decoding stopped there") as err:
        decode_audio(liar, max_duration_s=12.0)
    assert err.value.params["limit_min"] == 0.2


def test_symlink_loop_and_broken_link_are_named(tmp_path):
    import os

    os.symlink("b.wav", tmp_path / "a.wav")
    os.symlink("a.wav", tmp_path / "b.wav")
    os.symlink("nowhere.wav", tmp_path / "gone.wav")
    with pytest.raises(MediaError, match=r"^a\.wav: symbolic link loop") as err:
        probe_media(tmp_path / "a.wav")
    assert err.value.code == "symlink_loop"
    with pytest.raises(MediaError, match=r"^gone\.wav: broken symbolic link"):
        load_audio(tmp_path / "gone.wav")
    with pytest.raises(MediaError) as err:
        load_audio(tmp_path / "nope.wav")
    assert str(err.value) == "nope.wav: file not found" and str(tmp_path) not in str(err.value)
