"""RIFF/WAVE header inspection: where the samples are and what the header claims about them.

FFmpeg trusts a WAV header's data size; these helpers read it without trusting it, so that
``media.decode_audio`` can tell a short header (samples go on past it) from a truncated file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WavData:
    """Where a RIFF/WAVE file's samples are and what its header says about them."""

    byte_rate: int  # bytes per second of the samples (fmt chunk)
    declared: int  # bytes the data chunk's header claims
    available: int  # bytes from the data chunk's start to the end of the file
    chunk_follows: bool  # a well-formed chunk starts where the declared data ends


def wav_data(path: Path, size: int) -> WavData | None:
    """The data chunk of a RIFF/WAVE file (None for other files or when it is not found)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos, byte_rate = 12, 0
        while pos + 8 <= size:
            fh.seek(pos)
            header = fh.read(8)
            cid, n = header[:4], int.from_bytes(header[4:8], "little")
            if cid == b"fmt ":
                fmt = fh.read(min(n, 16))
                if len(fmt) >= 12:
                    byte_rate = int.from_bytes(fmt[8:12], "little")
            elif cid == b"data":
                start = pos + 8
                end = start + n + (n & 1)
                return WavData(byte_rate, n, size - start, _chunk_at(fh, end, size))
            pos += 8 + n + (n & 1)
    return None


def _chunk_at(fh: Any, pos: int, size: int) -> bool:
    """Whether a plausible RIFF chunk header (4 printable ASCII bytes, a size that fits) is at
    ``pos`` (or the file ends exactly there)."""
    if pos >= size:
        return pos == size or pos == size + 1
    if pos + 8 > size:
        return False
    fh.seek(pos)
    header = fh.read(8)
    n = int.from_bytes(header[4:8], "little")
    return all(32 <= b < 127 for b in header[:4]) and pos + 8 + n <= size + 1


def wav_claim(wav: WavData | None) -> tuple[float | None, dict[str, str]]:
    """The duration a WAV header claims and the FFmpeg options to open the file with.

    When the samples go on well past the size the header gives (and no chunk follows the
    declared end), ``ignore_length`` makes FFmpeg decode to the end of the file.
    """
    options: dict[str, str] = {}
    if wav is None or wav.byte_rate <= 0 or wav.declared in (0, 0xFFFFFFFF):
        return None, options
    claimed_wav = wav.declared / wav.byte_rate
    extra = wav.available - wav.declared
    if extra > max(1024, wav.byte_rate // 4) and not wav.chunk_follows:
        options["ignore_length"] = "1"  # the samples go on past the size the header gives
    return claimed_wav, options
