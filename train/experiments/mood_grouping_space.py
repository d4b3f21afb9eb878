"""Would a grouping space that has heard acted moods group two same-gender voices better?

Three-minute calls of two voices of one gender are split into four finer (voice x mood) clusters
that ``clustering.group_in_two`` groups in two in the speaker space (``models/speaker-ge2e-wccn``,
fitted without RAVDESS). This probe fits the same kind of map (``SpeakerProjection``: shrink 0.1,
32 dims) with the within-speaker spread of the emotional voices only (TESS, EmoDB and four
RAVDESS validation actors, each speaker once per channel, wideband and through an 8 kHz
channel) and the between-speaker spread of all voices (per channel, averaged), and scores the
diarization benchmark's cached validation calls with the count given: each call whose two
actors lie in one half of the validation actors (13-16 or 17-20) by the map fitted with the
other half (cross-fitting; the test actors 01-12 are never read).

    python -m train.experiments.mood_grouping_space --base-wide DIR --base-tel DIR \
        --ravdess-wide DIR --ravdess-tel DIR --calls CACHE:TAG:N ...

Window caches are ``train.speaker_projection.embed_speakers`` folders (``--telephone`` for the
8 kHz ones; the RAVDESS ones of actors 13-20); ``--calls`` names cached benchmark sets
(``benchmarks.diarization --cache``), e.g. ``DIR:val-2-3min-same:30``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from analyzer.audio.der import diarization_error_rate
from analyzer.audio.overlap import load_overlap_detector
from analyzer.audio.speakers import SpeakerProjection, diarize_embedded, load_projection
from analyzer.segment import Segment

EMOTIONAL = ("tess_", "emodb_", "ravdess_")  # voices heard in several emotions
HALVES = (
    tuple(f"ravdess_{i}" for i in (13, 14, 15, 16)),
    tuple(f"ravdess_{i}" for i in (17, 18, 19, 20)),
)


def windows(folder: Path) -> dict[str, np.ndarray]:
    return {p.stem: np.load(p) for p in sorted(folder.glob("*.npy"))}


def fit(
    base: dict[str, dict[str, np.ndarray]], ravdess: dict[str, dict[str, np.ndarray]], actors
) -> SpeakerProjection:
    """The map fitted on ``base`` voices plus ``actors`` (both {channel: {speaker: windows}})."""
    groups = [
        (spk, ch, e)
        for ch in base
        for spk, e in [*base[ch].items(), *((a, ravdess[ch][a]) for a in actors)]
        if len(e) >= 2
    ]
    mean = np.concatenate([e for _, _, e in groups]).mean(axis=0)
    within = np.mean(
        [np.cov(e, rowvar=False, bias=True) for s, _, e in groups if s.startswith(EMOTIONAL)],
        axis=0,
    )
    between = []
    for ch in base:
        means = np.stack([e.mean(axis=0) for _, c, e in groups if c == ch])
        between.append(np.cov(means - means.mean(axis=0), rowvar=False, bias=True))
    return SpeakerProjection(mean, within, np.mean(between, axis=0), shrink=0.1, dims=32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("base-wide", "base-tel", "ravdess-wide", "ravdess-tel"):
        ap.add_argument(f"--{name}", type=Path, required=True)
    ap.add_argument("--calls", nargs="+", required=True, help="CACHE:TAG:N cached call sets")
    args = ap.parse_args()
    base = {"wide": windows(args.base_wide), "tel": windows(args.base_tel)}
    rav = {"wide": windows(args.ravdess_wide), "tel": windows(args.ravdess_tel)}
    heard = [fit(base, rav, half) for half in HALVES]  # heard[0] has heard 13-16
    shipped, detector = load_projection(), load_overlap_detector()
    for spec in args.calls:
        cache, tag, n = spec.rsplit(":", 2)
        pairs = []
        for i in range(int(n)):
            z = np.load(Path(cache) / f"{tag}-{i:03d}.npz")
            meta = json.loads(str(z["meta"]))
            cast = meta["name"].split("+")
            side = [h for h, half in enumerate(HALVES) if all(a in half for a in cast)]
            if not side:
                continue
            candidate = heard[1 - side[0]]
            speech = [Segment(a, b) for a, b in z["speech"]]
            ref = [(s, Segment(a, b)) for s, a, b in meta["ref"]]
            prob = detector.probabilities(z["audio"].astype(np.float32) / 32767)
            ders = []
            for space in (shipped, candidate):
                hyp = diarize_embedded(
                    z["spans"], z["owner"], z["emb"], speech, meta["duration"], num_speakers=2,
                    f0=z["f0"].astype(np.float32), projection=space, overlap_prob=prob,
                )  # fmt: skip
                ders.append(diarization_error_rate(ref, hyp.turns, collar_s=0.25)["der"])
            pairs.append(ders)
            print(f"{tag} {meta['name']}: {ders[0]:.3f} -> {ders[1]:.3f}", flush=True)
        a = np.array(pairs)
        print(f"== {tag}: {len(a)} calls, collar DER count given, shipped {a[:, 0].mean():.3f}"
              f" -> heard moods {a[:, 1].mean():.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
