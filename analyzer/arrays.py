"""Array type aliases for the engine's signatures (numpy's ``NDArray`` with the element kind).

``FloatArray`` accepts float32 (audio samples, model inputs) and float64 (features, scores)
alike, since the stages hand both along; the shape and unit go in each docstring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating[Any]]  # samples, features, probabilities, times in seconds
IntArray = NDArray[np.integer[Any]]  # labels, indices, counts
BoolArray = NDArray[np.bool_]  # masks (speech/no speech, face present)
ImageArray = NDArray[np.uint8]  # video frames and face crops, H x W x 3 RGB
