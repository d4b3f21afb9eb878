"""Audio augmentation for training speech models: pure functions, arrays in, arrays out.

Every function takes a 16 kHz float32 mono waveform ``[n_samples]`` (amplitude in [-1, 1]) and
returns a new float32 waveform of the same length; the input is never modified. Random choices come
from the ``rng`` argument (a ``numpy.random.Generator``) so that a seeded run is reproducible.

Why: recorded calls differ from studio speech mainly by the telephone channel (narrow band,
8 kHz, mu-law), low-bit-rate codecs, background noise (other talkers, offices, streets), room
reverberation, level and clipping. FINDINGS.md measured a 12-13 point loss on telephone audio for a
clean-trained model, recovered by training on telephone copies; ``degrade`` draws a random mix of
all of these for one training copy of a clip. ``speed`` (and ``degrade`` when it applies it) is
the one exception to "same length": it changes the duration on purpose.
"""

from __future__ import annotations

import numpy as np

# scipy.signal is imported inside the functions that use it: it takes about 1.5 s to import, and
# the `emotrace` command imports this package (through train.ser) to build its parser.
SAMPLE_RATE_HZ = 16_000  # rate of every waveform in and out
PHONE_RATE_HZ = 8_000  # narrow-band telephone sampling rate
PHONE_BAND_HZ = (300.0, 3_400.0)  # classic PSTN voice pass band
MU_LAW_MU = 255  # G.711 mu-law companding constant (8-bit codes)


def _as_float32(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono waveform [n_samples], got shape {wave.shape}")
    return wave


def mu_law_roundtrip(wave: np.ndarray, *, mu: int = MU_LAW_MU) -> np.ndarray:
    """Encode ``wave`` to 8-bit mu-law codes and decode it again (G.711-style quantisation noise).

    wave: float32 [n] in [-1, 1] (clipped). Returns float32 [n].
    """
    x = np.clip(_as_float32(wave), -1.0, 1.0)
    compressed = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    codes = np.round((compressed + 1.0) / 2.0 * mu)  # integers 0..mu, i.e. 8 bits for mu=255
    expanded = codes / mu * 2.0 - 1.0
    return (np.sign(expanded) * np.expm1(np.abs(expanded) * np.log1p(mu)) / mu).astype(np.float32)


def telephone_channel(
    wave: np.ndarray,
    *,
    band_hz: tuple[float, float] = PHONE_BAND_HZ,
    mu_law: bool = True,
) -> np.ndarray:
    """Simulate a narrow-band telephone line: 16 kHz -> 8 kHz, band-pass, mu-law, back to 16 kHz.

    wave: float32 [n] at 16 kHz. band_hz: (low, high) pass band in Hz. Returns float32 [n] at 16 kHz
    whose content above ``band_hz[1]`` and below ``band_hz[0]`` is removed. Deterministic.
    """
    from scipy import signal

    x = _as_float32(wave)
    narrow = signal.resample_poly(x, PHONE_RATE_HZ, SAMPLE_RATE_HZ)
    sos = signal.butter(6, band_hz, btype="bandpass", fs=PHONE_RATE_HZ, output="sos")
    narrow = signal.sosfiltfilt(sos, narrow)
    if mu_law:
        narrow = mu_law_roundtrip(narrow)
    wide = signal.resample_poly(narrow, SAMPLE_RATE_HZ, PHONE_RATE_HZ)
    return _fit_length(wide, len(x))


def add_noise(
    wave: np.ndarray,
    *,
    snr_db: float,
    rng: np.random.Generator,
    color: str = "white",
) -> np.ndarray:
    """Add Gaussian noise at a signal-to-noise ratio of ``snr_db`` decibels.

    wave: float32 [n]. color: "white" (flat spectrum) or "pink" (1/f power, closer to room and
    line noise). Signal power is measured over the whole waveform. Returns float32 [n].
    """
    x = _as_float32(wave)
    noise = rng.standard_normal(len(x))
    if color == "pink":
        spectrum = np.fft.rfft(noise)
        freqs = np.arange(len(spectrum), dtype=np.float64)
        freqs[0] = 1.0
        noise = np.fft.irfft(spectrum / np.sqrt(freqs), n=len(x))
    elif color != "white":
        raise ValueError("color must be 'white' or 'pink'")
    signal_power = float(np.mean(x.astype(np.float64) ** 2)) + 1e-12
    noise_power = float(np.mean(noise**2)) + 1e-12
    scale = np.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return (x + scale * noise).astype(np.float32)


def add_reverb(
    wave: np.ndarray,
    *,
    rt60_s: float,
    rng: np.random.Generator,
    wet: float = 0.5,
) -> np.ndarray:
    """Convolve with a synthetic room response: exponentially decaying noise.

    wave: float32 [n] at 16 kHz. rt60_s: time in seconds for the tail to decay by 60 dB.
    wet: share of reverberant energy mixed with the direct sound, in [0, 1]. The output keeps the
    input's RMS level. Returns float32 [n].
    """
    from scipy import signal

    x = _as_float32(wave)
    n_taps = max(int(rt60_s * SAMPLE_RATE_HZ), 1)
    t_s = np.arange(n_taps) / SAMPLE_RATE_HZ
    decay = 10.0 ** (-3.0 * t_s / max(rt60_s, 1e-3))  # amplitude reaches -60 dB at rt60_s
    response = rng.standard_normal(n_taps) * decay
    response /= np.sqrt(np.sum(response**2)) + 1e-12
    tail = signal.fftconvolve(x, response)[: len(x)]
    mixed = np.sqrt(1.0 - wet) * x + np.sqrt(wet) * tail
    rms_in = np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12
    rms_out = np.sqrt(np.mean(mixed**2)) + 1e-12
    return (mixed * (rms_in / rms_out)).astype(np.float32)


def change_gain(wave: np.ndarray, *, gain_db: float, clip: bool = True) -> np.ndarray:
    """Scale by ``gain_db`` decibels; with ``clip`` the result is limited to [-1, 1] like a codec.

    wave: float32 [n]. Returns float32 [n].
    """
    y = _as_float32(wave) * np.float32(10.0 ** (gain_db / 20.0))
    return np.clip(y, -1.0, 1.0) if clip else y


def random_gain(
    wave: np.ndarray,
    *,
    rng: np.random.Generator,
    range_db: tuple[float, float] = (-12.0, 6.0),
) -> np.ndarray:
    """``change_gain`` with a gain drawn uniformly from ``range_db`` (decibels)."""
    return change_gain(wave, gain_db=float(rng.uniform(*range_db)))


def shift_voice(wave: np.ndarray, *, semitones: float) -> np.ndarray:
    """Move pitch and formants together by ``semitones`` (negative: lower), keeping the duration.

    A shift of -3 semitones scales every frequency by 0.84, about the ratio between typical
    female and male formants, so a female voice comes out male-like and a male voice deeper; +3
    does the reverse. Speaking rate is unchanged (it is an emotion cue). wave: float32 [n] at
    16 kHz. Returns float32 [n]. Deterministic.
    """
    import librosa

    x = _as_float32(wave)
    shifted = librosa.effects.pitch_shift(x, sr=SAMPLE_RATE_HZ, n_steps=float(semitones))
    return _fit_length(np.asarray(shifted, dtype=np.float32), len(x))


def _fit_length(wave: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad ``wave`` to ``n`` samples (resampling round trips can be off by one)."""
    out = np.zeros(n, dtype=np.float32)
    m = min(n, len(wave))
    out[:m] = wave[:m]
    return out


# codec name -> (PyAV encoder, container, bit rate in bit/s, encoder sample rate in Hz)
CODECS = {
    "opus8": ("libopus", "ogg", 8_000, 16_000),
    "opus12": ("libopus", "ogg", 12_000, 16_000),
    "mp3_16": ("libmp3lame", "mp3", 16_000, 16_000),
    "amrnb": ("libopencore_amrnb", "amr", 7_950, 8_000),  # narrow-band mobile codec
}


def codec_roundtrip(wave: np.ndarray, codec: str) -> np.ndarray:
    """Encode ``wave`` with a low-bit-rate codec of ``CODECS`` through PyAV and decode it back.

    wave: float32 [n] at 16 kHz. Returns float32 [n] at 16 kHz (the codec's delay is kept, its
    padding cut). Deterministic.
    """
    import io

    import av

    encoder, container, bit_rate, rate = CODECS[codec]
    x = np.clip(_as_float32(wave), -1.0, 1.0)
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(encoder, rate=rate)
        if not isinstance(stream, av.audio.stream.AudioStream):
            raise ValueError(f"{encoder} is not an audio encoder")
        stream.bit_rate = bit_rate
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            (x * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE_HZ
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buf.seek(0)
    pieces: list[np.ndarray] = []
    with av.open(buf, "r") as inp:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ)
        for decoded in inp.decode(audio=0):
            pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(decoded))
        pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    y = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return _fit_length(y, len(x))


def mix_at_snr(wave: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` (tiled or cut to the clip's length) at ``snr_db`` decibels below the clip's
    power (measured over the whole clip). Returns float32 [n]."""
    x = _as_float32(wave)
    reps = int(np.ceil(len(x) / max(len(noise), 1)))
    n = np.tile(noise, reps)[: len(x)].astype(np.float64)
    ps = float(np.mean(x.astype(np.float64) ** 2)) + 1e-12
    pn = float(np.mean(n**2)) + 1e-12
    return (x + np.sqrt(ps / (pn * 10 ** (snr_db / 10))) * n).astype(np.float32)


def babble(pool: list[np.ndarray], n: int, rng: np.random.Generator, talkers: int) -> np.ndarray:
    """Babble: the sum of ``talkers`` random excerpts of ``pool`` waves (each at the same level),
    ``n`` samples long. Returns float32 [n]."""
    out = np.zeros(n, dtype=np.float64)
    for _ in range(talkers):
        src = pool[int(rng.integers(len(pool)))]
        if len(src) > n:
            start = int(rng.integers(len(src) - n))
            piece = src[start : start + n]
        else:
            piece = np.tile(src, int(np.ceil(n / len(src))))[:n]
        out += piece / (np.sqrt(np.mean(piece.astype(np.float64) ** 2)) + 1e-9)
    return out.astype(np.float32)


def coloured_noise(n: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """Synthetic background of ``n`` samples: "office" (pink noise, mains hum, keyboard clicks)
    or "street" (brown rumble with slow broadband swells of passing traffic)."""
    white = rng.standard_normal(n)
    spec = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE_HZ), 20.0)
    if kind == "office":
        base = np.fft.irfft(spec / np.sqrt(f), n=n)
        base /= base.std() + 1e-9
        t = np.arange(n) / SAMPLE_RATE_HZ
        base += 0.3 * np.sin(2 * np.pi * float(rng.choice([50.0, 60.0])) * t)
        clicks = np.zeros(n)
        for pos in rng.integers(0, n, size=max(1, n // SAMPLE_RATE_HZ * 6)):
            clicks[pos : pos + 80] += rng.standard_normal(min(80, n - pos)) * 3.0
        return (base + clicks).astype(np.float32)
    if kind != "street":
        raise ValueError("kind must be 'office' or 'street'")
    base = np.fft.irfft(spec / f, n=n)
    base /= base.std() + 1e-9
    period_s = rng.uniform(1.5, 4.0)
    swell = 1.0 + 1.5 * np.abs(np.sin(np.pi * np.arange(n) / SAMPLE_RATE_HZ / period_s))
    hiss = np.fft.irfft(spec / np.sqrt(f), n=n)
    return (base + 0.5 * swell * hiss / (hiss.std() + 1e-9)).astype(np.float32)


def speed(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch together) by resampling; the duration
    changes to n / factor."""
    from scipy import signal

    return signal.resample_poly(_as_float32(wave), 100, int(round(100 * factor))).astype(np.float32)


def seeded_rng(key: str) -> np.random.Generator:
    """A generator seeded by ``key`` (e.g. a clip's manifest path and a channel name)."""
    import hashlib

    return np.random.default_rng(int(hashlib.sha1(key.encode()).hexdigest()[:12], 16))


def degrade(wave: np.ndarray, *, key: str, babble_pool: list[np.ndarray]) -> np.ndarray:
    """One random real-world rendering of a clip, seeded by ``key``.

    Each step has its own probability: speed 0.9-1.1x (25 %), room reverberation with RT60
    0.2-0.8 s (35 %), background noise at 0-20 dB SNR (70 %; babble of 3-7 talkers from
    ``babble_pool``, office or street, equally likely), gain: +6 to +18 dB with clipping (20 %)
    else -12 to +6 dB, then a codec (45 %: Opus 8 or 12 kbit/s, MP3 16 kbit/s, AMR-NB 7.95
    kbit/s) or the telephone line (20 %). babble_pool: 16 kHz waveforms of speakers who are not
    scored with this model (read speech).
    """
    rng = seeded_rng(key + "|degraded")
    x = _as_float32(wave)
    if rng.random() < 0.25:
        x = speed(x, float(rng.uniform(0.9, 1.1)))
    if rng.random() < 0.35:
        x = add_reverb(x, rt60_s=float(rng.uniform(0.2, 0.8)), rng=rng, wet=0.5)
    if rng.random() < 0.7:
        kind = rng.choice(["babble", "office", "street"])
        if kind == "babble":
            noise = babble(babble_pool, len(x), rng, int(rng.integers(3, 8)))
        else:
            noise = coloured_noise(len(x), rng, str(kind))
        x = mix_at_snr(x, noise, float(rng.uniform(0, 20)))
    if rng.random() < 0.2:
        x = change_gain(x, gain_db=float(rng.uniform(6, 18)))  # clipped
    else:
        x = random_gain(x, rng=rng)
    r = rng.random()
    if r < 0.45:
        x = codec_roundtrip(x, str(rng.choice(list(CODECS))))
    elif r < 0.65:
        x = telephone_channel(x)
    return x


# ----------------------------------------------------------------------------- issue 15 options
# One training copy per clip for one kind of damage each (``degrade`` mixes them all), so that a
# recipe can add babble, codecs or voice shifts as separate channels. Every draw is seeded by
# ``key`` (a clip's manifest path): the same clip always gets the same copy.

BABBLE_SNR_DB = (0.0, 20.0)  # range of babble levels for ``babble_copy`` (signal above noise)
BABBLE_TALKERS = (3, 7)  # fewest and most talkers in one babble
VOICE_SHIFT_SEMITONES = (1.5, 4.0)  # smallest and largest |shift| of ``voice_shift_copy``


def babble_copy(
    wave: np.ndarray,
    *,
    key: str,
    pool: list[np.ndarray],
    snr_db: tuple[float, float] = BABBLE_SNR_DB,
    talkers: tuple[int, int] = BABBLE_TALKERS,
) -> np.ndarray:
    """``wave`` under babble of ``talkers`` (inclusive range) voices from ``pool`` at an SNR drawn
    uniformly from ``snr_db`` decibels, seeded by ``key``. pool: 16 kHz waveforms of speakers who
    are never scored with the trained model. Returns float32 [n]."""
    if not pool:
        raise ValueError("babble needs a pool of at least one waveform")
    rng = seeded_rng(key + "|babble_copy")
    noise = babble(pool, len(wave), rng, int(rng.integers(talkers[0], talkers[1] + 1)))
    return mix_at_snr(wave, noise, float(rng.uniform(*snr_db)))


def codec_copy(wave: np.ndarray, *, key: str) -> np.ndarray:
    """``wave`` at a random level (-12 to +6 dB) through one of ``CODECS`` (equally likely),
    seeded by ``key``. Returns float32 [n]."""
    rng = seeded_rng(key + "|codec_copy")
    x = random_gain(wave, rng=rng)
    return codec_roundtrip(x, str(rng.choice(sorted(CODECS))))


def voice_shift_copy(
    wave: np.ndarray,
    *,
    key: str,
    semitones: tuple[float, float] = VOICE_SHIFT_SEMITONES,
) -> np.ndarray:
    """``wave`` with pitch and formants moved together (``shift_voice``) by a size drawn from
    ``semitones`` and a random sign, seeded by ``key``: a female voice may come out male-like and
    the reverse, the speaking rate unchanged. Returns float32 [n]."""
    rng = seeded_rng(key + "|voice_shift_copy")
    size = float(rng.uniform(*semitones))
    return shift_voice(wave, semitones=size if rng.random() < 0.5 else -size)
