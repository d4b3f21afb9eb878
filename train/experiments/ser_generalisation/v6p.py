"""Issue 15 research (not product code): version 6's screen with prosodic statistics appended.

    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.v6p screen \\
        [RECIPE[@sN] ...]
    OMP_NUM_THREADS=1 python -m train.experiments.ser_generalisation.v6 table

The recipes of ``RECIPES`` are ``v6``'s head options (``v5``, ``zong``) on the layer-1 windows
with the window's prosodic / voice-quality statistics (``analyzer.audio.voicestats``, as cached
by ``prosodic extract`` for clean audio and through ``augment.telephone_channel``, which is
deterministic, so the telephone rendering is the one of the l1_telephone cache) appended column
by column. The statistics are z-scored per speaker and channel against the speaker's *in-call
reference* (``prosodic.neutral_reference``: their neutral clips plus emotional ones up to a 70 %
neutral share, as in a mostly neutral call; a read-speech speaker's clips all), undefined values
set to the reference mean (0) and clipped to +-5 reference deviations as ``prosodic.compare``
does (``v5+Pa``: against all of the speaker's clips instead, labels unused, to see how much
the reference's make-up matters). Caveat: the reference of a scored speaker is assembled with
the labels (it stands in for the call's own voice), so even ``nogroup`` now knows the speaker.
``v5+Pg`` takes it away on the scored side: the same heads as ``v5+Pr``, the held-out
speaker's prosody z-scored again against each scored group's own windows (no labels).
``v5+Pgt`` / ``zong+Pgt`` (serq, after ``v5+Pg``) train that way too: every training speaker's
prosody (per channel) is z-scored against each of their 70 % neutral groups, the same grouping
``neutral70`` scores with (a neutral window, in several groups, gets the mean of its z-scores),
and the LibriSpeech prior's speakers against all their windows; scored as ``v5+Pg``.
Everything else (training rows, seeds, the three groupings, the scored corpus with the
test-fold speakers RAVDESS 17-20 and EmoDB 11 left out) is ``v6.screen``; the results land in
the same $SER_CACHE/results/v6_screen.json beside the v5 and zong entries. The caches are the
ones ``prosodic extract`` / ``extract telephone`` / ``extract telephone_tess`` wrote; nothing had
to be extracted for the screen's clean + telephone rows (the degraded rendering is build-only).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import numpy as np

from analyzer.audio.ser import PROSODY_KIND, PROSODY_PRIOR_WINDOWS, prosody_zscores
from train.ser import within_speaker_spread

from . import CACHE, exp, v6
from .prosodic import PROSODIC_CLIP, neutral_reference, per_speaker

# prosodic cache folder of each channel the screen reads (clean and telephone only)
PROSODIC_FOLDER = {"clean": "prosodic", "telephone": "prosodic_telephone"}
# raw statistics of the other channels (``extract --voicestats --out``: vs_<channel>), and
# session 24's results and models ($SER_V6_CACHE; the shared cache is read-only)
VS_FEATS = Path(os.environ.get("SER_V6_CACHE", "/work/cache-s24/ser7")) / "feats"

# recipe: (label, v6 head recipe, prosodic reference: "call" = the 70 % neutral in-call
# reference, "all" = all of the speaker's clips, labels unused: the acted corpora's balanced mix)
RECIPES = {
    "v5+Pr": ("version 5 + prosodic z-scored against the in-call reference", "v5", "call"),
    "zong+Pr": ("zong + prosodic z-scored against the in-call reference", "zong", "call"),
    "zo+Pr": ("zo + prosodic z-scored against the in-call reference", "zo", "call"),
    "v5+Pa": ("version 5 + prosodic z-scored against all the speaker's clips", "v5", "all"),
    "v5+Pg": (
        "v5+Pr, scored with the prosody z-scored against each scored group itself (no labels)",
        "v5",
        "group",
    ),
    "v5+Pgt": (
        "version 5 + prosody z-scored against each 70 % neutral group itself, trained and scored",
        "v5",
        "traingroup",
    ),
    "zong+Pgt": (
        "zong + prosody z-scored against each 70 % neutral group itself, trained and scored",
        "zong",
        "traingroup",
    ),
    # session 24: the product's own function (``analyzer.audio.ser.prosody_zscores``) on the
    # raw statistics, trained per 70 % neutral group and scored per scored group (no groups:
    # zeros, as the product without a speaker), spread shrunk toward the training population's
    "v5+Pv": ("v5+Pgt with the product's prosody_zscores on raw statistics", "v5", "product"),
    "zong+Pv": ("zong+Pgt with the product's prosody_zscores on raw statistics", "zong", "product"),
}
for _key, (_label, _base, _) in RECIPES.items():
    v6.RECIPES[_key] = (_label, v6.RECIPES[_base][1])
REFERENCE = "call"  # of the recipe being screened (set by ``main``)
TRAINING = False  # True while ``v6.fit`` gathers (``traingroup``: training rows per group)


def _occurrence(row: np.ndarray) -> np.ndarray:
    """Index of each window among its clip's windows, in cache order."""
    order = np.argsort(row, kind="stable")
    sorted_rows = row[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_rows)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(row)]))
    occ = np.empty(len(row), int)
    occ[order] = np.arange(len(row)) - first
    return occ


@functools.cache
def aligned(channel: str, reference: str = "call") -> np.ndarray:
    """Prosodic statistics [M, D] float32 row by row with the l1_<channel> cache's windows,
    z-scored per speaker against ``reference`` ("call" or "all", see ``RECIPES``)."""
    l1 = exp.cond("l1_" + channel)
    if channel in PROSODIC_FOLDER:
        p = exp.cond(PROSODIC_FOLDER[channel])
    else:
        p = exp.cond(os.path.relpath(VS_FEATS / f"vs_{channel}", exp.FEATS))
    if reference == "product":  # raw statistics (z-scored later by prosody_zscores)
        z = p.features.astype(np.float64)
    else:
        ref = neutral_reference() if reference in ("call", "group", "traingroup") else None
        z = per_speaker(p.features.astype(np.float64), p.row, reference=ref)
        z = np.clip(np.nan_to_num(z), -PROSODIC_CLIP, PROSODIC_CLIP)
    width = int(max(np.bincount(p.row).max(), np.bincount(l1.row).max())) + 1
    p_key = p.row.astype(np.int64) * width + _occurrence(p.row)
    l1_key = l1.row.astype(np.int64) * width + _occurrence(l1.row)
    order = np.argsort(p_key)
    at = np.searchsorted(p_key[order], l1_key)
    at = np.minimum(at, len(order) - 1)
    if not np.array_equal(p_key[order][at], l1_key):
        raise SystemExit(f"{channel}: windows of the l1 and prosodic caches differ: re-extract")
    if not np.array_equal(np.bincount(p.row, minlength=exp.N)[np.unique(l1.row)],
                          np.bincount(l1.row, minlength=exp.N)[np.unique(l1.row)]):  # fmt: skip
        raise SystemExit(f"{channel}: window counts of the l1 and prosodic caches differ")
    return z[order][at].astype(np.float32)


def gather_with_prosodic(
    rows: np.ndarray, channels, prefix: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``exp.gather`` of the l1_ windows with each window's prosodic statistics appended."""
    f, r, c, s, extra = [], [], [], [], []
    sel = np.zeros(exp.N, bool)
    sel[rows] = True
    for ch in channels:
        t = exp.cond("l1_" + ch)
        m = sel[t.row]
        f.append(t.features[m])
        p = aligned(ch, REFERENCE)[m]
        if TRAINING and REFERENCE == "traingroup":
            p = own_group_zscores(p, t.row[m])
        elif TRAINING and REFERENCE == "product":
            p = own_group_zscores(p, t.row[m], product=True)
        extra.append(p)
        r.append(t.row[m])
        c.append(np.full(m.sum(), ch))
        s.append(t.speech_s[m])
    return (np.hstack([np.vstack(f), np.vstack(extra)]), np.concatenate(r), np.concatenate(c),
            np.concatenate(s))  # fmt: skip


_grouped_probs = v6.grouped_probs
WIDTH_L1 = 768  # layer-1 columns before the prosodic ones


def _within(p: np.ndarray) -> np.ndarray:
    """Prosodic columns ``p`` z-scored against these windows themselves, clipped."""
    p = p.astype(np.float64)
    sd = p.std(axis=0)
    z = (p - p.mean(axis=0)) / np.where(sd > 1e-9, sd, np.inf)
    return np.clip(z, -PROSODIC_CLIP, PROSODIC_CLIP)


def _rezscored(f: np.ndarray) -> np.ndarray:
    """``f`` with its prosodic columns z-scored again against these windows themselves."""
    return np.hstack([f[:, :WIDTH_L1], _within(f[:, WIDTH_L1:])]).astype(f.dtype)


def neutral70_groups(r: np.ndarray) -> list[np.ndarray]:
    """Window masks of one speaker's ``neutral70`` groups (``v6.grouped_probs``'s grouping: all
    neutral clips plus k emotional ones in name-hash order); one group of every window when the
    speaker has no neutral clip."""
    clip_rows = sorted(np.unique(r).tolist(), key=v6._hash)
    neutral = [i for i in clip_rows if exp.LABEL[i] == 0]
    other = [i for i in clip_rows if exp.LABEL[i] > 0]
    if not neutral:
        return [np.ones(len(r), bool)]
    k = max(1, round(len(neutral) * (1 - v6.NEUTRAL_SHARE) / v6.NEUTRAL_SHARE))
    is_neutral = np.isin(r, neutral)
    return [is_neutral | np.isin(r, other[g0 : g0 + k]) for g0 in range(0, max(1, len(other)), k)]


def product_z(p: np.ndarray) -> np.ndarray:
    """Raw statistics ``p`` of one group z-scored as the product does (``prosody_zscores``)."""
    if POP_SD is None:
        raise SystemExit("product recipe: the population spread is not set (set_population)")
    return prosody_zscores(p, ["g"] * len(p), population_sd=POP_SD)


POP_SD: np.ndarray | None = None  # the training rows' within-speaker spread (``set_population``)


def set_population(rows: np.ndarray) -> np.ndarray:
    """``POP_SD`` from the clean raw statistics of the training ``rows``: per column, the root of
    the mean within-speaker variance (every speaker weighted by their defined windows)."""
    global POP_SD
    t = exp.cond("l1_clean")
    sel = np.zeros(exp.N, bool)
    sel[rows] = True
    m = sel[t.row]
    x, spk = aligned("clean", "product")[m].astype(np.float64), exp.SPEAKER[t.row[m]]
    POP_SD = within_speaker_spread(x, list(spk))  # the product's function since session 25
    return POP_SD


def own_group_zscores(p: np.ndarray, r: np.ndarray, product: bool = False) -> np.ndarray:
    """Training side of ``traingroup``: prosodic columns ``p`` (rows ``r``, one channel) of each
    speaker z-scored against each of their ``neutral70`` groups, as the scoring does; a window
    in several groups (the neutral ones) gets the mean of its z-scores. ``product``: ``p`` is
    raw and each group goes through the product's ``prosody_zscores`` (``product_z``)."""
    out = np.zeros(p.shape)
    seen = np.zeros(len(p))
    spk = exp.SPEAKER[r]
    within = product_z if product else _within
    for s in np.unique(spk):
        at = np.flatnonzero(spk == s)
        for members in neutral70_groups(r[at]):
            out[at[members]] += within(p[at[members]])
            seen[at[members]] += 1
    return (out / np.maximum(seen, 1)[:, None]).astype(p.dtype)


def grouped_probs_own_reference(
    model: v6.SpeechEmotionModel, f: np.ndarray, r: np.ndarray, grouping: str
) -> np.ndarray:
    """``v6.grouped_probs`` with each group's prosody z-scored against that group (``v5+Pg``):
    ``balanced``, the speaker's windows; ``neutral70``, each 70 % neutral group; ``nogroup``
    keeps the label-assembled reference (there is no group to take one from)."""
    if grouping == "nogroup":
        return _grouped_probs(model, f, r, grouping)
    if grouping == "balanced":
        return _grouped_probs(model, _rezscored(f), r, grouping)
    out = np.zeros((len(f), 7))
    seen = np.zeros(len(f))
    for members in neutral70_groups(r):
        x = _rezscored(f[members])
        out[members] += v6.softmax(model.logits(x, groups=["g"] * len(x))[0])
        seen[members] += 1
    return out / np.maximum(seen, 1)[:, None]


def _product_view(f: np.ndarray, groups: list[str] | None) -> np.ndarray:
    """``f`` ([l1 | raw statistics]) with the statistics z-scored as the product does for
    ``groups`` (None: zeros)."""
    if POP_SD is None:
        raise SystemExit("product recipe: the population spread is not set")
    z = prosody_zscores(f[:, WIDTH_L1:], groups, population_sd=POP_SD)
    return np.hstack([f[:, :WIDTH_L1], z]).astype(np.float32)


def grouped_probs_product(
    model: v6.SpeechEmotionModel, f: np.ndarray, r: np.ndarray, grouping: str
) -> np.ndarray:
    """``v6.grouped_probs`` on raw statistics, z-scored per scored group by the product's
    function: ``nogroup`` zeros (no speaker known), ``balanced`` the speaker's windows,
    ``neutral70`` each 70 % neutral group."""
    if grouping == "nogroup":
        return _grouped_probs(model, _product_view(f, None), r, grouping)
    if grouping == "balanced":
        return _grouped_probs(model, _product_view(f, ["g"] * len(f)), r, grouping)
    out = np.zeros((len(f), 7))
    seen = np.zeros(len(f))
    for members in neutral70_groups(r):
        x = _product_view(f[members], ["g"] * int(members.sum()))
        out[members] += v6.softmax(model.logits(x, groups=["g"] * len(x))[0])
        seen[members] += 1
    return out / np.maximum(seen, 1)[:, None]


def read_rates_product(model: v6.SpeechEmotionModel) -> dict[str, float]:
    """``v6.read_rates`` on raw statistics: each LibriSpeech reader's clip is their call (its
    own group for the prosody, relative head off as in ``v6``); the Mandarin reader's 100 clips
    one group, and clip by clip each clip its own."""
    out = {}
    f, r, _, _ = gather_with_prosodic(exp.LS_TEST_ROWS, ["clean"])
    x = _product_view(f, list(exp.SPEAKER[r]))
    p, _ = v6.clips(v6.softmax(model.logits(x)[0]), r)
    out["read_en"] = round(float(np.mean(p.argmax(axis=1) == 0)), 3)
    f, r, _, _ = gather_with_prosodic(exp.AISHELL_ROWS, ["clean"])
    x = _product_view(f, [str(i) for i in r])
    p, _ = v6.clips(v6.softmax(model.logits(x)[0]), r)
    out["read_zh"] = round(float(np.mean(p.argmax(axis=1) == 0)), 3)
    x = _product_view(f, ["zh"] * len(f))
    p, _ = v6.clips(v6.softmax(model.logits(x, groups=["zh"] * len(f))[0]), r)
    out["read_zh_groups"] = round(float(np.mean(p.argmax(axis=1) == 0)), 3)
    return out


_fit = v6.fit


def _fit_flagged(rows: np.ndarray, options, channels: tuple[str, ...]) -> v6.SpeechEmotionModel:
    """``v6.fit`` with ``TRAINING`` set while it gathers (training rows and the prior's)."""
    global TRAINING
    TRAINING = True
    try:
        if REFERENCE == "product":
            set_population(rows)
        return _fit(rows, options, channels)
    finally:
        TRAINING = False


OUT = VS_FEATS.parent  # session 24's own results and models (the shared cache is read-only)


def build(name: str, recipe: str, channels: tuple[str, ...]) -> None:
    """``v5.build`` of RECIPE (a ``product`` recipe) into OUT/models/NAME: training rows'
    prosody z-scored per 70 % neutral group by ``prosody_zscores`` (the neutral prior's and the
    familiarity check's windows too), then the product's fields: ``"prosody"`` in model.json and
    the population spread ``prosody_sd`` in head.npz, so the engine z-scores the same way."""
    from analyzer.audio.ser import save_model_folder
    from analyzer.models import write_checksums

    from . import v5
    from .v4 import LABELLED

    global REFERENCE, TRAINING
    REFERENCE = RECIPES[recipe][2]
    if REFERENCE != "product":
        raise SystemExit(f"build needs a product recipe (v5+Pv, zong+Pv), not {recipe}")
    v5.gather = gather_with_prosodic
    v5.CACHE = OUT
    rows = LABELLED[~np.isin(exp.SPEAKER[LABELLED], list(v6.SER_HELD_OUT))]
    sd = set_population(rows)
    TRAINING = True
    try:
        # the familiarity check on every training channel (serrob's F1, session 24)
        out = v5.build(name, channels, v6.options_for(RECIPES[recipe][1], 0), channels)
    finally:
        TRAINING = False
    config = json.loads((out / "model.json").read_text())
    with np.load(out / "head.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["prosody_sd"] = sd.astype(np.float32)
    fixed = ("kind", "loader", "labels", "weights", "encoder", "feature_version", "sample_rate_hz")
    config = {k: v for k, v in config.items() if k not in fixed}
    config["prosody"] = PROSODY_KIND
    config["prosody_prior_windows"] = PROSODY_PRIOR_WINDOWS
    config["recipe"] = recipe
    config["trained_on"]["prosody_reference"] = (
        "each training speaker's 70 % neutral groups per channel (a neutral window in several "
        "groups: the mean of its z-scores); prosody_sd: within-speaker spread of the clean rows"
    )
    save_model_folder(out, arrays, config)
    write_checksums(out)
    print(f"prosody fields added to {out}", flush=True)


def familiarity(source: Path, name: str, channels: tuple[str, ...]) -> Path:
    """``source`` (a ``build`` folder of a product recipe) with only its familiarity check
    refitted on the training windows of ``channels``, their prosody z-scored as ``build`` does
    (per 70 % neutral group, the population spread of the training rows): ``v5.refit_familiarity``
    on these features, into OUT/models/NAME. The heads, prior and prosody fields are copied."""
    from . import v5
    from .v4 import LABELLED

    global REFERENCE, TRAINING
    REFERENCE = "product"
    v5.gather = gather_with_prosodic
    v5.CACHE = OUT
    set_population(LABELLED[~np.isin(exp.SPEAKER[LABELLED], list(v6.SER_HELD_OUT))])
    TRAINING = True
    try:
        return v5.refit_familiarity(source, name, channels)
    finally:
        TRAINING = False


def main() -> None:
    import torch

    torch.set_num_threads(1)
    args = sys.argv[1:]
    what = args.pop(0) if args else ""
    if what == "build":  # build NAME RECIPE [CHANNELS]
        channels = tuple(args[2].split(",")) if len(args) > 2 else ("clean", "telephone")
        build(args[0], args[1], channels)
        return
    if what == "familiarity":  # familiarity SRC NAME CHANNELS
        familiarity(Path(args[0]), args[1], tuple(args[2].split(",")))
        return
    if what != "screen" or any(a.startswith("--") for a in args):
        raise SystemExit(
            "usage: v6p screen [RECIPE[@sN]..]  (clean + telephone, screen split)"
            " | build NAME RECIPE [CHANNELS] | familiarity SRC NAME CHANNELS"
        )
    v6.gather = gather_with_prosodic  # every read of the screen (training, scoring, read speech)
    v6.fit = _fit_flagged
    read_rates = v6.read_rates
    global REFERENCE
    for key in args or list(RECIPES):
        if key.partition("@s")[0] not in RECIPES:
            raise SystemExit(f"unknown recipe {key!r}: one of {', '.join(RECIPES)}")
        REFERENCE = RECIPES[key.partition("@s")[0]][2]
        own = REFERENCE in ("group", "traingroup")
        v6.grouped_probs = grouped_probs_own_reference if own else _grouped_probs
        v6.read_rates = read_rates
        if REFERENCE == "product":
            v6.grouped_probs, v6.read_rates = grouped_probs_product, read_rates_product
        # session 24's results beside the shared cache's (which is read-only now)
        path = (OUT if REFERENCE == "product" else CACHE) / "results" / "v6_screen.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        res = v6.screen(key, ("clean", "telephone"), final=False)
        # another screen may have written meanwhile: keep its entries
        results = {**(json.loads(path.read_text()) if path.exists() else {}), key: res}
        path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
