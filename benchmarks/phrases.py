"""Complaint-phrase detection: sentence-level recall and precision of the complaint lexicon.

The sentences are generated here from complaint expressions written for this benchmark (not read
from the lexicon files, so phrasings the lexicon lacks count as misses) and from ordinary
service-call sentences, many with near-miss words ("acceptable", "not disappointed", "my
manager asked", "the refund arrived"). A sentence counts as flagged when the lexicon finds at least
one complaint phrase in it.

    python -m benchmarks.phrases --seed 20261126 --n 400 --errors 10
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from analyzer.words.lexicons import load_lexicon

COMPLAINTS = {
    "en": [
        "this is unacceptable", "I'm really disappointed", "you're wasting my time",
        "I want to speak to your manager", "I'm going to cancel my subscription",
        "this is ridiculous", "I've been on hold for an hour", "it's still not working",
        "this is the third time I'm calling", "your service is terrible", "I want my money back",
        "I'm fed up with this", "nobody is helping me", "I'll file a complaint", "this is a joke",
        "I'm sick and tired of this", "you people never listen", "I'm so frustrated",
        "this is outrageous", "I'm going to leave a bad review",
        "I'll take my business elsewhere", "what a waste of time", "get me a supervisor",
        "that is absolutely absurd", "the service has been horrible",
    ],
    "zh": [
        "太失望了", "无法接受", "浪费时间", "太麻烦了", "我要投诉你们", "叫你们经理来", "什么态度",
        "服务太差了", "我要退款", "又是这样", "这是第三次打电话了", "根本没人管", "太过分了",
        "我真的受不了了", "我要给差评", "你们这是骗人", "气死我了", "等了一个小时还是没解决",
        "我要销户", "这也太离谱了", "你们到底在搞什么", "我要找律师",
    ],
}  # fmt: skip
NEUTRAL = {
    "en": [
        "Thanks, that's acceptable.", "No problem at all.",
        "I'm not disappointed, it works great now.",
        "My manager asked me to call about the invoice.",
        "The refund arrived yesterday, thank you.",
        "Could you cancel the appointment on Friday?",
        "It works again, thanks for your patience.",
        "I'd like to upgrade my plan.", "Can you tell me the balance on my account?",
        "That was quick, I appreciate it.", "The technician was very helpful.",
        "I want to add a second line.", "Is the store open on Sunday?",
        "Sure, I can hold for a moment.", "Let me check the time on the receipt.",
        "The supervisor approved the discount last week.", "I'll call back when I'm home.",
        "Yes, the password reset worked.", "What's the cheapest plan with unlimited data?",
        "Good morning, I have a quick question about my bill.",
    ],
    "zh": [
        "好的，谢谢您。", "没问题。", "我想升级一下套餐。", "请问周末营业吗？",
        "师傅很专业，服务很好。", "经理已经帮我处理好了。", "麻烦您帮我查一下余额。",
        "这个价格可以接受。", "时间不着急，您慢慢查。", "密码已经改好了。",
        "我想再办一张副卡。", "收到了，非常感谢。", "请问怎么开发票？",
        "我等一下再打过来。", "您好，我想咨询一下流量包。", "网速现在正常了。",
        "退款已经到账了，谢谢。", "我是老客户了，一直挺满意的。",
    ],
}  # fmt: skip
WRAPPERS = {
    "en": [("", "."), ("Honestly, ", "!"), ("Look, ", "."), ("Okay so ", ", I mean it."),
           ("I have to say ", "."), ("", "! Seriously."), ("well ", "")],
    "zh": [("", "。"), ("说实话，", "！"), ("哎，", "。"), ("我跟你说，", "！"),
           ("", "，你们看着办吧。")],
}  # fmt: skip


def generate(seed: int, n_per_language: int = 400) -> list[dict]:
    """Half complaint sentences, half ordinary ones, per language; ASR-style lower case without
    punctuation for a quarter of the English ones."""
    rng = random.Random(seed)
    items = []
    for language in ("en", "zh"):
        for i in range(n_per_language):
            complaint = i % 2 == 0
            if complaint:
                prefix, suffix = rng.choice(WRAPPERS[language])
                text = prefix + rng.choice(COMPLAINTS[language]) + suffix
            else:
                text = rng.choice(NEUTRAL[language])
            if language == "en" and rng.random() < 0.25:
                text = text.lower().replace(",", "").replace(".", "").replace("!", "")
            items.append({"language": language, "text": text, "complaint": complaint})
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--n", type=int, default=400, help="sentences per language")
    parser.add_argument("--lexicon", type=Path, default=None, help="a team's lexicon folder")
    parser.add_argument("--errors", type=int, default=0, help="print this many errors")
    args = parser.parse_args(argv)
    lexicon = load_lexicon(args.lexicon)
    summary, errors = {}, []
    for language in ("en", "zh", "all"):
        items = [i for i in generate(args.seed, args.n) if language in ("all", i["language"])]
        tp = fp = fn = 0
        for item in items:
            flagged = bool(lexicon.match(item["text"], kinds=["complaint"]))
            tp += flagged and item["complaint"]
            fp += flagged and not item["complaint"]
            fn += item["complaint"] and not flagged
            if language != "all" and flagged != item["complaint"]:
                errors.append(("MISS " if item["complaint"] else "FALSE ") + item["text"])
        recall = tp / (tp + fn) if tp + fn else None
        precision = tp / (tp + fp) if tp + fp else None
        summary[language] = {"recall": recall, "precision": precision, "sentences": len(items)}
        print(f"{language:4} sentences {len(items):4d}  ", end="")
        print(f"recall {recall:.3f}  precision {precision:.3f}")
    for line in sorted(set(errors))[: args.errors]:
        print(line)
    print(json.dumps({"seed": args.seed, **summary}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
