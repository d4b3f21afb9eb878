"""Speed (and memory) of the engine and its model stages on this machine.

    python -m benchmarks.speed --stage ser [--ser-model NAME] [--ser-seconds 60] [--window 3]
                               [--threads 1] [--repeats 3]
    python -m benchmarks.speed --stage fer [--fer-model NAME] [--threads 1] [--calls 300]
    python -m benchmarks.speed --stage engine [--minutes 30] [--video-seconds 60] [--skip-video]
    python -m benchmarks.speed --stage faces [--video FILE] [--repeats 3]
    python -m benchmarks.speed --stage all     # each stage in its own process, one after another

Stages:
  ser     Real-time factor of the speech emotion stage: ``--ser-seconds`` of speech (RAVDESS clips
          from the shared data when present, else a seeded synthetic voiced signal) cut into
          ``--window`` second windows, ``model.predict(windows, groups=...)`` timed after one
          warm-up call with ``--threads`` encoder threads. RTF = processing seconds / audio
          seconds (lower is faster; the target is 0.01); prints the best of ``--repeats``, the
          last line being ``RTF x``.
  fer     CPU cost of the face path per face: ms at batch 1 (median and 90th percentile of
          ``--calls`` ``predict`` calls on one crop, the shipped flip test-time augmentation
          included), faces per second at batch 64 and 256, and the ms of ``align_face`` /
          ``face_quality`` on a 512x512 frame (skimage's astronaut, FaceMesh landmarks found
          once), with ``--threads`` torch threads. FaceMesh itself is not timed (about 8-13 ms
          per frame, see ENVIRONMENT.md). Prints one JSON line.
  engine  The whole engine, models loaded once as in a batch: (1) a stereo 8 kHz telephone call
          of ``--minutes`` built from the shared acted-speech clips, agent and customer taking
          turns on their own channels with gaps, and (2) a video call of ``--video-seconds``
          looping the bundled sample video. Prints processing time, real-time factor
          (processing time / call duration), per-stage timings and the process's peak
          resident memory.
  faces   CPU seconds of the face stage per second of video (FaceMesh, tracking, cues and the
          tile searches; no expression model) on ``--video`` (default: the bundled sample) at
          5 fps, with the search for a picture-in-picture inset beside a close-up on (as
          shipped) and off; the frames are decoded once, before the timing; best of
          ``--repeats``. Prints one JSON line.
``all`` runs every stage in a fresh process with the options given, so that one stage's thread
setting or memory never shows in another's figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from train.data import REPO_ROOT, SHARED_DATA, SPEECH_MANIFEST

STAGES = ("ser", "fer", "engine", "faces")
SR = 16000  # Hz, the engine's analysis rate
PHONE_SR = 8000  # Hz, the simulated telephone call's rate


# ------------------------------------------------------------------------------------------ ser


def speech(seconds: float) -> np.ndarray:
    """``seconds`` of 16 kHz speech: concatenated RAVDESS clips, or a synthetic voiced signal."""
    from train.ser import load_audio, resolve_audio_path

    n = int(seconds * SR)
    if SPEECH_MANIFEST.is_file():
        with open(SPEECH_MANIFEST, newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["corpus"] == "ravdess"]
        parts, total = [], 0
        for r in rows[::7]:
            wave = load_audio(resolve_audio_path(r["path"], SPEECH_MANIFEST.parent))
            parts.append(wave)
            total += len(wave)
            if total >= n:
                return np.concatenate(parts)[:n]
    rng = np.random.default_rng(0)
    t = np.arange(n) / SR
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 15))
    return (0.1 * voiced + 0.01 * rng.standard_normal(n)).astype(np.float32)


def ser_speed(args: argparse.Namespace) -> float:
    """Print and return the speech emotion stage's real-time factor."""
    from analyzer.audio.ser import SpeechEmotionModel
    from analyzer.models import load_model

    model = load_model(args.ser_model, "ser")
    assert isinstance(model, SpeechEmotionModel)
    model.threads = args.threads
    audio = speech(args.ser_seconds)
    size = int(args.window * SR)
    windows = [audio[s : s + size] for s in range(0, len(audio) - size + 1, size)]
    if not windows:
        raise SystemExit(f"--ser-seconds {args.ser_seconds} is shorter than one --window")
    groups = ["speaker"] * len(windows)
    model.predict(windows[:2], groups=None)  # warm-up: loads the encoder
    best = np.inf
    for _ in range(args.repeats):
        start = time.perf_counter()
        scores = model.predict(windows, groups=groups)
        best = min(best, time.perf_counter() - start)
    audio_s = len(windows) * args.window
    rtf = best / audio_s
    print(
        f"{len(windows)} windows x {args.window:.1f} s = {audio_s:.0f} s of speech in {best:.2f} s "
        f"({args.threads} thread(s)): RTF {rtf:.4f}; top labels "
        f"{np.bincount(scores.probs.argmax(axis=1), minlength=7).tolist()}"
    )
    print(f"RTF {rtf:.4f}")
    return rtf


# ------------------------------------------------------------------------------------------ fer


def _ms(fn, calls: int) -> np.ndarray:
    """Milliseconds of ``calls`` calls of ``fn`` [calls], after two warm-up calls."""
    fn()  # warm-up: first call allocates
    fn()
    out = np.empty(calls)
    for i in range(calls):
        t = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t) * 1000.0
    return out


def _astronaut_landmarks():
    import mediapipe as mp
    from skimage.data import astronaut

    image = astronaut()
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        face = mesh.process(image).multi_face_landmarks[0].landmark
    return image, np.array([(p.x * 512, p.y * 512, p.z * 512) for p in face])


def fer_speed(args: argparse.Namespace) -> dict:
    """Print (one JSON line) and return the face path's per-face costs."""
    import torch

    from analyzer.models import load_model
    from analyzer.video.align import align_face, face_quality

    torch.set_num_threads(args.threads)
    model = load_model(args.fer_model, "fer")
    rng = np.random.default_rng(0)
    crops = list(rng.integers(0, 256, (256, 48, 48), dtype=np.uint8))
    single = _ms(lambda: model.predict(crops[:1]), args.calls)
    result = {
        "model": model.name,
        "threads": args.threads,
        "flip_tta": getattr(model, "flip_tta", None),
        "batch1_ms_median": round(float(np.median(single)), 3),
        "batch1_ms_p90": round(float(np.percentile(single, 90)), 3),
    }
    for batch in (64, 256):
        ms = _ms(lambda b=batch: model.predict(crops[:b]), max(args.calls // 20, 5))
        result[f"batch{batch}_faces_per_s"] = round(batch / (float(np.median(ms)) / 1000.0), 1)
    image, landmarks = _astronaut_landmarks()
    align_ms = _ms(lambda: align_face(image, landmarks), args.calls)
    quality_ms = _ms(lambda: face_quality(image, landmarks), args.calls)
    result["align_face_ms"] = round(float(np.median(align_ms)), 3)
    result["face_quality_ms"] = round(float(np.median(quality_ms)), 3)
    print(json.dumps(result))
    return result


# --------------------------------------------------------------------------------------- engine


def stereo_call(path: Path, minutes: float, seed: int = 0) -> float:
    """Write a stereo 8 kHz call; returns its duration in seconds."""
    import librosa
    import soundfile as sf

    if not SPEECH_MANIFEST.is_file():
        raise SystemExit(f"the engine stage builds its call from {SPEECH_MANIFEST}: not found")
    with open(SPEECH_MANIFEST, newline="") as fh:
        rows = list(csv.DictReader(fh))
    rng = np.random.default_rng(seed)
    actors = sorted({r["speaker"] for r in rows if r["corpus"] == "ravdess"})
    agent, customer = rng.choice(actors, 2, replace=False)
    clips = {s: [r["path"] for r in rows if r["speaker"] == s] for s in (agent, customer)}
    total = int(minutes * 60 * PHONE_SR)
    out = np.zeros((total, 2), dtype=np.float32)
    t, ch = PHONE_SR, 0
    cache: dict[str, np.ndarray] = {}
    while t < total - PHONE_SR * 6:
        who = (agent, customer)[ch]
        for _ in range(rng.integers(1, 4)):
            p = clips[who][rng.integers(len(clips[who]))]
            if p not in cache:
                x, sr = sf.read(SHARED_DATA / p, dtype="float32")
                cache[p] = librosa.resample(x, orig_sr=sr, target_sr=PHONE_SR)
            x = cache[p]
            if t + len(x) >= total:
                break
            out[t : t + len(x), ch] += x
            t += len(x) + int(rng.uniform(0.1, 0.4) * PHONE_SR)
        t += int(rng.uniform(0.2, 1.5) * PHONE_SR)
        ch = 1 - ch
    out += rng.normal(0, 2e-3, out.shape).astype(np.float32)
    sf.write(path, np.clip(out, -1, 1), PHONE_SR, subtype="PCM_16")
    return total / PHONE_SR


def looped_video(path: Path, seconds: float) -> float:
    """Loop the bundled sample video call (frames and sound) up to ``seconds``."""
    import av

    from analyzer.media import load_audio

    src = REPO_ROOT / "assets" / "sample_video_call.mp4"
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        fps = int(round(float(vs.average_rate)))
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    audio = load_audio(src)[0]
    loops = int(np.ceil(seconds * fps / len(frames)))
    with av.open(str(path), mode="w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.height, v.width = frames[0].shape[:2]
        v.pix_fmt = "yuv420p"
        v.options = {"preset": "veryfast", "crf": "28"}
        a = c.add_stream("aac", rate=SR)
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
        wav = np.tile(audio, loops)[: int(n / fps * SR)]
        for i in range(0, len(wav), 1024):
            fr = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(wav[None, i : i + 1024]), format="fltp", layout="mono"
            )
            fr.sample_rate, fr.pts, fr.time_base = SR, i, Fraction(1, SR)
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
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def faces_speed(args: argparse.Namespace) -> dict:
    """Print and return the face stage's CPU seconds per second of video, inset search on/off."""
    import math
    import time

    from analyzer.media import iter_video_frames
    from analyzer.video import faces

    video = args.video or REPO_ROOT / "assets" / "sample_video_call.mp4"
    frames = list(iter_video_frames(video, fps=5, max_side=640))
    seconds = max(frames[-1].time, 1e-9) if frames else 0.0
    if not seconds:
        raise SystemExit(f"{video}: no video frames")
    shipped = faces.PIP_SEARCH_EVERY_S
    out: dict = {"video": str(video), "video_s": round(seconds, 1)}
    for label, every in (("inset_search_on", shipped), ("inset_search_off", math.inf)):
        faces.PIP_SEARCH_EVERY_S = every
        best = math.inf
        for _ in range(args.repeats):
            t0 = time.process_time()
            with faces.FaceAnalyzer() as analyzer:
                analyzer.analyze(iter(frames))
            best = min(best, time.process_time() - t0)
        out[label] = round(best / seconds, 4)
    faces.PIP_SEARCH_EVERY_S = shipped
    print(json.dumps(out))
    return out


def engine_speed(args: argparse.Namespace) -> None:
    """Print the whole engine's time, real-time factor and peak memory on the two calls."""
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


# ------------------------------------------------------------------------------------------ CLI


def build_parser() -> argparse.ArgumentParser:
    from analyzer.models import DEFAULT_MODELS
    from train.fer import DEFAULT_MODEL as FER_MODEL

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stage", required=True, choices=(*STAGES, "all"))
    parser.add_argument("--threads", type=int, default=1, help="ser: encoder; fer: torch threads")
    ser = parser.add_argument_group("ser")
    ser.add_argument(
        "--ser-model", default=DEFAULT_MODELS["ser"], help="model name or folder (default: shipped)"
    )
    ser.add_argument("--ser-seconds", type=float, default=60.0, help="seconds of speech")
    ser.add_argument("--window", type=float, default=3.0, help="window length in seconds")
    ser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is printed")
    fer = parser.add_argument_group("fer")
    fer.add_argument("--fer-model", default=FER_MODEL, help="model name or folder")
    fer.add_argument("--calls", type=int, default=300, help="timed predict calls at batch 1")
    engine = parser.add_argument_group("engine")
    engine.add_argument("--minutes", type=float, default=30.0, help="stereo call length")
    engine.add_argument("--video-seconds", type=float, default=60.0, help="video call length")
    engine.add_argument("--skip-video", action="store_true", help="only the audio call")
    faces = parser.add_argument_group("faces")
    faces.add_argument("--video", help="video file (default: the bundled sample)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.stage == "ser":
        ser_speed(args)
    elif args.stage == "fer":
        fer_speed(args)
    elif args.stage == "engine":
        engine_speed(args)
    elif args.stage == "faces":
        faces_speed(args)
    else:  # each stage alone in a fresh process: threads and peak memory stay its own
        failed = []
        for stage in STAGES:
            print(f"== {stage}", flush=True)
            # the last --stage wins in argparse: the same options, this one stage
            command = [sys.executable, "-m", "benchmarks.speed", *argv, "--stage", stage]
            if subprocess.run(command, cwd=REPO_ROOT).returncode != 0:
                failed.append(stage)
        if failed:
            print(f"failed stages: {', '.join(failed)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
