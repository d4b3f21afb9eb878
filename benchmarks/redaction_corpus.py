"""A seeded generator of EN and ZH call-centre sentences, with and without personal data.

Written apart from the redaction patterns (it imports nothing from ``analyzer``) so that the
benchmark does not grade the patterns against themselves. Each sentence is composed from a
template and freshly drawn identifiers rendered in one of many surface forms: digits plain,
grouped with spaces or dashes, spoken as English words ("four one one one", "double five", "oh")
or as Chinese digits (一二三, 幺 for one, 〇 or 零 for zero), names, addresses and dates in several
orders. Sentences without personal data carry distractor numbers: prices, quantities, clock
times, years, ordinary dates, order and tracking numbers (those that could pass a checksum are
drawn until they fail it).

Each item: ``{"id", "language", "text", "pii": [{"kind", "start", "end", "text", "digits"}]}``
with character offsets into ``text``; ``digits`` is the identifier's digits (and IBAN letters)
with separators removed, "" for names, e-mail addresses and street addresses.

    python -m benchmarks.redaction_corpus --seed 1 --n 300 > corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable

KINDS = ("CARD", "PHONE", "EMAIL", "ID", "ACCOUNT", "DOB", "ADDRESS", "NAME")

EN_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
ZH_DIGITS = "零一二三四五六七八九"
MONTHS_EN = (
    "January February March April May June July August September October November December"
).split()
ORDINAL_WORDS = {
    1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh",
    8: "eighth", 9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth", 13: "thirteenth",
    14: "fourteenth", 15: "fifteenth", 16: "sixteenth", 17: "seventeenth", 18: "eighteenth",
    19: "nineteenth", 20: "twentieth", 21: "twenty-first", 22: "twenty-second",
    23: "twenty-third", 24: "twenty-fourth", 25: "twenty-fifth", 26: "twenty-sixth",
    27: "twenty-seventh", 28: "twenty-eighth",
}  # fmt: skip
TENS_EN = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
TEENS_EN = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony "
    "Betty Mark Sandra Steven Ashley Paul Emily Andrew Donna Joshua Michelle Kevin Carol Brian "
    "Amanda Priya Ahmed Fatima Wei Olga Lucas Sofia Mateo Aisha Kenji Ingrid"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris "
    "Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill "
    "Patel Nguyen Kowalski Schmidt Rossi Novak Okafor Haddad Tanaka Larsen O'Brien"
).split()
ZH_SURNAMES = (
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 "
    "彭 曾 肖 田 董 袁 潘 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 钟 欧阳 司马 诸葛 上官"
).split()
ZH_GIVEN = (
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 霞 平 刚 桂英 建华 小红 志强 "
    "海燕 晓东 文博 思远 子涵 雨萱 浩然 一鸣 佳怡 梓轩 欣怡 国庆 春梅"
).split()
ZH_TITLES = ("先生", "女士", "小姐")

STREETS_EN = (
    "Maple Oak Pine Cedar Elm Washington Lincoln Park Lake Hill Main Church High Station "
    "Victoria Mill King Queen Baker Sunset Riverside Highland Chestnut Willow Evergreen"
).split()
STREET_SUFFIXES = (
    "Street St Road Rd Avenue Ave Lane Drive Dr Boulevard Court Place Way Terrace Close"
).split()
DIRECTIONS = ("North", "South", "East", "West", "N", "S")
ZH_PROVINCES = ("广东省", "浙江省", "江苏省", "四川省", "湖北省", "山东省", "福建省", "河南省")
ZH_CITIES = (
    "北京市",
    "上海市",
    "广州市",
    "深圳市",
    "杭州市",
    "南京市",
    "成都市",
    "武汉市",
    "苏州市",
)
ZH_DISTRICTS = (
    "朝阳区",
    "海淀区",
    "浦东新区",
    "天河区",
    "南山区",
    "西湖区",
    "鼓楼区",
    "武侯区",
    "江汉区",
)
ZH_ESTATES = ("望京花园小区", "阳光新城", "翠苑小区", "万科城", "碧桂园", "金色家园", "锦绣华庭")
ZH_ROADS = (
    "建国路",
    "人民路",
    "中山路",
    "解放路",
    "世纪大道",
    "长江路",
    "文三路",
    "科技园南路",
    "和平街",
    "南京东路",
    "淮海中路",
    "天府大道",
    "新华街",
    "学院路",
)
EMAIL_DOMAINS = (
    "gmail.com", "yahoo.com", "outlook.com", "example.org", "mail.example.co.uk", "163.com",
    "qq.com", "126.com", "company.io", "uni.edu",
)  # fmt: skip

IBAN_LAYOUTS = {  # country: BBAN layout, "n" digit, "a" capital letter, "c" either
    "GB": "aaaannnnnnnnnnnnnn",
    "DE": "nnnnnnnnnnnnnnnnnn",
    "FR": "nnnnnnnnnnccccccccccc" + "nn",
    "NL": "aaaannnnnnnnnn",
    "ES": "nnnnnnnnnnnnnnnnnnnn",
    "IT": "annnnnnnnnncccccccccccc",  # 1 + 10 + 12 = 23 characters
}
CARD_PREFIXES = {  # issuer prefix: lengths
    "4": (13, 16, 19),
    "51": (16,),
    "53": (16,),
    "55": (16,),
    "2221": (16,),
    "34": (15,),
    "37": (15,),
    "6011": (16,),
    "65": (16,),
    "3528": (16,),
    "62": (16, 17, 18, 19),
    "36": (14,),
}
ID_REGIONS = ("110105", "310104", "440301", "510107", "330106", "420106", "320102", "370202")


# ---------------------------------------------------------------- checksums (own implementations)


def card_check_digit(body: str) -> str:
    """The Luhn digit that makes ``body + digit`` valid."""
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char)
        if position % 2 == 0:  # these get doubled once the check digit is appended
            value = value * 2 - 9 if value * 2 > 9 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def passes_luhn(number: str) -> bool:
    return card_check_digit(number[:-1]) == number[-1]


def resident_id_check(body17: str) -> str:
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    remainder = sum(int(c) * w for c, w in zip(body17, weights)) % 11
    return "10X98765432"[remainder]


def iban_check_digits(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    as_number = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{98 - as_number % 97:02d}"


# ---------------------------------------------------------------- identifiers


def draw_card(rng: random.Random) -> str:
    prefix = rng.choice(list(CARD_PREFIXES))
    length = rng.choice(CARD_PREFIXES[prefix])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + card_check_digit(body)


def draw_resident_id(rng: random.Random) -> str:
    year = rng.randint(1940, 2005)
    body = f"{rng.choice(ID_REGIONS)}{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += f"{rng.randint(0, 999):03d}"
    return body + resident_id_check(body)


def draw_iban(rng: random.Random) -> str:
    country = rng.choice(list(IBAN_LAYOUTS))
    pools = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "c": "0123456789ABCDEFGHJKLMNP"}
    bban = "".join(rng.choice(pools[c]) for c in IBAN_LAYOUTS[country])
    return country + iban_check_digits(country, bban) + bban


def random_digits(rng: random.Random, n: int, *, first: str = "123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))


def not_a_card(rng: random.Random, n: int) -> str:
    while True:
        number = random_digits(rng, n)
        if not passes_luhn(number):
            return number


def a_luhn_number(rng: random.Random, n: int) -> str:
    """A number that passes the card check by chance, as order and tracking numbers can."""
    body = random_digits(rng, n - 1)
    return body + card_check_digit(body)


# ---------------------------------------------------------------- surface forms of digit strings


def group(digits: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        if i >= len(digits):
            break
        out.append(digits[i : i + size])
        i += size
    if i < len(digits):
        out.append(digits[i:])
    return sep.join(out)


def spoken_en(digits: str, rng: random.Random, *, sizes: list[int] | None = None) -> str:
    """Digits as English words; zero sometimes "oh", pairs sometimes "double", groups sometimes
    set off by commas."""
    oh = rng.random() < 0.3
    use_double = rng.random() < 0.3
    chunks = [digits] if sizes is None else group(digits, sizes, " ").split(" ")
    spoken_chunks = []
    for chunk in chunks:
        words, i = [], 0
        while i < len(chunk):
            word = "oh" if chunk[i] == "0" and oh else EN_DIGIT_WORDS[int(chunk[i])]
            if use_double and i + 1 < len(chunk) and chunk[i + 1] == chunk[i]:
                words.append(f"double {word}")
                i += 2
            else:
                words.append(word)
                i += 1
        spoken_chunks.append(" ".join(words))
    return (", " if rng.random() < 0.4 else " ").join(spoken_chunks)


def spoken_zh(digits: str, rng: random.Random, *, sizes: list[int] | None = None) -> str:
    yao = rng.random() < 0.5  # 幺 for one, as read out over the phone
    ling = rng.choice("零〇")
    table = {str(d): ZH_DIGITS[d] for d in range(10)}
    table["0"] = ling
    if yao:
        table["1"] = "幺"
    text = "".join(table.get(c, c) for c in digits)
    if sizes and rng.random() < 0.5:
        return group(text, sizes, " ")
    return text


def render_digits(digits: str, rng: random.Random, language: str, sizes: list[int]) -> str:
    """One written or spoken surface form of a digit string."""
    forms = ["plain", "space", "dash", "spoken"]
    weights = [3, 3, 2, 2]
    form = rng.choices(forms, weights)[0]
    if form == "plain":
        return digits
    if form == "space":
        return group(digits, sizes, " ")
    if form == "dash":
        return group(digits, sizes, "-")
    return (
        spoken_en(digits, rng, sizes=sizes)
        if language == "en"
        else spoken_zh(digits, rng, sizes=sizes)
    )


# ---------------------------------------------------------------- values: (surface text, digits)


def card_value(rng: random.Random, language: str) -> tuple[str, str]:
    number = draw_card(rng)
    sizes = [4, 6, 5] if len(number) == 15 else [4, 4, 4, 4, 3]
    return render_digits(number, rng, language, sizes), number


def phone_value(rng: random.Random, language: str) -> tuple[str, str]:
    style = rng.choice(
        ["us", "intl", "cn", "cn", "cn86", "cn_landline"]
        if language == "zh"
        else ["us", "us", "intl", "cn86", "uk"]
    )
    if style == "uk":
        form = rng.randrange(3)
        if form == 0:  # mobile, 07xxx xxxxxx
            digits = "07" + random_digits(rng, 9, first="0123456789")
            return group(digits, [5, 6], rng.choice([" ", ""])), digits
        if form == 1:  # London landline, 020 xxxx xxxx
            digits = "020" + random_digits(rng, 8)
            return group(digits, [3, 4, 4], " "), digits
        rest = random_digits(rng, 8)
        return f"+44 (0)20 {rest[:4]} {rest[4:]}", "4420" + rest
    if style == "cn_landline":  # 010-12345678, 0755-1234567
        area = rng.choice(["010", "021", "020", "0755", "0571", "028"])
        local = random_digits(rng, 8 if len(area) == 3 else rng.choice([7, 8]), first="2345678")
        return f"{area}{rng.choice(['-', ' ', ''])}{local}", area + local
    if style == "us":
        area = random_digits(rng, 3, first="23456789")
        exchange = random_digits(rng, 3, first="23456789")
        line = random_digits(rng, 4, first="0123456789")
        digits = area + exchange + line
        form = rng.randrange(5)
        if form == 0:
            return f"({area}) {exchange}-{line}", digits
        if form == 1:
            return f"{area}-{exchange}-{line}", digits
        if form == 2:
            return f"{area}.{exchange}.{line}", digits
        if form == 3:
            return f"+1 {area} {exchange} {line}", "1" + digits
        return spoken_en(digits, rng, sizes=[3, 3, 4]), digits
    if style == "intl":
        country, sizes = rng.choice([("44", [2, 4, 4]), ("49", [3, 4, 4]), ("33", [1, 2, 2, 2, 2]),
                                     ("61", [1, 4, 4]), ("81", [2, 4, 4])])  # fmt: skip
        national = random_digits(rng, sum(sizes))
        sep = rng.choice([" ", "-", ""])
        return f"+{country} {group(national, sizes, sep)}", country + national
    mobile = "1" + rng.choice("3456789") + random_digits(rng, 9, first="0123456789")
    if style == "cn86":
        sep = rng.choice([" ", "-", ""])
        return f"+86 {group(mobile, [3, 4, 4], sep)}", "86" + mobile
    if language == "zh" and rng.random() < 0.3:
        return spoken_zh(mobile, rng, sizes=[3, 4, 4]), mobile
    return render_digits(mobile, rng, language, [3, 4, 4]), mobile


def email_value(rng: random.Random, language: str) -> tuple[str, str]:
    first = rng.choice(FIRST_NAMES).lower()
    last = rng.choice(LAST_NAMES).lower().replace("'", "")
    local = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}_{last}",
                        f"{last}{first[0]}", first])  # fmt: skip
    domain = rng.choice(EMAIL_DOMAINS)
    if rng.random() < 0.3:  # spoken: "john dot smith at gmail dot com"
        spoken_local = local.replace(".", " dot ").replace("_", " underscore ")
        return f"{spoken_local} at {domain.replace('.', ' dot ')}", ""
    return f"{local}@{domain}", ""


def id_value(rng: random.Random, language: str) -> tuple[str, str]:
    number = draw_resident_id(rng)
    form = rng.randrange(4)
    if form == 0 and number[-1] == "X" and rng.random() < 0.5:
        return number[:-1] + "x", number
    if form == 1:
        return group(number, [6, 8, 4], " "), number
    if form == 2 and language == "zh":
        return spoken_zh(number, rng), number
    return number, number


def account_value(rng: random.Random, language: str) -> tuple[str, str]:
    if rng.random() < 0.45:
        iban = draw_iban(rng)
        if rng.random() < 0.6:
            return group(iban, [4] * 9, " "), iban
        return iban, iban
    number = random_digits(rng, rng.randint(8, 20), first="0123456789")
    while 13 <= len(number) <= 19 and passes_luhn(number):  # keep cards and accounts apart
        number = random_digits(rng, len(number), first="0123456789")
    return render_digits(number, rng, language, [4] * 5), number


def year_en(year: int) -> str:
    high, low = divmod(year, 100)

    def two(n: int) -> str:
        if n < 10:
            return f"oh {EN_DIGIT_WORDS[n]}"
        if n < 20:
            return TEENS_EN[n - 10]
        return TENS_EN[n // 10] + ("" if n % 10 == 0 else f" {EN_DIGIT_WORDS[n % 10]}")

    if high == 20:
        return "two thousand" + (
            "" if low == 0 else f" and {EN_DIGIT_WORDS[low]}" if low < 10 else f" {two(low)}"
        )
    return f"{two(high)} {two(low)}"


def zh_number(n: int) -> str:
    """1-31 as Chinese numerals (十一, 二十三)."""
    if n < 10:
        return ZH_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else ZH_DIGITS[tens]) + "十" + ("" if ones == 0 else ZH_DIGITS[ones])


def dob_value(rng: random.Random, language: str) -> tuple[str, str]:
    year, month, day = rng.randint(1935, 2006), rng.randint(1, 12), rng.randint(1, 28)
    digits = f"{year}{month:02d}{day:02d}"
    if language == "zh":
        form = rng.randrange(5)
        if form == 0:
            return f"{year}年{month}月{day}日", digits
        if form == 1:
            year_zh = "".join(ZH_DIGITS[int(c)] for c in str(year)).replace(
                "零", rng.choice("零〇")
            )
            return f"{year_zh}年{zh_number(month)}月{zh_number(day)}{rng.choice('日号')}", digits
        if form == 2:
            return f"{year}-{month:02d}-{day:02d}", digits
        if form == 3:
            return f"{year}/{month}/{day}", digits
        return f"{year}年{month:02d}月{day:02d}号", digits
    name = MONTHS_EN[month - 1]
    form = rng.randrange(8)
    if form == 0:
        return f"{name} {day}, {year}", digits
    if form == 1:
        return f"{day} {name} {year}", digits
    if form == 2:
        return f"{month:02d}/{day:02d}/{year}", digits
    if form == 3:
        return f"{year}-{month:02d}-{day:02d}", digits
    if form == 4:
        return f"the {ORDINAL_WORDS[day]} of {name} {year_en(year)}", digits
    if form == 5:
        suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(day, "th")
        return f"{name} {day}{suffix}, {year}", digits
    if form == 6:
        if rng.random() < 0.5:
            return f"{month}/{day}/{year % 100:02d}", digits
        return f"{day:02d}.{month:02d}.{year}", digits
    return f"{name} {ORDINAL_WORDS[day]} {year_en(year)}", digits


def address_value(rng: random.Random, language: str) -> tuple[str, str]:
    if language == "zh":
        parts = []
        if rng.random() < 0.4:
            parts.append(rng.choice(ZH_PROVINCES))
        parts.append(rng.choice(ZH_CITIES))
        parts.append(rng.choice(ZH_DISTRICTS))
        unit = f"{rng.randint(1, 30)}{rng.choice(['栋', '号楼', '幢'])}"
        unit += rng.choice(["", f"{rng.randint(1, 6)}单元"])
        unit += f"{rng.randint(1, 30)}{rng.randint(1, 9):02d}{rng.choice(['室', '', '号'])}"
        if rng.random() < 0.25:  # a housing estate instead of a street: 望京花园小区3栋2单元501
            parts.append(rng.choice(ZH_ESTATES) + unit)
            return "".join(parts[-2:] if rng.random() < 0.5 else parts), ""
        parts.append(rng.choice(ZH_ROADS))
        parts.append(f"{rng.randint(1, 999)}号{rng.choice(['', '', '院'])}")
        if rng.random() < 0.4:
            parts.append(unit)
        if rng.random() < 0.2:  # without the province and city: "朝阳区建国路88号"
            parts = parts[2:] if parts[0] in ZH_PROVINCES else parts[1:]
        return "".join(parts), ""
    number = str(rng.randint(1, 9999))
    words = [number]
    if rng.random() < 0.25:
        words.append(rng.choice(DIRECTIONS))
    words.append(rng.choice(STREETS_EN))
    if rng.random() < 0.2:
        words.append(rng.choice(["Hill", "Park", "Creek", "Valley"]))
    words.append(rng.choice(STREET_SUFFIXES))
    address = " ".join(words)
    if rng.random() < 0.2:
        address += rng.choice([", Apt ", ", apartment ", " unit ", ", Suite ", " flat "])
        address += str(rng.randint(1, 40)) + rng.choice(["", "", "B"])
    return address, ""


def name_value(rng: random.Random, language: str) -> tuple[str, str]:
    if language == "zh":
        return rng.choice(ZH_SURNAMES) + rng.choice(ZH_GIVEN), ""
    name = rng.choice(FIRST_NAMES)
    if rng.random() >= 0.2:
        name += " " + rng.choice(LAST_NAMES)
    if rng.random() < 0.2:  # as a lower-case ASR writes it
        name = name.lower()
    return name, ""


VALUES: dict[str, Callable[[random.Random, str], tuple[str, str]]] = {
    "CARD": card_value,
    "PHONE": phone_value,
    "EMAIL": email_value,
    "ID": id_value,
    "ACCOUNT": account_value,
    "DOB": dob_value,
    "ADDRESS": address_value,
    "NAME": name_value,
}

# ---------------------------------------------------------------- templates ({X} is the value)

TEMPLATES = {
    "en": {
        "CARD": [
            "My card number is {X}.",
            "Sure, it's {X}.",
            "The card number, {X}, expires in May.",
            "I paid with the card {X} and got charged twice.",
            "card number {X}",
            "It's a visa, {X}.",
            "The long number on the card is {X}, okay?",
            "can you charge {X} instead",
            "Okay the number is {X} and the code is on the back.",
        ],
        "PHONE": [
            "You can reach me on {X}.",
            "My phone number is {X}.",
            "call me back at {X} please",
            "My cell is {X}, text is fine too.",
            "The number they gave me was {X}.",
            "mobile {X}",
            "Please ring {X} after five.",
            "my number is {X}",
        ],
        "EMAIL": [
            "My email is {X}.",
            "Send the invoice to {X} please.",
            "it's {X}",
            "You can email me at {X}.",
            "The address on file should be {X}.",
            "my email address is {X} all lower case",
        ],
        "ID": [
            "My Chinese ID number is {X}.",
            "The resident ID on the account is {X}.",
            "id number {X}",
            "For verification, my ID is {X}.",
        ],
        "ACCOUNT": [
            "My account number is {X}.",
            "The IBAN is {X}.",
            "account number {X}",
            "Please transfer it to account {X}.",
            "My bank account number is {X}, checking.",
            "the IBAN on the invoice is {X}",
        ],
        "DOB": [
            "My date of birth is {X}.",
            "I was born on {X}.",
            "DOB {X}.",
            "date of birth {X}",
            "Yes, born on {X}.",
            "My birthday is {X}.",
            "The date of birth should read {X}.",
        ],
        "ADDRESS": [
            "I live at {X}.",
            "My address is {X}, it hasn't changed.",
            "Please ship it to {X}.",
            "The billing address is {X}.",
            "send it to {X} please",
            "we moved to {X} in May",
            "The parcel was left at {X} but nobody was home.",
        ],
        "NAME": [
            "My name is {X}.",
            "Hi, this is {X} speaking.",
            "hello my name is {X}",
            "My name's {X} and I'm calling about my bill.",
            "This is {X} speaking, how can I help?",
            "Yes hello, my name is {X}, I called yesterday.",
            "hi my name is {X} and i have a problem with my bill",
            "you're speaking with {X}, how can I help?",
        ],
    },
    "zh": {
        "CARD": [
            "我的卡号是{X}。",
            "卡号{X}，麻烦查一下。",
            "银行卡号是{X}，昨天被扣了两次。",
            "信用卡号{X}。",
            "我用的是这张卡，卡号是{X}。",
            "卡号：{X}",
        ],
        "PHONE": [
            "我的手机号是{X}。",
            "电话{X}，有事打这个。",
            "你打我手机{X}。",
            "联系电话：{X}",
            "手机号码{X}，白天都能接。",
            "我的号码是{X}。",
            "回电请打{X}。",
        ],
        "EMAIL": [
            "我的email是{X}。",
            "我的邮箱是{X}。",
            "发到邮箱{X}就行。",
            "邮箱：{X}",
            "电子邮件地址是{X}。",
        ],
        "ID": [
            "我的身份证号是{X}。",
            "身份证号码{X}，您核对一下。",
            "证件号{X}。",
            "身份证{X}，麻烦登记一下。",
        ],
        "ACCOUNT": [
            "我的账号是{X}。",
            "账号{X}，您转到这里。",
            "银行账号是{X}。",
            "转账账号：{X}",
            "收款账号{X}，户名是我本人。",
        ],
        "DOB": [
            "我的出生日期是{X}。",
            "出生日期：{X}",
            "生日是{X}。",
            "我的生日是{X}。",
            "出生日期{X}，您核对一下。",
        ],
        "ADDRESS": [
            "我的地址是{X}。",
            "寄到{X}吧。",
            "我住在{X}。",
            "收货地址：{X}",
            "地址是{X}，快递一直没送到。",
        ],
        "NAME": [
            "我叫{X}。",
            "您好，我叫{X}，上周来过电话。",
            "我叫{X}，我要投诉。",
            "我的名字是{X}。",
            "姓名：{X}",
        ],
    },
}
ZH_TITLE_TEMPLATES = ["我是{S}{T}，我要投诉。", "您好，我是{S}{T}。", "我是{S}{T}，上周来过电话。"]
ZH_SURNAME_TEMPLATES = ["我姓{S}。", "我姓{S}，麻烦您快点。"]

NEGATIVE_EN = [
    "I called {n} times this week and waited {m} minutes each time.",
    "The order number is {order} and it cost ${price}.",
    "We open at {hh}:{mm} and close at {hh2}:00.",
    "I've been a customer since {year}.",
    "I ordered {n} boxes and only {m} came.",
    "The tracking number is {track}, can you check it?",
    "The bill went from {price} dollars to {price2} dollars!",
    "It happened on {month} {day}, {year} at about {h12} pm.",
    "Your case number is {year}{mm}{dd}-{n4}.",
    "I am calling about invoice {n3} from last month.",
    "There are {n} people here and we use about {n3} GB a month.",
    "Press {d1} for billing or {d2} for support.",
    "It's the model {model} with {n3} GB storage.",
    "this is unacceptable i want to speak to a manager",
    "Customer service, how can I help?",
    "My name is on the account but my husband usually calls.",
    "I live about {m} minutes from the store.",
    "The reference is {ref}.",
    "We refunded {n} payments of {price} on {mm}/{dd}.",
    "It's been {n} weeks since {month} {day}.",
    "The tracking number is {track_luhn} but the site says not found.",
    "Order number {track_luhn}, placed on {month} {day}.",
    "this is ridiculous, this is the {n}th time I call",
    "My name is spelled wrong on the last {n} bills.",
    "I waited {m} minutes on the phone and {n} more on the chat.",
    "We have {n} cars in the drive and {n3} channels on the box.",
    "I bought {n} tickets for the Main Street show in {year}.",
    "my son's birthday is in {month} so I need it before the {day}th",
    "The code on the screen was {n4} and then {n3}.",
    "It went up {n} percent, from {price} to {price2}.",
]
NEGATIVE_ZH = [
    "我已经打了{n}次电话了，每次都等了{m}分钟。",
    "订单号是{order}，一共{price}元。",
    "你们{h12}点半开门，我{h12b}点就到了。",
    "我买了{n}台，只到了{m}台。",
    "太失望了，浪费时间，无法接受。",
    "理解您的心情，非常抱歉给您带来不便。",
    "您好，请问有什么可以帮您？",
    "我是老客户了，{year}年就开始用你们的产品。",
    "快递单号{track}，麻烦查一下。",
    "这个月的账单是{price}元，比上个月多了{n3}块。",
    "我是说这个问题已经拖了{n}个星期了。",
    "价格是{price}元，分{n}期。",
    "下午{h12}点到{h12b}点之间会有人联系您。",
    "{year}年{month_n}月{day}日下的单，到现在还没发货。",
    "工单编号是{ref}，请记一下。",
    "我是想问一下退款什么时候到账。",
    "我是客服，您那边是宽带报修吗？",
    "一共{n3}件，已经发了{n}件。",
    "订单号{mobile_like}，麻烦帮我查一下物流。",
    "快递单号是{track_luhn}，一直没更新。",
    "我和先生一起来的，等了{m}分钟。",
    "这位女士说她{year}年就办了卡。",
    "我的生日快到了，想用积分换个礼物。",
    "第{n}次打电话了，还是没人处理。",
]


def negative_fill(rng: random.Random) -> dict[str, str]:
    return {
        "n": str(rng.randint(2, 9)),
        "m": str(rng.randint(1, 60)),
        "n3": str(rng.randint(10, 999)),
        "n4": f"{rng.randint(0, 9999):04d}",
        "order": random_digits(rng, rng.randint(6, 12)),
        "track": not_a_card(rng, rng.choice([13, 16, 18])),
        "price": f"{rng.randint(5, 2999)}.{rng.randint(0, 99):02d}" if rng.random() < 0.5
        else f"{rng.randint(5, 9999)}",
        "price2": f"{rng.randint(1, 9)},{rng.randint(0, 999):03d}",
        "hh": str(rng.randint(7, 11)),
        "mm": f"{rng.randint(1, 12):02d}",
        "dd": f"{rng.randint(1, 28):02d}",
        "hh2": str(rng.randint(17, 22)),
        "h12": str(rng.randint(1, 5)),
        "h12b": str(rng.randint(6, 9)),
        "year": str(rng.randint(1995, 2025)),
        "month": rng.choice(MONTHS_EN),
        "month_n": str(rng.randint(1, 12)),
        "day": str(rng.randint(1, 28)),
        "d1": str(rng.randint(1, 4)),
        "d2": str(rng.randint(5, 9)),
        "model": f"X{rng.randint(100, 999)}",
        "ref": f"{rng.choice('ABCDEFG')}{rng.randint(10_000_000, 99_999_999)}",
        "track_luhn": a_luhn_number(rng, rng.choice([13, 16, 19])),
        "mobile_like": "1" + rng.choice("3456789") + random_digits(rng, 9, first="0123456789"),
    }  # fmt: skip


# ---------------------------------------------------------------- sentences


def asr_style(text: str) -> str:
    """English as an ASR might write it: lower case, no final full stop."""
    return text.lower().rstrip(".").replace("{x}", "{X}")


def fill(template: str, slots: dict[str, tuple[str, str, str]]) -> tuple[str, list[dict]]:
    """Put each slot's (kind, surface, digits) into ``template`` and record its span."""
    text, spans, i = "", [], 0
    while i < len(template):
        if template[i] == "{":
            key = template[i + 1 : template.index("}", i)]
            kind, surface, digits = slots[key]
            spans.append({"kind": kind, "start": len(text), "end": len(text) + len(surface),
                          "text": surface, "digits": digits})  # fmt: skip
            text += surface
            i += len(key) + 2
        else:
            text += template[i]
            i += 1
    return text, spans


def positive_sentence(rng: random.Random, language: str, kind: str) -> tuple[str, list[dict]]:
    if language == "zh" and kind == "NAME" and rng.random() < 0.45:
        surname = rng.choice(ZH_SURNAMES)
        if rng.random() < 0.6:
            template = rng.choice(ZH_TITLE_TEMPLATES).replace("{S}{T}", "{X}")
            return fill(template, {"X": ("NAME", surname + rng.choice(ZH_TITLES), "")})
        return fill(
            rng.choice(ZH_SURNAME_TEMPLATES).replace("{S}", "{X}"), {"X": ("NAME", surname, "")}
        )
    surface, digits = VALUES[kind](rng, language)
    templates = TEMPLATES[language][kind]
    if kind == "ACCOUNT" and not digits[:2].isalpha():  # only an IBAN is called an IBAN
        templates = [t for t in templates if "IBAN" not in t]
    template = rng.choice(templates)
    if language == "en" and rng.random() < 0.25:
        template = asr_style(template)
    if language == "zh" and rng.random() < 0.25:  # ASR without punctuation
        template = "".join(c for c in template if c not in "，。：！？、")
    return fill(template, {"X": (kind, surface, digits)})


def two_kind_sentence(rng: random.Random, language: str) -> tuple[str, list[dict]]:
    first, second = rng.sample(KINDS, 2)
    text_a, spans_a = positive_sentence(rng, language, first)
    text_b, spans_b = positive_sentence(rng, language, second)
    joiner = " " if language == "en" else ""
    offset = len(text_a) + len(joiner)
    shifted = [{**s, "start": s["start"] + offset, "end": s["end"] + offset} for s in spans_b]
    return text_a + joiner + text_b, spans_a + shifted


def negative_sentence(rng: random.Random, language: str) -> tuple[str, list[dict]]:
    template = rng.choice(NEGATIVE_EN if language == "en" else NEGATIVE_ZH)
    text = template.format(**negative_fill(rng))
    if language == "en" and rng.random() < 0.25:
        text = asr_style(text)
    return text, []


def generate(seed: int, n_per_language: int = 300, negative_share: float = 0.35) -> list[dict]:
    """``n_per_language`` sentences with personal data per language (every kind equally often,
    one in six carrying two kinds) plus ``negative_share`` as many again without any."""
    rng = random.Random(seed)
    items = []
    for language in ("en", "zh"):
        for i in range(n_per_language):
            if i % 6 == 5:
                text, spans = two_kind_sentence(rng, language)
            else:
                text, spans = positive_sentence(rng, language, KINDS[i % len(KINDS)])
            items.append(
                {"id": f"{language}-p{i:04d}", "language": language, "text": text, "pii": spans}
            )
        for i in range(int(round(n_per_language * negative_share))):
            text, spans = negative_sentence(rng, language)
            items.append(
                {"id": f"{language}-n{i:04d}", "language": language, "text": text, "pii": spans}
            )
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--n", type=int, default=300, help="sentences with personal data per language"
    )
    args = parser.parse_args(argv)
    for item in generate(args.seed, args.n):
        sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
