"""Speaker-relative z-scores of the speech emotion model (issue 15, version 6)."""

from __future__ import annotations

import numpy as np
import pytest
from test_ser import tiny_arrays as arrays  # the plumbing model of the speech tests

from analyzer.audio.ser import FEATURE_DIM, SpeechEmotionModel, speaker_offsets
from analyzer.labels import LABELS
from analyzer.models import ModelError
from train.heads import HeadOptions, fit_model_arrays, relative_input, relative_training_rows


def test_offsets_z_scored_by_the_groups_own_spread_with_a_floor():
    rng = np.random.default_rng(0)
    loud = rng.normal(5.0, 3.0, (20, 4))
    calm = rng.normal(-1.0, 0.5, (10, 4))
    flat = np.ones((9, 4))  # no spread at all: the floor keeps it finite
    x = np.vstack([loud, calm, flat]).astype(np.float32)
    groups = ["a"] * 20 + ["b"] * 10 + ["c"] * 9
    floor = np.full(4, 0.1, np.float32)
    z, has = speaker_offsets(x, groups, min_windows=8, scale_floor=floor)
    assert has.all()
    for g, rows in (("a", slice(0, 20)), ("b", slice(20, 30))):
        assert np.allclose(z[rows].mean(axis=0), 0.0, atol=1e-5), g
        assert np.allclose(z[rows].std(axis=0), 1.0, atol=1e-4), g
    assert np.allclose(z[30:], 0.0)
    plain, _ = speaker_offsets(x, groups, min_windows=8)
    assert plain[:20].std() > 2.0  # without the scale the loud speaker's offsets stay large


def test_z_scores_cancel_a_per_speaker_gain_and_offset():
    """A channel that scales and shifts a speaker's features (a codec, a telephone band) leaves
    their z-scores, hence an offsets-only relative head, unchanged."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, FEATURE_DIM)).astype(np.float32)
    a = rng.uniform(0.5, 2.0, FEATURE_DIM).astype(np.float32)
    b = rng.normal(size=FEATURE_DIM).astype(np.float32)
    config = {"relative_scale": "speaker", "relative_inputs": "offset", "relative_weight": 1.0}
    tiny = arrays()
    tiny["rel_W0"] = tiny["rel_W0"][FEATURE_DIM:]  # the relative head reads the offsets only
    model = SpeechEmotionModel("t", tiny, config, encoder=None)
    groups = ["s"] * 16
    p = model.probabilities(x, groups=groups)
    q = model.probabilities(x * a + b, groups=groups)
    assert np.allclose(p, q, atol=1e-4)
    assert not np.allclose(p, model.probabilities(x), atol=1e-3)  # groups do matter


def test_unknown_relative_options_are_refused():
    with pytest.raises(ModelError, match="relative_scale"):
        SpeechEmotionModel("t", arrays(), {"relative_scale": "call"}, encoder=None)
    with pytest.raises(ModelError, match="relative_inputs"):
        SpeechEmotionModel("t", arrays(), {"relative_inputs": "absolute"}, encoder=None)
    with pytest.raises(ValueError, match="relative_inputs"):
        relative_input(np.zeros((2, 3)), np.zeros((2, 3)), "neither")


def test_training_rows_are_z_scored_per_group():
    rng = np.random.default_rng(2)
    k = len(LABELS)
    y = np.tile(np.arange(k), 4)
    x = rng.normal(size=(len(y), 6)) * np.where(np.arange(len(y)) < 14, 10.0, 1.0)[:, None]
    context = np.array(["a"] * 14 + ["b"] * 14)
    options = HeadOptions(relative_scale="speaker", random_groups=3, min_group_windows=8)
    with pytest.raises(ValueError, match="floor"):
        relative_training_rows(x, y, context, options=options)
    rows, off = relative_training_rows(x, y, context, options=options, scale_floor=np.ones(6) * 0.1)
    # a loud and a quiet speaker end up on the same scale
    assert 0.3 < off[np.isin(rows, np.arange(14))].std() / off[rows >= 14].std() < 3.0


def _voices(seed: int = 0):
    """Six speakers whose voices differ in place AND in expressiveness (the emotion's spread)."""
    rng = np.random.default_rng(seed)
    k = len(LABELS)
    speakers = np.repeat([f"s{i}" for i in range(6)], 4 * k)
    y = np.tile(np.repeat(np.arange(k), 4), 6)
    spk = np.repeat(np.arange(6), 4 * k)
    voice = rng.normal(0, 3, (6, FEATURE_DIM))[spk]
    gain = np.array([0.5, 1.0, 2.0, 0.7, 1.5, 1.0])[spk, None]
    emotion = rng.normal(0, 1, (k, FEATURE_DIM))[y]
    x = voice + gain * (emotion + rng.normal(0, 0.4, (len(y), FEATURE_DIM)))
    return x.astype(np.float32), y, speakers


@pytest.mark.parametrize("inputs", ["both", "offset"])
def test_z_scored_heads_train_record_their_options_and_predict(inputs: str):
    x, y, speakers = _voices()
    options = HeadOptions(
        hidden=0, epochs=10, lr=2e-2, batch_size=64, random_groups=2, members=1,
        gender_boosts=(1.0,), calibration="speakers", va_alpha=0.0,
        relative_scale="speaker", relative_inputs=inputs, relative_weight=1.0,
    )  # fmt: skip
    arrays_, config = fit_model_arrays(x, y, speakers, np.full(len(y), "clean"), options=options)
    assert config["relative_scale"] == "speaker" and config["relative_inputs"] == inputs
    assert config["relative_scale_floor"] == 0.1
    width = FEATURE_DIM if inputs == "offset" else 2 * FEATURE_DIM
    assert arrays_["rel_W0"].shape[0] == width
    model = SpeechEmotionModel("t", arrays_, config, encoder=None)
    p = model.probabilities(x, groups=list(speakers))
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.mean(p.argmax(axis=1) == y) > 0.6


def test_default_options_leave_model_json_as_before():
    x, y, speakers = _voices(1)
    options = HeadOptions(
        hidden=0, epochs=2, random_groups=1, members=1, gender_boosts=(1.0,),
        calibration="speakers", va_alpha=0.0,
    )  # fmt: skip
    _, config = fit_model_arrays(x, y, speakers, np.full(len(y), "clean"), options=options)
    assert "relative_scale" not in config and "relative_inputs" not in config


def test_mostly_neutral_training_groups_are_added_on_request():
    rng = np.random.default_rng(3)
    k = len(LABELS)
    y = np.repeat(np.arange(k), 10)  # one speaker, ten windows of each emotion
    x = rng.normal(size=(len(y), 5))
    context = np.full(len(y), "a")
    plain = HeadOptions(random_groups=2, min_group_windows=8)
    rows0, _ = relative_training_rows(x, y, context, options=plain)
    more = HeadOptions(random_groups=2, min_group_windows=8, neutral_groups=6)
    rows1, _ = relative_training_rows(x, y, context, options=more)
    assert np.array_equal(rows1[: len(rows0)], rows0)  # the same groups first
    extra = rows1[len(rows0) :]
    assert len(extra) >= 6 * 8
    # mostly neutral: each added group is 50-80 % neutral (up to rounding)
    assert 0.45 <= np.mean(y[extra] == LABELS.index("neutral")) <= 0.85
    assert np.mean(y[rows0] == LABELS.index("neutral")) < 0.3


def test_train_command_takes_the_relative_options():
    import argparse

    from train.ser import add_train_args, run_train

    parser = argparse.ArgumentParser()
    add_train_args(parser)
    args = parser.parse_args(
        [
            "--manifest",
            "m.csv",
            "--out",
            "unused",
            "--relative-scale",
            "speaker",
            "--relative-inputs",
            "offset",
        ]
    )
    assert (args.relative_scale, args.relative_inputs) == ("speaker", "offset")
    assert args.relative_weight == HeadOptions.relative_weight
    with pytest.raises(SystemExit):
        parser.parse_args(["--manifest", "m.csv", "--out", "unused", "--relative-scale", "call"])
    args.relative_weight = 1.5
    with pytest.raises(ValueError, match="relative-weight"):
        run_train(args)
    floored = parser.parse_args(
        ["--manifest", "m.csv", "--out", "unused", "--relative-scale-floor", "0.3"]
    )
    assert floored.relative_scale_floor == 0.3
    assert args.relative_scale_floor == HeadOptions.relative_scale_floor
    floored.relative_scale_floor = 0.0
    with pytest.raises(ValueError, match="relative-scale-floor"):
        run_train(floored)
    calm = parser.parse_args(["--manifest", "m.csv", "--out", "unused", "--neutral-groups", "12"])
    assert calm.neutral_groups == 12 and args.neutral_groups == HeadOptions.neutral_groups
    calm.neutral_groups = -1
    with pytest.raises(ValueError, match="neutral-groups"):
        run_train(calm)


def test_the_floor_keeps_a_calm_group_from_being_stretched():
    rng = np.random.default_rng(4)
    calm = rng.normal(0.0, 0.05, (12, FEATURE_DIM)).astype(np.float32)  # little variation
    groups = ["calm"] * 12
    tiny = arrays()  # training spread 1.0 in every dimension
    low = SpeechEmotionModel("t", tiny, {"relative_scale": "speaker"}, encoder=None)
    high = SpeechEmotionModel(
        "t", tiny, {"relative_scale": "speaker", "relative_scale_floor": 0.5}, encoder=None
    )
    assert low.scale_floor is not None and np.allclose(low.scale_floor, 0.1)
    assert high.scale_floor is not None and np.allclose(high.scale_floor, 0.5)
    z_low, _ = speaker_offsets(calm, groups, min_windows=8, scale_floor=low.scale_floor)
    z_high, _ = speaker_offsets(calm, groups, min_windows=8, scale_floor=high.scale_floor)
    assert z_low.std() > 0.4  # stretched (floored at 0.1: 0.05 -> ~0.5)
    assert z_high.std() < 0.15  # kept small: a calm speaker stays calm
    plain = SpeechEmotionModel("t", tiny, {}, encoder=None)
    assert plain.scale_floor is None
