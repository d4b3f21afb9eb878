"""Audio-visual diarization: persons seen talking in a video call anchor the call's voices."""

from __future__ import annotations

import numpy as np

from analyzer.audio.speakers import diarize_embedded
from analyzer.segment import Segment
from analyzer.video.cues import CUE_NAMES
from analyzer.video.talking import on_screen_persons, talking_faces
from analyzer.video.timeline import FaceTimeline, FaceTrack

FPS = 5.0


def track(track_id, times, frames, mouth, x0=0.0):
    n = len(times)
    cues = {name: np.zeros(n) for name in CUE_NAMES}
    cues["mouth_open"] = np.asarray(mouth, dtype=float)
    boxes = np.tile([x0, 100.0, x0 + 80.0, 190.0], (n, 1))
    return FaceTrack(track_id, times, frames, boxes, cues, np.ones(n), np.ones(n))


def alternating(duration: float, seed: int) -> dict[str, list[Segment]]:
    """Turns of 2-5 s taken in turn by A and B, with pauses of 0.3-1 s."""
    rng = np.random.default_rng(seed)
    turns: dict[str, list[Segment]] = {"A": [], "B": []}
    t, who = 0.5, "A"
    while t < duration - 1:
        end = min(duration - 0.5, t + rng.uniform(2, 5))
        turns[who].append(Segment(t, end))
        t, who = end + rng.uniform(0.3, 1.0), "B" if who == "A" else "A"
    return turns


def mouth(times, talking: list[Segment], rng, *, listening: float = 0.0):
    """Openness: opening and closing at ~4 Hz while talking; ``listening`` scales the random
    small movements the rest of the time."""
    on = np.array([any(s.contains(t) for s in talking) for t in times])
    syllables = rng.uniform(0.2, 0.9, len(times))
    quiet = listening * rng.random(len(times))
    return np.where(on, syllables, quiet) + rng.normal(0, 0.01, len(times))


def two_tiles(duration=90.0, seed=0, listener_b=False):
    rng = np.random.default_rng(seed)
    times = np.arange(0, duration, 1 / FPS)
    frames = np.arange(len(times))
    turns = alternating(duration, seed)
    if listener_b:  # B never speaks: A's voice is the whole call
        turns = {"A": [*turns["A"], *turns["B"]], "B": []}
    half = len(times) // 2
    tracks = (
        # A's face is lost halfway and found again at the same place (a second track).
        track(0, times[:half], frames[:half], mouth(times[:half], turns["A"], rng), x0=50),
        track(1, times, frames, mouth(times, turns["B"], rng, listening=0.15), x0=400),
        track(2, times[half:], frames[half:], mouth(times[half:], turns["A"], rng), x0=55),
    )
    timeline = FaceTimeline(times, np.full(len(times), 2), tracks)
    return timeline, turns


def test_tracks_at_one_place_never_seen_together_are_one_person():
    timeline, _ = two_tiles()
    assert on_screen_persons(timeline) == [[0, 2], [1]]
    # Two faces on screen at once are two persons, wherever they are.
    times = np.arange(0, 10, 1 / FPS)
    frames = np.arange(len(times))
    both = FaceTimeline(
        times,
        np.full(len(times), 2),
        (track(0, times, frames, np.zeros(len(times))), track(1, times, frames, np.zeros(50))),
    )
    assert on_screen_persons(both) == [[0], [1]]


def test_both_talkers_count_and_the_evidence_points_at_the_one_speaking():
    timeline, turns = two_tiles()
    speech = sorted(turns["A"] + turns["B"], key=lambda s: s.start)
    seen = talking_faces(timeline, speech)
    assert seen.persons == [[0, 2], [1]]
    assert seen.talking == [0, 1]
    # In the middle of each turn the speaker's face leads the other one.
    mids = np.array([(s.start + s.end) / 2 for s in turns["A"]])
    at = seen.at(mids)
    assert at.shape == (len(mids), 2)
    assert (at[:, 0] > 0).mean() > 0.8
    mids_b = np.array([(s.start + s.end) / 2 for s in turns["B"]])
    assert (seen.at(mids_b)[:, 1] > 0).mean() > 0.8
    # Far from every analysed frame: no evidence.
    assert np.isnan(seen.at(np.array([500.0]))).all()


def test_a_face_that_only_listens_is_not_a_talker():
    timeline, turns = two_tiles(listener_b=True, seed=3)
    speech = sorted(turns["A"], key=lambda s: s.start)
    seen = talking_faces(timeline, speech)
    assert seen.talking == [0]


def test_one_face_gives_no_evidence():
    timeline, turns = two_tiles()
    lone = FaceTimeline(timeline.times, np.ones(len(timeline.times), int), timeline.tracks[1:2])
    seen = talking_faces(lone, turns["B"])
    assert seen.talking == []
    assert np.isnan(seen.margin).all()


def _two_similar_voices(turns: dict[str, list[Segment]], duration: float, seed: int):
    """Windows of 1.5 s every 0.5 s inside each turn; the two voices' embeddings nearly the
    same (cosine ~0.99), which audio alone counts as one voice."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=32)
    voice = {k: base + 0.12 * rng.normal(size=32) for k in ("A", "B")}
    speech = sorted([s for segs in turns.values() for s in segs], key=lambda s: s.start)
    spans, owner, emb, truth = [], [], [], []
    for i, seg in enumerate(speech):
        who = "A" if seg in turns["A"] else "B"
        a, b = int(seg.start * 100), int(seg.end * 100)
        for s in range(a, max(a + 1, b - 150 + 1), 50):
            spans.append((s, min(s + 150, b)))
            owner.append(i)
            emb.append(voice[who] + 0.3 * rng.normal(size=32))
            truth.append(who)
    e = np.array(emb)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return np.array(spans), np.array(owner), e, speech


def test_persons_seen_talking_anchor_the_voices_of_the_diarizer():
    timeline, turns = two_tiles(duration=90.0, seed=5)
    spans, owner, emb, speech = _two_similar_voices(turns, 90.0, seed=5)
    frames = np.arange(int(90.0 / 0.01) + 1) * 0.01
    seen = talking_faces(timeline, speech)
    visual = seen.at(frames)

    audio_only = diarize_embedded(spans, owner, emb, speech, 90.0)
    with_faces = diarize_embedded(spans, owner, emb, speech, 90.0, visual=visual)
    assert len(with_faces.speakers) == 2
    assert with_faces.seen_voices == 2 and audio_only.seen_voices == 0

    def agreement(result) -> float:
        """Share of A's and B's turn middles given to the voice holding most of A / of B."""
        label = {}
        for who in ("A", "B"):
            votes = [
                spk
                for seg in turns[who]
                for spk, g in result.turns
                if g.contains((seg.start + seg.end) / 2)
            ]
            label[who] = votes
        a_voice = max(set(label["A"]), key=label["A"].count)
        right = sum(v == a_voice for v in label["A"]) + sum(v != a_voice for v in label["B"])
        return right / (len(label["A"]) + len(label["B"]))

    assert agreement(with_faces) > 0.9
    assert agreement(with_faces) > agreement(audio_only) + 0.2
    # Only one person seen talking: the audio decides as before.
    one = visual.copy()
    one[:, 1] = np.nan
    assert diarize_embedded(spans, owner, emb, speech, 90.0, visual=one[:, :1]).turns == (
        audio_only.turns
    )
    # The user's bounds on the count stand: at least three voices, or at most one, and the
    # faces' two do not decide.
    fewest = diarize_embedded(spans, owner, emb, speech, 90.0, visual=visual, min_speakers=3)
    assert fewest.seen_voices == 0 and len(fewest.speakers) == 3
    most = diarize_embedded(spans, owner, emb, speech, 90.0, visual=visual, max_speakers=1)
    assert most.seen_voices == 0 and len(most.speakers) == 1
    # A given count is the user's: the faces do not override it.
    given = diarize_embedded(spans, owner, emb, speech, 90.0, num_speakers=1, visual=visual)
    assert len(given.speakers) == 1


def _two_tile_call(tmp_path, repeats: int = 1, view: str = "tiles"):
    """The bundled call's two voices mixed to mono (``repeats`` times over), with a face tile
    each (``benchmarks.avcalls``) whose mouth moves while its voice speaks; the customer's face
    shows up 2 s late, so the agent's is the first track (id 0). Returns (path, reference)."""
    import json
    from pathlib import Path

    import soundfile as sf
    from scipy.signal import resample_poly

    from benchmarks.avcalls import render_call

    assets = Path(__file__).resolve().parents[1] / "assets"
    truth = json.loads((assets / "sample_call.truth.json").read_text())
    stereo, sr = sf.read(assets / "sample_call.wav", dtype="float32")
    once = resample_poly(stereo.sum(axis=1), 16000, sr).astype(np.float32)
    mono = np.tile(once, repeats)
    length = len(once) / 16000
    reference = [
        (t["speaker"], Segment(t["start"] + k * length, t["end"] + k * length))
        for k in range(repeats)
        for t in truth["turns"]
    ]
    path = tmp_path / "two tiles.mp4"
    away = {"customer": [Segment(0.0, 2.0)]}
    render_call(path, mono, reference, ["agent", "customer"], seed=3, away=away, view=view)
    return path, reference


def _agent_voice(result, reference) -> str:
    """The voice holding most of the agent's reference speech."""
    held = {
        s.id: sum(
            max(0.0, min(g.end, r.end) - max(g.start, r.start))
            for spk, g in result.turns
            if spk == s.id
            for who, r in reference
            if who == "agent"
        )
        for s in result.speakers
    }
    return max(held, key=held.__getitem__)


def test_a_video_call_of_two_tiles_gets_a_voice_per_face(tmp_path):
    """Real media through the whole engine: each face is its voice's, and said so."""
    from analyzer import Analyzer
    from analyzer.config import AnalysisConfig

    path, reference = _two_tile_call(tmp_path)
    result = Analyzer(AnalysisConfig(ser_model=None, fer_model=None)).analyze(path)
    assert "voices_from_faces" in [n.code for n in result.notes]
    assert len(result.speakers) == 2
    agent = _agent_voice(result, reference)
    tracks = {s.id: s.face_track for s in result.speakers}
    assert tracks[agent] == 0
    assert set(tracks.values()) == {0, 1}
    # The face rows carry the voice each face was linked to.
    linked = {(f.track, f.speaker) for f in result.faces if f.face}
    assert (0, agent) in linked
    # --no-face-voices: the audio alone diarizes; the faces are still linked to the voices.
    plain = Analyzer(AnalysisConfig(ser_model=None, fer_model=None, face_voices=False))
    alone = plain.analyze(path)
    assert "voices_from_faces" not in [n.code for n in alone.notes]
    assert any(s.face_track is not None for s in alone.speakers)


def test_a_speaker_view_call_gets_its_voices_from_the_cameras_and_says_so(tmp_path):
    """The bundled call as a speaker view (one camera at a time, cut to the talker after a
    lag), through the whole engine: two voices told apart by the camera shown, in a note that
    says how (in the reviewer's language too)."""
    from analyzer import Analyzer
    from analyzer.audio.der import diarization_error_rate
    from analyzer.config import AnalysisConfig
    from review.views import note_text

    path, reference = _two_tile_call(tmp_path, view="speaker")
    result = Analyzer(AnalysisConfig(ser_model=None, fer_model=None)).analyze(path)
    note = next(n for n in result.notes if n.code == "voices_from_faces")
    assert "speaker view" in note.message
    assert "镜头" in note_text(note, "zh")
    assert len(result.speakers) == 2
    assert diarization_error_rate(reference, list(result.turns), collar_s=0.25)["der"] < 0.1


def test_a_long_video_call_uses_the_faces_too(tmp_path):
    """A call longer than a chunk (decoded to disk, embedded chunk by chunk) is diarized with
    the faces' evidence as well."""
    from analyzer import Analyzer
    from analyzer.audio.der import diarization_error_rate
    from analyzer.config import AnalysisConfig

    path, reference = _two_tile_call(tmp_path, repeats=2)
    cfg = AnalysisConfig(ser_model=None, fer_model=None, chunk_s=60.0)
    result = Analyzer(cfg).analyze(path)
    assert "voices_from_faces" in [n.code for n in result.notes]
    assert len(result.speakers) == 2
    assert diarization_error_rate(reference, list(result.turns), collar_s=0.25)["der"] < 0.1


def test_faces_that_split_one_voice_at_random_are_not_believed():
    """Two faces 'seen talking' over one voice (a listener leading now and then): the anchored
    halves of that voice differ no more than random halves, so the audio's count stands."""
    timeline, turns = two_tiles(duration=90.0, seed=5)
    one_voice = {"A": turns["A"], "B": turns["B"]}
    spans, owner, emb, speech = _two_similar_voices(one_voice, 90.0, seed=5)
    rng = np.random.default_rng(9)
    same = rng.normal(size=emb.shape[1])
    emb = same + 0.3 * rng.normal(size=emb.shape)  # every window the one voice
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    visual = talking_faces(timeline, speech).at(np.arange(9001) * 0.01)
    out = diarize_embedded(spans, owner, emb, speech, 90.0, visual=visual)
    assert out.seen_voices == 0
    assert len(out.speakers) == 1


def test_every_face_of_a_gallery_is_followed_when_the_whole_frame_finds_only_some(tmp_path):
    """A 2 x 2 gallery of three faces (160 px): FaceMesh on the whole frame finds one or two of
    them (sometimes none); the tiles are then searched and all three are followed, as three
    persons."""
    from analyzer.media import iter_video_frames
    from analyzer.video.faces import FaceAnalyzer
    from benchmarks.avcalls import render_call

    path = tmp_path / "gallery.mp4"
    render_call(path, np.zeros(16000 * 6, np.float32), [], ["a", "b", "c"], seed=0, away={})
    frames = list(iter_video_frames(path, fps=5, max_side=640))
    with FaceAnalyzer() as whole:
        found = [len(whole.landmarks(f.image)) for f in frames]
    assert max(found) < 3  # the whole frame alone never sees the three
    with FaceAnalyzer() as faces:
        timeline = faces.analyze(iter(frames))
    assert (timeline.faces == 3).mean() > 0.9
    assert len(on_screen_persons(timeline)) == 3


def test_a_close_up_face_is_searched_beside_only_now_and_then_and_stays_alone(monkeypatch):
    """The bundled video's single face is a camera's close-up: the tiles are searched while no
    face is seen (the covered camera, at most every 5 s) and, for an inset beside the face, at
    most every PIP_SEARCH_EVERY_S; no second face is ever made up."""
    from pathlib import Path

    from analyzer.media import iter_video_frames
    from analyzer.video import faces as stage
    from analyzer.video.faces import FaceAnalyzer

    searches = []
    real = FaceAnalyzer.gallery_landmarks

    def spy(self, image, grids):
        searches.append(image.copy())
        return real(self, image, grids)

    monkeypatch.setattr(FaceAnalyzer, "gallery_landmarks", spy)
    video = Path(__file__).resolve().parents[1] / "assets" / "sample_video_call.mp4"
    with FaceAnalyzer() as faces:
        timeline = faces.analyze(iter_video_frames(video, fps=5, max_side=640))
    seen = timeline.has_face.sum()
    assert seen > 40
    assert timeline.faces.max() == 1
    from analyzer.video.talking import camera_feeds

    assert camera_feeds(timeline) is None  # one camera, covered and back: no speaker view
    with FaceAnalyzer() as fresh:
        in_view = [len(fresh.landmarks(image)) > 0 for image in searches]
    blind, beside = in_view.count(False), in_view.count(True)
    duration = float(timeline.times[-1])
    assert 1 <= blind <= 2
    assert 1 <= beside <= duration / stage.PIP_SEARCH_EVERY_S + 1


def test_a_small_inset_beside_a_close_up_is_found_and_followed(tmp_path, monkeypatch):
    """Picture in picture (the other party full frame, the own camera in a corner): FaceMesh on
    the whole frame never finds the inset; the periodic search finds it and its region is
    followed in every later frame: two persons, each with its own track."""
    from analyzer.media import iter_video_frames
    from analyzer.video import faces as stage
    from analyzer.video.faces import FaceAnalyzer
    from benchmarks.avcalls import render_call

    path = tmp_path / "pip.mp4"
    render_call(path, np.zeros(16000 * 8, np.float32), [], ["a", "b"], seed=0, away={}, view="pip")
    frames = list(iter_video_frames(path, fps=5, max_side=640))
    with FaceAnalyzer() as whole:
        assert max(len(whole.landmarks(f.image)) for f in frames) == 1
    searches = []
    real = FaceAnalyzer.gallery_landmarks

    def spy(self, image, grids):
        searches.append(1)
        return real(self, image, grids)

    monkeypatch.setattr(FaceAnalyzer, "gallery_landmarks", spy)
    with FaceAnalyzer() as faces:
        timeline = faces.analyze(iter(frames))
    assert (timeline.faces == 2).mean() > 0.9
    assert len(searches) == 1  # found at once, then followed without searching again
    persons = on_screen_persons(timeline)
    assert len(persons) == 2
    widths = sorted(float(np.median(t.boxes[:, 2] - t.boxes[:, 0])) for t in timeline.tracks)
    assert widths[0] < 0.5 * widths[-1]  # the inset and the close-up
    # without the search the inset is lost: the close-up alone
    with FaceAnalyzer(stage.FaceConfig(gallery=False)) as faces:
        assert faces.analyze(iter(frames)).faces.max() == 1


def test_no_speech_or_unreadable_mouths_give_no_talker():
    timeline, turns = two_tiles()
    assert talking_faces(timeline, []).talking == []
    blind = FaceTimeline(
        timeline.times,
        timeline.faces,
        tuple(
            track(t.id, t.times, t.frames, np.full(len(t), np.nan), x0=t.boxes[0, 0])
            for t in timeline.tracks
        ),
    )
    speech = sorted(turns["A"] + turns["B"], key=lambda s: s.start)
    seen = talking_faces(blind, speech)
    assert seen.talking == [] and np.isnan(seen.margin).all()
    # Frames further apart than a mouth's movement can be followed (1 fps): no evidence.
    sparse = FaceTimeline(
        timeline.times[::5],
        timeline.faces[::5],
        tuple(
            track(t.id, t.times[::5], t.frames[::5] // 5, t.cues["mouth_open"][::5], t.boxes[0, 0])
            for t in timeline.tracks
        ),
    )
    assert on_screen_persons(sparse) == [[0, 2], [1]]
    assert talking_faces(sparse, speech).talking == []


def test_a_third_voice_whose_face_never_talks_is_left_to_the_voices():
    """Three clearly different voices, two faces seen talking and a third face on screen that
    never moves its mouth (its talker too still, or a still picture): the voices decide, with
    the faces' two as a floor; with no third face on screen the faces decide."""
    timeline, turns = two_tiles(duration=90.0, seed=5)
    speech = sorted(turns["A"] + turns["B"], key=lambda s: s.start)
    owner_of = {}
    for i, seg in enumerate(speech):
        owner_of[seg] = "C" if i % 3 == 2 else ("A" if seg in turns["A"] else "B")
    rng = np.random.default_rng(4)
    voice = {k: rng.normal(size=32) for k in "ABC"}
    spans, owner, emb = [], [], []
    for i, seg in enumerate(speech):
        a, b = int(seg.start * 100), int(seg.end * 100)
        for s in range(a, max(a + 1, b - 150 + 1), 50):
            spans.append((s, min(s + 150, b)))
            owner.append(i)
            emb.append(voice[owner_of[seg]] + 0.2 * rng.normal(size=32))
    e = np.array(emb)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    spans_a, owner_a = np.array(spans), np.array(owner)
    visual = talking_faces(timeline, speech).at(np.arange(9001) * 0.01)
    kw = {"visual": visual}
    three = diarize_embedded(spans_a, owner_a, e, speech, 90.0, visual_persons=3, **kw)
    assert len(three.speakers) == 3 and three.seen_voices == 0
    # The faces' two talkers are then a floor under the voices' count: two similar voices the
    # audio alone hears as one are kept apart, by the voices.
    timeline, turns = two_tiles(duration=90.0, seed=5)
    spans_s, owner_s, similar, speech = _two_similar_voices(turns, 90.0, seed=5)
    visual = talking_faces(timeline, speech).at(np.arange(9001) * 0.01)
    assert len(diarize_embedded(spans_s, owner_s, similar, speech, 90.0).speakers) == 1
    floor = diarize_embedded(
        spans_s, owner_s, similar, speech, 90.0, visual=visual, visual_persons=3
    )
    assert len(floor.speakers) == 2 and floor.seen_voices == 0
    two = diarize_embedded(spans_a, owner_a, e, speech, 90.0, visual_persons=2, **kw)
    assert len(two.speakers) == 2 and two.seen_voices == 2


def test_a_speaker_view_layout_gives_no_evidence():
    """One face on screen at a time, at the same place (the call's active speaker shown full
    screen): its tracks read as one person, nobody is compared, the voices decide."""
    rng = np.random.default_rng(2)
    times = np.arange(0, 60, 1 / FPS)
    turns = alternating(60.0, seed=2)
    speaker_of = np.array(["A" if any(s.contains(t) for s in turns["A"]) else "B" for t in times])
    runs = np.flatnonzero(np.r_[True, speaker_of[1:] != speaker_of[:-1]])
    tracks = []
    for i, a in enumerate(runs):
        b = runs[i + 1] if i + 1 < len(runs) else len(times)
        who = speaker_of[a]
        tracks.append(track(i, times[a:b], np.arange(a, b), mouth(times[a:b], turns[who], rng)))
    timeline = FaceTimeline(times, np.ones(len(times), int), tuple(tracks))
    seen = talking_faces(timeline, sorted(turns["A"] + turns["B"], key=lambda s: s.start))
    assert len(seen.persons) == 1 and seen.talking == []


def test_a_speaker_view_waits_for_its_lag_and_keeps_the_picture_through_short_remarks():
    from benchmarks.avcalls import shown_speaker

    times = np.arange(0, 20, 0.1)
    reference = [
        ("a", Segment(0.5, 6.0)),
        ("b", Segment(3.0, 3.6)),  # a remark of 0.6 s: shorter than the lag
        ("b", Segment(6.5, 12.0)),
        ("a", Segment(12.5, 19.0)),
    ]
    shown = shown_speaker(times, reference, ["a", "b"], lag_s=1.0)
    assert (shown[times < 7.4] == 0).all()  # a from the start; b's remark changes nothing
    assert (shown[(times > 7.6) & (times < 13.4)] == 1).all()  # b once it talked for 1 s
    assert (shown[times > 13.6] == 0).all()


def test_a_speaker_views_cameras_are_told_apart_and_each_is_a_person(tmp_path, monkeypatch):
    """Active-speaker layout: one camera at a time, full frame, cut to the talker after a lag.
    The face stage ends its tracks at each cut, the cameras are told apart by their look, and
    the camera shown a lag later is the evidence of who talks."""
    from analyzer.media import iter_video_frames
    from analyzer.video.faces import FaceAnalyzer
    from analyzer.video.talking import SPEAKER_VIEW_LAG_S, camera_feeds
    from benchmarks.avcalls import render_call, shown_speaker

    turns = alternating(30.0, seed=4)
    reference = [(who, seg) for who in ("A", "B") for seg in turns[who]]
    path = tmp_path / "speaker.mp4"
    render_call(
        path, np.zeros(16000 * 30, np.float32), reference, ["A", "B"], seed=2, away={},
        view="speaker",
    )  # fmt: skip
    with FaceAnalyzer() as faces:
        timeline = faces.analyze(iter_video_frames(path, fps=5, max_side=640))
    feeds = camera_feeds(timeline)
    assert feeds is not None and set(feeds[timeline.faces > 0]) == {0, 1}
    for track in timeline.tracks:  # no track runs across a cut to the other camera
        assert len(set(feeds[track.frames])) == 1
    speech = sorted(turns["A"] + turns["B"], key=lambda s: s.start)
    from analyzer.video import talking

    monkeypatch.setattr(talking, "SPEAKER_VIEW", False)  # without it: one face at a time, no one
    assert talking_faces(timeline, speech).talking == []
    monkeypatch.setattr(talking, "SPEAKER_VIEW", True)
    seen = talking_faces(timeline, speech)
    assert len(seen.persons) == 2 and seen.talking == [0, 1] and seen.present == 2
    # the camera shown matches the voice talking a lag earlier (the render's lag is 0.5-1.5 s)
    truth = shown_speaker(timeline.times, reference, ["A", "B"], lag_s=1.0)
    first = int(feeds[np.flatnonzero(feeds >= 0)[0]])
    agree = (feeds == np.where(truth == truth[0], first, 1 - first))[feeds >= 0].mean()
    assert agree > 0.9
    at = seen.at(timeline.times - SPEAKER_VIEW_LAG_S)
    shown = feeds >= 0
    assert (np.nanargmax(at[shown], axis=1) == feeds[shown]).all()


def test_tiles_and_a_close_up_are_not_a_speaker_view():
    timeline, _ = two_tiles()
    from analyzer.video.talking import camera_feeds

    assert camera_feeds(timeline) is None  # no looks kept: not judged
    looks = np.zeros((len(timeline.times), 144), np.float32)
    looks[::10] += 0.5  # cuts now and then, but two faces on screen together
    both = FaceTimeline(timeline.times, timeline.faces, timeline.tracks, looks=looks)
    assert camera_feeds(both) is None


def test_an_inset_region_off_a_smaller_frame_is_dropped_not_searched():
    """A followed inset whose region no longer lies in the frame (the video's size changed
    mid-stream) is dropped; the frame's own faces are kept."""
    from analyzer.video.faces import FaceAnalyzer

    with FaceAnalyzer() as faces:
        faces.gallery_landmarks(np.zeros((96, 96, 3), np.uint8))  # builds the tile graph
        pts = np.zeros((1, 478, 3))
        insets = [[500.0, 300.0, 620.0, 400.0, 1.0, 5]]
        out = faces._inset_faces(np.zeros((240, 320, 3), np.uint8), pts, insets, 2.0, 9)
    assert out is pts and insets[0][4] == -np.inf


def test_a_video_track_without_a_frame_gives_an_empty_timeline():
    """A video stream that yields no frame (a broken track, or one that starts after the audio
    ends) is an empty timeline, not an error."""
    from analyzer.video.faces import LOOK_CELLS, FaceAnalyzer

    with FaceAnalyzer() as faces:
        timeline = faces.analyze(iter([]))
    assert len(timeline.times) == 0 and timeline.tracks == ()
    assert timeline.looks is not None and timeline.looks.shape == (
        0,
        LOOK_CELLS[0] * LOOK_CELLS[1] * 3,
    )
    assert talking_faces(timeline, [Segment(0.0, 1.0)]).talking == []
