"""Prosodic statistics z-scored per speaker group in the speech emotion model (issue 15, v6)."""

from __future__ import annotations

import numpy as np
import pytest
from test_ser import tiny_arrays
from test_voicestats import synthetic_signals

from analyzer.audio import voicestats
from analyzer.audio.ser import (
    FEATURE_DIM,
    PROSODY_KIND,
    SpeechEmotionModel,
    prosody_zscores,
)
from analyzer.models import DEFAULT_MODELS, ModelError

D = len(voicestats.NAMES)


class FixedEncoder:
    """Encoder features that depend on the window only (its length and level), no Whisper."""

    def embed(self, inputs, progress=None):
        feats = np.stack(
            [np.full(FEATURE_DIM, float(np.abs(w).mean()) if len(w) else 0.0) for w in inputs]
        ).astype(np.float32)
        return feats, np.asarray([len(w) / 16000 for w in inputs], np.float32)


def prosody_model(sd: np.ndarray | None = None) -> SpeechEmotionModel:
    arrays = tiny_arrays()
    k = arrays["abs_W1"].shape[0]
    rng = np.random.default_rng(3)
    width = FEATURE_DIM + D
    arrays["mean"] = np.zeros(width, np.float32)
    arrays["scale"] = np.ones(width, np.float32)
    arrays["offset_scale"] = np.ones(width, np.float32)
    arrays["abs_W0"] = rng.normal(0, 0.1, (width, k)).astype(np.float32)
    arrays["rel_W0"] = rng.normal(0, 0.1, (2 * width, 7)).astype(np.float32)
    arrays["prosody_sd"] = (np.ones(D) if sd is None else sd).astype(np.float32)
    config = {"prosody": PROSODY_KIND, "prosody_prior_windows": 4.0}
    return SpeechEmotionModel("t", arrays, config, encoder=FixedEncoder())


def call_windows() -> tuple[list[np.ndarray], list[str]]:
    """A synthetic call: two speakers, voiced, gliding, noisy, silent and very short windows."""
    s = synthetic_signals()
    a = ["steady_200", "glide_120_200", "syllables", "gaps", "silence", "voice_in_noise"]
    b = ["clipped", "short_200ms", "quiet", "leading_silence", "noise", "short_30ms"]
    waves = [s[n] for n in a] + [s[n] for n in b]
    return waves, ["A"] * len(a) + ["B"] * len(b)


def test_product_rows_equal_the_training_rows_on_a_synthetic_call():
    """The engine's rows (``embed`` + ``model_input``) are the training rows: the windows'
    statistics as the training cache writes them (``extract --voicestats``), z-scored by the
    same ``prosody_zscores`` per speaker group with the model's population spread."""
    from train.experiments.ser_generalisation.extract import VoiceStatsEncoder

    waves, groups = call_windows()
    sd = np.linspace(0.5, 3.0, D)
    model = prosody_model(sd)
    raw, _ = model.embed(waves)
    assert raw.shape == (len(waves), FEATURE_DIM + D)
    rows = model.model_input(raw, groups)
    cached, _ = VoiceStatsEncoder().embed(waves)
    np.testing.assert_array_equal(raw[:, FEATURE_DIM:], cached, strict=False)
    expected = prosody_zscores(cached, groups, population_sd=sd.astype(np.float32), prior_windows=4)
    np.testing.assert_array_equal(rows[:, FEATURE_DIM:], expected)
    np.testing.assert_array_equal(rows[:, :FEATURE_DIM], raw[:, :FEATURE_DIM])
    # each speaker is their own reference: speaker B's windows do not move A's z-scores
    alone = model.model_input(raw[:6], groups[:6])
    np.testing.assert_array_equal(alone, rows[:6])
    scores = model.predict(waves, groups=groups)
    assert np.isfinite(scores.probs).all() and np.allclose(scores.probs.sum(axis=1), 1, atol=1e-5)


def test_few_silent_and_unvoiced_windows_give_finite_rows():
    waves, groups = call_windows()
    model = prosody_model()
    raw, _ = model.embed(waves)
    assert np.isnan(raw[:, FEATURE_DIM:]).any()  # silence and noise leave statistics undefined
    for g in (groups, ["solo"] + ["x"] * (len(waves) - 1), [str(i) for i in range(len(waves))]):
        rows = model.model_input(raw, g)
        assert np.isfinite(rows).all()
        assert np.abs(rows[:, FEATURE_DIM:]).max() <= 5.0
    # one window is its own level: z-scores 0; no groups: no reference, zeros
    assert not model.model_input(raw[:1], ["a"])[:, FEATURE_DIM:].any()
    assert not model.model_input(raw, None)[:, FEATURE_DIM:].any()
    silent = model.embed([np.zeros(16000, np.float32)] * 3)[0]
    assert np.isfinite(model.model_input(silent, ["s"] * 3)).all()


def test_small_groups_lean_on_the_population_spread():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.1, (3, D))  # three windows that barely differ
    big = np.ones(D)
    z = prosody_zscores(x, ["g"] * 3, population_sd=big, prior_windows=4.0)
    assert np.abs(z).max() < 0.5  # not blown up to unit spread
    many = rng.normal(0.0, 0.1, (400, D))
    z = prosody_zscores(many, ["g"] * 400, population_sd=2 * big / 10, prior_windows=4.0)
    assert np.allclose(z.std(axis=0), 1.0, atol=0.05)  # a long call is nearly its own spread
    flat = np.ones((5, D))
    assert not prosody_zscores(flat, ["g"] * 5, population_sd=np.zeros(D)).any()
    with pytest.raises(ValueError, match="groups"):
        prosody_zscores(x, ["g"], population_sd=big)


def test_models_without_prosody_never_compute_it(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("voicestats computed for a model without prosody")

    monkeypatch.setattr(voicestats, "window_statistics", refuse)
    model = SpeechEmotionModel("t", tiny_arrays(), {}, encoder=FixedEncoder())
    waves, groups = call_windows()
    feats, _ = model.embed(waves)
    assert feats.shape == (len(waves), FEATURE_DIM)
    assert model.model_input(feats, groups) is not None
    model.predict(waves, groups=groups)


def test_a_prosody_model_refuses_encoder_features_alone_and_unknown_kinds():
    model = prosody_model()
    with pytest.raises(ModelError, match="feature columns"):
        model.predict_features(np.zeros((2, FEATURE_DIM), np.float32), groups=["a", "a"])
    arrays = tiny_arrays()
    with pytest.raises(ModelError, match="prosody"):
        SpeechEmotionModel("t", arrays, {"prosody": PROSODY_KIND}, encoder=None)
    arrays["prosody_sd"] = np.ones(D, np.float32)
    with pytest.raises(ModelError, match="prosody"):
        SpeechEmotionModel("t", arrays, {"prosody": "egemaps"}, encoder=None)


def test_eval_ser_reads_a_prosody_model_through_its_own_embed(tmp_path):
    """``emotrace eval ser`` (``evaluate_ser``) feeds a version-6 model the encoder features and
    the voice statistics (``embed``), with the speaker groups, and caches them under a key of
    their own."""
    from test_ser import write_clips

    from train.ser import evaluate_ser

    manifest = write_clips(tmp_path / "data")
    model = prosody_model()
    cache = tmp_path / "cache"
    report = evaluate_ser(manifest, model=model, cache_dir=cache)
    assert report["n"] > 0 and 0.0 <= report["accuracy"] <= 1.0
    assert model.feature_version.endswith("+voicestats-55-v1")
    again = evaluate_ser(manifest, model=model, cache_dir=cache)  # from the cache
    assert again["accuracy"] == report["accuracy"]


def test_adapting_the_shipped_prosody_model_keeps_its_fields_and_fits_the_clips(tmp_path):
    """``emotrace train ser --init`` on the shipped default (version 7, a prosody model): the
    clips are embedded with the voice statistics, z-scored per speaker as the engine does, the
    heads move and the adapted folder is still a prosody model that loads and reads its clips."""
    from test_ser import write_clips

    from analyzer.models import load_model
    from train.heads import HeadOptions
    from train.ser import evaluate_ser, train_ser

    manifest = write_clips(tmp_path / "data")
    options = HeadOptions(epochs=30, lr=3e-3, members=1)
    out = train_ser(
        manifest, init=DEFAULT_MODELS["ser"], out=tmp_path / "ours", channels=("clean",),
        options=options, cache_dir=tmp_path / "cache",
    )  # fmt: skip
    source = load_model(DEFAULT_MODELS["ser"], "ser")
    adapted = load_model(out, "ser")
    assert isinstance(adapted, SpeechEmotionModel) and isinstance(source, SpeechEmotionModel)
    assert adapted.prosody == PROSODY_KIND
    assert np.array_equal(adapted.prosody_sd, source.prosody_sd)
    assert np.array_equal(adapted.mean, source.mean)  # standardisation kept
    assert not np.allclose(adapted.members[0][0][0][0], source.members[0][0][0][0])  # heads moved
    # the features went in with the voice statistics (the cache key says so)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) > 0
    before = evaluate_ser(manifest, model=source, cache_dir=tmp_path / "cache")
    after = evaluate_ser(manifest, model=adapted, cache_dir=tmp_path / "cache")
    assert after["accuracy_argmax"] > before["accuracy_argmax"]


def test_training_zscores_each_speaker_against_mostly_neutral_sets_of_clips():
    """``training_prosody_zscores``: per speaker and channel, sets of all neutral clips plus the
    next k emotional ones (70 % neutral, clips in SHA-1 order of their paths); a neutral window
    gets the mean of its z-scores over the sets; a speaker with no neutral clip is one set."""
    import hashlib

    from train.ser import training_prosody_zscores

    rng = np.random.default_rng(5)
    labels = ["neutral"] * 7 + ["angry"] * 6 + ["sad"] * 3  # speaker a: 13 clips, b: 3
    paths = [f"c{i}.wav" for i in range(len(labels))]
    clip = np.repeat(np.arange(len(labels)), 2)  # two windows a clip
    groups = np.where(clip < 13, "a|clean", "b|clean")
    stats = rng.normal(0, 1, (len(clip), D)) + np.where(clip < 7, 0.0, 3.0)[:, None]
    stats[0, :4] = np.nan  # undefined values read 0
    sd = np.full(D, 0.8)
    z = training_prosody_zscores(stats, clip, paths, labels, list(groups), sd)
    order = sorted(range(7, 13), key=lambda c: hashlib.sha1(paths[c].encode()).hexdigest())
    k = round(7 * 0.3 / 0.7)  # 3 emotional clips a set: two sets
    sets = [np.isin(clip, list(range(7)) + order[g : g + k]) for g in (0, 3)]
    want = np.zeros_like(stats)
    for members in sets:
        want[members] += prosody_zscores(stats[members], ["g"] * members.sum(), population_sd=sd)
    want[clip < 7] /= 2
    assert np.allclose(z[clip < 13], want[clip < 13], atol=1e-5)
    only_b = clip >= 13
    alone = prosody_zscores(stats[only_b], ["g"] * only_b.sum(), population_sd=sd)
    assert np.allclose(z[only_b], alone, atol=1e-5)
    # an emotional window sits among neutral ones: far above their level, not at 0
    assert z[clip == order[0]].mean() > 1.0
    assert z[0, 0] == 0.0


def four_speakers(folder):
    """Four synthetic speakers (two speaker folds of the familiarity check) x eight clips."""
    import csv

    import soundfile as sf
    from test_ser import voice

    folder.mkdir(parents=True)
    rows = []
    for s, name in enumerate(("spk_a", "spk_b", "spk_c", "spk_d")):
        for k, label in enumerate(("neutral",) * 4 + ("angry", "sad", "happy", "fearful")):
            path = f"{name}_{k}.wav"
            sf.write(folder / path, voice(20 * s + k, 1.0 + 0.1 * k, 100.0 + 30 * s), 16000)
            rows.append({"path": path, "speaker": name, "label": label, "corpus": "xy"[s % 2]})
    with open(folder / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "speaker", "label", "corpus"])
        writer.writeheader()
        writer.writerows(rows)
    return folder / "manifest.csv"


def readers(folder):
    """A read-speech manifest of four LibriSpeech-like readers (two are the prior's half)."""
    import csv

    import soundfile as sf
    from test_ser import voice

    folder.mkdir(parents=True)
    rows = []
    for i, f0 in enumerate((210.0, 240.0, 105.0, 125.0)):
        sf.write(folder / f"r{i}.wav", voice(60 + i, 2.5, f0_hz=f0), 16000)
        rows.append({"path": f"r{i}.wav", "corpus": "librispeech", "speaker": f"ls_{i}"})
    with open(folder / "read.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "corpus", "speaker"])
        writer.writeheader()
        writer.writerows(rows)
    return folder / "read.csv"


def test_train_ser_with_prosody_builds_a_model_the_engine_reads_like_training(tmp_path):
    """``emotrace train ser --prosody``: a version-6 folder (``prosody``, ``prosody_sd`` from the
    clean windows' within-speaker spread), which loads, scores a call's windows with groups, and
    takes the neutral prior and the familiarity check of the product commands."""
    import json

    from analyzer.audio.ser import LAYER1_FEATURE_VERSION
    from analyzer.models import load_model
    from train.heads import HeadOptions
    from train.ser import train_ser, within_speaker_spread
    from train.ser_features import extract_features, read_manifest
    from train.ser_ood import add_familiarity
    from train.ser_prior import add_neutral_prior

    manifest = four_speakers(tmp_path / "data")
    options = HeadOptions(hidden=0, epochs=2, random_groups=1, members=1, gender_boosts=(1.0,))
    cache = tmp_path / "cache"
    folder = train_ser(
        manifest, out=tmp_path / "v6", channels=("clean", "telephone"), options=options,
        cache_dir=cache, feature_kind="whisper-layer1", prosody=True,
    )  # fmt: skip
    config = json.loads((folder / "model.json").read_text())
    assert config["prosody"] == PROSODY_KIND and config["features"] == "whisper-layer1"
    model = load_model(folder, "ser")
    assert isinstance(model, SpeechEmotionModel) and model.prosody_sd is not None
    assert len(model.mean) == FEATURE_DIM + D
    rows, root = read_manifest(manifest)
    clean = extract_features(rows, root, encoder=model, cache_dir=cache)
    speakers = [rows[i]["speaker"] for i in clean.clip]
    raw = clean.features[:, FEATURE_DIM:]
    assert np.allclose(model.prosody_sd, within_speaker_spread(raw, speakers), rtol=1e-5)
    # the training windows came from the cache (same key as the model's own embed)
    files = set(cache.rglob("*.npy"))
    assert len(files) == 2 * len(clean.ok.nonzero()[0])  # clean and telephone, nothing more
    scores = model.predict_features(clean.features, clean.speech_s, groups=speakers)
    assert np.isfinite(scores.probs).all() and scores.probs.shape == (len(raw), 7)
    assert model.feature_version == LAYER1_FEATURE_VERSION + "+voicestats-55-v1"
    # the neutral prior on read speech: each reader's windows z-scored against their own
    read = readers(tmp_path / "read")
    prior = add_neutral_prior(folder, tmp_path / "v6p", read, 0.9, channels=("clean", "telephone"))
    told = json.loads((prior / "model.json").read_text())["neutral_reference"]
    assert told["speakers"] == 2 and told["windows"] > 0
    assert load_model(prior, "ser").neutral_bias >= 0.0
    familiar = add_familiarity(folder, tmp_path / "v6f", manifest, channels=("clean",))
    again = load_model(familiar, "ser")
    assert isinstance(again, SpeechEmotionModel) and again.familiarity is not None
    assert again.unfamiliar(again.model_input(clean.features, speakers)).mean() < 0.1
    hiss = np.random.default_rng(0).normal(0, 0.3, (4, 32000)).astype(np.float32)
    feats, _ = again.embed(list(hiss))
    assert again.unfamiliar(again.model_input(feats, ["x"] * 4)).all()  # unlike any voice


def test_eval_of_a_prosody_model_with_no_readable_clip_says_nothing_was_scored(tmp_path):
    """A manifest whose clips are all missing or corrupt: an error that says nothing could be
    scored and why, not one about feature widths (an empty table has no voice statistics
    columns), nor a report of n 0 that reads like a result."""
    from train.ser import evaluate_ser

    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00not audio")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,speaker\nnope.wav,angry,a\nbad.wav,sad,a\n")
    with pytest.raises(ValueError, match="no clip could be scored: 2 rows; 2 unreadable"):
        evaluate_ser(manifest, model=prosody_model())
    assert prosody_model().model_input(np.zeros((0, FEATURE_DIM)), None).shape == (
        0,
        FEATURE_DIM + D,
    )
