"""Train and evaluate the speech emotion model from a labelled manifest.

Manifest: a CSV with at least the columns ``path`` (audio file, relative to ``root``) and ``label``
(one of ``analyzer.labels.LABELS``); optional ``speaker`` (used to hold speakers out, to build
speaker groups and, at evaluation, passed as ``groups``) and ``gender`` (per-gender accuracy).
``root`` defaults to the manifest's folder; a relative path not found there is also looked up in
the folder above it (the shared data manifest names paths from ``data/``, e.g. ``speech/...``).

Any sample rate or channel count is accepted: files are decoded with soundfile (librosa as a
fallback), mixed down to mono and resampled to 16 kHz. Clips longer than ``MAX_CLIP_S`` are cut
into ``WINDOW_S`` windows; at evaluation the windows' probabilities are averaged per clip.

Training (``train_ser``) freezes the Whisper encoder and fits two small dense heads on pooled
features of every clip in each requested channel (by default ``TRAIN_CHANNELS``: as recorded,
telephone-simulated, and with the voice shifted down and up); see ``analyzer.audio.ser`` for the
heads. A temperature per head is fitted on speakers held out for calibration, then the heads are
refitted on everyone.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..audio import augment
from ..audio.ser import (
    FEATURE_DIM,
    FEATURE_VERSION,
    SAMPLE_RATE_HZ,
    SpeechEmotionModel,
    WhisperEncoder,
    save_model_folder,
)
from ..labels import LABELS
from ..models import load_model, write_checksums
from .metrics import classification_report, expected_calibration_error

DEFAULT_MODEL = "ser-whisper-tiny-head"
MAX_CLIP_S = 6.0  # clips up to this long are encoded whole
WINDOW_S = 4.0  # longer clips are cut into windows of this length ...
WINDOW_HOP_S = 2.0  # ... starting every this many seconds
# audio conditions a clip can be rendered in (see render_channel)
CHANNELS = ("clean", "telephone", "noisy", "lower", "higher", "lower-small", "higher-small")
VOICE_SHIFT_SEMITONES = 3.0  # size of the "lower" / "higher" voice shifts
SMALL_VOICE_SHIFT_SEMITONES = 1.5  # "lower-small" / "higher-small": another voice, same range
# the shipped model's recipe: the voice shifts narrow the gender gap (see its model card)
TRAIN_CHANNELS = ("clean", "telephone", "lower", "higher")
ENCODE_CHUNK = 32  # clips decoded and encoded per step (bounds memory)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class HeadOptions:
    """Hyper-parameters of the dense heads (chosen on held-out RAVDESS actors)."""

    hidden: int = 256  # hidden units (0: a linear, logistic-regression head)
    epochs: int = 20  # passes over the training rows
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-2  # AdamW weight decay
    dropout: float = 0.3  # dropout on the input and hidden layer
    batch_size: int = 256  # rows per optimiser step
    min_group_windows: int = 8  # a speaker needs this many windows for the relative head
    random_groups: int = 12  # random speaker sub-groups drawn per (speaker, channel)
    relative_weight: float = 0.5  # share of the relative head for grouped windows (inference)
    balance: bool = True  # weight rows by speaker (square root) and gender (see balance_weights)
    seed: int = 0
    members: int = 3  # heads of an ensemble, trained with seeds seed, seed + 1, ...


# ----------------------------------------------------------------------------- manifest and audio


def read_manifest(manifest: str | Path, root: str | Path | None = None) -> tuple[list[dict], Path]:
    """Rows of a manifest CSV (dicts of strings) and the root folder that paths are relative to."""
    manifest = Path(manifest)
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not {"path", "label"} <= set(rows[0]):
        raise ValueError(f"{manifest} needs the columns 'path' and 'label'")
    return rows, Path(root) if root is not None else manifest.resolve().parent


def resolve_audio_path(path: str, root: Path) -> Path:
    """``path`` if absolute, else under ``root``, else under ``root``'s parent (see module doc)."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    for base in (root, root.parent):
        if (base / candidate).is_file():
            return base / candidate
    return root / candidate


def load_audio(path: str | Path) -> np.ndarray:
    """Decode an audio file to a 16 kHz float32 mono waveform [n_samples]."""
    try:
        import soundfile

        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        wave = data.mean(axis=1)
    except (
        RuntimeError,
        OSError,
        TypeError,
    ):  # formats soundfile cannot read (mp3, m4a...)
        import librosa

        wave, rate = librosa.load(str(path), sr=None, mono=True)
    return resample_to_16k(np.asarray(wave, dtype=np.float32), int(rate))


def resample_to_16k(wave: np.ndarray, rate: int) -> np.ndarray:
    """Polyphase resampling of ``wave`` [n] from ``rate`` Hz to 16 kHz (float32)."""
    if rate == SAMPLE_RATE_HZ:
        return wave.astype(np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), SAMPLE_RATE_HZ)
    return resample_poly(wave, SAMPLE_RATE_HZ // g, int(rate) // g).astype(np.float32)


def clip_windows(wave: np.ndarray) -> list[np.ndarray]:
    """The clip itself if it is at most ``MAX_CLIP_S`` long, else ``WINDOW_S`` windows of it."""
    if len(wave) <= MAX_CLIP_S * SAMPLE_RATE_HZ:
        return [wave]
    size, hop = int(WINDOW_S * SAMPLE_RATE_HZ), int(WINDOW_HOP_S * SAMPLE_RATE_HZ)
    starts = list(range(0, len(wave) - size + 1, hop))
    if starts[-1] + size < len(wave):
        starts.append(len(wave) - size)  # cover the tail
    return [wave[s : s + size] for s in starts]


def render_channel(wave: np.ndarray, channel: str, *, key: str) -> np.ndarray:
    """The clip as heard through ``channel``; random choices are seeded by ``key`` (the path)."""
    if channel == "clean":
        return wave
    if channel == "telephone":
        return augment.telephone_channel(wave)
    if channel == "noisy":
        rng = np.random.default_rng(zlib.crc32(key.encode()))
        wave = augment.add_reverb(wave, rt60_s=float(rng.uniform(0.2, 0.7)), rng=rng, wet=0.4)
        wave = augment.add_noise(wave, snr_db=float(rng.uniform(5, 25)), rng=rng, color="pink")
        return augment.random_gain(wave, rng=rng)
    if channel in ("lower", "higher", "lower-small", "higher-small"):
        # the other gender's voice range (or, small, a nearby voice of the same range), heard
        # through a telephone line half of the time
        sign = -1.0 if channel.startswith("lower") else 1.0
        size = SMALL_VOICE_SHIFT_SEMITONES if channel.endswith("small") else VOICE_SHIFT_SEMITONES
        wave = augment.shift_voice(wave, semitones=sign * size)
        if zlib.crc32(f"{key}|{channel}".encode()) % 2:
            wave = augment.telephone_channel(wave)
        return wave
    raise ValueError(f"channel must be one of {CHANNELS}")


# ----------------------------------------------------------------------------- features


@dataclass
class FeatureTable:
    """Pooled features of every window of a set of clips in one channel.

    features: float32 [M, 768]; speech_s: float32 [M]; clip: int [M] (index of the clip row each
    window came from); ok: bool [n_clips] (False where the file could not be decoded).
    """

    features: np.ndarray
    speech_s: np.ndarray
    clip: np.ndarray
    ok: np.ndarray


def _cache_file(cache_dir: Path, path: Path, name: str, channel: str) -> Path:
    """Where the features of one clip live: keyed by the file's bytes (not its path or mtime, so
    a re-copied data set still hits), its manifest name (it seeds the channel's random choices),
    the channel and everything that shapes the features."""
    content = hashlib.sha1(path.read_bytes()).hexdigest()
    key = f"{content}|{name}|{channel}|{FEATURE_VERSION}|{MAX_CLIP_S}|{WINDOW_S}|{WINDOW_HOP_S}"
    digest = hashlib.sha1(key.encode()).hexdigest()
    return cache_dir / digest[:2] / f"{digest}.npy"


def extract_features(
    rows: Sequence[dict],
    root: Path,
    *,
    channel: str = "clean",
    encoder: WhisperEncoder,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> FeatureTable:
    """Decode, render in ``channel``, window and encode every clip of ``rows``.

    cache_dir: optional folder of per-clip ``.npy`` feature files (keyed by the file's content,
    its manifest path, the channel and the feature version), so repeated experiments skip the
    encoder.
    """
    cache = Path(cache_dir) if cache_dir is not None else None
    per_clip: list[np.ndarray | None] = [None] * len(rows)
    ok = np.ones(len(rows), dtype=bool)
    todo: list[int] = []
    paths = [resolve_audio_path(r["path"], root) for r in rows]
    for i, path in enumerate(paths):
        if not path.is_file():
            ok[i] = False
            continue
        hit = _cache_file(cache, path, rows[i]["path"], channel) if cache is not None else None
        if hit is not None and hit.is_file():
            per_clip[i] = np.load(hit)
        else:
            todo.append(i)
    for start in range(0, len(todo), ENCODE_CHUNK):
        batch, windows, owner = todo[start : start + ENCODE_CHUNK], [], []
        for i in batch:
            try:
                wave = load_audio(paths[i])
            except (
                RuntimeError,
                OSError,
                ValueError,
                EOFError,
            ):  # unreadable or corrupt file
                ok[i] = False
                continue
            for window in clip_windows(render_channel(wave, channel, key=rows[i]["path"])):
                windows.append(window)
                owner.append(i)
        if windows:
            feats, speech_s = encoder.embed(windows)
            owner_arr = np.asarray(owner)
            for i in set(owner):
                table = np.hstack([feats[owner_arr == i], speech_s[owner_arr == i, None]])
                per_clip[i] = table
                if cache is not None:
                    target = _cache_file(cache, paths[i], rows[i]["path"], channel)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    np.save(target, table)
        if progress is not None:
            progress(
                f"ser features ({channel})",
                min(start + ENCODE_CHUNK, len(todo)),
                len(todo),
            )
    tables = [(i, t) for i, t in enumerate(per_clip) if t is not None and ok[i]]
    if not tables:
        empty = np.zeros((0, FEATURE_DIM), dtype=np.float32)
        return FeatureTable(empty, np.zeros(0, np.float32), np.zeros(0, int), ok)
    stacked = np.vstack([t for _, t in tables]).astype(np.float32)
    clip = np.concatenate([np.full(len(t), i) for i, t in tables])
    return FeatureTable(stacked[:, :FEATURE_DIM], stacked[:, FEATURE_DIM], clip, ok)


# ----------------------------------------------------------------------------- heads


def fit_dense(
    x: np.ndarray,
    y: np.ndarray,
    *,
    options: HeadOptions,
    weights: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train a dense classifier (0 or 1 hidden layer) with class-balanced cross-entropy.

    x: float32 [n, d] standardised inputs; y: int [n] class indices into ``LABELS``;
    weights: optional per-row weights [n]. Returns the layers as (W [in, out], b [out]) arrays.
    """
    import torch

    torch.manual_seed(options.seed)
    k = len(LABELS)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    class_w = np.where(counts > 0, counts.sum() / (k * np.maximum(counts, 1)), 0.0)
    row_w = class_w[y] * (weights if weights is not None else 1.0)
    xt, yt = (
        torch.from_numpy(x.astype(np.float32)),
        torch.from_numpy(y.astype(np.int64)),
    )
    wt = torch.from_numpy((row_w / row_w.mean()).astype(np.float32))
    dims = [x.shape[1], options.hidden, k] if options.hidden else [x.shape[1], k]
    modules: list[torch.nn.Module] = [torch.nn.Dropout(options.dropout)]
    for a, b in itertools.pairwise(dims):
        modules += [
            torch.nn.Linear(a, b),
            torch.nn.ReLU(),
            torch.nn.Dropout(options.dropout),
        ]
    net = torch.nn.Sequential(*modules[:-2])  # no ReLU/dropout after the output layer
    opt = torch.optim.AdamW(net.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    steps = options.epochs * math.ceil(len(x) / options.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=options.lr, total_steps=max(steps, 1))
    gen = torch.Generator().manual_seed(options.seed)
    net.train()
    for _ in range(options.epochs):
        for idx in torch.randperm(len(x), generator=gen).split(options.batch_size):
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx], reduction="none")
            loss = (loss * wt[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears]


def relative_training_rows(
    features: np.ndarray,
    y: np.ndarray,
    context: np.ndarray,
    *,
    options: HeadOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows for the relative head: (row index [R], speaker offset [R, 768]).

    context: one id per row for "same speaker, same channel". For each context the offsets are
    computed against groups of every composition a call can produce: all of the speaker's clips
    (balanced acted data), each emotion alone (a speaker who stays angry all call), and random
    groups with a dominant emotion. So the head learns when an offset near zero means "like
    this speaker's usual" and when it means nothing.
    """
    rng = np.random.default_rng(options.seed)
    idx_out, off_out = [], []
    max_group = 48  # larger groups add rows without adding variety

    def add(members: np.ndarray) -> None:
        idx_out.append(members)
        off_out.append(features[members] - features[members].mean(axis=0))

    for ctx in np.unique(context):
        members = np.flatnonzero(context == ctx)
        if len(members) < options.min_group_windows:
            continue
        add(rng.choice(members, size=min(len(members), 4 * max_group), replace=False))
        for label in np.unique(y[members]):
            same = members[y[members] == label]
            if len(same) >= options.min_group_windows:
                for _ in range(max(1, min(3, len(same) // max_group))):
                    take = min(len(same), max_group)
                    add(rng.choice(same, size=take, replace=False))
        for _ in range(options.random_groups):
            size = int(rng.integers(options.min_group_windows, min(max_group, len(members)) + 1))
            dominant = rng.choice(np.unique(y[members]))
            share = rng.uniform(0.3, 1.0)
            pool_dom = members[y[members] == dominant]
            n_dom = min(len(pool_dom), round(share * size))
            rest = np.setdiff1d(members, pool_dom)
            n_rest = min(len(rest), size - n_dom)
            chosen = np.concatenate(
                [
                    rng.choice(pool_dom, n_dom, replace=False),
                    rng.choice(rest, n_rest, replace=False),
                ]
            )
            if len(chosen) >= options.min_group_windows:
                add(chosen)
    return np.concatenate(idx_out), np.vstack(off_out)


def balance_weights(speakers: np.ndarray, genders: np.ndarray | None = None) -> np.ndarray:
    """Per-row weights [n]: each speaker's total weight grows only with the square root of its
    row count, and (when ``genders`` is given) both genders carry the same total weight.

    Why: TESS has two female talkers with 1400 clips each against 60 per RAVDESS actor; unweighted,
    the heads learn those two voices and female speech best (a 15-point gender gap on held-out
    actors in a first run).
    """
    names, inverse, counts = np.unique(speakers, return_inverse=True, return_counts=True)
    weights = counts[inverse].astype(np.float64) ** -0.5
    if genders is not None:
        for g in np.unique(genders):
            mask = genders == g
            weights[mask] /= weights[mask].sum()
    return weights / weights.mean()


def fit_heads(
    features: np.ndarray,
    y: np.ndarray,
    context: np.ndarray,
    *,
    options: HeadOptions,
    weights: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Fit the absolute and relative heads; returns the arrays that ``head.npz`` stores.

    features: [n, 768] training windows; y: [n] labels; context: [n] speaker+channel ids;
    weights: optional [n] row weights (see ``balance_weights``).
    """
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    absolute = (features - mean) / scale
    arrays = {"mean": mean, "scale": scale}
    for member in range(max(1, options.members)):
        tag = str(member) if member else ""  # member 0 keeps the single-model names
        seeded = replace(options, seed=options.seed + member)
        for k, (w, b) in enumerate(fit_dense(absolute, y, options=seeded, weights=weights)):
            arrays[f"abs{tag}_W{k}"], arrays[f"abs{tag}_b{k}"] = w, b
        rows, offsets = relative_training_rows(features, y, context, options=seeded)
        offset_scale = offsets.std(axis=0) + 1e-6
        relative = np.hstack([absolute[rows], offsets / offset_scale])
        rel_weights = weights[rows] if weights is not None else None
        layers = fit_dense(relative, y[rows], options=seeded, weights=rel_weights)
        for k, (w, b) in enumerate(layers):
            arrays[f"rel{tag}_W{k}"], arrays[f"rel{tag}_b{k}"] = w, b
        arrays[f"offset_scale{tag}"] = offset_scale
    return {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature T minimising the negative log-likelihood of softmax(logits / T): a 1-D search."""
    if len(y) == 0:
        return 1.0
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.3), np.log(5.0), 80)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = -np.mean(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1)))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def calibration_speakers(speakers: Sequence[str], *, share: float = 0.2) -> set[str]:
    """A deterministic ~``share`` of speakers (by name hash) held out to fit temperatures."""
    names = sorted(set(speakers))
    if len(names) < 3:
        return set()
    ranked = sorted(names, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    return set(ranked[: max(1, round(share * len(names)))])


def fit_model_arrays(
    features: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    channels: np.ndarray,
    *,
    options: HeadOptions,
    genders: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Fit heads and temperatures on windows with labels, speakers and channel names.

    weights: row weights [n]; by default ``balance_weights`` (with ``options.balance``) or none.
    Returns (arrays for head.npz, config entries for model.json). Temperatures come from a fit
    that leaves ``calibration_speakers`` out; the heads are then refitted on every speaker.
    """
    context = np.char.add(np.char.add(speakers.astype(str), "|"), channels.astype(str))
    held = np.isin(speakers, sorted(calibration_speakers(speakers.tolist())))
    if weights is None:
        weights = balance_weights(speakers, genders) if options.balance else np.ones(len(y))
    config = {
        "min_group_windows": options.min_group_windows,
        "relative_weight": options.relative_weight,
        "head_options": asdict(options),
    }
    if held.any() and (~held).any():
        probe = SpeechEmotionModel(
            "calibration",
            fit_heads(
                features[~held], y[~held], context[~held], options=options, weights=weights[~held]
            ),
            config,
            encoder=None,
        )
        probe.relative_weight = 1.0  # temperatures are fitted per head, on raw logits
        abs_logits, _ = probe.logits(features[held])
        rel_logits, used = probe.logits(features[held], groups=context[held])
        config["temperature_abs"] = fit_temperature(abs_logits, y[held])
        config["temperature_rel"] = fit_temperature(rel_logits[used], y[held][used])
    arrays = fit_heads(features, y, context, options=options, weights=weights)
    return arrays, config


# ----------------------------------------------------------------------------- public entry points


def channel_subsets(rows: Sequence[dict], channels: Sequence[str]) -> list[tuple[str, list[int]]]:
    """(rendered channel, row indices) pairs for the training ``channels``.

    Two names are not renderings of their own. "swapped": female rows are rendered "lower" and
    male rows "higher", i.e. each voice is moved towards the other gender's range. "male-small":
    male rows are rendered "lower-small" and "higher-small", two more male-range voices per male
    speaker. Rows of unknown gender get neither. Every other channel covers all rows.
    """
    special = {
        "swapped": (("female", "lower"), ("male", "higher")),
        "male-small": (("male", "lower-small"), ("male", "higher-small")),
    }
    pairs: list[tuple[str, list[int]]] = []
    for channel in channels:
        if channel not in special:
            pairs.append((channel, list(range(len(rows)))))
            continue
        for gender, rendered in special[channel]:
            subset = [i for i, r in enumerate(rows) if (r.get("gender") or "").lower() == gender]
            if subset:
                pairs.append((rendered, subset))
    return pairs


def train_ser(
    manifest: str | Path,
    root: str | Path | None = None,
    out: str | Path = Path("models") / DEFAULT_MODEL,
    *,
    progress: Progress | None = None,
    channels: Sequence[str] = TRAIN_CHANNELS,
    options: HeadOptions = HeadOptions(),
    cache_dir: str | Path | None = None,
    threads: int = 1,
) -> Path:
    """Train a speech emotion model folder from a manifest; returns the folder.

    Every row whose label is in ``LABELS`` is used, in each of ``channels`` (see
    ``render_channel``; "swapped" renders female rows "lower" and male rows "higher").
    Rows without a ``speaker`` column count as one speaker per file.
    The folder gets model.json, head.npz, SHA256SUMS and a MODEL_CARD.md stub if none exists.
    """
    rows, root = read_manifest(manifest, root)
    rows = [r for r in rows if r.get("label") in LABELS]
    if not rows:
        raise ValueError(f"{manifest}: no rows with a label in {LABELS}")
    encoder = WhisperEncoder(threads=threads)
    import torch

    torch.set_num_threads(threads)  # heads are small; leave the other cores to the machine
    feats, ys, spk, chan, gen = [], [], [], [], []
    for channel, subset in channel_subsets(rows, channels):
        table = extract_features(
            [rows[i] for i in subset],
            root,
            channel=channel,
            encoder=encoder,
            cache_dir=cache_dir,
            progress=progress,
        )
        clip_rows = [rows[i] for i in np.asarray(subset, dtype=int)[table.clip]]
        feats.append(table.features)
        ys.append([LABELS.index(r["label"]) for r in clip_rows])
        spk.append([r.get("speaker") or r["path"] for r in clip_rows])
        chan.append([channel] * len(clip_rows))
        gen.append([r.get("gender") or "unknown" for r in clip_rows])
    features = np.vstack(feats)
    if len(features) == 0:
        raise ValueError(f"{manifest}: no readable audio")
    if progress is not None:
        progress("ser heads", 0, 1)
    arrays, config = fit_model_arrays(
        features,
        np.concatenate(ys).astype(int),
        np.concatenate(spk).astype(str),
        np.concatenate(chan).astype(str),
        options=options,
        genders=np.concatenate(gen).astype(str),
    )
    config["trained_on"] = {
        "manifest": Path(manifest).name,
        "clips": len(rows),
        "speakers": len({r.get("speaker") or r["path"] for r in rows}),
        "channels": list(channels),
    }
    folder = save_model_folder(Path(out), arrays, config)
    card = folder / "MODEL_CARD.md"
    if not card.exists():
        card.write_text(
            f"# {folder.name}\n\nSpeech emotion model trained by `analyzer.train.ser.train_ser` on "
            f"{len(rows)} clips of `{Path(manifest).name}`. Fill in data, licences and metrics.\n"
        )
    write_checksums(folder)
    if progress is not None:
        progress("ser heads", 1, 1)
    return folder


def evaluate_ser(
    manifest: str | Path,
    root: str | Path | None = None,
    model: str | Path | SpeechEmotionModel = DEFAULT_MODEL,
    *,
    progress: Progress | None = None,
    use_groups: bool = True,
    channel: str = "clean",
    cache_dir: str | Path | None = None,
) -> dict:
    """Evaluate a speech emotion model on a labelled manifest; returns a JSON-ready dict.

    Keys: n, accuracy, macro_f1, per_class (recall per label), confusion, labels (as
    ``classification_report``), skipped (rows whose label the model does not know, or whose
    audio cannot be read), ece, per_gender and per_speaker (accuracy, when the manifest has a
    gender / speaker column), used_groups, channel.
    use_groups: when the manifest has a ``speaker`` column, pass it as ``groups`` to the model, as
    the engine does for a speaker in a whole call. channel: render the audio through "telephone"
    (or "noisy") first, to measure robustness.
    """
    rows, root = read_manifest(manifest, root)
    ser = model if isinstance(model, SpeechEmotionModel) else load_model(model, "ser")
    known = [r for r in rows if r.get("label") in ser.labels]
    skipped = len(rows) - len(known)
    table = extract_features(
        known,
        root,
        channel=channel,
        encoder=ser.encoder,
        cache_dir=cache_dir,
        progress=progress,
    )
    skipped += int((~table.ok).sum())
    with_speaker = use_groups and bool(known) and all(r.get("speaker") for r in known)
    groups = [known[i]["speaker"] for i in table.clip] if with_speaker else None
    scores = ser.predict_features(table.features, table.speech_s, groups=groups)
    clips = np.flatnonzero(table.ok)
    clip_probs = np.zeros((len(known), len(ser.labels)))
    np.add.at(clip_probs, table.clip, scores.probs)
    clip_probs = clip_probs[clips] / clip_probs[clips].sum(axis=1, keepdims=True)
    truth = np.array([ser.labels.index(known[i]["label"]) for i in clips], dtype=int)
    predicted = clip_probs.argmax(axis=1)
    report = classification_report(truth, predicted, ser.labels)
    report["skipped"] = skipped
    report["ece"] = round(expected_calibration_error(clip_probs, truth), 4)
    if known and all(r.get("gender") for r in known):
        genders = np.array([known[i]["gender"] for i in clips])
        report["per_gender"] = {
            g: round(float(np.mean(predicted[genders == g] == truth[genders == g])), 4)
            for g in sorted(set(genders))
        }
    if known and all(r.get("speaker") for r in known):
        speakers = np.array([known[i]["speaker"] for i in clips])
        report["per_speaker"] = {
            name: round(float(np.mean(predicted[speakers == name] == truth[speakers == name])), 4)
            for name in sorted(set(speakers))
        }
    report["used_groups"] = with_speaker
    report["channel"] = channel
    return report


# ----------------------------------------------------------------------------- command line


def add_train_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``emotrace train ser``."""
    parser.add_argument("--manifest", required=True, help="CSV with path,label[,speaker,gender]")
    parser.add_argument("--root", default=None, help="folder the paths are relative to")
    parser.add_argument("--out", default=str(Path("models") / DEFAULT_MODEL), help="model folder")
    parser.add_argument(
        "--channels",
        default=",".join(TRAIN_CHANNELS),
        help=f"comma-separated, from {CHANNELS + ('swapped', 'male-small')}",
    )
    parser.add_argument("--hidden", type=int, default=HeadOptions.hidden, help="0: linear head")
    parser.add_argument("--epochs", type=int, default=HeadOptions.epochs)
    parser.add_argument(
        "--members", type=int, default=HeadOptions.members, help="ensemble of N seeded heads"
    )
    parser.add_argument("--cache-dir", default=None, help="reuse encoder features across runs")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the encoder")


def run_train(args: argparse.Namespace, progress: Progress | None = None) -> Path:
    """Run ``train_ser`` from parsed ``add_train_args`` options; prints and returns the folder."""
    if args.members < 1:
        raise ValueError(f"--members must be at least 1, not {args.members}")
    options = HeadOptions(hidden=args.hidden, epochs=args.epochs, members=args.members)
    folder = train_ser(
        args.manifest,
        args.root,
        args.out,
        progress=progress,
        channels=tuple(c.strip() for c in args.channels.split(",") if c.strip()),
        options=options,
        cache_dir=args.cache_dir,
        threads=args.threads,
    )
    print(folder)
    return folder


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``emotrace eval ser``."""
    parser.add_argument("--manifest", required=True, help="CSV with path,label[,speaker,gender]")
    parser.add_argument("--root", default=None, help="folder the paths are relative to")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model name or folder")
    parser.add_argument(
        "--channel",
        default="clean",
        choices=CHANNELS,
        help="simulate this channel first",
    )
    parser.add_argument(
        "--no-groups",
        action="store_true",
        help="do not pass the speaker column as groups",
    )
    parser.add_argument("--cache-dir", default=None, help="reuse encoder features across runs")


def run_eval(args: argparse.Namespace, progress: Progress | None = None) -> dict:
    """Run ``evaluate_ser`` from parsed ``add_eval_args`` options; prints the JSON as last line."""
    report = evaluate_ser(
        args.manifest,
        args.root,
        args.model,
        progress=progress,
        use_groups=not args.no_groups,
        channel=args.channel,
        cache_dir=args.cache_dir,
    )
    print(json.dumps(report))
    return report


def main_train(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description="Train the speech emotion model")
    add_train_args(parser)
    return run_train(parser.parse_args(argv))


def main_eval(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Evaluate a speech emotion model")
    add_eval_args(parser)
    return run_eval(parser.parse_args(argv))
