"""Issue 15 research (not product code): how many labelled clips of a new corpus it takes for
``emotrace train ser --init`` to gain 10 points on that corpus.

    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.adapt_curve \
        [emodb|ravdess ...] [--ns 0,10,25,50,100,150] [--draws 3] [--epochs E] [--tag T]

Base model (one per held-out corpus, cached as ``$SER_CACHE/models/adapt_base_<corpus>``):
version 5's recipe (``train.heads.fit_model_arrays`` with version 2's head options, layer-1
features) on the two *other* corpora, clean channel only, every speaker; then version 4's
neutral prior (``fit_neutral_bias``, 60 % of the LibriSpeech training-half clean windows). No
familiarity check (adaptation keeps it unchanged; the figures are argmax accuracy).

Adaptation: ``train.ser.adapt_model`` (the function ``emotrace train ser --init`` calls, which
calls ``train.heads.adapt_model_arrays``) on the cached clean layer-1 windows of N labelled clips
of the held-out corpus, with the ``HeadOptions`` the command line builds from its defaults. The
command itself would re-extract the features from audio; this calls the function under it.
N clips are drawn stratified by class (round-robin over the shuffled classes) from the
adaptation speakers; 3 draws per N. Test: the test speakers' clips of the shared classes,
window probabilities averaged per clip, argmax over the 7 labels (no speaker grouping, so the
absolute heads decide; "grouped" repeats it with each test speaker's windows as one group).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from analyzer.audio.ser import SpeechEmotionModel, save_model_folder
from train.heads import HeadOptions, fit_model_arrays, fit_neutral_bias
from train.metrics import expected_calibration_error
from train.ser import adapt_model, add_train_args, parse_gender_boosts

from . import CACHE
from .exp import CORPUS, GENDER, LABEL, SPEAKER, gather
from .v3 import clips
from .v5 import v2_options

NS = (0, 10, 25, 50, 100, 150)
DRAWS = 3
SPLITS = {
    "emodb": (["emodb_03", "emodb_08", "emodb_09"], ["emodb_10", "emodb_11"]),
    "ravdess": (
        [f"ravdess_{k:02d}" for k in range(1, 9)],
        [f"ravdess_{k:02d}" for k in range(17, 21)],
    ),
}


def cli_options() -> HeadOptions:
    """The options ``emotrace train ser --init M --manifest X`` builds (``run_train``)."""
    parser = argparse.ArgumentParser()
    add_train_args(parser)
    a = parser.parse_args(["--manifest", "x.csv", "--init", "m", "--out", "unused"])
    return HeadOptions(
        hidden=a.hidden,
        epochs=a.epochs,
        members=a.members,
        gender_boosts=parse_gender_boosts(a.gender_boosts),
        calibration=a.calibration,
        uncertain_rate=a.uncertain_rate,
        neutral_target=a.neutral_target,
        relative_reference=a.relative_reference,
    )


def base_model(held: str) -> Path:
    from .v4 import LABELLED, LS_FIT_ROWS

    out = CACHE / "models" / f"adapt_base_{held}"
    if (out / "model.json").exists():
        return out
    t0 = time.time()
    rows = LABELLED[CORPUS[LABELLED] != held]
    f, r, c, _ = gather(rows, ["clean"])
    arrays, config = fit_model_arrays(
        f,
        LABEL[r],
        SPEAKER[r].astype(str),
        c.astype(str),
        options=v2_options(),
        genders=GENDER[r].astype(str),
        corpora=CORPUS[r].astype(str),
    )
    config["features"] = "whisper-layer1"
    config["trained_on"] = {"corpora": sorted(set(CORPUS[r].tolist())), "channels": ["clean"]}
    save_model_folder(out, arrays, config)
    model = SpeechEmotionModel.from_folder(out, json.loads((out / "model.json").read_text()))
    ref, _, _, _ = gather(LS_FIT_ROWS, ["clean"])
    config["neutral_bias"] = round(fit_neutral_bias(model, ref, 0.6), 4)
    save_model_folder(out, arrays, config)
    print(f"base {held}: {time.time() - t0:.0f}s bias {config['neutral_bias']}", flush=True)
    return out


def load(folder: Path) -> SpeechEmotionModel:
    return SpeechEmotionModel.from_folder(folder, json.loads((folder / "model.json").read_text()))


def evaluate(model: SpeechEmotionModel, test: np.ndarray) -> dict:
    f, r, _, _ = gather(test, ["clean"])
    out = {}
    for name, groups in (("plain", None), ("grouped", SPEAKER[r].tolist())):
        p, u = clips(model.probabilities(f, groups=groups), r)
        y = LABEL[u]
        out[name] = {
            "acc": float(np.mean(p.argmax(axis=1) == y)),
            "ece": float(expected_calibration_error(p, y)),
        }
    return out


def draw(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n clips of ``pool`` stratified by class: classes visited round-robin, shuffled clips."""
    by = {c: list(rng.permutation(pool[LABEL[pool] == c])) for c in np.unique(LABEL[pool])}
    order = list(rng.permutation(list(by)))
    picked: list[int] = []
    while len(picked) < min(n, len(pool)):
        for c in order:
            if by[c] and len(picked) < n:
                picked.append(int(by[c].pop()))
    return np.array(sorted(picked))


def curve(
    held: str, options: HeadOptions, scratch: Path, ns: tuple[int, ...], draws: int
) -> list[dict]:
    from .v4 import LABELLED

    adapt_spk, test_spk = SPLITS[held]
    pool = LABELLED[np.isin(SPEAKER[LABELLED], adapt_spk)]
    test = LABELLED[np.isin(SPEAKER[LABELLED], test_spk)]
    base = base_model(held)
    zero = evaluate(load(base), test)
    print(f"{held}: pool {len(pool)} clips, test {len(test)} clips", flush=True)
    rows = [{"held": held, "n": 0, "clips": 0, "runs": [zero]}]
    for n in [n for n in ns if n > 0]:
        runs, used = [], 0
        for k in range(draws):
            chosen = draw(pool, n, np.random.default_rng(1000 * n + k))
            used = len(chosen)
            f, r, c, _ = gather(chosen, ["clean"])
            folder = adapt_model(
                base,
                scratch / f"{held}_{n}_{k}",
                f,
                LABEL[r],
                SPEAKER[r].astype(str),
                c.astype(str),
                options=options,
                about={"manifest": f"{held} adaptation draw", "clips": used, "channels": ["clean"]},
            )
            runs.append(evaluate(load(folder), test))
        rows.append({"held": held, "n": n, "clips": used, "runs": runs})
        print(json.dumps(rows[-1]), flush=True)
        if used < n:  # the pool is exhausted: larger N are the same draw
            break
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| held out | N asked | clips used | acc mean | acc min | acc max | gain (pts) | ECE mean "
        "| grouped acc mean | grouped ECE mean |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    base: dict[str, float] = {}
    for row in rows:
        acc = np.array([run["plain"]["acc"] for run in row["runs"]])
        ece = np.mean([run["plain"]["ece"] for run in row["runs"]])
        gacc = np.mean([run["grouped"]["acc"] for run in row["runs"]])
        gece = np.mean([run["grouped"]["ece"] for run in row["runs"]])
        if row["n"] == 0:
            base[row["held"]] = float(acc.mean())
        gain = 100 * (acc.mean() - base[row["held"]])
        lines.append(
            f"| {row['held']} | {row['n']} | {row['clips']} | {acc.mean():.3f} | {acc.min():.3f} "
            f"| {acc.max():.3f} | {gain:+.1f} | {ece:.3f} | {gacc:.3f} | {gece:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser()
    parser.add_argument("held", nargs="*", default=["emodb"], choices=sorted(SPLITS))
    parser.add_argument("--ns", default=",".join(map(str, NS)))
    parser.add_argument("--draws", type=int, default=DRAWS)
    parser.add_argument("--epochs", type=int, default=None, help="default: the command's")
    parser.add_argument("--tag", default="", help="suffix of results/adapt_curve*.json")
    args = parser.parse_args()
    options = cli_options()
    if args.epochs is not None:
        options = replace(options, epochs=args.epochs)
    ns = tuple(int(n) for n in args.ns.split(","))
    print(f"adaptation options: epochs {options.epochs} lr {options.lr}", flush=True)
    rows: list[dict] = []
    result = CACHE / "results" / f"adapt_curve{args.tag}.json"
    with tempfile.TemporaryDirectory() as scratch:
        for held in args.held:
            rows += curve(held, options, Path(scratch), ns, args.draws)
            result.write_text(json.dumps(rows, indent=1))
            print(table(rows), flush=True)


if __name__ == "__main__":
    main()
