"""Issue 15 research (not product code): Whisper tiny.en encoder in torch, every layer.

The CTranslate2 ``model.bin`` is read directly (its documented layout: version, name, revision,
then per variable name, shape, dtype, bytes). ``LayerEncoder.embed`` returns per-layer mean and
std pooled features so that intermediate layers (more paralinguistic, less lexical than the last
one) can be compared with the shipped last-layer features.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from analyzer.audio.ser import (
    HOP_SAMPLES,
    MIN_INPUT_S,
    PAD_GRID_S,
    SAMPLE_RATE_HZ,
    SILENCE_DBFS,
    frame_levels_db,
    log_mel,
    read_ct2_variables,
    trim_silence,
)
from analyzer.models import whisper_model_dir


def read_ct2(path: Path, prefix: str = "encoder/") -> dict[str, np.ndarray]:
    """The ``prefix`` variables of a CTranslate2 model.bin, names without the prefix (the
    reader moved into the engine: ``analyzer.audio.ser.read_ct2_variables``)."""
    raw = read_ct2_variables(path, lambda name: name.startswith(prefix))
    return {k[len(prefix) :]: v for k, v in raw.items()}


class LayerEncoder:
    def __init__(self, threads: int = 1) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        torch.set_num_threads(threads)
        w = read_ct2(whisper_model_dir() / "model.bin")
        self.w = {k: torch.from_numpy(v.astype(np.float32)) for k, v in w.items() if v.ndim}
        self.heads = int(w["num_heads"])
        self.n_layers = sum(1 for k in w if k.endswith("ffn/linear_0/weight"))
        self.mel_filters = FeatureExtractor.get_mel_filters(SAMPLE_RATE_HZ, 400, n_mels=80).astype(
            np.float32
        )

    def _ln(self, x, name):
        return torch.nn.functional.layer_norm(
            x, (x.shape[-1],), self.w[f"{name}/gamma"], self.w[f"{name}/beta"], eps=1e-5
        )

    def _lin(self, x, name):
        return torch.nn.functional.linear(x, self.w[f"{name}/weight"], self.w[f"{name}/bias"])

    @torch.no_grad()
    def hidden(self, mel: np.ndarray) -> list[torch.Tensor]:
        """mel [B, 80, T] -> hidden states after each layer (and the final layer norm)."""
        w = self.w
        x = torch.from_numpy(mel)
        x = torch.nn.functional.gelu(
            torch.nn.functional.conv1d(x, w["conv1/weight"], w["conv1/bias"], padding=1)
        )
        x = torch.nn.functional.gelu(
            torch.nn.functional.conv1d(x, w["conv2/weight"], w["conv2/bias"], stride=2, padding=1)
        )
        x = x.transpose(1, 2)
        x = x + w["position_encodings/encodings"][: x.shape[1]]
        outs = []
        b, t, d = x.shape
        h = self.heads
        for i in range(self.n_layers):
            p = f"layer_{i}"
            y = self._ln(x, f"{p}/self_attention/layer_norm")
            qkv = self._lin(y, f"{p}/self_attention/linear_0")
            q, k, v = qkv.split(d, dim=-1)
            q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
            a = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            a = a.transpose(1, 2).reshape(b, t, d)
            x = x + self._lin(a, f"{p}/self_attention/linear_1")
            y = self._ln(x, f"{p}/ffn/layer_norm")
            y = self._lin(
                torch.nn.functional.gelu(self._lin(y, f"{p}/ffn/linear_0")), f"{p}/ffn/linear_1"
            )
            x = x + y
            outs.append(x)
        outs.append(self._ln(x, "layer_norm"))
        return outs

    def embed(self, waves) -> tuple[np.ndarray, np.ndarray]:
        """[N, (n_layers + 1) * 768] mean+std per layer output, speech seconds [N]."""
        grid = int(PAD_GRID_S * SAMPLE_RATE_HZ)
        min_len = int(MIN_INPUT_S * SAMPLE_RATE_HZ)
        feats, speech = [], np.zeros(len(waves), np.float32)
        for i, wave in enumerate(waves):
            wave = np.asarray(wave, np.float32)
            if len(wave) and frame_levels_db(wave).max() >= SILENCE_DBFS:
                wave = trim_silence(wave)
                speech[i] = len(wave) / SAMPLE_RATE_HZ
            padded = max(math.ceil(max(len(wave), min_len) / grid), 1) * grid
            mel = log_mel(wave, n_frames=padded // HOP_SAMPLES, mel_filters=self.mel_filters)
            hs = self.hidden(mel[None])
            n_valid = max(math.ceil(max(len(wave), min_len) / HOP_SAMPLES / 2), 1)
            row = []
            for hdn in hs:
                fr = hdn[0, :n_valid]
                row += [fr.mean(0), fr.std(0, unbiased=False)]
            feats.append(torch.cat(row).numpy())
        return np.vstack(feats).astype(np.float32), speech
