"""Train and evaluate the facial-expression (FER) model on FER+.

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

import argparse
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from analyzer.labels import LABELS
from analyzer.models import MODELS_DIR, write_checksums

from .metrics import classification_report, expected_calibration_error

Progress = Callable[[str, int, int], None]

DEFAULT_MODEL = "fer-ferplus-vgg"  # the shipped model folder under models/
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


# ------------------------------------------------------------------------------------ training


def _log_softmax_ce(logits, targets):
    import torch

    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


def fit_temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """Temperature T minimising the NLL of softmax(logits / T) against ``truth``; grid then refine.

    logits: [N, K]; truth: [N] class indices. T > 1 softens overconfident outputs.
    """
    from analyzer.video.expression import softmax

    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.log(p[np.arange(len(truth)), truth] + 1e-12).mean())

    grid = np.exp(np.linspace(np.log(0.3), np.log(5.0), 80))
    best = float(grid[np.argmin([nll(t) for t in grid])])
    fine = best * np.exp(np.linspace(-0.05, 0.05, 41))
    return float(fine[np.argmin([nll(t) for t in fine])])


WARMUP = 0.05  # fraction of training spent ramping the learning rate up


def _lr_factor(done: float) -> float:
    """Learning-rate multiplier at training progress ``done`` in [0, 1]: warm-up, then cosine."""
    if done < WARMUP:
        return done / WARMUP
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (done - WARMUP) / (1.0 - WARMUP))))


def train_fer(
    npz: str | os.PathLike,
    out: str | os.PathLike,
    *,
    progress: Progress | None = None,
    epochs: int = 24,
    width: int = 16,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
    threads: int = 1,
    cache_dir: str | os.PathLike | None = None,
    name: str | None = None,
    time_budget_s: float | None = None,
) -> Path:
    """Train FerNet on the FER+ ``train`` rows of ``npz`` and write a model folder to ``out``.

    AdamW with linear warm-up then cosine decay of the learning rate, soft-target cross-entropy
    on vote distributions, augmented aligned crops, an exponential moving average of the weights
    (what is shipped). The temperature, and whether to average with the mirrored crop, are chosen
    on the ``valid`` rows that are not duplicates of train images (majority labels). Writes
    model.json, weights.pt, training.json and SHA256SUMS; returns the folder. CPU cost: about
    100-150 s of one core per epoch at width 16.

    ``time_budget_s`` bounds wall time on a shared machine: the schedule then advances with
    whichever is further along, steps or elapsed time, and training stops at the end of it (so
    fewer than ``epochs`` epochs may run; training.json records how many).
    """
    import torch
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from analyzer.video.expression import WEIGHTS_FILE, ExpressionModel, FerNet

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
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

    net = FerNet(width=width).to(memory_format=torch.channels_last)
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.998), use_buffers=True)
    opt = torch.optim.AdamW(net.parameters(), lr=lr * _lr_factor(0.0), weight_decay=weight_decay)
    steps_per_epoch = len(train_idx) // batch_size
    total_steps = epochs * steps_per_epoch
    start, step = time.time(), 0
    history = []
    # Augmentation (OpenCV, releases the GIL) runs one batch ahead in a thread.
    pool = ThreadPoolExecutor(max_workers=1)
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(train_idx)
        batches = [np.sort(order[b * batch_size : (b + 1) * batch_size])
                   for b in range(steps_per_epoch)]  # fmt: skip
        aug_rng = np.random.default_rng([seed, epoch])
        pending = pool.submit(augment_batch, images[batches[0]], matrices[batches[0]], aug_rng)
        t0, total = time.time(), 0.0
        for b, idx in enumerate(batches):
            x = pending.result()
            if b + 1 < steps_per_epoch:
                nxt = batches[b + 1]
                pending = pool.submit(augment_batch, images[nxt], matrices[nxt], aug_rng)
            xt = torch.from_numpy(x.astype(np.float32))[:, None].contiguous(
                memory_format=torch.channels_last
            )
            loss = _log_softmax_ce(net(xt), torch.from_numpy(targets[idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            done = step / total_steps
            if time_budget_s:
                done = max(done, (time.time() - start) / time_budget_s)
            for group in opt.param_groups:
                group["lr"] = lr * _lr_factor(done)
            ema.update_parameters(net)
            total += loss.item()
            if done >= 1.0:
                break
        model = ExpressionModel(ema.module, temperature=1.0, flip_tta=False)
        acc = float((model.logits(valid_x).argmax(1) == valid_truth).mean())
        ema.module.train()  # ExpressionModel put it in eval mode; EMA updates do not care
        row = {"epoch": epoch + 1, "loss": round(total / (b + 1), 4), "steps": b + 1}
        row.update(valid_dedup_acc=round(acc, 4), s=round(time.time() - t0, 1))
        history.append(row)
        print(json.dumps(history[-1]), flush=True)
        if progress is not None:
            progress("epoch", epoch + 1, epochs)
        if done >= 1.0:
            break

    pool.shutdown()
    final = ema.module.eval()
    choice = {}
    for flip in (False, True):
        logits = ExpressionModel(final, flip_tta=flip).logits(valid_x)
        choice[flip] = (float((logits.argmax(1) == valid_truth).mean()), logits)
    flip_tta = choice[True][0] >= choice[False][0]
    temperature = fit_temperature(choice[flip_tta][1], valid_truth)

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.contiguous() for k, v in final.state_dict().items()}, folder / WEIGHTS_FILE)
    config = {
        "kind": "fer",
        "loader": "analyzer.video.expression:ExpressionModel",
        "name": name or folder.name,
        "labels": list(LABELS),
        "architecture": "FerNet",
        "width": width,
        "input_size": CROP,
        "preprocessing": "analyzer.video.align.align_face (grey, eyes level, FER+ framing)",
        "weights": WEIGHTS_FILE,
        "temperature": round(temperature, 4),
        "flip_tta": bool(flip_tta),
    }
    (folder / "model.json").write_text(json.dumps(config, indent=2) + "\n")
    report = {
        "npz": str(npz), "epochs": epochs, "width": width, "batch_size": batch_size, "lr": lr,
        "weight_decay": weight_decay, "seed": seed, "n_train": len(train_idx),
        "time_budget_s": time_budget_s, "epochs_run": len(history),
        "n_train_rows": int((split == "train").sum()),
        "n_train_dropped_nf": int(((split == "train") & ~keep).sum()),
        "n_no_face_train": int(((split == "train") & ~found).sum()),
        "n_valid_dedup_majority": len(valid_idx),
        "valid_dedup_acc_no_flip": round(choice[False][0], 4),
        "valid_dedup_acc_flip": round(choice[True][0], 4),
        "history": history,
    }  # fmt: skip
    (folder / "training.json").write_text(json.dumps(report, indent=2) + "\n")
    write_checksums(folder)
    return folder


# ---------------------------------------------------------------------------------- evaluation


def evaluate_fer(
    npz: str | os.PathLike, model: str | os.PathLike = DEFAULT_MODEL, *,
    split: str | None = None, dedupe: bool = False, cache_dir: str | os.PathLike | None = None,
) -> dict:  # fmt: skip
    """Majority-label metrics of a FER model on the rows of ``npz`` (all rows, or one ``split``).

    Each image is aligned as in training (FaceMesh on the upscaled crop, raw crop if none found),
    scored with the model's calibrated probabilities, and compared with its majority label.
    ``dedupe`` also drops rows whose pixels occur outside the evaluated rows or earlier among them.
    Returns classification_report's keys (n, accuracy, macro_f1, per_class, confusion, labels)
    plus ece (15 bins, calibrated top probability), skipped (no majority), duplicates_dropped,
    no_face (rows evaluated on the raw crop) and model.
    """
    from analyzer.models import load_model

    data = np.load(npz)
    images, votes = data["images"], data["votes"]
    selected = np.ones(len(images), dtype=bool)
    if split is not None:
        if "split" not in data.files:
            raise ValueError(f"{npz} has no 'split' array; cannot select split {split!r}")
        selected = data["split"] == split
    dup = duplicate_mask(images, selected) if dedupe else np.zeros(len(images), dtype=bool)
    truth_all = majority_labels(votes)
    rows = np.flatnonzero(selected & ~dup & (truth_all >= 0))
    skipped = int((selected & ~dup & (truth_all < 0)).sum())

    fer = load_model(model, "fer")
    if len(rows):
        # Landmarks of the whole file, so one cache serves every split and the training run.
        landmarks = cached_landmarks(images, cache_dir=cache_dir)[rows]
        matrices, found = alignment_matrices(landmarks)
        crops = augment_batch(images[rows], matrices, np.random.default_rng(0), train=False)
        probs = fer.predict(list(crops)).probs
    else:
        found, probs = np.zeros(0, bool), np.zeros((0, len(LABELS)), np.float32)
    truth = truth_all[rows]
    report = classification_report(truth, probs.argmax(axis=1), LABELS)
    report["ece"] = round(expected_calibration_error(probs, truth), 4)
    report["skipped"] = skipped
    report["duplicates_dropped"] = int(dup.sum())
    report["no_face"] = int((~found).sum())
    report["model"] = getattr(fer, "name", str(model))
    return report


# --------------------------------------------------------------------------------- CLI helpers


def add_train_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``emotrace train fer``."""
    parser.add_argument("--npz", required=True, help="FER+ npz (images, votes[, split])")
    parser.add_argument("--out", default=str(MODELS_DIR / DEFAULT_MODEL), help="model folder")
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--width", type=int, default=16, help="channels of the first stage")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--cache-dir", default=None, help=f"landmark cache (${CACHE_ENV})")
    parser.add_argument(
        "--time-budget-min", type=float, default=None, help="stop after this many minutes"
    )


def run_train(args: argparse.Namespace) -> None:
    def progress(step: str, done: int, total: int) -> None:
        print(f"{step} {done}/{total}", flush=True)

    folder = train_fer(
        args.npz, args.out, progress=progress, epochs=args.epochs, width=args.width,
        batch_size=args.batch_size, lr=args.lr, seed=args.seed, threads=args.threads,
        cache_dir=args.cache_dir,
        time_budget_s=args.time_budget_min * 60 if args.time_budget_min else None,
    )  # fmt: skip
    print(folder)


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``emotrace eval fer``."""
    parser.add_argument("--npz", required=True, help="npz with images and votes")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model name or folder")
    parser.add_argument("--split", default=None, help="evaluate only rows of this split")
    parser.add_argument("--dedupe", action="store_true",
                        help="drop rows duplicated outside the selection or within it")  # fmt: skip
    parser.add_argument("--cache-dir", default=None, help=f"landmark cache (${CACHE_ENV})")


def run_eval(args: argparse.Namespace) -> None:
    """Print the metrics as JSON on the last line."""
    report = evaluate_fer(
        args.npz, args.model, split=args.split, dedupe=args.dedupe, cache_dir=args.cache_dir
    )
    print(json.dumps(report))
