"""The learned speaker-count decision: partition statistics, the logistic model, its use."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analyzer.audio.clustering import cluster_embeddings
from analyzer.audio.speakercount import (
    FEATURES,
    CountModel,
    fit_logistic,
    partition_features,
)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _two_voices(rng, n=24, gap=1.0):
    """Units of two voices taking turns (one unit per segment), pitch an octave apart."""
    d = 8
    who = np.arange(n) % 2
    centres = np.eye(d)[0] + gap * np.eye(d)[1] * (2 * who[:, None] - 1)
    x = _unit(centres + 0.05 * rng.normal(size=(n, d)))
    pitch = np.where(who == 1, 7.8, 6.8) + 0.05 * rng.normal(size=n)
    return x, who, pitch


def test_partition_features_tell_turn_taking_voices_from_a_random_split():
    rng = np.random.default_rng(0)
    x, who, pitch = _two_voices(rng)
    w, seg = np.ones(len(x)), np.arange(len(x))
    good = dict(zip(FEATURES, partition_features(x, x, w, pitch, seg, who)))
    noise = rng.permutation(who)
    bad = dict(zip(FEATURES, partition_features(x, x, w, pitch, seg, noise)))
    assert good["turn_taking"] == pytest.approx(2.0)  # every segment changes voice; random: 1
    assert good["plain_centroid"] > bad["plain_centroid"] + 0.5
    assert good["space_near"] > bad["space_near"] + 0.5
    assert good["pitch_gap"] == pytest.approx(1.0, abs=0.1) and bad["pitch_gap"] < 0.3
    assert good["min_share"] == pytest.approx(0.5) and good["log_units"] == pytest.approx(
        np.log(24)
    )
    # Without a finer split the two "fine" features repeat the partition's own.
    assert good["fine_turn_taking"] == good["turn_taking"]
    assert good["fine_space_near"] == good["space_near"]


def test_the_grouping_of_finer_clusters_that_takes_turns_is_found():
    rng = np.random.default_rng(1)
    x, who, pitch = _two_voices(rng)
    w, seg = np.ones(len(x)), np.arange(len(x))
    # A two-way split that follows a mood (first half vs second half) and four fine clusters
    # (voice x half): the grouping by voice alternates, the given split does not.
    by_mood = (np.arange(24) >= 12).astype(int)
    fine = who * 2 + by_mood
    f = dict(zip(FEATURES, partition_features(x, x, w, pitch, seg, by_mood, fine)))
    assert f["turn_taking"] < 0.2 and f["fine_turn_taking"] == pytest.approx(2.0)
    assert f["fine_space_near"] > 0.8 > f["space_near"]  # the voices' units are far apart


def test_logistic_fit_separates_and_the_model_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, len(FEATURES)))
    y = (x[:, 4] - 0.5 * x[:, 9] > 0).astype(float)
    step = fit_logistic(x, y, l2=0.1)
    model = CountModel(step, step)
    acc = np.mean([model.accepts(f, 2) == bool(t) for f, t in zip(x, y)])
    assert acc > 0.95
    assert model.probability(x[0], 3) == pytest.approx(model.probability(x[0], 2))
    config = {"kind": "speaker", **model.to_config()}
    (tmp_path / "model.json").write_text(json.dumps(config))
    again = CountModel.from_folder(tmp_path, json.loads((tmp_path / "model.json").read_text()))
    assert again.probability(x[1], 2) == pytest.approx(model.probability(x[1], 2), abs=1e-4)
    config["features"] = config["features"][:-1]
    with pytest.raises(ValueError, match="features"):
        CountModel.from_folder(tmp_path, config)


def test_the_count_rule_decides_how_many_clusters_are_kept():
    rng = np.random.default_rng(3)
    x, who, _ = _two_voices(rng)
    seen = []

    def never(labels, k, split):
        seen.append(k)
        return False

    assert cluster_embeddings(x, accept=never).max() == 0 and seen == [2]
    labels = cluster_embeddings(x, accept=lambda labels, k, split: k == 2)
    assert labels.max() == 1 and len(set(labels[who == 0])) == 1 and labels[0] != labels[1]
    # Finer splits are offered to the rule.
    fine = []
    cluster_embeddings(x, accept=lambda labels, k, split: fine.append(split(4).max()) or False)
    assert fine == [3]


def test_the_shipped_count_model_loads_and_is_used_by_diarize_embedded():
    from analyzer.audio.speakercount import load_count_model
    from analyzer.audio.speakers import diarize_embedded, load_projection
    from analyzer.segment import Segment

    model = load_count_model()
    assert len(model.two[2]) == len(FEATURES)
    rng = np.random.default_rng(4)
    # Windows of one made-up voice: the learned rule is asked about k = 2 and its answer kept.
    emb = _unit(np.abs(rng.normal(size=(1, 256))) + 0.02 * rng.normal(size=(30, 256)))
    spans = np.array([(i * 200, i * 200 + 150) for i in range(30)])
    speech = [Segment(a / 100, b / 100) for a, b in spans]
    asked = []

    class Probe:
        def accepts(self, features, k):
            asked.append(k)
            return False

    turns = diarize_embedded(
        spans, np.arange(30), emb, speech, 62.0, projection=load_projection(), count_model=Probe()
    )
    assert asked == [2] and {s for s, _ in turns.turns} == {"S1"}
    one = diarize_embedded(
        spans, np.arange(30), emb, speech, 62.0, projection=load_projection(), count_model=model
    )
    assert {s for s, _ in one.turns} == {"S1"}


def test_count_training_never_hears_a_benchmark_actor(tmp_path):
    from train.speaker_count import DATA, draw_call, speaker_rows

    if not (DATA / "speech" / "read_speech.csv").is_file():
        pytest.skip("the shared speech data is not beside this checkout")
    rows, gender = speaker_rows(DATA, tmp_path / "pieces")
    assert rows and not any(r["corpus"] == "ravdess" for r in rows)
    assert all("ravdess" not in r["path"] for r in rows)
    corpus = {r["speaker"]: r["corpus"] for r in rows}
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(40):
        cast, emotions, turns, clips, _tel = draw_call(rng, rows, gender)
        sizes.append(len(cast))
        assert len(set(cast)) == len(cast) and 8 <= turns <= 34 and 1 <= clips <= 3
        assert len({corpus[s] for s in cast}) == 1  # one recording setup per call
        if len(cast) == 1:
            assert corpus[cast[0]] in ("tess", "emodb", "aishell")  # many clips, a whole call
        for s, labels in emotions.items():
            assert 1 <= len(labels) <= 2 and corpus[s] in ("tess", "emodb")
    assert set(sizes) == {1, 2, 3, 4}
    sizes = []
    for _ in range(20):  # short multi-party excerpts (simulate --multi)
        cast, emotions, turns, clips, _tel = draw_call(rng, rows, gender, multi=True)
        sizes.append(len(cast))
        assert len(set(cast)) == len(cast) and 10 <= turns <= 18 and clips == 1
        assert len({corpus[s] for s in cast}) == 1 and corpus[cast[0]] != "ravdess"
    assert set(sizes) == {3, 4}
    for _ in range(10):  # two-voice excerpts: the extra-voice step's negatives (--voices 2)
        cast, emotions, turns, clips, _tel = draw_call(rng, rows, gender, multi=True, voices=(2,))
        assert len(set(cast)) == 2 and 10 <= turns <= 18 and clips == 1
        assert len({corpus[s] for s in cast}) == 1


def test_a_statistic_far_outside_the_training_range_cannot_flip_the_decision():
    from analyzer.audio.speakercount import FEATURE_CLIP

    n = len(FEATURES)
    # One statistic weighs against "two voices"; a call sits 20 deviations out on it.
    coef = np.zeros(n)
    coef[0], coef[1] = 1.0, -0.5
    model = CountModel((np.zeros(n), np.ones(n), coef, 0.0), None)
    f = np.zeros(n)
    f[0] = FEATURE_CLIP
    f[1] = 20.0
    assert model.probability(f, 2) == pytest.approx(1 / (1 + np.exp(-(FEATURE_CLIP * 0.5))))
    assert model.accepts(f, 2) and model.accepts(f, 3) is None  # no model for later steps


def test_the_training_command_names_how_each_call_was_drawn(tmp_path):
    from train.speaker_count import _draw, _runs

    metas = {
        "train-0001.npz": {"name": "a"},
        "train-3000.npz": {"name": "a+b+c", "draw": "multi"},
        "train-3500.npz": {"name": "a+b", "draw": "multi", "voices": [2]},
        "train-4000.npz": {"name": "a+b", "room": True},
        "train-4500.npz": {"name": "a+b+c", "draw": "multi", "room": True},
    }
    for name, meta in metas.items():
        np.savez(tmp_path / name, meta=json.dumps(meta))
    draws = [_draw(tmp_path / n) for n in sorted(metas)]
    assert draws == ["", " --multi", " --multi --voices 2", " --room", " --multi --room"]
    assert _runs([1, 2, 3, 7, 9, 10]) == [(1, 3), (7, 7), (9, 10)]


def test_count_evidence_scores_a_statistic_by_its_ranks():
    from train.experiments.count_evidence import auc, run_lengths

    positive = np.array([False, False, True, True])
    assert auc(np.array([0.1, 0.2, 0.3, 0.4]), positive) == 1.0
    assert auc(np.array([0.4, 0.3, 0.2, 0.1]), positive) == 0.0
    assert auc(np.ones(4), positive) == 0.5  # ties count half
    assert run_lengths(np.array([0, 0, 1, 0, 0, 0, 1])).tolist() == [2, 1, 3, 1]
