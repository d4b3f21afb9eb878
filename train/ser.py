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
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np

from analyzer.audio.ser import (
    FEATURE_KINDS,
    PROSODY_KIND,
    PROSODY_PRIOR_WINDOWS,
    FeatureEncoder,
    SpeechEmotionModel,
    VoiceStatsReader,
    make_encoder,
    prosody_zscores,
    save_model_folder,
)
from analyzer.audio.voicestats import NAMES as VOICESTATS
from analyzer.commands import UsageError
from analyzer.labels import LABELS
from analyzer.models import ModelError, load_model, resolve_model_dir, write_checksums

from .data import READ_SPEECH_MANIFEST
from .heads import (
    ADAPT_CALIBRATION_FOLDS,
    HeadOptions,
    adapt_model_arrays,
    adapted_temperatures,
    fit_model_arrays,
    reading_options,
)
from .ser_eval import concordance, evaluate_ser
from .ser_features import (
    CHANNELS,
    DEFAULT_MODEL,
    ENCODE_CHUNK,
    MAX_CLIP_S,
    NEEDS_NOISE,
    SMALL_VOICE_SHIFT_SEMITONES,
    TRAIN_CHANNELS,
    VOICE_SHIFT_SEMITONES,
    WINDOW_HOP_S,
    WINDOW_S,
    FeatureTable,
    Progress,
    _cache_file,
    clip_windows,
    extract_features,
    load_audio,
    load_noise_pool,
    noise_speakers,
    read_manifest,
    render_channel,
    resample_to_16k,
    resolve_audio_path,
)

# names kept importable from ``train.ser`` (they live in ser_features / ser_eval)
__all__ = [
    "CHANNELS",
    "DEFAULT_MODEL",
    "ENCODE_CHUNK",
    "MAX_CLIP_S",
    "NEEDS_NOISE",
    "SMALL_VOICE_SHIFT_SEMITONES",
    "TRAIN_CHANNELS",
    "VOICE_SHIFT_SEMITONES",
    "WINDOW_HOP_S",
    "WINDOW_S",
    "FeatureTable",
    "Progress",
    "_cache_file",
    "adapt_model",
    "add_eval_args",
    "add_train_args",
    "channel_subsets",
    "clip_windows",
    "concordance",
    "evaluate_ser",
    "extract_features",
    "load_audio",
    "load_noise_pool",
    "main_eval",
    "main_train",
    "noise_speakers",
    "parse_gender_boosts",
    "read_manifest",
    "render_channel",
    "resample_to_16k",
    "resolve_audio_path",
    "run_eval",
    "run_train",
    "train_ser",
]


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


# share of neutral clips in the sets a prosody model's training statistics are z-scored
# against (real calls are mostly neutral; ``training_prosody_zscores``)
NEUTRAL_GROUP_SHARE = 0.7


def train_ser(
    manifest: str | Path,
    root: str | Path | None = None,
    out: str | Path | None = None,
    *,
    progress: Progress | None = None,
    channels: Sequence[str] = TRAIN_CHANNELS,
    options: HeadOptions | None = None,
    cache_dir: str | Path | None = None,
    threads: int = 1,
    noise_manifest: str | Path | None = None,
    hold_out: Sequence[str] = (),
    init: str | Path | None = None,
    neutral_reference: str | Path | None = None,
    feature_kind: str = "whisper-last",
    prosody: bool = False,
    recalibrate: bool = True,
) -> Path:
    """Train a speech emotion model folder from a manifest; returns the folder.

    feature_kind: the encoder output the heads read (``analyzer.audio.ser.make_encoder``):
    "whisper-last" (versions 1-4) or "whisper-layer1" (version 5); written to model.json.

    neutral_reference: a manifest of non-emotional speech (read speech); with
    ``options.neutral_target`` > 0 the model gets a ``neutral_bias`` fitted on the training half
    of its speakers (``reference_windows``), so that share of their windows reads neutral.

    prosody: also read each window's voice statistics (``analyzer.audio.voicestats``), z-scored
    against the speaker's own windows as the engine does per call (version 6,
    ``"prosody": "voicestats-group-z"``); training z-scores each speaker's statistics per channel
    against groups of clips that are mostly neutral, like a real call
    (``training_prosody_zscores``); ``prosody_sd`` is the clean rows' within-speaker spread.

    init: a trained model (name or folder) to adapt instead of training from scratch: its heads
    are fine-tuned on the manifest's clips (``adapt_model_arrays``; e.g. reviewers' corrected
    labels of a team's own calls), everything else of it is kept except, with ``recalibrate``,
    the temperatures: refitted on folds of the clips the heads were not adapted on.

    Every row whose label is in ``LABELS`` is used, in each of ``channels`` (see
    ``render_channel``; "swapped" renders female rows "lower" and male rows "higher"), except
    the rows of the speakers in ``hold_out``. Rows without a ``speaker`` column count as one
    speaker per file; the ``corpus`` column (if any) drives the corpus balance and the
    cross-corpus calibration (see ``fit_model_arrays``). noise_manifest: speech that the
    babble of the "degraded" channel is made from (the training half of its speakers).
    The folder gets model.json, head.npz, SHA256SUMS and a MODEL_CARD.md stub if none exists;
    it is written beside ``out`` and renamed into place whole (``_published``), so a failure
    (a full disk) leaves any earlier model at ``out`` as it was and no half-written folder.
    """
    options = options if options is not None else HeadOptions()
    if out is None:
        raise ValueError("out: the folder to write the model into")
    out = Path(out)
    if init is not None and _same_folder(init, out):
        raise ValueError(f"{out}: the model being adapted; write the adapted one elsewhere")
    if init is not None and prosody:
        raise ValueError("--prosody with --init: the model's own kind decides what it reads")
    if init is not None and options.neutral_target > 0:
        raise ValueError(
            "--neutral-target with --init: refit the prior by python -m train.ser_prior"
        )
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
    reader: FeatureEncoder | SpeechEmotionModel | VoiceStatsReader  # embeds the training windows
    if init is not None:  # adapting: the heads read what the model's heads were trained on
        source = load_ser_model(init)
        source.threads = threads
        feature_kind = source.features
        # a model with prosody (version 6) embeds the voice statistics beside the encoder's
        # features; ``adapt_model`` z-scores them per speaker as the engine does per call
        reader = source if source.prosody is not None else source.encoder
    else:
        reader = make_encoder(feature_kind, threads=threads)
        if prosody:
            reader = VoiceStatsReader(reader)
    import torch

    torch.set_num_threads(threads)  # heads are small; leave the other cores to the machine
    feats, ys, spk, chan, gen, cor, clips = [], [], [], [], [], [], []
    for channel, subset in channel_subsets(rows, channels):
        table = extract_features(
            [rows[i] for i in subset],
            root,
            channel=channel,
            encoder=reader,
            cache_dir=cache_dir,
            progress=progress,
            noise=noise_train,
        )
        clip_ids = np.asarray(subset, dtype=int)[table.clip]
        clips.append(clip_ids)
        clip_rows = [rows[i] for i in clip_ids]
        feats.append(table.features)
        ys.append([LABELS.index(r["label"]) for r in clip_rows])
        spk.append([r.get("speaker") or r["path"] for r in clip_rows])
        chan.append([channel] * len(clip_rows))
        gen.append([r.get("gender") or "unknown" for r in clip_rows])
        cor.append([r.get("corpus") or "" for r in clip_rows])
    features = np.vstack(feats)
    if len(features) == 0:
        raise ValueError(f"{manifest}: no readable audio")
    population_sd = None
    if prosody:
        features, population_sd = prosody_training_rows(
            features,
            np.concatenate(clips).astype(int),
            [r["path"] for r in rows],
            [r["label"] for r in rows],
            np.concatenate(spk).astype(str),
            np.concatenate(chan).astype(str),
        )
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
            clips=np.concatenate(clips).astype(int),
            recalibrate=recalibrate,
        )
        if progress is not None:
            progress("ser heads", 1, 1)
        return folder
    reference = None
    if options.neutral_target > 0:
        if neutral_reference is None:
            raise ValueError("--neutral-target needs --neutral-reference (read speech)")
        reference, readers, ref_channels = reference_windows(
            neutral_reference, encoder=reader, cache_dir=cache_dir, progress=progress
        )
        ref_speakers = sorted(set(readers.tolist()))
        if population_sd is not None:  # each reader's windows are their own call
            width = reference.shape[1] - len(population_sd)
            z = prosody_zscores(
                reference[:, width:],
                speaker_channel_groups(readers, ref_channels),
                population_sd=population_sd,
            )
            reference = np.hstack([reference[:, :width], z]).astype(np.float32)
    arrays, config = fit_model_arrays(
        features,
        np.concatenate(ys).astype(int),
        np.concatenate(spk).astype(str),
        np.concatenate(chan).astype(str),
        options=options,
        genders=np.concatenate(gen).astype(str),
        corpora=np.concatenate(cor).astype(str),
        progress=progress,
        reference=reference,
    )
    if reference is not None and neutral_reference is not None:
        config["neutral_reference"] = {
            "manifest": Path(neutral_reference).name,
            "speakers": len(ref_speakers),
            "windows": len(reference),
            "target": options.neutral_target,
        }
    if feature_kind != "whisper-last":
        config["features"] = feature_kind
    if population_sd is not None:
        arrays["prosody_sd"] = population_sd.astype(np.float32)
        config["prosody"] = PROSODY_KIND
        config["prosody_prior_windows"] = PROSODY_PRIOR_WINDOWS
    config["trained_on"] = {
        "manifest": Path(manifest).name,
        "clips": len(rows),
        "speakers": len({r.get("speaker") or r["path"] for r in rows}),
        "corpora": sorted({r.get("corpus") or "" for r in rows}),
        "held_out_speakers": sorted(held),
        "channels": list(channels),
        "noise_manifest": Path(noise_manifest).name if noise_manifest is not None else None,
    }
    _write_model(
        out,
        arrays,
        config,
        f"Speech emotion model trained by `train.ser.train_ser` on {len(rows)} clips of "
        f"`{Path(manifest).name}`. Fill in data, licences and metrics.",
    )
    if progress is not None:
        progress("ser heads", 1, 1)
    return out


def load_ser_model(name_or_path: str | Path) -> SpeechEmotionModel:
    """A speech emotion model folder (name or path), checksums checked."""
    model = load_model(name_or_path, "ser")
    if not isinstance(model, SpeechEmotionModel):
        raise ValueError(f"{name_or_path}: not a speech emotion model")
    return model


def reference_windows(
    manifest: str | Path,
    *,
    encoder: FeatureEncoder | SpeechEmotionModel | VoiceStatsReader,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    channels: Sequence[str] = ("clean",),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features [n, F] of the training half (``noise_speakers``) of the many-speaker rows of a
    read-speech manifest (LibriSpeech-like; AISHELL's single speaker is never used), rendered in
    each of ``channels`` (e.g. clean and telephone: a prior for calls must hold on the telephone
    band too), with each window's speaker and channel [n] (a prosody model z-scores each
    reader's statistics per channel against their own). The other half stays for evaluation."""
    rows, root = read_manifest(manifest, columns=("path",))
    rows = [r for r in rows if r.get("corpus", "librispeech") == "librispeech"]
    first, _ = noise_speakers(rows)
    rows = [r for r in rows if (r.get("speaker") or r["path"]) in first]
    if not rows:
        raise ValueError(f"{manifest}: no read speech to fit the neutral bias on")
    features, speakers, window_channels = [], [], []
    for channel in channels:
        table = extract_features(
            rows, root, channel=channel, encoder=encoder, cache_dir=cache_dir, progress=progress
        )
        features.append(table.features)
        speakers += [rows[i].get("speaker") or rows[i]["path"] for i in table.clip]
        window_channels += [channel] * len(table.clip)
    return np.vstack(features), np.asarray(speakers, dtype=str), np.asarray(window_channels)


def speaker_channel_groups(
    speakers: Sequence[str] | np.ndarray, channels: Sequence[str] | np.ndarray
) -> list[str]:
    """One group name per window, "speaker|channel": a prosody model's statistics are z-scored
    against the same speaker's windows in the same channel (as the engine does per call)."""
    return [f"{s}|{c}" for s, c in zip(speakers, channels, strict=True)]


def within_speaker_spread(stats: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
    """Per column of raw voice statistics (NaN: undefined), the root of the mean within-speaker
    variance, every speaker weighted by their defined windows: a prosody model's
    ``prosody_sd`` (what a small group's own spread leans on, ``prosody_zscores``)."""
    x = np.asarray(stats, dtype=np.float64)
    names = np.asarray(speakers, dtype=str)
    total, count = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for name in np.unique(names):
        g = x[names == name]
        defined = np.isfinite(g)
        n = defined.sum(axis=0)
        mean = np.where(defined, g, 0.0).sum(axis=0) / np.maximum(n, 1)
        total += (np.where(defined, g - mean, 0.0) ** 2).sum(axis=0)
        count += n
    return np.sqrt(total / np.maximum(count, 1))


def training_prosody_zscores(
    stats: np.ndarray,
    clip: np.ndarray,
    paths: Sequence[str],
    labels: Sequence[str],
    groups: Sequence[str],
    population_sd: np.ndarray,
    neutral_share: float = NEUTRAL_GROUP_SHARE,
    prior_windows: float = PROSODY_PRIOR_WINDOWS,
) -> np.ndarray:
    """Training windows' raw statistics ``stats`` [n, 55] z-scored as the engine z-scores a
    call's (``prosody_zscores``), per group (a speaker in one channel) against sets of clips
    that are ``neutral_share`` neutral like a real call: all of the speaker's neutral clips
    with the next k emotional ones, the clips in the order of their paths' SHA-1. A window in
    several sets (the neutral ones) gets the mean of its z-scores; a speaker with no neutral
    clip is one set. clip [n]: each window's index into ``paths`` / ``labels`` (per clip); the
    labels only build the sets, the heads never read them here."""
    x = np.asarray(stats, dtype=np.float64)
    names = np.asarray(groups, dtype=str)
    out = np.zeros(x.shape)
    seen = np.zeros(len(x))
    for name in np.unique(names):
        at = np.flatnonzero(names == name)
        order = sorted(
            np.unique(clip[at]).tolist(),
            key=lambda c: hashlib.sha1(paths[c].encode()).hexdigest(),
        )
        neutral = [c for c in order if labels[c] == "neutral"]
        other = [c for c in order if labels[c] != "neutral"]
        if not neutral:
            sets = [np.ones(len(at), dtype=bool)]
        else:
            k = max(1, round(len(neutral) * (1 - neutral_share) / neutral_share))
            is_neutral = np.isin(clip[at], neutral)
            sets = [
                is_neutral | np.isin(clip[at], other[g0 : g0 + k])
                for g0 in range(0, max(1, len(other)), k)
            ]
        for members in sets:
            rows = at[members]
            out[rows] += prosody_zscores(
                x[rows], ["g"] * len(rows), population_sd=population_sd, prior_windows=prior_windows
            )
            seen[rows] += 1
    return (out / np.maximum(seen, 1)[:, None]).astype(np.float32)


def prosody_training_rows(
    features: np.ndarray,
    clip: np.ndarray,
    paths: Sequence[str],
    labels: Sequence[str],
    speakers: np.ndarray,
    channels: np.ndarray,
    *,
    population_sd: np.ndarray | None = None,
    prior_windows: float = PROSODY_PRIOR_WINDOWS,
) -> tuple[np.ndarray, np.ndarray]:
    """([encoder features | z-scored statistics], ``prosody_sd``) from ``VoiceStatsReader``
    rows [n, F + 55]: the z-scores per speaker and channel (``training_prosody_zscores``)
    against ``population_sd`` (a trained model's), else the spread of these clean windows
    (all of them if none is clean)."""
    width = features.shape[1] - len(VOICESTATS)
    stats = features[:, width:]
    spread = population_sd
    if spread is None:
        clean = channels == "clean"
        pick = clean if clean.any() else np.ones(len(features), dtype=bool)
        spread = within_speaker_spread(stats[pick], speakers[pick])
    z = training_prosody_zscores(
        stats,
        clip,
        paths,
        labels,
        speaker_channel_groups(speakers, channels),
        spread,
        prior_windows=prior_windows,
    )
    return np.hstack([features[:, :width], z]).astype(np.float32), spread


@contextmanager
def _published(out: Path) -> Iterator[Path]:
    """A fresh folder beside ``out`` to write a model into; when the block ends it takes
    ``out``'s place (an earlier folder there is moved aside first, its MODEL_CARD.md carried
    over, and removed only once the new one stands), and on an error it is removed and ``out``
    left as it was."""
    from analyzer.result import process_umask, replace_folder

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        os.chmod(staging, 0o777 & ~process_umask())  # as mkdir would make it, not 0700
        if (out / "MODEL_CARD.md").is_file():  # a card written by hand stays with the model
            shutil.copy2(out / "MODEL_CARD.md", staging / "MODEL_CARD.md")
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_folder(out, staging, out.parent / f".{out.name}.old-{os.getpid()}")


def _write_model(out: Path, arrays: dict, config: dict, about: str) -> None:
    """The model folder ``out``, whole or not at all (``_published``): weights, model.json, a
    card stub saying ``about`` where no card exists, checksums."""
    with _published(out) as folder:
        save_model_folder(folder, arrays, config)
        card = folder / "MODEL_CARD.md"
        if not card.exists():
            card.write_text(f"# {out.name}\n\n{about}\n")
        write_checksums(folder)


def _same_folder(model: str | Path, out: Path) -> bool:
    """Whether the model ``model`` (a name or a folder) lives in the folder ``out``."""
    try:
        return resolve_model_dir(model).resolve() == out.resolve()
    except (OSError, ValueError, ModelError):  # not found: it cannot be ``out`` either
        return False


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
    clips: np.ndarray | None = None,
    recalibrate: bool = True,
) -> Path:
    """Write the model ``init`` with its heads fine-tuned on these windows into ``out``.

    recalibrate: refit the temperatures on folds of the clips the heads were not adapted on
    (``adapted_temperatures``; needs ``clips``, each window's clip); otherwise the trained
    ones are kept.
    """
    source = resolve_model_dir(init)
    config = json.loads((source / "model.json").read_text())
    if config.get("kind") != "ser":
        raise ValueError(f"--init {init}: not a speech emotion model")
    with np.load(source / config.get("weights", "head.npz")) as data:
        arrays = {k: data[k] for k in data.files}
    if config.get("prosody") is not None:
        # version 6: the raw voice statistics z-scored against each speaker's own windows in
        # each channel (label-free, the engine's ``model_input``), as its heads were trained
        groups = speaker_channel_groups(speakers, channels)
        features = load_ser_model(source).model_input(features, groups)
    options = reading_options(config, options)  # the heads are read as they were trained
    adapted = adapt_model_arrays(arrays, features, y, speakers, channels, options=options)
    keep = {k: v for k, v in config.items() if k not in ("kind", "loader", "labels", "weights")}
    keep["adapted_from"] = {"model": source.name, "on": about, "epochs": options.epochs}
    temperatures = None
    if recalibrate and clips is not None:
        temperatures = adapted_temperatures(
            arrays, config, features, y, clips, speakers, channels, options=options
        )
    if temperatures is not None:
        keep.update(temperatures)
        keep["adapted_from"]["temperatures"] = {
            "refitted": sorted(temperatures),
            "folds": ADAPT_CALIBRATION_FOLDS,
            "trained": {k: config.get(k) for k in ("temperature_abs", "temperature_rel")},
        }
    else:
        keep["adapted_from"]["temperatures"] = {"refitted": []}
    _write_model(
        out,
        adapted,
        keep,
        f"`{source.name}` adapted by `emotrace train ser --init` to {about['clips']} clips of "
        f"`{about['manifest']}`; see `{source.name}`'s card for its data, licences and metrics.",
    )
    return out


# ----------------------------------------------------------------------------- command line


def add_train_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``emotrace train ser``."""
    parser.add_argument("--manifest", required=True, help="CSV with path,label[,speaker,gender]")
    parser.add_argument("--root", default=None, help="folder the paths are relative to")
    parser.add_argument("--out", required=True, help="model folder to write (models/NAME)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the model folder --out if it exists (it is replaced only once the new "
        "model is complete)",
    )
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
        "--keep-temperatures",
        action="store_true",
        help="with --init: keep the model's temperatures instead of refitting them on folds "
        "of the manifest's clips",
    )
    parser.add_argument(
        "--calibration",
        default=HeadOptions.calibration,
        choices=("corpus", "speakers", "pooled"),
        help="temperatures from cross-corpus predictions, from held-out speakers, or from both "
        "with equal weight",
    )
    parser.add_argument(
        "--relative-reference",
        default=HeadOptions.relative_reference,
        choices=("mean", "neutral"),
        help="the relative head's reference voice: the speaker's mean, or their most neutral "
        "windows (robust to a mostly neutral call)",
    )
    parser.add_argument(
        "--relative-scale",
        default=HeadOptions.relative_scale,
        choices=("global", "speaker"),
        help="scale of the speaker offsets: one training spread (versions 1-5) or each "
        "speaker's own spread in the call (z-scores, version 6)",
    )
    parser.add_argument(
        "--relative-scale-floor",
        type=float,
        default=HeadOptions.relative_scale_floor,
        help="under --relative-scale speaker, the least spread a speaker's z-scores divide by, "
        "as a share of the training spread (a speaker who stays calm all call has little)",
    )
    parser.add_argument(
        "--neutral-groups",
        type=int,
        default=HeadOptions.neutral_groups,
        help="extra 50-80 %% neutral training groups per speaker and channel, so the relative "
        "head meets speakers who stay calm most of a call, as real callers do",
    )
    parser.add_argument(
        "--relative-inputs",
        default=HeadOptions.relative_inputs,
        choices=("both", "offset"),
        help="the relative head reads the absolute features and the offsets, or the offsets only",
    )
    parser.add_argument(
        "--relative-weight",
        type=float,
        default=HeadOptions.relative_weight,
        help="share of the relative head for windows of a speaker group (rest: absolute head)",
    )
    parser.add_argument(
        "--neutral-reference",
        default=None,
        help="read-speech manifest whose training half of speakers fits the neutral bias",
    )
    parser.add_argument(
        "--neutral-target",
        type=float,
        default=HeadOptions.neutral_target,
        help="share of those speakers' windows that must read neutral (0: no bias)",
    )
    parser.add_argument(
        "--features",
        default="whisper-last",
        choices=FEATURE_KINDS,
        help="encoder output the heads read: the last layer (versions 1-4) or transformer "
        "layer 1 (version 5)",
    )
    parser.add_argument(
        "--prosody",
        action="store_true",
        help="also read each window's voice statistics, z-scored against the speaker's own "
        "windows (version 6)",
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


def check_train_args(args: argparse.Namespace) -> None:
    """``add_train_args`` options that cannot work, as a ``UsageError`` naming the option:
    counts below their minimum, shares out of range, unknown channels, and an ``--out`` that
    is a file, the model being adapted, or an existing model without ``--overwrite``."""

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise UsageError(message)

    for name, least in (("members", 1), ("epochs", 1), ("threads", 1), ("hidden", 0),
                        ("neutral_groups", 0)):  # fmt: skip
        value = getattr(args, name)
        need(value >= least, f"--{name.replace('_', '-')} must be at least {least}, not {value}")
    need(0.0 < args.relative_scale_floor <= 10.0,
         f"--relative-scale-floor must be in (0, 10], not {args.relative_scale_floor}")  # fmt: skip
    for name, value in (("relative-weight", args.relative_weight),):
        need(0.0 <= value <= 1.0, f"--{name} must be in [0, 1], not {value}")
    for name, value in (("neutral-target", args.neutral_target),
                        ("uncertain-rate", args.uncertain_rate)):  # fmt: skip
        need(0.0 <= value < 1.0, f"--{name} must be in [0, 1), not {value}")
    try:
        parse_gender_boosts(args.gender_boosts)
    except ValueError as exc:
        raise UsageError(f"--gender-boosts takes positive numbers, e.g. 1,1.3 ({exc})") from None
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    known = (*CHANNELS, "swapped", "male-small")
    need(bool(channels), "--channels needs at least one channel")
    unknown = [c for c in channels if c not in known]
    need(not unknown, f"--channels: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    out = Path(args.out)
    need(not out.exists() or out.is_dir(), f"--out: {out} exists and is not a folder")
    if args.init is not None:
        need(not _same_folder(args.init, out), f"--out: {out} is the model --init adapts")
    need(
        args.overwrite or not out.is_dir() or not any(out.iterdir()),
        f"--out: {out} exists and is not empty (pass --overwrite to replace it)",
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out.parent).close()
    except OSError as exc:
        raise UsageError(f"--out: cannot write into {out.parent} ({exc.strerror or exc})") from None


def run_train(args: argparse.Namespace, progress: Progress | None = None) -> Path:
    """Run ``train_ser`` from parsed ``add_train_args`` options; prints and returns the folder.
    Options that cannot work are a ``UsageError`` (exit status 2) before anything is read."""
    check_train_args(args)
    options = HeadOptions(
        hidden=args.hidden,
        epochs=args.epochs,
        members=args.members,
        gender_boosts=parse_gender_boosts(args.gender_boosts),
        calibration=args.calibration,
        uncertain_rate=args.uncertain_rate,
        neutral_target=args.neutral_target,
        relative_reference=args.relative_reference,
        relative_scale=args.relative_scale,
        relative_inputs=args.relative_inputs,
        relative_weight=args.relative_weight,
        relative_scale_floor=args.relative_scale_floor,
        neutral_groups=args.neutral_groups,
    )
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
        neutral_reference=args.neutral_reference,
        feature_kind=args.features,
        prosody=args.prosody,
        recalibrate=not args.keep_temperatures,
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
