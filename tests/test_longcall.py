"""Clustering the units of long mixed calls (``analyzer.audio.longcall``)."""

from __future__ import annotations

import numpy as np

from analyzer.audio import longcall
from analyzer.audio.longcall import (
    LONG_CALL_UNITS,
    LONG_MAX_ITEMS,
    cluster_long_call,
    segment_labels,
    spread,
    turn_taking_z,
)


def _voices(n: int, share_a: float, seed: int = 0, spread_s: float = 0.35):
    """n unit embeddings [n, 32] of two voices (the first ``share_a`` of turns voice A), in
    alternating runs as a call's turns, with the true labels."""
    rng = np.random.default_rng(seed)
    a, b = np.zeros(32), np.zeros(32)
    a[0], b[1] = 1.0, 1.0
    truth = np.zeros(n, dtype=int)
    t = 0
    while t < n:
        run = int(rng.integers(2, 8))
        truth[t : t + run] = 0 if rng.random() < share_a else 1
        t += run
    x = np.where(truth[:, None] == 0, a, b) + spread_s * rng.standard_normal((n, 32)) / np.sqrt(32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), truth


def test_spread_picks_evenly_and_keeps_the_ends():
    assert spread(5, 10).tolist() == [0, 1, 2, 3, 4]
    picked = spread(2500, 800)
    assert len(picked) == 800 and picked[0] == 0 and picked[-1] == 2499
    gaps = np.diff(picked)
    assert gaps.min() >= 3 and gaps.max() <= 4


def test_a_long_call_is_clustered_from_a_bounded_number_of_units(monkeypatch):
    x, truth = _voices(2600, 0.6)
    weights = np.full(len(x), 2.0)
    sizes = []
    real = longcall.cluster_embeddings

    def spy(units, **kw):
        sizes.append(len(units))
        return real(units, **kw)

    monkeypatch.setattr(longcall, "cluster_embeddings", spy)
    labels = cluster_long_call(x, weights)
    assert sizes and max(sizes) <= LONG_MAX_ITEMS  # the affinity is at most 800 x 800
    assert labels.max() == 1
    agree = np.mean(labels == truth)
    assert max(agree, 1 - agree) > 0.99  # every unit, picked or not, joins its voice
    # Label 0 is the voice with the most speech.
    assert np.bincount(labels)[0] > np.bincount(labels)[1]


def test_a_long_call_of_one_voice_stays_one_and_a_given_count_is_kept():
    x, truth = _voices(900, 1.0, seed=2)
    assert (truth == 0).all()
    weights = np.full(len(x), 2.0)
    assert cluster_long_call(x, weights).max() == 0
    assert cluster_long_call(x, weights, num_speakers=1).max() == 0
    two, _ = _voices(900, 0.5, seed=3)
    assert cluster_long_call(two, weights, num_speakers=2).max() == 1


def test_diarize_embedded_takes_the_long_call_path_only_for_many_units(monkeypatch):
    from analyzer.audio import speakers
    from analyzer.segment import Segment

    calls = []
    real = speakers.cluster_long_call

    def spy(units, weights, **kw):
        calls.append(len(units))
        # Each unit carries its speech segment (here one unit per segment, in time order).
        np.testing.assert_array_equal(kw["segments"], np.arange(len(units)))
        return real(units, weights, **kw)

    monkeypatch.setattr(speakers, "cluster_long_call", spy)
    for n_units in (LONG_CALL_UNITS, LONG_CALL_UNITS + 1):
        x, truth = _voices(n_units, 0.5, seed=4)
        emb = np.concatenate([x, np.zeros((n_units, 224))], axis=1).astype(np.float32)
        # One 1.5 s window per speech segment, segments 2 s apart.
        speech = [Segment(2.0 * i, 2.0 * i + 1.5) for i in range(n_units)]
        spans = np.array([(200 * i, 200 * i + 150) for i in range(n_units)])
        owner = np.arange(n_units)
        turns = speakers.diarize_embedded(spans, owner, emb, speech, 2.0 * n_units)
        assert len(turns.speakers) == 2
    assert calls == [LONG_CALL_UNITS + 1]


def test_only_a_long_call_is_resegmented_along_its_pauses(monkeypatch):
    """By default (``PAUSE_LONG_ONLY``) the pause-chained resegmentation runs on calls of
    more than LONG_CALL_UNITS units and not on shorter ones; switched off, on neither."""
    from analyzer.audio import speakers
    from analyzer.segment import Segment

    assert speakers.PAUSE_PRIOR is not None and speakers.PAUSE_LONG_ONLY
    seen = []
    real = speakers._paused_labels

    def spy(score, voted, segment, speech, change_cost):
        seen.append(len(speech))
        return real(score, voted, segment, speech, change_cost)

    monkeypatch.setattr(speakers, "_paused_labels", spy)

    def run(n_units):
        x, _ = _voices(n_units, 0.5, seed=4)
        emb = np.concatenate([x, np.zeros((n_units, 224))], axis=1).astype(np.float32)
        speech = [Segment(2.0 * i, 2.0 * i + 1.5) for i in range(n_units)]
        spans = np.array([(200 * i, 200 * i + 150) for i in range(n_units)])
        turns = speakers.diarize_embedded(spans, np.arange(n_units), emb, speech, 2.0 * n_units)
        assert len(turns.speakers) == 2

    run(LONG_CALL_UNITS)
    run(LONG_CALL_UNITS + 1)
    assert seen == [LONG_CALL_UNITS + 1]
    monkeypatch.setattr(speakers, "PAUSE_PRIOR", None)
    run(LONG_CALL_UNITS + 1)
    assert seen == [LONG_CALL_UNITS + 1]


def _viterbi_frame_by_frame(score, voted, segment, scale, change_cost):
    """The resegmentation's Viterbi written the plain way: one frame at a time over the call."""
    t_n, k = score.shape
    emit = np.where(voted[:, None], scale * score, 0.0)
    back = np.zeros((t_n, k), dtype=int)
    acc = emit[0].copy()
    for t in range(1, t_n):
        cost = change_cost if segment[t] == segment[t - 1] else 0.0
        cand = acc[:, None] - np.where(np.eye(k, dtype=bool), 0.0, cost)
        back[t] = np.argmax(cand, axis=0)
        acc = cand[back[t], np.arange(k)] + emit[t]
    path = np.zeros(t_n, dtype=int)
    path[-1] = np.argmax(acc)
    for t in range(t_n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def test_viterbi_decodes_all_segments_at_once_with_the_same_path():
    from analyzer.audio.speakers import _viterbi

    rng = np.random.default_rng(5)
    for k in (2, 3):
        lengths = rng.integers(1, 400, 60)
        segment = np.repeat(np.arange(60), lengths)
        # Slowly wandering similarities, so paths hold and change inside segments.
        score = np.cumsum(rng.normal(0, 0.05, (len(segment), k)), axis=0) % 1.0
        voted = rng.random(len(segment)) > 0.1
        got = _viterbi(score, voted, segment, 20.0, 30.0)
        want = _viterbi_frame_by_frame(score, voted, segment, 20.0, 30.0)
        changes = np.sum((np.diff(want) != 0) & (segment[1:] == segment[:-1]))
        assert changes > 5  # the test exercises changes inside segments
        np.testing.assert_array_equal(got, want)
    # One segment, one frame.
    assert _viterbi(
        np.array([[0.1, 0.9]]), np.array([True]), np.array([0]), 20.0, 30.0
    ).tolist() == [1]


def test_paused_viterbi_without_weight_is_the_plain_one_and_with_it_follows_the_pauses():
    """``_viterbi_paused``: weight 0 decodes as ``_viterbi``; with weight, segments whose
    evidence barely leans the wrong way take the voice the call's pauses point to (here a
    long pause always brings the other voice, a short one never does)."""
    from analyzer.audio.speakers import _viterbi, _viterbi_paused

    rng = np.random.default_rng(3)
    n_seg = 80
    long_pause = rng.random(n_seg - 1) < 0.5
    truth = np.zeros(n_seg, dtype=int)
    for s in range(1, n_seg):
        truth[s] = 1 - truth[s - 1] if long_pause[s - 1] else truth[s - 1]
    gaps = np.where(long_pause, rng.uniform(0.8, 1.5, n_seg - 1), rng.uniform(0.1, 0.3, n_seg - 1))
    lengths = rng.integers(20, 60, n_seg)
    segment = np.repeat(np.arange(n_seg), lengths)
    lean = np.where(rng.random(n_seg) < 0.2, -0.01, 0.05)  # a fifth lean the wrong way
    own = np.repeat(truth, lengths)
    score = np.zeros((len(segment), 2))
    score[np.arange(len(segment)), own] = 0.5 + np.repeat(lean, lengths)
    score[np.arange(len(segment)), 1 - own] = 0.5
    voted = np.ones(len(segment), dtype=bool)
    plain = _viterbi(score, voted, segment, 20.0, 30.0)
    unweighted = _viterbi_paused(score, voted, segment, gaps, 20.0, 30.0, weight=0.0)
    np.testing.assert_array_equal(unweighted, plain)
    wrong = np.mean(plain != np.repeat(truth, lengths))
    assert 0.1 < wrong < 0.35
    chained = _viterbi_paused(score, voted, segment, gaps, 20.0, 30.0, weight=40.0)
    assert np.mean(chained != np.repeat(truth, lengths)) < 0.25 * wrong
    # a segment keeps one label where nothing inside it asks for a change
    for s in range(n_seg):
        assert len(set(chained[segment == s])) == 1


def _two_near(n: int, distance: float, seed: int = 1):
    """n tight unit embeddings [n, 32] of two voices whose centres are ``distance`` apart
    (cosine), alternating every 5 units, with the true labels."""
    rng = np.random.default_rng(seed)
    a, b = np.zeros(32), np.zeros(32)
    a[0] = 1.0
    b[0], b[1] = 1 - distance, np.sqrt(1 - (1 - distance) ** 2)
    truth = (np.arange(n) // 5) % 2
    x = np.where(truth[:, None] == 0, a, b) + 0.12 * rng.standard_normal((n, 32)) / np.sqrt(32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), truth


def test_two_similar_voices_of_a_long_call_are_not_merged():
    from analyzer.audio.clustering import SPLIT_DISTANCE, cluster_embeddings

    assert longcall.LONG_SPLIT_DISTANCE < SPLIT_DISTANCE
    weights = np.full(600, 2.0)
    x, truth = _two_near(600, 0.17)
    # The count rule alone (the short calls' distance) finds one voice ...
    assert cluster_embeddings(x, weights=weights, prune_share=longcall.LONG_PRUNE_SHARE).max() == 0
    labels = cluster_long_call(x, weights)  # ... a long call keeps the two-way split
    assert labels.max() == 1
    agree = np.mean(labels == truth)
    assert max(agree, 1 - agree) > 0.99
    # Closer than LONG_SPLIT_DISTANCE (one voice in two moods): one voice.
    one, _ = _two_near(600, 0.08)
    assert cluster_long_call(one, weights).max() == 0
    # A count given, or at most one speaker allowed, is not second-guessed.
    assert cluster_long_call(x, weights, num_speakers=1).max() == 0
    assert cluster_long_call(x, weights, max_speakers=1).max() == 0


def test_turn_taking_counts_speech_segments_not_units():
    rng = np.random.default_rng(7)
    # 300 segments of 4 units each; the voices take turns from one segment to the next.
    segments = np.repeat(np.arange(300), 4)
    weights = rng.uniform(0.5, 3.0, len(segments))
    turns = segments % 2
    assert segment_labels(turns, weights, segments).tolist() == [0, 1] * 150
    assert turn_taking_z(turns, weights, segments) > 10
    # Counted per unit, the same labels change less often than chance (3 of 4 steps keep the
    # label); a unit-level measure would call these turns a random split.
    assert np.mean(turns[1:] != turns[:-1]) < 0.5
    # Labels drawn at random per segment (a voice's moods coming and going): about 0.
    mood = rng.integers(0, 2, 300)
    z_random = [
        turn_taking_z(np.repeat(rng.integers(0, 2, 300), 4), weights, segments) for _ in range(50)
    ]
    assert abs(np.mean(z_random)) < 0.6 and np.mean(np.array(z_random) >= 2.0) < 0.1
    # Long runs of one label (a mood held for minutes): below 0.
    runs = np.repeat(np.arange(300) // 30 % 2, 4)
    assert turn_taking_z(runs, weights, segments) < -5
    # A segment's label is the one with the most seconds among its units.
    one = np.array([0, 1, 1])
    assert segment_labels(one, np.array([3.0, 1.0, 1.0]), np.zeros(3, int)).tolist() == [0]
    assert segment_labels(one, np.array([1.0, 1.0, 1.0]), np.zeros(3, int)).tolist() == [1]
    # Too few segments: no evidence either way.
    assert turn_taking_z(mood[:2], weights[:2], np.arange(2)) == 0.0


def test_a_close_split_stands_when_its_clusters_take_turns(monkeypatch):
    monkeypatch.setattr(longcall, "LONG_TURN_Z", 2.0)  # the check is off by default
    weights = np.full(600, 2.0)
    x, truth = _two_near(600, 0.17)  # turns of 5 units, each turn one speech segment
    assert cluster_long_call(x, weights).max() == 1
    labels = cluster_long_call(x, weights, segments=np.arange(600) // 5)
    assert labels.max() == 1
    agree = np.mean(labels == truth)
    assert max(agree, 1 - agree) > 0.99
    # The same two groups coming and going at random from one segment to the next (a voice in
    # two moods): the rescued split is not kept.
    rng = np.random.default_rng(3)
    order = np.argsort(rng.random(120))  # the 120 five-unit groups in a shuffled order
    shuffled = x.reshape(120, 5, 32)[order].reshape(600, 32)
    assert cluster_long_call(shuffled, weights).max() == 1  # without segments: split
    assert cluster_long_call(shuffled, weights, segments=np.arange(600) // 5).max() == 0
    monkeypatch.setattr(longcall, "LONG_TURN_Z", None)  # off (the default): the split stands
    assert cluster_long_call(shuffled, weights, segments=np.arange(600) // 5).max() == 1
    # Far apart, the count rule finds two voices whatever their order.
    far, _ = _two_near(600, 0.5)
    far = far.reshape(120, 5, 32)[order].reshape(600, 32)
    assert cluster_long_call(far, weights, segments=np.arange(600) // 5).max() == 1


def test_two_voices_whose_moods_differ_more_are_regrouped_by_voice(monkeypatch):
    # Two voices, each in two moods that move the plain embedding further than the voices
    # differ: the plain two-way split follows the moods; in the speaker space (voice only)
    # the four voice x mood clusters group by voice.
    rng = np.random.default_rng(11)
    n = 900
    voice = np.zeros(n, dtype=int)
    mood = np.zeros(n, dtype=int)
    t = 0
    while t < n:
        run = int(rng.integers(2, 8))
        voice[t : t + run] = t // 7 % 2  # turns alternate
        mood[t : t + run] = int(rng.random() < 0.5)
        t += run
    eye = np.eye(32)
    noise = 0.05 * rng.standard_normal((n, 32)) / np.sqrt(32)
    plain = 0.42 * eye[voice] + 0.9 * eye[2 + mood] + noise  # voices ~0.18 apart, moods ~0.8
    plain /= np.linalg.norm(plain, axis=1, keepdims=True)
    space = eye[voice][:, :16] + 0.15 * rng.standard_normal((n, 16)) / 4
    space /= np.linalg.norm(space, axis=1, keepdims=True)
    weights = np.full(n, 2.0)

    def agreement(labels: np.ndarray, truth: np.ndarray) -> float:
        same = float(np.mean(labels == truth))
        return max(same, 1 - same)

    monkeypatch.setattr(longcall, "LONG_GROUPING", False)
    before = cluster_long_call(plain, weights, speaker_space=space)
    assert before.max() == 1 and agreement(before, mood) > 0.95  # the moods, not the voices
    monkeypatch.setattr(longcall, "LONG_GROUPING", True)
    after = cluster_long_call(plain, weights, speaker_space=space)
    assert after.max() == 1 and agreement(after, voice) > 0.99
    assert np.bincount(after, weights=weights)[0] >= np.bincount(after, weights=weights)[1]
    # Without the speaker space nothing is regrouped; one voice stays one.
    assert np.array_equal(cluster_long_call(plain, weights), before)
    one, _ = _voices(900, 1.0, seed=2)
    assert cluster_long_call(one, weights, speaker_space=space).max() == 0


def test_centroids_refitted_from_a_resegmentation_follow_its_labels():
    from analyzer.audio.speakers import _window_centroids

    eye = np.eye(4)
    spans = np.array([[0, 10], [5, 15], [20, 30], [25, 45]])
    emb = np.stack([eye[0], eye[0], eye[1], eye[1] * 0.6 + eye[2] * 0.8])
    frame_label = np.full(50, -1)
    frame_label[0:15] = 0
    frame_label[20:28] = 1
    frame_label[28:45] = 1
    cents = _window_centroids(spans, emb, frame_label, 2)
    assert cents is not None and cents.shape == (2, 4)
    assert np.allclose(cents[0], eye[0])
    # speaker 1: windows 3 and 4, the longer one weighing twice as much
    expected = 10 * eye[1] + 20 * (eye[1] * 0.6 + eye[2] * 0.8)
    assert np.allclose(cents[1], expected / np.linalg.norm(expected))
    frame_label[20:45] = 0  # no window left to speaker 1: nothing to refit
    assert _window_centroids(spans, emb, frame_label, 2) is None


def _turns_in_two_moods(seed: int, turn_gap: tuple[float, float], inner_gap: tuple[float, float]):
    """A long call's units [U, 32] where each voice's two moods move the embedding more than
    the voices differ: voices take turns (1-3 speech segments a turn, 2 units a segment), the
    mood drawn anew for every segment; gaps between turns and inside turns drawn from the two
    ranges. Returns (units, weights, segment per unit, segment times [S, 2], voice per unit)."""
    rng = np.random.default_rng(seed)
    seg_voice, times, t = [], [], 0.0
    for turn in range(300):
        for piece in range(int(rng.integers(1, 4))):
            t += rng.uniform(*(inner_gap if piece else turn_gap))
            seg_voice.append(turn % 2)
            times.append((t, t + 4.0))
            t += 4.0
    segments = np.repeat(np.arange(len(seg_voice)), 2)
    voice = np.array(seg_voice)[segments]
    mood = rng.integers(0, 2, len(seg_voice))[segments]
    eye = np.eye(32)
    noise = 0.05 * rng.standard_normal((len(voice), 32)) / np.sqrt(32)
    units = 0.42 * eye[voice] + 0.9 * eye[2 + mood] + noise  # voices ~0.18 apart, moods ~0.8
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    return units, np.full(len(voice), 2.0), segments, np.array(times), voice


def test_a_long_calls_two_voices_are_the_grouping_whose_changes_follow_the_pauses(monkeypatch):
    def agreement(labels: np.ndarray, truth: np.ndarray) -> float:
        same = float(np.mean(labels == truth))
        return max(same, 1 - same)

    # Turns change at longer gaps than the pauses inside a turn (the benchmark's calls) and
    # at shorter ones (real talk): either way the voices are found, not the moods.
    for turn_gap, inner_gap in (((0.8, 1.5), (0.2, 0.5)), ((0.1, 0.4), (0.5, 1.2))):
        units, weights, segments, times, voice = _turns_in_two_moods(5, turn_gap, inner_gap)
        monkeypatch.setattr(longcall, "LONG_TIMING", False)
        before = cluster_long_call(units, weights, segments=segments, times=times)
        assert before.max() == 1 and agreement(before, voice) < 0.7  # the moods
        monkeypatch.setattr(longcall, "LONG_TIMING", True)
        after = cluster_long_call(units, weights, segments=segments, times=times)
        assert after.max() == 1 and agreement(after, voice) > 0.99
        # Without the segments' times there is no timing to go by.
        assert np.array_equal(cluster_long_call(units, weights, segments=segments), before)
    # A split whose changes already follow the pauses best is kept as it is.
    units, weights, segments, times, voice = _turns_in_two_moods(6, (0.8, 1.5), (0.2, 0.5))
    assert agreement(longcall.timed_in_two(units, weights, voice, segments, times), voice) == 1
    # One voice stays one: the timing only chooses between ways of making two voices.
    one, _ = _voices(900, 1.0, seed=2)
    assert (
        cluster_long_call(
            one,
            np.full(900, 2.0),
            segments=np.arange(900) // 3,
            times=np.arange(300)[:, None] * 5.0 + [0.0, 4.0],
        ).max()
        == 0
    )


def test_voices_taking_single_turns_in_strict_alternation_are_found_by_it(monkeypatch):
    # Every pause is a change of voice, drawn from one range: the pauses have nothing to tell,
    # but the label of the voices alternates from each speech segment to the next while a mood
    # (drawn anew per segment, moving the embedding more than the voice) does not.
    rng = np.random.default_rng(12)
    n_seg = 400
    segments = np.repeat(np.arange(n_seg), 2)
    voice = segments % 2
    mood = rng.integers(0, 2, n_seg)[segments]
    eye = np.eye(32)
    units = 0.42 * eye[voice] + 0.9 * eye[2 + mood]
    units += 0.05 * rng.standard_normal(units.shape) / np.sqrt(32)
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    start = np.cumsum(rng.uniform(0.3, 1.0, n_seg) + 3.0)
    times = np.c_[start, start + 3.0]
    weights = np.full(len(units), 1.5)

    def agreement(labels: np.ndarray) -> float:
        same = float(np.mean(labels == voice))
        return max(same, 1 - same)

    monkeypatch.setattr(longcall, "LONG_TURNS", None)  # the pauses alone
    assert agreement(cluster_long_call(units, weights, segments=segments, times=times)) < 0.9
    monkeypatch.setattr(longcall, "LONG_TURNS", 8)
    found = cluster_long_call(units, weights, segments=segments, times=times)
    assert found.max() == 1 and agreement(found) > 0.99
