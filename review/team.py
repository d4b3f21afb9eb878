"""The team view's logic: one agent's calls as scorecard trends and a coaching queue.

Everything here works on stored call records and their results (the engine's ``scorecard``; the
app recomputes no metric) and returns plain values, so it is tested without a browser.

The coaching queue ranks calls by *need for review*: for each of the queue's metrics (composure,
empathy, listening) the agent's shortfall below the team's threshold, as a share of that
threshold (0 at or above it, 1 at a value of 0), times the metric's weight; plus a penalty when
the customer did not recover (``not_recovered``) or got worse (``worsened``). A metric that was
not measured (value null) adds nothing. Thresholds, weights and penalties are the
``[coaching_queue]`` section of the scorecard definition (``analyzer/coaching/scorecard.toml``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer import AnalysisResult

from .i18n import t

QUEUE_METRICS = ("composure", "empathy", "listening")  # scored against the team's thresholds
TREND_METRICS = ("composure", "empathy", "listening", "talk_share")  # 0-1 metrics over time
RECOVERY = "customer_recovery"  # the customer's outcome (recovered | not_recovered | worsened)
NO_AGENT = "__no_agent__"  # the agent picker's key for calls whose agent is not set
# Used when a definition has no [coaching_queue] section (the defaults of scorecard.toml).
DEFAULT_RULES: dict[str, dict[str, float]] = {
    "thresholds": {"composure": 0.7, "empathy": 0.5, "listening": 0.6},
    "weights": {"composure": 0.5, "empathy": 0.25, "listening": 0.25},
    "recovery_penalty": {"not_recovered": 0.15, "worsened": 0.3},
}


@dataclass(frozen=True)
class QueueRules:
    """How need for review is scored: per metric a threshold and a weight, per customer outcome
    a penalty."""

    thresholds: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_RULES["thresholds"])
    )
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RULES["weights"]))
    recovery_penalty: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_RULES["recovery_penalty"])
    )

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any] | None = None) -> QueueRules:
        """The rules of a scorecard definition's ``[coaching_queue]`` section (the engine's
        ``load_definition()`` by default); keys it leaves out keep the defaults."""
        if definition is None:
            from analyzer.coaching import load_definition  # not in analyzer's public API yet

            definition = load_definition()
        section = definition.get("coaching_queue") or {}
        parts = {
            key: {k: float(v) for k, v in (default | dict(section.get(key) or {})).items()}
            for key, default in DEFAULT_RULES.items()
        }
        return cls(parts["thresholds"], parts["weights"], parts["recovery_penalty"])


@dataclass(frozen=True)
class CallCard:
    """One call as the team view sees it: the agent's scorecard values and where they show."""

    call_id: str
    name: str
    created_at: str  # UTC, ISO 8601 (the upload time: the call's date in the team view)
    agent: str  # '' when not set
    speaker: str | None  # the speaker id with the agent role; None when no speaker has it
    values: Mapping[str, float | str | None]  # metric -> value (the agent's; recovery: customer's)
    evidence: Mapping[str, tuple[float, float]]  # metric -> its first evidence range, seconds

    def moment(self, metric: str | None) -> float | None:
        """Where the player should start for ``metric``: its first evidence range (the engine
        lists the strongest first), None without evidence."""
        span = self.evidence.get(metric or "")
        return span[0] if span else None


def agent_speaker(result: AnalysisResult) -> str | None:
    """The speaker id with the ``agent`` role (the most confident one when several have it)."""
    agents = [s for s in result.speakers if s.role == "agent"]
    if not agents:
        return None
    return max(agents, key=lambda s: s.role_confidence if s.role_confidence is not None else 0).id


def call_card(record: Any, result: AnalysisResult) -> CallCard:
    """The team view's card of a stored call (``record``: a ``CallRecord``)."""
    card = result.scorecard or {}
    speaker = agent_speaker(result)
    metrics: dict[str, Any] = dict(card.get(speaker) or {}) if speaker else {}
    customers = [s.id for s in result.speakers if s.role == "customer" and s.id in card]
    if customers and RECOVERY in (card.get(customers[0]) or {}):
        metrics[RECOVERY] = card[customers[0]][RECOVERY]
    values: dict[str, float | str | None] = {}
    evidence: dict[str, tuple[float, float]] = {}
    for name, m in metrics.items():
        value = (m or {}).get("value")
        values[name] = value if value is None or isinstance(value, str) else float(value)
        spans = [s for s in (m or {}).get("evidence") or [] if len(s) >= 2]
        if spans:
            evidence[name] = (float(spans[0][0]), float(spans[0][1]))
    return CallCard(
        call_id=record.id,
        name=record.name,
        created_at=record.created_at,
        agent=record.agent,
        speaker=speaker,
        values=values,
        evidence=evidence,
    )


@dataclass(frozen=True)
class Reason:
    """Why a call needs review: one metric below its threshold, or the customer's outcome."""

    metric: str
    value: float | str
    threshold: float | None  # None for the customer's outcome
    weight: float  # what it adds to the need


@dataclass(frozen=True)
class QueueItem:
    """A call in the coaching queue: its card, its need for review and the reasons, biggest
    first."""

    card: CallCard
    need: float
    reasons: tuple[Reason, ...]

    @property
    def worst(self) -> str | None:
        """The metric that adds most to the need (None when nothing does)."""
        return self.reasons[0].metric if self.reasons else None


def need_for_review(card: CallCard, rules: QueueRules | None = None) -> QueueItem:
    """The need for review of one call (see the module's docstring) and its reasons."""
    rules = rules or QueueRules()
    reasons = []
    for metric in QUEUE_METRICS:
        value, threshold = card.values.get(metric), rules.thresholds.get(metric)
        if not isinstance(value, int | float) or threshold is None or threshold <= 0:
            continue
        if not math.isfinite(value):
            continue
        shortfall = min(max(threshold - float(value), 0.0) / threshold, 1.0)
        if shortfall > 0:
            weight = rules.weights.get(metric, 0.0) * shortfall
            reasons.append(Reason(metric, float(value), threshold, weight))
    outcome = card.values.get(RECOVERY)
    if isinstance(outcome, str) and rules.recovery_penalty.get(outcome, 0.0) > 0:
        reasons.append(Reason(RECOVERY, outcome, None, rules.recovery_penalty[outcome]))
    reasons.sort(key=lambda r: -r.weight)
    return QueueItem(card, sum(r.weight for r in reasons), tuple(reasons))


def coaching_queue(cards: Iterable[CallCard], rules: QueueRules | None = None) -> list[QueueItem]:
    """The calls ranked by need for review, highest first; ties newest first, then by name."""
    items = [need_for_review(c, rules) for c in cards]
    items.sort(key=lambda i: (i.card.name, i.card.call_id))
    items.sort(key=lambda i: i.card.created_at, reverse=True)
    items.sort(key=lambda i: -round(i.need, 9))
    return items


@dataclass(frozen=True)
class TrendPoint:
    """One call's value of one metric, at the call's date."""

    at: str  # the call's created_at
    value: float
    call_id: str
    name: str


def trend(
    cards: Iterable[CallCard], metrics: Sequence[str] = TREND_METRICS
) -> dict[str, list[TrendPoint]]:
    """Per metric, the calls' values in time order (oldest first); calls where the metric was
    not measured are left out of that metric's line."""
    ordered = sorted(cards, key=lambda c: (c.created_at, c.name, c.call_id))
    out: dict[str, list[TrendPoint]] = {m: [] for m in metrics}
    for c in ordered:
        for m in metrics:
            value = c.values.get(m)
            if isinstance(value, int | float) and math.isfinite(value):
                out[m].append(TrendPoint(c.created_at, float(value), c.call_id, c.name))
    return out


def parse_day(value: str | None) -> str | None:
    """A date box's 'YYYY-MM-DD' (None when empty); ValueError for anything else."""
    text = (value or "").strip()
    if not text:
        return None
    return dt.date.fromisoformat(text).isoformat()


def agent_filter(choice: str | None) -> str | None:
    """The store's agent filter for the agent picker's value: '' for "(no agent)", None when
    nothing is picked."""
    if choice == NO_AGENT:
        return ""
    return choice or None


# ---- what the tab shows -----------------------------------------------------------------------


def metric_name(metric: str, lang: str = "en") -> str:
    """A metric's name in ``lang``."""
    key = f"team_metric_{metric}"
    name = t(key, lang)
    return name if name != key else metric.replace("_", " ")


def value_text(value: float | str | None, lang: str = "en") -> str:
    """A metric value as the queue shows it: two decimals, an outcome's name, '–' when none."""
    if value is None:
        return "–"
    if isinstance(value, str):
        key = f"team_outcome_{value}"
        name = t(key, lang)
        return name if name != key else value
    return f"{value:.2f}"


def reason_text(reason: Reason, lang: str = "en") -> str:
    """One reason in words: ``composure 0.12 (team: 0.70)`` or ``customer not recovered``."""
    if reason.threshold is None:
        return t("team_why_customer", lang, outcome=value_text(reason.value, lang))
    return t(
        "team_why_metric",
        lang,
        metric=metric_name(reason.metric, lang),
        value=value_text(reason.value, lang),
        threshold=f"{reason.threshold:.2f}",
    )


def why_text(item: QueueItem, lang: str = "en", *, most: int = 3) -> str:
    """The reasons of a queue row, biggest first (at most ``most``)."""
    if item.card.speaker is None:
        return t("team_why_no_agent_speaker", lang)
    if not item.reasons:
        return t("team_why_fine", lang)
    return " · ".join(reason_text(r, lang) for r in item.reasons[:most])


# The queue table's columns: the metric each column's click opens (None: the call's worst metric).
QUEUE_COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("team_col_call", None),
    ("team_col_date", None),
    ("team_col_need", None),
    *((f"team_metric_{m}", m) for m in QUEUE_METRICS),
    (f"team_metric_{RECOVERY}", RECOVERY),
    ("team_col_why", None),
    ("team_col_id", None),
)


def queue_headers(lang: str = "en") -> list[str]:
    return [t(key, lang) for key, _ in QUEUE_COLUMNS]


def queue_rows(items: Sequence[QueueItem], lang: str = "en") -> list[list]:
    """The queue table's rows (columns as :data:`QUEUE_COLUMNS`; the call id last)."""
    rows = []
    for item in items:
        c = item.card
        rows.append(
            [
                c.name,
                c.created_at[:16].replace("T", " "),
                f"{item.need:.2f}",
                *(value_text(c.values.get(m), lang) for m in QUEUE_METRICS),
                value_text(c.values.get(RECOVERY), lang),
                why_text(item, lang),
                c.call_id,
            ]
        )
    return rows


def clicked_metric(item: QueueItem, column: int) -> str | None:
    """The metric a click on ``column`` of the item's row asks for: that column's metric; on
    the other columns the biggest reason that has evidence (None when none has)."""
    metric = QUEUE_COLUMNS[column][1] if 0 <= column < len(QUEUE_COLUMNS) else None
    if metric:
        return metric
    return next((r.metric for r in item.reasons if r.metric in item.card.evidence), None)
