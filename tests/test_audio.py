"""Voice activity, speakers and prosody on signals made in the test."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, speak

from analyzer.audio.der import diarization_error_rate
from analyzer.audio.prosody import analyze_frames, speaker_zscores, turn_features
from analyzer.audio.speakers import (
    SpeakerEncoder,
    channel_turns,
    cluster_embeddings,
    diarize,
    overlap_segments,
)
from analyzer.audio.vad import VoiceActivityDetector, silences, speech_segments
from analyzer.segment import Segment


@pytest.fixture(scope="module")
def vad():
    return VoiceActivityDetector()


def test_segment_arithmetic():
    a, b = Segment(1.0, 3.0), Segment(2.5, 4.0)
    assert a.duration == 2.0 and a.overlaps(b) and a.overlap(b) == 0.5
    assert a.intersection(b) == Segment(2.5, 3.0)
    assert Segment(0, 1).intersection(Segment(1, 2)) is None
    assert sorted([b, a]) == [a, b]
    with pytest.raises(ValueError):
        Segment(2.0, 1.0)


def test_vad_finds_the_silence_where_it_was_put(vad):
    words = speak("Good morning, thank you for calling customer service today.")
    gap_s = 2.0
    rng = np.random.default_rng(0)
    audio = np.concatenate([words, np.zeros(int(gap_s * SR), np.float32), words])
    audio += rng.normal(0, 1e-3, len(audio)).astype(np.float32)
    speech = speech_segments(vad.probabilities(audio), duration_s=len(audio) / SR)
    quiet = silences(speech, len(audio) / SR, min_s=1.0)
    assert len(quiet) == 1
    start, end = len(words) / SR, len(words) / SR + gap_s
    # espeak leaves a short tail of near-silence after the last word.
    assert abs(quiet[0].start - start) < 0.35 and abs(quiet[0].end - end) < 0.2


def test_vad_on_pure_silence_and_noise(vad):
    assert speech_segments(vad.probabilities(np.zeros(SR * 3, np.float32))) == []
    noise = np.random.default_rng(1).normal(0, 0.05, SR * 3).astype(np.float32)
    assert sum(s.duration for s in speech_segments(vad.probabilities(noise))) < 0.5
    assert len(vad.probabilities(np.zeros(0, np.float32))) == 0


def test_a_mix_through_an_8khz_channel_is_also_heard_by_the_8khz_branch(vad):
    from scipy.signal import resample_poly

    from analyzer.audio.vad import band_limited

    words = speak("Thank you for calling, how can I help you today?")
    rng = np.random.default_rng(2)
    wide = np.concatenate([np.zeros(SR // 2, np.float32), words, np.zeros(SR // 2, np.float32)])
    wide += rng.normal(0, 1e-3, len(wide)).astype(np.float32)
    narrow = resample_poly(resample_poly(wide, 1, 2), 2, 1)[: len(wide)].astype(np.float32)
    assert not band_limited(lambda a, b: wide[a:b], len(wide))
    assert band_limited(lambda a, b: narrow[a:b], len(narrow))
    assert not band_limited(lambda a, b: np.zeros(b - a, np.float32), SR * 3)  # silence
    # Full band: the 16 kHz branch alone, as before.
    np.testing.assert_array_equal(
        vad.mixed_probabilities(wide, band_limited=False), vad.probabilities(wide)
    )
    # Band-limited: each hop the surer of the two branches, on the same 32 ms grid.
    both = vad.mixed_probabilities(narrow, band_limited=True)
    alone = vad.narrow_probabilities(narrow)
    assert len(both) == len(alone) == len(vad.probabilities(narrow))
    np.testing.assert_array_equal(both, np.maximum(vad.probabilities(narrow), alone))
    assert alone.max() > 0.9 and alone[: SR // 2 // 512 - 2].max() < 0.5  # hears the words
    odd = narrow[: len(narrow) - 7]  # any length: ceil(samples / 512) hops
    assert len(vad.narrow_probabilities(odd)) == int(np.ceil(len(odd) / 512))


def test_channels_through_the_network_together_give_each_channels_own_probabilities(
    vad, monkeypatch
):
    """``channel_probabilities`` batches the streams of every channel (here, with 1-s streams
    and groups of 3, groups that hold streams of both channels and a padded tail): each row is
    what the channel gives on its own."""
    from analyzer.audio import vad as vad_module

    words = speak("Good morning, thank you for calling.")
    rng = np.random.default_rng(2)
    a = np.concatenate([words, np.zeros(SR, np.float32)])[: int(2.7 * SR)]
    b = np.concatenate([np.zeros(SR // 2, np.float32), words])[: len(a)]
    stereo = np.stack([a, b]) + rng.normal(0, 1e-3, (2, len(a))).astype(np.float32)
    whole = vad.channel_probabilities(stereo)
    monkeypatch.setattr(vad_module, "STREAM_S", 1.0)
    monkeypatch.setattr(vad_module, "GROUP_STREAMS", 3)
    both = vad.channel_probabilities(stereo)
    alone = np.stack([vad.probabilities(ch) for ch in stereo])
    assert both.shape == (2, int(np.ceil(len(a) / 512)))
    np.testing.assert_allclose(both, alone, atol=1e-6)
    assert np.abs(both - whole).max() > 0.01  # shorter streams are another computation
    assert vad.channel_probabilities(np.zeros((2, 0), np.float32)).shape == (2, 0)


def conversation():
    """Two clearly different synthetic voices taking turns, with the true turns."""
    a = dict(voice="en-us+f3", pitch=70, speed=170)
    b = dict(voice="en+m1", pitch=25, speed=140)
    lines = [
        (a, "Hello, thank you for calling, how can I help you today?"),
        (b, "My order has not arrived and I have been waiting for two weeks now."),
        (a, "I am sorry to hear that, let me check the tracking number for you."),
        (b, "Please do, I need it before the weekend, it is a birthday present."),
        (a, "I can see it left our warehouse yesterday, it will arrive on Friday."),
        (b, "Friday is fine, thank you very much for checking that for me."),
    ]
    audio, ref, t = [], [], 0.3
    audio.append(np.zeros(int(0.3 * SR), np.float32))
    for i, (v, text) in enumerate(lines):
        x = speak(text, v["voice"], speed=v["speed"], pitch=v["pitch"])
        audio.append(x)
        ref.append(("A" if v is a else "B", Segment(t, t + len(x) / SR)))
        gap = 0.5 + 0.1 * i
        audio.append(np.zeros(int(gap * SR), np.float32))
        t += len(x) / SR + gap
    return np.concatenate(audio), ref


@pytest.fixture(scope="module")
def encoder():
    return SpeakerEncoder()


def test_two_voices_come_out_as_two_speakers(vad, encoder):
    audio, ref = conversation()
    speech = speech_segments(vad.probabilities(audio), duration_s=len(audio) / SR)
    hyp = diarize(audio, speech, encoder)
    assert len(hyp.speakers) == 2
    der = diarization_error_rate(ref, hyp.turns, collar_s=0.25)
    assert der["confusion"] < 0.05
    # Every true speaker change has a detected change within 0.3 s.
    changes = [seg.start for _, seg in ref[1:]]
    found = [seg.start for _, seg in hyp.turns]
    for t in changes:
        assert min(abs(t - f) for f in found) < 0.3


def test_a_cut_in_is_marked_as_overlap_on_mono_audio(vad, encoder):
    a = speak(
        "I am sorry to hear that, let me check the tracking number for you, one moment.",
        "en-us+f3",
        speed=170,
        pitch=70,
    )
    b = speak(
        "No, I want this fixed today, I have waited long enough for this order.",
        "en+m1",
        speed=140,
        pitch=25,
    )
    cut = len(a) - int(1.2 * SR)  # b starts 1.2 s before a finishes
    audio = np.zeros(cut + len(b) + SR, np.float32)
    audio[: len(a)] += a
    audio[cut : cut + len(b)] += b
    # The same two voices earlier in the call, so both are known before the cut-in.
    intro = np.concatenate([a, np.zeros(SR // 2, np.float32), b, np.zeros(SR // 2, np.float32)])
    audio = np.concatenate([intro, audio])
    speech = speech_segments(vad.probabilities(audio), duration_s=len(audio) / SR)
    hyp = diarize(audio, speech, encoder, num_speakers=2)
    truth = Segment((len(intro) + cut) / SR, (len(intro) + len(a)) / SR)
    assert hyp.overlaps, "no overlap marked"
    near = [o for o in hyp.overlaps if o.start < truth.end + 0.5 and o.end > truth.start - 0.5]
    assert near
    assert sum(o.duration for o in hyp.overlaps) < 4.0  # not the whole call


def test_one_voice_stays_one_speaker(vad, encoder):
    v = dict(voice="en-us+f3", pitch=70, speed=170)
    lines = [
        "Hello, thank you for calling, how can I help you today?",
        "I am sorry to hear that, let me check the tracking number for you.",
        "I can see it left our warehouse yesterday, it will arrive on Friday.",
        "Is there anything else I can help you with this afternoon?",
    ]
    gap = np.zeros(int(0.6 * SR), np.float32)
    audio = np.concatenate(
        [
            x
            for line in lines
            for x in (speak(line, v["voice"], speed=v["speed"], pitch=v["pitch"]), gap)
        ]
    )
    speech = speech_segments(vad.probabilities(audio), duration_s=len(audio) / SR)
    assert len(diarize(audio, speech, encoder).speakers) == 1


def test_known_speaker_count_is_respected(encoder):
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 16))
    emb = np.concatenate([c + 0.05 * rng.normal(size=(20, 16)) for c in centres])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    assert cluster_embeddings(emb, num_speakers=3).max() == 2
    labels = cluster_embeddings(emb)
    assert len(set(labels)) == 3
    # The three groups are recovered exactly (up to naming).
    for g in range(3):
        assert len(set(labels[g * 20 : (g + 1) * 20])) == 1
    assert cluster_embeddings(emb[:20]).max() == 0  # one voice stays one speaker


def test_one_voice_drifting_between_moods_is_not_two_voices():
    # One voice drifting from one mood to another: the two halves' centroids lie further apart
    # than two distinct voices' do, but the halves touch, so it stays one speaker.
    rng = np.random.default_rng(0)
    centre, mood = rng.normal(size=(2, 32))
    centre /= np.linalg.norm(centre)
    mood -= (mood @ centre) * centre
    mood /= np.linalg.norm(mood)
    drift = centre + 0.9 * np.linspace(-1, 1, 60)[:, None] * mood
    voices = np.concatenate(
        [np.tile(centre + 0.4 * mood, (30, 1)), np.tile(centre - 0.4 * mood, (30, 1))]
    )
    one, two = (x + 0.04 * rng.normal(size=x.shape) for x in (drift, voices))
    one, two = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (one, two))
    gaps = [_centroid_gap(x, cluster_embeddings(x, num_speakers=2)) for x in (one, two)]
    assert gaps[0] > gaps[1] > 0.2  # by centroids alone the drift looks more like two voices
    assert cluster_embeddings(one).max() == 0
    labels = cluster_embeddings(two)
    assert len(set(labels[:30])) == 1 and len(set(labels[30:])) == 1 and labels.max() == 1


def _centroid_gap(x: np.ndarray, labels: np.ndarray) -> float:
    """Cosine distance between the centroids of clusters 0 and 1."""
    a, b = (x[labels == k].mean(axis=0) for k in (0, 1))
    return float(1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_channel_turns_reject_crosstalk():
    hops = 200
    probs = np.zeros((2, hops))
    probs[0, 20:80] = 0.95
    probs[1, 20:80] = 0.9  # the agent's voice leaking into the customer line
    probs[1, 120:180] = 0.95
    level = np.full((2, hops), -70.0)
    level[0, 20:80] = -20.0
    level[1, 20:80] = -45.0  # 25 dB down: bleed
    level[1, 120:180] = -22.0
    turns = channel_turns(probs, level, duration_s=hops * 0.032, ids=["agent", "customer"])
    assert [spk for spk, _ in turns.turns] == ["agent", "customer"]
    assert turns.turns[1][1].start > 3.5
    assert turns.overlaps == []


def test_overlap_segments_marks_both_talking():
    turns = [("a", Segment(0, 5)), ("b", Segment(4, 8)), ("a", Segment(7.5, 9))]
    assert overlap_segments(turns) == [Segment(4, 5), Segment(7.5, 8)]


def harmonic(f0: float, seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))).astype(np.float32)


def test_pitch_and_loudness_of_known_signals():
    x = np.concatenate(
        [harmonic(150, 1.0), np.zeros(SR // 2, np.float32), harmonic(220, 1.0, 0.05)]
    )
    frames = analyze_frames(x)
    f0 = frames.f0_hz
    assert abs(np.nanmedian(f0[10:90]) - 150) < 3
    assert abs(np.nanmedian(f0[160:240]) - 220) < 4
    assert np.isnan(f0[110:140]).all()  # silence is unvoiced, not guessed
    assert frames.loudness_db[50] - frames.loudness_db[200] > 12  # 0.3 vs 0.05 amplitude


def test_turn_features_are_speaker_relative():
    turns = [harmonic(120, 1.5, a) for a in (0.1, 0.1, 0.1, 0.1, 0.4)]
    audio = np.concatenate([np.concatenate([t, np.zeros(SR // 2, np.float32)]) for t in turns])
    frames = analyze_frames(audio)
    segs = [Segment(i * 2.0, i * 2.0 + 1.5) for i in range(5)]
    feats = [turn_features(frames, s, speech=segs) for s in segs]
    z = speaker_zscores(feats)
    assert z[-1]["z_loudness_db"] > 2.0  # the loud turn stands out for this speaker
    assert abs(z[0]["z_loudness_db"]) < 0.5
    assert all(abs(f["f0_median_hz"] - 120) < 3 for f in feats)


def test_der_counts_confusion_and_misses():
    ref = [("a", Segment(0, 10)), ("b", Segment(10, 20))]
    assert diarization_error_rate(ref, [("x", Segment(0, 10)), ("y", Segment(10, 20))])["der"] == 0
    half = diarization_error_rate(ref, [("x", Segment(0, 20))])
    assert abs(half["confusion"] - 0.5) < 0.01
    miss = diarization_error_rate(ref, [("x", Segment(0, 10))])
    assert abs(miss["missed"] - 0.5) < 0.01


def test_pitch_dimension_separates_registers_the_encoder_confuses():
    from analyzer.audio.speakers import with_pitch

    rng = np.random.default_rng(5)
    centre = rng.normal(size=16)
    emb = centre + 0.3 * rng.normal(size=(40, 16))  # one blob: the encoder hears one voice
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    spans = np.array([(i * 150, i * 150 + 150) for i in range(40)])
    f0 = np.full(40 * 150, np.nan)
    for i, (a, b) in enumerate(spans):
        f0[a:b] = 110.0 if i % 2 else 220.0  # a man and a woman, one octave apart
    f0[spans[0, 0] : spans[0, 1]] = np.nan  # a window without voiced frames: pitch unknown
    aug = with_pitch(emb, spans, f0, 2.0)
    assert aug.shape == (40, 17) and np.allclose(np.linalg.norm(aug, axis=1), 1)
    assert aug[0, -1] == 0.0
    labels = cluster_embeddings(aug, num_speakers=2)
    assert len(set(labels[1::2])) == 1 and len(set(labels[2::2])) == 1
    assert labels[1] != labels[2]
    # Without voiced frames at all the embeddings come back unchanged.
    assert with_pitch(emb, spans, np.full(len(f0), np.nan), 2.0) is emb


def test_projection_keeps_one_voice_in_two_moods_together():
    from analyzer.audio.speakers import SpeakerProjection

    rng = np.random.default_rng(7)
    d = 16
    mood = np.zeros(d)
    mood[0] = 1.0  # one voice's two moods lie far apart along this direction
    voice = np.zeros(d)
    voice[1] = 1.0  # two voices differ (less) along this one
    base = np.full(d, 2.0)

    def sample(v: float, m: float, n: int) -> np.ndarray:
        return base + v * 0.6 * voice + m * 1.5 * mood + 0.05 * rng.normal(size=(n, d))

    # Training voices: each heard in many moods; voices spread along the voice direction.
    train = [sample(v, m, 1) for v in np.linspace(-1, 1, 12) for m in rng.uniform(-1, 1, 30)]
    groups = np.repeat(np.arange(12), 30)
    x = np.concatenate(train)
    means = np.stack([x[groups == g].mean(axis=0) for g in range(12)])
    within = np.mean([np.cov(x[groups == g], rowvar=False) for g in range(12)], axis=0)
    between = np.cov(means, rowvar=False)
    proj = SpeakerProjection(x.mean(axis=0), within, between, shrink=0.01, dims=4)
    # A call: one voice angry then calm; another voice calm.
    call = np.concatenate([sample(-1, 1, 10), sample(-1, -1, 10), sample(1, -1, 10)])
    unit = call / np.linalg.norm(call, axis=1, keepdims=True)
    plain = cluster_embeddings(unit, num_speakers=2)
    assert plain[0] != plain[10]  # the plain embeddings split by mood
    projected = proj(call)
    assert projected.shape == (30, 4) and np.allclose(np.linalg.norm(projected, axis=1), 1)
    labels = cluster_embeddings(projected, num_speakers=2)
    assert len(set(labels[:20])) == 1 and len(set(labels[20:])) == 1 and labels[0] != labels[20]


def test_fine_clusters_are_grouped_by_voice_not_by_a_mood_that_stands_out():
    from analyzer.audio.clustering import group_in_two

    rng = np.random.default_rng(3)
    a, b, odd = np.eye(8)[:3]
    # Four fine clusters in the speaker space: voice A (clusters 0, 1), voice B (2, 3); the
    # tiny cluster 3 is B in a mood far from everything else.
    centres = [a, a + 0.1 * odd, b, b + 1.5 * odd]
    sizes = [20, 20, 18, 3]
    fine = np.repeat(np.arange(4), sizes)
    x = np.concatenate([c + 0.05 * rng.normal(size=(n, 8)) for c, n in zip(centres, sizes)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = group_in_two(fine, x, np.ones(len(x)))
    assert set(labels[:40]) == {labels[0]} and set(labels[40:]) == {1 - labels[0]}
    # A single fine cluster is one group.
    assert group_in_two(np.zeros(5, dtype=int), x[:5], np.ones(5)).tolist() == [0] * 5


def test_two_similar_voices_in_two_moods_split_by_voice_with_a_speaker_space():
    rng = np.random.default_rng(11)
    d = 12
    base, mood, voice = 2.0 * np.eye(d)[0], 1.6 * np.eye(d)[1], np.eye(d)[2]
    # Each of two voices in two moods; the moods lie further apart than the voices, but the
    # voices are still distinct in the plain embeddings.
    parts = [(v, m) for v in (-1, 1) for m in (-1, 1)]
    plain = np.concatenate(
        [base + v * voice + m * mood + 0.03 * rng.normal(size=(15, d)) for v, m in parts]
    )
    plain /= np.linalg.norm(plain, axis=1, keepdims=True)
    # The speaker space keeps the voice direction and drops the mood one.
    space = np.concatenate([base + v * voice + 0.03 * rng.normal(size=(15, d)) for v, _ in parts])
    space /= np.linalg.norm(space, axis=1, keepdims=True)
    voice_of = np.repeat([0, 0, 1, 1], 15)
    by_mood = cluster_embeddings(plain, num_speakers=2)
    assert by_mood[0] != by_mood[15]  # plain: voice 0 in its two moods lands in two clusters
    labels = cluster_embeddings(plain, num_speakers=2, speaker_space=space)
    assert all(len(set(labels[voice_of == v])) == 1 for v in (0, 1)) and labels.max() == 1
    # Counted (at most two) rather than given: the same grouping.
    assert np.array_equal(cluster_embeddings(plain, max_speakers=2, speaker_space=space), labels)
    # The speaker space never changes the count, only how two voices are told apart.
    for items in (voice_of == 0, np.arange(30)):
        alone = cluster_embeddings(plain[items]).max()
        assert cluster_embeddings(plain[items], speaker_space=space[items]).max() == alone


def test_a_grouping_that_is_not_two_distinct_voices_is_refused():
    from analyzer.audio.clustering import group_in_two

    rng = np.random.default_rng(5)
    d = 12
    base, voice, mood = 2.0 * np.eye(d)[0], 1.2 * np.eye(d)[1], 0.35 * np.eye(d)[2]
    parts = [(v, m) for v in (-1, 1) for m in (-1, 1)]
    plain = np.concatenate(
        [base + v * voice + m * mood + 0.02 * rng.normal(size=(15, d)) for v, m in parts]
    )
    plain /= np.linalg.norm(plain, axis=1, keepdims=True)
    # A misleading speaker space that separates the moods and not the voices (as one that
    # groups two of three voices across a voice would).
    space = np.concatenate(
        [np.eye(d)[0] + m * np.eye(d)[3] + 0.02 * rng.normal(size=(15, d)) for _, m in parts]
    )
    space /= np.linalg.norm(space, axis=1, keepdims=True)
    voice_of = np.repeat([0, 0, 1, 1], 15)
    fine = np.repeat(np.arange(4), 15)
    by_mood = group_in_two(fine, space, np.ones(60))
    assert by_mood[0] == by_mood[30] != by_mood[15]  # the grouping itself follows the moods
    labels = cluster_embeddings(plain, num_speakers=2, speaker_space=space)
    # ... but in the plain embeddings its two groups touch, so the plain voice split stays.
    assert all(len(set(labels[voice_of == v])) == 1 for v in (0, 1)) and labels.max() == 1


def test_shipped_projection_loads_and_refuses_a_corrupt_copy(tmp_path):
    import shutil

    from analyzer.audio.speakers import PROJECTION_MODEL, load_projection
    from analyzer.models import MODELS_DIR, ModelError

    proj = load_projection()
    emb = np.abs(np.random.default_rng(0).normal(size=(5, 256)))
    out = proj(emb / np.linalg.norm(emb, axis=1, keepdims=True))
    assert out.shape[0] == 5 and np.allclose(np.linalg.norm(out, axis=1), 1)
    copy = tmp_path / "copy"
    shutil.copytree(MODELS_DIR / PROJECTION_MODEL, copy)
    with open(copy / "covariances.npz", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ModelError):
        load_projection(str(copy))


def test_projection_training_never_hears_a_benchmark_actor(tmp_path):
    from train.speaker_projection import DATA, covariances, training_clips

    if not (DATA / "speech" / "read_speech.csv").is_file():
        pytest.skip("the shared speech data is not beside this checkout")
    clips = training_clips()
    assert len(clips) >= 80 and not any(s.startswith("ravdess") for s in clips)
    assert all("ravdess" not in str(p) for paths in clips.values() for p in paths)
    # Covariances weight speakers equally: a speaker with many windows does not dominate.
    rng = np.random.default_rng(0)
    embs = {"a": rng.normal(size=(500, 4)) * 3.0, "b": rng.normal(size=(5, 4)) * 0.1}
    mean, within, between = covariances(embs)
    assert within.shape == (4, 4) and between.shape == (4, 4) and mean.shape == (4,)
    # within is the mean of the two speakers' covariances, not the pooled one
    expected = (
        np.cov(embs["a"], rowvar=False, bias=True) + np.cov(embs["b"], rowvar=False, bias=True)
    ) / 2
    assert np.allclose(within, expected)


def test_a_turn_without_voiced_frames_gives_no_prosodic_evidence():
    from analyzer.audio.prosody import prosody_evidence

    z = {"z_pitch_median_hz": 0.0, "z_loudness_db": 0.0}
    voiced = prosody_evidence({"voiced_ratio": 0.5}, z, speech_s=2.0, coverage=1.0)
    faint = prosody_evidence({"voiced_ratio": 0.0}, z, speech_s=2.0, coverage=1.0)
    unknown = prosody_evidence({}, z, speech_s=2.0, coverage=1.0)
    assert voiced.confidence == pytest.approx(0.6)
    assert faint.confidence == 0.0 and unknown.confidence == 0.0


def test_a_lower_bound_on_the_voices_keeps_a_split_the_count_would_refuse():
    from analyzer.audio.clustering import cluster_embeddings
    from analyzer.audio.longcall import cluster_long_call
    from analyzer.config import AnalysisConfig

    rng = np.random.default_rng(3)
    base = rng.normal(size=32)
    near = base + rng.normal(scale=0.02, size=32)  # two voices the count cannot tell apart
    units = np.vstack([base + rng.normal(scale=0.05, size=(12, 32)),
                       near + rng.normal(scale=0.05, size=(12, 32))])  # fmt: skip
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    assert cluster_embeddings(units).max() == 0  # estimated: one voice
    two = cluster_embeddings(units, min_speakers=2)
    assert two.max() == 1 and np.bincount(two).min() >= 6
    assert cluster_embeddings(units, min_speakers=2, max_speakers=2).max() == 1
    assert cluster_long_call(units, np.ones(len(units)), min_speakers=2).max() == 1
    assert cluster_embeddings(units, num_speakers=1, min_speakers=2).max() == 0  # given wins
    with pytest.raises(ValueError, match="min_speakers"):
        AnalysisConfig(min_speakers=5)


def test_pause_change_z_measures_whether_voices_change_at_their_own_pauses():
    from analyzer.audio.clustering import pause_change_z

    rng = np.random.default_rng(4)
    # 40 speech segments of one unit each: the voice changes after every long pause (0.8-1.2 s)
    # and goes on after every short one (0.1-0.3 s).
    voice = np.repeat(np.arange(20) % 2, 2)
    pause = np.where(np.r_[True, voice[1:] != voice[:-1]], rng.uniform(0.8, 1.2, 40), 0.2)
    start = np.cumsum(pause + 2.0)
    times = np.c_[start, start + 2.0]
    seg, w = np.arange(40), np.ones(40)
    assert pause_change_z(voice, seg, w, times) > 4  # changes at the longer pauses
    # Changes at the shorter pauses (as real talkers leave shorter gaps): as far the other way.
    short_first = np.c_[start, start + 2.0]
    short_first[1:, 0] = short_first[:-1, 1] + np.where(voice[1:] != voice[:-1], 0.2, 1.0)
    assert pause_change_z(voice, seg, w, short_first) < -4
    # A mood that comes and goes whatever the pause: no tie.
    mood = rng.integers(0, 2, 40)
    assert abs(pause_change_z(mood, seg, w, times)) < 2
    # One label all along: no change to compare, 0.
    assert pause_change_z(np.zeros(40, dtype=int), seg, w, times) == 0.0


def test_fine_clusters_grouped_by_when_the_voices_change_where_that_is_clear():
    from analyzer.audio.clustering import group_in_two

    rng = np.random.default_rng(8)
    # Four fine clusters: voices A (0, 1) and B (2, 3), each in two moods; the speaker space is
    # misleading (it puts the moods apart: 0 and 2 together, 1 and 3 together).
    voice = np.repeat(np.arange(20) % 2, 2)  # two segments per turn, turns alternate
    mood = rng.integers(0, 2, 40)
    fine = 2 * voice + mood
    space = np.eye(4)[mood] + 0.05 * rng.normal(size=(40, 4))
    space /= np.linalg.norm(space, axis=1, keepdims=True)
    pause = np.where(np.r_[True, voice[1:] != voice[:-1]], 1.0, 0.2)
    start = np.cumsum(pause + 2.0)
    timing = (np.arange(40), np.c_[start, start + 2.0])
    w = np.ones(40)
    by_space = group_in_two(fine, space, w)
    assert len(set(by_space[mood == 0])) == 1 and by_space[mood == 0][0] != by_space[mood == 1][0]
    by_time = group_in_two(fine, space, w, timing=timing)
    assert len(set(by_time[voice == 0])) == 1 and by_time[voice == 0][0] != by_time[voice == 1][0]
    # Where the pauses say nothing (all alike), the speaker space decides as before.
    flat = (np.arange(40), np.c_[np.arange(40) * 3.0, np.arange(40) * 3.0 + 2.0])
    assert np.array_equal(group_in_two(fine, space, w, timing=flat), by_space)


def test_two_voices_give_way_to_the_timing_grouping_only_by_a_margin():
    from analyzer.audio.clustering import pause_change_z, timed_over

    rng = np.random.default_rng(9)
    # 80 segments: voices alternate turn by turn (two segments a turn), changing at the longer
    # pauses; a mood comes and goes per segment. The two voices made by mood have |z| near 0.
    voice = np.repeat(np.arange(40) % 2, 2)
    mood = rng.integers(0, 2, 80)
    fine = 2 * voice + mood
    pause = np.where(np.r_[True, voice[1:] != voice[:-1]], rng.uniform(0.8, 1.2, 80), 0.2)
    start = np.cumsum(pause + 2.0)
    timing = (np.arange(80), np.c_[start, start + 2.0])
    w = np.ones(80)
    assert abs(pause_change_z(mood, timing[0], w, timing[1])) < 2
    assert abs(pause_change_z(voice, timing[0], w, timing[1])) > 5
    chosen = timed_over(mood, fine, w, timing, 2.0)
    assert len(set(chosen[voice == 0])) == 1 and chosen[voice == 0][0] != chosen[voice == 1][0]
    # Voices already made right are kept; a margin no grouping reaches keeps the labels too.
    assert np.array_equal(timed_over(voice, fine, w, timing, 2.0), voice)
    assert np.array_equal(timed_over(mood, fine, w, timing, 50.0), mood)


def test_a_second_look_takes_the_grouping_tied_to_the_turn_taking():
    """``timed_over`` with no margin (the diarizer's second look at a call whose voices may be
    mixed up): two voices grouped by mood give way to the grouping of the finer clusters whose
    changes come at the turn-taking pauses; with a margin the labels must be beaten by that
    much."""
    from analyzer.audio.clustering import timed_over

    rng = np.random.default_rng(3)
    voice = np.repeat(np.arange(20) % 2, 2)  # two segments per turn, turns alternate
    mood = rng.integers(0, 2, 40)
    fine = 2 * voice + mood  # voices A (0, 1) and B (2, 3), each in two moods
    pause = np.where(np.r_[True, voice[1:] != voice[:-1]], rng.uniform(0.8, 1.2, 40), 0.2)
    start = np.cumsum(pause + 2.0)
    timing = (np.arange(40), np.c_[start, start + 2.0])
    by_mood = mood.copy()
    looked = timed_over(by_mood, fine, np.ones(40), timing, 0.0, alternation=True)
    assert np.array_equal(looked, voice) or np.array_equal(looked, 1 - voice)
    kept = timed_over(by_mood, fine, np.ones(40), timing, 100.0, alternation=True)
    assert np.array_equal(kept, by_mood)
