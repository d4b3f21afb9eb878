"""Quick 5-fold comparison of speech-emotion training variants on cached encoder features.

    python -m train.experiments.ser_variants --channels clean,telephone,lower,higher
    python -m train.experiments.ser_variants --channels clean,telephone,swapped
    python -m train.experiments.ser_variants --male-weight 1.3        # male rows weighted 1.3x
    python -m train.experiments.ser_variants --members 3              # ensemble of 3 seeded heads
    python -m train.experiments.ser_variants --remove-gender 10       # 10 gender directions removed

The folds are those of ``benchmarks/ser_eval_heldout.py`` (``train.data.ACTOR_FOLDS``: 5 x 4
RAVDESS actors; TESS always in training) and the heads are fitted by the same ``fit_model_arrays``,
but on features read straight from the cache (``extract_features``; clips missing from it are
encoded and added, which takes about five minutes per channel on two cores), with no model folders
written. Clips are single windows here (all shared clips are under 6 s), so window predictions are
clip predictions. Prints, per condition, pooled accuracy and per-gender accuracy over the 1200
held-out clips, and the gender gap with its standard error over actors (each actor's accuracy is
one sample: the actors, not the clips, are what varies between recordings of other people).

``--remove-gender K`` tests whether the heads lean on voice gender as a shortcut: K directions
that predict gender linearly are projected out of the features (iterative nullspace projection,
Ravfogel et al. 2020), fitted on each fold's training rows, before the heads are fitted and
applied.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from analyzer.audio.ser import SpeechEmotionModel, WhisperEncoder
from analyzer.labels import LABELS
from train.data import ACTOR_FOLDS, SPEECH_MANIFEST
from train.heads import HeadOptions, balance_weights, fit_model_arrays
from train.metrics import gender_gap_se
from train.ser import TRAIN_CHANNELS, channel_subsets, extract_features, read_manifest

EVAL_CHANNELS = ("clean", "telephone")


def gender_nullspace(
    features: np.ndarray, genders: np.ndarray, k: int, *, seed: int = 0
) -> Callable[[np.ndarray], np.ndarray]:
    """A map that removes ``k`` linearly gender-predictive directions from features [N, D].

    Each round fits a logistic regression for gender on the features projected so far and adds
    its weight vector to the removed directions; the map standardises, projects and undoes the
    standardisation, so the heads see features on their usual scale.
    """
    from sklearn.linear_model import LogisticRegression

    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    z = (features - mean) / scale
    rng = np.random.default_rng(seed)
    directions: list[np.ndarray] = []
    keep = np.eye(z.shape[1])
    for _ in range(k):
        rows = rng.choice(len(z), size=min(len(z), 6000), replace=False)
        probe = LogisticRegression(C=0.1, max_iter=300).fit(z[rows] @ keep, genders[rows])
        directions.append(probe.coef_[0] / np.linalg.norm(probe.coef_[0]))
        basis, _ = np.linalg.qr(np.array(directions).T)
        keep = np.eye(z.shape[1]) - basis @ basis.T

    def apply(x: np.ndarray) -> np.ndarray:
        return ((((x - mean) / scale) @ keep) * scale + mean).astype(np.float32)

    return apply


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default=str(SPEECH_MANIFEST))
    parser.add_argument("--cache-dir", default="/tmp/ser_cache")
    parser.add_argument("--channels", default=",".join(TRAIN_CHANNELS), help="training channels")
    parser.add_argument("--male-weight", type=float, default=1.0, help="extra weight, male rows")
    parser.add_argument("--members", type=int, default=1, help="ensemble size (HeadOptions)")
    parser.add_argument("--remove-gender", type=int, default=0, help="directions projected out")
    parser.add_argument("--dump", default=None, help="save held-out probabilities (.npz)")
    parser.add_argument("--threads", type=int, default=2, help="encoder threads (cache misses)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows, root = read_manifest(args.manifest)
    rows = [r for r in rows if r["label"] in LABELS]
    speaker = np.array([r["speaker"] for r in rows])
    gender = np.array([r["gender"] for r in rows])
    label = np.array([LABELS.index(r["label"]) for r in rows])
    channels = [c for c in args.channels.split(",") if c]
    encoder = WhisperEncoder(threads=args.threads)
    tables = []  # (channel, row index [M], table) for every rendered subset, from the cache
    for channel, subset in channel_subsets(rows, [*channels, *EVAL_CHANNELS]):
        table = extract_features(
            [rows[i] for i in subset],
            root,
            channel=channel,
            encoder=encoder,
            cache_dir=args.cache_dir,
        )
        tables.append((channel, np.asarray(subset)[table.clip], table))
    n_train = len(channel_subsets(rows, channels))
    hits: dict[str, list[np.ndarray]] = {}
    held_rows: dict[str, list[np.ndarray]] = {}
    predicted: dict[str, list[np.ndarray]] = {}
    for held in ACTOR_FOLDS:
        parts = tables[:n_train]
        keep = [~np.isin(speaker[idx], held) for _, idx, _ in parts]
        idx_all = np.concatenate([idx[m] for (_, idx, _), m in zip(parts, keep)])
        features = np.vstack([t.features[m] for (_, _, t), m in zip(parts, keep)])
        chan = np.concatenate([np.full(m.sum(), ch) for (ch, _, _), m in zip(parts, keep)])
        weights = balance_weights(speaker[idx_all], gender[idx_all])
        weights = weights * np.where(gender[idx_all] == "male", args.male_weight, 1.0)
        project = (
            gender_nullspace(features, gender[idx_all], args.remove_gender)
            if args.remove_gender
            else (lambda x: x)
        )
        features = project(features)
        arrays, config = fit_model_arrays(
            features,
            label[idx_all],
            speaker[idx_all],
            chan,
            options=HeadOptions(members=args.members),
            weights=weights / weights.mean(),
        )
        model = SpeechEmotionModel("variant", arrays, config, encoder=None)
        for ch, idx, table in tables[n_train:]:
            mask = np.isin(speaker[idx], held)
            for grouped in (True, False):
                groups = list(speaker[idx[mask]]) if grouped else None
                probs = model.predict_features(
                    project(table.features[mask]), table.speech_s[mask], groups=groups
                ).probs
                key = f"{ch}{'+groups' if grouped else ''}"
                hits.setdefault(key, []).append(probs.argmax(axis=1) == label[idx[mask]])
                predicted.setdefault(key, []).append(probs)
                held_rows.setdefault(key, []).append(idx[mask])
        print(f"fold {held[0]}..{held[-1]} done", flush=True)
    if args.dump:  # per condition: manifest row index [N] and probabilities [N, 7]
        np.savez(
            args.dump,
            **{f"{k}.rows": np.concatenate(v) for k, v in held_rows.items()},
            **{f"{k}.probs": np.vstack(v) for k, v in predicted.items()},
        )
    summary: dict[str, dict[str, Any]] = {}
    for key, parts_hit in hits.items():
        ok, idx = np.concatenate(parts_hit), np.concatenate(held_rows[key])
        summary[key] = {
            "n": int(len(ok)),
            "accuracy": round(float(ok.mean()), 4),
            "per_gender": {
                g: round(float(ok[gender[idx] == g].mean()), 4) for g in ("male", "female")
            },
        }
        per_actor = {a: float(ok[speaker[idx] == a].mean()) for a in np.unique(speaker[idx])}
        gap_se = gender_gap_se(per_actor, dict(zip(speaker, gender)))
        summary[key]["gap_se_over_actors"] = gap_se
        g = summary[key]["per_gender"]
        print(
            f"{key:18s} acc {ok.mean():.3f}  male {g['male']:.3f}  female {g['female']:.3f}  "
            f"gap {g['female'] - g['male']:+.3f} (+- {gap_se:.3f} over actors)"
        )
    result = {
        "channels": channels,
        "male_weight": args.male_weight,
        "members": args.members,
        "remove_gender": args.remove_gender,
    }
    result["conditions"] = summary
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
