"""Agent coaching: roles, turn-taking facts, emotion dynamics and the scorecard.

Everything here works on the engine's outputs (turns, fused readings, optional transcript); it
reads no audio and knows nothing of the review app.
"""

from .dynamics import Arc, Outcome, Reading, Shift, detect_shifts, outcome, readings_of, speaker_arc
from .roles import RoleGuess, guess_roles
from .scorecard import METRICS, Metric, Scorecard, load_definition, score_call
from .turntaking import Interruption, SpeakerTurnTaking, TurnTaking, measure_turn_taking

__all__ = [
    "METRICS",
    "Arc",
    "Interruption",
    "Metric",
    "Outcome",
    "Reading",
    "RoleGuess",
    "Scorecard",
    "Shift",
    "SpeakerTurnTaking",
    "TurnTaking",
    "detect_shifts",
    "guess_roles",
    "load_definition",
    "measure_turn_taking",
    "outcome",
    "readings_of",
    "score_call",
    "speaker_arc",
]
