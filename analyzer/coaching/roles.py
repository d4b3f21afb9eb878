"""Which speaker is the agent: cues from the call's opening, its talk and (when there) its words.

The old rule, "the channel that speaks first is the agent", fails whenever the caller says
"hello?" before the agent's greeting. A greeting is a scripted turn: the agent's first turn is a
substantial one ("thank you for calling ..., my name is ..., how can I help you?"), while a
caller who opens says a word or two and waits. So each cue below votes for one speaker with a
weight (log-odds, documented next to it); the votes add up and the winner's probability is
``role_confidence`` (0.5: no idea, towards 1: sure). An explicit override always wins with
confidence 1.

Cues, for two speakers:

* the first substantial turn (at least GREETING_MIN_S): the greeting (WEIGHT_FIRST_LONG);
* the first turn of all, when it is short and answered by the other's substantial turn: a caller's
  "hello?" (votes for the other, WEIGHT_HELLO); otherwise who opens (WEIGHT_OPENS, weak);
* the first turns' shape: the speaker whose first turn is longer (WEIGHT_LONGER_FIRST, weak:
  a caller's first turn after the greeting is often the long complaint);
* words, when a transcript exists: greeting phrases in a speaker's first turns (WEIGHT_GREETING)
  and caller phrases ("I'm calling about") (WEIGHT_CALLER), English and Chinese;
* who closes the call (the agent's "thank you for calling", WEIGHT_CLOSES, weak).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..words.lexicons import builtin_lexicon
from .turntaking import normalize_turns

GREETING_MIN_S = 1.5  # s; a turn this long can be a scripted greeting ("hello?" is shorter)
OPENING_TURNS = 2  # a speaker's first turns searched for greeting words
WEIGHT_FIRST_LONG = 1.5  # log-odds: the first substantial turn of the call is the agent's
WEIGHT_HELLO = 1.0  # a short first turn answered by a substantial one: the opener is the caller
WEIGHT_OPENS = 0.4  # who speaks first (the old rule; weak on its own)
WEIGHT_LONGER_FIRST = 0.3  # the longer first turn
WEIGHT_GREETING = 3.0  # greeting words in a speaker's first turns
WEIGHT_CALLER = 2.0  # caller phrases in a speaker's first turns (vote for the other)
WEIGHT_CLOSES = 0.3  # who speaks last


@dataclass(frozen=True)
class RoleGuess:
    """Roles of the speakers, the agent's id, the confidence and the cues that decided."""

    roles: dict[str, str]  # speaker id -> "agent" | "customer"
    agent: str | None
    confidence: float  # 0-1: probability that ``agent`` is right (1 for an override)
    cues: tuple[dict[str, Any], ...] = field(
        default_factory=tuple
    )  # {"code", "params", "text"} each

    def to_dict(self) -> dict[str, Any]:
        return {
            "roles": dict(self.roles),
            "agent": self.agent,
            "role_confidence": round(self.confidence, 3),
            "cues": list(self.cues),
        }


def guess_roles(
    turns: Iterable[tuple[Any, ...]],
    *,
    speakers: Sequence[str] | None = None,
    transcript: Sequence[dict[str, Any]] | None = None,
    override: dict[str, str] | str | None = None,
) -> RoleGuess:
    """Agent and customer among the call's speakers.

    turns: (speaker, start, end) or (speaker, Segment); speakers: ids (default: those with
    turns); transcript: lines {"start", "end", "speaker", "text"} (optional); override: the
    agent's id, or {speaker id: role}, e.g. from ``--channels``: used as given.
    Two speakers get agent/customer; with one speaker there is no customer; with more than two
    the agent is the best-scored and everyone else a customer.
    """
    items = normalize_turns(turns)
    ids = list(speakers) if speakers else sorted({s for s, _ in items})
    if override is not None:
        return _from_override(override, ids)
    if not ids:
        return RoleGuess({}, None, 0.0, ())
    score = {s: 0.0 for s in ids}
    cues: list[dict[str, Any]] = []

    def vote(spk: str, weight: float, code: str, text: str, **params: Any) -> None:
        score[spk] += weight
        cues.append({"code": code, "params": {"speaker": spk, **params}, "text": text})

    real = [(s, g) for s, g in items if s in score]
    if real:
        first_spk, first = real[0]
        long_turns = [(s, g) for s, g in real if g.duration >= GREETING_MIN_S]
        if long_turns:
            spk, g = long_turns[0]
            vote(
                spk, WEIGHT_FIRST_LONG, "first_substantial_turn",
                f"{spk} has the first substantial turn ({g.duration:.1f} s at {g.start:.1f} s)",
                start=round(g.start, 3), duration_s=round(g.duration, 3),
            )  # fmt: skip
            if first.duration < GREETING_MIN_S and spk != first_spk:
                vote(
                    spk, WEIGHT_HELLO, "caller_opened",
                    f"{first_spk} opens with a short {first.duration:.1f} s turn and {spk} "
                    "answers at length (a caller's hello before the greeting)",
                    opener=first_spk, opener_s=round(first.duration, 3),
                )  # fmt: skip
            else:
                vote(first_spk, WEIGHT_OPENS, "opens", f"{first_spk} speaks first")
        else:
            vote(first_spk, WEIGHT_OPENS, "opens", f"{first_spk} speaks first")
        firsts = {s: next((g for k, g in real if k == s), None) for s in ids}
        present = {s: g for s, g in firsts.items() if g is not None}
        if len(present) >= 2:
            spk = max(present, key=lambda s: present[s].duration)
            vote(
                spk, WEIGHT_LONGER_FIRST, "longer_first_turn",
                f"{spk}'s first turn is the longest ({present[spk].duration:.1f} s)",
                duration_s=round(present[spk].duration, 3),
            )  # fmt: skip
        last_spk = max(real, key=lambda x: x[1].end)[0]
        vote(last_spk, WEIGHT_CLOSES, "closes", f"{last_spk} speaks last")
    if transcript:
        for spk in ids:
            text = " ".join(
                line.get("text", "")
                for line in sorted(
                    (x for x in transcript if x.get("speaker") == spk), key=lambda x: x["start"]
                )[:OPENING_TURNS]
            )
            greet = opening_phrases(text, "agent_opening")
            if greet:
                vote(
                    spk, WEIGHT_GREETING, "greeting_words",
                    f"{spk} greets like an agent: " + ", ".join(f'"{p}"' for p in greet[:3]),
                    phrases=greet,
                )  # fmt: skip
            caller = opening_phrases(text, "caller_opening")
            if caller:
                for other in ids:
                    if other != spk:
                        vote(
                            other, WEIGHT_CALLER, "caller_words",
                            f"{spk} talks like a caller: "
                            + ", ".join(f'"{p}"' for p in caller[:3]),
                            caller=spk, phrases=caller,
                        )  # fmt: skip
    agent = max(ids, key=lambda s: (score[s], -ids.index(s)))
    # the cues that voted for the agent first (stable), so a note quoting the first ones says
    # why this speaker won, not why another one nearly did
    cues.sort(key=lambda c: c["params"].get("speaker") != agent)
    if len(ids) == 1:
        return RoleGuess({agent: "agent"}, agent, 0.5, tuple(cues))
    runner_up = max(score[s] for s in ids if s != agent)
    confidence = 1.0 / (1.0 + math.exp(-(score[agent] - runner_up)))
    roles = {s: ("agent" if s == agent else "customer") for s in ids}
    return RoleGuess(roles, agent, confidence, tuple(cues))


def opening_phrases(text: str, kind: str) -> list[str]:
    """The phrases of the words package's ``kind`` lexicon (``agent_opening`` or
    ``caller_opening``) that occur in ``text``, in text order, each once."""
    found = [m.phrase for m in builtin_lexicon().match(text, kinds=[kind])]
    return list(dict.fromkeys(found))


def _from_override(override: dict[str, str] | str, ids: list[str]) -> RoleGuess:
    if isinstance(override, str):
        roles = {s: ("agent" if s == override else "customer") for s in ids}
        if override not in roles:
            roles[override] = "agent"
    else:
        roles = dict(override)
    agent = next((s for s, r in roles.items() if r == "agent"), None)
    cue = {"code": "override", "params": {"agent": agent}, "text": "roles given by the user"}
    return RoleGuess(roles, agent, 1.0, (cue,))
