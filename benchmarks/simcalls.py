"""Simulated conversations built from the shared acted-speech clips, with known turns.

Used by the diarization benchmark: two (or more) different actors take turns with gaps and
some overlapping starts, as in a call.

The reference marks where a voice is, not where a clip is: each clip is run through the silero
VAD on its own, before mixing, and its speech intervals (pauses under 0.3 s bridged, the same
convention as the analyzer's VAD) become that speaker's reference turns. Clip edges, quiet tails
and the pauses between clips of one turn are therefore silence in the reference. Where two
speakers' intervals intersect (overlapping turn starts) both are active in the reference.
Clips in which the VAD finds no voice at all (13 strongly shouted RAVDESS clips, 10 of them by
actor 06) are left out: there is no reference for them and no diarizer would see them.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from analyzer.segment import Segment

SR = 16000
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REF_MIN_PAUSE_S = 0.3  # s; pauses inside a clip shorter than this stay inside the reference turn
REF_PAD_S = 0.03  # s; each reference interval is padded like the analyzer's speech segments


def load_manifest(root: Path = DATA) -> list[dict]:
    with open(root / "speech" / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def _vad():
    from analyzer.audio.vad import VoiceActivityDetector

    return VoiceActivityDetector()


@lru_cache(maxsize=4096)
def load_clip(path: Path) -> tuple[np.ndarray, tuple[Segment, ...]]:
    """A clip cut to its voice (from its first to its last VAD speech interval, padded) and
    the speech intervals inside the cut clip (seconds from the cut's start)."""
    from analyzer.audio.vad import speech_segments

    wav = sf.read(path, dtype="float32")[0]
    speech = speech_segments(
        _vad().probabilities(wav),
        min_silence_s=REF_MIN_PAUSE_S,
        pad_s=REF_PAD_S,
        duration_s=len(wav) / SR,
    )
    if not speech:  # the VAD hears no voice (a few shouted RAVDESS clips): unusable here
        return wav[:0], ()
    a, b = int(speech[0].start * SR), int(np.ceil(speech[-1].end * SR))
    off = a / SR
    return wav[a:b], tuple(Segment(s.start - off, min(s.end - off, (b - a) / SR)) for s in speech)


def simulate_call(
    rows: list[dict],
    speakers: list[str],
    *,
    n_turns: int = 16,
    max_clips: int = 3,
    seed: int = 0,
    overlap_prob: float = 0.15,
    emotions: dict[str, set[str]] | None = None,
    root: Path = DATA,
    tracks: bool = False,
) -> tuple[np.ndarray, list[tuple[str, Segment]]]:
    """A mono call of ``n_turns`` alternating turns by ``speakers`` (manifest speaker ids).

    Each turn is 1-``max_clips`` (default 3) clips of that speaker joined by pauses of 0.1-0.5 s;
    turns are separated by gaps of 0.2-1.5 s, or start 0.3-0.8 s before the previous turn ends
    with probability ``overlap_prob``. ``emotions`` restricts each speaker to some labels (a
    caller stays in a narrow emotional range, unlike an actor cycling through all seven).
    Returns (audio float32 [samples] at 16 kHz, reference turns: (speaker, Segment) per VAD
    speech interval of each clip, sorted by start). ``tracks``: audio [speakers, samples] instead,
    each speaker on a track of their own (a stereo call's channels), same timing and noise.
    """
    rng = np.random.default_rng(seed)
    emotions = emotions or {}
    by_spk = {
        s: [
            r
            for r in rows
            if r["speaker"] == s
            and r["label"] in emotions.get(s, {r["label"]})
            and load_clip(root / r["path"])[1]
        ]
        for s in speakers
    }
    pieces: list[tuple[int, np.ndarray]] = []
    t = int(0.5 * SR)
    ref: list[tuple[str, Segment]] = []
    for i in range(n_turns):
        spk = speakers[i % len(speakers)]
        picks = rng.choice(
            len(by_spk[spk]),
            size=min(rng.integers(1, max_clips + 1), len(by_spk[spk])),
            replace=False,
        )
        clips = [load_clip(root / by_spk[spk][j]["path"]) for j in picks]
        pauses = [int(rng.uniform(0.1, 0.5) * SR) for _ in clips[1:]] + [0]
        if i > 0 and rng.random() < overlap_prob:
            t -= int(rng.uniform(0.3, 0.8) * SR)
        elif i > 0:
            t += int(rng.uniform(0.2, 1.5) * SR)
        parts, pos = [], 0
        for (wav, speech), pause in zip(clips, pauses):
            ref += [
                (spk, Segment((t + pos) / SR + s.start, (t + pos) / SR + s.end)) for s in speech
            ]
            parts += [wav, np.zeros(pause, dtype=np.float32)]
            pos += len(wav) + pause
        turn = np.concatenate(parts)
        pieces.append((t, turn))
        t += len(turn)
    audio = np.zeros((len(speakers), t + int(0.5 * SR)), dtype=np.float32)
    for i, (start, turn) in enumerate(pieces):
        audio[i % len(speakers), start : start + len(turn)] += turn
    noise = rng.normal(0, 1e-3, audio.shape[1]).astype(np.float32)  # a faint line-noise floor
    if tracks:
        return np.clip(audio + noise, -1, 1), sorted(ref, key=lambda r: (r[1].start, r[0]))
    ref.sort(key=lambda r: (r[1].start, r[0]))
    return np.clip(audio.sum(axis=0) + noise, -1, 1), ref


def cut_ins(turns: list[tuple[str, Segment]]) -> list[tuple[str, float]]:
    """(who cuts in, start s) of every cut-in among reference turns: a turn that starts inside
    another speaker's turn and goes on after that one ends (a turn under the other's, which
    ends first, is a backchannel or talk under them, not a cut-in)."""
    out = []
    for spk, b in turns:
        if any(o != spk and a.start < b.start < a.end < b.end for o, a in turns):
            out.append((spk, b.start))
    return sorted(out, key=lambda c: c[1])


CUT_MATCH_S = 1.5  # s between a reference cut-in's start and an event that finds it


def cut_ins_found(
    refs: list[tuple[str, float]], found: list[tuple[str | None, float]]
) -> tuple[list[bool], int]:
    """Which reference cut-ins (who, start) an event of the same cutter finds within
    CUT_MATCH_S, and how many events find none."""
    hit = [any(r == f and abs(t - u) <= CUT_MATCH_S for f, u in found) for r, t in refs]
    matched = sum(1 for f, u in found if any(r == f and abs(t - u) <= CUT_MATCH_S for r, t in refs))
    return hit, len(found) - matched


ROOM_RT60_S = (0.3, 0.8)  # s; reverberation time of each voice's synthetic room response
ROOM_WET = (0.4, 0.7)  # share of reverberant energy in each voice
ROOM_SNR_DB = (15.0, 25.0)  # dB; the room's steady noise under the mix
ROOM_SEED = 900_000  # added to a call's seed for its room


def in_room(tracks: np.ndarray, seed: int) -> np.ndarray:
    """A mono mix of ``tracks`` [speakers, samples] (``simulate_call(tracks=True)``) as one
    far-field microphone in a room would hear them: each voice through a synthetic room response
    of its own (exponentially decaying noise, ``train.augment.add_reverb``; RT60 and wet share
    drawn from ROOM_RT60_S and ROOM_WET), then steady noise at ROOM_SNR_DB under the mix. A proxy
    for meeting recordings, not a measured room: the reference stays each clip's dry speech."""
    from train.augment import add_reverb

    rng = np.random.default_rng(ROOM_SEED + seed)
    wet = []
    for track in tracks:
        rt60, share = float(rng.uniform(*ROOM_RT60_S)), float(rng.uniform(*ROOM_WET))
        wet.append(add_reverb(track, rt60_s=rt60, rng=rng, wet=share))
    mix = np.sum(wet, axis=0)
    rms = float(np.sqrt(np.mean(mix.astype(np.float64) ** 2)))
    noise = rng.normal(0.0, rms / 10 ** (rng.uniform(*ROOM_SNR_DB) / 20), len(mix))
    return np.clip(mix + noise, -1, 1).astype(np.float32)


def telephone_band(audio: np.ndarray) -> np.ndarray:
    """``audio`` (16 kHz) through an 8 kHz channel and back: nothing above 4 kHz survives, as in
    the 8 kHz mono mixes that telephone archives give."""
    from scipy.signal import resample_poly

    narrow = resample_poly(audio, 1, 2)
    return resample_poly(narrow, 2, 1)[: len(audio)].astype(np.float32)
