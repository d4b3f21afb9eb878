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
import sys

import numpy as np

from . import CACHE, exp, v6
from .prosodic import PROSODIC_CLIP, neutral_reference, per_speaker

# prosodic cache folder of each channel the screen reads (clean and telephone only)
PROSODIC_FOLDER = {"clean": "prosodic", "telephone": "prosodic_telephone"}

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
    p = exp.cond(PROSODIC_FOLDER[channel])
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


def own_group_zscores(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Training side of ``traingroup``: prosodic columns ``p`` (rows ``r``, one channel) of each
    speaker z-scored against each of their ``neutral70`` groups, as the scoring does; a window
    in several groups (the neutral ones) gets the mean of its z-scores."""
    out = np.zeros(p.shape)
    seen = np.zeros(len(p))
    spk = exp.SPEAKER[r]
    for s in np.unique(spk):
        at = np.flatnonzero(spk == s)
        for members in neutral70_groups(r[at]):
            out[at[members]] += _within(p[at[members]])
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


_fit = v6.fit


def _fit_flagged(rows: np.ndarray, options, channels: tuple[str, ...]) -> v6.SpeechEmotionModel:
    """``v6.fit`` with ``TRAINING`` set while it gathers (training rows and the prior's)."""
    global TRAINING
    TRAINING = True
    try:
        return _fit(rows, options, channels)
    finally:
        TRAINING = False


def main() -> None:
    import torch

    torch.set_num_threads(1)
    args = sys.argv[1:]
    if not args or args.pop(0) != "screen" or any(a.startswith("--") for a in args):
        raise SystemExit("usage: v6p screen [RECIPE[@sN]..]  (clean + telephone, screen split)")
    v6.gather = gather_with_prosodic  # every read of the screen (training, scoring, read speech)
    v6.fit = _fit_flagged
    path = CACHE / "results" / "v6_screen.json"
    global REFERENCE
    for key in args or list(RECIPES):
        if key.partition("@s")[0] not in RECIPES:
            raise SystemExit(f"unknown recipe {key!r}: one of {', '.join(RECIPES)}")
        REFERENCE = RECIPES[key.partition("@s")[0]][2]
        own = REFERENCE in ("group", "traingroup")
        v6.grouped_probs = grouped_probs_own_reference if own else _grouped_probs
        res = v6.screen(key, ("clean", "telephone"), final=False)
        # another screen may have written meanwhile: keep its entries
        results = {**(json.loads(path.read_text()) if path.exists() else {}), key: res}
        path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
