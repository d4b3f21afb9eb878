"""The neutral prior of the speech emotion model (issue 15, version 3): ``neutral_bias``."""

from __future__ import annotations

import numpy as np
import pytest
from test_ser import tiny_arrays as arrays  # the plumbing model of the speech tests

from analyzer.audio.ser import FEATURE_DIM, SpeechEmotionModel
from analyzer.labels import LABELS
from train.heads import fit_neutral_bias

NEUTRAL = LABELS.index("neutral")


def features(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, FEATURE_DIM)).astype(np.float32)


def test_neutral_bias_raises_neutral_only_and_keeps_probabilities_normalised():
    x = features(40)
    plain = SpeechEmotionModel("t", arrays(), {}, encoder=None).probabilities(x)
    biased = SpeechEmotionModel("t", arrays(), {"neutral_bias": 1.0}, encoder=None)
    p = biased.probabilities(x)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert (p[:, NEUTRAL] > plain[:, NEUTRAL]).all()
    others = np.delete(np.arange(len(LABELS)), NEUTRAL)
    # the other labels keep their ratios: the bias only moves mass to neutral
    ratio = p[:, others] / plain[:, others]
    assert np.allclose(ratio, ratio[:, :1], rtol=1e-4)
    # also with groups (the relative head mixed in)
    g = ["a"] * 20 + ["b"] * 20
    assert (biased.probabilities(x, groups=g)[:, NEUTRAL] > 0).all()


def test_fitted_bias_makes_the_target_share_of_reference_windows_neutral():
    model = SpeechEmotionModel("t", arrays(), {}, encoder=None)
    ref = features(200, seed=2)
    before = np.mean(model.probabilities(ref).argmax(axis=1) == NEUTRAL)
    assert before < 0.5
    bias = fit_neutral_bias(model, ref, 0.7)
    assert bias > 0
    model.neutral_bias = bias
    share = np.mean(model.probabilities(ref).argmax(axis=1) == NEUTRAL)
    assert 0.69 <= share <= 0.72
    # a second fit ignores the bias already set, and target 0 means no bias
    assert fit_neutral_bias(model, ref, 0.7) == pytest.approx(bias)
    assert fit_neutral_bias(model, ref, 0.0) == 0.0
    with pytest.raises(ValueError):
        fit_neutral_bias(model, ref, 1.0)


def test_no_bias_when_the_reference_already_reads_neutral():
    a = arrays()
    a["abs_b1"][NEUTRAL] = 50.0  # everything reads neutral
    model = SpeechEmotionModel("t", a, {}, encoder=None)
    assert fit_neutral_bias(model, features(30), 0.8) == 0.0


def test_neutral_reference_offsets_use_the_most_neutral_windows():
    from analyzer.audio.ser import speaker_offsets

    x = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32)
    groups = ["a"] * 10
    neutrality = -np.arange(10, dtype=np.float32)  # window 0 sounds most neutral
    mean_off, has = speaker_offsets(x, groups, min_windows=8)
    calm_off, _ = speaker_offsets(x, groups, min_windows=8, neutrality=neutrality, share=0.2)
    assert has.all()
    assert np.allclose(mean_off[:, 0], np.arange(10) - 4.5)
    assert np.allclose(calm_off[:, 0], np.arange(10) - 0.5)  # reference: windows 0 and 1
    # small groups get no offsets either way
    _, small = speaker_offsets(x[:5], ["b"] * 5, min_windows=8, neutrality=neutrality[:5])
    assert not small.any()


def test_heads_with_a_neutral_reference_train_and_predict():
    from train.heads import HeadOptions, fit_model_arrays

    rng = np.random.default_rng(0)
    k = len(LABELS)
    speakers = np.repeat([f"s{i}" for i in range(6)], 4 * k)
    y = np.tile(np.repeat(np.arange(k), 4), 6)
    voice = rng.normal(0, 3, (6, FEATURE_DIM))[np.repeat(np.arange(6), 4 * k)]
    emotion = rng.normal(0, 1, (k, FEATURE_DIM))[y]
    x = (voice + emotion + rng.normal(0, 0.5, (len(y), FEATURE_DIM))).astype(np.float32)
    channels = np.full(len(y), "clean")
    options = HeadOptions(
        hidden=0, epochs=10, lr=2e-2, batch_size=64, random_groups=2, members=1,
        gender_boosts=(1.0,), relative_reference="neutral", calibration="speakers",
        neutral_target=0.5, va_alpha=0.0,
    )  # fmt: skip
    ref = (rng.normal(0, 3, (20, FEATURE_DIM)) + rng.normal(0, 1, FEATURE_DIM)).astype(np.float32)
    arrays, config = fit_model_arrays(x, y, speakers, channels, options=options, reference=ref)
    assert config["relative_reference"] == "neutral" and config["neutral_bias"] >= 0
    model = SpeechEmotionModel("t", arrays, config, encoder=None)
    p = model.probabilities(x, groups=list(speakers))
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.mean(p.argmax(axis=1) == y) > 0.5  # it learned the emotions, not the voices
    with pytest.raises(ValueError):
        fit_model_arrays(x, y, speakers, channels, options=options, reference=None)


def test_version_3_model_is_version_2_with_a_neutral_prior():
    import json
    from pathlib import Path

    from analyzer.models import load_model

    models = Path(__file__).parent.parent / "models"
    v2 = json.loads((models / "ser-whisper-tiny-head-v2" / "model.json").read_text())
    v3 = json.loads((models / "ser-whisper-tiny-head-v3" / "model.json").read_text())
    assert v3["neutral_bias"] > 0 and v3["neutral_reference"]["target"] == 0.6
    assert v3["temperature_abs"] == v2["temperature_abs"]
    held = set(v3["trained_on"]["held_out_speakers"])
    assert {"ravdess_17", "ravdess_18", "ravdess_19", "ravdess_20", "emodb_11"} <= held
    card = (models / "ser-whisper-tiny-head-v3" / "MODEL_CARD.md").read_text()
    for licence in ("CC BY-NC-SA 4.0", "CC BY-NC-ND 4.0", "CC0", "CC BY 4.0", "Apache-2.0"):
        assert licence in card
    model = load_model("ser-whisper-tiny-head-v3", "ser")  # checks SHA256SUMS
    x = features(30)
    before = load_model("ser-whisper-tiny-head-v2", "ser").probabilities(x)
    after = model.probabilities(x)
    assert (after[:, NEUTRAL] > before[:, NEUTRAL]).all()


def test_train_ser_fits_the_prior_on_half_of_the_read_speakers(tmp_path):
    import csv

    import soundfile as sf
    from test_ser import voice, write_clips  # the synthetic clips of the SER tests

    from analyzer.models import load_model
    from train.heads import HeadOptions
    from train.ser import train_ser

    manifest = write_clips(tmp_path / "data")
    read = tmp_path / "read"
    read.mkdir()
    rows = []
    for i, (gender, f0) in enumerate((("female", 200.0), ("female", 230.0), ("male", 100.0),
                                      ("male", 120.0), ("female", 190.0))):  # fmt: skip
        corpus = "aishell" if i == 4 else "librispeech"  # the single-speaker corpus is never used
        sf.write(read / f"r{i}.wav", voice(50 + i, 2.0, f0_hz=f0), 16000)
        rows.append({"path": f"r{i}.wav", "corpus": corpus, "speaker": f"ls_{i}", "gender": gender})
    with open(read / "read.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "corpus", "speaker", "gender"])
        writer.writeheader()
        writer.writerows(rows)
    options = HeadOptions(
        hidden=0, epochs=3, random_groups=2, members=1, gender_boosts=(1.0,),
        neutral_target=0.9, relative_reference="neutral",
    )  # fmt: skip
    folder = train_ser(
        manifest,
        out=tmp_path / "ser-prior",
        channels=("clean",),
        options=options,
        neutral_reference=read / "read.csv",
    )
    model = load_model(folder, "ser")
    assert model.relative_reference == "neutral" and model.neutral_bias >= 0
    import json

    config = json.loads((folder / "model.json").read_text())
    assert config["neutral_reference"]["speakers"] == 2  # one of each gender's two
    assert config["neutral_reference"]["target"] == 0.9
    with pytest.raises(ValueError, match="neutral-reference"):
        train_ser(manifest, out=tmp_path / "x", channels=("clean",), options=options)
    with pytest.raises(ValueError, match="init"):
        train_ser(manifest, out=tmp_path / "y", options=options, init=folder)


def test_reference_features_in_the_telephone_channel_too(tmp_path):
    import csv

    import soundfile as sf
    from test_ser import voice  # the synthetic clips of the SER tests

    from analyzer.audio.ser import WhisperEncoder
    from train.ser import reference_windows

    rows = []
    for i, (gender, f0) in enumerate((("female", 210.0), ("female", 240.0), ("male", 105.0),
                                      ("male", 125.0))):  # fmt: skip
        sf.write(tmp_path / f"r{i}.wav", voice(60 + i, 1.5, f0_hz=f0), 16000)
        rows.append({"path": f"r{i}.wav", "corpus": "librispeech", "speaker": f"ls_{i}",
                     "gender": gender})  # fmt: skip
    with open(tmp_path / "read.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "corpus", "speaker", "gender"])
        writer.writeheader()
        writer.writerows(rows)
    encoder = WhisperEncoder(threads=1)
    clean, readers, _ = reference_windows(tmp_path / "read.csv", encoder=encoder)
    both, again, channels = reference_windows(
        tmp_path / "read.csv", encoder=encoder, channels=("clean", "telephone")
    )
    speakers, same = sorted(set(readers)), sorted(set(again))
    assert len(speakers) == 2 and same == speakers  # half of the speakers, in either case
    assert list(channels) == ["clean"] * len(clean) + ["telephone"] * len(clean)
    assert len(both) == 2 * len(clean)
    assert np.allclose(both[: len(clean)], clean)
    assert not np.allclose(both[len(clean) :], clean, atol=1e-3)  # the band-limited rendering
