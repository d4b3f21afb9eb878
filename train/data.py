"""Where the research data lies and how its speakers are split.

The shared data (RAVDESS and TESS speech clips with ``speech/manifest.csv``, FER+ faces) is not
part of the repository: it lies in ``shared/data`` beside the checkout (``../shared/data`` from the
repository root). The paths are derived from this package's location, so every checkout next to
that folder finds it; the scripts take ``--manifest`` (or ``--npz``) to point elsewhere.

Speaker splits shared by the recipes, the experiments and the benchmarks (held-out speakers are
never trained on; see the measurement rules in the model cards):
``VAL_ACTORS`` (RAVDESS 13-16) choose hyper-parameters, ``TEST_ACTORS`` (17-20) are reported, and
``ACTOR_FOLDS`` cut the 20 actors into 5 folds of 4 consecutive actors for cross-validation.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SPEECH_MANIFEST = SHARED_DATA / "speech" / "manifest.csv"  # columns path,label,speaker,gender,...
# non-emotional read speech (LibriSpeech, AISHELL-1), unlabelled: babble for the "degraded"
# training channel is made from one half of its speakers, the other half is for evaluation
READ_SPEECH_MANIFEST = SHARED_DATA / "speech" / "read_speech.csv"

N_ACTORS = 20  # RAVDESS actors, named ravdess_01 ... ravdess_20 in the manifest
RAVDESS_ACTORS = tuple(f"ravdess_{a:02d}" for a in range(1, N_ACTORS + 1))
VAL_ACTORS = frozenset(RAVDESS_ACTORS[12:16])  # actors 13-16
TEST_ACTORS = frozenset(RAVDESS_ACTORS[16:20])  # actors 17-20
FOLD_SIZE = 4  # actors per cross-validation fold
ACTOR_FOLDS = tuple(RAVDESS_ACTORS[k : k + FOLD_SIZE] for k in range(0, N_ACTORS, FOLD_SIZE))
# held out of the shipped speech model so that synthetic-call benchmarks never score a voice it
# was trained on (the measurement rules of CONTRACTS.md)
SER_HELD_OUT = (*sorted(TEST_ACTORS), "emodb_11")
