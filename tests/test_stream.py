"""Long calls held on disk and analysed chunk by chunk (issue 18: memory flat in call length).

The disk-backed reader (ranges, channels, bad ranges), decoding that spills to disk, the chunked
voice and prosody stages against their whole-call versions, the temporary files going away after
success and failure, and a whole analysis in small chunks giving the turns of one pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from analyzer.audio.bleed import cancel_bleed, level_over_floor_db
from analyzer.audio.prosody import analyze_frames
from analyzer.audio.vad import VAD_CHUNK, VoiceActivityDetector
from analyzer.chunks import chunk_samples, prosody_frames, voice_in_chunks
from analyzer.diskaudio import DiskAudio
from analyzer.segment import Segment

SR = 16000


def _open_in(folder: Path) -> list[str]:
    """Targets of this process's open file descriptors that lie in ``folder`` (an unnamed
    temporary file shows as '<folder>/#<inode> (deleted)')."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder) + "/"):
            out.append(target)
    return out


def _voice(seconds: float, seed: int, *, rate_hz: float = 0.23) -> np.ndarray:
    """Bursts of a harmonic tone with a moving pitch in noise: speech to the VAD, now and then."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    gate = (np.sin(2 * np.pi * rate_hz * t + seed) > 0.2).astype(np.float32)
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    breath = rng.standard_normal(len(t))  # broadband, as consonants are: a delay can be found
    return (gate * (0.2 * tone + 0.03 * breath) + 0.003 * rng.standard_normal(len(t))).astype(
        np.float32
    )


def _stereo_with_bleed(seconds: float) -> np.ndarray:
    """Two parties taking turns; the second channel carries a -25 dB copy of the first, 20 ms
    late (one line's echo path)."""
    a, b = _voice(seconds, 1), _voice(seconds, 2, rate_hz=0.17)
    lag = int(0.02 * SR)
    bleed = np.concatenate([np.zeros(lag, np.float32), a[:-lag]]) * 10 ** (-25 / 20)
    return np.stack([a, b + bleed]).astype(np.float32)


def _on_disk(audio: np.ndarray, folder: Path, block: int = 7777) -> DiskAudio:
    disk = DiskAudio(audio.shape[0], temp_dir=folder)
    for i in range(0, audio.shape[1], block):
        disk.append(audio[:, i : i + block])
    return disk


# ---- the disk-backed reader -----------------------------------------------------------------
def test_disk_audio_reads_ranges_and_channels_as_the_array(tmp_path):
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((3, 50_001)).astype(np.float32)
    with _on_disk(audio, tmp_path) as disk:
        assert disk.shape == (3, 50_001) and len(disk) == 3
        np.testing.assert_array_equal(disk.read(0, 50_001), audio)
        np.testing.assert_array_equal(disk.read(123, 4567), audio[:, 123:4567])
        np.testing.assert_array_equal(disk.read(10, 20, [2, 0]), audio[[2, 0], 10:20])
        np.testing.assert_array_equal(disk.read(49_990, 10**9), audio[:, 49_990:])  # cut at end
        assert disk.read(60_000, 70_000).shape == (3, 0)  # wholly past the end: empty
        assert disk.read(5, 5).shape == (3, 0)
        ch = disk[1]
        assert len(ch) == 50_001
        np.testing.assert_array_equal(ch[100:200], audio[1, 100:200])
        np.testing.assert_array_equal(ch[::4], audio[1, ::4])
        np.testing.assert_array_equal(ch[-10:], audio[1, -10:])
        assert ch[-1] == audio[1, -1] and ch[7] == audio[1, 7]
        np.testing.assert_array_equal(np.asarray(ch), audio[1])
        np.testing.assert_allclose(disk.mono()[0][:], audio.mean(axis=0), rtol=0, atol=1e-6)
        assert disk[-1].channel == 2


def test_disk_audio_refuses_bad_ranges_and_channels(tmp_path):
    with _on_disk(np.zeros((2, 1000), np.float32), tmp_path) as disk:
        with pytest.raises(ValueError, match="bad sample range"):
            disk.read(-1, 10)
        with pytest.raises(ValueError, match="bad sample range"):
            disk.read(20, 10)
        with pytest.raises(IndexError):
            disk.read(0, 10, [2])
        with pytest.raises(IndexError):
            disk[2]
        with pytest.raises(IndexError):
            disk[0][1000]
        with pytest.raises(ValueError, match="forwards"):
            disk[0][::-1]
        with pytest.raises(ValueError, match=r"\[2, n\]"):
            disk.append(np.zeros((3, 10), np.float32))
    with pytest.raises(ValueError, match="closed"):
        disk.read(0, 10)


def test_disk_audio_files_are_unnamed_in_the_temp_dir_and_go_on_close(tmp_path):
    disk = _on_disk(np.ones((2, 10_000), np.float32), tmp_path)
    mono = disk.mono()
    assert len(_open_in(tmp_path)) == 3  # two channels and the mix, open there
    assert os.listdir(tmp_path) == []  # ... with no name: nothing to leave behind if killed
    disk.close()
    assert mono.closed and _open_in(tmp_path) == []


def test_disk_audio_follows_tmpdir(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read $TMPDIR
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with _on_disk(np.ones((1, 100), np.float32), Path(tempfile.gettempdir())):
        assert len(_open_in(tmp_path)) == 1
    with DiskAudio(1) as disk:  # no temp_dir: $TMPDIR
        assert len(_open_in(tmp_path)) == 1
        assert disk.shape == (1, 0)
    assert _open_in(tmp_path) == []


# ---- decoding into it -------------------------------------------------------------------------
def test_decoding_spills_a_long_call_to_disk_with_the_same_samples(tmp_path):
    from analyzer.media import decode_audio

    rng = np.random.default_rng(3)
    data = np.clip(rng.normal(0, 0.3, (8000 * 70, 2)), -1, 1).astype(np.float32)
    path = tmp_path / "call.wav"
    sf.write(path, data, 8000, subtype="PCM_16")
    whole = decode_audio(path)
    spill = tmp_path / "spill"
    spill.mkdir()
    short = decode_audio(path, spill_after_s=80.0, temp_dir=str(spill))
    assert isinstance(short.samples, np.ndarray)  # shorter than the limit: in memory, as before
    np.testing.assert_array_equal(short.samples, whole.samples)
    long = decode_audio(path, spill_after_s=20.0, temp_dir=str(spill))
    assert isinstance(long.samples, DiskAudio)
    assert long.samples.shape == whole.samples.shape and long.duration_s == whole.duration_s
    np.testing.assert_array_equal(long.samples.read(0, 10**9), whole.samples)
    assert long.notes == whole.notes and len(_open_in(spill)) == 2
    long.samples.close()
    assert _open_in(spill) == [] and os.listdir(spill) == []


def test_a_spilled_decode_that_fails_leaves_no_file(tmp_path):
    from analyzer.media import MediaError, decode_audio

    path = tmp_path / "call.wav"
    sf.write(path, np.zeros((8000 * 90, 2), np.float32), 8000, subtype="PCM_16")
    spill = tmp_path / "spill"
    spill.mkdir()
    with open(path, "r+b") as fh:  # a header that understates the data: found while decoding
        fh.seek(40)
        fh.write((8000 * 2 * 2 * 10).to_bytes(4, "little"))
    with pytest.raises(MediaError, match="limit"):
        decode_audio(path, max_duration_s=30.0, spill_after_s=20.0, temp_dir=str(spill))
    assert _open_in(spill) == [] and os.listdir(spill) == []


# ---- chunked stages against the whole call ------------------------------------------------
def test_chunked_voice_stage_equals_the_whole_call_away_from_chunk_borders(tmp_path):
    audio = _stereo_with_bleed(100.0)
    vad = VoiceActivityDetector()
    cancelled = cancel_bleed(audio, sr=SR).audio
    levels = level_over_floor_db(cancelled, sr=SR)
    probs = np.stack([vad.probabilities(ch) for ch in cancelled])
    with _on_disk(audio, tmp_path) as disk:
        got_probs, got_levels = voice_in_chunks(disk, vad, split=True, chunk_s=40.0, context_s=10.0)
        mono_probs, none = voice_in_chunks(disk, vad, split=False, chunk_s=40.0)
    assert got_probs.shape == probs.shape and got_levels is not None
    assert got_levels.shape == levels.shape and none is None
    assert probs.max() > 0.9 and probs.min() < 0.1  # the signal does reach the detector
    # Away from the borders (1 s either side of 40 s and 80 s) only rounding differs; at them
    # the chunk's own delay and noise floor may move a level by a fraction of a dB.
    hop_s = VAD_CHUNK / SR
    t = np.arange(probs.shape[1]) * hop_s
    away = (np.abs(t - 40.0) > 1.0) & (np.abs(t - 80.0) > 1.0)
    np.testing.assert_allclose(got_probs[:, away], probs[:, away], atol=1e-3)
    np.testing.assert_allclose(got_levels[:, away], levels[:, away], atol=0.5)
    assert ((got_probs > 0.5) == (probs > 0.5)).mean() > 0.999
    mono = np.stack([vad.probabilities(audio.mean(axis=0))])
    np.testing.assert_array_equal(mono_probs, mono)  # whole VAD streams: the very same numbers


def test_chunked_voice_stage_of_a_band_limited_mix_equals_one_pass(tmp_path):
    from scipy.signal import resample_poly

    from analyzer.audio.vad import band_limited

    mix = _stereo_with_bleed(90.0).mean(axis=0)
    narrow = resample_poly(resample_poly(mix, 1, 2), 2, 1)[: len(mix)].astype(np.float32)
    vad = VoiceActivityDetector()
    assert band_limited(lambda a, b: narrow[a:b], len(narrow))
    whole = vad.mixed_probabilities(narrow, band_limited=True)
    assert (whole > vad.probabilities(narrow) + 0.01).any()  # the 8 kHz branch is heard
    with _on_disk(narrow[None, :], tmp_path) as disk:
        chunked, _ = voice_in_chunks(disk, vad, split=False, chunk_s=40.0)
    # The 8 kHz copy of each chunk is made with its neighbours' samples: one pass's numbers.
    np.testing.assert_allclose(chunked[0], whole, atol=1e-5)


def test_chunked_prosody_frames_equal_one_pass(tmp_path):
    x = _voice(95.0, 5)
    speech = [Segment(3.0, 38.5), Segment(39.9, 41.3), Segment(55.0, 94.0)]
    whole = analyze_frames(x, sr=SR, speech=speech)
    with _on_disk(x[None, :], tmp_path) as disk:
        got = prosody_frames(disk[0], speech=speech, chunk_s=40.0)
    assert len(got.f0_hz) == len(whole.f0_hz) == int(np.ceil(len(x) / 160))
    np.testing.assert_allclose(got.loudness_db, whole.loudness_db, atol=1e-4)
    np.testing.assert_allclose(got.clarity, whole.clarity, atol=1e-4)
    voiced = np.isfinite(whole.f0_hz)
    assert voiced.sum() > 1000
    assert (np.isfinite(got.f0_hz) == voiced).mean() > 0.999
    both = voiced & np.isfinite(got.f0_hz)
    np.testing.assert_allclose(got.f0_hz[both], whole.f0_hz[both], rtol=1e-4)


def test_chunks_are_whole_vad_streams():
    assert chunk_samples(600.0) == 600 * SR
    assert chunk_samples(70.0) == 60 * SR  # rounded down to 20 s streams
    assert chunk_samples(1.0) == 20 * SR


# ---- the engine -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_call(tmp_path_factory) -> Path:
    """A 4-minute stereo call looped from the bundled sample (its turns, rotated)."""
    from benchmarks.batch import make_calls

    return make_calls(tmp_path_factory.mktemp("long"), 1, 240.0)[0]


@pytest.fixture(scope="module")
def analyzer():
    from analyzer import AnalysisConfig, Analyzer

    a = Analyzer(AnalysisConfig(fer_model=None))
    yield a
    a.close()


def _turns(result) -> list[tuple[str, float, float]]:
    return [(spk, seg.start, seg.end) for spk, seg in result.turns]


@pytest.mark.slow
def test_a_call_in_small_chunks_gives_the_turns_of_one_pass(long_call, analyzer, tmp_path):
    from analyzer import AnalysisConfig

    whole = analyzer.analyze(long_call)
    seen: list[list[str]] = []
    chunked = analyzer.analyze(
        long_call,
        config=AnalysisConfig(fer_model=None, chunk_s=60.0, temp_dir=str(tmp_path)),
        progress=lambda step, done, total: seen.append(_open_in(tmp_path)),
    )
    assert any(seen)  # it did run from disk
    assert _open_in(tmp_path) == [] and os.listdir(tmp_path) == []
    assert [s.id for s in chunked.speakers] == [s.id for s in whole.speakers]
    assert [s.role for s in chunked.speakers] == [s.role for s in whole.speakers]
    a, b = _turns(whole), _turns(chunked)
    assert abs(len(a) - len(b)) <= 1
    matched = sum(
        any(sa == sb and abs(s0 - t0) < 0.1 and abs(s1 - t1) < 0.1 for sb, t0, t1 in b)
        for sa, s0, s1 in a
    )
    assert matched >= 0.95 * len(a)
    labels = {(s.speaker, round(s.start, 2)): s.emotion for s in whole.segments if s.kind == "turn"}
    same = [
        labels.get((s.speaker, round(s.start, 2))) == s.emotion
        for s in chunked.segments
        if s.kind == "turn"
    ]
    assert np.mean(same) >= 0.9


@pytest.mark.slow
def test_temporary_audio_goes_when_the_analysis_fails(long_call, analyzer, tmp_path, monkeypatch):
    from analyzer import AnalysisConfig
    from analyzer.pipeline import Analyzer

    opened: list[list[str]] = []

    def broken(self, attr, cfg):
        opened.append(_open_in(tmp_path))
        raise RuntimeError("prosody broke")

    monkeypatch.setattr(Analyzer, "_prosody", broken)
    config = AnalysisConfig(fer_model=None, chunk_s=60.0, temp_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="prosody broke"):
        analyzer.analyze(long_call, config=config)
    assert opened and opened[0]  # the files were there while it ran
    assert _open_in(tmp_path) == [] and os.listdir(tmp_path) == []


def test_turns_of_a_long_call_are_transcribed_in_call_time(tmp_path):
    from analyzer.chunks import transcribe_in_chunks
    from analyzer.words.asr import TurnText

    x = np.zeros(SR * 200, np.float32)
    x[SR * 150 : SR * 151] = 0.5  # a mark the fake recogniser reports where it hears it

    class Recogniser:
        def transcribe(self, audio, turns):
            audio = np.asarray(audio)
            assert len(audio) <= 80 * SR  # a chunk's worth of turns, never the whole channel
            out = []
            for turn in turns:
                wave = audio[int(turn.start * SR) : int(turn.end * SR)]
                hit = np.flatnonzero(wave > 0.25)
                words = () if not len(hit) else ((turn.start + hit[0] / SR, turn.end, "mark"),)
                out.append(TurnText(turn, "mark" if words else "", words, 1.0))
            return out

    turns = [Segment(10.0, 20.0), Segment(60.0, 70.0), Segment(149.0, 152.0), Segment(180, 181)]
    with _on_disk(x[None, :], tmp_path) as disk:
        got = transcribe_in_chunks(Recogniser(), disk[0], turns, chunk_s=60.0)
    assert [t.segment for t in got] == turns
    assert [t.text for t in got] == ["", "", "mark", ""]
    assert got[2].words[0][0] == pytest.approx(150.0, abs=1e-3)


class _SignEncoder:
    """A stand-in voice encoder: one window per speech segment, its "voice" the sign of the
    audio's mean there (the test's two speakers sit at +/- DC offsets)."""

    def embed_windows(self, audio, speech, *, sr=SR):
        from analyzer.audio.speakers import FRAMES

        spans, owner, emb = [], [], []
        for i, seg in enumerate(speech):
            span = FRAMES.cover(seg)
            wave = np.asarray(audio[int(seg.start * sr) : int(seg.end * sr)])
            vec = np.zeros(256, np.float32)
            vec[0 if wave.mean() > 0 else 1] = 1.0
            spans.append((span.start, span.stop))
            owner.append(i)
            emb.append(vec)
        return np.array(spans).reshape(-1, 2), np.array(owner, dtype=int), np.array(emb)


def test_mono_call_in_chunks_is_clustered_over_the_whole_call(tmp_path):
    from analyzer.audio.speakers import diarize
    from analyzer.chunks import diarize_in_chunks

    rng = np.random.default_rng(7)
    x = 0.002 * rng.standard_normal(SR * 130).astype(np.float32)
    speech = []
    t = 1.0
    k = 0
    while t < 127.0:
        length = 1.5 + 2.5 * rng.random()
        a, b = int(t * SR), int(min(t + length, 129.0) * SR)
        tt = np.arange(b - a) / SR
        f0 = 120.0 if k % 3 else 210.0  # the second voice speaks every third turn
        x[a:b] += 0.2 * np.sin(2 * np.pi * f0 * tt) + (0.05 if k % 3 else -0.05)
        speech.append(Segment(a / SR, b / SR))
        t += length + 0.5 + rng.random()
        k += 1
    whole = diarize(x, speech, _SignEncoder())
    with _on_disk(x[None, :], tmp_path) as disk:
        got = diarize_in_chunks(disk[0], speech, _SignEncoder(), chunk_s=40.0)
    assert len(whole.speakers) == 2
    assert got.turns == whole.turns  # one clustering over the whole call: the same ids


def test_a_killed_run_leaves_no_temporary_audio(tmp_path):
    import signal
    import subprocess
    import sys

    code = (
        "import os, signal, numpy as np\n"
        "from analyzer.diskaudio import DiskAudio\n"
        f"disk = DiskAudio(2, temp_dir={str(tmp_path)!r})\n"
        "disk.append(np.ones((2, 160000), np.float32))\n"
        "links = [os.readlink(f'/proc/self/fd/{fh.fileno()}') for fh in disk._files]\n"
        f"print(sum(link.startswith({str(tmp_path)!r}) for link in links), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout.strip() == "2"  # both channels' files were open in the folder
    assert os.listdir(tmp_path) == []  # ... and unnamed: nothing left after SIGKILL


def test_overlap_probabilities_in_chunks_are_those_of_one_pass(tmp_path):
    from analyzer.audio.overlap import load_overlap_detector
    from analyzer.chunks import overlap_in_chunks

    rng = np.random.default_rng(3)
    n = SR * 47 + 77  # not a whole number of chunks nor of frames
    t = np.arange(n) / SR
    # Two voices' worth of harmonics that come and go, louder in the second half (the level is
    # made relative over the whole call, not per chunk), over a faint noise floor.
    x = 0.003 * rng.standard_normal(n)
    x += 0.1 * np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * t / 7) > 0)
    x += 0.08 * np.sin(2 * np.pi * 230 * t) * (np.sin(2 * np.pi * t / 5) > 0.3)
    x *= np.where(t > 25, 3.0, 1.0)
    x = x.astype(np.float32)
    detector = load_overlap_detector()
    whole = detector.probabilities(x)
    with _on_disk(x[None, :], tmp_path) as disk:
        got = overlap_in_chunks(disk[0], detector, chunk_s=20.0)
    assert got.shape == whole.shape == (1 + n // 160,)
    assert np.abs(got - whole).max() < 1e-4
    assert whole.max() - whole.min() > 0.1  # the signal moves the detector: the test can fail
