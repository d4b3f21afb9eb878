"""The Team tab: one agent's calls over a date range, for coaching.

Pick an agent (or "(no agent)" for calls whose agent is not set) and a date range: a chart shows
each scorecard metric of the agent call by call, and the coaching queue lists the calls ranked by
need for review (``review.team``), each row saying why. Clicking a row opens that call in the
review tab with the player at the clicked metric's first evidence moment (a click elsewhere in
the row: the call's biggest reason). A call's agent can be set here (audited by the store).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from .. import team
from ..i18n import t
from ..store import CallFilter, StoreError
from .common import AppContext, Texts, frame, user_of
from .view import show_call

# Line colours of the trend chart, one per metric (the team's threshold dotted in the same colour).
TREND_COLORS = {
    "composure": "#c62828",
    "empathy": "#1565c0",
    "listening": "#2e7d32",
    "talk_share": "#757575",
}


@dataclass(frozen=True)
class TeamTab:
    """The team tab's widgets."""

    tab: gr.Tab
    agent: gr.Dropdown
    date_from: gr.Textbox
    date_to: gr.Textbox
    show: gr.Button
    message: gr.Markdown  # a plain message (bad date, no calls)
    trend: gr.Plot
    queue: gr.Dataframe
    pick: gr.Dropdown  # a listed call, whose agent the form below sets
    new_agent: gr.Textbox
    set_agent: gr.Button

    def inputs(self) -> list:
        """What :func:`show_team` reads: the agent, the date range."""
        return [self.agent, self.date_from, self.date_to]

    def outputs(self) -> list:
        """What :func:`show_team` fills: the message, the chart, the queue, the call picker."""
        return [self.message, self.trend, self.queue, self.pick]


def agent_choices(ctx: AppContext, lang: str) -> list[tuple[str, str]]:
    """The agent picker's choices: every agent of a stored call, then "(no agent)"."""
    return [(a, a) for a in ctx.store.agents()] + [(t("team_no_agent", lang), team.NO_AGENT)]


def build_team_tab(texts: Texts, lang: str) -> TeamTab:
    """The tab's layout (call inside ``gr.Tabs``)."""
    with texts.key(gr.Tab(t("tab_team", lang), id="team", elem_id="team-tab"), "tab_team") as tab:
        with gr.Row():
            agent = texts.key(
                gr.Dropdown([], label=t("team_agent", lang), elem_id="team-agent"), "team_agent"
            )
            date_from = texts.key(gr.Textbox(label=t("date_from", lang)), "date_from")
            date_to = texts.key(gr.Textbox(label=t("date_to", lang)), "date_to")
            show = texts.key(
                gr.Button(t("team_show", lang), variant="primary", elem_id="team-show"),
                "team_show",
                "value",
            )
        message = gr.Markdown(elem_id="team-msg")
        trend = texts.key(gr.Plot(label=t("team_trend", lang), elem_id="team-trend"), "team_trend")
        queue = texts.key(
            gr.Dataframe(
                frame([], team.queue_headers(lang)),
                interactive=False,
                label=t("team_queue", lang),
                elem_id="team-queue",
                wrap=True,
            ),
            "team_queue",
        )
        with gr.Row():
            pick = texts.key(gr.Dropdown([], label=t("call", lang), elem_id="team-pick"), "call")
            new_agent = texts.key(
                gr.Textbox(label=t("team_new_agent", lang), elem_id="team-new-agent"),
                "team_new_agent",
            )
            set_agent = texts.key(
                gr.Button(t("team_set_agent", lang), elem_id="team-set-agent"),
                "team_set_agent",
                "value",
            )
    return TeamTab(
        tab=tab,
        agent=agent,
        date_from=date_from,
        date_to=date_to,
        show=show,
        message=message,
        trend=trend,
        queue=queue,
        pick=pick,
        new_agent=new_agent,
        set_agent=set_agent,
    )


# ---- handlers (bound to the AppContext by the layout) -------------------------------------------


def list_agents(ctx: AppContext, agent: str | None, lang: str) -> dict:
    """The agent picker with the store's agents (the picked one kept while it still exists)."""
    options = agent_choices(ctx, lang)
    keep = agent if agent in {key for _, key in options} else None
    return gr.update(choices=options, value=keep)


class TeamError(ValueError):
    """A team-view box that does not hold what it should (the message names it)."""


def agent_cards(
    ctx: AppContext, agent: str | None, date_from: str | None, date_to: str | None, lang: str
) -> list[team.CallCard]:
    """The picked agent's calls in the date range as cards (TeamError for a bad box)."""
    who = team.agent_filter(agent)
    if who is None:
        raise TeamError(t("team_msg_pick_agent", lang))
    days = {}
    for key, value in (("date_from", date_from), ("date_to", date_to)):
        try:
            days[key] = team.parse_day(value)
        except ValueError:
            raise TeamError(t("team_msg_bad_date", lang, field=t(key, lang))) from None
    query = CallFilter(agent=who, date_from=days["date_from"], date_to=days["date_to"])
    return [
        team.call_card(record, ctx.store.load_result(record.id))
        for record in ctx.store.list_calls(query)
    ]


def show_team(
    ctx: AppContext, agent: str | None, date_from: str | None, date_to: str | None, lang: str
) -> tuple:
    """Outputs of ``TeamTab.outputs()``: the agent's trend and coaching queue; a bad box or an
    agent without calls says so plainly (and empties the view)."""
    empty = frame([], team.queue_headers(lang))
    try:
        cards = agent_cards(ctx, agent, date_from, date_to, lang)
    except TeamError as exc:
        return f"⚠️ {exc}", None, empty, gr.update(choices=[], value=None)
    if not cards:
        return t("team_msg_no_calls", lang), None, empty, gr.update(choices=[], value=None)
    items = team.coaching_queue(cards, team.QueueRules.from_definition())
    table = queue_frame(items, lang)
    picks = [(f"{i.card.name} · {i.card.created_at[:16].replace('T', ' ')}", i.card.call_id)
             for i in items]  # fmt: skip
    message = t("team_msg_calls", lang, n=len(cards))
    return message, trend_figure(cards, lang), table, gr.update(choices=picks, value=None)


def trend_figure(cards: list[team.CallCard], lang: str):
    """Each scorecard metric of the agent, call by call over time, with the team's thresholds
    dotted; a plotly Figure."""
    import plotly.graph_objects as go

    rules = team.QueueRules.from_definition()
    fig = go.Figure()
    for metric, points in team.trend(cards).items():
        if not points:
            continue
        color = TREND_COLORS.get(metric, "#444444")
        name = team.metric_name(metric, lang)
        fig.add_trace(
            go.Scatter(
                x=[p.at.replace("T", " ")[:19] for p in points],
                y=[p.value for p in points],
                mode="lines+markers",
                name=name,
                line={"color": color},
                text=[p.name for p in points],
                hovertemplate="%{text}<br>" + name + ": %{y:.2f}<extra></extra>",
            )
        )
        if metric in rules.thresholds:
            fig.add_hline(
                y=rules.thresholds[metric], line={"color": color, "dash": "dot", "width": 1}
            )
    fig.update_layout(
        height=320,
        margin={"l": 50, "r": 20, "t": 30, "b": 40},
        yaxis={"range": [-0.05, 1.05], "title": t("team_score", lang)},
        xaxis={"title": t("team_call_date", lang)},
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def open_from_queue(
    ctx: AppContext,
    agent: str | None,
    date_from: str | None,
    date_to: str | None,
    lang: str,
    evt: gr.SelectData,
    request: gr.Request | None = None,
) -> tuple:
    """A queue cell was clicked: open that call (outputs as ``library_tab.open_call``, then the
    seek time) with the player at the clicked metric's first evidence moment."""
    row = evt.row_value or []
    call_id = str(row[-1]) if row else None  # the id is the last column
    column = evt.index[1] if isinstance(evt.index, list | tuple) else -1
    skip = (gr.skip(), *[gr.skip()] * len(show_call(ctx, None, lang).updates()), gr.skip())
    if not call_id:
        return (*skip, gr.skip())
    try:
        card = team.call_card(ctx.store.get_call(call_id), ctx.store.load_result(call_id))
    except StoreError as exc:
        raise gr.Error(str(exc)) from None
    item = team.need_for_review(card, team.QueueRules.from_definition())
    start = card.moment(team.clicked_metric(item, int(column)))
    shown = show_call(ctx, call_id, lang, start_s=start)
    ctx.store.audit(user_of(request), "open", call_id, "team view")
    return (call_id, *shown.updates(), gr.Tabs(selected="review"), start)


def set_call_agent(
    ctx: AppContext,
    call_id: str | None,
    new_agent: str | None,
    agent: str | None,
    date_from: str | None,
    date_to: str | None,
    lang: str,
    request: gr.Request | None = None,
) -> tuple:
    """Set the picked call's agent ('' clears it; the store audits the change), then show the
    picked agent's view again (outputs of ``TeamTab.outputs()``) saying what changed."""
    if not call_id:
        raise gr.Error(t("team_msg_pick_call", lang))
    try:
        record = ctx.store.set_agent(call_id, new_agent or "", by=user_of(request))
    except StoreError as exc:
        raise gr.Error(str(exc)) from None
    who = record.agent or t("team_no_agent", lang)
    _, trend, table, picks = show_team(ctx, agent, date_from, date_to, lang)
    return t("team_msg_agent_set", lang, name=record.name, agent=who), trend, table, picks


def queue_frame(items: list[team.QueueItem], lang: str) -> pd.DataFrame:
    """The coaching queue as the tab's table."""
    return frame(team.queue_rows(items, lang), team.queue_headers(lang))
