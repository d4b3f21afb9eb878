"""Make the bundled sample calls.

    python assets/make_samples.py --ravdess-root ../shared/data    # sample_call.wav (+ truth)
    python assets/make_samples.py --video                          # sample_video_call.mp4 (+ truth)

Nothing is downloaded and the tests never run this: the outputs are committed. Writes, next to
this script:

- sample_call.wav: a stereo 8 kHz telephone-band call made of RAVDESS recordings (Livingstone &
  Russo 2018, CC BY-NC-SA 4.0; see README). Agent on the left channel: actor 20 (female),
  composed throughout (neutral, calm and happy clips). Customer on the right: actor 13 (male),
  neutral at first; after a hold and the bad news he grows angry (normal, then strong intensity,
  shorter gaps), cuts in on the agent, then calms down (neutral, calm). Each turn joins two or
  three clips of one actor and one emotion; RAVDESS has two sentences only ("Kids are talking by
  the door", "Dogs are sitting by the door"), so the words carry no story, the voices do.
  The actors were chosen for their short clips (the call must stay near a minute to keep the file
  under 2 MB), not by what the emotion model says about them; the shipped speech model was
  trained on all RAVDESS actors, these two included.
- sample_video_call.mp4: a 12 s video call with one face that speaks, and 2 s where the camera
  is covered (no face). Speech from espeak-ng (Debian package), the face is scikit-image's
  astronaut photograph (public domain, NASA).
- *.truth.json: the turns (with their emotion and source clips), silences and the cut-in the
  script put there, to check the analysis against.

The call is deterministic: clips are taken in a fixed order, and pauses and line noise come from a
seeded generator.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
CALL_SR = 8000  # Hz, telephone rate
CLIP_SR = 16000  # Hz, the rate of the data folder's FLAC files
VIDEO_SR = 16000  # Hz
VIDEO_FPS = 25
VIDEO_VOICE = ["-v", "en-us+f3", "-s", "160", "-p", "55", "-a", "110"]  # espeak-ng options

ACTORS = {"agent": "ravdess_20", "customer": "ravdess_13"}  # female agent, male customer
TRIM_DB = 35.0  # dB below a clip's loudest frame where its speech starts and ends (a stray click
# or breath further down at the start would otherwise stand as speech in the truth)
EDGE_S = 0.04  # s of the clip kept before and after the trimmed speech
PAUSE_S = (0.12, 0.26)  # s, pause between two clips of one turn (shorter than a turn break)
LEVEL_DBFS = -24.0  # dBFS, speech level of an actor's neutral clips on the line
KEEP_DYNAMICS = 0.35  # share of an actor's loudness change (angry vs neutral) the line keeps
HISS = 2e-3  # std of the line's white noise before band-limiting (the file's floor: about -57 dBFS)
CROSSTALK = 0.056  # each side hears the other 25 dB down, as on real lines
PEAK = 0.89  # the loudest sample of the file (-1 dBFS): nothing clips
YIELD_S = 0.8  # s the agent goes on talking once the customer cuts in, then stops
TAIL_S = 1.0  # s of line noise after the last turn


@dataclass(frozen=True)
class Turn:
    """One turn of the script: who speaks, which clips (RAVDESS emotion, intensity), and when."""

    speaker: str
    clips: tuple[tuple[str, str], ...]  # (label_original, intensity) per clip, in order
    gap_s: float  # pause after the previous turn's end; negative: a cut-in that many s early


N, S = "normal", "strong"
SCRIPT = [
    Turn("agent", (("happy", N), ("happy", N)), 0.5),  # a friendly greeting
    Turn("customer", (("neutral", N), ("neutral", N), ("neutral", N)), 0.7),  # the problem
    Turn("agent", (("calm", N), ("calm", S)), 0.6),  # "one moment, please"
    Turn("agent", (("neutral", N), ("neutral", N)), 5.6),  # after a hold: the bad news
    Turn("customer", (("angry", N), ("angry", N)), 0.5),  # upset
    Turn("agent", (("calm", N), ("calm", N)), 0.45),
    Turn("customer", (("angry", N), ("angry", S)), 0.3),  # angrier, answers faster
    Turn("agent", (("neutral", N), ("calm", N)), 0.3),
    Turn("customer", (("angry", S), ("angry", S), ("angry", S)), -1.6),  # cuts in, shouting
    Turn("agent", (("calm", S), ("neutral", N)), 0.5),  # stays composed, offers a fix
    Turn("customer", (("calm", N), ("neutral", N)), 0.7),  # calms down
    Turn("agent", (("happy", N), ("happy", N)), 0.5),  # thanks, goodbye
    Turn("customer", (("calm", N), ("calm", N)), 0.6),  # a calm goodbye
]


@dataclass(frozen=True)
class Clip:
    path: str  # relative to the data root
    speaker: str
    label: str  # the unified label (calm -> neutral)
    label_original: str
    intensity: str
    text: str


def read_clips(root: Path) -> dict[tuple[str, str, str], list[Clip]]:
    """The actors' RAVDESS clips by (speaker, label_original, intensity), in a fixed order.

    The order alternates the two sentences (statement 01, 02 of repetition 01, then of 02), so
    consecutive clips of a turn do not repeat the same words.
    """
    manifest = root / "speech" / "manifest.csv"
    if not manifest.is_file():
        raise SystemExit(f"no RAVDESS manifest at {manifest} (give the data folder's root)")
    pools: dict[tuple[str, str, str], list[Clip]] = {}
    with manifest.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["corpus"] != "ravdess" or row["speaker"] not in ACTORS.values():
                continue
            clip = Clip(
                row["path"], row["speaker"], row["label"], row["label_original"],
                row["intensity"], row["text"],
            )  # fmt: skip
            pools.setdefault((clip.speaker, clip.label_original, clip.intensity), []).append(clip)
    for clips in pools.values():
        # 03-01-EE-II-SS-RR-AA: sort by repetition, then statement
        clips.sort(key=lambda c: (Path(c.path).stem.split("-")[5], Path(c.path).stem.split("-")[4]))
    return pools


def load_clip(root: Path, clip: Clip) -> np.ndarray:
    """The clip's speech (float32 mono at CLIP_SR), its silent ends trimmed to EDGE_S."""
    import librosa

    audio, rate = sf.read(root / clip.path, dtype="float32")
    if rate != CLIP_SR or audio.ndim != 1:
        raise SystemExit(f"{clip.path}: expected {CLIP_SR} Hz mono, got {rate} Hz {audio.shape}")
    _, (a, b) = librosa.effects.trim(audio, top_db=TRIM_DB, frame_length=400, hop_length=100)
    edge = int(EDGE_S * CLIP_SR)
    return audio[max(0, a - edge) : b + edge]


def speech_db(audio: np.ndarray) -> float:
    """Level of the speech in ``audio`` in dBFS: RMS over the frames within 30 dB of the loudest."""
    hop = CLIP_SR // 100  # 10 ms frames
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    power = np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12
    loud = power[power > power.max() * 1e-3]
    return float(10 * np.log10(loud.mean()))


def to_line(audio: np.ndarray) -> np.ndarray:
    """16 kHz speech to the 8 kHz line rate (polyphase low-pass, no aliasing)."""
    from scipy.signal import resample_poly

    return resample_poly(audio, CALL_SR, CLIP_SR).astype(np.float32)


def speak(text: str, options: list[str], sr: int) -> np.ndarray:
    """Synthesise ``text`` with espeak-ng; returns float32 mono at ``sr``."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is needed: apt-get install espeak-ng")
    wav = subprocess.run(
        ["espeak-ng", *options, "--stdout", text], check=True, capture_output=True
    ).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    import librosa

    return librosa.resample(audio, orig_sr=rate, target_sr=sr).astype(np.float32)


def telephone(x: np.ndarray, sr: int) -> np.ndarray:
    """Band-limit to 300-3400 Hz, as a phone line does."""
    from scipy.signal import butter, sosfilt

    sos = butter(4, [300, 3400], btype="band", fs=sr, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def fade_out(audio: np.ndarray, n: int, *, fade_s: float = 0.05) -> np.ndarray:
    """The first ``n`` samples of ``audio``, faded out over their last ``fade_s``."""
    out = audio[:n].copy()
    m = min(n, int(fade_s * CALL_SR))
    out[n - m :] *= np.linspace(1.0, 0.0, m, dtype=np.float32)
    return out


def make_call(root: Path, path: Path) -> dict:
    """Write the RAVDESS call to ``path``; returns its truth (turns, silences, the cut-in)."""
    rng = np.random.default_rng(7)
    pools = read_clips(root)
    # Each actor's neutral clips set the line level; louder (angrier) clips stay louder, by part
    # of their difference, as a phone line's automatic gain would leave them.
    reference = {
        who: float(np.mean([speech_db(load_clip(root, c)) for c in pools[(spk, "neutral", N)]]))
        for who, spk in ACTORS.items()
    }
    placed: list[dict] = []  # per turn: speaker, start, audio, truth
    end_so_far = 0.0
    for turn in SCRIPT:
        audio_parts, clips = [], []
        for label_original, intensity in turn.clips:
            pool = pools.get((ACTORS[turn.speaker], label_original, intensity), [])
            if not pool:
                raise SystemExit(
                    f"{ACTORS[turn.speaker]}: no {intensity} {label_original} clip left"
                )
            clip = pool.pop(0)
            speech = load_clip(root, clip)
            level = speech_db(speech)
            target = LEVEL_DBFS + KEEP_DYNAMICS * (level - reference[turn.speaker])
            if audio_parts:
                audio_parts.append(np.zeros(int(rng.uniform(*PAUSE_S) * CALL_SR), np.float32))
            audio_parts.append(to_line(speech * 10 ** ((target - level) / 20)))
            clips.append(clip)
        labels = {c.label for c in clips}
        if len(labels) != 1:
            raise SystemExit(f"a turn mixes emotions {sorted(labels)}: one label per turn")
        audio = np.concatenate(audio_parts)
        start = round(end_so_far + turn.gap_s, 3)
        if turn.gap_s < 0:  # a cut-in: the one talking yields YIELD_S later
            prev = placed[-1]
            if prev["speaker"] == turn.speaker:
                raise SystemExit("a speaker cannot cut in on themselves")
            keep = int(round((start + YIELD_S - prev["start"]) * CALL_SR))
            prev["audio"] = fade_out(prev["audio"], keep)
            prev["cut_in_by"] = turn.speaker
        placed.append(
            {
                "speaker": turn.speaker,
                "start": start,
                "audio": audio,
                "emotion": labels.pop(),
                "clips": clips,
            }
        )
        end_so_far = max(p["start"] + len(p["audio"]) / CALL_SR for p in placed)

    n = int(round((end_so_far + TAIL_S) * CALL_SR))
    channels = {who: rng.normal(0, HISS, n).astype(np.float32) for who in ("agent", "customer")}
    for p in placed:
        a = int(round(p["start"] * CALL_SR))
        channels[p["speaker"]][a : a + len(p["audio"])] += p["audio"]
    left, right = telephone(channels["agent"], CALL_SR), telephone(channels["customer"], CALL_SR)
    stereo = np.stack([left + CROSSTALK * right, right + CROSSTALK * left], axis=1)
    stereo = PEAK * stereo / np.abs(stereo).max()
    sf.write(path, stereo, CALL_SR, subtype="PCM_16")

    turns, interruptions = [], []
    for i, p in enumerate(placed):
        end = round(p["start"] + len(p["audio"]) / CALL_SR, 3)
        turns.append(
            {
                "speaker": p["speaker"],
                "start": p["start"],
                "end": end,
                "text": " ".join(f"{c.text}." for c in p["clips"]),
                "emotion": p["emotion"],
                "clip_labels": [f"{c.label_original} {c.intensity}" for c in p["clips"]],
                "clips": [c.path for c in p["clips"]],
            }
        )
        if "cut_in_by" in p:
            interruptions.append(
                {
                    "speaker": p["cut_in_by"],
                    "other": p["speaker"],
                    "start": placed[i + 1]["start"],
                    "end": end,
                }
            )
    silences, last = [], 0.0
    for s, e in sorted((t["start"], t["end"]) for t in turns):
        if s - last >= 5.0:
            silences.append({"start": last, "end": s})
        last = max(last, e)
    return {
        "file": path.name,
        "channels": ["agent", "customer"],
        "sample_rate": CALL_SR,
        "duration_s": n / CALL_SR,
        "source": {
            "corpus": "RAVDESS (Livingstone & Russo 2018), speech audio-only files",
            "licence": "CC BY-NC-SA 4.0",
            "actors": {who: ACTORS[who] for who in ("agent", "customer")},
            "clips_relative_to": "the data folder given as --ravdess-root",
        },
        "turns": turns,
        "silences_over_5s": silences,
        "interruptions": interruptions,
    }


def face_frames(n_frames: int, covered: tuple[float, float], mouth: np.ndarray) -> list:
    """Frames of the astronaut face, gently moving; the camera covered during ``covered``."""
    from skimage import data, transform

    face = data.astronaut()[:300, 100:400]  # the head and shoulders, 300x300
    face = (transform.resize(face, (360, 360), anti_aliasing=True) * 255).astype(np.uint8)
    frames = []
    for i in range(n_frames):
        t = i / VIDEO_FPS
        canvas = np.full((480, 640, 3), (70, 80, 90), dtype=np.uint8)
        if covered[0] <= t < covered[1]:
            canvas[:] = (25, 25, 25)
            frames.append(canvas)
            continue
        dx = int(12 * np.sin(2 * np.pi * t / 5))
        dy = int(6 * np.sin(2 * np.pi * t / 3))
        img = face.copy()
        # Open the mouth while speaking: darken an ellipse between the lips (their centre in
        # this 360 px face, as FaceMesh places it), taller as the mouth opens.
        m = float(mouth[min(i, len(mouth) - 1)])
        if m > 0.02:
            yy, xx = np.ogrid[:360, :360]
            inside = ((xx - 148) / 21.0) ** 2 + ((yy - 176 - 4 * m) / (3 + 11 * m)) ** 2 <= 1
            img[inside] = (img[inside] * 0.3).astype(np.uint8)
        y0, x0 = 60 + dy, 140 + dx
        canvas[y0 : y0 + 360, x0 : x0 + 360] = img
        frames.append(canvas)
    return frames


def make_video(path: Path) -> dict:
    import av

    lines = [
        ("Hi, thanks for joining the call.", VIDEO_VOICE, 0.6),
        ("I checked your order, and it shipped this morning.", VIDEO_VOICE, 0.5),
        ("You should have it by Friday. Anything else?", VIDEO_VOICE, 3.2),
    ]
    audio, turns, t = [], [], 0.0
    for text, opts, gap in lines:
        speech = speak(text, opts, VIDEO_SR)
        audio.append(np.zeros(int(gap * VIDEO_SR), np.float32))
        audio.append(speech)
        turns.append(
            {
                "speaker": "S1",
                "start": round(t + gap, 3),
                "end": round(t + gap + len(speech) / VIDEO_SR, 3),
                "text": text,
            }
        )
        t += gap + len(speech) / VIDEO_SR
    audio.append(np.zeros(int(0.8 * VIDEO_SR), np.float32))
    wav = np.concatenate(audio)
    wav = 0.8 * wav / np.abs(wav).max()
    duration = len(wav) / VIDEO_SR
    n_frames = int(duration * VIDEO_FPS)
    hop = VIDEO_SR // VIDEO_FPS
    env = np.array([np.sqrt(np.mean(wav[i * hop : (i + 1) * hop] ** 2)) for i in range(n_frames)])
    mouth = np.clip(env / (env.max() + 1e-9) * 1.5, 0, 1)
    covered = (turns[1]["end"] + 0.4, turns[1]["end"] + 2.4)
    frames = face_frames(n_frames, covered, mouth)

    container = av.open(str(path), mode="w")
    vs = container.add_stream("libx264", rate=VIDEO_FPS)
    vs.width, vs.height, vs.pix_fmt = 640, 480, "yuv420p"
    vs.options = {"crf": "28", "preset": "veryfast"}
    aus = container.add_stream("aac", rate=VIDEO_SR)
    aus.layout = "mono"
    for img in frames:
        for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            container.mux(packet)
    for packet in vs.encode():
        container.mux(packet)
    step = 1024
    for i in range(0, len(wav), step):
        chunk = wav[i : i + step]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
        frame.sample_rate = VIDEO_SR
        frame.pts = i
        frame.time_base = Fraction(1, VIDEO_SR)
        for packet in aus.encode(frame):
            container.mux(packet)
    for packet in aus.encode():
        container.mux(packet)
    container.close()
    return {
        "file": path.name,
        "duration_s": duration,
        "fps": VIDEO_FPS,
        "turns": turns,
        "no_face": {"start": round(covered[0], 3), "end": round(covered[1], 3)},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Make the bundled sample calls.")
    parser.add_argument(
        "--ravdess-root",
        type=Path,
        help="the data folder holding speech/manifest.csv and the RAVDESS clips: builds the call",
    )
    parser.add_argument(
        "--video", action="store_true", help="build the video call (needs espeak-ng)"
    )
    args = parser.parse_args(argv)
    if args.ravdess_root is None and not args.video:
        parser.error("nothing to build: give --ravdess-root DIR, --video, or both")
    if args.ravdess_root is not None:
        call = make_call(args.ravdess_root, HERE / "sample_call.wav")
        (HERE / "sample_call.truth.json").write_text(json.dumps(call, indent=1) + "\n")
        print(f"wrote {call['file']} ({call['duration_s']:.1f} s, {len(call['turns'])} turns)")
    if args.video:
        video = make_video(HERE / "sample_video_call.mp4")
        (HERE / "sample_video_call.truth.json").write_text(json.dumps(video, indent=1) + "\n")
        print(f"wrote {video['file']} ({video['duration_s']:.1f} s)")


if __name__ == "__main__":
    main()
