"""Face alignment shared by FER training and inference, and a per-face input-quality score.

Both paths call :func:`align_face` on a frame plus MediaPipe FaceMesh landmarks, so the model
sees faces framed exactly as during training: eyes level, scaled and centred like a FER+ crop
(FER+ images are the model's training data), grey, ``FACE_SIZE`` pixels square.

Landmarks are FaceMesh's 478 points (``refine_landmarks=True``; the first 468 are enough) in
PIXEL coordinates of the frame, array [478, 2 or 3] (x right, y down; z ignored).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..arrays import FloatArray, ImageArray
from ..dsp import ramp

FACE_SIZE = 48  # px, side of the aligned crop (FER+ native resolution)
TEMPLATE_SIZE = 48.0  # px, side of the crop in which TEMPLATE is expressed

# FaceMesh indices. "Right" is the subject's right eye (image left in a non-mirrored frame).
RIGHT_EYE = (33, 133)  # outer, inner corner
LEFT_EYE = (362, 263)  # inner, outer corner
NOSE_TIP = 1
# Rigid points used to fit scale and position (eye corners, nose bridge and base). The mouth, brows
# and jaw are left out on purpose: they move with the expression the model has to read.
ALIGN_POINTS = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 2, 98, 327)

# Where ALIGN_POINTS sit, after levelling the eyes, in a 48 px FER+ crop: the median over the FER+
# train images in which FaceMesh found a face (landmarks from 4x upscaled crops), mirrored and
# averaged so that the template is left-right symmetric (a flipped aligned face is again aligned).
# Units: px of a 48 px crop; rows follow ALIGN_POINTS; columns x, y.
TEMPLATE = np.array(
    [
        [11.50, 18.61],
        [18.97, 19.22],
        [29.03, 19.22],
        [36.50, 18.61],
        [24.00, 17.93],
        [24.00, 20.25],
        [24.00, 22.23],
        [24.00, 24.04],
        [24.00, 25.97],
        [24.00, 28.26],
        [24.00, 29.94],
        [24.00, 31.39],
        [19.06, 30.66],
        [28.94, 30.66],
    ],
    dtype=np.float64,
)

# face_quality thresholds.
MIN_FACE_PX = 16.0  # px, crop side in the frame at or below which quality from size is 0
FULL_FACE_PX = 48.0  # px, crop side at or above which size costs nothing (FER+ resolution)
BLUR_LOG_VAR = (3.5, 5.5)  # ln(Laplacian variance of the 48 px crop, grey levels^2): quality 0 at
# or below the first, 1 from the second; 99 % of aligned FER+ crops are above 5.35 (median 6.9).
YAW_DEG = (30.0, 65.0)  # degrees: quality 1 up to the first, 0 from the second. FER+ faces: median
# 9, 90th percentile 31, 99th 56 degrees (by estimate_yaw_deg): most FER+ poses keep quality 1.
YAW_GAIN = 0.9  # nose-tip offset (half eye spans) per tan(yaw), from a rotated FaceMesh face
MAX_OUTSIDE = 0.3  # fraction of landmarks outside the frame at which quality from it is 0


def _gray(image: ImageArray) -> ImageArray:
    """uint8 [H, W] from uint8 [H, W] or RGB [H, W, 3]."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    raise ValueError(f"image must be [H, W] or [H, W, 3], got {image.shape}")


def _xy(landmarks: FloatArray) -> FloatArray:
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < 468 or pts.shape[1] < 2:
        raise ValueError(f"landmarks must be [478, 2 or 3] FaceMesh points, got {pts.shape}")
    return pts[:, :2]


def eye_centres(landmarks: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(right, left) eye centres in pixels, each [2]: the mean of each eye's two corners.

    Corners rather than the iris so that gaze does not tilt the alignment.
    """
    pts = _xy(landmarks)
    return pts[list(RIGHT_EYE)].mean(axis=0), pts[list(LEFT_EYE)].mean(axis=0)


def alignment_matrix(landmarks: FloatArray, *, size: int = FACE_SIZE) -> FloatArray:
    """The 2x3 affine (a similarity) taking frame pixels to aligned-crop pixels.

    Rotation levels the eye line; scale and shift are the least-squares fit of the rotated
    ALIGN_POINTS to TEMPLATE (rotation held fixed), so yaw or pitch alone does not shrink the face
    the way an inter-ocular distance would. Returns float64 [2, 3] for ``cv2.warpAffine``.
    """
    pts = _xy(landmarks)
    right, left = eye_centres(pts)
    dx, dy = left - right  # image x grows from the subject's right eye to the left one
    angle = np.arctan2(dy, dx)
    c, s = np.cos(-angle), np.sin(-angle)
    rot = np.array([[c, -s], [s, c]])
    src = pts[list(ALIGN_POINTS)] @ rot.T  # levelled, still in frame pixels
    dst = TEMPLATE * (size / TEMPLATE_SIZE)
    src_c, dst_c = src - src.mean(axis=0), dst - dst.mean(axis=0)
    scale = float((src_c * dst_c).sum() / max((src_c**2).sum(), 1e-9))
    shift = dst.mean(axis=0) - scale * src.mean(axis=0)
    return np.hstack([scale * rot, shift[:, None]])


def warp_gray(gray: ImageArray, matrix: FloatArray, size: int) -> ImageArray:
    """Apply a 2x3 frame-to-crop affine to a grey image; uint8 [size, size].

    Area-averaging when shrinking (a 300 px face to 48 px would alias with bilinear sampling),
    bilinear otherwise; borders replicate the edge so FER+ crops warped past their edge stay grey
    rather than turning black.
    """
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.5:
        # Pre-shrink with INTER_AREA so each crop pixel averages its source pixels.
        factor = scale * 1.5
        small = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        pre = np.array([[factor, 0.0, 0.0], [0.0, factor, 0.0]])
        pre[:, 2] = 0.5 * factor - 0.5  # pixel centres: resize maps x -> (x + 0.5) * f - 0.5
        pre3 = np.vstack([pre, [0, 0, 1]])
        matrix = np.asarray(matrix) @ np.linalg.inv(pre3)
        gray = np.asarray(small, dtype=np.uint8)
    warped = cv2.warpAffine(
        gray,
        np.asarray(matrix, dtype=np.float64),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(warped, dtype=np.uint8)


def align_face(image: ImageArray, landmarks: FloatArray, *, size: int = FACE_SIZE) -> ImageArray:
    """Level, scale and crop one face like a FER+ crop: uint8 [size, size] grey.

    image: uint8 RGB [H, W, 3] or grey [H, W] frame. landmarks: FaceMesh points of that face in
    pixel coordinates, [478, 2 or 3]. The same function prepares FER+ training images (with
    landmarks found on the upscaled crop), so do not preprocess the crop further before the model.
    """
    gray = _gray(image)
    return warp_gray(gray, alignment_matrix(landmarks, size=size), size)


def estimate_yaw_deg(landmarks: FloatArray) -> float:
    """Unsigned head yaw in degrees (0 frontal) from where the nose tip sits between the eyes.

    The nose tip stands in front of the eye corners, so turning the head by yaw moves its image
    off the eyes' midpoint by about YAW_GAIN * tan(yaw) half inter-ocular distances (calibrated
    by rotating FaceMesh's 3-D landmarks of a frontal face). Measured along the eye line, so roll
    does not count; monotonic up to a profile view, where FaceMesh itself fails.
    """
    pts = _xy(landmarks)
    outer_r, outer_l = pts[RIGHT_EYE[0]], pts[LEFT_EYE[1]]
    span = outer_l - outer_r
    width = float(span @ span)
    if width < 1e-9:
        return 90.0
    offset = 2.0 * ((pts[NOSE_TIP] - outer_r) @ span / width - 0.5)  # -1..1 at the eye corners
    return float(np.degrees(np.arctan(abs(offset) / YAW_GAIN)))


def face_quality(image: ImageArray, landmarks: FloatArray) -> float:
    """How usable this face is for expression reading, in [0, 1] (1 = as good as FER+ data).

    The product of four factors, each in [0, 1]:
    size (side in frame pixels of the region that becomes the crop: 0 at MIN_FACE_PX, 1 from
    FULL_FACE_PX), sharpness (log Laplacian variance of the aligned crop, see BLUR_LOG_VAR),
    yaw (estimate_yaw_deg, see YAW_DEG) and the fraction of the 478 landmarks outside the
    frame (0 at MAX_OUTSIDE). The engine multiplies model confidence by it.
    """
    gray = _gray(image)
    pts = _xy(landmarks)
    matrix = alignment_matrix(pts)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # crop px per frame px
    q_size = float(ramp(FACE_SIZE / max(scale, 1e-9), MIN_FACE_PX, FULL_FACE_PX))

    crop = warp_gray(gray, matrix, FACE_SIZE)
    log_var = float(np.log(cv2.Laplacian(crop, cv2.CV_64F).var() + 1e-6))
    q_blur = float(ramp(log_var, *BLUR_LOG_VAR))

    q_yaw = 1.0 - float(ramp(estimate_yaw_deg(pts), *YAW_DEG))

    h, w = gray.shape
    outside = ((pts[:, 0] < 0) | (pts[:, 0] >= w) | (pts[:, 1] < 0) | (pts[:, 1] >= h)).mean()
    q_out = 1.0 - float(ramp(float(outside), 0.0, MAX_OUTSIDE))
    return float(q_size * q_blur * q_yaw * q_out)
