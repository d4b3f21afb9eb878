"""Redaction of personal data: checksums, surface forms, ordinary numbers left alone, timed words
and audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analyzer.words.redact import (
    find_personal_data,
    iban_valid,
    luhn_valid,
    redact_lines,
    redact_text,
    redact_words,
    resident_id_valid,
    silence_audio,
)

ROOT = Path(__file__).resolve().parents[1]


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_personal_data(text)]


# ------------------------------------------------------------------ cards


def test_luhn_checksum():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert luhn_valid("378282246310005")


def test_a_luhn_invalid_16_digit_number_is_not_a_card():
    assert kinds("the number is 4111 1111 1111 1112 okay") == []
    assert kinds("4111111111111112") == []


@pytest.mark.parametrize(
    "written",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "４１１１１１１１１１１１１１１１",
    ],
)
def test_card_found_in_written_forms(written):
    text = f"my card is {written} thanks"
    assert kinds(text) == [("CARD", written)]
    assert redact_text(text).text == "my card is [CARD] thanks"


def test_card_spoken_in_english_and_chinese_digits():
    spoken = "four one one one one one one one one one one one one one one one"
    assert kinds(f"the card is {spoken}") == [("CARD", spoken)]
    assert (
        kinds("card is four one double one, one one one one, triple one one, one one one one")[0][0]
        == "CARD"
    )
    assert kinds("卡号是六二二八 六六一三 一八六零 九一三零。") == [
        ("CARD", "六二二八 六六一三 一八六零 九一三零")
    ]


def test_luhn_valid_order_number_is_left_alone():
    assert kinds("your order number is 4111 1111 1111 1111") == []
    assert kinds("快递单号4111111111111111，麻烦查一下") == []


# ------------------------------------------------------------------ IDs and accounts


def test_chinese_resident_id_checksum():
    assert resident_id_valid("11010519491231002X")
    assert resident_id_valid("11010519491231002x")
    assert not resident_id_valid("110105194912310021")  # wrong check character
    assert not resident_id_valid("110105194913310024")  # month 13
    assert kinds("身份证号11010519491231002X。") == [("ID", "11010519491231002X")]
    # without a cue the checksum decides; right after "身份证号" the number is redacted anyway
    assert kinds("it was 110105194912310021 then") == []
    assert kinds("身份证号110105194912310021。") == [("ID", "110105194912310021")]
    assert kinds("身份证 440301 19900307 1230") == [("ID", "440301 19900307 1230")]


def test_iban_mod97():
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("GB82WEST12345698765433")
    assert kinds("My IBAN is GB82 WEST 1234 5698 7654 32.") == [
        ("ACCOUNT", "GB82 WEST 1234 5698 7654 32")
    ]
    assert kinds("My IBAN is GB82 WEST 1234 5698 7654 33.") == []


def test_account_needs_a_cue():
    assert kinds("The account number is 12345678901234, checking.") == [
        ("ACCOUNT", "12345678901234")
    ]
    assert kinds("账号 0200 0041 0901 4520 7，您转到这里。") == [
        ("ACCOUNT", "0200 0041 0901 4520 7")
    ]
    assert kinds("It was 12345678901234 bytes.") == []


# ------------------------------------------------------------------ phones and e-mail


@pytest.mark.parametrize(
    "text, phone",
    [
        ("call me back on +44 20 7946 0958 after five", "+44 20 7946 0958"),
        ("My cell is (415) 555-0132.", "(415) 555-0132"),
        ("it's 212-555-0187", "212-555-0187"),
        ("我的手机号是13800138000。", "13800138000"),
        ("你打我手机，+86 186-2345-6789。", "+86 186-2345-6789"),
        ("电话是 139 1234 5678，白天都能接。", "139 1234 5678"),
        ("我的号码是幺三八零零幺三八零零零。", "幺三八零零幺三八零零零"),
        (
            "my number is five five five, one two three, four five six seven",
            "five five five, one two three, four five six seven",
        ),
    ],
)
def test_phone_forms(text, phone):
    assert kinds(text) == [("PHONE", phone)]


def test_email_written_and_spoken():
    assert kinds("It's maria.gonzalez@example.org.") == [("EMAIL", "maria.gonzalez@example.org")]
    assert kinds("send it to john dot smith at example dot com please") == [
        ("EMAIL", "john dot smith at example dot com")
    ]
    assert kinds("we can meet at the office at noon") == []


@pytest.mark.parametrize(
    "text, email",
    [
        ("邮箱 li.na at qq dot com。", "li.na at qq dot com"),  # written dot in the local part
        ("it's j o h n at gmail dot com", "j o h n at gmail dot com"),  # spelled letters
        ("我的邮箱是 lina 艾特 163 点 com", "lina 艾特 163 点 com"),  # 艾特 and 点
        ("lina艾特qq.com", "lina艾特qq.com"),
        ("send it to bob@outlook dot com", "bob@outlook dot com"),
        (
            "邮箱：ｚｈａｎｇｗｅｉ＠ｑｑ．ｃｏｍ",
            "ｚｈａｎｇｗｅｉ＠ｑｑ．ｃｏｍ",
        ),  # full-width forms
    ],
)
def test_spoken_and_half_spoken_emails(text, email):
    assert kinds(text) == [("EMAIL", email)]


@pytest.mark.parametrize(
    "text",
    [
        "I shopped at amazon.com last week",  # a spoken "at" needs a spoken "dot" somewhere
        "We'll meet at the office at nine, dot on time.",
        "look at example dot com for the manual",  # "look" ends no address
    ],
)
def test_at_and_dot_in_plain_speech_are_not_emails(text):
    assert [k for k, _ in kinds(text)] == []


def test_iban_spelled_a_character_at_a_time():
    spelled = (
        "F R one four two zero zero four one zero one zero zero five zero five zero zero "
        "zero one three M zero two six zero six"
    )
    assert kinds(f"the iban is {spelled}") == [("ACCOUNT", spelled)]
    assert kinds("golf bravo 29 NWBK 6016 1331 9268 19 please") == [
        ("ACCOUNT", "golf bravo 29 NWBK 6016 1331 9268 19")
    ]
    # letters and digits that fail the mod-97 check stay
    assert kinds("I filled in form A B one two three and sent it back.") == []
    assert kinds("G B two nine N W B K six zero one six one three three one nine two six") == []


def test_full_width_and_chinese_spoken_digits():
    assert kinds("手机号是１３８００１３８０００，您记一下。") == [
        ("PHONE", "１３８００１３８０００")
    ]
    assert kinds("我的电话是幺三八，零零一三，八零零零。") == [
        ("PHONE", "幺三八，零零一三，八零零零")
    ]
    assert kinds("这是第一二期的活动，价格是一九九元。") == []


# ------------------------------------------------------------------ dates, addresses, names


def test_date_of_birth_only_after_a_birth_cue():
    assert kinds("My date of birth is March 3, 1985.") == [("DOB", "March 3, 1985")]
    assert kinds("DOB 1990-04-21.") == [("DOB", "1990-04-21")]
    assert kinds("出生日期：1978-08-24") == [("DOB", "1978-08-24")]
    assert kinds("生日是一九九二年十一月三十日。") == [("DOB", "一九九二年十一月三十日")]
    assert kinds("It happened on March 3, 1985 at about 9 pm.") == []
    assert kinds("2024年5月17日下的单。") == []


def test_addresses():
    assert kinds("I live at 742 Evergreen Terrace.") == [("ADDRESS", "742 Evergreen Terrace")]
    assert kinds("地址是北京市朝阳区建国路88号，快递没到。") == [
        ("ADDRESS", "北京市朝阳区建国路88号")
    ]
    assert kinds("I live about 20 minutes from the store on the main road.") == []


def test_names_introduced_by_a_name_pattern():
    assert kinds("My name is Sarah Johnson and I'm calling.") == [("NAME", "Sarah Johnson")]
    assert kinds("Hi, this is David Chen speaking.") == [("NAME", "David Chen")]
    assert kinds("我叫李明，我的订单没到。") == [("NAME", "李明")]
    assert kinds("您好，我是张先生。") == [("NAME", "张先生")]
    assert kinds("我姓欧阳。") == [("NAME", "欧阳")]
    assert kinds("My name is not important.") == []
    assert kinds("This is unacceptable.") == []
    assert kinds("我和先生一起来的。") == []
    assert kinds("我是客服，您好。") == []


# ------------------------------------------------------------------ ordinary numbers


@pytest.mark.parametrize(
    "text",
    [
        "I called 3 times this week and waited 45 minutes each time.",
        "The order number is 100234 and it cost $129.99.",
        "We open at 10:30 and close at 18:00.",
        "I've been a customer since 2009.",
        "The bill went from 45 dollars to 1,250 dollars!",
        "订单号是202405170042，一共299元。",
        "订单号13912345678，麻烦查一下。",
        "价格是3999元，分12期。",
        "Your case number is 20240517-0042.",
    ],
)
def test_ordinary_numbers_are_not_redacted(text):
    assert kinds(text) == []
    assert redact_text(text).text == text


def test_redacted_text_keeps_no_digits_of_the_data():
    text = "My name is Tom Walker, my phone is 617-555-0144 and my card 5555 5555 5555 4444."
    redacted = redact_text(text)
    assert redacted.text == "My name is [NAME], my phone is [PHONE] and my card [CARD]."
    assert [s.kind for s in redacted.spans] == ["NAME", "PHONE", "CARD"]
    assert all(text[s.start : s.end] == s.text for s in redacted.spans)


# ------------------------------------------------------------------ timed words and audio


def test_redact_words_maps_spans_to_word_times():
    words = [
        (0.0, 0.3, "my"), (0.3, 0.6, "card"), (0.6, 0.8, "is"), (0.9, 1.4, "4111"),
        (1.5, 2.0, "1111"), (2.1, 2.6, "1111"), (2.7, 3.2, "1111,"), (3.3, 3.6, "thanks"),
    ]  # fmt: skip
    out, spans = redact_words(words)
    assert spans == [[0.9, 3.2, "CARD"]]
    assert [w for _, _, w in out] == ["my", "card", "is", "[CARD]", "thanks"]
    assert out[3][:2] == (0.9, 3.2)


def test_redact_words_joins_chinese_characters_without_spaces():
    chars = list("我的手机号是") + ["138", "0013", "8000"]
    words = [(round(i * 0.2, 3), round(i * 0.2 + 0.2, 3), c) for i, c in enumerate(chars)]
    out, spans = redact_words(words)
    assert spans == [[1.2, 1.8, "PHONE"]]
    assert "".join(w for _, _, w in out) == "我的手机号是[PHONE]"


def test_silence_audio_puts_the_span_below_minus_60_dbfs():
    sr = 16000
    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal(3 * sr)).astype(np.float32)
    out = silence_audio(audio, sr, [[1.0, 2.0, "CARD"]])
    span = out[sr : 2 * sr]
    rms_db = 20 * np.log10(np.sqrt(np.mean(span**2)) + 1e-12)
    assert rms_db < -60
    # outside the span and its 5 ms fades nothing changes
    assert np.array_equal(out[: sr - 100], audio[: sr - 100])
    assert np.array_equal(out[2 * sr + 100 :], audio[2 * sr + 100 :])
    assert np.array_equal(audio, audio.copy())  # the input is not modified
    assert np.abs(audio[sr : 2 * sr]).max() > 0.5


def test_silence_audio_stereo_and_bleep():
    sr = 8000
    audio = np.full((2, 2 * sr), 0.5, dtype=np.float32)
    silent = silence_audio(audio, sr, [(0.5, 1.0)])
    assert silent.shape == audio.shape and np.all(silent[:, sr // 2 : sr] == 0)
    bleep = silence_audio(audio, sr, [(0.5, 1.5)], mode="bleep")
    spectrum = np.abs(np.fft.rfft(bleep[0, sr // 2 : 3 * sr // 2]))
    assert np.argmax(spectrum) * sr / sr == pytest.approx(1000, abs=2)  # 1 s window: 1 Hz bins
    with pytest.raises(ValueError, match="mode"):
        silence_audio(audio, sr, [], mode="beep")


# ------------------------------------------------------------------ the benchmark's sets


def test_generated_and_handwritten_sets_reach_the_targets():
    from benchmarks.redaction import load_handwritten, score
    from benchmarks.redaction_corpus import generate

    for items, recall_min in (
        (generate(seed=7, n_per_language=120), 0.99),
        (load_handwritten(), 0.95),
    ):
        counts = score(items)["counts"]
        true = sum(c["true"] for c in counts.values())
        found = sum(c["found"] for c in counts.values())
        predicted = sum(c["predicted"] for c in counts.values())
        right = sum(c["right"] for c in counts.values())
        assert found / true >= recall_min
        assert right / predicted >= 0.95


def test_redact_lines_reports_kinds_and_time_spans():
    from analyzer.words.transcripts import TranscriptLine

    timed = TranscriptLine(
        10.0, 13.0, "S1", "call me on 13800138000 please", "en",
        ((10.0, 10.4, "call"), (10.4, 10.6, "me"), (10.6, 10.8, "on"),
         (11.0, 12.2, "13800138000"), (12.3, 13.0, "please")),
    )  # fmt: skip
    untimed = TranscriptLine(20.0, 24.0, "S2", "我叫李明，邮箱 li@example.com", "zh", None)
    clean = TranscriptLine(30.0, 31.0, "S1", "thanks for calling", "en", None)
    lines, report = redact_lines([timed, untimed, clean])
    assert [line.text for line in lines] == [
        "call me on [PHONE] please",
        "我叫[NAME]，邮箱 [EMAIL]",
        "thanks for calling",
    ]
    assert [w for _, _, w in lines[0].words] == ["call", "me", "on", "[PHONE]", "please"]
    assert report.counts == {"PHONE": 1, "EMAIL": 1, "NAME": 1}
    # word times where there are words, the whole line where there are none
    assert report.to_dict() == {
        "applied": True,
        "counts": {"PHONE": 1, "EMAIL": 1, "NAME": 1},
        "spans": [[11.0, 12.2, "PHONE"], [20.0, 24.0, "EMAIL"], [20.0, 24.0, "NAME"]],
    }


def test_silence_audio_pads_the_spans():
    sr = 1000
    audio = np.ones(3 * sr, dtype=np.float32)
    out = silence_audio(audio, sr, [(1.0, 2.0)], pad_s=0.2)
    assert np.all(out[800:2200] == 0)
    assert np.all(out[: 800 - 5] == 1) and np.all(out[2200 + 5 :] == 1)


def test_the_benchmark_generator_is_written_apart_from_the_patterns():
    import ast

    source = (ROOT / "benchmarks" / "redaction_corpus.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not any(name.startswith("analyzer") for name in imported), imported
