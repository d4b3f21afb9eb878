"""Give a trained speech emotion model a neutral prior fitted on non-emotional read speech.

    python -m train.ser_prior --model ser-whisper-tiny-head-v2 \\
        --out models/ser-whisper-tiny-head-v3 \\
        --neutral-reference ../shared/data/speech/read_speech.csv --neutral-target 0.6 \\
        [--reference-channels clean,telephone] [--cache-dir DIR] [--threads 1]

Copies the model folder (heads, temperatures, uncertain threshold, arousal regression unchanged),
sets ``neutral_bias`` in model.json so that ``--neutral-target`` of the windows of the training
half of the read speech's speakers (``train.ser.reference_windows``: LibriSpeech-like
rows only; the other half is kept for evaluation; in each of ``--reference-channels``, default
clean) read neutral, records where it came from in
``neutral_reference``, and rewrites SHA256SUMS. The model card is copied only if the output
has none. The same bias is fitted inside training by ``emotrace train ser --neutral-reference
... --neutral-target ...``, which also takes the "uncertain" threshold with the bias applied;
this command keeps the source model's threshold.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from analyzer.models import resolve_model_dir, write_checksums

from .heads import fit_neutral_bias
from .ser import load_ser_model, reference_windows, speaker_channel_groups


def add_neutral_prior(
    model: str | Path,
    out: str | Path,
    reference: str | Path,
    target: float,
    *,
    cache_dir: str | Path | None = None,
    threads: int = 1,
    channels: Sequence[str] = ("clean",),
) -> Path:
    """Write ``out``: ``model``'s folder with a fitted ``neutral_bias``; returns ``out``."""
    source = resolve_model_dir(model)
    out = Path(out)
    if out.resolve() == source.resolve():
        raise ValueError("--out must differ from the source model")
    loaded = load_ser_model(source)
    loaded.threads = threads
    # a model with prosody (version 6) embeds the voice statistics too and z-scores them
    # against each reader's own windows per channel (each reader's clip is their call)
    feats, readers, window_channels = reference_windows(
        reference,
        encoder=loaded if loaded.prosody is not None else loaded.encoder,
        cache_dir=cache_dir,
        channels=channels,
    )
    speakers = sorted(set(readers.tolist()))
    groups = speaker_channel_groups(readers, window_channels)
    bias = fit_neutral_bias(loaded, loaded.model_input(feats, groups), target)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("head.npz", "MODEL_CARD.md"):
        if name == "head.npz" or not (out / name).exists():
            shutil.copy2(source / name, out / name)
    config = json.loads((source / "model.json").read_text())
    config["neutral_bias"] = round(bias, 4)
    config["neutral_reference"] = {
        "manifest": Path(reference).name,
        "speakers": len(speakers),
        "windows": len(feats),
        "target": target,
        "channels": list(channels),
        "heads_from": source.name,
    }
    (out / "model.json").write_text(json.dumps(config, indent=2) + "\n")
    write_checksums(out)
    return out


def main(argv: Sequence[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description="Fit a neutral prior on read speech")
    ap.add_argument("--model", required=True, help="source model (name or folder)")
    ap.add_argument("--out", required=True, help="new model folder")
    ap.add_argument("--neutral-reference", required=True, help="read-speech manifest")
    ap.add_argument("--neutral-target", type=float, default=0.6)
    ap.add_argument("--reference-channels", default="clean", help="e.g. clean,telephone")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    folder = add_neutral_prior(
        args.model,
        args.out,
        args.neutral_reference,
        args.neutral_target,
        cache_dir=args.cache_dir,
        threads=args.threads,
        channels=[c for c in args.reference_channels.split(",") if c],
    )
    print(folder)
    return folder


if __name__ == "__main__":
    main()
