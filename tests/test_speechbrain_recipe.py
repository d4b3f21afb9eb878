"""The optional SpeechBrain recipe (train/speechbrain_ecapa.py): train, package, reload.

Runs only where speechbrain imports (`make speechbrain-env`, then `.venv-sb/bin/python -m pytest
tests/test_speechbrain_recipe.py`); skipped in the default environment.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("speechbrain")

import torch  # noqa: E402

from analyzer.labels import LABELS  # noqa: E402
from train import speechbrain_ecapa as recipe  # noqa: E402

SR = 16000
TINY = {  # a model of a few thousand parameters, so that the test takes seconds
    "channels": [16, 16, 16, 16, 48],
    "emb_dim": 8,
    "attention_channels": 8,
    "se_channels": 8,
    "res2net_scale": 4,
    "batch_size": 8,
}


def synthetic_clips(speakers: dict[str, str], *, seed: int) -> recipe.ClipSet:
    """One clip per label and speaker: a buzz whose pitch and tremolo depend on the label."""
    rng = np.random.default_rng(seed)
    ids, waves, labels, spk, gender = [], [], [], [], []
    for speaker, g in speakers.items():
        for k, label in enumerate(LABELS):
            t = np.arange(int(SR * rng.uniform(0.6, 1.2))) / SR
            f0 = 110.0 + 40.0 * k
            wave = np.sign(np.sin(2 * np.pi * f0 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
            wave = 0.2 * wave + 0.01 * rng.standard_normal(len(t))
            ids.append(f"{speaker}/{label}")
            waves.append(wave.astype(np.float32))
            labels.append(k)
            spk.append(speaker)
            gender.append(g)
    return recipe.ClipSet(ids, waves, np.array(labels), np.array(spk), np.array(gender))


@pytest.fixture
def one_thread():
    """One torch thread: two made the ECAPA ~90x slower on the busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_train_package_reload_gives_same_probabilities(tmp_path, one_thread):
    torch.manual_seed(0)
    train_set = synthetic_clips({"ravdess_01": "male", "tess_OAF": "female"}, seed=0)
    val_set = synthetic_clips({"ravdess_13": "female"}, seed=1)
    hparams = recipe.load_hparams({"output_folder": str(tmp_path / "run"), **TINY})
    brain = recipe.make_brain(hparams)

    epochs = recipe.train(brain, train_set, val_set, minutes=0.001)  # one epoch: 2 steps of 8
    assert epochs == 1
    assert brain.optimizer_step == 2
    best = brain.checkpointer.find_checkpoint(min_key="error")
    assert best is not None and best.meta["epoch"] == 1

    logp = recipe.log_probabilities(brain, val_set)
    assert logp.shape == (len(LABELS), len(LABELS))
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, atol=1e-5)

    temperature = 2.0
    recipe.fold_temperature(brain.modules.classifier, temperature)
    folder = recipe.package_model(brain, tmp_path / "model")
    for name in ("hyperparams.yaml", "embedding_model.ckpt", "classifier.ckpt"):
        assert (folder / name).is_file()
    assert (folder / "label_encoder.ckpt").read_text().startswith("'neutral' => 0")

    classifier = recipe.load_packaged(folder)
    probs = recipe.packaged_probabilities(classifier, val_set.waves)
    np.testing.assert_allclose(probs, recipe.softmax_tempered(logp, temperature), atol=1e-5)
    _, _, index, text = classifier.classify_batch(torch.from_numpy(val_set.waves[0])[None])
    assert text == [LABELS[int(index[0])]]


def test_timed_epochs_stops_before_the_budget_runs_out():
    assert list(recipe.timed_epochs(iter(range(1, 100)), budget_s=0.0)) == [1]  # first always
    assert list(recipe.timed_epochs(iter(range(1, 4)), budget_s=60.0)) == [1, 2, 3]


def test_fit_temperature_undoes_overconfidence():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 7, 2000)
    logits = rng.normal(0, 1, (2000, 7))
    logits[np.arange(2000), truth] += 1.0  # calibrated at T = 1 ...
    sharp = 3.0 * (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))  # ... made 3x sharp
    assert recipe.fit_temperature(sharp, truth) == pytest.approx(3.0, rel=0.1)


def test_importing_analyzer_never_imports_speechbrain():
    code = (
        "import sys, analyzer, analyzer.pipeline, train.ser; "
        "assert 'speechbrain' not in sys.modules and 'torchaudio' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
