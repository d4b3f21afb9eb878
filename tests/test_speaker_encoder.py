"""The voice encoder's input features and its thread setting (``analyzer.audio.speakers``)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR

from analyzer.audio.speakers import (
    MEL_BANDS,
    SpeakerEncoder,
    _mel_in_blocks,
    encoder_mel,
    mel_filterbank,
)
from analyzer.segment import Segment


def test_mel_filterbank_is_slaney_triangles_of_unit_area():
    bank = mel_filterbank(SR)
    assert bank.shape == (MEL_BANDS, 201) and bank.dtype == np.float32
    assert (bank >= 0).all()
    bins_hz = np.linspace(0, SR / 2, 201)
    # Each filter is one triangle: it rises, peaks once, falls, and its area is one (Hz scale).
    for row in bank:
        nz = np.flatnonzero(row)
        peak = int(np.argmax(row))
        assert np.all(np.diff(row[nz[0] : peak + 1]) >= 0)
        assert np.all(np.diff(row[peak : nz[-1] + 1]) <= 0)
        area = np.trapz(row, bins_hz)
        assert area == pytest.approx(1.0, rel=0.15)  # the triangles are sampled at 40 Hz
    # Below 1 kHz the mel scale is linear: the first filters' peaks are evenly spaced.
    peaks = bins_hz[np.argmax(bank, axis=1)]
    assert np.all(np.diff(peaks[:8]) < 100) and np.diff(peaks)[-1] > 500


@pytest.mark.filterwarnings("ignore:n_fft=400 is too large")
def test_encoder_mel_matches_resemblyzers_librosa_features():
    from resemblyzer.audio import wav_to_mel_spectrogram

    rng = np.random.default_rng(3)
    t = np.arange(SR * 2) / SR
    x = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    for n in (len(x), 12345, 400, 161, 160, 1):
        ours, theirs = encoder_mel(x[:n]), wav_to_mel_spectrogram(x[:n])
        assert ours.shape == theirs.shape == (1 + n // 160, MEL_BANDS)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * theirs.max())


def test_mel_in_blocks_equals_one_pass():
    x = np.random.default_rng(1).standard_normal(int(SR * 130.3)).astype(np.float32)
    blocks = _mel_in_blocks(x, 0.5, encoder_mel, sr=SR)
    whole = encoder_mel(x * 0.5)
    assert blocks.shape == whole.shape
    np.testing.assert_allclose(blocks, whole, rtol=1e-5, atol=1e-6 * whole.max())


def test_encoder_runs_on_its_own_threads_and_restores_torchs():
    import torch

    before = torch.get_num_threads()
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, mels):
            seen.append((torch.get_num_threads(), tuple(mels.shape)))
            return torch.ones(len(mels), 256) / 16

    enc = SpeakerEncoder.__new__(SpeakerEncoder)
    enc._torch, enc._encoder, enc.threads = torch, Spy(), 1
    x = np.random.default_rng(2).standard_normal(SR * 6).astype(np.float32) * 0.1
    spans, owner, emb = enc.embed_windows(x, [Segment(0.5, 3.0), Segment(3.5, 4.2)])
    assert torch.get_num_threads() == before
    assert {n for n, _ in seen} == {1}
    # Windows of one length go through the LSTM together: 1.5 s windows of the 2.5 s segment
    # every 0.5 s, and the 0.7 s segment as one window.
    assert sorted(shape for _, shape in seen) == [(1, 70, 40), (3, 150, 40)]
    assert list(owner) == [0, 0, 0, 1] and emb.shape == (4, 256)
    assert spans[-1].tolist() == [350, 420]
