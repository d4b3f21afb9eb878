"""Agent and customer on mixed (mono) calls: the role guess over diarized voices (issue 17).

    python -m benchmarks.mono_roles [--calls 24] [--seed 0] [--min-speakers 2]

The customer-service calls of the coaching benchmark (``benchmarks/coaching_calls.py``: voices
held out of every model measured, RAVDESS actors 17-20 and EmoDB speaker 11; openings alternate,
half the calls agent-first, half opened by the customer's short "hello?"; a third through an
8 kHz line), each party's clean channel summed into one mono recording (no bleed: both parties
are on the one line), analysed by the whole engine (``analyzer.Analyzer``, default settings: the
voices diarized and counted, then ``attribution.diarized_roles``; no emotion or face models,
which the roles do not read; ``--min-speakers 2``: the engine told every recording is a
conversation, ``AnalysisConfig.min_speakers``). The reference agent is the diarized voice
holding most of the agent's speech. Figures: voices counted right (two), agent role right (the
voice named agent is the reference agent and holds more agent than customer speech), by
opening, and the mean ``role_confidence`` of right and wrong guesses.

Cut-ins on the mono mix (the issue's "a customer's cut-in on the agent found in a third of
calls"): a reference cut-in is a turn that starts inside a turn of the other party and goes on
after it ends (``simcalls.cut_ins``; the coaching calls place 0-3 by the agent and 0-1 by the
customer, each overlapping the other by 0.7-1.0 s); the engine's are its ``interruption``
events, the cutter and the one cut into each mapped to a party through the voice holding most
of that party's speech. A reference cut-in is found where an event of the same direction
starts within ``simcalls.CUT_MATCH_S`` of it. Figures: the share found per direction, the share
of calls with a customer cut-in where it is found, the share found (both directions) in the
calls counted as two voices (one voice counted leaves no one to cut in), and the events
matching no reference cut-in per call.
The last line printed is the JSON of all figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from analyzer.config import AnalysisConfig
from analyzer.segment import Segment
from benchmarks.coaching_calls import SR, Call, build_pair, specs
from benchmarks.simcalls import cut_ins, cut_ins_found


def overlap_s(a: list[Segment], b: list[Segment]) -> float:
    """Seconds where a segment of ``a`` and one of ``b`` both run."""
    return sum(max(0.0, min(x.end, y.end) - max(x.start, y.start)) for x in a for y in b)


def reference_cut_ins(call: Call) -> list[tuple[str, float]]:
    """(role of the one who cuts in, start s) of every cut-in of the call."""
    return cut_ins(
        [("agent", seg) for seg, _ in call.agent_turns]
        + [("customer", seg) for seg, _ in call.customer_turns]
    )


def cut_in_row(result, call: Call, agent_voice: str | None) -> dict:
    """Reference cut-ins found by the engine's interruption events on one mono call."""
    refs = reference_cut_ins(call)

    def role_of(voice: str | None) -> str | None:
        return None if voice is None else ("agent" if voice == agent_voice else "customer")

    found = [
        (role_of(e.speaker), e.start)
        for e in result.events
        if e.kind == "interruption" and role_of(e.speaker) != role_of(e.other)
    ]
    hit, unmatched = cut_ins_found(refs, found)
    return {"cuts_by": [r for r, _ in refs], "cuts_found": hit, "cuts_unmatched": unmatched}


def call_row(result, call: Call) -> dict:
    """Count, role and confidence of one analysed call against its reference."""
    agent_ref = [seg for seg, _ in call.agent_turns]
    customer_ref = [seg for seg, _ in call.customer_turns]
    voices = [s.id for s in result.speakers]
    own = {v: [seg for spk, seg in result.turns if spk == v] for v in voices}
    agent_s = {v: overlap_s(own[v], agent_ref) for v in voices}
    customer_s = {v: overlap_s(own[v], customer_ref) for v in voices}
    truth = max(voices, key=lambda v: agent_s[v]) if voices else None
    named = [s for s in result.speakers if s.role == "agent"]
    guess = named[0].id if named else None
    right = guess is not None and guess == truth and agent_s[guess] > customer_s[guess]
    return {
        **cut_in_row(result, call, truth),
        "voices": len(voices),
        "role_right": bool(right),
        "confidence": named[0].role_confidence if named else None,
        "agent_first": call.spec.agent_first,
        "telephone": call.spec.telephone,
    }


def share(flags: list[bool]) -> float:
    return float(np.mean(flags)) if flags else float("nan")


def figures(rows: list[dict]) -> dict:
    conf_right = [r["confidence"] for r in rows if r["role_right"] and r["confidence"]]
    conf_wrong = [r["confidence"] for r in rows if not r["role_right"] and r["confidence"]]
    return {
        "calls": len(rows),
        "two_voices": share([r["voices"] == 2 for r in rows]),
        "role_right": share([r["role_right"] for r in rows]),
        "role_right_agent_first": share([r["role_right"] for r in rows if r["agent_first"]]),
        "role_right_customer_first": share([r["role_right"] for r in rows if not r["agent_first"]]),
        "role_right_two_voices": share([r["role_right"] for r in rows if r["voices"] == 2]),
        "role_right_telephone": share([r["role_right"] for r in rows if r["telephone"]]),
        "confidence_right": float(np.mean(conf_right)) if conf_right else float("nan"),
        "confidence_wrong": float(np.mean(conf_wrong)) if conf_wrong else float("nan"),
        **cut_in_figures(rows),
    }


def cut_in_figures(rows: list[dict]) -> dict:
    """Cut-ins found per direction, calls whose customer cut-in is found, unmatched events."""

    def found(role: str) -> list[bool]:
        return [f for r in rows for by, f in zip(r["cuts_by"], r["cuts_found"]) if by == role]

    with_customer_cut = [r for r in rows if "customer" in r["cuts_by"]]
    return {
        "cut_ins_customer_on_agent": len(found("customer")),
        "cut_ins_customer_found": share(found("customer")),
        "cut_ins_agent_on_customer": len(found("agent")),
        "cut_ins_agent_found": share(found("agent")),
        "calls_customer_cut_in_found": share(
            [
                any(f for by, f in zip(r["cuts_by"], r["cuts_found"]) if by == "customer")
                for r in with_customer_cut
            ]
        ),
        "cut_ins_found_where_two_voices": share(
            [f for r in rows if r["voices"] == 2 for f in r["cuts_found"]]
        ),
        "unmatched_cut_ins_per_call": float(np.mean([r["cuts_unmatched"] for r in rows]))
        if rows
        else float("nan"),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=24, help="calls (pairs of calm/mirroring)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-speakers", type=int, default=1, help="AnalysisConfig.min_speakers")
    args = ap.parse_args(argv)
    from analyzer import Analyzer

    cfg = AnalysisConfig(ser_model=None, fer_model=None, video=False)
    engine = Analyzer(replace(cfg, min_speakers=args.min_speakers))
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for p, spec in enumerate(specs(max(1, args.calls // 2), seed=args.seed)):
            for call in build_pair(spec):
                mono = np.clip(call.clean.sum(axis=0), -1, 1)
                path = Path(tmp) / f"call{p}_{call.mood}.wav"
                sf.write(path, mono, SR, subtype="PCM_16")
                rows.append(call_row(engine.analyze(path), call))
            brief = [
                {k: r[k] for k in ("voices", "role_right", "cuts_by", "cuts_found")}
                for r in rows[-2:]
            ]
            print(f"pair {p + 1}: {brief} {time.perf_counter() - t0:.0f} s", flush=True)
    out = {"seed": args.seed, "min_speakers": args.min_speakers, **figures(rows)}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    for k, v in out.items():
        print(f"{k:28s} {v:.3f}" if isinstance(v, float) else f"{k:28s} {v}")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
