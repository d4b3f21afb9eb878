"""Issue 15 research: the audio conditions of ``extract`` (now in ``train.augment``).

The features in the cache were rendered by this module's earlier copy of these functions, which
moved unchanged into ``train.augment`` (checked bit-identical on RAVDESS, TESS and EmoDB clips).
"""

from train.augment import (
    CODECS,
    babble,
    codec_roundtrip,
    coloured_noise,
    degrade,
    mix_at_snr,
    speed,
)
from train.augment import seeded_rng as seeded

__all__ = [
    "CODECS",
    "babble",
    "codec_roundtrip",
    "coloured_noise",
    "degrade",
    "mix_at_snr",
    "seeded",
    "speed",
]
