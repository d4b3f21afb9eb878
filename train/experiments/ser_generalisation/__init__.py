"""Issue 15: leave-one-corpus-out research for the speech emotion model (not product code).

Scripts that extract encoder features of every clip under every audio condition once into a
cache (``extract``), screen recipe choices by leave-one-corpus-out figures (``screen``, ``exp``),
re-implement the Whisper encoder in torch to read every layer (``layers``) and copy the cached
features into ``train.ser``'s cache (``to_train_cache``). The cache folder is ``$SER_CACHE``
(default /work/cache-ser); it holds features, never committed. The model card of
``ser-whisper-tiny-head`` reports what they found.
"""

import os
from pathlib import Path

CACHE = Path(os.environ.get("SER_CACHE", "/work/cache-ser"))
