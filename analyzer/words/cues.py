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
from functools import cache, lru_cache
from typing import Any

import numpy as np

from ..evidence import Evidence
from ..segment import Segment
from .lexicons import (
    COMPLAINT_PHRASES_EN,
    COMPLAINT_PHRASES_ZH,
    EMPATHY_PHRASES_EN,
    EMPATHY_PHRASES_ZH,
)

LANGUAGE_EN, LANGUAGE_ZH = "en", "zh"
COMPLAINT_VALENCE = -0.6  # a turn with a complaint phrase is at most this positive

# A negation just before an English phrase turns it around ("I'm not sorry", "not ridiculous").
# Only plain "not/never/no": "can't cancel my account" is still about cancelling.
NEGATION_BEFORE = re.compile(r"\b(?:not|never|no)\s+$", re.IGNORECASE)

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

# A contraction in a lexicon phrase also matches its long form: suffix -> (regex of the
# apostrophe form or the long form), keyed on the apostrophe suffix.
_SPECIAL_CONTRACTIONS = {"can't": r"(?:can['’]t|can\s*not)", "won't": r"(?:won['’]t|will\s+not)"}
_SUFFIXES = {
    "n't": r"(?:n['’]t|\s+not)",
    "'m": r"(?:['’]m|\s+am)",
    "'re": r"(?:['’]re|\s+are)",
    "'ve": r"(?:['’]ve|\s+have)",
    "'ll": r"(?:['’]ll|\s+will)",
    "'d": r"(?:['’]d|\s+would)",
    "'s": r"(?:['’]s|\s+is)",
}


def _word_pattern(word: str) -> str:
    if word in _SPECIAL_CONTRACTIONS:
        return _SPECIAL_CONTRACTIONS[word]
    if word.endswith("*"):
        return re.escape(word[:-1]) + r"\w*"
    for suffix, pattern in _SUFFIXES.items():
        if word.endswith(suffix) and len(word) > len(suffix):
            return re.escape(word[: -len(suffix)]) + pattern
    return re.escape(word)


@cache
def _english_pattern(phrase: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive regex for a lexicon phrase; words may be split by any
    run of spaces, commas or hyphens ("sorry, so sorry" style speech, ASR punctuation)."""
    body = r"[\s,\-]+".join(_word_pattern(w) for w in phrase.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def _find(text: str, phrases: Sequence[str], *, english: bool) -> list[dict]:
    """Non-overlapping lexicon matches, longest first, in text order."""
    found = []
    for phrase in phrases:
        if english:
            spans = [m.span() for m in _english_pattern(phrase).finditer(text)]
            spans = [s for s in spans if not NEGATION_BEFORE.search(text[max(0, s[0] - 8) : s[0]])]
        else:
            spans = [(m.start(), m.end()) for m in re.finditer(re.escape(phrase), text)]
        found += [(phrase, start, end) for start, end in spans]
    found.sort(key=lambda f: (-(f[2] - f[1]), f[1]))
    kept: list[tuple[str, int, int]] = []
    for phrase, start, end in found:
        if all(end <= s or start >= e for _, s, e in kept):
            kept.append((phrase, start, end))
    kept.sort(key=lambda f: f[1])
    return [{"phrase": p, "text": text[s:e], "span": (s, e)} for p, s, e in kept]


def detect_language(text: str) -> str:
    """ "zh" when Chinese characters are at least as many as Latin words, else "en"."""
    han = len(_HAN.findall(text))
    return LANGUAGE_ZH if han and han >= len(_LATIN_WORD.findall(text)) else LANGUAGE_EN


@lru_cache(maxsize=1)
def _vader():
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


def text_evidence(text: str, *, language: str | None = None) -> dict:
    """What the words of one turn say.

    text: any string (an ASR transcript, or typed notes). language: "en" or "zh"; detected from
    the characters when None. Returns a dict:

    * ``language``: "en" or "zh" (decides the valence model only; both lexicons are always
      matched, so code-switched turns are covered)
    * ``valence``: float in [-1, 1], negative = displeased
    * ``complaints``: list of {"phrase": lexicon entry, "text": matched text, "span": (start, end)}
      with character offsets into ``text``, in text order
    * ``empathy``: the same for agent empathy/politeness phrases
    * ``arousal_hint``: float in [0, 1] from "!", capitals and repetitions
    """
    language = language or detect_language(text)
    english_complaints = _find(text, COMPLAINT_PHRASES_EN, english=True)
    chinese_complaints = _find(text, COMPLAINT_PHRASES_ZH, english=False)
    english_empathy = _find(text, EMPATHY_PHRASES_EN, english=True)
    chinese_empathy = _find(text, EMPATHY_PHRASES_ZH, english=False)
    by_start = lambda items: sorted(items, key=lambda m: m["span"][0])
    return {
        "language": language,
        "valence": text_valence(text, language),
        "complaints": by_start(english_complaints + chinese_complaints),
        "empathy": by_start(english_empathy + chinese_empathy),
        "arousal_hint": arousal_hint(text),
    }


def repeated_complaints(
    turn_evidence: Sequence[tuple[str, Segment, dict]],
    *,
    window_s: float = 300.0,
    min_count: int = 2,
) -> list[tuple[str, Segment, list[str]]]:
    """Stretches where one speaker complains again and again.

    turn_evidence: (speaker, turn segment, ``text_evidence`` dict) per turn, any order. A
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
