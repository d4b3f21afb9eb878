"""Simulated video calls: the diarization benchmark's mono calls with a face per voice.

Each voice gets a tile of a video call (640 x 360, 15 fps, H.264 + AAC in MP4): two side by side,
three or four in a 2 x 2 gallery. The face is scikit-image's astronaut photograph (public
domain, NASA), mirrored for every second tile; the mouth is opened by darkening an ellipse
between the lips of the still photograph. Nothing in
the picture comes from the voice's audio: the mouth follows the reference timing only, so what a
benchmark measures is how the analyser uses "this face is talking", not a copy of the waveform.

How the mouths move (``Mouths()``, fixed before any figure was read; ``HARD_MOUTHS`` is a harder
picture for robustness figures):
- while its voice speaks (the reference's segments, shifted by a lead of 0-120 ms drawn per call:
  lips move a little before the sound), a mouth opens and closes at a syllable rate drawn per
  call (3-6 Hz, wandering), each syllable opening 0.2-1.0, one in six staying shut;
- while listening, the mouth moves too: about one event every 12 s (a smile, "mm-hm", a word to
  oneself), 0.3-1.2 s long, opening up to 0.5, often while the other one talks;
- landmark noise (the openness jitters by 0.05) and head movement (slow sway, small nods);
- each face leaves the picture for 1-2 spells of 2-5 s (camera off, looking away), at random.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from analyzer.segment import Segment

FPS = 15
WIDTH, HEIGHT = 640, 360
FACE_PX = 250  # the face tile's side (two tiles)
GRID_FACE_PX = 160  # ... in a 2 x 2 gallery (three or four voices)
PIP_FACE_PX = (420, 110)  # picture in picture: the other party's close-up (cut by the frame's
# top and bottom edges), the own camera inset
MOUTH_XY = (102.5, 122.0)  # inner-lip centre of the (unmirrored) photograph at FACE_PX, px
MOUTH_HALF_WIDTH = 15.0  # px
SYLLABLE_HZ = (3.0, 6.0)
LISTENER_EVENT_S = (0.3, 1.2)
AWAY_SPELLS = (1, 2)
AWAY_S = (2.0, 5.0)
AUDIO_RATE = 16000
SPEAKER_VIEW_LAG_S = (0.5, 1.5)  # s a speaker view waits, per call, before showing a new talker


@dataclass(frozen=True)
class Mouths:
    """How the mouths move (the module's list): the plain style, or ``HARD_MOUTHS``."""

    lead_s: tuple[float, float] = (0.0, 0.12)  # lips move before the sound
    syllable_open: tuple[float, float] = (0.2, 1.0)  # how far a syllable opens the mouth
    shut_syllable: float = 1 / 6  # share of syllables said with the mouth barely open
    listener_events_per_s: float = 1 / 12
    listener_open: tuple[float, float] = (0.1, 0.5)
    jitter: float = 0.05  # landmark noise on the openness


# Mumbled speech and a restless listener: syllables open the mouth about half as far, a quarter
# of them stay shut, lips lead the sound by up to 0.25 s, the listener moves their mouth every
# 4 s on average about as far as a talker does, and the landmarks are noisier (a harder picture
# than any constant was chosen on; for robustness figures only).
HARD_MOUTHS = Mouths(
    lead_s=(0.0, 0.25),
    syllable_open=(0.1, 0.6),
    shut_syllable=1 / 4,
    listener_events_per_s=1 / 4,
    listener_open=(0.1, 0.6),
    jitter=0.08,
)


@dataclass(frozen=True)
class VideoCall:
    """Where a rendered call lies and what its faces did."""

    path: Path
    speakers: list[str]  # tile order: speakers[0] on the left
    away: dict[str, list[Segment]]  # per speaker, spells with no face in its tile


def _face(size: int = FACE_PX) -> np.ndarray:
    from skimage import data, transform

    face = data.astronaut()[:300, 100:400]
    return (transform.resize(face, (size, size), anti_aliasing=True) * 255).astype(np.uint8)


def layout(n: int, view: str = "tiles") -> list[tuple[int, int, int]]:
    """(x, y, side) in px of each face tile: two side by side, three or four in a 2 x 2 grid
    (a gallery view; a fourth cell stays empty for three); ``view`` "pip": two, the first
    face large in the middle, the second a small inset at the bottom right (a 1:1 call
    recorded on one side: the other party full frame, the own camera in a corner)."""
    if view == "speaker":  # one camera at a time, full frame: every face at one place
        big = PIP_FACE_PX[0]
        return [((WIDTH - big) // 2, (HEIGHT - big) // 2, big)] * n
    if view == "pip":
        if n != 2:
            raise ValueError("a picture-in-picture call has two faces")
        big, small = PIP_FACE_PX
        return [((WIDTH - big) // 2, (HEIGHT - big) // 2, big),
                (WIDTH - small - 12, HEIGHT - small - 12, small)]  # fmt: skip
    if n <= 2:
        return [(35, 55, FACE_PX), (355, 55, FACE_PX)][:n]
    side = GRID_FACE_PX
    cell_w, cell_h = WIDTH // 2, HEIGHT // 2
    return [
        (cell_w * (j % 2) + (cell_w - side) // 2, cell_h * (j // 2) + (cell_h - side) // 2, side)
        for j in range(n)
    ]


def mouth_track(
    times: np.ndarray,
    speech: list[Segment],
    rng: np.random.Generator,
    style: Mouths = Mouths(),
) -> np.ndarray:
    """Openness in [0, 1] at ``times`` for a face whose voice speaks in ``speech``."""
    lead = rng.uniform(*style.lead_s)
    talking = np.zeros(len(times), dtype=bool)
    for seg in speech:
        talking |= (times >= seg.start - lead) & (times < seg.end - lead)
    # Syllables: a phase that advances at a wandering rate; each cycle one opening.
    rate = rng.uniform(*SYLLABLE_HZ) * np.exp(np.cumsum(rng.normal(0, 0.02, len(times))))
    rate = np.clip(rate, *SYLLABLE_HZ)
    phase = np.cumsum(rate) / FPS
    cycle = np.floor(phase).astype(int)
    amp = rng.uniform(*style.syllable_open, cycle.max() + 2)
    amp[rng.random(len(amp)) < style.shut_syllable] = 0.0
    open_ = amp[cycle] * 0.5 * (1 - np.cos(2 * np.pi * phase))
    out = np.where(talking, open_, 0.0)
    # The listener's own movements.
    duration = times[-1] if len(times) else 0.0
    for _ in range(rng.poisson(style.listener_events_per_s * duration)):
        start = rng.uniform(0, duration)
        inside = (times >= start) & (times < start + rng.uniform(*LISTENER_EVENT_S)) & ~talking
        wobble = 0.5 * (1 - np.cos(2 * np.pi * rng.uniform(1, 3) * (times[inside] - start)))
        out[inside] = rng.uniform(*style.listener_open) * wobble
    return np.clip(out + rng.normal(0, style.jitter, len(times)), 0.0, 1.0)


def shown_speaker(
    times: np.ndarray, reference: list[tuple[str, Segment]], speakers: list[str], lag_s: float
) -> np.ndarray:
    """Index into ``speakers`` of the camera a speaker view shows at each of ``times``: the
    first voice heard, then whoever has talked without a break for ``lag_s`` (a short remark
    does not take the picture), kept until another one does."""
    talking = np.zeros((len(speakers), len(times)), dtype=bool)
    for spk, seg in reference:
        if spk in speakers:
            talking[speakers.index(spk)] |= (times >= seg.start) & (times < seg.end)
    starts = [min((g.start for s, g in reference if s == spk), default=np.inf) for spk in speakers]
    current = int(np.argmin(starts)) if reference else 0
    since = np.zeros(len(speakers))  # s each voice has talked without a break
    step = float(times[1] - times[0]) if len(times) > 1 else 1.0 / FPS
    out = np.zeros(len(times), dtype=int)
    for i in range(len(times)):
        since = np.where(talking[:, i], since + step, 0.0)
        ready = [j for j in range(len(speakers)) if j != current and since[j] >= lag_s]
        if ready:
            current = max(ready, key=lambda j: since[j])
        out[i] = current
    return out


def away_spells(duration: float, rng: np.random.Generator) -> list[Segment]:
    spells = []
    for _ in range(rng.integers(AWAY_SPELLS[0], AWAY_SPELLS[1] + 1)):
        start = rng.uniform(0, max(duration - AWAY_S[1], 0.0))
        spells.append(Segment(start, start + rng.uniform(*AWAY_S)))
    return spells


def render_call(
    path: Path,
    audio: np.ndarray,
    reference: list[tuple[str, Segment]],
    speakers: list[str],
    *,
    seed: int,
    away: dict[str, list[Segment]] | None = None,
    mouths: Mouths = Mouths(),
    view: str = "tiles",
) -> VideoCall:
    """Write ``audio`` (float32 mono at 16 kHz) with a two-tile video of ``speakers`` to ``path``
    (MP4). ``reference``: (speaker, Segment) speech of each voice; ``away``: the spells each
    face is gone (default: drawn at random, see the module); mouths: how they move; view:
    "tiles" or "pip" (see ``layout``), or "speaker": one camera at a time, full frame, the
    picture cut to a new talker after a lag drawn per call (``shown_speaker``); each camera
    has its own background and colour cast, as people's rooms and webcams differ."""
    import av

    if not 2 <= len(speakers) <= 4:
        raise ValueError("a rendered call has two to four speakers")
    rng = np.random.default_rng(seed)
    duration = len(audio) / AUDIO_RATE
    times = np.arange(int(duration * FPS)) / FPS
    places = layout(len(speakers), view)
    mouths = [
        mouth_track(times, [seg for spk, seg in reference if spk == s], rng, mouths)
        for s in speakers
    ]
    drawn = {s: away_spells(duration, rng) for s in speakers}
    away = drawn if away is None else {s: away.get(s, []) for s in speakers}
    sway = [rng.uniform(0, 2 * np.pi, 2) for _ in speakers]
    backdrop = [np.array((40, 44, 52), dtype=np.uint8)] * len(speakers)
    cast = [np.ones(3)] * len(speakers)
    showing = None
    if view == "speaker":
        backdrop = [rng.integers(20, 230, 3).astype(np.uint8) for _ in speakers]
        cast = [rng.uniform(0.8, 1.2, 3) for _ in speakers]
        lag = float(rng.uniform(*SPEAKER_VIEW_LAG_S))
        showing = shown_speaker(times, reference, list(speakers), lag)
    faces = {}
    for size in {size for _, _, size in places}:
        face = _face(size)
        faces[size] = (face, face[:, ::-1].copy())

    container = av.open(str(path), mode="w")
    video = container.add_stream("libx264", rate=FPS)
    video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    video.options = {"crf": "26", "preset": "veryfast"}
    sound = container.add_stream("aac", rate=AUDIO_RATE)
    sound.layout = "mono"
    for i, t in enumerate(times):
        canvas = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
        canvas[:] = backdrop[0 if showing is None else int(showing[i])]
        for j, speaker in enumerate(speakers):
            if showing is not None and j != showing[i]:
                continue
            if any(s.start <= t < s.end for s in away[speaker]):
                continue
            x, y, size = places[j]
            img = faces[size][j % 2].copy()
            m = float(mouths[j][i])
            if m > 0.02:
                k = size / FACE_PX
                cx = MOUTH_XY[0] * k if j % 2 == 0 else size - MOUTH_XY[0] * k
                yy, xx = np.ogrid[:size, :size]
                inside = ((xx - cx) / (MOUTH_HALF_WIDTH * k)) ** 2 + (
                    (yy - (MOUTH_XY[1] + 3 * m) * k) / ((2 + 8 * m) * k)
                ) ** 2 <= 1
                img[inside] = (img[inside] * 0.3).astype(np.uint8)
            if view == "speaker":
                img = np.clip(img * cast[j], 0, 255).astype(np.uint8)
            x0 = x + int(round(6 * size / FACE_PX * np.sin(2 * np.pi * t / 7 + sway[j][0])))
            y0 = y + int(round(4 * size / FACE_PX * np.sin(2 * np.pi * t / 3 + sway[j][1])))
            top, left = max(0, -y0), max(0, -x0)  # a close-up larger than the frame is cut
            bottom, right = min(size, HEIGHT - y0), min(size, WIDTH - x0)
            canvas[y0 + top : y0 + bottom, x0 + left : x0 + right] = img[top:bottom, left:right]
        for packet in video.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
            container.mux(packet)
    for packet in video.encode():
        container.mux(packet)
    # The whole track as one frame: PyAV cuts it into the encoder's own frame size.
    whole = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(audio, dtype=np.float32)[None, :], format="fltp", layout="mono"
    )
    whole.sample_rate, whole.pts, whole.time_base = AUDIO_RATE, 0, Fraction(1, AUDIO_RATE)
    for packet in [*sound.encode(whole), *sound.encode()]:
        container.mux(packet)
    container.close()
    return VideoCall(path, list(speakers), away)
