"""Shared fixtures: offline settings, synthetic speech, and one Analyzer for the session."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Gradio keeps uploads by content hash in one folder shared by every process of the machine: a
# private one per test run, so parallel runs never delete each other's uploads mid-analysis.
os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="emotrace-test-gradio-"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_SPEECH = ROOT.parent / "shared" / "data" / "speech"
SR = 16000
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright drives it (never downloads)


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    """Skip `gpu` tests without a CUDA device and `browser` tests without Debian's chromium."""
    needs = {
        "gpu": (_has_cuda, "needs a CUDA GPU (torch.cuda.is_available() is false)"),
        "browser": (CHROMIUM.exists, f"needs Debian's chromium at {CHROMIUM}"),
    }
    missing: dict[str, pytest.MarkDecorator | None] = {}
    for item in items:
        for marker, (available, reason) in needs.items():
            if item.get_closest_marker(marker) is None:
                continue
            if marker not in missing:  # ask once per run, and only when such a test is collected
                missing[marker] = None if available() else pytest.mark.skip(reason=reason)
            if missing[marker] is not None:
                item.add_marker(missing[marker])


def speak(text: str, voice: str = "en-us", *, speed: int = 160, pitch: int = 50) -> np.ndarray:
    """Speech from espeak-ng as float32 mono at 16 kHz (the test is skipped without espeak-ng)."""
    import librosa
    import soundfile as sf

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    audio, rate = sf.read(io.BytesIO(out), dtype="float32")
    return librosa.resample(audio, orig_sr=rate, target_sr=SR).astype(np.float32)


AGENT_LINES = (
    "Thank you for calling, my name is Maria and I will help you with your bill today.",
    "I can see the charge from last month, it was added twice by mistake.",
    "I have sent the refund, it will reach your account within five working days.",
    "Is there anything else I can do for you while I have your account open?",
    "Thank you for your patience, and have a good afternoon.",
)


def one_voice(times: int = 1) -> np.ndarray:
    """One synthetic agent (espeak's en-us+f3) reading AGENT_LINES ``times`` over, half a second
    between lines: about 23 s per reading, float32 at 16 kHz."""
    parts = []
    for text in AGENT_LINES * times:
        parts += [speak(text, "en-us+f3", speed=140), np.zeros(SR // 2, np.float32)]
    return np.concatenate(parts)


@pytest.fixture(scope="session")
def analyzer():
    from analyzer import Analyzer

    a = Analyzer()
    yield a
    a.close()


@pytest.fixture(scope="session")
def sample_call() -> Path:
    return ROOT / "assets" / "sample_call.wav"


@pytest.fixture(scope="session")
def sample_video() -> Path:
    return ROOT / "assets" / "sample_video_call.mp4"
