"""Questions left unanswered: what a reviewer listens for when a caller asks and nobody replies.

A line is a question when it says so in writing ("?", "？"), or, for transcripts without
punctuation, when an English sentence opens with a question word or an inverted auxiliary
("when will...", "can you...") or a Chinese sentence ends with a question particle (吗, 呢) or
holds a question word (为什么, 怎么, 什么时候...).

A question is left unanswered when, after it, the asker has to speak again into silence (more
than ``reply_s`` seconds with nobody else speaking) or the call ends with no reply; and it counts
as asked again when the same speaker asks much the same question (token overlap) later on,
whatever was said in between: the first answer did not satisfy. Both are facts a reviewer can
check by listening; whether a reply *answered* the question needs understanding that no lexicon
gives, so it is not claimed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..segment import Segment
from .cues import LANGUAGE_ZH, detect_language

REPLY_S = 4.0  # s of silence after a question (nobody else speaking) that leaves it unanswered
REPEAT_WINDOW_S = 180.0  # s: a similar question by the same speaker within this is "asked again"
REPEAT_SIMILARITY = 0.5  # token (English) or character-pair (Chinese) overlap of a repeat

_EN_OPENERS = (
    "what", "why", "how", "when", "where", "who", "whom", "whose", "which", "can", "could",
    "would", "will", "shall", "should", "do", "does", "did", "is", "are", "am", "was", "were",
    "have", "has", "had", "may", "might", "isn't", "aren't", "don't", "doesn't", "didn't",
    "won't", "can't", "couldn't", "wouldn't",
)  # fmt: skip
_ZH_WORDS = (
    "为什么", "怎么", "什么时候", "什么", "多少", "哪里", "哪儿", "哪个", "几点", "是不是",
    "能不能", "会不会", "有没有",
)  # fmt: skip
_SENTENCE = re.compile(r"[^.!?。！？]+[.!?。！？]*")
_EN_TOKEN = re.compile(r"[a-z0-9']+")
_PLACEHOLDER = re.compile(r"\[[A-Z]+\]")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def question_sentences(text: str, language: str | None = None) -> list[str]:
    """The sentences of ``text`` that are questions (in order; empty when none is)."""
    language = language or detect_language(text)
    found = []
    for sentence in _sentences(text):
        if sentence.endswith(("?", "？")):
            found.append(sentence)
        elif language == LANGUAGE_ZH:
            core = sentence.rstrip("。.!！ ")
            if core.endswith(("吗", "呢", "么")) or any(w in core for w in _ZH_WORDS):
                found.append(sentence)
        elif sentence[-1] not in ".!。！":  # unpunctuated English: a question by its first word
            words = _EN_TOKEN.findall(sentence.lower())
            if words and words[0] in _EN_OPENERS and len(words) >= 3:
                found.append(sentence)
    return found


def _tokens(text: str, language: str) -> set[str]:
    text = _PLACEHOLDER.sub(" ", text)
    if language == LANGUAGE_ZH:
        han = re.sub(r"[^\u4e00-\u9fff]", "", text)
        return {han[i : i + 2] for i in range(len(han) - 1)}
    stop = {"the", "a", "an", "to", "of", "my", "me", "i", "you", "your", "it", "is", "are", "do"}
    return {w for w in _EN_TOKEN.findall(text.lower()) if w not in stop}


def _similar(a: str, b: str, language: str) -> bool:
    ta, tb = _tokens(a, language), _tokens(b, language)
    if not ta or not tb:
        return False
    return len(ta & tb) / len(ta | tb) >= REPEAT_SIMILARITY


def _reply_after(question: Any, speech: Sequence[tuple[float, float, str]], reply_s: float) -> bool:
    """Whether someone else speaks before the asker of ``question`` has to go on into silence.
    speech: (start, end, speaker) of every line and turn of the call, in time order."""
    asker, t = question.speaker, question.end
    for start, end, speaker in speech:
        if end <= question.end or start < question.start:
            continue  # before the question, or the asker's own line
        if speaker != asker:
            return bool(start - t <= reply_s)
        if start - t > reply_s:
            return False  # the asker spoke again into the silence
        t = max(t, end)
    return False  # the call ended with no reply


def unanswered_questions(
    lines: Sequence[Any],
    turns: Sequence[tuple[str, Segment]] = (),
    *,
    reply_s: float = REPLY_S,
    repeat_window_s: float = REPEAT_WINDOW_S,
) -> list[tuple[str, Segment, str, str]]:
    """Questions left unanswered or asked again, as (speaker, span, question, reason).

    lines: transcript lines (``start``, ``end``, ``speaker``, ``text``, ``language``) with the
    analyzer's speaker ids; lines without a speaker are ignored. turns: the speaker turns the
    analysis heard, (speaker, segment): a reply counts even where the transcript has no words
    (one side transcribed, words missed). reason is ``"no_reply"`` (span:
    the question's line) or ``"asked_again"`` (span: from the first asking to the repeat; the
    question is the repeat's). A question asked again is reported once, as asked again.
    """
    ordered = sorted((ln for ln in lines if ln.speaker), key=lambda ln: (ln.start, ln.end))
    asked: list[tuple[int, str, str]] = []  # (line index, question, language)
    for i, line in enumerate(ordered):
        language = line.language or detect_language(line.text)
        for q in question_sentences(line.text, language):
            asked.append((i, q, language))
    found: list[tuple[str, Segment, str, str]] = []
    repeated: set[int] = set()
    for k, (i, question, language) in enumerate(asked):
        first = ordered[i]
        for j, later, _ in asked[k + 1 :]:
            again = ordered[j]
            if again.start - first.start > repeat_window_s:
                break
            if j != i and again.speaker == first.speaker and _similar(question, later, language):
                if i not in repeated:
                    span = Segment(first.start, max(first.end, again.end))
                    found.append((first.speaker, span, later, "asked_again"))
                repeated.add(i)
                repeated.add(j)
                break
    reported = set(repeated)
    speech = sorted(
        [(ln.start, ln.end, ln.speaker) for ln in ordered]
        + [(seg.start, seg.end, spk) for spk, seg in turns]
    )
    for i, question, _ in asked:
        if i in reported or _reply_after(ordered[i], speech, reply_s):
            continue
        reported.add(i)
        line = ordered[i]
        found.append((line.speaker, Segment(line.start, line.end), question, "no_reply"))
    return sorted(found, key=lambda f: (f[1].start, f[0]))
