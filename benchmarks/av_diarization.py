"""Audio-visual diarization: video calls of two tiles, diarized with and without the faces.

    python -m benchmarks.av_diarization --validation          # the sets the constants were set on
    python -m benchmarks.av_diarization                       # test actors (01-12)
    python -m benchmarks.av_diarization --sets 3min-same --calls 6 --work DIR   # keep the videos

Calls: the diarization benchmark's simulated mono calls (``benchmarks.diarization.make_calls``,
same actors, seeds and emotions per set), each voice given a face tile of a side-by-side video
call (``benchmarks.avcalls``: 640 x 360, 15 fps, H.264 + AAC; mouths move with the reference
speech, with a lead, syllables, a listener's own movements, landmark noise and spells with the
face gone). Sets: ``3min-same`` (two voices of one gender, ~3 minutes), ``short-mixed`` (a man
and a woman, ~40 s), ``one-voice`` (one actor, default length, beside a second tile whose face
only listens: the count must stay one), ``gallery-three`` (three voices, default length, in a
2 x 2 gallery of 160 px faces; measured, not part of the rule), and on request ``30min`` (two
voices, ~30 minutes: analysed as a long call, on disk, clustered over the whole call; the worst
speaker's talk-time error), ``default`` (the diarization benchmark's main set: two voices of
any gender, ~1.3 minutes; measured after the rounds, not part of the rule); on request
``pip-*`` (the calls of 3min-same, one-voice and default as picture in picture: the other
party's close-up and the own camera inset) and ``speaker-*`` (the calls of 3min-same, default
and gallery-three in a speaker view: one camera at a time, cut to the talker after a lag).
Each call is analysed twice by the whole engine (``analyzer.Analyzer``; no emotion models):
the audio alone (``video=False``) and with the faces (default). Figures per set: collar
(0.25 s) and no-collar DER, the count right, per call and mean; the last line is the JSON of
all figures.

``--mouths hard`` renders the same calls with ``avcalls.HARD_MOUTHS`` (mumbled speech, a
restless listener, noisier landmarks, lips leading by up to 0.25 s): a robustness check written
before its first figure: with the faces, no call may be worse than the audio alone by more than
0.03 and no one-voice call may gain a voice; the gain may shrink.

Rule (written before any figure beyond one smoke call of the validation set): the faces are used
by default on mixed video calls if, on the validation calls (actors 13-20), the mean collar DER
of ``3min-same`` and ``short-mixed`` is lower with the faces than without, no two-voice call is
worse by more than 0.03, the count is right in >= 90 % of two-voice calls, and ``one-voice`` calls
keep one voice at least as often as the audio alone. Constants: ``video.talking`` and
``audio.speakers.VISUAL_*`` as committed with this benchmark; if the rule fails, VISUAL_WEIGHT
0 and 0.1 are tried once on validation. The test actors are run once, after the choice.

Round 1 (validation): two-voice sets met it (3min-same collar DER 0.149 -> 0.033, short-mixed
0.064 -> 0.061, count 100 %), but every one-voice call's listening face was counted as a talker
(count right 67 % -> 0 %): its landmark jitter was stretched to its own range, and its floor
(median in pauses) was spoilt by movement spilling into short pauses. Round 2 (same rule, rules
changed before its figures, none of the other constants): ranges of at least half the widest
person's (``SCALE_SHARE``), the floor a low percentile of all of a person's movement
(``STILL_PERCENTILE``), and only leads held for a second count (``MIN_RUN_S``).
Round 2 (validation): 3min-same 0.149 -> 0.039; short-mixed 0.064 -> 0.065 (the faces were
used in one call of twelve: at 4 s of leads, a 40 s call with faces gone for seconds rarely
qualifies); one-voice count 67 % -> 50 % (one listener still counted). Round 3 (rules changed
before its figures): the audio must agree that the seen voices differ (the anchored units'
centroids further apart than 95 % of random splits, ``speakers._distinct_anchors``), and with
that check 2 s of leads make a talker (``MIN_TALK_S``).
Round 3 (validation), collar DER audio -> faces (count right): 3min-same 0.149 -> 0.039 (100 %
-> 100 %), short-mixed 0.064 -> 0.064 (92 %), one-voice 0.112 -> 0.112 (67 %); two-voice mean
0.093 -> 0.056, worst call +0.002, count 94 %: the rule is met, the faces are used by default.
Test (run once after the choice, session 29): 3min-same 0.249 (50 %) -> 0.021 (100 %),
short-mixed 0.072 -> 0.071 (92 %), one-voice 0.001 -> 0.001 (100 %); no call worse.
Gallery faces (session 29, after the test run above): the face stage now searches the tiles when
the whole frame finds only some of a gallery's faces; validation with it: the two-voice sets
and one-voice unchanged; new set gallery-three 0.109 -> 0.117 (75 % both): one call worse by
0.065, its third talker's face not counted, so two anchored voices took the third's speech.
Round 4 (rule: no gallery-three call worse by more than 0.03, two-tile sets unchanged): when
more persons are on screen than are seen talking and the voices alone count more speakers
than the faces, the voices decide (``diarize_embedded``'s ``visual_persons``).
Round 4 (validation): unchanged (the worse call's voices counted two, as the faces did).
Round 5 (same rule): whenever more persons are on screen than are seen talking, the voices
decide, with the faces' talkers as the fewest voices.
Round 5 (validation): gallery-three 0.109 -> 0.109 (no call worse), the other sets unchanged:
the rule is met. Test, final code (session 29, collar DER audio -> faces, count right):
3min-same 0.249 (50 %) -> 0.021 (100 %), worst talk-time error 60 % -> 3.5 %; short-mixed
0.072 -> 0.071 (92 %); one-voice 0.001 -> 0.001 (100 %); gallery-three 0.266 -> 0.266 (62 %);
no call worse. 30min (one call each): validation talk-time error 8.8 % -> 7.2 % (DER 0.033 ->
0.029), test 4.3 % -> 3.4 % (DER 0.015 -> 0.013).
Round 6 (after the test runs above; rule: gallery-three mean lower on validation, no call of
any set worse by more than 0.03): a person's margin over the mean of the others on screen
instead of the largest: more gallery talkers found, but the calls that needed them still had a
third person never seen talking, so the voices decided as before: gallery-three 0.1085 ->
0.1094, the rest unchanged: failed, reverted.
The default set (measured after round 5, final code): validation 0.075 (85 %) -> 0.026 (100 %),
test 0.125 (85 %) -> 0.045 (100 %), worst call +0.024.
Hard mouths (``--mouths hard``, round-5 code): validation 3min-same 0.149 -> 0.151 (the faces'
anchors no longer pass the audio's check in the calls that needed them), one-voice and
short-mixed unchanged; test 3min-same 0.249 (50 %) -> 0.031 (100 %), one-voice 0.001 -> 0.001
(100 %), short-mixed 0.072 -> 0.072; worst call +0.019: the check is met, the gain is not
sure.
Round 7 (session 30; rule written before its figures): in a 2 x 2 gallery the talkers' leads
flicker (160 px mouths): on the validation gallery-three calls each talker leads 7-13 s of
speech but only 1-8 s in unbroken runs of a second, so 6 of 8 calls count at most one talker
and the voices decide alone. Candidates (``video.talking.LEAD_SHARE``): a frame counts as a
lead where at least 0.5 (c5) or 0.4 (c4) of the frames in the second around it lead, instead
of every frame of an unbroken run. A candidate replaces the present rule only if, on the
validation calls of every default set: the gallery-three mean collar DER is lower with the
faces than now (0.109); no call of any set is worse with the faces than with the audio alone by
more than 0.03; two-voice calls are counted right >= 90 %; one-voice calls keep one voice at
least as often as the audio alone, and so do the hard-mouth one-voice calls (``--mouths hard
--sets one-voice``). Of two that pass, the lower gallery-three mean; test actors run once after.
Round 7 (validation, collar DER audio -> faces): c5 changes no call (its third talker still
missed: gallery-three 0.109 -> 0.109), so it fails; c4: gallery-three 0.109 -> **0.056** (count
right 75 % -> 100 %: the two calls the voices counted as two get their third talker), 3min-same
0.149 -> 0.039, short-mixed 0.064 -> 0.064, default 0.075 -> 0.026 (all as round 5), one-voice
67 % -> 67 % (hard mouths 67 % -> 67 %), worst call +0.005: c4 passes and is the default
(``LEAD_SHARE`` 0.4). Test (once, after the choice): gallery-three 0.266 (62 %) -> 0.219 (75 %;
two of its eight calls get their third talker, three calls the faces leave as the audio had
them), 3min-same 0.021, short-mixed 0.071, one-voice 0.001, default 0.045 (all as round 5);
worst call +0.024.
Picture in picture (session 30; rule written before its figures): a 1:1 video call recorded on
one side shows the other party full frame and the own camera small in a corner (sets ``pip-*``:
the same calls as ``3min-same``, ``one-voice`` and ``default``, rendered with a 300 px face in
the middle and a 110 px inset at the bottom right, ``avcalls.layout(view="pip")``). FaceMesh on
the whole frame finds no inset of 80-140 px beside a close-up (0 of 60 frames of a still), so
the faces gave nothing there. The face stage now searches the tiles for faces beside those the
whole frame found every ``faces.PIP_SEARCH_EVERY_S`` and follows each one's region
(``faces.PIP_*``). Kept if, on the validation calls: pip-3min-same's mean collar DER with the
faces is below the audio alone's; no pip call is worse with the faces by more than 0.03;
pip-one-voice calls keep one voice as often as with the audio alone; and the earlier sets'
means with the faces stay within 0.005 of theirs without the search (it must not disturb tiles
or galleries). Test actors run once after.
Speaker view (session 30; rule written after one smoke call of each kind, before any set's
figures): a meeting recorded in "active speaker" layout shows one camera at a time, full frame,
and the platform cuts to whoever talks after a lag (sets ``speaker-*``: the calls of
``3min-same``, ``default`` and ``gallery-three``, each voice a camera with its own background
and colour cast, the picture cut to a voice once it has talked for a lag drawn per call,
0.5-1.5 s: ``avcalls.shown_speaker``). Faces were compared only on screen together, so such a
video gave nothing. Now the face stage keeps each frame's look (a few cells of mean colour) and
ends its tracks at cuts; ``video.talking.camera_feeds`` recognises a speaker view (one face at
a time, three or more cuts between two or more cameras) and the camera shown SPEAKER_VIEW_LAG_S
(1 s) later is the evidence of who talks. Kept if, on the validation calls: speaker-3min-same's
and speaker-three's mean collar DER with the faces are below the audio alone's; no
speaker-view call is worse with the faces by more than 0.03; two-voice speaker-view calls are
counted right >= 90 %; and every earlier set's mean with the faces (tiles, gallery, pip,
one-voice) stays within 0.005 of its figure without the cuts and feeds. Test actors run once
after.
Speaker view, round 1 (validation): speaker-3min-same 0.149 -> 0.027, but speaker-three
0.107 -> 0.23: five of its eight calls counted two voices, as two of the three cameras were
taken for one (the benchmark's cameras share one photograph; their backgrounds and casts can
sit as close as 0.05 in look while one camera's shots differ by up to 0.06): failed. Round 2
(rule unchanged, written before its figures): cameras are the groups of shots by average
linkage of their looks at SAME_FEED 0.04 (was: each shot joined the first camera within 0.12).
Splitting one camera in two is the safer error: the two halves' anchored voices are one voice,
which the audio's check refuses, and the voices decide alone.
Round 2 (validation): speaker-3min-same 0.149 -> 0.027, speaker-default 0.075 -> 0.034, but
speaker-three 0.109 -> 0.125 (one call 0.052 -> 0.252 with three cameras found, two better,
the rest unchanged): failed. The speaker view is left off (``talking.SPEAKER_VIEW``;
``--speaker-view on`` measures it); the figures above were measured with it on. No test figure
was read.
Round 3 (rule unchanged, written before its figures): in the call that got worse, one "camera"
held two people: its shots ran across switches between two cameras whose looks differ by 0.065,
under the 0.12 a cut needs. Consecutive frames of one camera differ by under 0.01 (90 % under
0.007), so ``camera_feeds`` now cuts its shots at SHOT_CUT 0.04 (the face tracks keep
``faces.CUT_DISTANCE``); the grouping is round 2's.
Round 3 (validation, ``--speaker-view on``): speaker-three 0.109 (75 %) -> **0.041 (100 %)**,
speaker-3min-same 0.149 -> 0.027, speaker-default 0.075 (85 %) -> 0.023 (100 %), worst call
+0.008; every earlier set with it on: gallery-three 0.057, 3min-same 0.039, short-mixed 0.064,
one-voice 0.112 (67 %), default 0.026, pip-3min-same 0.049, pip-one-voice 0.112, pip-default
0.025 (all within 0.005 of their figures without it): the rule is met; the speaker view is on
(``talking.SPEAKER_VIEW``; ``--speaker-view off`` leaves it out). Test (once, after the
choice): speaker-three 0.266 (62 %) -> 0.055 (100 %), speaker-3min-same 0.249 (50 %) -> 0.045
(100 %; one call 0.025 -> 0.166: its two cameras' shots mixed), speaker-default 0.125 (85 %)
-> 0.027 (100 %); the other test sets with it on as without it (gallery-three 0.142,
3min-same 0.021, short-mixed 0.071, one-voice 0.001, default 0.045, pip-3min-same 0.021,
pip-one-voice 0.001).
Picture in picture (validation, final code): pip-3min-same 0.149 -> 0.049 (count 100 %),
pip-one-voice 67 % -> 67 % (0.112 both), pip-default 0.075 -> 0.025 (100 %), worst call
+0.003; the earlier sets with the inset search and the tracks ended at picture changes:
gallery-three 0.057 (0.056 without), 3min-same 0.039, short-mixed 0.064, one-voice 0.112,
default 0.026 (all within 0.005): the rule is met and the search is on.
Test (once, final code, session 30): pip-3min-same 0.249 (50 %) -> 0.021 (100 %), pip-one-voice
0.001 -> 0.001, pip-default 0.125 (85 %) -> 0.036 (100 %; worst call +0.036); the earlier sets:
gallery-three 0.266 -> 0.142 (88 %; 0.219 with round 7's code: one more call, 0.641 -> 0.026,
gets its three talkers with the face stage's other changes, cause not traced), 3min-same 0.021,
short-mixed 0.071, one-voice 0.001, default 0.045; worst call of those +0.024.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from analyzer.audio.der import diarization_error_rate
from analyzer.config import AnalysisConfig
from benchmarks.avcalls import HARD_MOUTHS, Mouths, render_call
from benchmarks.diarization import make_calls
from benchmarks.simcalls import load_manifest

SETS = {  # name: (speakers, length, gender)
    "3min-same": (2, "3min", "same"),
    "short-mixed": (2, "short", "mixed"),
    "one-voice": (1, "default", "any"),
    "gallery-three": (3, "default", "any"),
    "30min": (2, "30min", "any"),
    "default": (2, "default", "any"),
}
VIEWS: dict[str, str] = {}  # set name -> avcalls view of its videos ("tiles" where absent)
for _view, _calls in {
    "pip": {"pip-3min-same": "3min-same", "pip-one-voice": "one-voice", "pip-default": "default"},
    "speaker": {
        "speaker-3min-same": "3min-same",
        "speaker-default": "default",
        "speaker-three": "gallery-three",
    },
}.items():  # the same calls in other layouts
    for _name, _base in _calls.items():
        SETS[_name], VIEWS[_name] = SETS[_base], _view
DEFAULT_CALLS = {
    "3min-same": 6,
    "short-mixed": 12,
    "one-voice": 6,
    "gallery-three": 8,
    "30min": 1,
    "default": 20,
    "pip-3min-same": 6,
    "pip-one-voice": 6,
    "pip-default": 20,
    "speaker-3min-same": 6,
    "speaker-default": 20,
    "speaker-three": 8,
}
DEFAULT_SETS = ["3min-same", "short-mixed", "one-voice", "gallery-three", "default"]
LISTENER = "listener"  # the silent second tile of a one-voice call


def score(reference, result, speakers: int) -> dict:
    turns = list(result.turns)
    collar = diarization_error_rate(reference, turns, collar_s=0.25)["der"]
    plain = diarization_error_rate(reference, turns)["der"]
    found = len(result.speakers)
    return {
        "der": collar,
        "der_no_collar": plain,
        "voices": found,
        "count_right": found == speakers,
        "talk_time_error": talk_time_error(reference, turns),
    }


def talk_time_error(reference, turns) -> float:
    """The worst reference speaker's talk-time error, as a share of their true talk time: each
    is compared with the voice holding most of their speech."""
    worst = 0.0
    for who in {spk for spk, _ in reference}:
        own = [seg for spk, seg in reference if spk == who]
        truth = sum(seg.duration for seg in own)
        held: dict[str, float] = {}
        for spk, seg in turns:
            for r in own:
                overlap = max(0.0, min(r.end, seg.end) - max(r.start, seg.start))
                held[spk] = held.get(spk, 0.0) + overlap
        if not held or truth <= 0:
            return 1.0
        voice = max(held, key=held.__getitem__)
        found = sum(seg.duration for spk, seg in turns if spk == voice)
        worst = max(worst, abs(found - truth) / truth)
    return worst


MOUTHS = {"plain": Mouths(), "hard": HARD_MOUTHS}


def run_set(
    name: str, n: int, validation: bool, work: Path, engines: dict, mouths: str = "plain"
) -> list[dict]:
    speakers, length, gender = SETS[name]
    rows = []
    calls = make_calls(
        load_manifest(), n=n, validation=validation, speakers=speakers, length=length,
        gender=gender,
    )  # fmt: skip
    for i, (cast, audio, reference, _) in enumerate(calls):
        people = cast.split("+")
        rng = np.random.default_rng(7000 + i + (0 if validation else 500))
        if speakers == 1:
            people = [people[0], LISTENER] if rng.random() < 0.5 else [LISTENER, people[0]]
        style = "" if mouths == "plain" else f"{mouths}-"
        path = work / f"{style}{name}-{'val' if validation else 'test'}-{i}.mp4"
        if not path.exists():  # rendered beside, then renamed: a stopped run leaves no stub
            part = path.with_name(path.stem + ".part.mp4")
            seed = int(rng.integers(1 << 30))
            render_call(
                part, audio, reference, people, seed=seed, mouths=MOUTHS[mouths],
                view=VIEWS.get(name, "tiles"),
            )  # fmt: skip
            part.replace(path)
        row: dict = {"set": name, "call": cast}
        for label, engine in engines.items():
            t0 = time.perf_counter()
            row[label] = score(reference, engine.analyze(path), speakers)
            row[label]["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def summary(rows: list[dict], label: str) -> dict:
    return {
        "der": float(np.mean([r[label]["der"] for r in rows])),
        "der_no_collar": float(np.mean([r[label]["der_no_collar"] for r in rows])),
        "count_right": float(np.mean([r[label]["count_right"] for r in rows])),
        "talk_time_error": float(np.mean([r[label]["talk_time_error"] for r in rows])),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--validation", action="store_true", help="actors 13-20 (tuning)")
    ap.add_argument("--sets", nargs="+", choices=list(SETS), default=DEFAULT_SETS)
    ap.add_argument("--calls", type=int, help="calls per set (default: DEFAULT_CALLS)")
    ap.add_argument("--work", type=Path, help="keep the rendered videos here (reused)")
    ap.add_argument(
        "--mouths", choices=list(MOUTHS), default="plain", help="hard: avcalls.HARD_MOUTHS"
    )
    ap.add_argument(
        "--lead-share", type=float,
        help="count a talker's leads by their share of the second around each frame "
        "(video.talking.LEAD_SHARE; round 7)",
    )  # fmt: skip
    ap.add_argument(
        "--speaker-view", choices=("on", "off"),
        help="read a speaker view's camera switches (video.talking.SPEAKER_VIEW; on by default)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    from analyzer import Analyzer
    from analyzer.video import talking

    if args.lead_share is not None:
        talking.LEAD_SHARE = args.lead_share
    if args.speaker_view is not None:
        talking.SPEAKER_VIEW = args.speaker_view == "on"

    base = AnalysisConfig(ser_model=None, fer_model=None)
    engines = {"audio": Analyzer(replace(base, video=False)), "faces": Analyzer(base)}
    out: dict = {
        "validation": args.validation, "mouths": args.mouths, "lead_share": talking.LEAD_SHARE,
        "sets": {},
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        every = []
        for name in args.sets:
            n = args.calls or DEFAULT_CALLS[name]
            rows = run_set(name, n, args.validation, work, engines, args.mouths)
            every += rows
            out["sets"][name] = {label: summary(rows, label) for label in engines}
            if SETS[name][0] >= 2:
                worse = [r["faces"]["der"] - r["audio"]["der"] for r in rows]
                out["sets"][name]["worst_change"] = float(np.max(worse))
    two = [r for r in every if SETS[r["set"]][0] == 2]  # the rule's two-voice sets
    if two:
        out["two_voice"] = {label: summary(two, label) for label in engines}
    for name, figures in out["sets"].items():
        for label in engines:
            f = figures[label]
            print(f"{name:12s} {label:6s} DER {f['der']:.3f} (no collar {f['der_no_collar']:.3f})"
                  f"  count right {f['count_right']:.0%}"
                  f"  talk time error {f['talk_time_error']:.1%}")  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
