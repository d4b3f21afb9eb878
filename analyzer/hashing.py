"""The content hash of a recording: the one identity that the store, duplicate detection and the
batch's resume rule share (SHA-256 of the file's bytes, so a renamed or moved copy keeps it)."""

from __future__ import annotations

import hashlib
import os

BLOCK_BYTES = 1 << 20  # 1 MiB reads: the whole file never sits in memory


def content_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the file's bytes as 64 lower-case hex digits, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()
