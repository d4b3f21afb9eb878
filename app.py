"""emotrace review app: analyze calls, browse the library, review, annotate, export.

The thin entry: the app itself lives in ``review/`` (``review.ui`` for the interface). Run
``python app.py`` (``make run``); the ``EMOTRACE_*`` variables (``analyzer.Settings``) choose the
data folder, the address (127.0.0.1:7860 by default), the accounts and the limits. A setting or a
users file that cannot be read stops the start with one line naming it.
"""

from __future__ import annotations

import os

# Gradio and the hub client phone home unless told not to; this app never leaves the machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import atexit
import logging
import shutil
import signal
import sys
import tempfile

from analyzer import Settings
from review.auth import AuthConfigError, load_users
from review.store import Store, StoreError
from review.ui import SAMPLES, build_app, launch
from review.views import UploadLimits

__all__ = ["SAMPLES", "build_app", "launch", "main"]


def main() -> int:
    """``python app.py``: the app on the configured data folder, with the real engine."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        users = load_users(settings.home)
        store = Store(settings.home)
    except (AuthConfigError, StoreError, ValueError, OSError) as exc:
        print(f"emotrace: {exc}", file=sys.stderr)
        return 2
    _private_upload_folder()
    from analyzer import (
        AnalysisConfig,
        Analyzer,
    )  # the engine; imported here: the layout loads fast
    from review.ui.served import ServedFiles

    store.sweep()
    from review.ui.settings_tab import apply_retention

    apply_retention(store)  # the team's retention, once per start (logged; each deletion audited)
    served = ServedFiles()
    served.sweep()  # copies served by an earlier run are stale
    limits = UploadLimits.from_settings(settings)
    # EMOTRACE_TRANSCRIBE=1 adds the words modality (English ASR; about 0.3 s per speech second).
    analyzer = Analyzer(
        AnalysisConfig(
            transcribe=settings.transcribe,
            min_speakers=settings.min_speakers,
            phone_conversation=not settings.phone_one_voice,
        )
    )
    if not store.list_calls():
        # First start: put the bundled samples (audio and video call) in the library, so the
        # review works at once.
        for sample in SAMPLES:
            if sample.exists():
                print(
                    f"emotrace: analysing the bundled {sample.name} for the library...", flush=True
                )
                store.add_call(analyzer.analyze(sample), sample, uploaded_by="emotrace")
    demo = build_app(
        store, analyzer, limits=limits, dev_login=users.is_default, users=users, served=served
    )
    print(
        f"emotrace: data in {store.home}; open http://{settings.host}:{settings.port}", flush=True
    )
    launch(demo, store, users, host=settings.host, port=settings.port, limits=limits)
    return 0


def _private_upload_folder() -> None:
    """Uploads and served copies go to a folder only this user can read, removed at exit
    (Gradio's default, ``/tmp/gradio``, is shared and world-readable)."""
    if os.environ.get("GRADIO_TEMP_DIR"):
        return
    folder = tempfile.mkdtemp(prefix="emotrace-uploads-")  # mode 0700
    os.environ["GRADIO_TEMP_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    # A service manager stops the app with SIGTERM: handle it as Ctrl-C (Gradio closes the
    # server, the process exits normally) so that the folder goes too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)


if __name__ == "__main__":
    raise SystemExit(main())
