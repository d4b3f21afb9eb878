"""Does anything tell two similar voices from one voice in two moods on calls over 20 units?

    python -m train.experiments.count_evidence --cache DIR      # DIR: benchmark caches

Reads the diarization benchmark's cached validation calls (``benchmarks.diarization --validation
--cache DIR``; test calls are never read) with one or two voices and more than
``speakers.PROJECTED_MAX_UNITS`` clustering units (up to ``longcall.LONG_CALL_UNITS``): the calls
whose one-vs-two decision the distance rule makes (``CountModel.two_max_units``). For the two-way
split the diarizer makes of each, it prints the AUC (one voice vs two) of every statistic:
the count model's partition features (``speakercount.FEATURES``; ``rule_margin`` is the distance
rule's margin), the split's turn-taking per speech segment against shuffled labels
(``longcall.turn_taking_z``), the share of segments in runs of 4 or more of one label, the share
of multi-unit segments holding both labels, the split's stability (mean adjusted Rand index of
re-splits of 70 % of the units with the full split) and the overlap detector's hits per minute
of speech; then a 5-fold cross-validated logistic model of the margin plus each statistic (fitted
and scored on these same calls, so an optimistic bound) against the margin alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from analyzer.arrays import FloatArray, IntArray

MIN_UNITS = 20  # calls with more units: the distance rule's one-vs-two path
RESPLITS = 10  # re-splits of a share of the units for the stability
RESPLIT_SHARE = 0.7


def auc(score: FloatArray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for ``positive`` (ties count half)."""
    pos, neg = score[positive], score[~positive]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / max(len(pos) * len(neg), 1))


def run_lengths(seq: IntArray) -> IntArray:
    """Lengths of the runs of equal consecutive values of ``seq``."""
    change = np.flatnonzero(seq[1:] != seq[:-1]) + 1
    bounds = np.r_[0, change, len(seq)]
    out: IntArray = np.diff(bounds)
    return out


def call_statistics(path: Path, projection, detector) -> dict[str, float] | None:
    """Statistics of the two-way split of one cached call (None: not a mid-length call of one
    or two voices)."""
    from sklearn.metrics import adjusted_rand_score

    from analyzer.audio import longcall
    from analyzer.audio.clustering import cluster_embeddings
    from analyzer.audio.speakercount import FEATURES
    from analyzer.audio.speakers import PITCH_WEIGHT, _count_rule, _units, with_pitch

    z = np.load(path, allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    voices = len({s for s, _, _ in meta["ref"]})
    spans, owner, plain, f0 = z["spans"], z["owner"], z["emb"], z["f0"].astype(np.float32)
    if voices > 2 or len(plain) == 0:
        return None
    unit, uemb, weight = _units(spans, owner, with_pitch(plain, spans, f0, PITCH_WEIGHT))
    if not MIN_UNITS < len(uemb) <= longcall.LONG_CALL_UNITS:
        return None
    segment = np.zeros(len(uemb), dtype=int)
    segment[unit] = owner
    seen: list[tuple[IntArray, FloatArray]] = []

    class Probe:
        def accepts(self, features: FloatArray, k: int) -> bool:
            seen[-1] = (seen[-1][0], features)
            return False

    rule = _count_rule(Probe(), spans, owner, plain, uemb, weight, f0, projection)

    def capture(labels, k, split):
        seen.append((labels.copy(), np.zeros(0)))
        return rule(labels, k, split)

    cluster_embeddings(uemb, weights=weight, accept=capture)
    if not seen:
        return None
    labels, features = seen[0]
    per_segment = longcall.segment_labels(labels, weight, segment)
    both = [len(set(labels[segment == s])) > 1 for s in np.unique(segment)]
    many = [(segment == s).sum() > 1 for s in np.unique(segment)]
    rng = np.random.default_rng(0)
    agree = []
    for _ in range(RESPLITS):
        pick = np.sort(rng.choice(len(uemb), int(RESPLIT_SHARE * len(uemb)), replace=False))
        again = cluster_embeddings(uemb[pick], weights=weight[pick], num_speakers=2)
        agree.append(adjusted_rand_score(labels[pick], again))
    audio = z["audio"].astype(np.float32) / 32767
    prob = detector.probabilities(audio)
    speech = np.zeros(len(prob), dtype=bool)
    for a, b in z["speech"]:
        speech[int(a * 100) : int(b * 100)] = True
    hits = detector.mask(prob, speech).sum() / max(speech.sum(), 1) * 60
    out = {"two_voices": float(voices == 2)}
    out.update({name: float(v) for name, v in zip(FEATURES, features)})
    out.update(
        turn_taking_z=longcall.turn_taking_z(labels, weight, segment),
        long_runs=float(np.mean(run_lengths(per_segment) >= 4)),
        mixed_segments=float(np.mean(np.array(both)[many])) if any(many) else 0.0,
        stability=float(np.mean(agree)),
        overlap_per_min=float(hits),
    )
    return out


def cross_validated_auc(x: FloatArray, positive: np.ndarray, folds: int = 5) -> float:
    """AUC of a logistic model of ``x`` [N, F] scored on held-out folds (seeded)."""
    from analyzer.audio.speakercount import fit_logistic

    fold = np.random.default_rng(0).permutation(len(x)) % folds
    score = np.zeros(len(x))
    for f in range(folds):
        mean, scale, coef, intercept = fit_logistic(
            x[fold != f], positive[fold != f].astype(float), l2=1.0
        )
        score[fold == f] = ((x[fold == f] - mean) / scale) @ coef + intercept
    return auc(score, positive)


def main() -> None:
    from analyzer.audio.overlap import load_overlap_detector
    from analyzer.audio.speakers import load_projection

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True, help="the benchmark's --cache folder")
    args = ap.parse_args()
    projection, detector = load_projection(), load_overlap_detector()
    rows = []
    for path in sorted(args.cache.glob("val-[12]-*.npz")):
        stats = call_statistics(path, projection, detector)
        if stats is not None:
            rows.append(stats)
    positive = np.array([r["two_voices"] > 0 for r in rows])
    print(f"{len(rows)} validation calls over {MIN_UNITS} units: {int((~positive).sum())} one "
          f"voice, {int(positive.sum())} two voices")  # fmt: skip
    names = [k for k in rows[0] if k != "two_voices"]
    table = {k: np.array([r[k] for r in rows]) for k in names}
    for k in names:
        one, two = (np.percentile(table[k][m], [10, 50, 90]) for m in (~positive, positive))
        print(
            f"{k:18s} AUC {auc(table[k], positive):.3f}  one voice {np.round(one, 2)}  "
            f"two {np.round(two, 2)}"
        )
    margin = table["rule_margin"][:, None]
    print(f"logistic, 5-fold: margin alone {cross_validated_auc(margin, positive):.3f}")
    for k in names:
        if k != "rule_margin":
            both = np.c_[margin, table[k]]
            print(f"  margin + {k:18s} {cross_validated_auc(both, positive):.3f}")


if __name__ == "__main__":
    main()
