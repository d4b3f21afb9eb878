"""Speech emotion data: manifests, audio decoding, channel rendering and cached features.

Split out of ``train.ser`` (which re-exports every name here). See ``train.ser``'s module doc for
the manifest format, the sample-rate handling and the windowing of long clips.
"""

from __future__ import annotations

import csv
import hashlib
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyzer.audio.ser import (
    FEATURE_DIM,
    FEATURE_VERSION,
    SAMPLE_RATE_HZ,
    FeatureEncoder,
    SpeechEmotionModel,
    VoiceStatsReader,
)
from analyzer.models import DEFAULT_MODELS

from . import augment

DEFAULT_MODEL = DEFAULT_MODELS["ser"]  # what ``eval ser`` scores unless told: the engine's
MAX_CLIP_S = 6.0  # clips up to this long are encoded whole
MIN_CLIP_S = 0.1  # shorter clips are skipped as unreadable (no channel can render them)
WINDOW_S = 4.0  # longer clips are cut into windows of this length ...
WINDOW_HOP_S = 2.0  # ... starting every this many seconds
# audio conditions a clip can be rendered in (see render_channel)
CHANNELS = (
    "clean",
    "telephone",
    "noisy",
    "degraded",
    "babble10",
    "babble",
    "phone_babble",
    *augment.CODECS,
    "lower",
    "higher",
    "lower-small",
    "higher-small",
)
VOICE_SHIFT_SEMITONES = 3.0  # size of the "lower" / "higher" voice shifts
PHONE_BABBLE_SNR_DB = (5.0, 20.0)  # babble levels of "phone_babble" (before the phone line)
SMALL_VOICE_SHIFT_SEMITONES = 1.5  # "lower-small" / "higher-small": another voice, same range
# the shipped model's recipe (see its model card): as recorded, telephone, and one random
# real-world rendering per clip (noise, reverberation, codecs, clipping, speed)
TRAIN_CHANNELS = ("clean", "telephone", "degraded")
# channels that mix in other talkers' speech
NEEDS_NOISE = ("degraded", "babble10", "babble", "phone_babble")
ENCODE_CHUNK = 32  # clips decoded and encoded per step (bounds memory)

Progress = Callable[[str, int, int], None]


# ----------------------------------------------------------------------------- manifest and audio


def read_manifest(
    manifest: str | Path,
    root: str | Path | None = None,
    *,
    columns: tuple[str, ...] = ("path", "label"),
) -> tuple[list[dict], Path]:
    """Rows of a manifest CSV (dicts of strings) and the root folder that paths are relative to.
    ``columns``: those the manifest must have (unlabelled speech needs only ``path``)."""
    manifest = Path(manifest)
    with open(manifest, newline="", encoding="utf-8-sig") as fh:  # a spreadsheet's BOM too
        rows = list(csv.DictReader(fh))
    if rows and not set(columns) <= set(rows[0]):
        raise ValueError(f"{manifest} needs the columns {', '.join(repr(c) for c in columns)}")
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
    """Decode an audio file to a 16 kHz float32 mono waveform [n_samples]; NaN or infinite
    samples become silence (as the engine's decoder makes them). A ValueError when nothing
    decodes or the clip is shorter than MIN_CLIP_S."""
    wave = _decode_audio(path)
    if len(wave) < MIN_CLIP_S * SAMPLE_RATE_HZ:
        raise ValueError(f"{path}: shorter than {MIN_CLIP_S:g} s")
    return np.nan_to_num(wave, nan=0.0, posinf=0.0, neginf=0.0)


def _decode_audio(path: str | Path) -> np.ndarray:
    """``load_audio`` before its checks."""
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
        from audioread.exceptions import DecodeError  # type: ignore[import-untyped]

        try:
            wave, rate = librosa.load(str(path), sr=None, mono=True)
        except (RuntimeError, OSError, DecodeError) as exc:  # no decoder reads it: corrupt
            raise ValueError(f"{path}: cannot decode the audio") from exc
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

    noise: waveforms that babble is made from (``load_noise_pool``), needed by "degraded",
    "babble" (3-7 talkers at 0-20 dB, ``augment.babble_copy``), "phone_babble" (babble at
    ``PHONE_BABBLE_SNR_DB`` then the telephone line) and "babble10" (5 talkers at 10 dB SNR).
    Training draws the babble from the read speech's training half, evaluation from the other.
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
        if channel == "babble":  # 3-7 talkers at 0-20 dB, one draw per clip
            return augment.babble_copy(wave, key=key, pool=noise)
        if channel == "phone_babble":  # a caller among other talkers, over the telephone line
            noisy = augment.babble_copy(wave, key=key, pool=noise, snr_db=PHONE_BABBLE_SNR_DB)
            return augment.telephone_channel(noisy)
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


def _cache_file(
    cache_dir: Path, path: Path, name: str, channel: str, version: str = FEATURE_VERSION
) -> Path:
    """Where the features of one clip live: keyed by the file's bytes (not its path or mtime, so
    a re-copied data set still hits), its manifest name (it seeds the channel's random choices),
    the channel and everything that shapes the features (``version``: the encoder's
    ``feature_version``)."""
    content = hashlib.sha1(path.read_bytes()).hexdigest()
    key = f"{content}|{name}|{channel}|{version}|{MAX_CLIP_S}|{WINDOW_S}|{WINDOW_HOP_S}"
    digest = hashlib.sha1(key.encode()).hexdigest()
    return cache_dir / digest[:2] / f"{digest}.npy"


def extract_features(
    rows: Sequence[dict],
    root: Path,
    *,
    channel: str = "clean",
    encoder: FeatureEncoder | SpeechEmotionModel | VoiceStatsReader,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    noise: Callable[[], list[np.ndarray]] | None = None,
) -> FeatureTable:
    """Decode, render in ``channel``, window and encode every clip of ``rows``.

    encoder: a Whisper feature encoder, or a speech emotion model whose ``embed`` adds each
    window's prosodic statistics (version 6). cache_dir: optional folder of per-clip ``.npy``
    feature files (keyed by the file's content,
    its manifest path, the channel and the feature version), so repeated experiments skip the
    encoder. noise: called once, at the first clip to render in a channel of ``NEEDS_NOISE``,
    for the babble waveforms (see ``render_channel``).
    """
    cache = Path(cache_dir) if cache_dir is not None else None
    # the cache key's feature version (an encoder without one makes the last-layer features)
    version = str(getattr(encoder, "feature_version", FEATURE_VERSION))
    pool: list[np.ndarray] | None = None
    per_clip: list[np.ndarray | None] = [None] * len(rows)
    ok = np.ones(len(rows), dtype=bool)
    todo: list[int] = []
    paths = [resolve_audio_path(r["path"], root) for r in rows]
    for i, path in enumerate(paths):
        if not path.is_file():
            ok[i] = False
            continue
        hit = (
            _cache_file(cache, path, rows[i]["path"], channel, version)
            if cache is not None
            else None
        )
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
                    target = _cache_file(cache, paths[i], rows[i]["path"], channel, version)
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
    # the last column is the speech seconds; before it the encoder's features (and, for a
    # version-6 model's ``embed``, the voice statistics)
    return FeatureTable(stacked[:, :-1], stacked[:, -1], clip, ok)
