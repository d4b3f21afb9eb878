"""The face stage: FaceMesh faces, tracks over a video, landmark cues, expression plumbing and
face-to-speaker assignment, on images and videos made in the test."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from analyzer.labels import LABELS
from analyzer.media import VideoFrame, iter_video_frames
from analyzer.models import EmotionScores
from analyzer.result import FaceFrame
from analyzer.segment import Segment
from analyzer.video import (
    CUE_NAMES,
    CUE_RANGES,
    FaceAnalyzer,
    FaceConfig,
    FaceTimeline,
    FaceTrack,
    FaceTracker,
    assign_tracks_to_speakers,
    compute_cues,
    head_pose,
)

skimage_data = pytest.importorskip("skimage.data")
pytest.importorskip("mediapipe")

VIDEO_FPS = 10  # frames per second of the synthetic test video
ANALYSIS_FPS = 5.0  # frames per second the analyzer sees


@pytest.fixture(scope="module")
def still():
    """An analyzer for unrelated still images (detection in every call)."""
    with FaceAnalyzer(FaceConfig(static_images=True)) as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def video_analyzer():
    """One analyzer reused for every video, as the engine does."""
    with FaceAnalyzer() as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage_data.astronaut()  # 512x512 RGB portrait, public domain


def wall(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A plain beige wall with a little sensor noise: uint8 RGB."""
    rng = np.random.default_rng(seed)
    base = np.array([196, 186, 170], dtype=np.int16)
    return np.clip(base + rng.integers(-3, 4, size=shape, dtype=np.int16), 0, 255).astype(np.uint8)


def assert_cues_in_range(cues: dict[str, float]) -> None:
    for name in CUE_NAMES:
        lo, hi = CUE_RANGES[name]
        assert math.isfinite(cues[name]), name
        assert lo <= cues[name] <= hi, (name, cues[name])


# ---- one image ------------------------------------------------------------------------------


def test_astronaut_gives_one_frontal_face_with_cues_in_range(still, astronaut):
    faces = still.landmarks(astronaut)
    assert faces.shape == (1, 478, 3)
    h, w = astronaut.shape[:2]
    xy = faces[0, :, :2]
    assert (xy[:, 0] >= 0).all() and (xy[:, 0] < w).all()
    assert (xy[:, 1] >= 0).all() and (xy[:, 1] < h).all()
    cues = {k: float(v[0]) for k, v in compute_cues(faces, image_size=(h, w)).items()}
    assert_cues_in_range(cues)
    assert abs(cues["yaw"]) < 30 and abs(cues["pitch"]) < 30 and abs(cues["roll"]) < 20
    assert 60 < cues["face_size"] < 160  # px; the face spans about a fifth of the photo
    assert cues["eye_open"] > 0.2  # her eyes are open
    assert cues["smile"] > 0.3  # and she smiles


def test_blank_and_noise_frames_are_no_face_rows_with_nan_cues(still, astronaut):
    rng = np.random.default_rng(0)
    frames = [
        VideoFrame(0.0, wall(astronaut.shape, 1)),
        VideoFrame(0.2, rng.integers(0, 256, astronaut.shape, dtype=np.uint8)),
    ]
    timeline = still.analyze(frames)
    assert not timeline.has_face.any() and timeline.tracks == ()
    rows = list(timeline.rows())
    assert [r["time"] for r in rows] == [0.0, 0.2]
    for row in rows:
        assert row["face"] is False and row["track"] is None and row["emotion"] is None
        assert set(row["cues"]) == set(timeline.cue_names())
        assert all(math.isnan(v) for v in row["cues"].values())


def open_mouth(image: np.ndarray, pts: np.ndarray, drop_px: float) -> np.ndarray:
    """Pull the lower lip and chin down by up to ``drop_px`` (a smooth warp), opening the mouth."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = 0.5 * (pts[61, 0] + pts[291, 0])
    half = 0.6 * abs(pts[291, 0] - pts[61, 0])
    lip = 0.5 * (pts[13, 1] + pts[14, 1])
    chin = pts[152, 1]
    wx = np.cos(np.clip((xx - cx) / half, -1, 1) * np.pi / 2) ** 2
    wy = np.clip((yy - lip) / 3.0, 0, 1) * np.clip(1 - (yy - chin) / 25.0, 0, 1)
    src_y = (yy - drop_px * wx * wy).astype(np.float32)
    return cv2.remap(image, xx, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_mouth_open_grows_when_the_mouth_is_warped_open(still, astronaut):
    pts = still.landmarks(astronaut)[0]
    values = []
    for drop in (0, 8, 16):
        faces = still.landmarks(open_mouth(astronaut, pts, drop))
        assert len(faces) == 1
        cues = compute_cues(faces, image_size=astronaut.shape[:2])
        values.append(float(cues["mouth_open"][0]))
        assert abs(cues["yaw"][0]) < 10  # the warp does not turn the head
    assert values[0] < values[1] < values[2]
    assert values[2] - values[0] > 0.15


def test_yaw_changes_sign_when_the_image_is_mirrored(still):
    # The cameraman looks to the image right, into his camera, about half profile; 2x upscaled
    # so that FaceMesh finds his small face in the original and in the mirror image.
    image = cv2.cvtColor(cv2.resize(skimage_data.camera(), None, fx=2, fy=2), cv2.COLOR_GRAY2RGB)
    yaw = compute_cues(still.landmarks(image))["yaw"]
    yaw_mirrored = compute_cues(still.landmarks(np.ascontiguousarray(image[:, ::-1])))["yaw"]
    assert yaw.shape == yaw_mirrored.shape == (1,)
    assert yaw[0] > 20 and yaw_mirrored[0] < -20  # positive yaw: face turned to image right
    assert abs(yaw[0] + yaw_mirrored[0]) < 15


def test_roll_follows_an_image_rotation(still, astronaut):
    h, w = astronaut.shape[:2]
    roll = compute_cues(still.landmarks(astronaut))["roll"][0]
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0)  # 15 deg counter-clockwise
    rotated = cv2.warpAffine(astronaut, rotation, (w, h), borderMode=cv2.BORDER_REPLICATE)
    roll_rotated = compute_cues(still.landmarks(rotated))["roll"][0]
    assert roll_rotated - roll == pytest.approx(-15, abs=3)


def test_head_pose_recovers_a_known_rotation_of_the_landmarks(still, astronaut):
    pts = still.landmarks(astronaut)[0]
    yaw0, pitch0, _ = head_pose(pts)
    centre = pts.mean(axis=0)
    for turn in (-25.0, 25.0):
        a = np.radians(turn)  # turn towards image right: the image-right side goes deeper
        rot = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
        yaw, pitch, _ = head_pose((pts - centre) @ rot.T + centre)
        assert yaw[0] - yaw0[0] == pytest.approx(turn, abs=1.0)
        assert pitch[0] == pytest.approx(pitch0[0], abs=2.0)


def test_degenerate_landmarks_give_nan_not_numbers():
    cues = compute_cues(np.zeros((2, 478, 3)), image_size=(480, 640))
    assert all(np.isnan(cues[name]).all() for name in CUE_NAMES)
    assert all(v.shape == (0,) for v in compute_cues(np.zeros((0, 478, 3))).values())


# ---- tracks over a video --------------------------------------------------------------------


def write_video(path, images: list[np.ndarray], fps: int) -> None:
    import av

    h, w = images[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# Face shown on these [start, end) spans of the 7 s test video, a blank wall elsewhere: the first
# blank (0.6 s) is shorter than FaceConfig.max_gap_s, the second (2 s) longer.
FACE_SPANS = [(0.0, 2.0), (2.6, 4.0), (6.0, 7.0)]
VIDEO_S = 7.0


def test_video_no_face_frames_exactly_where_the_wall_was_and_stable_tracks(
    tmp_path, video_analyzer, astronaut
):
    n = int(VIDEO_S * VIDEO_FPS)
    blank = wall(astronaut.shape, 2)

    def shows_face(t: float) -> bool:
        return any(a - 1e-6 <= t < b - 1e-6 for a, b in FACE_SPANS)

    images = [astronaut if shows_face(k / VIDEO_FPS) else blank for k in range(n)]
    path = tmp_path / "face_wall_face.mp4"
    write_video(path, images, VIDEO_FPS)

    reports = []
    total = int(VIDEO_S * ANALYSIS_FPS)
    frames = iter_video_frames(path, fps=ANALYSIS_FPS, max_side=640)
    timeline = video_analyzer.analyze(frames, total=total, progress=lambda *a: reports.append(a))

    times = timeline.times
    assert len(times) == total
    expected = np.array([shows_face(t) for t in times])
    assert np.array_equal(timeline.has_face, expected)
    assert timeline.faces.max() == 1

    # The short blank keeps the track, the long one starts a new track.
    assert timeline.track_ids == [0, 1]
    first, second = timeline.track(0), timeline.track(1)
    assert first.times.min() == pytest.approx(0.0) and first.times.max() < 4.0
    assert np.all(second.times >= 6.0 - 1e-6)
    assert len(first) + len(second) == int(expected.sum())

    rows = list(timeline.rows())
    assert len(rows) == total
    for row, face in zip(rows, expected):
        assert row["face"] == face
        if face:
            assert row["track"] in (0, 1) and row["probs"] is None
            assert_cues_in_range(row["cues"])
            assert 0.0 <= row["cues"]["quality"] <= 1.0
        else:
            assert row["track"] is None
            assert all(math.isnan(v) for v in row["cues"].values())

    assert reports[-1] == ("faces", total, total)
    assert all(step == "faces" and done <= tot for step, done, tot in reports)

    # Evidence over a span: coverage is the share of its frames with that face.
    ev = timeline.evidence(0, Segment(1.0, 3.0))  # face in 7 of its 10 frames
    assert ev["frames"] == 7 and ev["coverage"] == pytest.approx(0.7)
    assert ev["tracks"] == [0] and ev["probs"] is None and set(ev["cues"]) == set(CUE_NAMES)
    assert timeline.evidence(1, Segment(0.0, 3.0)) is None
    # Both tracks of the one person together: the face is there in 8 of the 10 frames.
    ev = timeline.evidence([0, 1], Segment(3.0, 7.0))
    assert ev["tracks"] == [0, 1] and ev["frames"] == 10 and ev["coverage"] == pytest.approx(0.5)

    # The rows are exactly result.FaceFrame's fields, and no-face NaN cues turn into JSON nulls.
    faces = [FaceFrame(**row) for row in rows]
    blank_row = faces[int(np.flatnonzero(~expected)[0])].to_dict()
    assert blank_row["face"] is False and set(blank_row["cues"].values()) == {None}


def test_tracker_keeps_ids_of_moving_faces_and_ends_tracks_after_a_gap():
    tracker = FaceTracker(max_gap_s=1.0)
    left, right = np.array([10.0, 10, 60, 70]), np.array([300.0, 20, 360, 90])
    assert tracker.update(0.0, np.stack([left, right])).tolist() == [0, 1]
    shift = np.array([8.0, 2, 8, 2])  # both drift a little; detection order swapped
    assert tracker.update(0.2, np.stack([right + shift, left + shift])).tolist() == [1, 0]
    assert tracker.update(0.4, np.stack([left + 2 * shift])).tolist() == [0]
    # Face 1 was last seen at 0.2 s: at 1.4 s it has been gone for 1.2 s, so it is a new track.
    assert tracker.update(1.4, np.stack([left + 2 * shift, right])).tolist() == [0, 2]


# ---- expression plumbing --------------------------------------------------------------------


class FakeExpressionModel:
    """Calls are recorded; every face is 'happy' with probability 0.7 and confidence 0.8."""

    name = "fake-fer"
    kind = "fer"
    labels = LABELS

    def __init__(self) -> None:
        self.calls: list[tuple[np.ndarray, list]] = []

    def predict(self, inputs, *, groups=None) -> EmotionScores:
        crops = np.asarray(inputs)
        self.calls.append((crops, list(groups)))
        n = len(crops)
        probs = np.full((n, len(LABELS)), 0.05, dtype=np.float32)
        probs[:, LABELS.index("happy")] = 0.7
        return EmotionScores(
            probs=probs,
            arousal=np.full(n, 0.4, np.float32),
            valence=np.full(n, 0.6, np.float32),
            confidence=np.full(n, 0.8, np.float32),
        )


def test_expression_model_scores_attach_per_track_with_quality_scaled_confidence(astronaut):
    model = FakeExpressionModel()
    blank = wall(astronaut.shape, 3)
    frames = [
        VideoFrame(t, img)
        for t, img in [(0.0, astronaut), (0.2, astronaut), (0.4, blank), (0.6, astronaut)]
    ]
    with FaceAnalyzer(FaceConfig(batch_size=2), model=model) as analyzer:
        timeline = analyzer.analyze(frames)

    assert timeline.model == "fake-fer"
    assert timeline.has_face.tolist() == [True, True, False, True]
    # Crops are batched (2 + 1), aligned grey squares, grouped by track id.
    assert [len(c) for c, _ in model.calls] == [2, 1]
    crops = np.concatenate([c for c, _ in model.calls])
    assert crops.dtype == np.uint8 and crops.ndim == 3 and crops.shape[1] == crops.shape[2]
    assert [g for _, gs in model.calls for g in gs] == ["0", "0", "0"]

    track = timeline.track(0)
    assert track.probs.shape == track.raw_probs.shape == (3, len(LABELS))
    assert np.allclose(track.raw_probs[:, LABELS.index("happy")], 0.7, atol=1e-6)
    assert np.allclose(track.probs.sum(axis=1), 1.0)
    assert 0 < track.quality.min() <= track.quality.max() <= 1
    assert np.allclose(track.confidence, 0.8 * track.quality, atol=1e-6)
    assert np.allclose(track.arousal, 0.4, atol=1e-6) and np.allclose(track.valence, 0.6, atol=1e-6)

    rows = list(timeline.rows(speakers={0: "agent"}))
    assert [r["emotion"] for r in rows] == ["happy", "happy", None, "happy"]
    assert rows[0]["speaker"] == "agent" and rows[2]["speaker"] is None
    assert rows[0]["confidence"] == pytest.approx(0.8 * track.quality[0], abs=1e-6)
    assert rows[0]["cues"]["valence"] == pytest.approx(0.6, abs=1e-6)
    assert math.isnan(rows[2]["cues"]["valence"])

    ev = timeline.evidence(0, Segment(0.0, 1.0))
    assert ev["coverage"] == pytest.approx(0.75) and ev["emotion"] == "happy"
    assert ev["probs"]["happy"] == pytest.approx(0.7, abs=1e-6)
    assert ev["arousal"] == pytest.approx(0.4, abs=1e-6)
    assert ev["cues_rel"]["smile"] == pytest.approx(0.0, abs=0.05)  # same photo every frame


# ---- face to speaker ------------------------------------------------------------------------


def speech_turns(duration: float, seed: int) -> dict[str, list[Segment]]:
    """Two speakers taking turns of 2-5 s with 0-1 s pauses."""
    rng = np.random.default_rng(seed)
    turns: dict[str, list[Segment]] = {"A": [], "B": []}
    t, who = 0.5, "A"
    while t < duration - 1:
        end = min(duration, t + rng.uniform(2, 5))
        turns[who].append(Segment(t, end))
        t, who = end + rng.uniform(0, 1), "B" if who == "A" else "A"
    return turns


def talking_mouth(times, segments, rng) -> np.ndarray:
    """mouth_open in [0, 1]: jittery while this person speaks, nearly still otherwise."""
    talking = np.array([any(s.contains(t) for s in segments) for t in times])
    moving = 0.15 + 0.15 * rng.random(len(times))
    still = 0.05 + 0.005 * rng.random(len(times))
    return np.where(talking, moving, still)


def make_track(track_id: int, times: np.ndarray, frames: np.ndarray, mouth: np.ndarray):
    n = len(times)
    cues = {name: np.zeros(n) for name in CUE_NAMES}
    cues["mouth_open"] = mouth
    return FaceTrack(
        id=track_id,
        times=times,
        frames=frames,
        boxes=np.zeros((n, 4)),
        cues=cues,
        quality=np.ones(n),
        confidence=np.ones(n),
    )


def test_mouth_movement_assigns_each_face_to_the_voice_it_moves_with():
    rng = np.random.default_rng(7)
    duration = 120.0
    times = np.arange(0, duration, 1 / ANALYSIS_FPS)
    frames = np.arange(len(times))
    speech = speech_turns(duration, seed=1)
    half = len(times) // 2
    # Face 0 is A's first half, face 2 is A again after the tracker lost her; face 1 is B.
    tracks = (
        make_track(0, times[:half], frames[:half], talking_mouth(times[:half], speech["A"], rng)),
        make_track(1, times, frames, talking_mouth(times, speech["B"], rng)),
        make_track(2, times[half:], frames[half:], talking_mouth(times[half:], speech["A"], rng)),
    )
    timeline = FaceTimeline(times, np.full(len(times), 2), tracks)
    assert assign_tracks_to_speakers(timeline, speech) == {0: "A", 1: "B", 2: "A"}

    # A face whose mouth moves at random is nobody's.
    noise = make_track(0, times, frames, 0.1 + 0.1 * rng.random(len(times)))
    lone = FaceTimeline(times, np.ones(len(times), dtype=int), (noise,))
    assert assign_tracks_to_speakers(lone, speech) == {}

    # One face, one voice: assigned even though the voice never pauses (nothing to correlate).
    one_voice = {"A": [Segment(0.0, duration)]}
    assert assign_tracks_to_speakers(lone, one_voice) == {0: "A"}
    # ... unless the mouth clearly moves only while that voice is silent.
    against = make_track(0, times, frames, talking_mouth(times, speech["B"], rng))
    timeline = FaceTimeline(times, np.ones(len(times), dtype=int), (against,))
    assert assign_tracks_to_speakers(timeline, {"A": speech["A"]}) == {}
    assert assign_tracks_to_speakers(timeline, {}) == {}
