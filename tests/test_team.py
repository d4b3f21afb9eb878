"""The team view's logic (coaching queue, trends, agents) and the scorecard in the exports."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pandas as pd
import pytest
from fake_results import write_tone_wav
from team_calls import agent_call

from analyzer import export
from analyzer.batch import tables
from analyzer.cli import main as cli
from analyzer.result import SCORECARD_COLUMNS, AnalysisResult
from review import team
from review.i18n import STRINGS
from review.store import CallFilter, Store


def _card(name, created_at, agent="mia", **values):
    evidence = {m: (float(i), float(i) + 1.0) for i, m in enumerate(values)}
    return team.CallCard(f"id-{name}", name, created_at, agent, "S0", values, evidence)


# ---- need for review and the queue --------------------------------------------------------------


def test_need_is_the_weighted_shortfall_below_the_thresholds_plus_the_customer_penalty():
    rules = team.QueueRules(
        thresholds={"composure": 0.8, "empathy": 0.5, "listening": 0.6},
        weights={"composure": 0.5, "empathy": 0.25, "listening": 0.25},
        recovery_penalty={"not_recovered": 0.15, "worsened": 0.3},
    )
    card = _card("a", "2026-01-01", composure=0.2, empathy=0.9, listening=0.3)
    item = team.need_for_review(card, rules)
    # composure: 0.5 * (0.8 - 0.2) / 0.8 = 0.375; listening: 0.25 * 0.3 / 0.6 = 0.125
    assert item.need == pytest.approx(0.5)
    assert [r.metric for r in item.reasons] == ["composure", "listening"]  # biggest first
    assert item.worst == "composure"
    worse = _card("b", "2026-01-01", composure=0.2, empathy=0.9, listening=0.3,
                  customer_recovery="worsened")  # fmt: skip
    assert team.need_for_review(worse, rules).need == pytest.approx(0.8)
    fine = _card("c", "2026-01-01", composure=0.95, empathy=0.6, listening=0.7,
                 customer_recovery="recovered")  # fmt: skip
    assert team.need_for_review(fine, rules).need == 0.0
    assert team.need_for_review(fine, rules).reasons == ()
    # a metric that was not measured adds nothing (it is not a zero)
    unmeasured = _card("d", "2026-01-01", composure=None, empathy=None, listening=0.6)
    assert team.need_for_review(unmeasured, rules).need == 0.0
    # a zero is the full weight of the metric
    assert team.need_for_review(_card("e", "x", composure=0.0), rules).need == pytest.approx(0.5)


def test_queue_ranks_by_need_then_newest_first():
    cards = [
        _card("calm", "2026-03-01T10:00:00", composure=0.9, empathy=0.8, listening=0.8),
        _card("lost_it", "2026-03-02T10:00:00", composure=0.1, empathy=0.6, listening=0.7),
        _card("rushed", "2026-03-03T10:00:00", composure=0.9, empathy=0.6, listening=0.2),
        _card("calm_too", "2026-03-04T10:00:00", composure=0.9, empathy=0.8, listening=0.8),
    ]
    queue = team.coaching_queue(cards)
    assert [i.card.name for i in queue] == ["lost_it", "rushed", "calm_too", "calm"]
    assert queue[0].need > queue[1].need > queue[2].need == queue[3].need == 0.0
    rows = team.queue_rows(queue, "en")
    assert rows[0][0] == "lost_it" and rows[0][-1] == "id-lost_it"
    assert rows[0][team.queue_headers().index("composure")] == "0.10"
    assert rows[0][team.queue_headers().index("why")].startswith("composure 0.10 (team: 0.70)")
    assert "thresholds" in rows[-1][team.queue_headers().index("why")]
    zh = team.queue_rows(queue, "zh")
    assert zh[0][team.queue_headers("zh").index("原因")].startswith("沉着 0.10（团队：0.70）")


def test_a_click_on_a_metric_opens_its_first_evidence():
    item = team.need_for_review(
        _card("x", "2026-01-01", composure=0.1, empathy=0.9, listening=0.2)
    )  # evidence: composure at 0 s, empathy at 1 s, listening at 2 s
    columns = [key for key, _ in team.QUEUE_COLUMNS]
    assert team.clicked_metric(item, columns.index("team_metric_listening")) == "listening"
    assert item.card.moment("listening") == 2.0
    # the name or the why column: the biggest reason's moment
    assert team.clicked_metric(item, columns.index("team_col_call")) == "composure"
    assert item.card.moment(team.clicked_metric(item, 0)) == 0.0
    assert item.card.moment("pace") is None


def test_rules_come_from_the_scorecard_definition():
    rules = team.QueueRules.from_definition()  # analyzer/coaching/scorecard.toml
    assert rules.thresholds == team.DEFAULT_RULES["thresholds"]
    custom = team.QueueRules.from_definition({"coaching_queue": {"thresholds": {"empathy": 0.9}}})
    assert custom.thresholds["empathy"] == 0.9 and custom.thresholds["composure"] == 0.7
    assert team.QueueRules.from_definition({}).weights == team.DEFAULT_RULES["weights"]


# ---- trends -------------------------------------------------------------------------------------


def test_trend_orders_calls_by_date_and_skips_unmeasured_values():
    cards = [
        _card("b", "2026-03-02T10:00:00", composure=0.4, talk_share=0.5),
        _card("a", "2026-03-01T10:00:00", composure=0.8, talk_share=0.6),
        _card("c", "2026-03-03T10:00:00", composure=None, talk_share=0.7),
    ]
    lines = team.trend(cards)
    assert [p.name for p in lines["composure"]] == ["a", "b"]
    assert [p.value for p in lines["composure"]] == [0.8, 0.4]
    assert [p.value for p in lines["talk_share"]] == [0.6, 0.5, 0.7]
    assert lines["empathy"] == []


# ---- cards from analysed calls ----------------------------------------------------------------


def test_card_of_a_scored_call_reads_the_agents_metrics_and_the_customers_outcome():
    result = agent_call("mirror.wav", mirror_from=8.0)  # the agent turns angry with the customer
    record = SimpleNamespace(id="c1", name="mirror.wav", created_at="2026-01-01", agent="mia")
    card = team.call_card(record, result)
    assert card.speaker == "S0"
    assert card.values["composure"] == result.scorecard["S0"]["composure"]["value"] < 0.3
    assert card.values["customer_recovery"] == result.scorecard["S1"]["customer_recovery"]["value"]
    assert card.moment("composure") == result.scorecard["S0"]["composure"]["evidence"][0][0]
    calm = team.call_card(record, agent_call("calm.wav"))
    assert team.need_for_review(card).need > team.need_for_review(calm).need
    scored = agent_call("x.wav")
    nobody = dataclasses.replace(
        scored, speakers=[dataclasses.replace(s, role=None) for s in scored.speakers]
    )
    lost = team.call_card(record, nobody)
    assert lost.speaker is None and lost.values == {}
    assert "agent role" in team.why_text(team.need_for_review(lost))


def test_store_agents_filter_and_set_agent(tmp_path):
    wav = write_tone_wav(tmp_path / "in.wav", 1.0)
    with Store(tmp_path / "home") as store:
        a = store.add_call(agent_call("a.wav"), wav, uploaded_by="ana", name="a.wav", agent="mia")
        b = store.add_call(agent_call("b.wav"), wav, uploaded_by="ana", name="b.wav")
        assert store.agents() == ["mia"]
        who = team.agent_filter(team.NO_AGENT)
        assert [c.id for c in store.list_calls(CallFilter(agent=who))] == [b.id]
        assert team.agent_filter(None) is None and team.agent_filter("mia") == "mia"
        store.set_agent(b.id, "mia", by="ana")
        assert {c.id for c in store.list_calls(CallFilter(agent="mia"))} == {a.id, b.id}


def test_parse_day():
    assert team.parse_day(" 2026-11-26 ") == "2026-11-26" and team.parse_day("") is None
    with pytest.raises(ValueError):
        team.parse_day("26/11/2026")


def test_team_strings_exist_in_both_languages():
    keys = [k for k in STRINGS["en"] if k.startswith("team_") or k == "tab_team"]
    assert len(keys) > 20 and all(STRINGS["zh"].get(k) for k in keys)


# ---- the scorecard in the exports ---------------------------------------------------------------


def _expected_rows(result: AnalysisResult) -> list[tuple]:
    """The JSON's scorecard, one tuple per speaker and metric."""
    doc = json.loads(result.to_json())
    out = []
    for spk, metrics in doc["scorecard"].items():
        for name, m in metrics.items():
            out.append((spk, name, m["value"], m["unit"], m["explanation"]["code"],
                        m["evidence"]))  # fmt: skip
    return sorted(out, key=lambda r: (r[0], r[1]))


def _rows_of(frame: pd.DataFrame) -> list[tuple]:
    rows = []
    for r in frame.to_dict("records"):
        value = r["value_text"] if isinstance(r["value_text"], str) else r["value"]
        value = None if isinstance(value, float) and pd.isna(value) else value
        rows.append((r["speaker"], r["metric"], value, r["unit"], r["explanation_code"],
                     json.loads(r["evidence"])))  # fmt: skip
    return sorted(rows, key=lambda r: (r[0], r[1]))


def test_call_export_csv_and_parquet_hold_the_scorecard_after_the_other_rows(tmp_path):
    result = agent_call(str(tmp_path / "mia_call.wav"), mirror_from=8.0)
    note = SimpleNamespace(kind="note", start=12.0, end=13.0, speaker="S0", text="loses calm",
                           corrected_label=None, author="ana")  # fmt: skip
    # what the table held before the scorecard rows: segments, then events and annotations
    plain = export.call_frame(dataclasses.replace(result, scorecard={}), [note])
    n_metrics = sum(len(m) for m in result.scorecard.values())
    for fmt in ("csv", "parquet"):
        path = export.export_call(result, fmt, tmp_path / f"call.{fmt}", [note])
        frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
        card = frame[frame["row"] == "scorecard"]
        assert len(card) == n_metrics
        assert set(card["file"]) == {"mia_call.wav"}
        assert set(card["role"]) == {"agent", "customer"}
        assert _rows_of(card) == _expected_rows(result)
        # the other rows and their columns are as before, in the same order
        rest = frame[frame["row"] != "scorecard"].reset_index(drop=True)
        assert list(frame.columns[: len(plain.columns)]) == list(plain.columns)
        assert len(rest) == len(plain) and list(rest["row"]) == list(plain["row"])
        assert rest["start"].tolist() == pytest.approx(plain["start"].tolist())
        assert list(rest["row"])[-1] == "annotation" and list(frame["row"])[-1] == "scorecard"
    composure = card[(card["speaker"] == "S0") & (card["metric"] == "composure")].iloc[0]
    assert (
        composure["explanation_text"] == result.scorecard["S0"]["composure"]["explanation"]["text"]
    )
    assert json.loads(composure["explanation_params"])["speaker"] == "S0"


def test_scorecard_columns_match_the_batch_dataset():
    result = agent_call("call.wav", mirror_from=8.0)
    batch = tables.rows("scorecards", result.to_dict(), {"call_id": "h", "file": "call.wav"})
    mine = result.scorecard_rows()
    schema = [f.name for f in tables._schema("scorecards")]
    assert ["call_id", *SCORECARD_COLUMNS] == schema
    assert [{"call_id": "h"} | r for r in mine] == batch  # the same rows, value for value


def test_cli_writes_the_scorecard_tables_and_keeps_the_segment_table(tmp_path, monkeypatch):
    wav = write_tone_wav(tmp_path / "mia_1.wav", 16.0)
    scored = agent_call(str(wav), mirror_from=8.0)

    class Engine:
        def __init__(self, *args, **kwargs):
            pass

        def analyze(self, path, **kwargs):
            return scored

        def close(self):
            pass

    import analyzer.pipeline

    monkeypatch.setattr(analyzer.pipeline, "Analyzer", Engine)
    out = tmp_path / "out"
    rc = cli(["analyze", str(wav), "--out", str(out), "--csv", "--parquet", "--quiet"])
    assert rc == 0
    segments = pd.read_csv(out / "mia_1.wav.csv")
    assert list(segments.columns) == list(scored.to_dataframe("segments").columns)
    for frame in (
        pd.read_csv(out / "mia_1.wav.scorecard.csv"),
        pd.read_parquet(out / "mia_1.wav.scorecard.parquet"),
    ):
        assert list(frame.columns) == list(SCORECARD_COLUMNS)
        assert _rows_of(frame) == _expected_rows(scored)


# ---- the tab's handlers (no browser) ------------------------------------------------------------


def test_team_handlers_show_the_queue_and_say_plainly_what_is_wrong(tmp_path):
    from analyzer import AnalysisConfig
    from review.ui import team_tab
    from review.ui.common import AppContext
    from review.views import UploadLimits

    wav = write_tone_wav(tmp_path / "in.wav", 16.0)
    with Store(tmp_path / "home") as store:
        ctx = AppContext(store, None, UploadLimits(), AnalysisConfig(), ())
        calm = store.add_call(
            agent_call("c.wav"), wav, uploaded_by="ana", name="c.wav", agent="mia"
        )
        lost = store.add_call(
            agent_call("m.wav", mirror_from=8.0), wav, uploaded_by="ana", name="m.wav", agent="mia"
        )
        other = store.add_call(agent_call("o.wav"), wav, uploaded_by="ana", name="o.wav")
        assert [key for _, key in team_tab.agent_choices(ctx, "en")] == ["mia", team.NO_AGENT]
        message, figure, table, picks = team_tab.show_team(ctx, "mia", "", "", "en")
        assert message.startswith("2 calls")
        assert list(table["call"]) == ["m.wav", "c.wav"] and list(table["id"]) == [lost.id, calm.id]
        assert {tr.name for tr in figure.data} >= {"composure", "empathy", "listening"}
        message, figure, table, _ = team_tab.show_team(ctx, "mia", "2026-13-01", "", "zh")
        assert message == "⚠️ 起始日期（YYYY-MM-DD）：不是日期。" and table.empty
        assert team_tab.show_team(ctx, None, "", "", "en")[0].startswith("⚠️ Agent: choose")
        assert "No calls" in team_tab.show_team(ctx, "mia", "2000-01-01", "2000-01-02", "en")[0]
        _, _, table, _ = team_tab.show_team(ctx, team.NO_AGENT, "", "", "en")
        assert list(table["id"]) == [other.id]
        # setting the agent moves the call into mia's queue (the view shown is the picked one's)
        message, _, table, _ = team_tab.set_call_agent(
            ctx, other.id, " mia ", team.NO_AGENT, "", "", "en"
        )
        assert message == "o.wav: agent set to mia." and table.empty
        assert store.get_call(other.id).agent == "mia"
        assert len(team_tab.show_team(ctx, "mia", "", "", "en")[2]) == 3
