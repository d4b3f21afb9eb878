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
import json
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from analyzer.audio.ser import (
    FEATURE_DIM,
    FEATURE_VERSION,
    SAMPLE_RATE_HZ,
    SpeechEmotionModel,
    WhisperEncoder,
    save_model_folder,
)
from analyzer.labels import CIRCUMPLEX, LABELS
from analyzer.models import load_model, resolve_model_dir, write_checksums

from . import augment
from .data import READ_SPEECH_MANIFEST
from .heads import HeadOptions, adapt_model_arrays, fit_model_arrays
from .metrics import classification_report, expected_calibration_error

DEFAULT_MODEL = "ser-whisper-tiny-head"
MAX_CLIP_S = 6.0  # clips up to this long are encoded whole
WINDOW_S = 4.0  # longer clips are cut into windows of this length ...
WINDOW_HOP_S = 2.0  # ... starting every this many seconds
# audio conditions a clip can be rendered in (see render_channel)
CHANNELS = (
    "clean",
    "telephone",
    "noisy",
    "degraded",
    "babble10",
    *augment.CODECS,
    "lower",
    "higher",
    "lower-small",
    "higher-small",
)
VOICE_SHIFT_SEMITONES = 3.0  # size of the "lower" / "higher" voice shifts
SMALL_VOICE_SHIFT_SEMITONES = 1.5  # "lower-small" / "higher-small": another voice, same range
# the shipped model's recipe (see its model card): as recorded, telephone, and one random
# real-world rendering per clip (noise, reverberation, codecs, clipping, speed)
TRAIN_CHANNELS = ("clean", "telephone", "degraded")
NEEDS_NOISE = ("degraded", "babble10")  # channels that mix in other talkers' speech
ENCODE_CHUNK = 32  # clips decoded and encoded per step (bounds memory)

Progress = Callable[[str, int, int], None]


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


def noise_speakers(rows: Sequence[dict]) -> tuple[set[str], set[str]]:
    """The speakers of a noise manifest cut in two halves (per gender, in the order of their
    name's hash): (training half, evaluation half). Babble in training is made from the first,
    the ``babble10`` evaluation condition from the second, so no babble voice is in both."""
    first: set[str] = set()
    second: set[str] = set()
    for gender in sorted({r.get("gender") or "" for r in rows}):
        names = sorted(
            {r.get("speaker") or r["path"] for r in rows if (r.get("gender") or "") == gender},
            key=lambda s: hashlib.sha1(s.encode()).hexdigest(),
        )
        first |= set(names[0::2])
        second |= set(names[1::2])
    return first, second


def load_noise_pool(manifest: str | Path, half: str) -> list[np.ndarray]:
    """16 kHz waveforms of one half ("train" or "eval", see ``noise_speakers``) of the speakers
    of ``manifest`` whose corpus is LibriSpeech-like many-speaker speech (every row if the
    manifest has no ``corpus`` column; AISHELL's single speaker is never used)."""
    rows, root = read_manifest(manifest)
    rows = [r for r in rows if r.get("corpus", "librispeech") == "librispeech"]
    first, second = noise_speakers(rows)
    keep = first if half == "train" else second
    pool = [
        load_audio(resolve_audio_path(r["path"], root))
        for r in rows
        if (r.get("speaker") or r["path"]) in keep
    ]
    if not pool:
        raise ValueError(f"{manifest}: no speech to make babble from")
    return pool


def render_channel(
    wave: np.ndarray,
    channel: str,
    *,
    key: str,
    noise: list[np.ndarray] | None = None,
) -> np.ndarray:
    """The clip as heard through ``channel``; random choices are seeded by ``key`` (the path).

    noise: waveforms that babble is made from (``load_noise_pool``), needed by "degraded"
    (training half) and "babble10" (evaluation half: 5 talkers at 10 dB SNR).
    """
    if channel == "clean":
        return wave
    if channel == "telephone":
        return augment.telephone_channel(wave)
    if channel in NEEDS_NOISE:
        if not noise:
            raise ValueError(f"the {channel} channel needs --noise-manifest (speech for babble)")
        if channel == "degraded":
            return augment.degrade(wave, key=key, babble_pool=noise)
        rng = augment.seeded_rng(key + "|babble10")  # babble10
        return augment.mix_at_snr(wave, augment.babble(noise, len(wave), rng, 5), 10.0)
    if channel in augment.CODECS:
        return augment.codec_roundtrip(wave, channel)
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
    noise: Callable[[], list[np.ndarray]] | None = None,
) -> FeatureTable:
    """Decode, render in ``channel``, window and encode every clip of ``rows``.

    cache_dir: optional folder of per-clip ``.npy`` feature files (keyed by the file's content,
    its manifest path, the channel and the feature version), so repeated experiments skip the
    encoder. noise: called once, at the first clip to render in a channel of ``NEEDS_NOISE``,
    for the babble waveforms (see ``render_channel``).
    """
    cache = Path(cache_dir) if cache_dir is not None else None
    pool: list[np.ndarray] | None = None
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
            if pool is None and channel in NEEDS_NOISE and noise is not None:
                pool = noise()
            rendered = render_channel(wave, channel, key=rows[i]["path"], noise=pool)
            for window in clip_windows(rendered):
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
    options: HeadOptions | None = None,
    cache_dir: str | Path | None = None,
    threads: int = 1,
    noise_manifest: str | Path | None = None,
    hold_out: Sequence[str] = (),
    init: str | Path | None = None,
) -> Path:
    """Train a speech emotion model folder from a manifest; returns the folder.

    init: a trained model (name or folder) to adapt instead of training from scratch: its heads
    are fine-tuned on the manifest's clips (``adapt_model_arrays``; e.g. reviewers' corrected
    labels of a team's own calls), everything else of it is kept.

    Every row whose label is in ``LABELS`` is used, in each of ``channels`` (see
    ``render_channel``; "swapped" renders female rows "lower" and male rows "higher"), except
    the rows of the speakers in ``hold_out``. Rows without a ``speaker`` column count as one
    speaker per file; the ``corpus`` column (if any) drives the corpus balance and the
    cross-corpus calibration (see ``fit_model_arrays``). noise_manifest: speech that the
    babble of the "degraded" channel is made from (the training half of its speakers).
    The folder gets model.json, head.npz, SHA256SUMS and a MODEL_CARD.md stub if none exists.
    """
    options = options if options is not None else HeadOptions()
    rows, root = read_manifest(manifest, root)
    held = set(hold_out)
    rows = [r for r in rows if r.get("label") in LABELS and r.get("speaker") not in held]
    if not rows:
        raise ValueError(f"{manifest}: no rows with a label in {LABELS}")
    if any(c in NEEDS_NOISE for c in channels) and noise_manifest is None:
        raise ValueError("the degraded channel needs --noise-manifest (speech for babble)")
    noise_train = None
    if noise_manifest is not None:
        noise_train = partial(load_noise_pool, noise_manifest, "train")
    encoder = WhisperEncoder(threads=threads)
    import torch

    torch.set_num_threads(threads)  # heads are small; leave the other cores to the machine
    feats, ys, spk, chan, gen, cor = [], [], [], [], [], []
    for channel, subset in channel_subsets(rows, channels):
        table = extract_features(
            [rows[i] for i in subset],
            root,
            channel=channel,
            encoder=encoder,
            cache_dir=cache_dir,
            progress=progress,
            noise=noise_train,
        )
        clip_rows = [rows[i] for i in np.asarray(subset, dtype=int)[table.clip]]
        feats.append(table.features)
        ys.append([LABELS.index(r["label"]) for r in clip_rows])
        spk.append([r.get("speaker") or r["path"] for r in clip_rows])
        chan.append([channel] * len(clip_rows))
        gen.append([r.get("gender") or "unknown" for r in clip_rows])
        cor.append([r.get("corpus") or "" for r in clip_rows])
    features = np.vstack(feats)
    if len(features) == 0:
        raise ValueError(f"{manifest}: no readable audio")
    if progress is not None:
        progress("ser heads", 0, 1)
    if init is not None:
        folder = adapt_model(
            init,
            Path(out),
            features,
            np.concatenate(ys).astype(int),
            np.concatenate(spk).astype(str),
            np.concatenate(chan).astype(str),
            options=options,
            about={"manifest": Path(manifest).name, "clips": len(rows), "channels": list(channels)},
        )
        if progress is not None:
            progress("ser heads", 1, 1)
        return folder
    arrays, config = fit_model_arrays(
        features,
        np.concatenate(ys).astype(int),
        np.concatenate(spk).astype(str),
        np.concatenate(chan).astype(str),
        options=options,
        genders=np.concatenate(gen).astype(str),
        corpora=np.concatenate(cor).astype(str),
        progress=progress,
    )
    config["trained_on"] = {
        "manifest": Path(manifest).name,
        "clips": len(rows),
        "speakers": len({r.get("speaker") or r["path"] for r in rows}),
        "corpora": sorted({r.get("corpus") or "" for r in rows}),
        "held_out_speakers": sorted(held),
        "channels": list(channels),
        "noise_manifest": Path(noise_manifest).name if noise_manifest is not None else None,
    }
    folder = save_model_folder(Path(out), arrays, config)
    card = folder / "MODEL_CARD.md"
    if not card.exists():
        card.write_text(
            f"# {folder.name}\n\nSpeech emotion model trained by `train.ser.train_ser` on "
            f"{len(rows)} clips of `{Path(manifest).name}`. Fill in data, licences and metrics.\n"
        )
    write_checksums(folder)
    if progress is not None:
        progress("ser heads", 1, 1)
    return folder


def adapt_model(
    init: str | Path,
    out: Path,
    features: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    channels: np.ndarray,
    *,
    options: HeadOptions,
    about: dict,
) -> Path:
    """Write the model ``init`` with its heads fine-tuned on these windows into ``out``."""
    source = resolve_model_dir(init)
    config = json.loads((source / "model.json").read_text())
    if config.get("kind") != "ser":
        raise ValueError(f"--init {init}: not a speech emotion model")
    with np.load(source / config.get("weights", "head.npz")) as data:
        arrays = {k: data[k] for k in data.files}
    adapted = adapt_model_arrays(arrays, features, y, speakers, channels, options=options)
    keep = {k: v for k, v in config.items() if k not in ("kind", "loader", "labels", "weights")}
    keep["adapted_from"] = {"model": source.name, "on": about, "epochs": options.epochs}
    folder = save_model_folder(out, adapted, keep)
    card = folder / "MODEL_CARD.md"
    if not card.exists():
        card.write_text(
            f"# {folder.name}\n\n`{source.name}` adapted by `emotrace train ser --init` to "
            f"{about['clips']} clips of `{about['manifest']}`; see `{source.name}`'s card for "
            "its data, licences and metrics.\n"
        )
    write_checksums(folder)
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
    noise_manifest: str | Path | None = None,
) -> dict:
    """Evaluate a speech emotion model on a manifest; returns a JSON-ready dict.

    Labelled rows (label in ``LABELS``): n, accuracy ("uncertain" counts as wrong), coverage
    (share of clips not "uncertain"), accuracy_covered (on those), accuracy_argmax (ignoring
    the uncertain flag), macro_f1, per_class (recall, uncertain wrong), confusion (an eighth
    column "uncertain"), labels, ece (of the argmax), ccc_arousal and ccc_valence (against the
    circumplex coordinates of the true label), per_gender and per_speaker (accuracy, when the
    manifest has those columns). Rows without a label (e.g. non-emotional read speech) are
    scored too: "unlabelled" = {n, neutral_or_uncertain, predicted counts}. Also skipped (rows
    with a label the model does not know, or unreadable audio), used_groups, channel.
    A clip is "uncertain" when its window-averaged top probability is below the model's
    ``uncertain_below``.
    use_groups: when the manifest has a ``speaker`` column, pass it as ``groups`` to the model, as
    the engine does for a speaker in a whole call. channel: render the audio through it first
    (telephone, a codec, babble10 ...), to measure robustness; noise_manifest: speech for
    babble (its evaluation half of speakers).
    """
    rows, root = read_manifest(manifest, root)
    ser = model if isinstance(model, SpeechEmotionModel) else load_model(model, "ser")
    if not isinstance(ser, SpeechEmotionModel):
        raise ValueError(f"{model}: not a speech emotion model of this engine (SpeechEmotionModel)")
    known = [r for r in rows if r.get("label") in ser.labels or not r.get("label")]
    skipped = len(rows) - len(known)
    table = extract_features(
        known,
        root,
        channel=channel,
        encoder=ser.encoder,
        cache_dir=cache_dir,
        progress=progress,
        noise=None if noise_manifest is None else partial(load_noise_pool, noise_manifest, "eval"),
    )
    skipped += int((~table.ok).sum())
    with_speaker = use_groups and bool(known) and all(r.get("speaker") for r in known)
    groups = [known[i]["speaker"] for i in table.clip] if with_speaker else None
    scores = ser.predict_features(table.features, table.speech_s, groups=groups)
    clips = np.flatnonzero(table.ok)
    k = len(ser.labels)
    sums = np.zeros((len(known), k + 2))
    np.add.at(
        sums,
        table.clip,
        np.hstack([scores.probs, scores.arousal[:, None], scores.valence[:, None]]),
    )
    counts = np.maximum(np.bincount(table.clip, minlength=len(known)), 1)[:, None]
    means = sums[clips] / counts[clips]
    clip_probs = means[:, :k] / means[:, :k].sum(axis=1, keepdims=True)
    uncertain = clip_probs.max(axis=1) < ser.uncertain_below
    argmax = clip_probs.argmax(axis=1)
    predicted = np.where(uncertain, k, argmax)
    labelled = np.array([bool(known[i].get("label")) for i in clips], dtype=bool)
    report: dict = {}
    if not labelled.all():
        free = predicted[~labelled]
        names = (*ser.labels, "uncertain")
        report["unlabelled"] = {
            "n": int(len(free)),
            "neutral_or_uncertain": round(float(np.mean((free == 0) | (free == k))), 4),
            "predicted": {names[j]: int(np.sum(free == j)) for j in range(k + 1)},
        }
    clips, clip_probs, uncertain = clips[labelled], clip_probs[labelled], uncertain[labelled]
    argmax, predicted, means = argmax[labelled], predicted[labelled], means[labelled]
    truth = np.array([ser.labels.index(known[i]["label"]) for i in clips], dtype=int)
    report.update(classification_report(truth, predicted, (*ser.labels, "uncertain")))
    report["labels"] = list(ser.labels)
    report["skipped"] = skipped
    if not len(truth):
        report.update(used_groups=with_speaker, channel=channel)
        return report
    right = predicted == truth
    report["coverage"] = round(float(1.0 - uncertain.mean()), 4)
    report["accuracy_covered"] = (
        round(float(right[~uncertain].mean()), 4) if (~uncertain).any() else None
    )
    report["accuracy_argmax"] = round(float(np.mean(argmax == truth)), 4)
    report["ece"] = round(expected_calibration_error(clip_probs, truth), 4)
    coords = np.array([CIRCUMPLEX[label] for label in ser.labels])[truth]
    report["ccc_valence"] = round(concordance(means[:, k + 1], coords[:, 0]), 4)
    report["ccc_arousal"] = round(concordance(means[:, k], coords[:, 1]), 4)
    if all(r.get("gender") for r in known):
        genders = np.array([known[i]["gender"] for i in clips])
        report["per_gender"] = {
            g: round(float(np.mean(right[genders == g])), 4) for g in sorted(set(genders))
        }
    if all(r.get("speaker") for r in known):
        speakers = np.array([known[i]["speaker"] for i in clips])
        report["per_speaker"] = {
            name: round(float(np.mean(right[speakers == name])), 4)
            for name in sorted(set(speakers))
        }
    report["used_groups"] = with_speaker
    report["channel"] = channel
    return report


def concordance(a: np.ndarray, b: np.ndarray) -> float:
    """Lin's concordance correlation coefficient of two series [n] (1: identical)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2:
        return 0.0
    cov = np.mean((a - a.mean()) * (b - b.mean()))
    return float(2 * cov / (a.var() + b.var() + (a.mean() - b.mean()) ** 2 + 1e-12))


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
    parser.add_argument(
        "--gender-boosts",
        default=",".join(str(b) for b in HeadOptions.gender_boosts),
        help="extra weights tried, by speaker cross-validation, for the gender served worst "
        "(1: no search)",
    )
    parser.add_argument("--cache-dir", default=None, help="reuse encoder features across runs")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the encoder")
    parser.add_argument(
        "--noise-manifest",
        default=str(READ_SPEECH_MANIFEST) if READ_SPEECH_MANIFEST.is_file() else None,
        help="speech that babble is made from (the degraded channel); default: the read speech",
    )
    parser.add_argument("--hold-out", default="", help="comma-separated speakers never trained on")
    parser.add_argument(
        "--init",
        default=None,
        help="adapt this trained model (name or folder) to the manifest instead of training anew",
    )
    parser.add_argument(
        "--calibration",
        default=HeadOptions.calibration,
        choices=("corpus", "speakers"),
        help="temperatures from cross-corpus predictions or from held-out speakers",
    )
    parser.add_argument(
        "--uncertain-rate",
        type=float,
        default=HeadOptions.uncertain_rate,
        help="share of held-out speakers' windows reported uncertain (0: never)",
    )


def parse_gender_boosts(text: str) -> tuple[float, ...]:
    """``--gender-boosts`` ("1,1.3,1.6") as a tuple of positive floats; empty means (1.0,)."""
    boosts = tuple(float(b) for b in text.split(",") if b.strip())
    if any(b <= 0 for b in boosts):
        raise ValueError(f"--gender-boosts must be positive, not {text}")
    return boosts or (1.0,)


def run_train(args: argparse.Namespace, progress: Progress | None = None) -> Path:
    """Run ``train_ser`` from parsed ``add_train_args`` options; prints and returns the folder."""
    if args.members < 1:
        raise ValueError(f"--members must be at least 1, not {args.members}")
    options = HeadOptions(
        hidden=args.hidden,
        epochs=args.epochs,
        members=args.members,
        gender_boosts=parse_gender_boosts(args.gender_boosts),
        calibration=args.calibration,
        uncertain_rate=args.uncertain_rate,
    )
    if not 0.0 <= args.uncertain_rate < 1.0:
        raise ValueError(f"--uncertain-rate must be in [0, 1), not {args.uncertain_rate}")
    folder = train_ser(
        args.manifest,
        args.root,
        args.out,
        progress=progress,
        channels=tuple(c.strip() for c in args.channels.split(",") if c.strip()),
        options=options,
        cache_dir=args.cache_dir,
        threads=args.threads,
        noise_manifest=args.noise_manifest,
        hold_out=tuple(h.strip() for h in args.hold_out.split(",") if h.strip()),
        init=args.init,
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
    parser.add_argument(
        "--noise-manifest",
        default=str(READ_SPEECH_MANIFEST) if READ_SPEECH_MANIFEST.is_file() else None,
        help="speech that babble is made from (babble10: the evaluation half of its speakers)",
    )


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
        noise_manifest=args.noise_manifest,
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
