"""Face alignment, face quality, the shipped FER model, its evaluation and track smoothing."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from analyzer.labels import LABELS
from analyzer.models import load_model
from analyzer.video.align import (
    FACE_SIZE,
    align_face,
    alignment_matrix,
    estimate_yaw_deg,
    eye_centres,
    face_quality,
)
from analyzer.video.expression import smooth_track
from train.fer import DEFAULT_MODEL, evaluate_fer

skimage_data = pytest.importorskip("skimage.data")
mp = pytest.importorskip("mediapipe")


def facemesh(image: np.ndarray) -> np.ndarray | None:
    """FaceMesh landmarks of the first face in an RGB uint8 image, in pixels [478, 3]."""
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        result = mesh.process(image)
    if not result.multi_face_landmarks:
        return None
    h, w = image.shape[:2]
    pts = np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark])
    return pts * [w, h, w]


@pytest.fixture(scope="module")
def astronaut():
    image = skimage_data.astronaut()  # 512x512 RGB, public domain
    landmarks = facemesh(image)
    assert landmarks is not None
    return image, landmarks


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def eye_tilt_deg(landmarks: np.ndarray, matrix: np.ndarray) -> float:
    right, left = (np.append(p, 1.0) @ matrix.T for p in eye_centres(landmarks))
    return float(np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0])))


def test_alignment_levels_a_rotated_face(astronaut):
    image, landmarks = astronaut
    tilted = rotate(image, 20.0)
    tilted_landmarks = facemesh(tilted)
    assert tilted_landmarks is not None
    # The eye line is 20 degrees off in the frame and level after alignment.
    assert abs(abs(eye_tilt_deg(tilted_landmarks, np.array([[1, 0, 0], [0, 1, 0.0]]))) - 20) < 4
    assert abs(eye_tilt_deg(tilted_landmarks, alignment_matrix(tilted_landmarks))) < 0.5

    a = align_face(image, landmarks)
    b = align_face(tilted, tilted_landmarks)
    assert a.shape == b.shape == (FACE_SIZE, FACE_SIZE) and a.dtype == np.uint8
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9
    assert np.abs(a.astype(int) - b).mean() < 12
    # Gray input gives the same crop as RGB input.
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    assert np.abs(align_face(gray, landmarks).astype(int) - a).max() <= 1


def test_face_quality_drops_for_blur_and_small_faces(astronaut):
    image, landmarks = astronaut
    sharp = face_quality(image, landmarks)
    assert 0.6 < sharp <= 1.0
    blurred = cv2.GaussianBlur(image, (0, 0), 8)
    assert face_quality(blurred, landmarks) < 0.5 * sharp
    tiny = cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA)
    assert face_quality(tiny, landmarks * [64 / 512, 64 / 512, 1]) < 0.5 * sharp
    # A head turned by 50 degrees (FaceMesh's 3-D points rotated about the vertical axis).
    a = np.deg2rad(50.0)
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    centre = landmarks.mean(axis=0)
    turned = (landmarks - centre) @ turn.T + centre
    assert estimate_yaw_deg(landmarks) < 5 and abs(estimate_yaw_deg(turned) - 50) < 8
    assert face_quality(image, turned) < 0.5 * sharp
    # Half the face out of the frame.
    shifted = landmarks + [image.shape[1] * 0.6, 0, 0]
    assert face_quality(image, shifted) < 0.5 * sharp


def test_shipped_model_gives_valid_probabilities(astronaut):
    model = load_model(DEFAULT_MODEL, "fer")
    assert model.kind == "fer" and tuple(model.labels) == LABELS
    image, landmarks = astronaut
    rng = np.random.default_rng(0)
    crops = [align_face(image, landmarks), rng.integers(0, 256, (48, 48), dtype=np.uint8),
             align_face(image, landmarks, size=96)]  # fmt: skip
    scores = model.predict(crops)
    assert scores.probs.shape == (3, len(LABELS))
    assert np.allclose(scores.probs.sum(axis=1), 1.0, atol=1e-5)
    assert (scores.probs >= 0).all()
    assert np.allclose(scores.confidence, scores.probs.max(axis=1))
    assert (np.abs(scores.valence) <= 1).all() and (np.abs(scores.arousal) <= 1).all()
    # A larger crop of the same face is resized to the model's input: nearly the same answer.
    assert np.abs(scores.probs[0] - scores.probs[2]).max() < 0.15
    # The astronaut smiles.
    assert LABELS[int(scores.probs[0].argmax())] == "happy"
    assert len(model.predict([])) == 0


def test_evaluate_fer_on_a_tiny_npz(astronaut, tmp_path):
    image, landmarks = astronaut
    # A FER+-like 48 px crop of the face: the aligned crop itself.
    face = align_face(image, landmarks)
    rng = np.random.default_rng(1)
    images = np.stack([face, face[:, ::-1], face, rng.integers(0, 256, (48, 48), dtype=np.uint8)])
    votes = np.zeros((4, 10), dtype=np.uint8)
    votes[0, 1] = 10  # happiness
    votes[1, [1, 0]] = (8, 2)  # happiness majority
    votes[2, [0, 1, 2]] = (4, 3, 3)  # no majority: skipped
    votes[3, 7] = 6  # contempt majority -> disgust
    votes[3, 9] = 4
    split = np.array(["train", "valid", "valid", "valid"])
    npz = tmp_path / "tiny.npz"
    np.savez(npz, images=images, votes=votes, split=split)

    report = evaluate_fer(npz, DEFAULT_MODEL, cache_dir=tmp_path)
    assert report["n"] == 3 and report["skipped"] == 1
    assert set(report) >= {"n", "accuracy", "macro_f1", "per_class", "confusion", "labels", "ece"}
    assert report["labels"] == list(LABELS)
    confusion = np.array(report["confusion"])
    assert confusion.sum() == 3
    assert confusion[LABELS.index("disgust")].sum() == 1  # contempt counted as disgust
    assert 0 <= report["ece"] <= 1
    json.dumps(report)

    valid = evaluate_fer(npz, DEFAULT_MODEL, split="valid", cache_dir=tmp_path)
    assert valid["n"] == 2 and valid["skipped"] == 1


def test_smooth_track_keeps_changes_and_removes_blips():
    fps = 10.0
    times = np.arange(60) / fps  # 6 s
    neutral, happy, angry = (np.eye(len(LABELS))[LABELS.index(k)] for k in ("neutral", "happy",
                                                                          "angry"))  # fmt: skip
    probs = np.where((times < 3.0)[:, None], 0.8 * neutral + 0.2 / 7, 0.8 * happy + 0.2 / 7)
    probs[15] = 0.8 * angry + 0.2 / 7  # one-frame blip at 1.5 s
    smoothed = smooth_track(times, probs, half_life_s=0.5)
    top = smoothed.argmax(axis=1)
    assert np.allclose(smoothed.sum(axis=1), 1.0)
    assert top[15] == LABELS.index("neutral")
    assert (top[times < 2.7] == LABELS.index("neutral")).all()
    assert (top[times > 3.3] == LABELS.index("happy")).all()

    # A gap longer than max_gap_s separates runs: nothing leaks across it.
    gap_times = np.concatenate([times[:30], times[30:] + 5.0])
    split_runs = smooth_track(gap_times, probs, half_life_s=2.0, max_gap_s=1.0)
    assert np.allclose(split_runs[29], smooth_track(times[:30], probs[:30], half_life_s=2.0)[29])
    assert split_runs[30].argmax() == LABELS.index("happy")

    # A frame without a face stays NaN and does not move its neighbours.
    holes = probs.copy()
    holes[40] = np.nan
    filled = smooth_track(times, holes)
    assert np.isnan(filled[40]).all() and np.isfinite(filled[41]).all()


def random_crops(n: int = 10) -> list[np.ndarray]:
    """Seeded grey 48x48 uint8 crops: the scores differ from crop to crop."""
    return list(np.random.default_rng(0).integers(0, 255, (n, 48, 48), dtype=np.uint8))


def test_batched_inference_matches_one_by_one():
    model = load_model("fer-ferplus-vgg", "fer")
    crops = random_crops()
    batched = model.to("cpu", batch_size=4).predict(crops).probs
    single = np.concatenate([model.predict([c]).probs for c in crops])
    assert batched.shape == (len(crops), len(LABELS))
    assert np.allclose(batched.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(batched, single, atol=1e-5)
    # Batches of 4 over 10 crops end in a short batch of 2: no crop is dropped or repeated.
    assert not np.allclose(batched[8], batched[9])


@pytest.mark.gpu
def test_gpu_inference_matches_cpu():
    model = load_model("fer-ferplus-vgg", "fer")
    crops = random_crops()
    on_cpu = model.to("cpu", batch_size=4).predict(crops).probs
    on_gpu = model.to("cuda", batch_size=256).predict(crops).probs
    assert np.allclose(on_gpu, on_cpu, atol=1e-3)
    # Back on the CPU afterwards, the model gives the CPU's scores again.
    assert np.allclose(model.to("cpu", batch_size=4).predict(crops).probs, on_cpu, atol=1e-6)
