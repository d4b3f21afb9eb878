"""Diarization benchmark on simulated mono calls built from the shared RAVDESS clips.

    python -m benchmarks.diarization              # 20 two-speaker test calls (actors 01-12)
    python -m benchmarks.diarization --validation # 20 tuning calls (actors 13-20, other seeds)
    python -m benchmarks.diarization --speakers 1 # one-speaker (or 3, 4) calls: the count test

Each call: two (``--speakers``) different RAVDESS actors drawn at random (so pairs are same- or
cross-gender as drawn), 16 turns of 1-3 clips taken in rotation, gaps of 0.2-1.5 s between turns
and 15% of turns starting 0.3-0.8 s before the previous one ends (none in one-speaker calls; see
``simcalls.simulate_call``; the reference is the silero VAD's speech on each isolated clip,
overlaps included). Each speaker count has its own seeds; two-speaker calls keep the original ones.

Emotions: a real caller stays in a narrow emotional range during one call, while a RAVDESS actor
reads the same two sentences in all seven; each speaker of a call is restricted to 1-2 emotion
labels drawn at random (printed per call). An actor's two moods can sit as far apart in the voice
encoder's space as two similar voices, which is what makes the count hard. Diarization constants
were chosen on the validation calls only (disjoint actors and seeds; SPLIT_DISTANCE and
EXTRA_SPEAKER_DISTANCE for the lowest mean DER over the 1-, 2- and 3-speaker sets); the test
calls are reported, never tuned on.

Scored: DER with no collar and with a 0.25 s collar (missed, false alarm, confusion), with the
number of speakers estimated and with it given (num_speakers=--speakers); speaker-count accuracy;
overlapped-speech precision and recall (count given); and
diarization time (embedding + clustering + resegmentation, VAD excluded) per minute of audio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analyzer.audio.der import diarization_error_rate
from analyzer.audio.speakers import SpeakerEncoder, diarize, overlap_segments
from analyzer.audio.vad import VoiceActivityDetector, speech_segments
from benchmarks.simcalls import SR, load_manifest, simulate_call

EMOTIONS = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
TEST_ACTORS = [f"ravdess_{i:02d}" for i in range(1, 13)]  # 6 male, 6 female
VALIDATION_ACTORS = [f"ravdess_{i:02d}" for i in range(13, 21)]  # 4 male, 4 female
TEST_SEED, VALIDATION_SEED = 1000, 2000
SEED_STRIDE = 100  # seeds between the call sets of different speaker counts
COLLAR_S = 0.25  # s; the usual forgiveness collar around reference boundaries


def make_calls(rows: list[dict], *, n: int, validation: bool, speakers: int = 2):
    """Yield (name, audio, reference, emotions) for ``n`` seeded simulated calls of
    ``speakers`` different actors (two-speaker calls keep their original seeds)."""
    actors = VALIDATION_ACTORS if validation else TEST_ACTORS
    base = (VALIDATION_SEED if validation else TEST_SEED) + SEED_STRIDE * (speakers - 2)
    for i in range(n):
        rng = np.random.default_rng(base + i)
        cast = [str(a) for a in rng.choice(actors, speakers, replace=False)]
        emotions = {
            a: {str(e) for e in rng.choice(EMOTIONS, rng.integers(1, 3), replace=False)}
            for a in cast
        }
        # One voice never overlaps itself: a one-speaker call only has pauses between turns.
        overlap = 0.15 if speakers > 1 else 0.0
        audio, ref = simulate_call(
            rows, cast, seed=base + i, emotions=emotions, overlap_prob=overlap
        )
        yield "+".join(cast), audio, ref, emotions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--validation", action="store_true", help="the tuning set, not the test set")
    ap.add_argument(
        "--speakers", type=int, default=2, help="actors per call (1-4): tests the count estimate"
    )
    args = ap.parse_args()

    rows = load_manifest()
    vad, encoder = VoiceActivityDetector(), SpeakerEncoder()
    results = {"estimated": [], "given": []}
    counts, seconds, audio_s = [], 0.0, 0.0
    n_spk = args.speakers
    overlap = np.zeros(3)  # true positive, false positive, false negative frames (k given)
    print(f"{'validation' if args.validation else 'test'} calls: {args.calls}, {n_spk} speakers")
    header = "call                     emotions                          min   "
    print(header + f"DER    DER.25  miss   FA     conf   k  | DER(k={n_spk}) DER.25(k={n_spk})")
    calls = make_calls(rows, n=args.calls, validation=args.validation, speakers=n_spk)
    for name, audio, ref, emotions in calls:
        dur = len(audio) / SR
        speech = speech_segments(vad.probabilities(audio), duration_s=dur)
        t0 = time.process_time()
        hyp = diarize(audio, speech, encoder)
        seconds += time.process_time() - t0
        audio_s += dur
        hyp2 = diarize(audio, speech, encoder, num_speakers=n_spk)
        for key, h in (("estimated", hyp), ("given", hyp2)):
            results[key].append(
                (
                    diarization_error_rate(ref, h.turns),
                    diarization_error_rate(ref, h.turns, collar_s=COLLAR_S),
                )
            )
        counts.append(len(hyp.speakers))
        overlap += _overlap_frames(overlap_segments(ref), hyp2.overlaps, dur)
        d, dc = results["estimated"][-1]
        g, gc = results["given"][-1]
        emo = ";".join("/".join(sorted(e)) for e in emotions.values())
        print(
            f"{name:24s} {emo:33s} {dur / 60:4.2f}  {d['der']:.3f}  {dc['der']:.3f}  "
            f"{d['missed']:.3f}  {d['false_alarm']:.3f}  {d['confusion']:.3f}  "
            f"{len(hyp.speakers)}  | {g['der']:.3f}    {gc['der']:.3f}"
        )
    for key in ("estimated", "given"):
        plain = {
            p: np.mean([r[0][p] for r in results[key]])
            for p in ("der", "missed", "false_alarm", "confusion")
        }
        collar = np.mean([r[1]["der"] for r in results[key]])
        label = "speakers estimated" if key == "estimated" else f"num_speakers={n_spk}   "
        print(
            f"mean ({label}): DER {plain['der']:.3f}  DER(collar {COLLAR_S}) {collar:.3f}  "
            f"missed {plain['missed']:.3f}  false alarm {plain['false_alarm']:.3f}  "
            f"confusion {plain['confusion']:.3f}"
        )
    print(f"speaker count correct: {np.mean(np.array(counts) == n_spk):.0%}  (estimates {counts})")
    tp, fp, fn = overlap
    print(
        f"overlapped speech (k={n_spk}): precision {tp / max(tp + fp, 1):.2f}, "
        f"recall {tp / max(tp + fn, 1):.2f} of {(tp + fn) * 0.01:.0f} s"
    )
    print(f"diarization CPU time: {seconds / (audio_s / 60):.2f} s per minute of audio")


def _overlap_frames(truth, found, duration: float) -> np.ndarray:
    """(true positive, false positive, false negative) 10 ms frames of overlap detection."""
    n = int(duration * 100) + 1
    masks = []
    for segs in (truth, found):
        m = np.zeros(n, dtype=bool)
        for s in segs:
            m[int(s.start * 100) : int(s.end * 100)] = True
        masks.append(m)
    t, f = masks
    return np.array([(t & f).sum(), (~t & f).sum(), (t & ~f).sum()], dtype=float)


if __name__ == "__main__":
    main()
