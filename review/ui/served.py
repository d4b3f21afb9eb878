"""What the browser may fetch: per-call copies in Gradio's file cache, never the data folder.

Gradio serves a component's file from its own cache folder (``GRADIO_TEMP_DIR``) under
``/gradio_api/file=``. The app no longer lists its data folder in ``allowed_paths``: the player's
media, its subtitles and the exports of a call are placed in ``<cache>/emotrace/<call id>/``
(a hard link where the file systems allow, else a copy), under fixed names with the extension of
the content (``media.wav``). Gradio uses files already in its cache where they are, so each call
has exactly one served folder, and deleting the call removes it (:meth:`ServedFiles.remove`).
The browser never sees a path inside the data folder, and ``users.toml``, ``emotrace.db`` and
its ``-wal``/``-shm`` files are not under any folder Gradio serves.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from gradio.utils import get_upload_folder

from ..store import CallRecord, media_suffix

SERVED_DIR = "emotrace"  # inside Gradio's cache folder


class ServedFiles:
    """The per-call folders the browser may fetch from."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else Path(get_upload_folder()) / SERVED_DIR

    def folder(self, call_id: str) -> Path:
        """``<root>/<call id>/`` (created, private to this user)."""
        folder = self.root / _safe_id(call_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    def media(self, record: CallRecord) -> Path:
        """The call's media as ``media.<ext from content>`` in its served folder."""
        source = Path(record.media_path)
        target = self.folder(record.id) / f"media{media_suffix(source)}"
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            part = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
            try:
                os.link(source, part)
            except OSError:  # another file system, or links not allowed: copy
                shutil.copyfile(source, part)
            os.replace(part, target)
        return target

    def exports(self) -> Path:
        """A fresh folder for one combined export (several calls), removed by :meth:`sweep`."""
        folder = self.root / "_exports"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return Path(tempfile.mkdtemp(dir=folder))

    def remove(self, call_id: str) -> None:
        """Forget everything served for the call (its media copy, subtitles, exports)."""
        shutil.rmtree(self.root / _safe_id(call_id), ignore_errors=True)

    def sweep(self) -> None:
        """Remove every served copy (at start: copies left by an earlier run are stale)."""
        shutil.rmtree(self.root, ignore_errors=True)


def _safe_id(call_id: str) -> str:
    """A call id as one path component (ids are hex; anything else is refused)."""
    if not call_id or not all(c.isalnum() or c in "-_" for c in call_id):
        raise ValueError(f"not a call id: {call_id!r}")
    return call_id


def remove_upload(path: str | os.PathLike) -> None:
    """Delete a browser upload from Gradio's upload folder once it is stored (or refused).

    Only files inside the upload folder are touched (a bundled sample is never deleted); the
    upload's own folder goes too when it is left empty.
    """
    upload_root = Path(get_upload_folder()).resolve()
    p = Path(path).resolve()
    if upload_root not in p.parents or Path(upload_root, SERVED_DIR) in p.parents:
        return
    p.unlink(missing_ok=True)
    try:
        p.parent.rmdir()  # Gradio keeps each upload in a folder of its own
    except OSError:
        pass
