"""Train and evaluate the facial-expression (FER) model on FER+.

The data side (votes to soft targets and majority labels, landmarks, alignment, augmentation,
the row selection) is ``train.ferplus``, with the label decisions in its docstring; this module
trains (``train_fer``), evaluates (``evaluate_fer``) and adds the command-line options.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from analyzer.labels import LABELS
from analyzer.models import MODELS_DIR, write_checksums

from .ferplus import (  # the data side; also importable from here, its home before the split
    CACHE_ENV,
    CROP,
    FerData,
    Progress,
    alignment_matrices,
    augment_batch,
    cached_landmarks,
    duplicate_mask,
    load_fer_data,
    majority_labels,
)
from .metrics import classification_report, expected_calibration_error

if TYPE_CHECKING:
    from analyzer.video.expression import FerNet


DEFAULT_MODEL = "fer-ferplus-vgg"  # the shipped model folder under models/

# ------------------------------------------------------------------------------------ training


def _log_softmax_ce(logits, targets):
    import torch

    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


def fit_temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """Temperature T minimising the NLL of softmax(logits / T) against ``truth``; grid then refine.

    logits: [N, K]; truth: [N] class indices. T > 1 softens overconfident outputs.
    """
    from analyzer.dsp import softmax

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

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    data = load_fer_data(npz, rng, cache_dir=cache_dir, progress=progress)
    final, history = _fit(
        data, rng, progress=progress, epochs=epochs, width=width, batch_size=batch_size, lr=lr,
        weight_decay=weight_decay, seed=seed, time_budget_s=time_budget_s,
    )  # fmt: skip
    accuracy, flip_tta, temperature = _calibrate(final, data)

    folder = Path(out)
    _save_model(folder, final, name=name or folder.name, width=width, flip_tta=flip_tta,
                temperature=temperature)  # fmt: skip
    report = {
        "npz": str(npz), "epochs": epochs, "width": width, "batch_size": batch_size, "lr": lr,
        "weight_decay": weight_decay, "seed": seed, "n_train": len(data.train_idx),
        "time_budget_s": time_budget_s, "epochs_run": len(history),
        "n_train_rows": int((data.split == "train").sum()),
        "n_train_dropped_nf": int(((data.split == "train") & ~data.keep).sum()),
        "n_no_face_train": int(((data.split == "train") & ~data.found).sum()),
        "n_valid_dedup_majority": len(data.valid_idx),
        "valid_dedup_acc_no_flip": round(accuracy[False], 4),
        "valid_dedup_acc_flip": round(accuracy[True], 4),
        "history": history,
    }  # fmt: skip
    (folder / "training.json").write_text(json.dumps(report, indent=2) + "\n")
    write_checksums(folder)
    return folder


def _fit(
    data: FerData,
    rng: np.random.Generator,
    *,
    progress: Progress | None,
    epochs: int,
    width: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    time_budget_s: float | None,
) -> tuple[FerNet, list[dict]]:
    """The epoch loop of ``train_fer``: returns the EMA network (eval mode) and one row per epoch.

    Each epoch prints its row (loss, steps, de-duplicated validation accuracy, seconds) as JSON.
    """
    import torch
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from analyzer.video.expression import ExpressionModel, FerNet

    images, matrices, targets = data.images, data.matrices, data.targets
    # Module.to takes memory_format at run time; torch's stubs leave that keyword out
    net = FerNet(width=width).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.998), use_buffers=True)
    opt = torch.optim.AdamW(net.parameters(), lr=lr * _lr_factor(0.0), weight_decay=weight_decay)
    steps_per_epoch = len(data.train_idx) // batch_size
    total_steps = epochs * steps_per_epoch
    start, step = time.time(), 0
    history = []
    # Augmentation (OpenCV, releases the GIL) runs one batch ahead in a thread.
    pool = ThreadPoolExecutor(max_workers=1)
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(data.train_idx)
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
        model = ExpressionModel(cast(FerNet, ema.module), temperature=1.0, flip_tta=False)
        acc = float((model.logits(data.valid_x).argmax(1) == data.valid_truth).mean())
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
    return cast(FerNet, ema.module).eval(), history  # the average is a copy of the FerNet


def _calibrate(final: FerNet, data: FerData) -> tuple[dict[bool, float], bool, float]:
    """Choose flip averaging and fit the temperature on the de-duplicated validation rows.

    Returns (validation accuracy without and with flip averaging, flip_tta, temperature).
    """
    from analyzer.video.expression import ExpressionModel

    choice = {}
    for flip in (False, True):
        logits = ExpressionModel(final, flip_tta=flip).logits(data.valid_x)
        choice[flip] = (float((logits.argmax(1) == data.valid_truth).mean()), logits)
    flip_tta = choice[True][0] >= choice[False][0]
    temperature = fit_temperature(choice[flip_tta][1], data.valid_truth)
    return {flip: acc for flip, (acc, _) in choice.items()}, flip_tta, temperature


def _save_model(
    folder: Path, final: FerNet, *, name: str, width: int, flip_tta: bool,
    temperature: float,
) -> None:  # fmt: skip
    """Write weights.pt and model.json of a trained FerNet into ``folder`` (made if needed)."""
    import torch

    from analyzer.video.expression import WEIGHTS_FILE

    folder.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.contiguous() for k, v in final.state_dict().items()}, folder / WEIGHTS_FILE)
    config = {
        "kind": "fer",
        "loader": "analyzer.video.expression:ExpressionModel",
        "name": name,
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
