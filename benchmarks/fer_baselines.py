"""Compare the shipped FER model with the offline baselines ``facex`` and ``fer`` on FER+ valid.

Usage (project venv; the baselines need TensorFlow, which does not belong in the product's
environment, so they run in a throwaway venv named by --baseline-python):

    python -m venv /tmp/base_venv
    /tmp/base_venv/bin/pip install tensorflow-cpu opencv-contrib-python scikit-image pillow \
        pandas requests matplotlib
    /tmp/base_venv/bin/pip install --no-deps facex fer   # their full deps pull a CUDA torch
    python -m benchmarks.fer_baselines --npz ../shared/data/faces/ferplus_train_valid.npz \
        --baseline-python /tmp/base_venv/bin/python [--dedupe]

Rows: ``split == valid`` with a majority label (optionally deduplicated against train). Each
baseline gets the raw 48 px FER+ crop (FER2013 images: its own training distribution, so this is
its best case) through its own classifier call: facex ``EmotionClassifier.detect_emotion`` (the
bundled .tflite, 200 px RGB input), fer's bundled mini-Xception (``FER._classify_emotions`` on
64 px crops scaled to [-1, 1], as ``FER.detect_emotions`` does after face detection). Their face
detectors are bypassed: the crop already is the face. Our model gets the same rows through
``evaluate_fer`` (FaceMesh + align_face, as in the product). Both baselines were trained on
FER2013, whose images include FER+ valid, with FER2013's original labels; FER+ relabelled them,
so they are scored against labels they were not trained on. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Each baseline's output classes, in its order, as product labels.
BASELINE_CLASSES = {
    "facex": ("angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised"),
    "fer": ("angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral"),
}


def _worker(name: str, crops_path: str, out_path: str) -> None:
    """Runs inside the baseline venv: probabilities [N, 7] in the baseline's class order."""
    import cv2

    crops = np.load(crops_path)
    if name == "facex":
        import pathlib

        import facex.core

        model_path = pathlib.Path(facex.core.__file__).parent / "assets" / "model_optimized.tflite"
        clf = facex.core.EmotionClassifier(str(model_path))
        probs = np.array([list(clf.detect_emotion(crop).values()) for crop in crops])
    elif name == "fer":
        from fer.fer import FER

        detector = FER(mtcnn=False)
        faces = np.stack([cv2.resize(c, (64, 64)) for c in crops]).astype(np.float32)
        probs = np.asarray(detector._classify_emotions((faces / 255.0 - 0.5) * 2.0))
    else:
        raise ValueError(name)
    np.save(out_path, probs.astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", required=True)
    parser.add_argument("--model", default=None, help="our model (default: the shipped one)")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--dedupe", action="store_true", help="drop duplicates of other splits")
    parser.add_argument("--baseline-python", default="/tmp/base_venv/bin/python")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--crops", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.crops, args.out)
        return

    from analyzer.labels import LABELS
    from train.fer import DEFAULT_MODEL, duplicate_mask, evaluate_fer, majority_labels
    from train.metrics import classification_report, expected_calibration_error

    data = np.load(args.npz)
    images, votes = data["images"], data["votes"]
    selected = data["split"] == args.split
    if args.dedupe:
        selected &= ~duplicate_mask(images, selected)
    truth_all = majority_labels(votes)
    rows = np.flatnonzero(selected & (truth_all >= 0))
    truth = truth_all[rows]

    results = {}
    model = args.model or DEFAULT_MODEL
    ours = evaluate_fer(args.npz, model, split=args.split, dedupe=args.dedupe)
    results[f"emotrace:{ours['model']}"] = {
        k: ours[k] for k in ("n", "accuracy", "macro_f1", "ece")
    }
    with tempfile.TemporaryDirectory() as tmp:
        crops_path = Path(tmp) / "crops.npy"
        np.save(crops_path, images[rows])
        for name, classes in BASELINE_CLASSES.items():
            out = Path(tmp) / f"{name}.npy"
            # the worker runs as a script in the baseline venv: it imports nothing of ours
            cmd = [args.baseline_python, __file__, "--npz", args.npz, "--worker", name,
                   "--crops", str(crops_path), "--out", str(out)]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                results[name] = {"error": done.stderr.strip().splitlines()[-1:]}
                continue
            raw = np.load(out)
            probs = np.zeros((len(raw), len(LABELS)))
            for j, label in enumerate(classes):
                probs[:, LABELS.index(label)] = raw[:, j]
            probs /= probs.sum(axis=1, keepdims=True)
            report = classification_report(truth, probs.argmax(axis=1), LABELS)
            report["ece"] = round(expected_calibration_error(probs, truth), 4)
            results[name] = {k: report[k] for k in ("n", "accuracy", "macro_f1", "ece")}
            results[name]["per_class"] = report["per_class"]
    results["rows"] = {"split": args.split, "dedupe": args.dedupe, "n": int(len(rows))}
    print(json.dumps(results), file=sys.stdout)


if __name__ == "__main__":
    main()
