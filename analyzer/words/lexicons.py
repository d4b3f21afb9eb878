"""Editable phrase lexicons (complaint, empathy, greeting; English and Chinese) and their matcher.

This module is the lexicons' one home: the words cues (``cues.text_evidence``) match through it,
and the tuples ``COMPLAINT_PHRASES_EN`` etc. (kept for code that imported them from
``analyzer.text``) are read from the built-in files.

The lexicons are TOML files, one per kind, in ``analyzer/words/lexicons/`` (``BUILTIN_DIR``); each
file documents the matching rules in its header. A team keeps its own phrases in a folder of its
own and passes it as ``folder``: a file there replaces the built-in file of the same name, or adds
to it when it says ``extends = true``; a file with a new name adds a new kind.

File layout::

    kind = "complaint"        # optional; the file name is the kind otherwise
    version = 1               # optional, for the team's own bookkeeping
    extends = false           # team files only: add to the built-in phrases instead of replacing
    [en]
    phrases = ["unacceptable", "wast* my time"]
    [zh]
    phrases = ["太失望了"]

Matches carry their character span so the review can highlight exactly what was heard.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

BUILTIN_DIR = Path(__file__).with_name("lexicons")
LANGUAGES = ("en", "zh")

# A negation just before an English phrase turns it around ("I'm not sorry", "not ridiculous").
# Only plain "not/never/no": "can't cancel my account" is still about cancelling.
NEGATION_BEFORE = re.compile(r"\b(?:not|never|no)\s+$", re.IGNORECASE)
# The same in Chinese, right before the phrase: "不失望", "没有投诉", "并不过分", "不会差评".
# An entry that itself starts with a negation ("不能接受") is not affected: only what stands
# before the match counts.
NEGATION_BEFORE_ZH = re.compile(r"(?:不|没|没有|并不|并没有|从不|从没|从来没有|不会|不用|无需|别)$")
_WORD_GAP = r"[\s,\-]+"  # what may stand between two words of an English phrase
_ZH_PUNCT = "，,、。.！!？?；;：: \t"

# A contraction in a phrase also matches its long form.
_WHOLE_CONTRACTIONS = {"can't": r"(?:can['’]t|can\s*not)", "won't": r"(?:won['’]t|will\s+not)"}
_SUFFIX_CONTRACTIONS = {
    "n't": r"(?:n['’]t|\s+not)",
    "'m": r"(?:['’]m|\s+am)",
    "'re": r"(?:['’]re|\s+are)",
    "'ve": r"(?:['’]ve|\s+have)",
    "'ll": r"(?:['’]ll|\s+will)",
    "'d": r"(?:['’]d|\s+would)",
    "'s": r"(?:['’]s|\s+is)",
}


class LexiconError(ValueError):
    """A lexicon file that cannot be read; the message names the file and the reason."""


@dataclass(frozen=True)
class PhraseMatch:
    """One lexicon phrase found in a text: characters [start, end) of it."""

    kind: str  # the lexicon: "complaint", "empathy", "greeting", or a team's own
    language: str  # the phrase list it came from: "en" or "zh"
    phrase: str  # the lexicon entry
    start: int
    end: int
    text: str  # what the text says there


def _english_word(word: str) -> str:
    word = word.replace("’", "'")
    if word in _WHOLE_CONTRACTIONS:
        return _WHOLE_CONTRACTIONS[word]
    if word.endswith("*"):
        return re.escape(word[:-1]) + r"\w*"
    for suffix, pattern in _SUFFIX_CONTRACTIONS.items():
        if word.endswith(suffix) and len(word) > len(suffix):
            return re.escape(word[: -len(suffix)]) + pattern
    return re.escape(word)


def english_pattern(phrase: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive regex of an English lexicon phrase (see the module rules)."""
    words = re.findall(r"[\w'’*]+", phrase.lower())
    if not words:
        raise ValueError(f"phrase {phrase!r} has no words")
    body = _WORD_GAP.join(_english_word(w) for w in words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def chinese_pattern(phrase: str) -> re.Pattern[str]:
    """Substring regex of a Chinese lexicon phrase; its punctuation is optional in the text."""
    parts = [p for p in re.split(f"[{re.escape(_ZH_PUNCT)}]+", phrase) if p]
    if not parts:
        raise ValueError(f"phrase {phrase!r} has no characters")
    gap = f"[{re.escape(_ZH_PUNCT)}]*"
    return re.compile(gap.join(re.escape(p) for p in parts), re.IGNORECASE)


@dataclass(frozen=True)
class Lexicon:
    """Phrase lists by kind and language: ``phrases[kind][language]`` is a tuple of entries.

    ``sources`` lists the files read, built-in first. Build one with ``load_lexicon``.
    """

    phrases: Mapping[str, Mapping[str, tuple[str, ...]]]
    sources: tuple[Path, ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self.phrases))

    def entries(self, kind: str, language: str) -> tuple[str, ...]:
        return tuple(self.phrases.get(kind, {}).get(language, ()))

    @cached_property
    def _patterns(self) -> list[tuple[str, str, str, re.Pattern[str]]]:
        out = []
        for kind, by_language in self.phrases.items():
            for language, entries in by_language.items():
                make = english_pattern if language == "en" else chinese_pattern
                out += [(kind, language, phrase, make(phrase)) for phrase in entries]
        return out

    def match(self, text: str, *, kinds: Iterable[str] | None = None) -> list[PhraseMatch]:
        """Lexicon phrases in ``text``, in text order.

        Both languages' lists are matched whatever the text's language (code-switched turns are
        common). Within one kind, overlapping matches keep the longest (then the earliest);
        different kinds may overlap ("sorry to hear" is empathy even inside a complaint).
        kinds: only these lexicons (all when None).
        """
        wanted = set(self.phrases) if kinds is None else set(kinds)
        found: dict[str, list[PhraseMatch]] = {}
        for kind, language, phrase, pattern in self._patterns:
            if kind not in wanted:
                continue
            for m in pattern.finditer(text):
                before = text[max(0, m.start() - 8) : m.start()]
                if language == "en" and NEGATION_BEFORE.search(before):
                    continue
                if language == "zh" and NEGATION_BEFORE_ZH.search(before):
                    continue
                found.setdefault(kind, []).append(
                    PhraseMatch(kind, language, phrase, m.start(), m.end(), m.group(0))
                )
        kept: list[PhraseMatch] = []
        for matches in found.values():
            matches.sort(key=lambda p: (-(p.end - p.start), p.start))
            chosen: list[PhraseMatch] = []
            for candidate in matches:
                if all(candidate.end <= c.start or candidate.start >= c.end for c in chosen):
                    chosen.append(candidate)
            kept += chosen
        return sorted(kept, key=lambda p: (p.start, p.kind))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read ({exc.strerror})") from None
    lists: dict[str, tuple[str, ...]] = {}
    for language in LANGUAGES:
        table = data.get(language, {})
        entries = table.get("phrases", []) if isinstance(table, dict) else None
        if not isinstance(entries, list) or not all(isinstance(p, str) for p in entries):
            raise LexiconError(f"{path}: [{language}] phrases must be a list of strings")
        cleaned = tuple(p.strip().lower() if language == "en" else p.strip() for p in entries)
        if any(not p for p in cleaned):
            raise LexiconError(f"{path}: [{language}] has an empty phrase")
        for phrase in cleaned:  # the same test the pattern builders make, without compiling
            if not re.search(
                r"[\w'’*]" if language == "en" else f"[^{re.escape(_ZH_PUNCT)}]", phrase
            ):
                what = "words" if language == "en" else "characters"
                raise LexiconError(f"{path}: phrase {phrase!r} has no {what}")
        lists[language] = cleaned
    kind = data.get("kind", path.stem)
    if not isinstance(kind, str) or not kind:
        raise LexiconError(f"{path}: kind must be a non-empty string")
    return {"kind": kind, "extends": bool(data.get("extends", False)), "lists": lists}


def load_lexicon(folder: str | Path | None = None) -> Lexicon:
    """The built-in lexicons, with a team's own folder of TOML files applied on top.

    folder: a directory of ``*.toml`` lexicon files (see the module docstring), or None for the
    built-in ones only. Raises ``LexiconError`` naming the file for a missing folder or a
    malformed file.
    """
    phrases: dict[str, dict[str, tuple[str, ...]]] = {}
    sources: list[Path] = []
    for path in sorted(BUILTIN_DIR.glob("*.toml")):
        parsed = _read(path)
        phrases[parsed["kind"]] = dict(parsed["lists"])
        sources.append(path)
    if folder is not None:
        folder = Path(folder)
        if not folder.is_dir():
            raise LexiconError(f"{folder}: lexicon folder not found")
        for path in sorted(folder.glob("*.toml")):
            parsed = _read(path)
            kind = parsed["kind"]
            if parsed["extends"] and kind in phrases:
                merged = {}
                for language in LANGUAGES:
                    old = phrases[kind].get(language, ())
                    merged[language] = old + tuple(
                        p for p in parsed["lists"][language] if p not in old
                    )
                phrases[kind] = merged
            else:
                phrases[kind] = dict(parsed["lists"])
            sources.append(path)
    return Lexicon(phrases=phrases, sources=tuple(sources))


@lru_cache(maxsize=8)
def builtin_lexicon(folder: str | None = None) -> Lexicon:
    """``load_lexicon(folder)``, read once per folder (the built-in lexicons when None)."""
    return load_lexicon(folder)


# The built-in phrase lists as tuples, for code that imported them from ``analyzer.text``.
COMPLAINT_PHRASES_EN: tuple[str, ...] = builtin_lexicon().entries("complaint", "en")
COMPLAINT_PHRASES_ZH: tuple[str, ...] = builtin_lexicon().entries("complaint", "zh")
EMPATHY_PHRASES_EN: tuple[str, ...] = builtin_lexicon().entries("empathy", "en")
EMPATHY_PHRASES_ZH: tuple[str, ...] = builtin_lexicon().entries("empathy", "zh")
