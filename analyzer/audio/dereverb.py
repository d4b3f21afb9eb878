"""Dereverberation of a far-field recording: weighted prediction error (WPE), one channel.

In a room the microphone hears each voice's direct sound and, for a few hundred milliseconds
after it, the room's late reflections. Those reflections are, in each frequency bin of a
short-time Fourier transform, close to a linear function of the bin's past few frames: WPE
predicts them from frames at least DELAY frames back (the direct sound and early reflections
are left alone) and subtracts the prediction. The prediction filter of each bin is the least
squares fit weighted by the inverse power of the dereverberated signal, which is unknown and
so refined over a few iterations (Nakatani et al., "Speech dereverberation based on
variance-normalized delayed linear prediction", IEEE TASLP 2010; Yoshioka & Nakatani,
"Generalization of multi-channel linear prediction methods for blind MIMO impulse response
shortening", IEEE TASLP 2012).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

N_FFT = 512  # samples per STFT frame (32 ms at 16 kHz), Hann window
HOP = 128  # samples between frames
DELAY = 3  # frames: the prediction starts this far back (keeps the direct sound and early echoes)
TAPS = 10  # frames of the past each bin's late reverberation is predicted from
ITERATIONS = 3  # refinements of the power weighting
POWER_FLOOR = 1e-6  # of the recording's mean bin power: bins quieter than this weigh as this
BINS_PER_BLOCK = 16  # frequency bins solved together (bounds memory on long recordings)


def wpe(
    audio: NDArray[np.floating],
    *,
    taps: int = TAPS,
    delay: int = DELAY,
    iterations: int = ITERATIONS,
) -> NDArray[np.float32]:
    """``audio`` float [samples] with its late reverberation removed, same length, float32.

    Silent or very short audio (under one frame) comes back unchanged."""
    from scipy.signal import istft, stft

    x = np.asarray(audio, dtype=np.float64)
    if len(x) < N_FFT or not np.any(x):
        return x.astype(np.float32)
    _, _, spec = stft(x, nperseg=N_FFT, noverlap=N_FFT - HOP, window="hann", boundary="even")
    out = np.empty_like(spec)
    floor = POWER_FLOOR * float(np.mean(np.abs(spec) ** 2))
    for lo in range(0, spec.shape[0], BINS_PER_BLOCK):
        out[lo : lo + BINS_PER_BLOCK] = _dereverb_bins(
            spec[lo : lo + BINS_PER_BLOCK], taps, delay, iterations, floor
        )
    _, y = istft(out, nperseg=N_FFT, noverlap=N_FFT - HOP, window="hann", boundary=True)
    y = y[: len(x)]
    if len(y) < len(x):
        y = np.pad(y, (0, len(x) - len(y)))
    return y.astype(np.float32)


def _dereverb_bins(
    spec: NDArray[np.complexfloating], taps: int, delay: int, iterations: int, floor: float
) -> NDArray[np.complexfloating]:
    """WPE on a block of bins [F, T]: each bin's late reverberation predicted from its frames
    ``delay`` .. ``delay + taps - 1`` back and subtracted."""
    f, t = spec.shape
    past = np.zeros((f, t, taps), dtype=spec.dtype)  # past[:, i, k] = spec[:, i - delay - k]
    for k in range(taps):
        shift = delay + k
        if shift < t:
            past[:, shift:, k] = spec[:, : t - shift]
    out = spec
    ridge = 1e-9 * np.eye(taps)
    for _ in range(iterations):
        weight = 1.0 / np.maximum(np.abs(out) ** 2, floor)  # [F, T]
        weighted = past.conj() * weight[:, :, None]  # [F, T, K]
        cov = np.einsum("ftk,ftl->fkl", weighted, past)  # [F, K, K]
        cross = np.einsum("ftk,ft->fk", weighted, spec)  # [F, K]
        scale = np.maximum(np.abs(np.einsum("fkk->f", cov)).real / taps, 1e-30)
        filt = np.linalg.solve(cov + ridge * scale[:, None, None], cross[:, :, None])[:, :, 0]
        out = spec - np.einsum("ftk,fk->ft", past, filt)
    return out
