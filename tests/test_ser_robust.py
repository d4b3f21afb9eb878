"""Issue 15 robustness options: one-damage training copies (``train.augment``) and the
familiarity threshold taken on chosen channels (``train.ser_ood``)."""

from __future__ import annotations

import numpy as np
import pytest
from test_ser_familiar import training_set

from analyzer.audio.ser import FEATURE_DIM
from train import augment
from train.ser_ood import fit_standardised, left_out_distances, weighted_quantile

RATE = 16_000


def tone(freq_hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_hz(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / RATE)[int(np.argmax(spectrum))])


def test_babble_copy_is_seeded_by_the_key_and_within_the_snr_range():
    rng = np.random.default_rng(0)
    pool = [rng.normal(0, 0.1, RATE // 2).astype(np.float32) for _ in range(6)]
    wave = tone(220.0)
    a = augment.babble_copy(wave, key="clip_a.wav", pool=pool)
    assert a.dtype == np.float32 and a.shape == wave.shape
    assert np.array_equal(a, augment.babble_copy(wave, key="clip_a.wav", pool=pool))
    assert not np.allclose(a, augment.babble_copy(wave, key="clip_b.wav", pool=pool))
    assert np.array_equal(wave, tone(220.0))  # the input is not modified
    for k in range(20):
        out = augment.babble_copy(wave, key=f"c{k}", pool=pool)
        noise = out.astype(np.float64) - wave
        snr = 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean(noise**2))
        assert -0.01 < snr < 20.01
    narrow = augment.babble_copy(wave, key="c", pool=pool, snr_db=(5.0, 5.0))
    noise = narrow.astype(np.float64) - wave
    assert 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean(noise**2)) == (
        pytest.approx(5.0, abs=0.01)
    )
    with pytest.raises(ValueError, match="pool"):
        augment.babble_copy(wave, key="c", pool=[])


def test_codec_copy_keeps_length_changes_the_signal_and_repeats_per_key():
    wave = tone(440.0)
    a = augment.codec_copy(wave, key="clip_a.wav")
    assert a.dtype == np.float32 and a.shape == wave.shape and np.isfinite(a).all()
    assert np.array_equal(a, augment.codec_copy(wave, key="clip_a.wav"))
    assert not np.allclose(a, wave, atol=1e-3)
    assert np.std(a) > 0.01  # the tone survives the codec (not silence)


def test_voice_shift_copy_moves_the_pitch_by_1_5_to_4_semitones_either_way():
    wave = tone(200.0, 2.0)
    ratios = []
    for k in range(6):
        out = augment.voice_shift_copy(wave, key=f"clip{k}")
        assert out.shape == wave.shape
        ratios.append(peak_hz(out) / 200.0)
    semitones = 12 * np.log2(np.array(ratios))
    assert np.all(np.abs(semitones) > 1.2) and np.all(np.abs(semitones) < 4.3)
    assert (semitones > 0).any() and (semitones < 0).any()  # both directions occur


def test_threshold_channels_take_the_quantile_on_those_windows_only():
    feats, speakers, corpora, _ = training_set()
    rng = np.random.default_rng(5)
    z = np.vstack([feats, feats + rng.normal(0, 0.3, feats.shape).astype(np.float32)])
    spk = np.concatenate([speakers, speakers])
    cor = np.concatenate([corpora, corpora])
    channels = ["clean"] * len(feats) + ["degraded"] * len(feats)
    arrays, above_all = fit_standardised(z, spk, cor)
    arrays_d, above_deg = fit_standardised(
        z, spk, cor, channels=channels, threshold_channels=("degraded",)
    )
    for key in arrays:  # the fit is the same; only the threshold moves
        assert np.array_equal(arrays[key], arrays_d[key])
    assert above_deg > above_all  # the damaged windows lie farther out
    held = left_out_distances(z, spk, weights=None)
    deg = np.array(channels) == "degraded"
    expected = weighted_quantile(held[deg], 0.95, None)
    assert above_deg == pytest.approx(expected, rel=0.05)  # corpus weights differ slightly
    _, same = fit_standardised(z, spk, cor, channels=channels, threshold_channels=())
    assert same == above_all  # no threshold channels: the default
    with pytest.raises(ValueError, match="channel"):
        fit_standardised(z, spk, cor, threshold_channels=("degraded",))
    with pytest.raises(ValueError, match="threshold channels"):
        fit_standardised(z, spk, cor, channels=channels, threshold_channels=("babble",))
    assert z.shape[1] == FEATURE_DIM


def test_add_familiarity_records_threshold_channels_and_refuses_unfitted_ones(tmp_path):
    import csv
    import json

    import soundfile as sf
    from test_ser import tiny_arrays, voice

    from analyzer.audio.ser import save_model_folder
    from analyzer.models import write_checksums
    from train.ser_ood import add_familiarity

    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for s, name in enumerate(("spk_a", "spk_b", "spk_c", "spk_d")):
        for k, label in enumerate(("neutral", "angry", "sad")):
            sf.write(data / f"{name}_{label}.wav", voice(20 * s + k, 1.0, 100.0 + 30 * s), RATE)
            rows.append({"path": f"{name}_{label}.wav", "speaker": name, "label": label,
                         "corpus": "x" if s < 2 else "y"})  # fmt: skip
    with open(data / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "speaker", "label", "corpus"])
        writer.writeheader()
        writer.writerows(rows)
    source = save_model_folder(tmp_path / "src", tiny_arrays(), {})
    (source / "MODEL_CARD.md").write_text("# src\n")
    write_checksums(source)
    manifest = data / "manifest.csv"
    both = ("clean", "telephone")
    cache = tmp_path / "cache"
    plain = add_familiarity(source, tmp_path / "a", manifest, channels=both, cache_dir=cache)
    phone = add_familiarity(source, tmp_path / "b", manifest, channels=both, cache_dir=cache,
                            threshold_channels=("telephone",))  # fmt: skip
    a = json.loads((plain / "model.json").read_text())
    b = json.loads((phone / "model.json").read_text())
    assert "threshold_channels" not in a["familiarity"]
    assert b["familiarity"]["threshold_channels"] == ["telephone"]
    assert b["familiarity"]["windows"] == a["familiarity"]["windows"] == 24
    assert a["unfamiliar_above"] != b["unfamiliar_above"]
    with pytest.raises(ValueError, match="among the fitted"):
        add_familiarity(source, tmp_path / "c", manifest, channels=("clean",),
                        threshold_channels=("telephone",))  # fmt: skip
    with pytest.raises(ValueError, match="noise-manifest"):
        add_familiarity(source, tmp_path / "d", manifest, channels=("clean", "degraded"))
    # with speech for its babble the degraded channel is fitted (and can set the threshold)
    noise = tmp_path / "noise"
    noise.mkdir()
    with open(noise / "read.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "speaker", "gender", "label"])
        writer.writeheader()
        for k in range(4):
            sf.write(noise / f"r{k}.wav", voice(90 + k, 1.5, 110.0 + 40 * k), RATE)
            writer.writerow({"path": f"r{k}.wav", "speaker": f"r{k}", "gender": "f", "label": ""})
    deg = add_familiarity(source, tmp_path / "e", manifest, channels=("clean", "degraded"),
                          threshold_channels=("degraded",),
                          noise_manifest=noise / "read.csv")  # fmt: skip
    e = json.loads((deg / "model.json").read_text())
    assert e["familiarity"]["channels"] == ["clean", "degraded"]
    assert e["familiarity"]["windows"] == 24 and e["unfamiliar_above"] > 0
