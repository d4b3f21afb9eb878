"""How much a long call's results move when it is analysed in chunks from disk (issue 18).

    python -m benchmarks.chunking [--minutes 25] [--chunk-s 600] [--mono] [--inputs FILE ...]

Analyses each call twice with one ``Analyzer``: in one piece in memory (``chunk_s`` above the
call's length, today's path) and chunk by chunk from disk (``--chunk-s``, the default of
``AnalysisConfig``). Without ``--inputs`` the call is a stereo 8 kHz call of ``--minutes`` looped
from the bundled sample (``benchmarks.batch.make_calls``). ``--mono`` mixes the channels and
diarizes (the chunked path then clusters the whole call's embeddings at once).

Agreement, chunked against one piece:
- turns: share of one-piece turns found again with the same speaker and both ends within
  0.1 s (and the reverse);
- turn labels / window labels: share of segments (matched by speaker and start to the ms) with
  the same emotion label;
- events: kinds and counts; speakers, roles and talk time.
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOLERANCE_S = 0.1  # s; turn ends this close count as the same turn


def _turns(result: object) -> list[tuple[str, float, float]]:
    return [(spk, seg.start, seg.end) for spk, seg in result.turns]  # type: ignore[attr-defined]


def _found(a: list[tuple[str, float, float]], b: list[tuple[str, float, float]]) -> float:
    """Share of ``a``'s turns that ``b`` has too (same speaker, ends within TOLERANCE_S)."""
    if not a:
        return 1.0
    ends: dict[str, list[tuple[float, float]]] = {}
    for spk, s, e in b:
        ends.setdefault(spk, []).append((s, e))
    hit = 0
    for spk, s, e in a:
        hit += any(
            abs(s - s2) <= TOLERANCE_S and abs(e - e2) <= TOLERANCE_S
            for s2, e2 in ends.get(spk, [])
        )
    return hit / len(a)


def _labels(result: object, kind: str) -> dict[tuple[str, float], str]:
    return {
        (s.speaker, round(s.start, 3)): s.emotion
        for s in result.segments  # type: ignore[attr-defined]
        if s.kind == kind
    }


def _label_agreement(a: dict[tuple[str, float], str], b: dict[tuple[str, float], str]) -> float:
    keys = set(a) | set(b)
    if not keys:
        return 1.0
    return sum(a.get(k) == b.get(k) for k in keys) / len(keys)


def compare(whole: object, chunked: object) -> dict[str, Any]:
    """Agreement figures of two results of one call."""
    ta, tb = _turns(whole), _turns(chunked)
    events_a = Counter(e.kind for e in whole.events)  # type: ignore[attr-defined]
    events_b = Counter(e.kind for e in chunked.events)  # type: ignore[attr-defined]
    return {
        "turns": [len(ta), len(tb)],
        "turns_found": round(_found(ta, tb), 4),
        "turns_found_reverse": round(_found(tb, ta), 4),
        "turn_label_agreement": round(
            _label_agreement(*(_labels(r, "turn") for r in (whole, chunked))), 4
        ),
        "window_label_agreement": round(
            _label_agreement(*(_labels(r, "window") for r in (whole, chunked))), 4
        ),
        "speakers": [
            [(s.id, s.role, round(s.talk_time_s or 0.0, 1)) for s in r.speakers]  # type: ignore[attr-defined]
            for r in (whole, chunked)
        ],
        "events": [dict(events_a), dict(events_b)],
    }


def main() -> None:
    from analyzer import AnalysisConfig, Analyzer
    from benchmarks.batch import make_calls

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=25.0)
    p.add_argument("--chunk-s", type=float, default=AnalysisConfig().chunk_s)
    p.add_argument("--mono", action="store_true", help="mix the channels and diarize")
    p.add_argument("--inputs", nargs="*", type=Path, default=[])
    args = p.parse_args()
    load = f"load {os.getloadavg()[0]:.1f} at start"
    split = False if args.mono else None
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = args.inputs or make_calls(Path(tmp), 1, args.minutes * 60)
        base = AnalysisConfig(fer_model=None, split_channels=split)
        analyzer = Analyzer(base)
        for f in files:
            started = time.perf_counter()
            whole = analyzer.analyze(f, config=base.replace(chunk_s=1e9))
            whole_s = time.perf_counter() - started
            started = time.perf_counter()
            chunked = analyzer.analyze(f, config=base.replace(chunk_s=args.chunk_s))
            chunked_s = time.perf_counter() - started
            row = compare(whole, chunked)
            row |= {"minutes": round(whole.media.duration_s / 60, 2)}
            row |= {"wall_s": [round(whole_s, 1), round(chunked_s, 1)]}
            out[Path(f).name] = row
            print(
                f"{Path(f).name}: {row['minutes']} min, chunks of {args.chunk_s:g} s"
                f"{' (mono)' if args.mono else ''}: turns {row['turns']}, found "
                f"{row['turns_found']:.3f} / {row['turns_found_reverse']:.3f}, labels: turns "
                f"{row['turn_label_agreement']:.3f}, windows {row['window_label_agreement']:.3f}; "
                f"speakers {row['speakers']}; events {row['events']}; "
                f"wall {row['wall_s'][0]} s in one piece, {row['wall_s'][1]} s chunked"
            )
        analyzer.close()
    load += f", {os.getloadavg()[0]:.1f} at the end (2 cores shared)"
    print(load)
    print(json.dumps({"environment": load, "chunk_s": args.chunk_s, "mono": args.mono} | out))


if __name__ == "__main__":
    main()
