"""Speed and memory of the whole engine on this machine.

    python benchmarks/engine_speed.py [--minutes 30] [--video-seconds 60]

Builds (1) a stereo 8 kHz telephone call of ``--minutes`` from the shared acted-speech clips,
agent and customer taking turns on their own channels with gaps, and (2) a video call of
``--video-seconds`` by looping the bundled sample video; analyses each with one Analyzer (models
loaded once, as in a batch) and prints processing time, real-time factor (processing time / call
duration) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def stereo_call(path: Path, minutes: float, seed: int = 0) -> float:
    """Write a stereo 8 kHz call; returns its duration in seconds."""
    import csv

    import librosa

    rows = list(csv.DictReader(open(DATA / "speech" / "manifest.csv")))
    rng = np.random.default_rng(seed)
    actors = sorted({r["speaker"] for r in rows if r["corpus"] == "ravdess"})
    agent, customer = rng.choice(actors, 2, replace=False)
    clips = {s: [r["path"] for r in rows if r["speaker"] == s] for s in (agent, customer)}
    total = int(minutes * 60 * 8000)
    out = np.zeros((total, 2), dtype=np.float32)
    t, ch = 8000, 0
    cache: dict[str, np.ndarray] = {}
    while t < total - 8000 * 6:
        who = (agent, customer)[ch]
        for _ in range(rng.integers(1, 4)):
            p = clips[who][rng.integers(len(clips[who]))]
            if p not in cache:
                x, sr = sf.read(DATA / p, dtype="float32")
                cache[p] = librosa.resample(x, orig_sr=sr, target_sr=8000)
            x = cache[p]
            if t + len(x) >= total:
                break
            out[t : t + len(x), ch] += x
            t += len(x) + int(rng.uniform(0.1, 0.4) * 8000)
        t += int(rng.uniform(0.2, 1.5) * 8000)
        ch = 1 - ch
    out += rng.normal(0, 2e-3, out.shape).astype(np.float32)
    sf.write(path, np.clip(out, -1, 1), 8000, subtype="PCM_16")
    return total / 8000


def looped_video(path: Path, seconds: float) -> float:
    """Loop the bundled sample video call (frames and sound) up to ``seconds``."""
    import av

    src = ROOT / "assets" / "sample_video_call.mp4"
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        fps = int(round(float(vs.average_rate)))
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    from analyzer.media import load_audio

    audio = load_audio(src)[0]
    loops = int(np.ceil(seconds * fps / len(frames)))
    with av.open(str(path), mode="w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.height, v.width = frames[0].shape[:2]
        v.pix_fmt = "yuv420p"
        v.options = {"preset": "veryfast", "crf": "28"}
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        n = 0
        for _ in range(loops):
            for img in frames:
                if n >= seconds * fps:
                    break
                for pkt in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(pkt)
                n += 1
        for pkt in v.encode():
            c.mux(pkt)
        wav = np.tile(audio, loops)[: int(n / fps * 16000)]
        for i in range(0, len(wav), 1024):
            fr = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(wav[None, i : i + 1024]), format="fltp", layout="mono"
            )
            fr.sample_rate, fr.pts, fr.time_base = 16000, i, Fraction(1, 16000)
            for pkt in a.encode(fr):
                c.mux(pkt)
        for pkt in a.encode():
            c.mux(pkt)
    return n / fps


def timed(analyzer, path: Path):
    """(result, seconds, per-stage summary) of one analysis."""
    t0 = time.perf_counter()
    result = analyzer.analyze(path)
    took = time.perf_counter() - t0
    return result, took, ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--video-seconds", type=float, default=60.0)
    parser.add_argument("--skip-video", action="store_true")
    args = parser.parse_args()
    from analyzer import Analyzer

    with tempfile.TemporaryDirectory() as tmp:
        call = Path(tmp) / "call.wav"
        dur = stereo_call(call, args.minutes)
        t0 = time.perf_counter()
        analyzer = Analyzer()
        load_s = time.perf_counter() - t0
        print(
            f"models loaded in {load_s:.1f} s (ser={analyzer.ser and analyzer.ser.name}, "
            f"fer={analyzer.fer and analyzer.fer.name})"
        )
        result, took, stages = timed(analyzer, call)
        print(
            f"audio-only stereo call: {dur / 60:.1f} min in {took:.1f} s -> "
            f"RTF {took / dur:.4f} ({stages})"
        )
        print(
            f"  peak memory so far: {peak_mb():.0f} MB; {len(result.turns)} turns, "
            f"{len(result.segments)} segments, {len(result.events)} events"
        )
        if not args.skip_video:
            video = Path(tmp) / "video.mp4"
            vdur = looped_video(video, args.video_seconds)
            _, took, stages = timed(analyzer, video)
            print(
                f"video call at {analyzer.config.fps:g} fps: {vdur:.0f} s in {took:.1f} s -> "
                f"RTF {took / vdur:.3f} ({stages})"
            )
        print(f"peak resident memory: {peak_mb():.0f} MB")
        analyzer.close()


if __name__ == "__main__":
    main()
