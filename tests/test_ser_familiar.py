"""The familiarity check of the speech emotion model (issue 15, version 4): windows unlike the
training windows read "uncertain" instead of getting a confident label."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_ser import tiny_arrays  # the plumbing model of the speech tests

from analyzer.audio.ser import (
    FEATURE_DIM,
    Familiarity,
    SpeechEmotionModel,
    group_variety,
    label_entropy,
)
from analyzer.models import ModelError
from train.ser_ood import (
    corpus_weights,
    familiarity_of,
    fit_familiarity,
    fit_unfamiliar,
    left_out_distances,
    weighted_quantile,
)

RANK = 12  # the synthetic "training" windows live near a 12-dimensional subspace


def corpus_windows(seed: int, speakers: int, per_speaker: int, basis: np.ndarray):
    """Windows [n, 768] near ``basis``'s span, with a per-speaker offset inside it."""
    rng = np.random.default_rng(seed)
    rows, names = [], []
    for s in range(speakers):
        centre = rng.normal(0, 0.5, RANK)
        coef = centre + rng.normal(0, 1.0, (per_speaker, RANK))
        rows.append(coef @ basis + rng.normal(0, 0.05, (per_speaker, FEATURE_DIM)))
        names += [f"c{seed}_s{s}"] * per_speaker
    return np.vstack(rows).astype(np.float32), np.array(names)


def subspace(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(FEATURE_DIM, RANK)))
    return q.T  # [RANK, 768], orthonormal rows


def training_set():
    basis = subspace(0)
    a, sa = corpus_windows(1, 8, 40, basis)
    b, sb = corpus_windows(2, 4, 120, basis)  # a second corpus: fewer, bigger speakers
    feats = np.vstack([a, b])
    corpora = np.array(["a"] * len(a) + ["b"] * len(b))
    return feats, np.concatenate([sa, sb]), corpora, basis


def test_distance_is_about_one_for_training_windows_and_large_off_their_subspace():
    feats, _, corpora, _ = training_set()
    arrays = fit_familiarity(feats, dims=RANK, weights=corpus_weights(corpora))
    fam = Familiarity(
        arrays["ood_mean"], arrays["ood_basis"], arrays["ood_var"], arrays["ood_rest"]
    )
    seen = fam.distance(feats)
    assert 0.8 < float(np.sqrt(np.mean(seen**2))) < 1.2
    # same energy, other directions: the residual part sees them even though the projection
    # onto the training directions is small
    other = np.random.default_rng(9).normal(0, 3.0, (50, RANK)) @ subspace(5)
    assert np.median(fam.distance(other.astype(np.float32))) > 4 * np.median(seen)
    # without the residual, those windows look (wrongly) familiar: the residual is what finds them
    inside_only = familiarity_of(arrays, residual_weight=0.0)
    assert np.median(inside_only.distance(other.astype(np.float32))) < 2 * np.median(seen)
    with pytest.raises(ModelError):
        Familiarity(arrays["ood_mean"], arrays["ood_basis"][:, :3], arrays["ood_var"], [1.0])


def test_threshold_from_left_out_speakers_flags_about_the_asked_share_of_new_speakers():
    feats, speakers, corpora, basis = training_set()
    model = SpeechEmotionModel("t", tiny_arrays(), {}, encoder=None)  # identity standardisation
    arrays, above = fit_unfamiliar(model, feats, speakers, corpora, dims=RANK, quantile=0.9)
    fam = Familiarity(
        arrays["ood_mean"], arrays["ood_basis"], arrays["ood_var"], arrays["ood_rest"]
    )
    # new speakers of the same kind: about 10 % flagged (in-sample distances would give fewer)
    new, _ = corpus_windows(7, 6, 40, basis)
    flagged = np.mean(fam.distance(new) > above)
    assert 0.02 < flagged < 0.25
    in_sample = np.mean(fam.distance(feats) > above)
    assert in_sample < flagged + 0.05  # left-out speakers are farther than seen ones
    # speech represented elsewhere is flagged nearly always
    far = (np.random.default_rng(3).normal(0, 3.0, (40, RANK)) @ subspace(8)).astype(np.float32)
    assert np.mean(fam.distance(far) > above) > 0.95
    with pytest.raises(ValueError):
        fit_unfamiliar(model, feats, speakers, corpora, quantile=1.0)


def test_left_out_distances_need_two_folds_and_weighted_quantile_counts_weights():
    feats, speakers, _, _ = training_set()
    with pytest.raises(ValueError, match="two folds"):
        left_out_distances(feats, ["one"] * len(feats))
    values = np.array([1.0, 2.0, 3.0, 4.0])
    assert weighted_quantile(values, 0.5) == 2.0
    assert weighted_quantile(values, 0.5, np.array([0.0, 0.0, 0.0, 1.0])) == 4.0
    w = corpus_weights(["a", "a", "a", "b"])
    assert w[:3].sum() == pytest.approx(w[3])  # each corpus the same total weight


def test_model_reports_unfamiliar_windows_uncertain_and_keeps_their_probabilities():
    feats, speakers, corpora, _ = training_set()
    base = SpeechEmotionModel("t", tiny_arrays(), {}, encoder=None)
    arrays, above = fit_unfamiliar(base, feats, speakers, corpora, dims=RANK)
    model = SpeechEmotionModel(
        "t", {**tiny_arrays(), **arrays}, {"unfamiliar_above": above}, encoder=None
    )
    far = (np.random.default_rng(4).normal(0, 3.0, (10, RANK)) @ subspace(6)).astype(np.float32)
    x = np.vstack([feats[:10], far])
    scores, plain = model.predict_features(x), base.predict_features(x)
    assert plain.uncertain is not None and not plain.uncertain.any()
    assert scores.uncertain is not None and scores.uncertain[10:].all()
    assert scores.uncertain[:10].sum() <= 2
    assert np.allclose(scores.probs, plain.probs)  # the label is withheld, not changed
    assert np.all(base.unfamiliarity(x) == 0)  # a model without the arrays never flags


def test_temper_mode_flattens_unfamiliar_windows_by_their_distance_instead_of_withholding():
    """Session 27 (version 8): ``"unfamiliar": "temper"`` keeps an unfamiliar window's reading,
    its log-probabilities divided by distance / threshold; familiar windows are untouched and
    a window far from everything ends below ``uncertain_below``."""
    feats, speakers, corpora, _ = training_set()
    base = SpeechEmotionModel("t", tiny_arrays(), {}, encoder=None)
    arrays, above = fit_unfamiliar(base, feats, speakers, corpora, dims=RANK)
    config = {"unfamiliar_above": above, "unfamiliar": "temper", "uncertain_below": 0.2}
    model = SpeechEmotionModel("t", {**tiny_arrays(), **arrays}, config, encoder=None)
    withholding = SpeechEmotionModel(
        "t", {**tiny_arrays(), **arrays}, {**config, "unfamiliar": "uncertain"}, encoder=None
    )
    rng = np.random.default_rng(4)
    near = feats[:10]
    far = (rng.normal(0, 3.0, (10, RANK)) @ subspace(6)).astype(np.float32)
    x = np.vstack([near, far])
    divisor = model.temper_divisor(model.unfamiliarity(x))
    assert divisor is not None and withholding.temper_divisor(model.unfamiliarity(x)) is None
    ratio = model.unfamiliarity(x) / above
    assert np.allclose(divisor, np.maximum(ratio, 1.0))
    scores, held = model.predict_features(x), withholding.predict_features(x)
    familiar = ratio <= 1.0
    assert familiar[:10].sum() >= 8 and not familiar[10:].any()
    assert np.allclose(scores.probs[familiar], held.probs[familiar], atol=1e-6)
    # unfamiliar windows: same label, flatter (higher entropy), never withheld for distance alone
    p, q = scores.probs[~familiar], held.probs[~familiar]
    assert np.array_equal(p.argmax(1), q.argmax(1))

    def entropy(v: np.ndarray) -> np.ndarray:
        return -(v * np.log(v.clip(1e-12))).sum(axis=1)

    assert np.all(entropy(p) > entropy(q))
    assert held.uncertain is not None and held.uncertain[10:].all()
    assert scores.uncertain is not None
    assert np.array_equal(scores.uncertain, scores.probs.max(axis=1) < 0.2)
    # very far: flat enough to fall under uncertain_below
    very_far = (far * 50).astype(np.float32)
    assert model.predict_features(very_far).uncertain.all()
    with pytest.raises(ModelError, match="unfamiliar"):
        SpeechEmotionModel("t", tiny_arrays(), {"unfamiliar": "hide"}, encoder=None)


def test_unfamiliar_speech_gets_a_note_per_speaker_in_both_languages():
    """predict_features flags the windows unlike the training windows (whatever the model then
    does with them); the engine turns a speaker's share of such speech into a note."""
    from analyzer.notes import Note
    from analyzer.pipeline import SpeechPieces, unfamiliar_speech_notes
    from analyzer.segment import Segment
    from review.views import note_text

    feats, speakers, corpora, _ = training_set()
    base = SpeechEmotionModel("t", tiny_arrays(), {}, encoder=None)
    arrays, above = fit_unfamiliar(base, feats, speakers, corpora, dims=RANK)
    model = SpeechEmotionModel(
        "t", {**tiny_arrays(), **arrays}, {"unfamiliar_above": above, "unfamiliar": "temper"},
        encoder=None,
    )  # fmt: skip
    far = (np.random.default_rng(4).normal(0, 3.0, (4, RANK)) @ subspace(6)).astype(np.float32)
    # speaker A: 4 familiar pieces; speaker B: 2 familiar (1 s each) and 4 far ones (1 s each)
    x = np.vstack([feats[:4], feats[4:6], far])
    scores = model.predict_features(x)
    assert base.predict_features(x).unfamiliar is None  # no familiarity arrays: cannot tell
    assert scores.unfamiliar is not None and scores.unfamiliar[6:].all()
    assert scores.unfamiliar[:6].sum() <= 1
    pieces = [("A", Segment(i, i + 2.0)) for i in range(4)]
    pieces += [("B", Segment(10 + i, 11 + i)) for i in range(6)]
    notes = unfamiliar_speech_notes(SpeechPieces(pieces, scores))
    flagged_a = scores.unfamiliar[:4].mean()
    assert [n.params["speaker"] for n in notes] == (["A", "B"] if flagged_a >= 0.25 else ["B"])
    b = notes[-1]
    assert isinstance(b, Note) and b.code == "unfamiliar_speech"
    assert b.params["share"] == round(float(scores.unfamiliar[4:].mean()), 2) >= 0.66
    assert "B" in b.message and f"{b.params['share']:.0%}" in b.message
    zh = note_text(b, "zh")
    assert zh.startswith("语音情绪：B ") and f"{b.params['share']:.0%}" in zh
    assert unfamiliar_speech_notes(SpeechPieces(pieces, None)) == []


def test_group_variety_tells_a_one_emotion_speaker_from_a_varied_one():

    same = np.tile([0.7, 0.1, 0.1, 0.1], (6, 1))
    varied = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1]] * 3)
    v = group_variety(np.vstack([same, varied]), ["a"] * 6 + ["b"] * 6)
    assert np.allclose(v[:6], 0.0, atol=1e-9)
    # H([.4, .4, .1, .1]) - H([.7, .1, .1, .1]) = 1.1935 - 0.9405 nats
    assert v[6] == pytest.approx(0.2530, abs=1e-3)
    assert len(set(np.round(v[6:], 9))) == 1  # one value per group


def test_relative_gate_leaves_a_one_emotion_speaker_to_the_absolute_head():
    """``relative_gate_nats`` (screened in session 27, off in the shipped model): a group whose
    windows the absolute head reads alike gets no relative evidence."""
    base = SpeechEmotionModel("t", tiny_arrays(), {"min_group_windows": 4}, encoder=None)
    gated = SpeechEmotionModel(
        "t", tiny_arrays(), {"min_group_windows": 4, "relative_gate_nats": 0.25}, encoder=None
    )
    x = np.random.default_rng(0).normal(0, 1, (8, FEATURE_DIM)).astype(np.float32)
    one = np.repeat(x[:1], 8, axis=0) + 0.001 * x  # one voice, one way: readings alike
    absolute = base.probabilities(one)  # no groups: the absolute head alone
    grouped = base.probabilities(one, groups=["s"] * 8)
    assert not np.allclose(grouped, absolute, atol=1e-4)  # ungated: the relative head mixes in
    assert np.allclose(gated.probabilities(one, groups=["s"] * 8), absolute, atol=1e-3)
    with pytest.raises(ModelError, match="relative_gate"):
        SpeechEmotionModel("t", tiny_arrays(), {"relative_gate_nats": 0}, encoder=None)


def test_group_gate_reads_a_speaker_who_sounds_alike_all_call_as_windows_with_no_group():
    """``group_gate_nats`` (screened in session 35, off in the shipped model): a group whose
    windows the absolute head, reading them with no group, hears alike is read as ungrouped
    windows; a varied group keeps its group."""
    base = SpeechEmotionModel("t", tiny_arrays(), {"min_group_windows": 4}, encoder=None)
    gated = SpeechEmotionModel(
        "t", tiny_arrays(), {"min_group_windows": 4, "group_gate_nats": 0.25}, encoder=None
    )
    x = np.random.default_rng(0).normal(0, 1, (8, FEATURE_DIM)).astype(np.float32)
    one = np.repeat(x[:1], 8, axis=0) + 0.001 * x  # one voice, one way: readings alike
    varied = 30.0 * x  # far apart: the absolute head reads them differently
    assert group_variety(base.probabilities(varied), ["v"] * 8)[0] > 0.25
    feats = np.vstack([one, varied])
    groups = ["s"] * 8 + ["v"] * 8
    assert gated.gated_groups(feats, groups)[8:] == ["v"] * 8
    assert len(set(gated.gated_groups(feats, groups)[:8])) == 8  # a group per window
    got = gated.predict_features(feats, groups=groups).probs
    alone = base.predict_features(one).probs  # no group at all
    kept = base.predict_features(varied, groups=["v"] * 8).probs
    assert not np.allclose(base.predict_features(one, groups=["s"] * 8).probs, alone, atol=1e-4)
    assert np.allclose(got[:8], alone, atol=1e-5)
    assert np.allclose(got[8:], kept, atol=1e-5)
    assert gated.gated_groups(feats, None) is None
    with pytest.raises(ModelError, match="group_gate"):
        SpeechEmotionModel("t", tiny_arrays(), {"group_gate_nats": -1}, encoder=None)


def test_label_entropy_keeps_its_value_when_readings_only_flatten():
    """The entropy of the windows' most likely labels: 0 for one label throughout, log 2 for two
    labels half and half; flattening every reading (a noisy channel) changes ``group_variety``
    but not it."""
    varied = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1]] * 3)
    flat = 0.5 * varied + 0.5 * 0.25  # the same readings, flatter
    assert label_entropy(np.tile([0.7, 0.1, 0.1, 0.1], (6, 1))) == 0.0
    assert label_entropy(varied) == pytest.approx(np.log(2))
    assert label_entropy(flat) == pytest.approx(np.log(2))
    group = ["g"] * 6
    assert group_variety(flat, group)[0] < 0.5 * group_variety(varied, group)[0]
    assert label_entropy(np.zeros((0, 4))) == 0.0


def test_group_gate_by_labels_splits_only_the_group_read_as_one_label():
    """``group_gate_measure: labels`` (session 36): the gate measures each group by the
    entropy of its windows' most likely labels instead of ``group_variety``."""
    config = {"min_group_windows": 4, "group_gate_nats": 0.25, "group_gate_measure": "labels"}
    gated = SpeechEmotionModel("t", tiny_arrays(), config, encoder=None)
    x = np.random.default_rng(0).normal(0, 1, (8, FEATURE_DIM)).astype(np.float32)
    one = np.repeat(x[:1], 8, axis=0) + 0.001 * x
    varied = 30.0 * x
    base = SpeechEmotionModel("t", tiny_arrays(), {}, encoder=None)
    assert label_entropy(base.probabilities(varied)) > 0.25
    assert label_entropy(base.probabilities(one)) == 0.0
    out = gated.gated_groups(np.vstack([one, varied]), ["s"] * 8 + ["v"] * 8)
    assert out is not None and list(out[8:]) == ["v"] * 8
    assert len(set(out[:8])) == 8
    with pytest.raises(ModelError, match="group_gate_measure"):
        SpeechEmotionModel("t", tiny_arrays(), {"group_gate_measure": "mood"}, encoder=None)


def test_group_gate_can_spare_a_voice_unlike_the_training_voices():
    """``group_gate_familiar`` (session 36): a group that reads alike is gated only when its
    median window is familiar; a voice far from every training window keeps its group (its
    readings may be alike because the model does not know the voice)."""
    feats, speakers, corpora, _ = training_set()
    base = SpeechEmotionModel("t", tiny_arrays(), {}, encoder=None)
    arrays, above = fit_unfamiliar(base, feats, speakers, corpora, dims=RANK)
    rng = np.random.default_rng(7)
    near = np.repeat(feats[:1], 8, axis=0) + 0.001 * rng.normal(size=(8, feats.shape[1]))
    far_one = (rng.normal(0, 3.0, (1, RANK)) @ subspace(6)).astype(np.float32)
    far = np.repeat(far_one, 8, axis=0) + 0.001 * rng.normal(size=(8, feats.shape[1]))
    x = np.vstack([near, far]).astype(np.float32)
    groups = ["near"] * 8 + ["far"] * 8
    config = {"unfamiliar_above": above, "unfamiliar": "temper", "min_group_windows": 4}
    config |= {"group_gate_nats": 0.25, "group_gate_measure": "labels"}
    plain = SpeechEmotionModel("t", {**tiny_arrays(), **arrays}, config, encoder=None)
    spared = SpeechEmotionModel(
        "t", {**tiny_arrays(), **arrays}, {**config, "group_gate_familiar": True}, encoder=None
    )
    assert np.median(spared.unfamiliarity(far)) > above > np.median(spared.unfamiliarity(near))
    both = plain.gated_groups(x, groups)
    assert both is not None and len(set(both)) == 16  # both read alike: both gated
    kept = spared.gated_groups(x, groups)
    assert kept is not None and len(set(kept[:8])) == 8 and list(kept[8:]) == ["far"] * 8


def test_version_4_model_carries_a_familiarity_check_fitted_without_held_out_speakers():
    from analyzer.models import load_model

    folder = Path(__file__).parent.parent / "models" / "ser-whisper-tiny-head-v4"
    config = json.loads((folder / "model.json").read_text())
    fam = config["familiarity"]
    assert {"ravdess_17", "ravdess_18", "ravdess_19", "ravdess_20", "emodb_11"} <= set(
        fam["held_out_speakers"]
    )
    assert 1.0 < config["unfamiliar_above"] < 10.0 and config["neutral_bias"] > 0
    card = (folder / "MODEL_CARD.md").read_text()
    for licence in ("CC BY-NC-SA 4.0", "CC BY-NC-ND 4.0", "CC0", "CC BY 4.0", "Apache-2.0"):
        assert licence in card
    assert sum(p.stat().st_size for p in folder.iterdir()) < 25 * 2**20
    model = load_model(folder, "ser")  # checks SHA256SUMS
    assert isinstance(model, SpeechEmotionModel) and model.familiarity is not None
    # its own training mean is familiar; a vector far off every direction is not
    typical = model.mean[None, :]
    odd = model.mean[None, :] + 40 * model.scale[None, :] * np.sign(np.sin(np.arange(FEATURE_DIM)))
    assert not model.unfamiliar(typical)[0] and model.unfamiliar(odd.astype(np.float32))[0]


def test_add_familiarity_writes_a_loadable_folder_in_place_or_beside(tmp_path: Path):
    import csv

    import soundfile as sf
    from test_ser import voice

    from analyzer.audio.ser import save_model_folder
    from analyzer.models import load_model, write_checksums
    from train.ser_ood import add_familiarity

    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for s, name in enumerate(("spk_a", "spk_b", "spk_c", "spk_d")):  # folds 1, 0, 1, 1
        for k, label in enumerate(("neutral", "angry", "sad")):
            sf.write(data / f"{name}_{label}.wav", voice(20 * s + k, 1.0, 100.0 + 30 * s), 16000)
            rows.append({"path": f"{name}_{label}.wav", "speaker": name, "label": label,
                         "corpus": "x" if s < 2 else "y"})  # fmt: skip
    with open(data / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "speaker", "label", "corpus"])
        writer.writeheader()
        writer.writerows(rows)
    source = save_model_folder(tmp_path / "src", tiny_arrays(), {"neutral_bias": 0.3})
    (source / "MODEL_CARD.md").write_text("# src\n")
    write_checksums(source)
    out = add_familiarity(source, tmp_path / "v", data / "manifest.csv", channels=("clean",))
    config = json.loads((out / "model.json").read_text())
    assert config["neutral_bias"] == 0.3  # everything else of the source is kept
    assert config["familiarity"]["windows"] == 12 and config["familiarity"]["speakers"] == 4
    model = load_model(out, "ser")  # the checksums were rewritten
    assert isinstance(model, SpeechEmotionModel) and model.familiarity is not None
    assert model.unfamiliar_above == config["unfamiliar_above"] > 0
    again = add_familiarity(out, out, data / "manifest.csv", channels=("clean",))  # in place
    assert load_model(again, "ser").unfamiliar_above == pytest.approx(model.unfamiliar_above)
    # holding out spk_b leaves one speaker fold: no left-out distances to set a threshold from
    with pytest.raises(ValueError, match="two folds"):
        add_familiarity(source, tmp_path / "w", data / "manifest.csv", hold_out=["spk_b"],
                        channels=("clean",))  # fmt: skip


def test_evaluation_counts_clips_of_unfamiliar_windows_uncertain(tmp_path: Path):
    from test_ser import write_clips

    from analyzer.audio.ser import save_model_folder
    from analyzer.models import load_model, write_checksums
    from train.ser import evaluate_ser

    manifest = write_clips(tmp_path / "data")
    feats, _, corpora, _ = training_set()
    arrays = fit_familiarity(feats, dims=RANK, weights=corpus_weights(corpora))
    reports = {}
    for name, above in (("near", 1e6), ("far", 0.0)):  # nothing / everything unfamiliar
        folder = save_model_folder(
            tmp_path / name, {**tiny_arrays(), **arrays}, {"unfamiliar_above": above}
        )
        write_checksums(folder)
        reports[name] = evaluate_ser(manifest, model=load_model(folder, "ser"), use_groups=False)
    assert reports["near"]["coverage"] == 1.0
    assert reports["far"]["coverage"] == 0.0 and reports["far"]["accuracy"] == 0.0
    assert reports["far"]["accuracy_argmax"] == reports["near"]["accuracy_argmax"]


@pytest.mark.parametrize(
    ("name", "renderings"),
    [
        ("ser-whisper-tiny-head-v6", {"degraded"}),
        ("ser-whisper-tiny-head-v7", {"degraded", "babble10", "mp3_16", "amrnb"}),
        ("ser-whisper-tiny-head-v8", {"degraded", "babble10", "mp3_16", "amrnb"}),
    ],
)
def test_familiarity_is_fitted_on_every_training_channel(name, renderings):
    """Session 24 (serrob's F1, passed on version 6's LOCO folds): the check covers the damaged
    training renderings too, else a new corpus's babble clips are withheld as unfamiliar;
    version 7 (session 25) trains and fits it on babble and two codecs as well."""
    from analyzer.models import load_model

    folder = Path(__file__).parent.parent / "models" / name
    config = json.loads((folder / "model.json").read_text())
    trained = config["trained_on"]
    assert config["familiarity"]["channels"] == trained["channels"]
    assert renderings <= set(trained["channels"]) and "opus8" not in trained["channels"]
    assert config["familiarity"]["held_out_speakers"] == trained["held_out_speakers"]
    assert {"ravdess_17", "ravdess_20", "emodb_11"} <= set(trained["held_out_speakers"])
    model = load_model(folder, "ser")  # checks SHA256SUMS
    assert model.familiarity is not None and model.unfamiliar_above == config["unfamiliar_above"]
    assert not model.unfamiliar(model.mean[None, :])[0]
