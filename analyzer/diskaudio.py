"""Decoded audio held on disk: a long call's samples read back range by range.

A 2-hour stereo call is 0.9 GB of float32 at 16 kHz, more than the whole analysis may use, so
calls longer than ``AnalysisConfig.chunk_s`` are decoded into ``DiskAudio``: one unnamed
temporary file per channel (``tempfile.TemporaryFile`` in ``AnalysisConfig.temp_dir``, else
``$TMPDIR``), float32 samples appended as they decode and read back with explicit positioned
reads. The files have no name on Linux (O_TMPFILE, or unlinked at once), so nothing is left on
disk whether the analysis ends, fails or is killed; ``close`` (or the end of a ``with`` block)
gives the space back at once. Reads copy the asked range into a fresh array: resident memory is
what the stages hold, never the whole call (no memory map whose pages stay resident).

``DiskAudio`` reads like the [channels, samples] array it replaces where the stages index it:
``audio.shape``, ``len(audio)``, ``audio[ch]`` (a ``DiskChannel``) and ``audio[ch][a:b]``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, TypeAlias, overload

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]
ITEM = np.dtype(np.float32).itemsize  # bytes per stored sample


class DiskAudio:
    """float32 [channels, samples] in temporary files, appended block by block, read by range.

    channels: how many; temp_dir: the folder of the files (None: ``tempfile.gettempdir()``,
    which follows ``$TMPDIR``).
    """

    def __init__(self, channels: int, *, temp_dir: str | os.PathLike[str] | None = None) -> None:
        if channels < 1:
            raise ValueError("DiskAudio needs at least one channel")
        self._files: list[IO[bytes]] = []
        try:
            for _ in range(channels):
                self._files.append(tempfile.TemporaryFile(dir=temp_dir, buffering=0))
        except BaseException:
            self.close()
            raise
        self._n = 0
        self._mono: DiskAudio | None = None
        self._stats: ChannelStats | None = None
        self.temp_dir = temp_dir

    # ---- writing ------------------------------------------------------------------------
    def append(self, block: Array) -> None:
        """Add samples at the end: ``block`` float [channels, n]."""
        self._check_open()
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[0] != len(self._files):
            raise ValueError(f"expected [{len(self._files)}, n] samples, got {block.shape}")
        for fh, row in zip(self._files, block):
            data = memoryview(np.ascontiguousarray(row).data).cast("B")
            done = 0
            while done < len(data):
                done += os.pwrite(fh.fileno(), data[done:], self._n * ITEM + done)
        self._n += block.shape[1]

    # ---- reading ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (len(self._files), self._n)

    @property
    def ndim(self) -> int:
        return 2

    @property
    def channels(self) -> int:
        return len(self._files)

    @property
    def samples(self) -> int:
        return self._n

    def __len__(self) -> int:
        return len(self._files)

    def __getitem__(self, channel: int) -> DiskChannel:
        if not isinstance(channel, (int, np.integer)):
            raise TypeError("DiskAudio is indexed by channel: audio[ch][start:stop]")
        ch = int(channel)
        if not -len(self._files) <= ch < len(self._files):
            raise IndexError(f"channel {ch} of a {len(self._files)}-channel recording")
        return DiskChannel(self, ch % len(self._files))

    def read(self, start: int, stop: int, channels: list[int] | None = None) -> Array:
        """Samples [start, stop) of ``channels`` (all by default): float32 [channels, n].

        A range past the end is cut at the end (as slicing an array is); a negative start or a
        stop before the start is a ValueError.
        """
        self._check_open()
        if start < 0 or stop < start:
            raise ValueError(f"bad sample range [{start}, {stop})")
        rows = list(range(len(self._files))) if channels is None else list(channels)
        for ch in rows:
            if not 0 <= ch < len(self._files):
                raise IndexError(f"channel {ch} of a {len(self._files)}-channel recording")
        stop = min(stop, self._n)
        start = min(start, stop)
        out = np.empty((len(rows), stop - start), dtype=np.float32)
        for i, ch in enumerate(rows):
            self._read_into(ch, start, out[i])
        return out

    def _read_into(self, channel: int, start: int, out: Array) -> None:
        view = memoryview(out.data).cast("B")
        fd = self._files[channel].fileno()
        done = 0
        while done < len(view):
            got = os.preadv(fd, [view[done:]], start * ITEM + done)
            if got <= 0:
                raise OSError(f"short read from the decoded audio of channel {channel}")
            done += got

    def mono(self) -> DiskAudio:
        """The mix of all channels as a one-channel DiskAudio (made once, closed with this one);
        this object itself when it has one channel. The mix is weighted as
        ``attribution.mono_mix`` (``ChannelStats.mix_weights``), BLOCK samples at a time."""
        if len(self._files) == 1:
            return self
        if self._mono is None:
            weights = self.stats().mix_weights()
            mix = DiskAudio(1, temp_dir=self.temp_dir)
            for a in range(0, self._n, BLOCK):
                mix.append((weights @ self.read(a, a + BLOCK))[None, :].astype(np.float32))
            self._mono = mix
        return self._mono

    def stats(self) -> ChannelStats:
        """Whole-call levels and correlations of the channels (``channel_stats``; made once)."""
        if self._stats is None:
            self._stats = channel_stats(self.read, self.channels, self._n)
        return self._stats

    # ---- life ---------------------------------------------------------------------------
    def close(self) -> None:
        """Give the disk space back (idempotent)."""
        if self._mono is not None:
            self._mono.close()
            self._mono = None
        for fh in self._files:
            fh.close()

    @property
    def closed(self) -> bool:
        return all(fh.closed for fh in self._files)

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("the decoded audio was closed")

    def __enter__(self) -> DiskAudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: S110 - interpreter shutdown: the files go with the process
            pass


BLOCK = 1 << 20  # samples per block of whole-channel passes (about 1 minute at 16 kHz)
# A channel whose level over the whole call is this far under the loudest channel's carries no
# party of the call (a dead line, an unused input): it is left out of the mono mix.
SILENT_CHANNEL_DB = 50.0
# A channel this anti-correlated with the loudest one is that signal with its polarity flipped
# (a wiring or encoder fault): it joins the mix flipped back instead of cancelling it.
OPPOSED_CORRELATION = -0.5
STATS_STEP = 4  # whole-call statistics read every 4th sample


@dataclass(frozen=True)
class ChannelStats:
    """Whole-call statistics of a recording's channels.

    rms: float [channels] (full scale 1, DC offset removed); corr: float [channels, channels],
    the Pearson correlation (0 where a channel is constant).
    """

    rms: Array
    corr: Array

    def silent(self) -> list[int]:
        """Channels more than SILENT_CHANNEL_DB under the loudest (all of them when every
        channel is digital silence: then none is louder than another, and none is left out)."""
        top = float(self.rms.max()) if len(self.rms) else 0.0
        if top <= 0:
            return []
        floor = top * 10 ** (-SILENT_CHANNEL_DB / 20)
        return [k for k, r in enumerate(self.rms) if r < floor]

    def opposed(self) -> list[int]:
        """Live channels whose polarity is flipped against the loudest channel."""
        ref = int(np.argmax(self.rms)) if len(self.rms) else 0
        quiet = set(self.silent())
        return [
            k
            for k in range(len(self.rms))
            if k != ref and k not in quiet and self.corr[ref, k] < OPPOSED_CORRELATION
        ]

    def mix_weights(self) -> Array:
        """float [channels]: the mono mix is ``weights @ audio``: the mean of the live channels,
        flipped ones turned back (the plain mean when no channel is live)."""
        n = len(self.rms)
        quiet = set(self.silent())
        live = [k for k in range(n) if k not in quiet] or list(range(n))
        weights = np.zeros(n)
        weights[live] = 1.0 / len(live)
        weights[self.opposed()] *= -1
        return weights


def channel_stats(
    read: Callable[[int, int], Array], channels: int, samples: int, *, step: int = STATS_STEP
) -> ChannelStats:
    """``ChannelStats`` from running float64 sums over BLOCK samples at a time; ``read(a, b)``
    gives float [channels, b - a] (``DiskAudio.read``, or a slice of an array)."""
    sums = np.zeros(channels)
    cross = np.zeros((channels, channels))
    n = 0
    for a in range(0, samples, BLOCK * step):
        # every step-th sample first: the float64 copy is of what is summed, not the block
        x = np.asarray(read(a, min(a + BLOCK * step, samples)))[:, ::step].astype(np.float64)
        sums += x.sum(axis=1)
        cross += x @ x.T
        n += x.shape[1]
    if n == 0:
        return ChannelStats(np.zeros(channels), np.zeros((channels, channels)))
    mean = sums / n
    cov = cross / n - np.outer(mean, mean)
    var = np.clip(np.diag(cov), 0, None)
    scale = np.sqrt(np.outer(var, var))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(scale > 0, cov / np.where(scale > 0, scale, 1), 0.0)
    return ChannelStats(np.sqrt(var), corr)  # the level without any DC offset


class DiskChannel:
    """One channel of a ``DiskAudio``: ``len()``, and slicing reads that range from disk."""

    def __init__(self, audio: DiskAudio, channel: int) -> None:
        self.audio = audio
        self.channel = channel

    def __len__(self) -> int:
        return self.audio.samples

    @property
    def shape(self) -> tuple[int]:
        return (self.audio.samples,)

    @property
    def ndim(self) -> int:
        return 1

    @overload
    def __getitem__(self, index: slice) -> Array: ...
    @overload
    def __getitem__(self, index: int) -> float: ...
    def __getitem__(self, index: slice | int) -> Array | float:
        n = self.audio.samples
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step < 0:
                raise ValueError("a disk-backed channel is read forwards only")
            stop = max(start, stop)
            out: Array = self.audio.read(start, stop, [self.channel])[0]
            return out[::step] if step != 1 else out
        if isinstance(index, (int, np.integer)):
            i = int(index) + (n if index < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"sample {index} of {n}")
            return float(self.audio.read(i, i + 1, [self.channel])[0, 0])
        raise TypeError("a disk-backed channel takes a sample index or a slice")

    def read(self, start: int, stop: int) -> Array:
        """Samples [start, stop) (cut at the end): float32 [n]."""
        row: Array = self.audio.read(start, stop, [self.channel])[0]
        return row

    def __array__(self, dtype: Any = None, copy: Any = None) -> Array:
        """The whole channel in memory: for callers with no range-based path (costs its size)."""
        whole = self.read(0, self.audio.samples)
        return whole if dtype is None else whole.astype(dtype, copy=False)


# float32 [channels, samples]: an array, or for a call longer than a chunk a DiskAudio
Audio: TypeAlias = "NDArray[Any] | DiskAudio"
# one signal, float32 [samples]: an array, or a DiskChannel
Signal: TypeAlias = "NDArray[Any] | DiskChannel"
