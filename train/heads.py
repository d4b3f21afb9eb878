"""The speech emotion model's dense heads: fitting, speaker/gender balance, calibration.

Training (``fit_model_arrays``) works on pooled Whisper-encoder features of labelled windows and
fits two small dense heads (see ``analyzer.audio.ser``): an absolute one on the window alone and
a relative one that also sees the window's offset from its speaker's average. Rows are weighted so
that no speaker and no gender dominates (``balance_weights``); how much extra weight the gender
the model serves worse gets is chosen by speaker-held-out cross-validation inside the training
data (``select_gender_boost``). A temperature per head is fitted on speakers held out for
calibration, then the heads are refitted on everyone.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from analyzer.audio.ser import (
    RELATIVE_SCALE_FLOOR,
    SpeechEmotionModel,
    log_softmax,
    relative_input,
)
from analyzer.labels import CIRCUMPLEX, LABELS

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class HeadOptions:
    """Hyper-parameters of the dense heads (chosen on held-out RAVDESS actors)."""

    hidden: int = 256  # hidden units (0: a linear, logistic-regression head)
    epochs: int = 20  # passes over the training rows
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-2  # AdamW weight decay
    dropout: float = 0.3  # dropout on the input and hidden layer
    batch_size: int = 256  # rows per optimiser step
    min_group_windows: int = 8  # a speaker needs this many windows for the relative head
    random_groups: int = 12  # random speaker sub-groups drawn per (speaker, channel)
    # more random sub-groups per (speaker, channel) that are 50-80 % neutral, as real calls are
    # (version 6); the random groups above are dominated by any one emotion alike
    neutral_groups: int = 0
    relative_weight: float = 0.5  # share of the relative head for grouped windows (inference)
    # the relative head's reference voice: "mean" of the group, or "neutral" (training: the mean
    # of the speaker's neutral windows; inference: of the group's most neutral-sounding share)
    relative_reference: str = "mean"
    reference_share: float = 0.25  # that share (inference, "neutral" only)
    # offsets scaled by one training spread ("global") or z-scored by each group's own spread
    # ("speaker"); the relative head reads absolute features + offsets ("both") or "offset" only
    relative_scale: str = "global"
    relative_inputs: str = "both"
    # under relative_scale "speaker": a group's spread is at least this share of the training
    # spread (a calm, all-neutral group is then not stretched to unit spread)
    relative_scale_floor: float = RELATIVE_SCALE_FLOOR
    balance: bool = True  # weight rows by speaker (square root) and gender (see balance_weights)
    seed: int = 0
    members: int = 3  # heads of an ensemble, trained with seeds seed, seed + 1, ...
    # extra weights tried for the gender served worst (besides 1.0); the one giving the best
    # worst-gender accuracy in speaker-held-out folds of the training data is kept ((1.0,): none)
    gender_boosts: tuple[float, ...] = (1.0, 1.3, 1.6)
    selection_folds: int = 4  # speaker folds of that search (fewer if a gender has fewer speakers)
    corpus_balance: bool = True  # every corpus carries the same total weight (needs corpora)
    # temperatures: "corpus" = fitted on each corpus as predicted by heads fitted on the others
    # (falls back to "speakers" with one corpus), "speakers" = on 20 % of the speakers held out,
    # "pooled" = on both, each carrying half the weight (new corpora and new speakers of known
    # ones alike; "corpus" where no speaker can be held out)
    calibration: str = "corpus"
    # share of held-out speakers' windows whose calibrated top probability is low enough to be
    # reported "uncertain" (0: never uncertain)
    uncertain_rate: float = 0.10
    # share of the windows of non-emotional reference speech (read speech of speakers never
    # scored) that must read neutral: fits model.json ``neutral_bias`` (0: no bias)
    neutral_target: float = 0.0
    va_alpha: float = 300.0  # ridge penalty of the arousal/valence regression (0: none)
    arousal: str = "learned"  # "learned" (the regression) or "derived" (from the probabilities)
    valence: str = "derived"


def fit_dense(
    x: np.ndarray,
    y: np.ndarray,
    *,
    options: HeadOptions,
    weights: np.ndarray | None = None,
    init: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train a dense classifier (0 or 1 hidden layer) with class-balanced cross-entropy.

    x: float32 [n, d] standardised inputs; y: int [n] class indices into ``LABELS``;
    weights: optional per-row weights [n]; init: layers to start from (fine-tuning; their sizes
    decide the hidden width). Returns the layers as (W [in, out], b [out]) arrays.
    """
    import torch

    torch.manual_seed(options.seed)
    k = len(LABELS)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    class_w = np.where(counts > 0, counts.sum() / (k * np.maximum(counts, 1)), 0.0)
    row_w = class_w[y] * (weights if weights is not None else 1.0)
    xt, yt = (
        torch.from_numpy(x.astype(np.float32)),
        torch.from_numpy(y.astype(np.int64)),
    )
    wt = torch.from_numpy((row_w / row_w.mean()).astype(np.float32))
    dims = [x.shape[1], options.hidden, k] if options.hidden else [x.shape[1], k]
    if init is not None:
        dims = [x.shape[1], *(int(b.shape[0]) for _, b in init)]
    modules: list[torch.nn.Module] = [torch.nn.Dropout(options.dropout)]
    for a, b in itertools.pairwise(dims):
        modules += [
            torch.nn.Linear(a, b),
            torch.nn.ReLU(),
            torch.nn.Dropout(options.dropout),
        ]
    net = torch.nn.Sequential(*modules[:-2])  # no ReLU/dropout after the output layer
    if init is not None:
        with torch.no_grad():
            for layer, (w0, b0) in zip([m for m in net if isinstance(m, torch.nn.Linear)], init):
                layer.weight.copy_(torch.from_numpy(np.asarray(w0, dtype=np.float32).T))
                layer.bias.copy_(torch.from_numpy(np.asarray(b0, dtype=np.float32)))
    opt = torch.optim.AdamW(net.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    steps = options.epochs * math.ceil(len(x) / options.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=options.lr, total_steps=max(steps, 1))
    gen = torch.Generator().manual_seed(options.seed)
    net.train()
    for _ in range(options.epochs):
        for idx in torch.randperm(len(x), generator=gen).split(options.batch_size):
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx], reduction="none")
            loss = (loss * wt[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears]


def relative_training_rows(
    features: np.ndarray,
    y: np.ndarray,
    context: np.ndarray,
    *,
    options: HeadOptions,
    scale_floor: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows for the relative head: (row index [R], speaker offset [R, 768]).

    context: one id per row for "same speaker, same channel". For each context the offsets are
    computed against groups of every composition a call can produce: all of the speaker's clips
    (balanced acted data), each emotion alone (a speaker who stays angry all call), and random
    groups with a dominant emotion. So the head learns when an offset near zero means "like
    this speaker's usual" and when it means nothing. With ``options.relative_scale`` "speaker"
    each group's offsets are divided by the group's own spread (at least ``scale_floor``), as
    ``analyzer.audio.ser.speaker_offsets`` does at inference.
    """
    rng = np.random.default_rng(options.seed)
    idx_out, off_out = [], []
    max_group = 48  # larger groups add rows without adding variety
    neutral = LABELS.index("neutral")
    calm: np.ndarray = np.zeros(0, dtype=int)

    def add(members: np.ndarray) -> None:
        idx_out.append(members)
        if options.relative_reference == "neutral":
            # the speaker's calm voice: a random share of their neutral windows, as noisy as the
            # most-neutral-sounding windows that inference takes for it
            take = max(1, min(len(calm), round(options.reference_share * len(members))))
            reference = features[rng.choice(calm, size=take, replace=False)].mean(axis=0)
        else:
            reference = features[members].mean(axis=0)
        offsets = features[members] - reference
        if options.relative_scale == "speaker":
            if scale_floor is None:
                raise ValueError('relative_scale "speaker" needs a scale floor')
            offsets = offsets / np.maximum(features[members].std(axis=0), scale_floor)
        off_out.append(offsets)

    for ctx in np.unique(context):
        members = np.flatnonzero(context == ctx)
        if len(members) < options.min_group_windows:
            continue
        calm = members[y[members] == neutral]
        if options.relative_reference == "neutral" and len(calm) == 0:
            continue  # no neutral voice of this speaker to refer to
        add(rng.choice(members, size=min(len(members), 4 * max_group), replace=False))
        for label in np.unique(y[members]):
            same = members[y[members] == label]
            if len(same) >= options.min_group_windows:
                for _ in range(max(1, min(3, len(same) // max_group))):
                    take = min(len(same), max_group)
                    add(rng.choice(same, size=take, replace=False))
        for _ in range(options.random_groups):
            size = int(rng.integers(options.min_group_windows, min(max_group, len(members)) + 1))
            dominant = rng.choice(np.unique(y[members]))
            share = rng.uniform(0.3, 1.0)
            pool_dom = members[y[members] == dominant]
            n_dom = min(len(pool_dom), round(share * size))
            rest = np.setdiff1d(members, pool_dom)
            n_rest = min(len(rest), size - n_dom)
            chosen = np.concatenate(
                [
                    rng.choice(pool_dom, n_dom, replace=False),
                    rng.choice(rest, n_rest, replace=False),
                ]
            )
            if len(chosen) >= options.min_group_windows:
                add(chosen)
        pool_neutral = members[y[members] == neutral]
        rest = members[y[members] != neutral]
        for _ in range(options.neutral_groups if len(pool_neutral) and len(rest) else 0):
            size = int(rng.integers(options.min_group_windows, min(max_group, len(members)) + 1))
            share = rng.uniform(0.5, 0.8)
            n_neu = min(len(pool_neutral), round(share * size))
            n_rest = min(len(rest), max(1, round(n_neu * (1 - share) / share)))
            chosen = np.concatenate(
                [
                    rng.choice(pool_neutral, n_neu, replace=False),
                    rng.choice(rest, n_rest, replace=False),
                ]
            )
            if len(chosen) >= options.min_group_windows:
                add(chosen)
    if not idx_out:
        _, counts = np.unique(context, return_counts=True)
        raise ValueError(
            f"the relative head needs a speaker with at least {options.min_group_windows} "
            f"windows in one channel; the most any speaker has is {counts.max(initial=0)}"
        )
    return np.concatenate(idx_out), np.vstack(off_out)


def balance_weights(
    speakers: np.ndarray,
    genders: np.ndarray | None = None,
    corpora: np.ndarray | None = None,
) -> np.ndarray:
    """Per-row weights [n]: each speaker's total weight grows only with the square root of its
    row count, (when ``corpora`` is given) every corpus carries the same total weight, and (when
    ``genders`` is given) both genders carry the same total weight.

    Why: TESS has two female talkers with 1400 clips each against 60 per RAVDESS actor; unweighted,
    the heads learn those two voices and female speech best (a 15-point gender gap on held-out
    actors in a first run).
    """
    names, inverse, counts = np.unique(speakers, return_inverse=True, return_counts=True)
    weights = counts[inverse].astype(np.float64) ** -0.5
    if corpora is not None:
        for c in np.unique(corpora):
            mask = corpora == c
            weights[mask] /= weights[mask].sum()
    if genders is not None:
        for g in np.unique(genders):
            mask = genders == g
            weights[mask] /= weights[mask].sum()
    return weights / weights.mean()


def fit_heads(
    features: np.ndarray,
    y: np.ndarray,
    context: np.ndarray,
    *,
    options: HeadOptions,
    weights: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Fit the absolute and relative heads; returns the arrays that ``head.npz`` stores.

    features: [n, 768] training windows; y: [n] labels; context: [n] speaker+channel ids;
    weights: optional [n] row weights (see ``balance_weights``).
    """
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    absolute = (features - mean) / scale
    arrays = {"mean": mean, "scale": scale}
    for member in range(max(1, options.members)):
        tag = str(member) if member else ""  # member 0 keeps the single-model names
        seeded = replace(options, seed=options.seed + member)
        for k, (w, b) in enumerate(fit_dense(absolute, y, options=seeded, weights=weights)):
            arrays[f"abs{tag}_W{k}"], arrays[f"abs{tag}_b{k}"] = w, b
        rows, offsets = relative_training_rows(
            features, y, context, options=seeded, scale_floor=options.relative_scale_floor * scale
        )
        offset_scale = offsets.std(axis=0) + 1e-6
        relative = relative_input(absolute[rows], offsets / offset_scale, options.relative_inputs)
        rel_weights = weights[rows] if weights is not None else None
        layers = fit_dense(relative, y[rows], options=seeded, weights=rel_weights)
        for k, (w, b) in enumerate(layers):
            arrays[f"rel{tag}_W{k}"], arrays[f"rel{tag}_b{k}"] = w, b
        arrays[f"offset_scale{tag}"] = offset_scale
    return {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}


def fit_temperature(logits: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Temperature T minimising the (``weights``-weighted) negative log-likelihood of
    softmax(logits / T): a 1-D search."""
    if len(y) == 0:
        return 1.0
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.3), np.log(5.0), 80)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = -np.average(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1)), weights=w)
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _pooled(
    cross: np.ndarray, y_cross: np.ndarray, held: np.ndarray, y_held: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross-corpus and held-out-speaker rows stacked for ``fit_temperature``, each source
    carrying half the weight (logits, labels, weights)."""
    w = np.concatenate(
        [
            np.full(len(y_cross), 0.5 / max(len(y_cross), 1)),
            np.full(len(y_held), 0.5 / max(len(y_held), 1)),
        ]
    )
    return np.vstack([cross, held]), np.concatenate([y_cross, y_held]), w


def calibration_speakers(speakers: Sequence[str], *, share: float = 0.2) -> set[str]:
    """A deterministic ~``share`` of speakers (by name hash) held out to fit temperatures."""
    names = sorted(set(speakers))
    if len(names) < 3:
        return set()
    ranked = sorted(names, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    return set(ranked[: max(1, round(share * len(names)))])


def speaker_channel_ids(speakers: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """One id per row [n] for "same speaker, same channel": the groups the relative head is
    trained and scored on (a speaker's windows in one rendering, as in one call)."""
    return np.char.add(np.char.add(speakers.astype(str), "|"), channels.astype(str))


def gender_folds(
    speakers: np.ndarray, genders: np.ndarray, folds: int
) -> tuple[list[list[str]], list[str]]:
    """Speaker folds with every gender in each: (folds [[speaker, ...], ...], genders used).

    Only genders other than ""/"unknown" count, and the search needs at least two of them with
    two speakers each; otherwise no folds are returned. Speakers are dealt to folds in the order
    of their name's hash, gender by gender, so the split is deterministic and not by name order.
    """
    by_gender: dict[str, list[str]] = {}
    for name, g in sorted(set(zip(speakers.tolist(), genders.tolist()))):
        if g.lower() not in ("", "unknown"):
            by_gender.setdefault(g, []).append(name)
    usable = {g: names for g, names in by_gender.items() if len(names) >= 2}
    if len(usable) < 2:
        return [], []
    k = min(folds, *(len(names) for names in usable.values()))
    out: list[list[str]] = [[] for _ in range(k)]
    for names in usable.values():
        ranked = sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())
        for i, name in enumerate(ranked):
            out[i % k].append(name)
    return out, sorted(usable)


def select_gender_boost(
    features: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    channels: np.ndarray,
    genders: np.ndarray,
    weights: np.ndarray,
    *,
    options: HeadOptions,
    progress: Progress | None = None,
) -> dict:
    """Choose the extra weight of the gender the heads serve worst, by cross-validation.

    Why: with both genders carrying the same total weight, held-out male RAVDESS actors were
    still recognised about 6 points worse than female ones; how much to lean the other way is a
    hyper-parameter, so it is chosen on the training data alone (speakers held out, never the
    evaluation speakers). Each of ``options.gender_boosts`` multiplies the row weights of one
    gender; a single-head model (no calibration) is fitted per speaker fold and scored on the
    held-out speakers' "clean" and "telephone" windows (all their windows if neither channel is
    there), grouped per speaker and channel as the engine groups a call. A speaker's accuracy is
    one vote for its gender; the boost with the best worst-gender accuracy wins (ties: smaller).
    Boost 1.0 (always tried, first) also tells which gender is served worst.

    features [n, 768], y [n], speakers/channels/genders [n] str, weights [n] (balance_weights).
    Returns {"gender": boosted gender or None, "boost": float, "folds": int,
    "worst_gender_accuracy": {boost: accuracy}, "per_gender": {boost: {gender: accuracy}},
    "weaker": the gender served worse at 1.0}; only the first three when there is no search.
    """
    boosts = sorted({1.0, *(float(b) for b in options.gender_boosts)})
    folds, used = gender_folds(speakers, genders, options.selection_folds)
    if len(boosts) < 2 or not folds:
        return {"gender": None, "boost": 1.0, "folds": 0}
    context = speaker_channel_ids(speakers, channels)
    scored = np.isin(channels, ["clean", "telephone"])
    if not scored.any():
        scored = np.ones(len(y), dtype=bool)
    single = replace(options, members=1)
    config = model_config(options)  # the heads read as the final model will read them
    total = len(boosts) * len(folds)

    def per_gender(gender: str | None, boost: float, step: int) -> dict[str, float]:
        hits: dict[str, list[float]] = {}
        for k, held_speakers in enumerate(folds):
            held = np.isin(speakers, held_speakers)
            w = weights * np.where(genders == gender, boost, 1.0)
            arrays = fit_heads(
                features[~held], y[~held], context[~held], options=single, weights=w[~held]
            )
            model = SpeechEmotionModel("selection", arrays, config, encoder=None)
            test = held & scored
            probs = model.probabilities(features[test], groups=list(context[test]))
            right = probs.argmax(axis=1) == y[test]
            for name in held_speakers:
                mine = speakers[test] == name
                g = genders[test][mine]
                if mine.any() and g[0] in used:
                    hits.setdefault(g[0], []).append(float(right[mine].mean()))
            if progress is not None:
                progress("ser gender balance", step * len(folds) + k + 1, total)
        return {g: float(np.mean(v)) for g, v in sorted(hits.items())}

    results = {1.0: per_gender(None, 1.0, 0)}
    weaker = min(results[1.0], key=lambda g: results[1.0][g])
    for step, boost in enumerate([b for b in boosts if b != 1.0], start=1):
        results[boost] = per_gender(weaker, boost, step)
    worst = {b: min(r.values()) for b, r in results.items()}
    best = max(boosts, key=lambda b: (round(worst[b], 6), -b))
    return {
        "gender": weaker if best != 1.0 else None,
        "boost": best,
        "folds": len(folds),
        "worst_gender_accuracy": {str(b): round(a, 4) for b, a in worst.items()},
        "per_gender": {str(b): {g: round(a, 4) for g, a in r.items()} for b, r in results.items()},
        "weaker": weaker,
    }


def model_config(options: HeadOptions) -> dict[str, Any]:
    """The model.json entries that say how ``SpeechEmotionModel`` reads heads fitted with
    ``options`` (the relative head's reference, scale and inputs). Every model built on the
    way (gender-weight search, calibration probes) is read through them too, so that a head
    fitted on offsets alone is never read as one fitted on offsets and the voice."""
    config: dict[str, Any] = {
        "min_group_windows": options.min_group_windows,
        "relative_weight": options.relative_weight,
        "relative_reference": options.relative_reference,
        "reference_share": options.reference_share,
    }
    if (options.relative_scale, options.relative_inputs) != ("global", "both"):  # version 6
        config["relative_scale"] = options.relative_scale
        config["relative_inputs"] = options.relative_inputs
        config["relative_scale_floor"] = options.relative_scale_floor
    return config


def reading_options(config: dict[str, Any], options: HeadOptions) -> HeadOptions:
    """``options`` with the fields that say how a trained model reads its relative head
    (``model_config``'s) taken from that model's ``config``, so that heads adapted from it are
    fed what they were trained on (a model from before a field existed has its default)."""
    return replace(
        options,
        relative_reference=str(config.get("relative_reference", "mean")),
        reference_share=float(config.get("reference_share", HeadOptions.reference_share)),
        relative_scale=str(config.get("relative_scale", "global")),
        relative_inputs=str(config.get("relative_inputs", "both")),
        relative_scale_floor=float(
            config.get("relative_scale_floor", HeadOptions.relative_scale_floor)
        ),
    )


def fit_model_arrays(
    features: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    channels: np.ndarray,
    *,
    options: HeadOptions,
    genders: np.ndarray | None = None,
    corpora: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    progress: Progress | None = None,
    reference: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Fit heads, temperatures, the ``uncertain`` threshold and the arousal/valence regression.

    reference: features of non-emotional speech (read speech of speakers no figure scores); with
    ``options.neutral_target`` > 0 the final heads get a ``neutral_bias`` (``fit_neutral_bias``)
    and the ``uncertain`` threshold is taken with that bias applied.

    weights: row weights [n]; by default ``balance_weights`` (with ``options.balance``; corpora
    equal with ``options.corpus_balance`` and ``corpora``; then, given ``genders``, times the
    boost that ``select_gender_boost`` picks) or none. Returns (arrays for head.npz, config
    entries for model.json).

    Calibration: with ``options.calibration == "corpus"`` and at least two corpora, each corpus
    is predicted by single heads fitted on the other corpora and the temperatures are fitted on
    those cross-corpus predictions (what a new recording set looks like to the model); with
    ``"pooled"`` on those and on ``calibration_speakers`` held out, each source carrying half
    the weight (a call may sound like the training corpora or like none of them); otherwise
    on ``calibration_speakers`` held out. The ``uncertain`` threshold is the top probability
    under which ``options.uncertain_rate`` of the held-out speakers' windows fall once those
    temperatures apply. The heads are then refitted on everything.
    """
    context = speaker_channel_ids(speakers, channels)
    held = np.isin(speakers, sorted(calibration_speakers(speakers.tolist())))
    config = {**model_config(options), "head_options": asdict(options)}
    if weights is None and options.balance:
        weights = balance_weights(speakers, genders, corpora if options.corpus_balance else None)
        if genders is not None:
            choice = select_gender_boost(
                features,
                y,
                speakers,
                channels,
                genders,
                weights,
                options=options,
                progress=progress,
            )
            config["gender_balance"] = choice
            if choice["gender"] is not None:
                weights = weights * np.where(genders == choice["gender"], choice["boost"], 1.0)
                weights = weights / weights.mean()
    elif weights is None:
        weights = np.ones(len(y))
    probe_options = replace(options, members=1)

    def probe_logits(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, ...]:
        """(absolute logits, relative logits, has-group) of ``test`` rows by heads on ``train``."""
        probe = SpeechEmotionModel(
            "calibration",
            fit_heads(
                features[train],
                y[train],
                context[train],
                options=probe_options,
                weights=weights[train],
            ),
            config,
            encoder=None,
        )
        probe.relative_weight = 1.0  # temperatures are fitted per head, on raw logits
        abs_logits, _ = probe.logits(features[test])
        rel_logits, used = probe.logits(features[test], groups=list(context[test]))
        return abs_logits, rel_logits, used

    names = sorted(set(corpora.tolist())) if corpora is not None else []
    by_corpus = options.calibration in ("corpus", "pooled") and len(names) >= 2
    has_held = bool(held.any() and (~held).any())
    pooled = by_corpus and options.calibration == "pooled" and has_held
    if by_corpus:
        parts = [probe_logits(corpora != c, corpora == c) for c in names]
        wanted = [corpora == c for c in names]
        abs_all = np.vstack([p[0] for p in parts])
        y_all = np.concatenate([y[m] for m in wanted])
        rel_all = np.vstack([p[1][p[2]] for p in parts])
        y_rel = np.concatenate([y[m][p[2]] for m, p in zip(wanted, parts)])
        config["temperature_abs"] = fit_temperature(abs_all, y_all)
        config["temperature_rel"] = fit_temperature(rel_all, y_rel)
        config["calibration"] = {"kind": "corpus", "corpora": names}
    if has_held:
        abs_logits, rel_logits, used = probe_logits(~held, held)
        if pooled:  # half the weight on each corpus seen from the others, half on held speakers
            config["temperature_abs"] = fit_temperature(
                *_pooled(abs_all, y_all, abs_logits, y[held])
            )
            config["temperature_rel"] = fit_temperature(
                *_pooled(rel_all, y_rel, rel_logits[used], y[held][used])
            )
            config["calibration"] = {"kind": "pooled", "corpora": names}
        if not by_corpus:
            config["temperature_abs"] = fit_temperature(abs_logits, y[held])
            config["temperature_rel"] = fit_temperature(rel_logits[used], y[held][used])
            config["calibration"] = {"kind": "speakers"}
        # the uncertain threshold: the model's own mix of the two heads on held-out speakers
        t_abs = config["temperature_abs"]
        t_rel = config["temperature_rel"]
        held_logp = log_softmax(abs_logits / t_abs)
        w = options.relative_weight
        held_logp[used] = w * log_softmax(rel_logits[used] / t_rel) + (1 - w) * held_logp[used]
    else:
        held_logp = None
    arrays = fit_heads(features, y, context, options=options, weights=weights)
    if options.neutral_target > 0:
        if reference is None or len(reference) == 0:
            raise ValueError("a neutral target needs reference features (read speech)")
        final = SpeechEmotionModel("final", arrays, config, encoder=None)
        config["neutral_bias"] = round(
            fit_neutral_bias(final, reference, options.neutral_target), 4
        )
    if held_logp is not None and options.uncertain_rate > 0:
        held_logp[:, LABELS.index("neutral")] += config.get("neutral_bias", 0.0)
        top = np.exp(held_logp - held_logp.max(axis=1, keepdims=True))
        top = (top / top.sum(axis=1, keepdims=True)).max(axis=1)
        config["uncertain_below"] = round(float(np.quantile(top, options.uncertain_rate)), 4)
    if options.va_alpha > 0:
        coef, bias = fit_valence_arousal(
            (features - arrays["mean"]) / arrays["scale"], y, weights, alpha=options.va_alpha
        )
        arrays["va_W"], arrays["va_b"] = coef.astype(np.float32), bias.astype(np.float32)
        config["arousal"] = options.arousal
        config["valence"] = options.valence
    return arrays, config


def fit_valence_arousal(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, *, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ridge regression from standardised features [n, d] to the circumplex
    coordinates (valence, arousal) of each row's label: returns (W [d, 2], b [2])."""
    coords = np.array([CIRCUMPLEX[label] for label in LABELS], dtype=np.float64)
    target = coords[y]
    w = np.asarray(weights, dtype=np.float64)
    xm = np.average(x, axis=0, weights=w)
    tm = np.average(target, axis=0, weights=w)
    xc = x - xm
    gram = (xc * w[:, None]).T @ xc + alpha * w.mean() * np.eye(x.shape[1])
    coef = np.linalg.solve(gram, (xc * w[:, None]).T @ (target - tm))
    return coef, tm - xm @ coef


def adapt_model_arrays(
    arrays: dict[str, np.ndarray],
    features: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    channels: np.ndarray,
    *,
    options: HeadOptions,
) -> dict[str, np.ndarray]:
    """Fine-tune a trained model's heads on a few new labelled windows (a team's own calls).

    arrays: the trained model's head.npz; features [n, F] (what its heads read: for a model with
    prosody, the voice statistics already z-scored, see ``train.ser.adapt_model``), y [n],
    speakers / channels [n] of the new windows. Every member's absolute and relative head
    starts from its trained weights and takes ``options.epochs`` passes at ``options.lr`` over
    the new rows (speaker-balanced); the standardisation, temperatures, the uncertain threshold
    and the arousal/valence regression are kept. The relative heads are adapted only where some
    speaker has at least ``options.min_group_windows`` windows. Returns the new arrays.
    """
    out = dict(arrays)
    absolute = (features - arrays["mean"]) / arrays["scale"]
    context = speaker_channel_ids(speakers, channels)
    weights = balance_weights(speakers) if options.balance else None
    tags = [""]
    while f"abs{len(tags)}_W0" in arrays:
        tags.append(str(len(tags)))
    for member, tag in enumerate(tags):
        seeded = replace(options, seed=options.seed + member)
        layers = fit_dense(
            absolute, y, options=seeded, weights=weights, init=_layers_of(arrays, f"abs{tag}")
        )
        for k, (w, b) in enumerate(layers):
            out[f"abs{tag}_W{k}"], out[f"abs{tag}_b{k}"] = w, b
        try:
            rows, offsets = relative_training_rows(
                features,
                y,
                context,
                options=seeded,
                scale_floor=options.relative_scale_floor * arrays["scale"],
            )
        except ValueError:  # no speaker with enough windows: the relative head stays
            continue
        relative = relative_input(
            absolute[rows], offsets / arrays[f"offset_scale{tag}"], options.relative_inputs
        )
        layers = fit_dense(
            relative,
            y[rows],
            options=seeded,
            weights=None if weights is None else weights[rows],
            init=_layers_of(arrays, f"rel{tag}"),
        )
        for k, (w, b) in enumerate(layers):
            out[f"rel{tag}_W{k}"], out[f"rel{tag}_b{k}"] = w, b
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


ADAPT_CALIBRATION_FOLDS = 3  # folds of a team's clips that the adapted temperatures are fitted on


def adapted_temperatures(
    arrays: dict[str, np.ndarray],
    config: dict,
    features: np.ndarray,
    y: np.ndarray,
    clips: np.ndarray,
    speakers: np.ndarray,
    channels: np.ndarray,
    *,
    options: HeadOptions,
    folds: int = ADAPT_CALIBRATION_FOLDS,
    min_windows: int = 30,
) -> dict[str, float] | None:
    """Temperatures for heads adapted on these windows (``adapt_model_arrays``), fitted where
    they were not adapted: the clips split into ``folds`` (seeded by ``options.seed``), each
    fold scored by heads adapted on the others, ``fit_temperature`` per head on the pooled raw
    log-probabilities. Adapting moves the heads, so the trained temperatures no longer fit
    them (version 5's adapted heads grew overconfident). clips [n]: each window's clip (its
    windows stay in one fold). None (keep the trained ones) with fewer than ``min_windows``
    windows or two clips a fold; "temperature_rel" only where ``min_windows`` held-out windows
    had a group."""
    ids = np.unique(clips)
    if len(features) < min_windows or len(ids) < 2 * folds:
        return None
    order = np.random.default_rng(options.seed).permutation(ids)
    fold_of = {int(c): k % folds for k, c in enumerate(order)}
    fold = np.array([fold_of[int(c)] for c in clips])
    context = speaker_channel_ids(speakers, channels)
    raw = {**config, "temperature_abs": 1.0, "temperature_rel": 1.0, "neutral_bias": 0.0}
    abs_parts, abs_y, rel_parts, rel_y = [], [], [], []
    for k in range(folds):
        fit, held = fold != k, fold == k
        adapted = adapt_model_arrays(
            arrays, features[fit], y[fit], speakers[fit], channels[fit], options=options
        )
        probe = SpeechEmotionModel("calibration", adapted, raw, encoder=None)
        probe.relative_weight = 1.0  # each head on its own
        logp, _ = probe.logits(features[held])
        abs_parts.append(logp)
        abs_y.append(y[held])
        logp, used = probe.logits(features[held], groups=list(context[held]))
        rel_parts.append(logp[used])
        rel_y.append(y[held][used])
    out = {"temperature_abs": fit_temperature(np.vstack(abs_parts), np.concatenate(abs_y))}
    grouped = np.concatenate(rel_y)
    if len(grouped) >= min_windows:
        out["temperature_rel"] = fit_temperature(np.vstack(rel_parts), grouped)
    return out


def _layers_of(arrays: dict[str, np.ndarray], prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
    layers, k = [], 0
    while f"{prefix}_W{k}" in arrays:
        layers.append((arrays[f"{prefix}_W{k}"], arrays[f"{prefix}_b{k}"]))
        k += 1
    return layers


def fit_neutral_bias(model: SpeechEmotionModel, reference: np.ndarray, target: float) -> float:
    """The smallest log-probability added to "neutral" that makes ``target`` of the reference
    windows read neutral (0 if they already do).

    reference: pooled features [n, 768] of non-emotional speech (read speech) of speakers that no
    figure scores, each window judged on its own (no groups: one clip per speaker). The model's
    own ``neutral_bias`` is ignored. A prior towards neutral, fitted where "neutral" is the truth,
    instead of a class weight that would teach "unlike the acted corpora = neutral".
    """
    if not 0.0 <= target < 1.0:
        raise ValueError(f"neutral target must be in [0, 1), not {target}")
    if target == 0.0 or len(reference) == 0:
        return 0.0
    saved, model.neutral_bias = model.neutral_bias, 0.0
    try:
        logp, _ = model.logits(reference)
    finally:
        model.neutral_bias = saved
    k = LABELS.index("neutral")
    # per window: how much neutral lacks to be the top label
    need = np.delete(logp, k, axis=1).max(axis=1) - logp[:, k]
    return float(max(0.0, np.quantile(need, target)))
