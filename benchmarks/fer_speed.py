"""CPU speed of the FER path: align_face, face_quality and the model, per face.

Usage: python benchmarks/fer_speed.py [--model NAME_OR_PATH] [--threads 1] [--calls 300]

Prints one JSON line: ms per face at batch 1 (median and 90th percentile of ``predict`` calls on
one crop, the shipped flip test-time augmentation included), faces per second at batch 64 and 256,
and the ms of align_face / face_quality on a 512x512 frame (skimage's astronaut, FaceMesh
landmarks found once). FaceMesh itself is not timed here (about 8-13 ms per frame, see
ENVIRONMENT.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent  # the repository, so `analyzer` imports from here
sys.path.insert(0, str(ROOT))

from analyzer.models import load_model  # noqa: E402
from analyzer.train.fer import DEFAULT_MODEL  # noqa: E402
from analyzer.video.align import align_face, face_quality  # noqa: E402


def _ms(fn, calls: int) -> np.ndarray:
    fn()  # warm-up: first call allocates
    fn()
    out = np.empty(calls)
    for i in range(calls):
        t = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t) * 1000.0
    return out


def _astronaut_landmarks():
    import mediapipe as mp
    from skimage.data import astronaut

    image = astronaut()
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        face = mesh.process(image).multi_face_landmarks[0].landmark
    return image, np.array([(p.x * 512, p.y * 512, p.z * 512) for p in face])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = load_model(args.model, "fer")
    rng = np.random.default_rng(0)
    crops = list(rng.integers(0, 256, (256, 48, 48), dtype=np.uint8))
    single = _ms(lambda: model.predict(crops[:1]), args.calls)
    result = {
        "model": model.name,
        "threads": args.threads,
        "flip_tta": getattr(model, "flip_tta", None),
        "batch1_ms_median": round(float(np.median(single)), 3),
        "batch1_ms_p90": round(float(np.percentile(single, 90)), 3),
    }
    for batch in (64, 256):
        ms = _ms(lambda b=batch: model.predict(crops[:b]), max(args.calls // 20, 5))
        result[f"batch{batch}_faces_per_s"] = round(batch / (float(np.median(ms)) / 1000.0), 1)
    image, landmarks = _astronaut_landmarks()
    result["align_face_ms"] = round(float(np.median(_ms(lambda: align_face(image, landmarks),
                                                            args.calls))), 3)  # fmt: skip
    result["face_quality_ms"] = round(float(np.median(_ms(lambda: face_quality(image, landmarks),
                                                              args.calls))), 3)  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
