"""Issue 15 research: copy extract.py's features into train.ser's per-clip cache.

    python -m train.experiments.ser_generalisation.to_train_cache \
        --cache-dir /work/cache-ser/train_cache clean telephone ...

Both render a clip in a channel with the same code and seed (train.augment.degrade, keyed by
the manifest path) and window it with train.ser.clip_windows, so the cached features are the
ones ``emotrace train ser --cache-dir`` would compute; this only saves the encoder time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from train.ser import _cache_file

from .exp import ROWS, cond
from .extract import DATA


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("channels", nargs="+")
    args = ap.parse_args()
    cache = Path(args.cache_dir)
    for channel in args.channels:
        t = cond(channel)
        n = 0
        for i in np.unique(t.row):
            m = t.row == i
            table = np.hstack([t.features[m], t.speech_s[m, None]])
            path = DATA / ROWS[i]["path"]
            target = _cache_file(cache, path, ROWS[i]["path"], channel)
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, table)
            n += 1
        print(channel, n, "clips")


if __name__ == "__main__":
    main()
