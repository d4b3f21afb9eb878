"""Continuous facial cues from FaceMesh landmarks: head pose, gaze, smile, brows, mouth, eyes.

Every function here is pure and works on K faces at once. Landmarks are MediaPipe FaceMesh's 478
points (``refine_landmarks=True``, so 468-477 are the irises) in PIXEL coordinates of the frame,
array [K, 478, 3]: x right, y down, z depth in the same pixel scale as x (FaceMesh's normalised z
times the frame width), larger z farther from the camera.

Lengths are measured in 3D (with FaceMesh's depth) and divided by the inter-ocular distance IOD,
the 3D distance between the two outer eye corners (about 90 mm on an adult). IOD is rigid and
does not shrink when the head turns; face height is avoided on purpose because the chin drops
when the mouth opens. "Right" and "left" are the subject's own sides.

The face frame (see :func:`face_axes`) has x from the subject's right to left (image right for a
frontal, upright face), y downwards along the face, z into the head; the head pose angles are
read off it. The [0, 1] expression cues are heuristics: a linear ramp between a neutral value and
a clearly expressive one, both in IOD units, chosen from adult anthropometry and the FaceMesh
geometry of a neutral-to-smiling frontal portrait. They are comparable within a person over time;
across people, compare each track to its own median (``FaceTimeline.evidence`` does).
"""

from __future__ import annotations

import numpy as np

from ..arrays import FloatArray
from ..dsp import ramp as _ramp

N_LANDMARKS = 478  # FaceMesh points with refine_landmarks=True (468 mesh + 2 x 5 iris)

# Landmark indices (FaceMesh topology).
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_INNER, LEFT_EYE_OUTER = 362, 263
RIGHT_IRIS, LEFT_IRIS = 468, 473  # iris centres
RIGHT_EYE_LIDS = ((160, 144), (158, 153))  # (upper, lower) lid pairs, outer to inner
LEFT_EYE_LIDS = ((385, 380), (387, 373))
RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)  # outer to inner
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
RIGHT_BROW_INNER, LEFT_BROW_INNER = 55, 285  # inner ends of the brows' lower edge
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
MOUTH_RIGHT, MOUTH_LEFT = 61, 291  # mouth corners
# Rigid left/right pairs (eye corners, cheekbones, temples, nostril wings): their differences
# point along the face's x axis whatever the expression.
RIGID_PAIRS = ((33, 263), (133, 362), (234, 454), (127, 356), (98, 327))
FOREHEAD = (10, 151, 9)  # midline, upper forehead to glabella
NOSE_BASE = 2  # midline, just under the nose tip (does not move with the jaw)

# Gaze.
EYE_GAIN = 2.5  # eye width / eyeball radius (about 30 mm / 12 mm): iris shift to sin(angle)
IRIS_REST_V = -0.06  # iris centre above the eye-corner line when looking straight, eye widths
FOCAL_PER_SIDE = 1.0  # assumed focal length in units of the frame's longer side (~53 deg FOV)
EYE_CONTACT_SIGMA_DEG = 12.0  # deg off the line to the camera at which eye contact is 0.61
EYES_CLOSED_EAR = (0.10, 0.18)  # eye aspect ratio: eye contact 0 at or below, full from above

# Expression ramps (IOD units unless said otherwise): (neutral value, clearly expressive value).
SMILE_LIFT = (0.0, 0.08)  # mouth corners above the upper inner lip
SMILE_WIDTH = (0.60, 0.80)  # mouth-corner distance
BROW_HEIGHT = (0.22, 0.32)  # upper brow above the eye-corner line (raise)
BROW_GAP = (0.30, 0.24)  # distance between the inner brow ends (furrow pulls them together)
INNER_BROW_HEIGHT = (0.15, 0.09)  # inner brow end above the inner eye corner (furrow lowers it)
MOUTH_OPEN_FULL = 0.5  # inner-lip gap at which mouth_open is 1 (about 45 mm, a wide yawn)

CUE_NAMES: tuple[str, ...] = (
    "yaw",  # deg, head turned towards image right (the subject's left) is positive
    "pitch",  # deg, head tilted up is positive
    "roll",  # deg, eye line rotated clockwise in the image is positive
    "gaze_yaw",  # deg, head + eye direction, towards image right is positive
    "gaze_pitch",  # deg, head + eye direction, upwards is positive
    "eye_contact",  # [0, 1], 1 when the gaze points at the camera with open eyes
    "smile",  # [0, 1]
    "brow_raise",  # [0, 1]
    "brow_furrow",  # [0, 1]
    "mouth_open",  # [0, 1], inner-lip gap / (MOUTH_OPEN_FULL * IOD)
    "eye_open",  # [0, 1], mean eye aspect ratio of both eyes (open ~0.3, closed < 0.15)
    "face_size",  # px, geometric mean of the landmark bounding box's width and height
)

# Documented value ranges per cue, used by tests and by anyone clipping a plot axis.
CUE_RANGES: dict[str, tuple[float, float]] = {
    "yaw": (-180.0, 180.0),
    "pitch": (-90.0, 90.0),
    "roll": (-180.0, 180.0),
    "gaze_yaw": (-180.0, 180.0),
    "gaze_pitch": (-90.0, 90.0),
    "eye_contact": (0.0, 1.0),
    "smile": (0.0, 1.0),
    "brow_raise": (0.0, 1.0),
    "brow_furrow": (0.0, 1.0),
    "mouth_open": (0.0, 1.0),
    "eye_open": (0.0, 1.0),
    "face_size": (0.0, np.inf),
}


def _as_batch(landmarks: FloatArray) -> FloatArray:
    """float64 [K, 478, 3] from [478, 2|3] or [K, 478, 2|3]; missing depth becomes 0."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim == 2:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[1] != N_LANDMARKS or pts.shape[2] not in (2, 3):
        raise ValueError(f"landmarks must be [K, {N_LANDMARKS}, 2|3], got {pts.shape}")
    if pts.shape[2] == 2:
        pts = np.concatenate([pts, np.zeros(pts.shape[:2] + (1,))], axis=2)
    return pts


def _norm(v: FloatArray) -> FloatArray:
    """Euclidean length over the last axis."""
    out: FloatArray = np.sqrt((v * v).sum(axis=-1))
    return out


def _safe(x: FloatArray) -> FloatArray:
    """``x`` with zero-ish lengths replaced by NaN, so dividing by it gives NaN, no warning."""
    return np.where(x > 1e-9, x, np.nan)


def _unit(v: FloatArray) -> FloatArray:
    return v / _safe(_norm(v))[..., None]


def _dot(a: FloatArray, b: FloatArray) -> FloatArray:
    out: FloatArray = (a * b).sum(axis=-1)
    return out


def face_axes(landmarks: FloatArray) -> FloatArray:
    """The face's orientation in camera coordinates, float64 [K, 3, 3] with columns x, y, z.

    x: the sum of the rigid left-minus-right landmark pairs (by symmetry it has no depth offset).
    y: forehead (mean of FOREHEAD) to NOSE_BASE, made orthogonal to x; on an upright face looking
    into the camera this line lies in the image plane (about 1 deg on a frontal portrait), which
    defines pitch 0. z = x cross y points into the head. Camera axes: x right, y down, z away.
    """
    pts = _as_batch(landmarks)
    right = pts[:, [a for a, _ in RIGID_PAIRS]]
    left = pts[:, [b for _, b in RIGID_PAIRS]]
    x = _unit((left - right).sum(axis=1))
    down = pts[:, NOSE_BASE] - pts[:, list(FOREHEAD)].mean(axis=1)
    y = _unit(down - _dot(down, x)[:, None] * x)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=2)


def _angles(direction: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(yaw, pitch) in degrees of camera-space directions [K, 3] pointing towards the camera side.

    yaw: towards image right positive; pitch: upwards positive (camera y points down).
    """
    dx, dy, dz = direction[:, 0], direction[:, 1], direction[:, 2]
    yaw = np.degrees(np.arctan2(dx, -dz))
    pitch = np.degrees(np.arctan2(-dy, np.hypot(dx, dz)))
    return yaw, pitch


def head_pose(landmarks: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Head (yaw, pitch, roll) in degrees, each float64 [K].

    Yaw and pitch are the direction the face points (minus its z axis) relative to the camera's
    optical axis: 0, 0 for a frontal face. Roll is the image angle of the face's x axis.
    FaceMesh's depth is a learned estimate, so expect a few degrees of noise.
    """
    return _pose(face_axes(landmarks))


def _pose(axes: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    yaw, pitch = _angles(-axes[:, :, 2])
    roll = np.degrees(np.arctan2(axes[:, 1, 0], axes[:, 0, 0]))
    return yaw, pitch, roll


def eye_aspect_ratio(landmarks: FloatArray) -> FloatArray:
    """Mean eye aspect ratio of both eyes, float64 [K]: lid gaps over twice the eye width.

    (|upper1 - lower1| + |upper2 - lower2|) / (2 |outer - inner|), per eye; about 0.3 open,
    below 0.15 closed.
    """
    pts = _as_batch(landmarks)
    ears = []
    for (outer, inner), lids in (
        ((RIGHT_EYE_OUTER, RIGHT_EYE_INNER), RIGHT_EYE_LIDS),
        ((LEFT_EYE_OUTER, LEFT_EYE_INNER), LEFT_EYE_LIDS),
    ):
        gaps = sum(_norm(pts[:, u] - pts[:, d]) for u, d in lids)
        ears.append(gaps / (2.0 * _safe(_norm(pts[:, outer] - pts[:, inner]))))
    return 0.5 * (ears[0] + ears[1])


def _eye_in_head(pts: FloatArray, axes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Eye rotation in the head (yaw, pitch) in radians, [K] each, from the irises.

    The iris centre's offset from the eye-corner midpoint, along the face's x and y axes, in eye
    widths, is averaged over both eyes; an eyeball of radius eye_width / EYE_GAIN turns by
    asin(EYE_GAIN * offset). Vertical offsets are taken relative to IRIS_REST_V.
    """
    offsets = []
    for outer, inner, iris in (
        (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_IRIS),
        (LEFT_EYE_OUTER, LEFT_EYE_INNER, LEFT_IRIS),
    ):
        centre = 0.5 * (pts[:, outer] + pts[:, inner])
        width = _safe(_norm(pts[:, outer] - pts[:, inner]))[:, None]
        d = pts[:, iris] - centre
        offsets.append(np.stack([_dot(d, axes[:, :, 0]), _dot(d, axes[:, :, 1])], 1) / width)
    h, v = (0.5 * (offsets[0] + offsets[1])).T
    eye_yaw = np.arcsin(np.clip(EYE_GAIN * h, -1.0, 1.0))
    eye_pitch = -np.arcsin(np.clip(EYE_GAIN * (v - IRIS_REST_V), -1.0, 1.0))
    return eye_yaw, eye_pitch


def compute_cues(
    landmarks: FloatArray, *, image_size: tuple[int, int] | None = None
) -> dict[str, FloatArray]:
    """All cues of ``CUE_NAMES`` for K faces: name -> float64 [K].

    landmarks: [K, 478, 2|3] or [478, 2|3] FaceMesh points in pixels (see the module docstring).
    image_size: (height, width) of the frame in px, used to find the line from each face to the
    camera for ``eye_contact`` (focal length FOCAL_PER_SIDE * the longer side); None assumes the
    face sits on the optical axis.

    Formulas (IOD = 3D outer-eye-corner distance; ramps as defined by the module constants):
      yaw, pitch, roll: :func:`head_pose`.
      gaze_yaw, gaze_pitch: head direction rotated by the eye-in-head angles (:func:`_eye_in_head`).
      eye_contact: exp(-a^2 / 2 sigma^2) with a the angle between the gaze and the line from the
        face to the camera, sigma = EYE_CONTACT_SIGMA_DEG, times a ramp on the eye aspect ratio
        (closed eyes make no contact).
      smile: mean of ramp(corner lift, SMILE_LIFT) and ramp(mouth width, SMILE_WIDTH); lift is how
        far the mouth corners sit above the upper inner lip along the face's y axis / IOD.
      brow_raise: ramp(mean upper-brow height above the eye-corner line / IOD, BROW_HEIGHT).
      brow_furrow: mean of ramp(inner-brow gap / IOD, BROW_GAP) and ramp(inner-brow height above
        the inner eye corners / IOD, INNER_BROW_HEIGHT).
      mouth_open: clip(inner-lip distance / IOD / MOUTH_OPEN_FULL, 0, 1).
      eye_open: clip(mean eye aspect ratio, 0, 1) (:func:`eye_aspect_ratio`).
      face_size: sqrt(width * height) of the 2D landmark bounding box, px.
    A degenerate face (all points on one spot) gives NaN, never a made-up value.
    """
    pts = _as_batch(landmarks)
    k = len(pts)
    if k == 0:
        return {name: np.zeros(0) for name in CUE_NAMES}
    axes = face_axes(pts)
    ax_y = axes[:, :, 1]
    iod = _safe(_norm(pts[:, LEFT_EYE_OUTER] - pts[:, RIGHT_EYE_OUTER]))

    def height_above(upper: FloatArray, lower: FloatArray) -> FloatArray:
        """How far ``upper`` sits above ``lower`` along the face's y axis, in IOD, [K]."""
        return _dot(lower - upper, ax_y) / iod

    cues: dict[str, FloatArray] = {}
    cues["yaw"], cues["pitch"], cues["roll"] = _pose(axes)

    ear = eye_aspect_ratio(pts)
    eye_yaw, eye_pitch = _eye_in_head(pts, axes)
    # Gaze in face coordinates (x to the subject's left, y down, z into the head), then to camera.
    g_face = np.stack(
        [
            np.sin(eye_yaw) * np.cos(eye_pitch),
            -np.sin(eye_pitch),
            -np.cos(eye_yaw) * np.cos(eye_pitch),
        ],
        axis=1,
    )
    gaze = np.einsum("kij,kj->ki", axes, g_face)
    cues["gaze_yaw"], cues["gaze_pitch"] = _angles(gaze)
    lo, hi = pts[:, :, :2].min(axis=1), pts[:, :, :2].max(axis=1)  # landmark box, [K, 2] px
    centre = 0.5 * (lo + hi)
    if image_size is not None:
        h, w = image_size
        focal = FOCAL_PER_SIDE * max(h, w)
        ray = np.column_stack([centre[:, 0] - 0.5 * w, centre[:, 1] - 0.5 * h, np.full(k, focal)])
    else:
        ray = np.tile([0.0, 0.0, 1.0], (k, 1))
    to_camera = -_unit(ray)
    off_axis = np.degrees(np.arccos(np.clip(_dot(_unit(gaze), to_camera), -1.0, 1.0)))
    contact = np.exp(-0.5 * (off_axis / EYE_CONTACT_SIGMA_DEG) ** 2)
    cues["eye_contact"] = contact * _ramp(ear, *EYES_CLOSED_EAR)

    corners = 0.5 * (pts[:, MOUTH_RIGHT] + pts[:, MOUTH_LEFT])
    lift = height_above(corners, pts[:, UPPER_LIP_INNER])
    width = _norm(pts[:, MOUTH_LEFT] - pts[:, MOUTH_RIGHT]) / iod
    cues["smile"] = 0.5 * (_ramp(lift, *SMILE_LIFT) + _ramp(width, *SMILE_WIDTH))

    eye_line = 0.25 * (
        pts[:, RIGHT_EYE_OUTER]
        + pts[:, RIGHT_EYE_INNER]
        + pts[:, LEFT_EYE_OUTER]
        + pts[:, LEFT_EYE_INNER]
    )
    brows = pts[:, list(RIGHT_BROW_UPPER) + list(LEFT_BROW_UPPER)].mean(axis=1)
    cues["brow_raise"] = _ramp(height_above(brows, eye_line), *BROW_HEIGHT)

    gap = _norm(pts[:, LEFT_BROW_INNER] - pts[:, RIGHT_BROW_INNER]) / iod
    inner_height = 0.5 * (
        height_above(pts[:, RIGHT_BROW_INNER], pts[:, RIGHT_EYE_INNER])
        + height_above(pts[:, LEFT_BROW_INNER], pts[:, LEFT_EYE_INNER])
    )
    cues["brow_furrow"] = 0.5 * (_ramp(gap, *BROW_GAP) + _ramp(inner_height, *INNER_BROW_HEIGHT))

    lips = _norm(pts[:, LOWER_LIP_INNER] - pts[:, UPPER_LIP_INNER]) / iod
    cues["mouth_open"] = np.clip(lips / MOUTH_OPEN_FULL, 0.0, 1.0)
    cues["eye_open"] = np.clip(ear, 0.0, 1.0)

    span = hi - lo
    cues["face_size"] = np.sqrt(span[:, 0] * span[:, 1])

    bad = ~np.isfinite(iod)
    for name in CUE_NAMES:
        cues[name] = np.where(bad, np.nan, cues[name]).astype(np.float64)
    return cues


def face_cues(
    landmarks: FloatArray, *, image_size: tuple[int, int] | None = None
) -> dict[str, float]:
    """The cues of one face ([478, 2|3] pixel landmarks) as floats; see :func:`compute_cues`."""
    return {name: float(v[0]) for name, v in compute_cues(landmarks, image_size=image_size).items()}


def landmark_boxes(landmarks: FloatArray) -> FloatArray:
    """Bounding boxes (x0, y0, x1, y1) in px of K faces' 2D landmarks, float64 [K, 4]."""
    pts = _as_batch(landmarks)[:, :, :2]
    return np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)
