"""Detectors of personal data for ``redact``: checksums, digit runs, cues and patterns.

Each detector takes the original text and its normalised copy (lower case, ASCII digits, same
length, so offsets agree) and yields ``Span`` objects; ``redact.find_personal_data`` runs them all
and resolves overlaps. See ``redact`` for what each kind covers.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property

CUE_WINDOW = 40  # characters before a number in which a cue ("my number is") must end
DOB_WINDOW = 24  # characters after a birth cue in which the date must start
Match = re.Match[str]


class _Pattern:
    """A regular expression compiled on first use: importing the engine should not pay for the
    big Chinese alternations (a few hundred ms on a busy 2-core machine) before any redaction."""

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source, self.flags = source, flags

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.source, self.flags)

    def finditer(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[Match]:
        return self.compiled.finditer(text, pos, endpos)

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Match | None:
        return self.compiled.search(text, pos, endpos)

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Match | None:
        return self.compiled.match(text, pos, endpos)

    def fullmatch(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Match | None:
        return self.compiled.fullmatch(text, pos, endpos)


@dataclass(frozen=True, order=True)
class Span:
    """Personal data found in a text: characters [start, end) of ``kind`` (one of ``KINDS``)."""

    start: int
    end: int
    kind: str
    text: str


# ------------------------------------------------------------------------------ checksums


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of payment card numbers."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id_valid(value: str) -> bool:
    """A Chinese resident ID: 17 digits, a check character (ISO 7064 mod 11-2, "X" for 10), a
    region code not starting with 0 or 9, and a real birth date between 1900 and 2099."""
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
        return False
    if value[0] in "09" or value[6:8] not in ("19", "20"):
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    remainder = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS)) % 11
    return "10X98765432"[remainder] == value[17]


IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
    "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "TR": 26,
    "AE": 23, "BR": 29, "IL": 23, "QA": 29, "UA": 29,
}  # fmt: skip


def iban_valid(value: str) -> bool:
    """An IBAN (letters upper case, no spaces): known country length and the mod-97 check."""
    if len(value) != IBAN_LENGTHS.get(value[:2], -1) or not value[2:4].isdigit():
        return False
    if not value.isalnum() or not value.isascii():
        return False
    rearranged = value[4:] + value[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# ------------------------------------------------------------------------------ digit runs

_EN_DIGITS = {
    w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine".split())
}
_EN_DIGITS["oh"] = "0"
_ZH_DIGITS = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {
    "〇": "0",
    "幺": "1",
    "两": "2",
}
# full-width forms (Chinese input methods) to ASCII, one character for one: ０-９, Ａ-Ｚ, ａ-ｚ,
# ＠, ．, ＋, （）, －, and the ideographic space
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

_DIGIT_TOKEN = _Pattern(
    r"(?P<ascii>\d+)"
    r"|(?P<zh>[零〇一二三四五六七八九幺两])"
    r"|(?<![a-z])(?P<rep>double|triple)\s+(?P<repword>zero|oh|one|two|three|four|five|six|seven|eight|nine)(?![a-z])"
    r"|(?<![a-z])(?P<word>zero|oh|one|two|three|four|five|six|seven|eight|nine)(?![a-z])"
)
_RUN_GAP = _Pattern(r"[\s\-.,/()，、]{0,3}")  # what may stand between two digits of one number


@dataclass(frozen=True)
class DigitRun:
    """A maximal sequence of digit tokens: its characters, its digits, and the lengths of the
    groups of written digits ("415 555 0132" -> (3, 3, 4))."""

    start: int
    end: int
    digits: str
    groups: tuple[int, ...]
    written: bool  # only ASCII digits


def normalise(text: str) -> str:
    """Lower case and ASCII digits, keeping every character at its offset."""
    lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return lowered.translate(_FULLWIDTH)


def _token_digits(match: re.Match[str]) -> str:
    if match["ascii"]:
        return match["ascii"]
    if match["zh"]:
        return _ZH_DIGITS[match["zh"]]
    if match["rep"]:
        return _EN_DIGITS[match["repword"]] * (2 if match["rep"] == "double" else 3)
    return _EN_DIGITS[match["word"]]


def digit_runs(norm: str) -> list[DigitRun]:
    tokens = list(_DIGIT_TOKEN.finditer(norm))
    runs: list[DigitRun] = []
    i = 0
    while i < len(tokens):
        j = i
        while j + 1 < len(tokens):
            gap = norm[tokens[j].end() : tokens[j + 1].start()]
            words = bool(
                tokens[j]["word"]
                or tokens[j]["rep"]
                or tokens[j + 1]["word"]
                or tokens[j + 1]["rep"]
            )
            if words and gap == "":  # "oneself", "someone": spoken digits need a gap
                break
            if not _RUN_GAP.fullmatch(gap):
                break
            j += 1
        group = tokens[i : j + 1]
        start, end = group[0].start(), group[-1].end()
        # a leading "+" or "(" belongs to a phone number's written form
        while start > 0 and norm[start - 1] in "+(":
            start -= 1
        runs.append(
            DigitRun(
                start=start,
                end=end,
                digits="".join(_token_digits(t) for t in group),
                groups=tuple(len(t["ascii"]) for t in group if t["ascii"]),
                written=all(t["ascii"] for t in group),
            )
        )
        i = j + 1
    return runs


# ------------------------------------------------------------------------------ cues

_CUES = _Pattern(
    r"(?P<NEG>order\s*(?:number|no\.?|#)?|tracking(?:\s*number)?|reference(?:\s*number)?|\bref\b"
    r"|case\s*(?:number|no\.?)|ticket(?:\s*number)?|invoice(?:\s*number)?|serial(?:\s*number)?"
    r"|confirmation(?:\s*number)?|model(?:\s*number)?|extension|\bext\b|page|room|flight"
    r"|订单号?|单号|编号|工单|快递|物流|发票|型号|序列号|批次|房间)"
    r"|(?P<ID>身份证(?:号码|号)?|证件号(?:码)?|resident\s+id(?:\s+number)?|\bid\s+(?:number|no))"
    r"|(?P<ACCOUNT>(?:bank\s+)?account\s*(?:number|no\.?|#)?|\bacct\b|\biban\b|sort\s+code"
    r"|账号|帐号|账户|帐户|户号|收款账|卡号|银行卡|储蓄卡)"
    r"|(?P<CARD>card(?:\s*number)?|visa|mastercard|master\s+card|amex|american\s+express|credit"
    r"|debit|信用卡)"
    r"|(?P<PHONE>phone|mobile|cell|landline|telephone|number|call|reach|ring|text|dial|whatsapp"
    r"|contact|fax|电话|手机|号码|致电|回电|打|联系|微信)"
)


def _cue_before(norm: str, start: int, floor: int) -> str | None:
    """The kind of the nearest cue ending within ``CUE_WINDOW`` characters before ``start`` and
    after ``floor`` (the end of the previous number), or None."""
    window_start = max(floor, start - CUE_WINDOW)
    last = None
    for match in _CUES.finditer(norm, window_start, start):
        last = match
    return last.lastgroup if last is not None else None


# ------------------------------------------------------------------------------ detectors

_EMAIL = _Pattern(r"(?<![\w.+-])[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?![\w-])", re.ASCII)
_SPOKEN_DOT = r"(?:\s+(?:dot|period)\s+|\s*点\s*)"
_EMAIL_TLD = r"(?:com|net|org|edu|gov|io|co|cn|uk|de|fr|info|biz|me|hk|tw|jp|au)"
# a spoken or half-spoken address: "li.na at qq dot com", "j o h n at gmail dot com",
# "lina 艾特 163 点 com", "bob@gmail dot com"
_SPOKEN_EMAIL = _Pattern(
    r"(?<![a-z0-9._+\-'’])(?P<local>(?:[a-z0-9]\s+)*[a-z0-9]+"
    r"(?:(?:[._+\-]|\s+(?:dot|underscore|dash|hyphen)\s+|\s*(?:点|下划线)\s*)[a-z0-9]+)*)"
    r"(?P<at>\s+at(?:\s+sign)?\s+|\s*@\s*|\s*艾特\s*)"
    rf"[a-z0-9]+(?:(?:{_SPOKEN_DOT}|\.|-)[a-z0-9]+)*?(?:{_SPOKEN_DOT}|\.){_EMAIL_TLD}"
    rf"(?:(?:{_SPOKEN_DOT}|\.)(?:uk|cn|au|jp|hk))?(?![a-z])"
)
_IBAN = _Pattern(r"(?<![a-z0-9])[a-z]{2}\d{2}(?:[ -]?[a-z0-9]){10,30}")
# words said before "at" that are not the end of an address ("meet me at", "it's at")
_NOT_LOCAL = frozenset("i me we is look looked arrive be it us you them him her here there".split())


def find_emails(text: str, norm: str) -> Iterable[Span]:
    for m in _EMAIL.finditer(norm):
        yield Span(m.start(), m.end(), "EMAIL", text[m.start() : m.end()])
    for m in _SPOKEN_EMAIL.finditer(norm):
        at = m.group("at").strip()
        # some part must be said with "dot"/"点", which plain speech ("shopped at amazon.com")
        # never is (a written address is the pattern above's), unless "@" was said as 艾特
        if at != "艾特" and not re.search(_SPOKEN_DOT, m.group(0)):
            continue
        if at.startswith("at") and m.group("local").split()[-1] in _NOT_LOCAL:
            continue
        yield Span(m.start(), m.end(), "EMAIL", text[m.start() : m.end()])


def find_ibans(text: str, norm: str) -> Iterable[Span]:
    for m in _IBAN.finditer(norm):
        raw = m.group(0)
        compact = re.sub(r"[ -]", "", raw).upper()
        length = IBAN_LENGTHS.get(compact[:2])
        if length is None or len(compact) < length:
            continue
        # trim to the country's length: the match may run into following words
        kept = _prefix_with(raw, length)
        if iban_valid(compact[:length]):
            yield Span(m.start(), m.start() + kept, "ACCOUNT", text[m.start() : m.start() + kept])
    yield from _spelled_ibans(text, norm)


_NATO = {
    w: w[0]
    for w in """alpha alfa bravo charlie delta echo foxtrot golf hotel india juliet juliett kilo
    lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey whisky xray
    x-ray yankee zulu""".split()
}
_SPELL_TOKEN = _Pattern(r"[a-z0-9\-]+|[零〇一二三四五六七八九幺两]")


def _spelled_ibans(text: str, norm: str) -> Iterable[Span]:
    """IBANs read out a character at a time: "F R one four two zero ...", "G B 29 N W B K ...",
    "golf bravo two nine ...". Each token gives characters (a lone letter, a spelling-alphabet
    word, digit words, digits, or a short upper-case block such as "NWBK"); a run of such tokens
    is searched for a country code, two check digits and the country's length that passes the
    mod-97 check (the check is what keeps ordinary words out)."""
    chars: list[tuple[str, int, int]] = []  # (character, token start, token end)
    runs: list[list[tuple[str, int, int]]] = []
    previous_end = 0
    for m in _SPELL_TOKEN.finditer(norm):
        token, original = m.group(0), text[m.start() : m.end()]
        gap = norm[previous_end : m.start()]
        if chars and not re.fullmatch(r"[\s,.\-]{0,3}", gap):
            runs.append(chars)
            chars = []
        previous_end = m.end()
        if token.isdigit():
            value = token
        elif token in _EN_DIGITS:
            value = _EN_DIGITS[token]
        elif token in _ZH_DIGITS:
            value = _ZH_DIGITS[token]
        elif token in _NATO:
            value = _NATO[token]
        elif len(token) == 1 or (token.isalnum() and original.isupper() and len(token) <= 4):
            value = token  # a spelled letter, or a block written in capitals ("NWBK", "FR14")
        elif token.isalnum() and any(c.isdigit() for c in token) and len(token) <= 6:
            value = token  # a mixed block such as "fr14"
        else:
            if chars:
                runs.append(chars)
            chars = []
            continue
        chars += [(c, m.start(), m.end()) for c in value.upper()]
    if chars:
        runs.append(chars)
    for run in runs:
        flat = "".join(c for c, _, _ in run)
        i = 0
        while i < len(flat) - 4:
            length = IBAN_LENGTHS.get(flat[i : i + 2])
            starts_token = i == 0 or run[i - 1][1] != run[i][1]
            if length and starts_token and iban_valid(flat[i : i + length]):
                start, end = run[i][1], run[i + length - 1][2]
                yield Span(start, end, "ACCOUNT", text[start:end])
                i += length
            else:
                i += 1


def _prefix_with(raw: str, count: int) -> int:
    """Length of the shortest prefix of ``raw`` holding ``count`` characters besides " " and "-"."""
    seen = 0
    for i, char in enumerate(raw):
        seen += char not in " -"
        if seen == count:
            return i + 1
    return len(raw)


def find_numbers(text: str, norm: str, runs: Sequence[DigitRun]) -> Iterable[Span]:
    """Cards, IDs, phones and accounts among the digit runs."""
    previous_end = 0
    for run in runs:
        kind = _classify(norm, run, _cue_before(norm, run.start, previous_end))
        previous_end = run.end
        if kind is not None:
            end = run.end
            if kind == "ID" and end < len(norm) and norm[end] == "x":
                end += 1
            yield Span(run.start, end, kind, text[run.start : end])


def _classify(norm: str, run: DigitRun, cue: str | None) -> str | None:
    digits, n = run.digits, len(run.digits)
    after = norm[run.end : run.end + 1]
    if norm[run.start] == "+" and 8 <= n <= 15:
        return "PHONE"
    if n == 17 and after == "x" and resident_id_valid(digits + "X"):
        return "ID"
    if n == 18 and resident_id_valid(digits) and cue != "NEG":
        return "ID"
    if 13 <= n <= 19 and luhn_valid(digits) and cue != "NEG":
        return "CARD"
    if cue == "NEG":
        return None
    if cue == "ACCOUNT" and 6 <= n <= 30:
        return "ACCOUNT"
    if cue == "PHONE" and 7 <= n <= 15:
        return "PHONE"
    if cue == "ID" and n in (15, 18):
        return "ID"
    if _is_cn_mobile(digits) or (n == 13 and digits.startswith("86") and _is_cn_mobile(digits[2:])):
        return "PHONE"
    if run.written and run.groups[-3:] == (3, 3, 4) and n in (10, 11) and digits[-10] in "23456789":
        return "PHONE"  # US: 415 555 0132, (415) 555-0132, 1-415-555-0132
    if digits.startswith("0") and 10 <= n <= 12 and (len(run.groups) >= 2 or not run.written):
        return "PHONE"  # Chinese landlines with area code, UK numbers
    return None


def _is_cn_mobile(digits: str) -> bool:
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


# Dates of birth --------------------------------------------------------------

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORDINAL_WORDS = (
    r"(?:(?:twenty|thirty)[\s-])?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)"
    r"|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth"
    r"|nineteenth|twentieth|thirtieth"
)
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORDINAL_WORDS})"
_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|oh|hundred|thousand|and)"
)
_YEAR = rf"(?:\d{{4}}|(?:nineteen|twenty|two\s+thousand)(?:[\s-]+{_NUMBER_WORD}(?![a-z])){{0,3}})"
_ZH_NUM = r"[0-9零〇一二三四五六七八九十两]"


_DATE = _Pattern(
    rf"(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTHS},?\s+{_YEAR}"
    rf"|{_MONTHS}\s+(?:the\s+)?{_DAY},?\s+{_YEAR}"
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?!\d)"
    rf"|{_ZH_NUM}{{2,4}}\s*年\s*{_ZH_NUM}{{1,3}}\s*月\s*{_ZH_NUM}{{1,3}}\s*[日号]?"
)


_DOB_CUE = _Pattern(
    r"born(?:\s+(?:on|in))?|date\s+of\s+birth|birth\s*date|birthday|\bd\.?o\.?b\b\.?"
    r"|出生日期|出生年月日?|出生于|出生在|生日"
)


def find_dates_of_birth(text: str, norm: str) -> Iterable[Span]:
    for cue in _DOB_CUE.finditer(norm):
        m = _DATE.search(norm, cue.end(), cue.end() + DOB_WINDOW + 40)
        if m is None or m.start() - cue.end() > DOB_WINDOW:
            continue
        if re.search(r"\d", norm[cue.end() : m.start()]):
            continue  # another number stands between the cue and the date
        yield Span(m.start(), m.end(), "DOB", text[m.start() : m.end()])


# Street addresses ------------------------------------------------------------

_STREET_SUFFIX = (
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|court|ct|place|pl|way"
    r"|terrace|close|crescent|highway|hwy|parkway|square|sq|row|walk|grove|gardens)"
)
_EN_ADDRESS = _Pattern(
    rf"(?<![\w$£€.,])\d{{1,5}}[a-z]?\s+((?:[a-z][a-z'\-]*\.?\s+){{1,4}}?){_STREET_SUFFIX}(?![a-z])"
    r"(?:,?\s+(?:apt|apartment|unit|suite|ste|flat|room|no)\.?\s*#?\s*\d{1,5}[a-z]?(?![\w]))?"
)
_NOT_STREET_WORDS = frozenset(
    """a an the of and or to for from in on at by with about more than times time minutes hours
    days weeks months years people persons items boxes units dollars pounds euros yuan percent
    gb mb kb tb am pm i you we they he she it my your our their this that these those is are was
    were be been have has had will would can could should not no yes please thanks thank just
    only also still very really so too then when where what which who how why all any some
    every each other another same new old big small first second third last next""".split()
)
# characters that cannot belong to a place name: punctuation, digits and common function words
_ZH_NOT_PLACE = "是在到住寄址的我你他她请吧了与及或把给向从往很多有几些也还就个这那"
_ZH_PLACE = rf"[^\s\d，。,、；;：:！!？?“”\"'（）(){_ZH_NOT_PLACE}]"
_ZH_N = r"(?:\d+|[一二三四五六七八九十百零〇]+)"
_ZH_ADMIN = (
    rf"(?:{_ZH_PLACE}{{1,6}}?(?:省|自治区|特别行政区))?"
    rf"(?:{_ZH_PLACE}{{1,6}}?(?:市|州|盟))?"
    rf"(?:{_ZH_PLACE}{{1,6}}?(?:区|县|旗))?"
    rf"(?:{_ZH_PLACE}{{1,6}}?(?:镇|乡|街道))?"
)
# building, entrance and flat: 3栋2单元501室, 10号楼1603, 25幢602号
_ZH_UNIT = (
    rf"\s*{_ZH_N}\s*(?:栋|幢|号楼|座)"
    rf"(?:\s*{_ZH_N}\s*单元)?"
    rf"(?:\s*{_ZH_N}\s*(?:室|房|号)?)?"
)
_ZH_ESTATE_SUFFIX = r"(?:小区|花园|新城|家园|公寓|大厦|华庭|花苑|苑|园|城|庭|村|府|湾|里)"
_ZH_ADDRESS = _Pattern(
    # a street address: [省][市][区] 路/街 + number 号 [院] [building and flat]
    rf"{_ZH_ADMIN}{_ZH_PLACE}{{1,8}}?(?:路|街|大道|大街|巷|弄|胡同)"
    rf"\s*{_ZH_N}\s*号院?(?:{_ZH_UNIT}|\s*{_ZH_N}\s*(?:室|房))?"
    # a housing estate: [省][市][区] + estate name + building (the building is required)
    rf"|{_ZH_ADMIN}{_ZH_PLACE}{{1,8}}?{_ZH_ESTATE_SUFFIX}{_ZH_UNIT}"
    rf"|(?:{_ZH_PLACE}{{1,6}}?(?:市|区|县)){{1,3}}{_ZH_PLACE}{{2,8}}?{_ZH_UNIT}"
)


def find_addresses(text: str, norm: str) -> Iterable[Span]:
    for m in _EN_ADDRESS.finditer(norm):
        words = m.group(1).split()
        if not words or any(w.strip(".") in _NOT_STREET_WORDS for w in words):
            continue
        yield Span(m.start(), m.end(), "ADDRESS", text[m.start() : m.end()])
    for m in _ZH_ADDRESS.finditer(norm):
        yield Span(m.start(), m.end(), "ADDRESS", text[m.start() : m.end()])


# Names ----------------------------------------------------------------------

_NAME_INTRO_EN = _Pattern(
    r"(?<![a-z])(?:my\s+(?:full\s+)?name\s+is|my\s+name['’]s|the\s+name\s+is|the\s+name['’]s"
    r"|name['’]s|you['’]re\s+speaking\s+(?:with|to)|you\s+are\s+speaking\s+(?:with|to)"
    r"|account\s+holder\s+is)\s+"
)
_THIS_IS = _Pattern(r"(?<![a-z])this\s+is\s+")
_NAME_WORD = _Pattern(r"(?:mr|mrs|ms|miss|dr)\.?\s+|[a-z][a-z'’\-]*")
_NOT_NAME_WORDS = _NOT_STREET_WORDS | frozenset(
    """calling speaking here there not on in just also really actually um uh er well okay ok
    sorry hello hi hey listed spelled correct wrong important unacceptable ridiculous crazy
    going trying looking ringing phoning customer agent support service manager supervisor
    because but if as like since regarding re concerning me him her them us me myself mine
    on off out up down over under again now today tomorrow yesterday tonight fine great
    good""".split()
)

# the most frequent Chinese surnames (compound ones first, so they win)
_ZH_SURNAMES = (
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 令狐 司徒 夏侯 长孙 宇文 轩辕 端木"
).split() + list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章"
    "鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉"
    "骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄"
    "丛仲虞敖巩明佘池查麻苑迟邝鄢劳厉蔚陳張劉楊黃趙吳鄭謝許韓馮鄧蕭葉蘇盧鍾譚陸"
)
_ZH_SURNAME = "(?:" + "|".join(sorted(set(_ZH_SURNAMES), key=len, reverse=True)) + ")"
_ZH_STOP = "我你他她的是了啊呢吧吗嘛呀哦就在要想有和跟说打电话手机号码地址身份证请麻烦谢"
_HAN = r"[\u4e00-\u9fff]"
_ZH_NAME_AFTER_INTRO = _Pattern(
    rf"(?:我叫|我的名字是|我的名字叫|名字是|名字叫|姓名是|姓名[:：]?|本人姓名[:：]?)\s*"
    rf"(?P<name>{_ZH_SURNAME}?{_HAN}{{1,3}})"
)
# Surnames that are also common words ("我和先生一起来的": "my husband and I") only count before a
# title when someone introduces themselves with them ("我是和先生").
_ZH_SURNAME_WORDLIKE = frozenset(
    "和时明文安成全应单师路司向于万古关阳常齐易包宁尚符舒左甘查麻连车项简谷曲游管"
)
_ZH_PLAIN_SURNAME = (
    "(?:" + "|".join(sorted(set(_ZH_SURNAMES) - _ZH_SURNAME_WORDLIKE, key=len, reverse=True)) + ")"
)
_ZH_TITLE = "(?:先生|女士|小姐|太太|老师|师傅|经理|主任|医生)"
_ZH_SURNAME_TITLE = _Pattern(
    rf"(?:我是|我姓|您是)(?P<intro>{_ZH_SURNAME}{_ZH_TITLE})|(?P<name>{_ZH_PLAIN_SURNAME}{_ZH_TITLE})"
)
_ZH_SURNAME_ONLY = _Pattern(rf"我姓\s*(?P<name>{_ZH_SURNAME}|{_HAN})")


def _english_name(text: str, norm: str, start: int) -> Span | None:
    """The 1-3 name words starting at ``start``; a title (Mr, Dr) may come first."""
    pos, words, end = start, 0, start
    capitalised = text[start : start + 1].isupper()
    while words < 3:
        m = _NAME_WORD.match(norm, pos)
        if m is None:
            break
        word = m.group(0).strip().rstrip(".")
        if word in {"mr", "mrs", "ms", "miss", "dr"} and words == 0:
            pos = m.end()
            continue
        if word in _NOT_NAME_WORDS or len(word) < 2:
            break
        # later words of a capitalised name must be capitalised too ("Sarah Johnson and I")
        if words and capitalised and not text[m.start()].isupper():
            break
        words += 1
        end = m.end()
        gap = re.match(r"[ \t]+", norm[end:])
        if gap is None:
            break
        pos = end + gap.end()
    if words == 0:
        return None
    return Span(start, end, "NAME", text[start:end])


def find_names(text: str, norm: str) -> Iterable[Span]:
    for m in _NAME_INTRO_EN.finditer(norm):
        span = _english_name(text, norm, m.end())
        if span is not None:
            yield span
    for m in _THIS_IS.finditer(norm):
        span = _english_name(text, norm, m.end())
        if span is None:
            continue
        following = norm[span.end : span.end + 12]
        if re.match(r"\s*(?:speaking|here\b|from\s)", following) and (
            following.lstrip().startswith("speaking") or text[span.start].isupper()
        ):
            yield span
    for m in _ZH_NAME_AFTER_INTRO.finditer(norm):
        name = m.group("name")
        # stop at a word that cannot belong to a name ("我叫李明我的订单")
        for i, char in enumerate(name):
            if i and char in _ZH_STOP:
                name = name[:i]
                break
        surname = re.match(_ZH_SURNAME, name)
        longest = (len(surname.group(0)) if surname else 1) + 2
        name = name[:longest]
        if len(name) >= 2:
            yield Span(m.start("name"), m.start("name") + len(name), "NAME", name)
    for m in _ZH_SURNAME_TITLE.finditer(norm):
        group = "intro" if m.group("intro") else "name"
        yield Span(m.start(group), m.end(group), "NAME", text[m.start(group) : m.end(group)])
    for m in _ZH_SURNAME_ONLY.finditer(norm):
        yield Span(m.start("name"), m.end("name"), "NAME", text[m.start("name") : m.end("name")])
