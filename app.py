"""emotrace review app: analyze calls, browse the library, review, annotate, export.

The thin entry: the app itself lives in ``review/`` (``review.ui`` for the interface). Run
``python app.py`` (``make run``); ``EMOTRACE_HOME``, ``EMOTRACE_HOST`` and ``EMOTRACE_PORT``
choose the data folder and the address (127.0.0.1:7860 by default).
"""

from __future__ import annotations

import os

# Gradio and the hub client phone home unless told not to; this app never leaves the machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging

from review.auth import load_users
from review.store import Store
from review.ui import SAMPLES, build_app, launch
from review.views import UploadLimits

__all__ = ["SAMPLES", "build_app", "launch", "main"]


def main() -> None:
    """``python app.py``: the app on the configured data folder, with the real engine."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from analyzer import (
        AnalysisConfig,
        Analyzer,
    )  # the engine; imported here: the layout loads fast

    store = Store()
    store.sweep()
    users = load_users(store.home)
    limits = UploadLimits.from_env()
    # EMOTRACE_TRANSCRIBE=1 adds the words modality (English ASR; about 0.3 s per speech second).
    analyzer = Analyzer(AnalysisConfig(transcribe=os.environ.get("EMOTRACE_TRANSCRIBE") == "1"))
    if not store.list_calls():
        # First start: put the bundled sample call in the library, so the review works at once.
        print("emotrace: analysing the bundled sample call for the library...", flush=True)
        store.add_call(analyzer.analyze(SAMPLES[0]), SAMPLES[0], uploaded_by="emotrace")
    demo = build_app(store, analyzer, limits=limits, dev_login=users.is_default)
    host = os.environ.get("EMOTRACE_HOST", "127.0.0.1")
    port = int(os.environ.get("EMOTRACE_PORT", "7860"))
    print(f"emotrace: data in {store.home}; open http://{host}:{port}", flush=True)
    launch(demo, store, users, host=host, port=port, limits=limits)


if __name__ == "__main__":
    main()
