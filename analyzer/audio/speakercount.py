"""How many voices a mono call holds: a learned decision over candidate partitions.

The diarizer splits a call's clustering units into k = 2, 3, ... clusters; whether the k-way
split is k voices (rather than k - 1 voices, one of them heard in two moods or two kinds of
speech) is decided here from statistics of the partition (``partition_features``):

- how far apart the nearest two clusters are, in plain GE2E and in the learned speaker space
  (centroid distance and the distance of their nearest cross pairs), against the spread inside
  the clusters;
- how far apart their pitch registers are (octaves, and against the spread inside);
- how balanced the clusters are;
- whether the clusters take turns: talkers alternate from one stretch of speech to the next,
  while the moods of one voice come and go at random or in blocks (label changes between
  consecutive speech segments against what random labels of the same shares would give);
- how much speech there is (few units sit apart by chance).

A logistic model per step (``CountModel``: one voice or two; k - 1 voices or k beyond that) weighs
them; ``train/speaker_count.py`` fits it on simulated calls of speakers the benchmarks never use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..arrays import FloatArray, IntArray

FEATURE_CLIP = 3.0  # standardised features are clipped to this many training deviations: a
# linear model must not extrapolate (two very distinct synthetic voices in 7 units gave a spread
# ratio 20 times the training calls' and, unclipped, were counted as one voice)
NEAR_QUANTILE = 0.9  # cross pairs: the similarity quantile standing for "the nearest pairs"
FEATURES = (
    "plain_centroid",  # cosine distance of the nearest two clusters' centroids, plain GE2E
    "plain_near",  # 1 - the NEAR_QUANTILE of their cross similarities, plain GE2E
    "plain_ratio",  # plain_centroid / mean distance of a unit to its own centroid
    "space_centroid",  # the same three in the learned speaker space
    "space_near",
    "space_ratio",
    "pitch_gap",  # octaves between the two clusters' mean unit pitch (the nearest pair in plain)
    "pitch_z",  # pitch_gap / the pooled spread of unit pitch inside the clusters
    "min_share",  # the smallest cluster's share of the speech
    "turn_taking",  # label changes between consecutive segments / (1 - sum of squared shares)
    "log_units",  # log of the number of units
    "log_speech",  # log of the seconds of speech
    "fine_turn_taking",  # the most turn_taking of a grouping of finer clusters in k groups
    "fine_space_near",  # space_near of that grouping
    "rule_margin",  # how far the distance rule's nearest clusters are beyond its split distance
)


def partition_features(
    plain: FloatArray,
    space: FloatArray,
    weights: FloatArray,
    pitch: FloatArray,
    segment: IntArray,
    labels: IntArray,
    fine: IntArray | None = None,
    rule: tuple[str, float] | None = None,
) -> FloatArray:
    """Statistics [len(FEATURES)] of a partition of a call's clustering units into k >= 2
    clusters (``labels`` [U], 0..k-1).

    plain: unit embeddings [U, D] (L2-normalised GE2E means); space: the same units in the
    learned speaker space [U, E] (L2-normalised); weights: [U] seconds of speech; pitch: [U]
    median log2 pitch of each unit (NaN where unvoiced); segment: [U] index of the speech
    segment each unit belongs to, units in time order. fine: a finer split of the same units
    (about one voice in one mood per cluster; two voices with two moods each make four): the
    grouping of its clusters in two that takes turns most (each group at least a tenth of the
    speech) is scored too, as the two-way split itself may follow moods; without it (k >= 3)
    those two features repeat the partition's own. rule: the distance rule's space ("space" or
    "plain") and split distance for this k: the margin by which its nearest two clusters clear
    it (``clustering._distinct``), 0 without.
    """
    k = int(labels.max()) + 1
    share = np.bincount(labels, weights=weights, minlength=k) / max(float(weights.sum()), 1e-9)

    def centres(x: FloatArray) -> FloatArray:
        c = np.stack([(x[labels == j] * weights[labels == j, None]).sum(axis=0) for j in range(k)])
        out: FloatArray = c / np.linalg.norm(c, axis=1, keepdims=True).clip(1e-9)
        return out

    def distances(x: FloatArray) -> tuple[float, float, float, tuple[int, int], float]:
        c = centres(x)
        within = float(np.average(1 - np.sum(x * c[labels], axis=1), weights=weights))
        sims = x @ x.T
        best = (np.inf, np.inf, (0, 1))
        nearest = np.inf
        for a in range(k):
            for b in range(a):
                cent = 1 - float(c[a] @ c[b])
                near = 1 - float(np.quantile(sims[np.ix_(labels == a, labels == b)], NEAR_QUANTILE))
                nearest = min(nearest, near)
                if cent < best[0]:
                    best = (cent, near, (a, b))
        return best[0], best[1], best[0] / max(within, 1e-6), best[2], nearest

    p_cent, p_near, p_ratio, (a, b), p_min = distances(plain)
    s_cent, s_near, s_ratio, _, s_min = distances(space)
    margin = 0.0 if rule is None else (s_min if rule[0] == "space" else p_min) - rule[1]
    gap, z = 0.0, 0.0
    known = np.isfinite(pitch)
    in_a, in_b = known & (labels == a), known & (labels == b)
    if in_a.sum() >= 2 and in_b.sum() >= 2:
        gap = abs(float(np.mean(pitch[in_a]) - np.mean(pitch[in_b])))
        spread = np.sqrt((np.var(pitch[in_a]) + np.var(pitch[in_b])) / 2)
        z = gap / max(float(spread), 0.02)
    turn = _turn_taking(labels, segment, weights, share)
    fine_turn, fine_near = turn, s_near
    if fine is not None and k == 2 and fine.max() >= 2:
        fine_turn, fine_near = _best_alternating(space, weights, segment, fine)
    speech = np.log(max(float(weights.sum()), 1.0))
    values = [p_cent, p_near, p_ratio, s_cent, s_near, s_ratio, gap, z, share.min(), turn]
    return np.array(values + [np.log(len(labels)), speech, fine_turn, fine_near, margin])


def _best_alternating(
    space: FloatArray, weights: FloatArray, segment: IntArray, fine: IntArray
) -> tuple[float, float]:
    """(turn_taking, space_near) of the grouping of the ``fine`` clusters in two that takes
    turns most, among groupings leaving each group at least a tenth of the speech."""
    from .clustering import compact_labels

    fine = compact_labels(fine)
    n = int(fine.max()) + 1
    sims = space @ space.T
    best = (0.0, 0.0)
    for mask in range(1, 2 ** (n - 1)):
        labels = ((mask >> fine) & 1).astype(int)
        share = np.bincount(labels, weights=weights, minlength=2) / max(float(weights.sum()), 1e-9)
        if share.min() < 0.1:
            continue
        turn = _turn_taking(labels, segment, weights, share)
        if turn > best[0]:
            cross = sims[np.ix_(labels == 0, labels == 1)]
            best = (turn, 1 - float(np.quantile(cross, NEAR_QUANTILE)))
    return best


def _turn_taking(
    labels: IntArray, segment: IntArray, weights: FloatArray, share: FloatArray
) -> float:
    """Label changes between consecutive speech segments (each labelled by the cluster holding
    most of its speech) over the changes random labels of the same shares would make."""
    segs = np.unique(segment)
    if len(segs) < 2:
        return 1.0
    k = len(share)
    votes = np.zeros((len(segs), k))
    np.add.at(votes, (np.searchsorted(segs, segment), labels), weights)
    seq = votes.argmax(axis=1)
    changes = float(np.mean(seq[1:] != seq[:-1]))
    return changes / max(1.0 - float(np.sum(share**2)), 1e-3)


Step = tuple[FloatArray, FloatArray, FloatArray, float]  # one logistic model, see CountModel


@dataclass
class CountModel:
    """Logistic models of "the k-way split is k voices": one for k = 2 (``two``), one shared by
    k >= 3 (``more``); each is (mean [F], scale [F], coefficients [F], intercept) over
    FEATURES, standardised. A step without a model (None) is left to the distance rules, and so
    is the first step on calls of more than ``two_max_units`` clustering units (None: any).
    A split is kept when its probability reaches the step's threshold (``two_threshold``,
    ``more_threshold``)."""

    two: Step | None
    more: Step | None
    two_threshold: float = 0.5
    more_threshold: float = 0.5
    two_max_units: int | None = None

    def probability(self, features: FloatArray, k: int) -> float | None:
        """P(the k-way split is k voices) from ``partition_features``; None without a model
        for that step."""
        step = self.two if k == 2 else self.more
        units = np.exp(features[FEATURES.index("log_units")])
        if k == 2 and self.two_max_units is not None and units > self.two_max_units + 0.5:
            return None
        if step is None:
            return None
        mean, scale, coef, intercept = step
        standard = np.clip((features - mean) / scale, -FEATURE_CLIP, FEATURE_CLIP)
        z = float(standard @ coef + intercept)
        return float(1 / (1 + np.exp(-np.clip(z, -30, 30))))

    def accepts(self, features: FloatArray, k: int) -> bool | None:
        """Whether the k-way split is kept (k voices); None: left to the distance rules."""
        p = self.probability(features, k)
        return None if p is None else p >= (self.two_threshold if k == 2 else self.more_threshold)

    @classmethod
    def from_folder(cls, folder: Path, config: dict[str, Any]) -> CountModel:
        if list(config["features"]) != list(FEATURES):
            raise ValueError(f"{folder.name}: its features are not this analyzer's")

        def step(name: str) -> Step | None:
            s = config.get(name)
            if s is None:
                return None
            return (
                np.array(s["mean"], float), np.array(s["scale"], float),
                np.array(s["coef"], float), float(s["intercept"]),
            )  # fmt: skip

        most = config.get("two_max_units")
        return cls(
            step("two"),
            step("more"),
            float(config.get("two_threshold", 0.5)),
            float(config.get("more_threshold", 0.5)),
            None if most is None else int(most),
        )

    def to_config(self) -> dict[str, Any]:
        """The model.json entries this model is rebuilt from (``from_folder``)."""

        def step(s: Step | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {
                "mean": [round(float(v), 6) for v in s[0]],
                "scale": [round(float(v), 6) for v in s[1]],
                "coef": [round(float(v), 6) for v in s[2]],
                "intercept": round(float(s[3]), 6),
            }

        return {
            "features": list(FEATURES),
            "two": step(self.two),
            "more": step(self.more),
            "two_threshold": self.two_threshold,
            "more_threshold": self.more_threshold,
            "two_max_units": self.two_max_units,
        }


COUNT_MODEL = "speaker-count-logreg"  # models/ folder of the count model


@lru_cache(maxsize=2)
def load_count_model(name: str = COUNT_MODEL) -> CountModel:
    """The count model folder ``name`` under models/ (checksums checked); ModelError when it is
    missing or corrupt."""
    from ..models import open_model_folder

    return CountModel.from_folder(*open_model_folder(name, "speaker"))


def fit_logistic(
    x: FloatArray, y: FloatArray, *, l2: float = 1.0, sample_weight: FloatArray | None = None
) -> Step:
    """(mean, scale, coefficients, intercept) of an L2-penalised logistic regression of
    y in {0, 1} on standardised x [N, F] (Newton steps; the intercept is not penalised)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0).clip(1e-6)
    z = np.c_[(x - mean) / scale, np.ones(len(x))]
    sw = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, float)
    beta = np.zeros(z.shape[1])
    pen = np.r_[np.full(z.shape[1] - 1, l2), 0.0]
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(z @ beta, -30, 30)))
        grad = z.T @ (sw * (p - y)) + pen * beta
        hess = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, beta[:-1], float(beta[-1])
