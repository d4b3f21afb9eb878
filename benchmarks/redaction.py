"""Redaction recall and precision on generated and hand-written EN/ZH sentences.

Sentences: ``benchmarks/redaction_corpus.py`` (seeded, written apart from the patterns) and the
hand-written ``benchmarks/data/redaction_handwritten.jsonl``.

Scoring (CONTRACTS: digits are compared with separators removed):

* A true item counts as **found** when every character of it except separators (spaces, dashes,
  dots, commas, brackets, slashes) lies inside some predicted span, of any kind: that is, none
  of its digits, letters or Chinese characters would be left in the redacted text.
  ``typed recall`` also asks that a covering span has the true kind.
* A predicted span is **right** when it overlaps a true item; precision = right / predicted.
  ``char precision`` is the share of predicted non-separator characters inside true items
  (catches spans that run far past the data).

    python -m benchmarks.redaction --seed 20261126 --n 300
    python -m benchmarks.redaction --handwritten-only --errors 20
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from analyzer.words.redact import find_personal_data
from benchmarks.redaction_corpus import generate

ROOT = Path(__file__).resolve().parents[1]

HANDWRITTEN = ROOT / "benchmarks" / "data" / "redaction_handwritten.jsonl"
SEPARATORS = set(" \t\n-.,/()，。、：:;；+")


def load_handwritten(path: Path = HANDWRITTEN) -> list[dict]:
    """The hand-written sentences with their truth as character spans (each true text is looked
    up in order, after the end of the previous one)."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        spans, cursor = [], 0
        for kind, value in row["pii"]:
            start = row["text"].index(value, cursor)
            spans.append({"kind": kind, "start": start, "end": start + len(value), "text": value})
            cursor = start + len(value)
        items.append(
            {"id": row["id"], "language": row["language"], "text": row["text"], "pii": spans}
        )
    return items


def score(items: list[dict]) -> dict:
    """Counts per (language, kind) and the misses and false alarms."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    errors: list[str] = []
    for item in items:
        text, language = item["text"], item["language"]
        predicted = find_personal_data(text)
        covered = [set(range(p.start, p.end)) for p in predicted]
        for truth in item["pii"]:
            key = (language, truth["kind"])
            needed = {i for i in range(truth["start"], truth["end"]) if text[i] not in SEPARATORS}
            union = set().union(*covered) if covered else set()
            found = needed <= union
            typed = found and all(
                any(i in cov for cov, p in zip(covered, predicted) if p.kind == truth["kind"])
                for i in needed
            )
            counts[key]["true"] += 1
            counts[key]["found"] += found
            counts[key]["typed"] += typed
            if not found:
                got = [(p.kind, p.text) for p in predicted]
                errors.append(
                    f"MISS {item['id']} {truth['kind']} {truth['text']!r} in {text!r} got {got}"
                )
        truth_chars = {i for t in item["pii"] for i in range(t["start"], t["end"])}
        for p in predicted:
            right = any(p.start < t["end"] and t["start"] < p.end for t in item["pii"])
            kind_of = next(
                (t["kind"] for t in item["pii"] if p.start < t["end"] and t["start"] < p.end),
                p.kind,
            )
            key = (language, kind_of)
            counts[key]["predicted"] += 1
            counts[key]["right"] += right
            chars = [i for i in range(p.start, p.end) if text[i] not in SEPARATORS]
            counts[key]["pchars"] += len(chars)
            counts[key]["pchars_in"] += sum(i in truth_chars for i in chars)
            if not right:
                errors.append(f"FALSE {item['id']} {p.kind} {p.text!r} in {text!r}")
    return {"counts": counts, "errors": errors}


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.4f}" if b else "  -   "


def _row(language: str, kind: str, c: dict[str, int]) -> str:
    return (
        f"{language:4} {kind:8} {c['true']:5d} {_ratio(c['found'], c['true']):>7} "
        f"{_ratio(c['typed'], c['true']):>7} {c['predicted']:5d} "
        f"{_ratio(c['right'], c['predicted']):>9} {_ratio(c['pchars_in'], c['pchars']):>9}"
    )


def report(name: str, result: dict) -> dict:
    counts = result["counts"]
    print(f"\n== {name}")
    header = ("lang", "kind", "true", "recall", "typed", "pred", "precision", "char_prec")
    print("{:4} {:8} {:>5} {:>7} {:>7} {:>5} {:>9} {:>9}".format(*header))
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (language, kind), c in sorted(counts.items()):
        for scope in (language, "all"):
            for field, value in c.items():
                totals[scope][field] += value
        print(_row(language, kind, c))
    summary = {}
    for scope in ("en", "zh", "all"):
        c = totals[scope]
        print(_row(scope, "ALL", c))
        summary[scope] = {
            "recall": c["found"] / c["true"] if c["true"] else None,
            "typed_recall": c["typed"] / c["true"] if c["true"] else None,
            "precision": c["right"] / c["predicted"] if c["predicted"] else None,
            "true": c["true"],
            "predicted": c["predicted"],
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261126, help="generator seed (report seed)")
    parser.add_argument(
        "--n", type=int, default=300, help="sentences with personal data per language"
    )
    parser.add_argument("--handwritten-only", action="store_true")
    parser.add_argument("--generated-only", action="store_true")
    parser.add_argument("--errors", type=int, default=0, help="print this many misses/false alarms")
    args = parser.parse_args(argv)
    out = {}
    if not args.handwritten_only:
        items = generate(args.seed, args.n)
        negatives = sum(not i["pii"] for i in items)
        result = score(items)
        out["generated"] = report(
            f"generated: seed {args.seed}, {len(items)} sentences "
            f"({negatives} without personal data)",
            result,
        )
        for line in result["errors"][: args.errors]:
            print(line)
    if not args.generated_only:
        items = load_handwritten()
        negatives = sum(not i["pii"] for i in items)
        result = score(items)
        out["handwritten"] = report(
            f"hand-written: {len(items)} sentences ({negatives} without personal data)", result
        )
        for line in result["errors"][: args.errors]:
            print(line)
    print(json.dumps({"seed": args.seed, **out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
