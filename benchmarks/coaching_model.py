"""A speech emotion model that never heard the coaching benchmark's voices.

The shipped model was trained on RAVDESS actors 01-20 and TESS, so the coaching benchmark (whose
synthetic calls use RAVDESS actors 17-20 and EmoDB speaker 11) measures with a fold model instead:
the shipped training code (``train_ser``) on the manifest without actors 17-20 and without EmoDB
speaker 11 (the other EmoDB speakers stay, as they would in a fold). Clean and telephone copies
only (the shipped recipe also adds two voice shifts; they double the encoding time and matter for
the gender gap, not for this check).

    python -m benchmarks.coaching_model [--out DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

DATA = Path("/work/shared/data")
HELD_OUT_SPEAKERS = ("ravdess_17", "ravdess_18", "ravdess_19", "ravdess_20", "emodb_11")
DEFAULT_OUT = Path(tempfile.gettempdir()) / "emotrace_coaching" / "ser-fold-17-20-emodb11"
CHANNELS = ("clean", "telephone")


def held_out_model(out: Path = DEFAULT_OUT, *, threads: int = 1, data: Path = DATA) -> Path:
    """The fold model's folder, trained once (a few minutes) and reused afterwards."""
    if (out / "model.json").is_file():
        return out
    from train.heads import HeadOptions
    from train.ser import train_ser

    manifest = data / "speech" / "manifest.csv"
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["speaker"] not in HELD_OUT_SPEAKERS]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        train_csv = Path(tmp) / "train.csv"
        with open(train_csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return train_ser(
            train_csv,
            data / "speech",
            out=out,
            channels=CHANNELS,
            options=HeadOptions(),
            cache_dir=out.parent / "features",
            threads=threads,
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(held_out_model(Path(args.out), threads=args.threads))


if __name__ == "__main__":
    main()
