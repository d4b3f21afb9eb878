"""What a call-centre expert hears in words: language, valence, complaint and empathy phrases.

``text_evidence`` is a pure function of a string (typed, pasted, or from the transcriber):
language, valence, complaint/escalation phrases, agent empathy phrases, and a small arousal hint
from punctuation and emphasis. ``repeated_complaints`` finds a speaker complaining again and
again within a few minutes. ``words_evidence`` turns one turn's words into fusion evidence.

Lexicon matching is deliberately transparent: each match carries its character span, so the app
can highlight exactly what was heard, and a supervisor can see why a turn was flagged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..evidence import Evidence
from ..segment import Segment
from .lexicons import Lexicon, builtin_lexicon

LANGUAGE_EN, LANGUAGE_ZH = "en", "zh"
COMPLAINT_VALENCE = -0.6  # a turn with a complaint phrase is at most this positive

# Arousal hint: emphasis that survives in text. Small weights, summed and clipped to [0, 1]; they
# say "raised", not how much, and Whisper rarely writes capitals or "!", so ASR text mostly gives 0.
EXCLAMATION_WEIGHT = 0.2  # per "!" (or "！", "?!"), at most MAX_EXCLAMATIONS counted
MAX_EXCLAMATIONS = 3
CAPS_WEIGHT = 0.2  # per shouted word (all capitals, 3+ letters; "I", "OK", "TV" do not count)
MAX_CAPS_WORDS = 3
REPEAT_WEIGHT = 0.2  # per immediate repetition of a word or short Chinese phrase ("no no no")
MAX_REPEATS = 2

# snownlp was trained on product reviews and scatters plain service talk widely (a greeting such
# as "你好，请问有什么可以帮您？" scores 2p - 1 = -0.74, an account number +0.46) while clear
# sentiment lands near the ends (-0.97 for "太失望了，浪费时间"). So |2p - 1| below this dead zone
# maps to 0 and the rest is stretched back to [-1, 1]; picked by eye on a handful of such
# sentences, not tuned on data.
ZH_VALENCE_DEAD_ZONE = 0.5

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
_REPEAT_EN = re.compile(r"\b(\w+)(?:[\s,.!]+\1\b)+", re.IGNORECASE)
_REPEAT_ZH = re.compile(r"([\u4e00-\u9fff]{1,3})[，,、！!。\s]*\1")
_EXCLAIM = re.compile(r"[!！]")


def detect_language(text: str) -> str:
    """ "zh" when Chinese characters are at least as many as Latin words, else "en"."""
    han = len(_HAN.findall(text))
    return LANGUAGE_ZH if han and han >= len(_LATIN_WORD.findall(text)) else LANGUAGE_EN


@lru_cache(maxsize=1)
def _vader() -> Any:  # vaderSentiment ships no type hints
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def text_valence(text: str, language: str) -> float:
    """Valence in [-1, 1]: VADER compound (English) or snownlp's positive probability p as
    2p - 1 with a dead zone around 0 (Chinese, see ``ZH_VALENCE_DEAD_ZONE``). 0 for text with no
    words. Coarse for Chinese: the phrase lexicons are the more reliable evidence there."""
    if not text.strip() or not (_HAN.search(text) or _LATIN_WORD.search(text)):
        return 0.0
    if language == LANGUAGE_ZH:
        from snownlp import SnowNLP

        raw = 2.0 * SnowNLP(text).sentiments - 1.0
        shrunk = max(0.0, abs(raw) - ZH_VALENCE_DEAD_ZONE) / (1.0 - ZH_VALENCE_DEAD_ZONE)
        return float(np.clip(math.copysign(shrunk, raw), -1.0, 1.0)) if shrunk > 0 else 0.0
    return float(_vader().polarity_scores(text)["compound"])


def arousal_hint(text: str) -> float:
    """Raised-voice cues left in text, in [0, 1]: "!" marks, shouted (all-caps) words, and words
    said twice in a row. See the weights above; 0 for calm, plainly written text."""
    exclaims = min(len(_EXCLAIM.findall(text)), MAX_EXCLAMATIONS)
    caps = min(sum(1 for w in _CAPS_WORD.findall(text) if w not in {"OK", "TV"}), MAX_CAPS_WORDS)
    repeats = min(len(_REPEAT_EN.findall(text)) + len(_REPEAT_ZH.findall(text)), MAX_REPEATS)
    score = EXCLAMATION_WEIGHT * exclaims + CAPS_WEIGHT * caps + REPEAT_WEIGHT * repeats
    return float(min(1.0, score))


def text_evidence(
    text: str, *, language: str | None = None, lexicon: Lexicon | None = None
) -> dict[str, Any]:
    """What the words of one turn say.

    text: any string (an ASR transcript, an imported line, or typed notes). language: "en" or
    "zh"; detected from the characters when None. lexicon: the phrase lexicons to match (a
    team's own, see ``lexicons.load_lexicon``); the built-in ones when None. Returns a dict:

    * ``language``: "en" or "zh" (decides the valence model only; both languages' phrases are
      always matched, so code-switched turns are covered)
    * ``valence``: float in [-1, 1], negative = displeased
    * ``complaints``: list of {"phrase": lexicon entry, "text": matched text, "span": (start, end)}
      with character offsets into ``text``, in text order
    * ``empathy``: the same for agent empathy/politeness phrases
    * ``arousal_hint``: float in [0, 1] from "!", capitals and repetitions
    """
    language = language or detect_language(text)
    matches = (lexicon or builtin_lexicon()).match(text, kinds=("complaint", "empathy"))
    found = {
        kind: [
            {"phrase": m.phrase, "text": m.text, "span": (m.start, m.end)}
            for m in matches
            if m.kind == kind
        ]
        for kind in ("complaint", "empathy")
    }
    return {
        "language": language,
        "valence": text_valence(text, language),
        "complaints": found["complaint"],
        "empathy": found["empathy"],
        "arousal_hint": arousal_hint(text),
    }


def repeated_complaints(
    turn_evidence: Sequence[tuple[str, Segment, dict[str, Any]]],
    *,
    window_s: float = 300.0,
    min_count: int = 2,
) -> list[tuple[str, Segment, list[str]]]:
    """Stretches where one speaker complains again and again.

    turn_evidence: (speaker, turn segment, ``text_evidence`` dict[str, Any]) per turn, any order. A
    speaker's turns with at least one complaint are chained while each starts within ``window_s``
    seconds of the previous one; a chain of at least ``min_count`` such turns (several complaints
    in one turn count once) is reported as (speaker, Segment from the first turn's start to the
    last turn's end, the complaint phrases in order), sorted by start time.
    """
    by_speaker: dict[str, list[tuple[Segment, list[str]]]] = {}
    for speaker, segment, evidence in turn_evidence:
        phrases = [m["phrase"] for m in evidence.get("complaints", [])]
        if phrases:
            by_speaker.setdefault(speaker, []).append((segment, phrases))
    stretches = []
    for speaker, turns in by_speaker.items():
        turns.sort(key=lambda t: t[0])
        chain = [turns[0]]
        for turn in turns[1:] + [None]:
            if turn is not None and turn[0].start - chain[-1][0].start <= window_s:
                chain.append(turn)
                continue
            if len(chain) >= min_count:
                span = Segment(chain[0][0].start, max(seg.end for seg, _ in chain))
                stretches.append((speaker, span, [p for _, phrases in chain for p in phrases]))
            if turn is not None:
                chain = [turn]
    return sorted(stretches, key=lambda s: (s[1], s[0]))


def words_evidence(words: dict[str, Any], *, coverage: float) -> Evidence:
    """Fusion evidence of one turn's words (a ``text_evidence`` dict with ``text`` and
    ``asr_confidence`` added): valence only, capped at COMPLAINT_VALENCE when a complaint phrase
    was heard; confidence is the transcript's, lowered when the speaker covers little of the
    segment (``coverage`` in [0, 1])."""
    valence = words["valence"]
    if words["complaints"]:
        valence = min(valence, COMPLAINT_VALENCE)
    conf = float(words["asr_confidence"]) * min(1.0, coverage * 1.5)
    details = {k: words[k] for k in ("text", "language", "complaints", "empathy")}
    return Evidence("text", conf, None, None, valence, details)
