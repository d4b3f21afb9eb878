"""Fit the speaker-count model used by mono diarization (``models/speaker-count-logreg``).

    python -m train.speaker_count simulate --cache DIR --calls 400   # embedded training calls
    python -m train.speaker_count simulate --cache DIR --start 3000 --calls 40 --multi  # 3-4 voices
    python -m train.speaker_count simulate --cache DIR --start 3500 --calls 40 --multi --voices 2
    python -m train.speaker_count fit --cache DIR --out models/speaker-count-logreg

Whether a call holds one voice or more, and how many, is decided from call-level statistics of
the candidate partitions (``analyzer.audio.speakercount``): how far apart the clusters are in
plain GE2E and in the learned speaker space, how balanced they are, how far apart their pitch
registers are, and whether the clusters take turns in time as talkers do. A logistic model per
step (one voice or two; k voices or k + 1) weighs these statistics; it is fitted here on
simulated calls of speakers the benchmarks never use.

Training speakers: TESS (2 talkers, 150 clips each) and EmoDB (5) in 1-2 acted emotions per
call, AISHELL-1 (1) and LibriSpeech (80, each utterance cut into 2-4 s pieces) from
``../shared/data/speech``. **No RAVDESS actor is used**: the diarization benchmark tests on
actors 01-12 and tunes on 13-20.
One-voice calls (the negatives) come from the speakers with many clips (TESS, EmoDB, AISHELL);
calls of 2-4 voices of one corpus (one recording setup, as the benchmark's actors share a
studio; voices from different corpora differ by the channel alone), half of the two-voice calls
of one gender. Calls are simulated as
the benchmark does (``benchmarks.simcalls.simulate_call``: turns with gaps and overlapping
starts), 8-34 turns (mostly short calls), a fifth of them through an 8 kHz channel, and embedded
as the diarizer does. ``--multi`` draws short multi-party excerpts instead (3 or 4 voices of one
corpus, 10-18 turns of one clip, ~30-60 s); they train only the later step (k - 1 or k voices for
k >= 3), so one vs two is fitted on the other calls alone. ``--multi --voices 2`` draws such
excerpts of two voices: negatives of that step (a third cluster in a short two-voice excerpt is
not a voice), so that a lower bar for further voices in short excerpts is not paid for by short
two-voice calls.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EMOTIONAL = ("tess", "emodb")  # corpora whose speakers act several emotions
MANY_CLIPS = ("tess", "emodb", "aishell")  # speakers with enough clips for a one-voice call
PIECE_S = (2.0, 4.0)  # s; LibriSpeech utterances are cut into pieces of this length
MAX_CLIPS = 150  # clips per speaker at most (TESS has 1400 per talker), seeded draw
SEED = 7
MULTI_VOICES = (3, 4)  # voices of a short multi-party training call (``--multi``)
MULTI_TURNS = (10, 12, 14, 16, 18)  # its turns, one clip each


def speaker_rows(root: Path, pieces: Path) -> tuple[list[dict], dict[str, str]]:
    """Manifest rows of the training speakers (never RAVDESS; LibriSpeech utterances cut into
    pieces written under ``pieces``, absolute paths) and each speaker's gender ('' unknown)."""
    rows: list[dict] = []
    for name in ("manifest.csv", "read_speech.csv"):
        with open(root / "speech" / name, newline="") as fh:
            rows += [r for r in csv.DictReader(fh) if r["corpus"] != "ravdess"]
    rng = np.random.default_rng(SEED)
    per: dict[str, list[dict]] = {}
    for r in rows:
        per.setdefault(r["speaker"], []).append(r)
    rows = []
    for spk_rows in per.values():
        if len(spk_rows) > MAX_CLIPS:
            pick = sorted(rng.choice(len(spk_rows), MAX_CLIPS, replace=False))
            spk_rows = [spk_rows[i] for i in pick]
        rows += spk_rows
    out, gender = [], {}
    for r in rows:
        gender[r["speaker"]] = r["gender"]
        if r["corpus"] != "librispeech":
            out.append(r)
            continue
        wav, sr = sf.read(root / r["path"], dtype="float32")
        pieces.mkdir(parents=True, exist_ok=True)
        a, n = 0, 0
        while len(wav) - a > PIECE_S[0] * sr:
            b = min(len(wav), a + int(rng.uniform(*PIECE_S) * sr))
            path = pieces / f"{Path(r['path']).stem}-{n}.flac"
            if not path.exists():
                sf.write(path, wav[a:b], sr)
            out.append({**r, "path": str(path), "label": "read"})
            a, n = b, n + 1
    for r in out:
        if r["corpus"] == "aishell":
            r["label"] = "read"
    return out, gender


def draw_call(
    rng: np.random.Generator,
    rows: list[dict],
    gender: dict[str, str],
    multi: bool = False,
    voices: tuple[int, ...] = MULTI_VOICES,
) -> tuple[list[str], dict[str, set[str]], int, int, bool]:
    """(cast, emotions per speaker, turns, most clips per turn, telephone) of one training
    call: 1-4 voices (weights 0.35, 0.35, 0.15, 0.15); ``multi``: a short multi-party excerpt
    instead, 3 or 4 voices (even odds) in 10-18 turns of one clip (~30 s, as the benchmark's
    ``--length short`` calls of three or four voices); ``voices``: the numbers of voices a
    multi-party excerpt draws from (even odds; 2 makes the extra-voice step's negatives)."""
    corpus = {r["speaker"]: r["corpus"] for r in rows}
    many = sorted(s for s, c in corpus.items() if c in MANY_CLIPS)
    if multi:
        n = int(rng.choice(voices))
        turns = int(rng.choice(MULTI_TURNS))
        max_clips = 1
    else:
        n = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.35, 0.15, 0.15]))
        turns = int(rng.choice([8, 14, 16, 24, 34], p=[0.2, 0.3, 0.2, 0.15, 0.15]))
        max_clips = int(rng.choice([1, 2, 3]))
    if n == 1:
        cast = [str(rng.choice(many))]
    else:  # voices of one corpus (one recording setup), as the benchmark's actors are
        sizes = {c: len({s for s, cc in corpus.items() if cc == c}) for c in set(corpus.values())}
        corp = str(rng.choice(sorted(c for c, m in sizes.items() if m >= n)))
        pool = sorted(s for s, c in corpus.items() if c == corp)
        if corp == "librispeech" and turns > 16:  # few pieces per LibriSpeech voice
            turns = 16
        if n == 2 and rng.random() < 0.5:
            g = gender[str(rng.choice(pool))]
            same = [s for s in pool if gender[s] == g and g]
            pool = same if len(same) >= 2 else pool
        cast = [str(s) for s in rng.choice(pool, n, replace=False)]
    emotions = {}
    for s in cast:
        labels = sorted({r["label"] for r in rows if r["speaker"] == s})
        if corpus[s] in EMOTIONAL:
            emotions[s] = {str(e) for e in rng.choice(labels, rng.integers(1, 3), replace=False)}
    return cast, emotions, turns, max_clips, bool(rng.random() < 0.2)


def simulate(
    cache: Path,
    calls: int,
    start: int,
    root: Path = DATA,
    multi: bool = False,
    voices: tuple[int, ...] = MULTI_VOICES,
    room: bool = False,
) -> None:
    """Simulate and embed training calls ``start`` .. ``start + calls - 1`` into ``cache``
    (one npz per call, the diarization benchmark's cache format); ``multi``: short
    multi-party excerpts of ``voices`` voices (``draw_call``), marked so in the call's
    metadata; ``room``: each call heard by one far-field microphone in a room
    (``benchmarks.simcalls.in_room``, seeded by the call's number) instead of mixed dry."""
    import torch

    from analyzer.audio.prosody import analyze_frames
    from analyzer.audio.speakers import SpeakerEncoder
    from analyzer.audio.vad import VoiceActivityDetector, speech_segments
    from benchmarks.diarization import save_embedded_call
    from benchmarks.simcalls import SR, in_room, simulate_call, telephone_band

    torch.set_num_threads(1)
    rows, gender = speaker_rows(root, cache / "pieces")
    vad, encoder = VoiceActivityDetector(), SpeakerEncoder()
    for i in range(start, start + calls):
        path = cache / f"train-{i:04d}.npz"
        if path.exists():
            continue
        rng = np.random.default_rng(SEED * 100_000 + i)
        cast, emotions, turns, max_clips, tel = draw_call(rng, rows, gender, multi, voices)
        audio, ref = simulate_call(
            rows,
            cast,
            seed=SEED * 100_000 + i,
            emotions=emotions,
            overlap_prob=0.15 if len(cast) > 1 else 0.0,
            n_turns=turns,
            max_clips=max_clips,
            root=root,
            tracks=room,
        )
        if room:
            audio = in_room(audio, SEED * 100_000 + i)
        if tel:
            audio = telephone_band(audio)
        dur = len(audio) / SR
        speech = speech_segments(vad.probabilities(audio), duration_s=dur)
        spans, owner, emb = encoder.embed_windows(audio, speech)
        f0 = analyze_frames(audio, speech=speech).f0_hz
        meta = {"name": "+".join(cast), "duration": dur, "cpu": 0.0, "telephone": tel}
        if multi:
            meta["draw"] = "multi"
            if voices != MULTI_VOICES:
                meta["voices"] = list(voices)
        if room:
            meta["room"] = True
        save_embedded_call(path, meta, ref, emotions, speech, (spans, owner, emb, f0), None)
        print(f"{i}: {meta['name']} {dur:.0f} s, {len(emb)} windows", flush=True)


class _Probe:
    """A count rule that keeps every candidate split and records its features: the training
    rows of one call, as the diarizer would see them."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, np.ndarray]] = []

    def accepts(self, features: np.ndarray, k: int) -> bool:
        self.rows.append((k, features))
        return True


def call_rows(path: Path, projection) -> tuple[int, list[tuple[int, np.ndarray]]]:
    """(true number of voices, [(k, partition features)] for k = 2.. as far as the diarizer's
    candidate splits go) of one embedded call (a training call or a benchmark cache file)."""
    from analyzer.audio.speakers import diarize_embedded
    from analyzer.segment import Segment

    z = np.load(path, allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    speech = [Segment(a, b) for a, b in z["speech"]]
    n_true = len({s for s, _, _ in meta["ref"]})
    probe = _Probe()
    diarize_embedded(
        z["spans"], z["owner"], z["emb"], speech, meta["duration"],
        f0=z["f0"].astype(np.float32), projection=projection, count_model=probe,
    )  # fmt: skip
    return n_true, probe.rows


def step_data(calls: list[tuple[int, list[tuple[int, np.ndarray]]]], two: bool):
    """(features [N, F], targets [N]: the k-way split is right or too few) of the first step
    (k = 2, ``two``) or of the later ones (k >= 3)."""
    x, y = [], []
    for n_true, rows in calls:
        for k, f in rows:
            if (k == 2) == two:
                x.append(f)
                y.append(float(n_true >= k))
    return np.array(x), np.array(y)


SIMULATE = "python -m train.speaker_count simulate --cache DIR"


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs (first, last) of sorted integers."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _draw(path: Path) -> str:
    """The ``simulate`` options a training call was drawn with: "" (a whole call),
    " --multi" or " --multi --voices 2" (and so on), " --room" after them for a call heard in
    a room."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
    room = " --room" if meta.get("room") else ""
    if meta.get("draw") != "multi":
        return room
    voices = meta.get("voices")
    return " --multi" + ("" if voices is None else " --voices " + ",".join(map(str, voices))) + room


def fit(
    cache: Path,
    out: Path,
    l2: float,
    thresholds: tuple[float, float],
    steps: set[str],
    two_max_units: int | None,
) -> None:
    """Fit the count model on the training calls in ``cache`` and write the model folder;
    ``steps`` ("two", "more") get a model, the others stay with the distance rules."""
    from analyzer.audio.speakercount import CountModel, fit_logistic
    from analyzer.audio.speakers import load_projection
    from analyzer.models import write_checksums

    projection = load_projection()
    paths = sorted(cache.glob("train-*.npz"))
    calls = [call_rows(p, projection) for p in paths]
    draws = [_draw(p) for p in paths]
    multi = ["--multi" in d for d in draws]
    # short multi-party calls teach only the later steps: one vs two keeps its own calls
    x2, y2 = step_data([c for c, m in zip(calls, multi) if not m], True)
    x3, y3 = step_data(calls, False)
    model = CountModel(
        fit_logistic(x2, y2, l2=l2) if "two" in steps else None,
        fit_logistic(x3, y3, l2=l2) if "more" in steps else None,
        *thresholds,
        two_max_units,
    )
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "kind": "speaker",
        "loader": "analyzer.audio.speakercount:CountModel",
        "encoder": "GE2E voice encoder shipped in Resemblyzer + models/speaker-ge2e-wccn",
        **model.to_config(),
        "l2": l2,
        "steps": sorted(steps),
        "training_calls": len(calls),
        **({"training_multi_calls": sum(multi)} if any(multi) else {}),
        "training_rows": {"two": len(y2), "more": len(y3)},
        "training": (
            "; ".join(
                f"{SIMULATE} --start {a} --calls {b - a + 1}{draw}"
                for draw in sorted(set(draws))
                for a, b in _runs(
                    sorted(int(p.stem.split("-")[1]) for p, d in zip(paths, draws) if d == draw)
                )
            )
            + "; "
            f"python -m train.speaker_count fit --cache DIR --out models/{out.name} --l2 {l2} "
            f"--two-threshold {thresholds[0]} --more-threshold {thresholds[1]}"
            + (f" --two-max-units {two_max_units}" if two_max_units is not None else "")
        ),
    }
    (out / "model.json").write_text(json.dumps(config, indent=1) + "\n")
    write_checksums(out)
    for name, x, y in (("two", x2, y2), ("more", x3, y3)):
        k = 2 if name == "two" else 3
        if name not in steps:
            continue
        plain = CountModel(model.two, model.more)  # thresholds 0.5, every call
        acc = np.mean([plain.accepts(f, k) == bool(t) for f, t in zip(x, y)])
        print(f"{name}: {len(y)} rows, {y.mean():.0%} positive, training accuracy {acc:.0%}")
    print(f"{len(calls)} calls -> {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sim = sub.add_parser("simulate", help="simulate and embed training calls")
    sim.add_argument("--cache", type=Path, required=True)
    sim.add_argument("--calls", type=int, default=400)
    sim.add_argument("--start", type=int, default=0)
    sim.add_argument(
        "--multi", action="store_true", help="short (~30 s) calls of 3-4 voices, one clip a turn"
    )
    sim.add_argument(
        "--voices", default="3,4", help="--multi: voices per excerpt, e.g. 2 (comma-separated)"
    )
    sim.add_argument(
        "--room", action="store_true", help="heard by one far-field microphone in a room"
    )
    fitp = sub.add_parser("fit", help="fit the count model on the simulated calls")
    fitp.add_argument("--cache", type=Path, required=True)
    fitp.add_argument("--out", type=Path, default=Path("models/speaker-count-logreg"))
    fitp.add_argument("--l2", type=float, default=1.0)
    fitp.add_argument("--two-threshold", type=float, default=0.5)
    fitp.add_argument("--more-threshold", type=float, default=0.5)
    fitp.add_argument(
        "--two-max-units", type=int, help="the first step's model only on calls this short"
    )
    fitp.add_argument("--steps", default="two,more", help="steps with a model: two, more")
    args = ap.parse_args()
    if args.cmd == "simulate":
        voices = tuple(int(v) for v in args.voices.split(","))
        simulate(
            args.cache, args.calls, args.start, multi=args.multi, voices=voices, room=args.room
        )
    else:
        fit(
            args.cache,
            args.out,
            args.l2,
            (args.two_threshold, args.more_threshold),
            set(args.steps.split(",")),
            args.two_max_units,
        )


if __name__ == "__main__":
    main()
