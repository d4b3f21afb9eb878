"""Make the bundled sample calls (run: python assets/make_samples.py).

Nothing is downloaded: speech is synthesised with espeak-ng (Debian package), the face is
scikit-image's astronaut photograph (public domain, NASA). Writes, next to this script:

- sample_call.wav: a stereo 8 kHz telephone-style call, agent on the left channel, customer on
  the right; the customer grows upset, a long silence falls, the customer cuts in on the agent,
  then calms down.
- sample_video_call.mp4: a 12 s video call with one face that speaks, and 2 s where the camera
  is covered (no face).
- *.truth.json: the turns and silences the script put there, to check the analysis against.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
CALL_SR = 8000  # Hz, telephone rate
VIDEO_SR = 16000  # Hz
VIDEO_FPS = 25

# (channel, text, espeak options, gap before in seconds); negative gap = overlap (cut-in).
AGENT = ["-v", "en-us+f3", "-s", "160", "-p", "55", "-a", "110"]
CALM = ["-v", "en+m3", "-s", "155", "-p", "40", "-a", "100"]
UPSET = ["-v", "en+m3", "-s", "200", "-p", "75", "-a", "200"]
SCRIPT = [
    ("agent", "Thank you for calling, my name is Anna. How can I help you today?", AGENT, 0.5),
    (
        "customer",
        "Hello. I am calling about my internet connection. It stopped working yesterday.",
        CALM,
        0.6,
    ),
    (
        "agent",
        "I am sorry to hear that. Let me look at your account. One moment please.",
        AGENT,
        0.5,
    ),
    ("customer", "Sure, take your time.", CALM, 0.4),
    ("agent", "I can see an outage in your area. A technician can visit next week.", AGENT, 6.5),
    ("customer", "Next week? This is unacceptable! I have called three times already!", UPSET, 0.3),
    ("customer", "I work from home. You are wasting my time!", UPSET, 0.3),
    ("agent", "I understand, and I am sorry. Let me see what I can do for you right", AGENT, 0.4),
    ("customer", "No, I want this fixed today!", UPSET, -1.2),
    (
        "agent",
        "I have booked a technician for tomorrow morning, and a refund for this month.",
        AGENT,
        0.6,
    ),
    ("customer", "Tomorrow morning. Okay. Thank you, that helps.", CALM, 0.5),
    ("agent", "You are welcome. Is there anything else I can do for you?", AGENT, 0.5),
    ("customer", "No, that is all. Thanks, goodbye.", CALM, 0.4),
]


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


def make_call(path: Path) -> dict:
    rng = np.random.default_rng(7)
    channels = {"agent": [], "customer": []}
    t = 0.0
    turns, pieces = [], []
    for who, text, opts, gap in SCRIPT:
        audio = speak(text, opts, CALL_SR)
        start = max(0.0, t + gap)
        pieces.append((who, start, audio))
        turns.append(
            {
                "speaker": who,
                "start": round(start, 3),
                "end": round(start + len(audio) / CALL_SR, 3),
                "text": text,
            }
        )
        t = max(t, start + len(audio) / CALL_SR)
    n = int((t + 1.0) * CALL_SR)
    for who in channels:
        channels[who] = rng.normal(0, 2e-3, n).astype(np.float32)  # line hiss
    for who, start, audio in pieces:
        a = int(start * CALL_SR)
        channels[who][a : a + len(audio)] += audio
    left, right = telephone(channels["agent"], CALL_SR), telephone(channels["customer"], CALL_SR)
    # A little crosstalk: each side hears the other 25 dB down, as on real lines.
    stereo = np.stack([left + 0.056 * right, right + 0.056 * left], axis=1)
    stereo = 0.9 * stereo / np.abs(stereo).max()
    sf.write(path, stereo, CALL_SR, subtype="PCM_16")
    speech = sorted((x["start"], x["end"]) for x in turns)
    silences, end = [], 0.0
    for s, e in speech:
        if s - end >= 5.0:
            silences.append({"start": end, "end": s})
        end = max(end, e)
    return {
        "file": path.name,
        "channels": ["agent", "customer"],
        "sample_rate": CALL_SR,
        "duration_s": n / CALL_SR,
        "turns": turns,
        "silences_over_5s": silences,
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
        # Open the mouth a little while speaking: darken a mouth-shaped ellipse.
        m = float(mouth[min(i, len(mouth) - 1)])
        if m > 0:
            yy, xx = np.ogrid[:360, :360]
            inside = ((xx - 190) / 26.0) ** 2 + ((yy - 245) / (3 + 9 * m)) ** 2 <= 1
            img[inside] = (img[inside] * 0.3).astype(np.uint8)
        y0, x0 = 60 + dy, 140 + dx
        canvas[y0 : y0 + 360, x0 : x0 + 360] = img
        frames.append(canvas)
    return frames


def make_video(path: Path) -> dict:
    import av

    lines = [
        ("Hi, thanks for joining the call.", AGENT, 0.6),
        ("I checked your order, and it shipped this morning.", AGENT, 0.5),
        ("You should have it by Friday. Anything else?", AGENT, 3.2),
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


def main() -> None:
    call = make_call(HERE / "sample_call.wav")
    (HERE / "sample_call.truth.json").write_text(json.dumps(call, indent=1) + "\n")
    video = make_video(HERE / "sample_video_call.mp4")
    (HERE / "sample_video_call.truth.json").write_text(json.dumps(video, indent=1) + "\n")
    print(
        f"wrote {call['file']} ({call['duration_s']:.1f} s) and {video['file']} "
        f"({video['duration_s']:.1f} s)"
    )


if __name__ == "__main__":
    main()
