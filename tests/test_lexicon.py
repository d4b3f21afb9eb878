"""Phrase lexicons: the shipped TOML files, the matcher's rules, and a team's own folder."""

from __future__ import annotations

import pytest

from analyzer.words.lexicons import BUILTIN_DIR, LexiconError, load_lexicon

SEEDS = {
    "complaint": {
        "en": ["this is unacceptable"],
        "zh": ["无法接受", "太失望了", "太麻烦了", "浪费时间"],
    },
    "empathy": {"en": [], "zh": ["理解您的心情", "非常抱歉"]},
    "greeting": {"en": ["customer service, how can i help"], "zh": ["您好，请问有什么可以帮您"]},
}


def phrases(matches, kind=None):
    return [(m.phrase, m.text) for m in matches if kind is None or m.kind == kind]


def test_builtin_lexicons_hold_the_seeds_phrases():
    lexicon = load_lexicon()
    assert lexicon.kinds == ("agent_opening", "caller_opening", "complaint", "empathy", "greeting")
    assert {p.name for p in lexicon.sources} == {f"{kind}.toml" for kind in lexicon.kinds}
    for kind, by_language in SEEDS.items():
        for language, seeds in by_language.items():
            assert set(seeds) <= set(lexicon.entries(kind, language)), (kind, language)
        # each seed phrase is found in a sentence that contains it
        for seed in by_language["zh"]:
            assert seed in [m.phrase for m in lexicon.match(f"唉，{seed}。", kinds=[kind])]


def test_english_whole_words_and_case():
    lexicon = load_lexicon()
    assert phrases(lexicon.match("This is UNACCEPTABLE!", kinds=["complaint"])) == [
        ("this is unacceptable", "This is UNACCEPTABLE")
    ]
    # a phrase inside a longer word is not a match
    assert lexicon.match("the unacceptableness of it", kinds=["complaint"]) == []
    assert lexicon.match("a lawyers' guild", kinds=["complaint"]) == []


def test_contractions_wildcards_and_negation():
    lexicon = load_lexicon()
    assert phrases(lexicon.match("I am so sorry about that", kinds=["empathy"])) == [
        ("i'm so sorry", "I am so sorry")
    ]
    assert phrases(lexicon.match("You're wasting my time", kinds=["complaint"])) == [
        ("wast* my time", "wasting my time")
    ]
    assert lexicon.match("I am not sorry", kinds=["empathy"]) == []


def test_chinese_negation_and_narrow_refund_entries():
    lexicon = load_lexicon()
    assert lexicon.match("我一点也不失望，挺好的", kinds=["complaint"]) == []
    assert lexicon.match("我没有投诉的意思", kinds=["complaint"]) == []
    # an entry that starts with a negation still matches
    assert phrases(lexicon.match("这个结果我不能接受", kinds=["complaint"])) == [
        ("不能接受", "不能接受")
    ]
    # a refund is a complaint when demanded or withheld, not when it arrived
    assert lexicon.match("退款已经到账了，谢谢。", kinds=["complaint"]) == []
    assert [p for p, _ in phrases(lexicon.match("我要退款！", kinds=["complaint"]))] == ["要退款"]
    assert [p for p, _ in phrases(lexicon.match("你们不给我退款", kinds=["complaint"]))] == [
        "不给我退款"
    ]


def test_longest_phrase_wins_within_a_kind_and_spans_are_exact():
    lexicon = load_lexicon()
    text = "真的太失望了，浪费时间"
    matches = lexicon.match(text, kinds=["complaint"])
    assert phrases(matches) == [("太失望了", "太失望了"), ("浪费时间", "浪费时间")]
    assert all(text[m.start : m.end] == m.text for m in matches)


def test_chinese_punctuation_in_a_phrase_is_optional():
    lexicon = load_lexicon()
    for text in ("您好，请问有什么可以帮您？", "您好请问有什么可以帮您"):
        found = phrases(lexicon.match(text, kinds=["greeting"]))
        assert found[0][0] == "您好，请问有什么可以帮您"
    assert lexicon.match("Customer service how can I help", kinds=["greeting"])[0].phrase == (
        "customer service, how can i help"
    )


def test_a_team_folder_replaces_or_extends(tmp_path):
    (tmp_path / "complaint.toml").write_text(
        'extends = true\n[en]\nphrases = ["not good enough"]\n[zh]\nphrases = ["不靠谱"]\n',
        encoding="utf-8",
    )
    (tmp_path / "greeting.toml").write_text(
        '[en]\nphrases = ["acme support"]\n[zh]\nphrases = []\n', encoding="utf-8"
    )
    (tmp_path / "churn.toml").write_text('[en]\nphrases = ["switch provider*"]\n', encoding="utf-8")
    lexicon = load_lexicon(tmp_path)
    assert lexicon.kinds == (
        "agent_opening", "caller_opening", "churn", "complaint", "empathy", "greeting",
    )  # fmt: skip
    assert "unacceptable" in lexicon.entries("complaint", "en")  # extended, not replaced
    assert "不靠谱" in lexicon.entries("complaint", "zh")
    assert lexicon.entries("greeting", "en") == ("acme support",)  # replaced
    assert lexicon.entries("greeting", "zh") == ()
    text = "Acme support, hello. Honestly this is not good enough, I will switch providers."
    assert [
        (m.kind, m.text) for m in lexicon.match(text, kinds=["churn", "complaint", "greeting"])
    ] == [
        ("greeting", "Acme support"),
        ("complaint", "not good enough"),
        ("churn", "switch providers"),
    ]
    # the built-in files are untouched
    assert "acme support" not in load_lexicon().entries("greeting", "en")


@pytest.mark.parametrize(
    "content, reason",
    [
        ("[en\nphrases = []\n", "not valid TOML"),
        ('[en]\nphrases = "unacceptable"\n', r"\[en\] phrases must be a list of strings"),
        ('[zh]\nphrases = ["好", ""]\n', r"\[zh\] has an empty phrase"),
        ('[en]\nphrases = ["!!!"]\n', "has no words"),
    ],
)
def test_malformed_team_files_name_the_file(tmp_path, content, reason):
    bad = tmp_path / "complaint.toml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(LexiconError, match=rf"complaint\.toml: .*{reason}"):
        load_lexicon(tmp_path)


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(LexiconError, match="not found"):
        load_lexicon(tmp_path / "nope")


def test_builtin_files_document_their_rules():
    for path in BUILTIN_DIR.glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("#") and "Matching rules" in text, path.name
