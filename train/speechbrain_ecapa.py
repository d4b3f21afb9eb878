"""Speech emotion from scratch, the SpeechBrain way: a small ECAPA-TDNN on 80-band filterbanks.

A comparison candidate for issue 3, not the shipped model (that is ``ser-whisper-tiny-head``, a
head on frozen Whisper features, which wins by far). Optional: it needs the SpeechBrain
environment (``make speechbrain-env`` builds ``.venv-sb`` with torch 2.14.1, torchaudio 2.11.0
and speechbrain 1.1.2); ``import analyzer`` never imports this module.

    .venv-sb/bin/python -m train.speechbrain_ecapa \\
        --manifest ../shared/data/speech/manifest.csv --out /tmp/sb_ecapa --minutes 15

Recipe (``hparams/ser_ecapa.yaml``, HyperPyYAML): SpeechBrain ``Fbank`` (80 mel) with
per-utterance mean normalisation (``InputNormalization``, sentence), the ``ECAPA_TDNN`` lobe and
a linear layer to log-probabilities over ``analyzer.labels.LABELS``, trained by a
``speechbrain.Brain`` subclass with a ``Checkpointer`` (the epoch with the lowest validation error
is kept). Training crops are random ``crop_s`` pieces of silence-trimmed clips, half of them
through our telephone channel (``train.augment.telephone_channel``), with a random gain
and SpeechBrain's ``SpeedPerturb`` (0.9/1.0/1.1 per batch); speakers are balanced with
``balance_weights`` (TESS's two talkers would otherwise dominate). One temperature, fitted on the
validation actors, is folded into the linear layer.

Threads: one by default. On the shared 2-core machine, 2 torch threads made the ECAPA forward pass
about 90 times slower (1.35 s against 0.015 s for a 2 s clip) while other jobs held the cores.

Split (``train.data``, the one of ``train/experiments/ser_experiments.py``, so the figures share
its table): train on RAVDESS actors 01-12 + TESS, validate (model selection) on actors 13-16
(clean and telephone copies), score on actors 17-20, clean and telephone.

Packaging: ``package_model`` writes a folder that
``speechbrain.inference.classifiers.EncoderClassifier.from_hparams(source=folder, savedir=folder)``
loads without network: ``hyperparams.yaml`` (modules + a ``Pretrainer`` that collects
``embedding_model.ckpt``, ``classifier.ckpt`` and ``label_encoder.ckpt`` from the folder itself, so
the folder can be moved), plus those files. The normaliser is per-utterance and has no state, so
there is no normaliser file. Inputs must be 16 kHz mono, silence-trimmed like the training clips
(``analyzer.audio.ser.trim_silence``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.dataio.encoder import CategoricalEncoder
from speechbrain.dataio.sampler import ReproducibleWeightedRandomSampler

from analyzer.audio.ser import trim_silence
from analyzer.labels import LABELS

from . import augment
from .data import TEST_ACTORS, VAL_ACTORS
from .heads import balance_weights
from .metrics import classification_report, expected_calibration_error
from .ser import load_audio, read_manifest, resolve_audio_path

HPARAMS_FILE = Path(__file__).with_name("hparams") / "ser_ecapa.yaml"
INFERENCE_TEMPLATE = HPARAMS_FILE.with_name("ser_ecapa_inference.yaml")
# top-level keys of the inference template taken over from the training hyper-parameters
ARCHITECTURE_KEYS: tuple[str, ...] = (
    "sample_rate",
    "n_mels",
    "emb_dim",
    "n_classes",
    "channels",
    "kernel_sizes",
)
ARCHITECTURE_KEYS += ("dilations", "attention_channels", "res2net_scale", "se_channels")
SAMPLE_RATE_HZ = 16_000  # rate of every waveform the recipe sees
EVAL_CHANNELS = ("clean", "telephone")

Progress = Callable[[str, int, int], None]


@dataclass
class ClipSet:
    """Decoded clips: ``waves`` float32 [n_samples] at 16 kHz each (silence-trimmed), with their
    label indices into ``LABELS`` [N], speakers [N] and genders [N] (strings), ids [N]."""

    ids: list[str]
    waves: list[np.ndarray]
    labels: np.ndarray
    speakers: np.ndarray
    genders: np.ndarray

    def subset(self, keep: np.ndarray) -> ClipSet:
        idx = np.flatnonzero(keep)
        return ClipSet(
            [self.ids[i] for i in idx],
            [self.waves[i] for i in idx],
            self.labels[idx],
            self.speakers[idx],
            self.genders[idx],
        )

    def rendered(self, channel: str) -> ClipSet:
        """The same clips heard through ``channel`` ("clean" or "telephone"); ids get a suffix."""
        if channel == "clean":
            waves = self.waves
        elif channel == "telephone":
            waves = [augment.telephone_channel(w) for w in self.waves]
        else:
            raise ValueError(f"channel must be one of {EVAL_CHANNELS}")
        ids = [f"{i}|{channel}" for i in self.ids]
        return ClipSet(ids, waves, self.labels, self.speakers, self.genders)


def concat(sets: Sequence[ClipSet]) -> ClipSet:
    """One ClipSet holding every clip of ``sets`` in order."""
    return ClipSet(
        [i for s in sets for i in s.ids],
        [w for s in sets for w in s.waves],
        np.concatenate([s.labels for s in sets]),
        np.concatenate([s.speakers for s in sets]),
        np.concatenate([s.genders for s in sets]),
    )


def load_clips(rows: Sequence[dict], root: Path, *, progress: Progress | None = None) -> ClipSet:
    """Decode every manifest row whose label is in ``LABELS`` (unreadable files are skipped)."""
    ids, waves, labels, speakers, genders = [], [], [], [], []
    rows = [r for r in rows if r["label"] in LABELS]
    for k, row in enumerate(rows):
        try:
            wave = load_audio(resolve_audio_path(row["path"], root))
        except (RuntimeError, OSError, ValueError, EOFError):
            continue
        ids.append(row["path"])
        waves.append(np.ascontiguousarray(trim_silence(wave), dtype=np.float32))
        labels.append(LABELS.index(row["label"]))
        speakers.append(row.get("speaker", ""))
        genders.append(row.get("gender", ""))
        if progress is not None and (k + 1) % 500 == 0:
            progress("decode clips", k + 1, len(rows))
    return ClipSet(ids, waves, np.array(labels), np.array(speakers), np.array(genders))


def split_clips(clips: ClipSet) -> dict[str, ClipSet]:
    """{"train", "val", "test"}: RAVDESS actors 13-16 validate, 17-20 test, the rest trains."""
    val = np.isin(clips.speakers, list(VAL_ACTORS))
    test = np.isin(clips.speakers, list(TEST_ACTORS))
    return {
        "train": clips.subset(~val & ~test),
        "val": clips.subset(val),
        "test": clips.subset(test),
    }


# ----------------------------------------------------------------------------- datasets


def training_dataset(
    clips: ClipSet, hparams: Mapping[str, Any], *, seed: int
) -> DynamicItemDataset:
    """Random ``crop_s`` crops, telephone channel on ``telephone_share`` of them, random gain.

    Items: ``sig`` float32 [n] (16 kHz) and ``label`` int64 [1]. Crops are drawn anew at every
    epoch (the pipeline runs per access, with its own seeded generator).
    """
    rng = np.random.default_rng(seed)
    crop = int(hparams["crop_s"] * SAMPLE_RATE_HZ)
    phone_share, gain_db = float(hparams["telephone_share"]), hparams["gain_db"]

    @sb.utils.data_pipeline.takes("index")
    @sb.utils.data_pipeline.provides("sig", "label")
    def pipeline(index):
        wave = clips.waves[index]
        if len(wave) > crop:
            start = int(rng.integers(0, len(wave) - crop + 1))
            wave = wave[start : start + crop]
        if rng.random() < phone_share:
            wave = augment.telephone_channel(wave)
        wave = augment.change_gain(wave, gain_db=float(rng.uniform(*gain_db)))
        yield torch.from_numpy(np.ascontiguousarray(wave))
        yield torch.tensor([clips.labels[index]], dtype=torch.long)

    return _dataset(clips, pipeline)


def evaluation_dataset(clips: ClipSet) -> DynamicItemDataset:
    """Whole clips as they are; items ``sig`` float32 [n] and ``label`` int64 [1]."""

    @sb.utils.data_pipeline.takes("index")
    @sb.utils.data_pipeline.provides("sig", "label")
    def pipeline(index):
        yield torch.from_numpy(clips.waves[index])
        yield torch.tensor([clips.labels[index]], dtype=torch.long)

    return _dataset(clips, pipeline)


def _dataset(clips: ClipSet, pipeline) -> DynamicItemDataset:
    data = {cid: {"index": i} for i, cid in enumerate(clips.ids)}
    dataset = DynamicItemDataset(data, dynamic_items=[pipeline])
    dataset.set_output_keys(["id", "sig", "label"])
    return dataset


# ----------------------------------------------------------------------------- the Brain


class EmotionBrain(sb.Brain):
    """Filterbanks -> sentence mean normalisation -> ECAPA-TDNN -> linear -> log-probabilities.

    The learning rate follows the wall-clock budget (``self.budget_s``): linear warm-up over
    ``warmup_share`` of it, then a cosine to zero, so the last epoch that fits is annealed
    whatever the machine's speed. Validation error (clean + telephone copies of the validation
    actors) picks the checkpoint. During evaluation the log-probabilities of every clip are kept
    in ``self.outputs`` (id -> float32 [7]).
    """

    budget_s: float = 900.0
    fit_started: float | None = None

    def compute_forward(self, batch, stage):
        wavs, lens = batch.sig
        if stage == sb.Stage.TRAIN:
            wavs = self.hparams.speed_perturb(wavs)  # relative lengths are unchanged
        feats = self.modules.compute_features(wavs)  # [B, frames, n_mels]
        feats = self.modules.mean_var_norm(feats, lens)
        embeddings = self.modules.embedding_model(feats, lens)  # [B, 1, emb_dim]
        return self.modules.classifier(embeddings).squeeze(1)  # [B, 7] log-probabilities

    def compute_objectives(self, log_probs, batch, stage):
        target = batch.label.data[:, 0]
        # cross_entropy re-normalises with log_softmax, which leaves log-probabilities unchanged
        smoothing = self.hparams.label_smoothing if stage == sb.Stage.TRAIN else 0.0
        loss = torch.nn.functional.cross_entropy(log_probs, target, label_smoothing=smoothing)
        if stage != sb.Stage.TRAIN:
            for cid, row in zip(batch.id, log_probs.detach().cpu().numpy()):
                self.outputs[cid] = row
            self.correct += int((log_probs.argmax(dim=1) == target).sum())
            self.seen += len(target)
        return loss

    def on_fit_start(self):
        super().on_fit_start()
        self.fit_started = time.monotonic()

    def on_fit_batch_start(self, batch, should_step):
        elapsed = (time.monotonic() - self.fit_started) / max(self.budget_s, 1e-9)
        warm = self.hparams.warmup_share
        if elapsed < warm:
            scale = (elapsed + 1e-3) / warm
        else:
            scale = 0.5 * (1.0 + math.cos(math.pi * min((elapsed - warm) / (1.0 - warm), 1.0)))
        for group in self.optimizer.param_groups:
            group["lr"] = self.hparams.lr * max(scale, 0.01)

    def on_stage_start(self, stage, epoch=None):
        self.outputs: dict[str, np.ndarray] = {}
        self.correct, self.seen = 0, 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            return
        error = 1.0 - self.correct / max(self.seen, 1)
        if stage == sb.Stage.VALID:
            minutes = (time.monotonic() - self.fit_started) / 60.0
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr, "minutes": round(minutes, 2)},
                train_stats={"loss": self.train_loss},
                valid_stats={"loss": stage_loss, "error": error},
            )
            print(
                f"epoch {epoch}: train loss {self.train_loss:.3f}, valid loss {stage_loss:.3f},"
                f" valid error {error:.3f} ({minutes:.1f} min)",
                flush=True,
            )
            self.checkpointer.save_and_keep_only(
                meta={"error": error, "epoch": epoch}, min_keys=["error"]
            )


def timed_epochs(counter: Iterator[int], *, budget_s: float) -> Iterator[int]:
    """Epochs of ``counter`` while the next one is expected to end within ``budget_s`` seconds.

    The expected length of an epoch is the longest one so far; the first epoch always runs.
    """
    start, longest, ran = time.monotonic(), 0.0, 0
    while ran == 0 or time.monotonic() - start + longest <= budget_s:
        epoch = next(counter, None)
        if epoch is None:
            return
        began = time.monotonic()
        yield epoch
        longest, ran = max(longest, time.monotonic() - began), ran + 1


def load_hparams(overrides: dict | None = None) -> dict:
    """The recipe's hyper-parameters (``hparams/ser_ecapa.yaml``) with ``overrides`` applied."""
    with open(HPARAMS_FILE, encoding="utf-8") as fh:
        return load_hyperpyyaml(fh, overrides or {})


def make_brain(hparams: dict) -> EmotionBrain:
    return EmotionBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts={"device": "cpu", "noprogressbar": True},
        checkpointer=hparams["checkpointer"],
    )


def train(brain: EmotionBrain, train_set: ClipSet, val_set: ClipSet, *, minutes: float) -> int:
    """Fit for at most ``minutes`` of wall time; returns the number of epochs run."""
    hp = brain.hparams
    weights = balance_weights(train_set.speakers, train_set.genders)
    sampler = ReproducibleWeightedRandomSampler(
        weights.tolist(), num_samples=len(weights), replacement=True, seed=hp.seed
    )
    brain.train_sampler = sampler  # so that Brain reseeds it every epoch
    brain.budget_s = minutes * 60.0
    epochs = timed_epochs(hp.epoch_counter, budget_s=brain.budget_s)
    brain.fit(
        epochs,
        training_dataset(train_set, vars(hp), seed=hp.seed),
        evaluation_dataset(val_set),
        train_loader_kwargs={"batch_size": hp.batch_size, "sampler": sampler},
        valid_loader_kwargs={"batch_size": 1},
    )
    return hp.epoch_counter.current


def log_probabilities(brain: EmotionBrain, clips: ClipSet, *, best: bool = True) -> np.ndarray:
    """Log-probabilities [N, 7] of ``clips`` (one clip per forward pass, as in use).

    best: load the checkpoint with the lowest validation error first.
    """
    brain.evaluate(
        evaluation_dataset(clips),
        min_key="error" if best else None,
        progressbar=False,
        test_loader_kwargs={"batch_size": 1},
    )
    return np.stack([brain.outputs[cid] for cid in clips.ids])


# ----------------------------------------------------------------------------- calibration


def softmax_tempered(log_probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities [N, K] of log-probabilities [N, K] divided by ``temperature``."""
    z = log_probs / temperature
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def fit_temperature(log_probs: np.ndarray, truth: np.ndarray) -> float:
    """Temperature in [0.25, 8] minimising the negative log-likelihood (grid search, log scale)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 141))
    nll = [
        -np.mean(np.log(softmax_tempered(log_probs, t)[np.arange(len(truth)), truth] + 1e-12))
        for t in grid
    ]
    return float(grid[int(np.argmin(nll))])


def fold_temperature(classifier: torch.nn.Sequential, temperature: float) -> None:
    """Divide the linear layer of ``classifier`` by ``temperature`` (in place).

    log_softmax(W x + b) / T renormalised equals log_softmax((W / T) x + b / T).
    """
    linear = next(m for m in classifier if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        linear.weight.div_(temperature)
        linear.bias.div_(temperature)


def score(probs: np.ndarray, truth: np.ndarray, genders: np.ndarray) -> dict:
    """Accuracy, macro-F1, per-class recall, per-gender accuracy and ECE of probabilities [N, 7]."""
    pred = probs.argmax(axis=1)
    report = classification_report(truth, pred, LABELS)
    report["ece"] = round(expected_calibration_error(probs, truth), 4)
    report["per_gender"] = {
        g: round(float(np.mean(pred[genders == g] == truth[genders == g])), 4)
        for g in sorted(set(genders.tolist()))
    }
    return report


# ----------------------------------------------------------------------------- packaging


def package_model(brain: EmotionBrain, folder: str | Path, *, extra: dict | None = None) -> Path:
    """Write ``hyperparams.yaml`` and the ``.ckpt`` files that ``from_hparams`` loads.

    Call after the wanted checkpoint is loaded (and the temperature folded in). ``extra`` goes to
    ``training.json`` beside them (figures, options), for the record.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = INFERENCE_TEMPLATE.read_text(encoding="utf-8")
    for key in ARCHITECTURE_KEYS:  # the template's top-level values -> the trained model's
        value = json.dumps(getattr(brain.hparams, key))
        text = re.sub(rf"(?m)^{key}: .*$", f"{key}: {value}", text, count=1)
    (folder / "hyperparams.yaml").write_text(text, encoding="utf-8")
    torch.save(brain.modules.embedding_model.state_dict(), folder / "embedding_model.ckpt")
    torch.save(brain.modules.classifier.state_dict(), folder / "classifier.ckpt")
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(LABELS)
    encoder.expect_len(len(LABELS))
    encoder.save(folder / "label_encoder.ckpt")
    if extra is not None:
        (folder / "training.json").write_text(json.dumps(extra, indent=2), encoding="utf-8")
    return folder


def load_packaged(folder: str | Path):
    """The packaged model as a SpeechBrain ``EncoderClassifier``, read from ``folder`` only.

    ``savedir`` is the folder itself, so nothing is copied or downloaded (files already in
    ``savedir`` are used as they are).
    """
    from speechbrain.inference.classifiers import EncoderClassifier

    folder = str(Path(folder).resolve())
    classifier = EncoderClassifier.from_hparams(source=folder, savedir=folder)
    classifier.hparams.label_encoder.expect_len(len(LABELS))
    return classifier


def packaged_probabilities(classifier, waves: Sequence[np.ndarray]) -> np.ndarray:
    """Probabilities [N, 7] from a loaded ``EncoderClassifier``, one clip per call."""
    rows = []
    with torch.no_grad():
        for wave in waves:
            log_probs, _, _, _ = classifier.classify_batch(torch.from_numpy(wave)[None])
            rows.append(log_probs[0].exp().numpy())
    return np.stack(rows)


# ----------------------------------------------------------------------------- the whole run


def run_recipe(
    clips: ClipSet,
    out: str | Path,
    *,
    minutes: float,
    overrides: dict | None = None,
    progress: Progress | None = None,
) -> dict:
    """Train on the train split, pick the epoch on "val", score on "test", package, reload.

    clips: every clip (``split_clips`` splits them). out: folder for checkpoints (``save/``,
    replaced), the training log and the packaged model (``model/``). Returns the figures.
    """
    out = Path(out)
    if (out / "save").exists():  # a fresh run: SpeechBrain would otherwise resume
        shutil.rmtree(out / "save")
    hparams = load_hparams({"output_folder": str(out), **(overrides or {})})
    torch.manual_seed(hparams["seed"])
    splits = split_clips(clips)
    val = concat([splits["val"].rendered(ch) for ch in EVAL_CHANNELS])
    brain = make_brain(hparams)
    n_params = sum(p.numel() for p in brain.modules.parameters())
    began = time.monotonic()
    epochs = train(brain, splits["train"], val, minutes=minutes)
    train_minutes = (time.monotonic() - began) / 60.0
    if progress is not None:
        progress("train", epochs, epochs)

    val_logp = log_probabilities(brain, val)
    temperature = fit_temperature(val_logp, val.labels)
    tests = {ch: splits["test"].rendered(ch) for ch in EVAL_CHANNELS}
    results, probs = {}, {}
    for ch, test in tests.items():
        logp = log_probabilities(brain, test)
        probs[ch] = softmax_tempered(logp, temperature)
        results[ch] = score(probs[ch], test.labels, test.genders)
        results[ch]["ece_uncalibrated"] = round(
            expected_calibration_error(np.exp(logp), test.labels), 4
        )
    best = brain.checkpointer.find_checkpoint(min_key="error")

    fold_temperature(brain.modules.classifier, temperature)
    figures: dict[str, Any] = {
        "model": "ecapa-speechbrain",
        "params": int(n_params),
        "epochs": int(epochs),
        "best_epoch": int(best.meta["epoch"]),
        "best_valid_error": round(float(best.meta["error"]), 4),
        "train_minutes": round(train_minutes, 2),
        "temperature": round(temperature, 3),
        "n_train": len(splits["train"].ids),
        "n_val": len(val.ids),
        "n_test": len(splits["test"].ids),
    }
    for ch, rep in results.items():
        figures[ch] = {
            k: rep[k] for k in ("accuracy", "macro_f1", "per_gender", "ece", "ece_uncalibrated")
        }
        figures[ch]["per_class"] = rep["per_class"]
    folder = package_model(brain, out / "model", extra={"figures": figures})

    # reload the SpeechBrain way and check it gives the Brain's probabilities
    reloaded = packaged_probabilities(load_packaged(folder), tests["clean"].waves)
    figures["reload_max_abs_diff"] = float(np.abs(reloaded - probs["clean"]).max())
    figures["reload_same_argmax"] = float(np.mean(reloaded.argmax(1) == probs["clean"].argmax(1)))
    figures["model_folder"] = str(folder)
    return figures


def print_figures(figures: dict) -> None:
    """The figures as a table row per test channel, then as one JSON line (the last line)."""
    print(
        f"\n{figures['model']}: {figures['params'] / 1e6:.2f} M params, {figures['epochs']} epochs"
        f" in {figures['train_minutes']:.1f} min, temperature {figures['temperature']:.2f}"
    )
    header = f"{'scored on':10s} {'acc':>6s} {'mF1':>6s} {'male':>6s} {'female':>6s} {'ECE':>6s}"
    print(header + f" {'ECE(T=1)':>9s}")
    for ch in EVAL_CHANNELS:
        r = figures[ch]
        g = r["per_gender"]
        print(
            f"{ch:10s} {r['accuracy']:6.3f} {r['macro_f1']:6.3f} {g.get('male', math.nan):6.3f}"
            f" {g.get('female', math.nan):6.3f} {r['ece']:6.3f} {r['ece_uncalibrated']:9.3f}"
        )
    print(
        f"reloaded with EncoderClassifier.from_hparams: max |p - p_brain| ="
        f" {figures['reload_max_abs_diff']:.2e}, same top class {figures['reload_same_argmax']:.3f}"
    )
    print(json.dumps(figures), flush=True)


def _parse_override(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", required=True, help="CSV with path,label,speaker,gender")
    parser.add_argument("--root", default=None, help="folder the manifest's paths start from")
    parser.add_argument("--out", required=True, help="output folder (checkpoints, log, model/)")
    parser.add_argument("--minutes", type=float, default=15.0, help="wall-clock training budget")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: see the module doc)"
    )
    parser.add_argument(
        "--override", action="append", default=[], help="hparams key=value (JSON value)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, root = read_manifest(args.manifest, args.root)
    started = time.monotonic()
    clips = load_clips(rows, root, progress=_print_progress)
    print(f"decoded {len(clips.ids)} clips in {time.monotonic() - started:.0f} s", flush=True)
    overrides = dict(_parse_override(o) for o in args.override)
    figures = run_recipe(clips, args.out, minutes=args.minutes, overrides=overrides)
    print_figures(figures)
    return figures


def _print_progress(step: str, done: int, total: int) -> None:
    print(f"{step}: {done}/{total}", flush=True)


if __name__ == "__main__":
    main()
