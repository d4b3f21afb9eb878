"""Clustering voice embeddings into speakers, counting the speakers on the way.

Spectral clustering of a pruned cosine affinity (average linkage for few items), then a few
weighted nearest-centroid passes; without a given count, the most clusters that stay distinct
voices (``cluster_embeddings``); two voices may be told apart in a second, speaker space by
grouping finer clusters (``group_in_two``). Pure numpy/scipy: embeddings in, labels out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..arrays import FloatArray, IntArray

SPLIT_DISTANCE = 0.21  # cosine; clusters are one voice if NEAR_SHARE of cross pairs are nearer
NEAR_SHARE = 0.1  # share of the cross-cluster pairs (the nearest) that decides a split
EXTRA_SPEAKER_DISTANCE = 0.03  # cosine added to SPLIT_DISTANCE per speaker beyond two (validation)
FEW_ITEMS_DISTANCE = 0.0  # cosine * sqrt(items) added to the split distance: few, short units
# (a ~40 s call) are noisier embeddings whose clusters sit further apart by chance alone
FEW_ITEMS_EXTRA_DISTANCE = 0.0  # cosine * sqrt(items) added per speaker beyond two: in a short
# call a third cluster is a handful of units, as far from the rest by chance as a real voice
PRUNE_SHARE = 0.3  # share of each unit's most similar units kept in the spectral affinity
PRUNE_MIN_KEEP = 6  # but at least this many (a short call's few units need a denser graph)
SPECTRAL_MIN_ITEMS = 9  # fewer items are clustered by average linkage (a pruned graph of a
# dozen short units is too sparse for its eigenvectors to show the voices)
MIN_CLUSTER_SHARE = 0.07  # a split leaving a cluster less of the speech than this is refused
FINE_CLUSTERS = 4  # two voices are re-split into this many clusters (voice x mood) that are
# then grouped in two in a speaker space (``group_in_two``): on validation three-minute
# same-gender calls the plain two-way split followed moods in 7 of 14 calls (collar DER
# 0.213, grouped 0.160; 3 fine clusters 0.190, 5 0.169; three-voice calls 0.143 either way)
TIMING_GROUPING = False  # choose that grouping by when the voices change, where timing is clear:
# off, it passed on validation calls and failed on the test calls twice (benchmarks/diarization.py)
TIMING_Z = 2.0  # |Mann-Whitney z| of pauses before a change of voice against pauses before the
# same voice goes on that makes the timing clear (see ``pause_change_z``)
TIMING_MIN_SHARE = 0.1  # a timing-chosen grouping leaves each group at least this share of speech
TIMING_MARGIN: float | None = 2.0  # two voices made (grouped or split) give way to the grouping
# of the finer clusters whose changes follow the pauses best when its |z| is this much higher
# (``timed_over``; None: off). Rule written first (session 33, the diarization benchmark's
# docstring); validation collar DER 3-min same-gender 0.164 -> 0.109, through 8 kHz 0.189 ->
# 0.140, other sets within 0.001; test 8 kHz default 0.174 -> 0.159, 12-minute 8 kHz 0.061 ->
# 0.044, same-gender 0.086 -> 0.058, the rest unchanged.
TIMING_TURNS = False  # when set: that margin is over the score the long calls use, the pauses'
# |z| combined with how often the voices alternate (``timed_over``); candidate, session 33


def cluster_embeddings(
    embeddings: FloatArray,
    *,
    weights: FloatArray | None = None,
    num_speakers: int | None = None,
    max_speakers: int = 4,
    min_speakers: int = 1,
    split_distance: float | None = None,
    extra_distance: float = EXTRA_SPEAKER_DISTANCE,
    few_items_distance: float = FEW_ITEMS_DISTANCE,
    few_items_extra_distance: float = FEW_ITEMS_EXTRA_DISTANCE,
    prune_share: float = PRUNE_SHARE,
    speaker_space: FloatArray | None = None,
    accept: Callable[[IntArray, int, Callable[[int], IntArray]], bool | None] | None = None,
    timing: tuple[IntArray, FloatArray] | None = None,
    second_look: bool = False,
) -> IntArray:
    """Cluster L2-normalised embeddings [W, D] into speaker labels [W] (0..k-1, by weight).

    weights: [W] (e.g. seconds of speech each embedding stands for; default 1).
    With ``num_speakers`` the items are split into exactly that many clusters (fewer if there
    are fewer items). Otherwise k = 2, 3, ... ``max_speakers`` clusterings are tried in turn
    and the last one kept in which every two clusters are distinct voices (see ``_distinct``:
    ``split_distance`` apart, default SPLIT_DISTANCE, plus ``extra_distance`` per speaker
    beyond two, as most calls are two-party, plus ``few_items_distance`` and
    ``few_items_extra_distance`` per speaker beyond two over the square root of the number of
    items, as few items sit apart by chance) and every cluster holds at least
    MIN_CLUSTER_SHARE of the weight; one speaker when even the two-way split fails. A split is
    spectral clustering for at least SPECTRAL_MIN_ITEMS items (and more than 2 * max_speakers),
    average linkage below that, and
    is followed by a few weighted nearest-centroid passes. prune_share: the share of each
    item's most similar items kept in the spectral affinity (PRUNE_SHARE; long calls keep fewer).

    speaker_space: the same items [W, E] in a space where one voice's moods stay together
    (``speakers.SpeakerProjection``). When given and the result is two speakers, the items are
    split again into FINE_CLUSTERS clusters (each about one voice in one mood) and those are
    grouped in two in that space (``group_in_two``), kept when the two groups are still
    distinct voices in the plain embeddings (``_distinct`` at the two-speaker distance): the
    plain two-way split of two similar voices can follow their moods instead, while the check
    keeps a three-voice call counted as two from being regrouped across a voice.

    min_speakers: without ``num_speakers``, splits into up to this many clusters are kept
    without a test (the fewest voices the caller knows there are); the count goes on from there.

    accept: a learned count rule (``speakercount.CountModel`` through the diarizer): called
    with each candidate k-way labels, k and the k -> k-way labels function (finer splits), its
    answer replaces the distance rule above (the share floor MIN_CLUSTER_SHARE still holds);
    None leaves that k to the distance rule.

    timing: (the speech segment [W] each item was cut from, the segments' (start, end) in
    seconds [S, 2]): with TIMING_GROUPING, the grouping of the finer clusters may be chosen by
    when the voices change (``group_in_two``'s ``timing``).

    second_look: with ``timing``, two voices give way to whichever grouping of the finer
    clusters is most tied to the turn-taking, pauses and alternation (``timed_over`` with no
    margin): the diarizer's second look at a call whose voices may be mixed up
    (``speakers.SECOND_LOOK``).
    """
    w = len(embeddings)
    weights = np.ones(w) if weights is None else np.asarray(weights, float)
    split_distance = SPLIT_DISTANCE if split_distance is None else split_distance
    if w == 0:
        return np.zeros(0, dtype=int)
    if w == 1 or num_speakers == 1:
        return np.zeros(w, dtype=int)
    split = _splitter(embeddings, weights, max_speakers, prune_share)
    if num_speakers:
        labels = split(min(num_speakers, w))
    else:
        labels = np.zeros(w, dtype=int)
        for k in range(2, min(max_speakers, w) + 1):
            cand = split(k)
            need = (
                split_distance
                + extra_distance * (k - 2)
                + (few_items_distance + few_items_extra_distance * (k - 2)) / np.sqrt(w)
            )
            if cand.max() < k - 1:
                break
            if k <= min_speakers:
                labels = cand
                continue
            verdict = None if accept is None else accept(cand, k, split)
            if verdict is None:
                verdict = _distinct(embeddings, cand, weights, need)
            elif np.bincount(cand, weights=weights).min() < MIN_CLUSTER_SHARE * weights.sum():
                verdict = False
            if not verdict:
                break
            labels = cand
    if speaker_space is not None and labels.max() == 1 and w > FINE_CLUSTERS:
        fine = split(FINE_CLUSTERS)
        need = split_distance + few_items_distance / np.sqrt(w)
        timed = TIMING_GROUPING and timing is not None
        for by_time in (True, False) if timed else (False,):
            grouped = group_in_two(fine, speaker_space, weights, timing=timing if by_time else None)
            if _distinct(embeddings, grouped, weights, need):
                labels = grouped
                break
        margin = 0.0 if second_look else TIMING_MARGIN
        if margin is not None and timing is not None:
            alternate = second_look or TIMING_TURNS
            labels = timed_over(labels, fine, weights, timing, margin, alternation=alternate)
    # Relabel by weight so label 0 is the speaker with the most speech.
    order = np.argsort(-np.bincount(labels, weights=weights))
    relabelled: IntArray = np.argsort(order)[labels]
    return relabelled


def group_in_two(
    fine: IntArray,
    embeddings: FloatArray,
    weights: FloatArray,
    *,
    timing: tuple[IntArray, FloatArray] | None = None,
) -> IntArray:
    """Labels [W] 0/1: the fine clusters (labels ``fine`` [W], 0..K-1) grouped in two.

    Every grouping of the K clusters in two is scored by the cosine distance between the two
    groups' weighted mean embeddings (``embeddings`` [W, E], L2-normalised) times the product
    of the groups' shares of the weight, and the best is kept: far apart, and not one small
    cluster against the rest (a mood of one voice that stands out). K is small (2**(K-1) - 1
    groupings).

    timing: (segment [W], times [S, 2]) as in ``cluster_embeddings``. Talkers change at pauses
    of their own kind (between turns), a mood comes and goes whatever the pause: of the groupings
    leaving each group TIMING_MIN_SHARE of the weight, the one whose changes are most tied to
    the pauses (largest |``pause_change_z``|) is kept when that reaches TIMING_Z; otherwise the
    score above decides.
    """
    fine = compact_labels(fine)
    k = int(fine.max()) + 1
    if k < 2:
        return np.zeros(len(fine), dtype=int)
    share = np.bincount(fine, weights=weights, minlength=k) / weights.sum()
    sums = np.stack(
        [(embeddings[fine == c] * weights[fine == c, None]).sum(axis=0) for c in range(k)]
    )
    best_score, best = -np.inf, np.zeros(k, dtype=int)
    for mask in range(1, 2 ** (k - 1)):
        side = (mask >> np.arange(k)) & 1
        a, b = sums[side == 0].sum(axis=0), sums[side == 1].sum(axis=0)
        cos = a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12)
        score = (1 - cos) * share[side == 0].sum() * share[side == 1].sum()
        if score > best_score:
            best_score, best = score, side
    if timing is not None:
        clearest = 0.0
        for mask in range(1, 2 ** (k - 1)):
            side = (mask >> np.arange(k)) & 1
            if min(share[side == 0].sum(), share[side == 1].sum()) < TIMING_MIN_SHARE:
                continue
            z = abs(pause_change_z(side[fine], timing[0], weights, timing[1]))
            if z >= TIMING_Z and z > clearest:
                clearest, best = z, side
    grouped: IntArray = best[fine]
    return grouped


def timed_over(
    labels: IntArray,
    fine: IntArray,
    weights: FloatArray,
    timing: tuple[IntArray, FloatArray],
    margin: float,
    *,
    alternation: bool = False,
) -> IntArray:
    """Two voices' ``labels`` [W], or the grouping in two of the ``fine`` clusters (each group
    at least TIMING_MIN_SHARE of the weight) whose changes are most tied to the pauses
    (largest |``pause_change_z``|, with ``alternation`` combined with how often the voices
    alternate: ``turn_tie``) where that exceeds the labels' own by more than ``margin``
    (with no margin: the grouping most tied to the turn-taking, the labels kept on a tie)."""
    segment, times = timing

    def tie(grouped: IntArray) -> float:
        return turn_tie(grouped, segment, weights, times, alternation=alternation)

    fine = compact_labels(fine)
    k = int(fine.max()) + 1
    share = np.bincount(fine, weights=weights, minlength=k) / weights.sum()
    need = tie(labels) + margin
    best = labels
    for mask in range(1, 2 ** (k - 1)):
        side = (mask >> np.arange(k)) & 1
        if min(share[side == 0].sum(), share[side == 1].sum()) < TIMING_MIN_SHARE:
            continue
        z = tie(side[fine])
        if z > need:
            need, best = z, side[fine]
    return best


def turn_tie(
    labels: IntArray,
    segment: IntArray,
    weights: FloatArray,
    times: FloatArray,
    *,
    alternation: bool,
) -> float:
    """How tied the voice changes of ``labels`` are to the turn-taking: |``pause_change_z``|,
    and with ``alternation`` combined with how often the label alternates between consecutive
    speech segments (``turn_taking_z``, counted when positive: long runs are a mood, not
    turns) as sqrt(z_pause^2 + z_alternation^2). Arguments as ``pause_change_z``."""
    z = abs(pause_change_z(labels, segment, weights, times))
    if not alternation:
        return z
    return float(np.hypot(z, max(turn_taking_z(labels, weights, segment), 0.0)))


def pause_change_z(
    labels: IntArray, segment: IntArray, weights: FloatArray, times: FloatArray
) -> float:
    """How much the pauses at which the voice changes differ from those at which it goes on:
    the Mann-Whitney z (normal approximation) of the pauses before a change against the pauses
    before no change, between consecutive speech segments that hold items (each labelled by
    the label of most of its items' weight); positive when changes come at longer pauses, 0
    when either kind is missing.

    labels, segment, weights: [W] per item (0..k-1, the speech segment index, weight);
    times: [S, 2] (start, end) of every speech segment in seconds.
    """
    from scipy.stats import rankdata

    segs = np.unique(segment)
    if len(segs) < 3:
        return 0.0
    votes = np.zeros((len(segs), int(labels.max()) + 1))
    np.add.at(votes, (np.searchsorted(segs, segment), labels), weights)
    seq = votes.argmax(axis=1)
    pauses = times[segs[1:], 0] - times[segs[:-1], 1]
    change = seq[1:] != seq[:-1]
    n1, n2 = int(change.sum()), int((~change).sum())
    if n1 == 0 or n2 == 0:
        return 0.0
    u = float(rankdata(pauses)[change].sum()) - n1 * (n1 + 1) / 2
    return (u - n1 * n2 / 2) / float(np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12))


def _splitter(
    embeddings: FloatArray, weights: FloatArray, max_speakers: int, prune_share: float
) -> Callable[[int], IntArray]:
    """A function k -> labels [W]: the k-way clustering, each computed once."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(embeddings) >= max(SPECTRAL_MIN_ITEMS, 2 * max_speakers + 1):
        vecs = _spectral_vectors(embeddings, prune_share)

        def split(k: int) -> IntArray:
            return _reassign(embeddings, _embed_kmeans(vecs, k), weights)

    else:
        tree = linkage(embeddings, method="average", metric="cosine")

        def split(k: int) -> IntArray:
            labels = fcluster(tree, t=k, criterion="maxclust") - 1
            return _reassign(embeddings, labels, weights)

    return split


def _distinct(
    embeddings: FloatArray, labels: IntArray, weights: FloatArray, distance: float
) -> bool:
    """Whether every cluster holds MIN_CLUSTER_SHARE of the weight and every two clusters are
    ``distance`` apart: fewer than NEAR_SHARE of their cross pairs nearer than that (cosine).

    A voice heard in two moods makes two tight clusters with centroids as far apart as two
    similar voices, but the clusters touch: some items of one have near twins in the other.
    A quantile of the cross distances, unlike the nearest pair, hardly moves with the number
    of items (the call's length).
    """
    if np.bincount(labels, weights=weights).min() < MIN_CLUSTER_SHARE * weights.sum():
        return False
    sims = embeddings @ embeddings.T
    for a in range(labels.max() + 1):
        for b in range(a):
            cross = sims[np.ix_(labels == a, labels == b)]
            if 1 - np.quantile(cross, 1 - NEAR_SHARE) < distance:
                return False
    return True


def _spectral_vectors(embeddings: FloatArray, prune_share: float = PRUNE_SHARE) -> FloatArray:
    """Eigenvectors [W, W] (ascending eigenvalues) of the normalised Laplacian of a
    row-pruned cosine affinity: each row keeps its ``prune_share`` most similar items, at least
    PRUNE_MIN_KEEP (the rest is noise between different voices that blurs the block structure;
    in a short call the few units' graph falls apart when pruned to a share)."""
    aff = np.clip(embeddings @ embeddings.T, 0.0, None)
    keep = min(len(aff), max(PRUNE_MIN_KEEP, int(prune_share * len(aff))))
    thr = np.sort(aff, axis=1)[:, -keep][:, None]
    aff = np.where(aff >= thr, aff, 0.0)
    aff = (aff + aff.T) / 2
    d = 1 / np.sqrt(aff.sum(axis=1).clip(1e-9))
    lap = np.eye(len(aff)) - d[:, None] * aff * d[None, :]
    vectors: FloatArray = np.linalg.eigh(lap)[1]
    return vectors


def _embed_kmeans(vecs: FloatArray, k: int) -> IntArray:
    """k-means on the first k eigenvectors (rows normalised), best of 5 seeded restarts."""
    from scipy.cluster.vq import kmeans2

    v = vecs[:, :k]
    v = v / np.linalg.norm(v, axis=1, keepdims=True).clip(1e-9)
    best: IntArray | None = None
    best_inertia = np.inf
    for seed in range(5):  # seeded: the result is deterministic
        cents, labels = kmeans2(v, k, minit="++", seed=seed)
        inertia = ((v - cents[labels]) ** 2).sum()
        if best is None or inertia < best_inertia:  # the first restart when all are NaN
            best, best_inertia = labels, inertia
    assert best is not None  # range(5) is not empty
    return compact_labels(best)


def centroids(embeddings: FloatArray, labels: IntArray, weights: FloatArray) -> FloatArray:
    """Weighted mean embedding of each cluster [k, D], L2-normalised."""
    cents = np.stack(
        [
            (embeddings[labels == k] * weights[labels == k, None]).sum(axis=0)
            for k in range(labels.max() + 1)
        ]
    )
    out: FloatArray = cents / np.linalg.norm(cents, axis=1, keepdims=True).clip(1e-9)
    return out


def compact_labels(labels: IntArray) -> IntArray:
    """Labels renumbered 0..k-1 in the order of their values (unused numbers dropped)."""
    inverse: IntArray = np.unique(labels, return_inverse=True)[1]
    return inverse


def _reassign(
    embeddings: FloatArray, labels: IntArray, weights: FloatArray, rounds: int = 3
) -> IntArray:
    """A few nearest-centroid passes: fixes items that average linkage chained wrongly."""
    labels = compact_labels(labels)
    for _ in range(rounds):
        new = compact_labels(
            np.argmax(embeddings @ centroids(embeddings, labels, weights).T, axis=1)
        )
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def segment_labels(labels: IntArray, weights: FloatArray, segments: IntArray) -> IntArray:
    """One label per speech segment [S] (in the order of ``segments``' first appearance): the
    label with the most seconds among the segment's units (labels [U], weights [U] seconds,
    segments [U] the segment index of each unit)."""
    _, seg = np.unique(segments, return_inverse=True)
    k = int(labels.max()) + 1
    seconds = np.zeros((int(seg.max()) + 1, k))
    np.add.at(seconds, (seg, labels), weights)
    out: IntArray = np.argmax(seconds, axis=1)
    return out


def turn_taking_z(labels: IntArray, weights: FloatArray, segments: IntArray) -> float:
    """How far the label changes between consecutive speech segments (each segment's
    ``segment_labels``, time order) exceed those of shuffled labels with the same shares of
    segments, in standard errors of the shuffled rate: high when the clusters take turns, about
    0 when they come and go at random, below 0 when they come in long runs. Units of one
    segment count once (a long turn cut into several units is one turn)."""
    per_seg = segment_labels(labels, weights, segments)
    n = len(per_seg)
    if n < 3:
        return 0.0
    share = np.bincount(per_seg) / n
    chance = 1.0 - float(np.sum(share**2))
    if chance <= 0:
        return 0.0
    rate = float(np.mean(per_seg[1:] != per_seg[:-1]))
    return (rate - chance) / float(np.sqrt(chance * (1 - chance) / (n - 1)))
