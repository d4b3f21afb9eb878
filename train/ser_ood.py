"""Give a trained speech emotion model a familiarity check: unfamiliar windows read "uncertain".

    python -m train.ser_ood --model ser-whisper-tiny-head-v3 \\
        --out models/ser-whisper-tiny-head-v4 \\
        --manifest ../shared/data/speech/manifest.csv \\
        --hold-out ravdess_17,ravdess_18,ravdess_19,ravdess_20,emodb_11 \\
        [--channels clean,telephone] [--dims 64] [--residual-weight 1] [--quantile 0.95] \\
        [--cache-dir DIR] [--threads 1]

Copies the model folder (heads, temperatures, priors unchanged; ``--out`` may be the model's
own folder) and adds the arrays of
``analyzer.audio.ser.Familiarity`` (``ood_mean``, ``ood_basis``, ``ood_var``, ``ood_rest``),
fitted on the model's training windows (the manifest's labelled rows minus ``--hold-out``, in
``--channels``; each corpus weighs the same), and ``unfamiliar_above`` in model.json: the
``--quantile`` of the distances of training speakers *left out of fitting* (speaker folds), so
about 1 - quantile of a new speaker's windows from a familiar kind of recording are flagged.
Nothing of the held-out speakers or of any evaluation set is used. SHA256SUMS is rewritten; the
model card is copied only if the output has none.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from analyzer.audio.ser import Familiarity, SpeechEmotionModel
from analyzer.labels import LABELS
from analyzer.models import resolve_model_dir, write_checksums

from .ser import load_ser_model, prosody_training_rows
from .ser_features import NEEDS_NOISE, extract_features, load_noise_pool, read_manifest

DIMS = 64  # principal directions kept for the Mahalanobis part
QUANTILE = 0.95  # share of left-out training speakers' windows that stay familiar
FOLDS = 5  # speaker folds for the left-out distances


def corpus_weights(corpora: Sequence[str]) -> np.ndarray:
    """Row weights [n] that give every corpus the same total weight (mean 1)."""
    names = np.asarray(corpora, dtype=str)
    w = np.zeros(len(names))
    for name in np.unique(names):
        members = names == name
        w[members] = 1.0 / members.sum()
    return w / w.mean()


def fit_familiarity(
    z: np.ndarray, *, dims: int = DIMS, weights: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Familiarity arrays of standardised training windows z [n, D] (weighted by ``weights``):
    ``ood_mean`` [D], ``ood_basis`` [D, d], ``ood_var`` [d], ``ood_rest`` [1] (see
    ``analyzer.audio.ser.Familiarity``); d = min(dims, D - 1, n - 1)."""
    z = np.asarray(z, dtype=np.float64)
    n, width = z.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mean = w @ z
    centred = (z - mean) * np.sqrt(w)[:, None]
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    d = int(max(1, min(dims, width - 1, n - 1)))
    var = s**2  # weighted variances along each direction (weights sum to 1)
    rest = var[d:].sum() / max(width - d, 1)
    return {
        "ood_mean": mean.astype(np.float32),
        "ood_basis": vt[:d].T.astype(np.float32),
        "ood_var": np.maximum(var[:d], 1e-9).astype(np.float32),
        "ood_rest": np.array([max(rest, 1e-9)], dtype=np.float32),
    }


def familiarity_of(arrays: dict[str, np.ndarray], residual_weight: float = 1.0) -> Familiarity:
    """The engine's ``Familiarity`` made of the ``ood_*`` arrays ``fit`` returns."""
    return Familiarity(
        arrays["ood_mean"],
        arrays["ood_basis"],
        arrays["ood_var"],
        arrays["ood_rest"],
        residual_weight=residual_weight,
    )


def distance(arrays: dict[str, np.ndarray], z: np.ndarray, residual_weight: float) -> np.ndarray:
    """``Familiarity.distance`` of standardised windows z [n, D] under ``arrays``."""
    return familiarity_of(arrays, residual_weight).distance(z)


def speaker_fold(speaker: str, folds: int) -> int:
    """A speaker's fold, from a hash of the name (stable across runs and machines)."""
    return int(hashlib.sha1(speaker.encode()).hexdigest(), 16) % folds


def left_out_distances(
    z: np.ndarray,
    speakers: Sequence[str],
    *,
    weights: np.ndarray | None = None,
    dims: int = DIMS,
    residual_weight: float = 1.0,
    folds: int = FOLDS,
) -> np.ndarray:
    """Each window's distance [n] under familiarity arrays fitted without its speaker's fold:
    how far a *new* speaker of the training corpora lies (in-sample distances are smaller)."""
    names = np.asarray(speakers, dtype=str)
    fold = np.array([speaker_fold(s, folds) for s in names])
    w = np.ones(len(z)) if weights is None else np.asarray(weights, dtype=np.float64)
    out = np.zeros(len(z), dtype=np.float32)
    for k in np.unique(fold):
        test = fold == k
        if test.all():  # one fold only: nothing to fit on
            raise ValueError("left-out distances need speakers in at least two folds")
        arrays = fit_familiarity(z[~test], dims=dims, weights=w[~test])
        out[test] = distance(arrays, z[test], residual_weight)
    return out


def weighted_quantile(values: np.ndarray, q: float, weights: np.ndarray | None = None) -> float:
    """The ``q`` quantile of ``values`` [n] where each value counts ``weights`` [n] times."""
    v = np.asarray(values, dtype=np.float64)
    w = np.ones(len(v)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(v)
    cum = np.cumsum(w[order]) / w.sum()
    at = min(int(np.searchsorted(cum, q)), len(v) - 1)
    return float(v[order][at])


def fit_unfamiliar(
    model: SpeechEmotionModel,
    features: np.ndarray,
    speakers: Sequence[str],
    corpora: Sequence[str],
    *,
    dims: int = DIMS,
    residual_weight: float = 1.0,
    quantile: float = QUANTILE,
    folds: int = FOLDS,
    channels: Sequence[str] | None = None,
    threshold_channels: Sequence[str] | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """(familiarity arrays fitted on every training window, ``unfamiliar_above``) for ``model``.

    features: the model's training windows [n, 768] (pooled encoder features, any channel);
    speakers, corpora: [n] names. The threshold is the corpus-weighted ``quantile`` of the
    left-out distances (``left_out_distances``). channels: [n] each window's channel, needed
    only with ``threshold_channels``: then the quantile is taken over the left-out windows of
    those channels alone (e.g. "degraded": about 1 - quantile of a new speaker's windows in
    damaged audio are flagged, fewer of the clean ones), the fit still uses every window.
    """
    return fit_standardised(
        model.standardise(features),
        speakers,
        corpora,
        dims=dims,
        residual_weight=residual_weight,
        quantile=quantile,
        folds=folds,
        channels=channels,
        threshold_channels=threshold_channels,
    )


def fit_standardised(
    z: np.ndarray,
    speakers: Sequence[str],
    corpora: Sequence[str],
    *,
    dims: int = DIMS,
    residual_weight: float = 1.0,
    quantile: float = QUANTILE,
    folds: int = FOLDS,
    channels: Sequence[str] | None = None,
    threshold_channels: Sequence[str] | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """``fit_unfamiliar`` on windows already standardised by the model: z [n, D]."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), not {quantile}")
    w = corpus_weights(corpora)
    held = left_out_distances(
        z, speakers, weights=w, dims=dims, residual_weight=residual_weight, folds=folds
    )
    arrays = fit_familiarity(z, dims=dims, weights=w)
    if not threshold_channels:
        return arrays, weighted_quantile(held, quantile, w)
    if channels is None or len(channels) != len(z):
        raise ValueError("threshold_channels needs each window's channel")
    pick = np.isin(np.asarray(channels, dtype=str), list(threshold_channels))
    if not pick.any():
        raise ValueError(f"no training window in the threshold channels {list(threshold_channels)}")
    picked_corpora = np.asarray(corpora, dtype=str)[pick]
    return arrays, weighted_quantile(held[pick], quantile, corpus_weights(picked_corpora.tolist()))


def add_familiarity(
    model: str | Path,
    out: str | Path,
    manifest: str | Path,
    *,
    hold_out: Sequence[str] = (),
    channels: Sequence[str] = ("clean", "telephone"),
    dims: int = DIMS,
    residual_weight: float = 1.0,
    quantile: float = QUANTILE,
    cache_dir: str | Path | None = None,
    threads: int = 1,
    threshold_channels: Sequence[str] = (),
    noise_manifest: str | Path | None = None,
) -> Path:
    """Write ``out``: ``model``'s folder with fitted familiarity arrays; returns ``out``.

    threshold_channels: channels (of ``channels``) whose left-out windows set the threshold
    (default: all). noise_manifest: speech for the babble of the "degraded" channel (as for
    ``emotrace train ser``; its training half)."""
    source = resolve_model_dir(model)
    out = Path(out)
    loaded = load_ser_model(source)
    rows, root = read_manifest(manifest)
    held = set(hold_out)
    rows = [r for r in rows if r.get("label") in LABELS and r.get("speaker") not in held]
    if not rows:
        raise ValueError(f"{manifest}: no labelled rows to fit familiarity on")
    if set(threshold_channels) - set(channels):
        raise ValueError("threshold channels must be among the fitted channels")
    if any(c in NEEDS_NOISE for c in channels) and noise_manifest is None:
        raise ValueError("the degraded channel needs --noise-manifest (speech for babble)")
    noise = partial(load_noise_pool, noise_manifest, "train") if noise_manifest else None
    loaded.threads = threads
    # a model with prosody (version 6) embeds the voice statistics too; they are z-scored as
    # its heads' training rows were (``train.ser.training_prosody_zscores``)
    reader = loaded if loaded.prosody is not None else loaded.encoder
    feats, speakers, corpora, window_channels, clips = [], [], [], [], []
    for channel in channels:
        table = extract_features(
            rows, root, channel=channel, encoder=reader, cache_dir=cache_dir, noise=noise
        )
        feats.append(table.features)
        clips.append(table.clip)
        speakers += [rows[i].get("speaker") or rows[i]["path"] for i in table.clip]
        corpora += [rows[i].get("corpus") or "" for i in table.clip]
        window_channels += [channel] * len(table.clip)
    windows = np.vstack(feats)
    if loaded.prosody_sd is not None:
        windows, _ = prosody_training_rows(
            windows,
            np.concatenate(clips).astype(int),
            [r["path"] for r in rows],
            [r["label"] for r in rows],
            np.asarray(speakers, dtype=str),
            np.asarray(window_channels, dtype=str),
            population_sd=loaded.prosody_sd,
            prior_windows=loaded.prosody_prior_windows,
        )
    arrays, above = fit_unfamiliar(
        loaded,
        windows,
        speakers,
        corpora,
        dims=dims,
        residual_weight=residual_weight,
        quantile=quantile,
        channels=window_channels,
        threshold_channels=tuple(threshold_channels),
    )
    out.mkdir(parents=True, exist_ok=True)
    with np.load(source / "head.npz") as data:
        merged = {k: data[k] for k in data.files if not k.startswith("ood_")}
    np.savez_compressed(out / "head.npz", **merged, **arrays)
    if not (out / "MODEL_CARD.md").exists():  # (``out`` may be the source: added in place)
        shutil.copy2(source / "MODEL_CARD.md", out / "MODEL_CARD.md")
    config = json.loads((source / "model.json").read_text())
    config["unfamiliar_above"] = round(above, 4)
    config["unfamiliar_residual_weight"] = residual_weight
    config["familiarity"] = {
        "manifest": Path(manifest).name,
        "windows": int(sum(len(f) for f in feats)),
        "speakers": len(set(speakers)),
        "channels": list(channels),
        "held_out_speakers": sorted(held),
        "dims": int(arrays["ood_basis"].shape[1]),
        "quantile": quantile,
        "folds": FOLDS,
    }
    if threshold_channels:
        config["familiarity"]["threshold_channels"] = list(threshold_channels)
    (out / "model.json").write_text(json.dumps(config, indent=2) + "\n")
    write_checksums(out)
    return out


def main(argv: Sequence[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description="Fit a familiarity check (unfamiliar = uncertain)")
    ap.add_argument("--model", required=True, help="source model (name or folder)")
    ap.add_argument("--out", required=True, help="new model folder")
    ap.add_argument("--manifest", required=True, help="the model's training manifest")
    ap.add_argument("--hold-out", default="", help="comma-separated speakers never used")
    ap.add_argument("--channels", default="clean,telephone")
    ap.add_argument("--dims", type=int, default=DIMS)
    ap.add_argument("--residual-weight", type=float, default=1.0)
    ap.add_argument("--quantile", type=float, default=QUANTILE)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--threshold-channels",
        default="",
        help="channels whose left-out windows set the threshold (default: every fitted one)",
    )
    ap.add_argument("--noise-manifest", default=None, help="speech for the degraded channel")
    args = ap.parse_args(argv)
    folder = add_familiarity(
        args.model,
        args.out,
        args.manifest,
        hold_out=[s for s in args.hold_out.split(",") if s],
        channels=[c for c in args.channels.split(",") if c],
        dims=args.dims,
        residual_weight=args.residual_weight,
        quantile=args.quantile,
        cache_dir=args.cache_dir,
        threads=args.threads,
        threshold_channels=[c for c in args.threshold_channels.split(",") if c],
        noise_manifest=args.noise_manifest,
    )
    print(folder)
    return folder


if __name__ == "__main__":
    main()
