"""The learned overlapped-speech detector for mixed audio (analyzer/audio/overlap.py)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import SR, speak

from analyzer.audio.overlap import (
    OVERLAP_MODEL,
    OverlapDetector,
    call_normalised,
    frame_features,
    load_overlap_detector,
    pitch_band_edges,
    stack_context,
)
from analyzer.audio.speakers import diarize_embedded
from analyzer.models import ModelError, resolve_model_dir, verify_checksums
from analyzer.segment import Segment


def _voices() -> tuple[np.ndarray, np.ndarray]:
    a = speak(
        "I am sorry to hear that, let me check the tracking number for you, one moment please.",
        "en-us+f3",
        speed=170,
        pitch=70,
    )
    b = speak(
        "No, I want this fixed today, I have waited long enough for this order to arrive.",
        "en+m1",
        speed=140,
        pitch=25,
    )
    return a, b


def _share(prob: np.ndarray, seg: Segment, det: OverlapDetector) -> float:
    """Share of the frames inside ``seg`` that the detector calls overlapped."""
    hit = det.mask(prob)
    return float(hit[int(seg.start * 100) : int(seg.end * 100)].mean())


def test_the_model_folder_loads_and_its_checksums_hold(tmp_path):
    folder = resolve_model_dir(OVERLAP_MODEL)
    verify_checksums(folder)
    config = json.loads((folder / "model.json").read_text())
    assert config["kind"] == "overlap"
    assert (folder / "MODEL_CARD.md").is_file()
    det = load_overlap_detector()
    assert 0 < det.threshold < 1 and det.smooth_frames >= 1
    # An edited weights file is refused.
    copy = tmp_path / "edited"
    shutil.copytree(folder, copy)
    weights = copy / config["weights"]
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_overlap_detector(str(copy))


def test_features_are_on_the_diarization_grid_and_ignore_the_gain():
    rng = np.random.default_rng(0)
    audio = (rng.normal(0, 0.05, 3 * SR) * np.sin(np.arange(3 * SR) / SR * 7) ** 2).astype(
        np.float32
    )
    f = frame_features(audio)
    assert f.shape == (1 + len(audio) // 160, 35)
    # Relative to the call's speech level: a quieter copy gives the same features (where there
    # is sound at all; near-silent edge frames meet the numerical floor).
    g = frame_features(audio * 0.1)
    sound = f[:, -1] > -30
    assert sound.mean() > 0.8
    assert np.allclose(f[sound], g[sound], atol=0.05)
    stacked = stack_context(f, (-2, 0, 2))
    assert stacked.shape == (len(f), 3 * f.shape[1])
    assert np.array_equal(stacked[10, 35:70], f[10]) and np.array_equal(stacked[10, :35], f[8])


def test_two_voices_at_once_are_found_and_one_voice_is_not(monkeypatch):
    a, b = _voices()
    det = load_overlap_detector()
    monkeypatch.setattr(det, "threshold", det.threshold)  # restored after the test
    # a alone, a pause, b alone, a pause, then b starting 1.5 s before a ends (a cut-in).
    cut = len(a) - int(1.5 * SR)
    pause = np.zeros(SR // 2, np.float32)
    mixed = np.zeros(cut + len(b), np.float32)
    mixed[: len(a)] += a
    mixed[cut:] += b * 0.8
    audio = np.concatenate([a, pause, b, pause, mixed, pause])
    start = (len(a) + len(b) + 2 * len(pause)) / SR
    both = Segment(start + cut / SR + 0.1, start + len(a) / SR - 0.1)
    prob = det.probabilities(audio)
    assert prob.shape == (1 + len(audio) // 160,)
    alone = Segment(0.2, start - 0.6)
    # Without the diarizer's gate (near a speaker change), the detector alone at a plain
    # threshold of 0.3 (the shipped one is chosen on acted voices, not these synthetic ones):
    # half of the cut-in is called overlapped, little of the single voices (0.53 and 0.00 with
    # version 2; version 1: about 0.6 and 0.07).
    det.threshold = 0.3
    assert _share(prob, both, det) > 0.4
    assert _share(prob, alone, det) < 0.15
    mean_both = prob[int(both.start * 100) : int(both.end * 100)].mean()
    assert mean_both > 3 * prob[int(alone.start * 100) : int(alone.end * 100)].mean()


def test_detected_overlap_keeps_both_voices_in_the_turns(monkeypatch):
    """Plumbing: frames the detector calls overlapped become overlap segments and a turn of
    the other voice, on windows embedded elsewhere (two clearly different voices)."""
    det = load_overlap_detector()  # the one the diarizer uses, with a plain decision
    for name, value in (("threshold", 0.5), ("smooth_frames", 1), ("min_s", 0.0)):
        monkeypatch.setattr(det, name, value)
    monkeypatch.setattr(det, "near_change_s", 1.0)
    monkeypatch.setattr(det, "far_threshold", 2.0)  # away from a change: never
    rng = np.random.default_rng(1)
    dirs = rng.normal(size=(2, 16))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    speech = [Segment(0.0, 10.0)]
    # Windows of 1.5 s every 0.5 s: speaker 0 until 5 s, speaker 1 after.
    starts = np.arange(0, 851, 50)
    spans = np.stack([starts, starts + 150], axis=1)
    emb = np.array([dirs[0] if s + 75 < 500 else dirs[1] for s in starts])
    emb = emb + rng.normal(0, 0.02, emb.shape)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    owner = np.zeros(len(starts), int)
    prob = np.zeros(1001, np.float32)
    prob[450:560] = 0.99  # the detector says: both voices from 4.5 to 5.6 s
    prob[100:200] = 0.99  # and at 1-2 s, far from any speaker change: gated out
    out = diarize_embedded(spans, owner, emb, speech, 10.0, num_speakers=2, overlap_prob=prob)
    assert len(out.overlaps) == 1
    o = out.overlaps[0]
    assert abs(o.start - 4.5) < 0.05 and abs(o.end - 5.6) < 0.05
    covering = {s for s, g in out.turns if g.start <= 4.6 and g.end >= 5.5}
    partly = {s for s, g in out.turns if g.overlaps(Segment(4.6, 5.5))}
    assert len(partly) == 2, out.turns  # both voices speak in the overlap
    assert covering  # one of them as the stretch added for the second voice
    # A stricter threshold away from a change: the far detection counts where it is surer.
    monkeypatch.setattr(det, "far_threshold", 0.95)
    both = diarize_embedded(spans, owner, emb, speech, 10.0, num_speakers=2, overlap_prob=prob)
    assert [(round(o.start, 1), round(o.end, 1)) for o in both.overlaps] == [(1.0, 2.0), (4.5, 5.6)]
    unsure = prob.copy()
    unsure[100:200] = 0.9
    out2 = diarize_embedded(spans, owner, emb, speech, 10.0, num_speakers=2, overlap_prob=unsure)
    assert out2.overlaps == out.overlaps
    # Without detections: no overlap and no doubled speech.
    none = diarize_embedded(
        spans, owner, emb, speech, 10.0, num_speakers=2, overlap_prob=np.zeros(1001)
    )
    assert none.overlaps == []
    assert sum(g.duration for _, g in none.turns) <= 10.0 + 1e-6
    # Near the end of a speech segment (a few trailing words of the other voice, no change
    # found) the near threshold holds where the model has an edge zone.
    monkeypatch.setattr(det, "far_threshold", 2.0)
    trailing = prob.copy()
    trailing[100:200] = 0.0
    trailing[930:990] = 0.99
    plain = diarize_embedded(spans, owner, emb, speech, 10.0, num_speakers=2, overlap_prob=trailing)
    assert [(round(o.start, 1), round(o.end, 1)) for o in plain.overlaps] == [(4.5, 5.6)]
    monkeypatch.setattr(det, "edge_s", 0.75)
    edged = diarize_embedded(spans, owner, emb, speech, 10.0, num_speakers=2, overlap_prob=trailing)
    assert [(round(o.start, 1), round(o.end, 1)) for o in edged.overlaps] == [
        (4.5, 5.6),
        (9.3, 9.9),
    ]


def test_call_normalisation_takes_out_the_calls_own_spectral_shape():
    rng = np.random.default_rng(2)
    feats = rng.normal(0, 3, (400, 35)).astype(np.float32)
    feats[:, -1] = np.where(np.arange(400) < 300, rng.uniform(-10, 3, 400), -60)  # 100 quiet
    tilt = np.linspace(-6, 6, 32).astype(np.float32)  # a brighter microphone / another timbre
    other = feats.copy()
    other[:, :32] += tilt
    a, b = call_normalised(feats), call_normalised(other)
    assert np.allclose(a, b, atol=1e-4)  # the call-wide colouring is gone
    assert np.allclose(a[:, 32:], feats[:, 32:])  # flatness, periodicity, level untouched
    # The mean shape comes from the call's speech frames only, not its quiet ones.
    assert np.allclose(a[:300, :32].mean(axis=0), 0.0, atol=1e-4)
    assert not np.allclose(a[300:, :32].mean(axis=0), 0.0, atol=0.3)
    # A model fitted on normalised features reads them so; one without the flag does not.
    det = load_overlap_detector()
    normed = OverlapDetector(
        det.layers, det.mean, det.scale, det.offsets, threshold=0.5, smooth_frames=1,
        min_s=0.0, call_norm=True,
    )  # fmt: skip
    assert np.allclose(
        normed.probabilities_from_features(feats), normed.probabilities_from_features(other),
        atol=1e-5,
    )  # fmt: skip
    plain = OverlapDetector(
        det.layers, det.mean, det.scale, det.offsets, threshold=0.5, smooth_frames=1, min_s=0.0
    )
    assert not np.allclose(
        plain.probabilities_from_features(feats), plain.probabilities_from_features(other),
        atol=1e-3,
    )  # fmt: skip


def test_the_decision_rule_prefers_settings_that_hold_on_every_resample():
    from train.overlap import bootstrap_score, precision_recall, resamples

    groups = np.array([0] * 6 + [1] * 4)
    draws = resamples(groups, 50, seed=3)
    assert draws.shape == (50, 10)
    assert (
        np.isin(draws[:, :6], np.arange(6)).all() and np.isin(draws[:, 6:], np.arange(6, 10)).all()
    )
    # Every call alike: each resample pools to the same figures as all calls.
    same = np.tile([60, 40, 40], (10, 1))
    assert np.allclose(precision_recall(same), (0.6, 0.6))
    assert bootstrap_score(same, groups, draws) == pytest.approx(0.6)
    # One call carries the pooled recall: pooled 0.6/0.6 too, but resamples without it fall.
    lumpy = np.tile([10, 7, 40], (10, 1))
    lumpy[0] = [510, 353, 0]
    prec, rec = precision_recall(lumpy)
    assert min(prec, rec) > 0.58  # pooled: about 0.6 / 0.6 (0.59 / 0.63)
    assert bootstrap_score(lumpy, groups, draws) < bootstrap_score(same, groups, draws) - 0.05


def test_varied_training_conversations_label_only_what_both_voices_say():
    from train.overlap import varied_mixture

    rng = np.random.default_rng(4)
    clips, pool = {}, {}
    for spk, f0 in (("librispeech_a", 120.0), ("emodb_b", 210.0)):
        for j in range(3):
            n = int(rng.uniform(1.5, 4.0) * SR)
            t = np.arange(n) / SR
            wav = (0.1 * np.sin(2 * np.pi * f0 * t) * (1 + 0.5 * np.sin(7 * t))).astype(np.float32)
            path = f"{spk}/{j}.wav"
            clips[path] = (wav, np.array([[0.0, n / SR]]))
            pool.setdefault(spk, []).append(path)
    overlapped = 0.0
    for _ in range(4):
        audio, both, speech = varied_mixture(rng, clips, pool, sorted(pool))
        assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
        assert len(both) == len(speech) == 1 + len(audio) // 160
        assert not (both & ~speech).any()  # overlap only where there is speech
        overlapped += both.mean()
    assert 0.01 < overlapped / 4 < 0.3  # cut-ins and backchannels, not a wall of two voices


def test_an_ensemble_averages_its_networks(tmp_path):
    folder = resolve_model_dir(OVERLAP_MODEL)
    config = json.loads((folder / "model.json").read_text())
    rng = np.random.default_rng(5)
    feats = rng.normal(0, 3, (300, 35)).astype(np.float32)
    single = OverlapDetector.from_folder(folder, {**config, "call_norm": False})
    normed = OverlapDetector.from_folder(folder, {**config, "call_norm": True})
    both = OverlapDetector.from_folder(
        folder,
        {
            **config,
            "call_norm": False,
            "members": [{"weights": config["weights"], "call_norm": True}],
        },
    )
    assert len(both.members) == 1 and both.members[0].call_norm and not both.call_norm
    expect = (
        single.probabilities_from_features(feats) + normed.probabilities_from_features(feats)
    ) / 2
    assert np.allclose(both.probabilities_from_features(feats), expect, atol=1e-6)


def test_detections_can_be_shrunk_at_both_ends():
    det = load_overlap_detector()
    plain = OverlapDetector(
        det.layers, det.mean, det.scale, det.offsets, threshold=0.5, smooth_frames=1, min_s=0.2
    )
    prob = np.zeros(200, np.float32)
    prob[50:100] = 0.9  # 0.5 s
    prob[150:165] = 0.9  # 0.15 s: shorter than min_s
    assert np.flatnonzero(plain.mask(prob)).tolist() == list(range(50, 100))
    plain.shrink_s = 0.05
    assert np.flatnonzero(plain.mask(prob)).tolist() == list(range(55, 95))


def test_the_pitch_profile_shows_each_voices_period():
    t = np.arange(SR) / SR

    def voice(f0: float) -> np.ndarray:  # a few harmonics of one period
        return sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))

    low, high = voice(110.0), voice(240.0)
    plain = frame_features(low.astype(np.float32))
    profiled = frame_features(low.astype(np.float32), pitch_bins=16)
    assert profiled.shape == (len(plain), 35 + 16)
    assert np.array_equal(profiled[:, :35], plain)  # versions 1 and 2 read the same columns

    edges = pitch_band_edges(40, 229, 16)  # lags 2.5-14.3 ms at 16 kHz
    assert edges[0] == 0 and edges[-1] == 190 and all(np.diff(edges) >= 1)

    def band_of(lag: int) -> int:
        return int(np.searchsorted(edges, lag - 40, side="right") - 1)

    def peaks(wave: np.ndarray) -> set[int]:
        profile = frame_features(wave.astype(np.float32), pitch_bins=16)[50:-50, 35:].mean(0)
        return set(np.flatnonzero(profile > 0.8 * profile.max()).tolist())

    assert band_of(SR // 110) in peaks(low) and band_of(SR // 240) not in peaks(low)
    assert band_of(SR // 240) in peaks(high)
    both = peaks(low + high)  # two voices: both periods stand out
    assert band_of(SR // 110) in both and band_of(SR // 240) in both
    mixed = frame_features((low + high).astype(np.float32), pitch_bins=16)[50:-50]
    single = frame_features(low.astype(np.float32), pitch_bins=16)[50:-50]
    assert mixed[:, 35:].mean(0).max() < single[:, 35:].mean(0).max()  # neither period is clean


def test_the_edge_zone_covers_each_speech_segments_first_and_last_frames():
    from analyzer.audio.speakers import _near_edges

    # frames: silence, segment 0 (10 frames), silence, segment 1 (3 frames) right before
    # segment 2 (8 frames) with no pause between them, silence
    seg_of = np.array([-1] * 2 + [0] * 10 + [-1] * 3 + [1] * 3 + [2] * 8 + [-1] * 2)
    near = _near_edges(seg_of, 2)
    assert near.tolist() == (
        [False] * 2
        + [True, True, False, False, False, False, False, False, True, True]
        + [False] * 3
        + [True] * 3  # shorter than two reaches: all of it
        + [True, True, False, False, False, False, True, True]
        + [False] * 2
    )
    assert not _near_edges(seg_of, 0).any()
    assert not _near_edges(np.full(5, -1), 3).any()


def test_the_convolutional_network_gives_in_blocks_what_torch_gives_in_one_pass(monkeypatch):
    """A "tcn" detector (numpy, read a block at a time) against the same network run by torch
    over the whole sequence with zero padding, as it is trained: equal probabilities."""
    torch = pytest.importorskip("torch")
    import analyzer.audio.overlap as ov

    rng = np.random.default_rng(0)
    dilations = [1, 2, 4, 1]
    shapes = [(6, 5, 5), (6, 6, 3), (6, 6, 3), (1, 6, 1)]
    weights = [
        (rng.normal(0, 0.4, s).astype(np.float32), rng.normal(0, 0.1, s[0]).astype(np.float32))
        for s in shapes
    ]
    det = OverlapDetector([], np.full(5, 0.5, np.float32), np.full(5, 2.0, np.float32), (0,),
                          threshold=0.5, smooth_frames=1, min_s=0.0)  # fmt: skip
    det.convs = ov.conv_layers(weights, dilations)
    monkeypatch.setattr(ov, "BLOCK_S", 0.37)  # 37-frame blocks: many block edges
    feats = rng.normal(0, 1, (203, 5)).astype(np.float32)
    got = det.probabilities_from_features(feats)

    x = torch.from_numpy(((feats - 0.5) / 2.0).T[None].copy())
    convs = [torch.nn.Conv1d(s[1], s[0], s[2], dilation=d, padding="same")
             for s, d in zip(shapes, dilations)]  # fmt: skip
    with torch.no_grad():
        for c, (w, b) in zip(convs, weights):
            c.weight.copy_(torch.from_numpy(w))
            c.bias.copy_(torch.from_numpy(b))
        h = torch.relu(convs[0](x))
        for c in convs[1:-1]:
            h = h + torch.relu(c(h))
        want = torch.sigmoid(convs[-1](h))[0, 0].numpy()
    assert got.shape == (203,)
    assert np.allclose(got, want, atol=1e-5)
    assert got.std() > 0.05  # the network is not constant: the comparison means something


def test_a_convolutional_model_folder_loads_its_layers(tmp_path):
    """model.json with ``"arch": "tcn"`` gives a detector that runs the folder's convolutions
    (and no MLP), with the folder's decision."""
    rng = np.random.default_rng(1)
    shapes = [(4, 35, 5), (4, 4, 3), (1, 4, 1)]
    arrays = {"mean": np.zeros(35, np.float32), "scale": np.ones(35, np.float32)}
    for i, s in enumerate(shapes):
        arrays[f"w{i}"] = rng.normal(0, 0.3, s).astype(np.float32)
        arrays[f"b{i}"] = np.zeros(s[0], np.float32)
    np.savez(tmp_path / "weights.npz", **arrays)
    config = {"weights": "weights.npz", "layers": 3, "arch": "tcn", "dilations": [1, 2, 1],
              "threshold": 0.4, "smooth_frames": 5, "min_s": 0.2}  # fmt: skip
    det = OverlapDetector.from_folder(tmp_path, config)
    assert det.layers == [] and [c.dilation for c in det.convs] == [1, 2, 1]
    assert [c.residual for c in det.convs] == [False, True, False] and det.convs[-1].last
    assert det.threshold == 0.4
    feats = rng.normal(0, 1, (120, 35)).astype(np.float32)
    h = np.maximum(
        sum(np.pad(feats, ((2, 2), (0, 0)))[j : j + 120] @ arrays["w0"][:, :, j].T
            for j in range(5)), 0.0)  # fmt: skip
    h = h + np.maximum(
        sum(np.pad(h, ((2, 2), (0, 0)))[2 * j : 2 * j + 120] @ arrays["w1"][:, :, j].T
            for j in range(3)), 0.0)  # fmt: skip
    want = 1 / (1 + np.exp(-(h @ arrays["w2"][:, :, 0].T)[:, 0]))
    assert np.allclose(det.probabilities_from_features(feats), want, atol=1e-5)
