"""Overlapped speech in mixed (single-channel) audio: where two voices sound at once.

A small frame classifier (``OverlapDetector``; model folder ``models/overlap-mlp-mel-v2``,
version 1 ``overlap-mlp-mel`` kept beside it) reads spectral features of the 0-4 kHz band on
the 10 ms diarization grid (``frame_features``: log mel energies, spectral flatness,
periodicity and level, normalised per call), stacked over a context of up to +-0.7 s, and
gives each frame the probability that two voices overlap there. It is trained by
``train/overlap.py`` on synthetic mixtures of two voices (conversations with cut-ins, varied
levels, wideband and through an 8 kHz telephone channel) of speakers the diarization benchmark
never uses. Inference is numpy only: a few ms of CPU per second of audio.

Only the 0-4 kHz band is read, so a telephone recording and a wideband one look alike.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..arrays import BoolArray, FloatArray
from ..config import SAMPLE_RATE
from ..segment import Segment, TimeGrid
from .vad import mask_to_segments

OVERLAP_MODEL = "overlap-mlp-mel-v2"  # models/ folder of the shipped detector (v1: overlap-mlp-mel)
FRAME_S = 0.01  # s; the frame grid (the diarization grid)
WIN_S = 0.025  # s; analysis window
N_FFT = 512  # points per spectrum at 16 kHz (31.25 Hz bins)
BAND_HZ = 4000.0  # Hz; highest frequency read (what an 8 kHz channel keeps)
N_MELS = 32  # mel bands over 60 Hz .. BAND_HZ
PITCH_LAGS_S = (1 / 400, 1 / 70)  # s; autocorrelation lags searched for a voice's period
BLOCK_S = 20.0  # s of audio per spectral block: bounds memory (about 35 MB of spectra)
LEVEL_FLOOR_DB = -100.0  # dB; floor of the band level (digital silence)
CALL_NORM_LEVEL_DB = -15.0  # dB under the call's speech level: frames that set its mean shape


def _mel_matrix(sr: int) -> FloatArray:
    """Triangular mel filters [N_MELS, bins of the 0..BAND_HZ band], unit peak."""
    bins = int(BAND_HZ / (sr / N_FFT)) + 1
    freqs = np.arange(bins) * sr / N_FFT

    def mel(f: FloatArray | float) -> Any:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges_mel = np.linspace(mel(60.0), mel(BAND_HZ * 0.97), N_MELS + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    fb = np.zeros((N_MELS, bins))
    for m in range(N_MELS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - lo) / max(mid - lo, 1e-9)
        fall = (hi - freqs) / max(hi - mid, 1e-9)
        fb[m] = np.clip(np.minimum(rise, fall), 0.0, None)
    return fb


def frame_features(
    audio: FloatArray, *, sr: int = SAMPLE_RATE, pitch_bins: int = 0, relative: bool = True
) -> FloatArray:
    """Per-frame spectral features of the 0-4 kHz band, float32 [frames, N_MELS + 3 + pitch_bins].

    audio: float [samples] at 16 kHz. Frame i is centred on sample i * hop (10 ms hop, 25 ms
    Hann window), so there are 1 + samples // hop frames, as on the diarization grid.
    Columns: N_MELS log mel energies (dB, relative to the frame's band level: the spectrum's
    shape), log spectral flatness, periodicity (the highest normalised autocorrelation of the
    band-limited frame at a voice's pitch lags: one voiced voice gives a clear peak, two voices
    blur it) and the band level (dB) relative to the call's typical speech level (the median
    level of its louder half of frames), so a call's overall gain does not matter.
    pitch_bins > 0 appends the autocorrelation profile over the pitch lags: the lags split into
    that many log-spaced bands, each band's highest normalised autocorrelation (one voice peaks
    at its period and its multiples, two voices at two unrelated periods; the single
    periodicity column cannot tell those apart).
    relative=False leaves the band level in dB (``relative_level`` makes it relative later: a
    call read in chunks is put on its own speech level once all of it has been read).
    """
    hop = TimeGrid.rate(sr).frames(FRAME_S)
    win = int(round(WIN_S * sr))
    n_frames = 1 + len(audio) // hop
    fb = _mel_matrix(sr)
    bins = fb.shape[1]
    window = np.hanning(win + 2)[1:-1].astype(np.float32)
    lag_lo, lag_hi = (int(round(s * sr)) for s in PITCH_LAGS_S)
    half = N_FFT // 2
    padded = np.pad(np.asarray(audio, dtype=np.float32), (half, half + N_FFT))
    out = np.zeros((n_frames, N_MELS + 3 + pitch_bins), dtype=np.float32)
    edges = pitch_band_edges(lag_lo, lag_hi, pitch_bins)
    block = max(1, int(BLOCK_S / FRAME_S))
    for f0 in range(0, n_frames, block):
        idx = np.arange(f0, min(n_frames, f0 + block))
        starts = idx * hop + half - win // 2
        frames = padded[starts[:, None] + np.arange(win)[None, :]] * window
        spec = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)) ** 2  # [n, N_FFT/2+1]
        band = spec[:, :bins].astype(np.float64) + 1e-12
        power = band.sum(axis=1)
        mel = 10 * np.log10(band @ fb.T + 1e-10)
        flat = np.mean(np.log(band[:, 2:]), axis=1) - np.log(np.mean(band[:, 2:], axis=1))
        low = spec.copy()
        low[:, bins:] = 0.0  # autocorrelation of the band-limited frame
        ac = np.fft.irfft(low, n=N_FFT, axis=1)
        energy = np.maximum(ac[:, 0], 1e-12)
        period = ac[:, lag_lo : lag_hi + 1].max(axis=1) / energy
        level = np.maximum(10 * np.log10(power), LEVEL_FLOOR_DB)
        rows = slice(idx[0], idx[-1] + 1)
        out[rows, :N_MELS] = mel - level[:, None]  # the spectrum's shape, not its level
        out[rows, N_MELS] = flat
        out[rows, N_MELS + 1] = period
        out[rows, N_MELS + 2] = level
        for j in range(pitch_bins):  # the profile only where a model reads it
            lags = ac[:, lag_lo + edges[j] : lag_lo + edges[j + 1]]
            out[rows, N_MELS + 3 + j] = lags.max(axis=1) / energy
    return relative_level(out) if relative else out


def relative_level(feats: FloatArray) -> FloatArray:
    """``frame_features`` [T, F] of a whole call with the band level column made relative to
    the call's typical speech level (the median level of its louder half of frames), in place."""
    level = feats[:, N_MELS + 2]
    loud = level[level >= np.median(level)] if len(level) else level
    feats[:, N_MELS + 2] -= float(np.median(loud)) if len(loud) else 0.0
    return feats


def pitch_band_edges(lag_lo: int, lag_hi: int, bands: int) -> list[int]:
    """Column offsets [bands + 1] into the lags lag_lo..lag_hi: log-spaced bands, each at
    least one lag wide."""
    if bands <= 0:
        return [0]
    edges = np.geomspace(lag_lo, lag_hi + 1, bands + 1).round().astype(int) - lag_lo
    out = [0]
    for e in edges[1:]:
        out.append(max(int(e), out[-1] + 1))
    out[-1] = lag_hi + 1 - lag_lo
    return out


def call_normalised(feats: FloatArray) -> FloatArray:
    """``frame_features`` output with the call's mean spectral shape taken out of the mel
    columns: the mean over frames within CALL_NORM_LEVEL_DB of the call's speech level (its
    voices and channel together). What stays is how a frame's shape differs from the call's
    own voices, so a corpus's microphone and timbre matter less (the models with
    ``call_norm`` in their model.json are fitted on features normalised this way)."""
    out = np.array(feats, dtype=np.float32, copy=True)
    loud = out[:, N_MELS + 2] >= CALL_NORM_LEVEL_DB
    if loud.any():
        out[:, :N_MELS] -= out[loud, :N_MELS].mean(axis=0)
    return out


def stack_context(feats: FloatArray, offsets: tuple[int, ...]) -> FloatArray:
    """Frames [T, F] -> [T, len(offsets) * F]: each frame beside its neighbours at ``offsets``
    frames (edges repeat the first / last frame)."""
    t_n = len(feats)
    cols = [feats[np.clip(np.arange(t_n) + o, 0, max(t_n - 1, 0))] for o in offsets]
    return np.concatenate(cols, axis=1)


def smooth(prob: FloatArray, frames: int) -> FloatArray:
    """Moving average of ``prob`` [T] over ``frames`` frames (centred; 1 = unchanged)."""
    if frames <= 1 or len(prob) == 0:
        return prob
    kernel = np.ones(frames) / frames
    out: FloatArray = np.convolve(np.pad(prob, (frames // 2, frames - 1 - frames // 2), "edge"),
                                  kernel, mode="valid")  # fmt: skip
    return out


class OverlapDetector:
    """Frame probabilities of overlapped speech from a small MLP (numpy; weights from
    ``train/overlap.py``). Load once (``load_overlap_detector``), call on many recordings.

    The network: standardised stacked features -> ReLU layers -> one logit per frame.
    ``threshold``, ``smooth_frames`` and ``min_s`` (chosen on validation calls) turn the
    probabilities into segments (``segments``); ``near_change_s`` (s, 0 = everywhere) tells
    the diarizer where ``threshold`` applies: within that many seconds of a speaker change
    inside continuous speech, and within ``edge_s`` (s, 0 = nowhere) of a speech segment's
    start or end (where the other voice's few trailing words overlap a turn's end and no
    change is found); elsewhere in speech a frame needs ``far_threshold`` (above 1: never).
    ``call_norm``: the features are normalised per call (``call_normalised``) before the
    network. ``pitch_bins``: the pitch profile columns of
    ``frame_features`` the network reads (0 for versions 1 and 2). A model.json's ``members``
    (each a ``weights`` file, with its own ``call_norm``) are further networks whose
    probabilities are averaged with this one's (an ensemble; one decision for the average).
    ``convs`` (model.json ``"arch": "tcn"``) replaces the stacked context and the MLP by a
    dilated 1-D convolutional network over the standardised frames (``Conv``: the first layer
    maps the features to the channels, the next ones add their output to their input, the last
    maps the channels to one logit); ``layers`` and ``offsets`` are then unused.
    """

    def __init__(
        self,
        layers: list[tuple[FloatArray, FloatArray]],
        mean: FloatArray,
        scale: FloatArray,
        offsets: tuple[int, ...],
        *,
        threshold: float,
        smooth_frames: int,
        min_s: float,
        near_change_s: float = 0.0,
        far_threshold: float = 2.0,
        call_norm: bool = False,
        shrink_s: float = 0.0,
        pitch_bins: int = 0,
        edge_s: float = 0.0,
    ) -> None:
        self.layers = [(w.astype(np.float32), b.astype(np.float32)) for w, b in layers]
        self.mean = mean.astype(np.float32)
        self.scale = scale.astype(np.float32)
        self.offsets = tuple(int(o) for o in offsets)
        self.threshold = float(threshold)
        self.smooth_frames = int(smooth_frames)
        self.min_s = float(min_s)
        self.near_change_s = float(near_change_s)
        self.far_threshold = float(far_threshold)
        self.call_norm = bool(call_norm)
        self.shrink_s = float(shrink_s)
        self.pitch_bins = int(pitch_bins)  # frame_features' pitch profile columns it reads
        self.edge_s = float(edge_s)  # s at speech-segment edges where ``threshold`` holds too
        self.members: list[OverlapDetector] = []  # networks averaged with this one
        self.convs: list[Conv] = []  # a convolutional network instead of the MLP ("tcn")

    @classmethod
    def from_folder(cls, folder: Path, config: dict[str, Any]) -> OverlapDetector:
        z = np.load(folder / str(config["weights"]))
        n = int(config["layers"])
        tcn = config.get("arch", "mlp") == "tcn"
        layers = [] if tcn else [(z[f"w{i}"], z[f"b{i}"]) for i in range(n)]
        det = cls(
            layers,
            z["mean"],
            z["scale"],
            tuple(config.get("offsets", (0,))),
            threshold=float(config["threshold"]),
            smooth_frames=int(config["smooth_frames"]),
            min_s=float(config["min_s"]),
            near_change_s=float(config.get("near_change_s", 0.0)),
            far_threshold=float(config.get("far_threshold", 2.0)),
            call_norm=bool(config.get("call_norm", False)),
            shrink_s=float(config.get("shrink_s", 0.0)),
            pitch_bins=int(config.get("pitch_bins", 0)),
            edge_s=float(config.get("edge_s", 0.0)),
        )
        if tcn:
            det.convs = conv_layers(
                [(z[f"w{i}"], z[f"b{i}"]) for i in range(n)], config["dilations"]
            )
        for extra in config.get("members", []):  # an ensemble: more networks, same decision
            det.members.append(cls.from_folder(folder, {**config, **extra, "members": []}))
        return det

    def probabilities_from_features(self, feats: FloatArray) -> FloatArray:
        """Overlap probability per frame [T] from ``frame_features`` output [T, F] of a whole
        call (normalised here by ``call_normalised`` when the model was fitted so); an
        ensemble's members' probabilities averaged with this network's."""
        own = self._network(call_normalised(feats) if self.call_norm else feats)
        if not self.members:
            return own
        out: FloatArray = np.mean(
            [own] + [m.probabilities_from_features(feats) for m in self.members], axis=0
        )
        return out.astype(np.float32)

    def _network(self, feats: FloatArray) -> FloatArray:
        """This network's probability per frame of (normalised as fitted) features [T, F]."""
        step = int(BLOCK_S / FRAME_S)  # blocks of frames: memory stays flat on long calls
        if self.convs:
            return self._convolved(feats, step)
        out = np.zeros(len(feats), dtype=np.float32)
        reach = max(abs(o) for o in self.offsets)
        for a in range(0, len(feats), step):
            lo, hi = max(0, a - reach), min(len(feats), a + step + reach)
            x = stack_context(feats[lo:hi], self.offsets)[
                a - lo : a - lo + min(step, len(feats) - a)
            ]
            h = (x - self.mean) / self.scale
            for i, (w, b) in enumerate(self.layers):
                h = h @ w + b
                if i < len(self.layers) - 1:
                    h = np.maximum(h, 0.0)
            out[a : a + len(h)] = 1.0 / (1.0 + np.exp(-np.clip(h[:, 0], -30, 30)))
        return out

    def _convolved(self, feats: FloatArray, step: int) -> FloatArray:
        """The convolutional network's probability per frame [T], ``step`` frames at a time,
        each block read with the network's whole reach on both sides (zeros past the call's
        ends, as in training), so the blocks give what one pass over the call would."""
        out = np.zeros(len(feats), dtype=np.float32)
        reach = sum(c.reach for c in self.convs)
        t_n = len(feats)
        for a in range(0, t_n, step):
            lo, hi = a - reach, min(t_n, a + step) + reach
            block = (feats[max(0, lo) : min(t_n, hi)] - self.mean) / self.scale
            h = np.pad(block, ((max(0, -lo), max(0, hi - t_n)), (0, 0)))
            valid = np.zeros(len(h), dtype=bool)  # rows inside the call: padding stays zero
            valid[max(0, -lo) : max(0, -lo) + len(block)] = True
            for c in self.convs:
                h = c(h, valid)
            n = min(step, len(feats) - a)
            logit = h[reach : reach + n, 0]
            out[a : a + n] = 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))
        return out

    def probabilities(self, audio: FloatArray, *, sr: int = SAMPLE_RATE) -> FloatArray:
        """Overlap probability per 10 ms frame [1 + samples // hop] of ``audio`` (16 kHz)."""
        return self.probabilities_from_features(
            frame_features(audio, sr=sr, pitch_bins=self.pitch_bins)
        )

    def mask(
        self, prob: FloatArray, speech: BoolArray | None = None, near: BoolArray | None = None
    ) -> BoolArray:
        """Frames called overlapped: smoothed probability over ``threshold`` (inside
        ``speech`` frames when given; where ``near`` is given, ``threshold`` applies on its
        frames and ``far_threshold`` on the others), runs shorter than ``min_s`` dropped."""
        level: FloatArray | float = self.threshold
        if near is not None:
            level = np.where(_fit(near, len(prob)), self.threshold, self.far_threshold)
        hit = smooth(prob, self.smooth_frames) >= level
        if speech is not None:
            hit &= _fit(speech, len(hit))
        keep = np.zeros(len(hit), dtype=bool)
        cut = int(round(self.shrink_s / FRAME_S))
        for seg in mask_to_segments(hit, hop_s=FRAME_S, min_on_s=self.min_s, min_off_s=0.0):
            a, b = int(round(seg.start / FRAME_S)), int(round(seg.end / FRAME_S))
            keep[a + cut : b - cut] = True
        return keep

    def segments(self, audio: FloatArray, speech: list[Segment] | None = None) -> list[Segment]:
        """Overlapped-speech segments of ``audio`` (16 kHz), inside ``speech`` when given."""
        prob = self.probabilities(audio)
        inside = None
        if speech is not None:
            inside = np.zeros(len(prob), dtype=bool)
            grid = TimeGrid(FRAME_S)
            for s in speech:
                inside[grid.cover(s)] = True
        duration = len(audio) / SAMPLE_RATE
        return [
            Segment(s.start, min(s.end, duration))
            for s in mask_to_segments(self.mask(prob, inside), hop_s=FRAME_S, min_off_s=0.0)
            if s.start < duration
        ]


class Conv:
    """One layer of the convolutional overlap network: a 1-D convolution over frames with
    ``dilation`` (odd kernel, centred, zero padding as torch's ``padding="same"``), then ReLU
    and the input added back (``residual``) or, for the first layer, ReLU alone; the last
    layer (one output channel) is linear. ``weight`` [out, in, kernel] as torch stores it."""

    def __init__(self, weight: FloatArray, bias: FloatArray, dilation: int, *, residual: bool):
        self.taps = [np.ascontiguousarray(weight[:, :, j].T, dtype=np.float32)
                     for j in range(weight.shape[2])]  # fmt: skip
        self.bias = bias.astype(np.float32)
        self.dilation = int(dilation)
        self.residual = bool(residual)
        self.last = weight.shape[0] == 1

    @property
    def reach(self) -> int:
        """Frames this layer reads on each side of a frame."""
        return self.dilation * (len(self.taps) - 1) // 2

    def __call__(self, h: FloatArray, valid: BoolArray) -> FloatArray:
        """[T, in] -> [T, out]; rows outside ``valid`` (padding past the call's ends) are set
        to zero after the layer, as the next layer's zero padding would see them."""
        r, t_n = self.reach, len(h)
        padded = np.pad(h, ((r, r), (0, 0)))
        y = np.broadcast_to(self.bias, (t_n, len(self.bias))).copy()
        for j, w in enumerate(self.taps):
            y += padded[j * self.dilation : j * self.dilation + t_n] @ w
        if not self.last:
            y = np.maximum(y, 0.0)
            if self.residual:
                y += h
        y[~valid] = 0.0
        return y


def conv_layers(weights: list[tuple[FloatArray, FloatArray]], dilations: list[int]) -> list[Conv]:
    """The convolutional network's layers from its (weight [out, in, kernel], bias) pairs and
    dilations: the first maps features to channels, the inner ones are residual, the last is
    the linear read-out."""
    n = len(weights)
    return [
        Conv(w, b, int(d), residual=0 < i < n - 1)
        for i, ((w, b), d) in enumerate(zip(weights, dilations, strict=True))
    ]


def _fit(mask: BoolArray, n: int) -> BoolArray:
    """``mask`` cut or padded (False) to ``n`` frames."""
    return mask[:n] if len(mask) >= n else np.pad(mask, (0, n - len(mask)))


@lru_cache(maxsize=2)
def load_overlap_detector(name: str = OVERLAP_MODEL) -> OverlapDetector:
    """The overlap model folder ``name`` under models/ (checksums checked); ModelError when it
    is missing, corrupt or not an overlap model."""
    from ..models import open_model_folder

    return OverlapDetector.from_folder(*open_model_folder(name, "overlap"))
