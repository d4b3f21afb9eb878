"""Talk time per speaker of a long call mixed to mono, against the same call analysed in stereo.

    python -m benchmarks.mono_talk_time [--minutes 30] [--seed 0] [--keep DIR]

The call is the one ``benchmarks.speed --stage engine`` builds (two RAVDESS actors in all their
clips, turns of 1-3 clips in alternation, no overlapped speech, stereo at 8 kHz): the issue's
"30-minute mono mix of two alternating actors". The whole engine analyses it twice with one
``Analyzer``: on its channels (the reference: each party's turns from its own channel) and mixed
to mono (``split_channels=False``: diarized). Printed: each party's talk time in both, the error
of the mono one, the diarization error of the mono turns against the stereo ones (no collar and
0.25 s; missed, false alarm, confusion), wall time, and one JSON line. The mono voices are
matched to the parties by the overlap of their turns (``benchmarks.diarization.talk_time_errors``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLLAR_S = 0.25


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0, help="the call's seed (speed's call: 0)")
    ap.add_argument("--keep", help="folder to keep the call's WAV in")
    args = ap.parse_args(argv)

    from analyzer import AnalysisConfig, Analyzer
    from analyzer.audio.der import diarization_error_rate
    from benchmarks.diarization import talk_time_errors
    from benchmarks.speed import stereo_call

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        call = folder / f"call{args.minutes:g}_seed{args.seed}.wav"
        duration = stereo_call(call, args.minutes, seed=args.seed)
        config = AnalysisConfig(video=False)
        engine = Analyzer(config)
        try:
            t0 = time.perf_counter()
            stereo = engine.analyze(call)
            t1 = time.perf_counter()
            mono = engine.analyze(call, config=replace(config, split_channels=False))
            t2 = time.perf_counter()
        finally:
            engine.close()
    ref = list(stereo.turns)
    hyp = list(mono.turns)
    talk = talk_time_errors(ref, hyp, duration)
    der = diarization_error_rate(ref, hyp)
    der_c = diarization_error_rate(ref, hyp, collar_s=COLLAR_S)
    print(
        f"call: {duration / 60:.1f} min, seed {args.seed}; analysed in stereo {t1 - t0:.1f} s, "
        f"mono {t2 - t1:.1f} s"
    )
    print(f"voices found on the mono mix: {len(mono.speakers)}")
    for party, (true_s, found_s) in talk.items():
        error = abs(found_s - true_s) / true_s
        print(f"  {party:9s} stereo {true_s:6.1f} s   mono {found_s:6.1f} s   error {error:6.1%}")
    for name, d in (("no collar", der), (f"{COLLAR_S:g} s collar", der_c)):
        print(
            f"DER ({name}) {d['der']:.3f}: missed {d['missed_s']:.1f} s, false alarm "
            f"{d['false_alarm_s']:.1f} s, confusion {d['confusion_s']:.1f} s of "
            f"{d['reference_s']:.1f} s"
        )
    both = {name: _two_at_once(turns) for name, turns in (("stereo", ref), ("mono", hyp))}
    print(f"two voices at once: stereo {both['stereo']:.1f} s, mono {both['mono']:.1f} s")
    worst = max(abs(h - t) / t for t, h in talk.values())
    print(json.dumps({
        "minutes": args.minutes, "seed": args.seed, "voices": len(mono.speakers),
        "talk_time": {k: [round(t, 1), round(h, 1)] for k, (t, h) in talk.items()},
        "worst_error": round(worst, 4), "der": round(der["der"], 4),
        "der_collar": round(der_c["der"], 4), "false_alarm_s": round(der["false_alarm_s"], 1),
        "confusion_s": round(der["confusion_s"], 1), "two_at_once_s": both,
    }))  # fmt: skip
    return 0


def _two_at_once(turns: list[tuple[str, Any]]) -> float:
    """Seconds in which turns of two different speakers overlap (10 ms steps)."""
    import numpy as np

    if not turns:
        return 0.0
    end = max(seg.end for _, seg in turns)
    grid: dict[str, Any] = {}
    for spk, seg in turns:
        row = grid.setdefault(spk, np.zeros(int(end * 100) + 2, bool))
        row[int(seg.start * 100) : int(seg.end * 100)] = True
    count = np.sum(list(grid.values()), axis=0)
    return round(float(np.sum(count >= 2)) / 100, 1)


if __name__ == "__main__":
    raise SystemExit(main())
