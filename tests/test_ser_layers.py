"""Speech emotion version 5: the numpy Whisper layer encoder and the "features" kind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analyzer.audio.ser import (
    FEATURE_DIM,
    FEATURE_VERSION,
    LAYER1_FEATURE_VERSION,
    SAMPLE_RATE_HZ,
    SpeechEmotionModel,
    WhisperLayerEncoder,
    make_encoder,
    read_ct2_variables,
    save_model_folder,
)
from analyzer.models import ModelError, load_model, whisper_model_dir, write_checksums

SR = SAMPLE_RATE_HZ


def voice(seed: int, seconds: float, f0_hz: float = 140.0) -> np.ndarray:
    """A seeded buzzy vowel-like signal with a wobbling f0 and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = f0_hz * (1 + 0.06 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    wave = sum(np.sin(k * phase) / k for k in range(1, 12)) * np.hanning(len(t))
    return (0.2 * wave + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def encoder() -> WhisperLayerEncoder:
    return WhisperLayerEncoder()


def test_layer_encoder_matches_the_torch_research_copy(encoder: WhisperLayerEncoder):
    pytest.importorskip("torch")
    from train.experiments.ser_generalisation.layers import LayerEncoder

    waves = [voice(0, 2.3), voice(1, 0.15, 220.0), voice(2, 4.0, 110.0)]
    ours, speech = encoder.embed(waves)
    reference, ref_speech = LayerEncoder(threads=1).embed(waves)
    assert ours.shape == (3, FEATURE_DIM) and ours.dtype == np.float32
    layer1 = reference[:, FEATURE_DIM : 2 * FEATURE_DIM]  # research layout: 768 per layer
    assert np.abs(ours - layer1).max() < 1e-4
    assert np.abs(ours - layer1).max() < 1e-3 * np.abs(layer1).max()
    assert np.allclose(speech, ref_speech)
    # not the last layer's features (what versions 1-4 read): a different representation
    assert not np.allclose(ours, reference[:, -FEATURE_DIM:], atol=0.1)


def test_layer_features_do_not_depend_on_batch_neighbours(encoder: WhisperLayerEncoder):
    alone, _ = encoder.embed([voice(5, 2.0)])
    together, _ = encoder.embed([voice(6, 3.7), voice(5, 2.0), voice(7, 0.5)])
    assert np.allclose(alone[0], together[1], atol=1e-5)
    assert not np.allclose(together[0], together[1], atol=1e-2)


def test_reader_skips_unwanted_variables_and_refuses_a_truncated_file(tmp_path: Path):
    source = whisper_model_dir() / "model.bin"
    conv = read_ct2_variables(source, lambda n: n.startswith("encoder/conv1"))
    assert set(conv) == {"encoder/conv1/weight", "encoder/conv1/bias"}
    assert conv["encoder/conv1/weight"].shape == (384, 80, 3)
    cut = tmp_path / "model.bin"
    cut.write_bytes(source.read_bytes()[:5000])
    with pytest.raises(ModelError):
        read_ct2_variables(cut, lambda n: True)


def test_feature_kind_picks_the_encoder_and_is_recorded(tmp_path: Path):
    assert make_encoder("whisper-layer1").feature_version == LAYER1_FEATURE_VERSION
    with pytest.raises(ModelError):
        make_encoder("whisper-layer7")
    rng = np.random.default_rng(0)
    arrays = {
        "mean": np.zeros(FEATURE_DIM, np.float32),
        "scale": np.ones(FEATURE_DIM, np.float32),
        "offset_scale": np.ones(FEATURE_DIM, np.float32),
        "abs_W0": rng.normal(0, 0.1, (FEATURE_DIM, 7)).astype(np.float32),
        "abs_b0": np.zeros(7, np.float32),
        "rel_W0": rng.normal(0, 0.1, (2 * FEATURE_DIM, 7)).astype(np.float32),
        "rel_b0": np.zeros(7, np.float32),
    }
    v5 = save_model_folder(tmp_path / "v5", arrays, {"features": "whisper-layer1"})
    write_checksums(v5)
    config = json.loads((v5 / "model.json").read_text())
    assert config["feature_version"] == LAYER1_FEATURE_VERSION
    model = load_model(v5, "ser")
    assert isinstance(model, SpeechEmotionModel)
    assert isinstance(model.encoder, WhisperLayerEncoder)
    scores = model.predict([voice(3, 1.5), voice(4, 2.5)])
    assert scores.probs.shape == (2, 7) and np.allclose(scores.probs.sum(axis=1), 1, atol=1e-5)
    # a folder without the field keeps the last-layer features (versions 1-4 unchanged)
    old = save_model_folder(tmp_path / "old", arrays, {})
    assert json.loads((old / "model.json").read_text())["feature_version"] == FEATURE_VERSION
    assert (
        SpeechEmotionModel.from_folder(old, json.loads((old / "model.json").read_text())).features
        == "whisper-last"
    )
    bad = {**json.loads((old / "model.json").read_text()), "features": "mfcc"}
    with pytest.raises(ModelError):
        SpeechEmotionModel.from_folder(old, bad)


def test_training_on_layer_features_records_them_and_caches_apart(tmp_path: Path):
    import csv

    import soundfile as sf

    from train.heads import HeadOptions
    from train.ser import train_ser

    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for s, (speaker, f0) in enumerate((("a", 110.0), ("b", 200.0))):
        for k in range(8):  # the relative head needs 8 windows of a speaker
            label = ("neutral", "happy", "sad", "angry")[k % 4]
            name = f"{speaker}_{k}.wav"
            sf.write(data / name, voice(10 * s + k, 1.0, f0 * (1 + 0.1 * k)), SR)
            rows.append({"path": name, "speaker": speaker, "label": label})
    manifest = data / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "speaker", "label"])
        writer.writeheader()
        writer.writerows(rows)
    cache = tmp_path / "cache"
    options = HeadOptions(hidden=0, epochs=2, random_groups=1, members=1)
    common = {"channels": ("clean",), "options": options, "cache_dir": cache}
    v5 = train_ser(manifest, out=tmp_path / "v5", feature_kind="whisper-layer1", **common)
    config = json.loads((v5 / "model.json").read_text())
    assert config["features"] == "whisper-layer1"
    assert config["feature_version"] == LAYER1_FEATURE_VERSION
    layer_files = set(cache.rglob("*.npy"))
    assert len(layer_files) == len(rows)
    # the last-layer features of the same clips are cached beside them, not mixed up with them
    old = train_ser(manifest, out=tmp_path / "old", **common)
    assert "features" not in json.loads((old / "model.json").read_text())
    assert len(set(cache.rglob("*.npy")) - layer_files) == len(rows)
    # adapting the layer-1 model reads layer-1 features again (the init model's kind)
    adapted = train_ser(manifest, out=tmp_path / "adapted", init=v5, **common)
    assert json.loads((adapted / "model.json").read_text())["features"] == "whisper-layer1"
    assert len(set(cache.rglob("*.npy"))) == 2 * len(rows)
