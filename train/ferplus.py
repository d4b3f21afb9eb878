"""FER+ data for the facial-expression model: votes to targets and labels, landmarks, alignment,
augmentation, and the selection of training and validation rows (``load_fer_data``).

Data: an npz with ``images`` uint8 [N, 48, 48], ``votes`` [N, 10] (FER+ order: neutral,
happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF) and optionally
``split`` [N] (``train`` / ``valid``).

Label decisions (also in the model card):

* The 8 FER+ emotions map onto the 7 product labels one to one, except contempt, whose votes are
  folded into disgust (the product has no contempt label; both are rejection expressions and the
  nearest circumplex point; contempt is 0.3% of majority labels).
* Training targets are the vote distributions over the emotions (soft-target cross-entropy);
  "unknown" and "NF" (not a face) votes carry no emotion, so their mass is dropped and the
  emotion votes renormalised. Images where NF has more than half the votes, or with no emotion
  vote at all, are left out of training.
* Evaluation truth is the majority label: an emotion with more than half of all votes (contempt
  counting as disgust only after that test); images without one are skipped and counted.

Every image, in training and evaluation, goes through the inference preprocessing
(:func:`analyzer.video.align.align_face` on FaceMesh landmarks found on the 4x upscaled crop);
where FaceMesh finds no face the raw crop is used (FER+ crops are already framed as the template
assumes).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyzer.labels import LABELS

Progress = Callable[[str, int, int], None]

CACHE_ENV = "EMOTRACE_FER_CACHE"  # where FaceMesh landmarks of FER+ images are cached
DEFAULT_CACHE = "/tmp/fer_cache"
UPSCALE = 4  # FER+ 48 px crops are upscaled 4x (to 192 px) before FaceMesh, which misses tiny faces
PAD_PX = 48  # px of edge padding (at 192 px) for a second FaceMesh try when the first finds nothing
CROP = 48  # px, FER+ image side and model input size

FERPLUS_COLUMNS = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
    "unknown", "NF",
)  # fmt: skip
# Product label for each of the 8 FER+ emotion columns (contempt folded into disgust).
FERPLUS_TO_LABEL = (
    "neutral", "happy", "surprised", "sad", "angry", "disgust", "fearful", "disgust",
)  # fmt: skip
N_EMOTIONS = 8  # emotion columns; then unknown, NF
NF_COLUMN = 9


def _mapping_matrix() -> np.ndarray:
    """[8, 7] 0/1 matrix taking FER+ emotion votes to product-label votes."""
    m = np.zeros((N_EMOTIONS, len(LABELS)))
    for i, label in enumerate(FERPLUS_TO_LABEL):
        m[i, LABELS.index(label)] = 1.0
    return m


def soft_targets(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vote distributions over the product labels and the rows fit for training.

    votes: [N, 10] FER+ votes. Returns (targets float32 [N, 7] rows summing to 1 where kept,
    keep bool [N]): a row is dropped when NF has more than half its votes or no emotion vote.
    """
    votes = np.asarray(votes, dtype=np.float64)
    mapped = votes[:, :N_EMOTIONS] @ _mapping_matrix()
    emotion_total = mapped.sum(axis=1)
    keep = (emotion_total > 0) & (votes[:, NF_COLUMN] * 2 <= votes.sum(axis=1))
    targets = mapped / np.maximum(emotion_total, 1e-9)[:, None]
    return targets.astype(np.float32), keep


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """Majority product label per row (index into LABELS), -1 where no emotion has > half the votes.

    The majority is taken over the raw FER+ emotions (denominator: all votes of the row, unknown
    and NF included) and then mapped, so contempt-majority images count as disgust.
    """
    votes = np.asarray(votes, dtype=np.int64)
    top = votes[:, :N_EMOTIONS].argmax(axis=1)
    has_majority = votes[np.arange(len(votes)), top] * 2 > votes.sum(axis=1)
    mapped = np.array([LABELS.index(FERPLUS_TO_LABEL[k]) for k in range(N_EMOTIONS)])[top]
    return np.where(has_majority, mapped, -1)


def duplicate_mask(images: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """True for selected rows whose pixels also occur in an unselected row, or earlier among the
    selected ones (FER2013 holds exact duplicates, some across train/valid). bool [N]."""
    keys = [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in images]
    outside = {k for k, s in zip(keys, selected, strict=True) if not s}
    seen: set[bytes] = set()
    dup = np.zeros(len(images), dtype=bool)
    for i, (k, s) in enumerate(zip(keys, selected, strict=True)):
        if s:
            dup[i] = k in outside or k in seen
            seen.add(k)
    return dup


# --------------------------------------------------------------------------- landmarks, alignment


def detect_ferplus_landmarks(images: np.ndarray, *, progress: Progress | None = None) -> np.ndarray:
    """FaceMesh landmarks for each FER+ crop, in the crop's own pixels: float32 [N, 478, 3].

    Rows are NaN where FaceMesh found no face (after a second try on an edge-padded copy, which
    helps for faces that fill the whole crop). z is in the same pixel units as x.
    """
    import cv2
    import mediapipe as mp

    n, h, w = images.shape
    out = np.full((n, 478, 3), np.nan, dtype=np.float32)
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1,
        min_detection_confidence=0.3,
    ) as mesh:  # fmt: skip
        for i, image in enumerate(images):
            big = cv2.resize(image, (w * UPSCALE, h * UPSCALE), interpolation=cv2.INTER_CUBIC)
            for pad in (0, PAD_PX):
                framed = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
                result = mesh.process(np.repeat(framed[:, :, None], 3, axis=2))
                if result.multi_face_landmarks:
                    lm = result.multi_face_landmarks[0].landmark
                    pts = np.array([(p.x, p.y, p.z) for p in lm], dtype=np.float64)
                    pts *= framed.shape[1]  # normalised -> padded-image pixels (z in width units)
                    pts[:, :2] -= pad
                    out[i] = pts / UPSCALE
                    break
            if progress is not None and (i % 500 == 0 or i == n - 1):
                progress("landmarks", i + 1, n)
    return out


def cached_landmarks(
    images: np.ndarray, *, cache_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> np.ndarray:  # fmt: skip
    """detect_ferplus_landmarks, cached on disk by a hash of the pixels (never in the repo)."""
    cache = Path(cache_dir or os.environ.get(CACHE_ENV, DEFAULT_CACHE))
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.blake2b(np.ascontiguousarray(images).tobytes(), digest_size=12).hexdigest()
    path = cache / f"landmarks_{len(images)}_{key}.npy"
    if path.is_file():
        return np.load(path)
    landmarks = detect_ferplus_landmarks(images, progress=progress)
    np.save(path, landmarks)
    return landmarks


MIN_SCALE, MAX_SCALE = 0.6, 1.6  # plausible crop-px-per-image-px of a FER+ alignment; else fallback


def alignment_matrices(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image 2x3 align_face affines for FER+ crops: (float64 [N, 2, 3], found bool [N]).

    Rows without landmarks, or whose fitted scale is implausible for a face that already fills a
    48 px crop (a FaceMesh miss), get the identity: the raw crop.
    """
    from analyzer.video.align import alignment_matrix

    n = len(landmarks)
    mats = np.tile(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (n, 1, 1))
    found = np.isfinite(landmarks[:, :, :2]).all(axis=(1, 2))
    for i in np.flatnonzero(found):
        m = alignment_matrix(landmarks[i], size=CROP)
        scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
        if MIN_SCALE <= scale <= MAX_SCALE:
            mats[i] = m
        else:
            found[i] = False
    return mats, found


def fit_template(landmarks: np.ndarray) -> np.ndarray:
    """Median eye-levelled ALIGN_POINTS over FER+ crops, made left-right symmetric; [P, 2] px.

    How ``align.TEMPLATE`` was made (run once on the FER+ train landmarks; kept for retraining).
    Each face is rotated about its eye midpoint so the eyes are level, then the median position of
    every point is taken; left/right point pairs are averaged with their mirror image about the
    crop centre and midline points put on it.
    """
    from analyzer.video import align

    pts_all = []
    for lm in landmarks[np.isfinite(landmarks[:, 0, 0])]:
        right, left = align.eye_centres(lm)
        dx, dy = left - right
        a = -np.arctan2(dy, dx)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        mid = (left + right) / 2
        pts_all.append((lm[list(align.ALIGN_POINTS), :2] - mid) @ rot.T + mid)
    med = np.median(np.array(pts_all), axis=0)
    pairs = {33: 263, 133: 362, 98: 327}
    index = {p: i for i, p in enumerate(align.ALIGN_POINTS)}
    centre = align.TEMPLATE_SIZE / 2
    out = med.copy()
    for a, b in pairs.items():
        ia, ib = index[a], index[b]
        half = ((centre - med[ia, 0]) + (med[ib, 0] - centre)) / 2
        y = (med[ia, 1] + med[ib, 1]) / 2
        out[ia] = (centre - half, y)
        out[ib] = (centre + half, y)
    for p in align.ALIGN_POINTS:
        if p not in pairs and p not in pairs.values():
            out[index[p], 0] = centre
    return out


# ------------------------------------------------------------------------------- augmentation


def _jitter(rng: np.random.Generator, size: int, *, rot_deg: float, scale: float, shift: float):
    """Random similarity about the crop centre as a 3x3 matrix (crop px -> crop px)."""
    a = np.deg2rad(rng.uniform(-rot_deg, rot_deg))
    s = math.exp(rng.uniform(-scale, scale))
    tx, ty = rng.uniform(-shift, shift, size=2) * size
    c = (size - 1) / 2
    m = np.array([[s * np.cos(a), -s * np.sin(a), 0.0], [s * np.sin(a), s * np.cos(a), 0.0]])
    m[:, 2] = [c + tx, c + ty] - m[:, :2] @ [c, c]
    return np.vstack([m, [0, 0, 1]])


def augment_batch(
    images: np.ndarray, matrices: np.ndarray, rng: np.random.Generator, *, train: bool = True
) -> np.ndarray:
    """Aligned (and, when ``train``, augmented) crops: uint8 [B, 48, 48].

    images: uint8 [B, 48, 48] raw FER+ crops; matrices: [B, 2, 3] align affines. Augmentations
    mimic what the video pipeline yields: landmark jitter (rotation +-8 deg, scale +-8 %, shift
    +-5 %, composed with the alignment so each crop is resampled once), mirror, brightness,
    contrast and gamma, blur, low resolution (down to 14-30 px and back), sensor noise and an
    occluding patch (hand, microphone, phone).
    """
    import cv2

    out = np.empty((len(images), CROP, CROP), dtype=np.uint8)
    for i, (img, m) in enumerate(zip(images, matrices, strict=True)):
        if not train:
            out[i] = cv2.warpAffine(img, m, (CROP, CROP), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
            continue
        j = _jitter(rng, CROP, rot_deg=8.0, scale=0.08, shift=0.05)
        total = (j @ np.vstack([m, [0, 0, 1]]))[:2]
        crop = cv2.warpAffine(img, total, (CROP, CROP), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE).astype(np.float32)  # fmt: skip
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.8:
            gamma = math.exp(rng.uniform(-0.4, 0.4))
            crop = 255.0 * (crop / 255.0) ** gamma
            crop = (crop - 128.0) * rng.uniform(0.6, 1.4) + 128.0 + rng.uniform(-40, 40)
        if rng.random() < 0.2:
            crop = cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.5, 1.3))
        if rng.random() < 0.2:
            low = int(rng.integers(14, 31))
            crop = cv2.resize(cv2.resize(crop, (low, low), interpolation=cv2.INTER_AREA),
                              (CROP, CROP), interpolation=cv2.INTER_LINEAR)  # fmt: skip
        if rng.random() < 0.15:
            crop = crop + rng.normal(0.0, rng.uniform(2.0, 8.0), crop.shape)
        if rng.random() < 0.25:
            h, w = rng.integers(8, 21, size=2)
            y, x = rng.integers(0, CROP - h + 1), rng.integers(0, CROP - w + 1)
            crop = np.array(crop)
            crop[y : y + h, x : x + w] = rng.uniform(0, 255)
        out[i] = np.clip(crop, 0, 255)
    return out


@dataclass(frozen=True)
class FerData:
    """The FER+ arrays that training needs, aligned, with the train and validation selections."""

    images: np.ndarray  # uint8 [N, 48, 48] grey crops as FER+ ships them
    matrices: np.ndarray  # [N, 2, 3] alignment affines (frame -> aligned crop)
    targets: np.ndarray  # float [N, K] vote distributions (soft targets)
    split: np.ndarray  # str [N]: "train", "valid", "test"
    keep: np.ndarray  # bool [N]: enough votes on the seven labels
    found: np.ndarray  # bool [N]: landmarks were found
    train_idx: np.ndarray  # rows trained on
    valid_idx: np.ndarray  # validation rows: no duplicates of train images, majority label
    valid_truth: np.ndarray  # majority labels of valid_idx
    valid_x: np.ndarray  # aligned, unaugmented validation crops


def load_fer_data(
    npz: str | os.PathLike,
    rng: np.random.Generator,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> FerData:
    """Read ``npz`` (images, votes, optional split), find landmarks (cached) and select rows."""
    data = np.load(npz)
    images, votes = data["images"], data["votes"]
    split = data["split"] if "split" in data.files else np.array(["train"] * len(images))
    landmarks = cached_landmarks(images, cache_dir=cache_dir, progress=progress)
    matrices, found = alignment_matrices(landmarks)
    targets, keep = soft_targets(votes)

    train_idx = np.flatnonzero((split == "train") & keep)
    valid_sel = split == "valid"
    valid_idx = np.flatnonzero(
        valid_sel & ~duplicate_mask(images, valid_sel) & (majority_labels(votes) >= 0)
    )
    valid_truth = majority_labels(votes)[valid_idx]
    valid_x = augment_batch(images[valid_idx], matrices[valid_idx], rng, train=False)
    return FerData(
        images, matrices, targets, split, keep, found, train_idx, valid_idx, valid_truth, valid_x
    )
