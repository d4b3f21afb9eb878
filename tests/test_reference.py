"""Behaviour does not change: the bundled samples' results against a stored reference.

`tests/reference/<input file name>.json` holds `AnalysisResult.to_dict()` of each bundled sample
(`assets/sample_call.wav`, `assets/sample_video_call.mp4`) analysed with the default
`AnalysisConfig`, minus what depends on the machine rather than on the engine: `timings` (seconds
spent per stage) and `media.path` (where the file lies).

How the comparison works, key by key through the whole result:
- strings, ints, bools and None must be identical (labels, speakers, turns' speakers, event kinds,
  roles, model names, config values);
- floats must be within 1e-4 absolute (plus 1e-9 of float slack): the JSON rounds scores to 4
  decimals, so a score that moves by a hair across a rounding boundary differs by one unit of the
  last place and no more; times are rounded to milliseconds, so a turn boundary that moves fails;
- lists must have the same length (same number of segments, turns, events, face frames) and
  dicts the same keys.

Regenerating the reference is a deliberate act: do it in the commit that changes the behaviour
and say why in its message. From the repository root:

    python tests/test_reference.py --update

which re-analyses both samples with the code in the working tree and rewrites
`tests/reference/*.json` (one line per segment, turn, event and face frame, so `git diff` shows
what moved).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
SAMPLES = ("sample_call.wav", "sample_video_call.mp4")
ATOL = 1e-4  # the JSON keeps 4 decimals: one unit of the last place
_SLACK = 1e-9  # 0.1235 - 0.1234 is 1.0000000000000286e-04 in binary floating point
MAX_REPORTED = 20  # differences listed in a failure message


def comparable(result: dict) -> dict:
    """The part of a result dict that must not change: all of it except timings and the path."""
    out = {k: v for k, v in result.items() if k != "timings"}
    out["media"] = {k: v for k, v in result["media"].items() if k != "path"}
    return out


def differences(expected, actual, where: str = "$") -> list[str]:
    """Every place where `actual` departs from `expected`, as readable one-line paths."""
    # bool is an int in Python: compare it (and None and str) by identity of type and value.
    if isinstance(expected, float) or isinstance(actual, float):
        numbers = (int, float)
        if (
            not isinstance(expected, numbers)
            or not isinstance(actual, numbers)
            or isinstance(expected, bool)
            or isinstance(actual, bool)
        ):
            return [f"{where}: expected {expected!r}, got {actual!r}"]
        if math.isnan(expected) or math.isnan(actual):
            same = math.isnan(expected) and math.isnan(actual)
        else:
            same = abs(expected - actual) <= ATOL + _SLACK
        return [] if same else [f"{where}: expected {expected!r}, got {actual!r}"]
    if type(expected) is not type(actual):
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    if isinstance(expected, dict):
        found = []
        missing, extra = expected.keys() - actual.keys(), actual.keys() - expected.keys()
        if missing or extra:
            found.append(f"{where}: keys missing {sorted(missing)}, unexpected {sorted(extra)}")
        for key in expected.keys() & actual.keys():
            found += differences(expected[key], actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return [f"{where}: expected {len(expected)} items, got {len(actual)}"]
        found = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            found += differences(e, a, f"{where}[{i}]")
        return found
    return [] if expected == actual else [f"{where}: expected {expected!r}, got {actual!r}"]


def _compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dump(result: dict) -> str:
    """JSON with one line per list item at the top level, so a diff shows which rows moved."""
    lines = ["{"]
    keys = list(result)
    for n, key in enumerate(keys):
        value = result[key]
        comma = "," if n < len(keys) - 1 else ""
        head = f"{json.dumps(key)}: "
        if isinstance(value, list) and value:
            items = [_compact(v) for v in value]
            lines.append(head + "[")
            lines += [item + ("," if i < len(items) - 1 else "") for i, item in enumerate(items)]
            lines.append("]" + comma)
        else:
            lines.append(head + _compact(value) + comma)
    lines.append("}")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_bundled_sample_matches_reference(analyzer, name):
    reference = REFERENCE_DIR / f"{name}.json"
    assert reference.exists(), (
        f"{name}: no reference; run `python tests/test_reference.py --update`"
    )
    expected = json.loads(reference.read_text(encoding="utf-8"))
    # A round trip through JSON gives the same types the stored file has (tuples become lists).
    actual = comparable(json.loads(analyzer.analyze(ROOT / "assets" / name).to_json()))
    found = differences(expected, actual)
    shown = "\n".join(found[:MAX_REPORTED])
    more = f"\n... and {len(found) - MAX_REPORTED} more" if len(found) > MAX_REPORTED else ""
    assert not found, (
        f"{name}: {len(found)} difference(s) from {reference.relative_to(ROOT)}\n{shown}{more}\n"
        "If the change is intended, regenerate with `python tests/test_reference.py --update` "
        "and say why in the commit."
    )


def test_comparison_catches_what_it_must():
    base = {"emotion": "happy", "probs": [0.5, 0.25], "n": 3, "ok": True, "who": None}
    assert differences(base, json.loads(json.dumps(base))) == []
    assert differences({"x": 0.1234}, {"x": 0.1235}) == []  # one unit of the 4th decimal
    assert differences({"x": 0.1234}, {"x": 0.1236})  # two units
    assert differences({"x": 1.0}, {"x": 1}) == []  # JSON may write 1.0 as 1
    assert differences({"x": 3}, {"x": 4})  # counts are exact
    assert differences({"x": True}, {"x": 1.0})
    assert differences({"x": None}, {"x": 0.0})
    assert differences({"x": "happy"}, {"x": "sad"})
    assert differences({"x": [1.0, 2.0]}, {"x": [1.0]})
    assert differences({"x": 1}, {"x": 1, "y": 2})
    assert differences({"a": {"b": [{"c": "x"}]}}, {"a": {"b": [{"c": "y"}]}}) == [
        "$.a.b[0].c: expected 'x', got 'y'"
    ]
    raw = {"media": {"path": "/somewhere/a.wav", "name": "a.wav"}, "timings": {"voice": 1.0}}
    assert comparable(raw) == {"media": {"name": "a.wav"}}


def update() -> None:
    """Re-analyse the bundled samples and rewrite the stored reference."""
    import os

    for key, value in (("HF_HUB_OFFLINE", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1")):
        os.environ.setdefault(key, value)  # as conftest.py sets them for the test itself
    from analyzer import Analyzer

    REFERENCE_DIR.mkdir(exist_ok=True)
    analyzer = Analyzer()
    try:
        for name in SAMPLES:
            result = comparable(json.loads(analyzer.analyze(ROOT / "assets" / name).to_json()))
            path = REFERENCE_DIR / f"{name}.json"
            path.write_text(dump(result), encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    finally:
        analyzer.close()


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_reference.py --update")
    update()
