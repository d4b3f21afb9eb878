"""Issue 15 research for version 5 (not product code): heads on Whisper encoder layer 1.

    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.v5 build NAME [CH]
    OMP_NUM_THREADS=1 nice -n 10 python -m train.experiments.ser_generalisation.v5 loco [CH [OOD]]
    OMP_NUM_THREADS=1 python -m train.experiments.ser_generalisation.v5 familiarity SRC NAME CH

Features: the numpy layer-1 encoder of the engine (``analyzer.audio.ser.WhisperLayerEncoder``),
cached by ``extract --layer1`` in ``$SER_CACHE/feats/l1_<condition>`` (``l1_clean`` was cut out
of the torch research copy's every-layer cache ``L_clean``: the two agree to 1e-6).

``build``: version 2's recipe (``train.heads.fit_model_arrays`` with version 2's head options:
corpus balance, cross-corpus calibration, learned arousal, 10 % uncertain rate) on every
labelled clip but RAVDESS 17-20 and EmoDB 11 in CHANNELS (default clean,telephone; "degraded"
exists for RAVDESS, EmoDB and a quarter of TESS: ``extract`` subset ``voices``), then version 4's
neutral prior (``fit_neutral_bias``: 60 % of the LibriSpeech *training-half* windows, clean and
telephone, read neutral) and familiarity check (``train.ser_ood.fit_unfamiliar`` on the clean and
telephone training windows, 64 directions, residual weight 1, 95 % quantile of left-out
speakers). Writes ``$SER_CACHE/models/NAME`` (the same folder ``emotrace train ser --features
whisper-layer1`` + ``train.ser_prior`` + ``train.ser_ood`` write from the same features).

``familiarity``: the model folder SRC with its familiarity check refitted on the training
windows of CH, written to ``$SER_CACHE/models/NAME``.

``loco``: ``v4.loco`` (version 3's one-head recipe with the 60 % prior and the familiarity check
fitted on the two training corpora) on the layer-1 features.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from analyzer.audio.ser import SpeechEmotionModel, save_model_folder
from analyzer.models import write_checksums
from train.data import SER_HELD_OUT
from train.heads import HeadOptions, fit_model_arrays, fit_neutral_bias
from train.ser_ood import FOLDS, fit_unfamiliar

from . import CACHE, exp
from .exp import CORPUS, GENDER, LABEL, SPEAKER, gather

exp.FEATURE_PREFIX = "l1_"  # every gather below (and in v3/v4) reads the layer-1 features

V2 = Path(__file__).resolve().parents[3] / "models" / "ser-whisper-tiny-head-v2" / "model.json"


def v2_options() -> HeadOptions:
    opts = dict(json.loads(V2.read_text())["head_options"])
    opts["gender_boosts"] = tuple(opts["gender_boosts"])
    return HeadOptions(**opts)


def fit_heads(
    features: np.ndarray, rows: np.ndarray, channels: np.ndarray, options: HeadOptions
) -> tuple[dict, dict]:
    """The product's head arrays and config on gathered windows (``exp.gather``'s features, row
    and channel per window), each row's label, speaker, gender and corpus from the manifest."""
    return fit_model_arrays(
        features,
        LABEL[rows],
        SPEAKER[rows].astype(str),
        channels.astype(str),
        options=options,
        genders=GENDER[rows].astype(str),
        corpora=CORPUS[rows].astype(str),
    )


def build(
    name: str,
    channels: tuple[str, ...],
    options: HeadOptions | None = None,
    ood_channels: tuple[str, ...] = ("clean", "telephone"),
) -> Path:
    """Version 5's build; ``options`` (default: version 2's head options) lets version 6 change
    the relative head and nothing else; ``ood_channels``: the training channels the familiarity
    check is fitted on (version 5: clean and telephone; version 6 since session 24: every
    training channel, serrob's F1)."""
    from .v4 import LABELLED, LS_FIT_ROWS

    t0 = time.time()
    rows = LABELLED[~np.isin(SPEAKER[LABELLED], list(SER_HELD_OUT))]
    f, r, c, _ = gather(rows, channels)
    options = options if options is not None else v2_options()
    arrays, config = fit_heads(f, r, c, options)
    print(f"heads {time.time() - t0:.0f}s", flush=True)
    config["features"] = "whisper-layer1"
    config["trained_on"] = {
        "manifest": "manifest.csv",
        "clips": int(len(np.unique(r))),
        "windows": int(len(r)),
        "speakers": int(len(np.unique(SPEAKER[r]))),
        "corpora": sorted(set(CORPUS[r].tolist())),
        "held_out_speakers": sorted(SER_HELD_OUT),
        "channels": list(channels),
        "windows_per_channel": {ch: int(np.sum(c == ch)) for ch in channels},
        "noise_manifest": "read_speech.csv",
    }
    out = CACHE / "models" / name
    save_model_folder(out, arrays, config)
    model = SpeechEmotionModel.from_folder(out, json.loads((out / "model.json").read_text()))
    # neutral prior: LibriSpeech training half, clean and telephone (version 4's)
    prior_channels = ("clean", "telephone")
    ref, rr, _, _ = gather(LS_FIT_ROWS, prior_channels)
    bias = fit_neutral_bias(model, ref, 0.6)
    model.neutral_bias = bias
    config["neutral_bias"] = round(bias, 4)
    config["neutral_reference"] = {
        "manifest": "read_speech.csv",
        "speakers": int(len(np.unique(SPEAKER[rr]))),
        "windows": int(len(ref)),
        "target": 0.6,
        "channels": list(prior_channels),
    }
    # familiarity check on the training windows of ``ood_channels``
    fo, ro, _, _ = gather(rows, ood_channels)
    ood, above = fit_unfamiliar(
        model, fo, SPEAKER[ro].tolist(), CORPUS[ro].tolist(), dims=64, residual_weight=1.0
    )
    arrays.update(ood)
    config["unfamiliar_above"] = round(above, 4)
    config["unfamiliar_residual_weight"] = 1.0
    config["familiarity"] = {
        "manifest": "manifest.csv",
        "windows": int(len(fo)),
        "speakers": int(len(np.unique(SPEAKER[ro]))),
        "channels": list(ood_channels),
        "held_out_speakers": sorted(SER_HELD_OUT),
        "dims": 64,
        "quantile": 0.95,
        "folds": FOLDS,
    }
    save_model_folder(out, arrays, config)
    write_checksums(out)
    print(f"built {out} bias {bias:.4f} above {above:.4f} in {time.time() - t0:.0f}s", flush=True)
    return out


def refit_familiarity(source: Path, name: str, channels: tuple[str, ...]) -> Path:
    """``source``'s folder with its familiarity check refitted on the training windows of
    ``channels`` (same directions, weight and quantile), written to ``$SER_CACHE/models/NAME``;
    prints the share of LibriSpeech training-half windows flagged before and after (the
    familiarity screen's dev criterion)."""
    from .v4 import LABELLED, LS_FIT_ROWS

    config = json.loads((source / "model.json").read_text())
    model = SpeechEmotionModel.from_folder(source, config)
    rows = LABELLED[~np.isin(SPEAKER[LABELLED], list(SER_HELD_OUT))]
    f, r, _, _ = gather(rows, channels)
    ood, above = fit_unfamiliar(
        model, f, SPEAKER[r].tolist(), CORPUS[r].tolist(), dims=64, residual_weight=1.0
    )
    with np.load(source / "head.npz") as data:
        arrays = {k: data[k] for k in data.files if not k.startswith("ood_")}
    arrays.update(ood)
    fixed = ("kind", "loader", "labels", "weights", "encoder", "feature_version", "sample_rate_hz")
    config = {k: v for k, v in config.items() if k not in fixed}
    config["unfamiliar_above"] = round(above, 4)
    config["familiarity"] = {**config["familiarity"], "channels": list(channels),
                             "windows": int(len(f))}  # fmt: skip
    out = CACHE / "models" / name
    save_model_folder(out, arrays, config)
    write_checksums(out)
    dev, _, _, _ = gather(LS_FIT_ROWS, ["clean"])
    again = SpeechEmotionModel.from_folder(out, json.loads((out / "model.json").read_text()))
    print(f"above {above:.4f}; dev read flagged {np.mean(model.unfamiliar(dev)):.3f} -> "
          f"{np.mean(again.unfamiliar(dev)):.3f}", flush=True)  # fmt: skip
    return out


def main() -> None:
    import torch

    torch.set_num_threads(1)
    what = sys.argv[1]
    if what == "build":
        channels = tuple(sys.argv[3].split(",")) if len(sys.argv) > 3 else ("clean", "telephone")
        build(sys.argv[2], channels)
        return
    if what == "loco":
        from .v4 import loco

        channels = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("clean", "telephone")
        # the familiarity check is fitted on the clean and telephone windows (as in ``build``)
        # unless a third argument names its channels
        ood = tuple(ch for ch in channels if ch in ("clean", "telephone"))
        if len(sys.argv) > 3:
            ood = tuple(sys.argv[3].split(","))
        res = loco(64, 1.0, ood, {"target": 0.6, "channels": channels})
        name = f"v5_loco_{'+'.join(channels)}" + (
            f"_ood_{'+'.join(ood)}" if len(sys.argv) > 3 else ""
        )
        (CACHE / "results" / f"{name}.json").write_text(json.dumps(res, indent=1))
        return
    if what == "familiarity":  # familiarity SOURCE_FOLDER NAME CHANNELS
        refit_familiarity(Path(sys.argv[2]), sys.argv[3], tuple(sys.argv[4].split(",")))
        return
    raise SystemExit(f"unknown: {what}")


if __name__ == "__main__":
    main()
