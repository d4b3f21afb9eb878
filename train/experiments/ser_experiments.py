"""Speech emotion: compare candidate models on RAVDESS actors never seen in training.

    python -m train.experiments.ser_experiments [--manifest CSV] [--cache-dir /tmp/ser_cache]
        [--ecapa-minutes 10] [--skip-ecapa]

Splits (speaker-independent): train = RAVDESS actors 01-12 + TESS (both talkers), validation =
actors 13-16 (used to choose hyper-parameters), test = actors 17-20 (reported). Each model is
scored on the test actors' clips, clean and through the simulated telephone channel
(``train.augment.telephone_channel``): accuracy, macro-F1, per-gender accuracy, ECE.

Candidates:
  (a) ecapa-mel: a compact ECAPA-TDNN-style network (SE-Res2 blocks, attentive statistics
      pooling) trained from scratch on Whisper's 80-band log-mel, in plain torch, on clean +
      telephone copies, within --ecapa-minutes of CPU time;
  (b) whisper-lr / whisper-mlp: a logistic-regression / one-hidden-layer head on frozen Whisper
      tiny.en encoder features (mean+std over valid frames), with and without telephone copies
      in training;
  (c) whisper-2head: the shipped design (``analyzer.audio.ser``): absolute head, plus the
      relative head when the speaker's windows are passed as a group; also scored on groups
      made of one emotion only (the "angry all call" case).
Features are cached in --cache-dir (first run: about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from analyzer.audio.ser import (
    N_MELS,
    SAMPLE_RATE_HZ,
    SpeechEmotionModel,
    WhisperEncoder,
    log_mel,
    trim_silence,
)
from analyzer.labels import LABELS
from train.data import SPEECH_MANIFEST, TEST_ACTORS, VAL_ACTORS
from train.heads import HeadOptions, balance_weights, fit_dense, fit_model_arrays
from train.metrics import classification_report, expected_calibration_error
from train.ser import (
    extract_features,
    load_audio,
    read_manifest,
    render_channel,
    resolve_audio_path,
)

EVAL_CHANNELS = ("clean", "telephone")
GENDER: dict[str, str] = {}  # speaker -> gender, filled from the manifest


def split_of(row: dict) -> str:
    if row["speaker"] in TEST_ACTORS:
        return "test"
    if row["speaker"] in VAL_ACTORS:
        return "val"
    return "train"


def score(probs: np.ndarray, truth: np.ndarray, genders: np.ndarray) -> dict:
    """Accuracy, macro-F1, per-gender accuracy and ECE of clip probabilities [N, 7]."""
    pred = probs.argmax(axis=1)
    rep = classification_report(truth, pred, LABELS)
    rep["ece"] = expected_calibration_error(probs, truth)
    rep["per_gender"] = {
        g: float(np.mean(pred[genders == g] == truth[genders == g])) for g in sorted(set(genders))
    }
    return rep


# ----------------------------------------------------------------------------- Whisper heads


def load_tables(rows, root, cache_dir, channels):
    """Features per channel: dict channel -> (features [N, 768], row index [N])."""
    encoder = WhisperEncoder(threads=1)
    out = {}
    for ch in channels:
        table = extract_features(rows, root, channel=ch, encoder=encoder, cache_dir=cache_dir)
        out[ch] = (table.features, table.clip)
    return out


def whisper_experiments(rows, tables, *, split_eval: str, options: HeadOptions) -> list[dict]:
    """Train each Whisper-feature candidate on the train split, score on ``split_eval`` actors."""
    y_all = np.array([LABELS.index(r["label"]) for r in rows])
    spk_all = np.array([r["speaker"] for r in rows])
    gender_all = np.array([r["gender"] for r in rows])
    split = np.array([split_of(r) for r in rows])
    results = []
    GENDER.update(zip(spk_all, gender_all, strict=True))

    def train_arrays(channels):
        feats = np.vstack([tables[c][0][split[tables[c][1]] == "train"] for c in channels])
        idx = np.concatenate([tables[c][1][split[tables[c][1]] == "train"] for c in channels])
        chan = np.concatenate(
            [np.full((split[tables[c][1]] == "train").sum(), c) for c in channels]
        )
        return feats, y_all[idx], spk_all[idx], chan

    def evaluate(name, model, groups_mode):
        for ch in EVAL_CHANNELS:
            feats, idx = tables[ch]
            sel = split[idx] == split_eval
            f, i = feats[sel], idx[sel]
            if groups_mode == "none":
                probs = model.probabilities(f)
            elif groups_mode == "speaker":
                probs = model.probabilities(f, groups=spk_all[i])
            else:  # one emotion per group: speaker + true label (the "angry all call" case)
                probs = model.probabilities(f, groups=np.char.add(spk_all[i], y_all[i].astype(str)))
            rep = score(probs, y_all[i], gender_all[i])
            results.append({"model": name, "groups": groups_mode, "channel": ch, **rep})

    for channels in (
        ("clean",),
        ("clean", "telephone"),
        ("clean", "telephone", "noisy"),
    ):
        if not all(c in tables for c in channels):
            continue
        feats, y, spk, chan = train_arrays(channels)
        tag = "+".join(channels)
        for hidden, label in ((0, "whisper-lr"), (options.hidden, "whisper-mlp")):
            opts = replace(options, hidden=hidden)
            mean, scale = feats.mean(0), feats.std(0) + 1e-6
            weights = balance_weights(spk, np.array([GENDER[s] for s in spk]))
            layers = fit_dense((feats - mean) / scale, y, options=opts, weights=weights)
            arrays = {"mean": mean, "scale": scale, "offset_scale": np.ones_like(mean)}
            for k, (w, b) in enumerate(layers):
                arrays[f"abs_W{k}"], arrays[f"abs_b{k}"] = w, b
                arrays[f"rel_W{k}"], arrays[f"rel_b{k}"] = w, b  # unused: no groups
            model = SpeechEmotionModel(label, arrays, {}, encoder=None)
            evaluate(f"{label} [{tag}]", model, "none")
        if channels == ("clean", "telephone"):  # the shipped recipe
            genders = np.array([GENDER[s] for s in spk])
            # the recipe as it was then: both genders the same total weight, no boost search
            fixed = replace(options, gender_boosts=(1.0,))
            arrays, config = fit_model_arrays(feats, y, spk, chan, options=fixed, genders=genders)
            model = SpeechEmotionModel("2head", arrays, config, encoder=None)
            for mode in ("none", "speaker", "one-emotion"):
                evaluate(f"whisper-2head [{tag}]", model, mode)
    return results


# ----------------------------------------------------------------------------- compact ECAPA


def mel_table(rows, root, channel, cache_dir: Path) -> list[np.ndarray]:
    """Trimmed Whisper log-mel [80, T] of every clip in ``channel`` (cached as one .npz)."""
    target = cache_dir / f"mel_{channel}_{len(rows)}.npz"
    if target.is_file():
        with np.load(target) as data:
            return [data[f"m{i}"] for i in range(len(rows))]
    from faster_whisper.feature_extractor import FeatureExtractor

    filters = FeatureExtractor.get_mel_filters(SAMPLE_RATE_HZ, 400, n_mels=N_MELS)
    mels = []
    for r in rows:
        wave = load_audio(resolve_audio_path(r["path"], root))
        wave = trim_silence(render_channel(wave, channel, key=r["path"]))
        n_frames = max(len(wave) // 160, 10)
        mels.append(log_mel(wave, n_frames=n_frames, mel_filters=filters).astype(np.float16))
    np.savez(target, **{f"m{i}": m for i, m in enumerate(mels)})
    return mels


def build_ecapa(n_mels: int = N_MELS, channels: int = 128, n_classes: int = len(LABELS)):
    """Compact ECAPA-TDNN: conv stem, 3 SE-Res2 blocks, layer aggregation, attentive pooling."""
    import torch
    from torch import nn

    class SERes2Block(nn.Module):
        def __init__(self, c: int, dilation: int, scale: int = 4) -> None:
            super().__init__()
            self.scale, width = scale, c // scale
            self.inp = nn.Sequential(nn.Conv1d(c, c, 1), nn.ReLU(), nn.BatchNorm1d(c))
            self.convs = nn.ModuleList(
                nn.Sequential(
                    nn.Conv1d(width, width, 3, dilation=dilation, padding=dilation),
                    nn.ReLU(),
                    nn.BatchNorm1d(width),
                )
                for _ in range(scale - 1)
            )
            self.out = nn.Sequential(nn.Conv1d(c, c, 1), nn.ReLU(), nn.BatchNorm1d(c))
            self.se = nn.Sequential(nn.Linear(c, c // 4), nn.ReLU(), nn.Linear(c // 4, c))

        def forward(self, x):
            h = self.inp(x)
            parts = list(h.chunk(self.scale, dim=1))
            outs, prev = [parts[0]], None
            for conv, part in zip(self.convs, parts[1:], strict=True):
                prev = conv(part if prev is None else part + prev)
                outs.append(prev)
            h = self.out(torch.cat(outs, dim=1))
            gate = torch.sigmoid(self.se(h.mean(dim=2)))[:, :, None]
            return x + h * gate

    class Ecapa(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = channels
            self.stem = nn.Sequential(
                nn.Conv1d(n_mels, c, 5, padding=2), nn.ReLU(), nn.BatchNorm1d(c)
            )
            self.blocks = nn.ModuleList(SERes2Block(c, d) for d in (2, 3, 4))
            self.mfa = nn.Sequential(nn.Conv1d(3 * c, 3 * c, 1), nn.ReLU())
            self.att = nn.Sequential(nn.Conv1d(3 * c, 64, 1), nn.Tanh(), nn.Conv1d(64, 3 * c, 1))
            self.head = nn.Sequential(
                nn.BatchNorm1d(6 * c),
                nn.Dropout(0.3),
                nn.Linear(6 * c, 128),
                nn.ReLU(),
                nn.Linear(128, n_classes),
            )

        def forward(self, x):  # x: [B, n_mels, T]
            x = x - x.mean(dim=2, keepdim=True)  # per-utterance mean normalisation
            h = self.stem(x)
            outs = []
            for block in self.blocks:
                h = block(h)
                outs.append(h)
            h = self.mfa(torch.cat(outs, dim=1))
            w = torch.softmax(self.att(h), dim=2)
            mu = (h * w).sum(dim=2)
            sd = ((h**2 * w).sum(dim=2) - mu**2).clamp(min=1e-6).sqrt()
            return self.head(torch.cat([mu, sd], dim=1))

    return Ecapa()


def ecapa_experiment(rows, root, cache_dir: Path, *, minutes: float, split_eval: str) -> list[dict]:
    """Train the compact ECAPA on train-split clips (clean + telephone) for ``minutes``; score."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mels = {ch: mel_table(rows, root, ch, cache_dir) for ch in EVAL_CHANNELS}
    y = np.array([LABELS.index(r["label"]) for r in rows])
    split = np.array([split_of(r) for r in rows])
    train = [(ch, i) for ch in EVAL_CHANNELS for i in np.flatnonzero(split == "train")]
    crop = 200  # 2 s random crops for training
    counts = np.bincount(y[split == "train"], minlength=len(LABELS))
    class_w = torch.tensor(counts.sum() / (len(LABELS) * counts), dtype=torch.float32)
    net = build_ecapa()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    batch, start, epochs = 64, time.process_time(), 0  # CPU seconds, not wall

    def crop_to(m, n):
        if m.shape[1] >= n:
            s = rng.integers(0, m.shape[1] - n + 1)
            return m[:, s : s + n]
        return np.pad(m, ((0, 0), (0, n - m.shape[1])), mode="wrap")

    while time.process_time() - start < minutes * 60:
        net.train()
        order = rng.permutation(len(train))
        for k in range(0, len(train) - batch + 1, batch):
            pick = [train[j] for j in order[k : k + batch]]
            x = np.stack([crop_to(mels[ch][i].astype(np.float32), crop) for ch, i in pick])
            x += rng.normal(0, 0.05, x.shape).astype(np.float32)
            logits = net(torch.from_numpy(x))
            loss = torch.nn.functional.cross_entropy(
                logits, torch.tensor([y[i] for _, i in pick]), weight=class_w
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            if time.process_time() - start > minutes * 60:
                break
        epochs += 1
    print(f"ecapa: {epochs} epochs in {(time.process_time() - start) / 60:.1f} CPU min", flush=True)
    net.eval()
    n_params = sum(p.numel() for p in net.parameters())
    results = []
    test = np.flatnonzero(split == split_eval)
    with torch.no_grad():
        val_logits = {}
        for ch in EVAL_CHANNELS:
            val_logits[ch] = np.vstack(
                [net(torch.from_numpy(mels[ch][i].astype(np.float32)[None])).numpy() for i in test]
            )
    genders = np.array([rows[i]["gender"] for i in test])
    for ch in EVAL_CHANNELS:
        z = val_logits[ch] - val_logits[ch].max(axis=1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        rep = score(probs, y[test], genders)
        results.append(
            {
                "model": f"ecapa-mel ({n_params / 1e6:.2f} M params)",
                "groups": "none",
                "channel": ch,
                **rep,
            }
        )
    return results


# ----------------------------------------------------------------------------- report


def print_table(results: list[dict]) -> None:
    header = f"{'model':44s} {'groups':11s} {'channel':9s} {'acc':>6s} {'mF1':>6s} "
    header += f"{'male':>6s} {'female':>6s} {'ECE':>6s}"
    print(header)
    print("-" * len(header))
    for r in results:
        g = r["per_gender"]
        print(
            f"{r['model']:44s} {r['groups']:11s} {r['channel']:9s} {r['accuracy']:6.3f} "
            f"{r['macro_f1']:6.3f} {g.get('male', math.nan):6.3f} {g.get('female', math.nan):6.3f}"
            f" {r['ece']:6.3f}"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default=str(SPEECH_MANIFEST))
    parser.add_argument("--root", default=None)
    parser.add_argument("--cache-dir", default="/tmp/ser_cache")
    parser.add_argument("--split", default="test", choices=("val", "test"), help="actors scored")
    parser.add_argument("--ecapa-minutes", type=float, default=10.0)
    parser.add_argument("--skip-ecapa", action="store_true")
    parser.add_argument("--skip-whisper", action="store_true")
    parser.add_argument("--hidden", type=int, default=HeadOptions.hidden)
    parser.add_argument("--epochs", type=int, default=HeadOptions.epochs)
    parser.add_argument("--weight-decay", type=float, default=HeadOptions.weight_decay)
    parser.add_argument("--dropout", type=float, default=HeadOptions.dropout)
    args = parser.parse_args(argv)
    rows, root = read_manifest(args.manifest, args.root)
    rows = [r for r in rows if r["label"] in LABELS]
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    options = HeadOptions(
        hidden=args.hidden,
        epochs=args.epochs,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
    )
    results = []
    if not args.skip_whisper:
        tables = load_tables(rows, root, cache, ("clean", "telephone", "noisy"))
        results = whisper_experiments(rows, tables, split_eval=args.split, options=options)
        print_table(results)
    if not args.skip_ecapa:
        results += ecapa_experiment(
            rows, root, cache, minutes=args.ecapa_minutes, split_eval=args.split
        )
    print(f"\nscored on {args.split} actors; options {options}")
    print_table(results)


if __name__ == "__main__":
    main()
