"""Facial-expression model: a compact CNN over aligned grey face crops, plus track smoothing.

Inputs are :func:`analyzer.video.align.align_face` outputs (uint8 [S, S]); the model reads them at
its own input size (``model.json["input_size"]``, FER+ 48 px). Probabilities are temperature-scaled
(temperature fitted on deduplicated FER+ valid data, stored in ``model.json``); arousal and valence
are not learned but derived from the probabilities with
:func:`analyzer.labels.derive_valence_arousal`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from ..arrays import FloatArray, ImageArray
from ..dsp import HALF_LIFE_S, MAX_GAP_S, smooth_track, softmax  # noqa: F401 (re-exported)
from ..labels import LABELS, derive_valence_arousal
from ..models import EmotionScores

WEIGHTS_FILE = "weights.pt"
BATCH = 256  # crops per forward pass in predict (bounds memory on long videos)
STD_FLOOR = 8.0  # grey levels; per-crop contrast normalisation never divides by less (flat crops)


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


class FerNet(nn.Module):
    """VGG-style CNN: 1x48x48 grey -> 7 logits (``LABELS`` order).

    Four stages at 48, 24, 12 and 6 px with widths w, 2w, 4w, 8w (one conv in the first stage, two
    in the others), global average pooling, dropout, linear. Each crop is standardised to zero mean
    and unit contrast inside the network, so lighting differences between calls matter less.
    """

    def __init__(self, width: int = 16, n_classes: int = len(LABELS), dropout: float = 0.3):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_conv(1, w), nn.MaxPool2d(2),
            *_conv(w, 2 * w), *_conv(2 * w, 2 * w), nn.MaxPool2d(2),
            *_conv(2 * w, 4 * w), *_conv(4 * w, 4 * w), nn.MaxPool2d(2),
            *_conv(4 * w, 8 * w), *_conv(8 * w, 8 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * w, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float [B, 1, H, W] grey levels 0..255 -> logits [B, n_classes]."""
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.std(dim=(2, 3), keepdim=True).clamp_min(STD_FLOOR)
        logits: torch.Tensor = self.head(self.features((x - mean) / std))
        return logits


def fuse_for_inference(net: FerNet) -> FerNet:
    """A copy of ``net`` in eval mode with each BatchNorm folded into the conv before it.

    Same outputs (to float rounding), about a third less time per crop on CPU at batch 1; the
    layout is channels-last, which oneDNN runs faster for these small convolutions.
    """
    fused = copy.deepcopy(net).eval()
    layers: list[nn.Module] = list(fused.features)
    for i, layer in enumerate(layers[:-1]):
        norm = layers[i + 1]
        if isinstance(layer, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
            layers[i] = nn.utils.fusion.fuse_conv_bn_eval(layer, norm)
            layers[i + 1] = nn.Identity()
    fused.features = nn.Sequential(*layers)
    # Module.to takes memory_format at run time; torch's stubs leave that keyword out
    fast: FerNet = fused.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return fast


def crops_to_tensor(crops: Sequence[ImageArray] | ImageArray, size: int) -> torch.Tensor:
    """Stack uint8 [S, S] crops (a list, or one [N, S, S] array; resized to ``size`` if needed)
    into float [N, 1, size, size]."""
    batch = np.empty((len(crops), size, size), dtype=np.float32)
    for i, image in enumerate(crops):
        crop: cv2.typing.MatLike = np.asarray(image)
        if crop.ndim == 3:
            crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        if crop.shape != (size, size):
            shrink = crop.shape[0] > size
            crop = cv2.resize(
                crop, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            )
        batch[i] = crop
    return torch.from_numpy(batch)[:, None]


class ExpressionModel:
    """The FER model behind ``load_model(name, "fer")``.

    ``predict(crops)`` takes aligned crops (uint8 [S, S], from ``align_face``) and returns
    ``EmotionScores``: calibrated probabilities [N, 7], valence/arousal derived from them, and
    confidence = calibrated top probability (the engine multiplies it by ``face_quality``).
    """

    kind = "fer"
    labels = LABELS

    def __init__(
        self, net: FerNet, *, name: str = "fer", input_size: int = 48,
        temperature: float = 1.0, flip_tta: bool = True,
    ):  # fmt: skip
        self.net = fuse_for_inference(net)  # a copy: the caller's (training) module is untouched
        self.name = name
        self.input_size = int(input_size)
        self.temperature = float(temperature)
        self.flip_tta = bool(flip_tta)  # average logits of the crop and its mirror image
        self.device = torch.device("cpu")
        self.batch_size = BATCH  # crops per forward pass; raise it on a GPU

    def to(self, device: str | torch.device, *, batch_size: int | None = None) -> ExpressionModel:
        """Run on ``device`` (e.g. "cuda"), optionally with larger batches; returns self."""
        self.device = torch.device(device)
        self.net = self.net.to(self.device)
        if batch_size:
            self.batch_size = int(batch_size)
        return self

    @classmethod
    def from_folder(
        cls, folder: str | Path, config: dict[str, Any] | None = None
    ) -> ExpressionModel:
        """Load ``weights.pt`` with the architecture and calibration named in ``model.json``."""
        folder = Path(folder)
        if config is None:
            config = json.loads((folder / "model.json").read_text())
        if tuple(config.get("labels", LABELS)) != LABELS:
            raise ValueError(f"{folder.name}: labels {config.get('labels')} differ from {LABELS}")
        net = FerNet(width=int(config["width"]))
        state = torch.load(folder / config.get("weights", WEIGHTS_FILE), map_location="cpu")
        net.load_state_dict(state)
        return cls(
            net, name=folder.name, input_size=config.get("input_size", 48),
            temperature=config.get("temperature", 1.0), flip_tta=config.get("flip_tta", True),
        )  # fmt: skip

    def logits(self, crops: Sequence[ImageArray] | ImageArray) -> FloatArray:
        """Uncalibrated logits float32 [N, 7] (flip-averaged when ``flip_tta``)."""
        chunks: list[FloatArray] = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                x = crops_to_tensor(crops[start : start + self.batch_size], self.input_size)
                x = x.to(self.device)
                if self.flip_tta:
                    both = self.net(torch.cat([x, x.flip(3)]))
                    chunks.append(((both[: len(x)] + both[len(x) :]) / 2).cpu().numpy())
                else:
                    chunks.append(self.net(x).cpu().numpy())
        if not chunks:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32)

    def predict(
        self, inputs: Sequence[ImageArray], *, groups: Sequence[str] | None = None
    ) -> EmotionScores:
        """Scores for aligned crops. ``groups`` (face-track ids) is accepted and unused: each crop
        is scored alone; smooth along a track with :func:`smooth_track`."""
        if len(inputs) == 0:
            return EmotionScores.empty()
        probs = softmax(self.logits(inputs) / self.temperature)
        valence, arousal = derive_valence_arousal(probs)
        return EmotionScores(
            probs=probs.astype(np.float32),
            arousal=arousal.astype(np.float32),
            valence=valence.astype(np.float32),
            confidence=probs.max(axis=1).astype(np.float32),
        )
